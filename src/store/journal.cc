#include "store/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>

#include "common/fifo.h"
#include "store/sqlite.h"

namespace hpd::store {
namespace {

// Each entry moves the schema from version i to i + 1.
constexpr std::string_view kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE state_machines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  arn TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  created_ns INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  logging TEXT NOT NULL DEFAULT '',
  tracing TEXT NOT NULL DEFAULT '',
  revision INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE revisions (
  id INTEGER PRIMARY KEY,
  state_machine_id INTEGER NOT NULL,
  revision_id TEXT NOT NULL,
  definition TEXT NOT NULL,
  role_arn TEXT NOT NULL,
  created_ns INTEGER NOT NULL
);
CREATE TABLE executions (
  id INTEGER PRIMARY KEY,
  arn TEXT NOT NULL UNIQUE,
  state_machine_id INTEGER NOT NULL,
  state_machine_arn TEXT NOT NULL,
  revision INTEGER NOT NULL,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  input TEXT NOT NULL,
  seed INTEGER NOT NULL,
  start_ns INTEGER NOT NULL,
  status TEXT NOT NULL,
  stop_ns INTEGER,
  output TEXT,
  error TEXT,
  cause TEXT,
  redrive_count INTEGER NOT NULL DEFAULT 0,
  redrive_ns INTEGER,
  trace_header TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX executions_by_name ON executions(state_machine_id, name)
  WHERE type = 'STANDARD';
CREATE INDEX executions_by_start ON executions(state_machine_id, start_ns, id);
CREATE INDEX executions_running ON executions(id) WHERE status = 'RUNNING';
CREATE TABLE calls (
  execution_id INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (execution_id, first_seq)
) WITHOUT ROWID;
)sql",
};
static_assert(std::size(kMigrations) == kJournalSchemaVersion);

int64_t Nanos(WallTime time) { return time.time_since_epoch().count(); }
WallTime FromNanos(int64_t nanos) { return WallTime(Duration(nanos)); }
std::optional<WallTime> OptionalTime(const Statement& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return FromNanos(s.Int(column));
}

Status Prepare(Database& db, std::string_view sql, Statement* out) {
  StatusOr<Statement> statement = db.Prepare(sql);
  if (!statement.ok()) return statement.status();
  *out = std::move(*statement);
  return Status::Ok();
}

StatusOr<std::optional<std::string>> OptionalScalar(Statement& s) {
  StatusOr<bool> row = s.Step();
  if (!row.ok()) return row.status();
  std::optional<std::string> value;
  if (*row) value = s.OptionalText(0);
  s.Reset();
  return value;
}

constexpr std::string_view kMachineColumns =
    "m.id, m.arn, m.name, m.type, m.created_ns, m.description, m.logging, m.tracing, m.revision, "
    "r.revision_id, r.definition, r.role_arn, r.created_ns "
    "FROM state_machines m JOIN revisions r ON r.id = m.revision ";

StateMachineRow MachineFrom(const Statement& s) {
  StateMachineRow row;
  row.id = s.Int(0);
  row.arn = s.Text(1);
  row.name = s.Text(2);
  row.type = s.Text(3);
  row.created = FromNanos(s.Int(4));
  row.description = s.Text(5);
  row.logging_configuration = s.Text(6);
  row.tracing_configuration = s.Text(7);
  row.revision = s.Int(8);
  row.revision_id = s.Text(9);
  row.definition = s.Text(10);
  row.role_arn = s.Text(11);
  row.revision_created = FromNanos(s.Int(12));
  return row;
}

constexpr std::string_view kExecutionColumns =
    "e.id, e.arn, e.state_machine_id, e.state_machine_arn, e.revision, e.name, e.type, e.input, "
    "e.seed, "
    "e.start_ns, e.status, e.stop_ns, e.output, e.error, e.cause, e.redrive_count, e.redrive_ns, "
    // Not joined with state_machines: a deleted machine's executions live on.
    "e.trace_header FROM executions e ";

ExecutionRow ExecutionFrom(const Statement& s) {
  ExecutionRow row;
  row.id = s.Int(0);
  row.arn = s.Text(1);
  row.state_machine_id = s.Int(2);
  row.state_machine_arn = s.Text(3);
  row.revision = s.Int(4);
  row.name = s.Text(5);
  row.type = s.Text(6);
  row.input = s.Text(7);
  row.seed = static_cast<uint64_t>(s.Int(8));
  row.start = FromNanos(s.Int(9));
  row.status = s.Text(10);
  row.stop = OptionalTime(s, 11);
  row.output = s.OptionalText(12);
  row.error = s.OptionalText(13);
  row.cause = s.OptionalText(14);
  row.redrive_count = s.Int(15);
  row.redrive = OptionalTime(s, 16);
  row.trace_header = s.Text(17);
  return row;
}

template <typename Row, typename From>
StatusOr<std::optional<Row>> OneRow(Statement& s, From from) {
  StatusOr<bool> step = s.Step();
  if (!step.ok()) return step.status();
  std::optional<Row> row;
  if (*step) row = from(s);
  s.Reset();
  return row;
}

template <typename Row, typename From>
StatusOr<std::vector<Row>> AllRows(Statement& s, From from) {
  std::vector<Row> rows;
  while (true) {
    StatusOr<bool> step = s.Step();
    if (!step.ok()) return step.status();
    if (!*step) break;
    rows.push_back(from(s));
  }
  s.Reset();
  return rows;
}

// A group of calls (one turn of an execution) is stored as one blob: a row per call cost the
// writer most of its time. Per call: kind (1 byte), token, now (nanoseconds since the
// previous call's, zigzag), succeeded (1 byte), then output, error and cause, each a length
// and its bytes; integers as LEB128 varints.
void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutText(std::string_view text, std::string* out) {
  PutVarint(text.size(), out);
  out->append(text);
}

void EncodeCalls(const std::vector<CallRow>& calls, std::string* out) {
  int64_t previous = 0;
  for (const CallRow& call : calls) {
    out->push_back(static_cast<char>(call.kind));
    PutVarint(call.token, out);
    const int64_t now = Nanos(call.now);
    const auto delta = static_cast<uint64_t>(now) - static_cast<uint64_t>(previous);
    const auto signed_delta = static_cast<int64_t>(delta);
    PutVarint(
        (static_cast<uint64_t>(signed_delta) << 1) ^ static_cast<uint64_t>(signed_delta >> 63),
        out);
    previous = now;
    out->push_back(call.succeeded ? 1 : 0);
    PutText(call.output, out);
    PutText(call.error, out);
    PutText(call.cause, out);
  }
}

class Decoder {
 public:
  explicit Decoder(std::string_view data) : data_(data) {}
  bool Byte(uint8_t* b) {
    if (pos_ >= data_.size()) return false;
    *b = static_cast<uint8_t>(data_[pos_++]);
    return true;
  }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = 0;
      if (!Byte(&b)) return false;
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool Text(std::string* text) {
    uint64_t size = 0;
    if (!Varint(&size) || size > data_.size() - pos_) return false;
    text->assign(data_.substr(pos_, static_cast<size_t>(size)));
    pos_ += static_cast<size_t>(size);
    return true;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

Status DecodeCalls(std::string_view data, int64_t first_seq, int64_t count,
                   std::vector<CallRow>* calls) {
  Decoder in(data);
  int64_t previous = 0;
  for (int64_t i = 0; i < count; ++i) {
    CallRow call;
    call.seq = first_seq + i;
    uint8_t kind = 0, succeeded = 0;
    uint64_t token = 0, zigzag = 0;
    if (!in.Byte(&kind) || kind < static_cast<uint8_t>(CallKind::kStart) ||
        kind > static_cast<uint8_t>(CallKind::kRedrive) || !in.Varint(&token) ||
        !in.Varint(&zigzag) || !in.Byte(&succeeded) || !in.Text(&call.output) ||
        !in.Text(&call.error) || !in.Text(&call.cause)) {
      return DataLossError("call " + std::to_string(call.seq) + " is damaged");
    }
    call.kind = static_cast<CallKind>(kind);
    call.token = token;
    const auto delta = static_cast<int64_t>((zigzag >> 1) ^ (~(zigzag & 1) + 1));
    previous = static_cast<int64_t>(static_cast<uint64_t>(previous) + static_cast<uint64_t>(delta));
    call.now = FromNanos(previous);
    call.succeeded = succeeded != 0;
    calls->push_back(std::move(call));
  }
  if (!in.done())
    return DataLossError("calls from " + std::to_string(first_seq) + " have trailing bytes");
  return Status::Ok();
}

// Reads shared by the writer (inside its transaction) and the readers.
class Queries {
 public:
  Status Init(Database& db) {
    Status status;
    auto prepare = [&](std::string_view sql, Statement* out) {
      if (status.ok()) status = Prepare(db, sql, out);
    };
    prepare(std::string("SELECT ") + std::string(kMachineColumns) + "WHERE m.arn = ?1",
            &machine_by_arn_);
    prepare(std::string("SELECT ") + std::string(kMachineColumns) + "WHERE m.id = ?1",
            &machine_by_id_);
    prepare(std::string("SELECT ") + std::string(kExecutionColumns) +
                "WHERE e.state_machine_id = ?1 AND e.name = ?2 AND e.type = 'STANDARD'",
            &execution_by_name_);
    return status;
  }

  StatusOr<std::optional<StateMachineRow>> MachineByArn(std::string_view arn) {
    machine_by_arn_.Bind(1, arn);
    return OneRow<StateMachineRow>(machine_by_arn_, MachineFrom);
  }
  StatusOr<std::optional<StateMachineRow>> MachineById(int64_t id) {
    machine_by_id_.Bind(1, id);
    return OneRow<StateMachineRow>(machine_by_id_, MachineFrom);
  }
  StatusOr<std::optional<ExecutionRow>> ExecutionByName(int64_t machine, std::string_view name) {
    execution_by_name_.Bind(1, machine).Bind(2, name);
    return OneRow<ExecutionRow>(execution_by_name_, ExecutionFrom);
  }

 private:
  Statement machine_by_arn_;
  Statement machine_by_id_;
  Statement execution_by_name_;
};

class Writer final : public JournalWriter {
 public:
  explicit Writer(Database& db) : db_(db) {}

  Status Init() {
    Status status = queries_.Init(db_);
    auto prepare = [&](std::string_view sql, Statement* out) {
      if (status.ok()) status = Prepare(db_, sql, out);
    };
    prepare(
        "INSERT INTO state_machines (arn, name, type, created_ns, description, logging, tracing) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &insert_machine_);
    prepare(
        "INSERT INTO revisions (state_machine_id, revision_id, definition, role_arn, created_ns) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
        &insert_revision_);
    prepare("UPDATE state_machines SET revision = ?2 WHERE id = ?1", &set_revision_);
    prepare("UPDATE state_machines SET logging = ?2, tracing = ?3 WHERE id = ?1", &update_details_);
    prepare("DELETE FROM state_machines WHERE id = ?1", &delete_machine_);
    prepare(
        "INSERT INTO executions (arn, state_machine_id, revision, name, type, input, seed, "
        "start_ns, status, trace_header, id, state_machine_arn, stop_ns, output, error, cause) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?12, ?9, ?10, ?11, ?13, ?14, ?15, ?16)",
        &insert_execution_);
    prepare("INSERT INTO calls (execution_id, first_seq, count, data) VALUES (?1, ?2, ?3, ?4)",
            &insert_call_);
    prepare(
        "UPDATE executions SET status = ?2, stop_ns = ?3, output = ?4, error = ?5, cause = ?6 "
        "WHERE id = ?1",
        &close_execution_);
    prepare(
        "UPDATE executions SET status = 'RUNNING', stop_ns = NULL, output = NULL, error = NULL, "
        "cause = NULL, redrive_count = ?2, redrive_ns = ?3 WHERE id = ?1",
        &reopen_execution_);
    return status;
  }

  StatusOr<int64_t> InsertStateMachine(const StateMachineRow& row) override {
    Status status = insert_machine_.Bind(1, row.arn)
                        .Bind(2, row.name)
                        .Bind(3, row.type)
                        .Bind(4, Nanos(row.created))
                        .Bind(5, row.description)
                        .Bind(6, row.logging_configuration)
                        .Bind(7, row.tracing_configuration)
                        .Run();
    if (!status.ok()) return status;
    return db_.LastInsertRowId();
  }

  StatusOr<int64_t> AddRevision(const RevisionRow& row) override {
    Status status = insert_revision_.Bind(1, row.state_machine_id)
                        .Bind(2, row.revision_id)
                        .Bind(3, row.definition)
                        .Bind(4, row.role_arn)
                        .Bind(5, Nanos(row.created))
                        .Run();
    if (!status.ok()) return status;
    const int64_t id = db_.LastInsertRowId();
    status = set_revision_.Bind(1, row.state_machine_id).Bind(2, id).Run();
    if (!status.ok()) return status;
    return id;
  }

  Status UpdateStateMachineDetails(int64_t id, std::string_view logging,
                                   std::string_view tracing) override {
    return update_details_.Bind(1, id).Bind(2, logging).Bind(3, tracing).Run();
  }

  Status DeleteStateMachine(int64_t id) override { return delete_machine_.Bind(1, id).Run(); }

  StatusOr<std::optional<ExecutionRow>> FindExecution(int64_t state_machine_id,
                                                      std::string_view name) override {
    return queries_.ExecutionByName(state_machine_id, name);
  }

  StatusOr<std::optional<StateMachineRow>> FindStateMachine(std::string_view arn) override {
    return queries_.MachineByArn(arn);
  }

  StatusOr<int64_t> InsertExecution(const ExecutionRow& row) override {
    insert_execution_.Bind(1, row.arn)
        .Bind(2, row.state_machine_id)
        .Bind(3, row.revision)
        .Bind(4, row.name)
        .Bind(5, row.type)
        .Bind(6, row.input)
        .Bind(7, static_cast<int64_t>(row.seed))
        .Bind(8, Nanos(row.start))
        .Bind(9, row.trace_header);
    if (row.id != 0) {
      insert_execution_.Bind(10, row.id);
    } else {
      insert_execution_.BindNull(10);
    }
    insert_execution_.Bind(11, row.state_machine_arn).Bind(12, row.status);
    if (row.stop) {
      insert_execution_.Bind(13, Nanos(*row.stop));
    } else {
      insert_execution_.BindNull(13);
    }
    insert_execution_.Bind(14, row.output).Bind(15, row.error).Bind(16, row.cause);
    if (Status status = insert_execution_.Run(); !status.ok()) return status;
    return db_.LastInsertRowId();
  }

  Status AppendCalls(int64_t execution_id, const std::vector<CallRow>& calls) override {
    if (calls.empty()) return Status::Ok();
    for (size_t i = 1; i < calls.size(); ++i) {
      if (calls[i].seq != calls[0].seq + static_cast<int64_t>(i)) {
        return InvalidArgumentError("calls to append must have consecutive seq numbers");
      }
    }
    scratch_.clear();
    EncodeCalls(calls, &scratch_);
    return insert_call_.Bind(1, execution_id)
        .Bind(2, calls[0].seq)
        .Bind(3, static_cast<int64_t>(calls.size()))
        .BindBlob(4, scratch_)
        .Run();
  }

  Status CloseExecution(int64_t execution_id, std::string_view status, WallTime stop,
                        const std::optional<std::string>& output,
                        const std::optional<std::string>& error,
                        const std::optional<std::string>& cause) override {
    return close_execution_.Bind(1, execution_id)
        .Bind(2, status)
        .Bind(3, Nanos(stop))
        .Bind(4, output)
        .Bind(5, error)
        .Bind(6, cause)
        .Run();
  }

  Status ReopenExecution(int64_t execution_id, int64_t redrive_count, WallTime at) override {
    return reopen_execution_.Bind(1, execution_id).Bind(2, redrive_count).Bind(3, Nanos(at)).Run();
  }

 private:
  Database& db_;
  Queries queries_;
  Statement insert_machine_, insert_revision_, set_revision_, update_details_, delete_machine_,
      insert_execution_, insert_call_, close_execution_, reopen_execution_;
  std::string scratch_;  // an encoded group of calls
};

class Reader final : public JournalReader {
 public:
  explicit Reader(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  Status Init() {
    Status status = queries_.Init(*db_);
    auto prepare = [&](std::string_view sql, Statement* out) {
      if (status.ok()) status = Prepare(*db_, sql, out);
    };
    prepare(std::string("SELECT ") + std::string(kMachineColumns) +
                "WHERE ?1 IS NULL OR m.name > ?1 ORDER BY m.name LIMIT ?2",
            &list_machines_);
    prepare(
        "SELECT id, state_machine_id, revision_id, definition, role_arn, created_ns FROM "
        "revisions WHERE id = ?1",
        &revision_);
    prepare(std::string("SELECT ") + std::string(kExecutionColumns) + "WHERE e.arn = ?1",
            &execution_);
    // Two statements, so that a later page seeks the index instead of scanning to its place.
    prepare(std::string("SELECT ") + std::string(kExecutionColumns) +
                "WHERE e.state_machine_id = ?1 AND (?2 IS NULL OR e.status = ?2) "
                "ORDER BY e.start_ns DESC, e.id DESC LIMIT ?5",
            &list_executions_);
    prepare(std::string("SELECT ") + std::string(kExecutionColumns) +
                "WHERE e.state_machine_id = ?1 AND (?2 IS NULL OR e.status = ?2) AND "
                "(e.start_ns, e.id) < (?3, ?4) "
                "ORDER BY e.start_ns DESC, e.id DESC LIMIT ?5",
            &list_executions_after_);
    prepare("SELECT CAST(MAX(id) AS TEXT) FROM executions", &max_id_);
    prepare(
        "SELECT CAST(COALESCE(MAX(first_seq + count), 0) AS TEXT) FROM calls WHERE "
        "execution_id = ?1",
        &call_count_);
    prepare(std::string("SELECT ") + std::string(kExecutionColumns) +
                "WHERE e.status = 'RUNNING' ORDER BY e.id",
            &open_);
    prepare("SELECT first_seq, count, data FROM calls WHERE execution_id = ?1 ORDER BY first_seq",
            &calls_);
    return status;
  }

  StatusOr<std::optional<StateMachineRow>> GetStateMachine(std::string_view arn) override {
    return queries_.MachineByArn(arn);
  }
  StatusOr<std::optional<StateMachineRow>> GetStateMachineById(int64_t id) override {
    return queries_.MachineById(id);
  }
  StatusOr<std::vector<StateMachineRow>> ListStateMachines(
      std::optional<std::string_view> after_name, size_t limit) override {
    if (after_name) {
      list_machines_.Bind(1, *after_name);
    } else {
      list_machines_.BindNull(1);
    }
    list_machines_.Bind(2, static_cast<int64_t>(limit));
    return AllRows<StateMachineRow>(list_machines_, MachineFrom);
  }
  StatusOr<std::optional<RevisionRow>> GetRevision(int64_t id) override {
    revision_.Bind(1, id);
    return OneRow<RevisionRow>(revision_, [](const Statement& s) {
      RevisionRow row;
      row.id = s.Int(0);
      row.state_machine_id = s.Int(1);
      row.revision_id = s.Text(2);
      row.definition = s.Text(3);
      row.role_arn = s.Text(4);
      row.created = FromNanos(s.Int(5));
      return row;
    });
  }
  StatusOr<std::optional<ExecutionRow>> GetExecution(std::string_view arn) override {
    execution_.Bind(1, arn);
    return OneRow<ExecutionRow>(execution_, ExecutionFrom);
  }
  StatusOr<std::vector<ExecutionRow>> ListExecutions(const ExecutionQuery& query) override {
    Statement& s = query.after ? list_executions_after_ : list_executions_;
    s.Bind(1, query.state_machine_id);
    if (query.status) {
      s.Bind(2, std::string_view(*query.status));
    } else {
      s.BindNull(2);
    }
    if (query.after) s.Bind(3, query.after->first).Bind(4, query.after->second);
    s.Bind(5, static_cast<int64_t>(query.limit));
    return AllRows<ExecutionRow>(s, ExecutionFrom);
  }
  StatusOr<int64_t> CallCount(int64_t execution_id) override {
    call_count_.Bind(1, execution_id);
    StatusOr<std::optional<std::string>> count = OptionalScalar(call_count_);
    if (!count.ok()) return count.status();
    return *count ? std::stoll(**count) : 0;
  }
  StatusOr<int64_t> MaxExecutionId() override {
    StatusOr<std::optional<std::string>> max = OptionalScalar(max_id_);
    if (!max.ok()) return max.status();
    return *max ? std::stoll(**max) : 0;
  }
  StatusOr<std::vector<ExecutionRow>> OpenExecutions() override {
    return AllRows<ExecutionRow>(open_, ExecutionFrom);
  }
  StatusOr<std::vector<CallRow>> Calls(int64_t execution_id) override {
    calls_.Bind(1, execution_id);
    std::vector<CallRow> calls;
    while (true) {
      StatusOr<bool> row = calls_.Step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      const int64_t first = calls_.Int(0);
      const int64_t count = calls_.Int(1);
      if (first != static_cast<int64_t>(calls.size())) {
        calls_.Reset();
        return DataLossError("execution " + std::to_string(execution_id) + ": its calls go on at " +
                             std::to_string(first) + " where " + std::to_string(calls.size()) +
                             " was expected");
      }
      Status decoded = DecodeCalls(calls_.Text(2), first, count, &calls);
      if (!decoded.ok()) {
        calls_.Reset();
        return decoded.WithContext("execution " + std::to_string(execution_id));
      }
    }
    calls_.Reset();
    return calls;
  }

 private:
  std::unique_ptr<Database> db_;
  Queries queries_;
  Statement list_machines_, revision_, execution_, list_executions_, list_executions_after_,
      max_id_, call_count_, open_, calls_;
};

Status Migrate(Database& db) {
  StatusOr<Statement> version_statement = db.Prepare("PRAGMA user_version");
  if (!version_statement.ok()) return version_statement.status();
  StatusOr<bool> row = version_statement->Step();
  if (!row.ok()) return row.status();
  const int64_t version = version_statement->Int(0);
  version_statement->Reset();
  if (version > kJournalSchemaVersion) {
    return FailedPreconditionError(db.file().string() + " has journal schema version " +
                                   std::to_string(version) + ", newer than this build's " +
                                   std::to_string(kJournalSchemaVersion) +
                                   "; use a newer hpdeploy");
  }
  for (int64_t v = version; v < kJournalSchemaVersion; ++v) {
    std::string sql = "BEGIN IMMEDIATE;";
    sql += kMigrations[v];
    sql += "PRAGMA user_version = " + std::to_string(v + 1) + "; COMMIT;";
    if (Status status = db.Execute(sql); !status.ok()) {
      db.Execute("ROLLBACK").IgnoreError();
      return status.WithContext("migrating the journal to schema version " + std::to_string(v + 1));
    }
  }
  return Status::Ok();
}

// Opens the journal's database for writing: WAL, durability, migrations.
StatusOr<std::unique_ptr<Database>> OpenDatabase(const std::filesystem::path& file,
                                                 const JournalOptions& options) {
  StatusOr<std::unique_ptr<Database>> db = Database::Open(file, Database::Mode::kReadWrite);
  if (!db.ok()) return db.status();
  Database& database = **db;
  // journal_mode answers with a row; Execute ignores it.
  if (Status status = database.Execute("PRAGMA journal_mode = WAL"); !status.ok()) {
    if (status.code() == StatusCode::kDataLoss) {
      return DataLossError(file.string() + " is not an hpdeploy journal (not a database)");
    }
    return status.WithContext("opening the journal " + file.string());
  }
  std::string pragmas = "PRAGMA foreign_keys = OFF;";
  pragmas += options.fsync ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = OFF;";
  HPD_RETURN_IF_ERROR(database.Execute(pragmas));
  HPD_RETURN_IF_ERROR(Migrate(database));
  return db;
}

}  // namespace

class Journal::Impl {
 public:
  Impl(std::filesystem::path file, JournalOptions options, std::unique_ptr<Database> db,
       int lock_fd)
      : lock_(lock_fd),
        file_(std::move(file)),
        options_(options),
        db_(std::move(db)),
        writer_(*db_) {}

  Status Start() {
    if (Status status = writer_.Init(); !status.ok()) return status;
    if (Status status = db_->Execute("BEGIN"); !status.ok()) return status;
    if (Status status = db_->Execute("COMMIT"); !status.ok()) return status;
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  ~Impl() { Close(); }

  void Submit(Work work, Done done, bool isolated) {
    {
      std::lock_guard lock(mu_);
      if (!closing_) {
        queue_.push_back(Item{std::move(work), std::move(done), isolated});
        ready_.notify_one();
        return;
      }
    }
    if (done) done(UnavailableError("the journal is closed"));
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      if (closing_ && !thread_.joinable()) return;
      closing_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  Status Read(const std::function<Status(JournalReader&)>& read) {
    std::unique_ptr<Reader> reader;
    {
      std::lock_guard lock(readers_mu_);
      if (!readers_.empty()) {
        reader = std::move(readers_.back());
        readers_.pop_back();
      }
    }
    if (reader == nullptr) {
      StatusOr<std::unique_ptr<Database>> db = Database::Open(file_, Database::Mode::kReadOnly);
      if (!db.ok()) return db.status();
      reader = std::make_unique<Reader>(std::move(*db));
      if (Status status = reader->Init(); !status.ok()) return status;
    }
    Status status = read(*reader);
    std::lock_guard lock(readers_mu_);
    readers_.push_back(std::move(reader));
    return status;
  }

  const std::filesystem::path& file() const { return file_; }
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t committed_work() const { return committed_work_.load(std::memory_order_relaxed); }

 private:
  struct Item {
    Work work;
    Done done;
    bool isolated = true;
  };

  void Loop() {
    std::vector<Item> batch;
    std::vector<Status> results;
    while (true) {
      {
        std::unique_lock lock(mu_);
        ready_.wait(lock, [this] { return closing_ || !queue_.empty(); });
        if (queue_.empty()) return;  // closing, nothing left
        while (!queue_.empty() && batch.size() < options_.max_batch) {
          batch.push_back(std::move(*queue_.pop_front()));
        }
      }
      results.assign(batch.size(), Status::Ok());
      Status commit = Retrying("BEGIN IMMEDIATE");
      if (commit.ok()) {
        for (size_t i = 0; i < batch.size(); ++i) {
          Item& item = batch[i];
          if (!item.work) continue;
          if (item.isolated) {
            if (Status status = db_->Execute("SAVEPOINT w"); !status.ok()) {
              results[i] = status;
              continue;
            }
          }
          results[i] = item.work(writer_);
          if (item.isolated) {
            if (!results[i].ok()) db_->Execute("ROLLBACK TO w").IgnoreError();
            db_->Execute("RELEASE w").IgnoreError();
          } else if (!results[i].ok()) {
            // Work that is not isolated may have written before failing: the whole batch goes
            // (a later turn of the same execution must not commit without this one).
            commit = results[i];
            break;
          }
        }
        if (commit.ok()) commit = Retrying("COMMIT");
        if (!commit.ok()) db_->Execute("ROLLBACK").IgnoreError();
      }
      commits_.fetch_add(1, std::memory_order_relaxed);
      committed_work_.fetch_add(batch.size(), std::memory_order_relaxed);
      for (size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].done) batch[i].done(commit.ok() ? std::move(results[i]) : commit);
      }
      batch.clear();
    }
  }

  // Runs `sql`, trying again while another connection holds the database (a sqlite3 shell, a
  // backup) for up to a minute (busy_timeout waits 10 s each time), and not once Close began.
  // Other errors are returned at once.
  Status Retrying(std::string_view sql) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (true) {
      Status status = db_->Execute(sql);
      const bool busy = status.code() == StatusCode::kUnavailable &&
                        (status.message().find("locked") != std::string_view::npos ||
                         status.message().find("busy") != std::string_view::npos);
      if (!busy || std::chrono::steady_clock::now() > give_up || Closing()) return status;
    }
  }

  bool Closing() {
    std::lock_guard lock(mu_);
    return closing_;
  }

  // Declared first, so destroyed last: the flock is released after every connection closed.
  struct LockFile {
    explicit LockFile(int descriptor) : fd(descriptor) {}
    LockFile(const LockFile&) = delete;
    LockFile& operator=(const LockFile&) = delete;
    ~LockFile() {
      if (fd >= 0) ::close(fd);
    }
    int fd;
  };
  LockFile lock_;
  const std::filesystem::path file_;
  const JournalOptions options_;
  std::unique_ptr<Database> db_;  // the writer thread's
  Writer writer_;
  std::thread thread_;

  std::mutex mu_;
  std::condition_variable ready_;
  Fifo<Item> queue_;      // guarded by mu_
  bool closing_ = false;  // guarded by mu_

  std::mutex readers_mu_;
  std::vector<std::unique_ptr<Reader>> readers_;  // guarded by readers_mu_

  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_work_{0};
};

StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::filesystem::path& file,
                                                 JournalOptions options) {
  // One process at a time: two engines on one journal would both run its executions.
  const std::string lock_path = file.string() + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) {
    return UnavailableError("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return FailedPreconditionError(file.string() +
                                   " is in use by another process (is another hpdeploy serving "
                                   "this data dir?)");
  }
  StatusOr<std::unique_ptr<Database>> db = OpenDatabase(file, options);
  if (!db.ok()) {
    ::close(lock_fd);
    return db.status();
  }
  auto impl = std::make_unique<Impl>(file, options, std::move(*db), lock_fd);
  if (Status status = impl->Start(); !status.ok()) return status;
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

StatusOr<std::unique_ptr<Journal>> Journal::OpenForReading(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    return NotFoundError("no journal at " + file.string());
  }
  StatusOr<std::unique_ptr<Database>> db = Database::Open(file, Database::Mode::kReadOnly);
  if (!db.ok()) return db.status();
  StatusOr<Statement> version = (*db)->Prepare("PRAGMA user_version");
  if (!version.ok()) {
    if (version.status().code() == StatusCode::kDataLoss) {
      return DataLossError(file.string() + " is not an hpdeploy journal (not a database)");
    }
    return version.status();
  }
  StatusOr<bool> row = version->Step();
  if (!row.ok()) return row.status();
  if (version->Int(0) != kJournalSchemaVersion) {
    return FailedPreconditionError(file.string() + " has journal schema version " +
                                   std::to_string(version->Int(0)) + ", this build reads " +
                                   std::to_string(kJournalSchemaVersion));
  }
  version->Reset();
  auto impl = std::make_unique<Impl>(file, JournalOptions{}, std::move(*db), /*lock_fd=*/-1);
  impl->Close();  // no writer: Submit answers kUnavailable
  return std::unique_ptr<Journal>(new Journal(std::move(impl)));
}

Journal::Journal(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Journal::~Journal() = default;

void Journal::Submit(Work work, Done done, bool isolated) {
  impl_->Submit(std::move(work), std::move(done), isolated);
}
Status Journal::Read(const std::function<Status(JournalReader&)>& read) const {
  return impl_->Read(read);
}
void Journal::Close() { impl_->Close(); }
const std::filesystem::path& Journal::file() const { return impl_->file(); }
uint64_t Journal::commits() const { return impl_->commits(); }
uint64_t Journal::committed_work() const { return impl_->committed_work(); }

}  // namespace hpd::store
