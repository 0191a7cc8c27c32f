#include "tools/docker/json_writer.h"

#include "absl/strings/str_cat.h"

namespace dmkit::json {

void Writer::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

Writer& Writer::BeginObject() {
  Separate();
  out_ += '{';
  first_.push_back(true);
  return *this;
}

Writer& Writer::EndObject() {
  out_ += '}';
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::BeginArray() {
  Separate();
  out_ += '[';
  first_.push_back(true);
  return *this;
}

Writer& Writer::EndArray() {
  out_ += ']';
  if (!first_.empty()) first_.pop_back();
  return *this;
}

Writer& Writer::Key(absl::string_view key) {
  Separate();
  Quote(key);
  out_ += ':';
  after_key_ = true;
  return *this;
}

Writer& Writer::String(absl::string_view s) {
  Separate();
  Quote(s);
  return *this;
}

Writer& Writer::Uint(uint64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}

Writer& Writer::Int(int64_t v) {
  Separate();
  absl::StrAppend(&out_, v);
  return *this;
}

Writer& Writer::Bool(bool v) {
  Separate();
  out_ += v ? "true" : "false";
  return *this;
}

Writer& Writer::Null() {
  Separate();
  out_ += "null";
  return *this;
}

void Writer::Quote(absl::string_view s) {
  out_ += '"';
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out_ += '\\';
      out_ += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': out_ += "\\n"; break;
        case '\t': out_ += "\\t"; break;
        case '\r': out_ += "\\r"; break;
        default:
          absl::StrAppend(&out_, "\\u00", absl::Hex(c, absl::kZeroPad2));
      }
      ++i;
    } else if (c < 0x80) {
      out_ += static_cast<char>(c);
      ++i;
    } else {
      // Copy a well-formed sequence; replace anything else byte by byte.
      size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
      if (c > 0xf4) n = 0;
      bool ok = n != 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k) {
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      }
      if (ok && n == 3) {
        unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);
      }
      if (ok && n == 4) {
        unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
        ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90);
      }
      if (ok) {
        out_.append(s.data() + i, n);
        i += n;
      } else {
        out_ += "\xef\xbf\xbd";
        ++i;
      }
    }
  }
  out_ += '"';
}

std::string Writer::Take() {
  std::string r = std::move(out_);
  out_.clear();
  first_.clear();
  after_key_ = false;
  r += '\n';
  return r;
}

}  // namespace dmkit::json
