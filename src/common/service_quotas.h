// The SageMaker HyperPod quotas as Service Quotas names them (QuotaName; the codes differ by
// region and instance type, so callers match on the name: HYPERPOD-DOMAIN.md §3). One spelling
// for the guardrails that read them and the sandbox that serves them.
#ifndef HPD_COMMON_SERVICE_QUOTAS_H_
#define HPD_COMMON_SERVICE_QUOTAS_H_

#include <string>
#include <string_view>

namespace hpd {

inline constexpr std::string_view kTotalInstancesQuotaName =
    "Total number of instances allowed across SageMaker HyperPod clusters";
inline constexpr std::string_view kPerClusterQuotaName =
    "Maximum number instances allowed per SageMaker HyperPod cluster";
inline constexpr std::string_view kEbsQuotaName =
    "Maximum size of EBS volume in GB for a SageMaker HyperPod cluster instance";

// The per-type quota: "ml.p5.48xlarge" -> "ml.p5.48xlarge for cluster usage".
inline std::string InstanceTypeQuotaName(std::string_view instance_type) {
  return std::string(instance_type) + " for cluster usage";
}

}  // namespace hpd

#endif  // HPD_COMMON_SERVICE_QUOTAS_H_
