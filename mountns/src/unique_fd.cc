#include "mountns/unique_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "dmkit/status.h"

namespace mountns {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0 && fd_ != fd) close(fd_);
  fd_ = fd;
}

absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags) {
  return OpenFileAt(AT_FDCWD, path, flags);
}

absl::StatusOr<UniqueFd> OpenFileAt(int dir_fd, const std::string& path,
                                    int flags) {
  int fd = openat(dir_fd, path.c_str(), flags | O_CLOEXEC);
  if (fd < 0)
    return dmkit::ErrnoError(errno, absl::StrCat("cannot open ", path));
  return UniqueFd(fd);
}

absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what,
                                    size_t max_bytes) {
  std::string data;
  size_t used = 0;
  for (;;) {
    if (data.size() - used < 4096) data.resize(data.size() + 16384);
    ssize_t n = read(fd, data.data() + used, data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return dmkit::ErrnoError(errno, absl::StrCat("read ", what));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (used > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("read ", what, ": more than ", max_bytes, " bytes"));
    }
  }
  data.resize(used);
  return data;
}

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes) {
  DMKIT_ASSIGN_OR_RETURN(UniqueFd fd, OpenFile(path, O_RDONLY));
  return ReadAll(fd.get(), path, max_bytes);
}

absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return dmkit::ErrnoError(errno, absl::StrCat("write ", what));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

}  // namespace mountns
