// Uses the installed headers and libraries: parses a table and a mountinfo
// line and prints them back, which needs no kernel, then shows that a
// failure from either library carries its errno the same way.
#include <errno.h>
#include <stdio.h>

#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"
#include "dmioctl/targets.h"
#include "dmkit/status.h"
#include "mountns/mountinfo.h"

int main() {
  auto table = dmioctl::ParseTable("0 20971520 thin 253:3 34709\n");
  if (!table.ok()) return 1;
  auto thin = dmioctl::targets::ParseThinParams(table->targets[0].params);
  if (!thin.ok()) return 1;
  printf("%s", dmioctl::FormatTable(*table).c_str());
  printf("thin id %u on pool %s\n", thin->thin_id, thin->pool.c_str());
  auto mount = mountns::ParseMountInfoLine(
      "36 35 253:4 / /mnt/c rw,relatime - xfs /dev/mapper/thin rw,nouuid");
  if (!mount.ok()) return 1;
  printf("%s on %s (%s)\n", mount->source.c_str(), mount->mount_point.c_str(),
         mount->fs_type.c_str());
  auto control = dmioctl::DeviceMapper::Open("/nonexistent-dev");
  auto mounts = mountns::ReadMountInfoFile("/nonexistent-proc/mountinfo");
  if (control.ok() || mounts.ok()) return 1;
  printf("errno %d and %d\n", dmkit::ErrnoOf(control.status()),
         dmkit::ErrnoOf(mounts.status()));
  return 0;
}
