// dm_bench: device-mapper operation latency, three implementations side by
// side in one run (see bench/README.md).
//
//   dm_bench [--devices=10,1000,10000] [--scale=1.0] [--dmsetup=PATH]
//            [--dmkit=PATH] [--summary=FILE] [--csv=FILE] [--tmpdir=DIR]
//            [--calibrate]
//            [Google Benchmark flags, e.g. --benchmark_out=FILE
//             --benchmark_out_format=json --benchmark_filter=REGEX]
//
// Needs root and a kernel with device-mapper (dm-zero and dm-thin-pool) and
// loop devices. Every device it makes is named dmkit-bench-*, and all of
// them are removed at the end, also after a failed benchmark or SIGINT.
//
// Benchmarks (times are per operation, measured around the operation only;
// setup and teardown of each iteration are not timed):
//   <op>/<impl>/<devices>   op in create, load, resume, suspend_resume,
//                           status, table, info, list, message_create_thin,
//                           message_delete, remove; impl in bare, dmioctl,
//                           libdm; devices: how many devices exist meanwhile
//   cycle_linear/<impl>     create+load+resume(+node), then remove(-node)
//   cycle_thin/<impl>       the same for a thin device of a thin-pool
//   list_first/dmioctl/<devices>  one listing from a fresh DeviceMapper
//   batch/jobs:<j>/<count>  CreateDevices + RemoveDevices of <count> linear
//                           devices with <j> threads
//   process/<tool>          one process per operation: `dmsetup create` +
//                           `dmsetup remove`, the same through `dmkit
//                           dmsetup`, and `dmkit bench cycle --count 1`
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "dmioctl/nodes.h"
#include "dmioctl/operations.h"
#include "dmioctl/targets.h"
#include "impl.h"
#include "tools/common/loop_device.h"

extern char** environ;

namespace dmkit::bench {
namespace {

constexpr char kPrefix[] = "dmkit-bench-";
constexpr uint64_t kBackingSectors = 2 * 1024 * 1024;  // 1 GiB of zeroes
constexpr uint64_t kDevSectors = 2048;                 // 1 MiB devices
constexpr uint64_t kPoolDataBytes = 512ull << 20;
constexpr uint64_t kPoolMetaBytes = 16ull << 20;
constexpr int kFixtureDevices = 3;  // backing, live, pool

struct Config {
  std::vector<int> devices = {10, 1000, 10000};
  double scale = 1.0;
  std::string dmsetup = "/sbin/dmsetup";
  std::string dmkit;
  std::string summary;
  std::string csv;
  std::string tmpdir = "/tmp";
  bool calibrate = false;
};

Config g_config;
std::atomic<bool> g_interrupted{false};

void OnSignal(int) { g_interrupted = true; }

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int64_t Iters(double n) {
  return std::max<int64_t>(1, std::llround(n * g_config.scale));
}

std::string Name(absl::string_view suffix) {
  return absl::StrCat(kPrefix, suffix);
}

// The devices every benchmark relies on, the background population, and the
// three implementations.
class Fixture {
 public:
  bool SetUp() {
    auto dm = dmioctl::DeviceMapper::Open();
    if (!dm.ok()) {
      fprintf(stderr, "dm_bench: %s\n", dm.status().ToString().c_str());
      return false;
    }
    dm_ = *std::move(dm);
    if (!dm_->Version().ok()) return false;
    RemoveLeftovers();
    if (!Make("backing", {dmioctl::targets::Zero(0, kBackingSectors)})) {
      return false;
    }
    linear_params_ = absl::StrCat(backing_dev_.ToString(), " 0");
    if (!Make("live", {dmioctl::targets::Linear(0, kDevSectors,
                                                backing_dev_.ToString(), 0)})) {
      return false;
    }
    for (auto [loop, bytes] : {std::pair{&meta_, kPoolMetaBytes},
                               std::pair{&data_, kPoolDataBytes}}) {
      absl::StatusOr<LoopDevice> attached =
          LoopDevice::AttachTemporary(bytes, g_config.tmpdir);
      if (!attached.ok()) {
        fprintf(stderr, "dm_bench: %s\n",
                std::string(attached.status().message()).c_str());
        return false;
      }
      *loop = *std::move(attached);
    }
    uint64_t pool_sectors = kPoolDataBytes / 512;
    if (!Make("pool", {dmioctl::targets::ThinPool(
                          0, pool_sectors, meta_.dev().ToString(),
                          data_.dev().ToString(),
                          {.features = {"skip_block_zeroing"}})})) {
      return false;
    }
    pool_dev_ = made_.back();
    auto sent = dm_->SendMessage(dmioctl::DeviceRef::ByName(Name("pool")), 0,
                                 "create_thin 1");
    if (!sent.ok()) {
      fprintf(stderr, "dm_bench: create_thin 1: %s\n",
              sent.status().ToString().c_str());
      return false;
    }
    impls_.push_back(MakeBare());
    // --calibrate: the floor measured against itself in dmioctl's place
    // (same name in the results), which shows what the harness alone
    // makes of two identical implementations.
    impls_.push_back(g_config.calibrate ? MakeBare("dmioctl")
                                        : MakeDmioctl(dm_.get()));
    impls_.push_back(MakeLibdm());
    return true;
  }

  // Removes every dmkit-bench-* device: users of the pool and of the
  // backing device first.
  void RemoveLeftovers() {
    if (!dm_) return;
    auto list = dm_->ListDevices({.with_uuid = false, .name_prefix = kPrefix});
    if (!list.ok()) return;
    std::vector<dmioctl::DeviceRef> first;
    std::vector<dmioctl::DeviceRef> last;
    for (const dmioctl::DeviceListEntry& d : *list) {
      if (d.name.rfind(kPrefix, 0) != 0) continue;  // kernels before 4.45
      bool lower = d.name == Name("pool") || d.name == Name("backing");
      (lower ? last : first).push_back(dmioctl::DeviceRef::ByName(d.name));
    }
    dmioctl::DeviceNodes nodes;
    dmioctl::RemoveDevices(*dm_, first, {.retries = 5},
                           {.jobs = 8, .nodes = &nodes})
        .IgnoreError();
    std::sort(last.begin(), last.end(), [](const auto& a, const auto& b) {
      return a.id() > b.id();  // pool before backing
    });
    dmioctl::RemoveDevices(*dm_, last, {.retries = 5},
                           {.jobs = 1, .nodes = &nodes})
        .IgnoreError();
    background_ = 0;
  }

  void TearDown() {
    impls_.clear();
    RemoveLeftovers();
    meta_.Close();
    data_.Close();
  }

  // Makes the kernel hold `devices` devices in all (background devices
  // without a table, which are cheap, plus the fixture's).
  bool EnsurePopulation(int devices) {
    int want = std::max(0, devices - kFixtureDevices);
    if (want == background_) return true;
    std::vector<dmioctl::DeviceSpec> add;
    std::vector<dmioctl::DeviceRef> drop;
    for (int i = background_; i < want; ++i) {
      add.push_back({.name = Background(i)});
    }
    for (int i = want; i < background_; ++i) {
      drop.push_back(dmioctl::DeviceRef::ByName(Background(i)));
    }
    double t0 = Now();
    absl::Status s = dmioctl::CreateDevices(*dm_, add, {.jobs = 8}).status();
    if (s.ok()) s = dmioctl::RemoveDevices(*dm_, drop, {}, {.jobs = 8});
    if (!s.ok()) {
      fprintf(stderr, "dm_bench: population %d: %s\n", devices,
              s.ToString().c_str());
      return false;
    }
    fprintf(stderr, "dm_bench: %d devices (+%zu -%zu in %.1f s)\n", devices,
            add.size(), drop.size(), Now() - t0);
    background_ = want;
    return true;
  }

  dmioctl::DeviceMapper& dm() { return *dm_; }
  Impl& impl(size_t i) { return *impls_[i]; }
  size_t impl_count() const { return impls_.size(); }
  const std::string& linear_params() const { return linear_params_; }
  dmioctl::DevNum backing_dev() const { return backing_dev_; }
  dmioctl::DevNum pool_dev() const { return pool_dev_; }

 private:
  static std::string Background(int i) {
    char buf[32];
    snprintf(buf, sizeof buf, "bg-%05d", i);
    return Name(buf);
  }

  bool Make(const char* suffix, std::vector<dmioctl::Target> targets) {
    dmioctl::Table table;
    table.targets = std::move(targets);
    auto info = dmioctl::CreateDevice(*dm_, Name(suffix), table);
    if (!info.ok()) {
      fprintf(stderr, "dm_bench: create %s: %s\n", suffix,
              info.status().ToString().c_str());
      return false;
    }
    if (std::string(suffix) == "backing") backing_dev_ = info->dev;
    made_.push_back(info->dev);
    return true;
  }

  std::unique_ptr<dmioctl::DeviceMapper> dm_;
  std::vector<std::unique_ptr<Impl>> impls_;
  std::vector<dmioctl::DevNum> made_;
  dmioctl::DevNum backing_dev_;
  dmioctl::DevNum pool_dev_;
  std::string linear_params_;
  LoopDevice meta_;
  LoopDevice data_;
  int background_ = 0;
};

Fixture* g_fixture = nullptr;

// Per-operation benchmarks.
//
// The implementations are measured interleaved: round after round, each
// takes a short turn (a few operations) in rotating order, so that all
// three share whatever else the machine is doing at the time (a TCG guest
// on a busy host is noisy). Each operation is timed on its own; the summary
// compares medians.

enum class Op {
  kCreate,
  kLoad,
  kResume,
  kSuspendResume,
  kStatus,
  kTable,
  kInfo,
  kList,
  kMessageCreateThin,
  kMessageDelete,
  kRemove,
  kCycleLinear,
  kCycleThin,
};

struct OpInfo {
  Op op;
  const char* name;
  double samples;  // per implementation at scale 1; list: at 1,000 devices
  int turn;        // operations per implementation per round
};

constexpr OpInfo kOps[] = {
    {Op::kCreate, "create", 60, 1},
    {Op::kLoad, "load", 45, 1},
    {Op::kResume, "resume", 45, 1},
    {Op::kSuspendResume, "suspend_resume", 60, 5},
    {Op::kStatus, "status", 1500, 25},
    {Op::kTable, "table", 1500, 25},
    {Op::kInfo, "info", 1500, 25},
    {Op::kList, "list", 200, 5},
    {Op::kMessageCreateThin, "message_create_thin", 40, 1},
    {Op::kMessageDelete, "message_delete", 40, 1},
    {Op::kRemove, "remove", 45, 1},
};
constexpr OpInfo kCycles[] = {
    {Op::kCycleLinear, "cycle_linear", 45, 1},
    {Op::kCycleThin, "cycle_thin", 30, 1},
};

constexpr const char* kImplNames[] = {"bare", "dmioctl", "libdm"};

// The objects one operation works on.
struct Subjects {
  Subjects()
      : scratch(Name("op")),
        live(Name("live")),
        pool(Name("pool")),
        linear_dev(Name("linear")),
        thin_dev(Name("thin")),
        linear(kDevSectors, "linear", g_fixture->linear_params()),
        thin(kDevSectors, "thin",
             absl::StrCat(g_fixture->pool_dev().ToString(), " 1")) {}
  Dev scratch, live, pool, linear_dev, thin_dev;
  OneTarget linear, thin;
};

// One sample of `op`: setup, the timed operation(s), teardown. Returns 0 or
// -errno; `*seconds` is the timed part; `*what` names a failed step.
int Sample(Impl& impl, Op op, const Subjects& s, double* seconds,
           const char** what, size_t* listed) {
  auto untimed = [&](int r, const char* step) {
    if (r != 0) *what = step;
    return r;
  };
  auto timed = [&](const std::function<int()>& step) {
    double t0 = Now();
    int r = step();
    *seconds += Now() - t0;
    if (r != 0) *what = "the timed operation";
    return r;
  };
  int r = 0;
  switch (op) {
    case Op::kCreate:
      if ((r = timed([&] { return impl.Create(s.scratch); }))) return r;
      return untimed(impl.Remove(s.scratch), "remove");
    case Op::kLoad:
      if ((r = untimed(impl.Create(s.scratch), "create"))) return r;
      if ((r = timed([&] { return impl.Load(s.scratch, s.linear); }))) {
        impl.Remove(s.scratch);
        return r;
      }
      return untimed(impl.Remove(s.scratch), "remove");
    case Op::kResume:
      if ((r = untimed(impl.Create(s.scratch), "create"))) return r;
      if (!(r = untimed(impl.Load(s.scratch, s.linear), "load"))) {
        r = timed([&] { return impl.Resume(s.scratch); });
      }
      if (r) {
        impl.Remove(s.scratch);
        return r;
      }
      return untimed(impl.Remove(s.scratch), "remove");
    case Op::kRemove:
      if ((r = untimed(impl.Create(s.scratch), "create"))) return r;
      if ((r = untimed(impl.Load(s.scratch, s.linear), "load")) ||
          (r = untimed(impl.Resume(s.scratch), "resume"))) {
        impl.Remove(s.scratch);
        return r;
      }
      return timed([&] { return impl.Remove(s.scratch); });
    case Op::kSuspendResume:
      return timed([&] {
        int r2 = impl.Suspend(s.live);
        return r2 != 0 ? r2 : impl.Resume(s.live);
      });
    case Op::kStatus:
      return timed([&] { return impl.Status(s.live); });
    case Op::kTable:
      return timed([&] { return impl.Table(s.live); });
    case Op::kInfo:
      return timed([&] { return impl.Info(s.live); });
    case Op::kList:
      return timed([&] { return impl.List(listed); });
    case Op::kMessageCreateThin:
      if ((r = timed(
               [&] { return impl.Message(s.pool, "create_thin 100"); }))) {
        return r;
      }
      return untimed(impl.Message(s.pool, "delete 100"), "delete 100");
    case Op::kMessageDelete:
      if ((r = untimed(impl.Message(s.pool, "create_thin 100"),
                       "create_thin 100"))) {
        return r;
      }
      return timed([&] { return impl.Message(s.pool, "delete 100"); });
    case Op::kCycleLinear:
    case Op::kCycleThin: {
      bool thin = op == Op::kCycleThin;
      const Dev& dev = thin ? s.thin_dev : s.linear_dev;
      if ((r = timed([&] {
             return impl.CreateActive(dev, thin ? s.thin : s.linear);
           }))) {
        return r;
      }
      return timed([&] { return impl.RemoveActive(dev); });
    }
  }
  return -EINVAL;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// A few threads that run the rounds of a comparison in turn, one round at
// a time (never two at once), so that consecutive rounds use different
// stacks and thread-local buffers: bare's request on the stack, dmioctl's
// per-thread scratch buffer, libdevmapper's allocations (glibc gives each
// thread its own arena). Under QEMU's TCG a buffer's address alone can
// make every kernel copy to it several times slower for as long as the
// address stays the same (bench/README.md, "Outliers"); from one thread,
// that is a whole benchmark for one implementation, which no pairing of
// rounds can cancel. Spread over the threads it is a few rounds, which the
// median over rounds leaves out.
class RoundThreads {
 public:
  explicit RoundThreads(size_t count) {
    for (size_t i = 0; i < count; ++i) {
      workers_.push_back(std::make_unique<Worker>());
      Worker* w = workers_.back().get();
      w->thread = std::thread([w] { w->Loop(); });
    }
  }
  ~RoundThreads() {
    for (auto& w : workers_) {
      {
        std::lock_guard<std::mutex> lock(w->mu);
        w->quit = true;
      }
      w->cv.notify_all();
      w->thread.join();
    }
  }

  // Runs `fn` on thread `round` modulo their number and waits for it.
  void Run(int64_t round, const std::function<void()>& fn) {
    Worker& w = *workers_[static_cast<size_t>(round) % workers_.size()];
    std::unique_lock<std::mutex> lock(w.mu);
    w.job = &fn;
    w.cv.notify_all();
    w.cv.wait(lock, [&] { return w.job == nullptr; });
  }

 private:
  struct Worker {
    void Loop() {
      std::unique_lock<std::mutex> lock(mu);
      for (;;) {
        cv.wait(lock, [&] { return quit || job != nullptr; });
        if (job == nullptr) return;  // quit
        (*job)();
        job = nullptr;
        cv.notify_all();
      }
    }
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    const std::function<void()>* job = nullptr;  // guarded by mu
    bool quit = false;                           // guarded by mu
  };
  std::vector<std::unique_ptr<Worker>> workers_;
};

constexpr size_t kRoundThreads = 4;

// Measures `op` with all implementations, interleaved. The benchmark's own
// time is dmioctl's mean; counters hold each implementation's median and
// mean in microseconds (<impl>_us, <impl>_mean_us).
void RunCompare(benchmark::State& state, const OpInfo& op, int devices,
                int64_t samples) {
  Fixture& f = *g_fixture;
  if (!f.EnsurePopulation(devices)) {
    state.SkipWithError("could not make the device population");
    return;
  }
  const Subjects subjects;
  const size_t impls = f.impl_count();
  std::vector<std::vector<double>> times(impls);
  // Per round, each implementation's time for its turn: the rounds pair
  // the implementations in time, so their ratios cancel whatever the
  // machine was doing in that round (load on a shared host moves TCG
  // timings by tens of percent within seconds).
  std::vector<std::vector<double>> round_times(impls);
  uint64_t dmioctl_ioctls = 0;
  size_t listed = 0;
  std::string error;
  // The order within a round runs through every permutation in turn, so
  // that each implementation follows each other one equally often (a plain
  // rotation of three has dmioctl right after bare in two rounds of three,
  // and so inheriting whatever bare's teardown left the kernel doing).
  std::vector<size_t> order(impls);
  for (size_t i = 0; i < impls; ++i) order[i] = i;
  RoundThreads threads(kRoundThreads);
  for (auto _ : state) {
    for (int64_t round = 0; error.empty() && round * op.turn < samples;
         ++round, std::next_permutation(order.begin(), order.end())) {
      threads.Run(round, [&] {
        for (size_t k = 0; k < impls && error.empty(); ++k) {
          size_t i = order[k];
          Impl& impl = f.impl(i);
          bool is_dmioctl = std::string(impl.name()) == "dmioctl";
          uint64_t before = f.dm().counters().ioctls.load();
          double turn_seconds = 0;
          for (int t = 0; t < op.turn; ++t) {
            if (g_interrupted) {
              error = "interrupted";
              break;
            }
            double seconds = 0;
            const char* what = "";
            int r = Sample(impl, op.op, subjects, &seconds, &what, &listed);
            if (r != 0) {
              error = absl::StrCat(impl.name(), ": ", what,
                                   " failed: ", strerror(-r));
              break;
            }
            times[i].push_back(seconds);
            turn_seconds += seconds;
          }
          if (error.empty()) round_times[i].push_back(turn_seconds);
          if (is_dmioctl)
            dmioctl_ioctls += f.dm().counters().ioctls.load() - before;
        }
      });
    }
    double dmioctl_total = 0;
    for (size_t i = 0; i < impls; ++i) {
      if (std::string(f.impl(i).name()) != "dmioctl") continue;
      for (double t : times[i]) dmioctl_total += t;
      state.SetIterationTime(dmioctl_total /
                             std::max<size_t>(1, times[i].size()));
    }
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
    return;
  }
  for (size_t i = 0; i < impls; ++i) {
    std::string name = f.impl(i).name();
    double sum = 0;
    for (double t : times[i]) sum += t;
    state.counters[name + "_us"] = Median(times[i]) * 1e6;
    state.counters[name + "_mean_us"] =
        sum / std::max<size_t>(1, times[i].size()) * 1e6;
    if (name == "dmioctl" && op.op == Op::kList) {
      state.counters["dmioctl_ioctls_per_op"] =
          static_cast<double>(dmioctl_ioctls) /
          std::max<size_t>(1, times[i].size());
    }
  }
  // Median over rounds of the paired ratios, for each implementation
  // against the one before it in kImplNames (dmioctl/bare, libdm/dmioctl).
  for (size_t i = 1; i < impls; ++i) {
    std::vector<double> ratios;
    size_t rounds = std::min(round_times[i].size(), round_times[i - 1].size());
    for (size_t r = 0; r < rounds; ++r) {
      if (round_times[i - 1][r] > 0) {
        ratios.push_back(round_times[i][r] / round_times[i - 1][r]);
      }
    }
    if (!ratios.empty()) {
      state.counters[absl::StrCat(f.impl(i).name(), "_over_",
                                  f.impl(i - 1).name(), "_paired")] =
          Median(ratios);
    }
  }
  state.counters["samples"] = static_cast<double>(times[0].size());
  if (op.op == Op::kList)
    state.counters["listed"] = static_cast<double>(listed);
}

// A listing from a DeviceMapper that has never listed before (a new
// process, as `dmsetup ls` is).
void RunListFirst(benchmark::State& state, int devices) {
  Fixture& f = *g_fixture;
  if (!f.EnsurePopulation(devices)) {
    state.SkipWithError("could not make the device population");
    return;
  }
  double ioctls = 0;
  for (auto _ : state) {
    auto dm = dmioctl::DeviceMapper::Open();
    if (!dm.ok()) {
      state.SkipWithError("open failed");
      break;
    }
    double t0 = Now();
    auto list = (*dm)->ListDevices();
    state.SetIterationTime(Now() - t0);
    if (!list.ok()) {
      state.SkipWithError("list failed");
      break;
    }
    ioctls += static_cast<double>((*dm)->counters().ioctls.load());
  }
  state.counters["dmioctl_ioctls_per_op"] =
      ioctls / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

void RunBatch(benchmark::State& state, int jobs, int count) {
  Fixture& f = *g_fixture;
  if (!f.EnsurePopulation(g_config.devices.front())) {
    state.SkipWithError("could not make the device population");
    return;
  }
  std::vector<dmioctl::DeviceSpec> specs;
  std::vector<dmioctl::DeviceRef> refs;
  for (int i = 0; i < count; ++i) {
    dmioctl::DeviceSpec spec{.name = Name(absl::StrCat("batch-", i))};
    spec.table.targets.push_back(dmioctl::targets::Linear(
        0, kDevSectors, f.backing_dev().ToString(), 0));
    refs.push_back(dmioctl::DeviceRef::ByName(spec.name));
    specs.push_back(std::move(spec));
  }
  dmioctl::DeviceNodes nodes;
  double create = 0, remove = 0;
  for (auto _ : state) {
    double t0 = Now();
    auto made = dmioctl::CreateDevices(
        f.dm(), specs,
        {.jobs = jobs, .nodes = &nodes, .cancel = &g_interrupted});
    double t1 = Now();
    absl::Status removed = dmioctl::RemoveDevices(
        f.dm(), refs, {}, {.jobs = jobs, .nodes = &nodes});
    double t2 = Now();
    if (!made.ok() || !removed.ok()) {
      state.SkipWithError(
          (made.ok() ? removed : made.status()).ToString().c_str());
      break;
    }
    create += t1 - t0;
    remove += t2 - t1;
    state.SetIterationTime(t2 - t0);
  }
  double n = static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["create_ms"] = create / n * 1e3;
  state.counters["remove_ms"] = remove / n * 1e3;
  state.counters["per_device_us"] = (create + remove) / n / count * 1e6;
}

// Runs a program to completion; returns its exit status (or -1).
int Spawn(const std::vector<std::string>& args, bool quiet) {
  std::vector<char*> argv;
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (quiet) {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid;
  int r = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (r != 0) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// One process per operation. `create` and `remove` are the argument lists.
void RunProcess(benchmark::State& state, const std::vector<std::string>& create,
                const std::vector<std::string>& remove) {
  Fixture& f = *g_fixture;
  if (!f.EnsurePopulation(g_config.devices.front())) {
    state.SkipWithError("could not make the device population");
    return;
  }
  if (access(create[0].c_str(), X_OK) != 0) {
    state.SkipWithError(absl::StrCat(create[0], " not found").c_str());
    return;
  }
  double tc = 0, tr = 0;
  for (auto _ : state) {
    if (g_interrupted) {
      state.SkipWithError("interrupted");
      break;
    }
    double t0 = Now();
    int r = Spawn(create, true);
    double t1 = Now();
    int r2 = remove.empty() ? 0 : Spawn(remove, true);
    double t2 = Now();
    if (r != 0 || r2 != 0) {
      state.SkipWithError(absl::StrCat(create[0], " ", create[1],
                                       " failed: status ", r, " / ", r2)
                              .c_str());
      break;
    }
    tc += t1 - t0;
    tr += t2 - t1;
    state.SetIterationTime(t2 - t0);
  }
  double n = static_cast<double>(std::max<int64_t>(1, state.iterations()));
  state.counters["create_us"] = tc / n * 1e6;
  state.counters["remove_us"] = tr / n * 1e6;
}

void Register() {
  auto reg = [](const std::string& name, auto fn, int64_t iterations) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(iterations);
  };
  Fixture& f = *g_fixture;
  const int base = g_config.devices.front();

  // Process level first, at the smallest population.
  std::string table =
      absl::StrCat("0 ", kDevSectors, " linear ", f.linear_params());
  std::string pname = Name("proc");
  std::string backing = f.backing_dev().ToString();
  reg(
      "process/dmsetup",
      [=](benchmark::State& s) {
        RunProcess(s, {g_config.dmsetup, "create", pname, "--table", table},
                   {g_config.dmsetup, "remove", pname});
      },
      Iters(20));
  if (!g_config.dmkit.empty()) {
    reg(
        "process/dmkit",
        [=](benchmark::State& s) {
          RunProcess(
              s, {g_config.dmkit, "dmsetup", "create", pname, "--table", table},
              {g_config.dmkit, "dmsetup", "remove", pname});
        },
        Iters(20));
    reg(
        "process/dmkit_bench_cycle",
        [=](benchmark::State& s) {
          RunProcess(s,
                     {g_config.dmkit, "bench", "cycle", "--count", "1",
                      "--backing", backing},
                     {});
        },
        Iters(20));
  }

  if (!g_config.dmkit.empty()) {
    // The CLI batch: `dmkit dmsetup create --concise` of 200 linear devices
    // and `dmkit dmsetup remove` of all of them, without and with --jobs 8.
    std::string concise;
    std::vector<std::string> names;
    for (int i = 0; i < 200; ++i) {
      std::string name = Name(absl::StrCat("cli-", i));
      absl::StrAppend(&concise, name, ",,,rw,0 ", kDevSectors, " linear ",
                      f.linear_params(), ";");
      names.push_back(name);
    }
    for (int jobs : {0, 8}) {
      std::vector<std::string> create = {g_config.dmkit, "dmsetup", "create",
                                         "--concise", concise};
      std::vector<std::string> remove = {g_config.dmkit, "dmsetup", "remove"};
      if (jobs > 0) {
        for (auto* v : {&create, &remove}) {
          v->push_back("--jobs");
          v->push_back(absl::StrCat(jobs));
        }
      }
      remove.insert(remove.end(), names.begin(), names.end());
      reg(
          jobs ? "process/dmkit_batch_200/jobs:8"
               : "process/dmkit_batch_200/sequential",
          [=](benchmark::State& s) { RunProcess(s, create, remove); }, 3);
    }
  }

  for (const OpInfo& op : kCycles) {
    reg(
        op.name,
        [=](benchmark::State& s) {
          RunCompare(s, op, base, Iters(op.samples));
        },
        1);
  }

  for (int count : {200, 1000}) {
    for (int jobs : {1, 8}) {
      reg(
          absl::StrCat("batch/jobs:", jobs, "/", count),
          [=](benchmark::State& s) { RunBatch(s, jobs, count); },
          count <= 200 ? 3 : 1);  // one batch of 1,000 takes a minute
    }
  }

  for (int devices : g_config.devices) {
    for (const OpInfo& op : kOps) {
      double samples = op.samples;
      if (op.op == Op::kList) {
        samples = std::clamp(op.samples * 1000.0 / std::max(devices, 100), 20.0,
                             1500.0);
      }
      reg(
          absl::StrCat(op.name, "/", devices),
          [=](benchmark::State& s) {
            RunCompare(s, op, devices, Iters(samples));
          },
          1);
    }
    reg(
        absl::StrCat("list_first/", devices),
        [=](benchmark::State& s) { RunListFirst(s, devices); }, Iters(3));
  }
}

// Results: kept as they are reported, for the summary and the CSV.

struct Result {
  double us = 0;  // per iteration
  std::map<std::string, double> counters;
  std::string error;
};

class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      // Keyed by the registered name, without "/iterations:N/manual_time".
      Result& r = results_[run.run_name.function_name];
      r.us = run.GetAdjustedRealTime();  // microseconds (Unit above)
      for (const auto& [k, v] : run.counters) r.counters[k] = v.value;
      if (run.error_occurred) r.error = run.error_message;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  const std::map<std::string, Result>& results() const { return results_; }

 private:
  std::map<std::string, Result> results_;
};

std::string Fmt(double v, int digits = 2) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Us(double us) {
  if (us >= 1000) return Fmt(us / 1000, 2) + " ms";
  return Fmt(us, 1) + " µs";
}

class Summary {
 public:
  explicit Summary(const std::map<std::string, Result>& results)
      : results_(results) {}

  const Result* Get(const std::string& name) const {
    auto it = results_.find(name);
    if (it == results_.end() || !it->second.error.empty()) return nullptr;
    return &it->second;
  }
  std::optional<double> Counter(const std::string& name,
                                const std::string& counter) const {
    const Result* r = Get(name);
    if (!r) return std::nullopt;
    auto it = r->counters.find(counter);
    if (it == r->counters.end()) return std::nullopt;
    return it->second;
  }

  std::string Markdown() const {
    std::string md = "# dmkit benchmark results\n\n";
    utsname u;
    uname(&u);
    absl::StrAppend(
        &md, "Kernel ", u.release, " (", u.machine, "), ",
        sysconf(_SC_NPROCESSORS_ONLN),
        " CPUs. All numbers come from one run of dm_bench. Per-operation "
        "times are medians of samples taken with the three implementations "
        "interleaved, in rounds; the ratios are medians of the ratios within "
        "each round, which pairs samples taken moments apart. Compare "
        "ratios, not absolute times, across machines "
        "(under QEMU TCG everything is many times slower than on "
        "hardware).\n\n");
    if (g_config.calibrate) {
      absl::StrAppend(&md,
                      "**Calibration run** (--calibrate): the \"dmioctl\" "
                      "column is a second copy of bare, so every dmioctl / "
                      "bare ratio below is the harness's own scatter.\n\n");
    }
    std::string goals =
        "## Goals\n\n| ratio | measured | goal | |\n|---|---:|---|---|\n";
    auto row = [&](const std::string& what, std::optional<double> v,
                   const char* goal, std::function<bool(double)> met,
                   int digits = 2) {
      absl::StrAppend(
          &goals, "| ", what, " | ", v ? Fmt(*v, digits) : std::string("n/a"),
          " | ", goal, " | ",
          !v ? "not measured" : (met ? (met(*v) ? "met" : "**missed**") : ""),
          " |\n");
    };

    std::vector<double> dmioctl_bare, libdm_dmioctl;
    auto line = [&](std::string* out, const std::string& label,
                    const std::string& name) {
      auto b = Counter(name, "bare_us");
      auto d = Counter(name, "dmioctl_us");
      auto l = Counter(name, "libdm_us");
      absl::StrAppend(out, "| ", label, " | ", b ? Us(*b) : "-", " | ",
                      d ? Us(*d) : "-", " | ", l ? Us(*l) : "-", " | ");
      // The ratio columns are the medians of per-round paired ratios (see
      // RunCompare), which the goals use; the time columns are each
      // implementation's own median.
      auto db = Counter(name, "dmioctl_over_bare_paired");
      auto ld = Counter(name, "libdm_over_dmioctl_paired");
      if (db) {
        dmioctl_bare.push_back(*db);
        absl::StrAppend(out, Fmt(*db, 3));
      }
      absl::StrAppend(out, " | ");
      if (ld) {
        libdm_dmioctl.push_back(*ld);
        absl::StrAppend(out, Fmt(*ld, 2));
      }
      absl::StrAppend(out, " |\n");
    };
    std::string ops =
        "## Per operation\n\nMedian time per operation while the kernel "
        "holds the given number of devices (create: a device without a "
        "table; load: the first table of a new device; resume: its first "
        "activation; remove: a device with a live linear table; "
        "suspend_resume: a pair on a live linear device; message: to a "
        "thin-pool on loop devices on tmpfs).\n\n"
        "| operation / devices | bare | dmioctl | libdm | dmioctl / bare | "
        "libdm / dmioctl |\n|---|---:|---:|---:|---:|---:|\n";
    for (int devices : g_config.devices) {
      for (const OpInfo& op : kOps) {
        line(&ops, absl::StrCat(op.name, " / ", devices),
             absl::StrCat(op.name, "/", devices));
      }
    }
    std::string cycles =
        "\n## Create + load + resume + remove cycle\n\nAs `dmsetup create "
        "--table` and `dmsetup remove` do it, /dev/mapper node included, "
        "in one process.\n\n| target | bare | dmioctl | libdm | "
        "dmioctl / bare | libdm / dmioctl |\n|---|---:|---:|---:|---:|---:|\n";
    for (const OpInfo& op : kCycles) line(&cycles, op.name, op.name);

    row(
        "dmioctl / bare, geometric mean over every operation and cycle",
        GeoMean(dmioctl_bare), "≤ 1.03", [](double v) { return v <= 1.03; }, 3);
    if (!dmioctl_bare.empty()) {
      row("dmioctl / bare, worst single operation",
          *std::max_element(dmioctl_bare.begin(), dmioctl_bare.end()),
          "(report)", nullptr, 3);
    }
    const Result* ps = Get("process/dmsetup");
    const Result* pk = Get("process/dmkit");
    const Result* pc = Get("process/dmkit_bench_cycle");
    row("dmsetup CLI / dmkit CLI, create + remove cycle (one process per "
        "command)",
        ps && pk ? std::optional<double>(ps->us / pk->us) : std::nullopt,
        "≥ 2.5", [](double v) { return v >= 2.5; });
    if (ps && pc) {
      row("dmsetup CLI (2 processes) / `dmkit bench cycle --count 1` (1 "
          "process per cycle)",
          ps->us / pc->us, "(report)", nullptr);
    }
    row("libdevmapper / dmioctl, geometric mean over every operation and "
        "cycle",
        GeoMean(libdm_dmioctl), "(report)", nullptr);
    for (auto [count, goal, min] :
         {std::tuple{200, "≥ 5", 5.0}, std::tuple{1000, "≥ 8", 8.0}}) {
      const Result* s1 = Get(absl::StrCat("batch/jobs:1/", count));
      const Result* s8 = Get(absl::StrCat("batch/jobs:8/", count));
      double want = min;
      row(absl::StrCat("batch create + remove of ", count,
                       " linear devices, sequential / 8 jobs"),
          s1 && s8 ? std::optional<double>(s1->us / s8->us) : std::nullopt,
          goal, [want](double v) { return v >= want; });
      // The two halves apart: creates are CPU work in the kernel (bounded
      // by the CPU count), removes mostly wait for RCU grace periods
      // (bounded by the thread count).
      for (const char* phase : {"create", "remove"}) {
        std::string counter = absl::StrCat(phase, "_ms");
        auto p1 = Counter(absl::StrCat("batch/jobs:1/", count), counter);
        auto p8 = Counter(absl::StrCat("batch/jobs:8/", count), counter);
        row(absl::StrCat("  of which ", phase, "s alone"),
            p1 && p8 && *p8 > 0 ? std::optional<double>(*p1 / *p8)
                                : std::nullopt,
            "(report)", nullptr);
      }
    }
    const Result* cs = Get("process/dmkit_batch_200/sequential");
    const Result* cj = Get("process/dmkit_batch_200/jobs:8");
    row("`dmkit dmsetup create --concise` + `remove` of 200 linear devices, "
        "without / with --jobs 8",
        cs && cj ? std::optional<double>(cs->us / cj->us) : std::nullopt, "≥ 5",
        [](double v) { return v >= 5; });
    int most = g_config.devices.back();
    row(
        absl::StrCat("ioctls to list ", most, " devices (dmioctl, repeated)"),
        Counter(absl::StrCat("list/", most), "dmioctl_ioctls_per_op"), "≤ 2",
        [](double v) { return v <= 2; }, 1);
    row(
        absl::StrCat("ioctls to list ", most,
                     " devices (dmioctl, first listing of a process)"),
        Counter(absl::StrCat("list_first/", most), "dmioctl_ioctls_per_op"),
        "≤ 2", [](double v) { return v <= 2; }, 1);

    std::string other =
        "\n## Batch, process level, first listing\n\n| benchmark | time | "
        "detail |\n|---|---:|---|\n";
    for (const auto& [name, r] : results_) {
      if (name.rfind("batch/", 0) != 0 && name.rfind("process/", 0) != 0 &&
          name.rfind("list_first/", 0) != 0) {
        continue;
      }
      std::string detail;
      for (const auto& [k, v] : r.counters) {
        absl::StrAppend(&detail, detail.empty() ? "" : ", ", k, " ", Fmt(v, 1));
      }
      if (!r.error.empty()) detail = "skipped: " + r.error;
      absl::StrAppend(&other, "| ", name, " | ",
                      r.error.empty() ? Us(r.us) : "-", " | ", detail, " |\n");
    }
    return md + goals + "\n" + ops + cycles + other;
  }

  // op,impl,devices,us (medians) for the latency plot.
  std::string Csv() const {
    std::string csv = "op,impl,devices,us\n";
    for (const OpInfo& op : kOps) {
      for (const char* impl : kImplNames) {
        for (int devices : g_config.devices) {
          auto us = Counter(absl::StrCat(op.name, "/", devices),
                            absl::StrCat(impl, "_us"));
          if (us) {
            absl::StrAppend(&csv, op.name, ",", impl, ",", devices, ",",
                            Fmt(*us, 3), "\n");
          }
        }
      }
    }
    return csv;
  }

 private:
  static std::optional<double> GeoMean(const std::vector<double>& v) {
    if (v.empty()) return std::nullopt;
    double log_sum = 0;
    for (double x : v) log_sum += std::log(x);
    return std::exp(log_sum / static_cast<double>(v.size()));
  }

  const std::map<std::string, Result>& results_;
};

bool WriteFile(const std::string& path, const std::string& text) {
  if (path.empty()) return true;
  FILE* f = fopen(path.c_str(), "w");
  if (!f) {
    perror(path.c_str());
    return false;
  }
  fwrite(text.data(), 1, text.size(), f);
  return fclose(f) == 0;
}

// Takes this program's own flags out of argv.
bool ParseFlags(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    absl::string_view arg = argv[i];
    auto value = [&](absl::string_view flag, std::string* into) {
      if (!absl::ConsumePrefix(&arg, flag)) return false;
      *into = std::string(arg);
      return true;
    };
    std::string v;
    if (value("--devices=", &v)) {
      g_config.devices.clear();
      for (absl::string_view n : absl::StrSplit(v, ',')) {
        int d;
        if (!absl::SimpleAtoi(n, &d) || d < 0) return false;
        g_config.devices.push_back(d);
      }
      std::sort(g_config.devices.begin(), g_config.devices.end());
      if (g_config.devices.empty()) return false;
    } else if (value("--scale=", &v)) {
      if (!absl::SimpleAtod(v, &g_config.scale) || g_config.scale <= 0) {
        return false;
      }
    } else if (arg == "--calibrate") {
      g_config.calibrate = true;
    } else if (value("--dmsetup=", &g_config.dmsetup) ||
               value("--dmkit=", &g_config.dmkit) ||
               value("--summary=", &g_config.summary) ||
               value("--csv=", &g_config.csv) ||
               value("--tmpdir=", &g_config.tmpdir)) {
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = nullptr;
  return true;
}

int Main(int argc, char** argv) {
  if (!ParseFlags(&argc, argv)) {
    fprintf(stderr, "dm_bench: bad flag (see the top of bench/dm_bench.cc)\n");
    return 2;
  }
  // The result files' directory (also --benchmark_out's, by convention).
  for (const std::string* path : {&g_config.summary, &g_config.csv}) {
    size_t slash = path->rfind('/');
    if (slash != std::string::npos && slash > 0) {
      mkdir(path->substr(0, slash).c_str(), 0755);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  Fixture fixture;
  g_fixture = &fixture;
  if (!fixture.SetUp()) {
    fixture.TearDown();
    return 1;
  }
  Register();
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  double t0 = Now();
  fixture.TearDown();
  fprintf(stderr, "dm_bench: cleaned up in %.1f s\n", Now() - t0);

  Summary summary(reporter.results());
  std::string md = summary.Markdown();
  bool ok =
      WriteFile(g_config.summary, md) && WriteFile(g_config.csv, summary.Csv());
  fputs(md.c_str(), stdout);
  return ok && !g_interrupted ? 0 : 1;
}

}  // namespace
}  // namespace dmkit::bench

int main(int argc, char** argv) { return dmkit::bench::Main(argc, argv); }
