#include "tools/docker/thin_superblock.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"

namespace dmkit::docker {
namespace {

constexpr uint32_t kSuperblockCsumXor = 160774;

constexpr std::array<uint32_t, 256> MakeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrc32cTable = MakeCrc32cTable();

uint32_t Le32(absl::string_view b, size_t off) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i)
    v = (v << 8) | static_cast<unsigned char>(b[off + i]);
  return v;
}

uint64_t Le64(absl::string_view b, size_t off) {
  return Le32(b, off) | (static_cast<uint64_t>(Le32(b, off + 4)) << 32);
}

}  // namespace

uint32_t ThinMetadataChecksum(absl::string_view block) {
  // dm_bm_checksum(): crc32c(~0, data, len) ^ xor, where the kernel's crc32c
  // applies no final inversion.
  uint32_t crc = ~0u;
  for (size_t i = 4; i < block.size(); ++i) {
    crc = kCrc32cTable[(crc ^ static_cast<unsigned char>(block[i])) & 0xff] ^
          (crc >> 8);
  }
  return crc ^ kSuperblockCsumXor;
}

absl::StatusOr<ThinSuperblock> ParseThinSuperblock(absl::string_view block) {
  if (block.size() < kThinMetadataBlockBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("thin-pool metadata: ", block.size(),
                     " bytes is shorter than one metadata block (4096)"));
  }
  block = block.substr(0, kThinMetadataBlockBytes);
  if (block.find_first_not_of('\0') == absl::string_view::npos) {
    return absl::NotFoundError(
        "thin-pool metadata: no superblock (all zeroes; never used by a pool)");
  }
  uint64_t magic = Le64(block, 32);
  if (magic != kThinSuperblockMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("thin-pool metadata: bad superblock magic ", magic,
                     " (expected ", kThinSuperblockMagic, ")"));
  }
  uint32_t stored = Le32(block, 0);
  uint32_t computed = ThinMetadataChecksum(block);
  if (stored != computed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thin-pool metadata: superblock checksum mismatch (stored 0x",
        absl::Hex(stored), ", computed 0x", absl::Hex(computed), ")"));
  }
  ThinSuperblock sb;
  sb.flags = Le32(block, 4);
  sb.version = Le32(block, 40);
  sb.transaction_id = Le64(block, 48);
  sb.held_root = Le64(block, 56);
  sb.data_blocks = Le64(block, 64);
  sb.data_blocks_allocated = Le64(block, 72);
  sb.metadata_blocks_allocated = Le64(block, 192 + 8);
  sb.data_block_sectors = Le32(block, 336);
  sb.metadata_block_sectors = Le32(block, 340);
  sb.metadata_blocks = Le64(block, 344);
  // The kernel's limits (dm-thin.c: DATA_DEV_BLOCK_SIZE_MIN/MAX_SECTORS).
  uint32_t bs = sb.data_block_sectors;
  if (bs < 128 || bs > 2097152 || bs % 128 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thin-pool metadata: data block size of ", bs,
        " sectors is not a multiple of 128 between 128 and 2097152"));
  }
  // A data device is at most 2^64 - 1 sectors; a block count beyond that
  // would wrap the size computed from it (pool --activate compares it with
  // the data file's size).
  if (sb.data_blocks > UINT64_MAX / bs) {
    return absl::InvalidArgumentError(
        absl::StrCat("thin-pool metadata: ", sb.data_blocks, " data blocks of ",
                     bs, " sectors is more than a device can have"));
  }
  return sb;
}

absl::StatusOr<ThinSuperblock> ReadThinSuperblock(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return dmkit::ErrnoError(errno, absl::StrCat("open ", path));
  std::string block(kThinMetadataBlockBytes, '\0');
  size_t got = 0;
  while (got < block.size()) {
    ssize_t n = pread(fd, block.data() + got, block.size() - got, got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      return dmkit::ErrnoError(saved, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    got += n;
  }
  close(fd);
  block.resize(got);
  absl::StatusOr<ThinSuperblock> sb = ParseThinSuperblock(block);
  if (!sb.ok()) {
    return absl::Status(sb.status().code(),
                        absl::StrCat(path, ": ", sb.status().message()));
  }
  return sb;
}

}  // namespace dmkit::docker
