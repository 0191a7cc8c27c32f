// Docker's on-disk layout: metadata, layerdb and config.v2.json parsing on
// files shaped like the incident's, container resolution, device names.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tools/docker/store.h"

namespace dmkit::docker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kCid[] =
    "f34cee76e36a1c3b0d1ab5c1e2ac36ab0b6d84ea9c0f69d4daf01e1c0a4fa2b1";
constexpr char kMid[] =
    "dad0ce9e1adc84b1f1f2cd5b8e1e0e4e4c3d7d0b8c6a0d3e1f2a3b4c5d6e8824";
constexpr char kCid2[] =
    "f3a1000000000000000000000000000000000000000000000000000000000002";
constexpr char kMid2[] =
    "e85dd79300000000000000000000000000000000000000000000000000000001";
constexpr char kCid3[] =
    "9b00000000000000000000000000000000000000000000000000000000000003";

// config.v2.json as Docker 1.10 wrote it (trimmed of long members).
std::string ConfigV2(const std::string& id, const std::string& name,
                     bool running) {
  return absl::StrCat(
      R"({"State":{"Running":)", running ? "true" : "false",
      R"(,"Paused":false,"Restarting":false,"OOMKilled":false,)"
      R"("Dead":false,"Pid":)",
      running ? "4242" : "0",
      R"(,"ExitCode":128,"Error":"can't create pivot_root dir , error mkdir )"
      R"(/export/docker/devicemapper/mnt/7a35b08c/rootfs/.pivot_root492082001: )"
      R"(no space left on device","StartedAt":"2019-04-01T08:12:33.1Z",)"
      R"("FinishedAt":"0001-01-01T00:00:00Z"},"ID":")",
      id,
      R"(","Created":"2019-03-30T02:10:11.5Z","Path":"/entrypoint.sh",)"
      R"("Args":[],"Config":{"Hostname":"f34cee76e36a","Env":["PATH=/usr/bin"],)"
      R"("Cmd":null,"Image":"kubesql:1.2","Labels":{}},"Image":"sha256:)"
      R"(4b1c2e0a","NetworkSettings":{"Bridge":"","Ports":null},)"
      R"("LogPath":"","Name":")",
      name,
      R"(","Driver":"devicemapper","MountLabel":"","ProcessLabel":"",)"
      R"("RestartCount":0,"HasBeenStartedBefore":true,)"
      R"("HasBeenManuallyStopped":false,"MountPoints":{},"AppArmorProfile":"",)"
      R"("HostnamePath":"","HostsPath":"","ShmPath":"","ResolvConfPath":"",)"
      R"("SeccompProfile":""})");
}

TEST(DockerMetadataTest, IncidentMetadataFile) {
  auto m = ParseDeviceMetadata(
      R"({"device_id":34709,"size":10737418240,"transaction_id":844170,)"
      R"("initialized":false,"deleted":false})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->device_id, 34709u);
  EXPECT_EQ(m->size, 10737418240u);
  EXPECT_EQ(m->sectors(), 20971520u);
  EXPECT_EQ(m->transaction_id, 844170u);
  EXPECT_FALSE(m->initialized);
  EXPECT_FALSE(m->deleted);
}

TEST(DockerMetadataTest, DeletedAndMissingOptionalFields) {
  auto m =
      ParseDeviceMetadata(R"({"device_id":7,"size":1048576,"deleted":true})");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->deleted);
  EXPECT_EQ(m->transaction_id, 0u);
}

TEST(DockerMetadataTest, RejectsWhatCannotBeActivated) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {R"({"size":1048576})", "no \"device_id\""},
      {R"({"device_id":1})", "no \"size\""},
      {R"({"device_id":16777216,"size":512})", "not a thin device id"},
      {R"({"device_id":-1,"size":512})", "\"device_id\""},
      {R"({"device_id":1,"size":1000})", "multiple of 512"},
      {R"({"device_id":1,"size":0})", "multiple of 512"},
      {R"({"device_id":1,"size":512,"deleted":"no"})", "\"deleted\""},
      {R"([1])", "expected a JSON object"},
      {R"({"device_id":1,"size":512)", "json: line 1"},
  };
  for (const Case& c : cases) {
    auto m = ParseDeviceMetadata(c.text);
    ASSERT_FALSE(m.ok()) << c.text;
    EXPECT_THAT(m.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(DockerMetadataTest, DeviceSetAndTransaction) {
  auto ds = ParseDeviceSetMetadata(
      R"({"next_device_id":34710,"BaseDeviceUUID":"3b4e5a5c-8a5e-4a52-9f37-)"
      R"(2f0e5b1d9c11","BaseDeviceFilesystem":"xfs"})");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->next_device_id, 34710u);
  EXPECT_EQ(ds->base_device_filesystem, "xfs");
  auto tx = ParseTransactionMetadata(
      R"({"open_transaction_id":844171,"device_hash":"abc","device_id":34710})");
  ASSERT_TRUE(tx.ok()) << tx.status();
  EXPECT_EQ(tx->open_transaction_id, 844171u);
  EXPECT_EQ(tx->device_hash, "abc");
  EXPECT_EQ(tx->device_id, 34710u);
}

TEST(DockerConfigTest, ConfigV2) {
  auto c = ParseContainerConfig(ConfigV2(kCid, "/kubesql-server", false));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->id, kCid);
  EXPECT_EQ(c->name, "/kubesql-server");
  EXPECT_EQ(c->driver, "devicemapper");
  EXPECT_EQ(c->image, "sha256:4b1c2e0a");
  EXPECT_FALSE(c->running);
  auto r = ParseContainerConfig(ConfigV2(kCid, "/x", true));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->running);
  EXPECT_EQ(r->pid, 4242);
  EXPECT_FALSE(ParseContainerConfig(R"({"State":[]})").ok());
  EXPECT_FALSE(ParseContainerConfig(R"({"Name":5})").ok());
}

TEST(DockerMountIdTest, ShapesAndRejections) {
  EXPECT_EQ(*ParseMountId(kMid), kMid);
  EXPECT_EQ(*ParseMountId(absl::StrCat(kMid, "\n")), kMid);
  EXPECT_EQ(*ParseMountId(absl::StrCat(kMid, "-init")),
            absl::StrCat(kMid, "-init"));
  EXPECT_FALSE(ParseMountId("").ok());
  EXPECT_FALSE(ParseMountId("  \n").ok());
  EXPECT_FALSE(ParseMountId("../../etc").ok());
  EXPECT_FALSE(ParseMountId("a b").ok());
  EXPECT_FALSE(ParseMountId("..").ok());
  EXPECT_FALSE(ParseMountId(std::string(97, 'a')).ok());
}

TEST(DockerNamesTest, IncidentPrefix) {
  dev_t dev = makedev(253, 2);
  EXPECT_EQ(DevicePrefix(dev, 3693860), "docker-253:2-3693860");
  EXPECT_EQ(DeviceName("docker-253:2-3693860", kMid),
            absl::StrCat("docker-253:2-3693860-", kMid));
  EXPECT_EQ(DeviceName("docker-253:2-3693860", ""),
            "docker-253:2-3693860-base");
  EXPECT_EQ(PoolName("docker-253:2-3693860"), "docker-253:2-3693860-pool");
  // Minors above 255 use the split encoding, as glibc's minor() does.
  EXPECT_EQ(DevicePrefix(makedev(259, 70000), 1), "docker-259:70000-1");
}

TEST(DockerNamesTest, PrefixFromRealStat) {
  testing::TempDir dir;
  dir.Mkdir("devicemapper");
  Store store(dir.path());
  struct stat st;
  ASSERT_EQ(stat(store.DriverHome().c_str(), &st), 0);
  auto prefix = store.Prefix();
  ASSERT_TRUE(prefix.ok()) << prefix.status();
  EXPECT_EQ(*prefix, absl::StrCat("docker-", major(st.st_dev), ":",
                                  minor(st.st_dev), "-", st.st_ino));
  Store missing(dir.path() + "/nope");
  EXPECT_FALSE(missing.Prefix().ok());
}

class DockerRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The stuck container of the incident.
    root_.Write(absl::StrCat("containers/", kCid, "/config.v2.json"),
                ConfigV2(kCid, "/kubesql-server", false));
    root_.Write(
        absl::StrCat("image/devicemapper/layerdb/mounts/", kCid, "/mount-id"),
        kMid);
    root_.Write(
        absl::StrCat("image/devicemapper/layerdb/mounts/", kCid, "/init-id"),
        absl::StrCat(kMid, "-init"));
    root_.Write(
        absl::StrCat("devicemapper/metadata/", kMid),
        R"({"device_id":34709,"size":10737418240,)"
        R"("transaction_id":844170,"initialized":false,"deleted":false})");
    // A running one whose id shares the prefix "f3".
    root_.Write(absl::StrCat("containers/", kCid2, "/config.v2.json"),
                ConfigV2(kCid2, "/web", true));
    root_.Write(
        absl::StrCat("image/devicemapper/layerdb/mounts/", kCid2, "/mount-id"),
        kMid2);
    root_.Write(
        absl::StrCat("devicemapper/metadata/", kMid2),
        R"({"device_id":34719,"size":10737418240,)"
        R"("transaction_id":844180,"initialized":false,"deleted":true})");
    // One with a broken config and no layerdb entry.
    root_.Write(absl::StrCat("containers/", kCid3, "/config.v2.json"), "{");
    root_.Write("devicemapper/metadata/base",
                R"({"device_id":1,"size":10737418240,"transaction_id":1,)"
                R"("initialized":true,"deleted":false})");
    root_.Write("devicemapper/metadata/deviceset-metadata",
                R"({"next_device_id":34720,"BaseDeviceUUID":"u",)"
                R"("BaseDeviceFilesystem":"xfs"})");
  }

  testing::TempDir root_;
};

TEST_F(DockerRootTest, LoadsEveryContainerWithPerFieldErrors) {
  Store store(root_.path() + "/");
  EXPECT_EQ(store.root(), root_.path());
  auto containers = LoadContainers(store);
  ASSERT_TRUE(containers.ok()) << containers.status();
  ASSERT_EQ(containers->size(), 3u);
  const Container& broken = (*containers)[0];  // sorted: 9b.., f34.., f3a..
  EXPECT_EQ(broken.id, kCid3);
  EXPECT_FALSE(broken.config_error.ok());
  EXPECT_THAT(broken.config_error.message(), HasSubstr("config.v2.json"));
  EXPECT_EQ(broken.mount_id_error.code(), absl::StatusCode::kNotFound);

  const Container& stuck = (*containers)[1];
  EXPECT_EQ(stuck.id, kCid);
  EXPECT_EQ(stuck.ShortName(), "kubesql-server");
  EXPECT_EQ(stuck.mount_id, kMid);
  ASSERT_TRUE(stuck.device.has_value());
  EXPECT_EQ(stuck.device->device_id, 34709u);
  EXPECT_FALSE(stuck.running);

  const Container& web = (*containers)[2];
  EXPECT_TRUE(web.running);
  EXPECT_TRUE(web.device->deleted);
}

TEST_F(DockerRootTest, ResolvesLikeDocker) {
  auto containers = LoadContainers(Store(root_.path()));
  ASSERT_TRUE(containers.ok());
  auto id = [&](absl::string_view q) -> std::string {
    auto c = ResolveContainer(*containers, q);
    return c.ok() ? (*c)->id : std::string(c.status().message());
  };
  EXPECT_EQ(id(kCid), kCid);
  EXPECT_EQ(id("kubesql-server"), kCid);
  EXPECT_EQ(id("/kubesql-server"), kCid);
  EXPECT_EQ(id("f34"), kCid);
  EXPECT_EQ(id("f3a"), kCid2);
  EXPECT_EQ(id("web"), kCid2);
  EXPECT_EQ(id("9b"), kCid3);

  auto ambiguous = ResolveContainer(*containers, "f3");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(ambiguous.status().message(), HasSubstr("ambiguous"));
  EXPECT_THAT(ambiguous.status().message(),
              HasSubstr(absl::StrCat(kCid, " /kubesql-server")));
  EXPECT_THAT(ambiguous.status().message(),
              HasSubstr(absl::StrCat(kCid2, " /web")));

  auto none = ResolveContainer(*containers, "nosuch");
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ResolveContainer(*containers, "").ok());
}

TEST_F(DockerRootTest, NameBeatsPrefix) {
  // A container named like another's id prefix resolves to the named one.
  root_.Write("containers/aaaa/config.v2.json",
              ConfigV2("aaaa", "/f34", false));
  auto containers = LoadContainers(Store(root_.path()));
  ASSERT_TRUE(containers.ok());
  auto c = ResolveContainer(*containers, "f34");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->id, "aaaa");
}

TEST_F(DockerRootTest, Paths) {
  Store store(root_.path());
  EXPECT_EQ(store.MountIdPath(kCid),
            absl::StrCat(root_.path(), "/image/devicemapper/layerdb/mounts/",
                         kCid, "/mount-id"));
  EXPECT_EQ(store.MetadataPath(""),
            absl::StrCat(root_.path(), "/devicemapper/metadata/base"));
  EXPECT_EQ(store.LoopDataPath(),
            absl::StrCat(root_.path(), "/devicemapper/devicemapper/data"));
  EXPECT_EQ(store.MountPointOf(kMid),
            absl::StrCat(root_.path(), "/devicemapper/mnt/", kMid));
  auto base = store.ReadDeviceMetadata("");
  ASSERT_TRUE(base.ok());
  EXPECT_TRUE(base->initialized);
}

TEST(DockerRootMissingTest, NotADockerRoot) {
  testing::TempDir dir;
  auto containers = LoadContainers(Store(dir.path()));
  ASSERT_FALSE(containers.ok());
  EXPECT_THAT(containers.status().message(),
              HasSubstr("does not look like a Docker devicemapper root"));
}

TEST(DockerReadFileTest, BoundedAndErrno) {
  testing::TempDir dir;
  std::string path = dir.Write("f", std::string(100, 'x'));
  EXPECT_EQ(ReadFileBounded(path, 100)->size(), 100u);
  EXPECT_FALSE(ReadFileBounded(path, 99).ok());
  auto missing = ReadFileBounded(dir.path() + "/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("No such file"));
}

}  // namespace
}  // namespace dmkit::docker
