#include <stdio.h>

#include "tools/applet.h"

namespace dmkit {

int DockerMain(int, char**) {
  fprintf(stderr, "docker: not implemented yet\n");
  return 1;
}

}  // namespace dmkit
