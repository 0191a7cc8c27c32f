// File: tools/docker/devices.h
//
// Docker's devices as device-mapper sees them: the pool, the thin mappings
// on it, and the activation of one container device with Docker's exact
// name and table. Only activation and deactivation: nothing here sends a
// message to the pool (no create_thin, no delete, no set_transaction_id),
// so the pool's metadata and Docker's transaction bookkeeping stay as they
// are.
#ifndef DMKIT_TOOLS_DOCKER_DEVICES_H_
#define DMKIT_TOOLS_DOCKER_DEVICES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/nodes.h"
#include "dmioctl/targets.h"
#include "tools/docker/store.h"

namespace dmkit::docker {

// dmkit marks the devices it activates with a dm uuid of its own. Docker
// sets no uuid, so the mark lives with the device and never touches
// Docker's files; `umount` removes only devices carrying it.
inline constexpr absl::string_view kMountUuidPrefix = "DMKIT-DOCKER-";
// Brief read-only activations for `df`, under a name Docker never uses.
inline constexpr absl::string_view kMeasureNamePrefix = "dmkit-df-";
inline constexpr absl::string_view kMeasureUuidPrefix = "DMKIT-DOCKER-DF-";

std::string MountUuid(absl::string_view mount_id);

// The pool device and what the kernel says about it.
struct PoolState {
  std::string name;
  dmioctl::DeviceInfo info;
  std::string table_line;  // "0 167772160 thin-pool 7:1 7:0 128 32768 1 ..."
  dmioctl::targets::ThinPoolParams params;
  dmioctl::targets::ThinPoolStatus status;

  uint64_t data_block_bytes() const {
    return params.options.data_block_sectors * 512;
  }
  // Why new mappings must not be made on this pool, or "" if they may:
  // fail mode, metadata error, read-only mode, needs_check.
  std::string RefusalReason() const;
};

// GetPoolState()
//
// The pool called `name`: kNotFound (with the errno) when no such device
// exists, kFailedPrecondition when it is not a single thin-pool target.
absl::StatusOr<PoolState> GetPoolState(dmioctl::DeviceMapper& dm,
                                       absl::string_view name);

// An active thin target on the pool.
struct ThinMapping {
  std::string name;
  std::string uuid;
  dmioctl::DevNum dev;
  uint32_t thin_id = 0;
  uint64_t sectors = 0;
  bool read_only = false;
  int32_t open_count = 0;
  std::string table_line;
};

// ListThinMappings()
//
// Every device whose table is one thin target on `pool_dev` ("MAJ:MIN").
// Devices that disappear during the scan are skipped.
absl::StatusOr<std::vector<ThinMapping>> ListThinMappings(
    dmioctl::DeviceMapper& dm, const dmioctl::DevNum& pool_dev);

// The table Docker loads for a container device:
// "0 <size/512> thin <pool MAJ:MIN> <device_id>".
dmioctl::Table DockerThinTable(const DeviceMetadata& device,
                               const dmioctl::DevNum& pool_dev, bool read_only);

// The thin status of an active device, as used/size.
struct Usage {
  uint64_t used_bytes = 0;
  uint64_t size_bytes = 0;
  double percent() const {
    return size_bytes == 0 ? 0.0 : 100.0 * used_bytes / size_bytes;
  }
};
absl::StatusOr<Usage> ThinUsage(dmioctl::DeviceMapper& dm,
                                const dmioctl::DeviceRef& device,
                                uint64_t size_bytes);

// MeasureInactive()
//
// Used space of a device that is not active: activates it briefly with a
// READ-ONLY table under kMeasureNamePrefix + mount-id (no node), reads the
// thin status and removes it again, removal included in the result.
absl::StatusOr<Usage> MeasureInactive(dmioctl::DeviceMapper& dm,
                                      const PoolState& pool,
                                      absl::string_view mount_id,
                                      const DeviceMetadata& device);

// "10.0 GiB", "512 B": binary units, one decimal.
std::string HumanBytes(uint64_t bytes);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_DEVICES_H_
