// The deployment request: the input payload the backend hands the HyperPod deployment state
// machine (shared/seed/hyperpod-deployment-state-machine.md, "Inputs & Outputs"), or that
// `hpdeploy deploy` builds from its flags.
//
//   {"jobId": "<uuid>", "requestedBy": "<user>", "requestedAt": "2025-01-01T00:00:00Z",
//    "timeoutSeconds": 3600,
//    "config": {"preset": "medium", "region": "us-west-2", "name": "optional",
//               "overrides": {"instanceGroups.accelerated.count": 4, "fsx.storageGiB": 2400}},
//    "guardrails": {"quotaChecks": true},
//    "artifacts": {"configBucket": "perf-eval-hyperpod-config",
//                  "parameterPrefix": "/perf-eval/hyperpod"}}
//
// Parsing checks shape and types only. Whether the values are acceptable (names, region, bounds,
// known override keys) is for the guardrails, which report every problem at once instead of the
// first. Unknown top-level members are ignored (the backend may add bookkeeping fields); unknown
// members inside config, guardrails and artifacts are errors, since they are typed by people.
#ifndef HPD_HYPERPOD_REQUEST_H_
#define HPD_HYPERPOD_REQUEST_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::hyperpod {

// One override value: a JSON integer, a non-integral JSON number, a boolean or a string.
using OverrideValue = std::variant<int64_t, double, bool, std::string>;

// `value` as JSON ("4", "1.5", "true", "\"1.32\"").
boost::json::value OverrideValueToJson(const OverrideValue& value);
// `value` for a human message: 4, 1.5, true, "1.32".
std::string DescribeOverrideValue(const OverrideValue& value);

struct DeploymentConfig {
  std::string preset;  // "" when absent: the catalog's default preset applies
  std::string region;
  std::optional<std::string> name;  // the deployment name; derived from jobId when absent
  // Dotted keys (see deployment.h for the ones understood) to values, in key order.
  std::map<std::string, OverrideValue> overrides;
};

struct DeploymentRequest {
  std::string job_id;
  std::string requested_by;
  std::string requested_at;  // RFC 3339, as given
  WallTime requested_at_time{};
  int64_t timeout_seconds = 0;
  DeploymentConfig config;
  bool quota_checks = true;      // guardrails.quotaChecks; true when absent
  std::string config_bucket;     // artifacts.configBucket
  std::string parameter_prefix;  // artifacts.parameterPrefix
};

// Where a job's artifacts go unless the payload says otherwise.
inline constexpr char kDefaultConfigBucket[] = "perf-eval-hyperpod-config";
inline constexpr char kDefaultParameterPrefix[] = "/perf-eval/hyperpod";

// The input of the teardown workflow (docs/hyperpod_teardown.asl.json) for the deployment whose
// input payload is `deployment`: its jobId, timeoutSeconds (3600 when absent), config.region and
// artifacts (the defaults above for what is absent), with `requested_by` and `requested_at`, and
// `owner` (the deployment's requester, whose events these are) unless empty.
boost::json::object TeardownInput(const boost::json::object& deployment,
                                  std::string_view requested_by, std::string_view requested_at,
                                  std::string_view owner = "");

// Parses the payload. kInvalidArgument (error name "InvalidDeploymentRequest") naming the field
// path, e.g. "config.region: is required", "timeoutSeconds: must be an integer >= 1, got \"60\"",
// "config.overrides.fsx.storageGiB: must be a number, boolean or string, got an object".
StatusOr<DeploymentRequest> ParseDeploymentRequest(const boost::json::value& payload);
StatusOr<DeploymentRequest> ParseDeploymentRequestJson(std::string_view json_text);

// The payload form of `request` (round-trips through ParseDeploymentRequest).
boost::json::object DeploymentRequestToJson(const DeploymentRequest& request);

// Parses one `--set key=value` assignment (split at the first '='). The value is typed: an
// optional '-' followed by digits, without a leading zero, that fits int64 becomes an integer;
// "true"/"false" a boolean; anything else a string ("1.32", "", "007", "ml.g5.8xlarge"), so
// version-like values are never turned into numbers. kInvalidArgument when there is no '=' or
// the key is empty or contains whitespace.
StatusOr<std::pair<std::string, OverrideValue>> ParseSetAssignment(std::string_view assignment);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_REQUEST_H_
