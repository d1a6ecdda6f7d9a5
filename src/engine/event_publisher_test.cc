#include "engine/event_publisher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/value.hpp>
#include <future>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status_matchers.h"
#include "engine/container_runner.h"
#include "store/journal.h"
#include "support/scratch_dir.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr char kArnPrefix[] = "arn:aws:states:us-east-1:123456789012:";

// Prepare fails once (Retry recovers it), Check passes, Done succeeds.
constexpr char kRetryMachine[] = R"({"StartAt":"Prepare","States":{
  "Prepare":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Flaky",
    "Retry":[{"ErrorEquals":["Flaky"],"IntervalSeconds":0,"MaxAttempts":2}],"Next":"Check"},
  "Check":{"Type":"Pass","Next":"Done"},
  "Done":{"Type":"Succeed"}}})";

constexpr char kFailMachine[] = R"({"StartAt":"Boom","States":{
  "Boom":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Boom",
    "End":true}}})";

// Gate waits until the test opens it, then Pass.
constexpr char kGateMachine[] = R"({"StartAt":"Gate","States":{
  "Gate":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Gate",
    "Next":"After"},
  "After":{"Type":"Pass","End":true}}})";

constexpr char kContainerMachine[] = R"({"StartAt":"Run","States":{
  "Run":{"Type":"Task","Resource":"arn:aws:states:::ecs:runTask.sync",
    "Parameters":{"TaskDefinition":"job","LaunchType":"FARGATE"},"End":true}}})";

// A container printing 450 lines.
constexpr char kDefinitions[] = R"({"taskDefinitions":[{"family":"job","revision":1,
  "containerDefinitions":[{"name":"main","essential":true,
    "entryPoint":["/bin/sh","-c","i=0; while [ $i -lt 450 ]; do echo line$i; i=$((i+1)); done"],
    "logConfiguration":{"logDriver":"awslogs",
      "options":{"awslogs-group":"/ecs/job","awslogs-stream-prefix":"job"}}}]}]})";

json::object Detail(const store::StoredEvent& event) {
  StatusOr<json::value> parsed = ParseJson(event.envelope);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? parsed->at("detail").as_object() : json::object();
}

json::object EnvelopeOf(const store::StoredEvent& event) {
  StatusOr<json::value> parsed = ParseJson(event.envelope);
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? parsed->as_object() : json::object();
}

int64_t Millis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

class EventPublisherTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    ASSERT_THAT(
        functions_.Register(
            "Flaky",
            [this](const json::value& event, const LambdaContext&) -> StatusOr<json::value> {
              if (flaky_fails_.exchange(false)) {
                return Status(StatusCode::kInternal, "flaked").SetErrorName("Flaky");
              }
              return event;
            }),
        IsOk());
    ASSERT_THAT(
        functions_.Register("Boom",
                            [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
                              return Status(StatusCode::kInternal, "it broke").SetErrorName("Boom");
                            }),
        IsOk());
    ASSERT_THAT(functions_.Register("Gate",
                                    [this](const json::value& event,
                                           const LambdaContext&) -> StatusOr<json::value> {
                                      gate_reached_.set_value();
                                      gate_open_.wait();
                                      return event;
                                    }),
                IsOk());
    auto journal = store::Journal::Open(dir_ / "journal.db");
    ASSERT_THAT(journal, IsOk());
    journal_ = std::move(*journal);
    auto logs = store::LogStore::Open(dir_ / "logs.db", clock_);
    ASSERT_THAT(logs, IsOk());
    logs_ = std::move(*logs);
    logs_->SetAppendObserver(
        [this](const std::string& group, const std::string& stream, int64_t last) {
          std::lock_guard lock(publishers_mu_);
          for (EventPublisher* publisher : publishers_) publisher->NotifyLog(group, stream, last);
        });
  }

  void TearDown() override {
    {
      std::lock_guard lock(publishers_mu_);
      publishers_.clear();
    }
    owned_publishers_.clear();
    event_logs_.clear();
    runtime_.reset();
    runner_.reset();
    logs_.reset();
    journal_.reset();
    ScratchDirTest::TearDown();
  }

  void OpenRuntime(bool with_containers = false) {
    if (with_containers) {
      StatusOr<LocalTaskDefinitions> definitions = LocalTaskDefinitions::Parse(kDefinitions, {});
      ASSERT_THAT(definitions, IsOk());
      ContainerRunnerOptions options;
      options.work_root = dir_ / "tasks";
      options.task_definitions = *definitions;
      options.logs = logs_.get();
      options.base_environment = {{"PATH", "/usr/bin:/bin"}};
      auto runner = ContainerRunner::Create(std::move(options), clock_);
      ASSERT_THAT(runner, IsOk());
      runner_ = std::move(*runner);
    }
    RuntimeOptions options;
    options.time_scale = 0;
    options.workers = 2;
    if (runner_) options.task_runners = {runner_.get()};
    options.on_commit = [this](const std::vector<std::string>& arns) {
      std::lock_guard lock(publishers_mu_);
      for (EventPublisher* publisher : publishers_) {
        for (const std::string& arn : arns) publisher->Notify(arn);
      }
    };
    auto runtime = Runtime::Open(*journal_, functions_, clock_, options);
    ASSERT_THAT(runtime, IsOk());
    runtime_ = std::move(*runtime);
  }

  // Opens an event log the fixture owns (it outlives the publishers).
  store::EventLog* OpenLog(const std::string& name) {
    auto log = store::EventLog::Open(dir_ / name);
    EXPECT_THAT(log, IsOk());
    if (!log.ok()) return nullptr;
    event_logs_.push_back(std::move(*log));
    return event_logs_.back().get();
  }

  // Closes a log whose publishers have stopped (a process ending).
  void CloseLog(store::EventLog* log) {
    std::erase_if(event_logs_, [log](const auto& owned) { return owned.get() == log; });
  }

  // A started publisher on `log`, notified by the runtime and the log store from now on.
  EventPublisher* Publish(store::EventLog& log) {
    EventPublisherOptions options;
    options.tasks_root = dir_ / "tasks";
    options.domain_events = [this](const ExecutionContext& context, const asl::HistoryEvent& event,
                                   std::vector<json::object>& out) {
      {
        std::lock_guard lock(hook_mu_);
        hook_calls_.emplace_back(context.execution_arn + "#" + std::to_string(event.id));
      }
      if (event.type == asl::HistoryEventType::kTaskStateExited) {
        out.push_back(json::object{
            {"source", "test.domain"},
            {"detail-type", "Task Done"},
            {"detail", json::object{{"state", context.state}, {"input", context.input}}}});
        out.push_back(json::object{{"source", "test.domain"}});  // malformed: skipped
      }
    };
    auto publisher = std::make_unique<EventPublisher>(log, *journal_, *runtime_, logs_.get(),
                                                      clock_, std::move(options));
    EXPECT_THAT(publisher->Start(), IsOk());
    EventPublisher* raw = publisher.get();
    owned_publishers_.push_back(std::move(publisher));
    std::lock_guard lock(publishers_mu_);
    publishers_.push_back(raw);
    return raw;
  }

  void Forget(EventPublisher* publisher) {
    std::lock_guard lock(publishers_mu_);
    std::erase(publishers_, publisher);
  }

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
    EXPECT_THAT(done.get_future().get(), IsOk());
    auto compiled = runtime_->Compile(row);
    EXPECT_THAT(compiled, IsOk());
    return *compiled;
  }

  std::string Arn(const std::string& machine, const std::string& name) {
    return std::string(kArnPrefix) + "execution:" + machine + ":" + name;
  }

  // Starts an execution; returns a future of its end.
  std::shared_future<ExecutionEnd> Start(const CompiledMachine& machine, const std::string& name,
                                         const std::string& input) {
    StartRequest request;
    request.machine = machine;
    request.execution_arn = Arn(machine.row->name, name);
    request.name = name;
    request.input = input;
    auto end = std::make_shared<std::promise<ExecutionEnd>>();
    std::shared_future<ExecutionEnd> ended = end->get_future().share();
    std::promise<StatusOr<StartResult>> started;
    runtime_->Start(
        std::move(request), [&](StatusOr<StartResult> result) { started.set_value(result); },
        [end](const ExecutionEnd& e) { end->set_value(e); });
    EXPECT_THAT(started.get_future().get(), IsOk());
    return ended;
  }

  ExecutionEnd Run(const CompiledMachine& machine, const std::string& name,
                   const std::string& input) {
    return Start(machine, name, input).get();
  }

  store::ExecutionRow Row(const std::string& arn) {
    auto row = journal_->ReadValue([&](store::JournalReader& r) { return r.GetExecution(arn); });
    EXPECT_THAT(row, IsOk());
    EXPECT_TRUE(row.ok() && row->has_value());
    return row.ok() && row->has_value() ? **row : store::ExecutionRow{};
  }

  static std::vector<store::StoredEvent> All(const store::EventLog& log,
                                             store::EventFilter filter = {}) {
    auto events = log.Read(0, filter, 100000);
    EXPECT_THAT(events, IsOk());
    return events.ok() ? *events : std::vector<store::StoredEvent>{};
  }

  static store::EventFilter Types(std::vector<std::string> types) {
    store::EventFilter filter;
    filter.detail_types = std::move(types);
    return filter;
  }

  SystemClock clock_;
  LocalFunctions functions_{LambdaEnvironment{}, clock_};
  std::unique_ptr<store::Journal> journal_;
  std::unique_ptr<store::LogStore> logs_;
  std::unique_ptr<ContainerRunner> runner_;
  std::unique_ptr<Runtime> runtime_;
  std::atomic<bool> flaky_fails_{true};
  std::promise<void> gate_reached_;
  std::promise<void> gate_open_promise_;
  std::shared_future<void> gate_open_ = gate_open_promise_.get_future().share();

  std::mutex publishers_mu_;
  std::vector<EventPublisher*> publishers_;  // guarded by publishers_mu_
  std::vector<std::unique_ptr<store::EventLog>> event_logs_;
  std::vector<std::unique_ptr<EventPublisher>> owned_publishers_;
  std::mutex hook_mu_;
  std::vector<std::string> hook_calls_;  // guarded by hook_mu_: "<arn>#<event id>"
};

TEST(DerivedEventIdTest, IsAStableNameBasedUuid) {
  const std::string id = DerivedEventId({"arn:x", "3", "status"});
  EXPECT_TRUE(std::regex_match(
      id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(id, DerivedEventId({"arn:x", "3", "status"}));
  EXPECT_NE(id, DerivedEventId({"arn:x", "3", "entered"}));
  // Parts are separated: moving a boundary changes the id.
  EXPECT_NE(DerivedEventId({"ab", "c"}), DerivedEventId({"a", "bc"}));
}

TEST(ExecutionArnOfIdempotencyKeyTest, TakesTheArnBeforeTheState) {
  EXPECT_EQ(ExecutionArnOfIdempotencyKey(
                "arn:aws:states:us-east-1:123456789012:execution:sm:e1/Deploy/0/7"),
            "arn:aws:states:us-east-1:123456789012:execution:sm:e1");
  EXPECT_EQ(ExecutionArnOfIdempotencyKey("arn:aws:states:r:a:execution:sm:e1/A/B/1/2"),
            "arn:aws:states:r:a:execution:sm:e1");
  EXPECT_EQ(ExecutionArnOfIdempotencyKey(""), "");
  EXPECT_EQ(ExecutionArnOfIdempotencyKey("some-key"), "");
}

TEST_F(EventPublisherTest, PublishesStatusChangesShapedAsDescribeExecution) {
  OpenRuntime();
  auto log = OpenLog("events.db");
  Publish(*log);
  CompiledMachine retry = AddMachine("retry", kRetryMachine);
  CompiledMachine fail = AddMachine("fail", kFailMachine);
  const std::string input = R"({"jobId":"job-1","requestedBy":"alice"})";
  EXPECT_EQ(Run(retry, "ok", input).status, "SUCCEEDED");
  EXPECT_EQ(Run(fail, "bad", R"({"jobId":"job-2","owner":"bob"})").status, "FAILED");
  owned_publishers_.back()->Flush();

  auto changes = All(*log, Types({"Step Functions Execution Status Change"}));
  ASSERT_THAT(changes, SizeIs(4));
  const store::ExecutionRow ok = Row(Arn("retry", "ok"));
  const store::ExecutionRow bad = Row(Arn("fail", "bad"));

  // What DescribeExecution answers, in the event's units (epoch ms, nulls for the absent).
  auto expect_detail = [](const store::StoredEvent& event, const store::ExecutionRow& row,
                          const std::string& status) {
    json::object d = Detail(event);
    EXPECT_EQ(event.source, "aws.states");
    EXPECT_EQ(event.execution_arn, row.arn);
    EXPECT_EQ(d.at("executionArn"), json::value(row.arn));
    EXPECT_EQ(d.at("stateMachineArn"), json::value(row.state_machine_arn));
    EXPECT_EQ(d.at("name"), json::value(row.name));
    EXPECT_EQ(d.at("status"), json::value(status));
    EXPECT_EQ(d.at("startDate"), json::value(Millis(row.start)));
    EXPECT_EQ(d.at("input"), json::value(row.input));
    EXPECT_EQ(d.at("inputDetails"), json::value(json::object{{"included", true}}));
    EXPECT_EQ(d.at("redriveCount"), json::value(0));
    EXPECT_TRUE(d.at("redriveDate").is_null());
    if (status == "RUNNING") {
      EXPECT_TRUE(d.at("stopDate").is_null());
      EXPECT_EQ(d.at("redriveStatus"), json::value("NOT_REDRIVABLE"));
      EXPECT_EQ(d.at("redriveStatusReason"),
                json::value("Execution is RUNNING and cannot be redriven"));
      return d;
    }
    EXPECT_EQ(d.at("stopDate"), json::value(Millis(*row.stop)));
    if (row.output) {
      EXPECT_EQ(d.at("output"), json::value(*row.output));
      EXPECT_EQ(d.at("outputDetails"), json::value(json::object{{"included", true}}));
    } else {
      EXPECT_TRUE(d.at("output").is_null());
      EXPECT_TRUE(d.at("outputDetails").is_null());
    }
    EXPECT_EQ(d.at("error"), row.error ? json::value(*row.error) : json::value(nullptr));
    EXPECT_EQ(d.at("cause"), row.cause ? json::value(*row.cause) : json::value(nullptr));
    return d;
  };
  expect_detail(changes[0], ok, "RUNNING");
  json::object succeeded = expect_detail(changes[1], ok, "SUCCEEDED");
  EXPECT_EQ(succeeded.at("redriveStatusReason"),
            json::value("Execution is SUCCEEDED and cannot be redriven"));
  expect_detail(changes[2], bad, "RUNNING");
  json::object failed = expect_detail(changes[3], bad, "FAILED");
  EXPECT_EQ(failed.at("error"), json::value("Boom"));
  EXPECT_EQ(failed.at("redriveStatus"), json::value("REDRIVABLE"));

  // The envelope.
  json::object envelope = EnvelopeOf(changes[1]);
  EXPECT_EQ(envelope.at("version"), json::value("0"));
  EXPECT_EQ(envelope.at("account"), json::value("123456789012"));
  EXPECT_EQ(envelope.at("region"), json::value("us-east-1"));
  EXPECT_EQ(envelope.at("resources"), json::value(json::array{json::value(ok.arn)}));
  EXPECT_TRUE(std::regex_match(std::string(envelope.at("time").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << envelope.at("time");
  // Indexed by the input's job and owner.
  EXPECT_EQ(changes[0].job_id, "job-1");
  EXPECT_EQ(changes[0].owner, "alice");
  EXPECT_EQ(changes[3].owner, "bob");
}

TEST_F(EventPublisherTest, ARedriveIsRunningAgainWithItsCountAndDate) {
  OpenRuntime();
  store::EventLog* log = OpenLog("events.db");
  Publish(*log);
  CompiledMachine fail = AddMachine("fail", kFailMachine);
  const std::string arn = Arn("fail", "bad");
  ASSERT_EQ(Run(fail, "bad", "{}").status, "FAILED");
  std::promise<StatusOr<WallTime>> redriven;
  auto ended = std::make_shared<std::promise<void>>();
  runtime_->Redrive(arn, [&](StatusOr<WallTime> at) { redriven.set_value(at); });
  StatusOr<WallTime> redrive_date = redriven.get_future().get();
  ASSERT_THAT(redrive_date, IsOk());
  runtime_->WhenEnded(arn, [ended](StatusOr<ExecutionEnd>) { ended->set_value(); });
  ended->get_future().wait();
  owned_publishers_.back()->Flush();

  auto changes = All(*log, Types({"Step Functions Execution Status Change"}));
  ASSERT_THAT(changes, SizeIs(4));
  std::vector<std::string> statuses;
  for (const auto& change : changes) {
    statuses.emplace_back(Detail(change).at("status").as_string());
  }
  EXPECT_THAT(statuses, ElementsAre("RUNNING", "FAILED", "RUNNING", "FAILED"));
  json::object again = Detail(changes[2]);
  EXPECT_EQ(again.at("redriveCount"), json::value(1));
  EXPECT_EQ(again.at("redriveDate"), json::value(Millis(*redrive_date)));
  EXPECT_TRUE(again.at("stopDate").is_null());
  EXPECT_TRUE(again.at("error").is_null());
  EXPECT_EQ(Detail(changes[3]).at("redriveCount"), json::value(1));
  EXPECT_EQ(Detail(changes[3]).at("stopDate"), json::value(Millis(*Row(arn).stop)));
  EXPECT_EQ(Detail(changes[1]).at("redriveCount"), json::value(0));
}

TEST_F(EventPublisherTest, PublishesProgressRetriesAndDomainEvents) {
  OpenRuntime();
  auto log = OpenLog("events.db");
  Publish(*log);
  CompiledMachine retry = AddMachine("retry", kRetryMachine);
  const std::string arn = Arn("retry", "ok");
  ASSERT_EQ(Run(retry, "ok", R"({"jobId":"job-1","requestedBy":"alice"})").status, "SUCCEEDED");
  owned_publishers_.back()->Flush();

  std::vector<std::string> kinds;
  for (const store::StoredEvent& event : All(*log)) {
    json::object d = Detail(event);
    std::string kind = event.detail_type;
    if (d.contains("state")) kind += " " + std::string(d.at("state").as_string());
    if (event.detail_type == "Step Functions Execution Status Change") {
      kind += " " + std::string(d.at("status").as_string());
    }
    kinds.push_back(kind);
    // Every event of the execution can be found by its job and owner.
    EXPECT_EQ(event.job_id, "job-1") << kind;
    EXPECT_EQ(event.owner, "alice") << kind;
    EXPECT_EQ(event.execution_arn, arn) << kind;
  }
  EXPECT_THAT(kinds, ElementsAre("Step Functions Execution Status Change RUNNING",
                                 "Execution State Entered Prepare", "Execution Task Failed Prepare",
                                 "Execution State Exited Prepare", "Task Done Prepare",
                                 "Execution State Entered Check", "Execution State Exited Check",
                                 "Execution State Entered Done", "Execution State Exited Done",
                                 "Step Functions Execution Status Change SUCCEEDED"));

  auto entered = All(*log, Types({"Execution State Entered"}));
  ASSERT_THAT(entered, SizeIs(3));
  json::object first = Detail(entered[0]);
  EXPECT_EQ(first.at("stateType"), json::value("Task"));
  EXPECT_EQ(Detail(entered[1]).at("stateType"), json::value("Pass"));
  EXPECT_EQ(Detail(entered[2]).at("stateType"), json::value("Succeed"));
  EXPECT_EQ(first.at("executionArn"), json::value(arn));
  EXPECT_EQ(first.at("name"), json::value("ok"));
  EXPECT_EQ(first.at("historyEventId"), json::value(2));
  EXPECT_EQ(entered[0].source, "hpdeploy.states");

  auto failed = All(*log, Types({"Execution Task Failed"}));
  ASSERT_THAT(failed, SizeIs(1));
  EXPECT_EQ(Detail(failed[0]).at("error"), json::value("Flaky"));
  EXPECT_THAT(std::string(Detail(failed[0]).at("cause").as_string()), HasSubstr("flaked"));

  auto exited = All(*log, Types({"Execution State Exited"}));
  ASSERT_THAT(exited, SizeIs(3));
  EXPECT_GE(Detail(exited[0]).at("durationMs").as_int64(), 0);

  // The hook saw every history event once, in order; its event carries the context.
  auto history = runtime_->ReplayHistory(arn);
  ASSERT_THAT(history, IsOk());
  std::vector<std::string> expected_calls;
  for (const asl::HistoryEvent& event : **history) {
    expected_calls.push_back(arn + "#" + std::to_string(event.id));
  }
  {
    std::lock_guard lock(hook_mu_);
    EXPECT_EQ(hook_calls_, expected_calls);
  }
  auto domain = All(*log, Types({"Task Done"}));
  ASSERT_THAT(domain, SizeIs(1));
  EXPECT_EQ(domain[0].source, "test.domain");
  EXPECT_EQ(Detail(domain[0]).at("input"),
            json::value(R"({"jobId":"job-1","requestedBy":"alice"})"));
  EXPECT_EQ(EnvelopeOf(domain[0]).at("resources"), json::value(json::array{json::value(arn)}));
}

TEST_F(EventPublisherTest, ARestartedPublisherAppendsExactlyWhatACleanOneDoes) {
  OpenRuntime();
  auto clean = OpenLog("clean.db");
  auto crashed = OpenLog("crashed.db");
  EventPublisher* clean_publisher = Publish(*clean);
  EventPublisher* crashing = Publish(*crashed);
  CompiledMachine gate = AddMachine("gate", kGateMachine);
  CompiledMachine retry = AddMachine("retry", kRetryMachine);

  // Half of one execution reaches both logs; then the second publisher "crashes".
  std::shared_future<ExecutionEnd> gated = Start(gate, "g", R"({"jobId":"j"})");
  gate_reached_.get_future().wait();
  crashing->Flush();
  const size_t before_crash = All(*crashed).size();
  EXPECT_GE(before_crash, 2u);  // RUNNING, Gate entered
  Forget(crashing);
  crashing->Stop();

  // The rest happens while it is down.
  gate_open_promise_.set_value();
  EXPECT_EQ(gated.get().status, "SUCCEEDED");
  EXPECT_EQ(Run(retry, "r", "{}").status, "SUCCEEDED");
  clean_publisher->Flush();
  EXPECT_EQ(All(*crashed).size(), before_crash);

  // The restart, on the file as the crash left it: catch-up derives what is missing, once.
  CloseLog(crashed);
  crashed = OpenLog("crashed.db");
  std::atomic<int> appended_after_restart{0};
  crashed->Subscribe([&](int64_t) { appended_after_restart.fetch_add(1); });
  Publish(*crashed);
  owned_publishers_.back()->Flush();

  auto clean_events = All(*clean);
  auto crashed_events = All(*crashed);
  std::map<std::string, std::string> clean_by_id, crashed_by_id;
  for (const auto& event : clean_events) clean_by_id[event.id] = event.envelope;
  for (const auto& event : crashed_events) crashed_by_id[event.id] = event.envelope;
  EXPECT_EQ(crashed_events.size(), clean_events.size());
  EXPECT_EQ(crashed_by_id, clean_by_id);
  EXPECT_GT(appended_after_restart.load(), 0);
  EXPECT_THAT(crashed->Cursor("history:" + Arn("gate", "g")),
              IsOkAndHolds(std::optional<int64_t>(
                  static_cast<int64_t>((*runtime_->ReplayHistory(Arn("gate", "g")))->size()))));

  // A second restart finds nothing to do: no append adds an event.
  const int64_t last = crashed->LastSequence();
  Publish(*crashed);
  owned_publishers_.back()->Flush();
  EXPECT_EQ(crashed->LastSequence(), last);
}

TEST_F(EventPublisherTest, PublishesAnExecutionsContainerLinesInBatches) {
  OpenRuntime(/*with_containers=*/true);
  auto log = OpenLog("events.db");
  Publish(*log);
  CompiledMachine machine = AddMachine("containers", kContainerMachine);
  const std::string arn = Arn("containers", "c1");
  ASSERT_EQ(Run(machine, "c1", R"({"jobId":"job-9","requestedBy":"carol"})").status, "SUCCEEDED");
  owned_publishers_.back()->Flush();

  store::EventFilter filter = Types({"Container Log Lines"});
  filter.job_id = "job-9";  // found by job, like the execution's other events
  auto batches = All(*log, filter);
  ASSERT_FALSE(batches.empty());
  int64_t next = 1;
  std::string stream;
  for (const store::StoredEvent& batch : batches) {
    EXPECT_EQ(batch.source, "hpdeploy.logs");
    EXPECT_EQ(batch.execution_arn, arn);
    EXPECT_EQ(batch.owner, "carol");
    json::object d = Detail(batch);
    EXPECT_EQ(d.at("executionArn"), json::value(arn));
    EXPECT_EQ(d.at("logGroup"), json::value("/ecs/job"));
    EXPECT_THAT(std::string(d.at("taskArn").as_string()), HasSubstr(":task/"));
    stream = std::string(d.at("logStream").as_string());
    const json::array& lines = d.at("lines").as_array();
    EXPECT_LE(lines.size(), 200u);
    for (const json::value& line : lines) {
      EXPECT_EQ(line.at("sequence"), json::value(next));
      EXPECT_EQ(line.at("message"), json::value("line" + std::to_string(next - 1)));
      ++next;
    }
  }
  EXPECT_EQ(next, 451);  // every line once, in order
  EXPECT_THAT(stream, ::testing::StartsWith("job/main/"));

  // The lookup the publisher used.
  auto task = ContainerRunner::FindTaskByLogStream(dir_ / "tasks", "/ecs/job", stream);
  ASSERT_THAT(task, IsOk());
  ASSERT_TRUE(task->has_value());
  EXPECT_EQ(ExecutionArnOfIdempotencyKey((*task)->idempotency_key), arn);
  EXPECT_EQ((*task)->log_stream, stream);
  auto none = ContainerRunner::FindTaskByLogStream(dir_ / "tasks", "/ecs/job", "job/main/nope");
  ASSERT_THAT(none, IsOk());
  EXPECT_FALSE(none->has_value());
}

// Lines committed to a finished task's stream that no running publisher saw (a crash between
// the store's commit and the publisher's append) get no further notification: the next Start
// publishes them, once, continuing the batches where the cursor stopped.
TEST_F(EventPublisherTest, StartPublishesLogLinesAppendedWhileNoPublisherRan) {
  OpenRuntime(/*with_containers=*/true);
  store::EventLog* log = OpenLog("events.db");
  EventPublisher* first = Publish(*log);
  CompiledMachine machine = AddMachine("containers", kContainerMachine);
  const std::string arn = Arn("containers", "c1");
  ASSERT_EQ(Run(machine, "c1", R"({"jobId":"job-9"})").status, "SUCCEEDED");
  first->Flush();
  Forget(first);
  first->Stop();

  auto tasks = ContainerRunner::ListTasks(dir_ / "tasks");
  ASSERT_THAT(tasks, IsOk());
  ASSERT_THAT(*tasks, SizeIs(1));
  const TaskRecord& task = (*tasks)[0];
  ASSERT_THAT(task.log_streams,
              ElementsAre(std::pair<std::string, std::string>(task.log_group, task.log_stream)));
  const std::string cursor = "logs:" + task.log_group + ":" + task.log_stream;
  ASSERT_THAT(log->Cursor(cursor), IsOkAndHolds(std::optional<int64_t>(450)));

  // Committed to the store, never seen by a publisher.
  std::vector<std::string> late;
  for (int i = 0; i < 250; ++i) late.push_back("late" + std::to_string(i));
  ASSERT_THAT(logs_->Append(task.log_group, task.log_stream, late), IsOkAndHolds(700));
  store::EventFilter filter = Types({"Container Log Lines"});
  const size_t before = All(*log, filter).size();

  // The restart, on the file as the crash left it.
  CloseLog(log);
  log = OpenLog("events.db");
  Publish(*log);
  owned_publishers_.back()->Flush();
  auto batches = All(*log, filter);
  ASSERT_GT(batches.size(), before);
  std::set<std::string> ids;
  int64_t next = 1;
  for (const store::StoredEvent& batch : batches) {
    EXPECT_TRUE(ids.insert(batch.id).second);
    EXPECT_EQ(batch.execution_arn, arn);
    json::object d = Detail(batch);
    const json::array& lines = d.at("lines").as_array();
    ASSERT_FALSE(lines.empty());
    EXPECT_LE(lines.size(), 200u);
    // The id NotifyLog would have given the batch.
    EXPECT_EQ(batch.id, DerivedEventId({"logs", task.log_group, task.log_stream,
                                        std::to_string(lines[0].at("sequence").as_int64())}));
    for (const json::value& line : lines) {
      EXPECT_EQ(line.at("sequence"), json::value(next));
      const std::string expected =
          next <= 450 ? "line" + std::to_string(next - 1) : "late" + std::to_string(next - 451);
      EXPECT_EQ(line.at("message"), json::value(expected));
      ++next;
    }
  }
  EXPECT_EQ(next, 701);  // every line once, in order
  EXPECT_THAT(log->Cursor(cursor), IsOkAndHolds(std::optional<int64_t>(700)));

  // A second restart finds nothing to do.
  const int64_t last = log->LastSequence();
  Publish(*log);
  owned_publishers_.back()->Flush();
  EXPECT_EQ(log->LastSequence(), last);
}

}  // namespace
}  // namespace hpd::engine
