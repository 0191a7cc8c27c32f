// DM_TARGET_MSG output on replies from the input, with small and default
// output limits.
#include <cstdint>

#include "dmioctl/device_mapper.h"
#include "tests/fuzz/reply_checks.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmkit::fuzz;
  Script script(data, size);
  uint8_t option = script.Byte();
  static constexpr size_t kLimits[] = {64 * 1024, 0, 1, 7, 64, 4096};
  size_t max_output = kLimits[(option & 7) % std::size(kLimits)];
  dmioctl::DeviceMapper dm(ScriptTransport(&script));
  auto output = dm.SendMessage(
      dmioctl::DeviceRef::ByName("pool"), option >> 3,
      option & 0x80 ? "create_thin 34709" : "reserve_metadata_snap",
      max_output);
  CheckCall(script, dm);
  // A message is never repeated, whatever the reply says.
  FUZZ_CHECK(dm.counters().ioctls.load() <= 1);
  if (!output.ok()) return 0;
  FUZZ_CHECK(output->size() <= max_output && !HasNul(*output));
  return 0;
}
