// overhead_bench: what dmioctl costs in userspace, without a kernel.
//
// A canned transport answers every ioctl at once with a plausible reply
// (the header the kernel would write, a one-target table, a device list),
// so the time measured is only the library's: building the request,
// sizing and allocating the buffer, parsing the reply into its types. The
// "bare" benchmarks build the same request by hand in a stack buffer and
// call the same canned answer: the floor. Runs on any host (no root, no
// device-mapper); see bench/README.md.
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/ioctl.h>

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/targets.h"

namespace {

constexpr size_t kHeader = sizeof(dm_ioctl);

// Answers like 6.1 would, for the commands measured here.
class CannedKernel {
 public:
  explicit CannedKernel(int devices) {
    // A name list of `devices` entries named like dm_bench's background.
    for (int i = 0; i < devices; ++i) {
      char name[32];
      int n = snprintf(name, sizeof name, "dmkit-bench-bg-%05d", i);
      size_t at = list_.size();
      size_t entry = (12 + n + 1 + 7) / 8 * 8 + 8;
      list_.resize(at + entry, 0);
      uint64_t dev = (253u << 8) | static_cast<uint64_t>(i & 0xff) |
                     (static_cast<uint64_t>(i & ~0xff) << 12);
      memcpy(&list_[at], &dev, 8);
      uint32_t next = i + 1 < devices ? static_cast<uint32_t>(entry) : 0;
      memcpy(&list_[at + 8], &next, 4);
      memcpy(&list_[at + 12], name, n + 1);
      uint32_t flags = DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID;
      memcpy(&list_[at + entry - 4], &flags, 4);
    }
  }

  int Handle(unsigned long request, void* buffer) {
    auto* h = static_cast<dm_ioctl*>(buffer);
    size_t size = h->data_size;
    h->version[1] = 47;
    h->data_size = offsetof(dm_ioctl, data);
    switch (_IOC_NR(request)) {
      case DM_DEV_STATUS_CMD:
      case DM_DEV_SUSPEND_CMD:
        h->dev = (253u << 8) | 1;
        h->target_count = 1;
        h->flags |= DM_ACTIVE_PRESENT_FLAG;
        return 0;
      case DM_TABLE_STATUS_CMD: {
        static const char kParams[] = "7:0 0";
        size_t need = kHeader + sizeof(dm_target_spec) + sizeof kParams;
        if (size < need) {
          h->flags |= DM_BUFFER_FULL_FLAG;
          return 0;
        }
        dm_target_spec spec{};
        spec.length = 2048;
        strcpy(spec.target_type, "linear");
        spec.next = sizeof(dm_target_spec) + sizeof kParams;
        char* p = static_cast<char*>(buffer) + kHeader;
        memcpy(p, &spec, sizeof spec);
        memcpy(p + sizeof spec, kParams, sizeof kParams);
        h->target_count = 1;
        h->data_start = kHeader;
        h->data_size = static_cast<uint32_t>(need);
        return 0;
      }
      case DM_LIST_DEVICES_CMD:
        if (size < kHeader + list_.size()) {
          h->flags |= DM_BUFFER_FULL_FLAG;
          return 0;
        }
        memcpy(static_cast<char*>(buffer) + kHeader, list_.data(),
               list_.size());
        h->data_start = kHeader;
        h->data_size = static_cast<uint32_t>(kHeader + list_.size());
        return 0;
      default:
        return 0;
    }
  }

 private:
  std::vector<char> list_;
};

class CannedTransport : public dmioctl::Transport {
 public:
  explicit CannedTransport(CannedKernel* kernel) : kernel_(kernel) {}
  int Ioctl(unsigned long request, void* buffer) override {
    return kernel_->Handle(request, buffer);
  }

 private:
  CannedKernel* kernel_;
};

const std::string kName = "dmkit-bench-live";

void InitBare(dm_ioctl* io, size_t size) {
  memset(io, 0, sizeof *io);
  io->version[0] = 4;
  io->data_size = static_cast<uint32_t>(size);
  io->data_start = kHeader;
  memcpy(io->name, kName.c_str(), kName.size() + 1);
}

void BM_Info_Bare(benchmark::State& state) {
  CannedKernel kernel(0);
  for (auto _ : state) {
    dm_ioctl io;
    InitBare(&io, kHeader);
    benchmark::DoNotOptimize(kernel.Handle(DM_DEV_STATUS, &io));
    benchmark::DoNotOptimize(io.dev);
  }
}
BENCHMARK(BM_Info_Bare);

void BM_Info_Dmioctl(benchmark::State& state) {
  CannedKernel kernel(0);
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  const dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByName(kName);
  for (auto _ : state) {
    auto info = dm.GetInfo(ref);
    benchmark::DoNotOptimize(info);
  }
}
BENCHMARK(BM_Info_Dmioctl);

// The reusing form: one DeviceInfo across calls, as a poller keeps it.
void BM_Info_DmioctlReuse(benchmark::State& state) {
  CannedKernel kernel(0);
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  const dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByName(kName);
  dmioctl::DeviceInfo info;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dm.GetInfo(ref, false, &info));
    benchmark::DoNotOptimize(info);
  }
}
BENCHMARK(BM_Info_DmioctlReuse);

void BM_Table_Bare(benchmark::State& state) {
  CannedKernel kernel(0);
  for (auto _ : state) {
    alignas(8) char buf[4096];
    auto* io = reinterpret_cast<dm_ioctl*>(buf);
    InitBare(io, sizeof buf);
    io->flags = DM_STATUS_TABLE_FLAG;
    benchmark::DoNotOptimize(kernel.Handle(DM_TABLE_STATUS, io));
    benchmark::DoNotOptimize(buf);
  }
}
BENCHMARK(BM_Table_Bare);

void BM_Table_Dmioctl(benchmark::State& state) {
  CannedKernel kernel(0);
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  const dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByName(kName);
  for (auto _ : state) {
    auto table = dm.GetTable(ref);
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_Table_Dmioctl);

void BM_Table_DmioctlReuse(benchmark::State& state) {
  CannedKernel kernel(0);
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  const dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByName(kName);
  dmioctl::TableReply table;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dm.GetTable(ref, false, &table));
    benchmark::DoNotOptimize(table);
  }
}
BENCHMARK(BM_Table_DmioctlReuse);

void BM_Load_Bare(benchmark::State& state) {
  CannedKernel kernel(0);
  const std::string params = "253:0 0";
  for (auto _ : state) {
    alignas(8) char buf[4096];
    auto* io = reinterpret_cast<dm_ioctl*>(buf);
    size_t next = (sizeof(dm_target_spec) + params.size() + 1 + 7) & ~size_t{7};
    InitBare(io, kHeader + next);
    io->target_count = 1;
    auto* spec = reinterpret_cast<dm_target_spec*>(buf + kHeader);
    memset(spec, 0, sizeof *spec);
    spec->length = 2048;
    spec->next = static_cast<uint32_t>(next);
    memcpy(spec->target_type, "linear", 7);
    memcpy(buf + kHeader + sizeof *spec, params.c_str(), params.size() + 1);
    benchmark::DoNotOptimize(kernel.Handle(DM_TABLE_LOAD, io));
  }
}
BENCHMARK(BM_Load_Bare);

void BM_Load_Dmioctl(benchmark::State& state) {
  CannedKernel kernel(0);
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  const dmioctl::DeviceRef ref = dmioctl::DeviceRef::ByName(kName);
  dmioctl::Table table;
  table.targets.push_back(dmioctl::targets::Linear(0, 2048, "253:0", 0));
  for (auto _ : state) {
    auto info = dm.LoadTable(ref, table);
    benchmark::DoNotOptimize(info);
  }
}
BENCHMARK(BM_Load_Dmioctl);

// Listing: the bare floor counts entries in a buffer it keeps; dmioctl
// returns them as DeviceListEntry values (names copied).
void BM_List_Bare(benchmark::State& state) {
  CannedKernel kernel(static_cast<int>(state.range(0)));
  std::vector<uint64_t> buf(16384 / 8);
  for (auto _ : state) {
    for (;;) {
      auto* io = reinterpret_cast<dm_ioctl*>(buf.data());
      InitBare(io, buf.size() * 8);
      io->name[0] = '\0';
      kernel.Handle(DM_LIST_DEVICES, io);
      if (io->flags & DM_BUFFER_FULL_FLAG) {
        buf.resize(buf.size() * 2);
        continue;
      }
      size_t n = 0;
      const char* p = reinterpret_cast<const char*>(io) + io->data_start;
      if (io->data_size > io->data_start) {
        for (;;) {
          ++n;
          auto* e = reinterpret_cast<const dm_name_list*>(p);
          if (e->next == 0) break;
          p += e->next;
        }
      }
      benchmark::DoNotOptimize(n);
      break;
    }
  }
}
BENCHMARK(BM_List_Bare)->Arg(10)->Arg(1000)->Arg(10000);

void BM_List_Dmioctl(benchmark::State& state) {
  CannedKernel kernel(static_cast<int>(state.range(0)));
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  for (auto _ : state) {
    auto list = dm.ListDevices();
    benchmark::DoNotOptimize(list);
  }
  state.counters["ioctls_per_op"] =
      benchmark::Counter(static_cast<double>(dm.counters().ioctls.load()) /
                         static_cast<double>(state.iterations()));
}
BENCHMARK(BM_List_Dmioctl)->Arg(10)->Arg(1000)->Arg(10000);

// Names and numbers into one vector kept across calls, as dm_bench's
// dmioctl implementation and `dmsetup ls` ask for them (no uuids).
void BM_List_DmioctlReuse(benchmark::State& state) {
  CannedKernel kernel(static_cast<int>(state.range(0)));
  dmioctl::DeviceMapper dm(std::make_unique<CannedTransport>(&kernel));
  std::vector<dmioctl::DeviceListEntry> list;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dm.ListDevices({.with_uuid = false}, &list));
    benchmark::DoNotOptimize(list);
  }
}
BENCHMARK(BM_List_DmioctlReuse)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
