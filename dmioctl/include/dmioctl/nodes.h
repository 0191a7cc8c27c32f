// File: dmioctl/nodes.h
//
// Device nodes without udev. libdevmapper, when udev is absent, makes
// `<dev_dir>/mapper/<name>` itself as a block node (mode 0600, root) after
// create/resume, renames it on rename and unlinks it on remove; `dmsetup
// mknodes` reconciles the directory with the kernel. DeviceNodes does the
// same, under $DM_DEV_DIR (default /dev).
#ifndef DMIOCTL_NODES_H_
#define DMIOCTL_NODES_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"

namespace dmioctl {

class DeviceMapper;

struct MknodesReport {
  std::vector<std::string> created;   // nodes that were missing
  std::vector<std::string> replaced;  // nodes with the wrong device number
  std::vector<std::string> removed;   // nodes of devices that do not exist
};

// Owner and permissions of the nodes Add() makes. The defaults are
// upstream libdevmapper's (root:root, 0600); distributions build it with
// their own (Debian: group disk, 6, and mode 0660).
struct NodeOwnership {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0600;
};

class DeviceNodes {
 public:
  explicit DeviceNodes(std::string dev_dir = "/dev",
                       NodeOwnership owner = NodeOwnership());
  // The directory from $DM_DEV_DIR, else /dev.
  static DeviceNodes FromEnvironment();

  const std::string& dev_dir() const { return dev_dir_; }
  const NodeOwnership& ownership() const { return owner_; }
  // Applies to nodes made from now on; existing right nodes are kept as
  // they are, as libdevmapper does.
  void set_ownership(const NodeOwnership& owner) { owner_ = owner; }
  // `<dev_dir>/mapper`.
  std::string MapperDir() const;
  // `<dev_dir>/mapper/<name>`.
  std::string PathFor(absl::string_view name) const;

  // Add()
  //
  // Makes the node for `name` with device number `dev` (owned and
  // permitted as ownership() says): kept when it is
  // already a block node for `dev`, replaced when it is a block node for
  // another number, an error when something else has the name.
  // Creates `<dev_dir>/mapper` if needed. Returns whether it changed anything.
  absl::StatusOr<bool> Add(absl::string_view name, DevNum dev);

  // Remove()
  //
  // Unlinks the node for `name`; a missing node is not an error. Something
  // that is not a block node is left alone and reported.
  absl::Status Remove(absl::string_view name);
  // RemoveIfFor()
  //
  // Unlinks the node for `name` only if it is a block node for `dev`: a
  // node that another process made for a newer device of the same name
  // stays.
  absl::Status RemoveIfFor(absl::string_view name, DevNum dev);

  // Rename()
  //
  // Moves the node for `old_name` to `new_name`, as libdevmapper does: what
  // is at the new path must be a block node or a link to one (it is
  // replaced); a missing old node stays missing (a device without a table
  // has none yet). An old node with another device number is replaced by
  // the right one.
  absl::Status Rename(absl::string_view old_name, absl::string_view new_name,
                      DevNum dev);

  // Reconcile()
  //
  // `dmsetup mknodes`: removes nodes of devices the kernel does not have,
  // makes missing ones and replaces wrong ones, for every device in the
  // kernel's list. `control` is left alone.
  absl::StatusOr<MknodesReport> Reconcile(DeviceMapper& dm);

  // Test seam (fault injection): when set, `hook` is called before each
  // system call that changes the directory ("mkdir", "mknod", "chown",
  // "unlink", "rename") with that name and the path; a non-zero return is
  // taken as the call's errno and the call is not made. Unset by default;
  // nothing but tests sets it.
  // (NodeErrorStep() names the same steps.)
  using FaultHook = int (*)(absl::string_view step, absl::string_view path);
  void set_fault_hook_for_testing(FaultHook hook) { fault_hook_ = hook; }

 private:
  // True, with errno set, when the fault hook fails `step` on `path`:
  // `if (Injected("unlink", p) || unlink(p) != 0)` reads errno either way.
  bool Injected(absl::string_view step, absl::string_view path) const;
  absl::Status MakeBlockNode(const std::string& path, DevNum dev) const;

  std::string dev_dir_;
  NodeOwnership owner_;
  FaultHook fault_hook_ = nullptr;
};

// NodeErrorStep()
//
// The step a DeviceNodes error failed at, for callers that word node errors
// their own way (dmsetup words them as libdevmapper): "stat", "exists"
// (something that is not a block node is in the way), "mkdir", "mknod",
// "chown", "unlink" or "rename"; "" for any other status.
std::string NodeErrorStep(const absl::Status& status);

}  // namespace dmioctl

#endif  // DMIOCTL_NODES_H_
