// Events (DM_DEV_ARM_POLL + poll on the control fd, DM_DEV_WAIT) and
// suspend/resume with I/O in flight, noflush and lockfs.
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

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
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("a", OneTarget(targets::Zero(0, 64)), {.uuid = Uuid("a")}));
  dev.Release();
  ScopedDevice guard(&dm(), Name("b"), nullptr);
  ASSERT_OK_AND_ASSIGN(DeviceInfo before,
                       dm().GetInfo(DeviceRef::ByUuid(Uuid("a"))));

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

TEST_F(Events,
       DevWaitSleepsThroughSuspendResumeLoadAndClearAndIsInterruptible) {
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

// Kernel uevents (NETLINK_KOBJECT_UEVENT), the kernel's own record of
// what DM_UEVENT_GENERATED_FLAG claims.
class UeventListener {
 public:
  static absl::StatusOr<UeventListener> Open() {
    UeventListener l;
    l.fd_ = Fd(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
                      NETLINK_KOBJECT_UEVENT));
    if (!l.fd_.valid()) return dmkit::ErrnoError(errno, "uevent socket");
    int size = 4 << 20;
    setsockopt(l.fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = 1;  // kernel events
    if (bind(l.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) !=
        0) {
      return dmkit::ErrnoError(errno, "bind uevent socket");
    }
    return l;
  }
  // The actions ("add", "change", ...) of the uevents for block device
  // dm-<minor>: waits up to `wait_ms` for `expected` of them, then 200 ms
  // more for any extra one.
  std::vector<std::string> Take(uint32_t minor, size_t expected,
                                int wait_ms = 5000) {
    std::vector<std::string> events;
    std::string suffix = absl::StrCat("/block/dm-", minor);
    auto now = [] { return std::chrono::steady_clock::now(); };
    auto deadline =
        now() + std::chrono::milliseconds(expected == 0 ? 300 : wait_ms);
    bool extra = false;
    for (;;) {
      if (!extra && events.size() >= expected && expected > 0) {
        deadline = now() + std::chrono::milliseconds(200);
        extra = true;
      }
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                now())
              .count());
      if (left <= 0) break;
      pollfd pfd{fd_.get(), POLLIN, 0};
      if (poll(&pfd, 1, left) <= 0) continue;
      char buffer[8192];
      ssize_t n = recv(fd_.get(), buffer, sizeof(buffer) - 1, 0);
      if (n <= 0) continue;
      buffer[n] = '\0';
      std::string header(buffer);  // "action@devpath"
      if (absl::EndsWith(header, suffix))
        events.push_back(header.substr(0, header.find('@')));
    }
    return events;
  }

 private:
  Fd fd_;
};

// Uevents follow the gendisk, which exists only from the first table load
// on: create sends none; a rename of a device that never had a table sends
// none either, and its reply says so (the reference notes left this open).
TEST_F(Events, UeventsFollowTheDiskAndTheFlagReportsThem) {
  ASSERT_OK_AND_ASSIGN(UeventListener uevents, UeventListener::Open());
  ASSERT_OK_AND_ASSIGN(dmioctl::DeviceInfo created,
                       dm().CreateDevice({.name = Name("a")}));
  ScopedDevice guard(&dm(), Name("c"), nullptr);
  const uint32_t minor = created.dev.minor;
  EXPECT_EQ(uevents.Take(minor, 0), std::vector<std::string>{});

  ASSERT_OK_AND_ASSIGN(DeviceInfo renamed, dm().Rename(Name("a"), Name("b")));
  EXPECT_FALSE(renamed.uevent_generated());
  EXPECT_EQ(renamed.event_nr, 0u);  // no live table, no table event
  EXPECT_EQ(uevents.Take(minor, 0), std::vector<std::string>{});

  DeviceRef ref = DeviceRef::ByName(Name("b"));
  ASSERT_OK(dm().LoadTable(ref, OneTarget(targets::Zero(0, 64))));
  EXPECT_EQ(uevents.Take(minor, 1), std::vector<std::string>{"add"});
  // Loaded, not yet live: the rename now has a disk to send "change" for,
  // still without a table event.
  ASSERT_OK_AND_ASSIGN(DeviceInfo renamed2, dm().Rename(Name("b"), Name("c")));
  EXPECT_TRUE(renamed2.uevent_generated());
  EXPECT_EQ(renamed2.event_nr, 0u);
  EXPECT_EQ(uevents.Take(minor, 1), std::vector<std::string>{"change"});
  ref = DeviceRef::ByName(Name("c"));

  ASSERT_OK_AND_ASSIGN(DeviceInfo resumed, dm().Resume(ref));
  EXPECT_TRUE(resumed.uevent_generated());
  EXPECT_EQ(uevents.Take(minor, 1), std::vector<std::string>{"change"});
  ASSERT_OK_AND_ASSIGN(DeviceInfo suspended, dm().Suspend(ref));
  EXPECT_FALSE(suspended.uevent_generated());
  EXPECT_EQ(uevents.Take(minor, 0), std::vector<std::string>{});
  ASSERT_OK(dm().Resume(ref));
  EXPECT_EQ(uevents.Take(minor, 1), std::vector<std::string>{"change"});
  // A resume with nothing to do sends nothing.
  ASSERT_OK_AND_ASSIGN(DeviceInfo noop, dm().Resume(ref));
  EXPECT_FALSE(noop.uevent_generated());
  EXPECT_EQ(uevents.Take(minor, 0), std::vector<std::string>{});

  ASSERT_OK_AND_ASSIGN(DeviceInfo removed, dm().RemoveDevice(ref));
  guard.Release();
  EXPECT_TRUE(removed.uevent_generated());
  // Two: dev_remove's own KOBJ_REMOVE (the one the flag reports, carrying
  // the cookie), then device_del's in del_gendisk.
  EXPECT_EQ(uevents.Take(minor, 2),
            (std::vector<std::string>{"remove", "remove"}));

  // Removing a device that never had a disk: no uevent, flag clear.
  ASSERT_OK_AND_ASSIGN(dmioctl::DeviceInfo bare,
                       dm().CreateDevice({.name = Name("d")}));
  ASSERT_OK_AND_ASSIGN(DeviceInfo bare_removed,
                       dm().RemoveDevice(DeviceRef::ByName(Name("d"))));
  EXPECT_FALSE(bare_removed.uevent_generated());
  EXPECT_EQ(uevents.Take(bare.dev.minor, 0), std::vector<std::string>{});
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
      MakeDevice("delay", OneTarget(targets::Delay(
                              0, loop.sectors(), loop.dev_string(), 0, 1000))));
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
  EXPECT_TRUE(
      WaitFor([&] { return first_done.load(); }, std::chrono::seconds(3)));

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
  EXPECT_TRUE(
      WaitFor([&] { return second_done.load(); }, std::chrono::seconds(5)));
  reader.join();
  reader2.join();
  ASSERT_OK(first);
  EXPECT_EQ(*first, Pattern(8192, 60).substr(0, 4096));
  ASSERT_OK(second);
  EXPECT_EQ(*second, Pattern(8192, 60).substr(4096, 4096));
  printf("[dmkvm] suspend with a delayed read in flight took %.0f ms\n",
         suspend_ms);
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
  ASSERT_OK_AND_ASSIGN(ScopedMount mount,
                       ScopedMount::Mount(node, dir.path(), "ext4"));
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
  bool unfrozen_ok =
      WaitFor([&] { return unfrozen_done.load(); }, std::chrono::seconds(3));
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
  bool finished =
      WaitFor([&] { return frozen_done.load(); }, std::chrono::seconds(5));
  w2.join();
  EXPECT_TRUE(blocked) << "write went through a frozen filesystem";
  EXPECT_TRUE(finished);

  fd.Close();
  ASSERT_OK(mount.Unmount());
}

}  // namespace
}  // namespace dmkit_vm
