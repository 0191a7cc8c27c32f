// dmkit bench: device-mapper latency on the host it runs on.
//
//   dmkit bench cycle [--target linear|thin] [--count N] [--jobs J] [--json]
//                     [--size SECTORS] [--backing MAJ:MIN] [--tmpdir DIR]
//
// Runs N create + load + resume + remove cycles, J at a time, and prints
// p50/p90/p99/max of each phase and the throughput. It makes its own backing:
// a `zero` device for linear tables (or --backing), and for thin a thin-pool
// on two loop devices over sparse files in --tmpdir (default $TMPDIR or
// /tmp), one thin id per job. Everything it made is removed before it exits,
// after an error or SIGINT/SIGTERM too: a signal stops new cycles, the
// running ones finish (so no device is left half-made), then the cleanup
// runs and the exit status is 130.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "dmioctl/targets.h"
#include "tools/applet.h"
#include "tools/bench/args.h"
#include "tools/common/loop_device.h"

namespace dmkit {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void OnSignal(int sig) {
  g_signal = sig;
  g_stop = true;
}

void Usage(FILE* out) {
  fprintf(out,
          "Usage: dmkit bench cycle [--target linear|thin] [--count N] "
          "[--jobs J] [--json]\n"
          "                         [--size SECTORS] [--backing MAJ:MIN] "
          "[--tmpdir DIR]\n"
          "\n"
          "Times N create + load + resume + remove cycles of a device-mapper\n"
          "device (J at a time) and prints p50/p90/p99/max per phase and the\n"
          "throughput. Needs root and a kernel with device-mapper (linear:\n"
          "dm-zero unless --backing is given; thin: dm-thin-pool and loop).\n"
          "Everything it creates is removed again, also on error or SIGINT.\n"
          "\n"
          "  --target T     linear (default) or thin\n"
          "  --count N      cycles (default 100)\n"
          "  --jobs J       cycles at once, on J threads (default 1)\n"
          "  --json         one JSON object instead of the table\n"
          "  --size S       device size in 512-byte sectors (default 2048)\n"
          "  --backing D    linear: map onto device D (MAJ:MIN) instead of a\n"
          "                 zero device of its own\n"
          "  --tmpdir DIR   thin: where the sparse pool files go (default\n"
          "                 $TMPDIR or /tmp)\n");
}

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

using Options = bench::CycleOptions;

enum Phase { kCreate, kLoad, kResume, kRemove, kCycle, kPhases };
constexpr const char* kPhaseNames[kPhases] = {"create", "load", "resume",
                                              "remove", "cycle"};

struct Samples {
  std::vector<double> phase[kPhases];  // seconds
};

// What the run made, undone in reverse order whatever happens.
class Backing {
 public:
  explicit Backing(dmioctl::DeviceMapper& dm) : dm_(dm) {}
  ~Backing() { Cleanup().IgnoreError(); }

  // Makes a device with a one-target table; remembers it for Cleanup().
  absl::StatusOr<dmioctl::DevNum> Make(const std::string& name,
                                       dmioctl::Target target) {
    dmioctl::Table table;
    table.targets.push_back(std::move(target));
    auto info = dmioctl::CreateDevice(dm_, name, table);
    if (!info.ok()) return info.status();
    made_.push_back(name);
    return info->dev;
  }
  std::vector<LoopDevice>& loops() { return loops_; }

  absl::Status Cleanup() {
    absl::Status first;
    for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
      absl::Status s =
          dmioctl::RemoveDevice(
              dm_, dmioctl::DeviceRef::ByName(*it),
              {.retries = 10, .retry_delay = std::chrono::milliseconds(100)})
              .status();
      if (!s.ok() && first.ok()) first = s;
    }
    made_.clear();
    loops_.clear();  // detaches (autoclear) now that the pool is gone
    return first;
  }

 private:
  dmioctl::DeviceMapper& dm_;
  std::vector<std::string> made_;
  std::vector<LoopDevice> loops_;
};

// Nearest-rank percentile of sorted samples.
double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p * sorted.size()));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

void Report(const Options& o, Samples& all, int done, double elapsed) {
  double throughput = elapsed > 0 ? done / elapsed : 0;
  const char* target = o.thin ? "thin" : "linear";
  if (o.json) {
    printf(
        "{\"target\":\"%s\",\"count\":%d,\"jobs\":%d,\"completed\":%d,"
        "\"elapsed_s\":%.6f,\"throughput_per_s\":%.3f,\"phases\":{",
        target, o.count, o.jobs, done, elapsed, throughput);
  } else {
    printf("dmkit bench cycle: %s, %d cycles, %d job%s\n", target, done, o.jobs,
           o.jobs == 1 ? "" : "s");
    printf("%-8s %10s %10s %10s %10s\n", "phase", "p50 ms", "p90 ms", "p99 ms",
           "max ms");
  }
  for (int p = 0; p < kPhases; ++p) {
    std::vector<double>& v = all.phase[p];
    std::sort(v.begin(), v.end());
    double q[4] = {Percentile(v, 0.5), Percentile(v, 0.9), Percentile(v, 0.99),
                   v.empty() ? 0 : v.back()};
    if (o.json) {
      printf(
          "%s\"%s\":{\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,"
          "\"max_ms\":%.4f}",
          p ? "," : "", kPhaseNames[p], q[0] * 1e3, q[1] * 1e3, q[2] * 1e3,
          q[3] * 1e3);
    } else {
      printf("%-8s %10.3f %10.3f %10.3f %10.3f\n", kPhaseNames[p], q[0] * 1e3,
             q[1] * 1e3, q[2] * 1e3, q[3] * 1e3);
    }
  }
  if (o.json) {
    printf("}}\n");
  } else {
    printf("throughput: %.2f cycles/s (%d cycles in %.3f s)\n", throughput,
           done, elapsed);
  }
}

// A failure and what the run was doing when it happened, printed as
// "bench: <what>: <message>".
struct Failure {
  const char* what;
  absl::Status status;
};

// The table each job's cycles load: linear over --backing or a zero device
// of the run's own, or one thin device per job in a pool on two loop
// devices. What it makes is recorded in `backing`.
std::optional<Failure> MakeTables(dmioctl::DeviceMapper& dm, const Options& o,
                                  const std::string& prefix, Backing& backing,
                                  std::vector<dmioctl::Table>& tables) {
  tables.assign(o.jobs, {});
  if (!o.thin) {
    dmioctl::DevNum under;
    if (o.backing) {
      under = *o.backing;
    } else {
      auto zero =
          backing.Make(prefix + "zero", dmioctl::targets::Zero(0, o.size));
      if (!zero.ok()) {
        return Failure{"creating the zero backing device", zero.status()};
      }
      under = *zero;
    }
    for (dmioctl::Table& t : tables) {
      t.targets.push_back(
          dmioctl::targets::Linear(0, o.size, under.ToString(), 0));
    }
    return std::nullopt;
  }
  const uint64_t data_bytes =
      std::max<uint64_t>(256ull << 20, o.size * 512 * 2);
  for (uint64_t bytes : {uint64_t{16} << 20, data_bytes}) {
    absl::StatusOr<LoopDevice> loop =
        LoopDevice::AttachTemporary(bytes, o.tmpdir);
    if (!loop.ok())
      return Failure{"loop device for the thin-pool", loop.status()};
    backing.loops().push_back(*std::move(loop));
  }
  auto pool =
      backing.Make(prefix + "pool",
                   dmioctl::targets::ThinPool(
                       0, data_bytes / 512, backing.loops()[0].dev().ToString(),
                       backing.loops()[1].dev().ToString(),
                       {.features = {"skip_block_zeroing"}}));
  if (!pool.ok()) return Failure{"creating the thin-pool", pool.status()};
  for (int j = 0; j < o.jobs; ++j) {
    auto sent = dm.SendMessage(dmioctl::DeviceRef::ByDevNum(*pool), 0,
                               absl::StrCat("create_thin ", j));
    if (!sent.ok()) return Failure{"create_thin", sent.status()};
    tables[j].targets.push_back(
        dmioctl::targets::Thin(0, o.size, pool->ToString(), j));
  }
  return std::nullopt;
}

// One create + load + resume + remove of `name`, the time before each step
// and after the last in t. The device is removed whether or not the cycle
// got that far.
absl::Status TimeOneCycle(dmioctl::DeviceMapper& dm, const std::string& name,
                          const dmioctl::Table& table, double (&t)[5]) {
  t[0] = Now();
  auto created = dm.CreateDevice({.name = name});
  t[1] = Now();
  if (!created.ok()) return created.status();
  dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByDevNum(created->dev);
  absl::Status s = dm.LoadTable(ref, table).status();
  t[2] = Now();
  if (s.ok()) s = dm.Resume(ref, {.skip_lockfs = true}).status();
  t[3] = Now();
  absl::Status removed =
      dmioctl::RemoveDevice(dm, ref, {.retries = s.ok() ? 0 : 10}).status();
  t[4] = Now();
  return s.ok() ? removed : s;
}

// What the workers measured together.
struct CycleRun {
  Samples all;
  int done = 0;
  double elapsed = 0;
  absl::Status first_error;
};

// o.count cycles on o.jobs threads (this one included), each job with its
// own table; the first error or a signal stops new cycles.
CycleRun RunWorkers(dmioctl::DeviceMapper& dm, const Options& o,
                    const std::string& prefix,
                    const std::vector<dmioctl::Table>& tables) {
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::mutex mu;
  CycleRun run;  // first_error guarded by mu while the workers run
  std::vector<Samples> samples(o.jobs);
  auto worker = [&](int job) {
    Samples& mine = samples[job];
    while (!g_stop) {
      int i = next.fetch_add(1);
      if (i >= o.count) return;
      double t[5];
      absl::Status s =
          TimeOneCycle(dm, absl::StrCat(prefix, i), tables[job], t);
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (run.first_error.ok()) run.first_error = s;
        g_stop = true;
        return;
      }
      for (int p = 0; p < 4; ++p) mine.phase[p].push_back(t[p + 1] - t[p]);
      mine.phase[kCycle].push_back(t[4] - t[0]);
      done.fetch_add(1);
    }
  };
  double start = Now();
  std::vector<std::thread> threads;
  for (int j = 1; j < o.jobs; ++j) threads.emplace_back(worker, j);
  worker(0);
  for (std::thread& th : threads) th.join();
  run.elapsed = Now() - start;
  run.done = done.load();
  for (Samples& s : samples) {
    for (int p = 0; p < kPhases; ++p) {
      run.all.phase[p].insert(run.all.phase[p].end(), s.phase[p].begin(),
                              s.phase[p].end());
    }
  }
  return run;
}

// The cycles themselves, on the device-mapper the caller opened.
int RunCycle(dmioctl::DeviceMapper& dm, const Options& o) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  const std::string prefix = absl::StrCat("dmkit-bench-", getpid(), "-");
  Backing backing(dm);
  auto print = [](const Failure& f) {
    fprintf(stderr, "bench: %s: %s\n", f.what,
            std::string(f.status.message()).c_str());
  };
  std::vector<dmioctl::Table> tables;
  if (std::optional<Failure> f = MakeTables(dm, o, prefix, backing, tables)) {
    print(*f);
    return 1;  // ~Backing removes what was made
  }
  CycleRun run = RunWorkers(dm, o, prefix, tables);

  absl::Status cleanup = backing.Cleanup();
  if (!run.first_error.ok()) print({"cycle", run.first_error});
  if (!cleanup.ok()) print({"cleanup", cleanup});
  if (g_signal != 0) {
    fprintf(stderr,
            "bench: interrupted by signal %d after %d cycles; "
            "everything was removed\n",
            g_signal.load(), run.done);
    return kExitInterrupted;
  }
  if (!run.first_error.ok() || !cleanup.ok()) return 1;
  Report(o, run.all, run.done, run.elapsed);
  return 0;
}

int Cycle(int argc, char** argv) {
  const char* env_tmp = getenv("TMPDIR");
  absl::StatusOr<Options> parsed =
      bench::ParseCycleArgs(argc, argv, env_tmp && *env_tmp ? env_tmp : "/tmp");
  if (!parsed.ok()) {
    fprintf(stderr, "bench: %s\nTry 'dmkit bench --help'.\n",
            std::string(parsed.status().message()).c_str());
    return kExitUsage;
  }
  if (parsed->help) {
    Usage(stdout);
    return 0;
  }
  const char* dev_dir = getenv("DM_DEV_DIR");
  auto opened =
      dmioctl::DeviceMapper::Open(dev_dir && *dev_dir ? dev_dir : "/dev");
  if (!opened.ok()) {
    fprintf(stderr, "bench: cannot use device-mapper: %s\n",
            std::string(opened.status().message()).c_str());
    return 1;
  }
  dmioctl::DeviceMapper& dm = **opened;
  if (auto v = dm.Version(); !v.ok()) {
    fprintf(stderr, "bench: device-mapper does not answer: %s\n",
            std::string(v.status().message()).c_str());
    return 1;
  }
  return RunCycle(dm, *parsed);
}

}  // namespace

int BenchMain(int argc, char** argv) {
  if (argc < 2) {
    Usage(stderr);
    return kExitUsage;
  }
  std::string_view command = argv[1];
  if (command == "-h" || command == "--help" || command == "help") {
    Usage(stdout);
    return 0;
  }
  if (command == "cycle") return Cycle(argc, argv);
  fprintf(stderr, "bench: unknown command '%s'; try 'dmkit bench --help'\n",
          argv[1]);
  return kExitUsage;
}

}  // namespace dmkit
