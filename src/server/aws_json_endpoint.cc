#include "server/aws_json_endpoint.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse_options.hpp>

#include "common/json.h"
#include "common/uuid.h"

namespace hpd::server {
namespace {

constexpr std::string_view kCoralService = "com.amazon.coral.service";
constexpr std::string_view kCoralValidate = "com.amazon.coral.validate";
constexpr std::string_view kCoralAvailability = "com.amazon.coral.availability";

constexpr std::string_view kUnknownOperation = "UnknownOperationException";
constexpr std::string_view kSerialization = "SerializationException";

// Error names the Coral framework answers for every service, with their namespaces.
struct CoralName {
  std::string_view name;
  std::string_view ns;
};
constexpr std::array<CoralName, 13> kCoralNames{{
    {kUnknownOperation, kCoralService},
    {kSerialization, kCoralService},
    {"MissingAuthenticationTokenException", kCoralService},
    {"IncompleteSignatureException", kCoralService},
    {"InvalidSignatureException", kCoralService},
    {"UnrecognizedClientException", kCoralService},
    {"ExpiredTokenException", kCoralService},
    {"AccessDeniedException", kCoralService},
    {"InternalFailure", kCoralService},
    {"ServiceUnavailableException", kCoralService},
    {"RequestEntityTooLargeException", kCoralService},
    {"ValidationException", kCoralValidate},
    {"ThrottlingException", kCoralAvailability},
}};

std::string_view CoralNamespace(std::string_view name) {
  for (const auto& entry : kCoralNames) {
    if (entry.name == name) return entry.ns;
  }
  return {};
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInternal:
    case StatusCode::kUnknown:
    case StatusCode::kDataLoss:
      return 500;
    case StatusCode::kUnavailable:
      return 503;
    default:
      return 400;
  }
}

// A SAX handler that accepts every event: the body is only checked for being well-formed JSON,
// without building a document the service will build again anyway.
struct JsonSyntaxCheck {
  using error_code = boost::json::error_code;
  using string_view = boost::json::string_view;
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_string_part(string_view, std::size_t, error_code&) { return true; }
  bool on_string(string_view, std::size_t, error_code&) { return true; }
  bool on_key_part(string_view, std::size_t, error_code&) { return true; }
  bool on_key(string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, string_view, error_code&) { return true; }
  bool on_double(double, string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }
};

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// True if `text` is exactly one JSON value (RFC 8259, nesting up to kMaxJsonDepth), optionally
// surrounded by whitespace.
bool IsWellFormedJson(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::json::basic_parser<JsonSyntaxCheck> parser(options);
  boost::json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || !parser.done()) return false;
  for (std::size_t i = used; i < text.size(); ++i) {
    if (!IsJsonSpace(text[i])) return false;
  }
  return true;
}

bool IsJsonObjectText(std::string_view text) {
  for (char c : text) {
    if (!IsJsonSpace(c)) return c == '{';
  }
  return false;
}

std::string_view MediaType(std::string_view content_type) {
  const std::size_t semicolon = content_type.find(';');
  if (semicolon != content_type.npos) content_type = content_type.substr(0, semicolon);
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  return content_type;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool IsAcceptedContentType(std::string_view content_type) {
  const std::string_view media_type = MediaType(content_type);
  return IEquals(media_type, kAwsJson10ContentType) || IEquals(media_type, "application/json");
}

Status NamedError(StatusCode code, std::string message, std::string_view name) {
  Status status(code, std::move(message));
  status.SetErrorName(std::string(name));
  return status;
}

// Everything the handler needs, shared by its copies and by the replies in flight.
struct Endpoint {
  AwsJsonEndpointOptions options;
  AwsJsonAction action;
  std::string target_prefix_dot;  // "<target_prefix>."

  std::string NewRequestId() const {
    char id[kUuidLength];
    FormatUuidV4(*options.random, id);
    return std::string(id, kUuidLength);
  }
};

void AddCommonHeaders(std::string request_id, HttpResponse* response) {
  response->headers.emplace_back("x-amzn-RequestId", std::move(request_id));
}

void RespondError(const Endpoint& endpoint, std::string request_id, const Status& status,
                  const HttpResponder& respond) {
  HttpResponse response = AwsJsonErrorResponse(status, endpoint.options.error_namespace);
  AddCommonHeaders(std::move(request_id), &response);
  respond(std::move(response));
}

void Serve(const std::shared_ptr<const Endpoint>& endpoint, HttpRequest request,
           HttpResponder respond) {
  std::string request_id = endpoint->NewRequestId();

  std::string_view path = request.target;
  if (const std::size_t query = path.find('?'); query != path.npos) path = path.substr(0, query);
  if (request.method != "POST" || path != "/") {
    Status status = NamedError(
        StatusCode::kNotFound,
        "the AWS JSON endpoint serves POST /, not " + request.method + " " + std::string(path),
        kUnknownOperation);
    HttpResponse response = AwsJsonErrorResponse(status, endpoint->options.error_namespace);
    response.status = 404;
    AddCommonHeaders(std::move(request_id), &response);
    return respond(std::move(response));
  }

  const std::string_view content_type = request.Header("content-type");
  if (!request.body.empty() && !IsAcceptedContentType(content_type)) {
    Status status = NamedError(StatusCode::kNotFound,
                               "unsupported Content-Type \"" + std::string(content_type) +
                                   "\"; expected " + std::string(kAwsJson10ContentType),
                               kUnknownOperation);
    HttpResponse response = AwsJsonErrorResponse(status, endpoint->options.error_namespace);
    response.status = 404;
    AddCommonHeaders(std::move(request_id), &response);
    return respond(std::move(response));
  }

  if (!request.body.empty() && !IsWellFormedJson(request.body)) {
    return RespondError(
        *endpoint, std::move(request_id),
        NamedError(StatusCode::kInvalidArgument, "request body is not valid JSON", kSerialization),
        respond);
  }

  const std::string_view target = request.Header("x-amz-target");
  const std::string& prefix = endpoint->target_prefix_dot;
  if (target.size() <= prefix.size() || target.compare(0, prefix.size(), prefix) != 0 ||
      target.find('.', prefix.size()) != target.npos) {
    Status status = UnknownOperation(target);
    return RespondError(*endpoint, std::move(request_id), status, respond);
  }
  const std::string action(target.substr(prefix.size()));

  if (endpoint->options.authenticate) {
    Status auth = endpoint->options.authenticate(request);
    if (!auth.ok()) return RespondError(*endpoint, std::move(request_id), auth, respond);
  }

  if (!IsJsonObjectText(request.body)) {
    return RespondError(
        *endpoint, std::move(request_id),
        NamedError(StatusCode::kInvalidArgument,
                   request.body.empty() ? "request body is empty; expected a JSON object"
                                        : "request body is not a JSON object",
                   kSerialization),
        respond);
  }

  AwsJsonReply reply = [endpoint, request_id,
                        respond = std::move(respond)](StatusOr<std::string> result) mutable {
    if (!result.ok())
      return RespondError(*endpoint, std::move(request_id), result.status(), respond);
    HttpResponse response;
    response.headers.reserve(2);
    response.headers.emplace_back("Content-Type", std::string(kAwsJson10ContentType));
    AddCommonHeaders(std::move(request_id), &response);
    response.body = std::move(result).value();
    respond(std::move(response));
  };
  endpoint->action(action, std::move(request.body), std::move(reply));
}

}  // namespace

Status UnknownOperation(std::string_view action) {
  Status status(StatusCode::kUnimplemented, "");
  status.SetErrorName(std::string(kCoralService) + "#" + std::string(kUnknownOperation));
  status.AddContext(action.empty() ? std::string("no operation named")
                                   : "operation " + std::string(action));
  return status;
}

HttpResponse AwsJsonErrorResponse(const Status& status, std::string_view error_namespace) {
  std::string_view name = status.error_name();
  int http_status = HttpStatusFor(status.code());
  if (name.empty()) {
    switch (status.code()) {
      case StatusCode::kUnavailable:
        name = "ServiceUnavailableException";
        break;
      case StatusCode::kResourceExhausted:
        name = "ThrottlingException";
        break;
      default:
        name = "InternalFailure";
        http_status = 500;
        break;
    }
  }

  HttpResponse response;
  response.status = http_status;
  response.headers.emplace_back("Content-Type", std::string(kAwsJson10ContentType));
  std::string& body = response.body;
  body.reserve(64 + name.size() + status.message().size());
  std::string type;
  if (name.find('#') != name.npos) {
    type = name;
  } else {
    std::string_view ns = CoralNamespace(name);
    if (ns.empty()) ns = error_namespace;
    if (!ns.empty()) {
      type.reserve(ns.size() + 1 + name.size());
      type += ns;
      type += '#';
    }
    type += name;
  }
  body += "{\"__type\":";
  AppendJsonString(type, &body);
  if (!status.message().empty()) {
    body += ",\"message\":";
    AppendJsonString(status.message(), &body);
  }
  body += '}';
  return response;
}

HttpHandler MakeAwsJsonHandler(AwsJsonEndpointOptions options, AwsJsonAction action) {
  auto endpoint = std::make_shared<Endpoint>();
  if (!options.random) options.random = std::make_shared<SystemRandom>();
  endpoint->target_prefix_dot = options.target_prefix + ".";
  endpoint->options = std::move(options);
  endpoint->action = std::move(action);
  return [endpoint = std::shared_ptr<const Endpoint>(std::move(endpoint))](HttpRequest request,
                                                                           HttpResponder respond) {
    Serve(endpoint, std::move(request), std::move(respond));
  };
}

}  // namespace hpd::server
