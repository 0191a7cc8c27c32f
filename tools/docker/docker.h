// File: tools/docker/docker.h
//
// `dmkit docker` with its device-mapper handed in: DockerMain() opens the
// real one, tests hand in a DeviceMapper on a fake or fault-injecting
// transport.
#ifndef DMKIT_TOOLS_DOCKER_DOCKER_H_
#define DMKIT_TOOLS_DOCKER_DOCKER_H_

#include "absl/functional/function_ref.h"
#include "tools/docker/commands.h"

namespace dmkit::docker {

// Run()
//
// The applet on `argv` (argv[0] is its name): usage, one command, its exit
// status. `dm` is device-mapper or why it could not be opened.
int Run(const DeviceMapperOrError& dm, int argc, char** argv);
// The same, opening device-mapper with `open_dm` only once the command
// line has been parsed and found good.
int Run(absl::FunctionRef<DeviceMapperOrError()> open_dm, int argc,
        char** argv);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_DOCKER_H_
