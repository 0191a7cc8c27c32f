// Helpers for the mountns tests: temporary directories and image files,
// loop devices, external programs, and child processes that make real
// namespaces (a private mount namespace with a tmpfs, a thread with a
// namespace of its own, ...) and keep them alive while a test looks at them.
//
// Most of these tests need root (namespaces, mounts, loop devices); they
// skip themselves otherwise with MOUNTNS_SKIP_UNLESS_ROOT().
#ifndef DMKIT_TESTS_UNIT_MOUNTNS_TEST_UTIL_H_
#define DMKIT_TESTS_UNIT_MOUNTNS_TEST_UTIL_H_

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/loop.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "dmkit/status.h"
#include "gtest/gtest.h"
#include "mountns/unique_fd.h"

extern char** environ;

namespace mountns_test {

#define MOUNTNS_SKIP_UNLESS_ROOT()                                 \
  do {                                                             \
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces)"; \
  } while (0)

// EXPECT_OK / ASSERT_OK for absl::Status and StatusOr (Abseil 20220623 has
// no matchers for them).
inline const absl::Status& StatusOf(const absl::Status& status) {
  return status;
}
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}
#define EXPECT_OK(expr)                                             \
  do {                                                              \
    const auto& mountns_test_value_ = (expr);                       \
    const absl::Status& mountns_test_status_ =                      \
        ::mountns_test::StatusOf(mountns_test_value_);              \
    EXPECT_TRUE(mountns_test_status_.ok()) << mountns_test_status_; \
  } while (0)
#define ASSERT_OK(expr)                                             \
  do {                                                              \
    const auto& mountns_test_value_ = (expr);                       \
    const absl::Status& mountns_test_status_ =                      \
        ::mountns_test::StatusOf(mountns_test_value_);              \
    ASSERT_TRUE(mountns_test_status_.ok()) << mountns_test_status_; \
  } while (0)

// A directory under /tmp, removed with its contents (not crossing into
// mounts) when the object goes away.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/mountns-test.XXXXXX";
    if (mkdtemp(pattern) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    if (path_.empty()) return;
    nftw(
        path_.c_str(),
        [](const char* path, const struct stat*, int, struct FTW*) {
          remove(path);
          return 0;
        },
        16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const {
    return absl::StrCat(path_, "/", name);
  }
  // Makes path()/name and returns it.
  std::string MakeDir(const std::string& name) const {
    std::string dir = Sub(name);
    mkdir(dir.c_str(), 0755);
    return dir;
  }

 private:
  std::string path_;
};

// Writes `size` bytes of zeros (sparse) to a new file.
inline absl::Status MakeSparseFile(const std::string& path, off_t size) {
  mountns::UniqueFd fd(
      open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return dmkit::ErrnoError(errno, "create " + path);
  if (ftruncate(fd.get(), size) != 0) {
    return dmkit::ErrnoError(errno, "truncate " + path);
  }
  return absl::OkStatus();
}

// Runs a program (PATH searched) with its output discarded; returns its
// exit code, or an error if it could not be started.
inline absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
                                   O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return dmkit::ErrnoError(rc, "spawn " + argv[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return dmkit::ErrnoError(errno, "waitpid");
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Whether `program` can be found in PATH.
inline bool HaveProgram(const std::string& program) {
  absl::StatusOr<int> rc =
      RunProgram({"sh", "-c", "command -v \"$0\"", program});
  return rc.ok() && *rc == 0;
}

// A loop device backed by an image file, detached when destroyed (with
// LO_FLAGS_AUTOCLEAR, so a mount that still uses it keeps it until then).
class TempLoop {
 public:
  static absl::StatusOr<TempLoop> Attach(const std::string& image) {
    DMKIT_ASSIGN_OR_RETURN(mountns::UniqueFd file,
                           mountns::OpenFile(image, O_RDWR));
    DMKIT_ASSIGN_OR_RETURN(mountns::UniqueFd control,
                           mountns::OpenFile("/dev/loop-control", O_RDWR));
    // Another process may take the free device between the two calls;
    // then ask again.
    for (int attempt = 0; attempt < 16; ++attempt) {
      int number = ioctl(control.get(), LOOP_CTL_GET_FREE);
      if (number < 0) return dmkit::ErrnoError(errno, "LOOP_CTL_GET_FREE");
      std::string path = absl::StrCat("/dev/loop", number);
      absl::StatusOr<mountns::UniqueFd> loop = mountns::OpenFile(path, O_RDWR);
      if (!loop.ok()) return loop.status();
      struct loop_config config;
      memset(&config, 0, sizeof(config));
      config.fd = static_cast<uint32_t>(file.get());
      config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
      if (ioctl(loop->get(), LOOP_CONFIGURE, &config) != 0) {
        if (errno == EBUSY) continue;
        return dmkit::ErrnoError(errno, "LOOP_CONFIGURE " + path);
      }
      struct stat st;
      if (fstat(loop->get(), &st) != 0) {
        return dmkit::ErrnoError(errno, "stat " + path);
      }
      return TempLoop(path, st.st_rdev, *std::move(loop));
    }
    return absl::UnavailableError("no free loop device");
  }

  TempLoop(TempLoop&&) = default;
  TempLoop& operator=(TempLoop&&) = default;
  ~TempLoop() {
    if (fd_.valid()) ioctl(fd_.get(), LOOP_CLR_FD);
  }

  const std::string& path() const { return path_; }
  dev_t dev() const { return dev_; }

 private:
  TempLoop(std::string path, dev_t dev, mountns::UniqueFd fd)
      : path_(std::move(path)), dev_(dev), fd_(std::move(fd)) {}
  std::string path_;
  dev_t dev_ = 0;
  mountns::UniqueFd fd_;
};

// A forked child that runs a setup function (typically: unshare, mount),
// reports its result, then stays alive until the object is destroyed. The
// child calls only system calls and the setup function, and ends with
// _exit(), never returning into the test.
class NamespaceChild {
 public:
  using Setup = std::function<absl::StatusOr<std::string>()>;

  static absl::StatusOr<NamespaceChild> Start(const Setup& setup) {
    int report[2];
    int hold[2];
    if (pipe2(report, O_CLOEXEC) != 0) return dmkit::ErrnoError(errno, "pipe");
    if (pipe2(hold, O_CLOEXEC) != 0) {
      close(report[0]);
      close(report[1]);
      return dmkit::ErrnoError(errno, "pipe");
    }
    fflush(nullptr);
    pid_t pid = fork();
    if (pid < 0) return dmkit::ErrnoError(errno, "fork");
    if (pid == 0) {
      close(report[0]);
      close(hold[1]);
      absl::StatusOr<std::string> result = setup();
      std::string message = result.ok()
                                ? absl::StrCat("+", *result)
                                : absl::StrCat("-", result.status().message());
      // Length first: processes the setup forked may keep the pipe open,
      // so the parent cannot wait for end of file.
      uint32_t length = static_cast<uint32_t>(message.size());
      message.insert(0, reinterpret_cast<const char*>(&length), sizeof(length));
      mountns::WriteAll(report[1], message, "report").IgnoreError();
      close(report[1]);
      char byte;
      // Parent closes its end (or dies): time to go.
      while (read(hold[0], &byte, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    close(report[1]);
    close(hold[0]);
    NamespaceChild child(pid, mountns::UniqueFd(hold[1]));
    absl::StatusOr<std::string> answer = ReadReport(report[0]);
    close(report[0]);
    if (!answer.ok()) return answer.status();
    if ((*answer)[0] == '-') {
      return absl::InternalError("child setup: " + answer->substr(1));
    }
    child.value_ = answer->substr(1);
    return child;
  }

  NamespaceChild(NamespaceChild&& other) noexcept
      : pid_(std::exchange(other.pid_, 0)),
        hold_(std::move(other.hold_)),
        value_(std::move(other.value_)) {}
  NamespaceChild& operator=(NamespaceChild&&) = delete;
  ~NamespaceChild() { Stop(); }

  pid_t pid() const { return pid_; }
  // What the setup function returned.
  const std::string& value() const { return value_; }

  // Ends the child and reaps it.
  void Stop() {
    if (pid_ <= 0) return;
    hold_.reset();
    // Give it a moment to leave by itself, then insist.
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  // Reads exactly `size` bytes; false at end of file.
  static bool ReadExactly(int fd, char* buffer, size_t size) {
    while (size > 0) {
      ssize_t n = read(fd, buffer, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }

  static absl::StatusOr<std::string> ReadReport(int fd) {
    uint32_t length = 0;
    if (!ReadExactly(fd, reinterpret_cast<char*>(&length), sizeof(length)) ||
        length == 0 || length > (1u << 20)) {
      return absl::InternalError("child died during setup");
    }
    std::string answer(length, '\0');
    if (!ReadExactly(fd, answer.data(), length)) {
      return absl::InternalError("child died during setup");
    }
    return answer;
  }

  NamespaceChild(pid_t pid, mountns::UniqueFd hold)
      : pid_(pid), hold_(std::move(hold)) {}
  pid_t pid_ = 0;
  mountns::UniqueFd hold_;
  std::string value_;
};

// Setup step: a new mount namespace where nothing propagates back.
inline absl::Status UnsharePrivateMounts() {
  if (unshare(CLONE_NEWNS) != 0) return dmkit::ErrnoError(errno, "unshare");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return dmkit::ErrnoError(errno, "make-rprivate /");
  }
  return absl::OkStatus();
}

// Setup step: a tmpfs at `dir`; returns its st_dev as "major:minor".
inline absl::StatusOr<std::string> MountTmpfs(const std::string& dir,
                                              const std::string& source) {
  if (mount(source.c_str(), dir.c_str(), "tmpfs", 0, "size=1m") != 0) {
    return dmkit::ErrnoError(errno, "mount tmpfs on " + dir);
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return dmkit::ErrnoError(errno, "stat");
  return absl::StrCat(major(st.st_dev), ":", minor(st.st_dev));
}

// Parses "major:minor" as MountTmpfs() returns it.
inline dev_t ParseDev(const std::string& text) {
  unsigned ma = 0, mi = 0;
  if (sscanf(text.c_str(), "%u:%u", &ma, &mi) != 2) return 0;
  return makedev(ma, mi);
}

// Writes `content` to a new file.
inline absl::Status WriteFile(const std::string& path,
                              const std::string& content) {
  mountns::UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return dmkit::ErrnoError(errno, "create " + path);
  return mountns::WriteAll(fd.get(), content, path);
}

// A pid that is certainly not in use: pid_max itself (pids stay below it).
inline pid_t UnusedPid() {
  absl::StatusOr<std::string> text =
      mountns::ReadFile("/proc/sys/kernel/pid_max");
  long value = text.ok() ? strtol(text->c_str(), nullptr, 10) : 4194304;
  return static_cast<pid_t>(value);
}

}  // namespace mountns_test

#endif  // DMKIT_TESTS_UNIT_MOUNTNS_TEST_UTIL_H_
