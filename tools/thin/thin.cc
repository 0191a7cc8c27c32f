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

// What `ls` and `dump` read: DEV, or with --pool the metadata snapshot of
// the active pool whose metadata device DEV is.
struct MetadataSource {
  std::string dev;
  std::string pool;
  bool snap = false;  // -m, or --pool
};

// Returned by the argument parsers when the command goes on.
constexpr int kGoOn = -1;

// Options both commands take; false for any other.
bool TakeSourceOption(int c, MetadataSource* from) {
  if (c == 'm') {
    from->snap = true;
  } else if (c == 3) {
    from->pool = optarg;
  } else {
    return false;
  }
  return true;
}

// The one DEV operand after the options.
int TakeDevice(const char* command, int argc, char** argv,
               MetadataSource* from) {
  if (argc - optind != 1) {
    return UsageError(command, argc == optind ? "no metadata device given"
                                              : "more than one device given");
  }
  from->dev = argv[optind];
  // With --pool the snapshot the pool holds for us is what is read.
  from->snap |= !from->pool.empty();
  return kGoOn;
}

// Runs `read` on the metadata `from` names, its superblock checked (with
// -m, the snapshot's); with --pool while the pool's metadata snapshot is
// held, released after. `*data_blocks` (if given) is the pool's data block
// count. Returns the exit status.
int ReadMetadata(
    OpenDeviceMapper open_dm, const char* command, const MetadataSource& from,
    uint64_t* data_blocks,
    absl::FunctionRef<int(const Source&, const Superblock&)> read) {
  auto open_and_read = [&]() -> int {
    // Like thin-provisioning-tools: O_EXCL unless reading the metadata
    // snapshot, so a pool's live metadata device is refused (EBUSY).
    absl::StatusOr<Source> source =
        Source::Open(from.dev, /*writable=*/false, /*exclusive=*/!from.snap);
    if (!source.ok()) return Fail(command, source.status());
    absl::StatusOr<Superblock> sb =
        OpenMetadata(*source, from.snap, data_blocks);
    if (!sb.ok()) return Fail(command, sb.status());
    return read(*source, *sb);
  };
  if (from.pool.empty()) return open_and_read();
  absl::StatusOr<dmioctl::DeviceMapper*> dm = open_dm();
  if (!dm.ok()) return Fail(command, dm.status());
  int status = 0;
  absl::Status held = WithPoolSnapshot(**dm, from.pool, from.dev, [&] {
    status = open_and_read();
    return absl::OkStatus();
  });
  return held.ok() ? status : Fail(command, held);
}

// The error of a mapping tree that could not be read.
absl::Status MappingTreeError(const Source& source, uint64_t dev,
                              const absl::Status& s) {
  return absl::DataLossError(absl::StrCat(
      source.name(), ": mapping tree of device ", dev, ": ", s.message(),
      " (metadata contains errors; run 'dmkit thin check' for details)"));
}

// thin_dump's <superblock> line.
void PutSuperblock(const Superblock& sb, Output& out) {
  // A metadata snapshot's space map roots are zero: 0.9.0 prints 0.
  uint64_t nr_data_blocks = sb.location == 0 ? sb.data_space_map.nr_blocks : 0;
  out.Put("<superblock uuid=\"\" time=\"").Uint(sb.time);
  out.Put("\" transaction=\"").Uint(sb.transaction_id);
  out.Put("\" flags=\"").Uint(sb.flags);
  out.Put("\" version=\"").Uint(sb.version);
  out.Put("\" data_block_size=\"").Uint(sb.data_block_size);
  out.Put("\" nr_data_blocks=\"").Uint(nr_data_blocks).Put("\">\n");
}

// thin_dump's <device> line.
void PutDevice(uint64_t dev, const DeviceDetails& d, Output& out) {
  out.Put("  <device dev_id=\"").Uint(dev & 0xffffffff);
  out.Put("\" mapped_blocks=\"").Uint(d.mapped_blocks);
  out.Put("\" transaction=\"").Uint(d.transaction_id);
  out.Put("\" creation_time=\"").Uint(d.creation_time);
  out.Put("\" snap_time=\"").Uint(d.snapshotted_time).Put("\">\n");
}

// Every device with its mappings, in device order, streamed to `out`; stops
// early (OK) once `out` fails.
absl::Status DumpDevices(const Source& source, const Superblock& sb,
                         const DetailsList& details, Output& out) {
  Walker top(source);
  Walker device(source);
  top.set_ignore_non_fatal(true);
  device.set_ignore_non_fatal(true);
  MappingEmitter emitter(out);
  uint64_t current_dev = 0;
  absl::Status s = top.Walk(sb.data_mapping_root, 8, [&](const Leaf& leaf) {
    for (uint32_t i = 0; i < leaf.nr_entries; ++i) {
      uint64_t dev = current_dev = leaf.key(i);
      auto it = std::lower_bound(
          details.begin(), details.end(), dev,
          [](const auto& d, uint64_t k) { return d.first < k; });
      if (it == details.end() || it->first != dev) {
        return absl::DataLossError(
            absl::StrCat("mappings present for device ", dev,
                         ", but it isn't present in device tree"));
      }
      PutDevice(dev, it->second, out);
      device.ForgetVisited();
      absl::Status ds = device.Walk(leaf.value64(i), 8, [&](const Leaf& m) {
        for (uint32_t j = 0; j < m.nr_entries; ++j) {
          uint64_t v = m.value64(j);
          emitter.Add(m.key(j), v >> 24, static_cast<uint32_t>(v & 0xffffff));
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
  return s.ok() ? s : MappingTreeError(source, current_dev, s);
}

int DumpMetadata(const Source& source, const Superblock& sb) {
  // thin_dump 0.9.0 walks with ignore_non_fatal: underfull nodes pass
  // (thin_ls does not ignore them).
  absl::StatusOr<DetailsList> details =
      ReadDetails(source, sb, /*ignore_non_fatal=*/true);
  if (!details.ok()) return Fail("dump", details.status());
  Output out(STDOUT_FILENO);
  PutSuperblock(sb, out);
  if (absl::Status s = DumpDevices(source, sb, *details, out); !s.ok()) {
    out.Flush();
    return Fail("dump", s);
  }
  out.Put("</superblock>\n");
  if (!out.Flush()) {
    return Fail("dump", absl::UnknownError(absl::StrCat(
                            "write to standard output: ", strerror(errno))));
  }
  return 0;
}

int Dump(OpenDeviceMapper open_dm, int argc, char** argv) {
  MetadataSource from;
  static const option kLong[] = {{"help", no_argument, nullptr, 'h'},
                                 {"metadata-snap", no_argument, nullptr, 'm'},
                                 {"format", required_argument, nullptr, 'f'},
                                 {"pool", required_argument, nullptr, 3},
                                 {nullptr, 0, nullptr, 0}};
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, "hmf:", kLong, nullptr)) != -1) {
    if (TakeSourceOption(c, &from)) continue;
    if (c == 'h') {
      fputs(kDumpUsage, stdout);
      return 0;
    }
    if (c != 'f') {
      return UsageError("dump",
                        absl::StrCat("bad option '", argv[optind - 1], "'"));
    }
    if (strcmp(optarg, "xml") != 0) {
      return UsageError(
          "dump", absl::StrCat("unsupported format '", optarg, "' (only xml)"));
    }
  }
  if (int r = TakeDevice("dump", argc, argv, &from); r != kGoOn) return r;
  return ReadMetadata(open_dm, "dump", from, nullptr, &DumpMetadata);
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

// `thin ls`'s options.
struct LsOptions {
  MetadataSource from;
  bool headers = true;
  bool json = false;
  std::vector<Field> fields = {kDev, kMapped, kCreateTime, kSnapTime};
};

// -o's list. As getline(',') splits: an empty item is an error, a trailing
// comma is not.
int ParseFields(absl::string_view list, std::vector<Field>* fields) {
  fields->clear();
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
    fields->push_back(static_cast<Field>(f));
  }
  return kGoOn;
}

int ParseLsArgs(int argc, char** argv, LsOptions* o) {
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
    if (TakeSourceOption(c, &o->from)) continue;
    switch (c) {
      case 'h':
        fputs(kLsUsage, stdout);
        return 0;
      case 1:
        o->headers = false;
        break;
      case 2:
        o->json = true;
        break;
      case 'o':
        if (int r = ParseFields(optarg, &o->fields); r != kGoOn) return r;
        break;
      default:
        return UsageError("ls",
                          absl::StrCat("bad option '", argv[optind - 1], "'"));
    }
  }
  return TakeDevice("ls", argc, argv, &o->from);
}

bool NeedsSharing(const std::vector<Field>& fields) {
  for (Field f : fields) {
    if (f == kExclusiveBlocks || f == kSharedBlocks || f == kExclusiveSectors ||
        f == kSharedSectors || f == kExclusiveBytes || f == kSharedBytes ||
        f == kExclusive || f == kShared) {
      return true;
    }
  }
  return false;
}

// Per device, the mappings whose data block no other mapping uses. Pass 1
// counts each data block's references over all devices; pass 2 counts,
// per device, the mappings whose block has one reference.
absl::StatusOr<std::vector<uint64_t>> CountExclusive(const Source& source,
                                                     const Superblock& sb,
                                                     const DetailsList& details,
                                                     uint64_t data_blocks) {
  Walker walker(source);
  std::vector<uint64_t> roots;
  roots.reserve(details.size());
  for (const auto& [dev, d] : details) {
    uint8_t root[8];
    absl::Status s = walker.Lookup(sb.data_mapping_root, dev, 8, root);
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat(source.name(), ": device ", dev,
                       ": couldn't find mapping tree root: ", s.message()));
    }
    roots.push_back(Le64(root));
  }
  MappingSet set(data_blocks);
  std::vector<uint64_t> exclusive(details.size(), 0);
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
      if (!s.ok()) return MappingTreeError(source, details[i].first, s);
      exclusive[i] = count;
    }
  }
  return exclusive;
}

// One device's row, for the fields and the output.
struct LsRow {
  uint64_t dev;
  const DeviceDetails* details;
  uint64_t exclusive;  // 0 unless a field needs it
};

// Field `f` of `row`; MAPPED, EXCLUSIVE and SHARED in sectors.
uint64_t FieldValue(Field f, const LsRow& row, uint64_t block_sectors) {
  const uint64_t mapped = row.details->mapped_blocks;
  const uint64_t excl = row.exclusive;
  switch (f) {
    case kDev:
      return row.dev;
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
      return row.details->transaction_id;
    case kCreateTime:
      return row.details->creation_time;
    case kSnapTime:
      return row.details->snapshotted_time;
    case kNumFields:
      break;
  }
  return 0;
}

// The fields thin_ls prints as a human-readable size.
bool IsHumanSize(Field f) {
  return f == kMapped || f == kExclusive || f == kShared;
}

int PrintLsJson(const std::vector<Field>& fields,
                const std::vector<LsRow>& rows, uint64_t block_sectors) {
  json::Writer w;
  w.BeginObject().Key("devices").BeginArray();
  for (const LsRow& row : rows) {
    w.BeginObject();
    for (Field f : fields) {
      std::string key = kFieldNames[f];
      for (char& ch : key) ch = static_cast<char>(tolower(ch));
      uint64_t v = FieldValue(f, row, block_sectors);
      w.Key(key).Uint(IsHumanSize(f) ? v * 512 : v);
    }
    w.EndObject();
  }
  w.EndArray().EndObject();
  std::string text = w.Take();
  fputs(text.c_str(), stdout);
  return 0;
}

// thin_ls's grid: every column right-aligned to its widest cell, each cell
// followed by one space.
int PrintLsGrid(const LsOptions& o, const std::vector<LsRow>& rows,
                uint64_t block_sectors) {
  std::vector<std::string> cells;
  if (o.headers) {
    for (Field f : o.fields) cells.push_back(kFieldNames[f]);
  }
  for (const LsRow& row : rows) {
    for (Field f : o.fields) {
      uint64_t v = FieldValue(f, row, block_sectors);
      cells.push_back(IsHumanSize(f) ? FormatDiskUnit(v) : Decimal(v));
    }
  }
  size_t cols = o.fields.size();
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
}

int ListDevices(const LsOptions& o, const Source& source, const Superblock& sb,
                uint64_t data_blocks) {
  absl::StatusOr<DetailsList> details = ReadDetails(source, sb);
  if (!details.ok()) return Fail("ls", details.status());
  std::vector<uint64_t> exclusive(details->size(), 0);
  if (NeedsSharing(o.fields)) {
    absl::StatusOr<std::vector<uint64_t>> counted =
        CountExclusive(source, sb, *details, data_blocks);
    if (!counted.ok()) return Fail("ls", counted.status());
    exclusive = *std::move(counted);
  }
  std::vector<LsRow> rows;
  rows.reserve(details->size());
  for (size_t i = 0; i < details->size(); ++i) {
    rows.push_back({(*details)[i].first, &(*details)[i].second, exclusive[i]});
  }
  return o.json ? PrintLsJson(o.fields, rows, sb.data_block_size)
                : PrintLsGrid(o, rows, sb.data_block_size);
}

int Ls(OpenDeviceMapper open_dm, int argc, char** argv) {
  LsOptions o;
  if (int r = ParseLsArgs(argc, argv, &o); r != kGoOn) return r;
  uint64_t data_blocks = 0;
  return ReadMetadata(open_dm, "ls", o.from, &data_blocks,
                      [&](const Source& source, const Superblock& sb) {
                        return ListDevices(o, source, sb, data_blocks);
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

int Run(OpenDeviceMapper open_dm, int argc, char** argv) {
  if (argc < 2) {
    fputs(thin::kUsage, stderr);
    return 1;
  }
  std::string_view command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    fputs(thin::kUsage, stdout);
    return 0;
  }
  if (command == "ls") return thin::Ls(open_dm, argc - 1, argv + 1);
  if (command == "dump") return thin::Dump(open_dm, argc - 1, argv + 1);
  if (command == "check") return thin::CheckMain(argc - 1, argv + 1);
  fprintf(stderr,
          "dmkit thin: unknown command '%s' (ls, dump or check; try 'dmkit "
          "thin --help')\n",
          argv[1]);
  return 1;
}

}  // namespace thin

int ThinMain(int argc, char** argv) {
  // Only --pool talks to the kernel: the control device is opened then.
  return thin::Run(&dmioctl::DeviceMapper::Instance, argc, argv);
}

}  // namespace dmkit
