// File: tools/dmsetup/batch.h
//
// dmkit's --jobs N (batch.cc).
#ifndef DMKIT_TOOLS_DMSETUP_BATCH_H_
#define DMKIT_TOOLS_DMSETUP_BATCH_H_

#include <string>
#include <vector>

#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

// RunBatch()
//
// dmkit's --jobs N (tools/dmsetup/batch.cc): `create --concise`, `remove`
// and `remove_all` with N devices at a time. Sets `*handled` to false (and
// fails) for any other command.
bool RunBatch(Session& s, const Command* cmd,
              const std::vector<std::string>& args, bool* handled);
}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_BATCH_H_
