#!/usr/bin/env bash
# dmkit holders on the host, with real objects: a loop device with ext4,
# mounted in a private mount namespace that the caller cannot see, opened by
# a process, and a process working inside the filesystem. Then --umount
# frees it in that namespace.
# Usage: holders_host.sh DMKIT
set -euo pipefail
dmkit=$1
[ "$(id -u)" = 0 ] || { echo "needs root (loop devices, namespaces)"; exit 77; }
work=$(mktemp -d /tmp/dmkit-holders-XXXXXX)
pids=()
loop=
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

truncate -s 32M "$work/disk"
loop=$(losetup --find --show "$work/disk") || { echo "no loop devices"; exit 77; }
mkfs.ext4 -q "$work/disk"
majmin=$(lsblk -dno MAJ:MIN "$loop" | tr -d ' ')
mkdir -p "$work/mnt"

# A daemon-like process in its own mount namespace, with the device mounted
# there only, and its working directory inside the filesystem.
unshare -m --propagation private sh -c "mount $loop $work/mnt && cd $work/mnt && exec sleep 300" &
pids+=($!)
sleep 0.5
own=$(readlink /proc/self/ns/mnt)
ns=$(readlink /proc/${pids[0]}/ns/mnt)
[ "$own" != "$ns" ] || fail "child did not get its own namespace"
grep -q " $work/mnt " /proc/self/mountinfo && fail "mount leaked into our namespace"

# A process with the device node open.
sleep 300 < "$loop" &
pids+=($!)
sleep 0.2

out=$("$dmkit" holders "$loop")
echo "$out"
inode=${ns#mnt:[}; inode=${inode%]}
grep -q "$work/mnt ext4 .* in mnt:\[$inode\]" <<<"$out" || fail "mount in the private namespace not shown"
grep -q "pids ${pids[0]} (sleep)" <<<"$out" || fail "namespace member not named"
grep -q "${pids[1]} (sleep): device open on fd 0" <<<"$out" || fail "opener not shown"
grep -q "${pids[0]} (sleep): working directory there" <<<"$out" || fail "cwd user not shown"

# --json carries the same facts as one JSON document.
"$dmkit" holders --json "$loop" > "$work/report.json"
python3 - "$work/report.json" "$inode" "${pids[0]}" "${pids[1]}" "$work/mnt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
inode, daemon, opener, mnt = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
assert r["busy"] is True, r
m = [m for m in r["mounts"] if m["namespace"] == inode]
assert m and m[0]["mount_point"] == mnt and m[0]["fs_type"] == "ext4", r["mounts"]
assert daemon in [p["pid"] for p in m[0]["pids"]], m
procs = {p["pid"]: p for p in r["processes"]}
assert procs[opener]["device_fds"] == [0], procs
assert procs[daemon]["cwd_on_filesystem"] is True, procs
PY

# The same device by MAJ:MIN gives the same report.
[ "$("$dmkit" holders "$majmin")" = "$out" ] || fail "MAJ:MIN and path differ"

# A normal unmount fails while the daemon works inside; the report says so
# and the exit status is non-zero.
if "$dmkit" holders --umount "$loop" > "$work/umount.out" 2>&1; then
  cat "$work/umount.out"; fail "--umount succeeded with the filesystem busy"
fi
grep -q "Device or resource busy" "$work/umount.out" || { cat "$work/umount.out"; fail "EBUSY not reported"; }
# Lazy detaches it in the other namespace.
"$dmkit" holders --umount --lazy "$loop" > "$work/lazy.out" 2>&1 || { cat "$work/lazy.out"; fail "--umount --lazy failed"; }
cat "$work/lazy.out"
grep -q "unmounted $work/mnt in mnt:\[$inode\]" "$work/lazy.out" || fail "no unmount line"
grep -q " $work/mnt " "/proc/${pids[0]}/mountinfo" && fail "still mounted in the namespace"
grep -q "mounts: none" "$work/lazy.out" || fail "report after unmount still shows mounts"

# Errors: a missing device, a non-block path, bad usage.
if "$dmkit" holders 7:250 2>"$work/err"; then fail "missing device accepted"; fi
grep -q "holders: 7:250: block device 7:250: No such device" "$work/err" || { cat "$work/err"; fail "missing device message"; }
if "$dmkit" holders /etc/passwd 2>"$work/err"; then fail "regular file accepted"; fi
grep -q "Block device required" "$work/err" || fail "non-block message"
if "$dmkit" holders 2>/dev/null; then fail "no argument accepted"; fi
echo "holders host test passed"
