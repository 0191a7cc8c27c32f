#include "tools/common/thin_metadata.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "dmioctl/error.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace dmkit::thin {
namespace {

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

uint32_t Crc32cTable(uint32_t crc, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    crc = kCrc32cTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
// One crc32q per 8 bytes: about 1.5 us per 4 KiB block, well below the
// cost of reading it.
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc,
                                                          const uint8_t* p,
                                                          size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

absl::Status Corrupt(uint64_t block, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(what, " (block ", block, ")"));
}

constexpr int kMaxDepth = 16;
constexpr uint32_t kBatchBlocks = 256;
constexpr uint32_t kNodeHeaderBytes = 32;
constexpr uint32_t kInternalNode = 1;
constexpr uint32_t kLeafNode = 2;

}  // namespace

uint32_t Crc32c(uint32_t crc, const uint8_t* data, size_t size) {
#if defined(__x86_64__)
  if (HaveSse42()) return Crc32cHardware(crc, data, size);
#endif
  return Crc32cTable(crc, data, size);
}

uint32_t BlockChecksum(const uint8_t* block, uint32_t salt) {
  // dm_bm_checksum(): crc32c(~0, data, len) ^ salt, where the kernel's
  // crc32c applies no final inversion.
  return Crc32c(~0u, block + 4, kBlockBytes - 4) ^ salt;
}

absl::StatusOr<Source> Source::Open(const std::string& path, bool writable,
                                    bool exclusive) {
  int flags =
      (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | (exclusive ? O_EXCL : 0);
  int fd = open(path.c_str(), flags);
  if (fd < 0) return dmkit::ErrnoError(errno, absl::StrCat("open ", path));
  Source s;
  s.fd_.reset(fd);
  s.name_ = path;
  struct stat st;
  if (fstat(fd, &st) != 0) return dmkit::ErrnoError(errno, path);
  uint64_t bytes = static_cast<uint64_t>(st.st_size);
  if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat(path, ": BLKGETSIZE64"));
  }
  s.nr_blocks_ = bytes / kBlockBytes;
  // The walks read the metadata mostly in order; let the kernel read ahead.
  posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return s;
}

Source Source::FromMemory(absl::string_view bytes) {
  Source s;
  s.memory_ = bytes;
  s.name_ = "memory";
  s.nr_blocks_ = bytes.size() / kBlockBytes;
  return s;
}

absl::Status Source::Read(uint64_t first, uint64_t count, uint8_t* out) const {
  if (first >= nr_blocks_ || count > nr_blocks_ - first) {
    return absl::DataLossError(
        absl::StrCat("block ", first, " is beyond the end of the metadata (",
                     nr_blocks_, " blocks)"));
  }
  if (!fd_.valid()) {
    memcpy(out, memory_.data() + first * kBlockBytes, count * kBlockBytes);
    return absl::OkStatus();
  }
  size_t want = count * kBlockBytes;
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd_.get(), out + got, want - got,
                      static_cast<off_t>(first * kBlockBytes + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return dmkit::ErrnoError(errno,
                               absl::StrCat(name_, ": read of block ", first));
    }
    if (n == 0) {
      return absl::DataLossError(absl::StrCat(name_, ": short read at block ",
                                              first + got / kBlockBytes));
    }
    got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status Source::WriteBlock(uint64_t block, const uint8_t* data) {
  if (!fd_.valid()) return absl::FailedPreconditionError("read-only source");
  size_t done = 0;
  while (done < kBlockBytes) {
    ssize_t n = pwrite(fd_.get(), data + done, kBlockBytes - done,
                       static_cast<off_t>(block * kBlockBytes + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return dmkit::ErrnoError(n < 0 ? errno : EIO,
                               absl::StrCat(name_, ": write of block ", block));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd_.get()) != 0) {
    return dmkit::ErrnoError(errno, absl::StrCat(name_, ": fsync"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Superblock> ParseSuperblock(absl::string_view bytes,
                                           uint64_t location) {
  if (bytes.size() < kBlockBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("thin-pool metadata: ", bytes.size(),
                     " bytes is shorter than one metadata block (4096)"));
  }
  bytes = bytes.substr(0, kBlockBytes);
  if (bytes.find_first_not_of('\0') == absl::string_view::npos) {
    return absl::NotFoundError(
        "thin-pool metadata: no superblock (all zeroes; never used by a pool)");
  }
  const uint8_t* b = reinterpret_cast<const uint8_t*>(bytes.data());
  uint64_t magic = Le64(b + 32);
  if (magic != kSuperblockMagic) {
    return absl::InvalidArgumentError(
        absl::StrCat("thin-pool metadata: bad superblock magic ", magic,
                     " (expected ", kSuperblockMagic, ")"));
  }
  uint32_t stored = Le32(b);
  uint32_t computed = BlockChecksum(b, kSuperblockXor);
  if (stored != computed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thin-pool metadata: superblock checksum mismatch (stored 0x",
        absl::Hex(stored), ", computed 0x", absl::Hex(computed), ")"));
  }
  return DecodeSuperblock(b, location);
}

Superblock DecodeSuperblock(const uint8_t* b, uint64_t location) {
  Superblock sb;
  sb.location = location;
  sb.flags = Le32(b + 4);
  sb.blocknr = Le64(b + 8);
  memcpy(sb.uuid, b + 16, 16);
  sb.version = Le32(b + 40);
  sb.time = Le32(b + 44);
  sb.transaction_id = Le64(b + 48);
  sb.held_root = Le64(b + 56);
  SpaceMapRoot* roots[] = {&sb.data_space_map, &sb.metadata_space_map};
  for (int i = 0; i < 2; ++i) {
    const uint8_t* r = b + 64 + 128 * i;
    *roots[i] = {Le64(r), Le64(r + 8), Le64(r + 16), Le64(r + 24)};
  }
  sb.data_mapping_root = Le64(b + 320);
  sb.device_details_root = Le64(b + 328);
  sb.data_block_size = Le32(b + 336);
  sb.metadata_block_size = Le32(b + 340);
  sb.metadata_nr_blocks = Le64(b + 344);
  sb.compat_flags = Le32(b + 352);
  sb.compat_ro_flags = Le32(b + 356);
  sb.incompat_flags = Le32(b + 360);
  return sb;
}

absl::StatusOr<Superblock> ReadSuperblock(const Source& source,
                                          uint64_t location) {
  uint8_t block[kBlockBytes];
  absl::Status read = source.Read(location, 1, block);
  if (!read.ok()) {
    if (location == 0 && source.nr_blocks() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          source.name(),
          ": thin-pool metadata: shorter than one metadata block (4096)"));
    }
    return read;
  }
  absl::StatusOr<Superblock> sb = ParseSuperblock(
      absl::string_view(reinterpret_cast<char*>(block), kBlockBytes), location);
  if (!sb.ok()) {
    return absl::Status(
        sb.status().code(),
        absl::StrCat(source.name(), ": ", sb.status().message()));
  }
  return sb;
}

absl::Status CheckPoolGeometry(const Superblock& sb) {
  // The kernel's limits (dm-thin.c: DATA_DEV_BLOCK_SIZE_MIN/MAX_SECTORS).
  uint32_t bs = sb.data_block_size;
  if (bs < 128 || bs > 2097152 || bs % 128 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thin-pool metadata: data block size of ", bs,
        " sectors is not a multiple of 128 between 128 and 2097152"));
  }
  // A data device is at most 2^64 - 1 sectors; a block count beyond that
  // would wrap the size computed from it.
  if (sb.data_space_map.nr_blocks > UINT64_MAX / bs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "thin-pool metadata: ", sb.data_space_map.nr_blocks, " data blocks of ",
        bs, " sectors is more than a device can have"));
  }
  return absl::OkStatus();
}

DeviceDetails DecodeDetails(const uint8_t* v) {
  return {Le64(v), Le64(v + 8), Le32(v + 16), Le32(v + 20)};
}

absl::Status ReadCheckedBlock(const Source& source, uint64_t block,
                              uint32_t salt, int blocknr_offset, uint8_t* out) {
  if (absl::Status s = source.Read(block, 1, out); !s.ok()) return s;
  const char* kind = salt == kNodeXor     ? "btree node"
                     : salt == kBitmapXor ? "space map bitmap"
                     : salt == kIndexXor  ? "metadata index block"
                                          : "superblock";
  if (Le32(out) != BlockChecksum(out, salt)) {
    return Corrupt(block, absl::StrCat("bad checksum in ", kind));
  }
  if (blocknr_offset >= 0 && Le64(out + blocknr_offset) != block) {
    return Corrupt(block, absl::StrCat("bad block nr in ", kind, ": claims ",
                                       Le64(out + blocknr_offset)));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// B-tree walks

struct Walker::Frame {
  uint8_t block[kBlockBytes];
};

Walker::Walker(const Source& source) : source_(source) {}
Walker::~Walker() = default;

bool Walker::Reached(uint64_t block) {
  if (counts_ != nullptr) {
    if (block >= counts_->size()) return false;  // the read will fail
    return (*counts_)[block]++ > 0;
  }
  if (block >= source_.nr_blocks()) return false;
  if (visited_.empty()) visited_.assign((source_.nr_blocks() + 63) / 64, 0);
  uint64_t& word = visited_[block / 64];
  uint64_t bit = uint64_t{1} << (block % 64);
  if (word & bit) return true;
  if (word == 0) visited_list_.push_back(block / 64);
  word |= bit;
  return false;
}

void Walker::ForgetVisited() {
  for (uint64_t w : visited_list_) visited_[w] = 0;
  visited_list_.clear();
}

absl::Status Walker::Walk(uint64_t root, uint32_t value_size, LeafFn leaf_fn) {
  auto frames = std::make_unique<Frame[]>(kMaxDepth);
  uint64_t last_leaf_key = 0;
  bool have_last_leaf = false;
  ++nesting_;
  absl::Status s =
      WalkNode(root, value_size, /*is_root=*/true,
               /*has_parent_key=*/false, 0, 0, nullptr, frames.get(),
               &last_leaf_key, &have_last_leaf, leaf_fn);
  --nesting_;
  return s;
}

absl::Status Walker::WalkNode(uint64_t block, uint32_t value_size, bool is_root,
                              bool has_parent_key, uint64_t parent_key,
                              int depth, const uint8_t* preloaded,
                              Frame* frames, uint64_t* last_leaf_key,
                              bool* have_last_leaf, LeafFn leaf_fn) {
  if (depth >= kMaxDepth) {
    return Corrupt(block, "btree deeper than 16 levels");
  }
  uint8_t* b = frames[depth].block;
  if (preloaded == nullptr) {
    if (absl::Status s = source_.Read(block, 1, b); !s.ok()) return s;
  } else {
    // The batch may be refilled below this node; keep a copy of it.
    memcpy(b, preloaded, kBlockBytes);
  }
  if (Le32(b) != BlockChecksum(b, kNodeXor)) {
    return Corrupt(block, "bad checksum in btree node");
  }
  if (Le64(b + 8) != block) {
    return Corrupt(block, absl::StrCat("bad block nr in btree node: claims ",
                                       Le64(b + 8)));
  }
  if (Reached(block)) return absl::OkStatus();

  uint32_t flags = Le32(b + 4);
  uint32_t nr = Le32(b + 16);
  uint32_t max = Le32(b + 20);
  uint32_t vsize = Le32(b + 24);
  bool internal = (flags & kInternalNode) != 0;
  if (!internal && (flags & kLeafNode) == 0) {
    return Corrupt(block, absl::StrCat("unknown btree node type ", flags));
  }
  uint32_t want_vsize = internal ? 8 : value_size;
  if (vsize != want_vsize) {
    return Corrupt(block, absl::StrCat("value size mismatch: expected ",
                                       want_vsize, ", but got ", vsize));
  }
  if (uint64_t{8 + vsize} * max + kNodeHeaderBytes > kBlockBytes) {
    return Corrupt(block, absl::StrCat("max entries too large: ", max));
  }
  if (max % 3 != 0) {
    return Corrupt(block,
                   absl::StrCat("max entries is not divisible by 3: ", max));
  }
  if (nr > max) {
    return Corrupt(
        block, absl::StrCat("bad nr_entries: ", nr, " > max_entries ", max));
  }
  if (!is_root && !ignore_non_fatal_ && nr < max / 3) {
    return Corrupt(block, absl::StrCat("too few entries in btree_node: ", nr,
                                       ", expected at least ", max / 3));
  }
  const uint8_t* keys = b + kNodeHeaderBytes;
  const uint8_t* values = keys + 8 * max;
  for (uint32_t i = 1; i < nr; ++i) {
    uint64_t prev = Le64(keys + 8 * (i - 1));
    uint64_t k = Le64(keys + 8 * i);
    if (k <= prev) {
      return Corrupt(block,
                     absl::StrCat("keys are out of order, ", k, " <= ", prev));
    }
  }
  if (has_parent_key && nr > 0 && parent_key > Le64(keys)) {
    return Corrupt(block,
                   absl::StrCat("parent key mismatch: parent was ", parent_key,
                                ", but lowest in node was ", Le64(keys)));
  }

  if (!internal) {
    if (nr == 0) return absl::OkStatus();
    if (*have_last_leaf && *last_leaf_key >= Le64(keys)) {
      return Corrupt(
          block,
          absl::StrCat("the last key of the previous leaf was ", *last_leaf_key,
                       " and the first key of this leaf is ", Le64(keys)));
    }
    *last_leaf_key = Le64(keys + 8 * (nr - 1));
    *have_last_leaf = true;
    return leaf_fn(Leaf{block, nr, vsize, keys, values});
  }

  // Children. When they turn out to be leaves, the rest are read in runs
  // of consecutive blocks (one pread each, up to 1 MiB) instead of one
  // block at a time.
  int slot = nesting_ - 1;
  bool may_batch = slot < 2 && !batch_busy_[slot];
  uint32_t i = 0;
  while (i < nr) {
    uint64_t child = Le64(values + 8 * i);
    uint32_t run = 1;
    if (may_batch && i > 0) {
      while (i + run < nr && run < kBatchBlocks &&
             Le64(values + 8 * (i + run)) == child + run) {
        ++run;
      }
    }
    if (run > 1 && child < source_.nr_blocks() &&
        run <= source_.nr_blocks() - child) {
      if (!batches_[slot]) {
        batches_[slot] =
            std::make_unique<uint8_t[]>(kBatchBlocks * kBlockBytes);
      }
      uint8_t* batch = batches_[slot].get();
      if (absl::Status s = source_.Read(child, run, batch); !s.ok()) return s;
      batch_busy_[slot] = true;
      for (uint32_t j = 0; j < run; ++j) {
        absl::Status s = WalkNode(child + j, value_size, false, true,
                                  Le64(keys + 8 * (i + j)), depth + 1,
                                  batch + j * kBlockBytes, frames,
                                  last_leaf_key, have_last_leaf, leaf_fn);
        if (!s.ok()) {
          batch_busy_[slot] = false;
          return s;
        }
      }
      batch_busy_[slot] = false;
      i += run;
      continue;
    }
    absl::Status s =
        WalkNode(child, value_size, false, true, Le64(keys + 8 * i), depth + 1,
                 nullptr, frames, last_leaf_key, have_last_leaf, leaf_fn);
    if (!s.ok()) return s;
    if (i == 0) {
      // Batch only below the last internal level (whose children are
      // leaves): a batch there is used up before the next one is read.
      uint32_t child_flags = Le32(frames[depth + 1].block + 4);
      may_batch = may_batch && (child_flags & kInternalNode) == 0;
    }
    ++i;
  }
  return absl::OkStatus();
}

absl::Status Walker::Lookup(uint64_t root, uint64_t key, uint32_t value_size,
                            uint8_t* value) {
  uint8_t b[kBlockBytes];
  uint64_t block = root;
  for (int depth = 0; depth < kMaxDepth; ++depth) {
    if (absl::Status s = ReadCheckedBlock(source_, block, kNodeXor, 8, b);
        !s.ok()) {
      return s;
    }
    bool internal = (Le32(b + 4) & kInternalNode) != 0;
    uint32_t nr = Le32(b + 16);
    uint32_t max = Le32(b + 20);
    uint32_t vsize = Le32(b + 24);
    if (vsize != (internal ? 8 : value_size) || nr > max ||
        uint64_t{8 + vsize} * max + kNodeHeaderBytes > kBlockBytes) {
      return Corrupt(block, "bad btree node shape");
    }
    const uint8_t* keys = b + kNodeHeaderBytes;
    // The last key <= `key`.
    uint32_t lo = 0, hi = nr;
    while (lo < hi) {
      uint32_t mid = (lo + hi) / 2;
      if (Le64(keys + 8 * mid) <= key) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == 0) break;
    const uint8_t* v = keys + 8 * max + vsize * (lo - 1);
    if (!internal) {
      if (Le64(keys + 8 * (lo - 1)) != key) break;
      memcpy(value, v, value_size);
      return absl::OkStatus();
    }
    block = Le64(v);
  }
  return absl::NotFoundError(absl::StrCat("key ", key, " not in the btree"));
}

// ---------------------------------------------------------------------------
// Space maps

absl::Status ForEachSpaceMapCount(
    Walker& walker, const SpaceMapRoot& root, bool metadata,
    absl::FunctionRef<absl::Status(uint64_t, const uint32_t*, uint32_t)> fn) {
  const Source& source = walker.source();
  std::vector<uint64_t> bitmaps;
  uint64_t nr_indexes =
      (root.nr_blocks + kEntriesPerBitmap - 1) / kEntriesPerBitmap;
  if (metadata) {
    if (nr_indexes > 255) {
      return absl::DataLossError(absl::StrCat(
          "metadata space map of ", root.nr_blocks,
          " blocks needs more than the 255 bitmaps an index block holds"));
    }
    uint8_t index[kBlockBytes];
    if (absl::Status s =
            ReadCheckedBlock(source, root.bitmap_root, kIndexXor, 8, index);
        !s.ok()) {
      return s;
    }
    for (uint64_t i = 0; i < nr_indexes; ++i) {
      bitmaps.push_back(Le64(index + 16 + 16 * i));
    }
  } else {
    if (nr_indexes > source.nr_blocks()) {
      return absl::DataLossError(absl::StrCat(
          "data space map of ", root.nr_blocks,
          " blocks has more bitmaps than the metadata has blocks"));
    }
    walker.ForgetVisited();
    absl::Status s = walker.Walk(
        root.bitmap_root, 16, [&](const Leaf& leaf) -> absl::Status {
          for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
            if (leaf.key(i) != bitmaps.size()) {
              return Corrupt(
                  leaf.location,
                  absl::StrCat("space map index ", bitmaps.size(), " missing"));
            }
            bitmaps.push_back(leaf.value64(i));
          }
          return absl::OkStatus();
        });
    if (!s.ok()) return s;
    if (bitmaps.size() < nr_indexes) {
      return absl::DataLossError(
          absl::StrCat("data space map index ", bitmaps.size(), " missing"));
    }
  }
  uint8_t bitmap[kBlockBytes];
  std::vector<uint32_t> counts(kEntriesPerBitmap);
  for (uint64_t i = 0; i < nr_indexes; ++i) {
    if (absl::Status s =
            ReadCheckedBlock(source, bitmaps[i], kBitmapXor, 8, bitmap);
        !s.ok()) {
      return s;
    }
    uint64_t first = i * kEntriesPerBitmap;
    uint32_t n = static_cast<uint32_t>(
        std::min<uint64_t>(kEntriesPerBitmap, root.nr_blocks - first));
    const uint8_t* bits = bitmap + 16;
    for (uint32_t e = 0; e < n; ++e) {
      // Two bits per block, little-endian bit order: the first bit of
      // the pair is the high bit of the count.
      uint32_t byte = bits[e / 4] >> ((e % 4) * 2);
      uint32_t count = ((byte & 1) << 1) | ((byte >> 1) & 1);
      if (count == 3) {
        uint8_t value[4];
        absl::Status s =
            walker.Lookup(root.ref_count_root, first + e, 4, value);
        if (!s.ok()) {
          return absl::DataLossError(absl::StrCat(
              "ref count of block ", first + e, ": ", s.message()));
        }
        count = Le32(value);
      }
      counts[e] = count;
    }
    if (absl::Status s = fn(first, counts.data(), n); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Superblock> OpenMetadata(const Source& source,
                                        bool metadata_snap,
                                        uint64_t* live_data_blocks) {
  absl::StatusOr<Superblock> sb = ReadSuperblock(source);
  if (!sb.ok()) return sb;
  if (live_data_blocks != nullptr) {
    *live_data_blocks = sb->data_space_map.nr_blocks;
  }
  if (!metadata_snap) return sb;
  if (sb->held_root == 0) {
    return absl::NotFoundError(
        absl::StrCat(source.name(), ": no current metadata snap"));
  }
  return ReadSuperblock(source, sb->held_root);
}

absl::StatusOr<DetailsList> ReadDetails(const Source& source,
                                        const Superblock& sb,
                                        bool ignore_non_fatal) {
  Walker walker(source);
  walker.set_ignore_non_fatal(ignore_non_fatal);
  DetailsList details;
  absl::Status s = walker.Walk(
      sb.device_details_root, kDetailsValueSize, [&](const Leaf& leaf) {
        for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
          details.emplace_back(leaf.key(i), DecodeDetails(leaf.value(i)));
        }
        return absl::OkStatus();
      });
  if (!s.ok()) {
    return absl::Status(
        s.code(),
        absl::StrCat(source.name(), ": device details tree: ", s.message()));
  }
  return details;
}

absl::StatusOr<std::optional<uint64_t>> HighestMappedBlock(
    Walker& walker, uint64_t mapping_root, uint64_t dev) {
  uint8_t root[8];
  if (absl::Status s = walker.Lookup(mapping_root, dev, 8, root); !s.ok()) {
    return s;
  }
  std::optional<uint64_t> highest;
  walker.ForgetVisited();
  absl::Status s = walker.Walk(Le64(root), 8, [&](const Leaf& leaf) {
    // Leaves come in key order, so the last key seen is the highest.
    if (leaf.nr_entries > 0) highest = leaf.key(leaf.nr_entries - 1);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return highest;
}

}  // namespace dmkit::thin
