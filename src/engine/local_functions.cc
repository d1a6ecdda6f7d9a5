#include "engine/local_functions.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <span>
#include <utility>

#include "common/base64.h"
#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/uuid.h"
#include "engine/python_json.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;

constexpr std::string_view kLatest = "$LATEST";
constexpr std::string_view kResourceNotFound = "Lambda.ResourceNotFoundException";

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

bool IsLambdaInvoke(const asl::TaskInvocation& task) {
  return task.kind == asl::TaskKind::kService && task.service == "lambda" &&
         task.action == "invoke";
}

// "Root=1-<epoch hex>-<96 random bits>;Parent=<64 bits>;Sampled=0", an X-Ray trace header.
std::string TraceId(WallTime now, RandomSource& random) {
  char epoch[16];
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::snprintf(epoch, sizeof(epoch), "%08llx", static_cast<unsigned long long>(secs));
  return "Root=1-" + std::string(epoch) + "-" + RandomHex(random, 24) +
         ";Parent=" + RandomHex(random, 16) + ";Sampled=0";
}

// The tail of the function's log that LogType "Tail" returns, base64-encoded as Lambda does.
std::string LogResult(std::string_view request_id) {
  std::string log;
  log += "START RequestId: " + std::string(request_id) + " Version: $LATEST\n";
  log += "END RequestId: " + std::string(request_id) + "\n";
  log +=
      "REPORT RequestId: " + std::string(request_id) +
      "\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB\t\n";
  return Base64Encode(log);
}

// How one writer of JSON separates members and escapes strings.
struct JsonStyle {
  std::string_view comma;
  std::string_view colon;
  void (*quote)(std::string_view text, std::string* out);
};
// The function's (Python) runtime, json.dumps style.
constexpr JsonStyle kPythonStyle{", ", ": ", AppendPythonString};
// Step Functions re-serialising it for lambda:invoke: compact, escaped as SerializeJson does.
constexpr JsonStyle kCompactStyle{",", ":", AppendJsonString};

// The Lambda error JSON in `style`:
// {"errorMessage": "...", "errorType": "...", "requestId": "...", "stackTrace": ["...", ...]}.
// Written straight into one string: this is the cause of every failed attempt of a function,
// so it is on the Retry path.
std::string ErrorJson(const JsonStyle& style, std::string_view error_type,
                      std::string_view error_message, std::string_view request_id,
                      std::span<const std::string> stack) {
  size_t estimate = 80 + error_type.size() + error_message.size() + request_id.size();
  for (const std::string& line : stack) estimate += line.size() + 4;
  std::string out;
  out.reserve(estimate);
  const auto key = [&](std::string_view name) {
    out += out.empty() ? "{" : style.comma;
    out += '"';
    out += name;
    out += '"';
    out += style.colon;
  };
  key("errorMessage");
  style.quote(error_message, &out);
  key("errorType");
  style.quote(error_type, &out);
  key("requestId");
  style.quote(request_id, &out);
  key("stackTrace");
  out += '[';
  for (size_t i = 0; i < stack.size(); ++i) {
    if (i > 0) out += style.comma;
    style.quote(stack[i], &out);
  }
  out += "]}";
  return out;
}

asl::TaskOutcome Failure(std::string_view error, std::string cause) {
  asl::TaskOutcome outcome;
  outcome.succeeded = false;
  outcome.error = error;
  outcome.cause = std::move(cause);
  return outcome;
}

}  // namespace

std::string FunctionReference::UnqualifiedArn() const {
  return "arn:" + partition + ":lambda:" + region + ":" + account_id + ":function:" + name;
}

std::string FunctionReference::QualifiedArn() const {
  return UnqualifiedArn() + ":" + (qualifier.empty() ? std::string(kLatest) : qualifier);
}

StatusOr<FunctionReference> ParseFunctionReference(std::string_view text,
                                                   const LambdaEnvironment& environment) {
  FunctionReference ref;
  ref.partition = environment.partition;
  ref.region = environment.region;
  ref.account_id = environment.account_id;
  const std::vector<std::string_view> parts = Split(text, ':');
  const auto malformed = [&] {
    return InvalidArgumentError("malformed Lambda function reference \"" + std::string(text) +
                                "\"");
  };
  if (parts.size() >= 7 && parts[0] == "arn") {
    // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
    if (parts.size() > 8 || parts[2] != "lambda" || parts[5] != "function") return malformed();
    ref.partition = std::string(parts[1]);
    ref.region = std::string(parts[3]);
    ref.account_id = std::string(parts[4]);
    ref.name = std::string(parts[6]);
    if (parts.size() == 8) ref.qualifier = std::string(parts[7]);
  } else if (parts.size() >= 3 && parts[1] == "function") {
    // ACCOUNT:function:NAME[:QUALIFIER]
    if (parts.size() > 4) return malformed();
    ref.account_id = std::string(parts[0]);
    ref.name = std::string(parts[2]);
    if (parts.size() == 4) ref.qualifier = std::string(parts[3]);
  } else if (parts.size() <= 2 && parts[0] != "arn") {
    ref.name = std::string(parts[0]);
    if (parts.size() == 2) ref.qualifier = std::string(parts[1]);
  } else {
    return malformed();
  }
  if (ref.name.empty()) return malformed();
  return ref;
}

bool IsLambdaTask(const asl::TaskInvocation& task) {
  return task.kind == asl::TaskKind::kLambdaFunction || IsLambdaInvoke(task);
}

std::string ResourceNotFoundCause(const FunctionReference& function, std::string_view request_id) {
  return "Function not found: " + function.QualifiedArn() +
         " (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
         "Request ID: " +
         std::string(request_id) + "; Proxy: null)";
}

// One invocation's result. A raise is kept as the handler's Status (or the exception's text), and
// error_type and error_message view it, so nothing is copied until the cause is written. The
// views may point into `thrown`, so a Call stays where it was made.
struct LocalFunctions::Call {
  Call() = default;
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  bool raised = false;
  json::value result;              // !raised
  Status status;                   // raised by returning an error
  std::string thrown;              // raised by throwing: what()
  std::string_view error_type;     // raised: into status or a literal
  std::string_view error_message;  // raised: into status, thrown or the caller's text
};

LocalFunctions::LocalFunctions(LambdaEnvironment environment, const Clock& clock)
    : environment_(std::move(environment)), clock_(clock) {}

Status LocalFunctions::Register(std::string name, LambdaHandler handler, FunctionOptions options) {
  if (name.empty()) return InvalidArgumentError("a Lambda function needs a name");
  if (!handler) return InvalidArgumentError("Lambda function \"" + name + "\" has no handler");
  if (functions_.contains(name)) {
    return AlreadyExistsError("Lambda function \"" + name + "\" is already registered");
  }
  if (options.run_time > Duration::zero()) any_run_time_ = true;
  if (options.local_only) any_local_only_ = true;
  functions_.emplace(std::move(name), Function{std::move(handler), std::move(options)});
  // A name that resolved to no function may resolve to this one now.
  std::lock_guard lock(resolved_mu_);
  last_resolved_.store(nullptr, std::memory_order_release);
  resolved_.clear();
  return Status::Ok();
}

bool LocalFunctions::Contains(std::string_view name) const {
  return functions_.find(name) != functions_.end();
}

const LocalFunctions::Function* LocalFunctions::Find(const ResolvedName& resolved,
                                                     std::string_view qualifier) {
  if (!qualifier.empty() && qualifier != kLatest) return nullptr;
  return resolved.function;
}

StatusOr<const LocalFunctions::ResolvedName*> LocalFunctions::ResolveName(
    std::string_view text, ResolvedName* scratch) const {
  // Consecutive tasks mostly name the same function: try the last answer without hashing or
  // locking. Cache entries stay put until Register, which never runs alongside this.
  if (const auto* last = last_resolved_.load(std::memory_order_acquire);
      last != nullptr && last->first == text) {
    return &last->second;
  }
  std::lock_guard lock(resolved_mu_);
  if (auto it = resolved_.find(text); it != resolved_.end()) {
    last_resolved_.store(&*it, std::memory_order_release);
    return &it->second;
  }
  auto parsed = ParseFunctionReference(text, environment_);
  if (!parsed.ok()) return parsed.status();
  ResolvedName* resolved = scratch;
  std::pair<const std::string, ResolvedName>* entry = nullptr;
  if (resolved_.size() < kMaxResolvedNames) {
    entry = &*resolved_.try_emplace(std::string(text)).first;
    resolved = &entry->second;
  }
  resolved->reference = std::move(parsed).value();
  resolved->unqualified_arn = resolved->reference.UnqualifiedArn();
  auto it = functions_.find(resolved->reference.name);
  resolved->function = it == functions_.end() ? nullptr : &it->second;
  // Published only once filled in.
  if (entry != nullptr) last_resolved_.store(entry, std::memory_order_release);
  return resolved;
}

const LocalFunctions::Function* LocalFunctions::FunctionFor(const asl::TaskInvocation& task) const {
  if (!IsLambdaTask(task)) return nullptr;
  std::string_view name_text;
  if (task.kind == asl::TaskKind::kLambdaFunction) {
    name_text = task.resource;
  } else {
    const json::object* params = task.parameters.if_object();
    const json::value* name = params ? params->if_contains("FunctionName") : nullptr;
    if (name == nullptr || !name->is_string()) return nullptr;
    name_text = name->get_string();
  }
  ResolvedName scratch;
  auto resolved = ResolveName(name_text, &scratch);
  if (!resolved.ok()) return nullptr;
  // The reference's own qualifier only: a lambda:invoke Qualifier parameter is not consulted.
  return Find(**resolved, (*resolved)->reference.qualifier);
}

Duration LocalFunctions::RunTime(const asl::TaskInvocation& task) const {
  // Asked for every task: skip the lookup when no function takes time at all.
  if (!any_run_time_) return Duration::zero();
  const Function* function = FunctionFor(task);
  return function == nullptr ? Duration::zero() : function->options.run_time;
}

bool LocalFunctions::IsLocalOnly(const asl::TaskInvocation& task) const {
  if (!any_local_only_) return false;
  const Function* function = FunctionFor(task);
  return function != nullptr && function->options.local_only &&
         function->options.run_time <= Duration::zero();
}

bool LocalFunctions::Resolve(const asl::TaskInvocation& task, RandomSource& ids,
                             Resolution* resolution, asl::TaskOutcome* outcome) const {
  if (task.kind == asl::TaskKind::kLambdaFunction) {
    auto resolved = ResolveName(task.resource, &resolution->name_storage);
    if (!resolved.ok()) {
      *outcome = Failure("States.Runtime", std::string(resolved.status().message()));
      return false;
    }
    resolution->name = *resolved;
    resolution->qualifier = resolution->name->reference.qualifier;
    // The effective input is the event as is; handlers take it by const reference.
    resolution->event = &task.parameters;
    return true;
  }
  const json::object* params = task.parameters.if_object();
  const json::value* name = params ? params->if_contains("FunctionName") : nullptr;
  if (name == nullptr || !name->is_string()) {
    // What the AWS SDK's request validation reports for a missing FunctionName.
    *outcome = Failure("Lambda.ValidationException",
                       "1 validation error detected: Value null at 'functionName' failed to "
                       "satisfy constraint: Member must not be null (Service: AWSLambda; Status "
                       "Code: 400; Error Code: ValidationException; Request ID: " +
                           NewUuidV4(ids) + "; Proxy: null)");
    return false;
  }
  auto resolved = ResolveName(name->get_string(), &resolution->name_storage);
  if (!resolved.ok()) {
    *outcome =
        Failure("Lambda.InvalidParameterValueException", std::string(resolved.status().message()));
    return false;
  }
  resolution->name = *resolved;
  resolution->qualifier = resolution->name->reference.qualifier;
  if (const json::value* qualifier = params->if_contains("Qualifier");
      qualifier != nullptr && qualifier->is_string() && resolution->qualifier.empty()) {
    resolution->qualifier = qualifier->get_string();
  }
  // Step Functions sends a string Payload as the raw request body, any other value as its JSON
  // text, and no body for null; Lambda hands an empty body to the function as {}.
  const json::value* payload = params->if_contains("Payload");
  if (payload == nullptr || payload->is_null() ||
      (payload->is_string() && payload->get_string().empty())) {
    resolution->event_storage = json::object();
    resolution->event = &resolution->event_storage;
  } else if (payload->is_string()) {
    // Decoded by the function's runtime; bad JSON is the runtime's error, reported like one.
    auto decoded = ParseJson(payload->get_string());
    if (!decoded.ok()) {
      resolution->unmarshal_error =
          "Unable to unmarshal input: " + std::string(decoded.status().message());
      return true;
    }
    resolution->event_storage = std::move(decoded).value();
    resolution->event = &resolution->event_storage;
  } else {
    resolution->event = payload;
  }
  return true;
}

void LocalFunctions::Run(const Function& function, const ResolvedName& resolved,
                         const json::value& event, std::string_view request_id,
                         const std::atomic<bool>* cancelled, std::string_view idempotency_key,
                         Call* call) const {
  LambdaContext context;
  context.idempotency_key = idempotency_key;
  context.request_id = request_id;
  context.function_name = resolved.reference.name;
  context.invoked_function_arn = resolved.unqualified_arn;
  context.cancelled = cancelled;

  try {
    StatusOr<json::value> result = function.handler(event, context);
    if (result.ok()) {
      call->result = std::move(result).value();
      return;
    }
    call->status = result.status();
    call->error_type = call->status.error_name();
    call->error_message = call->status.message();
  } catch (const std::exception& e) {
    call->thrown = e.what();
    call->error_message = call->thrown;
  } catch (...) {
    call->error_message = "unknown C++ exception";
  }
  if (call->error_type.empty()) call->error_type = "Exception";
  call->raised = true;
}

asl::TaskOutcome LocalFunctions::Invoke(const asl::TaskInvocation& task, RandomSource& ids,
                                        const std::atomic<bool>* cancelled,
                                        std::string_view idempotency_key) const {
  if (!IsLambdaTask(task)) {
    return Failure("States.Runtime", "The resource '" + std::string(task.resource) +
                                         "' is not a Lambda function or lambda:invoke");
  }
  Resolution resolution;
  asl::TaskOutcome outcome;
  if (!Resolve(task, ids, &resolution, &outcome)) return outcome;

  char request_id_text[kUuidLength];
  FormatUuidV4(ids, request_id_text);
  const std::string_view request_id(request_id_text, kUuidLength);
  const ResolvedName& resolved = *resolution.name;
  const Function* function = Find(resolved, resolution.qualifier);
  if (function == nullptr) {
    FunctionReference reference = resolved.reference;
    reference.qualifier = resolution.qualifier;
    return Failure(kResourceNotFound, ResourceNotFoundCause(reference, request_id));
  }

  Call call;
  std::span<const std::string> stack_trace = function->options.stack_trace;
  if (!resolution.unmarshal_error.empty()) {
    // The function's runtime could not decode the request body (a string Payload that is not
    // JSON); Lambda reports that as the function's error.
    call.raised = true;
    call.error_type = "Runtime.UnmarshalError";
    call.error_message = resolution.unmarshal_error;
    stack_trace = {};
  } else {
    Run(*function, resolved, *resolution.event, request_id, cancelled, idempotency_key, &call);
  }

  if (task.kind == asl::TaskKind::kLambdaFunction) {
    if (call.raised) {
      return Failure(call.error_type, ErrorJson(kPythonStyle, call.error_type, call.error_message,
                                                request_id, stack_trace));
    }
    outcome.succeeded = true;
    outcome.output = std::move(call.result);
    return outcome;
  }

  // lambda:invoke: Step Functions re-serialises the error JSON compactly.
  if (call.raised) {
    return Failure(call.error_type, ErrorJson(kCompactStyle, call.error_type, call.error_message,
                                              request_id, stack_trace));
  }

  const json::object& params = task.parameters.as_object();
  const json::value* log_type = params.if_contains("LogType");
  const bool tail =
      log_type != nullptr && log_type->is_string() && log_type->get_string() == "Tail";
  const std::string log_result = tail ? LogResult(request_id) : std::string();
  const std::string content_length = std::to_string(PythonJsonDumps(call.result).size());
  const std::string date = FormatHttpDate(clock_.WallNow());
  const std::string trace_id = TraceId(clock_.WallNow(), ids);
  const std::string version(kLatest);

  // Header order as the AWS SDK (Java) reports them: AllHttpHeaders in arrival order,
  // HttpHeaders sorted case-insensitively.
  json::object all_headers;
  const auto one = [](std::string_view v) { return json::array{json::value(v)}; };
  if (tail) all_headers["X-Amz-Log-Result"] = one(log_result);
  all_headers["X-Amz-Executed-Version"] = one(version);
  all_headers["x-amzn-Remapped-Content-Length"] = one("0");
  all_headers["Connection"] = one("keep-alive");
  all_headers["x-amzn-RequestId"] = one(request_id);
  all_headers["Content-Length"] = one(content_length);
  all_headers["Date"] = one(date);
  all_headers["X-Amzn-Trace-Id"] = one(trace_id);
  all_headers["Content-Type"] = one("application/json");

  json::object headers;
  headers["Connection"] = "keep-alive";
  headers["Content-Length"] = content_length;
  headers["Content-Type"] = "application/json";
  headers["Date"] = date;
  headers["X-Amz-Executed-Version"] = version;
  if (tail) headers["X-Amz-Log-Result"] = log_result;
  headers["x-amzn-Remapped-Content-Length"] = "0";
  headers["x-amzn-RequestId"] = request_id;
  headers["X-Amzn-Trace-Id"] = trace_id;

  json::object http;
  http["AllHttpHeaders"] = std::move(all_headers);
  http["HttpHeaders"] = std::move(headers);
  http["HttpStatusCode"] = 200;

  json::object envelope;
  envelope["ExecutedVersion"] = version;
  if (tail) envelope["LogResult"] = log_result;
  envelope["Payload"] = std::move(call.result);
  envelope["SdkHttpMetadata"] = std::move(http);
  envelope["SdkResponseMetadata"] = json::object{{"RequestId", request_id}};
  envelope["StatusCode"] = 200;

  outcome.succeeded = true;
  outcome.output = std::move(envelope);
  return outcome;
}

asl::TaskOutcome NoLocalImplementation(const asl::TaskInvocation& task,
                                       std::string_view runner_name) {
  asl::TaskOutcome outcome;
  outcome.succeeded = false;
  outcome.error = "States.TaskFailed";
  outcome.cause = std::string(runner_name) + " has no local implementation of '" +
                  std::string(task.resource) + "'";
  return outcome;
}

}  // namespace hpd::engine
