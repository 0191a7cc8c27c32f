// Kernel behaviour below the library: raw struct dm_ioctl buffers sent
// through the Transport, for the claims of the reference notes that the
// library deliberately hides (it never sends such requests).
#include <linux/dm-ioctl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "absl/strings/str_cat.h"
#include "dmioctl/transport.h"
#include "dmioctl/wire.h"
#include "vm_test_util.h"

namespace dmkit_vm {
namespace {

// An 8-aligned ioctl buffer.
class RawBuffer {
 public:
  explicit RawBuffer(size_t size, uint8_t fill = 0)
      : storage_((size + 7) / 8), size_(size) {
    memset(storage_.data(), fill, storage_.size() * 8);
    dm_ioctl* h = header();
    memset(h, 0, sizeof(dm_ioctl));
    h->version[0] = 4;
    h->data_size = static_cast<uint32_t>(size);
    h->data_start = sizeof(dm_ioctl);
  }
  dm_ioctl* header() { return reinterpret_cast<dm_ioctl*>(storage_.data()); }
  char* bytes() { return reinterpret_cast<char*>(storage_.data()); }
  size_t size() const { return size_; }
  void SetName(const std::string& name) {
    memcpy(header()->name, name.data(),
           std::min(name.size(), sizeof(header()->name)));
  }

 private:
  std::vector<uint64_t> storage_;
  size_t size_;
};

class Raw : public DmVmTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(DmVmTest::SetUp());
    ASSERT_OK_AND_ASSIGN(transport_, dmioctl::OpenControl("/dev"));
  }
  int Ioctl(unsigned nr, RawBuffer& buffer) {
    return transport_->Ioctl(_IOWR(DM_IOCTL, nr, dm_ioctl), buffer.header());
  }

  std::unique_ptr<dmioctl::Transport> transport_;
};

// The reference notes read 6.1's target_message as leaving r = 2 from
// message_for_md when there is no live table, so that ioctl() would return
// +2. Debian's 6.1 kernel logs "The device has no table." and fails with
// EINVAL instead, copying nothing back.
TEST_F(Raw, MessageToADeviceWithoutALiveTableIsEinval) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", Table()));
  std::string payload = dmioctl::SerializeMessage(0, "create_thin 0");
  RawBuffer buffer(16 * 1024);
  buffer.SetName(dev.name());
  memcpy(buffer.bytes() + sizeof(dm_ioctl), payload.data(), payload.size());
  uint32_t marker = 0x5a5a5a5a;
  buffer.header()->event_nr = marker;
  EXPECT_EQ(Ioctl(DM_TARGET_MSG_CMD, buffer), -EINVAL);
  // Nothing but the version was copied back.
  EXPECT_EQ(buffer.header()->event_nr, marker);
  EXPECT_EQ(buffer.header()->data_size, 16u * 1024);

  EXPECT_ERRNO(
      dm().SendMessage(DeviceRef::ByName(dev.name()), 0, "create_thin 0"),
      EINVAL);
  // A table loaded but not resumed is still no live table.
  ASSERT_OK(dm().LoadTable(DeviceRef::ByName(dev.name()),
                           OneTarget(targets::Zero(0, 8))));
  EXPECT_EQ(Ioctl(DM_TARGET_MSG_CMD, buffer), -EINVAL);
  // '@' messages are for dm core and need no table.
  EXPECT_OK(dm().SendMessage(DeviceRef::ByName(dev.name()), 0,
                             "@cancel_deferred_remove"));
}

TEST_F(Raw, VersionIsWrittenBackEvenWhenTheRequestIsRefused) {
  RawBuffer buffer(sizeof(dm_ioctl));
  buffer.header()->version[0] = 5;
  EXPECT_EQ(Ioctl(DM_VERSION_CMD, buffer), -EINVAL);
  dmioctl::InterfaceVersion kernel = dm().kernel_version();
  EXPECT_EQ(buffer.header()->version[0], 4u);
  EXPECT_EQ(buffer.header()->version[1], kernel[1]);

  // A minor above the kernel's is refused; a lower one (4.0) is fine.
  RawBuffer newer(sizeof(dm_ioctl));
  newer.header()->version[1] = kernel[1] + 1;
  EXPECT_EQ(Ioctl(DM_VERSION_CMD, newer), -EINVAL);
  RawBuffer older(sizeof(dm_ioctl));
  EXPECT_EQ(Ioctl(DM_VERSION_CMD, older), 0);
  EXPECT_EQ(older.header()->version[1], kernel[1]);

  // Command numbers past the last one: ENOTTY, after the version check.
  RawBuffer unknown(sizeof(dm_ioctl));
  EXPECT_EQ(Ioctl(DM_GET_TARGET_VERSION_CMD + 1, unknown), -ENOTTY);
  EXPECT_EQ(unknown.header()->version[1], kernel[1]);
}

TEST_F(Raw, LookupRulesForNameUuidAndDev) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev,
                       MakeDevice("a", Table(), {.uuid = Uuid("a")}));
  // Name and dev: ENXIO (the pitfall of reusing a create reply's header).
  RawBuffer name_dev(sizeof(dm_ioctl));
  name_dev.SetName(dev.name());
  name_dev.header()->dev = dev.dev().Encode();
  EXPECT_EQ(Ioctl(DM_DEV_STATUS_CMD, name_dev), -ENXIO);
  // Name and uuid: rejected before any lookup.
  RawBuffer name_uuid(sizeof(dm_ioctl));
  name_uuid.SetName(dev.name());
  strcpy(name_uuid.header()->uuid, Uuid("a").c_str());
  EXPECT_EQ(Ioctl(DM_DEV_STATUS_CMD, name_uuid), -EINVAL);
  // Dev alone works, and the kernel writes name and uuid into the reply.
  RawBuffer by_dev(sizeof(dm_ioctl));
  by_dev.header()->dev = dev.dev().Encode();
  EXPECT_EQ(Ioctl(DM_DEV_STATUS_CMD, by_dev), 0);
  EXPECT_EQ(std::string(by_dev.header()->name), dev.name());
  EXPECT_EQ(std::string(by_dev.header()->uuid), Uuid("a"));
  // Nothing at all: ENXIO.
  RawBuffer empty(sizeof(dm_ioctl));
  EXPECT_EQ(Ioctl(DM_DEV_STATUS_CMD, empty), -ENXIO);
}

TEST_F(Raw, EmptyListIsNotCopiedBackAndATinyBufferIsAlwaysFull) {
  // A prefix nothing matches.
  RawBuffer list(16 * 1024, 0xee);
  list.SetName(Name("nothing-matches"));
  ASSERT_EQ(Ioctl(DM_LIST_DEVICES_CMD, list), 0);
  EXPECT_FALSE(list.header()->flags & DM_BUFFER_FULL_FLAG);
  EXPECT_EQ(list.header()->data_size, list.header()->data_start);
  // The kernel wrote dev = 0 at data_start but did not copy it back.
  EXPECT_EQ(static_cast<uint8_t>(list.bytes()[sizeof(dm_ioctl)]), 0xee);

  RawBuffer tiny(sizeof(dm_ioctl));
  tiny.SetName(Name("nothing-matches"));
  ASSERT_EQ(Ioctl(DM_LIST_DEVICES_CMD, tiny), 0);
  EXPECT_TRUE(tiny.header()->flags & DM_BUFFER_FULL_FLAG);
}

TEST_F(Raw, OverlongNamesAreTruncatedAndReservedNamesAcceptedBy61) {
  // 128 bytes with no NUL: validate_params cuts at 127.
  std::string overlong = Name(std::string(128, 'x')).substr(0, 127) + "Z";
  ASSERT_EQ(overlong.size(), 128u);
  RawBuffer create(sizeof(dm_ioctl));
  create.SetName(overlong);
  ASSERT_EQ(Ioctl(DM_DEV_CREATE_CMD, create), 0);
  std::string truncated = overlong.substr(0, 127);
  EXPECT_EQ(std::string(create.header()->name), truncated);
  EXPECT_OK(dm().GetInfo(DeviceRef::ByName(truncated)));
  EXPECT_OK(dm().RemoveDevice(DeviceRef::ByName(truncated)));

  // "control", "." and "..": 6.1 has only the '/' check (the library refuses
  // them itself).
  for (const char* name : {"control", ".", ".."}) {
    RawBuffer reserved(sizeof(dm_ioctl));
    reserved.SetName(name);
    int r = Ioctl(DM_DEV_CREATE_CMD, reserved);
    EXPECT_EQ(r, 0) << name;
    if (r == 0) {
      RawBuffer remove(sizeof(dm_ioctl));
      remove.SetName(name);
      EXPECT_EQ(Ioctl(DM_DEV_REMOVE_CMD, remove), 0) << name;
    }
    EXPECT_FALSE(dmioctl::ValidateName(name).ok()) << name;
  }
  // A persistent minor: only MINOR() of dev is used, the major is ignored.
  RawBuffer persistent(sizeof(dm_ioctl));
  persistent.SetName(Name("persistent"));
  persistent.header()->flags = DM_PERSISTENT_DEV_FLAG;
  persistent.header()->dev = dmioctl::DevNum{7, 201}.Encode();
  ASSERT_EQ(Ioctl(DM_DEV_CREATE_CMD, persistent), 0);
  dmioctl::DevNum made = dmioctl::DevNum::Decode(persistent.header()->dev);
  EXPECT_EQ(made.minor, 201u);
  EXPECT_NE(made.major, 7u);
  EXPECT_OK(dm().RemoveDevice(DeviceRef::ByName(Name("persistent"))));

  // '/' is refused by the kernel too.
  RawBuffer slash(sizeof(dm_ioctl));
  slash.SetName(Name("a/b"));
  EXPECT_EQ(Ioctl(DM_DEV_CREATE_CMD, slash), -EINVAL);
}

TEST_F(Raw, TableLoadChecksTheKernelMakesItself) {
  ASSERT_OK_AND_ASSIGN(ScopedDevice dev, MakeDevice("a", Table()));
  auto load = [&](const Table& table, uint32_t target_count) {
    std::string payload = dmioctl::SerializeTargets(table);
    RawBuffer buffer(sizeof(dm_ioctl) + payload.size());
    buffer.SetName(dev.name());
    buffer.header()->target_count = target_count;
    memcpy(buffer.bytes() + sizeof(dm_ioctl), payload.data(), payload.size());
    return Ioctl(DM_TABLE_LOAD_CMD, buffer);
  };
  Table gap;
  gap.targets.push_back(targets::Zero(0, 8));
  gap.targets.push_back(targets::Zero(16, 8));
  EXPECT_EQ(load(gap, 2), -EINVAL);
  Table late;
  late.targets.push_back(targets::Zero(8, 8));
  EXPECT_EQ(load(late, 1), -EINVAL);
  Table one = OneTarget(targets::Zero(0, 8));
  EXPECT_EQ(load(one, 0), -EINVAL);  // "no targets specified"
  Table zero_length = OneTarget(targets::Zero(0, 0));
  EXPECT_EQ(load(zero_length, 1), -EINVAL);
  EXPECT_EQ(load(one, 1), 0);
  ASSERT_OK_AND_ASSIGN(dmioctl::DeviceInfo info,
                       dm().GetInfo(DeviceRef::ByName(dev.name()), true));
  EXPECT_EQ(info.target_count, 1u);
}

}  // namespace
}  // namespace dmkit_vm
