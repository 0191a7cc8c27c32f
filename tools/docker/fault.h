// File: tools/docker/fault.h
//
// The test seam of the docker commands' own system calls, for fault
// injection (tests/vm/docker_fault_guest.cc on the real kernel,
// tests/unit/docker_fault_test.cc on the fake one, which also hand the
// commands their DeviceMapper): a hook called before each system call of
// theirs that changes the system (binding a loop device, mount, umount, and
// through dmioctl::DeviceNodes the /dev/mapper nodes). With the hook, a test
// fails "step N" of a command for every N.
//
// Only code can set it: no option or environment variable of the dmkit
// binary reaches them. Unset, a fault point costs a load and a branch.
#ifndef DMKIT_TOOLS_DOCKER_FAULT_H_
#define DMKIT_TOOLS_DOCKER_FAULT_H_

#include "absl/strings/string_view.h"
#include "dmioctl/nodes.h"

namespace dmkit::docker {

// Called with the system call's name ("mount", "LOOP_CONFIGURE", ...) and
// what it acts on; returns 0 to let the call run, or an errno to fail it
// with (the call is then not made).
using FaultHook = dmioctl::DeviceNodes::FaultHook;

// SetFaultHookForTesting()
//
// Installs `hook` (nullptr: none) for the docker commands' own system
// calls and for the DeviceNodes of every Session opened afterwards.
void SetFaultHookForTesting(FaultHook hook);

// FaultInjected()
//
// True, with errno set, when the test hook fails `step` on `target`:
//   if (FaultInjected("mount", target) || mount(...) != 0) ... errno ...
bool FaultInjected(absl::string_view step, absl::string_view target);

// The hook for a Session's DeviceNodes and its loop devices.
FaultHook CurrentFaultHook();

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_FAULT_H_
