#!/bin/sh
# Guest test of `dmkit dmsetup ... --jobs N`: a concise batch of linear
# devices created 8 at a time, removed 8 at a time (by name and with
# remove_all); a failing batch and an interrupted batch leave nothing.
set -u
fail() { echo "dmsetup-jobs: $*"; exit 1; }
count() { dmsetup ls | grep -c "^$1" || true; }

dmsetup create jobs-zero --table "0 2097152 zero" || fail "zero device"
zero=$(dmsetup info -c --noheadings -o major,minor jobs-zero | tr -d ' ')
list=""
names=""
i=0
while [ "$i" -lt 60 ]; do
  list="${list}jobs-$i,,,rw,0 2048 linear $zero 0;"
  names="$names jobs-$i"
  i=$((i + 1))
done

dmkit dmsetup create --concise "$list" --jobs 8 || fail "batch create failed"
[ "$(count jobs-[0-9])" = 60 ] || fail "expected 60 devices, have $(count jobs-[0-9])"
[ -b /dev/mapper/jobs-59 ] || fail "no node /dev/mapper/jobs-59"
dmsetup table jobs-7 | grep -q "linear $zero 0" || fail "jobs-7 has the wrong table"
# shellcheck disable=SC2086
dmkit dmsetup remove --jobs 8 $names || fail "batch remove failed"
[ "$(count jobs-[0-9])" = 0 ] || fail "devices left after remove --jobs"
[ ! -e /dev/mapper/jobs-59 ] || fail "node /dev/mapper/jobs-59 left"

# All or nothing: the last device's table is bad.
dmkit dmsetup create --concise "${list}jobs-bad,,,rw,0 2048 linear 999:999 0" \
  --jobs 8 2>/tmp/bad.err && fail "a batch with a bad table succeeded"
cat /tmp/bad.err
[ "$(count "jobs-[0-9b]")" = 0 ] || fail "a failed batch left $(count "jobs-[0-9b]") devices"

# Interrupted: SIGINT during a long batch removes what it made. The signal
# goes as soon as the batch has made some devices.
# (On stdin: one argument may not exceed 128 KiB.)
i=0
while [ "$i" -lt 4000 ]; do
  echo "jobs-$i,,,rw,0 2048 linear $zero 0;"
  i=$((i + 1))
done >/tmp/big.concise
dmkit dmsetup create --concise --jobs 8 </tmp/big.concise 2>/tmp/int.err &
pid=$!
tries=0
while [ "$(count "jobs-[0-9]")" -lt 20 ]; do
  kill -0 "$pid" 2>/dev/null || fail "the batch ended before it could be interrupted"
  tries=$((tries + 1))
  [ "$tries" -lt 600 ] || fail "the batch made no devices in 60 s"
  usleep 100000
done
kill -INT "$pid"
wait "$pid" && fail "an interrupted batch reported success"
cat /tmp/int.err
grep -q 'Interrupted by signal 2' /tmp/int.err || fail "no interruption message"
[ "$(count "jobs-[0-9]")" = 0 ] || fail "an interrupted batch left $(count "jobs-[0-9]") devices"

# remove_all --jobs: everything goes, the zero device after its users.
dmkit dmsetup create --concise "$list" --jobs 4 || fail "second batch create"
dmkit dmsetup remove_all --jobs 8 || fail "remove_all --jobs failed"
[ "$(dmsetup ls)" = "No devices found" ] || fail "remove_all left: $(dmsetup ls)"

dmkit dmsetup info --jobs 2 jobs-0 2>/dev/null && fail "--jobs accepted for info"
echo "dmsetup-jobs: ok"
