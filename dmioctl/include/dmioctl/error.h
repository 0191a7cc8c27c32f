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
// create_thin) without parsing text: the errno is kept as every status of
// this project keeps it (dmkit/status.h), so dmkit::ErrnoOf() reads it.
#ifndef DMIOCTL_ERROR_H_
#define DMIOCTL_ERROR_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"
#include "dmkit/status.h"

namespace dmioctl {

// What an ioctl error was about.
struct IoctlErrorInfo {
  int error_number = 0;       // errno
  std::string operation;      // libdm's name: "create", "reload", ...
  std::string ioctl_name;     // "DM_DEV_CREATE", ...
  std::string name;           // device name, if known
  std::string uuid;           // device uuid, if known
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

}  // namespace dmioctl

#endif  // DMIOCTL_ERROR_H_
