#include "asl/choice_eval.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "asl/parser.h"
#include "common/json.h"
#include "common/status_matchers.h"
#include "support/corpus.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;
using ::hpd::testing::ConformanceCaseFiles;
using ::hpd::testing::ConformanceCasesDir;
using ::hpd::testing::LoadJsonFile;
using ::testing::HasSubstr;

using ::hpd::testing::Json;

// The Choices of a compiled Choice state, kept alive with their machine.
struct CompiledChoices {
  std::shared_ptr<const StateMachine> machine;
  const std::vector<ChoiceRule>* rules = nullptr;
};

// Compiles `rules_json` (a JSON array of top-level rules without "Next") as the Choices of a
// Choice state; every rule gets "Next": "D".
CompiledChoices CompileRules(std::string_view rules_json) {
  json::value rules = Json(rules_json);
  for (json::value& rule : rules.as_array()) rule.as_object()["Next"] = "D";
  const std::string definition =
      R"({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": )" + SerializeJson(rules) +
      R"(, "Default": "D"}, "D": {"Type": "Succeed"}}})";
  ParseResult result = ParseDefinition(std::string_view(definition));
  CompiledChoices out;
  EXPECT_TRUE(result.ok()) << definition;
  if (!result.ok()) return out;
  out.machine = result.machine;
  out.rules = &out.machine->Find("C")->choices;
  return out;
}

// Evaluates one rule (written without "Next") against `input`.
StatusOr<bool> Holds(std::string_view rule_json, const json::value& input,
                     const json::value* context = nullptr) {
  CompiledChoices compiled = CompileRules("[" + std::string(rule_json) + "]");
  if (compiled.rules == nullptr) return InvalidArgumentError("rule did not compile");
  EvaluationScope scope{&input, context, nullptr, nullptr};
  return EvaluateChoiceRule(compiled.rules->front(), scope);
}

MATCHER_P2(IsStatesError, name, cause,
           "is an error named " + std::string(name) + " with cause " + std::string(cause)) {
  const Status status = status_matchers_internal::GetStatus(arg);
  *result_listener << "status is " << status << " named '" << status.error_name() << "'";
  return !status.ok() && status.error_name() == name && status.message() == cause;
}

struct RuleCase {
  std::string rule;
  std::string input;
  bool expected;
};

void PrintTo(const RuleCase& c, std::ostream* os) {
  *os << c.rule << " on " << c.input << " -> " << (c.expected ? "true" : "false");
}

class ChoiceRuleTableTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(ChoiceRuleTableTest, Evaluates) {
  const RuleCase& c = GetParam();
  EXPECT_THAT(Holds(c.rule, Json(c.input)), IsOkAndHolds(c.expected))
      << c.rule << " on " << c.input;
}

INSTANTIATE_TEST_SUITE_P(
    Strings, ChoiceRuleTableTest,
    ::testing::Values(
        RuleCase{R"({"Variable": "$.v", "StringEquals": "abc"})", R"({"v": "abc"})", true},
        RuleCase{R"({"Variable": "$.v", "StringEquals": "abc"})", R"({"v": "abd"})", false},
        RuleCase{R"({"Variable": "$.v", "StringEquals": "1"})", R"({"v": 1})", false},
        RuleCase{R"({"Variable": "$.v", "StringLessThan": "AB"})", R"({"v": "A"})", true},
        RuleCase{R"({"Variable": "$.v", "StringLessThan": "A"})", R"({"v": "A"})", false},
        RuleCase{R"({"Variable": "$.v", "StringLessThanEquals": "A"})", R"({"v": "A"})", true},
        RuleCase{R"({"Variable": "$.v", "StringGreaterThan": "A"})", R"({"v": "a"})", true},
        RuleCase{R"({"Variable": "$.v", "StringGreaterThanEquals": "b"})", R"({"v": "a"})", false},
        RuleCase{R"({"Variable": "$.v", "StringGreaterThan": "A"})", R"({"v": null})", false},
        // Java compares UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FF61.
        RuleCase{R"({"Variable": "$.v", "StringLessThan": "\uff61"})", R"({"v": "\ud83d\ude00"})",
                 true},
        RuleCase{R"({"Variable": "$.v", "StringGreaterThan": "\ud83d\ude00"})",
                 R"({"v": "\uff61"})", true},
        RuleCase{R"({"Variable": "$.v", "StringEqualsPath": "$.w"})", R"({"v": "x", "w": "x"})",
                 true},
        RuleCase{R"({"Variable": "$.v", "StringEqualsPath": "$.w"})", R"({"v": "1", "w": 1})",
                 false},
        RuleCase{R"({"Variable": "$.v", "StringLessThanPath": "$.w"})", R"({"v": "a", "w": "b"})",
                 true}));

INSTANTIATE_TEST_SUITE_P(
    Matches, ChoiceRuleTableTest,
    ::testing::Values(
        RuleCase{R"({"Variable": "$.v", "StringMatches": "log-*.txt"})", R"({"v": "log-1.txt"})",
                 true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "log-*.txt"})", R"({"v": "log-.txt"})",
                 true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "log-*.txt"})", R"({"v": "log-1.tx"})",
                 false},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "*.log"})", R"({"v": "zebra.log"})", true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "foo*.*"})", R"({"v": "foobar.zebra"})",
                 true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "*"})", R"({"v": ""})", true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "a*b*c"})", R"({"v": "aXbYbZc"})", true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "a*b*c"})", R"({"v": "aXbYbZ"})", false},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "a\\*b"})", R"({"v": "a*b"})", true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "a\\*b"})", R"({"v": "aXb"})", false},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "a\\\\*"})", R"({"v": "a\\xyz"})", true},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "?"})", R"({"v": "x"})", false},
        RuleCase{R"({"Variable": "$.v", "StringMatches": "*"})", R"({"v": 1})", false}));

INSTANTIATE_TEST_SUITE_P(
    Numbers, ChoiceRuleTableTest,
    ::testing::Values(
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": 1.0})", true},
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 1.0})", R"({"v": 1})", true},
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 0})", R"({"v": -0.0})", true},
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": "1"})", false},
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 1})", R"({"v": true})", false},
        // 2^53 + 1 is not the double 2^53: compared mathematically, not through double.
        RuleCase{R"({"Variable": "$.v", "NumericEquals": 9007199254740992.0})",
                 R"({"v": 9007199254740993})", false},
        RuleCase{R"({"Variable": "$.v", "NumericGreaterThan": 9007199254740992.0})",
                 R"({"v": 9007199254740993})", true},
        RuleCase{R"({"Variable": "$.v", "NumericLessThan": 18446744073709551615})", R"({"v": -1})",
                 true},
        RuleCase{R"({"Variable": "$.v", "NumericGreaterThan": 1e300})",
                 R"({"v": 18446744073709551615})", false},
        RuleCase{R"({"Variable": "$.v", "NumericLessThan": 1.5})", R"({"v": 1})", true},
        RuleCase{R"({"Variable": "$.v", "NumericLessThan": -1.5})", R"({"v": -1})", false},
        RuleCase{R"({"Variable": "$.v", "NumericGreaterThan": -1.5})", R"({"v": -1})", true},
        RuleCase{R"({"Variable": "$.v", "NumericGreaterThanEquals": 2})", R"({"v": 2.0})", true},
        RuleCase{R"({"Variable": "$.v", "NumericLessThanEquals": 2})", R"({"v": 2.5})", false},
        RuleCase{R"({"Variable": "$.v", "NumericEqualsPath": "$.w"})", R"({"v": 3, "w": 3.0})",
                 true},
        RuleCase{R"({"Variable": "$.v", "NumericLessThanPath": "$.w"})", R"({"v": 3, "w": "4"})",
                 false}));

INSTANTIATE_TEST_SUITE_P(
    BooleansAndTimestamps, ChoiceRuleTableTest,
    ::testing::Values(
        RuleCase{R"({"Variable": "$.v", "BooleanEquals": true})", R"({"v": true})", true},
        RuleCase{R"({"Variable": "$.v", "BooleanEquals": false})", R"({"v": 0})", false},
        RuleCase{R"({"Variable": "$.v", "BooleanEqualsPath": "$.w"})",
                 R"({"v": false, "w": false})", true},
        RuleCase{R"({"Variable": "$.v", "TimestampEquals": "2016-03-14T01:59:00Z"})",
                 R"({"v": "2016-03-14T02:59:00+01:00"})", true},
        RuleCase{R"({"Variable": "$.v", "TimestampEquals": "2016-03-14T01:59:00Z"})",
                 R"({"v": "2016-03-14T01:59:00.000000001Z"})", false},
        RuleCase{R"({"Variable": "$.v", "TimestampLessThan": "2016-03-14T01:59:00Z"})",
                 R"({"v": "2016-03-14T01:58:59.999Z"})", true},
        RuleCase{R"({"Variable": "$.v", "TimestampGreaterThanEquals": "2016-03-14T01:59:00Z"})",
                 R"({"v": "2016-03-14T01:59:00Z"})", true},
        RuleCase{R"({"Variable": "$.v", "TimestampLessThanEquals": "2016-03-14T01:59:00Z"})",
                 R"({"v": "2016-03-14T01:59:00"})", false},
        RuleCase{R"({"Variable": "$.v", "TimestampGreaterThan": "2016-03-14T01:59:00Z"})",
                 R"({"v": 1e20})", false},
        RuleCase{R"({"Variable": "$.v", "TimestampEqualsPath": "$.w"})",
                 R"({"v": "2016-03-14T01:59:00Z", "w": "not a time"})", false}));

INSTANTIATE_TEST_SUITE_P(
    Predicates, ChoiceRuleTableTest,
    ::testing::Values(
        RuleCase{R"({"Variable": "$.v", "IsNull": true})", R"({"v": null})", true},
        RuleCase{R"({"Variable": "$.v", "IsNull": false})", R"({"v": null})", false},
        RuleCase{R"({"Variable": "$.v", "IsNull": true})", R"({"v": 0})", false},
        RuleCase{R"({"Variable": "$.v", "IsPresent": true})", R"({"v": null})", true},
        RuleCase{R"({"Variable": "$.v", "IsPresent": true})", R"({})", false},
        RuleCase{R"({"Variable": "$.v", "IsPresent": false})", R"({})", true},
        RuleCase{R"({"Variable": "$.v.w[3]", "IsPresent": false})", R"({"v": "x"})", true},
        RuleCase{R"({"Variable": "$.v", "IsNumeric": true})", R"({"v": 1.5})", true},
        RuleCase{R"({"Variable": "$.v", "IsNumeric": true})", R"({"v": -3})", true},
        RuleCase{R"({"Variable": "$.v", "IsNumeric": true})", R"({"v": "1"})", false},
        RuleCase{R"({"Variable": "$.v", "IsString": true})", R"({"v": ""})", true},
        RuleCase{R"({"Variable": "$.v", "IsString": false})", R"({"v": []})", true},
        RuleCase{R"({"Variable": "$.v", "IsBoolean": true})", R"({"v": false})", true},
        RuleCase{R"({"Variable": "$.v", "IsBoolean": true})", R"({"v": "true"})", false},
        RuleCase{R"({"Variable": "$.v", "IsTimestamp": true})",
                 R"({"v": "2012-10-09T19:00:55+01:00"})", true},
        RuleCase{R"({"Variable": "$.v", "IsTimestamp": true})", R"({"v": "2012-10-09T19:00:55"})",
                 false},
        RuleCase{R"({"Variable": "$.v", "IsTimestamp": false})", R"({"v": 20121009})", true}));

INSTANTIATE_TEST_SUITE_P(
    Combinators, ChoiceRuleTableTest,
    ::testing::Values(RuleCase{R"({"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20},
                             {"Variable": "$.v", "NumericLessThan": 30}]})",
                               R"({"v": 22})", true},
                      RuleCase{R"({"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20},
                             {"Variable": "$.v", "NumericLessThan": 30}]})",
                               R"({"v": 30})", false},
                      RuleCase{R"({"Or": [{"Variable": "$.v", "StringEquals": "a"},
                            {"Variable": "$.v", "StringEquals": "b"}]})",
                               R"({"v": "b"})", true},
                      RuleCase{R"({"Not": {"Variable": "$.type", "StringEquals": "Private"}})",
                               R"({"type": "Public"})", true},
                      // Short-circuit: the comparison on the missing field is never evaluated.
                      RuleCase{R"({"And": [{"Variable": "$.maybe", "IsPresent": true},
                             {"Variable": "$.maybe", "StringEquals": "foo"}]})",
                               R"({})", false},
                      RuleCase{R"({"Or": [{"Variable": "$.maybe", "IsPresent": false},
                            {"Variable": "$.maybe", "StringEquals": "foo"}]})",
                               R"({})", true}));

TEST(ChoiceRuleTest, MissingVariableIsStatesRuntime) {
  EXPECT_THAT(Holds(R"({"Variable": "$.value", "NumericEquals": 42})", Json("{}")),
              IsStatesError("States.Runtime",
                            "Invalid path '$.value': The choice state's condition path references "
                            "an invalid value."));
  EXPECT_THAT(Holds(R"({"Variable": "$.v", "IsNull": true})", Json("{}")),
              IsStatesError("States.Runtime",
                            "Invalid path '$.v': The choice state's condition path references an "
                            "invalid value."));
  EXPECT_THAT(Holds(R"({"Not": {"Variable": "$.v", "StringEquals": "x"}})", Json("{}")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Invalid path '$.v'")));
}

TEST(ChoiceRuleTest, MissingOperandPathIsStatesRuntime) {
  EXPECT_THAT(
      Holds(R"({"Variable": "$.left", "NumericEqualsPath": "$.right"})", Json(R"({"left": 8})")),
      IsStatesError("States.Runtime",
                    "Invalid path '$.right': The choice state's condition path references "
                    "an invalid value."));
}

TEST(ChoiceRuleTest, ContextObjectAndVariables) {
  const json::value input = Json("{}");
  const json::value context = Json(R"({"Execution": {"Input": {"input-value": 0}}})");
  EXPECT_THAT(Holds(R"({"Variable": "$$.Execution.Input.input-value", "NumericLessThanEquals": 0})",
                    input, &context),
              IsOkAndHolds(true));

  CompiledChoices compiled =
      CompileRules(R"([{"Variable": "$guess", "StringEqualsPath": "$answer"}])");
  ASSERT_NE(compiled.rules, nullptr);
  std::map<std::string, json::value, std::less<>> variables{{"guess", json::value("a")},
                                                            {"answer", json::value("a")}};
  EvaluationScope scope{&input, nullptr,
                        [&variables](std::string_view name) -> const json::value* {
                          auto it = variables.find(name);
                          return it == variables.end() ? nullptr : &it->second;
                        },
                        nullptr};
  EXPECT_THAT(EvaluateChoiceRule(compiled.rules->front(), scope), IsOkAndHolds(true));
  variables["answer"] = "b";
  EXPECT_THAT(EvaluateChoiceRule(compiled.rules->front(), scope), IsOkAndHolds(false));
  variables.erase("guess");
  EXPECT_THAT(EvaluateChoiceRule(compiled.rules->front(), scope),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Invalid path '$guess'")));
}

TEST(EvaluateChoicesTest, ReturnsTheFirstMatchingRuleOrNone) {
  CompiledChoices compiled = CompileRules(R"([
      {"Not": {"Variable": "$.type", "StringEquals": "Private"}},
      {"Variable": "$.value", "NumericEquals": 0},
      {"And": [{"Variable": "$.value", "NumericGreaterThanEquals": 20},
               {"Variable": "$.value", "NumericLessThan": 30}]}])");
  ASSERT_NE(compiled.rules, nullptr);
  const auto choose = [&](std::string_view input_text) {
    const json::value input = Json(input_text);
    return EvaluateChoices(*compiled.rules, EvaluationScope{&input, nullptr, nullptr, nullptr});
  };
  EXPECT_THAT(choose(R"({"type": "Public", "value": 3})"), IsOkAndHolds(std::optional<size_t>(0)));
  EXPECT_THAT(choose(R"({"type": "Private", "value": 0})"), IsOkAndHolds(std::optional<size_t>(1)));
  EXPECT_THAT(choose(R"({"type": "Private", "value": 22})"),
              IsOkAndHolds(std::optional<size_t>(2)));
  EXPECT_THAT(choose(R"({"type": "Private", "value": 3})"), IsOkAndHolds(std::nullopt));
  // Rules after the first match are not evaluated: the missing $.value does not fail.
  EXPECT_THAT(choose(R"({"type": "Public"})"), IsOkAndHolds(std::optional<size_t>(0)));
  EXPECT_THAT(choose(R"({"type": "Private"})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Invalid path '$.value'")));
}

TEST(EvaluateChoicesTest, NoChoiceMatchedIsStatesRuntime) {
  EXPECT_THAT(NoChoiceMatchedError(),
              IsStatesError("States.Runtime",
                            "Failed to transition out of the state. The state does not point to a "
                            "next state."));
}

TEST(EvaluateChoicesTest, JsonataConditions) {
  ChoiceRule literal;
  literal.kind = ChoiceRule::Kind::kCondition;
  literal.condition_literal = true;
  const json::value input = Json("{}");
  const EvaluationScope scope{&input, nullptr, nullptr, nullptr};
  EXPECT_THAT(EvaluateChoiceRule(literal, scope), IsOkAndHolds(true));
  ChoiceRule expression;
  expression.kind = ChoiceRule::Kind::kCondition;
  expression.condition = "$states.input.x = 1";
  EXPECT_THAT(EvaluateChoiceRule(expression, scope), StatusIs(StatusCode::kUnimplemented));
}

TEST(CompareUtf16Test, OrdersByUtf16CodeUnits) {
  EXPECT_EQ(CompareUtf16("a", "a"), 0);
  EXPECT_LT(CompareUtf16("a", "b"), 0);
  EXPECT_LT(CompareUtf16("A", "AB"), 0);
  EXPECT_GT(CompareUtf16("\xEF\xBD\xA1", "\xF0\x9F\x98\x80"), 0);  // U+FF61 > U+1F600
  EXPECT_LT(CompareUtf16("\xED\x9F\xBF", "\xF0\x9F\x98\x80"), 0);  // U+D7FF < U+1F600
  EXPECT_LT(CompareUtf16("\xF0\x9F\x98\x80", "\xF0\x9F\x98\x81"), 0);
  EXPECT_EQ(CompareUtf16("\xFF", "\xEF\xBF\xBD"), 0);  // a stray byte counts as U+FFFD
}

// --- Corpus: choice_operators ----------------------------------------------------------------
//
// Each case is a Choice state "CheckValues" with one rule whose Next is "ConditionTrue", a
// Default "ConditionFalse", and Pass states whose Result names the branch AWS took.

TEST(ChoiceCorpusTest, ChoiceOperatorCasesTakeTheBranchAwsTook) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir() / "choice_operators");
  const std::vector<std::filesystem::path> files = ConformanceCaseFiles("choice_operators");
  size_t checked = 0;
  size_t took_true = 0;
  std::vector<std::string> mismatches;
  for (const auto& file : files) {
    StatusOr<json::value> document = LoadJsonFile(file);
    ASSERT_TRUE(document.ok()) << file << ": " << document.status();
    const json::object& test_case = document->as_object();
    const std::string name = file.filename().string();
    ParseResult parsed = ParseDefinition(test_case.at("definition"));
    if (!parsed.ok()) {
      mismatches.push_back(name + ": definition rejected by the parser");
      continue;
    }
    const State* choice = parsed.machine->Find("CheckValues");
    const json::value* output = test_case.at("expected").as_object().if_contains("output");
    const json::value* branch = output != nullptr && output->is_object()
                                    ? output->as_object().if_contains("TestResult.$")
                                    : nullptr;
    if (choice == nullptr || branch == nullptr || !branch->is_string()) {
      mismatches.push_back(name + ": not a choice_operators case");
      continue;
    }
    const json::value& input = test_case.at("input");
    StatusOr<std::optional<size_t>> chosen =
        EvaluateChoices(choice->choices, EvaluationScope{&input, nullptr, nullptr, nullptr});
    ++checked;
    if (!chosen.ok()) {
      mismatches.push_back(name + ": " + chosen.status().ToString());
      continue;
    }
    const std::string taken =
        chosen->has_value() ? choice->choices[**chosen].next : choice->default_next;
    if (taken == "ConditionTrue") ++took_true;
    if (taken != branch->get_string()) {
      mismatches.push_back(name + ": took " + taken + ", AWS took " +
                           std::string(branch->get_string()) + " for input " +
                           SerializeJson(input));
    }
  }
  for (const std::string& mismatch : mismatches) ADD_FAILURE() << mismatch;
  std::cout << "[ choice corpus ] checked " << checked << " of " << files.size() << ", "
            << took_true << " took ConditionTrue, mismatched " << mismatches.size() << "\n";
  EXPECT_GE(checked, 364u);
  EXPECT_GE(took_true, 100u);  // both branches are exercised
}

}  // namespace
}  // namespace hpd::asl
