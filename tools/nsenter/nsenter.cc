// nsenter: run a program in the namespaces of another process.
//
// Compatible with util-linux 2.38's nsenter(1): the same options, messages,
// exit codes (1 for errors, 126/127 when the program cannot be run, the
// program's own status otherwise) and the same order of operations: open
// every namespace file and the -r/-w directories first, enter the
// namespaces in two passes, change root and directory, fork when a pid
// namespace was entered, set credentials, exec. Namespace entry itself is
// mountns::NamespaceSet, which uses one setns(pidfd, mask) on Linux 5.8+.
//
// Deliberate differences from util-linux 2.38 (see
// tests/unit/nsenter_compat.sh, which checks the rest side by side):
//   --version   prints "nsenter from dmkit <version>".
//   --wdns DIR  takes its argument like -W does; 2.38 declares the long
//               option's argument optional, so "--wdns DIR" there ignores
//               DIR and runs DIR as the program ("--wdns=DIR" is the same
//               in both).
//   -Z          implemented without libselinux, through /proc/PID/attr.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "dmkit/status.h"
#include "mountns/namespace_set.h"
#include "mountns/unique_fd.h"
#include "tools/applet.h"
#include "tools/nsenter/args.h"

#ifndef DMKIT_VERSION
#define DMKIT_VERSION "0.0.0"
#endif

namespace dmkit {
namespace {

// util-linux's exit codes (include/c.h).
constexpr int kExitFailure = 1;
constexpr int kExitExecFailed = 126;  // program found but not runnable
constexpr int kExitExecNotFound = 127;

// SELINUX_MAGIC from include/uapi/linux/magic.h.
constexpr long kSelinuxMagic = 0xf97cff8c;

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// Everything one run of the applet needs to report errors.
class Reporter {
 public:
  explicit Reporter(absl::string_view program) : program_(program) {}

  const std::string& program() const { return program_; }

  // "nsenter: <message>" in one write(2), like util-linux's errx().
  int Fail(absl::string_view message, int code = kExitFailure) const {
    std::string line = absl::StrCat(program_, ": ", message, "\n");
    ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
    (void)ignored;
    return code;
  }

  // The same with ": <strerror>" appended, like err().
  int FailErrno(absl::string_view message, int error_number,
                int code = kExitFailure) const {
    return Fail(absl::StrCat(message, ": ", strerror(error_number)), code);
  }

  int Fail(const absl::Status& status) const { return Fail(status.message()); }

  // errtryhelp(): after a usage error.
  int TryHelp() const {
    fprintf(stderr, "Try '%s --help' for more information.\n",
            program_.c_str());
    return kExitFailure;
  }

  // errexec(): after a failed exec.
  int ExecFailed(const char* name, int error_number) const {
    return FailErrno(
        absl::StrCat("failed to execute ", name), error_number,
        error_number == ENOENT ? kExitExecNotFound : kExitExecFailed);
  }

  // close_stdout(): a --help or --version that could not be written fails.
  int FinishStdout() const {
    errno = 0;
    if (ferror(stdout) == 0 && fflush(stdout) == 0) return EXIT_SUCCESS;
    if (errno == EPIPE || errno == EBADF) return EXIT_SUCCESS;
    return errno != 0 ? FailErrno("write error", errno) : Fail("write error");
  }

 private:
  std::string program_;
};

int PrintUsage(const Reporter& reporter) {
  FILE* out = stdout;
  fputs("\nUsage:\n", out);
  fprintf(out, " %s [options] [<program> [<argument>...]]\n",
          reporter.program().c_str());
  fputs("\n", out);
  fputs("Run a program with namespaces of other processes.\n", out);
  fputs("\nOptions:\n", out);
  fputs(" -a, --all              enter all namespaces\n", out);
  fputs(" -t, --target <pid>     target process to get namespaces from\n", out);
  fputs(" -m, --mount[=<file>]   enter mount namespace\n", out);
  fputs(" -u, --uts[=<file>]     enter UTS namespace (hostname etc)\n", out);
  fputs(" -i, --ipc[=<file>]     enter System V IPC namespace\n", out);
  fputs(" -n, --net[=<file>]     enter network namespace\n", out);
  fputs(" -p, --pid[=<file>]     enter pid namespace\n", out);
  fputs(" -C, --cgroup[=<file>]  enter cgroup namespace\n", out);
  fputs(" -U, --user[=<file>]    enter user namespace\n", out);
  fputs(" -T, --time[=<file>]    enter time namespace\n", out);
  fputs(" -S, --setuid <uid>     set uid in entered namespace\n", out);
  fputs(" -G, --setgid <gid>     set gid in entered namespace\n", out);
  fputs("     --preserve-credentials do not touch uids or gids\n", out);
  fputs(" -r, --root[=<dir>]     set the root directory\n", out);
  fputs(" -w, --wd[=<dir>]       set the working directory\n", out);
  // "-W." is util-linux 2.38's text, kept so --help is byte-identical.
  fputs(" -W. --wdns <dir>       set the working directory in namespace\n",
        out);
  fputs(" -F, --no-fork          do not fork before exec'ing <program>\n", out);
  fputs(
      " -Z, --follow-context   set SELinux context according to --target PID\n",
      out);
  fputs("\n", out);
  printf("%-24s%s\n", " -h, --help", "display this help");
  printf("%-24s%s\n", " -V, --version", "display version");
  printf("\nFor more details see %s.\n", "nsenter(1)");
  return reporter.FinishStdout();
}

int PrintVersion(const Reporter& reporter) {
  printf("%s from dmkit %s\n", reporter.program().c_str(), DMKIT_VERSION);
  return reporter.FinishStdout();
}

// selinux is_selinux_enabled(): selinuxfs is mounted.
bool SelinuxEnabled() {
  struct statfs fs;
  return statfs("/sys/fs/selinux", &fs) == 0 &&
         static_cast<long>(fs.f_type) == kSelinuxMagic;
}

// --follow-context: what libselinux's getpidcon() and setexeccon() do, with
// the /proc files they use. Errors are util-linux's lines.
absl::Status FollowContext(pid_t target) {
  if (!SelinuxEnabled()) return absl::OkStatus();
  if (target == 0) {
    return absl::InvalidArgumentError(
        "no target PID specified for --follow-context");
  }
  absl::StatusOr<std::string> context =
      mountns::ReadFile(absl::StrCat("/proc/", target, "/attr/current"), 4096);
  if (!context.ok()) {
    return absl::Status(
        context.status().code(),
        absl::StrCat("failed to get ", target, " SELinux context"));
  }
  while (!context->empty() &&
         (context->back() == '\0' || context->back() == '\n')) {
    context->pop_back();
  }
  absl::StatusOr<mountns::UniqueFd> exec =
      mountns::OpenFile("/proc/thread-self/attr/exec", O_WRONLY);
  absl::Status written = exec.status();
  if (written.ok()) written = mountns::WriteAll(exec->get(), *context, "");
  if (!written.ok()) {
    return absl::Status(
        written.code(),
        absl::StrCat("failed to set exec context to '", *context, "'"));
  }
  return absl::OkStatus();
}

// continue_as_child(), first half: after entering a pid namespace only
// children are in it, so fork. Returns the child's pid in the parent and 0
// in the child, which carries on.
absl::StatusOr<pid_t> ForkChild() {
  signal(SIGCHLD, SIG_DFL);
  fflush(nullptr);
  pid_t child = fork();
  if (child < 0) return dmkit::ErrnoError(errno, "fork failed");
  return child;
}

// continue_as_child(), second half: the parent waits for `child` and ends
// the way it ended; returns the exit status to report.
int MirrorChild(pid_t child) {
  int status = 0;
  for (;;) {
    pid_t ret = waitpid(child, &status, WUNTRACED);
    if (ret < 0 && errno == EINTR) continue;
    if (ret == child && WIFSTOPPED(status)) {
      // The child was suspended (^Z): suspend too, resume it with us.
      kill(getpid(), SIGSTOP);
      kill(child, SIGCONT);
      continue;
    }
    if (ret < 0) return kExitFailure;
    break;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) kill(getpid(), WTERMSIG(status));
  return kExitFailure;
}

// exec_shell(): $SHELL or /bin/sh as a login shell ("-sh").
int ExecShell(const Reporter& reporter) {
  const char* shell = getenv("SHELL");
  if (shell == nullptr) shell = "/bin/sh";
  absl::string_view name = shell;
  while (name.size() > 1 && name.back() == '/') name.remove_suffix(1);
  std::string arg0 = absl::StrCat("-", Basename(name));
  execl(shell, arg0.c_str(), static_cast<char*>(nullptr));
  return reporter.ExecFailed(shell, errno);
}

// Opens `path`, or /proc/PID/<type> of the target when `path` is null, as
// util-linux's open_target_fd().
absl::StatusOr<mountns::UniqueFd> OpenTargetFd(pid_t target,
                                               absl::string_view type,
                                               const char* path) {
  std::string where;
  if (path != nullptr) {
    where = path;
  } else if (target != 0) {
    where = absl::StrCat("/proc/", static_cast<uint32_t>(target), "/", type);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("neither filename nor target pid supplied for ", type));
  }
  return mountns::OpenFile(where, O_RDONLY);
}

// What Run() opens before entering anything.
struct Opened {
  mountns::NamespaceSet namespaces;
  mountns::UniqueFd root_fd;
  mountns::UniqueFd wd_fd;
};

// Returned by the steps of Run() when it goes on.
constexpr int kGoOn = -1;

// The files named on the command line. util-linux opens each as it parses
// its option: the ones named before a bad option or --help can fail first.
int OpenNamedFiles(const nsenter::Args& options, const Reporter& reporter,
                   Opened* opened) {
  for (const nsenter::Args::File& file : options.files) {
    if (file.kind == nsenter::Args::File::Kind::kNamespace) {
      absl::Status added = opened->namespaces.AddFile(file.type, file.path);
      if (!added.ok()) return reporter.Fail(added);
      continue;
    }
    bool root = file.kind == nsenter::Args::File::Kind::kRoot;
    absl::StatusOr<mountns::UniqueFd> fd =
        OpenTargetFd(options.target, root ? "root" : "cwd", file.path.c_str());
    if (!fd.ok()) return reporter.Fail(fd.status());
    (root ? opened->root_fd : opened->wd_fd) = *std::move(fd);
  }
  return kGoOn;
}

// The target's files (--all, -t's namespaces, -r and -w without a path),
// opened while /proc is still ours.
int OpenTargetFiles(nsenter::Args& options, const Reporter& reporter,
                    Opened* opened) {
  if (options.follow_context) {
    if (absl::Status followed = FollowContext(options.target); !followed.ok()) {
      return reporter.Fail(followed);
    }
  }
  if (options.all) {
    if (options.target == 0) {
      return reporter.Fail("no target PID specified for --all");
    }
    absl::StatusOr<int> usable =
        mountns::UsableNamespaces(options.target, opened->namespaces.mask());
    if (!usable.ok()) return reporter.Fail(usable.status());
    options.namespaces |= *usable;
  }
  if (absl::Status added =
          opened->namespaces.AddTarget(options.target, options.namespaces);
      !added.ok()) {
    return reporter.Fail(added);
  }
  for (bool root : {true, false}) {
    if (!(root ? options.root_from_target : options.wd_from_target)) continue;
    absl::StatusOr<mountns::UniqueFd> fd =
        OpenTargetFd(options.target, root ? "root" : "cwd", nullptr);
    if (!fd.ok()) return reporter.Fail(fd.status());
    (root ? opened->root_fd : opened->wd_fd) = *std::move(fd);
  }
  return kGoOn;
}

// The current directory as a file, for -w's default and --wdns.
int OpenDirectory(const char* path, const Reporter& reporter,
                  mountns::UniqueFd* fd) {
  absl::StatusOr<mountns::UniqueFd> opened = mountns::OpenFile(path, O_RDONLY);
  if (!opened.ok()) {
    return reporter.FailErrno("cannot open current working directory",
                              dmkit::ErrnoOf(opened.status()));
  }
  *fd = *std::move(opened);
  return kGoOn;
}

// -r and -w (and --wdns), after the namespaces were entered.
int ChangeRootAndDirectory(const nsenter::Args& options,
                           const Reporter& reporter, Opened* opened) {
  // Keep the current directory across a chroot unless told otherwise.
  if (opened->root_fd.valid() && !opened->wd_fd.valid() && !options.wdns) {
    if (int r = OpenDirectory(".", reporter, &opened->wd_fd); r != kGoOn) {
      return r;
    }
  }
  if (opened->root_fd.valid()) {
    if (fchdir(opened->root_fd.get()) < 0) {
      return reporter.FailErrno(
          "change directory by root file descriptor failed", errno);
    }
    if (chroot(".") < 0) return reporter.FailErrno("chroot failed", errno);
    if (chdir("/") != 0) {
      return reporter.FailErrno("cannot change directory to /", errno);
    }
    opened->root_fd.reset();
  }
  if (options.wdns) {
    int r = OpenDirectory(options.wdns->c_str(), reporter, &opened->wd_fd);
    if (r != kGoOn) return r;
  }
  if (opened->wd_fd.valid()) {
    if (fchdir(opened->wd_fd.get()) < 0) {
      return reporter.FailErrno(
          "change directory by working directory file descriptor failed",
          errno);
    }
    opened->wd_fd.reset();
  }
  return kGoOn;
}

// -G/-S and a user namespace's root. Supplementary groups are dropped
// before and after entering; only both failing (`setgroups_failed` says
// the first did) is an error.
int SetCredentials(const nsenter::Args& options, bool setgroups_failed,
                   const Reporter& reporter) {
  if (options.force_gid) {
    if (setgroups(0, nullptr) != 0 && setgroups_failed) {
      return reporter.FailErrno("setgroups failed", errno);
    }
    if (setgid(options.gid) < 0) {
      return reporter.FailErrno("setgid failed", errno);
    }
  }
  if (options.force_uid && setuid(options.uid) < 0) {
    return reporter.FailErrno("setuid failed", errno);
  }
  return kGoOn;
}

// Ends a parse that found an error or asked for --help or --version.
int EndParse(const nsenter::Args& options, const Reporter& reporter, int argc,
             char** argv) {
  if (options.error) {
    if (options.getopt_error) {
      (void)nsenter::ParseArgs(argc, argv);  // getopt prints its message
      return reporter.TryHelp();
    }
    return reporter.Fail(*options.error);
  }
  switch (options.action) {
    case nsenter::Args::Action::kHelp:
      return PrintUsage(reporter);
    case nsenter::Args::Action::kVersion:
      return PrintVersion(reporter);
    case nsenter::Args::Action::kRun:
      break;
  }
  return kGoOn;
}

int Run(int argc, char** argv) {
  Reporter reporter(argc > 0 ? Basename(argv[0]) : "nsenter");
  // Quietly first: getopt's own complaint must not come before the error of
  // a file named earlier on the line.
  nsenter::Args options = nsenter::ParseArgs(argc, argv, /*quiet=*/true);
  Opened opened;
  if (int r = OpenNamedFiles(options, reporter, &opened); r != kGoOn) return r;
  if (int r = EndParse(options, reporter, argc, argv); r != kGoOn) return r;
  if (int r = OpenTargetFiles(options, reporter, &opened); r != kGoOn) return r;

  const int entered = opened.namespaces.mask();
  // Entering a user namespace makes us root there unless asked not to.
  bool setgroups_failed = false;
  if ((entered & CLONE_NEWUSER) && !options.preserve_credentials) {
    options.force_uid = true;
    options.force_gid = true;
    setgroups_failed = setgroups(0, nullptr) != 0;
  }
  if (absl::Status status = opened.namespaces.Enter(); !status.ok()) {
    return reporter.Fail(status);
  }
  if ((entered & CLONE_NEWPID) && options.fork == -1) options.fork = 1;
  if (int r = ChangeRootAndDirectory(options, reporter, &opened); r != kGoOn) {
    return r;
  }
  if (options.fork == 1) {
    absl::StatusOr<pid_t> child = ForkChild();
    if (!child.ok()) return reporter.Fail(child.status());
    if (*child != 0) return MirrorChild(*child);
  }
  if (int r = SetCredentials(options, setgroups_failed, reporter); r != kGoOn) {
    return r;
  }
  if (options.program < argc) {
    execvp(argv[options.program], argv + options.program);
    return reporter.ExecFailed(argv[options.program], errno);
  }
  return ExecShell(reporter);
}

}  // namespace

int NsenterMain(int argc, char** argv) { return Run(argc, argv); }

}  // namespace dmkit
