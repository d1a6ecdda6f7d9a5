#include "engine/local_functions.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/rfc3339.h"
#include "common/status_matchers.h"
#include "common/uuid.h"
#include "engine/python_json.h"
#include "support/corpus.h"
#include "support/kept_text.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using ::hpd::testing::Json;

std::vector<std::string> Keys(const json::value& object) {
  std::vector<std::string> keys;
  for (const auto& member : object.as_object()) keys.emplace_back(member.key());
  return keys;
}

class LocalFunctionsTest : public ::testing::Test {
 protected:
  LocalFunctionsTest()
      : clock_(*ParseRfc3339("2026-11-27T06:51:16Z")),
        functions_(LambdaEnvironment{"aws", "eu-west-1", "123456789012"}, clock_),
        ids_(7) {
    EXPECT_TRUE(functions_
                    .Register("echo",
                              [](const json::value& event, const LambdaContext&)
                                  -> StatusOr<json::value> { return event; })
                    .ok());
    FunctionOptions raising;
    raising.stack_trace = {"  at handler\n"};
    EXPECT_TRUE(functions_
                    .Register(
                        "fails",
                        [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
                          Status status = UnknownError("it \"broke\"");
                          status.SetErrorName("BrokenError");
                          return status;
                        },
                        raising)
                    .ok());
  }

  static asl::TaskInvocation FunctionTask(std::string resource, json::value input) {
    asl::TaskInvocation task;
    task.kind = asl::TaskKind::kLambdaFunction;
    task.resource = hpd::testing::KeptText(std::move(resource));
    task.parameters = std::move(input);
    return task;
  }

  static asl::TaskInvocation InvokeTask(json::value parameters) {
    asl::TaskInvocation task;
    task.kind = asl::TaskKind::kService;
    task.resource = "arn:aws:states:::lambda:invoke";
    task.service = "lambda";
    task.action = "invoke";
    task.parameters = std::move(parameters);
    return task;
  }

  SimulatedClock clock_;
  LocalFunctions functions_;
  SeededRandom ids_;
};

TEST(ParseFunctionReferenceTest, AcceptsEveryFunctionNameForm) {
  const LambdaEnvironment env{"aws", "us-east-1", "111111111111"};
  auto name = ParseFunctionReference("my-fn", env);
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(name->UnqualifiedArn(), "arn:aws:lambda:us-east-1:111111111111:function:my-fn");
  EXPECT_EQ(name->QualifiedArn(), "arn:aws:lambda:us-east-1:111111111111:function:my-fn:$LATEST");

  auto qualified = ParseFunctionReference("my-fn:prod", env);
  ASSERT_TRUE(qualified.ok());
  EXPECT_EQ(qualified->name, "my-fn");
  EXPECT_EQ(qualified->qualifier, "prod");

  auto partial = ParseFunctionReference("222222222222:function:my-fn:3", env);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->QualifiedArn(), "arn:aws:lambda:us-east-1:222222222222:function:my-fn:3");

  auto arn = ParseFunctionReference("arn:aws-cn:lambda:cn-north-1:333333333333:function:f", env);
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->UnqualifiedArn(), "arn:aws-cn:lambda:cn-north-1:333333333333:function:f");
  EXPECT_EQ(arn->qualifier, "");

  // The corpus's definitions keep the snapshot's placeholders inside the ARN.
  auto placeholder = ParseFunctionReference(
      "arn:<partition>:lambda:<region>:111111111111:function:<lambda_function_name>", env);
  ASSERT_TRUE(placeholder.ok());
  EXPECT_EQ(placeholder->name, "<lambda_function_name>");
}

TEST(ParseFunctionReferenceTest, RejectsMalformedReferences) {
  const LambdaEnvironment env;
  EXPECT_THAT(ParseFunctionReference("", env),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("malformed")));
  EXPECT_THAT(ParseFunctionReference("arn:aws:s3:::bucket:key:x:y", env),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("arn:aws:s3")));
  EXPECT_THAT(ParseFunctionReference("a:b:c", env), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseFunctionReference("arn:aws:lambda:r:a:function:", env),
              StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(LocalFunctionsTest, RegisterRejectsDuplicatesAndEmptyHandlers) {
  EXPECT_THAT(functions_.Register("echo", [](const json::value& e, const LambdaContext&)
                                              -> StatusOr<json::value> { return e; }),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("echo")));
  EXPECT_THAT(functions_.Register("", [](const json::value& e, const LambdaContext&)
                                          -> StatusOr<json::value> { return e; }),
              StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(functions_.Register("none", nullptr),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no handler")));
  EXPECT_TRUE(functions_.Contains("echo"));
  EXPECT_FALSE(functions_.Contains("none"));
}

TEST_F(LocalFunctionsTest, FunctionArnReturnsTheResultItself) {
  auto outcome = functions_.Invoke(
      FunctionTask("arn:aws:lambda:eu-west-1:123456789012:function:echo", Json(R"({"a":[1]})")),
      ids_);
  EXPECT_TRUE(outcome.succeeded);
  EXPECT_EQ(outcome.output, Json(R"({"a":[1]})"));
  EXPECT_EQ(outcome.error, "");
}

TEST_F(LocalFunctionsTest, FunctionArnFailureHasTheRuntimeErrorJsonWithSpaces) {
  auto outcome = functions_.Invoke(
      FunctionTask("arn:aws:lambda:eu-west-1:123456789012:function:fails", json::object()), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "BrokenError");
  auto cause = Json(outcome.cause);
  ASSERT_TRUE(cause.is_object());
  EXPECT_THAT(Keys(cause), ElementsAre("errorMessage", "errorType", "requestId", "stackTrace"));
  const std::string request_id(cause.at("requestId").as_string());
  EXPECT_TRUE(IsUuid(request_id));
  EXPECT_EQ(outcome.cause, R"({"errorMessage": "it \"broke\"", "errorType": "BrokenError", )"
                           R"("requestId": ")" +
                               request_id + R"(", "stackTrace": ["  at handler\n"]})");
}

TEST_F(LocalFunctionsTest, ThrowingHandlerRaisesException) {
  ASSERT_TRUE(functions_
                  .Register("throws",
                            [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
                              throw std::runtime_error("boom");
                            })
                  .ok());
  auto outcome = functions_.Invoke(FunctionTask("throws", json::object()), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Exception");
  EXPECT_THAT(outcome.cause, StartsWith(R"({"errorMessage": "boom", "errorType": "Exception")"));
}

TEST_F(LocalFunctionsTest, HandlerSeesContextAndCancellation) {
  // The context's views last only for the call: copy them out.
  std::string request_id;
  std::string function_name;
  std::string invoked_function_arn;
  bool was_cancelled = false;
  ASSERT_TRUE(functions_
                  .Register("ctx",
                            [&](const json::value&, const LambdaContext& context)
                                -> StatusOr<json::value> {
                              request_id = context.request_id;
                              function_name = context.function_name;
                              invoked_function_arn = context.invoked_function_arn;
                              was_cancelled = context.IsCancelled();
                              return json::value(nullptr);
                            })
                  .ok());
  std::atomic<bool> cancelled{true};
  auto outcome = functions_.Invoke(FunctionTask("ctx", json::object()), ids_, &cancelled);
  EXPECT_TRUE(outcome.succeeded);
  EXPECT_TRUE(was_cancelled);
  EXPECT_EQ(function_name, "ctx");
  EXPECT_EQ(invoked_function_arn, "arn:aws:lambda:eu-west-1:123456789012:function:ctx");
  EXPECT_TRUE(IsUuid(request_id));

  // The same through lambda:invoke with a full ARN, and the request id is the one recorded.
  auto invoked = functions_.Invoke(
      InvokeTask(Json(R"({"FunctionName":"arn:aws:lambda:us-west-2:123456789012:function:ctx"})")),
      ids_);
  ASSERT_TRUE(invoked.succeeded) << invoked.cause;
  EXPECT_EQ(function_name, "ctx");
  EXPECT_EQ(invoked_function_arn, "arn:aws:lambda:us-west-2:123456789012:function:ctx");
  EXPECT_EQ(invoked.output.at("SdkResponseMetadata").at("RequestId").as_string(), request_id);
}

TEST_F(LocalFunctionsTest, RequestIdsAreTheUuidsDrawnFromIds) {
  std::string request_id;
  ASSERT_TRUE(functions_
                  .Register("id",
                            [&](const json::value&, const LambdaContext& context)
                                -> StatusOr<json::value> {
                              request_id = context.request_id;
                              return json::value(nullptr);
                            })
                  .ok());
  SeededRandom expected(7);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(functions_.Invoke(FunctionTask("id", json::object()), ids_).succeeded);
    EXPECT_EQ(request_id, NewUuidV4(expected));
  }
}

// The cause as it was built before it was written directly: a json::object dumped by
// PythonJsonDumps (kLambdaFunction) or SerializeJson (lambda:invoke).
json::object ErrorDocument(std::string_view error_type, std::string_view error_message,
                           std::string_view request_id, const std::vector<std::string>& stack) {
  json::object doc;
  doc["errorMessage"] = error_message;
  doc["errorType"] = error_type;
  doc["requestId"] = request_id;
  json::array trace;
  for (const auto& line : stack) trace.emplace_back(line);
  doc["stackTrace"] = std::move(trace);
  return doc;
}

TEST_F(LocalFunctionsTest, ErrorJsonIsByteForByteTheDumpedDocument) {
  const std::vector<std::string> messages = {
      "",
      "plain",
      "it \"broke\" at C:\\path/x\n\ttab\r\b\f",
      std::string("nul \0 del \x7f", 11),
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 bad \xff\xc3 end",
      std::string(300, 'm') + "\x01\x1f",
  };
  const std::vector<std::vector<std::string>> stacks = {
      {}, {"  at handler\n"}, {"  File \"/var/task/handler.py\", line 2\n", "caf\xc3\xa9 \x02", ""}};
  int index = 0;
  for (const std::string& message : messages) {
    for (const auto& stack : stacks) {
      const std::string name = "raises" + std::to_string(index++);
      const std::string type = message.empty() ? "" : "Err\"" + message.substr(0, 20);
      FunctionOptions options;
      options.stack_trace = stack;
      ASSERT_TRUE(functions_
                      .Register(
                          name,
                          [&](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
                            Status status = UnknownError(message);
                            status.SetErrorName(type);
                            return status;
                          },
                          options)
                      .ok());
      const std::string expected_type = type.empty() ? "Exception" : type;

      auto by_arn = functions_.Invoke(FunctionTask(name, json::object()), ids_);
      ASSERT_FALSE(by_arn.succeeded);
      EXPECT_EQ(by_arn.error, expected_type);
      auto request_id = ParseJson(by_arn.cause);
      ASSERT_TRUE(request_id.ok()) << by_arn.cause;
      EXPECT_EQ(by_arn.cause,
                PythonJsonDumps(ErrorDocument(expected_type, message,
                                              request_id->at("requestId").as_string(), stack)));

      auto invoked = functions_.Invoke(InvokeTask(json::object{{"FunctionName", name}}), ids_);
      ASSERT_FALSE(invoked.succeeded);
      EXPECT_EQ(invoked.error, expected_type);
      auto invoked_id = ParseJson(invoked.cause);
      ASSERT_TRUE(invoked_id.ok()) << invoked.cause;
      EXPECT_EQ(invoked.cause,
                SerializeJson(ErrorDocument(expected_type, message,
                                            invoked_id->at("requestId").as_string(), stack)));
    }
  }
}

TEST_F(LocalFunctionsTest, ThrownMessagesOfAnyLengthReachTheCause) {
  for (const std::string& what : {std::string("short"), std::string(100, 'w')}) {
    const std::string name = "throws" + std::to_string(what.size());
    ASSERT_TRUE(functions_
                    .Register(name,
                              [what](const json::value&,
                                     const LambdaContext&) -> StatusOr<json::value> {
                                throw std::runtime_error(what);
                              })
                    .ok());
    auto outcome = functions_.Invoke(FunctionTask(name, json::object()), ids_);
    ASSERT_FALSE(outcome.succeeded);
    EXPECT_EQ(outcome.error, "Exception");
    EXPECT_THAT(outcome.cause, StartsWith(R"({"errorMessage": ")" + what +
                                          R"(", "errorType": "Exception", "requestId": ")"));
  }
}

TEST_F(LocalFunctionsTest, RegisterMakesAFunctionThatWasNotFoundCallable) {
  // Both lookups remember the name; registering the function must not leave them stale.
  const std::string arn = "arn:aws:lambda:eu-west-1:123456789012:function:late";
  EXPECT_EQ(functions_.RunTime(FunctionTask(arn, json::object())), Duration::zero());
  auto before = functions_.Invoke(FunctionTask(arn, json::object()), ids_);
  ASSERT_FALSE(before.succeeded);
  EXPECT_EQ(before.error, "Lambda.ResourceNotFoundException");

  FunctionOptions slow;
  slow.run_time = std::chrono::seconds(5);
  ASSERT_TRUE(functions_
                  .Register("late",
                            [](const json::value& e, const LambdaContext&)
                                -> StatusOr<json::value> { return e; },
                            slow)
                  .ok());
  EXPECT_EQ(functions_.RunTime(FunctionTask(arn, json::object())), std::chrono::seconds(5));
  auto after = functions_.Invoke(FunctionTask(arn, Json(R"({"k":2})")), ids_);
  ASSERT_TRUE(after.succeeded) << after.cause;
  EXPECT_EQ(after.output, Json(R"({"k":2})"));
}

TEST_F(LocalFunctionsTest, RepeatedCallsGiveTheSameOutcomes) {
  // The second and later calls find the name already resolved.
  for (int i = 0; i < 3; ++i) {
    auto ok = functions_.Invoke(FunctionTask("echo", Json(R"({"i":1})")), ids_);
    EXPECT_TRUE(ok.succeeded);
    EXPECT_EQ(ok.output, Json(R"({"i":1})"));

    auto malformed = functions_.Invoke(FunctionTask("a:b:c", json::object()), ids_);
    ASSERT_FALSE(malformed.succeeded);
    EXPECT_EQ(malformed.error, "States.Runtime");
    EXPECT_EQ(malformed.cause, "malformed Lambda function reference \"a:b:c\"");

    auto invalid = functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"a:b:c"})")), ids_);
    ASSERT_FALSE(invalid.succeeded);
    EXPECT_EQ(invalid.error, "Lambda.InvalidParameterValueException");
    EXPECT_EQ(invalid.cause, "malformed Lambda function reference \"a:b:c\"");

    // A Qualifier parameter applies to this call only, not to the remembered name.
    auto alias = functions_.Invoke(
        InvokeTask(Json(R"({"FunctionName":"echo","Qualifier":"prod"})")), ids_);
    ASSERT_FALSE(alias.succeeded);
    EXPECT_THAT(alias.cause,
                StartsWith("Function not found: "
                           "arn:aws:lambda:eu-west-1:123456789012:function:echo:prod (Service"));
    auto plain = functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"echo"})")), ids_);
    EXPECT_TRUE(plain.succeeded) << plain.cause;
    auto latest = functions_.Invoke(
        InvokeTask(Json(R"({"FunctionName":"echo","Qualifier":"$LATEST"})")), ids_);
    EXPECT_TRUE(latest.succeeded) << latest.cause;
  }
}

TEST_F(LocalFunctionsTest, UnmarshalErrorCauseIsExact) {
  auto outcome =
      functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"echo","Payload":"nope"})")), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Runtime.UnmarshalError");
  auto cause = ParseJson(outcome.cause);
  ASSERT_TRUE(cause.ok()) << outcome.cause;
  const json::object& doc = cause->as_object();
  EXPECT_EQ(outcome.cause,
            SerializeJson(ErrorDocument("Runtime.UnmarshalError",
                                        doc.at("errorMessage").as_string(),
                                        doc.at("requestId").as_string(), {})));
}

TEST_F(LocalFunctionsTest, LambdaInvokeReturnsTheInvokeEnvelope) {
  auto outcome = functions_.Invoke(
      InvokeTask(Json(R"({"FunctionName":"echo",)"
                      R"("Payload":{"input_value":"string literal","input_values":[1,2,3]}})")),
      ids_);
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  const json::value& out = outcome.output;
  EXPECT_THAT(Keys(out), ElementsAre("ExecutedVersion", "Payload", "SdkHttpMetadata",
                                     "SdkResponseMetadata", "StatusCode"));
  EXPECT_EQ(out.at("ExecutedVersion"), "$LATEST");
  EXPECT_EQ(out.at("Payload"), Json(R"({"input_value":"string literal","input_values":[1,2,3]})"));
  EXPECT_EQ(out.at("StatusCode"), 200);
  const json::value& http = out.at("SdkHttpMetadata");
  EXPECT_EQ(http.at("HttpStatusCode"), 200);
  EXPECT_THAT(Keys(http.at("AllHttpHeaders")),
              ElementsAre("X-Amz-Executed-Version", "x-amzn-Remapped-Content-Length",
                          "Connection", "x-amzn-RequestId", "Content-Length", "Date",
                          "X-Amzn-Trace-Id", "Content-Type"));
  EXPECT_THAT(Keys(http.at("HttpHeaders")),
              ElementsAre("Connection", "Content-Length", "Content-Type", "Date",
                          "X-Amz-Executed-Version", "x-amzn-Remapped-Content-Length",
                          "x-amzn-RequestId", "X-Amzn-Trace-Id"));
  // The Python runtime's body: {"input_value": "string literal", "input_values": [1, 2, 3]}.
  EXPECT_EQ(http.at("HttpHeaders").at("Content-Length"), "60");
  EXPECT_EQ(http.at("AllHttpHeaders").at("Content-Length"), json::array{"60"});
  EXPECT_EQ(http.at("HttpHeaders").at("Date"), "Fri, 27 Nov 2026 06:51:16 GMT");
  EXPECT_THAT(std::string(http.at("HttpHeaders").at("X-Amzn-Trace-Id").as_string()),
              StartsWith("Root=1-"));
  const json::value& request_id = out.at("SdkResponseMetadata").at("RequestId");
  EXPECT_TRUE(IsUuid(request_id.as_string()));
  EXPECT_EQ(http.at("HttpHeaders").at("x-amzn-RequestId"), request_id);
}

TEST_F(LocalFunctionsTest, LambdaInvokePayloadReachesTheFunctionAsLambdaDeliversIt) {
  const auto payload_of = [&](std::string_view parameters) {
    auto outcome = functions_.Invoke(InvokeTask(Json(parameters)), ids_);
    EXPECT_TRUE(outcome.succeeded) << outcome.cause;
    return outcome.succeeded ? outcome.output.at("Payload") : json::value();
  };
  // No body arrives as {}.
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo","Payload":null})"), json::object());
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo"})"), json::object());
  // A string Payload is the raw body: its text is decoded by the runtime.
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo","Payload":"0"})"), 0);
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo","Payload":"\"HelloWorld\""})"), "HelloWorld");
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo","Payload":"[]"})"), json::array());
  EXPECT_EQ(payload_of(R"({"FunctionName":"echo","Payload":true})"), true);
}

TEST_F(LocalFunctionsTest, LambdaInvokeUndecodableStringPayloadIsAnUnmarshalError) {
  auto outcome =
      functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"echo","Payload":"HelloWorld"})")), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Runtime.UnmarshalError");
  EXPECT_THAT(outcome.cause, StartsWith(R"({"errorMessage":"Unable to unmarshal input: )"));
}

TEST_F(LocalFunctionsTest, LambdaInvokeFailureHasTheCompactErrorJson) {
  auto outcome = functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"fails"})")), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "BrokenError");
  auto cause = Json(outcome.cause);
  const std::string request_id(cause.at("requestId").as_string());
  EXPECT_EQ(outcome.cause, R"({"errorMessage":"it \"broke\"","errorType":"BrokenError",)"
                           R"("requestId":")" +
                               request_id + R"(","stackTrace":["  at handler\n"]})");
}

TEST_F(LocalFunctionsTest, LambdaInvokeByArnAndQualifier) {
  auto by_arn = functions_.Invoke(
      InvokeTask(Json(R"({"FunctionName":"arn:aws:lambda:eu-west-1:123456789012:function:echo",)"
                      R"("Payload":{"x":1}})")),
      ids_);
  EXPECT_TRUE(by_arn.succeeded) << by_arn.cause;
  auto latest = functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"echo:$LATEST"})")), ids_);
  EXPECT_TRUE(latest.succeeded) << latest.cause;
  auto alias = functions_.Invoke(
      InvokeTask(Json(R"({"FunctionName":"echo","Qualifier":"prod"})")), ids_);
  ASSERT_FALSE(alias.succeeded);
  EXPECT_EQ(alias.error, "Lambda.ResourceNotFoundException");
  EXPECT_THAT(alias.cause, HasSubstr(":function:echo:prod (Service: AWSLambda;"));
}

TEST_F(LocalFunctionsTest, UnknownFunctionIsResourceNotFoundWithTheSdkMessage) {
  auto outcome =
      functions_.Invoke(InvokeTask(Json(R"({"FunctionName":"no_such_fn","Payload":null})")), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Lambda.ResourceNotFoundException");
  const std::string prefix =
      "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:no_such_fn:$LATEST "
      "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: ";
  ASSERT_THAT(outcome.cause, StartsWith(prefix));
  const std::string rest = outcome.cause.substr(prefix.size());
  ASSERT_EQ(rest.size(), 36u + std::string("; Proxy: null)").size()) << rest;
  EXPECT_TRUE(IsUuid(rest.substr(0, 36)));
  EXPECT_EQ(rest.substr(36), "; Proxy: null)");

  auto by_resource = functions_.Invoke(
      FunctionTask("arn:aws:lambda:us-west-2:999999999999:function:gone", json::object()), ids_);
  ASSERT_FALSE(by_resource.succeeded);
  EXPECT_EQ(by_resource.error, "Lambda.ResourceNotFoundException");
  EXPECT_THAT(by_resource.cause,
              StartsWith("Function not found: "
                         "arn:aws:lambda:us-west-2:999999999999:function:gone:$LATEST (Service"));
}

TEST_F(LocalFunctionsTest, LambdaInvokeWithoutFunctionNameFailsValidation) {
  auto outcome = functions_.Invoke(InvokeTask(Json(R"({"Payload":{}})")), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Lambda.ValidationException");
  EXPECT_THAT(outcome.cause, HasSubstr("Value null at 'functionName'"));
}

TEST_F(LocalFunctionsTest, LogTypeTailAddsLogResult) {
  auto outcome = functions_.Invoke(
      InvokeTask(Json(R"({"FunctionName":"echo","Payload":null,"LogType":"Tail"})")), ids_);
  ASSERT_TRUE(outcome.succeeded);
  EXPECT_THAT(Keys(outcome.output), ElementsAre("ExecutedVersion", "LogResult", "Payload",
                                                "SdkHttpMetadata", "SdkResponseMetadata",
                                                "StatusCode"));
  const json::value& log = outcome.output.at("LogResult");
  EXPECT_THAT(std::string(log.as_string()), StartsWith("U1RBUlQgUmVxdWVzdElkOi"));  // "START RequestId:"
  EXPECT_EQ(Keys(outcome.output.at("SdkHttpMetadata").at("AllHttpHeaders")).front(),
            "X-Amz-Log-Result");
  EXPECT_EQ(outcome.output.at("SdkHttpMetadata").at("HttpHeaders").at("X-Amz-Log-Result"), log);
}

TEST_F(LocalFunctionsTest, RunTimeComesFromTheNamedFunction) {
  FunctionOptions slow;
  slow.run_time = std::chrono::seconds(60);
  ASSERT_TRUE(functions_
                  .Register("slow",
                            [](const json::value& e, const LambdaContext&)
                                -> StatusOr<json::value> { return e; },
                            slow)
                  .ok());
  EXPECT_EQ(functions_.RunTime(FunctionTask("arn:aws:lambda:eu-west-1:123456789012:function:slow",
                                            json::object())),
            std::chrono::seconds(60));
  EXPECT_EQ(functions_.RunTime(InvokeTask(Json(R"({"FunctionName":"slow"})"))),
            std::chrono::seconds(60));
  EXPECT_EQ(functions_.RunTime(InvokeTask(Json(R"({"FunctionName":"echo"})"))), Duration::zero());
  EXPECT_EQ(functions_.RunTime(InvokeTask(Json(R"({"FunctionName":"unknown"})"))),
            Duration::zero());
}

TEST_F(LocalFunctionsTest, OtherResourcesAreNotLambdaTasks) {
  asl::TaskInvocation task;
  task.kind = asl::TaskKind::kService;
  task.resource = "arn:aws:states:::ecs:runTask.sync";
  task.service = "ecs";
  task.action = "runTask.sync";
  EXPECT_FALSE(IsLambdaTask(task));
  auto outcome = functions_.Invoke(task, ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "States.Runtime");
  EXPECT_THAT(outcome.cause, HasSubstr("ecs:runTask.sync"));
}

}  // namespace
}  // namespace hpd::engine
