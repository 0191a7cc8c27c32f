#include "tools/common/json_writer.h"

#include "absl/strings/str_cat.h"

namespace dmkit::json {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Length(absl::string_view s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n;
  uint32_t min;
  if (c < 0x80) return 1;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    min = 0x80;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    min = 0x800;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  uint32_t cp = c & (0x7f >> n);
  for (size_t k = 1; k < n; ++k) {
    unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

void AppendEscaped(std::string& out, absl::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    const char* named = nullptr;
    switch (c) {
      case '"':
        named = "\\\"";
        break;
      case '\\':
        named = "\\\\";
        break;
      case '\b':
        named = "\\b";
        break;
      case '\f':
        named = "\\f";
        break;
      case '\n':
        named = "\\n";
        break;
      case '\r':
        named = "\\r";
        break;
      case '\t':
        named = "\\t";
        break;
      default:
        break;
    }
    if (named != nullptr) {
      out += named;
      ++i;
      continue;
    }
    size_t n = c < 0x20 || c == 0x7f ? 0 : Utf8Length(s, i);
    if (n == 0) {
      absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  out.push_back('"');
}

}  // namespace

std::string Escape(absl::string_view s) {
  std::string out;
  AppendEscaped(out, s);
  return out;
}

void Writer::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) out_.push_back(',');
    has_member_.back() = true;
  }
}

Writer& Writer::BeginObject() {
  Separate();
  out_.push_back('{');
  has_member_.push_back(false);
  return *this;
}

Writer& Writer::EndObject() {
  out_.push_back('}');
  if (!has_member_.empty()) has_member_.pop_back();
  return *this;
}

Writer& Writer::BeginArray() {
  Separate();
  out_.push_back('[');
  has_member_.push_back(false);
  return *this;
}

Writer& Writer::EndArray() {
  out_.push_back(']');
  if (!has_member_.empty()) has_member_.pop_back();
  return *this;
}

Writer& Writer::Key(absl::string_view key) {
  Separate();
  AppendEscaped(out_, key);
  out_.push_back(':');
  after_key_ = true;
  return *this;
}

Writer& Writer::String(absl::string_view value) {
  Separate();
  AppendEscaped(out_, value);
  return *this;
}

Writer& Writer::Uint(uint64_t value) {
  Separate();
  absl::StrAppend(&out_, value);
  return *this;
}

Writer& Writer::Int(int64_t value) {
  Separate();
  absl::StrAppend(&out_, value);
  return *this;
}

Writer& Writer::Bool(bool value) {
  Separate();
  out_ += value ? "true" : "false";
  return *this;
}

Writer& Writer::Null() {
  Separate();
  out_ += "null";
  return *this;
}

std::string Writer::Take() {
  std::string text = std::move(out_);
  out_.clear();
  has_member_.clear();
  after_key_ = false;
  text.push_back('\n');
  return text;
}

}  // namespace dmkit::json
