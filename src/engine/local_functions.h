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
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "asl/interpreter.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"

namespace hpd::engine {

// What a handler learns about its invocation (Lambda's context object). The views are valid only
// for the duration of the handler call; a handler that keeps one must copy it.
struct LambdaContext {
  std::string_view request_id;  // a UUID; also the error JSON's requestId
  std::string_view function_name;
  std::string_view invoked_function_arn;  // unqualified function ARN
  // Set when Step Functions no longer wants the result (task timeout, execution stopped).
  // Long-running handlers should poll it. May be null (never cancelled).
  const std::atomic<bool>* cancelled = nullptr;
  // The same for every dispatch of one task attempt ("<execution ARN>/<state>/<attempt>/<n>",
  // n telling apart the iterations of a Map): a durable engine may run an attempt again after a
  // crash, and a handler with outside effects can use the key to make them once. Empty when the
  // engine gives none.
  std::string_view idempotency_key;

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
  // The function has no effect outside this process: its result (and state it keeps in memory)
  // is all it does. A durable engine may then run it inside the step that schedules it, before
  // that step is durable, as Temporal runs local activities: a crash loses the run together
  // with the step, and it runs again. Never set it for a function that writes files, calls
  // other services or starts processes. Running inline, it holds up the engine: it must return
  // quickly (it cannot be stopped mid-run; tasks with a timeout or heartbeat are never run
  // inline).
  bool local_only = false;
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

// The outcome of a task whose resource this process cannot run: States.TaskFailed with the cause
// "<runner_name> has no local implementation of '<resource>'".
asl::TaskOutcome NoLocalImplementation(const asl::TaskInvocation& task,
                                       std::string_view runner_name);

// The cause Step Functions records for Lambda.ResourceNotFoundException.
std::string ResourceNotFoundCause(const FunctionReference& function, std::string_view request_id);

// Thread-compatible: Register before use; afterwards const methods may run concurrently if the
// handlers allow it (the name-resolution cache they share is internally synchronised). The clock
// (for the Invoke response's Date header) must outlive this object.
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

  // True when `task` runs a function registered with local_only and no run time.
  bool IsLocalOnly(const asl::TaskInvocation& task) const;

  // Runs the function `task` names and shapes the outcome as Step Functions records it (see the
  // file comment). Request ids are UUIDs drawn from `ids`. A task that is not a Lambda task
  // (IsLambdaTask false) fails with error "States.Runtime".
  asl::TaskOutcome Invoke(const asl::TaskInvocation& task, RandomSource& ids,
                          const std::atomic<bool>* cancelled = nullptr,
                          std::string_view idempotency_key = {}) const;

  const LambdaEnvironment& environment() const { return environment_; }

 private:
  struct Function {
    LambdaHandler handler;
    FunctionOptions options;
  };
  // A function name text (a Resource ARN or a FunctionName) parsed and looked up.
  struct ResolvedName {
    FunctionReference reference;
    std::string unqualified_arn;  // reference.UnqualifiedArn()
    // The function registered under reference.name, whatever the qualifier; null if none.
    const Function* function = nullptr;
  };
  struct Call;  // one invocation's result, before shaping

  // Transparent hashing, so the cache is searched with the task's string_view.
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  // The function the reference names, given the qualifier in effect: local functions have one
  // version, $LATEST, and no aliases.
  static const Function* Find(const ResolvedName& resolved, std::string_view qualifier);
  // The function a Lambda task names (its Resource or lambda:invoke's FunctionName, with the
  // reference's own qualifier), or null.
  const Function* FunctionFor(const asl::TaskInvocation& task) const;
  // Parses and looks up `text`, remembering the answer: tasks name their function with the same
  // few texts over and over. On success returns the cached entry, or `scratch` filled in when the
  // cache is full; the pointer stays valid until the next Register. Parse errors are not cached.
  StatusOr<const ResolvedName*> ResolveName(std::string_view text, ResolvedName* scratch) const;
  // What Resolve finds for one task. Its pointers may point into its own storage, so it is
  // neither copied nor moved.
  struct Resolution {
    Resolution() = default;
    Resolution(const Resolution&) = delete;
    Resolution& operator=(const Resolution&) = delete;

    const ResolvedName* name = nullptr;         // into the cache or name_storage
    std::string_view qualifier;                 // in effect (lambda:invoke's Qualifier may set it)
    const boost::json::value* event = nullptr;  // into the task or event_storage
    // A lambda:invoke string Payload that is not JSON is the function runtime's error, not a
    // resolution failure: set instead of event.
    std::string unmarshal_error;
    ResolvedName name_storage;
    boost::json::value event_storage;
  };
  // Resolves the function and the event of `task`; on failure fills `outcome` and returns false.
  bool Resolve(const asl::TaskInvocation& task, RandomSource& ids, Resolution* resolution,
               asl::TaskOutcome* outcome) const;
  // Runs the handler; fills `call` (default-constructed) with its result or raise.
  void Run(const Function& function, const ResolvedName& resolved, const boost::json::value& event,
           std::string_view request_id, const std::atomic<bool>* cancelled,
           std::string_view idempotency_key, Call* call) const;

  // Bounds the cache when tasks compute function names (lambda:invoke FunctionName.$): past this
  // many distinct texts, names are resolved per call.
  static constexpr size_t kMaxResolvedNames = 1024;

  // Constant after construction.
  const LambdaEnvironment environment_;
  const Clock& clock_;
  // Written only by Register.
  std::map<std::string, Function, std::less<>> functions_;
  bool any_run_time_ = false;    // some function has a run_time; written only by Register
  bool any_local_only_ = false;  // some function is local_only; written only by Register
  // Entries are never erased while const methods run (only Register clears the cache), and
  // unordered_map nodes do not move, so a pointer to an entry outlives the lock.
  mutable std::mutex resolved_mu_;
  mutable std::unordered_map<std::string, ResolvedName, TextHash, std::equal_to<>>
      resolved_;  // guarded by resolved_mu_
  // The entry of resolved_ found or added last (null after Register): a lock-free first try.
  // An entry filled in before it is published here, and never changed until Register.
  mutable std::atomic<const std::pair<const std::string, ResolvedName>*> last_resolved_{nullptr};
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_LOCAL_FUNCTIONS_H_
