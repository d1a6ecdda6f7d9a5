#include "sandbox/account.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status_matchers.h"
#include "sandbox/faults.h"
#include "sandbox/infraforge.h"
#include "sandbox/test_config.h"
#include "support/scratch_dir.h"

namespace hpd::sandbox {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::SizeIs;

constexpr WallTime kStart = WallTime(std::chrono::seconds(1'700'000'000));

StackTemplate SampleStack(std::string_view job_id = "") {
  StatusOr<Synthesis> synthesis = SynthesizeInfraForge(testing::kSampleConfig, job_id);
  EXPECT_THAT(synthesis, IsOk());
  return synthesis->stack;
}

// A small stack: Vpc <- Fsx, Vpc <- Role <- Cluster.
StackTemplate SmallStack(std::string name, std::string job_id = "") {
  StackTemplate t;
  t.name = std::move(name);
  if (!job_id.empty()) t.tags[std::string(kJobTag)] = job_id;
  t.resources.push_back(ResourceSpec{"Vpc", "AWS::EC2::VPC", {}, {}, 10, 10});
  t.resources.push_back(ResourceSpec{"Fsx", "AWS::FSx::FileSystem", {}, {"Vpc"}, 60, 30});
  t.resources.push_back(ResourceSpec{"Role", "AWS::IAM::Role", {}, {"Vpc"}, 10, 5});
  boost::json::object cluster{
      {"ClusterName", "small"},
      {"InstanceGroups", boost::json::array{boost::json::object{{"InstanceGroupName", "gpu"},
                                                                {"InstanceType", "ml.g5.8xlarge"},
                                                                {"InstanceCount", 2}}}}};
  t.resources.push_back(
      ResourceSpec{"Cluster", "AWS::SageMaker::Cluster", cluster, {"Role"}, 100, 50});
  t.outputs.push_back(OutputSpec{"ClusterArn", "Cluster", "ClusterArn"});
  return t;
}

const StackResource* FindResource(const Stack& stack, std::string_view type) {
  for (const StackResource& r : stack.resources) {
    if (r.type == type) return &r;
  }
  return nullptr;
}

class AccountTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    StatusOr<std::unique_ptr<Account>> opened = Account::Open(dir_ / "sandbox", clock_, 1.0);
    ASSERT_THAT(opened, IsOk());
    account_ = std::move(*opened);
  }

  Stack Describe(std::string_view name, const CallContext& ctx) {
    StatusOr<Stack> stack = account_->DescribeStack(ctx, name);
    EXPECT_THAT(stack, IsOk());
    return stack.ok() ? *stack : Stack();
  }

  // Advances in steps of `step` until the stack leaves *_IN_PROGRESS (at most `limit`).
  Stack RunUntilSettled(std::string_view name_or_id, const CallContext& ctx,
                        Duration step = seconds(30), Duration limit = std::chrono::hours(3)) {
    for (Duration waited{0}; waited < limit; waited += step) {
      StatusOr<Stack> stack = account_->DescribeStack(ctx, name_or_id);
      if (!stack.ok()) return Stack{};
      if (!stack->status.ends_with("_IN_PROGRESS")) return *stack;
      clock_.Advance(step);
    }
    return Describe(name_or_id, ctx);
  }

  SimulatedClock clock_{kStart};
  std::unique_ptr<Account> account_;
  CallContext ctx_{"us-west-2", ""};
};

TEST(FaultsTest, ParsesSpecsAndPrintsThemBack) {
  StatusOr<Faults> faults =
      ParseFaults({"insufficient-capacity", "throttle=3", "cleanup-failure", "ssm-write-failure"});
  ASSERT_THAT(faults, IsOk());
  EXPECT_TRUE(faults->insufficient_capacity);
  EXPECT_TRUE(faults->cleanup_failure);
  EXPECT_TRUE(faults->parameter_store_write_failure);
  EXPECT_EQ(faults->throttle_calls, 3);
  EXPECT_THAT(FaultSpecs(*faults), ElementsAre("insufficient-capacity", "throttle=3",
                                               "ssm-write-failure", "cleanup-failure"));
  EXPECT_EQ(ParseFaults(FaultSpecs(*faults)).value(), *faults);
  EXPECT_EQ(ParseFaults({"throttle"})->throttle_calls, 2);
  EXPECT_THAT(FaultSpecs(Faults()), IsEmpty());
  EXPECT_THAT(FaultHelp(), HasSubstr("deploy-hang"));
}

TEST(FaultsTest, RejectsUnknownSpecsListingTheKnownOnes) {
  EXPECT_THAT(ParseFaults({"meteor-strike"}),
              StatusIs(StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("meteor-strike"), HasSubstr("quota-exhausted"),
                             HasSubstr("throttle=N"))));
  EXPECT_THAT(ParseFaults({"throttle=11"}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("between 1 and 10")));
  EXPECT_THAT(ParseFaults({"deploy-hang=2"}), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AccountTest, FullCreateProgressesOverSimulatedTime) {
  StatusOr<Stack> created = account_->CreateStack(ctx_, SampleStack());
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->status, "CREATE_IN_PROGRESS");
  EXPECT_THAT(created->stack_id,
              MatchesRegex("arn:aws:cloudformation:us-west-2:123456789012:stack/aws-infra-forge/"
                           "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_THAT(created->outputs, IsEmpty());
  EXPECT_THAT(account_->DescribeCluster(ctx_, "hyperpod-eks"), StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(account_->DescribeCluster(ctx_, "hyperpod-eks").status().error_name(),
            "ResourceNotFound");

  std::set<std::string> eks_statuses, cluster_statuses, lbc_readiness, nlb_states;
  Stack stack;
  Duration elapsed{0};
  for (; elapsed < minutes(40); elapsed += seconds(10)) {
    stack = Describe("aws-infra-forge", ctx_);
    if (StatusOr<EksCluster> eks = account_->DescribeEksCluster(ctx_, "eks"); eks.ok()) {
      eks_statuses.insert(eks->status);
      if (eks->status == "ACTIVE") {
        if (StatusOr<Deployment> d =
                account_->GetDeployment(ctx_, "eks", "kube-system", "aws-load-balancer-controller");
            d.ok()) {
          lbc_readiness.insert(std::to_string(d->ready_replicas) + "/" +
                               std::to_string(d->replicas));
        }
      }
    }
    if (StatusOr<HyperPodCluster> c = account_->DescribeCluster(ctx_, "hyperpod-eks"); c.ok()) {
      cluster_statuses.insert(c->status);
    }
    const std::vector<LoadBalancer> lbs = account_->DescribeLoadBalancers(ctx_).value();
    for (const LoadBalancer& lb : lbs) {
      nlb_states.insert(lb.state);
    }
    if (stack.status != "CREATE_IN_PROGRESS") break;
    clock_.Advance(seconds(10));
  }
  EXPECT_EQ(stack.status, "CREATE_COMPLETE");
  EXPECT_GE(elapsed, minutes(20));
  EXPECT_LE(elapsed, minutes(26));
  EXPECT_THAT(eks_statuses, Contains("CREATING"));
  EXPECT_THAT(eks_statuses, Contains("ACTIVE"));
  EXPECT_THAT(cluster_statuses, Contains("Creating"));
  EXPECT_THAT(cluster_statuses, Contains("InService"));
  EXPECT_THAT(lbc_readiness, Contains("0/2"));
  EXPECT_THAT(lbc_readiness, Contains("2/2"));
  EXPECT_THAT(nlb_states, Contains("provisioning"));
  EXPECT_THAT(nlb_states, Contains("active"));

  // Outputs, as InfraForge's CfnOutputs.
  EXPECT_THAT(stack.outputs.at("ClusterEndpoint"),
              MatchesRegex("https://[0-9A-F]{32}\\.gr7\\.us-west-2\\.eks\\.amazonaws\\.com"));
  EXPECT_EQ(stack.outputs.at("ClusterArn"), "arn:aws:eks:us-west-2:123456789012:cluster/eks");
  EXPECT_THAT(stack.outputs.at("OidcProviderUrl"),
              MatchesRegex("https://oidc\\.eks\\.us-west-2\\.amazonaws\\.com/id/[0-9A-F]{32}"));
  EXPECT_THAT(stack.outputs.at("HyperPodClusterArnhyperpod"),
              MatchesRegex("arn:aws:sagemaker:us-west-2:123456789012:cluster/[a-z0-9]{12}"));
  EXPECT_EQ(stack.outputs.at("HyperPodClusterNamehyperpod"), "hyperpod-eks");
  for (const StackResource& r : stack.resources) EXPECT_EQ(r.status, "CREATE_COMPLETE");
  EXPECT_THAT(FindResource(stack, "AWS::EC2::VPC")->physical_id, MatchesRegex("vpc-[0-9a-f]{17}"));
  EXPECT_THAT(FindResource(stack, "AWS::FSx::FileSystem")->physical_id,
              MatchesRegex("fs-[0-9a-f]{17}"));

  // Derived views.
  HyperPodCluster cluster = account_->DescribeCluster(ctx_, "hyperpod-eks").value();
  EXPECT_EQ(cluster.status, "InService");
  EXPECT_EQ(cluster.arn, stack.outputs.at("HyperPodClusterArnhyperpod"));
  EXPECT_EQ(cluster.eks_cluster_arn, stack.outputs.at("ClusterArn"));
  ASSERT_THAT(cluster.instance_groups, SizeIs(1));
  EXPECT_EQ(cluster.instance_groups[0].name, "gpu");
  EXPECT_EQ(cluster.instance_groups[0].instance_type, "ml.g5.8xlarge");
  EXPECT_EQ(cluster.instance_groups[0].current_count, 2);
  EXPECT_EQ(cluster.instance_groups[0].target_count, 2);
  EXPECT_EQ(cluster.instance_groups[0].status, "InService");
  EXPECT_EQ(account_->DescribeCluster(ctx_, cluster.arn).value().name, "hyperpod-eks");
  std::vector<ClusterNode> nodes = account_->ListClusterNodes(ctx_, "hyperpod-eks").value();
  ASSERT_THAT(nodes, SizeIs(2));
  for (const ClusterNode& node : nodes) {
    EXPECT_THAT(node.instance_id, MatchesRegex("i-[0-9a-f]{17}"));
    EXPECT_EQ(node.status, "Running");
    EXPECT_EQ(node.instance_group_name, "gpu");
  }
  EXPECT_NE(nodes[0].instance_id, nodes[1].instance_id);
  EXPECT_THAT(account_->ListClusters(ctx_).value(),
              ElementsAre(Field(&ClusterSummary::name, "hyperpod-eks")));

  EksCluster eks = account_->DescribeEksCluster(ctx_, "eks").value();
  EXPECT_EQ(eks.status, "ACTIVE");
  EXPECT_EQ(eks.version, "1.33");
  EXPECT_EQ(eks.endpoint, stack.outputs.at("ClusterEndpoint"));
  const std::string issuer_id = eks.oidc_issuer.substr(eks.oidc_issuer.rfind('/') + 1);
  EXPECT_THAT(account_->ListOpenIDConnectProviders(ctx_).value(),
              ElementsAre("arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2."
                          "amazonaws.com/id/" +
                          issuer_id));
  Deployment lbc =
      account_->GetDeployment(ctx_, "eks", "kube-system", "aws-load-balancer-controller").value();
  EXPECT_EQ(lbc.ready_replicas, 2);
  EXPECT_THAT(lbc.service_account_role_arn,
              MatchesRegex("arn:aws:iam::123456789012:role/aws-infra-forge-.*"));
  EXPECT_EQ(account_->GetDeployment(ctx_, "eks", "kube-system", "nope").status().error_name(),
            "NotFound");
  EXPECT_EQ(account_->DescribeEksCluster(ctx_, "nope").status().error_name(),
            "ResourceNotFoundException");
  std::vector<LoadBalancer> lbs = account_->DescribeLoadBalancers(ctx_).value();
  ASSERT_THAT(lbs, SizeIs(1));
  EXPECT_EQ(lbs[0].type, "network");
  EXPECT_EQ(lbs[0].scheme, "internal");
  EXPECT_EQ(lbs[0].tags.at("elbv2.k8s.aws/cluster"), "eks");
  EXPECT_THAT(lbs[0].dns_name,
              MatchesRegex("k8s-.*-[0-9a-f]{16}\\.elb\\.us-west-2\\.amazonaws\\.com"));

  // Another region sees none of it.
  CallContext east{"us-east-1", ""};
  EXPECT_THAT(account_->ListStacks(east).value(), IsEmpty());
  EXPECT_THAT(account_->ListClusters(east).value(), IsEmpty());
}

TEST_F(AccountTest, EventsCarryComputedTimesWhateverHowOftenAnyoneLooks) {
  // One account looked at every 7 s, another only once after two hours: same events, same times.
  ASSERT_THAT(account_->CreateStack(ctx_, SampleStack()), IsOk());
  SimulatedClock other_clock(kStart);
  auto other = Account::Open(dir_ / "other", other_clock, 1.0).value();
  ASSERT_THAT(other->CreateStack(ctx_, SampleStack()), IsOk());
  for (int i = 0; i < 2 * 3600 / 7; ++i) {
    clock_.Advance(seconds(7));
    ASSERT_THAT(account_->ListStacks(ctx_), IsOk());
  }
  other_clock.Advance(clock_.WallNow() - other_clock.WallNow());
  auto a = account_->DescribeStackEvents(ctx_, "aws-infra-forge", 0).value();
  auto b = other->DescribeStackEvents(ctx_, "aws-infra-forge", 0).value();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].time, b[i].time) << i;
    EXPECT_EQ(a[i].logical_id, b[i].logical_id) << i;
    EXPECT_EQ(a[i].status, b[i].status) << i;
    EXPECT_EQ(a[i].physical_id, b[i].physical_id) << i;
    if (i > 0) {
      EXPECT_LE(a[i - 1].time, a[i].time);
      EXPECT_LT(a[i - 1].sequence, a[i].sequence);
    }
  }
  EXPECT_EQ(a.front().status, "CREATE_IN_PROGRESS");
  EXPECT_EQ(a.front().type, "AWS::CloudFormation::Stack");
  EXPECT_EQ(a.back().status, "CREATE_COMPLETE");
  EXPECT_EQ(a.back().logical_id, "aws-infra-forge");
  EXPECT_LT(a.back().time, kStart + minutes(26));  // not "now" (two hours in)

  // The cursor returns only newer events.
  EXPECT_THAT(account_->DescribeStackEvents(ctx_, "aws-infra-forge", a.back().sequence).value(),
              IsEmpty());
  EXPECT_THAT(
      account_->DescribeStackEvents(ctx_, "aws-infra-forge", a[a.size() - 3].sequence).value(),
      SizeIs(2));
}

TEST_F(AccountTest, TimeScaleIsStoredForLaterOpeners) {
  auto scaled = Account::Open(dir_ / "scaled", clock_, 0.01).value();
  EXPECT_EQ(scaled->time_scale(), 0.01);
  auto child = Account::Open(dir_ / "scaled", clock_, std::nullopt).value();
  EXPECT_EQ(child->time_scale(), 0.01);
  EXPECT_EQ(child->account_id(), "123456789012");
  // At 0.01, the 25-minute deploy takes 15 real seconds.
  ASSERT_THAT(child->CreateStack(ctx_, SampleStack()), IsOk());
  clock_.Advance(seconds(16));
  EXPECT_EQ(scaled->DescribeStack(ctx_, "aws-infra-forge")->status, "CREATE_COMPLETE");
  EXPECT_THAT(Account::Open(dir_ / "bad", clock_, -1.0), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(AccountTest, TwoConnectionsSeeEachOthersChanges) {
  auto second = Account::Open(dir_ / "sandbox", clock_, std::nullopt).value();
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("small")), IsOk());
  EXPECT_EQ(second->DescribeStack(ctx_, "small")->status, "CREATE_IN_PROGRESS");
  clock_.Advance(minutes(5));
  EXPECT_EQ(second->DescribeStack(ctx_, "small")->status, "CREATE_COMPLETE");
  ASSERT_THAT(second->DeleteStack(ctx_, "small"), IsOk());
  EXPECT_EQ(account_->DescribeStack(ctx_, "small")->status, "DELETE_IN_PROGRESS");
  ASSERT_THAT(second->SetFaults("job-1", Faults{.deploy_hang = true}), IsOk());
  EXPECT_TRUE(account_->FaultsFor("job-1")->deploy_hang);
  EXPECT_EQ(account_->FaultsFor("job-2").value(), Faults());
}

TEST_F(AccountTest, CreateStackValidatesLikeCloudFormation) {
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("small")), IsOk());
  StatusOr<Stack> again = account_->CreateStack(ctx_, SmallStack("small"));
  EXPECT_THAT(again, StatusIs(StatusCode::kAlreadyExists, HasSubstr("already exists")));
  EXPECT_EQ(again.status().error_name(), "AlreadyExistsException");
  // Same name in another region is another stack.
  EXPECT_THAT(account_->CreateStack(CallContext{"eu-west-1", ""}, SmallStack("small")), IsOk());

  StatusOr<Stack> bad_name = account_->CreateStack(ctx_, SmallStack("1-bad_name"));
  EXPECT_THAT(bad_name, StatusIs(StatusCode::kInvalidArgument, HasSubstr("stackName")));
  EXPECT_EQ(bad_name.status().error_name(), "ValidationError");

  StackTemplate cycle = SmallStack("cycle");
  cycle.resources[0].depends_on = {"Cluster"};
  EXPECT_THAT(account_->CreateStack(ctx_, cycle),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Circular dependency")));
  StackTemplate unknown = SmallStack("unknown");
  unknown.resources[1].depends_on = {"Nope"};
  EXPECT_THAT(account_->CreateStack(ctx_, unknown),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Unresolved resource")));
  EXPECT_THAT(account_->CreateStack(CallContext{}, SmallStack("x")),
              StatusIs(StatusCode::kInvalidArgument));

  StatusOr<Stack> missing = account_->DescribeStack(ctx_, "nope");
  EXPECT_THAT(missing, StatusIs(StatusCode::kInvalidArgument, "Stack with id nope does not exist"));
  EXPECT_EQ(missing.status().error_name(), "ValidationError");
  EXPECT_THAT(account_->DeleteStack(ctx_, "nope"), IsOk());  // idempotent
}

TEST_F(AccountTest, InsufficientCapacityRollsBack) {
  ASSERT_THAT(account_->SetFaults("job-ic", Faults{.insufficient_capacity = true}), IsOk());
  CallContext ctx{"us-west-2", "job-ic"};
  ASSERT_THAT(account_->CreateStack(ctx, SampleStack("job-ic")), IsOk());
  std::set<std::string> seen;
  Stack stack;
  for (int i = 0; i < 360; ++i) {
    stack = Describe("aws-infra-forge", ctx);
    seen.insert(stack.status);
    if (stack.status == "ROLLBACK_COMPLETE") break;
    clock_.Advance(seconds(10));
  }
  EXPECT_THAT(seen, Contains("ROLLBACK_IN_PROGRESS"));
  ASSERT_EQ(stack.status, "ROLLBACK_COMPLETE");
  auto events = account_->DescribeStackEvents(ctx, "aws-infra-forge", 0).value();
  auto failed = std::find_if(events.begin(), events.end(), [](const StackEvent& e) {
    return e.status == "CREATE_FAILED" && e.type == "AWS::SageMaker::Cluster";
  });
  ASSERT_NE(failed, events.end());
  EXPECT_THAT(failed->reason, HasSubstr("Insufficient capacity for ml.g5.8xlarge in us-west-2a."));
  for (const StackResource& r : stack.resources)
    EXPECT_EQ(r.status, "DELETE_COMPLETE") << r.logical_id;
  // Reverse order: the VPC goes last.
  auto vpc_deleted = std::find_if(events.begin(), events.end(), [](const StackEvent& e) {
    return e.type == "AWS::EC2::VPC" && e.status == "DELETE_COMPLETE";
  });
  auto eks_deleted = std::find_if(events.begin(), events.end(), [](const StackEvent& e) {
    return e.type == "AWS::EKS::Cluster" && e.status == "DELETE_COMPLETE";
  });
  ASSERT_NE(vpc_deleted, events.end());
  ASSERT_NE(eks_deleted, events.end());
  EXPECT_LT(eks_deleted->time, vpc_deleted->time);
  EXPECT_THAT(account_->ListClusters(ctx).value(), IsEmpty());
  // Only the (ROLLBACK_COMPLETE) stack itself is left to clean up.
  EXPECT_THAT(account_->GetResourcesForJob(ctx, "job-ic").value(),
              ElementsAre(Field(&TaggedResource::type, "AWS::CloudFormation::Stack")));
}

TEST_F(AccountTest, InfraForgeCrashLeavesAPartialStack) {
  ASSERT_THAT(account_->SetFaults("job-crash", Faults{.infraforge_crash = true}), IsOk());
  CallContext ctx{"us-west-2", "job-crash"};
  ASSERT_THAT(account_->CreateStack(ctx, SampleStack("job-crash")), IsOk());
  Stack stack = RunUntilSettled("aws-infra-forge", ctx);
  ASSERT_EQ(stack.status, "CREATE_FAILED");
  EXPECT_EQ(stack.status_reason, "Resource creation cancelled");
  const size_t total = SampleStack().resources.size();
  size_t complete = 0, not_started = 0;
  for (const StackResource& r : stack.resources) {
    complete += r.status == "CREATE_COMPLETE";
    EXPECT_NE(r.status, "CREATE_IN_PROGRESS");
    if (r.status == "CREATE_FAILED") {
      EXPECT_EQ(r.status_reason, "Resource creation cancelled");
    }
  }
  not_started = total - stack.resources.size();
  EXPECT_EQ(complete, (total + 1) / 2);
  EXPECT_GT(not_started, 0u);
  // Nothing moves any more.
  clock_.Advance(std::chrono::hours(2));
  Stack later = Describe("aws-infra-forge", ctx);
  EXPECT_EQ(later.status, "CREATE_FAILED");
  EXPECT_EQ(later.resources.size(), stack.resources.size());
  // The partial resources are visible to the cleanup's tagging query.
  EXPECT_THAT(account_->GetResourcesForJob(ctx, "job-crash").value(), SizeIs(complete + 1));
}

TEST_F(AccountTest, DeployHangNeverFinishesTheEksClusterUntilDeleted) {
  ASSERT_THAT(account_->SetFaults("job-hang", Faults{.deploy_hang = true}), IsOk());
  CallContext ctx{"us-west-2", "job-hang"};
  ASSERT_THAT(account_->CreateStack(ctx, SampleStack("job-hang")), IsOk());
  clock_.Advance(std::chrono::hours(5));
  Stack stack = Describe("aws-infra-forge", ctx);
  EXPECT_EQ(stack.status, "CREATE_IN_PROGRESS");
  EXPECT_EQ(FindResource(stack, "AWS::EKS::Cluster")->status, "CREATE_IN_PROGRESS");
  EXPECT_EQ(account_->DescribeEksCluster(ctx, "eks")->status, "CREATING");
  EXPECT_EQ(FindResource(stack, "AWS::FSx::FileSystem")->status, "CREATE_COMPLETE");
  ASSERT_THAT(account_->DeleteStack(ctx, "aws-infra-forge"), IsOk());
  EXPECT_EQ(FindResource(Describe("aws-infra-forge", ctx), "AWS::EKS::Cluster")->status,
            "DELETE_COMPLETE");  // cancelled, never existed: nothing to wait for
  const std::string id = stack.stack_id;
  EXPECT_EQ(RunUntilSettled(id, ctx).status, "DELETE_COMPLETE");
}

TEST_F(AccountTest, ClusterUnhealthyDegradesTheFirstInstanceGroup) {
  ASSERT_THAT(account_->SetFaults("job-sick", Faults{.cluster_unhealthy = true}), IsOk());
  CallContext ctx{"us-west-2", "job-sick"};
  ASSERT_THAT(account_->CreateStack(ctx, SampleStack("job-sick")), IsOk());
  ASSERT_EQ(RunUntilSettled("aws-infra-forge", ctx).status, "CREATE_COMPLETE");
  HyperPodCluster cluster = account_->DescribeCluster(ctx, "hyperpod-eks").value();
  EXPECT_EQ(cluster.status, "InService");
  EXPECT_EQ(cluster.instance_groups[0].status, "Degraded");
  EXPECT_LT(cluster.instance_groups[0].current_count, cluster.instance_groups[0].target_count);
  std::vector<ClusterNode> nodes = account_->ListClusterNodes(ctx, "hyperpod-eks").value();
  ASSERT_THAT(nodes, SizeIs(1));
  EXPECT_EQ(nodes[0].status, "Failure");
  EXPECT_THAT(nodes[0].message, HasSubstr("DeepHealthCheck failed"));
}

TEST_F(AccountTest, ThrottlingIsCountedInTheDatabase) {
  ASSERT_THAT(account_->SetFaults("job-t", Faults{.throttle_calls = 2}), IsOk());
  CallContext ctx{"us-west-2", "job-t"};
  StatusOr<std::vector<StackSummary>> first = account_->ListStacks(ctx);
  EXPECT_THAT(first, StatusIs(StatusCode::kUnavailable, "Rate exceeded"));
  EXPECT_EQ(first.status().error_name(), "ThrottlingException");
  // A restart (a new connection, as another process would have) keeps the count.
  account_.reset();
  account_ = Account::Open(dir_ / "sandbox", clock_, std::nullopt).value();
  EXPECT_EQ(account_->DescribeStack(ctx, "x").status().error_name(), "ThrottlingException");
  EXPECT_EQ(account_->DescribeStack(ctx, "x").status().error_name(), "ValidationError");
  EXPECT_THAT(account_->ListStacks(ctx), IsOk());
  // Other jobs are never throttled.
  EXPECT_THAT(account_->ListStacks(CallContext{"us-west-2", "job-other"}), IsOk());
}

TEST_F(AccountTest, OutsideOperationsAreThrottledPerOperation) {
  CallContext ctx{"us-west-2", "job-ecs"};
  EXPECT_THAT(account_->ThrottleOperation(ctx, "ecs:RunTask"), IsOk());  // no fault set
  ASSERT_THAT(account_->SetFaults("job-ecs", Faults{.throttle_calls = 2}), IsOk());
  EXPECT_EQ(account_->ThrottleOperation(ctx, "ecs:RunTask").error_name(), "ThrottlingException");
  // Another operation and the account's own API keep their own counts.
  EXPECT_EQ(account_->ThrottleOperation(ctx, "ecs:StopTask").error_name(), "ThrottlingException");
  EXPECT_EQ(account_->ListStacks(ctx).status().error_name(), "ThrottlingException");
  EXPECT_EQ(account_->ThrottleOperation(ctx, "ecs:RunTask").error_name(), "ThrottlingException");
  EXPECT_THAT(account_->ThrottleOperation(ctx, "ecs:RunTask"), IsOk());
  EXPECT_THAT(account_->ThrottleOperation(CallContext{"us-west-2", "other"}, "ecs:RunTask"),
              IsOk());
  // SetFaults starts the counts again.
  ASSERT_THAT(account_->SetFaults("job-ecs", Faults{.throttle_calls = 1}), IsOk());
  EXPECT_EQ(account_->ThrottleOperation(ctx, "ecs:RunTask").error_name(), "ThrottlingException");
  EXPECT_THAT(account_->ThrottleOperation(ctx, "ecs:RunTask"), IsOk());
}

TEST_F(AccountTest, QuotasAndUsage) {
  std::vector<ServiceQuota> quotas = account_->ListServiceQuotas(ctx_, "sagemaker").value();
  std::map<std::string, ServiceQuota> by_name;
  for (const ServiceQuota& q : quotas) by_name[q.quota_name] = q;
  EXPECT_EQ(by_name.at(std::string(kTotalInstancesQuotaName)).value, 40);
  EXPECT_EQ(by_name.at(std::string(kTotalInstancesQuotaName)).quota_code, "L-3308CCC7");
  EXPECT_EQ(by_name.at(std::string(kPerClusterQuotaName)).value, 100);
  EXPECT_EQ(by_name.at(std::string(kEbsQuotaName)).value, 2000);
  EXPECT_EQ(by_name.at("ml.g5.8xlarge for cluster usage").value, 16);
  EXPECT_EQ(by_name.at("ml.g6e.12xlarge for cluster usage").quota_code, "L-A15DF696");
  EXPECT_EQ(by_name.at("ml.p5.48xlarge for cluster usage").value, 4);
  EXPECT_EQ(account_->ListServiceQuotas(ctx_, "nope").status().error_name(),
            "NoSuchResourceException");

  ASSERT_THAT(account_->SetServiceQuota("us-west-2", "sagemaker",
                                        InstanceTypeQuotaName("ml.g5.8xlarge"), 1),
              IsOk());
  quotas = account_->ListServiceQuotas(ctx_, "sagemaker").value();
  EXPECT_THAT(quotas,
              Contains(AllOf(Field(&ServiceQuota::quota_name, "ml.g5.8xlarge for cluster usage"),
                             Field(&ServiceQuota::value, 1.0))));
  EXPECT_THAT(account_->SetServiceQuota("us-west-2", "sagemaker", "x", -1),
              StatusIs(StatusCode::kInvalidArgument));

  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("small")), IsOk());
  EXPECT_EQ(account_->GetHyperPodUsage(ctx_)->total, 0);  // still creating
  clock_.Advance(minutes(5));
  HyperPodUsage usage = account_->GetHyperPodUsage(ctx_).value();
  EXPECT_EQ(usage.total, 2);
  EXPECT_EQ(usage.by_instance_type.at("ml.g5.8xlarge"), 2);

  // quota-exhausted: no headroom, per job.
  ASSERT_THAT(account_->SetFaults("job-q", Faults{.quota_exhausted = true}), IsOk());
  const std::vector<ServiceQuota> exhausted =
      account_->ListServiceQuotas(CallContext{"us-west-2", "job-q"}, "sagemaker").value();
  for (const ServiceQuota& q : exhausted) {
    if (q.quota_name == kTotalInstancesQuotaName) {
      EXPECT_EQ(q.value, 2);
    } else if (q.quota_name.ends_with("for cluster usage")) {
      EXPECT_EQ(q.value, 0) << q.quota_name;
    } else if (q.quota_name == kEbsQuotaName) {
      EXPECT_EQ(q.value, 2000);
    }
  }
}

TEST_F(AccountTest, DeleteFromEveryStatus) {
  // CREATE_IN_PROGRESS: creation is cancelled, started resources deleted.
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("creating")), IsOk());
  clock_.Advance(seconds(30));
  ASSERT_THAT(account_->DeleteStack(ctx_, "creating"), IsOk());
  EXPECT_EQ(Describe("creating", ctx_).status, "DELETE_IN_PROGRESS");
  ASSERT_THAT(account_->DeleteStack(ctx_, "creating"), IsOk());  // again: no-op

  // CREATE_COMPLETE.
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("complete")), IsOk());
  clock_.Advance(minutes(3));
  ASSERT_EQ(Describe("complete", ctx_).status, "CREATE_COMPLETE");
  const std::string complete_id = Describe("complete", ctx_).stack_id;
  ASSERT_THAT(account_->DeleteStack(ctx_, "complete"), IsOk());

  // CREATE_FAILED (crash) and ROLLBACK_COMPLETE (insufficient capacity).
  ASSERT_THAT(account_->SetFaults("crash", Faults{.infraforge_crash = true}), IsOk());
  ASSERT_THAT(account_->SetFaults("ic", Faults{.insufficient_capacity = true}), IsOk());
  ASSERT_THAT(account_->CreateStack(CallContext{"us-west-2", "crash"}, SmallStack("failed")),
              IsOk());
  ASSERT_THAT(account_->CreateStack(CallContext{"us-west-2", "ic"}, SmallStack("rolledback")),
              IsOk());
  clock_.Advance(minutes(5));
  ASSERT_EQ(Describe("failed", ctx_).status, "CREATE_FAILED");
  ASSERT_EQ(Describe("rolledback", ctx_).status, "ROLLBACK_COMPLETE");
  ASSERT_THAT(account_->DeleteStack(ctx_, "failed"), IsOk());
  ASSERT_THAT(account_->DeleteStack(ctx_, "rolledback"), IsOk());

  clock_.Advance(minutes(5));
  for (std::string name : {"creating", "complete", "failed", "rolledback"}) {
    StatusOr<Stack> gone = account_->DescribeStack(ctx_, name);
    EXPECT_THAT(gone, StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not exist"))) << name;
    // The events survive, so a destroy can be followed to the end.
    auto events = account_->DescribeStackEvents(ctx_, name, 0).value();
    EXPECT_EQ(events.back().status, "DELETE_COMPLETE") << name;
    EXPECT_EQ(events.back().type, "AWS::CloudFormation::Stack") << name;
  }
  // By id, a deleted stack is still described.
  EXPECT_EQ(account_->DescribeStack(ctx_, complete_id)->status, "DELETE_COMPLETE");
  EXPECT_THAT(account_->ListStacks(ctx_).value(), IsEmpty());
  // The name can be used again.
  EXPECT_THAT(account_->CreateStack(ctx_, SmallStack("complete")), IsOk());
}

TEST_F(AccountTest, CleanupFailureLeavesExactlyTheFileSystem) {
  ASSERT_THAT(account_->SetFaults("job-c", Faults{.cleanup_failure = true}), IsOk());
  CallContext ctx{"us-west-2", "job-c"};
  ASSERT_THAT(account_->CreateStack(ctx, SmallStack("small", "job-c")), IsOk());
  clock_.Advance(minutes(3));
  EXPECT_THAT(account_->GetResourcesForJob(ctx, "job-c").value(), SizeIs(5));
  ASSERT_THAT(account_->DeleteStack(ctx, "small"), IsOk());
  Stack stack = RunUntilSettled("small", ctx);
  ASSERT_EQ(stack.status, "DELETE_FAILED");
  const StackResource* fsx = FindResource(stack, "AWS::FSx::FileSystem");
  EXPECT_EQ(fsx->status, "DELETE_FAILED");
  EXPECT_THAT(fsx->status_reason,
              HasSubstr("File system '" + fsx->physical_id + "' has 1 backup(s) in progress"));
  std::vector<TaggedResource> left = account_->GetResourcesForJob(ctx, "job-c").value();
  ASSERT_THAT(left, SizeIs(2));
  EXPECT_EQ(left[0].type, "AWS::CloudFormation::Stack");
  EXPECT_EQ(left[0].status, "DELETE_FAILED");
  EXPECT_EQ(left[1].arn_or_physical_id, fsx->physical_id);
  EXPECT_EQ(left[1].status, "DELETE_FAILED");

  // Retrying with the fault still set fails again; once it is lifted, the retry succeeds.
  ASSERT_THAT(account_->DeleteStack(ctx, "small"), IsOk());
  EXPECT_EQ(RunUntilSettled("small", ctx).status, "DELETE_FAILED");
  ASSERT_THAT(account_->SetFaults("job-c", Faults()), IsOk());
  ASSERT_THAT(account_->DeleteStack(ctx, "small"), IsOk());
  EXPECT_EQ(account_->DescribeStack(ctx, stack.stack_id)->status, "DELETE_IN_PROGRESS");
  clock_.Advance(minutes(2));
  EXPECT_EQ(account_->DescribeStack(ctx, stack.stack_id)->status, "DELETE_COMPLETE");
  EXPECT_THAT(account_->GetResourcesForJob(ctx, "job-c").value(), IsEmpty());
}

TEST_F(AccountTest, CleanupFailureWithoutFileSystemKeepsTheLastCreatedResource) {
  ASSERT_THAT(account_->SetFaults("job-c", Faults{.cleanup_failure = true}), IsOk());
  CallContext ctx{"us-west-2", "job-c"};
  StackTemplate t = SmallStack("nofsx", "job-c");
  t.resources.erase(t.resources.begin() + 1);
  ASSERT_THAT(account_->CreateStack(ctx, t), IsOk());
  clock_.Advance(minutes(3));
  ASSERT_THAT(account_->DeleteStack(ctx, "nofsx"), IsOk());
  ASSERT_EQ(RunUntilSettled("nofsx", ctx).status, "DELETE_FAILED");
  std::vector<TaggedResource> left = account_->GetResourcesForJob(ctx, "job-c").value();
  ASSERT_THAT(left, SizeIs(2));
  EXPECT_EQ(left[1].logical_id, "Cluster");
}

TEST_F(AccountTest, GetResourcesForJobCoversRegionsAndOnlyThatJob) {
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("a", "job-a")), IsOk());
  ASSERT_THAT(account_->CreateStack(CallContext{"eu-west-1", ""}, SmallStack("a", "job-a")),
              IsOk());
  ASSERT_THAT(account_->CreateStack(ctx_, SmallStack("b", "job-b")), IsOk());
  clock_.Advance(seconds(15));  // Vpc done, Fsx and Role in progress
  std::vector<TaggedResource> a = account_->GetResourcesForJob(ctx_, "job-a").value();
  EXPECT_THAT(a, SizeIs(8));  // 2 x (stack, Vpc, Fsx, Role)
  std::set<std::string> regions;
  for (const TaggedResource& r : a) {
    regions.insert(r.region);
    EXPECT_EQ(r.stack_name, "a");
  }
  EXPECT_THAT(regions, ElementsAre("eu-west-1", "us-west-2"));
  ASSERT_THAT(account_->DeleteStack(ctx_, "a"), IsOk());
  clock_.Advance(minutes(5));
  EXPECT_THAT(account_->GetResourcesForJob(ctx_, "job-a").value(), SizeIs(5));  // eu-west-1's
}

}  // namespace
}  // namespace hpd::sandbox
