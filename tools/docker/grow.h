// File: tools/docker/grow.h
//
// `dmkit docker pool --grow-data SIZE / --grow-metadata SIZE`: more room for
// Docker's loop-lvm pool ("Thin Pool has 0 free data blocks"), in place and
// while it runs, as Docker's own ResizePool and the loop-lvm docs do it:
//
//   1. the sparse file grows to SIZE (ftruncate);
//   2. the loop device over it takes the new size (LOOP_SET_CAPACITY);
//   3. the pool's table is reloaded (for data: the thin-pool target's length
//      becomes the new size in whole data blocks) and the pool resumed; on
//      resume the kernel grows the pool's data and metadata space maps to
//      the new device sizes.
//
// All or nothing: when a step fails, the ones before it are undone (the old
// table by dmioctl::ReloadTable, then each loop device's capacity and file
// size), and the first error is returned with its errno and device name. A
// file is cut back to its old size only if nothing was written past it
// (SEEK_DATA), which holds as long as the pool never ran with the new size.
//
// An inactive pool: only the files grow (and any loop device already bound
// to them); `pool --activate` builds the pool from the files' sizes and the
// kernel grows its space maps then.
#ifndef DMKIT_TOOLS_DOCKER_GROW_H_
#define DMKIT_TOOLS_DOCKER_GROW_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"

namespace dmkit::docker {

// The kernel uses at most this much thin-pool metadata
// (DM_SM_METADATA_MAX_BLOCKS of 4 KiB: one index block of 255 entries, each
// covering 16320 blocks); a larger device's excess stays unused.
inline constexpr uint64_t kMaxThinMetadataBytes = 255ull * 16320 * 4096;

// ParseSize()
//
// SIZE as `pool --grow-*` takes it: decimal bytes, or with a K, M, G or T
// suffix (either case; binary multiples). Zero and overflow are errors.
absl::StatusOr<uint64_t> ParseSize(absl::string_view text);

struct GrowRequest {
  std::optional<uint64_t> data_bytes;
  std::optional<uint64_t> metadata_bytes;
};

struct PoolFiles {
  std::string data;      // <root>/devicemapper/devicemapper/data
  std::string metadata;  // <root>/devicemapper/devicemapper/metadata
};

// GrowLoopPool()
//
// Grows the files of pool `pool_name` (see the file comment) and returns
// what was done, one line per step, with the pool's free data and metadata
// blocks before and after. Refuses (changing nothing) a size that is not
// larger than the file, that adds no whole data block, metadata past the
// kernel's maximum, a pool that is not on loop devices over these files, a
// suspended pool, and one the kernel would not grow (fail mode, needs_check).
// `dev_dir` holds the loop nodes.
absl::StatusOr<std::string> GrowLoopPool(dmioctl::DeviceMapper& dm,
                                         const std::string& pool_name,
                                         const PoolFiles& files,
                                         const GrowRequest& request,
                                         const std::string& dev_dir = "/dev");

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_GROW_H_
