// Writes the seed corpora of the reply fuzzers: real-shaped kernel replies,
// recorded from the fake kernel (which lays out every reply as 6.1's
// dm-ioctl.c does) in the record layout of script_kernel.h.
//
//   fuzz_seeds tests/fuzz/corpus
//
// The text fuzzers' seeds are hand-written files in the same directory.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <string.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>

#include "dmioctl/device_mapper.h"
#include "dmioctl/targets.h"
#include "tests/fuzz/script_kernel.h"
#include "tests/unit/fake_kernel.h"

namespace {

using dmkit::testing::FakeKernelState;
using dmkit::testing::FakeTransport;
namespace targets = dmioctl::targets;

// Passes every ioctl to the fake kernel and records its reply.
class RecordingTransport final : public dmioctl::Transport {
 public:
  RecordingTransport(std::shared_ptr<FakeKernelState> kernel, std::string* out)
      : fake_(std::move(kernel)), out_(out) {}
  int Ioctl(unsigned long request, void* buffer) override {
    auto* h = static_cast<dm_ioctl*>(buffer);
    size_t size = h->data_size;
    int r = fake_.Ioctl(request, buffer);
    // A failed ioctl gets only the kernel's version back (check_version());
    // a successful one the header and the payload up to data_size.
    size_t length =
        r != 0 ? sizeof(h->version)
               : std::min<size_t>(
                     size, std::max<size_t>(sizeof(dm_ioctl), h->data_size));
    dmkit::fuzz::AppendRecord(*out_, r, buffer, length);
    return r;
  }

 private:
  FakeTransport fake_;
  std::string* out_;
};

struct Recorder {
  std::shared_ptr<FakeKernelState> kernel = std::make_shared<FakeKernelState>();
  std::string bytes;
  dmioctl::DeviceMapper dm{
      std::make_unique<RecordingTransport>(kernel, &bytes)};

  explicit Recorder(uint8_t option) { bytes.push_back(char(option)); }
  void Add(const std::string& name, const std::string& uuid,
           std::optional<dmioctl::Table> live = std::nullopt) {
    kernel->devices[name] = {.name = name,
                             .uuid = uuid,
                             .minor = uint32_t(kernel->devices.size()),
                             .live = std::move(live),
                             .event_nr = 3};
  }
};

std::filesystem::path root;

void Write(const std::string& target, const std::string& name,
           const std::string& bytes) {
  std::filesystem::path dir = root / target;
  std::filesystem::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// A reply header with DM_BUFFER_FULL set and nothing else, as the kernel
// sends when the list does not fit.
std::string BufferFullRecord(uint32_t minor_version) {
  dm_ioctl h{};
  h.version[0] = 4;
  h.version[1] = minor_version;
  h.data_size = sizeof(dm_ioctl);
  h.data_start = sizeof(dm_ioctl);
  h.flags = DM_BUFFER_FULL_FLAG;
  std::string out;
  dmkit::fuzz::AppendRecord(out, 0, &h, sizeof(h));
  return out;
}

dmioctl::Table IncidentPool() {
  dmioctl::Table t;
  t.targets.push_back(targets::ThinPool(0, 167772160, "7:1", "7:0",
                                        {.data_block_sectors = 128,
                                         .low_water_blocks = 32768,
                                         .features = {"skip_block_zeroing"}}));
  return t;
}

dmioctl::Table IncidentThin() {
  dmioctl::Table t;
  t.targets.push_back(targets::Thin(0, 20971520, "253:3", 34709));
  return t;
}

dmioctl::Table Lines(std::vector<dmioctl::Target> lines) {
  dmioctl::Table t;
  t.targets = std::move(lines);
  return t;
}

void ListSeeds() {
  for (uint32_t minor : {47u, 45u, 37u, 36u}) {
    for (uint8_t option : {0, 1}) {
      Recorder r(option);
      r.kernel->version_minor = minor;
      r.Add("docker-253:2-3693860-pool", "");
      r.Add("docker-253:2-3693860-3f1a", "LVM-3f1a");
      r.Add("vg-thin", "LVM-Zx9LqFtTxkWcrmzHCd9nPnqtqAtsUo5x");
      (void)r.dm.ListDevices({.with_uuid = bool(option & 1)});
      Write("fuzz_reply_list",
            "three-4." + std::to_string(minor) + (option ? "-uuid" : ""),
            r.bytes);
    }
  }
  Recorder empty(1);
  (void)empty.dm.ListDevices();
  Write("fuzz_reply_list", "empty", empty.bytes);

  Recorder full(1);
  full.Add("pool", "LVM-pool");
  full.bytes += BufferFullRecord(47);
  (void)full.dm.ListDevices();
  Write("fuzz_reply_list", "buffer-full-then-one", full.bytes);
}

void VersionSeeds() {
  Recorder all(0);
  (void)all.dm.ListTargetVersions();
  Write("fuzz_reply_versions", "list", all.bytes);
  Recorder one(1);
  (void)one.dm.GetTargetVersion("thin-pool");
  Write("fuzz_reply_versions", "thin-pool", one.bytes);
  Recorder full(0);
  full.bytes += BufferFullRecord(47);
  (void)full.dm.ListTargetVersions();
  Write("fuzz_reply_versions", "buffer-full-then-list", full.bytes);
}

void DepsSeeds() {
  for (uint32_t count : {0u, 1u, 2u}) {
    Recorder r(0);
    r.Add("pool", "", IncidentPool());
    r.kernel->overrides[DM_TABLE_DEPS_CMD] = [count](dm_ioctl* h, size_t) {
      char* payload = reinterpret_cast<char*>(h) + sizeof(dm_ioctl);
      memcpy(payload, &count, 4);
      memset(payload + 4, 0, 4);
      for (uint32_t i = 0; i < count; ++i) {
        uint64_t dev = dmioctl::DevNum{7, i}.Encode();
        memcpy(payload + 8 + 8 * i, &dev, 8);
      }
      h->version[1] = 47;
      h->data_start = sizeof(dm_ioctl);
      h->data_size = sizeof(dm_ioctl) + 8 + 8 * count;
      h->target_count = 1;
      h->flags |= DM_ACTIVE_PRESENT_FLAG;
      h->dev = dmioctl::DevNum{253, 3}.Encode();
      return 0;
    };
    (void)r.dm.GetDeps(dmioctl::DeviceRef::ByName("pool"));
    Write("fuzz_reply_deps", "pool-" + std::to_string(count), r.bytes);
  }
  Recorder none(0);
  none.Add("pool", "");
  (void)none.dm.GetDeps(dmioctl::DeviceRef::ByName("pool"));
  Write("fuzz_reply_deps", "no-table", none.bytes);
}

// The fake kernel reports table parameters as they were loaded; a status
// seed is the same layout with status text in the params.
void StatusSeeds() {
  struct Seed {
    const char* name;
    uint8_t option;  // fuzz_reply_status: 0 status, 1 table, 2 wait
    dmioctl::Table table;
  };
  std::vector<Seed> seeds = {
      {"table-thin-pool", 1, IncidentPool()},
      {"table-thin", 1, IncidentThin()},
      {"table-two-linear", 1,
       Lines({targets::Linear(0, 2048, "7:0", 0),
              targets::Linear(2048, 4096, "7:1", 2048)})},
      {"table-crypt", 1,
       Lines({targets::Crypt(0, 2048, "7:0",
                             {.key = "babebabebabebabebabebabebabebabe"})})},
      {"status-thin-pool", 0,
       Lines({{0, 167772160, "thin-pool",
               "1 4172/4161600 171776/1310720 - rw discard_passdown "
               "queue_if_no_space - 1024"}})},
      {"status-thin-pool-fail", 0,
       Lines({{0, 167772160, "thin-pool", "Fail"}})},
      {"status-thin", 0, Lines({{0, 20971520, "thin", "1843200 20971519"}})},
      {"status-snapshot", 0,
       Lines({{0, 2097152, "snapshot", "16/2097152 16"}})},
      {"wait-thin", 2, Lines({{0, 20971520, "thin", "0 -"}})},
  };
  for (Seed& seed : seeds) {
    Recorder r(seed.option);
    r.Add("thin", "LVM-thin", std::move(seed.table));
    (void)r.dm.GetTable(dmioctl::DeviceRef::ByName("thin"));
    Write("fuzz_reply_status", seed.name, r.bytes);
  }
  // A wait whose reply did not fit: the status is fetched again.
  Recorder full(2);
  full.Add("thin", "", IncidentThin());
  full.bytes += BufferFullRecord(47);
  (void)full.dm.GetTable(dmioctl::DeviceRef::ByName("thin"));
  Write("fuzz_reply_status", "wait-buffer-full-then-status", full.bytes);
}

void MessageSeeds() {
  Recorder out(0);
  out.Add("pool", "", IncidentPool());
  (void)out.dm.SendMessage(dmioctl::DeviceRef::ByName("pool"), 0, "echo 34709");
  Write("fuzz_reply_message", "output", out.bytes);
  Recorder quiet(0x80);
  quiet.Add("pool", "", IncidentPool());
  (void)quiet.dm.SendMessage(dmioctl::DeviceRef::ByName("pool"), 0,
                             "create_thin 34709");
  Write("fuzz_reply_message", "no-output", quiet.bytes);
  Recorder no_table(0x80);
  no_table.Add("pool", "");
  (void)no_table.dm.SendMessage(dmioctl::DeviceRef::ByName("pool"), 0,
                                "create_thin 34709");
  Write("fuzz_reply_message", "no-table", no_table.bytes);
  Recorder busy(0x80);
  busy.kernel->overrides[DM_TARGET_MSG_CMD] = [](dm_ioctl*, size_t) {
    return -EBUSY;
  };
  (void)busy.dm.SendMessage(dmioctl::DeviceRef::ByName("pool"), 0,
                            "create_thin 34709");
  Write("fuzz_reply_message", "ebusy", busy.bytes);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_seeds CORPUS_DIR\n";
    return 2;
  }
  root = argv[1];
  ListSeeds();
  VersionSeeds();
  DepsSeeds();
  StatusSeeds();
  MessageSeeds();
  return 0;
}
