// dmsetup commands that read: ls, info (long, columns, --json), deps,
// status, table (plain, --concise, --target), targets, target-version,
// version, splitname. Output follows dmsetup.c byte for byte; --json is
// dmkit's own.
#include "tools/dmsetup/show.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/error.h"
#include "dmioctl/targets.h"
#include "tools/dmsetup/tree.h"

#ifndef DMKIT_VERSION
#define DMKIT_VERSION "0.0.0"
#endif

namespace dmkit::dmsetup {
namespace {

using dmioctl::DeviceInfo;
using dmioctl::DeviceRef;
using dmioctl::DevNum;

std::string DevNo(DevNum d) { return absl::StrCat(d.major, ":", d.minor); }

// The device a show command works on: a listed name, the first argument, or
// (with no argument and no -u/-j) every device.
enum class Pick { kDevice, kAll };
Pick PickDevice(Session& s, const CmdArgs& a, std::string* name,
                bool* by_name) {
  *by_name = false;
  if (a.listed != nullptr) {
    *name = *a.listed;
    *by_name = true;
    return Pick::kDevice;
  }
  if (a.args.empty() && !s.opt().uuid_set && !s.opt().major_set) {
    return Pick::kAll;
  }
  if (!a.args.empty()) {
    *name = a.args[0];
    *by_name = true;
  }
  return Pick::kDevice;
}

void JsonInfoMembers(json::Writer& j, const DeviceInfo& info,
                     absl::string_view name, absl::string_view uuid,
                     std::optional<uint32_t> read_ahead) {
  j.Key("name");
  j.String(name);
  j.Key("uuid");
  j.String(uuid);
  j.Key("major");
  j.Uint(info.dev.major);
  j.Key("minor");
  j.Uint(info.dev.minor);
  j.Key("state");
  j.String(info.suspended() ? "SUSPENDED" : "ACTIVE");
  j.Key("read_only");
  j.Bool(info.read_only());
  j.Key("deferred_remove");
  j.Bool(info.deferred_remove());
  j.Key("read_ahead");
  if (read_ahead) {
    j.Uint(*read_ahead);
  } else {
    j.Null();
  }
  j.Key("live_table");
  j.Bool(info.live_table());
  j.Key("inactive_table");
  j.Bool(info.inactive_table());
  j.Key("open_count");
  j.Int(info.open_count);
  j.Key("event_nr");
  j.Uint(info.event_nr);
  j.Key("target_count");
  j.Uint(info.target_count);
}

// One row of `info -c` (dmsetup _display_info_cols and its _disp
// functions). Returns false, after dmsetup's messages, if a value cannot be
// had.
bool ReportRow(Session& s, const DeviceInfo& info, const std::string& name,
               const std::string& uuid, const DepTree* tree) {
  Report* report = s.report();
  if (report->help_only()) return true;
  const uint32_t types = report->types();
  const int node = tree ? tree->Find(info.dev) : -1;
  if ((types & kObjTree) && node < 0) {
    s.Err(absl::StrCat("Cannot find node ", info.dev.major, ":", info.dev.minor,
                       "."));
    return false;
  }
  std::vector<DevNum> deps;
  if (types & kObjDeps) {
    absl::StatusOr<dmioctl::DepsReply> reply =
        s.Dm()->GetDeps(DeviceRef::ByDevNum(info.dev), s.opt().inactive > 0);
    if (!reply.ok()) {
      s.IoctlError("deps",
                   IoctlTarget{"", "", static_cast<int>(info.dev.major),
                               static_cast<int>(info.dev.minor)},
                   reply.status());
      s.Err(absl::StrCat("Cannot get deps for ", info.dev.major, ":",
                         info.dev.minor, "."));
      return false;
    }
    deps = reply->devices;
  }
  SplitName split;
  if (types & kObjName) split = SplitDeviceName(uuid, name, '-');

  auto failed = [&](const FieldInfo& f) {
    s.Err(absl::StrCat("_do_report_object: report function failed for field ",
                       f.id));
    return false;
  };
  auto blk_name = [&](DevNum d, std::string* out) {
    std::optional<std::string> n = s.DeviceName(d, true);
    if (!n) {
      s.Err(absl::StrCat("Could not resolve block device name for ", d.major,
                         ":", d.minor, "."));
      return false;
    }
    *out = *n;
    return true;
  };
  std::vector<std::string> values;
  for (Field field : report->fields()) {
    const FieldInfo* f = nullptr;
    for (const FieldInfo& fi : AllFields()) {
      if (fi.field == field) f = &fi;
    }
    std::string v;
    switch (field) {
      case Field::kName:
        v = name;
        break;
      case Field::kMangledName:
      case Field::kUnmangledName:
      case Field::kMangledUuid:
      case Field::kUnmangledUuid: {
        bool is_name =
            field == Field::kMangledName || field == Field::kUnmangledName;
        bool mangle =
            field == Field::kMangledName || field == Field::kMangledUuid;
        const std::string& value = is_name ? name : uuid;
        const char* what = is_name ? "name" : "UUID";
        MangleResult m;
        if (mangle) {
          m = MangleString(value, what, s.mangling());
        } else if (s.mangling() == Mangling::kNone) {
          // Otherwise the reply was unmangled already.
          m = UnmangleString(value, what, Mangling::kNone);
        }
        if (m.changed < 0) {
          s.Err(m.error);
          return failed(*f);
        }
        v = m.changed ? m.value : value;
        break;
      }
      case Field::kUuid:
        v = uuid;
        break;
      case Field::kReadAhead:
        v = absl::StrCat(s.ReadAhead(name, info.dev).value_or(0));
        break;
      case Field::kBlkDevName:
        if (!blk_name(info.dev, &v)) return failed(*f);
        break;
      case Field::kAttr:
        v = absl::StrCat(
            info.live_table() ? "L" : "-", info.inactive_table() ? "I" : "-",
            info.suspended() ? "s" : "-", info.read_only() ? "r" : "w");
        break;
      case Field::kTablesLoaded:
        v = info.live_table() ? (info.inactive_table() ? "Both" : "Live")
                              : (info.inactive_table() ? "Inactive" : "None");
        break;
      case Field::kSuspended:
        v = info.suspended() ? "Suspended" : "Active";
        break;
      case Field::kReadOnly:
        v = info.read_only() ? "Read-only" : "Writeable";
        break;
      case Field::kDevNo:
        v = DevNo(info.dev);
        break;
      case Field::kMajor:
        v = absl::StrCat(static_cast<int32_t>(info.dev.major));
        break;
      case Field::kMinor:
        v = absl::StrCat(static_cast<int32_t>(info.dev.minor));
        break;
      case Field::kOpen:
        v = absl::StrCat(info.open_count);
        break;
      case Field::kSegments:
        v = absl::StrCat(static_cast<int32_t>(info.target_count));
        break;
      case Field::kEvents:
        v = absl::StrCat(info.event_nr);
        break;
      case Field::kDeviceCount:
        v = absl::StrCat(deps.size());
        break;
      case Field::kDevNosUsed: {
        std::vector<std::string> parts;
        for (DevNum d : deps) parts.push_back(DevNo(d));
        v = absl::StrJoin(parts, ",");
        break;
      }
      case Field::kBlkDevsUsed: {
        std::vector<std::string> parts;
        for (DevNum d : deps) {
          std::string n;
          if (!blk_name(d, &n)) return failed(*f);
          parts.push_back(n);
        }
        v = absl::StrJoin(parts, ",");
        break;
      }
      case Field::kDevsUsed:
      case Field::kNamesUsingDev: {
        bool inverted = field == Field::kNamesUsingDev;
        const TreeNode& n = tree->node(node);
        std::vector<std::string> parts;
        for (int other : inverted ? n.used_by : n.uses) {
          if (!tree->node(other).name.empty()) {
            parts.push_back(tree->node(other).name);
          }
        }
        v = absl::StrJoin(parts, ",");
        break;
      }
      case Field::kDevNosUsingDev: {
        std::vector<std::string> parts;
        for (int other : tree->node(node).used_by) {
          DevNum d = tree->node(other).dev;
          if (d.IsZero()) continue;
          parts.push_back(DevNo(d));
        }
        v = absl::StrJoin(parts, ",");
        break;
      }
      case Field::kDeviceRefCount:
        v = absl::StrCat(tree->NumChildren(node, true));
        break;
      case Field::kSubsystem:
        v = split.subsystem;
        break;
      case Field::kVgName:
        v = split.vg_name;
        break;
      case Field::kLvName:
        v = split.lv_name;
        break;
      case Field::kLvLayer:
        v = split.lv_layer;
        break;
    }
    values.push_back(std::move(v));
  }
  s.Out(report->AddRow(std::move(values)));
  return true;
}

// The dependency tree, built once for the tree fields of a report.
DepTree* ReportTree(Session& s) {
  if (s.report_tree_built()) return s.report_tree();
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) {
    s.set_report_tree(nullptr);
    return nullptr;
  }
  auto tree = std::make_unique<DepTree>();
  bool ok = true;
  absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> list =
      dm->ListDevices({.with_uuid = false});
  if (!list.ok()) {
    s.IoctlError("names", IoctlTarget{}, list.status());
    ok = false;
  } else {
    for (const dmioctl::DeviceListEntry& e : *list) {
      ok = tree->AddDevice(s, e.dev) && ok;
    }
  }
  s.set_report_tree(std::move(tree));
  if (!ok) s.Err("Internal device dependency tree creation failed.");
  return s.report_tree();
}

bool DisplayName(Session& s, const CmdArgs& a);

// dmsetup _exec_command(): `--exec CMD` runs CMD <dm_dir>/<name>.
bool ExecCommand(Session& s, const std::string& name) {
  std::vector<std::string> words;
  std::string word;
  for (char c : s.opt().exec) {
    if (c == ' ' || (c >= '\t' && c <= '\r')) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  if (words.empty()) return false;
  if (words.size() >= 256) {
    s.Err("Too many args to --exec.");
    return false;
  }
  words.push_back(absl::StrCat(s.MapperDir(), "/", name));
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  fflush(s.out());
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  if (pid < 0) return false;
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return true;
}

}  // namespace

namespace {

// dmsetup _display_name(): one `ls` line.
bool DisplayName(Session& s, const CmdArgs& a) {
  const std::string& name = *a.listed;
  const DevNum d = a.listed_dev;
  std::optional<std::string> dev_name;
  if (s.dev_name_type() != DevNameType::kDevNo) {
    dev_name = s.DeviceName(d, s.dev_name_type() == DevNameType::kBlk);
  }
  if (s.opt().json) {
    json::Writer& j = s.json();
    j.BeginObject();
    j.Key("name");
    j.String(name);
    j.Key("major");
    j.Uint(d.major);
    j.Key("minor");
    j.Uint(d.minor);
    if (dev_name) {
      j.Key(s.dev_name_type() == DevNameType::kBlk ? "blkdevname" : "devname");
      j.String(*dev_name);
    }
    j.EndObject();
    return true;
  }
  if (dev_name) {
    s.Out(absl::StrCat(name, "\t(", *dev_name, ")\n"));
  } else {
    s.Out(absl::StrCat(name, "\t(", d.major, ":", d.minor, ")\n"));
  }
  return true;
}

}  // namespace

bool CmdLs(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.json) s.JsonBegin("devices");
  if ((o.target_set) || (o.exec_set)) {
    CmdArgs b = a;
    b.listed = nullptr;
    b.multiple = false;
    return CmdStatus(s, b);
  }
  if (o.tree) return CmdTree(s, a);
  return ProcessAll(s, a, false, DisplayName);
}

bool CmdInfo(Session& s, const CmdArgs& a) {
  std::string given;
  bool by_name;
  if (s.opt().json) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdInfo);
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(by_name ? &given : nullptr);
  if (!sel) return false;
  absl::StatusOr<DeviceInfo> info =
      dm->GetInfo(sel->Ref(), s.opt().inactive > 0);
  if (!info.ok()) {
    // libdm turns ENXIO from DM_DEV_STATUS into "does not exist".
    if (dmkit::ErrnoOf(info.status()) == ENXIO) {
      s.Err("Device does not exist.");
    } else {
      s.IoctlError("info", sel->Target(), info.status());
    }
    return false;
  }
  std::optional<std::string> name = s.Unmangled(info->name, "name");
  std::optional<std::string> uuid = s.Unmangled(info->uuid, "UUID");
  if (!name || !uuid) return false;
  if (s.opt().json) {
    std::optional<uint32_t> ra = s.ReadAhead(*name, info->dev);
    json::Writer& j = s.json();
    j.BeginObject();
    JsonInfoMembers(j, *info, *name, *uuid, ra);
    j.EndObject();
    return true;
  }
  if (s.report() == nullptr) {
    s.DisplayInfo(*info, *name);
    return true;
  }
  DepTree* tree = nullptr;
  if (s.report()->types() & kObjTree) {
    tree = ReportTree(s);
    if (tree == nullptr) return false;
  }
  return ReportRow(s, *info, *name, *uuid, tree);
}

bool CmdDeps(Session& s, const CmdArgs& a) {
  std::string given;
  bool by_name;
  Options& o = s.opt();
  if (o.json) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdDeps);
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(by_name ? &given : nullptr);
  if (!sel) return false;
  absl::StatusOr<dmioctl::DepsReply> deps =
      dm->GetDeps(sel->Ref(), o.inactive > 0);
  if (!deps.ok()) {
    s.IoctlError("deps", sel->Target(), deps.status());
    return false;
  }
  std::optional<std::string> kernel_name = s.Unmangled(deps->info.name, "name");
  if (!kernel_name) return false;
  auto dep_name = [&](DevNum d) -> std::optional<std::string> {
    if (s.dev_name_type() == DevNameType::kDevNo) return std::nullopt;
    return s.DeviceName(d, s.dev_name_type() == DevNameType::kBlk);
  };
  if (o.json) {
    json::Writer& j = s.json();
    j.BeginObject();
    j.Key("name");
    j.String(*kernel_name);
    j.Key("deps");
    j.BeginArray();
    for (DevNum d : deps->devices) {
      j.BeginObject();
      j.Key("major");
      j.Uint(d.major);
      j.Key("minor");
      j.Uint(d.minor);
      if (std::optional<std::string> n = dep_name(d)) {
        j.Key(s.dev_name_type() == DevNameType::kBlk ? "blkdevname"
                                                     : "devname");
        j.String(*n);
      }
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
    return true;
  }
  if (o.verbose) s.DisplayInfo(deps->info, *kernel_name);
  std::string line;
  if (a.multiple && !o.verbose) {
    absl::StrAppend(&line, by_name ? given : *kernel_name, ": ");
  }
  absl::StrAppend(&line, deps->devices.size(), " dependencies\t:");
  for (DevNum d : deps->devices) {
    if (std::optional<std::string> n = dep_name(d)) {
      absl::StrAppend(&line, " (", *n, ")");
    } else {
      absl::StrAppend(&line, " (", d.major, ", ", d.minor, ")");
    }
  }
  line.push_back('\n');
  if (a.multiple && o.verbose) line.push_back('\n');
  s.Out(line);
  return true;
}

bool CmdStatus(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  std::string given;
  bool by_name;
  absl::string_view cmd = a.cmd->name;
  const bool table_cmd = cmd == "table";
  const bool ls_only = cmd == "ls";
  const bool concise = table_cmd && o.concise;
  if (o.json && !ls_only) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdStatus);
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(by_name ? &given : nullptr);
  if (!sel) return false;
  absl::StatusOr<dmioctl::TableReply> reply =
      table_cmd ? dm->GetTable(sel->Ref(), o.inactive > 0)
                : dm->GetStatus(sel->Ref(), {.inactive = o.inactive > 0,
                                             .noflush = o.noflush > 0});
  if (!reply.ok()) {
    if (!table_cmd && dmkit::ErrnoOf(reply.status()) == ENXIO) {
      s.Err("Device does not exist.");
    } else {
      s.IoctlError(table_cmd ? "table" : "status", sel->Target(),
                   reply.status());
    }
    return false;
  }
  std::optional<std::string> kernel_name =
      s.Unmangled(reply->info.name, "name");
  std::optional<std::string> uuid = s.Unmangled(reply->info.uuid, "UUID");
  if (!kernel_name || !uuid) return false;
  const std::string& name = by_name ? given : *kernel_name;
  const DeviceInfo& info = reply->info;
  const bool show = !o.exec_set || o.verbose;

  if (o.json) {
    json::Writer& j = s.json();
    bool any = false;
    for (const dmioctl::Target& t : reply->targets) {
      if (o.target_set && t.type != o.target) continue;
      if (!any) {
        j.BeginObject();
        j.Key("name");
        j.String(name);
        if (!ls_only) {
          j.Key("uuid");
          j.String(*uuid);
          j.Key("targets");
          j.BeginArray();
        } else {
          j.Key("major");
          j.Uint(info.dev.major);
          j.Key("minor");
          j.Uint(info.dev.minor);
        }
        any = true;
      }
      if (ls_only) break;
      j.BeginObject();
      j.Key("start");
      j.Uint(t.start);
      j.Key("length");
      j.Uint(t.length);
      j.Key("type");
      j.String(t.type);
      j.Key(table_cmd ? "params" : "status");
      j.String(table_cmd && !o.showkeys
                   ? dmioctl::targets::RedactKeys(t.type, t.params)
                   : t.params);
      j.EndObject();
    }
    if (!any && !o.target_set && !ls_only) {
      j.BeginObject();
      j.Key("name");
      j.String(name);
      j.Key("uuid");
      j.String(*uuid);
      j.Key("targets");
      j.BeginArray();
      any = true;
    }
    if (any) {
      if (!ls_only) j.EndArray();
      j.EndObject();
    }
    return true;
  }

  // dmsetup walks dm_get_next_target(), which yields one empty entry for
  // a device without a table.
  std::vector<const dmioctl::Target*> entries;
  for (const dmioctl::Target& t : reply->targets) entries.push_back(&t);
  if (entries.empty()) entries.push_back(nullptr);
  bool matched = false;
  std::string out;
  for (const dmioctl::Target* t : entries) {
    if (o.target_set && (t == nullptr || t->type != o.target)) continue;
    if (ls_only) {
      if (show) {
        absl::StrAppend(&out, name, "\t(", info.dev.major, ", ", info.dev.minor,
                        ")\n");
      }
      matched = true;
      break;
    }
    if (show) {
      if (!concise) {
        if (!matched && o.verbose) {
          s.Out(out);
          out.clear();
          s.DisplayInfo(info, *kernel_name);
        }
        if (a.multiple && !o.verbose) absl::StrAppend(&out, name, ": ");
      } else if (!matched) {
        if (s.concise_output()) out.push_back(';');
        s.set_concise_output();
        absl::StrAppend(&out, QuoteConcise(name), ",", QuoteConcise(*uuid), ",",
                        info.dev.minor, ",", info.read_only() ? "ro" : "rw");
      }
      if (t != nullptr) {
        std::string params =
            table_cmd && !o.showkeys
                ? dmioctl::targets::RedactKeys(t->type, t->params)
                : t->params;
        if (concise) out.push_back(',');
        absl::StrAppend(&out, t->start, " ", t->length, " ", t->type, " ");
        out += concise ? QuoteConcise(params) : params;
      }
      if (!concise) out.push_back('\n');
    }
    matched = true;
  }
  if (a.multiple && o.verbose && matched && !ls_only &&
      (!concise || o.verbose > 1)) {
    out.push_back('\n');
  }
  s.Out(out);
  if (matched && o.exec_set && !o.exec.empty()) {
    // dm_mknodes(name) first, so the path exists.
    if (!Mknodes(s, &name)) return false;
    if (!ExecCommand(s, name)) return false;
  }
  return true;
}

bool CmdTargets(Session& s, const CmdArgs&) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  absl::StatusOr<std::vector<dmioctl::TargetVersion>> targets =
      dm->ListTargetVersions();
  if (!targets.ok()) {
    s.IoctlError("versions", IoctlTarget{}, targets.status());
    return false;
  }
  if (s.opt().json) {
    s.JsonBegin("targets");
    json::Writer& j = s.json();
    for (const dmioctl::TargetVersion& t : *targets) {
      j.BeginObject();
      j.Key("name");
      j.String(t.name);
      j.Key("version");
      j.BeginArray();
      for (uint32_t v : t.version) j.Uint(v);
      j.EndArray();
      j.EndObject();
    }
    return true;
  }
  std::string out;
  for (const dmioctl::TargetVersion& t : *targets) {
    char line[64];
    snprintf(line, sizeof(line), " v%d.%d.%d\n", static_cast<int>(t.version[0]),
             static_cast<int>(t.version[1]), static_cast<int>(t.version[2]));
    std::string padded = t.name;
    if (padded.size() < 16) padded.resize(16, ' ');
    absl::StrAppend(&out, padded, line);
  }
  s.Out(out);
  return true;
}

bool CmdTargetVersion(Session& s, const CmdArgs& a) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  const std::string& type = a.args[0];
  if (type.size() >= 128) {
    s.Err(absl::StrCat("Name \"", type, "\" too long."));
    return false;
  }
  absl::StatusOr<dmioctl::TargetVersion> v =
      type.empty() || type.size() > dmioctl::kMaxTargetTypeLength
          ? absl::StatusOr<dmioctl::TargetVersion>(dmioctl::KernelError(
                {.error_number = EINVAL, .operation = "target-version"}))
          : dm->GetTargetVersion(type);
  if (!v.ok()) {
    s.IoctlError("target-version", IoctlTarget{type, ""}, v.status());
    return false;
  }
  std::string padded = v->name;
  if (padded.size() < 16) padded.resize(16, ' ');
  s.Out(absl::StrCat(padded, " v", v->version[0], ".", v->version[1], ".",
                     v->version[2], "\n"));
  return true;
}

bool CmdVersion(Session& s, const CmdArgs&) {
  std::string library = absl::StrCat("dmkit ", DMKIT_VERSION);
  if (!s.opt().json) s.Out(absl::StrCat("Library version:   ", library, "\n"));
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  absl::StatusOr<dmioctl::InterfaceVersion> v = dm->Version();
  if (!v.ok()) {
    s.IoctlError("version", IoctlTarget{}, v.status());
    s.Err("Failed to get driver version");
    return false;
  }
  std::string driver = absl::StrCat((*v)[0], ".", (*v)[1], ".", (*v)[2]);
  if (s.opt().json) {
    json::Writer j;
    j.BeginObject();
    j.Key("library");
    j.String(library);
    j.Key("driver");
    j.String(driver);
    j.EndObject();
    s.Out(absl::StrCat(j.text(), "\n"));
    return true;
  }
  s.Out(absl::StrCat("Driver version:    ", driver, "\n"));
  return true;
}

bool CmdSplitname(Session& s, const CmdArgs& a) {
  Report* report = s.report();
  if (report == nullptr || report->help_only()) return true;
  SplitName split =
      SplitDeviceName(a.args.size() == 2 ? a.args[1] : "LVM", a.args[0], '\0');
  std::vector<std::string> values;
  for (Field field : report->fields()) {
    switch (field) {
      case Field::kSubsystem:
        values.push_back(split.subsystem);
        break;
      case Field::kVgName:
        values.push_back(split.vg_name);
        break;
      case Field::kLvName:
        values.push_back(split.lv_name);
        break;
      case Field::kLvLayer:
        values.push_back(split.lv_layer);
        break;
      default:
        for (const FieldInfo& f : AllFields()) {
          if (f.field == field) {
            s.Err(absl::StrCat("_do_report_object: no data assigned to field ",
                               f.id));
          }
        }
        return false;
    }
  }
  s.Out(report->AddRow(std::move(values)));
  return true;
}

}  // namespace dmkit::dmsetup
