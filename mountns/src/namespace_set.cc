#include "mountns/namespace_set.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"

namespace mountns {
namespace {

size_t IndexOf(NamespaceType type) { return static_cast<size_t>(type); }

// "/proc/PID/ns/NAME". The pid is printed unsigned, as util-linux does, so
// "-t -1" names /proc/4294967295 in messages exactly like nsenter(1).
std::string NamespacePath(pid_t pid, const NamespaceKind& kind) {
  return absl::StrCat("/proc/", static_cast<uint32_t>(pid), "/ns/",
                      kind.proc_name);
}

// The raw system calls (Linux 5.3 and 5.1): glibc only wraps them from
// 2.36 on, and a rescue image's static binary should not care.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(
      syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Whether the process has more than one thread ("Threads:" in
// /proc/self/status). If that cannot be read, assume it does: the cautious
// answer only costs the atomic entry.
bool IsMultithreaded() {
  absl::StatusOr<std::string> status = ReadFile("/proc/self/status", 1 << 16);
  if (!status.ok()) return true;
  constexpr absl::string_view kField = "\nThreads:";
  size_t at = status->find(kField.data(), 0, kField.size());
  if (at == std::string::npos) return true;
  size_t p = at + kField.size();
  while (p < status->size() && ((*status)[p] == ' ' || (*status)[p] == '\t'))
    ++p;
  size_t end = p;
  while (end < status->size() && (*status)[end] >= '0' && (*status)[end] <= '9')
    ++end;
  int threads = 0;
  if (!absl::SimpleAtoi(absl::string_view(*status).substr(p, end - p),
                        &threads)) {
    return true;
  }
  return threads > 1;
}

}  // namespace

const NamespaceKind& KindOf(NamespaceType type) {
  return kNamespaceKinds[IndexOf(type)];
}

absl::StatusOr<uint64_t> NamespaceInodeOf(pid_t pid, NamespaceType type) {
  std::string path = NamespacePath(pid, KindOf(type));
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("stat of ", path, " failed"));
  }
  return static_cast<uint64_t>(st.st_ino);
}

absl::StatusOr<uint64_t> NamespaceInodeOfFd(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return dmkit::ErrnoError(errno, "fstat namespace file");
  return static_cast<uint64_t>(st.st_ino);
}

absl::StatusOr<int> UsableNamespaces(pid_t target, int exclude) {
  int mask = 0;
  for (const NamespaceKind& kind : kNamespaceKinds) {
    if (exclude & kind.clone_flag) continue;
    std::string own = NamespacePath(getpid(), kind);
    struct stat own_st;
    if (stat(own.c_str(), &own_st) != 0) {
      if (errno == ENOENT) continue;  // this kernel lacks the type
      // Like util-linux, anything but "missing" still counts as usable;
      // opening the target's file later reports the real problem.
      mask |= kind.clone_flag;
      continue;
    }
    if (kind.type == NamespaceType::kUser) {
      DMKIT_ASSIGN_OR_RETURN(uint64_t target_ino,
                             NamespaceInodeOf(target, kind.type));
      if (target_ino == static_cast<uint64_t>(own_st.st_ino)) continue;
    }
    mask |= kind.clone_flag;
  }
  return mask;
}

bool KernelSupportsPidfdSetns() {
  struct utsname uts;
  if (uname(&uts) != 0) return false;
  std::vector<absl::string_view> parts =
      absl::StrSplit(uts.release, absl::MaxSplits('.', 2));
  int major = 0;
  int minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major)) return false;
  // The minor may be followed by "-rc1" or similar when there is no patch
  // level; only its leading digits count.
  absl::string_view minor_text = parts[1];
  size_t digits = 0;
  while (digits < minor_text.size() && minor_text[digits] >= '0' &&
         minor_text[digits] <= '9') {
    ++digits;
  }
  if (!absl::SimpleAtoi(minor_text.substr(0, digits), &minor)) return false;
  return major > 5 || (major == 5 && minor >= 8);
}

absl::StatusOr<NamespaceSet> NamespaceSet::ForPid(pid_t pid, int mask) {
  NamespaceSet set;
  DMKIT_RETURN_IF_ERROR(set.AddTarget(pid, mask));
  return set;
}

absl::StatusOr<NamespaceSet> NamespaceSet::ForFile(NamespaceType type,
                                                   const std::string& path) {
  NamespaceSet set;
  DMKIT_RETURN_IF_ERROR(set.AddFile(type, path));
  return set;
}

absl::Status NamespaceSet::AddFile(NamespaceType type,
                                   const std::string& path) {
  DMKIT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  AddFd(type, std::move(fd));
  return absl::OkStatus();
}

void NamespaceSet::AddFd(NamespaceType type, UniqueFd fd) {
  Entry& entry = entries_[IndexOf(type)];
  entry.fd = std::move(fd);
  entry.from_target = false;
}

absl::Status NamespaceSet::AddTarget(pid_t pid, int mask) {
  if (pid_ != 0 && pid != pid_) {
    return absl::FailedPreconditionError(
        absl::StrCat("namespace set already targets pid ", pid_));
  }
  bool wanted = false;
  for (const NamespaceKind& kind : kNamespaceKinds) {
    if ((mask & kind.clone_flag) && !entries_[IndexOf(kind.type)].fd.valid()) {
      wanted = true;
    }
  }
  if (!wanted) return absl::OkStatus();
  if (pid == 0) {
    for (const NamespaceKind& kind : kNamespaceKinds) {
      if (mask & kind.clone_flag) {
        return absl::InvalidArgumentError(
            absl::StrCat("neither filename nor target pid supplied for ns/",
                         kind.proc_name));
      }
    }
  }
  // The pidfd comes first: if the files below are opened while the process
  // it refers to is still alive, they belong to that very process and not
  // to a later one that reused the pid.
  UniqueFd pidfd;
  if (!pidfd_.valid() && KernelSupportsPidfdSetns()) {
    // ESRCH here is reported by the open of /proc/PID/ns/* just below, in
    // util-linux's words, so the pidfd is simply left out.
    pidfd.reset(PidfdOpen(pid));
  }
  std::array<UniqueFd, kNamespaceTypeCount> opened;
  for (const NamespaceKind& kind : kNamespaceKinds) {
    if (!(mask & kind.clone_flag) || entries_[IndexOf(kind.type)].fd.valid()) {
      continue;
    }
    DMKIT_ASSIGN_OR_RETURN(opened[IndexOf(kind.type)],
                           OpenFile(NamespacePath(pid, kind), O_RDONLY));
  }
  const int pidfd_to_check = pidfd.valid() ? pidfd.get() : pidfd_.get();
  if (pidfd_to_check >= 0 && PidfdSendSignal(pidfd_to_check, 0) != 0 &&
      errno == ESRCH) {
    return dmkit::ErrnoError(ESRCH, absl::StrCat("process ", pid,
                                                 " exited while its namespaces "
                                                 "were being opened"));
  }
  for (size_t i = 0; i < kNamespaceTypeCount; ++i) {
    if (!opened[i].valid()) continue;
    entries_[i].fd = std::move(opened[i]);
    entries_[i].from_target = true;
  }
  if (pidfd.valid()) pidfd_ = std::move(pidfd);
  pid_ = pid;
  return absl::OkStatus();
}

int NamespaceSet::mask() const {
  int mask = 0;
  for (const NamespaceKind& kind : kNamespaceKinds) {
    if (entries_[IndexOf(kind.type)].fd.valid()) mask |= kind.clone_flag;
  }
  return mask;
}

int NamespaceSet::fd(NamespaceType type) const {
  return entries_[IndexOf(type)].fd.get();
}

absl::Status NamespaceSet::Enter(EntryMethod method) const {
  std::array<bool, kNamespaceTypeCount> done{};
  for (size_t i = 0; i < kNamespaceTypeCount; ++i) {
    done[i] = !entries_[i].fd.valid();
  }
  const bool use_pidfd = pidfd_.valid() && method == EntryMethod::kAuto;
  // setns(fd, CLONE_NEWNS) fails with EINVAL while the thread shares its
  // fs_struct (mntns_install checks fs->users). setns(pidfd, CLONE_NEWNS |
  // other flags) skips that check: the kernel installs into a private copy
  // of fs_struct and then writes root and cwd into the shared one
  // (prepare_nsset/commit_nsset in kernel/nsproxy.c, Linux 5.8), moving
  // the other threads' root too. So with several threads the mount
  // namespace always goes through its file, and the kernel's check.
  int not_by_pidfd = 0;
  if (use_pidfd && (mask() & CLONE_NEWNS) && IsMultithreaded()) {
    not_by_pidfd = CLONE_NEWNS;
  }
  auto by_pidfd = [&](size_t i) {
    return use_pidfd && entries_[i].from_target &&
           !(kNamespaceKinds[i].clone_flag & not_by_pidfd);
  };
  for (int pass = 0; pass < 2; ++pass) {
    const bool report_errors = pass == 1;
    if (use_pidfd) {
      int flags = 0;
      for (const NamespaceKind& kind : kNamespaceKinds) {
        size_t i = IndexOf(kind.type);
        if (done[i] || !by_pidfd(i)) continue;
        if (pass == 0 && kind.type == NamespaceType::kUser) continue;
        flags |= kind.clone_flag;
      }
      // One call switches every namespace of the target at once. If it
      // fails on the reporting pass, the per-file loop below retries the
      // same namespaces one by one, so the error names the namespace that
      // cannot be entered, as nsenter 2.38 does.
      if (flags != 0 && setns(pidfd_.get(), flags) == 0) {
        for (const NamespaceKind& kind : kNamespaceKinds) {
          if (flags & kind.clone_flag) done[IndexOf(kind.type)] = true;
        }
      }
    }
    for (const NamespaceKind& kind : kNamespaceKinds) {
      size_t i = IndexOf(kind.type);
      if (done[i]) continue;
      if (pass == 0 && kind.type == NamespaceType::kUser) continue;
      // On the first pass target namespaces wait for the pidfd's second
      // try instead of being entered piecemeal.
      if (pass == 0 && by_pidfd(i)) continue;
      if (setns(entries_[i].fd.get(), kind.clone_flag) == 0) {
        done[i] = true;
      } else if (report_errors) {
        return dmkit::ErrnoError(
            errno, absl::StrCat("reassociate to namespace 'ns/", kind.proc_name,
                                "' failed"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mountns
