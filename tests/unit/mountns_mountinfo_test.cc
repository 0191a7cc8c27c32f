#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mountns/mountinfo.h"
#include "mountns/unique_fd.h"
#include "tests/unit/mountns_test_util.h"

namespace mountns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// proc(5)'s example line.
TEST(MountInfoTest, ParsesDocumentationExample) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root "
      "rw,errors=continue");
  ASSERT_OK(info);
  EXPECT_EQ(info->mount_id, 36u);
  EXPECT_EQ(info->parent_id, 35u);
  EXPECT_EQ(info->major, 98u);
  EXPECT_EQ(info->minor, 0u);
  EXPECT_EQ(info->dev(), makedev(98, 0));
  EXPECT_EQ(info->root, "/mnt1");
  EXPECT_EQ(info->mount_point, "/mnt2");
  EXPECT_EQ(info->mount_options, "rw,noatime");
  EXPECT_THAT(info->optional_fields, ElementsAre("master:1"));
  EXPECT_EQ(info->master, 1u);
  EXPECT_FALSE(info->shared.has_value());
  EXPECT_FALSE(info->propagate_from.has_value());
  EXPECT_FALSE(info->unbindable);
  EXPECT_EQ(info->fs_type, "ext3");
  EXPECT_EQ(info->source, "/dev/root");
  EXPECT_EQ(info->super_options, "rw,errors=continue");
}

// A root filesystem line with no optional fields (from this test host).
TEST(MountInfoTest, ParsesLineWithoutOptionalFields) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "26 1 254:0 / / rw,relatime - ext4 /dev/vda "
      "rw,discard,resv_strict,resuid=65534,resgid=65534");
  ASSERT_OK(info);
  EXPECT_EQ(info->mount_id, 26u);
  EXPECT_EQ(info->parent_id, 1u);
  EXPECT_EQ(info->dev(), makedev(254, 0));
  EXPECT_EQ(info->mount_point, "/");
  EXPECT_TRUE(info->optional_fields.empty());
  EXPECT_EQ(info->fs_type, "ext4");
  EXPECT_EQ(info->source, "/dev/vda");
}

// The incident's leaked container mount, as dockerd's namespace shows it.
TEST(MountInfoTest, ParsesDockerDevicemapperMount) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "211 147 253:4 / /home/docker/devicemapper/mnt/e85dd793aa rw,relatime "
      "shared:142 - xfs /dev/mapper/docker-253:2-3693860-e85dd793aa "
      "rw,nouuid,attr2,inode64,logbsize=64k,sunit=128,swidth=128,noquota");
  ASSERT_OK(info);
  EXPECT_EQ(info->dev(), makedev(253, 4));
  EXPECT_EQ(info->shared, 142u);
  EXPECT_EQ(info->mount_point, "/home/docker/devicemapper/mnt/e85dd793aa");
  EXPECT_EQ(info->source, "/dev/mapper/docker-253:2-3693860-e85dd793aa");
  EXPECT_EQ(info->fs_type, "xfs");
  EXPECT_THAT(info->super_options, HasSubstr("nouuid"));
}

TEST(MountInfoTest, DecodesOctalEscapes) {
  // Recorded with: mount -t tmpfs -o size=1m 'my src\x' /mnt, and a bind
  // mount on "/tmp/mi test".
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "65 62 254:0 /tmp/s /tmp/mi\\040test rw,relatime shared:1 - ext4 "
      "my\\040src\\134x rw");
  ASSERT_OK(info);
  EXPECT_EQ(info->root, "/tmp/s");
  EXPECT_EQ(info->mount_point, "/tmp/mi test");
  EXPECT_EQ(info->source, "my src\\x");

  info = ParseMountInfoLine(
      "70 26 0:50 / /a\\011tab\\012nl rw - fuse.my\\040fs src rw");
  ASSERT_OK(info);
  EXPECT_EQ(info->mount_point, "/a\ttab\nnl");
  EXPECT_EQ(info->fs_type, "fuse.my fs");
}

// mount -t tmpfs "" /x shows an empty source: two spaces in a row.
TEST(MountInfoTest, AcceptsEmptySource) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "62 42 0:38 / /tmp/mi\\040test rw,relatime - tmpfs  rw");
  ASSERT_OK(info);
  EXPECT_EQ(info->source, "");
  EXPECT_EQ(info->fs_type, "tmpfs");
  EXPECT_EQ(info->super_options, "rw");
  EXPECT_EQ(info->mount_point, "/tmp/mi test");
}

TEST(MountInfoTest, ParsesEveryOptionalField) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "40 30 0:37 / /x rw shared:5 master:3 propagate_from:2 unbindable "
      "future:9 - tmpfs tmpfs rw");
  ASSERT_OK(info);
  EXPECT_EQ(info->shared, 5u);
  EXPECT_EQ(info->master, 3u);
  EXPECT_EQ(info->propagate_from, 2u);
  EXPECT_TRUE(info->unbindable);
  // Unknown fields are kept, in order, and otherwise ignored.
  EXPECT_THAT(info->optional_fields,
              ElementsAre("shared:5", "master:3", "propagate_from:2",
                          "unbindable", "future:9"));
}

TEST(MountInfoTest, ParsesNsfsAndLargeNumbers) {
  absl::StatusOr<MountInfo> info = ParseMountInfoLine(
      "4294967295 4000000000 4095:1048575 mnt:[4026532451] /run/ns/mnt rw - "
      "nsfs nsfs rw");
  ASSERT_OK(info);
  EXPECT_EQ(info->mount_id, 4294967295u);
  EXPECT_EQ(info->parent_id, 4000000000u);
  EXPECT_EQ(info->major, 4095u);
  EXPECT_EQ(info->minor, 1048575u);
  EXPECT_EQ(info->root, "mnt:[4026532451]");
  EXPECT_EQ(info->fs_type, "nsfs");
}

// Every malformed line is an error, not a crash or a partial result.
TEST(MountInfoTest, RejectsMalformedLines) {
  const std::vector<std::string> bad = {
      "",
      "36",
      "36 35 98:0 /mnt1 /mnt2 rw,noatime",
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw",
      "36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root",
      "36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw extra",
      "36 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw ",
      "x 35 98:0 / / rw - ext3 /dev/root rw",
      "-1 35 98:0 / / rw - ext3 /dev/root rw",
      "+36 35 98:0 / / rw - ext3 /dev/root rw",
      "36 35x 98:0 / / rw - ext3 /dev/root rw",
      "4294967296 35 98:0 / / rw - ext3 /dev/root rw",
      "99999999999 35 98:0 / / rw - ext3 /dev/root rw",
      "36 35 98-0 / / rw - ext3 /dev/root rw",
      "36 35 98: / / rw - ext3 /dev/root rw",
      "36 35 :0 / / rw - ext3 /dev/root rw",
      "36 35 1:2:3 / / rw - ext3 /dev/root rw",
      "36 35 a:b / / rw - ext3 /dev/root rw",
      "36  35 98:0 / / rw - ext3 /dev/root rw",
      " 36 35 98:0 / / rw - ext3 /dev/root rw",
      "36 35 98:0  / rw - ext3 /dev/root rw",
      "36 35 98:0 / / rw  - ext3 /dev/root rw",
      "36 35 98:0 / /  - ext3 /dev/root rw",
      "36 35 98:0 / / rw -  /dev/root rw",
      "36 35 98:0 / /a\\09 rw - ext3 /dev/root rw",
      "36 35 98:0 / /a\\4 rw - ext3 /dev/root rw",
      "36 35 98:0 / /a\\ rw - ext3 /dev/root rw",
      "36 35 98:0 / /a\\777 rw - ext3 /dev/root rw",
      "36 35 98:0 / / rw - ext3 /dev/root\\08 rw",
      "36 35 98:0 / / rw shared: - ext3 /dev/root rw",
      "36 35 98:0 / / rw shared:x - ext3 /dev/root rw",
      "36 35 98:0 / / rw master:-1 - ext3 /dev/root rw",
      "36 35 98:0 / / rw propagate_from: - ext3 /dev/root rw",
      "36 35 98:0 / / rw shared:1 shared:2 - ext3 /dev/root rw",
      "36 35 98:0 / / rw - ext3 /dev/root rw\n37",
      "36 35 98:0 / /\n rw - ext3 /dev/root rw",
  };
  for (const std::string& line : bad) {
    absl::StatusOr<MountInfo> info = ParseMountInfoLine(line);
    EXPECT_FALSE(info.ok()) << "accepted: '" << line << "'";
    if (!info.ok()) {
      EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument)
          << line;
    }
  }
}

TEST(MountInfoTest, ErrorsSayWhatIsWrong) {
  EXPECT_THAT(std::string(ParseMountInfoLine("36 35 98-0 / / rw - ext3 r rw")
                              .status()
                              .message()),
              HasSubstr("major:minor '98-0'"));
  EXPECT_THAT(
      std::string(ParseMountInfoLine("36 35 98:0 / / rw shared:1 ext3 r rw")
                      .status()
                      .message()),
      HasSubstr("no '-' separator"));
  EXPECT_THAT(
      std::string(ParseMountInfoLine("36 35 98:0 / /a\\9zz rw - ext3 r rw")
                      .status()
                      .message()),
      HasSubstr("mount point"));
}

TEST(MountInfoTest, ParsesWholeFile) {
  const std::string text =
      "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "21 26 0:20 / /proc rw,relatime - proc proc rw\n"
      "24 23 0:22 / /dev/shm rw,relatime shared:4 - tmpfs tmpfs rw\n";
  absl::StatusOr<std::vector<MountInfo>> mounts = ParseMountInfo(text);
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 3u);
  EXPECT_EQ((*mounts)[0].mount_point, "/");
  EXPECT_EQ((*mounts)[1].fs_type, "proc");
  EXPECT_EQ((*mounts)[2].shared, 4u);

  // The final newline is optional; no text means no mounts.
  absl::StatusOr<std::vector<MountInfo>> no_newline =
      ParseMountInfo(text.substr(0, text.size() - 1));
  ASSERT_OK(no_newline);
  EXPECT_EQ(*no_newline, *mounts);
  absl::StatusOr<std::vector<MountInfo>> empty = ParseMountInfo("");
  ASSERT_OK(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(MountInfoTest, FileErrorsNameTheLine) {
  absl::StatusOr<std::vector<MountInfo>> mounts = ParseMountInfo(
      "26 1 254:0 / / rw - ext4 /dev/vda rw\n"
      "21 26 0:20 / /proc rw - proc proc\n"
      "24 23 0:22 / /dev/shm rw - tmpfs tmpfs rw\n");
  ASSERT_FALSE(mounts.ok());
  EXPECT_THAT(std::string(mounts.status().message()), HasSubstr("line 2:"));

  mounts = ParseMountInfo("26 1 254:0 / / rw - ext4 /dev/vda rw\n\n");
  ASSERT_FALSE(mounts.ok());
  EXPECT_THAT(std::string(mounts.status().message()), HasSubstr("line 2:"));
}

TEST(MountInfoTest, FormatRoundTrips) {
  const std::vector<std::string> lines = {
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root "
      "rw,errors=continue",
      "65 62 254:0 /tmp/s /tmp/mi\\040test rw,relatime shared:1 - ext4 "
      "my\\040src\\134x rw",
      "62 42 0:38 / /tmp/mi\\040test rw,relatime - tmpfs  rw",
      "40 30 0:37 / /x rw shared:5 master:3 propagate_from:2 unbindable "
      "future:9 - fuse.a\\011b tmpfs rw",
  };
  for (const std::string& line : lines) {
    absl::StatusOr<MountInfo> info = ParseMountInfoLine(line);
    ASSERT_OK(info);
    EXPECT_EQ(FormatMountInfoLine(*info), line);
  }
}

TEST(MountInfoTest, EscapeRoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::string escaped = EscapeMountInfoField(all);
  EXPECT_EQ(escaped.find(' '), std::string::npos);
  EXPECT_EQ(escaped.find('\n'), std::string::npos);
  EXPECT_EQ(escaped.find('\t'), std::string::npos);
  absl::StatusOr<std::string> back = UnescapeMountInfoField(escaped);
  ASSERT_OK(back);
  EXPECT_EQ(*back, all);
  EXPECT_EQ(EscapeMountInfoField("a b\\c"), "a\\040b\\134c");
}

// Every prefix and every single-byte change of a valid line either parses
// or fails cleanly (run under ASan/UBSan with DMKIT_SANITIZE for bounds).
TEST(MountInfoTest, SurvivesTruncationAndMutation) {
  const std::string line =
      "40 30 0:37 /r\\040t /x\\134y rw shared:5 master:3 - tmpfs src rw,a=b";
  ASSERT_OK(ParseMountInfoLine(line));
  for (size_t n = 0; n < line.size(); ++n) {
    absl::StatusOr<MountInfo> info = ParseMountInfoLine(line.substr(0, n));
    if (!info.ok()) {
      EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
  const char replacements[] = {' ', '-', '\\', ':', '0', '9', 'x', '\0', '\n'};
  int accepted = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    for (char r : replacements) {
      std::string mutated = line;
      mutated[i] = r;
      absl::StatusOr<MountInfo> info = ParseMountInfoLine(mutated);
      if (info.ok()) {
        ++accepted;
        // Whatever is accepted formats back to a line that parses the same.
        absl::StatusOr<MountInfo> again =
            ParseMountInfoLine(FormatMountInfoLine(*info));
        ASSERT_OK(again);
        EXPECT_EQ(*again, *info) << mutated;
      } else {
        EXPECT_EQ(info.status().code(), absl::StatusCode::kInvalidArgument);
      }
    }
  }
  EXPECT_GT(accepted, 0);
}

// The live file of this process: parses, has a root mount, and has as many
// entries as lines.
TEST(MountInfoTest, ReadsOwnMountInfo) {
  absl::StatusOr<std::string> text = ReadFile("/proc/self/mountinfo");
  ASSERT_OK(text);
  size_t lines = 0;
  for (char c : *text) lines += c == '\n';
  absl::StatusOr<std::vector<MountInfo>> mounts = ReadMountInfo(getpid());
  ASSERT_OK(mounts);
  EXPECT_EQ(mounts->size(), lines);
  bool has_root = false;
  for (const MountInfo& m : *mounts) has_root |= m.mount_point == "/";
  EXPECT_TRUE(has_root);
}

TEST(MountInfoTest, ReadOfMissingProcessFails) {
  absl::StatusOr<std::vector<MountInfo>> mounts =
      ReadMountInfo(mountns_test::UnusedPid());
  ASSERT_FALSE(mounts.ok());
  EXPECT_EQ(mounts.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(mounts.status().message()),
              HasSubstr("cannot open /proc/"));
}

}  // namespace
}  // namespace mountns
