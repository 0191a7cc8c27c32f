// Docker's JSON (tools/docker/json.h) and the writer of every applet's
// --json output (tools/common/json_writer.h):
//   * Parse -> Writer -> Parse gives the same tree (numbers the writer
//     cannot write as written, fractions and exponents, go through as
//     strings of their text and are compared as such);
//   * every string of a parsed tree is valid UTF-8, and no tree is deeper
//     than Limits::max_depth;
//   * whatever bytes the writer gets as a string, its output parses: to the
//     same bytes where they are valid UTF-8, and each byte that is not to
//     the code point of its value (U+0080..U+00FF), as json_writer.h says;
//   * the typed getters never crash and agree with the type.
#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "tests/fuzz/script_kernel.h"
#include "tools/common/json_writer.h"
#include "tools/docker/json.h"

namespace json = dmkit::json;

namespace {

// Length of the valid UTF-8 sequence (RFC 3629) at s[i], or 0; written
// independently of the parser's and the writer's.
size_t SequenceLength(absl::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100;
  };
  auto cont = [&](size_t k) { return at(k) >= 0x80 && at(k) <= 0xbf; };
  unsigned b = at(0);
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf && cont(1)) return 2;
  if (b >= 0xe0 && b <= 0xef && cont(1) && cont(2) &&
      !(b == 0xe0 && at(1) < 0xa0) && !(b == 0xed && at(1) >= 0xa0)) {
    return 3;
  }
  if (b >= 0xf0 && b <= 0xf4 && cont(1) && cont(2) && cont(3) &&
      !(b == 0xf0 && at(1) < 0x90) && !(b == 0xf4 && at(1) >= 0x90)) {
    return 4;
  }
  return 0;
}

bool ValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// What a string written by json::Writer reads back as: valid sequences as
// they are, every other byte as the UTF-8 of the code point of its value.
std::string ReadBack(absl::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceLength(s, i);
    if (n == 0) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      out.push_back(static_cast<char>(0xc0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3f)));
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

void Write(const json::Value& v, json::Writer& w) {
  switch (v.type()) {
    case json::Type::kNull:
      w.Null();
      break;
    case json::Type::kBool:
      w.Bool(*v.AsBool());
      break;
    case json::Type::kNumber:
      if (auto u = v.AsUint64(); u.ok()) {
        w.Uint(*u);
      } else if (auto i = v.AsInt64(); i.ok()) {
        w.Int(*i);
      } else {
        w.String(v.number_text());
      }
      break;
    case json::Type::kString:
      w.String(*v.AsString());
      break;
    case json::Type::kArray:
      w.BeginArray();
      for (const json::Value& item : v.items()) Write(item, w);
      w.EndArray();
      break;
    case json::Type::kObject:
      w.BeginObject();
      for (const auto& [key, value] : v.members()) {
        w.Key(key);
        Write(value, w);
      }
      w.EndObject();
      break;
  }
}

// `b` is `a` written and parsed back.
bool SameTree(const json::Value& a, const json::Value& b) {
  if (a.type() == json::Type::kNumber) {
    if (auto u = a.AsUint64(); u.ok()) {
      auto bu = b.AsUint64();
      return bu.ok() && *bu == *u;
    }
    if (auto i = a.AsInt64(); i.ok()) {
      auto bi = b.AsInt64();
      return bi.ok() && *bi == *i;
    }
    auto s = b.AsString();
    return s.ok() && *s == a.number_text();
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::Type::kNull:
      return true;
    case json::Type::kBool:
      return *a.AsBool() == *b.AsBool();
    case json::Type::kString:
      return *a.AsString() == *b.AsString();
    case json::Type::kArray:
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i) {
        if (!SameTree(a.items()[i], b.items()[i])) return false;
      }
      return true;
    case json::Type::kObject:
      if (a.members().size() != b.members().size()) return false;
      for (size_t i = 0; i < a.members().size(); ++i) {
        if (a.members()[i].first != b.members()[i].first ||
            !SameTree(a.members()[i].second, b.members()[i].second)) {
          return false;
        }
      }
      return true;
    case json::Type::kNumber:
      break;
  }
  return false;
}

// Checks every node; returns the depth of the tree.
int Check(const json::Value& v) {
  FUZZ_CHECK(v.AsBool().ok() == v.is_bool());
  FUZZ_CHECK(v.AsString().ok() == v.is_string());
  if (v.AsUint64().ok() || v.AsInt64().ok()) FUZZ_CHECK(v.is_number());
  if (v.is_string()) FUZZ_CHECK(ValidUtf8(*v.AsString()));
  int depth = 0;
  for (const json::Value& item : v.items()) {
    depth = std::max(depth, Check(item));
  }
  for (const auto& [key, value] : v.members()) {
    FUZZ_CHECK(ValidUtf8(key));
    FUZZ_CHECK(v.Find(key) != nullptr);
    depth = std::max(depth, Check(value));
  }
  (void)json::GetUint64(v, "size");
  (void)json::GetString(v, "Name");
  return depth + (v.is_array() || v.is_object() ? 1 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);

  // Any bytes, as a string, come out of the writer as a JSON string.
  json::Writer quote;
  quote.String(text);
  auto quoted = json::Parse(quote.Take());
  FUZZ_CHECK(quoted.ok() && quoted->is_string());
  FUZZ_CHECK(*quoted->AsString() == ReadBack(text));
  auto escaped = json::Parse(json::Escape(text));
  FUZZ_CHECK(escaped.ok() && *escaped->AsString() == ReadBack(text));

  json::Limits limits;
  limits.max_depth = 16;
  limits.max_values = 4096;
  auto doc = json::Parse(text, limits);
  if (!doc.ok()) {
    absl::string_view message = doc.status().message();
    FUZZ_CHECK(message.substr(0, 11) == "json: line " ||
               message.substr(0, 12) == "json: input ");
    FUZZ_CHECK(message.find('\n') == absl::string_view::npos);
    return 0;
  }
  FUZZ_CHECK(Check(*doc) <= limits.max_depth);

  json::Writer w;
  Write(*doc, w);
  std::string written = w.Take();
  auto again = json::Parse(written);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(SameTree(*doc, *again));
  return 0;
}
