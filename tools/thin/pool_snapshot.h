// File: tools/thin/pool_snapshot.h
//
// `--pool NAME` of `dmkit thin ls|dump`: an active pool's metadata is read
// only through a metadata snapshot the pool holds for us (the
// reserve_metadata_snap message), released again on every path.
#ifndef DMKIT_TOOLS_THIN_POOL_SNAPSHOT_H_
#define DMKIT_TOOLS_THIN_POOL_SNAPSHOT_H_

#include <signal.h>

#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
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

// RunWithPoolSnapshot()
//
// Runs `read` (an applet command body returning its exit status) while
// `pool`'s metadata snapshot is held, then releases it; with an empty `pool`
// just runs `read`. Errors go to stderr as "dmkit thin COMMAND: ...". The
// release failing makes the status 1.
int RunWithPoolSnapshot(absl::StatusOr<dmioctl::DeviceMapper*> dm,
                        const char* command, const std::string& pool,
                        const std::string& metadata_dev,
                        absl::FunctionRef<int()> read);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_THIN_POOL_SNAPSHOT_H_
