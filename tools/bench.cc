#include <stdio.h>

#include "tools/applet.h"

namespace dmkit {

int BenchMain(int, char**) {
  fprintf(stderr, "bench: not implemented yet\n");
  return 1;
}

}  // namespace dmkit
