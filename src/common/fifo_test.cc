#include "common/fifo.h"

#include <gtest/gtest.h>

namespace hpd {
namespace {

TEST(FifoTest, FirstInFirstOutWithContainsAndRemove) {
  Fifo<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.pop_front(), std::nullopt);
  for (int i : {1, 2, 3, 2}) q.push_back(i);
  EXPECT_EQ(q.pop_front(), 1);
  EXPECT_FALSE(q.contains(1));  // consumed items are not in the queue
  EXPECT_TRUE(q.contains(2));
  q.remove(2);
  EXPECT_EQ(q.pop_front(), 3);
  EXPECT_TRUE(q.empty());
}

// A queue that never drains keeps handing out items in order across the compaction of its front.
TEST(FifoTest, OrderSurvivesDroppingTheConsumedFront) {
  Fifo<int> q;
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 5000; ++round) {
    q.push_back(next_in++);
    q.push_back(next_in++);
    ASSERT_EQ(q.pop_front(), next_out++);
  }
  while (!q.empty()) ASSERT_EQ(q.pop_front(), next_out++);
  EXPECT_EQ(next_out, next_in);
}

}  // namespace
}  // namespace hpd
