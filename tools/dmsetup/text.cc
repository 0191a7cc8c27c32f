#include "tools/dmsetup/text.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"

namespace dmkit::dmsetup {
namespace {

// The C locale's isspace(), which is what dmsetup's parsers use.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

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

// sscanf("%llu"): blanks, an optional sign, at least one decimal digit.
// A '-' negates modulo 2^64 and overflow saturates, as strtoull does.
bool ScanUnsigned(absl::string_view text, size_t& pos, uint64_t& value) {
  while (pos < text.size() && IsSpace(text[pos])) ++pos;
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
  if (overflow) {
    value = UINT64_MAX;
  } else {
    value = negative ? (~v + 1) : v;
  }
  return true;
}

const char* OrNull(const std::vector<std::string>& fields, size_t i) {
  return i < fields.size() ? fields[i].c_str() : nullptr;
}

std::string ParsedFields(const std::vector<std::string>& fields) {
  // libdm prints the missing fields through printf's "%s" of NULL.
  auto f = [&](size_t i) {
    const char* s = OrNull(fields, i);
    return std::string(s ? s : "(null)");
  };
  return absl::StrCat("Parsed ", fields.size(), " fields: name: ", f(0),
                      " uuid: ", f(1), " minor: ", f(2), " flags: ", f(3),
                      " table: ", f(4));
}

}  // namespace

bool IsWhitelistedChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
         (c >= 'a' && c <= 'z') || (c != '\0' && strchr("#+-.:=@_", c));
}

std::string CheckMultipleMangled(absl::string_view str, absl::string_view what,
                                 Mangling mode) {
  if (mode == Mangling::kAuto &&
      str.find("\\x5cx") != absl::string_view::npos) {
    return absl::StrCat("The ", what, " \"", str,
                        "\" seems to be mangled more than once. This is not "
                        "allowed in auto mode.");
  }
  return std::string();
}

MangleResult MangleString(absl::string_view str, absl::string_view what,
                          Mangling mode) {
  MangleResult result;
  if (str.empty()) return result;
  const size_t buf_len = BufferFor(what);
  if (mode == Mangling::kNone) mode = Mangling::kAuto;
  auto mixed = [&] {
    result.changed = -1;
    result.error = absl::StrCat("The ", what, " \"", str,
                                "\" contains mixed mangled and unmangled "
                                "characters or it's already mangled "
                                "improperly.");
    return result;
  };
  auto too_long = [&] {
    result.changed = -1;
    result.error = absl::StrCat("Mangled form of the ", what,
                                " too long for \"", str, "\".");
    return result;
  };
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
  if (need == 1) {
    result.changed = 1;
    result.value = std::move(out);
  }
  return result;
}

MangleResult UnmangleString(absl::string_view str, absl::string_view what,
                            Mangling mode) {
  MangleResult result;
  if (str.empty()) return result;
  const bool strict = mode != Mangling::kNone;
  std::string out;
  int r = 0;
  const size_t len = str.size();
  for (size_t i = 0; i < len; ++i) {
    if (strict && !(IsWhitelistedChar(str[i]) || str[i] == '\\')) {
      result.changed = -1;
      result.error = absl::StrCat("The ", what, " \"", str,
                                  "\" should be mangled but it contains "
                                  "blacklisted characters.");
      return result;
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
      r = 1;
    } else {
      out.push_back(str[i]);
    }
  }
  result.changed = r;
  if (r == 1) result.value = std::move(out);
  return result;
}

std::string FormatIoctlError(absl::string_view op, const IoctlTarget& target,
                             int error_number) {
  std::string line = absl::StrCat("device-mapper: ", op, " ioctl on ",
                                  target.name, " ", target.uuid);
  if (target.major > 0) {
    absl::StrAppend(&line, "(", target.major, ":",
                    target.minor > 0 ? target.minor : 0, ")");
  }
  absl::StrAppend(&line, " failed: ", strerror(error_number));
  return line;
}

std::string FormatStatusError(absl::string_view op, const IoctlTarget& target,
                              const absl::Status& status) {
  int err = dmioctl::ErrnoOf(status);
  if (err != 0 && dmioctl::GetIoctlErrorInfo(status).has_value()) {
    return FormatIoctlError(op, target, err);
  }
  return std::string(status.message());
}

bool ParseTableLines(absl::string_view text, absl::string_view source,
                     dmioctl::Table* table, std::string* error) {
  int line_number = 0;
  size_t begin = 0;
  for (;;) {
    size_t end = text.find('\n', begin);
    absl::string_view line = text.substr(
        begin, end == absl::string_view::npos ? absl::string_view::npos
                                              : end - begin);
    ++line_number;
    while (!line.empty() && IsSpace(line.back())) line.remove_suffix(1);
    while (!line.empty() && IsSpace(line.front())) line.remove_prefix(1);
    if (!line.empty() && line.front() != '#') {
      size_t pos = 0;
      uint64_t start = 0, length = 0;
      bool ok = ScanUnsigned(line, pos, start) &&
                ScanUnsigned(line, pos, length);
      std::string type;
      if (ok) {
        while (pos < line.size() && IsSpace(line[pos])) ++pos;
        size_t type_begin = pos;
        while (pos < line.size() && !IsSpace(line[pos])) ++pos;
        type = std::string(line.substr(type_begin, pos - type_begin));
        ok = !type.empty();
      }
      if (!ok) {
        *error = absl::StrCat("Invalid format on line ", line_number,
                              " of table ", source, ".");
        return false;
      }
      while (pos < line.size() && IsSpace(line[pos])) ++pos;
      absl::string_view params = line.substr(pos);
      if (size_t hash = params.find('#'); hash != absl::string_view::npos) {
        params = params.substr(0, hash);
      }
      if (type.size() >= 16) {
        *error = absl::StrCat("Target type name ", type, " is too long.");
        return false;
      }
      table->targets.push_back(
          dmioctl::Target{start, length, std::move(type), std::string(params)});
    }
    if (end == absl::string_view::npos) break;
    begin = end + 1;
  }
  return true;
}

std::vector<ConciseDevice> ParseConciseInput(absl::string_view text,
                                             std::vector<std::string>* errors) {
  std::vector<ConciseDevice> devices;
  std::vector<std::string> fields(1);  // fields[f] is being written
  size_t c = 0;
  const size_t len = text.size();
  bool pending = false;  // characters since the last device ended
  while (c < len) {
    char ch = text[c];
    if (ch == '\\') {
      if (++c == len) {
        errors->push_back(
            "Backslash must be followed by another character at end of "
            "string.");
        errors->push_back(ParsedFields(fields));
        return devices;
      }
      fields.back().push_back(text[c++]);
      pending = true;
      continue;
    }
    if (ch == ',' && fields.size() < 5) {
      fields.emplace_back();
      ++c;
      while (c < len && IsSpace(text[c])) ++c;
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
        errors->push_back(
            "Five comma-separated fields are required for each device");
        errors->push_back(ParsedFields(fields));
        return devices;
      }
      devices.push_back(ConciseDevice{fields[0], fields[1], fields[2],
                                      fields[3], fields[4]});
      fields.assign(1, std::string());
      pending = false;
      while (c < len && IsSpace(text[c])) ++c;
      continue;
    }
    fields.back().push_back(ch);
    pending = true;
    ++c;
  }
  if (pending) {
    errors->push_back(
        "Incomplete entry: five comma-separated fields are required for each "
        "device");
    errors->push_back(ParsedFields(fields));
  }
  return devices;
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
