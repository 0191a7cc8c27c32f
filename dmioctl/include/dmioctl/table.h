// File: dmioctl/table.h
//
// A device-mapper table is an ordered list of targets, each mapping
// `length` sectors from `start` to a target type with its parameter text.
// This file holds the table types and the three text forms tables travel in:
//
//  * dmsetup's table text, one target per line:
//      0 20971520 thin 253:3 34709
//  * dmsetup's concise form, several devices on one line (`create --concise`,
//    `table --concise`), with `\` escapes for `,` `;` and `\`:
//      name,uuid,minor,rw,0 2048 linear 7:0 0;name2,,,ro,0 8 zero
//  * the kernel's `dm-mod.create=` boot parameter (dm-init), which has the
//    same shape but no escapes.
//
// The table text and concise parsers are the ones dmkit dmsetup uses, with
// its exact error lines. Every parser is bounded and total: malformed text
// is an InvalidArgument error naming the line or field, never a crash.
#ifndef DMIOCTL_TABLE_H_
#define DMIOCTL_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmioctl {

// Longest target type name the kernel takes (DM_MAX_TYPE_NAME - 1).
inline constexpr size_t kMaxTargetTypeLength = 15;

struct Target {
  uint64_t start = 0;   // sectors
  uint64_t length = 0;  // sectors
  std::string type;     // "linear", "thin", ...
  std::string params;   // the target's own argument text

  friend bool operator==(const Target&, const Target&) = default;
};

struct Table {
  std::vector<Target> targets;
  bool read_only = false;

  // Appends a target that starts where the previous one ends.
  Table& Append(uint64_t length, std::string type, std::string params);
  // Total length in sectors (end of the last target).
  uint64_t Sectors() const;
  bool empty() const { return targets.empty(); }

  // Validate()
  //
  // Checks what the kernel checks at load, so a bad table fails before any
  // ioctl: at least one target, none of zero length, the first starting at 0
  // and each starting where the previous ended, type names of 1..15 bytes,
  // no NUL byte in a type or parameters (the kernel would cut them there).
  absl::Status Validate() const;

  friend bool operator==(const Table&, const Table&) = default;
};

// ParseTable()
//
// dmsetup's table reader (_parse_line), which is what dmkit dmsetup uses:
// each line trimmed, blank lines and lines starting with '#' skipped,
// `start length type params` read as sscanf("%llu %llu %s %n") reads them
// (so "-1" is 2^64-1, and a number past 2^64 is 2^64-1), and the params cut
// at the first '#' (blanks before it are kept, as dmsetup sends them).
// Errors are dmsetup's lines: "Invalid format on line N of table SOURCE."
// (`source`: "" for --table text, "on stdin", or the file's name) and
// "Target type name TYPE is too long.". Does not call Validate(): the
// kernel is the judge of gaps when the caller wants it to be.
absl::StatusOr<Table> ParseTable(absl::string_view text,
                                 absl::string_view source = "");

// FormatTable()
//
// One `start length type params` line per target, each ending in '\n'.
std::string FormatTable(const Table& table);

// ParseTargetLine()
//
// One `start length type [params]` line, read as ParseTable reads a line
// (without its trimming and '#' handling); the error for a line that does
// not scan is "invalid format".
absl::StatusOr<Target> ParseTargetLine(absl::string_view line);

// One device of the concise or dm-init form.
struct DeviceSpec {
  std::string name;
  std::string uuid;               // empty: none
  std::optional<uint32_t> minor;  // empty: any
  Table table;                    // table.read_only carries the ro/rw flag

  friend bool operator==(const DeviceSpec&, const DeviceSpec&) = default;
};

// One device of the concise form as written, unescaped: the table field's
// lines (the commas after the fifth field) joined by '\n'.
struct ConciseFields {
  std::string name;
  std::string uuid;
  std::string minor;
  std::string flags;
  std::string table;
};

// ScanConcise()
//
// dmsetup's _create_concise scanner: a backslash takes the next character
// as it is, ',' separates the five fields (further commas separate table
// lines), ';' ends a device, and blanks after a separator are skipped.
// Returns the devices before the first malformed one (dmsetup creates them
// as it goes); `error` gets dmsetup's lines about that one, '\n'-separated,
// or is cleared when the text is well formed.
std::vector<ConciseFields> ScanConcise(absl::string_view text,
                                       std::string* error);

// ParseConciseFlags()
//
// The flags field: "" or "rw" (false), "ro" (true); else dmsetup's
// "Invalid flags parameter 'F' must be 'ro' or 'rw' or empty.".
absl::StatusOr<bool> ParseConciseFlags(absl::string_view flags);

// ParseConcise() / FormatConcise()
//
// dmsetup's concise form: ScanConcise, then each device's fields as dmsetup
// reads them (flags, the minor by atoi() with a negative one meaning any
// and the number wrapped to the kernel's 20 bits, the table by ParseTable).
// The first error, as dmsetup words it. Names and uuids are not checked
// here (CreateDevices does). FormatConcise escapes `,`, `;`, `\` and a
// field's leading blank with a backslash.
absl::StatusOr<std::vector<DeviceSpec>> ParseConcise(absl::string_view text);
std::string FormatConcise(const std::vector<DeviceSpec>& devices);

// ParseDmInit() / FormatDmInit()
//
// The `dm-mod.create=` form. The kernel's parser has no escapes, so
// FormatDmInit fails on a value containing `,` or `;` and on a device
// without a table, and ParseDmInit
// treats a backslash as an ordinary character. The kernel also caps it at
// 256 devices and 256 targets per device; both are enforced.
absl::StatusOr<std::vector<DeviceSpec>> ParseDmInit(absl::string_view text);
absl::StatusOr<std::string> FormatDmInit(
    const std::vector<DeviceSpec>& devices);

}  // namespace dmioctl

#endif  // DMIOCTL_TABLE_H_
