// gMock matchers for Status and StatusOr<T>, for tests only (like absl/status/status_matchers.h).
//
//   EXPECT_THAT(ParseX("bad"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 2")));
//   EXPECT_THAT(ParseX("1"), IsOkAndHolds(1));
//   EXPECT_THAT(DoY(), IsOk());
#ifndef HPD_COMMON_STATUS_MATCHERS_H_
#define HPD_COMMON_STATUS_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>
#include <string>
#include <utility>

#include "common/status.h"

namespace hpd {
namespace status_matchers_internal {

inline const Status& GetStatus(const Status& status) { return status; }
template <typename T>
Status GetStatus(const StatusOr<T>& status_or) {
  return status_or.status();
}

}  // namespace status_matchers_internal

// Lets gtest print a StatusOr in failure messages ("OK: 42" or the error).
template <typename T>
void PrintTo(const StatusOr<T>& status_or, std::ostream* os) {
  if (status_or.ok()) {
    *os << "OK: " << ::testing::PrintToString(*status_or);
  } else {
    *os << status_or.status();
  }
}

// Matches a Status or StatusOr whose code equals `code` and whose message() (without context)
// matches `message_matcher` (a string or a matcher such as HasSubstr("...")).
MATCHER_P2(StatusIs, code, message_matcher,
           std::string(negation ? "isn't" : "is") + " a status with code " +
               std::string(StatusCodeName(code)) + " and a message that " +
               ::testing::DescribeMatcher<std::string>(message_matcher)) {
  const Status status = status_matchers_internal::GetStatus(arg);
  if (status.code() != code) return false;
  return ::testing::ExplainMatchResult(message_matcher, std::string(status.message()),
                                       result_listener);
}

// Matches a Status or StatusOr whose code equals `code`, whatever the message.
MATCHER_P(StatusIs, code,
          std::string(negation ? "isn't" : "is") + " a status with code " +
              std::string(StatusCodeName(code))) {
  return status_matchers_internal::GetStatus(arg).code() == code;
}

// Matches an OK Status or a StatusOr holding a value.
MATCHER(IsOk, negation ? "isn't OK" : "is OK") {
  return status_matchers_internal::GetStatus(arg).ok();
}

// Matches a StatusOr holding a value that matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher,
          std::string(negation ? "isn't" : "is") + " OK with a value that " +
              ::testing::DescribeMatcher<std::decay_t<decltype(*std::declval<const arg_type&>())>>(
                  value_matcher)) {
  if (!arg.ok()) return false;
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace hpd

#endif  // HPD_COMMON_STATUS_MATCHERS_H_
