// dmsetup commands that change devices: create, load, remove, suspend,
// resume, clear, wipe_table, rename, message, setgeometry, wait, mknodes,
// mangle. Each follows the ioctl sequence and the messages of dmsetup.c and
// libdevmapper (libdm-iface.c) without udev: nodes under $DM_DEV_DIR/mapper
// are made and removed here, as libdm's fallback does. Each returns its
// failure for Session::PrintError().
#include "tools/dmsetup/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "dmioctl/targets.h"
#include "tools/dmsetup/holders.h"

namespace dmkit::dmsetup {
namespace {

using dmioctl::DeviceInfo;
using dmioctl::DeviceRef;
using dmioctl::DevNum;

// dmsetup _parse_file(): --table text, a table file, or stdin.
absl::StatusOr<dmioctl::Table> ReadTable(const std::string* table_text,
                                         const std::string* file) {
  if (table_text != nullptr) return dmioctl::ParseTable(*table_text, "");
  if (file == nullptr) {
    return dmioctl::ParseTable(ReadFd(STDIN_FILENO).value_or(""), "on stdin");
  }
  int fd = open(file->c_str(), O_RDONLY | O_CLOEXEC);
  absl::StatusOr<std::string> text =
      fd < 0 ? dmkit::ErrnoError(errno, *file) : ReadFd(fd);
  if (fd >= 0) close(fd);
  if (!text.ok()) {
    return Failure(absl::StrCat("Couldn't open '", *file, "' for reading."));
  }
  return dmioctl::ParseTable(*text, *file);
}

// A table load as the kernel answers it. dmioctl checks a table before the
// ioctl (gaps, zero lengths, no targets); libdm sends it and the kernel
// refuses it with EINVAL, or with ENXIO first when the device is missing.
absl::StatusOr<DeviceInfo> LoadTable(dmioctl::DeviceMapper& dm,
                                     const DeviceSel& sel,
                                     const dmioctl::Table& table) {
  if (table.Validate().ok()) return dm.LoadTable(sel.Ref(), table);
  absl::StatusOr<DeviceInfo> exists = dm.GetInfo(sel.Ref());
  if (!exists.ok()) return AsSent(exists.status(), "reload");
  return sel.KernelError("reload", EINVAL);
}

enum class SimpleTask { kSuspend, kResume, kClear, kRemove, kWait };

const char* OpName(SimpleTask t) {
  switch (t) {
    case SimpleTask::kSuspend:
      return "suspend";
    case SimpleTask::kResume:
      return "resume";
    case SimpleTask::kClear:
      return "clear";
    case SimpleTask::kRemove:
      return "remove";
    case SimpleTask::kWait:
      return "waitevent";
  }
  return "";
}

// A thin pool out of data space with queue_if_no_space (the kernel's
// default) holds the writes to its thin devices until it grows, or until
// no_space_timeout (60 s by default, 0: for ever) fails them; a flushing
// suspend of a device whose I/O goes there waits for them, and so looks
// hung. Returns such a pool's name when `ref`'s table, or one below it,
// has a thin target on one; "" otherwise, and when anything cannot be
// read (the command then goes ahead and fails as dmsetup's would).
std::string QueueingThinPool(Session& s, dmioctl::DeviceMapper& dm,
                             const DeviceRef& ref, int depth = 0) {
  if (depth > 16) return "";
  absl::StatusOr<dmioctl::TableReply> table = dm.GetTable(ref);
  if (!table.ok()) return "";
  for (const dmioctl::Target& t : table->targets) {
    if (t.type != "thin") continue;
    absl::StatusOr<dmioctl::targets::ThinParams> params =
        dmioctl::targets::ParseThinParams(t.params);
    if (!params.ok()) continue;
    absl::StatusOr<DevNum> pool_dev = DevNum::Parse(params->pool);
    if (!pool_dev.ok()) continue;
    absl::StatusOr<dmioctl::TableReply> pool =
        dm.GetStatus(DeviceRef::ByDevNum(*pool_dev), {.noflush = true});
    if (!pool.ok() || pool->targets.size() != 1 ||
        pool->targets[0].type != "thin-pool") {
      continue;
    }
    absl::StatusOr<dmioctl::targets::ThinPoolStatus> status =
        dmioctl::targets::ParseThinPoolStatus(pool->targets[0].params);
    if (status.ok() && status->mode == "out_of_data_space" &&
        !status->error_if_no_space) {
      return pool->info.name;
    }
  }
  absl::StatusOr<dmioctl::DepsReply> deps = dm.GetDeps(ref);
  if (!deps.ok()) return "";
  for (const DevNum& below : deps->devices) {
    if (!s.IsDmMajor(below.major)) continue;
    std::string pool =
        QueueingThinPool(s, dm, DeviceRef::ByDevNum(below), depth + 1);
    if (!pool.empty()) return pool;
  }
  return "";
}

// Before a flushing suspend of `sel` (`doing`: "suspending", ...): refuses,
// with one line, when it would wait for writes a thin pool holds back.
absl::Status RefuseWaitingSuspend(Session& s, dmioctl::DeviceMapper& dm,
                                  const DeviceSel& sel,
                                  absl::string_view doing) {
  std::string pool = QueueingThinPool(s, dm, sel.Ref());
  if (pool.empty()) return absl::OkStatus();
  std::string how_long = "until it grows";
  int fd = open("/sys/module/dm_thin_pool/parameters/no_space_timeout",
                O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    int timeout = Atoi(ReadFd(fd).value_or(""));
    if (timeout > 0) {
      how_long = absl::StrCat("for up to ", timeout, " s (no_space_timeout)");
    }
    close(fd);
  }
  std::string name = sel.kind == DeviceRef::Kind::kName ? sel.name
                     : sel.kind == DeviceRef::Kind::kUuid
                         ? sel.uuid
                         : absl::StrCat(sel.major, ":", sel.minor);
  return Failure(absl::StrCat(
      "dmkit: not ", doing, " ", name, ": thin pool ", pool,
      " is out of data space and holds writes back ", how_long,
      ", which a flushing suspend waits for; grow the pool, or use "
      "--noflush."));
}

void NoteBusy(Session& s, dmioctl::DeviceMapper& dm, const DeviceSel& sel) {
  if (!isatty(fileno(s.err()))) return;
  absl::StatusOr<DeviceInfo> info = dm.GetInfo(sel.Ref());
  if (!info.ok()) return;
  s.set_busy_hint(DescribeHolders(info->name, info->dev, info->open_count));
}

// The remove of _simple(): dmioctl's RemoveDevice (with --retry and
// --deferred), every failed attempt printed as libdm prints it, then the
// node of a device named on the command line (even for a deferred remove:
// the name is going away; libdm leaves the node of one given by -u/-j).
absl::Status RemoveOne(Session& s, dmioctl::DeviceMapper& dm,
                       const DeviceSel& sel) {
  dmioctl::RemoveOptions remove = RemoveOptionsFrom(s.opt());
  remove.on_retry = [&](int, const absl::Status& error) {
    s.PrintError(error);
  };
  absl::StatusOr<DeviceInfo> removed =
      dmioctl::RemoveDevice(dm, sel.Ref(), remove);
  if (!removed.ok()) {
    if (dmkit::ErrnoOf(removed.status()) == EBUSY) NoteBusy(s, dm, sel);
    return removed.status();
  }
  // libdm's _rm_dev_node(): the message, and the command goes on.
  if (sel.kind == DeviceRef::Kind::kName && !s.Nodes().Remove(sel.name).ok()) {
    s.PrintError(Failure(
        absl::StrCat("Unable to unlink device node for '", sel.name, "'")));
  }
  return absl::OkStatus();
}

// The ioctl of _simple() for the other tasks.
absl::StatusOr<DeviceInfo> SimpleIoctl(Session& s, dmioctl::DeviceMapper& dm,
                                       SimpleTask task, const DeviceSel& sel,
                                       uint32_t event_nr) {
  Options& o = s.opt();
  dmioctl::SuspendOptions flags{.noflush = o.noflush > 0,
                                .skip_lockfs = o.nolockfs > 0};
  absl::StatusOr<DeviceInfo> result;
  switch (task) {
    case SimpleTask::kSuspend:
      result = dm.Suspend(sel.Ref(), flags);
      break;
    case SimpleTask::kResume:
      result = dm.Resume(sel.Ref(), flags);
      break;
    case SimpleTask::kClear:
      result = dm.ClearTable(sel.Ref());
      break;
    case SimpleTask::kWait: {
      absl::StatusOr<dmioctl::TableReply> waited =
          dm.WaitEvent(sel.Ref(), event_nr, {.noflush = o.noflush > 0});
      if (!waited.ok()) return AsSent(waited.status(), OpName(task));
      return waited->info;
    }
    case SimpleTask::kRemove:
      break;
  }
  if (!result.ok()) return AsSent(result.status(), OpName(task));
  return result;
}

// dmkit: a flushing suspend (or the one of a resume that swaps tables)
// that would wait for writes held back by a full thin pool is refused.
absl::Status RefuseWaitingSimple(Session& s, dmioctl::DeviceMapper& dm,
                                 SimpleTask task, const DeviceSel& sel) {
  if ((task != SimpleTask::kSuspend && task != SimpleTask::kResume) ||
      s.opt().noflush) {
    return absl::OkStatus();
  }
  bool swaps = task == SimpleTask::kSuspend;
  if (!swaps) {
    absl::StatusOr<DeviceInfo> now = dm.GetInfo(sel.Ref());
    swaps = now.ok() && now->inactive_table() && !now->suspended();
  }
  if (!swaps) return absl::OkStatus();
  return RefuseWaitingSuspend(
      s, dm, sel, task == SimpleTask::kSuspend ? "suspending" : "resuming");
}

// dmsetup _simple(): one ioctl on one device, with the node and read-ahead
// work libdm does after it.
absl::Status Simple(Session& s, SimpleTask task, const std::string* name,
                    uint32_t event_nr, bool display) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(name));
  DMKIT_RETURN_IF_ERROR(RefuseWaitingSimple(s, *dm, task, sel));
  if (task == SimpleTask::kRemove) return RemoveOne(s, *dm, sel);
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo result,
                         SimpleIoctl(s, *dm, task, sel, event_nr));
  if (task == SimpleTask::kResume && sel.kind == DeviceRef::Kind::kName &&
      !sel.name.empty()) {
    if (!s.opt().addnodeoncreate) s.AddNode(sel.name, result.dev);
    s.SetReadAhead(sel.name, result.dev);
  }
  if (display && s.opt().verbose) {
    DMKIT_ASSIGN_OR_RETURN(std::string shown, s.Unmangled(result.name, "name"));
    s.DisplayInfo(result, shown);
  }
  return absl::OkStatus();
}

struct CreateSpec {
  std::string name;
  bool uuid_set = false;
  std::string uuid;
  int major = -1;  // -1: not given
  int minor = -1;
  bool read_only = false;
  // Table source: `table_text` (--table or concise), else `file`, else
  // stdin; none with --notable.
  const std::string* table_text = nullptr;
  const std::string* file = nullptr;
  bool notable = false;
};

// A failed create as libdm words it: each request names the device as it
// was sent (the create with the number asked for, the load by the number
// the create returned, the resume and the rollback's remove by name, with
// the number asked for), then the rollback's own failure if it had one.
absl::Status CreateFailure(Session& s, const absl::Status& error,
                           std::optional<DevNum> asked, DevNum made,
                           const absl::Status& rollback_error) {
  std::optional<dmioctl::IoctlErrorInfo> info =
      dmioctl::GetIoctlErrorInfo(error);
  bool reload = info && info->operation == "reload";
  absl::Status named = AsSent(error, "", reload ? made : asked);
  if (rollback_error.ok()) return named;
  s.PrintError(named);
  s.PrintError(AsSent(rollback_error, "remove", asked));
  return Failure("Failed to revert device creation.");
}

// libdm _flatten(): a minor alone takes device-mapper's major; the number
// a create asks for, if any.
absl::StatusOr<std::optional<DevNum>> AskedNumber(Session& s, int major,
                                                  int minor) {
  if (minor >= 0 && major < 0) {
    for (uint32_t m = 1; m < 4096 && major < 0; ++m) {
      if (s.IsDmMajor(m)) major = static_cast<int>(m);
    }
  }
  if (minor >= 0 && major <= 0) {
    return Failure(
        "Missing major number for persistent device.\n"
        "Couldn't create ioctl argument.");
  }
  if (major <= 0) return std::nullopt;
  return DevNum{static_cast<uint32_t>(major), static_cast<uint32_t>(minor)};
}

// dmsetup _create_one_device(): libdm's create, load and resume, and the
// rollback of a failed step, are dmioctl::CreateDevice's.
absl::Status CreateOneDevice(Session& s, const CreateSpec& spec) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  Options& o = s.opt();
  DMKIT_ASSIGN_OR_RETURN(std::string name, s.TaskName(spec.name, true));
  std::string uuid;
  if (spec.uuid_set) {
    DMKIT_ASSIGN_OR_RETURN(uuid, s.TaskUuid(spec.uuid));
  }
  dmioctl::Table table;
  if (!spec.notable) {
    DMKIT_ASSIGN_OR_RETURN(table, ReadTable(spec.table_text, spec.file));
  }
  table.read_only = spec.read_only;
  DMKIT_ASSIGN_OR_RETURN(std::optional<DevNum> asked,
                         AskedNumber(s, spec.major, spec.minor));
  dmioctl::NodeOwnership owner = kDebianNodeOwnership;
  if (o.uid_set) owner.uid = static_cast<uid_t>(o.uid);
  if (o.gid_set) owner.gid = static_cast<gid_t>(o.gid);
  if (o.mode_set) owner.mode = static_cast<mode_t>(o.mode);
  DevNum made;
  absl::Status rollback_error;
  dmioctl::CreateOptions options{
      .uuid = uuid,
      .nodes = &s.Nodes(),
      .skip_lockfs = false,
      .check_table_first = false,
      .on_created =
          [&](const DeviceInfo& created) {
            made = created.dev;
            if (o.addnodeoncreate) s.AddNode(name, created.dev, &owner);
          },
      .on_rollback_failure =
          [&](const absl::Status& error) { rollback_error = error; }};
  // libdm encodes the number with MKDEV and the kernel decodes 20 bits of
  // minor: larger minors wrap instead of failing.
  if (asked) options.minor = asked->minor & 0xfffff;
  s.Nodes().set_ownership(owner);
  absl::StatusOr<DeviceInfo> created =
      dmioctl::CreateDevice(*dm, name, table, options);
  if (!created.ok()) {
    return CreateFailure(s, created.status(), asked, made, rollback_error);
  }
  if (!table.empty()) s.SetReadAhead(name, created->dev);
  if (o.verbose) {
    DMKIT_ASSIGN_OR_RETURN(std::string shown,
                           s.Unmangled(created->name, "name"));
    s.DisplayInfo(*created, shown);
  }
  return absl::OkStatus();
}

// dmsetup _create_concise().
absl::Status CreateConcise(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.table_set || o.minor_set || o.uuid_set || o.notable || o.inactive) {
    return Failure(
        "--concise is incompatible with --[no]table, --minor, --uuid and "
        "--inactive.");
  }
  DMKIT_ASSIGN_OR_RETURN(std::string text, ConciseText(a.args));
  std::string scan_error;
  std::vector<dmioctl::ConciseFields> devices =
      dmioctl::ScanConcise(text, &scan_error);
  for (const dmioctl::ConciseFields& d : devices) {
    CreateSpec spec;
    spec.name = d.name;
    spec.uuid_set = !d.uuid.empty();
    spec.uuid = d.uuid;
    if (!d.minor.empty()) spec.minor = Atoi(d.minor);
    DMKIT_ASSIGN_OR_RETURN(spec.read_only, dmioctl::ParseConciseFlags(d.flags));
    spec.table_text = &d.table;
    DMKIT_RETURN_IF_ERROR(CreateOneDevice(s, spec));
  }
  if (!scan_error.empty()) return Failure(scan_error);
  return absl::OkStatus();
}

// dmsetup _get_device_size(): the table's length.
absl::StatusOr<uint64_t> DeviceSize(Session& s, const std::string& name) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(&name));
  DMKIT_ASSIGN_OR_RETURN(dmioctl::TableReply table,
                         dm->GetTable(sel.Ref(), s.opt().inactive > 0));
  uint64_t size = 0;
  for (const dmioctl::Target& t : table.targets) size += t.length;
  return size;
}

// dmsetup _error_device(): an `error` table of the same size, swapped in.
absl::Status ErrorDevice(Session& s, const std::string& name) {
  if (name.empty()) return Failure("No device specified.");
  // As in dmsetup, a size that cannot be had is printed and taken as 0.
  absl::StatusOr<uint64_t> size = DeviceSize(s, name);
  s.PrintError(size.status());
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(&name));
  Options& o = s.opt();
  if (!o.force && !o.noflush) {
    DMKIT_RETURN_IF_ERROR(
        RefuseWaitingSuspend(s, *dm, sel, "wiping the table of"));
  }
  dmioctl::Table table;
  table.targets.push_back(dmioctl::Target{0, size.value_or(0), "error", ""});
  table.read_only = o.readonly > 0;
  DMKIT_RETURN_IF_ERROR(LoadTable(*dm, sel, table).status());
  if (o.force) {
    // Avoid a hang on flushing with --force (dmsetup sets the switches for
    // the rest of the run).
    o.nolockfs = o.noflush = 1;
  }
  absl::Status resumed = Simple(s, SimpleTask::kResume, &name, 0, false);
  if (resumed.ok()) return resumed;
  s.PrintError(resumed);
  s.PrintError(Simple(s, SimpleTask::kClear, &name, 0, false));
  return Printed();
}

const std::string* FirstArg(const CmdArgs& a) {
  return a.args.empty() ? nullptr : &a.args[0];
}

// libdm's words for a node that could not follow a rename
// (_rename_dev_node()); the rename stands, as in libdm.
absl::Status NodeRenameError(Session& s, const absl::Status& error,
                             absl::string_view from, absl::string_view to) {
  std::string step = dmioctl::NodeErrorStep(error);
  std::string path = absl::StrCat(s.MapperDir(), "/", to);
  if (step == "stat") {
    return Failure(
        absl::StrCat(path, ": stat failed: ", strerror(dmkit::ErrnoOf(error))));
  }
  if (step == "exists") {
    return Failure(absl::StrCat("A non-block device file at '", path,
                                "' is already present"));
  }
  if (step == "unlink") {
    return Failure(absl::StrCat("Unable to unlink device node for '", to, "'"));
  }
  if (step == "rename") {
    return Failure(absl::StrCat("Unable to rename device node from '", from,
                                "' to '", to, "'"));
  }
  return error;
}

// dmsetup _do_rename(): dmioctl's RenameDevice (the node follows, as in
// libdm) or SetDeviceUuid.
absl::Status DoRename(Session& s, const std::string* name,
                      const std::string& new_value, bool set_uuid) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(name));
  DMKIT_ASSIGN_OR_RETURN(std::string value, set_uuid ? s.NewUuid(new_value)
                                                     : s.NewName(new_value));
  // The kernel renames by the old name only (dm_hash_rename).
  if (sel.kind != DeviceRef::Kind::kName) {
    return sel.KernelError("rename", ENXIO);
  }
  if (set_uuid) return dmioctl::SetDeviceUuid(*dm, sel.name, value).status();
  absl::Status node_error;
  DMKIT_RETURN_IF_ERROR(
      dmioctl::RenameDevice(
          *dm, sel.name, value,
          {.nodes = &s.Nodes(),
           .on_node_failure =
               [&](const absl::Status& error) { node_error = error; }})
          .status());
  if (!node_error.ok()) {
    s.PrintError(NodeRenameError(s, node_error, sel.name, value));
  }
  return absl::OkStatus();
}

// The device of a command whose arguments follow it: -u/-j/-m select it
// by option, otherwise it is the first argument, which is taken off `args`.
absl::StatusOr<DeviceSel> SelectDeviceFromArgs(Session& s,
                                               std::vector<std::string>& args) {
  if (s.opt().uuid_set || s.opt().major_set) return s.SelectDevice(nullptr);
  absl::StatusOr<DeviceSel> sel = s.SelectDevice(&args[0]);
  args.erase(args.begin());
  return sel;
}

// sscanf("%lu") of one geometry number, as the kernel reads them.
bool GeometryNumber(const std::string& text, uint64_t* value) {
  const char* p = text.c_str();
  while (*p == ' ' || (*p >= '\t' && *p <= '\r')) ++p;
  if (*p == '-' || *p == '+') ++p;
  if (*p < '0' || *p > '9') return false;
  errno = 0;
  char* end = nullptr;
  *value = strtoull(text.c_str(), &end, 10);
  return *end == '\0' && errno == 0;
}

}  // namespace

absl::StatusOr<std::string> ConciseText(const std::vector<std::string>& args) {
  if (!args.empty()) return args[0];
  absl::StatusOr<std::string> read = ReadFd(STDIN_FILENO);
  if (read.ok()) return read;
  return Failure(absl::StrCat("Read from stdin aborted: ",
                              strerror(dmkit::ErrnoOf(read.status()))));
}

dmioctl::RemoveOptions RemoveOptionsFrom(const Options& o) {
  return {.retries = o.retry ? 24 : 0,
          .retry_delay = std::chrono::milliseconds(200),
          .deferred = o.deferred > 0};
}

absl::Status CmdCreate(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.concise) {
    if (a.args.size() > 1) {
      return Failure("dmsetup create --concise takes at most one argument");
    }
    return CreateConcise(s, a);
  }
  if (a.args.empty()) {
    return Failure("Please provide a name for the new device.");
  }
  CreateSpec spec;
  spec.name = a.args[0];
  spec.uuid_set = o.uuid_set;
  spec.uuid = o.uuid;
  if (o.major_set) spec.major = o.major;
  if (o.minor_set) spec.minor = o.minor;
  spec.read_only = o.readonly > 0;
  spec.notable = o.notable > 0;
  if (o.table_set) spec.table_text = &o.table;
  if (a.args.size() == 2) spec.file = &a.args[1];
  return CreateOneDevice(s, spec);
}

absl::Status CmdLoad(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.notable) {
    return Failure("--notable only available when creating new device.");
  }
  std::vector<std::string> args = a.args;
  const std::string* name = nullptr;
  std::string name_storage;
  if (!o.uuid_set && !o.major_set) {
    if (args.empty()) return Failure("Please specify device.");
    name_storage = args[0];
    name = &name_storage;
    args.erase(args.begin());
  } else if (args.size() > 1) {
    return Failure("Too many command line arguments.");
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(name));
  DMKIT_ASSIGN_OR_RETURN(dmioctl::Table table,
                         ReadTable(o.table_set ? &o.table : nullptr,
                                   args.size() == 1 ? &args[0] : nullptr));
  table.read_only = o.readonly > 0;
  DMKIT_ASSIGN_OR_RETURN(DeviceInfo loaded, LoadTable(*dm, sel, table));
  if (o.verbose) {
    DMKIT_ASSIGN_OR_RETURN(std::string shown, s.Unmangled(loaded.name, "name"));
    s.DisplayInfo(loaded, shown);
  }
  return absl::OkStatus();
}

absl::Status CmdRemove(Session& s, const CmdArgs& a) {
  const std::string* name = FirstArg(a);
  if (s.opt().force && name != nullptr) {
    // dmsetup prints how the wipe went and removes regardless.
    s.PrintError(ErrorDevice(s, *name));
  }
  return Simple(s, SimpleTask::kRemove, name, 0, false);
}

absl::Status CmdRemoveAll(Session& s, const CmdArgs& a) {
  // Each step's failure is printed as it comes: dmsetup ORs the results,
  // so remove_all succeeds if anything did.
  auto ok = [&](const absl::Status& status) {
    s.PrintError(status);
    return status.ok();
  };
  auto remove_all_and_mknodes = [&]() {
    absl::StatusOr<dmioctl::DeviceMapper*> dm = s.Dm();
    bool removed =
        ok(dm.ok() ? (*dm)->RemoveAll(s.opt().deferred > 0) : dm.status());
    bool made = ok(Mknodes(s, nullptr));
    return removed || made;
  };
  bool r = remove_all_and_mknodes();
  if (!s.opt().force) return r ? absl::OkStatus() : Printed();
  int devices = 0;
  auto count = [&](Session&, const CmdArgs&) {
    ++devices;
    return absl::OkStatus();
  };
  r |= ok(ProcessAll(s, a, true, count));
  if (devices > 0) {
    r |= ok(ProcessAll(s, a, true, [](Session& s, const CmdArgs& listed) {
      return ErrorDevice(s, *listed.listed);
    }));
    r |= remove_all_and_mknodes();
    devices = 0;
    r |= ok(ProcessAll(s, a, true, count));
    if (devices > 0) {
      s.PrintError(
          Failure(absl::StrCat("Unable to remove ", devices, " device(s).")));
    }
  }
  return r ? absl::OkStatus() : Printed();
}

absl::Status CmdSuspend(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kSuspend, FirstArg(a), 0, true);
}

absl::Status CmdResume(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kResume, FirstArg(a), 0, true);
}

absl::Status CmdClear(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kClear, FirstArg(a), 0, true);
}

absl::Status CmdWipeTable(Session& s, const CmdArgs& a) {
  if (a.listed != nullptr) return ErrorDevice(s, *a.listed);
  return ErrorDevice(s, a.args.empty() ? std::string() : a.args[0]);
}

absl::Status CmdWait(Session& s, const CmdArgs& a) {
  std::vector<std::string> args = a.args;
  std::string name;
  bool by_name = false;
  if (!s.opt().uuid_set && !s.opt().major_set) {
    if (args.empty()) return Failure("No device specified.");
    name = args[0];
    by_name = true;
    args.erase(args.begin());
  }
  uint32_t event_nr =
      args.empty() ? 0 : static_cast<uint32_t>(Atoi(args.back()));
  return Simple(s, SimpleTask::kWait, by_name ? &name : nullptr, event_nr,
                true);
}

absl::Status CmdRename(Session& s, const CmdArgs& a) {
  const std::string* name = a.args.size() == 2 ? &a.args[0] : nullptr;
  return DoRename(s, name, a.args.back(), s.opt().setuuid > 0);
}

absl::Status CmdMessage(Session& s, const CmdArgs& a) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  std::vector<std::string> args = a.args;
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, SelectDeviceFromArgs(s, args));
  errno = 0;
  char* end = nullptr;
  const char* text = args.empty() ? "" : args[0].c_str();
  uint64_t sector = strtoull(text, &end, 10);
  if (errno || *end || end == text) return Failure("Invalid sector.");
  args.erase(args.begin());
  // dmsetup says so and sends the empty message.
  if (args.empty()) s.PrintError(Failure("No message supplied."));
  std::string message = absl::StrJoin(args, " ");
  // One message per process: room for a long @stats_print costs little.
  absl::StatusOr<std::string> response =
      dm->SendMessage(sel.Ref(), sector, message, 64 * 1024);
  if (!response.ok()) return sel.AsSent(response.status(), "message");
  if (!response->empty()) {
    s.Out(*response);
    if (response->back() != '\n') s.Out("\n");
  }
  return absl::OkStatus();
}

absl::Status CmdSetGeometry(Session& s, const CmdArgs& a) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  std::vector<std::string> args = a.args;
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, SelectDeviceFromArgs(s, args));
  uint64_t v[4] = {0, 0, 0, 0};
  bool numbers = args.size() >= 4;
  for (size_t i = 0; numbers && i < 4; ++i) {
    numbers = GeometryNumber(args[i], &v[i]);
  }
  if (!numbers || v[0] > UINT32_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX) {
    // The kernel finds the device, then rejects what it cannot read.
    absl::StatusOr<DeviceInfo> exists = dm->GetInfo(sel.Ref());
    if (!exists.ok()) return AsSent(exists.status(), "setgeometry");
    return sel.KernelError("setgeometry", EINVAL);
  }
  return dm->SetGeometry(sel.Ref(), static_cast<uint32_t>(v[0]),
                         static_cast<uint32_t>(v[1]),
                         static_cast<uint32_t>(v[2]), v[3]);
}

absl::Status CmdMknodes(Session& s, const CmdArgs& a) {
  return Mknodes(s, FirstArg(a));
}

namespace {

// mangle's name or uuid in the form --manglename asks for (the session runs
// in mode "none" here: names are as the kernel has them).
absl::StatusOr<std::string> MangledAs(Mangling target, const std::string& value,
                                      const char* what) {
  absl::StatusOr<std::string> converted =
      target == Mangling::kNone ? UnmangleString(value, what, Mangling::kNone)
                                : MangleString(value, what, Mangling::kNone);
  if (converted.ok()) return converted;
  return Failure(absl::StrCat(converted.status().message(), "\nFailed to ",
                              target == Mangling::kNone ? "unmangle" : "mangle",
                              " device ", what, " \"", value, "\"."));
}

// In auto mode, a name or uuid mangled twice is left to the user.
absl::Status CheckNotMangledTwice(const std::string& name,
                                  const std::string& uuid) {
  if (name.find("\\x5cx") != std::string::npos) {
    return Failure(absl::StrCat("The name \"", name,
                                "\" seems to be mangled more than once. Manual "
                                "intervention required to rename the device."));
  }
  if (uuid.find("\\x5cx") != std::string::npos) {
    return Failure(absl::StrCat(
        "The UUID \"", uuid,
        "\" seems to be mangled more than once. Manual intervention required "
        "to correct the device UUID."));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CmdMangle(Session& s, const CmdArgs& a) {
  std::string name;
  if (a.listed != nullptr) {
    name = *a.listed;
  } else if (a.args.empty() && !s.opt().uuid_set && !s.opt().major_set) {
    return ProcessAll(s, a, false, CmdMangle);
  } else if (!a.args.empty()) {
    name = a.args[0];
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(
      DeviceSel sel,
      s.SelectDevice(name.empty() && !a.listed && a.args.empty() ? nullptr
                                                                 : &name));
  absl::StatusOr<DeviceInfo> info = dm->GetInfo(sel.Ref());
  if (!info.ok()) {
    if (dmkit::ErrnoOf(info.status()) == ENXIO) return Printed();
    return AsSent(info.status(), "status");
  }
  if (name.empty()) name = info->name;
  const std::string& uuid = info->uuid;
  Mangling target =
      s.opt().manglename_set ? s.opt().manglename : Mangling::kAuto;
  if (target == Mangling::kAuto) {
    DMKIT_RETURN_IF_ERROR(CheckNotMangledTwice(name, uuid));
  }
  DMKIT_ASSIGN_OR_RETURN(std::string new_name,
                         MangledAs(target, info->name, "name"));
  DMKIT_ASSIGN_OR_RETURN(std::string new_uuid, MangledAs(target, uuid, "UUID"));
  if (uuid != new_uuid) {
    return Failure(absl::StrCat(
        name, ": ", uuid,
        ": UUID in incorrect form. \nUnable to change device UUID. The "
        "device must be deactivated first."));
  }
  if (name == new_name) {
    s.Out(absl::StrCat(name, ": ", uuid.empty() ? "[no UUID]" : uuid, ": name ",
                       uuid.empty() ? "" : "and UUID ",
                       "already in correct form\n"));
    return absl::OkStatus();
  }
  s.Out(absl::StrCat(name, ": renaming to ", new_name, "\n"));
  return DoRename(s, &name, new_name, false);
}

}  // namespace dmkit::dmsetup
