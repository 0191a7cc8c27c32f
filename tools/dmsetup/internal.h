// File: tools/dmsetup/internal.h
//
// What the dmsetup applet's command files share: the Session (options,
// the lazily opened DeviceMapper, node management, output) and the way
// libdevmapper addresses a device and words its errors. Internal to
// tools/dmsetup*.cc.
#ifndef DMKIT_TOOLS_DMSETUP_INTERNAL_H_
#define DMKIT_TOOLS_DMSETUP_INTERNAL_H_

#include <stdio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/nodes.h"
#include "tools/common/json_writer.h"
#include "tools/dmsetup/options.h"
#include "tools/dmsetup/report.h"
#include "tools/dmsetup/text.h"

namespace dmkit::dmsetup {

// Owner and mode of the nodes Debian's libdevmapper makes without udev
// (built with device gid 6, "disk", and mode 0660).
inline constexpr dmioctl::NodeOwnership kDebianNodeOwnership{
    .uid = 0, .gid = 6, .mode = 0660};

// How ls and deps print device numbers (-o devno|devname|blkdevname).
enum class DevNameType { kDevNo, kBlk, kMap };

// A device as a libdm task addresses it (_set_task_device): by name (the
// mangled form is what the kernel sees), by uuid, or by -j/-m number.
struct DeviceSel {
  dmioctl::DeviceRef::Kind kind = dmioctl::DeviceRef::Kind::kName;
  std::string name;  // as the kernel knows it (mangled)
  std::string uuid;  // as the kernel knows it (mangled)
  int major = -1;
  int minor = -1;

  dmioctl::DeviceRef Ref() const;
  // What libdm's error line names for a request sent this way.
  IoctlTarget Target() const;
};

class Session;
class DepTree;
struct Command;

// One invocation of a command function: dmsetup's CMD_ARGS.
struct CmdArgs {
  const Command* cmd = nullptr;
  std::vector<std::string> args;      // argv from this device on
  const std::string* listed = nullptr;  // a name from the device list
  dmioctl::DevNum listed_dev;           // and its number
  bool multiple = false;              // several devices: prefix "NAME: "
};

using CommandFn = bool (*)(Session& s, const CmdArgs& a);

struct Command {
  const char* name;
  const char* help;
  int min_args;
  int max_args;       // -1: any
  int repeatable;     // 1: once per argument; 2: and -S would apply
  CommandFn fn;
};

// How `ls --tree` draws (dmsetup's pstree-style options).
struct TreeStyle {
  bool device = true, blkdevname = false, active = false, rw = false,
       open = false, uuid = false, compact = false, truncate = true,
       bottom_up = false;
  int symbols = 0;  // 0 ascii, 1 utf, 2 vt100
  int width = 80;
};
class Session {
 public:
  Session(Options options, std::string dev_dir);
  ~Session();

  Options& opt() { return options_; }
  const std::string& dev_dir() const { return dev_dir_; }
  // <dev_dir>/mapper, libdm's dm_dir().
  std::string MapperDir() const;

  // Output. Err() writes one line to stderr.
  void Out(absl::string_view text);
  void Err(absl::string_view line);

  // The kernel, opened on first use. On failure prints dmsetup's lines and
  // returns nullptr (and keeps failing).
  dmioctl::DeviceMapper* Dm();
  dmioctl::DeviceNodes& Nodes() { return nodes_; }

  Mangling mangling() const { return mangling_; }
  void set_mangling(Mangling m) { mangling_ = m; }
  DevNameType dev_name_type() const { return dev_name_type_; }
  void set_dev_name_type(DevNameType t) { dev_name_type_ = t; }

  // libdm dm_task_set_name(): resolves a path to a name, checks length and
  // mangles. Prints libdm's message and returns nullopt on error.
  std::optional<std::string> TaskName(absl::string_view name, bool creating);
  // dm_task_set_uuid().
  std::optional<std::string> TaskUuid(absl::string_view uuid);
  // _set_task_device(): `name` if given, else -u, else -j/-m, else "No
  // device specified." (unless `optional`).
  std::optional<DeviceSel> SelectDevice(const std::string* name,
                                        bool optional = false);
  // A kernel name for display (libdm unmangles replies in auto/hex mode).
  // Prints libdm's message and returns nullopt when the kernel's name
  // should have been mangled.
  std::optional<std::string> Unmangled(absl::string_view kernel_name,
                                       absl::string_view what);

  // Prints the ioctl error line for a failed call (or, for a check the
  // library made before any ioctl, the status message).
  void IoctlError(absl::string_view op, const IoctlTarget& target,
                  const absl::Status& status);
  void IoctlErrno(absl::string_view op, const IoctlTarget& target,
                  int error_number);

  // Node operations as libdm stacks them (applied at once here).
  // `owner`: create's -U/-G/-M; Debian's defaults otherwise.
  void AddNode(absl::string_view name, dmioctl::DevNum dev,
               const dmioctl::NodeOwnership* owner = nullptr);
  void RemoveNode(absl::string_view name);
  void RenameNode(absl::string_view old_name, absl::string_view new_name);
  // After a resume: --readahead, as libdm's set_dev_node_read_ahead().
  void SetReadAhead(absl::string_view name, dmioctl::DevNum dev);
  // libdm dm_task_get_read_ahead(): sysfs, else BLKRAGET on the node.
  // Failures print libdm's messages and return nullopt.
  std::optional<uint32_t> ReadAhead(absl::string_view name,
                                    dmioctl::DevNum dev);
  // dm_device_get_name(): the kernel name (dm-3, loop0) with
  // `prefer_kernel_name`, else the dm name for dm devices.
  std::optional<std::string> DeviceName(dmioctl::DevNum dev,
                                        bool prefer_kernel_name);
  // Whether `major` is device-mapper's (/proc/devices).
  bool IsDmMajor(uint32_t major);

  // `info` long form; `info -c` rows go to the report.
  void DisplayInfo(const dmioctl::DeviceInfo& info, absl::string_view name);

  // --json: the document's top-level array of records.
  json::Writer& json() { return json_; }
  void JsonBegin(absl::string_view key);
  bool json_started() const { return json_started_; }
  std::string JsonEnd();

  Report* report() { return report_.get(); }
  void set_report(std::unique_ptr<Report> r) { report_ = std::move(r); }

  // concise table output: whether a device was printed (then a final
  // newline is due).
  bool concise_output = false;
  // A remove failed with EBUSY: say what holds it once dmsetup's lines are out.
  std::string busy_hint;
  // Devices counted by remove_all --force.
  int device_count = 0;
  // The dependency tree of all devices, built once for the tree fields.
  std::unique_ptr<DepTree> report_tree;
  bool report_tree_built = false;
  TreeStyle tree_style;

 private:
  Options options_;
  std::string dev_dir_;
  dmioctl::DeviceNodes nodes_;
  std::unique_ptr<dmioctl::DeviceMapper> dm_;
  bool dm_failed_ = false;
  Mangling mangling_ = Mangling::kAuto;
  DevNameType dev_name_type_ = DevNameType::kDevNo;
  json::Writer json_;
  bool json_started_ = false;
  std::unique_ptr<Report> report_;
  int dm_majors_loaded_ = 0;
  std::vector<uint32_t> dm_majors_;
};

// Command functions (dmsetup_commands.cc: changes; dmsetup_show.cc: reads).
bool CmdCreate(Session& s, const CmdArgs& a);
bool CmdLoad(Session& s, const CmdArgs& a);
bool CmdRemove(Session& s, const CmdArgs& a);
bool CmdRemoveAll(Session& s, const CmdArgs& a);
bool CmdSuspend(Session& s, const CmdArgs& a);
bool CmdResume(Session& s, const CmdArgs& a);
bool CmdClear(Session& s, const CmdArgs& a);
bool CmdWipeTable(Session& s, const CmdArgs& a);
bool CmdRename(Session& s, const CmdArgs& a);
bool CmdMessage(Session& s, const CmdArgs& a);
bool CmdSetGeometry(Session& s, const CmdArgs& a);
bool CmdWait(Session& s, const CmdArgs& a);
bool CmdMknodes(Session& s, const CmdArgs& a);
bool CmdMangle(Session& s, const CmdArgs& a);
bool CmdLs(Session& s, const CmdArgs& a);
bool CmdInfo(Session& s, const CmdArgs& a);
bool CmdDeps(Session& s, const CmdArgs& a);
bool CmdStatus(Session& s, const CmdArgs& a);  // status, table, ls --target
bool CmdTargets(Session& s, const CmdArgs& a);
bool CmdTargetVersion(Session& s, const CmdArgs& a);
bool CmdVersion(Session& s, const CmdArgs& a);
bool CmdSplitname(Session& s, const CmdArgs& a);
bool CmdTree(Session& s, const CmdArgs& a);

// dmsetup _process_all(): runs `fn` for every device the kernel lists.
// Prints "No devices found" (unless `silent`) when there are none.
bool ProcessAll(Session& s, const CmdArgs& a, bool silent, CommandFn fn);

// RunBatch()
//
// dmkit's --jobs N (tools/dmsetup/batch.cc): `create --concise`, `remove`
// and `remove_all` with N devices at a time. Sets `*handled` to false (and
// fails) for any other command.
bool RunBatch(Session& s, const Command* cmd,
              const std::vector<std::string>& args, bool* handled);
// libdm dm_mknodes(): one device's node, or the whole directory.
bool Mknodes(Session& s, const std::string* name);

// The dependency tree (dmsetup_tree.cc), for ls --tree and the tree fields.
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
  bool AddDevice(Session& s, dmioctl::DevNum dev);
  const TreeNode& node(int i) const { return nodes_[i]; }
  int Find(dmioctl::DevNum dev) const;
  // dm_tree_node_num_children(): 0 for bottom (inverted: top) nodes.
  int NumChildren(int i, bool inverted) const;
  const std::vector<TreeNode>& nodes() const { return nodes_; }

 private:
  int AddNode(Session& s, int parent, dmioctl::DevNum dev);
  bool Linked(int parent, int child) const;
  void Link(int parent, int child);
  void Unlink(int parent, int child);
  std::vector<TreeNode> nodes_;
};

// Parses --tree -o options; prints "Tree options not recognised" on error.
bool ParseTreeOptions(Session& s, absl::string_view options, TreeStyle* style);
std::string RenderTree(Session& s, const DepTree& tree, const TreeStyle& style);

// The info long form as text (dmsetup _display_info_long).
std::string FormatInfoLong(const dmioctl::DeviceInfo& info,
                           absl::string_view name,
                           std::optional<uint32_t> read_ahead);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_INTERNAL_H_
