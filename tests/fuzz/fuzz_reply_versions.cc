// DM_LIST_VERSIONS and DM_GET_TARGET_VERSION on replies from the input.
#include <cstdint>

#include "dmioctl/device_mapper.h"
#include "tests/fuzz/reply_checks.h"
#include "tests/fuzz/script_kernel.h"

namespace {

void CheckVersion(const dmioctl::TargetVersion& v, size_t size) {
  using dmkit::fuzz::HasNul;
  FUZZ_CHECK(!v.name.empty() && !HasNul(v.name) && v.name.size() < size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmkit::fuzz;
  Script script(data, size);
  uint8_t option = script.Byte();
  dmioctl::DeviceMapper dm(ScriptTransport(&script));
  if (option & 1) {
    auto version = dm.GetTargetVersion("thin-pool");
    CheckCall(script, dm);
    if (version.ok()) CheckVersion(*version, size);
  } else {
    auto versions = dm.ListTargetVersions();
    CheckCall(script, dm);
    if (versions.ok()) {
      for (const auto& v : *versions) CheckVersion(v, size);
    }
  }
  return 0;
}
