#!/bin/sh
# `dmkit docker ls --orphans`, `gc` and `mount --device-id` on a real
# kernel, on a Docker loop-lvm root (docker_root.sh) whose pool the kernel
# wrote:
#
# 1. The pool holds Docker's devices (base, a container on ext4, one on
#    XFS, one whose ext4 is smaller than its device, an -init layer, the
#    device of an open transaction) and three thin
#    devices no Docker metadata references (one with data, one empty, one
#    with a few blocks); one metadata file names a device the pool lacks.
# 2. `ls --orphans` finds exactly those, with thin_ls 0.9.0's mapped bytes
#    and creation times (read from the same pool through a metadata
#    snapshot), and releases its own snapshot.
# 3. `gc --dry-run` changes nothing; `gc` refuses while an orphan is active
#    or a metadata file is unreadable, changing nothing.
# 4. `gc` deletes the orphans: thin_ls lists only Docker's devices, and
#    the pool's used data blocks fall.
# 5. The metadata directory is deleted: `ls` lists the pool's thin devices;
#    `mount --device-id N DIR` mounts each container's device (ext4, XFS)
#    read-only at its filesystem's size, a file written earlier reads
#    back; `umount DIR` removes the device; --rw; refusals roll back.
set -u

ROOT=/home/docker
D="/bin/dmkit docker --root $ROOT"
checks=0
current_step=setup
# docker_root_init, meta, thin, container
. /usr/lib/dmkit-tests/docker_root.sh
# step, must, must_refuse, wait_for
. /usr/lib/dmkit-tests/guest_checks.sh

fail() { echo "orphans: FAIL in $current_step: $*"; exit 1; }
ok() { checks=$((checks + 1)); echo "orphans: ok: $*"; }
active() { dmsetup info "$1" >/dev/null 2>&1; }
data_used() { dmsetup status $POOL | cut -d' ' -f6 | cut -d/ -f1; }
# thin_ls 0.9.0 on the pool, through a metadata snapshot it does not own.
pool_ls() {
  dmsetup message $POOL 0 reserve_metadata_snap || fail "reserve for thin_ls"
  thin_ls -m --no-headers -o "$1" /dev/loop1 | sed 's/^ *//; s/ *$//; s/  */ /g'
  dmsetup message $POOL 0 release_metadata_snap || fail "release after thin_ls"
}
pool_ids() { pool_ls DEV | tr '\n' ' '; }
# The snapshot dmkit reserved is released: reserving again succeeds.
expect_free() {
  dmsetup message $POOL 0 reserve_metadata_snap 2>/dev/null ||
    fail "the metadata snapshot is still held $1"
  dmsetup message $POOL 0 release_metadata_snap || fail "release ($1)"
}

C1=f34cee76e36a1c3b0d1ab5c1e2ac36ab0b6d84ea9c0f69d4daf01e1c0a4fa2b1  # web
M1=dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824
C2=e57a6c0b1f2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f  # batch
M2=e85dd793a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c
M3=77aa5e1e7e0000000000000000000000000000000000000000000000000000d3  # gone
M4=5b0c4a7d9e8f00000000000000000000000000000000000000000000000000d4  # pending
C5=9c0ffee000000000000000000000000000000000000000000000000000000c05  # scratch
M5=3c5c4a7c4e0000000000000000000000000000000000000000000000000000d5
EXT_SIZE=67108864    # 64 MiB
XFS_SIZE=335544320   # 320 MiB: the smallest XFS mkfs.xfs makes is 300 MiB

step "1. A loop-lvm pool with Docker's devices and three orphans"
mkdir -p $ROOT /mnt/r /mnt/s
mount -t tmpfs -o size=600m tmpfs $ROOT || fail "tmpfs on $ROOT"
docker_root_init || fail "Docker's directories"
truncate -s 512M $DATA
truncate -s 16M $META
losetup /dev/loop0 $DATA && losetup /dev/loop1 $META || fail losetup
dmsetup create $POOL --table \
  "0 1048576 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ||
  fail "creating the pool"
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)
# base: ext4, with a file every snapshot of it has.
dmsetup message $POOL 0 "create_thin 1" || fail "create_thin 1"
thin $PREFIX-base 1 $EXT_SIZE && mkfs.ext4 -q /dev/mapper/$PREFIX-base ||
  fail "base"
mount -t ext4 /dev/mapper/$PREFIX-base /mnt/r && mkdir /mnt/r/rootfs &&
  echo base >/mnt/r/rootfs/base.txt && umount /mnt/r || fail "base's file"
dmsetup remove $PREFIX-base
meta base '{"device_id":1,"size":'$EXT_SIZE',"transaction_id":1,"initialized":true,"deleted":false}'
# web: base's -init layer (9), then the container (10) with a file of its own.
dmsetup message $POOL 0 "create_snap 9 1" || fail "create_snap 9"
meta $M1-init '{"device_id":9,"size":'$EXT_SIZE',"transaction_id":2,"initialized":false,"deleted":false}'
dmsetup message $POOL 0 "create_snap 10 9" || fail "create_snap 10"
container web $C1 $M1 10 $EXT_SIZE
thin $PREFIX-$M1 10 $EXT_SIZE && mount -t ext4 /dev/mapper/$PREFIX-$M1 /mnt/r ||
  fail "web's device"
echo "hello from web" >/mnt/r/rootfs/hello.txt && umount /mnt/r ||
  fail "web's file"
dmsetup remove $PREFIX-$M1
# batch: XFS on a thin device of its own (12).
dmsetup message $POOL 0 "create_thin 12" || fail "create_thin 12"
thin $PREFIX-$M2 12 $XFS_SIZE && mkfs.xfs -q /dev/mapper/$PREFIX-$M2 ||
  fail "batch's device"
mount -t xfs /dev/mapper/$PREFIX-$M2 /mnt/r && mkdir /mnt/r/rootfs &&
  echo "batch on xfs" >/mnt/r/rootfs/batch.txt && umount /mnt/r ||
  fail "batch's file"
dmsetup remove $PREFIX-$M2
container batch $C2 $M2 12 $XFS_SIZE
# scratch: ext4 of 48 MiB on a device of 64 MiB (13), whose mapped blocks
# end before the filesystem does (fstrim gives the free blocks at its end
# back to the pool).
dmsetup message $POOL 0 "create_thin 13" || fail "create_thin 13"
thin $PREFIX-$M5 13 $EXT_SIZE &&
  mkfs.ext4 -q -b 4096 /dev/mapper/$PREFIX-$M5 12288 || fail "scratch's device"
mount -t ext4 /dev/mapper/$PREFIX-$M5 /mnt/r && mkdir /mnt/r/rootfs &&
  echo small >/mnt/r/rootfs/small.txt && sync && fstrim /mnt/r &&
  umount /mnt/r || fail "scratch's file"
dmsetup remove $PREFIX-$M5
container scratch $C5 $M5 13 $EXT_SIZE
# An open transaction: the daemon stopped while creating device 11, whose
# metadata file it had not written yet.
dmsetup message $POOL 0 "create_thin 11" || fail "create_thin 11"
printf '{"open_transaction_id":7,"device_hash":"%s","device_id":11}' $M4 \
  >$ROOT/devicemapper/metadata/transaction-metadata
# Metadata naming a device the pool does not have.
meta $M3 '{"device_id":30,"size":'$EXT_SIZE',"transaction_id":3,"initialized":false,"deleted":false}'
meta deviceset-metadata '{"next_device_id":31,"BaseDeviceUUID":"","BaseDeviceFilesystem":"ext4"}'
# The orphans: 20 with 4 blocks of data, 21 empty, 22 a snapshot of web
# with one block of its own.
for id in 20 21; do
  dmsetup message $POOL 0 "create_thin $id" || fail "create_thin $id"
done
dmsetup message $POOL 0 "create_snap 22 10" || fail "create_snap 22"
thin orphan-20 20 $EXT_SIZE && thin orphan-22 22 $EXT_SIZE || fail "orphans"
dd if=/dev/urandom of=/dev/mapper/orphan-20 bs=64k count=4 oflag=direct 2>/dev/null &&
  dd if=/dev/urandom of=/dev/mapper/orphan-22 bs=64k seek=900 count=1 \
    oflag=direct 2>/dev/null || fail "writing the orphans"
dmsetup remove orphan-20 && dmsetup remove orphan-22 || fail "removing them"
echo "pool: $(dmsetup status $POOL)"
[ "$(pool_ids)" = "1 9 10 11 12 13 20 21 22 " ] || fail "pool devices: $(pool_ids)"
ok "the pool has Docker's devices 1 9 10 11 12 13 and orphans 20 21 22"

step "2. ls --orphans"
must $D ls --orphans
rows=$(printf '%s\n' "$out" | awk '$1 ~ /^[0-9]+$/ && $NF == "inactive" { print $1 }' | tr '\n' ' ')
[ "$rows" = "20 21 22 " ] || fail "orphans listed: $rows"
ok "ls --orphans lists 20 21 22 and none of Docker's"
printf '%s\n' "$out" | grep -q -E "^30 +64\.0 MiB +$ROOT/devicemapper/metadata/$M3\$" ||
  fail "the metadata naming device 30 is not listed"
ok "ls --orphans lists the metadata naming device 30, which the pool lacks"
expect_free "after ls --orphans"
must $D ls --orphans --json
json=$out
compared=0
for line in $(pool_ls DEV,MAPPED_BYTES,CREATE_TIME | tr ' ' ,); do
  set -- $(echo "$line" | tr , ' ')
  case $1 in 20 | 21 | 22) ;; *) continue ;; esac
  want="{\"device_id\":$1,\"mapped_bytes\":$2,\"creation_time\":$3,"
  case $json in *"$want"*) ;; *) fail "ls --orphans --json lacks thin_ls's $want" ;; esac
  compared=$((compared + 1))
done
[ $compared = 3 ] || fail "thin_ls listed $compared of the orphans"
case $json in *'"device_id":20,"mapped_bytes":262144,'*) ;;
  *) fail "orphan 20 does not have its 4 blocks" ;; esac
ok "mapped bytes and creation times are thin_ls's"

step "3. What gc does not do"
before="$(pool_ids) $(data_used)"
must $D gc --dry-run
for id in 20 21 22; do
  case $out in *"would delete thin device $id ("*) ;; *) fail "dry run: no $id" ;; esac
done
[ "$(pool_ids) $(data_used)" = "$before" ] || fail "gc --dry-run changed the pool"
ok "gc --dry-run names 20 21 22 and changes nothing"
thin stray 21 $EXT_SIZE || fail "activating orphan 21"
must_refuse "refusing to delete thin device 21: it is active as stray" \
  $D gc
dmsetup remove stray
printf '{"device_id":' >$ROOT/devicemapper/metadata/$M4
must_refuse "Docker's metadata is incomplete" $D gc
rm $ROOT/devicemapper/metadata/$M4
mv $ROOT/devicemapper/metadata/base /tmp/base.json
must_refuse "no base device" $D gc
mv /tmp/base.json $ROOT/devicemapper/metadata/base
[ "$(pool_ids) $(data_used)" = "$before" ] || fail "a refusal changed the pool"
ok "the refusals changed nothing"
expect_free "after the refusals"

step "4. gc"
used=$(data_used)
must $D gc
[ "$(printf '%s\n' "$out" | grep -c '^deleted thin device ')" = 3 ] ||
  fail "gc did not report three deletions"
case $out in *"deleted thin device 20 (256.0 KiB mapped"*) ;; *) fail "no line for 20" ;; esac
case $out in *"deleted 3 thin devices from $POOL"*) ;; *) fail "no summary" ;; esac
[ "$(pool_ids)" = "1 9 10 11 12 13 " ] || fail "pool devices after gc: $(pool_ids)"
[ "$(data_used)" -lt "$used" ] || fail "data blocks used: $used before, $(data_used) after"
ok "gc deleted 20 21 22: thin_ls lists 1 9 10 11 12 13; data blocks used $used -> $(data_used)"
must $D ls --orphans
case $out in *"no orphaned thin devices in $POOL"*) ;; *) fail "orphans left" ;; esac
must $D gc
case $out in "no orphaned thin devices in $POOL") ;; *) fail "second gc: $out" ;; esac
expect_free "after gc"

step "5. Docker's metadata directory is lost"
rm -rf $ROOT/devicemapper/metadata
must $D ls
case $out in *"Docker's metadata is missing or unreadable"*) ;; *) fail "ls says nothing" ;; esac
rows=$(printf '%s\n' "$out" | awk '$1 ~ /^[0-9]+$/ && $NF == "-" { print $1 }' | tr '\n' ' ')
[ "$rows" = "1 9 10 11 12 13 " ] || fail "ls lists the pool's devices as [$rows]"
ok "ls lists the pool's thin devices 1 9 10 11 12 13"
expect_free "after ls"

must $D mount --device-id 10 /mnt/r
NAME=$PREFIX-thin-10
[ "$(dmsetup table $NAME)" = "0 $((EXT_SIZE / 512)) thin $POOLDEV 10" ] ||
  fail "table: $(dmsetup table $NAME)"
dmsetup info $NAME | grep -q READ-ONLY || fail "not read-only"
grep -q " /mnt/r ext4 ro" /proc/mounts || fail "not mounted ro"
[ "$(cat /mnt/r/rootfs/hello.txt)" = "hello from web" ] || fail "hello.txt"
[ "$(cat /mnt/r/rootfs/base.txt)" = base ] || fail "base.txt"
ok "mount --device-id 10: ext4 of 64 MiB read-only, web's file is there"
must_refuse "already active as $NAME" $D mount --device-id 10 /mnt/s
must_refuse "already in use" $D mount --device-id 12 /mnt/r
must $D umount /mnt/r
active $NAME && fail "$NAME still active after umount"
[ -e /dev/mapper/$NAME ] && fail "node left behind"
grep -q " /mnt/r " /proc/mounts && fail "still mounted"
ok "umount /mnt/r removed $NAME and its node"

must $D mount --device-id 12 /mnt/r
[ "$(dmsetup table $PREFIX-thin-12)" = "0 $((XFS_SIZE / 512)) thin $POOLDEV 12" ] ||
  fail "table: $(dmsetup table $PREFIX-thin-12)"
grep -q " /mnt/r xfs ro,.*nouuid" /proc/mounts || fail "not mounted ro,nouuid"
[ "$(cat /mnt/r/rootfs/batch.txt)" = "batch on xfs" ] || fail "batch.txt"
must $D umount /mnt/r
active $PREFIX-thin-12 && fail "thin-12 still active"
ok "mount --device-id 12: XFS of 320 MiB, batch's file is there; umount removed it"

must $D mount --device-id 13 /mnt/r
[ "$(dmsetup table $PREFIX-thin-13)" = "0 98304 thin $POOLDEV 13" ] ||
  fail "table: $(dmsetup table $PREFIX-thin-13)"
case $out in *"superblock: 48.0 MiB (the mapped blocks reach 48.0 MiB)"*)
  fail "the mapped blocks reach the filesystem's end: the reload is not shown" ;;
  *"superblock: 48.0 MiB (the mapped blocks reach "*) ;;
  *) fail "no sizing line" ;; esac
[ "$(cat /mnt/r/rootfs/small.txt)" = small ] || fail "small.txt"
must $D umount /mnt/r
ok "mount --device-id 13: reloaded from its mapped extent to its 48 MiB filesystem"

must $D mount --rw --device-id 10 /mnt/r
echo saved >/mnt/r/rootfs/saved.txt || fail "write on --rw"
must $D umount /mnt/r
must $D mount --device-id=10 /mnt/r
[ "$(cat /mnt/r/rootfs/saved.txt)" = saved ] || fail "saved.txt"
must $D umount /mnt/r
ok "--rw writes; the file is there at the next mount"

must_refuse "$POOL has no thin device 77" $D mount --device-id 77 /mnt/r
must_refuse "maps no blocks" $D mount --device-id 11 /mnt/r
dmsetup message $POOL 0 "create_thin 40" || fail "create_thin 40"
thin junk 40 $EXT_SIZE && dd if=/dev/urandom of=/dev/mapper/junk bs=64k count=1 \
  oflag=direct 2>/dev/null && dmsetup remove junk || fail "thin 40"
must_refuse "thin device 40: " $D mount --device-id 40 /mnt/r
active $PREFIX-thin-40 && fail "a failed mount left the device"
[ -e /dev/mapper/$PREFIX-thin-40 ] && fail "a failed mount left the node"
[ "$(dmsetup ls | grep -c thin-)" = 0 ] || fail "devices left: $(dmsetup ls)"
ok "refusals and a failed mount leave nothing active"
expect_free "at the end"

dmsetup remove $POOL && losetup -d /dev/loop1 && losetup -d /dev/loop0 ||
  fail "cleanup"
echo "orphans: all $checks checks passed"
