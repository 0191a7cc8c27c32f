// File: tools/docker/commands.h
//
// The subcommands of `dmkit docker`. Each takes the parsed options, prints
// its report on stdout and its errors on stderr ("docker: ..."), and
// returns the exit status (0 success, 1 failure or refusal).
#ifndef DMKIT_TOOLS_DOCKER_COMMANDS_H_
#define DMKIT_TOOLS_DOCKER_COMMANDS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/nodes.h"
#include "tools/common/json_writer.h"
#include "tools/docker/devices.h"
#include "tools/docker/discovery.h"
#include "tools/docker/mounts.h"
#include "tools/docker/store.h"

namespace dmkit::docker {

// device-mapper as the applet's caller opened it, or why it could not be
// opened (ls and inspect still show what the files say without it).
using DeviceMapperOrError = absl::StatusOr<dmioctl::DeviceMapper*>;

struct Options {
  std::optional<std::string> root;
  std::optional<std::string> pool;
  bool json = false;
  bool rw = false;
  bool no_activate = false;
  bool activate = false;
  bool orphans = false;  // ls --orphans
  bool dry_run = false;  // gc --dry-run
  // mount --device-id N: thin device N of the pool, by its id alone.
  std::optional<uint32_t> device_id;
  // pool --grow-data / --grow-metadata SIZE, in bytes (see grow.h).
  std::optional<uint64_t> grow_data;
  std::optional<uint64_t> grow_metadata;
  std::vector<std::string> args;  // positionals after the subcommand
};

// What every subcommand starts from: the root, the names, the containers,
// and device-mapper (which may be unavailable: ls and inspect still show
// what the files say).
class Session {
 public:
  static absl::StatusOr<std::unique_ptr<Session>> Open(
      const DeviceMapperOrError& dm, const Options& options);

  const Store& store() const { return store_; }
  const Discovery& discovery() const { return discovery_; }
  const std::string& prefix() const { return prefix_; }
  const PoolChoice& pool_choice() const { return pool_; }
  const std::vector<Container>& containers() const { return containers_; }
  dmioctl::DeviceNodes& nodes() { return nodes_; }

  // device-mapper, or why it cannot be used.
  absl::StatusOr<dmioctl::DeviceMapper*> Dm() const;
  // The pool's state (kNotFound when it is not active).
  absl::StatusOr<PoolState> Pool() const;
  // Active thin mappings on the pool (empty when the pool is not active).
  absl::StatusOr<std::vector<ThinMapping>> Mappings() const;

  std::string DeviceNameOf(const Container& c) const {
    return DeviceName(prefix_, c.mount_id);
  }
  absl::StatusOr<const Container*> Resolve(absl::string_view query) const {
    return ResolveContainer(containers_, query);
  }

 private:
  Session() = default;
  Store store_{""};
  Discovery discovery_;
  std::string prefix_;
  PoolChoice pool_;
  std::vector<Container> containers_;
  DeviceMapperOrError dm_;
  dmioctl::DeviceNodes nodes_;
};

// How one container's device stands right now.
struct DeviceView {
  std::string name;                   // Docker's name for it
  std::optional<ThinMapping> active;  // under that name
  std::vector<ThinMapping> others;    // same thin id, other names
  std::optional<Usage> usage;
  absl::Status usage_error;
  std::vector<NamespaceMount> mounts;  // of the active mapping(s)
};
DeviceView ViewDevice(const Session& session, const Container& container,
                      const std::vector<ThinMapping>& mappings,
                      const MountTable* mounts);

int LsCommand(const DeviceMapperOrError& dm, const Options& options);
int InspectCommand(const DeviceMapperOrError& dm, const Options& options);
int MountCommand(const DeviceMapperOrError& dm, const Options& options);
int UmountCommand(const DeviceMapperOrError& dm, const Options& options);
int DfCommand(const DeviceMapperOrError& dm, const Options& options);
int PoolCommand(const DeviceMapperOrError& dm, const Options& options);
int GcCommand(const DeviceMapperOrError& dm, const Options& options);

// Parts of the commands in more than one file.
//
// `ls --orphans` (gc.cc).
int LsOrphans(Session& session, const Options& options);
// `mount --device-id N DIR` (thin_mount.cc).
int MountThinCommand(Session& session, const Options& options);
// For `ls` when Docker's metadata is missing or unreadable (gc.cc): the
// pool's thin devices, from the pool's own metadata, as a text section after
// the containers, or as members of ls's JSON object. Nothing otherwise.
void PrintPoolThins(Session& session);
void PoolThinsJson(Session& session, json::Writer& w);
// Discovery's warnings on stderr.
void PrintWarnings(const Session& session);
// Session::Open() for a command, with discovery's warnings printed (unless
// told not to); null, with the error printed, when it could not be opened.
std::unique_ptr<Session> OpenSession(const DeviceMapperOrError& dm,
                                     const Options& options,
                                     bool print_warnings = true);
// CheckMountPoint()
//
// The real path of `path`, which must be a directory nothing is mounted on
// in this namespace (recovery.cc).
absl::StatusOr<std::string> CheckMountPoint(const std::string& path);
// MountNode()
//
// Mounts the filesystem on `node` (XFS with nouuid: Docker's snapshots
// share their base's UUID) on `mountpoint`, read-only unless `rw`. Returns
// the handle (unmounting unless released) and fills `fs`/`fs_options`
// (recovery.cc).
absl::StatusOr<mountns::ScopedMount> MountNode(const std::string& node,
                                               const std::string& mountpoint,
                                               bool rw, std::string& fs,
                                               std::string& fs_options);

// Prints "docker: <message>" on stderr; returns 1.
int Fail(const absl::Status& status);
int Fail(absl::string_view message);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_COMMANDS_H_
