// Docker's devices as dmkit sees them: tables, pool refusals, the thin
// mappings on a pool (against the fake kernel), the metadata superblock.
#include <string>

#include "absl/strings/str_cat.h"
#include "dmioctl/targets.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tests/unit/test_util.h"
#include "tools/docker/devices.h"

namespace dmkit::docker {
namespace {

using ::testing::HasSubstr;

TEST(DockerTableTest, IncidentTable) {
  DeviceMetadata m{.device_id = 34709, .size = 10737418240};
  dmioctl::Table t = DockerThinTable(m, {253, 3}, /*read_only=*/false);
  EXPECT_EQ(dmioctl::FormatTable(t), "0 20971520 thin 253:3 34709\n");
  EXPECT_FALSE(t.read_only);
  EXPECT_TRUE(DockerThinTable(m, {253, 3}, true).read_only);
  EXPECT_EQ(MountUuid("dad0"), "DMKIT-DOCKER-dad0");
}

PoolState PoolWithStatus(const std::string& status) {
  PoolState p;
  p.status = *dmioctl::targets::ParseThinPoolStatus(status);
  return p;
}

TEST(DockerPoolTest, RefusalReasons) {
  EXPECT_EQ(PoolWithStatus("844170 2560/1048576 4970/1310720 - rw "
                           "discard_passdown queue_if_no_space - 1024")
                .RefusalReason(),
            "");
  EXPECT_EQ(PoolWithStatus("1 1/2 2/2 - out_of_data_space discard_passdown "
                           "queue_if_no_space -")
                .RefusalReason(),
            "");
  EXPECT_THAT(PoolWithStatus("Fail").RefusalReason(), HasSubstr("fail mode"));
  EXPECT_THAT(PoolWithStatus("Error").RefusalReason(), HasSubstr("metadata"));
  EXPECT_THAT(PoolWithStatus("1 1/2 1/2 - ro discard_passdown "
                             "queue_if_no_space -")
                  .RefusalReason(),
              HasSubstr("read-only"));
  EXPECT_THAT(PoolWithStatus("1 1/2 1/2 - rw discard_passdown "
                             "queue_if_no_space needs_check")
                  .RefusalReason(),
              HasSubstr("needs_check"));
}

TEST(DockerMappingsTest, FindsThinTargetsOnThePool) {
  testing::FakeDm fake;
  auto add = [&](const std::string& name, const std::string& uuid,
                 uint32_t minor, const std::string& line) {
    testing::FakeDevice d;
    d.name = name;
    d.uuid = uuid;
    d.minor = minor;
    d.live = *dmioctl::ParseTable(line);
    fake.kernel->devices[name] = d;
  };
  add("docker-253:2-3693860-pool", "", 3,
      "0 167772160 thin-pool 7:1 7:0 128 32768 1 skip_block_zeroing");
  add("docker-253:2-3693860-e85d", "", 4, "0 20971520 thin 253:3 34719");
  add("docker-253:2-3693860-dad0", "DMKIT-DOCKER-dad0", 5,
      "0 20971520 thin 253:3 34709");
  add("other-pool-thin", "", 6, "0 2048 thin 253:9 34709");
  add("linear", "", 7, "0 2048 linear 7:2 0");
  auto mappings = ListThinMappings(fake.dm, {253, 3});
  ASSERT_TRUE(mappings.ok()) << mappings.status();
  ASSERT_EQ(mappings->size(), 2u);
  const ThinMapping* dad0 = nullptr;
  for (const ThinMapping& m : *mappings) {
    if (m.thin_id == 34709) dad0 = &m;
  }
  ASSERT_NE(dad0, nullptr);
  EXPECT_EQ(dad0->name, "docker-253:2-3693860-dad0");
  EXPECT_EQ(dad0->uuid, "DMKIT-DOCKER-dad0");
  EXPECT_EQ(dad0->dev.ToString(), "253:5");
  EXPECT_EQ(dad0->sectors, 20971520u);
  EXPECT_EQ(dad0->table_line, "0 20971520 thin 253:3 34709");
}

TEST(DockerHumanBytesTest, Units) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(10737418240), "10.0 GiB");
  Usage u{512, 1024};
  EXPECT_DOUBLE_EQ(u.percent(), 50.0);
  EXPECT_DOUBLE_EQ(Usage{}.percent(), 0.0);
}

}  // namespace
}  // namespace dmkit::docker
