// Table text (dmsetup's `start length type params` lines), read by the
// parser dmkit dmsetup uses:
//   * ParseTable -> FormatTable -> ParseTable gives the same targets, the
//     parameters without the blanks a cut comment left at their end (which
//     dmsetup sends as they are, and a line's trimming then drops); from
//     there on formatting and parsing are each other's inverse;
//   * a table that passes Validate() is what the kernel gets: loaded into
//     the fake kernel (DM_TABLE_LOAD, with the backslash escaping the
//     kernel undoes) and read back, it is unchanged.
#include <cstdint>
#include <memory>

#include "absl/strings/ascii.h"
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
  auto again = dmioctl::ParseTable(dmioctl::FormatTable(*table));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->targets.size() == table->targets.size());
  for (size_t i = 0; i < table->targets.size(); ++i) {
    dmioctl::Target expected = table->targets[i];
    while (!expected.params.empty() &&
           absl::ascii_isspace(
               static_cast<unsigned char>(expected.params.back()))) {
      expected.params.pop_back();
    }
    FUZZ_CHECK(again->targets[i] == expected);
  }
  std::string formatted = dmioctl::FormatTable(*again);
  auto third = dmioctl::ParseTable(formatted);
  FUZZ_CHECK(third.ok());
  FUZZ_CHECK(*third == *again);
  FUZZ_CHECK(dmioctl::FormatTable(*third) == formatted);
  if (table->Validate().ok()) CheckLoadReadBack(*table);
  return 0;
}
