// Time as an injected dependency: wall-clock and monotonic readings plus one-shot timers.
//
// Logic never calls std::chrono::*::now() or sleeps; it asks a Clock. Production code gets a
// SystemClock, tests a SimulatedClock whose time moves only when the test says so.
//
// Which time to use:
//  - WallTime (system clock, UTC, nanoseconds since the Unix epoch) is what gets persisted and
//  shown:
//    history timestamps, Wait-state deadlines ("Timestamp": "2016-03-14T01:59:00Z"), execution
//    start times. A durable engine stores deadlines as WallTime so they survive a restart.
//  - MonotonicTime (steady clock) measures elapsed time and drives timers, because it never jumps
//    when the wall clock is stepped (NTP, operator).
// After a restart, re-arm a persisted deadline with ScheduleAtWall(deadline, ...): it is converted
// to a monotonic deadline once, at scheduling time; a deadline already past fires as soon as
// possible.
#ifndef HPD_COMMON_CLOCK_H_
#define HPD_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

namespace hpd {

using Duration = std::chrono::nanoseconds;
// UTC instant; representable range is 1677-09-21 .. 2262-04-11.
using WallTime = std::chrono::time_point<std::chrono::system_clock, Duration>;
using MonotonicTime = std::chrono::time_point<std::chrono::steady_clock, Duration>;

// Identifies a scheduled timer within the clock that issued it. Never kInvalid.
enum class TimerId : std::uint64_t { kInvalid = 0 };

class Clock {
 public:
  virtual ~Clock() = default;

  // Current UTC time. Thread-safe.
  virtual WallTime WallNow() const = 0;
  // Current monotonic time; never decreases. Thread-safe.
  virtual MonotonicTime MonotonicNow() const = 0;

  // Runs `callback` once, no earlier than `deadline` (a deadline in the past means "as soon as
  // possible"). The callback never runs inside ScheduleAt itself; which thread runs it is up to the
  // implementation (see SystemClock, SimulatedClock). Timers due at the same instant run in
  // scheduling order. Thread-safe. `callback` must not be empty and should not throw (SystemClock
  // then terminates the process; SimulatedClock lets the exception out of the advancing call).
  virtual TimerId ScheduleAt(MonotonicTime deadline, std::function<void()> callback) = 0;

  // Prevents a pending timer from running. Returns true if it was pending and now will never run;
  // false if it already ran, is running right now, was cancelled before, or is unknown. Never waits
  // for a running callback. Thread-safe; may be called from a timer callback.
  virtual bool Cancel(TimerId id) = 0;

  // ScheduleAt(MonotonicNow() + delay). A negative delay means "as soon as possible".
  TimerId ScheduleAfter(Duration delay, std::function<void()> callback);

  // Schedules against a wall-clock deadline (e.g. a persisted Wait-state deadline). The deadline is
  // converted to monotonic time now: MonotonicNow() + (deadline - WallNow()). Later steps of the
  // wall clock do not move the timer; a deadline in the past fires as soon as possible.
  TimerId ScheduleAtWall(WallTime deadline, std::function<void()> callback);
};

// One-shot timers ordered by (deadline, scheduling order): the building block of both clocks,
// usable by anything that needs its own timer list. Not thread-safe: the owner synchronizes.
class TimerQueue {
 public:
  struct Timer {
    TimerId id;
    MonotonicTime deadline;
    std::function<void()> callback;
  };

  TimerQueue() = default;
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Returns a fresh id, unique for the lifetime of this queue.
  TimerId Add(MonotonicTime deadline, std::function<void()> callback);
  // True if `id` was pending and is now removed.
  bool Cancel(TimerId id);
  // Earliest pending deadline, or nullopt when empty.
  std::optional<MonotonicTime> NextDeadline() const;
  // Removes and returns the first timer (earliest deadline, then earliest Add) with
  // deadline <= now; nullopt if none is due.
  std::optional<Timer> PopDue(MonotonicTime now);
  std::size_t size() const { return queue_.size(); }
  bool empty() const { return queue_.empty(); }
  // Drops all pending timers without running them.
  void Clear();

 private:
  using Key = std::pair<MonotonicTime, std::uint64_t>;  // (deadline, id); ids grow with Add order.
  std::map<Key, std::function<void()>> queue_;
  std::unordered_map<std::uint64_t, MonotonicTime> deadline_by_id_;
  std::uint64_t next_id_ = 1;
};

// Real time. Timers run on one internal thread ("timer thread"), started lazily by the first
// ScheduleAt, one callback at a time and without any clock lock held, so callbacks may schedule and
// cancel timers. Callbacks should be short (hand real work to an executor): a slow callback delays
// every later timer. All methods are thread-safe.
class SystemClock final : public Clock {
 public:
  SystemClock() = default;
  // Stops the timer thread; pending timers never run. Waits for a callback that is running right
  // now to finish, so it must not be called from a timer callback of this clock.
  ~SystemClock() override;
  SystemClock(const SystemClock&) = delete;
  SystemClock& operator=(const SystemClock&) = delete;

  WallTime WallNow() const override;
  MonotonicTime MonotonicNow() const override;
  TimerId ScheduleAt(MonotonicTime deadline, std::function<void()> callback) override;
  bool Cancel(TimerId id) override;

 private:
  void RunTimerThread();

  std::mutex mu_;
  std::condition_variable wakeup_;  // Signalled on new earliest deadline and on shutdown.
  TimerQueue timers_;               // Guarded by mu_.
  bool stopping_ = false;           // Guarded by mu_.
  std::thread thread_;              // Started under mu_ by the first ScheduleAt; joined in dtor.
};

// Simulated time for tests and deterministic replay. Time moves only through Advance/AdvanceTo/
// AdvanceToNextTimer/RunUntilIdle; wall and monotonic time move together (SetWallTime aside).
//
// Timers run synchronously on the thread that advances the clock, in deadline order, ties in
// scheduling order. Before a callback runs, the clock reads exactly that timer's deadline (or the
// current time if the deadline was already past), so a callback that schedules "5 s from now" gets
// a deterministic deadline. Timers scheduled by callbacks that fall due within the same advance run
// in that same advance.
//
// Now/ScheduleAt/Cancel/NextDeadline are thread-safe. The advancing methods must not be called
// concurrently with each other nor from inside a timer callback (asserted). If a callback throws,
// the exception propagates out of the advancing call; the clock then reads that timer's deadline
// and the remaining timers stay pending.
class SimulatedClock final : public Clock {
 public:
  // Monotonic time starts at an arbitrary non-zero value, so code that treats a zero time_point as
  // "unset" is caught.
  static constexpr MonotonicTime kDefaultMonotonicStart =
      MonotonicTime(std::chrono::hours(24 * 1000));

  explicit SimulatedClock(WallTime initial_wall,
                          MonotonicTime initial_monotonic = kDefaultMonotonicStart);
  SimulatedClock(const SimulatedClock&) = delete;
  SimulatedClock& operator=(const SimulatedClock&) = delete;

  WallTime WallNow() const override;
  MonotonicTime MonotonicNow() const override;
  TimerId ScheduleAt(MonotonicTime deadline, std::function<void()> callback) override;
  bool Cancel(TimerId id) override;

  // Moves time forward by `delta` (>= 0; asserted, a negative delta is treated as 0) and runs
  // every timer that falls due. Returns the number of callbacks run. Advance(0) runs only the
  // timers already due.
  std::size_t Advance(Duration delta);
  // Moves time forward to `t` and runs the due timers. A `t` in the past does not move time back;
  // due timers still run. Returns the number of callbacks run.
  std::size_t AdvanceTo(MonotonicTime t);
  std::size_t AdvanceTo(WallTime t);

  // Earliest pending deadline, or nullopt if no timer is pending.
  std::optional<MonotonicTime> NextDeadline() const;
  std::size_t PendingTimers() const;

  // Advances to the earliest pending deadline (not backwards) and runs every timer due then.
  // Returns false, doing nothing, if no timer is pending.
  bool AdvanceToNextTimer();
  // Repeats AdvanceToNextTimer until no timer is pending or `max_callbacks` callbacks have run (a
  // guard against timers that keep re-arming themselves). Returns the number of callbacks run.
  std::size_t RunUntilIdle(std::size_t max_callbacks = 1'000'000);

  // Steps the wall clock to `t` without moving monotonic time or running timers, like an NTP step.
  // Later advances move both clocks together again from there.
  void SetWallTime(WallTime t);

 private:
  // Runs timers due at or before `t` (and callbacks' new timers due by then), then sets now to
  // max(now, t). Stops early after `max_callbacks`, leaving time at the last timer run.
  std::size_t RunDueTimers(MonotonicTime t, std::size_t max_callbacks);

  // Copies now_ and now_ + wall_offset_ into the atomics below. Requires mu_.
  void PublishLocked();

  mutable std::mutex mu_;
  MonotonicTime now_;       // Guarded by mu_.
  Duration wall_offset_;    // WallNow() - MonotonicNow(). Guarded by mu_.
  TimerQueue timers_;       // Guarded by mu_.
  bool advancing_ = false;  // Guarded by mu_.
  // The readings, published under mu_ whenever now_ or wall_offset_ change, so that WallNow()
  // and MonotonicNow() -- asked for on every step of an execution -- take no lock.
  std::atomic<Duration::rep> published_monotonic_{0};
  std::atomic<Duration::rep> published_wall_{0};
};

}  // namespace hpd

#endif  // HPD_COMMON_CLOCK_H_
