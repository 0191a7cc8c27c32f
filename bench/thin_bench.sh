#!/usr/bin/env bash
# dmkit thin dump / thin ls against thin_dump / thin_ls 0.9.0, side by side
# on the same metadata: 1,000,000 mappings over 100 devices (runs of 1-16
# blocks with gaps and changing times, every tenth device sharing data
# blocks with the one before, as snapshots do), made by thin_restore.
# Each command runs ROUNDS times (alternating programs); the median wall
# time and the peak RSS (GNU time's %M) are reported with the ratio.
#
# usage: bench/thin_bench.sh DMKIT [ROUNDS]   (exit 77 without the tools)
set -euo pipefail
dmkit=${1:?usage: thin_bench.sh DMKIT [ROUNDS]}
rounds=${2:-5}
for tool in thin_restore thin_dump thin_ls /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "$tool missing: skipped"; exit 77; }
done
base=/tmp
[[ -w /dev/shm ]] && base=/dev/shm
work=$(mktemp -d "$base/thin-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

awk -v devices=100 -v per_device=10000 'BEGIN {
  srand(1)
  printf "<superblock uuid=\"\" time=\"9\" transaction=\"1\" flags=\"0\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"4000000\">\n"
  data = 0
  for (d = 0; d < devices; d++) {
    printf "  <device dev_id=\"%d\" mapped_blocks=\"%d\" transaction=\"0\" creation_time=\"0\" snap_time=\"0\">\n", d, per_device
    origin = 0; n = 0; shared = (d % 10 == 9); sd = prev_start
    start = data
    while (n < per_device) {
      len = 1 + int(rand() * 16); if (len > per_device - n) len = per_device - n
      t = int(rand() * 3)
      if (shared) { b = sd; sd += len } else { b = data; data += len + int(rand() * 2) }
      if (len == 1) printf "    <single_mapping origin_block=\"%d\" data_block=\"%d\" time=\"%d\"/>\n", origin, b, t
      else printf "    <range_mapping origin_begin=\"%d\" data_begin=\"%d\" length=\"%d\" time=\"%d\"/>\n", origin, b, len, t
      origin += len + int(rand() * 3); n += len
    }
    prev_start = start
    printf "  </device>\n"
  }
  printf "</superblock>\n"
}' >"$work/gen.xml"
truncate -s 256M "$work/md"
echo "restoring 1,000,000 mappings over 100 devices..."
thin_restore -i "$work/gen.xml" -o "$work/md" >/dev/null
rm "$work/gen.xml"

# Outputs must be identical before timing means anything.
cmp <(thin_dump "$work/md") <("$dmkit" thin dump "$work/md") || { echo "dump outputs differ"; exit 1; }
fields=DEV,MAPPED,EXCLUSIVE,SHARED
cmp <(thin_ls -o $fields "$work/md") <("$dmkit" thin ls -o $fields "$work/md") || { echo "ls outputs differ"; exit 1; }

# measure NAME COMMAND...: appends "seconds kib" lines to $work/NAME.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null
  cat "$work/t" >>"$work/$name"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for ((r = 0; r < rounds; r++)); do
  measure dump_theirs thin_dump "$work/md"
  measure dump_ours "$dmkit" thin dump "$work/md"
  measure ls_theirs thin_ls -o $fields "$work/md"
  measure ls_ours "$dmkit" thin ls -o $fields "$work/md"
done
report() {
  local what=$1 ours=$2 theirs=$3
  local to tt mo mt
  to=$(cut -d' ' -f1 "$work/$ours" | median); tt=$(cut -d' ' -f1 "$work/$theirs" | median)
  mo=$(cut -d' ' -f2 "$work/$ours" | sort -n | tail -1); mt=$(cut -d' ' -f2 "$work/$theirs" | sort -n | tail -1)
  awk -v w="$what" -v to="$to" -v tt="$tt" -v mo="$mo" -v mt="$mt" 'BEGIN {
    printf "%-38s dmkit %6.2f s %7d KiB | 0.9.0 %6.2f s %7d KiB | %5.1fx faster, RSS %.2fx\n",
      w, to, mo, tt, mt, (to > 0 ? tt / to : 0), (mt > 0 ? mo / mt : 0) }'
}
echo "median of $rounds rounds, peak RSS:"
report "thin dump" dump_ours dump_theirs
report "thin ls -o $fields" ls_ours ls_theirs
