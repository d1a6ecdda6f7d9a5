#include "common/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status_matchers.h"
#include "support/corpus.h"

namespace hpd {
namespace {

namespace bj = boost::json;
using ::hpd::testing::ConformanceCaseFiles;
using ::hpd::testing::ConformanceCasesDir;
using ::hpd::testing::LoadJsonFile;
using ::hpd::testing::ReadFile;
using ::testing::AllOf;
using ::testing::HasSubstr;

bj::value MustParse(std::string_view text) {
  StatusOr<bj::value> parsed = ParseJson(text);
  EXPECT_THAT(parsed, IsOk()) << text;
  return parsed.ok() ? *parsed : bj::value();
}

double ReadDouble(std::string_view text) {
  double d = 0;
  const auto result = std::from_chars(text.data(), text.data() + text.size(), d);
  EXPECT_EQ(result.ec, std::errc()) << text;
  return d;
}

std::uint64_t Bits(double d) {
  std::uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Number formatting

struct DoubleCase {
  double value;
  std::string java;  // Double.toString(value) on JDK 19+.
};

TEST(FormatDoubleTest, MatchesJavaDoubleToString) {
  const std::vector<DoubleCase> cases = {
      {0.0, "0.0"},
      {-0.0, "-0.0"},
      {1.0, "1.0"},
      {-1.0, "-1.0"},
      {1.5, "1.5"},
      {-1.5, "-1.5"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {1.1, "1.1"},
      {3.3, "3.3"},
      {44.51, "44.51"},
      {100.0, "100.0"},
      {100.1, "100.1"},
      {-123.456, "-123.456"},
      {0.1 + 0.2, "0.30000000000000004"},
      {1.0 / 3.0, "0.3333333333333333"},
      {2.0 / 3.0, "0.6666666666666666"},
      // The plain range is [1e-3, 1e7).
      {0.001, "0.001"},
      {0.002, "0.002"},
      {0.00123, "0.00123"},
      {0.0009999, "9.999E-4"},
      {0.0001, "1.0E-4"},
      {1.0e-5, "1.0E-5"},
      {1.234e-5, "1.234E-5"},
      {1000000.0, "1000000.0"},
      {1234567.5, "1234567.5"},
      {9999999.0, "9999999.0"},
      {9999999.999, "9999999.999"},
      {1.0e7, "1.0E7"},
      {-1.0e7, "-1.0E7"},
      {12345678.9, "1.23456789E7"},
      {123456789.0, "1.23456789E8"},
      {1.0e10, "1.0E10"},
      {1.0e21, "1.0E21"},
      {1.0e30, "1.0E30"},
      {1.0e23, "1.0E23"},
      {9007199254740992.0, "9.007199254740992E15"},     // 2^53
      {9223372036854775807.0, "9.223372036854776E18"},  // int64 max as double
      {18446744073709551615.0, "1.8446744073709552E19"},
      {DBL_MAX, "1.7976931348623157E308"},
      {-DBL_MAX, "-1.7976931348623157E308"},
      {DBL_MIN, "2.2250738585072014E-308"},
      // Subnormals: Java picks the closest of the 1- or 2-digit decimals.
      {std::numeric_limits<double>::denorm_min(), "4.9E-324"},
      {2 * std::numeric_limits<double>::denorm_min(), "9.9E-324"},
      {3 * std::numeric_limits<double>::denorm_min(), "1.5E-323"},
      {1.0e-310, "1.0E-310"},
  };
  for (const DoubleCase& c : cases) {
    EXPECT_EQ(FormatDouble(c.value), c.java) << "value " << c.java;
  }
}

TEST(FormatDoubleTest, NonFiniteBecomesNull) {
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(FormatDouble(-std::numeric_limits<double>::infinity()), "null");
  EXPECT_EQ(FormatDouble(std::numeric_limits<double>::quiet_NaN()), "null");
}

TEST(FormatDoubleTest, RoundTripsThroughParseJson) {
  SeededRandom random(3);
  for (int i = 0; i < 200000; ++i) {
    // Random bit patterns cover every exponent; uniform values cover "ordinary" numbers.
    double d;
    if (i % 2 == 0) {
      const std::uint64_t bits = random.Next();
      std::memcpy(&d, &bits, sizeof d);
      if (!std::isfinite(d)) continue;
    } else {
      d = random.NextDouble() * 1e6;
    }
    const std::string text = FormatDouble(d);
    const StatusOr<bj::value> parsed = ParseJson(text);
    ASSERT_THAT(parsed, IsOk()) << text;
    ASSERT_TRUE(parsed->is_double()) << text;
    ASSERT_EQ(Bits(parsed->get_double()), Bits(d)) << text;
  }
}

TEST(SerializeJsonTest, IntegersStayIntegers) {
  EXPECT_EQ(SerializeJson(bj::value(0)), "0");
  EXPECT_EQ(SerializeJson(bj::value(-1)), "-1");
  EXPECT_EQ(SerializeJson(bj::value(std::numeric_limits<std::int64_t>::max())),
            "9223372036854775807");
  EXPECT_EQ(SerializeJson(bj::value(std::numeric_limits<std::int64_t>::min())),
            "-9223372036854775808");
  EXPECT_EQ(SerializeJson(bj::value(std::numeric_limits<std::uint64_t>::max())),
            "18446744073709551615");
  EXPECT_EQ(SerializeJson(bj::value(1.0)), "1.0");
  EXPECT_EQ(SerializeJson(bj::value(1e7)), "1.0E7");
}

TEST(SerializeJsonTest, NumbersKeepTheirParsedKind) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"42", "42"},
      {"-0", "0"},  // An integer zero: Jackson's IntNode prints 0.
      {"-0.0", "-0.0"},
      {"1.0", "1.0"},
      {"1.50", "1.5"},
      {"1E2", "100.0"},
      {"1e-7", "1.0E-7"},
      {"2.5e+3", "2500.0"},
      {"9223372036854775807", "9223372036854775807"},
      {"-9223372036854775808", "-9223372036854775808"},
      {"18446744073709551615", "18446744073709551615"},
      // Too large for any integer type: a double, as in the Java service.
      {"18446744073709551616", "1.8446744073709552E19"},
      {"-9223372036854775809", "-9.223372036854776E18"},
      {"1000000000000000000000000000000", "1.0E30"},
      {"9007199254740993", "9007199254740993"},
      {"9007199254740993.0", "9.007199254740992E15"},
      // Beyond double precision in both directions.
      {"1e-400", "0.0"},
      {"-1e-400", "-0.0"},
      {"4.9e-324", "4.9E-324"},
  };
  for (const auto& [input, output] : cases) {
    EXPECT_EQ(SerializeJson(MustParse(input)), output) << input;
  }
}

TEST(ParseJsonTest, DoublesAreCorrectlyRounded) {
  // Boost 1.81's own parser gets these one ulp off.
  for (const char* text :
       {"0.9032689664283783", "0.09406831176283713", "0.37288769945618483", "933.0544305299615",
        "979078.5811124957", "0.00019471597744998226", "2.2250738585072011e-308",
        "123456789012345678901234567890.5e-3", "-1.9934908051011654e+189"}) {
    const bj::value v = MustParse(text);
    ASSERT_TRUE(v.is_double()) << text;
    EXPECT_EQ(Bits(v.get_double()), Bits(ReadDouble(text))) << text;
  }
}

TEST(ParseJsonTest, RejectsNumbersBeyondDoubleRange) {
  EXPECT_THAT(ParseJson("[1, 1e400]"),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("number out of range: 1e400"), HasSubstr("column 5"))));
  EXPECT_THAT(ParseJson("-1e999"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("number out of range: -1e999")));
}

// ---------------------------------------------------------------------------------------------
// Strings

TEST(SerializeJsonTest, EscapesStringsLikeJackson) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", R"("plain")"},
      {"", R"("")"},
      {"quote\" backslash\\", R"("quote\" backslash\\")"},
      {"slash / stays", R"("slash / stays")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {std::string("\x00\x01\x1f", 3), R"("\u0000\u0001\u001F")"},
      {"\x7f", "\"\x7f\""},
      {"caf\xc3\xa9 \xf0\x9f\x86\x97", "\"caf\xc3\xa9 \xf0\x9f\x86\x97\""},  // UTF-8 as is.
      {"\xe2\x80\xa8", "\"\xe2\x80\xa8\""},  // U+2028 is not escaped either.
      {"Line1\nLine2\tTabbed", R"("Line1\nLine2\tTabbed")"},
  };
  for (const auto& [raw, json] : cases) {
    EXPECT_EQ(SerializeJson(bj::value(raw)), json);
    std::string appended = "x";
    AppendJsonString(raw, &appended);
    EXPECT_EQ(appended, "x" + json);
  }
}

// Long strings are scanned 16 bytes at a time: every escape and every (valid or malformed)
// multi-byte sequence must come out the same at any position relative to those blocks.
TEST(SerializeJsonTest, EscapesTheSameAtEveryOffsetOfALongString) {
  const std::vector<std::pair<std::string, std::string>> pieces = {
      {"\"", R"(\")"},
      {"\\", R"(\\)"},
      {"\n", R"(\n)"},
      {std::string("\x00", 1), R"(\u0000)"},
      {"\x1f", R"(\u001F)"},
      {"\x7f", "\x7f"},
      {"\xc3\xa9", "\xc3\xa9"},
      {"\xf0\x9f\x86\x97", "\xf0\x9f\x86\x97"},
      {"\xff", "\xef\xbf\xbd"},
      {"\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd"},
  };
  const std::string filler = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ";
  for (const auto& [raw, escaped] : pieces) {
    for (size_t before = 0; before <= 33; ++before) {
      for (size_t after : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}}) {
        const std::string text =
            filler.substr(0, before) + raw + raw + filler.substr(0, after);
        const std::string expected =
            "\"" + filler.substr(0, before) + escaped + escaped + filler.substr(0, after) + "\"";
        std::string out = "x";
        AppendJsonString(text, &out);
        EXPECT_EQ(out, "x" + expected) << ::testing::PrintToString(text);
      }
    }
  }
}

// The block-at-a-time escaping against a byte-at-a-time statement of the rule, on random
// strings dense in quotes, controls and (valid or broken) multi-byte sequences.
TEST(SerializeJsonTest, EscapingMatchesTheByteAtATimeRule) {
  const auto reference = [](std::string_view text) {
    std::string out = "\"";
    size_t i = 0;
    while (i < text.size()) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x80) {
        // Decode one sequence the way the parser validates it: keep it if it round-trips.
        size_t length = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (length != 0 && i + length <= text.size()) {
          std::string candidate = "\"" + std::string(text.substr(i, length)) + "\"";
          if (ParseJson(candidate).ok()) {
            out += text.substr(i, length);
            i += length;
            continue;
          }
        }
        out += "\xef\xbf\xbd";
        ++i;
        continue;
      }
      switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04X", c);
            out += buf;
          } else {
            out += static_cast<char>(c);
          }
      }
      ++i;
    }
    return out + "\"";
  };
  const std::string alphabet[] = {"a", "b", "\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\x7f",
                                  "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3",
                                  "\xed\xa0\x80", "0123456789abcdef"};
  SeededRandom random(7);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t pieces = random.Next() % 40;
    for (size_t k = 0; k < pieces; ++k) text += alphabet[random.Next() % std::size(alphabet)];
    std::string out;
    AppendJsonString(text, &out);
    ASSERT_EQ(out, reference(text)) << ::testing::PrintToString(text);
  }
}

// Long strings' escaped forms are remembered between serialisations (a document is written
// again at every state); strings of the same length but other content must not be confused,
// and older ones must come out right after being pushed out.
TEST(SerializeJsonTest, LongStringsComeOutRightWhenRepeatedOrAlike) {
  std::vector<std::string> texts;
  for (char c : std::string("abcdefg")) {
    texts.push_back(std::string(R"({"errorMessage": "x", "k": "\n"})") + std::string(80, c));
  }
  texts.push_back(std::string(20000, '"'));  // beyond what is remembered
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < texts.size(); ++i) {
      bj::object doc;
      doc["a"] = texts[i];
      doc["b"] = texts[(i + 1) % texts.size()];
      doc["c"] = texts[i];
      std::string expected = "{\"a\":";
      AppendJsonString(texts[i], &expected);
      expected += ",\"b\":";
      AppendJsonString(texts[(i + 1) % texts.size()], &expected);
      expected += ",\"c\":";
      AppendJsonString(texts[i], &expected);
      expected += "}";
      ASSERT_EQ(SerializeJson(doc), expected) << round << " " << i;
    }
  }
}

TEST(SerializeJsonTest, ReplacesMalformedUtf8) {
  const std::string kReplacement = "\xef\xbf\xbd";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"\xff", kReplacement},
      {"a\xc3", "a" + kReplacement},                                 // Truncated sequence.
      {"\xc3(", kReplacement + "("},                                 // Bad continuation.
      {"\xc0\xaf", kReplacement + kReplacement},                     // Overlong '/'.
      {"\xed\xa0\x80", kReplacement + kReplacement + kReplacement},  // Surrogate U+D800.
      {"\xf4\x90\x80\x80", kReplacement + kReplacement + kReplacement + kReplacement},
      {"\xe2\x82", kReplacement + kReplacement},
      // Well-formed edges stay: U+0080, U+07FF, U+FFFF, U+10000, U+10FFFF.
      {"\xc2\x80\xdf\xbf\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf",
       "\xc2\x80\xdf\xbf\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"},
  };
  for (const auto& [raw, expected] : cases) {
    std::string out;
    AppendJsonString(raw, &out);
    EXPECT_EQ(out, "\"" + expected + "\"") << ::testing::PrintToString(raw);
    // The output is always acceptable to the (validating) parser.
    EXPECT_THAT(ParseJson(out), IsOk()) << ::testing::PrintToString(raw);
  }
}

TEST(ParseJsonTest, ErrorExcerptIsPrintableAscii) {
  EXPECT_THAT(ParseJson("[\"\xff\"]"),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("column 3"), HasSubstr("near \"?\"]\""))));
  EXPECT_THAT(ParseJson("[1,\n\t}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 2, column 2")));
}

TEST(ParseJsonTest, DecodesEscapes) {
  const bj::value v = MustParse(R"(["\u00e9\ud83c\udd97", "\/", "\u001f"])");
  EXPECT_EQ(v.at(0).as_string(), "\xc3\xa9\xf0\x9f\x86\x97");
  EXPECT_EQ(v.at(1).as_string(), "/");
  EXPECT_EQ(SerializeJson(v), "[\"\xc3\xa9\xf0\x9f\x86\x97\",\"/\",\"\\u001F\"]");
}

// ---------------------------------------------------------------------------------------------
// Documents

TEST(ParseJsonTest, ParsesDocumentsAndKeepsMemberOrder) {
  const bj::value v = MustParse(R"( {"b": [1, 2.5, "x", true, false, null], "a": {}, "c": []} )");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(SerializeJson(v), R"({"b":[1,2.5,"x",true,false,null],"a":{},"c":[]})");
}

TEST(ParseJsonTest, DuplicateKeyKeepsLastValue) {
  EXPECT_EQ(SerializeJson(MustParse(R"({"a":1,"b":2,"a":3})")), R"({"a":3,"b":2})");
}

TEST(ParseJsonTest, ScalarsAtTopLevel) {
  EXPECT_TRUE(MustParse("null").is_null());
  EXPECT_TRUE(MustParse(" true ").as_bool());
  EXPECT_EQ(MustParse("\"s\"").as_string(), "s");
  EXPECT_EQ(MustParse("\n\t 7 \r\n").as_int64(), 7);
}

struct SyntaxErrorCase {
  std::string text;
  std::vector<std::string> message_parts;
};

TEST(ParseJsonTest, SyntaxErrorsSayWhere) {
  const std::vector<SyntaxErrorCase> cases = {
      {"", {"empty input"}},
      {" \n ", {"empty input"}},
      {"{\n  \"a\": tru }", {"line 2, column 11 (offset 12)", "syntax error", "near \" }\""}},
      {"[1, 2", {"line 1, column 6 (offset 5)", "incomplete JSON"}},
      {"[1,]", {"line 1, column 4", "syntax error"}},
      {"{\"a\" 1}", {"line 1, column 6", "syntax error"}},
      {"{} x",
       {"line 1, column 4 (offset 3)", "unexpected data after the JSON value", "near \"x\""}},
      {"1 2", {"line 1, column 3", "unexpected data"}},
      {"[1] // comment", {"unexpected data"}},
      {"/* c */ 1", {"line 1, column 1", "syntax error"}},
      {"{'a': 1}", {"line 1, column 2", "syntax error"}},
      {"[NaN]", {"line 1, column 2"}},
      {"[01]", {"line 1, column 3"}},
      {"\"\xff\"", {"line 1, column 2"}},  // Invalid UTF-8.
      {"\"a\nb\"", {"line 1, column 3"}},  // Raw control character in a string.
  };
  for (const SyntaxErrorCase& c : cases) {
    SCOPED_TRACE(c.text);
    const StatusOr<bj::value> parsed = ParseJson(c.text);
    ASSERT_THAT(parsed, StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid JSON")));
    for (const std::string& part : c.message_parts) {
      EXPECT_THAT(parsed, StatusIs(StatusCode::kInvalidArgument, HasSubstr(part)));
    }
  }
}

TEST(ParseJsonTest, NestingLimitIsJacksons) {
  const auto nested = [](std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
  };
  EXPECT_THAT(ParseJson(nested(kMaxJsonDepth)), IsOk());
  EXPECT_THAT(ParseJson(nested(kMaxJsonDepth + 1)),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("too deep"), HasSubstr("column 1001"))));
}

TEST(SerializeJsonTest, AppendJsonAppends) {
  std::string out = "prefix:";
  AppendJson(MustParse(R"({"k":[1.0,{"n":null}]})"), &out);
  EXPECT_EQ(out, R"(prefix:{"k":[1.0,{"n":null}]})");
}

TEST(SerializeJsonPrettyTest, IndentsTwoSpaces) {
  const bj::value v = MustParse(R"({"a":1,"b":[true,{"c":"d"},[]],"e":{},"f":0.1})");
  EXPECT_EQ(SerializeJsonPretty(v),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": [\n"
            "    true,\n"
            "    {\n"
            "      \"c\": \"d\"\n"
            "    },\n"
            "    []\n"
            "  ],\n"
            "  \"e\": {},\n"
            "  \"f\": 0.1\n"
            "}");
  EXPECT_EQ(SerializeJsonPretty(bj::value(1e7)), "1.0E7");
  EXPECT_EQ(SerializeJsonPretty(MustParse("[]")), "[]");
  // Pretty output is still JSON and means the same.
  EXPECT_EQ(MustParse(SerializeJsonPretty(v)), v);
}

TEST(JsonTypeNameTest, NamesEveryKind) {
  EXPECT_EQ(JsonTypeName(MustParse("{}")), "object");
  EXPECT_EQ(JsonTypeName(MustParse("[]")), "array");
  EXPECT_EQ(JsonTypeName(MustParse("\"\"")), "string");
  EXPECT_EQ(JsonTypeName(MustParse("1")), "number");
  EXPECT_EQ(JsonTypeName(MustParse("1.5")), "number");
  EXPECT_EQ(JsonTypeName(MustParse("18446744073709551615")), "number");
  EXPECT_EQ(JsonTypeName(MustParse("false")), "boolean");
  EXPECT_EQ(JsonTypeName(MustParse("null")), "null");
}

// ---------------------------------------------------------------------------------------------
// JSON Pointer

TEST(JsonPointerTest, EscapesTokens) {
  EXPECT_EQ(JsonPointerEscape("plain"), "plain");
  EXPECT_EQ(JsonPointerEscape("a/b"), "a~1b");
  EXPECT_EQ(JsonPointerEscape("m~n"), "m~0n");
  EXPECT_EQ(JsonPointerEscape("~1"), "~01");  // Not "~1" -> would read back as "/".
  EXPECT_EQ(JsonPointerEscape("/~/"), "~1~0~1");
  EXPECT_EQ(JsonPointerEscape(""), "");
}

TEST(JsonPointerTest, BuildsPaths) {
  JsonPointer root;
  EXPECT_TRUE(root.IsRoot());
  EXPECT_EQ(root.ToString(), "");

  JsonPointer p;
  p.AppendKey("States").AppendKey("Prepare").AppendKey("Retry").AppendIndex(0).AppendKey(
      "BackoffRate");
  EXPECT_EQ(p.ToString(), "/States/Prepare/Retry/0/BackoffRate");
  EXPECT_FALSE(p.IsRoot());

  const JsonPointer states = root.Key("States");
  EXPECT_EQ(states.Key("a/b").Index(12).ToString(), "/States/a~1b/12");
  EXPECT_EQ(states.ToString(), "/States");  // Key() copies.
  EXPECT_EQ(root.Key("").ToString(), "/");  // The empty key is a real token.

  p.PopBack();
  EXPECT_EQ(p.ToString(), "/States/Prepare/Retry/0");
  p.PopBack();
  p.PopBack();
  p.PopBack();
  EXPECT_EQ(p, states);
  p.PopBack();
  EXPECT_TRUE(p.IsRoot());
  p.PopBack();
  EXPECT_TRUE(p.IsRoot());

  JsonPointer escaped = root.Key("x/y");
  escaped.PopBack();
  EXPECT_TRUE(escaped.IsRoot());
}

TEST(JsonPointerTest, AgreesWithBoostPointerLookup) {
  const bj::value doc = MustParse(R"({"States":{"a/b":{"m~n":[10,20,{"":"empty"}]}}})");
  const JsonPointer p = JsonPointer().Key("States").Key("a/b").Key("m~n").Index(2).Key("");
  std::error_code ec;
  const bj::value* found = doc.find_pointer(p.ToString(), ec);
  ASSERT_NE(found, nullptr) << p << ": " << ec.message();
  EXPECT_EQ(*found, bj::value("empty"));
}

// ---------------------------------------------------------------------------------------------
// Conformance corpus: what AWS recorded.

// True if `text` has no whitespace outside string literals, i.e. it was written compactly.
bool IsCompact(std::string_view text) {
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      return false;
    }
  }
  return true;
}

// Numeric tokens outside strings in a JSON text, e.g. "0.1", "-1.49", "1e-05".
std::vector<std::string> NumberTokens(std::string_view text) {
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const std::size_t start = i;
      while (i < text.size() && std::strchr("+-0123456789.eE", text[i]) != nullptr) ++i;
      tokens.emplace_back(text.substr(start, i - start));
    } else {
      ++i;
    }
  }
  return tokens;
}

// History event fields that hold JSON text exactly as AWS serialized it. The corpus decodes
// values that start with '{' (objects), so the raw text survives for arrays, strings and numbers.
void CollectAwsJsonTexts(const bj::value& events, std::vector<std::string>* out) {
  if (!events.is_array()) return;
  for (const bj::value& event : events.get_array()) {
    const bj::value* details = event.as_object().if_contains("details");
    if (details == nullptr || !details->is_object()) continue;
    for (const char* key : {"input", "output"}) {
      const bj::value* text = details->as_object().if_contains(key);
      if (text != nullptr && text->is_string()) out->emplace_back(text->get_string());
    }
    const bj::value* assigned = details->as_object().if_contains("assignedVariables");
    if (assigned != nullptr && assigned->is_object()) {
      for (const auto& member : assigned->get_object()) {
        if (member.value().is_string()) out->emplace_back(member.value().get_string());
      }
    }
  }
}

TEST(JsonCorpusTest, ReserializesAwsRecordedJsonTextExactly) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir());
  const std::vector<std::filesystem::path> files = ConformanceCaseFiles();
  std::size_t checked = 0;
  std::set<std::string> with_fractions;
  for (const auto& path : files) {
    const StatusOr<bj::value> doc = LoadJsonFile(path);
    ASSERT_THAT(doc, IsOk()) << path;
    const bj::value* expected = doc->as_object().if_contains("expected");
    if (expected == nullptr) continue;
    const bj::value* events = expected->as_object().if_contains("events");
    if (events == nullptr) continue;
    std::vector<std::string> texts;
    CollectAwsJsonTexts(*events, &texts);
    for (const std::string& text : texts) {
      // ExecutionStarted echoes the caller's input text verbatim, spaces included; only compact
      // texts are AWS's own serialization. Non-JSON strings are placeholders like "<omitted>".
      if (!IsCompact(text)) continue;
      const StatusOr<bj::value> parsed = ParseJson(text);
      if (!parsed.ok()) continue;
      EXPECT_EQ(SerializeJson(*parsed), text) << path;
      ++checked;
      for (const std::string& token : NumberTokens(text)) {
        if (token.find('.') != std::string::npos) with_fractions.insert(text);
      }
    }
  }
  // The corpus holds a few hundred such texts, among them numbers with fractions ("3.3", "0.1"
  // and "[null,0,0.1,true,...]"). Fewer means the corpus layout changed and this test is moot.
  EXPECT_GE(checked, 300u);
  EXPECT_GE(with_fractions.size(), 3u);
}

TEST(JsonCorpusTest, FractionalNumbersFormatAsRecorded) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir());
  const std::vector<std::filesystem::path> files = ConformanceCaseFiles();
  // The case files were written by Python, whose float repr has the same digits as Java's
  // Double.toString and the same plain notation for 1e-3 <= |x| < 1e7. Within that range every
  // fractional number must come out of FormatDouble exactly as recorded.
  std::set<std::string> checked;
  for (const auto& path : files) {
    for (const std::string& token : NumberTokens(ReadFile(path))) {
      if (token.find_first_of(".eE") == std::string::npos) continue;
      const double d = ReadDouble(token);
      if (std::fabs(d) < 1e-3 || std::fabs(d) >= 1e7 ||
          token.find_first_of("eE") != std::string::npos) {
        continue;
      }
      EXPECT_EQ(FormatDouble(d), token) << path;
      EXPECT_EQ(SerializeJson(MustParse(token)), token) << path;
      checked.insert(token);
    }
  }
  // 0.0, 0.1, 0.5, 1.0, 1.1, 1.49, 1.5, 1.51, 2.22, 2.5, 3.3, 3.5, 12.5, 44.51, 100.1 and
  // negatives at the time of writing.
  EXPECT_GE(checked.size(), 15u);
  EXPECT_EQ(checked.count("1.0"), 1u);
  EXPECT_EQ(checked.count("0.1"), 1u);
}

TEST(JsonCorpusTest, EveryCaseFileRoundTrips) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir());
  const std::vector<std::filesystem::path> files = ConformanceCaseFiles();
  for (const auto& path : files) {
    const StatusOr<bj::value> doc = LoadJsonFile(path);
    ASSERT_THAT(doc, IsOk()) << path;
    const std::string compact = SerializeJson(*doc);
    const StatusOr<bj::value> again = ParseJson(compact);
    ASSERT_THAT(again, IsOk()) << path;
    EXPECT_EQ(*again, *doc) << path;
    EXPECT_EQ(SerializeJson(*again), compact) << path;
    const StatusOr<bj::value> pretty = ParseJson(SerializeJsonPretty(*doc));
    ASSERT_THAT(pretty, IsOk()) << path;
    EXPECT_EQ(*pretty, *doc) << path;
  }
}

}  // namespace
}  // namespace hpd
