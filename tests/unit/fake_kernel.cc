#include "tests/unit/fake_kernel.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dmioctl/types.h"
#include "dmioctl/wire.h"

namespace dmkit::testing {
namespace {

constexpr uint32_t kDataStart = sizeof(dm_ioctl);
constexpr size_t Align8(size_t n) { return (n + 7) & ~size_t{7}; }

std::string Field(const char* field, size_t size) {
  return std::string(field, strnlen(field, size));
}

// Parses a DM_TABLE_LOAD payload the way 6.1's populate_table() does:
// `next` relative to the current spec, params NUL-terminated inside the
// buffer, backslash escapes undone.
bool ParseLoad(dm_ioctl* h, size_t size, dmioctl::Table* table) {
  const char* base = reinterpret_cast<const char*>(h);
  size_t offset = h->data_start;
  for (uint32_t i = 0; i < h->target_count; ++i) {
    if (offset + sizeof(dm_target_spec) > h->data_size || h->data_size > size) {
      return false;
    }
    dm_target_spec spec;
    memcpy(&spec, base + offset, sizeof(spec));
    const char* params = base + offset + sizeof(spec);
    size_t max = h->data_size - offset - sizeof(spec);
    size_t n = strnlen(params, max);
    if (n == max) return false;
    std::string text;
    for (size_t k = 0; k < n; ++k) {
      if (params[k] == '\\' && k + 1 < n) ++k;
      text.push_back(params[k]);
    }
    table->targets.push_back({spec.sector_start, spec.length,
                              Field(spec.target_type, sizeof(spec.target_type)),
                              text});
    if (spec.next < sizeof(spec)) return false;
    offset += spec.next;
  }
  return h->target_count > 0;
}

}  // namespace

FakeDevice* FakeKernelState::Find(const std::string& name) {
  auto it = devices.find(name);
  return it == devices.end() ? nullptr : &it->second;
}

uint32_t FakeKernelState::NextMinor() const {
  for (uint32_t m = first_minor;; ++m) {
    bool used = false;
    for (const auto& [n, d] : devices) used |= d.minor == m;
    if (!used) return m;
  }
}

int FakeKernelState::Handle(unsigned long request, void* buffer) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  auto* h = static_cast<dm_ioctl*>(buffer);
  unsigned int command = _IOC_NR(request);
  SentIoctl record;
  record.command = command;
  memcpy(&record.header, h, sizeof(dm_ioctl));
  if (h->data_size > h->data_start && h->data_start >= kDataStart) {
    record.payload.assign(static_cast<const char*>(buffer) + h->data_start,
                          h->data_size - h->data_start);
  }
  sent.push_back(std::move(record));
  size_t size = h->data_size;

  // check_version(): the kernel's version goes back even on failure.
  bool version_ok = h->version[0] == 4 && h->version[1] <= version_minor;
  h->version[0] = 4;
  h->version[1] = version_minor;
  h->version[2] = 0;
  if (!version_ok) return -EINVAL;
  int index = static_cast<int>(sent.size());
  if (fail_at != 0 && index == fail_at) return -fail_errno;
  if (auto it = more_failures.find(index); it != more_failures.end()) {
    return -it->second;
  }
  if (auto it = overrides.find(command); it != overrides.end()) {
    return it->second(h, size);
  }
  return Dispatch(command, h, size);
}

FakeDevice* FakeKernelState::Lookup(dm_ioctl* h, int* error) {
  std::string name = Field(h->name, sizeof(h->name));
  std::string uuid = Field(h->uuid, sizeof(h->uuid));
  FakeDevice* found = nullptr;
  if (!uuid.empty()) {
    if (!name.empty() || h->dev != 0) {
      *error = -ENXIO;
      return nullptr;
    }
    for (auto& [n, d] : devices) {
      if (d.uuid == uuid) found = &d;
    }
  } else if (!name.empty()) {
    if (h->dev != 0) {
      *error = -ENXIO;
      return nullptr;
    }
    found = Find(name);
  } else if (h->dev != 0) {
    dmioctl::DevNum dev = dmioctl::DevNum::Decode(h->dev);
    for (auto& [n, d] : devices) {
      if (dev.major == kMajor && d.minor == dev.minor) found = &d;
    }
  }
  if (found == nullptr) *error = -ENXIO;
  return found;
}

void FakeKernelState::Status(const FakeDevice& d, dm_ioctl* h) {
  h->flags &= ~(DM_SUSPEND_FLAG | DM_READONLY_FLAG | DM_ACTIVE_PRESENT_FLAG |
                DM_INACTIVE_PRESENT_FLAG);
  if (d.suspended) h->flags |= DM_SUSPEND_FLAG;
  if (d.live) h->flags |= DM_ACTIVE_PRESENT_FLAG;
  if (d.inactive) h->flags |= DM_INACTIVE_PRESENT_FLAG;
  const std::optional<dmioctl::Table>& shown =
      (h->flags & DM_QUERY_INACTIVE_TABLE_FLAG) ? d.inactive : d.live;
  if (shown && shown->read_only) h->flags |= DM_READONLY_FLAG;
  h->dev = dmioctl::DevNum{kMajor, d.minor}.Encode();
  h->open_count = d.open_count;
  h->event_nr = d.event_nr;
  h->target_count = shown ? shown->targets.size() : 0;
  memset(h->name, 0, sizeof(h->name));
  memset(h->uuid, 0, sizeof(h->uuid));
  memcpy(h->name, d.name.data(), d.name.size());
  memcpy(h->uuid, d.uuid.data(), d.uuid.size());
  h->data_size = offsetof(dm_ioctl, data);
}

int FakeKernelState::Dispatch(unsigned int command, dm_ioctl* h, size_t size) {
  char* base = reinterpret_cast<char*>(h);
  size_t room = size > kDataStart ? size - kDataStart : 0;
  h->flags &= ~(DM_BUFFER_FULL_FLAG | DM_DATA_OUT_FLAG);
  int error = 0;
  switch (command) {
    case DM_VERSION_CMD:
      return 0;
    case DM_REMOVE_ALL_CMD: {
      for (auto it = devices.begin(); it != devices.end();) {
        it = it->second.open_count == 0 ? devices.erase(it) : std::next(it);
      }
      ++global_event_nr;
      h->data_size = 0;
      return 0;
    }
    case DM_LIST_DEVICES_CMD: {
      size_t needed = 0;
      bool with_uuid = h->flags & DM_UUID_FLAG;
      for (auto& [n, d] : devices) {
        needed += Align8(12 + n.size() + 1) + 8;
        if (with_uuid && !d.uuid.empty()) needed += Align8(d.uuid.size() + 1);
      }
      if (room < needed || room < 8) {
        h->flags |= DM_BUFFER_FULL_FLAG;
        h->data_size = offsetof(dm_ioctl, data);
        return 0;
      }
      h->data_start = kDataStart;
      memset(base + kDataStart, 0, needed > 8 ? needed : 8);
      size_t offset = kDataStart;
      size_t last = 0;
      for (auto& [n, d] : devices) {
        uint64_t dev = dmioctl::DevNum{kMajor, d.minor}.Encode();
        memcpy(base + offset, &dev, 8);
        memcpy(base + offset + 12, n.c_str(), n.size() + 1);
        size_t trailer = Align8(offset + 12 + n.size() + 1);
        uint32_t event_flags[2] = {d.event_nr, 0};
        size_t end = trailer + 8;
        if (with_uuid) {
          event_flags[1] = d.uuid.empty() ? DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID
                                          : DM_NAME_LIST_FLAG_HAS_UUID;
          if (!d.uuid.empty()) {
            memcpy(base + end, d.uuid.c_str(), d.uuid.size() + 1);
            end = Align8(end + d.uuid.size() + 1);
          }
        }
        memcpy(base + trailer, event_flags, 8);
        uint32_t next = static_cast<uint32_t>(end - offset);
        memcpy(base + offset + 8, &next, 4);
        last = offset;
        offset = end;
      }
      if (!devices.empty()) memset(base + last + 8, 0, 4);
      h->data_size = kDataStart + needed;
      return 0;
    }
    case DM_DEV_CREATE_CMD: {
      std::string name = Field(h->name, sizeof(h->name));
      std::string uuid = Field(h->uuid, sizeof(h->uuid));
      if (name.empty() || name.find('/') != std::string::npos) return -EINVAL;
      if (Find(name)) return -EBUSY;
      for (auto& [n, d] : devices) {
        if (!uuid.empty() && d.uuid == uuid) return -EBUSY;
      }
      FakeDevice d{.name = name, .uuid = uuid, .minor = NextMinor()};
      if (h->flags & DM_PERSISTENT_DEV_FLAG) {
        d.minor = dmioctl::DevNum::Decode(h->dev).minor;
        for (auto& [n, other] : devices) {
          if (other.minor == d.minor) return -ENXIO;
        }
      }
      devices[name] = d;
      ++global_event_nr;
      Status(devices[name], h);
      return 0;
    }
    case DM_DEV_REMOVE_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      if (d->open_count > 0) {
        if (!(h->flags & DM_DEFERRED_REMOVE)) return -EBUSY;
        d->deferred_remove = true;
        h->data_size = offsetof(dm_ioctl, data);
        return 0;
      }
      std::string name = d->name;
      memset(h->name, 0, sizeof(h->name));
      memcpy(h->name, name.data(), name.size());
      devices.erase(name);
      ++global_event_nr;
      h->flags &= ~DM_DEFERRED_REMOVE;
      h->data_size = offsetof(dm_ioctl, data);
      return 0;
    }
    case DM_DEV_RENAME_CMD: {
      std::string name = Field(h->name, sizeof(h->name));
      if (h->data_start < offsetof(dm_ioctl, data) || h->data_start >= size) {
        return -EINVAL;
      }
      std::string value = Field(base + h->data_start, size - h->data_start);
      if (value.empty()) return -EINVAL;
      bool set_uuid = h->flags & DM_UUID_FLAG;
      if (set_uuid) {
        for (auto& [n, d] : devices) {
          if (d.uuid == value) return -EBUSY;
        }
      } else {
        if (value.find('/') != std::string::npos) return -EINVAL;
        if (Find(value)) return -EBUSY;
      }
      FakeDevice* d = Find(name);
      if (!d) return -ENXIO;
      if (set_uuid) {
        if (!d->uuid.empty()) return -EINVAL;
        d->uuid = value;
        Status(*d, h);
      } else {
        FakeDevice moved = *d;
        devices.erase(name);
        moved.name = value;
        ++moved.event_nr;
        devices[value] = moved;
        Status(devices[value], h);
        // The reply keeps the old name.
        memset(h->name, 0, sizeof(h->name));
        memcpy(h->name, name.data(), name.size());
      }
      ++global_event_nr;
      return 0;
    }
    case DM_DEV_SUSPEND_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      if (h->flags & DM_SUSPEND_FLAG) {
        d->suspended = true;
      } else {
        if (d->inactive) {
          d->live = std::move(d->inactive);
          d->inactive.reset();
          ++global_event_nr;
        }
        if (d->suspended && !d->live) return -EINVAL;
        d->suspended = false;
      }
      Status(*d, h);
      return 0;
    }
    case DM_DEV_STATUS_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      Status(*d, h);
      return 0;
    }
    case DM_TABLE_LOAD_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      dmioctl::Table table;
      if (!ParseLoad(h, size, &table)) return -EINVAL;
      for (const dmioctl::Target& t : table.targets) {
        if (t.type == "unknown-target") return -EINVAL;
      }
      table.read_only = h->flags & DM_READONLY_FLAG;
      d->inactive = std::move(table);
      Status(*d, h);
      return 0;
    }
    case DM_TABLE_CLEAR_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      d->inactive.reset();
      Status(*d, h);
      return 0;
    }
    case DM_TABLE_DEPS_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      Status(*d, h);
      if (!d->live) return 0;
      if (room < 8) {
        h->flags |= DM_BUFFER_FULL_FLAG;
        return 0;
      }
      memset(base + kDataStart, 0, 8);
      h->data_start = kDataStart;
      h->data_size = kDataStart + 8;
      return 0;
    }
    case DM_TABLE_STATUS_CMD:
    case DM_DEV_WAIT_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      uint32_t waited_for = h->event_nr;
      Status(*d, h);
      if (command == DM_DEV_WAIT_CMD && d->event_nr == waited_for) {
        return -EINTR;  // would sleep forever; tests never want that
      }
      const std::optional<dmioctl::Table>& shown =
          (h->flags & DM_QUERY_INACTIVE_TABLE_FLAG) ? d->inactive : d->live;
      h->data_start = kDataStart;
      h->data_size = kDataStart;
      if (!shown) return 0;
      bool table = h->flags & DM_STATUS_TABLE_FLAG;
      size_t offset = 0;
      for (size_t i = 0; i < shown->targets.size(); ++i) {
        const dmioctl::Target& t = shown->targets[i];
        std::string text = table ? t.params
                           : &shown == &d->live && i < d->status.size()
                               ? d->status[i]
                               : "";
        if (room - offset <= sizeof(dm_target_spec) ||
            text.size() + 1 >= room - offset - sizeof(dm_target_spec)) {
          h->flags |= DM_BUFFER_FULL_FLAG;
          return 0;
        }
        dm_target_spec spec{};
        spec.sector_start = t.start;
        spec.length = t.length;
        memcpy(spec.target_type, t.type.data(), t.type.size());
        size_t text_at = offset + sizeof(spec);
        memcpy(base + kDataStart + text_at, text.c_str(), text.size() + 1);
        h->data_size = kDataStart + text_at + text.size() + 1;
        offset = Align8(text_at + text.size() + 1);
        spec.next = static_cast<uint32_t>(offset);
        memcpy(base + kDataStart + text_at - sizeof(spec), &spec, sizeof(spec));
      }
      return 0;
    }
    case DM_LIST_VERSIONS_CMD:
    case DM_GET_TARGET_VERSION_CMD: {
      struct Known {
        const char* name;
        uint32_t v[3];
      };
      static constexpr Known kKnown[] = {{"linear", {1, 4, 0}},
                                         {"striped", {1, 6, 0}},
                                         {"error", {1, 6, 0}},
                                         {"thin-pool", {1, 23, 0}}};
      std::string wanted = Field(h->name, sizeof(h->name));
      size_t needed = 0;
      std::vector<const Known*> shown;
      for (const Known& k : kKnown) {
        if (command == DM_GET_TARGET_VERSION_CMD && wanted != k.name) continue;
        shown.push_back(&k);
        needed += Align8(16 + strlen(k.name) + 1);
      }
      if (shown.empty()) return -EINVAL;
      if (room < needed) {
        h->flags |= DM_BUFFER_FULL_FLAG;
        h->data_size = offsetof(dm_ioctl, data);
        return 0;
      }
      size_t offset = kDataStart;
      for (size_t i = 0; i < shown.size(); ++i) {
        size_t len = Align8(16 + strlen(shown[i]->name) + 1);
        uint32_t next = i + 1 == shown.size() ? 0 : len;
        memset(base + offset, 0, len);
        memcpy(base + offset, &next, 4);
        memcpy(base + offset + 4, shown[i]->v, 12);
        memcpy(base + offset + 16, shown[i]->name, strlen(shown[i]->name));
        offset += len;
      }
      h->data_start = kDataStart;
      h->data_size = offset;
      return 0;
    }
    case DM_TARGET_MSG_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      std::string message =
          Field(base + h->data_start + 8, size - h->data_start - 8);
      // 6.1 target_message(): "Empty message received." before it looks
      // at the table.
      if (message.find_first_not_of(" \t\n") == std::string::npos) {
        return -EINVAL;
      }
      if (!d->live) return 2;  // 6.1: falls through with r = 2
      ++d->event_nr;           // lets tests see how often a message ran
      Status(*d, h);
      if (message.rfind("echo ", 0) == 0) {
        std::string out = message.substr(5);
        if (out.size() + 1 >= room) {
          h->flags |= DM_DATA_OUT_FLAG | DM_BUFFER_FULL_FLAG;
          return 0;
        }
        memcpy(base + kDataStart, out.c_str(), out.size() + 1);
        h->flags |= DM_DATA_OUT_FLAG;
        h->data_start = kDataStart;
        h->data_size = kDataStart + out.size() + 1;
      }
      return 0;
    }
    case DM_DEV_SET_GEOMETRY_CMD: {
      FakeDevice* d = Lookup(h, &error);
      if (!d) return error;
      h->data_size = 0;
      return 0;
    }
    case DM_DEV_ARM_POLL_CMD:
      h->data_size = offsetof(dm_ioctl, data);
      return 0;
    default:
      return -ENOTTY;
  }
}

}  // namespace dmkit::testing
