// Evaluation of JSONPath Choice rules (Choice state "Choices"), with Step Functions' semantics.
//
// Values. "Variable" and the "…Path" operands are evaluated against the scope: "$" paths against
// scope.input (the Choice state's effective input, after InputPath), "$$" against the context
// object, "$name" against the variables. A definite path selects one node; an indefinite path
// selects the array of its matches.
//
// Operators.
//  - A type mismatch is false, never an error: StringEquals on a number, NumericEquals on a
//    string or boolean, Timestamp* on a string that is not an RFC 3339 timestamp (ParseRfc3339),
//    a "…Path" operand of the wrong type, ...
//  - String*: Java String.compareTo order, i.e. by UTF-16 code unit (a supplementary character
//    sorts before U+E000..U+FFFF, unlike code point or UTF-8 byte order).
//  - Numeric*: mathematical comparison of the two JSON numbers (1 == 1.0, no rounding of large
//    integers through double).
//  - Timestamp*: compares the instants (different offsets may be equal).
//  - StringMatches: '*' matches any run of characters (also none); "\*" is a literal '*' and "\\"
//    a literal '\'; every other character matches itself.
//  - IsNull / IsPresent / IsNumeric / IsString / IsBoolean / IsTimestamp: the test's outcome
//    equals the operand (true or false). IsNumeric holds for any JSON number.
//  - And / Or short-circuit in document order (so "And": [IsPresent, StringEquals] never fails on
//    a missing field); Not negates.
//
// Errors (Status kInvalidArgument, error_name() "States.Runtime", message() the cause text after
// Step Functions' per-state prefix, see StateErrorCause in data_flow.h):
//  - a Variable, or a "…Path" operand, that selects nothing, for every operator but IsPresent:
//    "Invalid path '<path>': The choice state's condition path references an invalid value."
//  - kUnimplemented (no error name) for a JSONata Condition that is an expression (only literal
//    true/false conditions are evaluated here).
//
// Thread-safety: pure functions over the rules and the scope's documents.
#ifndef HPD_ASL_CHOICE_EVAL_H_
#define HPD_ASL_CHOICE_EVAL_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "asl/definition.h"
#include "asl/evaluation_scope.h"
#include "common/status.h"

namespace hpd::asl {

// The failure when no rule matches and the Choice state has no Default. Step Functions reports it
// as States.Runtime (not States.NoChoiceMatched) with this cause.
inline constexpr std::string_view kNoChoiceMatchedCause =
    "Failed to transition out of the state. The state does not point to a next state.";
Status NoChoiceMatchedError();

// The index of the first top-level rule that matches, or nullopt when none does (the caller then
// takes "Default", or fails with NoChoiceMatchedError()). Rules after the matching one are not
// evaluated, so their errors do not surface.
StatusOr<std::optional<size_t>> EvaluateChoices(const std::vector<ChoiceRule>& rules,
                                                const EvaluationScope& scope);

// Whether one rule (a comparison, And, Or, Not, or a literal JSONata Condition) holds.
StatusOr<bool> EvaluateChoiceRule(const ChoiceRule& rule, const EvaluationScope& scope);

// Java String.compareTo over UTF-8 text: < 0, 0 or > 0 as `a` sorts before, equal to or after `b`
// by UTF-16 code unit. Bytes that are not well-formed UTF-8 count as U+FFFD.
int CompareUtf16(std::string_view a, std::string_view b);

// StringMatches' wildcard match of `text` against `pattern` (see the file comment).
bool MatchesWildcard(std::string_view text, std::string_view pattern);

}  // namespace hpd::asl

#endif  // HPD_ASL_CHOICE_EVAL_H_
