// File: tools/common/loop_device.h
//
// Loop devices, bound the way Docker's pkg/loopback and losetup do it. Used
// by `dmkit docker pool --activate` (Docker's loop-lvm files), by `dmkit
// bench` and by the Google Benchmark programs in bench/ (sparse temporary
// backing files for a thin-pool).
//
// Every device this code binds gets LO_FLAGS_AUTOCLEAR, and the handle
// detaches what it bound when it is closed: at once if nothing else uses
// the device, otherwise when its last user (a device-mapper table built on
// it) lets go. A device that was already bound (FindOrAttach() reusing it)
// is left as it was.
#ifndef DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_
#define DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"

namespace dmkit {

class LoopDevice {
 public:
  // Called with a system call's name ("LOOP_CONFIGURE", "mknod", ...) and
  // what it acts on before the call is made; a non-zero return is taken as
  // the call's errno and the call is not made. For fault-injection tests.
  using FaultHook = int (*)(absl::string_view step, absl::string_view target);

  struct Options {
    std::string dev_dir = "/dev";  // where loop-control and loopN live
    FaultHook fault_hook = nullptr;
  };

  // FindOrAttach()
  //
  // The loop device backing `file` (same st_dev and inode in
  // LOOP_GET_STATUS64, as Docker's FindLoopDeviceFor), or else a free one
  // (LOOP_CTL_GET_FREE) bound to it. A missing /dev/loopN node is made from
  // sysfs (a bare rescue /dev). Errors name the file or the loop device and
  // keep the errno.
  static absl::StatusOr<LoopDevice> FindOrAttach(const std::string& file,
                                                 const Options& options);
  static absl::StatusOr<LoopDevice> FindOrAttach(const std::string& file) {
    return FindOrAttach(file, Options());
  }

  // AttachTemporary()
  //
  // A sparse file of `bytes` in `dir`, unlinked as soon as it is made (only
  // the loop device holds it), bound to a free loop device.
  static absl::StatusOr<LoopDevice> AttachTemporary(uint64_t bytes,
                                                    const std::string& dir);

  LoopDevice() = default;
  LoopDevice(LoopDevice&& other) noexcept;
  LoopDevice& operator=(LoopDevice&& other) noexcept;
  ~LoopDevice() { Close(); }

  // /dev/loopN.
  const std::string& path() const { return path_; }
  dmioctl::DevNum dev() const { return dev_; }
  // True when this handle bound the device; false when it was bound already.
  bool attached() const { return attached_; }
  bool valid() const { return fd_ >= 0; }

  // RefreshCapacity()
  //
  // LOOP_SET_CAPACITY: the device takes the backing file's current size,
  // after the file was grown.
  absl::Status RefreshCapacity();

  // Detaches what this handle bound (see above) and closes it.
  void Close();

 private:
  LoopDevice(std::string path, dmioctl::DevNum dev, int fd, bool attached)
      : path_(std::move(path)), dev_(dev), fd_(fd), attached_(attached) {}
  static absl::StatusOr<LoopDevice> Attach(int file_fd, const std::string& file,
                                           const Options& options);

  std::string path_;
  dmioctl::DevNum dev_;
  int fd_ = -1;
  bool attached_ = false;
};

}  // namespace dmkit

#endif  // DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_
