#include "common/uuid.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"

namespace hpd {
namespace {

// Returns the given words in turn.
class FixedRandom final : public RandomSource {
 public:
  explicit FixedRandom(std::vector<std::uint64_t> words) : words_(std::move(words)) {}
  std::uint64_t Next() override { return words_.at(next_++); }
  std::size_t used() const { return next_; }

 private:
  std::vector<std::uint64_t> words_;
  std::size_t next_ = 0;
};

TEST(UuidTest, LaysOutBitsWithVersionAndVariant) {
  FixedRandom random({0x0123456789abcdefULL, 0xfedcba9876543210ULL});
  // Version nibble forced to 4 (was 'c'), variant bits forced to 10 (0xf -> 0xb).
  EXPECT_EQ(NewUuidV4(random), "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(random.used(), 2u);

  FixedRandom zeros({0, 0});
  EXPECT_EQ(NewUuidV4(zeros), "00000000-0000-4000-8000-000000000000");
  FixedRandom ones({~std::uint64_t{0}, ~std::uint64_t{0}});
  EXPECT_EQ(NewUuidV4(ones), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

TEST(UuidTest, RandomUuidsAreWellFormedAndDistinct) {
  SeededRandom random(99);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = NewUuidV4(random);
    ASSERT_TRUE(IsUuid(uuid)) << uuid;
    EXPECT_EQ(uuid[14], '4') << uuid;
    EXPECT_NE(std::string("89ab").find(uuid[19]), std::string::npos) << uuid;
    for (char c : uuid) EXPECT_FALSE(c >= 'A' && c <= 'F') << uuid;
    seen.insert(uuid);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(UuidTest, SeededRandomGivesReproducibleUuids) {
  SeededRandom a(5);
  SeededRandom b(5);
  EXPECT_EQ(NewUuidV4(a), NewUuidV4(b));
}

TEST(UuidTest, FormatUuidV4WritesWhatNewUuidV4Returns) {
  FixedRandom random({0x0123456789abcdefULL, 0xfedcba9876543210ULL});
  char text[kUuidLength];
  FormatUuidV4(random, text);
  EXPECT_EQ(std::string_view(text, kUuidLength), "01234567-89ab-4def-bedc-ba9876543210");
  EXPECT_EQ(random.used(), 2u);

  SeededRandom a(11);
  SeededRandom b(11);
  for (int i = 0; i < 100; ++i) {
    FormatUuidV4(a, text);
    EXPECT_EQ(std::string_view(text, kUuidLength), NewUuidV4(b));
  }
}

TEST(UuidTest, IsUuidChecksShape) {
  EXPECT_TRUE(IsUuid("3b241101-e2bb-4255-8caf-4136c566a962"));
  EXPECT_TRUE(IsUuid("3B241101-E2BB-4255-8CAF-4136C566A962"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));  // Any version.

  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("3b241101e2bb42558caf4136c566a962"));        // No hyphens.
  EXPECT_FALSE(IsUuid("3b241101-e2bb-4255-8caf-4136c566a96"));     // Short.
  EXPECT_FALSE(IsUuid("3b241101-e2bb-4255-8caf-4136c566a9622"));   // Long.
  EXPECT_FALSE(IsUuid("3b241101-e2bb-4255-8caf_4136c566a962"));    // Wrong separator.
  EXPECT_FALSE(IsUuid("3b24110-1e2bb-4255-8caf-4136c566a962"));    // Hyphen misplaced.
  EXPECT_FALSE(IsUuid("3g241101-e2bb-4255-8caf-4136c566a962"));    // Not hex.
  EXPECT_FALSE(IsUuid("{3b241101-e2bb-4255-8caf-4136c566a962}"));  // Braced.
  EXPECT_FALSE(IsUuid(" 3b241101-e2bb-4255-8caf-4136c566a96"));
}

}  // namespace
}  // namespace hpd
