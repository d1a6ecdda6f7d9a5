#include "asl_conformance/endpoint_engine.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"

namespace hpd::conformance {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr int64_t kHistoryPageSize = 1000;
constexpr milliseconds kFirstPoll{1};
constexpr milliseconds kLongestPoll{20};

// `text` with every occurrence of the function name `from` replaced by `to`, except where a bare
// name stands inside angle brackets: "lambda_function_name" inside "<lambda_function_name>" is
// another placeholder.
std::string ReplaceFunctionName(std::string_view text, std::string_view from, std::string_view to) {
  const bool bracketed = from.starts_with('<');
  std::string out;
  size_t done = 0;
  for (size_t pos = text.find(from); pos != std::string_view::npos;
       pos = text.find(from, pos + from.size())) {
    const size_t end = pos + from.size();
    if (!bracketed && pos > 0 && text[pos - 1] == '<' && end < text.size() && text[end] == '>') {
      continue;
    }
    out.append(text.substr(done, pos - done));
    out.append(to);
    done = end;
  }
  out.append(text.substr(done));
  return out;
}

StatusOr<std::string> StringMember(const json::object& object, std::string_view key,
                                   std::string_view action) {
  const json::value* v = object.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return UnavailableError(std::string(action) + " answered without a string \"" +
                            std::string(key) + "\"");
  }
  return std::string(v->get_string());
}

// Takes partition, region and account from the state machine ARN the server chose
// (arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME).
Status AdoptArn(std::string_view arn, RunIdentity& identity) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (fields.size() < 6) {
    const size_t colon = arn.find(':', start);
    if (colon == std::string_view::npos) break;
    fields.emplace_back(arn.substr(start, colon - start));
    start = colon + 1;
  }
  if (fields.size() < 6 || fields[0] != "arn" || fields[2] != "states" ||
      fields[5] != "stateMachine" || arn.substr(start) != identity.state_machine_name) {
    return UnavailableError("CreateStateMachine answered an unexpected ARN: " + std::string(arn));
  }
  identity.partition = fields[1];
  identity.region = fields[3];
  identity.account = fields[4];
  return Status::Ok();
}

std::vector<std::string> MapRunArns(const json::array& events) {
  std::vector<std::string> arns;
  for (const json::value& event : events) {
    const json::object* e = event.if_object();
    const json::value* type = e ? e->if_contains("type") : nullptr;
    if (type == nullptr || !type->is_string() || type->get_string() != "MapRunStarted") continue;
    for (const auto& member : *e) {
      const json::object* details = member.value().if_object();
      const json::value* arn = details ? details->if_contains("mapRunArn") : nullptr;
      if (arn != nullptr && arn->is_string()) arns.emplace_back(arn->get_string());
    }
  }
  return arns;
}

}  // namespace

// The terminal history event a StartSyncExecution answer stands for.
static json::object TerminalEvent(const json::object& ended) {
  const json::value* status = ended.if_contains("status");
  const bool succeeded =
      status != nullptr && status->is_string() && status->get_string() == "SUCCEEDED";
  std::string type = "ExecutionFailed";
  if (succeeded)
    type = "ExecutionSucceeded";
  else if (status != nullptr && status->is_string() && status->get_string() == "TIMED_OUT")
    type = "ExecutionTimedOut";
  else if (status != nullptr && status->is_string() && status->get_string() == "ABORTED")
    type = "ExecutionAborted";
  json::object details;
  for (std::string_view field : {"output", "error", "cause"}) {
    if (const json::value* v = ended.if_contains(field)) details[field] = *v;
  }
  std::string key = type;
  key[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(key[0])));
  return json::object{{"timestamp", ended.if_contains("stopDate") ? *ended.if_contains("stopDate")
                                                                  : json::value(0)},
                      {"type", type},
                      {"id", 1},
                      {"previousEventId", 0},
                      {key + "EventDetails", std::move(details)}};
}

struct EndpointEngine::Started {
  std::string execution_arn;
  std::optional<std::string> status;        // StartSyncExecution: the execution has ended
  std::optional<json::object> sync_result;  // StartSyncExecution's answer
};

EndpointEngine::EndpointEngine(std::unique_ptr<aws::SfnClient> client,
                               EndpointEngineOptions options, const Clock& clock)
    : client_(std::move(client)), options_(std::move(options)), clock_(clock) {}

StatusOr<ExecutionRun> EndpointEngine::Run(const CaseExecution& execution, RunIdentity& identity) {
  const MonotonicTime deadline = clock_.MonotonicNow() + options_.case_timeout;
  ExecutionRun run;
  std::string definition = execution.definition;
  std::string input = SerializeJson(execution.input);
  HPD_ASSIGN_OR_RETURN(std::vector<engine::CaseFunction> functions,
                       engine::ParseCaseFunctions(execution.c->lambda_functions()));
  for (const engine::CaseFunction& function : functions) {
    std::string served = engine::CorpusServedName(function);
    definition = ReplaceFunctionName(definition, function.placeholder, served);
    input = ReplaceFunctionName(input, function.placeholder, served);
    run.lambda_names.emplace_back(std::move(served), function.placeholder);
  }

  HPD_ASSIGN_OR_RETURN(Started started, Start(execution, definition, input, identity));
  const std::string& arn = started.execution_arn;
  std::string status;
  if (started.status) {
    status = *started.status;
  } else {
    HPD_ASSIGN_OR_RETURN(status, AwaitStatus(arn, execution, deadline));
  }
  json::array events;
  if (started.sync_result) {
    // An Express execution keeps no history (GetExecutionHistory refuses its ARN): its
    // StartSyncExecution answer, as the terminal event it stands for, is what there is to
    // compare (the corpus records only the final output of these cases).
    events.push_back(TerminalEvent(*started.sync_result));
  } else if (status != "RUNNING") {
    HPD_ASSIGN_OR_RETURN(events, History(arn));
  } else if (execution.stop_when_idle) {
    HPD_RETURN_IF_ERROR(Stop(arn));
    HPD_ASSIGN_OR_RETURN(status, DescribeStatus(arn));
    HPD_ASSIGN_OR_RETURN(events, History(arn));
  } else {
    // Read while it runs (as the test did), then end it so that it does not run on.
    HPD_ASSIGN_OR_RETURN(events, History(arn));
    const bool idle = clock_.MonotonicNow() < deadline;
    run.stop_reason =
        idle ? "the history stopped growing (waiting for " + std::to_string(options_.idle.count()) +
                   " ms)"
             : "still RUNNING after " + std::to_string(options_.case_timeout.count()) + " s";
    HPD_RETURN_IF_ERROR(Stop(arn));
  }
  run.status = status;
  run.finished = status != "RUNNING";
  run.map_run_arns = MapRunArns(events);
  run.history = json::object{{"events", std::move(events)}};
  return run;
}

StatusOr<EndpointEngine::Started> EndpointEngine::Start(const CaseExecution& execution,
                                                        const std::string& definition,
                                                        const std::string& input,
                                                        RunIdentity& identity) {
  identity.state_machine_name = options_.name_prefix + "-" + std::to_string(++runs_);
  HPD_ASSIGN_OR_RETURN(
      json::object created,
      client_->Call("CreateStateMachine", {{"name", identity.state_machine_name},
                                           {"definition", definition},
                                           {"roleArn", identity.role_arn},
                                           {"type", execution.express ? "EXPRESS" : "STANDARD"}}));
  HPD_ASSIGN_OR_RETURN(std::string machine_arn,
                       StringMember(created, "stateMachineArn", "CreateStateMachine"));
  HPD_RETURN_IF_ERROR(AdoptArn(machine_arn, identity));
  const json::object request{
      {"stateMachineArn", machine_arn}, {"name", identity.execution_name}, {"input", input}};
  Started started;
  if (execution.express) {
    HPD_ASSIGN_OR_RETURN(json::object ended, client_->Call("StartSyncExecution", request));
    HPD_ASSIGN_OR_RETURN(started.execution_arn,
                         StringMember(ended, "executionArn", "StartSyncExecution"));
    HPD_ASSIGN_OR_RETURN(std::string status, StringMember(ended, "status", "StartSyncExecution"));
    started.status = std::move(status);
    started.sync_result = std::move(ended);
  } else {
    HPD_ASSIGN_OR_RETURN(json::object response, client_->Call("StartExecution", request));
    HPD_ASSIGN_OR_RETURN(started.execution_arn,
                         StringMember(response, "executionArn", "StartExecution"));
  }
  return started;
}

StatusOr<std::string> EndpointEngine::AwaitStatus(const std::string& arn,
                                                  const CaseExecution& execution,
                                                  MonotonicTime deadline) {
  const bool watch_history = execution.stop_when_idle || execution.unfinished;
  size_t events_seen = 0;
  MonotonicTime last_growth = clock_.MonotonicNow();
  milliseconds pause = kFirstPoll;
  while (true) {
    HPD_ASSIGN_OR_RETURN(std::string status, DescribeStatus(arn));
    if (status != "RUNNING") return status;
    const MonotonicTime now = clock_.MonotonicNow();
    if (now >= deadline) return status;
    if (watch_history) {
      HPD_ASSIGN_OR_RETURN(json::array events, History(arn));
      if (events.size() != events_seen) {
        events_seen = events.size();
        last_growth = now;
      } else if (now - last_growth >= options_.idle) {
        return status;
      }
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, kLongestPoll);
  }
}

StatusOr<std::string> EndpointEngine::DescribeStatus(const std::string& arn) {
  HPD_ASSIGN_OR_RETURN(json::object described,
                       client_->Call("DescribeExecution", {{"executionArn", arn}}));
  return StringMember(described, "status", "DescribeExecution");
}

Status EndpointEngine::Stop(const std::string& arn) {
  return client_->Call("StopExecution", {{"executionArn", arn}}).status();
}

StatusOr<json::array> EndpointEngine::History(const std::string& arn) {
  json::array events;
  std::optional<std::string> token;
  do {
    json::object request{{"executionArn", arn}, {"maxResults", kHistoryPageSize}};
    if (token) request["nextToken"] = *token;
    HPD_ASSIGN_OR_RETURN(json::object page, client_->Call("GetExecutionHistory", request));
    json::value* page_events = page.if_contains("events");
    if (page_events == nullptr || !page_events->is_array()) {
      return UnavailableError("GetExecutionHistory answered without an \"events\" array");
    }
    for (json::value& event : page_events->as_array()) events.push_back(std::move(event));
    token.reset();
    if (const json::value* next = page.if_contains("nextToken"); next && next->is_string()) {
      token = std::string(next->get_string());
    }
  } while (token);
  return events;
}

}  // namespace hpd::conformance
