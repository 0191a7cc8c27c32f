// The `dmkit docker` command line.
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/docker/cli.h"

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
  };
  for (const Case& c : cases) {
    auto r = Parse(c.args);
    ASSERT_FALSE(r.ok()) << c.message;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(c.message));
  }
}

TEST(DockerCliTest, CommandTable) {
  for (const char* name : {"ls", "inspect", "mount", "umount", "df", "pool"}) {
    EXPECT_NE(FindCommand(name), nullptr) << name;
  }
  EXPECT_EQ(FindCommand("rm"), nullptr);
}

}  // namespace
}  // namespace dmkit::docker
