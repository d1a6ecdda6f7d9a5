// Intrinsic function calls ("States.Format('Hello, {}', $.name)"), parsed once into a tree the
// interpreter evaluates.
//
// Grammar (as Step Functions accepts it):
//   call     := "States." Name "(" [ arg { "," arg } ] ")"
//   arg      := string | number | "true" | "false" | "null" | path | call
//   string   := "'" ... "'"   with the reserved escapes \' \{ \} \\ ; any other backslash is kept
//                             with the character after it (so '\n' is backslash + n, while a real
//                             newline may appear in the literal as it is)
//   number   := -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
//   path     := "$..." | "$$..." | "$name..."  (see path.h), ending at ',', ')' or whitespace
// Whitespace may surround arguments, the parentheses and the whole call. Calls nest at most
// kMaxIntrinsicNesting deep (the outermost call is depth 1). Arity is checked per function.
//
// Errors: InvalidArgumentError saying what is wrong, what is allowed and the 1-based character.
// Thread-safety: the parsed tree is immutable and may be shared across threads.
#ifndef HPD_ASL_INTRINSIC_H_
#define HPD_ASL_INTRINSIC_H_

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "asl/path.h"
#include "common/status.h"

namespace hpd::asl {

inline constexpr int kMaxIntrinsicNesting = 10;

enum class IntrinsicFunction {
  kFormat,
  kStringToJson,
  kJsonToString,
  kArray,
  kArrayPartition,
  kArrayContains,
  kArrayRange,
  kArrayGetItem,
  kArrayLength,
  kArrayUnique,
  kBase64Encode,
  kBase64Decode,
  kHash,
  kJsonMerge,
  kMathRandom,
  kMathAdd,
  kStringSplit,
  kUuid,
};

// "States.Format", "States.UUID", ...
std::string_view IntrinsicFunctionName(IntrinsicFunction function);

struct IntrinsicCall;

// One argument: a literal JSON value (string, number, true, false, null), a path, or a nested
// call. Immutable once parsed; copies share the literal and the nested call.
struct IntrinsicArg {
  using Literal = std::shared_ptr<const boost::json::value>;  // never null
  using Call = std::shared_ptr<const IntrinsicCall>;          // never null

  std::variant<Literal, JsonPath, Call> value;

  bool is_literal() const { return value.index() == 0; }
  bool is_path() const { return value.index() == 1; }
  bool is_call() const { return value.index() == 2; }
  // Preconditions: the matching is_*() is true.
  const boost::json::value& literal() const { return *std::get<Literal>(value); }
  const JsonPath& path() const { return std::get<JsonPath>(value); }
  const IntrinsicCall& call() const { return *std::get<Call>(value); }
};

// The literal pieces of a States.Format template around its "{}" placeholders:
// "a{}b{}" -> {"a", "b", ""}; there are pieces.size() - 1 placeholders.
struct FormatTemplate {
  std::vector<std::string> pieces;

  size_t placeholder_count() const { return pieces.size() - 1; }
};

// Splits a template written with the intrinsic escapes (\' \{ \} \\) into pieces: an escaped
// brace is a literal brace, "{}" is a placeholder, any other brace is literal. Never fails.
FormatTemplate ParseFormatTemplate(std::string_view escaped_text);

struct IntrinsicCall {
  IntrinsicFunction function = IntrinsicFunction::kUuid;
  std::string_view name;  // IntrinsicFunctionName(function); static storage
  std::vector<IntrinsicArg> args;
  // States.Format whose first argument is a string literal: that template, split. (The literal in
  // args[0] holds the unescaped text, in which "\{}" and "{}" can no longer be told apart.)
  std::optional<FormatTemplate> format_template;
};

// True when `text`, after leading whitespace, starts with "States." (case-sensitive). A ".$"
// value that does not start with '$' is then meant as an intrinsic call.
bool LooksLikeIntrinsic(std::string_view text);

// Parses one call; the whole of `text` (bar surrounding whitespace) must be the call.
StatusOr<IntrinsicCall> ParseIntrinsic(std::string_view text);

}  // namespace hpd::asl

#endif  // HPD_ASL_INTRINSIC_H_
