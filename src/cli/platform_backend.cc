#include "cli/platform_backend.h"

#include <mutex>
#include <utility>

#include "aws/sfn_client.h"
#include "cli/workflow_backends.h"
#include "hyperpod/handlers.h"

namespace hpd::cli {
namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

bool SplitAccessKey(std::string_view key, std::string* id, std::string* secret) {
  const size_t colon = key.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == key.size()) return false;
  *id = std::string(key.substr(0, colon));
  *secret = std::string(key.substr(colon + 1));
  return true;
}

StatusOr<std::unique_ptr<PlatformBackend>> PlatformBackend::Open(BackendOptions options,
                                                                 Platform* platform, Clock& clock) {
  std::unique_ptr<PlatformBackend> b(new PlatformBackend());
  const std::filesystem::path& dir = options.data_dir;
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return UnavailableError("cannot create the data dir " + dir.string() + ": " + error.message());
  }
  if (platform != nullptr) {
    b->events_ = &platform->events();
  } else {
    HPD_ASSIGN_OR_RETURN(b->own_events_, store::EventLog::Open(dir / store::EventLog::kFileName));
    b->events_ = b->own_events_.get();
  }
  HPD_ASSIGN_OR_RETURN(b->tokens_,
                       store::TokenStore::Open(dir / store::TokenStore::kFileName, clock));

  hyperpod::ServiceOptions service;
  service.database = dir / "platform.db";
  service.events = b->events_;
  service.clock = &clock;
  service.deployment_machine_arn =
      StateMachineArn(options.region, options.account_id, kDeploymentMachine);
  service.teardown_machine_arn =
      StateMachineArn(options.region, options.account_id, kTeardownMachine);
  service.cancel_machine_arn = StateMachineArn(options.region, options.account_id, kCancelMachine);
  sandbox::Account* quota_account = nullptr;
  if (platform != nullptr) {
    b->workflow_ = std::make_unique<EmbeddedWorkflow>(*platform);
    service.presets = &platform->presets();
    quota_account = &platform->sandbox();
  } else {
    aws::SfnClientOptions client;
    if (!SplitAccessKey(options.workflow_access_key, &client.access_key_id,
                        &client.secret_access_key)) {
      return InvalidArgumentError("HPD_WORKFLOW_ACCESS_KEY must be ACCESS_KEY_ID:SECRET");
    }
    client.endpoint = options.workflow_endpoint;
    client.region = options.region;
    StatusOr<std::unique_ptr<aws::SfnClient>> created = aws::SfnClient::Create(client);
    if (!created.ok()) return created.status().WithContext("--workflow-endpoint");
    b->workflow_ =
        std::make_unique<StepFunctionsWorkflow>(std::move(*created), options.workflow_endpoint);
    StatusOr<hyperpod::PresetCatalog> presets = hyperpod::LoadPresets(
        options.presets_file.empty() ? std::nullopt
                                     : std::optional<std::filesystem::path>(options.presets_file));
    if (!presets.ok()) return presets.status();
    b->presets_ = std::make_unique<hyperpod::PresetCatalog>(std::move(*presets));
    service.presets = b->presets_.get();
    if (!options.sandbox_data_dir.empty()) {
      HPD_ASSIGN_OR_RETURN(
          b->quota_account_,
          sandbox::Account::Open(options.sandbox_data_dir / "sandbox", clock, std::nullopt));
      quota_account = b->quota_account_.get();
    }
  }
  service.backend = b->workflow_.get();
  if (quota_account != nullptr) {
    service.quotas = [quota_account](const std::string& region) {
      return hyperpod::ReadQuotaSnapshot(*quota_account, sandbox::CallContext{region, ""});
    };
  }
  HPD_ASSIGN_OR_RETURN(b->service_, hyperpod::HyperPodService::Open(std::move(service)));

  HPD_ASSIGN_OR_RETURN(
      b->delivery_, server::EventDelivery::Open(dir / server::EventDelivery::kFileName, *b->events_,
                                                clock, options.webhooks));
  if (!options.event_target.empty()) {
    server::WebhookSpec target;
    target.url = options.event_target;
    target.bearer_token = options.event_target_token;
    target.description = "event target: every event, as an EventBridge API destination";
    target.retry_forever = true;
    StatusOr<server::Webhook> ensured =
        b->delivery_->Ensure("event-target", target, /*start_after=*/0, "hpdeploy serve");
    if (!ensured.ok()) return ensured.status().WithContext("--event-target");
  }
  HPD_RETURN_IF_ERROR(b->delivery_->Start());

  server::RestApiOptions rest;
  rest.service = b->service_.get();
  rest.events = b->events_;
  rest.tokens = b->tokens_.get();
  rest.webhooks = b->delivery_.get();
  rest.clock = &clock;
  rest.openapi_yaml = std::string(OpenApiText());
  rest.backend_description = b->workflow_->Describe();
  rest.rate_limit_per_second = options.rate_limit_per_second;
  rest.rate_limit_burst = options.rate_limit_burst;
  rest.audit_db = dir / "audit.db";
  HPD_ASSIGN_OR_RETURN(b->rest_, server::RestApi::Create(std::move(rest)));

  // Scrape-time gauges: deployments by status, webhook deliveries.
  hyperpod::HyperPodService* service_ptr = b->service_.get();
  server::EventDelivery* delivery_ptr = b->delivery_.get();
  server::MetricsRegistry& metrics = b->rest_->metrics();
  server::MetricFamily* deployments =
      metrics.Gauge("hpd_deployments", "HyperPod deployments by execution status", {"status"});
  server::MetricFamily* deliveries = metrics.Counter(
      "hpd_webhook_deliveries_total", "Webhook delivery attempts by outcome", {"outcome"});
  // Scrapes may run at once; the counter catch-up below must not add the same difference twice.
  auto scrape_mu = std::make_shared<std::mutex>();
  metrics.AddCollector([service_ptr, delivery_ptr, deployments, deliveries, scrape_mu] {
    std::lock_guard<std::mutex> lock(*scrape_mu);
    for (const auto& [status, count] : service_ptr->CountByStatus()) {
      deployments->Set({status}, static_cast<double>(count));
    }
    // Stats() counts since this process opened the outbox: a counter's reset is a restart.
    const server::DeliveryStats stats = delivery_ptr->Stats();
    for (const auto& [outcome, total] :
         {std::pair<const char*, int64_t>{"delivered", stats.delivered},
          {"failed", stats.failed_attempts},
          {"dead_letter", stats.dead_lettered}}) {
      deliveries->Add({outcome}, static_cast<double>(total) - deliveries->Value({outcome}));
    }
  });
  return b;
}

PlatformBackend::~PlatformBackend() { Shutdown(); }

void PlatformBackend::Shutdown() {
  if (rest_) rest_->Shutdown();
  if (delivery_) delivery_->Stop();
}

server::HttpHandler RouteRequests(server::HttpHandler step_functions, server::RestApi& rest) {
  return [step_functions = std::move(step_functions), &rest](server::HttpRequest request,
                                                             server::HttpResponder respond) {
    const std::string_view target = request.target;
    const std::string_view path = target.substr(0, target.find('?'));
    if (StartsWith(path, "/api/") || path == "/api" || path == "/healthz" || path == "/readyz" ||
        path == "/metrics" || !step_functions) {
      rest.Handle(std::move(request), std::move(respond));
      return;
    }
    step_functions(std::move(request), std::move(respond));
  };
}

}  // namespace hpd::cli
