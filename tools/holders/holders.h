// File: tools/holders/holders.h
//
// `dmkit holders` with its device-mapper handed in: HoldersMain() opens the
// real one, tests can hand in a DeviceMapper on a fake transport.
#ifndef DMKIT_TOOLS_HOLDERS_HOLDERS_H_
#define DMKIT_TOOLS_HOLDERS_HOLDERS_H_

#include "dmioctl/device_mapper.h"

namespace dmkit::holders {

// Run()
//
// The applet on `argv` (argv[0] is its name); returns its exit status.
// `dm` is null when device-mapper is not available: loop devices and disks
// are still reported, without a dm open count.
int Run(dmioctl::DeviceMapper* dm, int argc, char** argv);

}  // namespace dmkit::holders

#endif  // DMKIT_TOOLS_HOLDERS_HOLDERS_H_
