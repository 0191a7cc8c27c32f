// File: tools/thin/thin.h
//
// What the commands of `dmkit thin` share (thin.cc) and the check command
// (check.cc).
#ifndef DMKIT_TOOLS_THIN_THIN_H_
#define DMKIT_TOOLS_THIN_THIN_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "tools/common/thin_metadata.h"

namespace dmkit::thin {

// "dmkit thin COMMAND: MESSAGE" on stderr; returns 1.
int Fail(const char* command, const absl::Status& status);
// A usage error on stderr; returns 1.
int UsageError(const char* command, const std::string& what);

// dmkit thin ARGS (argv[0] is "thin") with the DeviceMapper --pool uses
// (its open's error, reported only when --pool is given).
int Run(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv);

// dmkit thin check ARGS (argv[0] is "check").
int CheckMain(int argc, char** argv);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_THIN_THIN_H_
