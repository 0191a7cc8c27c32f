#include <stdio.h>

#include "tools/applet.h"

namespace dmkit {

int DmsetupMain(int, char**) {
  fprintf(stderr, "dmsetup: not implemented yet\n");
  return 1;
}

}  // namespace dmkit
