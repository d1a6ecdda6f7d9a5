// Syntax that the JSONPath parser (path.cc) and the intrinsic function parser (intrinsic.cc)
// share: how a syntax error is worded and how a number literal is read. Internal to hpd_asl;
// callers outside the module see only the errors these produce.
#ifndef HPD_ASL_EXPRESSION_SYNTAX_H_
#define HPD_ASL_EXPRESSION_SYNTAX_H_

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hpd::asl::syntax_internal {

// `text` in single quotes, cut after 120 bytes with "..." so that messages stay readable.
std::string QuoteText(std::string_view text);

// InvalidArgumentError "invalid <subject> '<text>': <what> at character <at + 1>", with
// " at the end" instead when `at` is past the text and nothing when the text is empty.
// `at` is a byte offset into `text`.
Status SyntaxError(std::string_view subject, std::string_view text, size_t at,
                   std::string_view what);

// Where the two grammars differ.
struct NumberSyntax {
  // JSON forbids "007" and intrinsic arguments follow it; Jayway filters read it as 7.
  bool reject_leading_zeros = false;
  // An integer above INT64_MAX: exact as uint64, or a double as Jayway filters have it.
  bool allow_uint64 = false;
};

struct NumberLiteral {
  boost::json::value value;  // int64 (or uint64) for an integer in range, else double
  size_t end = 0;            // byte offset just past the literal
};

// Reads the number that starts at text[start] (a digit or '-'): '-'? digits ('.' digits)?
// ([eE] [+-]? digits)?, stopping at the first byte that cannot continue it. Errors are
// SyntaxError(subject, text, ...): a missing digit, a leading zero (if rejected), or a number
// beyond double's range.
StatusOr<NumberLiteral> ReadNumberLiteral(std::string_view subject, std::string_view text,
                                          size_t start, NumberSyntax syntax);

}  // namespace hpd::asl::syntax_internal

#endif  // HPD_ASL_EXPRESSION_SYNTAX_H_
