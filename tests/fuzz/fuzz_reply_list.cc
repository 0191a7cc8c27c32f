// DM_LIST_DEVICES: DeviceMapper::ListDevices on replies from the input
// (layout in script_kernel.h; the kernel version that selects the event_nr
// and uuid trailers comes from the reply header too).
#include <cstdint>

#include "dmioctl/device_mapper.h"
#include "tests/fuzz/reply_checks.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmkit::fuzz;
  Script script(data, size);
  uint8_t option = script.Byte();
  dmioctl::DeviceMapper dm(ScriptTransport(&script));
  dmioctl::ListOptions options;
  options.with_uuid = option & 1;
  if (option & 2) options.name_prefix = "docker-";
  auto list = dm.ListDevices(options);
  CheckCall(script, dm);
  if (!list.ok()) return 0;
  for (const dmioctl::DeviceListEntry& e : *list) {
    FUZZ_CHECK(!e.name.empty() && !HasNul(e.name));
    FUZZ_CHECK(e.name.size() < size);
    if (e.uuid) FUZZ_CHECK(!HasNul(*e.uuid) && e.uuid->size() < size);
    // A uuid is only reported when it was asked for.
    if (!options.with_uuid) FUZZ_CHECK(!e.uuid);
  }
  return 0;
}
