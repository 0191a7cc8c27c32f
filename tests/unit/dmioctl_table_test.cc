// Table text, concise and dm-init forms; target builders and status parsers.
#include "absl/strings/str_cat.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"
#include "dmioctl/targets.h"
#include "dmioctl/types.h"
#include "gtest/gtest.h"
#include "tests/unit/test_util.h"

namespace dmkit::testing {
namespace {

using dmioctl::DeviceSpec;
using dmioctl::Table;
using dmioctl::Target;

TEST(TableTest, ParsesDmsetupTextWithCommentsAndBlanks) {
  auto table = dmioctl::ParseTable(
      "# the pool\n"
      "\n"
      "  0 20971520 thin 253:3 34709   # container\n"
      "20971520\t8 zero\r\n"
      "+20971528 8 error\n");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->targets.size(), 3u);
  // The comment is cut, the blanks before it stay (dmsetup sends them).
  EXPECT_EQ(table->targets[0], (Target{0, 20971520, "thin", "253:3 34709   "}));
  EXPECT_EQ(table->targets[1], (Target{20971520, 8, "zero", ""}));
  EXPECT_EQ(table->targets[2], (Target{20971528, 8, "error", ""}));
  EXPECT_TRUE(table->Validate().ok());
  EXPECT_EQ(dmioctl::FormatTable(*table),
            "0 20971520 thin 253:3 34709   \n20971520 8 zero\n"
            "20971528 8 error\n");
}

TEST(TableTest, NumbersReadAsStrtoull) {
  auto table = dmioctl::ParseTable("0 -1 zero\n0 99999999999999999999 zero");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->targets[0].length, UINT64_MAX);
  EXPECT_EQ(table->targets[1].length, UINT64_MAX);
}

TEST(TableTest, ErrorsAreDmsetupsLines) {
  auto bad = dmioctl::ParseTable("0 10 zero\nx 10 zero\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "Invalid format on line 2 of table .");
  EXPECT_EQ(dmioctl::ParseTable("0 10", "on stdin").status().message(),
            "Invalid format on line 1 of table on stdin.");
  EXPECT_EQ(dmioctl::ParseTable("0 10 a-target-type-too-long", "/tmp/t")
                .status()
                .message(),
            "Target type name a-target-type-too-long is too long.");
}

TEST(TableTest, ValidateFindsGapsOverlapsAndZeroLengths) {
  Table t;
  EXPECT_FALSE(t.Validate().ok());
  t.targets = {{0, 10, "zero", ""}, {10, 0, "zero", ""}};
  EXPECT_FALSE(t.Validate().ok());
  t.targets = {{0, 10, "zero", ""}, {9, 5, "zero", ""}};
  EXPECT_FALSE(t.Validate().ok());
  t.targets = {{1, 10, "zero", ""}};
  EXPECT_FALSE(t.Validate().ok());
  t.targets = {{0, 10, "zero", ""}, {10, 5, "error", ""}};
  EXPECT_TRUE(t.Validate().ok());
  EXPECT_EQ(t.Sectors(), 15u);
}

// Found by fuzz_table: a NUL parsed from table text passed Validate(), and
// the kernel (which reads params as a C string) would load a shorter table
// than the one asked for.
TEST(TableTest, ValidateRejectsNulInTypeOrParams) {
  using std::string_literals::operator""s;
  auto table = dmioctl::ParseTable("0 8 linear 7:0 0\0 junk\n"s);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_FALSE(table->Validate().ok());
  Table t;
  t.targets = {{0, 8, "ze\0o"s, ""}};
  EXPECT_FALSE(t.Validate().ok());
  FakeDm f;
  ASSERT_TRUE(f.dm.CreateDevice({.name = "vol"}).ok());
  size_t sent = f.kernel->sent.size();
  EXPECT_FALSE(f.dm.LoadTable(dmioctl::DeviceRef::ByName("vol"), *table).ok());
  EXPECT_EQ(f.kernel->sent.size(), sent);  // refused before any ioctl
}

TEST(TableTest, ConciseRoundTripWithEscapes) {
  std::string text =
      "vol,UUID\\,1,,ro,0 8 linear 7:0 0,8 8 crypt a\\;b\\\\c 0 7:1 0;"
      "two,,5,rw,0 1 zero";
  auto devices = dmioctl::ParseConcise(text);
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);
  const DeviceSpec& vol = (*devices)[0];
  EXPECT_EQ(vol.name, "vol");
  EXPECT_EQ(vol.uuid, "UUID,1");
  EXPECT_FALSE(vol.minor.has_value());
  EXPECT_TRUE(vol.table.read_only);
  ASSERT_EQ(vol.table.targets.size(), 2u);
  EXPECT_EQ(vol.table.targets[1].params, "a;b\\c 0 7:1 0");
  EXPECT_EQ((*devices)[1].minor, 5u);
  EXPECT_FALSE((*devices)[1].table.read_only);
  EXPECT_EQ(dmioctl::FormatConcise(*devices), text);
}

TEST(TableTest, ConciseScanLikeDmsetup) {
  std::string error;
  std::vector<dmioctl::ConciseFields> d = dmioctl::ScanConcise(
      "dev1,,,,0 100 linear 253:1 0,100 100 error;dev\\,2, UU-2 ,7,ro,0 1 "
      "error",
      &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "dev1");
  EXPECT_EQ(d[0].uuid, "");
  EXPECT_EQ(d[0].table, "0 100 linear 253:1 0\n100 100 error");
  EXPECT_EQ(d[1].name, "dev,2");
  // Blanks after a separating comma are skipped, not those before one.
  EXPECT_EQ(d[1].uuid, "UU-2 ");
  EXPECT_EQ(d[1].minor, "7");
  EXPECT_EQ(d[1].flags, "ro");
  EXPECT_EQ(d[1].table, "0 1 error");
}

TEST(TableTest, ConciseScanErrorsAreDmsetupsLines) {
  std::string error;
  EXPECT_TRUE(dmioctl::ScanConcise("a,,,rw", &error).empty());
  EXPECT_EQ(error,
            "Five comma-separated fields are required for each device\n"
            "Parsed 4 fields: name: a uuid:  minor:  flags: rw table: "
            "(null)");
  // The devices before the malformed one are kept (dmsetup creates them).
  EXPECT_EQ(dmioctl::ScanConcise("a,,,,0 1 zero;b,x", &error).size(), 1u);
  EXPECT_EQ(error,
            "Five comma-separated fields are required for each device\n"
            "Parsed 2 fields: name: b uuid: x minor: (null) flags: (null) "
            "table: (null)");
  dmioctl::ScanConcise("a\\", &error);
  EXPECT_EQ(error.substr(0, error.find('\n')),
            "Backslash must be followed by another character at end of "
            "string.");
  dmioctl::ScanConcise("a,,,,0 1 zero\\;", &error);
  EXPECT_EQ(error.substr(0, error.find('\n')),
            "Incomplete entry: five comma-separated fields are required for "
            "each device");
}

TEST(TableTest, ConciseErrors) {
  EXPECT_EQ(dmioctl::ParseConcise("vol,,,maybe,0 1 zero").status().message(),
            "Invalid flags parameter 'maybe' must be 'ro' or 'rw' or empty.");
  EXPECT_EQ(dmioctl::ParseConcise("vol,,,rw,zero").status().message(),
            "Invalid format on line 1 of table .");
  EXPECT_FALSE(dmioctl::ParseConcise("vol,,,rw").ok());
  // No text is no devices; a minor is read by atoi().
  auto none = dmioctl::ParseConcise("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto minor = dmioctl::ParseConcise("v,,12x,,0 1 zero;w,,-1,,0 1 zero");
  ASSERT_TRUE(minor.ok()) << minor.status();
  EXPECT_EQ((*minor)[0].minor, 12u);
  EXPECT_FALSE((*minor)[1].minor.has_value());
}

TEST(TableTest, ConciseFormatEscapesLeadingBlanks) {
  DeviceSpec spaced{.name = "v", .uuid = " u"};
  spaced.table.Append(1, "zero", "");
  std::string text = dmioctl::FormatConcise({spaced});
  EXPECT_EQ(text, "v,\\ u,,rw,0 1 zero");
  auto back = dmioctl::ParseConcise(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ((*back)[0], spaced);
}

TEST(TableTest, DmInitRoundTripAndLimits) {
  std::string text =
      "verity,,,ro,0 2048 linear 8:1 0;lin,UU,3,rw,0 8 linear 8:2 0,8 8 "
      "linear 8:3 0";
  auto devices = dmioctl::ParseDmInit(text);
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[1].table.targets.size(), 2u);
  auto formatted = dmioctl::FormatDmInit(*devices);
  ASSERT_TRUE(formatted.ok());
  EXPECT_EQ(*formatted, text);
  // No escapes in dm-init: a backslash is a plain character, a comma cannot
  // be written.
  auto backslash = dmioctl::ParseDmInit("v,,,rw,0 1 crypt a\\b");
  ASSERT_TRUE(backslash.ok());
  EXPECT_EQ((*backslash)[0].table.targets[0].params, "a\\b");
  DeviceSpec comma{.name = "a,b"};
  comma.table.Append(1, "zero", "");
  EXPECT_FALSE(dmioctl::FormatDmInit({comma}).ok());
  // Found by fuzz_concise: a type with a comma (possible in the concise
  // form, as t\,x) was written unchecked and split on the way back.
  auto concise = dmioctl::ParseConcise("v,,,rw,0 1 t\\,x p");
  ASSERT_TRUE(concise.ok()) << concise.status();
  EXPECT_EQ((*concise)[0].table.targets[0].type, "t,x");
  EXPECT_FALSE(dmioctl::FormatDmInit(*concise).ok());
  DeviceSpec semicolon{.name = "v"};
  semicolon.table.Append(1, "a;b", "");
  EXPECT_FALSE(dmioctl::FormatDmInit({semicolon}).ok());
  // Found by fuzz_concise: the concise form carries a NUL byte in a uuid,
  // which dm-init text cannot (ParseDmInit refuses it).
  auto nul = dmioctl::ParseConcise(std::string("v,u\0x,,rw,0 1 zero", 17));
  ASSERT_TRUE(nul.ok()) << nul.status();
  EXPECT_EQ((*nul)[0].uuid, std::string("u\0x", 3));
  EXPECT_FALSE(dmioctl::FormatDmInit(*nul).ok());
  auto slash = dmioctl::ParseConcise("p/ol,,,rw,0 1 zero");
  ASSERT_TRUE(slash.ok()) << slash.status();
  EXPECT_FALSE(dmioctl::FormatDmInit(*slash).ok());
  auto blank_end = dmioctl::ParseConcise("v ,,,rw,0 1 zero");
  ASSERT_TRUE(blank_end.ok()) << blank_end.status();
  EXPECT_FALSE(dmioctl::FormatDmInit(*blank_end).ok());
  // A NUL byte in parameters is carried both ways (fuzz_dm_init).
  auto params_nul =
      dmioctl::ParseDmInit(std::string("v,,,rw,0 1 zero a\0b", 19));
  ASSERT_TRUE(params_nul.ok()) << params_nul.status();
  auto written = dmioctl::FormatDmInit(*params_nul);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(dmioctl::ParseDmInit(*written).value(), *params_nul);
  std::string many;
  for (int i = 0; i < 257; ++i) {
    absl::StrAppend(&many, i ? ";" : "", "d", i, ",,,rw,0 1 zero");
  }
  EXPECT_FALSE(dmioctl::ParseDmInit(many).ok());
}

TEST(TargetsTest, BuildersProduceKernelText) {
  using namespace dmioctl::targets;
  EXPECT_EQ(Linear(0, 10, "7:0", 5).params, "7:0 5");
  EXPECT_EQ(Striped(0, 16, 8, {{"7:0", 0}, {"7:1", 0}}).params,
            "2 8 7:0 0 7:1 0");
  EXPECT_EQ(ThinPool(0, 1024, "7:1", "7:0",
                     {.data_block_sectors = 128,
                      .low_water_blocks = 32768,
                      .features = {"skip_block_zeroing"}})
                .params,
            "7:1 7:0 128 32768 1 skip_block_zeroing");
  EXPECT_EQ(ThinPool(0, 1024, "7:1", "7:0", {}).params, "7:1 7:0 128 0 0");
  Target thin = Thin(0, 20971520, "253:3", 34709);
  EXPECT_EQ(thin.type, "thin");
  EXPECT_EQ(thin.params, "253:3 34709");
  EXPECT_EQ(Snapshot(0, 8, "7:0", "7:1", "P", 16).params, "7:0 7:1 P 16");
  EXPECT_EQ(SnapshotOrigin(0, 8, "7:0").type, "snapshot-origin");
  EXPECT_EQ(Flakey(0, 8, "7:0", 0, 1, 2, {"drop_writes"}).params,
            "7:0 0 1 2 1 drop_writes");
  EXPECT_EQ(Delay(0, 8, "7:0", 0, 100).params, "7:0 0 100");
  EXPECT_EQ(Crypt(0, 8, "7:0", {.key = "abcd"}).params,
            "aes-xts-plain64 abcd 0 7:0 0");
}

TEST(TargetsTest, RedactKeys) {
  using dmioctl::targets::RedactKeys;
  EXPECT_EQ(RedactKeys("crypt", "aes-xts-plain64 0123abcd 0 7:0 0"),
            "aes-xts-plain64 00000000 0 7:0 0");
  EXPECT_EQ(RedactKeys("crypt", "aes :32:logon:key 0 7:0 0"),
            "aes :32:logon:key 0 7:0 0");
  EXPECT_EQ(RedactKeys("integrity",
                       "7:0 0 32 J 2 internal_hash:sha256:beef journal_mac:x"),
            "7:0 0 32 J 2 internal_hash:sha256:0000 journal_mac:x");
  EXPECT_EQ(RedactKeys("linear", "7:0 0"), "7:0 0");
}

TEST(TargetsTest, ThinPoolStatus) {
  auto s = dmioctl::targets::ParseThinPoolStatus(
      "844170 1503/1048576 97421/1310720 - rw discard_passdown "
      "queue_if_no_space - 1024 ");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->transaction_id, 844170u);
  EXPECT_EQ(s->used_metadata_blocks, 1503u);
  EXPECT_EQ(s->total_data_blocks, 1310720u);
  EXPECT_FALSE(s->held_metadata_root.has_value());
  EXPECT_EQ(s->mode, "rw");
  EXPECT_FALSE(s->error_if_no_space);
  EXPECT_FALSE(s->needs_check);
  EXPECT_EQ(s->metadata_low_watermark, 1024u);
  auto fail = dmioctl::targets::ParseThinPoolStatus("Fail");
  ASSERT_TRUE(fail.ok());
  EXPECT_TRUE(fail->failed);
  auto ro = dmioctl::targets::ParseThinPoolStatus(
      "1 10/20 30/40 77 out_of_data_space ignore_discard error_if_no_space "
      "needs_check 5");
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro->held_metadata_root, 77u);
  EXPECT_TRUE(ro->needs_check);
  EXPECT_TRUE(ro->error_if_no_space);
  EXPECT_FALSE(dmioctl::targets::ParseThinPoolStatus("1 10 30/40 -").ok());
  EXPECT_FALSE(dmioctl::targets::ParseThinPoolStatus("").ok());
}

TEST(TargetsTest, ThinAndSnapshotStatus) {
  auto t = dmioctl::targets::ParseThinStatus("2048 4095");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->mapped_sectors, 2048u);
  EXPECT_EQ(t->highest_mapped_sector, 4095u);
  auto empty = dmioctl::targets::ParseThinStatus("0 -");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->highest_mapped_sector.has_value());
  EXPECT_FALSE(dmioctl::targets::ParseThinStatus("12").ok());
  auto snap = dmioctl::targets::ParseSnapshotStatus("16/2048 16");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->allocated_sectors, 16u);
  EXPECT_TRUE(dmioctl::targets::ParseSnapshotStatus("Invalid")->invalid);
  EXPECT_TRUE(
      dmioctl::targets::ParseSnapshotStatus("Merge failed")->merge_failed);
}

TEST(TargetsTest, ThinParams) {
  auto p = dmioctl::targets::ParseThinParams("253:3 34709");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->pool, "253:3");
  EXPECT_EQ(p->thin_id, 34709u);
  EXPECT_FALSE(dmioctl::targets::ParseThinParams("253:3 16777216").ok());
  auto pool = dmioctl::targets::ParseThinPoolParams(
      "7:1 7:0 128 32768 1 skip_block_zeroing");
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->options.features.size(), 1u);
  EXPECT_FALSE(
      dmioctl::targets::ParseThinPoolParams("7:1 7:0 128 32768 5 x").ok());
}

TEST(TypesTest, DevNumParseAndHugeEncoding) {
  auto dev = dmioctl::DevNum::Parse("253:3");
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ(dev->ToString(), "253:3");
  for (const char* bad : {"", "253", "253:", ":3", "a:b", "253:3x", "4096:0"}) {
    EXPECT_FALSE(dmioctl::DevNum::Parse(bad).ok()) << bad;
  }
  dmioctl::DevNum big{259, 70000};
  EXPECT_EQ(dmioctl::DevNum::Decode(big.Encode()), big);
  // huge_encode_dev equals glibc's makedev for majors below 4096.
  EXPECT_EQ(big.Encode(), static_cast<uint64_t>(big.ToDevT()));
}

}  // namespace
}  // namespace dmkit::testing
