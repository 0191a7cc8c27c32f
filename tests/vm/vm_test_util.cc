#include "vm_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace dmkit_vm {
namespace {

using dmioctl::DevNum;

struct FreeDeleter {
  void operator()(void* p) const { free(p); }
};
using AlignedBuffer = std::unique_ptr<char, FreeDeleter>;

AlignedBuffer Allocate(size_t length) {
  void* p = nullptr;
  if (posix_memalign(&p, 4096, std::max<size_t>(length, 4096)) != 0) {
    return nullptr;
  }
  return AlignedBuffer(static_cast<char*>(p));
}

}  // namespace

absl::StatusOr<Fd> Open(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return dmkit::ErrnoError(errno, absl::StrCat("open ", path));
  return Fd(fd);
}

// --- TempLoop ---------------------------------------------------------------

absl::StatusOr<TempLoop> TempLoop::Create(uint64_t bytes) {
  TempLoop loop;
  loop.bytes_ = bytes;
  loop.backing_ = Fd(memfd_create("dmkvm-loop", MFD_CLOEXEC));
  if (!loop.backing_.valid()) return dmkit::ErrnoError(errno, "memfd_create");
  if (ftruncate(loop.backing_.get(), static_cast<off_t>(bytes)) != 0) {
    return dmkit::ErrnoError(errno, "ftruncate backing file");
  }
  DMKIT_ASSIGN_OR_RETURN(Fd control, Open("/dev/loop-control", O_RDWR));
  for (int attempt = 0; attempt < 20; ++attempt) {
    int n = ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return dmkit::ErrnoError(errno, "LOOP_CTL_GET_FREE");
    std::string path = absl::StrCat("/dev/loop", n);
    absl::StatusOr<Fd> fd = Open(path, O_RDWR);
    if (!fd.ok()) {
      // devtmpfs makes the node as the device is added; give it a moment.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    loop_config config;
    memset(&config, 0, sizeof(config));
    config.fd = static_cast<uint32_t>(loop.backing_.get());
    config.block_size = 512;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
    snprintf(reinterpret_cast<char*>(config.info.lo_file_name),
             sizeof(config.info.lo_file_name), "dmkvm-memfd");
    int r = ioctl(fd->get(), LOOP_CONFIGURE, &config);
    if (r != 0 && (errno == EINVAL || errno == ENOTTY)) {
      // Kernels before 5.8: the two-step form.
      r = ioctl(fd->get(), LOOP_SET_FD, loop.backing_.get());
      if (r == 0) {
        loop_info64 info;
        memset(&info, 0, sizeof(info));
        info.lo_flags = LO_FLAGS_AUTOCLEAR;
        if (ioctl(fd->get(), LOOP_SET_STATUS64, &info) != 0) {
          int saved = errno;
          ioctl(fd->get(), LOOP_CLR_FD, 0);
          return dmkit::ErrnoError(saved,
                                   absl::StrCat("LOOP_SET_STATUS64 ", path));
        }
      }
    }
    if (r != 0) {
      if (errno == EBUSY) continue;  // someone else took it first
      return dmkit::ErrnoError(errno, absl::StrCat("LOOP_CONFIGURE ", path));
    }
    struct stat st;
    if (fstat(fd->get(), &st) != 0)
      return dmkit::ErrnoError(errno, "fstat loop");
    loop.dev_ = DevNum::FromDevT(st.st_rdev);
    loop.path_ = path;
    loop.loop_ = std::move(*fd);
    return loop;
  }
  return absl::ResourceExhaustedError("no free loop device after 20 tries");
}

TempLoop::~TempLoop() {
  if (loop_.valid()) {
    // With other openers (a leaked table) this only sets autoclear.
    ioctl(loop_.get(), LOOP_CLR_FD, 0);
  }
}

absl::StatusOr<std::string> TempLoop::ReadBacking(uint64_t offset,
                                                  size_t length) const {
  std::string data(length, '\0');
  ssize_t n =
      pread(backing_.get(), data.data(), length, static_cast<off_t>(offset));
  if (n < 0) return dmkit::ErrnoError(errno, "pread backing file");
  if (static_cast<size_t>(n) != length) {
    return absl::OutOfRangeError("short read of backing file");
  }
  return data;
}

absl::Status TempLoop::WriteBacking(uint64_t offset,
                                    const std::string& data) const {
  ssize_t n = pwrite(backing_.get(), data.data(), data.size(),
                     static_cast<off_t>(offset));
  if (n < 0) return dmkit::ErrnoError(errno, "pwrite backing file");
  if (static_cast<size_t>(n) != data.size()) {
    return absl::OutOfRangeError("short write of backing file");
  }
  return absl::OkStatus();
}

// --- TempDir, ScopedMount, RunProgram ---------------------------------------

absl::StatusOr<TempDir> TempDir::Create(const std::string& tag) {
  std::string templ = absl::StrCat("/tmp/dmkvm-", tag, "-XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    return dmkit::ErrnoError(errno, absl::StrCat("mkdtemp ", templ));
  }
  return TempDir(std::move(templ));
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  nftw(
      path_.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) {
        remove(path);
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

absl::StatusOr<ScopedMount> ScopedMount::Mount(const std::string& source,
                                               const std::string& target,
                                               const std::string& fstype) {
  if (mount(source.c_str(), target.c_str(), fstype.c_str(), 0, nullptr) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("mount ", source, " on ",
                                                 target, " (", fstype, ")"));
  }
  return ScopedMount(target);
}

absl::Status ScopedMount::Unmount() {
  if (target_.empty()) return absl::OkStatus();
  std::string target = std::exchange(target_, {});
  if (umount(target.c_str()) != 0) {
    int saved = errno;
    umount2(target.c_str(), MNT_DETACH);
    return dmkit::ErrnoError(saved, absl::StrCat("umount ", target));
  }
  return absl::OkStatus();
}

ScopedMount::~ScopedMount() { Unmount().IgnoreError(); }

absl::Status RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int r = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (r != 0) return dmkit::ErrnoError(r, absl::StrCat("spawn ", argv[0]));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return dmkit::ErrnoError(errno, "waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), ": exit status ", status));
  }
  return absl::OkStatus();
}

// --- Direct I/O -------------------------------------------------------------

absl::StatusOr<std::string> ReadDirectFd(int fd, uint64_t offset,
                                         size_t length) {
  AlignedBuffer buffer = Allocate(length);
  if (!buffer) return absl::ResourceExhaustedError("posix_memalign");
  ssize_t n = pread(fd, buffer.get(), length, static_cast<off_t>(offset));
  if (n < 0) return dmkit::ErrnoError(errno, absl::StrCat("pread at ", offset));
  if (static_cast<size_t>(n) != length) {
    return absl::OutOfRangeError(
        absl::StrCat("short read: ", n, " of ", length, " at ", offset));
  }
  return std::string(buffer.get(), length);
}

absl::Status WriteDirectFd(int fd, uint64_t offset, const std::string& data) {
  AlignedBuffer buffer = Allocate(data.size());
  if (!buffer) return absl::ResourceExhaustedError("posix_memalign");
  memcpy(buffer.get(), data.data(), data.size());
  ssize_t n = pwrite(fd, buffer.get(), data.size(), static_cast<off_t>(offset));
  if (n < 0)
    return dmkit::ErrnoError(errno, absl::StrCat("pwrite at ", offset));
  if (static_cast<size_t>(n) != data.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("short write: ", n, " of ", data.size(), " at ", offset));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadDirect(const std::string& path, uint64_t offset,
                                       size_t length) {
  DMKIT_ASSIGN_OR_RETURN(Fd fd, Open(path, O_RDONLY | O_DIRECT));
  return ReadDirectFd(fd.get(), offset, length);
}

absl::Status WriteDirect(const std::string& path, uint64_t offset,
                         const std::string& data) {
  DMKIT_ASSIGN_OR_RETURN(Fd fd, Open(path, O_WRONLY | O_DIRECT));
  return WriteDirectFd(fd.get(), offset, data);
}

std::string Pattern(size_t length, uint32_t seed) {
  std::string out(length, '\0');
  uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
  for (size_t i = 0; i < length; i += 8) {
    // splitmix64
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    memcpy(out.data() + i, &z, std::min<size_t>(8, length - i));
  }
  return out;
}

// --- Kernel views
// -------------------------------------------------------------

std::string DmNode(DevNum dev) { return absl::StrCat("/dev/dm-", dev.minor); }

std::optional<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char chunk[4096];
  ssize_t n;
  while ((n = read(fd, chunk, sizeof(chunk))) > 0) text.append(chunk, n);
  close(fd);
  return text;
}

std::optional<std::string> SysBlock(DevNum dev, const std::string& file) {
  std::optional<std::string> text =
      ReadFile(absl::StrCat("/sys/block/dm-", dev.minor, "/", file));
  if (text && !text->empty() && text->back() == '\n') text->pop_back();
  return text;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<uint64_t> BlockDeviceSectors(const std::string& path) {
  DMKIT_ASSIGN_OR_RETURN(Fd fd, Open(path, O_RDONLY));
  uint64_t bytes = 0;
  if (ioctl(fd.get(), BLKGETSIZE64, &bytes) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("BLKGETSIZE64 ", path));
  }
  return bytes / 512;
}

bool WaitFor(const std::function<bool()>& predicate,
             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (predicate()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

dmioctl::DeviceMapper& Dm() {
  static dmioctl::DeviceMapper* dm = [] {
    auto opened = dmioctl::DeviceMapper::Open("/dev");
    if (!opened.ok()) {
      fprintf(stderr, "cannot open device-mapper: %s\n",
              opened.status().ToString().c_str());
      std::abort();
    }
    return opened->release();
  }();
  return *dm;
}

// --- Sweep and fixture
// ------------------------------------------------------------

std::vector<std::string> SweepDevices(dmioctl::DeviceMapper& dm,
                                      const std::string& prefix) {
  std::vector<std::string> left;
  for (int pass = 0; pass < 8; ++pass) {
    auto listed = dm.ListDevices({.with_uuid = false, .name_prefix = prefix});
    left.clear();
    if (!listed.ok()) {
      left.push_back(
          absl::StrCat("(list failed: ", listed.status().ToString(), ")"));
      return left;
    }
    if (listed->empty()) return left;
    // A suspended device may be holding I/O of a device above it, and a
    // suspended pool blocks its thin devices: resume everything first.
    for (const dmioctl::DeviceListEntry& d : *listed) {
      auto ref = dmioctl::DeviceRef::ByName(d.name);
      auto info = dm.GetInfo(ref);
      if (info.ok() && info->suspended()) {
        dm.Resume(ref, {.noflush = true, .skip_lockfs = true}).IgnoreError();
      }
    }
    bool progress = false;
    for (const dmioctl::DeviceListEntry& d : *listed) {
      auto removed = dm.RemoveDevice(dmioctl::DeviceRef::ByName(d.name));
      if (removed.ok() || dmkit::ErrnoOf(removed.status()) == ENXIO) {
        progress = true;
      } else {
        left.push_back(d.name);
      }
      unlink(absl::StrCat("/dev/mapper/", d.name).c_str());
    }
    if (left.empty()) return left;
    if (!progress) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // Still open somewhere (a leaked descriptor): make it fail fast and go
  // away on its last close.
  for (const std::string& name : left) {
    auto ref = dmioctl::DeviceRef::ByName(name);
    dmioctl::WipeTable(dm, ref).IgnoreError();
    dm.RemoveDevice(ref, /*deferred=*/true).IgnoreError();
  }
  return left;
}

void DmVmTest::SetUp() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  test_id_ = absl::StrCat(info->test_suite_name(), ".", info->name());
  std::replace(test_id_.begin(), test_id_.end(), '/', '_');
  if (test_id_.size() > 80) test_id_.resize(80);
  std::vector<std::string> leftover = SweepDevices(dm(), kNamePrefix);
  ASSERT_TRUE(leftover.empty())
      << "devices left by an earlier test: " << absl::StrJoin(leftover, " ");
}

void DmVmTest::TearDown() {
  std::vector<std::string> leftover = SweepDevices(dm(), kNamePrefix);
  EXPECT_TRUE(leftover.empty())
      << "could not remove: " << absl::StrJoin(leftover, " ");
}

std::string DmVmTest::Name(const std::string& suffix) const {
  std::string name = absl::StrCat(kNamePrefix, test_id_, "-", suffix);
  if (name.size() > dmioctl::kMaxNameLength) {
    name.resize(dmioctl::kMaxNameLength);
  }
  return name;
}

std::string DmVmTest::Uuid(const std::string& suffix) const {
  std::string uuid = absl::StrCat("DMKVM-", test_id_, "-", suffix);
  if (uuid.size() > dmioctl::kMaxUuidLength) {
    uuid.resize(dmioctl::kMaxUuidLength);
  }
  return uuid;
}

absl::StatusOr<dmioctl::ScopedDevice> DmVmTest::MakeDevice(
    const std::string& suffix, const dmioctl::Table& table,
    const dmioctl::CreateOptions& options) {
  return dmioctl::ScopedDevice::Create(dm(), Name(suffix), table, options);
}

absl::StatusOr<dmioctl::ScopedDevice> DmVmTest::MakeLinear(
    const std::string& suffix, const TempLoop& loop) {
  return MakeDevice(suffix, OneTarget(dmioctl::targets::Linear(
                                0, loop.sectors(), loop.dev_string(), 0)));
}

}  // namespace dmkit_vm
