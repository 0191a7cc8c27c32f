#include "tools/docker/orphans.h"

#include <dirent.h>
#include <errno.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/error.h"
#include "tools/common/pool_snapshot.h"
#include "tools/docker/json.h"
#include "tools/docker/mounts.h"

namespace dmkit::docker {
namespace {

constexpr char kTransactionFile[] = "transaction-metadata";

absl::Status InTree(const thin::Source& source, const char* tree,
                    const absl::Status& s) {
  return absl::Status(
      s.code(), absl::StrCat(source.name(), ": ", tree, ": ", s.message()));
}

// The names in the metadata directory that are device files, as Docker's
// loader (deviceFileWalkFunction) takes them.
absl::StatusOr<std::vector<std::string>> DeviceFiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return dmkit::ErrnoError(errno, absl::StrCat("open ", dir));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    absl::string_view n = e->d_name;
    if (absl::StartsWith(n, ".") || absl::EndsWith(n, ".migrated") ||
        n == "deviceset-metadata" || n == kTransactionFile) {
      continue;
    }
    names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// The device of an open transaction, if transaction-metadata names one.
void AddTransaction(const Store& store, DockerReferences& refs) {
  std::string path = store.MetadataPath(kTransactionFile);
  absl::StatusOr<std::string> text = ReadFileBounded(path, 1 << 20);
  if (!text.ok()) {
    if (dmkit::ErrnoOf(text.status()) != ENOENT) {
      refs.problems.push_back(Describe(text.status()));
    }
    return;
  }
  absl::StatusOr<TransactionMetadata> t = ParseTransactionMetadata(*text);
  if (!t.ok()) {
    refs.problems.push_back(absl::StrCat(path, ": ", t.status().message()));
    return;
  }
  if (t->device_hash.empty() && t->device_id == 0) return;
  refs.devices.push_back(
      {.device_id = t->device_id, .hash = t->device_hash, .source = path});
}

// Docker before 1.10 kept every device in devicemapper/json
// ({"Devices":{"<hash>":{"device_id":...}}}); the daemon moves them to
// metadata/ at its next start, so until then they are references too.
void AddLegacyJson(const Store& store, DockerReferences& refs) {
  std::string path = absl::StrCat(store.DriverHome(), "/devicemapper/json");
  absl::StatusOr<std::string> text = ReadFileBounded(path);
  if (!text.ok()) {
    if (dmkit::ErrnoOf(text.status()) != ENOENT) {
      refs.problems.push_back(Describe(text.status()));
    }
    return;
  }
  absl::StatusOr<json::Value> doc = json::Parse(*text);
  const json::Value* devices = doc.ok() ? doc->Find("Devices") : nullptr;
  if (devices == nullptr || !devices->is_object()) {
    refs.problems.push_back(absl::StrCat(
        path, ": no \"Devices\" object",
        doc.ok() ? "" : absl::StrCat(" (", doc.status().message(), ")")));
    return;
  }
  for (const auto& [hash, info] : devices->members()) {
    absl::StatusOr<uint64_t> id = json::GetUint64(info, "device_id");
    if (!id.ok() || *id > 0xffffff) {
      refs.problems.push_back(
          absl::StrCat(path, ": device ", hash, ": bad or missing device_id"));
      continue;
    }
    refs.devices.push_back({.device_id = static_cast<uint32_t>(*id),
                            .hash = hash.empty() ? "base" : hash,
                            .source = path});
    refs.has_base |= hash.empty() || hash == "base";
  }
}

}  // namespace

const PoolThin* PoolThins::Find(uint32_t id) const {
  auto it = std::lower_bound(
      thins.begin(), thins.end(), id,
      [](const PoolThin& t, uint32_t want) { return t.id < want; });
  return it != thins.end() && it->id == id ? &*it : nullptr;
}

absl::StatusOr<PoolThins> ReadPoolThins(const thin::Source& source,
                                        bool snapshot,
                                        std::optional<uint32_t> extent_of) {
  absl::StatusOr<thin::Superblock> sb =
      thin::OpenMetadata(source, snapshot, nullptr);
  if (!sb.ok()) return sb.status();
  absl::StatusOr<thin::DetailsList> details = thin::ReadDetails(source, *sb);
  if (!details.ok()) return details.status();
  PoolThins out;
  out.data_block_sectors = sb->data_block_size;
  out.transaction_id = sb->transaction_id;
  for (const auto& [id, d] : *details) {
    out.thins.push_back({.id = static_cast<uint32_t>(id),
                         .mapped_blocks = d.mapped_blocks,
                         .transaction_id = d.transaction_id,
                         .creation_time = d.creation_time,
                         .snapshotted_time = d.snapshotted_time});
  }
  if (extent_of && out.Find(*extent_of) != nullptr) {
    thin::Walker walker(source);
    absl::StatusOr<std::optional<uint64_t>> highest =
        thin::HighestMappedBlock(walker, sb->data_mapping_root, *extent_of);
    if (!highest.ok()) {
      return InTree(
          source, "mapping tree",
          absl::IsNotFound(highest.status())
              ? absl::DataLossError(absl::StrCat("no device ", *extent_of,
                                                 " (the details tree has it)"))
              : highest.status());
    }
    out.highest_block = *highest;
  }
  return out;
}

absl::StatusOr<PoolThins> ReadLivePoolThins(dmioctl::DeviceMapper& dm,
                                            const PoolState& pool,
                                            std::optional<uint32_t> extent_of) {
  absl::StatusOr<std::string> node =
      thin::BlockDeviceNode(pool.params.metadata_dev);
  if (!node.ok()) return About(pool.name, node.status());
  absl::StatusOr<PoolThins> thins =
      absl::InternalError("the pool's metadata was not read");
  absl::Status s = thin::WithPoolSnapshot(dm, pool.name, *node, [&] {
    absl::StatusOr<thin::Source> source = thin::Source::Open(*node);
    if (!source.ok()) return source.status();
    thins = ReadPoolThins(*source, /*snapshot=*/true, extent_of);
    return thins.status();
  });
  if (!s.ok()) return s;
  return thins;
}

DockerReferences ReadReferences(const Store& store) {
  DockerReferences refs;
  std::string dir = store.MetadataDir();
  absl::StatusOr<std::vector<std::string>> names = DeviceFiles(dir);
  if (!names.ok()) {
    refs.problems.push_back(Describe(names.status()));
  } else {
    for (const std::string& name : *names) {
      absl::StatusOr<DeviceMetadata> m = store.ReadDeviceMetadata(name);
      if (!m.ok()) {
        refs.problems.push_back(Describe(m.status()));
        continue;
      }
      refs.devices.push_back({.device_id = m->device_id,
                              .size = m->size,
                              .hash = name,
                              .source = store.MetadataPath(name),
                              .deleted = m->deleted});
      refs.has_base |= name == "base";
    }
    AddTransaction(store, refs);
  }
  AddLegacyJson(store, refs);
  return refs;
}

Orphans FindOrphans(const DockerReferences& refs, const PoolThins& pool) {
  Orphans out;
  std::set<uint32_t> referenced;
  for (const Reference& r : refs.devices) referenced.insert(r.device_id);
  for (const PoolThin& t : pool.thins) {
    if (referenced.count(t.id) == 0) out.thins.push_back(t);
  }
  std::set<std::string> seen;  // one line per file and device
  for (const Reference& r : refs.devices) {
    if (pool.Find(r.device_id) != nullptr) continue;
    if (seen.insert(absl::StrCat(r.source, "\n", r.hash)).second) {
      out.missing.push_back(r);
    }
  }
  return out;
}

absl::Status GcRefusal(const DockerReferences& refs, const Orphans& orphans,
                       const PoolState& pool,
                       const std::vector<ThinMapping>& mappings) {
  if (!refs.problems.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to delete anything: Docker's metadata is incomplete (",
        refs.problems[0],
        refs.problems.size() > 1
            ? absl::StrCat("; and ", refs.problems.size() - 1, " more")
            : "",
        "), so a device it references may look orphaned"));
  }
  if (!refs.has_base) {
    return absl::FailedPreconditionError(
        "refusing to delete anything: Docker's metadata has no base device, "
        "so every device would look orphaned");
  }
  if (std::string why = pool.RefusalReason(); !why.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("refusing to delete from ", pool.name, ": ", why));
  }
  for (const PoolThin& t : orphans.thins) {
    for (const ThinMapping& m : mappings) {
      if (m.thin_id != t.id) continue;
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to delete thin device ", t.id, ": it is active as ", m.name,
          " (", m.dev.ToString(), "); nothing was deleted"));
    }
  }
  return absl::OkStatus();
}

std::string Deletion::Summary(const std::string& pool) const {
  std::string out =
      deleted.empty()
          ? absl::StrCat("deleted nothing from ", pool)
          : absl::StrCat("deleted thin devices ", absl::StrJoin(deleted, ", "),
                         " of ", pool);
  if (failed_id) {
    absl::StrAppend(&out, "; delete ", *failed_id,
                    " failed: ", Describe(error));
  }
  if (!left.empty()) {
    absl::StrAppend(&out, "; not tried: ", absl::StrJoin(left, ", "));
  }
  return out;
}

Deletion DeleteThins(dmioctl::DeviceMapper& dm, const std::string& pool,
                     const std::vector<uint32_t>& ids,
                     const std::function<void(uint32_t)>& on_deleted) {
  Deletion d;
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::StatusOr<std::string> reply = dm.SendMessage(
        dmioctl::DeviceRef::ByName(pool), 0, absl::StrCat("delete ", ids[i]));
    if (!reply.ok()) {
      d.failed_id = ids[i];
      d.error = reply.status();
      d.left.assign(ids.begin() + i + 1, ids.end());
      return d;
    }
    d.deleted.push_back(ids[i]);
    if (on_deleted) on_deleted(ids[i]);
  }
  return d;
}

}  // namespace dmkit::docker
