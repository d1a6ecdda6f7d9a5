// The names one deployment uses in AWS, derived from the request, and the AWS naming rules they
// must satisfy (HYPERPOD-DOMAIN.md §2).
//
// Derivation, from the deployment name N (config.name, or "hp-" + the job tag) and the job tag T
// (the first 8 letters and digits of jobId, lowercased: a UUID's first 8 hex digits):
//   stem                 N if it already ends in "-T", otherwise N + "-T"; so two jobs never
//                        share a stem even when requesters pick the same name (a UUID prefix
//                        collides with probability ~2^-32)
//   HyperPod cluster     stem                          e.g. hp-1a2b3c4d
//   EKS cluster          stem + "-eks"                 e.g. hp-1a2b3c4d-eks (= InfraForge eks id)
//   CloudFormation stack "hpd-" + stem                 always starts with a letter
//   parameter path       parameterPrefix + "/" + jobId e.g. /perf-eval/hyperpod/<uuid>
//   config object        s3://configBucket/<jobId>/config.json
// InfraForge instance ids for FSx and HyperPod are fixed ("fsx", "hyperpod"): they only need to
// be unique within the stack, which is per job, and fixed ids give fixed output keys
// (HyperPodClusterArnhyperpod).
#ifndef HPD_HYPERPOD_NAMES_H_
#define HPD_HYPERPOD_NAMES_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"
#include "hyperpod/request.h"

namespace hpd::hyperpod {

inline constexpr std::size_t kJobTagLength = 8;
// The longest key the pipeline may write under the parameter path; name.parameter checks that
// "<path>/<64 characters>" is still a valid parameter name.
inline constexpr std::size_t kMaxParameterLeafLength = 64;

inline constexpr std::string_view kFsxInstanceId = "fsx";
inline constexpr std::string_view kHyperPodInstanceId = "hyperpod";

struct DeploymentNames {
  std::string job_tag;
  std::string deployment_name;
  std::string hyperpod_cluster;
  std::string eks_cluster;
  std::string stack;
  std::string parameter_path;  // no trailing '/'
  std::string config_bucket;
  std::string config_key;  // <jobId>/config.json

  // parameter_path + "/" + leaf.
  std::string ParameterName(std::string_view leaf) const;
  // s3://<config_bucket>/<config_key>
  std::string ConfigUri() const;
};

// Derives every name; never fails (the guardrails judge the results). A trailing '/' on the
// parameter prefix is dropped.
DeploymentNames DeriveNames(const DeploymentRequest& request);

// Each returns OK or kInvalidArgument with a sentence naming the value and the rule broken.
// HyperPod cluster and instance group names: 1-63 characters, [a-zA-Z0-9](-*[a-zA-Z0-9])*.
Status ValidateHyperPodClusterName(std::string_view name);
Status ValidateInstanceGroupName(std::string_view name);
// EKS: 1-100 characters, [0-9A-Za-z][A-Za-z0-9\-_]*.
Status ValidateEksClusterName(std::string_view name);
// CloudFormation: 1-128 letters, digits and '-', starting with a letter.
Status ValidateStackName(std::string_view name);
// jobId: [A-Za-z0-9_.-]+ (it is one parameter level and one S3 key segment).
Status ValidateJobId(std::string_view job_id);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_NAMES_H_
