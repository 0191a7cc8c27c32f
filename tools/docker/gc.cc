// `dmkit docker ls --orphans`, `dmkit docker gc [--dry-run]`, and the pool's
// thin devices in `ls` when Docker's metadata is missing or unreadable: the
// commands on top of tools/docker/orphans.h.
#include <stdio.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/common/json_writer.h"
#include "tools/docker/commands.h"
#include "tools/docker/orphans.h"
#include "tools/docker/text_table.h"

namespace dmkit::docker {
namespace {

using dmioctl::DeviceMapper;

// What the commands here read: the pool, its thin devices (from its
// metadata snapshot), the active mappings on it, and Docker's references.
struct LiveView {
  PoolState pool;
  PoolThins thins;
  std::vector<ThinMapping> mappings;
  DockerReferences refs;
};

// `refs` is Docker's side, read by the caller.
absl::StatusOr<LiveView> ReadLiveView(Session& s, DockerReferences refs) {
  absl::StatusOr<DeviceMapper*> dm = s.Dm();
  if (!dm.ok()) return dm.status();
  LiveView v;
  absl::StatusOr<PoolState> pool = s.Pool();
  if (!pool.ok()) return pool.status();
  v.pool = std::move(*pool);
  absl::StatusOr<std::vector<ThinMapping>> mappings =
      ListThinMappings(**dm, v.pool.info.dev);
  if (!mappings.ok()) return About(v.pool.name, mappings.status());
  v.mappings = std::move(*mappings);
  absl::StatusOr<PoolThins> thins = ReadLivePoolThins(**dm, v.pool);
  if (!thins.ok()) return thins.status();
  v.thins = std::move(*thins);
  v.refs = std::move(refs);
  return v;
}

std::vector<std::string> ActiveNames(const std::vector<ThinMapping>& mappings,
                                     uint32_t id) {
  std::vector<std::string> names;
  for (const ThinMapping& m : mappings) {
    if (m.thin_id == id) names.push_back(m.name);
  }
  return names;
}

std::string StateOf(const std::vector<ThinMapping>& mappings, uint32_t id) {
  std::vector<std::string> names = ActiveNames(mappings, id);
  return names.empty() ? "inactive"
                       : absl::StrCat("active as ", absl::StrJoin(names, ", "));
}

std::string ThinText(const PoolThins& pool, const PoolThin& t) {
  return absl::StrCat("thin device ", t.id, " (",
                      HumanBytes(pool.MappedBytes(t)),
                      " mapped, creation time ", t.creation_time, ")");
}

void ThinJson(json::Writer& w, const LiveView& v, const PoolThin& t) {
  w.BeginObject();
  w.Key("device_id").Uint(t.id);
  w.Key("mapped_bytes").Uint(v.thins.MappedBytes(t));
  w.Key("creation_time").Uint(t.creation_time);
  w.Key("snapshotted_time").Uint(t.snapshotted_time);
  w.Key("active_names").BeginArray();
  for (const std::string& n : ActiveNames(v.mappings, t.id)) w.String(n);
  w.EndArray();
}

void OrphansJson(const LiveView& v, const Orphans& o) {
  json::Writer w;
  w.BeginObject();
  w.Key("pool").String(v.pool.name);
  w.Key("orphans").BeginArray();
  for (const PoolThin& t : o.thins) {
    ThinJson(w, v, t);
    w.EndObject();
  }
  w.EndArray();
  w.Key("missing").BeginArray();
  for (const Reference& r : o.missing) {
    w.BeginObject();
    w.Key("device_id").Uint(r.device_id);
    w.Key("size").Uint(r.size);
    w.Key("hash").String(r.hash);
    w.Key("file").String(r.source);
    w.Key("deleted").Bool(r.deleted);
    w.EndObject();
  }
  w.EndArray();
  w.Key("problems").BeginArray();
  for (const std::string& p : v.refs.problems) w.String(p);
  w.EndArray();
  w.EndObject();
  fputs(w.Take().c_str(), stdout);
}

void OrphansText(const LiveView& v, const Orphans& o) {
  if (o.thins.empty()) {
    printf(
        "no orphaned thin devices in %s (%zu thin devices, each referenced "
        "by Docker's metadata)\n",
        v.pool.name.c_str(), v.thins.thins.size());
  } else {
    printf("thin devices of %s that no Docker metadata references:\n",
           v.pool.name.c_str());
    TextTable t({"DEVICE_ID", "MAPPED", "CREATE_TIME", "STATE"});
    for (const PoolThin& p : o.thins) {
      t.Row({absl::StrCat(p.id), HumanBytes(v.thins.MappedBytes(p)),
             absl::StrCat(p.creation_time), StateOf(v.mappings, p.id)});
    }
    fputs(t.Render().c_str(), stdout);
  }
  if (o.missing.empty()) {
    printf("every thin device Docker's metadata names is in %s\n",
           v.pool.name.c_str());
    return;
  }
  printf("Docker metadata naming a thin device %s lacks:\n",
         v.pool.name.c_str());
  TextTable t({"DEVICE_ID", "SIZE", "FILE"});
  for (const Reference& r : o.missing) {
    t.Row({absl::StrCat(r.device_id), r.size ? HumanBytes(r.size) : "-",
           absl::StrCat(r.source, r.deleted ? " (deleted)" : "")});
  }
  fputs(t.Render().c_str(), stdout);
}

void WarnIncomplete(const DockerReferences& refs) {
  for (const std::string& p : refs.problems) {
    fprintf(stderr, "docker: warning: %s\n", p.c_str());
  }
  if (!refs.problems.empty() || !refs.has_base) {
    fprintf(stderr,
            "docker: warning: Docker's metadata is incomplete%s: a device "
            "shown as orphaned may still be Docker's\n",
            refs.has_base ? "" : " (no base device)");
  }
}

// Why `ls` must show the pool's own list, or "" when Docker's metadata is
// all there.
std::string MetadataLost(const Session& s, const DockerReferences& refs) {
  if (!refs.problems.empty()) return refs.problems[0];
  if (!refs.has_base) {
    return absl::StrCat("no ", s.store().MetadataPath("base"));
  }
  for (const Container& c : s.containers()) {
    if (!c.device_error.ok()) return Describe(c.device_error);
  }
  return "";
}

// The references of each device id, as "hash, hash".
std::string HashesOf(const DockerReferences& refs, uint32_t id) {
  std::vector<std::string> hashes;
  for (const Reference& r : refs.devices) {
    if (r.device_id == id) hashes.push_back(r.hash);
  }
  return hashes.empty() ? "-" : absl::StrJoin(hashes, ", ");
}

}  // namespace

void PrintPoolThins(Session& s) {
  DockerReferences refs = ReadReferences(s.store());
  std::string lost = MetadataLost(s, refs);
  if (lost.empty()) return;
  absl::StatusOr<LiveView> v = ReadLiveView(s, std::move(refs));
  if (!v.ok()) {
    fprintf(stderr,
            "docker: warning: Docker's metadata is missing or unreadable (%s), "
            "and the pool's thin devices are unknown: %s\n",
            lost.c_str(), Describe(v.status()).c_str());
    return;
  }
  printf(
      "\nDocker's metadata is missing or unreadable (%s); the thin devices "
      "of %s, from the pool's own metadata:\n",
      lost.c_str(), v->pool.name.c_str());
  TextTable t({"DEVICE_ID", "MAPPED", "CREATE_TIME", "STATE", "METADATA"});
  for (const PoolThin& p : v->thins.thins) {
    t.Row({absl::StrCat(p.id), HumanBytes(v->thins.MappedBytes(p)),
           absl::StrCat(p.creation_time), StateOf(v->mappings, p.id),
           HashesOf(v->refs, p.id)});
  }
  fputs(t.Render().c_str(), stdout);
  printf("`dmkit docker mount --device-id ID DIR` mounts one\n");
}

void PoolThinsJson(Session& s, json::Writer& w) {
  DockerReferences refs = ReadReferences(s.store());
  std::string lost = MetadataLost(s, refs);
  if (lost.empty()) return;
  w.Key("metadata_lost").String(lost);
  absl::StatusOr<LiveView> v = ReadLiveView(s, std::move(refs));
  if (!v.ok()) {
    w.Key("pool_thins_error").String(Describe(v.status()));
    return;
  }
  w.Key("pool_thins").BeginArray();
  for (const PoolThin& t : v->thins.thins) {
    ThinJson(w, *v, t);
    w.Key("metadata").BeginArray();
    for (const Reference& r : v->refs.devices) {
      if (r.device_id == t.id) w.String(r.hash);
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
}

int LsOrphans(Session& s, const Options& options) {
  absl::StatusOr<LiveView> v = ReadLiveView(s, ReadReferences(s.store()));
  if (!v.ok()) return Fail(v.status());
  Orphans o = FindOrphans(v->refs, v->thins);
  WarnIncomplete(v->refs);
  if (options.json) {
    OrphansJson(*v, o);
  } else {
    OrphansText(*v, o);
  }
  return 0;
}

int GcCommand(const DeviceMapperOrError& dm_or_error, const Options& options) {
  if (!options.args.empty()) return Fail("gc takes no arguments");
  std::unique_ptr<Session> session = OpenSession(dm_or_error, options);
  if (session == nullptr) return 1;
  Session& s = *session;
  absl::StatusOr<LiveView> v = ReadLiveView(s, ReadReferences(s.store()));
  if (!v.ok()) return Fail(v.status());
  Orphans o = FindOrphans(v->refs, v->thins);
  if (o.thins.empty()) {
    printf("no orphaned thin devices in %s\n", v->pool.name.c_str());
    return 0;
  }
  if (absl::Status r = GcRefusal(v->refs, o, v->pool, v->mappings); !r.ok()) {
    return Fail(r);
  }
  std::vector<uint32_t> ids;
  for (const PoolThin& t : o.thins) {
    if (options.dry_run) {
      printf("would delete %s\n", ThinText(v->thins, t).c_str());
    }
    ids.push_back(t.id);
  }
  if (options.dry_run) {
    printf("dry run: nothing deleted from %s\n", v->pool.name.c_str());
    return 0;
  }
  Deletion d = DeleteThins(**s.Dm(), v->pool.name, ids, [&](uint32_t id) {
    printf("deleted %s\n", ThinText(v->thins, *v->thins.Find(id)).c_str());
    fflush(stdout);
  });
  if (d.failed_id) return Fail(d.Summary(v->pool.name));
  printf("deleted %zu thin devices from %s\n", d.deleted.size(),
         v->pool.name.c_str());
  return 0;
}

}  // namespace dmkit::docker
