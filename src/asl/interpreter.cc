#include "asl/interpreter.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cmath>
#include <cstddef>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "asl/choice_eval.h"
#include "asl/data_flow.h"
#include "asl/evaluation_scope.h"
#include "asl/intrinsic_eval.h"
#include "common/fifo.h"
#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/uuid.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;

constexpr std::string_view kStatesAll = "States.ALL";
constexpr std::string_view kStatesTaskFailed = "States.TaskFailed";
constexpr std::string_view kStatesTimeout = "States.Timeout";
constexpr int64_t kExpressMaxSeconds = 300;  // an EXPRESS execution's longest run
constexpr std::string_view kStatesDataLimitExceeded = "States.DataLimitExceeded";
// The longest wait AWS accepts (2^31 - 1 seconds, about 24,855 days): the corpus records 24,855
// days accepted and 24,856 refused with "Wait state delay is too long.".
constexpr int64_t kMaxWaitSeconds = 2147483647;
// Step Functions quota: a Standard execution's history holds at most 25,000 events; reaching it
// fails the execution. (AWS's exact cause text is not in the corpus; this one says what happened.)
constexpr size_t kMaxHistoryEvents = 25000;
constexpr std::string_view kHistoryLimitCause =
    "The execution reached the maximum number of history events (25000).";

// The details of one history event (recorded as given, rendered to JSON when read).
using Details = EventDetails;

HistoryEventType EnteredType(StateType type) {
  switch (type) {
    case StateType::kTask:
      return HistoryEventType::kTaskStateEntered;
    case StateType::kPass:
      return HistoryEventType::kPassStateEntered;
    case StateType::kChoice:
      return HistoryEventType::kChoiceStateEntered;
    case StateType::kWait:
      return HistoryEventType::kWaitStateEntered;
    case StateType::kSucceed:
      return HistoryEventType::kSucceedStateEntered;
    case StateType::kFail:
      return HistoryEventType::kFailStateEntered;
    case StateType::kParallel:
      return HistoryEventType::kParallelStateEntered;
    case StateType::kMap:
      return HistoryEventType::kMapStateEntered;
  }
  return HistoryEventType::kPassStateEntered;
}

HistoryEventType ExitedType(StateType type) {
  switch (type) {
    case StateType::kTask:
      return HistoryEventType::kTaskStateExited;
    case StateType::kPass:
      return HistoryEventType::kPassStateExited;
    case StateType::kChoice:
      return HistoryEventType::kChoiceStateExited;
    case StateType::kWait:
      return HistoryEventType::kWaitStateExited;
    case StateType::kSucceed:
      return HistoryEventType::kSucceedStateExited;
    case StateType::kParallel:
      return HistoryEventType::kParallelStateExited;
    case StateType::kMap:
      return HistoryEventType::kMapStateExited;
    case StateType::kFail:
      break;
  }
  return HistoryEventType::kPassStateExited;
}

// Splits a Task's Resource into how it runs. The views point into the Resource text, which the
// definition owns.
struct ResourceSpec {
  TaskKind kind = TaskKind::kLambdaFunction;
  std::string_view service;
  std::string_view action;
  std::string_view region;
};

ResourceSpec ParseResource(std::string_view resource) {
  ResourceSpec spec;
  // arn:partition:service:region:account:rest
  std::array<std::string_view, 5> parts;
  size_t count = 0;
  size_t start = 0;
  for (; count < parts.size(); ++count) {
    size_t colon = resource.find(':', start);
    if (colon == std::string_view::npos) break;
    parts[count] = resource.substr(start, colon - start);
    start = colon + 1;
  }
  std::string_view rest = start <= resource.size() ? resource.substr(start) : std::string_view();
  if (count == parts.size()) {
    spec.region = parts[3];
    if (parts[2] == "states" && parts[3].empty() && parts[4].empty()) {
      // arn:aws:states:::service:action
      spec.kind = TaskKind::kService;
      size_t colon = rest.find(':');
      spec.service = rest.substr(0, colon);
      spec.action = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
      return spec;
    }
    if (parts[2] == "states" && rest.substr(0, 9) == "activity:") {
      spec.kind = TaskKind::kActivity;
      return spec;
    }
  }
  spec.kind = TaskKind::kLambdaFunction;
  return spec;
}

// Does a Retrier's or Catcher's ErrorEquals match `error`?
bool ErrorMatches(const std::vector<std::string>& error_equals, std::string_view error) {
  for (const auto& name : error_equals) {
    if (name == error) return true;
    // States.ALL and States.TaskFailed are wildcards; States.TaskFailed does not match
    // States.Timeout. (States.Runtime never reaches here: it cannot be retried or caught.)
    if (name == kStatesAll) return true;
    if (name == kStatesTaskFailed && error != kStatesTimeout) return true;
  }
  return false;
}

// A variable scope: the top level, or the inside of a Parallel branch or Map iteration. Inner
// scopes read outer variables; Assign writes to the scope of the state.
struct VariableScope {
  json::object values;
  std::shared_ptr<VariableScope> parent;

  const json::value* Find(std::string_view name) const {
    for (const VariableScope* s = this; s != nullptr; s = s->parent.get()) {
      if (const json::value* v = s->values.if_contains(name)) return v;
    }
    return nullptr;
  }
};

}  // namespace

std::string_view ExecutionStatusName(ExecutionStatus status) {
  switch (status) {
    case ExecutionStatus::kRunning:
      return "RUNNING";
    case ExecutionStatus::kSucceeded:
      return "SUCCEEDED";
    case ExecutionStatus::kFailed:
      return "FAILED";
    case ExecutionStatus::kTimedOut:
      return "TIMED_OUT";
    case ExecutionStatus::kAborted:
      return "ABORTED";
  }
  return "UNKNOWN";
}

// A running sequence of states: the execution itself (the only kind today; Parallel branches
// and Map iterations will be frames too).
struct Frame;

// The children of a Parallel or Map state in progress.
struct Fanout {
  bool is_map = false;
  bool distributed = false;         // children are child executions: their events are not recorded
  std::vector<json::value> inputs;  // per branch / iteration; moved into the child
  std::vector<std::optional<json::value>> results;
  std::vector<std::unique_ptr<Frame>> children;  // by index; null until started / after done
  size_t next_to_start = 0;
  size_t running = 0;
  size_t succeeded = 0;
  size_t failed = 0;
  size_t max_concurrency = 0;  // 0: unlimited
  std::optional<double> tolerated_count;
  std::optional<double> tolerated_percentage;
  int64_t started_event_id = 0;          // MapStateStarted / ParallelStateStarted
  int64_t chain_for_next_iteration = 0;  // previousEventId of the next MapIterationStarted
  std::vector<uint8_t> done;             // per child: finished (either way)
};

struct Frame {
  const StateMachine* scope = nullptr;
  Frame* parent = nullptr;       // null for the execution itself
  size_t index = 0;              // branch or iteration index in the parent's Fanout
  bool silent = false;           // a distributed Map's child execution
  int64_t silent_events = 0;     // its own event counter
  const State* state = nullptr;  // the state being run
  json::value raw_input;         // the current state's input
  std::string raw_input_text;    // its compact JSON text, kept only when OutputIsInput
  // The state input after InputPath: raw_input itself when the state has no InputPath (no copy),
  // else effective_storage.
  const json::value* effective = nullptr;
  json::value effective_storage;
  int64_t entered_event_id = 0;  // id of the current state's Entered event
  int64_t last_event_id = 0;     // previousEventId of this frame's next event
  WallTime entered_time{};
  std::vector<int64_t> retrier_attempts;  // per Retrier of the current state
  int64_t retry_count = 0;                // $$.State.RetryCount
  std::shared_ptr<VariableScope> variables;
  // Task in flight.
  uint64_t task_token = 0;
  int64_t scheduled_event_id = 0;  // its *Scheduled event
  // The last attempt's input, handed back by the engine, for a retry of a state whose input
  // cannot change (State::parameters_repeatable).
  std::optional<json::value> retry_parameters;
  uint64_t timeout_timer = 0;
  ResourceSpec resource;
  // Timer the frame waits for (Wait state or retry backoff).
  uint64_t wait_timer = 0;
  bool waiting_for_retry = false;
  // The transition to take next (a state name owned by the definition), run by Drive() so that
  // long chains of states do not recurse.
  const std::string* pending_next = nullptr;
  json::value pending_input;
  std::string pending_input_text;  // pending_input as compact JSON, when already serialised
  std::unique_ptr<Fanout> fanout;  // while the current state is a Parallel or Map
};

class Execution::Impl {
 public:
  Impl(std::shared_ptr<const StateMachine> machine, ExecutionInfo info)
      : machine_(std::move(machine)),
        info_(std::move(info)),
        random_(info_.random_seed),
        redrive_count_(info_.redrive_count) {}

  Commands Start(const json::value& input, std::string input_text, WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    // $$.Execution.Input is rebuilt from the text when a state first reads the context: most
    // executions never do, and a copy of the document would cost more than keeping its text.
    // Room for a few events per top-level state (capped) up front: most executions then never
    // regrow their history.
    history_.reserve(std::min<size_t>(4 * machine_->states.size() + 8, 1024));
    if (input_text.empty()) execution_input_ = input;
    execution_input_text_ = std::move(input_text);
    Details details;
    details.Add("input", execution_input_text_);
    details.NotTruncated("inputDetails");
    details.Add("roleArn", info_.role_arn);
    Append(0, HistoryEventType::kExecutionStarted, std::move(details));

    top_ = std::make_unique<Frame>();
    top_->scope = machine_.get();
    top_->variables = std::make_shared<VariableScope>();
    top_->last_event_id = 0;  // AWS: the first state's Entered event has previousEventId 0
    top_->pending_next = &machine_->start_at;
    top_->pending_input = input;
    runnable_.push_back(top_.get());
    if (std::optional<int64_t> timeout = ExecutionTimeoutSeconds()) {
      // The state machine's TimeoutSeconds bounds the whole execution.
      execution_timer_ = NextToken();
      out.arm_timers.push_back(
          TimerRequest{execution_timer_, now + std::chrono::seconds(*timeout)});
    }
    Finish();
    return out;
  }

  Commands TaskStarted(uint64_t token, WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    Frame* frame = FrameForTask(token);
    if (frame != nullptr) {
      if (frame->resource.kind == TaskKind::kLambdaFunction) {
        Emit(*frame, HistoryEventType::kLambdaFunctionStarted);
      } else {
        Emit(*frame, HistoryEventType::kTaskStarted, ServiceDetails(*frame));
      }
    }
    Finish();
    return out;
  }

  Commands TaskCompleted(uint64_t token, TaskOutcome outcome, WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    Frame* frame = FrameForTask(token);
    if (frame != nullptr) {
      task_frames_.erase(token);
      frame->task_token = 0;
      CancelTimer(frame->timeout_timer);
      frame->timeout_timer = 0;
      if (outcome.succeeded) {
        OnTaskSucceeded(*frame, std::move(outcome.output));
      } else {
        if (frame->state->parameters_repeatable) {
          frame->retry_parameters = std::move(outcome.parameters);
        }
        OnTaskFailed(*frame, std::move(outcome.error), std::move(outcome.cause));
      }
    }
    Finish();
    return out;
  }

  Commands TimerFired(uint64_t token, WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    auto it = timer_frames_.find(token);
    if (status_ == ExecutionStatus::kRunning && token != 0 && token == execution_timer_) {
      // AWS: ExecutionTimedOut (previousEventId 0) carries States.Timeout; DescribeExecution
      // then shows TIMED_OUT with neither error nor cause.
      execution_timer_ = 0;
      if (top_) CancelFrame(*top_);
      Details details;
      details.Add("error", kStatesTimeout);
      Append(0, HistoryEventType::kExecutionTimedOut, std::move(details));
      status_ = ExecutionStatus::kTimedOut;
    } else if (status_ == ExecutionStatus::kRunning && it != timer_frames_.end()) {
      Frame& frame = *it->second;
      timer_frames_.erase(it);
      if (token != 0 && token == frame.wait_timer) {
        frame.wait_timer = 0;
        if (frame.waiting_for_retry) {
          frame.waiting_for_retry = false;
          RetryState(frame);
        } else {
          FinishWait(frame);
        }
      } else if (token != 0 && token == frame.timeout_timer) {
        frame.timeout_timer = 0;
        uint64_t task = frame.task_token;
        frame.task_token = 0;
        if (task != 0) {
          out_->cancel_tasks.push_back(task);
          task_frames_.erase(task);
        }
        OnTaskTimedOut(frame);
      }
    }
    Finish();
    return out;
  }

  Commands Stop(std::string error, std::string cause, WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    if (status_ == ExecutionStatus::kRunning) {
      if (top_) CancelFrame(*top_);
      Details details;
      if (!error.empty()) details.Add("error", error);
      if (!cause.empty()) details.Add("cause", cause);
      Append(0, HistoryEventType::kExecutionAborted, std::move(details));
      status_ = ExecutionStatus::kAborted;
      error_ = std::move(error);
      cause_ = std::move(cause);
    }
    Finish();
    return out;
  }

  // RedriveExecution: see Execution::Redrive.
  Commands Redrive(WallTime now) {
    Commands out;
    out_ = &out;
    now_ = now;
    if (status_ == ExecutionStatus::kFailed || status_ == ExecutionStatus::kAborted ||
        status_ == ExecutionStatus::kTimedOut) {
      const int64_t terminal = history_.empty() ? 0 : history_.back().id;
      status_ = ExecutionStatus::kRunning;
      error_.clear();
      cause_.clear();
      output_.reset();
      ++redrive_count_;
      context_ = json::value();  // $$.Execution.RedriveCount changed
      Details details;
      details.Add("redriveCount", redrive_count_);
      const int64_t redriven =
          Append(terminal, HistoryEventType::kExecutionRedriven, std::move(details));
      ResumeTopFrame(redriven);
      if (std::optional<int64_t> timeout = ExecutionTimeoutSeconds()) {
        execution_timer_ = NextToken();
        out.arm_timers.push_back(
            TimerRequest{execution_timer_, now + std::chrono::seconds(*timeout)});
      }
    }
    Finish();
    return out;
  }

  ExecutionStatus status() const { return status_; }
  const std::vector<HistoryEvent>& history() const { return history_; }
  const std::optional<std::string>& output() const { return output_; }
  const std::string& error() const { return error_; }
  const std::string& cause() const { return cause_; }

 private:
  // -- events ------------------------------------------------------------------------------

  // `value` as compact JSON text in a buffer reused from call to call (valid until the next
  // call): payloads that only go into an event's details need no string of their own.
  std::string_view Serialized(const json::value& value) {
    scratch_.clear();
    AppendJson(value, &scratch_);
    return scratch_;
  }

  int64_t Append(int64_t previous, HistoryEventType type, Details details = {}) {
    // Once the execution has ended (e.g. by reaching the history limit) nothing more is
    // recorded, whatever the unwinding code still tries to emit.
    if (status_ != ExecutionStatus::kRunning) return previous;
    if (!info_.express && history_.size() + 1 >= kMaxHistoryEvents && !IsExecutionEnd(type)) {
      // The 25,000th event is the execution's failure (Step Functions quota).
      Details failed;
      failed.Add("cause", kHistoryLimitCause);
      failed.Add("error", kStatesRuntime);
      RecordEvent(previous, HistoryEventType::kExecutionFailed, std::move(failed));
      status_ = ExecutionStatus::kFailed;
      error_ = std::string(kStatesRuntime);
      cause_ = std::string(kHistoryLimitCause);
      if (top_) CancelFrame(*top_);
      runnable_.clear();
      return history_.back().id;
    }
    return RecordEvent(previous, type, std::move(details));
  }

  static bool IsExecutionEnd(HistoryEventType type) {
    return type == HistoryEventType::kExecutionSucceeded ||
           type == HistoryEventType::kExecutionFailed ||
           type == HistoryEventType::kExecutionAborted ||
           type == HistoryEventType::kExecutionTimedOut;
  }

  int64_t RecordEvent(int64_t previous, HistoryEventType type, Details details) {
    HistoryEvent event;
    event.id = static_cast<int64_t>(history_.size()) + 1;
    event.previous_event_id = previous;
    event.timestamp = now_;
    event.type = type;
    if (!HistoryEventDetailsKey(type).empty()) event.details = std::move(details);
    history_.push_back(std::move(event));
    return history_.back().id;
  }

  int64_t Emit(Frame& frame, HistoryEventType type, Details details = {}) {
    if (frame.silent) {
      // A child execution of a distributed Map keeps its own history (not recorded here).
      frame.last_event_id = ++frame.silent_events;
      return frame.last_event_id;
    }
    frame.last_event_id = Append(frame.last_event_id, type, std::move(details));
    return frame.last_event_id;
  }

  // An event that does not move the frame's chain of previousEventIds (AWS records
  // MapStateSucceeded, ParallelStateSucceeded, MapIterationSucceeded/Failed this way).
  int64_t EmitAside(Frame& frame, HistoryEventType type, Details details = {}) {
    if (frame.silent) return frame.last_event_id;
    return Append(frame.last_event_id, type, std::move(details));
  }

  // Runs transitions until the execution blocks (task, timer) or ends.
  void Drive() {
    while (status_ == ExecutionStatus::kRunning && !runnable_.empty()) {
      Frame* frame = *runnable_.pop_front();
      while (status_ == ExecutionStatus::kRunning && frame->pending_next != nullptr) {
        if (frame->silent && !info_.express &&
            static_cast<size_t>(frame->silent_events) >= kMaxHistoryEvents) {
          // A distributed Map's child execution has its own history and its own limit.
          frame->pending_next = nullptr;
          FailFrame(*frame, std::string(kStatesRuntime), std::string(kHistoryLimitCause));
          break;
        }
        const std::string& next = *frame->pending_next;
        frame->pending_next = nullptr;
        EnterState(*frame, next, std::move(frame->pending_input),
                   std::move(frame->pending_input_text));
        // A frame whose children were just started lets them run first.
        if (frame->fanout) break;
      }
    }
  }

  // Ends a call: runs what became runnable, then marks whether the execution finished. The
  // caller returns its `out` by name, so the Commands are never copied or moved.
  void Finish() {
    Drive();
    graveyard_.clear();
    if (status_ != ExecutionStatus::kRunning && execution_timer_ != 0) {
      out_->cancel_timers.push_back(execution_timer_);
      execution_timer_ = 0;
    }
    out_->finished = status_ != ExecutionStatus::kRunning;
    out_ = nullptr;
  }

  // -- evaluation scope --------------------------------------------------------------------

  // The context object ($$) for `frame`'s current state, or null when the state never reads
  // it (building it costs more than running a simple state). One object per execution: the
  // Execution and StateMachine parts are built once, State is refreshed on every call. The
  // pointer is valid until the next call.
  json::value* ContextFor(const Frame& frame) {
    if (!frame.state->reads_context) return nullptr;
    if (context_.is_null()) {
      json::object execution;
      execution["Id"] = info_.execution_arn;
      if (execution_input_text_.empty()) {
        execution["Input"] = execution_input_;
      } else {
        // The text ExecutionStarted recorded, which `input` was parsed from.
        auto parsed = ParseJson(execution_input_text_);
        if (parsed.ok()) execution["Input"] = std::move(parsed).value();
      }
      execution["Name"] = info_.execution_name;
      execution["RoleArn"] = info_.role_arn;
      execution["StartTime"] = FormatRfc3339Millis(info_.start_time);
      execution["RedriveCount"] = redrive_count_;
      json::object state_machine;
      state_machine["Id"] = info_.state_machine_arn;
      state_machine["Name"] = info_.state_machine_name;
      json::object context;
      context["Execution"] = std::move(execution);
      context["StateMachine"] = std::move(state_machine);
      context_ = std::move(context);
    }
    json::object state;
    state["EnteredTime"] = FormatRfc3339Millis(frame.entered_time);
    state["Name"] = frame.state->name;
    // Only states that can retry carry RetryCount (the corpus records Pass states without it).
    if (frame.state->type == StateType::kTask || frame.state->type == StateType::kParallel ||
        frame.state->type == StateType::kMap) {
      state["RetryCount"] = frame.retry_count;
    }
    json::object& context = context_.as_object();
    context["State"] = std::move(state);
    context.erase("Map");
    return &context_;
  }

  // A scope whose "$" is `input` and "$$" `context` (may be null); both must outlive it.
  EvaluationScope ScopeFor(const Frame& frame, const json::value* input,
                           const json::value* context) {
    EvaluationScope scope;
    scope.input = input;
    scope.context = context;
    const VariableScope* variables = frame.variables.get();
    scope.variable = [variables](std::string_view name) { return variables->Find(name); };
    scope.random = &random_;
    return scope;
  }

  std::string Cause(const Frame& frame, const Status& status) const {
    return StateErrorCause(frame.state->name, frame.entered_event_id, status.message());
  }

  static std::string ErrorName(const Status& status) {
    return status.error_name().empty() ? std::string(kStatesRuntime)
                                       : std::string(status.error_name());
  }

  // -- states ------------------------------------------------------------------------------

  // `input_text` is `input` as compact JSON when the caller already has it (a state's output
  // text is the next state's input text), else empty.
  void EnterState(Frame& frame, const std::string& name, json::value input,
                  std::string input_text = {}) {
    const State* state = frame.scope->Transition(name);
    if (frame.parent == nullptr && state != redrive_state_) {
      redrive_results_.clear();
      redrive_state_ = nullptr;
    }
    frame.state = state;
    frame.raw_input = std::move(input);
    frame.entered_time = now_;
    frame.retry_count = 0;
    frame.retry_parameters.reset();
    frame.retrier_attempts.assign(state->retry.size(), 0);
    Details details;
    if (OutputIsInput(*state) || MaySpliceOutput(*state, frame.raw_input)) {
      // Kept: the state's output will be this very text (OutputIsInput), or this text with a
      // member added (MaySpliceOutput).
      frame.raw_input_text =
          input_text.empty() ? SerializeJson(frame.raw_input) : std::move(input_text);
      details.Add("input", frame.raw_input_text);
    } else {
      frame.raw_input_text.clear();
      details.Add("input",
                  input_text.empty() ? Serialized(frame.raw_input) : std::string_view(input_text));
    }
    details.NotTruncated("inputDetails");
    details.Add("name", state->name);
    frame.entered_event_id = Emit(frame, EnteredType(state->type), std::move(details));

    if (state->query_language == QueryLanguage::kJsonata) {
      FailFrame(frame, std::string(kStatesRuntime),
                StateErrorCause(state->name, frame.entered_event_id,
                                "The JSONata query language is not supported by this engine "
                                "yet."));
      return;
    }
    switch (state->type) {
      case StateType::kPass:
        RunPass(frame);
        break;
      case StateType::kSucceed:
        RunSucceed(frame);
        break;
      case StateType::kFail:
        RunFail(frame);
        break;
      case StateType::kChoice:
        RunChoice(frame);
        break;
      case StateType::kWait:
        RunWait(frame);
        break;
      case StateType::kTask:
        RunTask(frame);
        break;
      case StateType::kParallel:
        RunParallel(frame);
        break;
      case StateType::kMap:
        RunMap(frame);
        break;
    }
  }

  // InputPath applied to the raw input.
  bool ComputeEffectiveInput(Frame& frame) {
    if (frame.state->input_path == nullptr && !frame.state->input_path_null) {
      frame.effective = &frame.raw_input;
      return true;
    }
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, &frame.raw_input, context);
    auto effective = ApplyInputPath(*frame.state, scope);
    if (!effective.ok()) {
      FailState(frame, ErrorName(effective.status()), Cause(frame, effective.status()));
      return false;
    }
    frame.effective_storage = std::move(effective).value();
    frame.effective = &frame.effective_storage;
    return true;
  }

  // True when a state's output is always its raw input unchanged: a Succeed, Choice or Wait
  // state without InputPath and OutputPath. Its input text then serves as its output text.
  static bool OutputIsInput(const State& state) {
    return (state.type == StateType::kSucceed || state.type == StateType::kChoice ||
            state.type == StateType::kWait) &&
           state.input_path == nullptr && !state.input_path_null && state.output_path == nullptr &&
           !state.output_path_null;
  }

  // The member a ResultPath of the form "$.name" adds at the top level, or null for any other
  // ResultPath. When the raw input is an object without that member, the document after
  // ResultPath is the input with the member appended, and its text is the input text with
  // `,"name":<result>` inserted before the closing brace (see SpliceMember): no need to
  // serialise the whole document again.
  static const std::string* TopLevelMember(const ResultPathSpec& spec) {
    if (spec.discard || spec.path == nullptr || spec.path->root() != JsonPath::Root::kInput ||
        spec.path->segments().size() != 1) {
      return nullptr;
    }
    const auto* field = std::get_if<FieldSegment>(&spec.path->segments()[0]);
    return field == nullptr ? nullptr : &field->name;
  }

  // Whether `state`'s output text may be spliced from its input text `input`: after its
  // ResultPath (no OutputPath), or after a Catcher's, adding a member `input` lacks.
  static bool MaySpliceOutput(const State& state, const json::value& input) {
    const json::object* object = input.if_object();
    if (state.query_language != QueryLanguage::kJsonPath || object == nullptr) return false;
    const auto adds = [object](const ResultPathSpec& spec) {
      const std::string* member = TopLevelMember(spec);
      return member != nullptr && !object->contains(*member);
    };
    if (state.output_path == nullptr && !state.output_path_null && adds(state.result_path)) {
      return true;
    }
    for (const Catcher& catcher : state.catch_) {
      if (adds(catcher.result_path)) return true;
    }
    return false;
  }

  // The member `spec` adds to `frame`'s document when the output text can be spliced from the
  // kept input text (the member is new to an object input), else null.
  static const std::string* SpliceableMember(const Frame& frame, const ResultPathSpec& spec) {
    const std::string* member = TopLevelMember(spec);
    if (member == nullptr || frame.raw_input_text.size() < 2) return nullptr;
    const json::object* input = frame.raw_input.if_object();
    if (input == nullptr || input->contains(*member)) return nullptr;
    return member;
  }

  // The text of `frame`'s document once `member` (from SpliceableMember) holds a result whose
  // text is `result_text`.
  static std::string SplicedOutput(const Frame& frame, const std::string& member,
                                   std::string_view result_text) {
    const std::string& text = frame.raw_input_text;
    std::string out;
    out.reserve(text.size() + member.size() + result_text.size() + 8);
    out.append(text, 0, text.size() - 1);  // all but the closing brace
    if (text.size() > 2) out += ',';       // "{}" has no member to follow
    AppendJsonString(member, &out);
    out += ':';
    out += result_text;
    out += '}';
    return out;
  }

  // The output text of a state that produced no new document (Succeed, Choice, Wait): its input
  // text when OutputIsInput, else empty (ExitState serialises the output).
  static std::string TakeInputTextAsOutput(Frame& frame) {
    return OutputIsInput(*frame.state) ? std::move(frame.raw_input_text) : std::string();
  }

  // The effective input, to be consumed by a state's last step (OutputPath of a state that
  // produces no result: Succeed, Choice, Wait). Moving from it is safe only once nothing else
  // reads it; ApplyOutputPath moves only when it cannot fail.
  static json::value&& TakeEffective(Frame& frame) {
    return std::move(frame.effective == &frame.raw_input ? frame.raw_input
                                                         : frame.effective_storage);
  }

  // Result → ResultSelector → ResultPath → OutputPath → Assign, then Exited and the transition.
  // `result_text` is `result` as compact JSON when the caller has it at hand (valid for the
  // call), else empty.
  void CompleteState(Frame& frame, json::value result, bool apply_result_selector,
                     std::string_view result_text = {}) {
    const State& state = *frame.state;
    const json::value* context = ContextFor(frame);
    const bool select = apply_result_selector && state.result_selector.has_value();
    // The output text, spliced from the input text when the ResultPath allows it: computed
    // first, while `result_text` (which may live in the serialisation buffer) is still valid.
    std::string output_text;
    const std::string* member = state.output_path == nullptr && !state.output_path_null
                                    ? SpliceableMember(frame, state.result_path)
                                    : nullptr;
    if (member != nullptr && !select) {
      output_text =
          SplicedOutput(frame, *member, result_text.empty() ? Serialized(result) : result_text);
    }
    if (select) {
      EvaluationScope scope = ScopeFor(frame, &result, context);
      auto selected = EvaluateTemplate(*state.result_selector, scope);
      if (!selected.ok()) {
        FailState(frame, ErrorName(selected.status()), Cause(frame, selected.status()));
        return;
      }
      result = std::move(selected).value();
      if (member != nullptr) output_text = SplicedOutput(frame, *member, Serialized(result));
    }
    json::object bindings;
    if (state.assign) {
      EvaluationScope scope = ScopeFor(frame, &result, context);
      auto assigned = EvaluateAssign(*state.assign, scope);
      if (!assigned.ok()) {
        FailState(frame, ErrorName(assigned.status()), Cause(frame, assigned.status()));
        return;
      }
      bindings = std::move(assigned).value();
    }
    // The raw input is not needed after ResultPath (a failure leaves it for the Catchers).
    auto with_result =
        ApplyResultPath(std::move(frame.raw_input), std::move(result), state.result_path);
    if (!with_result.ok()) {
      FailState(frame, ErrorName(with_result.status()), Cause(frame, with_result.status()));
      return;
    }
    json::value after_result = std::move(with_result).value();
    EvaluationScope out_scope = ScopeFor(frame, &after_result, context);
    auto output = ApplyOutputPath(state, std::move(after_result), out_scope);
    if (!output.ok()) {
      FailState(frame, ErrorName(output.status()), Cause(frame, output.status()));
      return;
    }
    ExitState(frame, std::move(output).value(), std::move(bindings), state.next,
              std::move(output_text));
  }

  // `next` must be owned by the definition: the transition is taken later, by Drive().
  // `output_text` is `output` as compact JSON when the caller has it already, else empty.
  void ExitState(Frame& frame, json::value output, json::object bindings, const std::string& next,
                 std::string output_text = {}) {
    const State& state = *frame.state;
    if (output_text.empty()) output_text = SerializeJson(output);
    if (output_text.size() > kMaxPayloadBytes) {
      FailFrame(frame, std::string(kStatesDataLimitExceeded),
                "The state/task '" + state.name +
                    "' returned a result with a size exceeding the maximum number of bytes "
                    "service limit.");
      return;
    }
    Details details;
    if (!bindings.empty()) {
      // {"name": "<the value as JSON text>", ...}
      std::string assigned = "{";
      for (const auto& b : bindings) {
        if (assigned.size() > 1) assigned += ',';
        AppendJsonString(std::string_view(b.key().data(), b.key().size()), &assigned);
        assigned += ':';
        AppendJsonString(SerializeJson(b.value()), &assigned);
      }
      assigned += '}';
      details.Raw("assignedVariables", assigned);
      details.NotTruncated("assignedVariablesDetails");
    }
    details.Add("name", state.name);
    details.Add("output", output_text);
    details.NotTruncated("outputDetails");
    Emit(frame, ExitedType(state.type), std::move(details));
    for (auto& b : bindings) frame.variables->values[b.key()] = std::move(b.value());

    if (state.type == StateType::kSucceed || (next.empty() && state.end)) {
      FrameSucceeded(frame, std::move(output), std::move(output_text));
    } else {
      frame.pending_next = &next;
      frame.pending_input = std::move(output);
      frame.pending_input_text = std::move(output_text);
      if (!runnable_.contains(&frame)) {
        runnable_.push_back(&frame);
      }
    }
  }

  // Parameters evaluated against the effective input, or the effective input itself. False
  // (and the state failed) on an evaluation error.
  bool ApplyParameters(Frame& frame, json::value* out) {
    if (!frame.state->parameters) {
      *out = *frame.effective;
      return true;
    }
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    auto evaluated = EvaluateTemplate(*frame.state->parameters, scope);
    if (!evaluated.ok()) {
      FailState(frame, ErrorName(evaluated.status()), Cause(frame, evaluated.status()));
      return false;
    }
    *out = std::move(evaluated).value();
    return true;
  }

  void RunPass(Frame& frame) {
    const State& state = *frame.state;
    if (!ComputeEffectiveInput(frame)) return;
    json::value result;
    if (!ApplyParameters(frame, &result)) return;
    if (state.result) result = *state.result;
    CompleteState(frame, std::move(result), /*apply_result_selector=*/false);
  }

  void RunSucceed(Frame& frame) {
    if (!ComputeEffectiveInput(frame)) return;
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    auto output = ApplyOutputPath(*frame.state, TakeEffective(frame), scope);
    if (!output.ok()) {
      FailState(frame, ErrorName(output.status()), Cause(frame, output.status()));
      return;
    }
    ExitState(frame, std::move(output).value(), {}, frame.state->next,
              TakeInputTextAsOutput(frame));
  }

  void RunFail(Frame& frame) {
    const State& state = *frame.state;
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, &frame.raw_input, context);
    auto resolve = [&](const DynamicString& field, std::string_view path_field,
                       std::string* out) -> bool {
      if (field.literal) {
        *out = *field.literal;
      } else if (field.path) {
        auto v = EvaluatePathField(*field.path, path_field, scope);
        if (!v.ok()) {
          FailFrame(frame, ErrorName(v.status()), Cause(frame, v.status()));
          return false;
        }
        *out = v->is_string() ? std::string(v->get_string()) : SerializeJson(*v);
      } else if (field.intrinsic) {
        auto v = EvaluateIntrinsic(*field.intrinsic, scope);
        if (!v.ok()) {
          FailFrame(frame, ErrorName(v.status()), Cause(frame, v.status()));
          return false;
        }
        *out = v->is_string() ? std::string(v->get_string()) : SerializeJson(*v);
      }
      return true;
    };
    std::string error, cause;
    if (!resolve(state.error, "ErrorPath", &error)) return;
    if (!resolve(state.cause, "CausePath", &cause)) return;
    FailFrame(frame, std::move(error), std::move(cause));
  }

  void RunChoice(Frame& frame) {
    const State& state = *frame.state;
    if (!ComputeEffectiveInput(frame)) return;
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    auto chosen = EvaluateChoices(state.choices, scope);
    if (!chosen.ok()) {
      FailState(frame, ErrorName(chosen.status()), Cause(frame, chosen.status()));
      return;
    }
    const std::string* next = nullptr;  // owned by the definition
    const ChoiceRule* rule = nullptr;
    if (chosen->has_value()) {
      rule = &state.choices[**chosen];
      next = &rule->next;
    } else if (!state.default_next.empty()) {
      next = &state.default_next;
    } else {
      Status none = NoChoiceMatchedError();
      FailState(frame, ErrorName(none), Cause(frame, none));
      return;
    }
    json::object bindings;
    for (const ValueTemplate* assign : {rule && rule->assign ? &*rule->assign : nullptr,
                                        state.assign ? &*state.assign : nullptr}) {
      if (assign == nullptr) continue;
      auto assigned = EvaluateAssign(*assign, scope);
      if (!assigned.ok()) {
        FailState(frame, ErrorName(assigned.status()), Cause(frame, assigned.status()));
        return;
      }
      for (auto& b : *assigned) bindings[b.key()] = std::move(b.value());
      break;  // a matched rule's Assign replaces the state's
    }
    auto output = ApplyOutputPath(state, TakeEffective(frame), scope);
    if (!output.ok()) {
      FailState(frame, ErrorName(output.status()), Cause(frame, output.status()));
      return;
    }
    ExitState(frame, std::move(output).value(), std::move(bindings), *next,
              TakeInputTextAsOutput(frame));
  }

  void RunWait(Frame& frame) {
    const State& state = *frame.state;
    if (!ComputeEffectiveInput(frame)) return;
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    auto fail = [&](const std::string& detail) {
      FailState(frame, std::string(kStatesRuntime),
                StateErrorCause(state.name, frame.entered_event_id, detail));
    };
    // How AWS quotes a value in these causes: "$.path == value", strings unquoted.
    auto quote = [](const JsonPath& path, const json::value& v) {
      return path.text() +
             " == " + (v.is_string() ? std::string(v.get_string()) : SerializeJson(v));
    };
    WallTime deadline = now_;
    if (state.seconds.literal) {
      deadline = now_ + std::chrono::duration_cast<Duration>(
                            std::chrono::duration<double>(*state.seconds.literal));
    } else if (state.seconds.path) {
      auto v = EvaluatePathField(*state.seconds.path, "SecondsPath", scope);
      if (!v.ok()) {
        FailState(frame, ErrorName(v.status()), Cause(frame, v.status()));
        return;
      }
      if (!v->is_int64() && !v->is_uint64()) {
        fail("The SecondsPath parameter cannot be parsed as a long value: " +
             quote(*state.seconds.path, *v));
        return;
      }
      if (v->is_int64() && v->get_int64() < 0) {
        fail("The SecondsPath parameter references a negative value: " +
             quote(*state.seconds.path, *v));
        return;
      }
      const double seconds = v->to_number<double>();
      if (seconds > kMaxWaitSeconds) {
        fail("Wait state delay is too long.");
        return;
      }
      deadline = now_ + std::chrono::seconds(static_cast<int64_t>(seconds));
    } else {
      std::string text;
      if (state.timestamp.literal) {
        text = *state.timestamp.literal;
      } else if (state.timestamp.path) {
        auto v = EvaluatePathField(*state.timestamp.path, "TimestampPath", scope);
        if (!v.ok()) {
          FailState(frame, ErrorName(v.status()), Cause(frame, v.status()));
          return;
        }
        text = v->is_string() ? std::string(v->get_string()) : SerializeJson(*v);
        if (!ParseRfc3339(text).ok()) {
          fail(
              "The TimestampPath parameter does not reference a valid ISO-8601 extended offset "
              "date-time format string: " +
              quote(*state.timestamp.path, *v));
          return;
        }
      }
      auto t = ParseRfc3339(text);
      if (!t.ok()) {
        fail(
            "The Timestamp parameter is not a valid ISO-8601 extended offset date-time format "
            "string: " +
            text);
        return;
      }
      if (*t - now_ > std::chrono::seconds(kMaxWaitSeconds)) {
        fail("Wait state delay is too long.");
        return;
      }
      deadline = *t;
    }
    frame.wait_timer = ArmTimer(frame, deadline);
  }

  void FinishWait(Frame& frame) {
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    json::object bindings;
    if (frame.state->assign) {
      auto assigned = EvaluateAssign(*frame.state->assign, scope);
      if (!assigned.ok()) {
        FailState(frame, ErrorName(assigned.status()), Cause(frame, assigned.status()));
        return;
      }
      bindings = std::move(assigned).value();
    }
    auto output = ApplyOutputPath(*frame.state, TakeEffective(frame), scope);
    if (!output.ok()) {
      FailState(frame, ErrorName(output.status()), Cause(frame, output.status()));
      return;
    }
    ExitState(frame, std::move(output).value(), std::move(bindings), frame.state->next,
              TakeInputTextAsOutput(frame));
  }

  // -- tasks -------------------------------------------------------------------------------

  // Runs the current state again after a Retrier's delay (no new Entered event).
  void RetryState(Frame& frame) {
    switch (frame.state->type) {
      case StateType::kParallel:
        RunParallel(frame);
        break;
      case StateType::kMap:
        RunMap(frame);
        break;
      default:
        ScheduleTask(frame);
        break;
    }
  }

  void RunTask(Frame& frame) {
    frame.resource = ParseResource(frame.state->resource);
    ScheduleTask(frame);
  }

  Details ServiceDetails(const Frame& frame) const {
    Details details;
    details.Add("resource", frame.resource.action);
    details.Add("resourceType", frame.resource.service);
    return details;
  }

  // Evaluates the Task's input and timeouts, records the scheduling event and asks the engine
  // to run it. Called on entry and for every retry.
  void ScheduleTask(Frame& frame) {
    const State& state = *frame.state;
    // A retry of a state whose input cannot change takes the previous attempt's input back,
    // with the text its Scheduled event recorded, rather than evaluating it again.
    json::value parameters;
    std::optional<std::string_view> recorded_text;
    if (frame.retry_count > 0 && frame.retry_parameters && !frame.silent &&
        frame.scheduled_event_id > 0) {
      parameters = std::move(*frame.retry_parameters);
      recorded_text = history_[static_cast<size_t>(frame.scheduled_event_id - 1)].details.Find(
          frame.resource.kind == TaskKind::kLambdaFunction ? "input" : "parameters");
    }
    frame.retry_parameters.reset();
    if (!recorded_text) {
      if (!ComputeEffectiveInput(frame)) return;
      if (!ApplyParameters(frame, &parameters)) return;
    }
    // The text recorded in the event; copied by Details::Add before the history grows.
    const auto input_text = [&]() -> std::string_view {
      return recorded_text ? *recorded_text : Serialized(parameters);
    };
    auto seconds = [&](const DynamicNumber& n, std::string_view field,
                       std::optional<int64_t>* out) -> bool {
      if (n.literal) {
        *out = static_cast<int64_t>(*n.literal);
      } else if (n.path) {
        const EvaluationScope scope = ScopeFor(frame, frame.effective, ContextFor(frame));
        auto v = EvaluatePathField(*n.path, field, scope);
        if (!v.ok()) {
          FailState(frame, ErrorName(v.status()), Cause(frame, v.status()));
          return false;
        }
        if (!v->is_int64() || v->get_int64() <= 0) {
          FailState(
              frame, std::string(kStatesRuntime),
              StateErrorCause(state.name, frame.entered_event_id,
                              "The value of the field '" + std::string(field) +
                                  "' must be a positive integer, got " + SerializeJson(*v) + "."));
          return false;
        }
        *out = v->get_int64();
      }
      return true;
    };
    std::optional<int64_t> timeout, heartbeat;
    if (!seconds(state.timeout_seconds, "TimeoutSecondsPath", &timeout)) return;
    if (!seconds(state.heartbeat_seconds, "HeartbeatSecondsPath", &heartbeat)) return;

    TaskInvocation task;
    task.token = NextToken();
    task.kind = frame.resource.kind;
    task.resource = state.resource;
    task.service = frame.resource.service;
    task.action = frame.resource.action;
    task.state_name = state.name;
    task.attempt = frame.retry_count;
    task.timeout_seconds = timeout;
    task.heartbeat_seconds = heartbeat;

    Details details;
    if (frame.resource.kind == TaskKind::kLambdaFunction) {
      details.Add("input", input_text());
      details.NotTruncated("inputDetails");
      details.Add("resource", state.resource);
      if (timeout) details.Add("timeoutInSeconds", *timeout);
      task.parameters = std::move(parameters);
      frame.scheduled_event_id =
          Emit(frame, HistoryEventType::kLambdaFunctionScheduled, std::move(details));
    } else {
      details.Add("parameters", input_text());
      // The ARN of an optimised integration has no region: the execution's region is recorded.
      if (frame.resource.region.empty()) {
        details.Add("region", Region());
      } else {
        details.Add("region", frame.resource.region);
      }
      details.Add("resource", frame.resource.action);
      details.Add("resourceType", frame.resource.service);
      if (timeout) details.Add("timeoutInSeconds", *timeout);
      if (heartbeat) details.Add("heartbeatInSeconds", *heartbeat);
      task.parameters = std::move(parameters);
      frame.scheduled_event_id = Emit(frame, HistoryEventType::kTaskScheduled, std::move(details));
    }
    frame.task_token = task.token;
    task_frames_[task.token] = &frame;
    if (timeout) frame.timeout_timer = ArmTimer(frame, now_ + std::chrono::seconds(*timeout));
    out_->run_tasks.push_back(std::move(task));
  }

  void OnTaskSucceeded(Frame& frame, json::value result) {
    const std::string_view text = Serialized(result);
    if (text.size() > kMaxPayloadBytes) {
      // The result never reaches the history; the task fails as AWS records it.
      // AWS names the function ARN, or the service of an optimised integration ('lambda').
      const std::string_view source = frame.resource.kind == TaskKind::kService
                                          ? frame.resource.service
                                          : std::string_view(frame.state->resource);
      OnTaskFailed(frame, std::string(kStatesDataLimitExceeded),
                   "The state/task '" + std::string(source) +
                       "' returned a result with a size exceeding the maximum number of bytes "
                       "service limit.");
      return;
    }
    Details details;
    details.Add("output", text);
    details.NotTruncated("outputDetails");
    if (frame.resource.kind == TaskKind::kLambdaFunction) {
      Emit(frame, HistoryEventType::kLambdaFunctionSucceeded, std::move(details));
    } else {
      Details service = ServiceDetails(frame);
      service.Merge(details);
      Emit(frame, HistoryEventType::kTaskSucceeded, std::move(service));
    }
    CompleteState(frame, std::move(result), /*apply_result_selector=*/true, text);
  }

  void OnTaskFailed(Frame& frame, std::string error, std::string cause) {
    Details details;
    details.Add("cause", cause);
    details.Add("error", error);
    if (frame.resource.kind == TaskKind::kLambdaFunction) {
      Emit(frame, HistoryEventType::kLambdaFunctionFailed, std::move(details));
    } else {
      Details service = ServiceDetails(frame);
      service.Merge(details);
      Emit(frame, HistoryEventType::kTaskFailed, std::move(service));
    }
    FailState(frame, std::move(error), std::move(cause));
  }

  void OnTaskTimedOut(Frame& frame) {
    Details details;
    details.Add("error", kStatesTimeout);
    if (frame.resource.kind == TaskKind::kLambdaFunction) {
      Emit(frame, HistoryEventType::kLambdaFunctionTimedOut, std::move(details));
    } else {
      Details service = ServiceDetails(frame);
      service.Add("error", kStatesTimeout);
      Emit(frame, HistoryEventType::kTaskTimedOut, std::move(service));
    }
    FailState(frame, std::string(kStatesTimeout), "");
  }

  // -- errors ------------------------------------------------------------------------------

  // A state failed with (error, cause): retry, catch, or fail the frame.
  void FailState(Frame& frame, std::string error, std::string cause) {
    if (TryRetry(frame, error)) return;
    CatchOrFail(frame, std::move(error), std::move(cause));
  }

  // Arms the first matching Retrier's delay, if it has attempts left. AWS: States.Runtime "will
  // always cause the execution to fail"; no Retrier or Catcher applies to it, not even one naming
  // it (recorded in test_catch_states_runtime).
  bool TryRetry(Frame& frame, std::string_view error) {
    const State& state = *frame.state;
    if (error == kStatesRuntime) return false;
    for (size_t i = 0; i < state.retry.size(); ++i) {
      const Retrier& retrier = state.retry[i];
      if (!ErrorMatches(retrier.error_equals, error)) continue;
      int64_t& attempts = frame.retrier_attempts[i];
      if (attempts >= retrier.max_attempts) return false;  // the first matching one decides
      double delay = static_cast<double>(retrier.interval_seconds);
      if (retrier.backoff_rate != 1.0 && attempts > 0) {
        delay *= std::pow(retrier.backoff_rate, static_cast<double>(attempts));
      }
      if (retrier.max_delay_seconds) {
        delay = std::min(delay, static_cast<double>(*retrier.max_delay_seconds));
      }
      if (retrier.jitter == JitterStrategy::kFull) delay *= random_.NextDouble();
      ++attempts;
      ++frame.retry_count;
      frame.waiting_for_retry = true;
      frame.wait_timer = ArmTimer(
          frame, now_ + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(delay)));
      return true;
    }
    return false;
  }

  // The first matching Catcher's transition, or the frame's failure.
  void CatchOrFail(Frame& frame, std::string error, std::string cause) {
    const State& state = *frame.state;
    if (error == kStatesRuntime) {
      FailFrame(frame, std::move(error), std::move(cause));
      return;
    }
    for (const Catcher& catcher : state.catch_) {
      if (!ErrorMatches(catcher.error_equals, error)) continue;
      json::object error_output;
      error_output["Error"] = error;
      error_output["Cause"] = cause;
      std::string output_text;
      if (const std::string* member = SpliceableMember(frame, catcher.result_path)) {
        output_text = SplicedOutput(frame, *member, Serialized(error_output));
      }
      // The state is over: its raw input is consumed (and left as it was on failure).
      auto output =
          ApplyResultPath(std::move(frame.raw_input), std::move(error_output), catcher.result_path);
      if (!output.ok()) {
        FailFrame(frame, ErrorName(output.status()), Cause(frame, output.status()));
        return;
      }
      ExitState(frame, std::move(output).value(), {}, catcher.next, std::move(output_text));
      return;
    }
    FailFrame(frame, std::move(error), std::move(cause));
  }

  // `output_text` is `output` as compact JSON when the caller has it already, else empty.
  void FrameSucceeded(Frame& frame, json::value output, std::string output_text = {}) {
    if (frame.parent != nullptr) {
      ChildSucceeded(frame, std::move(output));
      return;
    }
    std::string text = output_text.empty() ? SerializeJson(output) : std::move(output_text);
    Details details;
    details.Add("output", text);
    details.NotTruncated("outputDetails");
    Emit(frame, HistoryEventType::kExecutionSucceeded, std::move(details));
    status_ = ExecutionStatus::kSucceeded;
    output_ = std::move(text);
  }

  void FailFrame(Frame& frame, std::string error, std::string cause) {
    if (frame.parent != nullptr) {
      ChildFailed(frame, std::move(error), std::move(cause));
      return;
    }
    Details details;
    if (!cause.empty()) details.Add("cause", cause);
    if (!error.empty()) details.Add("error", error);
    Emit(frame, HistoryEventType::kExecutionFailed, std::move(details));
    status_ = ExecutionStatus::kFailed;
    error_ = std::move(error);
    cause_ = std::move(cause);
  }

  // -- Parallel and Map --------------------------------------------------------------------

  void RunParallel(Frame& frame) {
    const State& state = *frame.state;
    if (!ComputeEffectiveInput(frame)) return;
    json::value input;
    if (!ApplyParameters(frame, &input)) return;
    auto fan = std::make_unique<Fanout>();
    fan->inputs.assign(state.branches.size(), input);
    fan->started_event_id = Emit(frame, HistoryEventType::kParallelStateStarted);
    StartFanout(frame, std::move(fan));
  }

  void RunMap(Frame& frame) {
    const State& state = *frame.state;
    if (!ComputeEffectiveInput(frame)) return;
    const json::value* context = ContextFor(frame);
    EvaluationScope scope = ScopeFor(frame, frame.effective, context);
    // The items: the effective input itself (not copied) or what ItemsPath selects.
    const json::value* items_source = frame.effective;
    json::value selected_items;
    if (state.items_path) {
      auto selected = EvaluatePathField(*state.items_path, "ItemsPath", scope);
      if (!selected.ok()) {
        FailState(frame, ErrorName(selected.status()), Cause(frame, selected.status()));
        return;
      }
      selected_items = std::move(selected).value();
      items_source = &selected_items;
    }
    const json::value& items_value = *items_source;
    if (!items_value.is_array()) {
      FailState(frame, std::string(kStatesRuntime),
                StateErrorCause(
                    state.name, frame.entered_event_id,
                    "Invalid path '" + (state.items_path ? state.items_path->text() : "$") +
                        "': The value at the path is not an array: " + SerializeJson(items_value)));
      return;
    }
    auto fan = std::make_unique<Fanout>();
    fan->is_map = true;
    fan->distributed = state.map_mode == MapMode::kDistributed;
    std::optional<int64_t> max_concurrency;
    if (!ResolveCount(frame, scope, state.max_concurrency, "MaxConcurrencyPath",
                      &max_concurrency)) {
      return;
    }
    fan->max_concurrency = max_concurrency ? static_cast<size_t>(*max_concurrency) : 0;
    const json::array& items = items_value.get_array();
    fan->inputs.reserve(items.size());
    if (!state.item_selector) {
      fan->inputs.assign(items.begin(), items.end());
    } else {
      // $$.Map.Item for each item, set on the shared context object (a Map always has one):
      // one Map.Item object whose members are overwritten item after item.
      json::value* item_context = ContextFor(frame);
      json::object& item =
          item_context->as_object()["Map"].emplace_object()["Item"].emplace_object();
      item["Index"] = 0;
      item["Value"] = nullptr;
      json::value& index_slot = item["Index"];
      json::value& value_slot = item["Value"];
      EvaluationScope item_scope = ScopeFor(frame, frame.effective, item_context);
      for (size_t i = 0; i < items.size(); ++i) {
        index_slot = static_cast<int64_t>(i);
        value_slot = items[i];
        auto selected = EvaluateTemplate(*state.item_selector, item_scope);
        if (!selected.ok()) {
          FailState(frame, ErrorName(selected.status()), Cause(frame, selected.status()));
          return;
        }
        fan->inputs.push_back(std::move(selected).value());
      }
    }
    Details started;
    started.Add("length", static_cast<int64_t>(items.size()));
    fan->started_event_id = Emit(frame, HistoryEventType::kMapStateStarted, std::move(started));
    // AWS reads the tolerated-failure thresholds after recording MapStateStarted.
    if (state.tolerated_failure_count.literal) {
      fan->tolerated_count = state.tolerated_failure_count.literal;
    } else if (state.tolerated_failure_count.path) {
      std::optional<int64_t> n;
      if (!ResolveCount(frame, scope, state.tolerated_failure_count, "ToleratedFailureCountPath",
                        &n)) {
        return;
      }
      if (n) fan->tolerated_count = static_cast<double>(*n);
    }
    if (state.tolerated_failure_percentage.literal) {
      fan->tolerated_percentage = state.tolerated_failure_percentage.literal;
    } else if (state.tolerated_failure_percentage.path) {
      auto v = EvaluatePathField(*state.tolerated_failure_percentage.path,
                                 "ToleratedFailurePercentagePath", scope);
      if (!v.ok()) {
        FailState(frame, ErrorName(v.status()), Cause(frame, v.status()));
        return;
      }
      if (!v->is_number()) {
        FailState(frame, std::string(kStatesRuntime),
                  StateErrorCause(state.name, frame.entered_event_id,
                                  "The ToleratedFailurePercentagePath field refers to value " +
                                      QuotedValue(*v) + " which is not a valid float: " +
                                      state.tolerated_failure_percentage.path->text()));
        return;
      }
      if (v->to_number<double>() < 0 || v->to_number<double>() > 100) {
        FailState(frame, std::string(kStatesRuntime),
                  StateErrorCause(state.name, frame.entered_event_id,
                                  "ToleratedFailurePercentage must be between 0 and 100."));
        return;
      }
      fan->tolerated_percentage = v->to_number<double>();
    }

    if (fan->distributed) {
      Details run;
      run.Add("mapRunArn", MapRunArn(state));
      Emit(frame, HistoryEventType::kMapRunStarted, std::move(run));
    }
    StartFanout(frame, std::move(fan));
  }

  // MaxConcurrency / ToleratedFailureCount: literal or "...Path" (a non-negative integer).
  bool ResolveCount(Frame& frame, const EvaluationScope& scope, const DynamicNumber& n,
                    std::string_view path_field, std::optional<int64_t>* out) {
    if (n.literal) {
      *out = static_cast<int64_t>(*n.literal);
      return true;
    }
    if (!n.path) return true;
    auto v = EvaluatePathField(*n.path, path_field, scope);
    if (!v.ok()) {
      FailState(frame, ErrorName(v.status()), Cause(frame, v.status()));
      return false;
    }
    if (!v->is_int64()) {
      FailState(frame, std::string(kStatesRuntime),
                StateErrorCause(frame.state->name, frame.entered_event_id,
                                "The " + std::string(path_field) + " field refers to value " +
                                    QuotedValue(*v) +
                                    " which is not a valid integer: " + n.path->text()));
      return false;
    }
    if (v->get_int64() < 0) {
      // The field's name without "Path": "ToleratedFailureCount cannot be negative."
      // (AWS leaves an execution with a negative MaxConcurrencyPath hanging; this fails it.)
      FailState(frame, std::string(kStatesRuntime),
                StateErrorCause(frame.state->name, frame.entered_event_id,
                                std::string(path_field.substr(0, path_field.size() - 4)) +
                                    " cannot be negative."));
      return false;
    }
    *out = v->get_int64();
    return true;
  }

  // A value as AWS quotes it in these causes: "NoNumber", "{}" (strings unescaped).
  static std::string QuotedValue(const json::value& v) {
    return "\"" + (v.is_string() ? std::string(v.get_string()) : SerializeJson(v)) + "\"";
  }

  std::string MapRunArn(const State& state) {
    // arn:aws:states:REGION:ACCOUNT:mapRun:SM/LABEL-OR-UUID:UUID
    std::string arn = info_.state_machine_arn;
    size_t pos = arn.find(":stateMachine:");
    if (pos != std::string::npos) arn.replace(pos, 14, ":mapRun:");
    std::string label = state.label.empty() ? NewUuidV4(random_) : state.label;
    return arn + "/" + label + ":" + NewUuidV4(random_);
  }

  void StartFanout(Frame& frame, std::unique_ptr<Fanout> fan) {
    const size_t n = fan->inputs.size();
    fan->results.assign(n, std::nullopt);
    fan->children.resize(n);
    fan->done.assign(n, 0);
    fan->chain_for_next_iteration = fan->started_event_id;
    if (frame.parent == nullptr && redrive_state_ == frame.state && redrive_state_ != nullptr) {
      // A redriven Parallel or Map: what succeeded before is not run again.
      if (redrive_results_.size() == n) {
        for (size_t i = 0; i < n; ++i) {
          if (!redrive_results_[i]) continue;
          fan->results[i] = std::move(redrive_results_[i]);
          fan->done[i] = 1;
          ++fan->succeeded;
        }
      }
      redrive_results_.clear();
      redrive_state_ = nullptr;
    }
    if (frame.fanout) graveyard_.push_back(std::move(frame.fanout));
    frame.fanout = std::move(fan);
    if (n == 0 || frame.fanout->succeeded == n) {
      CompleteFanout(frame);
      return;
    }
    StartChildren(frame);
  }

  void StartChildren(Frame& frame) {
    Fanout& fan = *frame.fanout;
    const State& state = *frame.state;
    while (fan.next_to_start < fan.inputs.size() &&
           (fan.max_concurrency == 0 || fan.running < fan.max_concurrency)) {
      const size_t i = fan.next_to_start++;
      if (fan.done[i]) continue;  // kept from before a redrive
      auto child = std::make_unique<Frame>();
      child->scope = fan.is_map ? state.item_processor.get() : state.branches[i].get();
      child->parent = &frame;
      child->index = i;
      child->silent = frame.silent || fan.distributed;
      auto variables = std::make_shared<VariableScope>();
      variables->parent = frame.variables;
      child->variables = std::move(variables);
      if (fan.is_map && !fan.distributed) {
        Details details;
        details.Add("index", static_cast<int64_t>(i));
        details.Add("name", state.name);
        child->last_event_id =
            frame.silent ? frame.last_event_id
                         : Append(fan.chain_for_next_iteration,
                                  HistoryEventType::kMapIterationStarted, std::move(details));
      } else if (!fan.is_map) {
        child->last_event_id = fan.started_event_id;
      }
      child->pending_next = &child->scope->start_at;
      child->pending_input = std::move(fan.inputs[i]);  // each input is used once
      runnable_.push_back(child.get());
      fan.children[i] = std::move(child);
      ++fan.running;
    }
  }

  void ChildSucceeded(Frame& child, json::value output) {
    Frame& parent = *child.parent;
    Fanout& fan = *parent.fanout;
    fan.results[child.index] = std::move(output);
    fan.done[child.index] = 1;
    --fan.running;
    ++fan.succeeded;
    if (fan.is_map && !fan.distributed) {
      Details details;
      details.Add("index", static_cast<int64_t>(child.index));
      details.Add("name", parent.state->name);
      fan.chain_for_next_iteration = child.last_event_id;
      parent.last_event_id =
          parent.silent ? parent.last_event_id
                        : Append(child.last_event_id, HistoryEventType::kMapIterationSucceeded,
                                 std::move(details));
    } else if (!fan.is_map) {
      parent.last_event_id = child.last_event_id;
    }
    AfterChild(parent);
  }

  void ChildFailed(Frame& child, std::string error, std::string cause) {
    Frame& parent = *child.parent;
    Fanout& fan = *parent.fanout;
    fan.done[child.index] = 1;
    --fan.running;
    ++fan.failed;
    if (fan.is_map && !fan.distributed) {
      Details details;
      details.Add("index", static_cast<int64_t>(child.index));
      details.Add("name", parent.state->name);
      if (!parent.silent) {
        Append(child.last_event_id, HistoryEventType::kMapIterationFailed, std::move(details));
      }
    }
    parent.last_event_id = child.last_event_id;
    if (fan.is_map && WithinTolerance(fan)) {
      AfterChild(parent);
      return;
    }
    // The state fails: stop the siblings and report the child's error.
    AbortChildren(parent);
    if (fan.is_map && fan.distributed) {
      Details details;
      details.Add("error", error);
      details.Add("cause", cause);
      Emit(parent, HistoryEventType::kMapRunFailed, std::move(details));
    }
    if (fan.is_map && (fan.tolerated_count || fan.tolerated_percentage)) {
      error = "States.ExceedToleratedFailureThreshold";
      cause = "The specified tolerated failure threshold was exceeded";
    }
    const bool is_map = fan.is_map;
    if (parent.parent == nullptr) {
      // Kept for a redrive, which reruns only what did not succeed.
      redrive_results_ = std::move(fan.results);
      redrive_state_ = parent.state;
    }
    graveyard_.push_back(std::move(parent.fanout));
    // A retried Parallel/Map starts again without a Failed event (recorded in
    // test_parallel_state_retry); otherwise MapStateFailed/ParallelStateFailed comes first.
    if (TryRetry(parent, error)) return;
    Emit(parent,
         is_map ? HistoryEventType::kMapStateFailed : HistoryEventType::kParallelStateFailed, {});
    CatchOrFail(parent, std::move(error), std::move(cause));
  }

  static bool WithinTolerance(const Fanout& fan) {
    const double failed = static_cast<double>(fan.failed);
    if (fan.tolerated_count && failed <= *fan.tolerated_count) return true;
    if (fan.tolerated_percentage && !fan.inputs.empty() &&
        failed * 100.0 / static_cast<double>(fan.inputs.size()) <= *fan.tolerated_percentage) {
      return true;
    }
    return false;
  }

  void AbortChildren(Frame& parent) {
    Fanout& fan = *parent.fanout;
    for (size_t i = 0; i < fan.children.size(); ++i) {
      Frame* child = fan.children[i].get();
      if (child == nullptr || fan.done[i]) continue;
      CancelFrame(*child);
      if (child->state != nullptr) {
        HistoryEventType aborted;
        bool emit = true;
        switch (child->state->type) {
          case StateType::kTask:
            aborted = HistoryEventType::kTaskStateAborted;
            break;
          case StateType::kWait:
            aborted = HistoryEventType::kWaitStateAborted;
            break;
          case StateType::kMap:
            aborted = HistoryEventType::kMapStateAborted;
            break;
          case StateType::kParallel:
            aborted = HistoryEventType::kParallelStateAborted;
            break;
          default:
            emit = false;
            aborted = HistoryEventType::kTaskStateAborted;
            break;
        }
        if (emit) Emit(*child, aborted);
      }
      if (fan.is_map && !fan.distributed && !parent.silent) {
        Details details;
        details.Add("index", static_cast<int64_t>(i));
        details.Add("name", parent.state->name);
        Append(child->last_event_id, HistoryEventType::kMapIterationAborted, std::move(details));
      }
      fan.done[i] = 1;
    }
    fan.running = 0;
  }

  void AfterChild(Frame& parent) {
    Fanout& fan = *parent.fanout;
    if (fan.succeeded + fan.failed == fan.inputs.size()) {
      CompleteFanout(parent);
    } else {
      StartChildren(parent);
    }
  }

  void CompleteFanout(Frame& parent) {
    Fanout& fan = *parent.fanout;
    json::array results;
    results.reserve(fan.results.size());
    for (auto& r : fan.results) results.push_back(r ? std::move(*r) : json::value());
    if (fan.is_map) {
      if (fan.distributed) Emit(parent, HistoryEventType::kMapRunSucceeded);
      EmitAside(parent, HistoryEventType::kMapStateSucceeded);
    } else {
      EmitAside(parent, HistoryEventType::kParallelStateSucceeded);
    }
    graveyard_.push_back(std::move(parent.fanout));
    CompleteState(parent, json::value(std::move(results)), /*apply_result_selector=*/true);
  }

  // -- tokens and timers -------------------------------------------------------------------

  uint64_t NextToken() { return next_token_++; }

  // The region of the state machine's ARN (arn:PARTITION:states:REGION:...).
  std::string Region() const {
    std::string_view arn = info_.state_machine_arn;
    size_t start = 0;
    for (int i = 0; i < 3; ++i) {
      start = arn.find(':', start);
      if (start == std::string_view::npos) return "";
      ++start;
    }
    size_t end = arn.find(':', start);
    return std::string(arn.substr(start, end == std::string_view::npos ? end : end - start));
  }

  uint64_t ArmTimer(Frame& frame, WallTime deadline) {
    uint64_t token = NextToken();
    out_->arm_timers.push_back(TimerRequest{token, deadline});
    timer_frames_[token] = &frame;
    return token;
  }

  void CancelTimer(uint64_t token) {
    if (token == 0) return;
    timer_frames_.erase(token);
    if (out_ != nullptr) out_->cancel_timers.push_back(token);
  }

  Frame* FrameForTask(uint64_t token) {
    if (status_ != ExecutionStatus::kRunning) return nullptr;
    auto it = task_frames_.find(token);
    if (it == task_frames_.end()) return nullptr;
    Frame* frame = it->second;
    return frame;
  }

  // What bounds the execution's duration: the state machine's TimeoutSeconds, and for an
  // EXPRESS execution at most 5 minutes (Step Functions quotas: over it fails with
  // States.Timeout).
  std::optional<int64_t> ExecutionTimeoutSeconds() const {
    std::optional<int64_t> timeout = machine_->timeout_seconds;
    if (info_.express) {
      timeout = std::min<int64_t>(timeout.value_or(kExpressMaxSeconds), kExpressMaxSeconds);
    }
    return timeout;
  }

  // A redrive resumes the top frame at the state it ended in, with that state's input as its
  // Entered event recorded it. A Parallel or Map state keeps the results of the branches and
  // iterations that succeeded and runs only the others (see redrive_results_).
  void ResumeTopFrame(int64_t previous_event_id) {
    Frame& top = *top_;
    json::value input;
    const std::string* next = &machine_->start_at;
    if (top.state != nullptr && top.entered_event_id > 0 &&
        static_cast<size_t>(top.entered_event_id) <= history_.size()) {
      const HistoryEvent& entered = history_[static_cast<size_t>(top.entered_event_id) - 1];
      if (std::optional<std::string_view> text = entered.details.Find("input")) {
        if (auto parsed = ParseJson(*text); parsed.ok()) input = std::move(parsed).value();
      }
      next = &top.state->name;
      if (top.fanout) {  // stopped or timed out while its branches ran
        redrive_results_ = std::move(top.fanout->results);
        for (size_t i = 0; i < redrive_results_.size(); ++i) {
          if (i >= top.fanout->done.size() || !top.fanout->done[i]) redrive_results_[i].reset();
        }
        redrive_state_ = top.state;
        graveyard_.push_back(std::move(top.fanout));
      }
    } else {
      auto parsed = ParseJson(execution_input_text_);
      input = parsed.ok() ? std::move(parsed).value() : execution_input_;
    }
    top.task_token = 0;
    top.last_event_id = previous_event_id;
    top.pending_next = next;
    top.pending_input = std::move(input);
    top.pending_input_text.clear();
    runnable_.push_back(&top);
  }

  // Stops everything `frame` and its descendants have in flight.
  void CancelFrame(Frame& frame) {
    if (frame.task_token != 0) {
      out_->cancel_tasks.push_back(frame.task_token);
      task_frames_.erase(frame.task_token);
      frame.task_token = 0;
    }
    CancelTimer(frame.timeout_timer);
    CancelTimer(frame.wait_timer);
    frame.timeout_timer = 0;
    frame.wait_timer = 0;
    frame.pending_next = nullptr;
    runnable_.remove(&frame);
    if (frame.fanout) {
      for (auto& child : frame.fanout->children) {
        if (child) CancelFrame(*child);
      }
    }
  }

  const std::shared_ptr<const StateMachine> machine_;
  const ExecutionInfo info_;
  SeededRandom random_;
  std::vector<HistoryEvent> history_;
  ExecutionStatus status_ = ExecutionStatus::kRunning;
  std::optional<std::string> output_;
  std::string error_;
  std::string cause_;
  json::value execution_input_;  // only when Start had no input text
  std::string execution_input_text_;
  json::value context_;  // see ContextFor
  std::unique_ptr<Frame> top_;
  Fifo<Frame*> runnable_;  // frames with a transition to take
  // Open addressing: no allocation per task or timer once the tables have grown.
  std::string scratch_;  // see Serialized()
  // Open addressing: no allocation per task or timer once the tables have grown.
  boost::unordered_flat_map<uint64_t, Frame*> task_frames_;   // token -> frame waiting for it
  boost::unordered_flat_map<uint64_t, Frame*> timer_frames_;  // token -> frame waiting for it
  // Fanouts finished during the current call; their frames may still be on the call stack.
  std::vector<std::unique_ptr<Fanout>> graveyard_;
  uint64_t next_token_ = 1;
  uint64_t execution_timer_ = 0;  // armed for the state machine's TimeoutSeconds
  int64_t redrive_count_ = 0;     // $$.Execution.RedriveCount
  // The results of the top frame's last Parallel/Map (redrive_state_) when it ended the
  // execution: per branch or iteration, its output if it succeeded. A redrive keeps those.
  std::vector<std::optional<json::value>> redrive_results_;
  const State* redrive_state_ = nullptr;
  WallTime now_{};
  Commands* out_ = nullptr;  // the commands of the call in progress
};

Execution::Execution(std::shared_ptr<const StateMachine> machine, ExecutionInfo info)
    : impl_(std::make_unique<Impl>(std::move(machine), std::move(info))) {}
Execution::~Execution() = default;

Commands Execution::Start(const boost::json::value& input, std::string input_text, WallTime now) {
  return impl_->Start(input, std::move(input_text), now);
}
Commands Execution::TaskStarted(uint64_t token, WallTime now) {
  return impl_->TaskStarted(token, now);
}
Commands Execution::TaskCompleted(uint64_t token, TaskOutcome outcome, WallTime now) {
  return impl_->TaskCompleted(token, std::move(outcome), now);
}
Commands Execution::TimerFired(uint64_t token, WallTime now) {
  return impl_->TimerFired(token, now);
}
Commands Execution::Stop(std::string error, std::string cause, WallTime now) {
  return impl_->Stop(std::move(error), std::move(cause), now);
}

Commands Execution::Redrive(WallTime now) { return impl_->Redrive(now); }
ExecutionStatus Execution::status() const { return impl_->status(); }
const std::vector<HistoryEvent>& Execution::history() const { return impl_->history(); }
const std::optional<std::string>& Execution::output() const { return impl_->output(); }
const std::string& Execution::error() const { return impl_->error(); }
const std::string& Execution::cause() const { return impl_->cause(); }

}  // namespace hpd::asl
