// The platform's REST API (issue 6; the contract: docs/openapi.yaml, until then
// /work/spec-rest.md) as an HttpHandler: HyperPod deployments, their events as Server-Sent
// Events, event ingest, webhooks, the audit log, health and metrics.
//
// What happens to a request, in order:
//   1. The target is split into path and query; each path segment is percent-decoded, and a
//      path trick (a double slash, a segment that decodes to "." or "..", or holds '/', '\',
//      NUL or another control character, bad percent-encoding) is 400 InvalidRequest.
//   2. The path is matched against the route templates (404 NotFound; 405 MethodNotAllowed with
//      Allow when the path matches with another method). /healthz and /readyz need no token.
//   3. Authentication: "Authorization: Bearer <token>" via TokenStore::Authenticate (401
//      Unauthenticated with WWW-Authenticate), then, on the I/O thread before any work is
//      queued, the caller's token bucket (429 RateLimited with Retry-After; not audited; an
//      admin's POST /api/v1/events, the event forwarder's ingest, is exempt), then the route's
//      role (403 Forbidden). Work for the pool beyond max_queued_requests waiting: 503
//      BackendUnavailable with Retry-After: 1 (not audited either).
//   4. Query parameters are checked strictly (400 InvalidParameter naming unknown or bad ones),
//      a POST body must be application/json (415) holding one JSON object (400 InvalidRequest
//      with the parser's line and column).
//   5. The route's work: calls into HyperPodService, EventLog, EventDelivery or the audit log.
// Every answer carries X-Request-Id (16 random hex digits); every error the body
//   {"error": {"code", "message", "fields": [{"path", "message"}], "requestId", "details"?}}.
// Every POST or DELETE under /api/v1/ that passes authentication is written to the audit log
// (refusals included, but for the rate limit's and the full queue's, see 3.) before it is
// answered; its target (from the body or the path) is cut to 128 bytes.
//
// Threads: Handle runs on the server's I/O threads and does only cheap work there (parsing,
// authentication, reads answered from the read model). Calls that may wait for the workflow
// backend, write or build a large answer (create, validate, cancel, teardown, history, a page of
// logs, ingest, webhook changes, every audited request) run on a small internal pool. Event streams
// are fed by one internal "SSE hub" thread that wakes on every append to the event log and on
// heartbeats, and feeds each client from its own cursor (the log answers reads near its head from
// memory), so hundreds of concurrent streams cost no thread each.
//
// Thread-safe. Shut the HttpServer down before destroying the RestApi.
#ifndef HPD_SERVER_REST_API_H_
#define HPD_SERVER_REST_API_H_

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace hpd::hyperpod {
class HyperPodService;
}
namespace hpd::store {
class EventLog;
class TokenStore;
}  // namespace hpd::store

namespace hpd::server {

class EventDelivery;

struct RestApiOptions {
  // Each may be null: the routes that need it answer 503 BackendUnavailable (tokens: every
  // authenticated route). All must outlive the RestApi.
  hyperpod::HyperPodService* service = nullptr;
  store::EventLog* events = nullptr;
  store::TokenStore* tokens = nullptr;
  EventDelivery* webhooks = nullptr;
  Clock* clock = nullptr;  // required (its timers drive the SSE heartbeats)

  std::string openapi_yaml;                      // served at /api/v1/openapi.yaml
  std::string backend_description = "embedded";  // /readyz's "backend"
  std::function<bool()> ready;                   // null: always ready

  double rate_limit_per_second = 20;
  double rate_limit_burst = 40;

  // The audit database (created when missing); empty: no audit log (GET /api/v1/audit: 503).
  std::filesystem::path audit_db;

  size_t max_sse_clients = 1000;           // more concurrent streams: 503
  size_t max_sse_clients_per_token = 100;  // more concurrent streams of one token name: 503
  std::chrono::seconds sse_heartbeat{15};
  size_t worker_threads = 4;
  // Requests waiting for a worker thread at most; more: 503 BackendUnavailable, Retry-After: 1.
  size_t max_queued_requests = 1000;

  // Where the API records its metrics; null: a registry of its own (metrics()).
  MetricsRegistry* metrics = nullptr;
};

class RestApi {
 public:
  // Opens the audit log and starts the worker pool and the SSE hub. kInvalidArgument without a
  // clock; the audit log's errors.
  [[nodiscard]] static StatusOr<std::unique_ptr<RestApi>> Create(RestApiOptions options);
  ~RestApi();  // Shutdown()
  RestApi(const RestApi&) = delete;
  RestApi& operator=(const RestApi&) = delete;

  // An HttpHandler.
  void Handle(HttpRequest request, HttpResponder respond);
  // Handle, bound to this object, for HttpServer::Start.
  HttpHandler handler();

  // The registry /metrics renders: the API's own metrics, and the lead's scrape-time gauges
  // (AddCollector) such as hpd_deployments{status} and the webhook delivery counts.
  MetricsRegistry& metrics();

  // Ends every event stream (without an `end` event: the client should reconnect to another
  // server), finishes queued work and stops the threads. Requests handled afterwards get 503.
  // Idempotent.
  void Shutdown();

  // The API's error body for the answers the HttpServer gives itself (400 malformed request,
  // 413 PayloadTooLarge, 431 HeaderTooLarge, 500 InternalError), with an X-Request-Id: for
  // HttpServerOptions::error_response. Thread-safe; does not block.
  HttpResponse ServerErrorResponse(int status, std::string_view message);

  // Event streams open now.
  size_t sse_clients() const;

 private:
  class Impl;
  explicit RestApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::server

#endif  // HPD_SERVER_REST_API_H_
