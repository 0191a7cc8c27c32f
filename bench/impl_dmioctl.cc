// dmioctl as an application uses it: DeviceMapper calls for single
// operations, CreateDevice/RemoveDevice (with DeviceNodes) for the
// create+load+resume+node sequence dmsetup performs. The queries (info,
// status, table, list) use the reusing forms with results kept across
// calls, as a program that polls devices would (bare keeps its buffers
// too).
#include <errno.h>
#include <stdio.h>

#include <vector>

#include "dmioctl/error.h"
#include "dmioctl/nodes.h"
#include "dmioctl/operations.h"
#include "impl.h"

namespace dmkit::bench {
namespace {

class Dmioctl final : public Impl {
 public:
  explicit Dmioctl(dmioctl::DeviceMapper* dm) : dm_(*dm) {}
  const char* name() const override { return "dmioctl"; }

  int Create(const Dev& dev) override {
    return Check(dm_.CreateDevice({.name = dev.name}).status(), "create");
  }
  int Load(const Dev& dev, const OneTarget& t) override {
    return Check(dm_.LoadTable(dev.ref, t.table).status(), "load");
  }
  int Resume(const Dev& dev) override {
    return Check(dm_.Resume(dev.ref).status(), "resume");
  }
  int Suspend(const Dev& dev) override {
    return Check(dm_.Suspend(dev.ref).status(), "suspend");
  }
  int Info(const Dev& dev) override {
    return Check(dm_.GetInfo(dev.ref, false, &info_), "info");
  }
  int Status(const Dev& dev) override {
    return Check(dm_.GetStatus(dev.ref, {}, &reply_), "status");
  }
  int Table(const Dev& dev) override {
    return Check(dm_.GetTable(dev.ref, false, &reply_), "table");
  }
  int List(size_t* count) override {
    // Names and numbers, as bare and libdm's DM_DEVICE_LIST ask for (and
    // `dmsetup ls`): no DM_UUID_FLAG.
    absl::Status listed = dm_.ListDevices({.with_uuid = false}, &list_);
    if (!listed.ok()) return Check(listed, "list");
    *count = list_.size();
    return 0;
  }
  int Message(const Dev& dev, const char* message) override {
    return Check(dm_.SendMessage(dev.ref, 0, message).status(), "message");
  }
  int Remove(const Dev& dev) override {
    return Check(dm_.RemoveDevice(dev.ref).status(), "remove");
  }
  int CreateActive(const Dev& dev, const OneTarget& t) override {
    return Check(
        dmioctl::CreateDevice(dm_, dev.name, t.table, {.nodes = &nodes_})
            .status(),
        "create");
  }
  int RemoveActive(const Dev& dev) override {
    return Check(
        dmioctl::RemoveDevice(dm_, dev.ref, {.nodes = &nodes_}).status(),
        "remove");
  }

 private:
  static int Check(const absl::Status& status, const char* what) {
    if (status.ok()) return 0;
    fprintf(stderr, "dmioctl: %s: %s\n", what, status.ToString().c_str());
    int e = dmkit::ErrnoOf(status);
    return e != 0 ? -e : -EIO;
  }

  dmioctl::DeviceMapper& dm_;
  dmioctl::DeviceNodes nodes_;
  dmioctl::DeviceInfo info_;
  dmioctl::TableReply reply_;
  std::vector<dmioctl::DeviceListEntry> list_;
};

}  // namespace

std::unique_ptr<Impl> MakeDmioctl(dmioctl::DeviceMapper* dm) {
  return std::make_unique<Dmioctl>(dm);
}

}  // namespace dmkit::bench
