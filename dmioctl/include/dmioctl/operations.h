// File: dmioctl/operations.h
//
// Multi-step device operations. Each one either completes or leaves the
// system as it found it, and reports the FIRST error (with its errno and the
// device name), even when the rollback itself fails.
//
//   dmioctl::DeviceNodes nodes = dmioctl::DeviceNodes::FromEnvironment();
//   dmioctl::Table table;
//   table.targets.push_back(dmioctl::targets::Thin(0, sectors, "253:3", id));
//   auto info = dmioctl::CreateDevice(dm, "docker-253:2-3693860-abc", table,
//                                     {.nodes = &nodes});
#ifndef DMIOCTL_OPERATIONS_H_
#define DMIOCTL_OPERATIONS_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/nodes.h"
#include "dmioctl/table.h"

namespace dmioctl {

struct CreateOptions {
  std::string uuid;
  std::optional<uint32_t> minor;  // persistent minor
  // Node management; nullptr leaves /dev alone (library users with udev).
  DeviceNodes* nodes = nullptr;
  // Resume with DM_SKIP_LOCKFS_FLAG: a new device has no filesystem to
  // freeze, and 6.1 freezes anyway without it (fixed upstream in 6.4,
  // 38d11da522aa).
  bool skip_lockfs = true;

  // For callers that must follow libdevmapper's order and wording (dmsetup):
  //
  // Check the table before the create (the default). When false, the
  // kernel judges it, as libdevmapper leaves it to: a table the kernel
  // would refuse fails the load after the create with the kernel's EINVAL
  // (operation "reload"), and the device is rolled back.
  bool check_table_first = true;
  // Called once the device exists, before its table is loaded.
  std::function<void(const DeviceInfo& created)> on_created;
  // Called when the rollback after a failed step could not remove the
  // device; the step's error is still what CreateDevice returns.
  std::function<void(const absl::Status& remove_error)> on_rollback_failure;
};

// CreateDevice()
//
// DM_DEV_CREATE, then DM_TABLE_LOAD and resume by name, then the node. An
// empty table makes a device with no table (dmsetup --notable): only the
// create. If the load, the resume or the node fails, the device and its node
// are removed again and the original error is returned. Races with other
// processes: if one removes the device before the resume (the load or the
// resume then fails with ENXIO, or answers for a newer device of the same
// name), the error has ENXIO and nothing of another process's is removed;
// if one removes it after the resume, no node is left behind. Returns the
// state after resume.
absl::StatusOr<DeviceInfo> CreateDevice(DeviceMapper& dm,
                                        absl::string_view name,
                                        const Table& table,
                                        const CreateOptions& options = {});

struct RemoveOptions {
  // Retry on EBUSY (a transient opener such as blkid): `retries` more
  // attempts, `retry_delay` apart. Off by default, as in dmsetup;
  // dmsetup --retry is 25 x 200 ms.
  int retries = 0;
  std::chrono::milliseconds retry_delay{200};
  // Mark an open device for removal on its last close.
  bool deferred = false;
  // Replace the table with an `error` target of the same length first (so
  // holders fail fast), resuming with noflush + skip-lockfs, then remove.
  bool force = false;
  DeviceNodes* nodes = nullptr;
  // Called after each failed attempt that will be retried, with its number
  // (1-based) and error, before the sleep (dmsetup prints each one).
  std::function<void(int attempt, const absl::Status& error)> on_retry;
};

// RemoveDevice()
//
// Removes a device and its node. A device that was found suspended is not
// left suspended by a failed remove: if the remove fails, a device this
// call suspended (for --force) is resumed again.
absl::StatusOr<DeviceInfo> RemoveDevice(DeviceMapper& dm,
                                        const DeviceRef& device,
                                        const RemoveOptions& options = {});

// WipeTable()
//
// `dmsetup wipe_table`: loads an `error` table of the device's current
// length and resumes with noflush + skip-lockfs, so all I/O fails at once.
// If the resume fails, the inactive table is cleared again.
absl::StatusOr<DeviceInfo> WipeTable(DeviceMapper& dm, const DeviceRef& device);

struct RenameOptions {
  // Moves the node along (DeviceNodes::Rename); nullptr leaves /dev alone.
  DeviceNodes* nodes = nullptr;
  // When the node cannot be moved. Unset: the kernel rename is undone and
  // the node's error returned, so that name and node stay in step. Set
  // (libdevmapper's way, which dmsetup follows): the rename stands, the
  // hook gets the node's error, and RenameDevice succeeds.
  std::function<void(const absl::Status& node_error)> on_node_failure;
};

// RenameDevice() / SetDeviceUuid()
//
// Rename moves the node along (see RenameOptions). SetDeviceUuid keeps the
// node.
absl::StatusOr<DeviceInfo> RenameDevice(DeviceMapper& dm,
                                        absl::string_view name,
                                        absl::string_view new_name,
                                        const RenameOptions& options = {});
absl::StatusOr<DeviceInfo> SetDeviceUuid(DeviceMapper& dm,
                                         absl::string_view name,
                                         absl::string_view uuid);

// ReloadTable()
//
// Loads `table` into the inactive slot and, with `resume`, swaps it in
// (suspend/resume with the given options). If the resume fails, the old
// table is live again: the new one is cleared from the inactive slot or, if
// the kernel had already swapped it in before a target refused it in
// preresume (a thin-pool that would shrink), the old table (as DM_TABLE_STATUS
// reported it before the load) is loaded and resumed again. A device that was
// suspended before the call stays suspended; it then finds the old table in
// the inactive slot.
absl::StatusOr<DeviceInfo> ReloadTable(DeviceMapper& dm,
                                       const DeviceRef& device,
                                       const Table& table, bool resume,
                                       const SuspendOptions& options = {});

struct BatchOptions {
  // Devices worked on at once. The kernel's remove waits for RCU grace
  // periods, so concurrent removes overlap those waits (about 10x with 8
  // threads under QEMU, see bench/).
  int jobs = 1;
  DeviceNodes* nodes = nullptr;
  // Checked before each device is started; when it becomes true (a signal
  // handler may set it), no new device is started and a create batch rolls
  // back.
  const std::atomic<bool>* cancel = nullptr;
};

// CreateDevices()
//
// Creates every device (each with its table, as CreateDevice does), up to
// `jobs` at a time. All or nothing: on the first failure, or on
// cancellation, no further device is started, every device this batch
// created is removed again, and the first error is returned (Cancelled for
// a cancellation). Returns the devices' states in input order.
absl::StatusOr<std::vector<DeviceInfo>> CreateDevices(
    DeviceMapper& dm, const std::vector<DeviceSpec>& devices,
    const BatchOptions& options = {});

// RemoveDevices()
//
// Removes every device, up to `jobs` at a time (remove options apply to
// each; its `nodes` is taken from `options`). A removal cannot be undone,
// so a failure does not stop the others; the first error (in input order)
// is returned.
absl::Status RemoveDevices(DeviceMapper& dm,
                           const std::vector<DeviceRef>& devices,
                           const RemoveOptions& remove_options,
                           const BatchOptions& options = {});

// A device handle that removes its device when destroyed unless released:
// "own locally, hand over on success".
class ScopedDevice {
 public:
  ScopedDevice() = default;
  ScopedDevice(DeviceMapper* dm, std::string name, DeviceNodes* nodes)
      : dm_(dm), name_(std::move(name)), nodes_(nodes) {}
  ScopedDevice(ScopedDevice&& other) noexcept;
  ScopedDevice& operator=(ScopedDevice&& other) noexcept;
  ~ScopedDevice();

  // Create()
  //
  // CreateDevice() whose result is removed again when the handle goes away.
  static absl::StatusOr<ScopedDevice> Create(DeviceMapper& dm, std::string name,
                                             const Table& table,
                                             const CreateOptions& options = {});

  const std::string& name() const { return name_; }
  DevNum dev() const { return dev_; }
  // Removes the device now and reports how that went.
  absl::Status Remove();
  // Gives up ownership: the device stays.
  std::string Release();

 private:
  DeviceMapper* dm_ = nullptr;
  std::string name_;
  DeviceNodes* nodes_ = nullptr;
  DevNum dev_;
};

}  // namespace dmioctl

#endif  // DMIOCTL_OPERATIONS_H_
