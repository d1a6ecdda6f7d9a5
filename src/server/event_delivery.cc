#include "server/event_delivery.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "common/digest.h"
#include "common/json.h"
#include "common/random.h"
#include "store/sqlite.h"

namespace hpd::server {
namespace {

constexpr size_t kMaxUrlLength = 2048;
constexpr size_t kMaxDescriptionLength = 256;
constexpr size_t kMaxDetailTypeLength = 128;
constexpr size_t kMaxDetailTypes = 100;
constexpr size_t kMaxOwnerLength = 128;
constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxSecretLength = 4096;
// A webhook delivers at most this many events before the next webhook waiting for a thread gets
// its turn.
constexpr int kEventsPerTurn = 32;
// How much of a failed answer's body the delivery log keeps.
constexpr size_t kBodyExcerpt = 200;
// The delivery log keeps this many records per webhook, pruned every kPruneEvery inserts.
constexpr int64_t kKeptDeliveries = 1000;
constexpr int64_t kPruneEvery = 64;

int64_t Nanos(WallTime time) { return time.time_since_epoch().count(); }

Status Invalid(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "ValidationException");
}

Status WebhookNotFound(const std::string& id) {
  return Named(NotFoundError("webhook " + id + " does not exist"), "WebhookNotFound");
}

bool HasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void GlobalInitOnce() {
  // curl_global_init is not thread-safe; every EventDelivery goes through here first.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Status ValidateUrl(const std::string& url) {
  if (url.size() > kMaxUrlLength) {
    return Invalid("url: at most " + std::to_string(kMaxUrlLength) + " characters; this one has " +
                   std::to_string(url.size()));
  }
  if (HasControlCharacter(url) || url.find(' ') != std::string::npos) {
    return Invalid("url: must not contain spaces or control characters");
  }
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return Invalid("url: must start with http:// or https://");
  }
  // libcurl's parser forgives "http:///path" (taking "path" as the host); a webhook URL must
  // name its host where RFC 3986 puts it.
  const std::string_view rest = std::string_view(url).substr(url.find("://") + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const std::string_view host_port = authority.substr(authority.rfind('@') + 1);
  if (host_port.empty() || host_port.front() == ':') {
    return Invalid("url: \"" + url + "\" has no host");
  }
  CURLU* parsed = curl_url();
  char* host = nullptr;
  const bool ok = curl_url_set(parsed, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
                  curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != nullptr &&
                  host[0] != '\0';
  curl_free(host);
  curl_url_cleanup(parsed);
  if (!ok) return Invalid("url: \"" + url + "\" is not a URL with a host");
  return Status::Ok();
}

Status ValidateSpec(const WebhookSpec& spec) {
  HPD_RETURN_IF_ERROR(ValidateUrl(spec.url));
  if (spec.description.size() > kMaxDescriptionLength) {
    return Invalid("description: at most " + std::to_string(kMaxDescriptionLength) +
                   " characters; this one has " + std::to_string(spec.description.size()));
  }
  if (spec.detail_types.size() > kMaxDetailTypes) {
    return Invalid("detailTypes: at most " + std::to_string(kMaxDetailTypes));
  }
  for (const std::string& type : spec.detail_types) {
    if (type.empty() || type.size() > kMaxDetailTypeLength || HasControlCharacter(type)) {
      return Invalid("detailTypes: each must be 1 to " + std::to_string(kMaxDetailTypeLength) +
                     " characters without control characters");
    }
  }
  if (spec.owner.size() > kMaxOwnerLength || HasControlCharacter(spec.owner)) {
    return Invalid("owner: at most " + std::to_string(kMaxOwnerLength) +
                   " characters without control characters");
  }
  // Both travel in header values or keys; a CR or LF would split the request.
  if (spec.secret.size() > kMaxSecretLength) {
    return Invalid("secret: at most " + std::to_string(kMaxSecretLength) + " characters");
  }
  if (spec.bearer_token.size() > kMaxSecretLength || HasControlCharacter(spec.bearer_token)) {
    return Invalid("bearerToken: at most " + std::to_string(kMaxSecretLength) +
                   " characters without control characters");
  }
  return Status::Ok();
}

std::string SpecJson(const WebhookSpec& spec) {
  boost::json::object o;
  o["url"] = spec.url;
  o["secret"] = spec.secret;
  o["bearerToken"] = spec.bearer_token;
  o["description"] = spec.description;
  boost::json::array types;
  for (const std::string& type : spec.detail_types) types.emplace_back(type);
  o["detailTypes"] = std::move(types);
  o["owner"] = spec.owner;
  o["retryForever"] = spec.retry_forever;
  return SerializeJson(o);
}

StatusOr<WebhookSpec> ParseSpec(std::string_view text) {
  StatusOr<boost::json::value> parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return DataLossError("webhook spec is not an object");
  const boost::json::object& o = parsed->as_object();
  auto text_of = [&o](const char* key) {
    const boost::json::value* v = o.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  WebhookSpec spec;
  spec.url = text_of("url");
  spec.secret = text_of("secret");
  spec.bearer_token = text_of("bearerToken");
  spec.description = text_of("description");
  spec.owner = text_of("owner");
  if (const boost::json::value* forever = o.if_contains("retryForever");
      forever != nullptr && forever->is_bool()) {
    spec.retry_forever = forever->as_bool();
  }
  if (const boost::json::value* types = o.if_contains("detailTypes"); types && types->is_array()) {
    for (const boost::json::value& type : types->as_array()) {
      if (type.is_string()) spec.detail_types.emplace_back(type.as_string());
    }
  }
  return spec;
}

bool SameSpec(const WebhookSpec& a, const WebhookSpec& b) {
  return a.url == b.url && a.secret == b.secret && a.bearer_token == b.bearer_token &&
         a.description == b.description && a.detail_types == b.detail_types && a.owner == b.owner &&
         a.retry_forever == b.retry_forever;
}

constexpr char kWebhookColumns[] =
    "id, spec, created_by, created_ns, cursor, head_attempts, next_attempt_ns, delivered, "
    "dead_lettered, failed_attempts, last_error";

struct WebhookRow {
  Webhook webhook;
  WebhookSpec spec;
  int head_attempts = 0;
  std::optional<WallTime> next_attempt;
};

StatusOr<WebhookRow> ReadWebhookRow(const store::Statement& s) {
  WebhookRow row;
  Webhook& w = row.webhook;
  w.id = std::string(s.Text(0));
  StatusOr<WebhookSpec> spec = ParseSpec(s.Text(1));
  if (!spec.ok()) return spec.status().WithContext("webhook " + w.id);
  row.spec = std::move(*spec);
  w.url = row.spec.url;
  w.has_secret = !row.spec.secret.empty();
  w.description = row.spec.description;
  w.detail_types = row.spec.detail_types;
  w.owner = row.spec.owner;
  w.created_by = std::string(s.Text(2));
  w.created_at = WallTime(Duration(s.Int(3)));
  w.cursor = s.Int(4);
  row.head_attempts = static_cast<int>(s.Int(5));
  if (!s.IsNull(6)) row.next_attempt = WallTime(Duration(s.Int(6)));
  w.delivered = s.Int(7);
  w.dead_lettered = s.Int(8);
  w.failed_attempts = s.Int(9);
  w.last_error = std::string(s.Text(10));
  return row;
}

size_t KeepExcerpt(char* data, size_t size, size_t count, void* user) {
  auto* excerpt = static_cast<std::string*>(user);
  const size_t bytes = size * count;
  if (excerpt->size() < kBodyExcerpt) {
    excerpt->append(data, std::min(bytes, kBodyExcerpt - excerpt->size()));
  }
  return bytes;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void Add(const std::string& header) { list = curl_slist_append(list, header.c_str()); }
};

// One delivery attempt's result.
struct AttemptResult {
  bool delivered = false;
  int http_status = 0;
  std::string error;
  int64_t duration_ms = 0;
};

// A webhook as the scheduler sees it.
struct HookState {
  // Tells a webhook deleted and created again under the same id apart from its old self, which a
  // worker may still be delivering.
  uint64_t incarnation = 0;
  WebhookSpec spec;
  int64_t cursor = 0;
  int head_attempts = 0;
  // Not before this (a failed attempt's backoff); cleared when its timer fires.
  std::optional<WallTime> next_attempt;
  TimerId timer = TimerId::kInvalid;
  uint64_t timer_generation = 0;
  bool queued = false;   // in ready
  bool running = false;  // a worker has it
  bool recheck = false;  // events appended while a worker had it
};

// What the event log's listener and the clock's timers touch. Shared, so a timer callback that
// runs while EventDelivery is being destroyed still finds it alive.
struct Scheduler {
  std::mutex mu;
  std::condition_variable wake;
  bool started = false;                    // guarded by mu
  bool stopping = false;                   // guarded by mu
  std::deque<std::string> ready;           // guarded by mu
  std::map<std::string, HookState> hooks;  // guarded by mu
  uint64_t incarnations = 0;               // guarded by mu

  // The webhook `id` if it is still the given incarnation.
  HookState* FindLocked(const std::string& id, uint64_t incarnation) {
    auto it = hooks.find(id);
    if (it == hooks.end() || it->second.incarnation != incarnation) return nullptr;
    return &it->second;
  }

  // Hands the webhook to a worker, or tells the worker that has it to look again.
  void EnqueueLocked(const std::string& id, HookState& hook) {
    if (hook.running) {
      hook.recheck = true;
    } else if (!hook.queued) {
      hook.queued = true;
      ready.push_back(id);
      wake.notify_one();
    }
  }
};

}  // namespace

class EventDelivery::Impl {
 public:
  Impl(std::unique_ptr<store::Database> db, store::EventLog& log, Clock& clock,
       EventDeliveryOptions options)
      : db_(std::move(db)),
        log_(log),
        clock_(clock),
        options_(options),
        scheduler_(std::make_shared<Scheduler>()) {}

  ~Impl() { Stop(); }

  Status Load() {
    std::lock_guard db_lock(db_mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement s,
                         db_->Prepare(std::string("SELECT ") + kWebhookColumns + " FROM webhooks"));
    std::lock_guard lock(scheduler_->mu);
    for (;;) {
      HPD_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      HPD_ASSIGN_OR_RETURN(WebhookRow r, ReadWebhookRow(s));
      HookState& hook = scheduler_->hooks[r.webhook.id];
      hook.incarnation = ++scheduler_->incarnations;
      hook.spec = std::move(r.spec);
      hook.cursor = r.webhook.cursor;
      hook.head_attempts = r.head_attempts;
      hook.next_attempt = r.next_attempt;
    }
    return Status::Ok();
  }

  Status Start() {
    std::lock_guard start_lock(start_mu_);
    {
      std::lock_guard lock(scheduler_->mu);
      if (scheduler_->stopping) return FailedPreconditionError("webhook delivery was stopped");
      if (scheduler_->started) return Status::Ok();
      scheduler_->started = true;
      // Every webhook looks once for events past its position; those in backoff wait for it.
      for (auto& [id, hook] : scheduler_->hooks) {
        if (hook.next_attempt) {
          ArmTimerLocked(id, hook, *hook.next_attempt);
        } else {
          scheduler_->EnqueueLocked(id, hook);
        }
      }
    }
    std::weak_ptr<Scheduler> weak = scheduler_;
    subscription_ = log_.Subscribe([weak](int64_t last_sequence) {
      std::shared_ptr<Scheduler> scheduler = weak.lock();
      if (!scheduler) return;
      std::lock_guard lock(scheduler->mu);
      for (auto& [id, hook] : scheduler->hooks) {
        if (last_sequence > hook.cursor && !hook.next_attempt) scheduler->EnqueueLocked(id, hook);
      }
    });
    subscribed_ = true;
    const size_t threads = std::max<size_t>(1, options_.threads);
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { Work(); });
    return Status::Ok();
  }

  void Stop() {
    std::lock_guard start_lock(start_mu_);
    if (subscribed_) {
      log_.Unsubscribe(subscription_);
      subscribed_ = false;
    }
    {
      std::lock_guard lock(scheduler_->mu);
      scheduler_->stopping = true;
      for (auto& [id, hook] : scheduler_->hooks) {
        if (hook.timer != TimerId::kInvalid) clock_.Cancel(hook.timer);
        hook.timer = TimerId::kInvalid;
        ++hook.timer_generation;
      }
      scheduler_->wake.notify_all();
    }
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
  }

  StatusOr<Webhook> Create(const WebhookSpec& spec, const std::string& created_by) {
    HPD_RETURN_IF_ERROR(ValidateSpec(spec));
    HPD_ASSIGN_OR_RETURN(std::string random, SecureRandomBytes(8));
    const std::string id = "wh-" + HexEncode(random);
    return Insert(id, spec, log_.LastSequence(), created_by);
  }

  StatusOr<Webhook> Ensure(const std::string& id, const WebhookSpec& spec, int64_t start_after,
                           const std::string& created_by) {
    if (id.empty() || id.size() > kMaxIdLength || HasControlCharacter(id)) {
      return Invalid("id: 1 to " + std::to_string(kMaxIdLength) +
                     " characters without control characters");
    }
    HPD_RETURN_IF_ERROR(ValidateSpec(spec));
    {
      std::unique_lock db_lock(db_mu_);
      HPD_ASSIGN_OR_RETURN(
          store::Statement s,
          db_->Prepare("UPDATE webhooks SET spec = ?, next_attempt_ns = "
                       "CASE WHEN spec = ? THEN next_attempt_ns END WHERE id = ?"));
      const std::string json = SpecJson(spec);
      s.Bind(1, json).Bind(2, json).Bind(3, id);
      HPD_RETURN_IF_ERROR(s.Run());
      if (db_->Changes() > 0) {
        db_lock.unlock();
        std::lock_guard lock(scheduler_->mu);
        auto it = scheduler_->hooks.find(id);
        if (it != scheduler_->hooks.end() && !SameSpec(it->second.spec, spec)) {
          // A changed webhook (a fixed URL, say) is tried again now rather than after its backoff.
          HookState& hook = it->second;
          hook.spec = spec;
          CancelTimerLocked(hook);
          hook.next_attempt.reset();
          if (scheduler_->started && !scheduler_->stopping) scheduler_->EnqueueLocked(id, hook);
        }
      } else {
        db_lock.unlock();
        StatusOr<Webhook> inserted = Insert(id, spec, start_after, created_by);
        // Another caller created it first: it keeps its position, as documented.
        if (inserted.ok() || inserted.status().code() != StatusCode::kAlreadyExists) {
          return inserted;
        }
        return Ensure(id, spec, start_after, created_by);
      }
    }
    return Get(id);
  }

  StatusOr<std::vector<Webhook>> List() const {
    std::lock_guard db_lock(db_mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement s,
                         db_->Prepare(std::string("SELECT ") + kWebhookColumns +
                                      " FROM webhooks ORDER BY created_ns, id"));
    std::vector<Webhook> webhooks;
    for (;;) {
      HPD_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      HPD_ASSIGN_OR_RETURN(WebhookRow r, ReadWebhookRow(s));
      webhooks.push_back(std::move(r.webhook));
    }
    return webhooks;
  }

  StatusOr<Webhook> Get(const std::string& id) const {
    std::lock_guard db_lock(db_mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement s, db_->Prepare(std::string("SELECT ") + kWebhookColumns +
                                                          " FROM webhooks WHERE id = ?"));
    s.Bind(1, id);
    HPD_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return WebhookNotFound(id);
    HPD_ASSIGN_OR_RETURN(WebhookRow r, ReadWebhookRow(s));
    return std::move(r.webhook);
  }

  Status Delete(const std::string& id) {
    {
      std::lock_guard db_lock(db_mu_);
      bool found = false;
      const Status deleted = db_->InTransaction([&]() -> Status {
        HPD_ASSIGN_OR_RETURN(store::Statement s, db_->Prepare("DELETE FROM webhooks WHERE id = ?"));
        s.Bind(1, id);
        HPD_RETURN_IF_ERROR(s.Run());
        found = db_->Changes() > 0;
        HPD_ASSIGN_OR_RETURN(store::Statement d,
                             db_->Prepare("DELETE FROM deliveries WHERE webhook_id = ?"));
        d.Bind(1, id);
        return d.Run();
      });
      HPD_RETURN_IF_ERROR(deleted);
      if (!found) return WebhookNotFound(id);
    }
    std::lock_guard lock(scheduler_->mu);
    auto it = scheduler_->hooks.find(id);
    if (it != scheduler_->hooks.end()) {
      CancelTimerLocked(it->second);
      scheduler_->hooks.erase(it);
    }
    return Status::Ok();
  }

  StatusOr<std::vector<DeliveryRecord>> Deliveries(const std::string& id, int64_t before_id,
                                                   size_t limit) const {
    HPD_RETURN_IF_ERROR(Get(id).status());
    std::lock_guard db_lock(db_mu_);
    HPD_ASSIGN_OR_RETURN(
        store::Statement s,
        db_->Prepare(
            "SELECT id, webhook_id, event_sequence, event_id, attempt, outcome, "
            "http_status, error, duration_ms, time_ns FROM deliveries WHERE webhook_id = ? "
            "AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?"));
    s.Bind(1, id).Bind(2, before_id).Bind(3, before_id).Bind(4, static_cast<int64_t>(limit));
    std::vector<DeliveryRecord> records;
    for (;;) {
      HPD_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      DeliveryRecord r;
      r.id = s.Int(0);
      r.webhook_id = std::string(s.Text(1));
      r.event_sequence = s.Int(2);
      r.event_id = std::string(s.Text(3));
      r.attempt = static_cast<int>(s.Int(4));
      r.outcome = std::string(s.Text(5));
      r.http_status = static_cast<int>(s.Int(6));
      r.error = std::string(s.Text(7));
      r.duration_ms = s.Int(8);
      r.time = WallTime(Duration(s.Int(9)));
      records.push_back(std::move(r));
    }
    return records;
  }

  DeliveryStats Stats() const {
    return {delivered_.load(), failed_attempts_.load(), dead_lettered_.load()};
  }

 private:
  StatusOr<Webhook> Insert(const std::string& id, const WebhookSpec& spec, int64_t cursor,
                           const std::string& created_by) {
    {
      std::lock_guard db_lock(db_mu_);
      HPD_ASSIGN_OR_RETURN(store::Statement s,
                           db_->Prepare("INSERT INTO webhooks (id, spec, created_by, created_ns, "
                                        "cursor) VALUES (?, ?, ?, ?, ?)"));
      const std::string json = SpecJson(spec);
      s.Bind(1, id).Bind(2, json).Bind(3, created_by).Bind(4, Nanos(clock_.WallNow()));
      s.Bind(5, cursor);
      HPD_RETURN_IF_ERROR(s.Run());
    }
    {
      std::lock_guard lock(scheduler_->mu);
      HookState& hook = scheduler_->hooks[id];
      hook = HookState{};
      hook.incarnation = ++scheduler_->incarnations;
      hook.spec = spec;
      hook.cursor = cursor;
      if (scheduler_->started && !scheduler_->stopping) scheduler_->EnqueueLocked(id, hook);
    }
    return Get(id);
  }

  void CancelTimerLocked(HookState& hook) {
    if (hook.timer != TimerId::kInvalid) clock_.Cancel(hook.timer);
    hook.timer = TimerId::kInvalid;
    ++hook.timer_generation;
  }

  // Wakes the webhook at `when`. A timer that fires after a newer one was armed (or after
  // Ensure, Delete or Stop) does nothing.
  void ArmTimerLocked(const std::string& id, HookState& hook, WallTime when) {
    CancelTimerLocked(hook);
    hook.next_attempt = when;
    const uint64_t generation = hook.timer_generation;
    std::weak_ptr<Scheduler> weak = scheduler_;
    hook.timer = clock_.ScheduleAtWall(when, [weak, id, generation] {
      std::shared_ptr<Scheduler> scheduler = weak.lock();
      if (!scheduler) return;
      std::lock_guard lock(scheduler->mu);
      auto it = scheduler->hooks.find(id);
      if (scheduler->stopping || it == scheduler->hooks.end() ||
          it->second.timer_generation != generation) {
        return;
      }
      it->second.timer = TimerId::kInvalid;
      it->second.next_attempt.reset();
      scheduler->EnqueueLocked(id, it->second);
    });
  }

  void Work() {
    CURL* curl = curl_easy_init();
    std::unique_lock lock(scheduler_->mu);
    for (;;) {
      scheduler_->wake.wait(lock,
                            [this] { return scheduler_->stopping || !scheduler_->ready.empty(); });
      if (scheduler_->stopping) break;
      std::string id = std::move(scheduler_->ready.front());
      scheduler_->ready.pop_front();
      auto it = scheduler_->hooks.find(id);
      if (it == scheduler_->hooks.end()) continue;
      it->second.queued = false;
      it->second.running = true;
      const uint64_t incarnation = it->second.incarnation;
      lock.unlock();
      RunTurn(id, incarnation, curl);
      lock.lock();
    }
    lock.unlock();
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  // Delivers the webhook's events until it has none left, must wait for a backoff, or has had
  // kEventsPerTurn; then lets it go (queued again in the last case).
  void RunTurn(const std::string& id, uint64_t incarnation, CURL* curl) {
    for (int delivered_this_turn = 0;;) {
      WebhookSpec spec;
      int64_t cursor = 0;
      int head_attempts = 0;
      {
        std::lock_guard lock(scheduler_->mu);
        HookState* found = scheduler_->FindLocked(id, incarnation);
        if (found == nullptr) return;  // deleted
        HookState& hook = *found;
        if (scheduler_->stopping) {
          hook.running = false;
          return;
        }
        if (delivered_this_turn >= kEventsPerTurn) {
          hook.running = false;
          scheduler_->EnqueueLocked(id, hook);
          return;
        }
        if (hook.next_attempt && *hook.next_attempt > clock_.WallNow()) {
          ArmTimerLocked(id, hook, *hook.next_attempt);
          hook.running = false;
          return;
        }
        hook.recheck = false;
        spec = hook.spec;
        cursor = hook.cursor;
        head_attempts = hook.head_attempts;
      }

      store::EventFilter filter;
      filter.owner = spec.owner;
      filter.detail_types = spec.detail_types;
      int64_t scanned_to = cursor;
      StatusOr<std::vector<store::StoredEvent>> events = log_.Read(cursor, filter, 1, &scanned_to);
      if (!events.ok()) {
        // The log could not be read (busy, I/O): look again after the first backoff.
        std::lock_guard lock(scheduler_->mu);
        HookState* hook = scheduler_->FindLocked(id, incarnation);
        if (hook == nullptr) return;
        hook->running = false;
        if (!scheduler_->stopping) {
          ArmTimerLocked(id, *hook, clock_.WallNow() + options_.initial_backoff);
        }
        return;
      }
      if (events->empty()) {
        if (scanned_to > cursor) {
          // Events that this webhook does not want: skip past them for good.
          AdvancePast(id, incarnation, scanned_to);
          continue;
        }
        std::lock_guard lock(scheduler_->mu);
        HookState* hook = scheduler_->FindLocked(id, incarnation);
        if (hook == nullptr) return;
        if (hook->recheck && !scheduler_->stopping) continue;
        hook->running = false;
        return;
      }

      const store::StoredEvent& event = events->front();
      const int attempt = head_attempts + 1;
      AttemptResult result = Post(curl, spec, event, attempt);
      Record(id, incarnation, event, attempt, result, spec.retry_forever);
      ++delivered_this_turn;
    }
  }

  AttemptResult Post(CURL* curl, const WebhookSpec& spec, const store::StoredEvent& event,
                     int attempt) {
    AttemptResult result;
    if (curl == nullptr) {
      result.error = "curl_easy_init failed";
      return result;
    }
    curl_easy_reset(curl);
    const std::string timestamp = std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(clock_.WallNow().time_since_epoch())
            .count());
    HeaderList headers;
    headers.Add("Content-Type: application/json");
    headers.Add("User-Agent: hpdeploy-webhooks/1");
    headers.Add("X-Hpd-Event-Id: " + event.id);
    headers.Add("X-Hpd-Event-Sequence: " + std::to_string(event.sequence));
    headers.Add("X-Hpd-Delivery-Attempt: " + std::to_string(attempt));
    headers.Add("X-Hpd-Timestamp: " + timestamp);
    if (!spec.secret.empty()) {
      headers.Add("X-Hpd-Signature-256: " +
                  WebhookSignature(spec.secret, timestamp, event.envelope));
    }
    if (!spec.bearer_token.empty()) headers.Add("Authorization: Bearer " + spec.bearer_token);
    headers.Add("Expect:");

    std::string excerpt;
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, spec.url.c_str());
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, event.envelope.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(event.envelope.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, KeepExcerpt);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &excerpt);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);

    const MonotonicTime start = clock_.MonotonicNow();
    const CURLcode rc = curl_easy_perform(curl);
    result.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.MonotonicNow() - start)
            .count();
    long http_status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
    // The handle must not keep pointers into this frame.
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);

    result.http_status = static_cast<int>(http_status);
    if (rc != CURLE_OK) {
      result.error = std::string(curl_easy_strerror(rc)) +
                     (error_buffer[0] != '\0' ? ": " + std::string(error_buffer) : "");
    } else if (http_status >= 200 && http_status < 300) {
      result.delivered = true;
    } else {
      result.error =
          "HTTP " + std::to_string(http_status) + (excerpt.empty() ? "" : ": " + excerpt);
    }
    return result;
  }

  // Full jitter: uniform in [0, min(max_backoff, initial_backoff * 2^(failures - 1))].
  Duration Backoff(int failures) {
    int64_t cap = options_.initial_backoff.count();
    for (int i = 1; i < failures && cap < options_.max_backoff.count(); ++i) cap *= 2;
    cap = std::min<int64_t>(cap, options_.max_backoff.count());
    if (cap <= 0) return Duration(0);
    return std::chrono::milliseconds(
        static_cast<int64_t>(random_.Uniform(static_cast<uint64_t>(cap) + 1)));
  }

  // Persists an attempt's outcome and the webhook's new position, in one transaction, then moves
  // the scheduler's copy along.
  void Record(const std::string& id, uint64_t incarnation, const store::StoredEvent& event,
              int attempt, const AttemptResult& result, bool retry_forever) {
    const WallTime now = clock_.WallNow();
    std::string outcome = "delivered";
    int64_t cursor = event.sequence;
    int head_attempts = 0;
    std::optional<WallTime> next_attempt;
    if (!result.delivered) {
      if (attempt >= options_.max_attempts && !retry_forever) {
        outcome = "dead_letter";
      } else {
        outcome = "failed";
        cursor = event.sequence - 1;
        head_attempts = attempt;
        next_attempt = now + Backoff(attempt);
      }
    }
    // Counted first, so a reader who sees the new position also sees the counts.
    if (result.delivered) {
      ++delivered_;
    } else {
      ++failed_attempts_;
      if (outcome == "dead_letter") ++dead_lettered_;
    }
    {
      std::lock_guard db_lock(db_mu_);
      Status written = db_->InTransaction([&]() -> Status {
        HPD_ASSIGN_OR_RETURN(
            store::Statement u,
            db_->Prepare("UPDATE webhooks SET cursor = max(cursor, ?), head_attempts = ?, "
                         "next_attempt_ns = ?, delivered = delivered + ?, "
                         "dead_lettered = dead_lettered + ?, failed_attempts = failed_attempts + ?,"
                         " last_error = ? WHERE id = ?"));
        u.Bind(1, cursor).Bind(2, static_cast<int64_t>(head_attempts));
        if (next_attempt) {
          u.Bind(3, Nanos(*next_attempt));
        } else {
          u.BindNull(3);
        }
        u.Bind(4, int64_t{result.delivered ? 1 : 0});
        u.Bind(5, int64_t{outcome == "dead_letter" ? 1 : 0});
        u.Bind(6, int64_t{result.delivered ? 0 : 1});
        u.Bind(7, result.error).Bind(8, id);
        HPD_RETURN_IF_ERROR(u.Run());
        if (db_->Changes() == 0) return Status::Ok();  // deleted meanwhile
        HPD_ASSIGN_OR_RETURN(
            store::Statement i,
            db_->Prepare("INSERT INTO deliveries (webhook_id, event_sequence, event_id, attempt, "
                         "outcome, http_status, error, duration_ms, time_ns) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        i.Bind(1, id).Bind(2, event.sequence).Bind(3, event.id);
        i.Bind(4, static_cast<int64_t>(attempt)).Bind(5, outcome);
        i.Bind(6, static_cast<int64_t>(result.http_status)).Bind(7, result.error);
        i.Bind(8, result.duration_ms).Bind(9, Nanos(now));
        HPD_RETURN_IF_ERROR(i.Run());
        const int64_t record_id = db_->LastInsertRowId();
        if (record_id % kPruneEvery != 0) return Status::Ok();
        // Keeps the newest kKeptDeliveries: deletes from the one after them down.
        HPD_ASSIGN_OR_RETURN(
            store::Statement p,
            db_->Prepare("DELETE FROM deliveries WHERE webhook_id = ? AND id <= (SELECT id FROM "
                         "deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"));
        p.Bind(1, id).Bind(2, id).Bind(3, kKeptDeliveries);
        return p.Run();
      });
      // A write that failed (disk full) is not retried here: the scheduler still moves on, and
      // the next write that succeeds records the position; at worst an event is delivered again
      // after a restart, which at-least-once allows.
      written.IgnoreError();
    }
    std::lock_guard lock(scheduler_->mu);
    HookState* hook = scheduler_->FindLocked(id, incarnation);
    if (hook == nullptr) return;
    hook->cursor = std::max(hook->cursor, cursor);
    hook->head_attempts = head_attempts;
    hook->next_attempt = next_attempt;
  }

  void AdvancePast(const std::string& id, uint64_t incarnation, int64_t sequence) {
    {
      std::lock_guard db_lock(db_mu_);
      StatusOr<store::Statement> s = db_->Prepare(
          "UPDATE webhooks SET cursor = ?, head_attempts = 0, next_attempt_ns = NULL "
          "WHERE id = ? AND cursor < ?");
      if (s.ok()) {
        s->Bind(1, sequence).Bind(2, id).Bind(3, sequence);
        s->Run().IgnoreError();  // as in Record: the position is written again later
      }
    }
    std::lock_guard lock(scheduler_->mu);
    HookState* hook = scheduler_->FindLocked(id, incarnation);
    if (hook == nullptr) return;
    if (sequence > hook->cursor) {
      hook->cursor = sequence;
      hook->head_attempts = 0;
    }
  }

  // Constant after construction.
  mutable std::mutex db_mu_;
  std::unique_ptr<store::Database> db_;  // guarded by db_mu_
  store::EventLog& log_;
  Clock& clock_;
  const EventDeliveryOptions options_;
  const std::shared_ptr<Scheduler> scheduler_;

  SystemRandom random_;  // thread-safe
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_attempts_{0};
  std::atomic<int64_t> dead_lettered_{0};

  std::mutex start_mu_;               // serializes Start and Stop
  bool subscribed_ = false;           // guarded by start_mu_
  uint64_t subscription_ = 0;         // guarded by start_mu_
  std::vector<std::thread> workers_;  // guarded by start_mu_
};

StatusOr<std::unique_ptr<EventDelivery>> EventDelivery::Open(const std::filesystem::path& file,
                                                             store::EventLog& log, Clock& clock,
                                                             EventDeliveryOptions options) {
  GlobalInitOnce();
  if (options.max_attempts < 1) return InvalidArgumentError("max_attempts must be at least 1");
  std::error_code error;
  const bool existed = std::filesystem::exists(file, error);
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                       store::Database::Open(file, store::Database::Mode::kReadWrite));
  HPD_RETURN_IF_ERROR(db->Execute(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS webhooks ("
      "  id TEXT PRIMARY KEY NOT NULL, spec TEXT NOT NULL, created_by TEXT NOT NULL,"
      "  created_ns INTEGER NOT NULL, cursor INTEGER NOT NULL,"
      "  head_attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ns INTEGER,"
      "  delivered INTEGER NOT NULL DEFAULT 0, dead_lettered INTEGER NOT NULL DEFAULT 0,"
      "  failed_attempts INTEGER NOT NULL DEFAULT 0,"
      "  last_error TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE IF NOT EXISTS deliveries ("
      "  id INTEGER PRIMARY KEY AUTOINCREMENT, webhook_id TEXT NOT NULL,"
      "  event_sequence INTEGER NOT NULL, event_id TEXT NOT NULL,"
      "  attempt INTEGER NOT NULL, outcome TEXT NOT NULL,"
      "  http_status INTEGER NOT NULL, error TEXT NOT NULL,"
      "  duration_ms INTEGER NOT NULL, time_ns INTEGER NOT NULL);"
      "CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON deliveries (webhook_id, id);"
      "PRAGMA user_version = 1;"));
  if (!existed) {
    // The webhooks' secrets and bearer tokens are in here.
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, error);
  }
  auto impl = std::make_unique<Impl>(std::move(db), log, clock, options);
  HPD_RETURN_IF_ERROR(impl->Load());
  return std::unique_ptr<EventDelivery>(new EventDelivery(std::move(impl)));
}

EventDelivery::EventDelivery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventDelivery::~EventDelivery() = default;

Status EventDelivery::Start() { return impl_->Start(); }
void EventDelivery::Stop() { impl_->Stop(); }

StatusOr<Webhook> EventDelivery::Create(const WebhookSpec& spec, const std::string& created_by) {
  return impl_->Create(spec, created_by);
}

StatusOr<Webhook> EventDelivery::Ensure(const std::string& id, const WebhookSpec& spec,
                                        int64_t start_after, const std::string& created_by) {
  return impl_->Ensure(id, spec, start_after, created_by);
}

StatusOr<std::vector<Webhook>> EventDelivery::List() const { return impl_->List(); }
StatusOr<Webhook> EventDelivery::Get(const std::string& id) const { return impl_->Get(id); }
Status EventDelivery::Delete(const std::string& id) { return impl_->Delete(id); }

StatusOr<std::vector<DeliveryRecord>> EventDelivery::Deliveries(const std::string& id,
                                                                int64_t before_id,
                                                                size_t limit) const {
  return impl_->Deliveries(id, before_id, limit);
}

DeliveryStats EventDelivery::Stats() const { return impl_->Stats(); }

std::string WebhookSignature(std::string_view secret, std::string_view timestamp,
                             std::string_view body) {
  std::string message;
  message.reserve(timestamp.size() + 1 + body.size());
  message.append(timestamp).append(".").append(body);
  return "sha256=" + HexEncode(HmacSha256(secret, message));
}

}  // namespace hpd::server
