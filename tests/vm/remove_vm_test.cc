// Removal of busy devices: EBUSY, retries, deferred remove, forced remove,
// holders, remove_all.
#include <fcntl.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmkit::ErrnoOf;

class Remove : public DmVmTest {};

TEST_F(Remove, AnOpenDeviceIsEbusyAndOpenCountSaysWhy) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY));
  absl::StatusOr<DeviceInfo> removed = dm().RemoveDevice(ref);
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(ErrnoOf(removed.status()), EBUSY) << removed.status();
  auto error = dmioctl::GetIoctlErrorInfo(removed.status());
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->operation, "remove");
  EXPECT_EQ(error->ioctl_name, "DM_DEV_REMOVE");
  EXPECT_EQ(error->name, dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(ref));
  EXPECT_EQ(info.open_count, 1);
  EXPECT_TRUE(PathExists(DmNode(dev.dev())));
  fd.Close();
  EXPECT_OK(dm().RemoveDevice(ref));
  dev.Release();
}

TEST_F(Remove, RetriesSucceedOnceTheOpenerCloses) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY));
  // No retries: the first EBUSY is the answer.
  EXPECT_ERRNO(dmioctl::RemoveDevice(dm(), ref), EBUSY);

  std::vector<int> attempts;
  auto removed =
      dmioctl::RemoveDevice(dm(), ref,
                            {.retries = 5,
                             .retry_delay = std::chrono::milliseconds(20),
                             .on_retry = [&](int attempt, const absl::Status&) {
                               attempts.push_back(attempt);
                               fd.Close();
                             }});
  ASSERT_OK(removed);
  dev.Release();
  EXPECT_EQ(attempts, std::vector<int>{1});
  EXPECT_EQ(removed->name, dev.name());
  EXPECT_ERRNO(dm().GetInfo(ref), ENXIO);
}

TEST_F(Remove, RetriesGiveUpWithEbusy) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY));
  int calls = 0;
  EXPECT_ERRNO(dmioctl::RemoveDevice(
                   dm(), DeviceRef::ByName(dev.name()),
                   {.retries = 3,
                    .retry_delay = std::chrono::milliseconds(10),
                    .on_retry = [&](int, const absl::Status&) { ++calls; }}),
               EBUSY);
  EXPECT_EQ(calls, 3);
}

TEST_F(Remove, DeferredRemoveHappensOnTheLastClose) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(Fd one, Open(DmNode(dev.dev()), O_RDONLY));
  ASSERT_OK_AND_ASSIGN(Fd two, Open(DmNode(dev.dev()), O_RDONLY));
  ASSERT_OK_AND_ASSIGN(DeviceInfo marked,
                       dm().RemoveDevice(ref, /*deferred=*/true));
  EXPECT_TRUE(marked.deferred_remove());
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(ref));
  EXPECT_TRUE(info.deferred_remove());
  EXPECT_EQ(info.open_count, 2);
  one.Close();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_OK(dm().GetInfo(ref)) << "removed before the last close";
  two.Close();
  EXPECT_TRUE(
      WaitFor([&] { return ErrnoOf(dm().GetInfo(ref).status()) == ENXIO; },
              std::chrono::seconds(5)));
  // The name goes first (__hash_remove on the kdmremove workqueue), the
  // disk a little later (dm_destroy -> del_gendisk).
  EXPECT_TRUE(WaitFor([&] { return !PathExists(DmNode(dev.dev())); },
                      std::chrono::seconds(5)));
  dev.Release();
}

TEST_F(Remove, CancelDeferredRemoveKeepsTheDevice) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY));
  ASSERT_OK(dm().RemoveDevice(ref, /*deferred=*/true));
  ASSERT_OK_AND_ASSIGN(std::string out,
                       dm().SendMessage(ref, 0, "@cancel_deferred_remove"));
  EXPECT_EQ(out, "");
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(ref));
  EXPECT_FALSE(info.deferred_remove());
  fd.Close();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_OK(dm().GetInfo(ref));
}

TEST_F(Remove, ForceOnABusyDeviceLeavesAnErrorTableOfTheSameLength) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 70)));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeLinear("a", loop));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY | O_DIRECT));
  ASSERT_OK_AND_ASSIGN(std::string before, ReadDirectFd(fd.get(), 0, 4096));
  EXPECT_EQ(before, Pattern(4096, 70));

  EXPECT_ERRNO(dmioctl::RemoveDevice(dm(), ref, {.force = true}), EBUSY);
  ASSERT_OK_AND_ASSIGN(TableReply table, dm().GetTable(ref));
  ASSERT_EQ(table.targets.size(), 1u);
  EXPECT_EQ(table.targets[0],
            (dmioctl::Target{0, loop.sectors(), "error", ""}));
  EXPECT_FALSE(table.info.suspended());
  EXPECT_FALSE(table.info.inactive_table());
  // The holder's I/O now fails at once.
  EXPECT_ERRNO(ReadDirectFd(fd.get(), 0, 4096), EIO);
  // The loop device is no longer held.
  ASSERT_OK_AND_ASSIGN(dmioctl::DepsReply deps, dm().GetDeps(ref));
  EXPECT_TRUE(deps.devices.empty());
  fd.Close();
  EXPECT_OK(dmioctl::RemoveDevice(dm(), ref, {.force = true}));
  dev.Release();
}

TEST_F(Remove, ADeviceUsedByAnotherTableIsBusy) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice lower,
                       MakeDevice("lower", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice upper,
      MakeDevice("upper",
                 OneTarget(targets::Linear(0, 64, lower.dev().ToString(), 0))));
  DeviceRef lower_ref = DeviceRef::ByName(lower.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(lower_ref));
  EXPECT_EQ(info.open_count, 1);
  EXPECT_TRUE(PathExists(absl::StrCat("/sys/block/dm-", lower.dev().minor,
                                      "/holders/dm-", upper.dev().minor)));
  EXPECT_ERRNO(dm().RemoveDevice(lower_ref), EBUSY);
  EXPECT_OK(upper.Remove());
  EXPECT_OK(lower.Remove());
}

TEST_F(Remove, RemoveAllTakesEveryUnopenedDeviceAndDefersTheRest) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice busy,
                       MakeDevice("busy", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK_AND_ASSIGN(ScopedDevice idle,
                       MakeDevice("idle", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK_AND_ASSIGN(ScopedDevice bare, MakeDevice("bare", Table()));
  ASSERT_OK_AND_ASSIGN(ScopedDevice lower,
                       MakeDevice("lower", OneTarget(targets::Zero(0, 64))));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice upper,
      MakeDevice("upper",
                 OneTarget(targets::Linear(0, 64, lower.dev().ToString(), 0))));
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(busy.dev()), O_RDONLY));

  ASSERT_OK(dm().RemoveAll());
  // It repeats until no progress, so the stack goes too (upper, then lower).
  ASSERT_OK_AND_ASSIGN(auto left, dm().ListDevices({.name_prefix = Name("")}));
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].name, busy.name());
  for (ScopedDevice* d : {&idle, &bare, &lower, &upper}) d->Release();

  ASSERT_OK(dm().RemoveAll(/*deferred=*/true));
  ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                       dm().GetInfo(DeviceRef::ByName(busy.name())));
  EXPECT_TRUE(info.deferred_remove());
  fd.Close();
  EXPECT_TRUE(WaitFor(
      [&] {
        return ErrnoOf(dm().GetInfo(DeviceRef::ByName(busy.name())).status()) ==
               ENXIO;
      },
      std::chrono::seconds(5)));
  busy.Release();
}

TEST_F(Remove, ScopedDeviceRemovesOnDestructionUnlessReleased) {
  std::string kept;
  {
    ASSERT_OK_AND_ASSIGN(ScopedDevice gone,
                         MakeDevice("gone", OneTarget(targets::Zero(0, 8))));
    ASSERT_OK_AND_ASSIGN(ScopedDevice stays,
                         MakeDevice("stays", OneTarget(targets::Zero(0, 8))));
    kept = stays.Release();
  }
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("gone"))), ENXIO);
  EXPECT_OK(dm().GetInfo(DeviceRef::ByName(kept)));
  EXPECT_OK(dm().RemoveDevice(DeviceRef::ByName(kept)));
}

}  // namespace
}  // namespace dmkit_vm
