// The files of Docker's devicemapper store and daemon configuration
// (tools/docker/store.h, discovery.h), all on the same input:
//   * ParseDeviceMetadata, ParseDeviceSetMetadata, ParseTransactionMetadata,
//     ParseContainerConfig and ParseDaemonJson: what they accept, written
//     back as the JSON Docker writes (json::Writer) and parsed again, is
//     unchanged; thin device ids fit 24 bits, a device size is a positive
//     multiple of 512;
//   * ParseMountId: an accepted id is the trimmed text, at most 96 bytes of
//     [0-9A-Za-z._-], not "." or "..", parses to itself again, and makes a
//     valid device-mapper name with Docker's prefix;
//   * ParseDaemonArgs (the input split on NUL, as /proc/PID/cmdline is):
//     every value it returns is one of the words, or what follows '=' in
//     one; ParseSysconfigStorage and IsDaemonCommandLine do not crash.
#include <sys/sysmacros.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "dmioctl/types.h"
#include "tests/fuzz/script_kernel.h"
#include "tools/common/json_writer.h"
#include "tools/docker/discovery.h"
#include "tools/docker/store.h"

namespace docker = dmkit::docker;
namespace json = dmkit::json;

namespace {

void CheckDeviceMetadata(absl::string_view text) {
  auto m = docker::ParseDeviceMetadata(text);
  if (!m.ok()) return;
  FUZZ_CHECK(m->device_id <= 0xffffff);
  FUZZ_CHECK(m->size > 0 && m->size % 512 == 0 &&
             m->sectors() * 512 == m->size);
  json::Writer w;
  w.BeginObject();
  w.Key("device_id").Uint(m->device_id).Key("size").Uint(m->size);
  w.Key("transaction_id").Uint(m->transaction_id);
  w.Key("initialized").Bool(m->initialized).Key("deleted").Bool(m->deleted);
  w.EndObject();
  auto again = docker::ParseDeviceMetadata(w.Take());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->device_id == m->device_id && again->size == m->size &&
             again->transaction_id == m->transaction_id &&
             again->initialized == m->initialized &&
             again->deleted == m->deleted);
}

void CheckDeviceSetMetadata(absl::string_view text) {
  auto m = docker::ParseDeviceSetMetadata(text);
  if (!m.ok()) return;
  json::Writer w;
  w.BeginObject().Key("next_device_id").Uint(m->next_device_id);
  w.Key("BaseDeviceUUID").String(m->base_device_uuid);
  w.Key("BaseDeviceFilesystem").String(m->base_device_filesystem);
  w.EndObject();
  auto again = docker::ParseDeviceSetMetadata(w.Take());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->next_device_id == m->next_device_id &&
             again->base_device_uuid == m->base_device_uuid &&
             again->base_device_filesystem == m->base_device_filesystem);
}

void CheckTransactionMetadata(absl::string_view text) {
  auto m = docker::ParseTransactionMetadata(text);
  if (!m.ok()) return;
  FUZZ_CHECK(m->device_id <= 0xffffff);
  json::Writer w;
  w.BeginObject().Key("open_transaction_id").Uint(m->open_transaction_id);
  w.Key("device_hash").String(m->device_hash);
  w.Key("device_id").Uint(m->device_id).EndObject();
  auto again = docker::ParseTransactionMetadata(w.Take());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->open_transaction_id == m->open_transaction_id &&
             again->device_hash == m->device_hash &&
             again->device_id == m->device_id);
}

void CheckContainerConfig(absl::string_view text) {
  auto c = docker::ParseContainerConfig(text);
  if (!c.ok()) return;
  json::Writer w;
  w.BeginObject().Key("ID").String(c->id).Key("Name").String(c->name);
  w.Key("Image").String(c->image).Key("Driver").String(c->driver);
  w.Key("State").BeginObject().Key("Running").Bool(c->running);
  w.Key("Pid").Int(c->pid).EndObject().EndObject();
  auto again = docker::ParseContainerConfig(w.Take());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->id == c->id && again->name == c->name &&
             again->image == c->image && again->driver == c->driver &&
             again->running == c->running && again->pid == c->pid);
}

void CheckDaemonJson(absl::string_view text) {
  auto o = docker::ParseDaemonJson(text);
  if (!o.ok()) return;
  json::Writer w;
  w.BeginObject();
  if (o->root) w.Key("data-root").String(*o->root);
  if (o->storage_driver) w.Key("storage-driver").String(*o->storage_driver);
  w.Key("storage-opts").BeginArray();
  for (const std::string& opt : o->storage_opts) w.String(opt);
  w.EndArray().EndObject();
  auto again = docker::ParseDaemonJson(w.Take());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->root == o->root &&
             again->storage_driver == o->storage_driver &&
             again->storage_opts == o->storage_opts);
}

void CheckMountId(absl::string_view text) {
  auto id = docker::ParseMountId(text);
  if (!id.ok()) return;
  FUZZ_CHECK(*id == absl::StripAsciiWhitespace(text));
  FUZZ_CHECK(!id->empty() && id->size() <= 96 && *id != "." && *id != "..");
  for (char c : *id) {
    FUZZ_CHECK(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
               c == '_' || c == '.');
  }
  auto again = docker::ParseMountId(*id);
  FUZZ_CHECK(again.ok() && *again == *id);
  // A usual prefix: st_dev 253:0, a 7-digit inode.
  std::string prefix = docker::DevicePrefix(makedev(253, 0), 1234567);
  FUZZ_CHECK(dmioctl::ValidateName(docker::DeviceName(prefix, *id)).ok());
}

// `value` is a word of `argv`, or the part of one after its first '='.
bool FromArgv(const std::vector<std::string>& argv, const std::string& value) {
  for (const std::string& word : argv) {
    if (word == value) return true;
    size_t eq = word.find('=');
    if (eq != std::string::npos && word.substr(eq + 1) == value) return true;
  }
  return false;
}

void CheckDaemonArgs(absl::string_view text) {
  std::vector<std::string> argv = absl::StrSplit(text, '\0');
  (void)docker::IsDaemonCommandLine(argv);
  docker::DaemonOptions o = docker::ParseDaemonArgs(argv);
  if (o.root) FUZZ_CHECK(FromArgv(argv, *o.root));
  if (o.storage_driver) FUZZ_CHECK(FromArgv(argv, *o.storage_driver));
  for (const std::string& opt : o.storage_opts) {
    FUZZ_CHECK(FromArgv(argv, opt));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckDeviceMetadata(text);
  CheckDeviceSetMetadata(text);
  CheckTransactionMetadata(text);
  CheckContainerConfig(text);
  CheckDaemonJson(text);
  CheckMountId(text);
  CheckDaemonArgs(text);
  (void)docker::ParseSysconfigStorage(text);
  return 0;
}
