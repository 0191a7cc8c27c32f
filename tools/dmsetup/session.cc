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

absl::Status DeviceSel::AsSent(const absl::Status& status,
                               const char* op) const {
  std::optional<dmioctl::IoctlErrorInfo> sent =
      dmioctl::GetIoctlErrorInfo(status);
  if (!sent) return status;
  dmioctl::IoctlErrorInfo info{.error_number = sent->error_number,
                               .operation = op,
                               .ioctl_name = sent->ioctl_name,
                               .detail = sent->detail};
  if (kind == dmioctl::DeviceRef::Kind::kName) info.name = name;
  if (kind == dmioctl::DeviceRef::Kind::kUuid) info.uuid = uuid;
  if (kind == dmioctl::DeviceRef::Kind::kDevNum) info.dev = Ref().dev();
  return dmioctl::KernelError(info);
}

absl::Status DeviceSel::KernelError(const char* op, int error_number) const {
  return AsSent(dmioctl::KernelError({.error_number = error_number}), op);
}

absl::Status Failure(absl::string_view lines) {
  return absl::UnknownError(lines);
}

absl::Status Printed() { return absl::UnknownError(""); }

absl::StatusOr<std::string> ReadFd(int fd) {
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return dmkit::ErrnoError(errno, "read");
    if (n == 0) return text;
    text.append(buf, static_cast<size_t>(n));
  }
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

void Session::PrintError(const absl::Status& status) {
  if (status.ok() || status.message().empty()) return;
  Err(ErrorText(status));
}

absl::StatusOr<dmioctl::DeviceMapper*> Session::Dm() {
  if (dm_.ok()) return *dm_;
  if (dm_failure_returned_) return Printed();
  dm_failure_returned_ = true;
  int err = dmkit::ErrnoOf(dm_.status());
  std::string lines =
      err != 0
          ? absl::StrCat(MapperDir(), "/control: open failed: ", strerror(err))
          : std::string(dm_.status().message());
  absl::StrAppend(&lines,
                  "\nFailure to communicate with kernel device-mapper "
                  "driver.");
  if (geteuid() == 0) {
    absl::StrAppend(&lines,
                    "\nCheck that device-mapper is available in the kernel.");
  }
  absl::StrAppend(&lines, "\nIncompatible libdevmapper dmkit ", DMKIT_VERSION,
                  " and kernel driver (unknown version).");
  return Failure(lines);
}

namespace {

// _dm_task_set_name_from_path(): the name of the device a node path is for
// (an existing node's name is used as it is, unmangled).
absl::StatusOr<std::string> NameFromPath(const std::string& dir,
                                         absl::string_view path) {
  absl::string_view base = path.substr(path.rfind('/') + 1);
  auto not_found = [](absl::string_view what) {
    return Failure(absl::StrCat("Device ", what, " not found"));
  };
  struct stat st1, st2;
  if (stat(std::string(path).c_str(), &st1) == 0) {
    std::string mapper = absl::StrCat(dir, "/", base);
    if (stat(mapper.c_str(), &st2) == 0 && st1.st_rdev == st2.st_rdev) {
      return std::string(base);
    }
  } else {
    size_t slashes = std::count(path.begin(), path.end(), '/');
    if (path.size() < 3 || path[0] == '/' || slashes != 1) {
      return not_found(path);
    }
    std::string alt = absl::StrCat(dir, "/../", path);
    if (stat(alt.c_str(), &st1) != 0) return not_found(path);
  }
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return Failure(absl::StrCat(dir, ": opendir failed: ", strerror(errno),
                                "\nDevice ", base, " not found"));
  }
  std::string found;
  while (dirent* e = readdir(d)) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    std::string p = absl::StrCat(dir, "/", e->d_name);
    if (stat(p.c_str(), &st2) == 0 && st2.st_rdev == st1.st_rdev) {
      found = e->d_name;
      break;
    }
  }
  closedir(d);
  if (found.empty()) return not_found(base);
  return found;
}

// libdm's checks and mangling of a name or uuid given to a task: `noun`
// names it in the last line of a mangling error ("device name", "new
// device UUID"); `end` is what that line ends with.
absl::StatusOr<std::string> MangledForTask(absl::string_view value,
                                           absl::string_view what,
                                           absl::string_view noun,
                                           absl::string_view end,
                                           Mangling mode) {
  DMKIT_RETURN_IF_ERROR(CheckMultipleMangled(value, what, mode));
  if (mode == Mangling::kNone) return std::string(value);
  absl::StatusOr<std::string> mangled = MangleString(value, what, mode);
  if (!mangled.ok()) {
    return Failure(absl::StrCat(mangled.status().message(),
                                "\nFailed to mangle ", noun, " \"", value, "\"",
                                end));
  }
  return mangled;
}

}  // namespace

absl::StatusOr<std::string> Session::TaskName(absl::string_view name,
                                              bool creating) {
  if (name.find('/') != absl::string_view::npos) {
    if (creating) {
      return Failure(
          absl::StrCat("Name \"", name, "\" invalid. It contains \"/\"."));
    }
    return NameFromPath(MapperDir(), name);
  }
  if (name.size() >= 128) {
    return Failure(absl::StrCat("Name \"", name, "\" too long."));
  }
  return MangledForTask(name, "name", "device name", ".", mangling_);
}

absl::StatusOr<std::string> Session::TaskUuid(absl::string_view uuid) {
  return MangledForTask(uuid, "UUID", "device uuid", ".", mangling_);
}

absl::StatusOr<std::string> Session::NewName(absl::string_view new_name) {
  if (new_name.find('/') != absl::string_view::npos) {
    return Failure(
        absl::StrCat("Name \"", new_name, "\" invalid. It contains \"/\"."));
  }
  if (new_name.size() >= 128) {
    return Failure(absl::StrCat("Name \"", new_name, "\" too long"));
  }
  if (new_name.empty()) return Failure("Non empty new name is required.");
  return MangledForTask(new_name, "new name", "new device name", "", mangling_);
}

absl::StatusOr<std::string> Session::NewUuid(absl::string_view new_uuid) {
  if (new_uuid.size() >= 129) {
    return Failure(absl::StrCat("Uuid \"", new_uuid, "\" too long"));
  }
  return MangledForTask(new_uuid, "new UUID", "new device UUID", "", mangling_);
}

absl::StatusOr<DeviceSel> Session::SelectDevice(const std::string* name,
                                                bool optional) {
  DeviceSel sel;
  if (name != nullptr) {
    DMKIT_ASSIGN_OR_RETURN(sel.name, TaskName(*name, false));
    sel.kind = dmioctl::DeviceRef::Kind::kName;
  } else if (options_.uuid_set) {
    DMKIT_ASSIGN_OR_RETURN(sel.uuid, TaskUuid(options_.uuid));
    sel.kind = dmioctl::DeviceRef::Kind::kUuid;
  } else if (options_.major_set && options_.minor_set) {
    sel.kind = dmioctl::DeviceRef::Kind::kDevNum;
    sel.major = options_.major;
    sel.minor = options_.minor;
  } else if (!optional) {
    return Failure("No device specified.");
  }
  return sel;
}

absl::StatusOr<std::string> Session::Unmangled(absl::string_view kernel_name,
                                               absl::string_view what) {
  if (mangling_ == Mangling::kNone) return std::string(kernel_name);
  DMKIT_RETURN_IF_ERROR(CheckMultipleMangled(kernel_name, what, mangling_));
  return UnmangleString(kernel_name, what, mangling_);
}

// DeviceNodes::Add() replaces a link at the node's path unless it points
// at the device; libdm's _add_dev_node() follows the link and refuses a
// non-block file behind it. That check, and libdm's wording, are why this
// is not a plain Add().
void Session::AddNode(absl::string_view name, dmioctl::DevNum dev,
                      const dmioctl::NodeOwnership* owner) {
  if (name.empty()) return;
  std::string path = absl::StrCat(MapperDir(), "/", name);
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISBLK(st.st_mode)) {
    PrintError(Failure(absl::StrCat("A non-block device file at '", path,
                                    "' is already present")));
    return;
  }
  nodes_.set_ownership(owner ? *owner : kDebianNodeOwnership);
  absl::StatusOr<bool> added = nodes_.Add(name, dev);
  if (!added.ok()) {
    PrintError(Failure(absl::StrCat(path, ": mknod for ", name, " failed: ",
                                    strerror(dmkit::ErrnoOf(added.status())))));
  }
}

namespace {

std::string SysBlockPath(dmioctl::DevNum dev, absl::string_view rest) {
  return absl::StrCat("/sys/dev/block/", dev.major, ":", dev.minor, rest);
}

// A small sysfs file, read at once.
absl::StatusOr<std::string> ReadFileText(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dmkit::ErrnoError(errno, path);
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  int saved = errno;
  close(fd);
  if (n < 0) return dmkit::ErrnoError(saved, path);
  return std::string(buf, static_cast<size_t>(n));
}

// The node of `name` opened for a BLKRA* ioctl, or libdm's message.
absl::StatusOr<int> OpenNode(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Failure(absl::StrCat(path, ": open failed: ", strerror(errno)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<uint32_t> Session::ReadAhead(absl::string_view name,
                                            dmioctl::DevNum dev) {
  if (dev.major != 0) {
    absl::StatusOr<std::string> text =
        ReadFileText(SysBlockPath(dev, "/bdi/read_ahead_kb"));
    if (text.ok()) return static_cast<uint32_t>(Atoi(*text) * 2);
  }
  if (name.empty()) return Failure("Empty device name passed to BLKRAGET");
  DMKIT_ASSIGN_OR_RETURN(int fd,
                         OpenNode(absl::StrCat(MapperDir(), "/", name)));
  long value = 0;
  int r = ioctl(fd, BLKRAGET, &value);
  int saved = errno;
  close(fd);
  if (r != 0) {
    return Failure(absl::StrCat(name, ": BLKRAGET failed: ", strerror(saved)));
  }
  return static_cast<uint32_t>(value);
}

void Session::SetReadAhead(absl::string_view name, dmioctl::DevNum dev) {
  uint32_t read_ahead = options_.readahead;
  if (!options_.readahead_set || read_ahead == kReadAheadAuto) return;
  if (options_.readahead_minimum) {
    absl::StatusOr<uint32_t> current = ReadAhead(name, dev);
    PrintError(current.status());
    if (!current.ok() || *current >= read_ahead) return;
  }
  if (dev.major != 0) {
    std::string path = SysBlockPath(dev, "/bdi/read_ahead_kb");
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      // sysfs counts kB: round the sectors up.
      std::string text = absl::StrCat((read_ahead + 1) / 2);
      if (write(fd, text.data(), text.size()) !=
          static_cast<ssize_t>(text.size())) {
        PrintError(
            Failure(absl::StrCat(path, ": write failed: ", strerror(errno))));
      }
      close(fd);
      return;
    }
  }
  absl::StatusOr<int> fd = OpenNode(absl::StrCat(MapperDir(), "/", name));
  if (!fd.ok()) {
    PrintError(fd.status());
    return;
  }
  if (ioctl(*fd, BLKRASET, static_cast<long>(read_ahead)) != 0) {
    PrintError(
        Failure(absl::StrCat(name, ": BLKRASET failed: ", strerror(errno))));
  }
  close(*fd);
}

absl::StatusOr<std::string> Session::DeviceName(dmioctl::DevNum dev,
                                                bool prefer_kernel_name) {
  if (IsDmMajor(dev.major) && !prefer_kernel_name) {
    absl::StatusOr<std::string> text =
        ReadFileText(SysBlockPath(dev, "/dm/name"));
    if (text.ok()) {
      if (!text->empty()) text->pop_back();  // '\n'
      return text;
    }
  }
  char link[4096];
  std::string path = SysBlockPath(dev, "");
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  if (n < 0) {
    if (errno == ENOENT) return Printed();
    return Failure(absl::StrCat(path, ": readlink failed: ", strerror(errno)));
  }
  link[n] = '\0';
  const char* base = strrchr(link, '/');
  if (base == nullptr) {
    return Failure(absl::StrCat(
        "Could not locate device kernel name in sysfs path ", link));
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
  absl::StatusOr<uint32_t> ra = ReadAhead(name, info.dev);
  PrintError(ra.status());
  Out(FormatInfoLong(info, name,
                     ra.ok() ? std::optional<uint32_t>(*ra) : std::nullopt));
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
}

absl::Status ProcessAll(Session& s, const CmdArgs& a, bool silent,
                        PerDeviceFn fn) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  DMKIT_ASSIGN_OR_RETURN(std::vector<dmioctl::DeviceListEntry> list,
                         dm->ListDevices({.with_uuid = false}));
  if (list.empty()) {
    if (!silent && !s.opt().json) s.Out("No devices found\n");
    return absl::OkStatus();
  }
  // The list's names are unmangled first, as libdm does for the whole reply.
  std::vector<std::string> names;
  for (const dmioctl::DeviceListEntry& e : list) {
    DMKIT_ASSIGN_OR_RETURN(names.emplace_back(), s.Unmangled(e.name, "name"));
  }
  absl::Status r;
  for (size_t i = 0; i < names.size(); ++i) {
    CmdArgs b;
    b.cmd = a.cmd;
    b.args = a.args;
    b.listed = &names[i];
    b.multiple = true;
    b.listed_dev = list[i].dev;
    absl::Status done = fn(s, b);
    if (!done.ok()) {
      s.PrintError(done);
      r = Printed();
    }
  }
  return r;
}

absl::Status Mknodes(Session& s, const std::string* name) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  if (name == nullptr) {
    s.Nodes().set_ownership(kDebianNodeOwnership);
    return s.Nodes().Reconcile(*dm).status();
  }
  DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(name));
  absl::StatusOr<DeviceInfo> info = dm->GetInfo(sel.Ref());
  if (info.ok()) {
    DMKIT_ASSIGN_OR_RETURN(std::string shown, s.Unmangled(info->name, "name"));
    s.AddNode(shown, info->dev);
    return absl::OkStatus();
  }
  if (dmkit::ErrnoOf(info.status()) != ENXIO) {
    return AsSent(info.status(), "mknodes");
  }
  // libdm's _rm_dev_node(): the message, and the command goes on.
  if (sel.kind == DeviceRef::Kind::kName && !s.Nodes().Remove(sel.name).ok()) {
    s.PrintError(Failure(
        absl::StrCat("Unable to unlink device node for '", sel.name, "'")));
  }
  return absl::OkStatus();
}

}  // namespace dmkit::dmsetup
