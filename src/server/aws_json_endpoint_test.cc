#include "server/aws_json_endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/random.h"
#include "common/status_matchers.h"
#include "common/uuid.h"
#include "support/subprocess.h"

namespace hpd::server {
namespace {

using ::testing::HasSubstr;

struct Reply {
  int status = 0;
  std::string head;  // status line and headers as received
  std::string body;

  // Value of the header `name` (case-insensitive), "" if absent.
  std::string Header(std::string name) const {
    std::string lower_head = head;
    for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower_head.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    size_t start = at + 3 + name.size();
    while (start < head.size() && head[start] == ' ') ++start;
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

// Sends one request with "Connection: close" on a fresh loopback connection and reads the reply
// to the end of the stream.
Reply Exchange(uint16_t port, const std::string& request) {
  Reply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{};
  tv.tv_sec = 10;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return reply;
  }
  std::string all;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos || all.size() < 12) return reply;
  reply.status = std::atoi(all.substr(9, 3).c_str());
  reply.head = all.substr(0, end + 2);
  reply.body = all.substr(end + 4);
  return reply;
}

std::string JsonRequest(std::string_view target, std::string_view body,
                        std::string_view content_type = kAwsJson10ContentType,
                        std::string_view method = "POST", std::string_view path = "/") {
  std::string request(method);
  request += " ";
  request += path;
  request += " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
  if (!target.empty()) request += "X-Amz-Target: " + std::string(target) + "\r\n";
  if (!content_type.empty()) request += "Content-Type: " + std::string(content_type) + "\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  request += body;
  return request;
}

Status Named(StatusCode code, std::string message, std::string name) {
  Status status(code, std::move(message));
  status.SetErrorName(std::move(name));
  return status;
}

// A server with the endpoint in front of a scripted service that records what reaches it.
class AwsJsonEndpointTest : public ::testing::Test {
 protected:
  struct Call {
    std::string action;
    std::string body;
  };

  void StartEndpoint(AwsJsonEndpointOptions options = DefaultOptions()) {
    auto server = HttpServer::Start(
        {}, MakeAwsJsonHandler(std::move(options), [this](std::string_view action, std::string body,
                                                          AwsJsonReply reply) {
          {
            std::lock_guard lock(mu_);
            calls_.push_back({std::string(action), body});
          }
          Serve(action, std::move(reply));
        }));
    ASSERT_THAT(server, IsOk());
    server_ = std::move(server).value();
  }

  static AwsJsonEndpointOptions DefaultOptions() {
    AwsJsonEndpointOptions options;
    options.error_namespace = std::string(kStepFunctionsErrorNamespace);
    return options;
  }

  // The scripted service.
  void Serve(std::string_view action, AwsJsonReply reply) {
    if (action == "ListStateMachines") return reply(std::string(R"({"stateMachines":[]})"));
    if (action == "DescribeExecution") {
      return reply(Named(StatusCode::kNotFound,
                         "Execution Does Not Exist: 'arn:aws:states:us-east-1:123456789012:"
                         "execution:m:e'",
                         "ExecutionDoesNotExist"));
    }
    if (action == "StartExecution") {
      // Replies later, from another thread, as the engine does after its commit.
      std::lock_guard lock(mu_);
      repliers_.emplace_back([reply = std::move(reply)] {
        reply(std::string(R"({"executionArn":"arn:x","startDate":1.5})"));
      });
      return;
    }
    return reply(UnknownOperation(action));
  }

  std::vector<Call> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  uint16_t port() const { return server_->port(); }

  void TearDown() override {
    server_.reset();
    std::lock_guard lock(mu_);
    for (auto& replier : repliers_) replier.join();
  }

  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<Call> calls_;            // Guarded by mu_.
  std::vector<std::thread> repliers_;  // Guarded by mu_.
};

TEST_F(AwsJsonEndpointTest, SuccessCarriesTheBodyRequestIdAndContentType) {
  StartEndpoint();
  const Reply reply = Exchange(port(), JsonRequest("AWSStepFunctions.ListStateMachines", "{}"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"stateMachines":[]})");
  EXPECT_EQ(reply.Header("Content-Type"), "application/x-amz-json-1.0");
  EXPECT_TRUE(IsUuid(reply.Header("x-amzn-RequestId"))) << reply.head;
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].action, "ListStateMachines");
  EXPECT_EQ(calls[0].body, "{}");
}

TEST_F(AwsJsonEndpointTest, AsynchronousReplyFromAnotherThread) {
  StartEndpoint();
  const Reply reply = Exchange(
      port(), JsonRequest("AWSStepFunctions.StartExecution", R"({"stateMachineArn":"a"})"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, R"({"executionArn":"arn:x","startDate":1.5})");
}

TEST_F(AwsJsonEndpointTest, RequestIdsComeFromTheInjectedRandomSource) {
  AwsJsonEndpointOptions options = DefaultOptions();
  options.random = std::make_shared<SeededRandom>(7);  // one I/O thread: no concurrent use
  StartEndpoint(std::move(options));
  SeededRandom expected(7);
  for (int i = 0; i < 2; ++i) {
    const Reply reply = Exchange(port(), JsonRequest("AWSStepFunctions.ListStateMachines", "{}"));
    EXPECT_EQ(reply.Header("x-amzn-RequestId"), NewUuidV4(expected));
  }
}

TEST_F(AwsJsonEndpointTest, ServiceErrorIsNamespacedAnd400) {
  StartEndpoint();
  const Reply reply = Exchange(
      port(), JsonRequest("AWSStepFunctions.DescribeExecution", R"({"executionArn":"x"})"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body,
            R"({"__type":"com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist",)"
            R"("message":"Execution Does Not Exist: 'arn:aws:states:us-east-1:123456789012:)"
            R"(execution:m:e'"})");
  EXPECT_EQ(reply.Header("Content-Type"), "application/x-amz-json-1.0");
  EXPECT_TRUE(IsUuid(reply.Header("x-amzn-RequestId")));
}

TEST_F(AwsJsonEndpointTest, UnknownActionIsPassedToTheServiceWhichAnswersUnknownOperation) {
  StartEndpoint();
  const Reply reply = Exchange(port(), JsonRequest("AWSStepFunctions.Frobnicate", "{}"));
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body, R"({"__type":"com.amazon.coral.service#UnknownOperationException"})");
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].action, "Frobnicate");
}

TEST_F(AwsJsonEndpointTest, MissingOrForeignTargetIsUnknownOperationWithoutCallingTheService) {
  StartEndpoint();
  for (const char* target : {"", "AWSStepFunctions", "AWSStepFunctions.", "DynamoDB_20120810.Scan",
                             "AWSStepFunctions.A.B", "awsstepfunctions.ListStateMachines"}) {
    const Reply reply = Exchange(port(), JsonRequest(target, "{}"));
    EXPECT_EQ(reply.status, 400) << target;
    EXPECT_EQ(reply.body, R"({"__type":"com.amazon.coral.service#UnknownOperationException"})")
        << target;
    EXPECT_TRUE(IsUuid(reply.Header("x-amzn-RequestId"))) << target;
  }
  EXPECT_TRUE(Calls().empty());
}

TEST_F(AwsJsonEndpointTest, WrongContentTypeMethodOrPathIs404) {
  StartEndpoint();
  const std::string target = "AWSStepFunctions.ListStateMachines";
  for (const char* content_type : {"", "text/plain", "application/x-amz-json-1.1"}) {
    const Reply reply = Exchange(port(), JsonRequest(target, "{}", content_type));
    EXPECT_EQ(reply.status, 404) << content_type;
    EXPECT_THAT(reply.body,
                HasSubstr(R"("__type":"com.amazon.coral.service#UnknownOperationException")"))
        << content_type;
  }
  // Accepted spellings.
  for (const char* content_type : {"application/json", "application/x-amz-json-1.0; charset=utf-8",
                                   "Application/X-Amz-Json-1.0"}) {
    EXPECT_EQ(Exchange(port(), JsonRequest(target, "{}", content_type)).status, 200)
        << content_type;
  }
  EXPECT_EQ(Exchange(port(), JsonRequest(target, "", kAwsJson10ContentType, "GET")).status, 404);
  EXPECT_EQ(
      Exchange(port(), JsonRequest(target, "{}", kAwsJson10ContentType, "POST", "/other")).status,
      404);
  EXPECT_EQ(
      Exchange(port(), JsonRequest(target, "{}", kAwsJson10ContentType, "POST", "/?x=1")).status,
      200);
}

TEST_F(AwsJsonEndpointTest, BodyThatIsNotAJsonObjectIsSerializationException) {
  StartEndpoint();
  const std::string target = "AWSStepFunctions.ListStateMachines";
  for (const char* body :
       {"{", "{\"a\":}", "hi", "{} x", "{\"a\":1,}", "[1]", "\"s\"", "", "\xff\xfe"}) {
    const Reply reply = Exchange(port(), JsonRequest(target, body));
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_THAT(reply.body,
                HasSubstr(R"({"__type":"com.amazon.coral.service#SerializationException",)"))
        << body;
  }
  std::string deep(1001, '[');
  deep += std::string(1001, ']');
  EXPECT_EQ(Exchange(port(), JsonRequest(target, "{\"a\":" + deep + "}")).status, 400);
  EXPECT_EQ(Exchange(port(), JsonRequest(target, " \n{\"a\":[1,2.5e3,null,true]}\n ")).status, 200);
  EXPECT_EQ(Calls().size(), 1u);
}

TEST_F(AwsJsonEndpointTest, SerializationIsCheckedBeforeTheTargetAsAwsDoes) {
  StartEndpoint();
  const Reply reply = Exchange(port(), JsonRequest("Nope.Nope", "not json"));
  EXPECT_THAT(reply.body, HasSubstr("SerializationException"));
}

TEST_F(AwsJsonEndpointTest, AuthenticateHookRefusal) {
  AwsJsonEndpointOptions options = DefaultOptions();
  std::mutex mu;
  std::string seen_target;  // Guarded by mu.
  options.authenticate = [&](const HttpRequest& request) -> Status {
    std::lock_guard lock(mu);
    seen_target = std::string(request.Header("x-amz-target"));
    if (request.Header("authorization").empty()) {
      return Named(StatusCode::kUnauthenticated, "Request is missing Authentication Token",
                   "MissingAuthenticationTokenException");
    }
    return Status::Ok();
  };
  StartEndpoint(std::move(options));
  const Reply refused = Exchange(port(), JsonRequest("AWSStepFunctions.ListStateMachines", "{}"));
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(refused.body,
            R"({"__type":"com.amazon.coral.service#MissingAuthenticationTokenException",)"
            R"("message":"Request is missing Authentication Token"})");
  EXPECT_TRUE(Calls().empty());
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_target, "AWSStepFunctions.ListStateMachines");
  }
  std::string request = JsonRequest("AWSStepFunctions.ListStateMachines", "{}");
  request.insert(request.find("\r\n") + 2, "Authorization: AWS4-HMAC-SHA256 x\r\n");
  EXPECT_EQ(Exchange(port(), request).status, 200);
}

TEST(AwsJsonErrorResponseTest, MapsCodesNamesAndNamespaces) {
  struct Case {
    Status status;
    int http;
    std::string body;
  };
  const std::string ns(kStepFunctionsErrorNamespace);
  const std::vector<Case> cases = {
      {Named(StatusCode::kInvalidArgument, "Invalid Arn: 'x'", "InvalidArn"), 400,
       R"({"__type":"com.amazonaws.swf.service.v2.model#InvalidArn","message":"Invalid Arn: 'x'"})"},
      {Named(StatusCode::kAlreadyExists, "m", "ExecutionAlreadyExists"), 400,
       R"({"__type":"com.amazonaws.swf.service.v2.model#ExecutionAlreadyExists","message":"m"})"},
      {Named(StatusCode::kInvalidArgument, "1 validation error detected: v", "ValidationException"),
       400,
       R"({"__type":"com.amazon.coral.validate#ValidationException",)"
       R"("message":"1 validation error detected: v"})"},
      {Named(StatusCode::kResourceExhausted, "Rate exceeded", "ThrottlingException"), 400,
       R"({"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"})"},
      {ResourceExhaustedError("slow down"), 400,
       R"({"__type":"com.amazon.coral.availability#ThrottlingException","message":"slow down"})"},
      {UnavailableError("engine is restarting"), 503,
       R"({"__type":"com.amazon.coral.service#ServiceUnavailableException",)"
       R"("message":"engine is restarting"})"},
      {InternalError("disk on fire"), 500,
       R"({"__type":"com.amazon.coral.service#InternalFailure","message":"disk on fire"})"},
      {UnknownError("?"), 500,
       R"({"__type":"com.amazon.coral.service#InternalFailure","message":"?"})"},
      {InvalidArgumentError("unnamed"), 500,
       R"({"__type":"com.amazon.coral.service#InternalFailure","message":"unnamed"})"},
      {Named(StatusCode::kInternal, "kms", "KmsThrottlingException"), 500,
       R"({"__type":"com.amazonaws.swf.service.v2.model#KmsThrottlingException","message":"kms"})"},
      {Named(StatusCode::kInvalidArgument, "q\"uote", "my.ns#Custom"), 400,
       R"({"__type":"my.ns#Custom","message":"q\"uote"})"},
      {UnknownOperation("Frob"), 400,
       R"({"__type":"com.amazon.coral.service#UnknownOperationException"})"},
  };
  for (const auto& c : cases) {
    const HttpResponse response = AwsJsonErrorResponse(c.status, ns);
    EXPECT_EQ(response.status, c.http) << c.status;
    EXPECT_EQ(response.body, c.body) << c.status;
  }
  // Without a service namespace, service names go bare; Coral's keep theirs.
  EXPECT_EQ(AwsJsonErrorResponse(Named(StatusCode::kNotFound, "m", "Nope"), "").body,
            R"({"__type":"Nope","message":"m"})");
  EXPECT_EQ(AwsJsonErrorResponse(UnknownOperation("X"), "").body,
            R"({"__type":"com.amazon.coral.service#UnknownOperationException"})");
}

TEST(UnknownOperationTest, CarriesTheActionAsContext) {
  const Status status = UnknownOperation("Frob");
  EXPECT_EQ(status.code(), StatusCode::kUnimplemented);
  EXPECT_EQ(status.error_name(), "com.amazon.coral.service#UnknownOperationException");
  EXPECT_EQ(status.message(), "");
  EXPECT_THAT(status.ToString(), HasSubstr("operation Frob"));
}

// The path of an executable named `name` on PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string_view rest(path);
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const std::string dir(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// botocore, as awscli and boto3 use it, against the endpoint: it must parse our successes and
// errors as it parses AWS's.
constexpr char kBotocoreScript[] = R"PY(
import sys
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

client = botocore.session.get_session().create_client(
    'stepfunctions', endpoint_url=sys.argv[1], region_name='us-east-1',
    aws_access_key_id='x', aws_secret_access_key='y',
    config=Config(retries={'max_attempts': 1}))

listed = client.list_state_machines()
assert listed['stateMachines'] == [], listed
assert listed['ResponseMetadata']['HTTPStatusCode'] == 200, listed
assert len(listed['ResponseMetadata']['RequestId']) == 36, listed

arn = 'arn:aws:states:us-east-1:123456789012:execution:m:e'
try:
    client.describe_execution(executionArn=arn)
    sys.exit('describe_execution did not fail')
except client.exceptions.ExecutionDoesNotExist as e:
    error = e.response['Error']
    assert error['Code'] == 'ExecutionDoesNotExist', error
    assert error['Message'] == "Execution Does Not Exist: '" + arn + "'", error
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 400, e.response
    assert len(e.response['ResponseMetadata']['RequestId']) == 36, e.response

try:
    client.list_activities()
    sys.exit('list_activities did not fail')
except ClientError as e:
    assert e.response['Error']['Code'] == 'UnknownOperationException', e.response
    assert e.response['ResponseMetadata']['HTTPStatusCode'] == 400, e.response

print('botocore ok')
)PY";

TEST_F(AwsJsonEndpointTest, BotocoreParsesSuccessesAndErrors) {
  const std::string python = FindOnPath("python3");
  if (python.empty()) GTEST_SKIP() << "python3 is not on PATH; install python3 and botocore";
  if (hpd::testing::RunProcess({python, "-c", "import botocore"}).exit_code != 0) {
    GTEST_SKIP() << "botocore is not importable by " << python << "; pip install botocore";
  }
  AwsJsonEndpointOptions options = DefaultOptions();
  std::mutex mu;
  std::vector<std::string> authorizations;  // Guarded by mu.
  options.authenticate = [&](const HttpRequest& request) {
    std::lock_guard lock(mu);
    authorizations.emplace_back(request.Header("authorization"));
    return Status::Ok();
  };
  StartEndpoint(std::move(options));
  const auto result = hpd::testing::RunProcess(
      {python, "-c", kBotocoreScript, "http://127.0.0.1:" + std::to_string(port())});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "botocore ok\n") << result.err;
  std::vector<std::string> actions;
  for (const auto& call : Calls()) actions.push_back(call.action);
  EXPECT_THAT(actions,
              ::testing::ElementsAre("ListStateMachines", "DescribeExecution", "ListActivities"));
  std::lock_guard lock(mu);
  ASSERT_EQ(authorizations.size(), 3u);
  for (const auto& authorization : authorizations) {
    EXPECT_THAT(authorization, ::testing::StartsWith("AWS4-HMAC-SHA256 Credential=x/"));
  }
}

}  // namespace
}  // namespace hpd::server
