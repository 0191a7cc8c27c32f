#include "tests/fuzz/script_kernel.h"

#include <errno.h>
#include <linux/dm-ioctl.h>
#include <string.h>

#include <algorithm>

namespace dmkit::fuzz {
namespace {

class ScriptedTransport final : public dmioctl::Transport {
 public:
  explicit ScriptedTransport(Script* script) : script_(script) {}
  int Ioctl(unsigned long, void* buffer) override {
    // The buffer's size is what the library put in data_size before the
    // "kernel" writes over it.
    uint32_t size;
    memcpy(&size, static_cast<char*>(buffer) + offsetof(dm_ioctl, data_size),
           sizeof(size));
    if (size > kMaxBuffer) return -ENOMEM;
    return script_->Reply(buffer, size);
  }

 private:
  Script* script_;
};

}  // namespace

uint8_t Script::Byte() { return pos_ < size_ ? data_[pos_++] : 0; }

int Script::Reply(void* buffer, size_t buffer_size) {
  if (size_ - pos_ < 3) {
    pos_ = size_;
    return -EIO;
  }
  int ret = static_cast<int8_t>(data_[pos_]);
  size_t length = data_[pos_ + 1] | (size_t{data_[pos_ + 2]} << 8);
  pos_ += 3;
  length = std::min(length, size_ - pos_);
  size_t copied = std::min(length, buffer_size);
  if (ret == 0) {
    // The reply's data_size: from the record where it reaches that far,
    // else what the request had there.
    constexpr size_t kAt = offsetof(dm_ioctl, data_size);
    unsigned char field[sizeof(uint32_t)];
    memcpy(field, static_cast<char*>(buffer) + kAt, sizeof(field));
    for (size_t i = 0; i < sizeof(field) && kAt + i < copied; ++i) {
      field[i] = data_[pos_ + kAt + i];
    }
    uint32_t data_size;
    memcpy(&data_size, field, sizeof(data_size));
    copied = std::min<size_t>(copied, data_size);
  }
  memcpy(buffer, data_ + pos_, copied);
  pos_ += length;
  ++replies_;
  return ret;
}

std::unique_ptr<dmioctl::Transport> ScriptTransport(Script* script) {
  return std::make_unique<ScriptedTransport>(script);
}

void AppendRecord(std::string& out, int ret, const void* bytes, size_t length) {
  length = std::min<size_t>(length, 0xffff);
  out.push_back(static_cast<char>(static_cast<int8_t>(ret)));
  out.push_back(static_cast<char>(length & 0xff));
  out.push_back(static_cast<char>(length >> 8));
  out.append(static_cast<const char*>(bytes), length);
}

}  // namespace dmkit::fuzz
