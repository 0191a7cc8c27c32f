// The byte helpers the reply parsers use in place of strnlen/memchr/memset:
// checked against the C library on every length and alignment around the
// 8-byte words they read, and for reading nothing past their bound.
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "dmioctl/src/bytes.h"
#include "gtest/gtest.h"

namespace dmioctl::internal {
namespace {

TEST(BoundedLengthTest, MatchesStrnlenForEveryLengthBoundAndAlignment) {
  std::vector<char> buffer(64 + 8);
  for (size_t align = 0; align < 8; ++align) {
    for (size_t max = 0; max <= 40; ++max) {
      for (size_t nul = 0; nul <= max + 1; ++nul) {
        char* p = buffer.data() + align;
        memset(buffer.data(), 'x', buffer.size());
        if (nul < 64) p[nul] = '\0';
        EXPECT_EQ(BoundedLength(p, max), strnlen(p, max))
            << "align " << align << " max " << max << " nul at " << nul;
      }
    }
  }
}

TEST(BoundedLengthTest, FindsZeroBytesAmongHighBytes) {
  // The word test must not mistake 0x80 or 0x01 bytes for a NUL, nor miss a
  // NUL after them.
  const char cases[][9] = {"\x80\x80\x80\x80\x80\x80\x80\x80",
                           "\x01\x01\x01\x01\x01\x01\x01\x01",
                           "\xff\x80\x01\x7f\xfe\x81\x02\x10"};
  for (const auto& bytes : cases) {
    char field[16];
    memcpy(field, bytes, 8);
    memcpy(field + 8, bytes, 8);
    EXPECT_EQ(BoundedLength(field, 16), 16u);
    for (size_t nul = 0; nul < 16; ++nul) {
      char with_nul[16];
      memcpy(with_nul, field, 16);
      with_nul[nul] = '\0';
      EXPECT_EQ(BoundedLength(with_nul, 16), nul);
    }
  }
}

TEST(BoundedLengthTest, ReadsNothingPastTheBound) {
  // A string that runs up to an unmapped page: the scan must stop at `max`
  // (any word read across the end would fault).
  long page = sysconf(_SC_PAGESIZE);
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  char* second = static_cast<char*>(mem) + page;
  ASSERT_EQ(mprotect(second, page, PROT_NONE), 0);
  for (size_t max = 0; max <= 20; ++max) {
    char* p = second - max;
    memset(p, 'n', max);
    EXPECT_EQ(BoundedLength(p, max), max);
  }
  munmap(mem, 2 * page);
}

TEST(EqualShortTest, MatchesMemcmpForEveryLengthAndDifference) {
  char a[40], b[40];
  for (size_t n = 0; n <= 32; ++n) {
    for (size_t i = 0; i < 40; ++i) a[i] = b[i] = static_cast<char>('a' + i);
    EXPECT_TRUE(EqualShort(a, b, n)) << n;
    for (size_t diff = 0; diff < 40; ++diff) {
      memcpy(b, a, sizeof b);
      b[diff] ^= 0x20;
      EXPECT_EQ(EqualShort(a, b, n), memcmp(a, b, n) == 0)
          << "n " << n << " differing at " << diff;
    }
  }
}

TEST(AssignShortTest, AssignsAnyTextAndKeepsEqualText) {
  const std::string texts[] = {"",
                               "a",
                               "dmkit-bench-1",
                               "dmkit-bench-12",
                               "device-name-of-twenty",
                               "device-name-of-twentx",
                               std::string("with\0nul", 8)};
  for (const std::string& before : texts) {
    for (const std::string& after : texts) {
      std::string out = before;
      AssignShort(&out, after.data(), after.size());
      EXPECT_EQ(out, after) << "'" << before << "' -> '" << after << "'";
    }
  }
  // The same text leaves the string's buffer as it was.
  std::string out = "a-name-longer-than-sso";
  const char* data = out.data();
  std::string same = out;
  AssignShort(&out, same.data(), same.size());
  EXPECT_EQ(out.data(), data);
}

TEST(ZeroBytesTest, ZeroesExactlyTheRangeAcrossChunks) {
  for (size_t n :
       {size_t{0}, size_t{1}, size_t{2047}, size_t{2048}, size_t{2049},
        size_t{4096}, size_t{10000}, size_t{600 * 1024}}) {
    std::vector<char> buffer(n + 16, 'x');
    ZeroBytes(buffer.data() + 8, n);
    for (size_t i = 0; i < 8; ++i) {
      ASSERT_EQ(buffer[i], 'x') << n;
      ASSERT_EQ(buffer[n + 8 + i], 'x') << n;
    }
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(buffer[8 + i], 0) << n << " " << i;
  }
}

}  // namespace
}  // namespace dmioctl::internal
