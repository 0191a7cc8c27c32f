#include "tools/common/loop_capacity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"

namespace dmkit {
namespace {

// Runs `request` on the opened node; the fd is closed on every path. The
// status names the ioctl and the node.
absl::Status LoopIoctl(const std::string& node, unsigned long request,
                       const char* name, void* arg, struct stat* st) {
  int fd = open(node.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dmkit::ErrnoError(errno, absl::StrCat("open ", node));
  int r = st != nullptr ? fstat(fd, st) : 0;
  if (r == 0) r = ioctl(fd, request, arg);
  int saved = errno;
  close(fd);
  if (r == 0) return absl::OkStatus();
  return dmkit::ErrnoError(saved, absl::StrCat(name, " ", node));
}

}  // namespace

absl::StatusOr<LoopBacking> GetLoopBacking(const std::string& node) {
  struct loop_info64 info;
  memset(&info, 0, sizeof(info));
  struct stat st;
  absl::Status s =
      LoopIoctl(node, LOOP_GET_STATUS64, "LOOP_GET_STATUS64", &info, &st);
  if (!s.ok()) return s;
  return LoopBacking{st.st_rdev, info.lo_device, info.lo_inode};
}

std::vector<std::string> LoopNodesBacking(uint64_t file_dev, uint64_t inode,
                                          const std::string& dev_dir) {
  std::vector<std::string> nodes;
  DIR* d = opendir("/sys/block");
  if (d == nullptr) return nodes;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    int n = 0;
    if (!absl::ConsumePrefix(&name, "loop") || !absl::SimpleAtoi(name, &n)) {
      continue;
    }
    std::string node = absl::StrCat(dev_dir, "/loop", n);
    absl::StatusOr<LoopBacking> b = GetLoopBacking(node);
    if (b.ok() && b->file_dev == file_dev && b->inode == inode) {
      nodes.push_back(std::move(node));
    }
  }
  closedir(d);
  return nodes;
}

absl::StatusOr<uint64_t> SetLoopCapacity(const std::string& node) {
  absl::Status s =
      LoopIoctl(node, LOOP_SET_CAPACITY, "LOOP_SET_CAPACITY", nullptr, nullptr);
  uint64_t bytes = 0;
  if (s.ok()) {
    s = LoopIoctl(node, BLKGETSIZE64, "BLKGETSIZE64", &bytes, nullptr);
  }
  if (!s.ok()) return s;
  return bytes;
}

}  // namespace dmkit
