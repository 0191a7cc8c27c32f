#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "mountns/mount_namespaces.h"
#include "mountns/mountinfo.h"
#include "mountns/namespace_set.h"
#include "tests/unit/mountns_test_util.h"

namespace mountns {
namespace {

using ::mountns_test::NamespaceChild;
using ::mountns_test::ParseDev;
using ::mountns_test::TempDir;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Message(const absl::Status& status) {
  return std::string(status.message());
}

const MountNamespace* FindNamespace(const std::vector<MountNamespace>& list,
                                    uint64_t inode) {
  for (const MountNamespace& ns : list) {
    if (ns.inode == inode) return &ns;
  }
  return nullptr;
}

// Mounts of `dev` in `pid`'s own /proc/PID/mountinfo.
std::vector<MountInfo> MountsOfDevIn(pid_t pid, dev_t dev) {
  std::vector<MountInfo> found;
  absl::StatusOr<std::vector<MountInfo>> mounts = ReadMountInfo(pid);
  if (!mounts.ok()) return found;
  for (const MountInfo& m : *mounts) {
    if (m.dev() == dev) found.push_back(m);
  }
  return found;
}

// The entries of `mounts` that are in namespace `inode`.
std::vector<MountOfDevice> InNamespace(const std::vector<MountOfDevice>& mounts,
                                       uint64_t inode) {
  std::vector<MountOfDevice> found;
  for (const MountOfDevice& m : mounts) {
    if (m.ns.inode == inode) found.push_back(m);
  }
  return found;
}

TEST(MountNamespacesTest, ListsOwnNamespaceWithThisProcess) {
  absl::StatusOr<std::vector<MountNamespace>> list = ListMountNamespaces();
  ASSERT_OK(list);
  absl::StatusOr<uint64_t> own = OwnMountNamespaceInode();
  ASSERT_OK(own);
  const MountNamespace* ns = FindNamespace(*list, *own);
  ASSERT_NE(ns, nullptr);
  EXPECT_TRUE(ns->own);
  EXPECT_THAT(ns->pids(), Contains(getpid()));
  auto me =
      std::find_if(ns->members.begin(), ns->members.end(),
                   [](const NamespaceMember& m) { return m.pid == getpid(); });
  ASSERT_NE(me, ns->members.end());
  EXPECT_EQ(me->tid, getpid());
  absl::StatusOr<std::string> comm = ReadFile("/proc/self/comm");
  ASSERT_OK(comm);
  EXPECT_EQ(me->comm + "\n", *comm);
  // Sorted, one entry per process, no kernel threads (kthreadd is pid 2).
  EXPECT_TRUE(
      std::is_sorted(ns->members.begin(), ns->members.end(),
                     [](const NamespaceMember& a, const NamespaceMember& b) {
                       return a.pid < b.pid;
                     }));
  for (const MountNamespace& other : *list) {
    EXPECT_EQ(other.own, other.inode == *own);
    for (const NamespaceMember& m : other.members)
      EXPECT_NE(m.comm, "kthreadd");
  }
  EXPECT_EQ(FormatNamespace(42), "mnt:[42]");
}

class PrivateNamespaceTest : public ::testing::Test {
 protected:
  void SetUp() override { MOUNTNS_SKIP_UNLESS_ROOT(); }

  // Starts a child in a private mount namespace with a tmpfs on `dir`; the
  // tmpfs's device number lands in *dev.
  void StartTmpfsChild(const std::string& dir, dev_t* dev) {
    absl::StatusOr<NamespaceChild> child =
        NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
          DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
          return mountns_test::MountTmpfs(dir, "private-tmpfs");
        });
    ASSERT_OK(child);
    *dev = ParseDev(child->value());
    ASSERT_NE(*dev, 0u);
    child_.emplace(*std::move(child));
    absl::StatusOr<uint64_t> inode =
        NamespaceInodeOf(child_->pid(), NamespaceType::kMount);
    ASSERT_OK(inode);
    child_ns_ = *inode;
  }

  TempDir temp_;
  std::optional<NamespaceChild> child_;
  uint64_t child_ns_ = 0;
};

TEST_F(PrivateNamespaceTest, ListsTheChildNamespace) {
  dev_t dev;
  ASSERT_NO_FATAL_FAILURE(StartTmpfsChild(temp_.MakeDir("a"), &dev));
  absl::StatusOr<std::vector<MountNamespace>> list = ListMountNamespaces();
  ASSERT_OK(list);
  const MountNamespace* ns = FindNamespace(*list, child_ns_);
  ASSERT_NE(ns, nullptr);
  EXPECT_FALSE(ns->own);
  ASSERT_EQ(ns->members.size(), 1u);
  EXPECT_EQ(ns->members[0].pid, child_->pid());
  EXPECT_EQ(ns->members[0].tid, child_->pid());
  // The forked child keeps the test binary's name.
  absl::StatusOr<std::string> comm = ReadFile("/proc/self/comm");
  ASSERT_OK(comm);
  EXPECT_EQ(ns->members[0].comm + "\n", *comm);
}

// The incident's core question: a loop device mounted only inside another
// namespace is found there, by major:minor, and not in ours.
TEST_F(PrivateNamespaceTest, FindsLoopDeviceMountedInAnotherNamespace) {
  if (!mountns_test::HaveProgram("mkfs.ext4")) GTEST_SKIP() << "no mkfs.ext4";
  const std::string image = temp_.Sub("disk.img");
  ASSERT_OK(mountns_test::MakeSparseFile(image, 32 << 20));
  absl::StatusOr<int> mkfs =
      mountns_test::RunProgram({"mkfs.ext4", "-q", "-F", image});
  ASSERT_OK(mkfs);
  ASSERT_EQ(*mkfs, 0);
  absl::StatusOr<mountns_test::TempLoop> loop =
      mountns_test::TempLoop::Attach(image);
  ASSERT_OK(loop);
  const std::string dir = temp_.MakeDir("container mnt");  // with a space

  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
        DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
        if (mount(loop->path().c_str(), dir.c_str(), "ext4", MS_NOATIME,
                  nullptr) != 0) {
          return dmkit::ErrnoError(errno, "mount " + loop->path());
        }
        return std::string();
      });
  ASSERT_OK(child);
  absl::StatusOr<uint64_t> child_ns =
      NamespaceInodeOf(child->pid(), NamespaceType::kMount);
  ASSERT_OK(child_ns);

  absl::StatusOr<std::vector<MountOfDevice>> mounts =
      FindMountsOfDevice(loop->dev());
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 1u);
  const MountOfDevice& found = (*mounts)[0];
  EXPECT_EQ(found.ns.inode, *child_ns);
  EXPECT_FALSE(found.ns.own);
  EXPECT_THAT(found.ns.pids(), Contains(child->pid()));
  EXPECT_EQ(found.mount.mount_point, dir);
  EXPECT_EQ(found.mount.fs_type, "ext4");
  EXPECT_EQ(found.mount.source, loop->path());
  EXPECT_EQ(found.mount.dev(), loop->dev());
  EXPECT_THAT(found.mount.mount_options, HasSubstr("noatime"));
  EXPECT_GT(found.mount.mount_id, 0u);
  // The same mount, by id, in the child's own view.
  std::vector<MountInfo> direct = MountsOfDevIn(child->pid(), loop->dev());
  ASSERT_EQ(direct.size(), 1u);
  EXPECT_EQ(direct[0].mount_id, found.mount.mount_id);
  // And nowhere in ours.
  EXPECT_TRUE(MountsOfDevIn(getpid(), loop->dev()).empty());

  // Unmount it there; the child's mountinfo no longer has it.
  ASSERT_OK(Unmount(found.ns, found.mount.mount_point, UnmountMode::kNormal));
  EXPECT_TRUE(MountsOfDevIn(child->pid(), loop->dev()).empty());
  mounts = FindMountsOfDevice(loop->dev());
  ASSERT_OK(mounts);
  EXPECT_TRUE(mounts->empty());
}

TEST_F(PrivateNamespaceTest, BindMountsGiveOneEntryEach) {
  const std::string a = temp_.MakeDir("a");
  const std::string b = temp_.MakeDir("b");
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
        DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
        DMKIT_ASSIGN_OR_RETURN(std::string dev,
                               mountns_test::MountTmpfs(a, "bind-src"));
        if (mkdir((a + "/sub").c_str(), 0755) != 0 ||
            mount((a + "/sub").c_str(), b.c_str(), nullptr, MS_BIND, nullptr) !=
                0) {
          return dmkit::ErrnoError(errno, "bind mount");
        }
        return dev;
      });
  ASSERT_OK(child);
  dev_t dev = ParseDev(child->value());
  absl::StatusOr<uint64_t> child_ns =
      NamespaceInodeOf(child->pid(), NamespaceType::kMount);
  ASSERT_OK(child_ns);
  absl::StatusOr<std::vector<MountOfDevice>> mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  std::vector<MountOfDevice> mine = InNamespace(*mounts, *child_ns);
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_LT(mine[0].mount.mount_id, mine[1].mount.mount_id);
  EXPECT_EQ(mine[0].mount.mount_point, a);
  EXPECT_EQ(mine[0].mount.root, "/");
  EXPECT_EQ(mine[1].mount.mount_point, b);
  EXPECT_EQ(mine[1].mount.root, "/sub");
}

// A namespace entered by one thread only: found through
// /proc/PID/task/TID, with the thread as the member's tid.
TEST_F(PrivateNamespaceTest, FindsNamespaceOfASingleThread) {
  const std::string dir = temp_.MakeDir("thread");
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
        std::promise<absl::StatusOr<std::string>> ready;
        std::thread([&ready, &dir] {
          // Leaving the shared fs_struct is what lets one thread unshare.
          if (unshare(CLONE_FS | CLONE_NEWNS) != 0) {
            ready.set_value(dmkit::ErrnoError(errno, "unshare"));
            return;
          }
          if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
            ready.set_value(dmkit::ErrnoError(errno, "make-rprivate"));
            return;
          }
          absl::StatusOr<std::string> dev =
              mountns_test::MountTmpfs(dir, "thread-tmpfs");
          if (dev.ok()) {
            *dev = absl::StrCat(*dev, " ", syscall(SYS_gettid));
          }
          ready.set_value(dev);
          pause();
        }).detach();
        return ready.get_future().get();
      });
  ASSERT_OK(child);
  std::vector<std::string> parts = absl::StrSplit(child->value(), ' ');
  ASSERT_EQ(parts.size(), 2u);
  dev_t dev = ParseDev(parts[0]);
  pid_t tid = static_cast<pid_t>(strtol(parts[1].c_str(), nullptr, 10));
  ASSERT_NE(tid, child->pid());

  // The process's main thread is still in our namespace; the thread is not.
  absl::StatusOr<uint64_t> own = OwnMountNamespaceInode();
  absl::StatusOr<uint64_t> main_ns =
      NamespaceInodeOf(child->pid(), NamespaceType::kMount);
  ASSERT_OK(own);
  ASSERT_OK(main_ns);
  EXPECT_EQ(*main_ns, *own);

  absl::StatusOr<std::vector<MountOfDevice>> mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 1u);
  const MountOfDevice& found = (*mounts)[0];
  EXPECT_NE(found.ns.inode, *own);
  ASSERT_EQ(found.ns.members.size(), 1u);
  EXPECT_EQ(found.ns.members[0].pid, child->pid());
  EXPECT_EQ(found.ns.members[0].tid, tid);
  EXPECT_EQ(found.mount.mount_point, dir);
  EXPECT_EQ(found.mount.source, "thread-tmpfs");

  // And it can be unmounted there. Its anonymous device number is free
  // again at once, and a test running beside this one may mount a tmpfs
  // that takes it, so only a mount of this source would be ours.
  ASSERT_OK(Unmount(found.ns, dir, UnmountMode::kNormal));
  mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  for (const MountOfDevice& left : *mounts) {
    EXPECT_NE(left.mount.source, "thread-tmpfs") << left.mount.mount_point;
  }
}

// A chrooted process does not see mounts outside its jail in its own
// mountinfo (the ntpd case); the lookup enters the namespace instead.
TEST_F(PrivateNamespaceTest, FindsMountHiddenFromAChrootedProcess) {
  const std::string hidden = temp_.MakeDir("hidden");
  const std::string jail = temp_.MakeDir("jail");
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
        DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
        DMKIT_ASSIGN_OR_RETURN(
            std::string dev, mountns_test::MountTmpfs(hidden, "jailed-tmpfs"));
        if (chroot(jail.c_str()) != 0 || chdir("/") != 0) {
          return dmkit::ErrnoError(errno, "chroot");
        }
        return dev;
      });
  ASSERT_OK(child);
  dev_t dev = ParseDev(child->value());
  // The precondition: the child's own view hides the mount.
  absl::StatusOr<std::vector<MountInfo>> own_view = ReadMountInfo(child->pid());
  ASSERT_OK(own_view);
  for (const MountInfo& m : *own_view) ASSERT_NE(m.dev(), dev);

  absl::StatusOr<std::vector<MountOfDevice>> mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ(mounts->front().mount.mount_point, hidden);
  EXPECT_EQ(mounts->front().ns.members[0].pid, child->pid());

  absl::StatusOr<std::vector<MountInfo>> whole =
      ReadNamespaceMountInfo(mounts->front().ns);
  ASSERT_OK(whole);
  EXPECT_GT(whole->size(), own_view->size());
}

TEST_F(PrivateNamespaceTest, BusyMountNeedsLazyUnmount) {
  const std::string dir = temp_.MakeDir("busy");
  absl::StatusOr<NamespaceChild> child =
      NamespaceChild::Start([&]() -> absl::StatusOr<std::string> {
        DMKIT_RETURN_IF_ERROR(mountns_test::UnsharePrivateMounts());
        DMKIT_ASSIGN_OR_RETURN(std::string dev,
                               mountns_test::MountTmpfs(dir, "busy-tmpfs"));
        // An open file keeps the mount busy, as a daemon's would.
        if (open((dir + "/held").c_str(), O_CREAT | O_RDWR, 0600) < 0) {
          return dmkit::ErrnoError(errno, "open");
        }
        return dev;
      });
  ASSERT_OK(child);
  dev_t dev = ParseDev(child->value());
  absl::StatusOr<std::vector<MountOfDevice>> mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 1u);
  const MountNamespace ns = mounts->front().ns;

  absl::Status busy = Unmount(ns, dir, UnmountMode::kNormal);
  EXPECT_EQ(busy.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(dmkit::ErrnoOf(busy), EBUSY);
  EXPECT_EQ(Message(busy),
            absl::StrCat("umount ", dir, " in ", FormatNamespace(ns.inode),
                         ": Device or resource busy"));
  EXPECT_EQ(MountsOfDevIn(child->pid(), dev).size(), 1u);

  ASSERT_OK(Unmount(ns, dir, UnmountMode::kLazy));
  EXPECT_TRUE(MountsOfDevIn(child->pid(), dev).empty());

  // Nothing is mounted there any more.
  absl::Status again = Unmount(ns, dir, UnmountMode::kLazy);
  EXPECT_EQ(dmkit::ErrnoOf(again), EINVAL);
}

TEST_F(PrivateNamespaceTest, NamespaceWithoutProcessesCannotBeEntered) {
  dev_t dev;
  ASSERT_NO_FATAL_FAILURE(StartTmpfsChild(temp_.MakeDir("gone"), &dev));
  absl::StatusOr<std::vector<MountOfDevice>> mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  ASSERT_EQ(mounts->size(), 1u);
  const MountNamespace ns = mounts->front().ns;
  const pid_t child_pid = child_->pid();
  child_->Stop();
  absl::Status status =
      Unmount(ns, mounts->front().mount.mount_point, UnmountMode::kNormal);
  EXPECT_EQ(dmkit::ErrnoOf(status), ESRCH);
  EXPECT_THAT(Message(status), HasSubstr(FormatNamespace(ns.inode)));
  // A later scan no longer has it. (Namespace inode numbers are reused at
  // once: a test running in parallel may already own one with this number,
  // but not with the stopped child in it.)
  absl::StatusOr<std::vector<MountNamespace>> list = ListMountNamespaces();
  ASSERT_OK(list);
  if (const MountNamespace* same = FindNamespace(*list, ns.inode)) {
    EXPECT_THAT(same->pids(), Not(Contains(child_pid)));
  }
  // Nor does a scan for the device find that mount. (The tmpfs's anonymous
  // device number is free again once the namespace is gone, and another
  // test running in parallel may get it for a tmpfs of its own: only a
  // mount in the old namespace at the old place would be wrong.)
  const std::string gone_point = mounts->front().mount.mount_point;
  mounts = FindMountsOfDevice(dev);
  ASSERT_OK(mounts);
  for (const MountOfDevice& m : *mounts) {
    EXPECT_FALSE(m.ns.inode == ns.inode && m.mount.mount_point == gone_point)
        << m.mount.mount_point;
  }
}

TEST(UnmountInTest, NeedsAMountNamespace) {
  NamespaceSet set;
  EXPECT_EQ(UnmountIn(set, "/x", UnmountMode::kNormal).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace mountns
