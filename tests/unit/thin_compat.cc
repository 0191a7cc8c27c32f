// dmkit thin ls/dump/check side by side with thin_ls/thin_dump/thin_check
// 0.9.0 (Debian's thin-provisioning-tools) on the same metadata files:
// metadata made by thin_restore from generated XML (hundreds of devices,
// long runs, single mappings, trees with internal nodes, data blocks shared
// between devices), then edited into what thin_restore cannot make (a
// subtree shared by two devices as after a snapshot, a metadata snapshot)
// and into corrupt copies, one per kind of damage.
//
// Usage: DMKIT=path/to/dmkit thin_compat   (exit 77 without the tools)
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/unit/docker_test_util.h"
#include "tools/common/thin_metadata.h"

namespace dmkit::thin {
namespace {

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `command` under /bin/sh; the exit status, stdout and stderr.
Result Shell(const std::string& dir, const std::string& command) {
  std::string out = dir + "/stdout", err = dir + "/stderr";
  int rc = system(absl::StrCat(command, " >", out, " 2>", err).c_str());
  Result r;
  r.status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
  r.out = ReadAll(out);
  r.err = ReadAll(err);
  return r;
}

// THIN_COMPAT_SEED picks other generated metadata (default 13).
uint32_t Seed() {
  const char* s = getenv("THIN_COMPAT_SEED");
  return s ? static_cast<uint32_t>(strtoul(s, nullptr, 10)) : 13;
}

std::string Dmkit() {
  const char* d = getenv("DMKIT");
  return d ? d : "dmkit";
}

// Metadata generated as XML: `devices` devices with ids 1, 4, 7, ...; the
// first has `big` mappings (a tree with internal nodes), the rest up to a
// few hundred each. Runs of consecutive data blocks, single mappings, runs
// that touch but differ in time, and data blocks reused by later devices
// (shared blocks for EXCLUSIVE/SHARED).
std::string MakeXml(uint32_t seed, int devices, int big) {
  std::mt19937_64 rng(seed);
  uint64_t next_data = 0;
  std::vector<uint64_t> used;
  std::string xml =
      "<superblock uuid=\"\" time=\"9\" transaction=\"42\" flags=\"0\" "
      "version=\"2\" data_block_size=\"128\" nr_data_blocks=\"4000000\">\n";
  for (int d = 0; d < devices; ++d) {
    int want = d == 0 ? big : d == 2 ? 5000 : static_cast<int>(rng() % 200);
    std::string body;
    uint64_t origin = rng() % 50;
    int mapped = 0;
    while (mapped < want) {
      uint64_t len = 1 + (rng() % 4 == 0 ? rng() % 3000 : rng() % 3);
      if (len > static_cast<uint64_t>(want - mapped)) len = want - mapped;
      uint32_t time = static_cast<uint32_t>(rng() % 5);
      uint64_t data;
      if (!used.empty() && rng() % 5 == 0) {
        data = used[rng() % used.size()];
        len = 1;
      } else {
        data = next_data;
        next_data += len + (rng() % 3 == 0 ? 1 : 0);
        used.push_back(data);
      }
      if (len == 1) {
        absl::StrAppend(&body, "    <single_mapping origin_block=\"", origin,
                        "\" data_block=\"", data, "\" time=\"", time, "\"/>\n");
      } else {
        absl::StrAppend(&body, "    <range_mapping origin_begin=\"", origin,
                        "\" data_begin=\"", data, "\" length=\"", len,
                        "\" time=\"", time, "\"/>\n");
      }
      mapped += static_cast<int>(len);
      origin += len + (rng() % 4 == 0 ? rng() % 100 : 0);
    }
    absl::StrAppend(
        &xml, "  <device dev_id=\"", 1 + 3 * d, "\" mapped_blocks=\"", mapped,
        "\" transaction=\"", rng() % 40, "\" creation_time=\"", rng() % 9,
        "\" snap_time=\"", rng() % 9, "\">\n", body, "  </device>\n");
  }
  xml += "</superblock>\n";
  return xml;
}

// The metadata file's bytes, edited in memory.
class Metadata {
 public:
  explicit Metadata(std::string bytes) : bytes_(std::move(bytes)) {}

  uint8_t* block(uint64_t b) {
    return reinterpret_cast<uint8_t*>(bytes_.data()) + b * kBlockBytes;
  }
  uint64_t Get64(uint64_t b, size_t off) { return Le64(block(b) + off); }
  uint32_t Get32(uint64_t b, size_t off) { return Le32(block(b) + off); }
  void Put64(uint64_t b, size_t off, uint64_t v) {
    memcpy(block(b) + off, &v, 8);
  }
  void Put32(uint64_t b, size_t off, uint32_t v) {
    memcpy(block(b) + off, &v, 4);
  }
  void Seal(uint64_t b, uint32_t salt) {
    Put32(b, 0, BlockChecksum(block(b), salt));
  }

  // B-tree node fields.
  uint32_t NrEntries(uint64_t b) { return Get32(b, 16); }
  uint32_t MaxEntries(uint64_t b) { return Get32(b, 20); }
  bool Internal(uint64_t b) { return Get32(b, 4) & 1; }
  size_t KeyOff(uint32_t i) { return 32 + 8 * i; }
  size_t ValueOff(uint64_t b, uint32_t i) {
    return 32 + 8 * MaxEntries(b) + Get32(b, 24) * i;
  }

  // The top-level mapping tree leaf holding `dev`, and its index.
  std::pair<uint64_t, uint32_t> FindKey(uint64_t root, uint64_t key) {
    uint64_t b = root;
    while (true) {
      uint32_t n = NrEntries(b), i = 0;
      while (i + 1 < n && Get64(b, KeyOff(i + 1)) <= key) ++i;
      if (!Internal(b)) return {b, i};
      b = Get64(b, ValueOff(b, i));
    }
  }
  uint64_t MappingRoot() { return Get64(0, 320); }
  uint64_t DetailsRoot() { return Get64(0, 328); }
  uint64_t DeviceRoot(uint64_t dev) {
    auto [leaf, i] = FindKey(MappingRoot(), dev);
    return Get64(leaf, ValueOff(leaf, i));
  }

  // The metadata space map's count of block `b`.
  std::pair<uint64_t, uint32_t> BitmapEntry(size_t sm_offset, uint64_t b,
                                            bool metadata) {
    uint64_t index = Get64(0, sm_offset + 16);
    uint64_t bitmap;
    if (metadata) {
      bitmap = Get64(index, 16 + 16 * (b / kEntriesPerBitmap));
    } else {
      auto [leaf, i] = FindKey(index, b / kEntriesPerBitmap);
      bitmap = Get64(leaf, ValueOff(leaf, i));
    }
    return {bitmap, static_cast<uint32_t>(b % kEntriesPerBitmap)};
  }
  uint32_t Count(uint64_t b, bool metadata = true) {
    auto [bitmap, e] = BitmapEntry(metadata ? 192 : 64, b, metadata);
    uint8_t byte = block(bitmap)[16 + e / 4] >> (2 * (e % 4));
    return ((byte & 1) << 1) | ((byte >> 1) & 1);
  }
  void SetCount(uint64_t b, uint32_t count, bool metadata = true) {
    auto [bitmap, e] = BitmapEntry(metadata ? 192 : 64, b, metadata);
    uint8_t& byte = block(bitmap)[16 + e / 4];
    int shift = 2 * (e % 4);
    byte &= ~(3 << shift);
    byte |= (((count >> 1) & 1) | ((count & 1) << 1)) << shift;
    Seal(bitmap, kBitmapXor);
  }

  void Save(const std::string& path) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes_;
  }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

class ThinCompatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    std::string xml = dir_->Write("gen.xml", MakeXml(Seed(), 300, 100000));
    base_ = dir_->path() + "/base.md";
    Result r = Shell(dir_->path(),
                     absl::StrCat("truncate -s 24M ", base_,
                                  " && thin_restore -i ", xml, " -o ", base_));
    ASSERT_EQ(r.status, 0) << r.err;
    // The snapshot case: device 4 (one leaf) takes device 1's tree, as a
    // snapshot of device 1 would; the counts follow (device 1's root is
    // referenced twice, device 4's old leaf by nobody).
    Metadata md(ReadAll(base_));
    uint64_t origin = md.DeviceRoot(1);
    uint64_t old = md.DeviceRoot(4);
    ASSERT_TRUE(md.Internal(origin));
    ASSERT_FALSE(md.Internal(old));
    auto [leaf, i] = md.FindKey(md.MappingRoot(), 4);
    md.Put64(leaf, md.ValueOff(leaf, i), origin);
    md.Seal(leaf, kNodeXor);
    md.SetCount(origin, 2);
    md.SetCount(old, 0);
    snap_ = dir_->path() + "/shared.md";
    md.Save(snap_);
  }
  static void TearDownTestSuite() { delete dir_; }

  // Both programs on `file`: same exit status, same stdout.
  void SameOutput(const std::string& ours, const std::string& theirs,
                  const std::string& file) {
    Result a =
        Shell(dir_->path(), absl::StrCat(Dmkit(), " thin ", ours, " ", file));
    Result b = Shell(dir_->path(), absl::StrCat(theirs, " ", file));
    EXPECT_EQ(a.status, b.status) << ours << "\n" << a.err << "\n" << b.err;
    EXPECT_TRUE(a.out == b.out) << ours << ": outputs differ (" << a.out.size()
                                << " vs " << b.out.size() << " bytes)";
  }

  static testing::TempDir* dir_;
  static std::string base_;
  static std::string snap_;
};

testing::TempDir* ThinCompatTest::dir_ = nullptr;
std::string ThinCompatTest::base_;
std::string ThinCompatTest::snap_;

const char* const kAllFields =
    "DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS,MAPPED_SECTORS,"
    "EXCLUSIVE_SECTORS,SHARED_SECTORS,MAPPED_BYTES,EXCLUSIVE_BYTES,"
    "SHARED_BYTES,MAPPED,EXCLUSIVE,SHARED,TRANSACTION,CREATE_TIME,SNAP_TIME";

TEST_F(ThinCompatTest, DumpIsByteForByteThinDump) {
  SameOutput("dump", "thin_dump", base_);
  SameOutput("dump --format xml", "thin_dump --format xml", snap_);
}

TEST_F(ThinCompatTest, LsIsByteForByteThinLs) {
  for (const std::string& file : {base_, snap_}) {
    SameOutput("ls", "thin_ls", file);
    SameOutput(absl::StrCat("ls -o ", kAllFields),
               absl::StrCat("thin_ls -o ", kAllFields), file);
    SameOutput("ls --no-headers -o DEV,MAPPED,EXCLUSIVE,SHARED",
               "thin_ls --no-headers -o DEV,MAPPED,EXCLUSIVE,SHARED", file);
    SameOutput("ls -o SNAP_TIME,DEV,", "thin_ls -o SNAP_TIME,DEV,", file);
  }
}

// --json carries the same numbers as thin_ls's columns, in the same order
// (MAPPED, EXCLUSIVE and SHARED in bytes).
TEST_F(ThinCompatTest, LsJsonHasThinLsNumbers) {
  const char* fields =
      "DEV,MAPPED_BLOCKS,EXCLUSIVE_BYTES,SHARED_SECTORS,SNAP_TIME";
  Result ours = Shell(dir_->path(), absl::StrCat(Dmkit(), " thin ls --json -o ",
                                                 fields, " ", snap_));
  Result theirs = Shell(dir_->path(), absl::StrCat("thin_ls --no-headers -o ",
                                                   fields, " ", snap_));
  ASSERT_EQ(ours.status, 0) << ours.err;
  ASSERT_EQ(ours.out.rfind("{\"devices\":[{\"dev\":", 0), 0u) << ours.out;
  std::string numbers;
  for (size_t i = 0; i < ours.out.size(); ++i) {
    char c = ours.out[i];
    if (isdigit(static_cast<unsigned char>(c))) {
      numbers += c;
    } else if (!numbers.empty() && numbers.back() != ' ') {
      numbers += ' ';
    }
  }
  std::istringstream expected(theirs.out);
  std::string word, want;
  while (expected >> word) want += word + " ";
  EXPECT_TRUE(numbers == want) << "numbers differ";
  EXPECT_GT(want.size(), 1000u);
}

TEST_F(ThinCompatTest, SharedSubtreeCountsAsShared) {
  // Device 4 now maps device 1's blocks: nothing of either is exclusive.
  Result r = Shell(dir_->path(), absl::StrCat(Dmkit(),
                                              " thin ls --no-headers -o DEV,"
                                              "EXCLUSIVE_BLOCKS ",
                                              snap_));
  ASSERT_EQ(r.status, 0);
  std::istringstream lines(r.out);
  uint64_t dev, exclusive;
  int seen = 0;
  uint64_t others = 0;
  while (lines >> dev >> exclusive) {
    if (dev == 1 || dev == 4) {
      EXPECT_EQ(exclusive, 0u) << dev;
      ++seen;
    } else {
      others += exclusive;
    }
  }
  EXPECT_EQ(seen, 2);
  // The other devices' blocks are mostly their own.
  EXPECT_GT(others, 1000u);
}

TEST_F(ThinCompatTest, MetadataSnapshot) {
  // A metadata snapshot as the kernel's reserve_metadata_snap leaves it: a
  // copy of the superblock with zeroed space map roots, held in block 0.
  Metadata md(ReadAll(base_));
  uint64_t held = md.bytes().size() / kBlockBytes - 1;
  memcpy(md.block(held), md.block(0), kBlockBytes);
  memset(md.block(held) + 64, 0, 256);
  md.Put64(held, 8, held);
  md.Put32(held, 44, 7);  // an older time, to tell them apart
  md.Seal(held, kSuperblockXor);
  md.Put64(0, 56, held);
  md.Seal(0, kSuperblockXor);
  std::string file = dir_->path() + "/held.md";
  md.Save(file);
  SameOutput("dump -m", "thin_dump -m", file);
  SameOutput("ls -m", "thin_ls -m", file);
  SameOutput("ls -m -o DEV,EXCLUSIVE,SHARED",
             "thin_ls -m -o DEV,EXCLUSIVE,SHARED", file);
  SameOutput("ls -m", "thin_ls -m", base_);  // no snapshot: both refuse
}

TEST_F(ThinCompatTest, CheckCleanMetadata) {
  SameOutput("check", "thin_check", base_);
  SameOutput("check", "thin_check", snap_);
  SameOutput("check -q", "thin_check -q", snap_);
}

// One corrupt copy per kind of damage: the same verdict and exit status as
// thin_check 0.9.0, with and without -q.
TEST_F(ThinCompatTest, CheckCorruptMetadata) {
  struct Case {
    const char* name;
    std::function<void(Metadata&)> corrupt;
  };
  Metadata probe(ReadAll(snap_));
  uint64_t root = probe.DeviceRoot(1);
  uint64_t leaf = probe.Get64(root, probe.ValueOff(root, 1));
  uint64_t nr_blocks = probe.bytes().size() / kBlockBytes;
  std::vector<Case> cases = {
      {"bad checksum", [&](Metadata& m) { m.block(leaf)[100] ^= 0x40; }},
      {"wrong block number",
       [&](Metadata& m) {
         m.Put64(leaf, 8, leaf + 1);
         m.Seal(leaf, kNodeXor);
       }},
      {"unsorted keys",
       [&](Metadata& m) {
         uint64_t k3 = m.Get64(leaf, m.KeyOff(3));
         m.Put64(leaf, m.KeyOff(3), m.Get64(leaf, m.KeyOff(4)));
         m.Put64(leaf, m.KeyOff(4), k3);
         m.Seal(leaf, kNodeXor);
       }},
      {"overfull node",
       [&](Metadata& m) {
         m.Put32(leaf, 16, m.MaxEntries(leaf) + 1);
         m.Seal(leaf, kNodeXor);
       }},
      {"underfull node",
       [&](Metadata& m) {
         m.Put32(leaf, 16, 5);
         m.Seal(leaf, kNodeXor);
       }},
      {"cycle to the node itself",
       [&](Metadata& m) {
         m.Put64(root, m.ValueOff(root, 1), root);
         m.Seal(root, kNodeXor);
       }},
      {"leaf reached twice",
       [&](Metadata& m) {
         m.Put64(root, m.ValueOff(root, 2), leaf);
         m.Seal(root, kNodeXor);
       }},
      {"dangling root beyond the end",
       [&](Metadata& m) {
         auto [top, i] = m.FindKey(m.MappingRoot(), 7);
         m.Put64(top, m.ValueOff(top, i), nr_blocks + 100);
         m.Seal(top, kNodeXor);
       }},
      {"dangling root on an unused block",
       [&](Metadata& m) {
         auto [top, i] = m.FindKey(m.MappingRoot(), 7);
         m.Put64(top, m.ValueOff(top, i), nr_blocks - 2);
         m.Seal(top, kNodeXor);
       }},
      {"device in details, not in mappings",
       [&](Metadata& m) {
         auto [top, i] = m.FindKey(m.MappingRoot(), 10);
         m.Put64(top, m.KeyOff(i), 11);
         m.Seal(top, kNodeXor);
       }},
      {"details of a device that has no mappings",
       [&](Metadata& m) {
         auto [d, i] = m.FindKey(m.DetailsRoot(), 10);
         m.Put64(d, m.KeyOff(i), 11);
         m.Seal(d, kNodeXor);
       }},
      {"details mapped_blocks disagrees",
       [&](Metadata& m) {
         auto [d, i] = m.FindKey(m.DetailsRoot(), 10);
         m.Put64(d, m.ValueOff(d, i), 123456);
         m.Seal(d, kNodeXor);
       }},
      {"metadata space map count too high",
       [&](Metadata& m) { m.SetCount(leaf, 2); }},
      {"metadata space map count too low",
       [&](Metadata& m) { m.SetCount(leaf, 0); }},
      {"metadata space map count of a free block",
       [&](Metadata& m) { m.SetCount(nr_blocks - 3, 1); }},
      {"data space map count wrong",
       [&](Metadata& m) { m.SetCount(5, m.Count(5, false) ? 0 : 1, false); }},
      {"bad bitmap checksum",
       [&](Metadata& m) {
         auto [bitmap, e] = m.BitmapEntry(192, 0, true);
         m.block(bitmap)[2000] ^= 1;
       }},
      {"bad superblock checksum", [&](Metadata& m) { m.block(0)[300] ^= 1; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Metadata md(ReadAll(snap_));
    c.corrupt(md);
    std::string file = dir_->path() + "/corrupt.md";
    md.Save(file);
    Result ours =
        Shell(dir_->path(), absl::StrCat(Dmkit(), " thin check ", file));
    Result theirs = Shell(dir_->path(), absl::StrCat("thin_check ", file));
    EXPECT_EQ(ours.status, theirs.status) << "ours:\n"
                                          << ours.err << "thin_check:\n"
                                          << theirs.err;
    EXPECT_EQ(ours.out, theirs.out);
    printf("  %-45s thin_check exit %d, dmkit thin check exit %d\n", c.name,
           theirs.status, ours.status);
    // dump and ls (walking every mapping) fail or succeed with them.
    for (const char* cmd : {"dump", "ls -o DEV,EXCLUSIVE"}) {
      Result a =
          Shell(dir_->path(), absl::StrCat(Dmkit(), " thin ", cmd, " ", file));
      Result b = Shell(dir_->path(), absl::StrCat("thin_", cmd, " ", file));
      EXPECT_EQ(a.status, b.status)
          << cmd << "\nours: " << a.err << "\ntheirs: " << b.err;
      if (b.status == 0) {
        EXPECT_TRUE(a.out == b.out) << cmd << ": outputs differ";
      }
      printf("  %-45s thin_%s exit %d, dmkit thin %s exit %d\n", "", cmd,
             b.status, cmd, a.status);
    }
    Result q =
        Shell(dir_->path(), absl::StrCat(Dmkit(), " thin check -q ", file));
    EXPECT_EQ(q.status, theirs.status);
    EXPECT_EQ(q.out + q.err, "");
  }
}

TEST_F(ThinCompatTest, ClearNeedsCheckFlagWritesWhatThinCheckWrites) {
  for (bool corrupt : {false, true}) {
    Metadata md(ReadAll(snap_));
    md.Put32(0, 4, md.Get32(0, 4) | kNeedsCheckFlag);
    md.Seal(0, kSuperblockXor);
    if (corrupt) md.SetCount(md.DeviceRoot(1), 1);
    std::string a = dir_->path() + "/flag-a.md",
                b = dir_->path() + "/flag-b.md";
    md.Save(a);
    md.Save(b);
    Result ours = Shell(
        dir_->path(),
        absl::StrCat(Dmkit(), " thin check --clear-needs-check-flag ", a));
    Result theirs = Shell(
        dir_->path(), absl::StrCat("thin_check --clear-needs-check-flag ", b));
    EXPECT_EQ(ours.status, theirs.status) << corrupt;
    std::string after = ReadAll(a);
    EXPECT_TRUE(after == ReadAll(b)) << "files differ, corrupt=" << corrupt;
    EXPECT_EQ(after == md.bytes(), corrupt) << "flag cleared only when clean";
  }
}

TEST_F(ThinCompatTest, ErrorsAreOneLineAndNonZero) {
  for (const char* args :
       {"ls /nonexistent", "dump /nonexistent", "check /nonexistent",
        "ls -o NOPE x", "dump --format json x", "frob x", "ls"}) {
    Result r = Shell(dir_->path(), absl::StrCat(Dmkit(), " thin ", args));
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << r.err;
  }
  std::string tiny = dir_->Write("tiny", "short");
  for (const char* cmd : {"ls", "dump", "check"}) {
    Result r =
        Shell(dir_->path(), absl::StrCat(Dmkit(), " thin ", cmd, " ", tiny));
    EXPECT_EQ(r.status, 1) << cmd;
  }
}

}  // namespace
}  // namespace dmkit::thin

int main(int argc, char** argv) {
  if (system("command -v thin_restore >/dev/null && command -v thin_check "
             ">/dev/null") != 0) {
    fprintf(stderr, "thin-provisioning-tools not installed: skipped\n");
    return 77;
  }
  // The cases write tens of copies of the metadata: memory, not disk.
  if (getenv("TMPDIR") == nullptr && access("/dev/shm", W_OK) == 0) {
    setenv("TMPDIR", "/dev/shm", 1);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
