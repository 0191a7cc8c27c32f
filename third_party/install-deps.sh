#!/usr/bin/env bash
# Installs the Debian packages that building and testing dmkit need.
# Idempotent; safe to run on a machine that already has them. Run it as root
# or as a user who may use sudo: when something is missing and it is not
# root, it runs itself again through sudo (a root shell on a minimal Debian
# has no sudo, and needs none). Nothing else here needs root: build and test
# as the user you are.
set -euo pipefail
packages=(
  # build
  cmake ninja-build g++ pkg-config file
  # libraries (Abseil's static archives go into the static binary)
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  # real-kernel tests: Debian's kernel under QEMU, a busybox initramfs
  qemu-system-x86 busybox-static cpio kmod xz-utils
  # side-by-side comparison and filesystems used in the guest
  dmsetup libdevmapper-dev xfsprogs e2fsprogs util-linux
  # man page lint (tests/unit/man_pages.sh); the completion's loader
  # (tests/unit/install_docs.sh)
  mandoc groff man-db bash-completion
  # thin_ls/thin_dump/thin_check/thin_restore 0.9.0 beside dmkit thin
  thin-provisioning-tools
  # benchmarks: the latency plot of bench/run.sh
  gnuplot-nox
  # fuzzers and sanitizers
  clang libclang-rt-14-dev
  # the style check of .ci/run
  clang-format
  # the Debian package (cpack -G DEB, checked with lintian) and the rescue
  # images: initramfs-tools and dracut-core (not dracut, which conflicts with
  # initramfs-tools) build an initramfs from Debian's kernel modules
  lintian initramfs-tools dracut-core linux-image-amd64
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then
    echo "install-deps: installing ${missing[*]} as root, through sudo" >&2
    exec sudo -- "$(readlink -f "$0")" "$@"
  fi
  echo "install-deps: missing ${missing[*]}; installing them needs root and" \
    "there is no sudo: run this script as root (su -c $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The kernel package is there for its modules and config (mkinitramfs and
# dracut read /lib/modules and /boot): no initramfs of its own at install.
export INITRD=No
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
