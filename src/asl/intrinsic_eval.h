// Evaluation of parsed intrinsic function calls (asl/intrinsic.h) with the results and failures
// AWS Step Functions produces.
//
// Failures. Every failure AWS raises while evaluating an intrinsic is the ASL error
// "States.Runtime" (not catchable with States.IntrinsicFailure); error_name() says so. message()
// is the cause text after the part the engine adds for the state ("An error occurred while
// executing the state 'S' (entered at the event id #N). "):
//
//   The function '<expression as written>' had the following error: <detail>
//
// where <detail> is
//   - "The JsonPath argument for the field '<path>' could not be found in the input '<input>'"
//     when a definite path argument selects nothing (a "$$..." path is named with a single '$',
//     and <input> is always the state's effective input, compact as SerializeJson writes it);
//   - "Filter: [<i>] can only be applied to arrays. Current context is: <value>" when a path
//     indexes something that is not an array (Jayway's own message, which AWS passes on);
//   - "Invalid arguments in States.<Name>" for an argument of the wrong type or out of range.
// An indefinite path ("$.items[*].id") never fails: it yields the array of its matches.
//
// Argument semantics, as AWS behaves (see the .cc for the evidence behind each rule):
//   - numbers that must be integers are truncated toward zero (ArrayPartition, ArrayRange,
//     ArrayGetItem, MathRandom), except MathAdd, which rounds each operand half up (Java's
//     Math.round: 1.5 -> 2, -1.5 -> -1, -2.5 -> -2);
//   - States.Format and non-string States.Hash data render values as Java's toString does:
//     strings raw, null as "null", objects as {k=v, k2=v2}, arrays as [a, b], doubles as
//     Double.toString ("1.0E7");
//   - length limits (Base64Encode, Base64Decode, Hash: 10,000) count UTF-16 code units, as Java's
//     String.length() does.
//
// Thread-safety: evaluation reads the call and the scope only (and draws from scope.random);
// concurrent evaluations are safe when their random sources are.
#ifndef HPD_ASL_INTRINSIC_EVAL_H_
#define HPD_ASL_INTRINSIC_EVAL_H_

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

#include "asl/evaluation_scope.h"
#include "asl/intrinsic.h"
#include "common/status.h"

namespace hpd::asl {

// The ASL error name of every intrinsic evaluation failure.
inline constexpr std::string_view kIntrinsicErrorName = "States.Runtime";

// Evaluates `call` against `scope`. `expression_text` is the ".$" value the call was parsed from,
// echoed verbatim in failure causes as AWS does; when empty, the call's canonical text
// (FormatIntrinsicCall) is used instead.
//
// Requirements on the scope: `input` must be set when the call has a "$" path; `random` must be
// set for States.UUID and for States.MathRandom without a seed (otherwise kFailedPrecondition
// without an ASL error name: a programmer error). A missing `context` or `variable`, or an
// unknown variable, makes such a path select nothing (the "could not be found" failure).
//
// Returns the value, or a status whose error_name() is kIntrinsicErrorName (code
// kInvalidArgument for bad arguments, kNotFound for paths that select nothing) and whose
// message() is described in the file comment.
StatusOr<boost::json::value> EvaluateIntrinsic(const IntrinsicCall& call,
                                               const EvaluationScope& scope,
                                               std::string_view expression_text = {});

// The call written back as intrinsic syntax: "States.Format('a{}', $.x, 1.5, true)". String
// literals are re-escaped (\' \{ \} \\), so ParseIntrinsic(FormatIntrinsicCall(c)) gives c again.
std::string FormatIntrinsicCall(const IntrinsicCall& call);

}  // namespace hpd::asl

#endif  // HPD_ASL_INTRINSIC_EVAL_H_
