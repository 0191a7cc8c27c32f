// File: tools/nsenter/args.h
//
// nsenter's command line (util-linux 2.38's options, getopt_long table and
// messages), parsed without side effects. util-linux opens a namespace file
// (-m=FILE ...) or a directory (-r=DIR, -w=DIR) as soon as it parses the
// option; here they are collected in command-line order and the applet
// (tools/nsenter/nsenter.cc) opens them before it reports a usage error that
// came later on the line, so the errors come in util-linux's order.
#ifndef DMKIT_TOOLS_NSENTER_ARGS_H_
#define DMKIT_TOOLS_NSENTER_ARGS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "mountns/namespace_set.h"

namespace dmkit::nsenter {

struct Args {
  enum class Action { kRun, kHelp, kVersion };
  Action action = Action::kRun;

  pid_t target = 0;
  int namespaces = 0;  // CLONE_NEW* flags to take from the target
  bool all = false;
  bool root_from_target = false;  // -r without a directory
  bool wd_from_target = false;    // -w without a directory
  std::optional<std::string> wdns;
  bool force_uid = false;
  bool force_gid = false;
  uid_t uid = 0;
  gid_t gid = 0;
  bool preserve_credentials = false;
  bool follow_context = false;
  int fork = -1;  // -1: only if a pid namespace is entered; 0: -F

  // A file or directory named on the command line, in order.
  struct File {
    enum class Kind { kNamespace, kRoot, kWorkingDirectory };
    Kind kind = Kind::kNamespace;
    mountns::NamespaceType type = mountns::NamespaceType::kMount;  // kNamespace
    std::string path;
  };
  std::vector<File> files;

  // argv index of the program to run; argc when none is given ($SHELL).
  int program = 0;

  // Set when parsing stopped at a bad option; `files` then holds what came
  // before it. `error` is the line to print after "nsenter: ". For getopt's
  // own complaints `getopt_error` is set too: getopt has printed the line
  // already (unless parsed quietly) and the applet only adds "Try ...".
  std::optional<std::string> error;
  bool getopt_error = false;
};

// ParseArgs()
//
// argv[0] is the program name. `quiet`: getopt prints nothing (opterr = 0);
// for callers that are not the applet. Stops at the first non-option (the
// program), at "--", at --help or --version, or at the first error.
Args ParseArgs(int argc, char** argv, bool quiet = false);

}  // namespace dmkit::nsenter

#endif  // DMKIT_TOOLS_NSENTER_ARGS_H_
