// File: tools/docker/mounts.h
//
// The mount-namespace view the docker applet needs, on top of mountns:
// one snapshot of every namespace's mounts (so `ls` over many containers
// reads each mountinfo once), the caller's own mounts, filesystem detection
// and unmounting in the caller's namespace.
#ifndef DMKIT_TOOLS_DOCKER_MOUNTS_H_
#define DMKIT_TOOLS_DOCKER_MOUNTS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mountns/mount.h"

namespace dmkit::docker {

// One mount of a device in one mount namespace.
struct NamespaceMount {
  uint64_t ns_inode = 0;
  bool own = false;                                    // the caller's namespace
  std::vector<std::pair<pid_t, std::string>> members;  // pid, comm
  std::string mount_point;  // as seen inside that namespace
  std::string fs_type;
  std::string options;  // per-mount and superblock options

  // "mnt:[4026532201] (this shell's namespace) /mnt/x" or
  // "mnt:[4026532201] pid 812 (dockerd) /home/docker/devicemapper/mnt/x".
  std::string Describe() const;
};

// A snapshot of the mounts of every mount namespace with a process in it.
class MountTable {
 public:
  static absl::StatusOr<MountTable> Scan();

  std::vector<NamespaceMount> OfDevice(dev_t dev) const;
  // Namespaces that could not be read, as messages.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<std::pair<dev_t, NamespaceMount>> mounts_;
  std::vector<std::string> warnings_;
};

// A mount in the caller's namespace.
struct OwnMount {
  std::string mount_point;
  dev_t dev = 0;
  std::string source;
  std::string fs_type;
  std::string options;  // per-mount: "ro,nosuid,relatime"
};

// OwnMounts()
//
// The caller's namespace, from /proc/self/mountinfo, in mount order.
absl::StatusOr<std::vector<OwnMount>> OwnMounts();

// DetectFilesystem()
//
// "xfs", "ext4", ... from the superblock of `device`.
absl::StatusOr<std::string> DetectFilesystem(const std::string& device);

// MountDevice()
//
// mount(2) of `device` on `target`, read-only unless `read_only` is false;
// the handle unmounts again unless Release()d.
absl::StatusOr<mountns::ScopedMount> MountDevice(const std::string& device,
                                                 const std::string& target,
                                                 const std::string& fs_type,
                                                 const std::string& options,
                                                 bool read_only);

// UnmountOwn()
//
// umount2(target, 0) in the caller's namespace; EBUSY is reported, not
// retried lazily (a busy recovery mount means someone still works there).
absl::Status UnmountOwn(const std::string& target);

// MountAgain()
//
// Puts back a mount UnmountOwn() took down: its source, type and per-mount
// flags (ro, nosuid, nodev, noexec, atime), with "nouuid" for XFS as
// `docker mount` mounts it. (A bind mount of a subdirectory comes back as
// a mount of the whole filesystem.)
absl::Status MountAgain(const OwnMount& mount);

// Describe()
//
// The message of a failure, with " [errno N]" when it carries an errno.
std::string Describe(const absl::Status& status);

// About()
//
// A failed system call as an error about `device`: the message gets
// "<device>: " in front (and the errno in the text) unless it names the
// device already. Other statuses are returned as they are.
absl::Status About(absl::string_view device, const absl::Status& status);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_MOUNTS_H_
