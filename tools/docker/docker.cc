// `dmkit docker`: the incident's recovery in one command. Reads Docker's
// devicemapper files without the daemon, activates container devices with
// Docker's exact names and tables, mounts them, and shows who holds them in
// which mount namespace. See tools/docker/commands.h.
#include "tools/docker/docker.h"

#include <stdio.h>

#include <string>

#include "dmioctl/device_mapper.h"
#include "tools/applet.h"
#include "tools/docker/cli.h"

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
    "                               device, size, state, use, where mounted;\n"
    "                               when Docker's metadata is missing or\n"
    "                               unreadable, also the pool's thin devices\n"
    "  ls --orphans [--json]        thin devices of the pool no Docker\n"
    "                               metadata references (id, mapped size,\n"
    "                               creation time), and metadata naming a\n"
    "                               device the pool lacks\n"
    "  inspect CONTAINER            the chain from container to thin device\n"
    "  mount [--rw] CONTAINER DIR   activate the device with Docker's name "
    "and\n"
    "                               table and mount it (read-only by default)\n"
    "  mount --device-id N [--rw] DIR\n"
    "                               activate thin device N of the pool by its\n"
    "                               id alone (sized by its filesystem's\n"
    "                               superblock, ext4 or xfs) and mount it\n"
    "  umount CONTAINER|DIR         unmount; remove the device if dmkit\n"
    "                               activated it (all or nothing: while\n"
    "                               anything else holds it, nothing changes)\n"
    "  df [--json] [--no-activate]  use of every device, fullest first, and "
    "of\n"
    "                               the pool (inactive devices are measured "
    "by\n"
    "                               a brief read-only activation)\n"
    "  pool [--activate] [--json]   the pool; --activate creates a loop-lvm\n"
    "                               pool from "
    "<root>/devicemapper/devicemapper\n"
    "  pool --grow-data SIZE        grow a loop-lvm pool's data file to SIZE\n"
    "  pool --grow-metadata SIZE    or its metadata file (or both), refresh\n"
    "                               the loop device and reload the pool, also\n"
    "                               while in use (all or nothing; never\n"
    "                               shrinks); of an inactive pool only the\n"
    "                               files grow. SIZE: bytes, or with K, M, G\n"
    "                               or T (binary multiples)\n"
    "  gc [--dry-run]               delete the orphans (ls --orphans) with\n"
    "                               the pool's delete message, each printed;\n"
    "                               stops at the first error; refuses when\n"
    "                               one is active or Docker's metadata is\n"
    "                               incomplete. --dry-run: only print them\n"
    "\n"
    "Options (before or after the arguments):\n"
    "  --root DIR    Docker's root (default: the running daemon's, else\n"
    "                /etc/docker/daemon.json's, else /var/lib/docker)\n"
    "  --pool NAME   the thin pool's dm name (default: dm.thinpooldev, else\n"
    "                docker-MAJ:MIN-INO-pool from stat of "
    "<root>/devicemapper)\n"
    "  -h, --help    this text\n"
    "\n"
    "CONTAINER is a full id, a unique id prefix, or a name.\n";

int UsageError(const std::string& message) {
  fprintf(stderr,
          "docker: %s\nTry 'dmkit docker --help' for more information.\n",
          message.c_str());
  return 1;
}

}  // namespace

namespace docker {

int Run(absl::FunctionRef<DeviceMapperOrError()> open_dm, int argc,
        char** argv) {
  absl::StatusOr<Invocation> inv = ParseCommandLine(argc, argv);
  if (!inv.ok()) {
    if (argc < 2) {
      fputs(kUsage, stderr);
      return 1;
    }
    return UsageError(std::string(inv.status().message()));
  }
  if (inv->help) {
    fputs(kUsage, stdout);
    return 0;
  }
  // Only now, with the whole command line found good, is device-mapper
  // opened: a usage error never depends on it.
  int status = FindCommand(inv->command)(open_dm(), inv->options);
  fflush(stdout);
  return status;
}

int Run(const DeviceMapperOrError& dm, int argc, char** argv) {
  return Run([&] { return dm; }, argc, argv);
}

}  // namespace docker

int DockerMain(int argc, char** argv) {
  return docker::Run(
      [] {
        return docker::DeviceMapperOrError(dmioctl::DeviceMapper::Instance());
      },
      argc, argv);
}

}  // namespace dmkit
