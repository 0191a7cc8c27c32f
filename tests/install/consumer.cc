// Uses the installed headers and library: parses a table and prints it
// back, which needs no kernel.
#include <stdio.h>

#include "dmioctl/table.h"
#include "dmioctl/targets.h"

int main() {
  auto table = dmioctl::ParseTable("0 20971520 thin 253:3 34709\n");
  if (!table.ok()) return 1;
  auto thin = dmioctl::targets::ParseThinParams(table->targets[0].params);
  if (!thin.ok()) return 1;
  printf("%s", dmioctl::FormatTable(*table).c_str());
  printf("thin id %u on pool %s\n", thin->thin_id, thin->pool.c_str());
  return 0;
}
