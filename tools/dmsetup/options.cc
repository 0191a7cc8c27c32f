#include "tools/dmsetup/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <iterator>

#include "absl/strings/str_cat.h"
#include "dmkit/status.h"

namespace dmkit::dmsetup {
namespace {

using Warnings = std::vector<std::string>;

absl::Status ParseCookie(const char* arg, Options& o, Warnings* warnings) {
  // A bad cookie is said, and parsing goes on.
  absl::StatusOr<uint32_t> cookie = CookieValue(arg);
  if (!cookie.ok()) warnings->emplace_back(cookie.status().message());
  o.udev_cookie = cookie.value_or(0);
  return absl::OkStatus();
}

absl::Status ParseMode(const char* arg, Options& o, Warnings*) {
  errno = 0;
  char* end = nullptr;
  o.mode = static_cast<int>(strtol(arg, &end, 8));
  if (errno || !end || *end || !o.mode) {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid argument for --mode: ", arg, ". ",
                     errno ? strerror(errno) : ""));
  }
  return absl::OkStatus();
}

absl::Status ParseMangling(const char* arg, Options& o, Warnings*) {
  if (!strcasecmp(arg, "none")) {
    o.manglename = Mangling::kNone;
  } else if (!strcasecmp(arg, "auto")) {
    o.manglename = Mangling::kAuto;
  } else if (!strcasecmp(arg, "hex")) {
    o.manglename = Mangling::kHex;
  } else {
    return absl::InvalidArgumentError("Unknown name mangling mode.");
  }
  return absl::OkStatus();
}

absl::Status ParseReadAhead(const char* arg, Options& o, Warnings*) {
  if (!strcasecmp(arg, "auto")) {
    o.readahead = kReadAheadAuto;
  } else if (!strcasecmp(arg, "none")) {
    o.readahead = kReadAheadNone;
  } else {
    const char* s = arg;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r')) ++s;
    if (*s == '+') o.readahead_minimum = true;
    int value = Atoi(arg);
    if (value < -1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Negative read ahead value (", value, ") is not understood."));
    }
    o.readahead = static_cast<uint32_t>(value);
  }
  return absl::OkStatus();
}

absl::Status ParseJobs(const char* arg, Options& o, Warnings*) {
  char* end = nullptr;
  errno = 0;
  long jobs = strtol(arg, &end, 10);
  if (errno || end == arg || *end || jobs < 1 || jobs > 1024) {
    return absl::InvalidArgumentError(
        "--jobs takes a number of devices to work on at once (1-1024).");
  }
  o.jobs = static_cast<int>(jobs);
  return absl::OkStatus();
}

absl::Status CheckCount(const char*, Options& o, Warnings*) {
  if (o.count < 0) {
    return absl::InvalidArgumentError("Count must be zero or greater.");
  }
  return absl::OkStatus();
}

absl::Status CheckInterval(const char*, Options& o, Warnings*) {
  if (o.interval <= 0) {
    return absl::InvalidArgumentError("Interval must be a positive integer.");
  }
  return absl::OkStatus();
}

// One switch of dmsetup's _process_switches and what it sets. One with
// nothing to set is accepted and ignored (statistics and other options
// dmkit has no use for, as dmsetup accepts them for commands that do not
// use them).
using Parser = absl::Status (*)(const char* arg, Options& o,
                                Warnings* warnings);
struct Switch {
  const char* name;
  char short_names[3] = "";
  bool has_arg = false;
  bool counted = false;  // ++value, else value = atoi(arg)
  int Options::*value = nullptr;
  bool Options::*given = nullptr;        // given = true
  std::string Options::*text = nullptr;  // text = the argument
  Parser parse = nullptr;  // last, and may refuse the command line
};

constexpr bool kArg = true;

constexpr Switch Short(Switch s, const char* short_names) {
  for (int i = 0; i < 2 && short_names[i] != '\0'; ++i) {
    s.short_names[i] = short_names[i];
  }
  return s;
}
// A switch counted each time it is given.
constexpr Switch Flag(const char* name, int Options::*count,
                      const char* short_names = "", bool has_arg = false) {
  return Short(
      {.name = name, .has_arg = has_arg, .counted = true, .value = count},
      short_names);
}
constexpr Switch Text(const char* name, bool Options::*given,
                      std::string Options::*text,
                      const char* short_names = "") {
  return Short({.name = name, .has_arg = true, .given = given, .text = text},
               short_names);
}
constexpr Switch Number(const char* name, bool Options::*given,
                        int Options::*number, Parser check,
                        const char* short_names = "") {
  return Short({.name = name,
                .has_arg = true,
                .value = number,
                .given = given,
                .parse = check},
               short_names);
}
constexpr Switch Parsed(const char* name, bool Options::*given, Parser parse,
                        const char* short_names = "") {
  return Short({.name = name, .has_arg = true, .given = given, .parse = parse},
               short_names);
}
constexpr Switch Ignored(const char* name, bool has_arg = false) {
  return {.name = name, .has_arg = has_arg};
}

// In the order of dmsetup.c's getopt table (getopt's ambiguity messages
// list candidates in table order). "verbose" takes an argument there, and
// so it does here.
constexpr Switch kSwitches[] = {
    Flag("readonly", &Options::readonly, "r"),
    Ignored("alias", kArg),
    Ignored("alldevices"),
    Ignored("allprograms"),
    Ignored("allregions"),
    Ignored("area"),
    Ignored("areas", kArg),
    Ignored("areasize", kArg),
    Ignored("bounds", kArg),
    Flag("checks", &Options::checks),
    Ignored("clear"),
    Flag("columns", &Options::columns, "cC"),
    Flag("concise", &Options::concise),
    Number("count", &Options::count_set, &Options::count, CheckCount),
    Flag("deferred", &Options::deferred),
    Text("select", &Options::select_set, &Options::select, "S"),
    Text("exec", &Options::exec_set, &Options::exec),
    Ignored("filemap"),
    Ignored("follow", kArg),
    Flag("force", &Options::force, "f"),
    Ignored("foreground"),
    Number("gid", &Options::gid_set, &Options::gid, nullptr, "G"),
    Ignored("group"),
    Ignored("groupid", kArg),
    Flag("help", &Options::help, "h"),
    Ignored("histogram"),
    Flag("inactive", &Options::inactive),
    Number("interval", &Options::interval_set, &Options::interval,
           CheckInterval),
    Ignored("length", kArg),
    Parsed("manglename", &Options::manglename_set, ParseMangling),
    Number("major", &Options::major_set, &Options::major, nullptr, "j"),
    Number("minor", &Options::minor_set, &Options::minor, nullptr, "m"),
    Parsed("mode", &Options::mode_set, ParseMode, "M"),
    Flag("nameprefixes", &Options::nameprefixes),
    Ignored("nogroup"),
    Flag("noflush", &Options::noflush),
    Flag("noheadings", &Options::noheadings),
    Flag("nolockfs", &Options::nolockfs),
    Flag("noopencount", &Options::noopencount),
    Flag("nosuffix", &Options::nosuffix),
    Flag("notable", &Options::notable, "n"),
    Ignored("notimesuffix"),
    Parsed("udevcookie", &Options::udevcookie_set, ParseCookie),
    Ignored("nomonitor"),
    Flag("noudevrules", &Options::noudevrules),
    Flag("noudevsync", &Options::noudevsync),
    Text("options", &Options::options_set, &Options::options, "o"),
    Ignored("precise"),
    Ignored("programid", kArg),
    Ignored("raw"),
    Parsed("readahead", &Options::readahead_set, ParseReadAhead),
    Ignored("region"),
    Ignored("regions", kArg),
    Ignored("regionid", kArg),
    Ignored("relative"),
    Flag("retry", &Options::retry),
    Flag("rows", &Options::rows),
    Ignored("segments"),
    Text("separator", &Options::separator_set, &Options::separator),
    Flag("setuuid", &Options::setuuid),
    Flag("showkeys", &Options::showkeys),
    Text("sort", &Options::sort_set, &Options::sort, "O"),
    Ignored("start", kArg),
    Text("table", &Options::table_set, &Options::table),
    Text("target", &Options::target_set, &Options::target),
    Flag("tree", &Options::tree),
    Number("uid", &Options::uid_set, &Options::uid, nullptr, "U"),
    {.name = "units",
     .has_arg = true,
     .counted = true,
     .value = &Options::units_set,
     .text = &Options::units},
    Text("uuid", &Options::uuid_set, &Options::uuid, "u"),
    Flag("unbuffered", &Options::unbuffered),
    Flag("unquoted", &Options::unquoted),
    Ignored("userdata", kArg),
    Flag("verbose", &Options::verbose, "v", kArg),
    Flag("verifyudev", &Options::verifyudev),
    Flag("version", &Options::version),
    Flag("yes", &Options::yes, "y"),
    Flag("addnodeonresume", &Options::addnodeonresume),
    Flag("addnodeoncreate", &Options::addnodeoncreate),
    Flag("json", &Options::json),
    Parsed("jobs", nullptr, ParseJobs),
};

constexpr int kLongBase = 1000;

// getopt_long's table, from kSwitches.
const struct option* LongOptions() {
  static const std::vector<struct option> options = [] {
    std::vector<struct option> v;
    for (size_t i = 0; i < std::size(kSwitches); ++i) {
      v.push_back({kSwitches[i].name, kSwitches[i].has_arg, nullptr,
                   kLongBase + static_cast<int>(i)});
    }
    v.push_back({nullptr, 0, nullptr, 0});
    return v;
  }();
  return options.data();
}

// The switch getopt_long returned `c` for.
const Switch* FindSwitch(int c) {
  if (c >= kLongBase) return &kSwitches[c - kLongBase];
  for (const Switch& s : kSwitches) {
    if (strchr(s.short_names, c) != nullptr) return &s;
  }
  return nullptr;
}

absl::Status Apply(const Switch& s, const char* arg, Options& o,
                   Warnings* warnings) {
  if (s.value) o.*s.value = s.counted ? o.*s.value + 1 : Atoi(arg);
  if (s.given) o.*s.given = true;
  if (s.text) o.*s.text = arg;
  return s.parse ? s.parse(arg, o, warnings) : absl::OkStatus();
}

// dmsetup's checks of the whole command line.
absl::Status CheckCombinations(const Options& o) {
  if (o.major_set != o.minor_set) {
    return absl::InvalidArgumentError(
        "Please specify both major number and minor number.");
  }
  if (o.table_set && o.notable) {
    return absl::InvalidArgumentError(
        "--table and --notable are incompatible.");
  }
  if (o.addnodeonresume && o.addnodeoncreate) {
    return absl::InvalidArgumentError(
        "--addnodeonresume and --addnodeoncreate are incompatible.");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint32_t> CookieValue(const char* text) {
  errno = 0;
  char* end = nullptr;
  unsigned long value = strtoul(text, &end, 0);
  if (errno || value == 0 || *end || value > UINT32_MAX) {
    return absl::InvalidArgumentError("Incorrect cookie value.");
  }
  return static_cast<uint32_t>(value);
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv,
                                     std::vector<std::string>* warnings,
                                     bool quiet) {
  Options o;
  // glibc: optind = 0 re-initialises getopt completely.
  optind = 0;
  opterr = quiet ? 0 : 1;
  int c;
  while ((c = getopt_long(argc, argv, "cCfG:hj:m:M:no:O:rS:u:U:vy",
                          LongOptions(), nullptr)) != -1) {
    const Switch* s = FindSwitch(c);
    if (s == nullptr) {  // '?' or ':'
      return absl::InvalidArgumentError(
          quiet ? "Unrecognised option or missing argument." : "");
    }
    DMKIT_RETURN_IF_ERROR(Apply(*s, optarg, o, warnings));
  }
  DMKIT_RETURN_IF_ERROR(CheckCombinations(o));
  if (optind < argc) {
    o.command_given = true;
    o.command = argv[optind];
    for (int i = optind + 1; i < argc; ++i) o.args.emplace_back(argv[i]);
  }
  return o;
}

}  // namespace dmkit::dmsetup
