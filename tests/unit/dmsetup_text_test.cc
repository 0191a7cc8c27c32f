// dmsetup's text rules: mangling, the ioctl error line, table and concise
// input, the LVM name split.
#include <errno.h>
#include <stdint.h>

#include <optional>
#include <string>

#include "dmioctl/error.h"
#include "gtest/gtest.h"
#include "tools/dmsetup/text.h"

namespace dmkit::dmsetup {
namespace {

TEST(Mangle, WhitelistedNameIsLeftAlone) {
  EXPECT_EQ(*MangleString("vg0-lv_1:a.b@c=d+e#f", "name", Mangling::kAuto),
            "vg0-lv_1:a.b@c=d+e#f");
}

TEST(Mangle, BlacklistedCharactersBecomeHex) {
  EXPECT_EQ(*MangleString("a b/c", "name", Mangling::kAuto), "a\\x20b\\x2fc");
}

TEST(Mangle, AutoKeepsAlreadyMangled) {
  EXPECT_EQ(*MangleString("a\\x20b", "name", Mangling::kAuto), "a\\x20b");
}

TEST(Mangle, AutoRefusesAMix) {
  absl::StatusOr<std::string> r =
      MangleString("a\\x20b c", "name", Mangling::kAuto);
  EXPECT_EQ(r.status().message(),
            "The name \"a\\x20b c\" contains mixed mangled and unmangled "
            "characters or it's already mangled improperly.");
}

TEST(Mangle, HexMangelsTheBackslashToo) {
  EXPECT_EQ(*MangleString("a\\x20b c", "name", Mangling::kHex),
            "a\\x5cx20b\\x20c");
}

TEST(Mangle, TooLongForTheKernelBuffer) {
  std::string name(40, ' ');  // 160 bytes mangled
  absl::StatusOr<std::string> r = MangleString(name, "name", Mangling::kAuto);
  EXPECT_EQ(r.status().message(),
            "Mangled form of the name too long for \"" + name + "\".");
}

TEST(Unmangle, DecodesHex) {
  EXPECT_EQ(*UnmangleString("a\\x20b", "name", Mangling::kAuto), "a b");
  EXPECT_EQ(*UnmangleString("plain", "name", Mangling::kAuto), "plain");
}

TEST(Unmangle, StrictModesRefuseRawBlacklistedCharacters) {
  absl::StatusOr<std::string> r =
      UnmangleString("a b", "name", Mangling::kAuto);
  EXPECT_EQ(r.status().message(),
            "The name \"a b\" should be mangled but it contains blacklisted "
            "characters.");
  // Mode none takes the kernel's name as it is.
  EXPECT_EQ(*UnmangleString("a b", "name", Mangling::kNone), "a b");
}

TEST(Mangle, MultipleMangling) {
  EXPECT_EQ(
      CheckMultipleMangled("a\\x5cx20", "name", Mangling::kAuto).message(),
      "The name \"a\\x5cx20\" seems to be mangled more than once. This is not "
      "allowed in auto mode.");
  EXPECT_TRUE(CheckMultipleMangled("a\\x5cx20", "name", Mangling::kHex).ok());
}

absl::Status Ioctl(const char* op, int error_number, std::string name,
                   std::string uuid = "",
                   std::optional<dmioctl::DevNum> dev = std::nullopt) {
  return dmioctl::KernelError({.error_number = error_number,
                               .operation = op,
                               .ioctl_name = "DM_X",
                               .name = std::move(name),
                               .uuid = std::move(uuid),
                               .dev = dev});
}

TEST(ErrorText, NameWithoutUuidHasTwoSpaces) {
  EXPECT_EQ(ErrorText(Ioctl("create", EBUSY, "pool")),
            "device-mapper: create ioctl on pool  failed: Device or resource "
            "busy");
}

TEST(ErrorText, NameAndUuid) {
  EXPECT_EQ(ErrorText(Ioctl("remove", ENXIO, "thin", "LVM-abc")),
            "device-mapper: remove ioctl on thin LVM-abc failed: No such "
            "device or address");
}

TEST(ErrorText, DeviceNumberFollowsTheUuid) {
  EXPECT_EQ(
      ErrorText(Ioctl("reload", EINVAL, "x", "", dmioctl::DevNum{253, 4})),
      "device-mapper: reload ioctl on x (253:4) failed: Invalid "
      "argument");
  EXPECT_EQ(ErrorText(Ioctl("info", ENXIO, "", "", dmioctl::DevNum{253, 0})),
            "device-mapper: info ioctl on  (253:0) failed: No such device or "
            "address");
  // libdm's ints: a number past the kernel's range is shown as sent, one
  // that reads as negative is not shown.
  EXPECT_EQ(ErrorText(Ioctl("info", ENXIO, "", "", dmioctl::DevNum{5000, 0})),
            "device-mapper: info ioctl on  (5000:0) failed: No such device or "
            "address");
  EXPECT_EQ(
      ErrorText(Ioctl("info", ENXIO, "", "", dmioctl::DevNum{UINT32_MAX, 1})),
      "device-mapper: info ioctl on   failed: No such device or address");
}

TEST(ErrorText, AsSentRenamesTheRequest) {
  absl::Status info = Ioctl("info", ENXIO, "a");
  EXPECT_EQ(ErrorText(AsSent(info, "mknodes")),
            "device-mapper: mknodes ioctl on a  failed: No such device or "
            "address");
  EXPECT_EQ(ErrorText(AsSent(info, "", dmioctl::DevNum{253, 77})),
            "device-mapper: info ioctl on a (253:77) failed: No such device or "
            "address");
  // Anything else is left as it is.
  absl::Status other = absl::InvalidArgumentError("no");
  EXPECT_EQ(AsSent(other, "mknodes"), other);
}

TEST(ErrorText, LibraryCheckPrintsItsMessage) {
  EXPECT_EQ(ErrorText(absl::InvalidArgumentError("device name 'control' "
                                                 "is reserved")),
            "device name 'control' is reserved");
  // An errno without ioctl details (a failed open) is not an ioctl line.
  EXPECT_EQ(ErrorText(dmkit::ErrnoError(ENOENT, "open /dev/x")),
            "open /dev/x: No such file or directory");
}

TEST(Concise, QuoteRoundTrip) {
  EXPECT_EQ(QuoteConcise("a,b;c\\d"), "a\\,b\\;c\\\\d");
}

TEST(SplitName, LvmNames) {
  SplitName s = SplitDeviceName("LVM", "vg--x-lv--y-_mlog", '\0');
  EXPECT_EQ(s.subsystem, "LVM");
  EXPECT_EQ(s.vg_name, "vg-x");
  EXPECT_EQ(s.lv_name, "lv-y");
  EXPECT_EQ(s.lv_layer, "_mlog");
  s = SplitDeviceName("LVM", "a-b-c-d", '\0');
  EXPECT_EQ(s.lv_layer, "c");
  s = SplitDeviceName("LVM", "a-", '\0');
  EXPECT_EQ(s.vg_name, "a-");
  EXPECT_EQ(s.lv_name, "");
}

TEST(SplitName, SubsystemFromUuid) {
  SplitName s = SplitDeviceName("LVM-abcdef", "vg-lv", '-');
  EXPECT_EQ(s.subsystem, "LVM");
  EXPECT_EQ(s.lv_name, "lv");
  s = SplitDeviceName("CRYPT-LUKS2-123", "vg-lv", '-');
  EXPECT_EQ(s.subsystem, "CRYPT");
  EXPECT_EQ(s.vg_name, "");
  // No separator in the uuid: no subsystem.
  EXPECT_EQ(SplitDeviceName("nouuidprefix", "x", '-').subsystem, "");
}

}  // namespace
}  // namespace dmkit::dmsetup
