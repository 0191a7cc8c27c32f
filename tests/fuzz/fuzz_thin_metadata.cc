// Whole thin-pool metadata (tools/common/thin_metadata.h) from arbitrary
// bytes: the superblock, the details tree, the two-level mapping tree with
// nested walks, reference counting and both space maps, as `thin check`
// and `thin ls/dump` use them, and a device's highest mapped block. Each input
// is tried as it is, then with every block's checksum and block number made
// right (by the kind its header suggests) so the walks get past the checksums
// into the structure. No crash, no hang (every walk visits a node once), memory
// bounded by the input's block count.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/script_kernel.h"
#include "tools/common/thin_metadata.h"

namespace thin = dmkit::thin;

namespace {

void Exercise(absl::string_view bytes) {
  thin::Source source = thin::Source::FromMemory(bytes);
  absl::StatusOr<thin::Superblock> sb = thin::ReadSuperblock(source);
  if (!sb.ok()) return;
  thin::Walker walker(source);
  uint64_t leaves = 0;
  auto count = [&](const thin::Leaf& leaf) {
    FUZZ_CHECK(leaf.nr_entries <=
               (thin::kBlockBytes - 32) / (8 + leaf.value_size));
    ++leaves;
    return absl::OkStatus();
  };
  (void)walker.Walk(sb->device_details_root, thin::kDetailsValueSize, count);
  walker.ForgetVisited();
  std::vector<uint64_t> devices;
  (void)walker.Walk(sb->data_mapping_root, 8, [&](const thin::Leaf& leaf) {
    for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
      if (devices.size() < 16) devices.push_back(leaf.key(i));
      (void)walker.Walk(leaf.value64(i), 8, count);
      uint8_t value[8];
      (void)walker.Lookup(sb->data_mapping_root, leaf.key(i), 8, value);
    }
    return absl::OkStatus();
  });
  // A walk reaches each block at most once.
  FUZZ_CHECK(leaves <= source.nr_blocks());
  // `docker mount --device-id`'s extent: one walk of a device's tree each.
  thin::Walker extent(source);
  for (uint64_t dev : devices) {
    (void)thin::HighestMappedBlock(extent, sb->data_mapping_root, dev);
  }
  std::vector<uint32_t> counts(source.nr_blocks(), 0);
  walker.CountReferences(&counts);
  (void)walker.Walk(sb->data_mapping_root, 8, [&](const thin::Leaf& leaf) {
    for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
      (void)walker.Walk(leaf.value64(i), 8, count);
    }
    return absl::OkStatus();
  });
  walker.CountReferences(nullptr);
  for (bool metadata : {true, false}) {
    const thin::SpaceMapRoot& root =
        metadata ? sb->metadata_space_map : sb->data_space_map;
    // The data space map's size is not bounded by the input: cap it so a
    // run stays fast (the reader itself bounds what it allocates).
    if (root.nr_blocks > 64 * thin::kEntriesPerBitmap) continue;
    (void)thin::ForEachSpaceMapCount(
        walker, root, metadata,
        [&](uint64_t first, const uint32_t*, uint32_t n) {
          FUZZ_CHECK(n <= thin::kEntriesPerBitmap);
          FUZZ_CHECK(first + n <= root.nr_blocks);
          return absl::OkStatus();
        });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Exercise(input);
  std::string sealed(input);
  size_t blocks = sealed.size() / thin::kBlockBytes;
  for (size_t b = 0; b < blocks; ++b) {
    uint8_t* p =
        reinterpret_cast<uint8_t*>(sealed.data()) + b * thin::kBlockBytes;
    uint32_t salt = thin::kSuperblockXor;
    if (b != 0) {
      uint32_t flags = thin::Le32(p + 4);
      salt = (flags == 1 || flags == 2) ? thin::kNodeXor
             : flags == 0               ? thin::kBitmapXor
                                        : thin::kIndexXor;
      memcpy(p + 8, &b, 8);
    }
    uint32_t csum = thin::BlockChecksum(p, salt);
    memcpy(p, &csum, 4);
  }
  Exercise(sealed);
  return 0;
}
