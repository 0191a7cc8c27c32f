// `dmkit holders` run in-process on the device-mapper its caller hands in:
// a name only the fake kernel knows resolves to the fake device's number.
#include <string>
#include <vector>

#include "dmioctl/device_mapper.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_kernel.h"
#include "tests/unit/test_util.h"
#include "tools/holders/holders.h"

namespace dmkit::testing {
namespace {

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

Outcome Holders(dmioctl::DeviceMapper* dm, std::vector<std::string> words) {
  Argv args(std::move(words));
  Outcome o;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  o.status = holders::Run(dm, args.argc(), args.argv());
  o.err = ::testing::internal::GetCapturedStderr();
  o.out = ::testing::internal::GetCapturedStdout();
  return o;
}

class HoldersRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeDevice thin;
    thin.name = "dmkit-holders-thin";
    // No block device on the host has this number: the scan stops there.
    thin.minor = 4001;
    kernel_->devices[thin.name] = thin;
  }
  std::shared_ptr<FakeKernelState> kernel_ =
      std::make_shared<FakeKernelState>();
  dmioctl::DeviceMapper dm_{std::make_unique<FakeTransport>(kernel_)};
};

TEST_F(HoldersRunTest, ResolvesNamesOnTheGivenDeviceMapper) {
  Outcome found = Holders(&dm_, {"holders", "dmkit-holders-thin"});
  EXPECT_EQ(found.status, 1);
  EXPECT_EQ(found.out, "");
  EXPECT_EQ(found.err,
            "holders: dmkit-holders-thin: block device 253:4001: No such "
            "device\n");

  Outcome missing = Holders(&dm_, {"holders", "dmkit-holders-none"});
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err,
            "holders: dmkit-holders-none: no such dm device: No such device "
            "or address\n");
}

TEST_F(HoldersRunTest, WithoutDeviceMapperNamesCannotBeResolved) {
  Outcome o = Holders(nullptr, {"holders", "dmkit-holders-thin"});
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.err,
            "holders: dmkit-holders-thin: not a path or MAJ:MIN, and "
            "device-mapper is not available\n");
}

}  // namespace
}  // namespace dmkit::testing
