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

absl::Status CreateConciseBatch(Session& s,
                                const std::vector<std::string>& args) {
  Options& o = s.opt();
  if (o.table_set || o.minor_set || o.uuid_set || o.notable || o.inactive) {
    return Failure(
        "--concise is incompatible with --[no]table, --minor, --uuid and "
        "--inactive.");
  }
  if (args.size() > 1) {
    return Failure("dmsetup create --concise takes at most one argument");
  }
  DMKIT_ASSIGN_OR_RETURN(std::string text, ConciseText(args));
  // Everything is checked before the first ioctl.
  DMKIT_ASSIGN_OR_RETURN(std::vector<dmioctl::DeviceSpec> specs,
                         dmioctl::ParseConcise(text));
  for (dmioctl::DeviceSpec& spec : specs) {
    DMKIT_ASSIGN_OR_RETURN(spec.name, s.TaskName(spec.name, true));
    if (!spec.uuid.empty()) {
      DMKIT_ASSIGN_OR_RETURN(spec.uuid, s.TaskUuid(spec.uuid));
    }
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  s.Nodes().set_ownership(kDebianNodeOwnership);
  absl::StatusOr<std::vector<dmioctl::DeviceInfo>> made;
  {
    BatchSignals signals;
    made = dmioctl::CreateDevices(
        *dm, specs, {.jobs = o.jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
  }
  if (absl::IsCancelled(made.status())) {
    return Failure(
        absl::StrCat("Interrupted by signal ", g_signal.load(),
                     ": the devices this command created were removed."));
  }
  if (!made.ok()) {
    // One line: what failed, and (for several devices) that the rest of
    // the batch is undone.
    if (specs.size() == 1) return made.status();
    return Failure(
        absl::StrCat(ErrorText(made.status()),
                     " (the devices this command created were removed)"));
  }
  for (const dmioctl::DeviceInfo& info : *made) {
    s.SetReadAhead(info.name, info.dev);
    if (o.verbose) {
      DMKIT_ASSIGN_OR_RETURN(std::string shown, s.Unmangled(info.name, "name"));
      s.DisplayInfo(info, shown);
    }
  }
  return absl::OkStatus();
}

// The batch wipes the table itself for --force (dmsetup remove -f wipes it
// with its own messages first).
dmioctl::RemoveOptions BatchRemoveOptions(const Options& o) {
  dmioctl::RemoveOptions remove = RemoveOptionsFrom(o);
  remove.force = o.force > 0;
  return remove;
}

absl::Status RemoveBatch(Session& s, const std::vector<std::string>& args) {
  std::vector<dmioctl::DeviceRef> refs;
  if (args.empty()) {
    // -u / -j -m
    DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(nullptr));
    refs.push_back(sel.Ref());
  }
  for (const std::string& arg : args) {
    DMKIT_ASSIGN_OR_RETURN(DeviceSel sel, s.SelectDevice(&arg));
    refs.push_back(sel.Ref());
  }
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  absl::Status removed;
  {
    BatchSignals signals;
    removed = dmioctl::RemoveDevices(
        *dm, refs, BatchRemoveOptions(s.opt()),
        {.jobs = s.opt().jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
  }
  if (absl::IsCancelled(removed)) {
    return Failure(absl::StrCat("Interrupted by signal ", g_signal.load(),
                                ": devices not yet started were left in "
                                "place."));
  }
  return removed;
}

// Rounds of parallel removes of every device, as long as a round removes
// something (a device used by another one goes once its user is gone); then
// mknodes. Devices still open are left, as the kernel's remove_all leaves
// them. Failures are printed as they come, the rounds' before mknodes runs.
absl::Status RemoveAllBatch(Session& s) {
  DMKIT_ASSIGN_OR_RETURN(dmioctl::DeviceMapper * dm, s.Dm());
  BatchSignals signals;
  size_t before = SIZE_MAX;
  absl::Status rounds;
  for (;;) {
    DMKIT_ASSIGN_OR_RETURN(std::vector<dmioctl::DeviceListEntry> list,
                           dm->ListDevices({.with_uuid = false}));
    if (list.empty() || list.size() >= before || g_cancel) {
      if (!list.empty() && s.opt().force) {
        rounds = Failure(
            absl::StrCat("Unable to remove ", list.size(), " device(s)."));
      }
      break;
    }
    before = list.size();
    std::vector<dmioctl::DeviceRef> refs;
    for (const dmioctl::DeviceListEntry& d : list) {
      refs.push_back(dmioctl::DeviceRef::ByName(d.name));
    }
    absl::Status removed = dmioctl::RemoveDevices(
        *dm, refs, BatchRemoveOptions(s.opt()),
        {.jobs = s.opt().jobs, .nodes = &s.Nodes(), .cancel = &g_cancel});
    int e = dmkit::ErrnoOf(removed);
    // Busy devices are the next round's (or stay); vanished ones are fine.
    if (!removed.ok() && e != EBUSY && e != ENXIO &&
        !absl::IsCancelled(removed)) {
      rounds = removed;
      break;
    }
  }
  s.PrintError(rounds);
  if (g_cancel) {
    s.PrintError(
        Failure(absl::StrCat("Interrupted by signal ", g_signal.load(), ".")));
    rounds = Printed();
  }
  absl::Status made = Mknodes(s, nullptr);
  if (rounds.ok()) return made;
  s.PrintError(made);
  return Printed();
}

}  // namespace

bool BatchHandles(const Command* cmd, const Options& o) {
  absl::string_view name = cmd->name;
  return (name == "create" && o.concise) || name == "remove" ||
         name == "remove_all";
}

absl::Status RunBatch(Session& s, const Command* cmd,
                      const std::vector<std::string>& args) {
  absl::string_view name = cmd->name;
  if (name == "create") return CreateConciseBatch(s, args);
  if (name == "remove") return RemoveBatch(s, args);
  return RemoveAllBatch(s);
}

}  // namespace dmkit::dmsetup
