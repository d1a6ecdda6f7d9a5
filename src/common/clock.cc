#include "common/clock.h"

#include <algorithm>
#include <cassert>
#include <limits>

namespace hpd {

TimerId Clock::ScheduleAfter(Duration delay, std::function<void()> callback) {
  return ScheduleAt(MonotonicNow() + delay, std::move(callback));
}

TimerId Clock::ScheduleAtWall(WallTime deadline, std::function<void()> callback) {
  const Duration remaining = deadline - WallNow();
  return ScheduleAt(MonotonicNow() + remaining, std::move(callback));
}

TimerId TimerQueue::Add(MonotonicTime deadline, std::function<void()> callback) {
  assert(callback);
  const std::uint64_t id = next_id_++;
  queue_.emplace(Key{deadline, id}, std::move(callback));
  deadline_by_id_.emplace(id, deadline);
  return static_cast<TimerId>(id);
}

bool TimerQueue::Cancel(TimerId id) {
  const auto raw = static_cast<std::uint64_t>(id);
  auto it = deadline_by_id_.find(raw);
  if (it == deadline_by_id_.end()) return false;
  queue_.erase(Key{it->second, raw});
  deadline_by_id_.erase(it);
  return true;
}

std::optional<MonotonicTime> TimerQueue::NextDeadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.begin()->first.first;
}

std::optional<TimerQueue::Timer> TimerQueue::PopDue(MonotonicTime now) {
  if (queue_.empty() || queue_.begin()->first.first > now) return std::nullopt;
  auto node = queue_.extract(queue_.begin());
  deadline_by_id_.erase(node.key().second);
  return Timer{static_cast<TimerId>(node.key().second), node.key().first, std::move(node.mapped())};
}

void TimerQueue::Clear() {
  queue_.clear();
  deadline_by_id_.clear();
}

// ---------------------------------------------------------------------------------------------
// SystemClock

SystemClock::~SystemClock() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    timers_.Clear();
  }
  wakeup_.notify_all();
  if (thread_.joinable()) thread_.join();
}

WallTime SystemClock::WallNow() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

MonotonicTime SystemClock::MonotonicNow() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

TimerId SystemClock::ScheduleAt(MonotonicTime deadline, std::function<void()> callback) {
  TimerId id;
  bool new_earliest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto previous = timers_.NextDeadline();
    id = timers_.Add(deadline, std::move(callback));
    new_earliest = !previous.has_value() || deadline < *previous;
    if (!thread_.joinable() && !stopping_) thread_ = std::thread([this] { RunTimerThread(); });
  }
  if (new_earliest) wakeup_.notify_all();
  return id;
}

bool SystemClock::Cancel(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  // The thread may keep sleeping until the cancelled deadline; it then finds nothing due.
  return timers_.Cancel(id);
}

void SystemClock::RunTimerThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    std::optional<TimerQueue::Timer> due = timers_.PopDue(MonotonicNow());
    if (due.has_value()) {
      lock.unlock();
      due->callback();
      due.reset();  // Destroy the callback's captures outside the lock as well.
      lock.lock();
      continue;
    }
    const std::optional<MonotonicTime> next = timers_.NextDeadline();
    if (next.has_value()) {
      // The condition variable waits on steady_clock, the clock MonotonicTime is defined on. The
      // wait is capped so that extreme deadlines (MonotonicTime::max()) cannot overflow inside it.
      const MonotonicTime cap = MonotonicNow() + std::chrono::hours(1);
      wakeup_.wait_until(lock, std::min(*next, cap));
    } else {
      wakeup_.wait(lock);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// SimulatedClock

SimulatedClock::SimulatedClock(WallTime initial_wall, MonotonicTime initial_monotonic)
    : now_(initial_monotonic),
      wall_offset_(initial_wall.time_since_epoch() - initial_monotonic.time_since_epoch()) {
  std::lock_guard<std::mutex> lock(mu_);
  PublishLocked();
}

void SimulatedClock::PublishLocked() {
  published_monotonic_.store(now_.time_since_epoch().count(), std::memory_order_release);
  published_wall_.store((now_.time_since_epoch() + wall_offset_).count(),
                        std::memory_order_release);
}

WallTime SimulatedClock::WallNow() const {
  return WallTime(Duration(published_wall_.load(std::memory_order_acquire)));
}

MonotonicTime SimulatedClock::MonotonicNow() const {
  return MonotonicTime(Duration(published_monotonic_.load(std::memory_order_acquire)));
}

TimerId SimulatedClock::ScheduleAt(MonotonicTime deadline, std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.Add(deadline, std::move(callback));
}

bool SimulatedClock::Cancel(TimerId id) {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.Cancel(id);
}

std::size_t SimulatedClock::Advance(Duration delta) {
  assert(delta >= Duration::zero());
  if (delta < Duration::zero()) delta = Duration::zero();
  return AdvanceTo(MonotonicNow() + delta);
}

std::size_t SimulatedClock::AdvanceTo(MonotonicTime t) {
  return RunDueTimers(t, std::numeric_limits<std::size_t>::max());
}

std::size_t SimulatedClock::AdvanceTo(WallTime t) {
  MonotonicTime target;
  {
    std::lock_guard<std::mutex> lock(mu_);
    target = MonotonicTime(t.time_since_epoch() - wall_offset_);
  }
  return AdvanceTo(target);
}

std::optional<MonotonicTime> SimulatedClock::NextDeadline() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.NextDeadline();
}

std::size_t SimulatedClock::PendingTimers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return timers_.size();
}

bool SimulatedClock::AdvanceToNextTimer() {
  const std::optional<MonotonicTime> next = NextDeadline();
  if (!next.has_value()) return false;
  AdvanceTo(*next);
  return true;
}

std::size_t SimulatedClock::RunUntilIdle(std::size_t max_callbacks) {
  std::size_t ran = 0;
  while (ran < max_callbacks) {
    const std::optional<MonotonicTime> next = NextDeadline();
    if (!next.has_value()) break;
    ran += RunDueTimers(*next, max_callbacks - ran);
  }
  return ran;
}

void SimulatedClock::SetWallTime(WallTime t) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_offset_ = t.time_since_epoch() - now_.time_since_epoch();
  PublishLocked();
}

std::size_t SimulatedClock::RunDueTimers(MonotonicTime t, std::size_t max_callbacks) {
  std::unique_lock<std::mutex> lock(mu_);
  assert(!advancing_ && "SimulatedClock advanced concurrently or from a timer callback");
  advancing_ = true;
  struct ResetAdvancing {
    SimulatedClock* clock;
    ~ResetAdvancing() {
      // Runs with mu_ held: every exit below happens under the lock.
      clock->advancing_ = false;
    }
  };
  std::size_t ran = 0;
  {
    ResetAdvancing reset{this};
    while (ran < max_callbacks) {
      std::optional<TimerQueue::Timer> due = timers_.PopDue(t);
      if (!due.has_value()) break;
      if (due->deadline > now_) {
        now_ = due->deadline;
        PublishLocked();
      }
      lock.unlock();
      try {
        due->callback();
      } catch (...) {
        lock.lock();
        throw;
      }
      due.reset();
      ++ran;
      lock.lock();
    }
    // Time reaches `t` only once nothing due by then is left (the callback budget may run out).
    const std::optional<MonotonicTime> next = timers_.NextDeadline();
    if ((!next.has_value() || *next > t) && t > now_) {
      now_ = t;
      PublishLocked();
    }
  }
  return ran;
}

}  // namespace hpd
