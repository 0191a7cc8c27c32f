#include "tools/dmsetup/holders.h"

#include "absl/strings/str_cat.h"
#include "tools/common/holders_scan.h"

namespace dmkit::dmsetup {

std::string DescribeHolders(absl::string_view name, dmioctl::DevNum dev,
                            int open_count, absl::string_view sysfs) {
  std::string line = absl::StrCat("dmkit: ", name, " is in use: ");
  absl::StatusOr<holders::Report> report =
      holders::Scan(dev, nullptr, {.sysfs = std::string(sysfs)});
  if (!report.ok()) return absl::StrCat(line, "open count ", open_count);
  report->open_count = open_count;
  absl::StrAppend(&line, holders::Summary(*report));
  if (report->stacked.empty() && report->mounts.empty() &&
      report->processes.empty()) {
    // Seen when a prober (blkid from udev) had it open for a moment.
    absl::StrAppend(&line,
                    "; no stacked device, mount or process holds it "
                    "now (try --retry)");
  }
  return line;
}

}  // namespace dmkit::dmsetup
