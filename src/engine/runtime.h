// The durable execution runtime: runs many asl::Executions at once, journals every call made to
// them, and after a restart rebuilds each open execution by replaying its calls.
//
// Commit before effect. The runtime applies a call (Start, TaskStarted, TaskCompleted,
// TimerFired, Stop) to the interpreter in memory and submits the call's record to the journal;
// the commands the call produced (tasks to run, timers to arm) are carried out, and callers
// answered, only once that record is durable. Readers never see uncommitted state: histories
// are rebuilt from committed calls (ReplayHistory), execution rows change in the same
// transaction as the call that ends an execution. After a crash, a call whose record was lost
// happens again: its task is still in flight, its timer still armed, its API caller unanswered.
//
// Recovery (Open): every RUNNING execution is replayed from its calls; replay never reads the
// clock or runs a task, it feeds the recorded values. Then tasks still in flight are dispatched
// again (at least once; LambdaContext::idempotency_key is the same execution ARN + state +
// attempt), and timers are re-armed from their recorded wall-clock deadlines.
//
// Threads: one engine thread owns every open execution; a pool of workers runs task handlers
// (LocalFunctions), each with a cancellation flag set by StopExecution or a state timeout; timer
// callbacks and the journal's writer thread only queue work for the engine thread.
//
// Thread-safe: every public method may be called from any thread; callbacks run on the
// runtime's threads and must not block.
#ifndef HPD_ENGINE_RUNTIME_H_
#define HPD_ENGINE_RUNTIME_H_

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asl/definition.h"
#include "asl/history.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/local_functions.h"
#include "engine/task_runner.h"
#include "store/journal.h"

namespace hpd::engine {

struct RuntimeOptions {
  // Delays (Wait, retry intervals, task timeouts, local functions' run times) of d elapse as
  // d * time_scale of real time; 0 makes them immediate. Timestamps are the clock's.
  double time_scale = 1.0;
  // Threads running task handlers.
  size_t workers = 4;
  // Named in the States.TaskFailed cause of a resource with no local implementation.
  std::string runner_name = "hpdeploy";
  // Runners for task resources other than Lambda functions (e.g. ecs:runTask.sync), asked in
  // order; the first whose Handles is true runs the task on a worker. Not owned; they must
  // outlive the runtime.
  std::vector<TaskRunner*> task_runners;
  // Opens the runtime to look, not to run: no recovery, no threads. Only ReplayHistory, Compile
  // and recovery() may be called (on a journal another process may be writing, see
  // store::Journal::OpenForReading).
  bool inspect_only = false;
  // Called after each journal commit that included calls of the executions named (their
  // histories, as ReplayHistory rebuilds them, have grown), the commit that ends an execution
  // included; before the callers waiting on that commit (Start's `done`, WhenEnded) are
  // answered. Runs on the engine thread: it must not block (queue the work elsewhere). Not
  // called for executions that are not journaled (synchronous EXPRESS).
  std::function<void(const std::vector<std::string>& execution_arns)> on_commit;
};

// What recovery found and did (Open).
struct RecoveryReport {
  size_t executions = 0;  // open executions rebuilt
  size_t calls = 0;       // calls replayed
  size_t tasks_redispatched = 0;
  size_t timers_rearmed = 0;
  // Open executions that could not be rebuilt ("<ARN>: <why>"); they stay RUNNING in the
  // journal, untouched, and are not run.
  std::vector<std::string> failed;
};

// The execution ARN of a task dispatch's idempotency key (LambdaContext::idempotency_key,
// "<execution ARN>/<state>/<attempt>/<n>"; execution names never hold a '/'), or "" when `key`
// is not of that form.
std::string_view ExecutionArnOfIdempotencyKey(std::string_view key);

// A state machine revision, compiled; shared by every execution of it.
// Shared, not copied: every execution of a revision holds the same two.
struct CompiledMachine {
  // As of the revision the execution runs, without its definition text (the compiled machine
  // is what runs; the text stays in the journal).
  std::shared_ptr<const store::StateMachineRow> row;
  std::shared_ptr<const asl::StateMachine> machine;
};

struct StartRequest {
  CompiledMachine machine;
  std::string execution_arn;
  std::string name;
  std::string input;  // JSON text as submitted (validated by the caller)
  std::string trace_header;
  // Journaled (and so recovered after a crash). Always for STANDARD; for EXPRESS, an
  // asynchronous start (StartExecution: at least once, as on AWS) is, a synchronous one
  // (StartSyncExecution: at most once) runs in memory only.
  bool durable = true;
};

struct StartResult {
  std::string execution_arn;
  WallTime start{};
};

// An execution's end, for StartSyncExecution.
struct ExecutionEnd {
  std::string status;  // SUCCEEDED, FAILED, TIMED_OUT, ABORTED
  WallTime start{};
  WallTime stop{};
  std::optional<std::string> output;
  std::optional<std::string> error;
  std::optional<std::string> cause;
};

// AWS's redrive limits (RedriveExecution): within 14 days of the end, at most 1,000 times.
inline constexpr Duration kRedrivablePeriod = std::chrono::hours(24 * 14);
inline constexpr int64_t kMaxRedriveCount = 1000;

// Why an ended execution cannot be redriven (DescribeExecution's redriveStatusReason), or
// nullopt when it can.
std::optional<std::string> NotRedrivableReason(const store::ExecutionRow& row, WallTime now);

class Runtime {
 public:
  // Opens the runtime on `journal` and recovers every open execution before returning (then the
  // runtime is ready). `journal`, `functions` and `clock` must outlive it. An execution that
  // cannot be rebuilt (its stored definition no longer compiles, its calls do not replay) is
  // listed in recovery().failed and left alone; a journal that cannot be read fails Open.
  //
  // A synchronous EXPRESS execution (StartRequest::durable false) is not journaled: it runs in
  // memory, at most once, and a restart forgets it. STANDARD and asynchronous EXPRESS
  // executions are journaled and recovered (at least once). Only STANDARD names are unique.
  [[nodiscard]] static StatusOr<std::unique_ptr<Runtime>> Open(store::Journal& journal,
                                                               const LocalFunctions& functions,
                                                               Clock& clock,
                                                               RuntimeOptions options = {});
  // Stops dispatching, waits for running handlers' results to be journaled, cancels timers.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  const RecoveryReport& recovery() const;

  // Starts an execution. `done` gets the ARN and start date once the start is durable. A
  // running execution of the same machine and name: the same input answers as the original
  // start did (idempotent), another input fails with ExecutionAlreadyExists; a closed one
  // always does. `on_end` (optional) runs when the execution ends (StartSyncExecution).
  void Start(StartRequest request, std::function<void(StatusOr<StartResult>)> done,
             std::function<void(const ExecutionEnd&)> on_end = nullptr);

  // StopExecution: aborts a running execution (ExecutionAborted with `error`/`cause`, empty ones
  // left out), cancelling its tasks and timers; `done` gets the stop date once durable.
  // kNotFound (ExecutionDoesNotExist) when no such execution is running here.
  void Stop(const std::string& execution_arn, std::string error, std::string cause,
            std::function<void(StatusOr<WallTime>)> done);

  // RedriveExecution: a FAILED, ABORTED or TIMED_OUT STANDARD execution runs again from where it
  // ended (asl::Execution::Redrive), under the same ARN; `done` gets the redrive date once it is
  // durable. ExecutionNotRedrivable (kFailedPrecondition) when NotRedrivableReason says so or
  // the execution is running; ExecutionDoesNotExist (kNotFound) when the journal has none.
  void Redrive(const std::string& execution_arn, std::function<void(StatusOr<WallTime>)> done);

  // Calls `done` with the execution's end: when it ends, if it is running here; at once (from
  // the journal) if it has ended; kNotFound if the journal has no such execution.
  void WhenEnded(const std::string& execution_arn,
                 std::function<void(StatusOr<ExecutionEnd>)> done);

  // The history of an execution as its committed calls produce it (open or closed).
  // kNotFound when the journal has no such execution.
  // Shared and immutable: paging through a long history copies nothing.
  [[nodiscard]] StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> ReplayHistory(
      const std::string& execution_arn) const;

  // Compiles `row`'s definition (validated before it was stored), once per revision.
  [[nodiscard]] StatusOr<CompiledMachine> Compile(const store::StateMachineRow& row) const;

  // Executions open in memory right now.
  size_t open_executions() const;

 private:
  class Impl;
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_RUNTIME_H_
