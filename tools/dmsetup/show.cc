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

// A reply's name and uuid for display: libdm unmangles both (and prints
// what is wrong with each).
struct Names {
  std::string name;
  std::string uuid;
};
absl::StatusOr<Names> UnmangleReply(Session& s, const DeviceInfo& info) {
  absl::StatusOr<std::string> name = s.Unmangled(info.name, "name");
  absl::StatusOr<std::string> uuid = s.Unmangled(info.uuid, "UUID");
  if (!name.ok()) {
    if (!uuid.ok()) s.PrintError(name.status());
    return uuid.ok() ? name.status() : uuid.status();
  }
  DMKIT_RETURN_IF_ERROR(uuid.status());
  return Names{*std::move(name), *std::move(uuid)};
}

// What one row of `info -c` is made from.
struct Row {
  const DeviceInfo& info;
  const std::string& name;
  const std::string& uuid;
  const DepTree* tree;  // with the tree fields
  int node;             // `info`'s node in `tree`
  std::vector<DevNum> deps;
};

// "_do_report_object: report function failed for field ID", after what
// made it fail.
absl::Status FieldFailed(Field field, const absl::Status& why) {
  for (const FieldInfo& f : AllFields()) {
    if (f.field == field) {
      return Failure(absl::StrCat(
          why.message(), why.message().empty() ? "" : "\n",
          "_do_report_object: report function failed for field ", f.id));
    }
  }
  return why;
}

// The block device name of `d` for blkdevname and blkdevs_used.
absl::StatusOr<std::string> BlockName(Session& s, DevNum d) {
  absl::StatusOr<std::string> n = s.DeviceName(d, true);
  if (n.ok()) return n;
  s.PrintError(n.status());
  return Failure(absl::StrCat("Could not resolve block device name for ",
                              d.major, ":", d.minor, "."));
}

// The fields of the device's info reply (dmsetup _disp_* of DR_INFO).
std::string InfoValue(Field field, const DeviceInfo& info) {
  switch (field) {
    case Field::kAttr:
      return absl::StrCat(
          info.live_table() ? "L" : "-", info.inactive_table() ? "I" : "-",
          info.suspended() ? "s" : "-", info.read_only() ? "r" : "w");
    case Field::kTablesLoaded:
      return info.live_table() ? (info.inactive_table() ? "Both" : "Live")
                               : (info.inactive_table() ? "Inactive" : "None");
    case Field::kSuspended:
      return info.suspended() ? "Suspended" : "Active";
    case Field::kReadOnly:
      return info.read_only() ? "Read-only" : "Writeable";
    case Field::kDevNo:
      return DevNo(info.dev);
    case Field::kMajor:
      return absl::StrCat(static_cast<int32_t>(info.dev.major));
    case Field::kMinor:
      return absl::StrCat(static_cast<int32_t>(info.dev.minor));
    case Field::kOpen:
      return absl::StrCat(info.open_count);
    case Field::kSegments:
      return absl::StrCat(static_cast<int32_t>(info.target_count));
    default:  // kEvents
      return absl::StrCat(info.event_nr);
  }
}

// mangled_name, unmangled_name, mangled_uuid, unmangled_uuid.
absl::StatusOr<std::string> MangledValue(Session& s, Field field,
                                         const Row& row) {
  bool is_name = field == Field::kMangledName || field == Field::kUnmangledName;
  bool mangle = field == Field::kMangledName || field == Field::kMangledUuid;
  const std::string& value = is_name ? row.name : row.uuid;
  const char* what = is_name ? "name" : "UUID";
  if (mangle) return MangleString(value, what, s.mangling());
  // Otherwise the reply was unmangled already.
  if (s.mangling() != Mangling::kNone) return value;
  return UnmangleString(value, what, Mangling::kNone);
}

// The relationship fields: from the device's deps, or from the tree of all
// devices.
absl::StatusOr<std::string> RelationValue(Session& s, Field field,
                                          const Row& row) {
  std::vector<std::string> parts;
  switch (field) {
    case Field::kDeviceCount:
      return absl::StrCat(row.deps.size());
    case Field::kDeviceRefCount:
      return absl::StrCat(row.tree->NumChildren(row.node, true));
    case Field::kDevNosUsed:
      for (DevNum d : row.deps) parts.push_back(DevNo(d));
      break;
    case Field::kBlkDevsUsed:
      for (DevNum d : row.deps) {
        DMKIT_ASSIGN_OR_RETURN(parts.emplace_back(), BlockName(s, d));
      }
      break;
    case Field::kDevsUsed:
    case Field::kNamesUsingDev: {
      const TreeNode& n = row.tree->node(row.node);
      for (int other : field == Field::kDevsUsed ? n.uses : n.used_by) {
        const std::string& name = row.tree->node(other).name;
        if (!name.empty()) parts.push_back(name);
      }
      break;
    }
    case Field::kDevNosUsingDev:
      for (int other : row.tree->node(row.node).used_by) {
        DevNum d = row.tree->node(other).dev;
        if (!d.IsZero()) parts.push_back(DevNo(d));
      }
      break;
    default:
      break;
  }
  return absl::StrJoin(parts, ",");
}

// One field of a row (dmsetup's _disp_* functions).
absl::StatusOr<std::string> FieldValue(Session& s, Field field, const Row& row,
                                       const SplitName& split) {
  switch (field) {
    case Field::kName:
      return row.name;
    case Field::kUuid:
      return row.uuid;
    case Field::kMangledName:
    case Field::kUnmangledName:
    case Field::kMangledUuid:
    case Field::kUnmangledUuid:
      return MangledValue(s, field, row);
    case Field::kReadAhead: {
      absl::StatusOr<uint32_t> ra = s.ReadAhead(row.name, row.info.dev);
      s.PrintError(ra.status());
      return absl::StrCat(ra.value_or(0));
    }
    case Field::kBlkDevName:
      return BlockName(s, row.info.dev);
    case Field::kSubsystem:
      return split.subsystem;
    case Field::kVgName:
      return split.vg_name;
    case Field::kLvName:
      return split.lv_name;
    case Field::kLvLayer:
      return split.lv_layer;
    case Field::kAttr:
    case Field::kTablesLoaded:
    case Field::kSuspended:
    case Field::kReadOnly:
    case Field::kDevNo:
    case Field::kMajor:
    case Field::kMinor:
    case Field::kOpen:
    case Field::kSegments:
    case Field::kEvents:
      return InfoValue(field, row.info);
    default:
      return RelationValue(s, field, row);
  }
}

// One row of `info -c` (dmsetup _display_info_cols): the values of the
// fields the report asks for, fetching what they need.
absl::Status ReportRow(Session& s, dmioctl::DeviceMapper& dm,
                       const DeviceInfo& info, const std::string& name,
                       const std::string& uuid, const DepTree* tree) {
  Report* report = s.report();
  if (report->help_only()) return absl::OkStatus();
  const uint32_t types = report->types();
  Row row{info, name, uuid, tree, tree ? tree->Find(info.dev) : -1, {}};
  if ((types & kObjTree) && row.node < 0) {
    return Failure(absl::StrCat("Cannot find node ", info.dev.major, ":",
                                info.dev.minor, "."));
  }
  if (types & kObjDeps) {
    absl::StatusOr<dmioctl::DepsReply> reply =
        dm.GetDeps(DeviceRef::ByDevNum(info.dev), s.opt().inactive > 0);
    if (!reply.ok()) {
      return Failure(absl::StrCat(ErrorText(reply.status()),
                                  "\nCannot get deps for ", info.dev.major, ":",
                                  info.dev.minor, "."));
    }
    row.deps = std::move(reply->devices);
  }
  SplitName split;
  if (types & kObjName) split = SplitDeviceName(uuid, name, '-');
  std::vector<std::string> values;
  for (Field field : report->fields()) {
    absl::StatusOr<std::string> v = FieldValue(s, field, row, split);
    if (!v.ok()) return FieldFailed(field, v.status());
    values.push_back(*std::move(v));
  }
  s.Out(report->AddRow(std::move(values)));
  return absl::OkStatus();
}

// The dependency tree, built once for the tree fields of a report. What
// cannot be added is printed, and the report goes on without it.
const DepTree* ReportTree(Session& s, dmioctl::DeviceMapper& dm) {
  if (s.report_tree() != nullptr) return s.report_tree();
  auto tree = std::make_unique<DepTree>();
  absl::Status built;
  absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> list =
      dm.ListDevices({.with_uuid = false});
  if (!list.ok()) {
    s.PrintError(list.status());
    built = Printed();
  } else {
    for (const dmioctl::DeviceListEntry& e : *list) {
      absl::Status added = tree->AddDevice(s, e.dev);
      s.PrintError(added);
      if (!added.ok()) built = Printed();
    }
  }
  s.set_report_tree(std::move(tree));
  if (!built.ok()) {
    s.PrintError(Failure("Internal device dependency tree creation failed."));
  }
  return s.report_tree();
}

// dmsetup _exec_command(): `--exec CMD` runs CMD <dm_dir>/<name>.
absl::Status ExecCommand(Session& s, const std::string& name) {
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
  if (words.empty()) return Printed();
  if (words.size() >= 256) return Failure("Too many args to --exec.");
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
  if (pid < 0) return Printed();
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  return absl::OkStatus();
}

// -o devname/blkdevname of ls and deps: the name to show instead of the
// number, if any (a name that cannot be had is printed; the number shows).
std::optional<std::string> ShownDeviceName(Session& s, DevNum d) {
  if (s.dev_name_type() == DevNameType::kDevNo) return std::nullopt;
  absl::StatusOr<std::string> n =
      s.DeviceName(d, s.dev_name_type() == DevNameType::kBlk);
  s.PrintError(n.status());
  if (!n.ok()) return std::nullopt;
  return *std::move(n);
}

// dmsetup _display_name(): one `ls` line.
absl::Status DisplayName(Session& s, const CmdArgs& a) {
  const std::string& name = *a.listed;
  const DevNum d = a.listed_dev;
  std::optional<std::string> dev_name = ShownDeviceName(s, d);
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
    return absl::OkStatus();
  }
  if (dev_name) {
    s.Out(absl::StrCat(name, "\t(", *dev_name, ")\n"));
  } else {
    s.Out(absl::StrCat(name, "\t(", d.major, ":", d.minor, ")\n"));
  }
  return absl::OkStatus();
}

// The reply of `status`, `table` or `ls --target` as --json writes it.
void JsonStatus(Session& s, const dmioctl::TableReply& reply,
                const std::string& name, const std::string& uuid,
                bool table_cmd, bool ls_only) {
  Options& o = s.opt();
  json::Writer& j = s.json();
  bool any = false;
  auto begin = [&] {
    j.BeginObject();
    j.Key("name");
    j.String(name);
    if (ls_only) {
      j.Key("major");
      j.Uint(reply.info.dev.major);
      j.Key("minor");
      j.Uint(reply.info.dev.minor);
    } else {
      j.Key("uuid");
      j.String(uuid);
      j.Key("targets");
      j.BeginArray();
    }
    any = true;
  };
  for (const dmioctl::Target& t : reply.targets) {
    if (o.target_set && t.type != o.target) continue;
    if (!any) begin();
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
  if (!any && !o.target_set && !ls_only) begin();
  if (!any) return;
  if (!ls_only) j.EndArray();
  j.EndObject();
}

// The text of `status`, `table`, `table --concise` and `ls --target` for
// one device; whether a target matched --target (or there was no filter).
bool TextStatus(Session& s, const CmdArgs& a, const dmioctl::TableReply& reply,
                const std::string& name, const std::string& kernel_name,
                const std::string& uuid, std::string* out) {
  Options& o = s.opt();
  const bool table_cmd = absl::string_view(a.cmd->name) == "table";
  const bool ls_only = absl::string_view(a.cmd->name) == "ls";
  const bool concise = table_cmd && o.concise;
  const bool show = !o.exec_set || o.verbose;
  const DeviceInfo& info = reply.info;
  // dmsetup walks dm_get_next_target(), which yields one empty entry for
  // a device without a table.
  std::vector<const dmioctl::Target*> entries;
  for (const dmioctl::Target& t : reply.targets) entries.push_back(&t);
  if (entries.empty()) entries.push_back(nullptr);
  bool matched = false;
  for (const dmioctl::Target* t : entries) {
    if (o.target_set && (t == nullptr || t->type != o.target)) continue;
    if (ls_only) {
      if (show) {
        absl::StrAppend(out, name, "\t(", info.dev.major, ", ", info.dev.minor,
                        ")\n");
      }
      return true;
    }
    if (show) {
      if (!concise) {
        if (!matched && o.verbose) {
          s.Out(*out);
          out->clear();
          s.DisplayInfo(info, kernel_name);
        }
        if (a.multiple && !o.verbose) absl::StrAppend(out, name, ": ");
      } else if (!matched) {
        if (s.concise_output()) out->push_back(';');
        s.set_concise_output();
        absl::StrAppend(out, QuoteConcise(name), ",", QuoteConcise(uuid), ",",
                        info.dev.minor, ",", info.read_only() ? "ro" : "rw");
      }
      if (t != nullptr) {
        std::string params =
            table_cmd && !o.showkeys
                ? dmioctl::targets::RedactKeys(t->type, t->params)
                : t->params;
        if (concise) out->push_back(',');
        absl::StrAppend(out, t->start, " ", t->length, " ", t->type, " ");
        *out += concise ? QuoteConcise(params) : params;
      }
      if (!concise) out->push_back('\n');
    }
    matched = true;
  }
  if (a.multiple && o.verbose && matched && (!concise || o.verbose > 1)) {
    out->push_back('\n');
  }
  return matched;
}

}  // namespace

absl::Status CmdLs(Session& s, const CmdArgs& a) {
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

absl::Status CmdInfo(Session& s, const CmdArgs& a) {
  std::string given;
  bool by_name;
  if (s.opt().json) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdInfo);
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel,
                         s.SelectDevice(by_name ? &given : nullptr));
  absl::StatusOr<DeviceInfo> info =
      dm->GetInfo(sel.Ref(), s.opt().inactive > 0);
  if (!info.ok()) {
    // libdm turns ENXIO from DM_DEV_STATUS into "does not exist".
    if (dmkit::ErrnoOf(info.status()) == ENXIO) {
      return Failure("Device does not exist.");
    }
    return info.status();
  }
  DMKIT_ASSIGN_OR_RETURN(Names names, UnmangleReply(s, *info));
  const std::string& name = names.name;
  const std::string& uuid = names.uuid;
  if (s.opt().json) {
    absl::StatusOr<uint32_t> ra = s.ReadAhead(name, info->dev);
    s.PrintError(ra.status());
    json::Writer& j = s.json();
    j.BeginObject();
    JsonInfoMembers(j, *info, name, uuid,
                    ra.ok() ? std::optional<uint32_t>(*ra) : std::nullopt);
    j.EndObject();
    return absl::OkStatus();
  }
  if (s.report() == nullptr) {
    s.DisplayInfo(*info, name);
    return absl::OkStatus();
  }
  const DepTree* tree = nullptr;
  if (s.report()->types() & kObjTree) tree = ReportTree(s, *dm);
  return ReportRow(s, *dm, *info, name, uuid, tree);
}

absl::Status CmdDeps(Session& s, const CmdArgs& a) {
  std::string given;
  bool by_name;
  Options& o = s.opt();
  if (o.json) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdDeps);
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel,
                         s.SelectDevice(by_name ? &given : nullptr));
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DepsReply deps,
                         dm->GetDeps(sel.Ref(), o.inactive > 0));
  DMKIT_ASSIGN_OR_RETURN(std::string kernel_name,
                         s.Unmangled(deps.info.name, "name"));
  if (o.json) {
    json::Writer& j = s.json();
    j.BeginObject();
    j.Key("name");
    j.String(kernel_name);
    j.Key("deps");
    j.BeginArray();
    for (DevNum d : deps.devices) {
      j.BeginObject();
      j.Key("major");
      j.Uint(d.major);
      j.Key("minor");
      j.Uint(d.minor);
      if (std::optional<std::string> n = ShownDeviceName(s, d)) {
        j.Key(s.dev_name_type() == DevNameType::kBlk ? "blkdevname"
                                                     : "devname");
        j.String(*n);
      }
      j.EndObject();
    }
    j.EndArray();
    j.EndObject();
    return absl::OkStatus();
  }
  if (o.verbose) s.DisplayInfo(deps.info, kernel_name);
  std::string line;
  if (a.multiple && !o.verbose) {
    absl::StrAppend(&line, by_name ? given : kernel_name, ": ");
  }
  absl::StrAppend(&line, deps.devices.size(), " dependencies\t:");
  for (DevNum d : deps.devices) {
    if (std::optional<std::string> n = ShownDeviceName(s, d)) {
      absl::StrAppend(&line, " (", *n, ")");
    } else {
      absl::StrAppend(&line, " (", d.major, ", ", d.minor, ")");
    }
  }
  line.push_back('\n');
  if (a.multiple && o.verbose) line.push_back('\n');
  s.Out(line);
  return absl::OkStatus();
}

absl::Status CmdStatus(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  std::string given;
  bool by_name;
  const bool table_cmd = absl::string_view(a.cmd->name) == "table";
  const bool ls_only = absl::string_view(a.cmd->name) == "ls";
  if (o.json && !ls_only) s.JsonBegin("devices");
  if (PickDevice(s, a, &given, &by_name) == Pick::kAll) {
    return ProcessAll(s, a, false, CmdStatus);
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel,
                         s.SelectDevice(by_name ? &given : nullptr));
  absl::StatusOr<dmioctl::TableReply> reply =
      table_cmd ? dm->GetTable(sel.Ref(), o.inactive > 0)
                : dm->GetStatus(sel.Ref(), {.inactive = o.inactive > 0,
                                            .noflush = o.noflush > 0});
  if (!reply.ok()) {
    if (!table_cmd && dmkit::ErrnoOf(reply.status()) == ENXIO) {
      return Failure("Device does not exist.");
    }
    return reply.status();
  }
  DMKIT_ASSIGN_OR_RETURN(Names names, UnmangleReply(s, reply->info));
  const std::string& kernel_name = names.name;
  const std::string& uuid = names.uuid;
  const std::string& name = by_name ? given : kernel_name;
  if (o.json) {
    JsonStatus(s, *reply, name, uuid, table_cmd, ls_only);
    return absl::OkStatus();
  }
  std::string out;
  bool matched = TextStatus(s, a, *reply, name, kernel_name, uuid, &out);
  s.Out(out);
  if (matched && o.exec_set && !o.exec.empty()) {
    // dm_mknodes(name) first, so the path exists.
    DMKIT_RETURN_IF_ERROR(Mknodes(s, &name));
    DMKIT_RETURN_IF_ERROR(ExecCommand(s, name));
  }
  return absl::OkStatus();
}

absl::Status CmdTargets(Session& s, const CmdArgs&) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(std::vector<dmioctl::TargetVersion> targets,
                         dm->ListTargetVersions());
  if (s.opt().json) {
    s.JsonBegin("targets");
    json::Writer& j = s.json();
    for (const dmioctl::TargetVersion& t : targets) {
      j.BeginObject();
      j.Key("name");
      j.String(t.name);
      j.Key("version");
      j.BeginArray();
      for (uint32_t v : t.version) j.Uint(v);
      j.EndArray();
      j.EndObject();
    }
    return absl::OkStatus();
  }
  std::string out;
  for (const dmioctl::TargetVersion& t : targets) {
    char line[64];
    snprintf(line, sizeof(line), " v%d.%d.%d\n", static_cast<int>(t.version[0]),
             static_cast<int>(t.version[1]), static_cast<int>(t.version[2]));
    std::string padded = t.name;
    if (padded.size() < 16) padded.resize(16, ' ');
    absl::StrAppend(&out, padded, line);
  }
  s.Out(out);
  return absl::OkStatus();
}

absl::Status CmdTargetVersion(Session& s, const CmdArgs& a) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  const std::string& type = a.args[0];
  if (type.size() >= 128) {
    return Failure(absl::StrCat("Name \"", type, "\" too long."));
  }
  // A type dmioctl refuses before the ioctl, the kernel refuses too.
  DMKIT_ASSIGN_OR_RETURN(
      dmioctl::TargetVersion v,
      type.empty() || type.size() > dmioctl::kMaxTargetTypeLength
          ? absl::StatusOr<dmioctl::TargetVersion>(
                dmioctl::KernelError({.error_number = EINVAL,
                                      .operation = "target-version",
                                      .name = type}))
          : dm->GetTargetVersion(type));
  std::string padded = v.name;
  if (padded.size() < 16) padded.resize(16, ' ');
  s.Out(absl::StrCat(padded, " v", v.version[0], ".", v.version[1], ".",
                     v.version[2], "\n"));
  return absl::OkStatus();
}

absl::Status CmdVersion(Session& s, const CmdArgs&) {
  std::string library = absl::StrCat("dmkit ", DMKIT_VERSION);
  if (!s.opt().json) s.Out(absl::StrCat("Library version:   ", library, "\n"));
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  absl::StatusOr<dmioctl::InterfaceVersion> v = dm->Version();
  if (!v.ok()) {
    return Failure(
        absl::StrCat(ErrorText(v.status()), "\nFailed to get driver version"));
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
    return absl::OkStatus();
  }
  s.Out(absl::StrCat("Driver version:    ", driver, "\n"));
  return absl::OkStatus();
}

absl::Status CmdSplitname(Session& s, const CmdArgs& a) {
  Report* report = s.report();
  if (report == nullptr || report->help_only()) return absl::OkStatus();
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
            return Failure(absl::StrCat(
                "_do_report_object: no data assigned to field ", f.id));
          }
        }
        return Printed();
    }
  }
  s.Out(report->AddRow(std::move(values)));
  return absl::OkStatus();
}

}  // namespace dmkit::dmsetup
