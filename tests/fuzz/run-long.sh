#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, keeping what
# they find in a scratch corpus that later runs start from, and prints the
# executions and coverage of each. Crashes land in the scratch directory
# (crash-*, leak-*, timeout-*, oom-*) and make the script fail.
#
# usage: tests/fuzz/run-long.sh SECONDS [TARGET...]
#   FUZZ_BUILD=dir    fuzz build directory (default: build-fuzz; configured
#                     and built by run.sh --build-only)
#   FUZZ_SCRATCH=dir  scratch corpora (default: ${TMPDIR:-/tmp}/dmkit-fuzz)
#   FUZZ_JOBS=n       targets run at the same time (default: nproc)
#
# To keep an input as a seed: minimise the scratch corpus into the seed
# directory, e.g.
#   build-fuzz/tests/fuzz/fuzz_table -merge=1 tests/fuzz/corpus/fuzz_table \
#     "$FUZZ_SCRATCH/fuzz_table/corpus"
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:?usage: run-long.sh SECONDS [TARGET...]}
shift
build=${FUZZ_BUILD:-$src/build-fuzz}
scratch=${FUZZ_SCRATCH:-${TMPDIR:-/tmp}/dmkit-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
"$src/tests/fuzz/run.sh" --build-only "$build" >/dev/null

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$build"/tests/fuzz/fuzz_*; do
    name=$(basename "$f")
    [[ -x $f && $name != fuzz_seeds && -d $src/tests/fuzz/corpus/$name ]] &&
      targets+=("$name")
  done
fi

run_one() {
  local name=$1 work=$scratch/$1
  local rc=0
  mkdir -p "$work/corpus"
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" \
    "$work/corpus" "$src/tests/fuzz/corpus/$name" >"$work/log" 2>&1 || rc=$?
  echo $rc >"$work/rc"
}

echo "fuzzing ${#targets[@]} targets for ${seconds}s each, $jobs at a time; scratch: $scratch"
for name in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  rm -f "$scratch/$name/rc"
  run_one "$name" &
done
wait
failed=0
printf '%-22s %12s %8s %8s  %s\n' target executions exec/s corpus result
for name in "${targets[@]}"; do
  log=$scratch/$name/log
  result=ok
  if [[ $(cat "$scratch/$name/rc" 2>/dev/null) != 0 ]]; then
    result="FAILED (see $log)"
    failed=1
  fi
  execs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec/ {print $2}' "$log")
  corpus=$(find "$scratch/$name/corpus" -type f | wc -l)
  printf '%-22s %12s %8s %8s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
exit $failed
