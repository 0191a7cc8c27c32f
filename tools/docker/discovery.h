// File: tools/docker/discovery.h
//
// Finding Docker's root and thin pool the way a user would, without asking
// the daemon (which, in a recovery, is usually stopped or stuck):
//
//   root:  --root, else the running daemon's -g/--graph/--data-root (its
//          /proc/PID/cmdline; PID from /var/run/docker.pid, else a scan of
//          /proc), else /etc/docker/daemon.json "data-root"/"graph", else
//          /var/lib/docker.
//   pool:  --pool, else dm.thinpooldev (daemon command line, then
//          daemon.json "storage-opts", then /etc/sysconfig/docker-storage),
//          else "docker-thinpool" for dm.directlvm_device, else
//          docker-MAJ:MIN-INO-pool from stat() of <root>/devicemapper.
//
// Every path under /proc, /etc and /var/run comes from HostPaths, so tests
// run against a fake tree.
#ifndef DMKIT_TOOLS_DOCKER_DISCOVERY_H_
#define DMKIT_TOOLS_DOCKER_DISCOVERY_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmkit::docker {

struct HostPaths {
  std::string proc = "/proc";
  std::string etc = "/etc";
  std::string pid_file = "/var/run/docker.pid";
};

// A running Docker daemon.
struct DaemonProcess {
  pid_t pid = 0;
  std::vector<std::string> argv;
};

// What a daemon command line or daemon.json says about storage.
struct DaemonOptions {
  std::optional<std::string> root;            // -g, --graph, --data-root
  std::optional<std::string> storage_driver;  // -s, --storage-driver
  std::vector<std::string> storage_opts;      // "dm.thinpooldev=..."
};

// IsDaemonCommandLine()
//
// dockerd (and RHEL's dockerd-current), or the pre-1.12 `docker daemon` /
// `docker -d`.
bool IsDaemonCommandLine(const std::vector<std::string>& argv);

// ParseDaemonArgs()
//
// The storage options of a daemon command line. Accepts Go flag forms:
// "-g DIR", "-g=DIR", "--graph DIR", "--graph=DIR", "--data-root[=]DIR",
// "--storage-opt[=]K=V", "-s[=]DRIVER", "--storage-driver[=]DRIVER". A later
// root wins, as with Go's flag package.
DaemonOptions ParseDaemonArgs(const std::vector<std::string>& argv);

// ParseDaemonJson()
//
// /etc/docker/daemon.json: "data-root" (or the older "graph"),
// "storage-driver" and "storage-opts".
absl::StatusOr<DaemonOptions> ParseDaemonJson(absl::string_view text);

// ParseSysconfigStorage()
//
// The --storage-opt values of DOCKER_STORAGE_OPTIONS in RHEL's
// /etc/sysconfig/docker-storage (written by docker-storage-setup).
DaemonOptions ParseSysconfigStorage(absl::string_view text);

// FindDaemon()
//
// The running daemon: the pid file's process if it is a daemon, else the
// lowest-numbered daemon process under proc. nullopt when none runs.
std::optional<DaemonProcess> FindDaemon(const HostPaths& paths);

// Where a setting came from, for messages: "--root", "dockerd (pid 812)
// --data-root", "/etc/docker/daemon.json \"graph\"", "default".
struct Discovery {
  std::string root;
  std::string root_source;
  std::optional<DaemonProcess> daemon;
  std::optional<std::string> thinpooldev;  // stripped of /dev/mapper/
  std::string thinpooldev_source;
  bool directlvm = false;
  // Problems met on the way (an unreadable daemon.json): reported, not fatal.
  std::vector<std::string> warnings;
};

// Discover()
//
// Root and pool settings from the flags, the daemon, daemon.json and
// sysconfig, in the order in the file comment.
Discovery Discover(const std::optional<std::string>& root_flag,
                   const HostPaths& paths = {});

struct PoolChoice {
  std::string name;
  std::string source;
};

// ChoosePool()
//
// The pool's dm name: the flag, else dm.thinpooldev, else docker-thinpool
// for direct-lvm, else PoolName(prefix). `prefix` comes from the store.
PoolChoice ChoosePool(const std::optional<std::string>& pool_flag,
                      const Discovery& discovery, absl::string_view prefix);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_DISCOVERY_H_
