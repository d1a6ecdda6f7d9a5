// The engine's durable store: one SQLite database (WAL) holding state machines, their
// revisions, executions and the journal of interpreter calls. Replaying an execution's calls
// rebuilds it, open or closed, history included (the interpreter is deterministic).
//
// Writes go through one writer thread that groups them: every Submit()ted piece of work joins
// the next transaction, and one COMMIT (one fsync of the WAL, synchronous=FULL) makes a whole
// batch durable before any of its `done` callbacks run. Reads use their own connections (WAL
// lets them run beside the writer) and see committed data only.
//
// Schema versions: PRAGMA user_version holds the version; Open applies the migrations a database
// lacks, each in its own transaction, and refuses a database written by a newer build.
//
// Thread-safe: Submit and Read may be called from any thread.
#ifndef HPD_STORE_JOURNAL_H_
#define HPD_STORE_JOURNAL_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {

// The schema version this build writes.
inline constexpr int kJournalSchemaVersion = 1;

struct StateMachineRow {
  int64_t id = 0;
  std::string arn;
  std::string name;
  std::string type;  // STANDARD | EXPRESS
  WallTime created{};
  std::string description;
  std::string logging_configuration;  // JSON text ("" when none given)
  std::string tracing_configuration;  // JSON text ("" when none given)
  // The current revision.
  int64_t revision = 0;
  std::string revision_id;  // a UUID, shown to users
  std::string definition;
  std::string role_arn;
  WallTime revision_created{};
};

struct RevisionRow {
  int64_t id = 0;
  int64_t state_machine_id = 0;
  std::string revision_id;
  std::string definition;
  std::string role_arn;
  WallTime created{};
};

struct ExecutionRow {
  int64_t id = 0;
  std::string arn;
  int64_t state_machine_id = 0;
  std::string state_machine_arn;  // filled by reads
  int64_t revision = 0;
  std::string name;
  std::string type;  // STANDARD | EXPRESS
  std::string input;
  uint64_t seed = 0;
  WallTime start{};
  std::string status = "RUNNING";
  std::optional<WallTime> stop;
  std::optional<std::string> output;
  std::optional<std::string> error;
  std::optional<std::string> cause;
  int64_t redrive_count = 0;
  std::optional<WallTime> redrive;
  std::string trace_header;
};

// One call made to an execution's interpreter (asl::Execution), in order: replaying them
// rebuilds the execution.
enum class CallKind : int {
  kStart = 1,
  kTaskStarted = 2,
  kTaskCompleted = 3,
  kTimerFired = 4,
  kStop = 5,
  kRedrive = 6
};

struct CallRow {
  int64_t seq = 0;  // 0, 1, 2 ... per execution
  CallKind kind = CallKind::kStart;
  uint64_t token = 0;
  WallTime now{};
  bool succeeded = true;  // kTaskCompleted
  std::string output;     // kTaskCompleted, succeeded: the result's JSON text
  std::string error;      // kTaskCompleted failed, kStop
  std::string cause;
};

// Filters and paging for ListExecutions: newest first.
struct ExecutionQuery {
  int64_t state_machine_id = 0;
  std::optional<std::string> status;
  // Continue after this (start, id) position of a previous page.
  std::optional<std::pair<int64_t, int64_t>> after;
  size_t limit = 100;
};

// The write side, handed to work running inside the batch transaction. Only valid during that
// call, on the writer thread.
class JournalWriter {
 public:
  virtual ~JournalWriter() = default;
  // kAlreadyExists when the arn is taken.
  virtual StatusOr<int64_t> InsertStateMachine(const StateMachineRow& row) = 0;
  // Adds a revision and makes it the machine's current one; returns its id.
  virtual StatusOr<int64_t> AddRevision(const RevisionRow& row) = 0;
  virtual Status UpdateStateMachineDetails(int64_t id, std::string_view logging,
                                           std::string_view tracing) = 0;
  virtual Status DeleteStateMachine(int64_t id) = 0;
  // The STANDARD execution of that machine with that name (names are unique among those
  // only). Within the transaction: sees earlier work of the same batch.
  virtual StatusOr<std::optional<ExecutionRow>> FindExecution(int64_t state_machine_id,
                                                              std::string_view name) = 0;
  virtual StatusOr<std::optional<StateMachineRow>> FindStateMachine(std::string_view arn) = 0;
  // kAlreadyExists when the arn or (machine, name) is taken. Uses row.id when it is not 0; the
  // row's status, stop, output, error and cause as given (an execution that ended in its first
  // step is inserted closed). Returns the id.
  virtual StatusOr<int64_t> InsertExecution(const ExecutionRow& row) = 0;
  // Appends calls with consecutive seq numbers (one turn of the execution), stored together.
  virtual Status AppendCalls(int64_t execution_id, const std::vector<CallRow>& calls) = 0;
  // Records the end of an execution: status, stop time, output or error/cause. (Its history is
  // not stored: replaying its calls reproduces it.)
  virtual Status CloseExecution(int64_t execution_id, std::string_view status, WallTime stop,
                                const std::optional<std::string>& output,
                                const std::optional<std::string>& error,
                                const std::optional<std::string>& cause) = 0;
  // A redrive reopens a closed execution.
  virtual Status ReopenExecution(int64_t execution_id, int64_t redrive_count, WallTime at) = 0;
};

// The read side (committed data). Only valid during the Read call that hands it out.
class JournalReader {
 public:
  virtual ~JournalReader() = default;
  virtual StatusOr<std::optional<StateMachineRow>> GetStateMachine(std::string_view arn) = 0;
  virtual StatusOr<std::optional<StateMachineRow>> GetStateMachineById(int64_t id) = 0;
  // Ordered by name; continues after `after_name` when given.
  virtual StatusOr<std::vector<StateMachineRow>> ListStateMachines(
      std::optional<std::string_view> after_name, size_t limit) = 0;
  virtual StatusOr<std::optional<RevisionRow>> GetRevision(int64_t id) = 0;
  virtual StatusOr<std::optional<ExecutionRow>> GetExecution(std::string_view arn) = 0;
  virtual StatusOr<std::vector<ExecutionRow>> ListExecutions(const ExecutionQuery& query) = 0;
  // Every RUNNING execution, oldest first.
  virtual StatusOr<int64_t> MaxExecutionId() = 0;
  virtual StatusOr<std::vector<ExecutionRow>> OpenExecutions() = 0;
  virtual StatusOr<std::vector<CallRow>> Calls(int64_t execution_id) = 0;
  // How many calls the journal holds for the execution.
  virtual StatusOr<int64_t> CallCount(int64_t execution_id) = 0;
};

struct JournalOptions {
  // Upper bound on pieces of work per transaction (a batch of more waits for the next one).
  size_t max_batch = 4096;
  // synchronous=FULL (fsync per commit) when true; tests of logic may turn it off.
  bool fsync = true;
};

class Journal {
 public:
  using Work = std::function<Status(JournalWriter&)>;
  using Done = std::function<void(Status)>;

  // Opens or creates `file`, in WAL mode, migrating it to kJournalSchemaVersion. Errors:
  // kUnavailable (cannot open/create/write, the path is named), kFailedPrecondition (written by
  // a newer build), kDataLoss (not a database).
  [[nodiscard]] static StatusOr<std::unique_ptr<Journal>> Open(const std::filesystem::path& file,
                                                               JournalOptions options = {});
  // Opens an existing journal for reading only, beside the process that writes it (takes no
  // lock, migrates nothing): Read works and sees what that process has committed; Submit
  // answers kUnavailable. kNotFound when there is no such file, kFailedPrecondition for another
  // schema version, kDataLoss for a file that is not a database.
  [[nodiscard]] static StatusOr<std::unique_ptr<Journal>> OpenForReading(
      const std::filesystem::path& file);
  // Finishes every submitted piece of work (commits it), then closes.
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Runs `work` on the writer thread inside the next transaction; then `done` (on the writer
  // thread, after COMMIT returned, so the work is durable when it is OK) with the work's status,
  // or the commit's error. Work that fails is rolled back alone (a savepoint) when `isolated`;
  // otherwise its failure rolls back the whole batch, and every piece of it gets that error. Work
  // items run and finish in submission order. After Close, `done` gets kUnavailable at once.
  void Submit(Work work, Done done, bool isolated = true);
  // Runs `read` with a reader connection (borrowed from a pool) on the calling thread.
  [[nodiscard]] Status Read(const std::function<Status(JournalReader&)>& read) const;
  // Read for one reader call: `ReadValue([&](JournalReader& r) { return r.GetExecution(arn); })`
  // returns that call's StatusOr (or the error of borrowing a connection).
  template <typename F>
  std::invoke_result_t<F, JournalReader&> ReadValue(F&& read) const {
    std::optional<std::invoke_result_t<F, JournalReader&>> result;
    Status status = Read([&](JournalReader& reader) {
      result.emplace(read(reader));
      return Status::Ok();
    });
    if (!status.ok()) return status;
    return std::move(*result);
  }
  // Commits what is queued and stops the writer; later Submits fail. Idempotent.
  void Close();

  const std::filesystem::path& file() const;
  // Batches committed so far, and pieces of work in them (for benchmarks and logs).
  uint64_t commits() const;
  uint64_t committed_work() const;

 private:
  class Impl;
  explicit Journal(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::store

#endif  // HPD_STORE_JOURNAL_H_
