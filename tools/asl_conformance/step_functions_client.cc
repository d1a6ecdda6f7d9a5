#include "asl_conformance/step_functions_client.h"

#include <curl/curl.h>

#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "common/json.h"
#include "server/sigv4.h"

namespace hpd::conformance {
namespace {

namespace json = boost::json;

constexpr std::string_view kTargetPrefix = "AWSStepFunctions.";
constexpr std::string_view kContentType = "application/x-amz-json-1.0";
// Generous: a StartSyncExecution answers when its execution ends.
constexpr long kRequestTimeoutSeconds = 300;

// curl_global_init is not thread-safe before 7.84; call it once from whichever thread is first.
CURLcode GlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// "http://host:port/..." -> "host:port" (the Host header, signed).
StatusOr<std::string> HostOf(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return InvalidArgumentError("endpoint URL must start with http://: " + std::string(url));
  }
  std::string_view rest = url.substr(kScheme.size());
  rest = rest.substr(0, rest.find('/'));
  if (rest.empty()) return InvalidArgumentError("endpoint URL has no host: " + std::string(url));
  return std::string(rest);
}

}  // namespace

class StepFunctionsClient::Impl {
 public:
  Impl(StepFunctionsEndpoint endpoint, std::string host, CURL* curl, const Clock& clock)
      : endpoint_(std::move(endpoint)),
        host_(std::move(host)),
        post_url_("http://" + host_ + "/"),
        curl_(curl),
        clock_(clock) {}

  ~Impl() { curl_easy_cleanup(curl_); }

  StatusOr<json::object> Call(std::string_view action, const json::object& request) {
    const std::string body = SerializeJson(request);
    const std::string target = std::string(kTargetPrefix) + std::string(action);
    const std::string amz_date = server::FormatAmzDate(clock_.WallNow());

    server::SignedRequest signed_request;
    signed_request.method = "POST";
    signed_request.path = "/";
    signed_request.headers = {{"content-type", std::string(kContentType)},
                              {"host", host_},
                              {"x-amz-date", amz_date},
                              {"x-amz-target", target}};
    signed_request.body = body;
    const std::string authorization = server::AuthorizationHeader(
        signed_request, {"content-type", "host", "x-amz-date", "x-amz-target"},
        server::SigV4Credentials{endpoint_.access_key_id, endpoint_.secret_access_key, ""},
        amz_date, endpoint_.region, "states");

    const std::vector<std::string> lines = {
        "Content-Type: " + std::string(kContentType),
        "Host: " + host_,
        "X-Amz-Date: " + amz_date,
        "X-Amz-Target: " + target,
        "Authorization: " + authorization,
        "Expect:"};  // no 100-continue round trip for large bodies
    curl_slist* headers = nullptr;
    for (const std::string& line : lines) {
      curl_slist* appended = curl_slist_append(headers, line.c_str());
      if (appended == nullptr) {
        curl_slist_free_all(headers);
        return InternalError("out of memory building request headers");
      }
      headers = appended;
    }
    std::string response;
    curl_easy_setopt(curl_, CURLOPT_URL, post_url_.c_str());
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &response);
    const CURLcode code = curl_easy_perform(curl_);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, nullptr);
    curl_slist_free_all(headers);
    const std::string context = std::string(action) + " at " + endpoint_.url;
    if (code != CURLE_OK) {
      return UnavailableError(std::string(curl_easy_strerror(code))).WithContext(context);
    }
    long http_status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &http_status);
    StatusOr<json::value> parsed = ParseJson(response);
    if (!parsed.ok() || !parsed->is_object()) {
      return UnavailableError("HTTP " + std::to_string(http_status) +
                              " with a body that is not a JSON object: " + response.substr(0, 200))
          .WithContext(context);
    }
    json::object& object = parsed->as_object();
    if (http_status == 200) return std::move(object);
    std::string name;
    std::string message;
    if (const json::value* type = object.if_contains("__type"); type && type->is_string()) {
      const std::string_view text = type->get_string();
      const size_t hash = text.rfind('#');
      name = std::string(hash == std::string_view::npos ? text : text.substr(hash + 1));
    }
    for (std::string_view key : {"message", "Message"}) {
      if (const json::value* m = object.if_contains(key); m && m->is_string()) {
        message = std::string(m->get_string());
        break;
      }
    }
    Status status(http_status >= 500 ? StatusCode::kUnavailable : StatusCode::kFailedPrecondition,
                  "HTTP " + std::to_string(http_status) + " " + name + ": " + message);
    status.SetErrorName(std::move(name));
    return status.WithContext(context);
  }

 private:
  // Constant after construction.
  const StepFunctionsEndpoint endpoint_;
  const std::string host_;
  const std::string post_url_;
  CURL* const curl_;  // owned; its connection cache keeps the connection alive between calls
  const Clock& clock_;
};

StatusOr<std::unique_ptr<StepFunctionsClient>> StepFunctionsClient::Create(
    StepFunctionsEndpoint endpoint, const Clock& clock) {
  HPD_ASSIGN_OR_RETURN(std::string host, HostOf(endpoint.url));
  if (GlobalInit() != CURLE_OK) return InternalError("curl_global_init failed");
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return InternalError("curl_easy_init failed");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, kRequestTimeoutSeconds);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");  // loopback servers: ignore http_proxy
  return std::unique_ptr<StepFunctionsClient>(new StepFunctionsClient(
      std::make_unique<Impl>(std::move(endpoint), std::move(host), curl, clock)));
}

StepFunctionsClient::StepFunctionsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StepFunctionsClient::~StepFunctionsClient() = default;

StatusOr<json::object> StepFunctionsClient::Call(std::string_view action,
                                                 const json::object& request) {
  return impl_->Call(action, request);
}

}  // namespace hpd::conformance
