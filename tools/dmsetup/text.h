// File: tools/dmsetup/text.h
//
// The text rules of Debian's dmsetup 1.02.185 (libdevmapper), as pure
// functions: name mangling, the ioctl error line, the LVM name split, key
// redaction, and the small output formats. (Table text and the concise
// form are read by dmioctl/table.h.)
// Nothing here touches the kernel, so every rule is unit-tested on its own
// (tests/unit/dmsetup_text_test.cc).
#ifndef DMKIT_TOOLS_DMSETUP_TEXT_H_
#define DMKIT_TOOLS_DMSETUP_TEXT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dmioctl/table.h"

namespace dmkit::dmsetup {

// Name mangling (libdm-common.c mangle_string / unmangle_string).
enum class Mangling { kNone, kAuto, kHex };

// The characters udev takes literally in a node name: 0-9A-Za-z#+-.:=@_.
bool IsWhitelistedChar(char c);

struct MangleResult {
  int changed = 0;    // -1 error, 0 nothing to do, 1 the output differs
  std::string value;  // the (un)mangled string when changed == 1
  std::string error;  // libdm's message when changed == -1
};

// MangleString()
//
// Replaces every character outside the whitelist by "\xNN". In auto mode
// (and none, which mangles like auto) an already mangled string is kept and
// a mix of mangled and raw characters is an error; hex mangles regardless.
// `what` names the string in messages ("name", "UUID", "new name").
MangleResult MangleString(absl::string_view str, absl::string_view what,
                          Mangling mode);

// UnmangleString()
//
// Decodes "\xNN". In auto and hex mode a string holding characters outside
// the whitelist (other than '\') is an error: it should have been mangled.
MangleResult UnmangleString(absl::string_view str, absl::string_view what,
                            Mangling mode);

// "The name "..." seems to be mangled more than once. ..." or empty.
std::string CheckMultipleMangled(absl::string_view str, absl::string_view what,
                                 Mangling mode);

// What an ioctl was addressed to, as libdm prints it in an error line: the
// name and uuid that were sent (or the task's own), and the device number
// when the task had one (major > 0).
struct IoctlTarget {
  std::string name;
  std::string uuid;
  int major = -1;
  int minor = -1;
};

// FormatIoctlError()
//
//   device-mapper: <op> ioctl on <name> <uuid>[(<maj>:<min>)] failed:
//   <strerror>
//
// (libdm-iface.c _do_dm_ioctl). An empty uuid leaves two spaces before
// "failed" (or before the device number).
std::string FormatIoctlError(absl::string_view op, const IoctlTarget& target,
                             int error_number);

// FormatStatusError()
//
// The line for a failed dmioctl call: the ioctl error line when the status
// carries the kernel's errno, else (a check the library made before any
// ioctl) the status message.
std::string FormatStatusError(absl::string_view op, const IoctlTarget& target,
                              const absl::Status& status);

// Backslash before ',', ';' and '\' (concise output).
std::string QuoteConcise(absl::string_view s);

// The LVM name split of `splitname` and the subsystem/vg/lv/layer fields.
struct SplitName {
  std::string subsystem;
  std::string vg_name;
  std::string lv_name;
  std::string lv_layer;
};
// `uuid_or_subsystem`: the device's uuid when `separator` is '-' (the prefix
// before the first '-' is the subsystem), or the subsystem itself when
// `separator` is '\0' (splitname). Only "LVM" names are split.
SplitName SplitDeviceName(absl::string_view uuid_or_subsystem,
                          absl::string_view name, char separator);

// dmsetup's strtoull/atoi-style number reading, for arguments.
int Atoi(absl::string_view s);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_TEXT_H_
