#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds a consumer
# with find_package(dmioctl) and find_package(mountns) and another with
# pkg-config, and runs both.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 source=$2
work=$(mktemp -d /tmp/dmkit-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
expected=$'0 20971520 thin 253:3 34709\nthin id 34709 on pool 253:3\n/dev/mapper/thin on /mnt/c (xfs)\nerrno 2 and 2'

cmake -S "$source/tests/install" -B "$work/cmake" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
got=$("$work/cmake/consumer")
[ "$got" = "$expected" ] || { echo "find_package consumer printed: $got"; exit 1; }

flags=$(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs dmioctl mountns)
# shellcheck disable=SC2086
g++ -std=c++20 -o "$work/pc-consumer" "$source/tests/install/consumer.cc" $flags
got=$("$work/pc-consumer")
[ "$got" = "$expected" ] || { echo "pkg-config consumer printed: $got"; exit 1; }
echo "install check: find_package and pkg-config consumers work"
