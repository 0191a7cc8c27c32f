// Events (DM_DEV_ARM_POLL + poll on the control fd, DM_DEV_WAIT) and
// suspend/resume with I/O in flight, noflush and lockfs.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmioctl::DeviceInfo;
using dmioctl::DeviceRef;
using dmioctl::ScopedDevice;
using dmioctl::Table;
using dmioctl::TableReply;
namespace targets = dmioctl::targets;

constexpr uint64_t kMiB = 1 << 20;

// poll() on the control fd: 1 if readable within `timeout_ms`.
int PollEvent(int fd, int timeout_ms) {
  pollfd pfd{fd, POLLIN, 0};
  int r = poll(&pfd, 1, timeout_ms);
  if (r > 0 && !(pfd.revents & POLLIN)) return -1;
  return r;
}

class Events : public DmVmTest {};

TEST_F(Events, ArmPollWakesOnCreateRenameAndRemove) {
  ASSERT_OK_AND_ASSIGN(auto watcher, dmioctl::DeviceMapper::Open());
  int fd = watcher->EventFd();
  ASSERT_GE(fd, 0);
  // open() takes the current global event number: nothing pending yet.
  EXPECT_EQ(PollEvent(fd, 0), 0);
  ASSERT_OK(watcher->ArmPoll());
  EXPECT_EQ(PollEvent(fd, 0), 0);

  ASSERT_OK(dm().CreateDevice({.name = Name("a")}));
  EXPECT_EQ(PollEvent(fd, 1000), 1) << "create";
  // Level-triggered: readable until re-armed.
  EXPECT_EQ(PollEvent(fd, 0), 1);
  ASSERT_OK(watcher->ArmPoll());
  EXPECT_EQ(PollEvent(fd, 0), 0);

  ASSERT_OK(dm().Rename(Name("a"), Name("b")));
  EXPECT_EQ(PollEvent(fd, 1000), 1) << "rename";
  ASSERT_OK(watcher->ArmPoll());
  EXPECT_EQ(PollEvent(fd, 0), 0);

  ASSERT_OK(dm().RemoveDevice(DeviceRef::ByName(Name("b"))));
  EXPECT_EQ(PollEvent(fd, 1000), 1) << "remove";
  ASSERT_OK(watcher->ArmPoll());
  EXPECT_EQ(PollEvent(fd, 0), 0);
}

// dm_swap_table issues a global event; suspend, resume without a new table
// and load do not, and none of them moves the device's event_nr.
TEST_F(Events, TableSwapIsAGlobalEventWhileSuspendResumeAndLoadAreNot) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo before, dm().GetInfo(ref));
  ASSERT_OK_AND_ASSIGN(auto watcher, dmioctl::DeviceMapper::Open());
  int fd = watcher->EventFd();
  ASSERT_OK(watcher->ArmPoll());

  ASSERT_OK(dm().Suspend(ref));
  ASSERT_OK(dm().Resume(ref));
  ASSERT_OK(dm().LoadTable(ref, OneTarget(targets::Zero(0, 128))));
  EXPECT_EQ(PollEvent(fd, 200), 0) << "suspend, resume or load was an event";
  ASSERT_OK_AND_ASSIGN(DeviceInfo loaded, dm().GetInfo(ref));
  EXPECT_EQ(loaded.event_nr, before.event_nr);

  ASSERT_OK(dm().Resume(ref));  // swaps in the 128-sector table
  EXPECT_EQ(PollEvent(fd, 1000), 1) << "table swap";
  ASSERT_OK_AND_ASSIGN(DeviceInfo swapped, dm().GetInfo(ref));
  EXPECT_EQ(swapped.event_nr, before.event_nr);
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "128");
}

TEST_F(Events, DevWaitWakesOnARenameFromAnotherThread) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64)),
                                  {.uuid = Uuid("a")}));
  dev.Release();
  ScopedDevice guard(&dm(), Name("b"), nullptr);
  ASSERT_OK_AND_ASSIGN(DeviceInfo before, dm().GetInfo(DeviceRef::ByUuid(Uuid("a"))));

  std::atomic<bool> woke{false};
  absl::StatusOr<TableReply> waited = absl::UnknownError("not run");
  std::thread waiter([&] {
    // By uuid, so the lookup works on either side of the rename.
    waited = dm().WaitEvent(DeviceRef::ByUuid(Uuid("a")), before.event_nr);
    woke = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(woke.load());
  ASSERT_OK(dm().Rename(Name("a"), Name("b")));
  bool returned = WaitFor([&] { return woke.load(); }, std::chrono::seconds(5));
  if (!returned) {
    // Unblock the waiter before failing: another event on the device.
    dm().Rename(Name("b"), Name("a")).IgnoreError();
    dm().Rename(Name("a"), Name("b")).IgnoreError();
  }
  waiter.join();
  ASSERT_TRUE(returned);
  ASSERT_OK(waited);
  EXPECT_EQ(waited->info.event_nr, before.event_nr + 1);
  EXPECT_EQ(waited->info.dev, before.dev);
  ASSERT_EQ(waited->targets.size(), 1u);
  EXPECT_EQ(waited->targets[0].type, "zero");
}

TEST_F(Events, DevWaitReturnsAtOnceForAStaleEventNumber) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK(dm().Rename(Name("a"), Name("a2")));
  ASSERT_OK(dm().Rename(Name("a2"), Name("a")));
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(TableReply reply,
                       dm().WaitEvent(DeviceRef::ByName(dev.name()), 0));
  EXPECT_LT(MillisSince(start), 1000);
  EXPECT_EQ(reply.info.event_nr, 2u);
  EXPECT_EQ(reply.info.name, dev.name());
}

void IgnoreSignal(int) {}

TEST_F(Events, DevWaitSleepsThroughSuspendResumeLoadAndClearAndIsInterruptible) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo before, dm().GetInfo(ref));

  struct sigaction action {};
  action.sa_handler = IgnoreSignal;  // no SA_RESTART: the ioctl sees EINTR
  struct sigaction old {};
  ASSERT_EQ(sigaction(SIGUSR1, &action, &old), 0);

  std::atomic<bool> woke{false};
  absl::StatusOr<TableReply> waited = absl::UnknownError("not run");
  std::thread waiter([&] {
    waited = dm().WaitEvent(ref, before.event_nr);
    woke = true;
  });
  ASSERT_OK(dm().Suspend(ref));
  ASSERT_OK(dm().Resume(ref));
  ASSERT_OK(dm().LoadTable(ref, OneTarget(targets::Zero(0, 32))));
  ASSERT_OK(dm().ClearTable(ref));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(woke.load()) << "woken without a table event";

  // A signal ends the wait with EINTR. Repeat it in case the first one
  // arrived before the thread was inside the ioctl.
  for (int i = 0; i < 50 && !woke.load(); ++i) {
    pthread_kill(waiter.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  bool returned = woke.load();
  if (!returned) {
    dm().Rename(dev.name(), Name("b")).IgnoreError();  // last resort
  }
  waiter.join();
  sigaction(SIGUSR1, &old, nullptr);
  ASSERT_TRUE(returned);
  EXPECT_ERRNO(waited, EINTR);
}

// --- Suspend and resume with I/O ---------------------------------------------

class Suspend : public DmVmTest {};

// I/O that is in flight when the suspend starts completes (the suspend waits
// for it); I/O issued while suspended is held until the resume.
TEST_F(Suspend, InFlightIoCompletesAndNewIoWaitsForResume) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(8192, 60)));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("delay", OneTarget(targets::Delay(0, loop.sectors(),
                                                   loop.dev_string(), 0, 1000))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  std::string node = DmNode(dev.dev());

  std::atomic<bool> first_done{false};
  absl::StatusOr<std::string> first = absl::UnknownError("not run");
  std::thread reader([&] {
    first = ReadDirect(node, 0, 4096);
    first_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_FALSE(first_done.load()) << "the 1 s delay did not hold the read";
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(DeviceInfo suspended, dm().Suspend(ref));
  double suspend_ms = MillisSince(start);
  EXPECT_TRUE(suspended.suspended());
  // Completed while the device is still suspended.
  EXPECT_TRUE(WaitFor([&] { return first_done.load(); }, std::chrono::seconds(3)));

  std::atomic<bool> second_done{false};
  absl::StatusOr<std::string> second = absl::UnknownError("not run");
  std::thread reader2([&] {
    second = ReadDirect(node, 4096, 4096);
    second_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(second_done.load()) << "I/O passed a suspended device";
  EXPECT_EQ(SysBlock(dev.dev(), "dm/suspended"), "1");
  ASSERT_OK(dm().Resume(ref));
  EXPECT_TRUE(WaitFor([&] { return second_done.load(); }, std::chrono::seconds(5)));
  reader.join();
  reader2.join();
  ASSERT_OK(first);
  EXPECT_EQ(*first, Pattern(8192, 60).substr(0, 4096));
  ASSERT_OK(second);
  EXPECT_EQ(*second, Pattern(8192, 60).substr(4096, 4096));
  printf("[dmkvm] suspend with a delayed read in flight took %.0f ms\n", suspend_ms);
}

TEST_F(Suspend, NoflushSuspendHoldsWritesUntilResume) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeLinear("a", loop));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo suspended,
                       dm().Suspend(ref, {.noflush = true}));
  EXPECT_TRUE(suspended.suspended());
  std::atomic<bool> done{false};
  absl::Status written = absl::UnknownError("not run");
  std::thread writer([&] {
    written = WriteDirect(DmNode(dev.dev()), 0, Pattern(4096, 61));
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(done.load());
  ASSERT_OK_AND_ASSIGN(std::string backing, loop.ReadBacking(0, 4096));
  EXPECT_EQ(backing, std::string(4096, '\0'));
  ASSERT_OK(dm().Resume(ref, {.noflush = true}));
  EXPECT_TRUE(WaitFor([&] { return done.load(); }, std::chrono::seconds(5)));
  writer.join();
  ASSERT_OK(written);
  ASSERT_OK_AND_ASSIGN(std::string landed, loop.ReadBacking(0, 4096));
  EXPECT_EQ(landed, Pattern(4096, 61));
}

// A plain suspend freezes a filesystem mounted on the device (lock_fs), so a
// write(2) into it blocks until resume; with DM_SKIP_LOCKFS_FLAG it does
// not (the page cache takes the write).
TEST_F(Suspend, LockfsFreezesAMountedFilesystemAndSkipLockfsDoesNot) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(16 * kMiB));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeLinear("fs", loop));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  std::string node = DmNode(dev.dev());
  ASSERT_OK(RunProgram({"mke2fs", "-q", node}));
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("mnt"));
  ASSERT_OK_AND_ASSIGN(ScopedMount mount, ScopedMount::Mount(node, dir.path(), "ext4"));
  std::string file = dir.path() + "/f";
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(file, O_RDWR | O_CREAT));
  std::string block = Pattern(4096, 62);
  ASSERT_EQ(pwrite(fd.get(), block.data(), block.size(), 0), 4096);
  ASSERT_EQ(fsync(fd.get()), 0);

  auto write_in_thread = [&](std::atomic<bool>& done) {
    return std::thread([&fd, &done] {
      std::string data = Pattern(4096, 63);
      pwrite(fd.get(), data.data(), data.size(), 0);
      done = true;
    });
  };

  ASSERT_OK(dm().Suspend(ref, {.skip_lockfs = true}));
  std::atomic<bool> unfrozen_done{false};
  std::thread w1 = write_in_thread(unfrozen_done);
  bool unfrozen_ok = WaitFor([&] { return unfrozen_done.load(); },
                             std::chrono::seconds(3));
  ASSERT_OK(dm().Resume(ref));
  w1.join();
  EXPECT_TRUE(unfrozen_ok) << "write blocked although lockfs was skipped";
  ASSERT_EQ(fsync(fd.get()), 0);

  ASSERT_OK(dm().Suspend(ref));
  std::atomic<bool> frozen_done{false};
  std::thread w2 = write_in_thread(frozen_done);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  bool blocked = !frozen_done.load();
  ASSERT_OK(dm().Resume(ref));
  bool finished = WaitFor([&] { return frozen_done.load(); }, std::chrono::seconds(5));
  w2.join();
  EXPECT_TRUE(blocked) << "write went through a frozen filesystem";
  EXPECT_TRUE(finished);

  fd.Close();
  ASSERT_OK(mount.Unmount());
}

}  // namespace
}  // namespace dmkit_vm
