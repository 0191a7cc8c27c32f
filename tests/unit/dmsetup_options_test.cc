// dmsetup's command line as dmkit parses it.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "tools/dmsetup/options.h"

namespace dmkit::dmsetup {
namespace {

using ::dmkit::testing::Argv;

// Parses `words` into `o`; on failure, dmsetup's message is the last of
// `errors` (after the warnings).
bool Parse(std::vector<std::string> words, Options* o,
           std::vector<std::string>* errors) {
  Argv a(std::move(words));
  absl::StatusOr<Options> parsed = ParseOptions(a.argc(), a.argv(), errors);
  if (!parsed.ok()) {
    errors->emplace_back(parsed.status().message());
    return false;
  }
  *o = *std::move(parsed);
  return true;
}

TEST(Options, CommandAndPermutedOptions) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse(
      {"dmsetup", "create", "vol", "--table", "0 8 zero", "-u", "UUID-1", "-r"},
      &o, &errors));
  EXPECT_EQ(o.command, "create");
  EXPECT_EQ(o.args, std::vector<std::string>{"vol"});
  EXPECT_TRUE(o.table_set);
  EXPECT_EQ(o.table, "0 8 zero");
  EXPECT_EQ(o.uuid, "UUID-1");
  EXPECT_EQ(o.readonly, 1);
}

TEST(Options, AbbreviatedLongOptions) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse(
      {"dmsetup", "info", "--noheadi", "-c", "--nameprefix", "--sep", ":"}, &o,
      &errors));
  EXPECT_EQ(o.noheadings, 1);
  EXPECT_EQ(o.nameprefixes, 1);
  EXPECT_EQ(o.columns, 1);
  EXPECT_EQ(o.separator, ":");
}

TEST(Options, UdevOptionsAreAcceptedNoOps) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "--noudevsync", "--noudevrules", "--verifyudev",
                     "--udevcookie", "0x0d4d1234", "remove", "x"},
                    &o, &errors));
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.udev_cookie, 0x0d4d1234u);
  EXPECT_EQ(o.command, "remove");
}

TEST(Options, MajorNeedsMinor) {
  Options o;
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse({"dmsetup", "info", "-j", "253"}, &o, &errors));
  EXPECT_EQ(errors, std::vector<std::string>{
                        "Please specify both major number and minor number."});
}

TEST(Options, TableAndNotable) {
  Options o;
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse({"dmsetup", "create", "x", "-n", "--table", "0 1 zero"},
                     &o, &errors));
  EXPECT_EQ(errors.back(), "--table and --notable are incompatible.");
}

TEST(Options, ModeIsOctalAndNonZero) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "-M", "640", "create", "x"}, &o, &errors));
  EXPECT_EQ(o.mode, 0640);
  EXPECT_FALSE(Parse({"dmsetup", "-M", "9", "create", "x"}, &o, &errors));
  EXPECT_EQ(errors.back(), "Invalid argument for --mode: 9. ");
}

TEST(Options, ReadAhead) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      Parse({"dmsetup", "--readahead", "+256", "resume", "x"}, &o, &errors));
  EXPECT_TRUE(o.readahead_minimum);
  EXPECT_EQ(o.readahead, 256u);
  ASSERT_TRUE(
      Parse({"dmsetup", "--readahead", "none", "resume", "x"}, &o, &errors));
  EXPECT_EQ(o.readahead, kReadAheadNone);
  EXPECT_FALSE(
      Parse({"dmsetup", "--readahead", "-5", "resume", "x"}, &o, &errors));
  EXPECT_EQ(errors.back(), "Negative read ahead value (-5) is not understood.");
}

TEST(Options, ManglingMode) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "--manglename", "HEX", "ls"}, &o, &errors));
  EXPECT_EQ(o.manglename, Mangling::kHex);
  EXPECT_FALSE(Parse({"dmsetup", "--manglename", "x", "ls"}, &o, &errors));
  EXPECT_EQ(errors.back(), "Unknown name mangling mode.");
}

TEST(Options, VerboseCountsAndJson) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "-vv", "--json", "ls"}, &o, &errors));
  EXPECT_EQ(o.verbose, 2);
  EXPECT_EQ(o.json, 1);
}

TEST(Options, DoubleDashEndsOptions) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "remove", "--", "-f"}, &o, &errors));
  EXPECT_EQ(o.force, 0);
  EXPECT_EQ(o.args, std::vector<std::string>{"-f"});
}

// Found by fuzz_applet_args: an empty word as the command was taken for no
// command (usage only); dmsetup says "Unknown command." first.
TEST(Options, EmptyCommandWordIsACommand) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "", "x"}, &o, &errors));
  EXPECT_TRUE(o.command_given);
  EXPECT_EQ(o.command, "");
  EXPECT_EQ(o.args, std::vector<std::string>{"x"});
  ASSERT_TRUE(Parse({"dmsetup", "-v"}, &o, &errors));
  EXPECT_FALSE(o.command_given);
}

TEST(Options, UnknownOptionFails) {
  Options o;
  std::vector<std::string> errors;
  EXPECT_FALSE(Parse({"dmsetup", "--bogus", "ls"}, &o, &errors));
  // getopt said so itself.
  EXPECT_EQ(errors, std::vector<std::string>{""});
}

TEST(Options, BadCookieIsAWarning) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(Parse({"dmsetup", "--udevcookie", "x", "ls"}, &o, &errors));
  EXPECT_EQ(errors, std::vector<std::string>{"Incorrect cookie value."});
  EXPECT_TRUE(o.udevcookie_set);
  EXPECT_EQ(o.udev_cookie, 0u);
}

// Every kind of switch in the table: counted, with text, with a number,
// with its own parser, short and long, and the ignored ones.
TEST(Options, TableKinds) {
  Options o;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      Parse({"dmsetup",    "-cC",    "--units",     "k",       "-j",      "253",
             "-m",         "7",      "-U",          "5",       "--count", "3",
             "--interval", "2",      "--histogram", "--areas", "4",       "-O",
             "name",       "--jobs", "8",           "info"},
            &o, &errors));
  EXPECT_EQ(o.columns, 2);
  EXPECT_EQ(o.units_set, 1);
  EXPECT_EQ(o.units, "k");
  EXPECT_TRUE(o.major_set && o.minor_set && o.uid_set && o.count_set);
  EXPECT_EQ(o.major, 253);
  EXPECT_EQ(o.minor, 7);
  EXPECT_EQ(o.uid, 5);
  EXPECT_EQ(o.count, 3);
  EXPECT_EQ(o.interval, 2);
  EXPECT_TRUE(o.sort_set);
  EXPECT_EQ(o.sort, "name");
  EXPECT_EQ(o.jobs, 8);
  EXPECT_EQ(o.command, "info");
  EXPECT_FALSE(Parse({"dmsetup", "--count", "-1", "info"}, &o, &errors));
  EXPECT_EQ(errors.back(), "Count must be zero or greater.");
  EXPECT_FALSE(Parse({"dmsetup", "--interval", "0", "info"}, &o, &errors));
  EXPECT_EQ(errors.back(), "Interval must be a positive integer.");
  EXPECT_FALSE(Parse({"dmsetup", "--jobs", "0", "remove"}, &o, &errors));
  EXPECT_EQ(errors.back(),
            "--jobs takes a number of devices to work on at once (1-1024).");
}

}  // namespace
}  // namespace dmkit::dmsetup
