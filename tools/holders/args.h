// File: tools/holders/args.h
//
// The command line of `dmkit holders`, parsed without side effects:
//
//   dmkit holders [--umount [--lazy]] [--json] DEVICE
#ifndef DMKIT_TOOLS_HOLDERS_ARGS_H_
#define DMKIT_TOOLS_HOLDERS_ARGS_H_

#include <string>

#include "absl/status/statusor.h"

namespace dmkit::holders {

struct Args {
  bool help = false;  // -h, --help: nothing else is set
  std::string device;
  bool umount = false;
  bool lazy = false;
  bool json = false;
};

// ParseArgs()
//
// argv[0] is the applet name; options and DEVICE in any order. Errors are
// usage errors (kInvalidArgument) whose message is the one line to print
// after "holders: ": an unknown option, no DEVICE, an empty one or more
// than one, --lazy without --umount.
absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv);

}  // namespace dmkit::holders

#endif  // DMKIT_TOOLS_HOLDERS_ARGS_H_
