// dmkit's --jobs N for `create --concise`, `remove` and `remove_all`: the
// devices are worked on N at a time with dmioctl::CreateDevices and
// RemoveDevices (the kernel's remove waits for RCU grace periods, which
// overlap across threads). Each device goes through the same operation as
// without --jobs (dmioctl::CreateDevice, RemoveDevice); without --jobs
// commands.cc words every step as dmsetup does, one device at a time.
//
// A batch create is all or nothing: every table is parsed before the first
// ioctl, and a failure (or SIGINT/SIGTERM, which stop new devices from being
// started) removes every device the batch made, so nothing is left
// half-made; the failure is one line (then "Command failed."). A batch
// remove reports the first failure in argument order.
#include "tools/dmsetup/batch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"
#include "dmioctl/operations.h"
#include "tools/dmsetup/commands.h"

namespace dmkit::dmsetup {
namespace {

std::atomic<bool> g_cancel{false};
std::atomic<int> g_signal{0};

extern "C" void OnBatchSignal(int sig) {
  g_signal = sig;
  g_cancel = true;
}

// SIGINT and SIGTERM set g_cancel while a batch runs.
class BatchSignals {
 public:
  BatchSignals() {
    g_cancel = false;
    g_signal = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = OnBatchSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~BatchSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  BatchSignals(const BatchSignals&) = delete;
  BatchSignals& operator=(const BatchSignals&) = delete;

 private:
  struct sigaction old_int_;
  struct sigaction old_term_;
};

bool ReadStdin(std::string* text) {
  char buf[4096];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    text->append(buf, static_cast<size_t>(n));
  }
}

// The error line of a failed batch: libdm's ioctl line when the status came
// from an ioctl, else its message.
std::string ErrorLine(const absl::Status& status) {
  std::optional<dmioctl::IoctlErrorInfo> info =
      dmioctl::GetIoctlErrorInfo(status);
  if (!info) return std::string(status.message());
  IoctlTarget target{info->name, info->uuid, -1, -1};
  if (info->dev) {
    target.major = static_cast<int>(info->dev->major);
    target.minor = static_cast<int>(info->dev->minor);
  }
  return FormatStatusError(info->operation, target, status);
}

void ReportError(Session& s, const absl::Status& status) {
  s.Err(ErrorLine(status));
}

bool CreateConciseBatch(Session& s, const std::vector<std::string>& args) {
  Options& o = s.opt();
  if (o.table_set || o.minor_set || o.uuid_set || o.notable || o.inactive) {
    s.Err(
        "--concise is incompatible with --[no]table, --minor, --uuid and "
        "--inactive.");
    return false;
  }
  if (args.size() > 1) {
    s.Err("dmsetup create --concise takes at most one argument");
    return false;
  }
  std::string text;
  if (!args.empty()) {
    text = args[0];
  } else if (!ReadStdin(&text)) {
    s.Err(absl::StrCat("Read from stdin aborted: ", strerror(errno)));
    return false;
  }
  // Everything is checked before the first ioctl.
  absl::StatusOr<std::vector<dmioctl::DeviceSpec>> parsed =
      dmioctl::ParseConcise(text);
  if (!parsed.ok()) {
    s.Err(parsed.status().message());
    return false;
  }
  std::vector<dmioctl::DeviceSpec>& specs = *parsed;
  for (dmioctl::DeviceSpec& spec : specs) {
    std::optional<std::string> name = s.TaskName(spec.name, true);
    if (!name) return false;
    spec.name = *name;
    if (!spec.uuid.empty()) {
      std::optional<std::string> uuid = s.TaskUuid(spec.uuid);
      if (!uuid) return false;
      spec.uuid = *uuid;
    }
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  s.Nodes().set_ownership(kDebianNodeOwnership);
  absl::StatusOr<std::vector<dmioctl::DeviceInfo>> made;
  {
    BatchSignals signals;
    made = dmioctl::CreateDevices(
        *dm, specs, {.jobs = o.jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
  }
  if (!made.ok()) {
    if (absl::IsCancelled(made.status())) {
      s.Err(absl::StrCat("Interrupted by signal ", g_signal.load(),
                         ": the devices this command created were removed."));
    } else {
      // One line: what failed, and (for several devices) that the rest of
      // the batch is undone.
      std::string line = ErrorLine(made.status());
      if (specs.size() > 1) {
        absl::StrAppend(&line,
                        " (the devices this command created were removed)");
      }
      s.Err(line);
    }
    return false;
  }
  for (const dmioctl::DeviceInfo& info : *made) {
    s.SetReadAhead(info.name, info.dev);
    if (o.verbose) {
      std::optional<std::string> shown = s.Unmangled(info.name, "name");
      if (!shown) return false;
      s.DisplayInfo(info, *shown);
    }
  }
  return true;
}

// The batch wipes the table itself for --force (dmsetup remove -f wipes it
// with its own messages first).
dmioctl::RemoveOptions BatchRemoveOptions(const Options& o) {
  dmioctl::RemoveOptions remove = RemoveOptionsFrom(o);
  remove.force = o.force > 0;
  return remove;
}

bool RemoveBatch(Session& s, const std::vector<std::string>& args) {
  std::vector<dmioctl::DeviceRef> refs;
  if (args.empty()) {
    std::optional<DeviceSel> sel = s.SelectDevice(nullptr);  // -u / -j -m
    if (!sel) return false;
    refs.push_back(sel->Ref());
  }
  for (const std::string& arg : args) {
    std::optional<DeviceSel> sel = s.SelectDevice(&arg);
    if (!sel) return false;
    refs.push_back(sel->Ref());
  }
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  absl::Status removed;
  {
    BatchSignals signals;
    removed = dmioctl::RemoveDevices(
        *dm, refs, BatchRemoveOptions(s.opt()),
        {.jobs = s.opt().jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
  }
  if (absl::IsCancelled(removed)) {
    s.Err(absl::StrCat("Interrupted by signal ", g_signal.load(),
                       ": devices not yet started were left in place."));
    return false;
  }
  if (!removed.ok()) ReportError(s, removed);
  return removed.ok();
}

// Rounds of parallel removes of every device, as long as a round removes
// something (a device used by another one goes once its user is gone); then
// mknodes. Devices still open are left, as the kernel's remove_all leaves
// them.
bool RemoveAllBatch(Session& s) {
  dmioctl::DeviceMapper* dm = s.Dm();
  if (dm == nullptr) return false;
  BatchSignals signals;
  size_t before = SIZE_MAX;
  bool ok = true;
  for (;;) {
    absl::StatusOr<std::vector<dmioctl::DeviceListEntry>> list =
        dm->ListDevices({.with_uuid = false});
    if (!list.ok()) {
      s.IoctlError("names", IoctlTarget{}, list.status());
      return false;
    }
    if (list->empty() || list->size() >= before || g_cancel) {
      if (!list->empty() && s.opt().force) {
        s.Err(absl::StrCat("Unable to remove ", list->size(), " device(s)."));
        ok = false;
      }
      break;
    }
    before = list->size();
    std::vector<dmioctl::DeviceRef> refs;
    for (const dmioctl::DeviceListEntry& d : *list) {
      refs.push_back(dmioctl::DeviceRef::ByName(d.name));
    }
    absl::Status removed = dmioctl::RemoveDevices(
        *dm, refs, BatchRemoveOptions(s.opt()),
        {.jobs = s.opt().jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
    int e = dmkit::ErrnoOf(removed);
    // Busy devices are the next round's (or stay); vanished ones are fine.
    if (!removed.ok() && e != EBUSY && e != ENXIO &&
        !absl::IsCancelled(removed)) {
      ReportError(s, removed);
      ok = false;
      break;
    }
  }
  if (g_cancel) {
    s.Err(absl::StrCat("Interrupted by signal ", g_signal.load(), "."));
    ok = false;
  }
  return Mknodes(s, nullptr) && ok;
}

}  // namespace

bool RunBatch(Session& s, const Command* cmd,
              const std::vector<std::string>& args, bool* handled) {
  std::string name = cmd->name;
  *handled = true;
  if (name == "create" && s.opt().concise) return CreateConciseBatch(s, args);
  if (name == "remove") return RemoveBatch(s, args);
  if (name == "remove_all") return RemoveAllBatch(s);
  *handled = false;
  s.Err("--jobs is only for create --concise, remove and remove_all.");
  return false;
}

}  // namespace dmkit::dmsetup
