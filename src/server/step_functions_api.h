// The Step Functions API (AWS JSON 1.0 actions, request and response bodies as AWS documents
// them) over the durable runtime and its journal: what `aws stepfunctions --endpoint-url` and
// boto3 talk to through the server.
//
// Implemented actions: CreateStateMachine, DescribeStateMachine,
// DescribeStateMachineForExecution, UpdateStateMachine, DeleteStateMachine, ListStateMachines,
// ValidateStateMachineDefinition, StartExecution, StartSyncExecution, DescribeExecution,
// StopExecution, ListExecutions, GetExecutionHistory, RedriveExecution. Any other action is
// answered as AWS answers an unknown operation (UnknownOperation in aws_json_endpoint.h).
//
// Errors are Statuses whose error_name() is the AWS error code (StateMachineDoesNotExist,
// InvalidArn, InvalidName, InvalidDefinition, InvalidExecutionInput, ExecutionAlreadyExists,
// ExecutionDoesNotExist, StateMachineAlreadyExists, InvalidToken, ValidationException,
// StateMachineTypeNotSupported, SerializationException, ExecutionNotRedrivable) and whose message
// is AWS's text; the protocol layer turns them into `{"__type": ..., "message": ...}` answers.
//
// Thread-safe. Replies run on the calling thread (reads, validation errors) or on the
// runtime's threads (anything that waits for the journal).
#ifndef HPD_SERVER_STEP_FUNCTIONS_API_H_
#define HPD_SERVER_STEP_FUNCTIONS_API_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "engine/runtime.h"
#include "store/journal.h"

namespace hpd::server {

struct StepFunctionsApiOptions {
  std::string partition = "aws";
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
};

class StepFunctionsApi {
 public:
  using Reply = std::function<void(StatusOr<std::string>)>;

  // `journal`, `runtime` and `clock` must outlive the API.
  StepFunctionsApi(store::Journal& journal, engine::Runtime& runtime, const Clock& clock,
                   StepFunctionsApiOptions options = {});
  ~StepFunctionsApi();
  StepFunctionsApi(const StepFunctionsApi&) = delete;
  StepFunctionsApi& operator=(const StepFunctionsApi&) = delete;

  // Runs `action` ("StartExecution", ...) with the JSON request `body`; `reply` gets the JSON
  // response body or the AWS error, exactly once.
  void Call(std::string_view action, std::string body, Reply reply);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::server

#endif  // HPD_SERVER_STEP_FUNCTIONS_API_H_
