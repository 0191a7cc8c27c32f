#!/bin/sh
# Guest side of bench/run.sh: prints every file in /tmp/bench-results to the
# console as gzip + base64 between marker lines, which run.sh decodes into
# build/bench-results/. Runs after dm_bench, whatever dm_bench's status.
dir=/tmp/bench-results
[ -d "$dir" ] || { echo "emit-results: no $dir"; exit 1; }
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  name=${f##*/}
  echo "DMKIT-BENCH-FILE-BEGIN $name"
  gzip -c "$f" | base64
  echo "DMKIT-BENCH-FILE-END $name"
done
