// File: dmioctl/types.h
//
// Value types of the device-mapper protocol: device numbers, names, uuids and
// the reference a command uses to address one device. Names and uuids are
// validated before any ioctl, so a bad name is an error here rather than a
// silent truncation in the kernel (which cuts names at 127 bytes).
//
//   auto dev = dmioctl::DevNum::Parse("253:3");
//   auto ref = dmioctl::DeviceRef::ByName("docker-253:2-3693860-pool");
#ifndef DMIOCTL_TYPES_H_
#define DMIOCTL_TYPES_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmioctl {

inline constexpr uint64_t kSectorSize = 512;
// Usable bytes of a name and a uuid (the kernel's DM_NAME_LEN and DM_UUID_LEN
// include the terminating NUL).
inline constexpr size_t kMaxNameLength = 127;
inline constexpr size_t kMaxUuidLength = 128;

// A block device number, major:minor.
struct DevNum {
  uint32_t major = 0;
  uint32_t minor = 0;

  // Parses "MAJ:MIN" (decimal). Rejects anything else, including trailing
  // text and numbers out of range.
  static absl::StatusOr<DevNum> Parse(absl::string_view text);
  // The kernel's huge_encode_dev() form, used in dm_ioctl.dev, deps and
  // name lists: the minor's low 8 bits, then 12 bits of major, then the
  // minor's high bits. Inline: every reply and every listed device has one.
  static constexpr DevNum Decode(uint64_t encoded) {
    return DevNum{
        static_cast<uint32_t>((encoded & 0xfff00) >> 8),
        static_cast<uint32_t>((encoded & 0xff) | ((encoded >> 12) & 0xfff00))};
  }
  static DevNum FromDevT(dev_t dev);

  uint64_t Encode() const;
  dev_t ToDevT() const;
  // "MAJ:MIN".
  std::string ToString() const;
  bool IsZero() const { return major == 0 && minor == 0; }

  friend bool operator==(const DevNum&, const DevNum&) = default;
};

// ValidateName()
//
// A device name must be 1..127 bytes, contain no '/', and not be ".", ".."
// or "control" (6.1 accepts those three, but they collide with /dev/mapper
// entries; kernels >= 6.4 reject them too).
absl::Status ValidateName(absl::string_view name);

// ValidateUuid()
//
// A uuid must be 1..128 bytes with no NUL.
absl::Status ValidateUuid(absl::string_view uuid);

// DeviceRef
//
// How a command addresses one existing device: by name, by uuid or by device
// number, exactly one of them (the kernel rejects mixes with ENXIO).
class DeviceRef {
 public:
  enum class Kind { kName, kUuid, kDevNum };

  static DeviceRef ByName(std::string name) {
    return DeviceRef(Kind::kName, std::move(name), {});
  }
  static DeviceRef ByUuid(std::string uuid) {
    return DeviceRef(Kind::kUuid, std::move(uuid), {});
  }
  static DeviceRef ByDevNum(DevNum dev) {
    return DeviceRef(Kind::kDevNum, {}, dev);
  }

  Kind kind() const { return kind_; }
  // The name or uuid; empty for kDevNum.
  const std::string& id() const { return id_; }
  DevNum dev() const { return dev_; }

  // Validates the name or uuid (see ValidateName / ValidateUuid). The check
  // runs once, when the reference is made; a valid reference answers from
  // that result, so one reference used for many calls costs nothing here.
  absl::Status Validate() const { return valid_ ? absl::OkStatus() : Check(); }
  // For messages: the name, the uuid, or "MAJ:MIN".
  std::string ToString() const;

 private:
  DeviceRef(Kind kind, std::string id, DevNum dev)
      : kind_(kind), id_(std::move(id)), dev_(dev) {
    valid_ = Check().ok();
  }
  absl::Status Check() const;

  Kind kind_;
  std::string id_;
  DevNum dev_;
  bool valid_ = false;
};

}  // namespace dmioctl

#endif  // DMIOCTL_TYPES_H_
