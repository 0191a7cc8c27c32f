// DeviceMapper against the fake kernel: every command's request checked field
// by field against <linux/dm-ioctl.h>, and every reply path.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/ioctl.h>

#include <algorithm>

#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "dmioctl/targets.h"
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace dmkit::testing {
namespace {

using dmioctl::DeviceRef;
using dmioctl::DevNum;
using ::testing::ElementsAre;

std::string Name(const dm_ioctl& h) { return std::string(h.name); }
std::string Uuid(const dm_ioctl& h) { return std::string(h.uuid); }

dmioctl::Table LinearTable() {
  dmioctl::Table t;
  t.targets.push_back(dmioctl::targets::Linear(0, 2048, "7:0", 0));
  return t;
}

TEST(DeviceMapperTest, VersionSendsHeaderOnlyAndCachesKernelVersion) {
  FakeDm f;
  auto v = f.dm.Version();
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ((*v)[0], 4u);
  EXPECT_EQ((*v)[1], 47u);
  ASSERT_EQ(f.kernel->sent.size(), 1u);
  const dm_ioctl& h = f.kernel->sent[0].header;
  EXPECT_EQ(f.kernel->sent[0].command, unsigned{DM_VERSION_CMD});
  EXPECT_EQ(h.version[0], 4u);
  EXPECT_EQ(h.version[1], 0u);
  EXPECT_EQ(h.data_size, sizeof(dm_ioctl));
  EXPECT_EQ(f.dm.kernel_version()[1], 47u);
}

TEST(DeviceMapperTest, KernelVersionComesFromFirstReplyWithoutExtraIoctl) {
  FakeDm f;
  f.kernel->version_minor = 45;
  ASSERT_TRUE(f.dm.ListDevices().ok());
  EXPECT_EQ(f.kernel->sent.size(), 1u);
  EXPECT_EQ(f.dm.kernel_version()[1], 45u);
}

TEST(DeviceMapperTest, CreateSendsNameUuidAndNoPayload) {
  FakeDm f;
  auto info = f.dm.CreateDevice({.name = "vol", .uuid = "UUID-1"});
  ASSERT_TRUE(info.ok()) << info.status();
  const SentIoctl& s = f.kernel->sent[0];
  EXPECT_EQ(s.command, unsigned{DM_DEV_CREATE_CMD});
  EXPECT_EQ(Name(s.header), "vol");
  EXPECT_EQ(Uuid(s.header), "UUID-1");
  EXPECT_EQ(s.header.dev, 0u);
  EXPECT_EQ(s.header.flags, 0u);
  EXPECT_EQ(s.header.data_size, sizeof(dm_ioctl));  // header only
  EXPECT_EQ(info->dev, (DevNum{253, 0}));
  EXPECT_EQ(info->name, "vol");
  EXPECT_EQ(info->uuid, "UUID-1");
  EXPECT_FALSE(info->live_table());
}

TEST(DeviceMapperTest, CreateWithPersistentMinorSetsFlagAndDev) {
  FakeDm f;
  auto info = f.dm.CreateDevice({.name = "vol", .minor = 300});
  ASSERT_TRUE(info.ok()) << info.status();
  const dm_ioctl& h = f.kernel->sent[0].header;
  EXPECT_TRUE(h.flags & DM_PERSISTENT_DEV_FLAG);
  EXPECT_EQ(DevNum::Decode(h.dev).minor, 300u);
  EXPECT_EQ(info->dev.minor, 300u);
  // A taken minor is ENXIO, as in the kernel.
  auto again = f.dm.CreateDevice({.name = "vol2", .minor = 300});
  EXPECT_THAT(again.status(), HasErrno(ENXIO));
}

TEST(DeviceMapperTest, DuplicateNameIsEbusyWithDmsetupDetails) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  auto dup = f.dm.CreateDevice({.name = "vol", .uuid = "U"});
  ASSERT_FALSE(dup.ok());
  auto info = dmioctl::GetIoctlErrorInfo(dup.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->error_number, EBUSY);
  EXPECT_EQ(info->operation, "create");
  EXPECT_EQ(info->ioctl_name, "DM_DEV_CREATE");
  EXPECT_EQ(info->name, "vol");
  EXPECT_EQ(info->uuid, "U");
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(dup.status().message()).find("DM_DEV_CREATE vol"),
            std::string::npos);
}

TEST(DeviceMapperTest, InvalidNamesRejectedBeforeAnyIoctl) {
  FakeDm f;
  for (std::string bad :
       {std::string(""), std::string("a/b"), std::string("."),
        std::string(".."), std::string("control"), std::string(128, 'x')}) {
    EXPECT_FALSE(f.dm.CreateDevice({.name = bad}).ok()) << bad;
  }
  EXPECT_FALSE(
      f.dm.CreateDevice({.name = "ok", .uuid = std::string(129, 'u')}).ok());
  EXPECT_FALSE(f.dm.GetInfo(DeviceRef::ByName("a/b")).ok());
  EXPECT_TRUE(f.kernel->sent.empty());
  EXPECT_TRUE(f.dm.CreateDevice({.name = std::string(127, 'x')}).ok());
}

TEST(DeviceMapperTest, DeviceRefFillsExactlyOneField) {
  FakeDm f;
  auto created = f.dm.CreateDevice({.name = "vol", .uuid = "U1"});
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(f.dm.GetInfo(DeviceRef::ByName("vol")).ok());
  ASSERT_TRUE(f.dm.GetInfo(DeviceRef::ByUuid("U1")).ok());
  ASSERT_TRUE(f.dm.GetInfo(DeviceRef::ByDevNum(created->dev)).ok());
  const auto& s = f.kernel->sent;
  EXPECT_EQ(Name(s[1].header), "vol");
  EXPECT_EQ(Uuid(s[1].header), "");
  EXPECT_EQ(s[1].header.dev, 0u);
  EXPECT_EQ(Name(s[2].header), "");
  EXPECT_EQ(Uuid(s[2].header), "U1");
  EXPECT_EQ(s[2].header.dev, 0u);
  EXPECT_EQ(Name(s[3].header), "");
  EXPECT_EQ(Uuid(s[3].header), "");
  EXPECT_EQ(DevNum::Decode(s[3].header.dev), created->dev);
}

TEST(DeviceMapperTest, MissingDeviceIsEnxio) {
  FakeDm f;
  auto info = f.dm.GetInfo(DeviceRef::ByName("nope"));
  EXPECT_THAT(info.status(), HasErrno(ENXIO));
  EXPECT_EQ(info.status().code(), absl::StatusCode::kNotFound);
}

TEST(DeviceMapperTest, LoadSerialisesSpecsRelativeToEachSpec) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  dmioctl::Table table;
  table.Append(100, "linear", "7:0 0")
      .Append(50, "zero", "")
      .Append(8, "crypt", "aes a\\b 0 7:1 0");
  table.read_only = true;
  auto info = f.dm.LoadTable(DeviceRef::ByName("vol"), table);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->inactive_table());
  const SentIoctl& s = f.kernel->sent.back();
  EXPECT_EQ(s.command, unsigned{DM_TABLE_LOAD_CMD});
  EXPECT_EQ(s.header.target_count, 3u);
  EXPECT_EQ(s.header.data_start, sizeof(dm_ioctl));
  EXPECT_TRUE(s.header.flags & DM_READONLY_FLAG);
  // First spec: linear, next = align8(40 + strlen("7:0 0") + 1) = 48.
  dm_target_spec spec;
  memcpy(&spec, s.payload.data(), sizeof(spec));
  EXPECT_EQ(spec.sector_start, 0u);
  EXPECT_EQ(spec.length, 100u);
  EXPECT_STREQ(spec.target_type, "linear");
  EXPECT_EQ(spec.next, 48u);
  EXPECT_STREQ(s.payload.data() + 40, "7:0 0");
  memcpy(&spec, s.payload.data() + 48, sizeof(spec));
  EXPECT_EQ(spec.sector_start, 100u);
  EXPECT_STREQ(spec.target_type, "zero");
  EXPECT_EQ(spec.next, 48u);
  // Backslashes are doubled on the wire and undone by the kernel.
  EXPECT_STREQ(s.payload.data() + 96 + 40, "aes a\\\\b 0 7:1 0");
  EXPECT_EQ(f.kernel->Find("vol")->inactive->targets[2].params,
            "aes a\\b 0 7:1 0");
}

TEST(DeviceMapperTest, LoadRejectsInvalidTableBeforeIoctl) {
  FakeDm f;
  dmioctl::Table gap;
  gap.targets.push_back({0, 10, "zero", ""});
  gap.targets.push_back({20, 10, "zero", ""});
  EXPECT_FALSE(f.dm.LoadTable(DeviceRef::ByName("vol"), gap).ok());
  EXPECT_FALSE(f.dm.LoadTable(DeviceRef::ByName("vol"), dmioctl::Table{}).ok());
  EXPECT_TRUE(f.kernel->sent.empty());
}

TEST(DeviceMapperTest, SuspendResumeFlags) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.LoadTable(ref, LinearTable()).ok());
  auto resumed = f.dm.Resume(ref, {.skip_lockfs = true});
  ASSERT_TRUE(resumed.ok());
  EXPECT_TRUE(resumed->live_table());
  EXPECT_FALSE(resumed->suspended());
  const dm_ioctl& r = f.kernel->sent.back().header;
  EXPECT_EQ(r.flags & (DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG | DM_NOFLUSH_FLAG),
            unsigned{DM_SKIP_LOCKFS_FLAG});
  auto suspended = f.dm.Suspend(ref, {.noflush = true});
  ASSERT_TRUE(suspended.ok());
  EXPECT_TRUE(suspended->suspended());
  const dm_ioctl& s = f.kernel->sent.back().header;
  EXPECT_EQ(s.flags & (DM_SUSPEND_FLAG | DM_SKIP_LOCKFS_FLAG | DM_NOFLUSH_FLAG),
            unsigned{DM_SUSPEND_FLAG | DM_NOFLUSH_FLAG});
  EXPECT_EQ(s.data_size, sizeof(dm_ioctl));
}

TEST(DeviceMapperTest, ListDevicesWithUuidsAndEvents) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "b", .uuid = "UB"}).ok());
  ASSERT_TRUE(f.dm.CreateDevice({.name = "a"}).ok());
  f.kernel->Find("a")->event_nr = 7;
  auto list = f.dm.ListDevices();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[0].event_nr, 7u);
  EXPECT_EQ((*list)[0].uuid, "");
  EXPECT_EQ((*list)[0].dev, (DevNum{253, 1}));
  EXPECT_EQ((*list)[1].name, "b");
  EXPECT_EQ((*list)[1].uuid, "UB");
  const dm_ioctl& h = f.kernel->sent.back().header;
  EXPECT_TRUE(h.flags & DM_UUID_FLAG);
  EXPECT_EQ(Name(h), "");
  EXPECT_EQ(h.data_size, 16384u);
}

// A DM_LIST_DEVICES reply as kernels before 4.37 write it (the fake always
// writes the 4.37+ layout): one device "old", 253:4, no event/flags trailer.
int OldKernelListReply(dm_ioctl* h, size_t) {
  char* p = reinterpret_cast<char*>(h) + sizeof(dm_ioctl);
  uint64_t dev = DevNum{253, 4}.Encode();
  memcpy(p, &dev, 8);
  memset(p + 8, 0, 4);
  memcpy(p + 12, "old", 4);
  h->data_start = sizeof(dm_ioctl);
  h->data_size = sizeof(dm_ioctl) + 16;
  return 0;
}

TEST(DeviceMapperTest, ListDevicesOnOldKernelHasNoUuidOrEvents) {
  FakeDm f;
  f.kernel->version_minor = 36;
  ASSERT_TRUE(f.dm.Version().ok());
  f.kernel->overrides[DM_LIST_DEVICES_CMD] = OldKernelListReply;
  auto list = f.dm.ListDevices();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "old");
  EXPECT_FALSE((*list)[0].event_nr.has_value());
  EXPECT_FALSE((*list)[0].uuid.has_value());
}

TEST(DeviceMapperTest, ListDevicesEmpty) {
  FakeDm f;
  auto list = f.dm.ListDevices();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

// Adds `count` devices to the fake kernel directly (DM_DEV_CREATE through
// the library would take as long as the test budget at 10,000).
void AddDevices(FakeKernelState& kernel, int count, const std::string& prefix) {
  uint32_t minor = static_cast<uint32_t>(kernel.devices.size());
  for (int i = 0; i < count; ++i) {
    FakeDevice d;
    d.name = prefix + std::to_string(i);
    d.uuid = "UUID-" + d.name;
    d.minor = minor++;
    kernel.devices.emplace(d.name, d);
  }
}

TEST(DeviceMapperTest, BufferFullGrowsThenRemembersTheSize) {
  FakeDm f;
  AddDevices(*f.kernel, 600, "device-with-a-longish-name-");
  auto list = f.dm.ListDevices();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 600u);
  // About 60 KiB: 16 KiB is full, the retry is 64 times bigger.
  ASSERT_EQ(f.kernel->sent.size(), 2u);
  EXPECT_EQ(f.kernel->sent[0].header.data_size, 16384u);
  EXPECT_EQ(f.kernel->sent[1].header.data_size, 1048576u);
  EXPECT_EQ(f.dm.counters().buffer_full_retries.load(), 1u);
  // The next listing starts an eighth above what the last reply used, in
  // whole pages (the kernel copies in the whole buffer every time).
  uint32_t used = 0;
  f.kernel->overrides[DM_LIST_DEVICES_CMD] = [&](dm_ioctl* h, size_t) {
    // Copy the captures first: erasing the override destroys this lambda.
    FakeKernelState* kernel = f.kernel.get();
    uint32_t* used_size = &used;
    kernel->overrides.erase(DM_LIST_DEVICES_CMD);
    int r = kernel->Handle(_IOWR(DM_IOCTL, DM_LIST_DEVICES_CMD, dm_ioctl), h);
    *used_size = h->data_size;
    return r;
  };
  ASSERT_TRUE(f.dm.ListDevices().ok());
  f.kernel->sent.clear();
  ASSERT_TRUE(f.dm.ListDevices().ok());
  ASSERT_EQ(f.kernel->sent.size(), 1u);
  uint32_t size = f.kernel->sent[0].header.data_size;
  EXPECT_EQ(size % 4096, 0u);
  EXPECT_GE(size, used + used / 8);
  EXPECT_LT(size, used + used / 8 + 4096);
  EXPECT_EQ(f.dm.counters().buffer_full_retries.load(), 1u);

  // A list that outgrew the remembered size doubles it: one retry, not a
  // 64-fold jump.
  AddDevices(*f.kernel, 200, "more-");
  f.kernel->sent.clear();
  auto longer = f.dm.ListDevices();
  ASSERT_TRUE(longer.ok()) << longer.status();
  EXPECT_EQ(longer->size(), 800u);
  ASSERT_EQ(f.kernel->sent.size(), 2u);
  EXPECT_EQ(f.kernel->sent[1].header.data_size, 2 * size);
}

TEST(DeviceMapperTest, ListOf10000DevicesTakesTwoIoctlsThenOne) {
  FakeDm f;
  // Docker-style names: "docker-253:2-3693860-<64 hex digits>".
  AddDevices(*f.kernel, 10000,
             "docker-253:2-3693860-0123456789abcdef0123456789abcdef"
             "0123456789abcdef0123456789ab-");
  uint64_t before = f.dm.counters().ioctls.load();
  auto list = f.dm.ListDevices();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->size(), 10000u);
  // About 2.3 MiB: 16 KiB, 1 MiB, 8 MiB would be three; the first listing
  // of these long names may take three, no more.
  uint64_t first = f.dm.counters().ioctls.load() - before;
  EXPECT_LE(first, 3u);
  before = f.dm.counters().ioctls.load();
  ASSERT_TRUE(f.dm.ListDevices().ok());
  EXPECT_EQ(f.dm.counters().ioctls.load() - before, 1u);

  // Names as dm_bench uses them (~480 KiB for 10,000): two the first time.
  FakeDm g;
  AddDevices(*g.kernel, 10000, "dmkit-bench-bg-");
  ASSERT_TRUE(g.dm.ListDevices({.with_uuid = false}).ok());
  EXPECT_EQ(g.dm.counters().ioctls.load(), 2u);
  ASSERT_TRUE(g.dm.ListDevices({.with_uuid = false}).ok());
  EXPECT_EQ(g.dm.counters().ioctls.load(), 3u);
}

TEST(DeviceMapperTest, RememberedSizeShrinksAfterSmallReplies) {
  FakeDm f;
  // A table whose text needs more than the first 4 KiB.
  dmioctl::Table big;
  for (int i = 0; i < 200; ++i) {
    big.Append(8, "linear", "7:0 " + std::to_string(i * 8));
  }
  ASSERT_TRUE(f.dm.CreateDevice({.name = "big"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(DeviceRef::ByName("big"), big).ok());
  ASSERT_TRUE(f.dm.CreateDevice({.name = "small"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(DeviceRef::ByName("small"), LinearTable()).ok());
  f.kernel->sent.clear();
  auto table = f.dm.GetTable(DeviceRef::ByName("big"), /*inactive=*/true);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->targets.size(), 200u);
  ASSERT_EQ(f.kernel->sent.size(), 2u);
  EXPECT_EQ(f.kernel->sent[0].header.data_size, 4096u);
  EXPECT_EQ(f.kernel->sent[1].header.data_size, 262144u);
  // The next call starts at twice what the big reply used (not the 256 KiB
  // that fitted it); one small reply brings it back down to the minimum.
  ASSERT_TRUE(f.dm.GetTable(DeviceRef::ByName("small"), true).ok());
  uint32_t used = f.kernel->sent[1].header.data_size;  // as sent
  EXPECT_GT(f.kernel->sent.back().header.data_size, 4096u);
  EXPECT_LT(f.kernel->sent.back().header.data_size, used);
  ASSERT_TRUE(f.dm.GetTable(DeviceRef::ByName("small"), true).ok());
  EXPECT_EQ(f.kernel->sent.back().header.data_size, 4096u);
}

TEST(DeviceMapperTest, LoadAndRenameSendExactlyTheirPayload) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(DeviceRef::ByName("vol"), LinearTable()).ok());
  // One spec (40 bytes) + "7:0 0\0" padded to 8: 48 bytes of payload.
  EXPECT_EQ(f.kernel->sent.back().header.data_size, sizeof(dm_ioctl) + 48);
  ASSERT_TRUE(f.dm.Rename("vol", "new").ok());
  EXPECT_EQ(f.kernel->sent.back().header.data_size, sizeof(dm_ioctl) + 4);
}

TEST(DeviceMapperTest, BufferFullRetryBuildsAFreshHeader) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(DeviceRef::ByName("vol"), LinearTable()).ok());
  ASSERT_TRUE(f.dm.Resume(DeviceRef::ByName("vol")).ok());
  int calls = 0;
  f.kernel->overrides[DM_TABLE_STATUS_CMD] = [&](dm_ioctl* h, size_t) {
    // The first reply is BUFFER_FULL and scribbles dev into the header,
    // as the kernel does; the retry must not carry it.
    if (++calls == 1) {
      h->dev = DevNum{253, 0}.Encode();
      h->flags |= DM_BUFFER_FULL_FLAG;
      h->data_size = offsetof(dm_ioctl, data);
      return 0;
    }
    // Erasing the override destroys this lambda and its captures: nothing
    // captured may be touched after it.
    FakeKernelState* kernel = f.kernel.get();
    kernel->overrides.erase(DM_TABLE_STATUS_CMD);
    return kernel->Handle(_IOWR(DM_IOCTL, DM_TABLE_STATUS_CMD, dm_ioctl), h);
  };
  auto table = f.dm.GetTable(DeviceRef::ByName("vol"));
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->targets.size(), 1u);
  EXPECT_EQ(table->targets[0].params, "7:0 0");
  const auto& sent = f.kernel->sent;
  EXPECT_EQ(sent[sent.size() - 2].header.dev, 0u);
  // The retry (recorded again by the inner Handle() as the last entry) is
  // 64 times the first 4 KiB.
  EXPECT_EQ(sent[sent.size() - 2].header.data_size, 4096u * 64);
}

TEST(DeviceMapperTest, TableAndStatusAndInactive) {
  FakeDm f;
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  dmioctl::Table two;
  two.Append(10, "linear", "7:0 0").Append(20, "linear", "7:1 5");
  ASSERT_TRUE(f.dm.LoadTable(ref, two).ok());
  auto inactive = f.dm.GetTable(ref, /*inactive=*/true);
  ASSERT_TRUE(inactive.ok()) << inactive.status();
  EXPECT_EQ(inactive->targets, two.targets);
  EXPECT_TRUE(f.kernel->sent.back().header.flags &
              DM_QUERY_INACTIVE_TABLE_FLAG);
  EXPECT_TRUE(f.kernel->sent.back().header.flags & DM_STATUS_TABLE_FLAG);
  auto live = f.dm.GetTable(ref);
  ASSERT_TRUE(live.ok());
  EXPECT_TRUE(live->targets.empty());
  ASSERT_TRUE(f.dm.Resume(ref).ok());
  auto status = f.dm.GetStatus(ref, {.noflush = true});
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->targets.size(), 2u);
  EXPECT_EQ(status->targets[1].start, 10u);
  EXPECT_EQ(status->targets[1].type, "linear");
  EXPECT_FALSE(f.kernel->sent.back().header.flags & DM_STATUS_TABLE_FLAG);
  EXPECT_TRUE(f.kernel->sent.back().header.flags & DM_NOFLUSH_FLAG);
}

TEST(DeviceMapperTest, ClearDropsInactiveTable) {
  FakeDm f;
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(ref, LinearTable()).ok());
  auto cleared = f.dm.ClearTable(ref);
  ASSERT_TRUE(cleared.ok());
  EXPECT_FALSE(cleared->inactive_table());
  EXPECT_EQ(f.kernel->sent.back().header.data_size, sizeof(dm_ioctl));
}

TEST(DeviceMapperTest, RenameAndSetUuidPutNewValueInPayload) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "old"}).ok());
  ASSERT_TRUE(f.dm.Rename("old", "new").ok());
  const SentIoctl& s = f.kernel->sent.back();
  EXPECT_EQ(s.command, unsigned{DM_DEV_RENAME_CMD});
  EXPECT_EQ(Name(s.header), "old");
  EXPECT_EQ(Uuid(s.header), "");
  EXPECT_FALSE(s.header.flags & DM_UUID_FLAG);
  EXPECT_STREQ(s.payload.c_str(), "new");
  EXPECT_NE(f.kernel->Find("new"), nullptr);
  ASSERT_TRUE(f.dm.SetUuid("new", "U9").ok());
  EXPECT_TRUE(f.kernel->sent.back().header.flags & DM_UUID_FLAG);
  EXPECT_EQ(f.kernel->Find("new")->uuid, "U9");
  // The uuid can be set once only.
  EXPECT_THAT(f.dm.SetUuid("new", "U10").status(), HasErrno(EINVAL));
}

TEST(DeviceMapperTest, RemoveAndDeferredRemove) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  f.kernel->Find("vol")->open_count = 1;
  EXPECT_THAT(f.dm.RemoveDevice(DeviceRef::ByName("vol")).status(),
              HasErrno(EBUSY));
  auto deferred = f.dm.RemoveDevice(DeviceRef::ByName("vol"), true);
  ASSERT_TRUE(deferred.ok());
  EXPECT_TRUE(deferred->deferred_remove());
  EXPECT_TRUE(f.kernel->sent.back().header.flags & DM_DEFERRED_REMOVE);
  f.kernel->Find("vol")->open_count = 0;
  ASSERT_TRUE(f.dm.RemoveDevice(DeviceRef::ByName("vol")).ok());
  EXPECT_EQ(f.kernel->Find("vol"), nullptr);
}

TEST(DeviceMapperTest, RemoveAll) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "a"}).ok());
  ASSERT_TRUE(f.dm.CreateDevice({.name = "b"}).ok());
  f.kernel->Find("b")->open_count = 1;
  ASSERT_TRUE(f.dm.RemoveAll().ok());
  EXPECT_EQ(f.kernel->Find("a"), nullptr);
  EXPECT_NE(f.kernel->Find("b"), nullptr);
}

TEST(DeviceMapperTest, DepsOfDeviceWithoutTableIsEmpty) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  auto deps = f.dm.GetDeps(DeviceRef::ByName("vol"));
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_TRUE(deps->devices.empty());
}

TEST(DeviceMapperTest, DepsParsesDeviceNumbers) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  f.kernel->overrides[DM_TABLE_DEPS_CMD] = [](dm_ioctl* h, size_t) {
    char* p = reinterpret_cast<char*>(h) + sizeof(dm_ioctl);
    uint32_t count[2] = {2, 0};
    uint64_t devs[2] = {DevNum{7, 0}.Encode(), DevNum{8, 300}.Encode()};
    memcpy(p, count, 8);
    memcpy(p + 8, devs, 16);
    h->data_start = sizeof(dm_ioctl);
    h->data_size = sizeof(dm_ioctl) + 24;
    return 0;
  };
  auto deps = f.dm.GetDeps(DeviceRef::ByName("vol"));
  ASSERT_TRUE(deps.ok()) << deps.status();
  EXPECT_THAT(deps->devices, ElementsAre(DevNum{7, 0}, DevNum{8, 300}));
}

TEST(DeviceMapperTest, TargetVersions) {
  FakeDm f;
  auto versions = f.dm.ListTargetVersions();
  ASSERT_TRUE(versions.ok()) << versions.status();
  ASSERT_EQ(versions->size(), 4u);
  EXPECT_EQ((*versions)[3].name, "thin-pool");
  EXPECT_EQ((*versions)[3].version, (dmioctl::InterfaceVersion{1, 23, 0}));
  EXPECT_EQ(f.kernel->sent.back().header.version[1], 1u);
  auto one = f.dm.GetTargetVersion("striped");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(one->version, (dmioctl::InterfaceVersion{1, 6, 0}));
  EXPECT_EQ(Name(f.kernel->sent.back().header), "striped");
  EXPECT_EQ(f.kernel->sent.back().header.version[1], 41u);
  EXPECT_THAT(f.dm.GetTargetVersion("nosuch").status(), HasErrno(EINVAL));
}

TEST(DeviceMapperTest, OldKernelRejectsNewerCommandVersion) {
  FakeDm f;
  f.kernel->version_minor = 40;
  EXPECT_THAT(f.dm.GetTargetVersion("linear").status(), HasErrno(EINVAL));
  EXPECT_EQ(f.dm.kernel_version()[1], 40u);
}

TEST(DeviceMapperTest, MessageWithOutputAndNoRepeatOnOverflow) {
  FakeDm f;
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  // No live table: the 6.1 kernel returns 2; that is a failure.
  auto no_table = f.dm.SendMessage(ref, 0, "echo hi");
  EXPECT_THAT(no_table.status(), HasErrno(EINVAL));
  ASSERT_TRUE(f.dm.LoadTable(ref, LinearTable()).ok());
  ASSERT_TRUE(f.dm.Resume(ref).ok());
  auto out = f.dm.SendMessage(ref, 0, "echo hello");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "hello");
  const SentIoctl& s = f.kernel->sent.back();
  uint64_t sector;
  memcpy(&sector, s.payload.data(), 8);
  EXPECT_EQ(sector, 0u);
  EXPECT_STREQ(s.payload.data() + 8, "echo hello");
  auto silent = f.dm.SendMessage(ref, 0, "create_thin 1");
  ASSERT_TRUE(silent.ok());
  EXPECT_EQ(*silent, "");
  // Output too large: the message ran once and is not sent again.
  uint32_t events = f.kernel->Find("vol")->event_nr;
  size_t sent = f.kernel->sent.size();
  auto big = f.dm.SendMessage(ref, 0, "echo " + std::string(100, 'x'), 10);
  EXPECT_THAT(big.status(), HasErrno(ENOBUFS));
  EXPECT_EQ(f.kernel->sent.size(), sent + 1);
  EXPECT_EQ(f.kernel->Find("vol")->event_nr, events + 1);
  // An empty message goes to the kernel, which refuses it (as dmsetup shows).
  EXPECT_THAT(f.dm.SendMessage(ref, 0, "").status(), HasErrno(EINVAL));
}

TEST(DeviceMapperTest, WaitBufferFullFetchesStatusInsteadOfWaitingAgain) {
  FakeDm f;
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  ASSERT_TRUE(f.dm.LoadTable(ref, LinearTable()).ok());
  ASSERT_TRUE(f.dm.Resume(ref).ok());
  f.kernel->overrides[DM_DEV_WAIT_CMD] = [](dm_ioctl* h, size_t) {
    h->flags |= DM_BUFFER_FULL_FLAG;
    h->data_size = offsetof(dm_ioctl, data);
    return 0;
  };
  auto waited = f.dm.WaitEvent(ref, 0);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->targets.size(), 1u);
  const auto& sent = f.kernel->sent;
  EXPECT_EQ(sent[sent.size() - 2].command, unsigned{DM_DEV_WAIT_CMD});
  EXPECT_EQ(sent.back().command, unsigned{DM_TABLE_STATUS_CMD});
  int waits = 0;
  for (const SentIoctl& s : sent) waits += s.command == DM_DEV_WAIT_CMD;
  EXPECT_EQ(waits, 1);
}

TEST(DeviceMapperTest, WaitSendsEventNumber) {
  FakeDm f;
  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  f.kernel->Find("vol")->event_nr = 5;
  auto waited = f.dm.WaitEvent(ref, 4);
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(f.kernel->sent.back().header.event_nr, 4u);
  EXPECT_EQ(waited->info.event_nr, 5u);
}

TEST(DeviceMapperTest, SetGeometryAndArmPoll) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  ASSERT_TRUE(f.dm.SetGeometry(DeviceRef::ByName("vol"), 100, 16, 63, 0).ok());
  EXPECT_STREQ(f.kernel->sent.back().payload.c_str(), "100 16 63 0");
  ASSERT_TRUE(f.dm.ArmPoll().ok());
  EXPECT_EQ(f.kernel->sent.back().command, unsigned{DM_DEV_ARM_POLL_CMD});
  EXPECT_EQ(f.kernel->sent.back().header.version[1], 37u);
}

// Requests with no name, uuid or payload copy them from empty views whose
// data() is null; under the sanitizer build (tests/sanitize.sh) this was
// undefined behaviour (memcpy from a null pointer).
TEST(DeviceMapperTest, EmptyNameUuidAndPayloadSendZeroedFields) {
  FakeDm f;
  ASSERT_TRUE(f.dm.ListDevices({.with_uuid = false}).ok());
  ASSERT_TRUE(f.dm.ArmPoll().ok());
  ASSERT_TRUE(f.dm.RemoveAll().ok());
  for (const SentIoctl& s : f.kernel->sent) {
    EXPECT_EQ(Name(s.header), "");
    EXPECT_EQ(Uuid(s.header), "");
  }
  EXPECT_EQ(f.kernel->sent[1].header.data_size, sizeof(dm_ioctl));
}

TEST(DeviceMapperTest, PositiveIoctlReturnIsAFailure) {
  FakeDm f;
  f.kernel->overrides[DM_DEV_STATUS_CMD] = [](dm_ioctl*, size_t) { return 1; };
  EXPECT_FALSE(f.dm.GetInfo(DeviceRef::ByName("vol")).ok());
}

TEST(DeviceMapperTest, ReplyLargerThanBufferIsRejected) {
  FakeDm f;
  f.kernel->overrides[DM_LIST_DEVICES_CMD] = [](dm_ioctl* h, size_t size) {
    h->data_size = static_cast<uint32_t>(size + 8);
    return 0;
  };
  auto list = f.dm.ListDevices();
  EXPECT_THAT(list.status(), HasErrno(EPROTO));
}

TEST(DeviceMapperTest, PayloadOverlappingHeaderIsRejected) {
  FakeDm f;
  f.kernel->overrides[DM_LIST_DEVICES_CMD] = [](dm_ioctl* h, size_t) {
    h->data_start = 100;
    h->data_size = 400;
    return 0;
  };
  EXPECT_THAT(f.dm.ListDevices().status(), HasErrno(EPROTO));
}

// Found by fuzz_reply_deps: a reply whose name field has no NUL gave a
// 128-byte DeviceInfo::name (and a uuid field without one a 129-byte uuid).
TEST(DeviceMapperTest, UnterminatedNameOrUuidInReplyIsRejected) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  f.kernel->overrides[DM_DEV_STATUS_CMD] = [](dm_ioctl* h, size_t) {
    memset(h->name, 's', sizeof(h->name));
    h->data_size = offsetof(dm_ioctl, data);
    return 0;
  };
  EXPECT_THAT(f.dm.GetInfo(DeviceRef::ByName("vol")).status(),
              HasErrno(EPROTO));
  f.kernel->overrides[DM_TABLE_DEPS_CMD] = [](dm_ioctl* h, size_t) {
    memset(h->uuid, 'u', sizeof(h->uuid));
    h->data_size = offsetof(dm_ioctl, data);
    return 0;
  };
  EXPECT_THAT(f.dm.GetDeps(DeviceRef::ByName("vol")).status(),
              HasErrno(EPROTO));
  // Full-length values that are terminated are fine.
  f.kernel->overrides[DM_DEV_STATUS_CMD] = [](dm_ioctl* h, size_t) {
    memset(h->name, 'n', sizeof(h->name) - 1);
    h->name[sizeof(h->name) - 1] = '\0';
    memset(h->uuid, 'u', sizeof(h->uuid) - 1);
    h->uuid[sizeof(h->uuid) - 1] = '\0';
    h->data_size = offsetof(dm_ioctl, data);
    return 0;
  };
  auto info = f.dm.GetInfo(DeviceRef::ByName("vol"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name.size(), dmioctl::kMaxNameLength);
  EXPECT_EQ(info->uuid.size(), dmioctl::kMaxUuidLength);
}

TEST(DeviceMapperTest, NameTerminatedBeforeGarbageInLastByteIsAccepted) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  f.kernel->overrides[DM_DEV_STATUS_CMD] = [](dm_ioctl* h, size_t) {
    memset(h->name, 'g', sizeof(h->name));
    memcpy(h->name, "vol", 4);
    memset(h->uuid, 'g', sizeof(h->uuid));
    h->uuid[5] = '\0';
    h->data_size = offsetof(dm_ioctl, data);
    return 0;
  };
  auto info = f.dm.GetInfo(DeviceRef::ByName("vol"));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "vol");
  EXPECT_EQ(info->uuid, "ggggg");
}

// The reusing forms give what the returning forms give, whatever the
// result held before: longer lists shrink, stale uuids and event numbers
// go, extra targets go.
TEST(DeviceMapperTest, ReusingFormsOverwriteStaleResults) {
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "b", .uuid = "UB"}).ok());
  ASSERT_TRUE(f.dm.CreateDevice({.name = "a"}).ok());
  ASSERT_TRUE(f.dm.CreateDevice({.name = "c", .uuid = "UC"}).ok());

  std::vector<dmioctl::DeviceListEntry> list;
  ASSERT_TRUE(f.dm.ListDevices({}, &list).ok());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1].uuid, "UB");
  // Without uuids, and after a device went: no stale uuid, no third entry.
  ASSERT_TRUE(f.dm.RemoveDevice(DeviceRef::ByName("a")).ok());
  ASSERT_TRUE(f.dm.ListDevices({.with_uuid = false}, &list).ok());
  auto fresh = f.dm.ListDevices({.with_uuid = false});
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(list.size(), 2u);
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].name, (*fresh)[i].name);
    EXPECT_EQ(list[i].dev, (*fresh)[i].dev);
    EXPECT_EQ(list[i].event_nr, (*fresh)[i].event_nr);
    EXPECT_FALSE(list[i].uuid.has_value());
  }
  // An older kernel's layout has no event numbers: the old ones are reset.
  f.kernel->overrides[DM_LIST_DEVICES_CMD] = OldKernelListReply;
  f.kernel->version_minor = 36;
  ASSERT_TRUE(f.dm.Version().ok());
  ASSERT_TRUE(f.dm.ListDevices({}, &list).ok());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "old");
  EXPECT_FALSE(list[0].event_nr.has_value());
  EXPECT_FALSE(list[0].uuid.has_value());
  f.kernel->overrides.erase(DM_LIST_DEVICES_CMD);
  ASSERT_TRUE(f.dm.RemoveDevice(DeviceRef::ByName("b")).ok());
  ASSERT_TRUE(f.dm.RemoveDevice(DeviceRef::ByName("c")).ok());
  ASSERT_TRUE(f.dm.ListDevices({}, &list).ok());
  EXPECT_TRUE(list.empty());

  auto ref = DeviceRef::ByName("vol");
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  dmioctl::TableReply reply;
  reply.info.name = "something else entirely, and long";
  reply.info.uuid = "STALE";
  reply.targets.resize(3,
                       {.start = 1, .length = 2, .type = "x", .params = "y"});
  dmioctl::Table one;
  one.Append(10, "linear", "7:0 0");
  ASSERT_TRUE(f.dm.LoadTable(ref, one).ok());
  ASSERT_TRUE(f.dm.GetTable(ref, /*inactive=*/true, &reply).ok());
  EXPECT_EQ(reply.info.name, "vol");
  EXPECT_EQ(reply.info.uuid, "");
  EXPECT_EQ(reply.targets, one.targets);
  ASSERT_TRUE(f.dm.Resume(ref).ok());
  ASSERT_TRUE(f.dm.GetStatus(ref, {}, &reply).ok());
  auto status = f.dm.GetStatus(ref);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(reply.targets, status->targets);
  EXPECT_EQ(reply.info.flags, status->info.flags);

  dmioctl::DeviceInfo info;
  info.uuid = "STALE";
  ASSERT_TRUE(f.dm.GetInfo(ref, false, &info).ok());
  EXPECT_EQ(info.name, "vol");
  EXPECT_EQ(info.uuid, "");
  EXPECT_TRUE(info.live_table());
  EXPECT_THAT(f.dm.GetInfo(DeviceRef::ByName("gone"), false, &info),
              HasErrno(ENXIO));
}

// Found by fuzz_reply_versions and fuzz_reply_status: the ioctl buffer was
// reused uninitialised (on the stack up to 4 KiB, from the DeviceMapper's
// buffer cache beyond), so a reply whose data_size covered bytes the kernel
// never wrote decoded what an earlier call had left there: another device's
// table (a crypt key) or names. Everything after the request is zero when
// the kernel gets it.
TEST(DeviceMapperTest, BytesTheKernelDidNotWriteAreZeroNotAnEarlierReply) {
  auto zero_after_request = [](const dm_ioctl* h, size_t size) {
    const char* p = reinterpret_cast<const char*>(h);
    return std::all_of(p + sizeof(dm_ioctl), p + size,
                       [](char c) { return c == '\0'; });
  };
  // First call: the whole buffer written with a crypt target whose params
  // run to its last byte, and the reply says so (data_size is the whole
  // buffer; the kernel copies back exactly data_size bytes, so what lies
  // past it is ours, not the kernel's). Only the status reply is decodable.
  auto fill = [](dm_ioctl* h, size_t size) {
    char* p = reinterpret_cast<char*>(h);
    dm_target_spec spec{};
    spec.length = 2048;
    strcpy(spec.target_type, "crypt");
    memcpy(p + sizeof(dm_ioctl), &spec, sizeof(spec));
    char* text = p + sizeof(dm_ioctl) + sizeof(spec);
    memset(text, 'k', p + size - 1 - text);
    p[size - 1] = '\0';
    h->target_count = 1;
    h->data_start = sizeof(dm_ioctl);
    h->data_size = static_cast<uint32_t>(size);
  };
  // Second call, same command: data_size covers the whole buffer, nothing
  // written after the header.
  auto header_only = [](dm_ioctl* h, size_t size) {
    h->target_count = 1;
    h->data_start = sizeof(dm_ioctl);
    h->data_size = static_cast<uint32_t>(size);
  };
  // The 4 KiB status buffer is the thread's scratch buffer; the 16 KiB list
  // buffer comes back from the cache the first call gave it to.
  for (unsigned command : {DM_TABLE_STATUS_CMD, DM_LIST_DEVICES_CMD}) {
    SCOPED_TRACE(command);
    FakeDm f;
    bool zeroed = true;
    int calls = 0;
    f.kernel->overrides[command] = [&](dm_ioctl* h, size_t size) {
      zeroed = zeroed && zero_after_request(h, size);
      if (++calls == 1) {
        fill(h, size);
      } else {
        header_only(h, size);
      }
      return 0;
    };
    if (command == DM_TABLE_STATUS_CMD) {
      ASSERT_TRUE(f.dm.GetTable(DeviceRef::ByName("vol")).ok());
      auto table = f.dm.GetTable(DeviceRef::ByName("vol"));
      ASSERT_TRUE(table.ok()) << table.status();
      ASSERT_EQ(table->targets.size(), 1u);
      EXPECT_EQ(table->targets[0].type, "");
      EXPECT_EQ(table->targets[0].params, "");
    } else {
      f.dm.ListDevices().status().IgnoreError();  // garbage, malformed
      auto list = f.dm.ListDevices();
      ASSERT_TRUE(list.ok()) << list.status();
      EXPECT_TRUE(list->empty());
    }
    EXPECT_EQ(calls, 2);
    EXPECT_TRUE(zeroed);
  }
}

TEST(DeviceMapperTest, InjectedErrnoIsReported) {
  FakeDm f;
  f.kernel->fail_at = 1;
  f.kernel->fail_errno = EACCES;
  auto info = f.dm.GetInfo(DeviceRef::ByName("vol"));
  EXPECT_THAT(info.status(), HasErrno(EACCES));
  EXPECT_EQ(info.status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace dmkit::testing
