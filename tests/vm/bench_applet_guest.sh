#!/bin/sh
# Guest test of `dmkit bench cycle`: linear and thin runs (table and JSON
# output), and that nothing is left behind, after SIGINT too.
set -u
fail() { echo "bench-applet: $*"; exit 1; }

leftovers() {
  devices=$(dmsetup ls)
  [ "$devices" = "No devices found" ] || fail "$1: devices left: $devices"
  loops=$(losetup -a)
  [ -z "$loops" ] || fail "$1: loop devices left: $loops"
}

dmkit bench cycle --target linear --count 20 || fail "linear run failed"
leftovers "linear"
dmkit bench cycle --target linear --count 40 --jobs 4 --json >/tmp/linear.json ||
  fail "linear --jobs 4 --json failed"
cat /tmp/linear.json
grep -q '"completed":40,' /tmp/linear.json || fail "JSON: not 40 cycles"
grep -q '"remove":{"p50_ms":' /tmp/linear.json || fail "JSON: no remove phase"
leftovers "linear --jobs 4"
dmkit bench cycle --target thin --count 10 --jobs 2 || fail "thin run failed"
leftovers "thin"

# SIGINT in the middle of a long thin run: exit 130, nothing left.
dmkit bench cycle --target thin --count 100000 --jobs 4 >/tmp/int.out 2>&1 &
pid=$!
sleep 3
kill -INT "$pid"
wait "$pid"
rc=$?
cat /tmp/int.out
[ "$rc" = 130 ] || fail "interrupted run exited $rc, expected 130"
leftovers "SIGINT"
echo "bench-applet: ok"
