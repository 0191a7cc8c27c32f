// The dmsetup commands that change devices, run through RunDmsetup()
// against the fake kernel: what they print, their exit status, and the
// state they leave (devices, tables, nodes). Creates fail at every step
// (create, load, resume, node) and must leave no device behind, with the
// first error named as libdevmapper words it. The same command lines run
// side by side with Debian's dmsetup on the real kernel in
// tests/vm/dmsetup_compat.sh.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/test_util.h"
#include "tools/dmsetup/dmsetup.h"

namespace dmkit::testing {
namespace {

struct Result {
  int rc = -1;
  std::string out;
  std::string err;
};

// The node step (DeviceNodes' fault hook names) the next run fails with
// EACCES, if any.
const char* g_failing_node_step = nullptr;
int FailNodeStep(absl::string_view step, absl::string_view) {
  return g_failing_node_step != nullptr && step == g_failing_node_step ? EACCES
                                                                       : 0;
}

class DmsetupCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/dmkit-dmsetup-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dev_dir_ = pattern;
    const char* old = getenv("DM_DEV_DIR");
    if (old != nullptr) old_dev_dir_ = old;
    had_dev_dir_ = old != nullptr;
    setenv("DM_DEV_DIR", dev_dir_.c_str(), 1);
    // dmsetup makes a node for every device it creates, and a create whose
    // node cannot be made is rolled back.
    if (!CanMknod()) GTEST_SKIP() << "cannot mknod in " << dev_dir_;
  }
  void TearDown() override {
    g_failing_node_step = nullptr;
    if (had_dev_dir_) {
      setenv("DM_DEV_DIR", old_dev_dir_.c_str(), 1);
    } else {
      unsetenv("DM_DEV_DIR");
    }
    std::filesystem::remove_all(dev_dir_);
  }

  // `dmsetup WORDS...` against the fake kernel.
  Result Run(std::vector<std::string> words) {
    words.insert(words.begin(), "dmsetup");
    Argv argv(std::move(words));
    char* out_text = nullptr;
    char* err_text = nullptr;
    size_t out_size = 0, err_size = 0;
    FILE* out = open_memstream(&out_text, &out_size);
    FILE* err = open_memstream(&err_text, &err_size);
    Result r;
    r.rc = dmsetup::RunDmsetup(&f_.dm, argv.argc(), argv.argv(), out, err,
                               FailNodeStep);
    fclose(out);
    fclose(err);
    r.out.assign(out_text, out_size);
    r.err.assign(err_text, err_size);
    free(out_text);
    free(err_text);
    return r;
  }

  std::string NodePath(const std::string& name) const {
    return dev_dir_ + "/mapper/" + name;
  }
  // Whether mknod works here (CAP_MKNOD, a filesystem that allows it).
  bool CanMknod() {
    std::string probe = dev_dir_ + "/probe";
    if (mknod(probe.c_str(), S_IFBLK | 0600, makedev(7, 0)) != 0) {
      return false;
    }
    unlink(probe.c_str());
    return true;
  }
  bool IsNodeFor(const std::string& name, uint32_t minor) const {
    struct stat st;
    return lstat(NodePath(name).c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
           st.st_rdev == makedev(FakeKernelState::kMajor, minor);
  }
  bool Exists(const std::string& path) const {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
  }
  FakeDevice* Device(const std::string& name) { return f_.kernel->Find(name); }
  // No devices and no nodes.
  void Reset() {
    f_.kernel->devices.clear();
    std::filesystem::remove_all(dev_dir_ + "/mapper");
  }
  std::string FileText(const std::string& path) const {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
  }
  // Ioctls sent so far.
  int Sent() const { return static_cast<int>(f_.kernel->sent.size()); }

  FakeDm f_;
  std::string dev_dir_;
  std::string old_dev_dir_;
  bool had_dev_dir_ = false;
};

TEST_F(DmsetupCommandsTest, CreateMakesDeviceTableAndNode) {
  Result r = Run({"create", "a", "-u", "UUID-a", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "");
  FakeDevice* a = Device("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->uuid, "UUID-a");
  ASSERT_TRUE(a->live.has_value());
  EXPECT_EQ(dmioctl::FormatTable(*a->live), "0 8 zero\n");
  EXPECT_FALSE(a->inactive.has_value());
  EXPECT_FALSE(a->suspended);
  EXPECT_TRUE(IsNodeFor("a", a->minor));
}

TEST_F(DmsetupCommandsTest, CreateNotableMakesDeviceOnly) {
  Result r = Run({"create", "d", "--notable"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  FakeDevice* d = Device("d");
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE(d->live.has_value());
  EXPECT_FALSE(Exists(NodePath("d")));  // no node before a resume
}

TEST_F(DmsetupCommandsTest, CreateOfExistingNameFailsWithCreateLine) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  Result r = Run({"create", "a", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: create ioctl on a  failed: Device or resource "
            "busy\nCommand failed.\n");
}

// A table the kernel refuses (here: not starting at sector 0) is sent as
// libdm sends it; the load fails and the device is removed again.
TEST_F(DmsetupCommandsTest, CreateWithRefusedTableRollsBack) {
  Result r = Run({"create", "y2", "--table", "8 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: reload ioctl on y2 (253:0) failed: Invalid "
            "argument\nCommand failed.\n");
  EXPECT_EQ(Device("y2"), nullptr);
  EXPECT_TRUE(f_.kernel->devices.empty());
}

TEST_F(DmsetupCommandsTest, CreateFailingAtEachIoctlLeavesNoDevice) {
  // The ioctls of one create: create, load, resume, and the look after the
  // node is made.
  {
    FakeDm probe;
    std::string probe_dir = dev_dir_ + "/probe-dir";
    ASSERT_EQ(mkdir(probe_dir.c_str(), 0755), 0);
    setenv("DM_DEV_DIR", probe_dir.c_str(), 1);
    Argv argv({"dmsetup", "create", "a", "--table", "0 8 zero"});
    FILE* sink = fopen("/dev/null", "w");
    ASSERT_EQ(
        dmsetup::RunDmsetup(&probe.dm, argv.argc(), argv.argv(), sink, sink),
        0);
    fclose(sink);
    setenv("DM_DEV_DIR", dev_dir_.c_str(), 1);
    ASSERT_EQ(probe.kernel->sent.size(), 4u);
  }
  const char* kLines[] = {
      "device-mapper: create ioctl on a UUID-a failed: Input/output error\n",
      "device-mapper: reload ioctl on a (253:0) failed: Input/output error\n",
      "device-mapper: resume ioctl on a  failed: Input/output error\n",
      "device-mapper: info ioctl on a  failed: Input/output error\n",
  };
  for (int step = 1; step <= 4; ++step) {
    SCOPED_TRACE(step);
    f_.kernel->devices.clear();
    f_.kernel->sent.clear();
    f_.kernel->fail_at = step;
    f_.kernel->fail_errno = EIO;
    Result r = Run({"create", "a", "-u", "UUID-a", "--table", "0 8 zero"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, std::string(kLines[step - 1]) + "Command failed.\n");
    EXPECT_TRUE(f_.kernel->devices.empty());
    EXPECT_FALSE(Exists(NodePath("a")));
  }
}

TEST_F(DmsetupCommandsTest, CreateWhoseNodeCannotBeMadeRollsBack) {
  ASSERT_EQ(mkdir((dev_dir_ + "/mapper").c_str(), 0755), 0);
  std::ofstream(NodePath("a")) << "not a node";
  Result r = Run({"create", "a", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, NodePath("a") +
                       " exists and is not a block device: File exists\n"
                       "Command failed.\n");
  EXPECT_TRUE(f_.kernel->devices.empty());
  // What was there is left alone.
  std::ifstream kept(NodePath("a"));
  std::string text;
  std::getline(kept, text);
  EXPECT_EQ(text, "not a node");
}

TEST_F(DmsetupCommandsTest, CreateWhoseRollbackFailsSaysSo) {
  f_.kernel->fail_at = 3;  // resume
  f_.kernel->fail_errno = EIO;
  // The rollback looks (4) and then removes; every remove finds it busy.
  for (int i = 5; i < 40; ++i) f_.kernel->more_failures[i] = EBUSY;
  Result r = Run({"create", "a", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: resume ioctl on a  failed: Input/output error\n"
            "device-mapper: remove ioctl on a  failed: Device or resource "
            "busy\n"
            "Failed to revert device creation.\n"
            "Command failed.\n");
  EXPECT_NE(Device("a"), nullptr);
}

TEST_F(DmsetupCommandsTest, CreateConciseMakesEveryDevice) {
  Result r = Run({"create", "--concise",
                  "c1,,,rw,0 8 zero;c2,UU-c2,,ro,0 8 zero,8 8 "
                  "error"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  ASSERT_NE(Device("c1"), nullptr);
  ASSERT_NE(Device("c2"), nullptr);
  EXPECT_EQ(Device("c2")->uuid, "UU-c2");
  ASSERT_TRUE(Device("c2")->live.has_value());
  EXPECT_TRUE(Device("c2")->live->read_only);
  EXPECT_EQ(dmioctl::FormatTable(*Device("c2")->live), "0 8 zero\n8 8 error\n");
}

// dmsetup creates the devices before a malformed one and stops there.
TEST_F(DmsetupCommandsTest, CreateConciseStopsAtBadFlags) {
  Result r = Run({"create", "--concise", "c3,,,rw,0 8 zero;c4,,,xx,0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "Invalid flags parameter 'xx' must be 'ro' or 'rw' or empty.\n"
            "Command failed.\n");
  EXPECT_NE(Device("c3"), nullptr);
  EXPECT_EQ(Device("c4"), nullptr);
}

TEST_F(DmsetupCommandsTest, CreateConciseWithJobsMakesEveryDevice) {
  Result r = Run({"--jobs", "2", "create", "--concise",
                  "j1,,,rw,0 8 zero;j2,,,rw,0 8 zero;j3,UU-j3,,ro,0 8 zero"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(f_.kernel->devices.size(), 3u);
  ASSERT_NE(Device("j3"), nullptr);
  EXPECT_EQ(Device("j3")->uuid, "UU-j3");
}

// A batch is all or nothing: one device failing removes the others.
TEST_F(DmsetupCommandsTest, CreateConciseWithJobsRollsBackOnFailure) {
  ASSERT_EQ(Run({"create", "j2", "--notable"}).rc, 0);
  Result r = Run({"--jobs", "1", "create", "--concise",
                  "j1,,,rw,0 8 zero;j2,,,rw,0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: create ioctl on j2  failed: Device or resource "
            "busy (the devices this command created were removed)\n"
            "Command failed.\n");
  EXPECT_EQ(Device("j1"), nullptr);
  EXPECT_NE(Device("j2"), nullptr);  // not the batch's
}

TEST_F(DmsetupCommandsTest, RemoveDeletesDeviceAndNode) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_TRUE(Exists(NodePath("a")));
  Result r = Run({"remove", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Device("a"), nullptr);
  EXPECT_FALSE(Exists(NodePath("a")));
  r = Run({"remove", "a"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: remove ioctl on a  failed: No such device or "
            "address\nCommand failed.\n");
}

TEST_F(DmsetupCommandsTest, RemoveOfBusyDeviceFailsOnce) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  Device("a")->open_count = 1;
  int before = Sent();
  Result r = Run({"remove", "a"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: remove ioctl on a  failed: Device or resource "
            "busy\nCommand failed.\n");
  EXPECT_EQ(Sent(), before + 1);
  EXPECT_NE(Device("a"), nullptr);
}

// --retry: every failed attempt is printed, and the device goes once it
// is no longer busy.
TEST_F(DmsetupCommandsTest, RemoveRetryPrintsEachAttempt) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  int next = Sent() + 1;
  f_.kernel->more_failures[next] = EBUSY;
  f_.kernel->more_failures[next + 1] = EBUSY;
  Result r = Run({"remove", "--retry", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err,
            "device-mapper: remove ioctl on a  failed: Device or resource "
            "busy\n"
            "device-mapper: remove ioctl on a  failed: Device or resource "
            "busy\n");
  EXPECT_EQ(Device("a"), nullptr);
}

TEST_F(DmsetupCommandsTest, RemoveForceWipesThenRemoves) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  int before = Sent();
  Result r = Run({"remove", "-f", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Device("a"), nullptr);
  // The error table was loaded before the remove.
  bool loaded_error = false;
  for (int i = before; i < Sent(); ++i) {
    const SentIoctl& io = f_.kernel->sent[i];
    if (io.command == DM_TABLE_LOAD_CMD &&
        io.payload.find("error") != std::string::npos) {
      loaded_error = true;
    }
  }
  EXPECT_TRUE(loaded_error);
}

TEST_F(DmsetupCommandsTest, RenameMovesDeviceAndNode) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  Result r = Run({"rename", "a", "b"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(Device("a"), nullptr);
  ASSERT_NE(Device("b"), nullptr);
  EXPECT_FALSE(Exists(NodePath("a")));
  EXPECT_TRUE(IsNodeFor("b", Device("b")->minor));
  r = Run({"rename", "nosuch", "x"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: rename ioctl on nosuch  failed: No such device or "
            "address\nCommand failed.\n");
  r = Run({"rename", "b", "--setuuid", "NEWUUID"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(Device("b")->uuid, "NEWUUID");
}

// What libdm checks before the rename ioctl, and what the kernel refuses,
// fail the command and change nothing: both devices and their nodes stay.
TEST_F(DmsetupCommandsTest, RenameRefusedChangesNothing) {
  ASSERT_EQ(Run({"create", "a", "-u", "UUID-a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(Run({"create", "b", "--table", "0 8 zero"}).rc, 0);
  const uint32_t minor_a = Device("a")->minor;
  const uint32_t minor_b = Device("b")->minor;
  const std::string long_name(128, 'n');
  const std::string long_uuid(129, 'u');
  struct Case {
    std::vector<std::string> words;
    std::string line;
    bool ioctl;  // whether the kernel was asked
  };
  const Case kCases[] = {
      {{"rename", "a", "bad/name"},
       "Name \"bad/name\" invalid. It contains \"/\".",
       false},
      {{"rename", "a", ""}, "Non empty new name is required.", false},
      {{"rename", "a", long_name},
       "Name \"" + long_name + "\" too long",
       false},
      {{"rename", "a", "--setuuid", long_uuid},
       "Uuid \"" + long_uuid + "\" too long",
       false},
      // The kernel renames by name only: libdm's request by uuid fails.
      {{"rename", "-u", "UUID-a", "zz"},
       "device-mapper: rename ioctl on  UUID-a failed: No such device or "
       "address",
       false},
      {{"rename", "a", "b"},
       "device-mapper: rename ioctl on a  failed: Device or resource busy",
       true},
      {{"rename", "nosuch", "x"},
       "device-mapper: rename ioctl on nosuch  failed: No such device or "
       "address",
       true},
      {{"rename", "b", "--setuuid", "UUID-a"},
       "device-mapper: rename ioctl on b  failed: Device or resource busy",
       true},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.line);
    int before = Sent();
    Result r = Run(c.words);
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, c.line + "\nCommand failed.\n");
    EXPECT_EQ(Sent() > before, c.ioctl);
    ASSERT_NE(Device("a"), nullptr);
    ASSERT_NE(Device("b"), nullptr);
    EXPECT_EQ(Device("a")->uuid, "UUID-a");
    EXPECT_EQ(Device("b")->uuid, "");
    EXPECT_TRUE(IsNodeFor("a", minor_a));
    EXPECT_TRUE(IsNodeFor("b", minor_b));
  }
  // A failing ioctl, as the kernel words it.
  f_.kernel->fail_at = Sent() + 1;
  f_.kernel->fail_errno = EIO;
  Result r = Run({"rename", "a", "c"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: rename ioctl on a  failed: Input/output error\n"
            "Command failed.\n");
  EXPECT_NE(Device("a"), nullptr);
  EXPECT_TRUE(IsNodeFor("a", minor_a));
  EXPECT_FALSE(Exists(NodePath("c")));
}

// When the node cannot follow, libdm says why and the rename stands (the
// command succeeds); the node and whatever was in its way are left as
// they were.
TEST_F(DmsetupCommandsTest, RenameWhoseNodeCannotFollowSaysWhyAndStands) {
  struct Case {
    const char* in_the_way;    // what is at mapper/b first
    const char* failing_step;  // a node step made to fail
    std::string line;
  };
  const std::string b = NodePath("b");
  const Case kCases[] = {
      {"file", nullptr,
       "A non-block device file at '" + b + "' is already present"},
      {"dangling link", nullptr,
       b + ": stat failed: No such file or directory"},
      {"stale node", "unlink", "Unable to unlink device node for 'b'"},
      {"nothing", "rename", "Unable to rename device node from 'a' to 'b'"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.in_the_way);
    Reset();
    ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
    const uint32_t minor = Device("a")->minor;
    std::string what(c.in_the_way);
    if (what == "file") {
      std::ofstream(b) << "not a node";
    } else if (what == "dangling link") {
      ASSERT_EQ(symlink("nowhere", b.c_str()), 0);
    } else if (what == "stale node") {
      ASSERT_EQ(mknod(b.c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
    }
    g_failing_node_step = c.failing_step;
    Result r = Run({"rename", "a", "b"});
    g_failing_node_step = nullptr;
    EXPECT_EQ(r.rc, 0);
    EXPECT_EQ(r.err, c.line + "\n");
    EXPECT_EQ(Device("a"), nullptr);
    EXPECT_NE(Device("b"), nullptr);
    EXPECT_TRUE(IsNodeFor("a", minor));
    struct stat st;
    if (what == "file") {
      EXPECT_EQ(FileText(b), "not a node");
    } else if (what == "dangling link") {
      EXPECT_TRUE(lstat(b.c_str(), &st) == 0 && S_ISLNK(st.st_mode));
    } else if (what == "stale node") {
      EXPECT_TRUE(lstat(b.c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
                  st.st_rdev == makedev(7, 0));
    } else {
      EXPECT_FALSE(Exists(b));
    }
  }
}

// As libdm does: a node or a link to one in the way is replaced, a device
// without a node gets none, and a new uuid leaves the node alone.
TEST_F(DmsetupCommandsTest, RenameMovesTheNodeAsLibdmDoes) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(Run({"create", "other", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(symlink(NodePath("other").c_str(), NodePath("b").c_str()), 0);
  Result r = Run({"rename", "a", "b"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(IsNodeFor("b", Device("b")->minor));
  EXPECT_FALSE(Exists(NodePath("a")));
  EXPECT_TRUE(IsNodeFor("other", Device("other")->minor));

  ASSERT_EQ(Run({"create", "d", "--notable"}).rc, 0);
  r = Run({"rename", "d", "e"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_NE(Device("e"), nullptr);
  EXPECT_FALSE(Exists(NodePath("d")));
  EXPECT_FALSE(Exists(NodePath("e")));

  r = Run({"rename", "b", "--setuuid", "UUID-b"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(Device("b")->uuid, "UUID-b");
  EXPECT_TRUE(IsNodeFor("b", Device("b")->minor));
}

// Every failed request is one line, naming the device as the request
// addressed it (name, uuid or number), with libdm's operation name.
TEST_F(DmsetupCommandsTest, ErrorLinesNameTheRequestAsSent) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  const std::string kMissing = " failed: No such device or address";
  struct Case {
    std::vector<std::string> words;
    std::string err;
  };
  const Case kCases[] = {
      {{"suspend", "nosuch"},
       "device-mapper: suspend ioctl on nosuch " + kMissing},
      {{"resume", "nosuch"},
       "device-mapper: resume ioctl on nosuch " + kMissing},
      {{"clear", "nosuch"}, "device-mapper: clear ioctl on nosuch " + kMissing},
      {{"wait", "nosuch"},
       "device-mapper: waitevent ioctl on nosuch " + kMissing},
      {{"deps", "nosuch"}, "device-mapper: deps ioctl on nosuch " + kMissing},
      {{"table", "nosuch"}, "device-mapper: table ioctl on nosuch " + kMissing},
      {{"table", "-u", "NOPE"},
       "device-mapper: table ioctl on  NOPE" + kMissing},
      {{"table", "-j", "253", "-m", "99"},
       "device-mapper: table ioctl on  (253:99)" + kMissing},
      {{"info", "nosuch"}, "Device does not exist."},
      {{"status", "-u", "NOPE"}, "Device does not exist."},
      {{"message", "-u", "NOPE", "0", "hi"},
       "device-mapper: message ioctl on  NOPE" + kMissing},
      {{"setgeometry", "nosuch", "1", "2", "3", "0"},
       "device-mapper: setgeometry ioctl on nosuch " + kMissing},
      {{"setgeometry", "a", "x", "2", "3", "0"},
       "device-mapper: setgeometry ioctl on a  failed: Invalid argument"},
      {{"load", "-j", "253", "-m", "99", "--table", "0 8 zero"},
       "device-mapper: reload ioctl on  (253:99)" + kMissing},
      // The size cannot be had (and is taken as 0); the load fails.
      {{"wipe_table", "nosuch"},
       "device-mapper: table ioctl on nosuch " + kMissing +
           "\ndevice-mapper: reload ioctl on nosuch " + kMissing},
      // ENXIO is not mangle's to report.
      {{"mangle", "nosuch"}, ""},
      // The library's refusal before any ioctl.
      {{"remove", "control"}, "device name 'control' is reserved"},
      {{"target-version", "averyveryverylongtargetname"},
       "device-mapper: target-version ioctl on averyveryverylongtargetname  "
       "failed: Invalid argument"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.words[0] + " " + c.words[1]);
    Result r = Run(c.words);
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err, c.err + (c.err.empty() ? "" : "\n") + "Command failed.\n");
  }
  EXPECT_NE(Device("a"), nullptr);
}

// -j/-m: every step of a failing create names the number, the load the one
// the create returned; so does a rollback that fails.
TEST_F(DmsetupCommandsTest, CreateWithNumberNamesItAtEveryStep) {
  const char* kLines[] = {
      "device-mapper: create ioctl on a (253:5) failed: Input/output error\n",
      "device-mapper: reload ioctl on a (253:5) failed: Input/output error\n",
      "device-mapper: resume ioctl on a (253:5) failed: Input/output error\n",
      "device-mapper: info ioctl on a (253:5) failed: Input/output error\n",
  };
  for (int step = 1; step <= 4; ++step) {
    SCOPED_TRACE(step);
    Reset();
    f_.kernel->sent.clear();
    f_.kernel->fail_at = step;
    f_.kernel->fail_errno = EIO;
    Result r =
        Run({"create", "a", "-j", "253", "-m", "5", "--table", "0 8 zero"});
    EXPECT_EQ(r.rc, 1);
    EXPECT_EQ(r.err, std::string(kLines[step - 1]) + "Command failed.\n");
    EXPECT_TRUE(f_.kernel->devices.empty());
    EXPECT_FALSE(Exists(NodePath("a")));
  }
  Reset();
  f_.kernel->sent.clear();
  f_.kernel->fail_at = 3;  // resume
  f_.kernel->fail_errno = EIO;
  for (int i = 5; i < 40; ++i) f_.kernel->more_failures[i] = EBUSY;
  Result r =
      Run({"create", "a", "-j", "253", "-m", "5", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: resume ioctl on a (253:5) failed: Input/output "
            "error\n"
            "device-mapper: remove ioctl on a (253:5) failed: Device or "
            "resource busy\n"
            "Failed to revert device creation.\n"
            "Command failed.\n");
}

// A node libdm cannot unlink is said, and the remove goes on.
TEST_F(DmsetupCommandsTest, RemoveWhoseNodeCannotGoSaysSo) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(unlink(NodePath("a").c_str()), 0);
  ASSERT_EQ(mkdir(NodePath("a").c_str(), 0755), 0);
  Result r = Run({"remove", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "Unable to unlink device node for 'a'\n");
  EXPECT_EQ(Device("a"), nullptr);
  EXPECT_TRUE(Exists(NodePath("a")));
}

// Over all devices, each failure is printed as it comes and the others
// still run; the command fails.
TEST_F(DmsetupCommandsTest, EveryDeviceRunsDespiteAFailure) {
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_EQ(Run({"create", name, "--table", "0 8 zero"}).rc, 0);
  }
  int before = Sent();
  ASSERT_EQ(Run({"table"}).rc, 0);
  ASSERT_EQ(Sent(), before + 4);  // the list, then each table
  f_.kernel->fail_at = Sent() + 3;
  f_.kernel->fail_errno = EIO;
  Result r = Run({"table"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "a: 0 8 zero \nc: 0 8 zero \n");
  EXPECT_EQ(r.err,
            "device-mapper: table ioctl on b  failed: Input/output error\n"
            "Command failed.\n");
}

TEST_F(DmsetupCommandsTest, LoadFillsInactiveSlotAndResumeSwaps) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  Result r = Run({"load", "a", "--table", "0 16 zero"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  ASSERT_TRUE(Device("a")->inactive.has_value());
  EXPECT_EQ(dmioctl::FormatTable(*Device("a")->inactive), "0 16 zero\n");
  EXPECT_EQ(dmioctl::FormatTable(*Device("a")->live), "0 8 zero\n");
  r = Run({"resume", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_FALSE(Device("a")->inactive.has_value());
  EXPECT_EQ(dmioctl::FormatTable(*Device("a")->live), "0 16 zero\n");
  r = Run({"load", "nosuch", "--table", "0 8 zero"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: reload ioctl on nosuch  failed: No such device or "
            "address\nCommand failed.\n");
  r = Run({"load", "a", "--table", "foo bar"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Invalid format on line 1 of table .\nCommand failed.\n");
}

TEST_F(DmsetupCommandsTest, SuspendAndResume) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  Result r = Run({"suspend", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(Device("a")->suspended);
  r = Run({"resume", "a"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_FALSE(Device("a")->suspended);
  r = Run({"suspend", "nosuch"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: suspend ioctl on nosuch  failed: No such device "
            "or address\nCommand failed.\n");
}

TEST_F(DmsetupCommandsTest, MessageReachesTarget) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  int before = Sent();
  Result r = Run({"message", "a", "0", "hello", "there"});
  bool sent = false;
  for (int i = before; i < Sent(); ++i) {
    const SentIoctl& io = f_.kernel->sent[i];
    if (io.command == DM_TARGET_MSG_CMD &&
        io.payload.find("hello there") != std::string::npos) {
      sent = true;
    }
  }
  EXPECT_TRUE(sent);
  r = Run({"message", "a", "x", "hello"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err, "Invalid sector.\nCommand failed.\n");
  r = Run({"message", "nosuch", "0", "hello"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: message ioctl on nosuch  failed: No such device "
            "or address\nCommand failed.\n");
}

TEST_F(DmsetupCommandsTest, MknodesReconcilesDirectory) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(Run({"create", "b", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(unlink(NodePath("a").c_str()), 0);
  ASSERT_EQ(mknod(NodePath("stale").c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
  Result r = Run({"mknodes"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(IsNodeFor("a", Device("a")->minor));
  EXPECT_FALSE(Exists(NodePath("stale")));
  ASSERT_EQ(mknod(NodePath("gone").c_str(), S_IFBLK | 0600, makedev(7, 1)), 0);
  r = Run({"mknodes", "gone"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_FALSE(Exists(NodePath("gone")));
}

TEST_F(DmsetupCommandsTest, RemoveAllRemovesEveryDevice) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(Run({"create", "b", "--notable"}).rc, 0);
  Result r = Run({"remove_all"});
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.err, "");
  EXPECT_TRUE(f_.kernel->devices.empty());
  EXPECT_FALSE(Exists(NodePath("a")));
}

TEST_F(DmsetupCommandsTest, RemoveWithJobsRemovesEveryDevice) {
  ASSERT_EQ(Run({"create", "a", "--table", "0 8 zero"}).rc, 0);
  ASSERT_EQ(Run({"create", "b", "--table", "0 8 zero"}).rc, 0);
  Device("b")->open_count = 1;
  Result r = Run({"--jobs", "2", "remove", "a", "b"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.err,
            "device-mapper: remove ioctl on b  failed: Device or resource "
            "busy\nCommand failed.\n");
  EXPECT_EQ(Device("a"), nullptr);
  EXPECT_NE(Device("b"), nullptr);
}

// Without a kernel, a command that needs one says so as dmsetup does; one
// that does not runs.
TEST_F(DmsetupCommandsTest, NoKernelIsReportedByCommandsThatNeedIt) {
  Argv argv({"dmsetup", "remove", "a"});
  char* text = nullptr;
  size_t size = 0;
  FILE* err = open_memstream(&text, &size);
  FILE* out = fopen("/dev/null", "w");
  int rc = dmsetup::RunDmsetup(dmkit::ErrnoError(ENOENT, "open control"),
                               argv.argc(), argv.argv(), out, err);
  fclose(err);
  fclose(out);
  std::string printed(text, size);
  free(text);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(printed.substr(0, printed.find('\n')),
            dev_dir_ +
                "/mapper/control: open failed: No such file or "
                "directory");
  EXPECT_NE(printed.find("Failure to communicate with kernel device-mapper "
                         "driver.\n"),
            std::string::npos);
}

// remove_all asks for the kernel twice (remove_all, then mknodes): its
// lines are said once.
TEST_F(DmsetupCommandsTest, NoKernelIsSaidOnce) {
  Argv argv({"dmsetup", "remove_all"});
  char* text = nullptr;
  size_t size = 0;
  FILE* err = open_memstream(&text, &size);
  FILE* out = fopen("/dev/null", "w");
  int rc = dmsetup::RunDmsetup(dmkit::ErrnoError(ENOENT, "open control"),
                               argv.argc(), argv.argv(), out, err);
  fclose(err);
  fclose(out);
  std::string printed(text, size);
  free(text);
  EXPECT_EQ(rc, 1);
  size_t first = printed.find("Failure to communicate");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(printed.find("Failure to communicate", first + 1),
            std::string::npos);
  EXPECT_EQ(printed.substr(printed.rfind('\n', printed.size() - 2) + 1),
            "Command failed.\n");
}

}  // namespace
}  // namespace dmkit::testing
