// File: tools/dmsetup/session.h
//
// The base of the dmsetup applet: one run's Session (options, the kernel
// given by the caller, node management, output streams) and the way
// libdevmapper addresses a device, words its errors and walks all devices.
// The command files (commands.h, show.h, tree.h, batch.h) build on this and
// not on each other's internals; dmsetup.cc holds the command table.
//
// Errors: every command, and everything it calls, returns an absl::Status
// (dmioctl's for a failed ioctl, with what the request was sent to;
// Failure() for dmsetup's own lines) and does not print it; the command's
// caller hands it to Session::PrintError(), which words it as libdm does
// (text.h ErrorText()), then says "Command failed.". Only what dmsetup
// prints and goes on from (a node it could not make, each failed --retry
// attempt, each device of a walk over all) is printed where it happens,
// through the same PrintError().
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
#include "dmkit/status.h"
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
  // `status`, when it is a failed ioctl, named as libdm names request `op`
  // sent this way.
  absl::Status AsSent(const absl::Status& status, const char* op) const;
  // The kernel's refusal of request `op` sent this way (for a request
  // dmioctl refuses before the ioctl that libdm sends and the kernel
  // refuses with `error_number`).
  absl::Status KernelError(const char* op, int error_number) const;
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

// A command, and what ProcessAll runs for each device: OK, or the failure
// for Session::PrintError().
using CommandFn = absl::Status (*)(Session& s, const CmdArgs& a);
using PerDeviceFn =
    absl::FunctionRef<absl::Status(Session& s, const CmdArgs& a)>;

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
  // PrintError()
  //
  // The one printer of dmsetup's failures: ErrorText(status) (the ioctl
  // line, or the message) on the error stream. Prints nothing for OK or
  // for a status without a message (Printed()).
  void PrintError(const absl::Status& status);

  // The kernel, or dmsetup's lines for why it could not be opened (the
  // first time; Printed() after).
  absl::StatusOr<dmioctl::DeviceMapper*> Dm();
  dmioctl::DeviceNodes& Nodes() { return nodes_; }

  Mangling mangling() const { return mangling_; }
  void set_mangling(Mangling m) { mangling_ = m; }
  DevNameType dev_name_type() const { return dev_name_type_; }
  void set_dev_name_type(DevNameType t) { dev_name_type_ = t; }

  // libdm dm_task_set_name(): resolves a path to a name, checks length and
  // mangles; libdm's message on error.
  absl::StatusOr<std::string> TaskName(absl::string_view name, bool creating);
  // dm_task_set_uuid().
  absl::StatusOr<std::string> TaskUuid(absl::string_view uuid);
  // _set_task_device(): `name` if given, else -u, else -j/-m, else "No
  // device specified." (unless `optional`).
  absl::StatusOr<DeviceSel> SelectDevice(const std::string* name,
                                         bool optional = false);
  // libdm dm_task_set_newname() and dm_task_set_newuuid(): rename's
  // checks and mangling of the new name or uuid.
  absl::StatusOr<std::string> NewName(absl::string_view new_name);
  absl::StatusOr<std::string> NewUuid(absl::string_view new_uuid);
  // A kernel name for display (libdm unmangles replies in auto/hex mode);
  // libdm's message when the kernel's name should have been mangled.
  absl::StatusOr<std::string> Unmangled(absl::string_view kernel_name,
                                        absl::string_view what);

  // libdm _add_dev_node(), after a create or resume: DeviceNodes::Add()
  // behind libdm's check and wording. `owner`: create's -U/-G/-M; Debian's
  // defaults otherwise. As in libdm, a failure is printed and the command
  // goes on.
  void AddNode(absl::string_view name, dmioctl::DevNum dev,
               const dmioctl::NodeOwnership* owner = nullptr);
  // After a resume: --readahead, as libdm's set_dev_node_read_ahead();
  // failures are printed, and the command goes on.
  void SetReadAhead(absl::string_view name, dmioctl::DevNum dev);
  // libdm dm_task_get_read_ahead(): sysfs, else BLKRAGET on the node.
  absl::StatusOr<uint32_t> ReadAhead(absl::string_view name,
                                     dmioctl::DevNum dev);
  // dm_device_get_name(): the kernel name (dm-3, loop0) with
  // `prefer_kernel_name`, else the dm name for dm devices. A device sysfs
  // does not know is a failure without a message.
  absl::StatusOr<std::string> DeviceName(dmioctl::DevNum dev,
                                         bool prefer_kernel_name);
  // Whether `major` is device-mapper's (/proc/devices).
  bool IsDmMajor(uint32_t major);

  // `info` long form (a read-ahead that cannot be had is printed and
  // left out); `info -c` rows go to the report.
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
  const DepTree* report_tree() const { return report_tree_.get(); }
  void set_report_tree(std::unique_ptr<DepTree> tree);

 private:
  Options options_;
  std::string dev_dir_;
  dmioctl::DeviceNodes nodes_;
  absl::StatusOr<dmioctl::DeviceMapper*> dm_;
  bool dm_failure_returned_ = false;
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
};

// Failure()
//
// A failure in dmsetup's own words: PrintError() prints `lines` (one or
// more, without the last newline) as they are.
absl::Status Failure(absl::string_view lines);

// Printed()
//
// A failure with nothing (more) to say: its lines are out already
// (ProcessAll prints each device's as it goes), or dmsetup fails without a
// line. PrintError() prints nothing for it.
absl::Status Printed();

// ReadFd()
//
// Everything up to end of file (retrying EINTR and EAGAIN).
absl::StatusOr<std::string> ReadFd(int fd);

// dmsetup _process_all(): runs `fn` for every device the kernel lists,
// printing each failure as it comes (the result is then Printed()).
// Prints "No devices found" (unless `silent`) when there are none.
absl::Status ProcessAll(Session& s, const CmdArgs& a, bool silent,
                        PerDeviceFn fn);

// libdm dm_mknodes(): one device's node, or the whole directory.
absl::Status Mknodes(Session& s, const std::string* name);

// The info long form as text (dmsetup _display_info_long).
std::string FormatInfoLong(const dmioctl::DeviceInfo& info,
                           absl::string_view name,
                           std::optional<uint32_t> read_ahead);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_SESSION_H_
