// File: mountns/mount_namespaces.h
//
// Mounts across every mount namespace of the machine: which namespaces
// exist, who lives in them, where a block device is mounted in each, and
// unmounting inside one of them.
//
// A device that "cannot be removed, device busy" is often still mounted in a
// namespace that no shell looks at: a daemon started with MountFlags=slave,
// or a service that copied the mount when it started (ntpd, php-fpm in the
// Docker devicemapper reports). /proc/mounts shows only the caller's
// namespace, so this module walks /proc:
//
//   ListMountNamespaces()  every /proc/PID/task/TID/ns/mnt, grouped by inode
//   FindMountsOfDevice()   mountinfo of one member of each namespace,
//                          matched on major:minor
//   Unmount()              umount2() in a forked helper that setns()es there
//
//   DMKIT_ASSIGN_OR_RETURN(auto mounts, mountns::FindMountsOfDevice(dev));
//   for (const mountns::MountOfDevice& m : mounts)
//     DMKIT_RETURN_IF_ERROR(mountns::Unmount(m.ns, m.mount.mount_point,
//                                              mountns::UnmountMode::kLazy));
//
// Threads count: a thread can unshare(CLONE_NEWNS) on its own, so
// namespaces are found per task, not per process. Kernel threads are left
// out. A namespace is read from a member whose root is the namespace root;
// a chrooted process sees no mount outside its jail in its own mountinfo,
// so when every member is chrooted the namespace is entered instead.
// Namespaces kept alive only by an open fd or an nsfs bind mount, with no
// task inside, are not found.
#ifndef MOUNTNS_MOUNT_NAMESPACES_H_
#define MOUNTNS_MOUNT_NAMESPACES_H_

#include <stdint.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mountns/mountinfo.h"
#include "mountns/namespace_set.h"

namespace mountns {

// NamespaceMember
//
// A process with at least one thread in a namespace.
struct NamespaceMember {
  pid_t pid = 0;     // the process (thread group) id
  pid_t tid = 0;     // one of its threads in the namespace; == pid if the
                     // main thread is in it
  std::string comm;  // process name, as in /proc/PID/comm

  friend bool operator==(const NamespaceMember&,
                         const NamespaceMember&) = default;
};

// MountNamespace
//
// One mount namespace and the processes in it.
struct MountNamespace {
  uint64_t inode = 0;                    // the N of "mnt:[N]"
  bool own = false;                      // the caller's namespace
  std::vector<NamespaceMember> members;  // sorted by pid

  // The members' pids, in order.
  std::vector<pid_t> pids() const;
};

// ScanReport
//
// What a scan could not look at. Without one, such processes and namespaces
// are skipped silently.
struct ScanReport {
  // Processes whose namespace could not be read (EACCES: for example a
  // process protected from ptrace-like access).
  std::vector<pid_t> inaccessible;
  // Namespaces whose mounts could not be read, with the reason.
  struct Failure {
    uint64_t inode = 0;
    absl::Status status;
  };
  std::vector<Failure> failed;
};

// OwnMountNamespaceInode()
//
// The inode of the caller's mount namespace.
absl::StatusOr<uint64_t> OwnMountNamespaceInode();

// ListMountNamespaces()
//
// Every mount namespace with at least one task in it, sorted by inode.
// Processes that exit during the scan are skipped.
absl::StatusOr<std::vector<MountNamespace>> ListMountNamespaces(
    ScanReport* report = nullptr);

// FormatNamespace()
//
// "mnt:[N]", the way /proc/PID/ns/mnt reads.
std::string FormatNamespace(uint64_t inode);

// OpenMountNamespace()
//
// A NamespaceSet for `ns`'s mount namespace, opened through one of its
// members and checked against ns.inode (a member may have exited and its
// pid been reused). kNotFound when no member is left in the namespace.
absl::StatusOr<NamespaceSet> OpenMountNamespace(const MountNamespace& ns);

// ReadNamespaceMountInfo()
//
// The mounts of `ns`, with mount points as seen from the namespace root.
absl::StatusOr<std::vector<MountInfo>> ReadNamespaceMountInfo(
    const MountNamespace& ns);

// MountOfDevice
//
// One mount of a device, in one namespace.
struct MountOfDevice {
  MountNamespace ns;  // where, and who lives there
  MountInfo mount;    // mount id, mount point inside ns, fs type, options
};

// FindMountsOfDevice()
//
// Every mount whose st_dev is `dev` (mountinfo field 3), in every mount
// namespace, ordered by namespace inode and then mount id. A device mounted
// twice in one namespace, or bind-mounted, gives one entry per mount.
absl::StatusOr<std::vector<MountOfDevice>> FindMountsOfDevice(
    dev_t dev, ScanReport* report = nullptr);

enum class UnmountMode {
  kNormal,  // umount2(path, 0): fails with EBUSY while in use
  kLazy,    // umount2(path, MNT_DETACH): detach now, clean up when unused
};

// Unmount()
//
// Unmounts `mount_point` (a path inside `ns`, as FindMountsOfDevice()
// reports it) in namespace `ns`, from a forked helper that enters it. The
// path is not followed if it is a symlink. Errors read
// "umount <path> in mnt:[N]: <strerror>" and carry the errno (EBUSY for a
// busy mount, EINVAL if it is not a mount point there).
absl::Status Unmount(const MountNamespace& ns, const std::string& mount_point,
                     UnmountMode mode);

// UnmountIn()
//
// The same for any set of namespaces (it must include a mount namespace).
absl::Status UnmountIn(const NamespaceSet& target,
                       const std::string& mount_point, UnmountMode mode);

}  // namespace mountns

#endif  // MOUNTNS_MOUNT_NAMESPACES_H_
