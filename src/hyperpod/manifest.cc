#include "hyperpod/manifest.h"

#include <cassert>
#include <string>
#include <utility>

#include <boost/json/array.hpp>

namespace hpd::hyperpod {
namespace {

// CloudFormation's limit on a stack description.
constexpr std::size_t kMaxDescriptionLength = 1024;

std::string JoinComma(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

boost::json::object Global(const ResolvedDeployment& d) {
  const InstanceGroupSpec& group = d.preset.instance_groups.front();
  std::string description = "hpdeploy job " + d.request.job_id +
                            ": SageMaker HyperPod on EKS, preset " + d.preset.name + " (" +
                            std::to_string(group.count) + " x " + group.instance_type + ") in " +
                            d.request.config.region + ", requested by " + d.request.requested_by;
  if (description.size() > kMaxDescriptionLength) description.resize(kMaxDescriptionLength);
  return boost::json::object{
      {"stackName", d.names.stack},
      {"description", std::move(description)},
      // As in InfraForge's own HyperPod configuration, the one its authors deploy.
      {"dualStack", true},
  };
}

boost::json::object Vpc() {
  return boost::json::object{{"defaults", boost::json::object{{"id", "vpc"},
                                                              {"type", "VPC"},
                                                              {"cidrBlock", "10.69.0.0/16"},
                                                              {"natGatewayPerAZ", false}}}};
}

boost::json::object Lustre(const ResolvedDeployment& d) {
  const FsxSpec& fsx = d.preset.fsx;
  boost::json::object defaults{
      {"type", "LUSTRE"},
      {"security", "isolated"},
      {"subnet", "isolated"},
      {"azIndex", 1},  // the AZ of the HyperPod group's subnet (hyperpod azIndex)
      {"storageType", "SSD"},
      {"fileSystemVersion", "2.15"},
      {"dataCompressionType", "LZ4"},
      {"removalPolicy", "destroy"},
  };
  boost::json::object instance{
      {"id", kFsxInstanceId},
      {"deploymentType", fsx.deployment_type},
      {"storageCapacityGiB", fsx.storage_gib},
  };
  // SCRATCH_2 has no per-unit throughput; a 0 would be ignored by the merge anyway.
  if (fsx.per_unit_storage_throughput > 0) {
    instance["perUnitStorageThroughput"] = fsx.per_unit_storage_throughput;
  }
  return boost::json::object{{"defaults", std::move(defaults)},
                             {"instances", boost::json::array{std::move(instance)}}};
}

boost::json::object Eks(const ResolvedDeployment& d) {
  boost::json::object defaults{
      {"type", "EKS"},
      {"security", "private"},
      {"subnet", "private"},
      {"osType", "bottlerocket"},
      {"osArch", "x86_64"},
      {"gpuType", "standard"},
      {"windowsType", "core_2022"},
      {"diskSize", 30},
      {"controlPlaneAzIndices", "1,2"},
      {"nvidiaPluginVersion", "0.18.1"},
      {"neuronDevicePluginVersion", "2.28.27.0"},
      {"efaPluginVersion", "0.5.19"},
      {"podIdentityAgentVersion", "latest"},
      // The Load Balancer Controller is what post-deployment validation looks for.
      {"awsLoadBalancerControllerVersion", "1.16.0"},
      {"certManagerVersion", "1.19.1"},
      {"metricsServerVersion", "3.13.0"},
      {"fsxCsiDriverVersion", "latest"},
      {"karpenterVersion", "1.7.1"},
      // Only a CPU pool: accelerated capacity is HyperPod's, not Karpenter's.
      {"karpenterNodePools", "cpu"},
      {"karpenterOsType", "linux"},
      {"karpenterCpuInstanceCategories", "c,m,r"},
      {"karpenterCpuInstanceGenerations", "5,6,7"},
      {"karpenterCpuCapacityTypes", "on-demand"},
      {"karpenterCpuArchitectures", "amd64"},
      {"karpenterCpuDiskType", "gp3"},
      {"karpenterCpuDiskSize", 100},
      {"karpenterCpuDiskIops", 3000},
      {"karpenterCpuDiskThroughput", 125},
      {"karpenterCpuLabels", "workload-type=general"},
      {"trainingOperatorVersion", "1.9.3"},
      {"useModernTrainingOperator", false},
      {"storageClassName", "sc"},
      {"defaultPVCNamespace", "default"},
  };
  boost::json::object instance{
      {"id", d.names.eks_cluster},
      {"eksVersion", d.preset.kubernetes_version},
      {"dependsOn", "LUSTRE:" + std::string(kFsxInstanceId)},
      {"enableHyperPodComponents", true},
      {"deployCsiDriver", true},
      {"createStorageClass", true},
      {"createStaticPV", true},
      {"createDefaultPVC", true},
      {"deployTrainingOperator", true},
      {"instanceTypes", JoinComma(d.preset.eks.node_instance_types)},
      {"minSize", d.preset.eks.min_size},
      {"maxSize", d.preset.eks.max_size},
      {"keyName", d.names.stack},
  };
  return boost::json::object{{"defaults", std::move(defaults)},
                             {"instances", boost::json::array{std::move(instance)}}};
}

boost::json::object HyperPod(const ResolvedDeployment& d) {
  const InstanceGroupSpec& group = d.preset.instance_groups.front();
  boost::json::object defaults{
      {"type", "HYPERPOD"},
      {"security", "private"},
      {"subnet", "private"},
      {"nodeProvisioningMode", "Continuous"},
      {"nodeRecovery", "Automatic"},
      {"azIndex", 1},
      {"useDefaultLifecycle", true},
      {"onCreateScript", "on_create.sh"},
      // The forge creates the SageMaker execution role only when policies are named.
      {"executionRolePolicies",
       "AmazonSageMakerFullAccess,AmazonEKSClusterPolicy,AmazonEKSWorkerNodePolicy,"
       "AmazonEKS_CNI_Policy,AmazonEC2ContainerRegistryReadOnly,AmazonSSMManagedInstanceCore,"
       "AmazonS3FullAccess"},
      // Ignored under EKS orchestration; false says so explicitly.
      {"createLustre", false},
  };
  boost::json::object instance{
      {"id", kHyperPodInstanceId},
      {"clusterName", d.names.hyperpod_cluster},
      {"dependsOn", "EKS:" + d.names.eks_cluster},
      {"eksVersion", d.preset.kubernetes_version},
      {"instanceGroupName", group.name},
      {"instanceType", group.instance_type},
      {"instanceCount", group.count},
      {"threadsPerCore", group.threads_per_core},
      {"ebsVolumeSizeGb", group.ebs_volume_gb},
  };
  return boost::json::object{{"defaults", std::move(defaults)},
                             {"instances", boost::json::array{std::move(instance)}}};
}

}  // namespace

boost::json::object BuildManifest(const ResolvedDeployment& deployment) {
  assert(!deployment.preset.instance_groups.empty());
  return boost::json::object{
      {"global", Global(deployment)},
      {"enabledForges",
       boost::json::array{kFsxInstanceId, deployment.names.eks_cluster, kHyperPodInstanceId}},
      {"forges", boost::json::object{{"vpc", Vpc()},
                                     {"lustre", Lustre(deployment)},
                                     {"eks", Eks(deployment)},
                                     {"hyperpod", HyperPod(deployment)}}},
  };
}

}  // namespace hpd::hyperpod
