// File: tools/dmsetup/dmsetup.h
//
// The dmsetup applet's entry with its kernel and streams given by the
// caller: DmsetupMain() opens the control device and runs it on stdout and
// stderr; tests run every command against the fake kernel
// (tests/unit/fake_kernel.h) and read what it printed.
#ifndef DMKIT_TOOLS_DMSETUP_DMSETUP_H_
#define DMKIT_TOOLS_DMSETUP_DMSETUP_H_

#include <stdio.h>

#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/nodes.h"

namespace dmkit::dmsetup {

// RunDmsetup()
//
// One dmsetup command line (argv[0] is the program name getopt prints).
// `dm` is the kernel, or the error opening it, which a command that needs
// the kernel prints as dmsetup does. Returns the exit status. Reads stdin
// where dmsetup does (a table, concise input, a prompt's answer).
// `node_faults` is a test seam: it fails steps on the nodes in
// $DM_DEV_DIR/mapper (DeviceNodes::set_fault_hook_for_testing()).
int RunDmsetup(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv,
               FILE* out, FILE* err,
               dmioctl::DeviceNodes::FaultHook node_faults = nullptr);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_DMSETUP_H_
