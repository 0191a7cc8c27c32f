#include "mountns/mountinfo.h"

#include <stdio.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"

namespace mountns {
namespace {

// Strict decimal: digits only (no sign, no spaces), fits in 32 bits.
bool ParseUint32(absl::string_view text, uint32_t* value) {
  if (text.empty() || text.size() > 10) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *value = static_cast<uint32_t>(v);
  return true;
}

absl::Status FieldError(absl::string_view field, absl::string_view value) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad ", field, " '", value, "'"));
}

absl::Status ParseNumberField(absl::string_view name, absl::string_view text,
                              uint32_t* value) {
  if (!ParseUint32(text, value)) return FieldError(name, text);
  return absl::OkStatus();
}

absl::Status ParsePathField(absl::string_view name, absl::string_view text,
                            bool may_be_empty, std::string* value) {
  if (text.empty() && !may_be_empty) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", name));
  }
  absl::StatusOr<std::string> decoded = UnescapeMountInfoField(text);
  if (!decoded.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad ", name, ": ", decoded.status().message()));
  }
  *value = *std::move(decoded);
  return absl::OkStatus();
}

// "tag:N" -> N, for the optional fields that carry a peer group id.
absl::Status ParsePeerGroup(absl::string_view field, size_t tag_length,
                            std::optional<uint32_t>* value) {
  if (value->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("repeated optional field '", field, "'"));
  }
  uint32_t id = 0;
  if (!ParseUint32(field.substr(tag_length), &id)) {
    return FieldError("optional field", field);
  }
  *value = id;
  return absl::OkStatus();
}

absl::Status ParseOptionalField(absl::string_view field, MountInfo* info) {
  if (field.empty()) return absl::InvalidArgumentError("empty optional field");
  constexpr absl::string_view kShared = "shared:";
  constexpr absl::string_view kMaster = "master:";
  constexpr absl::string_view kPropagateFrom = "propagate_from:";
  if (field.substr(0, kShared.size()) == kShared) {
    return ParsePeerGroup(field, kShared.size(), &info->shared);
  }
  if (field.substr(0, kMaster.size()) == kMaster) {
    return ParsePeerGroup(field, kMaster.size(), &info->master);
  }
  if (field.substr(0, kPropagateFrom.size()) == kPropagateFrom) {
    return ParsePeerGroup(field, kPropagateFrom.size(), &info->propagate_from);
  }
  if (field == "unbindable") info->unbindable = true;
  // Anything else is a field from a newer kernel: proc(5) says to ignore
  // unknown ones, so it is only kept in optional_fields.
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> UnescapeMountInfoField(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (field.size() - i < 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("truncated escape at offset ", i));
    }
    unsigned value = 0;
    for (size_t k = 1; k <= 3; ++k) {
      char d = field[i + k];
      if (d < '0' || d > '7') {
        return absl::InvalidArgumentError(
            absl::StrCat("bad escape '", field.substr(i, 4), "'"));
      }
      value = value * 8 + static_cast<unsigned>(d - '0');
    }
    if (value > 0xff) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad escape '", field.substr(i, 4), "'"));
    }
    out.push_back(static_cast<char>(value));
    i += 3;
  }
  return out;
}

std::string EscapeMountInfoField(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (char c : field) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
      char buf[5];
      snprintf(buf, sizeof(buf), "\\%03o", static_cast<unsigned char>(c));
      out.append(buf);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::StatusOr<MountInfo> ParseMountInfoLine(absl::string_view line) {
  if (line.find('\n') != absl::string_view::npos) {
    return absl::InvalidArgumentError("newline inside a line");
  }
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
  // Six fixed fields, the separator, three more.
  if (fields.size() < 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("too few fields (", fields.size(), ", need at least 10)"));
  }
  MountInfo info;
  DMKIT_RETURN_IF_ERROR(
      ParseNumberField("mount id", fields[0], &info.mount_id));
  DMKIT_RETURN_IF_ERROR(
      ParseNumberField("parent id", fields[1], &info.parent_id));
  std::vector<absl::string_view> dev = absl::StrSplit(fields[2], ':');
  if (dev.size() != 2 || !ParseUint32(dev[0], &info.major) ||
      !ParseUint32(dev[1], &info.minor)) {
    return FieldError("major:minor", fields[2]);
  }
  DMKIT_RETURN_IF_ERROR(ParsePathField("root", fields[3], false, &info.root));
  DMKIT_RETURN_IF_ERROR(
      ParsePathField("mount point", fields[4], false, &info.mount_point));
  if (fields[5].empty())
    return absl::InvalidArgumentError("empty mount options");
  info.mount_options = std::string(fields[5]);

  // The optional fields run up to the first "-"; none of them can be "-",
  // and escaped paths cannot contain a space, so the first match is it.
  size_t separator = 6;
  while (separator < fields.size() && fields[separator] != "-") {
    DMKIT_RETURN_IF_ERROR(ParseOptionalField(fields[separator], &info));
    info.optional_fields.emplace_back(fields[separator]);
    ++separator;
  }
  if (separator == fields.size()) {
    return absl::InvalidArgumentError("no '-' separator");
  }
  if (fields.size() - separator != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected 3 fields after '-', found ", fields.size() - separator - 1));
  }
  DMKIT_RETURN_IF_ERROR(
      ParsePathField("fs type", fields[separator + 1], false, &info.fs_type));
  DMKIT_RETURN_IF_ERROR(
      ParsePathField("source", fields[separator + 2], true, &info.source));
  if (fields[separator + 3].empty()) {
    return absl::InvalidArgumentError("empty superblock options");
  }
  info.super_options = std::string(fields[separator + 3]);
  return info;
}

absl::StatusOr<std::vector<MountInfo>> ParseMountInfo(absl::string_view text) {
  std::vector<MountInfo> mounts;
  if (text.empty()) return mounts;
  if (text.back() == '\n') text.remove_suffix(1);
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    absl::StatusOr<MountInfo> info = ParseMountInfoLine(line);
    if (!info.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mountinfo line ", line_number, ": ", info.status().message()));
    }
    mounts.push_back(*std::move(info));
  }
  return mounts;
}

absl::StatusOr<std::vector<MountInfo>> ReadMountInfoFile(
    const std::string& path) {
  DMKIT_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  absl::StatusOr<std::vector<MountInfo>> mounts = ParseMountInfo(text);
  if (!mounts.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", mounts.status().message()));
  }
  return mounts;
}

absl::StatusOr<std::vector<MountInfo>> ReadMountInfo(pid_t pid) {
  return ReadMountInfoFile(absl::StrCat("/proc/", pid, "/mountinfo"));
}

std::string FormatMountInfoLine(const MountInfo& info) {
  std::string line = absl::StrCat(
      info.mount_id, " ", info.parent_id, " ", info.major, ":", info.minor, " ",
      EscapeMountInfoField(info.root), " ",
      EscapeMountInfoField(info.mount_point), " ", info.mount_options);
  for (const std::string& field : info.optional_fields) {
    absl::StrAppend(&line, " ", field);
  }
  absl::StrAppend(&line, " - ", EscapeMountInfoField(info.fs_type), " ",
                  EscapeMountInfoField(info.source), " ", info.super_options);
  return line;
}

}  // namespace mountns
