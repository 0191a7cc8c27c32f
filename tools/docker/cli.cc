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
    {"df", DfCommand},           {"gc", GcCommand},
    {"inspect", InspectCommand}, {"ls", LsCommand},
    {"mount", MountCommand},     {"pool", PoolCommand},
    {"umount", UmountCommand},
};

absl::Status BadUsage(absl::string_view message) {
  return absl::InvalidArgumentError(message);
}

// A thin device id: decimal, at most 24 bits (2^24 - 1).
absl::StatusOr<uint32_t> ParseDeviceId(absl::string_view text) {
  uint32_t id = 0;
  bool ok = !text.empty() && text.size() <= 8;
  for (char c : text) {
    ok = ok && c >= '0' && c <= '9';
    if (ok) id = id * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!ok || id > 0xffffff) {
    return BadUsage(absl::StrCat("--device-id: '", text,
                                 "' is not a thin device id (0 to 16777215)"));
  }
  return id;
}

// The checks after the words are read: options that do not belong to the
// command are mistakes, not no-ops; then the number of arguments.
absl::Status CheckCommand(const Invocation& inv) {
  const Options& o = inv.options;
  absl::string_view n = inv.command;
  if (o.rw && n != "mount") return BadUsage("--rw is for mount");
  if (o.device_id && n != "mount") return BadUsage("--device-id is for mount");
  if (o.json && n != "ls" && n != "df" && n != "pool") {
    return BadUsage("--json is for ls, df and pool");
  }
  if (o.no_activate && n != "df") return BadUsage("--no-activate is for df");
  if (o.activate && n != "pool") return BadUsage("--activate is for pool");
  if (o.orphans && n != "ls") return BadUsage("--orphans is for ls");
  if (o.dry_run && n != "gc") return BadUsage("--dry-run is for gc");
  if ((o.grow_data || o.grow_metadata) &&
      (n != "pool" || o.activate || o.json)) {
    return BadUsage(
        "--grow-data and --grow-metadata are for pool, without --activate and "
        "--json");
  }
  size_t want = 0;
  if (n == "inspect" || n == "umount") want = 1;
  if (n == "mount") want = o.device_id ? 1 : 2;
  if (o.args.size() == want) return absl::OkStatus();
  static constexpr const char* kShape[] = {"no arguments", "one argument",
                                           "two arguments"};
  return BadUsage(absl::StrCat(n, " takes ", kShape[want],
                               n == "inspect" ? " (CONTAINER)"
                               : n == "mount" && o.device_id
                                   ? " with --device-id (MOUNTPOINT)"
                               : n == "mount"  ? " (CONTAINER MOUNTPOINT)"
                               : n == "umount" ? " (CONTAINER or MOUNTPOINT)"
                                               : ""));
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
      bool id = key == "--device-id";
      if (key == "--root" || key == "--pool" || grow || id) {
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
        if (id) {
          absl::StatusOr<uint32_t> device_id = ParseDeviceId(*value);
          if (!device_id.ok()) return device_id.status();
          o.device_id = *device_id;
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
      } else if (arg == "--orphans") {
        o.orphans = true;
      } else if (arg == "--dry-run") {
        o.dry_run = true;
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
  if (absl::Status s = CheckCommand(inv); !s.ok()) return s;
  return inv;
}

}  // namespace dmkit::docker
