// Guardrails: everything that can be known about a deployment request before anything is
// created: AWS naming rules, the region allowlist, the preset's bounds, API ranges and Service
// Quotas. Evaluate reports every problem at once, one check per id, so the requester sees the
// whole picture in one round.
//
// Check ids (stable; consumers may key on them), in report order:
//   name.cluster            HyperPod cluster name: 1-63, [a-zA-Z0-9](-*[a-zA-Z0-9])*
//   name.eks                EKS cluster name: 1-100, [0-9A-Za-z][A-Za-z0-9\-_]*
//   name.stack              CloudFormation stack: 1-128 letters, digits, '-', letter first
//   name.bucket             configBucket (S3 bucket rules) and the config object key
//   name.parameter          jobId [A-Za-z0-9_.-]+; "<prefix>/<jobId>" and a key of up to
//                           kMaxParameterLeafLength characters under it are valid SSM names
//                           (<= 1011 characters, <= 15 levels, no aws/ssm prefix)
//   name.instance-group     every group name: same rule as the cluster name
//   region.allowed          config.region is in the catalog's HyperPod region list
//   preset.known            the preset exists (FAIL lists the known ones)
//   overrides.bounded       only known keys, well-typed, within the preset's limits
//   instance-types.allowed  every group's instance type is in the preset's allowlist
//   instance-count          1-100 groups; each count 0-6758
//   ebs.size                every group's EBS volume 1-16384 GB
//   fsx.size                1200, 2400, then multiples of 2400 GiB; PERSISTENT_1 throughput
//                           50/100/200, PERSISTENT_2 125/250/500/1000 MB/s/TiB
//   manifest.expressible    the InfraForge HyperPod forge can express the request: one instance
//                           group per cluster (FAIL for more), no deep health checks (WARN)
//   timeout.bounded         timeoutSeconds in [1800, 86400]; WARN below 3600
//   quota.instance-type     per type: requested <= "ml.<type> for cluster usage" - usage
//   quota.total-instances   total requested <= "Total number of instances allowed across
//                           SageMaker HyperPod clusters" - total usage
//   quota.per-cluster       total requested <= "Maximum number instances allowed per SageMaker
//                           HyperPod cluster"
//   quota.ebs               every EBS size <= "Maximum size of EBS volume in GB for a SageMaker
//                           HyperPod cluster instance"
//
// Statuses: a quota check FAILs when the request does not fit; quota.instance-type and
// quota.total-instances also WARN when it fits with less than 20% of the quota left afterwards.
// Every quota check WARNs when its quota is not in the snapshot (AWS applies its
// default, which we cannot see), when the snapshot is unavailable, and when quotaChecks is false
// ("skipped at the requester's request"). When the preset is unknown, checks that need it WARN
// "not evaluated".
//
// timeout.bounded: an EKS control plane (~15 min), FSx for Lustre (~10 min) and a HyperPod
// cluster (~20 min) are created one after another, so under 30 minutes cannot succeed; a day is
// the most a stuck deployment should be allowed to hold capacity.
#ifndef HPD_HYPERPOD_GUARDRAILS_H_
#define HPD_HYPERPOD_GUARDRAILS_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/service_quotas.h"
#include "hyperpod/presets.h"
#include "hyperpod/request.h"

namespace hpd::hyperpod {

inline constexpr int64_t kMinTimeoutSeconds = 1800;
inline constexpr int64_t kShortTimeoutSeconds = 3600;
inline constexpr int64_t kMaxTimeoutSeconds = 86400;
inline constexpr double kQuotaHeadroomWarnFraction = 0.2;

// Service Quotas and current usage, fetched by the caller (ListServiceQuotas for sagemaker,
// matched by QuotaName; usage = sum of CurrentCount over the account's HyperPod clusters).
struct QuotaSnapshot {
  bool available = false;                        // false: could not be read
  std::map<std::string, double> quotas_by_name;  // QuotaName -> Value
  std::map<std::string, int> usage_by_type;      // "ml.g5.8xlarge" -> instances in use
  int total_usage = 0;                           // instances in use across HyperPod clusters
};

// The quota names (kTotalInstancesQuotaName, InstanceTypeQuotaName, ...): common/service_quotas.h.

enum class CheckStatus { kPass, kWarn, kFail };
// "PASS", "WARN", "FAIL".
std::string_view CheckStatusName(CheckStatus status);

struct GuardrailCheck {
  std::string id;
  CheckStatus status = CheckStatus::kPass;
  std::string message;          // one or more sentences naming values and limits
  boost::json::object details;  // machine-readable facts (values, limits, offending items)
};

struct GuardrailReport {
  std::vector<GuardrailCheck> checks;
  bool passed = true;  // no FAIL
  int pass_count = 0;
  int warn_count = 0;
  int fail_count = 0;

  // The check with `id`, or nullptr.
  const GuardrailCheck* Find(std::string_view id) const;
  // {"passed": bool, "counts": {"pass": n, "warn": n, "fail": n},
  //  "checks": [{"id", "status", "message", "details"}]}
  boost::json::object ToJson() const;
};

// Evaluates every check. Pure: no I/O, deterministic for equal inputs.
GuardrailReport Evaluate(const DeploymentRequest& request, const PresetCatalog& catalog,
                         const QuotaSnapshot& quotas);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_GUARDRAILS_H_
