#include "dmioctl/wire.h"

#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "bytes.h"
#include "dmioctl/error.h"

namespace dmioctl {
namespace {

constexpr size_t Align8(size_t n) { return (n + 7) & ~size_t{7}; }

template <typename T>
T Load(const char* p) {
  T value;
  memcpy(&value, p, sizeof(T));
  return value;
}

absl::Status Malformed(absl::string_view what, absl::string_view detail,
                       size_t offset) {
  return absl::DataLossError(absl::StrCat(
      "malformed ", what, " reply: ", detail, " at offset ", offset));
}

// A NUL-terminated string at [offset, end); nullopt if no NUL before end.
std::optional<absl::string_view> CString(ReplyBytes data, size_t offset,
                                         size_t end) {
  if (offset >= end || end > data.size()) return std::nullopt;
  const char* start = data.data() + offset;
  size_t length = internal::BoundedLength(start, end - offset);
  if (length == end - offset) return std::nullopt;
  return absl::string_view(start, length);
}

// Offsets of a dm_name_list entry (the struct's sizeof is 16 because of
// padding; the name starts at 12).
constexpr size_t kNameListName = offsetof(dm_name_list, name);
static_assert(kNameListName == 12);
constexpr size_t kVersionsName = offsetof(dm_target_versions, name);
static_assert(kVersionsName == 16);
constexpr size_t kSpecSize = sizeof(dm_target_spec);

}  // namespace

absl::StatusOr<std::vector<DeviceListEntry>> ParseNameList(ReplyBytes data,
                                                           bool has_event_nr,
                                                           bool has_uuid) {
  std::vector<DeviceListEntry> entries;
  DMKIT_RETURN_IF_ERROR(ParseNameList(data, has_event_nr, has_uuid, &entries));
  return entries;
}

absl::Status ParseNameList(ReplyBytes data, bool has_event_nr, bool has_uuid,
                           std::vector<DeviceListEntry>* entries) {
  // An empty list: the kernel writes an 8-byte dev = 0 but data_size stops
  // at data_start, so it arrives as no payload; a payload starting with a
  // zero dev and no next (what libdevmapper tests for) is empty too.
  if (data.size() == 0 ||
      (data.size() >= kNameListName && Load<uint64_t>(data.data()) == 0 &&
       Load<uint32_t>(data.data() + 8) == 0)) {
    entries->clear();
    return absl::OkStatus();
  }
  // Entries are assigned in place, into the strings a reused vector already
  // holds; it grows only when this listing is longer than the last.
  size_t index = 0;
  size_t offset = 0;
  for (;; ++index) {
    if (offset + kNameListName > data.size()) {
      return Malformed("DM_LIST_DEVICES", "entry header past end", offset);
    }
    uint64_t dev = Load<uint64_t>(data.data() + offset);
    uint32_t next = Load<uint32_t>(data.data() + offset + 8);
    size_t end = data.size();
    if (next != 0) {
      if (next % 8 != 0 || next < Align8(kNameListName + 2) ||
          offset + next > data.size()) {
        return Malformed("DM_LIST_DEVICES", absl::StrCat("bad next ", next),
                         offset);
      }
      end = offset + next;
    }
    std::optional<absl::string_view> name =
        CString(data, offset + kNameListName, end);
    if (!name || name->empty()) {
      return Malformed("DM_LIST_DEVICES", "unterminated or empty name", offset);
    }
    if (index == entries->size()) entries->emplace_back();
    DeviceListEntry& entry = (*entries)[index];
    internal::AssignShort(&entry.name, name->data(), name->size());
    entry.dev = DevNum::Decode(dev);
    entry.event_nr.reset();
    bool uuid_seen = false;
    if (has_event_nr) {
      size_t trailer = Align8(offset + kNameListName + name->size() + 1);
      if (trailer + 8 > end) {
        return Malformed("DM_LIST_DEVICES", "event trailer past entry", offset);
      }
      entry.event_nr = Load<uint32_t>(data.data() + trailer);
      uint32_t flags = Load<uint32_t>(data.data() + trailer + 4);
      if (has_uuid && (flags & DM_NAME_LIST_FLAG_HAS_UUID)) {
        std::optional<absl::string_view> uuid = CString(data, trailer + 8, end);
        if (!uuid) {
          return Malformed("DM_LIST_DEVICES", "unterminated uuid", offset);
        }
        if (!entry.uuid) entry.uuid.emplace();
        internal::AssignShort(&*entry.uuid, uuid->data(), uuid->size());
        uuid_seen = true;
      } else if (has_uuid && (flags & DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID)) {
        if (!entry.uuid) entry.uuid.emplace();
        entry.uuid->clear();
        uuid_seen = true;
      }
    }
    if (!uuid_seen) entry.uuid.reset();
    if (next == 0) break;
    offset += next;
  }
  entries->resize(index + 1);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TargetVersion>> ParseVersionList(ReplyBytes data) {
  std::vector<TargetVersion> versions;
  size_t offset = 0;
  while (offset < data.size()) {
    if (offset + kVersionsName + 1 > data.size()) {
      return Malformed("DM_LIST_VERSIONS", "entry past end", offset);
    }
    uint32_t next = Load<uint32_t>(data.data() + offset);
    size_t end = data.size();
    if (next != 0) {
      if (next % 8 != 0 || next <= kVersionsName ||
          offset + next > data.size()) {
        return Malformed("DM_LIST_VERSIONS", absl::StrCat("bad next ", next),
                         offset);
      }
      end = offset + next;
    }
    std::optional<absl::string_view> name =
        CString(data, offset + kVersionsName, end);
    if (!name || name->empty()) {
      return Malformed("DM_LIST_VERSIONS", "unterminated or empty name",
                       offset);
    }
    TargetVersion version;
    version.name = std::string(*name);
    for (int i = 0; i < 3; ++i) {
      version.version[i] = Load<uint32_t>(data.data() + offset + 4 + 4 * i);
    }
    versions.push_back(std::move(version));
    if (next == 0) break;
    offset += next;
  }
  return versions;
}

absl::StatusOr<std::vector<DevNum>> ParseDeps(ReplyBytes data) {
  std::vector<DevNum> devices;
  if (data.size() == 0) return devices;  // no table
  if (data.size() < 8) return Malformed("DM_TABLE_DEPS", "short header", 0);
  uint32_t count = Load<uint32_t>(data.data());
  if ((data.size() - 8) / 8 < count) {
    return Malformed("DM_TABLE_DEPS",
                     absl::StrCat("count ", count, " exceeds payload"), 0);
  }
  devices.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    devices.push_back(DevNum::Decode(Load<uint64_t>(data.data() + 8 + 8 * i)));
  }
  return devices;
}

absl::StatusOr<std::vector<Target>> ParseTargetSpecs(ReplyBytes data,
                                                     uint32_t target_count) {
  std::vector<Target> targets;
  DMKIT_RETURN_IF_ERROR(ParseTargetSpecs(data, target_count, &targets));
  return targets;
}

absl::Status ParseTargetSpecs(ReplyBytes data, uint32_t target_count,
                              std::vector<Target>* targets) {
  // Each spec takes at least 41 bytes; a count that cannot fit is malformed
  // (and must not drive a huge resize()).
  if (target_count > data.size() / (kSpecSize + 1)) {
    return Malformed("DM_TABLE_STATUS",
                     absl::StrCat("target_count ", target_count,
                                  " does not fit ", data.size(), " bytes"),
                     0);
  }
  targets->resize(target_count);
  size_t offset = 0;
  for (uint32_t i = 0; i < target_count; ++i) {
    if (offset + kSpecSize > data.size()) {
      return Malformed("DM_TABLE_STATUS", "spec past end", offset);
    }
    dm_target_spec spec;
    memcpy(&spec, data.data() + offset, sizeof(spec));
    std::optional<absl::string_view> text =
        CString(data, offset + kSpecSize, data.size());
    if (!text) return Malformed("DM_TABLE_STATUS", "unterminated text", offset);
    size_t type_length =
        internal::BoundedLength(spec.target_type, sizeof(spec.target_type));
    if (type_length == sizeof(spec.target_type)) {
      return Malformed("DM_TABLE_STATUS", "unterminated target type", offset);
    }
    Target& target = (*targets)[i];
    target.start = spec.sector_start;
    target.length = spec.length;
    internal::AssignShort(&target.type, spec.target_type, type_length);
    internal::AssignShort(&target.params, text->data(), text->size());
    if (i + 1 == target_count) break;
    // `next` counts from the start of the payload here (the opposite of
    // table load), and must move past this spec's text.
    size_t text_end = offset + kSpecSize + text->size() + 1;
    if (spec.next < text_end || spec.next % 8 != 0) {
      return Malformed("DM_TABLE_STATUS", absl::StrCat("bad next ", spec.next),
                       offset);
    }
    offset = spec.next;
  }
  return absl::OkStatus();
}

std::string SerializeTargets(const Table& table) {
  std::string out;
  for (const Target& target : table.targets) {
    std::string params;
    params.reserve(target.params.size());
    for (char c : target.params) {
      if (c == '\\') params.push_back('\\');
      params.push_back(c);
    }
    size_t begin = out.size();
    size_t record = Align8(kSpecSize + params.size() + 1);
    out.resize(begin + record, '\0');
    dm_target_spec spec{};
    spec.sector_start = target.start;
    spec.length = target.length;
    spec.next = static_cast<uint32_t>(record);
    memcpy(spec.target_type, target.type.data(),
           std::min(target.type.size(), sizeof(spec.target_type) - 1));
    memcpy(out.data() + begin, &spec, sizeof(spec));
    memcpy(out.data() + begin + kSpecSize, params.data(), params.size());
  }
  return out;
}

std::string SerializeMessage(uint64_t sector, absl::string_view message) {
  std::string out(offsetof(dm_target_msg, message), '\0');
  memcpy(out.data(), &sector, sizeof(sector));
  out.append(message.data(), message.size());
  out.push_back('\0');
  return out;
}

}  // namespace dmioctl
