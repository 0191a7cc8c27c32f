#!/usr/bin/env bash
# Runs the benchmarks in the test VM and writes the results to
# BUILD/bench-results/:
#   summary.md     ratios and goals, per-operation table (markdown)
#   dm_bench.json  Google Benchmark's JSON output
#   latency.csv    median latency per operation, implementation, device count
#   latency.png    latency against device count (needs gnuplot)
#   console.log    the guest's console
# usage: bench/run.sh [BUILD_DIR]   (default: build; configured if needed)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$src" -B "$build" -G Ninja
fi
cmake --build "$build" --target dmkit dm_bench
out=$build/bench-results
mkdir -p "$out"
rm -f "$out"/{summary.md,dm_bench.json,latency.csv,latency.png}
log=$out/console.log

status=0
ctest --test-dir "$build" -L bench -V >"$log" 2>&1 || status=$?

# ctest -V prefixes each line of a test's output with "<test number>: ".
sed -e 's/\r$//' -e 's/^[0-9]\{1,\}: //' "$log" |
  awk -v out="$out" '
    /^DMKIT-BENCH-FILE-BEGIN / { name = $2; file = out "/" name ".b64";
                                 printf "" > file; on = 1; next }
    /^DMKIT-BENCH-FILE-END /   { close(file); on = 0; next }
    on                         { print >> file }'
for b64 in "$out"/*.b64; do
  [[ -e $b64 ]] || continue
  name=${b64%.b64}
  if ! base64 -d "$b64" | gunzip >"$name"; then
    echo "run.sh: could not decode ${name##*/}" >&2
    status=1
  fi
  rm -f "$b64"
done

if [[ -s $out/latency.csv ]]; then
  if command -v gnuplot >/dev/null; then
    gnuplot -e "csv='$out/latency.csv'; png='$out/latency.png'" \
      "$src/bench/plot.gp" || echo "run.sh: gnuplot failed" >&2
  else
    echo "run.sh: gnuplot not found; no latency.png (apt-get install gnuplot-nox)" >&2
  fi
fi

if [[ -f $out/summary.md ]]; then
  cat "$out/summary.md"
else
  echo "run.sh: no results came back; see $log" >&2
  status=1
fi
echo "run.sh: results in $out (ctest status $status)" >&2
exit "$status"
