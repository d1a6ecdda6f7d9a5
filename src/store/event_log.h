// The platform's durable event log: every event the platform publishes (Step Functions status
// changes, workflow progress, container log lines), in EventBridge's envelope, each with a
// sequence number that Server-Sent Events clients resume from (`id:` / `Last-Event-ID`) and that
// webhook and forwarding cursors point at.
//
// An event is stored exactly as published: the EventBridge envelope
//   {"version": "0", "id": "<uuid>", "detail-type": "...", "source": "...", "account": "...",
//    "time": "2026-01-01T00:00:00Z", "region": "...", "resources": ["<executionArn>"],
//    "detail": {...}}
// and indexed by what readers filter on: the execution ARN (resources[0]), the job id
// (detail.jobId, else the "jobId" member of the JSON text detail.input), and the owner
// (detail.owner, else detail.requestedBy, else the input's "owner", else its "requestedBy"; the
// token name of whoever started the deployment).
//
// Append is idempotent by envelope id: an id already in the log is skipped, so a producer that
// re-derives events after a crash, or an HTTP target that receives a retried delivery, appends
// each event once. Sequences are 1, 2, 3, ... with no gaps, in append order.
//
// Named cursors (a producer's position in its source, a consumer's position in the log) are kept
// in the same database and may be advanced in the same transaction as an append, so "these events
// and the position they were derived up to" commit together.
//
// Reads after a sequence within the last kCacheEvents events are answered from memory (SSE
// clients at the head of the log never touch SQLite); older ones read the file.
//
// Thread-safe. One EventLog per file per process; the file (<data dir>/events.db, SQLite WAL)
// may be read by other processes.
#ifndef HPD_STORE_EVENT_LOG_H_
#define HPD_STORE_EVENT_LOG_H_

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {

class Database;

struct StoredEvent {
  int64_t sequence = 0;
  std::string id;           // the envelope's "id"
  std::string detail_type;  // the envelope's "detail-type"
  std::string source;       // the envelope's "source"
  std::string time;         // the envelope's "time" (RFC 3339)
  std::string execution_arn;
  std::string job_id;    // "" when none
  std::string owner;     // "" when none
  std::string envelope;  // the whole envelope, compact JSON text, as appended
};

// What a reader wants. Empty members match everything.
struct EventFilter {
  std::string execution_arn;
  std::string job_id;
  std::string owner;
  std::vector<std::string> detail_types;  // any of these
};

struct AppendResult {
  std::vector<StoredEvent> appended;  // in order; events skipped as duplicates are not here
  int64_t last_sequence = 0;          // the log's last sequence after the append
};

class EventLog {
 public:
  static constexpr char kFileName[] = "events.db";
  static constexpr size_t kCacheEvents = 16384;
  // The largest envelope Append accepts (EventBridge's PutEvents entry limit).
  static constexpr size_t kMaxEnvelopeBytes = 256 * 1024;

  // Opens or creates the file. kUnavailable when it cannot be opened; kDataLoss when it is not
  // an event log.
  [[nodiscard]] static StatusOr<std::unique_ptr<EventLog>> Open(const std::filesystem::path& file);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends `envelopes` in order, skipping ids already present, and sets `cursors` (name ->
  // value), all in one transaction; then tells the subscribers. kInvalidArgument (nothing
  // appended) when an envelope lacks a string id, detail-type, source or time, an object detail,
  // or is over kMaxEnvelopeBytes.
  [[nodiscard]] StatusOr<AppendResult> Append(
      const std::vector<boost::json::object>& envelopes,
      const std::vector<std::pair<std::string, int64_t>>& cursors = {});

  // Events with sequence > after_sequence matching `filter`, oldest first, at most `limit`
  // (>= 1). Scans at most `limit` * 64 events past after_sequence when the filter is narrow;
  // `scanned_to` (when not null) gets the last sequence examined, so a reader resumes from there
  // rather than from the last match.
  [[nodiscard]] StatusOr<std::vector<StoredEvent>> Read(int64_t after_sequence,
                                                        const EventFilter& filter, size_t limit,
                                                        int64_t* scanned_to = nullptr) const;
  // The last sequence (0 for an empty log).
  int64_t LastSequence() const;
  // The event with this envelope id, if present.
  [[nodiscard]] StatusOr<std::optional<StoredEvent>> FindById(const std::string& id) const;

  // A named cursor's value, or nullopt when never set.
  [[nodiscard]] StatusOr<std::optional<int64_t>> Cursor(const std::string& name) const;
  [[nodiscard]] Status SetCursor(const std::string& name, int64_t value);

  // Calls `listener(last_sequence)` after every append that added events, on the appending
  // thread, outside the log's lock. It must not block (wake a thread, post to an executor).
  // Returns a handle for Unsubscribe; Unsubscribe waits for a call in progress to return.
  uint64_t Subscribe(std::function<void(int64_t last_sequence)> listener);
  void Unsubscribe(uint64_t handle);

 private:
  class Impl;
  explicit EventLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::store

#endif  // HPD_STORE_EVENT_LOG_H_
