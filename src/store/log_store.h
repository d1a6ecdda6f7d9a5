// The local log store: CloudWatch Logs' groups, streams and events on SQLite, for the container
// runner's awslogs output and `hpdeploy logs JOB --follow`.
//
// What it keeps of CloudWatch Logs (API reference: CreateLogStream, PutLogEvents, GetLogEvents,
// DescribeLogStreams):
//  - Log group names of 1 to 512 characters of [.-_/#A-Za-z0-9]; log stream names of 1 to 512
//    characters without ':' or '*'. A group is created with its first stream.
//  - Each event of a stream has a sequence number (1, 2, 3, ... per stream: a reader resumes
//    after the last one it saw), a timestamp (milliseconds since the epoch, from the clock when
//    Append is called) and a message of at most 262,118 bytes (256 KiB less the 26 bytes of
//    overhead PutLogEvents counts). Empty messages are kept (CloudWatch refuses them; the awslogs
//    driver never sends one, but a local tail reads better with the blank lines in place).
// Errors are Statuses whose error_name() is CloudWatch Logs' code: InvalidParameterException
// (kInvalidArgument), ResourceNotFoundException (kNotFound); kUnavailable when the database
// cannot be used.
//
// The file (<dir>/logs.db) is shared between processes: the server appends while `hpdeploy logs`
// reads. WAL mode lets readers run while a writer writes; writers wait up to 10 s for each other.
// Thread-safe (one connection behind a mutex per LogStore object; open one per process).
#ifndef HPD_STORE_LOG_STORE_H_
#define HPD_STORE_LOG_STORE_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {

class Database;

struct LogEvent {
  int64_t sequence = 0;   // 1-based, increasing by one per event of the stream
  int64_t timestamp = 0;  // milliseconds since the Unix epoch
  std::string message;
};

struct LogEventPage {
  std::vector<LogEvent> events;  // by sequence
  // The sequence of the last event returned, or the `after_sequence` asked for when none was:
  // pass it back to read on.
  int64_t last_sequence = 0;
};

struct LogStreamInfo {
  std::string name;
  int64_t creation_time = 0;         // ms since the epoch
  int64_t last_event_timestamp = 0;  // 0 while the stream has no event
  int64_t last_sequence = 0;         // 0 while the stream has no event
};

// The largest message Append accepts, in bytes.
inline constexpr size_t kMaxLogEventBytes = 262144 - 26;

// OK, or InvalidParameterException naming what is wrong.
Status ValidateLogGroupName(std::string_view group);
Status ValidateLogStreamName(std::string_view stream);

class LogStore {
 public:
  // Opens or creates the database file `file` (conventionally <dir>/logs.db). The clock must
  // outlive the store. kUnavailable when the file cannot be opened or created.
  [[nodiscard]] static StatusOr<std::unique_ptr<LogStore>> Open(const std::filesystem::path& file,
                                                                const Clock& clock);
  ~LogStore();
  LogStore(const LogStore&) = delete;
  LogStore& operator=(const LogStore&) = delete;

  // Creates the stream (and its group) unless it exists: unlike CreateLogStream, an existing
  // stream is not an error, so every writer may call it first.
  [[nodiscard]] Status CreateStream(std::string_view group, std::string_view stream);
  // Appends one event per line, all stamped with the clock's time now, in one transaction (a
  // reader sees all of them or none). Returns the sequence of the last one (the stream's last
  // sequence when `lines` is empty). ResourceNotFoundException for an unknown group or stream;
  // InvalidParameterException for a message over kMaxLogEventBytes (nothing is appended).
  [[nodiscard]] StatusOr<int64_t> Append(std::string_view group, std::string_view stream,
                                         const std::vector<std::string>& lines);
  // The events with sequence > after_sequence, oldest first, at most `limit` (0: 10,000, the
  // GetLogEvents maximum). ResourceNotFoundException for an unknown group or stream.
  [[nodiscard]] StatusOr<LogEventPage> Read(std::string_view group, std::string_view stream,
                                            int64_t after_sequence, size_t limit = 0) const;
  // Calls `observer(group, stream, last_sequence)` after every Append that added lines, once it
  // has committed, on the appending thread and outside the store's lock (it may read the store).
  // It must not block: wake a thread. Replaces the previous observer; an empty one removes it.
  void SetAppendObserver(std::function<void(const std::string& group, const std::string& stream,
                                            int64_t last_sequence)>
                             observer);

  // The group's streams whose names start with `prefix`, by name.
  // ResourceNotFoundException for an unknown group.
  [[nodiscard]] StatusOr<std::vector<LogStreamInfo>> ListStreams(std::string_view group,
                                                                 std::string_view prefix) const;

 private:
  LogStore(std::unique_ptr<Database> db, const Clock& clock);
  // Append without the observer: one transaction, under mu_.
  StatusOr<int64_t> CommitLines(std::string_view group, std::string_view stream,
                                const std::vector<std::string>& lines);
  // OK when the group and stream exist; ResourceNotFoundException otherwise. Requires mu_.
  Status CheckStreamLocked(std::string_view group, std::string_view stream) const;

  using AppendObserver =
      std::function<void(const std::string& group, const std::string& stream, int64_t)>;

  const Clock& clock_;
  mutable std::mutex mu_;
  std::unique_ptr<Database> db_;  // guarded by mu_
  std::mutex observer_mu_;
  std::shared_ptr<const AppendObserver> observer_;  // guarded by observer_mu_
};

}  // namespace hpd::store

#endif  // HPD_STORE_LOG_STORE_H_
