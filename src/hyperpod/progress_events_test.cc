#include "hyperpod/progress_events.h"

#include <string>
#include <vector>

#include <boost/json/value.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"

namespace hpd::hyperpod {
namespace {

namespace json = boost::json;
using asl::HistoryEvent;
using asl::HistoryEventType;
using ::testing::SizeIs;

constexpr char kArn[] = "arn:aws:states:us-east-1:123456789012:execution:hyperpod:job-1";

engine::ExecutionContext Context(const std::string& state,
                                 const std::string& input = R"({"jobId":"job-1",
                                   "requestedBy":"alice"})") {
  engine::ExecutionContext context;
  context.execution_arn = kArn;
  context.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:hyperpod";
  context.name = "job-1";
  context.input = input;
  context.state = state;
  return context;
}

HistoryEvent Exited(const std::string& state, const json::value& output,
                    HistoryEventType type = HistoryEventType::kTaskStateExited) {
  HistoryEvent event;
  event.id = 7;
  event.previous_event_id = 6;
  event.type = type;
  event.details.Add("name", state).Add("output", SerializeJson(output));
  return event;
}

std::vector<json::object> Events(const engine::ExecutionContext& context,
                                 const HistoryEvent& event) {
  std::vector<json::object> out;
  HyperPodDomainEvents(context, event, out);
  return out;
}

// The one event's detail, after checking its source and type.
json::object Only(const std::vector<json::object>& events, const std::string& detail_type) {
  EXPECT_THAT(events, SizeIs(1));
  if (events.size() != 1) return json::object();
  EXPECT_EQ(events[0].at("source"), json::value("hpdeploy.hyperpod"));
  EXPECT_EQ(events[0].at("detail-type"), json::value(detail_type));
  json::object detail = events[0].at("detail").as_object();
  EXPECT_EQ(detail.at("executionArn"), json::value(kArn));
  return detail;
}

TEST(HyperPodDomainEventsTest, GuardrailReportFromPrepareDeploymentConfigsOutput) {
  const json::value report = json::object{{"passed", true}, {"checks", json::array{}}};
  json::object output{
      {"jobId", "job-1"},
      {"prepare",
       json::object{{"result", json::object{{"configUri", "s3://b/k"}, {"guardrails", report}}}}}};
  json::object detail =
      Only(Events(Context("PrepareDeploymentConfig"), Exited("PrepareDeploymentConfig", output)),
           "HyperPod Guardrail Report");
  EXPECT_EQ(detail.at("report"), report);
  EXPECT_EQ(detail.at("jobId"), json::value("job-1"));
  EXPECT_EQ(detail.at("owner"), json::value("alice"));
}

TEST(HyperPodDomainEventsTest, OwnerPrefersOwnerOverRequestedByAndMayBeNull) {
  const json::object output{{"cleanup", json::object{{"result", json::object{{"removed", 1}}}}}};
  json::object detail =
      Only(Events(Context("CleanupOnFailure", R"({"owner":"ops","requestedBy":"alice"})"),
                  Exited("CleanupOnFailure", output)),
           "HyperPod Cleanup Result");
  EXPECT_EQ(detail.at("owner"), json::value("ops"));
  EXPECT_TRUE(detail.at("jobId").is_null());
  detail = Only(Events(Context("CleanupOnFailure", "{}"), Exited("CleanupOnFailure", output)),
                "HyperPod Cleanup Result");
  EXPECT_TRUE(detail.at("owner").is_null());
}

TEST(HyperPodDomainEventsTest, EachFinishingStateGivesItsResultUnwrapped) {
  struct Case {
    std::string state, member, detail_type, key;
  };
  const std::vector<Case> cases = {
      {"CleanupOnFailure", "cleanup", "HyperPod Cleanup Result", "cleanup"},
      {"RecordFailure", "failureRecord", "HyperPod Failure Record", "failure"},
      {"PersistDeploymentOutputs", "outputs", "HyperPod Deployment Outputs", "outputs"},
      {"FinalizeTeardown", "teardown", "HyperPod Teardown Result", "result"},
  };
  const json::value answer = json::object{{"answer", 42}};
  for (const Case& c : cases) {
    // As the definitions keep it ({"result": ...}) and as another machine might (bare).
    for (const json::value& kept : {json::value(json::object{{"result", answer}}), answer}) {
      json::object output{{"jobId", "job-1"}, {c.member, kept}};
      json::object detail = Only(Events(Context(c.state), Exited(c.state, output)), c.detail_type);
      EXPECT_EQ(detail.at(c.key), answer) << c.state;
    }
  }
}

TEST(HyperPodDomainEventsTest, FinalizeTeardownWithoutTeardownMemberGivesTheWholeOutput) {
  const json::object output{{"done", true}};
  json::object detail =
      Only(Events(Context("FinalizeTeardown"), Exited("FinalizeTeardown", output)),
           "HyperPod Teardown Result");
  EXPECT_EQ(detail.at("result"), json::value(output));
}

TEST(HyperPodDomainEventsTest, NoEventWithoutTheMemberOrForOtherStatesAndEvents) {
  // A Catch exits the state with the error in place of the result.
  const json::object caught{{"error", json::object{{"Error", "X"}, {"Cause", "y"}}}};
  for (const char* state : {"PrepareDeploymentConfig", "CleanupOnFailure", "RecordFailure",
                            "PersistDeploymentOutputs"}) {
    EXPECT_TRUE(Events(Context(state), Exited(state, caught)).empty()) << state;
  }
  const json::object output{{"cleanup", json::object{{"x", 1}}}};
  EXPECT_TRUE(Events(Context("Other"), Exited("Other", output)).empty());
  // The state's name comes from the exit event itself, whatever the machine's state types.
  EXPECT_THAT(Events(Context("CleanupOnFailure"),
                     Exited("CleanupOnFailure", output, HistoryEventType::kPassStateExited)),
              SizeIs(1));
  HistoryEvent entered;
  entered.id = 2;
  entered.type = HistoryEventType::kTaskStateEntered;
  entered.details.Add("name", "CleanupOnFailure").Add("input", SerializeJson(output));
  EXPECT_TRUE(Events(Context("CleanupOnFailure"), entered).empty());
}

HistoryEvent TaskFailed(const std::string& error, const std::string& cause) {
  HistoryEvent event;
  event.id = 5;
  event.previous_event_id = 4;
  event.type = HistoryEventType::kTaskFailed;
  event.details.Add("resourceType", "lambda").Add("resource", "invoke");
  event.details.Add("error", error).Add("cause", cause);
  return event;
}

TEST(HyperPodDomainEventsTest, GuardrailViolationRebuildsTheFailedChecksFromTheCause) {
  // The Lambda error JSON PrepareDeploymentConfig's failure becomes (lambda:invoke, compact).
  const std::string cause = SerializeJson(json::object{
      {"errorMessage",
       "Guardrails failed: [region.allowed] Region \"mars-1\" is not one of the regions [a] "
       "listed. [quota.instances] Needs 4 [ml.p5] instances; 2 are left."},
      {"errorType", "GuardrailViolation"},
      {"requestId", "r"},
      {"stackTrace", json::array{}}});
  json::object detail =
      Only(Events(Context("PrepareDeploymentConfig"), TaskFailed("GuardrailViolation", cause)),
           "HyperPod Guardrail Report");
  const json::object& report = detail.at("report").as_object();
  EXPECT_EQ(report.at("passed"), json::value(false));
  EXPECT_EQ(report.at("partial"), json::value(true));
  const json::array& checks = report.at("checks").as_array();
  ASSERT_THAT(checks, SizeIs(2));
  EXPECT_EQ(checks[0].at("id"), json::value("region.allowed"));
  EXPECT_EQ(checks[0].at("status"), json::value("FAIL"));
  EXPECT_EQ(checks[0].at("message"),
            json::value("Region \"mars-1\" is not one of the regions [a] listed."));
  EXPECT_EQ(checks[1].at("id"), json::value("quota.instances"));
  EXPECT_EQ(checks[1].at("message"), json::value("Needs 4 [ml.p5] instances; 2 are left."));
  EXPECT_EQ(detail.at("jobId"), json::value("job-1"));
}

TEST(HyperPodDomainEventsTest, OtherFailuresGiveNoReport) {
  const std::string cause = R"({"errorMessage":"Guardrails failed: [a.b] no","errorType":"X"})";
  EXPECT_TRUE(
      Events(Context("PrepareDeploymentConfig"), TaskFailed("JobAlreadyExists", cause)).empty());
  EXPECT_TRUE(
      Events(Context("RunInfraForgeTask"), TaskFailed("GuardrailViolation", cause)).empty());
  // A cause that lists no check (not the Lambda error JSON, or no "[id]").
  EXPECT_TRUE(
      Events(Context("PrepareDeploymentConfig"), TaskFailed("GuardrailViolation", "oops")).empty());
  EXPECT_TRUE(Events(Context("PrepareDeploymentConfig"),
                     TaskFailed("GuardrailViolation", R"({"errorMessage":"Guardrails failed:"})"))
                  .empty());
}

}  // namespace
}  // namespace hpd::hyperpod
