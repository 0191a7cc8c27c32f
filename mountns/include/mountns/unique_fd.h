// File: mountns/unique_fd.h
//
// UniqueFd owns one file descriptor and closes it when it goes out of scope,
// so no error path in this library leaks a namespace, pidfd or pipe fd:
//
//   DMKIT_ASSIGN_OR_RETURN(mountns::UniqueFd fd,
//                            mountns::OpenFile("/proc/1/ns/mnt", O_RDONLY));
//   if (setns(fd.get(), CLONE_NEWNS) != 0) ...
//
// Next to it live the small read/write helpers the library uses instead of
// iostreams: whole-file reads with read(2), and loops that survive EINTR and
// short writes.
#ifndef MOUNTNS_UNIQUE_FD_H_
#define MOUNTNS_UNIQUE_FD_H_

#include <stddef.h>

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mountns {

// UniqueFd
//
// A move-only owner of a file descriptor; -1 means "none". Destruction and
// reset() close the descriptor (errors from close are ignored: the fds owned
// here are read-only or already flushed).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Gives up ownership and returns the descriptor.
  int release() { return std::exchange(fd_, -1); }

  // Closes the current descriptor, if any, and takes `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// OpenFile()
//
// open(2) with O_CLOEXEC added. On failure the message is
// "cannot open <path>: <strerror>" (util-linux's wording) and the errno is
// attached (see dmkit/status.h).
absl::StatusOr<UniqueFd> OpenFile(const std::string& path, int flags);

// OpenFileAt()
//
// openat(2) relative to `dir_fd`, with O_CLOEXEC added; errors as OpenFile().
absl::StatusOr<UniqueFd> OpenFileAt(int dir_fd, const std::string& path,
                                    int flags);

// The largest file ReadAll() and ReadFile() accept by default: 64 MiB, well
// above a mountinfo with tens of thousands of mounts.
inline constexpr size_t kDefaultMaxRead = size_t{64} << 20;

// ReadAll()
//
// Reads `fd` to end of file. Fails with kResourceExhausted once more than
// `max_bytes` have been read, so a runaway file cannot exhaust memory.
absl::StatusOr<std::string> ReadAll(int fd, absl::string_view what,
                                    size_t max_bytes = kDefaultMaxRead);

// ReadFile()
//
// Opens `path` read-only and reads it whole; errors name the path.
absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     size_t max_bytes = kDefaultMaxRead);

// WriteAll()
//
// Writes all of `data` to `fd`, retrying on EINTR and short writes.
absl::Status WriteAll(int fd, absl::string_view data, absl::string_view what);

}  // namespace mountns

#endif  // MOUNTNS_UNIQUE_FD_H_
