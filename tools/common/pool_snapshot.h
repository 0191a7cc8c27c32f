// File: tools/common/pool_snapshot.h
//
// An active pool's metadata, read only through a metadata snapshot the pool
// holds for us (the reserve_metadata_snap message), released again on every
// path: `dmkit thin ls|dump --pool` and the docker applet's view of the
// pool's thin devices (`docker ls --orphans`, `gc`, `mount --device-id`).
#ifndef DMKIT_TOOLS_COMMON_POOL_SNAPSHOT_H_
#define DMKIT_TOOLS_COMMON_POOL_SNAPSHOT_H_

#include <signal.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"

namespace dmkit::thin {

// HeldMetadataSnap
//
// A metadata snapshot this process reserved on a pool; the destructor
// releases it if Release() was not called. It never releases a snapshot
// someone else reserved: Reserve() fails instead.
class HeldMetadataSnap {
 public:
  // Sends reserve_metadata_snap to `pool`, after checking that
  // `metadata_dev` is the pool's metadata device, and drops that device's
  // page cache (see pool_snapshot.cc).
  static absl::StatusOr<HeldMetadataSnap> Reserve(
      dmioctl::DeviceMapper* dm, const std::string& pool,
      const std::string& metadata_dev);
  HeldMetadataSnap(HeldMetadataSnap&& other) noexcept
      : dm_(other.dm_), pool_(std::move(other.pool_)) {
    other.dm_ = nullptr;
  }
  HeldMetadataSnap& operator=(HeldMetadataSnap&&) = delete;
  ~HeldMetadataSnap();

  // Sends release_metadata_snap; later calls and the destructor do nothing.
  absl::Status Release();

 private:
  HeldMetadataSnap(dmioctl::DeviceMapper* dm, std::string pool)
      : dm_(dm), pool_(std::move(pool)) {}

  dmioctl::DeviceMapper* dm_;  // null once released
  std::string pool_;
};

// WithPoolSnapshot()
//
// Runs `read` while `pool`'s metadata snapshot is held (the metadata device
// `metadata_dev` then holds it at the superblock's held root), then
// releases it. SIGINT, SIGTERM, SIGHUP and SIGPIPE wait until the release.
// Returns the first error: the reserve's, `read`'s (with the release's
// appended if that failed too), or the release's.
absl::Status WithPoolSnapshot(dmioctl::DeviceMapper& dm,
                              const std::string& pool,
                              const std::string& metadata_dev,
                              absl::FunctionRef<absl::Status()> read);

// BlockDeviceNode()
//
// The /dev node of block device `dev` ("7:1", as a pool's table names its
// metadata device): /dev/<DEVNAME> from /sys/dev/block/MAJ:MIN/uevent,
// checked to be that block device. ENOENT when there is none.
absl::StatusOr<std::string> BlockDeviceNode(absl::string_view dev);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_COMMON_POOL_SNAPSHOT_H_
