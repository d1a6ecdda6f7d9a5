#include "server/event_delivery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status_matchers.h"
#include "server/http_server.h"
#include "store/event_log.h"
#include "support/scratch_dir.h"

namespace hpd::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr auto kWaitLimit = std::chrono::seconds(30);

// Polls `done` until it holds or kWaitLimit passes (a limit against hangs, not a timing claim).
bool WaitUntil(const std::function<bool()>& done) {
  const auto limit = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > limit) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// WebhookSpec{.url = ...} without the warning for the members left out.
struct Spec {
  explicit Spec(std::string url) { spec.url = std::move(url); }
  Spec& Secret(std::string v) { return spec.secret = std::move(v), *this; }
  Spec& BearerToken(std::string v) { return spec.bearer_token = std::move(v), *this; }
  Spec& Description(std::string v) { return spec.description = std::move(v), *this; }
  Spec& DetailTypes(std::vector<std::string> v) { return spec.detail_types = std::move(v), *this; }
  Spec& Owner(std::string v) { return spec.owner = std::move(v), *this; }
  Spec& RetryForever() { return spec.retry_forever = true, *this; }
  operator WebhookSpec() const { return spec; }  // NOLINT
  WebhookSpec spec;
};

struct Received {
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int answered = 0;  // the status the receiver answered

  std::string Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return "";
  }
  int64_t Sequence() const { return std::stoll(Header("x-hpd-event-sequence")); }
};

// A webhook receiver on loopback that records every POST and answers with `status`.
class Receiver {
 public:
  explicit Receiver(uint16_t port = 0) { Listen(port); }
  ~Receiver() { Close(); }

  void Listen(uint16_t port) {
    HttpServerOptions options;
    options.port = port;
    StatusOr<std::unique_ptr<HttpServer>> started =
        HttpServer::Start(options, [this](HttpRequest request, HttpResponder respond) {
          const int status = status_.load();
          {
            std::lock_guard lock(mu_);
            received_.push_back({std::move(request.body), std::move(request.headers), status});
          }
          HttpResponse response;
          response.status = status;
          response.body = status < 300 ? "" : "receiver says no";
          respond(std::move(response));
        });
    ASSERT_TRUE(started.ok()) << started.status();
    server_ = std::move(*started);
    port_ = server_->port();
  }

  void Close() {
    if (server_) server_->Shutdown(std::chrono::milliseconds(0));
    server_.reset();
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  uint16_t port() const { return port_; }
  void Answer(int status) { status_ = status; }

  std::vector<Received> All() {
    std::lock_guard lock(mu_);
    return received_;
  }
  // The sequences of the events answered with a 2xx, in arrival order.
  std::vector<int64_t> Delivered() {
    std::vector<int64_t> sequences;
    for (const Received& r : All()) {
      if (r.answered < 300) sequences.push_back(r.Sequence());
    }
    return sequences;
  }

 private:
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::atomic<int> status_{200};
  std::mutex mu_;
  std::vector<Received> received_;  // guarded by mu_
};

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> values;
  for (int64_t v = first; v <= last; ++v) values.push_back(v);
  return values;
}

class EventDeliveryTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    StatusOr<std::unique_ptr<store::EventLog>> log = store::EventLog::Open(dir_ / "events.db");
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    options_.max_attempts = 4;
    options_.initial_backoff = std::chrono::milliseconds(5);
    options_.max_backoff = std::chrono::milliseconds(20);
    options_.timeout = std::chrono::milliseconds(5000);
  }

  void TearDown() override {
    delivery_.reset();
    log_.reset();
    ScratchDirTest::TearDown();
  }

  void OpenDelivery(bool start = true) {
    StatusOr<std::unique_ptr<EventDelivery>> opened =
        EventDelivery::Open(dir_ / EventDelivery::kFileName, *log_, clock_, options_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    delivery_ = std::move(*opened);
    if (start) {
      ASSERT_TRUE(delivery_->Start().ok());
    }
  }

  // Appends one event per detail-type/owner pair; returns the last sequence.
  int64_t Append(int count,
                 const std::string& detail_type = "Step Functions Execution Status Change",
                 const std::string& owner = "alice") {
    std::vector<boost::json::object> envelopes;
    for (int i = 0; i < count; ++i) {
      boost::json::object detail;
      detail["owner"] = owner;
      detail["n"] = next_event_;
      boost::json::object e;
      e["version"] = "0";
      e["id"] = "event-" + std::to_string(next_event_++);
      e["detail-type"] = detail_type;
      e["source"] = "hpdeploy.states";
      e["account"] = "000000000000";
      e["time"] = "2026-01-01T00:00:00Z";
      e["region"] = "us-east-1";
      e["resources"] = boost::json::array{"arn:aws:states:us-east-1:000000000000:execution:sm:x"};
      e["detail"] = std::move(detail);
      envelopes.push_back(std::move(e));
    }
    StatusOr<store::AppendResult> appended = log_->Append(envelopes);
    EXPECT_TRUE(appended.ok()) << appended.status();
    return appended.ok() ? appended->last_sequence : 0;
  }

  Webhook Create(WebhookSpec spec) {
    StatusOr<Webhook> created = delivery_->Create(spec, "tester");
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : Webhook{};
  }

  Webhook MustGet(const std::string& id) {
    StatusOr<Webhook> got = delivery_->Get(id);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : Webhook{};
  }

  std::vector<DeliveryRecord> Log(const std::string& id) {
    StatusOr<std::vector<DeliveryRecord>> records = delivery_->Deliveries(id, 0, 1000);
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<DeliveryRecord>{};
  }

  SystemClock clock_;
  EventDeliveryOptions options_;
  std::unique_ptr<store::EventLog> log_;
  std::unique_ptr<EventDelivery> delivery_;
  int next_event_ = 1;
};

TEST(WebhookSignatureTest, IsHexHmacOfTimestampDotBody) {
  // printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac "It's a secret"
  EXPECT_EQ(WebhookSignature("It's a secret", "1700000000", R"({"a":1})"),
            "sha256=063c01779d2db19173363fe63eef90a220a70862d2f4742cbb8b449a2c73c877");
}

TEST_F(EventDeliveryTest, PostsTheEnvelopeWithSignedHeaders) {
  Receiver receiver;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()).Secret("s3cret").BearerToken("tok-1"));
  EXPECT_THAT(hook.id, StartsWith("wh-"));
  EXPECT_EQ(hook.id.size(), 3u + 16u);
  EXPECT_TRUE(hook.has_secret);
  Append(3);
  ASSERT_TRUE(WaitUntil([&] { return receiver.All().size() == 3; }));

  const std::vector<Received> all = receiver.All();
  for (size_t i = 0; i < all.size(); ++i) {
    const Received& r = all[i];
    StatusOr<std::optional<store::StoredEvent>> event =
        log_->FindById("event-" + std::to_string(i + 1));
    ASSERT_TRUE(event.ok() && event->has_value());
    EXPECT_EQ(r.body, (*event)->envelope);
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_EQ(r.Header("user-agent"), "hpdeploy-webhooks/1");
    EXPECT_EQ(r.Header("x-hpd-event-id"), "event-" + std::to_string(i + 1));
    EXPECT_EQ(r.Header("x-hpd-event-sequence"), std::to_string(i + 1));
    EXPECT_EQ(r.Header("x-hpd-delivery-attempt"), "1");
    EXPECT_EQ(r.Header("authorization"), "Bearer tok-1");
    const std::string timestamp = r.Header("x-hpd-timestamp");
    ASSERT_FALSE(timestamp.empty());
    EXPECT_NEAR(static_cast<double>(std::stoll(timestamp)),
                static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                        clock_.WallNow().time_since_epoch())
                                        .count()),
                600.0);
    EXPECT_EQ(r.Header("x-hpd-signature-256"), WebhookSignature("s3cret", timestamp, r.body));
    EXPECT_NE(r.Header("x-hpd-signature-256"), WebhookSignature("other", timestamp, r.body));
  }
}

TEST_F(EventDeliveryTest, UnsignedWebhookSendsNoSignatureOrAuthorization) {
  Receiver receiver;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  EXPECT_FALSE(hook.has_secret);
  Append(1);
  ASSERT_TRUE(WaitUntil([&] { return receiver.All().size() == 1; }));
  EXPECT_EQ(receiver.All()[0].Header("x-hpd-signature-256"), "");
  EXPECT_EQ(receiver.All()[0].Header("authorization"), "");
}

TEST_F(EventDeliveryTest, DeliversOnlyEventsAppendedAfterCreate) {
  Receiver receiver;
  OpenDelivery();
  Append(2);
  Webhook hook = Create(Spec(receiver.Url()));
  EXPECT_EQ(hook.cursor, 2);
  Append(1);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 3; }));
  EXPECT_EQ(receiver.Delivered(), std::vector<int64_t>{3});
}

TEST_F(EventDeliveryTest, EachWebhookReceivesEveryEventInOrder) {
  Receiver a;
  Receiver b;
  options_.threads = 2;
  OpenDelivery();
  Webhook hook_a = Create(Spec(a.Url()));
  Webhook hook_b = Create(Spec(b.Url()));
  // In several appends, so wake-ups arrive while deliveries are in flight.
  for (int i = 0; i < 10; ++i) Append(10);
  ASSERT_TRUE(WaitUntil(
      [&] { return MustGet(hook_a.id).cursor == 100 && MustGet(hook_b.id).cursor == 100; }));
  EXPECT_EQ(a.Delivered(), Range(1, 100));
  EXPECT_EQ(b.Delivered(), Range(1, 100));
  EXPECT_EQ(MustGet(hook_a.id).delivered, 100);
  EXPECT_EQ(delivery_->Stats().delivered, 200);
}

TEST_F(EventDeliveryTest, ReceiverAnswering503ThenUpGetsEverythingInOrder) {
  Receiver receiver;
  receiver.Answer(503);
  options_.max_attempts = 1000;  // never dead-letter here
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(5);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).failed_attempts >= 3; }));
  // Only the first event is tried while the receiver fails: one at a time, in order.
  for (const Received& r : receiver.All()) EXPECT_EQ(r.Sequence(), 1);
  Webhook failing = MustGet(hook.id);
  EXPECT_EQ(failing.cursor, 0);
  EXPECT_THAT(failing.last_error, HasSubstr("HTTP 503"));
  EXPECT_GE(failing.failed_attempts, 3);

  receiver.Answer(200);
  ASSERT_TRUE(WaitUntil([&] { return receiver.Delivered().size() >= 5; }));
  EXPECT_EQ(receiver.Delivered(), Range(1, 5));
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 5; }));
  Webhook healed = MustGet(hook.id);
  EXPECT_EQ(healed.last_error, "");
  EXPECT_EQ(healed.delivered, 5);
  EXPECT_EQ(healed.dead_lettered, 0);

  // The attempts of the first event count up; the others went through at once.
  const std::vector<Received> all = receiver.All();
  int expected_attempt = 1;
  for (const Received& r : all) {
    if (r.Sequence() != 1) {
      EXPECT_EQ(r.Header("x-hpd-delivery-attempt"), "1");
      continue;
    }
    EXPECT_EQ(r.Header("x-hpd-delivery-attempt"), std::to_string(expected_attempt++));
  }
}

TEST_F(EventDeliveryTest, ClosedPortThenListeningGetsEverythingInOrder) {
  Receiver receiver;
  const uint16_t port = receiver.port();
  receiver.Close();
  options_.max_attempts = 1000;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(4);
  ASSERT_TRUE(WaitUntil([&] { return Log(hook.id).size() >= 2; }));
  const DeliveryRecord refused = Log(hook.id).back();
  EXPECT_EQ(refused.outcome, "failed");
  EXPECT_EQ(refused.http_status, 0);
  EXPECT_EQ(refused.event_sequence, 1);
  EXPECT_THAT(refused.error, HasSubstr("onnect"));

  receiver.Listen(port);
  ASSERT_TRUE(WaitUntil([&] { return receiver.Delivered().size() >= 4; }));
  EXPECT_EQ(receiver.Delivered(), Range(1, 4));
  EXPECT_EQ(receiver.All().size(), 4u);
}

TEST_F(EventDeliveryTest, DeadLettersAfterMaxAttemptsAndMovesOn) {
  Receiver receiver;
  receiver.Answer(500);
  options_.max_attempts = 3;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(2);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).dead_lettered == 2; }));
  Webhook dead = MustGet(hook.id);
  EXPECT_EQ(dead.cursor, 2);
  EXPECT_EQ(dead.failed_attempts, 6);
  EXPECT_EQ(dead.delivered, 0);
  EXPECT_THAT(dead.last_error, HasSubstr("HTTP 500: receiver says no"));

  std::vector<std::string> outcomes;
  for (const DeliveryRecord& r : Log(hook.id)) {
    outcomes.push_back(std::to_string(r.event_sequence) + "/" + std::to_string(r.attempt) + " " +
                       r.outcome);
    EXPECT_EQ(r.http_status, 500);
    EXPECT_EQ(r.webhook_id, hook.id);
  }
  EXPECT_THAT(outcomes, ElementsAre("2/3 dead_letter", "2/2 failed", "2/1 failed",
                                    "1/3 dead_letter", "1/2 failed", "1/1 failed"));
  EXPECT_EQ(receiver.All().size(), 6u);

  receiver.Answer(204);
  Append(1);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 3; }));
  EXPECT_EQ(receiver.Delivered(), std::vector<int64_t>{3});
  EXPECT_EQ(Log(hook.id).front().outcome, "delivered");
  EXPECT_EQ(delivery_->Stats().dead_lettered, 2);
  EXPECT_EQ(delivery_->Stats().failed_attempts, 6);
}

TEST_F(EventDeliveryTest, ARetryForeverWebhookOutlastsMaxAttemptsAcrossAReopen) {
  Receiver receiver;
  receiver.Answer(500);
  options_.max_attempts = 2;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()).RetryForever());
  Append(3);
  ASSERT_TRUE(WaitUntil([&] { return receiver.All().size() >= 5; }));
  EXPECT_EQ(MustGet(hook.id).dead_lettered, 0);
  EXPECT_EQ(MustGet(hook.id).cursor, 0);
  delivery_.reset();
  OpenDelivery();  // the flag is the webhook's, kept with it
  ASSERT_TRUE(WaitUntil([&] { return receiver.All().size() >= 7; }));
  EXPECT_EQ(MustGet(hook.id).cursor, 0);
  receiver.Answer(200);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 3; }));
  EXPECT_EQ(receiver.Delivered(), Range(1, 3));
  const Webhook done = MustGet(hook.id);
  EXPECT_EQ(done.dead_lettered, 0);
  EXPECT_GE(done.failed_attempts, 7);
  for (const DeliveryRecord& r : Log(hook.id)) EXPECT_NE(r.outcome, "dead_letter");
  // The head event's attempt count goes on past max_attempts, and across the reopen.
  std::vector<int> attempts;
  for (const Received& r : receiver.All()) {
    if (r.Sequence() == 1) attempts.push_back(std::stoi(r.Header("x-hpd-delivery-attempt")));
  }
  ASSERT_GE(attempts.size(), 8u);
  for (size_t i = 0; i < attempts.size(); ++i) EXPECT_EQ(attempts[i], static_cast<int>(i + 1));
}

TEST_F(EventDeliveryTest, RestartDuringBackoffLosesNothing) {
  Receiver receiver;
  receiver.Answer(503);
  options_.max_attempts = 1000;
  options_.initial_backoff = std::chrono::milliseconds(300);
  options_.max_backoff = std::chrono::milliseconds(300);
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(3);
  ASSERT_TRUE(WaitUntil([&] { return !Log(hook.id).empty(); }));
  delivery_.reset();  // most likely waiting out a backoff now
  const size_t attempts_before = receiver.All().size();
  ASSERT_GE(attempts_before, 1u);

  receiver.Answer(200);
  Append(2);  // while nothing delivers
  OpenDelivery();
  Webhook reopened = MustGet(hook.id);
  EXPECT_EQ(reopened.cursor, 0);
  EXPECT_EQ(reopened.failed_attempts, static_cast<int64_t>(attempts_before));
  ASSERT_TRUE(WaitUntil([&] { return receiver.Delivered().size() >= 5; }));
  EXPECT_EQ(receiver.Delivered(), Range(1, 5));
  // The first event's attempt count went on from where it was.
  const std::vector<Received> all = receiver.All();
  EXPECT_EQ(all[attempts_before].Sequence(), 1);
  EXPECT_EQ(all[attempts_before].Header("x-hpd-delivery-attempt"),
            std::to_string(attempts_before + 1));
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 5; }));
}

TEST_F(EventDeliveryTest, RestartAfterDeliveryDoesNotRepeat) {
  Receiver receiver;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(3);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 3; }));
  delivery_.reset();
  Append(2);
  OpenDelivery();
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 5; }));
  EXPECT_EQ(receiver.Delivered(), Range(1, 5));
  EXPECT_EQ(receiver.All().size(), 5u);
}

TEST_F(EventDeliveryTest, FiltersByOwnerAndDetailType) {
  Receiver by_owner;
  Receiver by_type;
  OpenDelivery();
  Webhook owner_hook = Create(Spec(by_owner.Url()).Owner("bob"));
  Webhook type_hook = Create(
      Spec(by_type.Url()).DetailTypes(std::vector<std::string>{"Deploy Done", "Deploy Failed"}));
  Append(1, "Deploy Started", "bob");    // 1: owner
  Append(1, "Deploy Done", "alice");     // 2: type
  Append(1, "Deploy Started", "alice");  // 3: neither
  Append(1, "Deploy Failed", "bob");     // 4: both
  Append(1, "Log Line", "carol");        // 5: neither
  Append(1, "Deploy Done", "bob");       // 6: both, the last
  ASSERT_TRUE(WaitUntil(
      [&] { return MustGet(owner_hook.id).cursor >= 6 && MustGet(type_hook.id).cursor >= 6; }));
  EXPECT_EQ(by_owner.Delivered(), (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(by_type.Delivered(), (std::vector<int64_t>{2, 4, 6}));
  // Events a webhook does not want still move its position.
  Append(30, "Log Line", "carol");
  ASSERT_TRUE(WaitUntil([&] { return MustGet(owner_hook.id).cursor == 36; }));
  EXPECT_EQ(by_owner.All().size(), 3u);
}

TEST_F(EventDeliveryTest, EnsureCreatesFromStartAfterAndLaterKeepsPosition) {
  Receiver receiver;
  Append(4);
  OpenDelivery(/*start=*/false);
  StatusOr<Webhook> ensured =
      delivery_->Ensure("forward", Spec(receiver.Url()).Description("v1"), 1, "serve");
  ASSERT_TRUE(ensured.ok()) << ensured.status();
  EXPECT_EQ(ensured->id, "forward");
  EXPECT_EQ(ensured->cursor, 1);
  ASSERT_TRUE(delivery_->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return MustGet("forward").cursor == 4; }));
  EXPECT_EQ(receiver.Delivered(), Range(2, 4));

  delivery_.reset();
  Append(2);
  OpenDelivery();
  ensured = delivery_->Ensure("forward", Spec(receiver.Url()).Description("v2"), 0, "other");
  ASSERT_TRUE(ensured.ok()) << ensured.status();
  EXPECT_EQ(ensured->description, "v2");
  EXPECT_EQ(ensured->created_by, "serve");
  EXPECT_GE(ensured->cursor, 4);
  ASSERT_TRUE(WaitUntil([&] { return MustGet("forward").cursor == 6; }));
  EXPECT_EQ(receiver.Delivered(), Range(2, 6));
  EXPECT_EQ(receiver.All().size(), 5u);
}

TEST_F(EventDeliveryTest, EnsureWithANewUrlRetriesAtOnce) {
  Receiver broken;
  broken.Answer(503);
  Receiver fixed;
  options_.max_attempts = 1000;
  options_.initial_backoff = std::chrono::hours(1);
  options_.max_backoff = std::chrono::hours(1);
  OpenDelivery();
  ASSERT_TRUE(delivery_->Ensure("fwd", Spec(broken.Url()), 0, "serve").ok());
  Append(2);
  ASSERT_TRUE(WaitUntil([&] { return MustGet("fwd").failed_attempts >= 1; }));
  // The backoff would be up to an hour; a changed spec does not wait for it.
  ASSERT_TRUE(delivery_->Ensure("fwd", Spec(fixed.Url()), 0, "serve").ok());
  ASSERT_TRUE(WaitUntil([&] { return fixed.Delivered().size() >= 2; }));
  EXPECT_EQ(fixed.Delivered(), Range(1, 2));
}

TEST_F(EventDeliveryTest, StopDoesNotWaitForBackoffs) {
  Receiver receiver;
  receiver.Answer(503);
  options_.max_attempts = 1000;
  options_.initial_backoff = std::chrono::hours(1);
  options_.max_backoff = std::chrono::hours(1);
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(1);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).failed_attempts >= 1; }));
  // A Stop that waited out the backoff would hang here for up to an hour (the test's limit).
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    delivery_->Stop();
    stopped = true;
  });
  EXPECT_TRUE(WaitUntil([&] { return stopped.load(); }));
  stopper.join();
  EXPECT_THAT(delivery_->Start(), StatusIs(StatusCode::kFailedPrecondition));
}

TEST_F(EventDeliveryTest, DeliveryLogPagesNewestFirst) {
  Receiver receiver;
  OpenDelivery();
  Webhook hook = Create(Spec(receiver.Url()));
  Append(5);
  ASSERT_TRUE(WaitUntil([&] { return MustGet(hook.id).cursor == 5; }));
  StatusOr<std::vector<DeliveryRecord>> page = delivery_->Deliveries(hook.id, 0, 2);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].event_sequence, 5);
  EXPECT_EQ((*page)[1].event_sequence, 4);
  EXPECT_EQ((*page)[0].event_id, "event-5");
  EXPECT_EQ((*page)[0].outcome, "delivered");
  EXPECT_EQ((*page)[0].http_status, 200);
  EXPECT_EQ((*page)[0].attempt, 1);
  EXPECT_EQ((*page)[0].error, "");
  EXPECT_GT((*page)[0].time.time_since_epoch().count(), 0);
  StatusOr<std::vector<DeliveryRecord>> next = delivery_->Deliveries(hook.id, (*page)[1].id, 10);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(next->size(), 3u);
  EXPECT_EQ((*next)[0].event_sequence, 3);
  EXPECT_EQ((*next)[2].event_sequence, 1);

  EXPECT_THAT(delivery_->Deliveries("wh-nope", 0, 10), StatusIs(StatusCode::kNotFound));
}

TEST_F(EventDeliveryTest, GetListDelete) {
  Receiver receiver;
  OpenDelivery(/*start=*/false);
  Webhook a = Create(Spec(receiver.Url()).Description("first").Owner("alice"));
  Webhook b = Create(Spec(receiver.Url()).DetailTypes(std::vector<std::string>{"X"}));
  EXPECT_EQ(a.created_by, "tester");
  EXPECT_GT(a.created_at.time_since_epoch().count(), 0);
  StatusOr<std::vector<Webhook>> all = delivery_->List();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(MustGet(a.id).description, "first");
  EXPECT_EQ(MustGet(a.id).owner, "alice");
  EXPECT_EQ(MustGet(b.id).detail_types, std::vector<std::string>{"X"});

  ASSERT_TRUE(delivery_->Delete(a.id).ok());
  StatusOr<Webhook> gone = delivery_->Get(a.id);
  EXPECT_THAT(gone, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(gone.status().error_name(), "WebhookNotFound");
  EXPECT_THAT(delivery_->Delete(a.id), StatusIs(StatusCode::kNotFound));
  ASSERT_EQ(delivery_->List()->size(), 1u);

  // Deleted webhooks get nothing more.
  ASSERT_TRUE(delivery_->Start().ok());
  Append(1, "X");
  ASSERT_TRUE(WaitUntil([&] { return MustGet(b.id).cursor == 1; }));
  EXPECT_EQ(receiver.All().size(), 1u);
}

TEST_F(EventDeliveryTest, RefusesBadSpecsNamingTheField) {
  OpenDelivery(/*start=*/false);
  auto refused = [&](WebhookSpec spec, const std::string& field) {
    StatusOr<Webhook> created = delivery_->Create(spec, "tester");
    EXPECT_THAT(created, StatusIs(StatusCode::kInvalidArgument, HasSubstr(field))) << spec.url;
    EXPECT_EQ(created.status().error_name(), "ValidationException");
  };
  refused(Spec(""), "url");
  refused(Spec("ftp://example.com/x"), "url");
  refused(Spec("http://"), "url");
  refused(Spec("http:///path"), "url");
  refused(Spec("http://exa mple.com/"), "url");
  refused(Spec("http://example.com/\r\nX-Evil: 1"), "url");
  refused(Spec("http://example.com/" + std::string(2100, 'a')), "url");
  refused(Spec("https://example.com/").Description(std::string(257, 'd')), "description");
  refused(Spec("https://example.com/").DetailTypes(std::vector<std::string>{""}), "detailTypes");
  refused(Spec("https://example.com/").DetailTypes(std::vector<std::string>{std::string(129, 't')}),
          "detailTypes");
  refused(Spec("https://example.com/").BearerToken("a\r\nb"), "bearerToken");
  EXPECT_TRUE(delivery_
                  ->Create(Spec("https://example.com:8443/hooks?x=1")
                               .Description(std::string(256, 'd'))
                               .DetailTypes(std::vector<std::string>{std::string(128, 't')}),
                           "tester")
                  .ok());
  EXPECT_THAT(delivery_->Ensure("", Spec("https://example.com/"), 0, "x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("id")));
}

}  // namespace
}  // namespace hpd::server
