#include "hyperpod/request.h"

#include <ostream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/status_matchers.h"
#include "hyperpod/hyperpod_testing.h"

namespace hpd::hyperpod {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

boost::json::object SeedObject() { return ParseJson(testing::SeedPayload())->as_object(); }

TEST(ParseDeploymentRequest, ParsesTheSeedPayload) {
  auto request = ParseDeploymentRequestJson(testing::SeedPayload());
  ASSERT_THAT(request, IsOk());
  EXPECT_EQ(request->job_id, testing::kJobId);
  EXPECT_EQ(request->requested_by, "alice");
  EXPECT_EQ(request->timeout_seconds, 3600);
  EXPECT_EQ(request->config.preset, "small");
  EXPECT_EQ(request->config.region, "us-west-2");
  EXPECT_FALSE(request->config.name.has_value());
  EXPECT_TRUE(request->config.overrides.empty());
  EXPECT_TRUE(request->quota_checks);
  EXPECT_EQ(request->config_bucket, "perf-eval-hyperpod-config");
  EXPECT_EQ(request->parameter_prefix, "/perf-eval/hyperpod");
}

TEST(ParseDeploymentRequest, ParsesOverridesNameAndQuotaChecks) {
  boost::json::object payload = SeedObject();
  payload["config"].as_object()["name"] = "bench";
  payload["config"].as_object()["overrides"] =
      boost::json::object{{"instanceGroups.accelerated.count", 4},
                          {"kubernetesVersion", "1.32"},
                          {"eks.debug", true},
                          {"fsx.ratio", 1.5}};
  payload["guardrails"].as_object()["quotaChecks"] = false;
  payload["extraBookkeeping"] = "ignored";
  auto request = ParseDeploymentRequest(boost::json::value(payload));
  ASSERT_THAT(request, IsOk());
  EXPECT_EQ(request->config.name, "bench");
  EXPECT_FALSE(request->quota_checks);
  EXPECT_THAT(request->config.overrides,
              UnorderedElementsAre(
                  Pair("instanceGroups.accelerated.count", OverrideValue(int64_t{4})),
                  Pair("kubernetesVersion", OverrideValue(std::string("1.32"))),
                  Pair("eks.debug", OverrideValue(true)), Pair("fsx.ratio", OverrideValue(1.5))));
}

TEST(ParseDeploymentRequest, MissingGuardrailsMeansQuotaChecksOn) {
  boost::json::object payload = SeedObject();
  payload.erase("guardrails");
  auto request = ParseDeploymentRequest(boost::json::value(payload));
  ASSERT_THAT(request, IsOk());
  EXPECT_TRUE(request->quota_checks);
}

TEST(ParseDeploymentRequest, RoundTripsThroughJson) {
  DeploymentRequest original = testing::SeedRequest();
  original.config.name = "bench";
  original.config.overrides["ebsVolumeGb"] = int64_t{1000};
  auto parsed = ParseDeploymentRequest(boost::json::value(DeploymentRequestToJson(original)));
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->job_id, original.job_id);
  EXPECT_EQ(parsed->config.name, "bench");
  EXPECT_EQ(parsed->config.overrides, original.config.overrides);
  EXPECT_EQ(parsed->parameter_prefix, original.parameter_prefix);
}

TEST(ParseDeploymentRequest, RejectsTextThatIsNotJson) {
  EXPECT_THAT(
      ParseDeploymentRequestJson("{"),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("deployment request: invalid JSON")));
  EXPECT_THAT(ParseDeploymentRequestJson("[]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must be a JSON object")));
}

struct BadRequestCase {
  std::string name;
  std::string pointer;  // a JSON Pointer into the seed payload
  std::string value;    // JSON, or "" to remove the member
  std::string message;
};

class BadRequestTest : public ::testing::TestWithParam<BadRequestCase> {};

TEST_P(BadRequestTest, NamesTheFieldPath) {
  boost::json::value payload = ParseJson(testing::SeedPayload()).value();
  const BadRequestCase& c = GetParam();
  const std::size_t slash = c.pointer.rfind('/');
  boost::json::object& parent =
      slash == 0 ? payload.as_object() : payload.at_pointer(c.pointer.substr(0, slash)).as_object();
  const std::string key = c.pointer.substr(slash + 1);
  if (c.value.empty()) {
    parent.erase(key);
  } else {
    parent[key] = ParseJson(c.value).value();
  }
  auto request = ParseDeploymentRequest(payload);
  EXPECT_THAT(request, StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)));
  EXPECT_EQ(request.status().error_name(), "InvalidDeploymentRequest");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadRequestTest,
    ::testing::Values(
        BadRequestCase{"MissingJobId", "/jobId", "", "jobId: is required"},
        BadRequestCase{"EmptyJobId", "/jobId", R"("")", "jobId: must not be empty"},
        BadRequestCase{"NumericJobId", "/jobId", "7", "jobId: must be a string, got 7"},
        BadRequestCase{"MissingRequestedBy", "/requestedBy", "", "requestedBy: is required"},
        BadRequestCase{"BadRequestedAt", "/requestedAt", R"("yesterday")",
                       "requestedAt: must be an RFC 3339 timestamp"},
        BadRequestCase{"TimeoutAsString", "/timeoutSeconds", R"("3600")",
                       "timeoutSeconds: must be an integer >= 1, got \"3600\""},
        BadRequestCase{"TimeoutZero", "/timeoutSeconds", "0",
                       "timeoutSeconds: must be an integer >= 1, got 0"},
        BadRequestCase{"MissingConfig", "/config", "", "config: is required"},
        BadRequestCase{"ConfigNotObject", "/config", "[]",
                       "config: must be an object, got an array"},
        BadRequestCase{"MissingRegion", "/config/region", "", "config.region: is required"},
        BadRequestCase{"PresetNumber", "/config/preset", "3",
                       "config.preset: must be a string, got 3"},
        BadRequestCase{"NameNumber", "/config/name", "3", "config.name: must be a string, got 3"},
        BadRequestCase{"ConfigTypo", "/config/regoin", R"("us-west-2")",
                       "config.regoin: is not a known field"},
        BadRequestCase{
            "OverridesArray", "/config/overrides", "[]",
            "config.overrides: must be an object of dotted keys to values, got an array"},
        BadRequestCase{"OverrideObject", "/config/overrides", R"({"fsx": {"storageGiB": 2400}})",
                       "config.overrides.fsx: must be a number, boolean or string, got an object"},
        BadRequestCase{"OverrideNull", "/config/overrides", R"({"fsx.storageGiB": null})",
                       "config.overrides.fsx.storageGiB: must be a number, boolean or string, got "
                       "null"},
        BadRequestCase{"QuotaChecksString", "/guardrails/quotaChecks", R"("yes")",
                       "guardrails.quotaChecks: must be true or false, got \"yes\""},
        BadRequestCase{"GuardrailsTypo", "/guardrails/quotaCheck", "true",
                       "guardrails.quotaCheck: is not a known field"},
        BadRequestCase{"MissingArtifacts", "/artifacts", "", "artifacts: is required"},
        BadRequestCase{"MissingBucket", "/artifacts/configBucket", "",
                       "artifacts.configBucket: is required"},
        BadRequestCase{"PrefixNumber", "/artifacts/parameterPrefix", "1",
                       "artifacts.parameterPrefix: must be a string, got 1"}),
    [](const ::testing::TestParamInfo<BadRequestCase>& p) { return p.param.name; });

struct SetCase {
  std::string assignment;
  std::string key;
  OverrideValue value;
  friend void PrintTo(const SetCase& c, std::ostream* os) { *os << c.assignment; }
};

class ParseSetAssignmentTest : public ::testing::TestWithParam<SetCase> {};

TEST_P(ParseSetAssignmentTest, TypesTheValue) {
  auto parsed = ParseSetAssignment(GetParam().assignment);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->first, GetParam().key);
  EXPECT_EQ(parsed->second, GetParam().value) << DescribeOverrideValue(parsed->second);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParseSetAssignmentTest,
    ::testing::Values(SetCase{"instanceGroups.accelerated.count=4",
                              "instanceGroups.accelerated.count", int64_t{4}},
                      SetCase{"x=0", "x", int64_t{0}}, SetCase{"x=-3", "x", int64_t{-3}},
                      SetCase{"x=9223372036854775807", "x", int64_t{9223372036854775807}},
                      SetCase{"x=9223372036854775808", "x", std::string("9223372036854775808")},
                      SetCase{"x=true", "x", true}, SetCase{"x=false", "x", false},
                      SetCase{"x=True", "x", std::string("True")},
                      SetCase{"kubernetesVersion=1.32", "kubernetesVersion", std::string("1.32")},
                      SetCase{"x=007", "x", std::string("007")},
                      SetCase{"x=-", "x", std::string("-")}, SetCase{"x=", "x", std::string("")},
                      SetCase{"x=a=b", "x", std::string("a=b")},
                      SetCase{"instanceGroups.accelerated.instanceType=ml.g6e.12xlarge",
                              "instanceGroups.accelerated.instanceType",
                              std::string("ml.g6e.12xlarge")}));

TEST(ParseSetAssignment, RejectsMalformedAssignments) {
  EXPECT_THAT(ParseSetAssignment("count"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("expected key=value")));
  EXPECT_THAT(ParseSetAssignment("=4"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("the key is empty")));
  EXPECT_THAT(ParseSetAssignment("a b=4"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("the key contains whitespace")));
}

}  // namespace
}  // namespace hpd::hyperpod
