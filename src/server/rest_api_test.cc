// The REST API over a real HttpServer on loopback, with a real TokenStore and audit log in a
// temporary directory.
#include "server/rest_api.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/value.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status_matchers.h"
#include "hyperpod/presets.h"
#include "hyperpod/service.h"
#include "server/http_server.h"
#include "store/event_log.h"
#include "store/token_store.h"

namespace hpd::server {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr auto kWait = std::chrono::seconds(10);

json::value J(std::string_view text) { return ParseJson(text).value(); }

// A JSON string's text, or a marker that never equals one, for EXPECT_EQ.
std::string Str(const json::value& value) {
  if (value.is_string()) return std::string(value.as_string());
  if (value.is_int64()) return std::to_string(value.as_int64());
  return "<" + SerializeJson(value) + ">";
}

struct Response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  json::value Json() const {
    StatusOr<json::value> parsed = ParseJson(body);
    EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << body;
    return parsed.ok() ? *parsed : json::value();
  }
  std::string ErrorCode() const {
    const json::value v = Json();
    if (!v.is_object() || !v.as_object().contains("error")) return "<no error body>";
    return std::string(v.at("error").at("code").as_string());
  }
};

// A blocking HTTP/1.1 client on one TCP connection. Reads time out after kWait so a broken server
// fails the test instead of hanging it.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{};
    tv.tv_sec = kWait.count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool Send(std::string_view bytes) {
    if (!connected_) return false;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // The status line and headers; then Body() or the chunks of a stream.
  std::optional<Response> ReadHead() {
    size_t header_end;
    while ((header_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Response response;
    const std::string head = pending_.substr(0, header_end);
    pending_.erase(0, header_end + 4);
    std::istringstream lines(head);
    std::string line;
    std::getline(lines, line);
    if (line.size() < 12) return std::nullopt;
    response.status = std::stoi(line.substr(9, 3));
    while (std::getline(lines, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t start = colon + 1;
      while (start < line.size() && line[start] == ' ') ++start;
      response.headers.emplace_back(std::move(name), line.substr(start));
    }
    return response;
  }

  std::optional<Response> Read() {
    std::optional<Response> response = ReadHead();
    if (!response) return std::nullopt;
    const std::string length = response->Header("content-length");
    const size_t size = length.empty() ? 0 : std::stoul(length);
    while (pending_.size() < size) {
      if (!Fill()) return std::nullopt;
    }
    response->body = pending_.substr(0, size);
    pending_.erase(0, size);
    return response;
  }

  // One chunk of a chunked body: "" for the last, nullopt when the connection ends first.
  std::optional<std::string> ReadChunk() {
    size_t line_end;
    while ((line_end = pending_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    const size_t size = std::stoul(pending_.substr(0, line_end), nullptr, 16);
    const size_t total = line_end + 2 + size + 2;
    while (pending_.size() < total) {
      if (!Fill()) return std::nullopt;
    }
    std::string data = pending_.substr(line_end + 2, size);
    pending_.erase(0, total);
    return data;
  }

  // Stream text until `needle` has arrived (everything so far), or nullopt at the end or kWait.
  std::optional<std::string> ReadStreamUntil(std::string_view needle) {
    while (stream_.find(needle) == std::string::npos) {
      std::optional<std::string> chunk = ReadChunk();
      if (!chunk || chunk->empty()) return std::nullopt;
      stream_ += *chunk;
    }
    return stream_;
  }
  // Stream text until the server ends the stream; nullopt when it does not within kWait.
  std::optional<std::string> ReadStreamToEnd() {
    while (true) {
      std::optional<std::string> chunk = ReadChunk();
      if (!chunk) return std::nullopt;
      if (chunk->empty()) return stream_;
      stream_ += *chunk;
    }
  }

 private:
  bool Fill() {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      pending_.append(buf, static_cast<size_t>(n));
      return true;
    }
  }

  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
  std::string stream_;
};

std::string Request(std::string_view method, std::string_view target, std::string_view token,
                    std::string_view body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n";
  if (!token.empty()) text += "Authorization: Bearer " + std::string(token) + "\r\n";
  bool has_type = false;
  for (const auto& [name, value] : headers) {
    text += name + ": " + value + "\r\n";
    if (name == "Content-Type") has_type = true;
  }
  if (!body.empty() && !has_type) text += "Content-Type: application/json\r\n";
  if (!body.empty() || method == "POST") {
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  text += "\r\n";
  text += body;
  return text;
}

// The Step Functions API as the service sees it: executions started, described, stopped, and their
// (empty) histories, kept in memory. What the executions then do reaches the service through the
// event log, which the tests append to as the engine's publisher would.
class FakeBackend : public hyperpod::WorkflowBackend {
 public:
  StatusOr<json::object> Call(std::string_view action, const json::object& request) override {
    std::lock_guard lock(mu_);
    calls_.emplace_back(action);
    if (action == "StartExecution") {
      const std::string machine(request.at("stateMachineArn").as_string());
      const std::string name =
          request.contains("name") ? std::string(request.at("name").as_string()) : "run";
      std::string arn = machine;
      if (const size_t pos = arn.find(":stateMachine:"); pos != std::string::npos) {
        arn.replace(pos, 14, ":execution:");
      }
      arn += ":" + name;
      executions_[arn] = "RUNNING";
      return json::object{{"executionArn", arn}, {"startDate", 1.8e9}};
    }
    if (action == "DescribeExecution" || action == "StopExecution") {
      const std::string arn(request.at("executionArn").as_string());
      auto it = executions_.find(arn);
      if (it == executions_.end()) {
        return Named(InvalidArgumentError("Execution Does Not Exist: '" + arn + "'"),
                     "ExecutionDoesNotExist");
      }
      if (action == "StopExecution") {
        it->second = "ABORTED";
        return json::object{{"stopDate", 1.8e9}};
      }
      return json::object{{"executionArn", arn}, {"status", it->second}, {"startDate", 1.8e9}};
    }
    if (action == "GetExecutionHistory") return json::object{{"events", json::array()}};
    return Named(InvalidArgumentError("unknown action"), "UnknownOperation");
  }
  std::string Describe() const override { return "embedded"; }

 private:
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::map<std::string, std::string> executions_;
};

// Holds the threads that pass it while closed: the test's way to keep the API's workers busy.
class Gate {
 public:
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return !closed_; });
    --waiting_;
  }
  // Whether `n` threads wait at the gate within kWait.
  bool AwaitWaiting(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return waiting_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int waiting_ = 0;
};

class RestApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("rest_api_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto events = store::EventLog::Open(dir_ / "events.db");
    ASSERT_THAT(events, IsOk());
    events_ = std::move(*events);
    auto tokens = store::TokenStore::Open(dir_ / "auth.db", clock_);
    ASSERT_THAT(tokens, IsOk());
    tokens_ = std::move(*tokens);
    admin_ = Token("root", "admin");
    deployer_ = Token("alice", "deployer");
    viewer_ = Token("victor", "viewer");
  }

  void TearDown() override {
    quota_gate_.Open();  // a failed test must not leave a worker held, or Stop would wait on it
    Stop();
    std::filesystem::remove_all(dir_);
  }

  std::string Token(std::string_view name, std::string_view role) {
    auto created = tokens_->Create(name, role);
    EXPECT_THAT(created, IsOk());
    return created.ok() ? created->token : "";
  }

  // A HyperPodService over the fake backend and the test's event log.
  void OpenService() {
    auto catalog =
        hyperpod::ParsePresetCatalog(hyperpod::BuiltinPresetsJson(), "presets.json", nullptr);
    ASSERT_THAT(catalog, IsOk());
    catalog_ = std::move(*catalog);
    hyperpod::ServiceOptions options;
    options.database = dir_ / "platform.db";
    options.backend = &backend_;
    options.events = events_.get();
    options.presets = &catalog_;
    options.quotas = [this](const std::string&) -> StatusOr<hyperpod::QuotaSnapshot> {
      quota_gate_.Pass();  // validate and create read quotas on the API's worker threads
      return hyperpod::QuotaSnapshot{};
    };
    options.clock = &clock_;
    options.deployment_machine_arn =
        "arn:aws:states:us-east-1:123456789012:stateMachine:hyperpod-deploy";
    options.teardown_machine_arn =
        "arn:aws:states:us-east-1:123456789012:stateMachine:hyperpod-teardown";
    options.cancel_machine_arn =
        "arn:aws:states:us-east-1:123456789012:stateMachine:hyperpod-cancel";
    auto service = hyperpod::HyperPodService::Open(std::move(options));
    ASSERT_THAT(service, IsOk());
    service_ = std::move(*service);
  }

  void Start(const std::function<void(RestApiOptions&)>& tweak = {}) {
    RestApiOptions options;
    options.service = service_.get();
    options.tokens = tokens_.get();
    options.events = events_.get();
    options.clock = &clock_;
    options.audit_db = dir_ / "audit.db";
    options.openapi_yaml = "openapi: 3.0.3\ninfo: {title: t}\n";
    options.backend_description = "embedded";
    options.ready = [this] { return ready_.load(); };
    options.rate_limit_per_second = 1000;
    options.rate_limit_burst = 1000;
    if (tweak) tweak(options);
    auto api = RestApi::Create(std::move(options));
    ASSERT_THAT(api, IsOk());
    api_ = std::move(*api);
    HttpServerOptions server_options;
    server_options.threads = 2;
    RestApi* raw = api_.get();
    server_options.error_response = [raw](int status, std::string_view message) {
      return raw->ServerErrorResponse(status, message);
    };
    auto server = HttpServer::Start(server_options, api_->handler());
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
  }

  void Stop() {
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
    server_.reset();
    api_.reset();
    service_.reset();
  }

  // Opens a stream; returns the client after its head and first chunk have arrived.
  std::unique_ptr<Client> OpenStream(
      std::string_view target, std::string_view token,
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto client = std::make_unique<Client>(server_->port());
    EXPECT_TRUE(client->Send(Request("GET", target, token, "", std::move(headers))));
    std::optional<Response> head = client->ReadHead();
    EXPECT_TRUE(head.has_value());
    if (!head) return nullptr;
    EXPECT_EQ(head->status, 200) << target;
    if (head->status != 200) return nullptr;
    EXPECT_EQ(head->Header("content-type"), "text/event-stream");
    EXPECT_EQ(head->Header("cache-control"), "no-cache");
    EXPECT_EQ(head->Header("x-accel-buffering"), "no");
    EXPECT_THAT(head->Header("x-request-id"), MatchesRegex("[0-9a-f]{16}"));
    EXPECT_EQ(client->ReadStreamUntil(": ok\n\n"), "retry: 1000\n\n: ok\n\n");
    return client;
  }

  // Appends envelopes as the engine's publisher would; returns them as stored.
  std::vector<store::StoredEvent> Append(const std::vector<std::string>& envelopes) {
    std::vector<json::object> objects;
    for (const std::string& text : envelopes) objects.push_back(J(text).as_object());
    auto result = events_->Append(objects);
    EXPECT_THAT(result, IsOk());
    return result.ok() ? result->appended : std::vector<store::StoredEvent>{};
  }

  static std::string Frame(const store::StoredEvent& event, std::string_view kind) {
    return "id: " + std::to_string(event.sequence) + "\nevent: " + std::string(kind) +
           "\ndata: " + event.envelope + "\n\n";
  }

  Response Call(std::string_view method, std::string_view target, std::string_view token,
                std::string_view body = "",
                std::vector<std::pair<std::string, std::string>> headers = {}) {
    Client client(server_->port());
    EXPECT_TRUE(client.Send(Request(method, target, token, body, std::move(headers))));
    std::optional<Response> response = client.Read();
    EXPECT_TRUE(response.has_value()) << method << " " << target;
    return response.value_or(Response{});
  }

  // Checks the error shape every error shares; returns the error object.
  json::object ExpectError(const Response& response, int status, std::string_view code) {
    EXPECT_EQ(response.status, status) << response.body;
    EXPECT_EQ(response.Header("content-type"), "application/json; charset=utf-8");
    const json::value body = response.Json();
    if (!body.is_object() || !body.as_object().contains("error")) {
      ADD_FAILURE() << "no error body: " << response.body;
      return {};
    }
    const json::object& error = body.at("error").as_object();
    EXPECT_EQ(Str(error.at("code")), code) << response.body;
    EXPECT_TRUE(error.at("message").is_string() && !error.at("message").as_string().empty());
    EXPECT_TRUE(error.at("fields").is_array()) << response.body;
    EXPECT_EQ(Str(error.at("requestId")), response.Header("x-request-id"));
    return error;
  }

  std::vector<json::object> AuditEntries() {
    Response response = Call("GET", "/api/v1/audit?limit=1000", admin_);
    EXPECT_EQ(response.status, 200) << response.body;
    std::vector<json::object> entries;
    const json::value body = response.Json();
    for (const json::value& entry : body.at("entries").as_array()) {
      entries.push_back(entry.as_object());
    }
    return entries;
  }

  std::filesystem::path dir_;
  SimulatedClock clock_{WallTime(std::chrono::seconds(1'800'000'000))};
  FakeBackend backend_;
  hyperpod::PresetCatalog catalog_;
  std::unique_ptr<store::EventLog> events_;
  std::unique_ptr<hyperpod::HyperPodService> service_;
  std::unique_ptr<store::TokenStore> tokens_;
  std::string admin_, deployer_, viewer_;
  std::atomic<bool> ready_{true};
  Gate quota_gate_;
  std::unique_ptr<RestApi> api_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(RestApiTest, HealthAndReadinessNeedNoToken) {
  Start();
  Response health = Call("GET", "/healthz", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.Json(), J(R"({"status":"ok"})"));
  EXPECT_THAT(health.Header("x-request-id"), MatchesRegex("[0-9a-f]{16}"));

  Response ready = Call("GET", "/readyz", "");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.Json(), J(R"({"status":"ready","backend":"embedded"})"));
  ready_ = false;
  Response not_ready = Call("GET", "/readyz", "");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_EQ(Str(not_ready.Json().at("status")), "not ready");

  ExpectError(Call("POST", "/healthz", "", "{}"), 405, "MethodNotAllowed");
}

TEST_F(RestApiTest, EveryOtherRouteNeedsAValidBearerToken) {
  Start();
  Response missing = Call("GET", "/api/v1/hyperpod/presets", "");
  json::object error = ExpectError(missing, 401, "Unauthenticated");
  EXPECT_EQ(Str(error.at("message")), "missing bearer token");
  EXPECT_EQ(missing.Header("www-authenticate"), "Bearer realm=\"hpdeploy\"");

  Response bad = Call("GET", "/metrics", "hpd_notatoken");
  ExpectError(bad, 401, "Unauthenticated");
  EXPECT_EQ(bad.Header("www-authenticate"), "Bearer realm=\"hpdeploy\"");

  Response basic = Call("GET", "/metrics", "", "", {{"Authorization", "Basic dXNlcjpwYXNz"}});
  ExpectError(basic, 401, "Unauthenticated");

  const std::string revoked = Token("gone", "admin");
  ASSERT_THAT(tokens_->Revoke("gone"), IsOk());
  ExpectError(Call("GET", "/metrics", revoked), 401, "Unauthenticated");

  // Unknown paths do not reveal themselves to strangers either.
  ExpectError(Call("GET", "/nowhere", ""), 401, "Unauthenticated");
  EXPECT_EQ(Call("GET", "/metrics", viewer_).status, 200);
}

TEST_F(RestApiTest, RoutesAndMethods) {
  Start();
  ExpectError(Call("GET", "/api/v1/nowhere", viewer_), 404, "NotFound");
  ExpectError(Call("GET", "/api/v1/webhooks/", admin_), 404, "NotFound");  // trailing slash

  Response wrong = Call("PUT", "/api/v1/hyperpod/deployments", admin_, "{}");
  ExpectError(wrong, 405, "MethodNotAllowed");
  EXPECT_EQ(wrong.Header("allow"), "POST, GET");
  Response wrong_item = Call("DELETE", "/api/v1/hyperpod/deployments/job-1", admin_);
  ExpectError(wrong_item, 405, "MethodNotAllowed");
  EXPECT_EQ(wrong_item.Header("allow"), "GET");
  EXPECT_EQ(Call("DELETE", "/api/v1/webhooks/wh-1", admin_).Header("allow"), "");

  // Literal segments win over captures: "validate" is a route, not a job id.
  Response validate = Call("GET", "/api/v1/hyperpod/deployments/validate", viewer_);
  ExpectError(validate, 405, "MethodNotAllowed");
  EXPECT_EQ(validate.Header("allow"), "POST");

  Response yaml = Call("GET", "/api/v1/openapi.yaml", viewer_);
  EXPECT_EQ(yaml.status, 200);
  EXPECT_EQ(yaml.Header("content-type"), "application/yaml");
  EXPECT_EQ(yaml.body, "openapi: 3.0.3\ninfo: {title: t}\n");
}

TEST_F(RestApiTest, PathTricksAndInvalidJobIds) {
  Start();
  for (const char* target : {
           "/api/v1/hyperpod/deployments/%2e%2E",
           "/api/v1/hyperpod/deployments/.",
           "/api/v1//hyperpod/deployments",
           "/api/v1/hyperpod/deployments/a%2Fb",
           "/api/v1/hyperpod/deployments/a%5Cb",
           "/api/v1/hyperpod/deployments/a%00b",
           "/api/v1/hyperpod/deployments/a%0Ab",
           "/api/v1/hyperpod/deployments/a%zzb",
           "/api/v1/hyperpod/deployments/a%2",
       }) {
    ExpectError(Call("GET", target, viewer_), 400, "InvalidRequest");
  }
  for (const std::string& job : {std::string("-leading-dash"), std::string("under_score"),
                                 std::string(65, 'a'), std::string("caf%C3%A9")}) {
    Response response = Call("GET", "/api/v1/hyperpod/deployments/" + job, viewer_);
    json::object error = ExpectError(response, 400, "InvalidRequest");
    ASSERT_EQ(error.at("fields").as_array().size(), 1u) << job;
    EXPECT_EQ(Str(error.at("fields").at(0).at("path")), "jobId");
  }
  // A valid one passes the checks (and meets the absent service).
  ExpectError(Call("GET", "/api/v1/hyperpod/deployments/" + std::string(64, 'a'), viewer_), 503,
              "BackendUnavailable");
}

TEST_F(RestApiTest, QueryParametersAreCheckedStrictly) {
  Start();
  Response unknown = Call("GET", "/api/v1/hyperpod/deployments?foo=1&limit=5&bar=x", viewer_);
  json::object error = ExpectError(unknown, 400, "InvalidParameter");
  EXPECT_THAT(std::string(error.at("message").as_string()), HasSubstr("foo, bar"));
  ASSERT_EQ(error.at("fields").as_array().size(), 2u);
  EXPECT_EQ(Str(error.at("fields").at(0).at("path")), "foo");
  EXPECT_EQ(Str(error.at("fields").at(1).at("path")), "bar");

  for (const char* query :
       {"limit=0", "limit=101", "limit=ten", "limit=", "status=RUNNING,DONE",
        "createdAfter=yesterday", "createdBefore=2026-01-01", "limit=5&limit=6"}) {
    ExpectError(Call("GET", std::string("/api/v1/hyperpod/deployments?") + query, viewer_), 400,
                "InvalidParameter");
  }
  ExpectError(Call("GET", "/api/v1/audit?limit=1001", admin_), 400, "InvalidParameter");
  ExpectError(Call("GET", "/api/v1/audit?nextToken=bogus", admin_), 400, "InvalidParameter");
  ExpectError(Call("GET", "/api/v1/hyperpod/events?after=-1", viewer_), 400, "InvalidParameter");
  ExpectError(Call("GET", "/api/v1/hyperpod/presets?x=1", viewer_), 400, "InvalidParameter");

  // A deployer may not list another's deployments, whatever the service would say.
  ExpectError(Call("GET", "/api/v1/hyperpod/deployments?requestedBy=bob", deployer_), 403,
              "Forbidden");
  // Well-formed values reach the (absent) service.
  ExpectError(Call("GET",
                   "/api/v1/hyperpod/deployments?status=RUNNING,FAILED&limit=100&requestedBy=alice"
                   "&createdAfter=2026-01-01T00:00:00Z",
                   deployer_),
              503, "BackendUnavailable");
}

TEST_F(RestApiTest, BodiesMustBeJsonObjects) {
  Start();
  ExpectError(Call("POST", "/api/v1/events", admin_, "{}", {{"Content-Type", "text/plain"}}), 415,
              "UnsupportedMediaType");
  json::object malformed = ExpectError(Call("POST", "/api/v1/events", admin_, "{\n  \"a\": tru }"),
                                       400, "InvalidRequest");
  EXPECT_THAT(std::string(malformed.at("message").as_string()), HasSubstr("line 2, column"));
  json::object array =
      ExpectError(Call("POST", "/api/v1/events", admin_, "[1]"), 400, "InvalidRequest");
  EXPECT_THAT(std::string(array.at("message").as_string()), HasSubstr("JSON object"));
  ExpectError(Call("POST", "/api/v1/events", admin_, ""), 400, "InvalidRequest");
  // Parameters of the media type are fine: the body gets as far as the event log's checks.
  ExpectError(Call("POST", "/api/v1/events", admin_, "{}",
                   {{"Content-Type", "Application/JSON; charset=utf-8"}}),
              400, "InvalidRequest");

  // The server's own refusals have the same shape.
  Response large = Call("POST", "/api/v1/events", admin_, std::string((1 << 20) + 1, ' '));
  ExpectError(large, 413, "PayloadTooLarge");
}

TEST_F(RestApiTest, RolesAreEnforcedAndMutationsAudited) {
  Start();
  ExpectError(Call("POST", "/api/v1/hyperpod/deployments", viewer_, R"({"config":{}})"), 403,
              "Forbidden");
  ExpectError(Call("POST", "/api/v1/events", deployer_, "{}"), 403, "Forbidden");
  ExpectError(Call("GET", "/api/v1/audit", deployer_), 403, "Forbidden");
  ExpectError(Call("GET", "/api/v1/webhooks", viewer_), 403, "Forbidden");
  ExpectError(Call("POST", "/api/v1/hyperpod/deployments/job-7/cancel", deployer_), 503,
              "BackendUnavailable");
  ExpectError(Call("DELETE", "/api/v1/webhooks/wh-0123", deployer_), 503, "BackendUnavailable");
  // Not audited: reads, and mutations that never authenticated.
  ExpectError(Call("POST", "/api/v1/events", "", "{}"), 401, "Unauthenticated");
  EXPECT_EQ(Call("GET", "/metrics", viewer_).status, 200);

  std::vector<json::object> entries = AuditEntries();
  ASSERT_EQ(entries.size(), 4u);
  // Newest first.
  EXPECT_EQ(Str(entries[3].at("actor")), "victor");
  EXPECT_EQ(Str(entries[3].at("role")), "viewer");
  EXPECT_EQ(Str(entries[3].at("action")), "deployment.create");
  EXPECT_EQ(Str(entries[3].at("target")), "");
  EXPECT_EQ(entries[3].at("status"), 403);
  EXPECT_EQ(Str(entries[3].at("errorCode")), "Forbidden");
  EXPECT_EQ(Str(entries[3].at("remoteAddress")), "127.0.0.1");
  EXPECT_THAT(std::string(entries[3].at("requestId").as_string()), MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(Str(entries[2].at("action")), "events.ingest");
  EXPECT_EQ(Str(entries[1].at("action")), "deployment.cancel");
  EXPECT_EQ(Str(entries[1].at("target")), "job-7");
  EXPECT_EQ(entries[1].at("status"), 503);
  EXPECT_EQ(Str(entries[0].at("action")), "webhook.delete");
  EXPECT_EQ(Str(entries[0].at("target")), "wh-0123");

  // Paging.
  Response first = Call("GET", "/api/v1/audit?limit=3", admin_);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(first.Json().at("entries").as_array().size(), 3u);
  const std::string next(first.Json().at("nextToken").as_string());
  Response second = Call("GET", "/api/v1/audit?limit=3&nextToken=" + next, admin_);
  ASSERT_EQ(second.status, 200);
  ASSERT_EQ(second.Json().at("entries").as_array().size(), 1u);
  EXPECT_TRUE(second.Json().at("nextToken").is_null());

  // Never a token or a body.
  Stop();
  std::ifstream file(dir_ / "audit.db", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  for (const std::string& secret : {admin_, deployer_, viewer_}) {
    EXPECT_THAT(bytes, Not(HasSubstr(secret.substr(4, 12))));
  }
  EXPECT_THAT(bytes, Not(HasSubstr("\"config\"")));
}

TEST_F(RestApiTest, RateLimitPerTokenWithRetryAfter) {
  Start([](RestApiOptions& o) {
    o.rate_limit_per_second = 1;
    o.rate_limit_burst = 2;
  });
  EXPECT_EQ(Call("GET", "/metrics", viewer_).status, 200);
  EXPECT_EQ(Call("GET", "/metrics", viewer_).status, 200);
  Response limited = Call("GET", "/metrics", viewer_);
  ExpectError(limited, 429, "RateLimited");
  EXPECT_EQ(limited.Header("retry-after"), "1");
  // Another token has its own bucket; health checks are not limited.
  EXPECT_EQ(Call("GET", "/metrics", admin_).status, 200);
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);

  clock_.Advance(std::chrono::seconds(1));
  Response again = Call("GET", "/metrics", viewer_);
  EXPECT_EQ(again.status, 200);
  EXPECT_THAT(again.body, HasSubstr("\nhpd_rate_limited_total 1\n"));
}

TEST_F(RestApiTest, MetricsInPrometheusTextFormat) {
  Start();
  api_->metrics().Gauge("hpd_deployments", "Deployments by status.", {"status"});
  api_->metrics().AddCollector(
      [this] { api_->metrics().Gauge("hpd_deployments", "", {"status"})->Set({"RUNNING"}, 3); });
  EXPECT_EQ(Call("GET", "/healthz", "").status, 200);
  ExpectError(Call("GET", "/api/v1/hyperpod/deployments/job-1", viewer_), 503,
              "BackendUnavailable");
  Response metrics = Call("GET", "/metrics", viewer_);
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE hpd_http_requests_total counter\n"));
  EXPECT_THAT(
      metrics.body,
      HasSubstr("hpd_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("hpd_http_requests_total{method=\"GET\",route=\"/api/v1/"
                                      "hyperpod/deployments/{jobId}\",code=\"503\"} 1\n"));
  EXPECT_THAT(metrics.body, Not(HasSubstr("job-1")));
  EXPECT_THAT(metrics.body, HasSubstr("# TYPE hpd_http_request_duration_seconds histogram\n"));
  EXPECT_THAT(metrics.body, HasSubstr("hpd_http_request_duration_seconds_bucket{route=\"/healthz\","
                                      "le=\"+Inf\"} 1\n"));
  EXPECT_THAT(metrics.body, HasSubstr("\nhpd_sse_clients 0\n"));
  EXPECT_THAT(metrics.body, HasSubstr("\nhpd_deployments{status=\"RUNNING\"} 3\n"));
}

std::string Envelope(std::string_view id, std::string_view detail_type, std::string_view detail) {
  return R"({"version":"0","id":")" + std::string(id) + R"(","detail-type":")" +
         std::string(detail_type) +
         R"(","source":"hpdeploy.states","account":"123456789012","time":"2026-01-01T00:00:00Z",)"
         R"("region":"us-east-1","resources":["arn:aws:states:us-east-1:123456789012:execution:)"
         R"(m:job-1"],"detail":)" +
         std::string(detail) + "}";
}

TEST_F(RestApiTest, IngestAppendsIdempotentlyAndFeedsTheEventMetrics) {
  Start();
  const std::string exited =
      Envelope("e-1", "Execution State Exited", R"({"state":"Prepare","durationMs":1500})");
  const std::string failed =
      Envelope("e-2", "Execution Task Failed", R"({"state":"Create","error":"X","cause":"y"})");
  Response first = Call("POST", "/api/v1/events", admin_, exited);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.Json(), J(R"({"appended":1,"duplicates":0})"));
  Response batch =
      Call("POST", "/api/v1/events", admin_, R"({"entries":[)" + failed + "," + exited + "]}");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(batch.Json(), J(R"({"appended":1,"duplicates":1})"));
  EXPECT_EQ(events_->LastSequence(), 2);

  ExpectError(Call("POST", "/api/v1/events", admin_, R"({"id":"e-3","source":"s"})"), 400,
              "InvalidRequest");
  json::object extra = ExpectError(
      Call("POST", "/api/v1/events", admin_, R"({"entries":[],"more":1})"), 400, "InvalidRequest");
  EXPECT_EQ(Str(extra.at("fields").at(0).at("path")), "more");
  ExpectError(Call("POST", "/api/v1/events", admin_, R"({"entries":[1]})"), 400, "InvalidRequest");
  EXPECT_EQ(events_->LastSequence(), 2);

  std::vector<json::object> audit = AuditEntries();
  ASSERT_EQ(audit.size(), 5u);
  EXPECT_EQ(Str(audit[4].at("action")), "events.ingest");
  EXPECT_EQ(audit[4].at("status"), 200);
  EXPECT_EQ(Str(audit[4].at("errorCode")), "");
  EXPECT_EQ(Str(audit[0].at("errorCode")), "InvalidRequest");

  // The hub thread counts appended events; wait for it (bounded by kWait), then check.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = Call("GET", "/metrics", viewer_).body;
    if (text.find("hpd_task_failures_total{state=\"Create\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_THAT(text, HasSubstr("hpd_events_total{source=\"hpdeploy.states\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("hpd_task_failures_total{state=\"Create\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"1\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("hpd_state_duration_seconds_bucket{state=\"Prepare\",le=\"5\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hpd_state_duration_seconds_sum{state=\"Prepare\"} 1.5\n"));
}

TEST_F(RestApiTest, GlobalStreamStartsLiveAndResumesFromLastEventId) {
  OpenService();
  Start();
  const std::vector<store::StoredEvent> before =
      Append({Envelope("g-1", "Execution State Entered", R"({"state":"A"})")});
  ASSERT_EQ(before.size(), 1u);

  // Without Last-Event-ID: live events only.
  std::unique_ptr<Client> live = OpenStream("/api/v1/hyperpod/events", viewer_);
  ASSERT_TRUE(live);
  const std::vector<store::StoredEvent> appended =
      Append({Envelope("g-2", "Execution State Entered", R"({"state":"B"})"),
              Envelope("g-3", "Execution State Exited", R"({"state":"B","durationMs":5})")});
  ASSERT_EQ(appended.size(), 2u);
  const std::string expected =
      "retry: 1000\n\n: ok\n\n" + Frame(appended[0], "progress") + Frame(appended[1], "progress");
  EXPECT_EQ(live->ReadStreamUntil(Frame(appended[1], "progress")), expected);

  // Resuming: everything after the given sequence, then live.
  std::unique_ptr<Client> resumed =
      OpenStream("/api/v1/hyperpod/events", viewer_, {{"Last-Event-ID", "1"}});
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->ReadStreamUntil(Frame(appended[1], "progress")), expected);
  std::unique_ptr<Client> after = OpenStream("/api/v1/hyperpod/events?after=2", viewer_);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->ReadStreamUntil(Frame(appended[1], "progress")),
            "retry: 1000\n\n: ok\n\n" + Frame(appended[1], "progress"));

  // A status change is a `status` frame.
  const std::vector<store::StoredEvent> status =
      Append({R"({"version":"0","id":"g-4",)"
              R"("detail-type":"Step Functions Execution Status Change","source":"aws.states",)"
              R"("account":"1","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],)"
              R"("detail":{"status":"RUNNING"}})"});
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(after->ReadStreamUntil(Frame(status[0], "status")).has_value());

  // Heartbeats every 15 s of the (simulated) clock.
  clock_.Advance(std::chrono::seconds(15));
  EXPECT_TRUE(after->ReadStreamUntil(": hb\n\n").has_value());
  EXPECT_EQ(api_->sse_clients(), 3u);
}

TEST_F(RestApiTest, StreamSlotsAreLimitedAndFreedWhenClientsLeave) {
  OpenService();
  Start([](RestApiOptions& o) { o.max_sse_clients = 1; });
  std::unique_ptr<Client> first = OpenStream("/api/v1/hyperpod/events", viewer_);
  ASSERT_TRUE(first);
  ExpectError(Call("GET", "/api/v1/hyperpod/events", viewer_), 503, "BackendUnavailable");
  EXPECT_THAT(Call("GET", "/metrics", viewer_).body, HasSubstr("\nhpd_sse_clients 1\n"));
  first.reset();  // the client goes away
  // The server notices on its next write (a heartbeat) or read; wait for the slot, bounded.
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (api_->sse_clients() != 0 && std::chrono::steady_clock::now() < deadline) {
    clock_.Advance(std::chrono::seconds(15));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(api_->sse_clients(), 0u);
  EXPECT_TRUE(OpenStream("/api/v1/hyperpod/events", viewer_) != nullptr);
}

TEST_F(RestApiTest, StreamStartBeyondTheLogIsRefused) {
  OpenService();
  Start();
  ASSERT_EQ(Append({Envelope("s-1", "Execution State Entered", R"({"state":"A"})"),
                    Envelope("s-2", "Execution State Entered", R"({"state":"B"})")})
                .size(),
            2u);
  json::object after =
      ExpectError(Call("GET", "/api/v1/hyperpod/events?after=3", viewer_), 400, "InvalidParameter");
  ASSERT_EQ(after.at("fields").as_array().size(), 1u);
  EXPECT_EQ(Str(after.at("fields").at(0).at("path")), "after");
  json::object header =
      ExpectError(Call("GET", "/api/v1/hyperpod/events", viewer_, "", {{"Last-Event-ID", "99"}}),
                  400, "InvalidParameter");
  ASSERT_EQ(header.at("fields").as_array().size(), 1u);
  EXPECT_EQ(Str(header.at("fields").at(0).at("path")), "Last-Event-ID");
  ExpectError(Call("GET", "/api/v1/hyperpod/deployments/job-1/events?after=3", viewer_), 400,
              "InvalidParameter");
  ExpectError(Call("GET", "/api/v1/hyperpod/deployments/job-1/logs?follow=true", viewer_, "",
                   {{"Last-Event-ID", "3"}}),
              400, "InvalidParameter");
  // The log's last sequence itself is a fine place to start: live from there.
  EXPECT_TRUE(OpenStream("/api/v1/hyperpod/events?after=2", viewer_) != nullptr);
  EXPECT_TRUE(OpenStream("/api/v1/hyperpod/events", viewer_, {{"Last-Event-ID", "2"}}) != nullptr);
}

TEST_F(RestApiTest, ReplayOfLargeEventsStaysWithinTheStreamQueueLimit) {
  OpenService();
  Start();
  // 24 events of 200 KiB: 4.8 MiB, more than the server's 4 MiB stream queue limit if a replay
  // wrote one batch at once.
  std::vector<store::StoredEvent> appended;
  for (int i = 0; i < 24; ++i) {
    const std::string detail = R"({"state":"A","padding":")" +
                               std::string(200 * 1024, static_cast<char>('a' + i)) + R"("})";
    std::vector<store::StoredEvent> one =
        Append({Envelope("big-" + std::to_string(i), "Execution State Entered", detail)});
    ASSERT_EQ(one.size(), 1u);
    appended.push_back(one[0]);
  }
  std::unique_ptr<Client> replay =
      OpenStream("/api/v1/hyperpod/events", viewer_, {{"Last-Event-ID", "0"}});
  ASSERT_TRUE(replay);
  std::optional<std::string> text = replay->ReadStreamUntil(Frame(appended.back(), "progress"));
  ASSERT_TRUE(text.has_value()) << "the stream ended before the last event";
  std::string expected = "retry: 1000\n\n: ok\n\n";
  for (const store::StoredEvent& event : appended) expected += Frame(event, "progress");
  EXPECT_EQ(text->size(), expected.size());
  EXPECT_TRUE(*text == expected);  // (not EXPECT_EQ: 4.8 MiB in a failure message)
}

TEST_F(RestApiTest, OverTheRateOrWithAFullQueueRequestsAreRefusedBeforeQueueing) {
  OpenService();
  Start([](RestApiOptions& o) {
    o.worker_threads = 1;
    o.max_queued_requests = 1;
    o.rate_limit_per_second = 1;  // the simulated clock does not move: no refill
    o.rate_limit_burst = 3;
  });
  const std::string body = R"({"config": {"preset": "small", "region": "us-west-2"}})";
  quota_gate_.Close();
  Client running(server_->port());
  ASSERT_TRUE(running.Send(
      Request("POST", "/api/v1/hyperpod/deployments/validate", deployer_, body)));  // token 1
  ASSERT_TRUE(quota_gate_.AwaitWaiting(1));  // the only worker is held
  Client queued(server_->port());
  ASSERT_TRUE(queued.Send(
      Request("POST", "/api/v1/hyperpod/deployments/validate", deployer_, body)));  // token 2
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (api_->metrics().Render().find("\nhpd_http_queued_requests 1\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_THAT(api_->metrics().Render(), HasSubstr("\nhpd_http_queued_requests 1\n"));

  // The queue is full: a page of logs, which is built on the pool, is refused at once (token 3).
  Response busy = Call("GET", "/api/v1/hyperpod/deployments/job-1/logs", deployer_);
  json::object error = ExpectError(busy, 503, "BackendUnavailable");
  EXPECT_THAT(std::string(error.at("message").as_string()), HasSubstr("busy"));
  EXPECT_EQ(busy.Header("retry-after"), "1");
  // Over the token's rate: 429 at once, not after the work queued ahead of it.
  Response limited = Call("POST", "/api/v1/hyperpod/deployments/validate", deployer_, body);
  ExpectError(limited, 429, "RateLimited");
  EXPECT_EQ(limited.Header("retry-after"), "1");

  quota_gate_.Open();
  for (Client* client : {&running, &queued}) {
    std::optional<Response> answer = client->Read();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->status, 200) << answer->body;
  }
  // The two refusals at the door are not audited.
  std::vector<json::object> entries = AuditEntries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(Str(entries[0].at("action")), "deployment.validate");
  EXPECT_EQ(entries[0].at("status"), 200);
}

TEST_F(RestApiTest, IngestByAnAdminIsNotRateLimited) {
  Start([](RestApiOptions& o) {
    o.rate_limit_per_second = 1;
    o.rate_limit_burst = 1;
  });
  for (int i = 0; i < 5; ++i) {
    Response ingested =
        Call("POST", "/api/v1/events", admin_,
             Envelope("in-" + std::to_string(i), "Execution State Entered", R"({"state":"A"})"));
    EXPECT_EQ(ingested.status, 200) << ingested.body;
  }
  EXPECT_EQ(events_->LastSequence(), 5);
  // The admin's bucket is untouched by ingest; its other requests are limited as before.
  EXPECT_EQ(Call("GET", "/metrics", admin_).status, 200);
  ExpectError(Call("GET", "/metrics", admin_), 429, "RateLimited");
  // Others knocking on the ingest route are limited (and forbidden).
  ExpectError(Call("POST", "/api/v1/events", deployer_, "{}"), 403, "Forbidden");
  ExpectError(Call("POST", "/api/v1/events", deployer_, "{}"), 429, "RateLimited");
}

TEST_F(RestApiTest, StreamsAreLimitedPerToken) {
  OpenService();
  Start([](RestApiOptions& o) { o.max_sse_clients_per_token = 2; });
  std::unique_ptr<Client> first = OpenStream("/api/v1/hyperpod/events", viewer_);
  std::unique_ptr<Client> second = OpenStream("/api/v1/hyperpod/events", viewer_);
  ASSERT_TRUE(first && second);
  json::object error =
      ExpectError(Call("GET", "/api/v1/hyperpod/events", viewer_), 503, "BackendUnavailable");
  EXPECT_THAT(std::string(error.at("message").as_string()), HasSubstr("per token"));
  EXPECT_THAT(std::string(error.at("message").as_string()), HasSubstr("victor"));
  // Another token still gets its streams.
  std::unique_ptr<Client> other = OpenStream("/api/v1/hyperpod/events", deployer_);
  EXPECT_TRUE(other != nullptr);
  EXPECT_EQ(api_->sse_clients(), 3u);
}

TEST_F(RestApiTest, AuditTargetsAreCutTo128Bytes) {
  Start();
  std::string long_job = "a";
  for (int i = 0; i < 300; ++i) long_job += "\xc3\xa9";  // U+00E9, two bytes
  ExpectError(Call("POST", "/api/v1/hyperpod/deployments", deployer_,
                   R"({"jobId":")" + long_job + R"(","config":{}})"),
              503, "BackendUnavailable");
  ExpectError(Call("DELETE", "/api/v1/webhooks/" + std::string(1000, 'w'), deployer_), 503,
              "BackendUnavailable");
  std::vector<json::object> entries = AuditEntries();
  ASSERT_EQ(entries.size(), 2u);
  // 127 bytes: the 128th would split a character.
  EXPECT_EQ(Str(entries[1].at("target")), long_job.substr(0, 127));
  EXPECT_EQ(Str(entries[0].at("target")), std::string(128, 'w'));
}

TEST_F(RestApiTest, MissingBackendsAnswer503) {
  Start();
  for (const char* target :
       {"/api/v1/hyperpod/presets", "/api/v1/hyperpod/regions", "/api/v1/hyperpod/events",
        "/api/v1/hyperpod/deployments/j1/events", "/api/v1/hyperpod/deployments/j1/logs"}) {
    ExpectError(Call("GET", target, viewer_), 503, "BackendUnavailable");
  }
  ExpectError(Call("GET", "/api/v1/webhooks", deployer_), 503, "BackendUnavailable");
  ExpectError(Call("POST", "/api/v1/webhooks", deployer_, R"({"url":"http://x"})"), 503,
              "BackendUnavailable");
}

}  // namespace
}  // namespace hpd::server
