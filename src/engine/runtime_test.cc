#include "engine/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json/value.hpp>
#include <future>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status_matchers.h"
#include "store/journal.h"
#include "support/scratch_dir.h"

namespace hpd::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kArnPrefix[] = "arn:aws:states:us-east-1:123456789012:";

// Names of the history's event types, in order.
std::vector<std::string> Types(const std::vector<asl::HistoryEvent>& history) {
  std::vector<std::string> types;
  for (const asl::HistoryEvent& event : history) {
    types.emplace_back(asl::HistoryEventTypeName(event.type));
  }
  return types;
}

class RuntimeTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    ASSERT_TRUE(functions_
                    .Register("Count",
                              [this](const boost::json::value& event,
                                     const LambdaContext& context) -> StatusOr<boost::json::value> {
                                std::lock_guard lock(mu_);
                                keys_.emplace_back(context.idempotency_key);
                                return event;
                              })
                    .ok());
    ASSERT_TRUE(
        functions_
            .Register("FailOnce",
                      [this](const boost::json::value& event,
                             const LambdaContext&) -> StatusOr<boost::json::value> {
                        if (fail_.exchange(false)) {
                          return Status(StatusCode::kInternal, "not yet").SetErrorName("NotYet");
                        }
                        return event;
                      })
            .ok());
    FunctionOptions local_only;
    local_only.local_only = true;
    ASSERT_TRUE(functions_
                    .Register(
                        "Inline",
                        [this](const boost::json::value& event,
                               const LambdaContext&) -> StatusOr<boost::json::value> {
                          // Fails while failures_left_ > 0, else returns the event.
                          if (failures_left_.load() > 0) {
                            failures_left_.fetch_sub(1);
                            return Status(StatusCode::kInternal, "again").SetErrorName("Again");
                          }
                          return event;
                        },
                        local_only)
                    .ok());
    ASSERT_TRUE(functions_
                    .Register("Odd",
                              [](const boost::json::value&,
                                 const LambdaContext&) -> StatusOr<boost::json::value> {
                                // Values JSON text cannot carry as they are.
                                return boost::json::value(boost::json::object{
                                    {"unsigned", uint64_t{5}},
                                    {"nan", std::numeric_limits<double>::quiet_NaN()},
                                    {"text", "ok"}});
                              })
                    .ok());
    ASSERT_TRUE(functions_
                    .Register("Block",
                              [this](const boost::json::value& event,
                                     const LambdaContext& context) -> StatusOr<boost::json::value> {
                                {
                                  std::lock_guard lock(mu_);
                                  keys_.emplace_back(context.idempotency_key);
                                }
                                if (!block_) return event;
                                blocked_.set_value();
                                while (!context.IsCancelled()) std::this_thread::yield();
                                block_returned_.set_value();
                                return event;
                              })
                    .ok());
    OpenJournal();
  }

  void TearDown() override {
    runtime_.reset();
    journal_.reset();
    ScratchDirTest::TearDown();
  }

  void OpenJournal() {
    auto journal = store::Journal::Open(dir_ / "journal.db");
    ASSERT_TRUE(journal.ok()) << journal.status();
    journal_ = std::move(*journal);
  }

  void OpenRuntime(double time_scale, std::vector<TaskRunner*> task_runners = {},
                   std::function<void(const std::vector<std::string>&)> on_commit = nullptr) {
    RuntimeOptions options;
    options.on_commit = std::move(on_commit);
    options.time_scale = time_scale;
    options.workers = 2;
    options.task_runners = std::move(task_runners);
    auto runtime = Runtime::Open(*journal_, functions_, clock_, options);
    ASSERT_TRUE(runtime.ok()) << runtime.status();
    runtime_ = std::move(*runtime);
  }

  // Stores a STANDARD machine named `name` with `definition`; returns it compiled.
  CompiledMachine AddMachine(const std::string& name, const std::string& definition) {
    store::StateMachineRow row;
    row.arn = std::string(kArnPrefix) + "stateMachine:" + name;
    row.name = name;
    row.type = "STANDARD";
    row.created = clock_.WallNow();
    row.definition = definition;
    row.role_arn = "arn:aws:iam::123456789012:role/r";
    row.revision_id = "rev";
    std::promise<Status> done;
    journal_->Submit(
        [&row](store::JournalWriter& writer) -> Status {
          auto id = writer.InsertStateMachine(row);
          if (!id.ok()) return id.status();
          row.id = *id;
          auto revision = writer.AddRevision(store::RevisionRow{
              0, row.id, row.revision_id, row.definition, row.role_arn, row.created});
          if (!revision.ok()) return revision.status();
          row.revision = *revision;
          return Status::Ok();
        },
        [&done](Status status) { done.set_value(status); });
    EXPECT_TRUE(done.get_future().get().ok());
    auto compiled = runtime_->Compile(row);
    EXPECT_TRUE(compiled.ok()) << compiled.status();
    return *compiled;
  }

  StartRequest Request(const CompiledMachine& machine, const std::string& name,
                       const std::string& input = "{}") {
    StartRequest request;
    request.machine = machine;
    request.execution_arn = std::string(kArnPrefix) + "execution:" + machine.row->name + ":" + name;
    request.name = name;
    request.input = input;
    return request;
  }

  StatusOr<StartResult> Start(StartRequest request,
                              std::function<void(const ExecutionEnd&)> on_end = nullptr) {
    std::promise<StatusOr<StartResult>> done;
    runtime_->Start(
        std::move(request), [&done](StatusOr<StartResult> result) { done.set_value(result); },
        std::move(on_end));
    return done.get_future().get();
  }

  // Starts and waits for the end.
  ExecutionEnd Run(StartRequest request) {
    auto end = std::make_shared<std::promise<ExecutionEnd>>();
    StatusOr<StartResult> started =
        Start(std::move(request), [end](const ExecutionEnd& e) { end->set_value(e); });
    EXPECT_TRUE(started.ok()) << started.status();
    return end->get_future().get();
  }

  StatusOr<WallTime> Stop(const std::string& arn) {
    std::promise<StatusOr<WallTime>> done;
    runtime_->Stop(arn, "Halt", "by test", [&done](StatusOr<WallTime> at) { done.set_value(at); });
    return done.get_future().get();
  }

  std::vector<std::string> Keys() {
    std::lock_guard lock(mu_);
    return keys_;
  }

  SystemClock clock_;
  LocalFunctions functions_{LambdaEnvironment{}, clock_};
  std::unique_ptr<store::Journal> journal_;
  std::unique_ptr<Runtime> runtime_;
  std::mutex mu_;
  std::vector<std::string> keys_;  // guarded by mu_
  std::promise<void> blocked_;
  std::atomic<bool> block_{true};      // Block waits until cancelled; else returns at once
  std::promise<void> block_returned_;  // Block saw its cancellation
  std::atomic<bool> fail_{true};       // FailOnce fails once
  std::atomic<int> failures_left_{0};  // Inline fails this many more times
};

constexpr char kPassMachine[] = R"({"StartAt":"A","States":{
  "A":{"Type":"Pass","Result":{"x":1},"ResultPath":"$.a","Next":"B"},
  "B":{"Type":"Succeed"}}})";

constexpr char kTaskMachine[] = R"({"StartAt":"T","States":{
  "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Count","End":true}}})";

constexpr char kWaitMachine[] = R"({"StartAt":"W","States":{
  "W":{"Type":"Wait","Seconds":3600,"Next":"T"},
  "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Count","End":true}}})";

constexpr char kBlockMachine[] = R"({"StartAt":"T","States":{
  "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Block","End":true}}})";

TEST_F(RuntimeTest, OnCommitNamesTheExecutionAfterEachCommitBeforeWaitersHear) {
  std::mutex mu;
  // Per call: the names, and the last event of the first one's history as committed then.
  std::vector<std::pair<std::vector<std::string>, std::string>> commits;
  OpenRuntime(0, {}, [&](const std::vector<std::string>& arns) {
    // The commit is durable when this runs: the journal already replays to it.
    auto history = runtime_->ReplayHistory(arns.at(0));
    std::string last = history.ok() && !(*history)->empty()
                           ? std::string(asl::HistoryEventTypeName((*history)->back().type))
                           : "unreadable";
    std::lock_guard lock(mu);
    commits.emplace_back(arns, last);
  });
  CompiledMachine machine = AddMachine("m", kTaskMachine);
  const std::string arn = std::string(kArnPrefix) + "execution:m:e1";
  size_t seen_at_end = 0;
  ExecutionEnd end = Run(Request(machine, "e1", R"({"n":1})"));
  {
    std::lock_guard lock(mu);
    seen_at_end = commits.size();
  }
  EXPECT_EQ(end.status, "SUCCEEDED");
  // Start + TaskStarted in one turn; then TaskCompleted, which ends the execution. Both were
  // reported before the end waiter ran.
  ASSERT_EQ(seen_at_end, 2u);
  EXPECT_THAT(commits[0].first, ElementsAre(arn));
  EXPECT_EQ(commits[0].second, "LambdaFunctionStarted");
  EXPECT_THAT(commits[1].first, ElementsAre(arn));
  EXPECT_EQ(commits[1].second, "ExecutionSucceeded");

  // A start that commits nothing (same name, other input) is not reported.
  StatusOr<StartResult> again = Start(Request(machine, "e1", R"({"n":2})"));
  EXPECT_THAT(again, StatusIs(StatusCode::kAlreadyExists));
  // A stop is a commit like the others.
  block_ = true;
  CompiledMachine blocking = AddMachine("b", kBlockMachine);
  ASSERT_TRUE(Start(Request(blocking, "e2")).ok());
  blocked_.get_future().wait();
  ASSERT_TRUE(Stop(std::string(kArnPrefix) + "execution:b:e2").ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(commits.size(), 4u);
  EXPECT_THAT(commits[3].first, ElementsAre(std::string(kArnPrefix) + "execution:b:e2"));
  EXPECT_EQ(commits[3].second, "ExecutionAborted");
}

TEST_F(RuntimeTest, RunsAnExecutionAndItsHistoryReplaysFromTheJournal) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", kPassMachine);
  ExecutionEnd end = Run(Request(machine, "e1", R"({"in":true})"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  EXPECT_EQ(end.output, std::optional<std::string>(R"({"in":true,"a":{"x":1}})"));
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(Types(**history),
              ElementsAre("ExecutionStarted", "PassStateEntered", "PassStateExited",
                          "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"));
  std::optional<store::ExecutionRow> row;
  ASSERT_TRUE(journal_
                  ->Read([&](store::JournalReader& reader) -> Status {
                    auto found = reader.GetExecution(std::string(kArnPrefix) + "execution:m:e1");
                    if (!found.ok()) return found.status();
                    row = *found;
                    return Status::Ok();
                  })
                  .ok());
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->status, "SUCCEEDED");
  EXPECT_EQ(row->output, end.output);
}

TEST_F(RuntimeTest, RunsTasksOnWorkersWithAnIdempotencyKey) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", kTaskMachine);
  ExecutionEnd end = Run(Request(machine, "e1", R"({"n":7})"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  EXPECT_EQ(end.output, std::optional<std::string>(R"({"n":7})"));
  ASSERT_EQ(Keys().size(), 1u);
  EXPECT_THAT(Keys()[0], ::testing::StartsWith(std::string(kArnPrefix) + "execution:m:e1/T/0/"));
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(Types(**history),
              ElementsAre("ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                          "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                          "ExecutionSucceeded"));
}

// Claims ecs:runTask.sync and answers with the task's parameters and its idempotency key.
class EchoRunner : public TaskRunner {
 public:
  bool Handles(const asl::TaskInvocation& task) const override {
    return task.service == "ecs" && task.action == "runTask.sync";
  }
  asl::TaskOutcome Run(const asl::TaskInvocation& task, const std::atomic<bool>*,
                       std::string_view idempotency_key) override {
    asl::TaskOutcome outcome;
    outcome.output =
        boost::json::object{{"Echo", task.parameters}, {"Key", std::string(idempotency_key)}};
    return outcome;
  }
};

TEST_F(RuntimeTest, TaskRunnersRunTheResourcesTheyClaim) {
  EchoRunner runner;
  OpenRuntime(0, {&runner});
  CompiledMachine machine = AddMachine("m", R"({"StartAt":"Ecs","States":{
    "Ecs":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.sync",
           "Parameters":{"TaskDefinition":"td"},"ResultSelector":{"td.$":"$.Echo.TaskDefinition",
           "key.$":"$.Key"},"Next":"Other"},
    "Other":{"Type":"Task","Resource":"arn:aws:states:::sqs:sendMessage","End":true}}})");
  ExecutionEnd end = Run(Request(machine, "e1"));
  // The runner ran Ecs; nothing claims sqs:sendMessage, which fails as before.
  EXPECT_EQ(end.status, "FAILED");
  EXPECT_EQ(end.error, std::optional<std::string>("States.TaskFailed"));
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  bool saw_ecs_output = false;
  for (const asl::HistoryEvent& event : **history) {
    if (event.type != asl::HistoryEventType::kTaskStateExited) continue;
    const boost::json::object details = asl::HistoryEventDetails(event);
    const std::string output(details.at("output").as_string());
    EXPECT_THAT(output, HasSubstr(R"("td":"td")"));
    EXPECT_THAT(output, HasSubstr("execution:m:e1/Ecs/0/"));
    saw_ecs_output = true;
  }
  EXPECT_TRUE(saw_ecs_output);
}

TEST_F(RuntimeTest, AnInspectingRuntimeReplaysHistoriesWithoutRunningAnything) {
  OpenRuntime(1);
  CompiledMachine machine = AddMachine("m", kWaitMachine);
  ASSERT_TRUE(Start(Request(machine, "e1")).ok());
  auto reader = store::Journal::OpenForReading(dir_ / "journal.db");
  ASSERT_TRUE(reader.ok()) << reader.status();
  RuntimeOptions options;
  options.inspect_only = true;
  auto inspector = Runtime::Open(**reader, functions_, clock_, options);
  ASSERT_TRUE(inspector.ok()) << inspector.status();
  EXPECT_EQ((*inspector)->recovery().executions, 0u);
  auto history = (*inspector)->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_THAT(Types(**history), ElementsAre("ExecutionStarted", "WaitStateEntered"));
  EXPECT_EQ(runtime_->open_executions(), 1u);  // still the writer's to run
}

TEST_F(RuntimeTest, StartIsIdempotentForTheSameNameAndInputWhileRunning) {
  OpenRuntime(1);
  CompiledMachine machine = AddMachine("m", kWaitMachine);
  auto first = Start(Request(machine, "e1", R"({"a":1})"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = Start(Request(machine, "e1", R"({"a":1})"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->execution_arn, first->execution_arn);
  EXPECT_EQ(again->start, first->start);
  EXPECT_THAT(Start(Request(machine, "e1", R"({"a":2})")).status(),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("Execution Already Exists")));
  ASSERT_TRUE(Stop(first->execution_arn).ok());
  // Closed: the same name is taken for good, whatever the input.
  auto closed = Start(Request(machine, "e1", R"({"a":1})"));
  EXPECT_THAT(closed.status(), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_EQ(closed.status().error_name(), "ExecutionAlreadyExists");
}

TEST_F(RuntimeTest, StopAbortsAWaitingExecution) {
  OpenRuntime(1);
  CompiledMachine machine = AddMachine("m", kWaitMachine);
  auto ended = std::make_shared<std::promise<ExecutionEnd>>();
  auto started =
      Start(Request(machine, "e1"), [ended](const ExecutionEnd& e) { ended->set_value(e); });
  ASSERT_TRUE(started.ok());
  auto stopped = Stop(started->execution_arn);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ExecutionEnd end = ended->get_future().get();
  EXPECT_EQ(end.status, "ABORTED");
  EXPECT_EQ(end.error, std::optional<std::string>("Halt"));
  EXPECT_EQ(end.stop, *stopped);
  auto history = runtime_->ReplayHistory(started->execution_arn);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(Types(**history).back(), "ExecutionAborted");
  EXPECT_THAT(Stop(started->execution_arn).status(), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(runtime_->open_executions(), 0u);
}

TEST_F(RuntimeTest, ARestartResumesParkedTimersAndInFlightTasks) {
  OpenRuntime(1);
  CompiledMachine waiting = AddMachine("w", kWaitMachine);
  CompiledMachine blocking = AddMachine("b", kBlockMachine);
  ASSERT_TRUE(Start(Request(waiting, "parked", R"({"p":1})")).ok());
  ASSERT_TRUE(Start(Request(blocking, "inflight", R"({"q":2})")).ok());
  blocked_.get_future().wait();  // the task runs
  EXPECT_EQ(runtime_->open_executions(), 2u);
  runtime_.reset();  // the handler is cancelled; its result is dropped, not journaled
  journal_.reset();

  // A new process: the Wait now elapses at once, and Block returns at once.
  block_ = false;
  OpenJournal();
  OpenRuntime(0);
  EXPECT_EQ(runtime_->recovery().executions, 2u);
  EXPECT_EQ(runtime_->recovery().tasks_redispatched, 1u);
  EXPECT_EQ(runtime_->recovery().timers_rearmed, 1u);
  for (const std::string& arn : {std::string(kArnPrefix) + "execution:w:parked",
                                 std::string(kArnPrefix) + "execution:b:inflight"}) {
    std::promise<StatusOr<ExecutionEnd>> ended;
    runtime_->WhenEnded(arn, [&ended](StatusOr<ExecutionEnd> end) { ended.set_value(end); });
    StatusOr<ExecutionEnd> end = ended.get_future().get();
    ASSERT_TRUE(end.ok()) << end.status();
    EXPECT_EQ(end->status, "SUCCEEDED") << arn;
  }
  // The in-flight task ran again with the same key; the parked one ran once, after the Wait.
  std::vector<std::string> keys = Keys();
  ASSERT_EQ(keys.size(), 3u);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys[0], keys[1]);
  EXPECT_THAT(keys[0],
              ::testing::StartsWith(std::string(kArnPrefix) + "execution:b:inflight/T/0/"));
  EXPECT_THAT(keys[2], ::testing::StartsWith(std::string(kArnPrefix) + "execution:w:parked/T/0/"));
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:w:parked");
  ASSERT_TRUE(history.ok());
  EXPECT_THAT(Types(**history),
              ElementsAre("ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                          "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                          "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"));
}

TEST_F(RuntimeTest, WhenEndedAnswersForClosedAndUnknownExecutions) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", kPassMachine);
  ExecutionEnd end = Run(Request(machine, "e1"));
  std::promise<StatusOr<ExecutionEnd>> closed, unknown;
  runtime_->WhenEnded(std::string(kArnPrefix) + "execution:m:e1",
                      [&closed](StatusOr<ExecutionEnd> e) { closed.set_value(e); });
  runtime_->WhenEnded(std::string(kArnPrefix) + "execution:m:nope",
                      [&unknown](StatusOr<ExecutionEnd> e) { unknown.set_value(e); });
  StatusOr<ExecutionEnd> found = closed.get_future().get();
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->status, "SUCCEEDED");
  EXPECT_EQ(found->output, end.output);
  EXPECT_EQ(found->stop, end.stop);
  EXPECT_THAT(unknown.get_future().get().status(), StatusIs(StatusCode::kNotFound));
}

TEST_F(RuntimeTest, RedriveRunsAFailedExecutionAgainAndReplaysTheSame) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", R"({"StartAt":"T","States":{
    "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:FailOnce",
         "End":true}}})");
  ExecutionEnd failed = Run(Request(machine, "e1", R"({"v":1})"));
  ASSERT_EQ(failed.status, "FAILED");
  EXPECT_EQ(failed.error, std::optional<std::string>("NotYet"));
  const std::string arn = std::string(kArnPrefix) + "execution:m:e1";

  auto ended = std::make_shared<std::promise<StatusOr<ExecutionEnd>>>();
  std::promise<StatusOr<WallTime>> redriven;
  runtime_->Redrive(arn, [&](StatusOr<WallTime> at) { redriven.set_value(at); });
  ASSERT_TRUE(redriven.get_future().get().ok());
  runtime_->WhenEnded(arn, [ended](StatusOr<ExecutionEnd> end) { ended->set_value(end); });
  StatusOr<ExecutionEnd> end = ended->get_future().get();
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status, "SUCCEEDED");
  EXPECT_EQ(end->output, std::optional<std::string>(R"({"v":1})"));

  auto history = runtime_->ReplayHistory(arn);
  ASSERT_TRUE(history.ok());
  std::vector<std::string> types = Types(**history);
  EXPECT_EQ(std::count(types.begin(), types.end(), "ExecutionRedriven"), 1);
  EXPECT_EQ(types.back(), "ExecutionSucceeded");

  // Once it succeeded, it is not redriven again.
  std::promise<StatusOr<WallTime>> again;
  runtime_->Redrive(arn, [&](StatusOr<WallTime> at) { again.set_value(at); });
  StatusOr<WallTime> refused = again.get_future().get();
  EXPECT_THAT(refused.status(), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("SUCCEEDED")));
  EXPECT_EQ(refused.status().error_name(), "ExecutionNotRedrivable");
}

TEST_F(RuntimeTest, ALiveRunAndItsReplayAgreeOnValuesJsonCannotCarry) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", R"({"StartAt":"T","States":{
    "T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Odd",
         "Next":"C"},
    "C":{"Type":"Choice","Choices":[{"Variable":"$.unsigned","NumericEquals":5,"Next":"Yes"}],
         "Default":"No"},
    "Yes":{"Type":"Succeed"},
    "No":{"Type":"Fail","Error":"Differs"}}})");
  ExecutionEnd end = Run(Request(machine, "e1"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  // The execution went on with what its record replays to: NaN became null.
  EXPECT_EQ(end.output, std::optional<std::string>(R"({"unsigned":5,"nan":null,"text":"ok"})"));
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ((*history)->back().details.Find("output"),
            std::optional<std::string_view>(*end.output));
}

TEST_F(RuntimeTest, StopCancelsTheHandlerInFlight) {
  OpenRuntime(1);
  CompiledMachine machine = AddMachine("b", kBlockMachine);
  auto ended = std::make_shared<std::promise<ExecutionEnd>>();
  auto started =
      Start(Request(machine, "e1"), [ended](const ExecutionEnd& e) { ended->set_value(e); });
  ASSERT_TRUE(started.ok());
  blocked_.get_future().wait();  // Block runs and waits to be cancelled
  ASSERT_TRUE(Stop(started->execution_arn).ok());
  // The handler saw LambdaContext::cancelled and returned (a handler never cancelled would
  // spin until the runtime shuts down, after this wait gave up); its result was not wanted.
  EXPECT_EQ(block_returned_.get_future().wait_for(std::chrono::seconds(30)),
            std::future_status::ready);
  EXPECT_EQ(ended->get_future().get().status, "ABORTED");
  auto history = runtime_->ReplayHistory(started->execution_arn);
  ASSERT_TRUE(history.ok());
  EXPECT_THAT(Types(**history),
              ElementsAre("ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                          "LambdaFunctionStarted", "ExecutionAborted"));
}

constexpr char kInlineChain[] = R"({"StartAt":"A","States":{
  "A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Inline",
       "Retry":[{"ErrorEquals":["Again"],"IntervalSeconds":0,"MaxAttempts":5000}],"Next":"B"},
  "B":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Inline",
       "Next":"C"},
  "C":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Inline",
       "End":true}}})";

TEST_F(RuntimeTest, LocalOnlyTasksAndDueTimersRunInsideOneTurn) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", kInlineChain);
  failures_left_ = 3;  // A retries three times (IntervalSeconds 0)
  const uint64_t before = journal_->committed_work();
  ExecutionEnd end = Run(Request(machine, "e1", R"({"v":1})"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  EXPECT_EQ(end.output, std::optional<std::string>(R"({"v":1})"));
  // The whole execution was one turn: one piece of journal work.
  EXPECT_EQ(journal_->committed_work() - before, 1u);
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok());
  const auto& events = **history;
  EXPECT_EQ(std::count_if(events.begin(), events.end(),
                          [](const asl::HistoryEvent& e) {
                            return e.type == asl::HistoryEventType::kLambdaFunctionFailed;
                          }),
            3);
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LE(events[i - 1].timestamp, events[i].timestamp) << "event " << events[i].id;
  }
  EXPECT_EQ(end.stop, events.back().timestamp);
}

TEST_F(RuntimeTest, ALongInlineChainIsSplitIntoTurns) {
  OpenRuntime(0);
  CompiledMachine machine = AddMachine("m", kInlineChain);
  failures_left_ = 3000;  // about 9,000 calls: more than one turn may hold
  const uint64_t before = journal_->committed_work();
  ExecutionEnd end = Run(Request(machine, "e1", "{}"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  EXPECT_GT(journal_->committed_work() - before, 1u);
  auto history = runtime_->ReplayHistory(std::string(kArnPrefix) + "execution:m:e1");
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(Types(**history).back(), "ExecutionSucceeded");
}

TEST_F(RuntimeTest, ALocalOnlyTaskWithATimeoutRunsOnAWorker) {
  OpenRuntime(1);  // the timeout must not elapse at once
  CompiledMachine machine = AddMachine("m", R"({"StartAt":"A","States":{
    "A":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Inline",
         "TimeoutSeconds":60,"End":true}}})");
  const uint64_t before = journal_->committed_work();
  ExecutionEnd end = Run(Request(machine, "e1", "{}"));
  EXPECT_EQ(end.status, "SUCCEEDED");
  // Scheduled in one turn, completed (by a worker, which a timeout could interrupt) in another.
  EXPECT_EQ(journal_->committed_work() - before, 2u);
}

}  // namespace
}  // namespace hpd::engine
