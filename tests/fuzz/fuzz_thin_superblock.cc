// The thin-pool metadata superblock (tools/common/thin_metadata.h), read
// by `docker pool --activate` from Docker's loop-lvm metadata file. Each
// input is tried as it is, then with the magic and the checksum made right
// so the fields behind them are reached:
//   * shorter than 4096 bytes, or all zero, is an error (kNotFound for the
//     zeroes);
//   * a parsed superblock's fields are the little-endian values at the
//     offsets the header documents, and its checksum is right;
//   * the data block size is one the kernel accepts, and the data device it
//     describes (blocks x block size) fits 64 bits of sectors, so the size
//     check of the activation cannot wrap around.
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tests/fuzz/script_kernel.h"
#include "tools/common/thin_metadata.h"

namespace thin = dmkit::thin;

namespace {

uint64_t Le(absl::string_view b, size_t off, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  }
  return v;
}

void PutLe(std::string& b, size_t off, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[off + i] = static_cast<char>(v >> (8 * i));
}

uint32_t Checksum(absl::string_view b) {
  return thin::BlockChecksum(reinterpret_cast<const uint8_t*>(b.data()),
                             thin::kSuperblockXor);
}

void Check(absl::string_view block) {
  auto sb = thin::ParseSuperblock(block);
  if (block.size() < thin::kBlockBytes) {
    FUZZ_CHECK(!sb.ok());
    return;
  }
  absl::string_view b = block.substr(0, thin::kBlockBytes);
  if (b.find_first_not_of('\0') == absl::string_view::npos) {
    FUZZ_CHECK(sb.status().code() == absl::StatusCode::kNotFound);
    return;
  }
  if (!sb.ok()) return;
  FUZZ_CHECK(Le(b, 32, 8) == thin::kSuperblockMagic);
  FUZZ_CHECK(Le(b, 0, 4) == Checksum(b));
  FUZZ_CHECK(sb->flags == Le(b, 4, 4) && sb->version == Le(b, 40, 4));
  FUZZ_CHECK(sb->transaction_id == Le(b, 48, 8) &&
             sb->held_root == Le(b, 56, 8));
  FUZZ_CHECK(sb->data_space_map.nr_blocks == Le(b, 64, 8) &&
             sb->data_space_map.nr_allocated == Le(b, 72, 8));
  FUZZ_CHECK(sb->metadata_space_map.nr_allocated == Le(b, 200, 8));
  FUZZ_CHECK(sb->data_block_size == Le(b, 336, 4) &&
             sb->metadata_block_size == Le(b, 340, 4) &&
             sb->metadata_nr_blocks == Le(b, 344, 8));
  FUZZ_CHECK(sb->needs_check() == ((sb->flags & 1) != 0));
  if (!thin::CheckPoolGeometry(*sb).ok()) return;
  uint32_t bs = sb->data_block_size;
  FUZZ_CHECK(bs >= 128 && bs <= 2097152 && bs % 128 == 0);
  FUZZ_CHECK(sb->data_space_map.nr_blocks <= UINT64_MAX / bs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);
  if (size < thin::kBlockBytes) return 0;
  std::string block(input.substr(0, thin::kBlockBytes));
  PutLe(block, 32, thin::kSuperblockMagic, 8);
  PutLe(block, 0, Checksum(block), 4);
  Check(block);
  return 0;
}
