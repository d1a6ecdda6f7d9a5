#include "engine/in_memory_executor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include "common/fifo.h"
#include "common/rfc3339.h"

namespace hpd::engine {
namespace {

// Longest real delay the executor arms: a Wait until 2200 at time scale 1 must not overflow
// MonotonicNow() + delay. Nobody waits a century for a local run.
constexpr Duration kLongestRealDelay = std::chrono::hours(24 * 365 * 100);

struct Delivery {
  enum class Kind { kTaskStarted, kTaskCompleted, kTimerFired };
  Kind kind = Kind::kTaskStarted;
  uint64_t token = 0;
  // kTimerFired on a simulated clock: the instant the timer fired (its deadline). A real clock's
  // deliveries take the wall time at which they are delivered, so that history timestamps never
  // go backwards.
  std::optional<WallTime> fired_at;
  // Small on purpose: the task itself waits in the run's table (Run::tasks_) until it completes.
};

}  // namespace

// The mailbox between clock callbacks (any thread), RequestStop (any thread) and the executor's
// loop. Deliveries carry the generation of the run that asked for them; a late callback of an
// earlier run finds another generation and is dropped.
struct InMemoryExecutor::Inbox {
  void Push(uint64_t run, Delivery delivery) {
    {
      std::lock_guard lock(mu);
      if (run != generation) return;
      queue.push_back(std::move(delivery));
    }
    ready.notify_one();
  }

  std::mutex mu;
  std::condition_variable ready;  // a delivery arrived or a stop was requested
  // Mirrors stop_requested (written under mu) so that the executor's loop can check for a stop
  // without taking the lock.
  std::atomic<bool> stop_pending{false};
  Fifo<Delivery> queue;           // guarded by mu
  uint64_t generation = 0;        // guarded by mu; the run in progress, 0 when none
  uint64_t runs = 0;              // guarded by mu
  bool stop_requested = false;    // guarded by mu
  std::string stop_error;         // guarded by mu
  std::string stop_cause;         // guarded by mu
};

// One RunToCompletion: the bookkeeping between the interpreter's tokens and the clock's timers.
class InMemoryExecutor::Run {
 public:
  Run(InMemoryExecutor& executor, asl::Execution& execution)
      : executor_(executor), execution_(execution), inbox_(*executor.inbox_) {
    std::lock_guard lock(inbox_.mu);
    generation_ = ++inbox_.runs;
    inbox_.generation = generation_;
    inbox_.queue.clear();
  }

  ~Run() {
    for (const auto& [token, id] : timers_) executor_.clock_.Cancel(id);
    for (const auto& [token, id] : running_) executor_.clock_.Cancel(id);
    std::lock_guard lock(inbox_.mu);
    inbox_.generation = 0;
    inbox_.queue.clear();
  }

  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  Status ToCompletion(const boost::json::value& input, std::string input_text,
                      std::optional<WallTime> start_time) {
    const WallTime start = start_time.value_or(Now());
    Process(execution_.Start(input, std::move(input_text), start), start);
    const InMemoryExecutorOptions& options = executor_.options_;
    bool stopped_when_idle = false;
    while (!finished_) {
      std::optional<Delivery> delivery;
      std::optional<std::pair<std::string, std::string>> stop;
      {
        if (inbox_.stop_pending.load(std::memory_order_acquire)) {
          std::lock_guard lock(inbox_.mu);
          if (inbox_.stop_requested) {
            inbox_.stop_requested = false;
            inbox_.stop_pending.store(false, std::memory_order_relaxed);
            stop.emplace(std::move(inbox_.stop_error), std::move(inbox_.stop_cause));
          }
        }
        if (!stop) {
          if (executor_.simulated_ != nullptr) {
            delivery = local_.pop_front();
          } else {
            std::lock_guard lock(inbox_.mu);
            delivery = inbox_.queue.pop_front();
          }
        }
      }
      if (stop) {
        const WallTime now = Now();
        Process(execution_.Stop(std::move(stop->first), std::move(stop->second), now), now);
        continue;
      }
      if (delivery) {
        if (options.max_steps != 0 && ++steps_ > options.max_steps) {
          return ResourceExhaustedError("step limit reached");
        }
        Deliver(std::move(*delivery));
        continue;
      }
      // Nothing to deliver without time passing.
      if (options.stop_when_idle && !stopped_when_idle) {
        stopped_when_idle = true;
        const WallTime now = Now();
        Process(execution_.Stop("", "", now), now);
        continue;
      }
      if (SimulatedClock* clock = executor_.simulated_) {
        // The earliest deadline: the executor's own, or a timer someone else armed on the same
        // clock (e.g. one that calls RequestStop), which must run at its own time.
        DropCancelledTimers();
        std::optional<WallTime> next;
        if (!pending_.empty()) next = pending_.front().deadline;
        if (const auto other = clock->NextDeadline()) {
          const WallTime at = clock->WallNow() + (*other - clock->MonotonicNow());
          if (!next || at < *next) next = at;
        }
        if (!next) return FailedPreconditionError("stalled: nothing in flight and no timer armed");
        if (options.horizon && *next - clock->WallNow() > *options.horizon) {
          return FailedPreconditionError("stalled: next timer beyond the horizon, at " +
                                         FormatRfc3339(*next));
        }
        clock->AdvanceTo(std::max(*next, clock->WallNow()));  // runs other timers due by then
        FireDueTimers(clock->WallNow());
        continue;
      }
      if (timers_.empty() && running_.empty()) {
        return FailedPreconditionError("stalled: nothing in flight and no timer armed");
      }
      std::unique_lock lock(inbox_.mu);
      inbox_.ready.wait(lock, [this] { return inbox_.stop_requested || !inbox_.queue.empty(); });
    }
    return Status::Ok();
  }

 private:
  // Carries out `commands`, which the interpreter returned for a call made at `now`.
  void Process(asl::Commands commands, WallTime now) {
    if (commands.finished) finished_ = true;
    Clock& clock = executor_.clock_;
    for (uint64_t token : commands.cancel_timers) {
      cancelled_timers_.insert(token);
      if (auto it = timers_.find(token); it != timers_.end()) {
        clock.Cancel(it->second);
        timers_.erase(it);
      }
    }
    for (uint64_t token : commands.cancel_tasks) {
      tasks_.erase(token);  // deliveries already queued for it find no task and are dropped
      if (auto it = running_.find(token); it != running_.end()) {
        clock.Cancel(it->second);
        running_.erase(it);
      }
    }
    for (const asl::TimerRequest& timer : commands.arm_timers) {
      if (executor_.simulated_ != nullptr) {
        AddPending(timer.deadline, Delivery::Kind::kTimerFired, timer.token);
      } else {
        timers_[timer.token] = clock.ScheduleAfter(
            Scaled(timer.deadline - now),
            [inbox = executor_.inbox_, run = generation_, token = timer.token] {
              inbox->Push(run, Delivery{Delivery::Kind::kTimerFired, token, std::nullopt});
            });
      }
    }
    for (const asl::TaskInvocation& task : commands.run_tasks) {
      Queue(Delivery{Delivery::Kind::kTaskStarted, task.token, std::nullopt});
    }
    for (asl::TaskInvocation& task : commands.run_tasks) {
      const uint64_t token = task.token;
      Duration run_time = executor_.functions_.RunTime(task);
      tasks_.emplace(token, std::move(task));
      const Delivery completion{Delivery::Kind::kTaskCompleted, token, std::nullopt};
      if (run_time <= Duration::zero()) {
        Queue(completion);
      } else if (executor_.simulated_ != nullptr) {
        AddPending(now + run_time, Delivery::Kind::kTaskCompleted, token);
      } else {
        running_[token] = clock.ScheduleAfter(
            Scaled(run_time), [inbox = executor_.inbox_, run = generation_, completion] {
              inbox->Push(run, completion);
            });
      }
    }
  }

  // Queues a delivery from the executor's own thread. With a simulated clock every delivery
  // comes from this thread, so they wait in a local FIFO, without a lock; with a real clock they
  // join the timer callbacks' in the inbox, so that all are delivered in the order they arrived.
  void Queue(Delivery delivery) {
    if (executor_.simulated_ != nullptr) {
      local_.push_back(std::move(delivery));
    } else {
      inbox_.Push(generation_, std::move(delivery));
    }
  }

  // Simulated clock only: timers and delayed task completions wait in `pending_`, a min-heap on
  // (deadline, order armed) -- the order a SimulatedClock fires timers in -- rather than on the
  // clock itself, which would cost a callback, a map node and an id lookup for every retry.
  // When nothing else is left to deliver the executor moves the clock to the earliest deadline
  // and delivers everything due by then, as AdvanceToNextTimer would.
  struct Pending {
    WallTime deadline;
    uint64_t order = 0;
    Delivery::Kind kind = Delivery::Kind::kTimerFired;
    uint64_t token = 0;
    // std::*_heap keep the greatest element first: "greater" means due later.
    bool operator<(const Pending& other) const {
      return std::tie(deadline, order) > std::tie(other.deadline, other.order);
    }
  };

  void AddPending(WallTime deadline, Delivery::Kind kind, uint64_t token) {
    pending_.push_back(Pending{deadline, next_order_++, kind, token});
    std::push_heap(pending_.begin(), pending_.end());
  }

  bool IsCancelled(const Pending& entry) const {
    return entry.kind == Delivery::Kind::kTimerFired ? cancelled_timers_.contains(entry.token)
                                                      : !tasks_.contains(entry.token);
  }

  void DropCancelledTimers() {
    while (!pending_.empty() && IsCancelled(pending_.front())) {
      std::pop_heap(pending_.begin(), pending_.end());
      pending_.pop_back();
    }
  }

  // Queues, in firing order, every pending entry due at or before `now` (the clock's time).
  void FireDueTimers(WallTime now) {
    while (!pending_.empty() && pending_.front().deadline <= now) {
      std::pop_heap(pending_.begin(), pending_.end());
      const Pending entry = pending_.back();
      pending_.pop_back();
      if (IsCancelled(entry)) continue;
      local_.push_back(Delivery{
          entry.kind, entry.token,
          entry.kind == Delivery::Kind::kTimerFired ? std::optional<WallTime>(now) : std::nullopt});
    }
  }

  void Deliver(Delivery delivery) {
    switch (delivery.kind) {
      case Delivery::Kind::kTaskStarted: {
        if (!tasks_.contains(delivery.token)) return;  // cancelled
        const WallTime now = Now();
        Process(execution_.TaskStarted(delivery.token, now), now);
        return;
      }
      case Delivery::Kind::kTaskCompleted: {
        running_.erase(delivery.token);
        auto it = tasks_.find(delivery.token);
        if (it == tasks_.end()) return;  // cancelled
        asl::TaskInvocation task = std::move(it->second);
        tasks_.erase(it);
        asl::TaskOutcome outcome = Invoke(task);
        outcome.parameters = std::move(task.parameters);  // a retry may reuse them
        const WallTime now = Now();
        Process(execution_.TaskCompleted(delivery.token, std::move(outcome), now), now);
        return;
      }
      case Delivery::Kind::kTimerFired: {
        timers_.erase(delivery.token);
        if (cancelled_timers_.contains(delivery.token)) return;
        const WallTime now = delivery.fired_at.value_or(Now());
        Process(execution_.TimerFired(delivery.token, now), now);
        return;
      }
    }
  }

  // The time of what happens now. A simulated clock's reading as it is (deterministic); a real
  // clock's to the millisecond, the precision of Step Functions' history timestamps.
  WallTime Now() const {
    const WallTime now = executor_.clock_.WallNow();
    if (executor_.simulated_ != nullptr) return now;
    return std::chrono::floor<std::chrono::milliseconds>(now);
  }

  asl::TaskOutcome Invoke(const asl::TaskInvocation& task) {
    if (IsLambdaTask(task)) return executor_.functions_.Invoke(task, executor_.request_ids_);
    return NoLocalImplementation(task, executor_.options_.runner_name);
  }

  Duration Scaled(Duration delay) const {
    if (delay <= Duration::zero()) return Duration::zero();
    const double scaled = static_cast<double>(delay.count()) * executor_.options_.time_scale;
    if (!(scaled < static_cast<double>(kLongestRealDelay.count()))) return kLongestRealDelay;
    return Duration(static_cast<Duration::rep>(std::llround(scaled)));
  }

  InMemoryExecutor& executor_;
  asl::Execution& execution_;
  Inbox& inbox_;
  uint64_t generation_ = 0;
  boost::unordered_flat_map<uint64_t, TimerId> timers_;   // interpreter timer -> clock timer
  boost::unordered_flat_map<uint64_t, TimerId> running_;  // task token -> completion timer
  Fifo<Delivery> local_;  // simulated clock: every delivery, in order (see Queue)
  std::vector<Pending> pending_;          // simulated clock: a heap, see Pending
  uint64_t next_order_ = 0;
  // Tasks from scheduling until their completion is delivered; a cancelled one is removed, so
  // that its queued deliveries are dropped.
  boost::unordered_flat_map<uint64_t, asl::TaskInvocation> tasks_;
  boost::unordered_flat_set<uint64_t> cancelled_timers_;  // likewise for timers that fired
                                                          // before the cancel
  bool finished_ = false;
  size_t steps_ = 0;
};

InMemoryExecutor::InMemoryExecutor(SimulatedClock& clock, const LocalFunctions& functions,
                                   RandomSource& request_ids, InMemoryExecutorOptions options)
    : clock_(clock),
      simulated_(&clock),
      functions_(functions),
      request_ids_(request_ids),
      options_(std::move(options)),
      inbox_(std::make_shared<Inbox>()) {}

InMemoryExecutor::InMemoryExecutor(Clock& clock, const LocalFunctions& functions,
                                   RandomSource& request_ids, InMemoryExecutorOptions options)
    : clock_(clock),
      simulated_(nullptr),
      functions_(functions),
      request_ids_(request_ids),
      options_(std::move(options)),
      inbox_(std::make_shared<Inbox>()) {}

InMemoryExecutor::~InMemoryExecutor() = default;

Status InMemoryExecutor::RunToCompletion(asl::Execution& execution, const boost::json::value& input,
                                         std::string input_text,
                                         std::optional<WallTime> start_time) {
  Run run(*this, execution);
  return run.ToCompletion(input, std::move(input_text), start_time);
}

void InMemoryExecutor::RequestStop(std::string error, std::string cause) {
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->stop_requested = true;
    inbox_->stop_pending.store(true, std::memory_order_release);
    inbox_->stop_error = std::move(error);
    inbox_->stop_cause = std::move(cause);
  }
  inbox_->ready.notify_all();
}

}  // namespace hpd::engine
