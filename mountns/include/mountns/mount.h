// File: mountns/mount.h
//
// Mounting a recovered device: option strings, read-only mounts, the
// filesystem type read from the superblock, and a ScopedMount that
// unmounts when it goes out of scope unless released.
//
//   DMKIT_ASSIGN_OR_RETURN(std::string type,
//                            mountns::DetectFilesystemType("/dev/dm-5"));
//   mountns::MountRequest request{
//       .source = "/dev/dm-5", .target = "/mnt/rescue", .fs_type = type,
//       .options = mountns::BuildMountOptions({type == "xfs" ? "nouuid" : ""}),
//       .read_only = true};
//   DMKIT_ASSIGN_OR_RETURN(mountns::ScopedMount mount,
//                            mountns::ScopedMount::Create(request));
//   ... work under /mnt/rescue ...
//   DMKIT_RETURN_IF_ERROR(mount.Unmount());  // or let it go out of scope
//
// All of this acts in the caller's mount namespace. To keep a recovery mount
// from propagating into (or being copied by) services that start meanwhile,
// mount it after UnsharePrivateMountNamespace().
#ifndef MOUNTNS_MOUNT_H_
#define MOUNTNS_MOUNT_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mountns {

// BuildMountOptions()
//
// Joins filesystem option strings with commas, dropping empty ones, so
// optional pieces can be passed as "" ("nouuid" only for XFS, say).
std::string BuildMountOptions(std::initializer_list<absl::string_view> parts);

// MountRequest
//
// Arguments of one mount(2) call.
// Every member has a default, so designated initializers may skip any.
struct MountRequest {
  std::string source{};     // device path, or a name for pseudo filesystems
  std::string target{};     // existing directory
  std::string fs_type{};    // "ext4", "xfs", ...
  std::string options{};    // filesystem data string: "nouuid,noquota"
  unsigned long flags = 0;  // MS_* flags
  bool read_only = false;   // adds MS_RDONLY
};

// Mount()
//
// mount(2). Errors read "mount <source> on <target>: <strerror>".
absl::Status Mount(const MountRequest& request);

// MountReadOnly()
//
// Mount() with MS_RDONLY.
absl::Status MountReadOnly(const std::string& source, const std::string& target,
                           const std::string& fs_type,
                           const std::string& options = "");

// UnsharePrivateMountNamespace()
//
// Moves the calling process into a new mount namespace whose mounts are all
// private (mount --make-rprivate /), so nothing mounted afterwards shows up
// elsewhere. Fails with EINVAL in a multithreaded process.
absl::Status UnsharePrivateMountNamespace();

// DetectFilesystemType()
//
// The filesystem on a device or image file, read from the superblock:
// "ext2", "ext3", "ext4" (told apart by feature flags as libblkid does),
// "jbd" (an external ext journal), "xfs" or "btrfs". kNotFound if none of
// these magics is present (including a file too short to hold one).
absl::StatusOr<std::string> DetectFilesystemType(const std::string& path);

// DetectFilesystemTypeOfFd()
//
// The same for an open descriptor (read with pread, offset unchanged).
absl::StatusOr<std::string> DetectFilesystemTypeOfFd(int fd);

// FilesystemSize
//
// The size of the filesystem on a device or image, from its superblock:
// for ext2/3/4 the block count (with the high half when the 64bit feature
// is set) times 1024 << s_log_block_size; for XFS sb_dblocks times
// sb_blocksize (the data section, which holds an internal log). This is
// what a device must at least hold for the filesystem to mount.
struct FilesystemSize {
  std::string type;  // "ext4", "xfs", ... as DetectFilesystemType() says
  uint64_t bytes = 0;
};

// ReadFilesystemSize() / ReadFilesystemSizeOfFd()
//
// kNotFound when there is no ext2/3/4 or XFS superblock (including a
// journal device or btrfs), kInvalidArgument when its block size or count
// is impossible (names the value).
absl::StatusOr<FilesystemSize> ReadFilesystemSize(const std::string& path);
absl::StatusOr<FilesystemSize> ReadFilesystemSizeOfFd(int fd);

// ScopedMount
//
// Owns a mount point: unmounts it on destruction unless Release()d. The
// destructor cannot report failure; it falls back to a lazy unmount
// (MNT_DETACH) if the mount is busy, so the mount point never outlives the
// owner. Call Unmount() to see errors.
class ScopedMount {
 public:
  // Mounts `request` and takes ownership of the result.
  static absl::StatusOr<ScopedMount> Create(const MountRequest& request);

  // Takes ownership of an existing mount at `target`.
  static ScopedMount Adopt(std::string target);

  ScopedMount() = default;
  ScopedMount(ScopedMount&& other) noexcept;
  ScopedMount& operator=(ScopedMount&& other) noexcept;
  ScopedMount(const ScopedMount&) = delete;
  ScopedMount& operator=(const ScopedMount&) = delete;
  ~ScopedMount();

  const std::string& target() const { return target_; }
  bool owns() const { return !target_.empty(); }

  // Unmounts now; `lazy` uses MNT_DETACH. On success the object owns
  // nothing. On failure it keeps ownership (and will try again when
  // destroyed). Errors read "umount <target>: <strerror>".
  absl::Status Unmount(bool lazy = false);

  // Gives up ownership: the mount stays. Returns its target.
  std::string Release();

 private:
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  std::string target_;
};

}  // namespace mountns

#endif  // MOUNTNS_MOUNT_H_
