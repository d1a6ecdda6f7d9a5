#include "engine/python_json.h"

#include <cmath>
#include <limits>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/json.h"

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

}  // namespace
}  // namespace hpd::engine
