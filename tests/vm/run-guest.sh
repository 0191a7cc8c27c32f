#!/usr/bin/env bash
# Boots Debian's kernel under QEMU (TCG) with an initramfs holding busybox, the
# kernel modules that third_party/fetch-kernel.sh cached, and the given guest
# payloads (static binaries, shell scripts, or dynamically linked programs whose
# libraries are copied in). The guest runs the payloads in order, streaming
# their output to the serial console, which is this script's stdout. Exit
# status: the guest's (0 if every payload passed), 124 if the guest was killed
# at the timeout, 125 if it stopped without reporting a result, 2 on a usage or
# setup error.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: run-guest.sh -k KERNEL_DIR [options] PAYLOAD [--arg ARG]... [PAYLOAD [--arg ARG]...]...
  -k, --kernel-dir DIR  kernel cache dir (vmlinuz or vmlinux, lib/modules,
                        load-order),
                        e.g. build/vm-cache/current from fetch-kernel.sh
  -t, --timeout SEC     kill the guest after SEC seconds (default 540)
  --arg ARG             append ARG to the arguments of the preceding payload
  --host-bin PATH       copy a host program (and the libraries ldd lists) to
                        the same path in the guest; repeatable
  --file SRC[=DEST]     copy a host file to DEST (default: SRC's absolute path)
  --modprobe MODULE     also load MODULE at boot (e.g. xfs, ext4: by default
                        the kernel loads them on first mount)
  --append STR          extra kernel command line
  --mem MB              guest memory (default 1024)
  --smp N               guest CPUs (default 2)
  --keep-initrd PATH    also save the initramfs to PATH
EOF
}
die() { echo "run-guest: $*" >&2; exit 2; }

kernel_dir='' timeout=540 mem=1024 smp=2 append='' keep_initrd=''
payloads=() payload_args=() host_bins=() files=() extra_modules=()
while (($#)); do
  case $1 in
    -k|--kernel-dir) kernel_dir=${2:?--kernel-dir needs a value}; shift 2 ;;
    -t|--timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
    --arg)
      (($# >= 2)) || die "--arg needs a value"
      ((${#payloads[@]})) || die "--arg $2 comes before any payload"
      [[ $2 != *$'\n'* ]] || die "--arg values cannot contain newlines"
      payload_args[-1]+="$2"$'\n'
      shift 2 ;;
    --modprobe) extra_modules+=("${2:?--modprobe needs a value}"); shift 2 ;;
    --host-bin) host_bins+=("${2:?--host-bin needs a value}"); shift 2 ;;
    --file) files+=("${2:?--file needs a value}"); shift 2 ;;
    --append) append=${2?--append needs a value}; shift 2 ;;
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --smp) smp=${2:?--smp needs a value}; shift 2 ;;
    --keep-initrd) keep_initrd=${2:?--keep-initrd needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; for p in "$@"; do payloads+=("$p"); payload_args+=(""); done; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) payloads+=("$1"); payload_args+=(""); shift ;;
  esac
done

[[ -n $kernel_dir ]] || die "no --kernel-dir given (see --help)"
[[ -f $kernel_dir/vmlinuz && -f $kernel_dir/load-order ]] ||
  die "no kernel in $kernel_dir; run third_party/fetch-kernel.sh CACHE_DIR first"
((${#payloads[@]})) || die "no payload given (see --help)"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "bad --timeout '$timeout'"
command -v qemu-system-x86_64 >/dev/null ||
  die "qemu-system-x86_64 not found; run third_party/install-deps.sh"
command -v cpio >/dev/null || die "cpio not found; run third_party/install-deps.sh"
busybox=${DMKIT_BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || die "$busybox not found; install busybox-static"
if ldd "$busybox" >/dev/null 2>&1; then
  die "$busybox is dynamically linked; install busybox-static"
fi

t_start=$EPOCHREALTIME
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dmkit-vm.XXXXXX")
qpid='' spid=''
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; fi
  if [[ -n $spid ]]; then kill "$spid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run-guest: interrupted" >&2; exit 130' INT TERM

root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc,lib/modules,dmkit/payloads}

# Forks are slow on some hosts: copy with as few processes as possible.
# Host programs and the libraries and loader that ldd lists for them and for
# the payloads keep their paths in the guest.
declare -A taken=() copies=()
for b in "${host_bins[@]}"; do
  if [[ $b != /* ]]; then
    p=$(command -v "$b") || die "host program $b not found"
    b=$p
  fi
  [[ -f $b && -x $b ]] || die "host program $b not found or not executable"
  copies[$b]=1
  taken[${b##*/}]=$b
done
for p in "${payloads[@]}"; do
  [[ -f $p ]] || die "payload $p not found"
done
lib_lines=$(ldd "${!copies[@]}" "${payloads[@]}" 2>/dev/null) || true
while IFS= read -r line; do
  [[ $line == $'\t'* ]] || continue          # "FILE:" headers
  case $line in
    *'=> not found'*) die "library ${line#$'\t'} not found on the host" ;;
    *'=> /'*) lib=${line#*=> } ;;
    $'\t/'*) lib=${line#$'\t'} ;;
    *) continue ;;                            # linux-vdso.so.1
  esac
  copies[${lib%% (*}]=1
done <<<"$lib_lines"
((${#copies[@]} == 0)) || cp -L --parents "${!copies[@]}" "$root/"

# Host programs win over busybox applets of the same name: the guest runs
# "busybox --install -s", which skips paths that exist, so each applet path
# whose name a host program has gets a link to that program here.
cp "$busybox" "$root/bin/busybox"
if ((${#taken[@]})); then
  while read -r applet; do
    b=${taken[${applet##*/}]:-}
    [[ -n $b && ! -e $root/$applet && ! -L $root/$applet ]] && ln -s "$b" "$root/$applet"
  done < <("$busybox" --list-full)
fi
ln -s /proc/mounts "$root/etc/mtab"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

# Modules: the whole cached tree (modules.dep lets busybox modprobe load the
# on-demand ones when the kernel asks); the boot list by name, in order.
cp -a "$kernel_dir/lib/modules/." "$root/lib/modules/"
while read -r m; do
  m=${m##*/}
  echo "${m%.ko}"
done <"$kernel_dir/load-order" >"$root/dmkit/modules"
for m in "${extra_modules[@]}"; do echo "$m"; done >>"$root/dmkit/modules"

for f in "${files[@]}"; do
  src=${f%%=*}
  dest=${f#*=}
  [[ $f == *=* ]] || dest=$(realpath -s "$src")
  [[ -f $src ]] || die "--file $src not found"
  [[ $dest == /* ]] || die "--file destination $dest is not absolute"
  mkdir -p "$root$(dirname "$dest")"
  cp -L "$src" "$root$dest"
done

# Payloads run in the order given, each with the --arg values after it.
for i in "${!payloads[@]}"; do
  p=${payloads[i]}
  printf -v name '%02d-%s' "$i" "${p##*/}"
  cp -L "$p" "$root/dmkit/payloads/$name"
  printf '%s' "${payload_args[i]}" >"$root/dmkit/payloads/$name.args"
  echo "$name" >>"$root/dmkit/run-list"
done
chmod 755 "$root"/dmkit/payloads/*

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Guest side of tests/vm/run-guest.sh.
/bin/busybox --install -s
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp
# The console is a tty; keep escape codes out of the host's logs.
export GTEST_COLOR=no
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

uptime() { read -r up _ </proc/uptime; echo "$up"; }
status=0 failed=''
dmesg_lines=$(dmesg | wc -l)
echo "DMKIT-VM: kernel $(uname -r) up at $(uptime) s; loading modules"
set --
while read -r m; do set -- "$@" "$m"; done </dmkit/modules
if modprobe -a "$@"; then
  echo "DMKIT-VM: modules loaded at $(uptime) s"
else
  echo "DMKIT-VM: loading the modules failed"
  status=1 failed=" modules"
fi

if [ "$status" = 0 ]; then
  while read -r p; do
    set --
    while IFS= read -r a; do set -- "$@" "$a"; done <"/dmkit/payloads/$p.args"
    echo "DMKIT-VM: running payload ${p#*-} $*"
    t0=$(uptime)
    (cd /tmp && exec "/dmkit/payloads/$p" "$@") </dev/null
    rc=$?
    t1=$(uptime)
    echo "DMKIT-VM: payload ${p#*-} exited with status $rc after" \
      "$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
    if [ "$rc" != 0 ]; then
      failed="$failed ${p#*-}($rc)"
      [ "$status" != 0 ] || status=$rc
    fi
  done </dmkit/run-list
fi

if [ "$status" != 0 ]; then
  echo "DMKIT-VM: failed:$failed"
  echo "DMKIT-VM: kernel log since /init started (last 40 lines):"
  dmesg | tail -n "+$((dmesg_lines + 1))" | tail -n 40
fi
echo "DMKIT-VM-RESULT: $status"
poweroff -f
EOF
chmod 755 "$root/init"

initrd=$tmp/initrd.gz
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
   cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1 >"$initrd"
[[ -z $keep_initrd ]] || cp "$initrd" "$keep_initrd"
echo "run-guest: initramfs $(($(stat -c %s "$initrd") / 1024)) KiB, built in" \
  "$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t_start }") s" >&2

# The uncompressed kernel boots through its PVH entry, skipping the
# decompressor (2-3 s under TCG).
kernel=$kernel_dir/vmlinuz
[[ -f $kernel_dir/vmlinux ]] && kernel=$kernel_dir/vmlinux
log=$tmp/console.log
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp "$smp" -m "$mem"
      -display none -monitor none -no-reboot -nic none
      -chardev "stdio,id=con,signal=off,logfile=$log" -serial chardev:con
      -kernel "$kernel" -initrd "$initrd"
      -append "console=ttyS0 quiet panic=-1${append:+ $append}")

start=$EPOCHREALTIME
"${qemu[@]}" </dev/null 2>&1 &
qpid=$!
# The watchdog must not hold ctest's output pipe open after the guest ends.
sleep "$timeout" >/dev/null 2>&1 &
spid=$!
wait -n "$qpid" "$spid" || true
elapsed=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $start }")
if kill -0 "$qpid" 2>/dev/null; then
  kill "$qpid" 2>/dev/null || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$qpid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
  qpid=
  echo
  echo "run-guest: TIMEOUT: guest killed after ${timeout} s without reporting a result" \
    "(raise it with --timeout, or DMKIT_VM_TIMEOUT in CMake)" >&2
  exit 124
fi
qrc=0
wait "$qpid" || qrc=$?
qpid=
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
spid=

result=$(tr -d '\r' <"$log" | sed -n 's/^DMKIT-VM-RESULT: \([0-9]\{1,3\}\)$/\1/p' | tail -n 1)
if [[ -z $result ]]; then
  echo "run-guest: guest stopped after ${elapsed} s without a DMKIT-VM-RESULT line" \
    "(kernel panic or /init failure?); qemu exit status $qrc" >&2
  exit 125
fi
echo "run-guest: guest result $result after ${elapsed} s (boot + run)" >&2
((result < 256)) || result=1
exit "$result"
