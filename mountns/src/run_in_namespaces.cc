#include "mountns/run_in_namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dmkit/status.h"
#include "mountns/unique_fd.h"

namespace mountns {
namespace {

// The child answers with one frame: a fixed header, then the value (when
// ok) or the error message. A missing or short frame means the child died.
struct FrameHeader {
  uint32_t magic;
  uint32_t ok;
  int32_t code;
  int32_t error_number;
  uint64_t length;
};
constexpr uint32_t kFrameMagic = 0x6d6e7331;  // "mns1"
constexpr size_t kMaxResult = size_t{64} << 20;

std::string EncodeFrame(const absl::StatusOr<std::string>& result) {
  FrameHeader header{};
  header.magic = kFrameMagic;
  absl::string_view body;
  if (result.ok()) {
    header.ok = 1;
    body = *result;
  } else {
    header.code = static_cast<int32_t>(result.status().code());
    header.error_number = dmkit::ErrnoOf(result.status());
    body = result.status().message();
  }
  header.length = body.size();
  std::string frame(sizeof(header), '\0');
  memcpy(frame.data(), &header, sizeof(header));
  frame.append(body.data(), body.size());
  return frame;
}

// The result a frame carries. *complete is false (and the status is
// kDataLoss) when the bytes are not one whole frame.
absl::StatusOr<std::string> DecodeFrame(absl::string_view frame,
                                        bool* complete) {
  *complete = false;
  FrameHeader header;
  if (frame.size() < sizeof(header)) return absl::DataLossError("short frame");
  memcpy(&header, frame.data(), sizeof(header));
  frame.remove_prefix(sizeof(header));
  if (header.magic != kFrameMagic || header.length != frame.size()) {
    return absl::DataLossError("bad frame");
  }
  *complete = true;
  if (header.ok) return std::string(frame);
  absl::StatusCode code = static_cast<absl::StatusCode>(header.code);
  if (code == absl::StatusCode::kOk) code = absl::StatusCode::kUnknown;
  return dmkit::WithErrno(absl::Status(code, frame), header.error_number);
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
};

absl::StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return dmkit::ErrnoError(errno, "pipe");
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

absl::StatusOr<int> WaitFor(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return dmkit::ErrnoError(errno, "waitpid");
  }
  return status;
}

std::string DescribeWaitStatus(int status) {
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status));
  }
  return absl::StrCat("exited with status ", WEXITSTATUS(status));
}

// In a child: ends the process without running the parent's atexit
// handlers or flushing stdio buffers copied from it twice (the parent
// flushed before forking).
[[noreturn]] void ChildExit(int code) {
  fflush(nullptr);
  _exit(code);
}

// In a child: called right after fork().
void PrepareChild() {
  // Do not outlive the caller if it is killed while waiting for us.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

// In a child that entered a pid namespace: forks the process that is really
// inside it, waits for it and passes its end on. Returns in the grandchild.
void ContinueInGrandchild() {
  pid_t pid = fork();
  if (pid < 0) ChildExit(125);
  if (pid == 0) {
    PrepareChild();
    return;
  }
  absl::StatusOr<int> status = WaitFor(pid);
  if (!status.ok()) ChildExit(125);
  if (WIFSIGNALED(*status)) {
    signal(WTERMSIG(*status), SIG_DFL);
    raise(WTERMSIG(*status));
  }
  ChildExit(ExitCodeOfWaitStatus(*status));
}

// Forks; the child enters `target` and calls `body` with the write end of
// the result pipe, never returning. The parent gets the child's pid.
template <typename Body>
absl::StatusOr<pid_t> ForkIntoNamespaces(const NamespaceSet& target,
                                         const RunOptions& options, Pipe& pipe,
                                         Body body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) return dmkit::ErrnoError(errno, "fork");
  if (pid > 0) return pid;
  PrepareChild();
  pipe.read.reset();
  absl::Status entered = target.Enter(options.method);
  if (!entered.ok()) {
    WriteAll(pipe.write.get(), EncodeFrame(entered), "result").IgnoreError();
    ChildExit(125);
  }
  if (target.mask() & CLONE_NEWPID) ContinueInGrandchild();
  body(pipe.write);
  ChildExit(0);
}

// Reads the child's answer, then reaps it. An empty or partial answer means
// the child died first; the error then says how.
absl::StatusOr<std::string> CollectAnswer(pid_t pid, Pipe& pipe,
                                          bool* complete) {
  pipe.write.reset();
  absl::StatusOr<std::string> frame =
      ReadAll(pipe.read.get(), "namespace helper result",
              kMaxResult + sizeof(FrameHeader));
  pipe.read.reset();
  absl::StatusOr<int> status = WaitFor(pid);
  if (!frame.ok()) return frame.status();
  if (!status.ok()) return status.status();
  if (frame->empty()) {
    *complete = false;
    return absl::InternalError(
        absl::StrCat("namespace helper ", DescribeWaitStatus(*status)));
  }
  absl::StatusOr<std::string> result = DecodeFrame(*frame, complete);
  if (!*complete) {
    return absl::InternalError(absl::StrCat("namespace helper ",
                                            DescribeWaitStatus(*status),
                                            " with a truncated result"));
  }
  return result;
}

}  // namespace

int ExitCodeOfWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 255;
}

absl::StatusOr<std::string> RunInNamespaces(
    const NamespaceSet& target,
    absl::FunctionRef<absl::StatusOr<std::string>()> fn,
    const RunOptions& options) {
  DMKIT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  DMKIT_ASSIGN_OR_RETURN(
      pid_t pid, ForkIntoNamespaces(target, options, pipe, [&](UniqueFd& out) {
        absl::StatusOr<std::string> result = fn();
        if (result.ok() && result->size() > kMaxResult) {
          result = absl::ResourceExhaustedError(absl::StrCat(
              "namespace helper result larger than ", kMaxResult, " bytes"));
        }
        if (!WriteAll(out.get(), EncodeFrame(result), "result").ok()) {
          ChildExit(125);
        }
      }));
  bool complete = false;
  return CollectAnswer(pid, pipe, &complete);
}

absl::StatusOr<int> RunCommandInNamespaces(const NamespaceSet& target,
                                           const std::vector<std::string>& argv,
                                           const RunOptions& options) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv)
    args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  DMKIT_ASSIGN_OR_RETURN(Pipe pipe, MakePipe());
  DMKIT_ASSIGN_OR_RETURN(
      pid_t pid, ForkIntoNamespaces(target, options, pipe, [&](UniqueFd& out) {
        // The pipe is close-on-exec: a successful exec closes it with
        // nothing written, which the parent reads as "running".
        execvp(args[0], args.data());
        int error_number = errno;
        absl::Status failed = dmkit::ErrnoError(
            error_number, absl::StrCat("failed to execute ", argv[0]));
        WriteAll(out.get(), EncodeFrame(failed), "result").IgnoreError();
        ChildExit(error_number == ENOENT ? 127 : 126);
      }));
  // Unlike RunInNamespaces(), an empty answer is the normal case here.
  pipe.write.reset();
  absl::StatusOr<std::string> frame =
      ReadAll(pipe.read.get(), "namespace helper result", 1 << 20);
  pipe.read.reset();
  DMKIT_ASSIGN_OR_RETURN(int status, WaitFor(pid));
  if (!frame.ok()) return frame.status();
  if (!frame->empty()) {
    bool complete = false;
    absl::StatusOr<std::string> answer = DecodeFrame(*frame, &complete);
    if (!complete) {
      return absl::InternalError(absl::StrCat("namespace helper ",
                                              DescribeWaitStatus(status),
                                              " with a truncated result"));
    }
    if (!answer.ok()) return answer.status();
  }
  return ExitCodeOfWaitStatus(status);
}

}  // namespace mountns
