#include "hyperpod/progress_events.h"

#include <cctype>
#include <string>
#include <string_view>
#include <utility>

#include <boost/json/value.hpp>

#include "common/json.h"
#include "hyperpod/handlers.h"

namespace hpd::hyperpod {
namespace {

namespace json = boost::json;
using asl::HistoryEvent;
using asl::HistoryEventType;

json::object ParseObject(std::string_view text) {
  StatusOr<json::value> parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) return json::object();
  return std::move(parsed->get_object());
}

json::value StringOrNull(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr || !value->is_string() || value->get_string().empty()) return nullptr;
  return *value;
}

// The definitions keep a function's answer as {"result": ...} (ResultSelector "result.$":
// "$.Payload"): the answer is what readers want.
const json::value& Unwrapped(const json::value& value) {
  const json::object* object = value.if_object();
  if (object != nullptr && object->size() == 1) {
    if (const json::value* result = object->if_contains("result")) return *result;
  }
  return value;
}

bool IsIdChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

// The failed checks of a GuardrailViolation message ("Guardrails failed: [id] message [id]
// message ..."), as PrepareDeploymentConfig writes it.
json::array FailedChecks(std::string_view message) {
  struct Marker {
    size_t begin, end;  // of "[id]"
    std::string id;
  };
  std::vector<Marker> markers;
  for (size_t i = message.find('['); i != std::string_view::npos; i = message.find('[', i + 1)) {
    // A check starts after the header's ':' or the previous message's closing punctuation, so
    // that brackets inside a message ("regions [a, b]", "4 [ml.p5] instances") are not taken
    // for one.
    if (i < 2 || message[i - 1] != ' ' ||
        !std::ispunct(static_cast<unsigned char>(message[i - 2]))) {
      continue;
    }
    const size_t close = message.find(']', i);
    if (close == std::string_view::npos || close == i + 1) continue;
    const std::string_view id = message.substr(i + 1, close - i - 1);
    // Check ids are "<area>.<check>" ("region.allowed", "quota.instances").
    bool valid = id.find('.') != std::string_view::npos;
    for (char c : id) valid = valid && IsIdChar(c);
    if (!valid || (close + 1 < message.size() && message[close + 1] != ' ')) continue;
    markers.push_back(Marker{i, close + 1, std::string(id)});
  }
  json::array checks;
  for (size_t m = 0; m < markers.size(); ++m) {
    const size_t stop = m + 1 < markers.size() ? markers[m + 1].begin : message.size();
    std::string_view text = message.substr(markers[m].end, stop - markers[m].end);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    checks.push_back(json::object{{"id", markers[m].id}, {"status", "FAIL"}, {"message", text}});
  }
  return checks;
}

// The report a GuardrailViolation's cause (the Lambda error JSON) still carries, or null.
json::value ReportFromCause(std::string_view cause) {
  const json::object error = ParseObject(cause);
  const json::value* message = error.if_contains("errorMessage");
  if (message == nullptr || !message->is_string()) return nullptr;
  json::array checks = FailedChecks(message->get_string());
  if (checks.empty()) return nullptr;
  return json::object{{"passed", false}, {"partial", true}, {"checks", std::move(checks)}};
}

struct Emitter {
  const engine::ExecutionContext& execution;
  std::vector<json::object>& out;

  void Emit(std::string_view detail_type, std::string_view key, json::value value) const {
    const json::object input = ParseObject(execution.input);
    json::value owner = StringOrNull(input, "owner");
    if (owner.is_null()) owner = StringOrNull(input, "requestedBy");
    json::object detail{{"executionArn", execution.execution_arn},
                        {"jobId", StringOrNull(input, "jobId")},
                        {"owner", std::move(owner)}};
    detail[key] = std::move(value);
    out.push_back(json::object{{"source", kHyperPodEventSource},
                               {"detail-type", detail_type},
                               {"detail", std::move(detail)}});
  }
};

bool IsStateExited(HistoryEventType type) {
  return asl::HistoryEventTypeName(type).ends_with("StateExited");
}

}  // namespace

void HyperPodDomainEvents(const engine::ExecutionContext& execution, const HistoryEvent& event,
                          std::vector<json::object>& out) {
  const Emitter emit{execution, out};
  if ((event.type == HistoryEventType::kTaskFailed ||
       event.type == HistoryEventType::kLambdaFunctionFailed) &&
      execution.state == kPrepareDeploymentConfig &&
      event.details.Find("error") == std::optional<std::string_view>("GuardrailViolation")) {
    json::value report = ReportFromCause(event.details.Find("cause").value_or(""));
    if (!report.is_null()) emit.Emit("HyperPod Guardrail Report", "report", std::move(report));
    return;
  }
  if (!IsStateExited(event.type)) return;
  const std::optional<std::string_view> name = event.details.Find("name");
  const std::optional<std::string_view> output_text = event.details.Find("output");
  if (!name || !output_text) return;
  const json::object output = ParseObject(*output_text);
  auto member = [&output](std::string_view key) -> const json::value* {
    const json::value* value = output.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : &Unwrapped(*value);
  };
  if (*name == kPrepareDeploymentConfig) {
    const json::value* prepare = member("prepare");
    const json::object* result = prepare != nullptr ? prepare->if_object() : nullptr;
    const json::value* report = result != nullptr ? result->if_contains("guardrails") : nullptr;
    if (report != nullptr) emit.Emit("HyperPod Guardrail Report", "report", *report);
  } else if (*name == kCleanupOnFailure) {
    if (const json::value* cleanup = member("cleanup")) {
      emit.Emit("HyperPod Cleanup Result", "cleanup", *cleanup);
    }
  } else if (*name == kRecordFailure) {
    if (const json::value* failure = member("failureRecord")) {
      emit.Emit("HyperPod Failure Record", "failure", *failure);
    }
  } else if (*name == kPersistDeploymentOutputs) {
    if (const json::value* outputs = member("outputs")) {
      emit.Emit("HyperPod Deployment Outputs", "outputs", *outputs);
    }
  } else if (*name == kFinalizeTeardown) {
    const json::value* teardown = member("teardown");
    emit.Emit("HyperPod Teardown Result", "result",
              teardown != nullptr ? *teardown : json::value(output));
  }
}

}  // namespace hpd::hyperpod
