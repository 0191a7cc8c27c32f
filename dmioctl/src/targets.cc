#include "dmioctl/targets.h"

#include <charconv>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace dmioctl::targets {
namespace {

bool ParseU64(absl::string_view text, uint64_t& value) {
  if (text.empty()) return false;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<absl::string_view> Words(absl::string_view text) {
  return absl::StrSplit(text, absl::ByAnyChar(" \t\n"), absl::SkipEmpty());
}

absl::Status BadStatus(absl::string_view type, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat("unexpected ", type, " status '", text, "'"));
}

// "<used>/<total>".
bool ParseRatio(absl::string_view text, uint64_t& used, uint64_t& total) {
  size_t slash = text.find('/');
  return slash != absl::string_view::npos &&
         ParseU64(text.substr(0, slash), used) &&
         ParseU64(text.substr(slash + 1), total);
}

std::string WithFeatures(std::string params,
                         const std::vector<std::string>& features) {
  if (!features.empty()) {
    absl::StrAppend(&params, " ", features.size(), " ",
                    absl::StrJoin(features, " "));
  }
  return params;
}

}  // namespace

Target Linear(uint64_t start, uint64_t length, absl::string_view device,
              uint64_t offset) {
  return {start, length, "linear", absl::StrCat(device, " ", offset)};
}

Target Zero(uint64_t start, uint64_t length) {
  return {start, length, "zero", ""};
}

Target Error(uint64_t start, uint64_t length) {
  return {start, length, "error", ""};
}

Target Striped(uint64_t start, uint64_t length, uint64_t chunk_sectors,
               const std::vector<Stripe>& stripes) {
  std::string params = absl::StrCat(stripes.size(), " ", chunk_sectors);
  for (const Stripe& s : stripes)
    absl::StrAppend(&params, " ", s.device, " ", s.offset);
  return {start, length, "striped", std::move(params)};
}

Target ThinPool(uint64_t start, uint64_t length, absl::string_view metadata_dev,
                absl::string_view data_dev, const ThinPoolOptions& options) {
  // The kernel always takes the feature count, 0 included.
  std::string params =
      absl::StrCat(metadata_dev, " ", data_dev, " ", options.data_block_sectors,
                   " ", options.low_water_blocks, " ", options.features.size());
  for (const std::string& f : options.features)
    absl::StrAppend(&params, " ", f);
  return {start, length, "thin-pool", std::move(params)};
}

Target Thin(uint64_t start, uint64_t length, absl::string_view pool_dev,
            uint32_t thin_id,
            std::optional<absl::string_view> external_origin) {
  std::string params = absl::StrCat(pool_dev, " ", thin_id);
  if (external_origin) absl::StrAppend(&params, " ", *external_origin);
  return {start, length, "thin", std::move(params)};
}

Target Snapshot(uint64_t start, uint64_t length, absl::string_view origin,
                absl::string_view cow, absl::string_view persistent,
                uint64_t chunk_sectors) {
  return {start, length, "snapshot",
          absl::StrCat(origin, " ", cow, " ", persistent, " ", chunk_sectors)};
}

Target SnapshotOrigin(uint64_t start, uint64_t length,
                      absl::string_view origin) {
  return {start, length, "snapshot-origin", std::string(origin)};
}

Target Flakey(uint64_t start, uint64_t length, absl::string_view device,
              uint64_t offset, uint32_t up_seconds, uint32_t down_seconds,
              const std::vector<std::string>& features) {
  return {start, length, "flakey",
          WithFeatures(absl::StrCat(device, " ", offset, " ", up_seconds, " ",
                                    down_seconds),
                       features)};
}

Target Delay(uint64_t start, uint64_t length, absl::string_view device,
             uint64_t offset, uint32_t delay_ms) {
  return {start, length, "delay",
          absl::StrCat(device, " ", offset, " ", delay_ms)};
}

Target Crypt(uint64_t start, uint64_t length, absl::string_view device,
             const CryptOptions& options) {
  return {start, length, "crypt",
          WithFeatures(
              absl::StrCat(options.cipher, " ", options.key, " ",
                           options.iv_offset, " ", device, " ", options.offset),
              options.features)};
}

namespace {

// dmsetup.c hide_key(): after the first occurrence of `name`, an optional
// ":key" before the next blank is zeroed.
void HideKey(std::string& params, absl::string_view name) {
  size_t c = params.find(name.data(), 0, name.size());
  if (c == std::string::npos) return;
  c = params.find_first_of(" :", c + name.size());
  if (c == std::string::npos || params[c] != ':') return;
  for (++c; c < params.size() && params[c] != ' '; ++c) params[c] = '0';
}

}  // namespace

std::string RedactKeys(absl::string_view type, absl::string_view params) {
  // The rules of dmsetup.c _status(), character for character, so `table`
  // output matches dmsetup's.
  std::string out(params);
  if (type == "crypt") {
    // <cipher> <key> ...: everything up to the next blank after the first
    // one, unless it is a kernel keyring reference (":len:type:desc").
    size_t c = out.find(' ');
    if (c == std::string::npos) return out;
    ++c;
    if (c < out.size() && out[c] == ':') return out;
    for (; c < out.size() && out[c] != ' '; ++c) out[c] = '0';
  } else if (type == "integrity") {
    HideKey(out, "internal_hash:");
    HideKey(out, "journal_crypt:");
    HideKey(out, "journal_mac:");
  }
  return out;
}

absl::StatusOr<ThinPoolStatus> ParseThinPoolStatus(absl::string_view status) {
  ThinPoolStatus s;
  std::vector<absl::string_view> w = Words(status);
  if (w.size() == 1 && w[0] == "Fail") {
    s.failed = true;
    return s;
  }
  if (w.size() == 1 && w[0] == "Error") {
    s.error = true;
    return s;
  }
  // <transaction id> <meta used>/<total> <data used>/<total> <held root|->
  // [<rw|ro|out_of_data_space> <discard> <no_space policy> <needs_check|->
  //  [<metadata low watermark>]]
  if (w.size() < 4 || !ParseU64(w[0], s.transaction_id) ||
      !ParseRatio(w[1], s.used_metadata_blocks, s.total_metadata_blocks) ||
      !ParseRatio(w[2], s.used_data_blocks, s.total_data_blocks)) {
    return BadStatus("thin-pool", status);
  }
  if (w[3] != "-") {
    uint64_t root;
    if (!ParseU64(w[3], root)) return BadStatus("thin-pool", status);
    s.held_metadata_root = root;
  }
  if (w.size() > 4) s.mode = std::string(w[4]);
  if (w.size() > 5) s.discard = std::string(w[5]);
  if (w.size() > 6) s.error_if_no_space = w[6] == "error_if_no_space";
  if (w.size() > 7) s.needs_check = w[7] == "needs_check";
  if (w.size() > 8) {
    uint64_t lwm;
    if (!ParseU64(w[8], lwm)) return BadStatus("thin-pool", status);
    s.metadata_low_watermark = lwm;
  }
  return s;
}

absl::StatusOr<ThinStatus> ParseThinStatus(absl::string_view status) {
  ThinStatus s;
  std::vector<absl::string_view> w = Words(status);
  if (w.size() == 1 && w[0] == "Fail") {
    s.failed = true;
    return s;
  }
  if (w.size() != 2 || !ParseU64(w[0], s.mapped_sectors)) {
    return BadStatus("thin", status);
  }
  if (w[1] != "-") {
    uint64_t highest;
    if (!ParseU64(w[1], highest)) return BadStatus("thin", status);
    s.highest_mapped_sector = highest;
  }
  return s;
}

absl::StatusOr<SnapshotStatus> ParseSnapshotStatus(absl::string_view status) {
  SnapshotStatus s;
  std::vector<absl::string_view> w = Words(status);
  if (w.size() == 1 && w[0] == "Invalid") {
    s.invalid = true;
    return s;
  }
  if (w.size() == 1 && w[0] == "Overflow") {
    s.overflow = true;
    return s;
  }
  if (w.size() == 2 && w[0] == "Merge" && w[1] == "failed") {
    s.merge_failed = true;
    return s;
  }
  if (w.size() != 2 ||
      !ParseRatio(w[0], s.allocated_sectors, s.total_sectors) ||
      !ParseU64(w[1], s.metadata_sectors)) {
    return BadStatus("snapshot", status);
  }
  return s;
}

absl::StatusOr<ThinParams> ParseThinParams(absl::string_view params) {
  std::vector<absl::string_view> w = Words(params);
  ThinParams p;
  uint64_t id;
  if (w.size() < 2 || w.size() > 3 || !ParseU64(w[1], id) || id > kMaxThinId) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected thin table '", params, "'"));
  }
  p.pool = std::string(w[0]);
  p.thin_id = static_cast<uint32_t>(id);
  if (w.size() == 3) p.external_origin = std::string(w[2]);
  return p;
}

absl::StatusOr<ThinPoolParams> ParseThinPoolParams(absl::string_view params) {
  std::vector<absl::string_view> w = Words(params);
  ThinPoolParams p;
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected thin-pool table '", params, "'"));
  };
  if (w.size() < 4) return bad();
  p.metadata_dev = std::string(w[0]);
  p.data_dev = std::string(w[1]);
  if (!ParseU64(w[2], p.options.data_block_sectors) ||
      !ParseU64(w[3], p.options.low_water_blocks)) {
    return bad();
  }
  if (w.size() > 4) {
    uint64_t count;
    // The count is bounded by the words that are actually there.
    if (!ParseU64(w[4], count) || count != w.size() - 5) return bad();
    for (size_t i = 5; i < w.size(); ++i) p.options.features.emplace_back(w[i]);
  }
  return p;
}

}  // namespace dmioctl::targets
