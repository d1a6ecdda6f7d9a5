#include "sandbox/infraforge.h"

#include <time.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "common/digest.h"

namespace hpd::sandbox {
namespace {

namespace json = boost::json;

// --- Config
// ----------------------------------------------------------------------------------------

// An instance's fields over its forge's defaults. As each forge's MergeConfigs does, zero values,
// "" and false do not override -- except for the *bool fields, which override whenever present.
json::object Merge(const json::object& defaults, const json::object& instance) {
  static const std::set<std::string_view> kPointerBools = {"useDefaultLifecycle", "createLustre"};
  json::object merged = defaults;
  for (const auto& [key, value] : instance) {
    const bool zero = value.is_null() || (value.is_string() && value.as_string().empty()) ||
                      (value.is_bool() && !value.as_bool()) ||
                      (value.is_int64() && value.as_int64() == 0) ||
                      (value.is_double() && value.as_double() == 0);
    if (!zero || (value.is_bool() && kPointerBools.contains(key))) merged[key] = value;
  }
  return merged;
}

std::string Str(const json::object& o, std::string_view key, std::string_view fallback = "") {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string() || v->as_string().empty()) return std::string(fallback);
  return std::string(v->as_string());
}

int64_t Int(const json::object& o, std::string_view key, int64_t fallback = 0) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return fallback;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

struct ForgeInstance {
  std::string type;  // the forges{} key: vpc, lustre, eks, hyperpod, ...
  std::string id;
  json::object config;  // merged
};

// "EKS:eks" / "LUSTRE:fsx,EKS:eks" -> {"eks"} ids.
std::vector<std::string> DependsOn(const json::object& config) {
  std::vector<std::string> ids;
  std::stringstream list(Str(config, "dependsOn"));
  std::string item;
  while (std::getline(list, item, ',')) {
    const size_t colon = item.find(':');
    ids.push_back(colon == std::string::npos ? item : item.substr(colon + 1));
  }
  return ids;
}

// CDK-style logical ids: the alphanumerics of the construct path plus an 8-hex hash of it.
std::string LogicalId(std::string_view path) {
  std::string id;
  for (char c : path) {
    if (std::isalnum(static_cast<unsigned char>(c))) id += c;
  }
  std::string hash = Sha256Hex(path).substr(0, 8);
  for (char& c : hash) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return id.substr(0, 200) + hash;
}

json::value Ref(std::string_view logical) { return json::object{{"Ref", logical}}; }
json::value GetAtt(std::string_view logical, std::string_view attribute) {
  return json::object{{"Fn::GetAtt", json::array{json::string(logical), json::string(attribute)}}};
}

// Builds the stack the way InfraForge's forges lay it out.
class StackBuilder {
 public:
  explicit StackBuilder(StackTemplate* stack) : stack_(stack) {}

  std::string Add(std::string_view path, std::string type, json::object properties,
                  std::vector<std::string> depends_on, double create_seconds,
                  double delete_seconds) {
    std::string logical =
        path.find('/') == std::string_view::npos ? std::string(path) : LogicalId(path);
    logical.erase(
        std::remove_if(logical.begin(), logical.end(),
                       [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }),
        logical.end());
    stack_->resources.push_back(ResourceSpec{logical, std::move(type), std::move(properties),
                                             std::move(depends_on), create_seconds,
                                             delete_seconds});
    return logical;
  }

  void Output(std::string key, std::string logical, std::string attribute) {
    key.erase(std::remove_if(key.begin(), key.end(),
                             [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }),
              key.end());
    stack_->outputs.push_back(OutputSpec{std::move(key), std::move(logical), std::move(attribute)});
  }

 private:
  StackTemplate* stack_;
};

struct Network {
  std::string vpc;
  std::vector<std::string> public_subnets, private_subnets, isolated_subnets;
  std::string security_group;
  std::string private_route;  // the NAT route private subnets need for egress
};

Network BuildVpc(StackBuilder& b, const json::object& config, bool dual_stack) {
  Network n;
  const std::string cidr = Str(config, "cidrBlock", "10.0.0.0/16");
  n.vpc = b.Add(
      "vpc/Resource", "AWS::EC2::VPC",
      json::object{{"CidrBlock", cidr}, {"EnableDnsHostnames", true}, {"EnableDnsSupport", true}},
      {}, 15, 10);
  std::vector<std::string> vpc_ready = {n.vpc};
  if (dual_stack) {
    vpc_ready.push_back(b.Add(
        "vpc/ipv6cidr", "AWS::EC2::VPCCidrBlock",
        json::object{{"VpcId", Ref(n.vpc)}, {"AmazonProvidedIpv6CidrBlock", true}}, {}, 10, 5));
  }
  const std::string igw = b.Add("vpc/IGW", "AWS::EC2::InternetGateway", {}, {}, 10, 5);
  const std::string attach =
      b.Add("vpc/VPCGW", "AWS::EC2::VPCGatewayAttachment",
            json::object{{"VpcId", Ref(n.vpc)}, {"InternetGatewayId", Ref(igw)}}, {}, 15, 10);
  const char* kinds[] = {"Public", "Private", "Isolated"};
  for (int k = 0; k < 3; ++k) {
    for (int az = 1; az <= 2; ++az) {
      const std::string path = std::string("vpc/") + kinds[k] + "Subnet" + std::to_string(az);
      std::string subnet = b.Add(path + "/Subnet", "AWS::EC2::Subnet",
                                 json::object{{"VpcId", Ref(n.vpc)}, {"AvailabilityZoneIndex", az}},
                                 vpc_ready, 5, 5);
      (k == 0   ? n.public_subnets
       : k == 1 ? n.private_subnets
                : n.isolated_subnets)
          .push_back(subnet);
    }
  }
  const std::string public_rt = b.Add("vpc/PublicRouteTable", "AWS::EC2::RouteTable",
                                      json::object{{"VpcId", Ref(n.vpc)}}, {}, 5, 5);
  b.Add("vpc/PublicDefaultRoute", "AWS::EC2::Route",
        json::object{{"RouteTableId", Ref(public_rt)},
                     {"GatewayId", Ref(igw)},
                     {"DestinationCidrBlock", "0.0.0.0/0"}},
        {attach}, 2, 2);
  const std::string eip =
      b.Add("vpc/PublicSubnet1/EIP", "AWS::EC2::EIP", json::object{{"Domain", "vpc"}}, {}, 5, 5);
  const std::string nat = b.Add("vpc/PublicSubnet1/NATGateway", "AWS::EC2::NatGateway",
                                json::object{{"SubnetId", Ref(n.public_subnets[0])},
                                             {"AllocationId", GetAtt(eip, "AllocationId")}},
                                {attach}, 100, 60);
  const std::string private_rt = b.Add("vpc/PrivateRouteTable", "AWS::EC2::RouteTable",
                                       json::object{{"VpcId", Ref(n.vpc)}}, {}, 5, 5);
  n.private_route = b.Add("vpc/PrivateDefaultRoute", "AWS::EC2::Route",
                          json::object{{"RouteTableId", Ref(private_rt)},
                                       {"NatGatewayId", Ref(nat)},
                                       {"DestinationCidrBlock", "0.0.0.0/0"}},
                          {}, 2, 2);
  n.security_group = b.Add(
      "vpc/DefaultSecurityGroup", "AWS::EC2::SecurityGroup",
      json::object{{"VpcId", Ref(n.vpc)}, {"GroupDescription", "InfraForge default"}}, {}, 5, 5);
  return n;
}

const std::string& PickSubnet(const std::vector<std::string>& subnets, int64_t az_index) {
  const size_t i = az_index >= 1 ? static_cast<size_t>(az_index - 1) % subnets.size() : 0;
  return subnets[i];
}

const std::vector<std::string>& SubnetsFor(const Network& n, const json::object& config) {
  const std::string kind = Str(config, "subnet", "private");
  if (kind == "public") return n.public_subnets;
  if (kind == "isolated") return n.isolated_subnets;
  return n.private_subnets;
}

struct EksBuilt {
  std::string cluster;
  std::string name;
  std::string hyperpod_job;  // what a HyperPod cluster on this EKS waits for
};

std::string FsxDeploymentType(std::string_view configured) {
  std::string upper;
  for (char c : configured) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  if (upper == "SCRATCH1") return "SCRATCH_1";
  if (upper == "PERSISTENT1") return "PERSISTENT_1";
  if (upper == "PERSISTENT2") return "PERSISTENT_2";
  return "SCRATCH_2";
}

std::string BuildLustre(StackBuilder& b, const Network& n, const ForgeInstance& f) {
  const json::object& c = f.config;
  json::object lustre{{"DeploymentType", FsxDeploymentType(Str(c, "deploymentType", "scratch2"))}};
  const std::string compression = Str(c, "dataCompressionType");
  if (!compression.empty()) {
    std::string upper = compression;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    lustre["DataCompressionType"] = upper;
  }
  if (lustre["DeploymentType"].as_string().starts_with("PERSISTENT")) {
    lustre["PerUnitStorageThroughput"] = Int(c, "perUnitStorageThroughput", 250);
  }
  return b.Add(f.id + "/FileSystem", "AWS::FSx::FileSystem",
               json::object{{"FileSystemType", "LUSTRE"},
                            {"StorageCapacity", Int(c, "storageCapacityGiB", 1200)},
                            {"FileSystemTypeVersion", Str(c, "fileSystemVersion", "2.15")},
                            {"SubnetIds",
                             json::array{Ref(PickSubnet(SubnetsFor(n, c), Int(c, "azIndex", 1)))}},
                            {"SecurityGroupIds", json::array{Ref(n.security_group)}},
                            {"LustreConfiguration", lustre}},
               {}, 420, 120);
}

EksBuilt BuildEks(StackBuilder& b, const Network& n, const ForgeInstance& f,
                  const std::map<std::string, std::string>& fsx_by_id) {
  const json::object& c = f.config;
  EksBuilt e;
  e.name = f.id;
  const std::string cluster_role =
      b.Add(f.id + "/Role", "AWS::IAM::Role",
            json::object{{"ManagedPolicyArns",
                          json::array{"arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"}}},
            {}, 15, 5);
  const std::string kubectl = b.Add("@aws-cdk--aws-eks.KubectlProvider.NestedStack/Resource",
                                    "AWS::CloudFormation::Stack", {}, {}, 90, 60);
  json::array private_subnets;
  for (const std::string& s : n.private_subnets) private_subnets.push_back(Ref(s));
  e.cluster =
      b.Add(f.id + "/Resource/Resource", "AWS::EKS::Cluster",
            json::object{{"Name", f.id},
                         {"Version", Str(c, "eksVersion", "1.33")},
                         {"RoleArn", GetAtt(cluster_role, "Arn")},
                         {"ResourcesVpcConfig",
                          json::object{{"SubnetIds", private_subnets},
                                       {"SecurityGroupIds", json::array{Ref(n.security_group)}}}}},
            {}, 570, 420);
  const std::string node_role =
      b.Add(f.id + "/NodegroupRole", "AWS::IAM::Role",
            json::object{{"ManagedPolicyArns",
                          json::array{"arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}}},
            {}, 15, 5);
  json::array instance_types;
  std::stringstream types(Str(c, "instanceTypes", "m6i.xlarge"));
  for (std::string t; std::getline(types, t, ',');) instance_types.emplace_back(t);
  const std::string nodegroup =
      b.Add(f.id + "/NodegroupDefault", "AWS::EKS::Nodegroup",
            json::object{{"ClusterName", Ref(e.cluster)},
                         {"NodeRole", GetAtt(node_role, "Arn")},
                         {"InstanceTypes", instance_types},
                         {"ScalingConfig", json::object{{"MinSize", Int(c, "minSize", 2)},
                                                        {"MaxSize", Int(c, "maxSize", 5)},
                                                        {"DesiredSize", Int(c, "minSize", 2)}}},
                         {"Subnets", private_subnets}},
            {n.private_route}, 180, 240);
  const std::string oidc = b.Add(f.id + "/OpenIdConnectProvider/Resource/Default",
                                 std::string("Custom::AWSCDKOpenIdConnectProvider"),
                                 json::object{{"Url", GetAtt(e.cluster, "OpenIdConnectIssuerUrl")},
                                              {"ClientIDList", json::array{"sts.amazonaws.com"}}},
                                 {}, 20, 5);
  const std::string lbc_role = b.Add(f.id + "/aws-load-balancer-controller/Role", "AWS::IAM::Role",
                                     json::object{{"Federated", GetAtt(oidc, "Arn")}}, {}, 15, 5);
  const std::string lbc = b.Add(
      f.id + "/chart-aws-load-balancer-controller/Resource/Resource",
      std::string("Custom::AWSCDK-EKS-HelmChart"),
      json::object{
          {"ClusterName", Ref(e.cluster)},
          {"Release", "aws-load-balancer-controller"},
          {"Chart", "aws-load-balancer-controller"},
          {"Version", Str(c, "awsLoadBalancerControllerVersion", "1.16.0")},
          {"Namespace", "kube-system"},
          {"Repository", "https://aws.github.io/eks-charts"},
          {"Values",
           json::object{{"clusterName", f.id},
                        {"serviceAccount",
                         json::object{{"name", "aws-load-balancer-controller"},
                                      {"annotations", json::object{{"eks.amazonaws.com/role-arn",
                                                                    GetAtt(lbc_role, "Arn")}}}}}}}},
      {nodegroup, kubectl}, 120, 60);
  e.hyperpod_job = lbc;
  if (Bool(c, "deployCsiDriver")) {
    for (const std::string& dep : DependsOn(c)) {
      auto fsx = fsx_by_id.find(dep);
      if (fsx == fsx_by_id.end()) continue;
      const std::string csi = b.Add(f.id + "/chart-aws-fsx-csi-driver/Resource/Resource",
                                    std::string("Custom::AWSCDK-EKS-HelmChart"),
                                    json::object{{"ClusterName", Ref(e.cluster)},
                                                 {"Release", "aws-fsx-csi-driver"},
                                                 {"Chart", "aws-fsx-csi-driver"},
                                                 {"Namespace", "kube-system"}},
                                    {nodegroup, kubectl}, 60, 30);
      b.Add(f.id + "/manifest-fsx-static-pv/Resource/Default",
            std::string("Custom::AWSCDK-EKS-KubernetesResource"),
            json::object{{"ClusterName", Ref(e.cluster)}, {"FileSystemId", Ref(fsx->second)}},
            {csi}, 10, 5);
    }
  }
  if (Bool(c, "enableHyperPodComponents")) {
    e.hyperpod_job = b.Add(f.id + "/chart-hyperpod-dependencies/Resource/Resource",
                           std::string("Custom::AWSCDK-EKS-HelmChart"),
                           json::object{{"ClusterName", Ref(e.cluster)},
                                        {"Release", "hyperpod-dependencies"},
                                        {"Chart", "hyperpod-helm-chart"},
                                        {"Namespace", "kube-system"}},
                           {lbc}, 90, 60);
    b.Add(f.id + "/hyperpod-inference-nlb", "AWS::ElasticLoadBalancingV2::LoadBalancer",
          json::object{
              {"Type", "network"},
              {"Scheme", "internal"},
              {"Subnets", private_subnets},
              {"Tags", json::array{json::object{{"Key", "elbv2.k8s.aws/cluster"}, {"Value", f.id}},
                                   json::object{{"Key", "service.k8s.aws/stack"},
                                                {"Value", "kube-system/hyperpod-inference-nlb"}},
                                   json::object{{"Key", "service.k8s.aws/resource"},
                                                {"Value", "LoadBalancer"}}}}},
          {lbc}, 180, 60);
  }
  b.Output("ClusterEndpoint", e.cluster, "Endpoint");
  b.Output("ClusterArn", e.cluster, "Arn");
  b.Output("OidcProviderUrl", e.cluster, "OpenIdConnectIssuerUrl");
  b.Output(LogicalId(f.id + "ClusterName"), e.cluster, "Ref");
  return e;
}

void BuildHyperPod(StackBuilder& b, const Network& n, const ForgeInstance& f,
                   const std::map<std::string, EksBuilt>& eks_by_id) {
  const json::object& c = f.config;
  const std::string cluster_name = Str(c, "clusterName", f.id + "-hyperpod");
  const std::string role = b.Add(f.id + "-execution-role", "AWS::IAM::Role",
                                 json::object{{"AssumedBy", "sagemaker.amazonaws.com"},
                                              {"ManagedPolicies", Str(c, "executionRolePolicies")}},
                                 {}, 15, 5);
  json::object lifecycle{{"OnCreate", "on_create.sh"}, {"SourceS3Uri", "s3://aws-infra-forge/"}};
  std::vector<std::string> deps;
  if (Bool(c, "useDefaultLifecycle")) {
    const std::string bucket = b.Add(f.id + "-lifecycle/Resource", "AWS::S3::Bucket", {}, {}, 5, 5);
    deps.push_back(
        b.Add(f.id + "-download-lifecycle/Resource/Default", std::string("Custom::S3ObjectFromUrl"),
              json::object{{"Bucket", Ref(bucket)}, {"Key", "on_create.sh"}}, {}, 10, 5));
    lifecycle["SourceS3Uri"] = Ref(bucket);
  } else if (!Str(c, "onCreateScript").empty() && !Str(c, "sourceS3Uri").empty()) {
    lifecycle = json::object{{"OnCreate", Str(c, "onCreateScript")},
                             {"SourceS3Uri", Str(c, "sourceS3Uri")}};
  }
  const int64_t az_index = Int(c, "azIndex", 0);
  const std::string& subnet = PickSubnet(SubnetsFor(n, c), az_index);
  int64_t threads = Int(c, "threadsPerCore", 1);
  if (threads != 1 && threads != 2) threads = 1;
  json::object group{{"InstanceGroupName", Str(c, "instanceGroupName", f.id + "-instance-group")},
                     {"InstanceType", Str(c, "instanceType")},
                     {"InstanceCount", Int(c, "instanceCount", 0)},
                     {"ExecutionRole", GetAtt(role, "Arn")},
                     {"LifeCycleConfig", lifecycle},
                     {"ThreadsPerCore", threads}};
  if (Int(c, "ebsVolumeSizeGb") > 0) {
    group["InstanceStorageConfigs"] = json::array{json::object{
        {"EbsVolumeConfig", json::object{{"VolumeSizeInGB", Int(c, "ebsVolumeSizeGb")}}}}};
  }
  json::object props{
      {"ClusterName", cluster_name},
      {"InstanceGroups", json::array{group}},
      {"VpcConfig", json::object{{"Subnets", json::array{Ref(subnet)}},
                                 {"SecurityGroupIds", json::array{Ref(n.security_group)}}}}};
  const EksBuilt* eks = nullptr;
  for (const std::string& dep : DependsOn(c)) {
    if (auto it = eks_by_id.find(dep); it != eks_by_id.end()) eks = &it->second;
  }
  if (eks != nullptr) {
    props["Orchestrator"] =
        json::object{{"Eks", json::object{{"ClusterArn", GetAtt(eks->cluster, "Arn")}}}};
    props["NodeProvisioningMode"] = Str(c, "nodeProvisioningMode", "Continuous");
    deps.push_back(eks->hyperpod_job);
  }
  if (!Str(c, "nodeRecovery").empty()) props["NodeRecovery"] = Str(c, "nodeRecovery");
  const std::string cluster =
      b.Add(f.id, "AWS::SageMaker::Cluster", std::move(props), deps, 480, 300);
  b.Output("HyperPodClusterArn" + f.id, cluster, "ClusterArn");
  b.Output("HyperPodClusterName" + f.id, cluster, "ClusterName");
}

bool ValidCdkStackName(std::string_view name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

// --- Driver
// ----------------------------------------------------------------------------------------

bool InProgress(std::string_view status) { return status.ends_with("_IN_PROGRESS"); }

std::string ClockTime(WallTime t) {
  const time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buffer[32];
  const int hour = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
  std::snprintf(buffer, sizeof buffer, "%d:%02d:%02d %s", hour, tm.tm_min, tm.tm_sec,
                tm.tm_hour < 12 ? "AM" : "PM");
  return buffer;
}

std::string Pad(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

std::string Seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
  return buffer;
}

class Driver {
 public:
  Driver(const InfraForgeOptions& options, const Clock& clock, Sleeper& sleeper, std::ostream& out,
         std::ostream& err, Account& account)
      : clock_(clock),
        sleeper_(sleeper),
        out_(out),
        err_(err),
        account_(account),
        ctx_{options.region, options.job_id},
        started_(clock.MonotonicNow()) {}

  int Deploy(const StackTemplate& stack) {
    const std::string& name = stack.name;
    Line(name + ": deploying... [1/1]");
    Line(name + ": creating CloudFormation changeset...");
    while (true) {
      StatusOr<Stack> current =
          Retry("DescribeStacks", [&] { return account_.DescribeStack(ctx_, name); });
      if (!current.ok() && current.status().error_name() != "ValidationError") {
        return Fail(name, current.status());
      }
      if (!current.ok()) {
        StatusOr<Stack> created =
            Retry("CreateStack", [&] { return account_.CreateStack(ctx_, stack); });
        if (!created.ok()) return Fail(name, created.status());
        return FinishDeploy(name, Follow(*created, 0, stack.resources.size()));
      }
      const std::string& status = current->status;
      if (status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE") {
        Line("");
        Line(" \xE2\x9C\x85  " + name + " (no changes)");
        return Success(*current);
      }
      if (status == "CREATE_IN_PROGRESS") {
        Line(name + ": stack is CREATE_IN_PROGRESS (an earlier deployment); waiting for it");
        return FinishDeploy(name, Follow(*current, 0, stack.resources.size()));
      }
      if (status == "ROLLBACK_COMPLETE" || InProgress(status)) {
        const int64_t after = LastSequence(current->stack_id);
        if (status == "ROLLBACK_COMPLETE") {
          Line(name + ": stack had previously failed creation; deleting it before re-creating");
          Status deleted = RetryStatus(
              "DeleteStack", [&] { return account_.DeleteStack(ctx_, current->stack_id); });
          if (!deleted.ok()) return Fail(name, deleted);
        } else {
          Line(name + ": waiting for " + status + " to finish");
        }
        StatusOr<Stack> settled = Follow(*current, after, current->resources.size());
        if (!settled.ok()) return Fail(name, settled.status());
        if (settled->status != "DELETE_COMPLETE" && settled->status != "ROLLBACK_COMPLETE" &&
            settled->status != "CREATE_COMPLETE") {
          return Failed(name, *settled);
        }
        continue;
      }
      return Failed(name, *current);
    }
  }

  int Destroy(const std::string& name) {
    Line(name + ": destroying... [1/1]");
    StatusOr<Stack> current =
        Retry("DescribeStacks", [&] { return account_.DescribeStack(ctx_, name); });
    if (!current.ok()) {
      if (current.status().error_name() != "ValidationError") {
        return DestroyFailed(name, current.status().ToString());
      }
      Line(name + ": stack does not exist, nothing to destroy");
      Line(" \xE2\x9C\x85  " + name + ": destroyed");
      return kInfraForgeOk;
    }
    const int64_t after = LastSequence(current->stack_id);
    Status deleted =
        RetryStatus("DeleteStack", [&] { return account_.DeleteStack(ctx_, current->stack_id); });
    if (!deleted.ok()) return DestroyFailed(name, deleted.ToString());
    StatusOr<Stack> done = Follow(*current, after, current->resources.size());
    if (!done.ok()) return DestroyFailed(name, done.status().ToString());
    if (done->status == "DELETE_COMPLETE") {
      Line("");
      Line(" \xE2\x9C\x85  " + name + ": destroyed");
      return kInfraForgeOk;
    }
    return DestroyFailed(name, FailureReason(*done));
  }

 private:
  void Line(const std::string& line) { out_ << line << '\n' << std::flush; }

  double Scale() const { return account_.time_scale(); }

  // Simulated seconds since this run started.
  double Elapsed() const {
    const double real = std::chrono::duration<double>(clock_.MonotonicNow() - started_).count();
    return Scale() > 0 ? real / Scale() : 0;
  }

  void SleepSimulated(double seconds) {
    auto real =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds * Scale()));
    sleeper_.Sleep(std::max<Duration>(real, std::chrono::milliseconds(10)));
  }

  // Retries ThrottlingException up to 10 times with exponential backoff, as the AWS SDK does.
  template <typename F>
  auto Retry(std::string_view api, F&& call) -> decltype(call()) {
    constexpr int kMaxRetries = 10;
    for (int attempt = 1;; ++attempt) {
      auto result = call();
      if (result.ok() || result.status().error_name() != "ThrottlingException" ||
          attempt > kMaxRetries) {
        return result;
      }
      const double backoff = std::min(20.0, 0.5 * static_cast<double>(1 << (attempt - 1)));
      err_ << "[WARNING] " << api
           << " throttled (ThrottlingException: " << result.status().message() << "), retrying in "
           << Seconds(backoff) << " (attempt " << attempt << "/" << kMaxRetries << ")\n"
           << std::flush;
      SleepSimulated(backoff);
    }
  }

  template <typename F>
  Status RetryStatus(std::string_view api, F&& call) {
    StatusOr<bool> result = Retry(api, [&]() -> StatusOr<bool> {
      Status status = call();
      if (!status.ok()) return status;
      return true;
    });
    return result.status();
  }

  int64_t LastSequence(const std::string& stack_id) {
    StatusOr<std::vector<StackEvent>> events = Retry(
        "DescribeStackEvents", [&] { return account_.DescribeStackEvents(ctx_, stack_id, 0); });
    if (!events.ok() || events->empty()) return 0;
    return events->back().sequence;
  }

  // Prints the stack's events after `after` until it leaves *_IN_PROGRESS, polling every 5
  // simulated seconds; returns its final description.
  StatusOr<Stack> Follow(const Stack& stack, int64_t after, size_t resource_count) {
    const size_t total = resource_count + 1;
    size_t done = 0;
    first_failure_.clear();
    int quiet_polls = 0;
    while (true) {
      HPD_ASSIGN_OR_RETURN(std::vector<StackEvent> events, Retry("DescribeStackEvents", [&] {
                             return account_.DescribeStackEvents(ctx_, stack.stack_id, after);
                           }));
      for (const StackEvent& e : events) {
        after = e.sequence;
        if (e.status.ends_with("_COMPLETE") || e.status.ends_with("_FAILED")) ++done;
        std::string line = stack.name + " | " + std::to_string(std::min(done, total)) + "/" +
                           std::to_string(total) + " | " + ClockTime(e.time) + " | " +
                           Pad(e.status, 20) + " | " + Pad(e.type, 41) + " | " + e.logical_id;
        if (!e.reason.empty()) line += " " + e.reason;
        Line(line);
        if (e.status.ends_with("_FAILED") && e.type != "AWS::CloudFormation::Stack" &&
            e.reason != "Resource creation cancelled" && first_failure_.empty()) {
          first_failure_ = e.reason;
        }
      }
      HPD_ASSIGN_OR_RETURN(Stack current, Retry("DescribeStacks", [&] {
                             return account_.DescribeStack(ctx_, stack.stack_id);
                           }));
      if (!InProgress(current.status)) return current;
      quiet_polls = events.empty() ? quiet_polls + 1 : 0;
      if (quiet_polls > 0 && quiet_polls % 12 == 0) {
        std::string waiting;
        for (const StackResource& r : current.resources) {
          if (InProgress(r.status)) waiting += (waiting.empty() ? "" : ", ") + r.logical_id;
        }
        Line(stack.name + " | " + std::to_string(done) + "/" + std::to_string(total) + " | " +
             ClockTime(clock_.WallNow()) + " | still in progress: " + waiting);
      }
      SleepSimulated(5);
    }
  }

  std::string FailureReason(const Stack& stack) const {
    if (!first_failure_.empty()) return first_failure_;
    for (const StackResource& r : stack.resources) {
      if (r.status.ends_with("_FAILED") && r.status_reason != "Resource creation cancelled") {
        return r.status_reason;
      }
    }
    return stack.status_reason;
  }

  int FinishDeploy(const std::string& name, const StatusOr<Stack>& result) {
    if (!result.ok()) return Fail(name, result.status());
    const Stack& stack = *result;
    if (stack.status == "CREATE_COMPLETE") {
      Line("");
      Line(" \xE2\x9C\x85  " + name);
      return Success(stack);
    }
    if (stack.status == "CREATE_FAILED" && stack.status_reason == "Resource creation cancelled") {
      // What a crashing Go binary leaves on stderr.
      err_ << "panic: runtime error: invalid memory address or nil pointer dereference\n"
              "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1b2f4c7]\n\n"
              "goroutine 1 [running]:\n"
              "github.com/awslabs/InfraForge/core/manager.(*ForgeManager).CreateForge(...)\n"
              "\t/src/core/manager/forgemanager.go:112\n"
              "main.main()\n"
              "\t/src/cmd/infraforge/main.go:45 +0x2a5\n"
           << std::flush;
      return kInfraForgePanic;
    }
    return Failed(name, stack);
  }

  int Success(const Stack& stack) {
    Line("");
    Line("\xE2\x9C\xA8  Deployment time: " + Seconds(Elapsed()));
    Line("");
    if (!stack.outputs.empty()) {
      Line("Outputs:");
      for (const auto& [key, value] : stack.outputs) Line(stack.name + "." + key + " = " + value);
    }
    Line("Stack ARN:");
    Line(stack.stack_id);
    Line("");
    Line("\xE2\x9C\xA8  Total time: " + Seconds(Elapsed()));
    Line("");
    return kInfraForgeOk;
  }

  int Failed(const std::string& name, const Stack& stack) {
    Line("");
    Line(" \xE2\x9D\x8C  " + name + " failed: Error: The stack named " + name +
         " failed creation, it may need to be manually deleted from the AWS console: " +
         stack.status + ": " + FailureReason(stack));
    return kInfraForgeFailed;
  }

  int Fail(const std::string& name, const Status& status) {
    Line("");
    Line(" \xE2\x9D\x8C  " + name + " failed: " + std::string(status.error_name()) + ": " +
         std::string(status.message()));
    return kInfraForgeFailed;
  }

  int DestroyFailed(const std::string& name, const std::string& reason) {
    Line("");
    Line(" \xE2\x9D\x8C  " + name + ": destroy failed " + reason);
    return kInfraForgeFailed;
  }

  const Clock& clock_;
  Sleeper& sleeper_;
  std::ostream& out_;
  std::ostream& err_;
  Account& account_;
  const CallContext ctx_;
  const MonotonicTime started_;
  std::string first_failure_;
};

}  // namespace

void SystemSleeper::Sleep(Duration duration) { std::this_thread::sleep_for(duration); }

StatusOr<Synthesis> SynthesizeInfraForge(std::string_view config_json, std::string_view job_id) {
  boost::system::error_code ec;
  json::value config = json::parse(config_json, ec);
  if (ec) return InvalidArgumentError("error parsing config: " + ec.message());
  if (!config.is_object()) {
    return InvalidArgumentError("error parsing config: json: cannot unmarshal " +
                                std::string(config.is_array() ? "array" : "value") +
                                " into Go value of type config.Config");
  }
  const json::object& root = config.as_object();
  json::object global;
  if (const auto* g = root.if_contains("global"); g && g->is_object()) global = g->as_object();
  Synthesis synthesis;
  synthesis.messages.push_back("Loaded configuration from config.json");
  StackTemplate& stack = synthesis.stack;
  stack.name = Str(global, "stackName");
  if (!ValidCdkStackName(stack.name)) {
    return InvalidArgumentError(
        "Stack name must match the regular expression: "
        "/^[A-Za-z][A-Za-z0-9-]*$/, got '" +
        stack.name + "'");
  }
  if (!job_id.empty()) stack.tags[std::string(kJobTag)] = std::string(job_id);

  std::map<std::string, json::object> defaults_by_type;
  std::vector<ForgeInstance> instances;
  if (const auto* forges = root.if_contains("forges"); forges && forges->is_object()) {
    for (const auto& [type, forge] : forges->as_object()) {
      if (!forge.is_object()) continue;
      json::object defaults;
      if (const auto* d = forge.as_object().if_contains("defaults"); d && d->is_object()) {
        defaults = d->as_object();
      }
      defaults_by_type[std::string(type)] = defaults;
      if (const auto* list = forge.as_object().if_contains("instances"); list && list->is_array()) {
        for (const auto& item : list->as_array()) {
          if (!item.is_object()) continue;
          ForgeInstance f{std::string(type), Str(item.as_object(), "id"),
                          Merge(defaults, item.as_object())};
          instances.push_back(std::move(f));
        }
      }
    }
  }

  StackBuilder builder(&stack);
  const Network network =
      BuildVpc(builder, defaults_by_type["vpc"],
               global.contains("dualStack") && global.at("dualStack").is_bool() &&
                   global.at("dualStack").as_bool());
  std::vector<const ForgeInstance*> enabled;
  if (const auto* list = root.if_contains("enabledForges"); list && list->is_array()) {
    for (const auto& item : list->as_array()) {
      const std::string id = item.is_string() ? std::string(item.as_string()) : "";
      const ForgeInstance* found = nullptr;
      for (const ForgeInstance& f : instances) {
        if (f.id == id) {
          found = &f;
          break;
        }
      }
      if (found == nullptr) {
        synthesis.messages.push_back("Error creating forge " + id + ": forge instance " + id +
                                     " not found");
      } else if (found->type != "lustre" && found->type != "eks" && found->type != "hyperpod") {
        synthesis.messages.push_back("Error creating forge " + id + ": forge type " + found->type +
                                     " is not simulated by the sandbox");
      } else {
        enabled.push_back(found);
      }
    }
  }
  // Dependencies before dependants, whatever the order in enabledForges.
  std::map<std::string, std::string> fsx_by_id;
  std::map<std::string, EksBuilt> eks_by_id;
  for (const ForgeInstance* f : enabled) {
    if (f->type == "lustre") fsx_by_id[f->id] = BuildLustre(builder, network, *f);
  }
  for (const ForgeInstance* f : enabled) {
    if (f->type == "eks" && !eks_by_id.contains(f->id)) {
      eks_by_id[f->id] = BuildEks(builder, network, *f, fsx_by_id);
    }
  }
  for (const ForgeInstance* f : enabled) {
    if (f->type == "hyperpod") BuildHyperPod(builder, network, *f, eks_by_id);
  }
  return synthesis;
}

int RunInfraForge(const InfraForgeOptions& options, const Clock& clock, Sleeper& sleeper,
                  std::ostream& out, std::ostream& err) {
  if (options.sandbox_dir.empty()) {
    err << "error: no sandbox directory: pass --sandbox-dir or set HPD_SANDBOX_DIR\n";
    return kInfraForgeUsage;
  }
  const std::filesystem::path config_path = options.working_dir / "config.json";
  std::ifstream file(config_path, std::ios::binary);
  if (!file) {
    out << "Error loading config: config file not found: config.json (tried json, toml, yaml, "
           "yml formats)\n"
        << std::flush;
    return kInfraForgeFailed;
  }
  std::stringstream text;
  text << file.rdbuf();
  StatusOr<Synthesis> synthesis = SynthesizeInfraForge(text.str(), options.job_id);
  if (!synthesis.ok()) {
    out << "Error loading config: " << synthesis.status().message() << "\n" << std::flush;
    return kInfraForgeFailed;
  }
  for (const std::string& message : synthesis->messages) out << message << "\n";
  out << std::flush;
  if (options.region.empty()) {
    // Synth calls DescribeAvailabilityZones and log.Fatalf's when the SDK has no region.
    out << "Failed to describe availability zones: operation error EC2: "
           "DescribeAvailabilityZones, failed to resolve service endpoint, an AWS region is "
           "required, but was not found (MissingRegion)\n"
        << std::flush;
    return kInfraForgeFailed;
  }
  StatusOr<std::unique_ptr<Account>> account =
      Account::Open(options.sandbox_dir, clock, options.time_scale);
  if (!account.ok()) {
    err << "error: cannot open the sandbox account in " << options.sandbox_dir.string() << ": "
        << account.status() << "\n";
    return kInfraForgeFailed;
  }
  out << "\n\xE2\x9C\xA8  Synthesis time: 0.1s\n\n" << std::flush;
  Driver driver(options, clock, sleeper, out, err, **account);
  if (options.command == InfraForgeCommand::kDestroy) {
    return driver.Destroy(synthesis->stack.name);
  }
  return driver.Deploy(synthesis->stack);
}

}  // namespace hpd::sandbox
