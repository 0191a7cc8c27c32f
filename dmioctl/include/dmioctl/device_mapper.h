// File: dmioctl/device_mapper.h
//
// DeviceMapper issues the 18 commands of the device-mapper ioctl interface
// (4.x), one method per command, through a Transport. Each method builds a
// fresh request (a header the kernel wrote into is never reused), sends it,
// and parses the reply with bounds checks: a reply that does not fit its own
// sizes is an error, never an out-of-bounds read.
//
//   auto dm = dmioctl::DeviceMapper::Open();
//   if (!dm.ok()) return dm.status();
//   auto info = (*dm)->GetInfo(dmioctl::DeviceRef::ByName("pool"));
//
// Buffers: commands whose payload the kernel ignores send only the header,
// commands that only send a payload (load, rename) send exactly that, and
// the ones that return data start from the size their last reply suggested
// (an eighth more than it used, in pages; at least 16 KiB for lists, 4 KiB
// for one device's table, status or deps). On DM_BUFFER_FULL a default-sized
// buffer grows 64-fold, then 8-fold, and a remembered size doubles, up to the
// kernel's 1 GiB cap, so a list of 10,000 devices takes two ioctls the first
// time and one after that. Two commands are never
// repeated for a bigger buffer: a message (the kernel already executed it;
// the call fails with ENOBUFS instead, see SendMessage) and a wait (the
// status is fetched with DM_TABLE_STATUS instead of waiting again).
//
// The interface version comes from the kernel's first reply; every request
// carries the minimum version its command needs, as libdevmapper does.
//
// A DeviceMapper is not thread-safe for concurrent calls on one instance
// only in the sense of its counters; the kernel serialises nothing for us,
// so concurrent calls from several threads are fine and used by batch
// operations.
#ifndef DMIOCTL_DEVICE_MAPPER_H_
#define DMIOCTL_DEVICE_MAPPER_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/table.h"
#include "dmioctl/transport.h"
#include "dmioctl/types.h"

namespace dmioctl {

using InterfaceVersion = std::array<uint32_t, 3>;

// The device state every per-device command returns (the kernel's
// __dev_status output and header fields).
struct DeviceInfo {
  std::string name;
  std::string uuid;
  DevNum dev;
  int32_t open_count = 0;
  uint32_t event_nr = 0;
  uint32_t target_count = 0;
  uint32_t flags = 0;  // raw DM_*_FLAG bits of the reply

  bool suspended() const;
  bool read_only() const;
  bool live_table() const;      // DM_ACTIVE_PRESENT_FLAG
  bool inactive_table() const;  // DM_INACTIVE_PRESENT_FLAG
  bool deferred_remove() const;
  bool internal_suspend() const;
  bool uevent_generated() const;
};

struct DeviceListEntry {
  std::string name;
  DevNum dev;
  std::optional<uint32_t> event_nr;  // interface >= 4.37
  std::optional<std::string> uuid;   // interface >= 4.45, when asked for
};

struct TargetVersion {
  std::string name;
  InterfaceVersion version{};
};

// A table as the kernel reports it: device state plus one line per target
// (the table parameters, or the status text, depending on the call).
struct TableReply {
  DeviceInfo info;
  std::vector<Target> targets;
};

struct DepsReply {
  DeviceInfo info;
  std::vector<DevNum> devices;
};

struct ListOptions {
  bool with_uuid = true;    // ask for uuids (4.45+; ignored before)
  std::string name_prefix;  // 4.45+: only names starting with this
  std::string uuid_prefix;  // 4.45+: only uuids starting with this
};

struct SuspendOptions {
  bool noflush = false;      // DM_NOFLUSH_FLAG
  bool skip_lockfs = false;  // DM_SKIP_LOCKFS_FLAG
};

struct StatusOptions {
  bool inactive = false;  // DM_QUERY_INACTIVE_TABLE_FLAG
  bool noflush = false;   // DM_NOFLUSH_FLAG (no thin-pool metadata commit)
};

struct CreateRequest {
  std::string name;
  std::string uuid;               // empty: none
  std::optional<uint32_t> minor;  // persistent minor (DM_PERSISTENT_DEV_FLAG)
};

// Counts per process of what DeviceMapper sent; benchmarks and tests assert
// on them (for instance, how many ioctls listing 2,000 devices takes).
struct IoctlCounters {
  std::atomic<uint64_t> ioctls{0};
  std::atomic<uint64_t> buffer_full_retries{0};
};

class DeviceMapper {
 public:
  // Open()
  //
  // Opens the control device under `dev_dir` (see OpenControl()).
  static absl::StatusOr<std::unique_ptr<DeviceMapper>> Open(
      absl::string_view dev_dir = "/dev");

  // Instance()
  //
  // The process-wide DeviceMapper on /dev (or $DM_DEV_DIR), opened once on
  // first use. Returns the error of that first open on every call.
  static absl::StatusOr<DeviceMapper*> Instance();

  explicit DeviceMapper(std::unique_ptr<Transport> transport);
  DeviceMapper(const DeviceMapper&) = delete;
  DeviceMapper& operator=(const DeviceMapper&) = delete;
  ~DeviceMapper();

  // DM_VERSION. Also caches the kernel's interface version.
  absl::StatusOr<InterfaceVersion> Version();
  // The kernel's interface version from the last reply, or {0,0,0} before
  // the first one.
  InterfaceVersion kernel_version() const;

  // DM_REMOVE_ALL: removes every device that is not open (with `deferred`,
  // marks open ones for removal on last close).
  absl::Status RemoveAll(bool deferred = false);

  // DM_LIST_DEVICES, in the kernel's order (sorted by name since 4.45).
  absl::StatusOr<std::vector<DeviceListEntry>> ListDevices(
      const ListOptions& options = {});
  // The same, into `*devices`, reusing its entries (see "Reusing forms").
  absl::Status ListDevices(const ListOptions& options,
                           std::vector<DeviceListEntry>* devices);

  // DM_DEV_CREATE: a device with no table. See operations.h for the
  // create + load + resume sequence with rollback.
  absl::StatusOr<DeviceInfo> CreateDevice(const CreateRequest& request);

  // DM_DEV_REMOVE. With `deferred`, an open device is marked for removal on
  // last close and the reply has deferred_remove() set.
  absl::StatusOr<DeviceInfo> RemoveDevice(const DeviceRef& device,
                                          bool deferred = false);

  // DM_DEV_RENAME. The kernel finds the device by its current name only.
  absl::StatusOr<DeviceInfo> Rename(absl::string_view name,
                                    absl::string_view new_name);
  // DM_DEV_RENAME with DM_UUID_FLAG: sets the uuid of a device that has
  // none (the kernel allows setting it once).
  absl::StatusOr<DeviceInfo> SetUuid(absl::string_view name,
                                     absl::string_view uuid);

  // DM_DEV_SUSPEND with and without DM_SUSPEND_FLAG.
  absl::StatusOr<DeviceInfo> Suspend(const DeviceRef& device,
                                     const SuspendOptions& options = {});
  absl::StatusOr<DeviceInfo> Resume(const DeviceRef& device,
                                    const SuspendOptions& options = {});

  // DM_DEV_STATUS. With `inactive`, target_count and read_only() describe
  // the inactive table.
  absl::StatusOr<DeviceInfo> GetInfo(const DeviceRef& device,
                                     bool inactive = false);
  absl::Status GetInfo(const DeviceRef& device, bool inactive,
                       DeviceInfo* info);

  // DM_DEV_WAIT: sleeps until the device's event counter differs from
  // `event_nr`, then returns the status of its targets.
  absl::StatusOr<TableReply> WaitEvent(const DeviceRef& device,
                                       uint32_t event_nr,
                                       const StatusOptions& options = {});

  // DM_TABLE_LOAD into the inactive slot (table.read_only selects a
  // read-only table). Validates the table first.
  absl::StatusOr<DeviceInfo> LoadTable(const DeviceRef& device,
                                       const Table& table);

  // DM_TABLE_CLEAR: drops the inactive table.
  absl::StatusOr<DeviceInfo> ClearTable(const DeviceRef& device);

  // DM_TABLE_DEPS: the devices the table uses.
  absl::StatusOr<DepsReply> GetDeps(const DeviceRef& device,
                                    bool inactive = false);

  // DM_TABLE_STATUS: target status text (GetStatus) or table parameters
  // (GetTable).
  absl::StatusOr<TableReply> GetStatus(const DeviceRef& device,
                                       const StatusOptions& options = {});
  absl::StatusOr<TableReply> GetTable(const DeviceRef& device,
                                      bool inactive = false);
  absl::Status GetStatus(const DeviceRef& device, const StatusOptions& options,
                         TableReply* reply);
  absl::Status GetTable(const DeviceRef& device, bool inactive,
                        TableReply* reply);

  // Reusing forms
  //
  // The overloads of ListDevices, GetInfo, GetStatus and GetTable that take
  // a result pointer write into it instead of returning a new one. Its
  // strings and vectors keep their capacity from one call to the next, so a
  // caller that polls (a monitor reading the status of the same devices
  // every second, a listing repeated in a loop) allocates nothing once the
  // first call has sized them. On error the result is valid but its
  // contents are unspecified.

  // DM_LIST_VERSIONS: the target types the kernel has loaded.
  absl::StatusOr<std::vector<TargetVersion>> ListTargetVersions();

  // DM_TARGET_MSG to the target at `sector`. Returns the target's output
  // (empty when it printed nothing). An empty message is sent as it is
  // (the kernel answers EINVAL); one containing NUL is refused here. Output
  // longer than `max_output` bytes fails with ENOBUFS and is not retried,
  // since the kernel has already acted on the message.
  //
  // The buffer is sized for `max_output`, and the kernel copies all of it
  // in on every message, output or not; the default (a 4 KiB buffer, as
  // for a status) holds every target's reply but dm-stats' @stats_print
  // of many regions. With a 64 KiB buffer a thin-pool create_thin took a
  // quarter longer under QEMU (bench/README.md). Pass more where a longer
  // answer is expected.
  // (312: sizeof(struct dm_ioctl); one byte for the NUL.)
  static constexpr size_t kDefaultMessageOutput = 4096 - 312 - 1;
  absl::StatusOr<std::string> SendMessage(
      const DeviceRef& device, uint64_t sector, absl::string_view message,
      size_t max_output = kDefaultMessageOutput);

  // DM_DEV_SET_GEOMETRY.
  absl::Status SetGeometry(const DeviceRef& device, uint32_t cylinders,
                           uint32_t heads, uint32_t sectors, uint64_t start);

  // DM_DEV_ARM_POLL: re-arms EventFd() so that poll() on it wakes at the next
  // device-mapper event (create, remove, rename, table swap, target event).
  absl::Status ArmPoll();
  int EventFd() const { return transport_->EventFd(); }

  // DM_GET_TARGET_VERSION (4.41+): loads the target's module if needed.
  absl::StatusOr<TargetVersion> GetTargetVersion(absl::string_view type);

  const IoctlCounters& counters() const { return counters_; }

 private:
  struct Request;
  struct Reply;
  struct BufferCache;
  absl::Status Execute(const Request& request, Reply* reply);
  // DM_DEV_RENAME of `name` (validated, like the new name or, with
  // DM_UUID_FLAG, the uuid).
  absl::StatusOr<DeviceInfo> RenameIoctl(absl::string_view name,
                                         absl::string_view new_value,
                                         uint32_t flags);
  absl::Status TableStatus(const DeviceRef& device, uint32_t extra_flags,
                           const char* operation, TableReply* reply);

  std::unique_ptr<Transport> transport_;
  std::atomic<uint32_t> kernel_version_packed_{0};
  IoctlCounters counters_;
  // Per command that returns data: the buffer size to start with next time,
  // learnt from the last reply (0: the command's default). See Execute().
  std::array<std::atomic<uint32_t>, 18> size_hints_{};
  std::unique_ptr<BufferCache> buffer_cache_;
};

}  // namespace dmioctl

#endif  // DMIOCTL_DEVICE_MAPPER_H_
