// The InfraForge configuration (awslabs/InfraForge: core/config/config.go and the forges'
// instance structs) that deploys a resolved HyperPod deployment: one VPC, one FSx for Lustre file
// system, one EKS cluster with the HyperPod components, one HyperPod cluster, in one
// CloudFormation stack named names.stack.
//
//   {"global": {"stackName", "description", "dualStack"},
//    "enabledForges": ["fsx", "<eks cluster name>", "hyperpod"],     // instance ids, in order
//    "forges": {
//      "vpc":      {"defaults": {...}},                              // always created
//      "lustre":   {"defaults": {...}, "instances": [{"id": "fsx", ...}]},
//      "eks":      {"defaults": {...}, "instances": [{"id": "<eks cluster name>",
//                   "dependsOn": "LUSTRE:fsx", "enableHyperPodComponents": true, ...}]},
//      "hyperpod": {"defaults": {...}, "instances": [{"id": "hyperpod", "clusterName",
//                   "dependsOn": "EKS:<eks cluster name>", "instanceGroupName", ...}]}}}
//
// Why it looks like this:
//  - InfraForge merges an instance over its forge's defaults field by field and copies only
//    non-zero values, so every per-deployment value is written in the instance; the defaults
//    hold settings common to every deployment. (The Lustre forge even ignores a default
//    storageCapacityGiB, falling back to 1200 when the instance has none.)
//  - The EKS cluster name is the eks instance id (the forge names the cluster after it).
//  - Instance groups: the HyperPod forge builds an AWS::SageMaker::Cluster with exactly one
//    instance group from flat instance fields (instanceGroupName, instanceType, instanceCount,
//    threadsPerCore, ebsVolumeSizeGb). More groups would take more hyperpod instances, i.e. more
//    HyperPod clusters, but a HyperPod cluster on EKS maps one-to-one to its EKS cluster. So a
//    deployment has one HyperPod group, and general-purpose capacity is the EKS managed node
//    group (eks instanceTypes/minSize/maxSize). The guardrail manifest.expressible FAILs a
//    deployment with more groups and WARNs about deep health checks, which the forge has no
//    field for.
//  - keyName is the stack name: the EKS forge creates or reuses a key pair of that name, and a key
//    pair shared between stacks would vanish with the first stack deleted.
#ifndef HPD_HYPERPOD_MANIFEST_H_
#define HPD_HYPERPOD_MANIFEST_H_

#include <boost/json/object.hpp>

#include "hyperpod/deployment.h"

namespace hpd::hyperpod {

// Precondition: `deployment` came from Resolve and has exactly one instance group (what a
// passing manifest.expressible guarantees); only the first group is written otherwise.
boost::json::object BuildManifest(const ResolvedDeployment& deployment);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_MANIFEST_H_
