#include "store/event_log.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>

#include "common/json.h"
#include "store/sqlite.h"

namespace hpd::store {
namespace {

namespace json = boost::json;

// Reads with a narrow filter look at most this many events per event wanted (Read's contract).
constexpr size_t kScanFactor = 64;
// The cache also stops at this many bytes of envelopes, so that a run of large events cannot
// make it hold gigabytes (16384 events of 256 KiB would be 4 GiB).
constexpr size_t kCacheBytes = 64 << 20;

constexpr char kColumns[] =
    "sequence, id, detail_type, source, time, execution_arn, job_id, owner, envelope";

StoredEvent Row(const Statement& s) {
  StoredEvent event;
  event.sequence = s.Int(0);
  event.id = std::string(s.Text(1));
  event.detail_type = std::string(s.Text(2));
  event.source = std::string(s.Text(3));
  event.time = std::string(s.Text(4));
  event.execution_arn = std::string(s.Text(5));
  event.job_id = std::string(s.Text(6));
  event.owner = std::string(s.Text(7));
  event.envelope = std::string(s.Text(8));
  return event;
}

std::string StringMember(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::string();
  return std::string(value->get_string());
}

// The first non-empty string member of `object` among `keys`.
std::string FirstString(const json::object& object, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    std::string value = StringMember(object, key);
    if (!value.empty()) return value;
  }
  return std::string();
}

// The envelope as a row (sequence not yet known), or kInvalidArgument saying what is missing.
StatusOr<StoredEvent> Index(const json::object& envelope, size_t position) {
  const std::string where = "event " + std::to_string(position);
  StoredEvent event;
  for (auto [key, field] :
       {std::pair{"id", &event.id}, std::pair{"detail-type", &event.detail_type},
        std::pair{"source", &event.source}, std::pair{"time", &event.time}}) {
    const json::value* value = envelope.if_contains(key);
    if (value == nullptr || !value->is_string() || value->get_string().empty()) {
      return InvalidArgumentError(where + " has no \"" + key + "\" string");
    }
    *field = std::string(value->get_string());
  }
  const json::value* detail = envelope.if_contains("detail");
  if (detail == nullptr || !detail->is_object()) {
    return InvalidArgumentError(where + " (" + event.id + ") has no \"detail\" object");
  }
  event.envelope = SerializeJson(envelope);
  if (event.envelope.size() > EventLog::kMaxEnvelopeBytes) {
    return InvalidArgumentError(where + " (" + event.id + ") is " +
                                std::to_string(event.envelope.size()) + " bytes; at most " +
                                std::to_string(EventLog::kMaxEnvelopeBytes) + " are accepted");
  }
  if (const json::value* resources = envelope.if_contains("resources");
      resources != nullptr && resources->is_array() && !resources->get_array().empty() &&
      resources->get_array().front().is_string()) {
    event.execution_arn = std::string(resources->get_array().front().get_string());
  }
  const json::object& d = detail->get_object();
  json::object input;
  if (const json::value* text = d.if_contains("input"); text != nullptr && text->is_string()) {
    if (StatusOr<json::value> parsed = ParseJson(text->get_string());
        parsed.ok() && parsed->is_object()) {
      input = std::move(parsed->get_object());
    }
  }
  event.job_id = StringMember(d, "jobId");
  if (event.job_id.empty()) event.job_id = StringMember(input, "jobId");
  event.owner = FirstString(d, {"owner", "requestedBy"});
  if (event.owner.empty()) event.owner = FirstString(input, {"owner", "requestedBy"});
  return event;
}

bool Matches(const StoredEvent& event, const EventFilter& filter) {
  if (!filter.execution_arn.empty() && event.execution_arn != filter.execution_arn) return false;
  if (!filter.job_id.empty() && event.job_id != filter.job_id) return false;
  if (!filter.owner.empty() && event.owner != filter.owner) return false;
  if (!filter.detail_types.empty() &&
      std::find(filter.detail_types.begin(), filter.detail_types.end(), event.detail_type) ==
          filter.detail_types.end()) {
    return false;
  }
  return true;
}

}  // namespace

class EventLog::Impl {
 public:
  Impl(std::unique_ptr<Database> writer, std::unique_ptr<Database> reader)
      : writer_(std::move(writer)), reader_(std::move(reader)) {}

  // Fills the cache with the newest events of the file.
  Status Load() {
    HPD_ASSIGN_OR_RETURN(Statement query,
                         writer_->Prepare(std::string("SELECT ") + kColumns +
                                          " FROM events ORDER BY sequence DESC LIMIT ?1"));
    query.Bind(1, static_cast<int64_t>(kCacheEvents));
    std::deque<StoredEvent> newest_first;
    size_t bytes = 0;
    while (true) {
      HPD_ASSIGN_OR_RETURN(bool row, query.Step());
      if (!row) break;
      StoredEvent event = Row(query);
      if (last_sequence_ == 0) last_sequence_ = event.sequence;
      bytes += event.envelope.size();
      if (bytes > kCacheBytes) break;
      newest_first.push_back(std::move(event));
    }
    query.Reset();
    std::lock_guard lock(cache_mu_);
    cache_last_ = last_sequence_;
    cache_.assign(std::make_move_iterator(newest_first.rbegin()),
                  std::make_move_iterator(newest_first.rend()));
    cache_bytes_ = 0;
    for (const StoredEvent& event : cache_) cache_bytes_ += event.envelope.size();
    return Status::Ok();
  }

  StatusOr<AppendResult> Append(const std::vector<json::object>& envelopes,
                                const std::vector<std::pair<std::string, int64_t>>& cursors) {
    std::vector<StoredEvent> rows;
    rows.reserve(envelopes.size());
    for (size_t i = 0; i < envelopes.size(); ++i) {
      HPD_ASSIGN_OR_RETURN(StoredEvent row, Index(envelopes[i], i));
      rows.push_back(std::move(row));
    }
    AppendResult result;
    {
      std::lock_guard lock(write_mu_);
      int64_t last = last_sequence_;
      Status status = writer_->InTransaction([&]() -> Status {
        last = last_sequence_;
        result.appended.clear();
        HPD_ASSIGN_OR_RETURN(Statement insert,
                             writer_->Prepare(std::string("INSERT INTO events (") + kColumns +
                                              ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                                              "ON CONFLICT (id) DO NOTHING"));
        for (StoredEvent& row : rows) {
          row.sequence = last + 1;
          HPD_RETURN_IF_ERROR(insert.Bind(1, row.sequence)
                                  .Bind(2, row.id)
                                  .Bind(3, row.detail_type)
                                  .Bind(4, row.source)
                                  .Bind(5, row.time)
                                  .Bind(6, row.execution_arn)
                                  .Bind(7, row.job_id)
                                  .Bind(8, row.owner)
                                  .Bind(9, row.envelope)
                                  .Run());
          if (writer_->Changes() == 0) continue;  // already in the log
          last = row.sequence;
          result.appended.push_back(row);
        }
        HPD_ASSIGN_OR_RETURN(
            Statement set,
            writer_->Prepare("INSERT INTO cursors (name, value) VALUES (?1, ?2) "
                             "ON CONFLICT (name) DO UPDATE SET value = excluded.value"));
        for (const auto& [name, value] : cursors) {
          HPD_RETURN_IF_ERROR(set.Bind(1, name).Bind(2, value).Run());
        }
        return Status::Ok();
      });
      if (!status.ok()) return status.WithContext("appending to the event log");
      last_sequence_ = last;
      result.last_sequence = last;
      if (!result.appended.empty()) AddToCache(result.appended);
    }
    if (!result.appended.empty()) Tell(result.last_sequence);
    return result;
  }

  StatusOr<std::vector<StoredEvent>> Read(int64_t after, const EventFilter& filter, size_t limit,
                                          int64_t* scanned_to) const {
    if (limit == 0) limit = 1;
    const size_t budget = limit * kScanFactor;
    {
      std::lock_guard lock(cache_mu_);
      const int64_t first = cache_.empty() ? cache_last_ + 1 : cache_.front().sequence;
      if (after >= first - 1) {
        std::vector<StoredEvent> out;
        int64_t scanned = std::max(after, int64_t{0});
        if (after < cache_last_) {
          size_t examined = 0;
          for (auto it = cache_.begin() + (std::max(after, first - 1) - (first - 1));
               it != cache_.end() && examined < budget && out.size() < limit; ++it) {
            ++examined;
            scanned = it->sequence;
            if (Matches(*it, filter)) out.push_back(*it);
          }
        }
        if (scanned_to != nullptr) *scanned_to = std::max(scanned, after);
        return out;
      }
    }
    return ReadFile(after, filter, limit, budget, scanned_to);
  }

  int64_t LastSequence() const {
    std::lock_guard lock(cache_mu_);
    return cache_last_;
  }

  StatusOr<std::optional<StoredEvent>> FindById(const std::string& id) const {
    std::lock_guard lock(read_mu_);
    HPD_ASSIGN_OR_RETURN(Statement query, reader_->Prepare(std::string("SELECT ") + kColumns +
                                                           " FROM events WHERE id = ?1"));
    query.Bind(1, id);
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    std::optional<StoredEvent> found;
    if (row) found = Row(query);
    query.Reset();
    return found;
  }

  StatusOr<std::optional<int64_t>> Cursor(const std::string& name) const {
    std::lock_guard lock(read_mu_);
    HPD_ASSIGN_OR_RETURN(Statement query,
                         reader_->Prepare("SELECT value FROM cursors WHERE name = ?1"));
    query.Bind(1, name);
    HPD_ASSIGN_OR_RETURN(bool row, query.Step());
    std::optional<int64_t> value;
    if (row) value = query.Int(0);
    query.Reset();
    return value;
  }

  Status SetCursor(const std::string& name, int64_t value) {
    std::lock_guard lock(write_mu_);
    HPD_ASSIGN_OR_RETURN(
        Statement set, writer_->Prepare("INSERT INTO cursors (name, value) VALUES (?1, ?2) "
                                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value"));
    return set.Bind(1, name).Bind(2, value).Run();
  }

  uint64_t Subscribe(std::function<void(int64_t)> listener) {
    std::lock_guard lock(subscribers_mu_);
    const uint64_t handle = ++next_handle_;
    subscribers_.emplace(handle, std::make_shared<Subscriber>(Subscriber{std::move(listener), 0}));
    return handle;
  }

  void Unsubscribe(uint64_t handle) {
    std::unique_lock lock(subscribers_mu_);
    auto it = subscribers_.find(handle);
    if (it == subscribers_.end()) return;
    std::shared_ptr<Subscriber> subscriber = std::move(it->second);
    subscribers_.erase(it);
    subscriber_done_.wait(lock, [&] { return subscriber->calls == 0; });
  }

 private:
  struct Subscriber {
    std::function<void(int64_t)> listener;
    int calls = 0;  // guarded by subscribers_mu_: calls in progress
  };

  // Requires write_mu_ (appends reach the cache in sequence order).
  void AddToCache(const std::vector<StoredEvent>& events) {
    std::lock_guard lock(cache_mu_);
    for (const StoredEvent& event : events) {
      cache_bytes_ += event.envelope.size();
      cache_.push_back(event);
      cache_last_ = event.sequence;
    }
    while (!cache_.empty() && (cache_.size() > kCacheEvents || cache_bytes_ > kCacheBytes)) {
      cache_bytes_ -= cache_.front().envelope.size();
      cache_.pop_front();
    }
  }

  void Tell(int64_t last_sequence) {
    std::vector<std::shared_ptr<Subscriber>> called;
    {
      std::lock_guard lock(subscribers_mu_);
      for (auto& [handle, subscriber] : subscribers_) {
        ++subscriber->calls;
        called.push_back(subscriber);
      }
    }
    for (const std::shared_ptr<Subscriber>& subscriber : called) {
      subscriber->listener(last_sequence);
      {
        std::lock_guard lock(subscribers_mu_);
        --subscriber->calls;
      }
      subscriber_done_.notify_all();
    }
  }

  StatusOr<std::vector<StoredEvent>> ReadFile(int64_t after, const EventFilter& filter,
                                              size_t limit, size_t budget,
                                              int64_t* scanned_to) const {
    std::string sql =
        std::string("SELECT ") + kColumns + " FROM events WHERE sequence > ?1 AND sequence <= ?2";
    int index = 3;
    std::vector<std::pair<int, const std::string*>> binds;
    auto add = [&](const char* column, const std::string& value) {
      sql += std::string(" AND ") + column + " = ?" + std::to_string(index);
      binds.emplace_back(index++, &value);
    };
    if (!filter.execution_arn.empty()) add("execution_arn", filter.execution_arn);
    if (!filter.job_id.empty()) add("job_id", filter.job_id);
    if (!filter.owner.empty()) add("owner", filter.owner);
    if (!filter.detail_types.empty()) {
      sql += " AND detail_type IN (";
      for (size_t i = 0; i < filter.detail_types.size(); ++i) {
        sql += (i == 0 ? "?" : ", ?") + std::to_string(index);
        binds.emplace_back(index++, &filter.detail_types[i]);
      }
      sql += ")";
    }
    sql += " ORDER BY sequence LIMIT ?" + std::to_string(index);
    const int limit_index = index;

    std::lock_guard lock(read_mu_);
    // One read transaction: the window's end and the rows agree.
    HPD_RETURN_IF_ERROR(reader_->Execute("BEGIN"));
    auto finish = [this](Status status) {
      reader_->Execute("COMMIT").IgnoreError();
      return status;
    };
    StatusOr<Statement> last = reader_->Prepare("SELECT COALESCE(MAX(sequence), 0) FROM events");
    if (!last.ok()) return finish(last.status());
    if (StatusOr<bool> row = last->Step(); !row.ok()) return finish(row.status());
    const int64_t last_sequence = last->Int(0);
    last->Reset();
    const int64_t window_end = std::min(last_sequence, after + static_cast<int64_t>(budget));
    StatusOr<Statement> query = reader_->Prepare(sql);
    if (!query.ok()) return finish(query.status());
    query->Bind(1, after).Bind(2, window_end);
    for (const auto& [i, value] : binds) query->Bind(i, *value);
    query->Bind(limit_index, static_cast<int64_t>(limit));
    std::vector<StoredEvent> out;
    while (true) {
      StatusOr<bool> row = query->Step();
      if (!row.ok()) return finish(row.status());
      if (!*row) break;
      out.push_back(Row(*query));
    }
    query->Reset();
    HPD_RETURN_IF_ERROR(finish(Status::Ok()));
    if (scanned_to != nullptr) {
      *scanned_to = out.size() == limit ? out.back().sequence : std::max(after, window_end);
    }
    return out;
  }

  // The writer connection and what only appends change.
  mutable std::mutex write_mu_;
  std::unique_ptr<Database> writer_;  // guarded by write_mu_
  int64_t last_sequence_ = 0;         // guarded by write_mu_

  mutable std::mutex read_mu_;
  std::unique_ptr<Database> reader_;  // guarded by read_mu_

  mutable std::mutex cache_mu_;
  std::deque<StoredEvent> cache_;  // guarded by cache_mu_: the newest events, by sequence
  size_t cache_bytes_ = 0;         // guarded by cache_mu_
  int64_t cache_last_ = 0;         // guarded by cache_mu_: the log's last sequence

  std::mutex subscribers_mu_;
  std::condition_variable subscriber_done_;
  std::map<uint64_t, std::shared_ptr<Subscriber>> subscribers_;  // guarded by subscribers_mu_
  uint64_t next_handle_ = 0;                                     // guarded by subscribers_mu_
};

StatusOr<std::unique_ptr<EventLog>> EventLog::Open(const std::filesystem::path& file) {
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> writer,
                       Database::Open(file, Database::Mode::kReadWrite));
  // A database that holds other tables and no event log is some other program's file: refuse
  // it rather than add tables to it.
  {
    HPD_ASSIGN_OR_RETURN(Statement tables,
                         writer->Prepare("SELECT (SELECT COUNT(*) FROM sqlite_master), "
                                         "(SELECT COUNT(*) FROM sqlite_master WHERE "
                                         "type = 'table' AND name = 'events')"));
    StatusOr<bool> row = tables.Step();
    if (!row.ok()) {
      if (row.status().code() == StatusCode::kDataLoss) return row.status();
      return DataLossError(file.string() + " is not an event log: " + row.status().ToString());
    }
    if (tables.Int(0) > 0 && tables.Int(1) == 0) {
      return DataLossError(file.string() + " is a database but not an event log");
    }
  }
  HPD_RETURN_IF_ERROR(writer->Execute(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS events ("
      "  sequence INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, detail_type TEXT NOT NULL,"
      "  source TEXT NOT NULL, time TEXT NOT NULL, execution_arn TEXT NOT NULL,"
      "  job_id TEXT NOT NULL, owner TEXT NOT NULL, envelope TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS events_by_job ON events (job_id);"
      "CREATE INDEX IF NOT EXISTS events_by_owner ON events (owner);"
      "CREATE INDEX IF NOT EXISTS events_by_execution ON events (execution_arn);"
      "CREATE TABLE IF NOT EXISTS cursors ("
      "  name TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;"
      "PRAGMA user_version = 1;"));
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> reader,
                       Database::Open(file, Database::Mode::kReadOnly));
  auto impl = std::make_unique<Impl>(std::move(writer), std::move(reader));
  HPD_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl)));
}

EventLog::EventLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventLog::~EventLog() = default;

StatusOr<AppendResult> EventLog::Append(
    const std::vector<boost::json::object>& envelopes,
    const std::vector<std::pair<std::string, int64_t>>& cursors) {
  return impl_->Append(envelopes, cursors);
}

StatusOr<std::vector<StoredEvent>> EventLog::Read(int64_t after_sequence, const EventFilter& filter,
                                                  size_t limit, int64_t* scanned_to) const {
  return impl_->Read(after_sequence, filter, limit, scanned_to);
}

int64_t EventLog::LastSequence() const { return impl_->LastSequence(); }

StatusOr<std::optional<StoredEvent>> EventLog::FindById(const std::string& id) const {
  return impl_->FindById(id);
}

StatusOr<std::optional<int64_t>> EventLog::Cursor(const std::string& name) const {
  return impl_->Cursor(name);
}

Status EventLog::SetCursor(const std::string& name, int64_t value) {
  return impl_->SetCursor(name, value);
}

uint64_t EventLog::Subscribe(std::function<void(int64_t last_sequence)> listener) {
  return impl_->Subscribe(std::move(listener));
}

void EventLog::Unsubscribe(uint64_t handle) { impl_->Unsubscribe(handle); }

}  // namespace hpd::store
