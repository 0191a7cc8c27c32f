#include "dmioctl/nodes.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <set>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"

namespace dmioctl {
namespace {

constexpr char kNodeStepUrl[] = "dmioctl/node-step";

// A failed step on the node directory: the errno, and the step's name for
// NodeErrorStep().
absl::Status NodeError(const char* step, int error_number,
                       absl::string_view context) {
  absl::Status status = dmkit::ErrnoError(error_number, context);
  status.SetPayload(kNodeStepUrl, absl::Cord(step));
  return status;
}

// "<step> <path>: <strerror>".
absl::Status StepError(const char* step, int error_number,
                       absl::string_view path) {
  return NodeError(step, error_number, absl::StrCat(step, " ", path));
}

// Something that is not a block node is where one should be.
absl::Status InTheWay(absl::string_view path, absl::string_view what) {
  return NodeError("exists", EEXIST, absl::StrCat(path, what));
}

// lstat() of a node's path: nullopt when nothing is there.
absl::StatusOr<std::optional<struct stat>> LstatIfPresent(
    const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  return StepError("stat", errno, path);
}

}  // namespace

DeviceNodes::DeviceNodes(std::string dev_dir, NodeOwnership owner)
    : dev_dir_(std::move(dev_dir)), owner_(owner) {
  while (dev_dir_.size() > 1 && dev_dir_.back() == '/') dev_dir_.pop_back();
}

DeviceNodes DeviceNodes::FromEnvironment() {
  const char* dir = getenv("DM_DEV_DIR");
  return DeviceNodes(dir && *dir ? dir : "/dev");
}

bool DeviceNodes::Injected(absl::string_view step,
                           absl::string_view path) const {
  if (fault_hook_ == nullptr) return false;
  int e = fault_hook_(step, path);
  if (e == 0) return false;
  errno = e;
  return true;
}

absl::Status DeviceNodes::MakeBlockNode(const std::string& path,
                                        DevNum dev) const {
  if (Injected("mknod", path)) {
    return StepError("mknod", errno, path);
  }
  // umask must not narrow the mode, as in libdevmapper's _add_dev_node().
  mode_t old_umask = umask(0);
  int r = mknod(path.c_str(), S_IFBLK | (owner_.mode & 07777), dev.ToDevT());
  int saved = errno;
  umask(old_umask);
  if (r != 0) return StepError("mknod", saved, path);
  if ((Injected("chown", path) ||
       chown(path.c_str(), owner_.uid, owner_.gid) != 0) &&
      errno != EPERM) {
    // A node with the wrong owner is not left behind.
    saved = errno;
    unlink(path.c_str());
    return StepError("chown", saved, path);
  }
  return absl::OkStatus();
}

std::string DeviceNodes::MapperDir() const {
  return absl::StrCat(dev_dir_, "/mapper");
}

std::string DeviceNodes::PathFor(absl::string_view name) const {
  return absl::StrCat(dev_dir_, "/mapper/", name);
}

absl::StatusOr<bool> DeviceNodes::Add(absl::string_view name, DevNum dev) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  std::string dir = MapperDir();
  if ((Injected("mkdir", dir) || mkdir(dir.c_str(), 0755) != 0) &&
      errno != EEXIST) {
    return StepError("mkdir", errno, dir);
  }
  std::string path = PathFor(name);
  DMKIT_ASSIGN_OR_RETURN(std::optional<struct stat> existing,
                         LstatIfPresent(path));
  if (existing) {
    const struct stat& st = *existing;
    if (S_ISLNK(st.st_mode)) {
      // A link made by udev that points at the right device is kept; a
      // dangling or wrong one is replaced by a node.
      struct stat target;
      if (stat(path.c_str(), &target) == 0 && S_ISBLK(target.st_mode) &&
          target.st_rdev == dev.ToDevT()) {
        return false;
      }
    } else if (!S_ISBLK(st.st_mode)) {
      return InTheWay(path, " exists and is not a block device");
    } else if (st.st_rdev == dev.ToDevT()) {
      return false;
    }
    if ((Injected("unlink", path) || unlink(path.c_str()) != 0) &&
        errno != ENOENT) {
      return StepError("unlink", errno, path);
    }
  }
  DMKIT_RETURN_IF_ERROR(MakeBlockNode(path, dev));
  return true;
}

absl::Status DeviceNodes::Remove(absl::string_view name) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  std::string path = PathFor(name);
  DMKIT_ASSIGN_OR_RETURN(std::optional<struct stat> st, LstatIfPresent(path));
  if (!st) return absl::OkStatus();
  // A symlink here was made by udev; anything else that is not a block node
  // belongs to someone else.
  if (!S_ISBLK(st->st_mode) && !S_ISLNK(st->st_mode)) {
    return InTheWay(path, " is not a block device; left in place");
  }
  if ((Injected("unlink", path) || unlink(path.c_str()) != 0) &&
      errno != ENOENT) {
    return StepError("unlink", errno, path);
  }
  return absl::OkStatus();
}

absl::Status DeviceNodes::RemoveIfFor(absl::string_view name, DevNum dev) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  std::string path = PathFor(name);
  DMKIT_ASSIGN_OR_RETURN(std::optional<struct stat> st, LstatIfPresent(path));
  if (!st || !S_ISBLK(st->st_mode) || st->st_rdev != dev.ToDevT()) {
    return absl::OkStatus();
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return StepError("unlink", errno, path);
  }
  return absl::OkStatus();
}

absl::Status DeviceNodes::Rename(absl::string_view old_name,
                                 absl::string_view new_name, DevNum dev) {
  DMKIT_RETURN_IF_ERROR(ValidateName(old_name));
  DMKIT_RETURN_IF_ERROR(ValidateName(new_name));
  std::string from = PathFor(old_name);
  std::string to = PathFor(new_name);
  struct stat st;
  if (lstat(from.c_str(), &st) == 0 && S_ISBLK(st.st_mode) &&
      st.st_rdev != dev.ToDevT()) {
    // A stale node (another number): the right one replaces it.
    DMKIT_RETURN_IF_ERROR(Add(new_name, dev).status());
    return Remove(old_name);
  }
  // libdevmapper's _rename_dev_node(): what is at the new path must be a
  // block node, or a link to one, and goes.
  if (lstat(to.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode) && stat(to.c_str(), &st) != 0) {
      return StepError("stat", errno, to);
    }
    if (!S_ISBLK(st.st_mode)) {
      return InTheWay(to, " exists and is not a block device");
    }
    // EPERM is left to rename(), which replaces the entry or fails itself.
    if ((Injected("unlink", to) || unlink(to.c_str()) != 0) &&
        errno != ENOENT && errno != EPERM) {
      return StepError("unlink", errno, to);
    }
  }
  // No node to move (a device gets its node when it is first resumed).
  if ((Injected("rename", from) || rename(from.c_str(), to.c_str()) != 0) &&
      errno != ENOENT) {
    return NodeError("rename", errno,
                     absl::StrCat("rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

absl::StatusOr<MknodesReport> DeviceNodes::Reconcile(DeviceMapper& dm) {
  MknodesReport report;
  DMKIT_ASSIGN_OR_RETURN(std::vector<DeviceListEntry> devices,
                         dm.ListDevices({.with_uuid = false}));
  std::set<std::string, std::less<>> names;
  for (const DeviceListEntry& d : devices) names.insert(d.name);

  std::string dir = MapperDir();
  if (DIR* d = opendir(dir.c_str())) {
    std::vector<std::string> stale;
    while (dirent* entry = readdir(d)) {
      absl::string_view name = entry->d_name;
      if (name == "." || name == ".." || name == "control") continue;
      if (!names.contains(name)) stale.emplace_back(name);
    }
    closedir(d);
    for (const std::string& name : stale) {
      std::string path = PathFor(name);
      struct stat st;
      // Only nodes and links are ours to drop; other files stay.
      if (lstat(path.c_str(), &st) != 0 ||
          !(S_ISBLK(st.st_mode) || S_ISLNK(st.st_mode))) {
        continue;
      }
      if ((Injected("unlink", path) || unlink(path.c_str()) != 0) &&
          errno != ENOENT) {
        return StepError("unlink", errno, path);
      }
      report.removed.push_back(name);
    }
  }
  for (const DeviceListEntry& d : devices) {
    std::string path = PathFor(d.name);
    struct stat st;
    bool existed = lstat(path.c_str(), &st) == 0;
    DMKIT_ASSIGN_OR_RETURN(bool changed, Add(d.name, d.dev));
    if (changed) (existed ? report.replaced : report.created).push_back(d.name);
  }
  return report;
}

std::string NodeErrorStep(const absl::Status& status) {
  auto step = status.GetPayload(kNodeStepUrl);
  return step ? std::string(*step) : std::string();
}

}  // namespace dmioctl
