// File: tools/dmsetup/holders.h
//
// What keeps a device busy, for the line dmkit dmsetup adds after a remove
// failed with EBUSY (only when stderr is a terminal, so scripts that parse
// dmsetup's error lines see exactly dmsetup's).
//
// It is the `holders` applet's scan (tools/common/holders_scan.h) in one line:
// open count, stacked devices, mounts in every mount namespace, processes.
#ifndef DMKIT_TOOLS_DMSETUP_HOLDERS_H_
#define DMKIT_TOOLS_DMSETUP_HOLDERS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "dmioctl/types.h"

namespace dmkit::dmsetup {

// DescribeHolders()
//
// One line (no newline) naming what holds `name` (`dev`) open, e.g.
//   dmkit: pool is in use: open count 2; held by dm-3 (thin1), dm-4 (thin2)
// `sysfs` is the sysfs mount point (tests point it at a fake tree).
std::string DescribeHolders(absl::string_view name, dmioctl::DevNum dev,
                            int open_count, absl::string_view sysfs = "/sys");

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_HOLDERS_H_
