#include "server/rest_api.h"

#include <algorithm>
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/utf8.h"
#include "hyperpod/service.h"
#include "server/audit_log.h"
#include "server/event_delivery.h"
#include "server/rate_limiter.h"
#include "store/event_log.h"
#include "store/token_store.h"

namespace hpd::server {
namespace {

namespace json = boost::json;
using hyperpod::Caller;
using hyperpod::FieldError;
using store::Role;

constexpr std::string_view kJsonType = "application/json; charset=utf-8";
constexpr std::string_view kApiPrefix = "/api/v1/";
constexpr size_t kMaxJobIdLength = 64;
constexpr size_t kMaxIdempotencyKey = 255;
// The audit log's target comes from the request (a body's jobId, a path's webhook id), which
// may be up to the body limit long: the log records at most this many bytes of it.
constexpr size_t kMaxAuditTargetBytes = 128;

// ---------------------------------------------------------------------------------------------
// Errors

struct ApiError {
  std::string code;
  std::string message;
  std::vector<FieldError> fields;
  std::optional<json::value> details;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct ErrorKind {
  std::string_view code;
  int status;
};

constexpr ErrorKind kErrorKinds[] = {
    {"InvalidRequest", 400},
    {"InvalidParameter", 400},
    {"Unauthenticated", 401},
    {"Forbidden", 403},
    {"NotFound", 404},
    {"DeploymentNotFound", 404},
    {"WebhookNotFound", 404},
    {"MethodNotAllowed", 405},
    {"JobAlreadyExists", 409},
    {"IdempotencyKeyReused", 409},
    {"DeploymentNotRunning", 409},
    {"TeardownNotAllowed", 409},
    {"PayloadTooLarge", 413},
    {"UnsupportedMediaType", 415},
    {"GuardrailViolation", 422},
    {"RateLimited", 429},
    {"HeaderTooLarge", 431},
    {"InternalError", 500},
    {"BackendUnavailable", 503},
};

int HttpStatusFor(std::string_view code) {
  for (const ErrorKind& kind : kErrorKinds) {
    if (kind.code == code) return kind.status;
  }
  return 500;
}

bool KnownCode(std::string_view code) {
  return std::any_of(std::begin(kErrorKinds), std::end(kErrorKinds),
                     [&](const ErrorKind& kind) { return kind.code == code; });
}

ApiError Error(std::string code, std::string message, std::vector<FieldError> fields = {}) {
  return ApiError{std::move(code), std::move(message), std::move(fields), std::nullopt, {}};
}

// A Status from the service, the event log or the webhook store as the API error it stands for:
// its error_name() when that is one of the API's codes, else by its canonical code.
ApiError FromStatus(const Status& status, std::vector<FieldError> fields = {},
                    std::optional<json::value> details = std::nullopt) {
  std::string code(status.error_name());
  if (!KnownCode(code)) {
    switch (status.code()) {
      case StatusCode::kInvalidArgument:
      case StatusCode::kOutOfRange:
        code = "InvalidRequest";
        break;
      case StatusCode::kNotFound:
        code = "NotFound";
        break;
      case StatusCode::kPermissionDenied:
        code = "Forbidden";
        break;
      case StatusCode::kUnauthenticated:
        code = "Unauthenticated";
        break;
      case StatusCode::kUnavailable:
      case StatusCode::kDeadlineExceeded:
        code = "BackendUnavailable";
        break;
      default:
        code = "InternalError";
        break;
    }
  }
  std::string message(status.message());
  if (message.empty()) message = status.ToString();
  ApiError error = Error(std::move(code), std::move(message), std::move(fields));
  if (details && !details->is_null()) error.details = std::move(details);
  return error;
}

// ---------------------------------------------------------------------------------------------
// Responses

HttpResponse JsonResponse(int status, const json::value& body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", std::string(kJsonType));
  response.headers.emplace_back("Cache-Control", "no-store");
  response.body = SerializeJson(body);
  return response;
}

HttpResponse ErrorResponse(const ApiError& error, const std::string& request_id) {
  json::array fields;
  for (const FieldError& field : error.fields) {
    fields.push_back(json::object{{"path", field.path}, {"message", field.message}});
  }
  json::object body{{"code", error.code},
                    {"message", error.message},
                    {"fields", std::move(fields)},
                    {"requestId", request_id}};
  if (error.details) body["details"] = *error.details;
  HttpResponse response = JsonResponse(HttpStatusFor(error.code), json::object{{"error", body}});
  for (const auto& header : error.headers) response.headers.push_back(header);
  return response;
}

// What a route's work produced: a response (success or error) and what the audit log and the
// metrics want to know of it.
struct Reply {
  HttpResponse response;
  std::string error_code;  // "" for success
  std::string target;      // for the audit log, when the route learnt it (a new job id)
};

Reply Ok(int status, const json::value& body) { return Reply{JsonResponse(status, body), "", ""}; }

// ---------------------------------------------------------------------------------------------
// Paths and queries

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `text` ('+' as a space when `plus_is_space`, as in a query). False for a
// malformed escape.
bool PercentDecode(std::string_view text, bool plus_is_space, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return false;
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return false;
      out->push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

struct ParsedTarget {
  std::string path;                                        // raw, without the query
  std::vector<std::string> segments;                       // decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
};

std::optional<ApiError> ParseTarget(std::string_view target, ParsedTarget* parsed) {
  if (target.empty() || target.front() != '/') {
    return Error("InvalidRequest", "the request target must be an absolute path");
  }
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query = question == std::string_view::npos ? "" : target.substr(question + 1);
  if (const size_t hash = query.find('#'); hash != std::string_view::npos) {
    query = query.substr(0, hash);
  }
  parsed->path = std::string(path);
  if (path.find("//") != std::string_view::npos) {
    return Error("InvalidRequest", "the path must not contain an empty segment (\"//\")");
  }
  // "/a/b" -> "a", "b"; "/" -> nothing; "/a/" -> "a", "" (a trailing slash matches no route).
  std::string_view rest = path.substr(1);
  while (!path.empty() && path != "/") {
    const size_t slash = rest.find('/');
    const std::string_view raw = rest.substr(0, slash);
    std::string decoded;
    if (!PercentDecode(raw, false, &decoded)) {
      return Error("InvalidRequest", "the path holds a malformed percent-encoding");
    }
    if (decoded == "." || decoded == ".." || decoded.find('/') != std::string::npos ||
        decoded.find('\\') != std::string::npos || HasControl(decoded)) {
      return Error("InvalidRequest",
                   "a path segment must not be \".\" or \"..\" nor hold '/', '\\' or control "
                   "characters once decoded");
    }
    parsed->segments.push_back(std::move(decoded));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? "" : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    std::string name, value;
    if (!PercentDecode(item.substr(0, eq), true, &name) ||
        !PercentDecode(eq == std::string_view::npos ? "" : item.substr(eq + 1), true, &value)) {
      return Error("InvalidParameter", "the query string holds a malformed percent-encoding");
    }
    parsed->query.emplace_back(std::move(name), std::move(value));
  }
  return std::nullopt;
}

// The spec's job id rule: ^[A-Za-z0-9][A-Za-z0-9-]{0,63}$.
bool ValidJobId(std::string_view id) {
  if (id.empty() || id.size() > kMaxJobIdLength) return false;
  if (!std::isalnum(static_cast<unsigned char>(id.front()))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Routes

enum class Body { kNone, kOptional, kRequired };

enum class RouteId {
  kHealthz,
  kReadyz,
  kMetrics,
  kOpenApi,
  kPresets,
  kRegions,
  kValidate,
  kCreate,
  kList,
  kGet,
  kCancel,
  kTeardown,
  kHistory,
  kLogs,
  kDeploymentEvents,
  kEvents,
  kIngest,
  kWebhookList,
  kWebhookCreate,
  kWebhookGet,
  kWebhookDelete,
  kWebhookDeliveries,
  kAudit,
};

struct Route {
  RouteId id;
  std::string_view method;
  std::string_view pattern;  // "/api/v1/hyperpod/deployments/{jobId}"
  std::optional<Role> role;  // nullopt: no authentication
  std::vector<std::string_view> query;
  Body body = Body::kNone;
  std::string_view action;  // audit action for mutations
  bool blocking = false;    // runs on the worker pool
};

const std::vector<Route>& Routes() {
  // {id, method, template, role (none: no token), query parameters, body, audit action, blocking}
  // clang-format off
  static const std::vector<Route> kRoutes = {
    {RouteId::kHealthz, "GET", "/healthz", std::nullopt,
     {}, Body::kNone, "", false},
    {RouteId::kReadyz, "GET", "/readyz", std::nullopt,
     {}, Body::kNone, "", false},
    {RouteId::kMetrics, "GET", "/metrics", Role::kViewer,
     {}, Body::kNone, "", false},
    {RouteId::kOpenApi, "GET", "/api/v1/openapi.yaml", Role::kViewer,
     {}, Body::kNone, "", false},
    {RouteId::kPresets, "GET", "/api/v1/hyperpod/presets", Role::kViewer,
     {}, Body::kNone, "", false},
    {RouteId::kRegions, "GET", "/api/v1/hyperpod/regions", Role::kViewer,
     {}, Body::kNone, "", false},
    {RouteId::kValidate, "POST", "/api/v1/hyperpod/deployments/validate", Role::kDeployer,
     {}, Body::kRequired, "deployment.validate", true},
    {RouteId::kCreate, "POST", "/api/v1/hyperpod/deployments", Role::kDeployer,
     {}, Body::kRequired, "deployment.create", true},
    {RouteId::kList, "GET", "/api/v1/hyperpod/deployments", Role::kViewer,
     {"status", "requestedBy", "createdAfter", "createdBefore", "limit", "nextToken"}, Body::kNone, "", false},
    {RouteId::kGet, "GET", "/api/v1/hyperpod/deployments/{jobId}", Role::kViewer,
     {}, Body::kNone, "", false},
    {RouteId::kCancel, "POST", "/api/v1/hyperpod/deployments/{jobId}/cancel", Role::kDeployer,
     {}, Body::kOptional, "deployment.cancel", true},
    {RouteId::kTeardown, "POST", "/api/v1/hyperpod/deployments/{jobId}/teardown", Role::kDeployer,
     {}, Body::kOptional, "deployment.teardown", true},
    {RouteId::kHistory, "GET", "/api/v1/hyperpod/deployments/{jobId}/history", Role::kViewer,
     {"limit", "nextToken", "reverse"}, Body::kNone, "", true},
    {RouteId::kLogs, "GET", "/api/v1/hyperpod/deployments/{jobId}/logs", Role::kViewer,
     {"after", "limit", "follow"}, Body::kNone, "", false},
    {RouteId::kDeploymentEvents, "GET", "/api/v1/hyperpod/deployments/{jobId}/events", Role::kViewer,
     {"after"}, Body::kNone, "", false},
    {RouteId::kEvents, "GET", "/api/v1/hyperpod/events", Role::kViewer,
     {"after"}, Body::kNone, "", false},
    {RouteId::kIngest, "POST", "/api/v1/events", Role::kAdmin,
     {}, Body::kRequired, "events.ingest", true},
    {RouteId::kWebhookList, "GET", "/api/v1/webhooks", Role::kDeployer,
     {}, Body::kNone, "", true},
    {RouteId::kWebhookCreate, "POST", "/api/v1/webhooks", Role::kDeployer,
     {}, Body::kRequired, "webhook.create", true},
    {RouteId::kWebhookGet, "GET", "/api/v1/webhooks/{id}", Role::kDeployer,
     {}, Body::kNone, "", true},
    {RouteId::kWebhookDelete, "DELETE", "/api/v1/webhooks/{id}", Role::kDeployer,
     {}, Body::kNone, "webhook.delete", true},
    {RouteId::kWebhookDeliveries, "GET", "/api/v1/webhooks/{id}/deliveries", Role::kDeployer,
     {"limit", "before"}, Body::kNone, "", true},
    {RouteId::kAudit, "GET", "/api/v1/audit", Role::kAdmin,
     {"limit", "nextToken"}, Body::kNone, "", true},
  };
  // clang-format on
  return kRoutes;
}

std::vector<std::string_view> SplitPattern(std::string_view pattern) {
  std::vector<std::string_view> parts;
  pattern.remove_prefix(1);
  while (!pattern.empty()) {
    const size_t slash = pattern.find('/');
    parts.push_back(pattern.substr(0, slash));
    if (slash == std::string_view::npos) break;
    pattern.remove_prefix(slash + 1);
  }
  return parts;
}

// Whether `segments` fit `pattern`; the {name} captures go to `params`. A literal wins over a
// capture: "deployments/validate" is not a job id (the caller checks literal routes first).
bool MatchPattern(std::string_view pattern, const std::vector<std::string>& segments,
                  std::map<std::string, std::string>* params) {
  const std::vector<std::string_view> parts = SplitPattern(pattern);
  if (parts.size() != segments.size()) return false;
  std::map<std::string, std::string> captured;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      if (segments[i].empty()) return false;  // "/webhooks/" names no webhook
      captured[std::string(part.substr(1, part.size() - 2))] = segments[i];
    } else if (part != segments[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

bool HasCapture(std::string_view pattern) { return pattern.find('{') != std::string_view::npos; }

struct RouteMatch {
  const Route* route = nullptr;
  std::map<std::string, std::string> params;
  std::string template_path;         // the matched template, for metrics (even on 405)
  std::vector<std::string> allowed;  // methods the path has, when `route` is null
};

RouteMatch MatchRoute(std::string_view method, const std::vector<std::string>& segments) {
  RouteMatch match;
  // Two passes, literal templates first, so /deployments/validate never reads as a job id.
  for (int pass = 0; pass < 2; ++pass) {
    for (const Route& route : Routes()) {
      if (HasCapture(route.pattern) != (pass == 1)) continue;
      std::map<std::string, std::string> params;
      if (!MatchPattern(route.pattern, segments, &params)) continue;
      if (match.template_path.empty()) match.template_path = std::string(route.pattern);
      if (std::string(route.pattern) != match.template_path) continue;
      if (route.method == method) {
        match.route = &route;
        match.params = std::move(params);
        return match;
      }
      match.allowed.emplace_back(route.method);
    }
    if (!match.template_path.empty()) return match;
  }
  return match;
}

// ---------------------------------------------------------------------------------------------
// JSON shapes

json::object WebhookJson(const Webhook& webhook) {
  json::array types;
  for (const std::string& type : webhook.detail_types) types.emplace_back(type);
  return json::object{{"id", webhook.id},
                      {"url", webhook.url},
                      {"hasSecret", webhook.has_secret},
                      {"description", webhook.description},
                      {"detailTypes", std::move(types)},
                      {"owner", webhook.owner},
                      {"createdBy", webhook.created_by},
                      {"createdAt", FormatRfc3339(webhook.created_at)},
                      {"cursor", webhook.cursor},
                      {"delivered", webhook.delivered},
                      {"deadLettered", webhook.dead_lettered},
                      {"failedAttempts", webhook.failed_attempts},
                      {"lastError", webhook.last_error}};
}

json::object DeliveryJson(const DeliveryRecord& record) {
  return json::object{{"id", record.id},
                      {"webhookId", record.webhook_id},
                      {"eventSequence", record.event_sequence},
                      {"eventId", record.event_id},
                      {"attempt", record.attempt},
                      {"outcome", record.outcome},
                      {"httpStatus", record.http_status},
                      {"error", record.error},
                      {"durationMs", record.duration_ms},
                      {"time", FormatRfc3339(record.time)}};
}

// ---------------------------------------------------------------------------------------------
// A small fixed pool for the work that must not run on I/O threads.

class WorkerPool {
 public:
  enum class Posted { kQueued, kFull, kStopping };

  // `max_queued` bounds the requests waiting for a thread (Post with `capped`); `queued_gauge`
  // (may be null) shows how many wait.
  WorkerPool(size_t threads, size_t max_queued, MetricFamily* queued_gauge)
      : max_queued_(max_queued), queued_gauge_(queued_gauge) {
    for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) {
      threads_.emplace_back([this] { Run(); });
    }
  }
  ~WorkerPool() { Stop(); }

  // kStopping once stopping; kFull when `capped` and max_queued tasks wait already (a client's
  // request: refused rather than queued without bound). Either way `task` is dropped. Uncapped
  // posts (the SSE hub's end checks, at most one per stream) are always queued.
  Posted Post(std::function<void()> task, bool capped) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Posted::kStopping;
      if (capped && tasks_.size() >= max_queued_) return Posted::kFull;
      tasks_.push_back(std::move(task));
      SetGaugeLocked();
    }
    cv_.notify_one();
    return Posted::kQueued;
  }

  // Runs what is queued, then joins.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    threads_.clear();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      SetGaugeLocked();
      lock.unlock();
      task();
      lock.lock();
    }
  }

  void SetGaugeLocked() {
    if (queued_gauge_ != nullptr) queued_gauge_->Set({}, static_cast<double>(tasks_.size()));
  }

  const size_t max_queued_;
  MetricFamily* const queued_gauge_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------------------------
// Server-Sent Events

constexpr std::string_view kStatusDetailType = "Step Functions Execution Status Change";
constexpr std::string_view kLogSource = "hpdeploy.logs";
constexpr size_t kSseBatch = 256;
constexpr int kSseRoundsPerWake = 4;  // a client far behind yields to the others between rounds
// A client with this much written but not yet sent gets nothing more until its socket drains:
// a replay from Last-Event-ID 0 would otherwise outrun the connection and hit the server's
// stream queue limit, which closes the stream.
constexpr size_t kSseHighWaterBytes = 1 << 20;
// How long the hub waits before looking again at clients held back by kSseHighWaterBytes.
constexpr std::chrono::milliseconds kSseDrainPoll{10};
constexpr size_t kMetricsBatch = 1024;

std::string_view EventKind(const store::StoredEvent& event) {
  if (event.source == "aws.states") return "status";
  if (event.source == kLogSource) return "log";
  return "progress";
}

bool TerminalStatus(std::string_view status) {
  return status == "SUCCEEDED" || status == "FAILED" || status == "TIMED_OUT" ||
         status == "ABORTED";
}

// A phase in which nothing of the deployment is running (nor cleaning up, nor tearing down).
bool RestingPhase(std::string_view phase) {
  return phase == "SUCCEEDED" || phase == "FAILED" || phase == "CANCELLED" ||
         phase == "TORN_DOWN" || phase == "TEARDOWN_FAILED";
}

struct SseClient {
  enum class Kind { kGlobal, kDeployment, kLogs };
  Kind kind = Kind::kGlobal;
  Caller caller;
  store::EventFilter filter;
  std::string job_id;

  // Hub thread only.
  int64_t cursor = 0;
  bool check_end = true;  // whether an end check is due once caught up

  // Guarded by the hub's mu_.
  std::shared_ptr<HttpStreamWriter> writer;
  bool attached = false;
  bool removed = false;
  bool check_in_flight = false;
  bool end_requested = false;
};

class SseHub {
 public:
  SseHub(store::EventLog* log, hyperpod::HyperPodService* service, Clock& clock, Duration heartbeat,
         size_t max_clients, size_t max_clients_per_token, WorkerPool* pool,
         MetricFamily* clients_gauge, std::function<void(const store::StoredEvent&)> on_event)
      : log_(log),
        service_(service),
        clock_(clock),
        heartbeat_(heartbeat),
        max_clients_(max_clients),
        max_clients_per_token_(max_clients_per_token),
        pool_(pool),
        clients_gauge_(clients_gauge),
        on_event_(std::move(on_event)) {}

  ~SseHub() { Stop(); }

  void Start() {
    if (log_ == nullptr) return;
    metrics_cursor_ = log_->LastSequence();
    subscription_ = log_->Subscribe([this](int64_t) { Wake(); });
    heartbeat_state_ = std::make_shared<HeartbeatState>();
    heartbeat_state_->hub = this;
    {
      std::lock_guard lock(heartbeat_state_->mu);
      ArmHeartbeatLocked(heartbeat_state_);
    }
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    if (heartbeat_state_) {
      std::lock_guard lock(heartbeat_state_->mu);
      heartbeat_state_->hub = nullptr;
      clock_.Cancel(heartbeat_state_->timer);
    }
    if (subscription_ != 0) {
      log_->Unsubscribe(subscription_);
      subscription_ = 0;
    }
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::vector<std::shared_ptr<HttpStreamWriter>> writers;
    {
      std::lock_guard lock(mu_);
      for (const auto& client : clients_) {
        if (client->writer) writers.push_back(client->writer);
      }
    }
    for (const auto& writer : writers) writer->Close();
  }

  // A new client, not yet attached to its stream; nullptr, with the reason in `*refusal`, when
  // there are max_clients already, or max_clients_per_token of the caller's token.
  std::shared_ptr<SseClient> Register(SseClient spec, std::string* refusal) {
    auto client = std::make_shared<SseClient>(std::move(spec));
    std::lock_guard lock(mu_);
    if (stopping_) {
      *refusal = "the server is shutting down";
      return nullptr;
    }
    if (clients_.size() >= max_clients_) {
      *refusal = "too many event streams are open (at most " + std::to_string(max_clients_) +
                 "); retry later";
      return nullptr;
    }
    // One token must not take every slot: the others' streams would be refused.
    const auto same_token =
        static_cast<size_t>(std::count_if(clients_.begin(), clients_.end(), [&](const auto& c) {
          return c->caller.name == client->caller.name;
        }));
    if (same_token >= max_clients_per_token_) {
      *refusal = "token " + client->caller.name + " has too many event streams open (at most " +
                 std::to_string(max_clients_per_token_) + " per token); close one or retry later";
      return nullptr;
    }
    clients_.insert(client);
    clients_gauge_->Set({}, static_cast<double>(clients_.size()));
    return client;
  }

  // The stream opened: `client` is fed from now on.
  void Attach(const std::shared_ptr<SseClient>& client, std::shared_ptr<HttpStreamWriter> writer) {
    {
      std::lock_guard lock(mu_);
      if (client->removed) {
        writer->Close();
        return;
      }
      client->writer = writer;
      client->attached = true;
      work_ = true;
    }
    cv_.notify_one();
    // Outside mu_: the callback runs at once when the stream is already closed.
    std::weak_ptr<SseClient> weak = client;
    writer->OnClose([this, weak] {
      if (auto c = weak.lock()) Remove(c);
    });
  }

  void Remove(const std::shared_ptr<SseClient>& client) {
    std::lock_guard lock(mu_);
    client->removed = true;
    if (clients_.erase(client) > 0) {
      clients_gauge_->Set({}, static_cast<double>(clients_.size()));
    }
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return clients_.size();
  }

 private:
  // Timer callbacks may outlive the hub's interest in them; they reach the hub through this.
  struct HeartbeatState {
    std::mutex mu;
    SseHub* hub = nullptr;  // null once the hub stops
    TimerId timer = TimerId::kInvalid;
  };

  // Requires state->mu held and state->hub set. The timer's callback holds state->mu while it
  // touches the hub and re-arms, and Stop clears state->hub under it: no callback can reach a
  // stopped hub.
  void ArmHeartbeatLocked(const std::shared_ptr<HeartbeatState>& state) {
    std::weak_ptr<HeartbeatState> weak = state;
    state->timer = clock_.ScheduleAfter(heartbeat_, [weak] {
      auto s = weak.lock();
      if (!s) return;
      std::lock_guard lock(s->mu);
      if (s->hub == nullptr) return;
      s->hub->HeartbeatDue();
      s->hub->ArmHeartbeatLocked(s);
    });
  }

  void HeartbeatDue() {
    {
      std::lock_guard lock(mu_);
      heartbeat_due_ = true;
    }
    cv_.notify_one();
  }

  void Wake() {
    {
      std::lock_guard lock(mu_);
      work_ = true;
    }
    cv_.notify_one();
  }

  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || work_ || heartbeat_due_; });
      if (stopping_) return;
      const bool heartbeat = std::exchange(heartbeat_due_, false);
      work_ = false;
      std::vector<std::shared_ptr<SseClient>> clients;
      clients.reserve(clients_.size());
      for (const auto& client : clients_) {
        if (client->attached) clients.push_back(client);
      }
      lock.unlock();
      bool behind = FeedMetrics();
      const int64_t last = log_->LastSequence();
      throttled_ = false;
      for (const auto& client : clients) behind |= Feed(*client, last, heartbeat);
      lock.lock();
      if (behind) {
        work_ = true;
      } else if (throttled_) {
        // Only clients whose sockets are still draining are behind: look again shortly.
        cv_.wait_for(lock, kSseDrainPoll, [&] { return stopping_ || work_ || heartbeat_due_; });
        work_ = true;
      }
    }
  }

  // Counts new events into the metrics. True when more remain.
  bool FeedMetrics() {
    if (!on_event_) return false;
    int64_t scanned = metrics_cursor_;
    StatusOr<std::vector<store::StoredEvent>> events =
        log_->Read(metrics_cursor_, store::EventFilter{}, kMetricsBatch, &scanned);
    if (!events.ok()) return false;
    for (const store::StoredEvent& event : *events) on_event_(event);
    const int64_t next =
        std::max(scanned, events->empty() ? metrics_cursor_ : events->back().sequence);
    const bool progressed = next > metrics_cursor_;
    metrics_cursor_ = std::max(metrics_cursor_, next);
    return progressed && metrics_cursor_ < log_->LastSequence();
  }

  static void AppendFrames(const SseClient& client, const store::StoredEvent& event,
                           std::string* out) {
    const std::string sequence = std::to_string(event.sequence);
    if (client.kind != SseClient::Kind::kLogs) {
      out->append("id: ").append(sequence).append("\nevent: ");
      out->append(EventKind(event)).append("\ndata: ").append(event.envelope).append("\n\n");
      return;
    }
    if (event.source != kLogSource) return;
    StatusOr<json::value> envelope = ParseJson(event.envelope);
    if (!envelope.ok() || !envelope->is_object()) return;
    const json::value* detail = envelope->as_object().if_contains("detail");
    if (detail == nullptr || !detail->is_object()) return;
    const json::object& d = detail->as_object();
    const json::value* stream = d.if_contains("logStream");
    const json::value* lines = d.if_contains("lines");
    if (lines == nullptr || !lines->is_array()) return;
    const json::array& items = lines->as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_object()) continue;
      const json::object& line = items[i].as_object();
      json::object data;
      const json::value* timestamp = line.if_contains("timestamp");
      const json::value* message = line.if_contains("message");
      data["timestamp"] = timestamp != nullptr ? *timestamp : json::value(nullptr);
      data["logStream"] = stream != nullptr ? *stream : json::value("");
      data["message"] = message != nullptr ? *message : json::value("");
      // Only the event's last line carries the id: a client that resumes from it has every
      // line; one cut off mid-event gets the whole event again rather than losing lines.
      if (i + 1 == items.size()) out->append("id: ").append(sequence).push_back('\n');
      out->append("event: log\ndata: ").append(SerializeJson(data)).append("\n\n");
    }
  }

  static bool IsTerminalStatusEvent(const store::StoredEvent& event) {
    if (event.detail_type != kStatusDetailType) return false;
    StatusOr<json::value> envelope = ParseJson(event.envelope);
    if (!envelope.ok() || !envelope->is_object()) return false;
    const json::value* detail = envelope->as_object().if_contains("detail");
    if (detail == nullptr || !detail->is_object()) return false;
    const json::value* status = detail->as_object().if_contains("status");
    return status != nullptr && status->is_string() && TerminalStatus(status->as_string());
  }

  // Sends `client` what it has not seen, up to a few batches. True when it is still behind.
  bool Feed(SseClient& client, int64_t last, bool heartbeat) {
    std::shared_ptr<HttpStreamWriter> writer;
    bool end_requested = false;
    {
      std::lock_guard lock(mu_);
      if (client.removed) return false;
      writer = client.writer;
      end_requested = client.end_requested;
    }
    if (writer->closed()) return false;
    if (writer->unsent_bytes() > kSseHighWaterBytes) {
      throttled_ = true;
      if (heartbeat) writer->Write(": hb\n\n");
      return false;
    }
    // The budget is per event: one round of kSseBatch events (each up to 256 KiB) could otherwise
    // outgrow the server's stream queue limit in a single write, which closes the stream, and a
    // client resuming from there would be closed again, never catching up.
    std::string out;
    bool budget_spent = false;
    for (int round = 0; round < kSseRoundsPerWake && client.cursor < last && !budget_spent;
         ++round) {
      const int64_t from = client.cursor;
      int64_t scanned = from;
      StatusOr<std::vector<store::StoredEvent>> events =
          log_->Read(from, client.filter, kSseBatch, &scanned);
      if (!events.ok()) {
        writer->Close();
        return false;
      }
      for (const store::StoredEvent& event : *events) {
        if (service_ == nullptr || service_->MaySee(client.caller, event)) {
          AppendFrames(client, event, &out);
          if (client.kind != SseClient::Kind::kGlobal && IsTerminalStatusEvent(event)) {
            client.check_end = true;
          }
        }
        client.cursor = event.sequence;
        if (out.size() + writer->unsent_bytes() > kSseHighWaterBytes) {
          budget_spent = true;  // still behind: the rest of the batch waits for the socket
          break;
        }
      }
      if (budget_spent) break;
      // The whole batch went out: skip what the filter passed over, too.
      const int64_t next = std::max(scanned, events->empty() ? from : events->back().sequence);
      if (next <= from) break;
      client.cursor = std::max(client.cursor, next);
    }
    const bool behind = client.cursor < last;
    if (!behind && client.kind != SseClient::Kind::kGlobal) {
      if (end_requested) {
        out.append("event: end\ndata: {}\n\n");
        writer->Write(std::move(out));
        writer->Close();
        return false;
      }
      if (client.check_end) RequestEndCheck(client);
    }
    if (heartbeat) out.append(": hb\n\n");
    if (!out.empty()) writer->Write(std::move(out));
    return behind;
  }

  // Asks the read model, off this thread, whether the deployment is resting (its terminal status
  // sent and no cleanup or teardown running); if so the client gets `end`.
  void RequestEndCheck(SseClient& client) {
    if (service_ == nullptr) return;
    std::shared_ptr<SseClient> shared;
    {
      std::lock_guard lock(mu_);
      if (client.check_in_flight) return;
      for (const auto& c : clients_) {
        if (c.get() == &client) shared = c;
      }
      if (!shared) return;
      client.check_in_flight = true;
    }
    client.check_end = false;
    const int64_t applied = client.cursor;
    auto check = [this, shared, applied] {
      // Bounded: a cursor the read model never reaches (a client's made-up Last-Event-ID) must
      // not hold a worker.
      service_->WaitApplied(applied, std::chrono::seconds(5));
      StatusOr<json::object> deployment = service_->Get(shared->caller, shared->job_id);
      bool resting = false;
      if (deployment.ok()) {
        const json::value* status = deployment->if_contains("status");
        const json::value* phase = deployment->if_contains("phase");
        resting = status != nullptr && status->is_string() && TerminalStatus(status->as_string()) &&
                  phase != nullptr && phase->is_string() && RestingPhase(phase->as_string());
      }
      {
        std::lock_guard lock(mu_);
        shared->check_in_flight = false;
        if (resting) {
          shared->end_requested = true;
          work_ = true;
        }
      }
      cv_.notify_one();
    };
    // Uncapped: at most one per stream, and a full queue must not cost a stream its `end`.
    const bool posted =
        pool_->Post(std::move(check), /*capped=*/false) == WorkerPool::Posted::kQueued;
    if (!posted) {
      std::lock_guard lock(mu_);
      client.check_in_flight = false;
    }
  }

  store::EventLog* const log_;
  hyperpod::HyperPodService* const service_;
  Clock& clock_;
  const Duration heartbeat_;
  const size_t max_clients_;
  const size_t max_clients_per_token_;
  WorkerPool* const pool_;
  MetricFamily* const clients_gauge_;
  const std::function<void(const store::StoredEvent&)> on_event_;

  uint64_t subscription_ = 0;
  std::shared_ptr<HeartbeatState> heartbeat_state_;
  std::thread thread_;
  int64_t metrics_cursor_ = 0;  // hub thread only
  bool throttled_ = false;      // hub thread only: a client was held back this pass

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::shared_ptr<SseClient>> clients_;  // guarded by mu_
  bool work_ = false;                             // guarded by mu_
  bool heartbeat_due_ = false;                    // guarded by mu_
  bool stopping_ = false;                         // guarded by mu_
};

// Keeps a registered client until its stream opens; removes it if the response is dropped (the
// client went away before the headers were sent) so the slot is not lost.
struct SseReservation {
  SseReservation(SseHub* h, std::shared_ptr<SseClient> c) : hub(h), client(std::move(c)) {}
  ~SseReservation() {
    if (!attached) hub->Remove(client);
  }
  SseReservation(const SseReservation&) = delete;
  SseReservation& operator=(const SseReservation&) = delete;
  SseHub* hub;
  std::shared_ptr<SseClient> client;
  bool attached = false;
};

}  // namespace

// -----------------------------------------------------------------------------------------------

class RestApi::Impl {
 public:
  explicit Impl(RestApiOptions options)
      : options_(std::move(options)),
        clock_(*options_.clock),
        limiter_(clock_, options_.rate_limit_per_second, options_.rate_limit_burst),
        metrics_(options_.metrics != nullptr ? options_.metrics : &own_metrics_),
        pool_(options_.worker_threads, options_.max_queued_requests,
              metrics_->Gauge("hpd_http_queued_requests",
                              "REST API requests waiting for a worker thread.")) {
    requests_total_ =
        metrics_->Counter("hpd_http_requests_total", "HTTP requests answered by the REST API.",
                          {"method", "route", "code"});
    request_seconds_ = metrics_->Histogram("hpd_http_request_duration_seconds",
                                           "Time to answer a REST API request (to the headers of "
                                           "a stream).",
                                           {"route"});
    sse_clients_ = metrics_->Gauge("hpd_sse_clients", "Server-Sent Events streams open.");
    sse_clients_->Set({}, 0);
    rate_limited_ = metrics_->Counter("hpd_rate_limited_total",
                                      "Requests refused with 429 by the per-token rate limit.");
    rate_limited_->Add({}, 0);
    events_total_ = metrics_->Counter("hpd_events_total",
                                      "Events appended to the event log, by source.", {"source"});
    state_seconds_ = metrics_->Histogram(
        "hpd_state_duration_seconds", "Time spent in a workflow state, from entry to exit.",
        {"state"}, {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600});
    task_failures_ = metrics_->Counter(
        "hpd_task_failures_total", "Failed task attempts (retries included), by state.", {"state"});
    hub_ = std::make_unique<SseHub>(options_.events, options_.service, clock_,
                                    options_.sse_heartbeat, options_.max_sse_clients,
                                    options_.max_sse_clients_per_token, &pool_, sse_clients_,
                                    [this](const store::StoredEvent& e) { CountEvent(e); });
  }

  ~Impl() { Shutdown(); }

  Status Open() {
    if (!options_.audit_db.empty()) {
      HPD_ASSIGN_OR_RETURN(audit_, AuditLog::Open(options_.audit_db, clock_));
    }
    hub_->Start();
    return Status::Ok();
  }

  void Shutdown() {
    if (stopped_.exchange(true)) return;
    hub_->Stop();
    pool_.Stop();
  }

  MetricsRegistry& metrics() { return *metrics_; }
  size_t sse_clients() const { return hub_->size(); }

  void Handle(HttpRequest request, HttpResponder respond);

  HttpResponse ServerErrorResponse(int status, std::string_view message) {
    std::string code = "InternalError";
    if (status == 400) code = "InvalidRequest";
    if (status == 413) code = "PayloadTooLarge";
    if (status == 431) code = "HeaderTooLarge";
    const std::string request_id = RandomHex(random_, 16);
    HttpResponse response = ErrorResponse(Error(code, std::string(message)), request_id);
    response.status = status;
    response.headers.emplace_back("X-Request-Id", request_id);
    return response;
  }

 private:
  // One request on its way through.
  struct Exchange {
    HttpRequest request;
    HttpResponder respond;
    std::string request_id;
    MonotonicTime started{};
    std::string route = "unmatched";  // template, for metrics
    ParsedTarget target;
    RouteMatch match;
    std::optional<Caller> caller;
    bool audited = false;
    std::string action;
    std::string audit_target;
  };
  using ExchangePtr = std::shared_ptr<Exchange>;

  void Authorized(const ExchangePtr& ex);
  void RunRoute(const ExchangePtr& ex);
  Reply Dispatch(Exchange& ex, const json::value& body);
  void Finish(const ExchangePtr& ex, Reply reply);
  Reply NoService(const Exchange& ex) {
    return Fail(ex, Error("BackendUnavailable", "the deployment service is not available"));
  }
  // The answer when the pool's queue is full.
  Reply Busy(const Exchange& ex) {
    ApiError error = Error("BackendUnavailable",
                           "the server is busy (" + std::to_string(options_.max_queued_requests) +
                               " requests are waiting for a worker); retry after 1 s");
    error.headers.emplace_back("Retry-After", "1");
    return Fail(ex, std::move(error));
  }
  // Whether a logs request asks for the stream rather than a page.
  bool WantsLogStream(const Exchange& ex) const {
    return Query(ex, "follow") == std::optional<std::string>("true") ||
           ex.request.Header("accept").find("text/event-stream") != std::string_view::npos;
  }
  Reply Fail(const Exchange& ex, ApiError error) {
    std::string code = error.code;
    return Reply{ErrorResponse(error, ex.request_id), std::move(code), ""};
  }
  void CountEvent(const store::StoredEvent& event);

  // Route work.
  Reply Readyz();
  Reply Metrics();
  Reply OpenApi();
  Reply Validate(Exchange& ex, const json::value& body);
  Reply Create(Exchange& ex, const json::value& body);
  Reply List(Exchange& ex);
  Reply Get(Exchange& ex);
  Reply Cancel(Exchange& ex, const json::value& body, bool teardown);
  Reply History(Exchange& ex);
  Reply Logs(Exchange& ex);
  Reply Stream(Exchange& ex, SseClient::Kind kind);
  Reply Ingest(Exchange& ex, const json::value& body);
  Reply WebhookList(Exchange& ex);
  Reply WebhookCreate(Exchange& ex, const json::value& body);
  Reply WebhookGet(Exchange& ex, bool remove);
  Reply WebhookDeliveries(Exchange& ex);
  Reply Audit(Exchange& ex);

  // Helpers.
  std::optional<std::string> Query(const Exchange& ex, std::string_view name) const;
  std::optional<ApiError> QueryInt(const Exchange& ex, std::string_view name, int64_t min,
                                   int64_t max, int64_t* value) const;
  std::optional<ApiError> QueryBool(const Exchange& ex, std::string_view name, bool* value) const;
  std::optional<ApiError> JobId(const Exchange& ex, std::string* job_id) const;
  // Checks the webhook `id` exists and the caller may see it.
  StatusOr<Webhook> VisibleWebhook(const Exchange& ex, const std::string& id) const;

  const RestApiOptions options_;
  Clock& clock_;
  SystemRandom random_;
  RateLimiter limiter_;
  MetricsRegistry own_metrics_;
  MetricsRegistry* const metrics_;
  MetricFamily* requests_total_ = nullptr;
  MetricFamily* request_seconds_ = nullptr;
  MetricFamily* sse_clients_ = nullptr;
  MetricFamily* rate_limited_ = nullptr;
  MetricFamily* events_total_ = nullptr;
  MetricFamily* state_seconds_ = nullptr;
  MetricFamily* task_failures_ = nullptr;
  std::unique_ptr<AuditLog> audit_;
  WorkerPool pool_;
  std::unique_ptr<SseHub> hub_;
  std::atomic<bool> stopped_{false};
};

void RestApi::Impl::CountEvent(const store::StoredEvent& event) {
  events_total_->Add({event.source});
  const bool exited = event.detail_type == "Execution State Exited";
  const bool failed = event.detail_type == "Execution Task Failed";
  if (!exited && !failed) return;
  StatusOr<json::value> envelope = ParseJson(event.envelope);
  if (!envelope.ok() || !envelope->is_object()) return;
  const json::value* detail = envelope->as_object().if_contains("detail");
  if (detail == nullptr || !detail->is_object()) return;
  const json::value* state = detail->as_object().if_contains("state");
  if (state == nullptr || !state->is_string()) return;
  const std::string name(state->as_string());
  if (failed) {
    task_failures_->Add({name});
    return;
  }
  const json::value* duration = detail->as_object().if_contains("durationMs");
  if (duration == nullptr || !duration->is_number()) return;
  state_seconds_->Observe({name}, duration->to_number<double>() / 1000.0);
}

void RestApi::Impl::Handle(HttpRequest request, HttpResponder respond) {
  auto ex = std::make_shared<Exchange>();
  ex->request = std::move(request);
  ex->respond = std::move(respond);
  ex->request_id = RandomHex(random_, 16);
  ex->started = clock_.MonotonicNow();
  if (stopped_) {
    return Finish(ex, Fail(*ex, Error("BackendUnavailable", "the server is shutting down")));
  }
  if (std::optional<ApiError> error = ParseTarget(ex->request.target, &ex->target)) {
    return Finish(ex, Fail(*ex, std::move(*error)));
  }
  ex->match = MatchRoute(ex->request.method, ex->target.segments);
  if (!ex->match.template_path.empty()) ex->route = ex->match.template_path;
  if (ex->match.route != nullptr && !ex->match.route->role.has_value()) return RunRoute(ex);
  if (ex->match.route == nullptr && (ex->route == "/healthz" || ex->route == "/readyz")) {
    // Public paths answer a wrong method without asking for a token.
    ApiError error = Error("MethodNotAllowed", ex->request.method + " is not allowed on " +
                                                   ex->route + " (allowed: GET)");
    error.headers.emplace_back("Allow", "GET");
    return Finish(ex, Fail(*ex, std::move(error)));
  }

  // Authentication.
  if (options_.tokens == nullptr) {
    return Finish(ex, Fail(*ex, Error("BackendUnavailable", "no token store is configured")));
  }
  const std::string_view authorization = Trim(ex->request.Header("authorization"));
  ApiError unauthenticated = Error("Unauthenticated", "missing bearer token");
  unauthenticated.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"hpdeploy\"");
  if (authorization.empty()) return Finish(ex, Fail(*ex, unauthenticated));
  if (authorization.size() < 7 || Lower(authorization.substr(0, 7)) != "bearer ") {
    unauthenticated.message = "the Authorization header must be \"Bearer <token>\"";
    return Finish(ex, Fail(*ex, unauthenticated));
  }
  StatusOr<store::TokenInfo> token = options_.tokens->Authenticate(Trim(authorization.substr(7)));
  if (!token.ok()) {
    if (token.status().code() != StatusCode::kUnauthenticated) {
      return Finish(
          ex, Fail(*ex, Error("BackendUnavailable", "the token store is unavailable: " +
                                                        std::string(token.status().message()))));
    }
    unauthenticated.message = "invalid bearer token: " + std::string(token.status().message());
    return Finish(ex, Fail(*ex, unauthenticated));
  }
  ex->caller = Caller{token->name, token->role};

  // The token bucket is consulted here, on the I/O thread, before anything is queued: a token
  // over its rate must not fill the worker pool's queue (nor the audit log) with work it will
  // be refused. Ingest by an admin (the split topology's event forwarder) is system-to-system
  // traffic and exempt: throttling it would only delay the events every client waits for.
  const bool ingest = ex->match.route != nullptr && ex->match.route->id == RouteId::kIngest &&
                      store::RoleAllows(token->role, Role::kAdmin);
  if (!ingest) {
    if (const RateLimiter::Decision decision = limiter_.Take(token->name); !decision.allowed) {
      rate_limited_->Add({});
      ApiError error =
          Error("RateLimited", "too many requests for token " + token->name + "; retry after " +
                                   std::to_string(decision.retry_after_seconds) + " s");
      error.headers.emplace_back("Retry-After", std::to_string(decision.retry_after_seconds));
      return Finish(ex, Fail(*ex, std::move(error)));
    }
  }

  const std::string& method = ex->request.method;
  const bool mutation = (method == "POST" || method == "DELETE") &&
                        std::string_view(ex->target.path).starts_with(kApiPrefix);
  if (mutation) {
    // Audited before it is answered, so the write happens on the pool, never an I/O thread.
    ex->audited = true;
    ex->action = ex->match.route != nullptr ? std::string(ex->match.route->action)
                                            : method + " " + ex->route;
    if (auto it = ex->match.params.find("jobId"); it != ex->match.params.end()) {
      ex->audit_target = it->second;
    } else if (auto id = ex->match.params.find("id"); id != ex->match.params.end()) {
      ex->audit_target = id->second;
    }
    switch (pool_.Post([this, ex] { Authorized(ex); }, /*capped=*/true)) {
      case WorkerPool::Posted::kQueued:
        return;
      case WorkerPool::Posted::kFull:
        // Not audited: the audit write would land on this I/O thread, under exactly the load
        // the cap is there to shed (hpd_http_requests_total counts the 503s).
        ex->audited = false;
        return Finish(ex, Busy(*ex));
      case WorkerPool::Posted::kStopping:
        return Finish(ex, Fail(*ex, Error("BackendUnavailable", "the server is shutting down")));
    }
    return;
  }
  Authorized(ex);
}

void RestApi::Impl::Authorized(const ExchangePtr& ex) {
  const Caller& caller = *ex->caller;
  if (ex->match.route == nullptr) {
    if (ex->match.allowed.empty()) {
      return Finish(ex, Fail(*ex, Error("NotFound", "no route for " + ex->request.method + " " +
                                                        ex->target.path)));
    }
    std::string allow;
    for (const std::string& m : ex->match.allowed) allow += (allow.empty() ? "" : ", ") + m;
    ApiError error = Error("MethodNotAllowed", ex->request.method + " is not allowed on " +
                                                   ex->route + " (allowed: " + allow + ")");
    error.headers.emplace_back("Allow", allow);
    return Finish(ex, Fail(*ex, std::move(error)));
  }
  const Route& route = *ex->match.route;
  if (!store::RoleAllows(caller.role, *route.role)) {
    return Finish(ex, Fail(*ex, Error("Forbidden", "token " + caller.name + " (role " +
                                                       std::string(store::RoleName(caller.role)) +
                                                       ") may not " + ex->request.method + " " +
                                                       ex->route + ": it needs role " +
                                                       std::string(store::RoleName(*route.role)))));
  }
  RunRoute(ex);
}

void RestApi::Impl::RunRoute(const ExchangePtr& ex) {
  const Route& route = *ex->match.route;
  // Query: only the route's parameters, each at most once.
  std::vector<std::string> unknown;
  std::set<std::string> seen;
  for (const auto& [name, value] : ex->target.query) {
    const bool known = std::find(route.query.begin(), route.query.end(), name) != route.query.end();
    if (!known) {
      unknown.push_back(name);
    } else if (!seen.insert(name).second) {
      return Finish(ex, Fail(*ex, Error("InvalidParameter",
                                        "query parameter " + name + " is given more than once")));
    }
  }
  if (!unknown.empty()) {
    std::string names;
    std::vector<FieldError> fields;
    for (const std::string& name : unknown) {
      names += (names.empty() ? "" : ", ") + name;
      fields.push_back({name, "unknown query parameter"});
    }
    std::string allowed;
    for (std::string_view name : route.query)
      allowed += (allowed.empty() ? "" : ", ") + std::string(name);
    return Finish(ex, Fail(*ex, Error("InvalidParameter",
                                      "unknown query parameter(s): " + names + " (" + ex->route +
                                          " takes " + (allowed.empty() ? "none" : allowed) + ")",
                                      std::move(fields))));
  }

  // Body.
  json::value body;
  const std::string& text = ex->request.body;
  if (route.body == Body::kNone) {
    // GET and DELETE bodies carry no meaning here; ignored, as HTTP allows.
  } else if (text.empty()) {
    if (route.body == Body::kRequired) {
      return Finish(ex, Fail(*ex, Error("InvalidRequest",
                                        "the request needs a JSON object body "
                                        "(Content-Type: application/json)")));
    }
  } else {
    const std::string_view content_type = ex->request.Header("content-type");
    const std::string media = Lower(Trim(content_type.substr(0, content_type.find(';'))));
    if (media != "application/json") {
      return Finish(
          ex, Fail(*ex, Error("UnsupportedMediaType", "the body must be application/json, not \"" +
                                                          std::string(content_type) + "\"")));
    }
    StatusOr<json::value> parsed = ParseJson(text);
    if (!parsed.ok()) {
      return Finish(ex, Fail(*ex, Error("InvalidRequest", std::string(parsed.status().message()))));
    }
    if (!parsed->is_object()) {
      return Finish(ex, Fail(*ex, Error("InvalidRequest", "the body must be a JSON object, not " +
                                                              JsonTypeName(*parsed))));
    }
    body = std::move(*parsed);
  }

  // A page of logs may be large to build (up to 1,000 events of up to 256 KiB): on the pool,
  // like history. Its stream only registers with the hub and stays on this thread.
  const bool blocking = route.blocking || (route.id == RouteId::kLogs && !WantsLogStream(*ex));
  if (blocking && !ex->audited) {
    // Not on the pool yet (audited requests already are).
    auto shared_body = std::make_shared<json::value>(std::move(body));
    switch (pool_.Post([this, ex, shared_body] { Finish(ex, Dispatch(*ex, *shared_body)); },
                       /*capped=*/true)) {
      case WorkerPool::Posted::kQueued:
        return;
      case WorkerPool::Posted::kFull:
        return Finish(ex, Busy(*ex));
      case WorkerPool::Posted::kStopping:
        return Finish(ex, Fail(*ex, Error("BackendUnavailable", "the server is shutting down")));
    }
    return;
  }
  Finish(ex, Dispatch(*ex, body));
}

Reply RestApi::Impl::Dispatch(Exchange& ex, const json::value& body) {
  switch (ex.match.route->id) {
    case RouteId::kHealthz:
      return Ok(200, json::object{{"status", "ok"}});
    case RouteId::kReadyz:
      return Readyz();
    case RouteId::kMetrics:
      return Metrics();
    case RouteId::kOpenApi:
      return OpenApi();
    default:
      break;
  }
  if (auto it = ex.match.params.find("jobId"); it != ex.match.params.end()) {
    if (!ValidJobId(it->second)) {
      return Fail(ex, Error("InvalidRequest", "invalid jobId",
                            {{"jobId", "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"}}));
    }
  }
  switch (ex.match.route->id) {
    case RouteId::kPresets:
      if (options_.service == nullptr) return NoService(ex);
      return Ok(200, options_.service->Presets());
    case RouteId::kRegions:
      if (options_.service == nullptr) return NoService(ex);
      return Ok(200, options_.service->Regions());
    case RouteId::kValidate:
      return Validate(ex, body);
    case RouteId::kCreate:
      return Create(ex, body);
    case RouteId::kList:
      return List(ex);
    case RouteId::kGet:
      return Get(ex);
    case RouteId::kCancel:
      return Cancel(ex, body, false);
    case RouteId::kTeardown:
      return Cancel(ex, body, true);
    case RouteId::kHistory:
      return History(ex);
    case RouteId::kLogs:
      return Logs(ex);
    case RouteId::kDeploymentEvents:
      return Stream(ex, SseClient::Kind::kDeployment);
    case RouteId::kEvents:
      return Stream(ex, SseClient::Kind::kGlobal);
    case RouteId::kIngest:
      return Ingest(ex, body);
    case RouteId::kWebhookList:
      return WebhookList(ex);
    case RouteId::kWebhookCreate:
      return WebhookCreate(ex, body);
    case RouteId::kWebhookGet:
      return WebhookGet(ex, false);
    case RouteId::kWebhookDelete:
      return WebhookGet(ex, true);
    case RouteId::kWebhookDeliveries:
      return WebhookDeliveries(ex);
    case RouteId::kAudit:
      return Audit(ex);
    default:
      break;
  }
  return Fail(ex, Error("InternalError", "route without work"));
}

void RestApi::Impl::Finish(const ExchangePtr& ex, Reply reply) {
  reply.response.headers.emplace_back("X-Request-Id", ex->request_id);
  const int status = reply.response.status;
  if (ex->audited && audit_ != nullptr && ex->caller.has_value()) {
    AuditEntry entry;
    entry.actor = ex->caller->name;
    entry.role = std::string(store::RoleName(ex->caller->role));
    entry.action = ex->action;
    entry.target = std::string(
        Utf8Prefix(!reply.target.empty() ? reply.target : ex->audit_target, kMaxAuditTargetBytes));
    entry.status = status;
    entry.error_code = reply.error_code;
    entry.request_id = ex->request_id;
    entry.remote_address = ex->request.remote_address;
    if (StatusOr<AuditEntry> recorded = audit_->Record(std::move(entry)); !recorded.ok()) {
      // The request has happened; failing its answer would not undo it.
      std::cerr << "hpdeploy: audit log: " << recorded.status() << " (request " << ex->request_id
                << ")\n";
    }
  }
  static const std::set<std::string_view> kMethods = {"GET",   "POST", "DELETE", "PUT",
                                                      "PATCH", "HEAD", "OPTIONS"};
  const std::string method =
      kMethods.count(ex->request.method) > 0 ? ex->request.method : std::string("other");
  requests_total_->Add({method, ex->route, std::to_string(status)});
  request_seconds_->Observe(
      {ex->route}, std::chrono::duration<double>(clock_.MonotonicNow() - ex->started).count());
  ex->respond(std::move(reply.response));
}

// --- route work ---------------------------------------------------------------------------------

Reply RestApi::Impl::Readyz() {
  const bool ready = !options_.ready || options_.ready();
  return Ok(ready ? 200 : 503, json::object{{"status", ready ? "ready" : "not ready"},
                                            {"backend", options_.backend_description}});
}

Reply RestApi::Impl::Metrics() {
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = metrics_->Render();
  return Reply{std::move(response), "", ""};
}

Reply RestApi::Impl::OpenApi() {
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "application/yaml");
  response.body = options_.openapi_yaml;
  return Reply{std::move(response), "", ""};
}

std::optional<std::string> RestApi::Impl::Query(const Exchange& ex, std::string_view name) const {
  for (const auto& [n, v] : ex.target.query) {
    if (n == name) return v;
  }
  return std::nullopt;
}

std::optional<ApiError> RestApi::Impl::QueryInt(const Exchange& ex, std::string_view name,
                                                int64_t min, int64_t max, int64_t* value) const {
  const std::optional<std::string> text = Query(ex, name);
  if (!text) return std::nullopt;
  const std::optional<int64_t> parsed = ParseInt(*text);
  if (!parsed || *parsed < min || *parsed > max) {
    std::string range = std::to_string(min) + ".." + std::to_string(max);
    if (max == INT64_MAX) range = ">= " + std::to_string(min);
    return Error("InvalidParameter",
                 std::string(name) + " must be an integer " + range + ", not \"" + *text + "\"",
                 {{std::string(name), "must be an integer " + range}});
  }
  *value = *parsed;
  return std::nullopt;
}

std::optional<ApiError> RestApi::Impl::QueryBool(const Exchange& ex, std::string_view name,
                                                 bool* value) const {
  const std::optional<std::string> text = Query(ex, name);
  if (!text) return std::nullopt;
  if (*text != "true" && *text != "false") {
    return Error("InvalidParameter",
                 std::string(name) + " must be true or false, not \"" + *text + "\"",
                 {{std::string(name), "must be true or false"}});
  }
  *value = *text == "true";
  return std::nullopt;
}

std::optional<ApiError> RestApi::Impl::JobId(const Exchange& ex, std::string* job_id) const {
  *job_id = ex.match.params.at("jobId");
  if (!ValidJobId(*job_id)) {
    return Error("InvalidRequest", "invalid jobId",
                 {{"jobId", "must match ^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"}});
  }
  return std::nullopt;
}

Reply RestApi::Impl::Validate(Exchange& ex, const json::value& body) {
  std::vector<FieldError> fields;
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> report = options_.service->Validate(*ex.caller, body, &fields);
  if (!report.ok()) return Fail(ex, FromStatus(report.status(), std::move(fields)));
  return Ok(200, *report);
}

Reply RestApi::Impl::Create(Exchange& ex, const json::value& body) {
  const std::string_view key = ex.request.Header("idempotency-key");
  const bool has_key = std::any_of(ex.request.headers.begin(), ex.request.headers.end(),
                                   [](const auto& h) { return h.first == "idempotency-key"; });
  if (has_key &&
      (key.empty() || key.size() > kMaxIdempotencyKey ||
       !std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))) {
    return Fail(ex, Error("InvalidRequest", "invalid Idempotency-Key",
                          {{"Idempotency-Key", "must be 1 to 255 printable ASCII characters"}}));
  }
  if (body.is_object()) {
    if (const json::value* job = body.as_object().if_contains("jobId");
        job != nullptr && job->is_string()) {
      ex.audit_target = std::string(job->as_string());
    }
  }
  bool created = false;
  std::vector<FieldError> fields;
  json::value details;
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> deployment =
      options_.service->Start(*ex.caller, body, key, &created, &fields, &details);
  if (!deployment.ok()) {
    return Fail(ex, FromStatus(deployment.status(), std::move(fields), std::move(details)));
  }
  Reply reply = Ok(created ? 202 : 200, *deployment);
  if (const json::value* job = deployment->if_contains("jobId");
      job != nullptr && job->is_string()) {
    reply.target = std::string(job->as_string());
    reply.response.headers.emplace_back("Location", "/api/v1/hyperpod/deployments/" + reply.target);
  }
  return reply;
}

Reply RestApi::Impl::List(Exchange& ex) {
  hyperpod::ListQuery query;
  static const std::set<std::string_view> kStatuses = {"RUNNING", "SUCCEEDED", "FAILED",
                                                       "TIMED_OUT", "ABORTED"};
  if (std::optional<std::string> statuses = Query(ex, "status")) {
    std::string_view rest = *statuses;
    while (true) {
      const size_t comma = rest.find(',');
      const std::string status(Trim(rest.substr(0, comma)));
      if (kStatuses.count(status) == 0) {
        return Fail(ex, Error("InvalidParameter",
                              "status must be a comma-separated list of RUNNING, SUCCEEDED, "
                              "FAILED, TIMED_OUT, ABORTED; \"" +
                                  status + "\" is none of them",
                              {{"status", "unknown status " + status}}));
      }
      query.statuses.push_back(status);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
  }
  if (std::optional<std::string> by = Query(ex, "requestedBy")) {
    if (ex.caller->role == Role::kDeployer && *by != ex.caller->name) {
      return Fail(ex, Error("Forbidden",
                            "a deployer may list only its own deployments "
                            "(requestedBy=" +
                                ex.caller->name + ")"));
    }
    query.requested_by = *by;
  }
  for (const char* name : {"createdAfter", "createdBefore"}) {
    std::optional<std::string> text = Query(ex, name);
    if (!text) continue;
    StatusOr<WallTime> time = ParseRfc3339(*text);
    if (!time.ok()) {
      return Fail(ex, Error("InvalidParameter",
                            std::string(name) + " must be an RFC 3339 timestamp: " +
                                std::string(time.status().message()),
                            {{name, "must be an RFC 3339 timestamp"}}));
    }
    (std::string_view(name) == "createdAfter" ? query.created_after : query.created_before) = *time;
  }
  int64_t limit = 20;
  if (auto error = QueryInt(ex, "limit", 1, 100, &limit)) return Fail(ex, std::move(*error));
  query.limit = static_cast<size_t>(limit);
  query.next_token = Query(ex, "nextToken").value_or("");
  std::vector<FieldError> fields;
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> list = options_.service->List(*ex.caller, query, &fields);
  if (!list.ok()) return Fail(ex, FromStatus(list.status(), std::move(fields)));
  return Ok(200, *list);
}

Reply RestApi::Impl::Get(Exchange& ex) {
  std::string job_id;
  if (auto error = JobId(ex, &job_id)) return Fail(ex, std::move(*error));
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> deployment = options_.service->Get(*ex.caller, job_id);
  if (!deployment.ok()) return Fail(ex, FromStatus(deployment.status()));
  return Ok(200, *deployment);
}

Reply RestApi::Impl::Cancel(Exchange& ex, const json::value& body, bool teardown) {
  std::string job_id;
  if (auto error = JobId(ex, &job_id)) return Fail(ex, std::move(*error));
  // The body, when there is one, has nothing to say yet: any member is unknown.
  if (body.is_object() && !body.as_object().empty()) {
    std::vector<FieldError> fields;
    for (const auto& member : body.as_object()) {
      fields.push_back({std::string(member.key()), "unknown member"});
    }
    return Fail(ex, Error("InvalidRequest", "the body must be empty or {}", std::move(fields)));
  }
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> deployment = teardown ? options_.service->Teardown(*ex.caller, job_id)
                                               : options_.service->Cancel(*ex.caller, job_id);
  if (!deployment.ok()) return Fail(ex, FromStatus(deployment.status()));
  return Ok(202, *deployment);
}

Reply RestApi::Impl::History(Exchange& ex) {
  std::string job_id;
  if (auto error = JobId(ex, &job_id)) return Fail(ex, std::move(*error));
  int64_t limit = 100;
  bool reverse = false;
  if (auto error = QueryInt(ex, "limit", 1, 1000, &limit)) return Fail(ex, std::move(*error));
  if (auto error = QueryBool(ex, "reverse", &reverse)) return Fail(ex, std::move(*error));
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> history = options_.service->History(
      *ex.caller, job_id, Query(ex, "nextToken").value_or(""), static_cast<size_t>(limit), reverse);
  if (!history.ok()) return Fail(ex, FromStatus(history.status()));
  return Ok(200, *history);
}

Reply RestApi::Impl::Logs(Exchange& ex) {
  std::string job_id;
  if (auto error = JobId(ex, &job_id)) return Fail(ex, std::move(*error));
  bool follow = false;
  if (auto error = QueryBool(ex, "follow", &follow)) return Fail(ex, std::move(*error));
  if (follow || WantsLogStream(ex)) {
    return Stream(ex, SseClient::Kind::kLogs);
  }
  int64_t after = 0;
  int64_t limit = 100;
  if (auto error = QueryInt(ex, "after", 0, INT64_MAX, &after)) return Fail(ex, std::move(*error));
  if (auto error = QueryInt(ex, "limit", 1, 1000, &limit)) return Fail(ex, std::move(*error));
  if (options_.service == nullptr) return NoService(ex);
  StatusOr<json::object> logs =
      options_.service->Logs(*ex.caller, job_id, after, static_cast<size_t>(limit));
  if (!logs.ok()) return Fail(ex, FromStatus(logs.status()));
  return Ok(200, *logs);
}

Reply RestApi::Impl::Stream(Exchange& ex, SseClient::Kind kind) {
  // Where to start: Last-Event-ID, else ?after=, else the beginning (one deployment) or the
  // current end (everything).
  std::optional<int64_t> start;
  std::string start_field;  // where `start` came from, for the error's field path
  int64_t after = 0;
  if (auto error = QueryInt(ex, "after", 0, INT64_MAX, &after)) return Fail(ex, std::move(*error));
  if (Query(ex, "after")) {
    start = after;
    start_field = "after";
  }
  const std::string_view last_event_id = Trim(ex.request.Header("last-event-id"));
  if (!last_event_id.empty()) {
    const std::optional<int64_t> id = ParseInt(last_event_id);
    if (!id || *id < 0) {
      return Fail(
          ex, Error("InvalidParameter", "Last-Event-ID must be an event sequence (an integer >= 0)",
                    {{"Last-Event-ID", "must be an integer >= 0"}}));
    }
    start = *id;
    start_field = "Last-Event-ID";
  }
  if (options_.events == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "the event log is not available"));
  }
  // A position the log has not reached (another server's, or made up) would open a stream that
  // waits for events the client may already have, or never catches up: refuse it.
  if (const int64_t last = options_.events->LastSequence(); start && *start > last) {
    return Fail(ex, Error("InvalidParameter",
                          start_field + " " + std::to_string(*start) +
                              " is beyond the event log's last sequence " + std::to_string(last),
                          {{start_field, "must be at most " + std::to_string(last)}}));
  }
  if (options_.service == nullptr) return NoService(ex);
  SseClient spec;
  spec.kind = kind;
  spec.caller = *ex.caller;
  if (kind == SseClient::Kind::kGlobal) {
    spec.filter = options_.service->CallerEvents(*ex.caller);
  } else {
    spec.job_id = ex.match.params.at("jobId");
    StatusOr<store::EventFilter> filter =
        options_.service->DeploymentEvents(*ex.caller, spec.job_id);
    if (!filter.ok()) return Fail(ex, FromStatus(filter.status()));
    spec.filter = std::move(*filter);
  }
  if (!start) start = kind == SseClient::Kind::kGlobal ? options_.events->LastSequence() : 0;
  spec.cursor = *start;
  std::string refusal;
  std::shared_ptr<SseClient> client = hub_->Register(std::move(spec), &refusal);
  if (!client) return Fail(ex, Error("BackendUnavailable", std::move(refusal)));
  auto reservation = std::make_shared<SseReservation>(hub_.get(), client);
  HttpResponse response;
  response.status = 200;
  response.headers.emplace_back("Content-Type", "text/event-stream");
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.headers.emplace_back("X-Accel-Buffering", "no");
  response.body = "retry: 1000\n\n: ok\n\n";
  SseHub* hub = hub_.get();
  response.stream = [hub, reservation](std::shared_ptr<HttpStreamWriter> writer) {
    reservation->attached = true;
    hub->Attach(reservation->client, std::move(writer));
  };
  return Reply{std::move(response), "", ""};
}

Reply RestApi::Impl::Ingest(Exchange& ex, const json::value& body) {
  if (options_.events == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "the event log is not available"));
  }
  const json::object& object = body.as_object();
  std::vector<json::object> envelopes;
  if (const json::value* entries = object.if_contains("entries"); entries != nullptr) {
    std::vector<FieldError> fields;
    for (const auto& member : object) {
      if (member.key() != "entries")
        fields.push_back({std::string(member.key()), "unknown member"});
    }
    if (!entries->is_array()) fields.push_back({"entries", "must be an array of event envelopes"});
    if (!fields.empty()) return Fail(ex, Error("InvalidRequest", "invalid ingest body", fields));
    const json::array& items = entries->as_array();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_object()) {
        fields.push_back(
            {"entries[" + std::to_string(i) + "]", "must be an event envelope object"});
        continue;
      }
      envelopes.push_back(items[i].as_object());
    }
    if (!fields.empty()) return Fail(ex, Error("InvalidRequest", "invalid ingest body", fields));
  } else {
    envelopes.push_back(object);
  }
  StatusOr<store::AppendResult> result = options_.events->Append(envelopes);
  if (!result.ok()) return Fail(ex, FromStatus(result.status()));
  if (options_.service != nullptr && !result->appended.empty()) {
    // So that the caller's next read sees what it ingested.
    options_.service->WaitApplied(result->appended.back().sequence, std::chrono::seconds(2));
  }
  const auto appended = static_cast<int64_t>(result->appended.size());
  return Ok(200, json::object{{"appended", appended},
                              {"duplicates", static_cast<int64_t>(envelopes.size()) - appended}});
}

StatusOr<Webhook> RestApi::Impl::VisibleWebhook(const Exchange& ex, const std::string& id) const {
  StatusOr<Webhook> webhook = options_.webhooks->Get(id);
  if (!webhook.ok()) return webhook.status();
  if (ex.caller->role != Role::kAdmin && webhook->owner != ex.caller->name &&
      webhook->created_by != ex.caller->name) {
    return Named(NotFoundError("no webhook " + id), "WebhookNotFound");
  }
  return webhook;
}

Reply RestApi::Impl::WebhookList(Exchange& ex) {
  if (options_.webhooks == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "webhooks are not available on this server"));
  }
  StatusOr<std::vector<Webhook>> webhooks = options_.webhooks->List();
  if (!webhooks.ok()) return Fail(ex, FromStatus(webhooks.status()));
  json::array items;
  for (const Webhook& webhook : *webhooks) {
    if (ex.caller->role != Role::kAdmin && webhook.owner != ex.caller->name &&
        webhook.created_by != ex.caller->name) {
      continue;
    }
    items.push_back(WebhookJson(webhook));
  }
  return Ok(200, json::object{{"webhooks", std::move(items)}});
}

Reply RestApi::Impl::WebhookCreate(Exchange& ex, const json::value& body) {
  if (options_.webhooks == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "webhooks are not available on this server"));
  }
  WebhookSpec spec;
  std::vector<FieldError> fields;
  bool has_url = false;
  for (const auto& member : body.as_object()) {
    const std::string name(member.key());
    const json::value& value = member.value();
    if (name == "url") {
      has_url = true;
      if (!value.is_string()) {
        fields.push_back({name, "must be a string"});
        continue;
      }
      spec.url = std::string(value.as_string());
      const std::string lower = Lower(spec.url);
      if (!lower.starts_with("http://") && !lower.starts_with("https://")) {
        fields.push_back({name, "must be an http:// or https:// URL"});
      }
    } else if (name == "secret") {
      if (!value.is_string() || value.as_string().size() < 16) {
        fields.push_back({name, "must be a string of at least 16 characters"});
        continue;
      }
      spec.secret = std::string(value.as_string());
    } else if (name == "description") {
      if (!value.is_string()) {
        fields.push_back({name, "must be a string"});
        continue;
      }
      spec.description = std::string(value.as_string());
    } else if (name == "detailTypes") {
      if (!value.is_array()) {
        fields.push_back({name, "must be an array of strings"});
        continue;
      }
      const json::array& types = value.as_array();
      for (size_t i = 0; i < types.size(); ++i) {
        if (!types[i].is_string()) {
          fields.push_back({name + "[" + std::to_string(i) + "]", "must be a string"});
          continue;
        }
        spec.detail_types.emplace_back(types[i].as_string());
      }
    } else {
      fields.push_back({name, "unknown member"});
    }
  }
  if (!has_url) fields.push_back({"url", "is required"});
  if (!fields.empty()) return Fail(ex, Error("InvalidRequest", "invalid webhook", fields));
  // A deployer's webhook receives only its own deployments' events.
  if (ex.caller->role != Role::kAdmin) spec.owner = ex.caller->name;
  StatusOr<Webhook> webhook = options_.webhooks->Create(spec, ex.caller->name);
  if (!webhook.ok()) return Fail(ex, FromStatus(webhook.status()));
  Reply reply = Ok(201, WebhookJson(*webhook));
  reply.target = webhook->id;
  reply.response.headers.emplace_back("Location", "/api/v1/webhooks/" + webhook->id);
  return reply;
}

Reply RestApi::Impl::WebhookGet(Exchange& ex, bool remove) {
  if (options_.webhooks == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "webhooks are not available on this server"));
  }
  const std::string& id = ex.match.params.at("id");
  StatusOr<Webhook> webhook = VisibleWebhook(ex, id);
  if (!webhook.ok()) return Fail(ex, FromStatus(webhook.status()));
  if (!remove) return Ok(200, WebhookJson(*webhook));
  if (Status deleted = options_.webhooks->Delete(id); !deleted.ok()) {
    return Fail(ex, FromStatus(deleted));
  }
  HttpResponse response;
  response.status = 204;
  return Reply{std::move(response), "", ""};
}

Reply RestApi::Impl::WebhookDeliveries(Exchange& ex) {
  if (options_.webhooks == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "webhooks are not available on this server"));
  }
  int64_t limit = 100;
  int64_t before = 0;
  if (auto error = QueryInt(ex, "limit", 1, 1000, &limit)) return Fail(ex, std::move(*error));
  if (auto error = QueryInt(ex, "before", 1, INT64_MAX, &before))
    return Fail(ex, std::move(*error));
  const std::string& id = ex.match.params.at("id");
  StatusOr<Webhook> webhook = VisibleWebhook(ex, id);
  if (!webhook.ok()) return Fail(ex, FromStatus(webhook.status()));
  StatusOr<std::vector<DeliveryRecord>> records =
      options_.webhooks->Deliveries(id, before, static_cast<size_t>(limit));
  if (!records.ok()) return Fail(ex, FromStatus(records.status()));
  json::array items;
  for (const DeliveryRecord& record : *records) items.push_back(DeliveryJson(record));
  return Ok(200, json::object{{"deliveries", std::move(items)}});
}

Reply RestApi::Impl::Audit(Exchange& ex) {
  if (audit_ == nullptr) {
    return Fail(ex, Error("BackendUnavailable", "the audit log is not available"));
  }
  int64_t limit = 100;
  if (auto error = QueryInt(ex, "limit", 1, 1000, &limit)) return Fail(ex, std::move(*error));
  StatusOr<AuditPage> page =
      audit_->List(static_cast<size_t>(limit), Query(ex, "nextToken").value_or(""));
  if (!page.ok()) {
    ApiError error = FromStatus(page.status());
    if (error.code == "InvalidParameter") error.fields.push_back({"nextToken", "unknown token"});
    return Fail(ex, std::move(error));
  }
  json::array entries;
  for (const AuditEntry& entry : page->entries) entries.push_back(AuditEntryJson(entry));
  return Ok(200,
            json::object{{"entries", std::move(entries)},
                         {"nextToken", page->next_token.empty() ? json::value(nullptr)
                                                                : json::value(page->next_token)}});
}

// -----------------------------------------------------------------------------------------------

StatusOr<std::unique_ptr<RestApi>> RestApi::Create(RestApiOptions options) {
  if (options.clock == nullptr) return InvalidArgumentError("RestApi needs a clock");
  auto impl = std::make_unique<Impl>(std::move(options));
  HPD_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<RestApi>(new RestApi(std::move(impl)));
}

RestApi::RestApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RestApi::~RestApi() { Shutdown(); }

void RestApi::Handle(HttpRequest request, HttpResponder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

HttpHandler RestApi::handler() {
  return [this](HttpRequest request, HttpResponder respond) {
    Handle(std::move(request), std::move(respond));
  };
}

MetricsRegistry& RestApi::metrics() { return impl_->metrics(); }

void RestApi::Shutdown() { impl_->Shutdown(); }

HttpResponse RestApi::ServerErrorResponse(int status, std::string_view message) {
  return impl_->ServerErrorResponse(status, message);
}

size_t RestApi::sse_clients() const { return impl_->sse_clients(); }

}  // namespace hpd::server
