#!/usr/bin/env bash
# The Debian packages as a user gets them: builds them with cpack from
# BUILD_DIR, runs lintian (any error fails), checks that the dmkit package
# claims no path another installed package owns, installs it into a scratch
# root with dpkg --root and runs dmkit and an applet link from there, and
# checks the dmkit-dev files resolve from where they are unpacked.
# Usage: deb_test.sh BUILD_DIR. Exit 77 (skipped) without dpkg or lintian.
set -euo pipefail
build=$1
for tool in cpack dpkg dpkg-deb lintian pkg-config file; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool not found; run third_party/install-deps.sh"
    exit 77
  fi
done
work=$(mktemp -d "${TMPDIR:-/tmp}/dmkit-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
t0=$EPOCHREALTIME
elapsed() { awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }"; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack -G DEB failed"; }
runtime=("$work"/out/dmkit_*.deb)
dev=("$work"/out/dmkit-dev_*.deb)
[[ -f ${runtime[0]} && -f ${dev[0]} ]] ||
  fail "cpack made $(ls "$work/out"), not dmkit_*.deb and dmkit-dev_*.deb"
echo "cpack: $(basename "${runtime[0]}") $(basename "${dev[0]}") ($(elapsed) s)"

# lintian: warnings are shown, errors fail.
if ! lintian --fail-on error "${runtime[0]}" "${dev[0]}" >"$work/lintian.log" 2>&1; then
  cat "$work/lintian.log"
  fail "lintian reports errors"
fi
grep -v '^running with root privileges' "$work/lintian.log" || true
echo "lintian: no errors ($(elapsed) s)"

# The version is the project's.
version=$("$build/tools/dmkit" --version)
deb_version=$(dpkg-deb -f "${runtime[0]}" Version)
[[ "dmkit ${deb_version%-*}" == "$version" ]] ||
  fail "package version $deb_version, binary says '$version'"

# No file or link of the dmkit package belongs to another installed package
# (dmsetup is the dmsetup package's, nsenter util-linux's).
dpkg-deb --fsys-tarfile "${runtime[0]}" | tar -t | grep -v '/$' | sed 's|^\./|/|' >"$work/files"
while read -r path; do
  if owner=$(dpkg -S "$path" 2>/dev/null); then
    [[ ${owner%%:*} == dmkit ]] || fail "$path is already $owner"
  fi
done <"$work/files"
for taken in /usr/sbin/dmsetup /sbin/dmsetup /usr/bin/nsenter /usr/sbin/nsenter \
             /usr/bin/docker /usr/sbin/docker; do
  ! grep -qx "$taken" "$work/files" || fail "the package ships $taken"
done

# Installed into a scratch root, as dpkg would on a system.
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
dpkg --root="$root" --log="$work/dpkg.log" --force-not-root --force-script-chrootless \
  -i "${runtime[0]}" >"$work/dpkg.out" 2>&1 || { cat "$work/dpkg.out"; fail "dpkg -i failed"; }
status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status} ${Version}' dmkit)
[[ $status == "install ok installed $deb_version" ]] || fail "dpkg status: $status"
echo "dpkg --root: $status ($(elapsed) s)"

bin=$root/usr/sbin/dmkit
[[ -x $bin ]] || fail "no executable /usr/sbin/dmkit in the installed root"
info=$(file -L "$bin")
[[ $info == *"statically linked"* && $info == *", stripped"* ]] ||
  fail "/usr/sbin/dmkit is not a static stripped binary: $info"
listed=$("$bin" --list) || fail "dmkit --list failed in the installed root"
[[ $listed == "$("$build/tools/dmkit" --list)" ]] ||
  fail "installed dmkit --list differs from the built one: $listed"
echo "installed dmkit --list: ${listed//$'\n'/ }"

# One link per applet in the private directory, none elsewhere, each
# pointing at the binary by a relative path.
links=$(cd "$root/usr/lib/dmkit/bin" && ls)
[[ $links == "$listed" ]] || fail "links in /usr/lib/dmkit/bin: ${links//$'\n'/ }; applets: ${listed//$'\n'/ }"
for applet in $listed; do
  target=$(readlink "$root/usr/lib/dmkit/bin/$applet")
  [[ $target == ../../../sbin/dmkit ]] || fail "/usr/lib/dmkit/bin/$applet -> $target"
  [[ ! -e $root/usr/sbin/$applet && ! -e $root/usr/bin/$applet ]] ||
    fail "the package puts $applet on PATH"
done
out=$("$root/usr/lib/dmkit/bin/nsenter" --version) || fail "nsenter link failed"
[[ $out == "nsenter from $version" ]] || fail "nsenter link printed: $out"
out=$("$root/usr/lib/dmkit/bin/holders" --help) || fail "holders link failed"
[[ $out == "Usage: dmkit holders "* ]] || fail "holders link printed: $(head -n 1 <<<"$out")"
echo "applet links: ${links//$'\n'/ }, run through nsenter and holders"

for f in share/doc/dmkit/copyright share/doc/dmkit/changelog.Debian.gz \
         share/initramfs-tools/hooks/dmkit lib/dracut/modules.d/90dmkit/module-setup.sh; do
  [[ -f $root/usr/$f ]] || fail "the package has no /usr/$f"
done

# dmkit-dev: headers, static libraries, CMake package and pkg-config file,
# found from where they are unpacked (the .pc is relative to itself).
dpkg-deb -x "${dev[0]}" "$work/dev"
[[ -f $work/dev/usr/share/doc/dmkit-dev/copyright ]] || fail "dmkit-dev has no copyright file"
for f in include/dmioctl/device_mapper.h include/mountns/mount_namespaces.h; do
  [[ -f $work/dev/usr/$f ]] || fail "dmkit-dev has no /usr/$f"
done
for library in dmioctl mountns; do
  pc=$(cd "$work/dev/usr" && find . -name "$library.pc" | head -n 1)
  [[ -n $pc ]] || fail "dmkit-dev has no $library.pc"
  pcdir=$work/dev/usr/$(dirname "$pc")
  includedir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=includedir "$library")
  libdir=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=libdir "$library")
  [[ -d $includedir/$library && -f $includedir/dmkit/status.h && -f $libdir/lib$library.a ]] ||
    fail "$library.pc points at $includedir and $libdir"
  [[ -f $libdir/cmake/$library/${library}Config.cmake ]] ||
    fail "dmkit-dev has no CMake package for $library in $libdir/cmake"
done
[[ $(dpkg-deb -f "${dev[0]}" Depends) == *libabsl-dev* ]] ||
  fail "dmkit-dev does not depend on libabsl-dev"
echo "dmkit-dev: headers, libraries, CMake package, pkg-config ($(elapsed) s)"
echo "package check passed"
