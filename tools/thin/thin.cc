// dmkit thin ls|dump|check: thin-pool metadata read without
// thin-provisioning-tools. `ls` and `dump` print what thin_ls and thin_dump
// 0.9.0 print, byte for byte; `check` gives thin_check 0.9.0's verdict.
#include "tools/thin/thin.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "dmioctl/device_mapper.h"
#include "tools/applet.h"
#include "tools/common/json_writer.h"
#include "tools/common/pool_snapshot.h"
#include "tools/common/thin_metadata.h"
#include "tools/thin/output.h"

namespace dmkit::thin {

// ---------------------------------------------------------------------------
// Output

bool Output::Flush() {
  if (used_ > 0) {
    size_t n = used_;
    used_ = 0;
    Write(buf_, n);
  }
  return !failed_;
}

Output& Output::Write(const char* p, size_t n) {
  while (n > 0 && !failed_) {
    ssize_t w = write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      failed_ = true;
      break;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return *this;
}

std::string Decimal(uint64_t v) {
  char tmp[21];
  int n = 20;
  tmp[n] = '\0';
  do {
    tmp[--n] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return std::string(tmp + n);
}

// ---------------------------------------------------------------------------
// Shared by the commands

int Fail(const char* command, const absl::Status& status) {
  fprintf(stderr, "dmkit thin %s: %.*s\n", command,
          static_cast<int>(status.message().size()), status.message().data());
  return 1;
}

int UsageError(const char* command, const std::string& what) {
  fprintf(stderr, "dmkit thin %s: %s (try 'dmkit thin %s --help')\n", command,
          what.c_str(), command);
  return 1;
}

namespace {

// ---------------------------------------------------------------------------
// thin dump

constexpr char kDumpUsage[] =
    "Usage: dmkit thin dump [-m|--metadata-snap] [--pool NAME]\n"
    "                       [-f|--format xml] DEV\n"
    "\n"
    "Prints the thin-pool metadata on DEV (a metadata device or file) as\n"
    "thin_dump 0.9.0 does: the superblock, each device and its mappings,\n"
    "consecutive blocks with the same time merged into range_mapping.\n"
    "\n"
    "  -m, --metadata-snap  dump the metadata snapshot held in the superblock\n"
    "  --pool NAME          NAME is the active pool whose metadata device is\n"
    "                       DEV: reserve its metadata snapshot, dump it (as\n"
    "                       -m), release it\n"
    "  -f, --format xml     the only format\n";

// Merges consecutive mappings into runs as thin_dump 0.9.0 does: a run
// grows while both the virtual and the data block are the next ones and
// the time is the same.
class MappingEmitter {
 public:
  explicit MappingEmitter(Output& out) : out_(out) {}

  void Add(uint64_t origin, uint64_t data, uint32_t time) {
    if (len_ != 0 && origin == origin_ + len_ && data == data_ + len_ &&
        time == time_) {
      ++len_;
      return;
    }
    End();
    origin_ = origin;
    data_ = data;
    time_ = time;
    len_ = 1;
  }

  void End() {
    if (len_ == 0) return;
    if (len_ == 1) {
      out_.Put("    <single_mapping origin_block=\"").Uint(origin_);
      out_.Put("\" data_block=\"").Uint(data_);
    } else {
      out_.Put("    <range_mapping origin_begin=\"").Uint(origin_);
      out_.Put("\" data_begin=\"").Uint(data_);
      out_.Put("\" length=\"").Uint(len_);
    }
    out_.Put("\" time=\"").Uint(time_).Put("\"/>\n");
    len_ = 0;
  }

 private:
  Output& out_;
  uint64_t origin_ = 0;
  uint64_t data_ = 0;
  uint32_t time_ = 0;
  uint64_t len_ = 0;
};

int Dump(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv) {
  bool snap = false;
  std::string pool;
  static const option kLong[] = {{"help", no_argument, nullptr, 'h'},
                                 {"metadata-snap", no_argument, nullptr, 'm'},
                                 {"format", required_argument, nullptr, 'f'},
                                 {"pool", required_argument, nullptr, 3},
                                 {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hmf:", kLong, nullptr)) != -1) {
    switch (c) {
      case 'h':
        fputs(kDumpUsage, stdout);
        return 0;
      case 'm':
        snap = true;
        break;
      case 3:
        pool = optarg;
        break;
      case 'f':
        if (strcmp(optarg, "xml") != 0) {
          return UsageError("dump", absl::StrCat("unsupported format '", optarg,
                                                 "' (only xml)"));
        }
        break;
      default:
        return UsageError("dump",
                          absl::StrCat("bad option '", argv[optind - 1], "'"));
    }
  }
  if (argc - optind != 1) {
    return UsageError("dump", argc == optind ? "no metadata device given"
                                             : "more than one device given");
  }
  // With --pool the snapshot the pool holds for us is what is read.
  snap |= !pool.empty();
  return RunWithPoolSnapshot(
      std::move(dm), "dmkit thin dump", pool, argv[optind], [&]() -> int {
        // Like thin-provisioning-tools: O_EXCL unless reading the metadata
        // snapshot, so a pool's live metadata device is refused (EBUSY).
        absl::StatusOr<Source> source =
            Source::Open(argv[optind], /*writable=*/false, /*exclusive=*/!snap);
        if (!source.ok()) return Fail("dump", source.status());
        absl::StatusOr<Superblock> sb = OpenMetadata(*source, snap, nullptr);
        if (!sb.ok()) return Fail("dump", sb.status());

        // thin_dump 0.9.0 walks with ignore_non_fatal: underfull nodes pass
        // (thin_ls does not ignore them).
        Walker details_walker(*source);
        details_walker.set_ignore_non_fatal(true);
        std::vector<std::pair<uint64_t, DeviceDetails>> details;
        if (absl::Status s =
                ReadDetails(details_walker, sb->device_details_root, &details);
            !s.ok()) {
          return Fail("dump", absl::DataLossError(absl::StrCat(
                                  source->name(),
                                  ": device details tree: ", s.message())));
        }

        Output out(STDOUT_FILENO);
        // A metadata snapshot's space map roots are zero: 0.9.0 prints 0.
        uint64_t nr_data_blocks =
            sb->location == 0 ? sb->data_space_map.nr_blocks : 0;
        out.Put("<superblock uuid=\"\" time=\"").Uint(sb->time);
        out.Put("\" transaction=\"").Uint(sb->transaction_id);
        out.Put("\" flags=\"").Uint(sb->flags);
        out.Put("\" version=\"").Uint(sb->version);
        out.Put("\" data_block_size=\"").Uint(sb->data_block_size);
        out.Put("\" nr_data_blocks=\"").Uint(nr_data_blocks).Put("\">\n");

        Walker top(*source);
        Walker device(*source);
        top.set_ignore_non_fatal(true);
        device.set_ignore_non_fatal(true);
        MappingEmitter emitter(out);
        uint64_t current_dev = 0;
        absl::Status s =
            top.Walk(sb->data_mapping_root, 8, [&](const Leaf& leaf) {
              for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
                uint64_t dev = leaf.key(i);
                current_dev = dev;
                auto it = std::lower_bound(
                    details.begin(), details.end(), dev,
                    [](const auto& d, uint64_t k) { return d.first < k; });
                if (it == details.end() || it->first != dev) {
                  return absl::DataLossError(
                      absl::StrCat("mappings present for device ", dev,
                                   ", but it isn't present in device tree"));
                }
                const DeviceDetails& d = it->second;
                out.Put("  <device dev_id=\"").Uint(dev & 0xffffffff);
                out.Put("\" mapped_blocks=\"").Uint(d.mapped_blocks);
                out.Put("\" transaction=\"").Uint(d.transaction_id);
                out.Put("\" creation_time=\"").Uint(d.creation_time);
                out.Put("\" snap_time=\"")
                    .Uint(d.snapshotted_time)
                    .Put("\">\n");
                device.ForgetVisited();
                absl::Status ds =
                    device.Walk(leaf.value64(i), 8, [&](const Leaf& m) {
                      for (uint32_t j = 0; j < m.nr_entries; ++j) {
                        uint64_t v = m.value64(j);
                        emitter.Add(m.key(j), v >> 24,
                                    static_cast<uint32_t>(v & 0xffffff));
                      }
                      return absl::OkStatus();
                    });
                emitter.End();
                out.Put("  </device>\n");
                if (!ds.ok()) return ds;
                if (out.failed()) return absl::OkStatus();
              }
              return absl::OkStatus();
            });
        if (!s.ok()) {
          out.Flush();
          return Fail("dump", absl::DataLossError(absl::StrCat(
                                  source->name(), ": mapping tree of device ",
                                  current_dev, ": ", s.message(),
                                  " (metadata contains errors; run 'dmkit thin "
                                  "check' for details)")));
        }
        out.Put("</superblock>\n");
        if (!out.Flush()) {
          return Fail("dump",
                      absl::UnknownError(absl::StrCat(
                          "write to standard output: ", strerror(errno))));
        }
        return 0;
      });
}

// ---------------------------------------------------------------------------
// thin ls

constexpr const char* kFieldNames[] = {"DEV",
                                       "MAPPED_BLOCKS",
                                       "EXCLUSIVE_BLOCKS",
                                       "SHARED_BLOCKS",
                                       "MAPPED_SECTORS",
                                       "EXCLUSIVE_SECTORS",
                                       "SHARED_SECTORS",
                                       "MAPPED_BYTES",
                                       "EXCLUSIVE_BYTES",
                                       "SHARED_BYTES",
                                       "MAPPED",
                                       "EXCLUSIVE",
                                       "SHARED",
                                       "TRANSACTION",
                                       "CREATE_TIME",
                                       "SNAP_TIME"};
enum Field {
  kDev,
  kMappedBlocks,
  kExclusiveBlocks,
  kSharedBlocks,
  kMappedSectors,
  kExclusiveSectors,
  kSharedSectors,
  kMappedBytes,
  kExclusiveBytes,
  kSharedBytes,
  kMapped,
  kExclusive,
  kShared,
  kTransaction,
  kCreateTime,
  kSnapTime,
  kNumFields
};

constexpr char kLsUsage[] =
    "Usage: dmkit thin ls [-m|--metadata-snap] [--pool NAME]\n"
    "                     [-o|--format FIELDS] [--no-headers] [--json] DEV\n"
    "\n"
    "Lists the thin devices in the thin-pool metadata on DEV (a metadata\n"
    "device or file) as thin_ls 0.9.0 does. FIELDS is a comma separated\n"
    "list from: DEV, MAPPED_BLOCKS, EXCLUSIVE_BLOCKS, SHARED_BLOCKS,\n"
    "MAPPED_SECTORS, EXCLUSIVE_SECTORS, SHARED_SECTORS, MAPPED_BYTES,\n"
    "EXCLUSIVE_BYTES, SHARED_BYTES, MAPPED, EXCLUSIVE, SHARED, TRANSACTION,\n"
    "CREATE_TIME, SNAP_TIME (default DEV,MAPPED,CREATE_TIME,SNAP_TIME).\n"
    "MAPPED is the details tree's count; EXCLUSIVE counts mappings whose\n"
    "data block no other mapping uses; SHARED is MAPPED - EXCLUSIVE.\n"
    "\n"
    "  -m, --metadata-snap  list the metadata snapshot held in the superblock\n"
    "  --pool NAME          NAME is the active pool whose metadata device is\n"
    "                       DEV: reserve its metadata snapshot, list it (as\n"
    "                       -m), release it\n"
    "  --no-headers         no header line\n"
    "  --json               one JSON object: {\"devices\":[{field:value}]},\n"
    "                       field names in lower case, MAPPED, EXCLUSIVE\n"
    "                       and SHARED in bytes\n";

// thin_ls 0.9.0's human-readable size of `sectors` (base::format_disk_unit):
// bytes, divided by 1024 while above 1 MiB, then rounded once more to the
// next unit when above 8 KiB.
std::string FormatDiskUnit(uint64_t sectors) {
  static const char* const kUnits[] = {"",    "KiB", "MiB", "GiB",
                                       "TiB", "PiB", "EiB"};
  uint64_t n = sectors * 512;
  int i = 0;
  for (; n > 1024ull * 1024; ++i) n /= 1024;
  if (n > 8 * 1024ull) {
    n = (n + 512) / 1024;
    ++i;
  }
  return Decimal(n) + kUnits[i];
}

// Two bits per data block: referenced once, referenced more than once.
// Grows with the highest block seen, so its size follows the mappings,
// not what a (possibly corrupt) superblock claims.
class MappingSet {
 public:
  // `nr_blocks` is the pool's data block count (0 if unknown, as for a
  // metadata snapshot): a mapping beyond it is corrupt, and without it the
  // set stops at 2^32 blocks (1 GiB).
  explicit MappingSet(uint64_t nr_blocks) : limit_(nr_blocks) {}

  absl::Status Inc(uint64_t b) {
    if (b / 32 >= bits_.size()) {
      if ((limit_ != 0 && b >= limit_) || b >= (uint64_t{1} << 32)) {
        return absl::DataLossError(absl::StrCat("mapping to data block ", b,
                                                " beyond the pool's ", limit_,
                                                " data blocks"));
      }
      bits_.resize(std::max<uint64_t>(b / 32 + 1, bits_.size() * 2), 0);
    }
    uint64_t& w = bits_[b / 32];
    uint64_t once = uint64_t{1} << (2 * (b % 32));
    w |= (w & once) << 1 | once;
    return absl::OkStatus();
  }

  bool Exclusive(uint64_t b) const {
    if (b / 32 >= bits_.size()) return false;
    return ((bits_[b / 32] >> (2 * (b % 32))) & 3) == 1;
  }

 private:
  uint64_t limit_;
  std::vector<uint64_t> bits_;
};

int Ls(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv) {
  bool snap = false;
  std::string pool;
  bool headers = true;
  bool json = false;
  std::vector<Field> fields = {kDev, kMapped, kCreateTime, kSnapTime};
  static const option kLong[] = {{"help", no_argument, nullptr, 'h'},
                                 {"metadata-snap", no_argument, nullptr, 'm'},
                                 {"format", required_argument, nullptr, 'o'},
                                 {"no-headers", no_argument, nullptr, 1},
                                 {"json", no_argument, nullptr, 2},
                                 {"pool", required_argument, nullptr, 3},
                                 {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hmo:", kLong, nullptr)) != -1) {
    switch (c) {
      case 'h':
        fputs(kLsUsage, stdout);
        return 0;
      case 'm':
        snap = true;
        break;
      case 3:
        pool = optarg;
        break;
      case 1:
        headers = false;
        break;
      case 2:
        json = true;
        break;
      case 'o': {
        fields.clear();
        // As getline(',') splits: an empty item is an error, a trailing
        // comma is not.
        absl::string_view list = optarg;
        while (!list.empty()) {
          size_t comma = list.find(',');
          absl::string_view item = list.substr(0, comma);
          list = comma == absl::string_view::npos ? absl::string_view()
                                                  : list.substr(comma + 1);
          int f = 0;
          while (f < kNumFields && item != kFieldNames[f]) ++f;
          if (f == kNumFields) {
            return UsageError("ls", absl::StrCat("unknown field '", item, "'"));
          }
          fields.push_back(static_cast<Field>(f));
        }
        break;
      }
      default:
        return UsageError("ls",
                          absl::StrCat("bad option '", argv[optind - 1], "'"));
    }
  }
  if (argc - optind != 1) {
    return UsageError("ls", argc == optind ? "no metadata device given"
                                           : "more than one device given");
  }
  // With --pool the snapshot the pool holds for us is what is read.
  snap |= !pool.empty();
  return RunWithPoolSnapshot(
      std::move(dm), "dmkit thin ls", pool, argv[optind], [&]() -> int {
        // Like thin-provisioning-tools: O_EXCL unless reading the metadata
        // snapshot, so a pool's live metadata device is refused (EBUSY).
        absl::StatusOr<Source> source =
            Source::Open(argv[optind], /*writable=*/false, /*exclusive=*/!snap);
        if (!source.ok()) return Fail("ls", source.status());
        uint64_t data_blocks = 0;
        absl::StatusOr<Superblock> sb =
            OpenMetadata(*source, snap, &data_blocks);
        if (!sb.ok()) return Fail("ls", sb.status());

        Walker walker(*source);
        std::vector<std::pair<uint64_t, DeviceDetails>> details;
        if (absl::Status s =
                ReadDetails(walker, sb->device_details_root, &details);
            !s.ok()) {
          return Fail("ls", absl::DataLossError(absl::StrCat(
                                source->name(),
                                ": device details tree: ", s.message())));
        }

        bool need_sharing = false;
        for (Field f : fields) {
          need_sharing |= f == kExclusiveBlocks || f == kSharedBlocks ||
                          f == kExclusiveSectors || f == kSharedSectors ||
                          f == kExclusiveBytes || f == kSharedBytes ||
                          f == kExclusive || f == kShared;
        }
        // Pass 1 counts each data block's references over all devices; pass 2
        // counts, per device, the mappings whose block has one reference.
        std::vector<uint64_t> exclusive(details.size(), 0);
        if (need_sharing) {
          MappingSet set(data_blocks);
          std::vector<uint64_t> roots;
          roots.reserve(details.size());
          for (const auto& [dev, d] : details) {
            uint8_t root[8];
            absl::Status s = walker.Lookup(sb->data_mapping_root, dev, 8, root);
            if (!s.ok()) {
              return Fail(
                  "ls",
                  absl::DataLossError(absl::StrCat(
                      source->name(), ": device ", dev,
                      ": couldn't find mapping tree root: ", s.message())));
            }
            roots.push_back(Le64(root));
          }
          for (int pass = 1; pass <= 2; ++pass) {
            for (size_t i = 0; i < details.size(); ++i) {
              walker.ForgetVisited();
              uint64_t count = 0;
              absl::Status s = walker.Walk(roots[i], 8, [&](const Leaf& leaf) {
                for (uint32_t j = 0; j < leaf.nr_entries; ++j) {
                  uint64_t block = leaf.value64(j) >> 24;
                  if (pass == 1) {
                    if (absl::Status is = set.Inc(block); !is.ok()) return is;
                  } else {
                    count += set.Exclusive(block);
                  }
                }
                return absl::OkStatus();
              });
              if (!s.ok()) {
                return Fail("ls",
                            absl::DataLossError(absl::StrCat(
                                source->name(), ": mapping tree of device ",
                                details[i].first, ": ", s.message(),
                                " (metadata contains errors; run 'dmkit thin "
                                "check' for details)")));
              }
              exclusive[i] = count;
            }
          }
        }

        uint64_t block_sectors = sb->data_block_size;
        auto value = [&](Field f, size_t i) -> uint64_t {
          const DeviceDetails& d = details[i].second;
          uint64_t mapped = d.mapped_blocks;
          uint64_t excl = exclusive[i];
          switch (f) {
            case kDev:
              return details[i].first;
            case kMappedBlocks:
              return mapped;
            case kExclusiveBlocks:
              return excl;
            case kSharedBlocks:
              return mapped - excl;
            case kMappedSectors:
            case kMapped:
              return mapped * block_sectors;
            case kExclusiveSectors:
            case kExclusive:
              return excl * block_sectors;
            case kSharedSectors:
            case kShared:
              return (mapped - excl) * block_sectors;
            case kMappedBytes:
              return mapped * block_sectors * 512;
            case kExclusiveBytes:
              return excl * block_sectors * 512;
            case kSharedBytes:
              return (mapped - excl) * block_sectors * 512;
            case kTransaction:
              return d.transaction_id;
            case kCreateTime:
              return d.creation_time;
            case kSnapTime:
              return d.snapshotted_time;
            case kNumFields:
              break;
          }
          return 0;
        };
        auto human = [](Field f) {
          return f == kMapped || f == kExclusive || f == kShared;
        };

        if (json) {
          json::Writer w;
          w.BeginObject().Key("devices").BeginArray();
          for (size_t i = 0; i < details.size(); ++i) {
            w.BeginObject();
            for (Field f : fields) {
              std::string key = kFieldNames[f];
              for (char& ch : key) ch = static_cast<char>(tolower(ch));
              w.Key(key).Uint(human(f) ? value(f, i) * 512 : value(f, i));
            }
            w.EndObject();
          }
          w.EndArray().EndObject();
          std::string text = w.Take();
          fputs(text.c_str(), stdout);
          return 0;
        }

        // thin_ls's grid: every column right-aligned to its widest cell, each
        // cell followed by one space.
        std::vector<std::string> cells;
        if (headers) {
          for (Field f : fields) cells.push_back(kFieldNames[f]);
        }
        for (size_t i = 0; i < details.size(); ++i) {
          for (Field f : fields) {
            cells.push_back(human(f) ? FormatDiskUnit(value(f, i))
                                     : Decimal(value(f, i)));
          }
        }
        size_t cols = fields.size();
        if (cols == 0) return 0;
        std::vector<size_t> width(cols, 0);
        for (size_t k = 0; k < cells.size(); ++k) {
          width[k % cols] = std::max(width[k % cols], cells[k].size());
        }
        Output out(STDOUT_FILENO);
        for (size_t k = 0; k < cells.size(); ++k) {
          out.Put(std::string(width[k % cols] - cells[k].size(), ' '));
          out.Put(cells[k]).Put(k % cols == cols - 1 ? " \n" : " ");
        }
        return out.Flush() ? 0 : 1;
      });
}

constexpr char kUsage[] =
    "Usage: dmkit thin COMMAND [OPTIONS] DEV\n"
    "\n"
    "Reads thin-pool metadata from DEV (the pool's metadata device, or a\n"
    "file holding it) without thin-provisioning-tools.\n"
    "\n"
    "  ls     the thin devices (thin_ls)\n"
    "  dump   the metadata as XML (thin_dump)\n"
    "  check  check the metadata (thin_check)\n"
    "\n"
    "'dmkit thin COMMAND --help' describes each.\n";

}  // namespace
}  // namespace dmkit::thin

namespace dmkit {

namespace thin {

int Run(absl::StatusOr<dmioctl::DeviceMapper*> dm, int argc, char** argv) {
  if (argc < 2) {
    fputs(thin::kUsage, stderr);
    return 1;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    fputs(thin::kUsage, stdout);
    return 0;
  }
  if (command == "ls") return thin::Ls(std::move(dm), argc - 1, argv + 1);
  if (command == "dump") return thin::Dump(std::move(dm), argc - 1, argv + 1);
  if (command == "check") return thin::CheckMain(argc - 1, argv + 1);
  fprintf(stderr,
          "dmkit thin: unknown command '%s' (ls, dump or check; try 'dmkit "
          "thin --help')\n",
          argv[1]);
  return 1;
}

}  // namespace thin

int ThinMain(int argc, char** argv) {
  // Only --pool talks to the kernel; DeviceMapper::Instance() reports a
  // failed open of the control device to that command alone.
  return thin::Run(dmioctl::DeviceMapper::Instance(), argc, argv);
}

}  // namespace dmkit
