#include "tools/docker/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "dmioctl/error.h"
#include "tools/docker/json.h"

namespace dmkit::docker {
namespace {

absl::Status Prefixed(absl::string_view what, const absl::Status& s) {
  absl::Status r(s.code(), absl::StrCat(what, ": ", s.message()));
  // Keep the errno payload, if any, for callers that branch on it.
  s.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    r.SetPayload(url, payload);
  });
  return r;
}

absl::StatusOr<json::Value> ParseObject(absl::string_view text) {
  absl::StatusOr<json::Value> doc = json::Parse(text);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expected a JSON object, found ", json::TypeName(doc->type())));
  }
  return doc;
}

// A member that may be absent (Go's decoder leaves the zero value), but must
// have the right type when present.
template <typename T, typename Getter>
absl::Status Optional(const json::Value& doc, absl::string_view key, T& out,
                      Getter get) {
  if (doc.Find(key) == nullptr) return absl::OkStatus();
  absl::StatusOr<T> v = get(doc, key);
  if (!v.ok()) return v.status();
  out = *v;
  return absl::OkStatus();
}

bool IsHashChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '_' || c == '.';
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return dmkit::ErrnoError(errno, absl::StrCat("open ", dir));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    names.emplace_back(e->d_name);
  }
  closedir(d);
  return names;
}

}  // namespace

absl::StatusOr<DeviceMetadata> ParseDeviceMetadata(absl::string_view text) {
  absl::StatusOr<json::Value> doc = ParseObject(text);
  if (!doc.ok()) return doc.status();
  DeviceMetadata m;
  // device_id and size are what activation needs: they must be there.
  absl::StatusOr<uint64_t> id = json::GetUint64(*doc, "device_id");
  if (!id.ok()) return id.status();
  if (*id > 0xffffff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"device_id\": ", *id, " is not a thin device id (24 bits)"));
  }
  m.device_id = static_cast<uint32_t>(*id);
  absl::StatusOr<uint64_t> size = json::GetUint64(*doc, "size");
  if (!size.ok()) return size.status();
  m.size = *size;
  if (m.size == 0 || m.size % 512 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"size\": ", m.size, " is not a positive multiple of 512 bytes"));
  }
  for (absl::Status s :
       {Optional(*doc, "transaction_id", m.transaction_id, json::GetUint64),
        Optional(*doc, "initialized", m.initialized, json::GetBool),
        Optional(*doc, "deleted", m.deleted, json::GetBool)}) {
    if (!s.ok()) return s;
  }
  return m;
}

absl::StatusOr<DeviceSetMetadata> ParseDeviceSetMetadata(
    absl::string_view text) {
  absl::StatusOr<json::Value> doc = ParseObject(text);
  if (!doc.ok()) return doc.status();
  DeviceSetMetadata m;
  for (absl::Status s :
       {Optional(*doc, "next_device_id", m.next_device_id, json::GetUint64),
        Optional(*doc, "BaseDeviceUUID", m.base_device_uuid, json::GetString),
        Optional(*doc, "BaseDeviceFilesystem", m.base_device_filesystem,
                 json::GetString)}) {
    if (!s.ok()) return s;
  }
  return m;
}

absl::StatusOr<TransactionMetadata> ParseTransactionMetadata(
    absl::string_view text) {
  absl::StatusOr<json::Value> doc = ParseObject(text);
  if (!doc.ok()) return doc.status();
  TransactionMetadata m;
  uint64_t id = 0;
  for (absl::Status s :
       {Optional(*doc, "open_transaction_id", m.open_transaction_id,
                 json::GetUint64),
        Optional(*doc, "device_hash", m.device_hash, json::GetString),
        Optional(*doc, "device_id", id, json::GetUint64)}) {
    if (!s.ok()) return s;
  }
  if (id > 0xffffff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"device_id\": ", id, " is not a thin device id (24 bits)"));
  }
  m.device_id = static_cast<uint32_t>(id);
  return m;
}

absl::StatusOr<ContainerConfig> ParseContainerConfig(absl::string_view text) {
  absl::StatusOr<json::Value> doc = ParseObject(text);
  if (!doc.ok()) return doc.status();
  ContainerConfig c;
  for (absl::Status s : {Optional(*doc, "ID", c.id, json::GetString),
                         Optional(*doc, "Name", c.name, json::GetString),
                         Optional(*doc, "Image", c.image, json::GetString),
                         Optional(*doc, "Driver", c.driver, json::GetString)}) {
    if (!s.ok()) return s;
  }
  if (const json::Value* state = doc->Find("State");
      state != nullptr && !state->is_null()) {
    if (!state->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"State\": expected object, found ", json::TypeName(state->type())));
    }
    for (absl::Status s :
         {Optional(*state, "Running", c.running, json::GetBool),
          Optional(*state, "Pid", c.pid, json::GetInt64)}) {
      if (!s.ok()) return Prefixed("\"State\"", s);
    }
  }
  return c;
}

absl::StatusOr<std::string> ParseMountId(absl::string_view text) {
  absl::string_view id = absl::StripAsciiWhitespace(text);
  if (id.empty()) return absl::InvalidArgumentError("empty mount-id");
  // A dm name holds at most 127 bytes; Docker's prefix takes about 30.
  if (id.size() > 96) {
    return absl::InvalidArgumentError(
        absl::StrCat("mount-id of ", id.size(), " bytes is too long"));
  }
  for (char c : id) {
    if (!IsHashChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("mount-id '", absl::CHexEscape(id),
                       "' has a character that is not [0-9A-Za-z._-]"));
    }
  }
  if (id == "." || id == "..") {
    return absl::InvalidArgumentError(absl::StrCat("mount-id '", id, "'"));
  }
  return std::string(id);
}

std::string DevicePrefix(dev_t st_dev, ino_t st_ino) {
  uint64_t dev = st_dev;
  uint64_t major = (dev >> 8) & 0xfff;
  uint64_t minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return absl::StrCat("docker-", major, ":", minor, "-",
                      static_cast<uint64_t>(st_ino));
}

std::string DeviceName(absl::string_view prefix, absl::string_view hash) {
  return absl::StrCat(prefix, "-", hash.empty() ? "base" : hash);
}

std::string PoolName(absl::string_view prefix) {
  return absl::StrCat(prefix, "-pool");
}

absl::StatusOr<std::string> ReadFileBounded(const std::string& path,
                                            size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dmkit::ErrnoError(errno, absl::StrCat("read ", path));
  std::string data;
  char buf[8192];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int saved = errno;
      close(fd);
      return dmkit::ErrnoError(saved, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    if (data.size() + n > max_bytes) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat("read ", path, ": larger than ", max_bytes, " bytes"));
    }
    data.append(buf, n);
  }
  close(fd);
  return data;
}

Store::Store(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Store::DriverHome() const {
  return absl::StrCat(root_, "/devicemapper");
}
std::string Store::ContainersDir() const {
  return absl::StrCat(root_, "/containers");
}
std::string Store::ConfigPath(absl::string_view id) const {
  return absl::StrCat(ContainersDir(), "/", id, "/config.v2.json");
}
std::string Store::LayerMountsDir() const {
  return absl::StrCat(root_, "/image/devicemapper/layerdb/mounts");
}
std::string Store::MountIdPath(absl::string_view id) const {
  return absl::StrCat(LayerMountsDir(), "/", id, "/mount-id");
}
std::string Store::MetadataDir() const {
  return absl::StrCat(DriverHome(), "/metadata");
}
std::string Store::MetadataPath(absl::string_view hash) const {
  return absl::StrCat(MetadataDir(), "/", hash.empty() ? "base" : hash);
}
std::string Store::LoopDataPath() const {
  return absl::StrCat(DriverHome(), "/devicemapper/data");
}
std::string Store::LoopMetadataPath() const {
  return absl::StrCat(DriverHome(), "/devicemapper/metadata");
}
std::string Store::MountPointOf(absl::string_view hash) const {
  return absl::StrCat(DriverHome(), "/mnt/", hash);
}

absl::StatusOr<std::string> Store::Prefix() const {
  struct stat st;
  std::string home = DriverHome();
  if (stat(home.c_str(), &st) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat("stat ", home));
  }
  return DevicePrefix(st.st_dev, st.st_ino);
}

absl::StatusOr<std::vector<std::string>> Store::ListContainerIds() const {
  absl::StatusOr<std::vector<std::string>> configs = ListDir(ContainersDir());
  absl::StatusOr<std::vector<std::string>> mounts = ListDir(LayerMountsDir());
  if (!configs.ok() && !mounts.ok()) {
    return absl::NotFoundError(absl::StrCat(
        root_, " does not look like a Docker devicemapper root: ",
        configs.status().message(), "; ", mounts.status().message()));
  }
  std::set<std::string> ids;
  if (configs.ok()) ids.insert(configs->begin(), configs->end());
  if (mounts.ok()) ids.insert(mounts->begin(), mounts->end());
  return std::vector<std::string>(ids.begin(), ids.end());
}

absl::StatusOr<ContainerConfig> Store::ReadConfig(absl::string_view id) const {
  std::string path = ConfigPath(id);
  absl::StatusOr<std::string> text = ReadFileBounded(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<ContainerConfig> c = ParseContainerConfig(*text);
  if (!c.ok()) return Prefixed(path, c.status());
  return c;
}

absl::StatusOr<std::string> Store::ReadMountId(absl::string_view id) const {
  std::string path = MountIdPath(id);
  absl::StatusOr<std::string> text = ReadFileBounded(path, 4096);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::string> m = ParseMountId(*text);
  if (!m.ok()) return Prefixed(path, m.status());
  return m;
}

absl::StatusOr<DeviceMetadata> Store::ReadDeviceMetadata(
    absl::string_view hash) const {
  std::string path = MetadataPath(hash);
  absl::StatusOr<std::string> text = ReadFileBounded(path, 1 << 20);
  if (!text.ok()) return text.status();
  absl::StatusOr<DeviceMetadata> m = ParseDeviceMetadata(*text);
  if (!m.ok()) return Prefixed(path, m.status());
  return m;
}

std::string Container::ShortName() const {
  return absl::StartsWith(name, "/") ? name.substr(1) : name;
}

absl::StatusOr<std::vector<Container>> LoadContainers(const Store& store) {
  absl::StatusOr<std::vector<std::string>> ids = store.ListContainerIds();
  if (!ids.ok()) return ids.status();
  std::vector<Container> containers;
  containers.reserve(ids->size());
  for (const std::string& id : *ids) {
    Container c;
    c.id = id;
    if (absl::StatusOr<ContainerConfig> config = store.ReadConfig(id);
        config.ok()) {
      c.name = config->name;
      c.running = config->running;
    } else {
      c.config_error = config.status();
    }
    if (absl::StatusOr<std::string> mid = store.ReadMountId(id); mid.ok()) {
      c.mount_id = *mid;
      if (absl::StatusOr<DeviceMetadata> m = store.ReadDeviceMetadata(*mid);
          m.ok()) {
        c.device = *m;
      } else {
        c.device_error = m.status();
      }
    } else {
      c.mount_id_error = mid.status();
    }
    containers.push_back(std::move(c));
  }
  return containers;
}

absl::StatusOr<const Container*> ResolveContainer(
    const std::vector<Container>& containers, absl::string_view query) {
  if (query.empty()) return absl::InvalidArgumentError("empty container name");
  for (const Container& c : containers) {
    if (c.id == query) return &c;
  }
  absl::string_view name = absl::StripPrefix(query, "/");
  for (const Container& c : containers) {
    if (!c.name.empty() && c.ShortName() == name) return &c;
  }
  std::vector<const Container*> matches;
  for (const Container& c : containers) {
    if (absl::StartsWith(c.id, query)) matches.push_back(&c);
  }
  if (matches.size() == 1) return matches[0];
  if (matches.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no container with id, id prefix or name '", query, "'"));
  }
  std::vector<std::string> lines;
  for (const Container* c : matches) {
    lines.push_back(c->name.empty() ? c->id
                                    : absl::StrCat(c->id, " ", c->name));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "container prefix '", query, "' is ambiguous; it matches:\n  ",
      absl::StrJoin(lines, "\n  ")));
}

}  // namespace dmkit::docker
