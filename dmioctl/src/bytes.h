// Byte work on ioctl buffers that stays fast under binary translation.
//
// Scanning and copying the short strings of kernel replies (device names,
// uuids, target types, a status line) without calls into the C library:
//
// Every reply carries a few of these, and a listing one per device. The C
// library's strnlen/memchr/memcpy are vectorised for long inputs; for a
// 20-byte name the call, its dispatch and std::string::assign's own calls
// cost more than the bytes, and far more under binary translation (QEMU's
// TCG pays for every call and return), which is where the benchmarks of
// bench/README.md run. These loops read 8 bytes at a time and stay inline.
#ifndef DMIOCTL_SRC_BYTES_H_
#define DMIOCTL_SRC_BYTES_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bit>
#include <string>

namespace dmioctl::internal {

inline uint64_t LoadWord(const char* p) {
  uint64_t word;
  memcpy(&word, p, sizeof word);  // an unaligned load, not a call
  return word;
}

// The high bit of each byte of `word` that may be zero (the classic bit
// trick). Non-zero exactly when some byte is zero, and the lowest marked
// byte is always a zero one: a false mark needs a borrow, which only comes
// from a zero byte below it.
inline uint64_t ZeroByteMarks(uint64_t word) {
  constexpr uint64_t kLow = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  return (word - kLow) & ~word & kHigh;
}

// The length of the NUL-terminated string at `p`, reading no byte at or
// past p + max; max when there is no NUL there.
inline size_t BoundedLength(const char* p, size_t max) {
  size_t n = 0;
  if constexpr (std::endian::native == std::endian::little) {
    for (; n + 8 <= max; n += 8) {
      // The first byte in memory is the word's lowest.
      uint64_t marks = ZeroByteMarks(LoadWord(p + n));
      if (marks != 0) return n + std::countr_zero(marks) / 8;
    }
  }
  while (n < max && p[n] != '\0') ++n;
  return n;
}

// Whether [a, a + n) and [b, b + n) hold the same bytes. Past the whole
// words the last 8 bytes are compared again (overlapping), so the tail
// takes one step; nothing outside the ranges is read.
inline bool EqualShort(const char* a, const char* b, size_t n) {
  if (n < 8) {
    if (n >= 4) {  // two 4-byte steps, overlapping
      uint32_t x, y, x2, y2;
      memcpy(&x, a, 4);
      memcpy(&y, b, 4);
      memcpy(&x2, a + n - 4, 4);
      memcpy(&y2, b + n - 4, 4);
      return x == y && x2 == y2;
    }
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  for (size_t i = 0; i + 8 < n; i += 8) {
    if (LoadWord(a + i) != LoadWord(b + i)) return false;
  }
  return LoadWord(a + n - 8) == LoadWord(b + n - 8);
}

// Makes *out hold [p, p + n). A result object reused across calls mostly
// holds the same text already (the same device's name), so that case
// compares and writes nothing.
inline void AssignShort(std::string* out, const char* p, size_t n) {
  if (out->size() == n && EqualShort(out->data(), p, n)) return;
  out->assign(p, n);
}

// memset(p, 0, n) for a buffer that may be large (a listing of 10,000
// devices zeroes ~560 KiB). glibc's memset switches to `rep stosb` above
// about 2 KiB, which QEMU's TCG executes a byte per step: zeroing 560 KiB
// took 530 us under qemu-x86_64 in one call and 20 us in 2 KiB calls (the
// same 5-6 us either way natively). So: calls of at most kChunk bytes.
inline void ZeroBytes(char* p, size_t n) {
  constexpr size_t kChunk = 2048;
  // `volatile`: a size the compiler cannot see, so that it does not expand
  // the calls inline as `rep stos` either.
  volatile size_t chunk = kChunk;
  while (n > kChunk) {
    memset(p, 0, chunk);
    p += kChunk;
    n -= kChunk;
  }
  memset(p, 0, n);
}

}  // namespace dmioctl::internal

#endif  // DMIOCTL_SRC_BYTES_H_
