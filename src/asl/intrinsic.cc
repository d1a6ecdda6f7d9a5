#include "asl/intrinsic.h"

#include <boost/json/value.hpp>
#include <string>
#include <utility>

#include "asl/expression_syntax.h"

namespace hpd::asl {

namespace json = boost::json;

namespace {

constexpr std::string_view kStatesPrefix = "States.";
constexpr int kUnlimited = -1;
// What error messages call the text: "invalid intrinsic function call '...': ...".
constexpr std::string_view kSubject = "intrinsic function call";

struct FunctionSpec {
  IntrinsicFunction function;
  std::string_view name;
  int min_args;
  int max_args;  // kUnlimited: no upper bound
};

constexpr FunctionSpec kFunctions[] = {
    {IntrinsicFunction::kFormat, "States.Format", 1, kUnlimited},
    {IntrinsicFunction::kStringToJson, "States.StringToJson", 1, 1},
    {IntrinsicFunction::kJsonToString, "States.JsonToString", 1, 1},
    {IntrinsicFunction::kArray, "States.Array", 0, kUnlimited},
    {IntrinsicFunction::kArrayPartition, "States.ArrayPartition", 2, 2},
    {IntrinsicFunction::kArrayContains, "States.ArrayContains", 2, 2},
    {IntrinsicFunction::kArrayRange, "States.ArrayRange", 3, 3},
    {IntrinsicFunction::kArrayGetItem, "States.ArrayGetItem", 2, 2},
    {IntrinsicFunction::kArrayLength, "States.ArrayLength", 1, 1},
    {IntrinsicFunction::kArrayUnique, "States.ArrayUnique", 1, 1},
    {IntrinsicFunction::kBase64Encode, "States.Base64Encode", 1, 1},
    {IntrinsicFunction::kBase64Decode, "States.Base64Decode", 1, 1},
    {IntrinsicFunction::kHash, "States.Hash", 2, 2},
    {IntrinsicFunction::kJsonMerge, "States.JsonMerge", 3, 3},
    {IntrinsicFunction::kMathRandom, "States.MathRandom", 2, 3},
    {IntrinsicFunction::kMathAdd, "States.MathAdd", 2, 2},
    {IntrinsicFunction::kStringSplit, "States.StringSplit", 2, 2},
    {IntrinsicFunction::kUuid, "States.UUID", 0, 0},
};

const FunctionSpec* FindFunction(std::string_view name) {
  for (const FunctionSpec& spec : kFunctions) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string KnownFunctionNames() {
  std::string names;
  for (const FunctionSpec& spec : kFunctions) {
    if (!names.empty()) names.append(", ");
    names.append(spec.name);
  }
  return names;
}

// "takes 3 arguments", "takes at least 1 argument", "takes 2 or 3 arguments", ...
std::string DescribeArity(const FunctionSpec& spec) {
  const auto arguments = [](int n) {
    return std::to_string(n) + (n == 1 ? " argument" : " arguments");
  };
  if (spec.max_args == 0) return "takes no arguments";
  if (spec.max_args == kUnlimited) {
    return spec.min_args == 0 ? "takes any number of arguments"
                              : "takes at least " + arguments(spec.min_args);
  }
  if (spec.min_args == spec.max_args) return "takes " + arguments(spec.min_args);
  if (spec.max_args == spec.min_args + 1) {
    return "takes " + std::to_string(spec.min_args) + " or " + arguments(spec.max_args);
  }
  return "takes " + std::to_string(spec.min_args) + " to " + arguments(spec.max_args);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsWordChar(char c) { return IsAsciiLetter(c) || IsDigit(c) || c == '_'; }

std::string DescribeChar(char c) {
  if (c == '\'') return "\"'\"";
  if (static_cast<unsigned char>(c) < 0x20) return "a control character";
  return std::string("'") + c + "'";
}

std::string DescribeLiteral(const json::value& value) {
  if (value.is_string()) return "a string";
  if (value.is_bool()) return value.get_bool() ? "true" : "false";
  if (value.is_null()) return "null";
  return "a number";
}

class IntrinsicParser {
 public:
  explicit IntrinsicParser(std::string_view text) : text_(text) {}

  StatusOr<IntrinsicCall> Parse() {
    SkipSpaces();
    if (!LookingAt(kStatesPrefix)) {
      if (AtEnd())
        return Error(pos_, "the text is empty; expected a call such as States.Format(...)");
      return Error(pos_, "an intrinsic function call must start with 'States.' (case-sensitive)");
    }
    HPD_ASSIGN_OR_RETURN(IntrinsicCall call, ParseCall(1));
    SkipSpaces();
    if (!AtEnd()) {
      return Error(pos_, "unexpected " + DescribeChar(Peek()) + " after the call's closing ')'");
    }
    return call;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool LookingAt(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void SkipSpaces() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  Status Error(size_t at, std::string_view what) const {
    return syntax_internal::SyntaxError(kSubject, text_, at, what);
  }

  // At "States.".
  StatusOr<IntrinsicCall> ParseCall(int depth) {
    const size_t start = pos_;
    pos_ += kStatesPrefix.size();
    while (!AtEnd() && IsWordChar(Peek())) ++pos_;
    const std::string_view name = text_.substr(start, pos_ - start);
    if (name.size() == kStatesPrefix.size()) {
      return Error(pos_, "expected a function name after 'States.'");
    }
    const FunctionSpec* spec = FindFunction(name);
    if (spec == nullptr) {
      return Error(start, "unknown intrinsic function '" + std::string(name) +
                              "'; the intrinsic functions are " + KnownFunctionNames());
    }
    if (depth > kMaxIntrinsicNesting) {
      return Error(start, "intrinsic functions may be nested at most " +
                              std::to_string(kMaxIntrinsicNesting) + " deep, but " +
                              std::string(name) + " is at depth " + std::to_string(depth));
    }
    IntrinsicCall call;
    call.function = spec->function;
    call.name = spec->name;
    SkipSpaces();
    if (Peek() != '(') {
      if (AtEnd()) return Error(pos_, "expected '(' after " + std::string(name));
      return Error(
          pos_, "unexpected " + DescribeChar(Peek()) + "; expected '(' after " + std::string(name));
    }
    const size_t open = pos_;
    ++pos_;
    SkipSpaces();
    std::string_view first_raw_string;
    bool first_is_string = false;
    if (Peek() == ')') {
      ++pos_;
    } else {
      while (true) {
        std::string_view raw_string;
        bool is_string = false;
        HPD_ASSIGN_OR_RETURN(IntrinsicArg arg, ParseArg(depth, &raw_string, &is_string));
        if (call.args.empty()) {
          first_raw_string = raw_string;
          first_is_string = is_string;
        }
        call.args.push_back(std::move(arg));
        SkipSpaces();
        if (AtEnd()) {
          return Error(open,
                       "unterminated argument list of " + std::string(name) + " (missing ')')");
        }
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        if (Peek() == ')') {
          ++pos_;
          break;
        }
        return Error(pos_, "unexpected " + DescribeChar(Peek()) + " after an argument of " +
                               std::string(name) + "; expected ',' or ')'");
      }
    }
    const auto count = static_cast<int>(call.args.size());
    if (count < spec->min_args || (spec->max_args != kUnlimited && count > spec->max_args)) {
      return Error(
          start, std::string(name) + " " + DescribeArity(*spec) + ", got " + std::to_string(count));
    }
    if (spec->function == IntrinsicFunction::kFormat) {
      const IntrinsicArg& first = call.args.front();
      if (first.is_call()) {
        return Error(start,
                     "the first argument of States.Format must be a string literal or a "
                     "path, got a call of " +
                         std::string(first.call().name));
      }
      if (first.is_literal() && !first_is_string) {
        return Error(start,
                     "the first argument of States.Format must be a string literal or a "
                     "path, got " +
                         DescribeLiteral(first.literal()));
      }
      if (first_is_string) call.format_template = ParseFormatTemplate(first_raw_string);
    }
    return call;
  }

  // `raw_string`/`is_string` report a string literal's text as written (escapes intact).
  StatusOr<IntrinsicArg> ParseArg(int depth, std::string_view* raw_string, bool* is_string) {
    SkipSpaces();
    if (AtEnd()) return Error(pos_, "expected an argument");
    const char c = Peek();
    if (c == '\'') {
      HPD_ASSIGN_OR_RETURN(std::string value, ParseString(raw_string));
      *is_string = true;
      json::value literal;
      literal.emplace_string().assign(value.data(), value.size());
      return Literal(std::move(literal));
    }
    if (c == '$') {
      HPD_ASSIGN_OR_RETURN(JsonPath path, path_internal::ParseEmbeddedJsonPath(text_, &pos_));
      return IntrinsicArg{std::move(path)};
    }
    if (IsDigit(c) || c == '-') return ParseNumber();
    if (IsAsciiLetter(c)) {
      const size_t start = pos_;
      size_t end = pos_;
      while (end < text_.size() && IsWordChar(text_[end])) ++end;
      const std::string_view word = text_.substr(start, end - start);
      if (LookingAt(kStatesPrefix)) {
        HPD_ASSIGN_OR_RETURN(IntrinsicCall nested, ParseCall(depth + 1));
        return IntrinsicArg{std::make_shared<const IntrinsicCall>(std::move(nested))};
      }
      if (word == "true" || word == "false") {
        pos_ = end;
        return Literal(json::value(word == "true"));
      }
      if (word == "null") {
        pos_ = end;
        return Literal(json::value(nullptr));
      }
      return Error(start, "unexpected '" + std::string(word) + "'; " + kArgumentKinds);
    }
    if (c == ',' || c == ')')
      return Error(pos_, std::string("missing argument; ") + kArgumentKinds);
    if (c == '"') {
      return Error(pos_,
                   "string literals in intrinsic functions are written in single quotes "
                   "('...')");
    }
    return Error(pos_, "unexpected " + DescribeChar(c) + "; " + kArgumentKinds);
  }

  static IntrinsicArg Literal(json::value value) {
    return IntrinsicArg{std::make_shared<const json::value>(std::move(value))};
  }

  // At "'". Applies the reserved escapes \' \{ \} \\; keeps any other backslash as written.
  StatusOr<std::string> ParseString(std::string_view* raw) {
    const size_t quote_at = pos_;
    ++pos_;
    const size_t begin = pos_;
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != '\'') {
      const char c = text_[pos_];
      if (c == '\\' && pos_ + 1 < text_.size()) {
        const char escaped = text_[pos_ + 1];
        if (escaped == '\'' || escaped == '{' || escaped == '}' || escaped == '\\') {
          value.push_back(escaped);
        } else {
          value.push_back(c);
          value.push_back(escaped);
        }
        pos_ += 2;
        continue;
      }
      value.push_back(c);
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      return Error(quote_at,
                   "unterminated string literal (missing closing \"'\"; write \\' for a "
                   "quote inside the string)");
    }
    *raw = text_.substr(begin, pos_ - begin);
    ++pos_;
    return value;
  }

  // At a digit or '-'.
  StatusOr<IntrinsicArg> ParseNumber() {
    HPD_ASSIGN_OR_RETURN(
        syntax_internal::NumberLiteral number,
        syntax_internal::ReadNumberLiteral(kSubject, text_, pos_,
                                           {.reject_leading_zeros = true, .allow_uint64 = true}));
    pos_ = number.end;
    return Literal(std::move(number.value));
  }

  static constexpr const char* kArgumentKinds =
      "an argument is a string literal '...', a number, true, false, null, a path starting with "
      "'$' or a States.* call";

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::string_view IntrinsicFunctionName(IntrinsicFunction function) {
  for (const FunctionSpec& spec : kFunctions) {
    if (spec.function == function) return spec.name;
  }
  return "States.?";
}

FormatTemplate ParseFormatTemplate(std::string_view escaped_text) {
  FormatTemplate result;
  result.pieces.emplace_back();
  for (size_t i = 0; i < escaped_text.size();) {
    const char c = escaped_text[i];
    const char next = i + 1 < escaped_text.size() ? escaped_text[i + 1] : '\0';
    if (c == '\\' && (next == '\'' || next == '{' || next == '}' || next == '\\')) {
      result.pieces.back().push_back(next);
      i += 2;
    } else if (c == '{' && next == '}') {
      result.pieces.emplace_back();
      i += 2;
    } else {
      result.pieces.back().push_back(c);
      ++i;
    }
  }
  return result;
}

bool LooksLikeIntrinsic(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && IsSpace(text[i])) ++i;
  return text.substr(i).starts_with(kStatesPrefix);
}

StatusOr<IntrinsicCall> ParseIntrinsic(std::string_view text) {
  return IntrinsicParser(text).Parse();
}

}  // namespace hpd::asl
