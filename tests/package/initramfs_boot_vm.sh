#!/usr/bin/env bash
# Boots an initramfs that dmkit's initramfs-tools hook or dracut module
# built: mkinitramfs or dracut (with the host's copy of the VM tests' Debian
# kernel modules and the hook/module from a scratch install of BUILD_DIR's
# dmkit component) makes the image, QEMU boots the cached kernel with it,
# and a test script the image carries runs `dmkit dmsetup version` and the
# dmsetup link, then powers the guest off. The script runs inside the
# tool's own /init: from scripts/init-premount for initramfs-tools (after
# it has loaded the listed modules), as a cmdline hook for dracut (before
# dracut insists on a root= to mount).
# Usage: initramfs_boot_vm.sh BUILD_DIR KERNEL_DIR TIMEOUT mkinitramfs|dracut
#   KERNEL_DIR: third_party/fetch-kernel.sh's CACHE_DIR/current
# Exit 77 (skipped) when the host lacks the tool or that kernel's modules.
set -euo pipefail
build=$1 kernel_dir=$2 timeout=$3 tool=$4
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
case $tool in
  mkinitramfs | dracut) ;;
  *) fail "unknown tool $tool" ;;
esac
for t in "$tool" qemu-system-x86_64; do
  command -v "$t" >/dev/null || skip "$t not found; run third_party/install-deps.sh"
done
[[ -f $kernel_dir/release ]] || fail "no kernel in $kernel_dir; run third_party/fetch-kernel.sh"
kver=$(<"$kernel_dir/release")
[[ -d /lib/modules/$kver && -f /boot/config-$kver ]] ||
  skip "the VM kernel $kver is not installed on the host (apt-get install linux-image-$kver)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dmkit-initramfs-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$EPOCHREALTIME
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }"; }

root=$work/root
DESTDIR=$root cmake --install "$build" --prefix /usr --component dmkit >/dev/null

# What a person at the initramfs shell would type, then power off. dm-mod
# is loaded already under initramfs-tools (conf/modules); dracut's image
# carries it (--add-drivers) and the check loads it.
check_body='echo "DMKIT-INITRAMFS: modprobe dm-mod"
modprobe dm-mod
echo "DMKIT-INITRAMFS: exit $?"
echo "DMKIT-INITRAMFS: dmkit dmsetup version"
dmkit dmsetup version
echo "DMKIT-INITRAMFS: exit $?"
echo "DMKIT-INITRAMFS: /usr/lib/dmkit/bin/dmsetup version"
/usr/lib/dmkit/bin/dmsetup version
echo "DMKIT-INITRAMFS: exit $?"
echo "DMKIT-INITRAMFS: done"
echo o >/proc/sysrq-trigger
sleep 60'
image=$work/initrd.img
log=$work/$tool.log
if [[ $tool == mkinitramfs ]]; then
  conf=$work/conf
  mkdir -p "$conf/hooks" "$conf/scripts/init-premount" "$conf/conf.d"
  printf 'MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n' >"$conf/initramfs.conf"
  echo dm-mod >"$conf/modules"
  ln -s "$root/usr/share/initramfs-tools/hooks/dmkit" "$conf/hooks/dmkit"
  check=$conf/scripts/init-premount/dmkit-check
  printf '#!/bin/sh\n# Test only.\ncase $1 in prereqs) exit 0 ;; esac\n%s\n' "$check_body" >"$check"
  chmod 755 "$check"
  TMPDIR=$work mkinitramfs -d "$conf" -o "$image" "$kver" >"$log" 2>&1 ||
    { cat "$log"; fail "mkinitramfs failed"; }
else
  # dracut's own tree with dmkit's module from the scratch root added, no
  # host configuration, only the modules asked for (as rescue_image_test.sh).
  base=$work/dracut
  mkdir "$base" "$work/dracut.conf.d" "$work/tmp"
  cp -as /usr/lib/dracut/. "$base/"
  ln -s "$root/usr/lib/dracut/modules.d/90dmkit" "$base/modules.d/90dmkit"
  # Sourced by dracut's /init, so it must not exit.
  printf '# Test only.\n%s\n' "$check_body" >"$work/check.sh"
  dracutbasedir=$base dracut --no-hostonly --kver "$kver" -m "dmkit base" \
    --add-drivers dm-mod --conf /dev/null --confdir "$work/dracut.conf.d" \
    --tmpdir "$work/tmp" --no-early-microcode --force \
    --include "$work/check.sh" /usr/lib/dracut/hooks/cmdline/00-dmkit-check.sh \
    "$image" >"$log" 2>&1 || { cat "$log"; fail "dracut failed"; }
fi
echo "$tool $kver: $(($(stat -c %s "$image") / 1024)) KiB in $(elapsed) s"

kernel=$kernel_dir/vmlinuz
[[ -f $kernel_dir/vmlinux ]] && kernel=$kernel_dir/vmlinux
log=$work/console.log
t1=$EPOCHREALTIME
rc=0
timeout "$timeout" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1024 \
  -display none -monitor none -no-reboot -nic none -serial "file:$log" \
  -kernel "$kernel" -initrd "$image" \
  -append "console=ttyS0 panic=-1 quiet rd.shell=0" </dev/null || rc=$?
tr -d '\r' <"$log" >"$work/console.txt"
cat "$work/console.txt"
boot=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t1 }")
((rc != 124)) || fail "the guest did not power off within $timeout s"
grep -qx 'DMKIT-INITRAMFS: done' "$work/console.txt" ||
  fail "the initramfs did not run the check (qemu exit status $rc)"

# Both runs: exit 0, dmkit's library version, and the kernel's driver version.
mapfile -t exits < <(sed -n 's/^DMKIT-INITRAMFS: exit //p' "$work/console.txt")
[[ ${exits[*]} == "0 0 0" ]] || fail "exit statuses: ${exits[*]}"
version=$("$root/usr/sbin/dmkit" --version)
[[ $(grep -c "^Library version: *$version\$" "$work/console.txt") == 2 ]] ||
  fail "expected 'Library version: $version' twice"
[[ $(grep -Ec '^Driver version: +4\.[0-9]+\.[0-9]+$' "$work/console.txt") == 2 ]] ||
  fail "expected the kernel's 'Driver version: 4.x.y' twice"
echo "$tool initramfs boot check passed: guest ran in $boot s, $(elapsed) s in all"
