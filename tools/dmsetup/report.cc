#include "tools/dmsetup/report.h"

#include <stdlib.h>
#include <strings.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace dmkit::dmsetup {
namespace {

// Generated from `dmsetup info -c -o help` of Debian dmsetup 1.02.185:
// the field list goes to stderr byte for byte, statistics fields included.
const char kFieldHelp[] = R"dmsetup(Mapped Device Name Fields
-------------------------
  name_all              - All fields in this section.
  name                  - Name of mapped device.
  mangled_name          - Mangled name of mapped device.
  unmangled_name        - Unmangled name of mapped device.
  uuid                  - Unique (optional) identifier for mapped device.
  mangled_uuid          - Mangled unique (optional) identifier for mapped device.
  unmangled_uuid        - Unmangled unique (optional) identifier for mapped device.
  read_ahead            - Read ahead value.
 
Mapped Device Information Fields
--------------------------------
  info_all              - All fields in this section.
  blkdevname            - Name of block device.
  attr                  - (L)ive, (I)nactive, (s)uspended, (r)ead-only, read-(w)rite.
  tables_loaded         - Which of the live and inactive table slots are filled.
  suspended             - Whether the device is suspended.
  readonly              - Whether the device is read-only or writeable.
  devno                 - Device major and minor numbers
  major                 - Block device major number.
  minor                 - Block device minor number.
  open                  - Number of references to open device, if requested.
  segments              - Number of segments in live table, if present.
  events                - Number of most recent event.
 
Mapped Device Relationship Information Fields
---------------------------------------------
  deps_all              - All fields in this section.
  device_count          - Number of devices used by this one.
  devs_used             - List of names of mapped devices used by this one.
  devnos_used           - List of device numbers of devices used by this one.
  blkdevs_used          - List of names of block devices used by this one.
  device_ref_count      - Number of mapped devices referencing this one.
  names_using_dev       - List of names of mapped devices using this one.
  devnos_using_dev      - List of device numbers of mapped devices using this one.
 
Mapped Device Name Components Fields
------------------------------------
  splitname_all         - All fields in this section.
  subsystem             - Userspace subsystem responsible for this device.
  vg_name               - LVM Volume Group name.
  lv_name               - LVM Logical Volume name.
  lv_layer              - LVM device layer.
 
Mapped Device Statistics Fields
-------------------------------
  stats_all             - All fields in this section.
  read_count            - Count of reads completed.
  reads_merged_count    - Count of read requests merged.
  read_sector_count     - Count of sectors read.
  read_time             - Accumulated duration of all read requests (ns).
  write_count           - Count of writes completed.
  writes_merged_count   - Count of write requests merged.
  write_sector_count    - Count of sectors written.
  write_time            - Accumulated duration of all writes (ns).
  in_progress_count     - Count of requests currently in progress.
  io_ticks              - Nanoseconds spent servicing requests.
  queue_ticks           - Total nanoseconds spent in queue.
  read_ticks            - Nanoseconds spent servicing reads.
  write_ticks           - Nanoseconds spent servicing writes.
  reads_merged_per_sec  - Read requests merged per second.
  writes_merged_per_sec - Write requests merged per second.
  reads_per_sec         - Reads per second.
  writes_per_sec        - Writes per second.
  read_size_per_sec     - Size of data read per second.
  write_size_per_sec    - Size of data written per second.
  avg_request_size      - Average request size.
  queue_size            - Average queue size.
  await                 - Averate wait time.
  read_await            - Averate read wait time.
  write_await           - Averate write wait time.
  throughput            - Throughput.
  service_time          - Service time.
  util                  - Utilization.
  hist_count            - Latency histogram counts.
  hist_count_bounds     - Latency histogram counts with bin boundaries.
  hist_count_ranges     - Latency histogram counts with bin ranges.
  hist_percent          - Relative latency histogram.
  hist_percent_bounds   - Relative latency histogram with bin boundaries.
  hist_percent_ranges   - Relative latency histogram with bin ranges.
  interval_ns           - Sampling interval in nanoseconds.
  interval              - Sampling interval.
 
Mapped Device Statistics Region Information Fields
--------------------------------------------------
  region_all            - All fields in this section.
  region_id             - Region ID.
  region_start          - Region start.
  region_len            - Region length.
  area_id               - Area ID.
  area_start            - Area offset from start of device.
  area_len              - Area length.
  area_offset           - Area offset from start of region.
  area_count            - Area count.
  group_id              - Group ID.
  program_id            - Program ID.
  user_data             - Auxiliary data.
  precise               - Set if nanosecond precision counters are enabled.
  hist_bins             - The number of histogram bins configured.
  hist_bounds           - Latency histogram bin boundaries.
  hist_ranges           - Latency histogram bin ranges.
  stats_name            - Stats name of current object.
  obj_type              - Type of stats object being reported.
 
Special Fields
--------------
  selected              - Set if item passes selection criteria.
  help                  - Show help.
  ?                     - Show help.
)dmsetup";

// dmsetup's _report_types: the prefix of each type's "<prefix>all".
struct TypePrefix {
  ObjectType type;
  const char* prefix;
};
constexpr TypePrefix kTypePrefixes[] = {
    {kObjTask, "name_"},        {kObjInfo, "info_"},      {kObjDeps, "deps_"},
    {kObjTree, "tree_"},        {kObjName, "splitname_"}, {kObjStats, "stats_"},
    {kObjStatsMeta, "region_"},
};

// Field names compare without case and without underscores.
std::string Canonical(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c != '_') out.push_back(absl::ascii_tolower(c));
  }
  return out;
}

const FieldInfo* FindField(absl::string_view name) {
  std::string canon = Canonical(name);
  for (const FieldInfo& f : AllFields()) {
    if (Canonical(f.id) == canon) return &f;
  }
  return nullptr;
}

// "<prefix>all" (or "all", meaning the report's own prefix): the types whose
// fields it adds. dmkit has no statistics, so a bare "all" without a report
// prefix means every non-statistics field.
uint32_t AllMatch(absl::string_view name, absl::string_view report_prefix) {
  std::string canon = Canonical(name);
  if (canon == "all") {
    if (report_prefix.empty())
      return kObjTask | kObjInfo | kObjDeps | kObjTree | kObjName;
    canon = Canonical(report_prefix);
    for (const TypePrefix& t : kTypePrefixes) {
      if (Canonical(t.prefix) == canon) return t.type;
    }
    return 0;
  }
  uint32_t types = 0;
  for (const TypePrefix& t : kTypePrefixes) {
    if (canon == Canonical(t.prefix) + "all") types |= t.type;
  }
  return types;
}

std::vector<absl::string_view> SplitList(absl::string_view list) {
  std::vector<absl::string_view> items;
  size_t pos = 0;
  while (pos < list.size()) {
    while (pos < list.size() && list[pos] == ',') ++pos;
    size_t end = list.find(',', pos);
    if (end == absl::string_view::npos) end = list.size();
    if (end > pos) items.push_back(list.substr(pos, end - pos));
    pos = end;
  }
  return items;
}

std::string ToUpper(absl::string_view s) {
  std::string out(s);
  for (char& c : out) c = absl::ascii_toupper(c);
  return out;
}

// printf("%-*.*s") and ("%*.*s"): padded and cut to `width`.
std::string Pad(absl::string_view s, int width, bool right) {
  size_t w = width < 0 ? 0 : static_cast<size_t>(width);
  if (s.size() > w) s = s.substr(0, w);
  std::string fill(w - s.size(), ' ');
  return right ? absl::StrCat(fill, s) : absl::StrCat(s, fill);
}

}  // namespace

const char* FieldHelpText() { return kFieldHelp; }

const std::vector<FieldInfo>& AllFields() {
  static const std::vector<FieldInfo> fields = {
      {Field::kName, kObjTask, false, "Name", 16, "name"},
      {Field::kMangledName, kObjTask, false, "MangledName", 16, "mangled_name"},
      {Field::kUnmangledName, kObjTask, false, "UnmangledName", 16,
       "unmangled_name"},
      {Field::kUuid, kObjTask, false, "UUID", 32, "uuid"},
      {Field::kMangledUuid, kObjTask, false, "MangledUUID", 32, "mangled_uuid"},
      {Field::kUnmangledUuid, kObjTask, false, "UnmangledUUID", 32,
       "unmangled_uuid"},
      {Field::kReadAhead, kObjTask, true, "RAhead", 6, "read_ahead"},
      {Field::kBlkDevName, kObjInfo, false, "BlkDevName", 16, "blkdevname"},
      {Field::kAttr, kObjInfo, false, "Stat", 4, "attr"},
      {Field::kTablesLoaded, kObjInfo, false, "Tables", 6, "tables_loaded"},
      {Field::kSuspended, kObjInfo, false, "Suspended", 9, "suspended"},
      {Field::kReadOnly, kObjInfo, false, "Read-only", 9, "readonly"},
      {Field::kDevNo, kObjInfo, false, "DevNo", 5, "devno"},
      {Field::kMajor, kObjInfo, true, "Maj", 3, "major"},
      {Field::kMinor, kObjInfo, true, "Min", 3, "minor"},
      {Field::kOpen, kObjInfo, true, "Open", 4, "open"},
      {Field::kSegments, kObjInfo, true, "Targ", 4, "segments"},
      {Field::kEvents, kObjInfo, true, "Event", 6, "events"},
      {Field::kDeviceCount, kObjDeps, true, "#Devs", 5, "device_count"},
      {Field::kDevsUsed, kObjTree, false, "DevNamesUsed", 16, "devs_used"},
      {Field::kDevNosUsed, kObjDeps, false, "DevNosUsed", 16, "devnos_used"},
      {Field::kBlkDevsUsed, kObjDeps, false, "BlkDevNamesUsed", 16,
       "blkdevs_used"},
      {Field::kDeviceRefCount, kObjTree, true, "#Refs", 5, "device_ref_count"},
      {Field::kNamesUsingDev, kObjTree, false, "RefNames", 8,
       "names_using_dev"},
      {Field::kDevNosUsingDev, kObjTree, false, "RefDevNos", 9,
       "devnos_using_dev"},
      {Field::kSubsystem, kObjName, false, "Subsys", 6, "subsystem"},
      {Field::kVgName, kObjName, false, "VG", 4, "vg_name"},
      {Field::kLvName, kObjName, false, "LV", 4, "lv_name"},
      {Field::kLvLayer, kObjName, false, "LVLayer", 7, "lv_layer"},
  };
  return fields;
}

std::unique_ptr<Report> Report::Create(const ReportOptions& options,
                                       std::string* stderr_text) {
  std::unique_ptr<Report> report(new Report());
  report->options_ = options;
  // dmsetup _report_init: --noheadings means the old ':'-separated form.
  std::string separator = " ";
  if (options.noheadings) {
    separator = ":";
    report->aligned_ = false;
    report->headings_ = false;
  }
  if (options.nameprefixes) report->aligned_ = false;
  std::string list = options.default_fields;
  bool help = false;
  if (options.fields_set) {
    if (options.fields.find("help") != std::string::npos) {
      report->headings_ = false;
    }
    if (!options.fields.empty() && options.fields[0] == '+') {
      list =
          absl::StrCat(options.default_fields, ",", options.fields.substr(1));
    } else {
      list = options.fields;
    }
  }
  if (options.separator_set) {
    separator = options.separator;
    report->aligned_ = false;
  }
  // dm_report_init: rows are buffered and never aligned.
  if (options.rows) report->aligned_ = false;
  report->options_.separator = separator;

  auto unknown = [&](absl::string_view what, absl::string_view name) {
    absl::StrAppend(stderr_text, kFieldHelp, " \n", what, name, "\n");
    return nullptr;
  };
  for (absl::string_view item : SplitList(list)) {
    std::string canon = Canonical(item);
    if (canon == "help" || canon == "?") {
      help = true;
      continue;
    }
    if (canon == "selected") continue;  // dmkit has no selection
    if (const FieldInfo* f = FindField(item)) {
      report->columns_.push_back(Column{f->field, f});
      continue;
    }
    uint32_t types = AllMatch(item, options.field_prefix);
    if (types == 0) return unknown("Unrecognised field: ", item);
    for (const FieldInfo& f : AllFields()) {
      if (f.type & types) report->columns_.push_back(Column{f.field, &f});
    }
  }
  // Sort keys: fields already shown are marked, others are added hidden in
  // front (dm_list_add_h), in the order given.
  int position = 0;
  std::vector<Column> hidden;
  for (absl::string_view key : SplitList(options.sort_keys)) {
    bool descending = false;
    if (key[0] == '+' || key[0] == '-') {
      descending = key[0] == '-';
      key.remove_prefix(1);
    }
    if (key.empty()) {
      absl::StrAppend(stderr_text, "dm_report: Missing sort field name\n");
      return nullptr;
    }
    const FieldInfo* f = FindField(key);
    if (f == nullptr) return unknown("dm_report: Unrecognised field: ", key);
    Column* found = nullptr;
    for (Column& c : report->columns_) {
      if (c.field == f->field) {
        found = &c;
        break;
      }
    }
    for (Column& c : hidden) {
      if (found == nullptr && c.field == f->field) found = &c;
    }
    if (found == nullptr) {
      hidden.insert(hidden.begin(), Column{f->field, f, true});
      found = &hidden.front();
    }
    if (found->sort_position >= 0) {
      absl::StrAppend(stderr_text,
                      "dm_report: Ignoring duplicate sort field: ", f->id,
                      ".\n");
      continue;
    }
    found->sort_position = position++;
    found->descending = descending;
  }
  report->columns_.insert(report->columns_.begin(), hidden.begin(),
                          hidden.end());
  for (Column& c : report->columns_) {
    c.width = c.info->width;
    report->fields_.push_back(c.field);
    report->types_ |= c.info->type;
  }
  if (help) {
    absl::StrAppend(stderr_text, kFieldHelp, " \n");
    report->help_only_ = true;
  }
  return report;
}

std::string Report::FormatValue(const Column& column, const std::string& value,
                                int width) const {
  std::string out;
  if (options_.nameprefixes) {
    absl::StrAppend(&out, "DM_", ToUpper(column.info->id), "=");
    if (!options_.unquoted) out.push_back('\'');
  }
  if (aligned_) {
    out += Pad(value, width, column.info->number);
  } else {
    out += value;
  }
  if (options_.nameprefixes && !options_.unquoted) out.push_back('\'');
  return out;
}

std::string Report::Headings(const std::vector<int>& widths) {
  headings_printed_ = true;
  if (!headings_) return std::string();
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].hidden) continue;
    const char* heading = columns_[i].info->heading;
    line += aligned_ ? Pad(heading, widths[i], false) : std::string(heading);
    if (i + 1 < columns_.size()) line += options_.separator;
  }
  line.push_back('\n');
  return line;
}

std::string Report::Columns(const std::vector<std::vector<std::string>>& rows,
                            const std::vector<int>& widths) {
  std::string out;
  if (!headings_printed_) out += Headings(widths);
  for (const std::vector<std::string>& row : rows) {
    bool first = true;
    for (size_t i = 0; i < columns_.size(); ++i) {
      if (columns_[i].hidden) continue;
      if (!first) out += options_.separator;
      first = false;
      out += FormatValue(columns_[i], row[i], widths[i]);
    }
    out.push_back('\n');
  }
  return out;
}

std::string Report::AsRows(const std::vector<std::vector<std::string>>& rows) {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].hidden) continue;
    if (headings_) {
      absl::StrAppend(&out, columns_[i].info->heading, options_.separator);
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      out += FormatValue(columns_[i], rows[r][i], 0);
      if (r + 1 < rows.size()) out += options_.separator;
    }
    out.push_back('\n');
  }
  return out;
}

std::string Report::AddRow(std::vector<std::string> values) {
  if (help_only_) return std::string();
  values.resize(columns_.size());
  rows_.push_back(std::move(values));
  if (options_.unbuffered && !options_.rows && options_.sort_keys.empty()) {
    return Output();
  }
  return std::string();
}

std::string Report::Output() {
  if (rows_.empty()) return std::string();
  std::vector<std::vector<std::string>> rows = std::move(rows_);
  rows_.clear();
  // Widths restart from the initial ones for every batch
  // (libdm-report.c _destroy_rows resets them).
  std::vector<int> widths;
  for (const Column& c : columns_) widths.push_back(c.info->width);
  for (const std::vector<std::string>& row : rows) {
    for (size_t i = 0; i < columns_.size(); ++i) {
      widths[i] = std::max(widths[i], static_cast<int>(row[i].size()));
    }
  }
  std::vector<int> keys;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].sort_position >= 0) keys.push_back(static_cast<int>(i));
  }
  std::sort(keys.begin(), keys.end(), [&](int a, int b) {
    return columns_[a].sort_position < columns_[b].sort_position;
  });
  if (!keys.empty()) {
    std::stable_sort(
        rows.begin(), rows.end(),
        [&](const std::vector<std::string>& a,
            const std::vector<std::string>& b) {
          for (int k : keys) {
            const Column& c = columns_[k];
            int cmp;
            if (c.info->number) {
              uint64_t x =
                  static_cast<uint64_t>(strtoll(a[k].c_str(), nullptr, 10));
              uint64_t y =
                  static_cast<uint64_t>(strtoll(b[k].c_str(), nullptr, 10));
              cmp = x == y ? 0 : (x < y ? -1 : 1);
            } else {
              cmp = a[k].compare(b[k]);
            }
            if (cmp == 0) continue;
            return c.descending ? cmp > 0 : cmp < 0;
          }
          return false;
        });
  }
  return options_.rows ? AsRows(rows) : Columns(rows, widths);
}

}  // namespace dmkit::dmsetup
