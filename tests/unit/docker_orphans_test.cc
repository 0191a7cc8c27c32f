// The pool's thin devices against Docker's metadata (tools/docker/orphans.h):
// thin devices read from real metadata files (made by thin_restore from
// generated XML), Docker's references from a Docker-shaped root, the
// orphans and missing devices between them, the refusals of gc, and the
// deletion stopping at the first error on the fake kernel. The live pool,
// its metadata snapshot and the commands end to end are in tests/vm
// (vm_docker_orphans).
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dmioctl/table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tests/unit/test_util.h"
#include "tools/docker/orphans.h"

namespace dmkit::docker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kHashA[] =
    "dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824";
constexpr char kHashB[] =
    "e85dd793a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";
constexpr char kHashC[] =
    "77aa5e1e7e0000000000000000000000000000000000000000000000000000d3";
constexpr char kHashD[] =
    "5b0c4a7d9e8f00000000000000000000000000000000000000000000000000d4";

// A pool's metadata as thin_dump prints it: base (1), a container (5), an
// orphan with ten blocks (7), the device of an open transaction (9), an
// orphan that maps nothing (12), and a device whose 2000 mappings need a
// tree with internal nodes (300, highest block 3998).
std::string PoolXml() {
  std::string xml =
      "<superblock uuid=\"\" time=\"5\" transaction=\"12\" flags=\"0\" "
      "version=\"2\" data_block_size=\"128\" nr_data_blocks=\"100000\">\n";
  auto device = [&](int id, int mapped, int created, const std::string& body) {
    absl::StrAppend(&xml, "  <device dev_id=\"", id, "\" mapped_blocks=\"",
                    mapped, "\" transaction=\"", id, "\" creation_time=\"",
                    created, "\" snap_time=\"", created, "\">\n", body,
                    "  </device>\n");
  };
  device(1, 3, 0,
         "    <range_mapping origin_begin=\"0\" data_begin=\"0\" "
         "length=\"3\" time=\"0\"/>\n");
  device(5, 1, 1,
         "    <single_mapping origin_block=\"40\" data_block=\"3\" "
         "time=\"1\"/>\n");
  device(7, 10, 3,
         "    <range_mapping origin_begin=\"0\" data_begin=\"10\" "
         "length=\"10\" time=\"3\"/>\n");
  device(9, 1, 4,
         "    <single_mapping origin_block=\"0\" data_block=\"30\" "
         "time=\"4\"/>\n");
  device(12, 0, 4, "");
  std::string body;
  for (int i = 0; i < 2000; ++i) {
    absl::StrAppend(&body, "    <single_mapping origin_block=\"", 2 * i,
                    "\" data_block=\"", 100 + 3 * i, "\" time=\"5\"/>\n");
  }
  device(300, 2000, 5, body);
  return xml + "</superblock>\n";
}

std::string DeviceJson(int id, bool deleted = false) {
  return absl::StrCat("{\"device_id\":", id,
                      ",\"size\":10737418240,\"transaction_id\":", id,
                      ",\"initialized\":", id == 1 ? "true" : "false",
                      ",\"deleted\":", deleted ? "true" : "false", "}");
}

class OrphansTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (system("command -v thin_restore >/dev/null 2>&1") != 0) return;
    dir_ = new testing::TempDir;
    std::string xml = dir_->Write("pool.xml", PoolXml());
    metadata_ = dir_->path() + "/metadata";
    std::string cmd =
        absl::StrCat("truncate -s 8M ", metadata_, " && thin_restore -i ", xml,
                     " -o ", metadata_, " >/dev/null 2>&1");
    ASSERT_EQ(system(cmd.c_str()), 0) << cmd;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  void SetUp() override {
    if (dir_ == nullptr) GTEST_SKIP() << "no thin_restore";
    // Docker's side: base, container 5, a file naming a device the pool
    // lacks (77), a device with a deferred deletion pending (300), the
    // open transaction's device (9), and what the loader skips.
    root_.Write("devicemapper/metadata/base", DeviceJson(1));
    root_.Write(absl::StrCat("devicemapper/metadata/", kHashA), DeviceJson(5));
    root_.Write(absl::StrCat("devicemapper/metadata/", kHashB), DeviceJson(77));
    root_.Write(absl::StrCat("devicemapper/metadata/", kHashC),
                DeviceJson(300, /*deleted=*/true));
    root_.Write(
        "devicemapper/metadata/deviceset-metadata",
        R"({"next_device_id":301,"BaseDeviceUUID":"","BaseDeviceFilesystem":"xfs"})");
    root_.Write("devicemapper/metadata/transaction-metadata",
                absl::StrCat(R"({"open_transaction_id":13,"device_hash":")",
                             kHashD, R"(","device_id":9})"));
    root_.Write("devicemapper/metadata/.tmp0815", "{half a fi");
    root_.Write(absl::StrCat("devicemapper/metadata/", kHashD, ".migrated"),
                "junk");
  }

  PoolThins Thins() {
    absl::StatusOr<thin::Source> source = thin::Source::Open(metadata_);
    EXPECT_TRUE(source.ok()) << source.status();
    absl::StatusOr<PoolThins> thins = ReadPoolThins(*source, false);
    EXPECT_TRUE(thins.ok()) << thins.status();
    return thins.ok() ? *thins : PoolThins();
  }
  absl::StatusOr<std::optional<uint64_t>> Extent(uint32_t id) {
    absl::StatusOr<thin::Source> source = thin::Source::Open(metadata_);
    if (!source.ok()) return source.status();
    absl::StatusOr<PoolThins> thins = ReadPoolThins(*source, false, id);
    if (!thins.ok()) return thins.status();
    return thins->highest_block;
  }
  static std::vector<uint32_t> Ids(const std::vector<PoolThin>& thins) {
    std::vector<uint32_t> ids;
    for (const PoolThin& t : thins) ids.push_back(t.id);
    return ids;
  }
  Orphans Find() {
    return FindOrphans(ReadReferences(Store(root_.path())), Thins());
  }

  static testing::TempDir* dir_;
  static std::string metadata_;
  testing::TempDir root_;
};

testing::TempDir* OrphansTest::dir_ = nullptr;
std::string OrphansTest::metadata_;

TEST_F(OrphansTest, ReadsThePoolsThinDevices) {
  PoolThins p = Thins();
  EXPECT_EQ(p.data_block_sectors, 128u);
  EXPECT_EQ(p.transaction_id, 12u);
  EXPECT_THAT(Ids(p.thins), ElementsAre(1, 5, 7, 9, 12, 300));
  ASSERT_NE(p.Find(7), nullptr);
  EXPECT_EQ(p.Find(7)->mapped_blocks, 10u);
  EXPECT_EQ(p.Find(7)->creation_time, 3u);
  EXPECT_EQ(p.MappedBytes(*p.Find(7)), 10u * 128 * 512);
  EXPECT_EQ(p.Find(300)->mapped_blocks, 2000u);
  EXPECT_EQ(p.Find(42), nullptr);
}

TEST_F(OrphansTest, HighestMappedBlock) {
  EXPECT_EQ(*Extent(7), std::optional<uint64_t>(9));
  EXPECT_EQ(*Extent(5), std::optional<uint64_t>(40));
  EXPECT_EQ(*Extent(300), std::optional<uint64_t>(3998));  // internal nodes
  EXPECT_EQ(*Extent(12), std::nullopt);                    // maps nothing
  EXPECT_EQ(*Extent(42), std::nullopt);  // no such device: Find() says so
}

TEST_F(OrphansTest, SnapshotWithoutOneHeldIsAnError) {
  absl::StatusOr<thin::Source> source = thin::Source::Open(metadata_);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<PoolThins> thins = ReadPoolThins(*source, true);
  EXPECT_EQ(thins.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(thins.status().message(), HasSubstr("no current metadata snap"));
}

TEST_F(OrphansTest, ReferencesAreEveryDeviceFileAndTheTransaction) {
  DockerReferences refs = ReadReferences(Store(root_.path()));
  EXPECT_THAT(refs.problems, IsEmpty());
  EXPECT_TRUE(refs.has_base);
  std::vector<uint32_t> ids;
  for (const Reference& r : refs.devices) ids.push_back(r.device_id);
  // Files in name order, then the open transaction's device.
  EXPECT_THAT(ids, ElementsAre(300, 1, 5, 77, 9));
  EXPECT_TRUE(refs.devices[0].deleted);
  EXPECT_EQ(refs.devices[4].hash, kHashD);
  EXPECT_THAT(refs.devices[4].source, HasSubstr("transaction-metadata"));
}

TEST_F(OrphansTest, FindsOrphansAndMissingDevices) {
  Orphans o = Find();
  // 9 is the open transaction's and 300 still Docker's (deleted: true):
  // neither is an orphan.
  EXPECT_THAT(Ids(o.thins), ElementsAre(7, 12));
  ASSERT_EQ(o.missing.size(), 1u);
  EXPECT_EQ(o.missing[0].device_id, 77u);
  EXPECT_EQ(o.missing[0].hash, kHashB);
  EXPECT_THAT(o.missing[0].source,
              HasSubstr(absl::StrCat("devicemapper/metadata/", kHashB)));
}

TEST_F(OrphansTest, WithoutTheTransactionItsDeviceIsAnOrphan) {
  unlink(
      (root_.path() + "/devicemapper/metadata/transaction-metadata").c_str());
  EXPECT_THAT(Ids(Find().thins), ElementsAre(7, 9, 12));
}

TEST_F(OrphansTest, PreTenJsonReferencesCount) {
  root_.Write("devicemapper/devicemapper/json",
              R"({"Devices":{"":{"device_id":1},"abc":{"device_id":7}}})");
  unlink((root_.path() + "/devicemapper/metadata/base").c_str());
  DockerReferences refs = ReadReferences(Store(root_.path()));
  EXPECT_TRUE(refs.has_base);
  EXPECT_THAT(Ids(FindOrphans(refs, Thins()).thins), ElementsAre(12));
}

TEST_F(OrphansTest, UnreadableMetadataIsAProblem) {
  std::string bad = root_.Write("devicemapper/metadata/feed", "{\"device_");
  DockerReferences refs = ReadReferences(Store(root_.path()));
  ASSERT_EQ(refs.problems.size(), 1u);
  EXPECT_THAT(refs.problems[0], HasSubstr(bad));
  root_.Write("devicemapper/metadata/transaction-metadata", "[]");
  refs = ReadReferences(Store(root_.path()));
  EXPECT_EQ(refs.problems.size(), 2u);
}

TEST_F(OrphansTest, MissingMetadataDirectoryIsAProblem) {
  testing::TempDir empty;
  DockerReferences refs = ReadReferences(Store(empty.path()));
  ASSERT_EQ(refs.problems.size(), 1u);
  EXPECT_THAT(refs.problems[0], HasSubstr("devicemapper/metadata"));
  EXPECT_THAT(refs.problems[0], HasSubstr("[errno 2]"));
  EXPECT_FALSE(refs.has_base);
  // Every device of the pool looks orphaned then, which gc must refuse.
  EXPECT_EQ(FindOrphans(refs, Thins()).thins.size(), 6u);
}

class GcRefusalTest : public OrphansTest {
 protected:
  PoolState Pool() {
    PoolState pool;
    pool.name = "docker-8:1-77-pool";
    return pool;
  }
};

TEST_F(GcRefusalTest, CompleteMetadataAndInactiveOrphansPass) {
  DockerReferences refs = ReadReferences(Store(root_.path()));
  Orphans o = FindOrphans(refs, Thins());
  std::vector<ThinMapping> mappings(1);
  mappings[0].name = "docker-8:1-77-base";
  mappings[0].thin_id = 1;
  EXPECT_TRUE(GcRefusal(refs, o, Pool(), mappings).ok());
}

TEST_F(GcRefusalTest, Refusals) {
  DockerReferences refs = ReadReferences(Store(root_.path()));
  Orphans o = FindOrphans(refs, Thins());
  std::vector<ThinMapping> mappings(1);
  mappings[0].name = "stray";
  mappings[0].thin_id = 12;
  mappings[0].dev = {253, 9};
  EXPECT_THAT(GcRefusal(refs, o, Pool(), mappings).message(),
              HasSubstr("refusing to delete thin device 12: it is active as "
                        "stray (253:9)"));

  PoolState checked = Pool();
  checked.status.needs_check = true;
  EXPECT_THAT(GcRefusal(refs, o, checked, {}).message(),
              HasSubstr("needs checking"));

  DockerReferences broken = refs;
  broken.problems.push_back("read x: Permission denied [errno 13]");
  EXPECT_THAT(GcRefusal(broken, o, Pool(), {}).message(),
              HasSubstr("Docker's metadata is incomplete (read x"));

  DockerReferences baseless = refs;
  baseless.has_base = false;
  EXPECT_THAT(GcRefusal(baseless, o, Pool(), {}).message(),
              HasSubstr("no base device"));
}

// The pool's `delete` messages on the fake kernel, the second one failed.
TEST(DeleteThinsTest, StopsAtTheFirstError) {
  testing::FakeDm f;
  testing::FakeDevice pool;
  pool.name = "pool";
  pool.live = *dmioctl::ParseTable("0 2048 thin-pool 7:1 7:0 128 0");
  f.kernel->devices["pool"] = pool;
  size_t before = f.kernel->sent.size();
  f.kernel->more_failures[static_cast<int>(before) + 2] = EBUSY;
  std::vector<uint32_t> reported;
  Deletion d = DeleteThins(f.dm, "pool", {7, 12, 13},
                           [&](uint32_t id) { reported.push_back(id); });
  EXPECT_THAT(d.deleted, ElementsAre(7));
  EXPECT_THAT(reported, ElementsAre(7));
  ASSERT_TRUE(d.failed_id.has_value());
  EXPECT_EQ(*d.failed_id, 12u);
  EXPECT_EQ(ErrnoOf(d.error), EBUSY);
  EXPECT_THAT(d.left, ElementsAre(13));
  std::vector<std::string> messages;
  for (size_t i = before; i < f.kernel->sent.size(); ++i) {
    const testing::SentIoctl& s = f.kernel->sent[i];
    if (s.command == DM_TARGET_MSG_CMD) {
      messages.push_back(std::string(s.payload.c_str() + 8));
    }
  }
  EXPECT_THAT(messages, ElementsAre("delete 7", "delete 12"));
  std::string summary = d.Summary("pool");
  EXPECT_THAT(summary, HasSubstr("deleted thin devices 7 of pool; delete 12 "
                                 "failed: "));
  EXPECT_THAT(summary, HasSubstr("[errno 16]; not tried: 13"));

  Deletion all = DeleteThins(f.dm, "pool", {20, 21}, nullptr);
  EXPECT_THAT(all.deleted, ElementsAre(20, 21));
  EXPECT_FALSE(all.failed_id.has_value());
  Deletion none = DeleteThins(f.dm, "nopool", {22}, nullptr);
  EXPECT_EQ(ErrnoOf(none.error), ENXIO);
  EXPECT_THAT(none.Summary("nopool"), HasSubstr("deleted nothing from nopool"));
}

}  // namespace
}  // namespace dmkit::docker
