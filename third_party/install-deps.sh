#!/usr/bin/env bash
# Installs the Debian packages that building and testing dmkit need.
# Idempotent; safe to run on a machine that already has them.
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
  # thin_ls/thin_dump/thin_check/thin_restore 0.9.0 beside dmkit thin
  thin-provisioning-tools
  # benchmarks: the latency plot of bench/run.sh
  gnuplot-nox
  # fuzzers and sanitizers
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
