// File: tools/dmsetup/tree.h
//
// The device dependency tree of dmsetup: libdm's dm_tree as far as
// `ls --tree` and the report's tree fields use it, and dmsetup's
// pstree-style drawing of it.
#ifndef DMKIT_TOOLS_DMSETUP_TREE_H_
#define DMKIT_TOOLS_DMSETUP_TREE_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "dmioctl/types.h"
#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

struct TreeNode {
  std::string name;  // "" for devices that are not device-mapper's
  std::string uuid;
  dmioctl::DevNum dev;
  bool exists = false;
  dmioctl::DeviceInfo info;
  std::vector<int> uses;     // children: the devices this one maps onto
  std::vector<int> used_by;  // parents
};
class DepTree {
 public:
  static constexpr int kRoot = 0;
  DepTree();
  // dm_tree_add_dev(): the device and, recursively, what it uses.
  absl::Status AddDevice(Session& s, dmioctl::DevNum dev);
  const TreeNode& node(int i) const { return nodes_[i]; }
  int Find(dmioctl::DevNum dev) const;
  // dm_tree_node_num_children(): 0 for bottom (inverted: top) nodes.
  int NumChildren(int i, bool inverted) const;
  const std::vector<TreeNode>& nodes() const { return nodes_; }

 private:
  absl::StatusOr<int> AddNode(Session& s, int parent, dmioctl::DevNum dev);
  bool Linked(int parent, int child) const;
  void Link(int parent, int child);
  void Unlink(int parent, int child);
  std::vector<TreeNode> nodes_;
};

// Parses --tree -o options ("Tree options not recognised: ..." on error).
absl::Status ParseTreeOptions(absl::string_view options, TreeStyle* style);
std::string RenderTree(Session& s, const DepTree& tree, const TreeStyle& style);

// `ls --tree` (and `ls` with --tree among the options).
absl::Status CmdTree(Session& s, const CmdArgs& a);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_TREE_H_
