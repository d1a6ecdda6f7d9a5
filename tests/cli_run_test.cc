// `hpdeploy run` through the real binary: output and exit codes, the --input forms, the
// --history document, --time-scale 0, names, usage errors, SIGINT, and every bench workload
// giving the result its README promises.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/uuid.h"
#include "support/corpus.h"
#include "support/scratch_dir.h"
#include "support/subprocess.h"

namespace hpd {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RunProcess;

constexpr const char* kBinary = HPD_BINARY;

constexpr const char* kPass = R"({"StartAt": "P", "States": {"P": {"Type": "Pass",
    "Parameters": {"got.$": "$.x"}, "End": true}}})";

constexpr const char* kFail = R"({"StartAt": "F", "States": {"F": {"Type": "Fail",
    "Error": "Broken", "Cause": "it broke"}}})";

constexpr const char* kWait100 = R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
    "Seconds": 100, "Next": "Done"}, "Done": {"Type": "Succeed"}}})";

using ::hpd::testing::Json;

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class CliRunTest : public testing::ScratchDirTest {
 protected:
  // The events of a --history file.
  json::array History(const std::string& path) {
    json::value doc = Json(ReadText(path));
    if (!doc.is_object() || !doc.as_object().contains("events")) {
      ADD_FAILURE() << "not a history document: " << path;
      return {};
    }
    return doc.as_object().at("events").as_array();
  }

};

std::vector<std::string> Types(const json::array& events) {
  std::vector<std::string> types;
  for (const json::value& event : events) {
    types.emplace_back(event.as_object().at("type").as_string());
  }
  return types;
}

const json::object* FindEvent(const json::array& events, std::string_view type) {
  for (const json::value& event : events) {
    if (event.as_object().at("type").as_string() == type) return &event.as_object();
  }
  return nullptr;
}

TEST_F(CliRunTest, SucceededPrintsTheOutputAndExitsZero) {
  auto r = RunProcess({kBinary, "run", Write("pass.asl.json", kPass), "--input", R"({"x": 5})"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"got\":5}\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(CliRunTest, FailedPrintsErrorAndCauseAndExitsOne) {
  auto r = RunProcess({kBinary, "run", Write("fail.json", kFail)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("execution FAILED"));
  EXPECT_THAT(r.err, HasSubstr("error: Broken"));
  EXPECT_THAT(r.err, HasSubstr("cause: it broke"));
}

TEST_F(CliRunTest, InputDefaultsToAnEmptyObject) {
  auto r = RunProcess({kBinary, "run", Write("pass.json", R"({"StartAt": "P", "States": {
      "P": {"Type": "Pass", "End": true}}})")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{}\n");
}

TEST_F(CliRunTest, InputFromAFileOrStandardInputIsRecordedVerbatim) {
  const std::string def = Write("pass.json", kPass);
  const std::string input_text = "{\n  \"x\": [1, 2]\n}\n";
  const std::string history = (dir_ / "h.json").string();

  auto from_file = RunProcess(
      {kBinary, "run", def, "--input", "@" + Write("in.json", input_text), "--history", history});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_EQ(from_file.out, "{\"got\":[1,2]}\n");
  json::array events = History(history);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].at("executionStartedEventDetails").at("input").as_string(), input_text);

  auto from_stdin = RunProcess({kBinary, "run", def, "--input", "-"}, R"({"x": "piped"})");
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, "{\"got\":\"piped\"}\n");

  auto definition_from_stdin = RunProcess({kBinary, "run", "-", "--input", R"({"x": 1})"}, kPass);
  EXPECT_EQ(definition_from_stdin.exit_code, 0) << definition_from_stdin.err;
  EXPECT_EQ(definition_from_stdin.out, "{\"got\":1}\n");
}

TEST_F(CliRunTest, HistoryIsTheGetExecutionHistoryShape) {
  const std::string history = (dir_ / "history.json").string();
  auto r = RunProcess(
      {kBinary, "run", Write("pass.json", kPass), "--input", R"({"x": 1})", "--history", history});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::array events = History(history);
  EXPECT_THAT(Types(events), ElementsAre("ExecutionStarted", "PassStateEntered", "PassStateExited",
                                         "ExecutionSucceeded"));
  const std::vector<int64_t> previous = {0, 0, 2, 3};
  for (size_t k = 0; k < events.size(); ++k) {
    const json::object& event = events[k].as_object();
    EXPECT_EQ(event.at("id").to_number<int64_t>(), static_cast<int64_t>(k + 1));
    EXPECT_EQ(event.at("previousEventId").to_number<int64_t>(), previous.at(k));
    EXPECT_TRUE(event.at("timestamp").is_number());
  }
  const json::object& started = events[0].at("executionStartedEventDetails").as_object();
  EXPECT_EQ(started.at("input").as_string(), R"({"x": 1})");
  EXPECT_EQ(started.at("roleArn").as_string(), "arn:aws:iam::123456789012:role/hpdeploy");
  // Payloads are JSON text inside strings, as the API returns them.
  const json::object& entered = events[1].at("stateEnteredEventDetails").as_object();
  EXPECT_EQ(entered.at("name").as_string(), "P");
  EXPECT_EQ(Json(std::string(entered.at("input").as_string())), Json(R"({"x": 1})"));
  const json::object& succeeded = events[3].at("executionSucceededEventDetails").as_object();
  EXPECT_EQ(succeeded.at("output").as_string(), R"({"got":1})");
}

TEST_F(CliRunTest, FailedHistoryEndsWithExecutionFailed) {
  const std::string history = (dir_ / "history.json").string();
  auto r = RunProcess({kBinary, "run", Write("fail.json", kFail), "--history", history});
  EXPECT_EQ(r.exit_code, 1);
  json::array events = History(history);
  ASSERT_FALSE(events.empty());
  const json::object& last = events.back().as_object();
  EXPECT_EQ(last.at("type").as_string(), "ExecutionFailed");
  EXPECT_EQ(last.at("executionFailedEventDetails").at("error").as_string(), "Broken");
  EXPECT_EQ(last.at("executionFailedEventDetails").at("cause").as_string(), "it broke");
}

TEST_F(CliRunTest, TimeScaleZeroRunsAWaitOnSimulatedTime) {
  const std::string history = (dir_ / "history.json").string();
  auto r = RunProcess(
      {kBinary, "run", Write("wait.json", kWait100), "--time-scale", "0", "--history", history});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::array events = History(history);
  const json::object* entered = FindEvent(events, "WaitStateEntered");
  const json::object* exited = FindEvent(events, "WaitStateExited");
  ASSERT_TRUE(entered != nullptr && exited != nullptr);
  // Exactly the Wait's 100 s of simulated time (a real clock would show a few milliseconds,
  // and a 100 s run would not have finished within the test's timeout).
  EXPECT_DOUBLE_EQ(
      exited->at("timestamp").to_number<double>() - entered->at("timestamp").to_number<double>(),
      100.0);
}

TEST_F(CliRunTest, TimeScaleShortensRealWaits) {
  const std::string history = (dir_ / "history.json").string();
  auto r = RunProcess({kBinary, "run", Write("wait.json", kWait100), "--time-scale", "0.0001",
                       "--history", history});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::array events = History(history);
  const json::object* entered = FindEvent(events, "WaitStateEntered");
  const json::object* exited = FindEvent(events, "WaitStateExited");
  ASSERT_TRUE(entered != nullptr && exited != nullptr);
  // Real wall-clock timestamps: 100 s scaled to 10 ms.
  const double waited =
      exited->at("timestamp").to_number<double>() - entered->at("timestamp").to_number<double>();
  EXPECT_GE(waited, 0.009);
  EXPECT_LT(waited, 100.0);
}

TEST_F(CliRunTest, NamesAndArnsReachTheContextObject) {
  const std::string def = R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
      "sm.$": "$$.StateMachine.Id", "smName.$": "$$.StateMachine.Name",
      "exec.$": "$$.Execution.Id", "execName.$": "$$.Execution.Name",
      "role.$": "$$.Execution.RoleArn"}, "End": true}}})";
  const std::string file = Write("my_machine.asl.json", def);

  auto defaults = RunProcess({kBinary, "run", file});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  json::value out = Json(defaults.out);
  EXPECT_EQ(out.at("sm").as_string(),
            "arn:aws:states:us-east-1:123456789012:stateMachine:my_machine");
  EXPECT_EQ(out.at("smName").as_string(), "my_machine");
  const std::string exec_name(out.at("execName").as_string());
  EXPECT_TRUE(IsUuid(exec_name)) << exec_name;
  EXPECT_EQ(out.at("exec").as_string(),
            "arn:aws:states:us-east-1:123456789012:execution:my_machine:" + exec_name);
  EXPECT_EQ(out.at("role").as_string(), "arn:aws:iam::123456789012:role/hpdeploy");

  auto named = RunProcess(
      {kBinary, "run", file, "--state-machine-name", "sm-1", "--execution-name", "ex-1"});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  out = Json(named.out);
  EXPECT_EQ(out.at("exec").as_string(),
            "arn:aws:states:us-east-1:123456789012:execution:sm-1:ex-1");
  EXPECT_EQ(out.at("smName").as_string(), "sm-1");
}

TEST_F(CliRunTest, AnUnknownFunctionFailsLikeResourceNotFound) {
  const std::string def = R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:nope", "End": true}}})";
  auto r = RunProcess({kBinary, "run", Write("t.json", def)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("error: Lambda.ResourceNotFoundException"));
  EXPECT_THAT(r.err, HasSubstr("Function not found: "
                               "arn:aws:lambda:us-east-1:123456789012:function:nope:$LATEST"));
}

TEST_F(CliRunTest, SubstitutionsFillPlaceholders) {
  const std::string def = R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": "${Fn}", "End": true}}})";
  auto subs =
      Write("subs.json", R"({"Fn": "arn:aws:lambda:us-east-1:123456789012:function:echo"})");
  auto r = RunProcess({kBinary, "run", Write("t.json", def), "--substitutions", subs});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"Return\":\"HelloWorld\"}\n");

  auto missing = RunProcess(
      {kBinary, "run", Write("t2.json", def), "--substitutions", Write("none.json", "{}")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("${Fn}"));
}

TEST_F(CliRunTest, AnInvalidDefinitionIsAUsageErrorWithItsDiagnostics) {
  auto r = RunProcess({kBinary, "run", Write("bad.json", R"({"StartAt": "A", "States": {
      "A": {"Type": "Pass", "Next": "Nowhere"}}})")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr("bad.json: invalid definition"));
  EXPECT_THAT(r.err, HasSubstr("MISSING_TRANSITION_TARGET at /States/A/Next"));
}

TEST_F(CliRunTest, UsageAndIoErrorsExitTwo) {
  const std::string def = Write("pass.json", kPass);
  auto not_json = RunProcess({kBinary, "run", def, "--input", "{nope"});
  EXPECT_EQ(not_json.exit_code, 2);
  EXPECT_THAT(not_json.err, HasSubstr("--input is not JSON"));

  // The input limit of StartExecution: 262,144 bytes of JSON text pass, one more does not.
  const std::string plain =
      Write("plain.json", R"({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}})");
  const std::string at_limit = Write("at_limit.json", "\"" + std::string(262142, 'x') + "\"");
  auto largest = RunProcess({kBinary, "run", plain, "--input", "@" + at_limit});
  EXPECT_EQ(largest.exit_code, 0) << largest.err;
  const std::string over = Write("over.json", "\"" + std::string(262143, 'x') + "\"");
  auto too_large = RunProcess({kBinary, "run", plain, "--input", "@" + over});
  EXPECT_EQ(too_large.exit_code, 2);
  EXPECT_THAT(too_large.err,
              HasSubstr("--input is 262145 bytes; Step Functions accepts at most 262144"));

  auto missing = RunProcess({kBinary, "run", (dir_ / "absent.json").string()});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_THAT(missing.err, HasSubstr("absent.json"));

  auto missing_input = RunProcess({kBinary, "run", def, "--input", "@/nonexistent/in.json"});
  EXPECT_EQ(missing_input.exit_code, 2);
  EXPECT_THAT(missing_input.err, HasSubstr("/nonexistent/in.json"));

  auto bad_history =
      RunProcess({kBinary, "run", def, "--history", (dir_ / "no" / "such" / "h.json").string()});
  EXPECT_EQ(bad_history.exit_code, 2);
  EXPECT_THAT(bad_history.err, HasSubstr("cannot write"));

  auto negative_scale = RunProcess({kBinary, "run", def, "--time-scale", "-1"});
  EXPECT_EQ(negative_scale.exit_code, 2);
  EXPECT_THAT(negative_scale.err, HasSubstr("--time-scale"));

  auto bad_name = RunProcess({kBinary, "run", def, "--execution-name", "a b"});
  EXPECT_EQ(bad_name.exit_code, 2);
  EXPECT_THAT(bad_name.err, HasSubstr("execution name"));

  auto both_stdin = RunProcess({kBinary, "run", "-", "--input", "-"}, kPass);
  EXPECT_EQ(both_stdin.exit_code, 2);

  EXPECT_EQ(RunProcess({kBinary, "run"}).exit_code, 2);
  EXPECT_EQ(RunProcess({kBinary, "run", def, "--no-such-option"}).exit_code, 2);
}

TEST_F(CliRunTest, HelpListsTheLocalFunctions) {
  auto r = RunProcess({kBinary, "run", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"--input", "--history", "--time-scale", "--substitutions",
                           "--state-machine-name", "--execution-name", "flaky", "run_task",
                           "record_failure", "identity", "ResourceNotFoundException", "SIGINT"}) {
    EXPECT_THAT(r.out, HasSubstr(text));
  }
  EXPECT_THAT(RunProcess({kBinary, "--help"}).out, HasSubstr("run"));
}

// True once `pid` has a handler for `signal_number` (Linux: SigCgt in /proc/PID/status).
bool CatchesSignal(pid_t pid, int signal_number) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("SigCgt:")) {
      const unsigned long long mask = std::stoull(line.substr(7), nullptr, 16);
      return (mask >> (signal_number - 1)) & 1u;
    }
  }
  return false;
}

TEST_F(CliRunTest, SigintStopsTheExecutionAsAborted) {
  const std::string history = (dir_ / "history.json").string();
  const std::string def = Write("long.json", R"({"StartAt": "W", "States": {"W": {"Type": "Wait",
      "Seconds": 3600, "End": true}}})");
  bool signalled = false;
  auto r = RunProcess({kBinary, "run", def, "--history", history}, "", [&](pid_t pid) {
    // Wait (bounded) until the handler is installed, so the signal is not the default action.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!CatchesSignal(pid, SIGINT) && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    signalled = kill(pid, SIGINT) == 0;
  });
  ASSERT_TRUE(signalled);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("execution ABORTED"));
  EXPECT_THAT(r.err, HasSubstr("SIGINT"));
  json::array events = History(history);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().at("type").as_string(), "ExecutionAborted");
}

// The bench workloads (../shared/bench/workloads, README there), each with its input, giving the
// README's expected result and entering the number of states it lists.
class CliRunWorkloadTest : public CliRunTest {
 protected:
  struct Run {
    testing::ProcessResult process;
    json::value output;  // null unless SUCCEEDED
    size_t states_entered = 0;
  };

  Run RunWorkload(const std::string& workload, const std::string& input,
                  std::vector<std::string> extra = {}) {
    const std::filesystem::path dir = testing::BenchWorkloadsDir();
    const std::string history = (dir_ / (workload + ".history.json")).string();
    std::vector<std::string> argv = {kBinary,
                                     "run",
                                     (dir / (workload + ".asl.json")).string(),
                                     "--input",
                                     "@" + (dir / input).string(),
                                     "--history",
                                     history};
    argv.insert(argv.end(), extra.begin(), extra.end());
    Run run;
    run.process = RunProcess(argv);
    if (run.process.exit_code == 0) run.output = Json(run.process.out);
    for (const json::value& event : History(history)) {
      if (std::string_view(event.at("type").as_string()).ends_with("StateEntered")) {
        ++run.states_entered;
      }
    }
    return run;
  }
};

TEST_F(CliRunWorkloadTest, PassChain1000) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("pass_chain_1000", "pass_chain_1000.input.json");
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  EXPECT_EQ(run.output.at("last").at("step"), 999);
  EXPECT_EQ(run.output.at("value"), 42);
  EXPECT_EQ(run.states_entered, 1000u);
}

TEST_F(CliRunWorkloadTest, ChoiceLoop) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  // 40,008 events: only an EXPRESS execution may record that many.
  Run run = RunWorkload("choice_loop", "choice_loop.input.json", {"--type", "EXPRESS"});
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  EXPECT_EQ(run.output.at("i"), 10000);
  EXPECT_EQ(run.states_entered, 20003u);
}

TEST_F(CliRunWorkloadTest, ChoiceLoopAsStandardStopsAtTheHistoryLimit) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("choice_loop", "choice_loop.input.json");
  EXPECT_EQ(run.process.exit_code, 1);
  EXPECT_THAT(run.process.err, ::testing::HasSubstr("States.Runtime"));
  EXPECT_THAT(run.process.err, ::testing::HasSubstr("maximum number of history events (25000)"));
}

TEST_F(CliRunWorkloadTest, Map1000) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("map_1000", "map_1000.input.json");
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  const json::array& results = run.output.at("results").as_array();
  ASSERT_EQ(results.size(), 1000u);
  for (int64_t k = 0; k < 1000; ++k) {
    EXPECT_EQ(results[static_cast<size_t>(k)],
              (json::object{{"index", k}, {"id", k}, {"w", k % 7}}))
        << "results[" << k << "]";
  }
  EXPECT_EQ(run.states_entered, 3001u);
}

TEST_F(CliRunWorkloadTest, ParallelFanout) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("parallel_fanout", "parallel_fanout.input.json");
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  json::value input = Json(ReadText(testing::BenchWorkloadsDir() / "parallel_fanout.input.json"));
  const json::array& items = input.at("items").as_array();
  const json::array& results = run.output.as_array();
  ASSERT_EQ(results.size(), 100u);
  for (size_t k = 0; k < results.size(); ++k) {
    EXPECT_EQ(results[k], json::array(10, items[k])) << "results[" << k << "]";
  }
  EXPECT_EQ(run.states_entered, 10101u);
}

TEST_F(CliRunWorkloadTest, RetryCatch) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("retry_catch", "retry_catch.input.json");
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  EXPECT_EQ(run.output.at("last"), (json::object{{"ok", true}, {"n", 99}, {"attempt", 3}}));
  EXPECT_EQ(run.states_entered, 101u);
  // IntervalSeconds 0 is outside the specification: accepted, with warnings.
  EXPECT_THAT(run.process.err, HasSubstr("100 warnings"));
}

TEST_F(CliRunWorkloadTest, RetryCatchSpecOnSimulatedTime) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  // 200 retries of IntervalSeconds 1: --time-scale 0 is the README's 0 ms override.
  Run run = RunWorkload("retry_catch_spec", "retry_catch.input.json", {"--time-scale", "0"});
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  EXPECT_EQ(run.output.at("last"), (json::object{{"ok", true}, {"n", 99}, {"attempt", 3}}));
  EXPECT_EQ(run.states_entered, 101u);
  EXPECT_EQ(run.process.err, "");
}

TEST_F(CliRunWorkloadTest, HyperPodLikeSucceeds) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("hyperpod_like", "hyperpod_like.input.json");
  ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
  EXPECT_EQ(run.output.at("persist").at("persisted"), true);
  EXPECT_EQ(run.output.at("persist").at("key"), "hp-cluster-1/task-hp-cluster-1-0001");
  // ResultSelector dropped "ignored".
  EXPECT_EQ(run.output.at("run"),
            (json::object{{"taskId", "task-hp-cluster-1-0001"}, {"status", "RUNNING"}}));
  EXPECT_EQ(run.states_entered, 5u);
}

TEST_F(CliRunWorkloadTest, HyperPodLikeFailsWithDeploymentFailed) {
  HPD_SKIP_WITHOUT_CORPUS(testing::BenchWorkloadsDir());
  Run run = RunWorkload("hyperpod_like", "hyperpod_like_fail.input.json");
  EXPECT_EQ(run.process.exit_code, 1);
  EXPECT_EQ(run.process.out, "");
  EXPECT_THAT(run.process.err, HasSubstr("execution FAILED"));
  EXPECT_THAT(run.process.err, HasSubstr("error: DeploymentFailed"));
  EXPECT_EQ(run.states_entered, 6u);
}

}  // namespace
}  // namespace hpd
