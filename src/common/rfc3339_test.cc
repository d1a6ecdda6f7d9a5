#include "common/rfc3339.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status_matchers.h"

namespace hpd {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

WallTime FromUnixSeconds(std::int64_t s) { return WallTime(seconds(s)); }

struct AcceptCase {
  std::string text;
  WallTime expected;
};

TEST(ParseRfc3339Test, AcceptsTheAslProfile) {
  const std::vector<AcceptCase> cases = {
      // Examples from the ASL specification and the conformance corpus.
      {"2016-03-14T01:59:00Z", FromUnixSeconds(1457920740)},
      {"2012-10-09T19:00:55Z", FromUnixSeconds(1349809255)},
      {"2016-03-05T21:29:29.243167252Z", FromUnixSeconds(1457213369) + nanoseconds(243167252)},
      // The suffixes the corpus' TimestampPath cases (test_wait_timestamppath[...]) saw accepted.
      {"2016-03-14T01:59:00.000000Z", FromUnixSeconds(1457920740)},
      {"2016-03-14T01:59:00.00Z", FromUnixSeconds(1457920740)},
      {"2094-12-16T06:51:16.000Z", FromUnixSeconds(3943320676)},
      // Fractions of any length up to nanoseconds.
      {"2016-03-14T01:59:00.5Z", FromUnixSeconds(1457920740) + milliseconds(500)},
      {"2016-03-14T01:59:00.123Z", FromUnixSeconds(1457920740) + milliseconds(123)},
      {"2016-03-14T01:59:00.000001Z", FromUnixSeconds(1457920740) + microseconds(1)},
      {"2016-03-14T01:59:00.000000001Z", FromUnixSeconds(1457920740) + nanoseconds(1)},
      // Numeric offsets: local time minus offset.
      {"2012-10-09T19:00:55+01:00", FromUnixSeconds(1349809255) - hours(1)},
      {"2012-10-09T19:00:55-05:30", FromUnixSeconds(1349809255) + hours(5) + minutes(30)},
      {"2012-10-09T19:00:55+00:00", FromUnixSeconds(1349809255)},
      {"2012-10-09T19:00:55-00:00", FromUnixSeconds(1349809255)},
      {"2012-10-09T19:00:55.25+18:00", FromUnixSeconds(1349809255) - hours(18) + milliseconds(250)},
      // Calendar edges.
      {"1970-01-01T00:00:00Z", FromUnixSeconds(0)},
      {"1969-12-31T23:59:59.999999999Z", FromUnixSeconds(0) - nanoseconds(1)},
      {"2024-02-29T12:00:00Z", FromUnixSeconds(1709208000)},
      {"2000-02-29T00:00:00Z", FromUnixSeconds(951782400)},
      {"2023-12-31T23:59:59Z", FromUnixSeconds(1704067199)},
      {"2016-03-14T00:30:00+01:00", FromUnixSeconds(1457911800)},  // Previous UTC day.
      // Edges of WallTime's range.
      {"2262-04-11T23:47:16.854775807Z", WallTime(nanoseconds(INT64_MAX))},
      {"1677-09-21T00:12:43.145224192Z", WallTime(nanoseconds(INT64_MIN))},
  };
  for (const AcceptCase& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseRfc3339(c.text), IsOkAndHolds(c.expected));
  }
}

struct RejectCase {
  std::string text;
  std::string message_part;
};

TEST(ParseRfc3339Test, RejectsEverythingElseWithAReason) {
  const std::vector<RejectCase> cases = {
      // Recorded rejections in the corpus (States.Runtime / States.QueryEvaluationError).
      {"2016-03-14T01:59:00", "missing time zone"},         // test_wait_timestamppath[]
      {"2016-03-14T01:59:00.000000", "missing time zone"},  // test_wait_timestamppath[.000000]
      {"2016-12-05T21:29:29", "missing time zone"},         // NO_Z
      {"2016-12-05 21:29:29Z", "uppercase 'T'"},            // NO_T
      {"2016-13-05T21:29:29Z", "month out of range"},       // INVALID_DATE
      {"05-12-2016T21:29:29Z", "four-digit year"},          // INVALID_ISO
      {"2016-12-05T25:29:29Z", "hour out of range"},        // INVALID_TIME
      {"2023-02-24 12:15:56.832957", "uppercase 'T'"},      // A Python str(datetime).
      // The ASL profile: uppercase T and Z only.
      {"2016-03-14t01:59:00Z", "uppercase 'T'"},
      {"2016-03-14T01:59:00z", "uppercase 'Z'"},
      // Calendar and clock validity.
      {"2016-02-30T00:00:00Z", "day out of range"},
      {"2023-02-29T00:00:00Z", "day out of range"},
      {"1900-02-29T00:00:00Z", "day out of range"},
      {"2016-04-31T00:00:00Z", "day out of range"},
      {"2016-00-10T00:00:00Z", "month out of range"},
      {"2016-01-00T00:00:00Z", "day out of range"},
      {"2016-03-14T24:00:00Z", "hour out of range"},
      {"2016-03-14T01:60:00Z", "minute out of range"},
      {"2016-12-31T23:59:60Z", "second out of range"},
      // Missing or malformed parts.
      {"", "four-digit year"},
      {"2016-03-14", "'T' between date and time"},
      {"2016-03-14T", "two-digit hour"},
      {"2016-03-14T01:59Z", "':' and seconds"},
      {"2016-03-14T1:59:00Z", "two-digit hour"},
      {"2016-3-14T01:59:00Z", "two-digit month"},
      {"16-03-14T01:59:00Z", "four-digit year"},
      {"+2016-03-14T01:59:00Z", "four-digit year"},
      {"2016/03/14T01:59:00Z", "'-' after year"},
      {"2016-03-14T01:59:00.Z", "digit after '.'"},
      {"2016-03-14T01:59:00,5Z", "expected 'Z'"},
      {"2016-03-14T01:59:00.1234567891Z", "more than nine fraction digits"},
      // Offsets.
      {"2016-03-14T01:59:00+0100", "':' in offset"},
      {"2016-03-14T01:59:00+01", "':' in offset"},
      {"2016-03-14T01:59:00+1:00", "offset hour"},
      {"2016-03-14T01:59:00+01:60", "offset minute out of range"},
      {"2016-03-14T01:59:00+18:01", "18:00"},
      {"2016-03-14T01:59:00UTC", "expected 'Z'"},
      // Surroundings.
      {" 2016-03-14T01:59:00Z", "four-digit year"},
      {"2016-03-14T01:59:00Z ", "trailing"},
      {"2016-03-14T01:59:00Zjunk", "trailing"},
      {"2016-03-14T01:59:00+01:00Z", "trailing"},
      // Outside WallTime's range.
      {"2262-04-11T23:47:16.854775808Z", "supported range"},
      {"1677-09-21T00:12:43.145224191Z", "supported range"},
      {"0000-01-01T00:00:00Z", "supported range"},
      {"9999-12-31T23:59:59Z", "supported range"},
  };
  for (const RejectCase& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseRfc3339(c.text),
                StatusIs(StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(c.message_part), HasSubstr("\"" + c.text + "\""))));
  }
}

TEST(ParseRfc3339Test, ErrorNamesTheOffset) {
  EXPECT_THAT(ParseRfc3339("2016-03-14T01:59:00"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at offset 19")));
  EXPECT_THAT(ParseRfc3339("2016-02-30T00:00:00Z"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at offset 8")));
}

TEST(ParseRfc3339Test, QuotesAtMost64BytesOfInput) {
  const std::string long_input = "2016-03-14T01:59:00Z" + std::string(100, 'x');
  EXPECT_THAT(ParseRfc3339(long_input),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr(long_input.substr(0, 64) + "...\""),
                             Not(HasSubstr(long_input.substr(0, 65))), HasSubstr("trailing"))));
}

TEST(FormatRfc3339Test, PrintsLikeJavaInstant) {
  const WallTime base = FromUnixSeconds(1457920740);  // 2016-03-14T01:59:00Z
  EXPECT_EQ(FormatRfc3339(base), "2016-03-14T01:59:00Z");
  EXPECT_EQ(FormatRfc3339(base + milliseconds(192)), "2016-03-14T01:59:00.192Z");
  EXPECT_EQ(FormatRfc3339(base + milliseconds(100)), "2016-03-14T01:59:00.100Z");
  EXPECT_EQ(FormatRfc3339(base + microseconds(192001)), "2016-03-14T01:59:00.192001Z");
  EXPECT_EQ(FormatRfc3339(base + nanoseconds(243167252)), "2016-03-14T01:59:00.243167252Z");
  EXPECT_EQ(FormatRfc3339(base + nanoseconds(1)), "2016-03-14T01:59:00.000000001Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0) - nanoseconds(1)), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(-86400 * 365)), "1969-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(WallTime(nanoseconds(INT64_MAX))), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(FormatRfc3339(WallTime(nanoseconds(INT64_MIN))), "1677-09-21T00:12:43.145224192Z");
}

TEST(FormatRfc3339Test, MillisFormatAlwaysHasThreeTruncatedDigits) {
  // $$.Execution.StartTime style, e.g. "2019-03-26T20:14:13.192Z".
  const WallTime start = FromUnixSeconds(1553631253);
  EXPECT_EQ(FormatRfc3339Millis(start + milliseconds(192)), "2019-03-26T20:14:13.192Z");
  EXPECT_EQ(FormatRfc3339Millis(start), "2019-03-26T20:14:13.000Z");
  EXPECT_EQ(FormatRfc3339Millis(start + nanoseconds(192999999)), "2019-03-26T20:14:13.192Z");
  EXPECT_EQ(FormatRfc3339Millis(FromUnixSeconds(1704067200)), "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(FromUnixSeconds(0) - nanoseconds(1)), "1969-12-31T23:59:59.999Z");
}

TEST(Rfc3339RoundTripTest, FormatThenParseIsIdentity) {
  // A spread of instants, 1677..2262, at every precision.
  std::uint64_t x = 0x243f6a8885a308d3ULL;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const auto t = WallTime(nanoseconds(static_cast<std::int64_t>(x)));
    const std::string text = FormatRfc3339(t);
    ASSERT_THAT(ParseRfc3339(text), IsOkAndHolds(t)) << text;
    const WallTime millis = std::chrono::floor<milliseconds>(t);
    ASSERT_THAT(ParseRfc3339(FormatRfc3339Millis(t)), IsOkAndHolds(millis)) << text;
  }
}

TEST(Rfc3339RoundTripTest, ParseThenFormatNormalizesToUtc) {
  const auto normalized = [](std::string_view text) {
    StatusOr<WallTime> t = ParseRfc3339(text);
    return t.ok() ? FormatRfc3339(*t) : t.status().ToString();
  };
  EXPECT_EQ(normalized("2016-03-14T01:59:00Z"), "2016-03-14T01:59:00Z");
  EXPECT_EQ(normalized("2016-03-14T01:59:00.000000Z"), "2016-03-14T01:59:00Z");
  EXPECT_EQ(normalized("2016-03-14T01:59:00.1Z"), "2016-03-14T01:59:00.100Z");
  EXPECT_EQ(normalized("2016-03-14T01:59:00.1234Z"), "2016-03-14T01:59:00.123400Z");
  EXPECT_EQ(normalized("2016-03-14T00:59:00-01:00"), "2016-03-14T01:59:00Z");
  EXPECT_EQ(normalized("2016-03-01T00:30:00+01:00"), "2016-02-29T23:30:00Z");
}

}  // namespace
}  // namespace hpd

namespace hpd {
namespace {

TEST(FormatHttpDateTest, IsRfc7231ImfFixdate) {
  // 2026-11-27T06:51:16Z is a Friday.
  const WallTime t{std::chrono::seconds(1795762276)};
  EXPECT_EQ(FormatHttpDate(t), "Fri, 27 Nov 2026 06:51:16 GMT");
  EXPECT_EQ(FormatHttpDate(WallTime{}), "Thu, 01 Jan 1970 00:00:00 GMT");
}

}  // namespace
}  // namespace hpd
