// File: mountns/run_in_namespaces.h
//
// Doing work inside other namespaces without moving the caller.
//
// setns(CLONE_NEWNS) refuses a thread that shares its filesystem attributes
// with another (EINVAL), and a process that entered a namespace cannot
// always come back. So the functions here fork a single-threaded child,
// enter the namespaces there, do the work, and carry the result back over a
// pipe; the caller's own namespaces never change:
//
//   DMKIT_ASSIGN_OR_RETURN(mountns::NamespaceSet target,
//                            mountns::NamespaceSet::ForPid(pid, CLONE_NEWNS));
//   absl::StatusOr<std::string> info = mountns::RunInNamespaces(
//       target, [] { return mountns::ReadFile("/proc/thread-self/mountinfo");
//       });
//
// When the set includes a pid namespace the work runs in a grandchild,
// because setns(CLONE_NEWPID) only affects children created afterwards.
//
// The child is a fork(2) of the caller. If the caller has other threads,
// `fn` must not need locks those threads might hold at the moment of the
// fork (glibc's malloc and stdio are safe; user mutexes are not).
#ifndef MOUNTNS_RUN_IN_NAMESPACES_H_
#define MOUNTNS_RUN_IN_NAMESPACES_H_

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "mountns/namespace_set.h"

namespace mountns {

struct RunOptions {
  EntryMethod method = EntryMethod::kAuto;
};

// RunInNamespaces()
//
// Runs `fn` in a child that entered `target` and returns what `fn` returned:
// its string, or its error with code, message and errno intact. Fails with
// the child's error if entering fails, and with kInternal if the child dies
// before answering (a crash in `fn`, or a signal). Results are limited to
// 64 MiB.
absl::StatusOr<std::string> RunInNamespaces(
    const NamespaceSet& target,
    absl::FunctionRef<absl::StatusOr<std::string>()> fn,
    const RunOptions& options = {});

// RunCommandInNamespaces()
//
// Runs `argv` (argv[0] searched in the PATH of the namespace, as execvp(3)
// does) in a child that entered `target`, and waits for it. Returns its exit
// code, or 128 + the signal number if a signal ended it (the shell's
// convention). If the program cannot be run the error reads "failed to
// execute <argv[0]>: <strerror>" and carries the errno (ENOENT gives
// kNotFound, as util-linux's exit code 127 would).
absl::StatusOr<int> RunCommandInNamespaces(const NamespaceSet& target,
                                           const std::vector<std::string>& argv,
                                           const RunOptions& options = {});

// ExitCodeOfWaitStatus()
//
// The shell's view of a waitpid(2) status: the exit code, or 128 + signal.
int ExitCodeOfWaitStatus(int wait_status);

}  // namespace mountns

#endif  // MOUNTNS_RUN_IN_NAMESPACES_H_
