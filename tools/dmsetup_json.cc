#include "tools/dmsetup_json.h"

#include <stdio.h>

#include "absl/strings/str_cat.h"

namespace dmkit::dmsetup {
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

void AppendU(std::string& out, unsigned value) {
  char buf[8];
  snprintf(buf, sizeof(buf), "\\u%04x", value);
  out += buf;
}

}  // namespace

std::string JsonEscape(absl::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      AppendU(out, c);
      ++i;
      continue;
    }
    size_t n = Utf8Length(s, i);
    if (n == 0) {
      AppendU(out, c);
      ++i;
      continue;
    }
    out.append(s.data() + i, n);
    i += n;
  }
  out.push_back('"');
  return out;
}

void JsonWriter::Separate() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_member_.empty()) {
    if (has_member_.back()) text_.push_back(',');
    has_member_.back() = true;
  }
}

void JsonWriter::BeginObject() {
  Separate();
  text_.push_back('{');
  has_member_.push_back(false);
}

void JsonWriter::EndObject() {
  has_member_.pop_back();
  text_.push_back('}');
}

void JsonWriter::BeginArray() {
  Separate();
  text_.push_back('[');
  has_member_.push_back(false);
}

void JsonWriter::EndArray() {
  has_member_.pop_back();
  text_.push_back(']');
}

void JsonWriter::Key(absl::string_view key) {
  Separate();
  text_ += JsonEscape(key);
  text_.push_back(':');
  after_key_ = true;
}

void JsonWriter::String(absl::string_view value) {
  Separate();
  text_ += JsonEscape(value);
}

void JsonWriter::Int(int64_t value) {
  Separate();
  absl::StrAppend(&text_, value);
}

void JsonWriter::Uint(uint64_t value) {
  Separate();
  absl::StrAppend(&text_, value);
}

void JsonWriter::Bool(bool value) {
  Separate();
  text_ += value ? "true" : "false";
}

void JsonWriter::Null() {
  Separate();
  text_ += "null";
}

}  // namespace dmkit::dmsetup
