// Execution history events in the exact shape of Step Functions GetExecutionHistory.
//
// Every execution is an append-only list of these; the interpreter produces them and the
// engine persists them. Details use AWS's field names (e.g. "input", "inputDetails", "name");
// payloads such as input/output/cause are JSON *strings*, as the API returns them.
#ifndef HPD_ASL_HISTORY_H_
#define HPD_ASL_HISTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "common/clock.h"

namespace hpd::asl {

// All 62 HistoryEventType values of the Step Functions API, as (enumerator, API name,
// details member or empty when the event type carries none).
#define HPD_ASL_HISTORY_EVENT_TYPES(X)                                               \
  X(kActivityFailed, "ActivityFailed", "activityFailedEventDetails")                 \
  X(kActivityScheduled, "ActivityScheduled", "activityScheduledEventDetails")        \
  X(kActivityScheduleFailed, "ActivityScheduleFailed",                               \
    "activityScheduleFailedEventDetails")                                            \
  X(kActivityStarted, "ActivityStarted", "activityStartedEventDetails")              \
  X(kActivitySucceeded, "ActivitySucceeded", "activitySucceededEventDetails")        \
  X(kActivityTimedOut, "ActivityTimedOut", "activityTimedOutEventDetails")           \
  X(kChoiceStateEntered, "ChoiceStateEntered", "stateEnteredEventDetails")           \
  X(kChoiceStateExited, "ChoiceStateExited", "stateExitedEventDetails")              \
  X(kExecutionAborted, "ExecutionAborted", "executionAbortedEventDetails")           \
  X(kExecutionFailed, "ExecutionFailed", "executionFailedEventDetails")              \
  X(kExecutionStarted, "ExecutionStarted", "executionStartedEventDetails")           \
  X(kExecutionSucceeded, "ExecutionSucceeded", "executionSucceededEventDetails")     \
  X(kExecutionTimedOut, "ExecutionTimedOut", "executionTimedOutEventDetails")        \
  X(kExecutionRedriven, "ExecutionRedriven", "executionRedrivenEventDetails")        \
  X(kFailStateEntered, "FailStateEntered", "stateEnteredEventDetails")               \
  X(kLambdaFunctionFailed, "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails") \
  X(kLambdaFunctionScheduled, "LambdaFunctionScheduled",                             \
    "lambdaFunctionScheduledEventDetails")                                           \
  X(kLambdaFunctionScheduleFailed, "LambdaFunctionScheduleFailed",                   \
    "lambdaFunctionScheduleFailedEventDetails")                                      \
  X(kLambdaFunctionStarted, "LambdaFunctionStarted", "")                             \
  X(kLambdaFunctionStartFailed, "LambdaFunctionStartFailed",                         \
    "lambdaFunctionStartFailedEventDetails")                                         \
  X(kLambdaFunctionSucceeded, "LambdaFunctionSucceeded",                             \
    "lambdaFunctionSucceededEventDetails")                                           \
  X(kLambdaFunctionTimedOut, "LambdaFunctionTimedOut",                               \
    "lambdaFunctionTimedOutEventDetails")                                            \
  X(kMapIterationAborted, "MapIterationAborted", "mapIterationAbortedEventDetails")  \
  X(kMapIterationFailed, "MapIterationFailed", "mapIterationFailedEventDetails")     \
  X(kMapIterationStarted, "MapIterationStarted", "mapIterationStartedEventDetails")  \
  X(kMapIterationSucceeded, "MapIterationSucceeded",                                 \
    "mapIterationSucceededEventDetails")                                             \
  X(kMapStateAborted, "MapStateAborted", "")                                         \
  X(kMapStateEntered, "MapStateEntered", "stateEnteredEventDetails")                 \
  X(kMapStateExited, "MapStateExited", "stateExitedEventDetails")                    \
  X(kMapStateFailed, "MapStateFailed", "")                                           \
  X(kMapStateStarted, "MapStateStarted", "mapStateStartedEventDetails")              \
  X(kMapStateSucceeded, "MapStateSucceeded", "")                                     \
  X(kMapRunAborted, "MapRunAborted", "")                                             \
  X(kMapRunFailed, "MapRunFailed", "mapRunFailedEventDetails")                       \
  X(kMapRunStarted, "MapRunStarted", "mapRunStartedEventDetails")                    \
  X(kMapRunSucceeded, "MapRunSucceeded", "")                                         \
  X(kMapRunRedriven, "MapRunRedriven", "mapRunRedrivenEventDetails")                 \
  X(kParallelStateAborted, "ParallelStateAborted", "")                               \
  X(kParallelStateEntered, "ParallelStateEntered", "stateEnteredEventDetails")       \
  X(kParallelStateExited, "ParallelStateExited", "stateExitedEventDetails")          \
  X(kParallelStateFailed, "ParallelStateFailed", "")                                 \
  X(kParallelStateStarted, "ParallelStateStarted", "")                               \
  X(kParallelStateSucceeded, "ParallelStateSucceeded", "")                           \
  X(kPassStateEntered, "PassStateEntered", "stateEnteredEventDetails")               \
  X(kPassStateExited, "PassStateExited", "stateExitedEventDetails")                  \
  X(kSucceedStateEntered, "SucceedStateEntered", "stateEnteredEventDetails")         \
  X(kSucceedStateExited, "SucceedStateExited", "stateExitedEventDetails")            \
  X(kTaskFailed, "TaskFailed", "taskFailedEventDetails")                             \
  X(kTaskScheduled, "TaskScheduled", "taskScheduledEventDetails")                    \
  X(kTaskStarted, "TaskStarted", "taskStartedEventDetails")                          \
  X(kTaskStartFailed, "TaskStartFailed", "taskStartFailedEventDetails")              \
  X(kTaskStateAborted, "TaskStateAborted", "")                                       \
  X(kTaskStateEntered, "TaskStateEntered", "stateEnteredEventDetails")               \
  X(kTaskStateExited, "TaskStateExited", "stateExitedEventDetails")                  \
  X(kTaskSubmitFailed, "TaskSubmitFailed", "taskSubmitFailedEventDetails")           \
  X(kTaskSubmitted, "TaskSubmitted", "taskSubmittedEventDetails")                    \
  X(kTaskSucceeded, "TaskSucceeded", "taskSucceededEventDetails")                    \
  X(kTaskTimedOut, "TaskTimedOut", "taskTimedOutEventDetails")                       \
  X(kWaitStateAborted, "WaitStateAborted", "")                                       \
  X(kWaitStateEntered, "WaitStateEntered", "stateEnteredEventDetails")               \
  X(kWaitStateExited, "WaitStateExited", "stateExitedEventDetails")                  \
  X(kEvaluationFailed, "EvaluationFailed", "evaluationFailedEventDetails")

enum class HistoryEventType : uint8_t {
#define HPD_ASL_ENUMERATOR_(e, name, details) e,
  HPD_ASL_HISTORY_EVENT_TYPES(HPD_ASL_ENUMERATOR_)
#undef HPD_ASL_ENUMERATOR_
};

inline constexpr size_t kHistoryEventTypeCount = 62;

// "TaskStateEntered"
std::string_view HistoryEventTypeName(HistoryEventType type);
// "stateEnteredEventDetails", or "" for types without details (e.g. LambdaFunctionStarted).
std::string_view HistoryEventDetailsKey(HistoryEventType type);
std::optional<HistoryEventType> HistoryEventTypeFromName(std::string_view name);

// The `<kind>EventDetails` object of one event. Recording an event must be cheap -- an
// execution records several per state -- while reading a history is rare, so members are kept
// as they were given (keys, and values either as plain strings or as JSON text) in one buffer,
// and the JSON object text, with its escaping of payload strings, is written only when asked
// for. Members render in the order added.
class EventDetails {
 public:
  // A member whose value is a JSON string (escaped when rendered).
  EventDetails& Add(std::string_view key, std::string_view value) {
    return Member(key, kString, value);
  }
  EventDetails& Add(std::string_view key, const std::string& value) {
    return Add(key, std::string_view(value));
  }
  EventDetails& Add(std::string_view key, const char* value) {
    return Add(key, std::string_view(value));
  }
  EventDetails& Add(std::string_view key, int64_t value);
  // A member whose value is already JSON text.
  EventDetails& Raw(std::string_view key, std::string_view json) {
    return Member(key, kRaw, json);
  }
  // {"truncated": false}: payloads are never truncated here.
  EventDetails& NotTruncated(std::string_view key) {
    return Raw(key, R"({"truncated":false})");
  }
  // Appends another builder's members (e.g. resource/resourceType of a service task).
  EventDetails& Merge(const EventDetails& other) {
    tape_ += other.tape_;
    return *this;
  }

  bool empty() const { return tape_.empty(); }
  // The object as compact JSON text ("{}" when empty).
  std::string ToJson() const;
  // A member's value as it was given (a string member unescaped, a raw one as JSON text), or
  // nullopt when there is no such member. Valid while this object is unchanged.
  std::optional<std::string_view> Find(std::string_view key) const;

  friend bool operator==(const EventDetails&, const EventDetails&) = default;

 private:
  // Each member on the tape: key length (1 byte), key, kind (1 byte), value length (4 bytes,
  // native order), value.
  static constexpr char kString = 's';
  static constexpr char kRaw = 'r';
  EventDetails& Member(std::string_view key, char kind, std::string_view value);

  std::string tape_;
};

struct HistoryEvent {
  int64_t id = 0;                 // 1-based, dense within an execution
  int64_t previous_event_id = 0;  // 0 when there is none
  WallTime timestamp{};
  HistoryEventType type = HistoryEventType::kExecutionStarted;
  // The `<kind>EventDetails` object; empty for types without details.
  EventDetails details;
};

// {"timestamp": <epoch seconds, fractional>, "type", "id", "previousEventId",
//  "<detailsKey>": {...}} as GetExecutionHistory returns it (JSON 1.0 protocol: timestamps are
// epoch seconds as numbers).
boost::json::object HistoryEventToJson(const HistoryEvent& event);

// The details object, parsed ({} when the event has none).
boost::json::object HistoryEventDetails(const HistoryEvent& event);

}  // namespace hpd::asl

#endif  // HPD_ASL_HISTORY_H_
