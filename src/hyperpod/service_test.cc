#include "hyperpod/service.h"

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include <boost/json/serialize.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/rfc3339.h"
#include "hyperpod/hyperpod_testing.h"
#include "support/scratch_dir.h"

namespace hpd::hyperpod {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

constexpr char kPrefix[] = "arn:aws:states:us-east-1:123456789012:";
const std::string kDeployMachine = std::string(kPrefix) + "stateMachine:hyperpod-deployment";
const std::string kTeardownMachine = std::string(kPrefix) + "stateMachine:hyperpod-teardown";
const std::string kCancelMachine = std::string(kPrefix) + "stateMachine:hyperpod-cancel";

std::string ExecutionArn(const std::string& machine, const std::string& name) {
  return std::string(kPrefix) + "execution:" + machine + ":" + name;
}

// The Step Functions API at the edge of the service: what StartExecution, StopExecution,
// DescribeExecution and GetExecutionHistory answer, kept in memory. Whatever an execution does
// reaches the service as events, which the tests append themselves.
class FakeStepFunctions final : public WorkflowBackend {
 public:
  struct Execution {
    std::string machine;
    std::string input;
    std::string status = "RUNNING";
  };

  StatusOr<json::object> Call(std::string_view action, const json::object& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls.push_back(std::string(action));
    if (unavailable) return UnavailableError("connection refused");
    if (action == "StartExecution") {
      const std::string machine(request.at("stateMachineArn").get_string());
      if (!fail_starts_of.empty() && machine.find(fail_starts_of) != std::string::npos) {
        return UnavailableError("connection refused");
      }
      const std::string name(request.at("name").get_string());
      const std::string machine_name = machine.substr(machine.rfind(':') + 1);
      const std::string arn = ExecutionArn(machine_name, name);
      if (executions.count(arn) != 0) {
        return Named(AlreadyExistsError("Execution Already Exists: '" + arn + "'"),
                     "ExecutionAlreadyExists");
      }
      executions[arn] = {machine, std::string(request.at("input").get_string())};
      return json::object{{"executionArn", arn}, {"startDate", 1767225600.0}};
    }
    const std::string arn(request.at("executionArn").get_string());
    auto it = executions.find(arn);
    if (it == executions.end()) {
      return Named(NotFoundError("Execution Does Not Exist: '" + arn + "'"),
                   "ExecutionDoesNotExist");
    }
    if (action == "StopExecution") {
      if (it->second.status == "RUNNING") it->second.status = "ABORTED";
      return json::object{{"stopDate", 1767225660.0}};
    }
    if (action == "DescribeExecution") {
      return json::object{
          {"executionArn", arn}, {"status", it->second.status}, {"input", it->second.input}};
    }
    if (action == "GetExecutionHistory") {
      return json::object{
          {"events", json::array{json::object{{"id", 1}, {"type", "ExecutionStarted"}}}}};
    }
    return Named(InvalidArgumentError("unexpected"), "UnknownOperation");
  }
  std::string Describe() const override { return "fake"; }

  size_t Started(const std::string& machine_suffix) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (const auto& [arn, e] : executions) {
      if (e.machine.size() >= machine_suffix.size() &&
          e.machine.compare(e.machine.size() - machine_suffix.size(), machine_suffix.size(),
                            machine_suffix) == 0) {
        ++n;
      }
    }
    return n;
  }

  std::mutex mu_;
  std::map<std::string, Execution> executions;
  std::vector<std::string> calls;
  bool unavailable = false;
  std::string fail_starts_of;  // StartExecution of a machine whose ARN holds this fails
};

class ServiceTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    auto catalog = LoadPresets();
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    presets_ = std::move(*catalog);
    auto log = store::EventLog::Open(dir_ / "events.db");
    ASSERT_TRUE(log.ok()) << log.status();
    events_ = std::move(*log);
    Open();
  }

  // Opens the service on `backend` (the fake by default).
  void Open(WorkflowBackend* backend = nullptr) {
    ServiceOptions options;
    options.database = dir_ / "platform.db";
    options.backend = backend != nullptr ? backend : &backend_;
    options.events = events_.get();
    options.presets = &presets_;
    options.quotas = [this](const std::string&) -> StatusOr<QuotaSnapshot> { return quotas_; };
    options.clock = &clock_;
    options.deployment_machine_arn = kDeployMachine;
    options.teardown_machine_arn = kTeardownMachine;
    options.cancel_machine_arn = kCancelMachine;
    auto service = HyperPodService::Open(std::move(options));
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = std::move(*service);
  }

  static json::value Body(std::string_view text) {
    auto parsed = ParseJson(text);
    EXPECT_TRUE(parsed.ok()) << text;
    return parsed.ok() ? *parsed : json::value();
  }

  StatusOr<json::object> Start(const Caller& caller, std::string_view body,
                               std::string_view key = "", bool* created = nullptr) {
    fields_.clear();
    details_ = nullptr;
    bool local = false;
    return service_->Start(caller, Body(body), key, created ? created : &local, &fields_,
                           &details_);
  }

  // Appends an event as the publisher would and waits until the read model has it.
  void Publish(const std::string& execution_arn, std::string_view detail_type,
               std::string_view source, json::object detail) {
    json::object envelope{{"version", "0"},
                          {"id", "e-" + std::to_string(++next_event_)},
                          {"detail-type", detail_type},
                          {"source", source},
                          {"account", "123456789012"},
                          {"time", "2026-01-01T00:00:00Z"},
                          {"region", "us-east-1"},
                          {"resources", json::array{json::value(execution_arn)}},
                          {"detail", std::move(detail)}};
    auto appended = events_->Append({envelope});
    ASSERT_TRUE(appended.ok()) << appended.status();
    service_->WaitApplied(appended->last_sequence);
  }

  void StatusChange(const std::string& arn, const std::string& status,
                    std::optional<std::string> output = std::nullopt) {
    std::string input;
    {
      std::lock_guard<std::mutex> lock(backend_.mu_);
      auto it = backend_.executions.find(arn);
      if (it != backend_.executions.end()) {
        input = it->second.input;
        it->second.status = status;
      }
    }
    json::object detail{
        {"executionArn", arn},
        {"status", status},
        {"startDate", int64_t{1767225600000}},
        {"stopDate",
         status == "RUNNING" ? json::value(nullptr) : json::value(int64_t{1767225700000})},
        {"input", input},
        {"output", output ? json::value(*output) : json::value(nullptr)},
        {"error", status == "FAILED" ? json::value("States.TaskFailed") : json::value(nullptr)},
        {"cause", nullptr}};
    Publish(arn, "Step Functions Execution Status Change", "aws.states", std::move(detail));
  }

  std::string JobOf(const json::object& deployment) {
    return std::string(deployment.at("jobId").get_string());
  }

  const Caller alice_{"alice", store::Role::kDeployer};
  const Caller bob_{"bob", store::Role::kDeployer};
  const Caller admin_{"root", store::Role::kAdmin};
  const Caller viewer_{"watcher", store::Role::kViewer};

  SimulatedClock clock_{WallTime(std::chrono::seconds(1767225600))};
  PresetCatalog presets_;
  QuotaSnapshot quotas_ = testing::AmpleQuotas();
  FakeStepFunctions backend_;
  std::unique_ptr<store::EventLog> events_;
  std::unique_ptr<HyperPodService> service_;
  std::vector<FieldError> fields_;
  json::value details_;
  int next_event_ = 0;
};

constexpr char kSmall[] = R"({"config": {"preset": "small", "region": "us-west-2"}})";

TEST_F(ServiceTest, StartBuildsTheSeedInputFromTheCallerAndTheServerClock) {
  bool created = false;
  auto started = Start(alice_, kSmall, "", &created);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_TRUE(created);
  const std::string job = JobOf(*started);
  EXPECT_EQ(started->at("status"), "RUNNING");
  EXPECT_EQ(started->at("phase"), "DEPLOYING");
  EXPECT_EQ(started->at("requestedBy"), "alice");
  const std::string arn = ExecutionArn("hyperpod-deployment", job);
  EXPECT_EQ(started->at("executionArn").as_string(), arn);
  auto input = ParseJson(backend_.executions.at(arn).input);
  ASSERT_TRUE(input.ok());
  const json::object& in = input->get_object();
  EXPECT_EQ(in.at("requestedBy"), "alice");
  EXPECT_EQ(in.at("requestedAt"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(in.at("timeoutSeconds"), 3600);
  EXPECT_EQ(in.at("artifacts").at("parameterPrefix"), "/perf-eval/hyperpod");
  EXPECT_TRUE(ParseDeploymentRequest(*input).ok());
  // The guardrail report is known before the workflow reports its own.
  EXPECT_EQ(started->at("guardrails").at("passed"), true);
}

TEST_F(ServiceTest, IdentityAndArtifactsCannotComeFromTheBody) {
  auto started = Start(alice_, R"({"requestedBy": "mallory", "requestedAt": "2020-01-01T00:00:00Z",
      "artifacts": {"configBucket": "x", "parameterPrefix": "/x"},
      "config": {"preset": "small", "region": "us-west-2", "colour": "red"}, "extra": 1})");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().error_name(), "InvalidRequest");
  std::set<std::string> paths;
  for (const FieldError& field : fields_) paths.insert(field.path);
  EXPECT_EQ(paths, (std::set<std::string>{"requestedBy", "requestedAt", "artifacts",
                                          "config.colour", "extra"}));
  EXPECT_TRUE(backend_.executions.empty());
}

TEST_F(ServiceTest, WrongTypesNameTheirPath) {
  for (const auto& [body, path] : std::vector<std::pair<std::string, std::string>>{
           {R"({"config": {"preset": "small", "region": 5}})", "config.region"},
           {R"({"config": "small"})", "config"},
           {R"({"config": {"region": "us-west-2"}, "timeoutSeconds": "60"})", "timeoutSeconds"},
           {R"({"config": {"region": "us-west-2"}, "timeoutSeconds": 10})", "timeoutSeconds"},
           {R"({"config": {"region": "us-west-2"}, "jobId": "../etc"})", "jobId"},
           {R"({"config": {"region": "us-west-2", "overrides": []}})", "config.overrides"},
           {R"({})", "config"},
       }) {
    auto started = Start(alice_, body);
    ASSERT_FALSE(started.ok()) << body;
    EXPECT_EQ(started.status().error_name(), "InvalidRequest") << body;
    ASSERT_FALSE(fields_.empty()) << body;
    EXPECT_EQ(fields_.front().path, path) << body << ": " << started.status();
  }
  EXPECT_TRUE(backend_.executions.empty());
}

TEST_F(ServiceTest, FailingGuardrailsStartNothingAndReturnTheReport) {
  auto started = Start(alice_, R"({"config": {"preset": "small", "region": "mars-north-1"}})");
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.status().error_name(), "GuardrailViolation");
  EXPECT_THAT(std::string(started.status().message()), HasSubstr("region"));
  ASSERT_TRUE(details_.is_object());
  EXPECT_EQ(details_.at("passed"), false);
  for (auto& [name, value] : quotas_.quotas_by_name) value = 0;
  EXPECT_EQ(Start(alice_, kSmall).status().error_name(), "GuardrailViolation");
  EXPECT_TRUE(backend_.executions.empty());
  auto list = service_->List(admin_, ListQuery{}, nullptr);
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->at("deployments").as_array().empty());
}

TEST_F(ServiceTest, ValidateReportsWithoutStarting) {
  auto report = service_->Validate(alice_, Body(kSmall), &fields_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->at("valid"), true);
  EXPECT_FALSE(report->at("names").at("hyperpodCluster").as_string().empty());
  auto bad = service_->Validate(alice_, Body(R"({"config": {"preset": "huge", "region":
      "us-west-2"}})"),
                                &fields_);
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->at("valid"), false);
  EXPECT_TRUE(backend_.executions.empty());
  EXPECT_TRUE(backend_.calls.empty());
}

TEST_F(ServiceTest, IdempotencyKeyAnswersTheFirstDeploymentAndRefusesAnotherBody) {
  bool created = false;
  auto first = Start(alice_, kSmall, "key-1", &created);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(created);
  auto again = Start(alice_, kSmall, "key-1", &created);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(created);
  EXPECT_EQ(JobOf(*again), JobOf(*first));
  auto other = Start(alice_, R"({"config": {"preset": "medium", "region": "us-west-2"}})", "key-1");
  EXPECT_EQ(other.status().error_name(), "IdempotencyKeyReused");
  // Keys belong to their caller.
  auto bobs = Start(bob_, kSmall, "key-1", &created);
  ASSERT_TRUE(bobs.ok());
  EXPECT_TRUE(created);
  EXPECT_NE(JobOf(*bobs), JobOf(*first));
  EXPECT_EQ(Start(alice_, kSmall, std::string(256, 'k')).status().error_name(), "InvalidRequest");
  EXPECT_EQ(backend_.Started("hyperpod-deployment"), 2u);
}

TEST_F(ServiceTest, AJobIdNamesOneDeployment) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  auto again = Start(bob_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})");
  EXPECT_EQ(again.status().error_name(), "JobAlreadyExists");
  EXPECT_EQ(backend_.Started("hyperpod-deployment"), 1u);
}

TEST_F(ServiceTest, ABackendFailureLeavesNoDeployment) {
  backend_.unavailable = true;
  auto started = Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})");
  EXPECT_EQ(started.status().error_name(), "BackendUnavailable");
  EXPECT_EQ(service_->Get(admin_, "job-1").status().error_name(), "DeploymentNotFound");
  backend_.unavailable = false;
  EXPECT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
}

TEST_F(ServiceTest, StatusOutputsAndProgressComeFromEvents) {
  auto started = Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})");
  ASSERT_TRUE(started.ok());
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  StatusChange(arn, "RUNNING");
  Publish(arn, "Execution State Entered", "hpdeploy.states",
          json::object{{"executionArn", arn}, {"state", "RunInfraForgeTask"}});
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("currentState"), "RunInfraForgeTask");
  StatusChange(arn, "SUCCEEDED", R"({"clusterArn": "arn:x"})");
  got = service_->Get(viewer_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("status"), "SUCCEEDED");
  EXPECT_EQ(got->at("phase"), "SUCCEEDED");
  EXPECT_TRUE(got->at("currentState").is_null());
  EXPECT_EQ(got->at("outputs").at("clusterArn"), "arn:x");
  EXPECT_EQ(got->at("stoppedAt"), "2026-01-01T00:01:40.000Z");
}

TEST_F(ServiceTest, AFailedDeploymentShowsItsRecordAndCleanup) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  Publish(arn, "HyperPod Cleanup Result", "hpdeploy.hyperpod",
          json::object{{"executionArn", arn}, {"cleanup", json::object{{"complete", true}}}});
  Publish(arn, "HyperPod Failure Record", "hpdeploy.hyperpod",
          json::object{{"executionArn", arn},
                       {"failure", json::object{{"failedState", "RunInfraForgeTask"}}}});
  StatusChange(arn, "FAILED");
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("phase"), "FAILED");
  EXPECT_EQ(got->at("failure").at("failedState"), "RunInfraForgeTask");
  EXPECT_EQ(got->at("failure").at("cleanup").at("complete"), true);
}

TEST_F(ServiceTest, DeployersSeeAndChangeOnlyTheirOwn) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-a", "config": {"region": "us-west-2"}})").ok());
  EXPECT_EQ(service_->Get(bob_, "job-a").status().error_name(), "DeploymentNotFound");
  EXPECT_EQ(service_->Cancel(bob_, "job-a").status().error_name(), "DeploymentNotFound");
  EXPECT_EQ(service_->Cancel(viewer_, "job-a").status().error_name(), "Forbidden");
  EXPECT_TRUE(service_->Get(viewer_, "job-a").ok());
  EXPECT_TRUE(service_->Get(admin_, "job-a").ok());
  ListQuery others;
  others.requested_by = "alice";
  EXPECT_EQ(service_->List(bob_, others, nullptr).status().error_name(), "Forbidden");
  auto bobs = service_->List(bob_, ListQuery{}, nullptr);
  ASSERT_TRUE(bobs.ok());
  EXPECT_TRUE(bobs->at("deployments").as_array().empty());
  EXPECT_EQ(service_->CallerEvents(bob_).owner, "bob");
  EXPECT_EQ(service_->CallerEvents(viewer_).owner, "");
  store::StoredEvent event;
  event.owner = "alice";
  EXPECT_FALSE(service_->MaySee(bob_, event));
  EXPECT_TRUE(service_->MaySee(alice_, event));
  EXPECT_TRUE(service_->MaySee(viewer_, event));
}

TEST_F(ServiceTest, ListFiltersAndPagesEveryDeploymentOnce) {
  std::set<std::string> all;
  for (int i = 0; i < 7; ++i) {
    const Caller& who = i % 2 == 0 ? alice_ : bob_;
    auto started = Start(who, R"({"config": {"region": "us-west-2"}})");
    ASSERT_TRUE(started.ok());
    all.insert(JobOf(*started));
    clock_.Advance(std::chrono::seconds(10));
  }
  std::set<std::string> seen;
  ListQuery query;
  query.limit = 2;
  int pages = 0;
  while (true) {
    auto page = service_->List(admin_, query, nullptr);
    ASSERT_TRUE(page.ok()) << page.status();
    ++pages;
    for (const json::value& d : page->at("deployments").as_array()) {
      EXPECT_TRUE(seen.insert(JobOf(d.as_object())).second);
    }
    if (page->at("nextToken").is_null()) break;
    query.next_token = std::string(page->at("nextToken").as_string());
  }
  EXPECT_EQ(seen, all);
  EXPECT_EQ(pages, 4);

  ListQuery mine;
  mine.requested_by = "alice";
  auto alice_list = service_->List(admin_, mine, nullptr);
  ASSERT_TRUE(alice_list.ok());
  EXPECT_EQ(alice_list->at("deployments").as_array().size(), 4u);

  ListQuery window;
  // Both bounds are exclusive.
  window.created_after = WallTime(std::chrono::seconds(1767225600 + 20));
  window.created_before = WallTime(std::chrono::seconds(1767225600 + 50));
  auto windowed = service_->List(admin_, window, nullptr);
  ASSERT_TRUE(windowed.ok());
  EXPECT_EQ(windowed->at("deployments").as_array().size(), 2u);  // at +30, +40

  const std::string first = *all.begin();
  StatusChange(ExecutionArn("hyperpod-deployment", first), "SUCCEEDED", "{}");
  ListQuery succeeded;
  succeeded.statuses = {"SUCCEEDED"};
  auto done = service_->List(admin_, succeeded, nullptr);
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(done->at("deployments").as_array().size(), 1u);
  EXPECT_EQ(JobOf(done->at("deployments").as_array()[0].as_object()), first);

  ListQuery bad;
  bad.statuses = {"BOGUS"};
  EXPECT_EQ(service_->List(admin_, bad, &fields_).status().error_name(), "InvalidParameter");
  bad = ListQuery{};
  bad.next_token = "zz-not-a-token";
  EXPECT_EQ(service_->List(admin_, bad, &fields_).status().error_name(), "InvalidParameter");
  bad = ListQuery{};
  bad.limit = 0;
  EXPECT_EQ(service_->List(admin_, bad, &fields_).status().error_name(), "InvalidParameter");
}

TEST_F(ServiceTest, CancelStopsThenStartsTheCleanupAndReportsIt) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  auto cancelled = service_->Cancel(alice_, "job-1");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->at("phase"), "CANCELLING");
  EXPECT_EQ(cancelled->at("cancellation").at("requestedBy"), "alice");
  const std::string cancel_arn = ExecutionArn("hyperpod-cancel", "job-1");
  ASSERT_EQ(backend_.executions.count(cancel_arn), 1u);
  auto input = ParseJson(backend_.executions.at(cancel_arn).input);
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->at("deploymentExecutionArn").as_string(), arn);
  EXPECT_EQ(input->at("owner"), "alice");
  EXPECT_EQ(input->at("error").at("Error"), "DeploymentCancelled");
  // Cancelling again answers the same cancellation.
  EXPECT_TRUE(service_->Cancel(alice_, "job-1").ok());
  EXPECT_EQ(backend_.Started("hyperpod-cancel"), 1u);

  StatusChange(arn, "ABORTED");
  StatusChange(cancel_arn, "RUNNING");
  Publish(cancel_arn, "HyperPod Cleanup Result", "hpdeploy.hyperpod",
          json::object{{"executionArn", cancel_arn},
                       {"cleanup", json::object{{"complete", true}, {"removed", json::array{}}}}});
  StatusChange(cancel_arn, "SUCCEEDED", "{}");
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("status"), "ABORTED");
  EXPECT_EQ(got->at("phase"), "CANCELLED");
  EXPECT_EQ(got->at("cancellation").at("status"), "SUCCEEDED");
  EXPECT_EQ(got->at("cancellation").at("cleanup").at("complete"), true);
}

TEST_F(ServiceTest, ACleanupThatCouldNotStartIsStartedByTheNextCancel) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  backend_.fail_starts_of = "hyperpod-cancel";
  auto first = service_->Cancel(alice_, "job-1");
  EXPECT_EQ(first.status().error_name(), "BackendUnavailable");
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  StatusChange(arn, "ABORTED");
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  // Stopped, not failed: the cancellation is recorded before the stop.
  EXPECT_EQ(got->at("phase"), "CANCELLING");
  backend_.fail_starts_of.clear();
  auto retried = service_->Cancel(alice_, "job-1");
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(backend_.Started("hyperpod-cancel"), 1u);
  auto input = ParseJson(backend_.executions.at(ExecutionArn("hyperpod-cancel", "job-1")).input);
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->at("error").at("Cause"), "Cancelled by alice");
}

TEST_F(ServiceTest, AStartRetriedAfterItsExecutionBeganIsNotAConflict) {
  // The first StartExecution started it, but its answer was lost; the retry meets
  // ExecutionAlreadyExists with our own input.
  class Lossy final : public WorkflowBackend {
   public:
    explicit Lossy(FakeStepFunctions& inner) : inner_(inner) {}
    StatusOr<json::object> Call(std::string_view action, const json::object& request) override {
      if (action == "StartExecution") (void)inner_.Call(action, request);
      return inner_.Call(action, request);
    }
    std::string Describe() const override { return "lossy"; }
    FakeStepFunctions& inner_;
  };
  Lossy lossy(backend_);
  service_.reset();
  Open(&lossy);
  auto started = Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})");
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->at("status"), "RUNNING");
  EXPECT_EQ(backend_.Started("hyperpod-deployment"), 1u);
}

TEST_F(ServiceTest, CancelOfAnEndedDeploymentIsAConflict) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  StatusChange(ExecutionArn("hyperpod-deployment", "job-1"), "SUCCEEDED", "{}");
  EXPECT_EQ(service_->Cancel(admin_, "job-1").status().error_name(), "DeploymentNotRunning");
  EXPECT_EQ(backend_.Started("hyperpod-cancel"), 0u);
}

TEST_F(ServiceTest, TeardownRunsForASucceededDeploymentAndRetriesAfterAFailure) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  EXPECT_EQ(service_->Teardown(alice_, "job-1").status().error_name(), "TeardownNotAllowed");
  StatusChange(ExecutionArn("hyperpod-deployment", "job-1"), "SUCCEEDED", "{}");
  auto first = service_->Teardown(admin_, "job-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->at("phase"), "TEARING_DOWN");
  const std::string attempt1 = ExecutionArn("hyperpod-teardown", "job-1");
  ASSERT_EQ(backend_.executions.count(attempt1), 1u);
  auto input = ParseJson(backend_.executions.at(attempt1).input);
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(input->at("requestedBy"), "root");
  EXPECT_EQ(input->at("owner"), "alice");
  EXPECT_EQ(input->at("config").at("region"), "us-west-2");
  EXPECT_EQ(service_->Teardown(alice_, "job-1").status().error_name(), "TeardownNotAllowed");
  StatusChange(attempt1, "RUNNING");
  StatusChange(attempt1, "FAILED");
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("phase"), "TEARDOWN_FAILED");
  auto second = service_->Teardown(alice_, "job-1");
  ASSERT_TRUE(second.ok()) << second.status();
  const std::string attempt2 = ExecutionArn("hyperpod-teardown", "job-1.2");
  ASSERT_EQ(backend_.executions.count(attempt2), 1u);
  StatusChange(attempt2, "SUCCEEDED", "{}");
  got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("phase"), "TORN_DOWN");
  EXPECT_EQ(got->at("teardown").at("attempt"), 2);
  EXPECT_EQ(service_->Teardown(alice_, "job-1").status().error_name(), "TeardownNotAllowed");
}

TEST_F(ServiceTest, DeploymentsStartedElsewhereAppearFromTheirEvents) {
  const std::string arn = ExecutionArn("hyperpod-deployment", "cli-job");
  backend_.executions[arn] = {kDeployMachine,
                              R"({"jobId": "cli-job", "requestedBy": "carol",
                                  "requestedAt": "2026-01-01T00:00:00Z"})"};
  StatusChange(arn, "RUNNING");
  auto got = service_->Get(admin_, "cli-job");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->at("requestedBy"), "carol");
  EXPECT_EQ(got->at("status"), "RUNNING");
}

TEST_F(ServiceTest, TheReadModelSurvivesAReopenAndResumesTheLog) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  service_.reset();
  // Appended while no service runs: applied when it opens again.
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  json::object envelope{
      {"version", "0"},
      {"id", "offline-1"},
      {"detail-type", "Step Functions Execution Status Change"},
      {"source", "aws.states"},
      {"account", "123456789012"},
      {"time", "2026-01-01T00:00:00Z"},
      {"region", "us-east-1"},
      {"resources", json::array{json::value(arn)}},
      {"detail", json::object{{"executionArn", arn}, {"status", "SUCCEEDED"}, {"output", "{}"}}}};
  auto appended = events_->Append({envelope});
  ASSERT_TRUE(appended.ok());
  Open();
  service_->WaitApplied(appended->last_sequence);
  auto got = service_->Get(alice_, "job-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->at("status"), "SUCCEEDED");
}

TEST_F(ServiceTest, LogsPageByLinesAndResumeBetweenBatches) {
  ASSERT_TRUE(Start(alice_, R"({"jobId": "job-1", "config": {"region": "us-west-2"}})").ok());
  const std::string arn = ExecutionArn("hyperpod-deployment", "job-1");
  for (int batch = 0; batch < 3; ++batch) {
    json::array lines;
    for (int i = 0; i < 3; ++i) {
      lines.push_back(json::object{{"sequence", batch * 3 + i + 1},
                                   {"timestamp", 1000},
                                   {"message", "line " + std::to_string(batch * 3 + i)}});
    }
    Publish(arn, "Container Log Lines", "hpdeploy.logs",
            json::object{{"executionArn", arn},
                         {"jobId", "job-1"},
                         {"owner", "alice"},
                         {"logStream", "infraforge/x/0123"},
                         {"lines", std::move(lines)}});
  }
  std::vector<std::string> all;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    auto page = service_->Logs(alice_, "job-1", after, 4);
    ASSERT_TRUE(page.ok()) << page.status();
    const json::array& lines = page->at("lines").as_array();
    if (lines.empty()) break;
    EXPECT_LE(lines.size(), 6u);  // whole batches, stopping once 4 lines are reached
    for (const json::value& line : lines)
      all.push_back(std::string(line.at("message").as_string()));
    after = page->at("next").as_int64();
    ASSERT_LT(++pages, 10);
  }
  ASSERT_EQ(all.size(), 9u);
  for (size_t i = 0; i < 9; ++i) EXPECT_EQ(all[i], "line " + std::to_string(i));
  EXPECT_EQ(service_->Logs(bob_, "job-1", 0, 4).status().error_name(), "DeploymentNotFound");
}

TEST_F(ServiceTest, PresetsAndRegionsComeFromTheCatalog) {
  const json::object presets = service_->Presets();
  EXPECT_EQ(presets.at("default").as_string(), presets_.default_preset());
  EXPECT_EQ(presets.at("presets").as_array().size(), presets_.presets().size());
  EXPECT_EQ(service_->Regions().at("regions").as_array().size(), presets_.regions().size());
}

}  // namespace
}  // namespace hpd::hyperpod
