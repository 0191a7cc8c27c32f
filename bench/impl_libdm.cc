// libdevmapper's dm_task API, used the way dmsetup uses it with udev sync
// off: one task per operation; create with a table is libdm's own
// create+load+resume (with its rollback); node operations that libdm queues
// (mknod/unlink under /dev/mapper, done by libdm itself when udev is not
// running) are flushed after the task, as dmsetup's dm_udev_wait() does.
#include <errno.h>
#include <libdevmapper.h>
#include <stdio.h>

#include "impl.h"

namespace dmkit::bench {
namespace {

class Libdm final : public Impl {
 public:
  Libdm() {
    dm_udev_set_sync_support(0);
    // Keep the control descriptor open between tasks, as a long-lived
    // process (lvm, dmeventd) does.
    dm_hold_control_dev(1);
  }
  ~Libdm() override { dm_lib_release(); }
  const char* name() const override { return "libdm"; }

  int Create(const Dev& dev) override {
    return Simple(DM_DEVICE_CREATE, dev, "create", /*nodes=*/true);
  }
  int Load(const Dev& dev, const OneTarget& t) override {
    dm_task* task = Task(DM_DEVICE_RELOAD, dev);
    if (!task) return -ENOMEM;
    dm_task_add_target(task, 0, t.length, t.type.c_str(), t.params.c_str());
    return Finish(task, "load", false);
  }
  int Resume(const Dev& dev) override {
    return Simple(DM_DEVICE_RESUME, dev, "resume", true);
  }
  int Suspend(const Dev& dev) override {
    return Simple(DM_DEVICE_SUSPEND, dev, "suspend", false);
  }
  int Info(const Dev& dev) override {
    dm_task* task = Task(DM_DEVICE_INFO, dev);
    if (!task) return -ENOMEM;
    if (!dm_task_run(task)) return Fail(task, "info");
    dm_info info;
    dm_task_get_info(task, &info);
    dm_task_destroy(task);
    return info.exists ? 0 : -ENXIO;
  }
  int Status(const Dev& dev) override {
    return Targets(DM_DEVICE_STATUS, dev, "status");
  }
  int Table(const Dev& dev) override {
    return Targets(DM_DEVICE_TABLE, dev, "table");
  }
  int List(size_t* count) override {
    dm_task* task = dm_task_create(DM_DEVICE_LIST);
    if (!task) return -ENOMEM;
    if (!dm_task_run(task)) return Fail(task, "list");
    size_t n = 0;
    dm_names* names = dm_task_get_names(task);
    if (names && names->dev) {
      for (;;) {
        ++n;
        if (!names->next) break;
        names = reinterpret_cast<dm_names*>(reinterpret_cast<char*>(names) +
                                            names->next);
      }
    }
    dm_task_destroy(task);
    *count = n;
    return 0;
  }
  int Message(const Dev& dev, const char* message) override {
    dm_task* task = Task(DM_DEVICE_TARGET_MSG, dev);
    if (!task) return -ENOMEM;
    dm_task_set_sector(task, 0);
    dm_task_set_message(task, message);
    return Finish(task, "message", false);
  }
  int Remove(const Dev& dev) override {
    return Simple(DM_DEVICE_REMOVE, dev, "remove", true);
  }
  int CreateActive(const Dev& dev, const OneTarget& t) override {
    dm_task* task = Task(DM_DEVICE_CREATE, dev);
    if (!task) return -ENOMEM;
    dm_task_add_target(task, 0, t.length, t.type.c_str(), t.params.c_str());
    return Finish(task, "create", true);
  }
  int RemoveActive(const Dev& dev) override { return Remove(dev); }

 private:
  static dm_task* Task(int type, const Dev& dev) {
    dm_task* task = dm_task_create(type);
    if (task) dm_task_set_name(task, dev.name.c_str());
    return task;
  }
  static int Fail(dm_task* task, const char* what) {
    int e = dm_task_get_errno(task);
    fprintf(stderr, "libdm: %s failed (errno %d)\n", what, e);
    dm_task_destroy(task);
    return e > 0 ? -e : -EIO;
  }
  static int Finish(dm_task* task, const char* what, bool nodes) {
    if (!dm_task_run(task)) return Fail(task, what);
    dm_task_destroy(task);
    if (nodes) dm_task_update_nodes();
    return 0;
  }
  static int Simple(int type, const Dev& dev, const char* what, bool nodes) {
    dm_task* task = Task(type, dev);
    if (!task) return -ENOMEM;
    return Finish(task, what, nodes);
  }
  static int Targets(int type, const Dev& dev, const char* what) {
    dm_task* task = Task(type, dev);
    if (!task) return -ENOMEM;
    if (!dm_task_run(task)) return Fail(task, what);
    uint64_t start, length;
    char *target_type, *params;
    void* next = nullptr;
    do {
      next = dm_get_next_target(task, next, &start, &length, &target_type,
                                &params);
    } while (next);
    dm_task_destroy(task);
    return 0;
  }
};

}  // namespace

std::unique_ptr<Impl> MakeLibdm() { return std::make_unique<Libdm>(); }

}  // namespace dmkit::bench
