#include "engine/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include <boost/json.hpp>

#include "common/utf8.h"

namespace hpd::engine {
namespace {

// \uxxxx: a UTF-16 code unit in four lowercase hex digits, as Python escapes it. Returns the
// end of what it wrote (6 bytes).
char* WriteEscapedUnit(uint32_t unit, char* p) {
  static constexpr char kHex[] = "0123456789abcdef";
  *p++ = '\\';
  *p++ = 'u';
  for (int shift = 12; shift >= 0; shift -= 4) *p++ = kHex[(unit >> shift) & 0xF];
  return p;
}

// Characters json.dumps writes as themselves: printable ASCII except '"' and '\\'.
bool IsPlainAscii(char c) { return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\'; }

template <typename Int>
void AppendInteger(Int n, std::string* out) {
  char buf[24];
  const char* end = std::to_chars(buf, buf + sizeof(buf), n).ptr;  // 20 digits and a sign fit
  out->append(buf, static_cast<size_t>(end - buf));
}

}  // namespace

void AppendPythonString(std::string_view text, std::string* out) {
  // Written through a pointer into room for the worst case (every byte a 6-byte \uxxxx escape;
  // a 4-byte UTF-8 sequence takes two of them), then trimmed.
  const size_t start = out->size();
  out->resize(start + text.size() * 6 + 2);
  char* p = out->data() + start;
  *p++ = '"';
  size_t i = 0;
  while (i < text.size()) {
    // Most text is plain ASCII: copy each run of it at once rather than by code point.
    size_t run_end = i;
    while (run_end < text.size() && IsPlainAscii(text[run_end])) ++run_end;
    std::memcpy(p, text.data() + i, run_end - i);
    p += run_end - i;
    i = run_end;
    if (i == text.size()) break;

    const uint32_t cp = static_cast<uint32_t>(DecodeUtf8(text, &i));
    char simple = 0;
    switch (cp) {
      case '"': simple = '"'; break;
      case '\\': simple = '\\'; break;
      case '\b': simple = 'b'; break;
      case '\f': simple = 'f'; break;
      case '\n': simple = 'n'; break;
      case '\r': simple = 'r'; break;
      case '\t': simple = 't'; break;
      default: break;
    }
    if (simple != 0) {
      *p++ = '\\';
      *p++ = simple;
    } else if (cp > 0xFFFF) {
      const uint32_t v = cp - 0x10000;
      p = WriteEscapedUnit(0xD800 | (v >> 10), p);
      p = WriteEscapedUnit(0xDC00 | (v & 0x3FF), p);
    } else {
      // Controls, DEL and the rest of the BMP (invalid bytes decode as U+FFFD).
      p = WriteEscapedUnit(cp, p);
    }
  }
  *p++ = '"';
  out->resize(static_cast<size_t>(p - out->data()));
}

std::string FormatDoublePython(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  // Shortest round-trip digits in scientific form: "-d.ddde+XX".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  if (ec != std::errc()) return "NaN";
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  std::string out;
  if (!sci.empty() && sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + 1 + (sci[e_pos + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int decpt = exponent + 1;  // digits[0] sits just before the decimal point when decpt==1
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    out.push_back(digits[0]);
    if (n > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+',
                  exponent < 0 ? -exponent : exponent);
    out.append(exp_buf);
  } else if (decpt <= 0) {
    out.append("0.");
    out.append(static_cast<size_t>(-decpt), '0');
    out.append(digits);
  } else if (decpt >= n) {
    out.append(digits);
    out.append(static_cast<size_t>(decpt - n), '0');
    out.append(".0");
  } else {
    out.append(digits, 0, static_cast<size_t>(decpt));
    out.push_back('.');
    out.append(digits, static_cast<size_t>(decpt));
  }
  return out;
}

void AppendPythonJson(const boost::json::value& value, std::string* out) {
  switch (value.kind()) {
    case boost::json::kind::null: out->append("null"); return;
    case boost::json::kind::bool_: out->append(value.get_bool() ? "true" : "false"); return;
    case boost::json::kind::int64: AppendInteger(value.get_int64(), out); return;
    case boost::json::kind::uint64: AppendInteger(value.get_uint64(), out); return;
    case boost::json::kind::double_: out->append(FormatDoublePython(value.get_double())); return;
    case boost::json::kind::string: AppendPythonString(value.get_string(), out); return;
    case boost::json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const auto& item : value.get_array()) {
        if (!first) out->append(", ");
        first = false;
        AppendPythonJson(item, out);
      }
      out->push_back(']');
      return;
    }
    case boost::json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& member : value.get_object()) {
        if (!first) out->append(", ");
        first = false;
        AppendPythonString(member.key(), out);
        out->append(": ");
        AppendPythonJson(member.value(), out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string PythonJsonDumps(const boost::json::value& value) {
  std::string out;
  AppendPythonJson(value, &out);
  return out;
}

}  // namespace hpd::engine
