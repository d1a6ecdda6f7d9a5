// The deterministic ASL interpreter: a function of (definition, execution state, incoming event)
// to (history events, commands).
//
// An Execution never reads a clock, sleeps, draws unseeded randomness or performs I/O. Time
// arrives with every call (`now`); random draws (States.UUID, States.MathRandom, FULL jitter)
// come from a generator seeded by ExecutionInfo::random_seed, so feeding the same calls with the
// same arguments reproduces the same history byte for byte. The engine persists the calls (and
// the seed) and replays them after a restart; it carries out the returned Commands: running
// tasks, arming timers, cancelling them.
//
// Thread-compatible: one thread at a time per Execution.
#ifndef HPD_ASL_INTERPRETER_H_
#define HPD_ASL_INTERPRETER_H_

#include <boost/container/small_vector.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asl/definition.h"
#include "asl/history.h"
#include "common/clock.h"

namespace hpd::asl {

// The largest payload Step Functions accepts, in bytes of UTF-8 JSON text (256 KiB): an
// execution's input, a state's output, a task's result.
inline constexpr size_t kMaxPayloadBytes = 262144;

// Identity of an execution, fixed when it starts; it feeds the context object ($$).
struct ExecutionInfo {
  std::string execution_arn;
  std::string execution_name;
  std::string state_machine_arn;
  std::string state_machine_name;
  std::string role_arn;
  WallTime start_time{};
  uint64_t random_seed = 0;
  int64_t redrive_count = 0;
  // An EXPRESS execution has no 25,000-event history limit (Step Functions quotas); a STANDARD
  // one fails when it reaches it.
  bool express = false;
};

// How the engine must run a Task's resource.
enum class TaskKind {
  kLambdaFunction,  // Resource is a Lambda function ARN: LambdaFunction* events
  kService,         // arn:aws:states:::service:action[.sync|.waitForTaskToken]: Task* events
  kActivity,        // arn:aws:states:...:activity:NAME: Activity* events
};

// A task the engine must run. The engine answers with TaskStarted and then TaskCompleted
// carrying the same token.
//
// The text fields are views into the execution's state machine (the Execution holds it): valid
// as long as the Execution that asked for the task lives. An engine that keeps a task longer
// (a journal) copies them.
struct TaskInvocation {
  uint64_t token = 0;
  TaskKind kind = TaskKind::kLambdaFunction;
  std::string_view resource;      // the Task's Resource, as written
  std::string_view service;       // kService: "lambda", "ecs", ...
  std::string_view action;        // kService: "invoke", "runTask.sync", ...
  boost::json::value parameters;  // effective input (Parameters or Arguments applied)
  std::string_view state_name;
  int64_t attempt = 0;  // 0 for the first try, then 1, 2, ... per retry
  std::optional<int64_t> timeout_seconds;
  std::optional<int64_t> heartbeat_seconds;
};

// A timer to arm: call TimerFired(token) at (or after) `deadline` (a wall-clock instant, so
// that it survives restarts).
struct TimerRequest {
  uint64_t token = 0;
  WallTime deadline{};
};

// Most calls ask for at most one task and one timer: those fit inline, with no allocation.
struct Commands {
  boost::container::small_vector<TaskInvocation, 1> run_tasks;
  boost::container::small_vector<TimerRequest, 1> arm_timers;
  boost::container::small_vector<uint64_t, 2> cancel_tasks;  // results no longer wanted
  boost::container::small_vector<uint64_t, 2> cancel_timers;
  bool finished = false;  // the execution reached a terminal status
};

// A task's answer. For a Lambda function `output` is the function's result (for
// arn:aws:states:::lambda:invoke, the whole Invoke response envelope); on failure `error` and
// `cause` are what Step Functions records (e.g. errorType and the Lambda error JSON).
struct TaskOutcome {
  bool succeeded = true;
  boost::json::value output;
  std::string error;
  std::string cause;
  // Optional: the invocation's parameters, handed back by an engine that is done with them.
  // When the state then retries and its input cannot differ between attempts
  // (State::parameters_repeatable), the retry reuses them instead of evaluating them again.
  std::optional<boost::json::value> parameters;
};

enum class ExecutionStatus { kRunning, kSucceeded, kFailed, kTimedOut, kAborted };
std::string_view ExecutionStatusName(ExecutionStatus status);  // "RUNNING", "SUCCEEDED", ...

class Execution {
 public:
  Execution(std::shared_ptr<const StateMachine> machine, ExecutionInfo info);
  ~Execution();
  Execution(const Execution&) = delete;
  Execution& operator=(const Execution&) = delete;

  // Starts the execution with `input` (its JSON text as submitted is `input_text`, which
  // ExecutionStarted records verbatim and $$.Execution.Input is parsed from; `input` must be
  // what it parses to. With an empty `input_text`, $$.Execution.Input is a copy of `input`).
  // Must be called once, first.
  Commands Start(const boost::json::value& input, std::string input_text, WallTime now);
  // The engine began running the task (LambdaFunctionStarted / TaskStarted).
  Commands TaskStarted(uint64_t token, WallTime now);
  // Consumes `outcome` (its output becomes the state's result without a copy).
  Commands TaskCompleted(uint64_t token, TaskOutcome outcome, WallTime now);
  Commands TimerFired(uint64_t token, WallTime now);
  // StopExecution: aborts everything in flight; ExecutionAborted with the given error/cause.
  Commands Stop(std::string error, std::string cause, WallTime now);
  // RedriveExecution of a FAILED, ABORTED or TIMED_OUT execution (no effect otherwise): records
  // ExecutionRedriven ({redriveCount}), and the execution runs again from the state it ended
  // in, with the input that state was entered with and retry counts from zero. A Parallel or
  // Map state that failed runs again only the branches and iterations that did not succeed;
  // those that did keep their outputs. $$.Execution.RedriveCount counts the redrives. The
  // state machine's TimeoutSeconds starts again.
  Commands Redrive(WallTime now);

  ExecutionStatus status() const;
  const std::vector<HistoryEvent>& history() const;
  // Terminal results: output JSON text (SUCCEEDED), or error and cause (FAILED, TIMED_OUT,
  // ABORTED).
  const std::optional<std::string>& output() const;
  const std::string& error() const;
  const std::string& cause() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::asl

#endif  // HPD_ASL_INTERPRETER_H_
