// Batch create and remove: concurrency, all-or-nothing, cancellation.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <sys/ioctl.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "dmioctl/operations.h"
#include "dmioctl/targets.h"
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace dmkit::testing {
namespace {

std::vector<dmioctl::DeviceSpec> Specs(int count) {
  std::vector<dmioctl::DeviceSpec> specs;
  for (int i = 0; i < count; ++i) {
    dmioctl::DeviceSpec spec{.name = absl::StrCat("batch-", i)};
    spec.table.targets.push_back(dmioctl::targets::Zero(0, 8));
    specs.push_back(std::move(spec));
  }
  return specs;
}

TEST(BatchTest, CreatesAllInInputOrder) {
  FakeDm f;
  auto infos = dmioctl::CreateDevices(f.dm, Specs(40), {.jobs = 4});
  ASSERT_TRUE(infos.ok()) << infos.status();
  ASSERT_EQ(infos->size(), 40u);
  EXPECT_EQ(f.kernel->devices.size(), 40u);
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE((*infos)[i].live_table());
    const FakeDevice* d = f.kernel->Find(absl::StrCat("batch-", i));
    ASSERT_NE(d, nullptr);
    EXPECT_EQ((*infos)[i].dev.minor, d->minor);
  }
}

TEST(BatchTest, FailureRemovesEverythingTheBatchMade) {
  for (int fail_at : {1, 2, 30, 61, 120}) {
    SCOPED_TRACE(fail_at);
    FakeDm f;
    ASSERT_TRUE(dmioctl::CreateDevice(f.dm, "bystander", {}).ok());
    f.kernel->fail_at = fail_at + 1;
    f.kernel->fail_errno = ENOMEM;
    auto infos = dmioctl::CreateDevices(f.dm, Specs(40), {.jobs = 4});
    EXPECT_THAT(infos.status(), HasErrno(ENOMEM));
    ASSERT_EQ(f.kernel->devices.size(), 1u);
    EXPECT_NE(f.kernel->Find("bystander"), nullptr);
  }
}

TEST(BatchTest, DuplicateNameInBatchRollsBack) {
  FakeDm f;
  std::vector<dmioctl::DeviceSpec> specs = Specs(10);
  specs[7].name = "batch-2";
  auto infos = dmioctl::CreateDevices(f.dm, specs, {.jobs = 1});
  EXPECT_THAT(infos.status(), HasErrno(EBUSY));
  EXPECT_TRUE(f.kernel->devices.empty());
}

TEST(BatchTest, InvalidSpecFailsBeforeAnyIoctl) {
  FakeDm f;
  std::vector<dmioctl::DeviceSpec> specs = Specs(5);
  specs[3].name = "bad/name";
  EXPECT_FALSE(dmioctl::CreateDevices(f.dm, specs, {.jobs = 2}).ok());
  EXPECT_TRUE(f.kernel->sent.empty());
}

TEST(BatchTest, CancellationRollsBack) {
  FakeDm f;
  std::atomic<bool> cancel{false};
  // Cancel from inside the kernel after a few devices, as a signal would.
  f.kernel->overrides[DM_DEV_SUSPEND_CMD] = [&](dm_ioctl* h, size_t) {
    // Copy the captures first: moving the override out below destroys this
    // lambda's own storage.
    FakeKernelState* kernel = f.kernel.get();
    if (kernel->devices.size() >= 5) cancel = true;
    auto saved = std::move(kernel->overrides[DM_DEV_SUSPEND_CMD]);
    kernel->overrides.erase(DM_DEV_SUSPEND_CMD);
    int r = kernel->Handle(_IOWR(DM_IOCTL, DM_DEV_SUSPEND_CMD, dm_ioctl), h);
    kernel->overrides[DM_DEV_SUSPEND_CMD] = std::move(saved);
    return r;
  };
  auto infos =
      dmioctl::CreateDevices(f.dm, Specs(50), {.jobs = 2, .cancel = &cancel});
  EXPECT_EQ(infos.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(f.kernel->devices.empty());
}

TEST(BatchTest, RemoveAllReportsFirstErrorAndRemovesTheRest) {
  FakeDm f;
  ASSERT_TRUE(dmioctl::CreateDevices(f.dm, Specs(20), {.jobs = 3}).ok());
  f.kernel->Find("batch-5")->open_count = 1;
  std::vector<dmioctl::DeviceRef> refs;
  for (int i = 0; i < 20; ++i) {
    refs.push_back(dmioctl::DeviceRef::ByName(absl::StrCat("batch-", i)));
  }
  absl::Status s = dmioctl::RemoveDevices(f.dm, refs, {}, {.jobs = 3});
  EXPECT_THAT(s, HasErrno(EBUSY));
  ASSERT_EQ(f.kernel->devices.size(), 1u);
  EXPECT_NE(f.kernel->Find("batch-5"), nullptr);
}

}  // namespace
}  // namespace dmkit::testing
