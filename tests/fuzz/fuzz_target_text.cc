// Target status and table-parameter parsers (targets.h), all on the same
// text, with round trips through the builders where there is one:
//   * ParseThinParams -> Thin() -> ParseThinParams is unchanged;
//   * ParseThinPoolParams -> ThinPool() -> ParseThinPoolParams is unchanged;
//   * RedactKeys keeps the text's length and is idempotent.
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
    FUZZ_CHECK(targets::RedactKeys(type, shown) == shown);
  }
  return 0;
}
