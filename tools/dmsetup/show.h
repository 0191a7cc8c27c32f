// File: tools/dmsetup/show.h
//
// The dmsetup commands that read (show.cc).
#ifndef DMKIT_TOOLS_DMSETUP_SHOW_H_
#define DMKIT_TOOLS_DMSETUP_SHOW_H_

#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

bool CmdLs(Session& s, const CmdArgs& a);
bool CmdInfo(Session& s, const CmdArgs& a);
bool CmdDeps(Session& s, const CmdArgs& a);
bool CmdStatus(Session& s, const CmdArgs& a);  // status, table, ls --target
bool CmdTargets(Session& s, const CmdArgs& a);
bool CmdTargetVersion(Session& s, const CmdArgs& a);
bool CmdVersion(Session& s, const CmdArgs& a);
bool CmdSplitname(Session& s, const CmdArgs& a);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_SHOW_H_
