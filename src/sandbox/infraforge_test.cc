#include "sandbox/infraforge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "common/clock.h"
#include "common/status_matchers.h"
#include "sandbox/account.h"
#include "sandbox/test_config.h"
#include "support/scratch_dir.h"

namespace hpd::sandbox {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::SizeIs;

constexpr WallTime kStart = WallTime(std::chrono::seconds(1'700'000'000));

// Sleeping advances the simulated clock; after `limit` sleeps it throws, to end a run that
// would otherwise wait forever (deploy-hang).
class ClockSleeper final : public Sleeper {
 public:
  struct Exhausted {};
  explicit ClockSleeper(SimulatedClock& clock) : clock_(clock) {}
  void Sleep(Duration duration) override {
    if (++sleeps_ > limit_) throw Exhausted{};
    clock_.Advance(duration);
  }
  void set_limit(int limit) { limit_ = limit; }
  int sleeps() const { return sleeps_; }

 private:
  SimulatedClock& clock_;
  int sleeps_ = 0;
  int limit_ = 1'000'000;
};

class InfraForgeTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    account_ = Account::Open(dir_ / "sandbox", clock_, 1.0).value();
    Write("config.json", std::string(testing::kSampleConfig));
    options_.sandbox_dir = dir_ / "sandbox";
    options_.working_dir = dir_;
    options_.region = "us-west-2";
    options_.job_id = "job-1";
  }

  struct Run {
    int exit_code;
    std::string out;
    std::string err;
  };

  Run Deploy() { return RunCommand(InfraForgeCommand::kDeploy); }
  Run Destroy() { return RunCommand(InfraForgeCommand::kDestroy); }

  Run RunCommand(InfraForgeCommand command) {
    options_.command = command;
    std::ostringstream out, err;
    const int code = RunInfraForge(options_, clock_, sleeper_, out, err);
    return Run{code, out.str(), err.str()};
  }

  CallContext Ctx() const { return CallContext{"us-west-2", "job-1"}; }

  size_t LiveStacks() { return account_->ListStacks(CallContext{"us-west-2", ""})->size(); }

  SimulatedClock clock_{kStart};
  ClockSleeper sleeper_{clock_};
  std::unique_ptr<Account> account_;
  InfraForgeOptions options_;
};

TEST_F(InfraForgeTest, DeployPrintsCdkProgressAndOutputs) {
  Run run = Deploy();
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("Loaded configuration from config.json\n"));
  EXPECT_THAT(run.out, HasSubstr("aws-infra-forge: deploying... [1/1]\n"));
  EXPECT_THAT(run.out, HasSubstr(" | CREATE_COMPLETE      | AWS::EC2::VPC"));
  EXPECT_THAT(run.out, HasSubstr(" | CREATE_IN_PROGRESS   | AWS::SageMaker::Cluster"
                                 "                   | hyperpod Resource creation Initiated\n"));
  EXPECT_THAT(run.out, HasSubstr("\n \xE2\x9C\x85  aws-infra-forge\n"));
  EXPECT_THAT(run.out,
              MatchesRegex("(.|\n)*\xE2\x9C\xA8  Deployment time: 1[2-5][0-9][0-9]\\.[0-9]s\n"
                           "(.|\n)*"));
  EXPECT_THAT(run.out, HasSubstr("Outputs:\n"));
  EXPECT_THAT(run.out, HasSubstr("aws-infra-forge.ClusterArn = "
                                 "arn:aws:eks:us-west-2:123456789012:cluster/eks\n"));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*aws-infra-forge.HyperPodClusterArnhyperpod = "
                                    "arn:aws:sagemaker:us-west-2:123456789012:cluster/"
                                    "[a-z0-9]{12}\n(.|\n)*"));
  EXPECT_THAT(run.out, HasSubstr("aws-infra-forge.HyperPodClusterNamehyperpod = hyperpod-eks\n"));
  EXPECT_THAT(run.out, MatchesRegex("(.|\n)*Stack ARN:\narn:aws:cloudformation:us-west-2:"
                                    "123456789012:stack/aws-infra-forge/[-0-9a-f]{36}\n(.|\n)*"));
  // Polled every 5 simulated seconds over ~24 minutes.
  EXPECT_GT(sleeper_.sleeps(), 200);
  // The counter reaches the total.
  const size_t total = SynthesizeInfraForge(testing::kSampleConfig, "")->stack.resources.size() + 1;
  EXPECT_THAT(run.out, HasSubstr("aws-infra-forge | " + std::to_string(total) + "/" +
                                 std::to_string(total) + " | "));
  // The job's tag is on the stack.
  EXPECT_EQ(account_->DescribeStack(Ctx(), "aws-infra-forge")->tags.at("perf-eval:jobId"), "job-1");
}

TEST_F(InfraForgeTest, DeployTwiceLeavesOneStack) {
  ASSERT_EQ(Deploy().exit_code, 0);
  Run again = Deploy();
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.out, HasSubstr(" \xE2\x9C\x85  aws-infra-forge (no changes)\n"));
  EXPECT_THAT(again.out, HasSubstr("aws-infra-forge.ClusterEndpoint = https://"));
  EXPECT_EQ(LiveStacks(), 1u);
}

TEST_F(InfraForgeTest, DeployWaitsForAnEarlierRunsCreation) {
  // A first run crashed (killed) right after CreateStack; the retry waits for that creation.
  StackTemplate stack = SynthesizeInfraForge(testing::kSampleConfig, "job-1")->stack;
  ASSERT_THAT(account_->CreateStack(Ctx(), stack), IsOk());
  clock_.Advance(std::chrono::minutes(3));
  Run run = Deploy();
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("stack is CREATE_IN_PROGRESS (an earlier deployment)"));
  EXPECT_EQ(LiveStacks(), 1u);
}

TEST_F(InfraForgeTest, FailedCreationRollsBackAndTheNextDeployRecreates) {
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.insufficient_capacity = true}), IsOk());
  Run failed = Deploy();
  EXPECT_EQ(failed.exit_code, 1);
  EXPECT_THAT(failed.out, HasSubstr(" | ROLLBACK_IN_PROGRESS | AWS::CloudFormation::Stack"));
  EXPECT_THAT(failed.out,
              HasSubstr(" \xE2\x9D\x8C  aws-infra-forge failed: Error: The stack named "
                        "aws-infra-forge failed creation, it may need to be manually deleted from "
                        "the AWS console: ROLLBACK_COMPLETE: Resource handler returned message: "
                        "\"Insufficient capacity for ml.g5.8xlarge in us-west-2a."));
  EXPECT_EQ(account_->DescribeStack(Ctx(), "aws-infra-forge")->status, "ROLLBACK_COMPLETE");

  ASSERT_THAT(account_->SetFaults("job-1", Faults()), IsOk());
  Run retried = Deploy();
  EXPECT_EQ(retried.exit_code, 0) << retried.out;
  EXPECT_THAT(retried.out, HasSubstr("had previously failed creation"));
  EXPECT_THAT(retried.out, HasSubstr("| DELETE_COMPLETE      | AWS::CloudFormation::Stack"));
  EXPECT_EQ(LiveStacks(), 1u);
  EXPECT_EQ(account_->DescribeStack(Ctx(), "aws-infra-forge")->status, "CREATE_COMPLETE");
}

TEST_F(InfraForgeTest, CrashPanicsAndLeavesPartialResources) {
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.infraforge_crash = true}), IsOk());
  Run run = Deploy();
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_THAT(run.err, HasSubstr("panic: runtime error: invalid memory address"));
  EXPECT_THAT(run.err, HasSubstr("goroutine 1 [running]:"));
  EXPECT_THAT(run.out, Not(HasSubstr("\xE2\x9C\x85")));
  EXPECT_EQ(account_->DescribeStack(Ctx(), "aws-infra-forge")->status, "CREATE_FAILED");
  EXPECT_GT(account_->GetResourcesForJob(Ctx(), "job-1")->size(), 10u);
}

TEST_F(InfraForgeTest, HangKeepsWaitingAndSaysSoEveryMinute) {
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.deploy_hang = true}), IsOk());
  sleeper_.set_limit(12 * 60);  // one simulated hour of 5 s polls
  std::ostringstream out, err;
  options_.command = InfraForgeCommand::kDeploy;
  EXPECT_THROW(RunInfraForge(options_, clock_, sleeper_, out, err), ClockSleeper::Exhausted);
  EXPECT_THAT(out.str(), HasSubstr("still in progress: eksResourceResource"));
  EXPECT_EQ(account_->DescribeStack(Ctx(), "aws-infra-forge")->status, "CREATE_IN_PROGRESS");
}

TEST_F(InfraForgeTest, ThrottlingIsRetriedWithWarnings) {
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.throttle_calls = 3}), IsOk());
  Run run = Deploy();
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("[WARNING] DescribeStacks throttled (ThrottlingException: Rate "
                                 "exceeded), retrying in 0.5s (attempt 1/10)\n"));
  EXPECT_THAT(run.err, HasSubstr("(attempt 3/10)"));
  EXPECT_THAT(run.err, Not(HasSubstr("(attempt 4/10)")));
}

TEST_F(InfraForgeTest, DestroyFollowsToDeleteComplete) {
  ASSERT_EQ(Deploy().exit_code, 0);
  Run run = Destroy();
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_THAT(run.out, HasSubstr("aws-infra-forge: destroying... [1/1]\n"));
  EXPECT_THAT(run.out, HasSubstr("| DELETE_IN_PROGRESS   | AWS::EKS::Cluster"));
  EXPECT_THAT(run.out, HasSubstr("\n \xE2\x9C\x85  aws-infra-forge: destroyed\n"));
  EXPECT_EQ(LiveStacks(), 0u);
  EXPECT_THAT(account_->GetResourcesForJob(Ctx(), "job-1").value(), SizeIs(0));

  Run again = Destroy();
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.out, HasSubstr("aws-infra-forge: stack does not exist, nothing to destroy\n"));
}

TEST_F(InfraForgeTest, DestroyReportsDeleteFailed) {
  ASSERT_EQ(Deploy().exit_code, 0);
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.cleanup_failure = true}), IsOk());
  Run run = Destroy();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_THAT(run.out, AllOf(HasSubstr(" \xE2\x9D\x8C  aws-infra-forge: destroy failed "),
                             HasSubstr("has 1 backup(s) in progress")));
  std::vector<TaggedResource> left = account_->GetResourcesForJob(Ctx(), "job-1").value();
  ASSERT_THAT(left, SizeIs(2));
  EXPECT_EQ(left[1].type, "AWS::FSx::FileSystem");
}

TEST_F(InfraForgeTest, DestroyCancelsAHungDeploy) {
  ASSERT_THAT(account_->SetFaults("job-1", Faults{.deploy_hang = true}), IsOk());
  sleeper_.set_limit(100);
  options_.command = InfraForgeCommand::kDeploy;
  std::ostringstream out, err;
  EXPECT_THROW(RunInfraForge(options_, clock_, sleeper_, out, err), ClockSleeper::Exhausted);
  sleeper_.set_limit(1'000'000);
  Run run = Destroy();
  EXPECT_EQ(run.exit_code, 0) << run.out;
  EXPECT_EQ(LiveStacks(), 0u);
}

TEST_F(InfraForgeTest, MissingConfigFailsAsInfraForgeDoes) {
  std::filesystem::remove(dir_ / "config.json");
  Run run = Deploy();
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.out,
            "Error loading config: config file not found: config.json (tried json, toml, yaml, "
            "yml formats)\n");
  EXPECT_EQ(LiveStacks(), 0u);
}

TEST_F(InfraForgeTest, BadConfigAndEnvironment) {
  Write("config.json", "{not json");
  Run bad = Deploy();
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.out, HasSubstr("Error loading config: error parsing config"));

  Write("config.json", std::string(testing::kSampleConfig));
  options_.region = "";
  Run no_region = Deploy();
  EXPECT_EQ(no_region.exit_code, 1);
  EXPECT_THAT(no_region.out, HasSubstr("an AWS region is required"));

  options_.region = "us-west-2";
  options_.sandbox_dir.clear();
  Run no_sandbox = Deploy();
  EXPECT_EQ(no_sandbox.exit_code, 2);
  EXPECT_THAT(no_sandbox.err, HasSubstr("HPD_SANDBOX_DIR"));
}

TEST(SynthesizeInfraForgeTest, UnknownEnabledForgeIsReportedAndSkipped) {
  std::string config(testing::kSampleConfig);
  config.replace(config.find("\"fsx\", \"eks\""), 12, "\"fsx\", \"nope\", \"eks\"");
  StatusOr<Synthesis> synthesis = SynthesizeInfraForge(config, "");
  ASSERT_THAT(synthesis, IsOk());
  EXPECT_THAT(synthesis->messages,
              Contains("Error creating forge nope: forge instance nope not found"));
  std::set<std::string> types;
  for (const ResourceSpec& r : synthesis->stack.resources) types.insert(r.type);
  EXPECT_THAT(types, Contains("AWS::SageMaker::Cluster"));
}

TEST(SynthesizeInfraForgeTest, LaysOutTheStackFromTheConfig) {
  Synthesis synthesis = SynthesizeInfraForge(testing::kSampleConfig, "job-9").value();
  const StackTemplate& stack = synthesis.stack;
  EXPECT_EQ(stack.name, "aws-infra-forge");
  EXPECT_EQ(stack.tags.at("perf-eval:jobId"), "job-9");
  std::map<std::string, const ResourceSpec*> by_type;
  for (const ResourceSpec& r : stack.resources) by_type.emplace(r.type, &r);
  for (std::string type :
       {"AWS::EC2::VPC", "AWS::EC2::VPCCidrBlock", "AWS::EC2::NatGateway", "AWS::FSx::FileSystem",
        "AWS::EKS::Cluster", "AWS::EKS::Nodegroup", "Custom::AWSCDKOpenIdConnectProvider",
        "Custom::AWSCDK-EKS-HelmChart", "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::SageMaker::Cluster", "AWS::S3::Bucket", "AWS::IAM::Role"}) {
    EXPECT_TRUE(by_type.contains(type)) << type;
  }
  const ResourceSpec& hp = *by_type.at("AWS::SageMaker::Cluster");
  EXPECT_EQ(hp.logical_id, "hyperpod");
  EXPECT_EQ(hp.properties.at("ClusterName").as_string(), "hyperpod-eks");
  const auto& group = hp.properties.at("InstanceGroups").as_array()[0].as_object();
  EXPECT_EQ(group.at("InstanceType").as_string(), "ml.g5.8xlarge");  // instance overrides
  EXPECT_EQ(group.at("InstanceCount").as_int64(), 2);
  EXPECT_EQ(group.at("InstanceGroupName").as_string(), "gpu");  // from the defaults
  EXPECT_EQ(by_type.at("AWS::EKS::Cluster")->properties.at("Name").as_string(), "eks");
  std::set<std::string> outputs;
  for (const OutputSpec& o : stack.outputs) outputs.insert(o.key);
  EXPECT_THAT(outputs, AllOf(Contains("ClusterEndpoint"), Contains("ClusterArn"),
                             Contains("OidcProviderUrl"), Contains("HyperPodClusterArnhyperpod"),
                             Contains("HyperPodClusterNamehyperpod")));

  // enableHyperPodComponents false (the default) and no lustre: no NLB, no FSx.
  std::string plain(testing::kSampleConfig);
  plain.replace(plain.find(",\n                     \"enableHyperPodComponents\": true"),
                std::string(",\n                     \"enableHyperPodComponents\": true").size(),
                "");
  plain.replace(plain.find("\"fsx\", "), 7, "");
  Synthesis smaller = SynthesizeInfraForge(plain, "").value();
  for (const ResourceSpec& r : smaller.stack.resources) {
    EXPECT_NE(r.type, "AWS::ElasticLoadBalancingV2::LoadBalancer");
    EXPECT_NE(r.type, "AWS::FSx::FileSystem");
  }
  EXPECT_THAT(SynthesizeInfraForge(R"({"global": {"stackName": "9bad"}})", ""),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Stack name must match")));
}

}  // namespace
}  // namespace hpd::sandbox
