#include <stdio.h>

#include "tools/applet.h"

namespace dmkit {

int NsenterMain(int, char**) {
  fprintf(stderr, "nsenter: not implemented yet\n");
  return 1;
}

}  // namespace dmkit
