// File: tools/common/json_writer.h
//
// The JSON writer behind every applet's `--json` output (no JSON library:
// the binary's size matters). Commas and nesting are tracked; output is
// compact, one document per line.
//
//   json::Writer w;
//   w.BeginObject();
//   w.Key("device_id").Uint(34709);
//   w.EndObject();
//   fputs(w.Take().c_str(), stdout);
#ifndef DMKIT_TOOLS_COMMON_JSON_WRITER_H_
#define DMKIT_TOOLS_COMMON_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dmkit::json {

// Escape()
//
// The JSON string literal for `s`, quotes included: '"', '\' and control
// characters escaped; valid UTF-8 passed through; each byte that is not
// part of valid UTF-8 (device names and paths are arbitrary bytes) written
// as the code point of the same value (\u00XX). The output is always valid
// JSON, and a reader that wants the original bytes back can map code
// points below 0x100 that stand alone to bytes.
std::string Escape(absl::string_view s);

class Writer {
 public:
  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  // The key of the next member of the current object.
  Writer& Key(absl::string_view key);
  Writer& String(absl::string_view value);
  Writer& Uint(uint64_t value);
  Writer& Int(int64_t value);
  Writer& Bool(bool value);
  Writer& Null();

  // The text so far.
  const std::string& text() const { return out_; }
  // The text with a final newline; the writer starts over empty.
  std::string Take();

 private:
  void Separate();

  std::string out_;
  std::vector<bool> has_member_;  // per open container
  bool after_key_ = false;
};

}  // namespace dmkit::json

#endif  // DMKIT_TOOLS_COMMON_JSON_WRITER_H_
