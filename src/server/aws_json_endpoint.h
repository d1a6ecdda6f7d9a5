// The AWS JSON 1.0 protocol (Step Functions, DynamoDB, ...) as an HttpHandler: `POST /` with
// `Content-Type: application/x-amz-json-1.0` and `X-Amz-Target: <prefix>.<Action>`, a JSON object
// in, a JSON object (200) or an error object out.
//
// The endpoint checks the envelope, in the order AWS does: method and path, Content-Type, a body
// that is not JSON, the target, authentication, then that the body is a JSON object. It then hands
// every action name, known or not, to the service with the raw body (the service parses it again
// and answers UnknownOperation(action) for names it does not serve). Every response carries
// `x-amzn-RequestId` (a UUID v4) and `Content-Type: application/x-amz-json-1.0`.
//
// Errors. A non-OK Status becomes {"__type":"<namespace>#<Name>","message":"<message()>"}; the
// "message" member is left out when message() is empty (AWS sends none for the Coral framework's
// own errors). Name is status.error_name(); its namespace is, in this order: the one already in
// the name ("ns#Name" is sent as is); the Coral framework's for the names it owns (table below);
// AwsJsonEndpointOptions::error_namespace; none (a bare name, which SDKs accept as well).
// HTTP status: 500 for kInternal/kUnknown/kDataLoss, 503 for kUnavailable, otherwise 400, as AWS
// sends for every modelled and Coral error. A Status without error_name is named by its code:
// kUnavailable -> ServiceUnavailableException (503), kResourceExhausted -> ThrottlingException
// (400), anything else -> InternalFailure (500): a service error the client is meant to branch on
// must be named.
//
// Wire facts, with their sources (SDK = botocore 1.43 as installed; dynalite's tests were written
// against live DynamoDB, the JSON 1.0 service on the same Coral framework as Step Functions):
//  - Step Functions' own errors: HTTP 400, __type "com.amazonaws.swf.service.v2.model#<Name>",
//    lower-case "message", e.g. {"__type":"com.amazonaws.swf.service.v2.model#InvalidToken",
//    "message":"Invalid Token: 'Invalid token'"}. Source: NaohiroTamura/faasshell
//    tests/unit/test_aws_api_step_functions.pl (run against AWS: ActivityDoesNotExist,
//    InvalidToken); aws-sdk-js-v3 client-sfn's deserializers match both "Name" and
//    "com.amazonaws.swf.service.v2.model#Name"; LocalStack's AWS-recorded snapshots
//    (tests/aws/services/stepfunctions/v2/test_sfn_api.snapshot.json: StateMachineDoesNotExist,
//    InvalidDefinition, ... all HTTPStatusCode 400 with a "message" member).
//  - Model constraint violations: 400, "com.amazon.coral.validate#ValidationException",
//    "1 validation error detected: Value at 'output' failed to satisfy constraint: Member must not
//    be null". Source: the same faasshell test (SendTaskSuccess without output).
//  - SDK parsing (botocore/parsers.py BaseJSONParser._do_error_parse): Code is __type after the
//    last '#' (and before any ':'), Message is "message" or "Message", RequestId comes from the
//    x-amzn-requestid header; the HTTP status only names the error when __type is absent.
//    botocore retries 500/502/503/504 and ThrottlingException (botocore/retries/standard.py).
//  - Unknown, missing or ill-formed X-Amz-Target: 400 {"__type":
//    "com.amazon.coral.service#UnknownOperationException"}, no message. Source: mhart/dynalite
//    test/connection.js and index.js (DynamoDB); not captured from Step Functions itself.
//  - Body that is not JSON: 400 {"__type":"com.amazon.coral.service#SerializationException"}, no
//    message, checked before the target. Source: dynalite (DynamoDB). We add a message, and also
//    answer SerializationException for JSON that is not an object (a structure cannot be read from
//    it; kinesalite does the same) and for an empty body.
//  - Method other than POST, or a body with a Content-Type other than application/x-amz-json-1.0
//    or application/json: DynamoDB answers 404 with the XML body "<UnknownOperationException/>".
//    Source: dynalite test/connection.js. A JSON 1.1 service (Kinesis) accepts
//    application/x-amz-json-1.1 and application/json but not 1.0 (mhart/kinesalite index.js), so
//    a 1.0 service is not taken to accept 1.1. We answer 404 with the JSON error instead of XML,
//    which botocore turns into Code "UnknownOperationException" rather than "404".
//  - The path: AWS JSON services ignore it (kinesalite: "AWS doesn't seem to care about the HTTP
//    path"). This server also hosts other routes, so a path other than "/" (query ignored) is
//    answered like a wrong method: 404 UnknownOperationException.
//  - Authentication (after the target check): no Authorization header, or one not starting with
//    "AWS4-": 400 {"__type":"com.amazon.coral.service#MissingAuthenticationTokenException",
//    "message":"Request is missing Authentication Token"} (dynalite, and a captured DynamoDB reply:
//    HTTP/1.1 400, x-amz-crc32 2088342776); "AWS4-" without Credential/Signature/SignedHeaders: 400
//    IncompleteSignatureException ("Authorization header requires 'Credential' parameter. ...");
//    unknown key: 400 UnrecognizedClientException ("The security token included in the request is
//    invalid."); wrong signature: 400 InvalidSignatureException; all in com.amazon.coral.service.
//    AWS's "Common Errors" page lists MissingAuthenticationToken as 403, which is the Query
//    protocol's form; JSON services answer 400 as above.
//  - InternalFailure: 500 "com.amazon.coral.service#InternalFailure" (a real SWF reply quoted in
//    getmoto/moto moto/swf/models, SWFBackend.respond_decision_task_completed);
//    ThrottlingException: 400 "com.amazon.coral.availability#ThrottlingException" (DynamoDB
//    replies retried by dynalite's test helpers and other clients); ServiceUnavailable: 503 per the
//    Step Functions API reference's Common Errors page. Its __type namespace is not verified; we
//    send "com.amazon.coral.service#ServiceUnavailableException".
#ifndef HPD_SERVER_AWS_JSON_ENDPOINT_H_
#define HPD_SERVER_AWS_JSON_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/status.h"
#include "server/http_server.h"

namespace hpd::server {

// The response body (a JSON object's text) or the error. Call exactly once, from any thread.
using AwsJsonReply = std::function<void(StatusOr<std::string>)>;

// Serves one request: `action` is the part of X-Amz-Target after "<prefix>." (any non-empty
// name), `body` the request body as received (a JSON object). Called on an I/O thread: it must
// not block; answer through `reply`, now or later.
using AwsJsonAction =
    std::function<void(std::string_view action, std::string body, AwsJsonReply reply)>;

struct AwsJsonEndpointOptions {
  // X-Amz-Target is "<target_prefix>.<Action>".
  std::string target_prefix = "AWSStepFunctions";
  // What AWS puts before '#' in __type for this service's own errors, e.g.
  // kStepFunctionsErrorNamespace. Empty: bare names.
  std::string error_namespace;
  // Called after the target check; a non-OK Status is answered as an error (name it, e.g.
  // "MissingAuthenticationTokenException", "UnrecognizedClientException"). Null = accept all.
  // Called on an I/O thread.
  std::function<Status(const HttpRequest&)> authenticate;
  // Draws the request ids. Must be thread-safe when the server has several I/O threads. Null: the
  // handler owns a SystemRandom.
  std::shared_ptr<RandomSource> random;
};

inline constexpr std::string_view kStepFunctionsErrorNamespace =
    "com.amazonaws.swf.service.v2.model";
inline constexpr std::string_view kAwsJson10ContentType = "application/x-amz-json-1.0";

// The handler. The options and action are copied into it; it may be called concurrently.
HttpHandler MakeAwsJsonHandler(AwsJsonEndpointOptions options, AwsJsonAction action);

// The Status a service answers for an action it does not serve: kUnimplemented, error name
// "com.amazon.coral.service#UnknownOperationException", an empty message (AWS sends none) and the
// action as context (for logs).
Status UnknownOperation(std::string_view action);

// The HTTP response an error Status becomes (see above), with Content-Type but without
// x-amzn-RequestId. `status` must not be OK.
HttpResponse AwsJsonErrorResponse(const Status& status, std::string_view error_namespace);

}  // namespace hpd::server

#endif  // HPD_SERVER_AWS_JSON_ENDPOINT_H_
