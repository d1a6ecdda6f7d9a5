#include "engine/in_memory_executor.h"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "asl/diagnostics.h"
#include "asl/history.h"
#include "asl/parser.h"
#include "common/json.h"
#include "common/rfc3339.h"
#include "common/status_matchers.h"
#include "engine/corpus_functions.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using asl::HistoryEventType;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kFunctionArn = "arn:aws:lambda:us-east-1:123456789012:function:";

std::shared_ptr<const asl::StateMachine> Machine(std::string_view definition) {
  asl::ParseResult parsed = asl::ParseDefinition(definition);
  EXPECT_TRUE(parsed.ok()) << asl::DiagnosticsToText(parsed.diagnostics);
  return parsed.machine;
}

std::vector<std::string> Types(const asl::Execution& execution) {
  std::vector<std::string> types;
  for (const asl::HistoryEvent& event : execution.history()) {
    types.emplace_back(asl::HistoryEventTypeName(event.type));
  }
  return types;
}

const asl::HistoryEvent* FindEvent(const asl::Execution& execution, HistoryEventType type) {
  for (const asl::HistoryEvent& event : execution.history()) {
    if (event.type == type) return &event;
  }
  return nullptr;
}

asl::ExecutionInfo Info(WallTime start) {
  asl::ExecutionInfo info;
  info.execution_arn = "arn:aws:states:us-east-1:123456789012:execution:sm:ex";
  info.execution_name = "ex";
  info.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:sm";
  info.state_machine_name = "sm";
  info.role_arn = "arn:aws:iam::123456789012:role/r";
  info.start_time = start;
  info.random_seed = 5;
  return info;
}

// Deterministic mode: a SimulatedClock that only the executor advances.
class SimulatedExecutorTest : public ::testing::Test {
 protected:
  SimulatedExecutorTest()
      : start_(*ParseRfc3339("2026-01-02T03:04:05Z")),
        clock_(start_),
        functions_(LambdaEnvironment{}, clock_),
        ids_(3) {
    for (CorpusBehaviour behaviour : kAllCorpusBehaviours) {
      EXPECT_TRUE(
          RegisterCorpusFunction(functions_, std::string(CorpusBehaviourName(behaviour)), behaviour)
              .ok());
    }
  }

  // Runs `definition` on {} to the end with `options`.
  std::unique_ptr<asl::Execution> RunMachine(std::string_view definition,
                                             InMemoryExecutorOptions options = {},
                                             Status* result = nullptr) {
    auto execution = std::make_unique<asl::Execution>(Machine(definition), Info(start_));
    InMemoryExecutor executor(clock_, functions_, ids_, std::move(options));
    const Status status = executor.RunToCompletion(*execution, json::object{}, "{}", start_);
    if (result != nullptr) {
      *result = status;
    } else {
      EXPECT_TRUE(status.ok()) << status;
    }
    return execution;
  }

  WallTime start_;
  SimulatedClock clock_;
  LocalFunctions functions_;
  SeededRandom ids_;
};

TEST_F(SimulatedExecutorTest, PureStatesFinishWithoutTimePassing) {
  auto execution = RunMachine(R"({"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Result": {"x": 1}, "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution->output(), R"({"x":1})");
  EXPECT_EQ(clock_.WallNow(), start_);
}

TEST_F(SimulatedExecutorTest, WaitJumpsTheClockToTheDeadline) {
  auto execution = RunMachine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
      "Seconds": 100, "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kSucceeded);
  const asl::HistoryEvent* exited = FindEvent(*execution, HistoryEventType::kWaitStateExited);
  ASSERT_NE(exited, nullptr);
  EXPECT_EQ(exited->timestamp, start_ + std::chrono::seconds(100));
  EXPECT_EQ(clock_.WallNow(), start_ + std::chrono::seconds(100));
}

TEST_F(SimulatedExecutorTest, LambdaTaskRunsThroughTheLocalFunctions) {
  auto execution = RunMachine(R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": ")" + std::string(kFunctionArn) +
                              R"(echo", "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution->output(), R"({"Return":"HelloWorld"})");
  EXPECT_THAT(Types(*execution),
              ElementsAre("ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                          "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                          "ExecutionSucceeded"));
}

TEST_F(SimulatedExecutorTest, EveryTaskOfABatchStartsBeforeAnyCompletes) {
  const auto branch = [](std::string name) {
    return R"({"StartAt": ")" + name + R"(", "States": {")" + name +
           R"(": {"Type": "Task", "Resource": ")" + std::string(kFunctionArn) +
           R"(identity", "End": true}}})";
  };
  auto execution = RunMachine(R"({"StartAt": "Par", "States": {"Par": {"Type": "Parallel",
      "Branches": [)" + branch("T1") +
                              ", " + branch("T2") + R"(], "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kSucceeded);
  std::vector<std::string> lambda_events;
  for (const std::string& type : Types(*execution)) {
    if (type == "LambdaFunctionStarted" || type == "LambdaFunctionSucceeded") {
      lambda_events.push_back(type);
    }
  }
  EXPECT_THAT(lambda_events, ElementsAre("LambdaFunctionStarted", "LambdaFunctionStarted",
                                         "LambdaFunctionSucceeded", "LambdaFunctionSucceeded"));
}

TEST_F(SimulatedExecutorTest, ATaskTimeoutFiresBeforeASlowFunctionReturns) {
  auto execution = RunMachine(R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": ")" + std::string(kFunctionArn) +
                              R"(wait_60_seconds", "TimeoutSeconds": 10,
      "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kFailed);
  EXPECT_EQ(execution->error(), "States.Timeout");
  const asl::HistoryEvent* timed_out =
      FindEvent(*execution, HistoryEventType::kLambdaFunctionTimedOut);
  ASSERT_NE(timed_out, nullptr);
  EXPECT_EQ(timed_out->timestamp, start_ + std::chrono::seconds(10));
  EXPECT_EQ(FindEvent(*execution, HistoryEventType::kLambdaFunctionSucceeded), nullptr);
}

TEST_F(SimulatedExecutorTest, ASlowFunctionCompletesAfterItsRunTime) {
  auto execution = RunMachine(R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": ")" + std::string(kFunctionArn) +
                              R"(wait_60_seconds", "End": true}}})");
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kSucceeded);
  const asl::HistoryEvent* done = FindEvent(*execution, HistoryEventType::kLambdaFunctionSucceeded);
  ASSERT_NE(done, nullptr);
  EXPECT_EQ(done->timestamp, start_ + std::chrono::seconds(60));
}

TEST_F(SimulatedExecutorTest, AResourceWithoutLocalImplementationFailsTheTask) {
  InMemoryExecutorOptions options;
  options.runner_name = "the test";
  auto execution = RunMachine(R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": "arn:aws:states:::ecs:runTask.sync", "End": true}}})",
                              options);
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kFailed);
  EXPECT_EQ(execution->error(), "States.TaskFailed");
  EXPECT_EQ(execution->cause(),
            "the test has no local implementation of 'arn:aws:states:::ecs:runTask.sync'");
}

TEST_F(SimulatedExecutorTest, ATimerBeyondTheHorizonIsAStall) {
  InMemoryExecutorOptions options;
  options.horizon = std::chrono::hours(24);
  Status status;
  auto execution = RunMachine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
      "Seconds": 172800, "End": true}}})",
                              options, &status);
  EXPECT_THAT(status, StatusIs(StatusCode::kFailedPrecondition,
                               "stalled: next timer beyond the horizon, at 2026-01-04T03:04:05Z"));
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kRunning);
  EXPECT_EQ(clock_.WallNow(), start_);
}

TEST_F(SimulatedExecutorTest, StopWhenIdleAbortsBeforeTimePasses) {
  InMemoryExecutorOptions options;
  options.stop_when_idle = true;
  auto execution = RunMachine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
      "Seconds": 10, "End": true}}})",
                              options);
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kAborted);
  EXPECT_EQ(execution->history().back().type, HistoryEventType::kExecutionAborted);
  EXPECT_EQ(execution->history().back().timestamp, start_);
}

TEST_F(SimulatedExecutorTest, TheStepLimitStopsARun) {
  InMemoryExecutorOptions options;
  options.max_steps = 1;
  Status status;
  auto execution = RunMachine(R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": ")" + std::string(kFunctionArn) +
                                  R"(identity", "End": true}}})",
                              options, &status);
  EXPECT_THAT(status, StatusIs(StatusCode::kResourceExhausted, "step limit reached"));
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kRunning);
}

TEST_F(SimulatedExecutorTest, AStopRequestedBeforeTheRunAbortsRightAfterStart) {
  auto execution = std::make_unique<asl::Execution>(
      Machine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10,
          "End": true}}})"),
      Info(start_));
  InMemoryExecutor executor(clock_, functions_, ids_);
  executor.RequestStop("Stopped", "by the test");
  ASSERT_TRUE(executor.RunToCompletion(*execution, json::object{}, "{}").ok());
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kAborted);
  EXPECT_EQ(execution->error(), "Stopped");
  EXPECT_EQ(execution->cause(), "by the test");
  EXPECT_EQ(clock_.WallNow(), start_);
}

// A timer someone else arms on the executor's simulated clock runs at its own deadline: the
// executor does not jump past it to its own next timer.
TEST_F(SimulatedExecutorTest, OtherTimersOnTheClockRunAtTheirDeadlines) {
  auto execution = std::make_unique<asl::Execution>(
      Machine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60,
          "End": true}}})"),
      Info(start_));
  InMemoryExecutor executor(clock_, functions_, ids_);
  clock_.ScheduleAfter(std::chrono::seconds(5),
                       [&executor] { executor.RequestStop("Stopped", "after five seconds"); });
  ASSERT_TRUE(executor.RunToCompletion(*execution, json::object{}, "{}").ok());
  EXPECT_EQ(execution->status(), asl::ExecutionStatus::kAborted);
  EXPECT_EQ(execution->history().back().timestamp, start_ + std::chrono::seconds(5));
}

TEST_F(SimulatedExecutorTest, SameCallsGiveTheSameHistory) {
  const std::string definition = R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": ")" + std::string(kFunctionArn) +
                                 R"(raise_exception",
      "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "MaxAttempts": 2,
                 "JitterStrategy": "FULL"}],
      "End": true}}})";
  std::vector<std::string> histories;
  for (int run = 0; run < 2; ++run) {
    SimulatedClock clock(start_);
    LocalFunctions functions(LambdaEnvironment{}, clock);
    ASSERT_TRUE(
        RegisterCorpusFunction(functions, "raise_exception", CorpusBehaviour::kRaiseException)
            .ok());
    SeededRandom ids(9);
    asl::Execution execution(Machine(definition), Info(start_));
    InMemoryExecutor executor(clock, functions, ids);
    ASSERT_TRUE(executor.RunToCompletion(execution, json::object{}, "{}").ok());
    EXPECT_EQ(execution.status(), asl::ExecutionStatus::kFailed);
    json::array events;
    for (const asl::HistoryEvent& event : execution.history()) {
      events.push_back(asl::HistoryEventToJson(event));
    }
    histories.push_back(SerializeJson(events));
  }
  EXPECT_EQ(histories[0], histories[1]);
  EXPECT_THAT(histories[0], HasSubstr("requestId"));
}

// Real time: a SystemClock, whose timers fire on its own thread.
class RealTimeExecutorTest : public ::testing::Test {
 protected:
  RealTimeExecutorTest() : functions_(LambdaEnvironment{}, clock_), ids_(4) {
    EXPECT_TRUE(
        RegisterCorpusFunction(functions_, "wait_60_seconds", CorpusBehaviour::kWait60Seconds)
            .ok());
    EXPECT_TRUE(RegisterCorpusFunction(functions_, "identity", CorpusBehaviour::kIdentity).ok());
  }

  SystemClock clock_;
  LocalFunctions functions_;
  SeededRandom ids_;
};

Duration Between(const asl::Execution& execution, HistoryEventType from, HistoryEventType to) {
  const asl::HistoryEvent* a = FindEvent(execution, from);
  const asl::HistoryEvent* b = FindEvent(execution, to);
  EXPECT_TRUE(a != nullptr && b != nullptr);
  return a != nullptr && b != nullptr ? b->timestamp - a->timestamp : Duration::zero();
}

TEST_F(RealTimeExecutorTest, DelaysElapseScaledAndTimestampsAreRealTime) {
  InMemoryExecutorOptions options;
  options.time_scale = 1e-4;  // 100 s -> 10 ms, 60 s -> 6 ms
  asl::Execution execution(
      Machine(R"({"StartAt": "W", "States": {
      "W": {"Type": "Wait", "Seconds": 100, "Next": "T"},
      "T": {"Type": "Task", "Resource": ")" +
              std::string(kFunctionArn) + R"(wait_60_seconds", "End": true}}})"),
      Info(clock_.WallNow()));
  InMemoryExecutor executor(clock_, functions_, ids_, options);
  ASSERT_TRUE(executor.RunToCompletion(execution, json::object{{"a", 1}}, R"({"a": 1})").ok());
  EXPECT_EQ(execution.status(), asl::ExecutionStatus::kSucceeded);
  EXPECT_EQ(execution.output(), R"({"a":1})");

  // Timestamps are wall-clock instants to the millisecond: the Wait took its scaled 10 ms, not
  // its 100 s of workflow time.
  const Duration wait =
      Between(execution, HistoryEventType::kWaitStateEntered, HistoryEventType::kWaitStateExited);
  EXPECT_GE(wait, std::chrono::milliseconds(9));
  EXPECT_LT(wait, std::chrono::seconds(100));
  const Duration function = Between(execution, HistoryEventType::kLambdaFunctionStarted,
                                    HistoryEventType::kLambdaFunctionSucceeded);
  EXPECT_GE(function, std::chrono::milliseconds(5));
  EXPECT_LT(function, std::chrono::seconds(60));
  for (const asl::HistoryEvent& event : execution.history()) {
    EXPECT_EQ(event.timestamp, std::chrono::floor<std::chrono::milliseconds>(event.timestamp));
  }
}

// Deliveries keep their arrival order on a real clock: a branch that loops through tasks
// without pause does not hold back a timer that fell due meanwhile. Here the Wait branch's Fail
// (after a scaled 1 ms) must end the execution long before the looping branch could fill the
// history (25,000 events take far longer than that to record).
TEST_F(RealTimeExecutorTest, ATaskLoopDoesNotStarveATimer) {
  InMemoryExecutorOptions options;
  options.time_scale = 1e-3;
  asl::Execution execution(Machine(R"({"StartAt": "P", "States": {"P": {"Type": "Parallel",
      "Branches": [
        {"StartAt": "W", "States": {
          "W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
          "F": {"Type": "Fail", "Error": "WaitBranch"}}},
        {"StartAt": "T", "States": {
          "T": {"Type": "Task", "Resource": ")" + std::string(kFunctionArn) +
                                   R"(identity", "Next": "C"},
          "C": {"Type": "Choice", "Default": "T",
                "Choices": [{"Variable": "$.never", "IsPresent": true, "Next": "S"}]},
          "S": {"Type": "Succeed"}}}],
      "End": true}}})"),
                           Info(clock_.WallNow()));
  InMemoryExecutor executor(clock_, functions_, ids_, options);
  ASSERT_TRUE(executor.RunToCompletion(execution, json::object{}, "{}").ok());
  EXPECT_EQ(execution.status(), asl::ExecutionStatus::kFailed);
  EXPECT_EQ(execution.error(), "WaitBranch");
}

TEST_F(RealTimeExecutorTest, RequestStopFromAnotherThreadWakesAWaitingRun) {
  asl::Execution execution(Machine(R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
      "Seconds": 3600, "End": true}}})"),
                           Info(clock_.WallNow()));
  InMemoryExecutor executor(clock_, functions_, ids_);
  // The request arrives on another clock's thread while the run waits for its hour. That clock
  // is destroyed first, which waits for the callback: RequestStop returns before the executor
  // goes away.
  SystemClock stopper;
  stopper.ScheduleAfter(std::chrono::milliseconds(20),
                        [&executor] { executor.RequestStop("", "stopped by the test"); });
  ASSERT_TRUE(executor.RunToCompletion(execution, json::object{}, "{}").ok());
  EXPECT_EQ(execution.status(), asl::ExecutionStatus::kAborted);
  EXPECT_EQ(execution.cause(), "stopped by the test");
}

}  // namespace
}  // namespace hpd::engine
