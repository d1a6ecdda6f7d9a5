#include "common/clock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpd {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

// 2016-03-14T01:59:00Z
constexpr WallTime kWallStart{seconds(1457920740)};

class SimulatedClockTest : public ::testing::Test {
 protected:
  // Schedules a timer that records `name` and the monotonic time it saw when it ran.
  TimerId Record(Duration after, std::string name) {
    return clock_.ScheduleAt(start_ + after, [this, name] {
      fired_.push_back(name);
      seen_at_.push_back(clock_.MonotonicNow() - start_);
    });
  }

  SimulatedClock clock_{kWallStart};
  const MonotonicTime start_ = clock_.MonotonicNow();
  std::vector<std::string> fired_;
  std::vector<Duration> seen_at_;
};

TEST_F(SimulatedClockTest, StartsAtTheGivenTimes) {
  EXPECT_EQ(clock_.WallNow(), kWallStart);
  EXPECT_EQ(clock_.MonotonicNow(), SimulatedClock::kDefaultMonotonicStart);
  EXPECT_NE(clock_.MonotonicNow().time_since_epoch(), Duration::zero());

  const MonotonicTime mono{seconds(5)};
  SimulatedClock explicit_start(kWallStart, mono);
  EXPECT_EQ(explicit_start.MonotonicNow(), mono);
}

TEST_F(SimulatedClockTest, TimeMovesOnlyWhenAdvanced) {
  EXPECT_EQ(clock_.WallNow(), clock_.WallNow());
  EXPECT_EQ(clock_.Advance(milliseconds(1500)), 0u);
  EXPECT_EQ(clock_.WallNow(), kWallStart + milliseconds(1500));
  EXPECT_EQ(clock_.MonotonicNow(), start_ + milliseconds(1500));
  clock_.AdvanceTo(start_ + seconds(10));
  EXPECT_EQ(clock_.WallNow(), kWallStart + seconds(10));
  clock_.AdvanceTo(kWallStart + seconds(20));
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(20));
}

TEST_F(SimulatedClockTest, AdvanceToThePastDoesNotMoveTimeBack) {
  clock_.Advance(seconds(10));
  EXPECT_EQ(clock_.AdvanceTo(start_ + seconds(3)), 0u);
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(10));
}

TEST_F(SimulatedClockTest, FiresDueTimersInDeadlineOrderWithFifoTies) {
  Record(seconds(3), "c");
  Record(seconds(1), "a1");
  Record(seconds(2), "b");
  Record(seconds(1), "a2");
  Record(seconds(1), "a3");
  Record(seconds(9), "late");

  EXPECT_EQ(clock_.Advance(milliseconds(999)), 0u);
  EXPECT_THAT(fired_, IsEmpty());
  EXPECT_EQ(clock_.Advance(seconds(4)), 5u);
  EXPECT_THAT(fired_, ElementsAre("a1", "a2", "a3", "b", "c"));
  // Each callback observed its own deadline as the current time.
  EXPECT_THAT(seen_at_, ElementsAre(seconds(1), seconds(1), seconds(1), seconds(2), seconds(3)));
  EXPECT_EQ(clock_.MonotonicNow(), start_ + milliseconds(4999));
  EXPECT_EQ(clock_.PendingTimers(), 1u);
}

TEST_F(SimulatedClockTest, TimersScheduledByCallbacksFireInTheSameAdvanceWhenDue) {
  clock_.ScheduleAt(start_ + seconds(1), [this] {
    fired_.push_back("first");
    // Relative to the callback's own time (1 s): due at 3 s, within this advance.
    clock_.ScheduleAfter(seconds(2), [this] { fired_.push_back("chained"); });
    // Due at 11 s: outside this advance.
    clock_.ScheduleAfter(seconds(10), [this] { fired_.push_back("next-advance"); });
    // Already due: runs right after, still in deadline order.
    clock_.ScheduleAt(start_, [this] { fired_.push_back("overdue"); });
  });
  Record(seconds(2), "second");

  EXPECT_EQ(clock_.Advance(seconds(5)), 4u);
  EXPECT_THAT(fired_, ElementsAre("first", "overdue", "second", "chained"));
  EXPECT_THAT(clock_.NextDeadline(), Optional(start_ + seconds(11)));
}

TEST_F(SimulatedClockTest, PastDeadlinesNeverRunInsideScheduleAt) {
  clock_.Advance(seconds(10));
  Record(seconds(1), "past");
  EXPECT_THAT(fired_, IsEmpty());
  EXPECT_EQ(clock_.Advance(Duration::zero()), 1u);
  EXPECT_THAT(fired_, ElementsAre("past"));
  // The clock does not go back to the overdue deadline.
  EXPECT_THAT(seen_at_, ElementsAre(seconds(10)));
}

TEST_F(SimulatedClockTest, CancelPreventsFiring) {
  const TimerId a = Record(seconds(1), "a");
  const TimerId b = Record(seconds(2), "b");
  EXPECT_NE(a, b);
  EXPECT_NE(a, TimerId::kInvalid);
  EXPECT_TRUE(clock_.Cancel(a));
  EXPECT_FALSE(clock_.Cancel(a));  // Already cancelled.
  EXPECT_FALSE(clock_.Cancel(TimerId{12345}));
  EXPECT_FALSE(clock_.Cancel(TimerId::kInvalid));
  clock_.Advance(seconds(5));
  EXPECT_THAT(fired_, ElementsAre("b"));
  EXPECT_FALSE(clock_.Cancel(b));  // Already ran.
}

TEST_F(SimulatedClockTest, CallbackCanCancelALaterTimerDueInTheSameAdvance) {
  TimerId victim{};
  clock_.ScheduleAt(start_ + seconds(1), [this, &victim] {
    fired_.push_back("canceller");
    EXPECT_TRUE(clock_.Cancel(victim));
  });
  victim = Record(seconds(1), "victim");  // Same deadline, scheduled later: would run next.
  EXPECT_EQ(clock_.Advance(seconds(1)), 1u);
  EXPECT_THAT(fired_, ElementsAre("canceller"));
}

TEST_F(SimulatedClockTest, CallbackCannotCancelItself) {
  TimerId self{};
  bool cancel_result = true;
  self = clock_.ScheduleAfter(
      seconds(1), [this, &self, &cancel_result] { cancel_result = clock_.Cancel(self); });
  clock_.Advance(seconds(1));
  EXPECT_FALSE(cancel_result);
}

TEST_F(SimulatedClockTest, NextDeadlineAndAdvanceToNextTimer) {
  EXPECT_EQ(clock_.NextDeadline(), std::nullopt);
  EXPECT_FALSE(clock_.AdvanceToNextTimer());
  EXPECT_EQ(clock_.MonotonicNow(), start_);

  Record(seconds(30), "b");
  Record(seconds(7), "a1");
  Record(seconds(7), "a2");
  EXPECT_THAT(clock_.NextDeadline(), Optional(start_ + seconds(7)));
  EXPECT_EQ(clock_.PendingTimers(), 3u);

  EXPECT_TRUE(clock_.AdvanceToNextTimer());
  EXPECT_THAT(fired_, ElementsAre("a1", "a2"));
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(7));
  EXPECT_EQ(clock_.WallNow(), kWallStart + seconds(7));

  EXPECT_TRUE(clock_.AdvanceToNextTimer());
  EXPECT_THAT(fired_, ElementsAre("a1", "a2", "b"));
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(30));
  EXPECT_FALSE(clock_.AdvanceToNextTimer());
}

TEST_F(SimulatedClockTest, RunUntilIdleDrainsChains) {
  int remaining = 5;
  std::function<void()> step = [this, &remaining, &step] {
    fired_.push_back("step");
    if (--remaining > 0) clock_.ScheduleAfter(hours(1), step);
  };
  clock_.ScheduleAfter(hours(1), step);
  EXPECT_EQ(clock_.RunUntilIdle(), 5u);
  EXPECT_EQ(fired_.size(), 5u);
  EXPECT_EQ(clock_.MonotonicNow(), start_ + hours(5));
  EXPECT_EQ(clock_.PendingTimers(), 0u);
}

TEST_F(SimulatedClockTest, RunUntilIdleStopsAtTheCallbackBudget) {
  std::function<void()> forever = [this, &forever] {
    fired_.push_back("tick");
    clock_.ScheduleAfter(seconds(1), forever);
  };
  clock_.ScheduleAfter(seconds(1), forever);
  EXPECT_EQ(clock_.RunUntilIdle(/*max_callbacks=*/10), 10u);
  EXPECT_EQ(fired_.size(), 10u);
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(10));
  EXPECT_EQ(clock_.PendingTimers(), 1u);
}

TEST_F(SimulatedClockTest, ScheduleAtWallConvertsOnceAtSchedulingTime) {
  // A persisted deadline, re-armed after a "restart" 10 s before it.
  const WallTime deadline = kWallStart + seconds(10);
  clock_.ScheduleAtWall(deadline, [this] { fired_.push_back("wall"); });
  EXPECT_THAT(clock_.NextDeadline(), Optional(start_ + seconds(10)));

  // A wall-clock step does not move the armed timer.
  clock_.SetWallTime(kWallStart + hours(1));
  EXPECT_EQ(clock_.MonotonicNow(), start_);
  EXPECT_EQ(clock_.Advance(seconds(9)), 0u);
  EXPECT_EQ(clock_.WallNow(), kWallStart + hours(1) + seconds(9));
  EXPECT_EQ(clock_.Advance(seconds(1)), 1u);
  EXPECT_THAT(fired_, ElementsAre("wall"));
}

TEST_F(SimulatedClockTest, ScheduleAtWallInThePastFiresOnNextAdvance) {
  clock_.ScheduleAtWall(kWallStart - hours(2), [this] { fired_.push_back("overdue"); });
  EXPECT_EQ(clock_.Advance(Duration::zero()), 1u);
  EXPECT_THAT(fired_, ElementsAre("overdue"));
}

TEST_F(SimulatedClockTest, AdvanceToWallTimeFiresTimersUpToIt) {
  Record(seconds(5), "in");
  Record(seconds(6), "out");
  EXPECT_EQ(clock_.AdvanceTo(kWallStart + seconds(5)), 1u);
  EXPECT_THAT(fired_, ElementsAre("in"));
}

TEST_F(SimulatedClockTest, ThrowingCallbackLeavesTheRestPending) {
  clock_.ScheduleAfter(seconds(1), [] { throw std::runtime_error("boom"); });
  Record(seconds(2), "after");
  EXPECT_THROW(clock_.Advance(seconds(5)), std::runtime_error);
  EXPECT_EQ(clock_.MonotonicNow(), start_ + seconds(1));
  EXPECT_EQ(clock_.PendingTimers(), 1u);
  // The clock remains usable.
  EXPECT_EQ(clock_.Advance(seconds(4)), 1u);
  EXPECT_THAT(fired_, ElementsAre("after"));
}

TEST(TimerQueueTest, PopsDueTimersInOrder) {
  TimerQueue queue;
  const MonotonicTime t0{seconds(100)};
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.PopDue(t0), std::nullopt);
  std::vector<int> order;
  const TimerId late = queue.Add(t0 + seconds(2), [&order] { order.push_back(2); });
  const TimerId early = queue.Add(t0 + seconds(1), [&order] { order.push_back(1); });
  queue.Add(t0 + seconds(1), [&order] { order.push_back(11); });
  EXPECT_EQ(queue.size(), 3u);
  EXPECT_THAT(queue.NextDeadline(), Optional(t0 + seconds(1)));

  EXPECT_EQ(queue.PopDue(t0), std::nullopt);
  auto first = queue.PopDue(t0 + seconds(5));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->id, early);
  EXPECT_EQ(first->deadline, t0 + seconds(1));
  first->callback();
  queue.PopDue(t0 + seconds(5))->callback();
  EXPECT_TRUE(queue.Cancel(late));
  EXPECT_EQ(queue.PopDue(t0 + seconds(5)), std::nullopt);
  EXPECT_THAT(order, ElementsAre(1, 11));
  EXPECT_FALSE(queue.Cancel(early));
}

TEST(TimerQueueTest, ClearDropsEverything) {
  TimerQueue queue;
  const TimerId id = queue.Add(MonotonicTime{}, [] {});
  queue.Clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.Cancel(id));
  EXPECT_EQ(queue.NextDeadline(), std::nullopt);
}

// SystemClock tests use real time but never sleep: they wait for the event under test with a
// generous timeout.
constexpr auto kWaitLimit = seconds(30);

TEST(SystemClockTest, ReadsRealTime) {
  SystemClock clock;
  const auto system_now = std::chrono::system_clock::now();
  const WallTime wall = clock.WallNow();
  EXPECT_LT(std::chrono::abs(wall - system_now), seconds(5));
  const MonotonicTime a = clock.MonotonicNow();
  const MonotonicTime b = clock.MonotonicNow();
  EXPECT_LE(a, b);
}

TEST(SystemClockTest, FiresTimersOnItsThreadInOrder) {
  SystemClock clock;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> release_gate;
  std::promise<void> done;
  const MonotonicTime past = clock.MonotonicNow() - seconds(1);
  // The gate holds the timer thread until every other timer is pending, so the order below is
  // decided by the queue alone: deadline order, ties in scheduling order.
  clock.ScheduleAt(past - seconds(1), [gate = release_gate.get_future().share()] { gate.wait(); });
  const auto record = [&](int n) {
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(n);
    if (order.size() == 3) done.set_value();
  };
  clock.ScheduleAt(past + milliseconds(2), [&] { record(3); });
  clock.ScheduleAt(past, [&] { record(1); });
  clock.ScheduleAt(past, [&] { record(2); });
  release_gate.set_value();
  ASSERT_EQ(done.get_future().wait_for(kWaitLimit), std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
}

TEST(SystemClockTest, WaitsForTheDeadline) {
  SystemClock clock;
  std::promise<MonotonicTime> fired_at;
  const MonotonicTime deadline = clock.MonotonicNow() + milliseconds(50);
  clock.ScheduleAt(deadline, [&] { fired_at.set_value(clock.MonotonicNow()); });
  auto future = fired_at.get_future();
  ASSERT_EQ(future.wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_GE(future.get(), deadline);
}

TEST(SystemClockTest, EarlierTimerScheduledLaterWakesTheThread) {
  SystemClock clock;
  std::promise<void> early;
  clock.ScheduleAfter(hours(1), [] { ADD_FAILURE() << "far timer must not fire"; });
  clock.ScheduleAfter(milliseconds(1), [&] { early.set_value(); });
  EXPECT_EQ(early.get_future().wait_for(kWaitLimit), std::future_status::ready);
}

TEST(SystemClockTest, ExtremeDeadlinesDoNotDisturbOthers) {
  SystemClock clock;
  std::promise<void> soon;
  clock.ScheduleAt(MonotonicTime::max(), [] { ADD_FAILURE() << "end of time reached"; });
  clock.ScheduleAfter(milliseconds(5), [&] { soon.set_value(); });
  EXPECT_EQ(soon.get_future().wait_for(kWaitLimit), std::future_status::ready);
}

TEST(SystemClockTest, CancelledTimerNeverRuns) {
  SystemClock clock;
  std::atomic<bool> cancelled_ran{false};
  const TimerId id = clock.ScheduleAfter(milliseconds(20), [&] { cancelled_ran = true; });
  EXPECT_TRUE(clock.Cancel(id));
  EXPECT_FALSE(clock.Cancel(id));
  // A later timer on the same thread proves the cancelled deadline has passed.
  std::promise<void> later;
  clock.ScheduleAfter(milliseconds(40), [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(kWaitLimit), std::future_status::ready);
  EXPECT_FALSE(cancelled_ran);
}

TEST(SystemClockTest, CallbacksMayScheduleAndCancel) {
  SystemClock clock;
  std::promise<void> second;
  clock.ScheduleAfter(Duration::zero(), [&] {
    const TimerId doomed = clock.ScheduleAfter(hours(1), [] {});
    EXPECT_TRUE(clock.Cancel(doomed));
    clock.ScheduleAfter(Duration::zero(), [&] { second.set_value(); });
  });
  EXPECT_EQ(second.get_future().wait_for(kWaitLimit), std::future_status::ready);
}

TEST(SystemClockTest, DestructionDropsPendingTimers) {
  auto ran = std::make_shared<std::atomic<bool>>(false);
  {
    SystemClock clock;
    clock.ScheduleAfter(hours(1), [ran] { *ran = true; });
  }
  EXPECT_FALSE(*ran);
}

TEST(SystemClockTest, UsableThroughTheInterface) {
  SystemClock system;
  SimulatedClock simulated(kWallStart);
  for (Clock* clock : {static_cast<Clock*>(&system), static_cast<Clock*>(&simulated)}) {
    const TimerId id = clock->ScheduleAfter(hours(1), [] {});
    EXPECT_TRUE(clock->Cancel(id));
  }
}

}  // namespace
}  // namespace hpd
