#include "tools/common/holders_scan.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dmioctl/error.h"

namespace dmkit::holders {
namespace {

std::string ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char chunk[8192];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof(chunk))) > 0) text.append(chunk, n);
  close(fd);
  return text;
}

std::string ReadLine(const std::string& path) {
  return std::string(absl::StripTrailingAsciiWhitespace(ReadFile(path)));
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), absl::ascii_isdigit);
}

// Kernel threads (PF_KTHREAD in /proc/PID/stat) have the root filesystem as
// working directory but hold nothing a user can release.
bool IsKernelThread(const std::string& proc, pid_t pid) {
  std::string stat = ReadFile(absl::StrCat(proc, "/", pid, "/stat"));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return false;
  std::vector<absl::string_view> fields = absl::StrSplit(
      absl::string_view(stat).substr(paren + 1), ' ', absl::SkipEmpty());
  constexpr unsigned kPfKthread = 0x00200000;
  unsigned flags = 0;
  // Fields after the name: state ppid pgrp session tty_nr tpgid flags.
  return fields.size() > 6 && absl::SimpleAtoi(fields[6], &flags) &&
         (flags & kPfKthread);
}

// Looks at one process: fds, maps, cwd and root.
std::optional<ProcessUse> ScanProcess(const std::string& proc, pid_t pid,
                                      dev_t dev) {
  if (IsKernelThread(proc, pid)) return std::nullopt;
  ProcessUse use;
  use.pid = pid;
  std::string base = absl::StrCat(proc, "/", pid);
  for (const std::string& fd_name : ListDir(base + "/fd")) {
    int fd;
    if (!absl::SimpleAtoi(fd_name, &fd)) continue;
    struct stat st;
    if (stat(absl::StrCat(base, "/fd/", fd_name).c_str(), &st) != 0) continue;
    if (S_ISBLK(st.st_mode) && st.st_rdev == dev) {
      use.device_fds.push_back(fd);
    } else if (st.st_dev == dev) {
      use.filesystem_fds.push_back(fd);
    }
  }
  std::sort(use.device_fds.begin(), use.device_fds.end());
  std::sort(use.filesystem_fds.begin(), use.filesystem_fds.end());
  struct stat st;
  use.cwd_on_filesystem =
      stat((base + "/cwd").c_str(), &st) == 0 && st.st_dev == dev;
  // Everyone's root is on the root filesystem; only report a root that is
  // on this device when it is not also the machine's root.
  struct stat own_root;
  use.root_on_filesystem = stat((base + "/root").c_str(), &st) == 0 &&
                           st.st_dev == dev && stat("/", &own_root) == 0 &&
                           own_root.st_dev != dev;
  // A mapping of the node itself: maps lists the node's path; its inode
  // lives on devtmpfs, so compare through stat() of the path.
  for (absl::string_view line :
       absl::StrSplit(ReadFile(base + "/maps"), '\n', absl::SkipEmpty())) {
    size_t slash = line.find('/');
    if (slash == absl::string_view::npos) continue;
    std::string path(line.substr(slash));
    if (path.rfind("/dev/", 0) != 0) continue;
    struct stat node;
    if (stat(path.c_str(), &node) == 0 && S_ISBLK(node.st_mode) &&
        node.st_rdev == dev) {
      use.device_mapped = true;
      break;
    }
  }
  if (use.device_fds.empty() && !use.device_mapped &&
      use.filesystem_fds.empty() && !use.cwd_on_filesystem &&
      !use.root_on_filesystem) {
    return std::nullopt;
  }
  use.comm = ReadLine(base + "/comm");
  return use;
}

}  // namespace

absl::StatusOr<dmioctl::DevNum> ResolveDevice(absl::string_view arg,
                                              dmioctl::DeviceMapper* dm) {
  if (arg.empty()) return absl::InvalidArgumentError("empty device argument");
  if (arg.find(':') != absl::string_view::npos && arg[0] != '/') {
    return dmioctl::DevNum::Parse(arg);
  }
  if (arg[0] == '/') {
    struct stat st;
    std::string path(arg);
    if (stat(path.c_str(), &st) != 0) return dmkit::ErrnoError(errno, path);
    if (!S_ISBLK(st.st_mode)) {
      return dmkit::ErrnoError(ENOTBLK, path);
    }
    return dmioctl::DevNum::FromDevT(st.st_rdev);
  }
  if (dm == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        arg, ": not a path or MAJ:MIN, and device-mapper is not available"));
  }
  auto info = dm->GetInfo(dmioctl::DeviceRef::ByName(std::string(arg)));
  if (!info.ok()) {
    if (dmkit::ErrnoOf(info.status()) == ENXIO) {
      return dmkit::ErrnoError(ENXIO, absl::StrCat(arg, ": no such dm device"));
    }
    return info.status();
  }
  return info->dev;
}

absl::StatusOr<Report> Scan(dmioctl::DevNum dev, dmioctl::DeviceMapper* dm,
                            const Paths& paths) {
  Report report;
  report.dev = dev;
  std::string sys_dev =
      absl::StrCat(paths.sysfs, "/dev/block/", dev.major, ":", dev.minor);
  char resolved[PATH_MAX];
  if (realpath(sys_dev.c_str(), resolved) == nullptr) {
    return dmkit::ErrnoError(errno == ENOENT ? ENODEV : errno,
                             absl::StrCat("block device ", dev.ToString()));
  }
  absl::string_view full = resolved;
  report.kernel_name = std::string(full.substr(full.rfind('/') + 1));
  // /sys/dev/block/M:m and /sys/block/<name> are the same directory for
  // whole disks; partitions only have the first.
  std::string device_dir = sys_dev;
  struct stat st;
  if (stat((sys_dev + "/holders").c_str(), &st) != 0) {
    device_dir = absl::StrCat(paths.sysfs, "/block/", report.kernel_name);
  }
  report.dm_name = ReadLine(device_dir + "/dm/name");

  if (dm != nullptr && !report.dm_name.empty()) {
    auto info = dm->GetInfo(dmioctl::DeviceRef::ByDevNum(dev));
    if (info.ok()) report.open_count = info->open_count;
  }
  for (const std::string& holder : ListDir(device_dir + "/holders")) {
    report.stacked.push_back(
        {holder,
         ReadLine(absl::StrCat(paths.sysfs, "/block/", holder, "/dm/name"))});
  }

  auto mounts = mountns::FindMountsOfDevice(dev.ToDevT(), &report.unreadable);
  if (!mounts.ok()) return mounts.status();
  report.mounts = *std::move(mounts);

  pid_t self = getpid();
  std::vector<pid_t> pids;
  for (const std::string& name : ListDir(paths.proc)) {
    pid_t pid;
    if (AllDigits(name) && absl::SimpleAtoi(name, &pid) && pid != self) {
      pids.push_back(pid);
    }
  }
  std::sort(pids.begin(), pids.end());
  for (pid_t pid : pids) {
    if (auto use = ScanProcess(paths.proc, pid, dev.ToDevT())) {
      report.processes.push_back(*std::move(use));
    }
  }
  return report;
}

std::string Summary(const Report& report) {
  std::vector<std::string> parts;
  if (report.open_count)
    parts.push_back(absl::StrCat("open count ", *report.open_count));
  if (!report.stacked.empty()) {
    std::vector<std::string> names;
    for (const StackedDevice& s : report.stacked) {
      names.push_back(s.dm_name.empty()
                          ? s.kernel_name
                          : absl::StrCat(s.kernel_name, " (", s.dm_name, ")"));
    }
    parts.push_back(absl::StrCat("held by ", absl::StrJoin(names, ", ")));
  }
  for (const mountns::MountOfDevice& m : report.mounts) {
    std::string who;
    if (!m.ns.members.empty()) {
      who = absl::StrCat(
          " (pid ", m.ns.members[0].pid, " ", m.ns.members[0].comm,
          m.ns.members.size() > 1
              ? absl::StrCat(" and ", m.ns.members.size() - 1, " more")
              : "",
          ")");
    }
    parts.push_back(absl::StrCat("mounted at ", m.mount.mount_point, " in ",
                                 mountns::FormatNamespace(m.ns.inode),
                                 m.ns.own ? " (this namespace)" : who));
  }
  for (const ProcessUse& p : report.processes) {
    const char* how = !p.device_fds.empty() || p.device_mapped
                          ? "open by"
                          : "filesystem in use by";
    parts.push_back(absl::StrCat(how, " pid ", p.pid, " (", p.comm, ")"));
  }
  if (parts.empty()) return "nothing holds it";
  return absl::StrJoin(parts, "; ");
}

}  // namespace dmkit::holders
