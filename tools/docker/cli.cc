#include "tools/docker/cli.h"

#include "absl/strings/str_cat.h"
#include "tools/docker/grow.h"

namespace dmkit::docker {
namespace {

struct Command {
  absl::string_view name;
  CommandFn run;
};

constexpr Command kCommands[] = {
    {"df", DfCommand},     {"inspect", InspectCommand},
    {"ls", LsCommand},     {"mount", MountCommand},
    {"pool", PoolCommand}, {"umount", UmountCommand},
};

absl::Status BadUsage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

}  // namespace

CommandFn FindCommand(absl::string_view name) {
  for (const Command& c : kCommands) {
    if (c.name == name) return c.run;
  }
  return nullptr;
}

absl::StatusOr<Invocation> ParseCommandLine(int argc, const char* const* argv) {
  Invocation inv;
  Options& o = inv.options;
  bool only_positionals = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (!only_positionals && arg.size() > 1 && arg[0] == '-') {
      if (arg == "--") {
        only_positionals = true;
        continue;
      }
      if (arg == "-h" || arg == "--help") {
        inv.help = true;
        return inv;
      }
      absl::string_view key = arg;
      std::optional<std::string> value;
      if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
        key = arg.substr(0, eq);
        value = std::string(arg.substr(eq + 1));
      }
      bool grow = key == "--grow-data" || key == "--grow-metadata";
      if (key == "--root" || key == "--pool" || grow) {
        if (!value) {
          if (i + 1 >= argc)
            return BadUsage(absl::StrCat(key, " needs a value"));
          value = argv[++i];
        }
        if (value->empty())
          return BadUsage(absl::StrCat(key, " needs a value"));
        if (grow) {
          absl::StatusOr<uint64_t> bytes = ParseSize(*value);
          if (!bytes.ok()) {
            return BadUsage(absl::StrCat(key, ": ", bytes.status().message()));
          }
          (key == "--grow-data" ? o.grow_data : o.grow_metadata) = *bytes;
          continue;
        }
        (key == "--root" ? o.root : o.pool) = *value;
        continue;
      }
      if (value)
        return BadUsage(absl::StrCat("option ", key, " takes no value"));
      if (arg == "--json") {
        o.json = true;
      } else if (arg == "--rw") {
        o.rw = true;
      } else if (arg == "--no-activate") {
        o.no_activate = true;
      } else if (arg == "--activate") {
        o.activate = true;
      } else {
        return BadUsage(absl::StrCat("unknown option ", arg));
      }
      continue;
    }
    if (inv.command.empty()) {
      if (FindCommand(arg) == nullptr) {
        return BadUsage(absl::StrCat("unknown command '", arg, "'"));
      }
      inv.command = std::string(arg);
      continue;
    }
    o.args.emplace_back(arg);
  }
  if (inv.command.empty()) return BadUsage("no command given");
  // Options that do not belong to the command are mistakes, not no-ops.
  absl::string_view n = inv.command;
  if (o.rw && n != "mount") return BadUsage("--rw is for mount");
  if (o.json && n != "ls" && n != "df" && n != "pool") {
    return BadUsage("--json is for ls, df and pool");
  }
  if (o.no_activate && n != "df") return BadUsage("--no-activate is for df");
  if (o.activate && n != "pool") return BadUsage("--activate is for pool");
  if ((o.grow_data || o.grow_metadata) &&
      (n != "pool" || o.activate || o.json)) {
    return BadUsage(
        "--grow-data and --grow-metadata are for pool, without --activate and "
        "--json");
  }
  size_t want_min = 0, want_max = 0;
  if (n == "inspect") want_min = want_max = 1;
  if (n == "mount") want_min = want_max = 2;
  if (n == "umount") want_min = want_max = 1;
  if (o.args.size() < want_min || o.args.size() > want_max) {
    static constexpr const char* kShape[] = {"no arguments", "one argument",
                                             "two arguments"};
    return BadUsage(absl::StrCat(n, " takes ", kShape[want_max],
                                 n == "inspect"  ? " (CONTAINER)"
                                 : n == "mount"  ? " (CONTAINER MOUNTPOINT)"
                                 : n == "umount" ? " (CONTAINER or MOUNTPOINT)"
                                                 : ""));
  }
  return inv;
}

}  // namespace dmkit::docker
