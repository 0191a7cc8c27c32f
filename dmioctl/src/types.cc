#include "dmioctl/types.h"

#include <sys/sysmacros.h>

#include <charconv>

#include "absl/strings/str_cat.h"

namespace dmioctl {
namespace {

bool ParseU32(absl::string_view text, uint32_t& value) {
  if (text.empty()) return false;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

absl::StatusOr<DevNum> DevNum::Parse(absl::string_view text) {
  size_t colon = text.find(':');
  DevNum dev;
  if (colon == absl::string_view::npos ||
      !ParseU32(text.substr(0, colon), dev.major) ||
      !ParseU32(text.substr(colon + 1), dev.minor) || dev.major > 0xfff ||
      dev.minor > 0xfffff) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid device number '", text, "' (want MAJOR:MINOR)"));
  }
  return dev;
}

// The inverse of Decode() (types.h).
uint64_t DevNum::Encode() const {
  return (uint64_t{minor} & 0xff) | (uint64_t{major} << 8) |
         ((uint64_t{minor} & ~uint64_t{0xff}) << 12);
}

DevNum DevNum::FromDevT(dev_t dev) {
  return DevNum{::major(dev), ::minor(dev)};
}

dev_t DevNum::ToDevT() const { return ::makedev(major, minor); }

std::string DevNum::ToString() const { return absl::StrCat(major, ":", minor); }

absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty device name");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("device name '", name, "' is ", name.size(),
                     " bytes; the kernel takes at most ", kMaxNameLength));
  }
  if (name.find('/') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("device name '", name, "' contains '/'"));
  }
  if (name.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("device name contains a NUL byte");
  }
  if (name == "." || name == ".." || name == "control") {
    return absl::InvalidArgumentError(
        absl::StrCat("device name '", name, "' is reserved"));
  }
  return absl::OkStatus();
}

absl::Status ValidateUuid(absl::string_view uuid) {
  if (uuid.empty()) return absl::InvalidArgumentError("empty device uuid");
  if (uuid.size() > kMaxUuidLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("device uuid '", uuid, "' is ", uuid.size(),
                     " bytes; the kernel takes at most ", kMaxUuidLength));
  }
  if (uuid.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("device uuid contains a NUL byte");
  }
  return absl::OkStatus();
}

absl::Status DeviceRef::Check() const {
  switch (kind_) {
    case Kind::kName:
      return ValidateName(id_);
    case Kind::kUuid:
      return ValidateUuid(id_);
    case Kind::kDevNum:
      if (dev_.IsZero()) {
        return absl::InvalidArgumentError("device number 0:0");
      }
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("bad device reference");
}

std::string DeviceRef::ToString() const {
  return kind_ == Kind::kDevNum ? dev_.ToString() : id_;
}

}  // namespace dmioctl
