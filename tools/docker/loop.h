// File: tools/docker/loop.h
//
// Loop devices for Docker's loop-lvm pool files, attached the way Docker's
// pkg/loopback does: an existing loop device already backed by the file
// (same st_dev and inode in LOOP_GET_STATUS64) is reused; otherwise a free
// one (LOOP_CTL_GET_FREE) is bound with LO_FLAGS_AUTOCLEAR, so it detaches
// by itself once the pool built on it is removed, and also when the
// returned handle is closed before anything else opened it (rollback).
#ifndef DMKIT_TOOLS_DOCKER_LOOP_H_
#define DMKIT_TOOLS_DOCKER_LOOP_H_

#include <string>

#include "absl/status/statusor.h"
#include "dmioctl/types.h"

namespace dmkit::docker {

// An open loop device. Closing the last descriptor of an autoclear loop
// device that nothing else holds detaches it.
class LoopDevice {
 public:
  LoopDevice() = default;
  LoopDevice(std::string path, dmioctl::DevNum dev, int fd, bool attached)
      : path_(std::move(path)), dev_(dev), fd_(fd), attached_(attached) {}
  LoopDevice(LoopDevice&& other) noexcept;
  LoopDevice& operator=(LoopDevice&& other) noexcept;
  ~LoopDevice();

  const std::string& path() const { return path_; }
  dmioctl::DevNum dev() const { return dev_; }
  // True when this call bound the file; false when it was already bound.
  bool attached() const { return attached_; }

 private:
  std::string path_;
  dmioctl::DevNum dev_;
  int fd_ = -1;
  bool attached_ = false;
};

// FindOrAttachLoop()
//
// The loop device backing `file`, attaching a free one if there is none.
// `dev_dir` is where loop nodes live (/dev); a missing /dev/loopN node is
// made from sysfs. Errors name the file and the loop device and keep the
// errno.
absl::StatusOr<LoopDevice> FindOrAttachLoop(const std::string& file,
                                            const std::string& dev_dir = "/dev");

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_LOOP_H_
