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

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "tools/common/thin_metadata.h"

namespace dmkit::thin {

// "dmkit thin COMMAND: MESSAGE" on stderr; returns 1.
int Fail(const char* command, const absl::Status& status);
// A usage error on stderr; returns 1.
int UsageError(const char* command, const std::string& what);

// Opens device-mapper, or says why it could not.
using OpenDeviceMapper =
    absl::FunctionRef<absl::StatusOr<dmioctl::DeviceMapper*>()>;

// dmkit thin ARGS (argv[0] is "thin"); `open_dm` is called only for --pool,
// once the command line has been parsed.
int Run(OpenDeviceMapper open_dm, int argc, char** argv);

// dmkit thin check ARGS (argv[0] is "check").
int CheckMain(int argc, char** argv);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_THIN_THIN_H_
