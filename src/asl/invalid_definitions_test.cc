// Table-driven validation tests. The tables live in tests/data/ so that other tools (the
// agreement test against the npm asl-validator) can replay the same definitions:
//
//   invalid_definitions.json  [{"name", "rule", "definition" | "text",
//                               "expect": {"code", "location", "message_contains"?}}]
//   valid_definitions.json    [{"name", "rule", "definition" | "text"}]
//
// "definition" is the definition as a JSON value; "text" is sent verbatim, for what a JSON value
// cannot carry (syntax errors, duplicate keys, empty input). Cases that are impractical to keep in
// a file (more than 1 MB, nesting beyond the limits) are generated here. Paths are relative to the
// repository root, the tests' working directory under ctest.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <cctype>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "asl/diagnostics.h"
#include "asl/parser.h"
#include "common/json.h"

namespace hpd::asl {
namespace {

using ::testing::HasSubstr;

constexpr char kInvalidFile[] = "tests/data/invalid_definitions.json";
constexpr char kValidFile[] = "tests/data/valid_definitions.json";
constexpr size_t kMinInvalidCases = 100;
constexpr size_t kMinValidCases = 25;

struct DefinitionCase {
  std::string name;       // unique snake_case id from the file
  std::string test_name;  // `name`, made safe and unique for GoogleTest
  std::string rule;
  std::string text;  // what ParseDefinition receives
  // Invalid cases only.
  std::string code;
  std::string location;
  std::string message_contains;
};

void PrintTo(const DefinitionCase& c, std::ostream* os) { *os << c.name; }

// The outcome of reading one data file: the cases, and every problem with the file itself.
struct CaseFile {
  std::vector<DefinitionCase> cases;
  std::vector<std::string> problems;
};

bool IsSnakeCase(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

const boost::json::string* StringMember(const boost::json::object& obj, std::string_view key) {
  const boost::json::value* v = obj.if_contains(key);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

CaseFile ReadCaseFile(const std::string& path, bool invalid) {
  CaseFile file;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    file.problems.push_back(path + " cannot be opened (the tests run from the repository root)");
    return file;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  auto document = ParseJson(buffer.str());
  if (!document.ok()) {
    file.problems.push_back(path + ": " + std::string(document.status().message()));
    return file;
  }
  if (!document->is_array()) {
    file.problems.push_back(path + " must hold a JSON array");
    return file;
  }
  std::set<std::string> names;
  const boost::json::array& entries = document->get_array();
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string where = path + "[" + std::to_string(i) + "]";
    if (!entries[i].is_object()) {
      file.problems.push_back(where + " is not an object");
      continue;
    }
    const boost::json::object& entry = entries[i].get_object();
    DefinitionCase c;
    const auto* name = StringMember(entry, "name");
    const auto* rule = StringMember(entry, "rule");
    if (name == nullptr || !IsSnakeCase(std::string(*name))) {
      file.problems.push_back(where + ": \"name\" must be a snake_case string");
      continue;
    }
    c.name = std::string(*name);
    if (!names.insert(c.name).second) file.problems.push_back(where + ": duplicate name " + c.name);
    if (rule == nullptr || rule->empty()) file.problems.push_back(c.name + ": \"rule\" is missing");
    if (rule != nullptr) c.rule = std::string(*rule);
    const boost::json::value* definition = entry.if_contains("definition");
    const auto* text = StringMember(entry, "text");
    if ((definition == nullptr) == (text == nullptr)) {
      file.problems.push_back(c.name + ": exactly one of \"definition\" and \"text\" is required");
      continue;
    }
    c.text = definition != nullptr ? SerializeJson(*definition) : std::string(*text);
    const boost::json::value* expect = entry.if_contains("expect");
    if (invalid) {
      const auto* code = expect != nullptr && expect->is_object()
                             ? StringMember(expect->get_object(), "code")
                             : nullptr;
      const auto* location = expect != nullptr && expect->is_object()
                                 ? StringMember(expect->get_object(), "location")
                                 : nullptr;
      if (code == nullptr || location == nullptr) {
        file.problems.push_back(c.name + ": \"expect\" needs string \"code\" and \"location\"");
        continue;
      }
      c.code = std::string(*code);
      c.location = std::string(*location);
      if (const auto* m = StringMember(expect->get_object(), "message_contains")) {
        c.message_contains = std::string(*m);
      }
    } else if (expect != nullptr) {
      file.problems.push_back(c.name + ": a valid case has no \"expect\"");
    }
    file.cases.push_back(std::move(c));
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// Generated cases.

std::string PaddedDefinition(size_t total_bytes) {
  const std::string head = R"({"Comment":")";
  const std::string tail = R"(","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}})";
  return head + std::string(total_bytes - head.size() - tail.size(), 'x') + tail;
}

// Parallel states nested `levels` deep: P0 holds P1 in its branch, ..., P<levels-1> holds a Pass.
DefinitionCase NestedParallels(size_t levels) {
  std::string scope = R"({"StartAt":"Leaf","States":{"Leaf":{"Type":"Pass","End":true}}})";
  for (size_t k = levels; k-- > 0;) {
    const std::string name = "P" + std::to_string(k);
    scope = R"({"StartAt":")" + name + R"(","States":{")" + name +
            R"(":{"Type":"Parallel","Branches":[)" + scope + R"(],"End":true}}})";
  }
  DefinitionCase c;
  c.name = "parallel_nested_deeper_than_100";
  c.rule = "Parallel and Map scopes nest at most 100 deep";
  c.text = scope;
  c.code = std::string(codes::kTooDeeplyNested);
  for (size_t k = 0; k < levels; ++k) c.location += "/States/P" + std::to_string(k) + "/Branches/0";
  return c;
}

// A Choice rule with `levels` nested Not operators around one comparison.
DefinitionCase NestedNots(size_t levels) {
  std::string inner = R"({"Variable":"$.x","IsPresent":true})";
  for (size_t k = 1; k < levels; ++k) inner = R"({"Not":)" + inner + "}";
  DefinitionCase c;
  c.name = "choice_rule_nested_deeper_than_100";
  c.rule = "Choice rules nest at most 100 deep";
  c.text = R"({"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":)" + inner +
           R"(,"Next":"Done"}]},"Done":{"Type":"Succeed"}}})";
  c.code = std::string(codes::kTooDeeplyNested);
  c.location = "/States/C/Choices/0";
  for (size_t k = 0; k < levels; ++k) c.location += "/Not";
  return c;
}

std::vector<DefinitionCase> GeneratedInvalidCases() {
  std::vector<DefinitionCase> out;
  DefinitionCase too_large;
  too_large.name = "definition_larger_than_1mb";
  too_large.rule = "a definition holds at most 1 MB";
  too_large.text = PaddedDefinition(kMaxDefinitionBytes + 1);
  too_large.code = std::string(codes::kSchemaValidationFailed);
  too_large.location = "";
  too_large.message_contains = "1048577 bytes";
  out.push_back(std::move(too_large));

  DefinitionCase json_too_deep;
  json_too_deep.name = "json_nested_deeper_than_1000";
  json_too_deep.rule = "JSON nesting deeper than the parser's limit is a JSON problem";
  json_too_deep.text = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  json_too_deep.code = std::string(codes::kInvalidJsonDescription);
  json_too_deep.location = "";
  out.push_back(std::move(json_too_deep));

  out.push_back(NestedParallels(101));
  out.push_back(NestedNots(101));
  return out;
}

std::vector<DefinitionCase> GeneratedValidCases() {
  std::vector<DefinitionCase> out;
  DefinitionCase one_megabyte;
  one_megabyte.name = "definition_of_exactly_1mb";
  one_megabyte.rule = "a definition of exactly 1 MB is accepted";
  one_megabyte.text = PaddedDefinition(kMaxDefinitionBytes);
  out.push_back(std::move(one_megabyte));

  DefinitionCase parallels = NestedParallels(100);
  parallels.name = "parallel_nested_100_deep";
  parallels.rule = "Parallel scopes nested 100 deep are accepted";
  out.push_back(std::move(parallels));

  DefinitionCase nots = NestedNots(100);
  nots.name = "choice_rule_nested_100_deep";
  nots.rule = "Choice rules nested 100 deep are accepted";
  out.push_back(std::move(nots));
  return out;
}

// Makes every case's test name unique and acceptable to GoogleTest, whatever the file holds (a
// bad name aborts the whole binary at registration; the file tests below report it instead).
std::vector<DefinitionCase> WithTestNames(std::vector<DefinitionCase> cases) {
  std::set<std::string> used;
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string name = cases[i].name;
    for (char& ch : name) {
      if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
    }
    if (name.empty() || used.contains(name)) name += "_" + std::to_string(i);
    used.insert(name);
    cases[i].test_name = name;
  }
  return cases;
}

const CaseFile& InvalidFile() {
  static const CaseFile file = ReadCaseFile(kInvalidFile, /*invalid=*/true);
  return file;
}
const CaseFile& ValidFile() {
  static const CaseFile file = ReadCaseFile(kValidFile, /*invalid=*/false);
  return file;
}

std::vector<DefinitionCase> AllInvalidCases() {
  std::vector<DefinitionCase> cases = InvalidFile().cases;
  for (auto& c : GeneratedInvalidCases()) cases.push_back(std::move(c));
  return WithTestNames(std::move(cases));
}
std::vector<DefinitionCase> AllValidCases() {
  std::vector<DefinitionCase> cases = ValidFile().cases;
  for (auto& c : GeneratedValidCases()) cases.push_back(std::move(c));
  return WithTestNames(std::move(cases));
}

std::string TestName(const ::testing::TestParamInfo<DefinitionCase>& info) {
  return info.param.test_name;
}

// ---------------------------------------------------------------------------------------------
// The data files themselves: a missing or shrunken file must fail, not silently run nothing.

std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

TEST(DefinitionDataFilesTest, InvalidFileIsWellFormedAndLargeEnough) {
  const CaseFile& file = InvalidFile();
  EXPECT_TRUE(file.problems.empty()) << JoinLines(file.problems);
  EXPECT_GE(file.cases.size(), kMinInvalidCases) << kInvalidFile;
}

TEST(DefinitionDataFilesTest, ValidFileIsWellFormedAndLargeEnough) {
  const CaseFile& file = ValidFile();
  EXPECT_TRUE(file.problems.empty()) << JoinLines(file.problems);
  EXPECT_GE(file.cases.size(), kMinValidCases) << kValidFile;
}

TEST(DefinitionDataFilesTest, InvalidCasesUseDocumentedCodesAndCoverEveryErrorCode) {
  const std::set<std::string> error_codes = {
      std::string(codes::kInvalidJsonDescription), std::string(codes::kMissingDescription),
      std::string(codes::kSchemaValidationFailed), std::string(codes::kInvalidResource),
      std::string(codes::kMissingEndState),        std::string(codes::kDuplicateStateName),
      std::string(codes::kInvalidStateName),       std::string(codes::kDuplicateLabelName),
      std::string(codes::kInvalidLabelName),       std::string(codes::kMissingTransitionTarget),
      std::string(codes::kTooDeeplyNested)};
  std::set<std::string> seen;
  for (const auto& c : AllInvalidCases()) {
    EXPECT_TRUE(error_codes.contains(c.code)) << c.name << ": unknown error code " << c.code;
    seen.insert(c.code);
  }
  for (const auto& code : error_codes) EXPECT_TRUE(seen.contains(code)) << "no case for " << code;
}

// ---------------------------------------------------------------------------------------------

class InvalidDefinitionTest : public ::testing::TestWithParam<DefinitionCase> {};

TEST_P(InvalidDefinitionTest, ReportsTheExpectedError) {
  const DefinitionCase& c = GetParam();
  const ParseResult result = ParseDefinition(c.text);
  EXPECT_FALSE(result.ok());
  const bool found =
      std::any_of(result.diagnostics.begin(), result.diagnostics.end(), [&c](const Diagnostic& d) {
        return d.severity == Severity::kError && d.code == c.code && d.location == c.location &&
               d.message.find(c.message_contains) != std::string::npos;
      });
  EXPECT_TRUE(found) << "rule: " << c.rule << "\nexpected ERROR " << c.code << " at \""
                     << c.location << "\""
                     << (c.message_contains.empty() ? "" : " with \"" + c.message_contains + "\"")
                     << "\ngot:\n"
                     << DiagnosticsToText(result.diagnostics);
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidDefinitionTest, ::testing::ValuesIn(AllInvalidCases()),
                         TestName);

class ValidDefinitionTest : public ::testing::TestWithParam<DefinitionCase> {};

TEST_P(ValidDefinitionTest, IsAccepted) {
  const DefinitionCase& c = GetParam();
  const ParseResult result = ParseDefinition(c.text);
  EXPECT_TRUE(result.ok()) << "rule: " << c.rule << "\n" << DiagnosticsToText(result.diagnostics);
  EXPECT_FALSE(HasErrors(result.diagnostics));
}

INSTANTIATE_TEST_SUITE_P(Table, ValidDefinitionTest, ::testing::ValuesIn(AllValidCases()),
                         TestName);

// ---------------------------------------------------------------------------------------------
// Warnings: reported with their code and location, and never a reason to refuse a definition.

struct WarningCase {
  std::string name;
  std::string state;  // the JSON of the only state, A
  std::string code;
  std::string location;
};

void PrintTo(const WarningCase& c, std::ostream* os) { *os << c.name; }

class WarningTest : public ::testing::TestWithParam<WarningCase> {};

TEST_P(WarningTest, IsReportedAndKeepsTheDefinitionValid) {
  const WarningCase& c = GetParam();
  const ParseResult result = ParseDefinition(R"({"StartAt":"A","States":{"A":)" + c.state + "}}");
  EXPECT_TRUE(result.ok()) << DiagnosticsToText(result.diagnostics);
  EXPECT_FALSE(HasErrors(result.diagnostics));
  const bool found =
      std::any_of(result.diagnostics.begin(), result.diagnostics.end(), [&c](const Diagnostic& d) {
        return d.severity == Severity::kWarning && d.code == c.code && d.location == c.location;
      });
  EXPECT_TRUE(found) << "expected WARNING " << c.code << " at \"" << c.location << "\", got:\n"
                     << DiagnosticsToText(result.diagnostics);
  EXPECT_THAT(DiagnosticsToJson(result.diagnostics), HasSubstr(R"("result":"OK")"));
}

// Each case is one state named A, the whole state machine.
const WarningCase kWarningCases[] = {
    {"no_dollar_path_in_parameters",
     R"json({"Type":"Pass","Parameters":{"x":"$.a"},"End":true})json", "NO_DOLLAR",
     "/States/A/Parameters/x"},
    {"no_dollar_context_path_nested",
     R"json({"Type":"Pass","Parameters":{"o":{"id":"$$.Execution.Id"}},"End":true})json",
     "NO_DOLLAR", "/States/A/Parameters/o/id"},
    {"no_dollar_intrinsic",
     R"json({"Type":"Pass","Parameters":{"m":"States.Format('{}', $.a)"},"End":true})json",
     "NO_DOLLAR", "/States/A/Parameters/m"},
    {"no_dollar_in_result_selector",
     R"json({"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
             "ResultSelector":{"r":"$.Payload"},"End":true})json",
     "NO_DOLLAR", "/States/A/ResultSelector/r"},
    {"no_path_fail_error", R"json({"Type":"Fail","Error":"$.error"})json", "NO_PATH",
     "/States/A/Error"},
    {"no_path_fail_cause",
     R"json({"Type":"Fail","Error":"E","Cause":"$$.Execution.Input.cause"})json", "NO_PATH",
     "/States/A/Cause"},
    {"pass_result_is_static", R"json({"Type":"Pass","Result":{"a.$":"$.x"},"End":true})json",
     "PASS_RESULT_IS_STATIC", "/States/A/Result/a.$"},
    {"pass_result_is_static_nested",
     R"json({"Type":"Pass","Result":{"list":[{"v.$":"$.v"}]},"End":true})json",
     "PASS_RESULT_IS_STATIC", "/States/A/Result/list/0/v.$"},
    {"retry_interval_seconds_zero",
     R"json({"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
             "Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":0}],"End":true})json",
     "SCHEMA_VALIDATION_FAILED", "/States/A/Retry/0/IntervalSeconds"},
};

std::string WarningTestName(const ::testing::TestParamInfo<WarningCase>& param_info) {
  return param_info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Table, WarningTest, ::testing::ValuesIn(kWarningCases), WarningTestName);

}  // namespace
}  // namespace hpd::asl
