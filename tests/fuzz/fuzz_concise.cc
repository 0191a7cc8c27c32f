// dmsetup's concise form (`name,uuid,minor,flags,table[,table]...[;...]`),
// read by the scanner and table reader dmkit dmsetup uses:
//   * ParseConcise -> FormatConcise -> ParseConcise succeeds, and from there
//     on formatting and parsing are each other's inverse (the first round
//     may drop blanks a cut comment left at the end of parameters);
//   * when FormatDmInit accepts the devices, ParseDmInit of its text gives
//     them back (dm-init has no escapes, so it must refuse what it cannot
//     carry rather than change it).
#include <cstdint>

#include "absl/strings/string_view.h"
#include "dmioctl/table.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto first = dmioctl::ParseConcise(text);
  if (!first.ok()) return 0;
  auto devices = dmioctl::ParseConcise(dmioctl::FormatConcise(*first));
  FUZZ_CHECK(devices.ok());
  FUZZ_CHECK(devices->size() == first->size());
  std::string formatted = dmioctl::FormatConcise(*devices);
  auto again = dmioctl::ParseConcise(formatted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *devices);
  FUZZ_CHECK(dmioctl::FormatConcise(*again) == formatted);
  auto dm_init = dmioctl::FormatDmInit(*devices);
  if (dm_init.ok() && !devices->empty()) {
    auto from_dm_init = dmioctl::ParseDmInit(*dm_init);
    FUZZ_CHECK(from_dm_init.ok());
    FUZZ_CHECK(*from_dm_init == *devices);
  }
  return 0;
}
