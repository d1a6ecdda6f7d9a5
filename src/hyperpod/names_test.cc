#include "hyperpod/names.h"

#include <ostream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "hyperpod/hyperpod_testing.h"

namespace hpd::hyperpod {
namespace {

using ::testing::HasSubstr;

TEST(DeriveNames, DefaultsFromTheJobId) {
  DeploymentNames names = DeriveNames(testing::SeedRequest());
  EXPECT_EQ(names.job_tag, "1a2b3c4d");
  EXPECT_EQ(names.deployment_name, "hp-1a2b3c4d");
  EXPECT_EQ(names.hyperpod_cluster, "hp-1a2b3c4d");
  EXPECT_EQ(names.eks_cluster, "hp-1a2b3c4d-eks");
  EXPECT_EQ(names.stack, "hpd-hp-1a2b3c4d");
  EXPECT_EQ(names.parameter_path, "/perf-eval/hyperpod/1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d");
  EXPECT_EQ(names.ParameterName("status"),
            "/perf-eval/hyperpod/1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d/status");
  EXPECT_EQ(names.config_key, "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d/config.json");
  EXPECT_EQ(names.ConfigUri(),
            "s3://perf-eval-hyperpod-config/1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d/config.json");
}

TEST(DeriveNames, AnExplicitNameGetsTheJobTagSoJobsNeverShareNames) {
  DeploymentRequest request = testing::SeedRequest();
  request.config.name = "bench";
  DeploymentNames first = DeriveNames(request);
  EXPECT_EQ(first.deployment_name, "bench");
  EXPECT_EQ(first.hyperpod_cluster, "bench-1a2b3c4d");
  EXPECT_EQ(first.eks_cluster, "bench-1a2b3c4d-eks");
  EXPECT_EQ(first.stack, "hpd-bench-1a2b3c4d");

  request.job_id = "99999999-0000-4000-8000-000000000000";
  DeploymentNames second = DeriveNames(request);
  EXPECT_NE(first.hyperpod_cluster, second.hyperpod_cluster);
  EXPECT_NE(first.stack, second.stack);
  EXPECT_NE(first.parameter_path, second.parameter_path);
}

TEST(DeriveNames, ANameAlreadyEndingInTheTagIsNotSuffixedTwice) {
  DeploymentRequest request = testing::SeedRequest();
  request.config.name = "run-1a2b3c4d";
  EXPECT_EQ(DeriveNames(request).hyperpod_cluster, "run-1a2b3c4d");
}

TEST(DeriveNames, TagUsesLettersAndDigitsLowercased) {
  DeploymentRequest request = testing::SeedRequest();
  request.job_id = "AB_C.D-EF.GH_IJ";
  EXPECT_EQ(DeriveNames(request).job_tag, "abcdefgh");
}

TEST(DeriveNames, DropsATrailingSlashFromThePrefix) {
  DeploymentRequest request = testing::SeedRequest();
  request.parameter_prefix = "/perf-eval/hyperpod/";
  request.job_id = "j1";
  EXPECT_EQ(DeriveNames(request).parameter_path, "/perf-eval/hyperpod/j1");
}

struct NameCase {
  std::string name;
  bool valid;
  friend void PrintTo(const NameCase& c, std::ostream* os) {
    *os << '"' << c.name << "\" " << (c.valid ? "valid" : "invalid");
  }
};

class HyperPodClusterNameTest : public ::testing::TestWithParam<NameCase> {};
TEST_P(HyperPodClusterNameTest, FollowsTheApiRule) {
  Status status = ValidateHyperPodClusterName(GetParam().name);
  EXPECT_EQ(status.ok(), GetParam().valid) << status;
  EXPECT_EQ(ValidateInstanceGroupName(GetParam().name).ok(), GetParam().valid);
}
INSTANTIATE_TEST_SUITE_P(Cases, HyperPodClusterNameTest,
                         ::testing::Values(NameCase{"a", true},
                                           NameCase{std::string(63, 'a'), true},
                                           NameCase{std::string(64, 'a'), false},
                                           NameCase{"", false}, NameCase{"A-b--9", true},
                                           NameCase{"9lives", true}, NameCase{"-a", false},
                                           NameCase{"a-", false}, NameCase{"a_b", false},
                                           NameCase{"a.b", false}, NameCase{"a b", false}));

class EksClusterNameTest : public ::testing::TestWithParam<NameCase> {};
TEST_P(EksClusterNameTest, FollowsTheApiRule) {
  Status status = ValidateEksClusterName(GetParam().name);
  EXPECT_EQ(status.ok(), GetParam().valid) << status;
}
INSTANTIATE_TEST_SUITE_P(Cases, EksClusterNameTest,
                         ::testing::Values(NameCase{"a", true},
                                           NameCase{std::string(100, 'a'), true},
                                           NameCase{std::string(101, 'a'), false},
                                           NameCase{"", false}, NameCase{"9a_b-c", true},
                                           NameCase{"a-", true}, NameCase{"_a", false},
                                           NameCase{"-a", false}, NameCase{"a.b", false}));

class StackNameTest : public ::testing::TestWithParam<NameCase> {};
TEST_P(StackNameTest, FollowsTheApiRule) {
  Status status = ValidateStackName(GetParam().name);
  EXPECT_EQ(status.ok(), GetParam().valid) << status;
}
INSTANTIATE_TEST_SUITE_P(Cases, StackNameTest,
                         ::testing::Values(NameCase{"a", true},
                                           NameCase{std::string(128, 'a'), true},
                                           NameCase{std::string(129, 'a'), false},
                                           NameCase{"", false}, NameCase{"A-9", true},
                                           NameCase{"9a", false}, NameCase{"-a", false},
                                           NameCase{"a_b", false}, NameCase{"a.b", false}));

class JobIdTest : public ::testing::TestWithParam<NameCase> {};
TEST_P(JobIdTest, IsOneParameterLevel) {
  EXPECT_EQ(ValidateJobId(GetParam().name).ok(), GetParam().valid);
}
INSTANTIATE_TEST_SUITE_P(Cases, JobIdTest,
                         ::testing::Values(NameCase{testing::kJobId, true},
                                           NameCase{"a_b.c-d", true}, NameCase{"", false},
                                           NameCase{"a/b", false}, NameCase{"a b", false}));

TEST(NameRules, MessagesNameTheValueAndTheLimit) {
  EXPECT_THAT(
      ValidateHyperPodClusterName(std::string(64, 'a')),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("has 64 characters; it must have 1 to 63")));
  EXPECT_THAT(ValidateStackName("9a"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("CloudFormation stack name \"9a\" must start with a letter")));
  EXPECT_THAT(ValidateEksClusterName("a.b"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("letters, digits, '-' and '_'")));
}

}  // namespace
}  // namespace hpd::hyperpod
