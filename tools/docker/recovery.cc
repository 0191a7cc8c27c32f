// `dmkit docker mount` and `dmkit docker umount`: the incident's manual
// recovery (dmsetup create with Docker's name and table, mount, clean up,
// umount, dmsetup remove) with its mistakes made impossible: the device
// that is removed is exactly the one that was activated, and only when
// nothing holds it.
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "mountns/mount.h"
#include "tools/docker/commands.h"
#include "tools/docker/store.h"

namespace dmkit::docker {
namespace {

using dmioctl::DeviceMapper;
using dmioctl::DeviceRef;

absl::StatusOr<std::string> RealDirectory(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    return dmkit::ErrnoError(errno, absl::StrCat("mountpoint ", path));
  }
  struct stat st;
  if (stat(buf, &st) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("stat ", buf));
  }
  if (!S_ISDIR(st.st_mode)) {
    return dmkit::ErrnoError(ENOTDIR, absl::StrCat("mountpoint ", buf));
  }
  return std::string(buf);
}

// Who still holds a device: open count, dm/md devices stacked on it, and
// mounts in any namespace. Empty when nothing does.
absl::StatusOr<std::vector<std::string>> Holders(DeviceMapper& dm,
                                                 const std::string& name,
                                                 dmioctl::DevNum dev) {
  std::vector<std::string> out;
  absl::StatusOr<dmioctl::DeviceInfo> info =
      dm.GetInfo(DeviceRef::ByName(name));
  if (!info.ok()) return info.status();
  if (info->open_count > 0) {
    out.push_back(absl::StrCat("open count ", info->open_count));
  }
  std::string dir =
      absl::StrCat("/sys/dev/block/", dev.major, ":", dev.minor, "/holders");
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      out.push_back(absl::StrCat("holder ", e->d_name));
    }
    closedir(d);
  }
  if (absl::StatusOr<MountTable> mounts = MountTable::Scan(); mounts.ok()) {
    for (const NamespaceMount& m : mounts->OfDevice(dev.ToDevT())) {
      out.push_back(absl::StrCat("mounted in ", m.Describe()));
    }
  } else {
    out.push_back(absl::StrCat("mounts unknown: ", mounts.status().message()));
  }
  return out;
}

// The mounts `umount` took down in this namespace, put back (in mount
// order) when it cannot finish, so that it either does everything or
// changes nothing.
class TakenDown {
 public:
  TakenDown() = default;
  TakenDown(const TakenDown&) = delete;
  TakenDown& operator=(const TakenDown&) = delete;
  ~TakenDown() { Restore(absl::OkStatus()).IgnoreError(); }

  absl::Status Unmount(const OwnMount& m) {
    absl::Status s = UnmountOwn(m.mount_point);
    if (s.ok()) done_.push_back(m);
    return s;
  }
  const std::vector<OwnMount>& mounts() const { return done_; }
  // The unmounts stand.
  void Keep() { done_.clear(); }
  // Mounts everything again; returns `why` with what that did appended.
  absl::Status Restore(const absl::Status& why) {
    std::string note;
    while (!done_.empty()) {
      const OwnMount& m = done_.back();
      absl::Status again = MountAgain(m);
      absl::StrAppend(&note, "; ", m.mount_point,
                      again.ok() ? " is mounted again"
                                 : absl::StrCat(" is NOT mounted again: ",
                                                Describe(again)));
      done_.pop_back();
    }
    if (why.ok() || note.empty()) return why;
    return absl::Status(why.code(), absl::StrCat(Describe(why), note));
  }

 private:
  std::vector<OwnMount> done_;  // most recent unmount last
};

// Removes a device dmkit activated. Its node goes first, so that the
// kernel's removal is the last step: if that fails, the node is made again
// and nothing has changed.
absl::Status RemoveActivated(DeviceMapper& dm, dmioctl::DeviceNodes& nodes,
                             const std::string& name, dmioctl::DevNum dev) {
  struct stat st;
  bool had_node = lstat(nodes.PathFor(name).c_str(), &st) == 0 &&
                  (S_ISBLK(st.st_mode) || S_ISLNK(st.st_mode));
  if (had_node) {
    absl::Status unlinked = nodes.Remove(name);
    if (!unlinked.ok()) return unlinked;
  }
  absl::StatusOr<dmioctl::DeviceInfo> removed = dmioctl::RemoveDevice(
      dm, DeviceRef::ByName(name),
      {.retries = 5, .retry_delay = std::chrono::milliseconds(100)});
  if (!removed.ok() && had_node) {
    nodes.Add(name, dev).IgnoreError();  // best effort; the error is reported
  }
  return removed.status();
}

}  // namespace

absl::StatusOr<std::string> CheckMountPoint(const std::string& path) {
  absl::StatusOr<std::string> mountpoint = RealDirectory(path);
  if (!mountpoint.ok()) return mountpoint.status();
  absl::StatusOr<std::vector<OwnMount>> own = OwnMounts();
  if (!own.ok()) return own.status();
  for (const OwnMount& m : *own) {
    if (m.mount_point == *mountpoint) {
      return absl::FailedPreconditionError(absl::StrCat(
          "mountpoint ", *mountpoint, " is already in use (",
          m.source.empty() ? m.fs_type : m.source, " is mounted there)"));
    }
  }
  return mountpoint;
}

absl::StatusOr<mountns::ScopedMount> MountNode(const std::string& node,
                                               const std::string& mountpoint,
                                               bool rw, std::string& fs,
                                               std::string& fs_options) {
  absl::StatusOr<std::string> type = DetectFilesystem(node);
  if (!type.ok()) return type.status();  // names the device node
  fs = *type;
  // Every snapshot of Docker's base device shares its XFS UUID.
  fs_options = fs == "xfs" ? "nouuid" : "";
  absl::StatusOr<mountns::ScopedMount> mount =
      MountDevice(node, mountpoint, fs, fs_options, !rw);
  if (!mount.ok() && !rw && ErrnoOf(mount.status()) == EROFS) {
    // mountns's message names the device node and the mountpoint.
    return absl::Status(
        mount.status().code(),
        absl::StrCat(Describe(mount.status()),
                     " (a dirty log cannot be replayed read-only; try --rw)"));
  }
  return mount;
}

int MountCommand(const DeviceMapperOrError& dm_or_error,
                 const Options& options) {
  if (options.args.size() != (options.device_id ? 1 : 2)) {
    return Fail(
        "mount takes CONTAINER and MOUNTPOINT, or --device-id N and "
        "MOUNTPOINT");
  }
  std::unique_ptr<Session> session =
      OpenSession(dm_or_error, options, /*print_warnings=*/false);
  if (session == nullptr) return 1;
  Session& s = *session;
  if (options.device_id) return MountThinCommand(s, options);
  absl::StatusOr<const Container*> found = s.Resolve(options.args[0]);
  if (!found.ok()) return Fail(found.status());
  const Container& c = **found;
  if (!c.mount_id_error.ok()) return Fail(c.mount_id_error);
  if (!c.device_error.ok()) return Fail(c.device_error);
  const DeviceMetadata& meta = *c.device;
  const std::string name = s.DeviceNameOf(c);
  if (meta.deleted) {
    return Fail(absl::StrCat(
        "refusing to activate ", name, ": ", s.store().MetadataPath(c.mount_id),
        " marks thin device ", meta.device_id,
        " deleted (Docker's deferred deletion is pending)"));
  }
  if (c.running) {
    fprintf(stderr,
            "docker: warning: %s is recorded as running; its filesystem may "
            "be in use by the container\n",
            c.ShortName().c_str());
  }
  absl::StatusOr<DeviceMapper*> dmp = s.Dm();
  if (!dmp.ok()) return Fail(dmp.status());
  DeviceMapper& dm = **dmp;
  absl::StatusOr<PoolState> pool = s.Pool();
  if (!pool.ok()) return Fail(About(name, pool.status()));
  if (std::string why = pool->RefusalReason(); !why.empty()) {
    return Fail(absl::StrCat("refusing to activate ", name, " on ", pool->name,
                             ": ", why));
  }
  if (pool->status.mode == "out_of_data_space") {
    fprintf(stderr,
            "docker: warning: pool %s is out of data space; writes may wait "
            "or fail\n",
            pool->name.c_str());
  }

  absl::StatusOr<std::string> mountpoint = CheckMountPoint(options.args[1]);
  if (!mountpoint.ok()) return Fail(mountpoint.status());

  absl::StatusOr<std::vector<ThinMapping>> mappings =
      ListThinMappings(dm, pool->info.dev);
  if (!mappings.ok()) return Fail(About(name, mappings.status()));
  std::optional<ThinMapping> existing;
  for (const ThinMapping& m : *mappings) {
    if (m.name == name) {
      existing = m;
      continue;
    }
    if (m.thin_id == meta.device_id) {
      return Fail(absl::StrCat(
          "refusing to activate ", name, ": thin device ", meta.device_id,
          " of ", pool->name, " is already active as ", m.name, " (",
          m.dev.ToString(),
          "); two mappings of one thin device, mounted twice, corrupt it"));
    }
  }
  if (!existing) {
    // A device with Docker's name that is not a thin target on this pool.
    absl::StatusOr<dmioctl::TableReply> other =
        dm.GetTable(DeviceRef::ByName(name));
    if (other.ok()) {
      return Fail(absl::StrCat("refusing to use ", name,
                               ": it exists but is not thin device ",
                               meta.device_id, " of ", pool->name));
    }
    if (dmkit::ErrnoOf(other.status()) != ENXIO) {
      return Fail(About(name, other.status()));
    }
  } else {
    if (existing->thin_id != meta.device_id ||
        existing->sectors != meta.sectors()) {
      return Fail(absl::StrCat("refusing to use ", name, ": its table '",
                               existing->table_line, "' does not match ",
                               s.store().MetadataPath(c.mount_id)));
    }
    if (existing->read_only && options.rw) {
      return Fail(absl::StrCat(name,
                               " is active read-only; `dmkit docker "
                               "umount` it before mounting with --rw"));
    }
  }

  // From here on every step is undone if a later one fails, and nothing is
  // reported done before everything is.
  dmioctl::ScopedDevice created;
  dmioctl::DevNum dev;
  bool made_node = false;
  dmioctl::DeviceNodes& nodes = s.nodes();
  std::string node = nodes.PathFor(name);
  std::string report;
  if (existing) {
    dev = existing->dev;
    absl::StatusOr<bool> added = nodes.Add(name, dev);
    if (!added.ok()) return Fail(About(name, added.status()));
    made_node = *added;
    report =
        absl::StrCat("using ", name, " (", dev.ToString(), "), already active",
                     absl::StartsWith(existing->uuid, kMountUuidPrefix)
                         ? " (activated by dmkit)\n"
                         : "; it stays active after umount\n");
  } else {
    dmioctl::Table table = DockerThinTable(meta, pool->info.dev, !options.rw);
    absl::StatusOr<dmioctl::ScopedDevice> d = dmioctl::ScopedDevice::Create(
        dm, name, table, {.uuid = MountUuid(c.mount_id), .nodes = &nodes});
    if (!d.ok()) return Fail(About(name, d.status()));
    created = std::move(*d);
    dev = created.dev();
    report = absl::StrCat("activated ", name, " (", dev.ToString(), ")",
                          options.rw ? "" : " read-only", ": ",
                          dmioctl::FormatTable(table));
  }
  auto unlink_node = absl::MakeCleanup([&] {
    if (made_node) nodes.Remove(name).IgnoreError();  // rollback, best effort
  });

  std::string fs, fs_options;
  absl::StatusOr<mountns::ScopedMount> mount =
      MountNode(node, *mountpoint, options.rw, fs, fs_options);
  if (!mount.ok()) return Fail(mount.status());
  mount->Release();
  created.Release();
  std::move(unlink_node).Cancel();
  fputs(report.c_str(), stdout);
  printf("mounted %s on %s (%s, %s%s%s)\n", node.c_str(), mountpoint->c_str(),
         fs.c_str(), options.rw ? "rw" : "ro", fs_options.empty() ? "" : ",",
         fs_options.c_str());
  printf("the container's files are under %s/rootfs\n", mountpoint->c_str());
  return 0;
}

int UmountCommand(const DeviceMapperOrError& dm_or_error,
                  const Options& options) {
  if (options.args.size() != 1) {
    return Fail("umount takes CONTAINER or MOUNTPOINT");
  }
  std::unique_ptr<Session> session =
      OpenSession(dm_or_error, options, /*print_warnings=*/false);
  if (session == nullptr) return 1;
  Session& s = *session;
  absl::StatusOr<DeviceMapper*> dmp = s.Dm();
  if (!dmp.ok()) return Fail(dmp.status());
  DeviceMapper& dm = **dmp;
  absl::StatusOr<std::vector<OwnMount>> own = OwnMounts();
  if (!own.ok()) return Fail(own.status());

  const std::string& target = options.args[0];
  std::string name;
  std::string mount_id;
  struct stat st;
  bool is_path = absl::StartsWith(target, "/") ||
                 absl::StartsWith(target, ".") ||
                 (stat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode));
  if (is_path) {
    absl::StatusOr<std::string> mp = RealDirectory(target);
    if (!mp.ok()) return Fail(mp.status());
    const OwnMount* top = nullptr;
    for (const OwnMount& m : *own) {
      if (m.mount_point == *mp) top = &m;  // the last one is on top
    }
    if (top == nullptr) return Fail(absl::StrCat(*mp, " is not a mount point"));
    absl::StatusOr<dmioctl::DeviceInfo> info =
        dm.GetInfo(DeviceRef::ByDevNum(dmioctl::DevNum::FromDevT(top->dev)));
    std::string want = absl::StrCat(s.prefix(), "-");
    if (!info.ok() && dmkit::ErrnoOf(info.status()) != ENXIO) {
      return Fail(About(top->source, info.status()));
    }
    if (!info.ok() || !absl::StartsWith(info->name, want)) {
      return Fail(absl::StrCat(*mp, " holds ", top->source,
                               ", not a Docker device of ", s.store().root()));
    }
    name = info->name;
    mount_id = name.substr(want.size());
  } else {
    absl::StatusOr<const Container*> found = s.Resolve(target);
    if (!found.ok()) return Fail(found.status());
    if (!(*found)->mount_id_error.ok()) return Fail((*found)->mount_id_error);
    mount_id = (*found)->mount_id;
    name = s.DeviceNameOf(**found);
  }

  absl::StatusOr<dmioctl::DeviceInfo> info =
      dm.GetInfo(DeviceRef::ByName(name));
  if (!info.ok()) {
    if (dmkit::ErrnoOf(info.status()) == ENXIO) {
      return Fail(absl::StrCat(name, " is not active; nothing to unmount"));
    }
    return Fail(About(name, info.status()));
  }
  // Unmount what this namespace has of it, the most recent mount first. If
  // anything after fails (or the device is still held), the mounts are put
  // back: umount does all of its work or none, and reports only at the end.
  TakenDown taken;
  std::string report;
  for (auto it = own->rbegin(); it != own->rend(); ++it) {
    if (it->dev != info->dev.ToDevT()) continue;
    absl::Status u = taken.Unmount(*it);
    if (!u.ok()) return Fail(taken.Restore(About(name, u)));
    absl::StrAppend(&report, "unmounted ", it->mount_point, "\n");
  }
  if (info->uuid != MountUuid(mount_id)) {
    std::string why =
        absl::StrCat("dmkit did not activate it (",
                     info->uuid.empty() ? "no uuid; Docker activated it"
                                        : absl::StrCat("uuid ", info->uuid),
                     ")");
    if (taken.mounts().empty()) {
      return Fail(absl::StrCat(name, " is not mounted in this namespace; ", why,
                               ", so it stays active"));
    }
    taken.Keep();
    absl::StrAppend(&report, "left ", name, " active: ", why, "\n");
    fputs(report.c_str(), stdout);
    return 0;
  }
  absl::StatusOr<std::vector<std::string>> holders =
      Holders(dm, name, info->dev);
  if (!holders.ok()) return Fail(taken.Restore(About(name, holders.status())));
  if (!holders->empty()) {
    return Fail(taken.Restore(absl::FailedPreconditionError(
        absl::StrCat("not removing ", name, " (", info->dev.ToString(),
                     "): still held: ", absl::StrJoin(*holders, "; ")))));
  }
  absl::Status removed = RemoveActivated(dm, s.nodes(), name, info->dev);
  if (!removed.ok()) return Fail(taken.Restore(About(name, removed)));
  taken.Keep();
  absl::StrAppend(&report, "removed ", name, " (", info->dev.ToString(), ")\n");
  fputs(report.c_str(), stdout);
  return 0;
}

}  // namespace dmkit::docker
