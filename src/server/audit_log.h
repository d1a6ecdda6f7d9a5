// The REST API's audit log: who tried to change what, and how it went. One row per mutation
// (POST or DELETE under /api/v1/) that got past authentication, refused ones included, kept in
// <data dir>/audit.db (SQLite, WAL). Never a request body or a token: only the token's name.
//
// Thread-safe: one connection behind a mutex.
#ifndef HPD_SERVER_AUDIT_LOG_H_
#define HPD_SERVER_AUDIT_LOG_H_

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {
class Database;
}

namespace hpd::server {

struct AuditEntry {
  int64_t id = 0;          // assigned by Record: 1, 2, 3, ...
  WallTime time{};         // assigned by Record from the clock
  std::string actor;       // token name
  std::string role;        // "viewer" | "deployer" | "admin"
  std::string action;      // "deployment.create", "webhook.delete", ...
  std::string target;      // job id, webhook id, or ""
  int status = 0;          // the HTTP status answered
  std::string error_code;  // "" on success
  std::string request_id;
  std::string remote_address;
};

// {"id","time" (RFC 3339),"actor","role","action","target","status","errorCode","requestId",
// "remoteAddress"}.
boost::json::object AuditEntryJson(const AuditEntry& entry);

struct AuditPage {
  std::vector<AuditEntry> entries;  // newest first
  std::string next_token;           // "" on the last page
};

class AuditLog {
 public:
  static constexpr char kFileName[] = "audit.db";

  // Opens or creates the file (owner-only permissions when created here). kUnavailable when it
  // cannot be opened. `clock` must outlive the log.
  [[nodiscard]] static StatusOr<std::unique_ptr<AuditLog>> Open(const std::filesystem::path& file,
                                                                const Clock& clock);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Appends `entry` (its id and time are assigned here) and returns it as stored.
  [[nodiscard]] StatusOr<AuditEntry> Record(AuditEntry entry);
  // Newest first, at most `limit` (>= 1) entries, from where `next_token` (from the previous
  // page; "" for the newest) points. kInvalidArgument (error name InvalidParameter) for a token
  // this log did not hand out.
  [[nodiscard]] StatusOr<AuditPage> List(size_t limit, std::string_view next_token) const;

 private:
  AuditLog(std::unique_ptr<store::Database> db, const Clock& clock);

  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // guarded by mu_
  const Clock& clock_;
};

}  // namespace hpd::server

#endif  // HPD_SERVER_AUDIT_LOG_H_
