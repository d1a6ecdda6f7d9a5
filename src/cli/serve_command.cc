// hpdeploy serve: the durable engine behind a Step Functions-compatible API (AWS JSON 1.0 over
// HTTP/1.1), so that `aws stepfunctions --endpoint-url http://127.0.0.1:8080 ...` and boto3 can
// drive it.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "cli/platform.h"
#include "cli/platform_backend.h"
#include "common/clock.h"
#include "common/rfc3339.h"
#include "common/status.h"
#include "engine/bench_functions.h"
#include "engine/corpus_functions.h"
#include "engine/local_functions.h"
#include "engine/runtime.h"
#include "engine/witness_functions.h"
#include "server/aws_json_endpoint.h"
#include "server/http_server.h"
#include "server/sigv4.h"
#include "server/step_functions_api.h"
#include "store/journal.h"

namespace hpd::cli {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string data_dir = "hpdeploy-data";
  double time_scale = 1.0;
  size_t workers = 4;
  size_t http_threads = 2;
  std::vector<std::string> access_keys;  // ID:SECRET
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  std::string corpus_functions;  // a conformance cases folder, or empty
  std::string witness_log;       // register the witness functions, logging here
  std::string presets_file;      // extra HyperPod presets
  bool exit_when_idle = false;
  // The platform backend (REST API, events, webhooks).
  std::string workflow_endpoint;  // the Step Functions API to drive; "" for the embedded engine
  std::string sandbox_data_dir;   // with workflow_endpoint: whose sandbox answers quota reads
  std::string event_target;       // forward every event here (an EventBridge API destination)
  double rate_limit_per_second = 20;
  double rate_limit_burst = 40;
  int webhook_max_attempts = 12;
  int64_t webhook_initial_backoff_ms = 1000;
  int64_t webhook_max_backoff_ms = 60000;
};

std::string EnvOr(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : std::move(fallback);
}

// One structured log line (JSON) on stderr.
void Log(std::string_view level, std::string_view message, std::string_view fields = "") {
  std::string line = "{\"time\":\"" + FormatRfc3339Millis(SystemClock().WallNow()) +
                     "\",\"level\":\"" + std::string(level) + "\",\"msg\":\"" +
                     std::string(message) + "\"";
  if (!fields.empty()) {
    line += ",";
    line += fields;
  }
  line += "}\n";
  std::cerr << line << std::flush;
}

std::string Quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

BackendOptions BackendOptionsFrom(const ServeOptions& options) {
  BackendOptions backend;
  backend.data_dir = options.data_dir;
  backend.region = options.region;
  backend.account_id = options.account_id;
  backend.presets_file = options.presets_file;
  backend.workflow_endpoint = options.workflow_endpoint;
  // A loopback `hpdeploy serve` accepts any signed request; AWS needs real keys.
  backend.workflow_access_key = EnvOr("HPD_WORKFLOW_ACCESS_KEY", "hpdeploy:hpdeploy");
  backend.sandbox_data_dir = options.sandbox_data_dir;
  backend.event_target = options.event_target;
  backend.event_target_token = EnvOr("HPD_EVENT_TARGET_TOKEN", "");
  backend.rate_limit_per_second = options.rate_limit_per_second;
  backend.rate_limit_burst = options.rate_limit_burst;
  backend.webhooks.max_attempts = options.webhook_max_attempts;
  backend.webhooks.initial_backoff = std::chrono::milliseconds(options.webhook_initial_backoff_ms);
  backend.webhooks.max_backoff = std::chrono::milliseconds(options.webhook_max_backoff_ms);
  return backend;
}

bool IsLoopback(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.substr(0, 4) == "127.";
}

// Loopback: any request signed with SigV4 is accepted (as local AWS emulators do); otherwise the
// signature is verified against the configured keys.
std::function<Status(const server::HttpRequest&)> Authenticator(
    std::shared_ptr<const server::SigV4Verifier> verifier) {
  return [verifier](const server::HttpRequest& request) -> Status {
    const std::string_view authorization = request.Header("authorization");
    if (authorization.empty()) {
      Status status = UnauthenticatedError("Request is missing Authentication Token");
      status.SetErrorName("MissingAuthenticationTokenException");
      return status;
    }
    if (verifier == nullptr) return Status::Ok();
    const std::string_view target = request.target;
    const size_t question = target.find('?');
    server::SignedRequest signed_request;
    signed_request.method = request.method;
    signed_request.path = target.substr(0, question);
    signed_request.query =
        question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
    signed_request.headers = request.headers;
    signed_request.body = request.body;
    return verifier->Verify(signed_request).status();
  };
}

int Serve(const ServeOptions& options) {
  const bool loopback = IsLoopback(options.host);
  std::vector<server::SigV4Credentials> keys;
  std::vector<std::string> key_texts = options.access_keys;
  // Keys in the environment stay out of `ps`: HPD_ACCESS_KEYS=ID:SECRET[,ID:SECRET...]
  if (const char* env = std::getenv("HPD_ACCESS_KEYS"); env != nullptr && *env != '\0') {
    std::string_view rest(env);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      key_texts.emplace_back(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  for (const std::string& key : key_texts) {
    std::string id;
    std::string secret;
    if (!SplitAccessKey(key, &id, &secret)) {
      std::cerr << "hpdeploy serve: --access-key must be ACCESS_KEY_ID:SECRET\n";
      return kExitUsage;
    }
    keys.push_back({id, secret, ""});
  }
  if (!options.sandbox_data_dir.empty() && options.workflow_endpoint.empty()) {
    std::cerr << "hpdeploy serve: --sandbox-data-dir goes with --workflow-endpoint (the embedded "
                 "engine reads its own sandbox)\n";
    return kExitUsage;
  }
  if (!options.event_target.empty() && !options.workflow_endpoint.empty()) {
    std::cerr << "hpdeploy serve: --event-target forwards the events of this server's engine; "
                 "with --workflow-endpoint it runs none\n";
    return kExitUsage;
  }
  if (!options.event_target.empty() && std::getenv("HPD_EVENT_TARGET_TOKEN") == nullptr) {
    std::cerr << "hpdeploy serve: --event-target needs HPD_EVENT_TARGET_TOKEN, a token of the "
                 "target with the admin role (POST /api/v1/events)\n";
    return kExitUsage;
  }
  if (!loopback && keys.empty()) {
    std::cerr << "hpdeploy serve: listening on " << options.host
              << " (not loopback) requires --access-key ID:SECRET: requests are then verified "
                 "with SigV4\n";
    return kExitUsage;
  }
  if (!(options.time_scale >= 0)) {
    std::cerr << "hpdeploy serve: --time-scale must be >= 0\n";
    return kExitUsage;
  }

  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    std::cerr << "hpdeploy serve: cannot create the data dir " << options.data_dir << ": "
              << error.message() << "\n";
    return kExitUsage;
  }
  if (::access(options.data_dir.c_str(), W_OK) != 0) {
    std::cerr << "hpdeploy serve: the data dir " << options.data_dir << " is not writable\n";
    return kExitUsage;
  }

  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const auto recovery_start = std::chrono::steady_clock::now();
  // The embedded engine, unless this server drives another's Step Functions API.
  std::unique_ptr<Platform> platform;
  if (options.workflow_endpoint.empty()) {
    PlatformOptions platform_options;
    platform_options.data_dir = options.data_dir;
    platform_options.time_scale = options.time_scale;
    platform_options.workers = options.workers;
    platform_options.region = options.region;
    platform_options.account_id = options.account_id;
    platform_options.presets_file = options.presets_file;
    platform_options.extra_functions = [&options](engine::LocalFunctions& functions) -> Status {
      HPD_RETURN_IF_ERROR(engine::RegisterBenchFunctions(functions));
      if (!options.corpus_functions.empty()) {
        StatusOr<size_t> registered =
            engine::RegisterCorpusFunctions(functions, options.corpus_functions);
        if (!registered.ok()) return registered.status();
        Log("info", "corpus functions",
            "\"cases_dir\":" + Quoted(options.corpus_functions) +
                ",\"functions\":" + std::to_string(*registered));
      }
      if (!options.witness_log.empty()) {
        HPD_RETURN_IF_ERROR(engine::RegisterWitnessFunctions(functions, options.witness_log));
      }
      return Status::Ok();
    };
    StatusOr<std::unique_ptr<Platform>> opened = Platform::Open(std::move(platform_options));
    if (!opened.ok()) {
      std::cerr << "hpdeploy serve: " << opened.status().message() << "\n";
      // An unusable or busy data dir, a bad option: usage. Anything else (a journal that cannot
      // be recovered, a corpus that cannot be served): the command failed.
      const StatusCode code = opened.status().code();
      return code == StatusCode::kUnavailable || code == StatusCode::kFailedPrecondition ||
                     code == StatusCode::kInvalidArgument || code == StatusCode::kNotFound
                 ? kExitUsage
                 : kExitFailure;
    }
    platform = std::move(*opened);
    const auto recovery_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - recovery_start)
                                 .count();
    const engine::RecoveryReport& recovered = platform->runtime().recovery();
    for (const std::string& failure : recovered.failed) {
      Log("error", "an execution could not be recovered", "\"detail\":" + Quoted(failure));
    }
    Log("info", "recovered",
        "\"executions\":" + std::to_string(recovered.executions) +
            ",\"calls\":" + std::to_string(recovered.calls) +
            ",\"tasks_redispatched\":" + std::to_string(recovered.tasks_redispatched) +
            ",\"timers_rearmed\":" + std::to_string(recovered.timers_rearmed) +
            ",\"ms\":" + std::to_string(recovery_ms));
  }
  SystemClock system_clock;
  Clock& clock = platform ? platform->clock() : system_clock;

  std::shared_ptr<const server::SigV4Verifier> verifier;
  if (!keys.empty()) {
    server::SigV4Options sigv4;
    sigv4.region = options.region;
    StatusOr<server::SigV4Verifier> created =
        server::SigV4Verifier::Create(std::move(keys), sigv4, clock);
    if (!created.ok()) {
      std::cerr << "hpdeploy serve: " << created.status().message() << "\n";
      return kExitUsage;
    }
    verifier = std::make_shared<const server::SigV4Verifier>(std::move(*created));
  }

  StatusOr<std::unique_ptr<PlatformBackend>> backend =
      PlatformBackend::Open(BackendOptionsFrom(options), platform.get(), clock);
  if (!backend.ok()) {
    std::cerr << "hpdeploy serve: " << backend.status().message() << "\n";
    return backend.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitFailure;
  }

  server::HttpHandler sfn_handler;
  if (platform) {
    server::StepFunctionsApi& api = platform->api();
    server::AwsJsonEndpointOptions endpoint;
    endpoint.error_namespace = std::string(server::kStepFunctionsErrorNamespace);
    endpoint.authenticate = Authenticator(verifier);
    sfn_handler = server::MakeAwsJsonHandler(
        std::move(endpoint),
        [&api](std::string_view action, std::string body, server::AwsJsonReply reply) {
          api.Call(action, std::move(body), std::move(reply));
        });
  }
  server::HttpHandler handler = RouteRequests(std::move(sfn_handler), (*backend)->rest());

  server::HttpServerOptions http;
  http.host = options.host;
  http.port = options.port;
  http.threads = options.http_threads;
  server::RestApi& rest = (*backend)->rest();
  http.error_response = [&rest](int status, std::string_view message) {
    return rest.ServerErrorResponse(status, message);
  };
  StatusOr<std::unique_ptr<server::HttpServer>> server =
      server::HttpServer::Start(http, std::move(handler));
  if (!server.ok()) {
    std::cerr << "hpdeploy serve: " << server.status().message() << "\n";
    return kExitUsage;
  }
  const std::string url = "http://" + options.host + ":" + std::to_string((*server)->port());
  Log("info", "ready",
      "\"url\":" + Quoted(url) + ",\"data_dir\":" + Quoted(options.data_dir) +
          ",\"auth\":" + (verifier ? "\"sigv4\"" : "\"any-signed (loopback)\"") +
          ",\"backend\":" + Quoted((*backend)->workflow().Describe()));
  std::cout << "hpdeploy serve: listening on " << url << std::endl;

  int signal_number = 0;
  if (options.exit_when_idle) {
    // Waits for a signal, or for no execution to be left open (checked each second).
    while (true) {
      timespec second{1, 0};
      const int got = sigtimedwait(&signals, nullptr, &second);
      if (got > 0) {
        signal_number = got;
        break;
      }
      if (platform == nullptr || platform->runtime().open_executions() == 0) {
        Log("info", "idle: no open executions left");
        signal_number = SIGTERM;
        break;
      }
    }
  } else {
    sigwait(&signals, &signal_number);
  }
  Log("info", "shutting down",
      "\"signal\":" + Quoted(signal_number == SIGINT ? "SIGINT" : "SIGTERM"));
  (*server)->Shutdown(std::chrono::seconds(5));  // stop accepting; answer what is in progress
  (*backend)->Shutdown();                        // ends event streams; stops webhook deliveries
  backend->reset();
  platform.reset();  // cancels running tasks, journals what is pending, closes the journal
  Log("info", "stopped");
  return kExitOk;
}

}  // namespace

void RegisterServeCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "Run the durable engine behind a Step Functions-compatible API (AWS JSON 1.0), for the "
      "AWS CLI, boto3 and the AWS SDKs, with the HyperPod pipeline's state machines "
      "(hyperpod-deployment, hyperpod-teardown, hyperpod-cancel) against the sandbox cloud; and, "
      "on the same port, the platform REST API under /api/v1/ (bearer tokens from `hpdeploy "
      "token`; docs/platform-api.md) with Server-Sent Events, webhooks, /healthz, /readyz and "
      "/metrics. Executions survive restarts: they resume where the journal left them.");
  cmd->add_option("--host", options->host,
                  "Address to listen on. On a loopback address any SigV4-signed request is "
                  "accepted; elsewhere --access-key is required and signatures are verified")
      ->capture_default_str();
  cmd->add_option("--port", options->port, "TCP port (0: any free port)")->capture_default_str();
  cmd->add_option("--data-dir", options->data_dir,
                  "The data dir: the journal, the parameter, object and log stores, the sandbox "
                  "account and the container runner's tasks; created if missing")
      ->capture_default_str();
  cmd->add_option(
         "--time-scale", options->time_scale,
         "Waits, retry intervals, timeouts and local functions' run times of d take d * X of "
         "real time (0: none, so a task with a timeout loses to it at once)")
      ->capture_default_str();
  cmd->add_option("--workers", options->workers,
                  "Threads running task handlers. A running ECS task (InfraForge) holds one for "
                  "its whole run, so allow one per deployment expected to run at once, plus a "
                  "few")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--http-threads", options->http_threads, "HTTP I/O threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--access-key", options->access_keys,
                  "ACCESS_KEY_ID:SECRET accepted for SigV4 (repeatable). Visible to other users "
                  "in `ps`: prefer the environment variable HPD_ACCESS_KEYS=ID:SECRET[,...]");
  cmd->add_option("--region", options->region, "Region in ARNs")->capture_default_str();
  cmd->add_option("--account-id", options->account_id, "Account id in ARNs")->capture_default_str();
  cmd->add_option("--corpus-functions", options->corpus_functions,
                  "Also serve the Lambda functions of the conformance cases under CASES_DIR, for "
                  "`asl-conformance --endpoint`: each case's lambda_functions entry as "
                  "PLACEHOLDER-BEHAVIOUR (e.g. <lambda_function_name>-identity), since the corpus "
                  "binds one placeholder to different handlers in different cases. Refuses a case "
                  "whose handler file has no local behaviour")
      ->option_text("CASES_DIR");
  cmd->add_option("--witness-log", options->witness_log,
                  "Also serve the functions witness and witness_slow, which append one line per "
                  "invocation (idempotency key, pid, event) to FILE: for crash tests that count "
                  "how often each task ran")
      ->option_text("FILE");
  cmd->add_option("--presets", options->presets_file,
                  "A JSON file of HyperPod presets extending or replacing the built-in ones");
  cmd->add_option("--workflow-endpoint", options->workflow_endpoint,
                  "Run no engine here: drive the Step Functions API at URL (another `hpdeploy "
                  "serve`, or AWS) over HTTP, SigV4-signed with HPD_WORKFLOW_ACCESS_KEY=ID:SECRET "
                  "(default hpdeploy:hpdeploy, which a loopback hpdeploy serve accepts). Status "
                  "changes arrive from that server's --event-target, never by polling")
      ->option_text("URL");
  cmd->add_option("--sandbox-data-dir", options->sandbox_data_dir,
                  "With --workflow-endpoint: the engine server's data dir, whose sandbox account "
                  "answers the quota guardrails of validate and create")
      ->option_text("DIR");
  cmd->add_option("--event-target", options->event_target,
                  "Also deliver every event of this server to URL (the platform backend's POST "
                  "/api/v1/events), as an EventBridge rule with an API destination would, with "
                  "the token HPD_EVENT_TARGET_TOKEN (admin role there); durable, in order, "
                  "retried")
      ->option_text("URL");
  cmd->add_option("--rate-limit-per-second", options->rate_limit_per_second,
                  "REST API requests per second per token (token bucket refill)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--rate-limit-burst", options->rate_limit_burst,
                  "REST API requests a token may make at once (token bucket size)")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e9));
  cmd->add_option("--webhook-max-attempts", options->webhook_max_attempts,
                  "Delivery attempts of one event to one webhook before it is dead-lettered")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--webhook-initial-backoff-ms", options->webhook_initial_backoff_ms,
                  "Backoff before the second attempt; doubles per attempt (full jitter)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));
  cmd->add_option("--webhook-max-backoff-ms", options->webhook_max_backoff_ms,
                  "The longest backoff between attempts")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400000}));
  cmd->add_flag("--exit-when-idle", options->exit_when_idle,
                "Exit (as on SIGTERM) once no execution is left open, checked each second: how "
                "`hpdeploy deploy --no-follow` runs a deployment in the background");
  cmd->callback([options, exit_code] { *exit_code = Serve(*options); });
}

}  // namespace hpd::cli
