#include "dmioctl/error.h"

#include <string.h>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace dmioctl {
namespace {

// Payload type URLs. One payload per field keeps them readable with
// Status::GetPayload and needs no serialisation format.
constexpr char kOperationUrl[] = "dmioctl/op";
constexpr char kIoctlUrl[] = "dmioctl/ioctl";
constexpr char kNameUrl[] = "dmioctl/name";
constexpr char kUuidUrl[] = "dmioctl/uuid";
constexpr char kDevUrl[] = "dmioctl/dev";

std::string Payload(const absl::Status& status, const char* url) {
  auto cord = status.GetPayload(url);
  return cord ? std::string(*cord) : std::string();
}

}  // namespace

absl::Status KernelError(const IoctlErrorInfo& info) {
  std::string device = info.name;
  if (device.empty()) device = info.uuid;
  if (device.empty() && info.dev) device = info.dev->ToString();
  std::string context = device.empty()
                            ? info.ioctl_name
                            : absl::StrCat(info.ioctl_name, " ", device);
  if (!info.detail.empty()) absl::StrAppend(&context, " (", info.detail, ")");
  absl::Status status = dmkit::ErrnoError(info.error_number, context);
  status.SetPayload(kOperationUrl, absl::Cord(info.operation));
  status.SetPayload(kIoctlUrl, absl::Cord(info.ioctl_name));
  if (!info.name.empty()) status.SetPayload(kNameUrl, absl::Cord(info.name));
  if (!info.uuid.empty()) status.SetPayload(kUuidUrl, absl::Cord(info.uuid));
  if (info.dev) status.SetPayload(kDevUrl, absl::Cord(info.dev->ToString()));
  return status;
}

std::optional<IoctlErrorInfo> GetIoctlErrorInfo(const absl::Status& status) {
  if (status.ok() || !status.GetPayload(kOperationUrl)) return std::nullopt;
  IoctlErrorInfo info;
  info.error_number = dmkit::ErrnoOf(status);
  info.operation = Payload(status, kOperationUrl);
  info.ioctl_name = Payload(status, kIoctlUrl);
  info.name = Payload(status, kNameUrl);
  info.uuid = Payload(status, kUuidUrl);
  // Whatever number the request carried, even one no device can have.
  std::string dev = Payload(status, kDevUrl);
  size_t colon = dev.find(':');
  DevNum parsed;
  if (colon != std::string::npos &&
      absl::SimpleAtoi(absl::string_view(dev).substr(0, colon),
                       &parsed.major) &&
      absl::SimpleAtoi(absl::string_view(dev).substr(colon + 1),
                       &parsed.minor)) {
    info.dev = parsed;
  }
  return info;
}

}  // namespace dmioctl
