#include "hyperpod/service.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/digest.h"
#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/uuid.h"
#include "hyperpod/names.h"
#include "hyperpod/request.h"
#include "store/sqlite.h"

namespace hpd::hyperpod {
namespace {

namespace json = boost::json;
using store::Database;
using store::Statement;

// Event names the read model follows (engine/event_publisher.h, hyperpod/progress_events.h).
constexpr char kStatusChange[] = "Step Functions Execution Status Change";
constexpr char kStateEntered[] = "Execution State Entered";
constexpr char kGuardrailReport[] = "HyperPod Guardrail Report";
constexpr char kCleanupResult[] = "HyperPod Cleanup Result";
constexpr char kFailureRecord[] = "HyperPod Failure Record";
constexpr char kDeploymentOutputs[] = "HyperPod Deployment Outputs";
constexpr char kTeardownResult[] = "HyperPod Teardown Result";
constexpr char kLogLines[] = "Container Log Lines";
constexpr char kAppliedCursor[] = "applied";
// The most log lines one Logs page holds.
constexpr size_t kMaxLogLines = 1000;
// cancellation.status between the stop and the cleanup workflow's first event.
constexpr char kCleanupStarting[] = "STARTING";

constexpr size_t kMaxIdempotencyKey = 255;

constexpr char kSchema[] = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS deployments (
  job_id TEXT PRIMARY KEY,
  execution_arn TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  requested_at TEXT NOT NULL,
  requested_at_ms INTEGER NOT NULL,
  request TEXT NOT NULL,
  status TEXT NOT NULL,
  current_state TEXT,
  started_at TEXT,
  stopped_at TEXT,
  error TEXT,
  cause TEXT,
  guardrails TEXT,
  outputs TEXT,
  failure TEXT,
  cleanup TEXT,
  cancellation TEXT,
  teardown TEXT,
  idempotency_key TEXT,
  request_hash TEXT
);
CREATE INDEX IF NOT EXISTS deployments_by_time ON deployments (requested_at_ms, job_id);
CREATE INDEX IF NOT EXISTS deployments_by_requester
  ON deployments (requested_by, requested_at_ms, job_id);
CREATE UNIQUE INDEX IF NOT EXISTS deployments_by_idempotency_key
  ON deployments (requested_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

const std::vector<std::string>& KnownStatuses() {
  static const std::vector<std::string> statuses = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT",
                                                    "ABORTED"};
  return statuses;
}

Status Invalid(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "InvalidRequest");
}

Status NotFound(std::string_view job_id) {
  return Named(NotFoundError("no deployment " + std::string(job_id)), "DeploymentNotFound");
}

Status BackendError(const Status& status) {
  return Named(UnavailableError("the workflow backend failed: " + std::string(status.message())),
               "BackendUnavailable");
}

// A JSON object text, or null when empty / unparsable.
json::value ParsedOrNull(const std::optional<std::string>& text) {
  if (!text || text->empty()) return nullptr;
  StatusOr<json::value> parsed = ParseJson(*text);
  return parsed.ok() ? std::move(*parsed) : json::value(nullptr);
}

std::string StringAt(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
}

// The "path: message" form ParseDeploymentRequest uses, split for the error's fields.
FieldError SplitFieldMessage(std::string_view message) {
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos ||
      message.substr(0, colon).find(' ') != std::string_view::npos) {
    return {"", std::string(message)};
  }
  return {std::string(message.substr(0, colon)), std::string(message.substr(colon + 2))};
}

// The job id rule of the API: it names an execution (80 characters), an S3 key segment and a
// parameter level, and appears in URLs.
bool ValidApiJobId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const char c = id[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || c != '-')) return false;
  }
  return true;
}

std::string MillisToRfc3339(const json::value* ms) {
  if (ms == nullptr || !ms->is_number()) return "";
  const int64_t value =
      ms->is_int64() ? ms->get_int64() : static_cast<int64_t>(ms->to_number<double>());
  return FormatRfc3339Millis(WallTime(std::chrono::milliseconds(value)));
}

// "arn:aws:states:R:A:stateMachine:NAME" -> "arn:aws:states:R:A:execution:NAME:"
std::string ExecutionPrefix(std::string_view machine_arn) {
  std::string prefix(machine_arn);
  const size_t at = prefix.find(":stateMachine:");
  if (at == std::string::npos) return prefix + ":";
  prefix.replace(at, std::string_view(":stateMachine:").size(), ":execution:");
  return prefix + ":";
}

// Strict shape check of a create/validate body: unknown members anywhere are named by path.
void CheckBodyShape(const json::object& body, std::vector<FieldError>& fields) {
  static const std::vector<std::string> top = {"jobId", "timeoutSeconds", "config", "guardrails"};
  static const std::vector<std::string> config = {"preset", "region", "name", "overrides"};
  static const std::vector<std::string> guardrails = {"quotaChecks"};
  for (const auto& member : body) {
    const std::string key(member.key());
    if (key == "requestedBy" || key == "requestedAt") {
      fields.push_back(
          {key, "is set by the server (from the token and its clock), not the client"});
    } else if (key == "artifacts") {
      fields.push_back({key, "is the server's configuration, not the client's"});
    } else if (std::find(top.begin(), top.end(), key) == top.end()) {
      fields.push_back({key, "is not a known member"});
    }
  }
  auto check_object = [&fields](const json::object& object, const std::string& path,
                                const std::vector<std::string>& known) {
    for (const auto& member : object) {
      const std::string key(member.key());
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        fields.push_back({path + "." + key, "is not a known member"});
      }
    }
  };
  if (const json::value* c = body.if_contains("config")) {
    if (!c->is_object()) {
      fields.push_back({"config", "must be an object"});
    } else {
      check_object(c->get_object(), "config", config);
      const json::value* overrides = c->get_object().if_contains("overrides");
      if (overrides != nullptr && !overrides->is_object()) {
        fields.push_back({"config.overrides", "must be an object"});
      }
    }
  } else {
    fields.push_back({"config", "is required"});
  }
  if (const json::value* g = body.if_contains("guardrails")) {
    if (!g->is_object()) {
      fields.push_back({"guardrails", "must be an object"});
    } else {
      check_object(g->get_object(), "guardrails", guardrails);
    }
  }
  if (const json::value* id = body.if_contains("jobId")) {
    if (!id->is_string()) {
      fields.push_back({"jobId", "must be a string"});
    } else if (!ValidApiJobId(id->get_string())) {
      fields.push_back({"jobId",
                        "must be 1 to 64 letters, digits and '-', starting with a letter "
                        "or digit"});
    }
  }
}

struct Row {
  std::string job_id;
  std::string execution_arn;
  std::string requested_by;
  std::string requested_at;
  int64_t requested_at_ms = 0;
  std::string request;
  std::string status;
  std::optional<std::string> current_state, started_at, stopped_at, error, cause, guardrails,
      outputs, failure, cleanup, cancellation, teardown, idempotency_key, request_hash;
};

constexpr char kRowColumns[] =
    "job_id, execution_arn, requested_by, requested_at, requested_at_ms, request, status, "
    "current_state, started_at, stopped_at, error, cause, guardrails, outputs, failure, cleanup, "
    "cancellation, teardown, idempotency_key, request_hash";

Row ReadRow(const Statement& s) {
  Row r;
  r.job_id = std::string(s.Text(0));
  r.execution_arn = std::string(s.Text(1));
  r.requested_by = std::string(s.Text(2));
  r.requested_at = std::string(s.Text(3));
  r.requested_at_ms = s.Int(4);
  r.request = std::string(s.Text(5));
  r.status = std::string(s.Text(6));
  r.current_state = s.OptionalText(7);
  r.started_at = s.OptionalText(8);
  r.stopped_at = s.OptionalText(9);
  r.error = s.OptionalText(10);
  r.cause = s.OptionalText(11);
  r.guardrails = s.OptionalText(12);
  r.outputs = s.OptionalText(13);
  r.failure = s.OptionalText(14);
  r.cleanup = s.OptionalText(15);
  r.cancellation = s.OptionalText(16);
  r.teardown = s.OptionalText(17);
  r.idempotency_key = s.OptionalText(18);
  r.request_hash = s.OptionalText(19);
  return r;
}

std::string Phase(const Row& r, const json::value& cancellation, const json::value& teardown) {
  if (cancellation.is_object()) {
    const std::string status = StringAt(cancellation.get_object(), "status");
    return status == "SUCCEEDED" || status == "FAILED" || status == "TIMED_OUT" ||
                   status == "ABORTED"
               ? "CANCELLED"
               : "CANCELLING";
  }
  if (teardown.is_object()) {
    const std::string status = StringAt(teardown.get_object(), "status");
    if (status == "SUCCEEDED") return "TORN_DOWN";
    if (status == "RUNNING" || status == "PENDING") return "TEARING_DOWN";
    return "TEARDOWN_FAILED";
  }
  if (r.status == "RUNNING" || r.status == "PENDING") return "DEPLOYING";
  if (r.status == "SUCCEEDED") return "SUCCEEDED";
  return "FAILED";
}

json::object RowToJson(const Row& r) {
  const std::string self = "/api/v1/hyperpod/deployments/" + r.job_id;
  json::value cancellation = ParsedOrNull(r.cancellation);
  json::value teardown = ParsedOrNull(r.teardown);
  json::value failure = ParsedOrNull(r.failure);
  if (failure.is_null() && (r.error || r.cause) && r.status != "RUNNING" &&
      r.status != "SUCCEEDED") {
    failure = json::object{{"error", r.error ? json::value(*r.error) : json::value(nullptr)},
                           {"cause", r.cause ? json::value(*r.cause) : json::value(nullptr)}};
  }
  json::value cleanup = ParsedOrNull(r.cleanup);
  if (failure.is_object() && cleanup.is_object() && !failure.get_object().contains("cleanup")) {
    failure.get_object()["cleanup"] = cleanup;
  }
  const std::string phase = Phase(r, cancellation, teardown);
  auto optional_text = [](const std::optional<std::string>& text) {
    return text && !text->empty() ? json::value(*text) : json::value(nullptr);
  };
  return json::object{
      {"jobId", r.job_id},
      {"executionArn", r.execution_arn},
      {"status", r.status == "PENDING" ? "RUNNING" : r.status},
      {"phase", phase},
      {"currentState", optional_text(r.current_state)},
      {"requestedBy", r.requested_by},
      {"requestedAt", r.requested_at},
      {"startedAt", optional_text(r.started_at)},
      {"stoppedAt", optional_text(r.stopped_at)},
      {"request", ParsedOrNull(r.request)},
      {"guardrails", ParsedOrNull(r.guardrails)},
      {"outputs", ParsedOrNull(r.outputs)},
      {"failure", failure},
      {"cancellation", cancellation},
      {"teardown", teardown},
      {"links", json::object{{"self", self},
                             {"events", self + "/events"},
                             {"history", self + "/history"},
                             {"logs", self + "/logs"}}},
  };
}

std::string Serialize(const json::value& value) { return json::serialize(value); }

// The bytes of lower-case or upper-case hex text; "" when it is not hex.
std::string HexDecoded(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return "";
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return "";
    out += static_cast<char>(high * 16 + low);
  }
  return out;
}

}  // namespace

class HyperPodService::Impl {
 public:
  explicit Impl(ServiceOptions options)
      : o_(std::move(options)),
        deployment_prefix_(ExecutionPrefix(o_.deployment_machine_arn)),
        teardown_prefix_(ExecutionPrefix(o_.teardown_machine_arn)),
        cancel_prefix_(ExecutionPrefix(o_.cancel_machine_arn)) {}

  ~Impl() { Stop(); }

  Status Open() {
    HPD_ASSIGN_OR_RETURN(db_, Database::Open(o_.database, Database::Mode::kReadWrite));
    HPD_RETURN_IF_ERROR(db_->Execute(kSchema));
    // Reads (Get, List, the metrics) have a connection of their own: in WAL mode they see the
    // last commit without waiting for the read model's apply transaction on db_.
    HPD_ASSIGN_OR_RETURN(read_db_, Database::Open(o_.database, Database::Mode::kReadOnly));
    {
      HPD_ASSIGN_OR_RETURN(Statement s, db_->Prepare("SELECT value FROM meta WHERE name = ?1"));
      s.Bind(1, std::string_view(kAppliedCursor));
      HPD_ASSIGN_OR_RETURN(bool row, s.Step());
      applied_ = row ? s.Int(0) : 0;
    }
    thread_ = std::thread([this] { ApplyLoop(); });
    subscription_ = o_.events->Subscribe([this](int64_t last) {
      std::lock_guard<std::mutex> lock(wake_mu_);
      wanted_ = std::max(wanted_, last);
      wake_.notify_all();
    });
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      wanted_ = std::max(wanted_, o_.events->LastSequence());
      wake_.notify_all();
    }
    return Status::Ok();
  }

  void Stop() {
    if (subscription_ != 0) {
      o_.events->Unsubscribe(subscription_);
      subscription_ = 0;
    }
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      stopping_ = true;
      wake_.notify_all();
      applied_cv_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

  // ---- requests ----

  StatusOr<json::object> BuildInput(const Caller& caller, const json::value& body,
                                    std::vector<FieldError>& fields, std::string* job_id) {
    if (!body.is_object()) return Invalid("the request body must be a JSON object");
    const json::object& b = body.get_object();
    CheckBodyShape(b, fields);
    if (!fields.empty()) return Invalid("the deployment request is not valid");
    *job_id = b.contains("jobId") ? std::string(b.at("jobId").get_string()) : NewJobId();
    int64_t timeout = o_.default_timeout_seconds;
    if (const json::value* t = b.if_contains("timeoutSeconds")) {
      if (!t->is_int64() && !t->is_uint64()) {
        fields.push_back({"timeoutSeconds", "must be an integer"});
      } else {
        timeout = t->is_int64() ? t->get_int64() : -1;
        if (timeout < kMinTimeoutSeconds || timeout > o_.max_timeout_seconds) {
          fields.push_back({"timeoutSeconds", "must be between " +
                                                  std::to_string(kMinTimeoutSeconds) + " and " +
                                                  std::to_string(o_.max_timeout_seconds)});
        }
      }
    }
    if (!fields.empty()) return Invalid("the deployment request is not valid");
    json::object input{
        {"jobId", *job_id},
        {"requestedBy", caller.name},
        {"requestedAt", FormatRfc3339Millis(o_.clock->WallNow())},
        {"timeoutSeconds", timeout},
        {"config", b.at("config")},
        {"artifacts", json::object{{"configBucket", o_.config_bucket},
                                   {"parameterPrefix", o_.parameter_prefix}}},
    };
    // The seed's payload always carries guardrails.quotaChecks; the default is to check.
    json::object guardrails{{"quotaChecks", true}};
    if (const json::value* g = b.if_contains("guardrails")) guardrails = g->get_object();
    input["guardrails"] = std::move(guardrails);
    StatusOr<DeploymentRequest> parsed = ParseDeploymentRequest(json::value(input));
    if (!parsed.ok()) {
      fields.push_back(SplitFieldMessage(parsed.status().message()));
      return Invalid(std::string(parsed.status().message()));
    }
    return input;
  }

  StatusOr<GuardrailReport> Guardrails(const json::object& input) {
    StatusOr<DeploymentRequest> request = ParseDeploymentRequest(json::value(input));
    if (!request.ok()) return Invalid(std::string(request.status().message()));
    QuotaSnapshot quotas;
    if (request->quota_checks && o_.quotas) {
      StatusOr<QuotaSnapshot> fetched = o_.quotas(request->config.region);
      if (fetched.ok()) quotas = std::move(*fetched);
      // Otherwise the quota checks report that quotas could not be read.
    }
    return Evaluate(*request, *o_.presets, quotas);
  }

  StatusOr<json::object> Validate(const Caller& caller, const json::value& body,
                                  std::vector<FieldError>* fields) {
    std::vector<FieldError> local;
    std::string job_id;
    StatusOr<json::object> input = BuildInput(caller, body, local, &job_id);
    if (fields != nullptr) *fields = local;
    if (!input.ok()) return input.status();
    HPD_ASSIGN_OR_RETURN(GuardrailReport report, Guardrails(*input));
    json::object names;
    StatusOr<DeploymentRequest> request = ParseDeploymentRequest(json::value(*input));
    if (request.ok()) {
      const DeploymentNames derived = DeriveNames(*request);
      names = json::object{
          {"deployment", derived.deployment_name},   {"hyperpodCluster", derived.hyperpod_cluster},
          {"eksCluster", derived.eks_cluster},       {"stack", derived.stack},
          {"parameterPath", derived.parameter_path}, {"configUri", derived.ConfigUri()}};
    }
    return json::object{{"valid", report.passed},
                        {"jobId", job_id},
                        {"names", std::move(names)},
                        {"guardrails", report.ToJson()},
                        {"request", *input}};
  }

  StatusOr<json::object> Start(const Caller& caller, const json::value& body,
                               std::string_view idempotency_key, bool* created,
                               std::vector<FieldError>* fields, json::value* details) {
    if (created != nullptr) *created = false;
    std::vector<FieldError> local;
    if (!idempotency_key.empty()) {
      bool printable = idempotency_key.size() <= kMaxIdempotencyKey;
      for (char c : idempotency_key) printable = printable && c >= 0x21 && c <= 0x7e;
      if (!printable) {
        local.push_back({"Idempotency-Key", "must be 1 to 255 printable ASCII characters"});
        if (fields != nullptr) *fields = local;
        return Invalid("the Idempotency-Key header is not valid");
      }
    }
    const std::string body_hash = Sha256Hex(Serialize(body));
    if (!idempotency_key.empty()) {
      HPD_ASSIGN_OR_RETURN(std::optional<Row> earlier, FindByKey(caller.name, idempotency_key));
      if (earlier) return Repeat(*earlier, body_hash, idempotency_key);
    }
    std::string job_id;
    StatusOr<json::object> input = BuildInput(caller, body, local, &job_id);
    if (fields != nullptr) *fields = local;
    if (!input.ok()) return input.status();
    HPD_ASSIGN_OR_RETURN(GuardrailReport report, Guardrails(*input));
    if (!report.passed) {
      if (details != nullptr) *details = report.ToJson();
      std::string message = "the deployment request fails its guardrails:";
      for (const GuardrailCheck& check : report.checks) {
        if (check.status == CheckStatus::kFail) message += " [" + check.id + "] " + check.message;
      }
      return Named(FailedPreconditionError(message), "GuardrailViolation");
    }

    // Reserve the job id (and the idempotency key) before starting: a concurrent create of the
    // same job or key loses here.
    Row row;
    row.job_id = job_id;
    row.execution_arn = deployment_prefix_ + job_id;
    row.requested_by = caller.name;
    row.requested_at = StringAt(*input, "requestedAt");
    row.requested_at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              o_.clock->WallNow().time_since_epoch())
                              .count();
    row.request = Serialize(*input);
    row.status = "PENDING";
    if (!idempotency_key.empty()) {
      row.idempotency_key = std::string(idempotency_key);
      row.request_hash = body_hash;
    }
    row.guardrails = Serialize(report.ToJson());
    Status reserved = Insert(row);
    if (!reserved.ok()) {
      if (!idempotency_key.empty()) {
        HPD_ASSIGN_OR_RETURN(std::optional<Row> earlier, FindByKey(caller.name, idempotency_key));
        if (earlier) return Repeat(*earlier, body_hash, idempotency_key);
      }
      if (reserved.code() == StatusCode::kAlreadyExists) {
        return Named(AlreadyExistsError("job " + job_id +
                                        " already exists; a job id names one "
                                        "deployment"),
                     "JobAlreadyExists");
      }
      return reserved;
    }
    StatusOr<json::object> started = o_.backend->Call(
        "StartExecution", json::object{{"stateMachineArn", o_.deployment_machine_arn},
                                       {"name", job_id},
                                       {"input", Serialize(*input)}});
    if (!started.ok() && started.status().error_name() == "ExecutionAlreadyExists") {
      // Either a retried request whose first attempt did start it (the same input: ours), or an
      // execution started elsewhere under this job id.
      StatusOr<json::object> existing =
          o_.backend->Call("DescribeExecution", json::object{{"executionArn", row.execution_arn}});
      if (existing.ok() && StringAt(*existing, "input") == row.request) {
        started =
            json::object{{"startDate", existing->contains("startDate") ? existing->at("startDate")
                                                                       : json::value(nullptr)}};
      }
    }
    if (!started.ok()) {
      (void)Delete(job_id);
      if (started.status().error_name() == "ExecutionAlreadyExists") {
        return Named(AlreadyExistsError("job " + job_id + " already has an execution"),
                     "JobAlreadyExists");
      }
      return BackendError(started.status());
    }
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      auto s = db_->Prepare(
          "UPDATE deployments SET status = 'RUNNING', started_at = COALESCE(started_at, ?2) "
          "WHERE job_id = ?1 AND status = 'PENDING'");
      if (s.ok()) {
        // The API's dates are epoch seconds (events carry milliseconds).
        const json::value* seconds = started->if_contains("startDate");
        const std::string start_date =
            seconds != nullptr && seconds->is_number()
                ? FormatRfc3339Millis(WallTime(std::chrono::milliseconds(
                      static_cast<int64_t>(seconds->to_number<double>() * 1000))))
                : "";
        s->Bind(1, job_id);
        s->Bind(2, start_date);
        (void)s->Run();
      }
    }
    if (created != nullptr) *created = true;
    HPD_ASSIGN_OR_RETURN(std::optional<Row> now, Load(job_id));
    if (!now) return InternalError("the deployment " + job_id + " vanished");
    return RowToJson(*now);
  }

  StatusOr<json::object> Repeat(const Row& earlier, const std::string& body_hash,
                                std::string_view key) {
    if (earlier.request_hash.value_or("") != body_hash) {
      return Named(
          AlreadyExistsError("the Idempotency-Key " + std::string(key) +
                             " was used for another request body (job " + earlier.job_id + ")"),
          "IdempotencyKeyReused");
    }
    return RowToJson(earlier);
  }

  StatusOr<json::object> Get(const Caller& caller, std::string_view job_id) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    return RowToJson(row);
  }

  StatusOr<json::object> List(const Caller& caller, const ListQuery& query,
                              std::vector<FieldError>* fields) {
    std::vector<FieldError> local;
    std::string requester = query.requested_by;
    if (caller.role == store::Role::kDeployer) {
      if (!requester.empty() && requester != caller.name) {
        return Named(PermissionDeniedError("a deployer lists only their own deployments"),
                     "Forbidden");
      }
      requester = caller.name;
    }
    for (const std::string& status : query.statuses) {
      if (std::find(KnownStatuses().begin(), KnownStatuses().end(), status) ==
          KnownStatuses().end()) {
        local.push_back({"status", "unknown status " + status +
                                       " (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED)"});
      }
    }
    if (query.limit < 1 || query.limit > 100) local.push_back({"limit", "must be 1 to 100"});
    int64_t cursor_ms = 0;
    std::string cursor_job;
    if (!query.next_token.empty()) {
      const std::string decoded = HexDecoded(query.next_token);
      const size_t colon = decoded.find(':');
      char* end = nullptr;
      if (colon != std::string::npos) {
        cursor_ms = std::strtoll(decoded.c_str(), &end, 10);
        cursor_job = decoded.substr(colon + 1);
      }
      if (colon == std::string::npos || end != decoded.c_str() + colon || cursor_job.empty()) {
        local.push_back({"nextToken", "is not a token this API issued"});
      }
    }
    if (fields != nullptr) *fields = local;
    if (!local.empty()) {
      return Named(InvalidArgumentError("invalid query: " + local.front().path + " " +
                                        local.front().message),
                   "InvalidParameter");
    }
    std::string sql = std::string("SELECT ") + kRowColumns + " FROM deployments WHERE 1 = 1";
    if (!requester.empty()) sql += " AND requested_by = ?1";
    if (query.created_after) sql += " AND requested_at_ms > ?2";
    if (query.created_before) sql += " AND requested_at_ms < ?3";
    if (!query.next_token.empty()) {
      sql += " AND (requested_at_ms < ?4 OR (requested_at_ms = ?4 AND job_id < ?5))";
    }
    if (!query.statuses.empty()) {
      sql += " AND (CASE status WHEN 'PENDING' THEN 'RUNNING' ELSE status END) IN (";
      for (size_t i = 0; i < query.statuses.size(); ++i) {
        sql += (i == 0 ? "?" : ", ?") + std::to_string(10 + i);
      }
      sql += ")";
    }
    sql += " ORDER BY requested_at_ms DESC, job_id DESC LIMIT ?6";
    std::vector<Row> rows;
    {
      std::lock_guard<std::mutex> lock(read_mu_);
      HPD_ASSIGN_OR_RETURN(Statement s, read_db_->Prepare(sql));
      auto ms = [](WallTime t) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
      };
      if (!requester.empty()) s.Bind(1, requester);
      if (query.created_after) s.Bind(2, ms(*query.created_after));
      if (query.created_before) s.Bind(3, ms(*query.created_before));
      if (!query.next_token.empty()) {
        s.Bind(4, cursor_ms);
        s.Bind(5, cursor_job);
      }
      for (size_t i = 0; i < query.statuses.size(); ++i) {
        s.Bind(static_cast<int>(10 + i), query.statuses[i]);
      }
      s.Bind(6, static_cast<int64_t>(query.limit + 1));
      while (true) {
        HPD_ASSIGN_OR_RETURN(bool more, s.Step());
        if (!more) break;
        rows.push_back(ReadRow(s));
      }
    }
    json::value next = nullptr;
    if (rows.size() > query.limit) {
      rows.resize(query.limit);
      next = HexEncode(std::to_string(rows.back().requested_at_ms) + ":" + rows.back().job_id);
    }
    json::array out;
    for (const Row& row : rows) out.push_back(RowToJson(row));
    return json::object{{"deployments", std::move(out)}, {"nextToken", next}};
  }

  StatusOr<json::object> Cancel(const Caller& caller, std::string_view job_id) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    HPD_RETURN_IF_ERROR(MayChange(caller, row));
    const bool running = row.status == "RUNNING" || row.status == "PENDING";
    const json::value earlier = ParsedOrNull(row.cancellation);
    // A cancellation whose cleanup workflow could not be started yet (the backend failed after
    // the stop): a retry starts it.
    const bool cleanup_pending =
        earlier.is_object() && StringAt(earlier.get_object(), "status") == kCleanupStarting;
    if (earlier.is_object() && !cleanup_pending) {
      // Cancelled while it still runs: the same answer; once it has ended, a conflict.
      if (running) return RowToJson(row);
    }
    if (!running && !cleanup_pending) {
      return Named(FailedPreconditionError("deployment " + row.job_id + " is " + row.status +
                                           "; only a running deployment is cancelled"),
                   "DeploymentNotRunning");
    }
    const std::string cause =
        "Cancelled by " +
        (cleanup_pending ? StringAt(earlier.get_object(), "requestedBy") : caller.name);
    const std::string cancel_arn = cancel_prefix_ + row.job_id;
    if (!cleanup_pending) {
      // Recorded before the stop, so that whoever sees the ABORTED status (an event stream, a
      // list) already sees a cancellation in progress rather than a failure.
      json::object cancellation{{"requestedBy", caller.name},
                                {"requestedAt", FormatRfc3339Millis(o_.clock->WallNow())},
                                {"executionArn", cancel_arn},
                                {"status", kCleanupStarting},
                                {"cleanup", nullptr}};
      HPD_RETURN_IF_ERROR(UpdateJson(row.job_id, "cancellation", cancellation, /*merge=*/false));
      auto undo = [&] {
        std::lock_guard<std::mutex> lock(db_mu_);
        (void)SetColumnLocked(row.job_id, "cancellation", std::nullopt);
      };
      StatusOr<json::object> stopped =
          o_.backend->Call("StopExecution", json::object{{"executionArn", row.execution_arn},
                                                         {"error", "DeploymentCancelled"},
                                                         {"cause", cause}});
      if (!stopped.ok()) {
        undo();
        if (stopped.status().error_name() == "ExecutionDoesNotExist") return NotFound(job_id);
        return BackendError(stopped.status());
      }
      StatusOr<json::value> described = DescribeStatus(row.execution_arn);
      if (described.ok() && described->is_string() && described->get_string() != "ABORTED") {
        // It ended on its own before the stop reached it.
        undo();
        return Named(FailedPreconditionError("deployment " + row.job_id + " ended (" +
                                             std::string(described->get_string()) +
                                             ") before it could be cancelled"),
                     "DeploymentNotRunning");
      }
    }
    StatusOr<json::value> request = ParseJson(row.request);
    if (!request.ok() || !request->is_object()) return InternalError("unreadable request");
    json::object input = request->get_object();
    input["owner"] = row.requested_by;
    input["requestedBy"] = caller.name;
    input["deploymentExecutionArn"] = row.execution_arn;
    input["error"] = json::object{{"Error", "DeploymentCancelled"}, {"Cause", cause}};
    StatusOr<json::object> started =
        o_.backend->Call("StartExecution", json::object{{"stateMachineArn", o_.cancel_machine_arn},
                                                        {"name", row.job_id},
                                                        {"input", Serialize(input)}});
    if (!started.ok() && started.status().error_name() != "ExecutionAlreadyExists") {
      // The deployment is stopped; the cleanup waits for a retry of the cancel.
      return BackendError(started.status());
    }
    HPD_ASSIGN_OR_RETURN(std::optional<Row> now, Load(row.job_id));
    return RowToJson(now ? *now : row);
  }

  StatusOr<json::object> Teardown(const Caller& caller, std::string_view job_id) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    HPD_RETURN_IF_ERROR(MayChange(caller, row));
    if (row.status != "SUCCEEDED") {
      return Named(FailedPreconditionError("deployment " + row.job_id + " is " + row.status +
                                           "; only a SUCCEEDED deployment is torn down"),
                   "TeardownNotAllowed");
    }
    int attempt = 1;
    const json::value earlier = ParsedOrNull(row.teardown);
    if (earlier.is_object()) {
      const std::string status = StringAt(earlier.get_object(), "status");
      if (status == "RUNNING" || status == "PENDING") {
        return Named(
            FailedPreconditionError("deployment " + row.job_id + " is being torn down already"),
            "TeardownNotAllowed");
      }
      if (status == "SUCCEEDED") {
        return Named(FailedPreconditionError("deployment " + row.job_id + " is torn down already"),
                     "TeardownNotAllowed");
      }
      const json::value* n = earlier.get_object().if_contains("attempt");
      attempt = (n != nullptr && n->is_int64() ? static_cast<int>(n->get_int64()) : 1) + 1;
    }
    StatusOr<json::value> request = ParseJson(row.request);
    if (!request.ok() || !request->is_object()) return InternalError("unreadable request");
    const std::string now = FormatRfc3339Millis(o_.clock->WallNow());
    const json::object input =
        TeardownInput(request->get_object(), caller.name, now, row.requested_by);
    const std::string name = attempt == 1 ? row.job_id : row.job_id + "." + std::to_string(attempt);
    const std::string arn = teardown_prefix_ + name;
    json::object teardown{{"attempt", attempt},  {"executionArn", arn},
                          {"status", "RUNNING"}, {"requestedBy", caller.name},
                          {"requestedAt", now},  {"stoppedAt", nullptr},
                          {"result", nullptr}};
    HPD_RETURN_IF_ERROR(UpdateJson(row.job_id, "teardown", teardown, /*merge=*/false));
    StatusOr<json::object> started = o_.backend->Call(
        "StartExecution", json::object{{"stateMachineArn", o_.teardown_machine_arn},
                                       {"name", name},
                                       {"input", Serialize(input)}});
    if (!started.ok() && started.status().error_name() != "ExecutionAlreadyExists") {
      // Nothing started: put the earlier attempt back.
      if (earlier.is_object()) {
        (void)UpdateJson(row.job_id, "teardown", earlier.get_object(), false);
      } else {
        std::lock_guard<std::mutex> lock(db_mu_);
        (void)SetColumnLocked(row.job_id, "teardown", std::nullopt);
      }
      return BackendError(started.status());
    }
    HPD_ASSIGN_OR_RETURN(std::optional<Row> now_row, Load(row.job_id));
    return RowToJson(now_row ? *now_row : row);
  }

  StatusOr<json::object> History(const Caller& caller, std::string_view job_id,
                                 std::string_view next_token, size_t limit, bool reverse) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    json::object request{{"executionArn", row.execution_arn},
                         {"maxResults", static_cast<int64_t>(limit)},
                         {"reverseOrder", reverse}};
    if (!next_token.empty()) request["nextToken"] = next_token;
    StatusOr<json::object> history = o_.backend->Call("GetExecutionHistory", request);
    if (!history.ok()) {
      if (history.status().error_name() == "InvalidToken") {
        return Named(InvalidArgumentError("nextToken: " + std::string(history.status().message())),
                     "InvalidParameter");
      }
      if (history.status().error_name() == "ExecutionDoesNotExist") {
        return json::object{{"events", json::array()}, {"nextToken", nullptr}};
      }
      return BackendError(history.status());
    }
    json::object out{{"events", history->contains("events") ? history->at("events")
                                                            : json::value(json::array())},
                     {"nextToken", history->contains("nextToken") ? history->at("nextToken")
                                                                  : json::value(nullptr)}};
    return out;
  }

  StatusOr<json::object> Logs(const Caller& caller, std::string_view job_id, int64_t after,
                              size_t limit) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    store::EventFilter filter;
    filter.job_id = row.job_id;
    filter.detail_types = {kLogLines};
    limit = std::clamp<size_t>(limit, 1, kMaxLogLines);
    int64_t scanned = after;
    HPD_ASSIGN_OR_RETURN(std::vector<store::StoredEvent> events,
                         o_.events->Read(after, filter, limit, &scanned));
    json::array lines;
    int64_t next = after;
    for (const store::StoredEvent& event : events) {
      // `limit` counts lines; an event (a batch of up to 200) is given whole or not at all, so
      // `next` always falls between events.
      if (!lines.empty() && lines.size() >= limit) {
        scanned = next;
        break;
      }
      next = event.sequence;
      StatusOr<json::value> envelope = ParseJson(event.envelope);
      if (!envelope.ok() || !envelope->is_object()) continue;
      const json::value* detail = envelope->get_object().if_contains("detail");
      if (detail == nullptr || !detail->is_object()) continue;
      const std::string stream = StringAt(detail->get_object(), "logStream");
      const json::value* items = detail->get_object().if_contains("lines");
      if (items == nullptr || !items->is_array()) continue;
      for (const json::value& item : items->get_array()) {
        if (!item.is_object()) continue;
        const json::object& line = item.get_object();
        lines.push_back(json::object{
            {"sequence", event.sequence},
            {"timestamp", line.contains("timestamp") ? line.at("timestamp") : json::value(0)},
            {"logStream", stream},
            {"message", StringAt(line, "message")}});
      }
    }
    return json::object{{"lines", std::move(lines)}, {"next", std::max({scanned, next, after})}};
  }

  StatusOr<store::EventFilter> DeploymentEvents(const Caller& caller, std::string_view job_id) {
    HPD_ASSIGN_OR_RETURN(Row row, Visible(caller, job_id));
    store::EventFilter filter;
    filter.job_id = row.job_id;
    return filter;
  }

  store::EventFilter CallerEvents(const Caller& caller) const {
    store::EventFilter filter;
    if (caller.role == store::Role::kDeployer) filter.owner = caller.name;
    return filter;
  }

  bool MaySee(const Caller& caller, const store::StoredEvent& event) const {
    return caller.role != store::Role::kDeployer || event.owner == caller.name;
  }

  json::object Presets() const {
    json::array presets;
    for (const auto& [name, preset] : o_.presets->presets()) {
      json::array groups;
      for (const InstanceGroupSpec& group : preset.instance_groups) {
        groups.push_back(json::object{{"name", group.name},
                                      {"instanceType", group.instance_type},
                                      {"count", group.count},
                                      {"threadsPerCore", group.threads_per_core},
                                      {"ebsVolumeGb", group.ebs_volume_gb}});
      }
      json::array types;
      for (const std::string& type : preset.allowed_instance_types)
        types.push_back(json::value(type));
      presets.push_back(json::object{
          {"name", name},
          {"description", preset.description},
          {"kubernetesVersion", preset.kubernetes_version},
          {"instanceGroups", std::move(groups)},
          {"allowedInstanceTypes", std::move(types)},
          {"fsx", json::object{{"deploymentType", preset.fsx.deployment_type},
                               {"storageGiB", preset.fsx.storage_gib}}},
      });
    }
    return json::object{{"presets", std::move(presets)}, {"default", o_.presets->default_preset()}};
  }

  json::object Regions() const {
    json::array regions;
    for (const std::string& region : o_.presets->regions()) regions.push_back(json::value(region));
    return json::object{{"regions", std::move(regions)}};
  }

  std::vector<std::pair<std::string, int64_t>> CountByStatus() {
    std::vector<std::pair<std::string, int64_t>> counts;
    for (const std::string& status : KnownStatuses()) counts.emplace_back(status, 0);
    std::lock_guard<std::mutex> lock(read_mu_);
    auto s = read_db_->Prepare(
        "SELECT CASE status WHEN 'PENDING' THEN 'RUNNING' ELSE status END, COUNT(*) "
        "FROM deployments GROUP BY 1");
    if (!s.ok()) return counts;
    while (true) {
      StatusOr<bool> more = s->Step();
      if (!more.ok() || !*more) break;
      for (auto& [status, count] : counts) {
        if (status == s->Text(0)) count = s->Int(1);
      }
    }
    return counts;
  }

  bool WaitApplied(int64_t sequence, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(wake_mu_);
    return applied_cv_.wait_for(lock, timeout, [&] { return applied_ >= sequence || stopping_; }) &&
           applied_ >= sequence;
  }

 private:
  std::string NewJobId() {
    std::lock_guard<std::mutex> lock(random_mu_);
    return NewUuidV4(random_);
  }

  StatusOr<json::value> DescribeStatus(const std::string& arn) {
    StatusOr<json::object> described =
        o_.backend->Call("DescribeExecution", json::object{{"executionArn", arn}});
    if (!described.ok()) return described.status();
    const json::value* status = described->if_contains("status");
    return status != nullptr ? *status : json::value(nullptr);
  }

  Status MayChange(const Caller& caller, const Row& row) const {
    if (caller.role == store::Role::kAdmin) return Status::Ok();
    if (caller.role == store::Role::kDeployer && row.requested_by == caller.name) {
      return Status::Ok();
    }
    return Named(PermissionDeniedError("a " + std::string(store::RoleName(caller.role)) +
                                       " may not change deployment " + row.job_id),
                 "Forbidden");
  }

  StatusOr<Row> Visible(const Caller& caller, std::string_view job_id) {
    if (!ValidApiJobId(job_id)) return NotFound(job_id);
    HPD_ASSIGN_OR_RETURN(std::optional<Row> row, Load(job_id));
    if (!row) return NotFound(job_id);
    if (caller.role == store::Role::kDeployer && row->requested_by != caller.name) {
      return NotFound(job_id);
    }
    return std::move(*row);
  }

  StatusOr<std::optional<Row>> Load(std::string_view job_id) {
    std::lock_guard<std::mutex> lock(read_mu_);
    HPD_ASSIGN_OR_RETURN(Statement s, read_db_->Prepare(std::string("SELECT ") + kRowColumns +
                                                        " FROM deployments WHERE job_id = ?1"));
    s.Bind(1, job_id);
    HPD_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return std::optional<Row>();
    return std::optional<Row>(ReadRow(s));
  }

  StatusOr<std::optional<Row>> FindByKey(const std::string& requester, std::string_view key) {
    std::lock_guard<std::mutex> lock(read_mu_);
    HPD_ASSIGN_OR_RETURN(Statement s,
                         read_db_->Prepare(std::string("SELECT ") + kRowColumns +
                                           " FROM deployments WHERE requested_by = ?1 AND "
                                           "idempotency_key = ?2"));
    s.Bind(1, requester);
    s.Bind(2, key);
    HPD_ASSIGN_OR_RETURN(bool found, s.Step());
    if (!found) return std::optional<Row>();
    return std::optional<Row>(ReadRow(s));
  }

  Status Insert(const Row& r) {
    std::lock_guard<std::mutex> lock(db_mu_);
    return InsertLocked(r, /*ignore_existing=*/false);
  }

  Status InsertLocked(const Row& r, bool ignore_existing) {
    HPD_ASSIGN_OR_RETURN(
        Statement s,
        db_->Prepare(std::string(ignore_existing ? "INSERT OR IGNORE" : "INSERT") +
                     " INTO deployments (job_id, execution_arn, requested_by, requested_at, "
                     "requested_at_ms, request, status, guardrails, idempotency_key, "
                     "request_hash, started_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                     "?11)"));
    s.Bind(1, r.job_id);
    s.Bind(2, r.execution_arn);
    s.Bind(3, r.requested_by);
    s.Bind(4, r.requested_at);
    s.Bind(5, r.requested_at_ms);
    s.Bind(6, r.request);
    s.Bind(7, r.status);
    s.Bind(8, r.guardrails);
    s.Bind(9, r.idempotency_key);
    s.Bind(10, r.request_hash);
    s.Bind(11, r.started_at);
    Status status = s.Run();
    if (!status.ok() && status.message().find("UNIQUE") != std::string_view::npos) {
      return AlreadyExistsError("job " + r.job_id + " exists");
    }
    return status;
  }

  Status Delete(const std::string& job_id) {
    std::lock_guard<std::mutex> lock(db_mu_);
    HPD_ASSIGN_OR_RETURN(Statement s, db_->Prepare("DELETE FROM deployments WHERE job_id = ?1"));
    s.Bind(1, job_id);
    return s.Run();
  }

  // Sets column `column` (cancellation, teardown) to `value`, or merges `value`'s members into
  // the object already there.
  Status UpdateJson(const std::string& job_id, const std::string& column, const json::object& value,
                    bool merge) {
    std::lock_guard<std::mutex> lock(db_mu_);
    return UpdateJsonLocked(job_id, column, value, merge);
  }

  Status UpdateJsonLocked(const std::string& job_id, const std::string& column,
                          const json::object& value, bool merge) {
    json::object merged = value;
    if (merge) {
      HPD_ASSIGN_OR_RETURN(
          Statement read, db_->Prepare("SELECT " + column + " FROM deployments WHERE job_id = ?1"));
      read.Bind(1, job_id);
      HPD_ASSIGN_OR_RETURN(bool found, read.Step());
      if (!found) return Status::Ok();
      json::value current = ParsedOrNull(read.OptionalText(0));
      if (current.is_object()) {
        merged = current.get_object();
        for (const auto& member : value) merged[member.key()] = member.value();
      }
    }
    HPD_ASSIGN_OR_RETURN(
        Statement s, db_->Prepare("UPDATE deployments SET " + column + " = ?2 WHERE job_id = ?1"));
    const std::string text = Serialize(merged);
    s.Bind(1, job_id);
    s.Bind(2, text);
    return s.Run();
  }

  Status SetColumnLocked(const std::string& job_id, const std::string& column,
                         const std::optional<std::string>& value) {
    HPD_ASSIGN_OR_RETURN(
        Statement s, db_->Prepare("UPDATE deployments SET " + column + " = ?2 WHERE job_id = ?1"));
    s.Bind(1, job_id);
    s.Bind(2, value);
    return s.Run();
  }

  // ---- the read model ----

  enum class Kind { kDeployment, kTeardown, kCancel, kOther };

  Kind KindOf(const std::string& arn, std::string* name) const {
    auto strip = [&](const std::string& prefix) {
      if (arn.compare(0, prefix.size(), prefix) != 0) return false;
      *name = arn.substr(prefix.size());
      return true;
    };
    if (strip(deployment_prefix_)) return Kind::kDeployment;
    if (strip(teardown_prefix_)) return Kind::kTeardown;
    if (strip(cancel_prefix_)) return Kind::kCancel;
    return Kind::kOther;
  }

  void ApplyLoop() {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_.wait(lock, [&] { return stopping_ || wanted_ > applied_; });
        if (stopping_) return;
      }
      StatusOr<std::vector<store::StoredEvent>> batch =
          o_.events->Read(applied_, store::EventFilter{}, 500);
      if (!batch.ok() || batch->empty()) {
        // Nothing readable now (a transient error): wait for the next append.
        std::unique_lock<std::mutex> lock(wake_mu_);
        if (batch.ok()) wanted_ = applied_;
        wake_.wait_for(lock, std::chrono::seconds(1));
        continue;
      }
      const int64_t last = batch->back().sequence;
      Status applied;
      {
        std::lock_guard<std::mutex> lock(db_mu_);
        applied = db_->InTransaction([&]() -> Status {
          for (const store::StoredEvent& event : *batch) ApplyLocked(event);
          HPD_ASSIGN_OR_RETURN(Statement s,
                               db_->Prepare("INSERT INTO meta (name, value) VALUES (?1, ?2) "
                                            "ON CONFLICT (name) DO UPDATE SET value = ?2"));
          s.Bind(1, std::string_view(kAppliedCursor));
          s.Bind(2, last);
          return s.Run();
        });
      }
      if (!applied.ok()) {
        std::unique_lock<std::mutex> lock(wake_mu_);
        wake_.wait_for(lock, std::chrono::seconds(1));
        continue;
      }
      std::lock_guard<std::mutex> lock(wake_mu_);
      applied_ = last;
      applied_cv_.notify_all();
    }
  }

  // Applies one event to the read model; an event that does not fit (an unknown execution, a
  // malformed detail) changes nothing.
  void ApplyLocked(const store::StoredEvent& event) {
    std::string name;
    const Kind kind = KindOf(event.execution_arn, &name);
    if (kind == Kind::kOther) return;
    StatusOr<json::value> envelope = ParseJson(event.envelope);
    if (!envelope.ok() || !envelope->is_object()) return;
    const json::value* detail_value = envelope->get_object().if_contains("detail");
    if (detail_value == nullptr || !detail_value->is_object()) return;
    const json::object& detail = detail_value->get_object();
    const std::string job_id = kind == Kind::kTeardown ? name.substr(0, name.find('.')) : name;

    if (event.detail_type == kStatusChange) {
      const std::string status = StringAt(detail, "status");
      if (kind == Kind::kDeployment) {
        EnsureRowLocked(job_id, event, detail);
        std::optional<std::string> output;
        if (const json::value* o = detail.if_contains("output"); o != nullptr && o->is_string()) {
          output = std::string(o->get_string());
        }
        auto s = db_->Prepare(
            "UPDATE deployments SET status = ?2, started_at = COALESCE(?3, started_at), "
            "stopped_at = ?4, error = ?5, cause = ?6, outputs = COALESCE(?7, outputs), "
            "current_state = CASE WHEN ?2 = 'RUNNING' THEN current_state ELSE NULL END "
            "WHERE job_id = ?1");
        if (!s.ok()) return;
        s->Bind(1, job_id);
        s->Bind(2, status);
        auto present = [](std::string text) {
          return text.empty() ? std::optional<std::string>() : std::optional(std::move(text));
        };
        const std::optional<std::string> started =
            present(MillisToRfc3339(detail.if_contains("startDate")));
        const std::optional<std::string> stopped =
            present(MillisToRfc3339(detail.if_contains("stopDate")));
        const std::optional<std::string> error = present(StringAt(detail, "error"));
        const std::optional<std::string> cause = present(StringAt(detail, "cause"));
        if (status != "SUCCEEDED") output.reset();
        s->Bind(3, started);
        s->Bind(4, stopped);
        s->Bind(5, error);
        s->Bind(6, cause);
        s->Bind(7, output);
        (void)s->Run();
      } else if (kind == Kind::kTeardown) {
        json::object update{{"status", status}, {"executionArn", event.execution_arn}};
        const std::string stopped = MillisToRfc3339(detail.if_contains("stopDate"));
        update["stoppedAt"] = stopped.empty() ? json::value(nullptr) : json::value(stopped);
        if (!StringAt(detail, "error").empty()) {
          update["error"] = StringAt(detail, "error");
          update["cause"] = StringAt(detail, "cause");
        }
        const size_t dot = name.find('.');
        update["attempt"] = dot == std::string::npos ? 1 : std::atoi(name.c_str() + dot + 1);
        if (status == "RUNNING") {
          StatusOr<json::value> input = ParseJson(StringAt(detail, "input"));
          if (input.ok() && input->is_object()) {
            update["requestedBy"] = StringAt(input->get_object(), "requestedBy");
            update["requestedAt"] = StringAt(input->get_object(), "requestedAt");
          }
        }
        (void)UpdateJsonLocked(job_id, "teardown", update, /*merge=*/true);
      } else if (kind == Kind::kCancel) {
        json::object update{{"status", status}, {"executionArn", event.execution_arn}};
        (void)UpdateJsonLocked(job_id, "cancellation", update, /*merge=*/true);
      }
      return;
    }
    if (event.detail_type == kStateEntered && kind == Kind::kDeployment) {
      (void)SetColumnLocked(job_id, "current_state", StringAt(detail, "state"));
      return;
    }
    auto member = [&detail](std::string_view key) -> std::optional<std::string> {
      const json::value* value = detail.if_contains(key);
      if (value == nullptr || value->is_null()) return std::nullopt;
      return Serialize(*value);
    };
    if (event.detail_type == kGuardrailReport && kind == Kind::kDeployment) {
      if (auto report = member("report")) (void)SetColumnLocked(job_id, "guardrails", report);
    } else if (event.detail_type == kCleanupResult) {
      if (kind == Kind::kDeployment) {
        (void)SetColumnLocked(job_id, "cleanup", member("cleanup"));
      } else if (kind == Kind::kCancel) {
        const json::value* cleanup = detail.if_contains("cleanup");
        (void)UpdateJsonLocked(
            job_id, "cancellation",
            json::object{{"cleanup", cleanup != nullptr ? *cleanup : json::value(nullptr)}},
            /*merge=*/true);
      }
    } else if (event.detail_type == kFailureRecord) {
      if (kind == Kind::kDeployment) {
        (void)SetColumnLocked(job_id, "failure", member("failure"));
      } else if (kind == Kind::kCancel) {
        const json::value* failure = detail.if_contains("failure");
        (void)UpdateJsonLocked(
            job_id, "cancellation",
            json::object{{"record", failure != nullptr ? *failure : json::value(nullptr)}},
            /*merge=*/true);
      }
    } else if (event.detail_type == kDeploymentOutputs && kind == Kind::kDeployment) {
      if (auto outputs = member("outputs")) (void)SetColumnLocked(job_id, "outputs", outputs);
    } else if (event.detail_type == kTeardownResult && kind == Kind::kTeardown) {
      const json::value* result = detail.if_contains("result");
      (void)UpdateJsonLocked(
          job_id, "teardown",
          json::object{{"result", result != nullptr ? *result : json::value(nullptr)}},
          /*merge=*/true);
    }
  }

  // A deployment started elsewhere (the CLI, boto3, a restart before the row was written) gets
  // its row from its RUNNING event.
  void EnsureRowLocked(const std::string& job_id, const store::StoredEvent& event,
                       const json::object& detail) {
    const std::string input_text = StringAt(detail, "input");
    StatusOr<json::value> input = ParseJson(input_text);
    Row row;
    row.job_id = job_id;
    row.execution_arn = event.execution_arn;
    row.requested_by = event.owner;
    if (input.ok() && input->is_object()) {
      row.requested_at = StringAt(input->get_object(), "requestedAt");
      if (row.requested_by.empty()) row.requested_by = StringAt(input->get_object(), "requestedBy");
    }
    StatusOr<WallTime> at = ParseRfc3339(row.requested_at);
    if (!at.ok()) {
      row.requested_at = MillisToRfc3339(detail.if_contains("startDate"));
      at = ParseRfc3339(row.requested_at);
    }
    row.requested_at_ms =
        at.ok()
            ? std::chrono::duration_cast<std::chrono::milliseconds>(at->time_since_epoch()).count()
            : 0;
    row.request = input.ok() ? input_text : "{}";
    row.status = "RUNNING";
    (void)InsertLocked(row, /*ignore_existing=*/true);
  }

  const ServiceOptions o_;
  const std::string deployment_prefix_;
  const std::string teardown_prefix_;
  const std::string cancel_prefix_;

  std::mutex db_mu_;
  std::unique_ptr<Database> db_;  // guarded by db_mu_: writes, and reads inside them
  std::mutex read_mu_;
  std::unique_ptr<Database> read_db_;  // guarded by read_mu_

  std::mutex random_mu_;
  SystemRandom random_;

  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::condition_variable applied_cv_;
  int64_t wanted_ = 0;   // guarded by wake_mu_
  int64_t applied_ = 0;  // guarded by wake_mu_ (written by the apply thread only)
  bool stopping_ = false;
  uint64_t subscription_ = 0;
  std::thread thread_;
};

HyperPodService::HyperPodService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HyperPodService::~HyperPodService() = default;

StatusOr<std::unique_ptr<HyperPodService>> HyperPodService::Open(ServiceOptions options) {
  if (options.backend == nullptr || options.events == nullptr || options.presets == nullptr ||
      options.clock == nullptr) {
    return InvalidArgumentError(
        "HyperPodService needs a backend, an event log, presets and a clock");
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  HPD_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<HyperPodService>(new HyperPodService(std::move(impl)));
}

StatusOr<json::object> HyperPodService::Validate(const Caller& caller, const json::value& body,
                                                 std::vector<FieldError>* fields) {
  return impl_->Validate(caller, body, fields);
}
StatusOr<json::object> HyperPodService::Start(const Caller& caller, const json::value& body,
                                              std::string_view idempotency_key, bool* created,
                                              std::vector<FieldError>* fields,
                                              json::value* details) {
  return impl_->Start(caller, body, idempotency_key, created, fields, details);
}
StatusOr<json::object> HyperPodService::Get(const Caller& caller, std::string_view job_id) {
  return impl_->Get(caller, job_id);
}
StatusOr<json::object> HyperPodService::List(const Caller& caller, const ListQuery& query,
                                             std::vector<FieldError>* fields) {
  return impl_->List(caller, query, fields);
}
StatusOr<json::object> HyperPodService::Cancel(const Caller& caller, std::string_view job_id) {
  return impl_->Cancel(caller, job_id);
}
StatusOr<json::object> HyperPodService::Teardown(const Caller& caller, std::string_view job_id) {
  return impl_->Teardown(caller, job_id);
}
StatusOr<json::object> HyperPodService::History(const Caller& caller, std::string_view job_id,
                                                std::string_view next_token, size_t limit,
                                                bool reverse) {
  return impl_->History(caller, job_id, next_token, limit, reverse);
}
StatusOr<json::object> HyperPodService::Logs(const Caller& caller, std::string_view job_id,
                                             int64_t after, size_t limit) {
  return impl_->Logs(caller, job_id, after, limit);
}
StatusOr<store::EventFilter> HyperPodService::DeploymentEvents(const Caller& caller,
                                                               std::string_view job_id) {
  return impl_->DeploymentEvents(caller, job_id);
}
store::EventFilter HyperPodService::CallerEvents(const Caller& caller) const {
  return impl_->CallerEvents(caller);
}
bool HyperPodService::MaySee(const Caller& caller, const store::StoredEvent& event) const {
  return impl_->MaySee(caller, event);
}
json::object HyperPodService::Presets() const { return impl_->Presets(); }
json::object HyperPodService::Regions() const { return impl_->Regions(); }
std::vector<std::pair<std::string, int64_t>> HyperPodService::CountByStatus() const {
  return impl_->CountByStatus();
}
bool HyperPodService::WaitApplied(int64_t sequence, std::chrono::milliseconds timeout) {
  return impl_->WaitApplied(sequence, timeout);
}

}  // namespace hpd::hyperpod
