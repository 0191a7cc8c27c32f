#!/bin/sh
# The Docker root docker_fault_guest works on: a Docker 1.10 loop-lvm root
# under $1 (tmpfs), as incident_replay.sh builds it, with two stopped
# containers: "db" (XFS, a 320 MiB thin device) and "web" (ext4, 64 MiB).
# The daemon is stopped at the end: no pool, no device, no loop device;
# the files stay.
set -u
ROOT=$1
# docker_root_init, meta, thin, container
. /usr/lib/dmkit-tests/docker_root.sh

fail() { echo "docker_fault_setup: FAIL: $*"; exit 1; }

mkdir -p $ROOT && mount -t tmpfs -o size=700m tmpfs $ROOT || fail "tmpfs on $ROOT"
docker_root_init || fail "Docker's directories"
truncate -s 1G $DATA && truncate -s 16M $META || fail truncate
DATA_SECTORS=$((1024 * 1024 * 2))
# Docker attaches data first, then metadata: "thin-pool 7:1 7:0".
losetup /dev/loop0 $DATA && losetup /dev/loop1 $META || fail losetup
dmsetup create $POOL --table \
  "0 $DATA_SECTORS thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing" ||
  fail "creating the pool"
POOLDEV=$(dmsetup info -c --noheadings -o major,minor --separator : $POOL)

# filesystem TYPE NAME ID SIZE: a thin device with a filesystem and the
# container's rootfs directory on it.
filesystem() {
  dmsetup message $POOL 0 "create_thin $3" &&
    thin $2 $3 $4 && mkfs.$1 -q /dev/mapper/$2 &&
    mkdir -p /tmp/m && mount -t $1 /dev/mapper/$2 /tmp/m &&
    mkdir /tmp/m/rootfs && echo "$2" >/tmp/m/rootfs/name && umount /tmp/m &&
    dmsetup remove $2
}
DB=0d0b000000000000000000000000000000000000000000000000000000000c01
DB_MOUNT=4d0b000000000000000000000000000000000000000000000000000000000d01
WEB=0eb0000000000000000000000000000000000000000000000000000000000c02
WEB_MOUNT=4eb0000000000000000000000000000000000000000000000000000000000d02
filesystem xfs $PREFIX-$DB_MOUNT 10 335544320 || fail "db's filesystem"
container db $DB $DB_MOUNT 10 335544320
filesystem ext4 $PREFIX-$WEB_MOUNT 11 67108864 || fail "web's filesystem"
container web $WEB $WEB_MOUNT 11 67108864
meta deviceset-metadata '{"next_device_id":12,"BaseDeviceUUID":"","BaseDeviceFilesystem":"xfs"}'

# The daemon stops.
dmsetup remove $POOL || fail "removing the pool"
losetup -d /dev/loop1 && losetup -d /dev/loop0 || fail "detaching"
rm -f /dev/mapper/$PREFIX-*
[ "$(dmsetup ls)" = "No devices found" ] || fail "devices left"
echo "docker_fault_setup: $ROOT ready (pool $POOL, inactive)"
