#!/usr/bin/env bash
# Fetches Debian's current amd64 kernel for the VM tests into CACHE_DIR:
#   CACHE_DIR/kernel-<abi>/vmlinuz
#   CACHE_DIR/kernel-<abi>/vmlinux                 the same kernel uncompressed:
#        QEMU boots it directly (PVH entry), which saves the 2-3 s that the
#        decompressor takes under TCG
#   CACHE_DIR/kernel-<abi>/lib/modules/<abi>/...   only the modules listed below
#                                                  and what they depend on
#   CACHE_DIR/kernel-<abi>/load-order              boot modules in load order,
#                                                  one path a line
#   CACHE_DIR/current -> kernel-<abi>
# The package is the one linux-image-amd64 depends on. Once cached, nothing is
# downloaded again, so the tests run offline. Usage: fetch-kernel.sh CACHE_DIR
set -euo pipefail

die() { echo "fetch-kernel: $*" >&2; exit 1; }
warn() { echo "fetch-kernel: $*" >&2; }

(($# == 1)) || die "usage: fetch-kernel.sh CACHE_DIR"

# Modules the guest loads at boot; their dependencies (modules.dep) and soft
# dependencies (modules.softdep, e.g. libcrc32c needs a crc32c provider first)
# are added and ordered by kmod's modprobe --show-depends.
boot_modules=(
  dm-mod crc32c_generic libcrc32c dm-bufio dm-bio-prison dm-persistent-data
  dm-thin-pool dm-snapshot dm-zero dm-flakey dm-delay
  dm-crypt xts   # dm-crypt with aes-xts-plain64 (aes and cbc are built in)
  loop
)
# Kept too, with their dependencies, but loaded only when the kernel asks for
# them (the first mount, through busybox modprobe): they take about a second
# of TCG time to load. dm-unstripe is never loaded at boot: the dmioctl suite
# checks that DM_GET_TARGET_VERSION autoloads a target's module with it.
on_demand_modules=(ext4 xfs dm-unstripe)

for tool in apt-cache apt-get dpkg-deb depmod modprobe flock xz; do
  command -v "$tool" >/dev/null || die "'$tool' not found; run third_party/install-deps.sh"
done

mkdir -p "$1"
cache=$(cd "$1" && pwd)
exec 9>"$cache/.lock"
flock 9

stamp_text="format 2; boot: ${boot_modules[*]}; on demand: ${on_demand_modules[*]}"

# A complete cached kernel for this module list, newest first (offline fallback).
cached_kernel() {
  local d best=
  for d in "$cache"/kernel-*; do
    [[ -f $d/.complete && $(<"$d/.complete") == "$stamp_text" ]] || continue
    [[ -z $best || $d -nt $best ]] && best=$d
  done
  [[ -n $best ]] && echo "$best"
}

use() {
  ln -sfn "$(basename "$1")" "$cache/current"
  echo "fetch-kernel: using $1" >&2
  exit 0
}

fallback() {
  local d
  d=$(cached_kernel) || die "$1 (and no kernel is cached in $cache)"
  warn "$1; falling back to the cached $(basename "$d")"
  use "$d"
}

# The kernel package, e.g. linux-image-6.1.0-56-amd64 (not -unsigned or -dbg).
resolve_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}
pkg=$(resolve_package)
if [[ -z $pkg ]]; then
  if ((EUID == 0)); then
    warn "apt-cache knows no linux-image-amd64; running apt-get update"
    apt-get update -qq || fallback "apt-get update failed"
    pkg=$(resolve_package)
  fi
  [[ -n $pkg ]] || fallback "cannot resolve linux-image-amd64's kernel package with apt-cache"
fi
abi=${pkg#linux-image-}
dest=$cache/kernel-$abi

if [[ -f $dest/.complete && $(<"$dest/.complete") == "$stamp_text" &&
      -f $dest/vmlinuz && -f $dest/load-order ]]; then
  use "$dest"
fi

work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The tree holding boot/vmlinuz-$abi and lib/modules/$abi: the host's own
# when the package is installed here (install-deps.sh installs it for the
# rescue-image tests), else the downloaded package unpacked.
installed=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$pkg" 2>/dev/null || true)
if [[ $installed == ii* && -f /boot/vmlinuz-$abi && -f /lib/modules/$abi/modules.dep ]]; then
  echo "fetch-kernel: using the installed $pkg" >&2
  src=/
  version=${installed:3}
else
  apt_opts=(-q)
  ((EUID == 0)) && apt_opts+=(-o APT::Sandbox::User=root)
  download() { (cd "$work" && apt-get "${apt_opts[@]}" download "$pkg" >/dev/null); }
  echo "fetch-kernel: downloading $pkg" >&2
  if ! download; then
    if ((EUID == 0)); then
      warn "download failed; running apt-get update and retrying"
      { apt-get update -qq && download; } || fallback "cannot download $pkg"
    else
      fallback "cannot download $pkg (not root, so no apt-get update)"
    fi
  fi
  debs=("$work"/*.deb)
  [[ -f ${debs[0]} ]] || fallback "apt-get download left no .deb for $pkg"

  echo "fetch-kernel: extracting $(basename "${debs[0]}")" >&2
  dpkg-deb -x "${debs[0]}" "$work/x"
  version=$(dpkg-deb -f "${debs[0]}" Version)
  rm -f "${debs[@]}"
  src=$work/x
  depmod -b "$src" "$abi"
fi
modules=${src%/}/lib/modules/$abi
[[ -f ${src%/}/boot/vmlinuz-$abi && -d $modules ]] ||
  die "$pkg has no boot/vmlinuz-$abi or lib/modules/$abi"
# Prints the modules to insmod for $1, in order, relative to lib/modules/$abi.
closure() {
  local lines kind path
  lines=$(modprobe -C /dev/null -d "$src" -S "$abi" --show-depends "$1") ||
    die "module $1 is not in $pkg"
  while read -r kind path _; do
    # "builtin NAME" lines: nothing to load.
    if [[ $kind == insmod ]]; then echo "${path#*/lib/modules/"$abi"/}"; fi
  done <<<"$lines"
}
declare -A seen=()
keep=()
add() {
  local rels rel
  rels=$(closure "$1")
  while read -r rel; do
    [[ -n $rel && -z ${seen[$rel]:-} ]] || continue
    seen[$rel]=1
    keep+=("$rel")
  done <<<"$rels"
}
for m in "${boot_modules[@]}"; do add "$m"; done
order=("${keep[@]}")
for m in "${on_demand_modules[@]}"; do add "$m"; done

rm -rf "$dest"
mkdir -p "$dest/lib/modules/$abi"
cp "${src%/}/boot/vmlinuz-$abi" "$dest/vmlinuz"
# The uncompressed kernel is the xz stream inside the bzImage (what the
# kernel's scripts/extract-vmlinux does); xz complains about the trailing data.
offset=$(LC_ALL=C grep -obUaP -m 1 '\xfd7zXZ\x00' "$dest/vmlinuz" | head -n 1 | cut -d: -f1)
if [[ -n $offset ]]; then
  tail -c "+$((offset + 1))" "$dest/vmlinuz" | xz -dc >"$dest/vmlinux" 2>/dev/null || true
fi
if [[ $(head -c 4 "$dest/vmlinux" 2>/dev/null | od -An -tx1 | tr -d ' ') != 7f454c46 ]]; then
  warn "cannot extract an ELF vmlinux from vmlinuz-$abi; guests will boot the bzImage (slower)"
  rm -f "$dest/vmlinux"
fi
for f in modules.builtin modules.builtin.modinfo modules.order; do
  cp "$modules/$f" "$dest/lib/modules/$abi/"
done
for rel in "${keep[@]}"; do
  mkdir -p "$dest/lib/modules/$abi/$(dirname "$rel")"
  cp "$modules/$rel" "$dest/lib/modules/$abi/$rel"
done
# modules.dep and friends for the kept modules only, so that busybox modprobe
# in the guest resolves what the kernel requests on demand.
depmod -b "$dest" "$abi"
printf '%s\n' "${order[@]}" >"$dest/load-order"
echo "$abi" >"$dest/release"
echo "$pkg $version" >"$dest/package"
echo "$stamp_text" >"$dest/.complete"

# Drop kernels cached earlier that are no longer current.
for d in "$cache"/kernel-*; do
  [[ $d == "$dest" ]] || rm -rf "$d"
done
use "$dest"
