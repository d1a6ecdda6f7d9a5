#include "store/log_store.h"

#include <cctype>
#include <chrono>
#include <utility>

#include "store/sqlite.h"

namespace hpd::store {
namespace {

constexpr size_t kMaxNameLength = 512;
constexpr size_t kMaxPageSize = 10000;

Status InvalidParameter(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "InvalidParameterException");
}

Status ResourceNotFound(std::string message) {
  return Named(NotFoundError(std::move(message)), "ResourceNotFoundException");
}

// CloudWatch Logs' validation message for a constraint on one request member.
Status MemberConstraint(std::string_view value, std::string_view member,
                        std::string_view constraint) {
  return InvalidParameter("1 validation error detected: Value '" + std::string(value) + "' at '" +
                          std::string(member) + "' failed to satisfy constraint: Member must " +
                          std::string(constraint));
}

Status CheckLength(std::string_view value, std::string_view member) {
  if (value.empty())
    return MemberConstraint(value, member, "have length greater than or equal to 1");
  if (value.size() > kMaxNameLength) {
    return MemberConstraint(value, member, "have length less than or equal to 512");
  }
  return Status::Ok();
}

int64_t Millis(WallTime time) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
}

}  // namespace

Status ValidateLogGroupName(std::string_view group) {
  HPD_RETURN_IF_ERROR(CheckLength(group, "logGroupName"));
  for (char c : group) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '/' && c != '#') {
      return MemberConstraint(group, "logGroupName",
                              "satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+");
    }
  }
  return Status::Ok();
}

Status ValidateLogStreamName(std::string_view stream) {
  HPD_RETURN_IF_ERROR(CheckLength(stream, "logStreamName"));
  if (stream.find_first_of(":*") != std::string_view::npos) {
    return MemberConstraint(stream, "logStreamName", "satisfy regular expression pattern: [^:*]*");
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<LogStore>> LogStore::Open(const std::filesystem::path& file,
                                                   const Clock& clock) {
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                       Database::Open(file, Database::Mode::kReadWrite));
  HPD_RETURN_IF_ERROR(db->Execute(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
      "CREATE TABLE IF NOT EXISTS log_groups ("
      "  name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS log_streams ("
      "  log_group TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"
      "  last_sequence INTEGER NOT NULL DEFAULT 0, last_timestamp INTEGER NOT NULL DEFAULT 0,"
      "  PRIMARY KEY (log_group, name)) WITHOUT ROWID;"
      "CREATE TABLE IF NOT EXISTS log_events ("
      "  log_group TEXT NOT NULL, stream TEXT NOT NULL, sequence INTEGER NOT NULL,"
      "  timestamp_ms INTEGER NOT NULL, message TEXT NOT NULL,"
      "  PRIMARY KEY (log_group, stream, sequence)) WITHOUT ROWID;"));
  return std::unique_ptr<LogStore>(new LogStore(std::move(db), clock));
}

LogStore::LogStore(std::unique_ptr<Database> db, const Clock& clock)
    : clock_(clock), db_(std::move(db)) {}

LogStore::~LogStore() = default;

Status LogStore::CreateStream(std::string_view group, std::string_view stream) {
  HPD_RETURN_IF_ERROR(ValidateLogGroupName(group));
  HPD_RETURN_IF_ERROR(ValidateLogStreamName(stream));
  const int64_t now = Millis(clock_.WallNow());
  std::lock_guard lock(mu_);
  return db_->InTransaction([&]() -> Status {
    HPD_ASSIGN_OR_RETURN(
        Statement add_group,
        db_->Prepare("INSERT OR IGNORE INTO log_groups (name, created_ms) VALUES (?1, ?2)"));
    HPD_RETURN_IF_ERROR(add_group.Bind(1, group).Bind(2, now).Run());
    HPD_ASSIGN_OR_RETURN(Statement add_stream,
                         db_->Prepare("INSERT OR IGNORE INTO log_streams (log_group, name, "
                                      "created_ms) VALUES (?1, ?2, ?3)"));
    return add_stream.Bind(1, group).Bind(2, stream).Bind(3, now).Run();
  });
}

Status LogStore::CheckStreamLocked(std::string_view group, std::string_view stream) const {
  HPD_ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT (SELECT 1 FROM log_groups WHERE name = ?1), "
                   "(SELECT 1 FROM log_streams WHERE log_group = ?1 AND name = ?2)"));
  query.Bind(1, group).Bind(2, stream);
  HPD_ASSIGN_OR_RETURN(bool row, query.Step());
  const bool group_exists = row && !query.IsNull(0);
  const bool stream_exists = row && !query.IsNull(1);
  query.Reset();
  if (!group_exists) return ResourceNotFound("The specified log group does not exist.");
  if (!stream_exists) return ResourceNotFound("The specified log stream does not exist.");
  return Status::Ok();
}

StatusOr<int64_t> LogStore::Append(std::string_view group, std::string_view stream,
                                   const std::vector<std::string>& lines) {
  HPD_RETURN_IF_ERROR(ValidateLogGroupName(group));
  HPD_RETURN_IF_ERROR(ValidateLogStreamName(stream));
  for (const std::string& line : lines) {
    if (line.size() > kMaxLogEventBytes) {
      return InvalidParameter("Log event too large: " + std::to_string(line.size()) +
                              " bytes; the maximum is " + std::to_string(kMaxLogEventBytes) + ".");
    }
  }
  StatusOr<int64_t> last = CommitLines(group, stream, lines);
  if (!last.ok() || lines.empty()) return last;
  std::shared_ptr<const AppendObserver> observer;
  {
    std::lock_guard lock(observer_mu_);
    observer = observer_;
  }
  if (observer != nullptr && *observer) {
    (*observer)(std::string(group), std::string(stream), *last);
  }
  return last;
}

void LogStore::SetAppendObserver(AppendObserver observer) {
  std::lock_guard lock(observer_mu_);
  observer_ = observer ? std::make_shared<const AppendObserver>(std::move(observer)) : nullptr;
}

StatusOr<int64_t> LogStore::CommitLines(std::string_view group, std::string_view stream,
                                        const std::vector<std::string>& lines) {
  const int64_t now = Millis(clock_.WallNow());
  std::lock_guard lock(mu_);
  HPD_RETURN_IF_ERROR(db_->Execute("BEGIN IMMEDIATE"));
  auto fail = [this](Status status) {
    db_->Execute("ROLLBACK").IgnoreError();
    return status;
  };
  if (Status s = CheckStreamLocked(group, stream); !s.ok()) return fail(s);
  StatusOr<Statement> last =
      db_->Prepare("SELECT last_sequence FROM log_streams WHERE log_group = ?1 AND name = ?2");
  if (!last.ok()) return fail(last.status());
  last->Bind(1, group).Bind(2, stream);
  if (StatusOr<bool> row = last->Step(); !row.ok()) return fail(row.status());
  int64_t sequence = last->Int(0);
  last->Reset();
  if (lines.empty()) {
    db_->Execute("ROLLBACK").IgnoreError();
    return sequence;
  }
  StatusOr<Statement> insert = db_->Prepare(
      "INSERT INTO log_events (log_group, stream, sequence, timestamp_ms, message) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert.ok()) return fail(insert.status());
  for (const std::string& line : lines) {
    ++sequence;
    Status inserted =
        insert->Bind(1, group).Bind(2, stream).Bind(3, sequence).Bind(4, now).Bind(5, line).Run();
    if (!inserted.ok()) return fail(inserted);
  }
  StatusOr<Statement> update = db_->Prepare(
      "UPDATE log_streams SET last_sequence = ?3, last_timestamp = ?4 "
      "WHERE log_group = ?1 AND name = ?2");
  if (!update.ok()) return fail(update.status());
  if (Status s = update->Bind(1, group).Bind(2, stream).Bind(3, sequence).Bind(4, now).Run();
      !s.ok()) {
    return fail(s);
  }
  HPD_RETURN_IF_ERROR(db_->Execute("COMMIT"));
  return sequence;
}

StatusOr<LogEventPage> LogStore::Read(std::string_view group, std::string_view stream,
                                      int64_t after_sequence, size_t limit) const {
  HPD_RETURN_IF_ERROR(ValidateLogGroupName(group));
  HPD_RETURN_IF_ERROR(ValidateLogStreamName(stream));
  if (limit == 0 || limit > kMaxPageSize) limit = kMaxPageSize;
  std::lock_guard lock(mu_);
  // One read transaction, so the existence check and the events agree.
  HPD_RETURN_IF_ERROR(db_->Execute("BEGIN"));
  auto fail = [this](Status status) {
    db_->Execute("ROLLBACK").IgnoreError();
    return status;
  };
  if (Status s = CheckStreamLocked(group, stream); !s.ok()) return fail(s);
  StatusOr<Statement> query = db_->Prepare(
      "SELECT sequence, timestamp_ms, message FROM log_events WHERE log_group = ?1 AND "
      "stream = ?2 AND sequence > ?3 ORDER BY sequence LIMIT ?4");
  if (!query.ok()) return fail(query.status());
  query->Bind(1, group)
      .Bind(2, stream)
      .Bind(3, after_sequence)
      .Bind(4, static_cast<int64_t>(limit));
  LogEventPage page;
  page.last_sequence = after_sequence;
  while (true) {
    StatusOr<bool> row = query->Step();
    if (!row.ok()) return fail(row.status());
    if (!*row) break;
    page.events.push_back(LogEvent{query->Int(0), query->Int(1), std::string(query->Text(2))});
  }
  query->Reset();
  HPD_RETURN_IF_ERROR(db_->Execute("COMMIT"));
  if (!page.events.empty()) page.last_sequence = page.events.back().sequence;
  return page;
}

StatusOr<std::vector<LogStreamInfo>> LogStore::ListStreams(std::string_view group,
                                                           std::string_view prefix) const {
  HPD_RETURN_IF_ERROR(ValidateLogGroupName(group));
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement exists, db_->Prepare("SELECT 1 FROM log_groups WHERE name = ?1"));
  exists.Bind(1, group);
  HPD_ASSIGN_OR_RETURN(bool found, exists.Step());
  exists.Reset();
  if (!found) return ResourceNotFound("The specified log group does not exist.");
  HPD_ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT name, created_ms, last_timestamp, last_sequence FROM log_streams "
                   "WHERE log_group = ?1 AND substr(CAST(name AS BLOB), 1, ?3) = CAST(?2 AS BLOB) "
                   "ORDER BY name"));
  query.Bind(1, group).Bind(2, prefix).Bind(3, static_cast<int64_t>(prefix.size()));
  std::vector<LogStreamInfo> streams;
  while (true) {
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    streams.push_back(
        LogStreamInfo{std::string(query.Text(0)), query.Int(1), query.Int(2), query.Int(3)});
  }
  query.Reset();
  return streams;
}

}  // namespace hpd::store
