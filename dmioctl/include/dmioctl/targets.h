// File: dmioctl/targets.h
//
// Typed builders for the targets dmkit uses, and parsers for the status
// lines the kernel reports for them. Builders produce the kernel's parameter
// text; they do not open devices, so they work for any device reference the
// kernel accepts ("MAJ:MIN" is the fastest and always works without udev).
//
//   dmioctl::Table table;
//   table.targets.push_back(dmioctl::targets::Thin(0, 20971520, "253:3",
//   34709));
#ifndef DMIOCTL_TARGETS_H_
#define DMIOCTL_TARGETS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "dmioctl/table.h"

namespace dmioctl::targets {

// Largest thin device id (24 bits; the kernel's MAX_DEV_ID).
inline constexpr uint32_t kMaxThinId = (1u << 24) - 1;

Target Linear(uint64_t start, uint64_t length, absl::string_view device,
              uint64_t offset);
Target Zero(uint64_t start, uint64_t length);
Target Error(uint64_t start, uint64_t length);

struct Stripe {
  std::string device;
  uint64_t offset = 0;
};
Target Striped(uint64_t start, uint64_t length, uint64_t chunk_sectors,
               const std::vector<Stripe>& stripes);

struct ThinPoolOptions {
  uint64_t data_block_sectors = 128;  // 64 KiB..1 GiB, multiple of 128
  uint64_t low_water_blocks = 0;
  std::vector<std::string> features;  // skip_block_zeroing, read_only, ...
};
Target ThinPool(uint64_t start, uint64_t length, absl::string_view metadata_dev,
                absl::string_view data_dev, const ThinPoolOptions& options);
Target Thin(uint64_t start, uint64_t length, absl::string_view pool_dev,
            uint32_t thin_id,
            std::optional<absl::string_view> external_origin = std::nullopt);

// `persistent`: P (persistent), PO (persistent, overflow), N (transient).
Target Snapshot(uint64_t start, uint64_t length, absl::string_view origin,
                absl::string_view cow, absl::string_view persistent,
                uint64_t chunk_sectors);
Target SnapshotOrigin(uint64_t start, uint64_t length,
                      absl::string_view origin);

// Flakey: `up_seconds` of normal I/O, then `down_seconds` of failing I/O
// (or the behaviour the features select: drop_writes, error_writes, ...).
Target Flakey(uint64_t start, uint64_t length, absl::string_view device,
              uint64_t offset, uint32_t up_seconds, uint32_t down_seconds,
              const std::vector<std::string>& features = {});
Target Delay(uint64_t start, uint64_t length, absl::string_view device,
             uint64_t offset, uint32_t delay_ms);

struct CryptOptions {
  std::string cipher = "aes-xts-plain64";
  std::string key;  // hex, or ":<size>:<type>:<description>" keyring ref
  uint64_t iv_offset = 0;
  uint64_t offset = 0;
  std::vector<std::string> features;
};
Target Crypt(uint64_t start, uint64_t length, absl::string_view device,
             const CryptOptions& options);

// RedactKeys()
//
// The table text as dmsetup prints it without --showkeys: a crypt key (the
// word after the cipher, whatever it is, "-" included) replaced by as many
// '0's, keyring references (starting with ':') kept; for integrity, the
// key after the first "internal_hash:<alg>:", "journal_crypt:<alg>:" and
// "journal_mac:<alg>:" zeroed the same way (no key after the algorithm: no
// change). Other targets are returned unchanged. The length, the blanks and
// every byte not zeroed are kept. Only the first occurrence of each of the
// three integrity names is looked at, as in dmsetup, so text in which one
// occurs twice can keep a key, and a second pass can zero more than the first
// (the kernel writes each at most once).
std::string RedactKeys(absl::string_view type, absl::string_view params);

// Status lines.

struct ThinPoolStatus {
  bool failed = false;  // "Fail": the pool is in fail mode
  bool error = false;   // "Error": metadata could not be read
  uint64_t transaction_id = 0;
  uint64_t used_metadata_blocks = 0;
  uint64_t total_metadata_blocks = 0;
  uint64_t used_data_blocks = 0;
  uint64_t total_data_blocks = 0;
  std::optional<uint64_t> held_metadata_root;
  std::string mode;  // "rw", "ro", "out_of_data_space"
  std::string discard;
  bool error_if_no_space = false;
  bool needs_check = false;
  std::optional<uint64_t> metadata_low_watermark;
};
absl::StatusOr<ThinPoolStatus> ParseThinPoolStatus(absl::string_view status);

struct ThinStatus {
  bool failed = false;
  uint64_t mapped_sectors = 0;
  std::optional<uint64_t> highest_mapped_sector;
};
absl::StatusOr<ThinStatus> ParseThinStatus(absl::string_view status);

struct SnapshotStatus {
  bool invalid = false;
  bool overflow = false;
  bool merge_failed = false;
  uint64_t allocated_sectors = 0;
  uint64_t total_sectors = 0;
  uint64_t metadata_sectors = 0;
};
absl::StatusOr<SnapshotStatus> ParseSnapshotStatus(absl::string_view status);

// Table params of a thin target: pool device and id.
struct ThinParams {
  std::string pool;
  uint32_t thin_id = 0;
  std::optional<std::string> external_origin;
};
absl::StatusOr<ThinParams> ParseThinParams(absl::string_view params);

// Table params of a thin-pool target.
struct ThinPoolParams {
  std::string metadata_dev;
  std::string data_dev;
  ThinPoolOptions options;
};
absl::StatusOr<ThinPoolParams> ParseThinPoolParams(absl::string_view params);

}  // namespace dmioctl::targets

#endif  // DMIOCTL_TARGETS_H_
