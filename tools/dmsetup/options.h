// File: tools/dmsetup/options.h
//
// dmsetup's command line: the same getopt_long table as dmsetup 1.02.185
// (so abbreviations, permutation and getopt's own messages match), the same
// argument conversions (atoi, octal modes, read-ahead, cookies) and the same
// consistency checks. dmkit adds --json, and --jobs N for create --concise,
// remove and remove_all (N devices at a time).
#ifndef DMKIT_TOOLS_DMSETUP_OPTIONS_H_
#define DMKIT_TOOLS_DMSETUP_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/dmsetup/text.h"

namespace dmkit::dmsetup {

// Read-ahead values as libdevmapper encodes them.
inline constexpr uint32_t kReadAheadAuto = UINT32_MAX;
inline constexpr uint32_t kReadAheadNone = 0;

// How `ls --tree` draws (dmsetup's pstree-style options).
struct TreeStyle {
  bool device = true, blkdevname = false, active = false, rw = false,
       open = false, uuid = false, compact = false, truncate = true,
       bottom_up = false;
  int symbols = 0;  // 0 ascii, 1 utf, 2 vt100
  int width = 80;
};

struct Options {
  // Switch counts (dmsetup's _switches[]).
  int readonly = 0, columns = 0, concise = 0, deferred = 0, force = 0, help = 0,
      inactive = 0, nameprefixes = 0, noflush = 0, noheadings = 0, nolockfs = 0,
      noopencount = 0, notable = 0, noudevrules = 0, noudevsync = 0, retry = 0,
      rows = 0, setuuid = 0, showkeys = 0, tree = 0, unbuffered = 0,
      unquoted = 0, verbose = 0, verifyudev = 0, version = 0, yes = 0,
      addnodeoncreate = 0, addnodeonresume = 0, checks = 0, json = 0,
      nosuffix = 0, units_set = 0;
  bool major_set = false, minor_set = false, uuid_set = false,
       table_set = false, target_set = false, options_set = false,
       separator_set = false, sort_set = false, select_set = false,
       exec_set = false, uid_set = false, gid_set = false, mode_set = false,
       readahead_set = false, udevcookie_set = false, manglename_set = false,
       count_set = false, interval_set = false;
  int major = 0, minor = 0, uid = 0, gid = 0, mode = 0;
  int count = 0, interval = 0;
  int jobs = 0;  // --jobs N (dmkit): 0 when not given
  std::string uuid, table, target, options, separator, sort, select, exec,
      units;
  uint32_t readahead = kReadAheadAuto;
  bool readahead_minimum = false;  // "+N": only raise the read-ahead
  uint32_t udev_cookie = 0;
  Mangling manglename = Mangling::kAuto;
  // -o with --tree, read before the command runs.
  TreeStyle tree_style;

  // The command word and its arguments (after option permutation).
  // `command_given`: there was a word, even an empty one (dmsetup calls ''
  // an unknown command, not a missing one).
  bool command_given = false;
  std::string command;
  std::vector<std::string> args;
};

// CookieValue()
//
// dmsetup _get_cookie_value(): strtoul base 0, non-zero, fits 32 bits; else
// "Incorrect cookie value.".
absl::StatusOr<uint32_t> CookieValue(const char* text);

// ParseOptions()
//
// Parses argv[1..] with getopt_long (which prints its own complaints to
// stderr, prefixed with argv[0], unless `quiet`). Returns the options, or
// dmsetup's message for a bad command line (the caller then prints
// "Couldn't process command line."): empty when getopt printed its own
// complaint, "Unrecognised option or missing argument." for it when quiet.
// `warnings` gets what dmsetup says and goes on from (a bad --udevcookie).
// May permute argv, as getopt does.
absl::StatusOr<Options> ParseOptions(int argc, char** argv,
                                     std::vector<std::string>* warnings,
                                     bool quiet = false);

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_OPTIONS_H_
