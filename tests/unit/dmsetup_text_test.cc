// dmsetup's text rules: mangling, the ioctl error line, table and concise
// input, the LVM name split.
#include <errno.h>

#include "dmioctl/error.h"
#include "gtest/gtest.h"
#include "tools/dmsetup/text.h"

namespace dmkit::dmsetup {
namespace {

TEST(Mangle, WhitelistedNameIsLeftAlone) {
  MangleResult r =
      MangleString("vg0-lv_1:a.b@c=d+e#f", "name", Mangling::kAuto);
  EXPECT_EQ(r.changed, 0);
}

TEST(Mangle, BlacklistedCharactersBecomeHex) {
  MangleResult r = MangleString("a b/c", "name", Mangling::kAuto);
  ASSERT_EQ(r.changed, 1);
  EXPECT_EQ(r.value, "a\\x20b\\x2fc");
}

TEST(Mangle, AutoKeepsAlreadyMangled) {
  EXPECT_EQ(MangleString("a\\x20b", "name", Mangling::kAuto).changed, 0);
}

TEST(Mangle, AutoRefusesAMix) {
  MangleResult r = MangleString("a\\x20b c", "name", Mangling::kAuto);
  EXPECT_EQ(r.changed, -1);
  EXPECT_EQ(r.error,
            "The name \"a\\x20b c\" contains mixed mangled and unmangled "
            "characters or it's already mangled improperly.");
}

TEST(Mangle, HexMangelsTheBackslashToo) {
  MangleResult r = MangleString("a\\x20b c", "name", Mangling::kHex);
  ASSERT_EQ(r.changed, 1);
  EXPECT_EQ(r.value, "a\\x5cx20b\\x20c");
}

TEST(Mangle, TooLongForTheKernelBuffer) {
  std::string name(40, ' ');  // 160 bytes mangled
  MangleResult r = MangleString(name, "name", Mangling::kAuto);
  EXPECT_EQ(r.changed, -1);
  EXPECT_EQ(r.error, "Mangled form of the name too long for \"" + name + "\".");
}

TEST(Unmangle, DecodesHex) {
  MangleResult r = UnmangleString("a\\x20b", "name", Mangling::kAuto);
  ASSERT_EQ(r.changed, 1);
  EXPECT_EQ(r.value, "a b");
  EXPECT_EQ(UnmangleString("plain", "name", Mangling::kAuto).changed, 0);
}

TEST(Unmangle, StrictModesRefuseRawBlacklistedCharacters) {
  MangleResult r = UnmangleString("a b", "name", Mangling::kAuto);
  EXPECT_EQ(r.changed, -1);
  EXPECT_EQ(r.error,
            "The name \"a b\" should be mangled but it contains blacklisted "
            "characters.");
  // Mode none takes the kernel's name as it is.
  EXPECT_EQ(UnmangleString("a b", "name", Mangling::kNone).changed, 0);
}

TEST(Mangle, MultipleMangling) {
  EXPECT_EQ(CheckMultipleMangled("a\\x5cx20", "name", Mangling::kAuto),
            "The name \"a\\x5cx20\" seems to be mangled more than once. This "
            "is not allowed in auto mode.");
  EXPECT_EQ(CheckMultipleMangled("a\\x5cx20", "name", Mangling::kHex), "");
}

TEST(IoctlError, NameWithoutUuidHasTwoSpaces) {
  EXPECT_EQ(FormatIoctlError("create", {"pool", ""}, EBUSY),
            "device-mapper: create ioctl on pool  failed: Device or resource "
            "busy");
}

TEST(IoctlError, NameAndUuid) {
  EXPECT_EQ(FormatIoctlError("remove", {"thin", "LVM-abc"}, ENXIO),
            "device-mapper: remove ioctl on thin LVM-abc failed: No such "
            "device or address");
}

TEST(IoctlError, DeviceNumberFollowsTheUuid) {
  EXPECT_EQ(FormatIoctlError("reload", {"x", "", 253, 4}, EINVAL),
            "device-mapper: reload ioctl on x (253:4) failed: Invalid "
            "argument");
  EXPECT_EQ(FormatIoctlError("info", {"", "", 253, 0}, ENXIO),
            "device-mapper: info ioctl on  (253:0) failed: No such device or "
            "address");
}

TEST(IoctlError, FromKernelStatus) {
  absl::Status busy = dmioctl::KernelError({.error_number = EBUSY,
                                            .operation = "remove",
                                            .ioctl_name = "DM_DEV_REMOVE",
                                            .name = "pool"});
  EXPECT_EQ(FormatStatusError("remove", {"pool", ""}, busy),
            "device-mapper: remove ioctl on pool  failed: Device or resource "
            "busy");
  // The addressing printed is the caller's (libdm prints what it sent).
  absl::Status missing = dmioctl::KernelError({.error_number = ENXIO,
                                               .operation = "info",
                                               .ioctl_name = "DM_DEV_STATUS",
                                               .dev = dmioctl::DevNum{253, 7}});
  EXPECT_EQ(FormatStatusError("info", {"", "", 253, 7}, missing),
            "device-mapper: info ioctl on  (253:7) failed: No such device or "
            "address");
}

TEST(IoctlError, LibraryCheckPrintsItsMessage) {
  EXPECT_EQ(
      FormatStatusError("create", {"x", ""},
                        absl::InvalidArgumentError("device name 'control' "
                                                   "is reserved")),
      "device name 'control' is reserved");
  // An errno without ioctl details (a failed open) is not an ioctl line.
  EXPECT_EQ(FormatStatusError("create", {"x", ""},
                              dmkit::ErrnoError(ENOENT, "open /dev/x")),
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
