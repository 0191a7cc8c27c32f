// A fake device-mapper kernel behind the Transport seam, for host tests.
//
// It models the parts of drivers/md/dm-ioctl.c (6.1) that userspace can
// observe: devices with name, uuid, number, live and inactive tables,
// suspend state and open count; the reply layouts of every command; the
// header validation (version, name+uuid mixes); DM_BUFFER_FULL when the
// buffer is too small. Tests can also
//   * fail the Nth ioctl with an errno (fault injection at step N),
//   * replace the reply of a command with crafted bytes (malformed replies),
//   * read every request the library sent.
// The real kernel's behaviour is proven in tests/vm; this fake exists for
// what the real kernel cannot be made to do on demand.
#ifndef DMKIT_TESTS_UNIT_FAKE_KERNEL_H_
#define DMKIT_TESTS_UNIT_FAKE_KERNEL_H_

#include <linux/dm-ioctl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "dmioctl/table.h"
#include "dmioctl/transport.h"

namespace dmkit::testing {

struct FakeDevice {
  std::string name;
  std::string uuid;
  uint32_t minor = 0;
  std::optional<dmioctl::Table> live;
  std::optional<dmioctl::Table> inactive;
  bool suspended = false;
  int open_count = 0;
  uint32_t event_nr = 0;
  bool deferred_remove = false;
  // What DM_TABLE_STATUS reports for each live target without
  // DM_STATUS_TABLE_FLAG (the target's status line); "" past the end.
  std::vector<std::string> status;
};

// One ioctl as the library sent it.
struct SentIoctl {
  unsigned int command = 0;  // _IOC_NR
  dm_ioctl header{};         // as sent (before the kernel wrote into it)
  std::string payload;       // bytes from data_start to data_size
};

class FakeKernelState {
 public:
  static constexpr uint32_t kMajor = 253;

  std::map<std::string, FakeDevice> devices;  // by name (the kernel's order)
  std::vector<SentIoctl> sent;
  uint32_t version_minor = 47;
  uint32_t global_event_nr = 0;
  // New devices get the lowest free minor from here up.
  uint32_t first_minor = 0;

  // Fault injection: the ioctl with this 1-based index fails with errno;
  // `more_failures` maps further indexes to errnos.
  int fail_at = 0;
  int fail_errno = 0;
  std::map<int, int> more_failures;
  // Crafted replies: called instead of the model for `command`; writes into
  // the buffer and returns the ioctl's return value.
  std::map<unsigned int, std::function<int(dm_ioctl*, size_t)>> overrides;

  FakeDevice* Find(const std::string& name);
  int Handle(unsigned long request, void* buffer);

 private:
  // Batch operations call from several threads; overrides may call Handle().
  std::recursive_mutex mu_;
  int Dispatch(unsigned int command, dm_ioctl* h, size_t size);
  FakeDevice* Lookup(dm_ioctl* h, int* error);
  void Status(const FakeDevice& d, dm_ioctl* h);
  uint32_t NextMinor() const;
};

// The Transport the library sees; shares the state with the test.
class FakeTransport : public dmioctl::Transport {
 public:
  explicit FakeTransport(std::shared_ptr<FakeKernelState> state)
      : state_(std::move(state)) {}
  int Ioctl(unsigned long request, void* buffer) override {
    return state_->Handle(request, buffer);
  }

 private:
  std::shared_ptr<FakeKernelState> state_;
};

}  // namespace dmkit::testing

#endif  // DMKIT_TESTS_UNIT_FAKE_KERNEL_H_
