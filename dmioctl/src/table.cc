#include "dmioctl/table.h"

#include <stdlib.h>

#include <charconv>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
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

bool ParseU64(absl::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

// Kernel dm-init limits (drivers/md/dm-init.c DM_MAX_DEVICES/TARGETS).
constexpr size_t kDmInitMaxDevices = 256;
constexpr size_t kDmInitMaxTargets = 256;

// Splits `text` at every `separator` (dm-init has no escapes).
std::vector<std::string> Split(absl::string_view text, char separator) {
  return absl::StrSplit(text, separator);
}

// Backslash before ',', ';' and '\\', and before a leading blank (the
// concise scanner skips blanks after a separator).
std::string Escape(absl::string_view value) {
  std::string out;
  for (size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == ',' || c == ';' || c == '\\' || (i == 0 && IsBlank(c))) {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

// sscanf("%llu"): blanks, an optional sign, digits; a negative number
// wraps, one past 2^64-1 is 2^64-1. Moves `pos` past what it read.
bool ScanUnsigned(absl::string_view text, size_t& pos, uint64_t& value) {
  while (pos < text.size() && IsBlank(text[pos])) ++pos;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    negative = text[pos] == '-';
    ++pos;
  }
  size_t digits = pos;
  uint64_t v = 0;
  bool overflow = false;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    uint64_t d = static_cast<uint64_t>(text[pos] - '0');
    if (v > (UINT64_MAX - d) / 10) overflow = true;
    v = v * 10 + d;
    ++pos;
  }
  if (pos == digits) return false;
  value = overflow ? UINT64_MAX : negative ? (~v + 1) : v;
  return true;
}

// libdm prints the missing fields through printf's "%s" of NULL.
std::string ParsedFields(const std::vector<std::string>& fields) {
  auto f = [&](size_t i) {
    return i < fields.size() ? fields[i] : std::string("(null)");
  };
  return absl::StrCat("Parsed ", fields.size(), " fields: name: ", f(0),
                      " uuid: ", f(1), " minor: ", f(2), " flags: ", f(3),
                      " table: ", f(4));
}

// atoi(): glibc's strtol clamped to int.
int Atoi(const std::string& text) {
  long value = strtol(text.c_str(), nullptr, 10);
  if (value > INT32_MAX) return INT32_MAX;
  if (value < INT32_MIN) return INT32_MIN;
  return static_cast<int>(value);
}

// The dm-init form (drivers/md/dm-init.c): no escapes, blanks around
// fields ignored, flags ro or rw.
absl::StatusOr<std::vector<DeviceSpec>> ParseDmInitList(
    absl::string_view text) {
  constexpr absl::string_view form = "dm-init";
  std::vector<DeviceSpec> devices;
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", form, " text"));
  }
  for (const std::string& device_text : Split(trimmed, ';')) {
    if (devices.size() == kDmInitMaxDevices) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, ": more than ", kDmInitMaxDevices, " devices"));
    }
    std::vector<std::string> fields =
        Split(absl::StripAsciiWhitespace(device_text), ',');
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
    } else if (flags != "rw") {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index,
                       ": flags must be ro or rw, not '", flags, "'"));
    }
    if (fields.size() - 4 > kDmInitMaxTargets) {
      return absl::InvalidArgumentError(
          absl::StrCat(form, " device ", index, ": more than ",
                       kDmInitMaxTargets, " targets"));
    }
    for (size_t i = 4; i < fields.size(); ++i) {
      absl::StatusOr<Target> target =
          ParseTargetLine(absl::StripAsciiWhitespace(fields[i]));
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
  size_t pos = 0;
  Target target;
  if (!ScanUnsigned(line, pos, target.start) ||
      !ScanUnsigned(line, pos, target.length)) {
    return absl::InvalidArgumentError("invalid format");
  }
  while (pos < line.size() && IsBlank(line[pos])) ++pos;
  size_t type_begin = pos;
  while (pos < line.size() && !IsBlank(line[pos])) ++pos;
  if (pos == type_begin) return absl::InvalidArgumentError("invalid format");
  target.type = std::string(line.substr(type_begin, pos - type_begin));
  if (target.type.size() > kMaxTargetTypeLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("Target type name ", target.type, " is too long."));
  }
  while (pos < line.size() && IsBlank(line[pos])) ++pos;
  target.params = std::string(line.substr(pos));
  return target;
}

absl::StatusOr<Table> ParseTable(absl::string_view text,
                                 absl::string_view source) {
  Table table;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    while (!line.empty() && IsBlank(line.back())) line.remove_suffix(1);
    while (!line.empty() && IsBlank(line.front())) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<Target> target = ParseTargetLine(line);
    if (!target.ok()) {
      if (target.status().message() != "invalid format") {
        return target.status();
      }
      return absl::InvalidArgumentError(absl::StrCat(
          "Invalid format on line ", line_number, " of table ", source, "."));
    }
    if (size_t hash = target->params.find('#'); hash != std::string::npos) {
      target->params.resize(hash);
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

std::vector<ConciseFields> ScanConcise(absl::string_view text,
                                       std::string* error) {
  error->clear();
  std::vector<ConciseFields> devices;
  std::vector<std::string> fields(1);  // fields.back() is being written
  size_t c = 0;
  const size_t len = text.size();
  bool pending = false;  // characters since the last device ended
  while (c < len) {
    char ch = text[c];
    if (ch == '\\') {
      if (++c == len) {
        *error = absl::StrCat(
            "Backslash must be followed by another character at end of "
            "string.\n",
            ParsedFields(fields));
        return devices;
      }
      fields.back().push_back(text[c++]);
      pending = true;
      continue;
    }
    if (ch == ',' && fields.size() < 5) {
      fields.emplace_back();
      ++c;
      while (c < len && IsBlank(text[c])) ++c;
      pending = true;
      continue;
    }
    if (ch == ',') {
      fields.back().push_back('\n');
      ++c;
      pending = true;
      continue;
    }
    if (ch == ';' || c + 1 == len) {
      if (ch != ';') fields.back().push_back(ch);
      ++c;
      if (fields.size() != 5) {
        *error = absl::StrCat(
            "Five comma-separated fields are required for each device\n",
            ParsedFields(fields));
        return devices;
      }
      devices.push_back(
          ConciseFields{fields[0], fields[1], fields[2], fields[3], fields[4]});
      fields.assign(1, std::string());
      pending = false;
      while (c < len && IsBlank(text[c])) ++c;
      continue;
    }
    fields.back().push_back(ch);
    pending = true;
    ++c;
  }
  if (pending) {
    *error = absl::StrCat(
        "Incomplete entry: five comma-separated fields are required for each "
        "device\n",
        ParsedFields(fields));
  }
  return devices;
}

absl::StatusOr<bool> ParseConciseFlags(absl::string_view flags) {
  if (flags.empty() || flags == "rw") return false;
  if (flags == "ro") return true;
  return absl::InvalidArgumentError(absl::StrCat(
      "Invalid flags parameter '", flags, "' must be 'ro' or 'rw' or empty."));
}

absl::StatusOr<std::vector<DeviceSpec>> ParseConcise(absl::string_view text) {
  std::string error;
  std::vector<ConciseFields> scanned = ScanConcise(text, &error);
  if (!error.empty()) return absl::InvalidArgumentError(error);
  std::vector<DeviceSpec> devices;
  for (ConciseFields& fields : scanned) {
    DeviceSpec device;
    DMKIT_ASSIGN_OR_RETURN(bool read_only, ParseConciseFlags(fields.flags));
    device.name = std::move(fields.name);
    device.uuid = std::move(fields.uuid);
    if (!fields.minor.empty()) {
      int minor = Atoi(fields.minor);
      // libdm's MKDEV: the kernel keeps 20 bits of minor.
      if (minor >= 0) device.minor = static_cast<uint32_t>(minor) & 0xfffff;
    }
    DMKIT_ASSIGN_OR_RETURN(device.table, ParseTable(fields.table));
    device.table.read_only = read_only;
    devices.push_back(std::move(device));
  }
  return devices;
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
    // No table: an empty fifth field.
    if (dev.table.targets.empty()) out.push_back(',');
  }
  // The scanner ends the last device at its last character only when that
  // is neither escaped nor a ','; a ';' ends it otherwise.
  size_t backslashes = 0;
  for (size_t i = out.size(); i >= 2 && out[i - 2] == '\\'; --i) {
    ++backslashes;
  }
  if (!out.empty() && (out.back() == ',' || backslashes % 2 == 1)) {
    out.push_back(';');
  }
  return out;
}

absl::StatusOr<std::vector<DeviceSpec>> ParseDmInit(absl::string_view text) {
  return ParseDmInitList(text);
}

absl::StatusOr<std::string> FormatDmInit(
    const std::vector<DeviceSpec>& devices) {
  if (devices.size() > kDmInitMaxDevices) {
    return absl::InvalidArgumentError(
        absl::StrCat("dm-init takes at most ", kDmInitMaxDevices, " devices"));
  }
  auto check = [](absl::string_view value) -> absl::Status {
    if (value.find_first_of(",;") != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("'", absl::CHexEscape(value),
                       "' contains ',' or ';', which dm-init cannot escape"));
    }
    return absl::OkStatus();
  };
  std::string out;
  for (size_t d = 0; d < devices.size(); ++d) {
    const DeviceSpec& dev = devices[d];
    if (dev.table.targets.empty()) {
      return absl::InvalidArgumentError(
          "dm-init needs a table for every device");
    }
    if (dev.table.targets.size() > kDmInitMaxTargets) {
      return absl::InvalidArgumentError(absl::StrCat(
          "dm-init takes at most ", kDmInitMaxTargets, " targets per device"));
    }
    DMKIT_RETURN_IF_ERROR(check(dev.name));
    DMKIT_RETURN_IF_ERROR(check(dev.uuid));
    // What ParseDmInit refuses (a '/' in a name, a NUL byte, ...) must not be
    // written either (found by fuzz_concise: the concise form carries both).
    DMKIT_RETURN_IF_ERROR(ValidateName(dev.name));
    if (!dev.uuid.empty()) DMKIT_RETURN_IF_ERROR(ValidateUuid(dev.uuid));
    for (absl::string_view value :
         {absl::string_view(dev.name), absl::string_view(dev.uuid)}) {
      if (absl::StripAsciiWhitespace(value) != value) {
        return absl::InvalidArgumentError(
            absl::StrCat("'", absl::CHexEscape(value),
                         "' has blanks at an end, which dm-init drops"));
      }
    }
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
