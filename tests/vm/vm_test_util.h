// File: tests/vm/vm_test_util.h
//
// Shared pieces of the real-kernel suite (runs as root inside the test guest,
// see tests/vm/README.md): status assertions, RAII for file descriptors, loop
// devices on memfd backing files, mounts and temporary directories, direct
// I/O helpers, sysfs readers, and the DmVmTest fixture whose TearDown sweeps
// every device the test left behind (all names carry kNamePrefix), so one
// failing test does not cascade into the next.
#ifndef DMKIT_TESTS_VM_VM_TEST_UTIL_H_
#define DMKIT_TESTS_VM_VM_TEST_UTIL_H_

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "dmioctl/nodes.h"
#include "dmioctl/operations.h"
#include "dmioctl/table.h"
#include "dmioctl/targets.h"
#include "gtest/gtest.h"

namespace dmkit_vm {

// Every device a test creates is named with this prefix; the fixture's
// TearDown removes whatever is left with it.
inline constexpr char kNamePrefix[] = "dmkvm-";

inline absl::Status ToStatus(const absl::Status& s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace dmkit_vm

#define DMKVM_CONCAT_INNER_(a, b) a##b
#define DMKVM_CONCAT_(a, b) DMKVM_CONCAT_INNER_(a, b)

// Both take a trailing `<< message` like the gtest macros.
#define ASSERT_OK(expr)                                                      \
  switch (0)                                                                 \
  case 0:                                                                    \
  default:                                                                   \
    if (::absl::Status dmkvm_s_ = ::dmkit_vm::ToStatus(expr); dmkvm_s_.ok()) \
      ;                                                                      \
    else                                                                     \
      GTEST_FATAL_FAILURE_("") << #expr << ": " << dmkvm_s_ << " "
#define EXPECT_OK(expr)                                                      \
  switch (0)                                                                 \
  case 0:                                                                    \
  default:                                                                   \
    if (::absl::Status dmkvm_s_ = ::dmkit_vm::ToStatus(expr); dmkvm_s_.ok()) \
      ;                                                                      \
    else                                                                     \
      GTEST_NONFATAL_FAILURE_("") << #expr << ": " << dmkvm_s_ << " "
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(DMKVM_CONCAT_(dmkvm_or_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, expr)        \
  auto tmp = (expr);                                      \
  ASSERT_TRUE(tmp.ok()) << #expr << ": " << tmp.status(); \
  lhs = std::move(*tmp)
// The call failed with exactly this errno.
#define EXPECT_ERRNO(expr, errnum)                                            \
  do {                                                                        \
    ::absl::Status dmkvm_s_ = ::dmkit_vm::ToStatus(expr);                     \
    EXPECT_EQ(::dmkit::ErrnoOf(dmkvm_s_), (errnum))                           \
        << #expr << " returned " << dmkvm_s_ << "; wanted errno " << #errnum; \
  } while (0)

namespace dmkit_vm {

// The library's names every suite uses (this header is for the VM suites
// alone).
using dmioctl::DeviceInfo;
using dmioctl::DeviceRef;
using dmioctl::ScopedDevice;
using dmioctl::Table;
using dmioctl::TableReply;
namespace targets = dmioctl::targets;

inline constexpr uint64_t kMiB = 1 << 20;

// An owned file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// open(2) as a status.
absl::StatusOr<Fd> Open(const std::string& path, int flags);

// A loop device over a memfd of `bytes` bytes (tmpfs memory, gone with the
// last reference), made with LOOP_CTL_GET_FREE + LOOP_CONFIGURE (falling back
// to LOOP_SET_FD + LOOP_SET_STATUS64). The destructor detaches it; with
// LO_FLAGS_AUTOCLEAR a loop still held by a leaked dm table detaches when
// that table lets go.
class TempLoop {
 public:
  static absl::StatusOr<TempLoop> Create(uint64_t bytes);
  TempLoop() = default;
  TempLoop(TempLoop&&) = default;
  TempLoop& operator=(TempLoop&&) = default;
  ~TempLoop();

  dmioctl::DevNum dev() const { return dev_; }
  // "MAJ:MIN", for tables.
  std::string dev_string() const { return dev_.ToString(); }
  const std::string& path() const { return path_; }
  uint64_t sectors() const { return bytes_ / 512; }
  // The backing file: what actually reached the loop device.
  int backing_fd() const { return backing_.get(); }
  absl::StatusOr<std::string> ReadBacking(uint64_t offset, size_t length) const;
  absl::Status WriteBacking(uint64_t offset, const std::string& data) const;

 private:
  Fd backing_;
  Fd loop_;
  std::string path_;
  dmioctl::DevNum dev_;
  uint64_t bytes_ = 0;
};

// A directory under /tmp removed (recursively) on destruction.
class TempDir {
 public:
  static absl::StatusOr<TempDir> Create(const std::string& tag);
  TempDir() = default;
  TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TempDir& operator=(TempDir&& other) noexcept {
    std::swap(path_, other.path_);
    return *this;
  }
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A mount that is unmounted (lazily, if busy) on destruction.
class ScopedMount {
 public:
  static absl::StatusOr<ScopedMount> Mount(const std::string& source,
                                           const std::string& target,
                                           const std::string& fstype);
  ScopedMount() = default;
  ScopedMount(ScopedMount&& other) noexcept
      : target_(std::exchange(other.target_, {})) {}
  ~ScopedMount();
  absl::Status Unmount();

 private:
  explicit ScopedMount(std::string target) : target_(std::move(target)) {}
  std::string target_;
};

// Runs a program (busybox applet) and waits; OK if it exited 0.
absl::Status RunProgram(const std::vector<std::string>& argv);

// Direct I/O (O_DIRECT, 4 KiB-aligned buffers) on a block device path, so
// neither the dm device's nor the loop device's page cache hides what the
// kernel did. Offsets and lengths must be multiples of 512.
absl::StatusOr<std::string> ReadDirect(const std::string& path, uint64_t offset,
                                       size_t length);
absl::Status WriteDirect(const std::string& path, uint64_t offset,
                         const std::string& data);
// pread/pwrite on an open O_DIRECT descriptor.
absl::StatusOr<std::string> ReadDirectFd(int fd, uint64_t offset,
                                         size_t length);
absl::Status WriteDirectFd(int fd, uint64_t offset, const std::string& data);

// Deterministic, position-dependent bytes (no two 16-byte runs alike for
// different seeds/offsets in practice).
std::string Pattern(size_t length, uint32_t seed);

// /dev/dm-<minor>: the node devtmpfs makes at the first table load.
std::string DmNode(dmioctl::DevNum dev);
// /sys/block/dm-<minor>/<file>, without the trailing newline; nullopt when
// the file does not exist.
std::optional<std::string> SysBlock(dmioctl::DevNum dev,
                                    const std::string& file);
bool PathExists(const std::string& path);
// Reads a whole small file; nullopt when it cannot be opened.
std::optional<std::string> ReadFile(const std::string& path);
// Device size from BLKGETSIZE64, in sectors.
absl::StatusOr<uint64_t> BlockDeviceSectors(const std::string& path);

// Polls `predicate` every 10 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& predicate,
             std::chrono::milliseconds timeout);

// Milliseconds since `start`.
inline double MillisSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

// The process-wide DeviceMapper the tests share.
dmioctl::DeviceMapper& Dm();

// Table with one target.
inline dmioctl::Table OneTarget(dmioctl::Target target) {
  dmioctl::Table table;
  table.targets.push_back(std::move(target));
  return table;
}

// Removes every device whose name starts with `prefix`: resumes suspended
// ones first (a suspended holder would block its own removal), then removes
// in passes until nothing is left or no pass makes progress. Returns the
// names it could not remove.
std::vector<std::string> SweepDevices(dmioctl::DeviceMapper& dm,
                                      const std::string& prefix);

class DmVmTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  dmioctl::DeviceMapper& dm() { return Dm(); }
  // kNamePrefix + "<Suite>.<Test>" (shortened to fit) + "-" + suffix.
  std::string Name(const std::string& suffix) const;
  // A uuid unique to this test: "DMKVM-<Suite>.<Test>-" + suffix.
  std::string Uuid(const std::string& suffix) const;

  // CreateDevice() of Name(suffix) with `table` (empty: no table), owned
  // by the returned handle.
  absl::StatusOr<dmioctl::ScopedDevice> MakeDevice(
      const std::string& suffix, const dmioctl::Table& table,
      const dmioctl::CreateOptions& options = {});
  // A linear device over all of `loop`.
  absl::StatusOr<dmioctl::ScopedDevice> MakeLinear(const std::string& suffix,
                                                   const TempLoop& loop);

 private:
  std::string test_id_;
};

}  // namespace dmkit_vm

#endif  // DMKIT_TESTS_VM_VM_TEST_UTIL_H_
