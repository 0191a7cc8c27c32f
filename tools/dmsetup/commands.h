// File: tools/dmsetup/commands.h
//
// The dmsetup commands that change devices (commands.cc), on dmioctl's
// operations. Each returns its failure for Session::PrintError().
#ifndef DMKIT_TOOLS_DMSETUP_COMMANDS_H_
#define DMKIT_TOOLS_DMSETUP_COMMANDS_H_

#include "dmioctl/operations.h"
#include "tools/dmsetup/options.h"
#include "tools/dmsetup/session.h"

namespace dmkit::dmsetup {

absl::Status CmdCreate(Session& s, const CmdArgs& a);
absl::Status CmdLoad(Session& s, const CmdArgs& a);
absl::Status CmdRemove(Session& s, const CmdArgs& a);
absl::Status CmdRemoveAll(Session& s, const CmdArgs& a);
absl::Status CmdSuspend(Session& s, const CmdArgs& a);
absl::Status CmdResume(Session& s, const CmdArgs& a);
absl::Status CmdClear(Session& s, const CmdArgs& a);
absl::Status CmdWipeTable(Session& s, const CmdArgs& a);
absl::Status CmdRename(Session& s, const CmdArgs& a);
absl::Status CmdMessage(Session& s, const CmdArgs& a);
absl::Status CmdSetGeometry(Session& s, const CmdArgs& a);
absl::Status CmdWait(Session& s, const CmdArgs& a);
absl::Status CmdMknodes(Session& s, const CmdArgs& a);
absl::Status CmdMangle(Session& s, const CmdArgs& a);

// create --concise's text: its argument, or stdin.
absl::StatusOr<std::string> ConciseText(const std::vector<std::string>& args);

// How dmsetup removes a device: --deferred, and --retry as libdm's
// DM_IOCTL_RETRIES and DM_RETRY_USLEEP_DELAY (25 attempts, 200 ms apart).
dmioctl::RemoveOptions RemoveOptionsFrom(const Options& o);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_COMMANDS_H_
