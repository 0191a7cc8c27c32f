// Shared helpers for the host unit tests.
#ifndef DMKIT_TESTS_UNIT_TEST_UTIL_H_
#define DMKIT_TESTS_UNIT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "gmock/gmock.h"
#include "tests/unit/fake_kernel.h"

namespace dmkit::testing {

// A DeviceMapper wired to a fresh fake kernel.
struct FakeDm {
  std::shared_ptr<FakeKernelState> kernel = std::make_shared<FakeKernelState>();
  dmioctl::DeviceMapper dm{std::make_unique<FakeTransport>(kernel)};
};

// Owns argv storage for one parse of a command line.
struct Argv {
  explicit Argv(std::vector<std::string> words) : words_(std::move(words)) {
    for (std::string& w : words_) ptrs_.push_back(w.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(words_.size()); }
  char** argv() { return ptrs_.data(); }
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

MATCHER_P(HasErrno, error_number, "") {
  return dmkit::ErrnoOf(arg) == error_number;
}

MATCHER(IsOk, "") { return arg.ok(); }

}  // namespace dmkit::testing

#endif  // DMKIT_TESTS_UNIT_TEST_UTIL_H_
