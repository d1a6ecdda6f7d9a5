// AWS Signature Version 4 (header form) as a server checks it: the verifier the API server runs
// when it listens on a non-loopback address, plus the pure building blocks (canonical request,
// string to sign, signature) that a signing client needs as well.
//
// Canonicalization follows AWS's "Create a canonical request" rules for every service but S3:
//  - URI: the raw path as received (it may contain %xx) has "." and ".." segments resolved and
//    empty segments dropped ("//a//" -> "/a/"), then is URI-encoded once more, '/' kept. A path
//    sent as "/a%20b" therefore canonicalizes to "/a%2520b": the double encoding botocore and the
//    AWS SDKs apply to non-S3 services.
//  - Query: each "name=value" (a bare "name" is "name=") is percent-decoded ('+' stays a '+'),
//    re-encoded keeping only A-Z a-z 0-9 - _ . ~, and the pairs are sorted by name, then value.
//  - Headers: only those listed in SignedHeaders, names lower-cased, values of repeated headers
//    joined with ',' in arrival order, each value trimmed with inner whitespace runs collapsed.
//  - Payload: the X-Amz-Content-SHA256 header if present, else the hex SHA-256 of the body.
// All this is checked against the AWS SigV4 test suite (sigv4_test.cc) and botocore.
//
// Errors. Verify() returns StatusCode::kUnauthenticated with error_name() set to the AWS error
// code and message() set to AWS's text, checked in the order a coral (AWS JSON protocol) service
// checks them, as recorded against AWS by mhart/dynalite (index.js):
//   MissingAuthenticationTokenException  "Request is missing Authentication Token"
//       (no Authorization header, or one not starting with "AWS4-")
//   IncompleteSignatureException  "'<token>' not a valid key=value pair (missing equal-sign) in
//       Authorization header: '<header>'."  (iann0036/cloud9-sync#10, aws/aws-sdk-go#289)
//   IncompleteSignatureException  "Authorization header requires 'Credential' parameter.
//       Authorization header requires 'Signature' parameter. Authorization header requires
//       'SignedHeaders' parameter. Authorization header requires existence of either a
//       'X-Amz-Date' or a 'Date' header. Authorization=<header>"  (only the missing parts;
//       aws/chalice#828, brendanhay/amazonka#316)
//   IncompleteSignatureException  "Date must be in ISO-8601 'basic format'. Got '<date>'. See
//       http://en.wikipedia.org/wiki/ISO_8601"
//   InvalidSignatureException  "Signature expired: <date> is now earlier than <now-skew>
//       (<now> - 5 min.)"  (aws/aws-sdk-js#254, aws/aws-cli#4600)
//   InvalidSignatureException  "Signature not yet current: <date> is still later than
//       <now+skew> (<now> + 5 min.)"  (serverless/enterprise#11)
//   InvalidSignatureException  "'Host' must be a 'SignedHeader' in the AWS Authorization."
//   IncompleteSignatureException  "Unsupported AWS 'algorithm': '<alg>' (only AWS4-HMAC-SHA256
//       for now). "
//   IncompleteSignatureException  "Credential must have exactly 5 slash-delimited elements, e.g.
//       keyid/date/region/service/term, got '<credential>'"
//   InvalidSignatureException  one sentence per wrong scope element, each followed by a space:
//       "Credential should be scoped to a valid region, not '<r>'. " (JuliaCloud/AWS.jl#565),
//       "Credential should be scoped to correct service: '<service>'. "
//       (cllunsford/aws-signing-proxy#25), "Credential should be scoped with a valid terminator:
//       'aws4_request', not '<t>'. ", "Date in Credential scope does not match YYYYMMDD from
//       ISO-8601 version of date from HTTP: '<d>' != '<yyyymmdd>', from '<date>'. "
//   UnrecognizedClientException  "The security token included in the request is invalid."
//       (unknown access key id; localstack/localstack#1869 quotes Step Functions)
//   InvalidSignatureException  "The request signature we calculated does not match the signature
//       you provided. Check your AWS Secret Access Key and signing method. Consult the service
//       documentation for details.\n\nThe Canonical String for this request should have been\n
//       '<canonical request>'\n\nThe String-to-Sign should have been\n'<string to sign>'\n"
//   UnrecognizedClientException  "The security token included in the request is invalid"
//       (X-Amz-Security-Token not the one configured for the key; no final period, as recorded)
// Beyond AWS's list, and worded by us:
//   InvalidSignatureException  "The provided 'x-amz-content-sha256' header does not match what
//       was computed." (S3's XAmzContentSHA256Mismatch text; UNSIGNED-PAYLOAD is refused too)
//   InvalidSignatureException  "'<Name>' must be a 'SignedHeader' in the AWS Authorization." for a
//       header in SigV4Options::required_signed_headers that the request carries unsigned
//   InvalidSignatureException  "Found both 'X-Amz-Algorithm' as a query-string param and
//       'Authorization' as HTTP header." (AWS's text, per dynalite)
//   IncompleteSignatureException  for query-string (presigned URL) authentication, which this
//       verifier does not implement.
//
// HTTP status: AWS JSON services answer all of the above with 400 (DynamoDB captures in
// dynalite; UnrecognizedClientException from Step Functions with 400 in localstack#1869;
// InvalidSignatureException 400 in aws/aws-sdk-js#254 and remind101/logspout-kinesis#21). The
// generic "Common Errors" pages list MissingAuthenticationToken and InvalidClientTokenId as 403 -
// those are the Query-protocol names; some REST services (Lambda) answer 403 too. The HTTP layer
// should therefore map these kUnauthenticated statuses to 400 for the JSON protocol.
//
// Clock skew: AWS rejects a request "more than five minutes" off its clock ("Elements of an AWS
// API request signature", IAM user guide); Step Functions reports a 5-minute window
// (aws/aws-sdk-js-v3#7135) while DynamoDB/SQS/SNS use 15 minutes. Hence the 5-minute default.
#ifndef HPD_SERVER_SIGV4_H_
#define HPD_SERVER_SIGV4_H_

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/status.h"

namespace hpd::server {

// A received HTTP request as the verifier needs it, independent of the HTTP library. Non-owning
// views must outlive the call they are passed to.
struct SignedRequest {
  std::string_view method;  // "POST"
  std::string_view path;    // raw request-target path as on the wire, may contain %xx
  std::string_view query;   // raw, after '?', without the '?'; empty if none
  // In arrival order; names in any case; a repeated header appears once per occurrence.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  // Empty: requests with this key must not carry X-Amz-Security-Token. Otherwise they must carry
  // exactly this token (signed or not, as AWS accepts both).
  std::string session_token;
};

struct SigV4Options {
  // Signing name expected in the credential scope ("states" for Step Functions).
  std::string service = "states";
  // Region expected in the credential scope; empty accepts any non-empty region.
  std::string region;
  // Largest accepted difference between the request's date and the clock, either way.
  std::chrono::minutes max_skew{5};
  // Names (any case) of headers that must be listed in SignedHeaders whenever the request carries
  // them. "host" is always required (AWS requires it even when absent). X-Amz-Target picks the
  // operation of an AWS JSON API, so leaving it unsigned would let it be changed in transit.
  std::vector<std::string> required_signed_headers = {"host", "x-amz-target"};
};

// Who signed a request that verified.
struct SigV4Signer {
  std::string access_key_id;
  std::string region;  // from the credential scope
};

// Checks SigV4 Authorization headers against a fixed set of keys. Immutable after construction;
// Verify is thread-safe. The clock must outlive the verifier.
class SigV4Verifier {
 public:
  // kInvalidArgument if a key has an empty id or secret, an id containing '/', ',' or whitespace,
  // or an id listed twice; or if options.service is empty.
  static StatusOr<SigV4Verifier> Create(std::vector<SigV4Credentials> keys, SigV4Options options,
                                        const Clock& clock);

  // The signer, or kUnauthenticated with the AWS error code and message listed above.
  StatusOr<SigV4Signer> Verify(const SignedRequest& request) const;

 private:
  SigV4Verifier(std::map<std::string, SigV4Credentials, std::less<>> keys, SigV4Options options,
                const Clock& clock);

  // Constant after construction.
  std::map<std::string, SigV4Credentials, std::less<>> keys_;  // by access key id
  SigV4Options options_;
  const Clock* clock_;
};

// Building blocks. Pure functions; thread-safe.

// Sha256Hex and HmacSha256 are in common/digest.h.

// Percent-encodes every byte except A-Z a-z 0-9 - _ . ~ (and '/' when keep_slash), uppercase hex.
std::string UriEncode(std::string_view text, bool keep_slash);
// The canonical URI of a raw (as received) path; see the top of this file.
std::string CanonicalUri(std::string_view raw_path);
// The canonical query string of a raw query, without excluding any parameter.
std::string CanonicalQueryString(std::string_view raw_query);

// The canonical request for `request`, signing `signed_headers` (lower-case names, in the order
// they appear in SignedHeaders, normally sorted) with the given payload hash.
std::string CanonicalRequest(const SignedRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash);

// "YYYYMMDD/region/service/aws4_request".
std::string CredentialScope(std::string_view yyyymmdd, std::string_view region,
                            std::string_view service);
// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical_request>".
std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request);
// The derived signing key (raw bytes).
std::string SigningKey(std::string_view secret_access_key, std::string_view yyyymmdd,
                       std::string_view region, std::string_view service);
// Lower-case hex signature of `string_to_sign`.
std::string Signature(std::string_view secret_access_key, std::string_view yyyymmdd,
                      std::string_view region, std::string_view service,
                      std::string_view string_to_sign);

// The Authorization header value a client sends for `request` signed at `amz_date`
// ("20150830T123600Z") over `signed_headers` (lower-case, sorted), payload hashed from the body
// unless the request carries X-Amz-Content-SHA256.
std::string AuthorizationHeader(const SignedRequest& request,
                                const std::vector<std::string>& signed_headers,
                                const SigV4Credentials& credentials, std::string_view amz_date,
                                std::string_view region, std::string_view service);

// "20150830T123600Z" for a WallTime (truncated to whole seconds), and back. ParseAmzDate returns
// kInvalidArgument unless `text` is exactly YYYYMMDD'T'HHMMSS'Z' with a valid date and time.
std::string FormatAmzDate(WallTime t);
StatusOr<WallTime> ParseAmzDate(std::string_view text);

}  // namespace hpd::server

#endif  // HPD_SERVER_SIGV4_H_
