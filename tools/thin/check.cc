// dmkit thin check: thin_check 0.9.0's examination and verdict.
//
// Like thin_check 0.9.0: the superblock's checksum; the device details tree
// and the two-level mapping tree, each node visited once per tree (shape,
// key order, parent keys, leaf keys ascending); then every metadata block's
// reference count, counted from the trees, the metadata snapshot's trees
// and both space maps' own blocks, against the metadata space map. (0.9.0
// does not compare the data space map's counts, so neither does this.)
// Reports go to stderr, TRANSACTION_ID and METADATA_FREE_BLOCKS to stdout;
// exit status 0 when clean, 1 otherwise.
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/common/thin_metadata.h"
#include "tools/thin/thin.h"

namespace dmkit::thin {
namespace {

constexpr char kCheckUsage[] =
    "Usage: dmkit thin check [-q|--quiet] [--clear-needs-check-flag]\n"
    "                        [--ignore-non-fatal-errors] [--super-block-only]"
    " DEV\n"
    "\n"
    "Checks the thin-pool metadata on DEV (a metadata device or file) as\n"
    "thin_check 0.9.0 does; exit status 0 when it is clean.\n"
    "\n"
    "  -q, --quiet                 print nothing, only the exit status\n"
    "  --clear-needs-check-flag    after a clean check, clear the "
    "superblock's\n"
    "                              needs_check flag (rewrites block 0 alone)\n"
    "  --ignore-non-fatal-errors   accept underfull b-tree nodes\n"
    "  --super-block-only          check the superblock alone\n";

class Checker {
 public:
  Checker(const Source& source, bool quiet, bool ignore_non_fatal)
      : source_(source), quiet_(quiet), walker_(source) {
    walker_.set_ignore_non_fatal(ignore_non_fatal);
  }

  // Returns true when the metadata is clean.
  bool Run(bool superblock_only, Superblock* sb_out) {
    Say(0, "examining superblock");
    uint8_t block[kBlockBytes];
    if (absl::Status s = source_.Read(0, 1, block); !s.ok()) {
      Say(1, "superblock is corrupt");
      Say(2, s.message());
      return false;
    }
    uint32_t wanted = BlockChecksum(block, kSuperblockXor);
    if (Le32(block) != wanted) {
      Say(1, "superblock is corrupt");
      Say(2, absl::StrCat("bad checksum in superblock, wanted ", wanted));
      return false;
    }
    Superblock sb = DecodeSuperblock(block, 0);
    *sb_out = sb;
    if (!quiet_) {
      printf("TRANSACTION_ID=%llu\nMETADATA_FREE_BLOCKS=%llu\n",
             static_cast<unsigned long long>(sb.transaction_id),
             static_cast<unsigned long long>(source_.nr_blocks() - 1));
      fflush(stdout);
    }
    if (superblock_only) return true;

    bool clean = true;
    Say(0, "examining devices tree");
    if (absl::Status s = WalkDetails(sb); !s.ok()) {
      Say(1, "missing devices");
      Say(2, s.message());
      clean = false;
    }
    Say(0, "examining mapping tree");
    walker_.ForgetVisited();
    if (!WalkMappings(sb.data_mapping_root)) clean = false;
    if (!clean) return false;

    Say(0, "checking space map counts");
    return CheckSpaceMapCounts(sb);
  }

 private:
  void Say(int level, absl::string_view text) {
    if (quiet_) return;
    fprintf(stderr, "%*s%.*s\n", 2 * level, "", static_cast<int>(text.size()),
            text.data());
  }

  absl::Status WalkDetails(const Superblock& sb) {
    walker_.ForgetVisited();
    return walker_.Walk(sb.device_details_root, kDetailsValueSize,
                        [](const Leaf&) { return absl::OkStatus(); });
  }

  // The whole two-level tree, each node once; a device whose tree is
  // damaged is reported and the walk goes on with the next device.
  bool WalkMappings(uint64_t root) {
    bool clean = true;
    absl::Status s = walker_.Walk(root, 8, [&](const Leaf& leaf) {
      for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
        absl::Status ds = walker_.Walk(
            leaf.value64(i), 8, [](const Leaf&) { return absl::OkStatus(); });
        if (!ds.ok()) {
          Say(1, absl::StrCat("thin device ", leaf.key(i),
                              " is missing mappings"));
          Say(2, ds.message());
          clean = false;
        }
      }
      return absl::OkStatus();
    });
    if (!s.ok()) {
      Say(1, "missing all mappings for devices");
      Say(2, s.message());
      return false;
    }
    return clean;
  }

  // Counts every reference to every metadata block (what the metadata
  // space map must say) and compares.
  bool CheckSpaceMapCounts(const Superblock& sb) {
    const SpaceMapRoot& msm = sb.metadata_space_map;
    uint64_t size = std::max<uint64_t>(
        source_.nr_blocks(),
        std::min<uint64_t>(msm.nr_blocks, uint64_t{255} * kEntriesPerBitmap));
    std::vector<uint32_t> expected(size, 0);
    expected[0]++;
    walker_.CountReferences(&expected);
    absl::Status s = CountTrees(sb);
    if (s.ok() && sb.held_root != 0) {
      if (sb.held_root < size) expected[sb.held_root]++;
      absl::StatusOr<Superblock> snap = ReadSuperblock(source_, sb.held_root);
      s = snap.ok() ? CountTrees(*snap) : snap.status();
    }
    if (s.ok()) s = CountSpaceMap(msm, /*metadata=*/true, expected);
    if (s.ok())
      s = CountSpaceMap(sb.data_space_map, /*metadata=*/false, expected);
    walker_.CountReferences(nullptr);
    if (!s.ok()) {
      Say(1, s.message());
      return false;
    }
    bool clean = true;
    s = ForEachSpaceMapCount(
        walker_, msm, /*metadata=*/true,
        [&](uint64_t first, const uint32_t* counts, uint32_t n) {
          for (uint32_t i = 0; i < n; ++i) {
            uint64_t b = first + i;
            if (counts[i] != expected[b]) {
              Say(1, absl::StrCat("metadata reference counts differ for block ",
                                  b, ", expected ", expected[b], ", but got ",
                                  counts[i]));
              clean = false;
            }
          }
          return absl::OkStatus();
        });
    if (!s.ok()) {
      Say(1, s.message());
      return false;
    }
    return clean;
  }

  absl::Status CountTrees(const Superblock& sb) {
    absl::Status s = walker_.Walk(sb.device_details_root, kDetailsValueSize,
                                  [](const Leaf&) { return absl::OkStatus(); });
    if (!s.ok()) return s;
    return walker_.Walk(sb.data_mapping_root, 8, [&](const Leaf& leaf) {
      for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
        absl::Status ds = walker_.Walk(
            leaf.value64(i), 8, [](const Leaf&) { return absl::OkStatus(); });
        if (!ds.ok()) return ds;
      }
      return absl::OkStatus();
    });
  }

  // The blocks a space map is made of: its index (block or tree), its
  // bitmaps and its ref-count tree.
  absl::Status CountSpaceMap(const SpaceMapRoot& root, bool metadata,
                             std::vector<uint32_t>& expected) {
    uint8_t block[kBlockBytes];
    auto count_bitmap = [&](uint64_t b) -> absl::Status {
      if (b == 0) return absl::OkStatus();
      absl::Status s = ReadCheckedBlock(source_, b, kBitmapXor, 8, block);
      if (!s.ok()) return s;
      expected[b]++;
      return absl::OkStatus();
    };
    if (metadata) {
      uint64_t nr_indexes =
          (root.nr_blocks + kEntriesPerBitmap - 1) / kEntriesPerBitmap;
      if (root.bitmap_root < expected.size()) expected[root.bitmap_root]++;
      uint8_t index[kBlockBytes];
      absl::Status s =
          ReadCheckedBlock(source_, root.bitmap_root, kIndexXor, 8, index);
      for (uint64_t i = 0; s.ok() && i < nr_indexes && i < 255; ++i) {
        s = count_bitmap(Le64(index + 16 + 16 * i));
      }
      if (!s.ok()) return s;
    } else {
      absl::Status s = walker_.Walk(root.bitmap_root, 16, [&](const Leaf& l) {
        for (uint32_t i = 0; i < l.nr_entries; ++i) {
          if (absl::Status bs = count_bitmap(l.value64(i)); !bs.ok()) return bs;
        }
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
    }
    return walker_.Walk(root.ref_count_root, 4,
                        [](const Leaf&) { return absl::OkStatus(); });
  }

  const Source& source_;
  bool quiet_;
  Walker walker_;
};

}  // namespace

int CheckMain(int argc, char** argv) {
  bool quiet = false, clear_flag = false, ignore_non_fatal = false,
       superblock_only = false;
  static const option kLong[] = {
      {"help", no_argument, nullptr, 'h'},
      {"quiet", no_argument, nullptr, 'q'},
      {"clear-needs-check-flag", no_argument, nullptr, 1},
      {"ignore-non-fatal-errors", no_argument, nullptr, 2},
      {"super-block-only", no_argument, nullptr, 3},
      {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hq", kLong, nullptr)) != -1) {
    switch (c) {
      case 'h':
        fputs(kCheckUsage, stdout);
        return 0;
      case 'q':
        quiet = true;
        break;
      case 1:
        clear_flag = true;
        break;
      case 2:
        ignore_non_fatal = true;
        break;
      case 3:
        superblock_only = true;
        break;
      default:
        return UsageError("check",
                          absl::StrCat("bad option '", argv[optind - 1], "'"));
    }
  }
  if (argc - optind != 1) {
    return UsageError("check", argc == optind ? "no metadata device given"
                                              : "more than one device given");
  }
  if (clear_flag && (ignore_non_fatal || superblock_only)) {
    return UsageError("check",
                      "--clear-needs-check-flag needs a full examination");
  }
  absl::StatusOr<Source> source =
      Source::Open(argv[optind], /*writable=*/false, /*exclusive=*/true);
  if (!source.ok()) return Fail("check", source.status());
  if (source->nr_blocks() == 0) {
    return Fail("check", absl::InvalidArgumentError(absl::StrCat(
                             source->name(),
                             ": metadata device/file too small; is this "
                             "binary metadata?")));
  }
  Superblock sb;
  bool clean =
      Checker(*source, quiet, ignore_non_fatal).Run(superblock_only, &sb);
  if (!clean) return 1;
  if (clear_flag && sb.needs_check()) {
    // Exactly thin_check's result: block 0 as it is, the flag's bit
    // cleared and the checksum made again.
    absl::StatusOr<Source> rw = Source::Open(argv[optind], /*writable=*/true);
    if (!rw.ok()) return Fail("check", rw.status());
    uint8_t block[kBlockBytes];
    absl::Status s = rw->Read(0, 1, block);
    if (s.ok() && Le32(block) != BlockChecksum(block, kSuperblockXor)) {
      s = absl::AbortedError("superblock changed during the check");
    }
    if (s.ok()) {
      uint32_t flags = Le32(block + 4) & ~kNeedsCheckFlag;
      memcpy(block + 4, &flags, 4);
      uint32_t csum = BlockChecksum(block, kSuperblockXor);
      memcpy(block, &csum, 4);
      s = rw->WriteBlock(0, block);
    }
    if (!s.ok()) return Fail("check", s);
    if (!quiet) fputs("cleared needs_check flag\n", stderr);
  }
  return 0;
}

}  // namespace dmkit::thin
