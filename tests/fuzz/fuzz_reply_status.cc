// DM_TABLE_STATUS (status and table) and DM_DEV_WAIT on replies from the
// input, then the target parsers the applets run on what came back.
#include <cstdint>

#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"
#include "dmioctl/targets.h"
#include "tests/fuzz/reply_checks.h"
#include "tests/fuzz/script_kernel.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dmkit::fuzz;
  namespace targets = dmioctl::targets;
  Script script(data, size);
  uint8_t option = script.Byte();
  dmioctl::DeviceMapper dm(ScriptTransport(&script));
  dmioctl::DeviceRef device = (option & 8)
                                  ? dmioctl::DeviceRef::ByDevNum({253, 4})
                                  : dmioctl::DeviceRef::ByName("thin");
  dmioctl::StatusOptions options{.inactive = bool(option & 4),
                                 .noflush = bool(option & 16)};
  bool table = false;
  absl::StatusOr<dmioctl::TableReply> reply;
  switch (option & 3) {
    case 0:
      reply = dm.GetStatus(device, options);
      break;
    case 1:
      reply = dm.GetTable(device, options.inactive);
      table = true;
      break;
    default:
      reply = dm.WaitEvent(device, option >> 5, options);
      break;
  }
  CheckCall(script, dm);
  if (!reply.ok()) return 0;
  CheckInfo(reply->info);
  FUZZ_CHECK(reply->targets.size() == reply->info.target_count);
  for (const dmioctl::Target& t : reply->targets) {
    FUZZ_CHECK(t.type.size() <= dmioctl::kMaxTargetTypeLength);
    FUZZ_CHECK(!HasNul(t.type) && !HasNul(t.params) && t.params.size() < size);
    if (table) {
      if (t.type == "thin") (void)targets::ParseThinParams(t.params);
      if (t.type == "thin-pool") (void)targets::ParseThinPoolParams(t.params);
      std::string shown = targets::RedactKeys(t.type, t.params);
      FUZZ_CHECK(shown.size() == t.params.size());
    } else {
      if (t.type == "thin") (void)targets::ParseThinStatus(t.params);
      if (t.type == "thin-pool") (void)targets::ParseThinPoolStatus(t.params);
      if (t.type == "snapshot") (void)targets::ParseSnapshotStatus(t.params);
    }
  }
  (void)dmioctl::FormatTable({.targets = reply->targets});
  return 0;
}
