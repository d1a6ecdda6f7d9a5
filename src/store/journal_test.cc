#include "store/journal.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "common/status_matchers.h"
#include "store/sqlite.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

using ::testing::HasSubstr;

WallTime At(int64_t seconds) { return WallTime(std::chrono::seconds(seconds)); }

class JournalTest : public hpd::testing::ScratchDirTest {
 protected:
  std::filesystem::path File() const { return dir_ / "journal.db"; }

  std::unique_ptr<Journal> OpenJournal() {
    StatusOr<std::unique_ptr<Journal>> journal = Journal::Open(File());
    EXPECT_TRUE(journal.ok()) << journal.status();
    return journal.ok() ? std::move(*journal) : nullptr;
  }

  // Submits `work` and waits for its done callback.
  static Status Write(Journal& journal, Journal::Work work, bool isolated = true) {
    std::promise<Status> done;
    journal.Submit(
        std::move(work), [&](Status status) { done.set_value(std::move(status)); }, isolated);
    return done.get_future().get();
  }

  // A machine with one revision; returns its id.
  static int64_t AddMachine(Journal& journal, const std::string& name) {
    int64_t id = 0;
    EXPECT_THAT(Write(journal,
                      [&](JournalWriter& w) -> Status {
                        StateMachineRow machine;
                        machine.arn = "arn:aws:states:us-east-1:123456789012:stateMachine:" + name;
                        machine.name = name;
                        machine.type = "STANDARD";
                        machine.created = At(100);
                        StatusOr<int64_t> inserted = w.InsertStateMachine(machine);
                        if (!inserted.ok()) return inserted.status();
                        id = *inserted;
                        RevisionRow revision{0,          id,     "rev-1", R"({"StartAt":"A"})",
                                             "arn:role", At(100)};
                        return w.AddRevision(revision).status();
                      }),
                IsOk());
    return id;
  }

  static ExecutionRow Execution(int64_t machine, const std::string& name, int64_t start) {
    ExecutionRow row;
    row.arn = "arn:aws:states:us-east-1:123456789012:execution:m:" + name;
    row.state_machine_id = machine;
    row.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m";
    row.revision = 1;
    row.name = name;
    row.type = "STANDARD";
    row.input = "{}";
    row.seed = 42;
    row.start = At(start);
    return row;
  }
};

TEST_F(JournalTest, CreatesAVersionedDatabaseInWalMode) {
  auto journal = OpenJournal();
  ASSERT_NE(journal, nullptr);
  journal.reset();
  auto db = Database::Open(File(), Database::Mode::kReadOnly);
  ASSERT_THAT(db.status(), IsOk());
  auto version = (*db)->Prepare("PRAGMA user_version");
  ASSERT_THAT(version.status(), IsOk());
  ASSERT_TRUE(*version->Step());
  EXPECT_EQ(version->Int(0), kJournalSchemaVersion);
  auto mode = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_THAT(mode.status(), IsOk());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->Text(0), "wal");
}

TEST_F(JournalTest, AReaderBesideTheWriterSeesWhatItCommitsAndCannotWrite) {
  EXPECT_THAT(Journal::OpenForReading(File()).status(), StatusIs(StatusCode::kNotFound));
  std::unique_ptr<Journal> writer = OpenJournal();
  ASSERT_NE(writer, nullptr);
  // The writer holds the data dir's lock; reading beside it needs none.
  StatusOr<std::unique_ptr<Journal>> reader = Journal::OpenForReading(File());
  ASSERT_TRUE(reader.ok()) << reader.status();
  AddMachine(*writer, "m");
  StatusOr<std::optional<StateMachineRow>> found = (*reader)->ReadValue([](JournalReader& r) {
    return r.GetStateMachine("arn:aws:states:us-east-1:123456789012:stateMachine:m");
  });
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->has_value());
  EXPECT_THAT(Write(**reader, [](JournalWriter&) { return Status::Ok(); }),
              StatusIs(StatusCode::kUnavailable));
}

TEST_F(JournalTest, RefusesADatabaseFromANewerBuild) {
  OpenJournal().reset();
  {
    auto db = Database::Open(File(), Database::Mode::kReadWrite);
    ASSERT_THAT(db.status(), IsOk());
    ASSERT_THAT((*db)->Execute("PRAGMA user_version = 99"), IsOk());
  }
  EXPECT_THAT(Journal::Open(File()).status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("schema version 99")));
}

TEST_F(JournalTest, RefusesAFileThatIsNotADatabase) {
  std::ofstream(File()) << std::string(4096, 'x');
  EXPECT_THAT(Journal::Open(File()).status(),
              StatusIs(StatusCode::kDataLoss, HasSubstr("not a database")));
}

TEST_F(JournalTest, ReportsAnUnwritableLocation) {
  EXPECT_THAT(Journal::Open(dir_ / "missing" / "journal.db").status(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("missing/journal.db")));
}

TEST_F(JournalTest, CommittedWorkIsVisibleToReadersAndSurvivesReopening) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  ASSERT_THAT(Write(*journal,
                    [&](JournalWriter& w) {
                      return w.InsertExecution(Execution(machine, "e1", 200)).status();
                    }),
              IsOk());
  journal.reset();
  journal = OpenJournal();
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto row = r.GetExecution("arn:aws:states:us-east-1:123456789012:execution:m:e1");
    if (!row.ok()) return row.status();
    EXPECT_TRUE(row->has_value());
    if (*row) {
      EXPECT_EQ((*row)->state_machine_arn, "arn:aws:states:us-east-1:123456789012:stateMachine:m");
      EXPECT_EQ((*row)->status, "RUNNING");
      EXPECT_EQ((*row)->seed, 42u);
      EXPECT_EQ((*row)->start, At(200));
    }
    auto machine_row = r.GetStateMachine("arn:aws:states:us-east-1:123456789012:stateMachine:m");
    EXPECT_TRUE(machine_row.ok() && machine_row->has_value());
    if (machine_row.ok() && *machine_row) {
      EXPECT_EQ((*machine_row)->revision_id, "rev-1");
      EXPECT_EQ((*machine_row)->definition, R"({"StartAt":"A"})");
    }
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, FailedIsolatedWorkIsRolledBackAloneAndReportsItsError) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  std::promise<Status> first, second, third;
  journal->Submit(
      [&](JournalWriter& w) { return w.InsertExecution(Execution(machine, "a", 1)).status(); },
      [&](Status s) { first.set_value(s); });
  journal->Submit(
      [&](JournalWriter& w) -> Status {
        // Writes, then fails: the write must not survive.
        if (Status s = w.InsertExecution(Execution(machine, "b", 2)).status(); !s.ok()) return s;
        return w.InsertExecution(Execution(machine, "a", 3)).status();  // name taken
      },
      [&](Status s) { second.set_value(s); });
  journal->Submit(
      [&](JournalWriter& w) { return w.InsertExecution(Execution(machine, "c", 4)).status(); },
      [&](Status s) { third.set_value(s); });
  EXPECT_THAT(first.get_future().get(), IsOk());
  EXPECT_THAT(second.get_future().get(), StatusIs(StatusCode::kAlreadyExists));
  EXPECT_THAT(third.get_future().get(), IsOk());
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    ExecutionQuery query;
    query.state_machine_id = machine;
    auto rows = r.ListExecutions(query);
    if (!rows.ok()) return rows.status();
    std::vector<std::string> names;
    for (const auto& row : *rows) names.push_back(row.name);
    EXPECT_THAT(names, ::testing::ElementsAre("c", "a"));  // newest first; no "b"
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, WorkThatIsNotIsolatedFailsItsWholeBatch) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  // Hold the writer in a first batch, so that the next two pieces share the following one.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  journal->Submit(
      [released](JournalWriter&) {
        released.wait();
        return Status::Ok();
      },
      nullptr);
  std::promise<Status> failing, later;
  journal->Submit(
      [&](JournalWriter& w) -> Status {
        if (Status s = w.InsertExecution(Execution(machine, "partial", 1)).status(); !s.ok()) {
          return s;
        }
        return InternalError("disk trouble after a write");
      },
      [&](Status s) { failing.set_value(s); }, /*isolated=*/false);
  journal->Submit(
      [&](JournalWriter& w) { return w.InsertExecution(Execution(machine, "later", 2)).status(); },
      [&](Status s) { later.set_value(s); }, /*isolated=*/false);
  release.set_value();
  EXPECT_THAT(failing.get_future().get(), StatusIs(StatusCode::kInternal, HasSubstr("disk")));
  EXPECT_THAT(later.get_future().get(), StatusIs(StatusCode::kInternal, HasSubstr("disk")));
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    ExecutionQuery query;
    query.state_machine_id = machine;
    auto rows = r.ListExecutions(query);
    if (!rows.ok()) return rows.status();
    EXPECT_TRUE(rows->empty()) << "nothing of the failed batch was committed";
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, WorkSeesEarlierWorkOfTheSameBatch) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  std::promise<Status> first;
  std::promise<bool> seen;
  journal->Submit(
      [&](JournalWriter& w) { return w.InsertExecution(Execution(machine, "a", 1)).status(); },
      [&](Status s) { first.set_value(s); });
  journal->Submit(
      [&](JournalWriter& w) -> Status {
        auto found = w.FindExecution(machine, "a");
        seen.set_value(found.ok() && found->has_value());
        return Status::Ok();
      },
      nullptr);
  EXPECT_THAT(first.get_future().get(), IsOk());
  EXPECT_TRUE(seen.get_future().get());
}

TEST_F(JournalTest, CallsCloseAndHistoryRoundTrip) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  int64_t id = 0;
  ASSERT_THAT(Write(*journal,
                    [&](JournalWriter& w) -> Status {
                      auto inserted = w.InsertExecution(Execution(machine, "e", 5));
                      if (!inserted.ok()) return inserted.status();
                      id = *inserted;
                      CallRow start{0, CallKind::kStart, 0, At(5), true, "", "", ""};
                      CallRow done{1,     CallKind::kTaskCompleted, 7, At(6), false, "",
                                   "Err", "why \"quoted\""};
                      return w.AppendCalls(id, {start, done});
                    }),
              IsOk());
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto open = r.OpenExecutions();
    EXPECT_TRUE(open.ok() && open->size() == 1);
    auto calls = r.Calls(id);
    if (!calls.ok()) return calls.status();
    EXPECT_EQ(calls->size(), 2u);
    if (calls->size() == 2) {
      EXPECT_EQ((*calls)[1].kind, CallKind::kTaskCompleted);
      EXPECT_EQ((*calls)[1].token, 7u);
      EXPECT_FALSE((*calls)[1].succeeded);
      EXPECT_EQ((*calls)[1].cause, "why \"quoted\"");
      EXPECT_EQ((*calls)[1].now, At(6));
    }
    return Status::Ok();
  }),
              IsOk());
  ASSERT_THAT(Write(*journal,
                    [&](JournalWriter& w) {
                      return w.CloseExecution(id, "SUCCEEDED", At(9), std::string("{\"x\":1}"),
                                              std::nullopt, std::nullopt);
                    }),
              IsOk());
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto open = r.OpenExecutions();
    EXPECT_TRUE(open.ok() && open->empty());
    auto row = r.GetExecution("arn:aws:states:us-east-1:123456789012:execution:m:e");
    EXPECT_TRUE(row.ok() && row->has_value());
    if (row.ok() && *row) {
      EXPECT_EQ((*row)->status, "SUCCEEDED");
      EXPECT_EQ((*row)->stop, At(9));
      EXPECT_EQ((*row)->output, "{\"x\":1}");
      EXPECT_FALSE((*row)->error.has_value());
    }
    auto max = r.MaxExecutionId();
    EXPECT_TRUE(max.ok() && *max == id);
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, CallsRoundTripExactlyInGroups) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  std::vector<CallRow> written;
  for (int64_t i = 0; i < 50; ++i) {
    CallRow call;
    call.seq = i;
    call.kind = static_cast<CallKind>(1 + i % 6);
    call.token = i % 3 == 0 ? ~uint64_t{0} - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
    // Times that go back as well as forward, and far from the epoch.
    call.now = WallTime(std::chrono::nanoseconds(1'700'000'000'000'000'000 + (i % 2 ? -i : i * 7)));
    call.succeeded = i % 4 != 0;
    call.output = i % 5 == 0 ? "" : std::string(static_cast<size_t>(i) * 37, 'o');
    call.error = "E\0rr" + std::to_string(i);
    call.cause = std::string("\xff\x00\n\"", 4);
    written.push_back(call);
  }
  int64_t id = 0;
  ASSERT_THAT(
      Write(*journal,
            [&](JournalWriter& w) -> Status {
              auto inserted = w.InsertExecution(Execution(machine, "e", 5));
              if (!inserted.ok()) return inserted.status();
              id = *inserted;
              // Three turns of 1, 20 and 29 calls.
              HPD_RETURN_IF_ERROR(w.AppendCalls(id, {written.begin(), written.begin() + 1}));
              HPD_RETURN_IF_ERROR(w.AppendCalls(id, {written.begin() + 1, written.begin() + 21}));
              return w.AppendCalls(id, {written.begin() + 21, written.end()});
            }),
      IsOk());
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto calls = r.Calls(id);
    if (!calls.ok()) return calls.status();
    EXPECT_EQ(calls->size(), written.size());
    for (size_t i = 0; i < calls->size() && i < written.size(); ++i) {
      const CallRow& got = (*calls)[i];
      const CallRow& want = written[i];
      EXPECT_EQ(got.seq, want.seq);
      EXPECT_EQ(got.kind, want.kind);
      EXPECT_EQ(got.token, want.token);
      EXPECT_EQ(got.now, want.now);
      EXPECT_EQ(got.succeeded, want.succeeded);
      EXPECT_EQ(got.output, want.output);
      EXPECT_EQ(got.error, want.error);
      EXPECT_EQ(got.cause, want.cause);
    }
    auto count = r.CallCount(id);
    EXPECT_TRUE(count.ok() && *count == 50);
    return Status::Ok();
  }),
              IsOk());
  // A group must continue where the last one ended.
  EXPECT_THAT(Write(*journal,
                    [&](JournalWriter& w) {
                      CallRow gap = written[0];
                      gap.seq = 51;
                      CallRow next = gap;
                      next.seq = 53;
                      return w.AppendCalls(id, {gap, next});
                    }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("consecutive")));
}

TEST_F(JournalTest, ListsExecutionsNewestFirstInPagesAndByStatus) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(Write(*journal,
                      [&](JournalWriter& w) -> Status {
                        auto id =
                            w.InsertExecution(Execution(machine, "e" + std::to_string(i), 10 + i));
                        if (!id.ok()) return id.status();
                        if (i % 2 == 1) {
                          return w.CloseExecution(*id, "FAILED", At(50), std::nullopt,
                                                  std::string("E"), std::string("C"));
                        }
                        return Status::Ok();
                      }),
                IsOk());
  }
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    ExecutionQuery query;
    query.state_machine_id = machine;
    query.limit = 2;
    std::vector<std::string> names;
    while (true) {
      auto page = r.ListExecutions(query);
      if (!page.ok()) return page.status();
      for (const auto& row : *page) names.push_back(row.name);
      if (page->size() < query.limit) break;
      query.after = std::make_pair(page->back().start.time_since_epoch().count(), page->back().id);
    }
    EXPECT_THAT(names, ::testing::ElementsAre("e4", "e3", "e2", "e1", "e0"));
    ExecutionQuery failed;
    failed.state_machine_id = machine;
    failed.status = "FAILED";
    auto rows = r.ListExecutions(failed);
    if (!rows.ok()) return rows.status();
    names.clear();
    for (const auto& row : *rows) names.push_back(row.name);
    EXPECT_THAT(names, ::testing::ElementsAre("e3", "e1"));
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, ManyWritersAreGroupedIntoFewerCommits) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  const uint64_t commits_before = journal->commits();
  constexpr int kThreads = 4, kEach = 250;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::promise<void> all_done;
  std::atomic<int> remaining{kThreads * kEach};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        journal->Submit(
            [&, t, i](JournalWriter& w) {
              return w
                  .InsertExecution(
                      Execution(machine, std::to_string(t) + "-" + std::to_string(i), i))
                  .status();
            },
            [&](Status s) {
              if (s.ok()) ok.fetch_add(1);
              if (remaining.fetch_sub(1) == 1) all_done.set_value();
            });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  all_done.get_future().wait();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(journal->committed_work(), static_cast<uint64_t>(kThreads * kEach + 1));
  // Every piece of work was committed, in at most as many transactions as pieces.
  EXPECT_LE(journal->commits() - commits_before, static_cast<uint64_t>(kThreads * kEach));
}

TEST_F(JournalTest, DoneMeansDurableEvenIfTheProcessIsKilledRightAfter) {
  OpenJournal().reset();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto journal = Journal::Open(File());
    if (!journal.ok()) _exit(3);
    int64_t machine = 0;
    std::promise<void> done;
    (*journal)->Submit(
        [&](JournalWriter& w) -> Status {
          StateMachineRow row;
          row.arn = "arn:m";
          row.name = "m";
          row.type = "STANDARD";
          auto id = w.InsertStateMachine(row);
          if (!id.ok()) return id.status();
          machine = *id;
          return w.InsertExecution(Execution(machine, "survivor", 1)).status();
        },
        [&](Status s) {
          if (!s.ok()) _exit(4);
          // Killed at once, inside the callback: no destructor, no clean close.
          kill(getpid(), SIGKILL);
        });
    done.get_future().wait();
    _exit(5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  auto journal = OpenJournal();
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto row = r.GetExecution("arn:aws:states:us-east-1:123456789012:execution:m:survivor");
    EXPECT_TRUE(row.ok() && row->has_value());
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, OneProcessAtATime) {
  auto journal = OpenJournal();
  EXPECT_THAT(Journal::Open(File()).status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("in use by another process")));
  journal.reset();
  EXPECT_THAT(Journal::Open(File()).status(), IsOk());
}

TEST_F(JournalTest, ExecutionsOutliveTheirStateMachine) {
  auto journal = OpenJournal();
  const int64_t machine = AddMachine(*journal, "m");
  ASSERT_THAT(Write(*journal,
                    [&](JournalWriter& w) {
                      return w.InsertExecution(Execution(machine, "e", 1)).status();
                    }),
              IsOk());
  ASSERT_THAT(Write(*journal, [&](JournalWriter& w) { return w.DeleteStateMachine(machine); }),
              IsOk());
  ASSERT_THAT(journal->Read([&](JournalReader& r) -> Status {
    auto row = r.GetExecution("arn:aws:states:us-east-1:123456789012:execution:m:e");
    EXPECT_TRUE(row.ok() && row->has_value());
    auto open = r.OpenExecutions();
    EXPECT_TRUE(open.ok() && open->size() == 1);
    return Status::Ok();
  }),
              IsOk());
}

TEST_F(JournalTest, SubmitAfterCloseFailsAtOnce) {
  auto journal = OpenJournal();
  journal->Close();
  std::promise<Status> done;
  journal->Submit([](JournalWriter&) { return Status::Ok(); },
                  [&](Status s) { done.set_value(s); });
  EXPECT_THAT(done.get_future().get(), StatusIs(StatusCode::kUnavailable, HasSubstr("closed")));
}

}  // namespace
}  // namespace hpd::store
