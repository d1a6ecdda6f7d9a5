#include "engine/corpus_functions.h"

#include <string>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "common/rfc3339.h"
#include "common/status_matchers.h"
#include "support/corpus.h"
#include "support/kept_text.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

using ::hpd::testing::Json;

std::string RequestIdOf(const std::string& cause) {
  auto doc = ParseJson(cause);
  return doc.ok() && doc->is_object() ? std::string(doc->at("requestId").as_string()) : "";
}

class CorpusFunctionsTest : public ::testing::Test {
 protected:
  CorpusFunctionsTest()
      : clock_(*ParseRfc3339("2026-11-27T06:51:16Z")),
        functions_(LambdaEnvironment{"aws", "us-east-1", "111111111111"}, clock_),
        ids_(11) {}

  static asl::TaskInvocation FunctionTask(std::string name, json::value input) {
    asl::TaskInvocation task;
    task.kind = asl::TaskKind::kLambdaFunction;
    task.resource =
        hpd::testing::KeptText("arn:<partition>:lambda:<region>:111111111111:function:" + name);
    task.parameters = std::move(input);
    return task;
  }

  static asl::TaskInvocation InvokeTask(std::string name) {
    asl::TaskInvocation task;
    task.kind = asl::TaskKind::kService;
    task.resource = "arn:aws:states:::lambda:invoke";
    task.service = "lambda";
    task.action = "invoke";
    task.parameters = json::object{{"FunctionName", name}, {"Payload", nullptr}};
    return task;
  }

  SimulatedClock clock_;
  LocalFunctions functions_;
  SeededRandom ids_;
};

TEST(CorpusBehaviourTest, KnowsEveryHandlerFileOfTheCorpusReadme) {
  EXPECT_EQ(CorpusBehaviourForHandlerFile(
                "tests/aws/services/stepfunctions/templates/services/lambdafunctions/id_function.py"),
            CorpusBehaviour::kIdentity);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("raise_exception.py"), CorpusBehaviour::kRaiseException);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("x/raise_custom_exception.py"),
            CorpusBehaviour::kRaiseCustomException);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("x/large_output_string.py"),
            CorpusBehaviour::kLargeOutput);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("x/wait_60_seconds.py"), CorpusBehaviour::kWait60Seconds);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("x/return_bytes_str.py"),
            CorpusBehaviour::kReturnBytesString);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("lambda_functions/base/echo_function.py"),
            CorpusBehaviour::kEcho);
  EXPECT_EQ(CorpusBehaviourForHandlerFile("x/unknown.py"), std::nullopt);
}

TEST_F(CorpusFunctionsTest, RaiseExceptionCauseIsWhatAwsRecordedForAFunctionArn) {
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "<lambda_function_name>",
                                     CorpusBehaviour::kRaiseException)
                  .ok());
  auto outcome = functions_.Invoke(FunctionTask("<lambda_function_name>", json::object()), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Exception");
  // lambda/test_task_lambda.test_raise_exception_catch.json, with <uuid:1> bound.
  EXPECT_EQ(outcome.cause,
            R"({"errorMessage": "Some exception was raised.", "errorType": "Exception", )"
            R"("requestId": ")" +
                RequestIdOf(outcome.cause) +
                R"(", "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n)"
                R"(    raise Exception(\"Some exception was raised.\")\n"]})");
}

TEST_F(CorpusFunctionsTest, RaiseExceptionCauseIsCompactForLambdaInvoke) {
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "fn", CorpusBehaviour::kRaiseException).ok());
  auto outcome = functions_.Invoke(InvokeTask("fn"), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "Exception");
  // lambda/test_task_service_lambda.test_raise_exception_catch.json.
  EXPECT_EQ(outcome.cause,
            R"({"errorMessage":"Some exception was raised.","errorType":"Exception",)"
            R"("requestId":")" +
                RequestIdOf(outcome.cause) +
                R"(","stackTrace":["  File \"/var/task/handler.py\", line 2, in handler\n)"
                R"(    raise Exception(\"Some exception was raised.\")\n"]})");
}

TEST_F(CorpusFunctionsTest, CustomExceptionHasAnEmptyMessage) {
  ASSERT_TRUE(
      RegisterCorpusFunction(functions_, "custom", CorpusBehaviour::kRaiseCustomException).ok());
  auto outcome = functions_.Invoke(FunctionTask("custom", json::object()), ids_);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "CustomException");
  EXPECT_EQ(outcome.cause,
            R"({"errorMessage": "", "errorType": "CustomException", "requestId": ")" +
                RequestIdOf(outcome.cause) +
                R"(", "stackTrace": ["  File \"/var/task/handler.py\", line 9, in handler\n)"
                R"(    raise CustomException()\n"]})");
}

TEST_F(CorpusFunctionsTest, ReturningBehaviours) {
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "id", CorpusBehaviour::kIdentity).ok());
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "big", CorpusBehaviour::kLargeOutput).ok());
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "bytes", CorpusBehaviour::kReturnBytesString).ok());
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "echo", CorpusBehaviour::kEcho).ok());
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "slow", CorpusBehaviour::kWait60Seconds).ok());

  EXPECT_EQ(functions_.Invoke(FunctionTask("id", Json(R"({"k":[1,2]})")), ids_).output,
            Json(R"({"k":[1,2]})"));
  const auto big = functions_.Invoke(FunctionTask("big", json::object()), ids_);
  ASSERT_TRUE(big.succeeded);
  EXPECT_EQ(big.output.as_string().size(), 257u * 1024u);
  // Over the 256 KiB limit as serialised JSON: the interpreter's business, not the registry's.
  EXPECT_GT(SerializeJson(big.output).size(), 262144u);
  EXPECT_EQ(functions_.Invoke(FunctionTask("bytes", json::object()), ids_).output, "HelloWorld!");
  EXPECT_EQ(functions_.Invoke(FunctionTask("echo", json::object()), ids_).output,
            Json(R"({"Return":"HelloWorld"})"));

  // The slow function never sleeps: it reports its simulated run time and returns its event.
  EXPECT_EQ(functions_.RunTime(FunctionTask("slow", json::object())), std::chrono::seconds(60));
  EXPECT_EQ(functions_.RunTime(FunctionTask("id", json::object())), Duration::zero());
  EXPECT_EQ(functions_.Invoke(FunctionTask("slow", Json(R"({"Payload":null})")), ids_).output,
            Json(R"({"Payload":null})"));
}

TEST_F(CorpusFunctionsTest, BytesPayloadThroughLambdaInvokeHasItsContentLength) {
  ASSERT_TRUE(RegisterCorpusFunction(functions_, "bytes", CorpusBehaviour::kReturnBytesString).ok());
  auto outcome = functions_.Invoke(InvokeTask("bytes"), ids_);
  ASSERT_TRUE(outcome.succeeded);
  EXPECT_EQ(outcome.output.at("Payload"), "HelloWorld!");
  // lambda/test_lambda_task_service.test_invoke_bytes_payload.json: "\"HelloWorld!\"" is 13 bytes.
  EXPECT_EQ(outcome.output.at("SdkHttpMetadata").at("HttpHeaders").at("Content-Length"), "13");
}

TEST_F(CorpusFunctionsTest, RegisterCaseFunctionsUsesThePlaceholders) {
  auto entries = Json(R"([
    {"function_name": "lambda_func_uid0001", "placeholder": "<lambda_function_name>",
     "handler_file": "tests/x/raise_exception.py"},
    {"function_name": "lambda_func_uid0001", "placeholder": "<lambda_function_name>",
     "handler_file": "tests/x/raise_exception.py"},
    {"function_name": "lambda_1_func_uid0001", "placeholder": "lambda_function_1_name",
     "handler_file": "tests/x/id_function.py"}])");
  ASSERT_TRUE(RegisterCaseFunctions(functions_, entries).ok());
  EXPECT_TRUE(functions_.Contains("<lambda_function_name>"));
  EXPECT_TRUE(functions_.Contains("lambda_function_1_name"));
  EXPECT_FALSE(functions_.Contains("lambda_func_uid0001"));
  EXPECT_TRUE(RegisterCaseFunctions(functions_, nullptr).ok());
  EXPECT_THAT(RegisterCaseFunctions(functions_, entries),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("already registered")));
}

TEST_F(CorpusFunctionsTest, RegisterCaseFunctionsRejectsBadEntries) {
  EXPECT_THAT(RegisterCaseFunctions(functions_, Json(R"({"a":1})")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not an array")));
  EXPECT_THAT(RegisterCaseFunctions(functions_, Json(R"([{"placeholder":"p"}])")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("handler_file")));
  EXPECT_THAT(
      RegisterCaseFunctions(functions_, Json(R"([{"placeholder":"p","handler_file":"x/what.py"}])")),
      StatusIs(StatusCode::kInvalidArgument, HasSubstr("x/what.py")));
  EXPECT_THAT(RegisterCaseFunctions(functions_, Json(R"([
                  {"placeholder":"p","handler_file":"id_function.py"},
                  {"placeholder":"p","handler_file":"raise_exception.py"}])")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("bound to both")));
  EXPECT_FALSE(functions_.Contains("p"));
}

TEST(CorpusFunctionsCorpusTest, EveryLambdaCaseCanRegisterItsFunctions) {
  HPD_SKIP_WITHOUT_CORPUS(hpd::testing::ConformanceCasesDir());
  SimulatedClock clock(WallTime{});
  size_t cases = 0;
  for (const auto& file : hpd::testing::ConformanceCaseFiles()) {
    auto doc = hpd::testing::LoadJsonFile(file);
    ASSERT_TRUE(doc.ok()) << doc.status();
    const json::value* entries = doc->as_object().if_contains("lambda_functions");
    if (entries == nullptr) continue;
    LocalFunctions functions(LambdaEnvironment{}, clock);
    EXPECT_TRUE(RegisterCaseFunctions(functions, *entries).ok()) << file;
    ++cases;
  }
  EXPECT_GT(cases, 60u);
}

}  // namespace
}  // namespace hpd::engine
