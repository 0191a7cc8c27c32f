#!/bin/sh
# Guest test of `dmkit thin ls|dump --pool`: metadata written by the kernel
# (thins, a snapshot, writes, a delete) read from an active pool through a
# metadata snapshot dmkit reserves and releases, compared with thin_ls and
# thin_dump 0.9.0 on the same snapshot reserved with dmsetup. Also: the
# snapshot is released after a run, after an error, and after SIGTERM
# during a read; one someone else holds is refused and left held.
set -u
fail() { echo "thin-pool: $*"; exit 1; }
T=$(mktemp -d)
META=/dev/loop0
POOL=tp-pool

truncate -s 16M "$T/meta.img"
truncate -s 512M "$T/data.img"
losetup $META "$T/meta.img" || fail "losetup meta"
losetup /dev/loop1 "$T/data.img" || fail "losetup data"
dd if=/dev/zero of=$META bs=4096 count=1 conv=fsync 2>/dev/null
# 64 KiB data blocks; no zeroing, so a one-block write maps one block.
dmsetup create $POOL --table "0 1048576 thin-pool 7:0 7:1 128 0 1 skip_block_zeroing" ||
  fail "create pool"
pool_dev=$(dmsetup info -c --noheadings -o major,minor $POOL | tr -d ' ')
for id in 1 2 3; do
  dmsetup message $POOL 0 "create_thin $id" || fail "create_thin $id"
  # dmkit's dmsetup makes the /dev/mapper node itself (no udev here).
  dmkit dmsetup create tp-thin$id --table "0 524288 thin $pool_dev $id" || fail "thin $id"
  [ -b /dev/mapper/tp-thin$id ] || fail "no block device /dev/mapper/tp-thin$id"
done
dd if=/dev/urandom of=/dev/mapper/tp-thin1 bs=64k count=40 conv=fsync 2>/dev/null ||
  fail "write thin1"
# Thins 2 and 3 take turns block by block: each gets every other data block,
# so their mappings do not merge into runs (a long dump, see SIGTERM below).
i=0
while [ $i -lt 1500 ]; do
  dd if=/dev/zero of=/dev/mapper/tp-thin2 bs=64k seek=$i count=1 conv=fsync 2>/dev/null ||
    fail "write thin2 block $i"
  dd if=/dev/zero of=/dev/mapper/tp-thin3 bs=64k seek=$((i * 2)) count=1 conv=fsync 2>/dev/null ||
    fail "write thin3 block $((i * 2))"
  i=$((i + 1))
done
dmsetup suspend tp-thin1 || fail "suspend thin1"
dmsetup message $POOL 0 "create_snap 4 1" || fail "create_snap"
dmsetup resume tp-thin1 || fail "resume thin1"
# Thin 1 diverges from its snapshot: shared and exclusive blocks.
dd if=/dev/urandom of=/dev/mapper/tp-thin1 bs=64k seek=10 count=5 conv=fsync 2>/dev/null ||
  fail "write thin1 after snap"
dmkit dmsetup create tp-thin4 --table "0 262144 thin $pool_dev 4" || fail "thin 4"
[ -b /dev/mapper/tp-thin4 ] || fail "no block device /dev/mapper/tp-thin4"
dd if=/dev/urandom of=/dev/mapper/tp-thin4 bs=64k seek=30 count=3 conv=fsync 2>/dev/null ||
  fail "write thin4"
dmsetup message $POOL 0 "create_thin 5" || fail "create_thin 5"
dmsetup message $POOL 0 "delete 5" || fail "delete 5"
dmsetup message $POOL 0 "create_thin 6" || fail "create_thin 6"
dmkit dmsetup create tp-thin6 --table "0 524288 thin $pool_dev 6" || fail "thin 6"
dd if=/dev/urandom of=/dev/mapper/tp-thin6 bs=64k count=7 conv=fsync 2>/dev/null ||
  fail "write thin6"
dmkit dmsetup remove tp-thin6 || fail "remove thin6"
dmsetup message $POOL 0 "delete 6" || fail "delete 6"
sync

reserve() { dmsetup message $POOL 0 reserve_metadata_snap; }
release() { dmsetup message $POOL 0 release_metadata_snap; }
# The snapshot must be free: reserving succeeds (then released again).
expect_free() {
  reserve 2>/dev/null || fail "$1: the metadata snapshot is still held"
  release || fail "$1: release"
}

FIELDS=DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS,MAPPED_SECTORS,EXCLUSIVE_SECTORS,SHARED_SECTORS,MAPPED_BYTES,EXCLUSIVE_BYTES,SHARED_BYTES,MAPPED,EXCLUSIVE,SHARED,TRANSACTION,CREATE_TIME,SNAP_TIME
reserve || fail "reserve for thin-provisioning-tools"
thin_dump -m $META >"$T/ref.xml" || fail "thin_dump -m"
thin_ls -m $META >"$T/ref.ls" || fail "thin_ls -m"
thin_ls -m -o $FIELDS $META >"$T/ref-all.ls" || fail "thin_ls -m -o"
thin_ls -m --no-headers -o DEV,EXCLUSIVE,SHARED $META >"$T/ref-nh.ls" || fail "thin_ls -m --no-headers"
release || fail "release after thin-provisioning-tools"
grep -q 'dev_id="6"' "$T/ref.xml" && fail "deleted thin 6 still in thin_dump's output"
grep -q 'dev_id="4"' "$T/ref.xml" || fail "snapshot 4 missing from thin_dump's output"
grep -q 'dev_id="1" mapped_blocks="40"' "$T/ref.xml" || fail "thin 1 does not map 40 blocks"

dmkit thin dump --pool $POOL $META >"$T/got.xml" || fail "dmkit thin dump --pool"
expect_free "after thin dump --pool"
cmp "$T/ref.xml" "$T/got.xml" || { diff "$T/ref.xml" "$T/got.xml" | head -20; fail "dump differs"; }
dmkit thin ls --pool $POOL $META >"$T/got.ls" || fail "dmkit thin ls --pool"
expect_free "after thin ls --pool"
cmp "$T/ref.ls" "$T/got.ls" || { diff "$T/ref.ls" "$T/got.ls"; fail "ls differs"; }
dmkit thin ls -m --pool $POOL -o $FIELDS $META >"$T/got-all.ls" || fail "dmkit thin ls --pool -o"
cmp "$T/ref-all.ls" "$T/got-all.ls" || { diff "$T/ref-all.ls" "$T/got-all.ls"; fail "ls -o differs"; }
dmkit thin ls --pool $POOL --no-headers -o DEV,EXCLUSIVE,SHARED $META >"$T/got-nh.ls" ||
  fail "dmkit thin ls --pool --no-headers"
cmp "$T/ref-nh.ls" "$T/got-nh.ls" || { diff "$T/ref-nh.ls" "$T/got-nh.ls"; fail "ls --no-headers differs"; }
expect_free "after the ls runs"
cat "$T/got-all.ls"
echo "thin-pool: ls and dump --pool match thin_ls/thin_dump -m ($(wc -c <"$T/got.xml") bytes of XML)"

# Not the pool's metadata device: refused before anything is reserved.
dmkit thin ls --pool $POOL /dev/loop1 2>"$T/wrong.err" && fail "ls --pool on the data device succeeded"
grep -q "not the metadata device" "$T/wrong.err" || { cat "$T/wrong.err"; fail "wrong device: unclear error"; }
expect_free "after the wrong device"
dmkit thin ls --pool tp-thin1 $META 2>"$T/notpool.err" && fail "ls --pool on a thin succeeded"
cat "$T/notpool.err"

# Someone else's snapshot: one line saying so, and it stays held.
reserve || fail "reserve (someone else's)"
dmkit thin dump --pool $POOL $META >/dev/null 2>"$T/held.err" && fail "dump --pool with a snapshot held succeeded"
[ "$(wc -l <"$T/held.err")" = 1 ] || { cat "$T/held.err"; fail "not one line"; }
grep -q "already holds a metadata snapshot" "$T/held.err" || { cat "$T/held.err"; fail "held: unclear error"; }
cat "$T/held.err"
reserve 2>/dev/null && fail "dmkit released someone else's snapshot"
release || fail "release of our own snapshot (dmkit released it?)"
expect_free "after someone else's snapshot"

# SIGTERM while the snapshot is held: dmkit blocks writing to a FIFO
# nobody reads yet (the dump is longer than its buffer and the pipe's).
# The signal waits until the snapshot is released, then kills it.
size=$(wc -c <"$T/got.xml")
if [ "$size" -le 163840 ]; then
  echo "thin-pool: SKIP SIGTERM part: dump of $size bytes fits the buffers"
else
  mkfifo "$T/fifo"
  dmkit thin dump --pool $POOL $META >"$T/fifo" &
  pid=$!
  exec 3<"$T/fifo"
  tries=0
  until grep -q pipe "/proc/$pid/wchan" 2>/dev/null; do
    tries=$((tries + 1))
    [ $tries -lt 300 ] || { cat "/proc/$pid/wchan"; fail "dmkit never blocked on the pipe"; }
    usleep 100000
  done
  reserve 2>/dev/null && fail "the snapshot is not held during the read"
  kill -TERM $pid
  usleep 500000
  kill -0 $pid 2>/dev/null || fail "dmkit died of SIGTERM with the snapshot held"
  cat <&3 >"$T/sig.xml"
  exec 3<&-
  wait $pid
  rc=$?
  [ $rc = 143 ] || fail "dmkit exited $rc after SIGTERM, not 143"
  cmp "$T/ref.xml" "$T/sig.xml" || fail "the dump finished under SIGTERM differs"
  expect_free "after SIGTERM"
  echo "thin-pool: SIGTERM during the read: released, then killed (143)"
fi

for id in 1 2 3 4; do dmkit dmsetup remove tp-thin$id || fail "remove thin$id"; done
dmsetup remove $POOL || fail "remove pool"
losetup -d /dev/loop0
losetup -d /dev/loop1
echo "thin-pool: ok"
