#include "dmioctl/device_mapper.h"

#include <errno.h>
#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "bytes.h"
#include "dmioctl/error.h"
#include "dmioctl/wire.h"

namespace dmioctl {
namespace {

static_assert(sizeof(dm_ioctl) == 312 && offsetof(dm_ioctl, data) == 305,
              "struct dm_ioctl layout differs from the kernel's");
static_assert(sizeof(dm_target_spec) == 40);

// Where the payload goes and where the kernel writes every reply: the header
// rounded up to 8 bytes.
constexpr uint32_t kDataStart = sizeof(dm_ioctl);
// The kernel refuses larger buffers (DM_MAX_TARGETS * DM_MAX_TARGET_PARAMS).
constexpr size_t kMaxBufferSize = size_t{1} << 30;
// Replies up to this size live on the stack (see Reply).
constexpr size_t kInlineBufferSize = 4096;
// A command whose reply did not fit its default size grows the buffer by
// this factor on the first retry and by kLaterGrowth after that: listing
// 10,000 devices (~500 KiB) takes 16 KiB -> 1 MiB, two ioctls, instead of
// seven doublings. A buffer sized from the last reply that no longer fits
// (the list grew past the headroom) doubles.
constexpr size_t kFirstGrowth = 64;
constexpr size_t kLaterGrowth = 8;
constexpr size_t kHintedGrowth = 2;

// The size to start from after a reply that used `used` bytes: an eighth
// more, in whole pages. The kernel copies the whole buffer in (and
// kvmallocs it), so headroom costs on every call.
size_t SizeHint(size_t used, size_t min_size) {
  size_t want = (used + used / 8 + 4095) & ~size_t{4095};
  return std::clamp<size_t>(want, min_size, kMaxBufferSize);
}

// How much buffer a command sends (the kernel copies all of it in, and for
// the commands it marks IOCTL_FLAGS_NO_PARAMS only the header).
enum class Buffer : uint8_t {
  kHeader,  // the kernel reads and writes the header only
  kExact,   // a payload in, only the header out: header + payload
  kGrows,   // data out: the command's remembered size, grown on
            // DM_BUFFER_FULL and repeated
  kOnce,    // data out, never repeated (a wait, a message): the caller's size
            // or kDefaultOnceSize
};
constexpr size_t kDefaultOnceSize = 16 * 1024;

// Per ioctl: printable name, the minimum interface version it needs (what
// libdevmapper sends, so older kernels accept it), its buffer policy and,
// for kGrows, the smallest buffer it starts with.
struct CommandInfo {
  const char* ioctl_name;
  InterfaceVersion min_version;
  Buffer buffer;
  uint32_t min_size;
};

constexpr CommandInfo kCommands[] = {
    /* DM_VERSION_CMD */ {"DM_VERSION", {4, 0, 0}, Buffer::kHeader, 0},
    /* DM_REMOVE_ALL_CMD */ {"DM_REMOVE_ALL", {4, 0, 0}, Buffer::kHeader, 0},
    // libdevmapper's 16 KiB for the lists.
    /* DM_LIST_DEVICES_CMD */
    {"DM_LIST_DEVICES", {4, 0, 0}, Buffer::kGrows, 16384},
    /* DM_DEV_CREATE_CMD */ {"DM_DEV_CREATE", {4, 0, 0}, Buffer::kHeader, 0},
    /* DM_DEV_REMOVE_CMD */ {"DM_DEV_REMOVE", {4, 0, 0}, Buffer::kHeader, 0},
    /* DM_DEV_RENAME_CMD */ {"DM_DEV_RENAME", {4, 0, 0}, Buffer::kExact, 0},
    /* DM_DEV_SUSPEND_CMD */ {"DM_DEV_SUSPEND", {4, 0, 0}, Buffer::kHeader, 0},
    /* DM_DEV_STATUS_CMD */ {"DM_DEV_STATUS", {4, 0, 0}, Buffer::kHeader, 0},
    // A wait is never repeated: see WaitEvent().
    /* DM_DEV_WAIT_CMD */ {"DM_DEV_WAIT", {4, 0, 0}, Buffer::kOnce, 0},
    /* DM_TABLE_LOAD_CMD */ {"DM_TABLE_LOAD", {4, 0, 0}, Buffer::kExact, 0},
    /* DM_TABLE_CLEAR_CMD */ {"DM_TABLE_CLEAR", {4, 0, 0}, Buffer::kHeader, 0},
    // One device's deps, table or status rarely needs more than a page.
    /* DM_TABLE_DEPS_CMD */ {"DM_TABLE_DEPS", {4, 0, 0}, Buffer::kGrows, 4096},
    /* DM_TABLE_STATUS_CMD */
    {"DM_TABLE_STATUS", {4, 0, 0}, Buffer::kGrows, 4096},
    /* DM_LIST_VERSIONS_CMD */
    {"DM_LIST_VERSIONS", {4, 1, 0}, Buffer::kGrows, 16384},
    // A message is never repeated: the kernel has already acted on it.
    /* DM_TARGET_MSG_CMD */ {"DM_TARGET_MSG", {4, 2, 0}, Buffer::kOnce, 0},
    /* DM_DEV_SET_GEOMETRY_CMD */
    {"DM_DEV_SET_GEOMETRY", {4, 6, 0}, Buffer::kExact, 0},
    // The kernel has had DM_DEV_ARM_POLL since 4.37 (libdm says 4.36).
    /* DM_DEV_ARM_POLL_CMD */
    {"DM_DEV_ARM_POLL", {4, 37, 0}, Buffer::kHeader, 0},
    /* DM_GET_TARGET_VERSION_CMD */
    {"DM_GET_TARGET_VERSION", {4, 41, 0}, Buffer::kGrows, 4096},
};
static_assert(std::size(kCommands) == DM_GET_TARGET_VERSION_CMD + 1);

uint32_t Pack(const InterfaceVersion& v) {
  return (v[0] << 24) | (std::min<uint32_t>(v[1], 0xfff) << 12) |
         std::min<uint32_t>(v[2], 0xfff);
}
InterfaceVersion Unpack(uint32_t p) {
  return {p >> 24, (p >> 12) & 0xfff, p & 0xfff};
}

// A default-constructed absl::string_view has a null data(), which memcpy
// must not be given even for 0 bytes; std::copy_n takes it.
void CopyField(char* field, size_t size, absl::string_view value) {
  size_t n = std::min(value.size(), size - 1);
  std::copy_n(value.data(), n, field);
  field[n] = '\0';
}

}  // namespace

bool DeviceInfo::suspended() const { return flags & DM_SUSPEND_FLAG; }
bool DeviceInfo::read_only() const { return flags & DM_READONLY_FLAG; }
bool DeviceInfo::live_table() const { return flags & DM_ACTIVE_PRESENT_FLAG; }
bool DeviceInfo::inactive_table() const {
  return flags & DM_INACTIVE_PRESENT_FLAG;
}
bool DeviceInfo::deferred_remove() const { return flags & DM_DEFERRED_REMOVE; }
bool DeviceInfo::internal_suspend() const {
  return flags & DM_INTERNAL_SUSPEND_FLAG;
}
bool DeviceInfo::uevent_generated() const {
  return flags & DM_UEVENT_GENERATED_FLAG;
}

// One request, built afresh for every attempt so no header the kernel wrote
// into (it writes `dev`, name and uuid back) is ever sent again.
struct DeviceMapper::Request {
  unsigned int command = 0;
  const char* operation = "";  // libdevmapper's name, for error messages
  const DeviceRef* device = nullptr;
  absl::string_view name;  // set instead of `device` (create, rename, list)
  absl::string_view uuid;
  uint64_t dev = 0;
  uint32_t flags = 0;
  uint32_t event_nr = 0;
  uint32_t target_count = 0;
  absl::string_view payload;  // placed at kDataStart
  size_t buffer_size = 0;     // 0: the command's default

  const CommandInfo& info() const { return kCommands[command]; }
  // The first buffer's size; `hint` is the size the last reply of this
  // command suggested, `*hinted` says whether it was taken.
  size_t FirstBufferSize(uint32_t hint, bool* hinted) const;
  // The header of an attempt with a buffer of `size` bytes.
  void FillHeader(dm_ioctl* header, size_t size) const;
  // The error of this request: the kernel's errno, or `error_number` of our
  // own with `detail`. Built only when something failed: the success path
  // copies no names.
  absl::Status Error(int error_number, std::string detail) const;
};

namespace {

// Whether a fixed-size reply field holds a NUL.
bool Terminated(const char* field, size_t size) {
  return field[size - 1] == '\0' || memchr(field, '\0', size) != nullptr;
}

// What is wrong with a reply the kernel wrote into a buffer of `size`
// bytes; empty when nothing is.
std::string MalformedReply(const dm_ioctl& header, size_t size) {
  // Commands that return nothing (remove_all, set_geometry) leave the
  // header as sent; header-only commands report data_size 305 < data_start.
  // Anything else must describe a payload inside the buffer and after the
  // header.
  if (header.data_size > size || (header.data_size > header.data_start &&
                                  header.data_start < kDataStart)) {
    return absl::StrCat("malformed reply: data_start ", header.data_start,
                        ", data_size ", header.data_size, ", buffer ", size);
  }
  // The kernel NUL-terminates the name and uuid it writes back; without
  // the NUL they would read as a 128-byte name or a 129-byte uuid, which
  // no device can have.
  // A NUL in the last byte settles it (the request was zero-padded, so
  // that is the common case) without scanning the fields.
  if (!Terminated(header.name, sizeof(header.name)) ||
      !Terminated(header.uuid, sizeof(header.uuid))) {
    return "malformed reply: name or uuid not terminated";
  }
  return std::string();
}

}  // namespace

size_t DeviceMapper::Request::FirstBufferSize(uint32_t hint,
                                              bool* hinted) const {
  const size_t minimum = kDataStart + payload.size();
  size_t size = buffer_size;
  *hinted = false;
  if (size == 0) {
    switch (info().buffer) {
      case Buffer::kHeader:
      case Buffer::kExact:
        size = minimum;
        break;
      case Buffer::kGrows:
        *hinted = hint > info().min_size;
        size = std::max<size_t>(info().min_size, hint);
        break;
      case Buffer::kOnce:
        size = kDefaultOnceSize;
        break;
    }
  }
  return std::max(size, minimum);
}

void DeviceMapper::Request::FillHeader(dm_ioctl* header, size_t size) const {
  header->version[0] = info().min_version[0];
  header->version[1] = info().min_version[1];
  header->version[2] = info().min_version[2];
  header->data_size = static_cast<uint32_t>(size);
  header->data_start = kDataStart;
  header->target_count = target_count;
  header->flags = flags;
  header->event_nr = event_nr;
  header->dev = dev;
  if (device == nullptr) {
    CopyField(header->name, sizeof(header->name), name);
    CopyField(header->uuid, sizeof(header->uuid), uuid);
    return;
  }
  switch (device->kind()) {
    case DeviceRef::Kind::kName:
      CopyField(header->name, sizeof(header->name), device->id());
      break;
    case DeviceRef::Kind::kUuid:
      CopyField(header->uuid, sizeof(header->uuid), device->id());
      break;
    case DeviceRef::Kind::kDevNum:
      header->dev = device->dev().Encode();
      break;
  }
}

absl::Status DeviceMapper::Request::Error(int error_number,
                                          std::string detail) const {
  IoctlErrorInfo error;
  error.error_number = error_number;
  error.operation = operation;
  error.ioctl_name = info().ioctl_name;
  error.detail = std::move(detail);
  if (device == nullptr) {
    error.name = std::string(name);
    error.uuid = std::string(uuid);
    return KernelError(error);
  }
  switch (device->kind()) {
    case DeviceRef::Kind::kName:
      error.name = device->id();
      break;
    case DeviceRef::Kind::kUuid:
      error.uuid = device->id();
      break;
    case DeviceRef::Kind::kDevNum:
      error.dev = device->dev();
      break;
  }
  return KernelError(error);
}

// Large ioctl buffers kept for the next call. A listing of 10,000 devices
// needs about 1 MiB; allocating it afresh each time costs page faults on
// every page (the allocator hands blocks this size back to the kernel),
// which made a repeated listing 1.7 times the floor under QEMU. Up to two
// buffers (two threads listing at once) of at most kMaxCachedBufferSize.
struct DeviceMapper::BufferCache {
  static constexpr size_t kMaxCachedBufferSize = size_t{16} << 20;
  struct Buffer {
    std::unique_ptr<uint64_t[]> words;
    size_t size = 0;   // in words
    size_t dirty = 0;  // bytes past this offset are zero
  };
  static Buffer Allocate(size_t words) {
    // Zeroed once here; Reply::Prepare keeps it zeroed past `dirty`.
    std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
    internal::ZeroBytes(reinterpret_cast<char*>(buffer.get()), words * 8);
    return {std::move(buffer), words, 0};
  }

  // A buffer of at least `words` words: a cached one if one is big enough.
  Buffer Take(size_t words) {
    {
      std::lock_guard<std::mutex> lock(mu);
      for (Buffer& b : cached) {
        if (b.size >= words) {
          Buffer taken = std::move(b);
          b = Buffer();
          return taken;
        }
      }
    }
    return Allocate(words);
  }

  void Give(Buffer buffer) {
    if (buffer.size * 8 > kMaxCachedBufferSize) return;
    std::lock_guard<std::mutex> lock(mu);
    // Keep the larger ones: an empty slot first, else the smallest.
    Buffer* slot = &cached[0];
    for (Buffer& b : cached) {
      if (b.size < slot->size) slot = &b;
    }
    if (slot->size < buffer.size) *slot = std::move(buffer);
  }

  std::mutex mu;
  std::array<Buffer, 2> cached;  // guarded by mu
};

// Each thread's buffer for replies up to kInlineBufferSize (all but the
// listings and large tables), kept between calls so that it is zero past
// the bytes the last call used. See Reply.
struct ScratchBuffer {
  uint64_t words[kInlineBufferSize / 8] = {};  // 8-aligned, as the kernel's
                                               // layouts are
  size_t dirty = 0;  // bytes past this offset are zero
  bool in_use = false;
};
thread_local ScratchBuffer t_scratch;

// The ioctl buffer, which the reply overwrites: the thread's ScratchBuffer,
// or a buffer from the DeviceMapper's BufferCache when the reply may be
// larger (or the scratch buffer is in use further up the stack).
//
// A reply must decode only bytes the kernel wrote in this call, never
// what an earlier call left in the buffer (another device's names, or a
// crypt table's key) when a reply's data_size covers bytes the kernel did
// not write. So every byte past the request's payload is zero when the
// ioctl is issued. Rather than zeroing the whole buffer each time (a 4 KiB
// status buffer would cost more than the status), each buffer records how
// far it may be non-zero: after a well-formed reply, as far as the kernel
// said it wrote (data_size); after anything else, all of it. Prepare()
// zeroes only up to there.
struct DeviceMapper::Reply {
  Reply() = default;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply() {
    if (scratch != nullptr) scratch->in_use = false;
    if (cache != nullptr && heap.words != nullptr) cache->Give(std::move(heap));
  }

  // A buffer of `size` bytes: zeroed header, the request's `payload` at
  // kDataStart, zeros after it.
  dm_ioctl* Prepare(size_t size, absl::string_view payload) {
    if (size <= kInlineBufferSize && scratch == nullptr && !t_scratch.in_use) {
      scratch = &t_scratch;
      scratch->in_use = true;
    }
    if (size <= kInlineBufferSize && scratch != nullptr) {
      buffer = scratch->words;
      dirty = &scratch->dirty;
    } else {
      if (heap.size * 8 < size) {
        if (cache != nullptr && heap.words != nullptr) {
          cache->Give(std::move(heap));
        }
        size_t words = (size + 7) / 8;
        heap = cache != nullptr ? cache->Take(words)
                                : BufferCache::Allocate(words);
      }
      buffer = heap.words.get();
      dirty = &heap.dirty;
    }
    char* bytes = reinterpret_cast<char*>(buffer);
    memset(bytes, 0, kDataStart);
    std::copy_n(payload.data(), payload.size(), bytes + kDataStart);
    size_t end = kDataStart + payload.size();
    size_t zero_to = std::min(*dirty, size);
    if (zero_to > end) internal::ZeroBytes(bytes + end, zero_to - end);
    // Past `size` (not handed to the kernel this time) stays as it was.
    *dirty = *dirty > size ? *dirty : end;
    sent_size = size;
    return reinterpret_cast<dm_ioctl*>(buffer);
  }

  // After the ioctl: how far the kernel may have written. `trusted` is a
  // well-formed reply (data_size within the buffer).
  void Written(bool trusted) {
    size_t written = sent_size;
    if (trusted) written = std::min<size_t>(header().data_size, sent_size);
    *dirty = std::max(*dirty, written);
  }

  const dm_ioctl& header() const {
    return *reinterpret_cast<const dm_ioctl*>(buffer);
  }
  // The payload the kernel wrote: [data_start, data_size), bounds-checked in
  // Execute().
  ReplyBytes data() const {
    const dm_ioctl& h = header();
    if (h.data_size <= h.data_start) return ReplyBytes();
    return ReplyBytes(reinterpret_cast<const char*>(buffer) + h.data_start,
                      h.data_size - h.data_start);
  }
  DeviceInfo Info() const {
    DeviceInfo info;
    FillInfo(&info);
    return info;
  }
  // Assigns into the strings' existing capacity (the reusing forms). One
  // copy, not inlined into every command: with its loops unrolled for the
  // fixed field sizes it is ~4 KiB.
  __attribute__((noinline)) void FillInfo(DeviceInfo* info) const {
    const dm_ioctl& h = header();
    internal::AssignShort(&info->name, h.name,
                          internal::BoundedLength(h.name, sizeof(h.name)));
    internal::AssignShort(&info->uuid, h.uuid,
                          internal::BoundedLength(h.uuid, sizeof(h.uuid)));
    info->dev = DevNum::Decode(h.dev);
    info->open_count = h.open_count;
    info->event_nr = h.event_nr;
    info->target_count = h.target_count;
    info->flags = h.flags;
  }

  bool buffer_full = false;
  BufferCache* cache = nullptr;  // set by Execute()

 private:
  ScratchBuffer* scratch = nullptr;  // this thread's, while this Reply has it
  BufferCache::Buffer heap;
  uint64_t* buffer = nullptr;
  size_t* dirty = nullptr;  // the current buffer's extent
  size_t sent_size = 0;
};

absl::StatusOr<std::unique_ptr<DeviceMapper>> DeviceMapper::Open(
    absl::string_view dev_dir) {
  DMKIT_ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                         OpenControl(dev_dir));
  return std::make_unique<DeviceMapper>(std::move(transport));
}

absl::StatusOr<DeviceMapper*> DeviceMapper::Instance() {
  static const absl::StatusOr<std::unique_ptr<DeviceMapper>>* instance = [] {
    const char* dev_dir = getenv("DM_DEV_DIR");
    return new absl::StatusOr<std::unique_ptr<DeviceMapper>>(
        Open(dev_dir && *dev_dir ? dev_dir : "/dev"));
  }();
  if (!instance->ok()) return instance->status();
  return instance->value().get();
}

DeviceMapper::DeviceMapper(std::unique_ptr<Transport> transport)
    : transport_(std::move(transport)),
      buffer_cache_(std::make_unique<BufferCache>()) {}

DeviceMapper::~DeviceMapper() = default;

InterfaceVersion DeviceMapper::kernel_version() const {
  return Unpack(kernel_version_packed_.load(std::memory_order_relaxed));
}

absl::Status DeviceMapper::Execute(const Request& request, Reply* reply) {
  static_assert(std::tuple_size_v<decltype(size_hints_)> ==
                std::size(kCommands));
  const CommandInfo& command = request.info();
  reply->cache = buffer_cache_.get();
  if (request.device != nullptr) {
    DMKIT_RETURN_IF_ERROR(request.device->Validate());
  }
  std::atomic<uint32_t>& hint = size_hints_[request.command];
  bool hinted = false;  // sized from the last reply, not the default
  size_t size =
      request.FirstBufferSize(hint.load(std::memory_order_relaxed), &hinted);

  for (int attempt = 0;; ++attempt) {
    dm_ioctl* header = reply->Prepare(size, request.payload);
    request.FillHeader(header, size);
    counters_.ioctls.fetch_add(1, std::memory_order_relaxed);
    int r =
        transport_->Ioctl(_IOWR(DM_IOCTL, request.command, dm_ioctl), header);
    reply->Written(r == 0 && header->data_size <= size);
    // The kernel writes its version into every reply, failed ones included.
    if (header->version[0] == DM_VERSION_MAJOR) {
      kernel_version_packed_.store(
          Pack({header->version[0], header->version[1], header->version[2]}),
          std::memory_order_relaxed);
    }
    if (r < 0) return request.Error(-r, "");
    if (r > 0) {
      // A positive return is a failure with nothing copied back. Read from
      // the source, 6.1's target_message returns 2 for a message to a
      // device without a live table; Debian's 6.1 kernel (6.1.192) answers
      // -EINVAL instead ("The device has no table."), which the VM suite
      // checks. Kept for kernels that do return 2.
      return request.Error(EINVAL, absl::StrCat("ioctl returned ", r));
    }
    if (std::string malformed = MalformedReply(*header, size);
        !malformed.empty()) {
      return request.Error(EPROTO, std::move(malformed));
    }
    if (!(header->flags & DM_BUFFER_FULL_FLAG)) {
      if (command.buffer == Buffer::kGrows && request.buffer_size == 0) {
        // Remember a size with some room to spare (the list grows, the
        // next device's table may be longer).
        hint.store(static_cast<uint32_t>(
                       SizeHint(header->data_size, command.min_size)),
                   std::memory_order_relaxed);
      }
      return absl::OkStatus();
    }
    if (command.buffer != Buffer::kGrows) {
      reply->buffer_full = true;
      return absl::OkStatus();
    }
    if (size >= kMaxBufferSize) return request.Error(ENOBUFS, "");
    size_t growth = hinted         ? kHintedGrowth
                    : attempt == 0 ? kFirstGrowth
                                   : kLaterGrowth;
    size = std::min(size * growth, kMaxBufferSize);
    counters_.buffer_full_retries.fetch_add(1, std::memory_order_relaxed);
  }
}

absl::StatusOr<InterfaceVersion> DeviceMapper::Version() {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_VERSION_CMD, .operation = "version"}, &reply));
  const dm_ioctl& h = reply.header();
  return InterfaceVersion{h.version[0], h.version[1], h.version[2]};
}

absl::Status DeviceMapper::RemoveAll(bool deferred) {
  Reply reply;
  return Execute({.command = DM_REMOVE_ALL_CMD,
                  .operation = "remove_all",
                  .flags = deferred ? DM_DEFERRED_REMOVE : 0u},
                 &reply);
}

absl::StatusOr<std::vector<DeviceListEntry>> DeviceMapper::ListDevices(
    const ListOptions& options) {
  std::vector<DeviceListEntry> devices;
  DMKIT_RETURN_IF_ERROR(ListDevices(options, &devices));
  return devices;
}

absl::Status DeviceMapper::ListDevices(const ListOptions& options,
                                       std::vector<DeviceListEntry>* devices) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_LIST_DEVICES_CMD,
               .operation = "names",
               .name = options.name_prefix,
               .uuid = options.uuid_prefix,
               .flags = options.with_uuid ? DM_UUID_FLAG : 0u},
              &reply));
  InterfaceVersion v = kernel_version();
  // The event_nr trailer arrived with 4.37, uuids with 4.45.
  return ParseNameList(reply.data(), v[1] >= 37,
                       options.with_uuid && v[1] >= 45, devices);
}

absl::StatusOr<DeviceInfo> DeviceMapper::CreateDevice(
    const CreateRequest& request) {
  DMKIT_RETURN_IF_ERROR(ValidateName(request.name));
  if (!request.uuid.empty()) DMKIT_RETURN_IF_ERROR(ValidateUuid(request.uuid));
  if (request.minor && *request.minor >= (1u << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("minor ", *request.minor, " is out of range"));
  }
  Request r{.command = DM_DEV_CREATE_CMD,
            .operation = "create",
            .name = request.name,
            .uuid = request.uuid};
  if (request.minor) {
    r.flags |= DM_PERSISTENT_DEV_FLAG;
    r.dev = DevNum{0, *request.minor}.Encode();
  }
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute(r, &reply));
  return reply.Info();
}

absl::StatusOr<DeviceInfo> DeviceMapper::RemoveDevice(const DeviceRef& device,
                                                      bool deferred) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_DEV_REMOVE_CMD,
                                 .operation = "remove",
                                 .device = &device,
                                 .flags = deferred ? DM_DEFERRED_REMOVE : 0u},
                                &reply));
  return reply.Info();
}

absl::StatusOr<DeviceInfo> DeviceMapper::Rename(absl::string_view name,
                                                absl::string_view new_name) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  DMKIT_RETURN_IF_ERROR(ValidateName(new_name));
  return RenameIoctl(name, new_name, 0);
}

absl::StatusOr<DeviceInfo> DeviceMapper::SetUuid(absl::string_view name,
                                                 absl::string_view uuid) {
  DMKIT_RETURN_IF_ERROR(ValidateName(name));
  DMKIT_RETURN_IF_ERROR(ValidateUuid(uuid));
  return RenameIoctl(name, uuid, DM_UUID_FLAG);
}

absl::StatusOr<DeviceInfo> DeviceMapper::RenameIoctl(
    absl::string_view name, absl::string_view new_value, uint32_t flags) {
  std::string payload(new_value);
  payload.push_back('\0');
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_DEV_RENAME_CMD,
                                 .operation = "rename",
                                 .name = name,
                                 .flags = flags,
                                 .payload = payload},
                                &reply));
  return reply.Info();
}

namespace {
uint32_t SuspendFlags(const SuspendOptions& options) {
  return (options.noflush ? DM_NOFLUSH_FLAG : 0u) |
         (options.skip_lockfs ? DM_SKIP_LOCKFS_FLAG : 0u);
}
}  // namespace

absl::StatusOr<DeviceInfo> DeviceMapper::Suspend(
    const DeviceRef& device, const SuspendOptions& options) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_DEV_SUSPEND_CMD,
               .operation = "suspend",
               .device = &device,
               .flags = DM_SUSPEND_FLAG | SuspendFlags(options)},
              &reply));
  return reply.Info();
}

absl::StatusOr<DeviceInfo> DeviceMapper::Resume(const DeviceRef& device,
                                                const SuspendOptions& options) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_DEV_SUSPEND_CMD,
                                 .operation = "resume",
                                 .device = &device,
                                 .flags = SuspendFlags(options)},
                                &reply));
  return reply.Info();
}

absl::StatusOr<DeviceInfo> DeviceMapper::GetInfo(const DeviceRef& device,
                                                 bool inactive) {
  DeviceInfo info;
  DMKIT_RETURN_IF_ERROR(GetInfo(device, inactive, &info));
  return info;
}

absl::Status DeviceMapper::GetInfo(const DeviceRef& device, bool inactive,
                                   DeviceInfo* info) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_DEV_STATUS_CMD,
               .operation = "info",
               .device = &device,
               .flags = inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0u},
              &reply));
  reply.FillInfo(info);
  return absl::OkStatus();
}

namespace {
// The flags of a status query, also a wait's (it answers with the status).
uint32_t StatusFlags(const StatusOptions& options) {
  return (options.inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0u) |
         (options.noflush ? DM_NOFLUSH_FLAG : 0u);
}
}  // namespace

absl::StatusOr<TableReply> DeviceMapper::WaitEvent(
    const DeviceRef& device, uint32_t event_nr, const StatusOptions& options) {
  uint32_t flags = StatusFlags(options);
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_DEV_WAIT_CMD,
                                 .operation = "waitevent",
                                 .device = &device,
                                 .flags = flags,
                                 .event_nr = event_nr},
                                &reply));
  if (reply.buffer_full) {
    // The event has happened; waiting again with the same event_nr would
    // return at once, but only by luck of timing. Fetch the status instead.
    TableReply status;
    DMKIT_RETURN_IF_ERROR(TableStatus(device, flags, "status", &status));
    return status;
  }
  TableReply result;
  result.info = reply.Info();
  DMKIT_ASSIGN_OR_RETURN(
      result.targets, ParseTargetSpecs(reply.data(), result.info.target_count));
  return result;
}

absl::StatusOr<DeviceInfo> DeviceMapper::LoadTable(const DeviceRef& device,
                                                   const Table& table) {
  DMKIT_RETURN_IF_ERROR(table.Validate());
  std::string payload = SerializeTargets(table);
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_TABLE_LOAD_CMD,
               .operation = "reload",
               .device = &device,
               .flags = table.read_only ? DM_READONLY_FLAG : 0u,
               .target_count = static_cast<uint32_t>(table.targets.size()),
               .payload = payload},
              &reply));
  return reply.Info();
}

absl::StatusOr<DeviceInfo> DeviceMapper::ClearTable(const DeviceRef& device) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute(
      {.command = DM_TABLE_CLEAR_CMD, .operation = "clear", .device = &device},
      &reply));
  return reply.Info();
}

absl::StatusOr<DepsReply> DeviceMapper::GetDeps(const DeviceRef& device,
                                                bool inactive) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(
      Execute({.command = DM_TABLE_DEPS_CMD,
               .operation = "deps",
               .device = &device,
               .flags = inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0u},
              &reply));
  DepsReply result;
  result.info = reply.Info();
  DMKIT_ASSIGN_OR_RETURN(result.devices, ParseDeps(reply.data()));
  return result;
}

absl::Status DeviceMapper::TableStatus(const DeviceRef& device, uint32_t flags,
                                       const char* operation,
                                       TableReply* result) {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_TABLE_STATUS_CMD,
                                 .operation = operation,
                                 .device = &device,
                                 .flags = flags},
                                &reply));
  reply.FillInfo(&result->info);
  return ParseTargetSpecs(reply.data(), result->info.target_count,
                          &result->targets);
}

namespace {

uint32_t TableFlags(bool inactive) {
  return DM_STATUS_TABLE_FLAG | (inactive ? DM_QUERY_INACTIVE_TABLE_FLAG : 0u);
}

}  // namespace

absl::StatusOr<TableReply> DeviceMapper::GetStatus(
    const DeviceRef& device, const StatusOptions& options) {
  TableReply reply;
  DMKIT_RETURN_IF_ERROR(
      TableStatus(device, StatusFlags(options), "status", &reply));
  return reply;
}

absl::Status DeviceMapper::GetStatus(const DeviceRef& device,
                                     const StatusOptions& options,
                                     TableReply* reply) {
  return TableStatus(device, StatusFlags(options), "status", reply);
}

absl::StatusOr<TableReply> DeviceMapper::GetTable(const DeviceRef& device,
                                                  bool inactive) {
  TableReply reply;
  DMKIT_RETURN_IF_ERROR(
      TableStatus(device, TableFlags(inactive), "table", &reply));
  return reply;
}

absl::Status DeviceMapper::GetTable(const DeviceRef& device, bool inactive,
                                    TableReply* reply) {
  return TableStatus(device, TableFlags(inactive), "table", reply);
}

absl::StatusOr<std::vector<TargetVersion>> DeviceMapper::ListTargetVersions() {
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute(
      {.command = DM_LIST_VERSIONS_CMD, .operation = "versions"}, &reply));
  return ParseVersionList(reply.data());
}

absl::StatusOr<std::string> DeviceMapper::SendMessage(const DeviceRef& device,
                                                      uint64_t sector,
                                                      absl::string_view message,
                                                      size_t max_output) {
  // An empty message goes to the kernel, which refuses it with EINVAL
  // after looking the device up (so a missing device is still ENXIO), as
  // for dmsetup's "message DEV 0" with nothing after the sector.
  if (message.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("message with NUL");
  }
  static_assert(kDefaultMessageOutput + 1 + kDataStart == 4096);
  std::string payload = SerializeMessage(sector, message);
  // The output lands at data_start, over the message; one more byte than
  // the longest output is needed (the kernel reports overflow when the
  // string fills the buffer).
  size_t size = kDataStart + std::max(payload.size(), max_output + 1);
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_TARGET_MSG_CMD,
                                 .operation = "message",
                                 .device = &device,
                                 .payload = payload,
                                 .buffer_size = size},
                                &reply));
  const dm_ioctl& h = reply.header();
  auto too_long = [&] {
    IoctlErrorInfo info{.error_number = ENOBUFS,
                        .operation = "message",
                        .ioctl_name = "DM_TARGET_MSG"};
    info.name.assign(h.name, strnlen(h.name, sizeof(h.name)));
    info.detail = absl::StrCat("output longer than ", max_output,
                               " bytes; the message ran once, not repeated");
    return KernelError(info);
  };
  if (reply.buffer_full) return too_long();
  if (!(h.flags & DM_DATA_OUT_FLAG)) return std::string();
  ReplyBytes data = reply.data();
  size_t n = strnlen(data.data(), data.size());
  if (n == data.size()) {
    return absl::DataLossError("DM_TARGET_MSG: output is not terminated");
  }
  if (n > max_output) return too_long();
  return std::string(data.data(), n);
}

absl::Status DeviceMapper::SetGeometry(const DeviceRef& device,
                                       uint32_t cylinders, uint32_t heads,
                                       uint32_t sectors, uint64_t start) {
  std::string payload =
      absl::StrCat(cylinders, " ", heads, " ", sectors, " ", start);
  payload.push_back('\0');
  Reply reply;
  return Execute({.command = DM_DEV_SET_GEOMETRY_CMD,
                  .operation = "setgeometry",
                  .device = &device,
                  .payload = payload},
                 &reply);
}

absl::Status DeviceMapper::ArmPoll() {
  Reply reply;
  return Execute({.command = DM_DEV_ARM_POLL_CMD, .operation = "armpoll"},
                 &reply);
}

absl::StatusOr<TargetVersion> DeviceMapper::GetTargetVersion(
    absl::string_view type) {
  if (type.empty() || type.size() > kMaxTargetTypeLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid target type '", type, "'"));
  }
  Reply reply;
  DMKIT_RETURN_IF_ERROR(Execute({.command = DM_GET_TARGET_VERSION_CMD,
                                 .operation = "target-version",
                                 .name = type},
                                &reply));
  DMKIT_ASSIGN_OR_RETURN(std::vector<TargetVersion> versions,
                         ParseVersionList(reply.data()));
  if (versions.size() != 1) {
    return absl::DataLossError(absl::StrCat(
        "DM_GET_TARGET_VERSION: ", versions.size(), " entries in reply"));
  }
  return versions[0];
}

}  // namespace dmioctl
