#include "server/rate_limiter.h"

#include <gtest/gtest.h>

#include <chrono>

namespace hpd::server {
namespace {

using std::chrono::milliseconds;

TEST(RateLimiterTest, BurstThenRefillAtTheRate) {
  SimulatedClock clock{WallTime{}};
  RateLimiter limiter(clock, /*per_second=*/2, /*burst=*/3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("alice").allowed) << i;
  RateLimiter::Decision refused = limiter.Take("alice");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 1);  // half a second, rounded up to whole seconds

  // Other keys have their own buckets.
  EXPECT_TRUE(limiter.Take("bob").allowed);

  clock.Advance(milliseconds(500));  // one token back
  EXPECT_TRUE(limiter.Take("alice").allowed);
  EXPECT_FALSE(limiter.Take("alice").allowed);

  clock.Advance(std::chrono::seconds(60));  // refilled to the burst, not beyond
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Take("alice").allowed) << i;
  EXPECT_FALSE(limiter.Take("alice").allowed);
}

TEST(RateLimiterTest, RetryAfterCoversASlowRate) {
  SimulatedClock clock{WallTime{}};
  RateLimiter limiter(clock, /*per_second=*/0.25, /*burst=*/1);
  EXPECT_TRUE(limiter.Take("k").allowed);
  RateLimiter::Decision refused = limiter.Take("k");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after_seconds, 4);
  clock.Advance(std::chrono::seconds(4));
  EXPECT_TRUE(limiter.Take("k").allowed);
}

}  // namespace
}  // namespace hpd::server
