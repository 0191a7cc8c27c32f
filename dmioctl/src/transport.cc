#include "dmioctl/transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"
#include "dmioctl/types.h"

namespace dmioctl {
namespace {

// The misc device number device-mapper registers (MAPPER_CTRL_MINOR); the
// kernel also autoloads dm-mod on open of 10:236 (devname:mapper/control).
constexpr DevNum kDefaultControlDev{10, 236};

class ControlTransport final : public Transport {
 public:
  explicit ControlTransport(int fd) : fd_(fd) {}
  ~ControlTransport() override { close(fd_); }

  int Ioctl(unsigned long request, void* buffer) override {
    int r = ioctl(fd_, request, buffer);
    return r < 0 ? -errno : r;
  }
  int EventFd() const override { return fd_; }

 private:
  int fd_;
};

std::string ReadSmallFile(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string text;
  char chunk[4096];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof(chunk))) > 0) text.append(chunk, n);
  close(fd);
  return text;
}

// Where the kernel says the control device is: sysfs first, then
// /proc/misc ("236 device-mapper"). Empty when dm is not registered.
std::optional<DevNum> ControlDevFromKernel() {
  std::string sys = ReadSmallFile("/sys/class/misc/device-mapper/dev");
  if (auto dev = DevNum::Parse(absl::StripAsciiWhitespace(sys)); dev.ok()) {
    return *dev;
  }
  for (absl::string_view line :
       absl::StrSplit(ReadSmallFile("/proc/misc"), '\n')) {
    std::pair<absl::string_view, absl::string_view> fields =
        absl::StrSplit(absl::StripLeadingAsciiWhitespace(line), ' ');
    uint32_t minor;
    if (fields.second == "device-mapper" &&
        absl::SimpleAtoi(fields.first, &minor)) {
      return DevNum{10, minor};
    }
  }
  return std::nullopt;
}

absl::Status MakeControlNode(const std::string& mapper_dir,
                             const std::string& path, DevNum dev) {
  if (mkdir(mapper_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return dmkit::ErrnoError(errno, absl::StrCat("mkdir ", mapper_dir));
  }
  mode_t old_umask = umask(0);
  int r = mknod(path.c_str(), S_IFCHR | 0600, dev.ToDevT());
  int saved = errno;
  umask(old_umask);
  if (r != 0 && saved != EEXIST) {
    return dmkit::ErrnoError(saved, absl::StrCat("mknod ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Transport>> OpenControl(
    absl::string_view dev_dir) {
  std::string mapper_dir = absl::StrCat(dev_dir, "/mapper");
  std::string path = absl::StrCat(mapper_dir, "/control");
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // A bare rescue /dev: make the node the way libdevmapper does.
    std::optional<DevNum> dev = ControlDevFromKernel();
    DMKIT_RETURN_IF_ERROR(
        MakeControlNode(mapper_dir, path, dev.value_or(kDefaultControlDev)));
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  }
  if (fd < 0) {
    int saved = errno;
    if (saved == ENODEV || saved == ENXIO) {
      return dmkit::ErrnoError(saved,
                               absl::StrCat(path,
                                            ": the kernel has no device-mapper "
                                            "(load the dm-mod module)"));
    }
    return dmkit::ErrnoError(saved, absl::StrCat("open ", path));
  }
  return std::unique_ptr<Transport>(new ControlTransport(fd));
}

}  // namespace dmioctl
