// Table text (dmsetup's `start length type params` lines):
//   * ParseTable -> FormatTable -> ParseTable gives the same table, and
//     formatting that again gives the same text;
//   * a table that passes Validate() is what the kernel gets: loaded into
//     the fake kernel (DM_TABLE_LOAD, with the backslash escaping the
//     kernel undoes) and read back, it is unchanged.
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"
#include "tests/fuzz/script_kernel.h"
#include "tests/unit/fake_kernel.h"

namespace {

void CheckLoadReadBack(const dmioctl::Table& table) {
  auto kernel = std::make_shared<dmkit::testing::FakeKernelState>();
  dmioctl::DeviceMapper dm(
      std::make_unique<dmkit::testing::FakeTransport>(kernel));
  auto device = dmioctl::DeviceRef::ByName("fuzz");
  FUZZ_CHECK(dm.CreateDevice({.name = "fuzz"}).ok());
  auto loaded = dm.LoadTable(device, table);
  if (!loaded.ok()) {
    // The fake kernel refuses only its one unknown target type.
    for (const auto& t : table.targets) {
      if (t.type == "unknown-target") return;
    }
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(dm.Resume(device).ok());
  auto back = dm.GetTable(device);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(back->targets == table.targets);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = dmioctl::ParseTable(text);
  if (!table.ok()) return 0;
  std::string formatted = dmioctl::FormatTable(*table);
  auto again = dmioctl::ParseTable(formatted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *table);
  FUZZ_CHECK(dmioctl::FormatTable(*again) == formatted);
  if (table->Validate().ok()) CheckLoadReadBack(*table);
  return 0;
}
