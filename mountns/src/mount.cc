#include "mountns/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"

namespace mountns {
namespace {

// Superblock locations, from libblkid (superblocks/ext.c, xfs.c, btrfs.c)
// and the on-disk format docs.
constexpr off_t kExtSuperblockOffset = 0x400;
constexpr size_t kExtMagicOffset = 0x38;  // within the superblock
constexpr size_t kExtFeatureCompatOffset = 0x5c;
constexpr size_t kExtFeatureIncompatOffset = 0x60;
constexpr size_t kExtFeatureRoCompatOffset = 0x64;
constexpr size_t kExtBlocksCountOffset = 0x04;
constexpr size_t kExtLogBlockSizeOffset = 0x18;
constexpr size_t kExtBlocksCountHiOffset = 0x150;
constexpr uint32_t kExtIncompat64Bit = 0x0080;
constexpr uint32_t kExtCompatHasJournal = 0x0004;
constexpr uint32_t kExtIncompatJournalDev = 0x0008;
// The features ext2 and ext3 drivers know; anything else means ext4.
constexpr uint32_t kExt2IncompatSupported =
    0x0002 | 0x0010;  // FILETYPE, META_BG
constexpr uint32_t kExt3IncompatSupported =
    0x0002 | 0x0004 | 0x0010;  // +RECOVER
constexpr uint32_t kExtRoCompatSupported = 0x0001 | 0x0002 | 0x0004;
constexpr off_t kBtrfsMagicOffset = 0x10040;
constexpr char kBtrfsMagic[] = "_BHRfS_M";
constexpr char kXfsMagic[] = "XFSB";

uint32_t LoadLe32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
         uint32_t{p[3]} << 24;
}

uint64_t LoadBe(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

// Reads exactly `size` bytes at `offset`; false if the file is shorter.
absl::StatusOr<bool> ReadAt(int fd, off_t offset, void* buffer, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, static_cast<char*>(buffer) + done, size - done,
                      offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return dmkit::ErrnoError(errno, "read superblock");
    }
    if (n == 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string BuildMountOptions(std::initializer_list<absl::string_view> parts) {
  std::string options;
  for (absl::string_view part : parts) {
    if (part.empty()) continue;
    if (!options.empty()) options.push_back(',');
    options.append(part.data(), part.size());
  }
  return options;
}

absl::Status Mount(const MountRequest& request) {
  unsigned long flags = request.flags | (request.read_only ? MS_RDONLY : 0);
  if (mount(request.source.c_str(), request.target.c_str(),
            request.fs_type.empty() ? nullptr : request.fs_type.c_str(), flags,
            request.options.empty() ? nullptr : request.options.c_str()) != 0) {
    return dmkit::ErrnoError(
        errno, absl::StrCat("mount ", request.source, " on ", request.target));
  }
  return absl::OkStatus();
}

absl::Status MountReadOnly(const std::string& source, const std::string& target,
                           const std::string& fs_type,
                           const std::string& options) {
  return Mount(MountRequest{.source = source,
                            .target = target,
                            .fs_type = fs_type,
                            .options = options,
                            .read_only = true});
}

absl::Status UnsharePrivateMountNamespace() {
  if (unshare(CLONE_NEWNS) != 0)
    return dmkit::ErrnoError(errno, "unshare mount namespace");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return dmkit::ErrnoError(errno, "make / private");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DetectFilesystemTypeOfFd(int fd) {
  unsigned char head[4];
  DMKIT_ASSIGN_OR_RETURN(bool have_head, ReadAt(fd, 0, head, sizeof(head)));
  if (have_head && memcmp(head, kXfsMagic, 4) == 0) return std::string("xfs");

  unsigned char ext[0x68];
  DMKIT_ASSIGN_OR_RETURN(bool have_ext,
                         ReadAt(fd, kExtSuperblockOffset, ext, sizeof(ext)));
  if (have_ext && ext[kExtMagicOffset] == 0x53 &&
      ext[kExtMagicOffset + 1] == 0xef) {
    uint32_t compat = LoadLe32(ext + kExtFeatureCompatOffset);
    uint32_t incompat = LoadLe32(ext + kExtFeatureIncompatOffset);
    uint32_t ro_compat = LoadLe32(ext + kExtFeatureRoCompatOffset);
    if (incompat & kExtIncompatJournalDev) return std::string("jbd");
    const bool journal = (compat & kExtCompatHasJournal) != 0;
    const bool old_ro = (ro_compat & ~kExtRoCompatSupported) == 0;
    if (!journal && old_ro && (incompat & ~kExt2IncompatSupported) == 0) {
      return std::string("ext2");
    }
    if (journal && old_ro && (incompat & ~kExt3IncompatSupported) == 0) {
      return std::string("ext3");
    }
    return std::string("ext4");
  }

  char btrfs[sizeof(kBtrfsMagic) - 1];
  DMKIT_ASSIGN_OR_RETURN(bool have_btrfs,
                         ReadAt(fd, kBtrfsMagicOffset, btrfs, sizeof(btrfs)));
  if (have_btrfs && memcmp(btrfs, kBtrfsMagic, sizeof(btrfs)) == 0) {
    return std::string("btrfs");
  }
  return absl::NotFoundError("no ext2/3/4, xfs or btrfs superblock");
}

namespace {

// `status` with "PATH: " before its message, its code and errno kept.
absl::Status OnPath(const std::string& path, const absl::Status& status) {
  return dmkit::WithErrno(
      absl::Status(status.code(), absl::StrCat(path, ": ", status.message())),
      dmkit::ErrnoOf(status));
}

}  // namespace

absl::StatusOr<std::string> DetectFilesystemType(const std::string& path) {
  DMKIT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  absl::StatusOr<std::string> type = DetectFilesystemTypeOfFd(fd.get());
  if (!type.ok()) return OnPath(path, type.status());
  return type;
}

absl::StatusOr<FilesystemSize> ReadFilesystemSizeOfFd(int fd) {
  DMKIT_ASSIGN_OR_RETURN(std::string type, DetectFilesystemTypeOfFd(fd));
  uint64_t block_size = 0;
  uint64_t blocks = 0;
  if (type == "xfs") {
    unsigned char sb[16];
    DMKIT_ASSIGN_OR_RETURN(bool have, ReadAt(fd, 0, sb, sizeof(sb)));
    if (!have) return absl::NotFoundError("short XFS superblock");
    block_size = LoadBe(sb + 4, 4);
    blocks = LoadBe(sb + 8, 8);
    if (block_size < 512 || block_size > 65536 ||
        (block_size & (block_size - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("XFS superblock: block size ", block_size));
    }
  } else if (type == "ext2" || type == "ext3" || type == "ext4") {
    unsigned char sb[kExtBlocksCountHiOffset + 4];
    DMKIT_ASSIGN_OR_RETURN(bool have,
                           ReadAt(fd, kExtSuperblockOffset, sb, sizeof(sb)));
    if (!have) return absl::NotFoundError("short ext superblock");
    uint32_t log = LoadLe32(sb + kExtLogBlockSizeOffset);
    if (log > 6) {
      return absl::InvalidArgumentError(
          absl::StrCat(type, " superblock: s_log_block_size ", log));
    }
    block_size = uint64_t{1024} << log;
    blocks = LoadLe32(sb + kExtBlocksCountOffset);
    if (LoadLe32(sb + kExtFeatureIncompatOffset) & kExtIncompat64Bit) {
      blocks |= uint64_t{LoadLe32(sb + kExtBlocksCountHiOffset)} << 32;
    }
  } else {
    return absl::NotFoundError(
        absl::StrCat("a ", type, " superblock, not ext2/3/4 or xfs"));
  }
  if (blocks == 0 || blocks > UINT64_MAX / block_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        type, " superblock: ", blocks, " blocks of ", block_size, " bytes"));
  }
  return FilesystemSize{type, blocks * block_size};
}

absl::StatusOr<FilesystemSize> ReadFilesystemSize(const std::string& path) {
  DMKIT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  absl::StatusOr<FilesystemSize> size = ReadFilesystemSizeOfFd(fd.get());
  if (!size.ok()) return OnPath(path, size.status());
  return size;
}

absl::StatusOr<ScopedMount> ScopedMount::Create(const MountRequest& request) {
  DMKIT_RETURN_IF_ERROR(Mount(request));
  return ScopedMount(request.target);
}

ScopedMount ScopedMount::Adopt(std::string target) {
  return ScopedMount(std::move(target));
}

ScopedMount::ScopedMount(ScopedMount&& other) noexcept
    : target_(std::exchange(other.target_, std::string())) {}

ScopedMount& ScopedMount::operator=(ScopedMount&& other) noexcept {
  if (this != &other) {
    if (owns()) {
      // Best effort, as in the destructor.
      if (!Unmount().ok()) Unmount(/*lazy=*/true).IgnoreError();
    }
    target_ = std::exchange(other.target_, std::string());
  }
  return *this;
}

ScopedMount::~ScopedMount() {
  if (!owns()) return;
  // A destructor cannot report; a busy mount is detached rather than left.
  if (!Unmount().ok()) Unmount(/*lazy=*/true).IgnoreError();
}

absl::Status ScopedMount::Unmount(bool lazy) {
  if (!owns()) return absl::OkStatus();
  if (umount2(target_.c_str(), UMOUNT_NOFOLLOW | (lazy ? MNT_DETACH : 0)) !=
      0) {
    return dmkit::ErrnoError(errno, absl::StrCat("umount ", target_));
  }
  target_.clear();
  return absl::OkStatus();
}

std::string ScopedMount::Release() {
  return std::exchange(target_, std::string());
}

}  // namespace mountns
