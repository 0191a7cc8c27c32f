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

#include <string>

namespace dmioctl::internal {

inline uint64_t LoadWord(const char* p) {
  uint64_t word;
  memcpy(&word, p, sizeof word);  // an unaligned load, not a call
  return word;
}

// Whether any byte of `word` is zero (the classic bit trick: exact for the
// any-zero question).
inline bool HasZeroByte(uint64_t word) {
  constexpr uint64_t kLow = 0x0101010101010101ull;
  constexpr uint64_t kHigh = 0x8080808080808080ull;
  return ((word - kLow) & ~word & kHigh) != 0;
}

// The length of the NUL-terminated string at `p`, reading no byte at or
// past p + max; max when there is no NUL there.
inline size_t BoundedLength(const char* p, size_t max) {
  size_t n = 0;
  while (n + 8 <= max && !HasZeroByte(LoadWord(p + n))) n += 8;
  while (n < max && p[n] != '\0') ++n;
  return n;
}

// Makes *out hold [p, p + n). A result object reused across calls mostly
// holds the same text already (the same device's name), so that case
// compares and writes nothing.
inline void AssignShort(std::string* out, const char* p, size_t n) {
  if (out->size() == n) {
    const char* have = out->data();
    size_t i = 0;
    while (i + 8 <= n && LoadWord(have + i) == LoadWord(p + i)) i += 8;
    while (i < n && have[i] == p[i]) ++i;
    if (i == n) return;
  }
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
