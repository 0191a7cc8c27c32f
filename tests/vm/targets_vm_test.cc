// Targets, checked by where the bytes land: data written through the dm
// device is looked up in the loop devices' backing files and the other way
// round.
#include <fcntl.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

class Targets : public DmVmTest {};

TEST_F(Targets, LinearWithOffsetMapsBothWays) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(4 * kMiB));
  // 2048 sectors of the device map to loop sectors 1024..3071.
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Linear(
                                           0, 2048, loop.dev_string(), 1024))));
  std::string node = DmNode(dev.dev());
  ASSERT_OK_AND_ASSIGN(uint64_t sectors, BlockDeviceSectors(node));
  EXPECT_EQ(sectors, 2048u);

  ASSERT_OK(WriteDirect(node, 4096, Pattern(64 * 1024, 1)));
  ASSERT_OK_AND_ASSIGN(std::string landed,
                       loop.ReadBacking(1024 * 512 + 4096, 64 * 1024));
  EXPECT_EQ(landed, Pattern(64 * 1024, 1));

  ASSERT_OK(loop.WriteBacking(1024 * 512 + 512 * 1024, Pattern(8192, 2)));
  ASSERT_OK_AND_ASSIGN(std::string read, ReadDirect(node, 512 * 1024, 8192));
  EXPECT_EQ(read, Pattern(8192, 2));
  // Past the end of the device.
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(node, O_RDONLY | O_DIRECT));
  ASSERT_OK_AND_ASSIGN(std::string tail,
                       ReadDirectFd(fd.get(), 2047 * 512, 512));
  EXPECT_EQ(tail.size(), 512u);
  auto beyond = ReadDirectFd(fd.get(), 2048 * 512, 512);
  EXPECT_FALSE(beyond.ok());
}

TEST_F(Targets, ManyLinearTargetsInterleaveTwoDevices) {
  ASSERT_OK_AND_ASSIGN(TempLoop a, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(TempLoop b, TempLoop::Create(kMiB));
  // 64 pieces of 32 sectors, alternating a, b, with the pieces on each
  // device in reverse order.
  constexpr int kPieces = 64;
  constexpr uint64_t kPiece = 32;
  Table table;
  for (int i = 0; i < kPieces; ++i) {
    const TempLoop& loop = i % 2 == 0 ? a : b;
    uint64_t offset = (kPieces / 2 - 1 - i / 2) * kPiece;
    table.Append(kPiece, "linear",
                 absl::StrCat(loop.dev_string(), " ", offset));
  }
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("many", table));
  ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                       dm().GetInfo(DeviceRef::ByName(dev.name())));
  EXPECT_EQ(info.target_count, static_cast<uint32_t>(kPieces));
  std::string node = DmNode(dev.dev());
  const size_t total = kPieces * kPiece * 512;
  ASSERT_OK(WriteDirect(node, 0, Pattern(total, 3)));
  std::string all = Pattern(total, 3);
  for (int i = 0; i < kPieces; ++i) {
    const TempLoop& loop = i % 2 == 0 ? a : b;
    uint64_t offset = (kPieces / 2 - 1 - i / 2) * kPiece;
    ASSERT_OK_AND_ASSIGN(std::string piece,
                         loop.ReadBacking(offset * 512, kPiece * 512));
    EXPECT_EQ(piece, all.substr(i * kPiece * 512, kPiece * 512))
        << "piece " << i;
  }
  ASSERT_OK_AND_ASSIGN(TableReply t,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  EXPECT_EQ(t.targets, table.targets);
}

TEST_F(Targets, LargeTableRoundTripsThroughGrowingStatusBuffers) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  // 2,000 targets of 1 sector: the table text is well over the 16 KiB
  // first buffer.
  constexpr int kTargets = 2000;
  Table table;
  for (int i = 0; i < kTargets; ++i) {
    table.Append(1, "linear",
                 absl::StrCat(loop.dev_string(), " ", kTargets - 1 - i));
  }
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("big", table));
  uint64_t retries = dm().counters().buffer_full_retries.load();
  ASSERT_OK_AND_ASSIGN(TableReply t,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  // 4 KiB is too small; the retry is 64 times bigger.
  EXPECT_EQ(dm().counters().buffer_full_retries.load() - retries, 1u);
  // The next table starts from the size this one needed.
  retries = dm().counters().buffer_full_retries.load();
  ASSERT_OK_AND_ASSIGN(TableReply again,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  EXPECT_EQ(dm().counters().buffer_full_retries.load() - retries, 0u);
  EXPECT_EQ(again.targets, table.targets);
  EXPECT_EQ(t.info.target_count, static_cast<uint32_t>(kTargets));
  EXPECT_EQ(t.targets, table.targets);
  // Reversed sector order: device sector i is loop sector 1999 - i.
  ASSERT_OK(loop.WriteBacking(0, Pattern(512, 4)));
  ASSERT_OK_AND_ASSIGN(std::string last,
                       ReadDirect(DmNode(dev.dev()), 1999 * 512, 512));
  EXPECT_EQ(last, Pattern(512, 4));
}

TEST_F(Targets, StripedChunksAlternateBetweenStripes) {
  ASSERT_OK_AND_ASSIGN(TempLoop a, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(TempLoop b, TempLoop::Create(kMiB));
  constexpr uint64_t kChunk = 16;  // sectors
  const uint64_t length = 2 * a.sectors();
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("striped", OneTarget(targets::Striped(
                                0, length, kChunk,
                                {{a.dev_string(), 0}, {b.dev_string(), 0}}))));
  std::string node = DmNode(dev.dev());
  std::string all = Pattern(length * 512, 5);
  ASSERT_OK(WriteDirect(node, 0, all));
  const size_t chunk_bytes = kChunk * 512;
  for (uint64_t k = 0; k < length / kChunk; ++k) {
    const TempLoop& loop = k % 2 == 0 ? a : b;
    ASSERT_OK_AND_ASSIGN(std::string chunk,
                         loop.ReadBacking((k / 2) * chunk_bytes, chunk_bytes));
    ASSERT_EQ(chunk, all.substr(k * chunk_bytes, chunk_bytes)) << "chunk " << k;
  }
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(TableReply t, dm().GetTable(ref));
  ASSERT_EQ(t.targets.size(), 1u);
  EXPECT_EQ(t.targets[0].params,
            absl::StrCat("2 16 ", a.dev_string(), " 0 ", b.dev_string(), " 0"));
  // INFO: the stripes, then one group of health characters, 'A' (alive)
  // per stripe.
  ASSERT_OK_AND_ASSIGN(TableReply s, dm().GetStatus(ref));
  ASSERT_EQ(s.targets.size(), 1u);
  EXPECT_EQ(s.targets[0].params,
            absl::StrCat("2 ", a.dev_string(), " ", b.dev_string(), " 1 AA"));
}

TEST_F(Targets, StripedLengthNotDivisibleIsRejectedAndRolledBack) {
  ASSERT_OK_AND_ASSIGN(TempLoop a, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(TempLoop b, TempLoop::Create(kMiB));
  // 100 sectors over 2 stripes is 50 each, not a multiple of 16.
  auto created = MakeDevice(
      "bad", OneTarget(targets::Striped(
                 0, 100, 16, {{a.dev_string(), 0}, {b.dev_string(), 0}})));
  EXPECT_ERRNO(created, EINVAL);
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("bad"))), ENXIO);
}

TEST_F(Targets, ZeroReadsZeroesAndSwallowsWrites) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("zero", OneTarget(targets::Zero(0, 2048))));
  std::string node = DmNode(dev.dev());
  ASSERT_OK(WriteDirect(node, 4096, Pattern(8192, 6)));
  ASSERT_OK_AND_ASSIGN(std::string read, ReadDirect(node, 0, 64 * 1024));
  EXPECT_EQ(read, std::string(64 * 1024, '\0'));
}

TEST_F(Targets, ErrorFailsReadsAndWritesWithEio) {
  // The error target ignores any arguments.
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("err",
                 OneTarget(dmioctl::Target{0, 2048, "error", "ignored args"})));
  std::string node = DmNode(dev.dev());
  EXPECT_ERRNO(ReadDirect(node, 0, 4096), EIO);
  EXPECT_ERRNO(WriteDirect(node, 0, Pattern(4096, 7)), EIO);
  ASSERT_OK_AND_ASSIGN(TableReply t,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  ASSERT_EQ(t.targets.size(), 1u);
  EXPECT_EQ(t.targets[0].type, "error");
}

TEST_F(Targets, FlakeyUpPassesIoAndReportsItsTable) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("flakey",
                 OneTarget(targets::Flakey(0, loop.sectors(), loop.dev_string(),
                                           0, 3600, 1))));
  std::string node = DmNode(dev.dev());
  ASSERT_OK(WriteDirect(node, 0, Pattern(4096, 8)));
  ASSERT_OK_AND_ASSIGN(std::string landed, loop.ReadBacking(0, 4096));
  EXPECT_EQ(landed, Pattern(4096, 8));
  ASSERT_OK_AND_ASSIGN(TableReply t,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  ASSERT_EQ(t.targets.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(t.targets[0].params,
                               absl::StrCat(loop.dev_string(), " 0 3600 1")))
      << t.targets[0].params;
}

// up 0 s, down 1 s: every moment is in the down interval.
TEST_F(Targets, FlakeyDownWithoutFeaturesFailsAllIo) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 9)));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("flakey", OneTarget(targets::Flakey(
                                                0, loop.sectors(),
                                                loop.dev_string(), 0, 0, 1))));
  std::string node = DmNode(dev.dev());
  EXPECT_ERRNO(ReadDirect(node, 0, 4096), EIO);
  EXPECT_ERRNO(WriteDirect(node, 0, Pattern(4096, 10)), EIO);
  ASSERT_OK_AND_ASSIGN(std::string untouched, loop.ReadBacking(0, 4096));
  EXPECT_EQ(untouched, Pattern(4096, 9));
}

TEST_F(Targets, FlakeyDropWritesAcknowledgesButDropsWrites) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 11)));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("flakey",
                 OneTarget(targets::Flakey(0, loop.sectors(), loop.dev_string(),
                                           0, 0, 1, {"drop_writes"}))));
  std::string node = DmNode(dev.dev());
  EXPECT_OK(WriteDirect(node, 0, Pattern(4096, 12)));
  ASSERT_OK_AND_ASSIGN(std::string backing, loop.ReadBacking(0, 4096));
  EXPECT_EQ(backing, Pattern(4096, 11));
  // Reads pass while a write feature is set.
  ASSERT_OK_AND_ASSIGN(std::string read, ReadDirect(node, 0, 4096));
  EXPECT_EQ(read, Pattern(4096, 11));
}

TEST_F(Targets, FlakeyErrorWritesFailsOnlyWrites) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 13)));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("flakey",
                 OneTarget(targets::Flakey(0, loop.sectors(), loop.dev_string(),
                                           0, 0, 1, {"error_writes"}))));
  std::string node = DmNode(dev.dev());
  EXPECT_ERRNO(WriteDirect(node, 0, Pattern(4096, 14)), EIO);
  ASSERT_OK_AND_ASSIGN(std::string read, ReadDirect(node, 0, 4096));
  EXPECT_EQ(read, Pattern(4096, 13));
}

TEST_F(Targets, DelayHoldsReadsAndWritesForTheDelay) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(kMiB));
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 15)));
  constexpr uint32_t kDelayMs = 300;
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("delay",
                 OneTarget(targets::Delay(0, loop.sectors(), loop.dev_string(),
                                          0, kDelayMs))));
  std::string node = DmNode(dev.dev());
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(node, O_RDWR | O_DIRECT));
  auto start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::string read, ReadDirectFd(fd.get(), 0, 4096));
  double read_ms = MillisSince(start);
  EXPECT_EQ(read, Pattern(4096, 15));
  EXPECT_GE(read_ms, kDelayMs - 10);  // jiffy rounding
  start = std::chrono::steady_clock::now();
  ASSERT_OK(WriteDirectFd(fd.get(), 8192, Pattern(4096, 16)));
  double write_ms = MillisSince(start);
  EXPECT_GE(write_ms, kDelayMs - 10);
  ASSERT_OK_AND_ASSIGN(std::string landed, loop.ReadBacking(8192, 4096));
  EXPECT_EQ(landed, Pattern(4096, 16));
  ASSERT_OK_AND_ASSIGN(TableReply t,
                       dm().GetTable(DeviceRef::ByName(dev.name())));
  ASSERT_EQ(t.targets.size(), 1u);
  EXPECT_EQ(t.targets[0].params, absl::StrCat(loop.dev_string(), " 0 300"));
  printf("[dmkvm] delay %u ms: read took %.0f ms, write %.0f ms\n", kDelayMs,
         read_ms, write_ms);
}

// snapshot-origin over a base device, and a persistent snapshot of it: a
// write to the origin copies the old chunk to the COW device first; a write
// to the snapshot lands only in the COW device.
TEST_F(Targets, SnapshotKeepsOldDataAndOriginIgnoresSnapshotWrites) {
  ASSERT_OK_AND_ASSIGN(TempLoop base, TempLoop::Create(4 * kMiB));
  ASSERT_OK_AND_ASSIGN(TempLoop cow, TempLoop::Create(2 * kMiB));
  const size_t kSize = 256 * 1024;
  ASSERT_OK(base.WriteBacking(0, Pattern(kSize, 20)));

  ASSERT_OK_AND_ASSIGN(
      ScopedDevice origin,
      MakeDevice("origin", OneTarget(targets::SnapshotOrigin(
                               0, base.sectors(), base.dev_string()))));
  DeviceRef origin_ref = DeviceRef::ByName(origin.name());
  // Snapshots are added while the origin is suspended.
  ASSERT_OK(dm().Suspend(origin_ref));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice snap,
      MakeDevice("snap", OneTarget(targets::Snapshot(
                             0, base.sectors(), base.dev_string(),
                             cow.dev_string(), "P", 16))));
  ASSERT_OK(dm().Resume(origin_ref));
  DeviceRef snap_ref = DeviceRef::ByName(snap.name());

  ASSERT_OK_AND_ASSIGN(TableReply fresh, dm().GetStatus(snap_ref));
  ASSERT_EQ(fresh.targets.size(), 1u);
  ASSERT_OK_AND_ASSIGN(dmioctl::targets::SnapshotStatus s0,
                       targets::ParseSnapshotStatus(fresh.targets[0].params));
  EXPECT_FALSE(s0.invalid);
  EXPECT_EQ(s0.total_sectors, cow.sectors());
  EXPECT_EQ(s0.allocated_sectors, s0.metadata_sectors);  // no data chunks yet

  std::string origin_node = DmNode(origin.dev());
  std::string snap_node = DmNode(snap.dev());
  // Origin write: base changes, the snapshot still shows the old data.
  ASSERT_OK(WriteDirect(origin_node, 0, Pattern(64 * 1024, 21)));
  ASSERT_OK_AND_ASSIGN(std::string base_now, base.ReadBacking(0, 64 * 1024));
  EXPECT_EQ(base_now, Pattern(64 * 1024, 21));
  ASSERT_OK_AND_ASSIGN(std::string snap_old,
                       ReadDirect(snap_node, 0, 64 * 1024));
  EXPECT_EQ(snap_old, Pattern(kSize, 20).substr(0, 64 * 1024));

  // Snapshot write: visible in the snapshot only.
  ASSERT_OK(WriteDirect(snap_node, 128 * 1024, Pattern(32 * 1024, 22)));
  ASSERT_OK_AND_ASSIGN(std::string snap_new,
                       ReadDirect(snap_node, 128 * 1024, 32 * 1024));
  EXPECT_EQ(snap_new, Pattern(32 * 1024, 22));
  ASSERT_OK_AND_ASSIGN(std::string origin_same,
                       ReadDirect(origin_node, 128 * 1024, 32 * 1024));
  EXPECT_EQ(origin_same, Pattern(kSize, 20).substr(128 * 1024, 32 * 1024));

  ASSERT_OK_AND_ASSIGN(TableReply used, dm().GetStatus(snap_ref));
  ASSERT_EQ(used.targets.size(), 1u);
  ASSERT_OK_AND_ASSIGN(dmioctl::targets::SnapshotStatus s1,
                       targets::ParseSnapshotStatus(used.targets[0].params));
  // 64 KiB copied out for the origin write plus 32 KiB written to the
  // snapshot, in 8 KiB chunks.
  EXPECT_EQ(s1.allocated_sectors - s1.metadata_sectors, (64 + 32) * 1024 / 512u)
      << used.targets[0].params;
  ASSERT_OK_AND_ASSIGN(TableReply table, dm().GetTable(snap_ref));
  EXPECT_EQ(table.targets[0].params,
            absl::StrCat(base.dev_string(), " ", cow.dev_string(), " P 16"));

  // Snapshots go away while the origin is suspended, then the origin.
  ASSERT_OK(dm().Suspend(origin_ref));
  EXPECT_OK(snap.Remove());
  ASSERT_OK(dm().Resume(origin_ref));
  EXPECT_OK(origin.Remove());
}

}  // namespace
}  // namespace dmkit_vm
