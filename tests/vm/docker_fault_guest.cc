// Fault injection into `dmkit docker pool --activate`, `mount` and `umount`
// on the real kernel (issue #8): each command runs with its step N failed,
// for N = 1, 2, ... until a run reaches no more steps and succeeds. After
// every failed run:
//   * the exit status is 1 and nothing was printed on stdout;
//   * stderr is one line naming the failed step (the ioctl or system call
//     and what it acted on), the injected errno and the device;
//   * the system is exactly as before: the same device-mapper devices
//     (names, uuids, flags, open counts, tables), the same /dev/mapper
//     entries, the same mounts in this namespace and the same bound loop
//     devices.
//
// A step is every device-mapper ioctl the command sends (a Transport
// wrapped around the real one fails the Nth) and every system call behind
// the docker commands' fault points (tools/docker/fault.h: loop binding,
// mount, umount, and the /dev/mapper nodes through DeviceNodes). The
// commands run in this process as `dmkit docker` runs them.
//
// Usage: docker_fault_guest ROOT [gtest flags], ROOT being the Docker root
// docker_fault_setup.sh made (pool inactive, containers "db" on XFS and
// "web" on ext4).
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "dmioctl/table.h"
#include "dmioctl/targets.h"
#include "dmioctl/transport.h"
#include "gtest/gtest.h"
#include "tools/docker/cli.h"
#include "tools/docker/fault.h"

namespace {

using dmioctl::DeviceRef;

// Distinctive, and handled specially by nothing: no retry, no fallback.
constexpr int kInjectedErrno = ENOTRECOVERABLE;
constexpr char kInjectedErrnoText[] = "[errno 131]";
static_assert(ENOTRECOVERABLE == 131);

std::string root;  // argv[1]

// ---------------------------------------------------------------- steps

struct Step {
  std::string name;    // "DM_TABLE_LOAD", "LOOP_CONFIGURE", "mount", ...
  std::string target;  // the device, node or mountpoint, if any
};

// Counts the steps of one run and fails the one at `fail_at`.
class Injector {
 public:
  explicit Injector(size_t fail_at) : fail_at_(fail_at) {}
  int Next(absl::string_view name, absl::string_view target) {
    steps_.push_back({std::string(name), std::string(target)});
    if (steps_.size() != fail_at_) return 0;
    failed_ = steps_.back();
    return kInjectedErrno;
  }
  const std::vector<Step>& steps() const { return steps_; }
  const std::optional<Step>& failed() const { return failed_; }

 private:
  size_t fail_at_;
  std::vector<Step> steps_;
  std::optional<Step> failed_;
};

Injector* injector = nullptr;

int Hook(absl::string_view step, absl::string_view target) {
  return injector == nullptr ? 0 : injector->Next(step, target);
}

constexpr const char* kIoctlNames[] = {
    "DM_VERSION",          "DM_REMOVE_ALL",    "DM_LIST_DEVICES",
    "DM_DEV_CREATE",       "DM_DEV_REMOVE",    "DM_DEV_RENAME",
    "DM_DEV_SUSPEND",      "DM_DEV_STATUS",    "DM_DEV_WAIT",
    "DM_TABLE_LOAD",       "DM_TABLE_CLEAR",   "DM_TABLE_DEPS",
    "DM_TABLE_STATUS",     "DM_LIST_VERSIONS", "DM_TARGET_MSG",
    "DM_DEV_SET_GEOMETRY", "DM_DEV_ARM_POLL",  "DM_GET_TARGET_VERSION"};

// The real control device, with every ioctl counted as a step.
class FaultTransport : public dmioctl::Transport {
 public:
  explicit FaultTransport(std::unique_ptr<dmioctl::Transport> real)
      : real_(std::move(real)) {}
  int Ioctl(unsigned long request, void* buffer) override {
    const dm_ioctl* h = static_cast<const dm_ioctl*>(buffer);
    unsigned nr = _IOC_NR(request);
    std::string target;
    if (h->name[0] != '\0') {
      target.assign(h->name, strnlen(h->name, sizeof(h->name)));
    } else if (h->dev != 0) {
      target = dmioctl::DevNum::Decode(h->dev).ToString();
    }
    if (int e = Hook(nr < std::size(kIoctlNames) ? kIoctlNames[nr] : "DM_?",
                     target)) {
      return -e;
    }
    return real_->Ioctl(request, buffer);
  }
  int EventFd() const override { return real_->EventFd(); }

 private:
  std::unique_ptr<dmioctl::Transport> real_;
};

// ---------------------------------------------------------------- running

// Redirects a descriptor into a memfd while alive.
class Capture {
 public:
  explicit Capture(int fd) : fd_(fd) {
    fflush(nullptr);
    saved_ = dup(fd);
    mem_ = memfd_create("capture", MFD_CLOEXEC);
    dup2(mem_, fd);
  }
  ~Capture() { Finish(); }
  std::string Finish() {
    if (mem_ < 0) return "";
    fflush(nullptr);
    dup2(saved_, fd_);
    close(saved_);
    std::string text;
    char buf[4096];
    ssize_t n;
    off_t offset = 0;
    while ((n = pread(mem_, buf, sizeof(buf), offset)) > 0) {
      text.append(buf, n);
      offset += n;
    }
    close(mem_);
    mem_ = -1;
    return text;
  }

 private:
  int fd_;
  int saved_ = -1;
  int mem_ = -1;
};

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

// `dmkit docker ARGS...`, in this process.
Outcome Docker(dmioctl::DeviceMapper* dm,
               const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"docker"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  absl::StatusOr<dmkit::docker::Invocation> inv =
      dmkit::docker::ParseCommandLine(static_cast<int>(argv.size()),
                                      argv.data());
  Outcome run;
  if (!inv.ok()) {
    ADD_FAILURE() << inv.status();
    return run;
  }
  Capture out(1);
  Capture err(2);
  run.status = dmkit::docker::FindCommand(inv->command)(dm, inv->options);
  run.err = err.Finish();
  run.out = out.Finish();
  return run;
}

std::string Show(const Outcome& run) {
  return absl::StrCat("exit ", run.status, "\nstdout:\n", run.out, "stderr:\n",
                      run.err);
}

dmioctl::DeviceMapper& Dm() {
  static dmioctl::DeviceMapper* dm = [] {
    absl::StatusOr<std::unique_ptr<dmioctl::DeviceMapper>> opened =
        dmioctl::DeviceMapper::Open();
    if (!opened.ok()) {
      fprintf(stderr, "docker_fault_guest: %s\n",
              std::string(opened.status().message()).c_str());
      abort();
    }
    return opened->release();
  }();
  return *dm;
}

// ---------------------------------------------------------------- state

std::optional<std::string> ReadFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) text.append(buf, n);
  close(fd);
  return text;
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
        names.push_back(e->d_name);
      }
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// What the commands may change, as text lines to compare.
struct SystemState {
  std::vector<std::string> devices;  // name, uuid, flags, open count, table
  std::vector<std::string> nodes;    // /dev/mapper
  std::vector<std::string> mounts;   // this namespace, without mount ids
  std::vector<std::string> loops;    // bound loop devices and their files

  std::string ToString() const {
    std::string s;
    for (const auto* part : {&devices, &nodes, &mounts, &loops}) {
      absl::StrAppend(&s, absl::StrJoin(*part, "\n"), "\n--\n");
    }
    return s;
  }
  bool operator==(const SystemState&) const = default;
};

SystemState Snapshot() {
  SystemState state;
  absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> list =
      Dm().ListDevices();
  EXPECT_TRUE(list.ok()) << list.status();
  if (list.ok()) {
    for (const dmioctl::DeviceListEntry& d : *list) {
      absl::StatusOr<dmioctl::TableReply> t =
          Dm().GetTable(DeviceRef::ByName(d.name));
      if (!t.ok()) {
        state.devices.push_back(
            absl::StrCat(d.name, " ", t.status().message()));
        continue;
      }
      std::string line =
          absl::StrCat(d.name, " ", d.dev.ToString(), " uuid=", t->info.uuid,
                       t->info.read_only() ? " ro" : "",
                       t->info.suspended() ? " SUSPENDED" : "",
                       t->info.live_table() ? "" : " no-live-table",
                       t->info.inactive_table() ? " INACTIVE-TABLE" : "",
                       " open=", t->info.open_count, ":");
      for (const dmioctl::Target& target : t->targets) {
        absl::StrAppend(&line, " [", target.start, " ", target.length, " ",
                        target.type, " ", target.params, "]");
      }
      state.devices.push_back(line);
    }
  }
  for (const std::string& name : DirEntries("/dev/mapper")) {
    std::string path = "/dev/mapper/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    state.nodes.push_back(S_ISBLK(st.st_mode)
                              ? absl::StrCat(name, " block ", major(st.st_rdev),
                                             ":", minor(st.st_rdev), " mode ",
                                             st.st_mode & 07777)
                          : S_ISCHR(st.st_mode) ? absl::StrCat(name, " char")
                                                : absl::StrCat(name, " other"));
  }
  if (std::optional<std::string> info = ReadFile("/proc/self/mountinfo")) {
    for (absl::string_view line :
         absl::StrSplit(*info, '\n', absl::SkipEmpty())) {
      // Mount and parent ids change when a mount is put back; the rest
      // must not.
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
      state.mounts.push_back(
          absl::StrJoin(fields.begin() + 2, fields.end(), " "));
    }
  }
  for (const std::string& name : DirEntries("/sys/block")) {
    if (!absl::StartsWith(name, "loop")) continue;
    std::optional<std::string> file =
        ReadFile(absl::StrCat("/sys/block/", name, "/loop/backing_file"));
    if (!file) continue;  // not bound
    std::optional<std::string> autoclear =
        ReadFile(absl::StrCat("/sys/block/", name, "/loop/autoclear"));
    state.loops.push_back(
        absl::StrCat(name, " ", absl::StripSuffix(*file, "\n"), " autoclear ",
                     absl::StripSuffix(autoclear.value_or("?"), "\n")));
  }
  return state;
}

// ---------------------------------------------------------------- sweeps

struct SweepResult {
  size_t failure_points = 0;
  std::vector<Step> steps;  // of the run that succeeded
};

// Runs `args` with step N failed for N = 1, 2, ... until a run reaches no
// step N; checks every failed run (see the top of the file). `device` is
// the device the errors must name.
SweepResult Sweep(const std::string& label,
                  const std::vector<std::string>& args,
                  const std::string& device) {
  SweepResult result;
  const SystemState before = Snapshot();
  printf("[docker-fault] %s: before:\n%s", label.c_str(),
         before.ToString().c_str());
  for (size_t n = 1; n <= 1000; ++n) {
    Injector counting(n);
    absl::StatusOr<std::unique_ptr<dmioctl::Transport>> control =
        dmioctl::OpenControl();
    if (!control.ok()) {
      ADD_FAILURE() << control.status();
      return result;
    }
    dmioctl::DeviceMapper dm(
        std::make_unique<FaultTransport>(std::move(*control)));
    dmkit::docker::SetFaultHookForTesting(&Hook);
    injector = &counting;
    Outcome run = Docker(&dm, args);
    injector = nullptr;
    dmkit::docker::SetFaultHookForTesting(nullptr);

    if (!counting.failed()) {
      EXPECT_EQ(run.status, 0) << label << " with no fault: " << Show(run);
      EXPECT_EQ(counting.steps().size(), n - 1) << label;
      result.failure_points = n - 1;
      result.steps = counting.steps();
      printf("[docker-fault] %s: %zu failure points, then success:\n%s",
             label.c_str(), n - 1, run.out.c_str());
      for (size_t i = 0; i < result.steps.size(); ++i) {
        printf("[docker-fault]   step %zu: %s %s\n", i + 1,
               result.steps[i].name.c_str(), result.steps[i].target.c_str());
      }
      return result;
    }
    const Step& failed = *counting.failed();
    SCOPED_TRACE(absl::StrCat(label, ": step ", n, " (", failed.name, " ",
                              failed.target, ") failed"));
    printf("[docker-fault] %s: step %zu %s %s -> %s", label.c_str(), n,
           failed.name.c_str(), failed.target.c_str(), run.err.c_str());
    EXPECT_EQ(run.status, 1) << Show(run);
    EXPECT_EQ(run.out, "") << "nothing is reported done when it is undone";
    std::vector<std::string> lines =
        absl::StrSplit(run.err, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << Show(run);
    EXPECT_TRUE(absl::StartsWith(run.err, "docker: ")) << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, failed.name)) << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, failed.target)) << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, kInjectedErrnoText)) << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, strerror(kInjectedErrno)))
        << run.err;
    EXPECT_TRUE(absl::StrContains(run.err, device)) << run.err;
    SystemState after = Snapshot();
    EXPECT_EQ(after.ToString(), before.ToString());
    // A changed system would make every later comparison fail too.
    if (after != before) return result;
  }
  ADD_FAILURE() << label << ": more than 1000 steps";
  return result;
}

// ---------------------------------------------------------------- setup

// Docker's names, computed here as docker_root.sh does.
std::string Prefix() {
  struct stat st;
  if (stat((root + "/devicemapper").c_str(), &st) != 0) return "?";
  uint64_t dev = st.st_dev;
  return absl::StrCat("docker-", (dev >> 8) & 0xfff, ":",
                      (dev & 0xff) | ((dev >> 12) & 0xfff00), "-", st.st_ino);
}
constexpr char kDbMountId[] =
    "4d0b000000000000000000000000000000000000000000000000000000000d01";
constexpr char kWebMountId[] =
    "4eb0000000000000000000000000000000000000000000000000000000000d02";
constexpr uint64_t kWebSectors = 67108864 / 512;
constexpr uint32_t kWebThinId = 11;

bool Active(const std::string& name) {
  return Dm().GetInfo(DeviceRef::ByName(name)).ok();
}

bool Mounted(const std::string& mountpoint) {
  std::optional<std::string> info = ReadFile("/proc/self/mountinfo");
  return info && absl::StrContains(*info, absl::StrCat(" ", mountpoint, " "));
}

class DockerFault : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = Prefix();
    pool_ = prefix_ + "-pool";
    db_ = absl::StrCat(prefix_, "-", kDbMountId);
    web_ = absl::StrCat(prefix_, "-", kWebMountId);
    for (const char* dir : {"/mnt/fault-a", "/mnt/fault-b"}) {
      mkdir("/mnt", 0755);
      mkdir(dir, 0755);
    }
  }
  void TearDown() override {
    // Whatever a failed test left: mounts, devices, the pool (its loop
    // devices detach with it).
    for (const char* dir : {"/mnt/fault-a", "/mnt/fault-b"}) {
      while (Mounted(dir) && umount2(dir, 0) == 0) {
      }
    }
    for (const std::string& name : {db_, web_}) {
      if (Active(name)) {
        EXPECT_TRUE(dmioctl::RemoveDevice(Dm(), DeviceRef::ByName(name)).ok());
      }
      unlink(("/dev/mapper/" + name).c_str());
    }
  }

  void ActivatePool() {
    if (Active(pool_)) return;
    Outcome run = Docker(&Dm(), {"pool", "--activate", "--root", root});
    ASSERT_EQ(run.status, 0) << Show(run);
  }
  void DeactivatePool() {
    if (!Active(pool_)) return;
    absl::StatusOr<dmioctl::DeviceInfo> removed = dmioctl::RemoveDevice(
        Dm(), DeviceRef::ByName(pool_),
        {.retries = 10, .retry_delay = std::chrono::milliseconds(50)});
    ASSERT_TRUE(removed.ok()) << removed.status();
    unlink(("/dev/mapper/" + pool_).c_str());
  }
  dmioctl::DevNum PoolDev() {
    absl::StatusOr<dmioctl::DeviceInfo> info =
        Dm().GetInfo(DeviceRef::ByName(pool_));
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->dev : dmioctl::DevNum{};
  }
  static void Report(const std::string& label, const SweepResult& r) {
    std::vector<std::string> names;
    for (const Step& s : r.steps) names.push_back(s.name);
    printf("[docker-fault] SUMMARY %s: %zu failure points (%s)\n",
           label.c_str(), r.failure_points, absl::StrJoin(names, ", ").c_str());
    ::testing::Test::RecordProperty(label, static_cast<int>(r.failure_points));
  }

  std::string prefix_, pool_, db_, web_;
};

TEST_F(DockerFault, PoolActivate) {
  DeactivatePool();
  SystemState idle = Snapshot();
  ASSERT_TRUE(idle.loops.empty()) << idle.ToString();
  SweepResult r =
      Sweep("pool --activate", {"pool", "--activate", "--root", root}, pool_);
  Report("pool --activate", r);
  EXPECT_TRUE(Active(pool_));
  EXPECT_EQ(Snapshot().loops.size(), 2u) << Snapshot().ToString();
  // The loop devices were bound with autoclear: they go with the pool.
  DeactivatePool();
  EXPECT_TRUE(Snapshot().loops.empty()) << Snapshot().ToString();
}

TEST_F(DockerFault, MountActivatesAndMounts) {
  ActivatePool();
  ASSERT_FALSE(Active(db_));
  SweepResult r =
      Sweep("mount", {"mount", "--root", root, "db", "/mnt/fault-a"}, db_);
  Report("mount", r);
  EXPECT_TRUE(Active(db_));
  EXPECT_TRUE(Mounted("/mnt/fault-a"));
  Outcome run = Docker(&Dm(), {"umount", "--root", root, "/mnt/fault-a"});
  EXPECT_EQ(run.status, 0) << Show(run);
}

TEST_F(DockerFault, UmountUnmountsAndRemoves) {
  ActivatePool();
  Outcome mounted =
      Docker(&Dm(), {"mount", "--rw", "--root", root, "db", "/mnt/fault-a"});
  ASSERT_EQ(mounted.status, 0) << Show(mounted);
  SweepResult r =
      Sweep("umount", {"umount", "--root", root, "/mnt/fault-a"}, db_);
  Report("umount", r);
  EXPECT_FALSE(Active(db_));
  EXPECT_FALSE(Mounted("/mnt/fault-a"));
}

// Two mounts of the device in this namespace: a failure after the first
// unmount puts that one back.
TEST_F(DockerFault, UmountOfTwoMountsByName) {
  ActivatePool();
  Outcome mounted =
      Docker(&Dm(), {"mount", "--root", root, "db", "/mnt/fault-a"});
  ASSERT_EQ(mounted.status, 0) << Show(mounted);
  ASSERT_EQ(mount(("/dev/mapper/" + db_).c_str(), "/mnt/fault-b", "xfs",
                  MS_RDONLY | MS_NOSUID, "nouuid"),
            0)
      << strerror(errno);
  SweepResult r = Sweep("umount (two mounts, by name)",
                        {"umount", "--root", root, "db"}, db_);
  Report("umount (two mounts, by name)", r);
  EXPECT_FALSE(Active(db_));
  EXPECT_FALSE(Mounted("/mnt/fault-a"));
  EXPECT_FALSE(Mounted("/mnt/fault-b"));
}

// A device Docker left active (no dmkit uuid, no node here): mount makes
// the node; umount only unmounts.
TEST_F(DockerFault, MountAndUmountOfDockersDevice) {
  ActivatePool();
  dmioctl::Table table;
  table.targets.push_back(
      dmioctl::targets::Thin(0, kWebSectors, PoolDev().ToString(), kWebThinId));
  ASSERT_TRUE(dmioctl::CreateDevice(Dm(), web_, table).ok());
  SweepResult m = Sweep("mount (device already active)",
                        {"mount", "--root", root, "web", "/mnt/fault-b"}, web_);
  Report("mount (device already active)", m);
  EXPECT_TRUE(Mounted("/mnt/fault-b"));
  SweepResult u = Sweep("umount (device dmkit did not activate)",
                        {"umount", "--root", root, "/mnt/fault-b"}, web_);
  Report("umount (device dmkit did not activate)", u);
  EXPECT_FALSE(Mounted("/mnt/fault-b"));
  EXPECT_TRUE(Active(web_));
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    fprintf(stderr, "usage: docker_fault_guest ROOT [gtest flags]\n");
    return 2;
  }
  root = argv[1];
  setvbuf(stdout, nullptr, _IOLBF, 0);
  return RUN_ALL_TESTS();
}
