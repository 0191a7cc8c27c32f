#include "tools/docker/json.h"

#include <charconv>
#include <limits>

#include "absl/strings/str_cat.h"

namespace dmkit::json {
namespace {

absl::Status TypeError(Type want, Type found) {
  return absl::InvalidArgumentError(
      absl::StrCat("expected ", TypeName(want), ", found ", TypeName(found)));
}

// Recursive descent over a string_view. Every read is bounds-checked through
// Peek()/Next(); depth and value counts are checked before descending, so
// the recursion is bounded by Limits::max_depth.
class Parser {
 public:
  Parser(absl::string_view text, const Limits& limits)
      : text_(text), limits_(limits) {}

  absl::StatusOr<Value> ParseDocument() {
    if (text_.size() > limits_.max_input_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "json: input of ", text_.size(),
          " bytes is larger than the limit of ", limits_.max_input_bytes));
    }
    SkipSpace();
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    Value value;
    absl::Status s = ParseValue(0, value);
    if (!s.ok()) return s;
    SkipSpace();
    if (!AtEnd()) return Error("unexpected text after the top-level value");
    return value;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
      ++pos_;
    }
  }

  // "json: line L column C: <what>", counting from 1. Columns count bytes.
  absl::Status Error(absl::string_view what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("json: line ", line, " column ", column, ": ", what));
  }

  absl::Status Describe(absl::string_view expected) const {
    if (AtEnd())
      return Error(
          absl::StrCat("unexpected end of input, expected ", expected));
    char c = text_[pos_];
    std::string found =
        (c >= 0x20 && c < 0x7f)
            ? absl::StrCat("'", std::string(1, c), "'")
            : absl::StrCat("byte 0x", absl::Hex(static_cast<unsigned char>(c),
                                                absl::kZeroPad2));
    return Error(absl::StrCat("expected ", expected, ", found ", found));
  }

  bool Literal(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  absl::Status ParseValue(int depth, Value& out) {
    if (++values_ > limits_.max_values) {
      return Error(absl::StrCat("more than ", limits_.max_values, " values"));
    }
    switch (Peek()) {
      case '{':
        return ParseObject(depth, out);
      case '[':
        return ParseArray(depth, out);
      case '"': {
        std::string s;
        absl::Status st = ParseString(s);
        if (!st.ok()) return st;
        out = Value::String(std::move(s));
        return absl::OkStatus();
      }
      case 't':
        if (!Literal("true")) return Describe("'true'");
        out = Value::Bool(true);
        return absl::OkStatus();
      case 'f':
        if (!Literal("false")) return Describe("'false'");
        out = Value::Bool(false);
        return absl::OkStatus();
      case 'n':
        if (!Literal("null")) return Describe("'null'");
        out = Value::Null();
        return absl::OkStatus();
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          return ParseNumber(out);
        }
        return Describe("a value");
    }
  }

  absl::Status Enter(int depth) const {
    if (depth + 1 > limits_.max_depth) {
      return Error(absl::StrCat("nesting deeper than ", limits_.max_depth));
    }
    return absl::OkStatus();
  }

  absl::Status ParseObject(int depth, Value& out) {
    if (absl::Status s = Enter(depth); !s.ok()) return s;
    ++pos_;  // '{'
    std::vector<Value::Member> members;
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      out = Value::Object(std::move(members));
      return absl::OkStatus();
    }
    while (true) {
      SkipSpace();
      if (Peek() != '"') return Describe("a string (object key)");
      std::string key;
      if (absl::Status s = ParseString(key); !s.ok()) return s;
      SkipSpace();
      if (Peek() != ':') return Describe("':' after an object key");
      ++pos_;
      SkipSpace();
      Value value;
      if (absl::Status s = ParseValue(depth + 1, value); !s.ok()) return s;
      members.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        break;
      }
      return Describe("',' or '}' in an object");
    }
    out = Value::Object(std::move(members));
    return absl::OkStatus();
  }

  absl::Status ParseArray(int depth, Value& out) {
    if (absl::Status s = Enter(depth); !s.ok()) return s;
    ++pos_;  // '['
    std::vector<Value> items;
    SkipSpace();
    if (Peek() == ']') {
      ++pos_;
      out = Value::Array(std::move(items));
      return absl::OkStatus();
    }
    while (true) {
      SkipSpace();
      Value value;
      if (absl::Status s = ParseValue(depth + 1, value); !s.ok()) return s;
      items.push_back(std::move(value));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      return Describe("',' or ']' in an array");
    }
    out = Value::Array(std::move(items));
    return absl::OkStatus();
  }

  // number = [ "-" ] int [ frac ] [ exp ]; int = "0" / 1-9 *DIGIT
  absl::Status ParseNumber(Value& out) {
    size_t start = pos_;
    auto digits = [&] {
      size_t n = 0;
      while (!AtEnd() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        ++pos_;
        ++n;
      }
      return n;
    };
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
      if (Peek() >= '0' && Peek() <= '9') {
        return Error("a number must not have leading zeros");
      }
    } else if (digits() == 0) {
      return Describe("a digit");
    }
    if (Peek() == '.') {
      ++pos_;
      if (digits() == 0) return Describe("a digit after '.'");
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (digits() == 0) return Describe("a digit in the exponent");
    }
    out = Value::Number(std::string(text_.substr(start, pos_ - start)));
    return absl::OkStatus();
  }

  absl::StatusOr<uint32_t> Hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      if (AtEnd()) return Error("unexpected end of input in a \\u escape");
      char c = text_[pos_];
      uint32_t d;
      if (c >= '0' && c <= '9') {
        d = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        d = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        d = c - 'A' + 10;
      } else {
        return Describe("a hex digit in a \\u escape");
      }
      v = v * 16 + d;
      ++pos_;
    }
    return v;
  }

  static void AppendUtf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xc0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xe0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      s += static_cast<char>(0xf0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // Length of the valid UTF-8 sequence at pos_, or 0 (RFC 3629: no
  // overlongs, no surrogates, nothing above U+10FFFF).
  size_t Utf8Length() const {
    auto byte = [&](size_t i) -> unsigned {
      return pos_ + i < text_.size()
                 ? static_cast<unsigned char>(text_[pos_ + i])
                 : 0x100;
    };
    auto cont = [&](size_t i) {
      return (byte(i) & 0xc0) == 0x80 && byte(i) < 0x100;
    };
    unsigned b0 = byte(0);
    if (b0 < 0x80) return 1;
    if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
    if (b0 >= 0xe0 && b0 <= 0xef) {
      unsigned b1 = byte(1);
      if (!cont(1) || !cont(2)) return 0;
      if (b0 == 0xe0 && b1 < 0xa0) return 0;   // overlong
      if (b0 == 0xed && b1 >= 0xa0) return 0;  // surrogate
      return 3;
    }
    if (b0 >= 0xf0 && b0 <= 0xf4) {
      unsigned b1 = byte(1);
      if (!cont(1) || !cont(2) || !cont(3)) return 0;
      if (b0 == 0xf0 && b1 < 0x90) return 0;   // overlong
      if (b0 == 0xf4 && b1 >= 0x90) return 0;  // > U+10FFFF
      return 4;
    }
    return 0;
  }

  absl::Status ParseString(std::string& out) {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd()) return Error("unexpected end of input in a string");
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Error("control character in a string (must be escaped)");
      }
      if (c != '\\') {
        size_t n = Utf8Length();
        if (n == 0) return Error("invalid UTF-8 in a string");
        out.append(text_.data() + pos_, n);
        pos_ += n;
        continue;
      }
      ++pos_;  // '\'
      char e = Peek();
      const char* simple = nullptr;
      switch (e) {
        case '"':
          simple = "\"";
          break;
        case '\\':
          simple = "\\";
          break;
        case '/':
          simple = "/";
          break;
        case 'b':
          simple = "\b";
          break;
        case 'f':
          simple = "\f";
          break;
        case 'n':
          simple = "\n";
          break;
        case 'r':
          simple = "\r";
          break;
        case 't':
          simple = "\t";
          break;
        case 'u':
          break;
        default:
          return Describe("an escape character after '\\'");
      }
      ++pos_;
      if (simple != nullptr) {
        out += simple;
        continue;
      }
      absl::StatusOr<uint32_t> cp = Hex4();
      if (!cp.ok()) return cp.status();
      uint32_t code = *cp;
      if (code >= 0xd800 && code <= 0xdbff) {
        // A high surrogate must be followed by an escaped low surrogate.
        if (!Literal("\\u")) return Error("unpaired surrogate in a \\u escape");
        absl::StatusOr<uint32_t> low = Hex4();
        if (!low.ok()) return low.status();
        if (*low < 0xdc00 || *low > 0xdfff) {
          return Error("unpaired surrogate in a \\u escape");
        }
        code = 0x10000 + ((code - 0xd800) << 10) + (*low - 0xdc00);
      } else if (code >= 0xdc00 && code <= 0xdfff) {
        return Error("unpaired surrogate in a \\u escape");
      }
      AppendUtf8(out, code);
    }
  }

  absl::string_view text_;
  Limits limits_;
  size_t pos_ = 0;
  size_t values_ = 0;
};

bool IsInteger(const std::string& text) {
  return text.find_first_of(".eE") == std::string::npos;
}

const Value* Member(const Value& object, absl::string_view key,
                    absl::Status& error) {
  if (!object.is_object()) {
    error = TypeError(Type::kObject, object.type());
    return nullptr;
  }
  const Value* v = object.Find(key);
  if (v == nullptr) {
    error = absl::NotFoundError(absl::StrCat("no \"", key, "\""));
  }
  return v;
}

template <typename T, typename Fn>
absl::StatusOr<T> Get(const Value& object, absl::string_view key, Fn fn) {
  absl::Status error;
  const Value* v = Member(object, key, error);
  if (v == nullptr) return error;
  absl::StatusOr<T> r = fn(*v);
  if (!r.ok()) {
    return absl::Status(r.status().code(),
                        absl::StrCat("\"", key, "\": ", r.status().message()));
  }
  return r;
}

}  // namespace

const char* TypeName(Type type) {
  switch (type) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return "bool";
    case Type::kNumber:
      return "number";
    case Type::kString:
      return "string";
    case Type::kArray:
      return "array";
    case Type::kObject:
      return "object";
  }
  return "?";
}

Value Value::Bool(bool b) {
  Value v;
  v.type_ = Type::kBool;
  v.bool_ = b;
  return v;
}

Value Value::Number(std::string text) {
  Value v;
  v.type_ = Type::kNumber;
  v.text_ = std::move(text);
  return v;
}

Value Value::String(std::string s) {
  Value v;
  v.type_ = Type::kString;
  v.text_ = std::move(s);
  return v;
}

Value Value::Array(std::vector<Value> items) {
  Value v;
  v.type_ = Type::kArray;
  v.items_ = std::move(items);
  return v;
}

Value Value::Object(std::vector<Member> members) {
  Value v;
  v.type_ = Type::kObject;
  v.members_ = std::move(members);
  return v;
}

absl::StatusOr<bool> Value::AsBool() const {
  if (type_ != Type::kBool) return TypeError(Type::kBool, type_);
  return bool_;
}

absl::StatusOr<std::string> Value::AsString() const {
  if (type_ != Type::kString) return TypeError(Type::kString, type_);
  return text_;
}

absl::StatusOr<uint64_t> Value::AsUint64() const {
  if (type_ != Type::kNumber) return TypeError(Type::kNumber, type_);
  uint64_t v = 0;
  auto [end, ec] =
      std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (!IsInteger(text_) || ec != std::errc() ||
      end != text_.data() + text_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected an unsigned 64-bit integer, found ", text_));
  }
  return v;
}

absl::StatusOr<int64_t> Value::AsInt64() const {
  if (type_ != Type::kNumber) return TypeError(Type::kNumber, type_);
  int64_t v = 0;
  auto [end, ec] =
      std::from_chars(text_.data(), text_.data() + text_.size(), v);
  if (!IsInteger(text_) || ec != std::errc() ||
      end != text_.data() + text_.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a 64-bit integer, found ", text_));
  }
  return v;
}

const Value* Value::Find(absl::string_view key) const {
  for (auto it = members_.rbegin(); it != members_.rend(); ++it) {
    if (it->first == key) return &it->second;
  }
  return nullptr;
}

absl::StatusOr<Value> Parse(absl::string_view text, const Limits& limits) {
  return Parser(text, limits).ParseDocument();
}

absl::StatusOr<uint64_t> GetUint64(const Value& object, absl::string_view key) {
  return Get<uint64_t>(object, key,
                       [](const Value& v) { return v.AsUint64(); });
}

absl::StatusOr<int64_t> GetInt64(const Value& object, absl::string_view key) {
  return Get<int64_t>(object, key, [](const Value& v) { return v.AsInt64(); });
}

absl::StatusOr<bool> GetBool(const Value& object, absl::string_view key) {
  return Get<bool>(object, key, [](const Value& v) { return v.AsBool(); });
}

absl::StatusOr<std::string> GetString(const Value& object,
                                      absl::string_view key) {
  return Get<std::string>(object, key,
                          [](const Value& v) { return v.AsString(); });
}

}  // namespace dmkit::json
