#!/bin/sh
# dmkit dmsetup against Debian's dmsetup 1.02.185 on a real kernel.
#
# Every compared command line runs once with each implementation, both
# invoked as "dmsetup" (so getopt's messages carry the same program name),
# and their stdout, stderr and exit status must be byte-identical.
#
# - compare: read-only commands run with both on the same devices.
# - scenario: commands that change devices run from the same starting
#   state with each implementation in turn; each run's output is followed
#   by a snapshot of the resulting state (device list, tables, info, the
#   nodes in /dev/mapper), which must match too.
#
# Debian's dmsetup runs with DM_DISABLE_UDEV=1: there is no udev in the
# guest, and that is how libdevmapper then manages /dev/mapper itself.
#
# Intentional differences are not compared here: the "Library version:"
# line (dmkit names itself) and the node handling of names libdm would
# unmangle (see the report of the dmsetup applet).
set -u

# --show: print what dmkit printed in each scenario (for reading, not diffing).
SHOW=
[ "${1:-}" = --show ] && SHOW=1

DMKIT=/usr/local/bin/dmkit
KIT_BIN=/tmp/dmkit-bin
mkdir -p "$KIT_BIN" /tmp/cmp
ln -sf "$DMKIT" "$KIT_BIN/dmsetup"
REAL_PATH=/sbin:/usr/sbin:/bin:/usr/bin
KIT_PATH=$KIT_BIN:/bin:/usr/bin
export DM_DISABLE_UDEV=1
unset LANG LC_ALL LC_CTYPE

real() { (PATH=$REAL_PATH; exec dmsetup "$@"); }
kit() { (PATH=$KIT_PATH; exec dmsetup "$@"); }

pass=0
fail=0
failed=""

report_diff() {
  echo "--- Debian dmsetup / +++ dmkit dmsetup: $1"
  diff -u "$2" "$3" | head -60
}

# compare ARGS...: the same read-only command with both.
compare() {
  real "$@" >/tmp/cmp/r.out 2>/tmp/cmp/r.err
  echo "rc=$?" >>/tmp/cmp/r.out
  kit "$@" >/tmp/cmp/k.out 2>/tmp/cmp/k.err
  echo "rc=$?" >>/tmp/cmp/k.out
  if cmp -s /tmp/cmp/r.out /tmp/cmp/k.out && cmp -s /tmp/cmp/r.err /tmp/cmp/k.err; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    failed="$failed
  dmsetup $*"
    echo "FAIL: dmsetup $*"
    report_diff "stdout+rc" /tmp/cmp/r.out /tmp/cmp/k.out
    report_diff "stderr" /tmp/cmp/r.err /tmp/cmp/k.err
  fi
}

# step ARGS...: inside a scenario, one command with the implementation
# under test ($IMPL), logged to the scenario's files.
step() {
  echo "### $*" >>"$OUT"
  echo "### $*" >>"$ERR"
  if [ "$IMPL" = real ]; then real "$@"; else kit "$@"; fi >>"$OUT" 2>>"$ERR"
  echo "rc=$?" >>"$OUT"
}

LOOP0= LOOP1= LOOP2= DMMAJ=
setup_loops() {
  truncate -s 64M /tmp/lo0.img
  truncate -s 8M /tmp/lo1.img
  truncate -s 64M /tmp/lo2.img
  losetup /dev/loop0 /tmp/lo0.img
  losetup /dev/loop1 /tmp/lo1.img
  losetup /dev/loop2 /tmp/lo2.img
  LOOP0=7:0 LOOP1=7:1 LOOP2=7:2
  DMMAJ=$(awk '$2 == "device-mapper" { print $1 }' /proc/devices)
}

reset_state() {
  real remove_all --force >/dev/null 2>&1
  for f in /dev/mapper/*; do
    [ "$f" = /dev/mapper/control ] && continue
    rm -f "$f"
  done
  # A fresh thin-pool needs zeroed metadata.
  dd if=/dev/zero of=/dev/loop1 bs=4096 count=1 conv=fsync 2>/dev/null
}

snapshot() {
  echo "### state"
  real ls
  real table
  real info -c -o name,attr,open,segments,events,major,minor,uuid
  for f in /dev/mapper/*; do
    [ "$f" = /dev/mapper/control ] && continue
    [ -e "$f" ] || [ -L "$f" ] || continue
    stat -c '%n %F %a %u %g %t:%T' "$f"
  done
}

# scenario NAME: runs scn_NAME once per implementation from a clean state.
scenario() {
  for IMPL in real kit; do
    reset_state
    OUT=/tmp/cmp/$1.$IMPL.out
    ERR=/tmp/cmp/$1.$IMPL.err
    : >"$OUT"
    : >"$ERR"
    "scn_$1"
    snapshot >>"$OUT" 2>>"$ERR"
  done
  if [ -n "$SHOW" ]; then
    echo "=== scenario $1: dmkit stdout"
    cat "/tmp/cmp/$1.kit.out"
    echo "=== scenario $1: dmkit stderr"
    cat "/tmp/cmp/$1.kit.err"
  fi
  if cmp -s "/tmp/cmp/$1.real.out" "/tmp/cmp/$1.kit.out" &&
     cmp -s "/tmp/cmp/$1.real.err" "/tmp/cmp/$1.kit.err"; then
    pass=$((pass + 1))
    echo "ok: scenario $1"
  else
    fail=$((fail + 1))
    failed="$failed
  scenario $1"
    echo "FAIL: scenario $1"
    report_diff "stdout+rc" "/tmp/cmp/$1.real.out" "/tmp/cmp/$1.kit.out"
    report_diff "stderr" "/tmp/cmp/$1.real.err" "/tmp/cmp/$1.kit.err"
  fi
}

devno() { real info -c --noheadings -o devno "$1"; }

# --- scenarios -------------------------------------------------------------

scn_create() {
  step create a --table "0 8 zero"
  step create b -u UUID-b --table "0 16 linear $LOOP0 0"
  step create c -r --table "0 8 zero"
  step create d --notable
  step create e -n -u UUID-e
  printf '0 8 zero\n8 8 error\n' | step create f
  printf '# comment\n\n  0 8 zero # trailing\n' >/tmp/cmp/t.tbl
  step create g /tmp/cmp/t.tbl
  step create h -j "$DMMAJ" -m 77 --table "0 8 zero"
  step create --concise "c1,,,rw,0 8 zero;c2,UU-c2,,ro,0 8 zero,8 8 error"
  step create --concise "c3,,90,,0 8 zero"
  printf 'c4,UU-c4,,,0 8 zero\n' | step create --concise
  step create j --addnodeoncreate --notable
  step create k --addnodeonresume --table "0 8 zero"
  step create l -U 5 -G 6 -M 640 --table "0 8 zero"
  step create -v m --table "0 8 zero"
  step info a b c d e f g h c1 c2 c3 c4 j k l m
}

scn_create_errors() {
  step create a --table "0 8 zero"
  step create a --table "0 8 zero"
  step create b -u UUID-b --table "0 8 zero"
  step create b2 -u UUID-b --table "0 8 zero"
  step create x --table "0 8 nosuchtarget"
  step create y --table "0 8 zero
10 8 zero"
  step create y2 --table "8 8 zero"
  step create z --table "foo bar"
  step create z2 --table "0 8 averyveryverylongtargetname"
  step create bad/name --table "0 8 zero"
  step create m --table "0 8 linear 7:99 0"
  step create --concise "c1,,,xx,0 8 zero"
  step create --concise "c2,,,rw"
  step create --concise "c3,,,rw,0 8 zero;c4"
  step create --concise 'c5\'
  step create --concise -u x "c6,,,,0 8 zero"
  step create w --table "0 8 zero" --notable
  step create v -j 253
  step create q -j "$DMMAJ" -m 5000000 --table "0 8 zero"
  step create
  step create a b c
}

scn_remove() {
  real create a --table "0 8 zero"
  real create b --table "0 8 zero"
  real create c --table "0 8 zero"
  real create d -u UUID-d --table "0 8 zero"
  real create e --table "0 16 linear $LOOP0 0"
  real create f --table "0 8 zero"
  real create g --notable
  step remove a
  step remove nosuch
  step remove b c
  step remove -u UUID-d
  step remove -f e
  step remove --deferred f
  step remove -f g
  step remove e
  step remove
}

scn_busy() {
  real create lower --table "0 64 zero"
  real create upper --table "0 32 linear $(devno lower) 0"
  step remove lower
  exec 3</dev/mapper/upper
  step remove upper
  step remove --retry upper
  step remove --deferred upper
  step info upper
  step info -c -o name,attr upper
  exec 3<&-
  sleep 1
  step ls
  step remove_all
  step ls
}

scn_rename() {
  real create a -u UUID-a --table "0 8 zero"
  real create b --table "0 8 zero"
  step rename a a2
  step rename a2 b
  step rename nosuch x
  step rename b --setuuid NEWUUID
  step rename b --setuuid OTHER
  step rename -u NEWUUID zz
  step rename a2 bad/name
  step rename a2 ""
  step info a2 b
}

scn_suspend() {
  real create a --table "0 16 linear $LOOP0 0"
  real create b --table "0 8 zero"
  step suspend a
  step info a
  step info -c -o name,attr,suspended a
  step suspend a
  step resume a
  step suspend --noflush --nolockfs b
  step status b
  step resume b
  step resume nosuch
  step suspend nosuch
  step suspend -v a
  step resume -v a
  step suspend a b
  step info -c
  step resume a b
}

scn_reload() {
  real create a --table "0 8 zero"
  step load a --table "0 16 zero"
  step info a
  step table a
  step table --inactive a
  step info -c -o name,attr,tables_loaded a
  step clear a
  step info a
  step reload a --table "0 32 zero"
  step resume a
  step table a
  step load a --table "0 8 nosuchtarget"
  step load nosuch --table "0 8 zero"
  step load a </dev/null
  step load a --table "0 8 zero
8 0 zero"
  step load --notable a
  step load
  step wipe_table a
  step table a
  step wipe_table -f a
  step table a
  step wipe_table nosuch
}

scn_message() {
  real create pool --table "0 131072 thin-pool $LOOP1 $LOOP2 128 32"
  step message pool 0 create_thin 0
  step message pool 0 create_thin 0
  step message pool 0 delete 5
  step message pool 0
  step message pool x create_thin 1
  step message nosuch 0 foo
  step message pool 0 bogus_message
  step message pool 0 create_snap 1 0
  real create thin0 --table "0 8192 thin $(devno pool) 0"
  step status thin0
  step status --noflush pool
  step table pool thin0
  step deps thin0
  step info -c -o name,device_count,devs_used,names_using_dev,device_ref_count,devnos_used,devnos_using_dev
  step ls --tree
  step message thin0 0 foo
}

scn_mknodes() {
  real create a --table "0 8 zero"
  real create b --table "0 8 zero"
  real create c --notable
  rm -f /dev/mapper/a
  mknod /dev/mapper/stale b 7 0
  mknod /dev/mapper/b2 b 7 0
  step mknodes
  rm -f /dev/mapper/b
  step mknodes b
  mknod /dev/mapper/gone b 7 1
  step mknodes gone
  step mknodes c
}

scn_wait_geometry() {
  real create a --table "0 16 zero"
  real rename a a2
  step wait a2 0
  step wait -v a2 0
  step setgeometry a2 1 2 3 0
  step setgeometry a2 x 2 3 0
  step setgeometry a2 70000 2 3 0
  step setgeometry nosuch 1 2 3 0
  step wait
}

scn_remove_all() {
  real create a --table "0 8 zero"
  real create lower --table "0 64 zero"
  real create upper --table "0 32 linear $(devno lower) 0"
  step remove_all
  step ls
  real create held --table "0 8 zero"
  exec 3</dev/mapper/held
  step remove_all
  step remove_all -f
  step table
  exec 3<&-
}

scn_mangle() {
  real create --manglename none "a b" --table "0 8 zero"
  real create ok1 --table "0 8 zero"
  step ls
  step mangle
  step ls
  step info 'a b'
  step mangle ok1
}

scn_dev_dir() {
  mkdir -p /tmp/altdev
  rm -rf /tmp/altdev/mapper
  step_env() { (DM_DEV_DIR=/tmp/altdev; export DM_DEV_DIR; step "$@"); }
  step_env create a --table "0 8 zero"
  step_env create b --notable
  step_env mknodes
  step_env info a
  step_env info /tmp/altdev/mapper/a
  step_env rename a a2
  step_env remove b
  for f in /tmp/altdev/mapper/*; do
    stat -c '%n %F %a %u %g %t:%T' "$f" >>"$OUT"
  done
  (DM_DEV_DIR=relative; export DM_DEV_DIR; step ls)
}

# --- run -------------------------------------------------------------------

setup_loops
reset_state

# Read-only commands with no devices.
compare ls
compare info
compare table
compare status
compare deps
compare ls --tree
compare mangle
compare targets
compare target-version linear striped error zero thin-pool
compare target-version nosuchtarget
compare target-version linear nosuchtarget zero
real version >/tmp/cmp/rv 2>&1
kit version >/tmp/cmp/kv 2>&1
if [ "$(grep Driver /tmp/cmp/rv)" = "$(grep Driver /tmp/cmp/kv)" ] &&
   grep -q "^Library version:   dmkit " /tmp/cmp/kv; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  failed="$failed
  version"
  cat /tmp/cmp/rv /tmp/cmp/kv
fi
compare splitname vg-lv
compare splitname -c --noheadings a-b--c-d
compare splitname --nameprefixes --rows vg-lv-_tmeta XYZ
compare help
compare
compare bogus
compare ''
compare info --nosuchoption
compare ls -o nosuch

# Read-only commands on a set of devices.
real create lin1 -u LVM-linuuid1 --table "0 2048 linear $LOOP0 0"
real create lin2 --table "0 1024 linear $LOOP0 2048
1024 512 zero"
real create ro1 -r --table "0 100 zero"
real create empty1 --notable
real create sus1 --table "0 8 error"
real suspend sus1
real create vg0-lv_x-tmeta -u LVM-vgid0lvid0-tmeta --table "0 8 zero"
real create crypt1 --table "0 2048 crypt aes-xts-plain64 000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f 0 $LOOP0 4096"
real create crypt2 --table "0 2048 crypt aes-xts-plain64 :32:logon:dmkit:test 0 $LOOP0 4096" 2>/dev/null
real create top --table "0 1024 linear $(devno lin1) 0
1024 1024 linear $(devno lin2) 0"
real create inact --table "0 8 zero"
real load inact --table "0 16 zero"
real create pool --table "0 131072 thin-pool $LOOP1 $LOOP2 128 32"
real message pool 0 create_thin 0
real create thin0 --table "0 8192 thin $(devno pool) 0"

compare ls
compare ls -o blkdevname
compare ls -o devname
compare ls -o devno,blkdevname
compare ls --target linear
compare ls --target thin
compare ls --target nosuch
compare ls --tree
compare ls --tree -o ascii,active,open,rw,uuid
compare ls --tree -o compact
compare ls --tree -o inverted
compare ls --tree -o nodevice,blkdevname
compare ls --tree -o bogus
compare table
compare table --concise
compare table --showkeys
compare table --target linear
compare table lin1 lin2
compare table crypt1
compare table --showkeys crypt1
compare table --concise crypt1 lin2
compare table nosuch
compare table -u LVM-linuuid1
compare table -j "$DMMAJ" -m 0
compare table inact
compare table --inactive inact
compare status
compare status --target thin-pool
compare status lin1
compare status nosuch
compare status -v lin1 lin2
compare table -v lin1
compare info
compare info lin1
compare info empty1
compare info nosuch
compare info lin1 nosuch lin2
compare info -u LVM-linuuid1
compare info -j "$DMMAJ" -m 1
compare info -c
compare info -c -o name,attr,tables_loaded,suspended,readonly,devno,blkdevname,read_ahead
compare info -c --noheadings
compare info -c --separator '|'
compare info -c --nameprefixes
compare info -c --nameprefixes --noheadings
compare info -c --rows
compare info -c --rows --noheadings -o name,uuid
compare info -c --nameprefixes --noheadings --rows -o suspended sus1
compare info -c -o +device_count,devs_used,names_using_dev,device_ref_count,devnos_used,devnos_using_dev
compare info -c -o +blkdevs_used lin1 top
compare info -c -o subsystem,vg_name,lv_name,lv_layer
compare info -c -o name,mangled_name,unmangled_name,mangled_uuid,unmangled_uuid
compare info -c -o name_all
compare info -c -o info_all
compare info -c -O -minor
compare info -c -O name -o minor,major
compare info -c --unbuffered
compare info -c -o nosuch
compare info -C lin1
compare deps
compare deps -o blkdevname
compare deps -o devname
compare deps top
compare deps -v top lin1
compare deps nosuch
compare splitname vg0-lv_x-tmeta
compare mangle
compare mangle lin1

compare ls --exec echo

# --json (dmkit only): one line of JSON with the devices in it.
json_ok() {
  out=$(kit "$@" --json) || return 1
  [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || return 1
  case $out in \{*\}) ;; *) return 1 ;; esac
  printf '%s' "$out" | grep -q "$JSON_EXPECT"
}
for c in "ls:\"name\":\"lin1\",\"major\"" \
         "info:\"uuid\":\"LVM-linuuid1\"" \
         "table:\"type\":\"linear\",\"params\":\"7:0 0\"" \
         "status:\"type\":\"thin-pool\"" \
         "deps:\"name\":\"top\",\"deps\":\[{\"major\"" \
         "targets:\"name\":\"thin-pool\",\"version\":\[" \
         "version:\"library\":\"dmkit "; do
  JSON_EXPECT=${c#*:}
  if json_ok "${c%%:*}"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    failed="$failed
  --json ${c%%:*}"
    echo "FAIL: dmsetup ${c%%:*} --json"
    kit "${c%%:*}" --json
  fi
done
# Keys stay hidden in JSON too.
if kit table --json crypt1 | grep -q '"params":"aes-xts-plain64 0000000000000000'; then
  pass=$((pass + 1))
else
  fail=$((fail + 1))
  failed="$failed
  --json table crypt1 (key redaction)"
fi

for s in create create_errors remove busy rename suspend reload message \
         mknodes wait_geometry remove_all mangle dev_dir; do
  scenario "$s"
done

reset_state
echo "dmsetup_compat: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
  echo "dmsetup_compat: failures:$failed"
  exit 1
fi
