#include "asl/interpreter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "asl/parser.h"
#include "common/json.h"

namespace hpd::asl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace json = boost::json;

// Answers a task: given the invocation, the outcome (after `duration` of simulated time).
struct Answer {
  TaskOutcome outcome;
  std::chrono::seconds duration{0};
};
using TaskHandler = std::function<Answer(const TaskInvocation&)>;

// Runs an execution to the end on simulated time: tasks are answered by `handler`, timers fire
// in deadline order (ties in arming order).
class Driver {
 public:
  Driver(std::string_view definition, TaskHandler handler = {}) : handler_(std::move(handler)) {
    auto parsed = ParseDefinition(definition);
    EXPECT_TRUE(parsed.ok()) << DiagnosticsToText(parsed.diagnostics);
    machine_ = parsed.machine;
  }

  Execution& Run(std::string_view input_text, bool express = false) {
    ExecutionInfo info;
    info.express = express;
    info.execution_arn = "arn:aws:states:us-east-1:123456789012:execution:SM:EX";
    info.execution_name = "EX";
    info.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:SM";
    info.state_machine_name = "SM";
    info.role_arn = "arn:aws:iam::123456789012:role/sfn";
    info.start_time = now_;
    info.random_seed = 42;
    execution_ = std::make_unique<Execution>(machine_, info);
    auto input = ParseJson(input_text);
    EXPECT_TRUE(input.ok());
    Apply(execution_->Start(*input, std::string(input_text), now_));
    return Drain();
  }

  // RedriveExecution, then runs to the end again.
  Execution& Redrive() {
    Apply(execution_->Redrive(now_));
    return Drain();
  }

  // Stops the execution once the simulated clock reaches `at`.
  void StopAt(WallTime at) {
    At(at, [this] { Apply(execution_->Stop("Halt", "", now_)); });
  }

  void set_handler(TaskHandler handler) { handler_ = std::move(handler); }

  Execution& Drain() {
    for (int steps = 0; !events_.empty() && steps < 1000000; ++steps) {
      auto it = events_.begin();
      now_ = std::max(now_, it->first.first);
      auto event = std::move(it->second);
      events_.erase(it);
      event();
    }
    return *execution_;
  }

  std::vector<std::string> Types() const {
    std::vector<std::string> out;
    for (const auto& e : execution_->history()) out.emplace_back(HistoryEventTypeName(e.type));
    return out;
  }

  WallTime now() const { return now_; }

 private:
  void At(WallTime t, std::function<void()> f) {
    events_.emplace(std::make_pair(t, seq_++), std::move(f));
  }

  void Apply(const Commands& c) {
    for (uint64_t t : c.cancel_timers) cancelled_.insert(t);
    for (const auto& timer : c.arm_timers) {
      uint64_t token = timer.token;
      At(timer.deadline, [this, token] {
        if (cancelled_.count(token)) return;
        Apply(execution_->TimerFired(token, now_));
      });
    }
    for (const auto& task : c.run_tasks) {
      uint64_t token = task.token;
      Answer answer = handler_ ? handler_(task) : Answer{};
      Apply(execution_->TaskStarted(token, now_));
      At(now_ + answer.duration,
         [this, token, answer] { Apply(execution_->TaskCompleted(token, answer.outcome, now_)); });
    }
  }

  TaskHandler handler_;
  std::shared_ptr<const StateMachine> machine_;
  std::unique_ptr<Execution> execution_;
  WallTime now_ = WallTime(std::chrono::seconds(1700000000));
  std::map<std::pair<WallTime, uint64_t>, std::function<void()>> events_;
  std::set<uint64_t> cancelled_;
  uint64_t seq_ = 0;
};

TaskOutcome Ok(json::value v) { return TaskOutcome{true, std::move(v), "", "", std::nullopt}; }
TaskOutcome Err(std::string e, std::string c) {
  return TaskOutcome{false, nullptr, std::move(e), std::move(c), std::nullopt};
}

// The whole history as text, one event per line.
std::string HistoryText(const Execution& e) {
  std::string out;
  for (const auto& h : e.history()) out += SerializeJson(HistoryEventToJson(h)) + "\n";
  return out;
}

TEST(InterpreterTest, PassChainRecordsAwsShapedHistory) {
  Driver d(R"J({"StartAt":"A","States":{
      "A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.a","Next":"B"},
      "B":{"Type":"Pass","Parameters":{"sum.$":"States.MathAdd($.a.x, 41)"},"End":true}}})J");
  Execution& e = d.Run(R"J({"in": true})J");
  EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(*e.output(), R"J({"sum":42})J");
  EXPECT_THAT(d.Types(), ElementsAre("ExecutionStarted", "PassStateEntered", "PassStateExited",
                                     "PassStateEntered", "PassStateExited", "ExecutionSucceeded"));
  const auto& h = e.history();
  EXPECT_EQ(h[0].previous_event_id, 0);
  EXPECT_EQ(h[1].previous_event_id, 0);  // as AWS records it
  EXPECT_EQ(h[2].previous_event_id, 2);
  EXPECT_EQ(h[3].previous_event_id, 3);
  EXPECT_EQ(HistoryEventDetails(h[0]).at("input").as_string(), R"J({"in": true})J");  // verbatim
  EXPECT_EQ(HistoryEventDetails(h[2]).at("output").as_string(), R"J({"in":true,"a":{"x":1}})J");
}

TEST(InterpreterTest, LongChoiceLoopRunsWithoutRecursion) {
  Driver d(R"J({"StartAt":"Init","States":{
      "Init":{"Type":"Pass","Result":{"i":0},"Next":"Check"},
      "Check":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericGreaterThanEquals":10000,"Next":"Done"}],"Default":"Inc"},
      "Inc":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)"},"Next":"Check"},
      "Done":{"Type":"Succeed"}}})J");
  // 40,008 events: more than a STANDARD history may hold, so run it as EXPRESS.
  Execution& e = d.Run("{}", /*express=*/true);
  ASSERT_EQ(e.status(), ExecutionStatus::kSucceeded) << e.error() << ": " << e.cause();
  EXPECT_EQ(*e.output(), R"J({"i":10000})J");
  EXPECT_EQ(e.history().size(), 2u + 2u * 20003u);
}

TEST(InterpreterTest, RetriesWithBackoffThenSucceeds) {
  int calls = 0;
  Driver d(R"J({"StartAt":"T","States":{"T":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:flaky",
      "Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":2,"BackoffRate":3,"MaxAttempts":3}],
      "End":true}}})J",
           [&](const TaskInvocation& t) {
             EXPECT_EQ(t.attempt, calls);
             ++calls;
             return calls < 3 ? Answer{Err("Flaky", "try again"), {}}
                              : Answer{Ok(json::parse(R"J({"ok":true})J")), {}};
           });
  WallTime start = d.now();
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(d.now() - start, std::chrono::seconds(2 + 6));  // 2 s, then 2*3 s
  EXPECT_THAT(
      d.Types(),
      ElementsAre("ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                  "LambdaFunctionStarted", "LambdaFunctionFailed", "LambdaFunctionScheduled",
                  "LambdaFunctionStarted", "LambdaFunctionFailed", "LambdaFunctionScheduled",
                  "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                  "ExecutionSucceeded"));
}

TEST(InterpreterTest, CatchRoutesTheErrorToTheHandlerState) {
  Driver d(R"J({"StartAt":"T","States":{
      "T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
           "Parameters":{"FunctionName":"f","Payload.$":"$"},
           "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"H"}],"End":true},
      "H":{"Type":"Pass","End":true}}})J",
           [](const TaskInvocation& t) {
             EXPECT_EQ(t.kind, TaskKind::kService);
             EXPECT_EQ(t.service, "lambda");
             EXPECT_EQ(t.action, "invoke");
             return Answer{Err("Boom", "it broke"), {}};
           });
  Execution& e = d.Run(R"J({"k":1})J");
  EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(*e.output(), R"J({"k":1,"err":{"Error":"Boom","Cause":"it broke"}})J");
  EXPECT_THAT(d.Types(), ElementsAre("ExecutionStarted", "TaskStateEntered", "TaskScheduled",
                                     "TaskStarted", "TaskFailed", "TaskStateExited",
                                     "PassStateEntered", "PassStateExited", "ExecutionSucceeded"));
  EXPECT_EQ(HistoryEventDetails(e.history()[2]).at("resourceType").as_string(), "lambda");
}

TEST(InterpreterTest, TaskTimeoutFailsWithStatesTimeout) {
  Driver d(R"J({"StartAt":"T","States":{"T":{"Type":"Task","TimeoutSeconds":5,
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:slow","End":true}}})J",
           [](const TaskInvocation&) {
             return Answer{Ok(json::value("late")), std::chrono::seconds(60)};
           });
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.error(), "States.Timeout");
  EXPECT_THAT(d.Types(),
              ElementsAre("ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                          "LambdaFunctionStarted", "LambdaFunctionTimedOut", "ExecutionFailed"));
}

TEST(InterpreterTest, WaitAndFailUseTheSimulatedClock) {
  Driver d(R"J({"StartAt":"W","States":{
      "W":{"Type":"Wait","SecondsPath":"$.s","Next":"F"},
      "F":{"Type":"Fail","ErrorPath":"$.e","Cause":"done waiting"}}})J");
  WallTime start = d.now();
  Execution& e = d.Run(R"J({"s":30,"e":"Custom.Error"})J");
  EXPECT_EQ(d.now() - start, std::chrono::seconds(30));
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.error(), "Custom.Error");
  EXPECT_EQ(e.cause(), "done waiting");
  EXPECT_THAT(d.Types(), ElementsAre("ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                                     "FailStateEntered", "ExecutionFailed"));
}

TEST(InterpreterTest, MissingInputPathFailsWithAwsCause) {
  Driver d(R"J({"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"$.nope","End":true}}})J");
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.error(), "States.Runtime");
  EXPECT_THAT(e.cause(), HasSubstr("An error occurred while executing the state 'P' (entered at "
                                   "the event id #2). Invalid path '$.nope'"));
}

TEST(InterpreterTest, SameCallsGiveTheSameHistory) {
  auto run = [] {
    Driver d(R"J({"StartAt":"P","States":{"P":{"Type":"Pass",
        "Parameters":{"id.$":"States.UUID()","r.$":"States.MathRandom(1, 1000)"},"End":true}}})J");
    Execution& e = d.Run("{}");
    std::string out;
    for (const auto& h : e.history()) out += SerializeJson(HistoryEventToJson(h)) + "\n";
    return out;
  };
  EXPECT_EQ(run(), run());
}

TEST(InterpreterTest, StopAbortsAndCancelsTheTask) {
  auto parsed = ParseDefinition(std::string_view(R"J({"StartAt":"T","States":{"T":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:1:function:f","TimeoutSeconds":100,"End":true}}})J"));
  ASSERT_TRUE(parsed.ok());
  Execution e(parsed.machine, ExecutionInfo{});
  WallTime t0{};
  Commands c = e.Start(json::object(), "{}", t0);
  ASSERT_EQ(c.run_tasks.size(), 1u);
  ASSERT_EQ(c.arm_timers.size(), 1u);
  Commands stop = e.Stop("Operator", "stopped by test", t0);
  EXPECT_TRUE(stop.finished);
  EXPECT_THAT(stop.cancel_tasks, ElementsAre(c.run_tasks[0].token));
  EXPECT_THAT(stop.cancel_timers, ElementsAre(c.arm_timers[0].token));
  EXPECT_EQ(e.status(), ExecutionStatus::kAborted);
  // A late answer changes nothing.
  Commands late = e.TaskCompleted(c.run_tasks[0].token, Ok(json::value(1)), t0);
  EXPECT_TRUE(late.run_tasks.empty());
  EXPECT_EQ(HistoryEventTypeName(e.history().back().type), "ExecutionAborted");
}

}  // namespace
}  // namespace hpd::asl

namespace hpd::asl {
namespace {

TEST(InterpreterFanoutTest, ParallelCollectsBranchOutputsInOrder) {
  Driver d(R"J({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Pass","Result":1,"End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Wait","Seconds":5,"Next":"C"},
                                "C":{"Type":"Pass","Result":2,"End":true}}}]}}})J");
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(*e.output(), "[1,2]");
  auto types = d.Types();
  EXPECT_EQ(types[1], "ParallelStateEntered");
  EXPECT_EQ(types[2], "ParallelStateStarted");
  EXPECT_EQ(types[types.size() - 3], "ParallelStateSucceeded");
  EXPECT_EQ(types[types.size() - 2], "ParallelStateExited");
}

TEST(InterpreterFanoutTest, MapRunsIterationsWithItemSelectorAndRecordsAwsChain) {
  Driver d(R"J({"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.xs","MaxConcurrency":1,
      "ItemSelector":{"v.$":"$$.Map.Item.Value","i.$":"$$.Map.Item.Index"},
      "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}})J");
  Execution& e = d.Run(R"J({"xs":["a","b"]})J");
  EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(*e.output(), R"J([{"v":"a","i":0},{"v":"b","i":1}])J");
  EXPECT_THAT(d.Types(), ElementsAre("ExecutionStarted", "MapStateEntered", "MapStateStarted",
                                     "MapIterationStarted", "PassStateEntered", "PassStateExited",
                                     "MapIterationSucceeded", "MapIterationStarted",
                                     "PassStateEntered", "PassStateExited", "MapIterationSucceeded",
                                     "MapStateSucceeded", "MapStateExited", "ExecutionSucceeded"));
  // previousEventId as AWS records it (conformance corpus, test_map_state_item_selector_parameters)
  std::vector<int64_t> previous;
  for (const auto& h : e.history()) previous.push_back(h.previous_event_id);
  EXPECT_THAT(previous, ElementsAre(0, 0, 2, 3, 4, 5, 6, 6, 8, 9, 10, 11, 11, 13));
}

TEST(InterpreterFanoutTest, FailedIterationFailsTheMap) {
  Driver d(R"J({"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"F",
      "States":{"F":{"Type":"Fail","Error":"Bad","Cause":"item"}}},"End":true}}})J");
  Execution& e = d.Run("[1]");
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.error(), "Bad");
  EXPECT_THAT(d.Types(), ElementsAre("ExecutionStarted", "MapStateEntered", "MapStateStarted",
                                     "MapIterationStarted", "FailStateEntered",
                                     "MapIterationFailed", "MapStateFailed", "ExecutionFailed"));
}

TEST(InterpreterFanoutTest, ThousandIterationsAndNestedParallel) {
  Driver d(R"J({"StartAt":"M","States":{"M":{"Type":"Map","MaxConcurrency":0,
      "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
        {"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
        {"StartAt":"B","States":{"B":{"Type":"Pass","End":true}}}]}}},"End":true}}})J");
  std::string input = "[";
  for (int i = 0; i < 1000; ++i) input += (i ? "," : "") + std::to_string(i);
  input += "]";
  Execution& e = d.Run(input);
  ASSERT_EQ(e.status(), ExecutionStatus::kSucceeded);
  auto out = ParseJson(*e.output());
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->as_array().size(), 1000u);
  EXPECT_EQ(SerializeJson(out->as_array()[999]), "[999,999]");
}

}  // namespace
}  // namespace hpd::asl

namespace hpd::asl {
namespace {

TEST(InterpreterLimitsTest, AnEndlessLoopFailsAtTheHistoryLimit) {
  Driver d(R"J({"StartAt":"A","States":{
      "A":{"Type":"Pass","Next":"B"},
      "B":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"C"}],"Default":"A"},
      "C":{"Type":"Succeed"}}})J");
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.error(), "States.Runtime");
  EXPECT_THAT(e.cause(), HasSubstr("maximum number of history events (25000)"));
  ASSERT_EQ(e.history().size(), 25000u);
  EXPECT_EQ(HistoryEventTypeName(e.history().back().type), "ExecutionFailed");
}

TEST(InterpreterLimitsTest, ALoopWithWaitsFailsAtTheHistoryLimitToo) {
  Driver d(R"J({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"C"},
      "C":{"Type":"Choice","Choices":[{"Variable":"$.stop","IsPresent":true,"Next":"E"}],"Default":"W"},
      "E":{"Type":"Succeed"}}})J");
  Execution& e = d.Run("{}");
  EXPECT_EQ(e.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(e.history().size(), 25000u);
}

}  // namespace
}  // namespace hpd::asl

namespace hpd::asl {
namespace {

// An engine may hand a failed attempt's parameters back; a retry of a state whose input cannot
// change reuses them. The history must be the same either way, and a state whose Parameters
// draw random values must still evaluate them anew on every attempt.
TEST(InterpreterTest, RetriesReusingHandedBackParametersRecordTheSameHistory) {
  for (const char* parameters : {R"J({"n.$": "$.n", "k": [1, {"x": "y"}]})J",
                                 R"J({"n.$": "$.n", "id.$": "States.UUID()"})J"}) {
    const std::string definition = std::string(R"J({"StartAt":"T","States":{"T":{
        "Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
        "Parameters":)J") + parameters +
                                   R"J(,
        "Retry":[{"ErrorEquals":["E"],"IntervalSeconds":1,"MaxAttempts":3}],"End":true}}})J";
    std::string histories[2];
    std::vector<std::string> inputs[2];
    for (int hand_back = 0; hand_back < 2; ++hand_back) {
      int calls = 0;
      Driver d(definition, [&](const TaskInvocation& task) {
        inputs[hand_back].push_back(SerializeJson(task.parameters));
        Answer answer{++calls < 3 ? Err("E", "c") : Ok(json::value(1))};
        if (hand_back == 1) answer.outcome.parameters = task.parameters;
        return answer;
      });
      Execution& e = d.Run(R"J({"n": 5})J");
      EXPECT_EQ(e.status(), ExecutionStatus::kSucceeded);
      histories[hand_back] = HistoryText(e);
    }
    EXPECT_EQ(histories[0], histories[1]) << parameters;
    EXPECT_EQ(inputs[0], inputs[1]) << parameters;
    ASSERT_EQ(inputs[1].size(), 3u);
    const bool random = std::string_view(parameters).find("UUID") != std::string_view::npos;
    EXPECT_EQ(inputs[1][0] == inputs[1][2], !random) << parameters;
  }
}

}  // namespace
}  // namespace hpd::asl

namespace hpd::asl {
namespace {

// A ResultPath "$.name" that adds a member: the output text is the input text with the member
// spliced in, and must be exactly what serialising the document gives, also from "{}", with
// escapes in the result, after a ResultSelector and through a Catcher.
TEST(InterpreterTest, OutputsSplicedFromTheInputTextAreExact) {
  Driver d(R"J({"StartAt":"A","States":{
      "A":{"Type":"Pass","Result":1,"ResultPath":"$.a","Next":"B"},
      "B":{"Type":"Pass","Result":{"q":"say \"hi\"\n"},"ResultPath":"$.b","Next":"T"},
      "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
           "ResultSelector":{"v.$":"$.v"},"ResultPath":"$.t","Next":"F"},
      "F":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
           "ResultPath":"$.never","Next":"S",
           "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"S"}]},
      "S":{"Type":"Succeed"}}})J",
           [calls = 0](const TaskInvocation&) mutable {
             return Answer{++calls == 1 ? Ok(*ParseJson(R"({"v":[1,"\u00e9"],"w":0})"))
                                        : Err("Boom", R"({"errorMessage": "no"})")};
           });
  Execution& e = d.Run("{}");
  ASSERT_EQ(e.status(), ExecutionStatus::kSucceeded);
  for (const HistoryEvent& event : e.history()) {
    const auto output = event.details.Find("output");
    if (!output) continue;
    auto parsed = ParseJson(*output);
    ASSERT_TRUE(parsed.ok()) << *output;
    EXPECT_EQ(SerializeJson(*parsed), *output);
  }
  EXPECT_EQ(e.output(), R"J({"a":1,"b":{"q":"say \"hi\"\n"},"t":{"v":[1,"é"]},)J"
                        R"J("e":{"Error":"Boom","Cause":"{\"errorMessage\": \"no\"}"}})J");
}

TEST(InterpreterTest, TheStateMachinesTimeoutEndsTheExecutionTimedOut) {
  // AWS (floci-io/floci#2733, measured): TIMED_OUT exactly TimeoutSeconds after the start, one
  // ExecutionTimedOut event with previousEventId 0 carrying States.Timeout, and no error or
  // cause on the execution itself.
  Driver driver(R"({"StartAt":"W","TimeoutSeconds":3,"States":{
      "W":{"Type":"Wait","Seconds":25,"End":true}}})");
  const WallTime start = driver.now();
  Execution& execution = driver.Run("{}");
  EXPECT_EQ(execution.status(), ExecutionStatus::kTimedOut);
  EXPECT_THAT(driver.Types(),
              ElementsAre("ExecutionStarted", "WaitStateEntered", "ExecutionTimedOut"));
  const HistoryEvent& last = execution.history().back();
  EXPECT_EQ(last.previous_event_id, 0);
  EXPECT_EQ(last.timestamp, start + std::chrono::seconds(3));
  EXPECT_EQ(last.details.ToJson(), R"({"error":"States.Timeout"})");
  EXPECT_EQ(execution.error(), "");
  EXPECT_EQ(execution.cause(), "");
}

TEST(InterpreterTest, AnExpressExecutionTimesOutAfterFiveMinutes) {
  Driver driver(R"({"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":400,"End":true}}})");
  const WallTime start = driver.now();
  Execution& execution = driver.Run("{}", /*express=*/true);
  EXPECT_EQ(execution.status(), ExecutionStatus::kTimedOut);
  EXPECT_EQ(execution.history().back().timestamp, start + std::chrono::minutes(5));
}

TEST(InterpreterTest, AnExecutionThatEndsInTimeCancelsItsTimeout) {
  auto parsed = ParseDefinition(std::string_view(R"({"StartAt":"P","TimeoutSeconds":3,"States":{
      "P":{"Type":"Pass","End":true}}})"));
  ASSERT_TRUE(parsed.ok());
  ExecutionInfo info;
  info.execution_arn = "arn:aws:states:us-east-1:123456789012:execution:SM:EX";
  Execution execution(parsed.machine, info);
  Commands commands = execution.Start(json::object{}, "{}", WallTime{});
  ASSERT_EQ(commands.arm_timers.size(), 1u);
  EXPECT_THAT(commands.cancel_timers, ElementsAre(commands.arm_timers[0].token));
  EXPECT_TRUE(commands.finished);
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
}

// Redrive: the execution continues at the state it ended in; what succeeded is not run again.
TEST(InterpreterRedriveTest, AFailedTaskRunsAgainFromTheFailedState) {
  std::map<std::string, int> calls;
  bool fail = true;
  Driver driver(R"({"StartAt":"First","States":{
      "First":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","Next":"Second"},
      "Second":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
        "Retry":[{"ErrorEquals":["Boom"],"MaxAttempts":1,"IntervalSeconds":1}],"End":true}}})",
                [&](const TaskInvocation& task) {
                  ++calls[std::string(task.state_name)];
                  if (task.state_name == "Second" && fail) return Answer{Err("Boom", "no")};
                  return Answer{Ok(task.parameters)};
                });
  Execution& execution = driver.Run(R"({"n":1})");
  ASSERT_EQ(execution.status(), ExecutionStatus::kFailed);
  EXPECT_EQ(calls["Second"], 2);  // one retry
  const size_t failed_events = execution.history().size();
  fail = false;
  driver.Redrive();
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), std::optional<std::string>(R"({"n":1})"));
  EXPECT_EQ(calls["First"], 1);
  EXPECT_EQ(calls["Second"], 3);
  const auto& history = execution.history();
  ASSERT_GT(history.size(), failed_events + 1);
  const HistoryEvent& redriven = history[failed_events];
  EXPECT_EQ(HistoryEventTypeName(redriven.type), "ExecutionRedriven");
  EXPECT_EQ(redriven.details.ToJson(), R"({"redriveCount":1})");
  EXPECT_EQ(redriven.previous_event_id, static_cast<int64_t>(failed_events));
  const HistoryEvent& entered = history[failed_events + 1];
  EXPECT_EQ(HistoryEventTypeName(entered.type), "TaskStateEntered");
  EXPECT_EQ(entered.previous_event_id, redriven.id);
  EXPECT_EQ(entered.details.Find("name"), std::optional<std::string_view>("Second"));
  EXPECT_EQ(entered.details.Find("input"), std::optional<std::string_view>(R"({"n":1})"));
  // A succeeded execution is not redriven.
  const size_t done_events = history.size();
  driver.Redrive();
  EXPECT_EQ(execution.history().size(), done_events);
}

TEST(InterpreterRedriveTest, AParallelRerunsOnlyTheBranchesThatFailed) {
  std::map<std::string, int> calls;
  bool fail = true;
  Driver driver(R"({"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[
      {"StartAt":"A","States":{"A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}},
      {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}]}}})",
                [&](const TaskInvocation& task) {
                  const std::string name(task.state_name);
                  ++calls[name];
                  if (name == "B" && fail)
                    return Answer{Err("Boom", "no"), std::chrono::seconds(2)};
                  return Answer{Ok(json::value(name)), std::chrono::seconds(1)};
                });
  Execution& execution = driver.Run("{}");
  ASSERT_EQ(execution.status(), ExecutionStatus::kFailed);
  fail = false;
  driver.Redrive();
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), std::optional<std::string>(R"(["A","B"])"));
  EXPECT_EQ(calls["A"], 1);
  EXPECT_EQ(calls["B"], 2);
}

TEST(InterpreterRedriveTest, AMapRerunsOnlyTheIterationsThatFailed) {
  std::map<int64_t, int> calls;
  bool fail = true;
  Driver driver(R"({"StartAt":"M","States":{"M":{"Type":"Map","End":true,
      "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task",
        "Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}}}})",
                [&](const TaskInvocation& task) {
                  const int64_t item = task.parameters.as_int64();
                  ++calls[item];
                  if (item == 2 && fail) return Answer{Err("Boom", "no"), std::chrono::seconds(2)};
                  return Answer{Ok(json::value(item * 10)), std::chrono::seconds(1)};
                });
  Execution& execution = driver.Run("[1,2,3]");
  ASSERT_EQ(execution.status(), ExecutionStatus::kFailed);
  fail = false;
  driver.Redrive();
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), std::optional<std::string>("[10,20,30]"));
  EXPECT_EQ(calls[1], 1);
  EXPECT_EQ(calls[2], 2);
  EXPECT_EQ(calls[3], 1);
}

TEST(InterpreterRedriveTest, AnAbortedExecutionResumesItsWait) {
  Driver driver(R"({"StartAt":"Before","States":{
      "Before":{"Type":"Pass","Result":1,"ResultPath":"$.before","Next":"W"},
      "W":{"Type":"Wait","Seconds":100,"Next":"After"},
      "After":{"Type":"Pass","End":true}}})");
  driver.StopAt(driver.now() + std::chrono::seconds(10));
  Execution& execution = driver.Run("{}");
  ASSERT_EQ(execution.status(), ExecutionStatus::kAborted);
  driver.Redrive();
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), std::optional<std::string>(R"({"before":1})"));
  std::vector<std::string> types = driver.Types();
  EXPECT_EQ(std::count(types.begin(), types.end(), "PassStateEntered"), 2);  // Before, After
  EXPECT_EQ(std::count(types.begin(), types.end(), "WaitStateEntered"), 2);
}

TEST(InterpreterRedriveTest, TheContextCountsRedrives) {
  bool fail = true;
  Driver driver(R"({"StartAt":"T","States":{"T":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
      "Parameters":{"count.$":"$$.Execution.RedriveCount"},"End":true}}})",
                [&](const TaskInvocation& task) {
                  if (fail) return Answer{Err("Boom", "no")};
                  return Answer{Ok(task.parameters)};
                });
  driver.Run("{}");
  driver.Redrive();  // fails again
  fail = false;
  Execution& execution = driver.Redrive();
  EXPECT_EQ(execution.status(), ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), std::optional<std::string>(R"({"count":2})"));
}

}  // namespace
}  // namespace hpd::asl
