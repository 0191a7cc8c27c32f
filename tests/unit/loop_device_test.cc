// tools/common/loop_device.h on the host's real loop devices (needs root
// and /dev/loop-control; skipped otherwise).
#include "tools/common/loop_device.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dmkit/status.h"
#include "gtest/gtest.h"
#include "mountns/unique_fd.h"
#include "tests/unit/docker_test_util.h"

namespace dmkit {
namespace {

using ::dmkit::testing::TempDir;

// Whether /dev/loopN (`path`) is bound to a file now.
bool Bound(const std::string& path) {
  mountns::UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return false;
  struct loop_info64 info;
  memset(&info, 0, sizeof(info));
  return ioctl(fd.get(), LOOP_GET_STATUS64, &info) == 0;
}

// The device's size in 512-byte sectors, from sysfs.
uint64_t Sectors(const LoopDevice& loop) {
  std::string name = loop.path().substr(loop.path().rfind('/') + 1);
  absl::StatusOr<std::string> text =
      mountns::ReadFile(absl::StrCat("/sys/block/", name, "/size"), 64);
  return text.ok() ? strtoull(text->c_str(), nullptr, 10) : 0;
}

class LoopDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0 || access("/dev/loop-control", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/loop-control";
    }
  }
  std::string MakeFile(const std::string& name, off_t bytes) {
    std::string path = dir_.path() + "/" + name;
    mountns::UniqueFd fd(
        open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(ftruncate(fd.get(), bytes), 0);
    return path;
  }
  TempDir dir_;
};

TEST_F(LoopDeviceTest, TemporaryFileIsDetachedOnClose) {
  absl::StatusOr<LoopDevice> loop =
      LoopDevice::AttachTemporary(1 << 20, dir_.path());
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_TRUE(loop->attached());
  EXPECT_TRUE(Bound(loop->path()));
  EXPECT_EQ(Sectors(*loop), 2048u);
  std::string path = loop->path();
  loop->Close();
  EXPECT_FALSE(Bound(path));
}

TEST_F(LoopDeviceTest, FindsTheDeviceAlreadyBoundToAFile) {
  std::string file = MakeFile("data", 1 << 20);
  absl::StatusOr<LoopDevice> first = LoopDevice::FindOrAttach(file);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->attached());
  absl::StatusOr<LoopDevice> again = LoopDevice::FindOrAttach(file);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->attached());
  EXPECT_EQ(again->path(), first->path());
  EXPECT_EQ(again->dev().ToString(), first->dev().ToString());
  // Only the handle that bound the device detaches it.
  again->Close();
  EXPECT_TRUE(Bound(first->path()));
  std::string path = first->path();
  first->Close();
  EXPECT_FALSE(Bound(path));
}

TEST_F(LoopDeviceTest, SetLoopCapacityTakesTheGrownFile) {
  std::string file = MakeFile("pool", 1 << 20);
  absl::StatusOr<LoopDevice> loop = LoopDevice::FindOrAttach(file);
  ASSERT_TRUE(loop.ok()) << loop.status();
  ASSERT_EQ(truncate(file.c_str(), 3 << 20), 0);
  EXPECT_EQ(Sectors(*loop), 2048u);
  absl::StatusOr<uint64_t> bytes = SetLoopCapacity(loop->path());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, 3u << 20);
  EXPECT_EQ(Sectors(*loop), 6144u);
}

int failed_calls = 0;
int FailBinding(absl::string_view step, absl::string_view) {
  if (step != "LOOP_CONFIGURE") return 0;
  ++failed_calls;
  return EIO;
}

TEST_F(LoopDeviceTest, AFailedBindNamesTheDeviceAndKeepsTheErrno) {
  std::string file = MakeFile("meta", 1 << 20);
  failed_calls = 0;
  absl::StatusOr<LoopDevice> loop =
      LoopDevice::FindOrAttach(file, {.fault_hook = &FailBinding});
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(failed_calls, 1);
  EXPECT_EQ(ErrnoOf(loop.status()), EIO);
  EXPECT_TRUE(
      absl::StartsWith(loop.status().message(), "LOOP_CONFIGURE /dev/loop"))
      << loop.status();
  EXPECT_TRUE(absl::StrContains(loop.status().message(),
                                absl::StrCat("(", file, "): ")))
      << loop.status();
  // Nothing was bound: a second try attaches afresh.
  absl::StatusOr<LoopDevice> retry = LoopDevice::FindOrAttach(file);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->attached());
}

}  // namespace
}  // namespace dmkit
