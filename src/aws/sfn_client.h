// A Step Functions API client: AWS JSON 1.0 over HTTPS or HTTP (libcurl), signed with SigV4 by
// libcurl itself (CURLOPT_AWS_SIGV4 "aws:amz:<region>:states"). It speaks to AWS Step Functions
// or to any endpoint that implements the same protocol, such as another `hpdeploy serve`.
//
// Wire (AWS-REFERENCE.md §4): POST / with Content-Type application/x-amz-json-1.0 and
// X-Amz-Target AWSStepFunctions.<Action>; the answer is the JSON response body, or an error body
// {"__type": "[namespace#]Code", "message": "..."} whose code becomes the Status's error_name()
// (the namespace prefix removed) and whose message its message. HTTP 4xx errors map by name:
// kNotFound (…DoesNotExist, …NotFound), kAlreadyExists (…AlreadyExists), kUnauthenticated (the
// signature and credential errors: InvalidSignatureException, UnrecognizedClientException, ...),
// kPermissionDenied (AccessDeniedException), kInvalidArgument (Invalid…, …ValidationException,
// SerializationException, UnknownOperationException), otherwise kFailedPrecondition. 5xx,
// ThrottlingException (and the other throttling names, and HTTP 429) and transport failures map to
// kUnavailable and are retried (at most `max_attempts` in all, exponential backoff with full
// jitter from 100 ms, capped at 5 s) — the SDKs' standard retry mode. An answer that is not a JSON
// object (a 2xx, or an error without a readable __type) is kUnknown, or kUnavailable for a 5xx;
// the error carries the HTTP status and the start of the body. Context: the action and, when
// answered, the x-amzn-RequestId.
//
// Thread-safe: each call takes a curl easy handle from a small pool, so connections are reused.
#ifndef HPD_AWS_SFN_CLIENT_H_
#define HPD_AWS_SFN_CLIENT_H_

#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hpd::aws {

struct SfnClientOptions {
  // "https://states.us-east-1.amazonaws.com" or "http://127.0.0.1:8080".
  std::string endpoint;
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                 // sent as X-Amz-Security-Token when not empty
  std::chrono::milliseconds timeout{30000};  // per attempt
  int max_attempts = 3;
  // The retry backoff: full jitter over initial_backoff * 2^(attempt - 1), capped at max_backoff.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class SfnClient {
 public:
  // kInvalidArgument when the endpoint is not an http(s) URL or the credentials are empty.
  [[nodiscard]] static StatusOr<std::unique_ptr<SfnClient>> Create(SfnClientOptions options);
  ~SfnClient();
  SfnClient(const SfnClient&) = delete;
  SfnClient& operator=(const SfnClient&) = delete;

  // Calls `action` with `request`; the JSON object answered, or the error (see above).
  [[nodiscard]] StatusOr<boost::json::object> Call(std::string_view action,
                                                   const boost::json::object& request);

 private:
  class Impl;
  explicit SfnClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::aws

#endif  // HPD_AWS_SFN_CLIENT_H_
