// File: tools/docker/cli.h
//
// The command line of `dmkit docker`: one command word, options before or
// after the arguments ("--root DIR" or "--root=DIR"), "--" ending options.
#ifndef DMKIT_TOOLS_DOCKER_CLI_H_
#define DMKIT_TOOLS_DOCKER_CLI_H_

#include <string>

#include "absl/status/statusor.h"
#include "tools/docker/commands.h"

namespace dmkit::docker {

struct Invocation {
  std::string command;  // "ls", "inspect", ...; empty with --help
  bool help = false;
  Options options;
};

// ParseCommandLine()
//
// argv[0] is the applet name. Errors are usage errors (kInvalidArgument)
// whose message is the one line to print: unknown command or option, a
// missing value, an option that does not belong to the command.
absl::StatusOr<Invocation> ParseCommandLine(int argc, const char* const* argv);

// The handler of a command word, or nullptr.
using CommandFn = int (*)(const DeviceMapperOrError& dm,
                          const Options& options);
CommandFn FindCommand(absl::string_view name);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_CLI_H_
