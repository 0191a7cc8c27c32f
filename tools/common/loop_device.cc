#include "tools/common/loop_device.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"

namespace dmkit {
namespace {

using dmioctl::DevNum;
using mountns::UniqueFd;

// True, with errno set, when the test hook fails `step` on `target`:
//   if (Injected(hook, "mknod", p) || mknod(...) != 0) ... errno ...
bool Injected(LoopDevice::FaultHook hook, absl::string_view step,
              absl::string_view target) {
  if (hook == nullptr) return false;
  int e = hook(step, target);
  if (e == 0) return false;
  errno = e;
  return true;
}

// /dev/loopN, made from /sys/block/loopN/dev when the node is missing (a
// bare rescue /dev).
absl::StatusOr<std::string> LoopNode(const LoopDevice::Options& options,
                                     int n) {
  std::string path = absl::StrCat(options.dev_dir, "/loop", n);
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return path;
  DevNum dev{7, static_cast<uint32_t>(n)};
  if (absl::StatusOr<std::string> text =
          mountns::ReadFile(absl::StrCat("/sys/block/loop", n, "/dev"), 64);
      text.ok()) {
    if (absl::StatusOr<DevNum> parsed =
            DevNum::Parse(absl::StripTrailingAsciiWhitespace(*text));
        parsed.ok()) {
      dev = *parsed;
    }
  }
  if ((Injected(options.fault_hook, "mknod", path) ||
       mknod(path.c_str(), S_IFBLK | 0660, dev.ToDevT()) != 0) &&
      errno != EEXIST) {
    return ErrnoError(errno, absl::StrCat("mknod ", path));
  }
  return path;
}

// The loop device already bound to the file `file` describes, matched as
// Docker's FindLoopDeviceFor does (LoopNodesBacking).
std::optional<std::pair<std::string, UniqueFd>> FindBound(
    const struct stat& file, const std::string& dev_dir) {
  for (std::string& path :
       LoopNodesBacking(file.st_dev, file.st_ino, dev_dir)) {
    UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.valid()) return std::make_pair(std::move(path), std::move(fd));
  }
  return std::nullopt;
}

}  // namespace

LoopDevice::LoopDevice(LoopDevice&& other) noexcept
    : path_(std::move(other.path_)),
      dev_(other.dev_),
      fd_(std::exchange(other.fd_, -1)),
      attached_(other.attached_) {}

LoopDevice& LoopDevice::operator=(LoopDevice&& other) noexcept {
  if (this != &other) {
    Close();
    path_ = std::move(other.path_);
    dev_ = other.dev_;
    fd_ = std::exchange(other.fd_, -1);
    attached_ = other.attached_;
  }
  return *this;
}

void LoopDevice::Close() {
  if (fd_ < 0) return;
  // With other users the kernel only sets autoclear (already set), so the
  // device stays until the last of them closes it.
  if (attached_) ioctl(fd_, LOOP_CLR_FD, 0);
  close(fd_);
  fd_ = -1;
}

absl::StatusOr<LoopDevice> LoopDevice::FindOrAttach(const std::string& file,
                                                    const Options& options) {
  UniqueFd file_fd(open(file.c_str(), O_RDWR | O_CLOEXEC));
  if (!file_fd.valid()) return ErrnoError(errno, absl::StrCat("open ", file));
  struct stat st;
  if (fstat(file_fd.get(), &st) != 0) {
    return ErrnoError(errno, absl::StrCat("stat ", file));
  }
  if (auto bound = FindBound(st, options.dev_dir)) {
    struct stat node;
    if (fstat(bound->second.get(), &node) != 0) {
      return ErrnoError(errno, absl::StrCat("stat ", bound->first));
    }
    return LoopDevice(std::move(bound->first), DevNum::FromDevT(node.st_rdev),
                      bound->second.release(), false);
  }
  return Attach(file_fd.get(), file, options);
}

absl::StatusOr<LoopDevice> LoopDevice::AttachTemporary(uint64_t bytes,
                                                       const std::string& dir) {
  std::string path = dir + "/dmkit-loop.XXXXXX";
  UniqueFd file_fd(mkostemp(path.data(), O_CLOEXEC));
  if (!file_fd.valid())
    return ErrnoError(errno, absl::StrCat("mkstemp ", path));
  // From here on the file is only reachable through the descriptor.
  unlink(path.c_str());
  if (ftruncate(file_fd.get(), static_cast<off_t>(bytes)) != 0) {
    return ErrnoError(errno, absl::StrCat("ftruncate ", path));
  }
  return Attach(file_fd.get(), path, Options());
}

absl::StatusOr<LoopDevice> LoopDevice::Attach(int file_fd,
                                              const std::string& file,
                                              const Options& options) {
  FaultHook hook = options.fault_hook;
  std::string ctl_path = absl::StrCat(options.dev_dir, "/loop-control");
  UniqueFd ctl(open(ctl_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!ctl.valid()) return ErrnoError(errno, absl::StrCat("open ", ctl_path));
  absl::Status last;
  // Another process can take the free device between GET_FREE and the bind
  // (EBUSY); a few attempts cover that race, as losetup does.
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = Injected(hook, "LOOP_CTL_GET_FREE", ctl_path)
                ? -1
                : ioctl(ctl.get(), LOOP_CTL_GET_FREE);
    if (n < 0) {
      return ErrnoError(errno, absl::StrCat("LOOP_CTL_GET_FREE ", ctl_path,
                                            " (for ", file, ")"));
    }
    absl::StatusOr<std::string> path = LoopNode(options, n);
    if (!path.ok()) return path.status();
    UniqueFd fd(open(path->c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, absl::StrCat("open ", *path));
    struct loop_config config;
    memset(&config, 0, sizeof(config));
    config.fd = file_fd;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    strncpy(reinterpret_cast<char*>(config.info.lo_file_name), file.c_str(),
            LO_NAME_SIZE - 1);
    int r = Injected(hook, "LOOP_CONFIGURE", *path)
                ? -1
                : ioctl(fd.get(), LOOP_CONFIGURE, &config);
    if (r != 0 && (errno == EINVAL || errno == ENOTTY)) {
      // Before 5.8 (LOOP_CONFIGURE): bind, then set the flags.
      r = Injected(hook, "LOOP_SET_FD", *path)
              ? -1
              : ioctl(fd.get(), LOOP_SET_FD, file_fd);
      if (r == 0 && (Injected(hook, "LOOP_SET_STATUS64", *path) ||
                     ioctl(fd.get(), LOOP_SET_STATUS64, &config.info) != 0)) {
        int saved = errno;
        ioctl(fd.get(), LOOP_CLR_FD, 0);
        return ErrnoError(saved, absl::StrCat("LOOP_SET_STATUS64 ", *path));
      }
    }
    if (r != 0) {
      last = ErrnoError(
          errno, absl::StrCat("LOOP_CONFIGURE ", *path, " (", file, ")"));
      if (ErrnoOf(last) == EBUSY) continue;
      return last;
    }
    // Bound: from here on the handle detaches it again (autoclear).
    LoopDevice loop(*path, DevNum(), fd.release(), true);
    struct stat st;
    if (fstat(loop.fd_, &st) != 0) {
      return ErrnoError(errno, absl::StrCat("stat ", *path));
    }
    loop.dev_ = DevNum::FromDevT(st.st_rdev);
    return loop;
  }
  return last;
}

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
