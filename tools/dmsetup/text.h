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

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"

namespace dmkit::dmsetup {

// Name mangling (libdm-common.c mangle_string / unmangle_string).
enum class Mangling { kNone, kAuto, kHex };

// The characters udev takes literally in a node name: 0-9A-Za-z#+-.:=@_.
bool IsWhitelistedChar(char c);

// MangleString()
//
// Replaces every character outside the whitelist by "\xNN" and returns the
// result (`str` itself when nothing needs mangling). In auto mode (and none,
// which mangles like auto) an already mangled string is kept and a mix of
// mangled and raw characters is an error; hex mangles regardless. `what`
// names the string in libdm's messages ("name", "UUID", "new name").
absl::StatusOr<std::string> MangleString(absl::string_view str,
                                         absl::string_view what, Mangling mode);

// UnmangleString()
//
// Decodes "\xNN". In auto and hex mode a string holding characters outside
// the whitelist (other than '\') is an error: it should have been mangled.
absl::StatusOr<std::string> UnmangleString(absl::string_view str,
                                           absl::string_view what,
                                           Mangling mode);

// CheckMultipleMangled()
//
// In auto mode, "The name "..." seems to be mangled more than once. ..." for
// a string that holds a mangled backslash.
absl::Status CheckMultipleMangled(absl::string_view str, absl::string_view what,
                                  Mangling mode);

// ErrorText()
//
// What dmsetup prints for a failure. A failed ioctl (a status that carries
// dmioctl's IoctlErrorInfo) reads as libdm words it (libdm-iface.c
// _do_dm_ioctl):
//
//   device-mapper: <op> ioctl on <name> <uuid>[(<maj>:<min>)] failed:
//   <strerror>
//
// where an empty uuid leaves two spaces before "failed" (or before the
// device number), and the number is shown when the request carried one with
// a major above 0. Anything else (a check made before any ioctl, dmsetup's
// own messages) is the status message, which may hold several lines.
std::string ErrorText(const absl::Status& status);

// AsSent()
//
// `status`, when it is a failed ioctl, named as libdm's request was: with
// operation `op` (unless empty) and device number `dev` (if given) besides
// the name and uuid dmioctl sent. Any other status is returned as it is.
absl::Status AsSent(const absl::Status& status, absl::string_view op,
                    std::optional<dmioctl::DevNum> dev = std::nullopt);

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
