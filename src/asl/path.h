// JSONPath expressions as Step Functions accepts them, compiled once and evaluated many times.
//
// Step Functions evaluates paths with Jayway JsonPath. ParseJsonPath() accepts the Jayway syntax
// that Step Functions documents and uses, plus its two extensions: "$$" (the context object) and
// "$name" (a workflow variable). ParseReferencePath() additionally requires a reference path
// (only named fields and non-negative indices), as ResultPath, ItemsPath and the *Path fields do.
//
// Syntax accepted after the root ("$", "$$" or "$name"):
//   .name  .*  ..name  ..*  ..[...]  .['name']
//   ['name']  ["name"]  ['a','b']  [0]  [-1]  [0,2]  [*]  [1:5]  [1:]  [:2]  [::2]  [?(filter)]
//   .name(...)  a Jayway function call: accepted (Step Functions accepts the definition) but it
//               never matches, as Step Functions fails such paths at run time.
// A field name after '.' is any run of characters other than '.', '[', '(' and whitespace (so
// "$.input-value", "$.a:b" and non-ASCII names work); anything else needs bracket notation.
// Inside quotes a backslash keeps the next character from ending the name, and both characters
// are kept: Step Functions matched "$['Test\""Name"']" against the key `Test\""Name"`.
//
// Filters: `[?( expr )]` where expr combines, with `||`, `&&`, `!` and parentheses,
//   existence tests `@.x` and comparisons `a OP b` (OP: == != < <= > >=) whose operands are
//   '@'-relative paths or literals (numbers, 'single' or "double" quoted strings, true, false,
//   null). Regular expressions (=~), Jayway's word operators (in, nin, subsetof, ...) and
//   references to '$' inside a filter are rejected: Step Functions does not support them.
//
// Errors: InvalidArgumentError naming the path, what is wrong and the 1-based character.
//
// Thread-safety: JsonPath is immutable after parsing; concurrent Select() calls are safe.
#ifndef HPD_ASL_PATH_H_
#define HPD_ASL_PATH_H_

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace hpd::asl {

// A compiled filter expression; opaque, evaluated by JsonPath::Select().
class FilterExpression;

// `.name` or `['name']`.
struct FieldSegment {
  std::string name;
};
// `[n]`; a negative index counts from the end of the array.
struct IndexSegment {
  int64_t index = 0;
};
// `.*` or `[*]`: every value of an object (document order) or element of an array.
struct WildcardSegment {};
// `[start:end:step]`, Python semantics; an absent bound takes the default for the step's sign.
struct SliceSegment {
  std::optional<int64_t> start;
  std::optional<int64_t> end;
  int64_t step = 1;  // never 0
};
// `['a','b']`: the named members, in the listed order.
struct FieldUnionSegment {
  std::vector<std::string> names;
};
// `[0,2]`: the listed elements, in the listed order; negative indices count from the end.
struct IndexUnionSegment {
  std::vector<int64_t> indices;
};
// `[?(...)]`. Applied to an array it keeps the elements that are objects and satisfy the filter
// (Step Functions: "@ ... does not match scalar values. It only matches objects"); applied to an
// object it keeps the object itself if it satisfies the filter (Jayway).
struct FilterSegment {
  std::shared_ptr<const FilterExpression> expression;  // never null
  std::string text;                                    // e.g. "?(@.price < 10)"
};
// `..`: the next segment applies to the node and to every descendant, depth-first pre-order.
// Always followed by another segment.
struct RecursiveDescentSegment {};
// `.name(args)`: a Jayway function call. Matches nothing (see the file comment).
struct FunctionSegment {
  std::string name;
  std::string arguments;  // raw text between the parentheses
};

using PathSegment =
    std::variant<FieldSegment, IndexSegment, WildcardSegment, SliceSegment, FieldUnionSegment,
                 IndexUnionSegment, FilterSegment, RecursiveDescentSegment, FunctionSegment>;

class JsonPath {
 public:
  enum class Root {
    kInput,     // "$": the state's input (or whatever document the field applies to)
    kContext,   // "$$": the context object
    kVariable,  // "$name": the workflow variable `name`
  };

  // The path "$".
  JsonPath();

  Root root() const { return root_; }
  // The variable's name without '$'; empty unless root() is kVariable.
  const std::string& variable_name() const { return variable_name_; }
  // The text the path was parsed from.
  const std::string& text() const { return text_; }
  const std::vector<PathSegment>& segments() const { return segments_; }

  // True when every segment is a named field or a non-negative index.
  bool IsReferencePath() const { return is_reference_path_; }
  // True when the path selects at most one node: every segment is a field, an index or a
  // function call.
  bool IsDefinite() const { return is_definite_; }

  // Evaluates the path against `root`: the document for "$", the context object for "$$", the
  // variable's value for "$name". A definite path yields its node, or nothing when it does not
  // exist; an indefinite path yields every match in order. A missing member, an index out of
  // range or a segment that does not fit the node's type (a field of an array, ...) contributes no
  // match; nothing is an error. The pointers point into `root` and live as long as it does.
  std::vector<const boost::json::value*> Select(const boost::json::value& root) const;
  // The first node Select() would return, or nullptr; never allocates for a definite path.
  const boost::json::value* Find(const boost::json::value& root) const;

 private:
  friend class PathParser;

  Root root_ = Root::kInput;
  bool is_reference_path_ = true;
  bool is_definite_ = true;
  std::string text_;
  std::string variable_name_;
  std::vector<PathSegment> segments_;
};

// Parses any path Step Functions accepts in a Path field or a ".$" value ("$...", "$$...",
// "$name..."). The whole of `text` must be the path: no surrounding whitespace.
StatusOr<JsonPath> ParseJsonPath(std::string_view text);

// Parses a path that must also be a reference path (ResultPath, ItemsPath, ...); the message of
// the InvalidArgumentError says which segment is not allowed and where. Any root is accepted:
// whether "$$" or "$name" may appear in a given field is the caller's rule.
StatusOr<JsonPath> ParseReferencePath(std::string_view text);

namespace path_internal {
// For the intrinsic-function parser: parses the path that starts at text[*pos] (a '$') and ends
// before the first ',', ')' or whitespace outside brackets, and advances *pos past it. Error
// messages quote `text` as an intrinsic function call.
StatusOr<JsonPath> ParseEmbeddedJsonPath(std::string_view text, size_t* pos);
}  // namespace path_internal

}  // namespace hpd::asl

#endif  // HPD_ASL_PATH_H_
