#include "asl/expression_syntax.h"

#include <charconv>
#include <cstdint>
#include <system_error>
#include <utility>

namespace hpd::asl::syntax_internal {
namespace {

constexpr size_t kMaxQuotedLength = 120;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string QuoteText(std::string_view text) {
  std::string out = "'";
  if (text.size() <= kMaxQuotedLength) {
    out.append(text);
  } else {
    out.append(text.substr(0, kMaxQuotedLength));
    out.append("...");
  }
  out.push_back('\'');
  return out;
}

Status SyntaxError(std::string_view subject, std::string_view text, size_t at,
                   std::string_view what) {
  std::string message = "invalid ";
  message.append(subject);
  message.push_back(' ');
  message.append(QuoteText(text));
  message.append(": ");
  message.append(what);
  if (text.empty()) {
    // Nothing to point at.
  } else if (at >= text.size()) {
    message.append(" at the end");
  } else {
    message.append(" at character ");
    message.append(std::to_string(at + 1));
  }
  return InvalidArgumentError(std::move(message));
}

StatusOr<NumberLiteral> ReadNumberLiteral(std::string_view subject, std::string_view text,
                                          size_t start, NumberSyntax syntax) {
  size_t pos = start;
  const auto skip_digits = [&] {
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
  };
  const auto peek = [&] { return pos < text.size() ? text[pos] : '\0'; };
  bool integral = true;
  if (peek() == '-') ++pos;
  const size_t digits = pos;
  skip_digits();
  if (pos == digits) return SyntaxError(subject, text, pos, "expected a digit after '-'");
  if (syntax.reject_leading_zeros && pos - digits > 1 && text[digits] == '0') {
    return SyntaxError(subject, text, digits, "numbers must not have leading zeros");
  }
  if (peek() == '.') {
    integral = false;
    ++pos;
    const size_t fraction = pos;
    skip_digits();
    if (pos == fraction) {
      return SyntaxError(subject, text, pos, "expected a digit after '.' in a number");
    }
  }
  if (peek() == 'e' || peek() == 'E') {
    integral = false;
    ++pos;
    if (peek() == '+' || peek() == '-') ++pos;
    const size_t exponent = pos;
    skip_digits();
    if (pos == exponent) {
      return SyntaxError(subject, text, pos, "expected a digit in the number's exponent");
    }
  }
  const char* first = text.data() + start;
  const char* last = text.data() + pos;
  if (integral) {
    int64_t as_int = 0;
    if (std::from_chars(first, last, as_int).ec == std::errc()) {
      return NumberLiteral{boost::json::value(as_int), pos};
    }
    uint64_t as_uint = 0;
    if (syntax.allow_uint64 && std::from_chars(first, last, as_uint).ec == std::errc()) {
      return NumberLiteral{boost::json::value(as_uint), pos};
    }
  }
  double as_double = 0;
  if (std::from_chars(first, last, as_double).ec != std::errc()) {
    return SyntaxError(
        subject, text, start,
        "number " + std::string(text.substr(start, pos - start)) + " is out of range");
  }
  return NumberLiteral{boost::json::value(as_double), pos};
}

}  // namespace hpd::asl::syntax_internal
