#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
using ::mountns_test::TempDir;
using ::testing::HasSubstr;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

// A child in a private mount namespace with a tmpfs on `dir` holding
// `dir`/marker with the given content.
absl::StatusOr<NamespaceChild> StartChildWithMarker(
    const std::string& dir, const std::string& content) {
  return NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
    DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
    DMKIT_ASSIGN_OR_RETURN(std::string dev,
                           mountns_test::MountTmpfs(dir, "run-test"));
    DMKIT_RETURN_IF_ERROR(mountns_test::WriteFile(dir + "/marker", content));
    return dev;
  });
}

class RunInNamespacesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MOUNTNS_SKIP_UNLESS_ROOT();
    dir_ = temp_.MakeDir("mnt");
    marker_ = absl::StrCat("marker of ", getpid(), " ", time(nullptr));
    absl::StatusOr<NamespaceChild> child = StartChildWithMarker(dir_, marker_);
    ASSERT_OK(child);
    child_.emplace(*std::move(child));
    absl::StatusOr<NamespaceSet> set =
        NamespaceSet::ForPid(child_->pid(), CLONE_NEWNS);
    ASSERT_OK(set);
    target_ = *std::move(set);
  }

  TempDir temp_;
  std::string dir_;
  std::string marker_;
  std::optional<NamespaceChild> child_;
  NamespaceSet target_;
};

TEST_F(RunInNamespacesTest, CarriesTheValueBack) {
  const std::string path = dir_ + "/marker";
  // Not visible here...
  struct stat st;
  ASSERT_NE(stat(path.c_str(), &st), 0);
  // ...but inside.
  absl::StatusOr<std::string> content =
      RunInNamespaces(target_, [&] { return ReadFile(path); });
  ASSERT_OK(content);
  EXPECT_EQ(*content, marker_);
}

TEST_F(RunInNamespacesTest, CarriesErrorsBackWithTheirErrno) {
  absl::StatusOr<std::string> result = RunInNamespaces(
      target_, [&] { return ReadFile(dir_ + "/no-such-file"); });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dmkit::ErrnoOf(result.status()), ENOENT);
  EXPECT_EQ(Message(result.status()),
            absl::StrCat("cannot open ", dir_,
                         "/no-such-file: No such file or directory"));

  result = RunInNamespaces(target_, []() -> absl::StatusOr<std::string> {
    return absl::FailedPreconditionError("custom");
  });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Message(result.status()), "custom");
  EXPECT_EQ(dmkit::ErrnoOf(result.status()), 0);
}

TEST_F(RunInNamespacesTest, CarriesLargeAndBinaryResults) {
  std::string big(5 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  absl::StatusOr<std::string> result = RunInNamespaces(
      target_, [&] { return absl::StatusOr<std::string>(big); });
  ASSERT_OK(result);
  EXPECT_EQ(*result, big);
  result =
      RunInNamespaces(target_, [] { return absl::StatusOr<std::string>(""); });
  ASSERT_OK(result);
  EXPECT_EQ(*result, "");
}

TEST_F(RunInNamespacesTest, HelperDeathIsAnInternalError) {
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, []() -> absl::StatusOr<std::string> {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(SIGABRT, SIG_DFL);
        abort();
      });
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Message(result.status()),
              HasSubstr(absl::StrCat("killed by signal ", SIGABRT)));
}

TEST_F(RunInNamespacesTest, RunsCommands) {
  absl::StatusOr<int> rc =
      RunCommandInNamespaces(target_, {"test", "-e", dir_ + "/marker"});
  ASSERT_OK(rc);
  EXPECT_EQ(*rc, 0);
  // The same test outside gives 1: the command really ran inside.
  absl::StatusOr<int> outside =
      mountns_test::RunProgram({"test", "-e", dir_ + "/marker"});
  ASSERT_OK(outside);
  EXPECT_EQ(*outside, 1);

  rc = RunCommandInNamespaces(target_, {"sh", "-c", "exit 3"});
  ASSERT_OK(rc);
  EXPECT_EQ(*rc, 3);
  rc = RunCommandInNamespaces(target_, {"sh", "-c", "kill -TERM $$"});
  ASSERT_OK(rc);
  EXPECT_EQ(*rc, 128 + SIGTERM);
}

TEST_F(RunInNamespacesTest, CommandThatCannotRun) {
  absl::StatusOr<int> rc =
      RunCommandInNamespaces(target_, {"/nonexistent/program", "x"});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dmkit::ErrnoOf(rc.status()), ENOENT);
  EXPECT_EQ(
      Message(rc.status()),
      "failed to execute /nonexistent/program: No such file or directory");

  rc = RunCommandInNamespaces(target_, {dir_ + "/marker"});
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(dmkit::ErrnoOf(rc.status()), EACCES);

  EXPECT_EQ(RunCommandInNamespaces(target_, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// With a pid namespace in the set the work runs in a grandchild that is
// inside it.
TEST(RunInPidNamespaceTest, RunsInsideThePidNamespace) {
  MOUNTNS_SKIP_UNLESS_ROOT();
  // The child makes a pid namespace; its own child is that namespace's init
  // and reports its pid as seen from outside.
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([]() -> absl::StatusOr<std::string> {
        if (unshare(CLONE_NEWPID) != 0)
          return dmkit::ErrnoError(errno, "unshare");
        pid_t init = fork();
        if (init < 0) return dmkit::ErrnoError(errno, "fork");
        if (init == 0) {
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          pause();
          _exit(0);
        }
        return absl::StrCat(init);
      });
  ASSERT_OK(child);
  const pid_t init =
      static_cast<pid_t>(strtol(child->value().c_str(), nullptr, 10));
  absl::StatusOr<uint64_t> pid_ns = NamespaceInodeOf(init, NamespaceType::kPid);
  ASSERT_OK(pid_ns);

  absl::StatusOr<NamespaceSet> set = NamespaceSet::ForPid(init, CLONE_NEWPID);
  ASSERT_OK(set);
  absl::StatusOr<std::string> seen =
      RunInNamespaces(*set, []() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(std::string status,
                               ReadFile("/proc/thread-self/status"));
        std::string nspid;
        for (absl::string_view line : absl::StrSplit(status, '\n')) {
          if (absl::StartsWith(line, "NSpid:")) nspid = std::string(line);
        }
        // getpid() is the inner pid, which names another process in this
        // /proc (the host's); thread-self does not depend on it.
        struct stat ns;
        if (stat("/proc/thread-self/ns/pid", &ns) != 0) {
          return dmkit::ErrnoError(errno, "stat ns/pid");
        }
        return absl::StrCat(ns.st_ino, " ", getpid(), " ", nspid);
      });
  ASSERT_OK(seen);
  std::vector<std::string> parts =
      absl::StrSplit(*seen, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  // "<ns> <getpid> NSpid: <outer> <inner>"
  ASSERT_EQ(parts.size(), 5u) << *seen;
  EXPECT_EQ(parts[0], absl::StrCat(*pid_ns));
  EXPECT_EQ(parts[4], parts[1]);  // getpid() is the inner pid
  EXPECT_NE(parts[3], parts[4]);

  absl::StatusOr<int> rc = RunCommandInNamespaces(*set, {"sh", "-c", "exit 5"});
  ASSERT_OK(rc);
  EXPECT_EQ(*rc, 5);
  kill(init, SIGKILL);
}

TEST(ExitCodeTest, FollowsTheShell) {
  int status = 0;
  pid_t pid = fork();
  if (pid == 0) _exit(42);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(ExitCodeOfWaitStatus(status), 42);
  pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  kill(pid, SIGKILL);
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(ExitCodeOfWaitStatus(status), 128 + SIGKILL);
}

}  // namespace
}  // namespace mountns
