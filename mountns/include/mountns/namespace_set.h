// File: mountns/namespace_set.h
//
// Entering the namespaces of another process, as nsenter(1) does.
//
// A NamespaceSet holds, for each namespace type, an open namespace file (a
// /proc/PID/ns/* file or a bind mount of one) and, when the namespaces come
// from a target process, a pidfd of that process. All descriptors are opened
// when the set is built, before anything is entered, so that paths under
// /proc still mean the caller's view. Enter() then moves the calling thread:
//
//   DMKIT_ASSIGN_OR_RETURN(mountns::NamespaceSet target,
//                            mountns::NamespaceSet::ForPid(
//                                pid, CLONE_NEWNS | CLONE_NEWUTS));
//   DMKIT_RETURN_IF_ERROR(target.Enter());
//
// Kernel 5.8 and later accept a pidfd in setns(2) together with a mask of
// several CLONE_NEW* flags and switch all of them at once; older kernels
// fall back to one setns(2) per namespace file. Either way the order follows
// util-linux: two passes, the user namespace left out of the first, so it is
// entered first when it grants the privileges needed for the others and
// last when it takes privileges away.
//
// setns(CLONE_NEWNS) fails with EINVAL in a process whose threads share
// filesystem attributes (every multithreaded program). The pidfd form with
// more than one flag does not check this and would move every thread's
// root, so in a multithreaded process Enter() takes the mount namespace
// through its file and gets the EINVAL. Callers that may have threads
// should use RunInNamespaces() (mountns/run_in_namespaces.h), which forks a
// single-threaded child first.
#ifndef MOUNTNS_NAMESPACE_SET_H_
#define MOUNTNS_NAMESPACE_SET_H_

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>

#include <array>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mountns/unique_fd.h"

namespace mountns {

// The namespace types setns(2) knows, in the order util-linux nsenter enters
// them (user first; see the file comment).
enum class NamespaceType {
  kUser,
  kCgroup,
  kIpc,
  kUts,
  kNet,
  kPid,
  kMount,
  kTime
};

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080  // Linux 5.6; older C libraries lack it.
#endif

struct NamespaceKind {
  NamespaceType type;
  int clone_flag;               // CLONE_NEWUSER, ...
  absl::string_view proc_name;  // the entry under /proc/PID/ns/: "mnt", ...
};

inline constexpr NamespaceKind kNamespaceKinds[] = {
    {NamespaceType::kUser, CLONE_NEWUSER, "user"},
    {NamespaceType::kCgroup, CLONE_NEWCGROUP, "cgroup"},
    {NamespaceType::kIpc, CLONE_NEWIPC, "ipc"},
    {NamespaceType::kUts, CLONE_NEWUTS, "uts"},
    {NamespaceType::kNet, CLONE_NEWNET, "net"},
    {NamespaceType::kPid, CLONE_NEWPID, "pid"},
    {NamespaceType::kMount, CLONE_NEWNS, "mnt"},
    {NamespaceType::kTime, CLONE_NEWTIME, "time"},
};
inline constexpr size_t kNamespaceTypeCount = std::size(kNamespaceKinds);

// Every CLONE_NEW* flag above.
inline constexpr int kAllNamespaces =
    CLONE_NEWUSER | CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS |
    CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWTIME;

// KindOf()
//
// The table row of `type`.
const NamespaceKind& KindOf(NamespaceType type);

// NamespaceInodeOf()
//
// The inode number of `pid`'s namespace of `type` (the N of "mnt:[N]"),
// from stat(2) of /proc/PID/ns/<name>. Two processes share a namespace
// exactly when these are equal.
absl::StatusOr<uint64_t> NamespaceInodeOf(pid_t pid, NamespaceType type);

// NamespaceInodeOfFd()
//
// The same for an open namespace file.
absl::StatusOr<uint64_t> NamespaceInodeOfFd(int fd);

// UsableNamespaces()
//
// The namespaces nsenter --all enters for `target`: every type this kernel
// has (a /proc/self/ns/<name> exists), except the user namespace when the
// target shares the caller's, since setns(2) refuses to re-enter one's own
// user namespace. Types in `exclude` (already chosen otherwise) are neither
// checked nor returned.
absl::StatusOr<int> UsableNamespaces(pid_t target, int exclude = 0);

// KernelSupportsPidfdSetns()
//
// Whether the running kernel takes a pidfd and a namespace mask in setns(2)
// (Linux 5.8 and later), judged from uname(2).
bool KernelSupportsPidfdSetns();

// How Enter() moves the thread.
enum class EntryMethod {
  kAuto,            // pidfd and one setns(2) when available, else files
  kNamespaceFiles,  // one setns(2) per namespace file, as before Linux 5.8
};

// NamespaceSet
//
// The namespaces to enter, with their descriptors already open. Movable,
// not copyable; the descriptors close with the set.
class NamespaceSet {
 public:
  NamespaceSet() = default;
  NamespaceSet(NamespaceSet&&) = default;
  NamespaceSet& operator=(NamespaceSet&&) = default;

  // ForPid()
  //
  // The namespaces in `mask` (CLONE_NEW* flags) of process `pid`.
  static absl::StatusOr<NamespaceSet> ForPid(pid_t pid, int mask);

  // ForFile()
  //
  // The namespace of `type` that the file at `path` stands for.
  static absl::StatusOr<NamespaceSet> ForFile(NamespaceType type,
                                              const std::string& path);

  // AddFile()
  //
  // Opens `path` as the namespace of `type`, replacing any earlier choice
  // for that type. Errors read "cannot open <path>: <strerror>".
  absl::Status AddFile(NamespaceType type, const std::string& path);

  // AddFd()
  //
  // Takes `fd`, an open namespace file, as the namespace of `type`.
  void AddFd(NamespaceType type, UniqueFd fd);

  // AddTarget()
  //
  // Adds the namespaces in `mask` of process `pid`, skipping types that
  // already have a file. Opens a pidfd when the kernel can use it, and the
  // /proc/PID/ns/* files in any case (they are the fallback, and opening
  // them reports an inaccessible target the way nsenter(1) does: "cannot
  // open /proc/PID/ns/mnt: Permission denied"). With `pid` 0 it fails with
  // "neither filename nor target pid supplied for ns/<name>". Only one
  // target process per set.
  absl::Status AddTarget(pid_t pid, int mask);

  // The CLONE_NEW* flags of every namespace in the set.
  int mask() const;
  bool empty() const { return mask() == 0; }
  // The target process given to AddTarget(), or 0.
  pid_t target_pid() const { return pid_; }
  // Whether Enter(kAuto) will try setns(pidfd, mask) first.
  bool has_pidfd() const { return pidfd_.valid(); }

  // The open namespace file of `type`, or -1. For a target process this is
  // the /proc/PID/ns/* file opened by AddTarget().
  int fd(NamespaceType type) const;

  // Enter()
  //
  // Moves the calling thread into every namespace of the set (see the file
  // comment for the order). The set itself is not changed, so a forked
  // child can enter a set its parent built. Errors read "reassociate to
  // namespace 'ns/<name>' failed: <strerror>"; the thread may then be in
  // some of the namespaces already, as with nsenter(1).
  absl::Status Enter(EntryMethod method = EntryMethod::kAuto) const;

 private:
  struct Entry {
    UniqueFd fd;
    bool from_target = false;  // opened by AddTarget(), covered by pidfd_
  };
  std::array<Entry, kNamespaceTypeCount> entries_;
  UniqueFd pidfd_;
  pid_t pid_ = 0;
};

}  // namespace mountns

#endif  // MOUNTNS_NAMESPACE_SET_H_
