#include "mountns/mount_namespaces.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "mountns/run_in_namespaces.h"
#include "mountns/unique_fd.h"

namespace mountns {
namespace {

// PF_KTHREAD from include/linux/sched.h, the 9th field of /proc/PID/stat.
constexpr unsigned long kKernelThreadFlag = 0x00200000;

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};
using UniqueDir = std::unique_ptr<DIR, DirCloser>;

bool ParsePid(const char* name, pid_t* pid) {
  if (*name == '\0') return false;
  long value = 0;
  for (const char* p = name; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') return false;
    value = value * 10 + (*p - '0');
    if (value > 0x7fffffff) return false;
  }
  *pid = static_cast<pid_t>(value);
  return value > 0;
}

// The numeric entries of a /proc directory.
absl::StatusOr<std::vector<pid_t>> ListIds(const std::string& dir_path) {
  UniqueDir dir(opendir(dir_path.c_str()));
  if (dir == nullptr)
    return dmkit::ErrnoError(errno, absl::StrCat("cannot open ", dir_path));
  std::vector<pid_t> ids;
  errno = 0;
  while (struct dirent* entry = readdir(dir.get())) {
    pid_t id;
    if (ParsePid(entry->d_name, &id)) ids.push_back(id);
  }
  if (errno != 0)
    return dmkit::ErrnoError(errno, absl::StrCat("read ", dir_path));
  std::sort(ids.begin(), ids.end());
  return ids;
}

struct ProcessInfo {
  std::string comm;
  bool kernel_thread = false;
};

// Name and kernel-thread flag from /proc/PID/stat. The name sits between
// the first '(' and the last ')', since it may itself contain parentheses.
absl::StatusOr<ProcessInfo> ReadProcessInfo(pid_t pid) {
  DMKIT_ASSIGN_OR_RETURN(std::string stat,
                         ReadFile(absl::StrCat("/proc/", pid, "/stat"), 4096));
  size_t open = stat.find('(');
  size_t close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) {
    return absl::InvalidArgumentError(
        absl::StrCat("/proc/", pid, "/stat: no command name"));
  }
  ProcessInfo info;
  info.comm = stat.substr(open + 1, close - open - 1);
  std::vector<absl::string_view> rest = absl::StrSplit(
      absl::string_view(stat).substr(close + 1), ' ', absl::SkipEmpty());
  // rest[0] is the state (field 3), so the flags (field 9) are rest[6].
  unsigned long flags = 0;
  if (rest.size() > 6) {
    for (char c : rest[6]) {
      if (c < '0' || c > '9') break;
      flags = flags * 10 + static_cast<unsigned long>(c - '0');
    }
  }
  info.kernel_thread = (flags & kKernelThreadFlag) != 0;
  return info;
}

absl::StatusOr<uint64_t> InodeOfPath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("stat ", path));
  }
  return static_cast<uint64_t>(st.st_ino);
}

std::string TaskPath(const NamespaceMember& member, absl::string_view entry) {
  return absl::StrCat("/proc/", member.pid, "/task/", member.tid, "/", entry);
}

bool IsGone(const absl::Status& status) {
  int error_number = dmkit::ErrnoOf(status);
  return error_number == ENOENT || error_number == ESRCH;
}

// Reads the namespace through `member` if its root is the namespace root,
// then checks the member is still in the namespace (it may have exited and
// its tid been reused while we read).
absl::StatusOr<std::vector<MountInfo>> ReadThroughMember(
    const MountNamespace& ns, const NamespaceMember& member) {
  char root[8];
  std::string root_link = TaskPath(member, "root");
  ssize_t n = readlink(root_link.c_str(), root, sizeof(root));
  if (n < 0)
    return dmkit::ErrnoError(errno, absl::StrCat("readlink ", root_link));
  if (n != 1 || root[0] != '/') {
    return absl::FailedPreconditionError(
        absl::StrCat("task ", member.tid, " is chrooted"));
  }
  DMKIT_ASSIGN_OR_RETURN(std::vector<MountInfo> mounts,
                         ReadMountInfoFile(TaskPath(member, "mountinfo")));
  DMKIT_ASSIGN_OR_RETURN(uint64_t inode,
                         InodeOfPath(TaskPath(member, "ns/mnt")));
  if (inode != ns.inode) {
    return dmkit::ErrnoError(ESRCH, absl::StrCat("task ", member.tid, " left ",
                                                 FormatNamespace(ns.inode)));
  }
  return mounts;
}

}  // namespace

std::vector<pid_t> MountNamespace::pids() const {
  std::vector<pid_t> result;
  result.reserve(members.size());
  for (const NamespaceMember& member : members) result.push_back(member.pid);
  return result;
}

std::string FormatNamespace(uint64_t inode) {
  return absl::StrCat("mnt:[", inode, "]");
}

absl::StatusOr<uint64_t> OwnMountNamespaceInode() {
  return InodeOfPath("/proc/thread-self/ns/mnt");
}

absl::StatusOr<std::vector<MountNamespace>> ListMountNamespaces(
    ScanReport* report) {
  DMKIT_ASSIGN_OR_RETURN(uint64_t own, OwnMountNamespaceInode());
  DMKIT_ASSIGN_OR_RETURN(std::vector<pid_t> pids, ListIds("/proc"));
  std::map<uint64_t, MountNamespace> by_inode;
  for (pid_t pid : pids) {
    absl::StatusOr<ProcessInfo> info = ReadProcessInfo(pid);
    if (!info.ok() || info->kernel_thread) continue;  // exited, or kthread
    absl::StatusOr<std::vector<pid_t>> tids =
        ListIds(absl::StrCat("/proc/", pid, "/task"));
    if (!tids.ok()) continue;
    // The main thread first, so that it represents the process whenever it
    // is in the namespace.
    auto main = std::find(tids->begin(), tids->end(), pid);
    if (main != tids->end()) std::rotate(tids->begin(), main, main + 1);
    bool denied = false;
    for (pid_t tid : *tids) {
      absl::StatusOr<uint64_t> inode =
          InodeOfPath(absl::StrCat("/proc/", pid, "/task/", tid, "/ns/mnt"));
      if (!inode.ok()) {
        if (dmkit::ErrnoOf(inode.status()) == EACCES) denied = true;
        continue;
      }
      MountNamespace& ns = by_inode[*inode];
      ns.inode = *inode;
      ns.own = *inode == own;
      if (ns.members.empty() || ns.members.back().pid != pid) {
        ns.members.push_back(NamespaceMember{pid, tid, info->comm});
      }
    }
    if (denied && report != nullptr) report->inaccessible.push_back(pid);
  }
  std::vector<MountNamespace> result;
  result.reserve(by_inode.size());
  for (auto& [inode, ns] : by_inode) result.push_back(std::move(ns));
  return result;
}

absl::StatusOr<NamespaceSet> OpenMountNamespace(const MountNamespace& ns) {
  for (const NamespaceMember& member : ns.members) {
    absl::StatusOr<UniqueFd> fd =
        OpenFile(TaskPath(member, "ns/mnt"), O_RDONLY);
    if (!fd.ok()) continue;
    absl::StatusOr<uint64_t> inode = NamespaceInodeOfFd(fd->get());
    if (!inode.ok() || *inode != ns.inode) continue;
    NamespaceSet set;
    set.AddFd(NamespaceType::kMount, *std::move(fd));
    return set;
  }
  return dmkit::ErrnoError(ESRCH, absl::StrCat(FormatNamespace(ns.inode),
                                               ": no process left in it"));
}

absl::StatusOr<std::vector<MountInfo>> ReadNamespaceMountInfo(
    const MountNamespace& ns) {
  for (const NamespaceMember& member : ns.members) {
    absl::StatusOr<std::vector<MountInfo>> mounts =
        ReadThroughMember(ns, member);
    if (mounts.ok()) return mounts;
    // A member that exited, is chrooted or cannot be read: try the next.
  }
  // Every member is chrooted (or unreadable). Enter the namespace, which
  // puts the helper at the namespace root, and read its own view through a
  // /proc opened beforehand (the namespace's /proc may belong to another
  // pid namespace, where thread-self would not resolve).
  DMKIT_ASSIGN_OR_RETURN(NamespaceSet target, OpenMountNamespace(ns));
  DMKIT_ASSIGN_OR_RETURN(UniqueFd proc,
                         OpenFile("/proc", O_RDONLY | O_DIRECTORY));
  DMKIT_ASSIGN_OR_RETURN(
      std::string text,
      RunInNamespaces(target, [&]() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(
            UniqueFd fd,
            OpenFileAt(proc.get(), "thread-self/mountinfo", O_RDONLY));
        return ReadAll(fd.get(), "/proc/thread-self/mountinfo");
      }));
  absl::StatusOr<std::vector<MountInfo>> mounts = ParseMountInfo(text);
  if (!mounts.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        FormatNamespace(ns.inode), ": ", mounts.status().message()));
  }
  return mounts;
}

absl::StatusOr<std::vector<MountOfDevice>> FindMountsOfDevice(
    dev_t dev, ScanReport* report) {
  DMKIT_ASSIGN_OR_RETURN(std::vector<MountNamespace> namespaces,
                         ListMountNamespaces(report));
  std::vector<MountOfDevice> result;
  for (const MountNamespace& ns : namespaces) {
    absl::StatusOr<std::vector<MountInfo>> mounts = ReadNamespaceMountInfo(ns);
    if (!mounts.ok()) {
      // A namespace whose last process exited since the listing is no
      // failure: it has no mounts left to find.
      if (!IsGone(mounts.status()) && report != nullptr) {
        report->failed.push_back({ns.inode, mounts.status()});
      }
      continue;
    }
    std::vector<MountInfo> matching;
    for (MountInfo& mount : *mounts) {
      if (mount.dev() == dev) matching.push_back(std::move(mount));
    }
    std::sort(matching.begin(), matching.end(),
              [](const MountInfo& a, const MountInfo& b) {
                return a.mount_id < b.mount_id;
              });
    for (MountInfo& mount : matching) {
      result.push_back(MountOfDevice{ns, std::move(mount)});
    }
  }
  return result;
}

absl::Status UnmountIn(const NamespaceSet& target,
                       const std::string& mount_point, UnmountMode mode) {
  if (!(target.mask() & CLONE_NEWNS)) {
    return absl::InvalidArgumentError("no mount namespace to unmount in");
  }
  int flags = UMOUNT_NOFOLLOW | (mode == UnmountMode::kLazy ? MNT_DETACH : 0);
  std::string where = mount_point;
  if (absl::StatusOr<uint64_t> inode =
          NamespaceInodeOfFd(target.fd(NamespaceType::kMount));
      inode.ok()) {
    absl::StrAppend(&where, " in ", FormatNamespace(*inode));
  }
  absl::StatusOr<std::string> done =
      RunInNamespaces(target, [&]() -> absl::StatusOr<std::string> {
        if (umount2(mount_point.c_str(), flags) != 0) {
          return dmkit::ErrnoError(errno, absl::StrCat("umount ", where));
        }
        return std::string();
      });
  return done.status();
}

absl::Status Unmount(const MountNamespace& ns, const std::string& mount_point,
                     UnmountMode mode) {
  DMKIT_ASSIGN_OR_RETURN(NamespaceSet target, OpenMountNamespace(ns));
  return UnmountIn(target, mount_point, mode);
}

}  // namespace mountns
