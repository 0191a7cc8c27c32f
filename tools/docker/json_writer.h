// File: tools/docker/json_writer.h
//
// A minimal JSON writer for `--json` output: commas and nesting are tracked,
// strings are escaped (control characters as \u00XX; bytes that are not
// valid UTF-8, possible in paths, become U+FFFD so the output always
// parses).
//
//   json::Writer w;
//   w.BeginObject();
//   w.Key("device_id").Uint(34709);
//   w.EndObject();
//   fputs(w.Take().c_str(), stdout);
#ifndef DMKIT_TOOLS_DOCKER_JSON_WRITER_H_
#define DMKIT_TOOLS_DOCKER_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dmkit::json {

class Writer {
 public:
  Writer& BeginObject();
  Writer& EndObject();
  Writer& BeginArray();
  Writer& EndArray();
  Writer& Key(absl::string_view key);
  Writer& String(absl::string_view s);
  Writer& Uint(uint64_t v);
  Writer& Int(int64_t v);
  Writer& Bool(bool v);
  Writer& Null();

  // The text so far, with a final newline once the top value is closed.
  std::string Take();

 private:
  void Separate();
  void Quote(absl::string_view s);

  std::string out_;
  std::vector<bool> first_;  // per open container: no member written yet
  bool after_key_ = false;
};

}  // namespace dmkit::json

#endif  // DMKIT_TOOLS_DOCKER_JSON_WRITER_H_
