// File: tools/docker/orphans.h
//
// The pool's thin devices against Docker's metadata: which thin devices no
// Docker metadata references (orphans: they keep taking pool space after a
// daemon crash or a failed removal), which metadata names a device the pool
// does not have, and their deletion with the pool's `delete <id>` message
// (`dmkit docker ls --orphans`, `dmkit docker gc`).
//
// The pool's side comes from its own metadata (tools/common/thin_metadata.h):
// the device details tree (id, mapped blocks, creation time). An active
// pool's metadata is read only through the metadata snapshot it holds for us
// (tools/common/pool_snapshot.h), reserved and released around the read.
//
// Docker's side: every device file in <root>/devicemapper/metadata (base
// included; deviceset-metadata and transaction-metadata are not device
// files), the pre-1.10 devicemapper/json Docker has not migrated yet, and
// the device of an open transaction (transaction-metadata's device_id: a
// device being created or deleted when the daemon stopped, which Docker
// finishes or rolls back at its next start). A file that cannot be read
// leaves the set incomplete, and then nothing may be deleted.
#ifndef DMKIT_TOOLS_DOCKER_ORPHANS_H_
#define DMKIT_TOOLS_DOCKER_ORPHANS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "tools/common/thin_metadata.h"
#include "tools/docker/devices.h"
#include "tools/docker/store.h"

namespace dmkit::docker {

// A thin device as the pool's metadata has it.
struct PoolThin {
  uint32_t id = 0;
  uint64_t mapped_blocks = 0;
  uint64_t transaction_id = 0;
  uint32_t creation_time = 0;  // the pool's snapshot counter, not a clock
  uint32_t snapshotted_time = 0;
};

struct PoolThins {
  uint32_t data_block_sectors = 0;
  uint64_t transaction_id = 0;
  std::vector<PoolThin> thins;  // in id order
  // With ReadPoolThins(..., extent_of): the highest virtual block that
  // device maps (nullopt when it maps none).
  std::optional<uint64_t> highest_block;

  uint64_t MappedBytes(const PoolThin& t) const {
    return t.mapped_blocks * data_block_sectors * 512;
  }
  const PoolThin* Find(uint32_t id) const;
};

// ReadPoolThins()
//
// The thin devices of the metadata on `source` (with `snapshot`, of the
// metadata snapshot it holds). With `extent_of`, also that device's highest
// mapped block, if the pool has that device (see Find()). Errors name the
// source and the tree.
absl::StatusOr<PoolThins> ReadPoolThins(
    const thin::Source& source, bool snapshot,
    std::optional<uint32_t> extent_of = std::nullopt);

// ReadLivePoolThins()
//
// The same for the active pool `pool`, through its metadata snapshot:
// reserved, read from the pool's metadata device (its /dev node), released.
absl::StatusOr<PoolThins> ReadLivePoolThins(
    dmioctl::DeviceMapper& dm, const PoolState& pool,
    std::optional<uint32_t> extent_of = std::nullopt);

// One device Docker's metadata names.
struct Reference {
  uint32_t device_id = 0;
  uint64_t size = 0;   // bytes (0 for the open transaction)
  std::string hash;    // "base", a mount-id, "<mount-id>-init", ...
  std::string source;  // the file that says so
  bool deleted = false;
};

struct DockerReferences {
  std::vector<Reference> devices;
  // Why the set may be incomplete: the metadata directory or a file in it
  // could not be read or parsed. Empty when complete.
  std::vector<std::string> problems;
  bool has_base = false;
};

// ReadReferences()
//
// Docker's side, as the file comment describes it. Never fails: what
// cannot be read is a problem in the result.
DockerReferences ReadReferences(const Store& store);

struct Orphans {
  std::vector<PoolThin> thins;     // in the pool, referenced by nothing
  std::vector<Reference> missing;  // Docker's, but not in the pool
};

// FindOrphans()
//
// Compares the two sides by device id.
Orphans FindOrphans(const DockerReferences& refs, const PoolThins& pool);

// GcRefusal()
//
// Why the orphans must not be deleted, or OK: Docker's metadata incomplete
// or without its base device (then every device would look orphaned), the
// pool refusing changes (fail, read-only, needs_check), or an orphan that is
// active (names the mapping).
absl::Status GcRefusal(const DockerReferences& refs, const Orphans& orphans,
                       const PoolState& pool,
                       const std::vector<ThinMapping>& mappings);

// What DeleteThins() did.
struct Deletion {
  std::vector<uint32_t> deleted;
  std::optional<uint32_t> failed_id;
  absl::Status error;          // of failed_id
  std::vector<uint32_t> left;  // not tried after the failure

  // "deleted thin devices 3, 4 of POOL; delete 5 failed: ... [errno 16];
  // not tried: 6, 7" (for the error line).
  std::string Summary(const std::string& pool) const;
};

// DeleteThins()
//
// Sends `delete <id>` to the pool for each id in order, calling
// `on_deleted` after each one the pool took; stops at the first error.
Deletion DeleteThins(dmioctl::DeviceMapper& dm, const std::string& pool,
                     const std::vector<uint32_t>& ids,
                     const std::function<void(uint32_t)>& on_deleted);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_ORPHANS_H_
