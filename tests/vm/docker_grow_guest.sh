#!/bin/sh
# `dmkit docker pool --grow-data / --grow-metadata` on a real kernel, on a
# Docker loop-lvm root (docker_root.sh):
#
# 1. The pool (Docker's table over two loop devices) runs out of data space
#    under a container's writes: the kernel holds them back (Docker's pool
#    queues; no_space_timeout 0 keeps them queued instead of failing them
#    after 60 s), so the runtime's `mkdir rootfs/.pivot_root...` plus its
#    first write never finish.
# 2. `pool --grow-data` while the pool is in use: the file, the loop device
#    and the pool's table grow, the held writes complete, and a new
#    `.pivot_root` directory can be made and written.
# 3. `pool --grow-metadata`: the pool's status shows the larger metadata.
# 4. Refusals (shrink, the same size, no whole data block, not Docker's
#    files): one line each, nothing changed.
# 5. An inactive pool: only the files grow; `pool --activate` builds the pool
#    with the new sizes.
set -u

DMKIT=/bin/dmkit
ROOT=/home/docker
checks=0
# docker_root_init, meta, thin, container
. /usr/lib/dmkit-tests/docker_root.sh
# step, must, must_refuse, wait_for
. /usr/lib/dmkit-tests/guest_checks.sh
WAIT_TENTHS=1200  # wait_for: up to 120 s

fail() { echo "grow: FAIL: $*"; exit 1; }
ok() { checks=$((checks + 1)); echo "grow: ok: $*"; }
# Field N of the pool's status ("<tid> <meta used/total> <data used/total> ...").
pool_field() { dmsetup status $POOL | cut -d' ' -f$(($1 + 3)); }
out_of_space() { [ "$(pool_field 5)" = out_of_data_space ]; }
size_of() { stat -c %s "$1"; }
loop_bytes() { echo $(($(cat /sys/block/$1/size) * 512)); }

C1=f34cee76e36a1c3b0d1ab5c1e2ac36ab0b6d84ea9c0f69d4daf01e1c0a4fa2b1
M1=dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824
THIN_SIZE=268435456  # 256 MiB of ext4 on a 32 MiB pool

step "1. A loop-lvm pool runs out of data space under a container"
mkdir -p $ROOT
mount -t tmpfs -o size=512m tmpfs $ROOT || fail "tmpfs on $ROOT"
docker_root_init || fail "Docker's directories"
truncate -s 32M $DATA
truncate -s 4M $META
losetup /dev/loop0 $DATA && losetup /dev/loop1 $META || fail losetup
dmsetup create $POOL --table \
  "0 65536 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ||
  fail "creating the pool"
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)
dmsetup message $POOL 0 "create_thin 7" || fail "create_thin 7"
container builder $C1 $M1 7 $THIN_SIZE
thin $PREFIX-$M1 7 $THIN_SIZE || fail "container device"
mkfs.ext4 -q /dev/mapper/$PREFIX-$M1 || fail "mkfs.ext4"
MNT=$ROOT/devicemapper/mnt/$M1
mkdir -p $MNT && mount -t ext4 /dev/mapper/$PREFIX-$M1 $MNT || fail mount
mkdir -p $MNT/rootfs && printf '%s' $M1 >$MNT/id && sync
echo "pool: $(dmsetup status $POOL)"

echo 0 >/sys/module/dm_thin_pool/parameters/no_space_timeout
# 48 MiB of direct writes into a pool that has under 32 MiB left.
dd if=/dev/zero of=$MNT/rootfs/big bs=1M count=48 oflag=direct 2>/tmp/dd.err &
filler=$!
wait_for "the pool to run out of data space" out_of_space
echo "pool: $(dmsetup status $POOL)"
used=$(pool_field 3)
[ "${used%/*}" = "${used#*/}" ] || fail "out_of_data_space with $used blocks used"
ok "the pool is out of data space: $used data blocks used"
# What the runtime does when a container starts.
(mkdir $MNT/rootfs/.pivot_root492082001 &&
  dd if=/dev/zero of=$MNT/rootfs/.pivot_root492082001/f bs=64k count=1 \
    oflag=direct 2>/dev/null
  echo $? >/tmp/pivot.rc) &
pivot=$!
sleep 3
[ -e /tmp/pivot.rc ] && fail "the write into .pivot_root finished on a full pool"
kill -0 $filler 2>/dev/null || fail "dd finished on a full pool"
ok "the container's writes are held back"
must $DMKIT docker pool --root $ROOT
case $out in *"out of data space"*) ;; *) fail "pool does not warn" ;; esac

step "2. --grow-data while the pool is in use"
must $DMKIT docker pool --root $ROOT --grow-data 128M
case $out in *"grew data file $DATA: 32.0 MiB (33554432 bytes) -> 128.0 MiB (134217728 bytes)"*) ;;
  *) fail "no file line" ;; esac
case $out in *"refreshed /dev/loop0: 128.0 MiB"*) ;; *) fail "no loop line" ;; esac
case $out in *"free blocks before: 0/512 data"*) ;; *) fail "free blocks before" ;; esac
case $out in *"free blocks after:  "*"/2048 data"*) ;; *) fail "free blocks after" ;; esac
case $out in *warning*) fail "a warning" ;; esac
[ "$(size_of $DATA)" = 134217728 ] || fail "data file is $(size_of $DATA) bytes"
[ "$(loop_bytes loop0)" = 134217728 ] || fail "loop0 not refreshed"
table=$(dmsetup table $POOL | sed 's/ *$//')
[ "$table" = "0 262144 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ] ||
  fail "pool table: $table"
ok "file, loop device and table grew: $table"
wait $filler || { cat /tmp/dd.err; fail "the held dd failed after the grow"; }
wait $pivot
[ "$(cat /tmp/pivot.rc)" = 0 ] || fail "the held .pivot_root write failed"
ok "the held writes completed"
mkdir $MNT/rootfs/.pivot_root77 &&
  dd if=/dev/zero of=$MNT/rootfs/.pivot_root77/f bs=64k count=4 \
    oflag=direct 2>/dev/null || fail "mkdir .pivot_root after the grow"
ok "mkdir .pivot_root and a write work again"
[ "$(pool_field 5)" = rw ] || fail "pool mode $(pool_field 5)"
used=$(pool_field 3)
[ "${used#*/}" = 2048 ] && [ "${used%/*}" -lt 2048 ] || fail "data blocks $used"
ok "the pool is rw with $used data blocks used"

step "3. --grow-metadata"
[ "$(pool_field 2 | cut -d/ -f2)" = 1024 ] || fail "metadata is not 1024 blocks"
must $DMKIT docker pool --root $ROOT --grow-metadata 16M
[ "$(size_of $META)" = 16777216 ] || fail "metadata file"
[ "$(loop_bytes loop1)" = 16777216 ] || fail "loop1 not refreshed"
[ "$(pool_field 2 | cut -d/ -f2)" = 4096 ] || fail "pool metadata: $(pool_field 2)"
ok "the pool has 4096 metadata blocks: $(pool_field 2)"
case $out in *"free blocks after:  "*"/4096 metadata"*) ;; *) fail "report" ;; esac
must $DMKIT docker pool --root $ROOT --grow-data 192m --grow-metadata 20M
[ "$(pool_field 2 | cut -d/ -f2)" = 5120 ] || fail "pool metadata: $(pool_field 2)"
[ "$(pool_field 3 | cut -d/ -f2)" = 3072 ] || fail "pool data: $(pool_field 3)"
ok "both at once: $(pool_field 2) metadata, $(pool_field 3) data"

step "4. Refusals"
before="$(dmsetup table $POOL) $(size_of $DATA) $(size_of $META)"
must_refuse "refusing to shrink the data file $DATA, which is 192.0 MiB" \
  $DMKIT docker pool --root $ROOT --grow-data 64M
must_refuse "nothing to grow in the data file $DATA, which is 192.0 MiB" \
  $DMKIT docker pool --root $ROOT --grow-data 192M
must_refuse "refusing to shrink the metadata file" \
  $DMKIT docker pool --root $ROOT --grow-metadata 4M
must_refuse "adds no whole data block" \
  $DMKIT docker pool --root $ROOT --grow-data $((192 * 1048576 + 4096))
must_refuse "the most the kernel uses" \
  $DMKIT docker pool --root $ROOT --grow-metadata 16G
out=$($DMKIT docker pool --root $ROOT --grow-data 1.5G 2>&1) &&
  fail "--grow-data 1.5G was taken"
case $out in "docker: --grow-data: invalid size '1.5G'"*) ok "refused: --grow-data 1.5G" ;;
  *) fail "--grow-data 1.5G: $out" ;; esac
# A pool that is not on these files (--pool names another one).
truncate -s 8M /tmp/m2 /tmp/d2 && losetup /dev/loop2 /tmp/m2 &&
  losetup /dev/loop3 /tmp/d2 || fail "losetup loop2, loop3"
dmsetup create other-pool --table "0 16384 thin-pool 7:2 7:3 128 0" ||
  fail "other-pool"
must_refuse "its data device 7:3 is not a loop device over $DATA" \
  $DMKIT docker pool --root $ROOT --pool other-pool --grow-data 256M
dmsetup remove other-pool && losetup -d /dev/loop2 && losetup -d /dev/loop3
after="$(dmsetup table $POOL) $(size_of $DATA) $(size_of $META)"
[ "$before" = "$after" ] || fail "a refusal changed something: $after"
ok "the refusals changed nothing"

step "5. An inactive pool"
umount $MNT && dmsetup remove $PREFIX-$M1 && dmsetup remove $POOL ||
  fail "stopping"
losetup -d /dev/loop1; losetup -d /dev/loop0
must $DMKIT docker pool --root $ROOT --grow-data 256M
case $out in *"is not active"*) ;; *) fail "does not say the pool is inactive" ;; esac
[ "$(size_of $DATA)" = 268435456 ] || fail "data file"
must $DMKIT docker pool --root $ROOT --activate
[ "$(pool_field 3 | cut -d/ -f2)" = 4096 ] || fail "activated pool: $(pool_field 3)"
[ "$(pool_field 2 | cut -d/ -f2)" = 5120 ] || fail "activated pool: $(pool_field 2)"
ok "pool --activate built the pool with the grown file: $(pool_field 3) data"
# The thin device's data survived everything.
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)
thin $PREFIX-$M1 7 $THIN_SIZE && mount -t ext4 /dev/mapper/$PREFIX-$M1 $MNT ||
  fail "container device after the grows"
[ "$(size_of $MNT/rootfs/big)" = 50331648 ] || fail "big is $(size_of $MNT/rootfs/big) bytes"
[ -d $MNT/rootfs/.pivot_root77 ] || fail ".pivot_root77 is gone"
ok "the container's files are all there"
umount $MNT && dmsetup remove $PREFIX-$M1 && dmsetup remove $POOL

echo "grow: all $checks checks passed"
