// File: tools/dmsetup/report.h
//
// The column report behind `dmsetup info -c` and `splitname`: the field
// table of dmsetup 1.02.185 and the output rules of libdm-report.c (field
// selection by -o, headings, widths that grow to the longest value, right-
// aligned numbers, trailing padding of the last column, --noheadings,
// --separator, --nameprefixes, --rows, --unbuffered, -O sorting). The
// report only formats: the caller fetches each device and supplies the
// values of the fields the report asks for.
//
//   ReportOptions options;  // defaults: dmsetup info -c
//   auto report = Report::Create(options, &messages);
//   for (device ...) report->AddRow(ValuesFor(report->fields(), device));
//   fputs(report->Output().c_str(), stdout);
#ifndef DMKIT_TOOLS_DMSETUP_REPORT_H_
#define DMKIT_TOOLS_DMSETUP_REPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace dmkit::dmsetup {

// What a field needs fetched (dmsetup's report_type_t).
enum ObjectType : uint32_t {
  kObjTask = 1,   // the device's info reply: name, uuid, read-ahead
  kObjInfo = 2,   // the same reply: state, numbers
  kObjDeps = 4,   // DM_TABLE_DEPS of the device
  kObjTree = 8,   // the dependency tree of all devices
  kObjName = 16,  // the name split into subsystem/vg/lv/layer
  kObjStats = 32,
  kObjStatsMeta = 64,
};

// The fields dmkit reports (dmsetup's _report_fields without statistics).
enum class Field {
  kName,
  kMangledName,
  kUnmangledName,
  kUuid,
  kMangledUuid,
  kUnmangledUuid,
  kReadAhead,
  kBlkDevName,
  kAttr,
  kTablesLoaded,
  kSuspended,
  kReadOnly,
  kDevNo,
  kMajor,
  kMinor,
  kOpen,
  kSegments,
  kEvents,
  kDeviceCount,
  kDevsUsed,
  kDevNosUsed,
  kBlkDevsUsed,
  kDeviceRefCount,
  kNamesUsingDev,
  kDevNosUsingDev,
  kSubsystem,
  kVgName,
  kLvName,
  kLvLayer,
};

struct FieldInfo {
  Field field;
  ObjectType type;
  bool number;  // right-aligned, sorted numerically
  const char* heading;
  int width;  // initial width
  const char* id;
};
const std::vector<FieldInfo>& AllFields();

struct ReportOptions {
  // -o: a comma list; "+a,b" appends to the default list.
  std::string fields;
  bool fields_set = false;
  std::string default_fields =
      "name,major,minor,attr,open,segments,events,uuid";
  std::string sort_keys;  // -O: [+|-]field,...
  std::string separator = " ";
  bool separator_set = false;  // --separator given
  bool noheadings = false;
  bool nameprefixes = false;
  bool unquoted = false;
  bool rows = false;
  bool unbuffered = false;
  // The field-name prefix of the report's own type: "splitname_" for
  // splitname, empty otherwise (only "all" uses it).
  std::string field_prefix;
};

class Report {
 public:
  // Create()
  //
  // Parses the field and sort lists as dm_report_init does. On an unknown
  // field returns nullptr and appends to `stderr_text` the field list and
  // "Unrecognised field: X". When the list asks for "help" (or "?"), the
  // field list is appended too and the report prints nothing.
  static std::unique_ptr<Report> Create(const ReportOptions& options,
                                        std::string* stderr_text);

  // The fields of each row, in the order AddRow() wants their values:
  // hidden sort-only fields first, then the displayed ones.
  const std::vector<Field>& fields() const { return fields_; }
  // Union of the object types the fields need.
  uint32_t types() const { return types_; }
  bool help_only() const { return help_only_; }

  // Adds one row. With --unbuffered, returns its output right away (and the
  // heading line before the first row); otherwise returns "".
  std::string AddRow(std::vector<std::string> values);
  // Everything buffered so far, sorted and formatted; empties the buffer.
  std::string Output();

 private:
  Report() = default;
  struct Column {
    Field field;
    const FieldInfo* info;
    bool hidden = false;
    int sort_position = -1;
    bool descending = false;
    int width = 0;
  };
  std::string FormatValue(const Column& column, const std::string& value,
                          int width) const;
  std::string Headings(const std::vector<int>& widths);
  std::string Columns(const std::vector<std::vector<std::string>>& rows,
                      const std::vector<int>& widths);
  std::string AsRows(const std::vector<std::vector<std::string>>& rows);

  ReportOptions options_;
  bool aligned_ = true;
  bool headings_ = true;
  std::vector<Column> columns_;
  std::vector<Field> fields_;
  uint32_t types_ = 0;
  bool help_only_ = false;
  bool headings_printed_ = false;
  std::vector<std::vector<std::string>> rows_;
};

// The text of `-o help`: dmsetup's full field list (statistics included),
// as printed on stderr.
const char* FieldHelpText();

}  // namespace dmkit::dmsetup

#endif  // DMKIT_TOOLS_DMSETUP_REPORT_H_
