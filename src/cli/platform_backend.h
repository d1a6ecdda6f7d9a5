// The platform backend, assembled: the event log, API tokens, HyperPodService over a workflow
// backend, webhooks and the REST API, on one data dir. `hpdeploy serve` opens one beside (or
// instead of) the embedded engine:
//
//   embedded (default)   the service drives this process's Platform in-process; the Platform's
//                        publisher fills the event log from the journal and log store.
//   split                (--workflow-endpoint URL) the service drives another server's Step
//                        Functions API over HTTP (SigV4 via libcurl); that server forwards its
//                        events here (its --event-target), as EventBridge would, into this
//                        server's own event log through POST /api/v1/events.
//
// Data dir files (besides the Platform's): auth.db (tokens), events.db (the event log; the
// Platform's when embedded), platform.db (the service's read model), webhooks.db (webhooks and
// their outbox), audit.db (the audit log).
#ifndef HPD_CLI_PLATFORM_BACKEND_H_
#define HPD_CLI_PLATFORM_BACKEND_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/platform.h"
#include "common/clock.h"
#include "common/status.h"
#include "hyperpod/service.h"
#include "server/event_delivery.h"
#include "server/rest_api.h"
#include "store/event_log.h"
#include "store/token_store.h"

namespace hpd::cli {

struct BackendOptions {
  std::filesystem::path data_dir;
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  std::string presets_file;  // split mode: the presets the guardrails use (embedded: the
                             // Platform's)
  // Split mode: the Step Functions endpoint and its credentials (ID:SECRET).
  std::string workflow_endpoint;
  std::string workflow_access_key;
  // Split mode: a data dir whose sandbox account answers quota reads ("" for none: the quota
  // guardrails then say the quotas could not be read).
  std::filesystem::path sandbox_data_dir;
  // Forward every event to this URL with this bearer token ("" for none).
  std::string event_target;
  std::string event_target_token;
  double rate_limit_per_second = 20;
  double rate_limit_burst = 40;
  server::EventDeliveryOptions webhooks;
};

class PlatformBackend {
 public:
  // `platform` (null in split mode) and `clock` must outlive the backend.
  [[nodiscard]] static StatusOr<std::unique_ptr<PlatformBackend>> Open(BackendOptions options,
                                                                       Platform* platform,
                                                                       Clock& clock);
  ~PlatformBackend();  // Shutdown()
  PlatformBackend(const PlatformBackend&) = delete;
  PlatformBackend& operator=(const PlatformBackend&) = delete;

  server::RestApi& rest() { return *rest_; }
  hyperpod::HyperPodService& service() { return *service_; }
  store::EventLog& events() { return *events_; }
  const hyperpod::WorkflowBackend& workflow() const { return *workflow_; }

  // Ends event streams, stops webhook deliveries and the read model. Call after the HTTP server
  // has stopped accepting. Idempotent.
  void Shutdown();

 private:
  PlatformBackend() = default;

  std::unique_ptr<store::EventLog> own_events_;  // split mode
  store::EventLog* events_ = nullptr;
  std::unique_ptr<store::TokenStore> tokens_;
  std::unique_ptr<hyperpod::PresetCatalog> presets_;  // split mode
  std::unique_ptr<sandbox::Account> quota_account_;   // split mode with a sandbox data dir
  std::unique_ptr<hyperpod::WorkflowBackend> workflow_;
  std::unique_ptr<hyperpod::HyperPodService> service_;
  std::unique_ptr<server::EventDelivery> delivery_;
  std::unique_ptr<server::RestApi> rest_;
};

// Splits "ACCESS_KEY_ID:SECRET"; false when either half is empty.
bool SplitAccessKey(std::string_view key, std::string* id, std::string* secret);

// Sends the platform's routes (/api/..., /healthz, /readyz, /metrics) to `rest`, everything else
// to `step_functions` (the AWS JSON 1.0 endpoint; null when this server runs no engine).
server::HttpHandler RouteRequests(server::HttpHandler step_functions, server::RestApi& rest);

}  // namespace hpd::cli

#endif  // HPD_CLI_PLATFORM_BACKEND_H_
