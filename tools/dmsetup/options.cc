#include "tools/dmsetup/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "absl/strings/str_cat.h"

namespace dmkit::dmsetup {
namespace {

// dmsetup's switch indices, for the long options that have no short form.
enum LongOption {
  kReadOnly = 1000,
  kAlias,
  kAllDevices,
  kAllPrograms,
  kAllRegions,
  kArea,
  kAreas,
  kAreaSize,
  kBounds,
  kChecks,
  kClear,
  kColumns,
  kConcise,
  kCount,
  kDeferred,
  kSelect,
  kExec,
  kFilemap,
  kFollow,
  kForce,
  kForeground,
  kGid,
  kGroup,
  kGroupId,
  kHelp,
  kHistogram,
  kInactive,
  kInterval,
  kLength,
  kManglename,
  kMajor,
  kMinor,
  kMode,
  kNameprefixes,
  kNogroup,
  kNoflush,
  kNoheadings,
  kNolockfs,
  kNoopencount,
  kNosuffix,
  kNotable,
  kNotimesuffix,
  kUdevcookie,
  kNomonitor,
  kNoudevrules,
  kNoudevsync,
  kOptions,
  kPrecise,
  kProgramId,
  kRaw,
  kReadahead,
  kRegion,
  kRegions,
  kRegionId,
  kRelative,
  kRetry,
  kRows,
  kSegments,
  kSeparator,
  kSetuuid,
  kShowkeys,
  kSort,
  kStart,
  kTable,
  kTarget,
  kTree,
  kUid,
  kUnits,
  kUuid,
  kUnbuffered,
  kUnquoted,
  kUserData,
  kVerbose,
  kVerifyudev,
  kVersion,
  kYes,
  kAddNodeOnResume,
  kAddNodeOnCreate,
  kJson,
  kJobs,
};

// The table of dmsetup.c _process_switches, in its order (getopt's
// ambiguity messages list candidates in table order). "verbose" takes an
// argument there, and so it does here.
const struct option kLongOptions[] = {
    {"readonly", 0, nullptr, kReadOnly},
    {"alias", 1, nullptr, kAlias},
    {"alldevices", 0, nullptr, kAllDevices},
    {"allprograms", 0, nullptr, kAllPrograms},
    {"allregions", 0, nullptr, kAllRegions},
    {"area", 0, nullptr, kArea},
    {"areas", 1, nullptr, kAreas},
    {"areasize", 1, nullptr, kAreaSize},
    {"bounds", 1, nullptr, kBounds},
    {"checks", 0, nullptr, kChecks},
    {"clear", 0, nullptr, kClear},
    {"columns", 0, nullptr, kColumns},
    {"concise", 0, nullptr, kConcise},
    {"count", 1, nullptr, kCount},
    {"deferred", 0, nullptr, kDeferred},
    {"select", 1, nullptr, kSelect},
    {"exec", 1, nullptr, kExec},
    {"filemap", 0, nullptr, kFilemap},
    {"follow", 1, nullptr, kFollow},
    {"force", 0, nullptr, kForce},
    {"foreground", 0, nullptr, kForeground},
    {"gid", 1, nullptr, kGid},
    {"group", 0, nullptr, kGroup},
    {"groupid", 1, nullptr, kGroupId},
    {"help", 0, nullptr, kHelp},
    {"histogram", 0, nullptr, kHistogram},
    {"inactive", 0, nullptr, kInactive},
    {"interval", 1, nullptr, kInterval},
    {"length", 1, nullptr, kLength},
    {"manglename", 1, nullptr, kManglename},
    {"major", 1, nullptr, kMajor},
    {"minor", 1, nullptr, kMinor},
    {"mode", 1, nullptr, kMode},
    {"nameprefixes", 0, nullptr, kNameprefixes},
    {"nogroup", 0, nullptr, kNogroup},
    {"noflush", 0, nullptr, kNoflush},
    {"noheadings", 0, nullptr, kNoheadings},
    {"nolockfs", 0, nullptr, kNolockfs},
    {"noopencount", 0, nullptr, kNoopencount},
    {"nosuffix", 0, nullptr, kNosuffix},
    {"notable", 0, nullptr, kNotable},
    {"notimesuffix", 0, nullptr, kNotimesuffix},
    {"udevcookie", 1, nullptr, kUdevcookie},
    {"nomonitor", 0, nullptr, kNomonitor},
    {"noudevrules", 0, nullptr, kNoudevrules},
    {"noudevsync", 0, nullptr, kNoudevsync},
    {"options", 1, nullptr, kOptions},
    {"precise", 0, nullptr, kPrecise},
    {"programid", 1, nullptr, kProgramId},
    {"raw", 0, nullptr, kRaw},
    {"readahead", 1, nullptr, kReadahead},
    {"region", 0, nullptr, kRegion},
    {"regions", 1, nullptr, kRegions},
    {"regionid", 1, nullptr, kRegionId},
    {"relative", 0, nullptr, kRelative},
    {"retry", 0, nullptr, kRetry},
    {"rows", 0, nullptr, kRows},
    {"segments", 0, nullptr, kSegments},
    {"separator", 1, nullptr, kSeparator},
    {"setuuid", 0, nullptr, kSetuuid},
    {"showkeys", 0, nullptr, kShowkeys},
    {"sort", 1, nullptr, kSort},
    {"start", 1, nullptr, kStart},
    {"table", 1, nullptr, kTable},
    {"target", 1, nullptr, kTarget},
    {"tree", 0, nullptr, kTree},
    {"uid", 1, nullptr, kUid},
    {"units", 1, nullptr, kUnits},
    {"uuid", 1, nullptr, kUuid},
    {"unbuffered", 0, nullptr, kUnbuffered},
    {"unquoted", 0, nullptr, kUnquoted},
    {"userdata", 1, nullptr, kUserData},
    {"verbose", 1, nullptr, kVerbose},
    {"verifyudev", 0, nullptr, kVerifyudev},
    {"version", 0, nullptr, kVersion},
    {"yes", 0, nullptr, kYes},
    {"addnodeonresume", 0, nullptr, kAddNodeOnResume},
    {"addnodeoncreate", 0, nullptr, kAddNodeOnCreate},
    {"json", 0, nullptr, kJson},
    {"jobs", 1, nullptr, kJobs},
    {nullptr, 0, nullptr, 0},
};

// dmsetup _get_cookie_value(): strtoul base 0, non-zero, fits 32 bits.
bool CookieValue(const char* text, uint32_t* cookie) {
  errno = 0;
  char* end = nullptr;
  unsigned long value = strtoul(text, &end, 0);
  if (errno || value == 0 || *end || value > UINT32_MAX) return false;
  *cookie = static_cast<uint32_t>(value);
  return true;
}

}  // namespace

bool ParseOptions(int argc, char** argv, Options* o,
                  std::vector<std::string>* errors, bool quiet) {
  *o = Options();
  // glibc: optind = 0 re-initialises getopt completely.
  optind = 0;
  opterr = quiet ? 0 : 1;
  int c;
  while ((c = getopt_long(argc, argv, "cCfG:hj:m:M:no:O:rS:u:U:vy",
                          kLongOptions, nullptr)) != -1) {
    switch (c) {
      case ':':
      case '?':
        if (quiet) {
          errors->push_back("Unrecognised option or missing argument.");
        }
        return false;
      case 'h':
      case kHelp:
        ++o->help;
        break;
      case kConcise:
        ++o->concise;
        break;
      case 'c':
      case 'C':
      case kColumns:
        ++o->columns;
        break;
      case 'f':
      case kForce:
        ++o->force;
        break;
      case 'r':
      case kReadOnly:
        ++o->readonly;
        break;
      case 'j':
      case kMajor:
        o->major_set = true;
        o->major = Atoi(optarg);
        break;
      case 'm':
      case kMinor:
        o->minor_set = true;
        o->minor = Atoi(optarg);
        break;
      case kNosuffix:
        ++o->nosuffix;
        break;
      case 'n':
      case kNotable:
        ++o->notable;
        break;
      case 'o':
      case kOptions:
        o->options_set = true;
        o->options = optarg;
        break;
      case kSeparator:
        o->separator_set = true;
        o->separator = optarg;
        break;
      case kUnits:
        ++o->units_set;
        o->units = optarg;
        break;
      case 'O':
      case kSort:
        o->sort_set = true;
        o->sort = optarg;
        break;
      case 'S':
      case kSelect:
        o->select_set = true;
        o->select = optarg;
        break;
      case 'v':
      case kVerbose:
        ++o->verbose;
        break;
      case 'u':
      case kUuid:
        o->uuid_set = true;
        o->uuid = optarg;
        break;
      case 'y':
      case kYes:
        ++o->yes;
        break;
      case kAddNodeOnResume:
        ++o->addnodeonresume;
        break;
      case kAddNodeOnCreate:
        ++o->addnodeoncreate;
        break;
      case kChecks:
        ++o->checks;
        break;
      case kCount:
        o->count_set = true;
        o->count = Atoi(optarg);
        if (o->count < 0) {
          errors->push_back("Count must be zero or greater.");
          return false;
        }
        break;
      case kUdevcookie:
        o->udevcookie_set = true;
        if (!CookieValue(optarg, &o->udev_cookie)) {
          errors->push_back("Incorrect cookie value.");
          o->udev_cookie = 0;
        }
        break;
      case kNoudevrules:
        ++o->noudevrules;
        break;
      case kNoudevsync:
        ++o->noudevsync;
        break;
      case kVerifyudev:
        ++o->verifyudev;
        break;
      case 'G':
      case kGid:
        o->gid_set = true;
        o->gid = Atoi(optarg);
        break;
      case 'U':
      case kUid:
        o->uid_set = true;
        o->uid = Atoi(optarg);
        break;
      case 'M':
      case kMode: {
        o->mode_set = true;
        errno = 0;
        char* end = nullptr;
        o->mode = static_cast<int>(strtol(optarg, &end, 8));
        if (errno || !end || *end || !o->mode) {
          errors->push_back(
              absl::StrCat("Invalid argument for --mode: ", optarg, ". ",
                           errno ? strerror(errno) : ""));
          return false;
        }
        break;
      }
      case kDeferred:
        ++o->deferred;
        break;
      case kExec:
        o->exec_set = true;
        o->exec = optarg;
        break;
      case kTarget:
        o->target_set = true;
        o->target = optarg;
        break;
      case kInactive:
        ++o->inactive;
        break;
      case kInterval:
        o->interval_set = true;
        o->interval = Atoi(optarg);
        if (o->interval <= 0) {
          errors->push_back("Interval must be a positive integer.");
          return false;
        }
        break;
      case kManglename:
        o->manglename_set = true;
        if (!strcasecmp(optarg, "none")) {
          o->manglename = Mangling::kNone;
        } else if (!strcasecmp(optarg, "auto")) {
          o->manglename = Mangling::kAuto;
        } else if (!strcasecmp(optarg, "hex")) {
          o->manglename = Mangling::kHex;
        } else {
          errors->push_back("Unknown name mangling mode.");
          return false;
        }
        break;
      case kNameprefixes:
        ++o->nameprefixes;
        break;
      case kNoflush:
        ++o->noflush;
        break;
      case kNoheadings:
        ++o->noheadings;
        break;
      case kNolockfs:
        ++o->nolockfs;
        break;
      case kNoopencount:
        ++o->noopencount;
        break;
      case kReadahead: {
        o->readahead_set = true;
        if (!strcasecmp(optarg, "auto")) {
          o->readahead = kReadAheadAuto;
        } else if (!strcasecmp(optarg, "none")) {
          o->readahead = kReadAheadNone;
        } else {
          const char* s = optarg;
          while (*s == ' ' || (*s >= '\t' && *s <= '\r')) ++s;
          if (*s == '+') o->readahead_minimum = true;
          int value = Atoi(optarg);
          if (value < -1) {
            errors->push_back(absl::StrCat("Negative read ahead value (", value,
                                           ") is not understood."));
            return false;
          }
          o->readahead = static_cast<uint32_t>(value);
        }
        break;
      }
      case kRetry:
        ++o->retry;
        break;
      case kRows:
        ++o->rows;
        break;
      case kSetuuid:
        ++o->setuuid;
        break;
      case kShowkeys:
        ++o->showkeys;
        break;
      case kTable:
        o->table_set = true;
        o->table = optarg;
        break;
      case kTree:
        ++o->tree;
        break;
      case kUnquoted:
        ++o->unquoted;
        break;
      case kUnbuffered:
        ++o->unbuffered;
        break;
      case kVersion:
        ++o->version;
        break;
      case kJson:
        ++o->json;
        break;
      case kJobs: {
        char* end = nullptr;
        errno = 0;
        long jobs = strtol(optarg, &end, 10);
        if (errno || end == optarg || *end || jobs < 1 || jobs > 1024) {
          errors->push_back(
              "--jobs takes a number of devices to work on at "
              "once (1-1024).");
          return false;
        }
        o->jobs = static_cast<int>(jobs);
        break;
      }
      default:
        // Statistics and other options dmkit accepts and ignores, as dmsetup
        // accepts them for commands that do not use them.
        break;
    }
  }
  if (o->major_set != o->minor_set) {
    errors->push_back("Please specify both major number and minor number.");
    return false;
  }
  if (o->table_set && o->notable) {
    errors->push_back("--table and --notable are incompatible.");
    return false;
  }
  if (o->addnodeonresume && o->addnodeoncreate) {
    errors->push_back(
        "--addnodeonresume and --addnodeoncreate are incompatible.");
    return false;
  }
  if (optind < argc) {
    o->command_given = true;
    o->command = argv[optind];
    for (int i = optind + 1; i < argc; ++i) o->args.emplace_back(argv[i]);
  }
  return true;
}

}  // namespace dmkit::dmsetup
