#include "engine/bench_functions.h"

#include <string>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/rfc3339.h"
#include "common/status_matchers.h"
#include "support/corpus.h"
#include "support/kept_text.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

using ::hpd::testing::Json;

class BenchFunctionsTest : public ::testing::Test {
 protected:
  BenchFunctionsTest()
      : clock_(*ParseRfc3339("2026-11-27T06:51:16Z")),
        functions_(LambdaEnvironment{}, clock_),
        ids_(1) {
    EXPECT_TRUE(RegisterBenchFunctions(functions_).ok());
  }

  // Invokes `name` as the workloads do: a Lambda function ARN resource.
  asl::TaskOutcome Call(std::string_view name, std::string_view event) {
    asl::TaskInvocation task;
    task.kind = asl::TaskKind::kLambdaFunction;
    task.resource =
        hpd::testing::KeptText("arn:aws:lambda:us-east-1:123456789012:function:" + std::string(name));
    task.parameters = Json(event);
    return functions_.Invoke(task, ids_);
  }

  SimulatedClock clock_;
  LocalFunctions functions_;
  SeededRandom ids_;
};

TEST_F(BenchFunctionsTest, EveryListedFunctionIsRegistered) {
  ASSERT_EQ(BenchFunctions().size(), 7u);
  for (const LocalFunctionSummary& f : BenchFunctions()) {
    EXPECT_TRUE(functions_.Contains(f.name)) << f.name;
    EXPECT_FALSE(f.behaviour.empty()) << f.name;
  }
}

TEST_F(BenchFunctionsTest, RegisteringTwiceIsRefused) {
  EXPECT_THAT(RegisterBenchFunctions(functions_),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("flaky")));
}

TEST_F(BenchFunctionsTest, FlakyFailsTwiceThenSucceedsOnTheThirdAttempt) {
  for (int attempt = 1; attempt <= 2; ++attempt) {
    const asl::TaskOutcome failed = Call("flaky", R"({"n": 7, "job": "j"})");
    EXPECT_FALSE(failed.succeeded);
    EXPECT_EQ(failed.error, "FlakyError");
    EXPECT_THAT(failed.cause,
                HasSubstr("\"errorMessage\": \"attempt " + std::to_string(attempt) + " failed\""));
  }
  const asl::TaskOutcome third = Call("flaky", R"({"n": 7, "job": "j"})");
  ASSERT_TRUE(third.succeeded) << third.cause;
  EXPECT_EQ(third.output, Json(R"({"ok": true, "n": 7, "attempt": 3})"));
  // The count starts again after a success.
  EXPECT_FALSE(Call("flaky", R"({"n": 7, "job": "j"})").succeeded);
}

TEST_F(BenchFunctionsTest, FlakyCountsEachDistinctEventApart) {
  EXPECT_FALSE(Call("flaky", R"({"n": 1})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"n": 2})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"n": 1})").succeeded);
  EXPECT_TRUE(Call("flaky", R"({"n": 1})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"n": 2})").succeeded);
  EXPECT_TRUE(Call("flaky", R"({"n": 2})").succeeded);
}

TEST_F(BenchFunctionsTest, FlakyCountsEventsWithoutAnIntegerNByTheirText) {
  EXPECT_FALSE(Call("flaky", R"({"job": "a"})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"n": "1"})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"job": "b"})").succeeded);
  EXPECT_FALSE(Call("flaky", R"({"n": 1})").succeeded);  // not the same as "1"
  EXPECT_FALSE(Call("flaky", R"({"job": "a"})").succeeded);
  const asl::TaskOutcome a = Call("flaky", R"({"job": "a"})");
  ASSERT_TRUE(a.succeeded) << a.cause;
  EXPECT_EQ(a.output, Json(R"({"ok": true, "attempt": 3})"));
  EXPECT_FALSE(Call("flaky", R"({"n": "1"})").succeeded);
  const asl::TaskOutcome quoted = Call("flaky", R"({"n": "1"})");
  ASSERT_TRUE(quoted.succeeded) << quoted.cause;
  EXPECT_EQ(quoted.output, Json(R"({"ok": true, "n": "1", "attempt": 3})"));
  EXPECT_FALSE(Call("flaky", "[]").succeeded);
  EXPECT_FALSE(Call("flaky", "[]").succeeded);
  EXPECT_TRUE(Call("flaky", "[]").succeeded);
}

TEST_F(BenchFunctionsTest, FlakyCauseIsThePythonErrorJson) {
  const asl::TaskOutcome failed = Call("flaky", R"({"n": 3})");
  ASSERT_FALSE(failed.succeeded);
  auto cause = ParseJson(failed.cause);
  ASSERT_TRUE(cause.ok()) << failed.cause;
  EXPECT_EQ(failed.cause, R"({"errorMessage": "attempt 1 failed", "errorType": "FlakyError", )"
                          R"("requestId": ")" +
                              std::string(cause->at("requestId").as_string()) +
                              R"(", "stackTrace": []})");
}

TEST_F(BenchFunctionsTest, HyperPodHappyPathShapes) {
  EXPECT_EQ(Call("prepare", R"({"cluster": "c1", "region": "r1", "nodes": 4})").output,
            Json(R"({"plan": "plan-c1-r1", "nodes": 4, "ready": true})"));
  EXPECT_EQ(Call("run_task", R"({"cluster": "c1", "plan": "p", "failAt": "none"})").output,
            Json(R"({"taskId": "task-c1-0001", "status": "RUNNING", "plan": "p",
                     "ignored": [1, 2, 3]})"));
  EXPECT_EQ(Call("validate", R"({"taskId": "t", "nodes": 4, "failAt": "none"})").output,
            Json(R"({"healthy": true, "checkedNodes": 4, "taskId": "t"})"));
  EXPECT_EQ(Call("persist", R"({"cluster": "c1", "taskId": "t", "healthy": true})").output,
            Json(R"({"persisted": true, "key": "c1/t", "healthy": true})"));
  EXPECT_EQ(Call("cleanup", R"({"cluster": "c1", "error": {}})").output,
            Json(R"({"cleaned": true, "cluster": "c1"})"));
  EXPECT_EQ(Call("record_failure", R"({"cluster": "c1", "error": "E"})").output,
            Json(R"({"recorded": true, "cluster": "c1", "error": "E"})"));
}

TEST_F(BenchFunctionsTest, FailAtRaisesTheNamedError) {
  const asl::TaskOutcome run = Call("run_task", R"({"cluster": "c1", "failAt": "run_task"})");
  EXPECT_FALSE(run.succeeded);
  EXPECT_EQ(run.error, "TaskLaunchError");
  EXPECT_THAT(run.cause, HasSubstr("could not start task"));

  const asl::TaskOutcome validate = Call("validate", R"({"taskId": "t-9", "failAt": "validate"})");
  EXPECT_FALSE(validate.succeeded);
  EXPECT_EQ(validate.error, "ValidationError");
  EXPECT_THAT(validate.cause, HasSubstr("health check failed on t-9"));
}

TEST_F(BenchFunctionsTest, MissingMembersRenderAsJavaScriptWould) {
  EXPECT_EQ(Call("prepare", R"({"cluster": 5})").output,
            Json(R"({"plan": "plan-5-undefined", "ready": true})"));
}

}  // namespace
}  // namespace hpd::engine
