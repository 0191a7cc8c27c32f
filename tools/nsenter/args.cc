#include "tools/nsenter/args.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dmkit::nsenter {
namespace {

using mountns::NamespaceType;

enum : int { kOptPreserveCredentials = CHAR_MAX + 1 };

// "+" stops at the first non-option, which starts the program's argv.
constexpr char kShortOptions[] = "+ahVt:m::u::i::n::p::C::U::T::S:G:r::w::W:FZ";

constexpr struct option kLongOptions[] = {
    {"all", no_argument, nullptr, 'a'},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, 'V'},
    {"target", required_argument, nullptr, 't'},
    {"mount", optional_argument, nullptr, 'm'},
    {"uts", optional_argument, nullptr, 'u'},
    {"ipc", optional_argument, nullptr, 'i'},
    {"net", optional_argument, nullptr, 'n'},
    {"pid", optional_argument, nullptr, 'p'},
    {"user", optional_argument, nullptr, 'U'},
    {"cgroup", optional_argument, nullptr, 'C'},
    {"time", optional_argument, nullptr, 'T'},
    {"setuid", required_argument, nullptr, 'S'},
    {"setgid", required_argument, nullptr, 'G'},
    {"root", optional_argument, nullptr, 'r'},
    {"wd", optional_argument, nullptr, 'w'},
    {"wdns", required_argument, nullptr, 'W'},
    {"no-fork", no_argument, nullptr, 'F'},
    {"preserve-credentials", no_argument, nullptr, kOptPreserveCredentials},
    {"follow-context", no_argument, nullptr, 'Z'},
    {nullptr, 0, nullptr, 0},
};

// The namespace options, by letter.
struct NamespaceOption {
  char letter;
  NamespaceType type;
};
constexpr NamespaceOption kNamespaceOptions[] = {
    {'m', NamespaceType::kMount}, {'u', NamespaceType::kUts},
    {'i', NamespaceType::kIpc},   {'n', NamespaceType::kNet},
    {'p', NamespaceType::kPid},   {'C', NamespaceType::kCgroup},
    {'U', NamespaceType::kUser},  {'T', NamespaceType::kTime},
};

// strtoul_or_err(): strtoul(3)'s syntax (so "-1" wraps, as in util-linux),
// the whole string must be used. The error, if any, is util-linux's line.
bool ParseUnsigned(absl::string_view what, const char* text,
                   unsigned long* value, Args* args) {
  int error_number = 0;
  if (text != nullptr && *text != '\0') {
    char* end = nullptr;
    errno = 0;
    *value = strtoul(text, &end, 10);
    error_number = errno;
    if (error_number == 0 && end != text && *end == '\0') return true;
  }
  std::string message =
      absl::StrCat("failed to parse ", what, ": '", text ? text : "", "'");
  if (error_number == ERANGE) {
    absl::StrAppend(&message, ": ", strerror(ERANGE));
  }
  args->error = std::move(message);
  return false;
}

}  // namespace

Args ParseArgs(int argc, char** argv, bool quiet) {
  Args args;
  int exclusive_seen = 0;  // -W and -w exclude each other
  optind = 0;              // full getopt reset: applets may run more than once
  opterr = quiet ? 0 : 1;
  int c;
  while ((c = getopt_long(argc, argv, kShortOptions, kLongOptions, nullptr)) !=
         -1) {
    if (c == 'W' || c == 'w') {
      if (exclusive_seen == 0) {
        exclusive_seen = c;
      } else if (exclusive_seen != c) {
        args.error = "mutually exclusive arguments: --wdns --wd";
        return args;
      }
    }
    bool handled = false;
    for (const NamespaceOption& ns : kNamespaceOptions) {
      if (c != ns.letter) continue;
      handled = true;
      if (optarg != nullptr) {
        args.files.push_back({.kind = Args::File::Kind::kNamespace,
                              .type = ns.type,
                              .path = optarg});
      } else {
        args.namespaces |= mountns::KindOf(ns.type).clone_flag;
      }
    }
    if (handled) continue;
    unsigned long value = 0;
    switch (c) {
      case 'a':
        args.all = true;
        break;
      case 't':
        if (!ParseUnsigned("pid", optarg, &value, &args)) return args;
        args.target = static_cast<pid_t>(value);
        break;
      case 'S':
        if (!ParseUnsigned("uid", optarg, &value, &args)) return args;
        args.uid = static_cast<uid_t>(value);
        args.force_uid = true;
        break;
      case 'G':
        if (!ParseUnsigned("gid", optarg, &value, &args)) return args;
        args.gid = static_cast<gid_t>(value);
        args.force_gid = true;
        break;
      case 'F':
        args.fork = 0;
        break;
      case 'r':
        if (optarg != nullptr) {
          args.files.push_back(
              {.kind = Args::File::Kind::kRoot, .path = optarg});
        } else {
          args.root_from_target = true;
        }
        break;
      case 'w':
        if (optarg != nullptr) {
          args.files.push_back(
              {.kind = Args::File::Kind::kWorkingDirectory, .path = optarg});
        } else {
          args.wd_from_target = true;
        }
        break;
      case 'W':
        args.wdns = optarg;
        break;
      case kOptPreserveCredentials:
        args.preserve_credentials = true;
        break;
      case 'Z':
        args.follow_context = true;
        break;
      case 'h':
        args.action = Args::Action::kHelp;
        return args;
      case 'V':
        args.action = Args::Action::kVersion;
        return args;
      default:
        args.error = "unrecognized option or missing option argument";
        args.getopt_error = true;
        return args;
    }
  }
  args.program = optind;
  return args;
}

}  // namespace dmkit::nsenter
