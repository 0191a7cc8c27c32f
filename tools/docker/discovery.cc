#include "tools/docker/discovery.h"

#include <dirent.h>

#include <algorithm>
#include <charconv>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/docker/json.h"
#include "tools/docker/store.h"

namespace dmkit::docker {
namespace {

absl::string_view Basename(absl::string_view path) {
  size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<pid_t> ParsePid(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() ||
      v <= 0 || v > (1 << 22)) {
    return std::nullopt;
  }
  return static_cast<pid_t>(v);
}

std::optional<std::vector<std::string>> ReadCmdline(const HostPaths& paths,
                                                    pid_t pid) {
  absl::StatusOr<std::string> text =
      ReadFileBounded(absl::StrCat(paths.proc, "/", pid, "/cmdline"), 1 << 20);
  if (!text.ok() || text->empty()) return std::nullopt;
  absl::string_view t = *text;
  if (t.back() == '\0') t.remove_suffix(1);
  std::vector<std::string> argv = absl::StrSplit(t, '\0');
  return argv;
}

// Matches "-x VALUE", "-x=VALUE", "--xx VALUE", "--xx=VALUE" for any of the
// given spellings; advances `i` past a separate value.
std::optional<std::string> FlagValue(
    const std::vector<std::string>& argv, size_t& i,
    std::initializer_list<absl::string_view> names) {
  absl::string_view arg = argv[i];
  for (absl::string_view name : names) {
    if (arg == name) {
      if (i + 1 < argv.size()) return argv[++i];
      return std::nullopt;
    }
    if (absl::StartsWith(arg, name) && arg.size() > name.size() &&
        arg[name.size()] == '=') {
      return std::string(arg.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

void AddStorageOpts(const json::Value& opts, DaemonOptions& out) {
  for (const json::Value& v : opts.items()) {
    if (absl::StatusOr<std::string> s = v.AsString(); s.ok()) {
      out.storage_opts.push_back(*s);
    }
  }
}

std::optional<std::string> FindOpt(const std::vector<std::string>& opts,
                                   absl::string_view key) {
  std::optional<std::string> found;
  for (const std::string& o : opts) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(o, absl::MaxSplits('=', 1));
    if (absl::AsciiStrToLower(absl::StripAsciiWhitespace(kv.first)) == key) {
      found = std::string(absl::StripAsciiWhitespace(kv.second));
    }
  }
  return found;
}

}  // namespace

bool IsDaemonCommandLine(const std::vector<std::string>& argv) {
  if (argv.empty()) return false;
  absl::string_view prog = Basename(argv[0]);
  if (prog == "dockerd" || prog == "dockerd-current") return true;
  if (prog != "docker" && prog != "docker-current") return false;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "daemon" || argv[i] == "-d" || argv[i] == "--daemon") {
      return true;
    }
  }
  return false;
}

DaemonOptions ParseDaemonArgs(const std::vector<std::string>& argv) {
  DaemonOptions o;
  for (size_t i = 1; i < argv.size(); ++i) {
    if (auto v = FlagValue(argv, i, {"-g", "--graph", "--data-root"})) {
      o.root = *v;
    } else if (auto v = FlagValue(argv, i, {"--storage-opt"})) {
      o.storage_opts.push_back(*v);
    } else if (auto v = FlagValue(argv, i, {"-s", "--storage-driver"})) {
      o.storage_driver = *v;
    }
  }
  return o;
}

absl::StatusOr<DaemonOptions> ParseDaemonJson(absl::string_view text) {
  absl::StatusOr<json::Value> doc = json::Parse(text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return absl::InvalidArgumentError("daemon.json is not a JSON object");
  }
  DaemonOptions o;
  // dockerd refuses both at once; "data-root" is the newer spelling.
  for (absl::string_view key : {"graph", "data-root"}) {
    if (const json::Value* v = doc->Find(key)) {
      absl::StatusOr<std::string> s = v->AsString();
      if (!s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("\"", key, "\": ", s.status().message()));
      }
      o.root = *s;
    }
  }
  if (const json::Value* v = doc->Find("storage-driver")) {
    if (absl::StatusOr<std::string> s = v->AsString(); s.ok()) {
      o.storage_driver = *s;
    }
  }
  if (const json::Value* v = doc->Find("storage-opts")) {
    if (!v->is_array()) {
      return absl::InvalidArgumentError("\"storage-opts\": expected array");
    }
    AddStorageOpts(*v, o);
  }
  return o;
}

DaemonOptions ParseSysconfigStorage(absl::string_view text) {
  DaemonOptions o;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "DOCKER_STORAGE_OPTIONS=")) continue;
    if (line.size() >= 2 && (line.front() == '"' || line.front() == '\'') &&
        line.back() == line.front()) {
      line = line.substr(1, line.size() - 2);
    }
    std::vector<std::string> argv = {"dockerd"};
    for (absl::string_view w :
         absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty())) {
      argv.emplace_back(w);
    }
    DaemonOptions parsed = ParseDaemonArgs(argv);
    o.storage_opts.insert(o.storage_opts.end(), parsed.storage_opts.begin(),
                          parsed.storage_opts.end());
    if (parsed.storage_driver) o.storage_driver = parsed.storage_driver;
  }
  return o;
}

std::optional<DaemonProcess> FindDaemon(const HostPaths& paths) {
  if (absl::StatusOr<std::string> text = ReadFileBounded(paths.pid_file, 64);
      text.ok()) {
    if (std::optional<pid_t> pid = ParsePid(*text)) {
      std::optional<std::vector<std::string>> argv = ReadCmdline(paths, *pid);
      if (argv && IsDaemonCommandLine(*argv)) {
        return DaemonProcess{*pid, std::move(*argv)};
      }
    }
  }
  DIR* d = opendir(paths.proc.c_str());
  if (d == nullptr) return std::nullopt;
  std::vector<pid_t> pids;
  while (dirent* e = readdir(d)) {
    if (std::optional<pid_t> pid = ParsePid(e->d_name)) pids.push_back(*pid);
  }
  closedir(d);
  std::sort(pids.begin(), pids.end());
  for (pid_t pid : pids) {
    std::optional<std::vector<std::string>> argv = ReadCmdline(paths, pid);
    if (argv && IsDaemonCommandLine(*argv)) {
      return DaemonProcess{pid, std::move(*argv)};
    }
  }
  return std::nullopt;
}

Discovery Discover(const std::optional<std::string>& root_flag,
                   const HostPaths& paths) {
  Discovery d;
  d.daemon = FindDaemon(paths);
  DaemonOptions from_daemon;
  if (d.daemon) from_daemon = ParseDaemonArgs(d.daemon->argv);

  DaemonOptions from_json;
  std::string json_path = absl::StrCat(paths.etc, "/docker/daemon.json");
  if (absl::StatusOr<std::string> text = ReadFileBounded(json_path, 1 << 20);
      text.ok()) {
    if (absl::StatusOr<DaemonOptions> o = ParseDaemonJson(*text); o.ok()) {
      from_json = *o;
    } else {
      d.warnings.push_back(absl::StrCat(json_path, ": ", o.status().message()));
    }
  }
  DaemonOptions from_sysconfig;
  if (absl::StatusOr<std::string> text = ReadFileBounded(
          absl::StrCat(paths.etc, "/sysconfig/docker-storage"), 1 << 20);
      text.ok()) {
    from_sysconfig = ParseSysconfigStorage(*text);
  }

  std::string daemon_name = d.daemon
                                ? absl::StrCat(Basename(d.daemon->argv[0]),
                                               " (pid ", d.daemon->pid, ")")
                                : "";
  if (root_flag) {
    d.root = *root_flag;
    d.root_source = "--root";
  } else if (from_daemon.root) {
    d.root = *from_daemon.root;
    d.root_source = absl::StrCat(daemon_name, " command line");
  } else if (from_json.root) {
    d.root = *from_json.root;
    d.root_source = json_path;
  } else {
    d.root = "/var/lib/docker";
    d.root_source = "default";
  }

  struct Source {
    const DaemonOptions* options;
    std::string name;
  };
  for (const Source& s :
       {Source{&from_daemon, absl::StrCat(daemon_name, " command line")},
        Source{&from_json, json_path},
        Source{&from_sysconfig,
               absl::StrCat(paths.etc, "/sysconfig/docker-storage")}}) {
    if (std::optional<std::string> v =
            FindOpt(s.options->storage_opts, "dm.thinpooldev");
        v && !v->empty()) {
      std::string pool = *v;
      absl::string_view p = pool;
      absl::ConsumePrefix(&p, "/dev/mapper/");
      d.thinpooldev = std::string(p);
      d.thinpooldev_source = absl::StrCat(s.name, " dm.thinpooldev");
      break;
    }
    if (std::optional<std::string> v =
            FindOpt(s.options->storage_opts, "dm.directlvm_device");
        v && !v->empty()) {
      d.directlvm = true;
      d.thinpooldev_source = absl::StrCat(s.name, " dm.directlvm_device");
      break;
    }
  }
  return d;
}

PoolChoice ChoosePool(const std::optional<std::string>& pool_flag,
                      const Discovery& discovery, absl::string_view prefix) {
  if (pool_flag) {
    absl::string_view p = *pool_flag;
    absl::ConsumePrefix(&p, "/dev/mapper/");
    return {std::string(p), "--pool"};
  }
  if (discovery.thinpooldev) {
    return {*discovery.thinpooldev, discovery.thinpooldev_source};
  }
  if (discovery.directlvm) {
    return {"docker-thinpool", discovery.thinpooldev_source};
  }
  return {PoolName(prefix), "derived from the root"};
}

}  // namespace dmkit::docker
