// Output pieces of the dmsetup applet: info long form, JSON, holders.
#include <linux/dm-ioctl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "tools/common/json_writer.h"
#include "tools/dmsetup/holders.h"
#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {
namespace {

dmioctl::DeviceInfo Info(uint32_t flags) {
  dmioctl::DeviceInfo info;
  info.name = "vg0-lv0";
  info.uuid = "LVM-abcdef";
  info.dev = {253, 3};
  info.open_count = 2;
  info.event_nr = 7;
  info.target_count = 1;
  info.flags = flags;
  return info;
}

TEST(InfoLong, ActiveDeviceWithUuid) {
  EXPECT_EQ(FormatInfoLong(Info(DM_ACTIVE_PRESENT_FLAG), "vg0-lv0", 256),
            "Name:              vg0-lv0\n"
            "State:             ACTIVE\n"
            "Read Ahead:        256\n"
            "Tables present:    LIVE\n"
            "Open count:        2\n"
            "Event number:      7\n"
            "Major, minor:      253, 3\n"
            "Number of targets: 1\n"
            "UUID: LVM-abcdef\n"
            "\n");
}

TEST(InfoLong, SuspendedReadOnlyBothTablesNoReadAhead) {
  dmioctl::DeviceInfo info =
      Info(DM_ACTIVE_PRESENT_FLAG | DM_INACTIVE_PRESENT_FLAG | DM_SUSPEND_FLAG |
           DM_READONLY_FLAG | DM_DEFERRED_REMOVE);
  info.uuid.clear();
  EXPECT_EQ(FormatInfoLong(info, "x", std::nullopt),
            "Name:              x\n"
            "State:             SUSPENDED (READ-ONLY) (DEFERRED REMOVE)\n"
            "Tables present:    LIVE & INACTIVE\n"
            "Open count:        2\n"
            "Event number:      7\n"
            "Major, minor:      253, 3\n"
            "Number of targets: 1\n"
            "\n");
}

TEST(InfoLong, NoTables) {
  dmioctl::DeviceInfo info = Info(DM_INACTIVE_PRESENT_FLAG);
  std::string out = FormatInfoLong(info, "x", std::nullopt);
  EXPECT_NE(out.find("Tables present:    INACTIVE\n"), std::string::npos);
  out = FormatInfoLong(Info(0), "x", std::nullopt);
  EXPECT_NE(out.find("Tables present:    None\n"), std::string::npos);
}

TEST(Json, EscapesStrings) {
  EXPECT_EQ(json::Escape("plain"), "\"plain\"");
  EXPECT_EQ(json::Escape("a\"b\\c\n\t\x01"), "\"a\\\"b\\\\c\\n\\t\\u0001\"");
  EXPECT_EQ(json::Escape("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  // Bytes that are not UTF-8 still give valid JSON.
  EXPECT_EQ(json::Escape("\xff\xc3"), "\"\\u00ff\\u00c3\"");
  EXPECT_EQ(json::Escape("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");
}

TEST(Json, WriterNestsAndSeparates) {
  json::Writer j;
  j.BeginObject();
  j.Key("devices");
  j.BeginArray();
  j.BeginObject();
  j.Key("name");
  j.String("a");
  j.Key("major");
  j.Uint(253);
  j.Key("ok");
  j.Bool(true);
  j.EndObject();
  j.BeginObject();
  j.Key("read_ahead");
  j.Null();
  j.Key("open");
  j.Int(-1);
  j.EndObject();
  j.EndArray();
  j.EndObject();
  EXPECT_EQ(j.text(),
            "{\"devices\":[{\"name\":\"a\",\"major\":253,\"ok\":true},"
            "{\"read_ahead\":null,\"open\":-1}]}");
}

class FakeSysfs : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dmsetup_sysfs_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    Mkdir("/dev");
    Mkdir("/dev/block");
    Mkdir("/devices");
    Mkdir("/devices/dm-0");
    Mkdir("/block");
    ASSERT_EQ(
        symlink("../../devices/dm-0", (root_ + "/dev/block/253:0").c_str()), 0);
    Mkdir("/block/dm-0");
    Mkdir("/block/dm-0/holders");
    for (const char* h : {"dm-2", "dm-1"}) {
      Mkdir(std::string("/block/") + h);
      Mkdir(std::string("/block/") + h + "/dm");
      Write(std::string("/block/") + h + "/dm/name",
            std::string(h) == "dm-1" ? "thin1\n" : "thin2\n");
      ASSERT_EQ(symlink("x", (root_ + "/block/dm-0/holders/" + h).c_str()), 0);
    }
  }
  void TearDown() override {
    std::string cmd = "rm -rf " + root_;
    ASSERT_EQ(system(cmd.c_str()), 0);
  }
  void Mkdir(const std::string& p) {
    ASSERT_EQ(mkdir((root_ + p).c_str(), 0755), 0) << p;
  }
  void Write(const std::string& p, const std::string& text) {
    FILE* f = fopen((root_ + p).c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text.c_str(), f);
    fclose(f);
  }
  std::string root_;
};

TEST_F(FakeSysfs, NamesStackedHolders) {
  EXPECT_EQ(DescribeHolders("pool", {253, 0}, 2, root_),
            "dmkit: pool is in use: open count 2; held by dm-1 (thin1), dm-2 "
            "(thin2)");
}

TEST_F(FakeSysfs, NoHoldersMeansAProcessOrMount) {
  EXPECT_EQ(DescribeHolders("x", {253, 9}, 1, root_),
            "dmkit: x is in use: open count 1");
}

}  // namespace
}  // namespace dmkit::dmsetup
