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
#include <vector>

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

// What a loop device is bound to, and growing it in place: after the file
// behind a loop device grows, the device keeps its old size until told to
// read the file's size again (`losetup -c`). Used to grow Docker's loop-lvm
// pool in place.
struct LoopBacking {
  uint64_t rdev = 0;      // the loop device's own number (st_rdev)
  uint64_t file_dev = 0;  // st_dev of the file it is bound to
  uint64_t inode = 0;     // st_ino of that file
};

// GetLoopBacking()
//
// LOOP_GET_STATUS64 of loop node `node`. ENXIO: bound to nothing.
absl::StatusOr<LoopBacking> GetLoopBacking(const std::string& node);

// LoopNodesBacking()
//
// Every /dev/loopN (under `dev_dir`) bound to the file with this st_dev and
// inode, matched as Docker's FindLoopDeviceFor does (a scan of
// /sys/block/loop*).
std::vector<std::string> LoopNodesBacking(uint64_t file_dev, uint64_t inode,
                                          const std::string& dev_dir = "/dev");

// SetLoopCapacity()
//
// LOOP_SET_CAPACITY on `node`: the device takes its file's current size,
// which is returned (BLKGETSIZE64 afterwards).
absl::StatusOr<uint64_t> SetLoopCapacity(const std::string& node);

}  // namespace dmkit

#endif  // DMKIT_TOOLS_COMMON_LOOP_DEVICE_H_
