// File: tools/docker/json.h
//
// A small, bounded JSON reader (RFC 8259) for the files Docker leaves on
// disk: devicemapper/metadata/<hash>, deviceset-metadata,
// transaction-metadata, containers/<id>/config.v2.json and
// /etc/docker/daemon.json. It builds a tree and nothing more; there is no
// writer here (see tools/common/json_writer.h) and no reflection.
//
//   DMKIT_ASSIGN_OR_RETURN(json::Value doc, json::Parse(text));
//   const json::Value* id = doc.Find("device_id");
//   if (id == nullptr) ...
//   DMKIT_ASSIGN_OR_RETURN(uint64_t device_id, id->AsUint64());
//
// The reader is total: any input, however malformed, gives either a tree or
// an InvalidArgument error that names the line and column and says what was
// expected. Limits keep hostile input small: the input size, the nesting
// depth and the number of values are capped (Limits), and every string is
// checked to be valid UTF-8 after unescaping, as Go's encoding/json (which
// wrote these files) always produces.
//
// Numbers keep their text, so a uint64 size or a 24-bit device id is read
// exactly (no trip through double); AsUint64/AsInt64 reject fractions,
// exponents and out-of-range values. Objects keep their members in file
// order; Find() returns the LAST member of that name, as Go's decoder does
// with duplicate keys.
#ifndef DMKIT_TOOLS_DOCKER_JSON_H_
#define DMKIT_TOOLS_DOCKER_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmkit::json {

enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

// "null", "bool", "number", "string", "array", "object".
const char* TypeName(Type type);

class Value {
 public:
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value Null() { return Value(); }
  static Value Bool(bool b);
  static Value Number(std::string text);  // text must be a JSON number
  static Value String(std::string s);
  static Value Array(std::vector<Value> items);
  static Value Object(std::vector<Member> members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // The scalar, if the value has that type; otherwise an InvalidArgument
  // error "expected <type>, found <type>".
  absl::StatusOr<bool> AsBool() const;
  absl::StatusOr<std::string> AsString() const;
  absl::StatusOr<uint64_t> AsUint64() const;
  absl::StatusOr<int64_t> AsInt64() const;
  // The number as written ("1e3", "-0.5").
  const std::string& number_text() const { return text_; }

  // Array items and object members (empty for other types).
  const std::vector<Value>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }

  // Find()
  //
  // The last member called `key` of an object, or nullptr (also when this is
  // not an object).
  const Value* Find(absl::string_view key) const;

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  std::string text_;  // string contents or number text
  std::vector<Value> items_;
  std::vector<Member> members_;
};

struct Limits {
  size_t max_input_bytes = 16 << 20;  // config.v2.json is tens of KiB
  int max_depth = 64;
  size_t max_values = 1 << 20;
};

// Parse()
//
// Parses exactly one JSON text (surrounding whitespace allowed, nothing
// else). A leading UTF-8 byte order mark is rejected, as Go's decoder does.
absl::StatusOr<Value> Parse(absl::string_view text, const Limits& limits = {});

// Field helpers for the common "object with typed members" shape. A missing
// member is kNotFound ("no \"device_id\""), a member of the wrong type is
// kInvalidArgument; both name the key.
absl::StatusOr<uint64_t> GetUint64(const Value& object, absl::string_view key);
absl::StatusOr<int64_t> GetInt64(const Value& object, absl::string_view key);
absl::StatusOr<bool> GetBool(const Value& object, absl::string_view key);
absl::StatusOr<std::string> GetString(const Value& object,
                                      absl::string_view key);

}  // namespace dmkit::json

#endif  // DMKIT_TOOLS_DOCKER_JSON_H_
