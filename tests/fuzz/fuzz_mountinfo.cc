// /proc/PID/mountinfo (mountns/mountinfo.h), the whole file and each line:
//   * ParseMountInfo -> FormatMountInfoLine (joined by newlines) ->
//     ParseMountInfo gives the same mounts, and formatting those again
//     gives the same text;
//   * a file parses exactly when each of its lines does;
//   * UnescapeMountInfoField(EscapeMountInfoField(s)) == s for any bytes,
//     and the escaped text has no space, tab, newline, or backslash that
//     does not start a three-digit octal escape;
//   * an error of one line's parse is one line of text.
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "mountns/mountinfo.h"
#include "tests/fuzz/script_kernel.h"

namespace {

std::string Format(const std::vector<mountns::MountInfo>& mounts) {
  std::vector<std::string> lines;
  for (const mountns::MountInfo& m : mounts) {
    lines.push_back(mountns::FormatMountInfoLine(m));
  }
  return absl::StrJoin(lines, "\n");
}

void CheckEscape(absl::string_view field) {
  std::string escaped = mountns::EscapeMountInfoField(field);
  for (size_t i = 0; i < escaped.size(); ++i) {
    char c = escaped[i];
    FUZZ_CHECK(c != ' ' && c != '\t' && c != '\n');
    if (c == '\\') {
      FUZZ_CHECK(i + 3 < escaped.size());
      for (size_t k = 1; k <= 3; ++k) {
        FUZZ_CHECK(escaped[i + k] >= '0' && escaped[i + k] <= '7');
      }
      i += 3;
    }
  }
  auto back = mountns::UnescapeMountInfoField(escaped);
  FUZZ_CHECK(back.ok() && *back == field);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckEscape(text);
  (void)mountns::UnescapeMountInfoField(text);

  auto mounts = mountns::ParseMountInfo(text);
  // The file parses exactly when every line does (an empty file has none;
  // one trailing newline ends the last line).
  absl::string_view body = text;
  if (!body.empty() && body.back() == '\n') body.remove_suffix(1);
  bool lines_ok = true;
  if (!text.empty()) {
    for (absl::string_view line : absl::StrSplit(body, '\n')) {
      auto one = mountns::ParseMountInfoLine(line);
      if (!one.ok()) {
        lines_ok = false;
        absl::string_view message = one.status().message();
        FUZZ_CHECK(!message.empty());
        FUZZ_CHECK(message.find('\n') == absl::string_view::npos);
      }
    }
  }
  FUZZ_CHECK(mounts.ok() == lines_ok);
  if (!mounts.ok()) return 0;

  std::string formatted = Format(*mounts);
  auto again = mountns::ParseMountInfo(formatted);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *mounts);
  FUZZ_CHECK(Format(*again) == formatted);
  for (const mountns::MountInfo& m : *mounts) {
    FUZZ_CHECK(!m.root.empty() && !m.mount_point.empty() &&
               !m.fs_type.empty() && !m.mount_options.empty() &&
               !m.super_options.empty());
    // Optional fields are interpreted the way they are kept.
    for (const std::string& f : m.optional_fields) {
      FUZZ_CHECK(!f.empty() && f != "-");
      FUZZ_CHECK(f.find(' ') == std::string::npos);
    }
  }
  return 0;
}
