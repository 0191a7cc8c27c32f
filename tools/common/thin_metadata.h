// File: tools/common/thin_metadata.h
//
// A reader of thin-pool metadata (the kernel's dm-thin-metadata format) from
// a file, a block device or memory, shared by the thin and docker applets.
//
// Metadata is an array of 4 KiB blocks, little-endian throughout. Block 0 is
// the superblock; the rest are b-tree nodes and space-map blocks, each with
// a crc32c checksum (xor a salt per kind of block) and its own block number.
// Every block read here is checked before use: checksum, block number, and
// for b-tree nodes their shape (flags, value size, max_entries, nr_entries,
// key order, the parent's key, leaf keys ascending across leaves). A walk
// visits each node once (shared subtrees and cycles are reached at most
// once), streams leaves to a callback, and holds at most a few blocks, a
// batch of leaves (1 MiB) per nesting level and one bit per metadata block
// (visited) in memory, whatever the number of mappings.
// Nothing here writes unless WriteBlock() is called.
//
// Layout (kernel drivers/md/dm-thin-metadata.c, persistent-data/):
//   superblock: csum u32 @0, flags u32 @4, blocknr u64 @8, uuid[16] @16,
//     magic u64 @32 (27022010), version u32 @40, time u32 @44, trans_id u64
//     @48, held_root u64 @56, data space map root @64 and metadata space
//     map root @192 (nr_blocks, nr_allocated, bitmap_root, ref_count_root:
//     u64 each), data_mapping_root u64 @320, device_details_root u64 @328,
//     data_block_size u32 @336 (sectors), metadata_block_size u32 @340,
//     metadata_nr_blocks u64 @344, compat/compat_ro/incompat u32 @352.
//   b-tree node: csum u32, flags u32 (1 internal, 2 leaf), blocknr u64,
//     nr_entries u32, max_entries u32, value_size u32, padding u32, then
//     keys[max_entries] (u64), then values[max_entries].
//   mapping tree: device id -> root of the device's tree; virtual block ->
//     (data block << 24) | time. Details tree: device id -> mapped_blocks
//     u64, transaction_id u64, creation_time u32, snapshotted_time u32.
//   space maps: bitmap blocks (csum, not_used, blocknr, then 2 bits per
//     block, 16320 per block; 3 means "see the ref-count tree"), indexed by
//     one index block (metadata) or an index b-tree (data) of {blocknr u64,
//     nr_free u32, none_free_before u32}.
#ifndef DMKIT_TOOLS_COMMON_THIN_METADATA_H_
#define DMKIT_TOOLS_COMMON_THIN_METADATA_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "mountns/unique_fd.h"

namespace dmkit::thin {

inline constexpr size_t kBlockBytes = 4096;
inline constexpr uint64_t kSuperblockMagic = 27022010;
// The checksum salt of each kind of block.
inline constexpr uint32_t kSuperblockXor = 160774;
inline constexpr uint32_t kNodeXor = 121107;
inline constexpr uint32_t kBitmapXor = 240779;
inline constexpr uint32_t kIndexXor = 160478;
inline constexpr uint32_t kEntriesPerBitmap = (kBlockBytes - 16) * 4;
inline constexpr uint32_t kNeedsCheckFlag = 1;

inline uint32_t Le32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
inline uint64_t Le64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// Crc32c()
//
// CRC-32C (Castagnoli) without the final inversion, continuing from `crc`
// (the kernel's crc32c()). SSE4.2 when the CPU has it, a table otherwise.
uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t size);

// BlockChecksum()
//
// The checksum stored in the first 4 bytes of a metadata block of the kind
// `salt` names: crc32c(~0, bytes 4..4095) ^ salt, as the kernel's
// dm_bm_checksum() computes it.
uint32_t BlockChecksum(const uint8_t* block, uint32_t salt);

// Source
//
// Where the metadata blocks come from: a file or block device (read with
// pread, closed on destruction) or bytes in memory (the fuzzer's input).
class Source {
 public:
  // Opens `path` read-only (read-write with `writable`; with `exclusive`,
  // O_EXCL, which for a block device fails while a pool uses it).
  static absl::StatusOr<Source> Open(const std::string& path,
                                     bool writable = false,
                                     bool exclusive = false);
  static Source FromMemory(absl::string_view bytes);

  Source(Source&&) = default;
  Source& operator=(Source&&) = default;

  const std::string& name() const { return name_; }
  // Whole 4 KiB blocks; a shorter tail is not part of the metadata.
  uint64_t nr_blocks() const { return nr_blocks_; }

  // Reads blocks [first, first + count) into `out` (count * 4096 bytes).
  absl::Status Read(uint64_t first, uint64_t count, uint8_t* out) const;
  // Writes one block (only on a source opened writable), then fsync.
  absl::Status WriteBlock(uint64_t block, const uint8_t* data);

 private:
  Source() = default;
  mountns::UniqueFd fd_;
  absl::string_view memory_;
  std::string name_;
  uint64_t nr_blocks_ = 0;
};

struct SpaceMapRoot {
  uint64_t nr_blocks = 0;
  uint64_t nr_allocated = 0;
  uint64_t bitmap_root = 0;
  uint64_t ref_count_root = 0;
};

struct Superblock {
  uint64_t location = 0;  // where it was read: 0, or the held root
  uint32_t flags = 0;
  uint64_t blocknr = 0;
  uint8_t uuid[16] = {};
  uint32_t version = 0;
  uint32_t time = 0;
  uint64_t transaction_id = 0;
  uint64_t held_root = 0;
  SpaceMapRoot data_space_map;
  SpaceMapRoot metadata_space_map;
  uint64_t data_mapping_root = 0;
  uint64_t device_details_root = 0;
  uint32_t data_block_size = 0;      // sectors
  uint32_t metadata_block_size = 0;  // sectors
  uint64_t metadata_nr_blocks = 0;
  uint32_t compat_flags = 0;
  uint32_t compat_ro_flags = 0;
  uint32_t incompat_flags = 0;

  bool needs_check() const { return (flags & kNeedsCheckFlag) != 0; }
};

// DecodeSuperblock()
//
// The fields of the 4096-byte superblock at `b`, unchecked (thin_check
// checks nothing but the checksum).
Superblock DecodeSuperblock(const uint8_t* b, uint64_t location);

// ParseSuperblock()
//
// Decodes a superblock from the first 4096 bytes of `block`. Errors:
// kNotFound when the block is all zeroes (never formatted: the kernel
// formats it at the first pool load), kInvalidArgument when it is short,
// has the wrong magic or a bad checksum.
absl::StatusOr<Superblock> ParseSuperblock(absl::string_view block,
                                           uint64_t location = 0);

// ReadSuperblock()
//
// ParseSuperblock() of block `location` of `source`; errors name the source.
absl::StatusOr<Superblock> ReadSuperblock(const Source& source,
                                          uint64_t location = 0);

// CheckPoolGeometry()
//
// What the kernel requires of a superblock before it loads a pool from it:
// a data block size that is a multiple of 128 sectors between 128 and
// 2097152, and a data device (blocks x block size) that fits 2^64 sectors.
absl::Status CheckPoolGeometry(const Superblock& sb);

struct DeviceDetails {
  uint64_t mapped_blocks = 0;
  uint64_t transaction_id = 0;
  uint32_t creation_time = 0;
  uint32_t snapshotted_time = 0;
};
inline constexpr uint32_t kDetailsValueSize = 24;
DeviceDetails DecodeDetails(const uint8_t* value);

// One leaf of a b-tree, as handed to a walk's callback. Keys and values
// point into the block; they are valid during the callback only.
struct Leaf {
  uint64_t location;
  uint32_t nr_entries;
  uint32_t value_size;
  const uint8_t* keys;
  const uint8_t* values;

  uint64_t key(uint32_t i) const { return Le64(keys + 8 * i); }
  const uint8_t* value(uint32_t i) const { return values + value_size * i; }
  uint64_t value64(uint32_t i) const { return Le64(value(i)); }
};

using LeafFn = absl::FunctionRef<absl::Status(const Leaf&)>;

// Walker
//
// Depth-first walks of b-trees on one source. Within one walker, each node
// is visited at most once until ForgetVisited(): a node reached again (a
// subtree shared by snapshots, or a cycle) is skipped, as thin-provisioning-
// tools 0.9.0 does. With CountReferences(), a node reached again is counted
// instead (the count a space map must hold for it) and still not entered.
class Walker {
 public:
  explicit Walker(const Source& source);
  ~Walker();

  // Walks the tree at `root` whose leaves hold `value_size`-byte values,
  // calling `leaf_fn` for each leaf in key order. An error from a node
  // (unreadable, bad checksum or shape) or from `leaf_fn` ends the walk.
  // Nested walks (from inside `leaf_fn`) are allowed: a two-level tree is a
  // walk of its top level whose callback walks each subtree.
  absl::Status Walk(uint64_t root, uint32_t value_size, LeafFn leaf_fn);

  // Looks `key` up in the one-level tree at `root` whose leaves hold
  // `value_size`-byte values, copied to `value`; kNotFound when it is not
  // there. Checks checksums and block numbers on the way down.
  absl::Status Lookup(uint64_t root, uint64_t key, uint32_t value_size,
                      uint8_t* value);

  // Forgets which nodes were visited (a new, independent walk).
  void ForgetVisited();
  // Counts every reference to a node in `counts` (indexed by block) instead
  // of remembering visits; nullptr goes back to visit-once.
  void CountReferences(std::vector<uint32_t>* counts) { counts_ = counts; }
  // thin_check --ignore-non-fatal-errors: underfull nodes pass.
  void set_ignore_non_fatal(bool v) { ignore_non_fatal_ = v; }

  const Source& source() const { return source_; }

 private:
  struct Frame;
  absl::Status WalkNode(uint64_t block, uint32_t value_size, bool is_root,
                        bool has_parent_key, uint64_t parent_key, int depth,
                        const uint8_t* preloaded, Frame* frames,
                        uint64_t* last_leaf_key, bool* have_last_leaf,
                        LeafFn leaf_fn);
  // True when `block` was reached before (and counts it when counting).
  bool Reached(uint64_t block);

  const Source& source_;
  std::vector<uint64_t> visited_;       // one bit per block
  std::vector<uint64_t> visited_list_;  // the set bits' words, to forget
  std::vector<uint32_t>* counts_ = nullptr;
  bool ignore_non_fatal_ = false;
  // Leaves read in one go, one buffer for each of the first two nested
  // walks (a mapping tree's top level and a device's tree).
  std::unique_ptr<uint8_t[]> batches_[2];
  bool batch_busy_[2] = {false, false};
  int nesting_ = 0;
};

// ForEachSpaceMapCount()
//
// A space map's reference counts, read bitmap block by bitmap block: the
// metadata space map (one index block) or the data space map (an index
// b-tree). Calls `fn(first_block, counts, n)` for each bitmap's blocks, in
// order. Uses (and resets) `walker`'s visit-once state.
absl::Status ForEachSpaceMapCount(
    Walker& walker, const SpaceMapRoot& root, bool metadata,
    absl::FunctionRef<absl::Status(uint64_t first, const uint32_t* counts,
                                   uint32_t n)>
        fn);

// OpenMetadata()
//
// The superblock to read: block 0, or with `metadata_snap` the metadata
// snapshot it holds (kNotFound when none is held). `live_data_blocks` (if
// not null) gets block 0's data block count (a snapshot's space map roots
// are zero).
absl::StatusOr<Superblock> OpenMetadata(const Source& source,
                                        bool metadata_snap,
                                        uint64_t* live_data_blocks);

// ReadDetails()
//
// Every device's details (the tree at `sb`'s device_details_root), in
// device id order. Errors name the source and the tree. With
// `ignore_non_fatal`, underfull nodes pass (thin_dump 0.9.0 walks so;
// thin_ls does not).
using DetailsList = std::vector<std::pair<uint64_t, DeviceDetails>>;
absl::StatusOr<DetailsList> ReadDetails(const Source& source,
                                        const Superblock& sb,
                                        bool ignore_non_fatal = false);

// HighestMappedBlock()
//
// The highest virtual block device `dev` maps in the mapping tree at
// `mapping_root` (nullopt when it maps none); kNotFound when the tree has
// no such device. Walks the device's tree (its leaves stream; nothing is
// kept).
absl::StatusOr<std::optional<uint64_t>> HighestMappedBlock(
    Walker& walker, uint64_t mapping_root, uint64_t dev);

// ReadCheckedBlock()
//
// Reads one block and checks its checksum (with `salt`) and, when
// `blocknr_offset` is not negative, the block number stored there.
absl::Status ReadCheckedBlock(const Source& source, uint64_t block,
                              uint32_t salt, int blocknr_offset, uint8_t* out);

}  // namespace dmkit::thin

#endif  // DMKIT_TOOLS_COMMON_THIN_METADATA_H_
