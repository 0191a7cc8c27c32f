// /dev/mapper nodes without udev: made, moved and removed with the device,
// and repaired by Reconcile (dmsetup mknodes); in a temporary dev dir and in
// the real /dev.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmioctl::DeviceNodes;
using dmioctl::DevNum;

// The node at `path`: a block device with this number, mode 0600.
::testing::AssertionResult IsNodeFor(const std::string& path, DevNum dev) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return ::testing::AssertionFailure() << path << ": " << strerror(errno);
  }
  if (!S_ISBLK(st.st_mode)) {
    return ::testing::AssertionFailure() << path << " is not a block device";
  }
  if (DevNum::FromDevT(st.st_rdev) != dev) {
    return ::testing::AssertionFailure()
           << path << " is " << DevNum::FromDevT(st.st_rdev).ToString()
           << ", not " << dev.ToString();
  }
  if ((st.st_mode & 07777) != 0600) {
    return ::testing::AssertionFailure()
           << path << " has mode " << std::oct << (st.st_mode & 07777);
  }
  return ::testing::AssertionSuccess();
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

class Nodes : public DmVmTest {};

TEST_F(Nodes, NodesFollowCreateRenameSetUuidAndRemove) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  DeviceNodes nodes(dir.path());
  ASSERT_OK_AND_ASSIGN(
      DeviceInfo created,
      dmioctl::CreateDevice(dm(), Name("a"), OneTarget(targets::Zero(0, 64)),
                            {.nodes = &nodes}));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(Name("a")), created.dev));

  ASSERT_OK_AND_ASSIGN(
      DeviceInfo renamed,
      dmioctl::RenameDevice(dm(), Name("a"), Name("b"), {.nodes = &nodes}));
  EXPECT_EQ(renamed.name, Name("b"));
  EXPECT_FALSE(PathExists(nodes.PathFor(Name("a"))));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(Name("b")), created.dev));
  EXPECT_EQ(SysBlock(created.dev, "dm/name"), Name("b"));

  ASSERT_OK_AND_ASSIGN(DeviceInfo with_uuid,
                       dmioctl::SetDeviceUuid(dm(), Name("b"), Uuid("b")));
  EXPECT_EQ(with_uuid.uuid, Uuid("b"));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(Name("b")), created.dev));
  EXPECT_EQ(SysBlock(created.dev, "dm/uuid"), Uuid("b"));

  ASSERT_OK(dmioctl::RemoveDevice(dm(), DeviceRef::ByUuid(Uuid("b")),
                                  {.nodes = &nodes}));
  EXPECT_FALSE(PathExists(nodes.PathFor(Name("b"))));
  EXPECT_FALSE(PathExists(DmNode(created.dev)));
}

TEST_F(Nodes, RenameIsUndoneWhenTheNodeCannotMove) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  DeviceNodes nodes(dir.path());
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice dev,
      MakeDevice("a", OneTarget(targets::Zero(0, 64)), {.nodes = &nodes}));
  ASSERT_EQ(mkdir(nodes.PathFor(Name("b")).c_str(), 0755), 0);
  auto renamed =
      dmioctl::RenameDevice(dm(), Name("a"), Name("b"), {.nodes = &nodes});
  ASSERT_FALSE(renamed.ok());
  EXPECT_EQ(dmkit::ErrnoOf(renamed.status()), EEXIST) << renamed.status();
  ASSERT_OK(dm().GetInfo(DeviceRef::ByName(Name("a"))));
  EXPECT_ERRNO(dm().GetInfo(DeviceRef::ByName(Name("b"))), ENXIO);
  EXPECT_EQ(SysBlock(dev.dev(), "dm/name"), Name("a"));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(Name("a")), dev.dev()));
}

TEST_F(Nodes, ReconcileRepairsWrongMissingAndStaleNodes) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  DeviceNodes nodes(dir.path());
  ASSERT_OK_AND_ASSIGN(ScopedDevice wrong,
                       MakeDevice("wrong", OneTarget(targets::Zero(0, 8))));
  ASSERT_OK_AND_ASSIGN(ScopedDevice missing, MakeDevice("missing", Table()));
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice good,
      MakeDevice("good", OneTarget(targets::Zero(0, 8)), {.nodes = &nodes}));
  std::string mapper = nodes.MapperDir();
  // wrong: a node with another device's number; stale: a node for a device
  // that does not exist; a regular file and control are not ours.
  ASSERT_EQ(mknod(nodes.PathFor(wrong.name()).c_str(), S_IFBLK | 0600,
                  makedev(7, 250)),
            0);
  ASSERT_EQ(mknod(nodes.PathFor(Name("stale")).c_str(), S_IFBLK | 0600,
                  good.dev().ToDevT()),
            0);
  ASSERT_EQ(
      mknod((mapper + "/control").c_str(), S_IFCHR | 0600, makedev(10, 236)),
      0);
  {
    Fd f(::open((mapper + "/notes.txt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC,
                0644));
  }
  struct stat good_before;
  ASSERT_EQ(lstat(nodes.PathFor(good.name()).c_str(), &good_before), 0);

  ASSERT_OK_AND_ASSIGN(dmioctl::MknodesReport report, nodes.Reconcile(dm()));
  EXPECT_TRUE(Contains(report.replaced, wrong.name()));
  EXPECT_TRUE(Contains(report.created, missing.name()));
  EXPECT_TRUE(Contains(report.removed, Name("stale")));
  EXPECT_FALSE(Contains(report.created, good.name()));
  EXPECT_FALSE(Contains(report.replaced, good.name()));
  EXPECT_EQ(report.removed.size(), 1u);

  EXPECT_TRUE(IsNodeFor(nodes.PathFor(wrong.name()), wrong.dev()));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(missing.name()), missing.dev()));
  EXPECT_TRUE(IsNodeFor(nodes.PathFor(good.name()), good.dev()));
  struct stat good_after;
  ASSERT_EQ(lstat(nodes.PathFor(good.name()).c_str(), &good_after), 0);
  EXPECT_EQ(good_after.st_ino, good_before.st_ino)
      << "a correct node was remade";
  EXPECT_FALSE(PathExists(nodes.PathFor(Name("stale"))));
  EXPECT_TRUE(PathExists(mapper + "/control"));
  EXPECT_TRUE(PathExists(mapper + "/notes.txt"));

  // A second pass has nothing to do.
  ASSERT_OK_AND_ASSIGN(dmioctl::MknodesReport again, nodes.Reconcile(dm()));
  EXPECT_TRUE(again.created.empty());
  EXPECT_TRUE(again.replaced.empty());
  EXPECT_TRUE(again.removed.empty());
}

TEST_F(Nodes, RealDevMapperNodeCarriesIo) {
  ASSERT_OK_AND_ASSIGN(TempLoop loop, TempLoop::Create(1 << 20));
  DeviceNodes nodes("/dev");
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a",
                                  OneTarget(targets::Linear(
                                      0, loop.sectors(), loop.dev_string(), 0)),
                                  {.nodes = &nodes}));
  std::string path = "/dev/mapper/" + dev.name();
  EXPECT_TRUE(IsNodeFor(path, dev.dev()));
  ASSERT_OK(WriteDirect(path, 0, Pattern(4096, 80)));
  ASSERT_OK_AND_ASSIGN(std::string landed, loop.ReadBacking(0, 4096));
  EXPECT_EQ(landed, Pattern(4096, 80));
  // A table may name the device by its /dev/mapper path now.
  ASSERT_OK_AND_ASSIGN(
      ScopedDevice upper,
      MakeDevice("upper", OneTarget(targets::Linear(0, 8, path, 0))));
  ASSERT_OK_AND_ASSIGN(dmioctl::DepsReply deps,
                       dm().GetDeps(DeviceRef::ByName(upper.name())));
  ASSERT_EQ(deps.devices.size(), 1u);
  EXPECT_EQ(deps.devices[0], dev.dev());
  EXPECT_OK(upper.Remove());
  EXPECT_OK(dev.Remove());
  EXPECT_FALSE(PathExists(path));
}

TEST_F(Nodes, OpenMakesTheControlNodeInABareDevDir) {
  ASSERT_OK_AND_ASSIGN(TempDir dir, TempDir::Create("dev"));
  ASSERT_OK_AND_ASSIGN(auto dm2, dmioctl::DeviceMapper::Open(dir.path()));
  std::string control = dir.path() + "/mapper/control";
  struct stat st;
  ASSERT_EQ(stat(control.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  std::optional<std::string> sys =
      ReadFile("/sys/class/misc/device-mapper/dev");
  ASSERT_TRUE(sys.has_value());
  EXPECT_EQ(DevNum::FromDevT(st.st_rdev).ToString(),
            std::string(absl::StripAsciiWhitespace(*sys)));
  ASSERT_OK_AND_ASSIGN(dmioctl::InterfaceVersion v, dm2->Version());
  EXPECT_EQ(v[0], 4u);
}

}  // namespace
}  // namespace dmkit_vm
