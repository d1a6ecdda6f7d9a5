#include "asl_conformance/runner.h"

#include <algorithm>
#include <exception>
#include <set>
#include <utility>

#include <boost/json.hpp>

#include "asl/history.h"
#include "asl/interpreter.h"
#include "asl/parser.h"
#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "engine/corpus_functions.h"
#include "engine/in_memory_executor.h"
#include "engine/local_functions.h"

namespace hpd::conformance {
namespace {

namespace json = boost::json;

constexpr std::string_view kExpressExecutionId = "0b5e4f52-7a51-4c42-9f2e-6b3c1f0d2a77";

// The input the test really sent: the corpus keeps run-time generated values (test_wait.*'s
// start_at) as the snapshot's placeholder; regex_replacements hold the value seen at record
// time. Lambda placeholders stay, since functions are registered under them.
StatusOr<json::value> RealInput(const ConformanceCase& c) {
  std::set<std::string> lambda_placeholders;
  if (const json::array* functions = c.lambda_functions().if_array()) {
    for (const auto& f : *functions) {
      if (const json::object* o = f.if_object()) {
        if (const json::value* p = o->if_contains("placeholder"); p && p->is_string()) {
          lambda_placeholders.emplace(p->get_string());
        }
      }
    }
  }
  std::string text = SerializeJson(c.input());
  bool changed = false;
  for (const RegexReplacement& rule : c.regex_replacements()) {
    if (lambda_placeholders.contains(rule.replacement) || rule.replacement.empty()) continue;
    const std::string quoted = SerializeJson(json::value(rule.replacement));
    const std::string inner = quoted.substr(1, quoted.size() - 2);
    size_t pos = 0;
    while ((pos = text.find(inner, pos)) != std::string::npos) {
      const std::string literal = SerializeJson(json::value(rule.pattern));
      text.replace(pos, inner.size(), literal.substr(1, literal.size() - 2));
      pos += literal.size() - 2;
      changed = true;
    }
  }
  if (!changed) return c.input();
  return ParseJson(text);
}

// Differences located in the history shape, for matching skip_verify_paths: compare() walks the
// normalised list ([3].details.input), the paths name GetExecutionHistory (events[3].
// stateEnteredEventDetails.input).
Location HistoryLocation(const Location& in_list, const json::array& expected,
                         const json::array& actual) {
  Location out{std::string("events")};
  if (in_list.empty()) return out;
  const size_t* index = std::get_if<size_t>(&in_list[0]);
  if (index == nullptr) return out;
  out.emplace_back(*index);
  for (size_t k = 1; k < in_list.size(); ++k) {
    const auto* key = std::get_if<std::string>(&in_list[k]);
    if (k == 1 && key != nullptr && *key == "details") {
      std::string details_key = "details";
      for (const json::array* list : {&expected, &actual}) {
        if (*index < list->size()) {
          const json::value* dk = (*list)[*index].as_object().if_contains("detailsKey");
          if (dk != nullptr && dk->is_string()) {
            details_key = std::string(dk->get_string());
            break;
          }
        }
      }
      out.emplace_back(details_key);
    } else {
      out.push_back(in_list[k]);
    }
  }
  return out;
}

bool IsTerminalType(std::string_view type) {
  return type == "ExecutionSucceeded" || type == "ExecutionFailed" || type == "ExecutionAborted" ||
         type == "ExecutionTimedOut";
}

// The role ARN as the case recorded it: normally the fixture's "snf_role_arn"; cases deployed
// through CloudFormation kept "arn:<partition>:iam::111111111111:role/<role-name>", and then
// the execution must run under that role (with the real partition) and the role rule stays off.
std::optional<std::string> RecordedRoleArn(const ConformanceCase& c) {
  const json::array* events = c.expected_events().if_array();
  if (events == nullptr || events->empty()) return std::nullopt;
  const json::object* first = (*events)[0].if_object();
  const json::value* details = first ? first->if_contains("details") : nullptr;
  const json::value* role =
      details && details->is_object() ? details->get_object().if_contains("roleArn") : nullptr;
  if (role == nullptr || !role->is_string() || role->get_string() == "snf_role_arn") {
    return std::nullopt;
  }
  return std::string(role->get_string());
}

CaseResult Failed(std::string reason) {
  CaseResult result;
  result.verdict = Verdict::kFailed;
  result.reason = std::move(reason);
  result.hard.push_back(result.reason);
  return result;
}

}  // namespace

RunIdentity RunIdentity::Default() {
  RunIdentity identity;
  identity.start = *ParseRfc3339("2026-11-27T06:51:16Z");
  return identity;
}

std::string RunIdentity::StateMachineArn() const {
  return "arn:" + partition + ":states:" + region + ":" + account +
         ":stateMachine:" + state_machine_name;
}

std::string RunIdentity::ExecutionArn(bool express) const {
  if (express) {
    return "arn:" + partition + ":states:" + region + ":" + account +
           ":express:" + state_machine_name + ":" + execution_name + ":" +
           std::string(kExpressExecutionId);
  }
  return "arn:" + partition + ":states:" + region + ":" + account +
         ":execution:" + state_machine_name + ":" + execution_name;
}

StatusOr<ExecutionRun> RunExecution(std::shared_ptr<const asl::StateMachine> machine,
                                    const json::value& input, bool express,
                                    const json::value& lambda_functions,
                                    const RunIdentity& identity, bool stop_when_idle) {
  SimulatedClock clock(identity.start);
  engine::LocalFunctions functions(
      engine::LambdaEnvironment{identity.partition, identity.region, identity.account}, clock);
  HPD_RETURN_IF_ERROR(engine::RegisterCaseFunctions(functions, lambda_functions));

  asl::ExecutionInfo info;
  info.execution_arn = identity.ExecutionArn(express);
  info.execution_name = identity.execution_name;
  info.state_machine_arn = identity.StateMachineArn();
  info.state_machine_name = identity.state_machine_name;
  info.role_arn = identity.role_arn;
  info.start_time = clock.WallNow();
  info.random_seed = identity.random_seed;
  info.express = express;

  asl::Execution execution(std::move(machine), info);
  SeededRandom request_ids(identity.random_seed ^ 0x5eed5eed5eed5eedull);
  engine::InMemoryExecutorOptions options;
  options.max_steps = identity.max_steps;
  options.horizon = identity.horizon;
  options.stop_when_idle = stop_when_idle;
  options.runner_name = "asl-conformance";
  engine::InMemoryExecutor executor(clock, functions, request_ids, std::move(options));
  ExecutionRun run;
  const Status done = executor.RunToCompletion(execution, input, SerializeJson(input));
  run.finished = done.ok();
  run.stop_reason = std::string(done.message());
  run.status = std::string(asl::ExecutionStatusName(execution.status()));
  json::array events;
  for (const asl::HistoryEvent& event : execution.history()) {
    if (event.type == asl::HistoryEventType::kMapRunStarted) {
      const json::object details = asl::HistoryEventDetails(event);
      if (const json::value* arn = details.if_contains("mapRunArn"); arn && arn->is_string()) {
        run.map_run_arns.emplace_back(arn->get_string());
      }
    }
    events.push_back(asl::HistoryEventToJson(event));
  }
  run.history = json::object{{"events", std::move(events)}};
  return run;
}

StatusOr<NormalizeOptions> NormalizeOptionsFor(const ConformanceCase& c,
                                               const RunIdentity& identity,
                                               const std::vector<std::string>& map_run_arns) {
  NormalizeOptions options;
  options.sm_name = identity.state_machine_name;
  options.exec_name = identity.execution_name;
  options.role_arn = identity.role_arn;
  options.account = identity.account;
  options.region = identity.region;
  options.partition = identity.partition;
  options.map_run_arns = map_run_arns;
  HPD_RETURN_IF_ERROR(AddCaseNormalizeOptions(c, &options));
  return options;
}

StatusOr<ExecutionRun> InMemoryEngine::Run(const CaseExecution& execution, RunIdentity& identity) {
  return RunExecution(execution.machine, execution.input, execution.express,
                      execution.c->lambda_functions(), identity, execution.stop_when_idle);
}

CaseResult RunCase(const ConformanceCase& c, const RunIdentity& identity) {
  InMemoryEngine engine;
  return RunCase(c, identity, engine);
}

CaseResult RunCase(const ConformanceCase& c, const RunIdentity& default_identity,
                   CaseEngine& engine) {
  RunIdentity identity = default_identity;
  const std::optional<std::string> recorded_role = RecordedRoleArn(c);
  if (recorded_role) {
    identity.role_arn = *recorded_role;
    if (identity.role_arn.starts_with("arn:<partition>:")) {
      identity.role_arn.replace(0, std::string_view("arn:<partition>:").size(),
                                "arn:" + identity.partition + ":");
    }
  }
  if (auto reason = SkipReason(c)) {
    CaseResult result;
    result.verdict = Verdict::kSkipped;
    result.reason = *reason;
    return result;
  }
  std::vector<JsonPathPattern> skip_paths;
  for (const std::string& text : c.skip_verify_paths()) {
    auto pattern = JsonPathPattern::Parse(text);
    if (!pattern.ok()) return Failed("case: " + std::string(pattern.status().message()));
    skip_paths.push_back(std::move(pattern).value());
  }

  CaseExecution execution;
  execution.c = &c;
  execution.definition = SerializeJson(c.definition());
  const asl::ParseResult parsed = asl::ParseDefinition(execution.definition);
  if (!parsed.ok()) {
    return Failed("definition rejected: " + asl::DiagnosticsToText(parsed.diagnostics));
  }
  execution.machine = parsed.machine;
  auto input = RealInput(c);
  if (!input.ok()) return Failed("input: " + input.status().ToString());
  execution.input = std::move(input).value();
  execution.express = c.state_machine_type() == "EXPRESS";
  execution.stop_when_idle = c.expected_status() == "ABORTED";
  execution.unfinished = c.unfinished();

  StatusOr<ExecutionRun> run = InternalError("not run");
  try {
    run = engine.Run(execution, identity);
  } catch (const std::exception& e) {
    return Failed(std::string("exception while running: ") + e.what());
  }
  if (!run.ok()) return Failed("run: " + run.status().ToString());

  CaseResult result;
  result.history = run->history;
  std::vector<Difference> differences;
  std::vector<Location> history_locations;  // parallel to `differences`
  const auto add = [&](Location where, std::string message, Location history_location) {
    differences.push_back({std::move(where), std::move(message)});
    history_locations.push_back(std::move(history_location));
  };

  // Status.
  const std::string expected_status = c.expected_status();
  if (c.unfinished()) {
    if (run->finished) {
      add({std::string("status")},
          "expected the execution still running (" + expected_status + "), got " + run->status,
          {std::string("status")});
    }
  } else if (!run->finished) {
    add({std::string("status")}, "expected " + expected_status + ", but " + run->stop_reason,
        {std::string("status")});
  } else if (run->status != expected_status) {
    add({std::string("status")}, "expected " + expected_status + ", got " + run->status,
        {std::string("status")});
  }

  auto options = NormalizeOptionsFor(c, identity, run->map_run_arns);
  if (!options.ok()) return Failed("case: " + std::string(options.status().message()));
  options->lambdas = run->lambda_names;
  if (recorded_role) options->role_arn.clear();
  auto normalized = NormalizeHistory(run->history, *options);
  if (!normalized.ok()) return Failed("normaliser: " + normalized.status().ToString());

  Comparer comparer;
  // Final output / error / cause, from the terminal event.
  const json::object& expected = c.expected().as_object();
  const json::object* terminal_details = nullptr;
  Location terminal_location;
  if (!normalized->empty()) {
    const json::object& last = normalized->back().as_object();
    const json::value* type = last.if_contains("type");
    const json::value* details = last.if_contains("details");
    const json::value* details_key = last.if_contains("detailsKey");
    if (type && type->is_string() && IsTerminalType(type->get_string()) && details &&
        details->is_object()) {
      terminal_details = &details->get_object();
      terminal_location = {std::string("events"), normalized->size() - 1,
                           details_key && details_key->is_string()
                               ? std::string(details_key->get_string())
                               : std::string("details")};
    }
  }
  if (!c.unfinished()) {
    for (std::string_view field : {"output", "error", "cause"}) {
      const json::value* want = expected.if_contains(field);
      if (want == nullptr) continue;
      const Location where{std::string(field)};
      const json::value* got = terminal_details ? terminal_details->if_contains(field) : nullptr;
      if (got == nullptr) {
        Location in_history = terminal_location;
        in_history.emplace_back(std::string(field));
        add(where, "missing", in_history);
        continue;
      }
      // The case holds the terminal output JSON-decoded where possible; so does the actual.
      json::value actual = *got;
      if (field == "output" && actual.is_string()) {
        if (auto decoded = ParseJson(actual.get_string()); decoded.ok()) actual = *decoded;
      }
      const size_t before = comparer.differences().size();
      comparer.Compare(*want, actual, where);
      for (size_t k = before; k < comparer.differences().size(); ++k) {
        const Difference& d = comparer.differences()[k];
        Location in_history = terminal_location;
        in_history.insert(in_history.end(), d.location.begin(), d.location.end());
        add(d.location, d.message, in_history);
      }
    }
  }

  // Events.
  if (const json::array* want = c.expected_events().if_array()) {
    json::array got = *normalized;
    if (c.unfinished() && got.size() > want->size()) got.resize(want->size());
    // A few cases recorded GetExecutionHistory with reverseOrder=true.
    if (const json::value* order = expected.if_contains("events_order");
        order != nullptr && order->is_string() && order->get_string().starts_with("reversed")) {
      std::reverse(got.begin(), got.end());
    }
    const size_t before = comparer.differences().size();
    comparer.Compare(*want, got, {});
    for (size_t k = before; k < comparer.differences().size(); ++k) {
      const Difference& d = comparer.differences()[k];
      Location where{std::string("events")};
      where.insert(where.end(), d.location.begin(), d.location.end());
      add(std::move(where), d.message, HistoryLocation(d.location, *want, got));
    }
  }

  for (size_t k = 0; k < differences.size(); ++k) {
    const Location& in_history = history_locations[k];
    bool soft = false;
    for (const JsonPathPattern& pattern : skip_paths) {
      if (pattern.MatchesPrefixOf(differences[k].location) || pattern.MatchesPrefixOf(in_history)) {
        soft = true;
        break;
      }
    }
    std::string line = RenderLocation(differences[k].location) + ": " + differences[k].message;
    (soft ? result.soft : result.hard).push_back(std::move(line));
  }
  result.verdict = result.hard.empty() ? Verdict::kPassed : Verdict::kFailed;
  if (!result.hard.empty()) result.reason = result.hard.front();
  return result;
}

}  // namespace hpd::conformance
