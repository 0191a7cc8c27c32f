#include "tools/dmsetup_holders.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dmkit::dmsetup {
namespace {

std::string ReadLine(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::string();
  char buf[256];
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0) return std::string();
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// The kernel name (dm-3) behind a device number.
std::string KernelName(absl::string_view sysfs, dmioctl::DevNum dev) {
  std::string path =
      absl::StrCat(sysfs, "/dev/block/", dev.major, ":", dev.minor);
  char link[4096];
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  if (n <= 0) return std::string();
  link[n] = '\0';
  const char* base = strrchr(link, '/');
  return base ? base + 1 : link;
}

// Devices stacked on `kernel_name`, as "dm-3 (thin1)".
std::vector<std::string> StackedHolders(absl::string_view sysfs,
                                        const std::string& kernel_name) {
  std::vector<std::string> holders;
  std::string dir = absl::StrCat(sysfs, "/block/", kernel_name, "/holders");
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return holders;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string holder = e->d_name;
    std::string dm_name =
        ReadLine(absl::StrCat(sysfs, "/block/", holder, "/dm/name"));
    holders.push_back(dm_name.empty() ? holder
                                      : absl::StrCat(holder, " (", dm_name, ")"));
  }
  closedir(d);
  std::sort(holders.begin(), holders.end());
  return holders;
}

// Hook for the holders applet: mount points of the device in any mount
// namespace. Not collected yet.
std::vector<std::string> Mounts(absl::string_view, dmioctl::DevNum) {
  return {};
}

}  // namespace

std::string DescribeHolders(absl::string_view name, dmioctl::DevNum dev,
                            int open_count, absl::string_view sysfs) {
  std::string line = absl::StrCat("dmkit: ", name, " is in use: open count ",
                                  open_count);
  std::string kernel_name = KernelName(sysfs, dev);
  std::vector<std::string> holders;
  if (!kernel_name.empty()) holders = StackedHolders(sysfs, kernel_name);
  if (!holders.empty()) {
    absl::StrAppend(&line, "; held by ", absl::StrJoin(holders, ", "));
  }
  std::vector<std::string> mounts = Mounts(sysfs, dev);
  if (!mounts.empty()) {
    absl::StrAppend(&line, "; mounted on ", absl::StrJoin(mounts, ", "));
  }
  if (holders.empty() && mounts.empty()) {
    absl::StrAppend(&line, "; no stacked device holds it (a process or a "
                           "mount does)");
  }
  return line;
}

}  // namespace dmkit::dmsetup
