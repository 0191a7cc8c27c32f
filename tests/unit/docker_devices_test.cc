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
#include "tools/docker/thin_superblock.h"

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

void Put32(std::string& b, size_t off, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[off + i] = static_cast<char>(v >> (8 * i));
}
void Put64(std::string& b, size_t off, uint64_t v) {
  Put32(b, off, static_cast<uint32_t>(v));
  Put32(b, off + 4, static_cast<uint32_t>(v >> 32));
}

// A superblock laid out as dm-thin-metadata.c writes it.
std::string Superblock(uint32_t block_sectors) {
  std::string b(4096, '\0');
  Put32(b, 4, 0);                     // flags
  Put64(b, 32, kThinSuperblockMagic);
  Put32(b, 40, 2);                    // version
  Put64(b, 48, 844170);               // trans_id
  Put64(b, 64, 32768);                // data sm: nr_blocks
  Put64(b, 72, 4970);                 // data sm: nr_allocated
  Put64(b, 192, 16384);               // metadata sm: nr_blocks
  Put64(b, 200, 2560);                // metadata sm: nr_allocated
  Put32(b, 336, block_sectors);
  Put32(b, 340, 8);
  Put64(b, 344, 16384);
  Put32(b, 0, ThinMetadataChecksum(b));
  return b;
}

TEST(ThinSuperblockTest, ChecksumIsKernelCrc32c) {
  // crc32c("123456789") is 0xe3069283; the kernel stores it without the
  // final inversion, xor SUPERBLOCK_CSUM_XOR (160774).
  std::string block = absl::StrCat("csum", "123456789");
  EXPECT_EQ(ThinMetadataChecksum(block), ~0xe3069283u ^ 160774u);
}

TEST(ThinSuperblockTest, Parses) {
  auto sb = ParseThinSuperblock(Superblock(1024));
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->data_block_sectors, 1024u);
  EXPECT_EQ(sb->metadata_block_sectors, 8u);
  EXPECT_EQ(sb->transaction_id, 844170u);
  EXPECT_EQ(sb->data_blocks, 32768u);
  EXPECT_EQ(sb->data_blocks_allocated, 4970u);
  EXPECT_EQ(sb->metadata_blocks_allocated, 2560u);
  EXPECT_FALSE(sb->needs_check());
}

TEST(ThinSuperblockTest, Rejects) {
  EXPECT_EQ(ParseThinSuperblock(std::string(4096, '\0')).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ParseThinSuperblock(std::string(100, 'x')).ok());
  std::string bad_magic = Superblock(128);
  Put64(bad_magic, 32, 1);
  Put32(bad_magic, 0, ThinMetadataChecksum(bad_magic));
  EXPECT_THAT(ParseThinSuperblock(bad_magic).status().message(),
              HasSubstr("magic"));
  std::string corrupt = Superblock(128);
  corrupt[1000] ^= 1;
  EXPECT_THAT(ParseThinSuperblock(corrupt).status().message(),
              HasSubstr("checksum"));
  EXPECT_THAT(ParseThinSuperblock(Superblock(100)).status().message(),
              HasSubstr("multiple of 128"));
  std::string check = Superblock(128);
  Put32(check, 4, 1);
  Put32(check, 0, ThinMetadataChecksum(check));
  EXPECT_TRUE(ParseThinSuperblock(check)->needs_check());
}

// Found by fuzz_thin_superblock: a (checksummed) superblock with 2^57 data
// blocks of 128 sectors parsed, and pool --activate's size check computed
// blocks x sectors, which wrapped to 0 and passed for any data file.
TEST(ThinSuperblockTest, RejectsMoreDataThanADeviceHolds) {
  std::string huge = Superblock(128);
  Put64(huge, 64, uint64_t{1} << 57);
  Put32(huge, 0, ThinMetadataChecksum(huge));
  EXPECT_THAT(ParseThinSuperblock(huge).status().message(),
              HasSubstr("more than a device can have"));
  std::string largest = Superblock(128);
  Put64(largest, 64, UINT64_MAX / 128);
  Put32(largest, 0, ThinMetadataChecksum(largest));
  EXPECT_TRUE(ParseThinSuperblock(largest).ok());
}

TEST(ThinSuperblockTest, ReadsAFile) {
  testing::TempDir dir;
  std::string path = dir.Write("metadata", Superblock(256) + std::string(4096, 'x'));
  auto sb = ReadThinSuperblock(path);
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->data_block_sectors, 256u);
  auto missing = ReadThinSuperblock(dir.path() + "/none");
  EXPECT_THAT(missing.status().message(), HasSubstr("No such file"));
}

}  // namespace
}  // namespace dmkit::docker
