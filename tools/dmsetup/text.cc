#include "tools/dmsetup/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"

namespace dmkit::dmsetup {
namespace {

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// The buffer libdm mangles into: DM_NAME_LEN for names, DM_UUID_LEN for
// uuids. A mangled string must leave room for its terminator.
size_t BufferFor(absl::string_view what) {
  return absl::string_view(what).find("UUID") != absl::string_view::npos ? 129
                                                                         : 128;
}

}  // namespace

bool IsWhitelistedChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z') || (c != '\0' && strchr("#+-.:=@_", c));
}

absl::Status CheckMultipleMangled(absl::string_view str, absl::string_view what,
                                  Mangling mode) {
  if (mode == Mangling::kAuto &&
      str.find("\\x5cx") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("The ", what, " \"", str,
                     "\" seems to be mangled more than once. This is not "
                     "allowed in auto mode."));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MangleString(absl::string_view str,
                                         absl::string_view what,
                                         Mangling mode) {
  const size_t buf_len = BufferFor(what);
  if (mode == Mangling::kNone) mode = Mangling::kAuto;
  auto mixed = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("The ", what, " \"", str,
                     "\" contains mixed mangled and unmangled characters or "
                     "it's already mangled improperly."));
  };
  auto too_long = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "Mangled form of the ", what, " too long for \"", str, "\"."));
  };
  if (str.empty()) return std::string();
  int need = -1;  // -1 unknown, 0 already mangled, 1 mangling applied
  std::string out;
  const size_t len = str.size();
  for (size_t i = 0; i < len; ++i) {
    if (mode == Mangling::kAuto && str[i] == '\\' && i + 1 < len &&
        str[i + 1] == 'x') {
      if (len - i < 4 || need == 1) return mixed();
      if (buf_len - out.size() < 4) return too_long();
      out.append(str.data() + i, 4);
      i += 3;
      need = 0;
      continue;
    }
    if (IsWhitelistedChar(str[i])) {
      if (buf_len - out.size() < 1) return too_long();
      out.push_back(str[i]);
    } else {
      if (mode != Mangling::kHex && need == 0) return mixed();
      if (buf_len - out.size() < 4) return too_long();
      char hex[5];
      snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(str[i]));
      out.append(hex);
      need = 1;
    }
  }
  if (buf_len - out.size() < 1) return too_long();
  return need == 1 ? out : std::string(str);
}

absl::StatusOr<std::string> UnmangleString(absl::string_view str,
                                           absl::string_view what,
                                           Mangling mode) {
  const bool strict = mode != Mangling::kNone;
  bool decoded = false;
  std::string out;
  const size_t len = str.size();
  for (size_t i = 0; i < len; ++i) {
    if (strict && !(IsWhitelistedChar(str[i]) || str[i] == '\\')) {
      return absl::InvalidArgumentError(
          absl::StrCat("The ", what, " \"", str,
                       "\" should be mangled but it contains blacklisted "
                       "characters."));
    }
    if (str[i] == '\\' && i + 1 < len && str[i + 1] == 'x') {
      // sscanf("%2x"): one or two hex digits. Without any, libdm stops
      // decoding here and keeps what it has.
      if (i + 2 >= len || !IsHexDigit(str[i + 2])) break;
      int code = HexValue(str[i + 2]);
      if (i + 3 < len && IsHexDigit(str[i + 3])) {
        code = code * 16 + HexValue(str[i + 3]);
      }
      out.push_back(static_cast<char>(code));
      i += 3;  // as libdm does, whatever the digit count
      decoded = true;
    } else {
      out.push_back(str[i]);
    }
  }
  return decoded ? out : std::string(str);
}

std::string ErrorText(const absl::Status& status) {
  std::optional<dmioctl::IoctlErrorInfo> info =
      dmioctl::GetIoctlErrorInfo(status);
  if (!info || info->error_number == 0) return std::string(status.message());
  std::string line = absl::StrCat("device-mapper: ", info->operation,
                                  " ioctl on ", info->name, " ", info->uuid);
  // libdm keeps the number as ints: a major that does not fit one reads as
  // negative and is not shown.
  int major = info->dev ? static_cast<int>(info->dev->major) : 0;
  int minor = info->dev ? static_cast<int>(info->dev->minor) : 0;
  if (major > 0)
    absl::StrAppend(&line, "(", major, ":", std::max(minor, 0), ")");
  absl::StrAppend(&line, " failed: ", strerror(info->error_number));
  return line;
}

absl::Status AsSent(const absl::Status& status, absl::string_view op,
                    std::optional<dmioctl::DevNum> dev) {
  std::optional<dmioctl::IoctlErrorInfo> info =
      dmioctl::GetIoctlErrorInfo(status);
  if (!info) return status;
  if (!op.empty()) info->operation = std::string(op);
  if (dev) info->dev = dev;
  return dmioctl::KernelError(*info);
}

std::string QuoteConcise(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == ',' || c == ';' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

namespace {

// libdm-string.c _unquote(): reads one '-'-separated component starting at
// `pos` ("--" stands for '-'), returns it and moves `pos` past the
// separator. A '-' that is the last character is kept.
std::string Unquote(const std::string& s, size_t& pos) {
  std::string out;
  size_t c = pos;
  while (c < s.size()) {
    if (c + 1 < s.size() && s[c] == '-') {
      if (s[c + 1] == '-') {
        ++c;
      } else {
        break;
      }
    }
    out.push_back(s[c++]);
  }
  pos = c < s.size() ? c + 1 : c;
  return out;
}

}  // namespace

SplitName SplitDeviceName(absl::string_view uuid_or_subsystem,
                          absl::string_view name, char separator) {
  SplitName split;
  size_t cut = separator == '\0' ? uuid_or_subsystem.size()
                                 : uuid_or_subsystem.find(separator);
  if (cut != absl::string_view::npos) {
    split.subsystem = std::string(uuid_or_subsystem.substr(0, cut));
  }
  if (split.subsystem == "LVM") {
    std::string s(name);
    size_t pos = 0;
    split.vg_name = Unquote(s, pos);
    split.lv_name = Unquote(s, pos);
    split.lv_layer = Unquote(s, pos);
  }
  return split;
}

int Atoi(absl::string_view s) {
  std::string copy(s);
  return atoi(copy.c_str());
}

}  // namespace dmkit::dmsetup
