#include "tools/bench/args.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dmkit::bench {

absl::StatusOr<CycleOptions> ParseCycleArgs(int argc, const char* const* argv,
                                            absl::string_view tmpdir) {
  CycleOptions o;
  o.tmpdir = std::string(tmpdir);
  for (int i = 2; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") return CycleOptions{.help = true};
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (arg != "--target" && arg != "--count" && arg != "--jobs" &&
        arg != "--size" && arg != "--backing" && arg != "--tmpdir") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "'"));
    }
    if (i + 1 >= argc) {
      return absl::InvalidArgumentError(absl::StrCat(arg, " needs a value"));
    }
    absl::string_view v = argv[++i];
    if (arg == "--target") {
      if (v == "thin") {
        o.thin = true;
      } else if (v == "linear") {
        o.thin = false;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown target '", v, "' (linear or thin)"));
      }
    } else if (arg == "--count" || arg == "--jobs") {
      int n;
      if (!absl::SimpleAtoi(v, &n) || n < 1 || n > 1000000) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad ", arg, " '", v, "'"));
      }
      (arg == "--count" ? o.count : o.jobs) = n;
    } else if (arg == "--size") {
      if (!absl::SimpleAtoi(v, &o.size) || o.size < 8) {
        return absl::InvalidArgumentError(absl::StrCat("bad --size '", v, "'"));
      }
    } else if (arg == "--backing") {
      absl::StatusOr<dmioctl::DevNum> dev = dmioctl::DevNum::Parse(v);
      if (!dev.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad --backing '", v, "' (MAJ:MIN)"));
      }
      o.backing = *dev;
    } else {
      o.tmpdir = std::string(v);
    }
  }
  if (o.thin && o.backing) {
    return absl::InvalidArgumentError("--backing is for --target linear");
  }
  o.jobs = std::min(o.jobs, o.count);
  return o;
}

}  // namespace dmkit::bench
