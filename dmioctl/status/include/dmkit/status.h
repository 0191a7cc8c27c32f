// File: dmkit/status.h
//
// The one error model of dmioctl, mountns and the dmkit applets. Errors are
// absl::Status values; a failed system call becomes a status whose code
// follows absl::ErrnoToStatus(), whose message reads "<context>: <strerror>"
// (the shape util-linux and dmsetup print after "prog: "), and which keeps
// the errno as a payload, so callers branch on EBUSY or ENXIO without
// parsing text:
//
//   if (umount2(path, 0) != 0) return dmkit::ErrnoError(errno, "umount /x");
//   ...
//   if (dmkit::ErrnoOf(status) == EBUSY) { /* try MNT_DETACH */ }
//
// Every status from either library (dmioctl's KernelError() included) keeps
// its errno under the same payload, so ErrnoOf() answers for any of them.
// Header-only: both libraries use it and install it. The functions are kept
// out of line (one copy in a program, not one per call site): they are on
// error paths, and the static binary has a size budget.
//
// Abseil 20220623 has no status macros, so this header also provides the two
// this project uses, DMKIT_RETURN_IF_ERROR and DMKIT_ASSIGN_OR_RETURN.
#ifndef DMKIT_STATUS_H_
#define DMKIT_STATUS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace dmkit {

// The payload under which every status of this project keeps its errno, in
// decimal.
inline constexpr absl::string_view kErrnoPayloadUrl = "dmkit/errno";

// WithErrno()
//
// Returns `status` with `error_number` attached, for statuses built without
// ErrnoError() that still stand for a failed system call. OK and 0 leave
// `status` as it is.
[[gnu::noinline]] inline absl::Status WithErrno(absl::Status status,
                                                int error_number) {
  if (!status.ok() && error_number != 0) {
    status.SetPayload(kErrnoPayloadUrl, absl::Cord(absl::StrCat(error_number)));
  }
  return status;
}

// ErrnoError()
//
// A status for a system call that failed with `error_number`: message
// "<context>: <strerror>", code as absl::ErrnoToStatus(), errno attached.
[[gnu::noinline]] inline absl::Status ErrnoError(int error_number,
                                                 absl::string_view context) {
  return WithErrno(absl::ErrnoToStatus(error_number, context), error_number);
}

// ErrnoOf()
//
// The errno attached by ErrnoError(), WithErrno() or dmioctl's
// KernelError(), or 0 for any other status, including OK.
[[gnu::noinline]] inline int ErrnoOf(const absl::Status& status) {
  if (status.ok()) return 0;
  auto payload = status.GetPayload(kErrnoPayloadUrl);
  int value = 0;
  if (!payload.has_value() ||
      !absl::SimpleAtoi(std::string(*payload), &value)) {
    return 0;
  }
  return value;
}

}  // namespace dmkit

// DMKIT_RETURN_IF_ERROR(expr)
//
// Evaluates `expr`, an absl::Status, and returns it from the enclosing
// function if it is not OK.
#define DMKIT_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status dmkit_status_ = (expr);         \
    if (!dmkit_status_.ok()) return dmkit_status_; \
  } while (0)

// DMKIT_ASSIGN_OR_RETURN(lhs, expr)
//
// Evaluates `expr`, an absl::StatusOr<T>; returns its status if it is not OK,
// otherwise moves its value into `lhs` (which may be a declaration).
#define DMKIT_ASSIGN_OR_RETURN(lhs, expr)                                      \
  DMKIT_ASSIGN_OR_RETURN_IMPL_(DMKIT_CONCAT_(dmkit_status_or_, __LINE__), lhs, \
                               expr)

// Implementation details follow.
#define DMKIT_CONCAT_INNER_(a, b) a##b
#define DMKIT_CONCAT_(a, b) DMKIT_CONCAT_INNER_(a, b)
#define DMKIT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(*tmp)

#endif  // DMKIT_STATUS_H_
