#!/bin/sh
# The incident of shared/mission/incident.md, replayed on a real kernel.
#
# 1. Docker 1.10 (loop-lvm, -g /home/docker) as the report describes it: the
#    pool docker-MAJ:MIN-INO-pool with Docker's table, a base device with
#    XFS, container devices made as snapshots of it (so they share its XFS
#    UUID), Docker's metadata, layerdb and config.v2.json files. One
#    container's filesystem is filled until the runtime's
#    `mkdir rootfs/.pivot_root...` fails with ENOSPC: the incident.
# 2. The daemon stops: every device, the pool and the loop devices go away.
# 3. The recovery, exactly as a user runs it: dmkit docker pool --activate,
#    df (the full one first), inspect, mount, delete what filled it, umount;
#    then checks that only that device was touched.
# 4. The refusals: a deleted device, a mountpoint in use, a thin id active
#    under another name, a device dmkit did not activate, a device still
#    held from another mount namespace (umount then changes nothing); and
#    the rollback of a failed mount.
# 5. The daemon's private mount namespace (unshare -m): `ls` says where a
#    container device is mounted that this shell cannot see.
# 6. A pool formatted with a non-default block size is re-created with the
#    block size from its metadata superblock.
set -u

DMKIT=/bin/dmkit
ROOT=/home/docker
checks=0
# docker_root_init, meta, thin, container
. /usr/lib/dmkit-tests/docker_root.sh
# step, must, must_fail (refusals here may be more than one line), wait_for
. /usr/lib/dmkit-tests/guest_checks.sh

current_step="setup"
fail() {
  echo
  echo "incident: FAIL in step $current_step: $*"
  echo "incident: $checks checks had passed before it"
  exit 1
}
ok() { checks=$((checks + 1)); echo "incident: ok: $*"; }
# The recovery's steps, as headings in the log under step's chapters.
substep() { current_step=$1; echo; echo "------------------- $*"; }
# Runs a command as a user would type it, showing it and its output.
run() { echo "# $*"; "$@"; }
active() { dmsetup info "$1" >/dev/null 2>&1; }
other_ns() {
  [ -e /proc/$1/ns/mnt ] &&
    [ "$(readlink /proc/$1/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
    [ "$(cat /proc/$1/comm)" = sleep ]
}
dm_uuid() { dmsetup info -c --noheadings -o uuid "$1" 2>/dev/null; }
# Lines of `dmsetup ls` other than the given pool, i.e. thin devices.
thin_count() { dmsetup ls 2>/dev/null | grep -vc -e "^$1" -e "No devices"; }

# ---------------------------------------------------------------- ids
C1=f34cee76e36a1c3b0d1ab5c1e2ac36ab0b6d84ea9c0f69d4daf01e1c0a4fa2b1  # kubesql-server
M1=dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824
C2=e57a6c0b1f2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f  # web
M2=e85dd793a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c
C3=0a11d000000000000000000000000000000000000000000000000000000000c3  # old
M3=77aa5e1e7e0000000000000000000000000000000000000000000000000000d3
C4=f3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f  # batch
M4=5b0c4a7d9e8f00000000000000000000000000000000000000000000000000d4
C5=9c0ffee000000000000000000000000000000000000000000000000000000c05  # scratch
M5=3c5c4a7c4e0000000000000000000000000000000000000000000000000000d5
XFS_SIZE=335544320   # 320 MiB: the smallest XFS mkfs.xfs makes is 300 MiB
EXT_SIZE=67108864    # 64 MiB

echo "The incident replayed: a container's thin device fills up and it cannot"
echo "start (1); the daemon stops (2); the recovery with dmkit, step by step (3);"
echo "then what dmkit refuses to do (4), a mount in the daemon's own namespace (5)"
echo "and a pool with a non-default block size (6)."

# ---------------------------------------------------------------- 1
step "1. The incident: Docker 1.10 (loop-lvm, -g $ROOT), a container's thin device fills up"
mkdir -p $ROOT /mnt /etc/docker
mount -t tmpfs -o size=1400m tmpfs $ROOT || fail "tmpfs on $ROOT"
docker_root_init || fail "Docker's directories"
# The daemon's configuration, where dmkit looks when no daemon runs.
printf '{"graph": "%s", "storage-driver": "devicemapper"}\n' $ROOT \
  >/etc/docker/daemon.json

# The pool name: docker_root_init computes it independently of dmkit.
echo "prefix $PREFIX"

truncate -s 2G $DATA
truncate -s 64M $META
DATA_SECTORS=$((2 * 1024 * 1024 * 2))
# Docker attaches data first, then metadata: "thin-pool 7:1 7:0".
losetup /dev/loop0 $DATA && losetup /dev/loop1 $META || fail losetup
run dmsetup create $POOL --table \
  "0 $DATA_SECTORS thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ||
  fail "creating the pool"
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)
echo "pool $POOL is $POOLDEV"

# base: the filesystem every container snapshot starts from.
dmsetup message $POOL 0 "create_thin 1" || fail "create_thin 1"
thin $PREFIX-base 1 $XFS_SIZE || fail "base device"
mkfs.xfs -q /dev/mapper/$PREFIX-base || fail "mkfs.xfs base"
mkdir -p /tmp/m && mount -t xfs /dev/mapper/$PREFIX-base /tmp/m
mkdir -p /tmp/m/rootfs/etc /tmp/m/rootfs/var/log/kubesql /tmp/m/rootfs/bin
echo kubesql >/tmp/m/rootfs/etc/hostname
umount /tmp/m
dmsetup remove $PREFIX-base
meta base '{"device_id":1,"size":'$XFS_SIZE',"transaction_id":1,"initialized":true,"deleted":false}'

# kubesql-server: a snapshot of base (the -init layer in between, as Docker
# makes it), then filled to ENOSPC.
dmsetup message $POOL 0 "create_snap 34708 1" || fail "create_snap 34708"
meta $M1-init '{"device_id":34708,"size":'$XFS_SIZE',"transaction_id":844169,"initialized":false,"deleted":false}'
dmsetup message $POOL 0 "create_snap 34709 34708" || fail "create_snap 34709"
container kubesql-server $C1 $M1 34709 $XFS_SIZE
# batch: another snapshot of base, so it shares base's XFS UUID.
dmsetup message $POOL 0 "create_snap 34730 1" || fail "create_snap 34730"
container batch $C4 $M4 34730 $XFS_SIZE
# web: ext4 on a thin device of its own.
dmsetup message $POOL 0 "create_thin 34719" || fail "create_thin 34719"
thin $PREFIX-$M2 34719 $EXT_SIZE && mkfs.ext4 -q /dev/mapper/$PREFIX-$M2 ||
  fail "mkfs.ext4 web"
mount -t ext4 /dev/mapper/$PREFIX-$M2 /tmp/m && mkdir /tmp/m/rootfs &&
  echo web >/tmp/m/rootfs/index.html && umount /tmp/m
dmsetup remove $PREFIX-$M2
container web $C2 $M2 34719 $EXT_SIZE
# old: removed with deferred deletion still pending (deleted: true).
dmsetup message $POOL 0 "create_thin 34725" || fail "create_thin 34725"
container old $C3 $M3 34725 $EXT_SIZE true
# scratch: a device whose filesystem was never made.
dmsetup message $POOL 0 "create_thin 34740" || fail "create_thin 34740"
container scratch $C5 $M5 34740 $EXT_SIZE
meta deviceset-metadata '{"next_device_id":34741,"BaseDeviceUUID":"","BaseDeviceFilesystem":"xfs"}'
dmsetup message $POOL 0 "set_transaction_id 0 844170" || fail set_transaction_id

# The incident: the runtime mounts kubesql-server's device and something
# inside fills it.
MNT1=$ROOT/devicemapper/mnt/$M1
mkdir -p $MNT1
thin $PREFIX-$M1 34709 $XFS_SIZE || fail "activating kubesql-server"
mount -t xfs -o nouuid /dev/mapper/$PREFIX-$M1 $MNT1 || fail "mounting kubesql-server"
printf '%s' $M1 >$MNT1/id
LOGS=$MNT1/rootfs/var/log/kubesql
echo "filling $LOGS/huge.log"
dd if=/dev/zero of=$LOGS/huge.log bs=1M 2>&1 | tail -1
# XFS gives back its speculative preallocation when the file is closed, so
# keep writing small files until neither blocks nor inodes are left.
n=0
while [ $n -lt 1000 ]; do
  n=$((n + 1))
  dd if=/dev/zero of=$LOGS/rotated.$n bs=64k 2>/dev/null
  [ -e $LOGS/rotated.$n ] || break
done
sync
run df $MNT1
echo "# mkdir $MNT1/rootfs/.pivot_root492082001   (the runtime, at start)"
err=$(mkdir $MNT1/rootfs/.pivot_root492082001 2>&1) &&
  fail "mkdir .pivot_root worked on the full filesystem"
echo "$err"
case $err in *"No space left"*) ok "the incident: mkdir .pivot_root: ENOSPC" ;;
  *) fail "unexpected mkdir error: $err" ;; esac

# Fingerprints of what the recovery must not touch.
fingerprint() {
  for d in $M2 $M4; do
    id=$(sed 's/.*"device_id":\([0-9]*\).*/\1/' $ROOT/devicemapper/metadata/$d)
    size=$(sed 's/.*"size":\([0-9]*\).*/\1/' $ROOT/devicemapper/metadata/$d)
    dmsetup create fp-$id --readonly --table "0 $((size / 512)) thin $POOLDEV $id"
    dmsetup mknodes fp-$id
    echo "$d $(dmsetup status fp-$id) $(head -c 16777216 /dev/mapper/fp-$id | md5sum)"
    dmsetup remove fp-$id
  done
  (cd $ROOT && find containers image devicemapper/metadata -type f | sort |
    xargs md5sum)
  dmsetup status $POOL | cut -d' ' -f1-4
}

# ---------------------------------------------------------------- 2
step "2. The daemon stops"
umount $MNT1
dmsetup remove $PREFIX-$M1
BEFORE=$(fingerprint)
dmsetup remove $POOL || fail "removing the pool"
losetup -d /dev/loop1; losetup -d /dev/loop0
run dmsetup ls
[ "$(dmsetup ls)" = "No devices found" ] || fail "devices left after stop"
ok "nothing active"

# ---------------------------------------------------------------- 3
step "3. The recovery with dmkit"
mkdir -p /mnt/recovery
substep "3.1 Bring back the pool: dmkit docker pool --activate"
must_fail "is not active" $DMKIT docker mount kubesql-server /mnt/recovery
must_fail "pool --activate" $DMKIT docker pool
must $DMKIT docker pool --activate
case $out in *"created $POOL"*) ;; *) fail "pool not created as $POOL" ;; esac
# (the kernel ends a thin-pool table line with a space)
table=$(dmsetup table $POOL | sed 's/ *$//')
echo "dmsetup table: $table"
[ "$table" = "0 $DATA_SECTORS thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ] ||
  fail "pool table is not Docker's"
ok "pool re-created with Docker's name and exact table"
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)

substep "3.2 Which container is full: dmkit docker ls, df"
must $DMKIT docker ls
must $DMKIT docker df
first=$(printf '%s\n' "$out" | sed -n 2p)
case $first in *kubesql-server*) ok "df lists the full container first" ;;
  *) fail "df's first row is not kubesql-server: $first" ;; esac
pct=$(printf '%s\n' "$first" | grep -o '[0-9.]*%' | head -1)
case $pct in 9[0-9].*%|100.0%) ok "kubesql-server is $pct full" ;;
  *) fail "kubesql-server is only $pct full" ;; esac
[ "$(thin_count $POOL)" = 0 ] || fail "df left devices active"
ok "df removed its read-only activations"
must $DMKIT docker df --json
case $out in *'"name":"kubesql-server"'*) ;; *) fail "df --json" ;; esac

substep "3.3 Where its data is: dmkit docker inspect"
must_fail "ambiguous" $DMKIT docker inspect f3
must $DMKIT docker inspect f34cee
case $out in *"table      0 655360 thin $POOLDEV 34709"*) ;;
  *) fail "inspect does not show Docker's table" ;; esac
case $out in *"device     $PREFIX-$M1"*) ;; *) fail "inspect: device name" ;; esac
ok "inspect shows the chain and the exact table"

substep "3.4 Look inside, read-only: dmkit docker mount, umount"
must $DMKIT docker mount kubesql-server /mnt/recovery
[ "$(dm_uuid $PREFIX-$M1)" = "DMKIT-DOCKER-$M1" ] || fail "dm uuid"
[ -b /dev/mapper/$PREFIX-$M1 ] || fail "no node /dev/mapper/$PREFIX-$M1"
grep " /mnt/recovery " /proc/mounts
grep -q " /mnt/recovery xfs ro,.*nouuid" /proc/mounts || fail "not mounted ro,nouuid"
[ "$(dmsetup table $PREFIX-$M1)" = "0 655360 thin $POOLDEV 34709" ] ||
  fail "device table is not Docker's"
dmsetup info $PREFIX-$M1 | grep -q "READ-ONLY" || fail "table is not read-only"
ok "mounted read-only with Docker's name and table, nouuid"
run ls /mnt/recovery /mnt/recovery/rootfs
[ "$(cat /mnt/recovery/id)" = "$M1" ] || fail "id file"
rm /mnt/recovery/rootfs/var/log/kubesql/huge.log 2>/dev/null &&
  fail "deleted on a read-only mount"
ok "read-only mount refuses writes"
must_fail "already in use" $DMKIT docker mount batch /mnt/recovery
must $DMKIT docker umount /mnt/recovery
active $PREFIX-$M1 && fail "device still active after umount"
[ -e /dev/mapper/$PREFIX-$M1 ] && fail "node left behind"
ok "umount by mountpoint removed the device and its node"

substep "3.5 Clean up: dmkit docker mount --rw, delete the log, give the blocks back"
must $DMKIT docker mount --rw kubesql-server /mnt/recovery
run du -sh /mnt/recovery/rootfs/var/log/kubesql/huge.log
run rm /mnt/recovery/rootfs/var/log/kubesql/huge.log || fail "rm"
# Hand the freed blocks back to the pool, too. XFS frees a deleted file's
# blocks in the background since 5.15 (inodegc), and on a loaded host that
# can outlast a sync: trim again until the thin device stops shrinking.
mapped() { dmsetup status $PREFIX-$M1 | awk '{print $4}'; }
sync
run fstrim -v /mnt/recovery || fail fstrim
for round in 1 2 3 4 5 6 7 8 9 10; do
  before=$(mapped)
  sleep 1
  sync
  fstrim /mnt/recovery || fail fstrim
  [ "$(mapped)" = "$before" ] && break
  echo "still freeing: $before mapped sectors before round $round"
done
substep "3.6 The runtime's mkdir .pivot_root works again"
run mkdir /mnt/recovery/rootfs/.pivot_root492082001 || fail "mkdir still fails"
rmdir /mnt/recovery/rootfs/.pivot_root492082001
ok "the container's runtime can create .pivot_root again"
must $DMKIT docker ls
case $out in *"f34cee76e36a"*"active (dmkit)"*"(this namespace) /mnt/recovery"*) ;;
  *) fail "ls does not show the recovery mount" ;; esac
substep "3.7 Unmount: dmkit docker umount"
must $DMKIT docker umount kubesql-server
active $PREFIX-$M1 && fail "device still active after umount"
grep -q /mnt/recovery /proc/mounts && fail "still mounted"
ok "umount by name removed exactly the device it activated"

substep "3.8 Afterwards: room again, nothing else touched"
must $DMKIT docker df --no-activate
must $DMKIT docker df
pct=$(printf '%s\n' "$out" | grep kubesql-server | grep -o '[0-9.]*%' | head -1)
case $pct in [0-4][0-9].*%|[0-9].*%) ;;
  *) fail "kubesql-server is still $pct full after cleanup" ;; esac
ok "kubesql-server has room again"
[ "$(thin_count $POOL)" = 0 ] || fail "devices left active"
AFTER=$(fingerprint)
if [ "$BEFORE" != "$AFTER" ]; then
  echo "before:"; echo "$BEFORE"; echo "after:"; echo "$AFTER"
  fail "other containers' devices, Docker's files or the pool changed"
fi
ok "other devices, Docker's files and the pool's transaction id untouched"

# ---------------------------------------------------------------- 4
step "4. Refusals and rollback"
# A pool the kernel put in read-only mode takes no new mappings.
dmsetup reload $POOL --table \
  "0 $DATA_SECTORS thin-pool 7:1 7:0 128 32768 2 skip_block_zeroing read_only" &&
  dmsetup resume $POOL || fail "reloading the pool read-only"
must_fail "read-only mode" $DMKIT docker mount batch /mnt/recovery
active $PREFIX-$M4 && fail "activated on a read-only pool"
dmsetup reload $POOL --table \
  "0 $DATA_SECTORS thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" &&
  dmsetup resume $POOL || fail "reloading the pool read-write"

must_fail "deleted" $DMKIT docker mount old /mnt/recovery
active $PREFIX-$M3 && fail "deleted device activated"

dmsetup create stray --table "0 655360 thin $POOLDEV 34730"
must_fail "already active as stray" $DMKIT docker mount batch /mnt/recovery
active $PREFIX-$M4 && fail "second mapping made"
dmsetup remove stray

mkdir -p /mnt/busy && mount -t tmpfs busy /mnt/busy
must_fail "already in use" $DMKIT docker mount batch /mnt/busy
umount /mnt/busy
active $PREFIX-$M4 && fail "device left after refusal"

must_fail "$PREFIX-$M5" $DMKIT docker mount scratch /mnt/recovery
active $PREFIX-$M5 && fail "rollback left the device"
[ -e /dev/mapper/$PREFIX-$M5 ] && fail "rollback left the node"
ok "a failed mount rolled back the activation and the node"

# A device Docker activated (no dmkit uuid) is used but never removed.
thin $PREFIX-$M2 34719 $EXT_SIZE
must $DMKIT docker mount web /mnt/recovery
must $DMKIT docker umount web
case $out in *"dmkit did not activate it"*) ;; *) fail "no explanation" ;; esac
active $PREFIX-$M2 || fail "umount removed a device dmkit did not activate"
ok "umount left Docker's own device active"

# A device dmkit activated but something else still holds.
mkdir -p /mnt/batch
must $DMKIT docker mount batch /mnt/batch
unshare -m sleep 600 &
LEAKER=$!
wait_for "the leaking namespace" other_ns $LEAKER
must_fail "mounted in mnt:[" $DMKIT docker umount batch
case $out in *"pid $LEAKER (sleep) /mnt/batch"*) ;; *) fail "holder not named" ;; esac
active $PREFIX-$M4 || fail "removed while held"
# umount does all or nothing: the mount it took down is back.
case $out in *"/mnt/batch is mounted again"*) ;; *) fail "no word of /mnt/batch" ;; esac
grep -q " /mnt/batch " /proc/self/mountinfo || fail "/mnt/batch left unmounted"
kill $LEAKER; wait $LEAKER 2>/dev/null
# The namespace's mounts go with its last process, a moment later; until
# then umount keeps being refused.
umount_batch() { out=$($DMKIT docker umount batch 2>&1); }
wait_for "the leaked mount to go" umount_batch
printf '%s\n' "$out"
active $PREFIX-$M4 && fail "not removed once free"
ok "umount waits for the last holder, names it, then removes"

# ---------------------------------------------------------------- 5
step "5. The daemon's private mount namespace"
MNT2=$ROOT/devicemapper/mnt/$M2
mkdir -p $MNT2
cat >/tmp/dockerd <<EOS
#!/bin/sh
mount /dev/mapper/$PREFIX-$M2 $MNT2 && exec sleep 600
EOS
chmod +x /tmp/dockerd
unshare -m /tmp/dockerd &
DAEMON=$!
wait_for "the daemon's mount" other_ns $DAEMON
grep -q $MNT2 /proc/mounts && fail "the daemon's mount is visible here"
grep -q $MNT2 /proc/$DAEMON/mounts || fail "the daemon did not mount web"
ns=$(readlink /proc/$DAEMON/ns/mnt)
echo "daemon pid $DAEMON in $ns; ours is $(readlink /proc/self/ns/mnt)"
must $DMKIT docker ls
line=$(printf '%s\n' "$out" | grep "^e57a6c0b1f2d")
case $line in *"$ns pid $DAEMON (sleep) $MNT2"*) ;;
  *) fail "ls does not show web mounted in $ns: $line" ;; esac
ok "ls shows the mount in the daemon's namespace"
must $DMKIT docker ls --json
case $out in *'"own":false'*'"mount_point":"'$MNT2'"'*) ;; *) fail "ls --json" ;; esac
must $DMKIT docker inspect web
case $out in *"mounted    $ns pid $DAEMON"*) ;; *) fail "inspect mounts" ;; esac
must_fail "not mounted in this namespace" $DMKIT docker umount web
active $PREFIX-$M2 || fail "removed the daemon's device"
kill $DAEMON; wait $DAEMON 2>/dev/null
dmsetup remove $PREFIX-$M2

# ---------------------------------------------------------------- 6
step "6. A pool's block size comes from its metadata superblock"
R2=/home/docker2
mkdir -p $R2/devicemapper/devicemapper $R2/containers
truncate -s 256M $R2/devicemapper/devicemapper/data
truncate -s 16M $R2/devicemapper/devicemapper/metadata
dev=$(stat -c %d $R2/devicemapper)
ino=$(stat -c %i $R2/devicemapper)
POOL2="docker-$(((dev >> 8) & 0xfff)):$(((dev & 0xff) | ((dev >> 12) & 0xfff00)))-$ino-pool"
losetup /dev/loop4 $R2/devicemapper/devicemapper/data
losetup /dev/loop5 $R2/devicemapper/devicemapper/metadata
dmsetup create $POOL2 --table "0 524288 thin-pool 7:5 7:4 1024 32768 1 skip_block_zeroing"
dmsetup remove $POOL2
losetup -d /dev/loop5; losetup -d /dev/loop4
must $DMKIT docker --root $R2 pool --activate
case $(dmsetup table $POOL2) in *" 1024 32768 1 skip_block_zeroing"*) ;;
  *) fail "block size not taken from the superblock: $(dmsetup table $POOL2)" ;; esac
ok "pool re-created with the superblock's 1024-sector blocks"
dmsetup remove $POOL2

echo
echo "incident: all $checks checks passed"
