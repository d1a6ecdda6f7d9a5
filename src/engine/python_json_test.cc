#include "engine/python_json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/utf8.h"

namespace hpd::engine {
namespace {

// Expected strings are what CPython 3.11 prints for repr(float) / json.dumps.
TEST(FormatDoublePythonTest, MatchesPythonRepr) {
  EXPECT_EQ(FormatDoublePython(1.0), "1.0");
  EXPECT_EQ(FormatDoublePython(-0.0), "-0.0");
  EXPECT_EQ(FormatDoublePython(1.5), "1.5");
  EXPECT_EQ(FormatDoublePython(0.1), "0.1");
  EXPECT_EQ(FormatDoublePython(0.0001), "0.0001");
  EXPECT_EQ(FormatDoublePython(0.00001), "1e-05");
  EXPECT_EQ(FormatDoublePython(1.5e-7), "1.5e-07");
  EXPECT_EQ(FormatDoublePython(1e15), "1000000000000000.0");
  EXPECT_EQ(FormatDoublePython(1e16), "1e+16");
  EXPECT_EQ(FormatDoublePython(123456789012345678.0), "1.2345678901234568e+17");
  EXPECT_EQ(FormatDoublePython(1795762276.25), "1795762276.25");
  EXPECT_EQ(FormatDoublePython(1e300), "1e+300");
  EXPECT_EQ(FormatDoublePython(5e-324), "5e-324");
  EXPECT_EQ(FormatDoublePython(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(FormatDoublePython(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(FormatDoublePython(std::nan("")), "NaN");
}

TEST(PythonJsonDumpsTest, UsesPythonSeparators) {
  auto doc = ParseJson(R"({"input_value":"string literal","input_values":[1,2,3],"e":{},"l":[]})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(PythonJsonDumps(*doc),
            R"({"input_value": "string literal", "input_values": [1, 2, 3], "e": {}, "l": []})");
}

TEST(PythonJsonDumpsTest, ScalarsAsPythonWritesThem) {
  EXPECT_EQ(PythonJsonDumps(nullptr), "null");
  EXPECT_EQ(PythonJsonDumps(true), "true");
  EXPECT_EQ(PythonJsonDumps(false), "false");
  EXPECT_EQ(PythonJsonDumps(-42), "-42");
  EXPECT_EQ(PythonJsonDumps(boost::json::value(18446744073709551615ull)), "18446744073709551615");
  EXPECT_EQ(PythonJsonDumps(2.0), "2.0");
}

TEST(PythonJsonDumpsTest, EscapesLikeEnsureAscii) {
  EXPECT_EQ(PythonJsonDumps("a\"b\\c/d"), R"("a\"b\\c/d")");
  EXPECT_EQ(PythonJsonDumps("\b\f\n\r\t"), R"("\b\f\n\r\t")");
  EXPECT_EQ(PythonJsonDumps(boost::json::string("\x01\x1f\x7f", 3)), R"("\u0001\u001f\u007f")");
  EXPECT_EQ(PythonJsonDumps("caf\xc3\xa9"), R"("caf\u00e9")");
  EXPECT_EQ(PythonJsonDumps("\xe2\x82\xac"), R"("\u20ac")");
  EXPECT_EQ(PythonJsonDumps("\xf0\x9f\x98\x80"), R"("\ud83d\ude00")");
  EXPECT_EQ(PythonJsonDumps(boost::json::string("\xff", 1)), R"("\ufffd")");
}

TEST(PythonJsonDumpsTest, PlainRunsAndEscapesInterleave) {
  EXPECT_EQ(PythonJsonDumps(""), R"("")");
  EXPECT_EQ(PythonJsonDumps("plain text ~ only"), R"("plain text ~ only")");
  EXPECT_EQ(PythonJsonDumps("a\"b\\c\nd caf\xc3\xa9 \xf0\x9f\x98\x80!"),
            R"("a\"b\\c\nd caf\u00e9 \ud83d\ude00!")");
  EXPECT_EQ(PythonJsonDumps(boost::json::string("x\0y\x7fz\xc3", 6)), R"("x\u0000y\u007fz\ufffd")");
  std::string out = "prefix ";
  AppendPythonString("it \"broke\"", &out);
  EXPECT_EQ(out, R"(prefix "it \"broke\"")");
}

// The escaping as specified, one code point at a time: the fast path must agree byte for byte.
std::string ReferencePythonString(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto unit = [](uint32_t u, std::string* out) {
    out->append("\\u");
    for (int shift = 12; shift >= 0; shift -= 4) out->push_back(kHex[(u >> shift) & 0xF]);
  };
  std::string out = "\"";
  size_t i = 0;
  while (i < text.size()) {
    const uint32_t cp = static_cast<uint32_t>(DecodeUtf8(text, &i));
    if (cp == '"') {
      out.append("\\\"");
    } else if (cp == '\\') {
      out.append("\\\\");
    } else if (cp == '\b') {
      out.append("\\b");
    } else if (cp == '\f') {
      out.append("\\f");
    } else if (cp == '\n') {
      out.append("\\n");
    } else if (cp == '\r') {
      out.append("\\r");
    } else if (cp == '\t') {
      out.append("\\t");
    } else if (cp >= 0x20 && cp <= 0x7E) {
      out.push_back(static_cast<char>(cp));
    } else if (cp > 0xFFFF) {
      unit(0xD800 | ((cp - 0x10000) >> 10), &out);
      unit(0xDC00 | ((cp - 0x10000) & 0x3FF), &out);
    } else {
      unit(cp, &out);
    }
  }
  out.push_back('"');
  return out;
}

TEST(PythonJsonDumpsTest, StringsMatchTheCodePointByCodePointEscaping) {
  // Mostly ASCII with escapes, UTF-8 sequences and stray bytes mixed in.
  static constexpr std::string_view kPieces[] = {
      "a", "Hello, World", " ", "\"", "\\", "\n", "\t", "\x01", "\x7f", "\xc3\xa9",
      "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\x80", "/", "~"};
  std::mt19937 gen(42);
  std::uniform_int_distribution<size_t> piece(0, std::size(kPieces) - 1);
  std::uniform_int_distribution<int> length(0, 12);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int n = length(gen); n > 0; --n) text.append(kPieces[piece(gen)]);
    std::string out;
    AppendPythonString(text, &out);
    ASSERT_EQ(out, ReferencePythonString(text)) << text;
  }
}

}  // namespace
}  // namespace hpd::engine
