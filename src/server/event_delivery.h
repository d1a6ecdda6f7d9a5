// Webhooks: the platform's events, delivered by HTTP POST to subscribers, from the durable event
// log, in order, at least once (exactly once to a receiver that deduplicates by event id).
//
// Also how a split topology forwards: an engine-side `hpdeploy serve --event-target URL`
// delivers every event to the backend's POST /api/v1/events, as an EventBridge rule with an API
// destination target does on AWS (the request body is the event envelope itself; the connection's
// API key travels as `Authorization: Bearer <token>`).
//
// Each POST carries:
//   Content-Type: application/json            body: the event envelope (store/event_log.h)
//   User-Agent: hpdeploy-webhooks/1
//   X-Hpd-Event-Id: <envelope id>             X-Hpd-Event-Sequence: <sequence in the log>
//   X-Hpd-Delivery-Attempt: <1, 2, ...>       X-Hpd-Timestamp: <unix seconds of this attempt>
//   X-Hpd-Signature-256: sha256=<lower-case hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//                                              (when the webhook has a secret)
//   Authorization: Bearer <token>             (when the webhook has a bearer token)
// A 2xx answer within `timeout` is a delivery. Anything else (another status, a timeout, a
// refused connection) is a failed attempt, retried after full-jitter exponential backoff
// (initial_backoff doubling to max_backoff); after max_attempts the event is dead-lettered (kept
// in the delivery log with its last error) and delivery moves on; a webhook with retry_forever
// (the split topology's forwarder) instead retries its head event until it is taken. A webhook
// delivers one event at a time, in log order, so events of one deployment arrive in order.
//
// Durable outbox: each webhook's position in the event log, and the attempt count and next
// attempt time of the event at its head, are in the database; a restart (or crash) resumes from
// there: an event whose delivery was in flight is delivered again (same event id).
//
// Thread-safe. One EventDelivery per database file per process.
#ifndef HPD_SERVER_EVENT_DELIVERY_H_
#define HPD_SERVER_EVENT_DELIVERY_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/event_log.h"

namespace hpd::server {

struct EventDeliveryOptions {
  int max_attempts = 12;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{60000};
  std::chrono::milliseconds timeout{5000};  // per attempt (EventBridge API destinations: 5 s)
  // Concurrent webhooks being delivered (each webhook is still one event at a time).
  size_t threads = 2;
};

struct WebhookSpec {
  std::string url;           // http:// or https://; at most 2,048 characters
  std::string secret;        // HMAC key; "" for unsigned deliveries
  std::string bearer_token;  // "" for none
  std::string description;   // at most 256 characters
  // Only these detail-types; empty: all.
  std::vector<std::string> detail_types;
  // Only events of deployments owned by this token name; "" for all.
  std::string owner;
  // Never dead-letter: keep retrying the head event (backoff capped at max_backoff). For the
  // split topology's event forwarder, whose receiver must see every event however long it is
  // down; user webhooks are bounded by max_attempts.
  bool retry_forever = false;
};

struct Webhook {
  std::string id;  // "wh-" + 16 hex digits, or the id given to Ensure
  std::string url;
  bool has_secret = false;
  std::string description;
  std::vector<std::string> detail_types;
  std::string owner;
  std::string created_by;
  WallTime created_at{};
  int64_t cursor = 0;  // the last event sequence delivered or dead-lettered
  int64_t delivered = 0;
  int64_t dead_lettered = 0;
  int64_t failed_attempts = 0;
  std::string last_error;  // "" when the last attempt succeeded
};

struct DeliveryRecord {
  int64_t id = 0;
  std::string webhook_id;
  int64_t event_sequence = 0;
  std::string event_id;
  int attempt = 0;
  std::string outcome;  // "delivered", "failed" (will retry), "dead_letter"
  int http_status = 0;  // 0 when there was no answer
  std::string error;    // "" when delivered
  int64_t duration_ms = 0;
  WallTime time{};
};

struct DeliveryStats {
  int64_t delivered = 0;
  int64_t failed_attempts = 0;
  int64_t dead_lettered = 0;
};

class EventDelivery {
 public:
  static constexpr char kFileName[] = "webhooks.db";

  // `log` and `clock` must outlive it (the clock is not const: backoffs are its timers). Does not
  // deliver until Start(). kInvalidArgument when options.max_attempts < 1.
  [[nodiscard]] static StatusOr<std::unique_ptr<EventDelivery>> Open(
      const std::filesystem::path& file, store::EventLog& log, Clock& clock,
      EventDeliveryOptions options = {});
  ~EventDelivery();  // Stop()
  EventDelivery(const EventDelivery&) = delete;
  EventDelivery& operator=(const EventDelivery&) = delete;

  // Starts the threads and resumes every webhook from its stored position (and backoff).
  // kFailedPrecondition after Stop().
  [[nodiscard]] Status Start();
  // Lets attempts in flight finish (at most `timeout`), then stops. Idempotent.
  void Stop();

  // A new webhook receiving events appended from now on. kInvalidArgument (error name
  // ValidationException) naming the field for a bad URL, description or detail-type.
  [[nodiscard]] StatusOr<Webhook> Create(const WebhookSpec& spec, const std::string& created_by);
  // The webhook `id` with this spec, created (delivering events after `start_after`) unless it
  // exists; an existing one gets the spec and keeps its position.
  [[nodiscard]] StatusOr<Webhook> Ensure(const std::string& id, const WebhookSpec& spec,
                                         int64_t start_after, const std::string& created_by);
  [[nodiscard]] StatusOr<std::vector<Webhook>> List() const;
  // kNotFound (error name WebhookNotFound).
  [[nodiscard]] StatusOr<Webhook> Get(const std::string& id) const;
  [[nodiscard]] Status Delete(const std::string& id);
  // The webhook's delivery log, newest first, ids < before_id (0: from the newest), at most
  // `limit`. The newest 1,000 records of each webhook are kept. kNotFound (WebhookNotFound).
  [[nodiscard]] StatusOr<std::vector<DeliveryRecord>> Deliveries(const std::string& id,
                                                                 int64_t before_id,
                                                                 size_t limit) const;
  // Counts since Open, in this process (for metrics; the per-webhook totals are in Webhook).
  DeliveryStats Stats() const;

 private:
  class Impl;
  explicit EventDelivery(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body): what X-Hpd-Signature-256 holds.
std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body);

}  // namespace hpd::server

#endif  // HPD_SERVER_EVENT_DELIVERY_H_
