// dmsetup's command line as dmkit parses it.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "tools/dmsetup/options.h"

namespace dmkit::dmsetup {
namespace {

using ::dmkit::testing::Argv;

bool Parse(std::vector<std::string> words, Options* o,
           std::vector<std::string>* errors) {
  Argv a(std::move(words));
  return ParseOptions(a.argc(), a.argv(), o, errors);
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
}

}  // namespace
}  // namespace dmkit::dmsetup
