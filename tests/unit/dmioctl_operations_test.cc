// Compound operations failed at step N for every N: afterwards the (fake)
// kernel and the node directory are as they were, and the error is the
// first one, with its errno and device name.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "dmioctl/error.h"
#include "dmioctl/nodes.h"
#include "dmioctl/operations.h"
#include "dmioctl/targets.h"
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace dmkit::testing {
namespace {

using dmioctl::DeviceRef;
using dmioctl::DevNum;

// A temporary DM_DEV_DIR.
class TempDevDir {
 public:
  TempDevDir() {
    char pattern[] = "/tmp/dmkit-devdir-XXXXXX";
    path_ = mkdtemp(pattern);
  }
  ~TempDevDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool CanMknod(const std::string& dir) {
  std::string probe = dir + "/probe";
  if (mknod(probe.c_str(), S_IFBLK | 0600, makedev(7, 0)) != 0) return false;
  unlink(probe.c_str());
  return true;
}

bool IsBlockNode(const std::string& path, DevNum dev) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
         st.st_rdev == dev.ToDevT() && (st.st_mode & 07777) == 0600;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

dmioctl::Table LinearTable(uint64_t sectors = 2048) {
  dmioctl::Table t;
  t.targets.push_back(dmioctl::targets::Linear(0, sectors, "7:0", 0));
  return t;
}

class OperationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!CanMknod(dir_.path())) GTEST_SKIP() << "mknod needs CAP_MKNOD";
  }
  FakeDm f_;
  TempDevDir dir_;
  dmioctl::DeviceNodes nodes_{dir_.path()};
};

TEST_F(OperationsTest, CreateMakesDeviceAndNode) {
  auto info = dmioctl::CreateDevice(f_.dm, "vol", LinearTable(),
                                    {.uuid = "U", .nodes = &nodes_});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->live_table());
  EXPECT_FALSE(info->suspended());
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("vol"), info->dev));
  // create; load and resume (with skip-lockfs) by name, never by a number
  // that may have been handed on; after the node, a look that the device is
  // still there.
  const auto& sent = f_.kernel->sent;
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[1].command, unsigned{DM_TABLE_LOAD_CMD});
  EXPECT_STREQ(sent[1].header.name, "vol");
  EXPECT_EQ(sent[1].header.dev, 0u);
  EXPECT_EQ(sent[2].command, unsigned{DM_DEV_SUSPEND_CMD});
  EXPECT_STREQ(sent[2].header.name, "vol");
  EXPECT_TRUE(sent[2].header.flags & DM_SKIP_LOCKFS_FLAG);
  EXPECT_FALSE(sent[2].header.flags & DM_SUSPEND_FLAG);
  EXPECT_EQ(sent[3].command, unsigned{DM_DEV_STATUS_CMD});
}

TEST_F(OperationsTest, CreateWithoutTableIsOneIoctl) {
  auto info = dmioctl::CreateDevice(f_.dm, "empty", {}, {.nodes = &nodes_});
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(f_.kernel->sent.size(), 1u);
  EXPECT_FALSE(info->live_table());
}

TEST_F(OperationsTest, CreateFailedAtEveryStepLeavesNothing) {
  // The fourth step is the look after the node.
  const char* operations[] = {"create", "reload", "resume", "info"};
  for (int step = 1; step <= 4; ++step) {
    SCOPED_TRACE(step);
    FakeDm f;
    f.kernel->fail_at = step;
    f.kernel->fail_errno = ENOMEM;
    auto info =
        dmioctl::CreateDevice(f.dm, "vol", LinearTable(), {.nodes = &nodes_});
    ASSERT_FALSE(info.ok());
    auto details = dmioctl::GetIoctlErrorInfo(info.status());
    ASSERT_TRUE(details.has_value());
    EXPECT_EQ(details->error_number, ENOMEM);
    EXPECT_EQ(details->operation, operations[step - 1]);
    EXPECT_TRUE(f.kernel->devices.empty());
    EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
  }
}

// The node's own steps, failed through DeviceNodes' fault hook.
int node_fault_errno = 0;
std::string node_fault_step;
int FailNodeStep(absl::string_view step, absl::string_view) {
  return step == node_fault_step ? node_fault_errno : 0;
}

TEST_F(OperationsTest, CreateFailedAtTheNodeLeavesNothing) {
  for (const char* step : {"mknod", "chown"}) {
    SCOPED_TRACE(step);
    FakeDm f;
    dmioctl::DeviceNodes nodes(dir_.path());
    nodes.set_fault_hook_for_testing(&FailNodeStep);
    node_fault_step = step;
    node_fault_errno = EIO;
    auto info =
        dmioctl::CreateDevice(f.dm, "vol", LinearTable(), {.nodes = &nodes});
    ASSERT_FALSE(info.ok());
    EXPECT_THAT(info.status(), HasErrno(EIO));
    EXPECT_NE(info.status().message().find(std::string(step) + " " +
                                           nodes.PathFor("vol")),
              absl::string_view::npos)
        << info.status();
    EXPECT_TRUE(f.kernel->devices.empty());
    EXPECT_FALSE(Exists(nodes.PathFor("vol")));
  }
}

// Another process's remove between our mknod and chown: it takes the
// device and unlinks our node, and the chown finds no file.
FakeKernelState* racing_kernel = nullptr;
int RemoveBeforeChown(absl::string_view step, absl::string_view path) {
  if (step != "chown") return 0;
  racing_kernel->devices.erase("vol");
  unlink(std::string(path).c_str());
  return ENOENT;
}

TEST_F(OperationsTest, CreateRacedByRemoveAtTheNodeIsRemovedMeanwhile) {
  FakeDm f;
  racing_kernel = f.kernel.get();
  dmioctl::DeviceNodes nodes(dir_.path());
  nodes.set_fault_hook_for_testing(&RemoveBeforeChown);
  auto info =
      dmioctl::CreateDevice(f.dm, "vol", LinearTable(), {.nodes = &nodes});
  EXPECT_THAT(info.status(), HasErrno(ENXIO));
  EXPECT_NE(info.status().message().find("removed by another process"),
            std::string::npos)
      << info.status();
  EXPECT_TRUE(f.kernel->devices.empty());
  EXPECT_FALSE(Exists(nodes.PathFor("vol")));
}

TEST_F(OperationsTest, CreateReportsOriginalErrorWhenRollbackFails) {
  f_.kernel->fail_at = 2;  // load
  f_.kernel->fail_errno = EINVAL;
  f_.kernel->more_failures[4] = EIO;  // the rollback's remove (after a look)
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(EINVAL));
}

TEST_F(OperationsTest, CreateRollsBackWhenNodeCannotBeMade) {
  ASSERT_EQ(mkdir(nodes_.MapperDir().c_str(), 0755), 0);
  ASSERT_EQ(mkdir(nodes_.PathFor("vol").c_str(), 0755), 0);  // in the way
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(EEXIST));
  EXPECT_TRUE(f_.kernel->devices.empty());
  struct stat st;
  ASSERT_EQ(lstat(nodes_.PathFor("vol").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));  // someone else's file stays
}

TEST_F(OperationsTest, CreateWithInvalidTableSendsNothing) {
  dmioctl::Table gap;
  gap.targets = {{0, 8, "zero", ""}, {16, 8, "zero", ""}};
  EXPECT_FALSE(dmioctl::CreateDevice(f_.dm, "vol", gap).ok());
  EXPECT_TRUE(f_.kernel->sent.empty());
}

TEST_F(OperationsTest, CreateWithUnknownTargetRemovesDevice) {
  dmioctl::Table bad;
  bad.targets = {{0, 8, "unknown-target", ""}};
  auto info = dmioctl::CreateDevice(f_.dm, "vol", bad, {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(EINVAL));
  EXPECT_EQ(dmioctl::GetIoctlErrorInfo(info.status())->operation, "reload");
  EXPECT_TRUE(f_.kernel->devices.empty());
}

// Another process's steps, run on the kernel just before the next `command`
// is handled (once): a race at a chosen point.
void BeforeNext(FakeKernelState* kernel, unsigned int command,
                std::function<void()> other) {
  kernel->overrides[command] = [kernel, command, other](dm_ioctl* h, size_t) {
    // Copy the captures first: erasing the override destroys this lambda.
    FakeKernelState* k = kernel;
    unsigned int c = command;
    std::function<void()> run = other;
    k->overrides.erase(c);
    run();
    return k->Handle(_IOWR(DM_IOCTL, c, dm_ioctl), h);
  };
}

TEST_F(OperationsTest, CreateRacedByRemoveAndACreateOfAnotherName) {
  // Another process removes "vol" before its load, and a device of another
  // name gets the freed number (the kernel hands out the lowest free minor).
  FakeKernelState* k = f_.kernel.get();
  BeforeNext(k, DM_TABLE_LOAD_CMD, [k] {
    uint32_t minor = k->Find("vol")->minor;
    k->devices.erase("vol");
    k->devices["other"] = FakeDevice{.name = "other", .minor = minor};
  });
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(ENXIO));
  ASSERT_NE(k->Find("other"), nullptr);
  EXPECT_FALSE(k->Find("other")->inactive.has_value())
      << "our table landed in it";
  EXPECT_FALSE(k->Find("other")->live.has_value());
  EXPECT_EQ(k->devices.size(), 1u);
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, CreateRacedByRemoveAndCreateOfTheSameNameBeforeTheLoad) {
  // The newer "vol" is complete (live table, node) by the time our load
  // reaches it: our table must not stay in its inactive slot, and it and
  // its node stay.
  FakeKernelState* k = f_.kernel.get();
  dmioctl::DeviceNodes* nodes = &nodes_;
  BeforeNext(k, DM_TABLE_LOAD_CMD, [k, nodes] {
    k->devices.erase("vol");
    k->devices["vol"] =
        FakeDevice{.name = "vol", .minor = 5, .live = LinearTable(8)};
    ASSERT_TRUE(nodes->Add("vol", DevNum{FakeKernelState::kMajor, 5}).ok());
  });
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(ENXIO));
  EXPECT_NE(info.status().message().find("removed by another process"),
            std::string::npos)
      << info.status();
  ASSERT_NE(k->Find("vol"), nullptr);
  EXPECT_EQ(k->Find("vol")->minor, 5u);
  EXPECT_EQ(k->Find("vol")->live, LinearTable(8));
  EXPECT_FALSE(k->Find("vol")->inactive.has_value());
  EXPECT_TRUE(
      IsBlockNode(nodes_.PathFor("vol"), DevNum{FakeKernelState::kMajor, 5}));
}

TEST_F(OperationsTest, CreateRacedBeforeTheResumeLeavesTheNewerDevice) {
  // The newer "vol" (no table yet: its creator is between its own steps) is
  // what our resume finds; it is not ours to resume or to roll back.
  FakeKernelState* k = f_.kernel.get();
  BeforeNext(k, DM_DEV_SUSPEND_CMD, [k] {
    k->devices.erase("vol");
    k->devices["vol"] = FakeDevice{.name = "vol", .minor = 5};
  });
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(ENXIO));
  ASSERT_NE(k->Find("vol"), nullptr);
  EXPECT_EQ(k->Find("vol")->minor, 5u);
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, RollbackOfAFailedLoadRemovesOnlyOurDevice) {
  // The load fails (an unknown target); before the rollback looks, another
  // process has removed our device and made its own "vol".
  FakeKernelState* k = f_.kernel.get();
  BeforeNext(k, DM_DEV_STATUS_CMD, [k] {
    k->devices.erase("vol");
    k->devices["vol"] = FakeDevice{.name = "vol", .minor = 5};
  });
  dmioctl::Table bad;
  bad.targets = {{0, 8, "unknown-target", ""}};
  auto info = dmioctl::CreateDevice(f_.dm, "vol", bad, {.nodes = &nodes_});
  EXPECT_THAT(info.status(), HasErrno(EINVAL));
  ASSERT_NE(k->Find("vol"), nullptr);
  EXPECT_EQ(k->Find("vol")->minor, 5u);
}

TEST_F(OperationsTest, CreateRacedByRemoveAfterTheResumeLeavesNoNode) {
  // Removed (by a process that found no node to unlink) between our resume
  // and our node: the create happened; its node must not outlive it.
  FakeKernelState* k = f_.kernel.get();
  BeforeNext(k, DM_DEV_STATUS_CMD, [k] { k->devices.erase("vol"); });
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_TRUE(info.ok()) << info.status();
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, CreateRacedAfterTheResumeByANewerDeviceLeavesItsNode) {
  // Removed and made again (another number) before our node: the node is
  // the newer device's.
  FakeKernelState* k = f_.kernel.get();
  BeforeNext(k, DM_DEV_STATUS_CMD, [k] {
    k->devices.erase("vol");
    k->devices["vol"] = FakeDevice{.name = "vol", .minor = 5};
  });
  auto info =
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_});
  EXPECT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(
      IsBlockNode(nodes_.PathFor("vol"), DevNum{FakeKernelState::kMajor, 5}));
}

TEST_F(OperationsTest, NodesRemoveIfForKeepsAnotherDevicesNode) {
  DevNum ours{FakeKernelState::kMajor, 1};
  DevNum theirs{FakeKernelState::kMajor, 2};
  ASSERT_TRUE(nodes_.Add("vol", theirs).ok());
  EXPECT_TRUE(nodes_.RemoveIfFor("vol", ours).ok());
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("vol"), theirs));
  EXPECT_TRUE(nodes_.RemoveIfFor("vol", theirs).ok());
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
  EXPECT_TRUE(nodes_.RemoveIfFor("vol", theirs).ok());  // missing: fine
}

TEST_F(OperationsTest, RemoveDeletesNode) {
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_})
          .ok());
  auto removed = dmioctl::RemoveDevice(f_.dm, DeviceRef::ByName("vol"),
                                       {.nodes = &nodes_});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
  EXPECT_TRUE(f_.kernel->devices.empty());
}

TEST_F(OperationsTest, RemoveByUuidFindsNameForNode) {
  ASSERT_TRUE(dmioctl::CreateDevice(f_.dm, "vol", LinearTable(),
                                    {.uuid = "U", .nodes = &nodes_})
                  .ok());
  ASSERT_TRUE(
      dmioctl::RemoveDevice(f_.dm, DeviceRef::ByUuid("U"), {.nodes = &nodes_})
          .ok());
  EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, RemoveRetriesOnBusyUntilClosed) {
  ASSERT_TRUE(dmioctl::CreateDevice(f_.dm, "vol", LinearTable()).ok());
  f_.kernel->Find("vol")->open_count = 1;
  int retries = 0;
  auto removed =
      dmioctl::RemoveDevice(f_.dm, DeviceRef::ByName("vol"),
                            {.retries = 5,
                             .retry_delay = std::chrono::milliseconds(1),
                             .on_retry = [&](int attempt, const absl::Status&) {
                               retries = attempt;
                               if (attempt == 2)
                                 f_.kernel->Find("vol")->open_count = 0;
                             }});
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(retries, 2);
}

TEST_F(OperationsTest, RemoveWithoutRetryFailsBusyOnce) {
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_})
          .ok());
  f_.kernel->Find("vol")->open_count = 1;
  size_t before = f_.kernel->sent.size();
  auto removed = dmioctl::RemoveDevice(f_.dm, DeviceRef::ByName("vol"),
                                       {.nodes = &nodes_});
  EXPECT_THAT(removed.status(), HasErrno(EBUSY));
  EXPECT_EQ(dmioctl::GetIoctlErrorInfo(removed.status())->name, "vol");
  EXPECT_EQ(f_.kernel->sent.size(), before + 1);
  EXPECT_TRUE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, DeferredRemoveKeepsNodeWhilePending) {
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "vol", LinearTable(), {.nodes = &nodes_})
          .ok());
  f_.kernel->Find("vol")->open_count = 1;
  auto removed = dmioctl::RemoveDevice(f_.dm, DeviceRef::ByName("vol"),
                                       {.deferred = true, .nodes = &nodes_});
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->deferred_remove());
  EXPECT_TRUE(Exists(nodes_.PathFor("vol")));
}

TEST_F(OperationsTest, ForceRemoveSwapsInErrorTableOfSameLength) {
  dmioctl::Table two;
  two.Append(100, "linear", "7:0 0").Append(28, "zero", "");
  ASSERT_TRUE(dmioctl::CreateDevice(f_.dm, "vol", two).ok());
  f_.kernel->Find("vol")->open_count = 1;  // busy: the remove will fail
  const size_t created = f_.kernel->sent.size();
  auto removed =
      dmioctl::RemoveDevice(f_.dm, DeviceRef::ByName("vol"), {.force = true});
  EXPECT_THAT(removed.status(), HasErrno(EBUSY));
  const FakeDevice* d = f_.kernel->Find("vol");
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->live.has_value());
  ASSERT_EQ(d->live->targets.size(), 1u);
  EXPECT_EQ(d->live->targets[0], (dmioctl::Target{0, 128, "error", ""}));
  EXPECT_FALSE(d->suspended);
  // The resume was noflush + skip-lockfs.
  for (size_t i = created; i < f_.kernel->sent.size(); ++i) {
    const SentIoctl& s = f_.kernel->sent[i];
    if (s.command == DM_DEV_SUSPEND_CMD &&
        !(s.header.flags & DM_SUSPEND_FLAG)) {
      EXPECT_TRUE(s.header.flags & DM_NOFLUSH_FLAG);
      EXPECT_TRUE(s.header.flags & DM_SKIP_LOCKFS_FLAG);
    }
  }
}

TEST_F(OperationsTest, ForceRemoveFailedAtEveryStep) {
  // Steps after the 4 of create (with the look after the node): table,
  // load(error), resume, remove.
  for (int step = 5; step <= 8; ++step) {
    SCOPED_TRACE(step);
    FakeDm f;
    ASSERT_TRUE(
        dmioctl::CreateDevice(f.dm, "vol", LinearTable(), {.nodes = &nodes_})
            .ok());
    f.kernel->fail_at = step;
    f.kernel->fail_errno = EIO;
    auto removed = dmioctl::RemoveDevice(f.dm, DeviceRef::ByName("vol"),
                                         {.force = true, .nodes = &nodes_});
    EXPECT_THAT(removed.status(), HasErrno(EIO));
    const FakeDevice* d = f.kernel->Find("vol");
    ASSERT_NE(d, nullptr);
    EXPECT_FALSE(d->suspended);
    EXPECT_FALSE(d->inactive.has_value());
    ASSERT_TRUE(d->live.has_value());
    // Before the swap the old table is live; after it, the error table.
    EXPECT_EQ(d->live->targets[0].type, step <= 7 ? "linear" : "error");
    EXPECT_TRUE(Exists(nodes_.PathFor("vol")));
    ASSERT_TRUE(dmioctl::RemoveDevice(f.dm, DeviceRef::ByName("vol"),
                                      {.nodes = &nodes_})
                    .ok());
    EXPECT_FALSE(Exists(nodes_.PathFor("vol")));
  }
}

TEST_F(OperationsTest, RenameMovesNode) {
  auto info =
      dmioctl::CreateDevice(f_.dm, "old", LinearTable(), {.nodes = &nodes_});
  ASSERT_TRUE(info.ok());
  auto renamed = dmioctl::RenameDevice(f_.dm, "old", "new", {.nodes = &nodes_});
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_FALSE(Exists(nodes_.PathFor("old")));
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("new"), info->dev));
  EXPECT_NE(f_.kernel->Find("new"), nullptr);
}

TEST_F(OperationsTest, RenameUndoneWhenNodeCannotMove) {
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "old", LinearTable(), {.nodes = &nodes_})
          .ok());
  ASSERT_EQ(mkdir(nodes_.PathFor("new").c_str(), 0755), 0);
  auto renamed = dmioctl::RenameDevice(f_.dm, "old", "new", {.nodes = &nodes_});
  EXPECT_THAT(renamed.status(), HasErrno(EEXIST));
  EXPECT_NE(f_.kernel->Find("old"), nullptr);
  EXPECT_EQ(f_.kernel->Find("new"), nullptr);
  EXPECT_TRUE(Exists(nodes_.PathFor("old")));
}

// libdevmapper's way: the rename stands and the hook gets the node's error.
TEST_F(OperationsTest, RenameWithNodeHookKeepsTheKernelRename) {
  auto info =
      dmioctl::CreateDevice(f_.dm, "old", LinearTable(), {.nodes = &nodes_});
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(mkdir(nodes_.PathFor("new").c_str(), 0755), 0);
  absl::Status node_error;
  auto renamed = dmioctl::RenameDevice(
      f_.dm, "old", "new",
      {.nodes = &nodes_,
       .on_node_failure = [&](const absl::Status& e) { node_error = e; }});
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->name, "new");
  EXPECT_THAT(node_error, HasErrno(EEXIST));
  EXPECT_EQ(dmioctl::NodeErrorStep(node_error), "exists");
  EXPECT_EQ(f_.kernel->Find("old"), nullptr);
  EXPECT_NE(f_.kernel->Find("new"), nullptr);
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("old"), info->dev));
}

TEST_F(OperationsTest, RenameFailureChangesNothing) {
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "old", LinearTable(), {.nodes = &nodes_})
          .ok());
  ASSERT_TRUE(
      dmioctl::CreateDevice(f_.dm, "taken", LinearTable(), {.nodes = &nodes_})
          .ok());
  auto renamed =
      dmioctl::RenameDevice(f_.dm, "old", "taken", {.nodes = &nodes_});
  EXPECT_THAT(renamed.status(), HasErrno(EBUSY));
  EXPECT_TRUE(Exists(nodes_.PathFor("old")));
  EXPECT_NE(f_.kernel->Find("old"), nullptr);
}

TEST_F(OperationsTest, ReloadFailedResumeKeepsOldTableLive) {
  ASSERT_TRUE(dmioctl::CreateDevice(f_.dm, "vol", LinearTable()).ok());
  int next = static_cast<int>(f_.kernel->sent.size()) + 2;  // the resume
  f_.kernel->fail_at = next;
  f_.kernel->fail_errno = EINVAL;
  auto reloaded = dmioctl::ReloadTable(f_.dm, DeviceRef::ByName("vol"),
                                       LinearTable(4096), true);
  EXPECT_THAT(reloaded.status(), HasErrno(EINVAL));
  const FakeDevice* d = f_.kernel->Find("vol");
  EXPECT_EQ(d->live->targets[0].length, 2048u);
  EXPECT_FALSE(d->inactive.has_value());
  EXPECT_FALSE(d->suspended);
}

TEST_F(OperationsTest, ScopedDeviceRemovesOnScopeExit) {
  {
    auto device = dmioctl::ScopedDevice::Create(f_.dm, "scoped", LinearTable(),
                                                {.nodes = &nodes_});
    ASSERT_TRUE(device.ok());
    EXPECT_NE(f_.kernel->Find("scoped"), nullptr);
    EXPECT_TRUE(Exists(nodes_.PathFor("scoped")));
  }
  EXPECT_EQ(f_.kernel->Find("scoped"), nullptr);
  EXPECT_FALSE(Exists(nodes_.PathFor("scoped")));
  auto kept = dmioctl::ScopedDevice::Create(f_.dm, "kept", LinearTable());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->Release(), "kept");
  kept = dmioctl::ScopedDevice();
  EXPECT_NE(f_.kernel->Find("kept"), nullptr);
}

TEST_F(OperationsTest, NodesAddKeepReplaceAndRefuse) {
  DevNum dev{253, 4};
  auto added = nodes_.Add("vol", dev);
  ASSERT_TRUE(added.ok()) << added.status();
  EXPECT_TRUE(*added);
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("vol"), dev));
  EXPECT_FALSE(*nodes_.Add("vol", dev));
  EXPECT_TRUE(*nodes_.Add("vol", DevNum{253, 5}));
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("vol"), DevNum{253, 5}));
  std::string file = nodes_.PathFor("file");
  FILE* fp = fopen(file.c_str(), "w");
  ASSERT_NE(fp, nullptr);
  fclose(fp);
  EXPECT_FALSE(nodes_.Add("file", dev).ok());
  EXPECT_FALSE(nodes_.Remove("file").ok());
  EXPECT_TRUE(Exists(file));
  EXPECT_TRUE(nodes_.Remove("vol").ok());
  EXPECT_TRUE(nodes_.Remove("vol").ok());  // already gone: fine
  EXPECT_FALSE(nodes_.Add("bad/name", dev).ok());
}

TEST_F(OperationsTest, MknodesRepairsMissingWrongAndStaleNodes) {
  auto a = dmioctl::CreateDevice(f_.dm, "a", LinearTable());
  auto b = dmioctl::CreateDevice(f_.dm, "b", LinearTable());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(nodes_.Add("b", DevNum{253, 99}).ok());      // wrong
  ASSERT_TRUE(nodes_.Add("stale", DevNum{253, 50}).ok());  // no device
  std::string control = nodes_.PathFor("control");
  ASSERT_EQ(mknod(control.c_str(), S_IFCHR | 0600, makedev(10, 236)), 0);
  auto report = nodes_.Reconcile(f_.dm);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->created, std::vector<std::string>{"a"});
  EXPECT_EQ(report->replaced, std::vector<std::string>{"b"});
  EXPECT_EQ(report->removed, std::vector<std::string>{"stale"});
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("a"), a->dev));
  EXPECT_TRUE(IsBlockNode(nodes_.PathFor("b"), b->dev));
  EXPECT_FALSE(Exists(nodes_.PathFor("stale")));
  EXPECT_TRUE(Exists(control));
}

}  // namespace
}  // namespace dmkit::testing
