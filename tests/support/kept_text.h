// Test helper: text that lives until the program ends, for views that must outlive the
// expression that built them (asl::TaskInvocation's text fields point into a state machine;
// tests that build tasks by hand keep their texts here).
#ifndef HPD_TESTS_SUPPORT_KEPT_TEXT_H_
#define HPD_TESTS_SUPPORT_KEPT_TEXT_H_

#include <deque>
#include <string>
#include <string_view>

namespace hpd::testing {

inline std::string_view KeptText(std::string text) {
  // Never destroyed: no test outlives it. A deque keeps earlier strings where they are.
  static auto* const texts = new std::deque<std::string>();
  texts->push_back(std::move(text));
  return texts->back();
}

}  // namespace hpd::testing

#endif  // HPD_TESTS_SUPPORT_KEPT_TEXT_H_
