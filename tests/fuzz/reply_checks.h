// Properties every decoded kernel reply must have, whatever the bytes were.
#ifndef DMKIT_TESTS_FUZZ_REPLY_CHECKS_H_
#define DMKIT_TESTS_FUZZ_REPLY_CHECKS_H_

#include <cstdint>
#include <string>

#include "dmioctl/device_mapper.h"
#include "dmioctl/types.h"
#include "tests/fuzz/script_kernel.h"

namespace dmkit::fuzz {

inline bool HasNul(const std::string& s) {
  return s.find('\0') != std::string::npos;
}

// Names and uuids come out of fixed-size, NUL-terminated header fields.
inline void CheckInfo(const dmioctl::DeviceInfo& info) {
  FUZZ_CHECK(info.name.size() <= dmioctl::kMaxNameLength && !HasNul(info.name));
  FUZZ_CHECK(info.uuid.size() <= dmioctl::kMaxUuidLength && !HasNul(info.uuid));
}

// The library never issues more ioctls than it got replies for (+1 for the
// one that ran out of input): no retry loop runs on without the kernel.
inline void CheckCall(const Script& script, const dmioctl::DeviceMapper& dm) {
  FUZZ_CHECK(dm.counters().ioctls.load() <= script.replies() + 1);
}

}  // namespace dmkit::fuzz

#endif  // DMKIT_TESTS_FUZZ_REPLY_CHECKS_H_
