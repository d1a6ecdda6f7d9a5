#include "aws/sfn_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status_matchers.h"
#include "server/aws_json_endpoint.h"
#include "server/http_server.h"
#include "server/sigv4.h"

namespace hpd::aws {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kKeyId[] = "AKIDEXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kTokenKeyId[] = "ASIATEMPORARY";
constexpr char kTokenSecret[] = "temporary/secret";
constexpr char kSessionToken[] = "session-token-value";

// A Step Functions look-alike: the AWS JSON endpoint, every request's SigV4 signature verified
// against the keys above, and answers scripted by the test (OK {} once the script runs out).
class SfnClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StatusOr<server::SigV4Verifier> verifier = server::SigV4Verifier::Create(
        {{kKeyId, kSecret, ""}, {kTokenKeyId, kTokenSecret, kSessionToken}},
        server::SigV4Options{.service = "states", .region = "eu-west-1"}, clock_);
    ASSERT_TRUE(verifier.ok()) << verifier.status();
    verifier_ = std::make_shared<server::SigV4Verifier>(std::move(*verifier));

    server::AwsJsonEndpointOptions options;
    options.error_namespace = std::string(server::kStepFunctionsErrorNamespace);
    options.authenticate = [this](const server::HttpRequest& request) -> Status {
      ++authenticated_;
      const std::string_view target = request.target;
      const size_t question = target.find('?');
      server::SignedRequest signed_request;
      signed_request.method = request.method;
      signed_request.path = target.substr(0, question);
      signed_request.query =
          question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
      signed_request.headers = request.headers;
      signed_request.body = request.body;
      return verifier_->Verify(signed_request).status();
    };
    StatusOr<std::unique_ptr<server::HttpServer>> started = server::HttpServer::Start(
        {}, server::MakeAwsJsonHandler(
                std::move(options),
                [this](std::string_view action, std::string body, server::AwsJsonReply reply) {
                  std::lock_guard lock(mu_);
                  calls_.emplace_back(std::string(action), std::move(body));
                  if (script_.empty()) {
                    reply(std::string("{}"));
                    return;
                  }
                  StatusOr<std::string> next = std::move(script_.front());
                  script_.pop_front();
                  reply(std::move(next));
                }));
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  SfnClientOptions Options() const {
    SfnClientOptions options;
    options.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
    options.region = "eu-west-1";
    options.access_key_id = kKeyId;
    options.secret_access_key = kSecret;
    options.initial_backoff = std::chrono::milliseconds(1);
    options.max_backoff = std::chrono::milliseconds(5);
    return options;
  }

  std::unique_ptr<SfnClient> Client(SfnClientOptions options) {
    StatusOr<std::unique_ptr<SfnClient>> client = SfnClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  void Script(StatusOr<std::string> answer) {
    std::lock_guard lock(mu_);
    script_.push_back(std::move(answer));
  }

  std::vector<std::pair<std::string, std::string>> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  SystemClock clock_;
  std::shared_ptr<server::SigV4Verifier> verifier_;
  std::unique_ptr<server::HttpServer> server_;
  std::atomic<int> authenticated_{0};
  std::mutex mu_;
  std::deque<StatusOr<std::string>> script_;                // guarded by mu_
  std::vector<std::pair<std::string, std::string>> calls_;  // guarded by mu_
};

TEST_F(SfnClientTest, SignsRequestsThatOurVerifierAccepts) {
  Script(std::string(R"({"stateMachines":[{"name":"a"}]})"));
  std::unique_ptr<SfnClient> client = Client(Options());
  ASSERT_NE(client, nullptr);
  boost::json::object request;
  request["maxResults"] = 10;
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", request);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(SerializeJson(*answer), R"({"stateMachines":[{"name":"a"}]})");
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, "ListStateMachines");
  EXPECT_EQ(calls[0].second, R"({"maxResults":10})");
}

TEST_F(SfnClientTest, SignsLargeBodies) {
  // Over curl's threshold for "Expect: 100-continue", which the client turns off.
  const std::string input(200 * 1024, 'x');
  std::unique_ptr<SfnClient> client = Client(Options());
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer =
      client->Call("StartExecution", {{"stateMachineArn", "arn:sm"}, {"input", input}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  const auto calls = Calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0].second, HasSubstr(input));
}

TEST_F(SfnClientTest, ReusesHandlesAcrossCallsAndThreads) {
  std::unique_ptr<SfnClient> client = Client(Options());
  ASSERT_NE(client, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (client->Call("DescribeExecution", {{"executionArn", "arn"}}).ok()) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(Calls().size(), 20u);
}

TEST_F(SfnClientTest, SendsTheSessionTokenThatTheVerifierRequires) {
  SfnClientOptions options = Options();
  options.access_key_id = kTokenKeyId;
  options.secret_access_key = kTokenSecret;
  options.session_token = kSessionToken;
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(client->Call("ListStateMachines", {}).ok());

  // Without it the verifier refuses the key, and the refusal is not retried.
  options.session_token = "";
  client = Client(options);
  ASSERT_NE(client, nullptr);
  const int before = authenticated_.load();
  StatusOr<boost::json::object> refused = client->Call("ListStateMachines", {});
  EXPECT_THAT(refused, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(refused.status().error_name(), "UnrecognizedClientException");
  EXPECT_EQ(authenticated_.load() - before, 1);
}

TEST_F(SfnClientTest, WrongSecretIsRefusedWithTheAwsError) {
  SfnClientOptions options = Options();
  options.secret_access_key = "not-the-secret";
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnauthenticated,
                               HasSubstr("The request signature we calculated does not match")));
  EXPECT_EQ(answer.status().error_name(), "InvalidSignatureException");
  EXPECT_THAT(Calls(), IsEmpty());
  EXPECT_EQ(authenticated_.load(), 1);
}

TEST_F(SfnClientTest, WrongRegionIsRefused) {
  SfnClientOptions options = Options();
  options.region = "us-east-1";
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnauthenticated, HasSubstr("valid region")));
  EXPECT_EQ(answer.status().error_name(), "InvalidSignatureException");
}

TEST_F(SfnClientTest, ErrorTypeLosesItsNamespaceAndPicksTheCode) {
  Script(Named(NotFoundError("State Machine Does Not Exist: 'arn:x'"), "StateMachineDoesNotExist"));
  Script(Named(AlreadyExistsError("Execution Already Exists: 'arn:y'"), "ExecutionAlreadyExists"));
  Script(Named(InvalidArgumentError("Invalid Arn: 'nope'"), "InvalidArn"));
  Script(Named(FailedPreconditionError("too many"), "ExecutionLimitExceeded"));
  std::unique_ptr<SfnClient> client = Client(Options());
  ASSERT_NE(client, nullptr);

  StatusOr<boost::json::object> missing = client->Call("DescribeStateMachine", {});
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound, "State Machine Does Not Exist: 'arn:x'"));
  EXPECT_EQ(missing.status().error_name(), "StateMachineDoesNotExist");
  EXPECT_THAT(missing.status().ToString(), HasSubstr("x-amzn-RequestId "));

  StatusOr<boost::json::object> exists = client->Call("StartExecution", {});
  EXPECT_THAT(exists, StatusIs(StatusCode::kAlreadyExists, HasSubstr("arn:y")));
  EXPECT_EQ(exists.status().error_name(), "ExecutionAlreadyExists");

  StatusOr<boost::json::object> invalid = client->Call("DescribeExecution", {});
  EXPECT_THAT(invalid, StatusIs(StatusCode::kInvalidArgument));
  EXPECT_EQ(invalid.status().error_name(), "InvalidArn");

  StatusOr<boost::json::object> limited = client->Call("StartExecution", {});
  EXPECT_THAT(limited, StatusIs(StatusCode::kFailedPrecondition, "too many"));
  EXPECT_EQ(limited.status().error_name(), "ExecutionLimitExceeded");
  EXPECT_EQ(Calls().size(), 4u);  // none retried
}

TEST_F(SfnClientTest, ServerErrorsAreRetriedThenSucceed) {
  Script(UnavailableError("busy"));
  Script(InternalError("oops"));
  Script(std::string(R"({"executionArn":"arn:e","startDate":1.5})"));
  SfnClientOptions options = Options();
  options.max_attempts = 3;
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("StartExecution", {{"name", "n"}});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->at("executionArn").as_string(), "arn:e");
  EXPECT_EQ(Calls().size(), 3u);
}

TEST_F(SfnClientTest, RetriesStopAtMaxAttempts) {
  for (int i = 0; i < 5; ++i) Script(UnavailableError("still busy"));
  SfnClientOptions options = Options();
  options.max_attempts = 3;
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("StartExecution", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnavailable, "still busy"));
  EXPECT_EQ(answer.status().error_name(), "ServiceUnavailableException");
  EXPECT_THAT(answer.status().ToString(), HasSubstr("after 3 attempts"));
  EXPECT_EQ(Calls().size(), 3u);
}

TEST_F(SfnClientTest, ThrottlingIsRetried) {
  Script(Named(ResourceExhaustedError("Rate exceeded"), "ThrottlingException"));
  Script(std::string(R"({"ok":true})"));
  std::unique_ptr<SfnClient> client = Client(Options());
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListExecutions", {});
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(Calls().size(), 2u);

  // Throttled every time: kUnavailable with the AWS name, so callers can tell it apart.
  SfnClientOptions options = Options();
  options.max_attempts = 2;
  client = Client(options);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 2; ++i) {
    Script(Named(ResourceExhaustedError("Rate exceeded"), "ThrottlingException"));
  }
  StatusOr<boost::json::object> throttled = client->Call("ListExecutions", {});
  EXPECT_THAT(throttled, StatusIs(StatusCode::kUnavailable, "Rate exceeded"));
  EXPECT_EQ(throttled.status().error_name(), "ThrottlingException");
  EXPECT_EQ(Calls().size(), 4u);
}

TEST_F(SfnClientTest, ClosedPortIsUnavailable) {
  SfnClientOptions options = Options();
  server_->Shutdown(std::chrono::milliseconds(0));
  server_.reset();
  options.max_attempts = 2;
  std::unique_ptr<SfnClient> client = Client(options);
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnavailable, HasSubstr("connect")));
  EXPECT_THAT(answer.status().ToString(), HasSubstr("after 2 attempts"));
}

// A plain HTTP server answering every request with one fixed response.
class FixedAnswerTest : public ::testing::Test {
 protected:
  void Serve(int status, std::string body) {
    StatusOr<std::unique_ptr<server::HttpServer>> started = server::HttpServer::Start(
        {}, [this, status, body](server::HttpRequest, server::HttpResponder respond) {
          ++requests_;
          server::HttpResponse response;
          response.status = status;
          response.headers = {{"Content-Type", "text/html"}};
          response.body = body;
          respond(std::move(response));
        });
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
  }

  std::unique_ptr<SfnClient> Client() {
    SfnClientOptions options;
    options.endpoint = "http://127.0.0.1:" + std::to_string(server_->port()) + "/";
    options.access_key_id = "a";
    options.secret_access_key = "b";
    options.initial_backoff = std::chrono::milliseconds(1);
    StatusOr<std::unique_ptr<SfnClient>> client = SfnClient::Create(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  std::atomic<int> requests_{0};
  std::unique_ptr<server::HttpServer> server_;
};

TEST_F(FixedAnswerTest, NonJsonSuccessIsAnErrorAndNotRetried) {
  Serve(200, "<html>hello</html>");
  std::unique_ptr<SfnClient> client = Client();
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnknown, HasSubstr("<html>hello</html>")));
  EXPECT_EQ(requests_.load(), 1);
}

TEST_F(FixedAnswerTest, JsonThatIsNotAnObjectIsAnError) {
  Serve(200, "[1,2]");
  std::unique_ptr<SfnClient> client = Client();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->Call("ListStateMachines", {}),
              StatusIs(StatusCode::kUnknown, HasSubstr("not a JSON object")));
}

TEST_F(FixedAnswerTest, NonJsonGatewayErrorIsRetried) {
  Serve(502, "<html>Bad Gateway</html>");
  std::unique_ptr<SfnClient> client = Client();
  ASSERT_NE(client, nullptr);
  StatusOr<boost::json::object> answer = client->Call("ListStateMachines", {});
  EXPECT_THAT(answer, StatusIs(StatusCode::kUnavailable, HasSubstr("HTTP 502")));
  EXPECT_EQ(answer.status().error_name(), "");
  EXPECT_EQ(requests_.load(), 3);  // the default max_attempts
}

TEST_F(FixedAnswerTest, NonJsonClientErrorIsNotRetried) {
  Serve(404, "not here");
  std::unique_ptr<SfnClient> client = Client();
  ASSERT_NE(client, nullptr);
  EXPECT_THAT(client->Call("ListStateMachines", {}),
              StatusIs(StatusCode::kUnknown, HasSubstr("HTTP 404")));
  EXPECT_EQ(requests_.load(), 1);
}

TEST(SfnClientCreateTest, RefusesBadEndpointsAndCredentials) {
  SfnClientOptions options;
  options.access_key_id = "a";
  options.secret_access_key = "b";
  for (const char* endpoint :
       {"", "states.us-east-1.amazonaws.com", "ftp://host/", "http://", "file:///etc/passwd"}) {
    options.endpoint = endpoint;
    EXPECT_THAT(SfnClient::Create(options), StatusIs(StatusCode::kInvalidArgument)) << endpoint;
  }
  options.endpoint = "https://states.us-east-1.amazonaws.com";
  EXPECT_TRUE(SfnClient::Create(options).ok());
  options.secret_access_key = "";
  EXPECT_THAT(SfnClient::Create(options),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("credentials")));
}

}  // namespace
}  // namespace hpd::aws
