#!/bin/sh
# Hardening checks of `dmkit dmsetup` on a real kernel (issue #8):
#
# 1. Errors, one clear line each: a bad table (unknown target, bad
#    parameters, a gap, an overlap, a missing device), a 128-byte name, a
#    name with '/', a uuid set twice, a uuid already used by another device.
#    dmkit prints what Debian's dmsetup prints (compared here too): one
#    line saying what failed, naming the device (and its number) once the
#    kernel is involved, with the kernel's errno text, then dmsetup's
#    closing "Command failed.". (The kernel's own reason, e.g. "unknown
#    target type", goes to its log only.)
# 2. Races: processes creating and removing the same names at once (dmsetup's
#    own sequence and the library's --jobs one), with a watcher reading the
#    tables meanwhile. Every invocation succeeds silently or fails with one
#    line; no table lands in a device of another name; nothing is left.
# 3. A thin pool out of data space, with error_if_no_space and with the
#    default queue_if_no_space (no_space_timeout short, then 0: queued for
#    ever): writes fail or wait as the kernel decides, dmkit's status,
#    message, info, suspend --noflush, remove and remove --force answer at
#    once, and a flushing suspend or resume that would wait for the queued
#    I/O is refused with one line instead of hanging.
#
# Every dmkit command runs under `timeout`: a hang fails the check instead of
# stalling the guest.
set -u

DMKIT=/usr/bin/dmkit
T=$(mktemp -d)
export DM_DISABLE_UDEV=1  # for Debian's dmsetup (no udev in the guest)
checks=0
failures=0

ok() { checks=$((checks + 1)); }
bad() {
  failures=$((failures + 1))
  echo "hardening: FAIL: $*"
}
die() { echo "hardening: FAIL: $*"; exit 1; }
kit() { timeout 20 $DMKIT dmsetup "$@"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
section() { echo "hardening: === $* (at $(uptime_s) s)"; }

# lines FILE: the number of lines in FILE.
lines() { wc -l <"$1" | tr -d ' '; }

# one_error WANT CMD...: CMD (a dmkit dmsetup command line) must fail (not
# time out) with exactly one error line, matching the extended regular
# expression WANT, followed by dmsetup's "Command failed.".
one_error() {
  want=$1; shift
  kit "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ $rc = 0 ]; then
    bad "dmsetup $* succeeded"
  elif [ $rc = 124 ] || [ $rc = 143 ]; then
    bad "dmsetup $* timed out"
  elif [ "$(lines "$T/err")" != 2 ] ||
       [ "$(sed -n 2p "$T/err")" != "Command failed." ] ||
       ! sed -n 1p "$T/err" | grep -Eq "$want"; then
    bad "dmsetup $*: want one line matching '$want', then 'Command failed.'; got:"
    sed 's/^/    /' "$T/err"
  else
    ok
    echo "  dmsetup $*"
    echo "    $(sed -n 1p "$T/err")"
  fi
}

# same_as_debian CMD...: dmkit and Debian's dmsetup print the same stderr
# and exit status (a failing command, so the state is the same for both).
same_as_debian() {
  kit "$@" >/dev/null 2>"$T/kit.err"
  echo "rc=$?" >>"$T/kit.err"
  timeout 20 dmsetup "$@" >/dev/null 2>"$T/debian.err"
  echo "rc=$?" >>"$T/debian.err"
  if cmp -s "$T/kit.err" "$T/debian.err"; then
    ok
  else
    bad "dmsetup $*: dmkit and Debian's dmsetup differ:"
    diff "$T/debian.err" "$T/kit.err" | sed 's/^/    /'
  fi
}

no_devices() {
  left=$(kit ls 2>&1)
  [ "$left" = "No devices found" ] || bad "$1: devices left: $left"
  nodes=$(ls /dev/mapper)
  [ "$nodes" = control ] || bad "$1: nodes left in /dev/mapper: $nodes"
  ok
}

# --- 1. one clear line each ------------------------------------------------
section "errors"
long127=$(printf '%0127d' 0 | tr 0 n)
long128="${long127}n"
uuid129=$(printf '%0129d' 0 | tr 0 u)

# A bad table: the create is rolled back, the line names the device and its
# number, and the kernel's errno. (The kernel's reason is in its log only.)
for table in "0 8 nosuchtarget" "0 8 linear" "0 8 linear 7:0 not-a-number" \
             "0 8 linear /dev/no-such-disk 0"; do
  one_error '^device-mapper: reload ioctl on hard-bad \([0-9]+:[0-9]+\) failed: (Invalid argument|No such device)$' \
    create hard-bad --table "$table"
  same_as_debian create hard-bad --table "$table"
done
# A gap and an overlap: dmkit sees them before the load; the line is the
# kernel's all the same.
for table in "0 8 zero
16 8 zero" "0 8 zero
4 8 zero" "8 8 zero"; do
  one_error '^device-mapper: reload ioctl on hard-bad \([0-9]+:[0-9]+\) failed: Invalid argument$' \
    create hard-bad --table "$table"
  same_as_debian create hard-bad --table "$table"
done
# Caught while parsing, before any ioctl (libdm's words, which do not name
# the device).
one_error '^Invalid format on line 1 of table' create hard-bad --table "zero 0 8"
same_as_debian create hard-bad --table "zero 0 8"
one_error '^Target type name nosuchtargetxxxxx is too long\.$' \
  create hard-bad --table "0 8 nosuchtargetxxxxx"
same_as_debian create hard-bad --table "0 8 nosuchtargetxxxxx"
no_devices "bad tables"

# Names: 127 bytes is the longest the kernel takes (DM_NAME_LEN counts the
# NUL); 128 is refused before any ioctl; '/' too.
one_error "^Name \"$long128\" too long\.\$" create "$long128" --table "0 8 zero"
same_as_debian create "$long128" --table "0 8 zero"
kit create "$long127" --table "0 8 zero" || bad "a 127-byte name was refused"
[ -b "/dev/mapper/$long127" ] || bad "no node for the 127-byte name"
one_error '^Name "a/b" invalid\. It contains "/"\.$' create a/b --table "0 8 zero"
same_as_debian create a/b --table "0 8 zero"
one_error "^Name \"$long128\" too long\$" rename "$long127" "$long128"
one_error '^Name "x/y" invalid\. It contains "/"\.$' rename "$long127" x/y
kit remove "$long127" || bad "remove of the 127-byte name"
# (A uuid too long for the kernel: libdm words it as a mangling failure, in
# two lines; dmkit says the same.)
same_as_debian create hard-u -u "$uuid129" --table "0 8 zero"

# Uuids: set twice on one device (the kernel sets a uuid once), and one
# already used by another device.
kit create hard-u1 -u HARD-UUID-1 --table "0 8 zero" || bad "create hard-u1"
kit create hard-u2 --table "0 8 zero" || bad "create hard-u2"
one_error '^device-mapper: rename ioctl on hard-u1  failed: Invalid argument$' \
  rename hard-u1 --setuuid HARD-UUID-2
same_as_debian rename hard-u1 --setuuid HARD-UUID-2
one_error '^device-mapper: create ioctl on hard-u3 HARD-UUID-1 failed: Device or resource busy$' \
  create hard-u3 -u HARD-UUID-1 --table "0 8 zero"
same_as_debian create hard-u3 -u HARD-UUID-1 --table "0 8 zero"
one_error '^device-mapper: rename ioctl on hard-u2  failed: Device or resource busy$' \
  rename hard-u2 --setuuid HARD-UUID-1
same_as_debian rename hard-u2 --setuuid HARD-UUID-1
kit rename hard-u2 --setuuid HARD-UUID-2 || bad "setting a first uuid failed"
one_error '^device-mapper: rename ioctl on hard-u2  failed: Invalid argument$' \
  rename hard-u2 --setuuid HARD-UUID-3
# The same uuid again: the kernel finds it taken (by the device itself).
one_error '^device-mapper: rename ioctl on hard-u2  failed: Device or resource busy$' \
  rename hard-u2 --setuuid HARD-UUID-2
one_error '^device-mapper: create ioctl on hard-u1  failed: Device or resource busy$' \
  create hard-u1 --table "0 8 zero"
[ "$(kit info -c --noheadings -o uuid hard-u1)" = HARD-UUID-1 ] ||
  bad "hard-u1 lost its uuid"
kit remove hard-u1 hard-u2 || bad "remove hard-u1 hard-u2"
no_devices "names and uuids"

# --- 2. races ---------------------------------------------------------------
section "races"
NAMES=2
ROUNDS=60

# race_result RC OP NAME FILE TALLY: a success says nothing; a failure is
# one line about NAME with EBUSY (the name is taken) or ENXIO (gone), or
# dmkit's line for a device removed while it was being created, then
# "Command failed.". Problems go to stdout; what happened to TALLY.
race_result() {
  if [ "$1" = 0 ]; then
    echo "$2 ok" >>"$5"
    [ -s "$4" ] && { echo "$2 $3 succeeded but printed:"; cat "$4"; }
    return 0
  fi
  n=$(lines "$4")
  l1=$(sed -n 1p "$4")
  l2=$(sed -n 2p "$4")
  if [ "$1" = 124 ] || [ "$1" = 143 ] || [ "$n" != 2 ] ||
     [ "$l2" != "Command failed." ]; then
    echo "$2 failed" >>"$5"
    echo "$2 $3 exited $1 with:"
    cat "$4"
    return 0
  fi
  case $l1 in
    "device-mapper: "*" ioctl on $3 "*" failed: Device or resource busy")
      echo "$2 ${l1#device-mapper: }" | cut -d' ' -f1,2 | sed 's/$/:EBUSY/' >>"$5" ;;
    "device-mapper: "*" ioctl on $3 "*" failed: No such device or address")
      echo "$2 ${l1#device-mapper: }" | cut -d' ' -f1,2 | sed 's/$/:ENXIO/' >>"$5" ;;
    "dmkit: $3 was removed by another process while it was being created.")
      echo "$2 removed-meanwhile" >>"$5" ;;
    "device $3 was removed by another process while it was being created: No such device or address")
      echo "$2 removed-meanwhile" >>"$5" ;;
    *)
      echo "$2 failed" >>"$5"
      echo "$2 $3 exited $1 with an unexpected line: $l1" ;;
  esac
}

# race_worker ID MODE: ROUNDS rounds of create + remove over the names,
# MODE "plain" (dmsetup's sequence) or "jobs" (the library's, --jobs 1).
# Device hard-race-K's table is 8*(K+1) sectors long.
race_worker() {
  id=$1 mode=$2 i=0
  err=$T/race-$id.err
  log=$T/race-$id.log
  : >"$log"
  while [ $i -lt "$ROUNDS" ]; do
    k=$(((i + id) % NAMES))
    name=hard-race-$k
    if [ "$mode" = jobs ]; then
      kit create --concise --jobs 1 "$name,,,,0 $((8 * (k + 1))) zero" 2>"$err"
    else
      kit create "$name" --table "0 $((8 * (k + 1))) zero" 2>"$err"
    fi
    race_result $? create "$name" "$err" "$T/race-$id.tally" >>"$log"
    if [ "$mode" = jobs ]; then
      kit remove --jobs 1 "$name" 2>"$err"
    else
      kit remove "$name" 2>"$err"
    fi
    race_result $? remove "$name" "$err" "$T/race-$id.tally" >>"$log"
    i=$((i + 1))
  done
}

# The watcher: every table it sees has its name's length.
race_watch() {
  : >"$T/watch.log"
  seen=0
  while [ ! -e "$T/race.done" ]; do
    kit table 2>/dev/null | while read -r name start len type rest; do
      case $name in hard-race-*:) ;; *) continue ;; esac
      [ -n "$len" ] || continue  # still being created: no table yet
      k=${name#hard-race-}
      k=${k%:}
      [ "$len" = $((8 * (k + 1))) ] ||
        echo "hard-race-$k has a table of $len sectors: $start $len $type $rest"
    done >>"$T/watch.log"
    seen=$((seen + 1))
  done
  echo "$seen" >"$T/watch.count"
}

t0=$(uptime_s)
race_watch &
watcher=$!
race_worker 0 plain &
w0=$!
race_worker 1 plain &
w1=$!
race_worker 2 jobs &
w2=$!
race_worker 3 jobs &
w3=$!
wait $w0 $w1 $w2 $w3
touch "$T/race.done"
wait $watcher
echo "hardening: races took $(awk "BEGIN { print $(uptime_s) - $t0 }") s;" \
  "the watcher listed the tables $(cat "$T/watch.count") times"
for id in 0 1 2 3; do
  echo "  worker $id: $(sort "$T/race-$id.tally" | uniq -c | tr -s ' \n' ' ')"
  if [ -s "$T/race-$id.log" ]; then
    bad "worker $id:"
    sed 's/^/    /' "$T/race-$id.log"
  else
    ok
  fi
done
if [ -s "$T/watch.log" ]; then
  bad "a table landed in a device of another name:"
  sed 's/^/    /' "$T/watch.log"
fi
grep -q "^create ok" "$T"/race-*.tally || bad "no create succeeded"
grep -q "^create create:EBUSY" "$T"/race-*.tally || bad "the creates never collided"
no_devices "races"

# --- 3. a thin pool out of data space ---------------------------------------
section "thin pool out of data space"
NO_SPACE_TIMEOUT=/sys/module/dm_thin_pool/parameters/no_space_timeout
truncate -s 8M "$T/meta.img"
truncate -s 4M "$T/data.img"  # 64 blocks of 64 KiB
losetup /dev/loop0 "$T/meta.img" || die "losetup meta"
losetup /dev/loop1 "$T/data.img" || die "losetup data"

# make_pool FEATURES...: a fresh pool and thin device 0 (64 MiB) on it.
make_pool() {
  dd if=/dev/zero of=/dev/loop0 bs=4096 count=1 conv=fsync 2>/dev/null
  kit create hard-pool --table "0 8192 thin-pool 7:0 7:1 128 0 $*" ||
    die "create hard-pool"
  kit message hard-pool 0 create_thin 0 || die "create_thin 0"
  pool_dev=$(kit info -c --noheadings -o major,minor hard-pool | tr -d ' ')
  kit create hard-thin --table "0 131072 thin $pool_dev 0" || die "create hard-thin"
}

# fill TIMEOUT SEEK COUNT: COUNT blocks of 64 KiB of direct I/O to the thin
# device from block SEEK on; dd's exit status goes to $T/dd.rc.
fill() {
  timeout "$1" dd if=/dev/zero of=/dev/mapper/hard-thin bs=64k seek="$2" \
    count="$3" oflag=direct 2>"$T/dd.err"
  echo $? >"$T/dd.rc"
}

pool_mode_is() {
  kit status hard-pool | grep -q " $1 "
}

# wait_out_of_space: polls the pool's status for up to 30 s.
wait_out_of_space() {
  i=0
  until pool_mode_is out_of_data_space; do
    i=$((i + 1))
    [ $i -lt 300 ] || { bad "the pool never ran out of data space"; return 1; }
    usleep 100000
  done
}

# timed CMD...: runs CMD and checks it answered within 10 s (no hang).
timed() {
  s0=$(uptime_s)
  "$@"
  trc=$?
  took=$(awk "BEGIN { print $(uptime_s) - $s0 }")
  if awk "BEGIN { exit !($took > 10) }"; then
    bad "$* took $took s"
  fi
  return $trc
}

# grow_pool MIB: the data file and loop device grow, the pool's table is
# reloaded with the new length and resumed (the usual way out).
grow_pool() {
  truncate -s "$1M" "$T/data.img"
  losetup -c /dev/loop1
  timed kit reload hard-pool --table "0 $(($1 * 2048)) thin-pool 7:0 7:1 128 0" ||
    bad "reload of the grown pool"
  timed kit resume hard-pool || bad "resume of the grown pool"
}

# error_if_no_space: the writes fail at once.
echo "hardening: error_if_no_space"
make_pool 1 error_if_no_space
fill 60 0 128
[ "$(cat "$T/dd.rc")" = 1 ] || bad "dd exited $(cat "$T/dd.rc") on a full pool"
grep -q "No space left on device" "$T/dd.err" || {
  bad "dd did not fail with ENOSPC:"; cat "$T/dd.err"; }
timed kit status hard-pool >"$T/status" || bad "status of the full pool"
grep -q " 64/64 .* out_of_data_space .* error_if_no_space " "$T/status" ||
  bad "status: $(cat "$T/status")"
timed kit status --json hard-pool >"$T/status.json" || bad "status --json"
grep -q 'out_of_data_space' "$T/status.json" ||
  bad "status --json: $(cat "$T/status.json")"
# Messages change metadata only: they work on a pool out of data space.
timed kit message hard-pool 0 create_thin 1 || bad "create_thin on a full pool"
one_error '^device-mapper: message ioctl on hard-pool  failed: File exists$' \
  message hard-pool 0 create_thin 1
one_error '^device-mapper: message ioctl on hard-pool  failed: Invalid argument$' \
  message hard-pool 0 create_thin
timed kit suspend hard-thin || bad "suspend of the idle thin device"
timed kit resume hard-thin || bad "resume"
timed kit remove hard-thin || bad "remove hard-thin"
timed kit remove hard-pool || bad "remove hard-pool"
no_devices "error_if_no_space"

# queue_if_no_space with no_space_timeout 5 s: the writes wait, then fail,
# and the pool switches to error_if_no_space.
echo "hardening: queue_if_no_space, no_space_timeout 5"
old_timeout=$(cat $NO_SPACE_TIMEOUT)
echo 5 >$NO_SPACE_TIMEOUT
truncate -s 4M "$T/data.img"
losetup -c /dev/loop1
make_pool 0
fill 60 0 128 &
filler=$!
wait_out_of_space
timed kit status hard-pool >/dev/null || bad "status while I/O is queued"
timed kit info hard-thin >/dev/null || bad "info while I/O is queued"
wait $filler
[ "$(cat "$T/dd.rc")" = 1 ] || bad "dd exited $(cat "$T/dd.rc") (124: it waited for ever)"
grep -q "No space left on device" "$T/dd.err" || {
  bad "dd did not fail with ENOSPC after no_space_timeout:"; cat "$T/dd.err"; }
pool_mode_is error_if_no_space || bad "the pool did not switch to error_if_no_space"
timed kit remove hard-thin || bad "remove hard-thin"
timed kit remove hard-pool || bad "remove hard-pool"
no_devices "queue_if_no_space"

# no_space_timeout 0: the writes wait until the pool grows. dmkit answers,
# refuses what would wait with it, and the pool grows under the waiting
# writes; the second time, remove --force ends the wait.
echo "hardening: queue_if_no_space, no_space_timeout 0 (queued for ever)"
echo 0 >$NO_SPACE_TIMEOUT
make_pool 0
fill 120 0 128 &
filler=$!
wait_out_of_space
timed kit status hard-pool >"$T/status" || bad "status while I/O is queued"
grep -q " out_of_data_space .* queue_if_no_space " "$T/status" ||
  bad "status: $(cat "$T/status")"
timed kit status hard-thin >/dev/null || bad "status of the waiting thin device"
timed kit message hard-pool 0 create_thin 2 || bad "create_thin while I/O is queued"
# What dmkit refuses: Debian's dmsetup waits (until the timeout kills it;
# the kernel then cancels the suspend).
timeout 3 dmsetup suspend hard-thin 2>/dev/null
rc=$?
[ $rc = 124 ] || [ $rc = 143 ] || bad "Debian's dmsetup suspend did not wait (exit $rc)"
refusal='thin pool hard-pool is out of data space and holds writes back until it grows, which a flushing suspend waits for; grow the pool, or use --noflush\.$'
one_error "^dmkit: not suspending hard-thin: $refusal" suspend hard-thin
one_error "^dmkit: not wiping the table of hard-thin: $refusal" wipe_table hard-thin
kit load hard-thin --table "0 131072 thin $pool_dev 0" || bad "load into hard-thin"
one_error "^dmkit: not resuming hard-thin: $refusal" resume hard-thin
kit clear hard-thin || bad "clear hard-thin"
# A device stacked on the thin device: the same.
thin_dev=$(kit info -c --noheadings -o major,minor hard-thin | tr -d ' ')
kit create hard-top --table "0 1024 linear $thin_dev 0" || bad "create hard-top"
one_error "^dmkit: not suspending hard-top: $refusal" suspend hard-top
kit remove hard-top || bad "remove hard-top"
timed kit info hard-thin >"$T/info"
if ! grep -q "State: *ACTIVE" "$T/info" ||
   ! grep -q "Tables present: *LIVE$" "$T/info"; then
  bad "hard-thin was left suspended or with a new table:"
  cat "$T/info"
fi
timed kit suspend --noflush hard-thin || bad "suspend --noflush"
timed kit resume hard-thin || bad "resume after suspend --noflush"
one_error '^device-mapper: remove ioctl on hard-thin  failed: Device or resource busy$' \
  remove hard-thin
# The pool grows to 16 MiB: the waiting writes go through.
grow_pool 16
wait $filler
[ "$(cat "$T/dd.rc")" = 0 ] || { bad "dd exited $(cat "$T/dd.rc") after the pool grew:"; cat "$T/dd.err"; }
# Full again (16 MiB more than the 8 MiB left): remove --force swaps in an
# error table without flushing, the queued writes fail, the writer closes
# the device and the retried remove succeeds.
fill 120 128 256 &
filler=$!
wait_out_of_space
timed kit remove --force --retry hard-thin 2>"$T/force.err" ||
  { bad "remove --force --retry hard-thin:"; cat "$T/force.err"; }
if [ -e /dev/mapper/hard-thin ]; then
  grow_pool 64  # do not leave dd waiting for ever
fi
wait $filler
[ "$(cat "$T/dd.rc")" = 1 ] || bad "dd exited $(cat "$T/dd.rc") (124: still waiting)"
grep -q "Input/output error" "$T/dd.err" || {
  bad "dd did not see EIO:"; cat "$T/dd.err"; }
timed kit remove hard-pool || bad "remove hard-pool"
no_devices "queued for ever"
echo "$old_timeout" >$NO_SPACE_TIMEOUT
losetup -d /dev/loop0
losetup -d /dev/loop1

rm -rf "$T"
if [ $failures != 0 ]; then
  echo "hardening: $failures failed, $checks passed"
  exit 1
fi
echo "hardening: all $checks checks passed"
