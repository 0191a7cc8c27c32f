// DM_TABLE_DEPS on replies from the input.
#include <cstdint>

#include "dmioctl/device_mapper.h"
#include "tests/fuzz/reply_checks.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmkit::fuzz;
  Script script(data, size);
  uint8_t option = script.Byte();
  dmioctl::DeviceMapper dm(ScriptTransport(&script));
  auto deps = dm.GetDeps(option & 2 ? dmioctl::DeviceRef::ByUuid("LVM-x")
                                    : dmioctl::DeviceRef::ByName("pool"),
                         option & 1);
  CheckCall(script, dm);
  if (!deps.ok()) return 0;
  CheckInfo(deps->info);
  // Each device number takes 8 bytes of the reply, which fits the buffer
  // (the bytes past what the input wrote are the buffer's own zeroes).
  FUZZ_CHECK(deps->devices.size() * 8 <= kMaxBuffer);
  return 0;
}
