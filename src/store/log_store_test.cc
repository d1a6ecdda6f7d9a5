#include "store/log_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status_matchers.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kStartMillis = 1700000000123;

struct NameCase {
  std::string name;
  bool valid;
};

TEST(LogNameTest, GroupNamesFollowCloudWatchRules) {
  const std::vector<NameCase> cases = {
      {"/ecs/infraforge", true},
      {"a", true},
      {"A.b-c_d/e#f09", true},
      {std::string(512, 'g'), true},
      {std::string(513, 'g'), false},
      {"", false},
      {"has space", false},
      {"colon:no", false},
      {"star*", false},
      {"caf\xC3\xA9", false},
  };
  for (const NameCase& c : cases) {
    Status status = ValidateLogGroupName(c.name);
    EXPECT_EQ(status.ok(), c.valid) << c.name.substr(0, 40) << " -> " << status;
    if (!c.valid) {
      EXPECT_EQ(status.error_name(), "InvalidParameterException");
    }
  }
}

TEST(LogNameTest, StreamNamesRefuseOnlyColonAndStar) {
  const std::vector<NameCase> cases = {
      {"infraforge/infraforge/0123abcd", true},
      {"spaces and caf\xC3\xA9 are fine", true},
      {std::string(512, 's'), true},
      {std::string(513, 's'), false},
      {"", false},
      {"a:b", false},
      {"a*b", false},
  };
  for (const NameCase& c : cases) {
    Status status = ValidateLogStreamName(c.name);
    EXPECT_EQ(status.ok(), c.valid) << c.name.substr(0, 40) << " -> " << status;
    if (!c.valid) {
      EXPECT_EQ(status.error_name(), "InvalidParameterException");
    }
  }
}

class LogStoreTest : public testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    auto store = LogStore::Open(dir_ / "logs.db", clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(store).value();
  }

  SimulatedClock clock_{WallTime(std::chrono::milliseconds(kStartMillis))};
  std::unique_ptr<LogStore> store_;
};

TEST_F(LogStoreTest, AppendsAndReadsBackWithSequencesAndClockTimestamps) {
  ASSERT_THAT(store_->CreateStream("/ecs/app", "app/main/t1"), IsOk());
  EXPECT_THAT(store_->Append("/ecs/app", "app/main/t1", {"one", "two"}), IsOkAndHolds(2));
  clock_.Advance(std::chrono::milliseconds(5));
  EXPECT_THAT(store_->Append("/ecs/app", "app/main/t1", {"three"}), IsOkAndHolds(3));

  StatusOr<LogEventPage> page = store_->Read("/ecs/app", "app/main/t1", 0);
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->events.size(), 3u);
  EXPECT_EQ(page->events[0].sequence, 1);
  EXPECT_EQ(page->events[0].message, "one");
  EXPECT_EQ(page->events[0].timestamp, kStartMillis);
  EXPECT_EQ(page->events[1].timestamp, kStartMillis);
  EXPECT_EQ(page->events[2].message, "three");
  EXPECT_EQ(page->events[2].timestamp, kStartMillis + 5);
  EXPECT_EQ(page->last_sequence, 3);
}

TEST_F(LogStoreTest, ReadResumesAfterASequenceAndHonoursTheLimit) {
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  ASSERT_THAT(store_->Append("g", "s", {"a", "b", "c", "d", ""}), IsOkAndHolds(5));
  StatusOr<LogEventPage> page = store_->Read("g", "s", 1, 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->events,
              ElementsAre(Field(&LogEvent::message, "b"), Field(&LogEvent::message, "c")));
  EXPECT_EQ(page->last_sequence, 3);
  page = store_->Read("g", "s", 3);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->events,
              ElementsAre(Field(&LogEvent::message, "d"), Field(&LogEvent::message, "")));
  // Nothing new: the caller's position comes back unchanged.
  page = store_->Read("g", "s", 5);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->events, IsEmpty());
  EXPECT_EQ(page->last_sequence, 5);
}

TEST_F(LogStoreTest, CreateStreamIsIdempotentAndKeepsEvents) {
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  ASSERT_THAT(store_->Append("g", "s", {"kept"}), IsOk());
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  EXPECT_THAT(store_->Append("g", "s", {"next"}), IsOkAndHolds(2));
}

TEST_F(LogStoreTest, TheAppendObserverHearsOfCommittedLinesOnly) {
  struct Heard {
    std::string group, stream;
    int64_t last = 0;
    std::vector<std::string> visible;  // what a read from inside the observer sees
  };
  std::vector<Heard> heard;
  store_->SetAppendObserver([&](const std::string& group, const std::string& stream, int64_t last) {
    // Called outside the store's lock, after the commit: reading back works and sees the lines.
    Heard h{group, stream, last, {}};
    StatusOr<LogEventPage> page = store_->Read(group, stream, 0);
    if (page.ok()) {
      for (const LogEvent& event : page->events) h.visible.push_back(event.message);
    }
    heard.push_back(std::move(h));
  });
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  ASSERT_THAT(store_->Append("g", "s", {"a", "b"}), IsOkAndHolds(2));
  ASSERT_THAT(store_->Append("g", "s", {}), IsOkAndHolds(2));  // nothing added: not heard
  EXPECT_THAT(store_->Append("g", "missing", {"x"}), StatusIs(StatusCode::kNotFound));
  EXPECT_THAT(store_->Append("g", "s", {std::string(kMaxLogEventBytes + 1, 'x')}),
              StatusIs(StatusCode::kInvalidArgument));
  ASSERT_THAT(store_->Append("g", "s", {"c"}), IsOkAndHolds(3));
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].group, "g");
  EXPECT_EQ(heard[0].stream, "s");
  EXPECT_EQ(heard[0].last, 2);
  EXPECT_THAT(heard[0].visible, ElementsAre("a", "b"));
  EXPECT_EQ(heard[1].last, 3);
  EXPECT_THAT(heard[1].visible, ElementsAre("a", "b", "c"));
  store_->SetAppendObserver(nullptr);
  ASSERT_THAT(store_->Append("g", "s", {"d"}), IsOkAndHolds(4));
  EXPECT_EQ(heard.size(), 2u);
}

TEST_F(LogStoreTest, UnknownGroupOrStreamIsResourceNotFound) {
  EXPECT_THAT(store_->Append("nope", "s", {"x"}),
              StatusIs(StatusCode::kNotFound, HasSubstr("log group does not exist")));
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  StatusOr<LogEventPage> missing = store_->Read("g", "other", 0);
  EXPECT_THAT(missing, StatusIs(StatusCode::kNotFound, HasSubstr("log stream does not exist")));
  EXPECT_EQ(missing.status().error_name(), "ResourceNotFoundException");
  EXPECT_THAT(store_->ListStreams("nope", ""), StatusIs(StatusCode::kNotFound));
}

TEST_F(LogStoreTest, InvalidNamesAndOversizedEventsAreInvalidParameter) {
  Status bad = store_->CreateStream("g", "a:b");
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, HasSubstr("logStreamName")));
  EXPECT_EQ(bad.error_name(), "InvalidParameterException");
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  StatusOr<int64_t> big =
      store_->Append("g", "s", {"small", std::string(kMaxLogEventBytes + 1, 'x')});
  EXPECT_THAT(big, StatusIs(StatusCode::kInvalidArgument, HasSubstr("too large")));
  // All or nothing: the small line went nowhere either.
  EXPECT_THAT(store_->Append("g", "s", {}), IsOkAndHolds(0));
  EXPECT_THAT(store_->Append("g", "s", {std::string(kMaxLogEventBytes, 'x')}), IsOkAndHolds(1));
}

TEST_F(LogStoreTest, ListStreamsByPrefix) {
  ASSERT_THAT(store_->CreateStream("g", "app/main/b"), IsOk());
  ASSERT_THAT(store_->CreateStream("g", "app/main/a"), IsOk());
  ASSERT_THAT(store_->CreateStream("g", "other/x"), IsOk());
  ASSERT_THAT(store_->CreateStream("g2", "app/main/c"), IsOk());
  ASSERT_THAT(store_->Append("g", "app/main/a", {"1", "2"}), IsOk());
  StatusOr<std::vector<LogStreamInfo>> streams = store_->ListStreams("g", "app/");
  ASSERT_THAT(streams, IsOk());
  ASSERT_EQ(streams->size(), 2u);
  EXPECT_EQ((*streams)[0].name, "app/main/a");
  EXPECT_EQ((*streams)[0].last_sequence, 2);
  EXPECT_EQ((*streams)[0].last_event_timestamp, kStartMillis);
  EXPECT_EQ((*streams)[1].name, "app/main/b");
  EXPECT_EQ((*streams)[1].last_sequence, 0);
  streams = store_->ListStreams("g", "");
  ASSERT_THAT(streams, IsOk());
  EXPECT_EQ(streams->size(), 3u);
}

// The server appends while `hpdeploy logs --follow` (another process, here another LogStore on
// the same file) reads: the reader sees every committed batch, and two writers never hand out
// the same sequence.
TEST_F(LogStoreTest, TwoStoresOnOneFileShareStreamsAndSequences) {
  StatusOr<std::unique_ptr<LogStore>> other = LogStore::Open(dir_ / "logs.db", clock_);
  ASSERT_THAT(other, IsOk());
  ASSERT_THAT(store_->CreateStream("g", "s"), IsOk());
  ASSERT_THAT((*other)->CreateStream("g", "s"), IsOk());

  constexpr int kBatches = 50;
  auto writer = [](LogStore* store, const std::string& tag) {
    for (int i = 0; i < kBatches; ++i) {
      ASSERT_THAT(store->Append("g", "s", {tag + std::to_string(i), tag + "+"}), IsOk());
    }
  };
  std::thread a(writer, store_.get(), "a");
  std::thread b(writer, other->get(), "b");
  // Follow meanwhile from the second store, as `logs --follow` does.
  int64_t seen = 0;
  std::vector<std::string> messages;
  while (seen < 4 * kBatches) {
    StatusOr<LogEventPage> page = (*other)->Read("g", "s", seen, 7);
    ASSERT_THAT(page, IsOk());
    for (const LogEvent& e : page->events) {
      EXPECT_EQ(e.sequence, ++seen);
      messages.push_back(e.message);
    }
    if (page->events.empty()) std::this_thread::yield();
  }
  a.join();
  b.join();
  // Each batch is contiguous: its "+" line follows its numbered line.
  for (size_t i = 0; i < messages.size(); i += 2) {
    EXPECT_EQ(messages[i + 1], messages[i].substr(0, 1) + "+") << i;
  }
  EXPECT_THAT(store_->Append("g", "s", {}), IsOkAndHolds(4 * kBatches));
}

}  // namespace
}  // namespace hpd::store
