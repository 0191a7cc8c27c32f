// File: tools/dmsetup/commands.h
//
// The dmsetup commands that change devices (commands.cc), on dmioctl's
// operations.
#ifndef DMKIT_TOOLS_DMSETUP_COMMANDS_H_
#define DMKIT_TOOLS_DMSETUP_COMMANDS_H_

#include "dmioctl/operations.h"
#include "tools/dmsetup/options.h"
#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

bool CmdCreate(Session& s, const CmdArgs& a);
bool CmdLoad(Session& s, const CmdArgs& a);
bool CmdRemove(Session& s, const CmdArgs& a);
bool CmdRemoveAll(Session& s, const CmdArgs& a);
bool CmdSuspend(Session& s, const CmdArgs& a);
bool CmdResume(Session& s, const CmdArgs& a);
bool CmdClear(Session& s, const CmdArgs& a);
bool CmdWipeTable(Session& s, const CmdArgs& a);
bool CmdRename(Session& s, const CmdArgs& a);
bool CmdMessage(Session& s, const CmdArgs& a);
bool CmdSetGeometry(Session& s, const CmdArgs& a);
bool CmdWait(Session& s, const CmdArgs& a);
bool CmdMknodes(Session& s, const CmdArgs& a);
bool CmdMangle(Session& s, const CmdArgs& a);

// How dmsetup removes a device: --deferred, and --retry as libdm's
// DM_IOCTL_RETRIES and DM_RETRY_USLEEP_DELAY (25 attempts, 200 ms apart).
dmioctl::RemoveOptions RemoveOptionsFrom(const Options& o);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_COMMANDS_H_
