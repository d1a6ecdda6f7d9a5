// The compiled model ParseDefinition returns for valid definitions, and the diagnostics renderers.
// Rejections are covered table by table in invalid_definitions_test.cc.
#include "asl/parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "asl/definition.h"
#include "asl/diagnostics.h"
#include "common/json.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = ValueTemplate::Kind;

// Parses a definition that must be valid; fails the test (and returns an empty machine) if not.
std::shared_ptr<const StateMachine> Compile(std::string_view text) {
  ParseResult result = ParseDefinition(text);
  EXPECT_TRUE(result.ok()) << DiagnosticsToText(result.diagnostics);
  if (!result.ok()) return std::make_shared<const StateMachine>();
  return result.machine;
}

// The state `name` of `machine`; fails the test if there is none.
const State& StateNamed(const StateMachine& machine, const std::string& name) {
  static const State kMissing;
  const State* state = machine.Find(name);
  EXPECT_NE(state, nullptr) << "no state " << name;
  return state != nullptr ? *state : kMissing;
}

const ValueTemplate& FieldOf(const ValueTemplate& t, const std::string& name) {
  static const ValueTemplate kMissing;
  for (const auto& f : t.fields) {
    if (f.name == name) return f.value;
  }
  ADD_FAILURE() << "no field " << name;
  return kMissing;
}

// ---------------------------------------------------------------------------------------------
// Top level and transitions.

TEST(ParserTest, TopLevelFieldsAndStateOrder) {
  auto m = Compile(R"({
    "Comment": "demo", "Version": "1.0", "TimeoutSeconds": 300, "StartAt": "First",
    "States": {
      "First": {"Type": "Pass", "Comment": "one", "Next": "Second"},
      "Second": {"Type": "Succeed"}
    }})");
  EXPECT_EQ(m->comment, "demo");
  EXPECT_EQ(m->version, "1.0");
  EXPECT_EQ(m->timeout_seconds, 300);
  EXPECT_EQ(m->start_at, "First");
  EXPECT_EQ(m->query_language, QueryLanguage::kJsonPath);
  ASSERT_EQ(m->states.size(), 2u);
  EXPECT_EQ(m->states[0].name, "First");
  EXPECT_EQ(m->states[1].name, "Second");
  EXPECT_EQ(m->index.at("Second"), 1u);
  EXPECT_EQ(m->Find("Nope"), nullptr);
  EXPECT_EQ(StateNamed(*m, "First").comment, "one");
}

TEST(ParserTest, EveryStateTypeWithItsTransition) {
  auto m = Compile(R"({"StartAt": "P", "States": {
    "P": {"Type": "Pass", "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "C"},
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "W"}],
          "Default": "F"},
    "W": {"Type": "Wait", "Seconds": 1, "Next": "Par"},
    "Par": {"Type": "Parallel",
            "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "End": true}}}],
            "Next": "M"},
    "M": {"Type": "Map",
          "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
          "Next": "S"},
    "S": {"Type": "Succeed"},
    "F": {"Type": "Fail"}
  }})");
  EXPECT_EQ(StateNamed(*m, "P").type, StateType::kPass);
  EXPECT_EQ(StateNamed(*m, "T").type, StateType::kTask);
  EXPECT_EQ(StateNamed(*m, "C").type, StateType::kChoice);
  EXPECT_EQ(StateNamed(*m, "W").type, StateType::kWait);
  EXPECT_EQ(StateNamed(*m, "Par").type, StateType::kParallel);
  EXPECT_EQ(StateNamed(*m, "M").type, StateType::kMap);
  EXPECT_EQ(StateNamed(*m, "S").type, StateType::kSucceed);
  EXPECT_EQ(StateNamed(*m, "F").type, StateType::kFail);
  EXPECT_EQ(StateNamed(*m, "P").next, "T");
  EXPECT_FALSE(StateNamed(*m, "P").end);
  EXPECT_EQ(StateNamed(*m, "M").next, "S");
  EXPECT_TRUE(StateNamed(*m, "S").next.empty());
  EXPECT_FALSE(StateNamed(*m, "S").end);  // terminal by type, not by End
  EXPECT_EQ(StateNamed(*m, "C").default_next, "F");
  EXPECT_EQ(StateTypeName(StateNamed(*m, "Par").type), "Parallel");
}

// Every transition string of a scope leads straight to its state (StateMachine::Transition).
TEST(ParserTest, TransitionsAreIndexedByTheStringsThatNameThem) {
  std::shared_ptr<const StateMachine> machine = Compile(R"({"StartAt": "A", "States": {
      "A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "B"}],
            "Default": "C"},
      "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}], "Next": "C"},
      "C": {"Type": "Succeed"}}})");
  const StateMachine& m = *machine;
  const State* a = m.Find("A");
  const State* b = m.Find("B");
  const State* c = m.Find("C");
  EXPECT_EQ(m.transitions.size(), 5u);  // StartAt, the rule's Next, Default, B's Next and Catch
  EXPECT_EQ(m.transitions.at(&m.start_at), a);
  EXPECT_EQ(m.transitions.at(&a->choices[0].next), b);
  EXPECT_EQ(m.transitions.at(&a->default_next), c);
  EXPECT_EQ(m.transitions.at(&b->next), c);
  EXPECT_EQ(m.transitions.at(&b->catch_[0].next), c);
  // Any other string still finds its state by name.
  EXPECT_EQ(m.Transition(std::string("B")), b);
  EXPECT_EQ(m.Transition(std::string("nope")), nullptr);
}

TEST(ParserTest, EndTrueMarksTheState) {
  auto m = Compile(R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})");
  EXPECT_TRUE(StateNamed(*m, "A").end);
  EXPECT_TRUE(StateNamed(*m, "A").next.empty());
}

TEST(ParserTest, DocumentOverloadGivesTheSameMachine) {
  json::value doc =
      json::parse(R"({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}})");
  ParseResult result = ParseDefinition(doc);
  ASSERT_TRUE(result.ok()) << DiagnosticsToText(result.diagnostics);
  EXPECT_EQ(result.machine->start_at, "A");
  EXPECT_TRUE(result.diagnostics.empty());
}

TEST(ParserTest, InvalidDefinitionGivesNoMachine) {
  ParseResult result =
      ParseDefinition(std::string_view(R"({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})"));
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.machine, nullptr);
  EXPECT_TRUE(HasErrors(result.diagnostics));
}

TEST(ParserTest, WarningsAloneStillGiveAMachine) {
  ParseResult result = ParseDefinition(std::string_view(
      R"({"StartAt": "A",
          "States": {"A": {"Type": "Pass", "Parameters": {"x": "$.a"}, "End": true}}})"));
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.diagnostics.size(), 1u);
  EXPECT_EQ(result.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(result.diagnostics[0].code, codes::kNoDollar);
}

// ---------------------------------------------------------------------------------------------
// Data flow.

TEST(ParserTest, ResultPathAbsentNullAndPath) {
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Pass", "ResultPath": null, "Next": "C"},
    "C": {"Type": "Pass", "ResultPath": "$.out.value", "End": true}}})");
  const State& a = StateNamed(*m, "A");
  EXPECT_FALSE(a.result_path.discard);
  EXPECT_EQ(a.result_path.path, nullptr);  // "$": replace the input
  const State& b = StateNamed(*m, "B");
  EXPECT_TRUE(b.result_path.discard);
  EXPECT_EQ(b.result_path.path, nullptr);
  const State& c = StateNamed(*m, "C");
  EXPECT_FALSE(c.result_path.discard);
  ASSERT_NE(c.result_path.path, nullptr);
  EXPECT_EQ(c.result_path.path->text(), "$.out.value");
  EXPECT_TRUE(c.result_path.path->IsReferencePath());
}

TEST(ParserTest, InputPathAndOutputPathNullAndPaths) {
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "InputPath": null, "OutputPath": null, "Next": "B"},
    "B": {"Type": "Pass", "InputPath": "$.in", "OutputPath": "$.items[*].id", "End": true}}})");
  const State& a = StateNamed(*m, "A");
  EXPECT_TRUE(a.input_path_null);
  EXPECT_TRUE(a.output_path_null);
  EXPECT_EQ(a.input_path, nullptr);
  const State& b = StateNamed(*m, "B");
  EXPECT_FALSE(b.input_path_null);
  ASSERT_NE(b.input_path, nullptr);
  EXPECT_EQ(b.input_path->text(), "$.in");
  ASSERT_NE(b.output_path, nullptr);
  EXPECT_FALSE(b.output_path->IsDefinite());
}

TEST(ParserTest, ParametersWithDollarKeysIntrinsicsAndLiterals) {
  auto m = Compile(R"json({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {
    "path.$": "$.x",
    "context.$": "$$.Execution.Id",
    "variable.$": "$counter",
    "call.$": "States.Format('{} items', States.ArrayLength($.items))",
    "number": 1,
    "nested": {"deep": [1, {"v": "literal"}]},
    "mixed": [1, {"p.$": "$.p"}]
  }, "End": true}}})json");
  const State& a = StateNamed(*m, "A");
  ASSERT_TRUE(a.parameters.has_value());
  const ValueTemplate& t = *a.parameters;
  ASSERT_EQ(t.kind, Kind::kObject);
  std::vector<std::string> names;
  for (const auto& f : t.fields) names.push_back(f.name);
  EXPECT_THAT(names,
              ElementsAre("path", "context", "variable", "call", "number", "nested", "mixed"));

  const ValueTemplate& path = FieldOf(t, "path");
  ASSERT_EQ(path.kind, Kind::kPath);
  EXPECT_EQ(path.path->text(), "$.x");
  EXPECT_EQ(path.path->root(), JsonPath::Root::kInput);
  EXPECT_EQ(FieldOf(t, "context").path->root(), JsonPath::Root::kContext);
  ASSERT_EQ(FieldOf(t, "variable").kind, Kind::kPath);
  EXPECT_EQ(FieldOf(t, "variable").path->variable_name(), "counter");

  const ValueTemplate& call = FieldOf(t, "call");
  ASSERT_EQ(call.kind, Kind::kIntrinsic);
  EXPECT_EQ(call.intrinsic->function, IntrinsicFunction::kFormat);
  ASSERT_EQ(call.intrinsic->args.size(), 2u);
  EXPECT_TRUE(call.intrinsic->args[1].is_call());

  const ValueTemplate& number = FieldOf(t, "number");
  EXPECT_EQ(number.kind, Kind::kLiteral);
  EXPECT_EQ(number.literal, json::value(1));
  // A subtree without dynamic parts collapses to one literal.
  const ValueTemplate& nested = FieldOf(t, "nested");
  EXPECT_EQ(nested.kind, Kind::kLiteral);
  EXPECT_TRUE(nested.fields.empty());
  EXPECT_EQ(nested.literal, json::parse(R"({"deep": [1, {"v": "literal"}]})"));
  const ValueTemplate& mixed = FieldOf(t, "mixed");
  ASSERT_EQ(mixed.kind, Kind::kArray);
  ASSERT_EQ(mixed.items.size(), 2u);
  EXPECT_EQ(mixed.items[0].kind, Kind::kLiteral);
  EXPECT_EQ(mixed.items[1].kind, Kind::kObject);
  EXPECT_TRUE(mixed.IsDynamic());
}

TEST(ParserTest, ParametersWithoutDynamicPartsAreOneLiteral) {
  auto m = Compile(R"({"StartAt": "A", "States": {"A": {"Type": "Pass",
    "Parameters": {"a": {"b": [1, 2]}, "c": "$.looks.like.a.path"}, "End": true}}})");
  const ValueTemplate& t = *StateNamed(*m, "A").parameters;
  EXPECT_EQ(t.kind, Kind::kLiteral);
  EXPECT_FALSE(t.IsDynamic());
  EXPECT_EQ(t.literal, json::parse(R"({"a": {"b": [1, 2]}, "c": "$.looks.like.a.path"})"));
}

TEST(ParserTest, ResultSelectorCredentialsAndAssignTemplates) {
  auto m = Compile(R"({"StartAt": "A", "States": {"A": {"Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "ResultSelector": {"body.$": "$.Payload"},
    "Credentials": {"RoleArn.$": "$.role"},
    "Assign": {"total.$": "$.n", "flag": true},
    "End": true}}})");
  const State& a = StateNamed(*m, "A");
  ASSERT_TRUE(a.result_selector.has_value());
  EXPECT_EQ(FieldOf(*a.result_selector, "body").kind, Kind::kPath);
  ASSERT_TRUE(a.credentials.has_value());
  EXPECT_EQ(FieldOf(*a.credentials, "RoleArn").kind, Kind::kPath);
  ASSERT_TRUE(a.assign.has_value());
  ASSERT_EQ(a.assign->kind, Kind::kObject);
  EXPECT_EQ(FieldOf(*a.assign, "total").kind, Kind::kPath);
  EXPECT_EQ(FieldOf(*a.assign, "flag").kind, Kind::kLiteral);
}

TEST(ParserTest, PassResultIsKeptAsWritten) {
  auto m = Compile(R"({"StartAt": "A", "States": {"A": {"Type": "Pass",
    "Result": {"a": [1, null]}, "End": true}}})");
  const State& a = StateNamed(*m, "A");
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(*a.result, json::parse(R"({"a": [1, null]})"));
}

// ---------------------------------------------------------------------------------------------
// JSONata.

TEST(ParserTest, JsonataArgumentsOutputAndAssign) {
  auto m = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
    "Arguments": {"Payload": "{%  $states.input.x + 1  %}", "Name": "fixed",
                  "List": ["{% 1 %}", 2]},
    "Output": "{% $states.result.Payload %}",
    "Assign": {"count": "{% $count($states.input.items) %}", "constant": 7},
    "TimeoutSeconds": "{% $states.input.timeout %}",
    "End": true}}})");
  EXPECT_EQ(m->query_language, QueryLanguage::kJsonata);
  const State& a = StateNamed(*m, "A");
  EXPECT_EQ(a.query_language, QueryLanguage::kJsonata);
  ASSERT_TRUE(a.arguments.has_value());
  ASSERT_EQ(a.arguments->kind, Kind::kObject);
  const ValueTemplate& payload = FieldOf(*a.arguments, "Payload");
  ASSERT_EQ(payload.kind, Kind::kJsonata);
  EXPECT_EQ(payload.jsonata, "$states.input.x + 1");  // the body, trimmed
  EXPECT_EQ(FieldOf(*a.arguments, "Name").kind, Kind::kLiteral);
  const ValueTemplate& list = FieldOf(*a.arguments, "List");
  ASSERT_EQ(list.kind, Kind::kArray);
  EXPECT_EQ(list.items[0].kind, Kind::kJsonata);
  EXPECT_EQ(list.items[0].jsonata, "1");
  ASSERT_TRUE(a.output.has_value());
  ASSERT_EQ(a.output->kind, Kind::kJsonata);
  EXPECT_EQ(a.output->jsonata, "$states.result.Payload");
  EXPECT_EQ(FieldOf(*a.assign, "count").kind, Kind::kJsonata);
  EXPECT_EQ(FieldOf(*a.assign, "constant").kind, Kind::kLiteral);
  EXPECT_EQ(a.timeout_seconds.jsonata, "$states.input.timeout");
  EXPECT_FALSE(a.timeout_seconds.literal.has_value());
  EXPECT_FALSE(a.parameters.has_value());
}

TEST(ParserTest, JsonataStringsWithoutBracesAreLiterals) {
  auto m = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {
    "Type": "Pass", "Output": {"text": "50% {done}", "n": 1}, "End": true}}})");
  const State& a = StateNamed(*m, "A");
  ASSERT_TRUE(a.output.has_value());
  EXPECT_EQ(a.output->kind, Kind::kLiteral);
  EXPECT_EQ(a.output->literal, json::parse(R"({"text": "50% {done}", "n": 1})"));
}

TEST(ParserTest, QueryLanguageInheritance) {
  // The top level sets the default; a state may switch to JSONata; states inside a Map or a
  // Parallel inherit the state machine's language, not the enclosing state's.
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% 1 %}", "Next": "M"},
    "M": {"Type": "Map", "QueryLanguage": "JSONata", "Items": "{% [1, 2] %}",
          "ItemProcessor": {"StartAt": "I",
                            "States": {"I": {"Type": "Pass", "ResultPath": "$.r", "End": true}}},
          "Next": "P"},
    "P": {"Type": "Parallel", "QueryLanguage": "JSONata",
          "Branches": [{"StartAt": "B", "States": {
            "B": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": {"x": "{% 2 %}"},
                  "End": true}}}],
          "End": true}}})");
  EXPECT_EQ(m->query_language, QueryLanguage::kJsonPath);
  EXPECT_EQ(StateNamed(*m, "A").query_language, QueryLanguage::kJsonata);
  const State& map = StateNamed(*m, "M");
  EXPECT_EQ(map.query_language, QueryLanguage::kJsonata);
  ASSERT_NE(map.item_processor, nullptr);
  EXPECT_EQ(map.item_processor->query_language, QueryLanguage::kJsonPath);
  EXPECT_EQ(StateNamed(*map.item_processor, "I").query_language, QueryLanguage::kJsonPath);
  const State& par = StateNamed(*m, "P");
  ASSERT_EQ(par.branches.size(), 1u);
  EXPECT_EQ(StateNamed(*par.branches[0], "B").query_language, QueryLanguage::kJsonata);

  auto all_jsonata = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
    "M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass",
          "Output": "{% $states.input %}", "End": true}}}, "End": true}}})");
  const State& m2 = StateNamed(*all_jsonata, "M");
  EXPECT_EQ(m2.query_language, QueryLanguage::kJsonata);
  EXPECT_EQ(StateNamed(*m2.item_processor, "I").query_language, QueryLanguage::kJsonata);
  EXPECT_EQ(QueryLanguageName(m2.query_language), "JSONata");
}

// ---------------------------------------------------------------------------------------------
// Task, Retry, Catch.

TEST(ParserTest, TaskFields) {
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:activity:w",
          "TimeoutSeconds": 60, "HeartbeatSecondsPath": "$.hb", "Next": "B"},
    "B": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "TimeoutSecondsPath": "$.t", "HeartbeatSeconds": 5, "End": true}}})");
  const State& a = StateNamed(*m, "A");
  EXPECT_EQ(a.resource, "arn:aws:states:us-east-1:123456789012:activity:w");
  EXPECT_EQ(a.timeout_seconds.literal, 60.0);
  ASSERT_NE(a.heartbeat_seconds.path, nullptr);
  EXPECT_EQ(a.heartbeat_seconds.path->text(), "$.hb");
  const State& b = StateNamed(*m, "B");
  EXPECT_FALSE(b.timeout_seconds.literal.has_value());
  ASSERT_NE(b.timeout_seconds.path, nullptr);
  EXPECT_TRUE(b.timeout_seconds.IsSet());
  EXPECT_EQ(b.heartbeat_seconds.literal, 5.0);
  EXPECT_TRUE(b.retry.empty());
  EXPECT_TRUE(b.catch_.empty());
}

TEST(ParserTest, RetrierDefaultsAndExplicitValues) {
  auto m = Compile(R"({"StartAt": "A", "States": {"A": {"Type": "Task",
    "Resource": "arn:aws:states:::lambda:invoke",
    "Retry": [
      {"ErrorEquals": ["Lambda.ServiceException"]},
      {"ErrorEquals": ["States.Timeout", "Custom"], "IntervalSeconds": 5, "MaxAttempts": 0,
       "BackoffRate": 1.5, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"},
      {"ErrorEquals": ["States.ALL"], "BackoffRate": 1}
    ],
    "End": true}}})");
  const auto& retry = StateNamed(*m, "A").retry;
  ASSERT_EQ(retry.size(), 3u);
  EXPECT_THAT(retry[0].error_equals, ElementsAre("Lambda.ServiceException"));
  EXPECT_EQ(retry[0].interval_seconds, 1);
  EXPECT_EQ(retry[0].max_attempts, 3);
  EXPECT_DOUBLE_EQ(retry[0].backoff_rate, 2.0);
  EXPECT_FALSE(retry[0].max_delay_seconds.has_value());
  EXPECT_EQ(retry[0].jitter, JitterStrategy::kNone);
  EXPECT_THAT(retry[1].error_equals, ElementsAre("States.Timeout", "Custom"));
  EXPECT_EQ(retry[1].interval_seconds, 5);
  EXPECT_EQ(retry[1].max_attempts, 0);
  EXPECT_DOUBLE_EQ(retry[1].backoff_rate, 1.5);
  EXPECT_EQ(retry[1].max_delay_seconds, 30);
  EXPECT_EQ(retry[1].jitter, JitterStrategy::kFull);
  EXPECT_DOUBLE_EQ(retry[2].backoff_rate, 1.0);
}

TEST(ParserTest, Catchers) {
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Catch": [
            {"ErrorEquals": ["States.Timeout"], "Next": "H", "ResultPath": "$.error"},
            {"ErrorEquals": ["States.TaskFailed"], "Next": "H", "ResultPath": null},
            {"ErrorEquals": ["States.ALL"], "Next": "H", "Assign": {"failed": true}}
          ], "End": true},
    "H": {"Type": "Pass", "End": true}}})");
  const auto& catchers = StateNamed(*m, "A").catch_;
  ASSERT_EQ(catchers.size(), 3u);
  EXPECT_THAT(catchers[0].error_equals, ElementsAre("States.Timeout"));
  EXPECT_EQ(catchers[0].next, "H");
  ASSERT_NE(catchers[0].result_path.path, nullptr);
  EXPECT_EQ(catchers[0].result_path.path->text(), "$.error");
  EXPECT_TRUE(catchers[1].result_path.discard);
  EXPECT_FALSE(catchers[2].result_path.discard);
  EXPECT_EQ(catchers[2].result_path.path, nullptr);
  ASSERT_TRUE(catchers[2].assign.has_value());
  EXPECT_FALSE(catchers[2].output.has_value());
}

TEST(ParserTest, JsonataCatcherOutput) {
  auto m = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
          "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H",
                     "Output": "{% $states.errorOutput %}"}],
          "End": true},
    "H": {"Type": "Pass", "End": true}}})");
  const auto& catchers = StateNamed(*m, "A").catch_;
  ASSERT_EQ(catchers.size(), 1u);
  ASSERT_TRUE(catchers[0].output.has_value());
  EXPECT_EQ(catchers[0].output->jsonata, "$states.errorOutput");
}

// ---------------------------------------------------------------------------------------------
// Choice.

TEST(ParserTest, ChoiceRuleTree) {
  auto m = Compile(R"({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
      {"And": [
         {"Variable": "$.n", "NumericGreaterThanEquals": 10},
         {"Not": {"Variable": "$.s", "StringEqualsPath": "$.t"}}
       ], "Next": "A"},
      {"Or": [{"Variable": "$.b", "BooleanEquals": true},
              {"Variable": "$.ts", "TimestampLessThan": "2016-03-14T01:59:00Z"}],
       "Next": "B", "Assign": {"picked": "b"}},
      {"Variable": "$.v", "IsNull": false, "Next": "A"}
    ], "Default": "B"},
    "A": {"Type": "Succeed"},
    "B": {"Type": "Succeed"}}})");
  const State& c = StateNamed(*m, "C");
  ASSERT_EQ(c.choices.size(), 3u);
  EXPECT_EQ(c.default_next, "B");

  const ChoiceRule& and_rule = c.choices[0];
  EXPECT_EQ(and_rule.kind, ChoiceRule::Kind::kAnd);
  EXPECT_EQ(and_rule.next, "A");
  ASSERT_EQ(and_rule.children.size(), 2u);
  const ChoiceRule& numeric = and_rule.children[0];
  EXPECT_EQ(numeric.kind, ChoiceRule::Kind::kComparison);
  EXPECT_EQ(numeric.op, ComparisonOperator::kNumericGreaterThanEquals);
  ASSERT_NE(numeric.variable, nullptr);
  EXPECT_EQ(numeric.variable->text(), "$.n");
  EXPECT_EQ(numeric.operand, json::value(10));
  EXPECT_EQ(numeric.operand_path, nullptr);
  EXPECT_TRUE(numeric.next.empty());
  const ChoiceRule& not_rule = and_rule.children[1];
  EXPECT_EQ(not_rule.kind, ChoiceRule::Kind::kNot);
  ASSERT_EQ(not_rule.children.size(), 1u);
  EXPECT_EQ(not_rule.children[0].op, ComparisonOperator::kStringEquals);
  ASSERT_NE(not_rule.children[0].operand_path, nullptr);
  EXPECT_EQ(not_rule.children[0].operand_path->text(), "$.t");

  const ChoiceRule& or_rule = c.choices[1];
  EXPECT_EQ(or_rule.kind, ChoiceRule::Kind::kOr);
  EXPECT_EQ(or_rule.children[1].op, ComparisonOperator::kTimestampLessThan);
  EXPECT_EQ(or_rule.children[1].operand, json::value("2016-03-14T01:59:00Z"));
  EXPECT_TRUE(or_rule.assign.has_value());

  EXPECT_EQ(c.choices[2].op, ComparisonOperator::kIsNull);
  EXPECT_EQ(c.choices[2].operand, json::value(false));
}

TEST(ParserTest, JsonataChoiceConditions) {
  auto m = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [
      {"Condition": "{% $states.input.n > 1 %}", "Next": "A", "Output": {"big": true}},
      {"Condition": false, "Next": "A"}
    ], "Default": "A"},
    "A": {"Type": "Succeed"}}})");
  const State& c = StateNamed(*m, "C");
  ASSERT_EQ(c.choices.size(), 2u);
  EXPECT_EQ(c.choices[0].kind, ChoiceRule::Kind::kCondition);
  EXPECT_EQ(c.choices[0].condition, "$states.input.n > 1");
  EXPECT_FALSE(c.choices[0].condition_literal.has_value());
  EXPECT_TRUE(c.choices[0].output.has_value());
  EXPECT_EQ(c.choices[1].condition_literal, false);
  EXPECT_TRUE(c.choices[1].condition.empty());
}

// ---------------------------------------------------------------------------------------------
// Wait and Fail.

TEST(ParserTest, WaitForms) {
  auto m = Compile(R"({"StartAt": "A", "States": {
    "A": {"Type": "Wait", "Seconds": 0, "Next": "B"},
    "B": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "Next": "C"},
    "C": {"Type": "Wait", "SecondsPath": "$.s", "Next": "D"},
    "D": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}})");
  EXPECT_EQ(StateNamed(*m, "A").seconds.literal, 0.0);
  EXPECT_FALSE(StateNamed(*m, "A").timestamp.IsSet());
  EXPECT_EQ(StateNamed(*m, "B").timestamp.literal, "2016-03-14T01:59:00Z");
  ASSERT_NE(StateNamed(*m, "C").seconds.path, nullptr);
  EXPECT_EQ(StateNamed(*m, "C").seconds.path->text(), "$.s");
  ASSERT_NE(StateNamed(*m, "D").timestamp.path, nullptr);
  EXPECT_FALSE(StateNamed(*m, "D").seconds.IsSet());
}

TEST(ParserTest, FailErrorAndCauseForms) {
  auto m = Compile(R"json({"StartAt": "C", "States": {
    "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "F1"}],
          "Default": "F2"},
    "F1": {"Type": "Fail", "Error": "Custom.Error", "Cause": "plain"},
    "F2": {"Type": "Fail", "ErrorPath": "States.Format('E.{}', $.code)",
           "CausePath": "$.cause"}}})json");
  const State& f1 = StateNamed(*m, "F1");
  EXPECT_EQ(f1.error.literal, "Custom.Error");
  EXPECT_EQ(f1.cause.literal, "plain");
  const State& f2 = StateNamed(*m, "F2");
  ASSERT_NE(f2.error.intrinsic, nullptr);
  EXPECT_EQ(f2.error.intrinsic->function, IntrinsicFunction::kFormat);
  EXPECT_EQ(f2.error.path, nullptr);
  ASSERT_NE(f2.cause.path, nullptr);
  EXPECT_EQ(f2.cause.path->text(), "$.cause");
}

// ---------------------------------------------------------------------------------------------
// Parallel and Map.

TEST(ParserTest, ParallelBranches) {
  auto m = Compile(R"({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
      {"Comment": "first", "StartAt": "A1", "States": {"A1": {"Type": "Pass", "Next": "A2"},
                                                      "A2": {"Type": "Pass", "End": true}}},
      {"StartAt": "B1", "States": {"B1": {"Type": "Succeed"}}}
    ], "ResultSelector": {"first.$": "$[0]"}, "End": true}}})");
  const State& p = StateNamed(*m, "P");
  ASSERT_EQ(p.branches.size(), 2u);
  EXPECT_EQ(p.branches[0]->comment, "first");
  EXPECT_EQ(p.branches[0]->start_at, "A1");
  EXPECT_EQ(p.branches[0]->states.size(), 2u);
  EXPECT_EQ(StateNamed(*p.branches[0], "A1").next, "A2");
  EXPECT_EQ(p.branches[1]->start_at, "B1");
  EXPECT_EQ(m->Find("A1"), nullptr);  // branch states live in their own scope
  EXPECT_TRUE(p.result_selector.has_value());
}

TEST(ParserTest, InlineMap) {
  auto m = Compile(R"({"StartAt": "M", "States": {"M": {"Type": "Map",
    "ItemsPath": "$.items", "MaxConcurrency": 2, "ItemSelector": {"v.$": "$$.Map.Item.Value"},
    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "I",
                      "States": {"I": {"Type": "Pass", "End": true}}},
    "End": true}}})");
  const State& map = StateNamed(*m, "M");
  EXPECT_EQ(map.map_mode, MapMode::kInline);
  ASSERT_NE(map.items_path, nullptr);
  EXPECT_EQ(map.items_path->text(), "$.items");
  EXPECT_EQ(map.max_concurrency.literal, 2.0);
  ASSERT_TRUE(map.item_selector.has_value());
  EXPECT_EQ(FieldOf(*map.item_selector, "v").kind, Kind::kPath);
  ASSERT_NE(map.item_processor, nullptr);
  EXPECT_EQ(map.item_processor->start_at, "I");
  EXPECT_TRUE(map.label.empty());
}

TEST(ParserTest, LegacyIteratorWithParametersBecomesTheItemSelector) {
  auto m = Compile(R"({"StartAt": "M", "States": {"M": {"Type": "Map",
    "Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
    "Parameters": {"item.$": "$$.Map.Item.Value", "fixed": 1},
    "End": true}}})");
  const State& map = StateNamed(*m, "M");
  ASSERT_NE(map.item_processor, nullptr);
  EXPECT_EQ(map.item_processor->start_at, "I");
  EXPECT_EQ(map.map_mode, MapMode::kInline);
  EXPECT_FALSE(map.parameters.has_value());
  ASSERT_TRUE(map.item_selector.has_value());
  EXPECT_EQ(FieldOf(*map.item_selector, "item").kind, Kind::kPath);
  EXPECT_EQ(FieldOf(*map.item_selector, "fixed").kind, Kind::kLiteral);
}

TEST(ParserTest, DistributedMap) {
  auto m = Compile(R"({"StartAt": "M", "States": {"M": {"Type": "Map",
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                      "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
    "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}},
    "ItemBatcher": {"MaxItemsPerBatch": 10},
    "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                     "Parameters": {"Bucket": "o", "Prefix": "p"}},
    "Label": "Run1", "ToleratedFailurePercentage": 12.5, "ToleratedFailureCountPath": "$.n",
    "MaxConcurrencyPath": "$.mc",
    "End": true}}})");
  const State& map = StateNamed(*m, "M");
  EXPECT_EQ(map.map_mode, MapMode::kDistributed);
  EXPECT_EQ(map.map_execution_type, MapExecutionType::kExpress);
  EXPECT_EQ(map.label, "Run1");
  ASSERT_TRUE(map.item_reader.has_value());
  EXPECT_EQ(map.item_reader->at("Resource"), json::value("arn:aws:states:::s3:listObjectsV2"));
  EXPECT_TRUE(map.item_batcher.has_value());
  EXPECT_TRUE(map.result_writer.has_value());
  EXPECT_EQ(map.tolerated_failure_percentage.literal, 12.5);
  ASSERT_NE(map.tolerated_failure_count.path, nullptr);
  ASSERT_NE(map.max_concurrency.path, nullptr);
  EXPECT_EQ(map.max_concurrency.path->text(), "$.mc");
}

TEST(ParserTest, JsonataMapItems) {
  auto m = Compile(R"({"QueryLanguage": "JSONata", "StartAt": "M", "States": {
    "M": {"Type": "Map", "Items": "{% $states.input.list %}", "MaxConcurrency": "{% 3 %}",
          "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
          "Next": "N"},
    "N": {"Type": "Map", "Items": [1, 2, 3],
          "ItemProcessor": {"StartAt": "J", "States": {"J": {"Type": "Pass", "End": true}}},
          "End": true}}})");
  const State& map = StateNamed(*m, "M");
  ASSERT_TRUE(map.items.has_value());
  EXPECT_EQ(map.items->kind, Kind::kJsonata);
  EXPECT_EQ(map.items->jsonata, "$states.input.list");
  EXPECT_EQ(map.max_concurrency.jsonata, "3");
  const State& literal = StateNamed(*m, "N");
  ASSERT_TRUE(literal.items.has_value());
  EXPECT_EQ(literal.items->kind, Kind::kLiteral);
  EXPECT_EQ(literal.items->literal, json::parse("[1, 2, 3]"));
}

// ---------------------------------------------------------------------------------------------
// Diagnostics rendering.

TEST(DiagnosticsTest, JsonShapeForErrors) {
  ParseResult result = ParseDefinition(std::string_view(
      R"({"StartAt": "A",
          "States": {"A": {"Type": "Pass", "Next": "Nowhere"}, "E": {"Type": "Succeed"}}})"));
  ASSERT_FALSE(result.ok());
  auto doc = ParseJson(DiagnosticsToJson(result.diagnostics));
  ASSERT_TRUE(doc.ok()) << doc.status();
  const json::object& obj = doc->as_object();
  ASSERT_EQ(obj.size(), 2u);
  EXPECT_EQ(obj.at("result"), json::value("FAIL"));
  const json::array& list = obj.at("diagnostics").as_array();
  ASSERT_EQ(list.size(), result.diagnostics.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json::object& d = list[i].as_object();
    ASSERT_EQ(d.size(), 4u);
    EXPECT_EQ(d.at("severity"), json::value("ERROR"));
    EXPECT_EQ(d.at("code").as_string(), result.diagnostics[i].code);
    EXPECT_EQ(d.at("message").as_string(), result.diagnostics[i].message);
    EXPECT_EQ(d.at("location").as_string(), result.diagnostics[i].location);
  }
  EXPECT_EQ(list[0].at("code"), json::value("MISSING_TRANSITION_TARGET"));
  EXPECT_EQ(list[0].at("location"), json::value("/States/A/Next"));
}

TEST(DiagnosticsTest, JsonForNoDiagnosticsAndForWarnings) {
  EXPECT_EQ(DiagnosticsToJson({}), R"({"result":"OK","diagnostics":[]})");
  const std::vector<Diagnostic> warnings = {
      {Severity::kWarning, std::string(codes::kNoPath), "looks like a path", "/States/F/Error"}};
  EXPECT_EQ(DiagnosticsToJson(warnings),
            R"({"result":"OK","diagnostics":[{"severity":"WARNING","code":"NO_PATH",)"
            R"("message":"looks like a path","location":"/States/F/Error"}]})");
  EXPECT_FALSE(HasErrors(warnings));
}

TEST(DiagnosticsTest, JsonEscapesMessages) {
  const std::vector<Diagnostic> diagnostics = {
      {Severity::kError, std::string(codes::kSchemaValidationFailed), "say \"hi\"\n", ""}};
  EXPECT_EQ(
      DiagnosticsToJson(diagnostics),
      R"({"result":"FAIL","diagnostics":[{"severity":"ERROR","code":"SCHEMA_VALIDATION_FAILED",)"
      R"("message":"say \"hi\"\n","location":""}]})");
}

TEST(DiagnosticsTest, TextFormat) {
  const std::vector<Diagnostic> diagnostics = {
      {Severity::kError, "MISSING_END_STATE", "no end", ""},
      {Severity::kWarning, "NO_DOLLAR", "literal", "/States/A/Parameters/x"}};
  EXPECT_EQ(DiagnosticsToText(diagnostics),
            "ERROR MISSING_END_STATE: no end\n"
            "WARNING NO_DOLLAR at /States/A/Parameters/x: literal\n");
  EXPECT_EQ(SeverityName(Severity::kError), "ERROR");
  EXPECT_EQ(SeverityName(Severity::kWarning), "WARNING");
}

}  // namespace
}  // namespace hpd::asl
