#include "tools/docker/fault.h"

#include <errno.h>

namespace dmkit::docker {
namespace {

FaultHook fault_hook = nullptr;

}  // namespace

void SetFaultHookForTesting(FaultHook hook) { fault_hook = hook; }

bool FaultInjected(absl::string_view step, absl::string_view target) {
  if (fault_hook == nullptr) return false;
  int e = fault_hook(step, target);
  if (e == 0) return false;
  errno = e;
  return true;
}

FaultHook CurrentFaultHook() { return fault_hook; }

}  // namespace dmkit::docker
