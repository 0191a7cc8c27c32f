// File: tools/applet.h
//
// The applets of the dmkit multi-call binary. Each applet is a folder,
// tools/<applet>/, built as one static library that defines one entry point
// with main()'s shape; tools/main.cc lists them. A new applet is a new folder,
// one declaration here and one line in main.cc's table.
// Applets return their exit status instead of calling exit(), so destructors
// run (RAII rollback of devices, nodes and mounts) and tests and `bench` can
// call them in-process.
#ifndef DMKIT_TOOLS_APPLET_H_
#define DMKIT_TOOLS_APPLET_H_

#include <string_view>

namespace dmkit {

using AppletMain = int (*)(int argc, char** argv);

struct Applet {
  std::string_view name;
  AppletMain main;
  std::string_view summary;
};

int BenchMain(int argc, char** argv);
int DmsetupMain(int argc, char** argv);
int DockerMain(int argc, char** argv);
int HoldersMain(int argc, char** argv);
int NsenterMain(int argc, char** argv);
int ThinMain(int argc, char** argv);

}  // namespace dmkit

#endif  // DMKIT_TOOLS_APPLET_H_
