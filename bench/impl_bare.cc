// The floor: each operation is the one ioctl it needs, from a buffer that
// is already there, with nothing parsed beyond what the next step needs.
// Header-only commands send the header; commands that return data use a
// 4 KiB buffer on the stack (enough for every reply the benchmarks ask
// for); the device list uses one buffer kept across calls and grown once.
#include <errno.h>
#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <vector>

#include "impl.h"

namespace dmkit::bench {
namespace {

constexpr size_t kHeader = sizeof(dm_ioctl);
constexpr size_t kSmall = 4096;

class Bare final : public Impl {
 public:
  explicit Bare(const char* name) : name_(name) {
    fd_ = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
    if (fd_ < 0) perror("bare: open /dev/mapper/control");
  }
  ~Bare() override {
    if (fd_ >= 0) close(fd_);
  }
  const char* name() const override { return name_; }

  int Create(const Dev& dev) override {
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    return Run(DM_DEV_CREATE, &io, "create", dev);
  }

  int Load(const Dev& dev, const OneTarget& t) override {
    alignas(8) char buf[kSmall];
    auto* io = reinterpret_cast<dm_ioctl*>(buf);
    size_t params = t.params.size() + 1;
    size_t next = (sizeof(dm_target_spec) + params + 7) & ~size_t{7};
    Init(io, kHeader + next, dev.name);
    io->target_count = 1;
    auto* spec = reinterpret_cast<dm_target_spec*>(buf + kHeader);
    memset(spec, 0, sizeof *spec);
    spec->length = t.length;
    spec->next = static_cast<__u32>(next);
    memcpy(spec->target_type, t.type.data(), t.type.size());
    memcpy(buf + kHeader + sizeof *spec, t.params.c_str(), params);
    return Run(DM_TABLE_LOAD, io, "load", dev);
  }

  int Resume(const Dev& dev) override {
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    return Run(DM_DEV_SUSPEND, &io, "resume", dev);
  }

  int Suspend(const Dev& dev) override {
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    io.flags = DM_SUSPEND_FLAG;
    return Run(DM_DEV_SUSPEND, &io, "suspend", dev);
  }

  int Info(const Dev& dev) override {
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    return Run(DM_DEV_STATUS, &io, "info", dev);
  }

  int Status(const Dev& dev) override { return TableStatus(dev, 0, "status"); }
  int Table(const Dev& dev) override {
    return TableStatus(dev, DM_STATUS_TABLE_FLAG, "table");
  }

  int List(size_t* count) override {
    if (list_.empty()) list_.resize(16384 / 8);
    for (;;) {
      auto* io = reinterpret_cast<dm_ioctl*>(list_.data());
      Init(io, list_.size() * 8, "");
      if (ioctl(fd_, DM_LIST_DEVICES, io) != 0) {
        int e = errno;
        perror("bare: list");
        return -e;
      }
      if (io->flags & DM_BUFFER_FULL_FLAG) {
        list_.resize(list_.size() * 2);
        continue;
      }
      size_t n = 0;
      if (io->data_size > io->data_start) {
        const char* p = reinterpret_cast<const char*>(io) + io->data_start;
        for (;;) {
          ++n;
          auto* entry = reinterpret_cast<const dm_name_list*>(p);
          if (entry->next == 0) break;
          p += entry->next;
        }
      }
      *count = n;
      return 0;
    }
  }

  int Message(const Dev& dev, const char* message) override {
    alignas(8) char buf[kSmall];
    auto* io = reinterpret_cast<dm_ioctl*>(buf);
    Init(io, kSmall, dev.name);
    auto* msg = reinterpret_cast<dm_target_msg*>(buf + kHeader);
    msg->sector = 0;
    size_t n = strlen(message) + 1;
    memcpy(msg->message, message, n);
    return Run(DM_TARGET_MSG, io, "message", dev);
  }

  int Remove(const Dev& dev) override {
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    return Run(DM_DEV_REMOVE, &io, "remove", dev);
  }

  int CreateActive(const Dev& dev, const OneTarget& t) override {
    // As dmsetup: create, load by number, resume by number, node.
    dm_ioctl io;
    Init(&io, kHeader, dev.name);
    if (int r = Run(DM_DEV_CREATE, &io, "create", dev)) return r;
    __u64 number = io.dev;
    alignas(8) char buf[kSmall];
    auto* load = reinterpret_cast<dm_ioctl*>(buf);
    size_t params = t.params.size() + 1;
    size_t next = (sizeof(dm_target_spec) + params + 7) & ~size_t{7};
    Init(load, kHeader + next, "");
    load->dev = number;
    load->target_count = 1;
    auto* spec = reinterpret_cast<dm_target_spec*>(buf + kHeader);
    memset(spec, 0, sizeof *spec);
    spec->length = t.length;
    spec->next = static_cast<__u32>(next);
    memcpy(spec->target_type, t.type.data(), t.type.size());
    memcpy(buf + kHeader + sizeof *spec, t.params.c_str(), params);
    int r = Run(DM_TABLE_LOAD, load, "load", dev);
    if (r == 0) {
      Init(&io, kHeader, "");
      io.dev = number;
      io.flags = DM_SKIP_LOCKFS_FLAG;
      r = Run(DM_DEV_SUSPEND, &io, "resume", dev);
    }
    if (r == 0) {
      std::string path = "/dev/mapper/" + dev.name;
      // The kernel's huge_encode_dev(): minor's low byte, major, high minor.
      unsigned maj = (number >> 8) & 0xfff;
      unsigned min = (number & 0xff) | ((number >> 12) & 0xfff00);
      if (mknod(path.c_str(), S_IFBLK | 0600, makedev(maj, min)) != 0) {
        r = -errno;
        perror("bare: mknod");
      }
    }
    if (r != 0) Remove(dev);
    return r;
  }

  int RemoveActive(const Dev& dev) override {
    if (int r = Remove(dev)) return r;
    std::string path = "/dev/mapper/" + dev.name;
    unlink(path.c_str());
    return 0;
  }

 private:
  static void Init(dm_ioctl* io, size_t size, const std::string& name) {
    memset(io, 0, sizeof *io);
    io->version[0] = 4;
    io->data_size = static_cast<__u32>(size);
    io->data_start = kHeader;
    memcpy(io->name, name.c_str(), name.size() + 1);
  }

  int Run(unsigned long request, dm_ioctl* io, const char* what,
          const Dev& dev) {
    if (ioctl(fd_, request, io) == 0) return 0;
    int e = errno;
    fprintf(stderr, "bare: %s %s: %s\n", what, dev.name.c_str(), strerror(e));
    return -e;
  }

  int TableStatus(const Dev& dev, uint32_t flags, const char* what) {
    alignas(8) char buf[kSmall];
    auto* io = reinterpret_cast<dm_ioctl*>(buf);
    Init(io, kSmall, dev.name);
    io->flags = flags;
    return Run(DM_TABLE_STATUS, io, what, dev);
  }

  const char* name_;
  int fd_ = -1;
  std::vector<uint64_t> list_;
};

}  // namespace

std::unique_ptr<Impl> MakeBare(const char* name) {
  return std::make_unique<Bare>(name);
}

}  // namespace dmkit::bench
