// RFC 3339 timestamps as Amazon States Language uses them (Wait "Timestamp"/"TimestampPath", the
// Timestamp* Choice operators, context-object times).
//
// Accepted form (the ASL profile of RFC 3339, checked against what AWS accepted and rejected in the
// conformance corpus):
//   YYYY-MM-DD 'T' hh:mm:ss [ '.' 1*9DIGIT ] ( 'Z' | ('+'|'-') hh:mm )
// with an uppercase 'T' and 'Z', a real calendar date (leap years honoured), hour 00-23, minute and
// second 00-59 (no leap second) and an offset of at most 18:00. Rejected, among others: lowercase
// 't'/'z', a space instead of 'T', no zone ("2016-03-14T01:59:00"), missing seconds, more than nine
// fraction digits, "+0100" or "+01" offsets, surrounding whitespace.
#ifndef HPD_COMMON_RFC3339_H_
#define HPD_COMMON_RFC3339_H_

#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace hpd {

// Parses `text` into the UTC instant it denotes, keeping nanosecond precision. Returns
// kInvalidArgument, with a message naming the text and the first problem found, if `text` is not an
// accepted timestamp or lies outside WallTime's range (1677-09-21 .. 2262-04-11).
StatusOr<WallTime> ParseRfc3339(std::string_view text);

// UTC rendering like Java's Instant.toString(), the way the Java-based service prints instants: the
// fraction is omitted when zero, else printed with 3, 6 or 9 digits, whichever is shortest exact.
// "2016-03-14T01:59:00Z", "2019-03-26T20:14:13.192Z", "2016-03-05T21:29:29.243167252Z".
std::string FormatRfc3339(WallTime t);

// UTC with exactly three fraction digits (truncated), as Step Functions renders context-object
// times such as $$.Execution.StartTime: "2019-03-26T20:14:13.192Z".
std::string FormatRfc3339Millis(WallTime t);

// "Fri, 27 Nov 2026 06:51:16 GMT" (RFC 7231 IMF-fixdate), as HTTP's Date header and the Lambda
// and ECS responses that echo it.
std::string FormatHttpDate(WallTime t);

}  // namespace hpd

#endif  // HPD_COMMON_RFC3339_H_
