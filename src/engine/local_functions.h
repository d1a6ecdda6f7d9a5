// Lambda functions served in-process: a registry that binds function names to C++ handlers, and
// the Step Functions side of invoking them, shaped exactly as Step Functions records it.
//
// Two task shapes reach a Lambda function (see asl::TaskKind):
//  - Resource "arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]" (kLambdaFunction): the
//    event is the task's effective input; the outcome's output is the function's result; a
//    failing function gives error = errorType and cause = the Lambda error JSON as the (Python)
//    runtime wrote it: {"errorMessage": "...", "errorType": "...", "requestId": "...",
//    "stackTrace": [...]} with ", " / ": " separators.
//  - Resource "arn:aws:states:::lambda:invoke" (kService, service "lambda", action "invoke"):
//    the function comes from Parameters.FunctionName (a name, "NAME:QUALIFIER", a partial ARN
//    "ACCOUNT:function:NAME" or a full ARN) and the event from Parameters.Payload; the output is
//    the Invoke response envelope {ExecutedVersion, [LogResult,] Payload, SdkHttpMetadata,
//    SdkResponseMetadata, StatusCode}; a failing function gives error = errorType and cause = the
//    same error JSON re-serialised compactly ({"errorMessage":"...","errorType":...}).
// An unknown function (or a qualifier other than $LATEST, the only version local functions
// have) fails with error "Lambda.ResourceNotFoundException" and the AWS SDK's message as cause:
//   Function not found: arn:aws:lambda:R:A:function:NAME:$LATEST (Service: AWSLambda; Status
//   Code: 404; Error Code: ResourceNotFoundException; Request ID: <uuid>; Proxy: null)
//
// Payload size limits are not enforced here: a result over 256 KiB is returned as is and the
// interpreter raises States.DataLimitExceeded.
#ifndef HPD_ENGINE_LOCAL_FUNCTIONS_H_
#define HPD_ENGINE_LOCAL_FUNCTIONS_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "asl/interpreter.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"

namespace hpd::engine {

// What a handler learns about its invocation (Lambda's context object).
struct LambdaContext {
  std::string request_id;            // a UUID; also the error JSON's requestId
  std::string function_name;
  std::string invoked_function_arn;  // unqualified function ARN
  // Set when Step Functions no longer wants the result (task timeout, execution stopped).
  // Long-running handlers should poll it. May be null (never cancelled).
  const std::atomic<bool>* cancelled = nullptr;

  bool IsCancelled() const { return cancelled != nullptr && cancelled->load(); }
};

// A function body. To "raise", return a non-OK Status: its error_name() becomes errorType
// ("Exception" when empty) and its message() errorMessage. A handler that throws is treated as
// raising errorType "Exception" with the exception's what() as errorMessage.
using LambdaHandler = std::function<StatusOr<boost::json::value>(const boost::json::value& event,
                                                                  const LambdaContext& context)>;

struct FunctionOptions {
  // The error JSON's stackTrace whenever the handler raises (a C++ handler has none; the corpus
  // functions report the Python traceback lines AWS recorded).
  std::vector<std::string> stack_trace;
  // How long one invocation takes in simulated time (see LocalFunctions::RunTime). Zero means
  // "returns at once".
  Duration run_time{};
};

// Where the functions live: fills the ARN parts a FunctionName leaves out.
struct LambdaEnvironment {
  std::string partition = "aws";
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
};

// A function named by a Resource ARN or a FunctionName parameter.
struct FunctionReference {
  std::string partition;
  std::string region;
  std::string account_id;
  std::string name;
  std::string qualifier;  // "" when unqualified

  // arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME
  std::string UnqualifiedArn() const;
  // UnqualifiedArn() + ":" + (qualifier or "$LATEST"), as AWS names it in error messages.
  std::string QualifiedArn() const;
};

// Parses "NAME", "NAME:QUALIFIER", "ACCOUNT:function:NAME[:QUALIFIER]" or
// "arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]"; missing parts come from
// `environment`. kInvalidArgument for an empty name or a malformed ARN.
StatusOr<FunctionReference> ParseFunctionReference(std::string_view text,
                                                   const LambdaEnvironment& environment);

// True for the tasks LocalFunctions serves: a Lambda function ARN resource, or lambda:invoke.
bool IsLambdaTask(const asl::TaskInvocation& task);

// The cause Step Functions records for Lambda.ResourceNotFoundException.
std::string ResourceNotFoundCause(const FunctionReference& function, std::string_view request_id);

// Thread-compatible: Register before use; afterwards const methods may run concurrently if the
// handlers allow it. The clock (for the Invoke response's Date header) must outlive this object.
class LocalFunctions {
 public:
  LocalFunctions(LambdaEnvironment environment, const Clock& clock);

  // kInvalidArgument for an empty name or handler; kAlreadyExists if `name` is taken.
  [[nodiscard]] Status Register(std::string name, LambdaHandler handler,
                                FunctionOptions options = {});
  bool Contains(std::string_view name) const;

  // How long running `task` takes in simulated time: the registered run_time of the function it
  // names, zero for unknown functions and non-Lambda tasks. An engine with a simulated clock
  // completes the task that much later (so a state's TimeoutSeconds can fire first).
  Duration RunTime(const asl::TaskInvocation& task) const;

  // Runs the function `task` names and shapes the outcome as Step Functions records it (see the
  // file comment). Request ids are UUIDs drawn from `ids`. A task that is not a Lambda task
  // (IsLambdaTask false) fails with error "States.Runtime".
  asl::TaskOutcome Invoke(const asl::TaskInvocation& task, RandomSource& ids,
                          const std::atomic<bool>* cancelled = nullptr) const;

  const LambdaEnvironment& environment() const { return environment_; }

 private:
  struct Function {
    LambdaHandler handler;
    FunctionOptions options;
  };
  struct Call;  // one invocation's result, before shaping

  const Function* Find(const FunctionReference& reference) const;
  // Resolves the function and the event of `task`; on failure fills `outcome` and returns false.
  // A lambda:invoke string Payload that is not JSON is the function runtime's error, not a
  // resolution failure: it comes back in `unmarshal_error`.
  bool Resolve(const asl::TaskInvocation& task, RandomSource& ids, FunctionReference* reference,
               boost::json::value* event, std::string* unmarshal_error,
               asl::TaskOutcome* outcome) const;
  Call Run(const Function& function, const FunctionReference& reference,
           const boost::json::value& event, std::string request_id,
           const std::atomic<bool>* cancelled) const;

  // Constant after construction.
  const LambdaEnvironment environment_;
  const Clock& clock_;
  // Written only by Register.
  std::map<std::string, Function, std::less<>> functions_;
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_LOCAL_FUNCTIONS_H_
