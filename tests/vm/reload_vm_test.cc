// ReloadTable: table swaps that work (growing a linear device and a
// thin-pool) and the two ways a swap can fail in the kernel, at bind time
// and in a target's preresume, after both of which the old table must still
// be live and the device running.
#include <fcntl.h>

#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

class Reload : public DmVmTest {};

TEST_F(Reload, GrowingALinearDeviceShowsTheNewSize) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(2 * kMiB));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Linear(
                                           0, 1024, loop.dev_string(), 0))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK(WriteDirect(DmNode(dev.dev()), 0, Pattern(4096, 90)));
  // Without resume the table only waits in the inactive slot.
  ASSERT_OK_AND_ASSIGN(
      DeviceInfo loaded,
      dmioctl::ReloadTable(
          dm(), ref, OneTarget(targets::Linear(0, 4096, loop.dev_string(), 0)),
          /*resume=*/false));
  EXPECT_TRUE(loaded.inactive_table());
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "1024");
  ASSERT_OK_AND_ASSIGN(
      DeviceInfo resumed,
      dmioctl::ReloadTable(
          dm(), ref, OneTarget(targets::Linear(0, 4096, loop.dev_string(), 0)),
          /*resume=*/true, {.skip_lockfs = true}));
  EXPECT_FALSE(resumed.suspended());
  EXPECT_FALSE(resumed.inactive_table());
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "4096");
  ASSERT_OK_AND_ASSIGN(uint64_t sectors, BlockDeviceSectors(DmNode(dev.dev())));
  EXPECT_EQ(sectors, 4096u);
  ASSERT_OK_AND_ASSIGN(std::string kept,
                       ReadDirect(DmNode(dev.dev()), 0, 4096));
  EXPECT_EQ(kept, Pattern(4096, 90));
}

// A table that maps past the end of its device loads fine into the inactive
// slot (later loads are not checked against the device size), and the
// kernel refuses it when resume binds it.
TEST_F(Reload, ATableTheKernelRefusesAtBindLeavesTheOldTableRunning) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeLinear("a", loop));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 91)));
  Table too_big =
      OneTarget(targets::Linear(0, 2 * loop.sectors(), loop.dev_string(), 0));
  auto reloaded = dmioctl::ReloadTable(dm(), ref, too_big, /*resume=*/true);
  EXPECT_ERRNO(reloaded, EINVAL);
  ASSERT_OK_AND_ASSIGN(TableReply live, dm().GetTable(ref));
  EXPECT_FALSE(live.info.suspended());
  EXPECT_FALSE(live.info.inactive_table());
  ASSERT_EQ(live.targets.size(), 1u);
  EXPECT_EQ(live.targets[0].length, loop.sectors());
  EXPECT_EQ(SysBlock(dev.dev(), "dm/suspended"), "0");
  ASSERT_OK_AND_ASSIGN(std::string data,
                       ReadDirect(DmNode(dev.dev()), 0, 4096));
  EXPECT_EQ(data, Pattern(4096, 91));
}

class ReloadThinPool : public DmVmTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DmVmTest::SetUp());
    ASSERT_OK_AND_ASSIGN(meta_, TempLoop::Create(4 * kMiB));
    ASSERT_OK_AND_ASSIGN(data_, TempLoop::Create(32 * kMiB));
  }
  Table PoolTable(uint64_t sectors) const {
    return OneTarget(targets::ThinPool(0, sectors, meta_.dev_string(),
                                       data_.dev_string(),
                                       {.data_block_sectors = 128}));
  }
  absl::StatusOr<targets::ThinPoolStatus> Status(const std::string& name) {
    DMKIT_ASSIGN_OR_RETURN(
        TableReply reply,
        dm().GetStatus(DeviceRef::ByName(name), {.noflush = true}));
    return targets::ParseThinPoolStatus(reply.targets.at(0).params);
  }

  TempLoop meta_;
  TempLoop data_;
};

TEST_F(ReloadThinPool, GrowingThePoolAddsDataBlocks) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice pool,
                       MakeDevice("pool", PoolTable(data_.sectors() / 2)));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus small, Status(pool.name()));
  EXPECT_EQ(small.total_data_blocks, 256u);
  ASSERT_OK(dmioctl::ReloadTable(dm(), DeviceRef::ByName(pool.name()),
                                 PoolTable(data_.sectors()), /*resume=*/true));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus grown, Status(pool.name()));
  EXPECT_EQ(grown.total_data_blocks, 512u);
}

// Shrinking a pool passes the bind and fails in the pool's preresume
// ("pool target too small"): by then the kernel has swapped the tables and
// destroyed the old one, and the device is left suspended. ReloadTable must
// still leave the old table live and the pool (and its thin device) running.
TEST_F(ReloadThinPool, AShrinkRefusedInPreresumeLeavesTheOldTableRunning) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice pool,
                       MakeDevice("pool", PoolTable(data_.sectors())));
  DeviceRef pool_ref = DeviceRef::ByName(pool.name());
  ASSERT_OK(dm().SendMessage(pool_ref, 0, "create_thin 0"));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice thin,
      MakeDevice("thin",
                 OneTarget(targets::Thin(0, 8192, pool.dev().ToString(), 0))));
  ASSERT_OK(WriteDirect(DmNode(thin.dev()), 0, Pattern(64 * 1024, 92)));

  auto shrunk =
      dmioctl::ReloadTable(dm(), pool_ref, PoolTable(data_.sectors() / 2),
                           /*resume=*/true);
  EXPECT_ERRNO(shrunk, EINVAL);

  ASSERT_OK_AND_ASSIGN(TableReply live, dm().GetTable(pool_ref));
  if (live.info.suspended()) {
    // Put the pool back by hand so that the cleanup does not hang on the
    // thin device, then fail.
    dm().LoadTable(pool_ref, PoolTable(data_.sectors())).IgnoreError();
    dm().Resume(pool_ref).IgnoreError();
    FAIL() << "the pool was left suspended with a table of "
           << live.targets.at(0).length << " sectors";
  }
  EXPECT_FALSE(live.info.inactive_table());
  ASSERT_EQ(live.targets.size(), 1u);
  EXPECT_EQ(live.targets[0].length, data_.sectors()) << "the old table is gone";
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s, Status(pool.name()));
  EXPECT_EQ(s.total_data_blocks, 512u);
  EXPECT_EQ(s.mode, "rw");
  ASSERT_OK_AND_ASSIGN(DeviceInfo thin_info,
                       dm().GetInfo(DeviceRef::ByName(thin.name())));
  EXPECT_FALSE(thin_info.suspended());
  EXPECT_FALSE(thin_info.internal_suspend());
  // The thin device still serves I/O (it would hang on a suspended pool).
  ASSERT_OK(
      WriteDirect(DmNode(thin.dev()), 128 * 1024, Pattern(64 * 1024, 93)));
  ASSERT_OK_AND_ASSIGN(std::string back,
                       ReadDirect(DmNode(thin.dev()), 0, 64 * 1024));
  EXPECT_EQ(back, Pattern(64 * 1024, 92));
}

}  // namespace
}  // namespace dmkit_vm
