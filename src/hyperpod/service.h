// HyperPodService: what the platform backend does with HyperPod deployments, whoever asks (the
// REST API, tests): validate a request, start the deployment workflow, report its status, list,
// cancel, tear down, read its history and logs.
//
// It drives the workflow through the Step Functions API (WorkflowBackend): the embedded engine
// in-process, or an endpoint over HTTP (AWS, or another `hpdeploy serve`). It learns what
// happens from the platform's event log (store/event_log.h), never by polling: status changes
// and progress events update its read model (<data dir>/platform.db), which answers Get and List.
//
// Results are JSON objects shaped as docs/openapi.yaml's schemas (Deployment, DeploymentList,
// ValidationReport, ...). Errors are Statuses whose error_name() is the API error code:
//   InvalidRequest (kInvalidArgument; `fields` says which members are wrong),
//   GuardrailViolation (kFailedPrecondition; the guardrail report comes back in `details`),
//   DeploymentNotFound (kNotFound; also for a deployment the caller may not see),
//   Forbidden (kPermissionDenied), JobAlreadyExists / IdempotencyKeyReused (kAlreadyExists),
//   DeploymentNotRunning / TeardownNotAllowed (kFailedPrecondition),
//   BackendUnavailable (kUnavailable).
//
// Visibility: admins and viewers see every deployment; deployers see their own (requestedBy is
// the token's name). Deployers cancel and tear down their own; admins any; viewers none.
//
// Thread-safe.
#ifndef HPD_HYPERPOD_SERVICE_H_
#define HPD_HYPERPOD_SERVICE_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "hyperpod/guardrails.h"
#include "hyperpod/presets.h"
#include "hyperpod/request.h"
#include "store/event_log.h"
#include "store/token_store.h"

namespace hpd::hyperpod {

// The Step Functions API the service drives.
class WorkflowBackend {
 public:
  virtual ~WorkflowBackend() = default;
  // An API action ("StartExecution", ...) with its JSON request: the JSON answer, or the AWS
  // error (error_name() the AWS code). Blocks until answered.
  [[nodiscard]] virtual StatusOr<boost::json::object> Call(std::string_view action,
                                                           const boost::json::object& request) = 0;
  // "embedded" or "stepfunctions <endpoint>", for /readyz and logs.
  virtual std::string Describe() const = 0;
};

// Who is asking: an authenticated token.
struct Caller {
  std::string name;
  store::Role role = store::Role::kViewer;
};

// A member of a request that is wrong, for the error body's "fields".
struct FieldError {
  std::string path;  // "config.region", "timeoutSeconds", "config.overrides.fsx.storageGiB"
  std::string message;
};

// Current quotas and usage in a region (Service Quotas + the account's clusters).
using QuotaSource = std::function<StatusOr<QuotaSnapshot>(const std::string& region)>;

struct ServiceOptions {
  std::filesystem::path database;  // platform.db
  WorkflowBackend* backend = nullptr;
  store::EventLog* events = nullptr;
  const PresetCatalog* presets = nullptr;
  QuotaSource quotas;
  const Clock* clock = nullptr;
  std::string deployment_machine_arn;
  std::string teardown_machine_arn;
  std::string cancel_machine_arn;
  // The execution ARN prefix of each machine: arn:aws:states:R:A:execution:<machine>:
  // is derived from the machine ARN.
  int64_t default_timeout_seconds = 3600;
  // Bounds of timeoutSeconds: kMinTimeoutSeconds (guardrails.h) to this.
  int64_t max_timeout_seconds = kMaxTimeoutSeconds;
  std::string config_bucket = kDefaultConfigBucket;
  std::string parameter_prefix = kDefaultParameterPrefix;
};

struct ListQuery {
  std::vector<std::string> statuses;  // any of these (RUNNING, SUCCEEDED, ...); empty: all
  std::string requested_by;           // "" for all the caller may see
  std::optional<WallTime> created_after;
  std::optional<WallTime> created_before;
  size_t limit = 20;       // 1..100
  std::string next_token;  // from the previous page
};

class HyperPodService {
 public:
  // Opens the read model and catches up with the event log; then follows it.
  [[nodiscard]] static StatusOr<std::unique_ptr<HyperPodService>> Open(ServiceOptions options);
  ~HyperPodService();
  HyperPodService(const HyperPodService&) = delete;
  HyperPodService& operator=(const HyperPodService&) = delete;

  // The guardrail report for a create body; nothing is started. InvalidRequest with `fields`
  // for a body that is not a deployment request.
  [[nodiscard]] StatusOr<boost::json::object> Validate(const Caller& caller,
                                                       const boost::json::value& body,
                                                       std::vector<FieldError>* fields);
  // Starts a deployment. `idempotency_key` ("" for none): a repeat by the same caller with the
  // same key and body answers the first deployment (`*created` false); with another body,
  // IdempotencyKeyReused. A body whose guardrails FAIL: GuardrailViolation, nothing started
  // (`*details` gets the report).
  [[nodiscard]] StatusOr<boost::json::object> Start(const Caller& caller,
                                                    const boost::json::value& body,
                                                    std::string_view idempotency_key, bool* created,
                                                    std::vector<FieldError>* fields,
                                                    boost::json::value* details);
  [[nodiscard]] StatusOr<boost::json::object> Get(const Caller& caller, std::string_view job_id);
  [[nodiscard]] StatusOr<boost::json::object> List(const Caller& caller, const ListQuery& query,
                                                   std::vector<FieldError>* fields);
  // Stops the execution, then starts the cleanup workflow; the deployment's "cancellation"
  // reports the cleanup as it runs and ends.
  [[nodiscard]] StatusOr<boost::json::object> Cancel(const Caller& caller, std::string_view job_id);
  // Starts the teardown workflow of a SUCCEEDED deployment (a new attempt after a failed one).
  [[nodiscard]] StatusOr<boost::json::object> Teardown(const Caller& caller,
                                                       std::string_view job_id);
  // The deployment execution's history (GetExecutionHistory's events), paged.
  [[nodiscard]] StatusOr<boost::json::object> History(const Caller& caller, std::string_view job_id,
                                                      std::string_view next_token, size_t limit,
                                                      bool reverse);
  // The container log lines of the deployment (and its teardown) after event sequence `after`.
  [[nodiscard]] StatusOr<boost::json::object> Logs(const Caller& caller, std::string_view job_id,
                                                   int64_t after, size_t limit);

  // The event-log filter for one deployment's events (after the visibility check), and for
  // everything the caller may see.
  [[nodiscard]] StatusOr<store::EventFilter> DeploymentEvents(const Caller& caller,
                                                              std::string_view job_id);
  store::EventFilter CallerEvents(const Caller& caller) const;
  // Whether an event (as the log stores it) is visible to the caller.
  bool MaySee(const Caller& caller, const store::StoredEvent& event) const;

  boost::json::object Presets() const;
  boost::json::object Regions() const;

  // Counts by status, for /metrics.
  std::vector<std::pair<std::string, int64_t>> CountByStatus() const;
  // Blocks until the read model has applied every event up to `sequence` (tests; after ingest),
  // for at most `timeout`, or until the service closes. True when applied.
  bool WaitApplied(int64_t sequence, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  class Impl;
  explicit HyperPodService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_SERVICE_H_
