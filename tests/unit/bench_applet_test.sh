#!/bin/sh
# `dmkit bench`: usage errors, and the error on a host without
# device-mapper (this one's kernel has none). DMKIT is the binary to test.
# Exit 77 (skipped) on a host that has device-mapper: there the real cycle
# runs in the VM test vm_bench_applet instead.
set -u
dmkit=${1:?usage: bench_applet_test.sh DMKIT}
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect() {  # expect STATUS PATTERN ARGS...
  want=$1 pattern=$2
  shift 2
  "$dmkit" "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  [ "$got" = "$want" ] || fail "dmkit $*: status $got, expected $want ($(cat "$tmp/err"))"
  grep -q -- "$pattern" "$tmp/out" "$tmp/err" ||
    fail "dmkit $*: no '$pattern' in: $(cat "$tmp/out" "$tmp/err")"
  echo "ok: dmkit $* -> $got"
}

expect 2 'Usage: dmkit bench cycle' bench
expect 0 'Usage: dmkit bench cycle' bench --help
expect 2 "unknown command 'run'" bench run
expect 2 "unknown target 'striped'" bench cycle --target striped
expect 2 "bad --count '0'" bench cycle --count 0
expect 2 "bad --jobs 'x'" bench cycle --jobs x
expect 2 "bad --backing" bench cycle --backing nope
expect 2 "is for --target linear" bench cycle --target thin --backing 7:0

if grep -q ' device-mapper$' /proc/misc 2>/dev/null ||
   [ -e /sys/class/misc/device-mapper ]; then
  echo "this kernel has device-mapper: the no-device-mapper case is skipped"
  exit 77
fi
# A private DM_DEV_DIR: nothing is made under the host's /dev.
mkdir "$tmp/dev"
DM_DEV_DIR=$tmp/dev expect 1 'bench: cannot use device-mapper: .*' \
  bench cycle --count 1
grep -q 'device-mapper' "$tmp/err" || fail "error does not name device-mapper"
echo "all passed"
