// The dmsetup applet: Debian's dmsetup 1.02.185 as it behaves without udev,
// on dmkit's raw-ioctl library. This file holds the command table, usage
// and the main flow of dmsetup.c main(); the session is session.cc, the
// commands live in commands.cc (changes), show.cc (queries), tree.cc
// (ls --tree) and batch.cc (--jobs).
//
// tests/vm/dmsetup_compat.sh compares it with Debian's dmsetup byte for
// byte. Intentional differences:
//  - "Library version:" names dmkit.
//  - Nodes in $DM_DEV_DIR/mapper are always made and removed here (as
//    libdevmapper does with DM_DISABLE_UDEV=1), root:disk 0660 like Debian's
//    build; there are no udev cookies to wait for.
//  - --json on ls, info, table, status, deps, targets and version.
//  - suspend, resume (when it swaps tables) and wipe_table without
//    --noflush refuse, with one line, a device whose I/O goes to a thin pool
//    that is out of data space and queues writes (queue_if_no_space): the
//    kernel's flushing suspend would wait for them until the pool grows or
//    no_space_timeout runs out (for ever when it is 0).
//  - After a remove fails with EBUSY, and only when stderr is a terminal,
//    one more line says what holds the device (DescribeHolders).
//  - mknodes without arguments leaves stale entries that are neither block
//    nodes nor links alone (libdevmapper unlinks them).
//  - Names ".", ".." and "control" are refused before any ioctl, with
//    dmioctl's line ("device name 'control' is reserved").
//  - Not implemented: stats, measure, -S/--select, libdm's -vv debug log;
//    "-o all" means every non-statistics field.
//  - create -j/-m: a failed create is rolled back by name (libdm sends name
//    and number together, which the kernel refuses, and leaves the device).
//  - create is dmioctl::CreateDevice: it loads the table by name (libdm: by
//    number, which the kernel hands to the next device as soon as it is
//    free) and checks that each reply is from the device it made. When
//    another process removes that device meanwhile, the create fails with
//    one line ("device NAME was removed by another process while it was
//    being created: No such device or address", or the kernel's ENXIO line)
//    and neither rolls back nor touches a newer device of the same name; no
//    node of a removed device is left.
//  - create fails, and removes the device again, when its node cannot be
//    made (libdm prints the node error and keeps the device); the line is
//    dmioctl's ("PATH exists and is not a block device: File exists", or
//    the failed call and its errno).
//  - remove leaves a file at the node's path that is neither a block node
//    nor a link alone, and says "Unable to unlink device node for 'NAME'"
//    (libdm unlinks it).
//  - rename (dmioctl::RenameDevice) moves the node as libdm does, but an
//    old node with another device's number is replaced by the right one
//    (libdm moves it as it is).
//  - message output over 64 KiB fails instead of sending the message again.
//  - ls --tree picks UTF-8 line drawing from LC_ALL/LC_CTYPE/LANG.
#include "tools/dmsetup/dmsetup.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/sem.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"
#include "tools/applet.h"
#include "tools/dmsetup/batch.h"
#include "tools/dmsetup/commands.h"
#include "tools/dmsetup/session.h"
#include "tools/dmsetup/show.h"
#include "tools/dmsetup/tree.h"

#ifndef DMKIT_VERSION
#define DMKIT_VERSION "0.0.0"
#endif

namespace dmkit {
namespace dmsetup {

absl::Status CmdHelp(Session& s, const CmdArgs& a);
absl::Status CmdNotSupported(Session& s, const CmdArgs& a);
absl::Status CmdUdevFlags(Session& s, const CmdArgs& a);
absl::Status CmdUdevComplete(Session& s, const CmdArgs& a);
absl::Status CmdUdevCreateCookie(Session& s, const CmdArgs& a);
absl::Status CmdUdevReleaseCookie(Session& s, const CmdArgs& a);
absl::Status CmdUdevCompleteAll(Session& s, const CmdArgs& a);
absl::Status CmdUdevCookies(Session& s, const CmdArgs& a);

namespace {

// dmsetup.c _dmsetup_commands[], in its order (the usage lists them so).
const Command kCommands[] = {
    {"help", "[-c|-C|--columns]", 0, 0, 0, CmdHelp},
    {"create",
     "<dev_name>\n"
     "\t    [-j|--major <major> -m|--minor <minor>]\n"
     "\t    [-U|--uid <uid>] [-G|--gid <gid>] [-M|--mode <octal_mode>]\n"
     "\t    [-u|--uuid <uuid>] [--addnodeonresume|--addnodeoncreate]\n"
     "\t    [--readahead {[+]<sectors>|auto|none}]\n"
     "\t    [-n|--notable|--table {<table>|<table_file>}]\n"
     "\tcreate --concise [<concise_device_spec_list>]",
     0, 2, 0, CmdCreate},
    {"remove", "[--deferred] [-f|--force] [--retry] <device>...", 0, -1, 2,
     CmdRemove},
    {"remove_all", "[-f|--force]", 0, 0, 0, CmdRemoveAll},
    {"suspend", "[--noflush] [--nolockfs] <device>...", 0, -1, 2, CmdSuspend},
    {"resume",
     "[--noflush] [--nolockfs] <device>...\n"
     "\t       [--addnodeonresume|--addnodeoncreate]\n"
     "\t       [--readahead {[+]<sectors>|auto|none}]",
     0, -1, 2, CmdResume},
    {"load", "<device> [<table>|<table_file>]", 0, 2, 0, CmdLoad},
    {"clear", "<device>", 0, -1, 2, CmdClear},
    {"reload", "<device> [<table>|<table_file>]", 0, 2, 0, CmdLoad},
    {"wipe_table", "[-f|--force] [--noflush] [--nolockfs] <device>...", 0, -1,
     2, CmdWipeTable},
    {"rename", "<device> [--setuuid] <new_name_or_uuid>", 1, 2, 0, CmdRename},
    {"measure", "[<device>...]", 0, -1, 2, CmdNotSupported},
    {"message", "<device> <sector> <message>", 2, -1, 0, CmdMessage},
    {"ls",
     "[--target <target_type>] [--exec <command>] [-o <options>] [--tree]", 0,
     0, 0, CmdLs},
    {"info", "[<device>...]", 0, -1, 1, CmdInfo},
    {"deps", "[-o <options>] [<device>...]", 0, -1, 2, CmdDeps},
    {"stats", "<command> [<options>] [<device>...]", 1, -1, 1, CmdNotSupported},
    {"status", "[<device>...] [--noflush] [--target <target_type>]", 0, -1, 2,
     CmdStatus},
    {"table", "[<device>...] [--concise] [--target <target_type>] [--showkeys]",
     0, -1, 2, CmdStatus},
    {"wait", "<device> [<event_nr>] [--noflush]", 0, 2, 0, CmdWait},
    {"mknodes", "[<device>...]", 0, -1, 1, CmdMknodes},
    {"mangle", "[<device>...]", 0, -1, 1, CmdMangle},
    {"udevcreatecookie", "", 0, 0, 0, CmdUdevCreateCookie},
    {"udevreleasecookie", "[<cookie>]", 0, 1, 0, CmdUdevReleaseCookie},
    {"udevflags", "<cookie>", 1, 1, 0, CmdUdevFlags},
    {"udevcomplete", "<cookie>", 1, 1, 0, CmdUdevComplete},
    {"udevcomplete_all", "[<age_in_minutes>]", 0, 1, 0, CmdUdevCompleteAll},
    {"udevcookies", "", 0, 0, 0, CmdUdevCookies},
    {"target-version", "[<target>...]", 1, -1, 1, CmdTargetVersion},
    {"targets", "", 0, 0, 0, CmdTargets},
    {"version", "", 0, 0, 0, CmdVersion},
    {"setgeometry", "<device> <cyl> <head> <sect> <start>", 5, 5, 0,
     CmdSetGeometry},
    {"splitname", "<device> [<subsystem>]", 1, 2, 0, CmdSplitname},
};

const Command* FindCommand(absl::string_view name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void Usage(FILE* out) {
  fputs(
      "Usage:\n\n"
      "dmsetup\n"
      "        [--version] [-h|--help [-c|-C|--columns]]\n"
      "        [-v|--verbose [-v|--verbose ...]] [-f|--force]\n"
      "        [--checks] [--manglename {none|hex|auto}]\n"
      "        [-r|--readonly] [--noopencount] [--noflush] [--nolockfs] "
      "[--inactive]\n"
      "        [--udevcookie <cookie>] [--noudevrules] [--noudevsync] "
      "[--verifyudev]\n"
      "        [-y|--yes] [--readahead {[+]<sectors>|auto|none}] [--retry]\n"
      "        [-c|-C|--columns] [-o <fields>] [-O|--sort <sort_fields>]\n"
      "        [-S|--select <selection>] [--nameprefixes] [--noheadings]\n"
      "        [--separator <separator>]\n\n",
      out);
  for (const Command& c : kCommands) fprintf(out, "\t%s %s\n", c.name, c.help);
  fputs(
      "\n<device> may be device name or (if only one) -u <uuid> or -j <major> "
      "-m <minor>\n"
      "<mangling_mode> is one of 'none', 'auto' and 'hex'.\n"
      "<fields> are comma-separated.  Use 'help -c' for list.\n"
      "<concise_device_specification> has single-device entries separated by "
      "semi-colons:\n"
      "    <name>,<uuid>,<minor>,<flags>,<table>\n"
      "        where <flags> is 'ro' or 'rw' (the default) and any of <uuid>, "
      "<minor>\n"
      "        and <flags> may be empty. Separate extra table lines with "
      "commas.\n"
      "    E.g.: dev1,,,,0 100 linear 253:1 0,100 100 error;dev2,,,ro,0 1 "
      "error\n"
      "Table_file contents may be supplied on stdin.\n"
      "Options are: devno, devname, blkdevname.\n"
      "Tree specific options are: ascii, utf, vt100; compact, inverted, "
      "notrunc;\n"
      "                           blkdevname, [no]device, active, open, rw and "
      "uuid.\n\n",
      out);
}

// dmsetup _process_options(): -o for ls and deps (or --tree).
absl::Status ProcessOptions(Session& s) {
  Options& o = s.opt();
  if (o.tree) {
    return ParseTreeOptions(o.options_set ? o.options : "", &o.tree_style);
  }
  if (o.columns || !o.options_set) return absl::OkStatus();
  s.set_dev_name_type(DevNameType::kDevNo);
  absl::string_view rest = o.options;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    absl::string_view word = rest.substr(0, comma);
    // strncmp(word, option, len): a prefix of an option name selects it.
    auto is = [&](absl::string_view option) {
      return absl::string_view(option).substr(0, word.size()) == word &&
             word.size() <= option.size();
    };
    if (is("devno")) {
      s.set_dev_name_type(DevNameType::kDevNo);
    } else if (is("blkdevname")) {
      s.set_dev_name_type(DevNameType::kBlk);
    } else if (is("devname")) {
      s.set_dev_name_type(DevNameType::kMap);
    } else {
      return Failure(absl::StrCat("Option not recognised: ", rest, "."));
    }
    if (comma == absl::string_view::npos) break;
    rest.remove_prefix(comma);
    // dmsetup's loop steps past the comma and parses the next word from
    // there (a trailing comma ends the list).
    rest.remove_prefix(1);
  }
  return absl::OkStatus();
}

absl::Status ReportInit(Session& s, const Command* cmd) {
  Options& o = s.opt();
  ReportOptions ro;
  bool splitname = absl::string_view(cmd->name) == "splitname";
  if (splitname) {
    ro.default_fields = "vg_name,lv_name,lv_layer";
    ro.field_prefix = "splitname_";
  }
  ro.fields_set = o.options_set;
  ro.fields = o.options;
  ro.sort_keys = o.sort_set ? o.sort : "";
  if (o.sort_set && (absl::string_view(cmd->name) == "status" ||
                     absl::string_view(cmd->name) == "table")) {
    return Failure("--sort is not yet supported with status and table.");
  }
  ro.separator_set = o.separator_set;
  ro.separator = o.separator;
  ro.noheadings = o.noheadings > 0;
  ro.nameprefixes = o.nameprefixes > 0;
  ro.unquoted = o.unquoted > 0;
  ro.rows = o.rows > 0;
  ro.unbuffered = o.unbuffered > 0;
  // The report's own lines (the field list for "help", warnings) go out
  // whatever happens.
  std::string messages;
  std::unique_ptr<Report> report = Report::Create(ro, &messages);
  fputs(messages.c_str(), s.err());
  if (!report) return Printed();
  s.set_report(std::move(report));
  return absl::OkStatus();
}

// Whether a command went well; if not, its failure and "Command failed.".
bool Done(Session& s, const absl::Status& done) {
  if (done.ok()) return true;
  s.PrintError(done);
  s.Err("Command failed.");
  return false;
}

// dmsetup _perform_command_for_all_repeatable_args().
bool PerformCommand(Session& s, const Command* cmd,
                    const std::vector<std::string>& args, bool multiple) {
  size_t i = 0;
  do {
    CmdArgs a;
    a.cmd = cmd;
    a.args.assign(args.begin() + std::min(i, args.size()), args.end());
    a.multiple = multiple;
    if (!Done(s, cmd->fn(s, a))) return false;
    ++i;
  } while (cmd->repeatable && i < args.size());
  return true;
}

// $DM_DEV_DIR, or /dev; empty when it is set but not an absolute path.
std::string DevDirFromEnvironment() {
  const char* env = getenv("DM_DEV_DIR");
  if (env == nullptr || *env == '\0') return "/dev";
  return env[0] == '/' ? env : "";
}

}  // namespace

namespace {

// The command the words ask for (--help and --version stand for theirs),
// or why there is none: the line before the usage.
absl::StatusOr<const Command*> ChooseCommand(const Options& o) {
  if (o.help) return FindCommand("help");
  if (o.version) return FindCommand("version");
  if (!o.command_given) return Printed();
  const Command* cmd = FindCommand(o.command);
  if (cmd == nullptr) return Failure("Unknown command.");
  int n = static_cast<int>(o.args.size());
  if (n < cmd->min_args || (cmd->max_args >= 0 && n > cmd->max_args)) {
    return Failure("Incorrect number of arguments.");
  }
  return cmd;
}

// What dmsetup sets up before a command runs: the -o of ls and deps, and
// the report of a columns command.
absl::Status Prepare(Session& s, const Command* cmd) {
  Options& o = s.opt();
  absl::string_view name = cmd->name;
  if (!o.columns && name == "splitname") ++o.columns;
  if (name == "mangle") s.set_mangling(Mangling::kNone);
  if (absl::Status processed = ProcessOptions(s); !processed.ok()) {
    return Failure(
        absl::StrCat(processed.message(), "\nCouldn't process command line."));
  }
  if (o.select_set && cmd->repeatable == 2) {
    return Failure("dmkit: -S/--select is not supported.");
  }
  if (o.columns && !o.json) return ReportInit(s, cmd);
  return absl::OkStatus();
}

// The command, once per argument where it repeats, or as a --jobs batch.
bool Perform(Session& s, const Command* cmd) {
  const Options& o = s.opt();
  const std::vector<std::string>& args = o.args;
  if (o.jobs > 0 && !o.help && !o.version) {
    if (BatchHandles(cmd, o)) return Done(s, RunBatch(s, cmd, args));
    s.PrintError(
        Failure("--jobs is only for create --concise, remove and remove_all."));
    return false;
  }
  bool multiple = cmd->repeatable && args.size() != 1 &&
                  (!args.empty() || (!o.uuid_set && !o.major_set));
  return PerformCommand(s, cmd, args, multiple);
}

// What is due once the command is done: the end of concise and report
// output, the JSON document, and (after a busy remove) what holds it.
void Finish(Session& s) {
  if (s.concise_output()) {
    fputc('\n', s.out());
    fflush(s.out());
  }
  if (s.report() != nullptr) fputs(s.report()->Output().c_str(), s.out());
  if (s.json_started()) fprintf(s.out(), "%s\n", s.JsonEnd().c_str());
  fflush(s.out());
  if (!s.busy_hint().empty()) fprintf(s.err(), "%s\n", s.busy_hint().c_str());
}

}  // namespace

int RunDmsetup(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv,
               FILE* out, FILE* err,
               dmioctl::DeviceNodes::FaultHook node_faults) {
  std::string dev_dir = DevDirFromEnvironment();
  if (dev_dir.empty()) {
    fputs("Invalid DM_DEV_DIR environment variable value.\n", err);
    return 1;
  }
  std::vector<std::string> warnings;
  absl::StatusOr<Options> options = ParseOptions(argc, argv, &warnings);
  for (const std::string& w : warnings) fprintf(err, "%s\n", w.c_str());
  if (!options.ok()) {
    if (!options.status().message().empty()) {
      fprintf(err, "%s\n", std::string(options.status().message()).c_str());
    }
    fputs("Couldn't process command line.\n", err);
    return 1;
  }
  Session s(*std::move(options), dev_dir, std::move(dm), out, err);
  s.Nodes().set_fault_hook_for_testing(node_faults);
  const Options& o = s.opt();
  if (const char* env = getenv("DM_DEFAULT_NAME_MANGLING_MODE")) {
    if (!strcasecmp(env, "none")) s.set_mangling(Mangling::kNone);
    if (!strcasecmp(env, "auto")) s.set_mangling(Mangling::kAuto);
    if (!strcasecmp(env, "hex")) s.set_mangling(Mangling::kHex);
  }
  if (o.manglename_set) s.set_mangling(o.manglename);
  absl::StatusOr<const Command*> cmd = ChooseCommand(o);
  if (!cmd.ok()) {
    s.PrintError(cmd.status());
    Usage(err);
    return 1;
  }
  const bool always_ok = o.help || o.version;
  if (!always_ok) {
    if (absl::Status prepared = Prepare(s, *cmd); !prepared.ok()) {
      s.PrintError(prepared);
      return 1;
    }
  }
  bool r = Perform(s, *cmd);
  Finish(s);
  return always_ok || r ? 0 : 1;
}

absl::Status CmdHelp(Session& s, const CmdArgs&) {
  Usage(s.err());
  if (s.opt().columns) {
    // dmsetup _dmsetup_help(): the field list of a report asked for "help".
    fputs(FieldHelpText(), s.err());
    fputs(" \n", s.err());
  }
  return absl::OkStatus();
}

absl::Status CmdNotSupported(Session&, const CmdArgs& a) {
  return Failure(
      absl::StrCat("dmkit: dmsetup ", a.cmd->name, " is not supported."));
}

namespace {
// libdm's DM_UDEV_* cookie layout.
constexpr int kUdevFlagsShift = 16;
constexpr uint32_t kUdevFlagsMask = 0xffff0000u;

}  // namespace

absl::Status CmdUdevFlags(Session& s, const CmdArgs& a) {
  DMKIT_ASSIGN_OR_RETURN(uint32_t cookie, CookieValue(a.args[0].c_str()));
  static const char* const kNames[] = {
      "DISABLE_DM_RULES",   "DISABLE_SUBSYSTEM_RULES",
      "DISABLE_DISK_RULES", "DISABLE_OTHER_RULES",
      "LOW_PRIORITY",       "DISABLE_LIBRARY_FALLBACK",
      "PRIMARY_SOURCE",     nullptr};
  uint16_t flags = static_cast<uint16_t>(cookie >> kUdevFlagsShift);
  for (int i = 0; i < kUdevFlagsShift; ++i) {
    if (!((1 << i) & flags)) continue;
    if (i < kUdevFlagsShift / 2 && i < 7 && kNames[i]) {
      fprintf(s.out(), "DM_UDEV_%s_FLAG='1'\n", kNames[i]);
    } else if (i < kUdevFlagsShift / 2) {
      fprintf(s.out(), "DM_UDEV_FLAG%d='1'\n", i);
    } else {
      fprintf(s.out(), "DM_SUBSYSTEM_UDEV_FLAG%d='1'\n",
              i - kUdevFlagsShift / 2);
    }
  }
  return absl::OkStatus();
}

// dmkit never synchronises with udev: these behave as dmsetup's do when
// libdevmapper finds udev synchronisation unavailable (DM_DISABLE_UDEV).

absl::Status CmdUdevComplete(Session& s, const CmdArgs& a) {
  DMKIT_ASSIGN_OR_RETURN(uint32_t cookie, CookieValue(a.args[0].c_str()));
  fprintf(s.out(), "DM_COOKIE_COMPLETED=0x%-10x\n", cookie);
  // There is no semaphore of ours to release.
  (void)kUdevFlagsMask;
  return absl::OkStatus();
}

absl::Status CmdUdevCreateCookie(Session&, const CmdArgs&) {
  // dm_udev_create_cookie() without synchronisation: cookie 0, not printed.
  return absl::OkStatus();
}

absl::Status CmdUdevReleaseCookie(Session& s, const CmdArgs& a) {
  uint32_t cookie = s.opt().udev_cookie;
  if (!a.args.empty()) {
    DMKIT_ASSIGN_OR_RETURN(cookie, CookieValue(a.args[0].c_str()));
  }
  if (cookie == 0) return Failure("No udev transaction cookie given.");
  return absl::OkStatus();
}

namespace {
// libdevmapper's DM_COOKIE_MAGIC: the high half of its semaphore keys.
constexpr uint32_t kCookieMagic = 0x0D4D;

// dmsetup _yes_no_prompt().
char YesNo(Session& s, const char* prompt) {
  int c = 0, ret = 0;
  do {
    if (c == '\n' || !c) {
      fputs(prompt, s.out());
      fflush(s.out());
    }
    if ((c = getchar()) == EOF) {
      ret = 'n';
      break;
    }
    c = tolower(c);
    if (c == 'y' || c == 'n') ret = c;
  } while (!ret || c != '\n');
  if (c != '\n') fputc('\n', s.out());
  return static_cast<char>(ret);
}
}  // namespace

// Semaphores left behind by processes that died waiting for udev: dmsetup
// can list and remove them, and so can dmkit.
absl::Status CmdUdevCompleteAll(Session& s, const CmdArgs& a) {
  unsigned age = 0;
  if (a.args.size() == 1 && sscanf(a.args[0].c_str(), "%u", &age) != 1) {
    return Failure("Failed to read age_in_minutes parameter.");
  }
  if (!s.opt().yes) {
    if (age) {
      fprintf(s.err(),
              "WARNING: This operation will destroy all semaphores older than "
              "%d minutes with keys that have a prefix %u (0x%x).\n",
              age, kCookieMagic, kCookieMagic);
    } else {
      fprintf(s.err(),
              "WARNING: This operation will destroy all semaphores with keys "
              "that have a prefix %u (0x%x).\n",
              kCookieMagic, kCookieMagic);
    }
    if (YesNo(s, "Do you really want to continue? [y/n]: ") == 'n') {
      fprintf(s.out(),
              "Semaphores with keys prefixed by %u (0x%x) NOT destroyed.\n",
              kCookieMagic, kCookieMagic);
      return absl::OkStatus();
    }
  }
  struct seminfo info;
  int max_id = semctl(0, 0, SEM_INFO, &info);
  if (max_id < 0) {
    return Failure(absl::StrCat("SEM_INFO: semctl failed: ", strerror(errno)));
  }
  int counter = 0, skipped = 0;
  for (int id = 0; id <= max_id; ++id) {
    struct semid_ds data;
    int sid = semctl(id, 0, SEM_STAT, &data);
    if (sid < 0) continue;
    uint32_t key = static_cast<uint32_t>(data.sem_perm.__key);
    if (key >> 16 != kCookieMagic) continue;
    time_t t = time(nullptr);
    if (data.sem_ctime + static_cast<time_t>(age) * 60 > t ||
        data.sem_otime + static_cast<time_t>(age) * 60 > t) {
      ++skipped;
      continue;
    }
    if (semctl(sid, 0, IPC_RMID, 0) < 0) {
      s.PrintError(Failure(absl::StrCat(
          "Could not cleanup notification semaphore with semid ", sid,
          " and cookie value ", key, " (0x", absl::Hex(key), ").")));
      continue;
    }
    ++counter;
  }
  fprintf(s.out(),
          "%d semaphores with keys prefixed by %u (0x%x) destroyed. %d "
          "skipped.\n",
          counter, kCookieMagic, kCookieMagic, skipped);
  return absl::OkStatus();
}

absl::Status CmdUdevCookies(Session& s, const CmdArgs&) {
  struct seminfo info;
  int max_id = semctl(0, 0, SEM_INFO, &info);
  if (max_id < 0) {
    return Failure(absl::StrCat("SEM_INFO: sem_ctl failed: ", strerror(errno)));
  }
  fprintf(s.out(),
          "Cookie       Semid      Value      Last semop time           Last "
          "change time\n");
  for (int id = 0; id <= max_id; ++id) {
    struct semid_ds data;
    int sid = semctl(id, 0, SEM_STAT, &data);
    if (sid < 0) continue;
    uint32_t key = static_cast<uint32_t>(data.sem_perm.__key);
    if (key >> 16 != kCookieMagic) continue;
    int val = semctl(sid, 0, GETVAL);
    if (val < 0) {
      s.PrintError(
          Failure(absl::StrCat("semid ", sid, ": sem_ctl failed for cookie 0x",
                               absl::Hex(key), ": ", strerror(errno))));
      continue;
    }
    char otime[26], ctime_buf[26];
    char* o = ctime_r(&data.sem_otime, otime);
    char* c = ctime_r(&data.sem_ctime, ctime_buf);
    if (o) otime[strlen(o) - 1] = '\0';
    if (c) ctime_buf[strlen(c) - 1] = '\0';
    fprintf(s.out(), "0x%-10x %-10d %-10d %s  %s\n", key, sid, val,
            o ? o : "unknown", c ? c : "unknown");
  }
  return absl::OkStatus();
}

}  // namespace dmsetup

int DmsetupMain(int argc, char** argv) {
  // Opened before the command line is read, so that a test can hand
  // RunDmsetup() another DeviceMapper; an error is printed (as dmsetup
  // words it) only by a command that needs the kernel.
  std::string dev_dir = dmsetup::DevDirFromEnvironment();
  absl::StatusOr<std::unique_ptr<dmioctl::DeviceMapper>> dm =
      dmioctl::DeviceMapper::Open(dev_dir.empty() ? "/dev" : dev_dir);
  absl::StatusOr<dmioctl::DeviceMapper*> borrowed =
      dm.ok() ? absl::StatusOr<dmioctl::DeviceMapper*>(dm->get())
              : absl::StatusOr<dmioctl::DeviceMapper*>(dm.status());
  return dmsetup::RunDmsetup(std::move(borrowed), argc, argv, stdout, stderr);
}

}  // namespace dmkit
