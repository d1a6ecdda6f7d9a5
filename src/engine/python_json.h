// JSON text exactly as Python's json.dumps writes it with its default arguments.
//
// Two places need this byte for byte:
//  - AWS records Lambda results and errors as the function's runtime produced them. The
//    conformance corpus was recorded with Python functions, whose runtime serialises with
//    json.dumps: ", " and ": " separators, non-ASCII escaped (ensure_ascii). The error JSON of a
//    function-ARN task therefore reads {"errorMessage": "...", "errorType": ...} with spaces, and
//    an Invoke response's Content-Length is the length of that text.
//  - The snapshot normaliser of the corpus (tools/normalize.py) applies its text replacements to
//    json.dumps output and sorts Parallel-branch events by it; a faithful port must produce the
//    same text.
#ifndef HPD_ENGINE_PYTHON_JSON_H_
#define HPD_ENGINE_PYTHON_JSON_H_

#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace hpd::engine {

// json.dumps(value): separators ", " and ": "; strings escaped with ensure_ascii=True ('"', '\\',
// \b \f \n \r \t, every other character outside ' '..'~' as \uxxxx in lowercase hex, characters
// above U+FFFF as surrogate pairs; invalid UTF-8 bytes as \ufffd); integers in decimal; doubles
// as FormatDoublePython. Object members in the value's order.
std::string PythonJsonDumps(const boost::json::value& value);
void AppendPythonJson(const boost::json::value& value, std::string* out);

// Appends json.dumps(text) for one string, quotes included, escaped as above.
void AppendPythonString(std::string_view text, std::string* out);

// repr(float): the shortest digits that round-trip, in plain notation when the decimal exponent
// is in [-4, 16) ("1.0", "0.0001", "1e+16", "1.5e-05"), NaN as "NaN", infinities as "Infinity"
// and "-Infinity" (json.dumps's allow_nan default).
std::string FormatDoublePython(double d);

}  // namespace hpd::engine

#endif  // HPD_ENGINE_PYTHON_JSON_H_
