// File: mountns/status.h
//
// Errors in mountns are absl::Status values. A failed system call becomes a
// status whose code follows absl::ErrnoToStatus(), whose message reads
// "<context>: <strerror>" (the shape util-linux prints after "prog: "), and
// which keeps the errno as a payload so callers can branch on EBUSY or EINVAL
// without parsing text:
//
//   if (umount2(path, 0) != 0) return mountns::ErrnoError(errno, "umount /x");
//   ...
//   if (mountns::ErrnoOf(status) == EBUSY) { /* try MNT_DETACH */ }
//
// Abseil 20220623 has no status macros, so this header also provides the two
// this library uses, MOUNTNS_RETURN_IF_ERROR and MOUNTNS_ASSIGN_OR_RETURN.
#ifndef MOUNTNS_STATUS_H_
#define MOUNTNS_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace mountns {

// ErrnoError()
//
// A status for a system call that failed with `error_number`: message
// "<context>: <strerror>", code as absl::ErrnoToStatus(), errno attached.
absl::Status ErrnoError(int error_number, absl::string_view context);

// ErrnoOf()
//
// The errno attached by ErrnoError() (also after WithErrno()), or 0 for any
// other status, including OK.
int ErrnoOf(const absl::Status& status);

// WithErrno()
//
// Returns `status` with `error_number` attached, for statuses built without
// ErrnoError() that still stand for a failed system call.
absl::Status WithErrno(absl::Status status, int error_number);

}  // namespace mountns

// MOUNTNS_RETURN_IF_ERROR(expr)
//
// Evaluates `expr`, an absl::Status, and returns it from the enclosing
// function if it is not OK.
#define MOUNTNS_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::absl::Status mountns_status_ = (expr);           \
    if (!mountns_status_.ok()) return mountns_status_; \
  } while (0)

// MOUNTNS_ASSIGN_OR_RETURN(lhs, expr)
//
// Evaluates `expr`, an absl::StatusOr<T>; returns its status if it is not OK,
// otherwise moves its value into `lhs` (which may be a declaration).
#define MOUNTNS_ASSIGN_OR_RETURN(lhs, expr) \
  MOUNTNS_ASSIGN_OR_RETURN_IMPL_(           \
      MOUNTNS_CONCAT_(mountns_status_or_, __LINE__), lhs, expr)

// Implementation details follow.
#define MOUNTNS_CONCAT_INNER_(a, b) a##b
#define MOUNTNS_CONCAT_(a, b) MOUNTNS_CONCAT_INNER_(a, b)
#define MOUNTNS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(*tmp)

#endif  // MOUNTNS_STATUS_H_
