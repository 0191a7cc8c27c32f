// The info -c / splitname report: fields, widths, padding, separators.
#include "gtest/gtest.h"
#include "tools/dmsetup/report.h"

namespace dmkit::dmsetup {
namespace {

std::unique_ptr<Report> Make(ReportOptions o, std::string* err = nullptr) {
  std::string messages;
  auto r = Report::Create(o, &messages);
  if (err) *err = messages;
  return r;
}

// Values for the default info -c fields:
// name,major,minor,attr,open,segments,events,uuid.
std::vector<std::string> Row(const char* name, const char* minor,
                             const char* attr, const char* uuid) {
  return {name, "253", minor, attr, "0", "1", "0", uuid};
}

TEST(Report, DefaultColumnsPadEveryColumnIncludingTheLast) {
  auto r = Make(ReportOptions{});
  ASSERT_TRUE(r);
  r->AddRow(Row("lin1", "0", "L--w", "LVM-linuuid1"));
  r->AddRow(Row("pool", "12", "L--w", ""));
  EXPECT_EQ(
      r->Output(),
      "Name             Maj Min Stat Open Targ Event  UUID                "
      "            \n"
      "lin1             253   0 L--w    0    1      0 LVM-linuuid1        "
      "            \n"
      "pool             253  12 L--w    0    1      0                     "
      "            \n");
}

TEST(Report, ColumnsGrowToTheLongestValue) {
  auto r = Make(ReportOptions{});
  std::string uuid(40, 'u');
  r->AddRow(Row("a-rather-long-device-name", "3", "LIsr", uuid.c_str()));
  std::string out = r->Output();
  std::string expected =
      "Name                      Maj Min Stat Open Targ Event  UUID";
  expected.append(36, ' ');
  EXPECT_EQ(out.substr(0, out.find('\n')), expected);
}

TEST(Report, NoHeadingsMeansColonsAndNoPadding) {
  ReportOptions o;
  o.noheadings = true;
  auto r = Make(o);
  r->AddRow(Row("lin1", "0", "L--w", "LVM-x"));
  EXPECT_EQ(r->Output(), "lin1:253:0:L--w:0:1:0:LVM-x\n");
}

TEST(Report, SeparatorKeepsHeadingsButDropsPadding) {
  ReportOptions o;
  o.separator_set = true;
  o.separator.assign(1, '|');  // (operator= trips GCC 12 -Wrestrict)
  auto r = Make(o);
  r->AddRow(Row("lin1", "0", "L--w", ""));
  EXPECT_EQ(r->Output(),
            "Name|Maj|Min|Stat|Open|Targ|Event|UUID\n"
            "lin1|253|0|L--w|0|1|0|\n");
}

TEST(Report, NamePrefixes) {
  ReportOptions o;
  o.nameprefixes = true;
  o.fields_set = true;
  o.fields = "name,suspended";
  auto r = Make(o);
  r->AddRow({"lin1", "Active"});
  EXPECT_EQ(r->Output(),
            "Name Suspended\n"
            "DM_NAME='lin1' DM_SUSPENDED='Active'\n");
}

TEST(Report, UdevRulesQuery) {
  // 10-dm.rules: info -c --nameprefixes --noheadings --rows -o suspended
  ReportOptions o;
  o.nameprefixes = o.noheadings = o.rows = true;
  o.fields_set = true;
  o.fields = "suspended";
  auto r = Make(o);
  r->AddRow({"Suspended"});
  EXPECT_EQ(r->Output(), "DM_SUSPENDED='Suspended'\n");
}

TEST(Report, RowsTransposeWithoutPadding) {
  ReportOptions o;
  o.rows = true;
  o.fields_set = true;
  o.fields = "name,minor";
  auto r = Make(o);
  r->AddRow({"a", "0"});
  r->AddRow({"bbbbbbbbbbbbbbbbbbbbb", "10"});
  EXPECT_EQ(r->Output(), "Name a bbbbbbbbbbbbbbbbbbbbb\nMin 0 10\n");
}

TEST(Report, PlusAppendsToDefaults) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "+devno";
  auto r = Make(o);
  ASSERT_EQ(r->fields().size(), 9u);
  EXPECT_EQ(r->fields().back(), Field::kDevNo);
}

TEST(Report, FieldNamesIgnoreCaseAndUnderscores) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "NAME,lvname,Vg_Name";
  auto r = Make(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fields(),
            (std::vector<Field>{Field::kName, Field::kLvName, Field::kVgName}));
  EXPECT_EQ(r->types(), unsigned{kObjTask | kObjName});
}

TEST(Report, PrefixAllSelectsASection) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "deps_all";
  auto r = Make(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fields(),
            (std::vector<Field>{Field::kDeviceCount, Field::kDevNosUsed,
                                Field::kBlkDevsUsed}));
}

TEST(Report, UnknownFieldListsTheFields) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "name,bogus";
  std::string err;
  EXPECT_FALSE(Make(o, &err));
  EXPECT_EQ(err.rfind("Mapped Device Name Fields\n", 0), 0u);
  EXPECT_NE(err.find("\n \nUnrecognised field: bogus\n"), std::string::npos);
}

TEST(Report, HelpPrintsFieldsAndNothingElse) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "help";
  std::string err;
  auto r = Make(o, &err);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->help_only());
  EXPECT_EQ(err, std::string(FieldHelpText()) + " \n");
  EXPECT_EQ(r->AddRow({}), "");
  EXPECT_EQ(r->Output(), "");
}

TEST(Report, SortNumericDescendingWithHiddenKey) {
  ReportOptions o;
  o.fields_set = true;
  o.fields = "name";
  o.sort_keys = "-minor";
  auto r = Make(o);
  ASSERT_EQ(r->fields(), (std::vector<Field>{Field::kMinor, Field::kName}));
  r->AddRow({"2", "b"});
  r->AddRow({"10", "c"});
  r->AddRow({"1", "a"});
  EXPECT_EQ(r->Output(),
            "Name            \nc               \nb               \n"
            "a               \n");
}

TEST(Report, SplitnameLayout) {
  // As `dmsetup splitname -o subsystem,lv_layer,vg_name x-y-z` prints it.
  ReportOptions o;
  o.default_fields = "vg_name,lv_name,lv_layer";
  o.field_prefix = "splitname_";
  o.fields_set = true;
  o.fields = "subsystem,lv_layer,vg_name";
  auto r = Make(o);
  r->AddRow({"LVM", "z", "x"});
  EXPECT_EQ(r->Output(), "Subsys LVLayer VG  \nLVM    z       x   \n");
}

TEST(Report, SplitnameAll) {
  ReportOptions o;
  o.default_fields = "vg_name,lv_name,lv_layer";
  o.field_prefix = "splitname_";
  o.fields_set = true;
  o.fields = "all";
  auto r = Make(o);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->fields().size(), 4u);
}

TEST(Report, UnbufferedRowsUseTheirOwnWidths) {
  ReportOptions o;
  o.unbuffered = true;
  o.fields_set = true;
  o.fields = "name";
  auto r = Make(o);
  EXPECT_EQ(r->AddRow({"a"}), "Name            \na               \n");
  EXPECT_EQ(r->AddRow({"a-name-longer-than-16"}), "a-name-longer-than-16\n");
  EXPECT_EQ(r->Output(), "");
}

}  // namespace
}  // namespace dmkit::dmsetup
