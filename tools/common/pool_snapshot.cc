// File: tools/common/pool_snapshot.cc
#include "tools/common/pool_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"
#include "tools/common/thin_metadata.h"

namespace dmkit::thin {
namespace {

// `metadata_dev` must be the block device the pool's table names as its
// metadata device: reading another device under a held snapshot would print
// someone else's metadata (or garbage) as the pool's.
absl::Status CheckMetadataDevice(dmioctl::DeviceMapper* dm,
                                 const std::string& pool,
                                 const std::string& metadata_dev) {
  absl::StatusOr<dmioctl::TableReply> table =
      dm->GetTable(dmioctl::DeviceRef::ByName(pool));
  if (!table.ok()) return table.status();
  if (table->targets.size() != 1 || table->targets[0].type != "thin-pool") {
    return absl::InvalidArgumentError(
        absl::StrCat(pool,
                     ": not an active thin pool (its table is not one "
                     "thin-pool target)"));
  }
  const std::string& params = table->targets[0].params;
  absl::StatusOr<dmioctl::DevNum> want =
      dmioctl::DevNum::Parse(params.substr(0, params.find(' ')));
  if (!want.ok()) return want.status();
  struct stat st;
  if (stat(metadata_dev.c_str(), &st) != 0) {
    return dmkit::ErrnoError(errno, metadata_dev);
  }
  if (!S_ISBLK(st.st_mode) || major(st.st_rdev) != want->major ||
      minor(st.st_rdev) != want->minor) {
    return absl::InvalidArgumentError(
        absl::StrCat(metadata_dev, " is not the metadata device of pool ", pool,
                     " (", want->major, ":", want->minor, ")"));
  }
  return absl::OkStatus();
}

// The pool writes its metadata through dm-bufio straight to the device, not
// through the block device's page cache, so pages this or an earlier reader
// cached there may be stale. Dropping them once after the reserve is
// enough: the kernel flushed the metadata when it reserved, and the blocks
// of a held snapshot are not rewritten while it is held (block 0 is, but
// its held root stays ours until we release it).
absl::Status DropPageCache(const std::string& metadata_dev) {
  int fd = open(metadata_dev.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return dmkit::ErrnoError(errno, absl::StrCat("open ", metadata_dev));
  int r = ioctl(fd, BLKFLSBUF, 0);
  int error = errno;
  close(fd);
  if (r != 0) {
    return dmkit::ErrnoError(error, absl::StrCat(metadata_dev, ": BLKFLSBUF"));
  }
  return absl::OkStatus();
}

// Blocks SIGINT, SIGTERM, SIGHUP and SIGPIPE while a snapshot is held and
// restores the mask afterwards. A signal that arrives meanwhile stays
// pending and, once the snapshot is released and the mask restored, acts as
// it would have (for the default action: the process dies of it). Simpler
// than handlers that set a flag, which every read and write loop would have
// to check: the hold lasts one bounded read of the metadata. SIGPIPE is
// blocked too so that a closed stdout makes write() fail (EPIPE) and the
// dump stop and release instead of dying with the snapshot held. Only
// SIGKILL can still leave it held.
class BlockTerminatingSignals {
 public:
  BlockTerminatingSignals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockTerminatingSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
  BlockTerminatingSignals(const BlockTerminatingSignals&) = delete;
  BlockTerminatingSignals& operator=(const BlockTerminatingSignals&) = delete;

 private:
  sigset_t old_;
};

// "pool POOL: MESSAGE: what the kernel said", keeping the code and errno.
absl::Status Annotate(const absl::Status& status, const char* message,
                      const std::string& pool) {
  return dmkit::WithErrno(
      absl::Status(status.code(), absl::StrCat("pool ", pool, ": ", message,
                                               ": ", status.message())),
      dmkit::ErrnoOf(status));
}

}  // namespace

absl::StatusOr<HeldMetadataSnap> HeldMetadataSnap::Reserve(
    dmioctl::DeviceMapper* dm, const std::string& pool,
    const std::string& metadata_dev) {
  if (absl::Status s = CheckMetadataDevice(dm, pool, metadata_dev); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> reply = dm->SendMessage(
      dmioctl::DeviceRef::ByName(pool), 0, "reserve_metadata_snap");
  if (!reply.ok()) {
    // The pool refuses a second snapshot (EBUSY; EINVAL on some kernels).
    // Say so when the superblock shows one held: it is someone else's, and
    // not ours to release.
    int error = dmkit::ErrnoOf(reply.status());
    if ((error == EBUSY || error == EINVAL) &&
        DropPageCache(metadata_dev).ok()) {
      absl::StatusOr<Source> source = Source::Open(metadata_dev, false, false);
      absl::StatusOr<Superblock> sb =
          source.ok() ? ReadSuperblock(*source)
                      : absl::StatusOr<Superblock>(source.status());
      if (sb.ok() && sb->held_root != 0) {
        return dmkit::ErrnoError(
            EBUSY, absl::StrCat("pool ", pool,
                                " already holds a metadata snapshot (block ",
                                sb->held_root,
                                ") reserved by someone else; left as it is"));
      }
    }
    return Annotate(reply.status(), "reserve_metadata_snap", pool);
  }
  HeldMetadataSnap held(dm, pool);
  if (absl::Status s = DropPageCache(metadata_dev); !s.ok()) return s;
  return held;
}

HeldMetadataSnap::~HeldMetadataSnap() {
  if (absl::Status s = Release(); !s.ok()) {
    fprintf(stderr, "dmkit: %.*s\n", static_cast<int>(s.message().size()),
            s.message().data());
  }
}

absl::Status HeldMetadataSnap::Release() {
  if (dm_ == nullptr) return absl::OkStatus();
  dmioctl::DeviceMapper* dm = dm_;
  dm_ = nullptr;
  absl::StatusOr<std::string> reply = dm->SendMessage(
      dmioctl::DeviceRef::ByName(pool_), 0, "release_metadata_snap");
  if (!reply.ok()) {
    return Annotate(reply.status(), "release_metadata_snap", pool_);
  }
  return absl::OkStatus();
}

absl::Status WithPoolSnapshot(dmioctl::DeviceMapper& dm,
                              const std::string& pool,
                              const std::string& metadata_dev,
                              absl::FunctionRef<absl::Status()> read) {
  // Declared first, so the mask is restored (and a pending signal acts)
  // only after the snapshot is released.
  BlockTerminatingSignals blocked;
  absl::StatusOr<HeldMetadataSnap> held =
      HeldMetadataSnap::Reserve(&dm, pool, metadata_dev);
  if (!held.ok()) return held.status();
  absl::Status status = read();
  absl::Status released = held->Release();
  if (status.ok() || released.ok()) return status.ok() ? released : status;
  // Both: the read's error first, and that the snapshot may still be held.
  return dmkit::WithErrno(
      absl::Status(status.code(), absl::StrCat(status.message(), "; and ",
                                               released.message())),
      dmkit::ErrnoOf(status));
}

absl::StatusOr<std::string> BlockDeviceNode(absl::string_view dev) {
  std::string uevent = absl::StrCat("/sys/dev/block/", dev, "/uevent");
  mountns::UniqueFd fd(open(uevent.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return dmkit::ErrnoError(
        errno, absl::StrCat("block device ", dev, ": ", "open ", uevent));
  }
  char buf[4096];
  ssize_t n = read(fd.get(), buf, sizeof(buf) - 1);
  if (n < 0) return dmkit::ErrnoError(errno, absl::StrCat("read ", uevent));
  std::string node;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(buf, static_cast<size_t>(n)), '\n')) {
    if (absl::ConsumePrefix(&line, "DEVNAME=") && !line.empty()) {
      node = absl::StrCat("/dev/", line);
    }
  }
  struct stat st;
  if (node.empty() || stat(node.c_str(), &st) != 0 || !S_ISBLK(st.st_mode) ||
      absl::StrCat(major(st.st_rdev), ":", minor(st.st_rdev)) != dev) {
    return dmkit::ErrnoError(
        ENOENT,
        absl::StrCat("block device ", dev, " has no node in /dev",
                     node.empty() ? "" : absl::StrCat(" (", node, ")")));
  }
  return node;
}

}  // namespace dmkit::thin
