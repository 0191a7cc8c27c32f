// The errno contract: what each failure returns, and that a failed create
// leaves nothing behind.
#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmioctl::DeviceNodes;
using dmioctl::DevNum;

class Errno : public DmVmTest {};

TEST_F(Errno, DuplicateNameIsEbusy) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", OneTarget(targets::Zero(0, 8))));
  EXPECT_ERRNO(dm().CreateDevice({.name = Name("a")}), EBUSY);
  // The compound create fails at the same step and leaves the original alone.
  EXPECT_ERRNO(
      dmioctl::CreateDevice(dm(), Name("a"), OneTarget(targets::Zero(0, 16))),
      EBUSY);
  ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                       dm().GetInfo(DeviceRef::ByName(Name("a"))));
  EXPECT_EQ(info.dev, dev.dev());
  EXPECT_EQ(SysBlock(dev.dev(), "size"), "8");
  // Renaming another device onto the name is EBUSY too.
  ASSERT_OK_AND_ASSIGN(ScopedDevice other, MakeDevice("b", Table()));
  EXPECT_ERRNO(dm().Rename(Name("b"), Name("a")), EBUSY);
}

TEST_F(Errno, DuplicateUuidIsEbusy) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", Table(), {.uuid = Uuid("u")}));
  EXPECT_ERRNO(dm().CreateDevice({.name = Name("b"), .uuid = Uuid("u")}),
               EBUSY);
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("b"))), ENXIO);
  ASSERT_OK_AND_ASSIGN(ScopedDevice other, MakeDevice("c", Table()));
  EXPECT_ERRNO(dm().SetUuid(Name("c"), Uuid("u")), EBUSY);
}

TEST_F(Errno, MissingDeviceIsEnxioForEveryPerDeviceCommand) {
  // One device exists so that a wrong lookup cannot find "nothing at all"
  // by accident; its minor + 1000 is free.
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("present", Table()));
  const std::vector<DeviceRef> missing = {
      DeviceRef::ByName(Name("absent")), DeviceRef::ByUuid(Uuid("absent")),
      DeviceRef::ByDevNum(DevNum{dev.dev().major, dev.dev().minor + 1000})};
  for (const DeviceRef& ref : missing) {
    SCOPED_TRACE(ref.ToString());
    EXPECT_ERRNO(dm().GetInfo(ref), ENXIO);
    EXPECT_ERRNO(dm().RemoveDevice(ref), ENXIO);
    EXPECT_ERRNO(dm().RemoveDevice(ref, true), ENXIO);
    EXPECT_ERRNO(dm().Suspend(ref), ENXIO);
    EXPECT_ERRNO(dm().Resume(ref), ENXIO);
    EXPECT_ERRNO(dm().LoadTable(ref, OneTarget(targets::Zero(0, 8))), ENXIO);
    EXPECT_ERRNO(dm().ClearTable(ref), ENXIO);
    EXPECT_ERRNO(dm().GetDeps(ref), ENXIO);
    EXPECT_ERRNO(dm().GetStatus(ref), ENXIO);
    EXPECT_ERRNO(dm().GetTable(ref), ENXIO);
    EXPECT_ERRNO(dm().WaitEvent(ref, 0), ENXIO);
    EXPECT_ERRNO(dm().SendMessage(ref, 0, "@cancel_deferred_remove"), ENXIO);
    EXPECT_ERRNO(dm().SetGeometry(ref, 1, 1, 1, 0), ENXIO);
  }
  EXPECT_ERRNO(dm().Rename(Name("absent"), Name("absent2")), ENXIO);
  EXPECT_ERRNO(dm().SetUuid(Name("absent"), Uuid("x")), ENXIO);
}

TEST_F(Errno,
       CreateWithAnInvalidTableLeavesNoDeviceNoNodeAndKeepsTheLoadError) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  DeviceNodes nodes(dir.path());
  uint64_t before_minor_probe = 0;
  {
    // What minor the next device gets, to check no disk appeared for it.
    ASSERT_OK_AND_ASSIGN(DeviceInfo probe,
                         dm().CreateDevice({.name = Name("probe")}));
    before_minor_probe = probe.dev.minor;
    ASSERT_OK(dm().RemoveDevice(DeviceRef::ByName(Name("probe"))));
  }
  // An unknown target type: the kernel tries request_module("dm-...") and
  // then fails the load with EINVAL.
  Table table = OneTarget(dmioctl::Target{0, 8, "dmkvmnosuch", ""});
  auto created = dmioctl::CreateDevice(dm(), Name("bad"), table,
                                       {.uuid = Uuid("bad"), .nodes = &nodes});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(dmkit::ErrnoOf(created.status()), EINVAL) << created.status();
  auto error = dmioctl::GetIoctlErrorInfo(created.status());
  ASSERT_TRUE(error.has_value()) << created.status();
  EXPECT_EQ(error->operation, "reload");
  EXPECT_EQ(error->ioctl_name, "DM_TABLE_LOAD");
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("bad"))), ENXIO);
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByUuid(Uuid("bad"))), ENXIO);
  EXPECT_FALSE(PathExists(nodes.PathFor(Name("bad"))));
  EXPECT_FALSE(PathExists(absl::StrCat("/dev/dm-", before_minor_probe)));
  EXPECT_FALSE(PathExists(absl::StrCat("/sys/block/dm-", before_minor_probe)));

  // A constructor error (linear over a device that does not exist) is the
  // load's errno as well.
  Table missing_dev =
      OneTarget(targets::Linear(0, 8, "/dev/dmkvm-no-such-disk", 0));
  auto created2 =
      dmioctl::CreateDevice(dm(), Name("bad2"), missing_dev, {.nodes = &nodes});
  ASSERT_FALSE(created2.ok());
  printf("[dmkvm] linear over a missing path: %s\n",
         created2.status().ToString().c_str());
  EXPECT_EQ(dmkit::ErrnoOf(created2.status()), ENODEV) << created2.status();
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("bad2"))), ENXIO);
  EXPECT_FALSE(PathExists(nodes.PathFor(Name("bad2"))));
}

TEST_F(Errno, CreateWhoseNodeCannotBeMadeIsRolledBack) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  DeviceNodes nodes(dir.path());
  // A directory where the node should go.
  ASSERT_EQ(mkdir(nodes.MapperDir().c_str(), 0755), 0);
  ASSERT_EQ(mkdir(nodes.PathFor(Name("a")).c_str(), 0755), 0);
  auto created = dmioctl::CreateDevice(
      dm(), Name("a"), OneTarget(targets::Zero(0, 8)), {.nodes = &nodes});
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(dmkit::ErrnoOf(created.status()), EEXIST) << created.status();
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("a"))), ENXIO);
  struct stat st;
  ASSERT_EQ(stat(nodes.PathFor(Name("a")).c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode))
      << "the rollback removed someone else's file";
}

TEST_F(Errno, NamesAndUuidsAreValidatedBeforeAnyIoctl) {
  uint64_t ioctls = dm().counters().ioctls.load();
  EXPECT_TRUE(absl::IsInvalidArgument(
      dm().CreateDevice({.name = Name("with/slash")}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(dm().CreateDevice({.name = "control"}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dm().CreateDevice({.name = std::string(128, 'n')}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dm().CreateDevice({.name = Name("a"), .uuid = std::string(129, 'u')})
          .status()));
  EXPECT_TRUE(absl::IsInvalidArgument(dm().Rename(Name("a"), "x/y").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dm().LoadTable(DeviceRef::ByName(Name("a")), Table()).status()));
  Table gap;
  gap.targets.push_back(targets::Zero(0, 8));
  gap.targets.push_back(targets::Zero(16, 8));
  EXPECT_TRUE(absl::IsInvalidArgument(
      dm().LoadTable(DeviceRef::ByName(Name("a")), gap).status()));
  EXPECT_EQ(dm().counters().ioctls.load(), ioctls);
}

}  // namespace
}  // namespace dmkit_vm
