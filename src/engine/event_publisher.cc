#include "engine/event_publisher.h"

#include <algorithm>
#include <boost/json/value.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>

#include "common/digest.h"
#include "common/json.h"
#include "common/rfc3339.h"
#include "common/utf8.h"
#include "engine/container_runner.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
using asl::HistoryEvent;
using asl::HistoryEventType;

constexpr char kStatusChange[] = "Step Functions Execution Status Change";
constexpr size_t kMaxLinesPerEvent = 200;
constexpr size_t kMaxCauseBytes = 4096;
// Envelopes per EventLog::Append: a long history is appended in several transactions, each with
// the cursor it reached, so a crash midway loses no more than one of them.
constexpr size_t kMaxEnvelopesPerAppend = 512;
// Log streams whose owner the publisher remembers (each lookup opens tasks.db).
constexpr size_t kMaxRememberedStreams = 4096;
// How far back a StateExited looks for its StateEntered along previousEventId.
constexpr int kMaxChainSteps = 100000;

std::string HistoryCursor(const std::string& arn) { return "history:" + arn; }
std::string CallsCursor(const std::string& arn) { return "calls:" + arn; }
// Log group names have no ':' (CloudWatch's pattern), so the name is unambiguous.
std::string LogCursor(const std::string& group, const std::string& stream) {
  return "logs:" + group + ":" + stream;
}

int64_t EpochMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// EventBridge's "time": whole seconds, UTC.
std::string EnvelopeTime(WallTime t) {
  return FormatRfc3339(std::chrono::floor<std::chrono::seconds>(t));
}

bool EndsWith(std::string_view text, std::string_view suffix) { return text.ends_with(suffix); }

bool IsStateEntered(HistoryEventType type) {
  return EndsWith(asl::HistoryEventTypeName(type), "StateEntered");
}
bool IsStateExited(HistoryEventType type) {
  return EndsWith(asl::HistoryEventTypeName(type), "StateExited");
}

// A failed attempt of a task (a Retry may still recover it).
bool IsTaskFailure(HistoryEventType type) {
  switch (type) {
    case HistoryEventType::kTaskFailed:
    case HistoryEventType::kTaskTimedOut:
    case HistoryEventType::kTaskStartFailed:
    case HistoryEventType::kTaskSubmitFailed:
    case HistoryEventType::kLambdaFunctionFailed:
    case HistoryEventType::kLambdaFunctionTimedOut:
    case HistoryEventType::kLambdaFunctionStartFailed:
    case HistoryEventType::kLambdaFunctionScheduleFailed:
    case HistoryEventType::kActivityFailed:
    case HistoryEventType::kActivityTimedOut:
      return true;
    default:
      return false;
  }
}

std::optional<std::string_view> StatusOf(HistoryEventType type) {
  switch (type) {
    case HistoryEventType::kExecutionStarted:
    case HistoryEventType::kExecutionRedriven:
      return "RUNNING";
    case HistoryEventType::kExecutionSucceeded:
      return "SUCCEEDED";
    case HistoryEventType::kExecutionFailed:
      return "FAILED";
    case HistoryEventType::kExecutionTimedOut:
      return "TIMED_OUT";
    case HistoryEventType::kExecutionAborted:
      return "ABORTED";
    default:
      return std::nullopt;
  }
}

std::string Detail(const HistoryEvent& event, std::string_view key) {
  std::optional<std::string_view> value = event.details.Find(key);
  return value ? std::string(*value) : std::string();
}

json::value StringOrNull(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

// The job and owner an execution's input names, for readers filtering on them.
struct Ownership {
  std::string job_id;
  std::string owner;
};

Ownership OwnershipOf(const std::string& input) {
  Ownership out;
  StatusOr<json::value> parsed = ParseJson(input);
  if (!parsed.ok() || !parsed->is_object()) return out;
  const json::object& object = parsed->get_object();
  auto string_at = [&](std::string_view key) {
    const json::value* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
  };
  out.job_id = string_at("jobId");
  out.owner = string_at("owner");
  if (out.owner.empty()) out.owner = string_at("requestedBy");
  return out;
}

void AddOwnership(const Ownership& ownership, json::object& detail) {
  if (!ownership.job_id.empty()) detail["jobId"] = ownership.job_id;
  if (!ownership.owner.empty()) detail["owner"] = ownership.owner;
}

// Which StateEntered event each event of a history belongs to, by following previousEventId.
class StateIndex {
 public:
  explicit StateIndex(const std::vector<HistoryEvent>& history) : history_(history) {
    entered_.assign(history.size() + 1, 0);
    for (const HistoryEvent& event : history) {
      if (event.id <= 0 || static_cast<size_t>(event.id) > history.size()) continue;
      int64_t owner = 0;
      if (IsStateEntered(event.type)) {
        owner = event.id;
      } else if (IsStateExited(event.type)) {
        owner = FindEntered(event.previous_event_id, Detail(event, "name"));
      } else if (Valid(event.previous_event_id)) {
        owner = entered_[static_cast<size_t>(event.previous_event_id)];
      }
      entered_[static_cast<size_t>(event.id)] = owner;
    }
  }

  // The StateEntered event `event_id` belongs to, or null.
  const HistoryEvent* EnteredOf(int64_t event_id) const {
    if (!Valid(event_id)) return nullptr;
    const int64_t entered = entered_[static_cast<size_t>(event_id)];
    return Valid(entered) ? &At(entered) : nullptr;
  }

 private:
  bool Valid(int64_t id) const { return id > 0 && static_cast<size_t>(id) < entered_.size(); }
  const HistoryEvent& At(int64_t id) const { return history_[static_cast<size_t>(id - 1)]; }

  // The nearest StateEntered of state `name` along the chain ending at `from`: an exit's
  // previous events may lie in the states nested in it (a Parallel's branches).
  int64_t FindEntered(int64_t from, const std::string& name) const {
    int64_t entered = Valid(from) ? entered_[static_cast<size_t>(from)] : 0;
    for (int steps = 0; Valid(entered) && steps < kMaxChainSteps; ++steps) {
      const HistoryEvent& candidate = At(entered);
      if (Detail(candidate, "name") == name) return entered;
      const int64_t before = candidate.previous_event_id;
      entered = Valid(before) && before < entered ? entered_[static_cast<size_t>(before)] : 0;
    }
    return 0;
  }

  const std::vector<HistoryEvent>& history_;
  std::vector<int64_t> entered_;  // by event id; 0: none
};

// The status-change detail as of `event`: DescribeExecution's members, as the event reports
// them (every member present, null when it has no value).
json::object StatusDetail(const store::ExecutionRow& row, const HistoryEvent& event,
                          std::string_view status, int64_t redrive_count,
                          std::optional<WallTime> redrive_date) {
  const bool ended = status != "RUNNING";
  std::string output, error, cause;
  if (status == "SUCCEEDED") output = Detail(event, "output");
  // DescribeExecution shows a TIMED_OUT execution with neither error nor cause.
  if (status == "FAILED" || status == "ABORTED") {
    error = Detail(event, "error");
    cause = Detail(event, "cause");
  }
  json::object detail{
      {"executionArn", row.arn},
      {"stateMachineArn", row.state_machine_arn},
      {"name", row.name},
      {"status", status},
      {"startDate", EpochMillis(row.start)},
      {"stopDate", ended ? json::value(EpochMillis(event.timestamp)) : json::value(nullptr)},
      {"input", row.input},
      {"inputDetails", json::object{{"included", true}}},
      {"output", status == "SUCCEEDED" ? json::value(output) : json::value(nullptr)},
      {"outputDetails", status == "SUCCEEDED" ? json::value(json::object{{"included", true}})
                                              : json::value(nullptr)},
      {"error", StringOrNull(error)},
      {"cause", StringOrNull(cause)}};
  if (!row.trace_header.empty()) detail["traceHeader"] = row.trace_header;
  detail["redriveCount"] = redrive_count;
  detail["redriveDate"] =
      redrive_date ? json::value(EpochMillis(*redrive_date)) : json::value(nullptr);
  // Redrivability as DescribeExecution would have said right then (the clock is the event's).
  store::ExecutionRow as_of;
  as_of.type = row.type;
  as_of.status = std::string(status);
  if (ended) as_of.stop = event.timestamp;
  as_of.redrive_count = redrive_count;
  if (!error.empty()) as_of.error = error;
  if (!cause.empty()) as_of.cause = cause;
  if (std::optional<std::string> reason = NotRedrivableReason(as_of, event.timestamp)) {
    detail["redriveStatus"] = "NOT_REDRIVABLE";
    detail["redriveStatusReason"] = *reason;
  } else {
    detail["redriveStatus"] = "REDRIVABLE";
    detail["redriveStatusReason"] = nullptr;
  }
  return detail;
}

// Makes a status-change envelope fit the event log, as AWS does for large payloads: the output,
// then the input, are left out with "included": false.
void FitStatusChange(json::object& envelope) {
  json::object& detail = envelope["detail"].as_object();
  for (auto [payload, details] :
       {std::pair{"output", "outputDetails"}, std::pair{"input", "inputDetails"}}) {
    if (SerializeJson(envelope).size() <= store::EventLog::kMaxEnvelopeBytes) return;
    detail[payload] = nullptr;
    detail[details] = json::object{{"included", false}};
  }
  if (SerializeJson(envelope).size() <= store::EventLog::kMaxEnvelopeBytes) return;
  if (json::value* cause = detail.if_contains("cause"); cause != nullptr && cause->is_string()) {
    *cause = std::string(Utf8Prefix(cause->get_string(), kMaxCauseBytes));
  }
}

struct StreamOwner {
  bool found = false;
  std::string execution_arn;
  std::string task_arn;
  Ownership ownership;
};

}  // namespace

std::string DerivedEventId(const std::vector<std::string_view>& parts) {
  std::string joined;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) joined.push_back('\0');
    joined.append(parts[i]);
  }
  std::string hex = Sha256Hex(joined).substr(0, 32);
  hex[12] = '5';  // version 5: name-based
  static constexpr char kVariant[] = "89ab";
  const char c = hex[16];
  const int nibble = c >= 'a' ? c - 'a' + 10 : c - '0';
  hex[16] = kVariant[nibble & 3];  // variant 10
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

class EventPublisher::Impl {
 public:
  Impl(store::EventLog& log, store::Journal& journal, const Runtime& runtime, store::LogStore* logs,
       const Clock& clock, EventPublisherOptions options)
      : log_(log),
        journal_(journal),
        runtime_(runtime),
        logs_(logs),
        clock_(clock),
        options_(std::move(options)) {}

  ~Impl() { Stop(); }

  Status Start() {
    {
      std::lock_guard lock(mu_);
      if (started_) return Status::Ok();
    }
    HPD_RETURN_IF_ERROR(CatchUp());
    HPD_RETURN_IF_ERROR(CatchUpLogs());
    std::lock_guard lock(mu_);
    started_ = true;
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!running_) return;
      stopping_ = true;
    }
    work_ready_.notify_one();
    thread_.join();
    std::lock_guard lock(mu_);
    running_ = false;
    work_done_.notify_all();
  }

  void Notify(const std::string& arn) { Enqueue(Work{arn, {}, {}, 0}); }

  void NotifyLog(const std::string& group, const std::string& stream, int64_t last_sequence) {
    if (logs_ == nullptr || options_.tasks_root.empty()) return;
    Enqueue(Work{{}, group, stream, last_sequence});
  }

  void Flush() {
    std::unique_lock lock(mu_);
    const uint64_t target = enqueued_;
    work_done_.wait(lock, [&] { return processed_ >= target || !running_; });
  }

 private:
  struct Work {
    std::string execution_arn;  // or else a log stream:
    std::string group, stream;
    int64_t last_sequence = 0;
  };

  void Enqueue(Work work) {
    {
      std::lock_guard lock(mu_);
      // Before Start the work waits (Start's catch-up covers it anyway); after Stop it is
      // dropped: the next Start derives it from the journal.
      if (stopping_) return;
      queue_.push_back(std::move(work));
      ++enqueued_;
    }
    work_ready_.notify_one();
  }

  void Loop() {
    while (true) {
      std::deque<Work> batch;
      uint64_t taken = 0;
      {
        std::unique_lock lock(mu_);
        work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        batch.swap(queue_);
        taken = enqueued_;
      }
      // One pass per execution and per stream however often it was notified: each pass
      // derives everything beyond its cursor.
      std::set<std::string> executions_done;
      std::set<std::pair<std::string, std::string>> streams_done;
      for (const Work& work : batch) {
        if (!work.execution_arn.empty()) {
          if (executions_done.insert(work.execution_arn).second) {
            PublishExecution(work.execution_arn).IgnoreError();
          }
        } else if (streams_done.emplace(work.group, work.stream).second) {
          PublishLog(work.group, work.stream).IgnoreError();
        }
      }
      {
        std::lock_guard lock(mu_);
        processed_ = taken;
      }
      work_done_.notify_all();
    }
  }

  // ---- Catch-up (Start) ----

  // Every execution the journal holds whose calls go beyond the count its events were derived
  // from.
  Status CatchUp() {
    std::vector<store::ExecutionRow> behind;
    std::optional<std::string> after_name;
    while (true) {
      HPD_ASSIGN_OR_RETURN(std::vector<store::StateMachineRow> machines,
                           journal_.ReadValue([&](store::JournalReader& reader) {
                             return reader.ListStateMachines(after_name, 100);
                           }));
      for (const store::StateMachineRow& machine : machines) {
        store::ExecutionQuery query;
        query.state_machine_id = machine.id;
        query.limit = 100;
        while (true) {
          HPD_ASSIGN_OR_RETURN(std::vector<store::ExecutionRow> rows,
                               journal_.ReadValue([&](store::JournalReader& reader) {
                                 return reader.ListExecutions(query);
                               }));
          for (store::ExecutionRow& row : rows) {
            HPD_ASSIGN_OR_RETURN(int64_t calls,
                                 journal_.ReadValue([&](store::JournalReader& reader) {
                                   return reader.CallCount(row.id);
                                 }));
            HPD_ASSIGN_OR_RETURN(std::optional<int64_t> derived, log_.Cursor(CallsCursor(row.arn)));
            if (derived.value_or(-1) != calls) behind.push_back(row);
          }
          if (rows.size() < query.limit) break;
          query.after =
              std::make_pair(rows.back().start.time_since_epoch().count(), rows.back().id);
        }
      }
      if (machines.size() < 100) break;
      after_name = machines.back().name;
    }
    // Oldest first, as they happened.
    std::sort(
        behind.begin(), behind.end(),
        [](const store::ExecutionRow& a, const store::ExecutionRow& b) { return a.id < b.id; });
    for (const store::ExecutionRow& row : behind) {
      HPD_RETURN_IF_ERROR(PublishExecution(row.arn));
    }
    return Status::Ok();
  }

  // Every execution task's log stream with lines beyond its cursor: those appended after the
  // last notification the publisher handled (a crash between the store's commit and the
  // publisher's append, or appends while no publisher ran). A finished task's stream gets no
  // further notification, so without this its last lines would never be published.
  Status CatchUpLogs() {
    if (logs_ == nullptr || options_.tasks_root.empty()) return Status::Ok();
    HPD_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks,
                         ContainerRunner::ListTasks(options_.tasks_root));
    // Each stream's last sequence, one listing per group (a stored column, so cheap however
    // many finished tasks there are); a group the store does not know has no lines.
    std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> last_by_group;
    auto last_sequence = [&](const std::string& group,
                             const std::string& stream) -> StatusOr<int64_t> {
      auto it = last_by_group.find(group);
      if (it == last_by_group.end()) {
        std::unordered_map<std::string, int64_t> streams;
        StatusOr<std::vector<store::LogStreamInfo>> listed = logs_->ListStreams(group, "");
        if (!listed.ok() && listed.status().code() != StatusCode::kNotFound) {
          return listed.status();
        }
        if (listed.ok()) {
          for (const store::LogStreamInfo& info : *listed) {
            streams.emplace(info.name, info.last_sequence);
          }
        }
        it = last_by_group.emplace(group, std::move(streams)).first;
      }
      auto found = it->second.find(stream);
      return found == it->second.end() ? 0 : found->second;
    };
    for (const TaskRecord& task : tasks) {
      // A task no execution ran publishes nothing (see OwnerOf).
      if (ExecutionArnOfIdempotencyKey(task.idempotency_key).empty()) continue;
      for (const auto& [group, stream] : task.log_streams) {
        HPD_ASSIGN_OR_RETURN(int64_t last, last_sequence(group, stream));
        if (last == 0) continue;
        HPD_ASSIGN_OR_RETURN(std::optional<int64_t> cursor, log_.Cursor(LogCursor(group, stream)));
        if (cursor.value_or(0) >= last) continue;
        HPD_RETURN_IF_ERROR(PublishLog(group, stream));
      }
    }
    return Status::Ok();
  }

  // ---- Executions ----

  Status PublishExecution(const std::string& arn) {
    HPD_ASSIGN_OR_RETURN(
        std::optional<store::ExecutionRow> found,
        journal_.ReadValue([&](store::JournalReader& reader) { return reader.GetExecution(arn); }));
    if (!found) return Status::Ok();  // not journaled (synchronous EXPRESS)
    const store::ExecutionRow& row = *found;
    // Counted before the replay, which sees at least these calls: a cursor never claims more.
    HPD_ASSIGN_OR_RETURN(int64_t calls, journal_.ReadValue([&](store::JournalReader& reader) {
      return reader.CallCount(row.id);
    }));
    HPD_ASSIGN_OR_RETURN(std::optional<int64_t> done_cursor, log_.Cursor(HistoryCursor(arn)));
    const int64_t done = done_cursor.value_or(0);
    HPD_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<HistoryEvent>> history,
                         runtime_.ReplayHistory(arn));
    const int64_t last_id = history->empty() ? 0 : history->back().id;
    if (last_id <= done) {
      HPD_ASSIGN_OR_RETURN(std::optional<int64_t> derived, log_.Cursor(CallsCursor(arn)));
      if (derived.value_or(-1) == calls) return Status::Ok();
      return log_.SetCursor(CallsCursor(arn), calls);
    }

    const Ownership ownership = OwnershipOf(row.input);
    const StateIndex states(*history);
    ExecutionContext context;
    context.execution_arn = row.arn;
    context.state_machine_arn = row.state_machine_arn;
    context.name = row.name;
    context.input = row.input;

    std::vector<json::object> pending;
    int64_t redrive_count = 0;
    std::optional<WallTime> redrive_date;
    auto flush = [&](int64_t through, bool last) -> Status {
      std::vector<std::pair<std::string, int64_t>> cursors = {{HistoryCursor(arn), through}};
      if (last) cursors.emplace_back(CallsCursor(arn), calls);
      StatusOr<store::AppendResult> appended = log_.Append(pending, cursors);
      pending.clear();
      return appended.status();
    };
    for (const HistoryEvent& event : *history) {
      if (event.type == HistoryEventType::kExecutionRedriven) {
        ++redrive_count;
        redrive_date = event.timestamp;
      }
      if (event.id <= done) continue;
      const HistoryEvent* entered = states.EnteredOf(event.id);
      context.state = entered != nullptr ? Detail(*entered, "name") : std::string();
      Derive(row, ownership, context, event, entered, redrive_count, redrive_date, pending);
      if (pending.size() >= kMaxEnvelopesPerAppend && event.id != last_id) {
        HPD_RETURN_IF_ERROR(flush(event.id, false));
      }
    }
    return flush(last_id, true);
  }

  json::object Envelope(std::string id, std::string_view source, std::string_view detail_type,
                        WallTime time, const std::string& arn, json::object detail) const {
    return json::object{{"version", "0"},
                        {"id", std::move(id)},
                        {"detail-type", detail_type},
                        {"source", source},
                        {"account", options_.account_id},
                        {"time", EnvelopeTime(time)},
                        {"region", options_.region},
                        {"resources", json::array{json::value(arn)}},
                        {"detail", std::move(detail)}};
  }

  // The events one history event gives, appended to `out`.
  void Derive(const store::ExecutionRow& row, const Ownership& ownership,
              const ExecutionContext& context, const HistoryEvent& event,
              const HistoryEvent* entered, int64_t redrive_count,
              std::optional<WallTime> redrive_date, std::vector<json::object>& out) const {
    const std::string event_id = std::to_string(event.id);
    auto id = [&](std::string_view kind) { return DerivedEventId({row.arn, event_id, kind}); };
    if (std::optional<std::string_view> status = StatusOf(event.type)) {
      json::object envelope =
          Envelope(id("status"), "aws.states", kStatusChange, event.timestamp, row.arn,
                   StatusDetail(row, event, *status, redrive_count, redrive_date));
      FitStatusChange(envelope);
      out.push_back(std::move(envelope));
    }
    auto progress = [&](json::object extra) {
      json::object detail{{"executionArn", row.arn},
                          {"stateMachineArn", row.state_machine_arn},
                          {"name", row.name},
                          {"historyEventId", event.id},
                          {"timestamp", FormatRfc3339Millis(event.timestamp)}};
      AddOwnership(ownership, detail);
      for (auto& member : extra) detail[member.key()] = std::move(member.value());
      return detail;
    };
    const std::string_view type_name = asl::HistoryEventTypeName(event.type);
    if (IsStateEntered(event.type)) {
      std::string_view state_type = type_name.substr(0, type_name.size() - 12);
      out.push_back(Envelope(
          id("entered"), "hpdeploy.states", "Execution State Entered", event.timestamp, row.arn,
          progress(json::object{{"state", Detail(event, "name")}, {"stateType", state_type}})));
    } else if (IsStateExited(event.type)) {
      json::value duration = nullptr;
      if (entered != nullptr) {
        duration = std::chrono::duration_cast<std::chrono::milliseconds>(event.timestamp -
                                                                         entered->timestamp)
                       .count();
      }
      out.push_back(Envelope(
          id("exited"), "hpdeploy.states", "Execution State Exited", event.timestamp, row.arn,
          progress(json::object{{"state", Detail(event, "name")}, {"durationMs", duration}})));
    } else if (IsTaskFailure(event.type)) {
      std::string error = Detail(event, "error");
      if (error.empty() && (event.type == HistoryEventType::kTaskTimedOut ||
                            event.type == HistoryEventType::kLambdaFunctionTimedOut ||
                            event.type == HistoryEventType::kActivityTimedOut)) {
        error = "States.Timeout";
      }
      out.push_back(Envelope(
          id("task-failed"), "hpdeploy.states", "Execution Task Failed", event.timestamp, row.arn,
          progress(json::object{
              {"state", context.state},
              {"error", error},
              {"cause", std::string(Utf8Prefix(Detail(event, "cause"), kMaxCauseBytes))}})));
    }
    if (options_.domain_events) {
      std::vector<json::object> extra;
      options_.domain_events(context, event, extra);
      for (size_t i = 0; i < extra.size(); ++i) {
        json::object& item = extra[i];
        const json::value* source = item.if_contains("source");
        const json::value* detail_type = item.if_contains("detail-type");
        json::value* detail = item.if_contains("detail");
        // A malformed item is the hook's bug; it must not stop the execution's other events.
        if (source == nullptr || !source->is_string() || detail_type == nullptr ||
            !detail_type->is_string() || detail == nullptr || !detail->is_object()) {
          continue;
        }
        json::object envelope = Envelope(
            DerivedEventId({row.arn, event_id, "domain", std::to_string(i)}), source->get_string(),
            detail_type->get_string(), event.timestamp, row.arn, std::move(detail->as_object()));
        if (SerializeJson(envelope).size() > store::EventLog::kMaxEnvelopeBytes) continue;
        out.push_back(std::move(envelope));
      }
    }
  }

  // ---- Log streams ----

  Status PublishLog(const std::string& group, const std::string& stream) {
    HPD_ASSIGN_OR_RETURN(StreamOwner owner, OwnerOf(group, stream));
    if (!owner.found) return Status::Ok();
    const std::string cursor_name = LogCursor(group, stream);
    HPD_ASSIGN_OR_RETURN(std::optional<int64_t> cursor, log_.Cursor(cursor_name));
    int64_t after = cursor.value_or(0);
    while (true) {
      HPD_ASSIGN_OR_RETURN(store::LogEventPage page,
                           logs_->Read(group, stream, after, kMaxLinesPerEvent));
      if (page.events.empty()) return Status::Ok();
      std::vector<json::object> envelopes;
      size_t begin = 0;
      while (begin < page.events.size()) {
        size_t end = page.events.size();
        json::object envelope = LogEnvelope(owner, group, stream, page.events, begin, end);
        // Too big for the log: fewer lines per event; a single line is cut short.
        while (SerializeJson(envelope).size() > store::EventLog::kMaxEnvelopeBytes) {
          if (end - begin > 1) {
            end = begin + (end - begin) / 2;
          } else {
            json::object& line = envelope["detail"].as_object()["lines"].as_array()[0].as_object();
            const std::string_view message = line["message"].as_string();
            line["message"] = std::string(Utf8Prefix(message, message.size() / 2));
            line["truncated"] = true;
            continue;
          }
          envelope = LogEnvelope(owner, group, stream, page.events, begin, end);
        }
        envelopes.push_back(std::move(envelope));
        begin = end;
      }
      HPD_RETURN_IF_ERROR(log_.Append(envelopes, {{cursor_name, page.last_sequence}}).status());
      after = page.last_sequence;
    }
  }

  json::object LogEnvelope(const StreamOwner& owner, const std::string& group,
                           const std::string& stream, const std::vector<store::LogEvent>& events,
                           size_t begin, size_t end) const {
    json::array lines;
    for (size_t i = begin; i < end; ++i) {
      lines.push_back(json::object{{"sequence", events[i].sequence},
                                   {"timestamp", events[i].timestamp},
                                   {"message", events[i].message}});
    }
    json::object detail{{"executionArn", owner.execution_arn},
                        {"logGroup", group},
                        {"logStream", stream},
                        {"taskArn", owner.task_arn},
                        {"lines", std::move(lines)}};
    AddOwnership(owner.ownership, detail);
    const WallTime time{std::chrono::milliseconds(events[begin].timestamp)};
    return Envelope(DerivedEventId({"logs", group, stream, std::to_string(events[begin].sequence)}),
                    "hpdeploy.logs", "Container Log Lines", time, owner.execution_arn,
                    std::move(detail));
  }

  // The execution whose task wrote the stream (remembered once found).
  StatusOr<StreamOwner> OwnerOf(const std::string& group, const std::string& stream) {
    const std::string key = group + ":" + stream;
    if (auto it = stream_owners_.find(key); it != stream_owners_.end()) return it->second;
    HPD_ASSIGN_OR_RETURN(std::optional<TaskRecord> task,
                         ContainerRunner::FindTaskByLogStream(options_.tasks_root, group, stream));
    StreamOwner owner;
    if (!task) return owner;  // not (yet) a known task's stream: not remembered
    owner.execution_arn = std::string(ExecutionArnOfIdempotencyKey(task->idempotency_key));
    owner.task_arn = task->task_arn;
    if (owner.execution_arn.empty()) return owner;  // a task no execution ran
    owner.found = true;
    HPD_ASSIGN_OR_RETURN(std::optional<store::ExecutionRow> row,
                         journal_.ReadValue([&](store::JournalReader& reader) {
                           return reader.GetExecution(owner.execution_arn);
                         }));
    if (row) owner.ownership = OwnershipOf(row->input);
    if (stream_owners_.size() >= kMaxRememberedStreams) stream_owners_.clear();
    stream_owners_.emplace(key, owner);
    return owner;
  }

  // Constant after construction.
  store::EventLog& log_;
  store::Journal& journal_;
  const Runtime& runtime_;
  store::LogStore* const logs_;
  [[maybe_unused]] const Clock& clock_;  // times come from histories and log lines
  const EventPublisherOptions options_;

  // The publisher thread's (and Start's catch-up, before the thread runs).
  std::unordered_map<std::string, StreamOwner> stream_owners_;

  std::mutex mu_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  std::deque<Work> queue_;  // guarded by mu_
  uint64_t enqueued_ = 0;   // guarded by mu_: pieces of work queued so far
  uint64_t processed_ = 0;  // guarded by mu_: of which finished
  bool started_ = false;    // guarded by mu_
  bool running_ = false;    // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::thread thread_;
};

EventPublisher::EventPublisher(store::EventLog& log, store::Journal& journal,
                               const Runtime& runtime, store::LogStore* logs, const Clock& clock,
                               EventPublisherOptions options)
    : impl_(std::make_unique<Impl>(log, journal, runtime, logs, clock, std::move(options))) {}

EventPublisher::~EventPublisher() = default;

Status EventPublisher::Start() { return impl_->Start(); }
void EventPublisher::Stop() { impl_->Stop(); }
void EventPublisher::Notify(const std::string& execution_arn) { impl_->Notify(execution_arn); }
void EventPublisher::NotifyLog(const std::string& group, const std::string& stream,
                               int64_t last_sequence) {
  impl_->NotifyLog(group, stream, last_sequence);
}
void EventPublisher::Flush() { impl_->Flush(); }

}  // namespace hpd::engine
