// File: tools/docker/thin_superblock.h
//
// The superblock of a thin-pool metadata device, read from the device or
// from Docker's loop-lvm file devicemapper/devicemapper/metadata, so a pool
// can be re-created with the data block size it was formatted with instead
// of assuming Docker's default (128 sectors).
//
// On-disk layout (kernel drivers/md/dm-thin-metadata.c, struct
// thin_disk_superblock; little-endian, block 0, 4096 bytes):
//
//   off size field                  off size field
//     0  4  csum                     64 128 data_space_map_root
//     4  4  flags (bit 0: needs      192 128 metadata_space_map_root
//           check)                  320  8  data_mapping_root
//     8  8  blocknr (0)             328  8  device_details_root
//    16 16  uuid                    336  4  data_block_size (sectors)
//    32  8  magic = 27022010        340  4  metadata_block_size (sectors)
//    40  4  version (1 or 2)        344  8  metadata_nr_blocks
//    44  4  time                    352  4  compat_flags
//    48  8  trans_id                356  4  compat_ro_flags
//    56  8  held_root (metadata     360  4  incompat_flags
//           snapshot)
//
// The space map roots start with struct disk_sm_root: nr_blocks (8),
// nr_allocated (8), bitmap_root (8), ref_count_root (8). The checksum is
// crc32c over bytes 4..4095 (seed ~0, no final inversion) xor 160774
// (SUPERBLOCK_CSUM_XOR).
#ifndef DMKIT_TOOLS_DOCKER_THIN_SUPERBLOCK_H_
#define DMKIT_TOOLS_DOCKER_THIN_SUPERBLOCK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dmkit::docker {

inline constexpr uint64_t kThinSuperblockMagic = 27022010;
inline constexpr size_t kThinMetadataBlockBytes = 4096;

struct ThinSuperblock {
  uint32_t flags = 0;
  uint32_t version = 0;
  uint64_t transaction_id = 0;
  uint64_t held_root = 0;
  uint32_t data_block_sectors = 0;
  uint32_t metadata_block_sectors = 0;
  uint64_t metadata_blocks = 0;
  uint64_t data_blocks = 0;            // data space map nr_blocks
  uint64_t data_blocks_allocated = 0;  // data space map nr_allocated
  uint64_t metadata_blocks_allocated = 0;

  bool needs_check() const { return (flags & 1) != 0; }
};

// ThinMetadataChecksum()
//
// The checksum the kernel stores at offset 0 of a 4096-byte superblock.
uint32_t ThinMetadataChecksum(absl::string_view block);

// ParseThinSuperblock()
//
// Decodes the first 4096 bytes of a metadata device. Errors: kNotFound when
// the block is all zeroes (never formatted: the kernel formats it at the
// first pool load), kInvalidArgument for a wrong magic, a bad checksum or a
// data block size the kernel would reject (not a multiple of 128 between
// 128 and 2097152 sectors), or more data blocks than 2^64 sectors hold.
absl::StatusOr<ThinSuperblock> ParseThinSuperblock(absl::string_view block);

// ReadThinSuperblock()
//
// ParseThinSuperblock() of the first block of `path` (file or device).
absl::StatusOr<ThinSuperblock> ReadThinSuperblock(const std::string& path);

}  // namespace dmkit::docker

#endif  // DMKIT_TOOLS_DOCKER_THIN_SUPERBLOCK_H_
