// File: tools/common/loop_device.h
//
// A loop device over a sparse temporary file, for benchmark backing devices
// (a thin-pool needs real metadata and data devices). The file is unlinked
// as soon as the loop device holds it, and the loop device is set to
// autoclear, so nothing outlives the last user: closing the LoopDevice
// detaches it at once, or when the device-mapper table that still uses it
// is removed. Used by `dmkit bench` and by the Google Benchmark programs in
// bench/.
#ifndef DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_
#define DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

#include "dmioctl/types.h"

namespace dmkit {

class LoopDevice {
 public:
  LoopDevice() = default;
  LoopDevice(LoopDevice&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), dev_(other.dev_) {}
  LoopDevice& operator=(LoopDevice&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
      dev_ = other.dev_;
    }
    return *this;
  }
  ~LoopDevice() { Close(); }

  // Attach()
  //
  // Makes a sparse file of `bytes` in `dir` and attaches it to a free loop
  // device. Returns 0, or -errno with `*what` naming the failed step.
  int Attach(uint64_t bytes, const char* dir, std::string* what) {
    std::string path = std::string(dir) + "/dmkit-bench-loop.XXXXXX";
    int file = mkostemp(path.data(), O_CLOEXEC);
    if (file < 0) return Fail(what, "mkstemp " + path);
    // From here on the file is only reachable through the descriptor.
    unlink(path.c_str());
    if (ftruncate(file, static_cast<off_t>(bytes)) != 0) {
      int e = errno;
      close(file);
      *what = "ftruncate " + path;
      return -e;
    }
    int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (control < 0) {
      int e = errno;
      close(file);
      *what = "open /dev/loop-control";
      return -e;
    }
    int r = -EBUSY;
    // Another process may take the free device between the two calls.
    for (int attempt = 0; attempt < 20 && r == -EBUSY; ++attempt) {
      int n = ioctl(control, LOOP_CTL_GET_FREE);
      if (n < 0) {
        r = -errno;
        *what = "LOOP_CTL_GET_FREE";
        break;
      }
      std::string node = "/dev/loop" + std::to_string(n);
      int fd = open(node.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) {
        r = -errno;
        *what = "open " + node;
        break;
      }
      if (ioctl(fd, LOOP_SET_FD, file) != 0) {
        r = -errno;
        *what = "LOOP_SET_FD " + node;
        close(fd);
        continue;
      }
      loop_info64 info;
      memset(&info, 0, sizeof info);
      info.lo_flags = LO_FLAGS_AUTOCLEAR;
      snprintf(reinterpret_cast<char*>(info.lo_file_name),
               sizeof info.lo_file_name, "dmkit-bench");
      ioctl(fd, LOOP_SET_STATUS64, &info);  // best effort: Close() clears
      struct stat st;
      fstat(fd, &st);
      fd_ = fd;
      dev_ = dmioctl::DevNum{major(st.st_rdev), minor(st.st_rdev)};
      r = 0;
    }
    close(control);
    close(file);
    return r;
  }

  dmioctl::DevNum dev() const { return dev_; }
  bool attached() const { return fd_ >= 0; }

  // Detaches now if nothing else uses the device, else at its last close.
  void Close() {
    if (fd_ < 0) return;
    ioctl(fd_, LOOP_CLR_FD, 0);
    close(fd_);
    fd_ = -1;
  }

 private:
  static int Fail(std::string* what, std::string text) {
    int e = errno;
    *what = std::move(text);
    return -e;
  }

  int fd_ = -1;
  dmioctl::DevNum dev_;
};

}  // namespace dmkit

#endif  // DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_
