// The kernel's dm-mod.create= form:
//   * ParseDmInit -> FormatDmInit always succeeds (nothing parsed from
//     dm-init text contains a separator) and parses back to the same
//     devices;
//   * the same devices survive the concise form too, unless a target's
//     parameters hold what dmsetup's table reader gives another meaning
//     (a '#' starts a comment, a newline a new line).
#include <cstdint>

#include "absl/strings/string_view.h"
#include "dmioctl/table.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto devices = dmioctl::ParseDmInit(text);
  if (!devices.ok()) return 0;
  auto formatted = dmioctl::FormatDmInit(*devices);
  FUZZ_CHECK(formatted.ok());
  auto again = dmioctl::ParseDmInit(*formatted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *devices);
  for (const dmioctl::DeviceSpec& device : *devices) {
    for (const dmioctl::Target& t : device.table.targets) {
      if (t.params.find_first_of("#\n") != std::string::npos) return 0;
    }
  }
  auto concise = dmioctl::ParseConcise(dmioctl::FormatConcise(*devices));
  FUZZ_CHECK(concise.ok());
  FUZZ_CHECK(*concise == *devices);
  return 0;
}
