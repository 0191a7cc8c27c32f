// dmsetup commands that change devices: create, load, remove, suspend,
// resume, clear, wipe_table, rename, message, setgeometry, wait, mknodes,
// mangle. Each follows the ioctl sequence and the messages of dmsetup.c and
// libdevmapper (libdm-iface.c) without udev: nodes under $DM_DEV_DIR/mapper
// are made and removed here, as libdm's fallback does.
#include "tools/dmsetup/commands.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cinttypes>
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

bool ReadAll(int fd, std::string* text) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    text->append(buf, static_cast<size_t>(n));
  }
}

// dmsetup _parse_file(): --table text, a table file, or stdin.
bool ReadTable(Session& s, const std::string* table_text,
               const std::string* file, dmioctl::Table* table) {
  std::string text;
  std::string source;
  if (table_text != nullptr) {
    text = *table_text;
  } else if (file != nullptr) {
    int fd = open(file->c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !ReadAll(fd, &text)) {
      if (fd >= 0) close(fd);
      s.Err(absl::StrCat("Couldn't open '", *file, "' for reading."));
      return false;
    }
    close(fd);
    source = *file;
  } else {
    if (!ReadAll(STDIN_FILENO, &text)) text.clear();
    source = "on stdin";
  }
  absl::StatusOr<dmioctl::Table> parsed = dmioctl::ParseTable(text, source);
  if (!parsed.ok()) {
    s.Err(parsed.status().message());
    return false;
  }
  *table = *std::move(parsed);
  return true;
}

// A table load as the kernel answers it. dmioctl checks a table before the
// ioctl (gaps, zero lengths, no targets); libdm sends it and the kernel
// refuses it with EINVAL, or with ENXIO first when the device is missing.
absl::StatusOr<DeviceInfo> LoadTable(dmioctl::DeviceMapper& dm,
                                     const DeviceRef& ref,
                                     const dmioctl::Table& table) {
  if (table.Validate().ok()) return dm.LoadTable(ref, table);
  absl::StatusOr<DeviceInfo> exists = dm.GetInfo(ref);
  if (!exists.ok()) return exists.status();
  return dmioctl::KernelError({.error_number = EINVAL,
                               .operation = "reload",
                               .ioctl_name = "DM_TABLE_LOAD"});
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
bool RefuseWaitingSuspend(Session& s, dmioctl::DeviceMapper& dm,
                          const DeviceSel& sel, absl::string_view doing) {
  std::string pool = QueueingThinPool(s, dm, sel.Ref());
  if (pool.empty()) return false;
  std::string how_long = "until it grows";
  std::string text;
  int fd = open("/sys/module/dm_thin_pool/parameters/no_space_timeout",
                O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (ReadAll(fd, &text) && Atoi(text) > 0) {
      how_long =
          absl::StrCat("for up to ", Atoi(text), " s (no_space_timeout)");
    }
    close(fd);
  }
  std::string name = sel.kind == DeviceRef::Kind::kName ? sel.name
                     : sel.kind == DeviceRef::Kind::kUuid
                         ? sel.uuid
                         : absl::StrCat(sel.major, ":", sel.minor);
  s.Err(absl::StrCat("dmkit: not ", doing, " ", name, ": thin pool ", pool,
                     " is out of data space and holds writes back ", how_long,
                     ", which a flushing suspend waits for; grow the pool, "
                     "or use --noflush."));
  return true;
}

void NoteBusy(Session& s, dmioctl::DeviceMapper& dm, const DeviceSel& sel) {
  if (!isatty(fileno(s.err()))) return;
  absl::StatusOr<DeviceInfo> info = dm.GetInfo(sel.Ref());
  if (!info.ok()) return;
  s.set_busy_hint(DescribeHolders(info->name, info->dev, info->open_count));
}

// dmsetup _simple(): one ioctl on one device, with the node and read-ahead
// work libdm does after it.
bool Simple(Session& s, SimpleTask task, const std::string* name,
            uint32_t event_nr, bool display) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(name);
  if (!sel) return false;
  Options& o = s.opt();
  dmioctl::SuspendOptions flags{.noflush = o.noflush > 0,
                                .skip_lockfs = o.nolockfs > 0};
  // dmkit: a flushing suspend (or the one of a resume that swaps tables)
  // that would wait for writes held back by a full thin pool is refused.
  if ((task == SimpleTask::kSuspend || task == SimpleTask::kResume) &&
      !flags.noflush) {
    bool swaps = task == SimpleTask::kSuspend;
    if (!swaps) {
      absl::StatusOr<DeviceInfo> now = dm->GetInfo(sel->Ref());
      swaps = now.ok() && now->inactive_table() && !now->suspended();
    }
    if (swaps &&
        RefuseWaitingSuspend(
            s, *dm, *sel,
            task == SimpleTask::kSuspend ? "suspending" : "resuming")) {
      return false;
    }
  }
  absl::StatusOr<DeviceInfo> result;
  switch (task) {
    case SimpleTask::kSuspend:
      result = dm->Suspend(sel->Ref(), flags);
      break;
    case SimpleTask::kResume:
      result = dm->Resume(sel->Ref(), flags);
      break;
    case SimpleTask::kClear:
      result = dm->ClearTable(sel->Ref());
      break;
    case SimpleTask::kWait: {
      absl::StatusOr<dmioctl::TableReply> waited =
          dm->WaitEvent(sel->Ref(), event_nr, {.noflush = o.noflush > 0});
      if (waited.ok()) {
        result = waited->info;
      } else {
        result = waited.status();
      }
      break;
    }
    case SimpleTask::kRemove: {
      dmioctl::RemoveOptions remove = RemoveOptionsFrom(o);
      // libdm prints every failed attempt.
      remove.on_retry = [&](int, const absl::Status& error) {
        s.IoctlError("remove", sel->Target(), error);
      };
      remove.on_failure = [&](const absl::Status& error) {
        s.IoctlError("remove", sel->Target(), error);
        if (dmkit::ErrnoOf(error) == EBUSY) NoteBusy(s, *dm, *sel);
      };
      result = dmioctl::RemoveDevice(*dm, sel->Ref(), remove);
      if (!result.ok()) return false;
      // libdm removes the node of a device named on the command line
      // (even for a deferred remove: the name is going away).
      if (sel->kind == DeviceRef::Kind::kName) s.RemoveNode(sel->name);
      return true;
    }
  }
  if (!result.ok()) {
    s.IoctlError(OpName(task), sel->Target(), result.status());
    return false;
  }
  if (task == SimpleTask::kResume && sel->kind == DeviceRef::Kind::kName &&
      !sel->name.empty()) {
    if (!o.addnodeoncreate) s.AddNode(sel->name, result->dev);
    s.SetReadAhead(sel->name, result->dev);
  }
  if (display && o.verbose) {
    std::optional<std::string> shown = s.Unmangled(result->name, "name");
    if (!shown) return false;
    s.DisplayInfo(*result, *shown);
  }
  return true;
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

// dmsetup _create_one_device(): libdm's create, load and resume, and the
// rollback of a failed step, are dmioctl::CreateDevice's; this words each
// step's error as libdm does.
bool CreateOneDevice(Session& s, const CreateSpec& spec) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  Options& o = s.opt();
  std::optional<std::string> name = s.TaskName(spec.name, true);
  if (!name) return false;
  std::string uuid;
  if (spec.uuid_set) {
    std::optional<std::string> u = s.TaskUuid(spec.uuid);
    if (!u) return false;
    uuid = *u;
  }
  dmioctl::Table table;
  if (!spec.notable && !ReadTable(s, spec.table_text, spec.file, &table)) {
    return false;
  }
  table.read_only = spec.read_only;
  int major = spec.major;
  int minor = spec.minor;
  if (minor >= 0 && major < 0) {
    // libdm _flatten(): a minor alone takes device-mapper's major.
    for (uint32_t m = 1; m < 4096 && major < 0; ++m) {
      if (s.IsDmMajor(m)) major = static_cast<int>(m);
    }
  }
  if (minor >= 0 && major <= 0) {
    s.Err("Missing major number for persistent device.");
    s.Err("Couldn't create ioctl argument.");
    return false;
  }
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
            if (o.addnodeoncreate) s.AddNode(*name, created.dev, &owner);
          },
      .on_rollback_failure =
          [&](const absl::Status& error) { rollback_error = error; }};
  // libdm encodes the number with MKDEV and the kernel decodes 20 bits of
  // minor: larger minors wrap instead of failing.
  if (minor >= 0) options.minor = static_cast<uint32_t>(minor) & 0xfffff;
  s.Nodes().set_ownership(owner);
  absl::StatusOr<DeviceInfo> created =
      dmioctl::CreateDevice(*dm, *name, table, options);
  if (!created.ok()) {
    // libdm names the device as each request did: the create with what it
    // asked for, the load by number, the resume (and rollback) by name.
    std::optional<dmioctl::IoctlErrorInfo> info =
        dmioctl::GetIoctlErrorInfo(created.status());
    IoctlTarget after{*name, "", major, minor};
    if (!info) {
      s.Err(created.status().message());
    } else if (info->operation == "create") {
      s.IoctlError("create", IoctlTarget{*name, uuid, major, minor},
                   created.status());
    } else if (info->operation == "reload") {
      s.IoctlError("reload",
                   IoctlTarget{*name, "", static_cast<int>(made.major),
                               static_cast<int>(made.minor)},
                   created.status());
    } else {
      s.IoctlError(info->operation, after, created.status());
    }
    if (!rollback_error.ok()) {
      s.IoctlError("remove", after, rollback_error);
      s.Err("Failed to revert device creation.");
    }
    return false;
  }
  if (!table.empty()) s.SetReadAhead(*name, created->dev);
  if (o.verbose) {
    std::optional<std::string> shown = s.Unmangled(created->name, "name");
    if (!shown) return false;
    s.DisplayInfo(*created, *shown);
  }
  return true;
}

// dmsetup _create_concise().
bool CreateConcise(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.table_set || o.minor_set || o.uuid_set || o.notable || o.inactive) {
    s.Err(
        "--concise is incompatible with --[no]table, --minor, --uuid and "
        "--inactive.");
    return false;
  }
  std::string text;
  if (!a.args.empty()) {
    text = a.args[0];
  } else if (!ReadAll(STDIN_FILENO, &text)) {
    s.Err(absl::StrCat("Read from stdin aborted: ", strerror(errno)));
    return false;
  }
  std::string scan_error;
  std::vector<dmioctl::ConciseFields> devices =
      dmioctl::ScanConcise(text, &scan_error);
  for (const dmioctl::ConciseFields& d : devices) {
    CreateSpec spec;
    spec.name = d.name;
    if (!d.uuid.empty()) {
      spec.uuid_set = true;
      spec.uuid = d.uuid;
    }
    if (!d.minor.empty()) spec.minor = Atoi(d.minor);
    absl::StatusOr<bool> read_only = dmioctl::ParseConciseFlags(d.flags);
    if (!read_only.ok()) {
      s.Err(read_only.status().message());
      return false;
    }
    spec.read_only = *read_only;
    spec.table_text = &d.table;
    if (!CreateOneDevice(s, spec)) return false;
  }
  if (!scan_error.empty()) s.Err(scan_error);
  return scan_error.empty();
}

// dmsetup _get_device_size(): the table's length, 0 on any failure.
uint64_t DeviceSize(Session& s, const std::string& name) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return 0;
  std::optional<DeviceSel> sel = s.SelectDevice(&name);
  if (!sel) return 0;
  absl::StatusOr<dmioctl::TableReply> table =
      dm->GetTable(sel->Ref(), s.opt().inactive > 0);
  if (!table.ok()) {
    s.IoctlError("table", sel->Target(), table.status());
    return 0;
  }
  uint64_t size = 0;
  for (const dmioctl::Target& t : table->targets) size += t.length;
  return size;
}

// dmsetup _error_device(): an `error` table of the same size, swapped in.
bool ErrorDevice(Session& s, const std::string& name) {
  if (name.empty()) {
    s.Err("No device specified.");
    return false;
  }
  uint64_t size = DeviceSize(s, name);
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(&name);
  if (!sel) return false;
  if (!s.opt().force && !s.opt().noflush &&
      RefuseWaitingSuspend(s, *dm, *sel, "wiping the table of")) {
    return false;
  }
  dmioctl::Table table;
  table.targets.push_back(dmioctl::Target{0, size, "error", ""});
  table.read_only = s.opt().readonly > 0;
  absl::StatusOr<DeviceInfo> loaded = LoadTable(*dm, sel->Ref(), table);
  if (!loaded.ok()) {
    s.IoctlError("reload", sel->Target(), loaded.status());
    return false;
  }
  Options& o = s.opt();
  if (o.force) {
    // Avoid a hang on flushing with --force (dmsetup sets the switches for
    // the rest of the run).
    o.nolockfs = o.noflush = 1;
  }
  if (!Simple(s, SimpleTask::kResume, &name, 0, false)) {
    Simple(s, SimpleTask::kClear, &name, 0, false);
    return false;
  }
  return true;
}

const std::string* FirstArg(const CmdArgs& a) {
  return a.args.empty() ? nullptr : &a.args[0];
}

}  // namespace

dmioctl::RemoveOptions RemoveOptionsFrom(const Options& o) {
  return {.retries = o.retry ? 24 : 0,
          .retry_delay = std::chrono::milliseconds(200),
          .deferred = o.deferred > 0};
}

namespace {

// dmsetup _do_rename().
bool DoRename(Session& s, const std::string* name, const std::string* new_name,
              const std::string* new_uuid) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(name);
  if (!sel) return false;
  std::string value;
  // libdm checks and mangles the new name and the new uuid the same way.
  auto mangle_new = [&](const std::string& text, const char* what,
                        const char* noun) {
    if (std::string e = CheckMultipleMangled(text, what, s.mangling());
        !e.empty()) {
      s.Err(e);
      return false;
    }
    value = text;
    if (s.mangling() == Mangling::kNone) return true;
    MangleResult m = MangleString(text, what, s.mangling());
    if (m.changed < 0) {
      s.Err(m.error);
      s.Err(absl::StrCat("Failed to mangle new device ", noun, " \"", text,
                         "\""));
      return false;
    }
    if (m.changed) value = m.value;
    return true;
  };
  if (new_uuid != nullptr) {
    if (new_uuid->size() >= 129) {
      s.Err(absl::StrCat("Uuid \"", *new_uuid, "\" too long"));
      return false;
    }
    if (!mangle_new(*new_uuid, "new UUID", "UUID")) return false;
  } else {
    if (new_name->find('/') != std::string::npos) {
      s.Err(
          absl::StrCat("Name \"", *new_name, "\" invalid. It contains \"/\"."));
      return false;
    }
    if (new_name->size() >= 128) {
      s.Err(absl::StrCat("Name \"", *new_name, "\" too long"));
      return false;
    }
    if (new_name->empty()) {
      s.Err("Non empty new name is required.");
      return false;
    }
    if (!mangle_new(*new_name, "new name", "name")) return false;
  }
  // The kernel renames by the old name only (dm_hash_rename).
  if (sel->kind != DeviceRef::Kind::kName) {
    s.IoctlErrno("rename", sel->Target(), ENXIO);
    return false;
  }
  absl::StatusOr<DeviceInfo> renamed = new_uuid != nullptr
                                           ? dm->SetUuid(sel->name, value)
                                           : dm->Rename(sel->name, value);
  if (!renamed.ok()) {
    s.IoctlError("rename", sel->Target(), renamed.status());
    return false;
  }
  if (new_uuid == nullptr) s.RenameNode(sel->name, value);
  return true;
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

bool CmdCreate(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.concise) {
    if (a.args.size() > 1) {
      s.Err("dmsetup create --concise takes at most one argument");
      return false;
    }
    return CreateConcise(s, a);
  }
  if (a.args.empty()) {
    s.Err("Please provide a name for the new device.");
    return false;
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

bool CmdLoad(Session& s, const CmdArgs& a) {
  Options& o = s.opt();
  if (o.notable) {
    s.Err("--notable only available when creating new device.");
    return false;
  }
  std::vector<std::string> args = a.args;
  const std::string* name = nullptr;
  std::string name_storage;
  if (!o.uuid_set && !o.major_set) {
    if (args.empty()) {
      s.Err("Please specify device.");
      return false;
    }
    name_storage = args[0];
    name = &name_storage;
    args.erase(args.begin());
  } else if (args.size() > 1) {
    s.Err("Too many command line arguments.");
    return false;
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(name);
  if (!sel) return false;
  dmioctl::Table table;
  if (!ReadTable(s, o.table_set ? &o.table : nullptr,
                 args.size() == 1 ? &args[0] : nullptr, &table)) {
    return false;
  }
  table.read_only = o.readonly > 0;
  absl::StatusOr<DeviceInfo> loaded = LoadTable(*dm, sel->Ref(), table);
  if (!loaded.ok()) {
    s.IoctlError("reload", sel->Target(), loaded.status());
    return false;
  }
  if (o.verbose) {
    std::optional<std::string> shown = s.Unmangled(loaded->name, "name");
    if (!shown) return false;
    s.DisplayInfo(*loaded, *shown);
  }
  return true;
}

bool CmdRemove(Session& s, const CmdArgs& a) {
  const std::string* name = FirstArg(a);
  if (s.opt().force && name != nullptr) {
    // dmsetup ignores how the wipe went and removes regardless.
    (void)ErrorDevice(s, *name);
  }
  return Simple(s, SimpleTask::kRemove, name, 0, false);
}

bool CmdRemoveAll(Session& s, const CmdArgs& a) {
  auto remove_all = [&]() {
    dmioctl::DeviceMapper* dm = s.Dm();
    if (dm == nullptr) return false;
    absl::Status st = dm->RemoveAll(s.opt().deferred > 0);
    if (!st.ok()) s.IoctlError("remove_all", IoctlTarget{}, st);
    return st.ok();
  };
  // dmsetup ORs the results (both steps always run): remove_all succeeds
  // if anything did.
  auto remove_all_and_mknodes = [&]() {
    bool removed = remove_all();
    bool made = Mknodes(s, nullptr);
    return removed || made;
  };
  bool r = remove_all_and_mknodes();
  if (!s.opt().force) return r;
  int devices = 0;
  auto count = [&](Session&, const CmdArgs&) {
    ++devices;
    return true;
  };
  r |= ProcessAll(s, a, true, count);
  if (devices == 0) return r;
  r |= ProcessAll(s, a, true, [](Session& s, const CmdArgs& listed) {
    return ErrorDevice(s, *listed.listed);
  });
  r |= remove_all_and_mknodes();
  devices = 0;
  r |= ProcessAll(s, a, true, count);
  if (devices == 0) return r;
  s.Err(absl::StrCat("Unable to remove ", devices, " device(s)."));
  return r;
}

bool CmdSuspend(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kSuspend, FirstArg(a), 0, true);
}

bool CmdResume(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kResume, FirstArg(a), 0, true);
}

bool CmdClear(Session& s, const CmdArgs& a) {
  return Simple(s, SimpleTask::kClear, FirstArg(a), 0, true);
}

bool CmdWipeTable(Session& s, const CmdArgs& a) {
  if (a.listed != nullptr) return ErrorDevice(s, *a.listed);
  return ErrorDevice(s, a.args.empty() ? std::string() : a.args[0]);
}

bool CmdWait(Session& s, const CmdArgs& a) {
  std::vector<std::string> args = a.args;
  std::string name;
  bool by_name = false;
  if (!s.opt().uuid_set && !s.opt().major_set) {
    if (args.empty()) {
      s.Err("No device specified.");
      return false;
    }
    name = args[0];
    by_name = true;
    args.erase(args.begin());
  }
  uint32_t event_nr =
      args.empty() ? 0 : static_cast<uint32_t>(Atoi(args.back()));
  return Simple(s, SimpleTask::kWait, by_name ? &name : nullptr, event_nr,
                true);
}

bool CmdRename(Session& s, const CmdArgs& a) {
  const std::string* name = a.args.size() == 2 ? &a.args[0] : nullptr;
  const std::string& last = a.args.back();
  if (s.opt().setuuid) return DoRename(s, name, nullptr, &last);
  return DoRename(s, name, &last, nullptr);
}

namespace {

// The device of a command whose arguments follow it: -u/-j/-m select it
// by option, otherwise it is the first argument, which is taken off `args`.
std::optional<DeviceSel> SelectDeviceFromArgs(Session& s,
                                              std::vector<std::string>& args) {
  if (s.opt().uuid_set || s.opt().major_set) return s.SelectDevice(nullptr);
  std::optional<DeviceSel> sel = s.SelectDevice(&args[0]);
  args.erase(args.begin());
  return sel;
}

}  // namespace

bool CmdMessage(Session& s, const CmdArgs& a) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::vector<std::string> args = a.args;
  std::optional<DeviceSel> sel = SelectDeviceFromArgs(s, args);
  if (!sel) return false;
  errno = 0;
  char* end = nullptr;
  const char* text = args.empty() ? "" : args[0].c_str();
  uint64_t sector = strtoull(text, &end, 10);
  if (errno || *end || end == text) {
    s.Err("Invalid sector.");
    return false;
  }
  args.erase(args.begin());
  if (args.empty()) s.Err("No message supplied.");
  std::string message = absl::StrJoin(args, " ");
  // One message per process: room for a long @stats_print costs little.
  absl::StatusOr<std::string> response =
      dm->SendMessage(sel->Ref(), sector, message, 64 * 1024);
  if (!response.ok()) {
    s.IoctlError("message", sel->Target(), response.status());
    return false;
  }
  if (!response->empty()) {
    s.Out(*response);
    if (response->back() != '\n') s.Out("\n");
  }
  return true;
}

bool CmdSetGeometry(Session& s, const CmdArgs& a) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::vector<std::string> args = a.args;
  std::optional<DeviceSel> sel = SelectDeviceFromArgs(s, args);
  if (!sel) return false;
  uint64_t v[4] = {0, 0, 0, 0};
  bool numbers = args.size() >= 4;
  for (size_t i = 0; numbers && i < 4; ++i) {
    numbers = GeometryNumber(args[i], &v[i]);
  }
  absl::Status st;
  if (!numbers || v[0] > UINT32_MAX || v[1] > UINT32_MAX || v[2] > UINT32_MAX) {
    // The kernel finds the device, then rejects what it cannot read.
    absl::StatusOr<DeviceInfo> exists = dm->GetInfo(sel->Ref());
    st = exists.ok()
             ? dmioctl::KernelError({.error_number = EINVAL,
                                     .operation = "setgeometry",
                                     .ioctl_name = "DM_DEV_SET_GEOMETRY"})
             : exists.status();
  } else {
    st = dm->SetGeometry(sel->Ref(), static_cast<uint32_t>(v[0]),
                         static_cast<uint32_t>(v[1]),
                         static_cast<uint32_t>(v[2]), v[3]);
  }
  if (!st.ok()) {
    s.IoctlError("setgeometry", sel->Target(), st);
    return false;
  }
  return true;
}

bool CmdMknodes(Session& s, const CmdArgs& a) {
  return Mknodes(s, FirstArg(a));
}

bool CmdMangle(Session& s, const CmdArgs& a) {
  std::string name;
  if (a.listed != nullptr) {
    name = *a.listed;
  } else if (a.args.empty() && !s.opt().uuid_set && !s.opt().major_set) {
    return ProcessAll(s, a, false, CmdMangle);
  } else if (!a.args.empty()) {
    name = a.args[0];
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  std::optional<DeviceSel> sel = s.SelectDevice(
      name.empty() && !a.listed && a.args.empty() ? nullptr : &name);
  if (!sel) return false;
  absl::StatusOr<DeviceInfo> info = dm->GetInfo(sel->Ref());
  if (!info.ok()) {
    if (dmkit::ErrnoOf(info.status()) != ENXIO) {
      s.IoctlError("status", sel->Target(), info.status());
    }
    return false;
  }
  if (name.empty()) name = info->name;
  const std::string& uuid = info->uuid;
  Mangling target =
      s.opt().manglename_set ? s.opt().manglename : Mangling::kAuto;
  if (target == Mangling::kAuto) {
    if (name.find("\\x5cx") != std::string::npos) {
      s.Err(absl::StrCat("The name \"", name,
                         "\" seems to be mangled more than once. Manual "
                         "intervention required to rename the device."));
      return false;
    }
    if (uuid.find("\\x5cx") != std::string::npos) {
      s.Err(absl::StrCat("The UUID \"", uuid,
                         "\" seems to be mangled more than once. Manual "
                         "intervention required to correct the device UUID."));
      return false;
    }
  }
  // The session runs in mode "none" here: names are as the kernel has them.
  auto convert = [&](const std::string& value, const char* what,
                     std::string* out) {
    MangleResult m = target == Mangling::kNone
                         ? UnmangleString(value, what, Mangling::kNone)
                         : MangleString(value, what, Mangling::kNone);
    if (m.changed < 0) {
      s.Err(m.error);
      s.Err(absl::StrCat("Failed to ",
                         target == Mangling::kNone ? "unmangle" : "mangle",
                         " device ", what, " \"", value, "\"."));
      return false;
    }
    *out = m.changed ? m.value : value;
    return true;
  };
  std::string new_name, new_uuid;
  if (!convert(info->name, "name", &new_name) ||
      !convert(uuid, "UUID", &new_uuid)) {
    return false;
  }
  if (uuid != new_uuid) {
    s.Err(absl::StrCat(name, ": ", uuid, ": UUID in incorrect form. "));
    s.Err(
        "Unable to change device UUID. The device must be deactivated "
        "first.");
    return false;
  }
  if (name == new_name) {
    s.Out(absl::StrCat(name, ": ", uuid.empty() ? "[no UUID]" : uuid, ": name ",
                       uuid.empty() ? "" : "and UUID ",
                       "already in correct form\n"));
    return true;
  }
  s.Out(absl::StrCat(name, ": renaming to ", new_name, "\n"));
  return DoRename(s, &name, &new_name, nullptr);
}

}  // namespace dmkit::dmsetup
