#include "tools/docker/commands.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "tools/common/json_writer.h"
#include "tools/common/loop_device.h"
#include "tools/common/thin_metadata.h"
#include "tools/docker/fault.h"
#include "tools/docker/grow.h"
#include "tools/docker/text_table.h"

namespace dmkit::docker {
namespace {

using dmioctl::DeviceMapper;
using dmioctl::DeviceRef;

std::string Short(absl::string_view id) {
  return std::string(id.substr(0, 12));
}

std::string Percent(double p) {
  char buf[16];
  snprintf(buf, sizeof(buf), "%.1f%%", p);
  return buf;
}

std::string UsageText(const Usage& u) {
  return absl::StrCat(HumanBytes(u.used_bytes), " of ",
                      HumanBytes(u.size_bytes), " (", Percent(u.percent()),
                      ")");
}

std::string StateText(const DeviceView& v) {
  if (v.active) {
    std::string s = "active";
    if (absl::StartsWith(v.active->uuid, kMountUuidPrefix)) s += " (dmkit)";
    if (v.active->read_only) s += " ro";
    return s;
  }
  if (!v.others.empty()) {
    return absl::StrCat("active as ", v.others[0].name);
  }
  return "inactive";
}

void PoolUsageLines(const PoolState& pool, std::vector<std::string>& out) {
  const auto& s = pool.status;
  if (s.failed || s.error) {
    out.push_back(absl::StrCat("status   ", s.failed ? "Fail" : "Error"));
    return;
  }
  uint64_t data_used = s.used_data_blocks * pool.data_block_bytes();
  uint64_t data_total = s.total_data_blocks * pool.data_block_bytes();
  uint64_t meta_used = s.used_metadata_blocks * 4096;
  uint64_t meta_total = s.total_metadata_blocks * 4096;
  out.push_back(absl::StrCat("data     ", UsageText({data_used, data_total}),
                             ", ", s.used_data_blocks, "/", s.total_data_blocks,
                             " blocks of ",
                             HumanBytes(pool.data_block_bytes())));
  out.push_back(absl::StrCat("metadata ", UsageText({meta_used, meta_total}),
                             ", ", s.used_metadata_blocks, "/",
                             s.total_metadata_blocks, " blocks of 4.0 KiB"));
  out.push_back(absl::StrCat("mode     ", s.mode.empty() ? "?" : s.mode,
                             s.needs_check ? ", needs_check" : "",
                             ", transaction id ", s.transaction_id));
}

void PoolJson(json::Writer& w, const absl::StatusOr<PoolState>& pool,
              const PoolChoice& choice) {
  w.Key("pool").BeginObject();
  w.Key("name").String(choice.name);
  w.Key("source").String(choice.source);
  w.Key("active").Bool(pool.ok());
  if (pool.ok()) {
    const auto& s = pool->status;
    w.Key("dev").String(pool->info.dev.ToString());
    w.Key("table").String(pool->table_line);
    w.Key("data_block_bytes").Uint(pool->data_block_bytes());
    w.Key("transaction_id").Uint(s.transaction_id);
    w.Key("data_used_bytes")
        .Uint(s.used_data_blocks * pool->data_block_bytes());
    w.Key("data_total_bytes")
        .Uint(s.total_data_blocks * pool->data_block_bytes());
    w.Key("metadata_used_bytes").Uint(s.used_metadata_blocks * 4096);
    w.Key("metadata_total_bytes").Uint(s.total_metadata_blocks * 4096);
    w.Key("mode").String(s.failed ? "Fail" : s.error ? "Error" : s.mode);
    w.Key("needs_check").Bool(s.needs_check);
  } else {
    w.Key("error").String(pool.status().message());
  }
  w.EndObject();
}

}  // namespace

void PrintWarnings(const Session& s) {
  for (const std::string& w : s.discovery().warnings) {
    fprintf(stderr, "docker: warning: %s\n", w.c_str());
  }
}

std::unique_ptr<Session> OpenSession(const DeviceMapperOrError& dm,
                                     const Options& options,
                                     bool print_warnings) {
  absl::StatusOr<std::unique_ptr<Session>> session = Session::Open(dm, options);
  if (!session.ok()) {
    Fail(session.status());
    return nullptr;
  }
  if (print_warnings) PrintWarnings(**session);
  return *std::move(session);
}

int Fail(const absl::Status& status) {
  fflush(stdout);  // what was done so far comes before why it stopped
  fprintf(stderr, "docker: %s\n", Describe(status).c_str());
  return 1;
}

int Fail(absl::string_view message) {
  fflush(stdout);
  fprintf(stderr, "docker: %.*s\n", static_cast<int>(message.size()),
          message.data());
  return 1;
}

absl::StatusOr<std::unique_ptr<Session>> Session::Open(
    const DeviceMapperOrError& dm, const Options& options) {
  std::unique_ptr<Session> s(new Session());
  s->dm_ = dm;
  s->discovery_ = Discover(options.root);
  s->store_ = Store(s->discovery_.root);
  absl::StatusOr<std::string> prefix = s->store_.Prefix();
  if (!prefix.ok()) {
    return absl::Status(
        prefix.status().code(),
        absl::StrCat(prefix.status().message(), " (Docker root ",
                     s->discovery_.root, " from ", s->discovery_.root_source,
                     "; use --root)"));
  }
  s->prefix_ = *prefix;
  s->pool_ = ChoosePool(options.pool, s->discovery_, s->prefix_);
  absl::StatusOr<std::vector<Container>> containers = LoadContainers(s->store_);
  if (!containers.ok()) return containers.status();
  s->containers_ = std::move(*containers);
  s->nodes_ = dmioctl::DeviceNodes::FromEnvironment();
  s->nodes_.set_fault_hook_for_testing(CurrentFaultHook());
  return s;
}

absl::StatusOr<DeviceMapper*> Session::Dm() const { return dm_; }

absl::StatusOr<PoolState> Session::Pool() const {
  absl::StatusOr<DeviceMapper*> dm = Dm();
  if (!dm.ok()) return dm.status();
  absl::StatusOr<PoolState> pool = GetPoolState(**dm, pool_.name);
  if (!pool.ok() && dmkit::ErrnoOf(pool.status()) == ENXIO) {
    return absl::NotFoundError(absl::StrCat(
        "pool ", pool_.name, " (", pool_.source,
        ") is not active; for a loop-lvm root, `dmkit docker pool --activate` "
        "creates it"));
  }
  return pool;
}

absl::StatusOr<std::vector<ThinMapping>> Session::Mappings() const {
  // Without device-mapper nothing is known (ENODEV also maps to kNotFound,
  // which must not read as "no pool, so nothing active").
  if (!dm_.ok()) return dm_.status();
  absl::StatusOr<PoolState> pool = Pool();
  if (!pool.ok()) {
    if (absl::IsNotFound(pool.status())) return std::vector<ThinMapping>();
    return pool.status();
  }
  return ListThinMappings(**dm_, pool->info.dev);
}

DeviceView ViewDevice(const Session& session, const Container& c,
                      const std::vector<ThinMapping>& mappings,
                      const MountTable* mounts) {
  DeviceView v;
  v.name = session.DeviceNameOf(c);
  if (!c.device) return v;
  for (const ThinMapping& m : mappings) {
    if (m.thin_id != c.device->device_id) continue;
    if (m.name == v.name) {
      v.active = m;
    } else {
      v.others.push_back(m);
    }
  }
  const ThinMapping* any = v.active           ? &*v.active
                           : v.others.empty() ? nullptr
                                              : &v.others[0];
  if (any != nullptr) {
    if (absl::StatusOr<DeviceMapper*> dm = session.Dm(); dm.ok()) {
      absl::StatusOr<Usage> u =
          ThinUsage(**dm, DeviceRef::ByDevNum(any->dev), c.device->size);
      if (u.ok()) {
        v.usage = *u;
      } else {
        v.usage_error = u.status();
      }
    }
    if (mounts != nullptr) {
      if (v.active) v.mounts = mounts->OfDevice(v.active->dev.ToDevT());
      for (const ThinMapping& o : v.others) {
        std::vector<NamespaceMount> more = mounts->OfDevice(o.dev.ToDevT());
        v.mounts.insert(v.mounts.end(), more.begin(), more.end());
      }
    }
  }
  return v;
}

namespace {

struct LsInput {
  Session& s;
  const std::vector<ThinMapping>& mappings;  // empty when unknown
  bool known;                                // the mappings are known
  const MountTable* table;                   // null when unknown
};

void LsContainerJson(json::Writer& w, const LsInput& in, const Container& c) {
  DeviceView v = ViewDevice(in.s, c, in.mappings, in.table);
  w.BeginObject();
  w.Key("id").String(c.id);
  w.Key("name").String(c.ShortName());
  w.Key("running").Bool(c.running);
  w.Key("mount_id").String(c.mount_id);
  w.Key("device_name").String(c.mount_id.empty() ? "" : v.name);
  if (c.device) {
    w.Key("device_id").Uint(c.device->device_id);
    w.Key("size").Uint(c.device->size);
    w.Key("deleted").Bool(c.device->deleted);
  }
  w.Key("known").Bool(in.known);
  w.Key("active").Bool(v.active.has_value() || !v.others.empty());
  w.Key("active_names").BeginArray();
  if (v.active) w.String(v.active->name);
  for (const ThinMapping& o : v.others) w.String(o.name);
  w.EndArray();
  if (v.active) {
    w.Key("dev").String(v.active->dev.ToString());
    w.Key("uuid").String(v.active->uuid);
    w.Key("open_count").Int(v.active->open_count);
  }
  if (v.usage) w.Key("used").Uint(v.usage->used_bytes);
  w.Key("mounts").BeginArray();
  for (const NamespaceMount& m : v.mounts) {
    w.BeginObject();
    w.Key("namespace").Uint(m.ns_inode);
    w.Key("own").Bool(m.own);
    w.Key("pids").BeginArray();
    for (const auto& [pid, comm] : m.members) w.Int(pid);
    w.EndArray();
    w.Key("commands").BeginArray();
    for (const auto& [pid, comm] : m.members) w.String(comm);
    w.EndArray();
    w.Key("mount_point").String(m.mount_point);
    w.Key("fs_type").String(m.fs_type);
    w.EndObject();
  }
  w.EndArray();
  w.Key("errors").BeginArray();
  for (const absl::Status* e : std::initializer_list<const absl::Status*>{
           &c.config_error, &c.mount_id_error, &c.device_error,
           &v.usage_error}) {
    if (!e->ok()) w.String(e->message());
  }
  w.EndArray();
  w.EndObject();
}

void LsJson(const LsInput& in) {
  Session& s = in.s;
  json::Writer w;
  w.BeginObject();
  w.Key("root").String(s.store().root());
  w.Key("root_source").String(s.discovery().root_source);
  PoolJson(w, s.Pool(), s.pool_choice());
  w.Key("containers").BeginArray();
  for (const Container& c : s.containers()) LsContainerJson(w, in, c);
  w.EndArray();
  PoolThinsJson(s, w);
  w.EndObject();
  fputs(w.Take().c_str(), stdout);
}

void LsText(const LsInput& in) {
  Session& s = in.s;
  TextTable t({"CONTAINER", "NAME", "MOUNT-ID", "DEVICE_ID", "SIZE", "DELETED",
               "STATE", "USED", "MOUNTED"});
  for (const Container& c : s.containers()) {
    DeviceView v = ViewDevice(s, c, in.mappings, in.table);
    std::string id = c.device ? absl::StrCat(c.device->device_id) : "?";
    std::string size = c.device ? HumanBytes(c.device->size) : "?";
    std::string deleted = c.device ? (c.device->deleted ? "yes" : "no") : "?";
    std::string state = in.known ? StateText(v) : "?";
    std::string used = v.usage ? UsageText(*v.usage) : "-";
    std::string mounted = v.mounts.empty() ? "-" : v.mounts[0].Describe();
    t.Row({Short(c.id), c.name.empty() ? "?" : c.ShortName(),
           c.mount_id.empty() ? "?" : Short(c.mount_id), id, size, deleted,
           state, used, mounted});
    for (size_t i = 1; i < v.mounts.size(); ++i) {
      t.Row({"", "", "", "", "", "", "", "", v.mounts[i].Describe()});
    }
  }
  fputs(t.Render().c_str(), stdout);
  for (const Container& c : s.containers()) {
    for (const absl::Status* e :
         {&c.config_error, &c.mount_id_error, &c.device_error}) {
      if (!e->ok()) {
        fprintf(stderr, "docker: %s: %s\n", Short(c.id).c_str(),
                Describe(*e).c_str());
      }
    }
  }
  PrintPoolThins(s);
}

}  // namespace

int LsCommand(const DeviceMapperOrError& dm_or_error, const Options& options) {
  if (!options.args.empty()) return Fail("ls takes no arguments");
  std::unique_ptr<Session> session = OpenSession(dm_or_error, options);
  if (session == nullptr) return 1;
  Session& s = *session;
  if (options.orphans) return LsOrphans(s, options);
  absl::StatusOr<std::vector<ThinMapping>> mappings = s.Mappings();
  if (!mappings.ok()) {
    fprintf(stderr, "docker: warning: device states unknown: %s\n",
            Describe(mappings.status()).c_str());
  }
  std::vector<ThinMapping> none;
  absl::StatusOr<MountTable> mounts = MountTable::Scan();
  if (!mounts.ok()) {
    fprintf(stderr, "docker: warning: mounts unknown: %s\n",
            Describe(mounts.status()).c_str());
  } else {
    for (const std::string& w : mounts->warnings()) {
      fprintf(stderr, "docker: warning: %s\n", w.c_str());
    }
  }
  LsInput in{s, mappings.ok() ? *mappings : none, mappings.ok(),
             mounts.ok() ? &*mounts : nullptr};
  if (options.json) {
    LsJson(in);
  } else {
    LsText(in);
  }
  return 0;
}

int InspectCommand(const DeviceMapperOrError& dm_or_error,
                   const Options& options) {
  if (options.args.size() != 1) return Fail("inspect takes one CONTAINER");
  std::unique_ptr<Session> session = OpenSession(dm_or_error, options);
  if (session == nullptr) return 1;
  Session& s = *session;
  absl::StatusOr<const Container*> found = s.Resolve(options.args[0]);
  if (!found.ok()) return Fail(found.status());
  const Container& c = **found;
  const Store& st = s.store();
  std::vector<std::string> out;
  out.push_back(absl::StrCat("container  ", c.id));
  out.push_back(absl::StrCat("name       ", c.name.empty() ? "?" : c.name,
                             c.running ? " (running)" : ""));
  out.push_back(absl::StrCat("config     ", st.ConfigPath(c.id)));
  if (!c.config_error.ok()) {
    out.push_back(absl::StrCat("           error: ", Describe(c.config_error)));
  }
  out.push_back(absl::StrCat("layerdb    ", st.MountIdPath(c.id)));
  int status = 0;
  if (!c.mount_id_error.ok()) {
    out.push_back(
        absl::StrCat("           error: ", Describe(c.mount_id_error)));
    status = 1;
  } else {
    out.push_back(absl::StrCat("mount-id   ", c.mount_id));
    out.push_back(absl::StrCat("metadata   ", st.MetadataPath(c.mount_id)));
  }
  if (!c.device_error.ok()) {
    out.push_back(absl::StrCat("           error: ", Describe(c.device_error)));
    status = 1;
  }
  absl::StatusOr<PoolState> pool = s.Pool();
  if (c.device) {
    const DeviceMetadata& d = *c.device;
    out.push_back(absl::StrCat("device_id  ", d.device_id));
    out.push_back(absl::StrCat("size       ", d.size, " bytes (",
                               HumanBytes(d.size), ", ", d.sectors(),
                               " sectors)"));
    out.push_back(absl::StrCat("deleted    ", d.deleted ? "yes (Docker has a "
                                                          "deferred deletion "
                                                          "pending; dmkit will "
                                                          "not activate it)"
                                                        : "no"));
    out.push_back(absl::StrCat("device     ", s.DeviceNameOf(c)));
    out.push_back(absl::StrCat("pool       ", s.pool_choice().name, " (",
                               s.pool_choice().source, ")"));
    if (pool.ok()) {
      out.push_back(absl::StrCat("pool dev   ", pool->info.dev.ToString()));
      out.push_back(absl::StrCat("table      ", "0 ", d.sectors(), " thin ",
                                 pool->info.dev.ToString(), " ", d.device_id));
    } else {
      out.push_back(absl::StrCat("           ", Describe(pool.status())));
      out.push_back(absl::StrCat("table      0 ", d.sectors(),
                                 " thin <pool MAJ:MIN> ", d.device_id));
    }
  }
  absl::StatusOr<std::vector<ThinMapping>> mappings = s.Mappings();
  absl::StatusOr<MountTable> mounts = MountTable::Scan();
  if (c.device && mappings.ok()) {
    DeviceView v =
        ViewDevice(s, c, *mappings, mounts.ok() ? &*mounts : nullptr);
    std::string state = StateText(v);
    const ThinMapping* m = v.active           ? &*v.active
                           : v.others.empty() ? nullptr
                                              : &v.others[0];
    if (m != nullptr) {
      absl::StrAppend(&state, ", dev ", m->dev.ToString(), ", open count ",
                      m->open_count,
                      m->uuid.empty() ? "" : absl::StrCat(", uuid ", m->uuid));
    }
    out.push_back(absl::StrCat("state      ", state));
    if (m != nullptr) out.push_back(absl::StrCat("live table ", m->table_line));
    if (v.usage)
      out.push_back(absl::StrCat("used       ", UsageText(*v.usage)));
    for (const NamespaceMount& nm : v.mounts) {
      out.push_back(
          absl::StrCat("mounted    ", nm.Describe(), " (", nm.fs_type, ")"));
    }
  } else if (!mappings.ok()) {
    out.push_back(
        absl::StrCat("state      unknown: ", Describe(mappings.status())));
  }
  fputs(absl::StrCat(absl::StrJoin(out, "\n"), "\n").c_str(), stdout);
  return status;
}

namespace {

// One container's line of `df`.
struct DfRow {
  const Container* c;
  std::optional<Usage> usage;
  std::string state;
};

// The row of container `c` (which has a device); a failed measurement
// sets `*status` to 1. An inactive device is measured by a brief read-only
// activation unless --no-activate or the pool's state refuses it.
DfRow MeasureRow(Session& s, DeviceMapper& dm, const PoolState& pool,
                 const std::vector<ThinMapping>& mappings, const Container& c,
                 const Options& options, int* status) {
  DfRow r{&c, std::nullopt, ""};
  DeviceView v = ViewDevice(s, c, mappings, nullptr);
  const std::string refusal = pool.RefusalReason();
  if (v.usage) {
    r.usage = v.usage;
    r.state =
        v.active ? "active" : absl::StrCat("active as ", v.others[0].name);
  } else if (!v.usage_error.ok()) {
    r.state = absl::StrCat("error: ", Describe(v.usage_error));
    *status = 1;
  } else if (c.device->deleted) {
    r.state = "deleted";
  } else if (options.no_activate) {
    r.state = "inactive";
  } else if (!refusal.empty()) {
    r.state = absl::StrCat("not measured: ", refusal);
  } else if (absl::StatusOr<Usage> u =
                 MeasureInactive(dm, pool, c.mount_id, *c.device);
             u.ok()) {
    r.usage = *u;
    r.state = "inactive (measured read-only)";
  } else {
    r.state = absl::StrCat("error: ", Describe(u.status()));
    *status = 1;
  }
  return r;
}

// Fullest first; rows without a measurement last; ties in id order.
void SortFullestFirst(std::vector<DfRow>& rows) {
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const DfRow& a = rows[x];
    const DfRow& b = rows[y];
    if (a.usage.has_value() != b.usage.has_value()) return a.usage.has_value();
    if (a.usage && a.usage->percent() != b.usage->percent()) {
      return a.usage->percent() > b.usage->percent();
    }
    return x < y;
  });
  std::vector<DfRow> sorted;
  sorted.reserve(rows.size());
  for (size_t i : order) sorted.push_back(std::move(rows[i]));
  rows = std::move(sorted);
}

void PrintDfJson(Session& s, const absl::StatusOr<PoolState>& pool,
                 const std::vector<DfRow>& rows) {
  json::Writer w;
  w.BeginObject();
  w.Key("root").String(s.store().root());
  PoolJson(w, pool, s.pool_choice());
  w.Key("containers").BeginArray();
  for (const DfRow& r : rows) {
    w.BeginObject();
    w.Key("id").String(r.c->id);
    w.Key("name").String(r.c->ShortName());
    w.Key("mount_id").String(r.c->mount_id);
    w.Key("device_id").Uint(r.c->device->device_id);
    w.Key("size").Uint(r.c->device->size);
    if (r.usage) {
      w.Key("used").Uint(r.usage->used_bytes);
    } else {
      w.Key("used").Null();
    }
    w.Key("state").String(r.state);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  fputs(w.Take().c_str(), stdout);
}

void PrintDfText(const PoolState& pool, const std::vector<DfRow>& rows) {
  TextTable t(
      {"CONTAINER", "NAME", "DEVICE_ID", "USED", "SIZE", "USE%", "STATE"});
  for (const DfRow& r : rows) {
    t.Row({Short(r.c->id), r.c->name.empty() ? "?" : r.c->ShortName(),
           absl::StrCat(r.c->device->device_id),
           r.usage ? HumanBytes(r.usage->used_bytes) : "-",
           HumanBytes(r.c->device->size),
           r.usage ? Percent(r.usage->percent()) : "-", r.state});
  }
  fputs(t.Render().c_str(), stdout);
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("pool     ", pool.name, " (",
                               pool.info.dev.ToString(), ")"));
  PoolUsageLines(pool, lines);
  fputs(absl::StrCat("\n", absl::StrJoin(lines, "\n"), "\n").c_str(), stdout);
}

}  // namespace

int DfCommand(const DeviceMapperOrError& dm_or_error, const Options& options) {
  if (!options.args.empty()) return Fail("df takes no arguments");
  std::unique_ptr<Session> session = OpenSession(dm_or_error, options);
  if (session == nullptr) return 1;
  Session& s = *session;
  absl::StatusOr<DeviceMapper*> dm = s.Dm();
  if (!dm.ok()) return Fail(dm.status());
  absl::StatusOr<PoolState> pool = s.Pool();
  if (!pool.ok()) return Fail(pool.status());
  absl::StatusOr<std::vector<ThinMapping>> mappings =
      ListThinMappings(**dm, pool->info.dev);
  if (!mappings.ok()) return Fail(mappings.status());

  std::vector<DfRow> rows;
  int status = 0;
  for (const Container& c : s.containers()) {
    if (!c.device) continue;
    rows.push_back(MeasureRow(s, **dm, *pool, *mappings, c, options, &status));
  }
  SortFullestFirst(rows);
  if (options.json) {
    PrintDfJson(s, pool, rows);
  } else {
    PrintDfText(*pool, rows);
  }
  return status;
}

namespace {

// `pool --activate`: Docker's loop-lvm pool from its two files. All or
// nothing: until the pool is up and its state read, every step is undone
// if a later one fails (loop devices this call bound detach when their
// handles close, see tools/common/loop_device.h), and nothing is reported done
// before the end.
absl::StatusOr<PoolState> ActivatePool(Session& s, DeviceMapper& dm,
                                       std::string& report) {
  const Store& st = s.store();
  const std::string& name = s.pool_choice().name;
  std::string data_path = st.LoopDataPath();
  std::string meta_path = st.LoopMetadataPath();
  struct stat data_st;
  if (stat(data_path.c_str(), &data_st) != 0) {
    return dmkit::ErrnoError(
        errno, absl::StrCat("stat ", data_path,
                            " (only loop-lvm pools can be activated here)"));
  }
  absl::StatusOr<thin::Source> meta_source = thin::Source::Open(meta_path);
  if (!meta_source.ok()) return meta_source.status();
  absl::StatusOr<thin::Superblock> sb = thin::ReadSuperblock(*meta_source);
  if (!sb.ok()) return sb.status();
  if (absl::Status g = thin::CheckPoolGeometry(*sb); !g.ok()) {
    return absl::Status(g.code(), absl::StrCat(meta_path, ": ", g.message()));
  }
  uint64_t sectors = static_cast<uint64_t>(data_st.st_size) / 512;
  uint64_t data_blocks = sb->data_space_map.nr_blocks;
  uint64_t needed = data_blocks * sb->data_block_size;
  if (sectors < needed) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_path, " holds ", sectors,
                     " sectors but the pool metadata describes ", data_blocks,
                     " blocks of ", sb->data_block_size, " sectors (", needed,
                     "); refusing to shrink the pool"));
  }
  if (sb->needs_check()) {
    return absl::FailedPreconditionError(
        absl::StrCat(meta_path,
                     ": the pool metadata is flagged needs_check; run "
                     "thin_check/thin_repair on it first"));
  }
  // Docker attaches the data file first, then the metadata file.
  const LoopDevice::Options loop_options = {.fault_hook = CurrentFaultHook()};
  absl::StatusOr<LoopDevice> data =
      LoopDevice::FindOrAttach(data_path, loop_options);
  if (!data.ok()) return About(name, data.status());
  absl::StatusOr<LoopDevice> meta =
      LoopDevice::FindOrAttach(meta_path, loop_options);
  if (!meta.ok()) return About(name, meta.status());
  dmioctl::Table table;
  table.targets.push_back(dmioctl::targets::ThinPool(
      0, sectors, meta->dev().ToString(), data->dev().ToString(),
      {.data_block_sectors = sb->data_block_size,
       .low_water_blocks = 32768,
       .features = {"skip_block_zeroing"}}));
  absl::StatusOr<dmioctl::ScopedDevice> created =
      dmioctl::ScopedDevice::Create(dm, name, table, {.nodes = &s.nodes()});
  if (!created.ok()) return About(name, created.status());
  absl::StatusOr<PoolState> pool = GetPoolState(dm, name);
  if (!pool.ok()) return About(name, pool.status());
  // The pool holds the loop devices now; closing the handles leaves them.
  created->Release();
  for (const LoopDevice* l : {&*data, &*meta}) {
    absl::StrAppend(&report, l->attached() ? "attached " : "reusing ",
                    l->path(), " (", l->dev().ToString(), ") for ",
                    l == &*data ? data_path : meta_path, "\n");
  }
  absl::StrAppend(&report, "created ", name, " (", pool->info.dev.ToString(),
                  "): ", dmioctl::FormatTable(table), "data block size ",
                  sb->data_block_size, " sectors, from the superblock of ",
                  meta_path, "\n");
  return pool;
}

}  // namespace

int PoolCommand(const DeviceMapperOrError& dm_or_error,
                const Options& options) {
  if (!options.args.empty()) return Fail("pool takes no arguments");
  std::unique_ptr<Session> session = OpenSession(dm_or_error, options);
  if (session == nullptr) return 1;
  Session& s = *session;
  absl::StatusOr<DeviceMapper*> dm = s.Dm();
  if (!dm.ok()) return Fail(dm.status());
  if (options.grow_data || options.grow_metadata) {
    absl::StatusOr<std::string> report =
        GrowLoopPool(**dm, s.pool_choice().name,
                     {s.store().LoopDataPath(), s.store().LoopMetadataPath()},
                     {options.grow_data, options.grow_metadata});
    if (!report.ok()) return Fail(report.status());
    fputs(report->c_str(), stdout);
    return 0;
  }
  absl::StatusOr<PoolState> pool = s.Pool();
  if (!pool.ok() && absl::IsNotFound(pool.status()) && options.activate) {
    std::string report;
    pool = ActivatePool(s, **dm, report);
    if (!pool.ok()) return Fail(pool.status());
    fputs(report.c_str(), stdout);
  } else if (pool.ok() && options.activate) {
    printf("%s is already active\n", pool->name.c_str());
  }
  if (options.json) {
    json::Writer w;
    w.BeginObject();
    w.Key("root").String(s.store().root());
    PoolJson(w, pool, s.pool_choice());
    w.EndObject();
    fputs(w.Take().c_str(), stdout);
    return pool.ok() ? 0 : 1;
  }
  if (!pool.ok()) return Fail(pool.status());
  std::vector<std::string> lines;
  lines.push_back(
      absl::StrCat("pool     ", pool->name, " (", s.pool_choice().source, ")"));
  lines.push_back(absl::StrCat("dev      ", pool->info.dev.ToString(),
                               ", open count ", pool->info.open_count));
  lines.push_back(absl::StrCat("table    ", pool->table_line));
  PoolUsageLines(*pool, lines);
  if (std::string r = pool->RefusalReason(); !r.empty()) {
    lines.push_back(absl::StrCat("warning  ", r,
                                 ": dmkit will not activate devices on it"));
  } else if (pool->status.mode == "out_of_data_space") {
    lines.push_back(
        "warning  the pool is out of data space: writes will "
        "wait or fail until space is freed (fstrim) or added");
  }
  fputs(absl::StrCat(absl::StrJoin(lines, "\n"), "\n").c_str(), stdout);
  return 0;
}

}  // namespace dmkit::docker
