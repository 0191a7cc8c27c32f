// `dmkit docker pool --grow-data/--grow-metadata` (tools/docker/grow.h):
// size parsing, and the all-or-nothing grow failed at each of its steps.
// The files and loop devices are real (a host loop device over a file in a
// temporary directory); the pool is the fake kernel's, since a failed
// reload or resume of a real pool cannot be had on demand. The real-kernel
// proof (a full pool grown under a container's writes) is
// tests/vm/docker_grow_guest.sh.
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/table.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tests/unit/fake_kernel.h"
#include "tools/docker/cli.h"
#include "tools/docker/fault.h"
#include "tools/docker/grow.h"

namespace dmkit::docker {
namespace {

using dmkit::testing::FakeDevice;
using dmkit::testing::FakeKernelState;
using dmkit::testing::TempDir;

TEST(ParseSizeTest, BytesAndBinarySuffixes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("1K"), 1024u);
  EXPECT_EQ(*ParseSize("3k"), 3072u);
  EXPECT_EQ(*ParseSize("2M"), 2u << 20);
  EXPECT_EQ(*ParseSize("100G"), 100ull << 30);
  EXPECT_EQ(*ParseSize("1t"), 1ull << 40);
  EXPECT_EQ(*ParseSize("16777215T"), 16777215ull << 40);
}

TEST(ParseSizeTest, RejectsWhatIsNotASize) {
  for (const char* bad :
       {"", "K", "0", "0G", "1.5G", "-1", "+1", " 1", "1 ", "12KB", "1P",
        "0x10", "16777216T", "18446744073709551616"}) {
    absl::StatusOr<uint64_t> n = ParseSize(bad);
    EXPECT_FALSE(n.ok()) << "'" << bad << "' gave " << *n;
    if (!n.ok()) {
      EXPECT_TRUE(
          absl::StrContains(n.status().message(), absl::StrCat("'", bad, "'")));
    }
  }
}

TEST(ParseSizeTest, CommandLine) {
  const char* ok[] = {"docker", "pool", "--grow-data", "3G",
                      "--grow-metadata=64M"};
  absl::StatusOr<Invocation> inv = ParseCommandLine(5, ok);
  ASSERT_TRUE(inv.ok()) << inv.status();
  EXPECT_EQ(*inv->options.grow_data, 3ull << 30);
  EXPECT_EQ(*inv->options.grow_metadata, 64ull << 20);
  struct Bad {
    std::vector<const char*> argv;
    const char* error;
  };
  for (const Bad& b : std::vector<Bad>{
           {{"docker", "pool", "--grow-data"}, "--grow-data needs a value"},
           {{"docker", "pool", "--grow-data", "1.5G"},
            "--grow-data: invalid size '1.5G'"},
           {{"docker", "df", "--grow-data", "1G"}, "are for pool"},
           {{"docker", "pool", "--activate", "--grow-metadata", "1G"},
            "without --activate"},
           {{"docker", "pool", "--json", "--grow-data=1G"},
            "without --activate and --json"},
           {{"docker", "pool", "--grow-data="}, "--grow-data needs a value"}}) {
    absl::StatusOr<Invocation> r =
        ParseCommandLine(static_cast<int>(b.argv.size()), b.argv.data());
    ASSERT_FALSE(r.ok()) << b.argv.back();
    EXPECT_TRUE(absl::StrContains(r.status().message(), b.error)) << r.status();
  }
}

// A loop device bound to `file` with autoclear, detached when this goes.
class TestLoop {
 public:
  explicit TestLoop(const std::string& file) {
    int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
    if (ctl < 0) return;
    int backing = open(file.c_str(), O_RDWR | O_CLOEXEC);
    for (int attempt = 0; attempt < 8 && fd_ < 0 && backing >= 0; ++attempt) {
      int n = ioctl(ctl, LOOP_CTL_GET_FREE);
      if (n < 0) break;
      node_ = absl::StrCat("/dev/loop", n);
      int fd = open(node_.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) break;
      loop_config config;
      memset(&config, 0, sizeof(config));
      config.fd = backing;
      config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
      if (ioctl(fd, LOOP_CONFIGURE, &config) == 0) {
        fd_ = fd;
        struct stat st;
        fstat(fd, &st);
        dev_ = dmioctl::DevNum::FromDevT(st.st_rdev);
      } else {
        close(fd);
      }
    }
    if (backing >= 0) close(backing);
    close(ctl);
  }
  ~TestLoop() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& node() const { return node_; }
  dmioctl::DevNum dev() const { return dev_; }
  uint64_t size() const {
    uint64_t bytes = 0;
    ioctl(fd_, BLKGETSIZE64, &bytes);
    return bytes;
  }

 private:
  int fd_ = -1;
  std::string node_;
  dmioctl::DevNum dev_;
};

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Runs before the fake kernel sees each ioctl; a non-zero return fails it.
class HookedTransport : public dmioctl::Transport {
 public:
  HookedTransport(std::shared_ptr<FakeKernelState> kernel,
                  std::function<int(unsigned, dm_ioctl*)>* hook)
      : kernel_(std::move(kernel)), hook_(hook) {}
  int Ioctl(unsigned long request, void* buffer) override {
    if (*hook_) {
      if (int r = (*hook_)(_IOC_NR(request), static_cast<dm_ioctl*>(buffer))) {
        return r;
      }
    }
    return kernel_->Handle(request, buffer);
  }

 private:
  std::shared_ptr<FakeKernelState> kernel_;
  std::function<int(unsigned, dm_ioctl*)>* hook_;
};

bool IsResume(unsigned nr, const dm_ioctl* h) {
  return nr == DM_DEV_SUSPEND_CMD && (h->flags & DM_SUSPEND_FLAG) == 0;
}

constexpr char kPool[] = "docker-8:1-1234-pool";
constexpr uint64_t kData = 16 << 20;     // 256 blocks of 64 KiB
constexpr uint64_t kMetadata = 2 << 20;  // 512 metadata blocks
// Full: the state the grow is for.
constexpr char kFullStatus[] =
    "7 30/512 256/256 - out_of_data_space discard_passdown queue_if_no_space "
    "- 128";

// Fails the `fault_nth` call (1-based) of the fault point `fault_step`.
const char* fault_step = nullptr;
int fault_nth = 0;
int FaultHook(absl::string_view step, absl::string_view) {
  if (fault_step == nullptr || step != fault_step) return 0;
  return --fault_nth == 0 ? EIO : 0;
}

class GrowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Fresh for each run of FailedAtEachIoctlUndoesEverything too.
    data_loop_.reset();
    meta_loop_.reset();
    kernel_ = std::make_shared<FakeKernelState>();
    files_.data = dir_.path() + "/data";
    files_.metadata = dir_.path() + "/metadata";
    ASSERT_EQ(truncate(dir_.Write("data", "").c_str(), kData), 0);
    ASSERT_EQ(truncate(dir_.Write("metadata", "").c_str(), kMetadata), 0);
    data_loop_ = std::make_unique<TestLoop>(files_.data);
    meta_loop_ = std::make_unique<TestLoop>(files_.metadata);
    if (!data_loop_->ok() || !meta_loop_->ok()) {
      GTEST_SKIP() << "no loop device to bind (needs root and /dev/loop*)";
    }
    FakeDevice pool;
    pool.name = kPool;
    pool.minor = 3;
    pool.live = *dmioctl::ParseTable(absl::StrCat(
        "0 ", kData / 512, " thin-pool ", meta_loop_->dev().ToString(), " ",
        data_loop_->dev().ToString(), " 128 32768 1 skip_block_zeroing"));
    pool.status = {kFullStatus};
    kernel_->devices[kPool] = pool;
    dm_ = std::make_unique<dmioctl::DeviceMapper>(
        std::make_unique<HookedTransport>(kernel_, &hook_));
    SetFaultHookForTesting(&FaultHook);
  }
  void TearDown() override {
    SetFaultHookForTesting(nullptr);
    fault_step = nullptr;
    hook_ = nullptr;
  }

  absl::StatusOr<std::string> Grow(GrowRequest request) {
    return GrowLoopPool(*dm_, kPool, files_, request);
  }
  std::string LiveTable() {
    const FakeDevice* d = kernel_->Find(kPool);
    if (d == nullptr || !d->live) return "";
    return dmioctl::FormatTable(*d->live);
  }
  // The pool, the files and the loop devices are as SetUp made them.
  void ExpectUnchanged(const std::string& table) {
    EXPECT_EQ(LiveTable(), table);
    const FakeDevice* d = kernel_->Find(kPool);
    ASSERT_NE(d, nullptr);
    EXPECT_FALSE(d->inactive.has_value());
    EXPECT_FALSE(d->suspended);
    EXPECT_EQ(FileSize(files_.data), kData);
    EXPECT_EQ(FileSize(files_.metadata), kMetadata);
    EXPECT_EQ(data_loop_->size(), kData);
    EXPECT_EQ(meta_loop_->size(), kMetadata);
  }

  TempDir dir_;
  PoolFiles files_;
  std::unique_ptr<TestLoop> data_loop_, meta_loop_;
  std::shared_ptr<FakeKernelState> kernel_ =
      std::make_shared<FakeKernelState>();
  std::function<int(unsigned, dm_ioctl*)> hook_;
  std::unique_ptr<dmioctl::DeviceMapper> dm_;
};

TEST_F(GrowTest, GrowsDataAndMetadata) {
  absl::StatusOr<std::string> report =
      Grow({.data_bytes = 40 << 20, .metadata_bytes = 4 << 20});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(FileSize(files_.data), 40u << 20);
  EXPECT_EQ(FileSize(files_.metadata), 4u << 20);
  EXPECT_EQ(data_loop_->size(), 40u << 20);
  EXPECT_EQ(meta_loop_->size(), 4u << 20);
  EXPECT_EQ(LiveTable(),
            absl::StrCat("0 81920 thin-pool ", meta_loop_->dev().ToString(),
                         " ", data_loop_->dev().ToString(),
                         " 128 32768 1 skip_block_zeroing\n"));
  EXPECT_FALSE(kernel_->Find(kPool)->suspended);
  EXPECT_TRUE(
      absl::StrContains(*report, "16.0 MiB (16777216 bytes) -> 40.0 MiB"))
      << *report;
  EXPECT_TRUE(absl::StrContains(*report, "free blocks before: 0/256 data"))
      << *report;
}

TEST_F(GrowTest, DataLengthIsWholeBlocks) {
  // 40 MiB + 100 KiB: the pool gets 641 blocks of 64 KiB; the file is as asked.
  uint64_t bytes = (40 << 20) + 100 * 1024;
  ASSERT_TRUE(Grow({.data_bytes = bytes}).ok());
  EXPECT_EQ(FileSize(files_.data), bytes);
  EXPECT_TRUE(absl::StartsWith(LiveTable(), "0 82048 thin-pool "))
      << LiveTable();
}

TEST_F(GrowTest, MetadataAloneReloadsTheSameTable) {
  const std::string table = LiveTable();
  ASSERT_TRUE(Grow({.metadata_bytes = 8 << 20}).ok());
  EXPECT_EQ(LiveTable(), table);
  EXPECT_EQ(meta_loop_->size(), 8u << 20);
  int loads = 0, resumes = 0;
  for (const auto& s : kernel_->sent) {
    loads += s.command == DM_TABLE_LOAD_CMD;
    resumes += IsResume(s.command, &s.header);
  }
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(resumes, 1);
}

// Every ioctl failed in turn. Up to the resume, the grow either fails with
// the table, the files and the loop devices as before and an error naming
// the pool and the errno, or (a failed read of the live table before the
// load, which only serves the undo) completes. After the resume (reading
// the new state) the pool stays grown and the failure is only reported.
TEST_F(GrowTest, FailedAtEachIoctlCompletesOrUndoesEverything) {
  const std::string table = LiveTable();
  ASSERT_TRUE(Grow({.data_bytes = 40 << 20, .metadata_bytes = 4 << 20}).ok());
  const std::string grown = LiveTable();
  size_t total = kernel_->sent.size();
  size_t resume_at = 0, load_at = 0;
  for (size_t i = 0; i < total; ++i) {
    if (IsResume(kernel_->sent[i].command, &kernel_->sent[i].header)) {
      resume_at = i + 1;
    }
    if (kernel_->sent[i].command == DM_TABLE_LOAD_CMD) load_at = i + 1;
  }
  ASSERT_GT(load_at, 0u);
  ASSERT_GT(resume_at, load_at);
  int failures = 0;
  for (size_t n = 1; n <= total; ++n) {
    SCOPED_TRACE(absl::StrCat("ioctl ", n, " of ", total));
    TearDown();
    SetUp();
    kernel_->fail_at = static_cast<int>(n);
    kernel_->fail_errno = EIO;
    absl::StatusOr<std::string> r =
        Grow({.data_bytes = 40 << 20, .metadata_bytes = 4 << 20});
    if (n == load_at || n == resume_at) {
      EXPECT_FALSE(r.ok());
    }
    if (n > resume_at) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(absl::StrContains(*r, "free blocks after: unknown")) << *r;
    }
    if (r.ok()) {
      EXPECT_EQ(LiveTable(), grown);
      EXPECT_EQ(FileSize(files_.data), 40u << 20);
      EXPECT_EQ(data_loop_->size(), 40u << 20);
      EXPECT_EQ(meta_loop_->size(), 4u << 20);
      continue;
    }
    ++failures;
    EXPECT_EQ(dmkit::ErrnoOf(r.status()), EIO) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), kPool)) << r.status();
    ExpectUnchanged(table);
  }
  EXPECT_GE(failures, 4);  // the pool's table and status, the load, the resume
}

// The kernel swaps tables before a target's preresume refuses the new one:
// ReloadTable puts the old table back, then the files shrink back.
TEST_F(GrowTest, ResumeFailingAfterTheSwapRestoresTheOldTable) {
  const std::string table = LiveTable();
  bool failed = false;
  hook_ = [&](unsigned nr, dm_ioctl* h) {
    if (failed || !IsResume(nr, h)) return 0;
    failed = true;
    FakeDevice* d = kernel_->Find(kPool);
    d->live = std::move(d->inactive);
    d->inactive.reset();
    d->suspended = true;
    return -EINVAL;
  };
  absl::StatusOr<std::string> r = Grow({.data_bytes = 40 << 20});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(dmkit::ErrnoOf(r.status()), EINVAL) << r.status();
  ExpectUnchanged(table);
}

// A file the pool wrote past its old size is not cut back.
TEST_F(GrowTest, FileWrittenPastTheOldSizeStays) {
  hook_ = [&](unsigned nr, dm_ioctl* h) {
    if (!IsResume(nr, h)) return 0;
    int fd = open(files_.data.c_str(), O_WRONLY | O_CLOEXEC);
    EXPECT_EQ(pwrite(fd, "x", 1, kData + 4096), 1);
    close(fd);
    return -EIO;
  };
  const std::string table = LiveTable();
  absl::StatusOr<std::string> r = Grow({.data_bytes = 40 << 20});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(dmkit::ErrnoOf(r.status()), EIO) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(),
                                "stays at 41943040 bytes (written past"))
      << r.status();
  EXPECT_EQ(LiveTable(), table);
  EXPECT_EQ(FileSize(files_.data), 40u << 20);
}

// ftruncate and LOOP_SET_CAPACITY of the data file, then of the metadata
// file (after the data file and its loop device grew), failed in turn.
TEST_F(GrowTest, FailedFileStepsUndoTheEarlierOnes) {
  const std::string table = LiveTable();
  for (const char* step : {"ftruncate", "LOOP_SET_CAPACITY"}) {
    for (int nth : {1, 2}) {
      SCOPED_TRACE(absl::StrCat(step, " #", nth));
      fault_step = step;
      fault_nth = nth;
      absl::StatusOr<std::string> r =
          Grow({.data_bytes = 40 << 20, .metadata_bytes = 4 << 20});
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(dmkit::ErrnoOf(r.status()), EIO) << r.status();
      EXPECT_TRUE(absl::StrContains(r.status().message(), step)) << r.status();
      std::string what = nth == 1 ? "/data" : "/metadata";
      if (absl::StartsWith(step, "LOOP")) {
        what = nth == 1 ? data_loop_->node() : meta_loop_->node();
      }
      EXPECT_TRUE(absl::StrContains(r.status().message(), what)) << r.status();
      ExpectUnchanged(table);
    }
  }
}

TEST_F(GrowTest, RefusalsChangeNothing) {
  const std::string table = LiveTable();
  struct Case {
    GrowRequest request;
    const char* error;
  };
  for (const Case& c : std::vector<Case>{
           {{.data_bytes = kData / 2}, "refusing to shrink the data file"},
           {{.data_bytes = kData}, "nothing to grow in the data file"},
           {{.metadata_bytes = kMetadata - 1},
            "refusing to shrink the metadata"},
           {{.data_bytes = kData + 4096}, "adds no whole data block"},
           {{.data_bytes = 40 << 20,
           .metadata_bytes = kMaxThinMetadataBytes + 1},
            "the most the kernel uses"},
           {{}, "nothing to grow"}}) {
    absl::StatusOr<std::string> r = Grow(c.request);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::StrContains(r.status().message(), c.error)) << r.status();
    ExpectUnchanged(table);
  }
  int before = static_cast<int>(kernel_->sent.size());
  // A pool on other devices (LVM, or loop devices over other files).
  kernel_->Find(kPool)->live = *dmioctl::ParseTable(
      "0 32768 thin-pool 253:0 253:1 128 32768 1 skip_block_zeroing");
  absl::StatusOr<std::string> r = Grow({.data_bytes = 40 << 20});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StrContains(
      r.status().message(),
      absl::StrCat("its data device 253:1 is not a loop device over ",
                   files_.data)))
      << r.status();
  kernel_->Find(kPool)->live = *dmioctl::ParseTable(table);
  // Suspended, needs_check: the kernel would not grow it.
  kernel_->Find(kPool)->suspended = true;
  r = Grow({.data_bytes = 40 << 20});
  EXPECT_TRUE(!r.ok() && absl::StrContains(r.status().message(), "suspended"))
      << r.status();
  kernel_->Find(kPool)->suspended = false;
  kernel_->Find(kPool)->status = {
      "7 30/512 256/256 - ro discard_passdown queue_if_no_space needs_check "
      "128"};
  r = Grow({.data_bytes = 40 << 20});
  EXPECT_TRUE(!r.ok() && absl::StrContains(r.status().message(), "needs_check"))
      << r.status();
  for (size_t i = before; i < kernel_->sent.size(); ++i) {
    EXPECT_NE(kernel_->sent[i].command, DM_TABLE_LOAD_CMD);
    EXPECT_NE(kernel_->sent[i].command, DM_DEV_SUSPEND_CMD);
  }
  EXPECT_EQ(FileSize(files_.data), kData);
  EXPECT_EQ(data_loop_->size(), kData);
}

TEST_F(GrowTest, InactivePoolGrowsTheFilesAndTheirLoopDevices) {
  kernel_->devices.clear();
  absl::StatusOr<std::string> r = Grow({.data_bytes = 1 << 30});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(absl::StrContains(*r, "is not active")) << *r;
  EXPECT_TRUE(
      absl::StrContains(*r, absl::StrCat("refreshed ", data_loop_->node())))
      << *r;
  EXPECT_EQ(FileSize(files_.data), 1u << 30);
  EXPECT_EQ(data_loop_->size(), 1u << 30);
  EXPECT_EQ(FileSize(files_.metadata), kMetadata);
}

}  // namespace
}  // namespace dmkit::docker
