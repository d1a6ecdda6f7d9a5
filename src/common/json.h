// JSON text in and out, with the number and string formatting Step Functions (a Java/Jackson
// service) produces, over Boost.JSON values.
//
// Why not boost::json::parse/serialize directly:
//  - Boost 1.81 parses about one double in ten with 16-17 significant digits off by one ulp;
//    ParseJson re-reads every non-integer number with a correctly rounded conversion.
//  - Boost prints doubles as "1.5E0", "1E1"; SerializeJson prints them as Java's Double.toString
//    does ("1.5", "10.0", "1.0E7"), which is what AWS histories contain.
//
// Numbers: integer literals that fit int64 (or uint64) stay integers; all other numbers, including
// integer literals too large for uint64 (e.g. 1000000000000000000000000000000), become doubles.
#ifndef HPD_COMMON_JSON_H_
#define HPD_COMMON_JSON_H_

#include <boost/json/value.hpp>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hpd {

// Deepest array/object nesting ParseJson accepts; Jackson's default limit.
inline constexpr std::size_t kMaxJsonDepth = 1000;

// Parses one JSON document (RFC 8259: no comments, no trailing commas, valid UTF-8). Whitespace
// may surround the value; anything else after it is an error. Object member order is preserved; a
// duplicated key keeps its last value. Returns kInvalidArgument with line, column (1-based, bytes)
// and byte offset of the problem, e.g. "invalid JSON at line 2, column 7 (offset 12): syntax error
// near \"tru }\"". Also kInvalidArgument for nesting deeper than kMaxJsonDepth and for numbers
// whose magnitude exceeds the double range (1e400); numbers too small for a double (1e-400) become
// 0.0. The value's memory comes from `storage` (default: the default resource); a
// boost::json::monotonic_resource makes parsing and freeing a large document much cheaper when the
// document is short-lived.
StatusOr<boost::json::value> ParseJson(std::string_view text, boost::json::storage_ptr storage = {});

// Compact JSON as Step Functions writes it: no insignificant whitespace; integers as integers;
// doubles via FormatDouble; strings escaped as Jackson does (AppendJsonString). Non-finite doubles,
// which JSON cannot express, are written as null. Recursion depth equals the value's nesting depth.
std::string SerializeJson(const boost::json::value& value);
// Appends SerializeJson(value) to *out.
void AppendJson(const boost::json::value& value, std::string* out);

// Human-readable JSON: two-space indent, one member or element per line, "key": value, empty
// containers as {} and [], no trailing newline. Scalars are formatted as in SerializeJson.
std::string SerializeJsonPretty(const boost::json::value& value);

// A double as Java's Double.toString (JDK 19+, shortest round-trip digits) renders it, which is
// how Jackson writes a JSON double: plain notation with at least one fraction digit when
// 1e-3 <= |d| < 1e7 ("1.0", "0.001", "1234567.5", "-0.0"), otherwise computerized scientific
// notation ("1.0E7", "1.234E-5", "9.007199254740992E15", "4.9E-324"). Non-finite values give
// "null".
std::string FormatDouble(double d);
void AppendDouble(double d, std::string* out);

// Appends `text` as a quoted JSON string escaped as Jackson does: '"' and '\' backslash-escaped;
// \b \t \n \f \r for those controls; other characters below U+0020 as \u00XX (uppercase hex);
// everything else, including '/', DEL and non-ASCII UTF-8, unchanged. Bytes that are not part of
// well-formed UTF-8 are each replaced by U+FFFD, so the output is always valid UTF-8 (as a Java
// service's would be: its strings cannot hold such bytes). Strings from ParseJson are always
// well-formed.
void AppendJsonString(std::string_view text, std::string* out);

// "object", "array", "string", "number", "boolean" or "null".
std::string JsonTypeName(const boost::json::value& value);

// Escapes one reference token for a JSON Pointer (RFC 6901): "~" -> "~0", "/" -> "~1".
std::string JsonPointerEscape(std::string_view token);

// Builds JSON Pointer strings such as "/States/Prepare/Retry/0/BackoffRate" while walking a
// document, e.g. to name the location of a validation error. A value type.
class JsonPointer {
 public:
  // The pointer to the whole document, rendered as "".
  JsonPointer() = default;

  // Appends an object member name (escaped as needed) or an array index. Return *this.
  JsonPointer& AppendKey(std::string_view key);
  JsonPointer& AppendIndex(std::size_t index);
  // Copies with one more token, for passing a child location down a recursive walk.
  JsonPointer Key(std::string_view key) const;
  JsonPointer Index(std::size_t index) const;
  // Removes the last token; no effect on the root.
  void PopBack();

  bool IsRoot() const { return text_.empty(); }
  // "" for the root, otherwise "/token/token...".
  const std::string& ToString() const { return text_; }

  friend bool operator==(const JsonPointer& a, const JsonPointer& b) = default;

 private:
  std::string text_;
};

std::ostream& operator<<(std::ostream& os, const JsonPointer& pointer);

}  // namespace hpd

#endif  // HPD_COMMON_JSON_H_
