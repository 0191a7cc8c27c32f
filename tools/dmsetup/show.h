// File: tools/dmsetup/show.h
//
// The dmsetup commands that read (show.cc).
#ifndef DMKIT_TOOLS_DMSETUP_SHOW_H_
#define DMKIT_TOOLS_DMSETUP_SHOW_H_

#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

absl::Status CmdLs(Session& s, const CmdArgs& a);
absl::Status CmdInfo(Session& s, const CmdArgs& a);
absl::Status CmdDeps(Session& s, const CmdArgs& a);
absl::Status CmdStatus(Session& s,
                       const CmdArgs& a);  // status, table, ls --target
absl::Status CmdTargets(Session& s, const CmdArgs& a);
absl::Status CmdTargetVersion(Session& s, const CmdArgs& a);
absl::Status CmdVersion(Session& s, const CmdArgs& a);
absl::Status CmdSplitname(Session& s, const CmdArgs& a);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_SHOW_H_
