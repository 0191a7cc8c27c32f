#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -DDMKIT_FUZZ=ON: ASan+UBSan and
# coverage on everything) in BUILD_DIR and runs each for a short burst over
# its seed corpus (`ctest -L fuzz`; DMKIT_FUZZ_SECONDS per target, default
# 10, two targets at a time on two cores).
#
# usage: tests/fuzz/run.sh [--build-only] [BUILD_DIR]   (default: build-fuzz)
# The compilers are $DMKIT_CC / $DMKIT_CXX (default clang / clang++).
# For longer runs that keep what they find, see run-long.sh.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build_only=0
if [[ ${1:-} == --build-only ]]; then
  build_only=1
  shift
fi
build=${1:-$src/build-fuzz}
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi
cmake -S "$src" -B "$build" "${generator[@]}" \
  -DCMAKE_C_COMPILER="${DMKIT_CC:-clang}" \
  -DCMAKE_CXX_COMPILER="${DMKIT_CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDMKIT_FUZZ=ON -DDMKIT_TESTS=OFF -DDMKIT_BENCH=OFF \
  ${DMKIT_FUZZ_SECONDS:+-DDMKIT_FUZZ_SECONDS=$DMKIT_FUZZ_SECONDS}
cmake --build "$build" --target fuzzers
((build_only)) && exit 0
ctest --test-dir "$build" -L fuzz --output-on-failure -j "$(nproc)"
