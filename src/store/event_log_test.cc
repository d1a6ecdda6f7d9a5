#include "store/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/value.hpp>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "common/status_matchers.h"
#include "store/sqlite.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

// An envelope for execution `n % executions`, job "job-<n % jobs>" (in the input), owner
// "alice" or "bob" (by parity), detail type A or B (every third is B).
json::object Envelope(const std::string& id, int n, int executions = 3, int jobs = 2) {
  json::object input{{"jobId", "job-" + std::to_string(n % jobs)},
                     {"requestedBy", n % 2 == 0 ? "alice" : "bob"}};
  return json::object{{"version", "0"},
                      {"id", id},
                      {"detail-type", n % 3 == 2 ? "B" : "A"},
                      {"source", "test"},
                      {"account", "123456789012"},
                      {"time", "2026-01-01T00:00:00Z"},
                      {"region", "us-east-1"},
                      {"resources", json::array{"arn:exec:" + std::to_string(n % executions)}},
                      {"detail", json::object{{"n", n}, {"input", SerializeJson(input)}}}};
}

std::vector<std::string> Ids(const std::vector<StoredEvent>& events) {
  std::vector<std::string> ids;
  for (const StoredEvent& event : events) ids.push_back(event.id);
  return ids;
}

// A filter; empty arguments match everything.
EventFilter Filter(std::string execution_arn, std::string job_id = "", std::string owner = "",
                   std::vector<std::string> detail_types = {}) {
  EventFilter filter;
  filter.execution_arn = std::move(execution_arn);
  filter.job_id = std::move(job_id);
  filter.owner = std::move(owner);
  filter.detail_types = std::move(detail_types);
  return filter;
}

class EventLogTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    Reopen();
  }

  void Reopen() {
    log_.reset();
    auto log = EventLog::Open(dir_ / EventLog::kFileName);
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
  }

  // Appends events "e<first>" .. "e<first + count - 1>" in batches of `batch`.
  void AppendRange(int first, int count, int batch = 1000) {
    for (int start = first; start < first + count; start += batch) {
      std::vector<json::object> envelopes;
      for (int n = start; n < std::min(first + count, start + batch); ++n) {
        envelopes.push_back(Envelope("e" + std::to_string(n), n));
      }
      ASSERT_THAT(log_->Append(envelopes), IsOk());
    }
  }

  // Every event matching `filter`, paging `limit` at a time from after=0 and resuming at
  // scanned_to.
  std::vector<StoredEvent> ReadAll(const EventFilter& filter, size_t limit) {
    std::vector<StoredEvent> all;
    int64_t after = 0;
    while (after < log_->LastSequence()) {
      int64_t scanned = -1;
      auto page = log_->Read(after, filter, limit, &scanned);
      EXPECT_THAT(page, IsOk());
      if (!page.ok()) break;
      EXPECT_GT(scanned, after);
      if (scanned <= after) break;
      for (StoredEvent& event : *page) all.push_back(std::move(event));
      after = scanned;
    }
    return all;
  }

  std::unique_ptr<EventLog> log_;
};

TEST_F(EventLogTest, AppendsInOrderWithGaplessSequencesAndIndexesTheEnvelope) {
  auto appended = log_->Append({Envelope("a", 0), Envelope("b", 1)});
  ASSERT_THAT(appended, IsOk());
  ASSERT_THAT(appended->appended, SizeIs(2));
  EXPECT_EQ(appended->last_sequence, 2);
  const StoredEvent& a = appended->appended[0];
  EXPECT_EQ(a.sequence, 1);
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.detail_type, "A");
  EXPECT_EQ(a.source, "test");
  EXPECT_EQ(a.time, "2026-01-01T00:00:00Z");
  EXPECT_EQ(a.execution_arn, "arn:exec:0");
  EXPECT_EQ(a.job_id, "job-0");
  EXPECT_EQ(a.owner, "alice");
  EXPECT_EQ(a.envelope, SerializeJson(Envelope("a", 0)));
  EXPECT_EQ(appended->appended[1].sequence, 2);
  EXPECT_EQ(appended->appended[1].owner, "bob");
  EXPECT_EQ(log_->LastSequence(), 2);

  auto more = log_->Append({Envelope("c", 2)});
  ASSERT_THAT(more, IsOk());
  EXPECT_EQ(more->appended.at(0).sequence, 3);
}

TEST_F(EventLogTest, DetailMembersWinOverTheInputs) {
  json::object envelope = Envelope("x", 0);
  envelope["detail"].as_object()["jobId"] = "direct-job";
  envelope["detail"].as_object()["requestedBy"] = "carol";
  auto appended = log_->Append({envelope});
  ASSERT_THAT(appended, IsOk());
  EXPECT_EQ(appended->appended.at(0).job_id, "direct-job");
  EXPECT_EQ(appended->appended.at(0).owner, "carol");
  envelope["id"] = "y";
  envelope["detail"].as_object()["owner"] = "dave";  // owner before requestedBy
  appended = log_->Append({envelope});
  ASSERT_THAT(appended, IsOk());
  EXPECT_EQ(appended->appended.at(0).owner, "dave");
}

TEST_F(EventLogTest, AppendIsIdempotentById) {
  ASSERT_THAT(log_->Append({Envelope("a", 0), Envelope("b", 1)}), IsOk());
  // "a" again, "c" new, "c" twice in one batch.
  auto again = log_->Append({Envelope("a", 0), Envelope("c", 2), Envelope("c", 2)});
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(Ids(again->appended), ElementsAre("c"));
  EXPECT_EQ(again->appended[0].sequence, 3);
  EXPECT_EQ(again->last_sequence, 3);
  auto none = log_->Append({Envelope("b", 1)});
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->appended.empty());
  EXPECT_EQ(none->last_sequence, 3);
  auto all = log_->Read(0, {}, 100);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(Ids(*all), ElementsAre("a", "b", "c"));
  auto found = log_->FindById("b");
  ASSERT_THAT(found, IsOk());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->sequence, 2);
  auto unknown = log_->FindById("zzz");
  ASSERT_THAT(unknown, IsOk());
  EXPECT_FALSE(unknown->has_value());
}

TEST_F(EventLogTest, RefusesInvalidEnvelopesAndAppendsNothing) {
  auto missing = [](const char* key) {
    json::object envelope = Envelope("bad", 1);
    envelope.erase(key);
    return envelope;
  };
  json::object not_object = Envelope("bad", 1);
  not_object["detail"] = "text";
  json::object number_id = Envelope("bad", 1);
  number_id["id"] = 7;
  json::object huge = Envelope("bad", 1);
  huge["detail"].as_object()["blob"] = std::string(EventLog::kMaxEnvelopeBytes, 'x');
  const std::vector<std::pair<json::object, std::string>> cases = {
      {missing("id"), "\"id\""},
      {number_id, "\"id\""},
      {missing("detail-type"), "\"detail-type\""},
      {missing("source"), "\"source\""},
      {missing("time"), "\"time\""},
      {missing("detail"), "\"detail\""},
      {not_object, "\"detail\""},
      {huge, "bytes"},
  };
  for (const auto& [envelope, message] : cases) {
    // A good event before the bad one is not appended either.
    EXPECT_THAT(log_->Append({Envelope("good", 0), envelope}, {{"cursor", 5}}),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr(message)))
        << message;
  }
  EXPECT_EQ(log_->LastSequence(), 0);
  auto good = log_->FindById("good");
  ASSERT_THAT(good, IsOk());
  EXPECT_FALSE(good->has_value());
  EXPECT_THAT(log_->Cursor("cursor"), IsOkAndHolds(std::nullopt));
}

TEST_F(EventLogTest, CursorsCommitWithTheAppend) {
  EXPECT_THAT(log_->Cursor("producer"), IsOkAndHolds(std::nullopt));
  ASSERT_THAT(log_->Append({Envelope("a", 0)}, {{"producer", 7}, {"other", 1}}), IsOk());
  EXPECT_THAT(log_->Cursor("producer"), IsOkAndHolds(std::optional<int64_t>(7)));
  EXPECT_THAT(log_->Cursor("other"), IsOkAndHolds(std::optional<int64_t>(1)));
  // Cursors move even when every event is a duplicate.
  ASSERT_THAT(log_->Append({Envelope("a", 0)}, {{"producer", 8}}), IsOk());
  EXPECT_THAT(log_->Cursor("producer"), IsOkAndHolds(std::optional<int64_t>(8)));
  // A failed append moves no cursor.
  json::object bad = Envelope("b", 1);
  bad.erase("time");
  EXPECT_THAT(log_->Append({bad}, {{"producer", 9}}), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(log_->Cursor("producer"), IsOkAndHolds(std::optional<int64_t>(8)));
  ASSERT_THAT(log_->SetCursor("consumer", 3), IsOk());
  ASSERT_THAT(log_->SetCursor("consumer", 2), IsOk());
  EXPECT_THAT(log_->Cursor("consumer"), IsOkAndHolds(std::optional<int64_t>(2)));
  Reopen();
  EXPECT_THAT(log_->Cursor("producer"), IsOkAndHolds(std::optional<int64_t>(8)));
  EXPECT_THAT(log_->Cursor("consumer"), IsOkAndHolds(std::optional<int64_t>(2)));
}

TEST_F(EventLogTest, FiltersByExecutionJobOwnerAndDetailType) {
  AppendRange(0, 12);
  auto read = [&](EventFilter filter) {
    auto events = log_->Read(0, filter, 100);
    EXPECT_THAT(events, IsOk());
    return events.ok() ? Ids(*events) : std::vector<std::string>{};
  };
  EXPECT_THAT(read(Filter("arn:exec:1")), ElementsAre("e1", "e4", "e7", "e10"));
  EXPECT_THAT(read(Filter("", "job-1")), ElementsAre("e1", "e3", "e5", "e7", "e9", "e11"));
  EXPECT_THAT(read(Filter("", "", "alice")), ElementsAre("e0", "e2", "e4", "e6", "e8", "e10"));
  EXPECT_THAT(read(Filter("", "", "", {"B"})), ElementsAre("e2", "e5", "e8", "e11"));
  EXPECT_THAT(read(Filter("", "", "", {"B", "A"})), SizeIs(12));
  EXPECT_THAT(read(Filter("arn:exec:2", "job-0", "", {"B"})), ElementsAre("e2", "e8"));
  EXPECT_THAT(read(Filter("", "", "nobody")), ElementsAre());
  // After a sequence, and at most `limit`.
  auto page = log_->Read(4, Filter("", "", "alice"), 2);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Ids(*page), ElementsAre("e4", "e6"));
}

TEST_F(EventLogTest, ScannedToSaysWhereToResume) {
  AppendRange(0, 300);
  int64_t scanned = 0;
  // A match-everything filter stops at the last event returned.
  auto page = log_->Read(0, {}, 5, &scanned);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, SizeIs(5));
  EXPECT_EQ(scanned, 5);
  // No match: at most limit * 64 events are looked at.
  page = log_->Read(10, Filter("", "", "nobody"), 2, &scanned);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, SizeIs(0));
  EXPECT_EQ(scanned, 10 + 2 * 64);
  // Near the end the scan stops at the last event.
  page = log_->Read(290, Filter("", "", "nobody"), 2, &scanned);
  ASSERT_THAT(page, IsOk());
  EXPECT_EQ(scanned, 300);
  // Limit reached: resume after the last match.
  page = log_->Read(0, Filter("arn:exec:2"), 3, &scanned);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(Ids(*page), ElementsAre("e2", "e5", "e8"));
  EXPECT_EQ(scanned, 9);  // e8 has sequence 9
  // Nothing after the end.
  page = log_->Read(300, {}, 3, &scanned);
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(*page, SizeIs(0));
  EXPECT_EQ(scanned, 300);
}

TEST_F(EventLogTest, ReopeningKeepsEverything) {
  AppendRange(0, 50, 7);
  auto before = log_->Read(0, {}, 1000);
  ASSERT_THAT(before, IsOk());
  Reopen();
  EXPECT_EQ(log_->LastSequence(), 50);
  auto after = log_->Read(0, {}, 1000);
  ASSERT_THAT(after, IsOk());
  ASSERT_THAT(*after, SizeIs(50));
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].envelope, (*before)[i].envelope);
    EXPECT_EQ((*after)[i].sequence, static_cast<int64_t>(i) + 1);
  }
  auto next = log_->Append({Envelope("e0", 0), Envelope("new", 1)});
  ASSERT_THAT(next, IsOk());
  EXPECT_THAT(Ids(next->appended), ElementsAre("new"));
  EXPECT_EQ(next->last_sequence, 51);
}

TEST_F(EventLogTest, CacheAndFileAnswerAlike) {
  const int total = static_cast<int>(EventLog::kCacheEvents) + 1500;
  AppendRange(0, total, 5000);
  const int64_t first_cached = total - static_cast<int64_t>(EventLog::kCacheEvents) + 1;
  for (int pass = 0; pass < 2; ++pass) {  // as appended, then as loaded by Open
    for (EventFilter filter : {EventFilter{}, Filter("arn:exec:1"), Filter("", "", "bob", {"B"})}) {
      std::vector<StoredEvent> all = ReadAll(filter, 97);
      std::vector<std::string> expected;
      for (int n = 0; n < total; ++n) {
        if (!filter.execution_arn.empty() && n % 3 != 1) continue;
        if (!filter.owner.empty() && n % 2 == 0) continue;
        if (!filter.detail_types.empty() && n % 3 != 2) continue;
        expected.push_back("e" + std::to_string(n));
      }
      EXPECT_EQ(Ids(all), expected) << "pass " << pass;
    }
    // The read straddling the cache's start (from the file) and the one just inside it (from
    // memory) agree on what they share.
    auto from_file = log_->Read(first_cached - 2, {}, 50);
    auto from_cache = log_->Read(first_cached - 1, {}, 49);
    ASSERT_THAT(from_file, IsOk());
    ASSERT_THAT(from_cache, IsOk());
    ASSERT_THAT(*from_file, SizeIs(50));
    std::vector<StoredEvent> tail(from_file->begin() + 1, from_file->end());
    ASSERT_EQ(Ids(tail), Ids(*from_cache));
    for (size_t i = 0; i < tail.size(); ++i) {
      EXPECT_EQ(tail[i].sequence, (*from_cache)[i].sequence);
      EXPECT_EQ(tail[i].envelope, (*from_cache)[i].envelope);
      EXPECT_EQ(tail[i].job_id, (*from_cache)[i].job_id);
      EXPECT_EQ(tail[i].owner, (*from_cache)[i].owner);
    }
    Reopen();
  }
}

TEST_F(EventLogTest, SubscribersHearOfAppendsThatAddedEvents) {
  std::vector<int64_t> heard;
  const uint64_t handle = log_->Subscribe([&](int64_t last) { heard.push_back(last); });
  ASSERT_THAT(log_->Append({Envelope("a", 0), Envelope("b", 1)}), IsOk());
  ASSERT_THAT(log_->Append({Envelope("a", 0)}), IsOk());  // nothing new: no call
  ASSERT_THAT(log_->Append({Envelope("c", 2)}), IsOk());
  EXPECT_THAT(heard, ElementsAre(2, 3));
  log_->Unsubscribe(handle);
  ASSERT_THAT(log_->Append({Envelope("d", 2)}), IsOk());
  EXPECT_THAT(heard, ElementsAre(2, 3));
}

TEST_F(EventLogTest, ConcurrentAppendersAndReadersSeeOneGaplessLog) {
  constexpr int kWriters = 3;
  constexpr int kPerWriter = 200;
  std::atomic<int> notified{0};
  const uint64_t handle = log_->Subscribe([&](int64_t) { notified.fetch_add(1); });
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        // Every writer also re-appends ids another writer appends: each lands once.
        const int n = i % 2 == 0 ? i : w * 1000 + i;
        EXPECT_THAT(log_->Append({Envelope("c" + std::to_string(n), n)}), IsOk());
      }
    });
  }
  std::atomic<int> reader_errors{0};
  std::thread reader([&] {
    while (!done.load()) {
      const int64_t last = log_->LastSequence();
      auto all = log_->Read(0, {}, 10000);
      if (!all.ok()) {
        reader_errors.fetch_add(1);
        continue;
      }
      // What a reader sees is a prefix 1..n of the log, never with a hole.
      for (size_t i = 0; i < all->size(); ++i) {
        if ((*all)[i].sequence != static_cast<int64_t>(i) + 1) reader_errors.fetch_add(1);
      }
      if (static_cast<int64_t>(all->size()) < last) reader_errors.fetch_add(1);
    }
  });
  for (std::thread& t : threads) t.join();
  done.store(true);
  reader.join();
  log_->Unsubscribe(handle);
  EXPECT_EQ(reader_errors.load(), 0);
  const int64_t expected = kPerWriter / 2 + kWriters * kPerWriter / 2;
  EXPECT_EQ(log_->LastSequence(), expected);
  EXPECT_EQ(notified.load(), expected);  // one append added each event
  auto all = log_->Read(0, {}, 10000);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(static_cast<size_t>(expected)));
  Reopen();
  auto reread = log_->Read(0, {}, 10000);
  ASSERT_THAT(reread, IsOk());
  EXPECT_EQ(Ids(*reread), Ids(*all));
}

TEST_F(EventLogTest, RefusesAFileThatIsNotAnEventLog) {
  log_.reset();
  const std::string garbage = Write("garbage.db", std::string(4096, 'g'));
  EXPECT_THAT(EventLog::Open(garbage), StatusIs(StatusCode::kDataLoss));
  // Another program's database.
  {
    auto other = EventLog::Open(dir_ / "other.db");
    ASSERT_THAT(other, IsOk());
  }
  std::filesystem::remove(dir_ / "other.db");
  auto token_like = Database::Open(dir_ / "other.db", Database::Mode::kReadWrite);
  ASSERT_THAT(token_like, IsOk());
  ASSERT_THAT((*token_like)->Execute("CREATE TABLE tokens (hash TEXT)"), IsOk());
  token_like->reset();
  EXPECT_THAT(EventLog::Open(dir_ / "other.db"),
              StatusIs(StatusCode::kDataLoss, HasSubstr("not an event log")));
}

}  // namespace
}  // namespace hpd::store
