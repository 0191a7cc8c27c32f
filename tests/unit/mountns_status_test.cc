#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "dmioctl/error.h"
#include "dmkit/status.h"
#include "gtest/gtest.h"
#include "mountns/unique_fd.h"
#include "tests/unit/mountns_test_util.h"

namespace mountns {
namespace {

TEST(StatusTest, ErrnoErrorKeepsContextCodeAndErrno) {
  absl::Status status = dmkit::ErrnoError(EBUSY, "umount /mnt");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(status.message()),
            "umount /mnt: Device or resource busy");
  EXPECT_EQ(dmkit::ErrnoOf(status), EBUSY);
  EXPECT_EQ(dmkit::ErrnoError(ENOENT, "x").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(dmkit::ErrnoError(EPERM, "x").code(),
            absl::StatusCode::kPermissionDenied);
  // ENOTEMPTY shares EBUSY's code; the errno tells them apart.
  EXPECT_EQ(dmkit::ErrnoOf(dmkit::ErrnoError(ENOTEMPTY, "x")), ENOTEMPTY);
}

TEST(StatusTest, ErrnoOfOtherStatusesIsZero) {
  EXPECT_EQ(dmkit::ErrnoOf(absl::OkStatus()), 0);
  EXPECT_EQ(dmkit::ErrnoOf(absl::InternalError("x")), 0);
  EXPECT_EQ(dmkit::ErrnoOf(dmkit::WithErrno(absl::InternalError("x"), EIO)),
            EIO);
  // OK stays OK, without payload.
  EXPECT_TRUE(dmkit::WithErrno(absl::OkStatus(), EIO).ok());
}

// One errno model: a status from dmioctl's ioctl path and one from mountns
// carry their errno the same way, and the ioctl details stay readable.
TEST(StatusTest, ErrnoOfReadsEveryLibrarysStatuses) {
  absl::Status ioctl = dmioctl::KernelError({.error_number = EBUSY,
                                             .operation = "remove",
                                             .ioctl_name = "DM_DEV_REMOVE",
                                             .name = "thin1"});
  EXPECT_EQ(dmkit::ErrnoOf(ioctl), EBUSY);
  std::optional<dmioctl::IoctlErrorInfo> info =
      dmioctl::GetIoctlErrorInfo(ioctl);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->error_number, EBUSY);
  EXPECT_EQ(info->operation, "remove");
  EXPECT_FALSE(dmioctl::GetIoctlErrorInfo(dmkit::ErrnoError(EBUSY, "x")));
  absl::StatusOr<UniqueFd> missing = OpenFile("/nonexistent", O_RDONLY);
  EXPECT_EQ(dmkit::ErrnoOf(missing.status()), ENOENT);
}

absl::Status Step(int error_number, int* reached) {
  ++*reached;
  return error_number == 0 ? absl::OkStatus()
                           : dmkit::ErrnoError(error_number, "step");
}

absl::StatusOr<int> Value(bool ok) {
  if (!ok) return dmkit::ErrnoError(EINVAL, "value");
  return 7;
}

absl::Status Chain(int fail_at, int* reached, int* value) {
  DMKIT_RETURN_IF_ERROR(Step(fail_at == 1 ? EIO : 0, reached));
  DMKIT_ASSIGN_OR_RETURN(*value, Value(fail_at != 2));
  DMKIT_ASSIGN_OR_RETURN(int twice, Value(true));
  *value += twice;
  DMKIT_RETURN_IF_ERROR(Step(fail_at == 3 ? ENOSPC : 0, reached));
  return absl::OkStatus();
}

TEST(StatusTest, MacrosReturnEarly) {
  int reached = 0;
  int value = 0;
  EXPECT_EQ(dmkit::ErrnoOf(Chain(1, &reached, &value)), EIO);
  EXPECT_EQ(reached, 1);
  EXPECT_EQ(value, 0);
  reached = 0;
  EXPECT_EQ(dmkit::ErrnoOf(Chain(2, &reached, &value)), EINVAL);
  EXPECT_EQ(reached, 1);
  reached = 0;
  EXPECT_EQ(dmkit::ErrnoOf(Chain(3, &reached, &value)), ENOSPC);
  EXPECT_EQ(reached, 2);
  EXPECT_EQ(value, 14);
  reached = 0;
  EXPECT_TRUE(Chain(0, &reached, &value).ok());
}

bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFdTest, ClosesOnDestructionAndReset) {
  int raw;
  {
    absl::StatusOr<UniqueFd> fd = OpenFile("/dev/null", O_RDONLY);
    ASSERT_OK(fd);
    raw = fd->get();
    EXPECT_TRUE(IsOpen(raw));
    EXPECT_TRUE(fcntl(raw, F_GETFD) & FD_CLOEXEC);
  }
  EXPECT_FALSE(IsOpen(raw));

  UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  raw = a.get();
  UniqueFd b = std::move(a);
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), raw);
  b = UniqueFd();
  EXPECT_FALSE(IsOpen(raw));

  UniqueFd c(open("/dev/null", O_RDONLY | O_CLOEXEC));
  raw = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_TRUE(IsOpen(raw));
  close(raw);
}

TEST(UniqueFdTest, ReadAllEnforcesItsLimit) {
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
  UniqueFd read_end(fds[0]);
  {
    UniqueFd write_end(fds[1]);
    ASSERT_OK(WriteAll(write_end.get(), std::string(1000, 'x'), "pipe"));
  }
  absl::StatusOr<std::string> limited = ReadAll(read_end.get(), "pipe", 100);
  EXPECT_EQ(limited.status().code(), absl::StatusCode::kResourceExhausted);

  absl::StatusOr<std::string> text = ReadFile("/proc/self/stat");
  ASSERT_OK(text);
  EXPECT_EQ(text->substr(0, text->find(' ')), std::to_string(getpid()));
  absl::StatusOr<std::string> missing = ReadFile("/nonexistent");
  EXPECT_EQ(std::string(missing.status().message()),
            "cannot open /nonexistent: No such file or directory");
}

}  // namespace
}  // namespace mountns
