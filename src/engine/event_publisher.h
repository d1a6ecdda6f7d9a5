// Event publication: turns what the runtime commits (execution histories) and what containers
// print (the log store) into EventBridge events in the platform's event log.
//
// Events (envelope: store/event_log.h; "account" and "region" are the options'):
//   source "aws.states", detail-type "Step Functions Execution Status Change": one per
//     ExecutionStarted (RUNNING), ExecutionRedriven (RUNNING), ExecutionSucceeded, ExecutionFailed,
//     ExecutionTimedOut and ExecutionAborted, exactly as AWS emits it: resources [executionArn];
//     detail {executionArn, stateMachineArn, name, status, startDate, stopDate (epoch ms or null),
//     input, inputDetails {"included": true}, output (a string when SUCCEEDED, else null),
//     outputDetails ({"included": true} when SUCCEEDED, else null), error, cause (strings or
//     null), redriveCount, redriveStatus...}: DescribeExecution's members as of that event.
//   source "hpdeploy.states" (progress; detail also carries executionArn, stateMachineArn,
//     name, historyEventId and timestamp (RFC 3339)):
//     "Execution State Entered"  {state, stateType}
//     "Execution State Exited"   {state, durationMs}
//     "Execution Task Failed"    {state, error, cause (at most 4 KiB)}  (a failed attempt, which a
//                                 Retry may still recover: how retries become visible)
//   source "hpdeploy.logs", detail-type "Container Log Lines": {executionArn, logGroup,
//     logStream, taskArn, lines: [{sequence, timestamp (ms), message}]}: the lines an execution's
//     container printed, batched (at most 200 lines per event).
//   plus what `domain_events` adds (the HyperPod guardrail report and cleanup result).
//
// Exactly once, across crashes. Event ids are derived from what the event describes (execution
// ARN + history event id + kind; log group + stream + first sequence), not drawn at random, and
// each append commits together with the cursor it was derived up to (per execution: the last
// history event id; per log stream: the last sequence). After a crash the publisher re-derives
// from the committed cursors, so nothing is lost and nothing appears twice.
//
// No polling: Runtime calls Notify after each commit (RuntimeOptions::on_commit), the log store
// calls NotifyLog after each append. One publisher thread does the work, in arrival order, so
// events of one execution are appended in history order.
//
// Thread-safe.
#ifndef HPD_ENGINE_EVENT_PUBLISHER_H_
#define HPD_ENGINE_EVENT_PUBLISHER_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asl/history.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/runtime.h"
#include "store/event_log.h"
#include "store/journal.h"
#include "store/log_store.h"

namespace hpd::engine {

// What a domain hook knows of the execution an event belongs to.
struct ExecutionContext {
  std::string execution_arn;
  std::string state_machine_arn;
  std::string name;
  std::string input;  // the execution's input, JSON text
  // The state the event belongs to (a StateEntered/Exited event's own; a task event's, found by
  // following previousEventId back to its StateEntered), "" for the execution's own events.
  std::string state;
};

struct EventPublisherOptions {
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  // The container runner's work root (<data dir>/tasks): where the publisher finds which
  // execution a log stream belongs to. Empty: no log events.
  std::filesystem::path tasks_root;
  // Extra events for one history event of one execution: append envelopes' (source,
  // detail-type, detail) to `out` as {"source", "detail-type", "detail"} objects; the publisher
  // completes the envelope (id derived from the history event and the index in `out`, time,
  // account, region, resources). Called on the publisher thread, in history order.
  std::function<void(const ExecutionContext& execution, const asl::HistoryEvent& event,
                     std::vector<boost::json::object>& out)>
      domain_events;
};

class EventPublisher {
 public:
  // `log`, `journal`, `runtime` and `logs` (may be null: no log events) must outlive the
  // publisher. Start() derives whatever the journal holds beyond the log's cursors (after a
  // crash: the events not yet appended) and publishes the lines of every execution task's log
  // stream (each task <tasks_root>/tasks.db records) beyond its cursor, then follows
  // notifications.
  EventPublisher(store::EventLog& log, store::Journal& journal, const Runtime& runtime,
                 store::LogStore* logs, const Clock& clock, EventPublisherOptions options);
  ~EventPublisher();  // Stop()
  EventPublisher(const EventPublisher&) = delete;
  EventPublisher& operator=(const EventPublisher&) = delete;

  [[nodiscard]] Status Start();
  // Finishes the work queued so far, then stops the thread. Idempotent.
  void Stop();

  // Execution `execution_arn` has newly committed history. Cheap; never blocks on I/O.
  void Notify(const std::string& execution_arn);
  // Stream (group, stream) has new lines up to `last_sequence`.
  void NotifyLog(const std::string& group, const std::string& stream, int64_t last_sequence);

  // Blocks until everything notified before the call has been appended (tests, shutdown).
  void Flush();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// The deterministic event id for `parts` (joined with NUL, SHA-256, formatted as a UUID,
// version nibble 5 (name-based), variant 10).
std::string DerivedEventId(const std::vector<std::string_view>& parts);

}  // namespace hpd::engine

#endif  // HPD_ENGINE_EVENT_PUBLISHER_H_
