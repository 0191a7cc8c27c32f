// File: tools/dmsetup/batch.h
//
// dmkit's --jobs N (batch.cc).
#ifndef DMKIT_TOOLS_DMSETUP_BATCH_H_
#define DMKIT_TOOLS_DMSETUP_BATCH_H_

#include <string>
#include <vector>

#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

// BatchHandles()
//
// Whether --jobs applies to `cmd`: `create --concise`, `remove` and
// `remove_all`.
bool BatchHandles(const Command* cmd, const Options& o);

// RunBatch()
//
// One of those commands with N devices at a time (tools/dmsetup/batch.cc);
// its failure for Session::PrintError().
absl::Status RunBatch(Session& s, const Command* cmd,
                      const std::vector<std::string>& args);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_BATCH_H_
