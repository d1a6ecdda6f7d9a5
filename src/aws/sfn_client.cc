#include "aws/sfn_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/random.h"

namespace hpd::aws {
namespace {

// Idle handles kept for reuse; more concurrent calls than this open handles that are dropped after.
constexpr size_t kMaxIdleHandles = 8;
// How much of an unreadable body an error message quotes.
constexpr size_t kBodyExcerpt = 200;

void GlobalInitOnce() {
  // curl_global_init is not thread-safe; every client goes through here first.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// Keeps the x-amzn-RequestId of the answer, for the error's context.
size_t ReadHeader(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  constexpr std::string_view kName = "x-amzn-requestid:";
  if (line.size() > kName.size() &&
      std::equal(kName.begin(), kName.end(), line.begin(),
                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
    line.remove_prefix(kName.size());
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    *static_cast<std::string*>(user) = std::string(line);
  }
  return size * count;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

bool EndsWith(std::string_view text, std::string_view suffix) { return text.ends_with(suffix); }

bool IsThrottling(std::string_view name) {
  static constexpr std::array<std::string_view, 7> kNames = {
      "ThrottlingException",      "Throttling",           "ThrottledException",
      "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottledException",
      "RequestThrottled",
  };
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool IsAuthentication(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kNames = {
      "MissingAuthenticationTokenException",
      "MissingAuthenticationToken",
      "IncompleteSignatureException",
      "InvalidSignatureException",
      "UnrecognizedClientException",
      "InvalidClientTokenId",
      "ExpiredTokenException",
      "SignatureDoesNotMatch",
  };
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

// The code for a 4xx error named `name` (see the header).
StatusCode CodeForClientError(std::string_view name) {
  if (IsThrottling(name)) return StatusCode::kUnavailable;
  if (IsAuthentication(name)) return StatusCode::kUnauthenticated;
  if (name == "AccessDeniedException" || name == "AccessDenied") {
    return StatusCode::kPermissionDenied;
  }
  if (EndsWith(name, "DoesNotExist") || EndsWith(name, "NotFound") ||
      EndsWith(name, "NotFoundException")) {
    return StatusCode::kNotFound;
  }
  if (EndsWith(name, "AlreadyExists") || EndsWith(name, "AlreadyExistsException")) {
    return StatusCode::kAlreadyExists;
  }
  if (name.starts_with("Invalid") || EndsWith(name, "ValidationException") ||
      name == "SerializationException" || name == "UnknownOperationException" ||
      name == "MissingRequiredParameter") {
    return StatusCode::kInvalidArgument;
  }
  return StatusCode::kFailedPrecondition;
}

std::string Excerpt(std::string_view body) {
  if (body.size() <= kBodyExcerpt) return std::string(body);
  return std::string(body.substr(0, kBodyExcerpt)) + "...";
}

// The Status for an HTTP answer other than a 2xx JSON object.
Status ErrorFromAnswer(long http_status, std::string_view body) {
  const bool server_error = http_status >= 500;
  StatusOr<boost::json::value> parsed = ParseJson(body);
  const boost::json::object* object =
      parsed.ok() && parsed->is_object() ? &parsed->as_object() : nullptr;
  const boost::json::value* type = object ? object->if_contains("__type") : nullptr;
  if (type == nullptr || !type->is_string() || type->as_string().empty()) {
    const std::string text = "HTTP " + std::to_string(http_status) + " without an AWS error: " +
                             (body.empty() ? std::string("(empty body)") : Excerpt(body));
    if (server_error || http_status == 429) return UnavailableError(text);
    return UnknownError(text);
  }
  // botocore: the code is what follows the last '#', up to any ':'.
  std::string_view name = type->as_string();
  if (const size_t hash = name.rfind('#'); hash != std::string_view::npos) {
    name.remove_prefix(hash + 1);
  }
  if (const size_t colon = name.find(':'); colon != std::string_view::npos) {
    name = name.substr(0, colon);
  }
  std::string message;
  for (const char* key : {"message", "Message"}) {
    if (const boost::json::value* m = object->if_contains(key); m && m->is_string()) {
      message = std::string(m->as_string());
      break;
    }
  }
  const StatusCode code = server_error ? StatusCode::kUnavailable : CodeForClientError(name);
  return Named(Status(code, std::move(message)), std::string(name));
}

}  // namespace

class SfnClient::Impl {
 public:
  explicit Impl(SfnClientOptions options)
      : options_(std::move(options)),
        sigv4_("aws:amz:" + options_.region + ":states"),
        userpwd_(options_.access_key_id + ":" + options_.secret_access_key) {}

  ~Impl() {
    for (CURL* handle : idle_) curl_easy_cleanup(handle);
  }

  StatusOr<boost::json::object> Call(std::string_view action, const boost::json::object& request) {
    const std::string body = SerializeJson(request);
    const int attempts = std::max(1, options_.max_attempts);
    Status last;
    for (int attempt = 1; attempt <= attempts; ++attempt) {
      if (attempt > 1) std::this_thread::sleep_for(Backoff(attempt - 1));
      StatusOr<boost::json::object> result = Attempt(action, body);
      if (result.ok() || result.status().code() != StatusCode::kUnavailable) return result;
      last = result.status();
    }
    if (attempts > 1) last.AddContext("after " + std::to_string(attempts) + " attempts");
    return last;
  }

 private:
  // Full jitter: uniform in [0, min(max_backoff, initial_backoff * 2^(retry - 1))].
  std::chrono::milliseconds Backoff(int retry) {
    int64_t cap = options_.initial_backoff.count();
    for (int i = 1; i < retry && cap < options_.max_backoff.count(); ++i) cap *= 2;
    cap = std::min<int64_t>(cap, options_.max_backoff.count());
    if (cap <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(
        static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(cap) + 1)));
  }

  CURL* Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CURL* handle = idle_.back();
        idle_.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }

  void Release(CURL* handle) {
    {
      std::lock_guard lock(mu_);
      if (idle_.size() < kMaxIdleHandles) {
        idle_.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

  StatusOr<boost::json::object> Attempt(std::string_view action, const std::string& body) {
    CURL* curl = Acquire();
    if (curl == nullptr) return InternalError("curl_easy_init failed");
    // Reset keeps the handle's live connections; everything else is set again below.
    curl_easy_reset(curl);

    HeaderList headers;
    headers.Add("Content-Type: application/x-amz-json-1.0");
    headers.Add("X-Amz-Target: AWSStepFunctions." + std::string(action));
    if (!options_.session_token.empty()) {
      headers.Add("X-Amz-Security-Token: " + options_.session_token);
    }
    // No "Expect: 100-continue" round trip before larger bodies.
    headers.Add("Expect:");

    std::string answer;
    std::string request_id;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, options_.endpoint.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4_.c_str());
    curl_easy_setopt(curl, CURLOPT_USERPWD, userpwd_.c_str());
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &request_id);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "hpdeploy-sfn-client/1");

    const CURLcode rc = curl_easy_perform(curl);
    long http_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    // The handle must not keep pointers into this frame.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
    Release(curl);

    Status error;
    if (rc != CURLE_OK) {
      error = UnavailableError(std::string(curl_easy_strerror(rc)) +
                               (error_buffer[0] != '\0' ? ": " + std::string(error_buffer) : ""));
    } else if (http_status >= 200 && http_status < 300) {
      StatusOr<boost::json::value> parsed = ParseJson(answer);
      if (parsed.ok() && parsed->is_object()) return std::move(parsed->as_object());
      error = UnknownError("HTTP " + std::to_string(http_status) +
                           " answer is not a JSON object: " + Excerpt(answer));
    } else {
      error = ErrorFromAnswer(http_status, answer);
    }
    if (!request_id.empty()) error.AddContext("x-amzn-RequestId " + request_id);
    error.AddContext(std::string(action) + " at " + options_.endpoint);
    return error;
  }

  // Constant after construction.
  const SfnClientOptions options_;
  const std::string sigv4_;
  const std::string userpwd_;

  SystemRandom random_;  // thread-safe
  std::mutex mu_;
  std::vector<CURL*> idle_;  // guarded by mu_
};

StatusOr<std::unique_ptr<SfnClient>> SfnClient::Create(SfnClientOptions options) {
  GlobalInitOnce();
  CURLU* url = curl_url();
  const CURLUcode parsed = curl_url_set(url, CURLUPART_URL, options.endpoint.c_str(), 0);
  char* scheme = nullptr;
  char* host = nullptr;
  const bool has_scheme =
      parsed == CURLUE_OK && curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
  const bool has_host =
      parsed == CURLUE_OK && curl_url_get(url, CURLUPART_HOST, &host, 0) == CURLUE_OK;
  const std::string scheme_text = scheme ? scheme : "";
  const bool host_present = has_host && host != nullptr && host[0] != '\0';
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(url);
  if (!has_scheme || (scheme_text != "http" && scheme_text != "https") || !host_present ||
      !(options.endpoint.starts_with("http://") || options.endpoint.starts_with("https://"))) {
    return InvalidArgumentError("Step Functions endpoint \"" + options.endpoint +
                                "\" is not an http:// or https:// URL with a host");
  }
  if (options.access_key_id.empty() || options.secret_access_key.empty()) {
    return InvalidArgumentError(
        "Step Functions credentials need an access key id and a secret access key");
  }
  if (options.region.empty()) return InvalidArgumentError("Step Functions region is empty");
  if (options.access_key_id.find(':') != std::string::npos) {
    // CURLOPT_USERPWD splits at the first ':'.
    return InvalidArgumentError("an access key id must not contain ':'");
  }
  return std::unique_ptr<SfnClient>(new SfnClient(std::make_unique<Impl>(std::move(options))));
}

SfnClient::SfnClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SfnClient::~SfnClient() = default;

StatusOr<boost::json::object> SfnClient::Call(std::string_view action,
                                              const boost::json::object& request) {
  return impl_->Call(action, request);
}

}  // namespace hpd::aws
