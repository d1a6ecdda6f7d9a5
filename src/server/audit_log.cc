#include "server/audit_log.h"

#include <charconv>
#include <system_error>
#include <utility>

#include "common/rfc3339.h"
#include "store/sqlite.h"

namespace hpd::server {
namespace {

constexpr char kColumns[] =
    "id, time_ns, actor, role, action, target, status, error_code, request_id, remote_address";

AuditEntry Row(const store::Statement& s) {
  AuditEntry entry;
  entry.id = s.Int(0);
  entry.time = WallTime(Duration(s.Int(1)));
  entry.actor = std::string(s.Text(2));
  entry.role = std::string(s.Text(3));
  entry.action = std::string(s.Text(4));
  entry.target = std::string(s.Text(5));
  entry.status = static_cast<int>(s.Int(6));
  entry.error_code = std::string(s.Text(7));
  entry.request_id = std::string(s.Text(8));
  entry.remote_address = std::string(s.Text(9));
  return entry;
}

Status BadToken() {
  return Named(InvalidArgumentError("nextToken is not a token this server handed out"),
               "InvalidParameter");
}

}  // namespace

boost::json::object AuditEntryJson(const AuditEntry& entry) {
  boost::json::object json;
  json["id"] = entry.id;
  json["time"] = FormatRfc3339(entry.time);
  json["actor"] = entry.actor;
  json["role"] = entry.role;
  json["action"] = entry.action;
  json["target"] = entry.target;
  json["status"] = entry.status;
  json["errorCode"] = entry.error_code;
  json["requestId"] = entry.request_id;
  json["remoteAddress"] = entry.remote_address;
  return json;
}

StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(const std::filesystem::path& file,
                                                   const Clock& clock) {
  std::error_code error;
  const bool existed = std::filesystem::exists(file, error);
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                       store::Database::Open(file, store::Database::Mode::kReadWrite));
  // synchronous = NORMAL: an audit row lost to a power cut (not a crash) is acceptable; a
  // request waiting for an fsync is not worth it.
  HPD_RETURN_IF_ERROR(
      db->Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                  "CREATE TABLE IF NOT EXISTS audit ("
                  "  id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL,"
                  "  actor TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL,"
                  "  target TEXT NOT NULL, status INTEGER NOT NULL, error_code TEXT NOT NULL,"
                  "  request_id TEXT NOT NULL, remote_address TEXT NOT NULL);"
                  "PRAGMA user_version = 1;"));
  if (!existed) {
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, error);
  }
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db), clock));
}

AuditLog::AuditLog(std::unique_ptr<store::Database> db, const Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

AuditLog::~AuditLog() = default;

StatusOr<AuditEntry> AuditLog::Record(AuditEntry entry) {
  entry.time = clock_.WallNow();
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(
      store::Statement insert,
      db_->Prepare("INSERT INTO audit (time_ns, actor, role, action, target, status, error_code,"
                   " request_id, remote_address) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"));
  HPD_RETURN_IF_ERROR(insert.Bind(1, int64_t{entry.time.time_since_epoch().count()})
                          .Bind(2, entry.actor)
                          .Bind(3, entry.role)
                          .Bind(4, entry.action)
                          .Bind(5, entry.target)
                          .Bind(6, int64_t{entry.status})
                          .Bind(7, entry.error_code)
                          .Bind(8, entry.request_id)
                          .Bind(9, entry.remote_address)
                          .Run());
  entry.id = db_->LastInsertRowId();
  return entry;
}

StatusOr<AuditPage> AuditLog::List(size_t limit, std::string_view next_token) const {
  // The token is the id the next page starts below: opaque to clients, checked here.
  int64_t before = INT64_MAX;
  if (!next_token.empty()) {
    const auto [end, error] =
        std::from_chars(next_token.data(), next_token.data() + next_token.size(), before);
    if (error != std::errc() || end != next_token.data() + next_token.size() || before <= 0) {
      return BadToken();
    }
  }
  if (limit == 0) limit = 1;
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(store::Statement query,
                       db_->Prepare(std::string("SELECT ") + kColumns +
                                    " FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2"));
  query.Bind(1, before).Bind(2, static_cast<int64_t>(limit) + 1);
  AuditPage page;
  while (true) {
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    if (!row) break;
    if (page.entries.size() == limit) {
      page.next_token = std::to_string(page.entries.back().id);
      break;
    }
    page.entries.push_back(Row(query));
  }
  return page;
}

}  // namespace hpd::server
