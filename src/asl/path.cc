#include "asl/path.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <charconv>
#include <string>
#include <system_error>
#include <utility>

#include "asl/expression_syntax.h"

namespace hpd::asl {

namespace json = boost::json;

namespace {

enum class Mode {
  kTopLevel,  // the whole text is the path
  kEmbedded,  // an argument of an intrinsic function: ends at ',', ')' or whitespace
  kFilter,    // an '@' operand inside a filter: ends at an operator, ')' or whitespace
};

// Nesting of filters inside filter paths and of parentheses inside filters; bounds recursion.
constexpr int kMaxFilterDepth = 32;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentifierStart(char c) {
  // Bytes of multi-byte UTF-8 sequences count as letters: variable names may be Unicode.
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
}
bool IsIdentifierChar(char c) { return IsIdentifierStart(c) || IsDigit(c); }

// Characters that end a field name written after '.'.
bool EndsDotName(char c, Mode mode) {
  if (c == '.' || c == '[' || c == '(' || IsSpace(c)) return true;
  switch (mode) {
    case Mode::kTopLevel:
      return false;
    case Mode::kEmbedded:
      return c == ',' || c == ')';
    case Mode::kFilter:
      return c == ')' || c == '<' || c == '>' || c == '=' || c == '!' || c == '~' || c == '&' ||
             c == '|';
  }
  return false;
}

std::string DescribeChar(char c) {
  if (c == '\'') return "\"'\"";
  if (static_cast<unsigned char>(c) < 0x20) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "control character 0x";
    out.push_back(kHex[(static_cast<unsigned char>(c) >> 4) & 0xf]);
    out.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
    return out;
  }
  return std::string("'") + c + "'";
}

// What the segments parsed so far make of the path: whether it is definite, whether it is a
// reference path and, if not, the first segment a reference path may not contain.
struct PathTraits {
  bool definite = true;
  bool reference = true;
  size_t first_non_reference_at = 0;
  std::string_view first_non_reference_what;

  void NotReference(size_t at, std::string_view what) {
    if (!reference) return;
    reference = false;
    first_non_reference_at = at;
    first_non_reference_what = what;
  }
};

}  // namespace

// One side of a filter comparison or the subject of an existence test.
struct FilterOperand {
  bool is_path = false;
  bool definite = true;               // is_path: the relative path selects at most one node
  std::vector<PathSegment> segments;  // is_path: relative to '@'
  json::value literal;                // !is_path
};

class FilterExpression {
 public:
  enum class Kind { kOr, kAnd, kNot, kExists, kCompare };
  enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

  Kind kind = Kind::kExists;
  std::vector<std::unique_ptr<FilterExpression>> children;  // kOr, kAnd (>= 2), kNot (1)
  CompareOp op = CompareOp::kEq;                            // kCompare
  FilterOperand lhs;                                        // kCompare, kExists
  FilterOperand rhs;                                        // kCompare
};

using CompareOp = FilterExpression::CompareOp;

// Recursive-descent parser over the bytes of `text_`; positions are byte offsets.
class PathParser {
 public:
  PathParser(std::string_view text, size_t pos, std::string_view subject)
      : text_(text), pos_(pos), subject_(subject) {}

  size_t pos() const { return pos_; }

  // Parses "$...", "$$..." or "$name..." starting at pos_.
  StatusOr<JsonPath> ParseRooted(Mode mode, PathTraits* traits);

  Status Error(size_t at, std::string_view what) const {
    return syntax_internal::SyntaxError(subject_, text_, at, what);
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool LookingAt(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void SkipSpaces() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  Status ParseSegments(Mode mode, int depth, std::vector<PathSegment>* segments,
                       PathTraits* traits);
  Status ParseDotName(Mode mode, std::vector<PathSegment>* segments, PathTraits* traits);
  Status ParseBracket(int depth, std::vector<PathSegment>* segments, PathTraits* traits);
  Status ParseQuotedNames(size_t open, std::vector<PathSegment>* segments, PathTraits* traits);
  Status ParseIndicesOrSlice(size_t open, std::vector<PathSegment>* segments, PathTraits* traits);
  Status ParseFilter(size_t open, int depth, std::vector<PathSegment>* segments,
                     PathTraits* traits);
  StatusOr<int64_t> ParseInteger();
  Status ExpectCloseBracket(size_t open, std::string_view expected);

  StatusOr<std::unique_ptr<FilterExpression>> ParseOr(int depth);
  StatusOr<std::unique_ptr<FilterExpression>> ParseAnd(int depth);
  StatusOr<std::unique_ptr<FilterExpression>> ParseUnary(int depth);
  StatusOr<FilterOperand> ParseOperand(int depth);
  // Reads a comparison operator at pos_; nullopt (pos_ unchanged) when there is none.
  StatusOr<std::optional<CompareOp>> ParseOperator();

  std::string_view text_;
  size_t pos_;
  std::string_view subject_;
};

StatusOr<JsonPath> PathParser::ParseRooted(Mode mode, PathTraits* traits) {
  const size_t start = pos_;
  if (text_.empty()) return Error(0, "the path is empty; a path starts with '$'");
  if (AtEnd() || Peek() != '$') {
    if (IsSpace(Peek())) return Error(pos_, "unexpected whitespace; a path starts with '$'");
    return Error(pos_,
                 "a path must start with '$' (or '$$' for the context object, '$name' "
                 "for a variable)");
  }
  JsonPath path;
  ++pos_;
  if (Peek() == '$') {
    path.root_ = JsonPath::Root::kContext;
    ++pos_;
  } else if (IsIdentifierStart(Peek())) {
    const size_t name_start = pos_;
    while (!AtEnd() && IsIdentifierChar(Peek())) ++pos_;
    path.root_ = JsonPath::Root::kVariable;
    path.variable_name_.assign(text_.substr(name_start, pos_ - name_start));
  }
  if (mode == Mode::kTopLevel && !AtEnd() && Peek() != '.' && Peek() != '[') {
    const char c = Peek();
    if (IsSpace(c)) return Error(pos_, "whitespace is not allowed in a path");
    switch (path.root_) {
      case JsonPath::Root::kInput:
        return Error(pos_, "unexpected " + DescribeChar(c) +
                               " after '$'; expected '.', '[', '$' (context object) or a "
                               "variable name (a letter or '_', then letters, digits or '_')");
      case JsonPath::Root::kContext:
        return Error(pos_, "unexpected " + DescribeChar(c) + " after '$$'; expected '.' or '['");
      case JsonPath::Root::kVariable:
        return Error(pos_, "unexpected " + DescribeChar(c) + " after variable name '$" +
                               path.variable_name_ +
                               "'; variable names contain only letters, digits and '_', and "
                               "are followed by '.', '[' or the end of the path");
    }
  }
  size_t segment_estimate = 0;
  for (size_t i = pos_; i < text_.size(); ++i) {
    if (text_[i] == '.' || text_[i] == '[') ++segment_estimate;
  }
  path.segments_.reserve(segment_estimate);
  HPD_RETURN_IF_ERROR(ParseSegments(mode, 0, &path.segments_, traits));
  path.text_.assign(text_.substr(start, pos_ - start));
  path.is_definite_ = traits->definite;
  path.is_reference_path_ = traits->reference;
  return path;
}

Status PathParser::ParseSegments(Mode mode, int depth, std::vector<PathSegment>* segments,
                                 PathTraits* traits) {
  while (!AtEnd()) {
    const char c = Peek();
    if (c == '.') {
      const size_t dot = pos_;
      if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '.') {
        pos_ += 2;
        if (AtEnd()) return Error(dot, "a path must not end with '..'");
        const char next = Peek();
        if (next == '.') return Error(pos_, "unexpected '.' after '..'");
        segments->emplace_back(RecursiveDescentSegment{});
        traits->definite = false;
        traits->NotReference(dot, "recursive descent '..'");
        if (next == '*') {
          segments->emplace_back(WildcardSegment{});
          ++pos_;
        } else if (next == '[') {
          HPD_RETURN_IF_ERROR(ParseBracket(depth, segments, traits));
        } else if (EndsDotName(next, mode)) {
          return Error(pos_, "expected a field name, '*' or '[' after '..'");
        } else {
          HPD_RETURN_IF_ERROR(ParseDotName(mode, segments, traits));
        }
      } else {
        ++pos_;
        if (AtEnd()) return Error(dot, "a path must not end with '.'");
        const char next = Peek();
        if (next == '*') {
          segments->emplace_back(WildcardSegment{});
          traits->definite = false;
          traits->NotReference(pos_, "wildcard '*'");
          ++pos_;
        } else if (next == '[') {
          // "$.abc.['def ghi']" appears in the Step Functions documentation; Jayway accepts it.
          HPD_RETURN_IF_ERROR(ParseBracket(depth, segments, traits));
        } else if (EndsDotName(next, mode)) {
          if (IsSpace(next)) {
            return Error(pos_,
                         "whitespace after '.'; use bracket notation such as ['a b'] for "
                         "names with spaces");
          }
          return Error(
              pos_, "expected a field name, '*' or '[' after '.' but found " + DescribeChar(next));
        } else {
          HPD_RETURN_IF_ERROR(ParseDotName(mode, segments, traits));
        }
      }
    } else if (c == '[') {
      HPD_RETURN_IF_ERROR(ParseBracket(depth, segments, traits));
    } else if (mode == Mode::kTopLevel) {
      if (IsSpace(c)) {
        return Error(pos_,
                     "whitespace is not allowed in a path; use bracket notation such as "
                     "['a b'] for names with spaces");
      }
      return Error(pos_,
                   "unexpected " + DescribeChar(c) + "; expected '.', '[' or the end of the path");
    } else {
      break;  // the enclosing intrinsic call or filter continues here
    }
  }
  return Status::Ok();
}

Status PathParser::ParseDotName(Mode mode, std::vector<PathSegment>* segments, PathTraits* traits) {
  const size_t start = pos_;
  while (!AtEnd() && !EndsDotName(Peek(), mode)) ++pos_;
  std::string name(text_.substr(start, pos_ - start));
  if (Peek() != '(') {
    segments->emplace_back(FieldSegment{std::move(name)});
    return Status::Ok();
  }
  // A Jayway function call such as length(): skip to the matching ')' (quotes respected).
  const size_t open = pos_;
  int nesting = 0;
  char quote = '\0';
  for (; pos_ < text_.size(); ++pos_) {
    const char c = text_[pos_];
    if (quote != '\0') {
      if (c == '\\') {
        ++pos_;
      } else if (c == quote) {
        quote = '\0';
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
    } else if (c == '(') {
      ++nesting;
    } else if (c == ')' && --nesting == 0) {
      break;
    }
  }
  if (pos_ >= text_.size()) {
    return Error(open, "unterminated '(' of function call '" + name + "()'");
  }
  ++pos_;
  std::string arguments(text_.substr(open + 1, pos_ - open - 2));
  segments->emplace_back(FunctionSegment{std::move(name), std::move(arguments)});
  traits->NotReference(start, "function call");
  return Status::Ok();
}

Status PathParser::ExpectCloseBracket(size_t open, std::string_view expected) {
  SkipSpaces();
  if (AtEnd()) return Error(open, "unterminated '['");
  if (Peek() != ']') {
    return Error(pos_,
                 "unexpected " + DescribeChar(Peek()) + "; expected " + std::string(expected));
  }
  ++pos_;
  return Status::Ok();
}

Status PathParser::ParseBracket(int depth, std::vector<PathSegment>* segments, PathTraits* traits) {
  const size_t open = pos_;
  ++pos_;
  SkipSpaces();
  if (AtEnd()) return Error(open, "unterminated '['");
  const char c = Peek();
  if (c == '\'' || c == '"') return ParseQuotedNames(open, segments, traits);
  if (c == '*') {
    ++pos_;
    HPD_RETURN_IF_ERROR(ExpectCloseBracket(open, "']' after '[*'"));
    segments->emplace_back(WildcardSegment{});
    traits->definite = false;
    traits->NotReference(open, "wildcard '[*]'");
    return Status::Ok();
  }
  if (c == '?') return ParseFilter(open, depth, segments, traits);
  if (IsDigit(c) || c == '-' || c == ':') return ParseIndicesOrSlice(open, segments, traits);
  if (c == ']') {
    return Error(pos_,
                 "empty brackets '[]'; expected a quoted name, an index, a slice, '*' or "
                 "a filter '?(...)'");
  }
  return Error(pos_, "unexpected " + DescribeChar(c) +
                         " after '['; expected a quoted name such as ['name'], an index, a "
                         "slice, '*' or a filter '?(...)'");
}

Status PathParser::ParseQuotedNames(size_t open, std::vector<PathSegment>* segments,
                                    PathTraits* traits) {
  std::vector<std::string> names;
  while (true) {
    const char quote = Peek();
    if (quote != '\'' && quote != '"') {
      return Error(pos_, "expected a quoted name after ','");
    }
    const size_t quote_at = pos_;
    ++pos_;
    const size_t begin = pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      // A backslash keeps the next character from closing the name; both stay in the name.
      if (text_[pos_] == '\\') ++pos_;
      ++pos_;
    }
    if (pos_ >= text_.size()) {
      return Error(quote_at,
                   std::string("unterminated quoted name (missing closing ") + quote + ")");
    }
    names.emplace_back(text_.substr(begin, pos_ - begin));
    ++pos_;
    SkipSpaces();
    if (AtEnd()) return Error(open, "unterminated '['");
    if (Peek() == ',') {
      ++pos_;
      SkipSpaces();
      if (AtEnd()) return Error(open, "unterminated '['");
      continue;
    }
    if (Peek() == ']') {
      ++pos_;
      break;
    }
    return Error(
        pos_, "unexpected " + DescribeChar(Peek()) + " after a quoted name; expected ',' or ']'");
  }
  if (names.size() == 1) {
    segments->emplace_back(FieldSegment{std::move(names.front())});
  } else {
    segments->emplace_back(FieldUnionSegment{std::move(names)});
    traits->definite = false;
    traits->NotReference(open, "union of names");
  }
  return Status::Ok();
}

StatusOr<int64_t> PathParser::ParseInteger() {
  const size_t start = pos_;
  if (Peek() == '-') ++pos_;
  const size_t digits = pos_;
  while (!AtEnd() && IsDigit(Peek())) ++pos_;
  if (pos_ == digits) {
    if (AtEnd()) return Error(pos_, "unterminated '['");
    return Error(pos_, "expected a digit but found " + DescribeChar(Peek()));
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + pos_, value);
  if (ec != std::errc() || end != text_.data() + pos_) {
    return Error(start,
                 "index " + std::string(text_.substr(start, pos_ - start)) + " is out of range");
  }
  return value;
}

Status PathParser::ParseIndicesOrSlice(size_t open, std::vector<PathSegment>* segments,
                                       PathTraits* traits) {
  std::optional<int64_t> first;
  if (Peek() != ':') {
    HPD_ASSIGN_OR_RETURN(first, ParseInteger());
    SkipSpaces();
  }
  if (Peek() == ':') {
    SliceSegment slice;
    slice.start = first;
    ++pos_;
    SkipSpaces();
    if (IsDigit(Peek()) || Peek() == '-') {
      HPD_ASSIGN_OR_RETURN(slice.end, ParseInteger());
      SkipSpaces();
    }
    if (Peek() == ':') {
      ++pos_;
      SkipSpaces();
      if (IsDigit(Peek()) || Peek() == '-') {
        const size_t step_at = pos_;
        HPD_ASSIGN_OR_RETURN(slice.step, ParseInteger());
        if (slice.step == 0) return Error(step_at, "slice step must not be 0");
      }
    }
    HPD_RETURN_IF_ERROR(ExpectCloseBracket(open, "']' to end the slice [start:end:step]"));
    segments->emplace_back(std::move(slice));
    traits->definite = false;
    traits->NotReference(open, "slice");
    return Status::Ok();
  }
  if (Peek() == ',') {
    std::vector<int64_t> indices{*first};
    while (Peek() == ',') {
      ++pos_;
      SkipSpaces();
      HPD_ASSIGN_OR_RETURN(int64_t index, ParseInteger());
      indices.push_back(index);
      SkipSpaces();
    }
    HPD_RETURN_IF_ERROR(ExpectCloseBracket(open, "',' or ']' in the index list"));
    segments->emplace_back(IndexUnionSegment{std::move(indices)});
    traits->definite = false;
    traits->NotReference(open, "union of indices");
    return Status::Ok();
  }
  HPD_RETURN_IF_ERROR(ExpectCloseBracket(open, "']', ',' or ':' after the index"));
  if (*first < 0) traits->NotReference(open, "negative index");
  segments->emplace_back(IndexSegment{*first});
  return Status::Ok();
}

Status PathParser::ParseFilter(size_t open, int depth, std::vector<PathSegment>* segments,
                               PathTraits* traits) {
  const size_t question = pos_;
  if (depth >= kMaxFilterDepth) return Error(question, "filters are nested too deeply");
  ++pos_;
  SkipSpaces();
  if (Peek() != '(') {
    if (AtEnd()) return Error(open, "unterminated '['");
    return Error(pos_, "expected '(' after '?'; filters are written [?(...)]");
  }
  ++pos_;
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> expression, ParseOr(depth + 1));
  SkipSpaces();
  if (AtEnd()) return Error(open, "unterminated filter '[?('");
  if (Peek() != ')') {
    return Error(pos_, "unexpected " + DescribeChar(Peek()) +
                           " in filter; expected '&&', '||', a comparison operator (==, !=, <, "
                           "<=, >, >=) or ')'");
  }
  ++pos_;
  const size_t close = pos_;
  HPD_RETURN_IF_ERROR(ExpectCloseBracket(open, "']' after the filter's ')'"));
  segments->emplace_back(
      FilterSegment{std::shared_ptr<const FilterExpression>(std::move(expression)),
                    std::string(text_.substr(question, close - question))});
  traits->definite = false;
  traits->NotReference(open, "filter expression");
  return Status::Ok();
}

StatusOr<std::unique_ptr<FilterExpression>> PathParser::ParseOr(int depth) {
  if (depth >= kMaxFilterDepth) return Error(pos_, "filter expression is nested too deeply");
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> left, ParseAnd(depth));
  SkipSpaces();
  if (!LookingAt("||")) return left;
  auto node = std::make_unique<FilterExpression>();
  node->kind = FilterExpression::Kind::kOr;
  node->children.push_back(std::move(left));
  while (LookingAt("||")) {
    pos_ += 2;
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> right, ParseAnd(depth));
    node->children.push_back(std::move(right));
    SkipSpaces();
  }
  return node;
}

StatusOr<std::unique_ptr<FilterExpression>> PathParser::ParseAnd(int depth) {
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> left, ParseUnary(depth));
  SkipSpaces();
  if (!LookingAt("&&")) return left;
  auto node = std::make_unique<FilterExpression>();
  node->kind = FilterExpression::Kind::kAnd;
  node->children.push_back(std::move(left));
  while (LookingAt("&&")) {
    pos_ += 2;
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> right, ParseUnary(depth));
    node->children.push_back(std::move(right));
    SkipSpaces();
  }
  return node;
}

StatusOr<std::unique_ptr<FilterExpression>> PathParser::ParseUnary(int depth) {
  if (depth >= kMaxFilterDepth) return Error(pos_, "filter expression is nested too deeply");
  SkipSpaces();
  if (AtEnd()) return Error(pos_, "unterminated filter expression");
  if (Peek() == '!' && !LookingAt("!=")) {
    ++pos_;
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> operand, ParseUnary(depth + 1));
    auto node = std::make_unique<FilterExpression>();
    node->kind = FilterExpression::Kind::kNot;
    node->children.push_back(std::move(operand));
    return node;
  }
  if (Peek() == '(') {
    const size_t open = pos_;
    ++pos_;
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<FilterExpression> inner, ParseOr(depth + 1));
    SkipSpaces();
    if (AtEnd()) return Error(open, "unterminated '(' in filter");
    if (Peek() != ')') {
      return Error(pos_, "unexpected " + DescribeChar(Peek()) +
                             " in filter; expected '&&', '||', a comparison operator or ')'");
    }
    ++pos_;
    return inner;
  }
  const size_t lhs_at = pos_;
  HPD_ASSIGN_OR_RETURN(FilterOperand lhs, ParseOperand(depth));
  SkipSpaces();
  HPD_ASSIGN_OR_RETURN(std::optional<CompareOp> op, ParseOperator());
  auto node = std::make_unique<FilterExpression>();
  if (!op.has_value()) {
    if (!lhs.is_path) {
      return Error(lhs_at, "a literal alone is not a condition; compare it with an '@' path");
    }
    node->kind = FilterExpression::Kind::kExists;
    node->lhs = std::move(lhs);
    return node;
  }
  SkipSpaces();
  HPD_ASSIGN_OR_RETURN(FilterOperand rhs, ParseOperand(depth));
  node->kind = FilterExpression::Kind::kCompare;
  node->op = *op;
  node->lhs = std::move(lhs);
  node->rhs = std::move(rhs);
  return node;
}

StatusOr<std::optional<CompareOp>> PathParser::ParseOperator() {
  const size_t at = pos_;
  const auto take = [this](size_t length, CompareOp op) -> std::optional<CompareOp> {
    pos_ += length;
    return op;
  };
  if (LookingAt("===") || LookingAt("!==")) {
    return Error(at, "operator '" + std::string(text_.substr(at, 3)) +
                         "' is not supported; use ==, !=, <, <=, > or >=");
  }
  if (LookingAt("=~")) {
    return Error(at, "regular expression filters (=~) are not supported by Step Functions");
  }
  if (LookingAt("==")) return take(2, CompareOp::kEq);
  if (LookingAt("!=")) return take(2, CompareOp::kNe);
  if (LookingAt("<=")) return take(2, CompareOp::kLe);
  if (LookingAt(">=")) return take(2, CompareOp::kGe);
  if (LookingAt("<")) return take(1, CompareOp::kLt);
  if (LookingAt(">")) return take(1, CompareOp::kGt);
  if (LookingAt("=")) return Error(at, "use '==' to compare, not '='");
  if (IsIdentifierStart(Peek())) {
    size_t end = pos_;
    while (end < text_.size() && IsIdentifierChar(text_[end])) ++end;
    const std::string_view word = text_.substr(pos_, end - pos_);
    static constexpr std::string_view kWordOperators[] = {"in",     "nin",  "subsetof", "anyof",
                                                          "noneof", "size", "empty",    "contains"};
    if (std::find(std::begin(kWordOperators), std::end(kWordOperators), word) !=
        std::end(kWordOperators)) {
      return Error(at, "operator '" + std::string(word) +
                           "' is not supported by Step Functions; use ==, !=, <, <=, > or >=");
    }
  }
  return std::optional<CompareOp>();
}

StatusOr<FilterOperand> PathParser::ParseOperand(int depth) {
  SkipSpaces();
  if (AtEnd()) return Error(pos_, "unterminated filter expression");
  FilterOperand operand;
  const char c = Peek();
  if (c == '@') {
    ++pos_;
    PathTraits traits;
    HPD_RETURN_IF_ERROR(ParseSegments(Mode::kFilter, depth + 1, &operand.segments, &traits));
    operand.is_path = true;
    operand.definite = traits.definite;
    return operand;
  }
  if (c == '$') {
    return Error(pos_,
                 "a filter may only refer to the current item '@'; Step Functions does not "
                 "support referring to '$' in a filter");
  }
  if (c == '\'' || c == '"') {
    const size_t quote_at = pos_;
    ++pos_;
    std::string value;
    while (!AtEnd() && Peek() != c) {
      char ch = Peek();
      if (ch == '\\' && pos_ + 1 < text_.size()) {
        const char escaped = text_[pos_ + 1];
        if (escaped == '\\' || escaped == '\'' || escaped == '"') {
          ch = escaped;
          ++pos_;
        }
      }
      value.push_back(ch);
      ++pos_;
    }
    if (AtEnd()) return Error(quote_at, "unterminated string in filter");
    ++pos_;
    operand.literal.emplace_string().assign(value.data(), value.size());
    return operand;
  }
  if (IsDigit(c) || c == '-') {
    HPD_ASSIGN_OR_RETURN(syntax_internal::NumberLiteral number,
                         syntax_internal::ReadNumberLiteral(subject_, text_, pos_, {}));
    pos_ = number.end;
    operand.literal = std::move(number.value);
    return operand;
  }
  if (c == '/') {
    return Error(pos_, "regular expressions are not supported in Step Functions filters");
  }
  if (IsIdentifierStart(c)) {
    size_t end = pos_;
    while (end < text_.size() && IsIdentifierChar(text_[end])) ++end;
    const std::string_view word = text_.substr(pos_, end - pos_);
    if (word == "true" || word == "false") {
      operand.literal = (word == "true");
      pos_ = end;
      return operand;
    }
    if (word == "null") {
      operand.literal = nullptr;
      pos_ = end;
      return operand;
    }
  }
  return Error(pos_, "unexpected " + DescribeChar(c) +
                         " in filter; expected '@', a number, a quoted string, true, false or "
                         "null");
}

JsonPath::JsonPath() : text_("$") {}

namespace {

using Nodes = std::vector<const json::value*>;

// Position `index` (negative: from the end) of an array of `size`, or nullopt when outside.
std::optional<size_t> ResolveIndex(int64_t index, size_t size) {
  if (index < 0) {
    const uint64_t back = static_cast<uint64_t>(-(index + 1)) + 1;
    if (back > size) return std::nullopt;
    return size - static_cast<size_t>(back);
  }
  if (static_cast<uint64_t>(index) >= size) return std::nullopt;
  return static_cast<size_t>(index);
}

void AppendSlice(const SliceSegment& slice, const json::array& array, Nodes* out) {
  const auto size = static_cast<int64_t>(array.size());
  const auto clamp = [size](int64_t bound, int64_t low, int64_t high) {
    if (bound < 0) bound = bound < -size ? -1 : bound + size;
    return std::clamp(bound, low, high);
  };
  if (slice.step > 0) {
    const int64_t start = slice.start ? clamp(*slice.start, 0, size) : 0;
    const int64_t end = slice.end ? clamp(*slice.end, 0, size) : size;
    for (int64_t i = start; i < end; i += slice.step) {
      out->push_back(&array[static_cast<size_t>(i)]);
      if (slice.step >= end - i) break;
    }
  } else {
    // Negative bounds beyond the start clamp to -1, "before the first element".
    const int64_t start = slice.start ? clamp(*slice.start, -1, size - 1) : size - 1;
    const int64_t end = slice.end ? clamp(*slice.end, -1, size - 1) : -1;
    const uint64_t stride = static_cast<uint64_t>(-(slice.step + 1)) + 1;  // |step|, no overflow
    for (int64_t i = start; i > end;) {
      out->push_back(&array[static_cast<size_t>(i)]);
      if (stride >= static_cast<uint64_t>(i - end)) break;
      i -= static_cast<int64_t>(stride);
    }
  }
}

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

// Three-way comparison of two JSON numbers.
int CompareNumbers(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) {
    const double x = a.to_number<double>();
    const double y = b.to_number<double>();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_int64() && b.is_int64()) {
    const int64_t x = a.get_int64();
    const int64_t y = b.get_int64();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  // At least one is a uint64 (so > INT64_MAX); a negative int64 is smaller than any uint64.
  if (a.is_int64() && a.get_int64() < 0) return -1;
  if (b.is_int64() && b.get_int64() < 0) return 1;
  const uint64_t x = a.is_uint64() ? a.get_uint64() : static_cast<uint64_t>(a.get_int64());
  const uint64_t y = b.is_uint64() ? b.get_uint64() : static_cast<uint64_t>(b.get_int64());
  return x < y ? -1 : (x > y ? 1 : 0);
}

bool JsonEquals(const json::value& a, const json::value& b) {
  if (IsNumber(a) && IsNumber(b)) return CompareNumbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  return a == b;
}

// `a` or `b` is nullptr when its path matched nothing: equal to nothing, ordered with nothing.
bool Compare(CompareOp op, const json::value* a, const json::value* b) {
  if (op == CompareOp::kNe) return !Compare(CompareOp::kEq, a, b);
  if (a == nullptr || b == nullptr) return false;
  if (op == CompareOp::kEq) return JsonEquals(*a, *b);
  int order = 0;
  if (IsNumber(*a) && IsNumber(*b)) {
    order = CompareNumbers(*a, *b);
  } else if (a->is_string() && b->is_string()) {
    const int c = a->get_string().subview().compare(b->get_string().subview());
    order = c < 0 ? -1 : (c > 0 ? 1 : 0);
  } else {
    return false;  // different types, or types without an order
  }
  switch (op) {
    case CompareOp::kLt:
      return order < 0;
    case CompareOp::kLe:
      return order <= 0;
    case CompareOp::kGt:
      return order > 0;
    case CompareOp::kGe:
      return order >= 0;
    case CompareOp::kEq:
    case CompareOp::kNe:
      break;
  }
  return false;
}

const json::value* FindDefinite(const std::vector<PathSegment>& segments, const json::value& start);
void SelectAll(const std::vector<PathSegment>& segments, const json::value& start, Nodes* out);
bool Matches(const FilterExpression& expression, const json::value& item);

void ApplySegment(const PathSegment& segment, const json::value& node, Nodes* out) {
  if (const auto* field = std::get_if<FieldSegment>(&segment)) {
    if (const json::object* object = node.if_object()) {
      if (const json::value* member = object->if_contains(field->name)) out->push_back(member);
    }
  } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
    if (const json::array* array = node.if_array()) {
      if (auto i = ResolveIndex(index->index, array->size())) out->push_back(&(*array)[*i]);
    }
  } else if (std::holds_alternative<WildcardSegment>(segment)) {
    if (const json::object* object = node.if_object()) {
      for (const auto& member : *object) out->push_back(&member.value());
    } else if (const json::array* array = node.if_array()) {
      for (const json::value& element : *array) out->push_back(&element);
    }
  } else if (const auto* slice = std::get_if<SliceSegment>(&segment)) {
    if (const json::array* array = node.if_array()) AppendSlice(*slice, *array, out);
  } else if (const auto* names = std::get_if<FieldUnionSegment>(&segment)) {
    if (const json::object* object = node.if_object()) {
      for (const std::string& name : names->names) {
        if (const json::value* member = object->if_contains(name)) out->push_back(member);
      }
    }
  } else if (const auto* indices = std::get_if<IndexUnionSegment>(&segment)) {
    if (const json::array* array = node.if_array()) {
      for (const int64_t i : indices->indices) {
        if (auto resolved = ResolveIndex(i, array->size())) out->push_back(&(*array)[*resolved]);
      }
    }
  } else if (const auto* filter = std::get_if<FilterSegment>(&segment)) {
    if (node.is_object()) {
      if (Matches(*filter->expression, node)) out->push_back(&node);
    } else if (const json::array* array = node.if_array()) {
      for (const json::value& element : *array) {
        if (element.is_object() && Matches(*filter->expression, element)) {
          out->push_back(&element);
        }
      }
    }
  }
  // RecursiveDescentSegment is handled by the caller; FunctionSegment never matches.
}

// Applies `follow` to `node` and each of its descendants, depth-first pre-order.
void ApplyRecursively(const PathSegment& follow, const json::value& node, Nodes* out) {
  const auto* filter = std::get_if<FilterSegment>(&follow);
  Nodes stack{&node};
  while (!stack.empty()) {
    const json::value* current = stack.back();
    stack.pop_back();
    if (filter != nullptr) {
      // As Jayway's scan: every object is tested once, as itself (not again as an element).
      if (current->is_object() && Matches(*filter->expression, *current)) out->push_back(current);
    } else {
      ApplySegment(follow, *current, out);
    }
    if (const json::object* object = current->if_object()) {
      for (auto it = object->rbegin(); it != object->rend(); ++it) {
        const json::value& child = it->value();
        if (child.is_object() || child.is_array()) stack.push_back(&child);
      }
    } else if (const json::array* array = current->if_array()) {
      for (auto it = array->rbegin(); it != array->rend(); ++it) {
        if (it->is_object() || it->is_array()) stack.push_back(&*it);
      }
    }
  }
}

const json::value* FindDefinite(const std::vector<PathSegment>& segments,
                                const json::value& start) {
  const json::value* current = &start;
  for (const PathSegment& segment : segments) {
    if (const auto* field = std::get_if<FieldSegment>(&segment)) {
      const json::object* object = current->if_object();
      if (object == nullptr) return nullptr;
      current = object->if_contains(field->name);
      if (current == nullptr) return nullptr;
    } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
      const json::array* array = current->if_array();
      if (array == nullptr) return nullptr;
      const auto i = ResolveIndex(index->index, array->size());
      if (!i) return nullptr;
      current = &(*array)[*i];
    } else {
      return nullptr;  // FunctionSegment: never matches
    }
  }
  return current;
}

void SelectAll(const std::vector<PathSegment>& segments, const json::value& start, Nodes* out) {
  Nodes current{&start};
  Nodes next;
  for (size_t i = 0; i < segments.size() && !current.empty(); ++i) {
    next.clear();
    if (std::holds_alternative<RecursiveDescentSegment>(segments[i])) {
      const PathSegment& follow = segments[++i];  // the parser guarantees a following segment
      for (const json::value* node : current) ApplyRecursively(follow, *node, &next);
    } else {
      for (const json::value* node : current) ApplySegment(segments[i], *node, &next);
    }
    current.swap(next);
  }
  out->insert(out->end(), current.begin(), current.end());
}

// The value an operand stands for; `owned` holds the array built for an indefinite path.
struct ResolvedOperand {
  const json::value* value = nullptr;
  json::value owned;
};

void Resolve(const FilterOperand& operand, const json::value& item, ResolvedOperand* resolved) {
  if (!operand.is_path) {
    resolved->value = &operand.literal;
  } else if (operand.definite) {
    resolved->value = FindDefinite(operand.segments, item);
  } else {
    // As Jayway: an indefinite path in a comparison stands for the array of its matches.
    Nodes matches;
    SelectAll(operand.segments, item, &matches);
    json::array array;
    array.reserve(matches.size());
    for (const json::value* match : matches) array.push_back(*match);
    resolved->owned = std::move(array);
    resolved->value = &resolved->owned;
  }
}

bool Matches(const FilterExpression& expression, const json::value& item) {
  switch (expression.kind) {
    case FilterExpression::Kind::kOr:
      for (const auto& child : expression.children) {
        if (Matches(*child, item)) return true;
      }
      return false;
    case FilterExpression::Kind::kAnd:
      for (const auto& child : expression.children) {
        if (!Matches(*child, item)) return false;
      }
      return true;
    case FilterExpression::Kind::kNot:
      return !Matches(*expression.children.front(), item);
    case FilterExpression::Kind::kExists: {
      const FilterOperand& path = expression.lhs;
      if (path.definite) return FindDefinite(path.segments, item) != nullptr;
      Nodes matches;
      SelectAll(path.segments, item, &matches);
      return !matches.empty();
    }
    case FilterExpression::Kind::kCompare: {
      ResolvedOperand lhs;
      ResolvedOperand rhs;
      Resolve(expression.lhs, item, &lhs);
      Resolve(expression.rhs, item, &rhs);
      return Compare(expression.op, lhs.value, rhs.value);
    }
  }
  return false;
}

StatusOr<JsonPath> Parse(std::string_view text, PathTraits* traits) {
  PathParser parser(text, 0, "JSONPath");
  return parser.ParseRooted(Mode::kTopLevel, traits);
}

}  // namespace

std::vector<const json::value*> JsonPath::Select(const json::value& root) const {
  Nodes out;
  if (is_definite_) {
    if (const json::value* node = FindDefinite(segments_, root)) out.push_back(node);
    return out;
  }
  SelectAll(segments_, root, &out);
  return out;
}

const json::value* JsonPath::Find(const json::value& root) const {
  if (is_definite_) return FindDefinite(segments_, root);
  Nodes out;
  SelectAll(segments_, root, &out);
  return out.empty() ? nullptr : out.front();
}

StatusOr<JsonPath> ParseJsonPath(std::string_view text) {
  PathTraits traits;
  return Parse(text, &traits);
}

StatusOr<JsonPath> ParseReferencePath(std::string_view text) {
  PathTraits traits;
  HPD_ASSIGN_OR_RETURN(JsonPath path, Parse(text, &traits));
  if (!traits.reference) {
    std::string message = syntax_internal::QuoteText(text);
    message.append(" is not a reference path: ");
    message.append(traits.first_non_reference_what);
    message.append(" at character ");
    message.append(std::to_string(traits.first_non_reference_at + 1));
    message.append(
        " is not allowed; a reference path may only contain field names (.name or "
        "['name']) and non-negative array indices ([0])");
    return InvalidArgumentError(std::move(message));
  }
  return path;
}

namespace path_internal {

StatusOr<JsonPath> ParseEmbeddedJsonPath(std::string_view text, size_t* pos) {
  PathParser parser(text, *pos, "intrinsic function call");
  PathTraits traits;
  HPD_ASSIGN_OR_RETURN(JsonPath path, parser.ParseRooted(Mode::kEmbedded, &traits));
  *pos = parser.pos();
  return path;
}

}  // namespace path_internal

}  // namespace hpd::asl
