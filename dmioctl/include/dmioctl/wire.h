// File: dmioctl/wire.h
//
// The device-mapper wire format below DeviceMapper: encoding of table-load
// and message payloads, and bounded decoding of the payloads the kernel
// returns. Every decoder checks each offset, count and terminator against
// the payload's size; malformed input is a DataLoss error. Exposed for the
// unit tests and fuzzers; applications use DeviceMapper.
#ifndef DMIOCTL_WIRE_H_
#define DMIOCTL_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/device_mapper.h"
#include "dmioctl/table.h"

namespace dmioctl {

// A view of the reply payload: the bytes from data_start to data_size.
// `data` must be 8-aligned relative to the start of the ioctl buffer, as the
// kernel's payloads are (data_start is 312).
class ReplyBytes {
 public:
  ReplyBytes() = default;
  ReplyBytes(const char* data, size_t size) : data_(data), size_(size) {}
  const char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const char* data_ = "";
  size_t size_ = 0;
};

// DM_LIST_DEVICES payload: dm_name_list entries; with `has_event_nr`
// (4.37+) each carries the event/flags trailer, with `has_uuid` (4.45+ and
// DM_UUID_FLAG) the trailer's flags say whether a uuid follows.
absl::StatusOr<std::vector<DeviceListEntry>> ParseNameList(ReplyBytes data,
                                                           bool has_event_nr,
                                                           bool has_uuid);
// The same into `*entries`, assigning over the entries already there (their
// strings keep their capacity) and resizing it to the count.
absl::Status ParseNameList(ReplyBytes data, bool has_event_nr, bool has_uuid,
                           std::vector<DeviceListEntry>* entries);

// DM_LIST_VERSIONS / DM_GET_TARGET_VERSION payload.
absl::StatusOr<std::vector<TargetVersion>> ParseVersionList(ReplyBytes data);

// DM_TABLE_DEPS payload (empty payload: no table, no deps).
absl::StatusOr<std::vector<DevNum>> ParseDeps(ReplyBytes data);

// DM_TABLE_STATUS / DM_DEV_WAIT payload: `target_count` specs whose `next`
// is relative to the start of the payload, each followed by its text.
absl::StatusOr<std::vector<Target>> ParseTargetSpecs(ReplyBytes data,
                                                     uint32_t target_count);
// The same into `*targets`, reusing its entries as ParseNameList does.
absl::Status ParseTargetSpecs(ReplyBytes data, uint32_t target_count,
                              std::vector<Target>* targets);

// DM_TABLE_LOAD payload: one dm_target_spec per target, `next` relative to
// the spec, params NUL-terminated and padded to 8 bytes, backslashes doubled
// (the kernel's dm_split_args() treats '\' as an escape).
std::string SerializeTargets(const Table& table);

// DM_TARGET_MSG payload: struct dm_target_msg then the NUL-terminated text.
std::string SerializeMessage(uint64_t sector, absl::string_view message);

}  // namespace dmioctl

#endif  // DMIOCTL_WIRE_H_
