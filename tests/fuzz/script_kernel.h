// A kernel whose replies come from the fuzzer's input.
//
// The reply fuzzers drive the real DeviceMapper (request building, Execute's
// header checks, DM_BUFFER_FULL retries, reply decoding) through this
// Transport. Every ioctl consumes the next record of the input and the
// record's bytes are written over the ioctl buffer from offset 0, exactly
// where the kernel writes its reply: the whole struct dm_ioctl (version,
// data_size, data_start, target_count, flags, dev, name, uuid ...) and the
// payload after it come from the input.
//
// Input layout (all integers little-endian):
//
//   input  := option:u8 record*
//   record := ret:i8 length:u16 bytes[length]
//
// `option` is read by the fuzz target (which command, which flags). `ret` is
// what ioctl(2) returns (0, -errno, or the positive value 6.1 returns for a
// message to a device without a table). Bytes past the buffer's size are
// dropped, as the kernel cannot write past it, and so are, when `ret` is 0,
// bytes past the reply's own data_size: a successful ioctl copies back
// exactly data_size bytes of the kernel's copy of the buffer (dm-ioctl.c,
// ctl_ioctl()), which the library relies on to zero, before the next call,
// only as far as a reply wrote. When the records run out the
// ioctl fails with EIO. A request for a buffer larger than kMaxBuffer fails
// with ENOMEM, as the kernel's own allocation of the copy can, so a reply
// that says DM_BUFFER_FULL forever does not make every input allocate and
// zero megabytes (a 4 MiB cap slowed fuzz_reply_deps twentyfold). The
// library's first growth is 64x: the 4 KiB table, status, deps and
// target-version buffers grow to 256 KiB, which is answered, and retry once
// more (x8) into ENOMEM; the 16 KiB lists grow to 1 MiB, which fails. A
// 1 MiB cap would let a list's retry be answered too, but made
// fuzz_reply_list and fuzz_reply_versions 3.5 times slower for no new line:
// what is decoded after a retry is what the first reply's code decodes.
//
// tests/fuzz/fuzz_seeds.cc writes records in this layout from the fake
// kernel's (6.1-shaped) replies.
#ifndef DMKIT_TESTS_FUZZ_SCRIPT_KERNEL_H_
#define DMKIT_TESTS_FUZZ_SCRIPT_KERNEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dmioctl/transport.h"

// A property violation: stops the fuzzer with a crash report and the input.
#define FUZZ_CHECK(condition)           \
  do {                                  \
    if (!(condition)) __builtin_trap(); \
  } while (0)

namespace dmkit::fuzz {

inline constexpr size_t kMaxBuffer = size_t{256} << 10;

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  // The next byte, or 0 when the input is exhausted.
  uint8_t Byte();
  // Fills the ioctl buffer of `buffer_size` bytes from the next record and
  // returns the ioctl's result.
  int Reply(void* buffer, size_t buffer_size);
  size_t replies() const { return replies_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t replies_ = 0;
};

// A Transport that answers every ioctl from `script` (not owned).
std::unique_ptr<dmioctl::Transport> ScriptTransport(Script* script);

// Appends one record to `out` (for the seed generator).
void AppendRecord(std::string& out, int ret, const void* bytes, size_t length);

}  // namespace dmkit::fuzz

#endif  // DMKIT_TESTS_FUZZ_SCRIPT_KERNEL_H_
