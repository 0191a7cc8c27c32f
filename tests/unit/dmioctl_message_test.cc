// DeviceMapper::SendMessage: what reaches the transport.
#include <errno.h>
#include <linux/dm-ioctl.h>
#include <string.h>
#include <sys/ioctl.h>

#include <memory>
#include <string>

#include "dmioctl/device_mapper.h"
#include "dmioctl/error.h"
#include "gtest/gtest.h"

namespace dmioctl {
namespace {

// Answers every ioctl with a fixed result and remembers the last message.
class RecordingTransport : public Transport {
 public:
  explicit RecordingTransport(int result) : result_(result) {}
  int Ioctl(unsigned long request, void* buffer) override {
    auto* h = static_cast<dm_ioctl*>(buffer);
    h->version[0] = 4;
    h->version[1] = 47;
    ++calls;
    last_nr = _IOC_NR(request);
    if (last_nr == DM_TARGET_MSG_CMD) {
      auto* msg = reinterpret_cast<dm_target_msg*>(static_cast<char*>(buffer) +
                                                   h->data_start);
      last_message = msg->message;
      last_name = h->name;
    }
    return result_;
  }
  int calls = 0;
  unsigned last_nr = 0;
  std::string last_message = "unset";
  std::string last_name;

 private:
  int result_;
};

TEST(SendMessage, EmptyMessageReachesTheKernel) {
  auto* t = new RecordingTransport(-EINVAL);
  DeviceMapper dm{std::unique_ptr<Transport>(t)};
  absl::StatusOr<std::string> r =
      dm.SendMessage(DeviceRef::ByName("pool"), 0, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(t->calls, 1);
  EXPECT_EQ(t->last_nr, unsigned{DM_TARGET_MSG_CMD});
  EXPECT_EQ(t->last_message, "");
  EXPECT_EQ(t->last_name, "pool");
  EXPECT_EQ(dmkit::ErrnoOf(r.status()), EINVAL);
  auto info = GetIoctlErrorInfo(r.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->operation, "message");
}

TEST(SendMessage, MessageWithNulIsRefusedBeforeAnyIoctl) {
  auto* t = new RecordingTransport(0);
  DeviceMapper dm{std::unique_ptr<Transport>(t)};
  std::string with_nul("create_thin\0 1", 14);
  absl::StatusOr<std::string> r =
      dm.SendMessage(DeviceRef::ByName("pool"), 0, with_nul);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(t->calls, 0);
}

TEST(SendMessage, NoOutputIsEmptyString) {
  auto* t = new RecordingTransport(0);
  DeviceMapper dm{std::unique_ptr<Transport>(t)};
  absl::StatusOr<std::string> r =
      dm.SendMessage(DeviceRef::ByName("pool"), 0, "create_thin 1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "");
  EXPECT_EQ(t->last_message, "create_thin 1");
}

}  // namespace
}  // namespace dmioctl
