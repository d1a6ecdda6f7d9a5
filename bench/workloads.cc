#include "bench/workloads.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <sstream>
#include <utility>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl/parser.h"
#include "common/json.h"

extern char** environ;

namespace hpd::bench {
namespace {

namespace json = boost::json;

constexpr int kExitUsage = 2;  // a bad command line, or --json cannot be written

// A check of a number's value: "" when it is not a number at all (CLI11's conversion says so).
CLI::Validator NumberCheck(bool (*ok)(double), std::string what) {
  return CLI::Validator(
      [ok, what = std::move(what)](std::string& text) -> std::string {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || ok(x)) return "";
        return "must be " + what + ", not " + text;
      },
      "");
}

const json::value* At(const json::value& v, std::initializer_list<std::string_view> keys) {
  const json::value* cur = &v;
  for (std::string_view k : keys) {
    const json::object* o = cur->if_object();
    if (o == nullptr) return nullptr;
    cur = o->if_contains(k);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

bool Is(const json::value* v, const json::value& expected) {
  return v != nullptr && *v == expected;
}

std::string CheckRetryCatch(const json::value& r, const json::value&) {
  if (!Is(At(r, {"last"}), json::value{{"ok", true}, {"n", 99}, {"attempt", 3}})) {
    return "last != {ok:true, n:99, attempt:3}";
  }
  if (At(r, {"error"}) != nullptr) return "output has an error member";
  return "";
}

std::vector<Workload> MakeWorkloads() {
  std::vector<Workload> w;
  w.push_back({"pass_chain_1000", "pass_chain_1000.asl.json", "pass_chain_1000.input.json", 1000,
               "", 0, [](const json::value& r, const json::value&) -> std::string {
                 if (!Is(At(r, {"last", "step"}), 999)) return "last.step != 999";
                 if (!Is(At(r, {"last", "value"}), 42)) return "last.value != 42";
                 if (!Is(At(r, {"value"}), 42)) return "value != 42";
                 return "";
               }});
  w.push_back({"choice_loop", "choice_loop.asl.json", "choice_loop.input.json", 20003, "", 0,
               [](const json::value& r, const json::value&) -> std::string {
                 if (!Is(At(r, {"i"}), 10000)) return "i != 10000";
                 if (!Is(At(r, {"label"}), "loop")) return "label != \"loop\"";
                 return "";
               }});
  w.push_back({"map_1000", "map_1000.asl.json", "map_1000.input.json", 3001, "", 0,
               [](const json::value& r, const json::value& in) -> std::string {
                 const json::value* results = At(r, {"results"});
                 if (results == nullptr || !results->is_array()) return "no results array";
                 const json::array& a = results->get_array();
                 if (a.size() != 1000) return "results has " + std::to_string(a.size()) + " items";
                 for (int64_t k = 0; k < 1000; ++k) {
                   const json::value expected{{"index", k}, {"id", k}, {"w", k % 7}};
                   if (a[static_cast<size_t>(k)] != expected) {
                     return "results[" + std::to_string(k) +
                            "] = " + hpd::SerializeJson(a[static_cast<size_t>(k)]);
                   }
                 }
                 if (!Is(At(r, {"items"}), *At(in, {"items"}))) return "items changed";
                 return "";
               }});
  w.push_back({"parallel_fanout", "parallel_fanout.asl.json", "parallel_fanout.input.json", 10101,
               "", 0, [](const json::value& r, const json::value& in) -> std::string {
                 const json::array* a = r.if_array();
                 const json::array& items = At(in, {"items"})->as_array();
                 if (a == nullptr || a->size() != items.size()) return "not 100 arrays";
                 for (size_t i = 0; i < a->size(); ++i) {
                   const json::array* inner = (*a)[i].if_array();
                   if (inner == nullptr || inner->size() != 10) return "item " + std::to_string(i);
                   for (const json::value& x : *inner) {
                     if (x != items[i]) return "item " + std::to_string(i) + " has a wrong copy";
                   }
                 }
                 return "";
               }});
  w.push_back({"retry_catch", "retry_catch.asl.json", "retry_catch.input.json", 101, "", 300,
               CheckRetryCatch});
  w.push_back({"retry_catch_spec", "retry_catch_spec.asl.json", "retry_catch.input.json", 101, "",
               300, CheckRetryCatch});
  w.push_back({"hyperpod_like", "hyperpod_like.asl.json", "hyperpod_like.input.json", 5, "", 4,
               [](const json::value& r, const json::value&) -> std::string {
                 if (!Is(At(r, {"persist", "persisted"}), true)) return "persist.persisted";
                 if (!Is(At(r, {"persist", "key"}), "hp-cluster-1/task-hp-cluster-1-0001")) {
                   return "persist.key";
                 }
                 if (!Is(At(r, {"run", "taskId"}), "task-hp-cluster-1-0001")) return "run.taskId";
                 if (At(r, {"run", "ignored"}) != nullptr) return "run.ignored present";
                 return "";
               }});
  w.push_back({"hyperpod_like_fail", "hyperpod_like.asl.json", "hyperpod_like_fail.input.json", 6,
               "DeploymentFailed", 5, nullptr});
  return w;
}

}  // namespace

const std::vector<Workload>& AllWorkloads() {
  static const std::vector<Workload> workloads = MakeWorkloads();
  return workloads;
}

const std::vector<std::string>& DefaultWorkloadSet() {
  static const std::vector<std::string> names = {
      "pass_chain_1000", "choice_loop",   "map_1000",          "parallel_fanout",
      "retry_catch",     "hyperpod_like", "hyperpod_like_fail"};
  return names;
}

const Workload* FindWorkload(std::string_view name) {
  for (const Workload& w : AllWorkloads()) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

std::string WorkloadNames() {
  std::string names;
  for (const Workload& w : AllWorkloads()) {
    if (!names.empty()) names += ' ';
    names += w.name;
  }
  return names;
}

std::string WorkloadsDir(const std::string& given, const std::string& configured_shared_dir) {
  if (!given.empty()) return given;
  const std::string relative = "../shared/bench/workloads";
  if (std::filesystem::exists(relative)) return relative;
  return configured_shared_dir + "/bench/workloads";
}

std::string LoadWorkload(const Workload& w, const std::filesystem::path& dir, LoadedWorkload* out) {
  auto def = ReadFile(dir / w.asl);
  auto in = ReadFile(dir / w.input);
  if (!def || !in) return "cannot read " + (dir / (def ? w.input : w.asl)).string();
  out->workload = &w;
  const auto t0 = SteadyClock::now();
  asl::ParseResult parsed = asl::ParseDefinition(*def);
  out->parse_ms = Ms(SteadyClock::now() - t0);
  if (!parsed.ok()) return w.asl + " is invalid:\n" + DiagnosticsToText(parsed.diagnostics);
  out->definition = std::move(*def);
  out->machine = parsed.machine;
  out->input_text = std::move(*in);
  auto input = ParseJson(out->input_text);
  if (!input.ok()) return w.input + ": " + input.status().ToString();
  out->input = std::move(input).value();
  return "";
}

std::string CheckStatus(const Workload& w, std::string_view status, std::string_view error,
                        std::string_view cause) {
  if (!w.expect_error.empty()) {
    if (status != "FAILED" || error != w.expect_error) {
      return "expected FAILED with " + w.expect_error + ", got " + std::string(status) + " " +
             std::string(error) + " " + std::string(cause);
    }
    return "";
  }
  if (status != "SUCCEEDED") {
    return "expected SUCCEEDED, got " + std::string(status) + ": " + std::string(error) + " " +
           std::string(cause);
  }
  return "";
}

std::string CheckOutput(const LoadedWorkload& loaded, const std::optional<std::string>& output) {
  const Workload& w = *loaded.workload;
  if (!w.check) return "";
  auto parsed = ParseJson(output.value_or("null"));
  if (!parsed.ok()) return "output is not JSON: " + parsed.status().ToString();
  std::string wrong = w.check(*parsed, loaded.input);
  if (!wrong.empty()) return "wrong output (" + wrong + ")";
  return "";
}

HistoryCounts CountHistory(const std::vector<asl::HistoryEvent>& history) {
  HistoryCounts counts;
  counts.events = static_cast<int64_t>(history.size());
  for (const asl::HistoryEvent& e : history) {
    if (HistoryEventTypeName(e.type).ends_with("StateEntered")) ++counts.states_entered;
    if (e.type == asl::HistoryEventType::kLambdaFunctionScheduled) ++counts.lambda_calls;
  }
  return counts;
}

std::string CheckCounts(const Workload& w, const HistoryCounts& counts) {
  if (counts.states_entered != w.expect_states) {
    return "history has " + std::to_string(counts.states_entered) +
           " StateEntered events, the workloads README says " + std::to_string(w.expect_states);
  }
  if (w.expect_lambda_calls != 0 && counts.lambda_calls != w.expect_lambda_calls) {
    return "history has " + std::to_string(counts.lambda_calls) +
           " LambdaFunctionScheduled events, expected " + std::to_string(w.expect_lambda_calls);
  }
  return "";
}

CLI::Validator AboveZero() {
  return NumberCheck([](double x) { return x > 0; }, "> 0");
}

CLI::Validator NotNegative() {
  return NumberCheck([](double x) { return x >= 0; }, ">= 0");
}

CLI::Option* AddWarmupOption(CLI::App& app, double* warmup_s) {
  return app.add_option("--warmup-s", *warmup_s, "seconds of warm-up before measuring")
      ->type_name("W")
      ->check(NotNegative())
      ->capture_default_str();
}

CLI::Option* AddJsonOption(CLI::App& app, std::string* json_path) {
  return app.add_option("--json", *json_path, "also write the results to FILE as JSON")
      ->type_name("FILE");
}

void AddWorkloadOptions(CLI::App& app, WorkloadOptions* opt) {
  app.add_option("--workloads", opt->workloads_dir,
                 "the workloads' directory (default: ../shared/bench/workloads when it exists, "
                 "else bench/workloads of the configured HPD_SHARED_DIR)")
      ->type_name("DIR");
  app.add_option("--target-s", opt->target_s, "seconds of timed executions per workload")
      ->type_name("T")
      ->check(AboveZero())
      ->capture_default_str();
  AddWarmupOption(app, &opt->warmup_s);
  std::string default_set;
  for (const std::string& name : DefaultWorkloadSet()) {
    default_set += (default_set.empty() ? "" : ",") + name;
  }
  app.add_option_function<std::string>(
         "--only",
         [opt](const std::string& list) {
           opt->only = SplitList(list);
           for (const std::string& name : opt->only) {
             if (FindWorkload(name) == nullptr) {
               throw CLI::ValidationError("--only", "unknown workload " + name);
             }
           }
         },
         "the workloads to run, comma-separated (default: " + default_set + ")")
      ->type_name("a,b,...");
  AddJsonOption(app, &opt->json_path);
  app.footer("workloads: " + WorkloadNames());
}

std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv) {
  for (CLI::Option* option : app.get_options()) {
    if (option->get_items_expected_max() == 1) {
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message
    return kExitUsage;
  }
  return std::nullopt;
}

int UsageError(const CLI::App& app, const std::string& message) {
  app.exit(CLI::ValidationError(message));
  return kExitUsage;
}

bool WriteJsonFile(const std::string& path, const json::value& value) {
  std::ofstream out(path);
  out << SerializeJsonPretty(value) << "\n";
  return static_cast<bool>(out);
}

int WriteResults(const WorkloadOptions& opt, std::string_view engine,
                 const json::object& extra_meta, const json::array& results) {
  if (opt.json_path.empty()) return 0;
  json::object meta{
      {"engine", engine}, {"targetSeconds", opt.target_s}, {"warmupSeconds", opt.warmup_s}};
  for (const json::key_value_pair& field : extra_meta) meta.emplace(field.key(), field.value());
  meta.emplace("cpus", sysconf(_SC_NPROCESSORS_ONLN));
  meta.emplace("workloads", opt.workloads_dir);
  if (!WriteJsonFile(opt.json_path,
                     json::object{{"meta", std::move(meta)}, {"results", results}})) {
    std::cerr << "cannot write " << opt.json_path << "\n";
    return kExitUsage;
  }
  return 0;
}

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double MaxRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

double ProcStatusMiB(std::string_view key, pid_t pid) {
  std::ifstream in(pid == 0 ? std::string("/proc/self/status")
                            : "/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(key)) return std::strtod(line.c_str() + key.size(), nullptr) / 1024.0;
  }
  return 0;
}

double Quantile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t n = sorted.size();
  const auto k = static_cast<size_t>(std::ceil(p * static_cast<double>(n)));
  return sorted[std::min(n - 1, k == 0 ? 0 : k - 1)];
}

ChildResult SpawnSelf(const std::vector<std::string>& argv) {
  ChildResult result;
  int fds[2];
  if (pipe(fds) != 0) return result;
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    std::cerr << "posix_spawn failed: " << rc << "\n";
    return result;
  }
  char buf[4096];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof buf)) > 0) {
    result.out.append(buf, static_cast<size_t>(got));
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::optional<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Fixed(double x, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string part; std::getline(in, part, ',');) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

}  // namespace hpd::bench
