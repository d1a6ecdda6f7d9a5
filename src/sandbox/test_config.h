// A compact InfraForge HyperPod config (the shape of awslabs/InfraForge
// configs/hyperpod/config_hyperpod.json) shared by the sandbox tests.
#ifndef HPD_SANDBOX_TEST_CONFIG_H_
#define HPD_SANDBOX_TEST_CONFIG_H_

#include <string>
#include <string_view>

namespace hpd::sandbox::testing {

inline constexpr std::string_view kSampleConfig = R"({
  "global": {"stackName": "aws-infra-forge", "description": "sandbox test", "dualStack": true},
  "enabledForges": ["fsx", "eks", "hyperpod"],
  "forges": {
    "vpc": {"defaults": {"id": "vpc", "type": "VPC", "cidrBlock": "10.69.0.0/16",
                         "natGatewayPerAZ": false}},
    "lustre": {
      "defaults": {"type": "LUSTRE", "deploymentType": "scratch2", "storageCapacityGiB": 1200,
                   "dataCompressionType": "lz4", "fileSystemVersion": "2.15", "azIndex": 1,
                   "subnet": "isolated", "removalPolicy": "destory"},
      "instances": [{"id": "fsx"}]},
    "eks": {
      "defaults": {"type": "EKS", "subnet": "private", "instanceTypes": "m6i.xlarge,m6i.2xlarge",
                   "minSize": 2, "maxSize": 5, "eksVersion": "1.33",
                   "awsLoadBalancerControllerVersion": "1.16.0",
                   "enableHyperPodComponents": false},
      "instances": [{"id": "eks", "dependsOn": "LUSTRE:fsx", "deployCsiDriver": true,
                     "enableHyperPodComponents": true}]},
    "hyperpod": {
      "defaults": {"type": "HYPERPOD", "subnet": "private", "clusterName": "hyperpod-eks",
                   "nodeProvisioningMode": "Continuous", "nodeRecovery": "Automatic",
                   "instanceGroupName": "gpu", "instanceType": "ml.g5.xlarge", "instanceCount": 0,
                   "azIndex": 1, "ebsVolumeSizeGb": 500, "useDefaultLifecycle": true},
      "instances": [{"id": "hyperpod", "dependsOn": "EKS:eks", "instanceType": "ml.g5.8xlarge",
                     "instanceCount": 2}]}
  }
})";

}  // namespace hpd::sandbox::testing

#endif  // HPD_SANDBOX_TEST_CONFIG_H_
