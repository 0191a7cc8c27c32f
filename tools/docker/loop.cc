#include "tools/docker/loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"
#include "tools/docker/fault.h"
#include "tools/docker/store.h"

namespace dmkit::docker {
namespace {

using dmioctl::DevNum;
using dmioctl::ErrnoError;

// /dev/loopN, made from /sys/block/loopN/dev when the node is missing (a
// bare rescue /dev).
absl::StatusOr<std::string> LoopNode(const std::string& dev_dir, int n) {
  std::string path = absl::StrCat(dev_dir, "/loop", n);
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return path;
  DevNum dev{7, static_cast<uint32_t>(n)};
  if (absl::StatusOr<std::string> text =
          ReadFileBounded(absl::StrCat("/sys/block/loop", n, "/dev"), 64);
      text.ok()) {
    std::string t = *text;
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    if (absl::StatusOr<DevNum> parsed = DevNum::Parse(t); parsed.ok()) {
      dev = *parsed;
    }
  }
  if ((FaultInjected("mknod", path) ||
       mknod(path.c_str(), S_IFBLK | 0660, dev.ToDevT()) != 0) &&
      errno != EEXIST) {
    return ErrnoError(errno, absl::StrCat("mknod ", path));
  }
  return path;
}

// A loop device already bound to the file with inode `st`, by LOOP_GET_STATUS64
// as Docker's FindLoopDeviceFor does.
std::optional<LoopDevice> FindBound(const struct stat& file,
                                    const std::string& dev_dir) {
  DIR* d = opendir("/sys/block");
  if (d == nullptr) return std::nullopt;
  std::vector<int> numbers;
  while (dirent* e = readdir(d)) {
    absl::string_view name = e->d_name;
    int n = 0;
    if (absl::ConsumePrefix(&name, "loop") && absl::SimpleAtoi(name, &n)) {
      numbers.push_back(n);
    }
  }
  closedir(d);
  for (int n : numbers) {
    std::string path = absl::StrCat(dev_dir, "/loop", n);
    int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct loop_info64 info;
    memset(&info, 0, sizeof(info));
    struct stat st;
    if (ioctl(fd, LOOP_GET_STATUS64, &info) == 0 &&
        info.lo_device == static_cast<uint64_t>(file.st_dev) &&
        info.lo_inode == static_cast<uint64_t>(file.st_ino) &&
        fstat(fd, &st) == 0) {
      return LoopDevice(path, DevNum::FromDevT(st.st_rdev), fd, false);
    }
    close(fd);
  }
  return std::nullopt;
}

}  // namespace

LoopDevice::LoopDevice(LoopDevice&& other) noexcept
    : path_(std::move(other.path_)),
      dev_(other.dev_),
      fd_(other.fd_),
      attached_(other.attached_) {
  other.fd_ = -1;
}

LoopDevice& LoopDevice::operator=(LoopDevice&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    fd_ = other.fd_;
    attached_ = other.attached_;
    other.fd_ = -1;
  }
  return *this;
}

LoopDevice::~LoopDevice() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<LoopDevice> FindOrAttachLoop(const std::string& file,
                                            const std::string& dev_dir) {
  int file_fd = open(file.c_str(), O_RDWR | O_CLOEXEC);
  if (file_fd < 0) return ErrnoError(errno, absl::StrCat("open ", file));
  struct stat st;
  if (fstat(file_fd, &st) != 0) {
    int saved = errno;
    close(file_fd);
    return ErrnoError(saved, absl::StrCat("stat ", file));
  }
  if (std::optional<LoopDevice> bound = FindBound(st, dev_dir)) {
    close(file_fd);
    return std::move(*bound);
  }
  std::string ctl_path = absl::StrCat(dev_dir, "/loop-control");
  int ctl = open(ctl_path.c_str(), O_RDWR | O_CLOEXEC);
  if (ctl < 0) {
    int saved = errno;
    close(file_fd);
    return ErrnoError(saved, absl::StrCat("open ", ctl_path));
  }
  absl::Status last;
  // Another process can take the free device between GET_FREE and the bind
  // (EBUSY); a few attempts cover that race, as losetup does.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = FaultInjected("LOOP_CTL_GET_FREE", ctl_path)
                ? -1
                : ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      last = ErrnoError(errno, absl::StrCat("LOOP_CTL_GET_FREE ", ctl_path,
                                            " (for ", file, ")"));
      break;
    }
    absl::StatusOr<std::string> path = LoopNode(dev_dir, n);
    if (!path.ok()) {
      last = path.status();
      break;
    }
    int fd = open(path->c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      last = ErrnoError(errno, absl::StrCat("open ", *path));
      break;
    }
    struct loop_config config;
    memset(&config, 0, sizeof(config));
    config.fd = file_fd;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    strncpy(reinterpret_cast<char*>(config.info.lo_file_name), file.c_str(),
            LO_NAME_SIZE - 1);
    int r = FaultInjected("LOOP_CONFIGURE", *path)
                ? -1
                : ioctl(fd, LOOP_CONFIGURE, &config);
    if (r != 0 && (errno == EINVAL || errno == ENOTTY)) {
      // Before 5.8 (LOOP_CONFIGURE): bind, then set the flags.
      r = FaultInjected("LOOP_SET_FD", *path)
              ? -1
              : ioctl(fd, LOOP_SET_FD, file_fd);
      if (r == 0) {
        struct loop_info64 info;
        memset(&info, 0, sizeof(info));
        info.lo_flags = LO_FLAGS_AUTOCLEAR;
        strncpy(reinterpret_cast<char*>(info.lo_file_name), file.c_str(),
                LO_NAME_SIZE - 1);
        if (FaultInjected("LOOP_SET_STATUS64", *path) ||
            ioctl(fd, LOOP_SET_STATUS64, &info) != 0) {
          int saved = errno;
          ioctl(fd, LOOP_CLR_FD, 0);
          close(fd);
          last = ErrnoError(saved, absl::StrCat("LOOP_SET_STATUS64 ", *path));
          break;
        }
      }
    }
    if (r != 0) {
      int saved = errno;
      close(fd);
      last = ErrnoError(saved, absl::StrCat("LOOP_CONFIGURE ", *path, " (",
                                            file, ")"));
      if (saved == EBUSY) continue;
      break;
    }
    struct stat lst;
    if (fstat(fd, &lst) != 0) {
      int saved = errno;
      close(fd);  // autoclear detaches it
      last = ErrnoError(saved, absl::StrCat("stat ", *path));
      break;
    }
    close(file_fd);
    close(ctl);
    return LoopDevice(*path, DevNum::FromDevT(lst.st_rdev), fd, true);
  }
  close(file_fd);
  close(ctl);
  return last;
}

}  // namespace dmkit::docker
