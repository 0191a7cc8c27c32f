#include "mountns/status.h"

#include <stdlib.h>

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace mountns {
namespace {

// One payload URL for the whole library; the value is the errno in decimal.
constexpr absl::string_view kErrnoPayloadUrl = "dmkit.mountns/errno";

}  // namespace

absl::Status ErrnoError(int error_number, absl::string_view context) {
  return WithErrno(absl::ErrnoToStatus(error_number, context), error_number);
}

absl::Status WithErrno(absl::Status status, int error_number) {
  if (!status.ok() && error_number != 0) {
    status.SetPayload(kErrnoPayloadUrl, absl::Cord(absl::StrCat(error_number)));
  }
  return status;
}

int ErrnoOf(const absl::Status& status) {
  if (status.ok()) return 0;
  auto payload = status.GetPayload(kErrnoPayloadUrl);
  if (!payload.has_value()) return 0;
  int value = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &value)) return 0;
  return value;
}

}  // namespace mountns
