// `dmkit docker`: the incident's recovery in one command. Reads Docker's
// devicemapper files without the daemon, activates container devices with
// Docker's exact names and tables, mounts them, and shows who holds them in
// which mount namespace. See tools/docker/commands.h.
#include <stdio.h>
#include <string.h>

#include <string>
#include <string_view>

#include "tools/applet.h"
#include "tools/docker/commands.h"

namespace dmkit {
namespace {

constexpr char kUsage[] =
    "Usage: dmkit docker COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "Inspect and recover the containers of Docker's devicemapper storage\n"
    "driver (Docker 1.10 to 20.10), without the daemon.\n"
    "\n"
    "Commands:\n"
    "  ls [--json]                  every container: name, mount-id, thin\n"
    "                               device, size, state, use, where mounted\n"
    "  inspect CONTAINER            the chain from container to thin device\n"
    "  mount [--rw] CONTAINER DIR   activate the device with Docker's name and\n"
    "                               table and mount it (read-only by default)\n"
    "  umount CONTAINER|DIR         unmount; remove the device if dmkit\n"
    "                               activated it and nothing else holds it\n"
    "  df [--json] [--no-activate]  use of every device, fullest first, and of\n"
    "                               the pool (inactive devices are measured by\n"
    "                               a brief read-only activation)\n"
    "  pool [--activate] [--json]   the pool; --activate creates a loop-lvm\n"
    "                               pool from <root>/devicemapper/devicemapper\n"
    "\n"
    "Options (before or after the arguments):\n"
    "  --root DIR    Docker's root (default: the running daemon's, else\n"
    "                /etc/docker/daemon.json's, else /var/lib/docker)\n"
    "  --pool NAME   the thin pool's dm name (default: dm.thinpooldev, else\n"
    "                docker-MAJ:MIN-INO-pool from stat of <root>/devicemapper)\n"
    "  -h, --help    this text\n"
    "\n"
    "CONTAINER is a full id, a unique id prefix, or a name.\n";

struct Command {
  std::string_view name;
  int (*run)(const docker::Options&);
};

constexpr Command kCommands[] = {
    {"df", docker::DfCommand},         {"inspect", docker::InspectCommand},
    {"ls", docker::LsCommand},         {"mount", docker::MountCommand},
    {"pool", docker::PoolCommand},     {"umount", docker::UmountCommand},
};

int UsageError(const std::string& message) {
  fprintf(stderr, "docker: %s\nTry 'dmkit docker --help' for more information.\n",
          message.c_str());
  return 1;
}

}  // namespace

int DockerMain(int argc, char** argv) {
  docker::Options options;
  const Command* command = nullptr;
  bool only_positionals = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!only_positionals && arg.size() > 1 && arg[0] == '-') {
      if (arg == "--") {
        only_positionals = true;
        continue;
      }
      if (arg == "-h" || arg == "--help") {
        fputs(kUsage, stdout);
        return 0;
      }
      std::string_view key = arg;
      std::optional<std::string> value;
      if (size_t eq = arg.find('='); eq != std::string_view::npos) {
        key = arg.substr(0, eq);
        value = std::string(arg.substr(eq + 1));
      }
      auto take_value = [&]() -> bool {
        if (value) return true;
        if (i + 1 >= argc) return false;
        value = argv[++i];
        return true;
      };
      if (key == "--root" || key == "--pool") {
        if (!take_value() || value->empty()) {
          return UsageError(std::string(key) + " needs a value");
        }
        (key == "--root" ? options.root : options.pool) = *value;
        continue;
      }
      if (value) {
        return UsageError("option " + std::string(key) + " takes no value");
      }
      if (arg == "--json") {
        options.json = true;
      } else if (arg == "--rw") {
        options.rw = true;
      } else if (arg == "--no-activate") {
        options.no_activate = true;
      } else if (arg == "--activate") {
        options.activate = true;
      } else {
        return UsageError("unknown option " + std::string(arg));
      }
      continue;
    }
    if (command == nullptr) {
      for (const Command& c : kCommands) {
        if (c.name == arg) command = &c;
      }
      if (command == nullptr) {
        return UsageError("unknown command '" + std::string(arg) + "'");
      }
      continue;
    }
    options.args.emplace_back(arg);
  }
  if (command == nullptr) {
    fputs(kUsage, stderr);
    return 1;
  }
  // Options that do not belong to the command are mistakes, not no-ops.
  std::string_view n = command->name;
  if (options.rw && n != "mount") return UsageError("--rw is for mount");
  if (options.json && n != "ls" && n != "df" && n != "pool") {
    return UsageError("--json is for ls, df and pool");
  }
  if (options.no_activate && n != "df") {
    return UsageError("--no-activate is for df");
  }
  if (options.activate && n != "pool") {
    return UsageError("--activate is for pool");
  }
  int status = command->run(options);
  fflush(stdout);
  return status;
}

}  // namespace dmkit
