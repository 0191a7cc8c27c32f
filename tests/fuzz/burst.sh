#!/usr/bin/env bash
# One ctest fuzz burst: runs a libFuzzer target for SECONDS over its seeds,
# new inputs going to a fresh scratch corpus under WORK_DIR. On a crash, the
# input is printed (base64) so the CI log alone reproduces it:
#   base64 -d > crash && ./fuzz_<name> crash
# usage: burst.sh FUZZER SECONDS SEED_DIR WORK_DIR
set -uo pipefail
fuzzer=$1 seconds=$2 seeds=$3 work=$4
rm -rf "$work"
mkdir -p "$work/corpus"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
"$fuzzer" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$seeds"
rc=$?
for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
  [[ -e $f ]] || continue
  echo "=== $(basename "$f") (base64) ==="
  base64 -w 76 "$f"
done
exit $rc
