// Runs one asl::Execution to its end inside this process: the engine side of the interpreter's
// Commands, without a journal.
//
// The executor carries out what the interpreter asks for: it starts tasks (Lambda tasks through
// LocalFunctions; any other resource fails with States.TaskFailed), arms and cancels timers on a
// Clock, and feeds TaskStarted / TaskCompleted / TimerFired back. Deliveries wait in one FIFO
// queue: every task of a batch starts before any completes, as concurrently scheduled tasks would
// on AWS; a local function with a run time (FunctionOptions::run_time) completes on a clock timer,
// so a state's TimeoutSeconds can fire first.
//
// Two kinds of clock:
//  - A SimulatedClock (deterministic): when nothing is left to deliver, the executor advances the
//    clock to the next timer, so Wait states and retry intervals take no real time and history
//    timestamps show simulated time. The same calls in the same order reproduce the same history.
//    Used by tools/asl_conformance and by `hpdeploy run --time-scale 0`. The executor keeps its
//    own timers; timers that other code arms on the same clock (one that calls RequestStop, say)
//    run at their deadlines as the executor moves time forward, before its own timers that fall
//    due at the same instant.
//  - Any other Clock (a SystemClock): delays really elapse, scaled by `time_scale` (a delay d is
//    waited as d * time_scale), and history timestamps are the clock's wall time when each event
//    happened, to the millisecond as Step Functions records them. Timers fire on the clock's
//    thread; their callbacks only queue a delivery (under a mutex, with a condition variable) for
//    the executor's thread. (A SimulatedClock passed as a plain Clock& is treated this way too:
//    then something else must advance it.)
//
// The Execution is only ever touched from the thread that calls RunToCompletion, and so are the
// local functions: handlers run on that thread, one at a time.
#ifndef HPD_ENGINE_IN_MEMORY_EXECUTOR_H_
#define HPD_ENGINE_IN_MEMORY_EXECUTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/json/fwd.hpp>

#include "asl/interpreter.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "engine/local_functions.h"

namespace hpd::engine {

struct InMemoryExecutorOptions {
  // Real clocks only: a Wait, a retry interval, a task timeout or a local function's run time of
  // d elapses as d * time_scale of real time. Must be finite and > 0 (0 means "no waiting at
  // all": use a SimulatedClock for that). Ignored with a SimulatedClock.
  double time_scale = 1.0;
  // Deliveries to the interpreter before RunToCompletion gives up; 0 means no limit.
  size_t max_steps = 0;
  // SimulatedClock only: RunToCompletion reports a stall rather than jump further ahead than
  // this to the next timer (a Wait of 24855 days is an execution AWS has not finished either).
  std::optional<Duration> horizon;
  // Calls Stop (no error, no cause) the first time nothing is left to deliver, before any time
  // passes: how a client's StopExecution lands on an execution that is waiting.
  bool stop_when_idle = false;
  // Who says a resource has no local implementation, in the States.TaskFailed cause:
  // "<runner_name> has no local implementation of '<resource>'".
  std::string runner_name = "hpdeploy";
};

// Thread-compatible, except RequestStop, which any thread may call at any time.
class InMemoryExecutor {
 public:
  // Deterministic: the executor advances `clock` itself. `clock`, `functions` and `request_ids`
  // (Lambda request ids are drawn from it) must outlive the executor.
  InMemoryExecutor(SimulatedClock& clock, const LocalFunctions& functions,
                   RandomSource& request_ids, InMemoryExecutorOptions options = {});
  // Real time: the executor waits for `clock`'s timers (see time_scale).
  InMemoryExecutor(Clock& clock, const LocalFunctions& functions, RandomSource& request_ids,
                   InMemoryExecutorOptions options = {});
  ~InMemoryExecutor();
  InMemoryExecutor(const InMemoryExecutor&) = delete;
  InMemoryExecutor& operator=(const InMemoryExecutor&) = delete;

  // Starts `execution` (which must not have been started) with `input` and runs it until it
  // reaches a terminal status. `input_text` is recorded verbatim in ExecutionStarted; Start gets
  // `start_time` (pass ExecutionInfo::start_time so $$.Execution.StartTime and the event agree),
  // or the clock's wall time when absent. Timers still armed when it returns are cancelled.
  //
  // OK when the execution finished (whatever its status); otherwise the execution is left
  // RUNNING and the status says why:
  //  - kResourceExhausted "step limit reached" (options.max_steps);
  //  - kFailedPrecondition "stalled: nothing in flight and no timer armed", or
  //    "stalled: next timer beyond the horizon, at <RFC 3339 instant>" (options.horizon).
  // An exception thrown by a clock callback or the interpreter propagates.
  [[nodiscard]] Status RunToCompletion(asl::Execution& execution, const boost::json::value& input,
                                       std::string input_text,
                                       std::optional<WallTime> start_time = std::nullopt);

  // Asks RunToCompletion to Stop the execution (ExecutionAborted with `error` and `cause`, each
  // left out of the event when empty) before its next delivery; a run in progress that is
  // waiting for a timer wakes up. A request made while no run is in progress applies to the
  // next run, right after Start. Thread-safe, but must return before the executor is destroyed;
  // not async-signal-safe (it locks a mutex).
  void RequestStop(std::string error, std::string cause);

 private:
  class Run;
  struct Inbox;

  // Constant after construction.
  Clock& clock_;
  SimulatedClock* const simulated_;  // == &clock_ in deterministic mode, else null
  const LocalFunctions& functions_;
  RandomSource& request_ids_;
  const InMemoryExecutorOptions options_;
  // Shared with timer callbacks, which may outlive a run (a callback already running on a real
  // clock's thread when the run cancels it).
  const std::shared_ptr<Inbox> inbox_;
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_IN_MEMORY_EXECUTOR_H_
