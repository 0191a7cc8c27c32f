#include <stdio.h>

#include "tools/applet.h"

namespace dmkit {

int HoldersMain(int, char**) {
  fprintf(stderr, "holders: not implemented yet\n");
  return 1;
}

}  // namespace dmkit
