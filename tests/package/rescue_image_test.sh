#!/usr/bin/env bash
# dmkit's initramfs-tools hook or dracut module, run by the real tool on a
# real kernel's modules: installs the dmkit component of BUILD_DIR into a
# scratch root (as the package would), builds an initramfs with mkinitramfs
# or dracut using the hook/module from that root, lists it (lsinitramfs,
# lsinitrd), checks that dmkit and a link per applet are inside, unpacks it
# and runs dmkit and an applet link from the unpacked tree.
# Usage: rescue_image_test.sh BUILD_DIR VM_CACHE_DIR mkinitramfs|dracut
# The kernel version is the VM tests' (VM_CACHE_DIR/current/release) when
# that kernel is installed on the host, else the newest installed one.
# Exit 77 (skipped) without the tool or an installed Debian kernel.
set -euo pipefail
build=$1 cache=$2 tool=$3
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
case $tool in
  mkinitramfs) needed=(mkinitramfs lsinitramfs unmkinitramfs) ;;
  dracut) needed=(dracut lsinitrd) ;;
  *) fail "unknown tool $tool" ;;
esac
for t in "${needed[@]}"; do
  command -v "$t" >/dev/null || skip "$t not found; run third_party/install-deps.sh"
done

kver=
if [[ -f $cache/current/release ]]; then
  r=$(<"$cache/current/release")
  [[ -d /lib/modules/$r && -f /boot/config-$r ]] && kver=$r
fi
if [[ -z $kver ]]; then
  for d in /lib/modules/*/; do
    r=$(basename "$d")
    [[ -f /boot/config-$r ]] && kver=$r
  done
fi
[[ -n $kver ]] ||
  skip "no kernel modules and config in /lib/modules and /boot; run third_party/install-deps.sh (linux-image-amd64)"

work=$(mktemp -d "${TMPDIR:-/tmp}/dmkit-$tool.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$EPOCHREALTIME
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }"; }

root=$work/root
DESTDIR=$root cmake --install "$build" --prefix /usr --component dmkit >/dev/null
applets=$("$root/usr/sbin/dmkit" --list)
image=$work/initrd.img
log=$work/$tool.log

if [[ $tool == mkinitramfs ]]; then
  # A configuration of its own (no host's /etc/initramfs-tools): only the
  # listed modules, so the build is quick; the hooks of the host's packages
  # in /usr/share/initramfs-tools/hooks still run, as on any system, plus
  # dmkit's from the scratch root.
  conf=$work/conf
  mkdir -p "$conf/hooks" "$conf/scripts" "$conf/conf.d"
  printf 'MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\n' >"$conf/initramfs.conf"
  echo dm-mod >"$conf/modules"
  ln -s "$root/usr/share/initramfs-tools/hooks/dmkit" "$conf/hooks/dmkit"
  TMPDIR=$work mkinitramfs -d "$conf" -o "$image" "$kver" >"$log" 2>&1 ||
    { cat "$log"; fail "mkinitramfs failed"; }
  lsinitramfs -l "$image" >"$work/list"
  mkdir "$work/x"
  unmkinitramfs "$image" "$work/x"
else
  # dracut's own tree with dmkit's module from the scratch root added
  # (dracut reads its modules from $dracutbasedir/modules.d), no host
  # configuration, only the modules asked for.
  base=$work/dracut
  mkdir "$base"
  cp -as /usr/lib/dracut/. "$base/"
  ln -s "$root/usr/lib/dracut/modules.d/90dmkit" "$base/modules.d/90dmkit"
  mkdir "$work/dracut.conf.d" "$work/tmp"
  dracutbasedir=$base dracut --no-hostonly --kver "$kver" -m "dmkit base" \
    --conf /dev/null --confdir "$work/dracut.conf.d" --tmpdir "$work/tmp" \
    --no-early-microcode --force "$image" >"$log" 2>&1 ||
    { cat "$log"; fail "dracut failed"; }
  lsinitrd "$image" >"$work/list"
  mkdir "$work/x"
  (cd "$work/x" && lsinitrd --unpack "$image")
fi
echo "$tool $kver: $(($(stat -c %s "$image") / 1024)) KiB in $(elapsed) s"

# The listing: the binary and one link per applet, each to the binary.
grep -Eq ' usr/sbin/dmkit$' "$work/list" || {
  cat "$work/list"
  fail "no usr/sbin/dmkit in the $tool image"
}
for applet in $applets; do
  grep -Eq " usr/lib/dmkit/bin/$applet -> \.\./\.\./\.\./sbin/dmkit$" "$work/list" || {
    grep dmkit "$work/list"
    fail "no link usr/lib/dmkit/bin/$applet -> ../../../sbin/dmkit in the $tool image"
  }
done
echo "listed: usr/sbin/dmkit, usr/lib/dmkit/bin/{${applets//$'\n'/,}}"

# Unpacked: the binary in it runs, and so does a link.
bin=$(find "$work/x" -path '*/usr/sbin/dmkit' -type f | head -n 1)
[[ -n $bin ]] || fail "usr/sbin/dmkit not found in the unpacked $tool image"
[[ $("$bin" --list) == "$applets" ]] || fail "the image's dmkit --list differs"
tree=${bin%/usr/sbin/dmkit}
out=$("$tree/usr/lib/dmkit/bin/nsenter" --version) || fail "the image's nsenter link failed"
[[ $out == "nsenter from $("$bin" --version)" ]] || fail "the image's nsenter link printed: $out"
echo "unpacked: dmkit --list and the nsenter link run"
echo "$tool check passed ($(elapsed) s)"
