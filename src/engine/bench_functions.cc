#include "engine/bench_functions.h"

#include <array>
#include <boost/json.hpp>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "common/json.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;

constexpr std::array kBenchFunctions = {
    LocalFunctionSummary{"flaky",
                         "raises FlakyError twice per distinct event, then returns "
                         "{ok: true, n, attempt: 3}"},
    LocalFunctionSummary{"prepare", "returns {plan: \"plan-<cluster>-<region>\", nodes, ready}"},
    LocalFunctionSummary{"run_task",
                         "raises TaskLaunchError if failAt == \"run_task\", else returns "
                         "{taskId, status: \"RUNNING\", plan, ignored}"},
    LocalFunctionSummary{"validate",
                         "raises ValidationError if failAt == \"validate\", else returns "
                         "{healthy: true, checkedNodes, taskId}"},
    LocalFunctionSummary{"persist",
                         "returns {persisted: true, key: \"<cluster>/<taskId>\", healthy}"},
    LocalFunctionSummary{"cleanup", "returns {cleaned: true, cluster}"},
    LocalFunctionSummary{"record_failure", "returns {recorded: true, cluster, error}"},
};

Status Raise(std::string type, std::string message) {
  Status status = UnknownError(std::move(message));
  status.SetErrorName(std::move(type));
  return status;
}

const json::value* Member(const json::value& event, std::string_view key) {
  const json::object* object = event.if_object();
  return object == nullptr ? nullptr : object->if_contains(key);
}

// Appends a member as a JavaScript template literal renders it.
void AppendText(const json::value& event, std::string_view key, std::string* out) {
  const json::value* value = Member(event, key);
  if (value == nullptr) {
    out->append("undefined");
  } else if (const json::string* s = value->if_string()) {
    out->append(s->data(), s->size());
  } else {
    AppendJson(*value, out);
  }
}

// Copies event[key] into out[as] when present (JSON.stringify drops undefined members).
void CopyMember(const json::value& event, std::string_view key, json::object& out,
                std::string_view as) {
  if (const json::value* value = Member(event, key)) out[as] = *value;
}

bool FailAt(const json::value& event, std::string_view step) {
  const json::value* value = Member(event, "failAt");
  return value != nullptr && value->is_string() && value->get_string() == step;
}

// Attempts per distinct event since its last success. Shared by the copies of the handler.
// Events are told apart by their integer "n" when they have one: each workload Task sends its own
// n, and serialising every event would cost more than the rest of the call. Other events are
// told apart by their JSON text.
class FlakyCounter {
 public:
  StatusOr<json::value> operator()(const json::value& event, const LambdaContext&) {
    const json::value* n = Member(event, "n");
    const bool by_n = n != nullptr && n->is_int64();
    std::string text;
    if (!by_n) text = SerializeJson(event);
    int attempt = 0;
    {
      std::lock_guard lock(mu_);
      if (by_n) {
        attempt = Count(attempts_by_n_, n->get_int64());
      } else {
        attempt = Count(attempts_by_text_, text);
      }
    }
    if (attempt < kSucceedsOnAttempt) {
      std::string message = "attempt ";
      message += static_cast<char>('0' + attempt);  // 1 or 2
      message += " failed";
      return Raise("FlakyError", std::move(message));
    }
    json::object out(3);
    out.emplace("ok", true);
    if (n != nullptr) out.emplace("n", *n);  // JSON.stringify drops an undefined n
    out.emplace("attempt", attempt);
    return json::value(std::move(out));
  }

 private:
  static constexpr int kSucceedsOnAttempt = 3;

  // Counts one more attempt for `key` and returns it; forgets `key` on the succeeding attempt.
  template <typename Map, typename Key>
  static int Count(Map& attempts, const Key& key) {
    auto it = attempts.try_emplace(key, 0).first;
    const int attempt = ++it->second;
    if (attempt >= kSucceedsOnAttempt) attempts.erase(it);
    return attempt;
  }

  std::mutex mu_;
  boost::unordered_flat_map<int64_t, int> attempts_by_n_;  // guarded by mu_
  std::unordered_map<std::string, int> attempts_by_text_;  // guarded by mu_
};

StatusOr<json::value> Prepare(const json::value& event, const LambdaContext&) {
  json::object out;
  std::string plan = "plan-";
  AppendText(event, "cluster", &plan);
  plan.push_back('-');
  AppendText(event, "region", &plan);
  out["plan"] = plan;
  CopyMember(event, "nodes", out, "nodes");
  out["ready"] = true;
  return json::value(std::move(out));
}

StatusOr<json::value> RunTask(const json::value& event, const LambdaContext&) {
  if (FailAt(event, "run_task")) return Raise("TaskLaunchError", "could not start task");
  json::object out;
  std::string task_id = "task-";
  AppendText(event, "cluster", &task_id);
  task_id.append("-0001");
  out["taskId"] = task_id;
  out["status"] = "RUNNING";
  CopyMember(event, "plan", out, "plan");
  out["ignored"] = json::array{1, 2, 3};
  return json::value(std::move(out));
}

StatusOr<json::value> Validate(const json::value& event, const LambdaContext&) {
  if (FailAt(event, "validate")) {
    std::string message = "health check failed on ";
    AppendText(event, "taskId", &message);
    return Raise("ValidationError", std::move(message));
  }
  json::object out;
  out["healthy"] = true;
  CopyMember(event, "nodes", out, "checkedNodes");
  CopyMember(event, "taskId", out, "taskId");
  return json::value(std::move(out));
}

StatusOr<json::value> Persist(const json::value& event, const LambdaContext&) {
  json::object out;
  out["persisted"] = true;
  std::string key;
  AppendText(event, "cluster", &key);
  key.push_back('/');
  AppendText(event, "taskId", &key);
  out["key"] = key;
  CopyMember(event, "healthy", out, "healthy");
  return json::value(std::move(out));
}

StatusOr<json::value> Cleanup(const json::value& event, const LambdaContext&) {
  json::object out;
  out["cleaned"] = true;
  CopyMember(event, "cluster", out, "cluster");
  return json::value(std::move(out));
}

StatusOr<json::value> RecordFailure(const json::value& event, const LambdaContext&) {
  json::object out;
  out["recorded"] = true;
  CopyMember(event, "cluster", out, "cluster");
  CopyMember(event, "error", out, "error");
  return json::value(std::move(out));
}

}  // namespace

std::span<const LocalFunctionSummary> BenchFunctions() { return kBenchFunctions; }

Status RegisterBenchFunctions(LocalFunctions& functions) {
  auto flaky = std::make_shared<FlakyCounter>();
  const std::pair<std::string_view, LambdaHandler> handlers[] = {
      {"flaky", [flaky](const json::value& event,
                        const LambdaContext& context) { return (*flaky)(event, context); }},
      {"prepare", Prepare},
      {"run_task", RunTask},
      {"validate", Validate},
      {"persist", Persist},
      {"cleanup", Cleanup},
      {"record_failure", RecordFailure},
  };
  static_assert(std::extent_v<decltype(handlers)> == kBenchFunctions.size());
  FunctionOptions options;
  options.local_only = true;  // they compute their result (flaky counts in memory), nothing else
  for (const auto& [name, handler] : handlers) {
    HPD_RETURN_IF_ERROR(functions.Register(std::string(name), handler, options));
  }
  return Status::Ok();
}

}  // namespace hpd::engine
