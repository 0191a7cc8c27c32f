// File: dmioctl/transport.h
//
// The one place where ioctl(2) is called. DeviceMapper talks to the kernel
// only through a Transport, so unit tests can put a fake kernel behind it
// (tests/unit/fake_kernel.h) and see every request byte for byte.
#ifndef DMIOCTL_TRANSPORT_H_
#define DMIOCTL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmioctl {

class Transport {
 public:
  virtual ~Transport() = default;

  // Ioctl()
  //
  // Issues one device-mapper ioctl. `buffer` holds a struct dm_ioctl followed
  // by its payload, `data_size` bytes in all. Returns what ioctl(2) returned
  // (0 on success; some kernels return a positive value for a message to a
  // device without a table, Debian's 6.1 returns -EINVAL) or -errno.
  virtual int Ioctl(unsigned long request, void* buffer) = 0;

  // A descriptor that polls readable when a device-mapper event happened
  // since the last DM_DEV_ARM_POLL, or -1 when there is none (fakes).
  virtual int EventFd() const { return -1; }
};

// OpenControl()
//
// Opens `<dev_dir>/mapper/control` (O_RDWR | O_CLOEXEC). When the node is
// missing, as in a bare rescue /dev, it is created from
// /sys/class/misc/device-mapper/dev or /proc/misc first. When the kernel has
// no device-mapper at all, the error says so.
absl::StatusOr<std::unique_ptr<Transport>> OpenControl(
    absl::string_view dev_dir = "/dev");

}  // namespace dmioctl

#endif  // DMIOCTL_TRANSPORT_H_
