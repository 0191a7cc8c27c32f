#include "dmioctl/table.h"

#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "dmioctl/error.h"
#include "dmioctl/types.h"

namespace dmioctl {
namespace {

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
         c == '\v';
}

// Pops the next blank-separated word from `text`.
absl::string_view NextWord(absl::string_view& text) {
  size_t i = 0;
  while (i < text.size() && IsBlank(text[i])) ++i;
  size_t j = i;
  while (j < text.size() && !IsBlank(text[j])) ++j;
  absl::string_view word = text.substr(i, j - i);
  text.remove_prefix(j);
  return word;
}

bool ParseU64(absl::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Kernel dm-init limits (drivers/md/dm-init.c DM_MAX_DEVICES/TARGETS).
constexpr size_t kDmInitMaxDevices = 256;
constexpr size_t kDmInitMaxTargets = 256;

// Splits `text` at unescaped `separator`. With `escapes`, "\x" stands for x
// (and is unescaped in the result); without, backslashes are ordinary.
std::vector<std::string> SplitEscaped(absl::string_view text, char separator,
                                      bool escapes, bool unescape) {
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (escapes && c == '\\' && i + 1 < text.size()) {
      if (!unescape) parts.back().push_back(c);
      parts.back().push_back(text[++i]);
    } else if (c == separator) {
      parts.emplace_back();
    } else {
      parts.back().push_back(c);
    }
  }
  return parts;
}

std::string Escape(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == ';' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

absl::StatusOr<std::vector<DeviceSpec>> ParseDeviceList(
    absl::string_view text, bool escapes, absl::string_view form) {
  std::vector<DeviceSpec> devices;
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", form, " text"));
  }
  for (const std::string& device_text :
       SplitEscaped(trimmed, ';', escapes, /*unescape=*/false)) {
    if (!escapes && devices.size() == kDmInitMaxDevices) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, ": more than ", kDmInitMaxDevices, " devices"));
    }
    std::vector<std::string> fields =
        SplitEscaped(absl::StripAsciiWhitespace(device_text), ',', escapes,
                     /*unescape=*/true);
    size_t index = devices.size() + 1;
    if (fields.size() < 5) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index,
                       ": want name,uuid,minor,flags,table[,table...]"));
    }
    DeviceSpec device;
    device.name = std::string(absl::StripAsciiWhitespace(fields[0]));
    if (absl::Status s = ValidateName(device.name); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index, ": ", s.message()));
    }
    device.uuid = std::string(absl::StripAsciiWhitespace(fields[1]));
    if (!device.uuid.empty()) {
      if (absl::Status s = ValidateUuid(device.uuid); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(form, " device ", index, ": ", s.message()));
      }
    }
    absl::string_view minor = absl::StripAsciiWhitespace(fields[2]);
    if (!minor.empty()) {
      uint64_t value;
      if (!ParseU64(minor, value) || value >= (1u << 20)) {
        return absl::InvalidArgumentError(absl::StrCat(
            form, " device ", index, ": invalid minor '", minor, "'"));
      }
      device.minor = static_cast<uint32_t>(value);
    }
    absl::string_view flags = absl::StripAsciiWhitespace(fields[3]);
    if (flags == "ro") {
      device.table.read_only = true;
    } else if (flags != "rw" && !(escapes && flags.empty())) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index,
                       ": flags must be ro or rw, not '", flags, "'"));
    }
    if (!escapes && fields.size() - 4 > kDmInitMaxTargets) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index, ": more than ",
                       kDmInitMaxTargets, " targets"));
    }
    for (size_t i = 4; i < fields.size(); ++i) {
      absl::StatusOr<Target> target = ParseTargetLine(fields[i]);
      if (!target.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(form, " device ", index, " target ", i - 3, ": ",
                         target.status().message()));
      }
      device.table.targets.push_back(std::move(*target));
    }
    devices.push_back(std::move(device));
  }
  return devices;
}

}  // namespace

Table& Table::Append(uint64_t length, std::string type, std::string params) {
  targets.push_back(
      Target{Sectors(), length, std::move(type), std::move(params)});
  return *this;
}

uint64_t Table::Sectors() const {
  return targets.empty() ? 0 : targets.back().start + targets.back().length;
}

absl::Status Table::Validate() const {
  if (targets.empty())
    return absl::InvalidArgumentError("table has no targets");
  uint64_t expected = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const Target& t = targets[i];
    if (t.type.empty() || t.type.size() > kMaxTargetTypeLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target ", i + 1, ": invalid target type '", t.type, "'"));
    }
    // The kernel reads both as C strings: a NUL would silently cut them.
    if (t.type.find('\0') != std::string::npos ||
        t.params.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "target ", i + 1, ": NUL byte in target type or parameters"));
    }
    if (t.length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", i + 1, ": zero length"));
    }
    if (t.start != expected) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", i + 1, ": starts at sector ", t.start,
                       ", expected ", expected, " (gap or overlap in table)"));
    }
    if (t.start + t.length < t.start) {
      return absl::InvalidArgumentError(
          absl::StrCat("target ", i + 1, ": length overflows"));
    }
    expected = t.start + t.length;
  }
  return absl::OkStatus();
}

absl::StatusOr<Target> ParseTargetLine(absl::string_view line) {
  absl::string_view rest = line;
  absl::string_view start = NextWord(rest);
  absl::string_view length = NextWord(rest);
  absl::string_view type = NextWord(rest);
  Target target;
  if (!ParseU64(start, target.start)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid start sector '", start, "'"));
  }
  if (!ParseU64(length, target.length)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid length '", length, "'"));
  }
  if (type.empty() || type.size() > kMaxTargetTypeLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid target type '", type, "'"));
  }
  target.type = std::string(type);
  target.params = std::string(absl::StripAsciiWhitespace(rest));
  return target;
}

absl::StatusOr<Table> ParseTable(absl::string_view text) {
  Table table;
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    // dmsetup drops everything from a '#', at the start or inside a line.
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    absl::StatusOr<Target> target = ParseTargetLine(line);
    if (!target.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table line ", line_number, ": ", target.status().message()));
    }
    table.targets.push_back(std::move(*target));
  }
  return table;
}

std::string FormatTable(const Table& table) {
  std::string out;
  for (const Target& t : table.targets) {
    absl::StrAppend(&out, t.start, " ", t.length, " ", t.type);
    if (!t.params.empty()) absl::StrAppend(&out, " ", t.params);
    out.push_back('\n');
  }
  return out;
}

absl::StatusOr<std::vector<DeviceSpec>> ParseConcise(absl::string_view text) {
  return ParseDeviceList(text, /*escapes=*/true, "concise");
}

std::string FormatConcise(const std::vector<DeviceSpec>& devices) {
  std::string out;
  for (size_t d = 0; d < devices.size(); ++d) {
    const DeviceSpec& dev = devices[d];
    if (d > 0) out.push_back(';');
    absl::StrAppend(&out, Escape(dev.name), ",", Escape(dev.uuid), ",");
    if (dev.minor) absl::StrAppend(&out, *dev.minor);
    absl::StrAppend(&out, ",", dev.table.read_only ? "ro" : "rw");
    for (const Target& t : dev.table.targets) {
      absl::StrAppend(&out, ",", t.start, " ", t.length, " ", Escape(t.type));
      if (!t.params.empty()) absl::StrAppend(&out, " ", Escape(t.params));
    }
  }
  return out;
}

absl::StatusOr<std::vector<DeviceSpec>> ParseDmInit(absl::string_view text) {
  return ParseDeviceList(text, /*escapes=*/false, "dm-init");
}

absl::StatusOr<std::string> FormatDmInit(
    const std::vector<DeviceSpec>& devices) {
  if (devices.size() > kDmInitMaxDevices) {
    return absl::InvalidArgumentError(
        absl::StrCat("dm-init takes at most ", kDmInitMaxDevices, " devices"));
  }
  auto check = [](absl::string_view value) -> absl::Status {
    if (value.find_first_of(",;") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", value, "' contains ',' or ';', which dm-init cannot escape"));
    }
    return absl::OkStatus();
  };
  std::string out;
  for (size_t d = 0; d < devices.size(); ++d) {
    const DeviceSpec& dev = devices[d];
    if (dev.table.targets.size() > kDmInitMaxTargets) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dm-init takes at most ", kDmInitMaxTargets, " targets per device"));
    }
    DMKIT_RETURN_IF_ERROR(check(dev.name));
    DMKIT_RETURN_IF_ERROR(check(dev.uuid));
    if (d > 0) out.push_back(';');
    absl::StrAppend(&out, dev.name, ",", dev.uuid, ",");
    if (dev.minor) absl::StrAppend(&out, *dev.minor);
    absl::StrAppend(&out, ",", dev.table.read_only ? "ro" : "rw");
    for (const Target& t : dev.table.targets) {
      DMKIT_RETURN_IF_ERROR(check(t.type));
      DMKIT_RETURN_IF_ERROR(check(t.params));
      absl::StrAppend(&out, ",", t.start, " ", t.length, " ", t.type);
      if (!t.params.empty()) absl::StrAppend(&out, " ", t.params);
    }
  }
  return out;
}

}  // namespace dmioctl
