// 2,000 devices: create and remove in parallel, list them with uuids and
// event numbers, and count how many ioctls the growing list buffer took.
#include <atomic>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

using dmioctl::DeviceListEntry;

constexpr int kDevices = 2000;
constexpr int kThreads = 4;

class Scale : public DmVmTest {
 protected:
  std::string Nth(int i) const { return Name(absl::StrFormat("%04d", i)); }
  std::string NthUuid(int i) const { return Uuid(absl::StrFormat("%04d", i)); }

  // Runs body(i) for i in [0, kDevices) on kThreads threads; returns the
  // failures.
  std::vector<std::string> ForAll(
      const std::function<absl::Status(int)>& body) {
    std::atomic<int> next{0};
    std::mutex mu;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i; (i = next.fetch_add(1)) < kDevices;) {
          absl::Status s = body(i);
          if (!s.ok()) {
            std::lock_guard<std::mutex> lock(mu);
            if (failures.size() < 10) failures.push_back(s.ToString());
          }
        }
      });
    }
    for (std::thread& t : threads) t.join();
    return failures;
  }
};

TEST_F(Scale, TwoThousandDevicesListedWithUuidsThroughAGrowingBuffer) {
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> failed = ForAll([&](int i) {
    // Every third device without a uuid, to mix both list entry shapes.
    return dm()
        .CreateDevice({.name = Nth(i), .uuid = i % 3 == 2 ? "" : NthUuid(i)})
        .status();
  });
  double create_ms = MillisSince(start);
  ASSERT_TRUE(failed.empty()) << failed[0];

  // The first listing of this DeviceMapper starts from the 16 KiB default,
  // which is too small, and its one retry is 64 times bigger (enough for
  // ~20,000 such entries): at most two ioctls. A second listing starts
  // from the size the first one needed: one ioctl.
  uint64_t ioctls = dm().counters().ioctls.load();
  uint64_t retries = dm().counters().buffer_full_retries.load();
  start = std::chrono::steady_clock::now();
  ASSERT_OK_AND_ASSIGN(std::vector<DeviceListEntry> list,
                       dm().ListDevices({.name_prefix = Name("")}));
  double list_ms = MillisSince(start);
  uint64_t list_ioctls = dm().counters().ioctls.load() - ioctls;
  EXPECT_LE(dm().counters().buffer_full_retries.load() - retries, 1u);
  EXPECT_LE(list_ioctls, 2u);
  ioctls = dm().counters().ioctls.load();
  retries = dm().counters().buffer_full_retries.load();
  ASSERT_OK_AND_ASSIGN(std::vector<DeviceListEntry> again,
                       dm().ListDevices({.name_prefix = Name("")}));
  EXPECT_EQ(dm().counters().buffer_full_retries.load() - retries, 0u);
  EXPECT_EQ(dm().counters().ioctls.load() - ioctls, 1u);
  EXPECT_EQ(again.size(), static_cast<size_t>(kDevices));

  ASSERT_EQ(list.size(), static_cast<size_t>(kDevices));
  std::set<uint32_t> minors;
  for (int i = 0; i < kDevices; ++i) {
    const DeviceListEntry& e = list[i];
    ASSERT_EQ(e.name, Nth(i));  // sorted by name
    EXPECT_EQ(e.uuid, i % 3 == 2 ? std::string() : NthUuid(i)) << e.name;
    EXPECT_EQ(e.event_nr, 0u) << e.name;
    minors.insert(e.dev.minor);
  }
  EXPECT_EQ(minors.size(), static_cast<size_t>(kDevices));
  // Spot checks against DM_DEV_STATUS.
  for (int i : {0, 1, 999, 1998, 1999}) {
    ASSERT_OK_AND_ASSIGN(DeviceInfo info,
                         dm().GetInfo(DeviceRef::ByName(Nth(i))));
    EXPECT_EQ(info.dev, list[i].dev);
  }
  ASSERT_OK_AND_ASSIGN(DeviceInfo by_uuid,
                       dm().GetInfo(DeviceRef::ByUuid(NthUuid(1234))));
  EXPECT_EQ(by_uuid.name, Nth(1234));

  // A uuid prefix filter: the 1000s that have a uuid.
  ASSERT_OK_AND_ASSIGN(auto filtered,
                       dm().ListDevices({.uuid_prefix = Uuid("1")}));
  int expected_filtered = 0;
  for (int i = 1000; i < 2000; ++i) expected_filtered += i % 3 != 2;
  EXPECT_EQ(filtered.size(), static_cast<size_t>(expected_filtered));

  start = std::chrono::steady_clock::now();
  failed = ForAll([&](int i) {
    return dm().RemoveDevice(DeviceRef::ByName(Nth(i))).status();
  });
  double remove_ms = MillisSince(start);
  EXPECT_TRUE(failed.empty()) << failed[0];
  ASSERT_OK_AND_ASSIGN(auto after, dm().ListDevices({.name_prefix = Name("")}));
  EXPECT_TRUE(after.empty());
  printf(
      "[dmkvm] %d devices without tables on %d threads: create %.0f ms, "
      "list %.1f ms (%llu ioctls), remove %.0f ms\n",
      kDevices, kThreads, create_ms, list_ms,
      static_cast<unsigned long long>(list_ioctls), remove_ms);
}

}  // namespace
}  // namespace dmkit_vm
