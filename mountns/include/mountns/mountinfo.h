// File: mountns/mountinfo.h
//
// Parsing /proc/PID/mountinfo (proc(5), Documentation/filesystems/proc.rst
// §3.5). One line per mount:
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root
//   rw,errors=continue (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9) (10)
//   (11)
//
//   (1) mount id         (2) parent id       (3) major:minor of st_dev
//   (4) root in the fs   (5) mount point, relative to the reader's root
//   (6) per-mount options
//   (7) zero or more optional fields: shared:N, master:N, propagate_from:N,
//       unbindable (unknown ones are kept and otherwise ignored)
//   (8) "-"  (9) fs type  (10) source  (11) superblock options
//
// The kernel escapes space, tab, newline and backslash in fields 4, 5, 9 and
// 10 as three-digit octal (\040 \011 \012 \134); the parser decodes them.
// The source may be empty (a mount made with an empty device name shows two
// spaces in a row). The parser is total: any line that does not have this
// shape is an error naming the line, never a crash or a guess.
//
//   DMKIT_ASSIGN_OR_RETURN(std::vector<mountns::MountInfo> mounts,
//                            mountns::ReadMountInfo(pid));
//   for (const mountns::MountInfo& m : mounts)
//     if (m.dev == makedev(253, 5)) ...
#ifndef MOUNTNS_MOUNTINFO_H_
#define MOUNTNS_MOUNTINFO_H_

#include <stdint.h>
#include <sys/sysmacros.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mountns {

// MountInfo
//
// One line of mountinfo, decoded.
struct MountInfo {
  uint32_t mount_id = 0;
  uint32_t parent_id = 0;
  uint32_t major = 0;
  uint32_t minor = 0;
  std::string root;           // path of the mount's root inside the fs
  std::string mount_point;    // as seen by the process the file was read for
  std::string mount_options;  // per-mount: "rw,nosuid,relatime"
  // Optional fields, raw, in kernel order ("shared:1", "master:3", ...).
  std::vector<std::string> optional_fields;
  // The same, interpreted.
  std::optional<uint32_t> shared;          // peer group, "shared:N"
  std::optional<uint32_t> master;          // slave of peer group, "master:N"
  std::optional<uint32_t> propagate_from;  // "propagate_from:N"
  bool unbindable = false;
  std::string fs_type;        // "ext4", "fuse.sshfs"
  std::string source;         // "/dev/mapper/x", "tmpfs", may be empty
  std::string super_options;  // per-superblock: "rw,nouuid,attr2"

  // The device number of field 3 as a dev_t (makedev(major, minor)).
  dev_t dev() const { return makedev(major, minor); }

  friend bool operator==(const MountInfo&, const MountInfo&) = default;
};

// ParseMountInfoLine()
//
// Parses one line (without its newline). Errors are kInvalidArgument and say
// which field is wrong.
absl::StatusOr<MountInfo> ParseMountInfoLine(absl::string_view line);

// ParseMountInfo()
//
// Parses a whole file. A trailing newline is optional; empty lines are
// errors. Errors name the 1-based line number.
absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text);

// ReadMountInfo()
//
// Reads and parses /proc/PID/mountinfo (the mounts of `pid`'s namespace as
// seen from its root). ReadMountInfoFile() reads any path, for example
// /proc/PID/task/TID/mountinfo or /proc/thread-self/mountinfo.
absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(pid_t pid);
absl::StatusOr<std::vector<MountInfo>> ReadMountInfoFile(
    const std::string& path);

// UnescapeMountInfoField()
//
// Decodes the kernel's \ooo escapes. A backslash not followed by three octal
// digits with a value below 256 is an error.
absl::StatusOr<std::string> UnescapeMountInfoField(absl::string_view field);

// EscapeMountInfoField()
//
// The inverse: escapes space, tab, newline and backslash as the kernel does.
std::string EscapeMountInfoField(absl::string_view field);

// FormatMountInfoLine()
//
// Writes `info` back in the kernel's format; ParseMountInfoLine() of the
// result gives `info` again.
std::string FormatMountInfoLine(const MountInfo& info);

}  // namespace mountns

#endif  // MOUNTNS_MOUNTINFO_H_
