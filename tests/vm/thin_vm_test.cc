// thin-pool and thin on loop devices: messages, their errnos, status parsed
// into numbers, thin devices written and read back, snapshots, the low water
// mark event.
#include <fcntl.h>
#include <poll.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

constexpr uint64_t kBlockSectors = 128;  // 64 KiB data blocks
constexpr uint64_t kDataBytes = 64 * kMiB;
constexpr uint64_t kDataBlocks = kDataBytes / (kBlockSectors * 512);  // 1024
constexpr uint64_t kMetaBytes = 8 * kMiB;
constexpr uint64_t kThinSectors = 32 * kMiB / 512;

class ThinPool : public DmVmTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DmVmTest::SetUp());
    ASSERT_OK_AND_ASSIGN(meta_, TempLoop::Create(kMetaBytes));
    ASSERT_OK_AND_ASSIGN(data_, TempLoop::Create(kDataBytes));
    ASSERT_OK_AND_ASSIGN(pool_, MakeDevice("pool", PoolTable({})));
  }

  Table PoolTable(const targets::ThinPoolOptions& options) const {
    targets::ThinPoolOptions o = options;
    o.data_block_sectors = kBlockSectors;
    return OneTarget(targets::ThinPool(0, data_.sectors(), meta_.dev_string(),
                                       data_.dev_string(), o));
  }
  DeviceRef pool_ref() const { return DeviceRef::ByName(pool_.name()); }

  absl::Status Message(const std::string& message) {
    return dm().SendMessage(pool_ref(), 0, message).status();
  }
  absl::StatusOr<targets::ThinPoolStatus> PoolStatus(bool noflush = true) {
    DMKIT_ASSIGN_OR_RETURN(TableReply reply,
                           dm().GetStatus(pool_ref(), {.noflush = noflush}));
    if (reply.targets.size() != 1) return absl::InternalError("not one target");
    return targets::ParseThinPoolStatus(reply.targets[0].params);
  }
  absl::StatusOr<targets::ThinStatus> ThinStatus(const std::string& name) {
    DMKIT_ASSIGN_OR_RETURN(TableReply reply,
                           dm().GetStatus(DeviceRef::ByName(name)));
    if (reply.targets.size() != 1) return absl::InternalError("not one target");
    return targets::ParseThinStatus(reply.targets[0].params);
  }
  absl::StatusOr<ScopedDevice> MakeThin(const std::string& suffix,
                                        uint32_t id) {
    return MakeDevice(
        suffix,
        OneTarget(targets::Thin(0, kThinSectors, pool_.dev().ToString(), id)));
  }

  TempLoop meta_;
  TempLoop data_;
  ScopedDevice pool_;
};

TEST_F(ThinPool, FreshPoolStatusAndTableParse) {
  ASSERT_OK_AND_ASSIGN(TableReply raw, dm().GetStatus(pool_ref()));
  ASSERT_EQ(raw.targets.size(), 1u);
  EXPECT_EQ(raw.targets[0].type, "thin-pool");
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s,
                       targets::ParseThinPoolStatus(raw.targets[0].params));
  EXPECT_FALSE(s.failed);
  EXPECT_FALSE(s.error);
  EXPECT_EQ(s.transaction_id, 0u);
  EXPECT_EQ(s.used_data_blocks, 0u);
  EXPECT_EQ(s.total_data_blocks, kDataBlocks);
  EXPECT_EQ(s.total_metadata_blocks, kMetaBytes / 4096);
  EXPECT_GT(s.used_metadata_blocks, 0u);
  EXPECT_LT(s.used_metadata_blocks, s.total_metadata_blocks / 4);
  EXPECT_FALSE(s.held_metadata_root.has_value());
  EXPECT_EQ(s.mode, "rw");
  EXPECT_TRUE(s.discard == "discard_passdown" ||
              s.discard == "no_discard_passdown")
      << s.discard;
  EXPECT_FALSE(s.error_if_no_space);
  EXPECT_FALSE(s.needs_check);
  EXPECT_TRUE(s.metadata_low_watermark.has_value()) << raw.targets[0].params;

  ASSERT_OK_AND_ASSIGN(TableReply table, dm().GetTable(pool_ref()));
  ASSERT_EQ(table.targets.size(), 1u);
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolParams p,
                       targets::ParseThinPoolParams(table.targets[0].params));
  EXPECT_EQ(p.metadata_dev, meta_.dev_string());
  EXPECT_EQ(p.data_dev, data_.dev_string());
  EXPECT_EQ(p.options.data_block_sectors, kBlockSectors);
  EXPECT_EQ(p.options.low_water_blocks, 0u);
  EXPECT_TRUE(p.options.features.empty());
  EXPECT_EQ(table.targets[0].length, data_.sectors());
}

TEST_F(ThinPool, ThinDeviceIsWrittenReadBackCountedAndDeleted) {
  // A thin table naming an id the pool does not have fails in thin_ctr.
  EXPECT_ERRNO(MakeThin("thin", 0), ENODATA);
  ASSERT_OK(Message("create_thin 0"));
  {
    ASSERT_OK_AND_ASSIGN(ScopedDevice thin, MakeThin("thin", 0));
    ASSERT_OK_AND_ASSIGN(targets::ThinStatus empty, ThinStatus(thin.name()));
    EXPECT_EQ(empty.mapped_sectors, 0u);
    EXPECT_FALSE(empty.highest_mapped_sector.has_value());
    // Unprovisioned blocks read as zeroes.
    std::string node = DmNode(thin.dev());
    ASSERT_OK_AND_ASSIGN(std::string zeroes, ReadDirect(node, 0, 64 * 1024));
    EXPECT_EQ(zeroes, std::string(64 * 1024, '\0'));

    ASSERT_OK(WriteDirect(node, 0, Pattern(kMiB, 30)));
    ASSERT_OK(WriteDirect(node, 16 * kMiB, Pattern(64 * 1024, 31)));
    ASSERT_OK_AND_ASSIGN(std::string back, ReadDirect(node, 0, kMiB));
    EXPECT_EQ(back, Pattern(kMiB, 30));
    ASSERT_OK_AND_ASSIGN(std::string back2,
                         ReadDirect(node, 16 * kMiB, 64 * 1024));
    EXPECT_EQ(back2, Pattern(64 * 1024, 31));

    ASSERT_OK_AND_ASSIGN(targets::ThinStatus used, ThinStatus(thin.name()));
    EXPECT_EQ(used.mapped_sectors, kMiB / 512 + kBlockSectors);
    ASSERT_TRUE(used.highest_mapped_sector.has_value());
    EXPECT_EQ(*used.highest_mapped_sector, 16 * kMiB / 512 + kBlockSectors - 1);
    ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus pool, PoolStatus());
    EXPECT_EQ(pool.used_data_blocks, kMiB / (kBlockSectors * 512) + 1);

    ASSERT_OK_AND_ASSIGN(TableReply table,
                         dm().GetTable(DeviceRef::ByName(thin.name())));
    ASSERT_OK_AND_ASSIGN(targets::ThinParams params,
                         targets::ParseThinParams(table.targets.at(0).params));
    EXPECT_EQ(params.pool, pool_.dev().ToString());
    EXPECT_EQ(params.thin_id, 0u);
    EXPECT_OK(thin.Remove());
  }
  ASSERT_OK(Message("delete 0"));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus after, PoolStatus());
  EXPECT_EQ(after.used_data_blocks, 0u);
}

TEST_F(ThinPool, SnapshotSharesBlocksUntilTheOriginIsWritten) {
  ASSERT_OK(Message("create_thin 0"));
  ASSERT_OK_AND_ASSIGN(ScopedDevice origin, MakeThin("origin", 0));
  std::string origin_node = DmNode(origin.dev());
  ASSERT_OK(WriteDirect(origin_node, 0, Pattern(512 * 1024, 40)));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus before, PoolStatus());
  EXPECT_EQ(before.used_data_blocks, 8u);

  // An active origin is suspended around create_snap.
  DeviceRef origin_ref = DeviceRef::ByName(origin.name());
  ASSERT_OK(dm().Suspend(origin_ref));
  ASSERT_OK(Message("create_snap 1 0"));
  ASSERT_OK(dm().Resume(origin_ref));
  ASSERT_OK_AND_ASSIGN(ScopedDevice snap, MakeThin("snap", 1));
  std::string snap_node = DmNode(snap.dev());
  ASSERT_OK_AND_ASSIGN(std::string shared,
                       ReadDirect(snap_node, 0, 512 * 1024));
  EXPECT_EQ(shared, Pattern(512 * 1024, 40));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus snapped, PoolStatus());
  EXPECT_EQ(snapped.used_data_blocks, 8u);  // shared, nothing copied yet

  // Overwrite two blocks of the origin: they are broken out of sharing.
  ASSERT_OK(WriteDirect(origin_node, 0, Pattern(128 * 1024, 41)));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus diverged, PoolStatus());
  EXPECT_EQ(diverged.used_data_blocks, 10u);
  ASSERT_OK_AND_ASSIGN(std::string snap_still,
                       ReadDirect(snap_node, 0, 128 * 1024));
  EXPECT_EQ(snap_still, Pattern(512 * 1024, 40).substr(0, 128 * 1024));
  ASSERT_OK_AND_ASSIGN(std::string origin_now,
                       ReadDirect(origin_node, 0, 128 * 1024));
  EXPECT_EQ(origin_now, Pattern(128 * 1024, 41));
  ASSERT_OK_AND_ASSIGN(targets::ThinStatus snap_status,
                       ThinStatus(snap.name()));
  EXPECT_EQ(snap_status.mapped_sectors, 8 * kBlockSectors);

  // Delete the snapshot: its two unshared blocks are freed.
  EXPECT_OK(snap.Remove());
  ASSERT_OK(Message("delete 1"));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus deleted, PoolStatus());
  EXPECT_EQ(deleted.used_data_blocks, 8u);
}

TEST_F(ThinPool, SetTransactionIdChecksTheCurrentValue) {
  ASSERT_OK(Message("set_transaction_id 0 1"));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s, PoolStatus());
  EXPECT_EQ(s.transaction_id, 1u);
  EXPECT_ERRNO(Message("set_transaction_id 0 2"), EINVAL);
  ASSERT_OK(Message("set_transaction_id 1 5"));
  // Committed: the status without noflush (which commits) agrees.
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus committed, PoolStatus(false));
  EXPECT_EQ(committed.transaction_id, 5u);
}

TEST_F(ThinPool, CreateThinOnAnExistingIdIsEexist) {
  ASSERT_OK(Message("create_thin 7"));
  EXPECT_ERRNO(Message("create_thin 7"), EEXIST);
  // Message names are case-insensitive.
  EXPECT_ERRNO(Message("CREATE_THIN 7"), EEXIST);
  ASSERT_OK(Message("Create_Thin 8"));
  EXPECT_ERRNO(Message("create_snap 8 7"), EEXIST);
}

TEST_F(ThinPool, DeleteOfAMissingIdIsEnodataAndOfAnActiveOneIsEbusy) {
  EXPECT_ERRNO(Message("delete 3"), ENODATA);
  ASSERT_OK(Message("create_thin 3"));
  ASSERT_OK_AND_ASSIGN(ScopedDevice thin, MakeThin("thin", 3));
  EXPECT_ERRNO(Message("delete 3"), EBUSY);
  EXPECT_OK(thin.Remove());
  EXPECT_OK(Message("delete 3"));
  EXPECT_ERRNO(Message("delete 3"), ENODATA);
}

TEST_F(ThinPool, BadMessagesAreEinvalOrEnodata) {
  EXPECT_ERRNO(Message("create_snap 1 0"), ENODATA);  // no origin 0
  EXPECT_ERRNO(Message(absl::StrCat("create_thin ", targets::kMaxThinId + 1)),
               EINVAL);
  EXPECT_OK(Message(absl::StrCat("create_thin ", targets::kMaxThinId)));
  EXPECT_ERRNO(Message("create_thin"), EINVAL);
  EXPECT_ERRNO(Message("create_thin 1 2"), EINVAL);
  EXPECT_ERRNO(Message("create_thin x"), EINVAL);
  EXPECT_ERRNO(Message("dmkvm_no_such_message 1"), EINVAL);
}

TEST_F(ThinPool, MetadataSnapshotIsReportedAndHeldOnce) {
  ASSERT_OK(Message("reserve_metadata_snap"));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus held, PoolStatus(false));
  ASSERT_TRUE(held.held_metadata_root.has_value());
  EXPECT_GT(*held.held_metadata_root, 0u);
  EXPECT_ERRNO(Message("reserve_metadata_snap"), EBUSY);
  ASSERT_OK(Message("release_metadata_snap"));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus released, PoolStatus(false));
  EXPECT_FALSE(released.held_metadata_root.has_value());
  EXPECT_ERRNO(Message("release_metadata_snap"), EINVAL);
}

TEST_F(ThinPool, RemovingAPoolWithAnActiveThinIsEbusy) {
  ASSERT_OK(Message("create_thin 0"));
  ASSERT_OK_AND_ASSIGN(ScopedDevice thin, MakeThin("thin", 0));
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(pool_ref()));
  EXPECT_EQ(info.open_count, 1);  // the thin table holds it
  EXPECT_ERRNO(dm().RemoveDevice(pool_ref()), EBUSY);
  ASSERT_OK(dm().GetInfo(pool_ref()));
  EXPECT_OK(thin.Remove());
  EXPECT_OK(pool_.Remove());
  EXPECT_ERRNO(dm().GetInfo(pool_ref()), ENXIO);
}

// pool->suspended is set at creation and by presuspend; thin_ctr refuses to
// bind to such a pool.
TEST_F(ThinPool, ThinCannotBeLoadedWhileItsPoolIsSuspended) {
  ASSERT_OK(Message("create_thin 0"));
  ASSERT_OK(dm().Suspend(pool_ref()));
  Table thin =
      OneTarget(targets::Thin(0, kThinSectors, pool_.dev().ToString(), 0));
  EXPECT_ERRNO(MakeDevice("thin", thin), EINVAL);
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("thin"))), ENXIO);
  ASSERT_OK(dm().Resume(pool_ref()));
  ASSERT_OK_AND_ASSIGN(ScopedDevice ok, MakeDevice("thin", thin));

  // A pool that is loaded but was never resumed counts as suspended too.
  // Make a second pool, give it thin id 0, take it down, and load it again
  // over the same metadata without resuming.
  ASSERT_OK_AND_ASSIGN(TempLoop meta2, TempLoop::Create(kMetaBytes));
  ASSERT_OK_AND_ASSIGN(TempLoop data2, TempLoop::Create(8 * kMiB));
  Table pool2_table = OneTarget(targets::ThinPool(
      0, data2.sectors(), meta2.dev_string(), data2.dev_string(),
      {.data_block_sectors = kBlockSectors}));
  {
    ASSERT_OK_AND_ASSIGN(ScopedDevice pool2, MakeDevice("pool2", pool2_table));
    ASSERT_OK(
        dm().SendMessage(DeviceRef::ByName(pool2.name()), 0, "create_thin 0"));
    ASSERT_OK(pool2.Remove());
  }
  ASSERT_OK_AND_ASSIGN(ScopedDevice pool2, MakeDevice("pool2", Table()));
  ASSERT_OK(dm().LoadTable(DeviceRef::ByName(pool2.name()), pool2_table));
  EXPECT_ERRNO(MakeDevice("thin2", OneTarget(targets::Thin(
                                       0, 2048, pool2.dev().ToString(), 0))),
               EINVAL);
}

TEST_F(ThinPool, ReadOnlyPoolRefusesMessagesWithEopnotsupp) {
  ASSERT_OK(Message("create_thin 0"));
  ASSERT_OK(dmioctl::ReloadTable(dm(), pool_ref(),
                                 PoolTable({.features = {"read_only"}}),
                                 /*resume=*/true));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s, PoolStatus());
  EXPECT_EQ(s.mode, "ro");
  EXPECT_ERRNO(Message("create_thin 1"), EOPNOTSUPP);
  EXPECT_ERRNO(Message("delete 0"), EOPNOTSUPP);
  // A read-only pool still serves its thin devices for reading.
  ASSERT_OK_AND_ASSIGN(ScopedDevice thin, MakeThin("thin", 0));
  ASSERT_OK_AND_ASSIGN(std::string zeroes,
                       ReadDirect(DmNode(thin.dev()), 0, 4096));
  EXPECT_EQ(zeroes, std::string(4096, '\0'));
}

TEST_F(ThinPool, ErrorIfNoSpaceFeatureShowsInStatusAndTable) {
  ASSERT_OK(dmioctl::ReloadTable(
      dm(), pool_ref(),
      PoolTable({.low_water_blocks = 10,
                 .features = {"error_if_no_space", "skip_block_zeroing"}}),
      /*resume=*/true));
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s, PoolStatus());
  EXPECT_TRUE(s.error_if_no_space);
  ASSERT_OK_AND_ASSIGN(TableReply table, dm().GetTable(pool_ref()));
  ASSERT_OK_AND_ASSIGN(
      targets::ThinPoolParams p,
      targets::ParseThinPoolParams(table.targets.at(0).params));
  EXPECT_EQ(p.options.low_water_blocks, 10u);
  EXPECT_EQ(p.options.features, (std::vector<std::string>{"skip_block_zeroing",
                                                          "error_if_no_space"}))
      << table.targets[0].params;
}

// Crossing the low water mark fires a table event on the pool: DM_DEV_WAIT
// wakes with the next event number, and the control fd polls readable.
TEST_F(ThinPool, LowWaterMarkWakesDevWaitAndPoll) {
  constexpr uint64_t kLowWater = kDataBlocks - 16;
  ASSERT_OK(dmioctl::ReloadTable(dm(), pool_ref(),
                                 PoolTable({.low_water_blocks = kLowWater}),
                                 /*resume=*/true));
  ASSERT_OK(Message("create_thin 0"));
  ASSERT_OK_AND_ASSIGN(ScopedDevice thin, MakeThin("thin", 0));
  ASSERT_OK_AND_ASSIGN(DeviceInfo before, dm().GetInfo(pool_ref()));

  ASSERT_OK_AND_ASSIGN(auto watcher, dmioctl::DeviceMapper::Open());
  ASSERT_OK(watcher->ArmPoll());
  pollfd pfd{watcher->EventFd(), POLLIN, 0};
  ASSERT_EQ(poll(&pfd, 1, 0), 0);

  std::atomic<bool> woke{false};
  absl::StatusOr<TableReply> waited = absl::UnknownError("not run");
  std::thread waiter([&] {
    waited = dm().WaitEvent(DeviceRef::ByDevNum(pool_.dev()), before.event_nr,
                            {.noflush = true});
    woke = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(woke.load()) << "DM_DEV_WAIT returned before any event";

  // 8 blocks: still above the mark, no event.
  ASSERT_OK(WriteDirect(DmNode(thin.dev()), 0, Pattern(512 * 1024, 50)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(woke.load()) << "woke above the low water mark";
  // 16 more: free blocks drop to the mark.
  ASSERT_OK(WriteDirect(DmNode(thin.dev()), kMiB, Pattern(kMiB, 51)));
  ASSERT_TRUE(WaitFor([&] { return woke.load(); }, std::chrono::seconds(10)));
  waiter.join();
  ASSERT_OK(waited);
  EXPECT_EQ(waited->info.event_nr, before.event_nr + 1);
  ASSERT_EQ(waited->targets.size(), 1u);
  ASSERT_OK_AND_ASSIGN(targets::ThinPoolStatus s,
                       targets::ParseThinPoolStatus(waited->targets[0].params));
  EXPECT_GE(s.used_data_blocks, kDataBlocks - kLowWater);
  EXPECT_EQ(poll(&pfd, 1, 1000), 1);
  EXPECT_TRUE(pfd.revents & POLLIN);
  ASSERT_OK(watcher->ArmPoll());
  EXPECT_EQ(poll(&pfd, 1, 0), 0);
}

}  // namespace
}  // namespace dmkit_vm
