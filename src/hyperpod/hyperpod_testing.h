// Test-only helpers shared by the hyperpod tests.
#ifndef HPD_HYPERPOD_HYPERPOD_TESTING_H_
#define HPD_HYPERPOD_HYPERPOD_TESTING_H_

#include <string>

#include "hyperpod/guardrails.h"
#include "hyperpod/request.h"

namespace hpd::hyperpod::testing {

inline constexpr char kJobId[] = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d";

// The seed's example payload with the default preset and no overrides.
inline std::string SeedPayload() {
  return R"({
    "jobId": "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d",
    "requestedBy": "alice",
    "requestedAt": "2025-01-01T00:00:00Z",
    "timeoutSeconds": 3600,
    "config": {"preset": "small", "region": "us-west-2"},
    "guardrails": {"quotaChecks": true},
    "artifacts": {"configBucket": "perf-eval-hyperpod-config",
                  "parameterPrefix": "/perf-eval/hyperpod"}
  })";
}

// A request equal to SeedPayload(), built without parsing.
inline DeploymentRequest SeedRequest() {
  DeploymentRequest request;
  request.job_id = kJobId;
  request.requested_by = "alice";
  request.requested_at = "2025-01-01T00:00:00Z";
  request.timeout_seconds = 3600;
  request.config.preset = "small";
  request.config.region = "us-west-2";
  request.quota_checks = true;
  request.config_bucket = "perf-eval-hyperpod-config";
  request.parameter_prefix = "/perf-eval/hyperpod";
  return request;
}

// Quotas with plenty of room for every built-in preset.
inline QuotaSnapshot AmpleQuotas() {
  QuotaSnapshot quotas;
  quotas.available = true;
  for (const char* type :
       {"ml.g5.8xlarge", "ml.g5.12xlarge", "ml.g6e.12xlarge", "ml.p5.48xlarge"}) {
    quotas.quotas_by_name[InstanceTypeQuotaName(type)] = 100;
  }
  quotas.quotas_by_name[std::string(kTotalInstancesQuotaName)] = 1000;
  quotas.quotas_by_name[std::string(kPerClusterQuotaName)] = 1000;
  quotas.quotas_by_name[std::string(kEbsQuotaName)] = 16384;
  return quotas;
}

}  // namespace hpd::hyperpod::testing

#endif  // HPD_HYPERPOD_HYPERPOD_TESTING_H_
