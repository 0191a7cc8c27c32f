// DeviceNodes: the owner and mode of the nodes it makes.
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "dmioctl/error.h"
#include "dmioctl/nodes.h"
#include "gtest/gtest.h"

namespace dmioctl {
namespace {

class NodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dmioctl_nodes_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  // mknod needs CAP_MKNOD; without it there is nothing to check.
  void AddOrSkip(DeviceNodes& nodes, const char* name, DevNum dev) {
    absl::StatusOr<bool> added = nodes.Add(name, dev);
    if (!added.ok() &&
        (errno == EPERM || absl::IsPermissionDenied(added.status()))) {
      GTEST_SKIP() << "cannot mknod here: " << added.status();
    }
    ASSERT_TRUE(added.ok()) << added.status();
    EXPECT_TRUE(*added);
  }
  std::string dir_;
};

TEST_F(NodesTest, DefaultsAreUpstreamLibdevmapper) {
  DeviceNodes nodes(dir_);
  AddOrSkip(nodes, "a", DevNum{7, 0});
  if (HasFatalFailure() || IsSkipped()) return;
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/mapper/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, 0u);
}

TEST_F(NodesTest, OwnershipApplies) {
  DeviceNodes nodes(dir_, NodeOwnership{.uid = 0, .gid = 6, .mode = 0660});
  AddOrSkip(nodes, "b", DevNum{7, 1});
  if (HasFatalFailure() || IsSkipped()) return;
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/mapper/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  if (geteuid() == 0) {
    EXPECT_EQ(st.st_gid, 6u);
  }
  // A node that is already right is kept as it is.
  nodes.set_ownership(NodeOwnership{.mode = 0600});
  absl::StatusOr<bool> again = nodes.Add("b", DevNum{7, 1});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  ASSERT_EQ(stat((dir_ + "/mapper/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

// The fault hook (tests' seam): the step it fails is not made, and a node
// whose chown fails is not left behind with the wrong owner.
int fail_errno_for_step = 0;
std::string failing_step;
int FailOneStep(absl::string_view step, absl::string_view) {
  return step == failing_step ? fail_errno_for_step : 0;
}

TEST_F(NodesTest, FaultHookFailsTheStepAndLeavesNoNode) {
  DeviceNodes probe(dir_);
  AddOrSkip(probe, "probe", DevNum{7, 2});
  if (HasFatalFailure() || IsSkipped()) return;
  for (const char* step : {"mknod", "chown"}) {
    SCOPED_TRACE(step);
    DeviceNodes nodes(dir_);
    nodes.set_fault_hook_for_testing(&FailOneStep);
    failing_step = step;
    fail_errno_for_step = EIO;
    absl::StatusOr<bool> added = nodes.Add("c", DevNum{7, 3});
    ASSERT_FALSE(added.ok());
    EXPECT_EQ(dmkit::ErrnoOf(added.status()), EIO);
    EXPECT_NE(added.status().message().find(std::string(step) + " " + dir_ +
                                            "/mapper/c"),
              absl::string_view::npos)
        << added.status();
    struct stat st;
    EXPECT_NE(lstat((dir_ + "/mapper/c").c_str(), &st), 0);
  }
  // An EPERM from chown (no CAP_CHOWN) still keeps the node, as before.
  DeviceNodes nodes(dir_);
  nodes.set_fault_hook_for_testing(&FailOneStep);
  failing_step = "chown";
  fail_errno_for_step = EPERM;
  absl::StatusOr<bool> added = nodes.Add("d", DevNum{7, 4});
  ASSERT_TRUE(added.ok()) << added.status();
  // And a failed unlink leaves the node for Remove() to report.
  failing_step = "unlink";
  fail_errno_for_step = EIO;
  EXPECT_EQ(dmkit::ErrnoOf(nodes.Remove("d")), EIO);
  struct stat st;
  EXPECT_EQ(lstat((dir_ + "/mapper/d").c_str(), &st), 0);
}

// Rename() as libdevmapper moves a node: a node or a link to one in the
// way is replaced; anything else, or a dangling link, stays and is the
// error, named by its step; a missing old node stays missing; a stale old
// node is replaced by the right one.
TEST_F(NodesTest, RenameMovesLikeLibdevmapper) {
  DeviceNodes nodes(dir_);
  AddOrSkip(nodes, "a", DevNum{7, 5});
  if (HasFatalFailure() || IsSkipped()) return;
  const std::string mapper = dir_ + "/mapper/";
  AddOrSkip(nodes, "target", DevNum{7, 6});
  ASSERT_EQ(symlink((mapper + "target").c_str(), (mapper + "b").c_str()), 0);
  ASSERT_TRUE(nodes.Rename("a", "b", DevNum{7, 5}).ok());
  struct stat st;
  ASSERT_EQ(lstat((mapper + "b").c_str(), &st), 0);
  EXPECT_TRUE(S_ISBLK(st.st_mode));
  EXPECT_EQ(st.st_rdev, (DevNum{7, 5}.ToDevT()));
  EXPECT_NE(lstat((mapper + "a").c_str(), &st), 0);

  ASSERT_EQ(mkdir((mapper + "c").c_str(), 0755), 0);
  absl::Status in_the_way = nodes.Rename("b", "c", DevNum{7, 5});
  EXPECT_EQ(dmkit::ErrnoOf(in_the_way), EEXIST);
  EXPECT_EQ(NodeErrorStep(in_the_way), "exists");
  ASSERT_EQ(symlink("nowhere", (mapper + "d").c_str()), 0);
  absl::Status dangling = nodes.Rename("b", "d", DevNum{7, 5});
  EXPECT_EQ(dmkit::ErrnoOf(dangling), ENOENT);
  EXPECT_EQ(NodeErrorStep(dangling), "stat");
  nodes.set_fault_hook_for_testing(&FailOneStep);
  failing_step = "rename";
  fail_errno_for_step = EIO;
  absl::Status failed = nodes.Rename("b", "e", DevNum{7, 5});
  EXPECT_EQ(dmkit::ErrnoOf(failed), EIO);
  EXPECT_EQ(NodeErrorStep(failed), "rename");
  failing_step = "";
  EXPECT_EQ(lstat((mapper + "b").c_str(), &st), 0);
  EXPECT_EQ(NodeErrorStep(absl::InternalError("other")), "");

  // No old node: none is made. A stale one: the right one replaces it.
  ASSERT_TRUE(nodes.Rename("none", "f", DevNum{7, 7}).ok());
  EXPECT_NE(lstat((mapper + "f").c_str(), &st), 0);
  ASSERT_TRUE(nodes.Rename("target", "g", DevNum{7, 8}).ok());
  ASSERT_EQ(lstat((mapper + "g").c_str(), &st), 0);
  EXPECT_EQ(st.st_rdev, (DevNum{7, 8}.ToDevT()));
  EXPECT_NE(lstat((mapper + "target").c_str(), &st), 0);
}

}  // namespace
}  // namespace dmioctl
