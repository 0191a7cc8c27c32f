// `dmkit docker mount --device-id N [--rw] DIR`: a thin device of the pool
// mounted by its id alone, for when Docker's metadata (which holds its size)
// is lost. The size comes in two steps: the device is first activated
// read-only just long enough to hold every block it maps (the highest
// mapped block, from the pool's metadata snapshot), which includes the
// filesystem's superblock; the superblock gives the filesystem's size
// (ext4, xfs); the device is reloaded at that size, then mounted. All or
// nothing: on any failure the device and its node are removed again.
#include <errno.h>
#include <stdio.h>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "mountns/mount.h"
#include "tools/docker/commands.h"
#include "tools/docker/orphans.h"

namespace dmkit::docker {
namespace {

using dmioctl::DeviceMapper;
using dmioctl::DeviceRef;

// The name and uuid of a device `mount --device-id` activates: under
// Docker's prefix (so `umount DIR` recognises it), but never a name Docker
// gives (its names end in a hash, "-init" or "base").
std::string ThinKey(uint32_t id) { return absl::StrCat("thin-", id); }

dmioctl::Table ThinTable(const PoolState& pool, uint32_t id, uint64_t sectors,
                         bool read_only) {
  dmioctl::Table table;
  table.targets.push_back(
      dmioctl::targets::Thin(0, sectors, pool.info.dev.ToString(), id));
  table.read_only = read_only;
  return table;
}

// Refuses a thin id that is active under any name, and a name that is
// taken.
absl::Status CheckInactive(DeviceMapper& dm, const PoolState& pool, uint32_t id,
                           const std::string& name) {
  absl::StatusOr<std::vector<ThinMapping>> mappings =
      ListThinMappings(dm, pool.info.dev);
  if (!mappings.ok()) return About(pool.name, mappings.status());
  for (const ThinMapping& m : *mappings) {
    if (m.thin_id != id) continue;
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to activate thin device ", id, " of ", pool.name,
        ": it is already active as ", m.name, " (", m.dev.ToString(), ")"));
  }
  absl::StatusOr<dmioctl::TableReply> other =
      dm.GetTable(DeviceRef::ByName(name));
  if (other.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to use ", name, ": it exists"));
  }
  if (dmkit::ErrnoOf(other.status()) != ENXIO) {
    return About(name, other.status());
  }
  return absl::OkStatus();
}

// The sectors of the first activation: every mapped block.
absl::StatusOr<uint64_t> MappedExtent(DeviceMapper& dm, const PoolState& pool,
                                      uint32_t id) {
  absl::StatusOr<PoolThins> thins = ReadLivePoolThins(dm, pool, id);
  if (!thins.ok()) return About(pool.name, thins.status());
  if (thins->Find(id) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("pool ", pool.name, " has no thin device ", id));
  }
  if (!thins->highest_block) {
    return absl::FailedPreconditionError(
        absl::StrCat("thin device ", id, " of ", pool.name,
                     " maps no blocks: it holds no filesystem"));
  }
  return (*thins->highest_block + 1) * thins->data_block_sectors;
}

struct Activated {
  dmioctl::ScopedDevice device;
  std::string report;
};

// Activates thin `id` sized from its highest mapped block, reads the size of
// its filesystem, and reloads it at that size (read-only unless `rw`).
absl::StatusOr<Activated> Activate(Session& s, DeviceMapper& dm,
                                   const PoolState& pool, uint32_t id,
                                   bool rw) {
  std::string name = DeviceName(s.prefix(), ThinKey(id));
  if (absl::Status c = CheckInactive(dm, pool, id, name); !c.ok()) return c;
  absl::StatusOr<uint64_t> extent = MappedExtent(dm, pool, id);
  if (!extent.ok()) return extent.status();
  Activated a;
  absl::StatusOr<dmioctl::ScopedDevice> d = dmioctl::ScopedDevice::Create(
      dm, name, ThinTable(pool, id, *extent, /*read_only=*/true),
      {.uuid = MountUuid(ThinKey(id)), .nodes = &s.nodes()});
  if (!d.ok()) return About(name, d.status());
  a.device = std::move(*d);
  std::string node = s.nodes().PathFor(name);
  absl::StatusOr<mountns::FilesystemSize> fs =
      mountns::ReadFilesystemSize(node);
  if (!fs.ok()) {
    return absl::Status(
        fs.status().code(),
        absl::StrCat("thin device ", id, ": ", Describe(fs.status())));
  }
  dmioctl::Table table = ThinTable(pool, id, fs->bytes / 512, !rw);
  absl::StatusOr<dmioctl::DeviceInfo> reloaded =
      dmioctl::ReloadTable(dm, DeviceRef::ByName(name), table, /*resume=*/true);
  if (!reloaded.ok()) return About(name, reloaded.status());
  a.report = absl::StrCat(
      "activated ", name, " (", a.device.dev().ToString(), ")",
      rw ? "" : " read-only", ": ", dmioctl::FormatTable(table),
      "  sized by its ", fs->type, " superblock: ", HumanBytes(fs->bytes),
      " (the mapped blocks reach ", HumanBytes(*extent * 512), ")\n");
  return a;
}

}  // namespace

int MountThinCommand(Session& s, const Options& options) {
  uint32_t id = *options.device_id;
  absl::StatusOr<std::string> mountpoint = CheckMountPoint(options.args[0]);
  if (!mountpoint.ok()) return Fail(mountpoint.status());
  absl::StatusOr<DeviceMapper*> dm = s.Dm();
  if (!dm.ok()) return Fail(dm.status());
  absl::StatusOr<PoolState> pool = s.Pool();
  if (!pool.ok()) return Fail(pool.status());
  if (std::string why = pool->RefusalReason(); !why.empty()) {
    return Fail(absl::StrCat("refusing to activate thin device ", id, " on ",
                             pool->name, ": ", why));
  }
  absl::StatusOr<Activated> a = Activate(s, **dm, *pool, id, options.rw);
  if (!a.ok()) return Fail(a.status());
  std::string node = s.nodes().PathFor(a->device.name());
  std::string fs, fs_options;
  absl::StatusOr<mountns::ScopedMount> mount =
      MountNode(node, *mountpoint, options.rw, fs, fs_options);
  if (!mount.ok()) return Fail(mount.status());
  mount->Release();
  a->device.Release();
  fputs(a->report.c_str(), stdout);
  printf("mounted %s on %s (%s, %s%s%s)\n", node.c_str(), mountpoint->c_str(),
         fs.c_str(), options.rw ? "rw" : "ro", fs_options.empty() ? "" : ",",
         fs_options.c_str());
  printf("`dmkit docker umount %s` unmounts it and removes the device\n",
         mountpoint->c_str());
  return 0;
}

}  // namespace dmkit::docker
