#!/usr/bin/env bash
# The host unit suite under AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer: configures BUILD_DIR with clang and -DDMKIT_SANITIZE=ON,
# builds only the unit tests (the static dmkit binary cannot use ASan) and
# runs `ctest -L unit`. Any report fails the test that caused it. Debug
# (-O0 -g): the quickest to compile and the clearest reports.
#
# usage: tests/sanitize.sh [BUILD_DIR]      (default: build-sanitize)
# The compilers are $DMKIT_CC / $DMKIT_CXX (default clang / clang++).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-sanitize}
generator=()
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then
  generator=(-G Ninja)
fi
cmake -S "$src" -B "$build" "${generator[@]}" \
  -DCMAKE_C_COMPILER="${DMKIT_CC:-clang}" \
  -DCMAKE_CXX_COMPILER="${DMKIT_CXX:-clang++}" \
  -DCMAKE_BUILD_TYPE=Debug \
  -DDMKIT_SANITIZE=ON -DDMKIT_BENCH=OFF
cmake --build "$build" --target dmkit_unit_tests
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Only the gtest suite: the tests that run the dmkit binary (install, nsenter
# and holders side by side, the static binary's checks, man pages and
# completion against --help, thin against thin-provisioning-tools, the
# package and rescue images) need it, and it is not built here.
ctest --test-dir "$build" -L unit --output-on-failure -j "$(nproc)" \
  -E '^(install_package|nsenter_compat|holders_host|dmkit_binary|bench_applet_without_dm|man_pages|completion|install_docs|thin_compat|package_deb|initramfs_tools_hook|dracut_module)$'

