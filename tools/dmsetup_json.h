// File: tools/dmsetup_json.h
//
// A small JSON writer for dmkit's `--json` output (no JSON library: the
// binary's size matters). Output is compact, one document per line.
//
//   JsonWriter j;
//   j.BeginObject();
//   j.Key("name"); j.String(name);
//   j.EndObject();
//   puts(j.text().c_str());
#ifndef DMKIT_TOOLS_DMSETUP_JSON_H_
#define DMKIT_TOOLS_DMSETUP_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dmkit::dmsetup {

// JsonEscape()
//
// The JSON string literal for `s`, quotes included: '"', '\' and control
// characters escaped; valid UTF-8 passed through; each byte that is not
// part of valid UTF-8 (device names are arbitrary bytes) written as the
// code point of the same value (\u00XX), so the output is always valid JSON.
std::string JsonEscape(absl::string_view s);

class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  // The key of the next member of the current object.
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Bool(bool value);
  void Null();

  const std::string& text() const { return text_; }

 private:
  void Separate();

  std::string text_;
  // Per open container: whether it already holds a member.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_JSON_H_
