// A seam for Task resources other than Lambda functions: a runner claims the tasks it can run
// (for example arn:aws:states:::ecs:runTask.sync) and runs them on the runtime's workers.
#ifndef HPD_ENGINE_TASK_RUNNER_H_
#define HPD_ENGINE_TASK_RUNNER_H_

#include <atomic>
#include <string_view>

#include "asl/interpreter.h"

namespace hpd::engine {

// Implementations must be thread-safe: Run is called from several workers at once.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;

  // True when this runner runs `task` (decided from its resource alone).
  virtual bool Handles(const asl::TaskInvocation& task) const = 0;

  // Runs `task` to its end and returns the outcome as Step Functions records it (a failure's
  // error and cause are the service integration's, e.g. States.TaskFailed). `cancelled` is set
  // when the result is no longer wanted (state timeout, StopExecution, shutdown): a long run
  // polls it and stops its work promptly; the outcome returned then is discarded.
  // `idempotency_key` is the same for every dispatch of one task attempt (see
  // LambdaContext::idempotency_key): after a crash the same attempt may be dispatched again.
  virtual asl::TaskOutcome Run(const asl::TaskInvocation& task, const std::atomic<bool>* cancelled,
                               std::string_view idempotency_key) = 0;
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_TASK_RUNNER_H_
