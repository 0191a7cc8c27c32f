// Temporary directories shaped like a Docker devicemapper root, for the
// docker applet's host tests.
#ifndef DMKIT_TESTS_UNIT_DOCKER_TEST_UTIL_H_
#define DMKIT_TESTS_UNIT_DOCKER_TEST_UTIL_H_

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace dmkit::testing {

// A directory under $TMPDIR (or /tmp) removed with everything in it.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern =
        std::string(base && *base ? base : "/tmp") + "/dmkit-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

  // Writes `content` to path()/relative, making parent directories.
  std::string Write(const std::string& relative, const std::string& content) {
    std::string full = path_ + "/" + relative;
    std::filesystem::create_directories(
        std::filesystem::path(full).parent_path());
    std::ofstream out(full, std::ios::binary | std::ios::trunc);
    out << content;
    return full;
  }
  std::string Mkdir(const std::string& relative) {
    std::string full = path_ + "/" + relative;
    std::filesystem::create_directories(full);
    return full;
  }

 private:
  std::string path_;
};

}  // namespace dmkit::testing

#endif  // DMKIT_TESTS_UNIT_DOCKER_TEST_UTIL_H_
