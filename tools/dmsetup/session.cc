// The dmsetup session: the kernel and streams of one run, libdm's device
// addressing, name handling, node and read-ahead work, and the walk over
// all devices.
#include "tools/dmsetup/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"
#include "tools/dmsetup/tree.h"

#ifndef DMKIT_VERSION
#define DMKIT_VERSION "0.0.0"
#endif

namespace dmkit::dmsetup {

using dmioctl::DeviceInfo;
using dmioctl::DeviceRef;

dmioctl::DeviceRef DeviceSel::Ref() const {
  switch (kind) {
    case dmioctl::DeviceRef::Kind::kUuid:
      return dmioctl::DeviceRef::ByUuid(uuid);
    case dmioctl::DeviceRef::Kind::kDevNum:
      return dmioctl::DeviceRef::ByDevNum(dmioctl::DevNum{
          static_cast<uint32_t>(major), static_cast<uint32_t>(minor)});
    case dmioctl::DeviceRef::Kind::kName:
      break;
  }
  return dmioctl::DeviceRef::ByName(name);
}

IoctlTarget DeviceSel::Target() const {
  IoctlTarget t;
  if (kind == dmioctl::DeviceRef::Kind::kName) t.name = name;
  if (kind == dmioctl::DeviceRef::Kind::kUuid) t.uuid = uuid;
  if (kind == dmioctl::DeviceRef::Kind::kDevNum) {
    t.major = major;
    t.minor = minor;
  }
  return t;
}

Session::Session(Options options, std::string dev_dir,
                 absl::StatusOr<dmioctl::DeviceMapper*> dm, FILE* out,
                 FILE* err)
    : options_(std::move(options)),
      dev_dir_(std::move(dev_dir)),
      nodes_(dev_dir_, kDebianNodeOwnership),
      dm_(std::move(dm)),
      out_(out),
      err_(err) {}

Session::~Session() = default;

std::string Session::MapperDir() const {
  std::string dir = dev_dir_;
  if (dir.empty() || dir.back() != '/') dir.push_back('/');
  return absl::StrCat(dir, "mapper");
}

void Session::Out(absl::string_view text) {
  fwrite(text.data(), 1, text.size(), out_);
}

void Session::Err(absl::string_view line) {
  fflush(out_);
  fprintf(err_, "%.*s\n", static_cast<int>(line.size()), line.data());
}

dmioctl::DeviceMapper* Session::Dm() {
  if (dm_.ok()) return *dm_;
  if (dm_failure_printed_) return nullptr;
  dm_failure_printed_ = true;
  int err = dmkit::ErrnoOf(dm_.status());
  std::string control = absl::StrCat(MapperDir(), "/control");
  if (err != 0) {
    Err(absl::StrCat(control, ": open failed: ", strerror(err)));
  } else {
    Err(dm_.status().message());
  }
  Err("Failure to communicate with kernel device-mapper driver.");
  if (geteuid() == 0) {
    Err("Check that device-mapper is available in the kernel.");
  }
  Err(absl::StrCat("Incompatible libdevmapper dmkit ", DMKIT_VERSION,
                   " and kernel driver (unknown version)."));
  return nullptr;
}

std::optional<std::string> Session::TaskName(absl::string_view name,
                                             bool creating) {
  std::string resolved(name);
  if (size_t slash = name.rfind('/'); slash != absl::string_view::npos) {
    if (creating) {
      Err(absl::StrCat("Name \"", name, "\" invalid. It contains \"/\"."));
      return std::nullopt;
    }
    // _dm_task_set_name_from_path(): a node path names its device.
    std::string path(name);
    absl::string_view base = name.substr(slash + 1);
    struct stat st1, st2;
    std::string found;
    if (stat(path.c_str(), &st1) == 0) {
      std::string mapper = absl::StrCat(MapperDir(), "/", base);
      if (stat(mapper.c_str(), &st2) == 0 && st1.st_rdev == st2.st_rdev) {
        found = std::string(base);
      }
    } else {
      size_t slashes = std::count(name.begin(), name.end(), '/');
      if (name.size() < 3 || name[0] == '/' || slashes != 1) {
        Err(absl::StrCat("Device ", name, " not found"));
        return std::nullopt;
      }
      std::string alt = absl::StrCat(MapperDir(), "/../", name);
      if (stat(alt.c_str(), &st1) != 0) {
        Err(absl::StrCat("Device ", name, " not found"));
        return std::nullopt;
      }
    }
    if (found.empty()) {
      std::string dir = MapperDir();
      if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
          if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
          std::string p = absl::StrCat(dir, "/", e->d_name);
          if (stat(p.c_str(), &st2) == 0 && st2.st_rdev == st1.st_rdev) {
            found = e->d_name;
            break;
          }
        }
        closedir(d);
      } else {
        Err(absl::StrCat(dir, ": opendir failed: ", strerror(errno)));
      }
      if (found.empty()) {
        Err(absl::StrCat("Device ", base, " not found"));
        return std::nullopt;
      }
    }
    // An existing node's name is used as it is, unmangled.
    return found;
  }
  if (resolved.size() >= 128) {
    Err(absl::StrCat("Name \"", name, "\" too long."));
    return std::nullopt;
  }
  if (std::string e = CheckMultipleMangled(name, "name", mangling_);
      !e.empty()) {
    Err(e);
    return std::nullopt;
  }
  if (mangling_ != Mangling::kNone) {
    MangleResult m = MangleString(name, "name", mangling_);
    if (m.changed < 0) {
      Err(m.error);
      Err(absl::StrCat("Failed to mangle device name \"", name, "\"."));
      return std::nullopt;
    }
    if (m.changed) return m.value;
  }
  return resolved;
}

std::optional<std::string> Session::TaskUuid(absl::string_view uuid) {
  if (std::string e = CheckMultipleMangled(uuid, "UUID", mangling_);
      !e.empty()) {
    Err(e);
    return std::nullopt;
  }
  if (mangling_ != Mangling::kNone) {
    MangleResult m = MangleString(uuid, "UUID", mangling_);
    if (m.changed < 0) {
      Err(m.error);
      Err(absl::StrCat("Failed to mangle device uuid \"", uuid, "\"."));
      return std::nullopt;
    }
    if (m.changed) return m.value;
  }
  return std::string(uuid);
}

std::optional<DeviceSel> Session::SelectDevice(const std::string* name,
                                               bool optional) {
  DeviceSel sel;
  if (name != nullptr) {
    std::optional<std::string> n = TaskName(*name, false);
    if (!n) return std::nullopt;
    sel.kind = dmioctl::DeviceRef::Kind::kName;
    sel.name = *n;
  } else if (options_.uuid_set) {
    std::optional<std::string> u = TaskUuid(options_.uuid);
    if (!u) return std::nullopt;
    sel.kind = dmioctl::DeviceRef::Kind::kUuid;
    sel.uuid = *u;
  } else if (options_.major_set && options_.minor_set) {
    sel.kind = dmioctl::DeviceRef::Kind::kDevNum;
    sel.major = options_.major;
    sel.minor = options_.minor;
  } else if (!optional) {
    Err("No device specified.");
    return std::nullopt;
  }
  return sel;
}

std::optional<std::string> Session::Unmangled(absl::string_view kernel_name,
                                              absl::string_view what) {
  if (mangling_ == Mangling::kNone) return std::string(kernel_name);
  if (std::string e = CheckMultipleMangled(kernel_name, what, mangling_);
      !e.empty()) {
    Err(e);
    return std::nullopt;
  }
  MangleResult m = UnmangleString(kernel_name, what, mangling_);
  if (m.changed < 0) {
    Err(m.error);
    return std::nullopt;
  }
  return m.changed ? m.value : std::string(kernel_name);
}

void Session::IoctlErrno(absl::string_view op, const IoctlTarget& target,
                         int error_number) {
  Err(FormatIoctlError(op, target, error_number));
}

void Session::IoctlError(absl::string_view op, const IoctlTarget& target,
                         const absl::Status& status) {
  Err(FormatStatusError(op, target, status));
}

void Session::AddNode(absl::string_view name, dmioctl::DevNum dev,
                      const dmioctl::NodeOwnership* owner) {
  if (name.empty()) return;
  std::string path = absl::StrCat(MapperDir(), "/", name);
  struct stat st;
  // libdm _add_dev_node() follows links and refuses anything but a block
  // device in the node's place.
  if (stat(path.c_str(), &st) == 0 && !S_ISBLK(st.st_mode)) {
    Err(absl::StrCat("A non-block device file at '", path,
                     "' is already present"));
    return;
  }
  nodes_.set_ownership(owner ? *owner : kDebianNodeOwnership);
  absl::StatusOr<bool> added = nodes_.Add(name, dev);
  if (!added.ok()) {
    Err(absl::StrCat(path, ": mknod for ", name,
                     " failed: ", strerror(dmkit::ErrnoOf(added.status()))));
  }
}

void Session::RemoveNode(absl::string_view name) {
  if (name.empty()) return;
  // libdm _rm_dev_node()'s message; like libdm, the command goes on.
  if (!nodes_.Remove(name).ok()) {
    Err(absl::StrCat("Unable to unlink device node for '", name, "'"));
  }
}

void Session::RenameNode(absl::string_view old_name,
                         absl::string_view new_name) {
  std::string from = absl::StrCat(MapperDir(), "/", old_name);
  std::string to = absl::StrCat(MapperDir(), "/", new_name);
  struct stat st;
  if (lstat(to.c_str(), &st) == 0) {
    struct stat target = st;
    if (S_ISLNK(st.st_mode) && stat(to.c_str(), &target) != 0) {
      Err(absl::StrCat(to, ": stat failed: ", strerror(errno)));
      return;
    }
    if (!S_ISBLK(target.st_mode)) {
      Err(absl::StrCat("A non-block device file at '", to,
                       "' is already present"));
      return;
    }
    if (unlink(to.c_str()) != 0 && errno != EPERM) {
      Err(absl::StrCat("Unable to unlink device node for '", new_name, "'"));
      return;
    }
  }
  if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
    Err(absl::StrCat("Unable to rename device node from '", old_name, "' to '",
                     new_name, "'"));
  }
}

namespace {
std::string SysBlockPath(dmioctl::DevNum dev, absl::string_view rest) {
  return absl::StrCat("/sys/dev/block/", dev.major, ":", dev.minor, rest);
}

bool ReadFileText(const std::string& path, std::string* text) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int saved = errno;
  close(fd);
  if (n < 0) {
    errno = saved;
    return false;
  }
  text->assign(buf, static_cast<size_t>(n));
  return true;
}
}  // namespace

std::optional<uint32_t> Session::ReadAhead(absl::string_view name,
                                           dmioctl::DevNum dev) {
  if (dev.major != 0) {
    std::string text;
    if (ReadFileText(SysBlockPath(dev, "/bdi/read_ahead_kb"), &text)) {
      return static_cast<uint32_t>(Atoi(text) * 2);
    }
  }
  if (name.empty()) {
    Err("Empty device name passed to BLKRAGET");
    return std::nullopt;
  }
  std::string path = absl::StrCat(MapperDir(), "/", name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Err(absl::StrCat(path, ": open failed: ", strerror(errno)));
    return std::nullopt;
  }
  long value = 0;
  int r = ioctl(fd, BLKRAGET, &value);
  int saved = errno;
  close(fd);
  if (r != 0) {
    Err(absl::StrCat(name, ": BLKRAGET failed: ", strerror(saved)));
    return std::nullopt;
  }
  return static_cast<uint32_t>(value);
}

void Session::SetReadAhead(absl::string_view name, dmioctl::DevNum dev) {
  uint32_t read_ahead = options_.readahead;
  if (!options_.readahead_set || read_ahead == kReadAheadAuto) return;
  if (options_.readahead_minimum) {
    std::optional<uint32_t> current = ReadAhead(name, dev);
    if (!current || *current >= read_ahead) return;
  }
  if (dev.major != 0) {
    std::string path = SysBlockPath(dev, "/bdi/read_ahead_kb");
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      // sysfs counts kB: round the sectors up.
      std::string text = absl::StrCat((read_ahead + 1) / 2);
      if (write(fd, text.data(), text.size()) !=
          static_cast<ssize_t>(text.size())) {
        Err(absl::StrCat(path, ": write failed: ", strerror(errno)));
      }
      close(fd);
      return;
    }
  }
  std::string path = absl::StrCat(MapperDir(), "/", name);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    Err(absl::StrCat(path, ": open failed: ", strerror(errno)));
    return;
  }
  if (ioctl(fd, BLKRASET, static_cast<long>(read_ahead)) != 0) {
    Err(absl::StrCat(name, ": BLKRASET failed: ", strerror(errno)));
  }
  close(fd);
}

std::optional<std::string> Session::DeviceName(dmioctl::DevNum dev,
                                               bool prefer_kernel_name) {
  if (IsDmMajor(dev.major) && !prefer_kernel_name) {
    std::string text;
    if (ReadFileText(SysBlockPath(dev, "/dm/name"), &text)) {
      if (!text.empty()) text.pop_back();  // '\n'
      return text;
    }
  }
  char link[4096];
  std::string path = SysBlockPath(dev, "");
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  if (n < 0) {
    if (errno != ENOENT) {
      Err(absl::StrCat(path, ": readlink failed: ", strerror(errno)));
    }
    return std::nullopt;
  }
  link[n] = '\0';
  const char* base = strrchr(link, '/');
  if (base == nullptr) {
    Err(absl::StrCat("Could not locate device kernel name in sysfs path ",
                     link));
    return std::nullopt;
  }
  return std::string(base + 1);
}

bool Session::IsDmMajor(uint32_t major) {
  if (!dm_majors_loaded_) {
    dm_majors_loaded_ = 1;
    std::string text;
    int fd = open("/proc/devices", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, n);
      close(fd);
    }
    bool block = false;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::StartsWith(line, "Block devices:")) block = true;
      if (!block) continue;
      std::pair<absl::string_view, absl::string_view> f =
          absl::StrSplit(absl::StripLeadingAsciiWhitespace(line), ' ');
      uint32_t m;
      if (f.second == "device-mapper" && absl::SimpleAtoi(f.first, &m)) {
        dm_majors_.push_back(m);
      }
    }
  }
  return std::find(dm_majors_.begin(), dm_majors_.end(), major) !=
         dm_majors_.end();
}

void Session::DisplayInfo(const dmioctl::DeviceInfo& info,
                          absl::string_view name) {
  std::optional<uint32_t> ra = ReadAhead(name, info.dev);
  Out(FormatInfoLong(info, name, ra));
}

void Session::JsonBegin(absl::string_view key) {
  if (json_started_) return;
  json_started_ = true;
  json_.BeginObject();
  json_.Key(key);
  json_.BeginArray();
}

std::string Session::JsonEnd() {
  json_.EndArray();
  json_.EndObject();
  return json_.text();
}

std::string FormatInfoLong(const dmioctl::DeviceInfo& info,
                           absl::string_view name,
                           std::optional<uint32_t> read_ahead) {
  std::string out = absl::StrCat("Name:              ", name, "\n");
  absl::StrAppend(
      &out, "State:             ", info.suspended() ? "SUSPENDED" : "ACTIVE",
      info.read_only() ? " (READ-ONLY)" : "",
      info.deferred_remove() ? " (DEFERRED REMOVE)" : "", "\n");
  if (read_ahead)
    absl::StrAppend(&out, "Read Ahead:        ", *read_ahead, "\n");
  if (!info.live_table() && !info.inactive_table()) {
    out += "Tables present:    None\n";
  } else {
    absl::StrAppend(&out,
                    "Tables present:    ", info.live_table() ? "LIVE" : "",
                    info.live_table() && info.inactive_table() ? " & " : "",
                    info.inactive_table() ? "INACTIVE" : "", "\n");
  }
  if (info.open_count != -1) {
    absl::StrAppend(&out, "Open count:        ", info.open_count, "\n");
  }
  absl::StrAppend(&out, "Event number:      ", info.event_nr, "\n");
  absl::StrAppend(&out, "Major, minor:      ", info.dev.major, ", ",
                  info.dev.minor, "\n");
  absl::StrAppend(&out, "Number of targets: ",
                  static_cast<int32_t>(info.target_count), "\n");
  if (!info.uuid.empty()) absl::StrAppend(&out, "UUID: ", info.uuid, "\n");
  out.push_back('\n');
  return out;
}

void Session::set_report_tree(std::unique_ptr<DepTree> tree) {
  report_tree_ = std::move(tree);
  report_tree_built_ = true;
}

bool ProcessAll(Session& s, const CmdArgs& a, bool silent, PerDeviceFn fn) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> list =
      dm->ListDevices({.with_uuid = false});
  if (!list.ok()) {
    s.IoctlError("names", IoctlTarget{}, list.status());
    return false;
  }
  if (list->empty()) {
    if (!silent && !s.opt().json) s.Out("No devices found\n");
    return true;
  }
  // The list's names are unmangled first, as libdm does for the whole reply.
  std::vector<std::string> names;
  for (const dmioctl::DeviceListEntry& e : *list) {
    std::optional<std::string> n = s.Unmangled(e.name, "name");
    if (!n) return false;
    names.push_back(*n);
  }
  bool r = true;
  for (size_t i = 0; i < names.size(); ++i) {
    CmdArgs b;
    b.cmd = a.cmd;
    b.args = a.args;
    b.listed = &names[i];
    b.multiple = true;
    b.listed_dev = (*list)[i].dev;
    if (!fn(s, b)) r = false;
  }
  return r;
}

bool Mknodes(Session& s, const std::string* name) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  if (name == nullptr) {
    s.Nodes().set_ownership(kDebianNodeOwnership);
    absl::StatusOr<dmioctl::MknodesReport> report = s.Nodes().Reconcile(*dm);
    if (!report.ok()) {
      if (dmioctl::GetIoctlErrorInfo(report.status())) {
        s.IoctlError("names", IoctlTarget{}, report.status());
      } else {
        s.Err(report.status().message());
      }
      return false;
    }
    return true;
  }
  std::optional<DeviceSel> sel = s.SelectDevice(name);
  if (!sel) return false;
  absl::StatusOr<DeviceInfo> info = dm->GetInfo(sel->Ref());
  if (info.ok()) {
    std::optional<std::string> shown = s.Unmangled(info->name, "name");
    if (!shown) return false;
    s.AddNode(*shown, info->dev);
    return true;
  }
  if (dmkit::ErrnoOf(info.status()) == ENXIO) {
    if (sel->kind == DeviceRef::Kind::kName) s.RemoveNode(sel->name);
    return true;
  }
  s.IoctlError("mknodes", sel->Target(), info.status());
  return false;
}

}  // namespace dmkit::dmsetup
