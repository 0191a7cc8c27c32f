#include "dmioctl/operations.h"

#include <errno.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/targets.h"

namespace dmioctl {
namespace {

// Rollback removal of a device this process just created, found by name.
// Until its resume, another process can remove it and make another device
// of the same name (which may even get the same number: the kernel hands
// out the lowest free minor), so the device is removed only if the name
// still has our number; a device that is already gone leaves nothing to
// undo but a node of ours. Nothing else holds our half-made device except
// a transient prober (blkid run by udev on the add event), so a short
// bounded retry on EBUSY is enough.
// Returns how the remove went (OK when there was nothing to remove).
absl::Status RemoveCreatedDevice(DeviceMapper& dm, DevNum dev,
                                 absl::string_view name, DeviceNodes* nodes) {
  const DeviceRef by_name = DeviceRef::ByName(std::string(name));
  absl::StatusOr<DeviceInfo> now = dm.GetInfo(by_name);
  if (now.ok() && now->dev != dev) return absl::OkStatus();  // not ours
  absl::Status removed;
  if (now.ok() || dmkit::ErrnoOf(now.status()) != ENXIO) {
    for (int attempt = 0; attempt < 10; ++attempt) {
      removed = dm.RemoveDevice(by_name).status();
      if (removed.ok() || dmkit::ErrnoOf(removed) != EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  // Best effort: the caller reports the error that made us roll back.
  if (nodes != nullptr && removed.ok()) {
    nodes->RemoveIfFor(name, dev).IgnoreError();
  }
  return removed;
}

// The error for a create whose device another process removed before the
// create was done.
absl::Status RemovedMeanwhile(absl::string_view name) {
  return dmkit::ErrnoError(ENXIO,
                           absl::StrCat("device ", name,
                                        " was removed by another process "
                                        "while it was being created"));
}

// After a failed table swap: drop the new inactive table, and resume the
// device if the failed attempt left it suspended when it was not before.
void UndoFailedSwap(DeviceMapper& dm, const DeviceRef& device,
                    bool was_suspended) {
  dm.ClearTable(device).IgnoreError();  // best effort; original error wins
  absl::StatusOr<DeviceInfo> now = dm.GetInfo(device);
  if (now.ok() && now->suspended() && !was_suspended) {
    dm.Resume(device, {.noflush = true, .skip_lockfs = true}).IgnoreError();
  }
}

// After a failed resume of a reload. The kernel fails a resume at one of two
// points: binding the new table (dm_swap_table), which leaves the old table
// live, or in a target's preresume (a thin-pool refuses to shrink), which
// comes after the swap: the old table is destroyed by then and the device
// stays suspended with the new one. In that case load the old table again
// and, if the device was running before, resume it.
void UndoFailedReload(DeviceMapper& dm, const DeviceRef& device,
                      const absl::StatusOr<TableReply>& old_live,
                      bool was_suspended) {
  dm.ClearTable(device).IgnoreError();  // best effort; original error wins
  absl::StatusOr<TableReply> now = dm.GetTable(device);
  bool swapped = old_live.ok() && old_live->info.live_table() && now.ok() &&
                 now->targets != old_live->targets;
  if (swapped) {
    Table old_table;
    old_table.targets = old_live->targets;
    old_table.read_only = old_live->info.read_only();
    if (!dm.LoadTable(device, old_table).ok()) return;
  }
  absl::StatusOr<DeviceInfo> info = dm.GetInfo(device);
  if (info.ok() && info->suspended() && !was_suspended) {
    dm.Resume(device, {.noflush = true, .skip_lockfs = true}).IgnoreError();
  }
}

}  // namespace

absl::StatusOr<DeviceInfo> CreateDevice(DeviceMapper& dm,
                                        absl::string_view name,
                                        const Table& table,
                                        const CreateOptions& options) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  if (!table.empty() && options.check_table_first) {
    DMKIT_RETURN_IF_ERROR(table.Validate());
  }
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo created,
                         dm.CreateDevice({.name = std::string(name),
                                          .uuid = options.uuid,
                                          .minor = options.minor}));
  if (options.on_created) options.on_created(created);
  if (table.empty()) return created;

  // The steps address the device by name, so that the table can land in no
  // device of another name (a number is reused as soon as it is free); each
  // reply says which device answered. If another process removed ours in
  // between, it may have made a new one of the same name: that device is
  // left to its creator (only a table of ours in it that it would never
  // replace, its table being live already, is cleared).
  const DeviceRef by_name = DeviceRef::ByName(std::string(name));
  auto rollback = absl::MakeCleanup([&] {
    absl::Status removed =
        RemoveCreatedDevice(dm, created.dev, name, options.nodes);
    if (!removed.ok() && options.on_rollback_failure) {
      options.on_rollback_failure(removed);
    }
  });
  // The kernel's answer to a table it refuses (the device exists).
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo loaded,
                         table.Validate().ok()
                             ? dm.LoadTable(by_name, table)
                             : absl::StatusOr<DeviceInfo>(
                                   KernelError({.error_number = EINVAL,
                                                .operation = "reload",
                                                .ioctl_name = "DM_TABLE_LOAD",
                                                .name = std::string(name)})));
  if (loaded.dev != created.dev) {
    if (loaded.live_table()) dm.ClearTable(by_name).IgnoreError();
    return RemovedMeanwhile(name);
  }
  DMKIT_ASSIGN_OR_RETURN(
      DeviceInfo resumed,
      dm.Resume(by_name, {.skip_lockfs = options.skip_lockfs}));
  if (resumed.dev != created.dev) return RemovedMeanwhile(name);
  if (options.nodes != nullptr) {
    absl::Status added = options.nodes->Add(name, created.dev).status();
    // A remove by another process that came before the node could not
    // unlink it: look again, and leave no node of a gone device (or ours in
    // place of a newer device's). The look failing otherwise is a failed
    // step like any other.
    absl::StatusOr<DeviceInfo> now = dm.GetInfo(by_name);
    const bool gone = !now.ok() && dmkit::ErrnoOf(now.status()) == ENXIO;
    if (!added.ok()) {
      // A remove that came between our mknod and chown unlinked the node
      // under us: that is the race, not a failure of the node's own.
      if (gone || (now.ok() && now->dev != created.dev)) {
        return RemovedMeanwhile(name);
      }
      return added;
    }
    if (!now.ok() && !gone) return now.status();
    std::move(rollback).Cancel();
    if (now.ok() && now->dev != created.dev) {
      options.nodes->Add(name, now->dev).IgnoreError();
    } else if (!now.ok()) {
      options.nodes->RemoveIfFor(name, created.dev).IgnoreError();
    }
    return resumed;
  }
  std::move(rollback).Cancel();
  return resumed;
}

absl::StatusOr<DeviceInfo> WipeTable(DeviceMapper& dm,
                                     const DeviceRef& device) {
  DMKIT_ASSIGN_OR_RETURN(TableReply live, dm.GetTable(device));
  if (!live.info.live_table() || live.targets.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(device.ToString(), ": no live table to wipe"));
  }
  Table error_table;
  error_table.targets.push_back(targets::Error(
      0, live.targets.back().start + live.targets.back().length));
  DMKIT_RETURN_IF_ERROR(dm.LoadTable(device, error_table).status());
  // noflush + skip-lockfs: holders' I/O must fail now, not be flushed into a
  // device that may be gone (as libdevmapper's _error_device does).
  absl::StatusOr<DeviceInfo> resumed =
      dm.Resume(device, {.noflush = true, .skip_lockfs = true});
  if (!resumed.ok()) UndoFailedSwap(dm, device, live.info.suspended());
  return resumed;
}

absl::StatusOr<DeviceInfo> RemoveDevice(DeviceMapper& dm,
                                        const DeviceRef& device,
                                        const RemoveOptions& options) {
  DMKIT_RETURN_IF_ERROR(device.Validate());
  if (options.force) {
    absl::StatusOr<DeviceInfo> wiped = WipeTable(dm, device);
    // A device without a live table has nothing to wipe; remove it as is.
    if (!wiped.ok() && !absl::IsFailedPrecondition(wiped.status())) {
      return wiped.status();
    }
  }
  absl::StatusOr<DeviceInfo> removed;
  for (int attempt = 0;; ++attempt) {
    removed = dm.RemoveDevice(device, options.deferred);
    if (removed.ok() || dmkit::ErrnoOf(removed.status()) != EBUSY ||
        attempt >= options.retries) {
      break;
    }
    if (options.on_retry) options.on_retry(attempt + 1, removed.status());
    std::this_thread::sleep_for(options.retry_delay);
  }
  if (!removed.ok()) return removed.status();
  // With a deferred remove still pending the device (and its node) live on
  // until the last close.
  bool pending = options.deferred && removed->deferred_remove();
  if (options.nodes != nullptr && !pending && !removed->name.empty()) {
    DMKIT_RETURN_IF_ERROR(options.nodes->Remove(removed->name));
  }
  return removed;
}

absl::StatusOr<DeviceInfo> RenameDevice(DeviceMapper& dm,
                                        absl::string_view name,
                                        absl::string_view new_name,
                                        const RenameOptions& options) {
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo renamed, dm.Rename(name, new_name));
  renamed.name = std::string(new_name);
  if (options.nodes == nullptr) return renamed;
  absl::Status moved = options.nodes->Rename(name, new_name, renamed.dev);
  if (moved.ok()) return renamed;
  if (options.on_node_failure) {
    options.on_node_failure(moved);
    return renamed;
  }
  // Keep name and node in step: undo the kernel rename, and drop a node
  // made for the new name (best effort; the node's error wins).
  dm.Rename(new_name, name).IgnoreError();
  options.nodes->RemoveIfFor(new_name, renamed.dev).IgnoreError();
  return moved;
}

absl::StatusOr<DeviceInfo> SetDeviceUuid(DeviceMapper& dm,
                                         absl::string_view name,
                                         absl::string_view uuid) {
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo info, dm.SetUuid(name, uuid));
  info.uuid = std::string(uuid);
  return info;
}

absl::StatusOr<DeviceInfo> ReloadTable(DeviceMapper& dm,
                                       const DeviceRef& device,
                                       const Table& table, bool resume,
                                       const SuspendOptions& options) {
  if (!resume) return dm.LoadTable(device, table);
  // The live table, in case the resume fails after the kernel swapped
  // tables (see UndoFailedReload).
  absl::StatusOr<TableReply> old_live = dm.GetTable(device);
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo loaded, dm.LoadTable(device, table));
  absl::StatusOr<DeviceInfo> resumed = dm.Resume(device, options);
  if (!resumed.ok()) {
    UndoFailedReload(dm, device, old_live, loaded.suspended());
  }
  return resumed;
}

namespace {

// Runs work(i) for i in [0, count) on up to `jobs` threads. Each worker
// takes the next index until `stop()` says to stop or the work runs out.
void RunParallel(size_t count, int jobs, const std::function<bool()>& stop,
                 const std::function<void(size_t)>& work) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (;;) {
      if (stop()) return;
      size_t i = next.fetch_add(1);
      if (i >= count) return;
      work(i);
    }
  };
  size_t threads = std::min<size_t>(std::max(jobs, 1), count);
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
}

}  // namespace

absl::StatusOr<std::vector<DeviceInfo>> CreateDevices(
    DeviceMapper& dm, const std::vector<DeviceSpec>& devices,
    const BatchOptions& options) {
  // Everything is validated before the first ioctl.
  for (const DeviceSpec& spec : devices) {
    DMKIT_RETURN_IF_ERROR(ValidateName(spec.name));
    if (!spec.table.empty()) DMKIT_RETURN_IF_ERROR(spec.table.Validate());
  }
  std::vector<std::optional<DeviceInfo>> created(devices.size());
  std::atomic<bool> failed{false};
  std::mutex mu;
  absl::Status first_error;  // guarded by mu
  size_t first_error_index = devices.size();
  auto cancelled = [&] {
    return options.cancel != nullptr && options.cancel->load();
  };
  RunParallel(
      devices.size(), options.jobs,
      [&] { return failed.load() || cancelled(); },
      [&](size_t i) {
        const DeviceSpec& spec = devices[i];
        absl::StatusOr<DeviceInfo> info = CreateDevice(
            dm, spec.name, spec.table,
            {.uuid = spec.uuid, .minor = spec.minor, .nodes = options.nodes});
        if (info.ok()) {
          created[i] = *std::move(info);
          return;
        }
        failed = true;
        std::lock_guard<std::mutex> lock(mu);
        if (i < first_error_index) {
          first_error_index = i;
          first_error = info.status();
        }
      });
  if (!failed && cancelled()) {
    first_error = absl::CancelledError(
        "batch create cancelled; devices it created were removed");
  }
  if (first_error.ok()) {
    std::vector<DeviceInfo> result;
    result.reserve(created.size());
    for (std::optional<DeviceInfo>& info : created) result.push_back(*info);
    return result;
  }
  // Roll back what this batch made, concurrently as well.
  std::vector<size_t> made;
  for (size_t i = 0; i < created.size(); ++i) {
    if (created[i]) made.push_back(i);
  }
  RunParallel(
      made.size(), options.jobs, [] { return false; },
      [&](size_t k) {
        const DeviceInfo& info = *created[made[k]];
        RemoveCreatedDevice(dm, info.dev, devices[made[k]].name,
                            options.nodes)
            .IgnoreError();  // the first error is what the batch reports
      });
  return first_error;
}

absl::Status RemoveDevices(DeviceMapper& dm,
                           const std::vector<DeviceRef>& devices,
                           const RemoveOptions& remove_options,
                           const BatchOptions& options) {
  std::vector<absl::Status> results(devices.size());
  RemoveOptions each = remove_options;
  each.nodes = options.nodes;
  RunParallel(
      devices.size(), options.jobs,
      [&] { return options.cancel != nullptr && options.cancel->load(); },
      [&](size_t i) {
        results[i] = RemoveDevice(dm, devices[i], each).status();
      });
  for (const absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  if (options.cancel != nullptr && options.cancel->load()) {
    return absl::CancelledError("batch remove cancelled");
  }
  return absl::OkStatus();
}

ScopedDevice::ScopedDevice(ScopedDevice&& other) noexcept
    : dm_(other.dm_),
      name_(std::move(other.name_)),
      nodes_(other.nodes_),
      dev_(other.dev_) {
  other.dm_ = nullptr;
}

ScopedDevice& ScopedDevice::operator=(ScopedDevice&& other) noexcept {
  if (this != &other) {
    Remove().IgnoreError();  // destructor semantics for the old device
    dm_ = other.dm_;
    name_ = std::move(other.name_);
    nodes_ = other.nodes_;
    dev_ = other.dev_;
    other.dm_ = nullptr;
  }
  return *this;
}

ScopedDevice::~ScopedDevice() {
  // A destructor cannot report; Remove() is there for callers who care.
  Remove().IgnoreError();
}

absl::StatusOr<ScopedDevice> ScopedDevice::Create(
    DeviceMapper& dm, std::string name, const Table& table,
    const CreateOptions& options) {
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo info,
                         CreateDevice(dm, name, table, options));
  ScopedDevice device(&dm, std::move(name), options.nodes);
  device.dev_ = info.dev;
  return device;
}

absl::Status ScopedDevice::Remove() {
  if (dm_ == nullptr) return absl::OkStatus();
  DeviceMapper* dm = dm_;
  dm_ = nullptr;
  return dmioctl::RemoveDevice(*dm, DeviceRef::ByName(name_),
                               {.retries = 10,
                                .retry_delay = std::chrono::milliseconds(50),
                                .nodes = nodes_})
      .status();
}

std::string ScopedDevice::Release() {
  dm_ = nullptr;
  return name_;
}

}  // namespace dmioctl
