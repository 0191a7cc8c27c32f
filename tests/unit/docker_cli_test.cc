// The `dmkit docker` command line.
#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tools/docker/cli.h"
#include "tools/docker/docker.h"

namespace dmkit::docker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::StatusOr<Invocation> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "docker");
  return ParseCommandLine(static_cast<int>(args.size()), args.data());
}

TEST(DockerCliTest, OptionsBeforeOrAfterArguments) {
  auto a = Parse({"mount", "--root", "/home/docker", "web", "/mnt", "--rw"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->command, "mount");
  EXPECT_EQ(*a->options.root, "/home/docker");
  EXPECT_TRUE(a->options.rw);
  EXPECT_THAT(a->options.args, ElementsAre("web", "/mnt"));

  auto b = Parse({"--root=/r", "--pool", "docker-thinpool", "df", "--json",
                  "--no-activate"});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->command, "df");
  EXPECT_EQ(*b->options.root, "/r");
  EXPECT_EQ(*b->options.pool, "docker-thinpool");
  EXPECT_TRUE(b->options.json);
  EXPECT_TRUE(b->options.no_activate);

  auto c = Parse({"umount", "--", "--odd-name"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(c->options.args, ElementsAre("--odd-name"));

  auto d = Parse({"mount", "/mnt", "--device-id", "34709", "--rw"});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->options.device_id, 34709u);
  EXPECT_TRUE(d->options.rw);
  EXPECT_THAT(d->options.args, ElementsAre("/mnt"));
  EXPECT_EQ(Parse({"mount", "--device-id=16777215", "/m"})->options.device_id,
            16777215u);
  EXPECT_EQ(Parse({"mount", "--device-id=0", "/m"})->options.device_id, 0u);
  EXPECT_TRUE(Parse({"ls", "--orphans", "--json"})->options.orphans);
  EXPECT_TRUE(Parse({"gc", "--dry-run"})->options.dry_run);
  EXPECT_FALSE(Parse({"gc"})->options.dry_run);

  EXPECT_TRUE(Parse({"ls", "--help"})->help);
  EXPECT_TRUE(Parse({"pool", "--activate"})->options.activate);
}

TEST(DockerCliTest, UsageErrors) {
  struct Case {
    std::vector<const char*> args;
    const char* message;
  } cases[] = {
      {{}, "no command"},
      {{"frob"}, "unknown command 'frob'"},
      {{"ls", "--frob"}, "unknown option --frob"},
      {{"ls", "--root"}, "--root needs a value"},
      {{"ls", "--root="}, "--root needs a value"},
      {{"ls", "--json=yes"}, "takes no value"},
      {{"ls", "--rw"}, "--rw is for mount"},
      {{"inspect", "--json", "x"}, "--json is for"},
      {{"ls", "--no-activate"}, "--no-activate is for df"},
      {{"df", "--activate"}, "--activate is for pool"},
      {{"ls", "x"}, "ls takes no arguments"},
      {{"inspect"}, "inspect takes one argument"},
      {{"mount", "x"}, "mount takes two arguments"},
      {{"umount", "a", "b"}, "umount takes one argument"},
      {{"df", "--orphans"}, "--orphans is for ls"},
      {{"ls", "--dry-run"}, "--dry-run is for gc"},
      {{"gc", "--json"}, "--json is for"},
      {{"gc", "x"}, "gc takes no arguments"},
      {{"ls", "--device-id", "3"}, "--device-id is for mount"},
      {{"mount", "--device-id"}, "--device-id needs a value"},
      {{"mount", "--device-id", "x1", "/m"}, "'x1' is not a thin device id"},
      {{"mount", "--device-id=16777216", "/m"}, "not a thin device id"},
      {{"mount", "--device-id", "-1", "/m"}, "not a thin device id"},
      {{"mount", "--device-id", "3", "web", "/m"},
       "mount takes one argument with --device-id (MOUNTPOINT)"},
      {{"mount", "--device-id", "3"}, "with --device-id"},
  };
  for (const Case& c : cases) {
    auto r = Parse(c.args);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
  }
}

TEST(DockerCliTest, CommandTable) {
  for (const char* name :
       {"ls", "inspect", "mount", "umount", "df", "pool", "gc"}) {
    EXPECT_NE(FindCommand(name), nullptr) << name;
  }
  EXPECT_EQ(FindCommand("rm"), nullptr);
}

// Bad input is reported before device-mapper is opened (the opener is not
// called); a good command line opens it once.
TEST(DockerCliTest, UsageErrorsDoNotOpenDeviceMapper) {
  int opened = 0;
  auto open = [&] {
    ++opened;
    return DeviceMapperOrError(absl::UnavailableError("no device-mapper"));
  };
  for (std::vector<const char*> args : std::vector<std::vector<const char*>>{
           {"docker", "gc", "--dry-run", "extra"},
           {"docker", "mount", "--device-id", "nine", "/mnt"},
           {"docker", "ls", "--rw"},
           {"docker", "frob"},
           {"docker", "--help"}}) {
    ::testing::internal::CaptureStderr();
    ::testing::internal::CaptureStdout();
    docker::Run(open, static_cast<int>(args.size()),
                const_cast<char**>(args.data()));
    std::string err = ::testing::internal::GetCapturedStderr();
    ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(opened, 0) << args[1];
    if (std::string(args[1]) != "--help") {
      EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 2) << err;
    }
  }
  testing::TempDir empty;
  std::vector<const char*> args = {"docker", "gc", "--root",
                                   empty.path().c_str()};
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(docker::Run(open, 4, const_cast<char**>(args.data())), 1);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(opened, 1);
}

}  // namespace
}  // namespace dmkit::docker
