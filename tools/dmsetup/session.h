// File: tools/dmsetup/session.h
//
// The base of the dmsetup applet: one run's Session (options, the kernel
// given by the caller, node management, output streams) and the way
// libdevmapper addresses a device, words its errors and walks all devices.
// The command files (commands.h, show.h, tree.h, batch.h) build on this and
// not on each other's internals; dmsetup.cc holds the command table.
#ifndef DMKIT_TOOLS_DMSETUP_SESSION_H_
#define DMKIT_TOOLS_DMSETUP_SESSION_H_

#include <stdio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
class DepTree;  // tree.h
struct Command;

// One invocation of a command function: dmsetup's CMD_ARGS.
struct CmdArgs {
  const Command* cmd = nullptr;
  std::vector<std::string> args;        // argv from this device on
  const std::string* listed = nullptr;  // a name from the device list
  dmioctl::DevNum listed_dev;           // and its number
  bool multiple = false;                // several devices: prefix "NAME: "
};

using CommandFn = bool (*)(Session& s, const CmdArgs& a);
// What ProcessAll runs for each device.
using PerDeviceFn = absl::FunctionRef<bool(Session& s, const CmdArgs& a)>;

struct Command {
  const char* name;
  const char* help;
  int min_args;
  int max_args;    // -1: any
  int repeatable;  // 1: once per argument; 2: and -S would apply
  CommandFn fn;
};

class Session {
 public:
  // `dm`: the kernel, or why it could not be opened (printed, as dmsetup
  // words it, by the first command that needs it).
  Session(Options options, std::string dev_dir,
          absl::StatusOr<dmioctl::DeviceMapper*> dm, FILE* out, FILE* err);
  ~Session();

  Options& opt() { return options_; }
  const std::string& dev_dir() const { return dev_dir_; }
  // <dev_dir>/mapper, libdm's dm_dir().
  std::string MapperDir() const;

  // Output. Err() writes one line to the error stream.
  FILE* out() const { return out_; }
  FILE* err() const { return err_; }
  void Out(absl::string_view text);
  void Err(absl::string_view line);

  // The kernel. When it could not be opened, prints dmsetup's lines (once)
  // and returns nullptr.
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
  bool concise_output() const { return concise_output_; }
  void set_concise_output() { concise_output_ = true; }
  // A remove failed with EBUSY: what holds it, said once dmsetup's lines
  // are out.
  const std::string& busy_hint() const { return busy_hint_; }
  void set_busy_hint(std::string hint) { busy_hint_ = std::move(hint); }
  // The dependency tree of all devices, built once (by the report's tree
  // fields) and kept for the rest of the run; nullptr until then.
  DepTree* report_tree() const { return report_tree_.get(); }
  bool report_tree_built() const { return report_tree_built_; }
  void set_report_tree(std::unique_ptr<DepTree> tree);

 private:
  Options options_;
  std::string dev_dir_;
  dmioctl::DeviceNodes nodes_;
  absl::StatusOr<dmioctl::DeviceMapper*> dm_;
  bool dm_failure_printed_ = false;
  FILE* out_;
  FILE* err_;
  Mangling mangling_ = Mangling::kAuto;
  DevNameType dev_name_type_ = DevNameType::kDevNo;
  json::Writer json_;
  bool json_started_ = false;
  std::unique_ptr<Report> report_;
  int dm_majors_loaded_ = 0;
  std::vector<uint32_t> dm_majors_;
  bool concise_output_ = false;
  std::string busy_hint_;
  std::unique_ptr<DepTree> report_tree_;
  bool report_tree_built_ = false;
};

// dmsetup _process_all(): runs `fn` for every device the kernel lists.
// Prints "No devices found" (unless `silent`) when there are none.
bool ProcessAll(Session& s, const CmdArgs& a, bool silent, PerDeviceFn fn);

// libdm dm_mknodes(): one device's node, or the whole directory.
bool Mknodes(Session& s, const std::string* name);

// The info long form as text (dmsetup _display_info_long).
std::string FormatInfoLong(const dmioctl::DeviceInfo& info,
                           absl::string_view name,
                           std::optional<uint32_t> read_ahead);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_SESSION_H_
