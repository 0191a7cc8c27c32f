#!/bin/sh
# Guest smoke test: the control node exists, a loop device works on a tmpfs
# file, and (when the test copies them in) Debian's dynamically linked dmsetup
# and mkfs.xfs run, and the xfs module loads on demand at the first mount.
set -eu

fail() { echo "smoke: $*"; exit 1; }

[ -c /dev/mapper/control ] || fail "/dev/mapper/control is missing"
echo "smoke: /dev/mapper/control is $(stat -c '%t:%T' /dev/mapper/control) (hex)"

img=/tmp/smoke.img
truncate -s 320M "$img"
loop=$(losetup -f)
losetup "$loop" "$img" || fail "losetup $loop $img failed"
name=${loop#/dev/}
[ -b "$loop" ] || fail "$loop is not a block device"
sectors=$(cat "/sys/block/$name/size")
[ "$sectors" = 655360 ] || fail "$loop has $sectors sectors, expected 655360"
echo "smoke: $loop attached ($sectors sectors)"

if command -v dmsetup >/dev/null; then
  dmsetup version
fi
if command -v mkfs.xfs >/dev/null; then
  mkfs.xfs -q "$loop" || fail "mkfs.xfs $loop failed"
  mkdir -p /mnt
  mount -t xfs "$loop" /mnt || fail "mount -t xfs $loop failed"
  echo hello >/mnt/file
  [ "$(cat /mnt/file)" = hello ] || fail "read back from xfs failed"
  umount /mnt
  echo "smoke: xfs on $loop works"
fi

losetup -d "$loop" || fail "losetup -d $loop failed"
rm -f "$img"
echo "smoke: ok"
