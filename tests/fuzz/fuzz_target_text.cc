// Target status and table-parameter parsers (targets.h), all on the same
// text, with round trips through the builders where there is one:
//   * ParseThinParams -> Thin() -> ParseThinParams is unchanged;
//   * ParseThinPoolParams -> ThinPool() -> ParseThinPoolParams is unchanged;
//   * RedactKeys (dmsetup's key hiding, see targets.h) keeps the length,
//     blanks and every byte it does not turn into '0'; leaves other targets
//     alone; for crypt it changes only the word after the first blank; and
//     it is idempotent for crypt, and for integrity when none of the three
//     key names occurs twice (with a repeated name a second pass can find
//     an occurrence that the first pass's zeroing uncovered: dmsetup looks
//     up only the first occurrence of each, and so does RedactKeys).
#include <algorithm>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "dmioctl/targets.h"
#include "tests/fuzz/script_kernel.h"

namespace targets = dmioctl::targets;

namespace {

bool operator==(const targets::ThinParams& a, const targets::ThinParams& b) {
  return a.pool == b.pool && a.thin_id == b.thin_id &&
         a.external_origin == b.external_origin;
}

bool operator==(const targets::ThinPoolParams& a,
                const targets::ThinPoolParams& b) {
  return a.metadata_dev == b.metadata_dev && a.data_dev == b.data_dev &&
         a.options.data_block_sectors == b.options.data_block_sectors &&
         a.options.low_water_blocks == b.options.low_water_blocks &&
         a.options.features == b.options.features;
}

// Whether one of the integrity key names RedactKeys looks for occurs twice.
bool RepeatsKeyName(absl::string_view text) {
  for (absl::string_view name :
       {"internal_hash:", "journal_crypt:", "journal_mac:"}) {
    size_t first = text.find(name);
    if (first != absl::string_view::npos &&
        text.find(name, first + 1) != absl::string_view::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  (void)targets::ParseThinPoolStatus(text);
  (void)targets::ParseThinStatus(text);
  (void)targets::ParseSnapshotStatus(text);

  if (auto thin = targets::ParseThinParams(text); thin.ok()) {
    std::optional<absl::string_view> origin;
    if (thin->external_origin) origin = *thin->external_origin;
    auto again = targets::ParseThinParams(
        targets::Thin(0, 1, thin->pool, thin->thin_id, origin).params);
    FUZZ_CHECK(again.ok() && *again == *thin);
  }
  if (auto pool = targets::ParseThinPoolParams(text); pool.ok()) {
    auto again = targets::ParseThinPoolParams(
        targets::ThinPool(0, 1, pool->metadata_dev, pool->data_dev,
                          pool->options)
            .params);
    FUZZ_CHECK(again.ok() && *again == *pool);
  }
  for (absl::string_view type : {"crypt", "integrity", "linear"}) {
    std::string shown = targets::RedactKeys(type, text);
    FUZZ_CHECK(shown.size() == text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      FUZZ_CHECK(shown[i] == text[i] || (shown[i] == '0' && text[i] != ' '));
    }
    if (type == "linear") FUZZ_CHECK(shown == text);
    if (type == "crypt") {
      // Only the key: from the first blank's next byte to the next blank.
      size_t key = text.find(' ');
      size_t key_end = key == absl::string_view::npos
                           ? text.size()
                           : std::min(text.find(' ', key + 1), text.size());
      for (size_t i = 0; i < text.size(); ++i) {
        if (key == absl::string_view::npos || i <= key || i >= key_end) {
          FUZZ_CHECK(shown[i] == text[i]);
        }
      }
    }
    if (type == "crypt" || !RepeatsKeyName(text)) {
      FUZZ_CHECK(targets::RedactKeys(type, shown) == shown);
    }
  }
  return 0;
}
