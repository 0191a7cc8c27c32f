// File: tools/thin/output.h
//
// Buffered output for `thin dump` and `thin ls`: millions of lines of
// numbers, formatted by hand into a 64 KiB buffer and written with write(2)
// (no stdio locking or format parsing per number).
#ifndef DMKIT_TOOLS_THIN_OUTPUT_H_
#define DMKIT_TOOLS_THIN_OUTPUT_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace dmkit::thin {

class Output {
 public:
  explicit Output(int fd) : fd_(fd) {}
  ~Output() { Flush(); }
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  Output& Put(absl::string_view s) {
    if (s.size() > sizeof(buf_) - used_) {
      Flush();
      if (s.size() > sizeof(buf_)) return Write(s.data(), s.size());
    }
    memcpy(buf_ + used_, s.data(), s.size());
    used_ += s.size();
    return *this;
  }
  Output& Uint(uint64_t v) {
    if (sizeof(buf_) - used_ < 20) Flush();
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) buf_[used_++] = tmp[--n];
    return *this;
  }
  // Writes what is buffered; false once a write failed (then nothing more
  // is written).
  bool Flush();
  bool failed() const { return failed_; }

 private:
  Output& Write(const char* p, size_t n);

  int fd_;
  bool failed_ = false;
  size_t used_ = 0;
  char buf_[65536];
};

// The decimal digits of `v`.
std::string Decimal(uint64_t v);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_THIN_OUTPUT_H_
