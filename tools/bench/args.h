// File: tools/bench/args.h
//
// The options of `dmkit bench cycle`, parsed without side effects:
//
//   dmkit bench cycle [--target linear|thin] [--count N] [--jobs J] [--json]
//                     [--size SECTORS] [--backing MAJ:MIN] [--tmpdir DIR]
#ifndef DMKIT_TOOLS_BENCH_ARGS_H_
#define DMKIT_TOOLS_BENCH_ARGS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"

namespace dmkit::bench {

struct CycleOptions {
  bool help = false;  // -h, --help: nothing else is set
  bool thin = false;
  int count = 100;
  int jobs = 1;  // at most `count`
  bool json = false;
  uint64_t size = 2048;
  std::optional<dmioctl::DevNum> backing;
  std::string tmpdir;
};

// ParseCycleArgs()
//
// argv[2..] (argv[0] is the applet, argv[1] the command word). `tmpdir` is
// the default for --tmpdir ($TMPDIR or /tmp, which the caller looks up).
// Errors are usage errors (kInvalidArgument) whose message is the one line
// to print after "bench: ".
absl::StatusOr<CycleOptions> ParseCycleArgs(int argc, const char* const* argv,
                                            absl::string_view tmpdir);

}  // namespace dmkit::bench

#endif  // DMKIT_TOOLS_BENCH_ARGS_H_
