// A thin C++ face on SQLite 3: a connection and prepared statements that report errors as
// Status, and nothing more. The journal (journal.h) is written in terms of it.
//
// Thread-compatible: a Database and its Statements belong to one thread at a time (SQLite is
// built thread-safe on Debian, but a connection is not meant to be shared).
#ifndef HPD_STORE_SQLITE_H_
#define HPD_STORE_SQLITE_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hpd::store {

class Statement;

class Database {
 public:
  enum class Mode { kReadWrite, kReadOnly };

  // How long a statement waits for another connection's (or process's) lock before failing with
  // SQLITE_BUSY; set by Open on every connection.
  static constexpr int64_t kBusyTimeoutMs = 10000;

  // Opens (kReadWrite: creating) the database file. kUnavailable when the file cannot be opened
  // or created (the message names the path and SQLite's reason).
  [[nodiscard]] static StatusOr<std::unique_ptr<Database>> Open(const std::filesystem::path& file,
                                                                Mode mode);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (DDL, PRAGMA, BEGIN/COMMIT).
  [[nodiscard]] Status Execute(std::string_view sql);
  // Runs `body` between BEGIN IMMEDIATE and COMMIT (the write lock taken up front, so a
  // concurrent writer waits instead of failing mid-transaction); rolls back and returns the
  // error when `body` or COMMIT fails.
  [[nodiscard]] Status InTransaction(const std::function<Status()>& body);
  // Compiles one statement; it must not outlive the Database.
  [[nodiscard]] StatusOr<Statement> Prepare(std::string_view sql);
  // The rowid of the last successful INSERT on this connection.
  int64_t LastInsertRowId() const;
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  const std::filesystem::path& file() const { return file_; }

  sqlite3* handle() const { return db_; }

 private:
  Database(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  sqlite3* db_;
  std::filesystem::path file_;
};

// A prepared statement. Bind parameters are 1-based, columns 0-based, as in SQLite. Text and
// blob values bound by view must stay alive until the statement is stepped and reset.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);  // bound without a copy
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& Bind(int index, const std::optional<std::string>& text);
  // Text is bound without a copy, so it must outlive the statement's next Step: a temporary
  // would dangle. Name it first.
  Statement& Bind(int index, std::string&& text) = delete;
  Statement& Bind(int index, std::optional<std::string>&& text) = delete;

  // Steps once: true while a row is available, false when done. An error is returned as a
  // Status (kAlreadyExists for a constraint violation, kUnavailable for a busy or full disk,
  // kInternal otherwise) with SQLite's message.
  [[nodiscard]] StatusOr<bool> Step();
  // Steps to the end, ignoring rows.
  [[nodiscard]] Status Run();
  // Clears the bindings and rewinds for another execution.
  void Reset();

  bool IsNull(int column) const;
  int64_t Int(int column) const;
  std::string_view Text(int column) const;  // valid until the next Step/Reset
  std::optional<std::string> OptionalText(int column) const;

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, Database* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  Database* db_ = nullptr;
};

// The Status for SQLite result code `rc` on `db` (may be null), with `what` as context.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

}  // namespace hpd::store

#endif  // HPD_STORE_SQLITE_H_
