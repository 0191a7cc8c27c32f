// File: tools/common/holders_scan.h
//
// Everything that keeps a block device busy: the dm open count, devices
// stacked on it (sysfs holders/), its mounts in every mount namespace, and
// processes that have it open or mapped, or use a filesystem on it (an open
// file, a working directory: what makes umount fail with EBUSY).
//
// Used by `dmkit holders` and by `dmkit dmsetup remove`'s hint line.
#ifndef DMKIT_TOOLS_COMMON_HOLDERS_SCAN_H_
#define DMKIT_TOOLS_COMMON_HOLDERS_SCAN_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/types.h"
#include "mountns/mount_namespaces.h"

namespace dmkit::holders {

struct StackedDevice {
  std::string kernel_name;  // "dm-5"
  std::string dm_name;      // its dm name, if it is a dm device
};

// A process that holds the device: open (an fd on the node), mapped (mmap of
// the node), or using a filesystem on it (open files, cwd or root there).
struct ProcessUse {
  pid_t pid = 0;
  std::string comm;
  std::vector<int> device_fds;      // fds open on the block device itself
  bool device_mapped = false;       // the node is mmap()ed
  std::vector<int> filesystem_fds;  // fds on files of a filesystem on it
  bool cwd_on_filesystem = false;
  bool root_on_filesystem = false;
};

struct Report {
  dmioctl::DevNum dev;
  std::string kernel_name;            // "dm-4", "loop0" (sysfs name)
  std::string dm_name;                // for dm devices
  std::optional<int32_t> open_count;  // for dm devices
  std::vector<StackedDevice> stacked;
  std::vector<mountns::MountOfDevice> mounts;
  std::vector<ProcessUse> processes;
  mountns::ScanReport unreadable;  // what the scan could not look at

  bool busy() const {
    return open_count.value_or(0) > 0 || !stacked.empty() || !mounts.empty() ||
           !processes.empty();
  }
};

struct Paths {
  std::string sysfs = "/sys";
  std::string proc = "/proc";
};

// ResolveDevice()
//
// A device argument: "MAJ:MIN", a path to a block node (/dev/dm-4,
// /dev/mapper/x, /dev/loop0), or a dm device name (needs `dm`).
absl::StatusOr<dmioctl::DevNum> ResolveDevice(absl::string_view arg,
                                              dmioctl::DeviceMapper* dm);

// Scan()
//
// Builds the report. The device must exist (in sysfs); `dm` may be null
// when device-mapper is not available (no open count then).
absl::StatusOr<Report> Scan(dmioctl::DevNum dev, dmioctl::DeviceMapper* dm,
                            const Paths& paths = {});

// Summary()
//
// One line naming the holders, e.g.
//   "open count 2; held by dm-3 (thin1); mounted at /mnt in mnt:[4026531840]
//   (pid 1 systemd); open by pid 812 (dd)"
std::string Summary(const Report& report);

}  // namespace dmkit::holders

#endif  // DMKIT_TOOLS_COMMON_HOLDERS_SCAN_H_
