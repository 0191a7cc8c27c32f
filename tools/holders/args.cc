#include "tools/holders/args.h"

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dmkit::holders {

absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv) {
  Args args;
  std::optional<absl::string_view> device;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      return Args{.help = true};
    } else if (arg == "--umount") {
      args.umount = true;
    } else if (arg == "--lazy") {
      args.lazy = true;
    } else if (arg == "--json") {
      args.json = true;
    } else if (arg.size() > 1 && arg[0] == '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", arg, "'"));
    } else if (!device) {
      device = arg;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("one DEVICE only ('", arg, "')"));
    }
  }
  if (!device) return absl::InvalidArgumentError("no DEVICE given");
  if (device->empty()) return absl::InvalidArgumentError("empty DEVICE");
  if (args.lazy && !args.umount) {
    return absl::InvalidArgumentError("--lazy needs --umount");
  }
  args.device = std::string(*device);
  return args;
}

}  // namespace dmkit::holders
