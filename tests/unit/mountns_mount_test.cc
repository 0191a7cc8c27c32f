#include "mountns/mount.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dmkit/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mountns/mountinfo.h"
#include "mountns/namespace_set.h"
#include "mountns/run_in_namespaces.h"
#include "mountns/unique_fd.h"
#include "tests/unit/mountns_test_util.h"

namespace mountns {
namespace {

using ::mountns_test::NamespaceChild;
using ::mountns_test::TempDir;
using ::testing::HasSubstr;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

TEST(BuildMountOptionsTest, JoinsNonEmptyParts) {
  EXPECT_EQ(BuildMountOptions({}), "");
  EXPECT_EQ(BuildMountOptions({"", ""}), "");
  EXPECT_EQ(BuildMountOptions({"nouuid"}), "nouuid");
  EXPECT_EQ(BuildMountOptions({"nouuid", "", "nodiscard", "context=x"}),
            "nouuid,nodiscard,context=x");
  std::string type = "ext4";
  EXPECT_EQ(BuildMountOptions({type == "xfs" ? "nouuid" : "", "ro"}), "ro");
}

// Filesystem detection on images made by the real mkfs tools.
struct MkfsCase {
  std::vector<std::string> mkfs;  // the image path is appended
  off_t size;
  std::string type;
};

class DetectFilesystemTest : public ::testing::TestWithParam<MkfsCase> {};

TEST_P(DetectFilesystemTest, DetectsMkfsImage) {
  const MkfsCase& c = GetParam();
  if (!mountns_test::HaveProgram(c.mkfs[0])) GTEST_SKIP() << "no " << c.mkfs[0];
  TempDir temp;
  const std::string image = temp.Sub("fs.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, c.size));
  std::vector<std::string> argv = c.mkfs;
  argv.push_back(image);
  absl::StatusOr<int> rc = mountns_test::RunProgram(argv);
  ASSERT_OK(rc);
  ASSERT_EQ(*rc, 0) << argv[0];
  absl::StatusOr<std::string> type = DetectFilesystemType(image);
  ASSERT_OK(type);
  EXPECT_EQ(*type, c.type);
}

INSTANTIATE_TEST_SUITE_P(
    Mkfs, DetectFilesystemTest,
    ::testing::Values(
        MkfsCase{{"mkfs.ext2", "-q", "-F"}, 16 << 20, "ext2"},
        MkfsCase{{"mkfs.ext3", "-q", "-F"}, 16 << 20, "ext3"},
        MkfsCase{{"mkfs.ext4", "-q", "-F"}, 16 << 20, "ext4"},
        // What Docker's base device looks like (docker runs mkfs.ext4 with
        // lazy init options); still ext4.
        MkfsCase{{"mkfs.ext4", "-q", "-F", "-E",
                  "nodiscard,lazy_itable_init=0,lazy_journal_init=0"},
                 16 << 20,
                 "ext4"},
        MkfsCase{{"mke2fs", "-q", "-F", "-O", "journal_dev", "-b", "4096"},
                 8 << 20,
                 "jbd"},
        // Recent xfsprogs refuse filesystems under 300 MiB; the file is
        // sparse.
        MkfsCase{{"mkfs.xfs", "-q", "-f"}, off_t{320} << 20, "xfs"}),
    [](const ::testing::TestParamInfo<MkfsCase>& info) {
      std::string name = info.param.type;
      if (info.param.mkfs.size() > 3) name += "_docker_options";
      return name;
    });

TEST(DetectFilesystemTest, DetectsBtrfsMagic) {
  // No mkfs.btrfs on the test host: the superblock magic alone, at 64 KiB +
  // 0x40, as libblkid and Docker's ProbeFsType look for it.
  TempDir temp;
  const std::string image = temp.Sub("btrfs.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, 1 << 20));
  UniqueFd fd(open(image.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(pwrite(fd.get(), "_BHRfS_M", 8, 0x10040), 8);
  UniqueFd reader(open(image.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(reader.valid());
  absl::StatusOr<std::string> type = DetectFilesystemTypeOfFd(reader.get());
  ASSERT_OK(type);
  // Detection reads with pread: the offset is untouched.
  EXPECT_EQ(lseek(reader.get(), 0, SEEK_CUR), 0);
  EXPECT_EQ(*type, "btrfs");
  // One byte off is not btrfs.
  ASSERT_EQ(pwrite(fd.get(), "_BHRfS_X", 8, 0x10040), 8);
  EXPECT_EQ(DetectFilesystemType(image).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DetectFilesystemTest, UnknownAndShortFilesAreNotFound) {
  TempDir temp;
  for (off_t size : {off_t{0}, off_t{3}, off_t{1100}, off_t{1} << 20}) {
    const std::string image = temp.Sub(absl::StrCat("blank", size));
    ASSERT_OK(mountns_test::MakeSparseFile(image, size));
    absl::StatusOr<std::string> type = DetectFilesystemType(image);
    ASSERT_FALSE(type.ok()) << size;
    EXPECT_EQ(type.status().code(), absl::StatusCode::kNotFound);
    EXPECT_THAT(Message(type.status()), HasSubstr(image));
  }
  absl::StatusOr<std::string> missing =
      DetectFilesystemType("/nonexistent/img");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dmkit::ErrnoOf(missing.status()), ENOENT);
}

// Mounting, in a child's private namespace so the host is left alone: the
// work runs through RunInNamespaces().
// The filesystem's own size, from images made by the real mkfs tools: made
// smaller than the file (as a filesystem on a larger thin device is), with
// other block sizes, and with ext4's 64bit block count.
struct SizeCase {
  std::vector<std::string> mkfs;  // the image path, then `fs_size`, appended
  off_t file_size;
  std::string fs_size;  // mkfs's size argument ("" for the whole file)
  uint64_t want;
  std::string type;
};

class FilesystemSizeTest : public ::testing::TestWithParam<SizeCase> {};

TEST_P(FilesystemSizeTest, ReadsMkfsImage) {
  const SizeCase& c = GetParam();
  if (!mountns_test::HaveProgram(c.mkfs[0])) GTEST_SKIP() << "no " << c.mkfs[0];
  TempDir temp;
  const std::string image = temp.Sub("fs.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, c.file_size));
  std::vector<std::string> argv = c.mkfs;
  if (c.type == "xfs" && !c.fs_size.empty()) {
    argv.push_back("-d");
    argv.push_back("size=" + c.fs_size);
  }
  argv.push_back(image);
  if (c.type != "xfs" && !c.fs_size.empty()) argv.push_back(c.fs_size);
  absl::StatusOr<int> rc = mountns_test::RunProgram(argv);
  ASSERT_OK(rc);
  ASSERT_EQ(*rc, 0) << argv[0];
  absl::StatusOr<FilesystemSize> size = ReadFilesystemSize(image);
  ASSERT_OK(size);
  EXPECT_EQ(size->type, c.type);
  EXPECT_EQ(size->bytes, c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Mkfs, FilesystemSizeTest,
    ::testing::Values(
        SizeCase{{"mkfs.ext4", "-q", "-F"}, 16 << 20, "", 16 << 20, "ext4"},
        SizeCase{{"mkfs.ext4", "-q", "-F", "-b", "1024"},
                 64 << 20,
                 "24M",
                 24 << 20,
                 "ext4"},
        SizeCase{{"mkfs.ext4", "-q", "-F", "-O", "64bit", "-b", "4096"},
                 off_t{1} << 30,
                 "300000",  // 4 KiB blocks
                 uint64_t{300000} * 4096,
                 "ext4"},
        SizeCase{{"mkfs.ext2", "-q", "-F", "-b", "2048"},
                 32 << 20,
                 "10000",
                 uint64_t{10000} * 2048,
                 "ext2"},
        SizeCase{{"mkfs.xfs", "-q", "-f"},
                 off_t{320} << 20,
                 "",
                 uint64_t{320} << 20,
                 "xfs"},
        SizeCase{{"mkfs.xfs", "-q", "-f", "-b", "size=1024"},
                 off_t{400} << 20,
                 "310m",
                 uint64_t{310} << 20,
                 "xfs"}),
    [](const ::testing::TestParamInfo<SizeCase>& info) {
      return absl::StrCat(info.param.type, "_", info.index);
    });

TEST(FilesystemSizeTest, NoSizeWithoutExtOrXfs) {
  TempDir temp;
  const std::string blank = temp.Sub("blank.img");
  ASSERT_OK(mountns_test::MakeSparseFile(blank, 1 << 20));
  absl::StatusOr<FilesystemSize> none = ReadFilesystemSize(blank);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(none.status()), HasSubstr(blank));
  // btrfs is detected, but its size is not read here.
  const std::string btrfs = temp.Sub("btrfs.img");
  ASSERT_OK(mountns_test::MakeSparseFile(btrfs, 1 << 20));
  UniqueFd fd(open(btrfs.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_EQ(pwrite(fd.get(), "_BHRfS_M", 8, 0x10040), 8);
  EXPECT_THAT(Message(ReadFilesystemSize(btrfs).status()),
              HasSubstr("a btrfs superblock, not ext2/3/4 or xfs"));
}

TEST(FilesystemSizeTest, ImpossibleSuperblocksAreRefused) {
  if (!mountns_test::HaveProgram("mkfs.ext4")) GTEST_SKIP() << "no mkfs.ext4";
  TempDir temp;
  const std::string image = temp.Sub("fs.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, 16 << 20));
  absl::StatusOr<int> rc =
      mountns_test::RunProgram({"mkfs.ext4", "-q", "-F", image});
  ASSERT_OK(rc);
  ASSERT_EQ(*rc, 0);
  UniqueFd fd(open(image.c_str(), O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  const uint32_t log = 20;  // s_log_block_size: 1 GiB blocks
  ASSERT_EQ(pwrite(fd.get(), &log, 4, 0x400 + 0x18), 4);
  absl::StatusOr<FilesystemSize> size = ReadFilesystemSize(image);
  EXPECT_EQ(size.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(size.status()), HasSubstr("s_log_block_size 20"));
  const uint32_t zero = 0;
  ASSERT_EQ(pwrite(fd.get(), &zero, 4, 0x400 + 0x18), 4);
  ASSERT_EQ(pwrite(fd.get(), &zero, 4, 0x400 + 0x04), 4);  // no blocks
  EXPECT_THAT(Message(ReadFilesystemSize(image).status()),
              HasSubstr("0 blocks"));
}

class MountInChildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MOUNTNS_SKIP_UNLESS_ROOT();
    absl::StatusOr<NamespaceChild> child =
        NamespaceChild::Start([]() -> absl::StatusOr<std::string> {
          DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
          return std::string();
        });
    ASSERT_OK(child);
    child_.emplace(*std::move(child));
    absl::StatusOr<NamespaceSet> set =
        NamespaceSet::ForPid(child_->pid(), CLONE_NEWNS);
    ASSERT_OK(set);
    target_ = *std::move(set);
  }

  // Whether `dir` is a mount point in the child's namespace.
  bool MountedInChild(const std::string& dir) {
    absl::StatusOr<std::vector<MountInfo>> mounts =
        ReadMountInfo(child_->pid());
    if (!mounts.ok()) return false;
    for (const MountInfo& m : *mounts) {
      if (m.mount_point == dir) return true;
    }
    return false;
  }

  TempDir temp_;
  std::optional<NamespaceChild> child_;
  NamespaceSet target_;
};

TEST_F(MountInChildTest, ScopedMountUnmountsOnDestruction) {
  const std::string dir = temp_.MakeDir("scoped");
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, [&]() -> absl::StatusOr<std::string> {
        std::string report;
        {
          DMKIT_ASSIGN_OR_RETURN(
              ScopedMount mount,
              ScopedMount::Create(MountRequest{.source = "scoped",
                                               .target = dir,
                                               .fs_type = "tmpfs",
                                               .options = "size=64k",
                                               .read_only = true}));
          struct statvfs vfs;
          if (statvfs(dir.c_str(), &vfs) != 0)
            return dmkit::ErrnoError(errno, "statvfs");
          absl::StrAppend(&report, (vfs.f_flag & ST_RDONLY) ? "ro" : "rw");
          absl::StrAppend(&report, mount.owns() ? " owned" : " not-owned");
          // Moving keeps exactly one owner.
          ScopedMount moved = std::move(mount);
          absl::StrAppend(&report, mount.owns() ? " twice" : "", " ",
                          moved.target() == dir ? "moved" : "lost");
        }
        struct stat inside, parent;
        if (stat(dir.c_str(), &inside) != 0 ||
            stat((dir + "/..").c_str(), &parent) != 0) {
          return dmkit::ErrnoError(errno, "stat");
        }
        absl::StrAppend(&report, inside.st_dev == parent.st_dev
                                     ? " unmounted"
                                     : " still-mounted");
        return report;
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result, "ro owned moved unmounted");
}

TEST_F(MountInChildTest, ReleaseKeepsTheMount) {
  const std::string dir = temp_.MakeDir("kept");
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, [&]() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(
            ScopedMount mount,
            ScopedMount::Create(MountRequest{
                .source = "kept", .target = dir, .fs_type = "tmpfs"}));
        return mount.Release();
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result, dir);
  // The helper exited, but the child's namespace still has the mount.
  EXPECT_TRUE(MountedInChild(dir));
}

TEST_F(MountInChildTest, ExplicitUnmountReportsBusy) {
  const std::string dir = temp_.MakeDir("busy");
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, [&]() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(
            ScopedMount mount,
            ScopedMount::Create(MountRequest{
                .source = "busy", .target = dir, .fs_type = "tmpfs"}));
        UniqueFd held(
            open((dir + "/f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
        absl::Status busy = mount.Unmount();
        std::string report =
            absl::StrCat(dmkit::ErrnoOf(busy) == EBUSY ? "busy" : "?", " ",
                         busy.message(), " ", mount.owns() ? "owned" : "lost");
        DMKIT_RETURN_IF_ERROR(mount.Unmount(/*lazy=*/true));
        absl::StrAppend(&report, mount.owns() ? " owned" : " released");
        return report;
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result, absl::StrCat("busy umount ", dir,
                                  ": Device or resource busy owned released"));
  EXPECT_FALSE(MountedInChild(dir));
}

TEST_F(MountInChildTest, MountErrorsNameSourceAndTarget) {
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, []() -> absl::StatusOr<std::string> {
        absl::Status status =
            MountReadOnly("none", "/nonexistent/dir", "tmpfs");
        if (status.ok()) return std::string("mounted?");
        return std::string(status.message());
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result,
            "mount none on /nonexistent/dir: No such file or directory");
}

// A real ext4 image on a loop device: detect the type from the device and
// mount it read-only; writes then fail with EROFS.
TEST_F(MountInChildTest, MountsLoopDeviceReadOnly) {
  if (!mountns_test::HaveProgram("mkfs.ext4")) GTEST_SKIP() << "no mkfs.ext4";
  const std::string image = temp_.Sub("ro.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, 16 << 20));
  absl::StatusOr<int> rc =
      mountns_test::RunProgram({"mkfs.ext4", "-q", "-F", image});
  ASSERT_OK(rc);
  ASSERT_EQ(*rc, 0);
  absl::StatusOr<mountns_test::TempLoop> loop =
      mountns_test::TempLoop::Attach(image);
  ASSERT_OK(loop);
  const std::string dir = temp_.MakeDir("ro");
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, [&]() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(std::string type,
                               DetectFilesystemType(loop->path()));
        DMKIT_ASSIGN_OR_RETURN(
            ScopedMount mount,
            ScopedMount::Create(MountRequest{
                .source = loop->path(),
                .target = dir,
                .fs_type = type,
                .options = BuildMountOptions({type == "xfs" ? "nouuid" : ""}),
                .read_only = true}));
        int fd =
            open((dir + "/new").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        int error_number = errno;
        if (fd >= 0) close(fd);
        struct stat lost_found;
        bool has_lost_found =
            stat((dir + "/lost+found").c_str(), &lost_found) == 0;
        return absl::StrCat(
            type, " ", fd < 0 && error_number == EROFS ? "erofs" : "writable",
            " ", has_lost_found ? "lost+found" : "empty");
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result, "ext4 erofs lost+found");
  EXPECT_FALSE(MountedInChild(dir));
}

TEST_F(MountInChildTest, UnsharePrivateMountNamespaceIsolates) {
  const std::string dir = temp_.MakeDir("isolated");
  absl::StatusOr<std::string> result =
      RunInNamespaces(target_, [&]() -> absl::StatusOr<std::string> {
        DMKIT_ASSIGN_OR_RETURN(
            uint64_t before, NamespaceInodeOf(getpid(), NamespaceType::kMount));
        DMKIT_RETURN_IF_ERROR(UnsharePrivateMountNamespace());
        DMKIT_ASSIGN_OR_RETURN(
            uint64_t after, NamespaceInodeOf(getpid(), NamespaceType::kMount));
        DMKIT_ASSIGN_OR_RETURN(
            ScopedMount mount,
            ScopedMount::Create(MountRequest{
                .source = "iso", .target = dir, .fs_type = "tmpfs"}));
        mount.Release();  // left behind in the new namespace only
        return std::string(before != after ? "new" : "same");
      });
  ASSERT_OK(result);
  EXPECT_EQ(*result, "new");
  // The child's namespace (the helper's old one) did not get the mount.
  EXPECT_FALSE(MountedInChild(dir));
}

}  // namespace
}  // namespace mountns
