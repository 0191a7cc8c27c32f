// The thin-pool metadata reader (tools/common/thin_metadata.h): the
// superblock, checksums, and b-tree walks over hand-made blocks in memory
// (cycles, shared nodes, each node check). Side-by-side runs against
// thin-provisioning-tools on real metadata are in thin_compat.cc.
#include "tools/common/thin_metadata.h"

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"

namespace dmkit::thin {
namespace {

using ::testing::HasSubstr;

void Put32(std::string& b, size_t off, uint32_t v) { memcpy(&b[off], &v, 4); }
void Put64(std::string& b, size_t off, uint64_t v) { memcpy(&b[off], &v, 8); }
uint32_t Checksum(const std::string& b, size_t off, uint32_t salt) {
  return BlockChecksum(reinterpret_cast<const uint8_t*>(b.data()) + off, salt);
}

// A superblock laid out as dm-thin-metadata.c writes it.
std::string Superblock(uint32_t block_sectors) {
  std::string b(4096, '\0');
  Put32(b, 4, 0);  // flags
  Put64(b, 32, kSuperblockMagic);
  Put32(b, 40, 2);       // version
  Put64(b, 48, 844170);  // trans_id
  Put64(b, 64, 32768);   // data sm: nr_blocks
  Put64(b, 72, 4970);    // data sm: nr_allocated
  Put64(b, 192, 16384);  // metadata sm: nr_blocks
  Put64(b, 200, 2560);   // metadata sm: nr_allocated
  Put32(b, 336, block_sectors);
  Put32(b, 340, 8);
  Put64(b, 344, 16384);
  Put32(b, 0, Checksum(b, 0, kSuperblockXor));
  return b;
}

TEST(ThinSuperblockTest, ChecksumIsKernelCrc32c) {
  // crc32c("123456789") is 0xe3069283; the kernel stores it without the
  // final inversion.
  const uint8_t digits[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  EXPECT_EQ(Crc32c(~0u, digits, 9), ~0xe3069283u);
  // Every length and alignment agrees with the bytewise definition.
  std::string data(100, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t n = 0; n + start <= data.size(); n += 13) {
      uint32_t want = ~0u;
      for (size_t i = start; i < start + n; ++i) {
        want ^= static_cast<uint8_t>(data[i]);
        for (int k = 0; k < 8; ++k)
          want = (want >> 1) ^ (0x82f63b78u & -(want & 1));
      }
      EXPECT_EQ(
          Crc32c(~0u, reinterpret_cast<const uint8_t*>(data.data()) + start, n),
          want);
    }
  }
}

TEST(ThinSuperblockTest, Parses) {
  auto sb = ParseSuperblock(Superblock(1024));
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->data_block_size, 1024u);
  EXPECT_EQ(sb->metadata_block_size, 8u);
  EXPECT_EQ(sb->version, 2u);
  EXPECT_EQ(sb->transaction_id, 844170u);
  EXPECT_EQ(sb->data_space_map.nr_blocks, 32768u);
  EXPECT_EQ(sb->data_space_map.nr_allocated, 4970u);
  EXPECT_EQ(sb->metadata_space_map.nr_allocated, 2560u);
  EXPECT_FALSE(sb->needs_check());
  EXPECT_TRUE(CheckPoolGeometry(*sb).ok());
}

TEST(ThinSuperblockTest, Rejects) {
  EXPECT_EQ(ParseSuperblock(std::string(4096, '\0')).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ParseSuperblock(std::string(100, 'x')).ok());
  std::string bad_magic = Superblock(128);
  Put64(bad_magic, 32, 1);
  EXPECT_THAT(ParseSuperblock(bad_magic).status().message(),
              HasSubstr("magic"));
  std::string corrupt = Superblock(128);
  corrupt[1000] ^= 1;
  EXPECT_THAT(ParseSuperblock(corrupt).status().message(),
              HasSubstr("checksum"));
  EXPECT_THAT(CheckPoolGeometry(*ParseSuperblock(Superblock(100))).message(),
              HasSubstr("multiple of 128"));
  std::string check = Superblock(128);
  Put32(check, 4, 1);
  Put32(check, 0, Checksum(check, 0, kSuperblockXor));
  EXPECT_TRUE(ParseSuperblock(check)->needs_check());
}

// Found by fuzz_thin_superblock: a (checksummed) superblock with 2^57 data
// blocks of 128 sectors parsed, and pool --activate's size check computed
// blocks x sectors, which wrapped to 0 and passed for any data file.
TEST(ThinSuperblockTest, RejectsMoreDataThanADeviceHolds) {
  std::string huge = Superblock(128);
  Put64(huge, 64, uint64_t{1} << 57);
  Put32(huge, 0, Checksum(huge, 0, kSuperblockXor));
  EXPECT_THAT(CheckPoolGeometry(*ParseSuperblock(huge)).message(),
              HasSubstr("more than a device can have"));
  std::string largest = Superblock(128);
  Put64(largest, 64, UINT64_MAX / 128);
  Put32(largest, 0, Checksum(largest, 0, kSuperblockXor));
  EXPECT_TRUE(CheckPoolGeometry(*ParseSuperblock(largest)).ok());
}

TEST(ThinSuperblockTest, ReadsAFile) {
  testing::TempDir dir;
  std::string path =
      dir.Write("metadata", Superblock(256) + std::string(4096, 'x'));
  auto source = Source::Open(path);
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->nr_blocks(), 2u);
  auto sb = ReadSuperblock(*source);
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->data_block_size, 256u);
  EXPECT_THAT(ReadSuperblock(*source, 1).status().message(),
              HasSubstr("magic"));
  EXPECT_THAT(ReadSuperblock(*source, 2).status().message(),
              HasSubstr("beyond the end"));
  auto missing = Source::Open(dir.path() + "/none");
  EXPECT_THAT(missing.status().message(), HasSubstr("No such file"));
}

// B-trees built by hand, one node per block, 8-byte values.
class Blocks {
 public:
  explicit Blocks(size_t n) : bytes_(n * kBlockBytes, '\0') {}

  // A node at `block`: leaf values are given; internal values are children.
  void Node(uint64_t block, bool internal, std::vector<uint64_t> keys,
            std::vector<uint64_t> values, uint32_t max = 252) {
    size_t o = block * kBlockBytes;
    Put32(bytes_, o + 4, internal ? 1 : 2);
    Put64(bytes_, o + 8, block);
    Put32(bytes_, o + 16, static_cast<uint32_t>(keys.size()));
    Put32(bytes_, o + 20, max);
    Put32(bytes_, o + 24, 8);
    for (size_t i = 0; i < keys.size(); ++i) {
      Put64(bytes_, o + 32 + 8 * i, keys[i]);
      Put64(bytes_, o + 32 + 8 * max + 8 * i, values[i]);
    }
    Seal(block);
  }
  void Seal(uint64_t block) {
    Put32(bytes_, block * kBlockBytes,
          Checksum(bytes_, block * kBlockBytes, kNodeXor));
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

std::vector<uint64_t> Range(uint64_t first, uint64_t n) {
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < n; ++i) v.push_back(first + i);
  return v;
}

// Keys 0..(3 * 84 - 1) in three full-enough leaves under one root.
Blocks ThreeLeaves() {
  Blocks b(6);
  b.Node(2, false, Range(0, 84), Range(1000, 84));
  b.Node(3, false, Range(84, 84), Range(2000, 84));
  b.Node(4, false, Range(168, 84), Range(3000, 84));
  b.Node(1, true, {0, 84, 168}, {2, 3, 4});
  return b;
}

absl::Status Collect(Walker& w, uint64_t root, std::vector<uint64_t>* keys) {
  return w.Walk(root, 8, [&](const Leaf& leaf) {
    for (uint32_t i = 0; i < leaf.nr_entries; ++i) keys->push_back(leaf.key(i));
    return absl::OkStatus();
  });
}

TEST(ThinWalkerTest, WalksInKeyOrderAndLooksUp) {
  Blocks b = ThreeLeaves();
  Source s = Source::FromMemory(b.bytes());
  Walker w(s);
  std::vector<uint64_t> keys;
  ASSERT_TRUE(Collect(w, 1, &keys).ok());
  EXPECT_EQ(keys, Range(0, 252));
  uint8_t v[8];
  ASSERT_TRUE(w.Lookup(1, 100, 8, v).ok());
  EXPECT_EQ(Le64(v), 2016u);
  EXPECT_EQ(w.Lookup(1, 999, 8, v).code(), absl::StatusCode::kNotFound);
  // Visit once: a second walk without ForgetVisited() sees nothing.
  keys.clear();
  ASSERT_TRUE(Collect(w, 1, &keys).ok());
  EXPECT_TRUE(keys.empty());
  w.ForgetVisited();
  ASSERT_TRUE(Collect(w, 1, &keys).ok());
  EXPECT_EQ(keys.size(), 252u);
}

TEST(ThinWalkerTest, SurvivesCyclesAndCountsSharedNodes) {
  Blocks b = ThreeLeaves();
  // The root's last child is the root itself.
  b.Node(1, true, {0, 84, 168}, {2, 3, 1});
  Source s = Source::FromMemory(b.bytes());
  Walker w(s);
  std::vector<uint64_t> keys;
  EXPECT_TRUE(Collect(w, 1, &keys).ok());  // reached again: skipped
  EXPECT_EQ(keys, Range(0, 168));
  // Counting: the root is referenced twice, each leaf once.
  std::vector<uint32_t> counts(6, 0);
  w.CountReferences(&counts);
  keys.clear();
  EXPECT_TRUE(Collect(w, 1, &keys).ok());
  EXPECT_EQ(counts, (std::vector<uint32_t>{0, 2, 1, 1, 0, 0}));
}

TEST(ThinWalkerTest, ChecksEveryNode) {
  struct Case {
    const char* what;
    void (*corrupt)(Blocks&);
  };
  const Case cases[] = {
      {"bad checksum", [](Blocks& b) { b.bytes()[3 * 4096 + 200] ^= 1; }},
      {"bad block nr",
       [](Blocks& b) {
         Put64(b.bytes(), 3 * 4096 + 8, 7);
         b.Seal(3);
       }},
      {"keys are out of order",
       [](Blocks& b) {
         Put64(b.bytes(), 3 * 4096 + 32 + 8, 84);
         b.Seal(3);
       }},
      {"bad nr_entries",
       [](Blocks& b) {
         Put32(b.bytes(), 3 * 4096 + 16, 253);
         b.Seal(3);
       }},
      {"too few entries",
       [](Blocks& b) { b.Node(3, false, Range(84, 10), Range(0, 10)); }},
      {"max entries too large",
       [](Blocks& b) { b.Node(3, false, Range(84, 84), Range(0, 84), 255); }},
      {"value size mismatch",
       [](Blocks& b) {
         Put32(b.bytes(), 3 * 4096 + 24, 16);
         b.Seal(3);
       }},
      {"parent key mismatch",
       [](Blocks& b) {
         b.Node(1, true, {0, 90, 168}, {2, 3, 4});
       }},
      {"the last key of the previous leaf",
       [](Blocks& b) {
         b.Node(1, true, {0, 80, 168}, {2, 3, 4});
         b.Node(3, false, Range(80, 84), Range(0, 84));
       }},
      {"beyond the end",
       [](Blocks& b) {
         b.Node(1, true, {0, 84, 168}, {2, 3, 9});
       }},
      {"unknown btree node type",
       [](Blocks& b) {
         Put32(b.bytes(), 3 * 4096 + 4, 0);
         b.Seal(3);
       }},
  };
  for (const Case& c : cases) {
    Blocks b = ThreeLeaves();
    c.corrupt(b);
    Source s = Source::FromMemory(b.bytes());
    Walker w(s);
    std::vector<uint64_t> keys;
    absl::Status status = Collect(w, 1, &keys);
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << c.what;
    EXPECT_THAT(status.message(), HasSubstr(c.what));
  }
  // thin_check --ignore-non-fatal-errors lets an underfull node pass.
  Blocks b = ThreeLeaves();
  b.Node(3, false, Range(84, 10), Range(0, 10));
  Source s = Source::FromMemory(b.bytes());
  Walker w(s);
  w.set_ignore_non_fatal(true);
  std::vector<uint64_t> keys;
  EXPECT_TRUE(Collect(w, 1, &keys).ok());
}

}  // namespace
}  // namespace dmkit::thin
