// The command-line parsers of the nsenter, holders and bench applets
// (tools/*_args.h), without running the applets.
#include <sched.h>

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "tools/bench/args.h"
#include "tools/holders/args.h"
#include "tools/nsenter/args.h"

namespace dmkit {
namespace {

using ::dmkit::testing::Argv;

nsenter::Args Nsenter(std::vector<std::string> words) {
  Argv a(std::move(words));
  return nsenter::ParseArgs(a.argc(), a.argv(), /*quiet=*/true);
}

TEST(NsenterArgs, TargetNamespacesAndProgram) {
  Argv a({"nsenter", "-t", "812", "-m", "-u", "--", "cat", "/x"});
  nsenter::Args args = nsenter::ParseArgs(a.argc(), a.argv(), true);
  ASSERT_FALSE(args.error) << *args.error;
  EXPECT_EQ(args.target, 812);
  EXPECT_EQ(args.namespaces, CLONE_NEWNS | CLONE_NEWUTS);
  EXPECT_EQ(args.program, 6);
  EXPECT_EQ(args.action, nsenter::Args::Action::kRun);
}

TEST(NsenterArgs, FilesInCommandLineOrder) {
  nsenter::Args args = Nsenter(
      {"nsenter", "--net=/run/netns/a", "-r/srv", "--mount=/m", "-w", "sh"});
  ASSERT_FALSE(args.error);
  ASSERT_EQ(args.files.size(), 3u);
  EXPECT_EQ(args.files[0].type, mountns::NamespaceType::kNet);
  EXPECT_EQ(args.files[0].path, "/run/netns/a");
  EXPECT_EQ(args.files[1].kind, nsenter::Args::File::Kind::kRoot);
  EXPECT_EQ(args.files[1].path, "/srv");
  EXPECT_EQ(args.files[2].type, mountns::NamespaceType::kMount);
  EXPECT_TRUE(args.wd_from_target);
  EXPECT_EQ(args.namespaces, 0);
}

// What came before a bad option is kept: the applet opens those files
// first, as util-linux does while it parses.
TEST(NsenterArgs, ErrorKeepsTheFilesBeforeIt) {
  nsenter::Args args = Nsenter({"nsenter", "--mount=/m", "-t", "abc", "-n/n"});
  ASSERT_TRUE(args.error);
  EXPECT_EQ(*args.error, "failed to parse pid: 'abc'");
  EXPECT_FALSE(args.getopt_error);
  ASSERT_EQ(args.files.size(), 1u);
  EXPECT_EQ(args.files[0].path, "/m");

  args = Nsenter({"nsenter", "-t", "99999999999999999999999"});
  ASSERT_TRUE(args.error);
  EXPECT_EQ(*args.error,
            "failed to parse pid: '99999999999999999999999': Numerical "
            "result out of range");
  args = Nsenter({"nsenter", "--bogus"});
  EXPECT_TRUE(args.error && args.getopt_error);
  args = Nsenter({"nsenter", "-W", "/", "-w"});
  EXPECT_EQ(args.error.value_or(""),
            "mutually exclusive arguments: --wdns --wd");
}

TEST(NsenterArgs, HelpStopsParsing) {
  nsenter::Args args = Nsenter({"nsenter", "-h", "-t", "abc"});
  EXPECT_FALSE(args.error);
  EXPECT_EQ(args.action, nsenter::Args::Action::kHelp);
}

absl::StatusOr<holders::Args> Holders(std::vector<std::string> words) {
  Argv a(std::move(words));
  return holders::ParseArgs(a.argc(), a.argv());
}

TEST(HoldersArgs, DeviceAndOptionsInAnyOrder) {
  absl::StatusOr<holders::Args> args =
      Holders({"holders", "--json", "253:4", "--umount", "--lazy"});
  ASSERT_TRUE(args.ok()) << args.status();
  EXPECT_EQ(args->device, "253:4");
  EXPECT_TRUE(args->json && args->umount && args->lazy);
  EXPECT_EQ(Holders({"holders"}).status().message(), "no DEVICE given");
  EXPECT_EQ(Holders({"holders", "a", "b"}).status().message(),
            "one DEVICE only ('b')");
  EXPECT_EQ(Holders({"holders", "--lazy", "a"}).status().message(),
            "--lazy needs --umount");
  EXPECT_EQ(Holders({"holders", "-x"}).status().message(),
            "unknown option '-x'");
  EXPECT_TRUE(Holders({"holders", "--bogus", "-h"}).status().message() ==
              "unknown option '--bogus'");
  EXPECT_TRUE(Holders({"holders", "-h", "--bogus"})->help);
}

// An empty argument was skipped as if it were not there ("holders '' sda"
// looked at sda) but counted when it came second.
TEST(HoldersArgs, EmptyDeviceIsAnError) {
  EXPECT_EQ(Holders({"holders", ""}).status().message(), "empty DEVICE");
  EXPECT_EQ(Holders({"holders", "", "sda"}).status().message(),
            "one DEVICE only ('sda')");
}

absl::StatusOr<bench::CycleOptions> Bench(std::vector<std::string> words) {
  Argv a(std::move(words));
  return bench::ParseCycleArgs(a.argc(), a.argv(), "/tmp");
}

TEST(BenchArgs, Options) {
  absl::StatusOr<bench::CycleOptions> o =
      Bench({"bench", "cycle", "--count", "10", "--jobs", "50", "--json",
             "--backing", "7:0", "--size", "4096", "--tmpdir", "/var/tmp"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->count, 10);
  EXPECT_EQ(o->jobs, 10);  // never more jobs than cycles
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->backing->ToString(), "7:0");
  EXPECT_EQ(o->size, 4096u);
  EXPECT_EQ(o->tmpdir, "/var/tmp");
  EXPECT_EQ(Bench({"bench", "cycle"})->tmpdir, "/tmp");
  EXPECT_EQ(Bench({"bench", "cycle", "--count"}).status().message(),
            "--count needs a value");
  EXPECT_EQ(Bench({"bench", "cycle", "--jobs", "x"}).status().message(),
            "bad --jobs 'x'");
  EXPECT_EQ(Bench({"bench", "cycle", "--size", "7"}).status().message(),
            "bad --size '7'");
  EXPECT_EQ(Bench({"bench", "cycle", "run"}).status().message(),
            "unexpected argument 'run'");
  EXPECT_EQ(Bench({"bench", "cycle", "--target", "thin", "--backing", "7:0"})
                .status()
                .message(),
            "--backing is for --target linear");
  EXPECT_TRUE(Bench({"bench", "cycle", "--help", "--bogus"})->help);
}

// A later --target linear did not undo an earlier --target thin.
TEST(BenchArgs, LastTargetWins) {
  EXPECT_FALSE(
      Bench({"bench", "cycle", "--target", "thin", "--target", "linear"})
          ->thin);
  EXPECT_TRUE(
      Bench({"bench", "cycle", "--target", "linear", "--target", "thin"})
          ->thin);
}

}  // namespace
}  // namespace dmkit
