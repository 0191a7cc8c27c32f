// The command-line parsers of every applet, on one argv: the input split on
// NUL bytes (argv[0] is the first word), as the kernel hands a command
// line over. A parser returns either options or an error, never crashes,
// and its error is one line (unless an argument it quotes has a newline).
//   * docker (tools/docker/cli.h), holders, bench cycle, nsenter: what they
//     accept, written back as a canonical command line and parsed again,
//     gives the same options;
//   * dmsetup (tools/dmsetup/options.h, getopt with permutation): parsing
//     quietly, a rejected command line always says why; an accepted one
//     keeps dmsetup's own consistency rules, its command and arguments are
//     words of argv, and parsing it again gives the same result.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/script_kernel.h"
#include "tools/bench/args.h"
#include "tools/dmsetup/options.h"
#include "tools/docker/cli.h"
#include "tools/holders/args.h"
#include "tools/nsenter/args.h"

namespace {

using Words = std::vector<std::string>;

// Mutable argv over copies of `words` (getopt may permute it).
class Argv {
 public:
  explicit Argv(const Words& words) : words_(words) {
    for (std::string& w : words_) ptrs_.push_back(w.data());
    ptrs_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(words_.size()); }
  char** argv() { return ptrs_.data(); }

 private:
  Words words_;
  std::vector<char*> ptrs_;
};

bool AnyNewline(const Words& words) {
  for (const std::string& w : words) {
    if (w.find('\n') != std::string::npos) return true;
  }
  return false;
}

void CheckOneLine(absl::string_view message, const Words& words) {
  FUZZ_CHECK(!message.empty());
  if (!AnyNewline(words)) {
    FUZZ_CHECK(message.find('\n') == absl::string_view::npos);
  }
}

bool IsWord(const Words& words, const std::string& s) {
  for (const std::string& w : words) {
    if (w == s) return true;
  }
  return false;
}

void CheckDocker(const Words& words) {
  namespace docker = dmkit::docker;
  Argv a(words);
  auto inv = docker::ParseCommandLine(a.argc(), a.argv());
  if (!inv.ok()) {
    FUZZ_CHECK(inv.status().code() == absl::StatusCode::kInvalidArgument);
    CheckOneLine(inv.status().message(), words);
    return;
  }
  if (inv->help) return;
  FUZZ_CHECK(docker::FindCommand(inv->command) != nullptr);
  const docker::Options& o = inv->options;
  Words canonical = {"docker", inv->command};
  if (o.root) canonical.push_back(absl::StrCat("--root=", *o.root));
  if (o.pool) canonical.push_back(absl::StrCat("--pool=", *o.pool));
  if (o.json) canonical.push_back("--json");
  if (o.rw) canonical.push_back("--rw");
  if (o.no_activate) canonical.push_back("--no-activate");
  if (o.activate) canonical.push_back("--activate");
  if (o.orphans) canonical.push_back("--orphans");
  if (o.dry_run) canonical.push_back("--dry-run");
  if (o.device_id) {
    canonical.push_back(absl::StrCat("--device-id=", *o.device_id));
  }
  if (o.grow_data)
    canonical.push_back(absl::StrCat("--grow-data=", *o.grow_data));
  if (o.grow_metadata) {
    canonical.push_back(absl::StrCat("--grow-metadata=", *o.grow_metadata));
  }
  canonical.push_back("--");
  canonical.insert(canonical.end(), o.args.begin(), o.args.end());
  Argv b(canonical);
  auto again = docker::ParseCommandLine(b.argc(), b.argv());
  FUZZ_CHECK(again.ok() && !again->help);
  const docker::Options& p = again->options;
  FUZZ_CHECK(again->command == inv->command && p.root == o.root &&
             p.pool == o.pool && p.json == o.json && p.rw == o.rw &&
             p.no_activate == o.no_activate && p.activate == o.activate &&
             p.orphans == o.orphans && p.dry_run == o.dry_run &&
             p.device_id == o.device_id && p.grow_data == o.grow_data &&
             p.grow_metadata == o.grow_metadata && p.args == o.args);
}

void CheckHolders(const Words& words) {
  namespace holders = dmkit::holders;
  Argv a(words);
  auto args = holders::ParseArgs(a.argc(), a.argv());
  if (!args.ok()) {
    CheckOneLine(args.status().message(), words);
    return;
  }
  if (args->help) return;
  FUZZ_CHECK(!args->device.empty() && IsWord(words, args->device));
  FUZZ_CHECK(!args->lazy || args->umount);
  Words canonical = {"holders"};
  if (args->umount) canonical.push_back("--umount");
  if (args->lazy) canonical.push_back("--lazy");
  if (args->json) canonical.push_back("--json");
  canonical.push_back(args->device);
  Argv b(canonical);
  auto again = holders::ParseArgs(b.argc(), b.argv());
  FUZZ_CHECK(again.ok() && !again->help && again->device == args->device &&
             again->umount == args->umount && again->lazy == args->lazy &&
             again->json == args->json);
}

void CheckBench(const Words& words) {
  namespace bench = dmkit::bench;
  Argv a(words);
  auto o = bench::ParseCycleArgs(a.argc(), a.argv(), "/tmp");
  if (!o.ok()) {
    CheckOneLine(o.status().message(), words);
    return;
  }
  if (o->help) return;
  FUZZ_CHECK(o->count >= 1 && o->count <= 1000000);
  FUZZ_CHECK(o->jobs >= 1 && o->jobs <= o->count);
  FUZZ_CHECK(o->size >= 8);
  FUZZ_CHECK(!(o->thin && o->backing));
  Words canonical = {"bench",    "cycle",
                     "--target", o->thin ? "thin" : "linear",
                     "--count",  absl::StrCat(o->count),
                     "--jobs",   absl::StrCat(o->jobs),
                     "--size",   absl::StrCat(o->size),
                     "--tmpdir", o->tmpdir};
  if (o->backing) {
    canonical.push_back("--backing");
    canonical.push_back(o->backing->ToString());
  }
  if (o->json) canonical.push_back("--json");
  Argv b(canonical);
  auto again = bench::ParseCycleArgs(b.argc(), b.argv(), "/elsewhere");
  FUZZ_CHECK(again.ok() && !again->help);
  FUZZ_CHECK(again->thin == o->thin && again->count == o->count &&
             again->jobs == o->jobs && again->json == o->json &&
             again->size == o->size && again->tmpdir == o->tmpdir &&
             again->backing.has_value() == o->backing.has_value());
  if (o->backing) FUZZ_CHECK(*again->backing == *o->backing);
}

struct NamespaceName {
  mountns::NamespaceType type;
  const char* option;
};
constexpr NamespaceName kNamespaceNames[] = {
    {mountns::NamespaceType::kMount, "--mount"},
    {mountns::NamespaceType::kUts, "--uts"},
    {mountns::NamespaceType::kIpc, "--ipc"},
    {mountns::NamespaceType::kNet, "--net"},
    {mountns::NamespaceType::kPid, "--pid"},
    {mountns::NamespaceType::kCgroup, "--cgroup"},
    {mountns::NamespaceType::kUser, "--user"},
    {mountns::NamespaceType::kTime, "--time"},
};

bool SameFiles(const std::vector<dmkit::nsenter::Args::File>& a,
               const std::vector<dmkit::nsenter::Args::File>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].kind != b[i].kind || a[i].path != b[i].path) return false;
    if (a[i].kind == dmkit::nsenter::Args::File::Kind::kNamespace &&
        a[i].type != b[i].type) {
      return false;
    }
  }
  return true;
}

void CheckNsenter(const Words& words) {
  namespace nsenter = dmkit::nsenter;
  using Kind = nsenter::Args::File::Kind;
  Argv a(words);
  nsenter::Args args = nsenter::ParseArgs(a.argc(), a.argv(), /*quiet=*/true);
  if (args.error) {
    CheckOneLine(*args.error, words);
    return;
  }
  if (args.action != nsenter::Args::Action::kRun) return;
  FUZZ_CHECK(args.program >= 1 && args.program <= a.argc());
  FUZZ_CHECK(!(args.wdns && (args.wd_from_target ||
                             std::any_of(args.files.begin(), args.files.end(),
                                         [](const nsenter::Args::File& f) {
                                           return f.kind ==
                                                  Kind::kWorkingDirectory;
                                         }))));
  Words canonical = {"nsenter"};
  if (args.target != 0) {
    canonical.push_back(
        absl::StrCat("--target=", static_cast<uint32_t>(args.target)));
  }
  for (const NamespaceName& ns : kNamespaceNames) {
    if (args.namespaces & mountns::KindOf(ns.type).clone_flag) {
      canonical.push_back(ns.option);
    }
  }
  for (const nsenter::Args::File& f : args.files) {
    const char* option = f.kind == Kind::kRoot ? "--root" : "--wd";
    for (const NamespaceName& ns : kNamespaceNames) {
      if (f.kind == Kind::kNamespace && f.type == ns.type) option = ns.option;
    }
    canonical.push_back(absl::StrCat(option, "=", f.path));
  }
  if (args.all) canonical.push_back("--all");
  if (args.root_from_target) canonical.push_back("--root");
  if (args.wd_from_target) canonical.push_back("--wd");
  if (args.wdns) canonical.push_back(absl::StrCat("--wdns=", *args.wdns));
  if (args.force_uid) canonical.push_back(absl::StrCat("--setuid=", args.uid));
  if (args.force_gid) canonical.push_back(absl::StrCat("--setgid=", args.gid));
  if (args.preserve_credentials) {
    canonical.push_back("--preserve-credentials");
  }
  if (args.follow_context) canonical.push_back("--follow-context");
  if (args.fork == 0) canonical.push_back("--no-fork");
  Words program(words.begin() + args.program, words.end());
  if (!program.empty()) {
    canonical.push_back("--");
    canonical.insert(canonical.end(), program.begin(), program.end());
  }
  Argv b(canonical);
  nsenter::Args again = nsenter::ParseArgs(b.argc(), b.argv(), true);
  FUZZ_CHECK(!again.error && again.action == nsenter::Args::Action::kRun);
  FUZZ_CHECK(again.target == args.target &&
             again.namespaces == args.namespaces && again.all == args.all &&
             again.root_from_target == args.root_from_target &&
             again.wd_from_target == args.wd_from_target &&
             again.wdns == args.wdns && again.force_uid == args.force_uid &&
             again.force_gid == args.force_gid && again.uid == args.uid &&
             again.gid == args.gid &&
             again.preserve_credentials == args.preserve_credentials &&
             again.follow_context == args.follow_context &&
             again.fork == args.fork && SameFiles(again.files, args.files));
  FUZZ_CHECK(Words(canonical.begin() + again.program, canonical.end()) ==
             program);
}

void CheckDmsetup(const Words& words) {
  namespace dmsetup = dmkit::dmsetup;
  std::vector<std::string> errors;
  Argv a(words);
  absl::StatusOr<dmsetup::Options> parsed =
      dmsetup::ParseOptions(a.argc(), a.argv(), &errors, true);
  for (const std::string& e : errors) {
    CheckOneLine(e, words);
    FUZZ_CHECK(e == "Incorrect cookie value.");
  }
  if (!parsed.ok()) {
    CheckOneLine(parsed.status().message(), words);
    return;
  }
  const dmsetup::Options& o = *parsed;
  FUZZ_CHECK(o.major_set == o.minor_set);
  FUZZ_CHECK(!(o.table_set && o.notable));
  FUZZ_CHECK(!(o.addnodeonresume && o.addnodeoncreate));
  FUZZ_CHECK(!o.count_set || o.count >= 0);
  FUZZ_CHECK(!o.interval_set || o.interval > 0);
  FUZZ_CHECK(o.jobs == 0 || (o.jobs >= 1 && o.jobs <= 1024));
  FUZZ_CHECK(!o.mode_set || o.mode != 0);
  if (o.command_given) FUZZ_CHECK(IsWord(words, o.command));
  FUZZ_CHECK(o.command_given || (o.command.empty() && o.args.empty()));
  for (const std::string& arg : o.args) FUZZ_CHECK(IsWord(words, arg));

  std::vector<std::string> again_errors;
  Argv b(words);
  absl::StatusOr<dmsetup::Options> reparsed =
      dmsetup::ParseOptions(b.argc(), b.argv(), &again_errors, true);
  FUZZ_CHECK(reparsed.ok());
  const dmsetup::Options& again = *reparsed;
  FUZZ_CHECK(again_errors == errors && again.command_given == o.command_given &&
             again.command == o.command && again.args == o.args &&
             again.table == o.table && again.uuid == o.uuid &&
             again.major == o.major && again.minor == o.minor &&
             again.readahead == o.readahead &&
             again.udev_cookie == o.udev_cookie && again.jobs == o.jobs &&
             again.verbose == o.verbose && again.force == o.force);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Words words = absl::StrSplit(
      absl::string_view(reinterpret_cast<const char*>(data), size), '\0');
  CheckDocker(words);
  CheckHolders(words);
  CheckBench(words);
  CheckNsenter(words);
  CheckDmsetup(words);
  return 0;
}
