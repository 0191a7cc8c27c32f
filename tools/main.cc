// The dmkit multi-call binary: dispatches on the name it was run as
// (busybox style, through a link named after an applet) or on its first
// argument.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <string>
#include <string_view>

#include "tools/applet.h"

#ifndef DMKIT_VERSION
#define DMKIT_VERSION "0.0.0"
#endif

namespace dmkit {
namespace {

// Sorted by name so lookups can binary-search; checked at compile time.
constexpr Applet kApplets[] = {
    {"bench", BenchMain, "measure device-mapper operation latency"},
    {"dmsetup", DmsetupMain, "dmsetup-compatible device-mapper control"},
    {"docker", DockerMain, "inspect and recover Docker devicemapper devices"},
    {"holders", HoldersMain, "show and release what keeps a device busy"},
    {"nsenter", NsenterMain, "run a program in other namespaces"},
    {"thin", ThinMain,
     "read and check thin-pool metadata (thin_ls/dump/check)"},
};

constexpr bool AppletsSorted() {
  for (size_t i = 1; i < std::size(kApplets); ++i) {
    if (!(kApplets[i - 1].name < kApplets[i].name)) return false;
  }
  return true;
}
static_assert(AppletsSorted(), "kApplets must be sorted by name");

const Applet* FindApplet(std::string_view name) {
  const Applet* end = std::end(kApplets);
  const Applet* it = std::lower_bound(
      std::begin(kApplets), end, name,
      [](const Applet& a, std::string_view n) { return a.name < n; });
  return it != end && it->name == name ? it : nullptr;
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

void PrintUsage(FILE* out) {
  fprintf(out,
          "Usage: dmkit APPLET [ARGS...]\n"
          "   or: APPLET [ARGS...]   (through a link named after the applet)\n"
          "       dmkit --list | --help | --version | --install [-s] DIR\n"
          "\nApplets:\n");
  for (const Applet& a : kApplets) {
    fprintf(out, "  %-10s %.*s\n", std::string(a.name).c_str(),
            static_cast<int>(a.summary.size()), a.summary.data());
  }
}

// Makes DIR/<applet> for every applet: hard links by default, symbolic links
// with -s (as busybox --install does). Existing entries are left alone and
// reported, so an install never silently replaces another tool.
int Install(int argc, char** argv) {
  bool symbolic = false;
  const char* dir = nullptr;
  for (int i = 2; i < argc; ++i) {
    if (strcmp(argv[i], "-s") == 0) {
      symbolic = true;
    } else if (dir == nullptr) {
      dir = argv[i];
    } else {
      fprintf(stderr, "dmkit: --install: unexpected argument '%s'\n", argv[i]);
      return 1;
    }
  }
  if (dir == nullptr) {
    fprintf(stderr, "dmkit: --install needs a directory\n");
    return 1;
  }
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n < 0) {
    fprintf(stderr, "dmkit: --install: /proc/self/exe: %s\n", strerror(errno));
    return 1;
  }
  self[n] = '\0';
  int status = 0;
  for (const Applet& a : kApplets) {
    std::string path = std::string(dir) + "/" + std::string(a.name);
    int r = symbolic ? symlink(self, path.c_str()) : link(self, path.c_str());
    if (r != 0) {
      fprintf(stderr, "dmkit: --install: %s: %s\n", path.c_str(),
              strerror(errno));
      status = 1;
    }
  }
  return status;
}

int Main(int argc, char** argv) {
  std::string_view invoked = argc > 0 ? Basename(argv[0]) : "dmkit";
  if (const Applet* applet = FindApplet(invoked)) {
    return applet->main(argc, argv);
  }
  if (argc < 2) {
    PrintUsage(stderr);
    return 1;
  }
  std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    PrintUsage(stdout);
    return 0;
  }
  if (first == "--version") {
    printf("dmkit %s\n", DMKIT_VERSION);
    return 0;
  }
  if (first == "--list") {
    for (const Applet& a : kApplets) {
      printf("%.*s\n", static_cast<int>(a.name.size()), a.name.data());
    }
    return 0;
  }
  if (first == "--install") return Install(argc, argv);
  if (const Applet* applet = FindApplet(first)) {
    return applet->main(argc - 1, argv + 1);
  }
  fprintf(stderr, "dmkit: unknown applet '%s'; try 'dmkit --list'\n", argv[1]);
  return 1;
}

}  // namespace
}  // namespace dmkit

// The binary's terminate handler, in place of libstdc++'s default (what its
// --disable-libstdcxx-verbose configuration does). The default demangles the
// type of the exception that escaped, which links libstdc++'s demangler
// (about 40 KB) into a program that reports its errors as absl::Status and
// throws nothing of its own; here the uncaught exception still ends the
// process with SIGABRT, after one line naming what happened.
namespace __gnu_cxx {
void __verbose_terminate_handler() {
  static constexpr char kMessage[] = "dmkit: terminate called\n";
  if (write(STDERR_FILENO, kMessage, sizeof(kMessage) - 1) < 0) {
    // Nothing more to say: abort either way.
  }
  abort();
}
}  // namespace __gnu_cxx

int main(int argc, char** argv) { return dmkit::Main(argc, argv); }
