#include "common/utf8.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hpd {
namespace {

TEST(Utf8SequenceLengthTest, WellFormedSequences) {
  EXPECT_EQ(Utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceLength("\xC2\x80", 0), 2u);          // U+0080
  EXPECT_EQ(Utf8SequenceLength("\xE0\xA0\x80", 0), 3u);      // U+0800
  EXPECT_EQ(Utf8SequenceLength("\xED\x9F\xBF", 0), 3u);      // U+D7FF
  EXPECT_EQ(Utf8SequenceLength("\xF0\x90\x80\x80", 0), 4u);  // U+10000
  EXPECT_EQ(Utf8SequenceLength("\xF4\x8F\xBF\xBF", 0), 4u);  // U+10FFFF
  EXPECT_EQ(Utf8SequenceLength("x\xE2\x82\xAC", 1), 3u);     // U+20AC after "x"
}

TEST(Utf8SequenceLengthTest, IllFormedSequences) {
  EXPECT_EQ(Utf8SequenceLength("\x80", 0), 0u);              // stray continuation byte
  EXPECT_EQ(Utf8SequenceLength("\xC0\x80", 0), 0u);          // overlong U+0000
  EXPECT_EQ(Utf8SequenceLength("\xE0\x9F\xBF", 0), 0u);      // overlong U+07FF
  EXPECT_EQ(Utf8SequenceLength("\xED\xA0\x80", 0), 0u);      // surrogate U+D800
  EXPECT_EQ(Utf8SequenceLength("\xF0\x8F\xBF\xBF", 0), 0u);  // overlong U+FFFF
  EXPECT_EQ(Utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);  // U+110000
  EXPECT_EQ(Utf8SequenceLength("\xF5\x80\x80\x80", 0), 0u);  // never a lead byte
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82", 0), 0u);          // truncated
  EXPECT_EQ(Utf8SequenceLength("\xE2\x82x", 0), 0u);         // broken
}

TEST(DecodeUtf8Test, DecodesCodePointsAndReplacesBadBytesOneByOne) {
  const std::string_view text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xE2\x82z";
  std::vector<char32_t> decoded;
  for (std::size_t pos = 0; pos < text.size();) decoded.push_back(DecodeUtf8(text, &pos));
  EXPECT_EQ(decoded, (std::vector<char32_t>{U'a', U'\u00E9', U'\u20AC', U'\U0001F600',
                                            kReplacementCharacter, kReplacementCharacter, U'z'}));
}

TEST(SanitizeUtf8Test, ReplacesEachMaximalSubpart) {
  // The example of Unicode 15, section 3.9, table 3-8.
  EXPECT_EQ(SanitizeUtf8("a\xF1\x80\x80\xE1\x80\xC2"
                         "b\x80"
                         "c\x80\xBF"
                         "d"),
            "a\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "b\xEF\xBF\xBD"
            "c\xEF\xBF\xBD\xEF\xBF\xBD"
            "d");
  EXPECT_EQ(SanitizeUtf8("ok \xC3\xA9\xF0\x9F\x98\x80"), "ok \xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8(""), "");
}

TEST(IsWellFormedUtf8Test, AcceptsUtf8AndRefusesAnyIllFormedByte) {
  EXPECT_TRUE(IsWellFormedUtf8(""));
  EXPECT_TRUE(IsWellFormedUtf8("ascii"));
  EXPECT_TRUE(IsWellFormedUtf8("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsWellFormedUtf8("\xff"));
  EXPECT_FALSE(IsWellFormedUtf8("caf\xc3"));       // truncated
  EXPECT_FALSE(IsWellFormedUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsWellFormedUtf8("\xed\xa0\x80"));  // surrogate
}

}  // namespace
}  // namespace hpd

namespace hpd {
namespace {

TEST(Utf8PrefixTest, CutsAtACharacterBoundary) {
  const std::string text =
      "ab\xC3\xA9"
      "c";  // "abéc"
  EXPECT_EQ(Utf8Prefix(text, 10), text);
  EXPECT_EQ(Utf8Prefix(text, 4), "ab\xC3\xA9");
  EXPECT_EQ(Utf8Prefix(text, 3), "ab");  // not half of é
  EXPECT_EQ(Utf8Prefix(text, 2), "ab");
  EXPECT_EQ(Utf8Prefix("\xF0\x9F\x98\x80", 3), "");
  EXPECT_EQ(Utf8Prefix("", 0), "");
}

}  // namespace
}  // namespace hpd
