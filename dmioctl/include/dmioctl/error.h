// File: dmioctl/error.h
//
// Errors from the kernel carry, besides the absl::Status code and message,
// the errno and what the call was about: the libdevmapper operation name
// ("create", "reload", "remove" ...), the ioctl, and the device's name, uuid
// and number as far as they are known. That is enough for an applet to print
// dmsetup's exact line
//
//   device-mapper: create ioctl on NAME UUID failed: Device or resource busy
//
// and for callers to branch on the errno (EBUSY on remove, EEXIST on
// create_thin) without parsing text.
#ifndef DMIOCTL_ERROR_H_
#define DMIOCTL_ERROR_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "dmioctl/types.h"

namespace dmioctl {

// What an ioctl error was about.
struct IoctlErrorInfo {
  int error_number = 0;    // errno
  std::string operation;   // libdm's name: "create", "reload", ...
  std::string ioctl_name;  // "DM_DEV_CREATE", ...
  std::string name;        // device name, if known
  std::string uuid;        // device uuid, if known
  std::optional<DevNum> dev;  // set when the device was addressed by number
  std::string detail;         // optional, appended to the message
};

// KernelError()
//
// Builds the status of a failed ioctl. The message reads
// "<IOCTL> <device>: <strerror>", the code follows absl::ErrnoToStatus and
// the details are attached as payloads (see GetIoctlErrorInfo).
absl::Status KernelError(const IoctlErrorInfo& info);

// GetIoctlErrorInfo()
//
// Returns the details attached by KernelError(), or nullopt for any other
// status (including OK).
std::optional<IoctlErrorInfo> GetIoctlErrorInfo(const absl::Status& status);

// ErrnoOf()
//
// The errno carried by a status from this library or from ErrnoError(), or 0.
int ErrnoOf(const absl::Status& status);

// ErrnoError()
//
// A status for a failed system call (open, mknod, ...) that keeps the errno:
// message "<context>: <strerror>".
absl::Status ErrnoError(int error_number, absl::string_view context);

}  // namespace dmioctl

// DMIOCTL_RETURN_IF_ERROR(expr)
// DMIOCTL_ASSIGN_OR_RETURN(lhs, expr)
//
// Abseil 20220623 has no status macros; these are the two this project uses.
#define DMIOCTL_RETURN_IF_ERROR(expr)           \
  do {                                          \
    ::absl::Status dmioctl_status_ = (expr);    \
    if (!dmioctl_status_.ok()) return dmioctl_status_; \
  } while (0)

#define DMIOCTL_CONCAT_INNER_(a, b) a##b
#define DMIOCTL_CONCAT_(a, b) DMIOCTL_CONCAT_INNER_(a, b)
#define DMIOCTL_ASSIGN_OR_RETURN(lhs, expr) \
  DMIOCTL_ASSIGN_OR_RETURN_IMPL_(DMIOCTL_CONCAT_(dmioctl_or_, __LINE__), lhs, expr)
#define DMIOCTL_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(*tmp)

#endif  // DMIOCTL_ERROR_H_
