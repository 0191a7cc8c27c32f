# Shell functions that build a Docker 1.10 devicemapper root (loop-lvm) the
# way the daemon lays it out, for the VM tests that recover from one
# (incident_replay.sh, docker_fault_setup.sh). Sourced, not run; the guest
# finds it at /usr/lib/dmkit-tests/docker_root.sh (FILES in CMakeLists.txt).
#
# They act on $ROOT (Docker's -g directory); thin() also needs $POOLDEV.

# docker_root_init: Docker's directories under $ROOT. Sets PREFIX and POOL,
# computed here independently of dmkit: st_dev of the filesystem holding
# $ROOT/devicemapper and the inode of that directory, with Docker's
# major()/minor(); and DATA and META, the loop-lvm pool's files.
docker_root_init() {
  mkdir -p $ROOT/devicemapper/devicemapper $ROOT/devicemapper/metadata \
    $ROOT/devicemapper/mnt $ROOT/containers \
    $ROOT/image/devicemapper/layerdb/mounts || return 1
  _dev=$(stat -c %d $ROOT/devicemapper)
  _ino=$(stat -c %i $ROOT/devicemapper)
  PREFIX="docker-$(((_dev >> 8) & 0xfff)):$(((_dev & 0xff) | ((_dev >> 12) & 0xfff00)))-$_ino"
  POOL=$PREFIX-pool
  DATA=$ROOT/devicemapper/devicemapper/data
  META=$ROOT/devicemapper/devicemapper/metadata
}

# meta MOUNT-ID JSON: Docker writes its metadata without a trailing newline.
meta() { printf '%s' "$2" >$ROOT/devicemapper/metadata/$1; }

# thin NAME ID SIZE: activate a thin device the way Docker does.
thin() {
  dmsetup create "$1" --table "0 $(($3 / 512)) thin $POOLDEV $2" &&
    dmsetup mknodes "$1"
}

# container NAME CONTAINER-ID MOUNT-ID DEVICE-ID SIZE [DELETED]: the
# container's config.v2.json, its layerdb mount-id and init-id, and its
# device's metadata.
container() {
  mkdir -p $ROOT/containers/$2 $ROOT/image/devicemapper/layerdb/mounts/$2
  printf '{"State":{"Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":0,"Error":"","StartedAt":"2019-04-01T08:12:33.1Z","FinishedAt":"2019-04-01T09:00:00Z"},"ID":"%s","Created":"2019-03-30T02:10:11.5Z","Path":"/entrypoint.sh","Args":[],"Config":{"Hostname":"%.12s","Image":"%s:latest","Labels":{}},"Image":"sha256:4b1c2e0a","NetworkSettings":{"Bridge":"","Ports":null},"LogPath":"","Name":"/%s","Driver":"devicemapper","MountLabel":"","ProcessLabel":"","RestartCount":0,"HasBeenStartedBefore":true,"MountPoints":{}}' \
    "$2" "$2" "$1" "$1" >$ROOT/containers/$2/config.v2.json
  printf '%s' "$3" >$ROOT/image/devicemapper/layerdb/mounts/$2/mount-id
  printf '%s-init' "$3" >$ROOT/image/devicemapper/layerdb/mounts/$2/init-id
  meta $3 '{"device_id":'$4',"size":'$5',"transaction_id":'$((844000 + $4 % 1000))',"initialized":false,"deleted":'${6:-false}'}'
}
