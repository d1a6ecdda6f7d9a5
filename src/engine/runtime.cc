#include "engine/runtime.h"

#include <algorithm>
#include <atomic>
#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cmath>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "asl/interpreter.h"
#include "asl/parser.h"
#include "common/fifo.h"
#include "common/json.h"
#include "common/random.h"
#include "common/utf8.h"

namespace hpd::engine {
namespace {

constexpr Duration kLongestRealDelay = std::chrono::hours(24 * 365 * 100);

using store::CallKind;
using store::CallRow;

// A task the interpreter asked for that has not completed.
struct TaskEntry {
  asl::TaskInvocation invocation;
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
  bool started = false;     // its TaskStarted call was made
  bool dispatched = false;  // handed to a worker (live only)
};

// A timer the interpreter armed that has not fired.
struct TimerEntry {
  WallTime fire_at{};  // real wall-clock instant (the deadline scaled by time_scale)
  TimerId id = TimerId::kInvalid;
};

// One execution rebuilt in memory from its calls (live or replayed).
struct OpenExecution {
  store::ExecutionRow row;
  CompiledMachine machine;
  std::unique_ptr<asl::Execution> execution;
  int64_t next_seq = 0;
  boost::unordered_flat_map<uint64_t, TaskEntry> tasks;
  boost::unordered_flat_map<uint64_t, TimerEntry> timers;
  bool started = false;  // the Start record is durable
  bool ending = false;   // reached a terminal status in memory
  std::vector<std::function<void(StatusOr<StartResult>)>> start_waiters;
  std::vector<std::function<void(const ExecutionEnd&)>> end_waiters;
  std::vector<std::function<void()>> after_start;  // e.g. a Stop that came before the start
  // STANDARD executions are journaled; EXPRESS ones run in memory only.
  bool durable = true;
};

// What a turn (one incoming call and the calls it implies) must do once its records are
// durable.
struct Effects {
  std::vector<uint64_t> dispatch;  // task tokens
  std::vector<uint64_t> arm;       // timer tokens
  bool closed = false;
  WallTime ended_at{};  // when closed: the time of the call that ended the execution
};

// A turn runs local-only functions and due timers inline until it holds this many calls or
// bytes of results; then what it schedules waits for the next turn (a worker, the clock), so
// that a long chain (a Retry with IntervalSeconds 0 on a failing local function) neither
// freezes the engine thread nor builds one huge record, and a Stop gets through.
constexpr size_t kMaxInlineCallsPerTurn = 4096;
constexpr size_t kMaxInlineBytesPerTurn = 8 << 20;

// A call made within a turn, with a live TaskCompleted's outcome.
struct PendingCall {
  CallRow call;
  std::optional<asl::TaskOutcome> outcome;
};

// True when ParseJson(SerializeJson(value)) is `value` exactly, kinds included: nesting within
// the parser's limit, finite doubles (printed so that they read back), no uint64 (read back as
// int64), strings and keys of well-formed UTF-8 (others are repaired when printed). Cheaper
// than parsing the text back, which is then needed only for the rare value that fails this.
bool RoundTripsExactly(const boost::json::value& value, size_t depth = 0) {
  switch (value.kind()) {
    case boost::json::kind::null:
    case boost::json::kind::bool_:
    case boost::json::kind::int64:
      return true;
    case boost::json::kind::uint64:
      return false;
    case boost::json::kind::double_:
      return std::isfinite(value.get_double());
    case boost::json::kind::string:
      return IsWellFormedUtf8(value.get_string());
    case boost::json::kind::array:
      if (depth + 1 > kMaxJsonDepth) return false;
      for (const boost::json::value& item : value.get_array()) {
        if (!RoundTripsExactly(item, depth + 1)) return false;
      }
      return true;
    case boost::json::kind::object:
      if (depth + 1 > kMaxJsonDepth) return false;
      for (const auto& member : value.get_object()) {
        if (!IsWellFormedUtf8(member.key()) || !RoundTripsExactly(member.value(), depth + 1)) {
          return false;
        }
      }
      return true;
  }
  return false;
}

// Makes a task's outcome what its record will replay to, and returns the record's output text:
// the execution goes on with the value parsed back from the text, not the handler's, since the
// two differ where JSON text cannot carry a value (NaN, nesting deeper than the parser accepts,
// uint64 read back as int64). A result that does not parse back fails the task (States.Runtime).
std::string MakeRecordable(asl::TaskOutcome& outcome) {
  if (!outcome.succeeded) return std::string();
  std::string text = SerializeJson(outcome.output);
  if (RoundTripsExactly(outcome.output)) return text;
  StatusOr<boost::json::value> replayed = ParseJson(text);
  if (replayed.ok()) {
    outcome.output = std::move(*replayed);
    return text;
  }
  outcome = asl::TaskOutcome{};
  outcome.succeeded = false;
  outcome.error = "States.Runtime";
  outcome.cause =
      "The task's result cannot be recorded as JSON: " + std::string(replayed.status().message());
  return std::string();
}

// The key every dispatch of one task attempt carries (LambdaContext::idempotency_key). The
// token tells apart the iterations of a Map, which share state and attempt; replay hands out
// the same tokens, so a dispatch after a restart has the same key.
std::string IdempotencyKey(const OpenExecution& e, const asl::TaskInvocation& task,
                           uint64_t token) {
  return e.row.arn + "/" + std::string(task.state_name) + "/" + std::to_string(task.attempt) + "/" +
         std::to_string(token);
}

ExecutionEnd EndOf(const OpenExecution& e, WallTime stop) {
  ExecutionEnd end;
  end.status = std::string(asl::ExecutionStatusName(e.execution->status()));
  end.start = e.row.start;
  end.stop = stop;
  end.output = e.execution->output();
  // DescribeExecution leaves out an empty error or cause (TIMED_OUT has neither).
  if (!e.execution->error().empty()) end.error = e.execution->error();
  if (!e.execution->cause().empty()) end.cause = e.execution->cause();
  return end;
}

// A redrive needs room for at least its ExecutionRedriven event and a state.
constexpr size_t kMaxRedrivableEvents = 24999;

Status NotRedrivable(std::string reason) {
  Status status = FailedPreconditionError(std::move(reason));
  status.SetErrorName("ExecutionNotRedrivable");
  return status;
}

Status ExecutionAlreadyExists(const std::string& arn) {
  Status status = AlreadyExistsError("Execution Already Exists: '" + arn + "'");
  status.SetErrorName("ExecutionAlreadyExists");
  return status;
}

}  // namespace

class Runtime::Impl {
 public:
  Impl(store::Journal& journal, const LocalFunctions& functions, Clock& clock,
       RuntimeOptions options)
      : journal_(journal), functions_(functions), clock_(clock), options_(std::move(options)) {}

  ~Impl() { Shutdown(); }

  // ---- Opening and recovery (before the threads start) ----

  Status Recover() {
    std::vector<store::ExecutionRow> rows;
    std::vector<std::vector<CallRow>> calls;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<int64_t> max_id = reader.MaxExecutionId();
      if (!max_id.ok()) return max_id.status();
      next_id_ = *max_id;
      StatusOr<std::vector<store::ExecutionRow>> open = reader.OpenExecutions();
      if (!open.ok()) return open.status();
      rows = std::move(*open);
      calls.reserve(rows.size());
      for (const store::ExecutionRow& row : rows) {
        StatusOr<std::vector<CallRow>> execution_calls = reader.Calls(row.id);
        if (!execution_calls.ok()) return execution_calls.status();
        calls.push_back(std::move(*execution_calls));
      }
      return Status::Ok();
    });
    if (!status.ok()) return status.WithContext("recovering open executions");
    for (size_t i = 0; i < rows.size(); ++i) {
      const std::string arn = rows[i].arn;
      StatusOr<std::unique_ptr<OpenExecution>> e = Rebuild(std::move(rows[i]), calls[i]);
      if (!e.ok()) {
        // One execution that cannot be rebuilt does not keep the others down.
        recovery_.failed.push_back(arn + ": " + e.status().ToString());
        continue;
      }
      (*e)->started = true;
      recovery_.calls += calls[i].size();
      ++recovery_.executions;
      recovery_.tasks_redispatched += (*e)->tasks.size();
      recovery_.timers_rearmed += (*e)->timers.size();
      by_arn_.emplace((*e)->row.arn, (*e)->row.id);
      open_.emplace((*e)->row.id, std::move(*e));
    }
    open_count_.store(open_.size());
    return Status::Ok();
  }

  void StartThreads() {
    engine_thread_ = std::thread([this] { EngineLoop(); });
    const size_t workers = std::max<size_t>(1, options_.workers);
    for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    // Resume what the recovered executions were doing.
    Post([this] {
      for (auto& [id, e] : open_) {
        Effects effects;
        std::vector<CallRow> turn;
        // Tokens first: applying a TaskStarted may run a local-only task, which changes the map.
        std::vector<std::pair<uint64_t, bool>> tasks;  // token, started
        for (const auto& [token, task] : e->tasks) tasks.emplace_back(token, task.started);
        for (const auto& [token, started] : tasks) {
          if (!started) {
            Status status = Apply(
                *e, CallRow{e->next_seq, CallKind::kTaskStarted, token, Now(), true, "", "", ""},
                std::nullopt, &turn, &effects, /*live=*/true);
            if (!status.ok()) Broken(status);
          }
          effects.dispatch.push_back(token);
        }
        for (const auto& [token, timer] : e->timers) effects.arm.push_back(token);
        Commit(*e, std::move(turn), std::move(effects), nullptr);
      }
    });
  }

  // Rebuilds an execution from its row and calls, without side effects.
  StatusOr<std::unique_ptr<OpenExecution>> Rebuild(store::ExecutionRow row,
                                                   const std::vector<CallRow>& calls) const {
    StatusOr<CompiledMachine> machine = CompileRevision(row);
    if (!machine.ok()) return machine.status();
    auto e = std::make_unique<OpenExecution>();
    e->row = std::move(row);
    e->machine = std::move(*machine);
    e->execution = NewExecution(*e);
    Effects effects;
    for (const CallRow& call : calls) {
      if (call.seq != e->next_seq) {
        return DataLossError("execution " + e->row.arn + ": call " + std::to_string(call.seq) +
                             " follows call " + std::to_string(e->next_seq - 1));
      }
      Status status = ApplyOne(*e, call, std::nullopt, nullptr, &effects, /*live=*/false);
      if (!status.ok()) return status.WithContext("replaying " + e->row.arn);
    }
    return e;
  }

  std::unique_ptr<asl::Execution> NewExecution(const OpenExecution& e) const {
    asl::ExecutionInfo info;
    info.execution_arn = e.row.arn;
    info.execution_name = e.row.name;
    info.state_machine_arn = e.machine.row->arn;
    info.state_machine_name = e.machine.row->name;
    info.role_arn = e.machine.row->role_arn;
    info.start_time = e.row.start;
    info.random_seed = e.row.seed;
    // Redrives are calls like the others: replaying them counts them again.
    info.redrive_count = 0;
    info.express = e.row.type == "EXPRESS";
    return std::make_unique<asl::Execution>(e.machine.machine, std::move(info));
  }

  StatusOr<CompiledMachine> CompileRevision(const store::ExecutionRow& row) const {
    // Recovery rebuilds many executions of few revisions: no journal read once compiled.
    if (std::optional<CompiledMachine> cached = CachedMachine(row.revision)) return *cached;
    std::optional<store::StateMachineRow> machine;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::optional<store::StateMachineRow>> found =
          reader.GetStateMachineById(row.state_machine_id);
      if (!found.ok()) return found.status();
      StatusOr<std::optional<store::RevisionRow>> revision = reader.GetRevision(row.revision);
      if (!revision.ok()) return revision.status();
      if (!*revision) return DataLossError("revision " + std::to_string(row.revision) + " missing");
      if (*found && (*found)->arn == row.state_machine_arn) {
        machine = std::move(**found);
      } else {  // the machine was deleted; the execution keeps its revision and machine ARN
        machine.emplace();
        machine->id = row.state_machine_id;
        machine->arn = row.state_machine_arn;
        const size_t colon = row.state_machine_arn.rfind(':');
        machine->name = row.state_machine_arn.substr(colon + 1);
        machine->type = row.type;
      }
      machine->revision = (*revision)->id;
      machine->revision_id = (*revision)->revision_id;
      machine->definition = std::move((*revision)->definition);
      machine->role_arn = std::move((*revision)->role_arn);
      machine->revision_created = (*revision)->created;
      return Status::Ok();
    });
    if (!status.ok()) return status.WithContext("execution " + row.arn);
    return Compile(*machine);
  }

  StatusOr<CompiledMachine> Compile(const store::StateMachineRow& row) const {
    if (std::optional<CompiledMachine> cached = CachedMachine(row.revision)) return *cached;
    asl::ParseResult parsed = asl::ParseDefinition(row.definition);
    if (!parsed.ok()) {
      return DataLossError("the stored definition of " + row.arn + " (revision " + row.revision_id +
                           ") no longer compiles");
    }
    auto shared_row = std::make_shared<store::StateMachineRow>(row);
    shared_row->definition.clear();
    shared_row->definition.shrink_to_fit();
    CompiledMachine compiled{std::move(shared_row), parsed.machine};
    std::lock_guard lock(compiled_mu_);
    return compiled_.emplace(row.revision, std::move(compiled)).first->second;
  }

  std::optional<CompiledMachine> CachedMachine(int64_t revision) const {
    std::lock_guard lock(compiled_mu_);
    auto it = compiled_.find(revision);
    if (it == compiled_.end()) return std::nullopt;
    return it->second;
  }

  // ---- The interpreter side: one call, live or replayed ----

  // Applies `call` to `e` (its seq must be e.next_seq) and records what it asked for. Live calls
  // are appended to `turn` (their journal records) and their effects to `effects`; a live
  // TaskCompleted brings its outcome in `live_outcome`. Live calls also make the TaskStarted
  // calls of the tasks they schedule.
  Status Apply(OpenExecution& e, const CallRow& call, std::optional<asl::TaskOutcome> live_outcome,
               std::vector<CallRow>* turn, Effects* effects, bool live) {
    if (!live) return ApplyOne(e, call, std::move(live_outcome), nullptr, effects, false);
    // A live call may imply more calls in the same turn, run from a queue (not by recursion,
    // so a long chain of instant tasks and retries runs in constant stack):
    //  - TaskStarted for every task it schedules;
    //  - for a task whose function has no effect outside this process (local_only), the
    //    function itself and its TaskCompleted, as Temporal runs local activities: the turn is
    //    journaled as a whole, and a crash before that loses the run with the turn;
    //  - TimerFired for a timer due at once (Retry IntervalSeconds 0, Wait 0).
    using Pending = PendingCall;
    Fifo<Pending> queue;
    queue.push_back(Pending{call, std::move(live_outcome)});
    WallTime latest = call.now;
    size_t bytes = 0;
    while (std::optional<Pending> next = queue.pop_front()) {
      if (e.ending) break;  // calls queued before the end no longer matter
      next->call.seq = e.next_seq;
      // Time never goes back within a turn: a call queued earlier happens now.
      latest = std::max(latest, next->call.now);
      next->call.now = latest;
      bytes += next->call.output.size() + next->call.error.size() + next->call.cause.size();
      asl::Commands commands;
      HPD_RETURN_IF_ERROR(ApplyOne(e, next->call, std::move(next->outcome), &commands, effects,
                                   /*live=*/true));
      turn->push_back(std::move(next->call));
      const WallTime now = turn->back().now;
      for (const asl::TaskInvocation& task : commands.run_tasks) {
        queue.push_back(
            Pending{CallRow{0, CallKind::kTaskStarted, task.token, now, true, "", "", ""}, {}});
      }
      const bool inline_allowed =
          turn->size() < kMaxInlineCallsPerTurn && bytes < kMaxInlineBytesPerTurn;
      if (!inline_allowed) continue;  // a worker runs the task, the clock fires the timer
      if (turn->back().kind == CallKind::kTaskStarted) {
        if (std::optional<Pending> completed = RunLocalOnly(e, turn->back().token, now)) {
          queue.push_back(std::move(*completed));
        }
      }
      for (const asl::TimerRequest& timer : commands.arm_timers) {
        if (timer.deadline > now || !e.timers.contains(timer.token)) continue;
        queue.push_back(
            Pending{CallRow{0, CallKind::kTimerFired, timer.token, now, true, "", "", ""}, {}});
      }
    }
    return Status::Ok();
  }

  // Runs the task `token` of `e` here and now if its function has no effect outside this
  // process (FunctionOptions::local_only); returns its TaskCompleted call, or nullopt when the
  // task is for a worker.
  std::optional<PendingCall> RunLocalOnly(OpenExecution& e, uint64_t token, WallTime now) {
    auto it = e.tasks.find(token);
    if (it == e.tasks.end()) return std::nullopt;
    TaskEntry& task = it->second;
    // A task with a timeout or heartbeat goes to a worker: running inline, nothing could
    // interrupt it (the engine thread would be busy running it).
    if (task.invocation.timeout_seconds || task.invocation.heartbeat_seconds ||
        !functions_.IsLocalOnly(task.invocation)) {
      return std::nullopt;
    }
    task.dispatched = true;
    asl::TaskOutcome outcome =
        functions_.Invoke(task.invocation, inline_request_ids_, task.cancelled.get(),
                          IdempotencyKey(e, task.invocation, token));
    std::string output_text = MakeRecordable(outcome);
    outcome.parameters = std::move(task.invocation.parameters);  // a retry may reuse them
    const WallTime completed = std::max(now, Now());
    CallRow call{0,
                 CallKind::kTaskCompleted,
                 token,
                 completed,
                 outcome.succeeded,
                 output_text,
                 outcome.error,
                 outcome.cause};
    return PendingCall{std::move(call), std::move(outcome)};
  }

  // Applies one call to `e` and records what it asked for. `live_outcome` is a live
  // TaskCompleted's outcome (replay parses the recorded one); `commands` (optional) receives
  // the interpreter's commands after Track took the tasks and timers from them.
  Status ApplyOne(OpenExecution& e, const CallRow& call,
                  std::optional<asl::TaskOutcome> live_outcome, asl::Commands* commands_out,
                  Effects* effects, bool live) const {
    asl::Execution& x = *e.execution;
    asl::Commands commands;
    switch (call.kind) {
      case CallKind::kStart: {
        StatusOr<boost::json::value> input = ParseJson(e.row.input);
        if (!input.ok()) return DataLossError("stored input is not JSON");
        commands = x.Start(*input, e.row.input, call.now);
        break;
      }
      case CallKind::kTaskStarted:
        if (auto it = e.tasks.find(call.token); it != e.tasks.end()) it->second.started = true;
        commands = x.TaskStarted(call.token, call.now);
        break;
      case CallKind::kTaskCompleted: {
        asl::TaskOutcome outcome;
        if (live_outcome) {
          outcome = std::move(*live_outcome);
        } else {
          outcome.succeeded = call.succeeded;
          if (call.succeeded) {
            StatusOr<boost::json::value> output = ParseJson(call.output);
            if (!output.ok()) return DataLossError("stored task result is not JSON");
            outcome.output = std::move(*output);
          } else {
            outcome.error = call.error;
            outcome.cause = call.cause;
          }
        }
        if (auto it = e.tasks.find(call.token); it != e.tasks.end()) {
          if (!outcome.parameters) outcome.parameters = std::move(it->second.invocation.parameters);
          e.tasks.erase(it);
        }
        commands = x.TaskCompleted(call.token, std::move(outcome), call.now);
        break;
      }
      case CallKind::kTimerFired:
        e.timers.erase(call.token);
        commands = x.TimerFired(call.token, call.now);
        break;
      case CallKind::kStop:
        commands = x.Stop(call.error, call.cause, call.now);
        break;
      case CallKind::kRedrive:
        commands = x.Redrive(call.now);
        break;
    }
    ++e.next_seq;
    Track(e, commands, call.now, effects, live);
    if (commands_out != nullptr) *commands_out = std::move(commands);
    return Status::Ok();
  }

  void Track(OpenExecution& e, asl::Commands& commands, WallTime now, Effects* effects,
             bool live) const {
    for (uint64_t token : commands.cancel_timers) {
      auto it = e.timers.find(token);
      if (it == e.timers.end()) continue;
      if (live && it->second.id != TimerId::kInvalid) clock_.Cancel(it->second.id);
      e.timers.erase(it);
    }
    for (uint64_t token : commands.cancel_tasks) {
      auto it = e.tasks.find(token);
      if (it == e.tasks.end()) continue;
      it->second.cancelled->store(true, std::memory_order_relaxed);
      e.tasks.erase(it);
    }
    for (const asl::TimerRequest& timer : commands.arm_timers) {
      e.timers[timer.token] = TimerEntry{now + Scaled(timer.deadline - now), TimerId::kInvalid};
      if (live) effects->arm.push_back(timer.token);
    }
    for (asl::TaskInvocation& task : commands.run_tasks) {
      const uint64_t token = task.token;
      TaskEntry entry;
      entry.invocation = std::move(task);
      e.tasks.emplace(token, std::move(entry));
      if (live) effects->dispatch.push_back(token);
    }
    if (commands.finished) {
      e.ending = true;
      effects->closed = true;
      effects->ended_at = now;
    }
  }

  Duration Scaled(Duration delay) const {
    if (delay <= Duration::zero()) return Duration::zero();
    const double scaled = static_cast<double>(delay.count()) * options_.time_scale;
    if (!(scaled < static_cast<double>(kLongestRealDelay.count()))) return kLongestRealDelay;
    return Duration(static_cast<Duration::rep>(std::llround(scaled)));
  }

  WallTime Now() const { return std::chrono::floor<std::chrono::milliseconds>(clock_.WallNow()); }

  // ---- Committing a turn and carrying out its effects (engine thread) ----

  // Journals `turn` (and the execution's end, when it closed) in one piece of work; then, on
  // the engine thread, `after` runs (with the commit's status) and the effects are carried out.
  void Commit(OpenExecution& e, std::vector<CallRow> turn, Effects effects,
              std::function<void(Status)> after,
              std::function<Status(store::JournalWriter&, const std::optional<ExecutionEnd>& end,
                                   bool* closed)>
                  before = nullptr) {
    if (turn.empty() && !before) {
      RunEffects(e, effects);
      if (after) after(Status::Ok());
      if (effects.closed) Close(e.row.id, EndOf(e, effects.ended_at));
      return;
    }
    std::optional<ExecutionEnd> end;
    if (effects.closed) end = EndOf(e, effects.ended_at);
    const int64_t id = e.row.id;
    const bool isolated = before != nullptr;  // read before `before` moves into the work
    if (!e.durable) {
      // EXPRESS: nothing is journaled (at most once, as AWS runs a synchronous Express
      // execution); the effects follow at once.
      RunEffects(e, effects);
      if (after) after(Status::Ok());
      if (end) Close(id, *end);
      return;
    }
    auto work = [id, turn = std::move(turn), end,
                 before = std::move(before)](store::JournalWriter& writer) -> Status {
      bool closed = false;  // `before` wrote the end with the row
      if (before) {
        if (Status status = before(writer, end, &closed); !status.ok()) return status;
      }
      if (Status status = writer.AppendCalls(id, turn); !status.ok()) return status;
      if (end && !closed) {
        return writer.CloseExecution(id, end->status, end->stop, end->output, end->error,
                                     end->cause);
      }
      return Status::Ok();
    };
    // Copied only for a listener: a turn is on the hot path.
    std::string arn = options_.on_commit ? e.row.arn : std::string();
    journal_.Submit(
        std::move(work),
        [this, id, effects = std::move(effects), after = std::move(after), end,
         arn = std::move(arn)](Status status) mutable {
          Post([this, id, effects = std::move(effects), after = std::move(after),
                end = std::move(end), status = std::move(status), arn = std::move(arn)]() mutable {
            if (!status.ok() && status.error_name().empty()) {
              // The journal lost a turn that memory has applied: nothing more may be
              // journaled (it would leave a gap in the calls). The next start replays what
              // was committed.
              Broken(status);
            }
            // Before anyone waiting on this commit hears of it, so that a publisher notified
            // here has the news queued when a caller (a test, StartSyncExecution) moves on.
            if (status.ok() && options_.on_commit) options_.on_commit({arn});
            if (after) after(status);
            auto it = open_.find(id);
            if (it == open_.end() || !status.ok()) return;
            RunEffects(*it->second, effects);
            if (end) Close(id, *end);
          });
        },
        isolated);
  }

  void RunEffects(OpenExecution& e, const Effects& effects) {
    for (uint64_t token : effects.arm) {
      auto it = e.timers.find(token);
      if (it == e.timers.end() || it->second.id != TimerId::kInvalid) continue;
      const Duration delay = std::max(Duration::zero(), it->second.fire_at - clock_.WallNow());
      it->second.id = clock_.ScheduleAfter(delay, [this, gate = gate_, id = e.row.id, token] {
        std::lock_guard lock(gate->mu);
        if (gate->open) Post([this, id, token] { TimerFired(id, token); });
      });
    }
    for (uint64_t token : effects.dispatch) {
      auto it = e.tasks.find(token);
      if (it == e.tasks.end() || it->second.dispatched) continue;
      it->second.dispatched = true;
      Dispatch(e, token, it->second);
    }
  }

  // Takes execution `id` out of the open ones; null if it is not open.
  std::unique_ptr<OpenExecution> TakeOpen(int64_t id) {
    auto it = open_.find(id);
    if (it == open_.end()) return nullptr;
    std::unique_ptr<OpenExecution> e = std::move(it->second);
    open_.erase(it);
    by_arn_.erase(e->row.arn);
    open_count_.store(open_.size(), std::memory_order_relaxed);
    return e;
  }

  void Close(int64_t id, const ExecutionEnd& end) {
    std::unique_ptr<OpenExecution> e = TakeOpen(id);
    if (e == nullptr) return;
    for (auto& [token, timer] : e->timers) {
      if (timer.id != TimerId::kInvalid) clock_.Cancel(timer.id);
    }
    for (auto& [token, task] : e->tasks) task.cancelled->store(true);
    for (auto& waiter : e->end_waiters) waiter(end);
  }

  void Broken(const Status& status) {
    std::lock_guard lock(broken_mu_);
    if (broken_.ok()) broken_ = status;
  }

  Status BrokenStatus() const {
    std::lock_guard lock(broken_mu_);
    return broken_;
  }

  // ---- Incoming calls (engine thread) ----

  void StartOnEngine(StartRequest request, std::function<void(StatusOr<StartResult>)> done,
                     std::function<void(const ExecutionEnd&)> on_end) {
    if (Status broken = BrokenStatus(); !broken.ok()) return done(broken);
    if (auto found = by_arn_.find(request.execution_arn); found != by_arn_.end()) {
      OpenExecution& e = *open_.at(found->second);
      if (e.row.input != request.input || e.ending) {
        return done(ExecutionAlreadyExists(request.execution_arn));
      }
      if (on_end) e.end_waiters.push_back(std::move(on_end));
      if (e.started) return done(StartResult{e.row.arn, e.row.start});
      e.start_waiters.push_back(std::move(done));
      return;
    }
    auto owned = std::make_unique<OpenExecution>();
    OpenExecution& e = *owned;
    e.row.id = ++next_id_;
    e.row.arn = std::move(request.execution_arn);
    e.row.state_machine_id = request.machine.row->id;
    e.row.state_machine_arn = request.machine.row->arn;
    e.row.revision = request.machine.row->revision;
    e.row.name = std::move(request.name);
    e.row.type = request.machine.row->type;
    e.row.input = std::move(request.input);
    e.row.seed = seeds_.Next();
    e.row.start = Now();
    e.row.trace_header = std::move(request.trace_header);
    e.machine = std::move(request.machine);
    e.execution = NewExecution(e);
    e.durable = request.durable || e.row.type != "EXPRESS";
    e.start_waiters.push_back(std::move(done));
    if (on_end) e.end_waiters.push_back(std::move(on_end));
    const int64_t id = e.row.id;
    by_arn_.emplace(e.row.arn, id);
    open_.emplace(id, std::move(owned));
    open_count_.store(open_.size(), std::memory_order_relaxed);

    std::vector<CallRow> turn;
    Effects effects;
    Status applied = Apply(e, CallRow{0, CallKind::kStart, 0, e.row.start, true, "", "", ""},
                           std::nullopt, &turn, &effects, /*live=*/true);
    if (!applied.ok()) {
      FailStart(id, applied);
      return;
    }
    store::ExecutionRow row = e.row;
    Commit(
        e, std::move(turn), std::move(effects),
        [this, id](Status status) {
          if (!status.ok()) return FailStart(id, status);
          OpenExecution& started = *open_.at(id);
          started.started = true;
          const StartResult result{started.row.arn, started.row.start};
          for (auto& waiter : started.start_waiters) waiter(result);
          started.start_waiters.clear();
          RunAfterStart(id);
        },
        [row = std::move(row)](store::JournalWriter& writer, const std::optional<ExecutionEnd>& end,
                               bool* closed) mutable -> Status {
          StatusOr<std::optional<store::ExecutionRow>> existing =
              writer.FindExecution(row.state_machine_id, row.name);
          if (!existing.ok()) return existing.status();
          // Names are unique among STANDARD executions only (AWS: StartExecution is not
          // idempotent for EXPRESS).
          if (*existing && row.type != "EXPRESS") return ExecutionAlreadyExists(row.arn);
          if (end) {  // ended in its first step: one write instead of an insert and an update
            row.status = end->status;
            row.stop = end->stop;
            row.output = end->output;
            row.error = end->error;
            row.cause = end->cause;
            *closed = true;
          }
          StatusOr<int64_t> inserted = writer.InsertExecution(row);
          if (inserted.status().code() == StatusCode::kAlreadyExists) {
            return ExecutionAlreadyExists(row.arn);
          }
          return inserted.status();
        });
  }

  // Runs what waited for the start (or redrive) of execution `id` to be durable.
  void RunAfterStart(int64_t id) {
    auto it = open_.find(id);
    if (it == open_.end()) return;
    std::vector<std::function<void()>> pending = std::move(it->second->after_start);
    it->second->after_start.clear();
    for (auto& run : pending) run();
  }

  void FailStart(int64_t id, const Status& status) {
    std::unique_ptr<OpenExecution> e = TakeOpen(id);
    if (e == nullptr) return;
    for (auto& waiter : e->start_waiters) waiter(status);
    for (auto& run : e->after_start) run();  // they find no such execution now
  }

  void StopOnEngine(const std::string& arn, std::string error, std::string cause,
                    std::function<void(StatusOr<WallTime>)> done) {
    if (Status broken = BrokenStatus(); !broken.ok()) return done(broken);
    auto found = by_arn_.find(arn);
    if (found == by_arn_.end()) {
      return done(NotFoundError("Execution Does Not Exist: '" + arn + "'"));
    }
    OpenExecution& e = *open_.at(found->second);
    if (!e.started) {
      // Its start (or redrive) is not durable yet: stop it once it is.
      e.after_start.push_back([this, arn, error = std::move(error), cause = std::move(cause),
                               done = std::move(done)]() mutable {
        StopOnEngine(arn, std::move(error), std::move(cause), std::move(done));
      });
      return;
    }
    if (e.ending) {
      // It has ended in memory; its end is being journaled. It stopped when it ended.
      e.end_waiters.push_back([done](const ExecutionEnd& end) { done(end.stop); });
      return;
    }
    const WallTime now = Now();
    std::vector<CallRow> turn;
    Effects effects;
    Status applied = Apply(
        e,
        CallRow{e.next_seq, CallKind::kStop, 0, now, true, "", std::move(error), std::move(cause)},
        std::nullopt, &turn, &effects, /*live=*/true);
    if (!applied.ok()) return done(applied);
    Commit(e, std::move(turn), std::move(effects), [now, done = std::move(done)](Status status) {
      if (!status.ok()) return done(status);
      done(now);
    });
  }

  void RedriveOnEngine(const std::string& arn, std::function<void(StatusOr<WallTime>)> done) {
    if (Status broken = BrokenStatus(); !broken.ok()) return done(broken);
    if (by_arn_.contains(arn))
      return done(NotRedrivable("Execution is RUNNING and cannot be redriven"));
    std::optional<store::ExecutionRow> row;
    std::vector<CallRow> calls;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::optional<store::ExecutionRow>> found = reader.GetExecution(arn);
      if (!found.ok()) return found.status();
      if (!*found) return Status::Ok();
      row = std::move(**found);
      StatusOr<std::vector<CallRow>> found_calls = reader.Calls(row->id);
      if (!found_calls.ok()) return found_calls.status();
      calls = std::move(*found_calls);
      return Status::Ok();
    });
    if (!status.ok()) return done(status);
    if (!row) {
      Status missing = NotFoundError("Execution Does Not Exist: '" + arn + "'");
      missing.SetErrorName("ExecutionDoesNotExist");
      return done(missing);
    }
    const WallTime now = Now();
    if (std::optional<std::string> reason = NotRedrivableReason(*row, now)) {
      return done(NotRedrivable(*reason));
    }
    StatusOr<std::unique_ptr<OpenExecution>> rebuilt = Rebuild(*row, calls);
    if (!rebuilt.ok()) return done(rebuilt.status());
    std::unique_ptr<OpenExecution> owned = std::move(*rebuilt);
    OpenExecution& e = *owned;
    if (e.execution->history().size() + 1 >= kMaxRedrivableEvents) {
      return done(NotRedrivable("Execution has reached the maximum number of history events"));
    }
    e.ending = false;
    e.row.status = "RUNNING";
    e.row.stop.reset();
    e.row.output.reset();
    e.row.error.reset();
    e.row.cause.reset();
    e.row.redrive_count += 1;
    e.row.redrive = now;
    const int64_t id = e.row.id;
    const int64_t redrive_count = e.row.redrive_count;
    by_arn_.emplace(e.row.arn, id);
    open_.emplace(id, std::move(owned));
    open_count_.store(open_.size(), std::memory_order_relaxed);
    std::vector<CallRow> turn;
    Effects effects;
    Status applied = Apply(e, CallRow{e.next_seq, CallKind::kRedrive, 0, now, true, "", "", ""},
                           std::nullopt, &turn, &effects, /*live=*/true);
    if (!applied.ok()) {
      FailStart(id, applied);
      return done(applied);
    }
    Commit(
        e, std::move(turn), std::move(effects),
        [this, id, now, done = std::move(done)](Status committed) {
          if (!committed.ok()) {
            FailStart(id, committed);
            return done(committed);
          }
          if (auto it = open_.find(id); it != open_.end()) it->second->started = true;
          done(now);
          RunAfterStart(id);
        },
        [id, redrive_count, now](store::JournalWriter& writer, const std::optional<ExecutionEnd>&,
                                 bool*) { return writer.ReopenExecution(id, redrive_count, now); });
  }

  void TimerFired(int64_t id, uint64_t token) {
    if (!BrokenStatus().ok()) return;
    auto it = open_.find(id);
    if (it == open_.end()) return;
    OpenExecution& e = *it->second;
    if (e.ending || !e.timers.contains(token)) return;
    std::vector<CallRow> turn;
    Effects effects;
    Status applied =
        Apply(e, CallRow{e.next_seq, CallKind::kTimerFired, token, Now(), true, "", "", ""},
              std::nullopt, &turn, &effects, /*live=*/true);
    if (!applied.ok()) return Broken(applied);
    Commit(e, std::move(turn), std::move(effects), nullptr);
  }

  void TaskCompleted(int64_t id, uint64_t token, asl::TaskOutcome outcome,
                     std::string output_text) {
    if (!BrokenStatus().ok()) return;
    auto it = open_.find(id);
    if (it == open_.end()) return;
    OpenExecution& e = *it->second;
    if (e.ending || !e.tasks.contains(token)) return;  // cancelled meanwhile
    CallRow call{e.next_seq,        CallKind::kTaskCompleted, token,         Now(),
                 outcome.succeeded, std::move(output_text),   outcome.error, outcome.cause};
    std::vector<CallRow> turn;
    Effects effects;
    Status applied = Apply(e, call, std::move(outcome), &turn, &effects, /*live=*/true);
    if (!applied.ok()) return Broken(applied);
    Commit(e, std::move(turn), std::move(effects), nullptr);
  }

  void WhenEndedOnEngine(const std::string& arn, std::function<void(StatusOr<ExecutionEnd>)> done) {
    if (auto found = by_arn_.find(arn); found != by_arn_.end()) {
      open_.at(found->second)->end_waiters.push_back([done](const ExecutionEnd& end) {
        done(end);
      });
      return;
    }
    // Closed (its row is durable: Close runs after the commit) or unknown.
    StatusOr<std::optional<store::ExecutionRow>> found =
        journal_.ReadValue([&](store::JournalReader& r) { return r.GetExecution(arn); });
    if (!found.ok()) return done(found.status());
    std::optional<store::ExecutionRow>& row = *found;
    if (!row || row->status == "RUNNING") {
      return done(NotFoundError("Execution Does Not Exist: '" + arn + "'"));
    }
    ExecutionEnd end;
    end.status = row->status;
    end.start = row->start;
    end.stop = row->stop.value_or(row->start);
    end.output = std::move(row->output);
    end.error = std::move(row->error);
    end.cause = std::move(row->cause);
    done(end);
  }

  // ---- Workers ----

  struct Job {
    int64_t execution_id = 0;
    uint64_t token = 0;
    std::string idempotency_key;
    asl::TaskInvocation invocation;
    std::shared_ptr<const asl::StateMachine> machine;  // keeps the invocation's views alive
    std::shared_ptr<std::atomic<bool>> cancelled;
  };

  void Dispatch(OpenExecution& e, uint64_t token, TaskEntry& task) {
    auto job = std::make_shared<Job>();
    job->execution_id = e.row.id;
    job->token = token;
    job->idempotency_key = IdempotencyKey(e, task.invocation, token);
    // The parameters travel with the job and come back with its outcome (a retry may reuse them).
    job->invocation = std::move(task.invocation);
    task.invocation.state_name = job->invocation.state_name;
    job->machine = e.machine.machine;
    job->cancelled = task.cancelled;
    const Duration run_time = functions_.RunTime(job->invocation);
    if (run_time > Duration::zero()) {
      clock_.ScheduleAfter(Scaled(run_time), [this, gate = gate_, job] {
        std::lock_guard lock(gate->mu);
        if (gate->open) Enqueue(job);
      });
    } else {
      Enqueue(std::move(job));
    }
  }

  void Enqueue(std::shared_ptr<Job> job) {
    {
      std::lock_guard lock(jobs_mu_);
      if (stopping_) return;
      jobs_.push_back(std::move(job));
    }
    jobs_ready_.notify_one();
  }

  void WorkerLoop() {
    SystemRandom request_ids;
    while (true) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(jobs_mu_);
        jobs_ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        job = std::move(*jobs_.pop_front());
      }
      if (job->cancelled->load(std::memory_order_relaxed)) continue;
      asl::TaskOutcome outcome = Invoke(*job, request_ids);
      if (shutting_down_.load()) continue;
      std::string output_text = MakeRecordable(outcome);
      outcome.parameters = std::move(job->invocation.parameters);
      Post([this, job, outcome = std::move(outcome),
            output_text = std::move(output_text)]() mutable {
        TaskCompleted(job->execution_id, job->token, std::move(outcome), std::move(output_text));
      });
    }
  }

  asl::TaskOutcome Invoke(const Job& job, RandomSource& request_ids) const {
    if (IsLambdaTask(job.invocation)) {
      return functions_.Invoke(job.invocation, request_ids, job.cancelled.get(),
                               job.idempotency_key);
    }
    for (TaskRunner* runner : options_.task_runners) {
      if (!runner->Handles(job.invocation)) continue;
      // A runner that throws fails its task, not the process: the task would be dispatched
      // again at every restart and take the process down each time.
      try {
        return runner->Run(job.invocation, job.cancelled.get(), job.idempotency_key);
      } catch (const std::exception& e) {
        asl::TaskOutcome outcome;
        outcome.succeeded = false;
        outcome.error = "States.Runtime";
        outcome.cause = std::string("The task runner failed: ") + e.what();
        return outcome;
      }
    }
    return NoLocalImplementation(job.invocation, options_.runner_name);
  }

  // ---- The engine thread ----

  void Post(std::function<void()> work) {
    {
      std::lock_guard lock(inbox_mu_);
      inbox_.push_back(std::move(work));
    }
    inbox_ready_.notify_one();
  }

  void EngineLoop() {
    while (true) {
      std::function<void()> work;
      {
        std::unique_lock lock(inbox_mu_);
        inbox_ready_.wait(lock, [this] { return engine_stopping_ || !inbox_.empty(); });
        if (inbox_.empty()) return;
        work = std::move(*inbox_.pop_front());
      }
      work();
    }
  }

  // Waits until every piece of work submitted to the journal so far has been answered.
  void FlushJournal() {
    std::mutex mu;
    std::condition_variable cv;
    bool flushed = false;
    journal_.Submit(nullptr, [&](Status) {
      std::lock_guard lock(mu);
      flushed = true;
      cv.notify_one();
    });
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return flushed; });
  }

  void Shutdown() {
    if (!engine_thread_.joinable()) return;
    {
      // Clock callbacks that run from now on do nothing; one running now finishes first.
      std::lock_guard lock(gate_->mu);
      gate_->open = false;
    }
    // Handlers still running are told to stop, and what they return is dropped: the journal
    // says they are in flight, and the next start dispatches them again.
    shutting_down_.store(true);
    std::promise<void> cancelled;
    Post([this, &cancelled] {
      for (auto& [id, e] : open_) {
        for (auto& [token, timer] : e->timers) {
          if (timer.id != TimerId::kInvalid) clock_.Cancel(timer.id);
          timer.id = TimerId::kInvalid;
        }
        for (auto& [token, task] : e->tasks) task.cancelled->store(true);
      }
      cancelled.set_value();
    });
    cancelled.get_future().wait();
    {
      std::lock_guard lock(jobs_mu_);
      stopping_ = true;
    }
    jobs_ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    FlushJournal();
    {
      std::lock_guard lock(inbox_mu_);
      engine_stopping_ = true;
    }
    inbox_ready_.notify_one();
    engine_thread_.join();
    // Work the engine submitted last must not call back into a destroyed runtime.
    FlushJournal();
  }

  size_t OpenCount() const { return open_count_.load(std::memory_order_relaxed); }

  // ---- Reads ----

  StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> ReplayHistory(
      const std::string& arn) const {
    std::optional<store::ExecutionRow> row;
    std::vector<CallRow> calls;
    std::shared_ptr<const std::vector<asl::HistoryEvent>> cached;
    Status status = journal_.Read([&](store::JournalReader& reader) -> Status {
      StatusOr<std::optional<store::ExecutionRow>> found = reader.GetExecution(arn);
      if (!found.ok()) return found.status();
      if (!*found) return Status::Ok();
      row = std::move(**found);
      // A history replayed from as many calls as the journal holds now is still current
      // (calls are only ever appended): paging through a long one replays it once.
      StatusOr<int64_t> count = reader.CallCount(row->id);
      if (!count.ok()) return count.status();
      if ((cached = CachedHistory(row->id, *count))) return Status::Ok();
      StatusOr<std::vector<CallRow>> found_calls = reader.Calls(row->id);
      if (!found_calls.ok()) return found_calls.status();
      calls = std::move(*found_calls);
      return Status::Ok();
    });
    if (!status.ok()) return status;
    if (!row) return NotFoundError("Execution Does Not Exist: '" + arn + "'");
    if (cached) return cached;
    const int64_t id = row->id;
    const auto count = static_cast<int64_t>(calls.size());
    StatusOr<std::unique_ptr<OpenExecution>> e = Rebuild(std::move(*row), calls);
    if (!e.ok()) return e.status();
    auto history =
        std::make_shared<const std::vector<asl::HistoryEvent>>((*e)->execution->history());
    RememberHistory(id, count, history);
    return history;
  }

  // The history of execution `id` replayed from `calls` calls, if cached.
  std::shared_ptr<const std::vector<asl::HistoryEvent>> CachedHistory(int64_t id,
                                                                      int64_t calls) const {
    std::lock_guard lock(histories_mu_);
    auto it = histories_.find(id);
    if (it == histories_.end() || it->second.calls != calls) return nullptr;
    it->second.used = ++history_uses_;
    return it->second.history;
  }

  void RememberHistory(int64_t id, int64_t calls,
                       std::shared_ptr<const std::vector<asl::HistoryEvent>> history) const {
    std::lock_guard lock(histories_mu_);
    histories_[id] = CachedReplay{calls, std::move(history), ++history_uses_};
    while (histories_.size() > kCachedHistories) {  // drop the least recently used
      auto oldest = histories_.begin();
      for (auto it = histories_.begin(); it != histories_.end(); ++it) {
        if (it->second.used < oldest->second.used) oldest = it;
      }
      histories_.erase(oldest);
    }
  }

  const RecoveryReport& recovery() const { return recovery_; }

 private:
  // Constant after construction.
  store::Journal& journal_;
  const LocalFunctions& functions_;
  Clock& clock_;
  const RuntimeOptions options_;

  // Engine thread only (and Recover, before the threads start).
  boost::unordered_flat_map<int64_t, std::unique_ptr<OpenExecution>> open_;
  std::unordered_map<std::string, int64_t> by_arn_;
  int64_t next_id_ = 0;
  SystemRandom seeds_;
  SystemRandom inline_request_ids_;  // Lambda request ids of local_only functions
  RecoveryReport recovery_;
  std::atomic<size_t> open_count_{0};

  struct CachedReplay {
    int64_t calls = 0;
    std::shared_ptr<const std::vector<asl::HistoryEvent>> history;
    uint64_t used = 0;
  };
  static constexpr size_t kCachedHistories = 16;
  mutable std::mutex histories_mu_;
  mutable std::map<int64_t, CachedReplay> histories_;  // guarded by histories_mu_
  mutable uint64_t history_uses_ = 0;                  // guarded by histories_mu_

  mutable std::mutex compiled_mu_;
  mutable std::map<int64_t, CompiledMachine> compiled_;  // by revision

  mutable std::mutex broken_mu_;
  Status broken_;  // guarded by broken_mu_: the journal failed; nothing more is accepted

  std::atomic<bool> shutting_down_{false};
  // Clock callbacks may run after the runtime is gone (one already running when it is
  // cancelled, or armed while shutting down): they share the gate and act only while it is
  // open, holding its lock. Shutdown closes it.
  struct Gate {
    std::mutex mu;
    bool open = true;  // guarded by mu
  };
  const std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();

  std::thread engine_thread_;
  std::mutex inbox_mu_;
  std::condition_variable inbox_ready_;
  Fifo<std::function<void()>> inbox_;  // guarded by inbox_mu_
  bool engine_stopping_ = false;       // guarded by inbox_mu_

  std::vector<std::thread> workers_;
  std::mutex jobs_mu_;
  std::condition_variable jobs_ready_;
  Fifo<std::shared_ptr<Job>> jobs_;  // guarded by jobs_mu_
  bool stopping_ = false;            // guarded by jobs_mu_

  friend class Runtime;
};

StatusOr<std::unique_ptr<Runtime>> Runtime::Open(store::Journal& journal,
                                                 const LocalFunctions& functions, Clock& clock,
                                                 RuntimeOptions options) {
  if (!(options.time_scale >= 0) || !std::isfinite(options.time_scale)) {
    return InvalidArgumentError("time scale must be a finite number >= 0");
  }
  const bool inspect_only = options.inspect_only;
  auto impl = std::make_unique<Impl>(journal, functions, clock, std::move(options));
  if (!inspect_only) {
    if (Status status = impl->Recover(); !status.ok()) return status;
    impl->StartThreads();
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::~Runtime() = default;

const RecoveryReport& Runtime::recovery() const { return impl_->recovery(); }

void Runtime::Start(StartRequest request, std::function<void(StatusOr<StartResult>)> done,
                    std::function<void(const ExecutionEnd&)> on_end) {
  impl_->Post([impl = impl_.get(), request = std::move(request), done = std::move(done),
               on_end = std::move(on_end)]() mutable {
    impl->StartOnEngine(std::move(request), std::move(done), std::move(on_end));
  });
}

void Runtime::Stop(const std::string& execution_arn, std::string error, std::string cause,
                   std::function<void(StatusOr<WallTime>)> done) {
  impl_->Post([impl = impl_.get(), execution_arn, error = std::move(error),
               cause = std::move(cause), done = std::move(done)]() mutable {
    impl->StopOnEngine(execution_arn, std::move(error), std::move(cause), std::move(done));
  });
}

void Runtime::Redrive(const std::string& execution_arn,
                      std::function<void(StatusOr<WallTime>)> done) {
  impl_->Post([impl = impl_.get(), execution_arn, done = std::move(done)]() mutable {
    impl->RedriveOnEngine(execution_arn, std::move(done));
  });
}

std::string_view ExecutionArnOfIdempotencyKey(std::string_view key) {
  const size_t slash = key.find('/');
  if (slash == std::string_view::npos || !key.starts_with("arn:")) return {};
  return key.substr(0, slash);
}

std::optional<std::string> NotRedrivableReason(const store::ExecutionRow& row, WallTime now) {
  if (row.type == "EXPRESS") return "Execution is EXPRESS and cannot be redriven";
  if (row.status != "FAILED" && row.status != "ABORTED" && row.status != "TIMED_OUT") {
    return "Execution is " + row.status + " and cannot be redriven";
  }
  if (row.stop && now - *row.stop > kRedrivablePeriod) {
    return "Execution redrivable period exceeded.";
  }
  if (row.redrive_count >= kMaxRedriveCount) {
    return "Execution has been redriven the maximum number of times (" +
           std::to_string(kMaxRedriveCount) + ")";
  }
  if (row.error == "States.Runtime" && row.cause &&
      row.cause->find("maximum number of history events") != std::string::npos) {
    return "Execution history event limit exceeded.";
  }
  return std::nullopt;
}

void Runtime::WhenEnded(const std::string& execution_arn,
                        std::function<void(StatusOr<ExecutionEnd>)> done) {
  impl_->Post([impl = impl_.get(), execution_arn, done = std::move(done)]() mutable {
    impl->WhenEndedOnEngine(execution_arn, std::move(done));
  });
}

StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> Runtime::ReplayHistory(
    const std::string& execution_arn) const {
  return impl_->ReplayHistory(execution_arn);
}

StatusOr<CompiledMachine> Runtime::Compile(const store::StateMachineRow& row) const {
  return impl_->Compile(row);
}

size_t Runtime::open_executions() const { return impl_->OpenCount(); }

}  // namespace hpd::engine
