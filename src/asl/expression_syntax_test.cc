#include "asl/expression_syntax.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/status_matchers.h"

namespace hpd::asl::syntax_internal {
namespace {

using ::testing::HasSubstr;

constexpr NumberSyntax kJsonNumbers{.reject_leading_zeros = true, .allow_uint64 = true};
constexpr NumberSyntax kFilterNumbers{};

TEST(SyntaxErrorTest, PointsAtTheCharacterOrTheEnd) {
  EXPECT_THAT(SyntaxError("JSONPath", "$.a b", 3, "whitespace is not allowed"),
              StatusIs(StatusCode::kInvalidArgument,
                       "invalid JSONPath '$.a b': whitespace is not allowed at character 4"));
  EXPECT_THAT(SyntaxError("JSONPath", "$.", 2, "a path must not end with '.'"),
              StatusIs(StatusCode::kInvalidArgument,
                       "invalid JSONPath '$.': a path must not end with '.' at the end"));
  EXPECT_THAT(SyntaxError("JSONPath", "", 0, "the path is empty"),
              StatusIs(StatusCode::kInvalidArgument, "invalid JSONPath '': the path is empty"));
}

TEST(SyntaxErrorTest, CutsLongTexts) {
  const std::string text(200, 'a');
  EXPECT_EQ(QuoteText(text), "'" + std::string(120, 'a') + "...'");
  EXPECT_EQ(QuoteText(std::string(120, 'a')), "'" + std::string(120, 'a') + "'");
}

TEST(ReadNumberLiteralTest, ReadsIntegersAndDoublesAndStopsAfterTheNumber) {
  StatusOr<NumberLiteral> integer = ReadNumberLiteral("call", "(-42, 1)", 1, kJsonNumbers);
  ASSERT_THAT(integer, IsOk());
  EXPECT_TRUE(integer->value.is_int64());
  EXPECT_EQ(integer->value.get_int64(), -42);
  EXPECT_EQ(integer->end, 4u);

  StatusOr<NumberLiteral> fraction = ReadNumberLiteral("call", "1.5e+2)", 0, kJsonNumbers);
  ASSERT_THAT(fraction, IsOk());
  EXPECT_TRUE(fraction->value.is_double());
  EXPECT_EQ(fraction->value.get_double(), 150.0);
  EXPECT_EQ(fraction->end, 6u);
}

TEST(ReadNumberLiteralTest, IntegersBeyondInt64AreUint64OnlyWhereAllowed) {
  StatusOr<NumberLiteral> json = ReadNumberLiteral("call", "18446744073709551615", 0, kJsonNumbers);
  ASSERT_THAT(json, IsOk());
  EXPECT_TRUE(json->value.is_uint64());
  EXPECT_EQ(json->value.get_uint64(), UINT64_MAX);

  StatusOr<NumberLiteral> filter =
      ReadNumberLiteral("call", "18446744073709551615", 0, kFilterNumbers);
  ASSERT_THAT(filter, IsOk());
  EXPECT_TRUE(filter->value.is_double());
  EXPECT_EQ(filter->value.get_double(), 18446744073709551615.0);
}

TEST(ReadNumberLiteralTest, LeadingZerosAreRejectedOnlyWhereAsked) {
  EXPECT_THAT(ReadNumberLiteral("call", "007", 0, kJsonNumbers),
              StatusIs(StatusCode::kInvalidArgument,
                       "invalid call '007': numbers must not have leading zeros at character 1"));
  StatusOr<NumberLiteral> filter = ReadNumberLiteral("call", "007", 0, kFilterNumbers);
  ASSERT_THAT(filter, IsOk());
  EXPECT_EQ(filter->value.as_int64(), 7);
}

TEST(ReadNumberLiteralTest, MalformedNumbersSayWhatIsMissing) {
  EXPECT_THAT(ReadNumberLiteral("call", "x(-)", 2, kJsonNumbers),
              StatusIs(StatusCode::kInvalidArgument,
                       "invalid call 'x(-)': expected a digit after '-' at character 4"));
  EXPECT_THAT(ReadNumberLiteral("call", "1.", 0, kFilterNumbers),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("expected a digit after '.' in a number at the end")));
  EXPECT_THAT(ReadNumberLiteral("call", "1e+", 0, kFilterNumbers),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("expected a digit in the number's exponent at the end")));
  EXPECT_THAT(ReadNumberLiteral("call", "(1e999)", 1, kJsonNumbers),
              StatusIs(StatusCode::kInvalidArgument,
                       "invalid call '(1e999)': number 1e999 is out of range at character 2"));
}

}  // namespace
}  // namespace hpd::asl::syntax_internal
