// `dmkit docker mount` over the fake kernel, failed at each of its
// device-mapper and /dev/mapper steps, and given malformed replies: every
// time the exit status is 1, stderr is one line naming the failed step, the
// errno and the device, and the fake kernel and the node directory are as
// before. The real-kernel proof, with loop devices, mount(2) and umount
// and all three commands, is tests/vm/docker_fault_guest.cc; this one runs
// with every host build. (A host has no dm device behind the node, so here
// every run ends, at the latest, when the filesystem cannot be read.)
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dmioctl/table.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tests/unit/fake_kernel.h"
#include "tools/docker/cli.h"
#include "tools/docker/fault.h"
#include "tools/docker/store.h"

namespace dmkit::docker {
namespace {

using dmkit::testing::FakeDevice;
using dmkit::testing::FakeKernelState;
using dmkit::testing::FakeTransport;
using dmkit::testing::TempDir;

constexpr char kContainer[] =
    "f34cee76e36a1c3b0d1ab5c1e2ac36ab0b6d84ea9c0f69d4daf01e1c0a4fa2b1";
constexpr char kMountId[] =
    "dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824";
constexpr char kPoolStatus[] =
    "844170 2560/16384 4970/32768 - rw discard_passdown queue_if_no_space - "
    "1024";

// The steps of one run: each ioctl and each fault point, the one at
// `fail_at` failed with EIO.
struct Steps {
  size_t fail_at = 0;
  std::vector<std::string> names;
  std::string failed;  // "name target"
};
Steps* steps = nullptr;

int Hook(absl::string_view name, absl::string_view target) {
  if (steps == nullptr) return 0;
  steps->names.emplace_back(name);
  if (steps->names.size() != steps->fail_at) return 0;
  steps->failed =
      target.empty() ? std::string(name) : absl::StrCat(name, " ", target);
  return EIO;
}

class CountingTransport : public dmioctl::Transport {
 public:
  explicit CountingTransport(std::shared_ptr<FakeKernelState> kernel)
      : fake_(std::move(kernel)) {}
  int Ioctl(unsigned long request, void* buffer) override {
    static constexpr const char* kNames[] = {
        "DM_VERSION",      "DM_REMOVE_ALL",    "DM_LIST_DEVICES",
        "DM_DEV_CREATE",   "DM_DEV_REMOVE",    "DM_DEV_RENAME",
        "DM_DEV_SUSPEND",  "DM_DEV_STATUS",    "DM_DEV_WAIT",
        "DM_TABLE_LOAD",   "DM_TABLE_CLEAR",   "DM_TABLE_DEPS",
        "DM_TABLE_STATUS", "DM_LIST_VERSIONS", "DM_TARGET_MSG"};
    const dm_ioctl* h = static_cast<const dm_ioctl*>(buffer);
    unsigned nr = _IOC_NR(request);
    std::string target =
        h->name[0] != '\0'
            ? std::string(h->name, strnlen(h->name, sizeof(h->name)))
        : h->dev != 0 ? dmioctl::DevNum::Decode(h->dev).ToString()
                      : "";
    if (int e = Hook(nr < std::size(kNames) ? kNames[nr] : "DM_?", target)) {
      return -e;
    }
    return fake_.Ioctl(request, buffer);
  }

 private:
  FakeTransport fake_;
};

bool CanMknod(const std::string& dir) {
  std::string path = dir + "/probe";
  if (mknod(path.c_str(), S_IFBLK | 0600, makedev(7, 0)) != 0) return false;
  unlink(path.c_str());
  return true;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class DockerFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanMknod(dev_.path())) GTEST_SKIP() << "mknod needs CAP_MKNOD";
    root_.Mkdir("devicemapper/mnt");
    root_.Write(
        absl::StrCat("containers/", kContainer, "/config.v2.json"),
        absl::StrCat(
            R"({"ID":")", kContainer,
            R"(","Name":"/kubesql-server","State":{"Running":false}})"));
    root_.Write(absl::StrCat("image/devicemapper/layerdb/mounts/", kContainer,
                             "/mount-id"),
                kMountId);
    root_.Write(
        absl::StrCat("devicemapper/metadata/", kMountId),
        R"({"device_id":34709,"size":10737418240,"transaction_id":844170,"initialized":false,"deleted":false})");
    root_.Mkdir("mnt");
    absl::StatusOr<std::string> prefix = Store(root_.path()).Prefix();
    ASSERT_TRUE(prefix.ok()) << prefix.status();
    name_ = absl::StrCat(*prefix, "-", kMountId);
    FakeDevice pool;
    pool.name = absl::StrCat(*prefix, "-pool");
    pool.minor = 4000;
    pool.live = *dmioctl::ParseTable(
        "0 2097152 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing");
    pool.status = {kPoolStatus};
    kernel_->devices[pool.name] = pool;
    // No block device on the host has these numbers: the filesystem
    // cannot be read and every run ends there.
    kernel_->first_minor = 4001;
    old_dev_dir_ = getenv("DM_DEV_DIR") ? getenv("DM_DEV_DIR") : "";
    setenv("DM_DEV_DIR", dev_.path().c_str(), 1);
    dm_ = std::make_unique<dmioctl::DeviceMapper>(
        std::make_unique<CountingTransport>(kernel_));
    SetFaultHookForTesting(&Hook);
  }
  void TearDown() override {
    SetFaultHookForTesting(nullptr);
    if (old_dev_dir_.empty()) {
      unsetenv("DM_DEV_DIR");
    } else {
      setenv("DM_DEV_DIR", old_dev_dir_.c_str(), 1);
    }
  }

  struct Outcome {
    int status = -1;
    std::string out;
    std::string err;
  };
  Outcome Mount(Steps& s) {
    std::string mnt = root_.path() + "/mnt";
    const char* argv[] = {"docker",         "mount",
                          "--root",         root_.path().c_str(),
                          "kubesql-server", mnt.c_str()};
    absl::StatusOr<Invocation> inv = ParseCommandLine(6, argv);
    EXPECT_TRUE(inv.ok()) << inv.status();
    Outcome o;
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    steps = &s;
    o.status = FindCommand(inv->command)(dm_.get(), inv->options);
    steps = nullptr;
    o.err = ::testing::internal::GetCapturedStderr();
    o.out = ::testing::internal::GetCapturedStdout();
    return o;
  }
  std::vector<std::string> Devices() const {
    std::vector<std::string> names;
    for (const auto& [n, d] : kernel_->devices) names.push_back(n);
    return names;
  }

  TempDir root_;
  TempDir dev_;
  std::string old_dev_dir_;
  std::string name_;
  std::shared_ptr<FakeKernelState> kernel_ =
      std::make_shared<FakeKernelState>();
  std::unique_ptr<dmioctl::DeviceMapper> dm_;
};

TEST_F(DockerFaultTest, MountFailedAtEveryStepLeavesNothing) {
  const std::vector<std::string> devices = Devices();
  const std::vector<std::string> mapper = Entries(dev_.path() + "/mapper");
  // Without a fault: everything up to the node, then the filesystem
  // cannot be read, and the device and its node are removed again.
  Steps all;
  Outcome o = Mount(all);
  EXPECT_EQ(o.status, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_TRUE(absl::StrContains(o.err, dev_.path() + "/mapper/" + name_))
      << o.err;
  const std::vector<std::string> forward = {
      "DM_TABLE_STATUS", "DM_TABLE_STATUS", "DM_LIST_DEVICES",
      "DM_TABLE_STATUS",  // each device: is it a thin mapping on the
                          // pool?
      "DM_TABLE_STATUS",  // Docker's name: taken by something else?
      "DM_DEV_CREATE", "DM_TABLE_LOAD", "DM_DEV_SUSPEND", "mkdir", "mknod",
      "chown", "DM_DEV_STATUS"};  // still there? (not removed by another
                                  // process)
  std::vector<std::string> expected = forward;
  expected.push_back("DM_DEV_REMOVE");  // the rollback
  expected.push_back("unlink");
  EXPECT_EQ(absl::StrJoin(all.names, " "), absl::StrJoin(expected, " "));
  EXPECT_EQ(Devices(), devices);
  EXPECT_EQ(Entries(dev_.path() + "/mapper"), mapper);

  for (size_t n = 1; n <= forward.size(); ++n) {
    Steps s{.fail_at = n};
    o = Mount(s);
    SCOPED_TRACE(absl::StrCat("step ", n, ": ", s.failed));
    EXPECT_TRUE(absl::StartsWith(s.failed, forward[n - 1]));
    EXPECT_EQ(o.status, 1);
    EXPECT_EQ(o.out, "");
    std::vector<std::string> lines =
        absl::StrSplit(o.err, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << o.err;
    // "docker: <device>: DM_TABLE_LOAD <device>: Input/output error [errno 5]"
    EXPECT_TRUE(absl::StrContains(o.err, s.failed)) << o.err;
    EXPECT_TRUE(absl::StrContains(o.err, name_)) << o.err;
    EXPECT_TRUE(absl::StrContains(o.err, "Input/output error [errno 5]"))
        << o.err;
    EXPECT_EQ(Devices(), devices);
    EXPECT_EQ(Entries(dev_.path() + "/mapper"), mapper);
  }
}

TEST_F(DockerFaultTest, MountGivenMalformedRepliesMakesNothing) {
  const std::vector<std::string> devices = Devices();
  // A list reply that claims more than the buffer holds.
  kernel_->overrides[DM_LIST_DEVICES_CMD] = [](dm_ioctl* h, size_t size) {
    h->data_size = static_cast<uint32_t>(size + 8);
    return 0;
  };
  Steps s;
  Outcome o = Mount(s);
  EXPECT_EQ(o.status, 1);
  EXPECT_TRUE(absl::StrContains(o.err, name_)) << o.err;
  EXPECT_TRUE(absl::StrContains(o.err, "DM_LIST_DEVICES")) << o.err;
  EXPECT_EQ(Devices(), devices);
  kernel_->overrides.clear();

  // A pool status that is not a thin-pool's.
  kernel_->devices.begin()->second.status = {"garbage"};
  s = Steps();
  o = Mount(s);
  EXPECT_EQ(o.status, 1);
  std::vector<std::string> lines =
      absl::StrSplit(o.err, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 1u) << o.err;
  EXPECT_EQ(Devices(), devices);
  EXPECT_EQ(Entries(dev_.path() + "/mapper"), std::vector<std::string>());
}

}  // namespace
}  // namespace dmkit::docker
