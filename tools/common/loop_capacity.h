// File: tools/common/loop_capacity.h
//
// Which file a loop device is bound to, and LOOP_SET_CAPACITY: after the
// file behind a loop device grows, the loop device keeps its old size until
// told to read the file's size again (`losetup -c`). Used to grow Docker's
// loop-lvm pool in place.
#ifndef DMKIT_TOOLS_COMMON_LOOP_CAPACITY_H_
#define DMKIT_TOOLS_COMMON_LOOP_CAPACITY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dmkit {

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

#endif  // DMKIT_TOOLS_COMMON_LOOP_CAPACITY_H_
