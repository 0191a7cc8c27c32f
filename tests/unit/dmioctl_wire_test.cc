// Bounded decoding of kernel replies: crafted and malformed payloads.
#include <linux/dm-ioctl.h>
#include <string.h>

#include <vector>

#include "dmioctl/wire.h"
#include "gtest/gtest.h"

namespace dmkit::testing {
namespace {

using dmioctl::DevNum;
using dmioctl::ReplyBytes;

// An 8-aligned scratch payload.
class Payload {
 public:
  explicit Payload(size_t size) : words_((size + 7) / 8, 0), size_(size) {}
  char* data() { return reinterpret_cast<char*>(words_.data()); }
  ReplyBytes bytes(size_t size) { return ReplyBytes(data(), size); }
  ReplyBytes bytes() { return bytes(size_); }
  template <typename T>
  void Put(size_t offset, T value) {
    memcpy(data() + offset, &value, sizeof(T));
  }
  void PutString(size_t offset, const char* s) {
    memcpy(data() + offset, s, strlen(s) + 1);
  }

 private:
  std::vector<uint64_t> words_;
  size_t size_;
};

TEST(WireTest, NameListTwoEntries) {
  Payload p(64);
  p.Put<uint64_t>(0, DevNum{253, 1}.Encode());
  p.Put<uint32_t>(8, 24);
  p.PutString(12, "a");
  p.Put<uint32_t>(16, 3);  // event_nr
  p.Put<uint32_t>(20, DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID);
  p.Put<uint64_t>(24, DevNum{253, 2}.Encode());
  p.Put<uint32_t>(32, 0);
  p.PutString(36, "bb");
  p.Put<uint32_t>(40, 9);
  p.Put<uint32_t>(44, DM_NAME_LIST_FLAG_HAS_UUID);
  p.PutString(48, "UUID-B");
  auto list = dmioctl::ParseNameList(p.bytes(56), true, true);
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "a");
  EXPECT_EQ((*list)[0].event_nr, 3u);
  EXPECT_EQ((*list)[0].uuid, "");
  EXPECT_EQ((*list)[1].dev, (DevNum{253, 2}));
  EXPECT_EQ((*list)[1].uuid, "UUID-B");
  // Cut anywhere inside, the reply is malformed, not read past its end.
  for (size_t cut = 13; cut < 55; ++cut) {
    EXPECT_FALSE(dmioctl::ParseNameList(p.bytes(cut), true, true).ok()) << cut;
  }
}

TEST(WireTest, NameListRejectsBadNextOffsets) {
  Payload p(64);
  p.Put<uint64_t>(0, DevNum{253, 1}.Encode());
  p.PutString(12, "a");
  for (uint32_t next : {1u, 8u, 12u, 20u, 4096u}) {
    p.Put<uint32_t>(8, next);
    EXPECT_FALSE(dmioctl::ParseNameList(p.bytes(), false, false).ok()) << next;
  }
}

TEST(WireTest, NameListMissingTerminator) {
  Payload p(24);
  p.Put<uint64_t>(0, DevNum{253, 1}.Encode());
  memset(p.data() + 12, 'x', 12);
  EXPECT_FALSE(dmioctl::ParseNameList(p.bytes(), false, false).ok());
}

TEST(WireTest, NameListLoopIsImpossible) {
  // next pointing backwards cannot be expressed (unsigned, >= entry size),
  // and a chain of valid entries terminates at the payload's end.
  Payload p(48);
  p.Put<uint64_t>(0, DevNum{253, 1}.Encode());
  p.Put<uint32_t>(8, 16);
  p.PutString(12, "a");
  p.Put<uint64_t>(16, DevNum{253, 2}.Encode());
  p.Put<uint32_t>(24, 16);
  p.PutString(28, "b");
  p.Put<uint64_t>(32, DevNum{253, 3}.Encode());
  p.Put<uint32_t>(40, 16);  // points past the end
  p.PutString(44, "c");
  EXPECT_FALSE(dmioctl::ParseNameList(p.bytes(), false, false).ok());
}

TEST(WireTest, VersionList) {
  Payload p(48);
  p.Put<uint32_t>(0, 24);
  p.Put<uint32_t>(4, 1);
  p.Put<uint32_t>(8, 4);
  p.Put<uint32_t>(12, 0);
  p.PutString(16, "linear");
  p.Put<uint32_t>(24, 0);
  p.Put<uint32_t>(28, 1);
  p.PutString(40, "zero");
  auto v = dmioctl::ParseVersionList(p.bytes());
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].name, "linear");
  EXPECT_EQ((*v)[0].version, (dmioctl::InterfaceVersion{1, 4, 0}));
  EXPECT_EQ((*v)[1].name, "zero");
  EXPECT_FALSE(dmioctl::ParseVersionList(p.bytes(20)).ok());
  p.Put<uint32_t>(0, 4);
  EXPECT_FALSE(dmioctl::ParseVersionList(p.bytes()).ok());
}

TEST(WireTest, DepsCountBoundedByPayload) {
  Payload p(24);
  p.Put<uint32_t>(0, 2);
  p.Put<uint64_t>(8, DevNum{7, 1}.Encode());
  p.Put<uint64_t>(16, DevNum{7, 2}.Encode());
  auto deps = dmioctl::ParseDeps(p.bytes());
  ASSERT_TRUE(deps.ok());
  EXPECT_EQ(deps->size(), 2u);
  p.Put<uint32_t>(0, 3);
  EXPECT_FALSE(dmioctl::ParseDeps(p.bytes()).ok());
  p.Put<uint32_t>(0, 0xffffffff);
  EXPECT_FALSE(dmioctl::ParseDeps(p.bytes()).ok());
  EXPECT_FALSE(dmioctl::ParseDeps(p.bytes(4)).ok());
  EXPECT_TRUE(dmioctl::ParseDeps(p.bytes(0)).ok());
}

TEST(WireTest, TargetSpecsNextRelativeToPayloadStart) {
  Payload p(128);
  dm_target_spec spec{};
  spec.sector_start = 0;
  spec.length = 10;
  strcpy(spec.target_type, "linear");
  spec.next = 48;
  memcpy(p.data(), &spec, sizeof(spec));
  p.PutString(40, "7:0 0");
  spec.sector_start = 10;
  spec.length = 5;
  strcpy(spec.target_type, "zero");
  spec.next = 96;  // past itself, as the kernel leaves it
  memcpy(p.data() + 48, &spec, sizeof(spec));
  p.PutString(88, "");
  auto targets = dmioctl::ParseTargetSpecs(p.bytes(89), 2);
  ASSERT_TRUE(targets.ok()) << targets.status();
  ASSERT_EQ(targets->size(), 2u);
  EXPECT_EQ((*targets)[0].params, "7:0 0");
  EXPECT_EQ((*targets)[1].type, "zero");
  EXPECT_EQ((*targets)[1].start, 10u);
  // A count the payload cannot hold, a truncated text, a next going back.
  EXPECT_FALSE(dmioctl::ParseTargetSpecs(p.bytes(89), 3).ok());
  EXPECT_FALSE(dmioctl::ParseTargetSpecs(p.bytes(89), 1000000).ok());
  EXPECT_FALSE(dmioctl::ParseTargetSpecs(p.bytes(44), 1).ok());
  spec.next = 8;
  memcpy(p.data(), &spec, sizeof(spec));
  EXPECT_FALSE(dmioctl::ParseTargetSpecs(p.bytes(89), 2).ok());
}

TEST(WireTest, TargetSpecsUnterminatedType) {
  Payload p(64);
  dm_target_spec spec{};
  spec.length = 1;
  memset(spec.target_type, 'x', sizeof(spec.target_type));
  memcpy(p.data(), &spec, sizeof(spec));
  EXPECT_FALSE(dmioctl::ParseTargetSpecs(p.bytes(41), 1).ok());
}

TEST(WireTest, MessagePayload) {
  std::string m = dmioctl::SerializeMessage(4096, "create_thin 7");
  ASSERT_EQ(m.size(), 8 + 13 + 1u);
  uint64_t sector;
  memcpy(&sector, m.data(), 8);
  EXPECT_EQ(sector, 4096u);
  EXPECT_STREQ(m.data() + 8, "create_thin 7");
}

}  // namespace
}  // namespace dmkit::testing
