#include "asl/choice_eval.h"

#include <boost/json/value.hpp>
#include <cmath>
#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "asl/data_flow.h"
#include "common/rfc3339.h"
#include "common/utf8.h"

namespace hpd::asl {

namespace json = boost::json;

namespace {

Status MissingPathError(const JsonPath& path) {
  Status status = InvalidArgumentError("Invalid path '" + path.text() +
                                       "': The choice state's condition path references an "
                                       "invalid value.");
  status.SetErrorName(std::string(kStatesRuntime));
  return status;
}

std::u16string ToUtf16(std::string_view text) {
  std::u16string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const char32_t cp = DecodeUtf8(text, &pos);
    if (cp < 0x10000) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      const char32_t v = cp - 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (v >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
    }
  }
  return out;
}

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

// An integer (int64 or uint64) against a double, exactly.
std::partial_ordering CompareIntegerWithDouble(const json::value& integer, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  constexpr double kTwo63 = 9223372036854775808.0;
  constexpr double kTwo64 = 18446744073709551616.0;
  const double whole = std::trunc(d);
  const double fraction = d - whole;
  // Compare the integer with the whole part, then let the fraction break a tie.
  std::strong_ordering order = std::strong_ordering::equal;
  if (integer.is_int64()) {
    const int64_t i = integer.get_int64();
    if (whole < -kTwo63) return std::partial_ordering::greater;
    if (whole >= kTwo63) return std::partial_ordering::less;
    order = i <=> static_cast<int64_t>(whole);
  } else {
    const uint64_t u = integer.get_uint64();
    if (whole < 0) return std::partial_ordering::greater;
    if (whole >= kTwo64) return std::partial_ordering::less;
    order = u <=> static_cast<uint64_t>(whole);
  }
  if (order != 0) return order;
  if (fraction > 0) return std::partial_ordering::less;
  if (fraction < 0) return std::partial_ordering::greater;
  return std::partial_ordering::equivalent;
}

std::partial_ordering CompareNumbers(const json::value& a, const json::value& b) {
  if (a.is_double() && b.is_double()) return a.get_double() <=> b.get_double();
  if (b.is_double()) return CompareIntegerWithDouble(a, b.get_double());
  if (a.is_double()) {
    const std::partial_ordering reversed = CompareIntegerWithDouble(b, a.get_double());
    if (reversed == std::partial_ordering::less) return std::partial_ordering::greater;
    if (reversed == std::partial_ordering::greater) return std::partial_ordering::less;
    return reversed;
  }
  if (a.is_int64() && b.is_int64()) return a.get_int64() <=> b.get_int64();
  // At least one uint64 (> INT64_MAX); a negative int64 is below every uint64.
  if (a.is_int64() && a.get_int64() < 0) return std::partial_ordering::less;
  if (b.is_int64() && b.get_int64() < 0) return std::partial_ordering::greater;
  const uint64_t x = a.is_uint64() ? a.get_uint64() : static_cast<uint64_t>(a.get_int64());
  const uint64_t y = b.is_uint64() ? b.get_uint64() : static_cast<uint64_t>(b.get_int64());
  return x <=> y;
}

// Whether `order` satisfies the operator's relation (Equals, LessThan, GreaterThan,
// LessThanEquals, GreaterThanEquals).
enum class Relation { kEq, kLt, kGt, kLe, kGe };

bool Holds(Relation relation, std::partial_ordering order) {
  switch (relation) {
    case Relation::kEq:
      return order == 0;
    case Relation::kLt:
      return order < 0;
    case Relation::kGt:
      return order > 0;
    case Relation::kLe:
      return order <= 0;
    case Relation::kGe:
      return order >= 0;
  }
  return false;
}

std::partial_ordering CompareStrings(std::string_view a, std::string_view b) {
  const int c = CompareUtf16(a, b);
  return c < 0 ? std::partial_ordering::less
               : (c > 0 ? std::partial_ordering::greater : std::partial_ordering::equivalent);
}

bool CompareValues(ComparisonOperator op, const json::value& value, const json::value& operand) {
  using Op = ComparisonOperator;
  Relation relation = Relation::kEq;
  switch (op) {
    case Op::kStringEquals:
    case Op::kNumericEquals:
    case Op::kTimestampEquals:
      relation = Relation::kEq;
      break;
    case Op::kStringLessThan:
    case Op::kNumericLessThan:
    case Op::kTimestampLessThan:
      relation = Relation::kLt;
      break;
    case Op::kStringGreaterThan:
    case Op::kNumericGreaterThan:
    case Op::kTimestampGreaterThan:
      relation = Relation::kGt;
      break;
    case Op::kStringLessThanEquals:
    case Op::kNumericLessThanEquals:
    case Op::kTimestampLessThanEquals:
      relation = Relation::kLe;
      break;
    case Op::kStringGreaterThanEquals:
    case Op::kNumericGreaterThanEquals:
    case Op::kTimestampGreaterThanEquals:
      relation = Relation::kGe;
      break;
    case Op::kStringMatches:
      return value.is_string() && operand.is_string() &&
             MatchesWildcard(value.get_string(), operand.get_string());
    case Op::kBooleanEquals:
      return value.is_bool() && operand.is_bool() && value.get_bool() == operand.get_bool();
    case Op::kIsNull:
    case Op::kIsPresent:
    case Op::kIsNumeric:
    case Op::kIsString:
    case Op::kIsBoolean:
    case Op::kIsTimestamp:
      return false;  // predicates are handled by the caller
  }
  switch (op) {
    case Op::kStringEquals:
    case Op::kStringLessThan:
    case Op::kStringGreaterThan:
    case Op::kStringLessThanEquals:
    case Op::kStringGreaterThanEquals:
      if (!value.is_string() || !operand.is_string()) return false;
      return Holds(relation, CompareStrings(value.get_string(), operand.get_string()));
    case Op::kNumericEquals:
    case Op::kNumericLessThan:
    case Op::kNumericGreaterThan:
    case Op::kNumericLessThanEquals:
    case Op::kNumericGreaterThanEquals:
      if (!IsNumber(value) || !IsNumber(operand)) return false;
      return Holds(relation, CompareNumbers(value, operand));
    default: {
      // Timestamps.
      if (!value.is_string() || !operand.is_string()) return false;
      const StatusOr<WallTime> a = ParseRfc3339(value.get_string());
      const StatusOr<WallTime> b = ParseRfc3339(operand.get_string());
      if (!a.ok() || !b.ok()) return false;
      return Holds(relation, *a <=> *b);
    }
  }
}

// The outcome of a type predicate on a present value.
bool TestPredicate(ComparisonOperator op, const json::value& value) {
  switch (op) {
    case ComparisonOperator::kIsNull:
      return value.is_null();
    case ComparisonOperator::kIsNumeric:
      return IsNumber(value);
    case ComparisonOperator::kIsString:
      return value.is_string();
    case ComparisonOperator::kIsBoolean:
      return value.is_bool();
    case ComparisonOperator::kIsTimestamp:
      return value.is_string() && ParseRfc3339(value.get_string()).ok();
    default:
      return false;
  }
}

bool IsPredicate(ComparisonOperator op) {
  switch (op) {
    case ComparisonOperator::kIsNull:
    case ComparisonOperator::kIsPresent:
    case ComparisonOperator::kIsNumeric:
    case ComparisonOperator::kIsString:
    case ComparisonOperator::kIsBoolean:
    case ComparisonOperator::kIsTimestamp:
      return true;
    default:
      return false;
  }
}

StatusOr<bool> EvaluateComparison(const ChoiceRule& rule, const EvaluationScope& scope) {
  if (rule.variable == nullptr) return InvalidArgumentError("a comparison without a Variable");
  const PathSelection variable = SelectPath(*rule.variable, scope);
  const bool expected = rule.operand.is_bool() && rule.operand.get_bool();
  if (rule.op == ComparisonOperator::kIsPresent) return variable.found() == expected;
  if (!variable.found()) return MissingPathError(*rule.variable);
  if (IsPredicate(rule.op)) return TestPredicate(rule.op, variable.value()) == expected;
  if (rule.operand_path != nullptr) {
    const PathSelection operand = SelectPath(*rule.operand_path, scope);
    if (!operand.found()) return MissingPathError(*rule.operand_path);
    return CompareValues(rule.op, variable.value(), operand.value());
  }
  return CompareValues(rule.op, variable.value(), rule.operand);
}

}  // namespace

Status NoChoiceMatchedError() {
  Status status = InvalidArgumentError(std::string(kNoChoiceMatchedCause));
  status.SetErrorName(std::string(kStatesRuntime));
  return status;
}

int CompareUtf16(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  const std::u16string x = ToUtf16(a);
  const std::u16string y = ToUtf16(b);
  const int c = x.compare(y);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

bool MatchesWildcard(std::string_view text, std::string_view pattern) {
  // Pattern items: a byte to match literally, or kStar.
  constexpr int kStar = -1;
  std::vector<int> items;
  items.reserve(pattern.size());
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size() && (pattern[i + 1] == '*' || pattern[i + 1] == '\\')) {
      items.push_back(static_cast<unsigned char>(pattern[++i]));
    } else if (c == '*') {
      if (items.empty() || items.back() != kStar) items.push_back(kStar);
    } else {
      items.push_back(static_cast<unsigned char>(c));
    }
  }
  // Greedy match with backtracking to the last star: O(text * pattern) at worst.
  size_t t = 0;
  size_t p = 0;
  size_t star_p = items.size();  // none yet
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < items.size() && items[p] == kStar) {
      star_p = p++;
      star_t = t;
    } else if (p < items.size() && items[p] == static_cast<unsigned char>(text[t])) {
      ++p;
      ++t;
    } else if (star_p != items.size()) {
      p = star_p + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < items.size() && items[p] == kStar) ++p;
  return p == items.size();
}

StatusOr<bool> EvaluateChoiceRule(const ChoiceRule& rule, const EvaluationScope& scope) {
  switch (rule.kind) {
    case ChoiceRule::Kind::kComparison:
      return EvaluateComparison(rule, scope);
    case ChoiceRule::Kind::kAnd:
      for (const ChoiceRule& child : rule.children) {
        HPD_ASSIGN_OR_RETURN(const bool holds, EvaluateChoiceRule(child, scope));
        if (!holds) return false;
      }
      return true;
    case ChoiceRule::Kind::kOr:
      for (const ChoiceRule& child : rule.children) {
        HPD_ASSIGN_OR_RETURN(const bool holds, EvaluateChoiceRule(child, scope));
        if (holds) return true;
      }
      return false;
    case ChoiceRule::Kind::kNot: {
      if (rule.children.empty()) return InvalidArgumentError("a Not rule without a child");
      HPD_ASSIGN_OR_RETURN(const bool holds, EvaluateChoiceRule(rule.children.front(), scope));
      return !holds;
    }
    case ChoiceRule::Kind::kCondition:
      if (rule.condition_literal) return *rule.condition_literal;
      return UnimplementedError("the JSONata Condition '" + rule.condition +
                                "' must be evaluated by the JSONata evaluator");
  }
  return InternalError("unknown Choice rule kind");
}

StatusOr<std::optional<size_t>> EvaluateChoices(const std::vector<ChoiceRule>& rules,
                                                const EvaluationScope& scope) {
  for (size_t i = 0; i < rules.size(); ++i) {
    HPD_ASSIGN_OR_RETURN(const bool holds, EvaluateChoiceRule(rules[i], scope));
    if (holds) return std::optional<size_t>(i);
  }
  return std::optional<size_t>();
}

}  // namespace hpd::asl
