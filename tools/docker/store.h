// File: tools/docker/store.h
//
// What Docker's devicemapper graph driver (Docker 1.10 to 20.10) leaves on
// disk under its root, read without the daemon:
//
//   <root>/containers/<id>/config.v2.json           "Name", "State", ...
//   <root>/image/devicemapper/layerdb/mounts/<id>/mount-id
//                                                    the container's device
//                                                    hash (64 hex, no newline)
//   <root>/devicemapper/metadata/<hash>              {"device_id":34709,
//                                                     "size":10737418240,...}
//   <root>/devicemapper/devicemapper/{data,metadata} loop-lvm pool files
//
// and the names Docker gives the devices: docker-MAJ:MIN-INO-<hash> and the
// pool docker-MAJ:MIN-INO-pool, where MAJ:MIN and INO come from stat() of
// <root>/devicemapper (moby daemon/graphdriver/devmapper/deviceset.go).
//
// Nothing here writes to Docker's files.
#ifndef DMKIT_TOOLS_DOCKER_STORE_H_
#define DMKIT_TOOLS_DOCKER_STORE_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmkit::docker {

// devicemapper/metadata/<hash>: json.Marshal of deviceset.go's DevInfo.
struct DeviceMetadata {
  uint32_t device_id = 0;  // thin device id in the pool (24 bits)
  uint64_t size = 0;       // bytes
  uint64_t transaction_id = 0;
  bool initialized = false;  // true only for "base"
  bool deleted = false;      // deferred deletion pending: never activate

  uint64_t sectors() const { return size / 512; }
};
absl::StatusOr<DeviceMetadata> ParseDeviceMetadata(absl::string_view text);

// devicemapper/metadata/deviceset-metadata.
struct DeviceSetMetadata {
  uint64_t next_device_id = 0;
  std::string base_device_uuid;
  std::string base_device_filesystem;
};
absl::StatusOr<DeviceSetMetadata> ParseDeviceSetMetadata(
    absl::string_view text);

// devicemapper/metadata/transaction-metadata.
struct TransactionMetadata {
  uint64_t open_transaction_id = 0;
  std::string device_hash;
  uint32_t device_id = 0;
};
absl::StatusOr<TransactionMetadata> ParseTransactionMetadata(
    absl::string_view text);

// containers/<id>/config.v2.json, the fields dmkit uses.
struct ContainerConfig {
  std::string id;
  std::string name;  // as stored: "/kubesql-server"
  std::string image;
  std::string driver;  // "devicemapper"
  bool running = false;
  int64_t pid = 0;
};
absl::StatusOr<ContainerConfig> ParseContainerConfig(absl::string_view text);

// ParseMountId()
//
// The content of a layerdb mount-id (or init-id) file: a device hash, 64
// lowercase hex digits (or a pre-1.10 id of the same shape, or "<hash>-init"
// for init-id). Surrounding whitespace is tolerated; anything that could not
// be part of a dm name is rejected.
absl::StatusOr<std::string> ParseMountId(absl::string_view text);

// Device names (deviceset.go: devicePrefix, DevInfo.Name, getPoolName).
//
// DevicePrefix() encodes st_dev as Docker's major()/minor() do:
// major = (dev >> 8) & 0xfff, minor = (dev & 0xff) | ((dev >> 12) & 0xfff00).
std::string DevicePrefix(dev_t st_dev, ino_t st_ino);
// "<prefix>-<hash>"; an empty hash is the base device, "<prefix>-base".
std::string DeviceName(absl::string_view prefix, absl::string_view hash);
std::string PoolName(absl::string_view prefix);

// ReadFileBounded()
//
// The whole file, at most `max_bytes` (larger is an error). Errors carry the
// errno and read "read <path>: <strerror>".
absl::StatusOr<std::string> ReadFileBounded(const std::string& path,
                                            size_t max_bytes = 16 << 20);

// A Docker root directory and the paths inside it.
class Store {
 public:
  explicit Store(std::string root);

  const std::string& root() const { return root_; }
  std::string DriverHome() const;  // <root>/devicemapper
  std::string ContainersDir() const;
  std::string ConfigPath(absl::string_view id) const;
  std::string LayerMountsDir() const;
  std::string MountIdPath(absl::string_view id) const;
  std::string MetadataDir() const;
  std::string MetadataPath(absl::string_view hash) const;
  std::string LoopDataPath() const;
  std::string LoopMetadataPath() const;
  std::string MountPointOf(absl::string_view hash) const;  // mnt/<hash>

  // DevicePrefix() from stat() of DriverHome().
  absl::StatusOr<std::string> Prefix() const;

  // Container ids found in containers/ or layerdb/mounts/ (either is
  // enough), sorted. Fails only when neither directory can be read.
  absl::StatusOr<std::vector<std::string>> ListContainerIds() const;

  absl::StatusOr<ContainerConfig> ReadConfig(absl::string_view id) const;
  absl::StatusOr<std::string> ReadMountId(absl::string_view id) const;
  absl::StatusOr<DeviceMetadata> ReadDeviceMetadata(
      absl::string_view hash) const;

 private:
  std::string root_;
};

// One container and what could be learned about its device. A broken file
// does not hide the container: the error is kept next to the field.
struct Container {
  std::string id;
  std::string name;  // "/name", empty if config.v2.json was unreadable
  bool running = false;
  absl::Status config_error;
  std::string mount_id;
  absl::Status mount_id_error;
  std::optional<DeviceMetadata> device;
  absl::Status device_error;

  // The name without Docker's leading '/'.
  std::string ShortName() const;
};

// LoadContainers()
//
// Every container of the store, sorted by id.
absl::StatusOr<std::vector<Container>> LoadContainers(const Store& store);

// ResolveContainer()
//
// Finds one container as `docker` does: an exact id, then an exact name
// (with or without the leading '/'), then a unique id prefix. An ambiguous
// prefix is an error listing every candidate; no match is kNotFound.
absl::StatusOr<const Container*> ResolveContainer(
    const std::vector<Container>& containers, absl::string_view query);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_STORE_H_
