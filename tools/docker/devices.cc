#include "tools/docker/devices.h"

#include <errno.h>

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "dmioctl/table.h"

namespace dmkit::docker {
namespace {

using dmioctl::DeviceMapper;
using dmioctl::DeviceRef;
using dmioctl::DevNum;

// "start length type params", without the space the kernel leaves after a
// thin-pool's feature list.
std::string TableLine(const dmioctl::Target& t) {
  absl::string_view params = absl::StripTrailingAsciiWhitespace(t.params);
  return absl::StrCat(t.start, " ", t.length, " ", t.type,
                      params.empty() ? "" : " ", params);
}

}  // namespace

std::string MountUuid(absl::string_view mount_id) {
  return absl::StrCat(kMountUuidPrefix, mount_id);
}

std::string PoolState::RefusalReason() const {
  if (status.failed) return "the pool is in fail mode (status \"Fail\")";
  if (status.error)
    return "the pool's metadata cannot be read (status \"Error\")";
  if (status.needs_check) {
    return "the pool's metadata needs checking (needs_check: run thin_check)";
  }
  if (status.mode == "ro") return "the pool is in read-only mode";
  return "";
}

absl::StatusOr<PoolState> GetPoolState(DeviceMapper& dm,
                                       absl::string_view name) {
  PoolState pool;
  pool.name = std::string(name);
  DeviceRef ref = DeviceRef::ByName(pool.name);
  absl::StatusOr<dmioctl::TableReply> table = dm.GetTable(ref);
  if (!table.ok()) return table.status();
  pool.info = table->info;
  if (table->targets.size() != 1 || table->targets[0].type != "thin-pool") {
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", name, " is not a thin pool (",
        table->targets.empty()
            ? std::string("no table")
            : absl::StrCat(table->targets.size(), " targets, first ",
                           table->targets[0].type),
        ")"));
  }
  pool.table_line = TableLine(table->targets[0]);
  absl::StatusOr<dmioctl::targets::ThinPoolParams> params =
      dmioctl::targets::ParseThinPoolParams(table->targets[0].params);
  if (!params.ok()) return params.status();
  pool.params = *params;
  // noflush: reading the status must not commit the pool's metadata.
  absl::StatusOr<dmioctl::TableReply> status =
      dm.GetStatus(ref, {.noflush = true});
  if (!status.ok()) return status.status();
  if (status->targets.size() != 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("device ", name, ": no thin-pool status"));
  }
  absl::StatusOr<dmioctl::targets::ThinPoolStatus> s =
      dmioctl::targets::ParseThinPoolStatus(status->targets[0].params);
  if (!s.ok()) return s.status();
  pool.status = *s;
  return pool;
}

absl::StatusOr<std::vector<ThinMapping>> ListThinMappings(
    DeviceMapper& dm, const DevNum& pool_dev) {
  absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> devices =
      dm.ListDevices();
  if (!devices.ok()) return devices.status();
  std::string pool = pool_dev.ToString();
  std::vector<ThinMapping> mappings;
  for (const dmioctl::DeviceListEntry& d : *devices) {
    absl::StatusOr<dmioctl::TableReply> table =
        dm.GetTable(DeviceRef::ByDevNum(d.dev));
    if (!table.ok()) {
      if (dmkit::ErrnoOf(table.status()) == ENXIO) continue;  // gone
      return table.status();
    }
    if (table->targets.size() != 1 || table->targets[0].type != "thin") {
      continue;
    }
    absl::StatusOr<dmioctl::targets::ThinParams> params =
        dmioctl::targets::ParseThinParams(table->targets[0].params);
    if (!params.ok() || params->pool != pool) continue;
    ThinMapping m;
    m.name = table->info.name.empty() ? d.name : table->info.name;
    m.uuid = table->info.uuid;
    m.dev = d.dev;
    m.thin_id = params->thin_id;
    m.sectors = table->targets[0].length;
    m.read_only = table->info.read_only();
    m.open_count = table->info.open_count;
    m.table_line = TableLine(table->targets[0]);
    mappings.push_back(std::move(m));
  }
  return mappings;
}

dmioctl::Table DockerThinTable(const DeviceMetadata& device,
                               const DevNum& pool_dev, bool read_only) {
  dmioctl::Table table;
  table.targets.push_back(dmioctl::targets::Thin(
      0, device.sectors(), pool_dev.ToString(), device.device_id));
  table.read_only = read_only;
  return table;
}

absl::StatusOr<Usage> ThinUsage(DeviceMapper& dm, const DeviceRef& device,
                                uint64_t size_bytes) {
  absl::StatusOr<dmioctl::TableReply> status = dm.GetStatus(device);
  if (!status.ok()) return status.status();
  if (status->targets.size() != 1 || status->targets[0].type != "thin") {
    return absl::FailedPreconditionError(
        absl::StrCat(device.ToString(), " has no thin status"));
  }
  absl::StatusOr<dmioctl::targets::ThinStatus> s =
      dmioctl::targets::ParseThinStatus(status->targets[0].params);
  if (!s.ok()) return s.status();
  if (s->failed) {
    return absl::FailedPreconditionError(
        absl::StrCat(device.ToString(), ": thin status \"Fail\""));
  }
  return Usage{s->mapped_sectors * 512, size_bytes};
}

absl::StatusOr<Usage> MeasureInactive(DeviceMapper& dm, const PoolState& pool,
                                      absl::string_view mount_id,
                                      const DeviceMetadata& device) {
  std::string name = absl::StrCat(kMeasureNamePrefix, mount_id);
  absl::StatusOr<dmioctl::ScopedDevice> scoped = dmioctl::ScopedDevice::Create(
      dm, name, DockerThinTable(device, pool.info.dev, /*read_only=*/true),
      {.uuid = absl::StrCat(kMeasureUuidPrefix, mount_id)});
  if (!scoped.ok()) return scoped.status();
  absl::StatusOr<Usage> usage =
      ThinUsage(dm, DeviceRef::ByName(name), device.size);
  absl::Status removed = scoped->Remove();
  if (!usage.ok()) return usage.status();
  if (!removed.ok()) return removed;
  return usage;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B",   "KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 6) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "%.1f %s", v, kUnits[unit]);
  return buf;
}

}  // namespace dmkit::docker
