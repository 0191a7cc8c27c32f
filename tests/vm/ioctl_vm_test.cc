// One or more tests per device-mapper ioctl, each checking the library's
// reply against what the kernel shows elsewhere: /dev/dm-N, /sys/block/dm-N,
// /proc/devices, HDIO_GETGEO, and data read through the device.
#include <fcntl.h>
#include <linux/hdreg.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmioctl::CreateRequest;
using dmioctl::DeviceListEntry;
using dmioctl::DevNum;
using dmioctl::TargetVersion;

// The block major registered as "device-mapper" in /proc/devices.
uint32_t DeviceMapperMajor() {
  std::optional<std::string> text = ReadFile("/proc/devices");
  if (!text) return 0;
  bool block = false;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (line == "Block devices:") block = true;
    if (!block) continue;
    std::pair<absl::string_view, absl::string_view> f =
        absl::StrSplit(absl::StripLeadingAsciiWhitespace(line), ' ');
    uint32_t major;
    if (f.second == "device-mapper" && absl::SimpleAtoi(f.first, &major)) {
      return major;
    }
  }
  return 0;
}

class Ioctl : public DmVmTest {};

// --- DM_VERSION
// ---------------------------------------------------------------

TEST_F(Ioctl, VersionReportsInterfaceFourAndIsCachedEvenFromFailedReplies) {
  ASSERT_OK_AND_ASSIGN(dmioctl::InterfaceVersion v, dm().Version());
  printf("[dmkvm] kernel dm ioctl interface %u.%u.%u\n", v[0], v[1], v[2]);
  EXPECT_EQ(v[0], 4u);
  // Everything this suite uses: uuids in lists (4.45) and target versions.
  EXPECT_GE(v[1], 45u);
  EXPECT_EQ(dm().kernel_version(), v);

  // A fresh instance learns the version from a reply that failed.
  ASSERT_OK_AND_ASSIGN(auto fresh, dmioctl::DeviceMapper::Open());
  EXPECT_EQ(fresh->kernel_version(), (dmioctl::InterfaceVersion{0, 0, 0}));
  EXPECT_ERRNO(fresh->GetInfo(DeviceRef::ByName(Name("absent"))), ENXIO);
  EXPECT_EQ(fresh->kernel_version(), v);
}

// --- DM_DEV_CREATE
// ------------------------------------------------------------

TEST_F(Ioctl, CreateMakesNoDiskUntilTheFirstTableLoad) {
  ASSERT_OK_AND_ASSIGN(
      DeviceInfo created,
      dm().CreateDevice({.name = Name("a"), .uuid = Uuid("a")}));
  ScopedDevice guard(&dm(), Name("a"), nullptr);
  EXPECT_EQ(created.name, Name("a"));
  EXPECT_EQ(created.uuid, Uuid("a"));
  EXPECT_EQ(created.dev.major, DeviceMapperMajor());
  EXPECT_FALSE(created.suspended());
  EXPECT_FALSE(created.live_table());
  EXPECT_FALSE(created.inactive_table());
  EXPECT_EQ(created.target_count, 0u);
  EXPECT_EQ(created.open_count, 0);

  // Since 5.15 the gendisk is added at the first load, not at create.
  EXPECT_FALSE(PathExists(DmNode(created.dev)));
  EXPECT_FALSE(PathExists(absl::StrCat("/sys/block/dm-", created.dev.minor)));

  ASSERT_OK_AND_ASSIGN(DeviceInfo loaded,
                       dm().LoadTable(DeviceRef::ByName(Name("a")),
                                      OneTarget(targets::Zero(0, 64))));
  EXPECT_TRUE(loaded.inactive_table());
  EXPECT_FALSE(loaded.live_table());
  struct stat st;
  ASSERT_EQ(stat(DmNode(created.dev).c_str(), &st), 0) << DmNode(created.dev);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(DevNum::FromDevT(st.st_rdev), created.dev);
  EXPECT_EQ(SysBlock(created.dev, "dm/name"), Name("a"));
  EXPECT_EQ(SysBlock(created.dev, "dm/uuid"), Uuid("a"));
  EXPECT_EQ(SysBlock(created.dev, "dm/suspended"), "0");
  EXPECT_EQ(SysBlock(created.dev, "dev"), created.dev.ToString());
  // Loaded but not resumed: no live table, so no size yet.
  EXPECT_EQ(SysBlock(created.dev, "size"), "0");
}

TEST_F(Ioctl, CreateWithPersistentMinorUsesItAndACollisionIsEnxio) {
  constexpr uint32_t kMinor = 200;
  ASSERT_OK_AND_ASSIGN(DeviceInfo created,
                       dm().CreateDevice({.name = Name("a"), .minor = kMinor}));
  ScopedDevice guard(&dm(), Name("a"), nullptr);
  EXPECT_EQ(created.dev.minor, kMinor);
  EXPECT_EQ(created.dev.major, DeviceMapperMajor());
  // A minor in use is ENXIO, not EBUSY (dm_create maps every alloc_dev
  // failure to ENXIO).
  EXPECT_ERRNO(dm().CreateDevice({.name = Name("b"), .minor = kMinor}), ENXIO);
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("b"))), ENXIO);
}

TEST_F(Ioctl, MinorsAreReusedImmediatelyAfterRemove) {
  ASSERT_OK_AND_ASSIGN(DeviceInfo first,
                       dm().CreateDevice({.name = Name("a")}));
  ASSERT_OK(dm().RemoveDevice(DeviceRef::ByName(Name("a"))));
  ASSERT_OK_AND_ASSIGN(DeviceInfo second,
                       dm().CreateDevice({.name = Name("b")}));
  ScopedDevice guard(&dm(), Name("b"), nullptr);
  EXPECT_EQ(second.dev, first.dev);
}

// --- DM_DEV_REMOVE
// ------------------------------------------------------------

TEST_F(Ioctl, RemoveTakesDiskNodeAndSysfsAway) {
  ASSERT_OK_AND_ASSIGN(
      DeviceInfo created,
      dmioctl::CreateDevice(dm(), Name("a"), OneTarget(targets::Zero(0, 64)),
                            {.uuid = Uuid("a")}));
  ASSERT_TRUE(PathExists(DmNode(created.dev)));
  ASSERT_TRUE(SysBlock(created.dev, "dm/name").has_value());

  ASSERT_OK_AND_ASSIGN(DeviceInfo removed,
                       dm().RemoveDevice(DeviceRef::ByUuid(Uuid("a"))));
  // The reply names the device (found by uuid) and reports the uevent.
  EXPECT_EQ(removed.name, Name("a"));
  EXPECT_EQ(removed.uuid, Uuid("a"));
  EXPECT_TRUE(removed.uevent_generated());
  // No __dev_status on remove: the reply's dev is the request's (none).
  EXPECT_TRUE(removed.dev.IsZero()) << removed.dev.ToString();
  EXPECT_FALSE(PathExists(DmNode(created.dev)));
  EXPECT_FALSE(PathExists(absl::StrCat("/sys/block/dm-", created.dev.minor)));
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("a"))), ENXIO);
  ASSERT_OK_AND_ASSIGN(auto list, dm().ListDevices({.name_prefix = Name("")}));
  EXPECT_TRUE(list.empty());
}

// --- DM_LIST_DEVICES
// ----------------------------------------------------------

TEST_F(Ioctl, ListDevicesGivesSortedNamesUuidsAndEventNumbers) {
  // Created out of order; the kernel keeps an rb-tree sorted by name.
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice c,
      MakeDevice("c", OneTarget(targets::Zero(0, 8)), {.uuid = Uuid("c")}));
  ASSERT_OK_AND_ASSIGN(ScopedDevice a,
                       MakeDevice("a", Table(), {.uuid = Uuid("a")}));
  ASSERT_OK_AND_ASSIGN(ScopedDevice b, MakeDevice("b", Table()));
  // Two rename round trips give c's event counter a value of its own.
  ASSERT_OK(dm().Rename(Name("c"), Name("c2")));
  ASSERT_OK(dm().Rename(Name("c2"), Name("c")));

  ASSERT_OK_AND_ASSIGN(std::vector<DeviceListEntry> list,
                       dm().ListDevices({.name_prefix = Name("")}));
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].name, Name("a"));
  EXPECT_EQ(list[1].name, Name("b"));
  EXPECT_EQ(list[2].name, Name("c"));
  EXPECT_EQ(list[0].uuid, Uuid("a"));
  EXPECT_EQ(list[1].uuid, std::string());  // asked for, has none
  EXPECT_EQ(list[2].uuid, Uuid("c"));
  for (const DeviceListEntry& e : list) {
    ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                         dm().GetInfo(DeviceRef::ByName(e.name)));
    EXPECT_EQ(e.dev, info.dev) << e.name;
    ASSERT_TRUE(e.event_nr.has_value()) << e.name;
    EXPECT_EQ(*e.event_nr, info.event_nr) << e.name;
  }
  EXPECT_EQ(*list[0].event_nr, 0u);
  EXPECT_EQ(*list[2].event_nr, 2u);

  // Without DM_UUID_FLAG no uuid is reported at all.
  ASSERT_OK_AND_ASSIGN(auto plain, dm().ListDevices({.with_uuid = false,
                                                     .name_prefix = Name("")}));
  ASSERT_EQ(plain.size(), 3u);
  for (const DeviceListEntry& e : plain) EXPECT_FALSE(e.uuid.has_value());

  // Prefix filters (4.45): by uuid and by name.
  ASSERT_OK_AND_ASSIGN(auto by_uuid,
                       dm().ListDevices({.uuid_prefix = Uuid("")}));
  ASSERT_EQ(by_uuid.size(), 2u);
  EXPECT_EQ(by_uuid[0].name, Name("a"));
  EXPECT_EQ(by_uuid[1].name, Name("c"));
  ASSERT_OK_AND_ASSIGN(auto by_name,
                       dm().ListDevices({.name_prefix = Name("b")}));
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0].dev, b.dev());
}

// --- DM_DEV_RENAME
// ------------------------------------------------------------

TEST_F(Ioctl, RenameMovesSysfsNameBumpsEventNrAndRepliesWithOldName) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("old", OneTarget(targets::Zero(0, 64))));
  dev.Release();
  ScopedDevice guard(&dm(), Name("new"), nullptr);
  ASSERT_OK_AND_ASSIGN(DeviceInfo before,
                       dm().GetInfo(DeviceRef::ByName(Name("old"))));

  ASSERT_OK_AND_ASSIGN(DeviceInfo renamed,
                       dm().Rename(Name("old"), Name("new")));
  // The header keeps the old name (the lookup wrote it) ...
  EXPECT_EQ(renamed.name, Name("old"));
  EXPECT_EQ(renamed.dev, before.dev);
  EXPECT_TRUE(renamed.uevent_generated());
  // ... and the live table's event fired.
  EXPECT_EQ(renamed.event_nr, before.event_nr + 1);
  EXPECT_EQ(SysBlock(before.dev, "dm/name"), Name("new"));
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("old"))), ENXIO);
  ASSERT_OK_AND_ASSIGN(DeviceInfo after,
                       dm().GetInfo(DeviceRef::ByName(Name("new"))));
  EXPECT_EQ(after.dev, before.dev);
  EXPECT_EQ(after.event_nr, before.event_nr + 1);
}

TEST_F(Ioctl, SetUuidOnceShowsInSysfsAndLookups) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  EXPECT_EQ(SysBlock(dev.dev(), "dm/uuid"), "");
  ASSERT_OK_AND_ASSIGN(DeviceInfo set, dm().SetUuid(Name("a"), Uuid("a")));
  EXPECT_EQ(set.dev, dev.dev());
  EXPECT_EQ(SysBlock(dev.dev(), "dm/uuid"), Uuid("a"));
  ASSERT_OK_AND_ASSIGN(DeviceInfo by_uuid,
                       dm().GetInfo(DeviceRef::ByUuid(Uuid("a"))));
  EXPECT_EQ(by_uuid.name, Name("a"));
  // A uuid can be set only once.
  EXPECT_ERRNO(dm().SetUuid(Name("a"), Uuid("other")), EINVAL);
  EXPECT_EQ(SysBlock(dev.dev(), "dm/uuid"), Uuid("a"));
}

// --- DM_DEV_SUSPEND
// -----------------------------------------------------------

TEST_F(Ioctl, SuspendAndResumeShowInSysfs) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo suspended, dm().Suspend(ref));
  EXPECT_TRUE(suspended.suspended());
  EXPECT_EQ(SysBlock(dev.dev(), "dm/suspended"), "1");
  // Suspending a suspended device only reports its state.
  ASSERT_OK_AND_ASSIGN(DeviceInfo again, dm().Suspend(ref));
  EXPECT_TRUE(again.suspended());
  ASSERT_OK_AND_ASSIGN(DeviceInfo resumed, dm().Resume(ref));
  EXPECT_FALSE(resumed.suspended());
  EXPECT_TRUE(resumed.live_table());
  EXPECT_EQ(SysBlock(dev.dev(), "dm/suspended"), "0");
  // Resume of a running device without an inactive table is a no-op.
  ASSERT_OK_AND_ASSIGN(DeviceInfo noop, dm().Resume(ref));
  EXPECT_FALSE(noop.suspended());
}

TEST_F(Ioctl, ResumeOfASuspendedDeviceWithoutAnyTableIsEinval) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", Table()));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(DeviceInfo suspended, dm().Suspend(ref));
  EXPECT_TRUE(suspended.suspended());
  EXPECT_ERRNO(dm().Resume(ref), EINVAL);
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(ref));
  EXPECT_TRUE(info.suspended());
  // Giving it a table lets it resume.
  ASSERT_OK(dm().LoadTable(ref, OneTarget(targets::Zero(0, 8))));
  ASSERT_OK_AND_ASSIGN(DeviceInfo resumed, dm().Resume(ref));
  EXPECT_FALSE(resumed.suspended());
  EXPECT_TRUE(resumed.live_table());
}

// --- DM_DEV_STATUS
// ------------------------------------------------------------

TEST_F(Ioctl, StatusCountsOpensAndTargets) {
  Table table;
  table.Append(8, "zero", "").Append(16, "error", "").Append(8, "zero", "");
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", table));
  DeviceRef ref = DeviceRef::ByDevNum(dev.dev());
  ASSERT_OK_AND_ASSIGN(DeviceInfo info, dm().GetInfo(ref));
  EXPECT_EQ(info.name, dev.name());
  EXPECT_EQ(info.target_count, 3u);
  EXPECT_EQ(info.open_count, 0);
  EXPECT_TRUE(info.live_table());
  EXPECT_FALSE(info.read_only());
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "32");
  {
    ASSERT_OK_AND_ASSIGN(Fd one, Open(DmNode(dev.dev()), O_RDONLY));
    ASSERT_OK_AND_ASSIGN(Fd two, Open(DmNode(dev.dev()), O_RDONLY));
    ASSERT_OK_AND_ASSIGN(DeviceInfo open2, dm().GetInfo(ref));
    EXPECT_EQ(open2.open_count, 2);
  }
  ASSERT_OK_AND_ASSIGN(DeviceInfo closed, dm().GetInfo(ref));
  EXPECT_EQ(closed.open_count, 0);
}

TEST_F(Ioctl, ReadOnlyTableMakesTheDiskReadOnly) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(1 << 20));
  Table table =
      OneTarget(targets::Linear(0, loop.sectors(), loop.dev_string(), 0));
  table.read_only = true;
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("ro", table));
  ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                       dm().GetInfo(DeviceRef::ByName(dev.name())));
  EXPECT_TRUE(info.read_only());
  EXPECT_EQ(SysBlock(dev.dev(), "ro"), "1");
  // dm does not refuse a writable open; the block layer refuses the write.
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_WRONLY | O_DIRECT));
  EXPECT_ERRNO(WriteDirectFd(fd.get(), 0, Pattern(4096, 9)), EPERM);
  fd.Close();
  ASSERT_OK(loop.WriteBacking(0, Pattern(4096, 1)));
  ASSERT_OK_AND_ASSIGN(std::string data,
                       ReadDirect(DmNode(dev.dev()), 0, 4096));
  EXPECT_EQ(data, Pattern(4096, 1));
}

// --- DM_TABLE_LOAD, DM_TABLE_STATUS (table and inactive), DM_TABLE_CLEAR ----

TEST_F(Ioctl, LoadFillsTheInactiveSlotAndResumeSwapsIt) {
  ASSERT_OK_AND_ASSIGN(TempLoop first, TempLoop::Create(1 << 20));
  ASSERT_OK_AND_ASSIGN(TempLoop second, TempLoop::Create(2 << 20));
  ASSERT_OK(first.WriteBacking(0, Pattern(4096, 1)));
  ASSERT_OK(second.WriteBacking(0, Pattern(4096, 2)));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeLinear("a", first));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  std::string node = DmNode(dev.dev());

  Table next =
      OneTarget(targets::Linear(0, second.sectors(), second.path(), 0));
  next.Append(8, "zero", "");
  ASSERT_OK_AND_ASSIGN(DeviceInfo loaded, dm().LoadTable(ref, next));
  EXPECT_TRUE(loaded.inactive_table());
  EXPECT_TRUE(loaded.live_table());
  EXPECT_EQ(loaded.target_count, 1u);  // the live table's

  // The live table still serves I/O.
  ASSERT_OK_AND_ASSIGN(std::string live_data, ReadDirect(node, 0, 4096));
  EXPECT_EQ(live_data, Pattern(4096, 1));
  EXPECT_EQ(SysBlock(dev.dev(), "size"), absl::StrCat(first.sectors()));

  // Inactive queries describe the loaded table; the kernel turned the path
  // into MAJ:MIN.
  ASSERT_OK_AND_ASSIGN(DeviceInfo inactive_info,
                       dm().GetInfo(ref, /*inactive=*/true));
  EXPECT_EQ(inactive_info.target_count, 2u);
  ASSERT_OK_AND_ASSIGN(TableReply inactive,
                       dm().GetTable(ref, /*inactive=*/true));
  ASSERT_EQ(inactive.targets.size(), 2u);
  EXPECT_EQ(inactive.targets[0].type, "linear");
  EXPECT_EQ(inactive.targets[0].params,
            absl::StrCat(second.dev_string(), " 0"));
  EXPECT_EQ(inactive.targets[1].type, "zero");
  EXPECT_EQ(inactive.targets[1].start, second.sectors());
  ASSERT_OK_AND_ASSIGN(TableReply live, dm().GetTable(ref));
  ASSERT_EQ(live.targets.size(), 1u);
  EXPECT_EQ(live.targets[0].params, absl::StrCat(first.dev_string(), " 0"));

  // Resume swaps (with an implicit suspend).
  ASSERT_OK_AND_ASSIGN(DeviceInfo resumed, dm().Resume(ref));
  EXPECT_FALSE(resumed.inactive_table());
  EXPECT_FALSE(resumed.suspended());
  EXPECT_EQ(resumed.target_count, 2u);
  EXPECT_EQ(SysBlock(dev.dev(), "size"), absl::StrCat(second.sectors() + 8));
  ASSERT_OK_AND_ASSIGN(std::string swapped, ReadDirect(node, 0, 4096));
  EXPECT_EQ(swapped, Pattern(4096, 2));
}

TEST_F(Ioctl, ClearDropsOnlyTheInactiveTable) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK(dm().LoadTable(ref, OneTarget(targets::Error(0, 128))));
  ASSERT_OK_AND_ASSIGN(DeviceInfo cleared, dm().ClearTable(ref));
  EXPECT_FALSE(cleared.inactive_table());
  EXPECT_TRUE(cleared.live_table());
  ASSERT_OK_AND_ASSIGN(TableReply inactive, dm().GetTable(ref, true));
  EXPECT_TRUE(inactive.targets.empty());
  EXPECT_EQ(inactive.info.target_count, 0u);
  // Resume now has nothing to swap: the zero table stays.
  ASSERT_OK(dm().Resume(ref));
  ASSERT_OK_AND_ASSIGN(TableReply live, dm().GetTable(ref));
  ASSERT_EQ(live.targets.size(), 1u);
  EXPECT_EQ(live.targets[0].type, "zero");
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "64");
}

TEST_F(Ioctl, StatusAndTableTextOfLinear) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(1 << 20));
  Table table;
  table.Append(512, "linear", absl::StrCat(loop.path(), " 1024"));
  table.Append(512, "linear", absl::StrCat(loop.dev_string(), " 0"));
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", table));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK_AND_ASSIGN(TableReply t, dm().GetTable(ref));
  ASSERT_EQ(t.targets.size(), 2u);
  EXPECT_EQ(t.targets[0],
            (dmioctl::Target{0, 512, "linear",
                             absl::StrCat(loop.dev_string(), " 1024")}));
  EXPECT_EQ(t.targets[1],
            (dmioctl::Target{512, 512, "linear",
                             absl::StrCat(loop.dev_string(), " 0")}));
  // INFO status of linear is empty.
  ASSERT_OK_AND_ASSIGN(TableReply s, dm().GetStatus(ref));
  ASSERT_EQ(s.targets.size(), 2u);
  EXPECT_EQ(s.targets[0].params, "");
  EXPECT_EQ(s.targets[1].type, "linear");
}

// --- DM_TABLE_DEPS
// ------------------------------------------------------------

TEST_F(Ioctl, DepsMatchSysfsSlavesAndHolders) {
  ASSERT_OK_AND_ASSIGN(TempLoop a, TempLoop::Create(1 << 20));
  ASSERT_OK_AND_ASSIGN(TempLoop b, TempLoop::Create(1 << 20));
  Table table;
  table.Append(a.sectors(), "linear", absl::StrCat(a.dev_string(), " 0"));
  table.Append(b.sectors(), "linear", absl::StrCat(b.dev_string(), " 0"));
  table.Append(64, "linear", absl::StrCat(a.dev_string(), " 0"));  // a again
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", table));
  ASSERT_OK_AND_ASSIGN(dmioctl::DepsReply deps,
                       dm().GetDeps(DeviceRef::ByName(dev.name())));
  std::set<std::string> got;
  for (const DevNum& d : deps.devices) got.insert(d.ToString());
  EXPECT_EQ(deps.devices.size(), 2u);  // each device once
  EXPECT_EQ(got, (std::set<std::string>{a.dev_string(), b.dev_string()}));
  // The kernel's own view of the same relation.
  std::string slaves =
      absl::StrCat("/sys/block/dm-", dev.dev().minor, "/slaves/");
  std::string loop_a = a.path().substr(strlen("/dev/"));
  std::string loop_b = b.path().substr(strlen("/dev/"));
  EXPECT_TRUE(PathExists(slaves + loop_a));
  EXPECT_TRUE(PathExists(slaves + loop_b));
  EXPECT_TRUE(PathExists(
      absl::StrCat("/sys/block/", loop_a, "/holders/dm-", dev.dev().minor)));

  // A device without a table has no deps; the inactive table has its own.
  ASSERT_OK_AND_ASSIGN(ScopedDevice bare, MakeDevice("bare", Table()));
  ASSERT_OK_AND_ASSIGN(auto none, dm().GetDeps(DeviceRef::ByName(bare.name())));
  EXPECT_TRUE(none.devices.empty());
  ASSERT_OK(
      dm().LoadTable(DeviceRef::ByName(bare.name()),
                     OneTarget(targets::Linear(0, 8, b.dev_string(), 0))));
  ASSERT_OK_AND_ASSIGN(auto live_deps,
                       dm().GetDeps(DeviceRef::ByName(bare.name())));
  EXPECT_TRUE(live_deps.devices.empty());
  ASSERT_OK_AND_ASSIGN(auto inactive_deps,
                       dm().GetDeps(DeviceRef::ByName(bare.name()), true));
  ASSERT_EQ(inactive_deps.devices.size(), 1u);
  EXPECT_EQ(inactive_deps.devices[0], b.dev());
}

// --- DM_LIST_VERSIONS, DM_GET_TARGET_VERSION
// ----------------------------------

TEST_F(Ioctl, ListVersionsHasTheLoadedTargetsAndAgreesWithGetTargetVersion) {
  ASSERT_OK_AND_ASSIGN(std::vector<TargetVersion> versions,
                       dm().ListTargetVersions());
  std::set<std::string> names;
  for (const TargetVersion& v : versions) {
    names.insert(v.name);
    EXPECT_TRUE(v.version[0] > 0 || v.version[1] > 0) << v.name;
  }
  // Built into dm-mod, and from the modules the harness loaded.
  for (const char* type :
       {"linear", "striped", "error", "zero", "thin-pool", "thin", "snapshot",
        "snapshot-origin", "snapshot-merge", "flakey", "delay"}) {
    EXPECT_TRUE(names.contains(type)) << type;
  }
  for (const TargetVersion& v : versions) {
    ASSERT_OK_AND_ASSIGN(TargetVersion one, dm().GetTargetVersion(v.name));
    EXPECT_EQ(one.name, v.name);
    EXPECT_EQ(one.version, v.version) << v.name;
  }
}

TEST_F(Ioctl, GetTargetVersionOfAnUnknownTypeIsEinval) {
  EXPECT_ERRNO(dm().GetTargetVersion("dmkvm-nosuch"), EINVAL);
}

// The harness ships the dm-unstripe module (target "unstriped", module
// alias dm-unstriped) without loading it; asking for the target's version
// makes the kernel run /sbin/modprobe dm-unstriped and then answer.
TEST_F(Ioctl, GetTargetVersionAutoloadsTheTargetModule) {
  if (PathExists("/sys/module/dm_unstripe")) {
    GTEST_SKIP() << "dm_unstripe is already loaded; cannot test autoload";
  }
  if (!PathExists("/sbin/modprobe")) {
    GTEST_SKIP()
        << "no /sbin/modprobe in this guest; the kernel cannot autoload";
  }
  ASSERT_OK_AND_ASSIGN(std::vector<TargetVersion> before,
                       dm().ListTargetVersions());
  for (const TargetVersion& v : before) ASSERT_NE(v.name, "unstriped");
  ASSERT_OK_AND_ASSIGN(TargetVersion v, dm().GetTargetVersion("unstriped"));
  EXPECT_EQ(v.name, "unstriped");
  EXPECT_GE(v.version[0], 1u);
  EXPECT_TRUE(PathExists("/sys/module/dm_unstripe"));
  ASSERT_OK_AND_ASSIGN(std::vector<TargetVersion> after,
                       dm().ListTargetVersions());
  auto listed = std::find_if(
      after.begin(), after.end(),
      [](const TargetVersion& t) { return t.name == "unstriped"; });
  ASSERT_NE(listed, after.end());
  EXPECT_EQ(listed->version, v.version);
}

// --- DM_DEV_SET_GEOMETRY
// ------------------------------------------------------

TEST_F(Ioctl, SetGeometryIsWhatHdioGetgeoReports) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 1 << 20))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  ASSERT_OK(dm().SetGeometry(ref, 1000, 16, 63, 2048));
  ASSERT_OK_AND_ASSIGN(Fd fd, Open(DmNode(dev.dev()), O_RDONLY));
  hd_geometry geo{};
  ASSERT_EQ(ioctl(fd.get(), HDIO_GETGEO, &geo), 0) << strerror(errno);
  EXPECT_EQ(geo.cylinders, 1000);
  EXPECT_EQ(geo.heads, 16);
  EXPECT_EQ(geo.sectors, 63);
  EXPECT_EQ(geo.start, 2048ul);
  // Out of range: the kernel's limits (cylinders <= 65535, heads and sectors
  // <= 255).
  EXPECT_ERRNO(dm().SetGeometry(ref, 70000, 16, 63, 0), EINVAL);
  EXPECT_ERRNO(dm().SetGeometry(ref, 100, 256, 63, 0), EINVAL);
  // start may not exceed cylinders * heads * sectors (1,008,000 here).
  EXPECT_ERRNO(dm().SetGeometry(ref, 1000, 16, 63, 1008001), EINVAL);
  EXPECT_ERRNO(dm().SetGeometry(DeviceRef::ByName(Name("absent")), 1, 1, 1, 0),
               ENXIO);
  // A rejected geometry leaves the old one.
  hd_geometry again{};
  ASSERT_EQ(ioctl(fd.get(), HDIO_GETGEO, &again), 0);
  EXPECT_EQ(again.cylinders, 1000);
}

// --- DM_TARGET_MSG (core paths; thin-pool messages are in thin_vm_test) ------

TEST_F(Ioctl, MessageToATargetWithoutAHandlerOrOutsideTheDeviceIsEinval) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 64))));
  DeviceRef ref = DeviceRef::ByName(dev.name());
  EXPECT_ERRNO(dm().SendMessage(ref, 0, "hello"), EINVAL);
  EXPECT_ERRNO(dm().SendMessage(ref, 64, "hello"), EINVAL);
  // '@' messages go to dm core; an unknown one is EINVAL too.
  EXPECT_ERRNO(dm().SendMessage(ref, 0, "@dmkvm_unknown"), EINVAL);
  // @stats_list answers with text (DM_DATA_OUT_FLAG): empty list of regions.
  ASSERT_OK_AND_ASSIGN(std::string out,
                       dm().SendMessage(ref, 0, "@stats_list"));
  EXPECT_EQ(out, "");
  ASSERT_OK_AND_ASSIGN(std::string id,
                       dm().SendMessage(ref, 0, "@stats_create - /1"));
  EXPECT_EQ(id, "0");
  ASSERT_OK_AND_ASSIGN(std::string listed,
                       dm().SendMessage(ref, 0, "@stats_list"));
  EXPECT_EQ(listed, "0: 0+64 64 - -\n");
}

}  // namespace
}  // namespace dmkit_vm
