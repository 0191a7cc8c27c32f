#include <sched.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "dmkit/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mountns/namespace_set.h"
#include "mountns/run_in_namespaces.h"
#include "mountns/unique_fd.h"
#include "tests/unit/mountns_test_util.h"

namespace mountns {
namespace {

using ::mountns_test::NamespaceChild;
using ::testing::HasSubstr;

std::string ReadLink(const std::string& path) {
  char buf[256];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

TEST(NamespaceKindTest, TableIsInUtilLinuxOrder) {
  // The user namespace first; then cgroup, ipc, uts, net, pid, mnt, time.
  const int order[] = {CLONE_NEWUSER, CLONE_NEWCGROUP, CLONE_NEWIPC,
                       CLONE_NEWUTS,  CLONE_NEWNET,    CLONE_NEWPID,
                       CLONE_NEWNS,   CLONE_NEWTIME};
  ASSERT_EQ(std::size(kNamespaceKinds), std::size(order));
  int all = 0;
  for (size_t i = 0; i < std::size(order); ++i) {
    EXPECT_EQ(kNamespaceKinds[i].clone_flag, order[i]) << i;
    EXPECT_EQ(&KindOf(kNamespaceKinds[i].type), &kNamespaceKinds[i]);
    all |= order[i];
  }
  EXPECT_EQ(all, kAllNamespaces);
  EXPECT_EQ(KindOf(NamespaceType::kMount).proc_name, "mnt");
}

TEST(NamespaceKindTest, InodeMatchesProcLink) {
  for (const NamespaceKind& kind : kNamespaceKinds) {
    std::string link = ReadLink(absl::StrCat("/proc/self/ns/", kind.proc_name));
    if (link.empty()) continue;  // kernel without this type
    absl::StatusOr<uint64_t> inode = NamespaceInodeOf(getpid(), kind.type);
    ASSERT_OK(inode);
    EXPECT_EQ(link, absl::StrCat(kind.proc_name, ":[", *inode, "]"));
  }
}

TEST(NamespaceKindTest, UsableNamespacesLeaveOutOwnUserNamespace) {
  absl::StatusOr<int> usable = UsableNamespaces(getpid());
  ASSERT_OK(usable);
  EXPECT_EQ(*usable & CLONE_NEWUSER, 0);
  EXPECT_NE(*usable & CLONE_NEWNS, 0);
  EXPECT_NE(*usable & CLONE_NEWNET, 0);
  absl::StatusOr<int> without_net = UsableNamespaces(getpid(), CLONE_NEWNET);
  ASSERT_OK(without_net);
  EXPECT_EQ(*without_net, *usable & ~CLONE_NEWNET);
}

TEST(NamespaceSetTest, MissingProcessIsReportedLikeNsenter) {
  pid_t pid = mountns_test::UnusedPid();
  absl::StatusOr<NamespaceSet> set = NamespaceSet::ForPid(pid, CLONE_NEWNS);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dmkit::ErrnoOf(set.status()), ENOENT);
  EXPECT_EQ(Message(set.status()),
            absl::StrCat("cannot open /proc/", pid,
                         "/ns/mnt: No such file or directory"));
}

TEST(NamespaceSetTest, TargetlessNamespaceIsAnError) {
  NamespaceSet set;
  absl::Status status = set.AddTarget(0, CLONE_NEWUTS | CLONE_NEWNS);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  // The first in entry order is named, as nsenter does.
  EXPECT_EQ(Message(status),
            "neither filename nor target pid supplied for ns/uts");
  // Nothing requested, nothing needed.
  EXPECT_OK(set.AddTarget(0, 0));
  EXPECT_TRUE(set.empty());
}

TEST(NamespaceSetTest, FilesAndTargetCombine) {
  NamespaceSet set;
  ASSERT_OK(set.AddFile(NamespaceType::kUts, "/proc/self/ns/uts"));
  ASSERT_OK(set.AddTarget(getpid(), CLONE_NEWUTS | CLONE_NEWIPC));
  EXPECT_EQ(set.mask(), CLONE_NEWUTS | CLONE_NEWIPC);
  EXPECT_EQ(set.target_pid(), getpid());
  EXPECT_EQ(set.has_pidfd(), KernelSupportsPidfdSetns());
  EXPECT_GE(set.fd(NamespaceType::kIpc), 0);
  EXPECT_EQ(set.fd(NamespaceType::kNet), -1);
  // A second target process is refused.
  EXPECT_EQ(set.AddTarget(1, CLONE_NEWNET).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(NamespaceSetTest, MissingFileIsReportedLikeNsenter) {
  NamespaceSet set;
  absl::Status status = set.AddFile(NamespaceType::kNet, "/nonexistent/ns");
  EXPECT_EQ(Message(status),
            "cannot open /nonexistent/ns: No such file or directory");
  EXPECT_EQ(dmkit::ErrnoOf(status), ENOENT);
}

// A file that opens but is no namespace fails at setns(), in a child so the
// test process stays where it is.
TEST(NamespaceSetTest, EnterReportsTheNamespaceThatFails) {
  NamespaceSet set;
  ASSERT_OK(set.AddFile(NamespaceType::kNet, "/proc/self/status"));
  absl::StatusOr<std::string> result =
      RunInNamespaces(set, [] { return absl::StatusOr<std::string>("x"); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(Message(result.status()),
            "reassociate to namespace 'ns/net' failed: Invalid argument");
  EXPECT_EQ(dmkit::ErrnoOf(result.status()), EINVAL);
}

// The two ways in (one setns on a pidfd, or a file per namespace) reach the
// same namespaces of a real child: a new mount and UTS namespace with its
// own hostname.
class EnterChildTest : public ::testing::TestWithParam<EntryMethod> {};

TEST_P(EnterChildTest, EntersMountAndUtsNamespaces) {
  MOUNTNS_SKIP_UNLESS_ROOT();
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([]() -> absl::StatusOr<std::string> {
        if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) {
          return dmkit::ErrnoError(errno, "unshare");
        }
        if (sethostname("mountns-child", 13) != 0) {
          return dmkit::ErrnoError(errno, "sethostname");
        }
        return std::string();
      });
  ASSERT_OK(child);
  absl::StatusOr<uint64_t> child_mnt =
      NamespaceInodeOf(child->pid(), NamespaceType::kMount);
  absl::StatusOr<uint64_t> own_mnt =
      NamespaceInodeOf(getpid(), NamespaceType::kMount);
  ASSERT_OK(child_mnt);
  ASSERT_OK(own_mnt);
  ASSERT_NE(*child_mnt, *own_mnt);

  absl::StatusOr<NamespaceSet> set =
      NamespaceSet::ForPid(child->pid(), CLONE_NEWNS | CLONE_NEWUTS);
  ASSERT_OK(set);
  absl::StatusOr<std::string> seen = RunInNamespaces(
      *set,
      []() -> absl::StatusOr<std::string> {
        char host[64] = {};
        if (gethostname(host, sizeof(host) - 1) != 0) {
          return dmkit::ErrnoError(errno, "gethostname");
        }
        return absl::StrCat(host, " ", ReadLink("/proc/thread-self/ns/mnt"));
      },
      RunOptions{.method = GetParam()});
  ASSERT_OK(seen);
  EXPECT_EQ(*seen, absl::StrCat("mountns-child mnt:[", *child_mnt, "]"));

  // The caller did not move.
  absl::StatusOr<uint64_t> after =
      NamespaceInodeOf(getpid(), NamespaceType::kMount);
  ASSERT_OK(after);
  EXPECT_EQ(*after, *own_mnt);
}

INSTANTIATE_TEST_SUITE_P(Methods, EnterChildTest,
                         ::testing::Values(EntryMethod::kAuto,
                                           EntryMethod::kNamespaceFiles));

// In a multithreaded process, entering a mount namespace must fail as
// setns(2) on the file does (EINVAL), even where one setns(pidfd, mask)
// would let it through and move the root of every thread.
TEST(NamespaceSetTest, MultithreadedCallerCannotEnterMountNamespace) {
  MOUNTNS_SKIP_UNLESS_ROOT();
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([]() -> absl::StatusOr<std::string> {
        if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) {
          return dmkit::ErrnoError(errno, "unshare");
        }
        return std::string();
      });
  ASSERT_OK(child);
  const pid_t target = child->pid();
  // The attempt runs in a forked helper (an empty set enters nothing), so a
  // failure of this test cannot move the test process.
  absl::StatusOr<std::string> report = RunInNamespaces(
      NamespaceSet(), [target]() -> absl::StatusOr<std::string> {
        std::thread([] {
          for (;;) pause();
        }).detach();
        DMKIT_ASSIGN_OR_RETURN(
            NamespaceSet set,
            NamespaceSet::ForPid(target, CLONE_NEWNS | CLONE_NEWUTS));
        std::string before = ReadLink("/proc/thread-self/ns/mnt");
        absl::Status entered = set.Enter(EntryMethod::kAuto);
        std::string after = ReadLink("/proc/thread-self/ns/mnt");
        return absl::StrCat(entered.message(), " ",
                            before == after ? "stayed" : "moved");
      });
  ASSERT_OK(report);
  EXPECT_EQ(*report,
            "reassociate to namespace 'ns/mnt' failed: Invalid argument "
            "stayed");
}

// Opening a namespace of a process pins the process only through the pidfd
// check: once it is gone, a new set for its pid cannot be made.
TEST(NamespaceSetTest, ExitedChildCannotBeTargeted) {
  MOUNTNS_SKIP_UNLESS_ROOT();
  pid_t pid;
  {
    absl::StatusOr<NamespaceChild> child =
        NamespaceChild::Start([] { return absl::StatusOr<std::string>(""); });
    ASSERT_OK(child);
    pid = child->pid();
  }
  absl::StatusOr<NamespaceSet> set = NamespaceSet::ForPid(pid, CLONE_NEWNS);
  EXPECT_FALSE(set.ok());
}

}  // namespace
}  // namespace mountns
