// Throughput, latency and peak memory of the ASL interpreter on the engine-neutral workloads in
// ../shared/bench/workloads, measured the way the aws-local-stepfunctions baseline was
// (../shared/bench/aws-local-stepfunctions/bench.mjs), so the two can be compared row by row.
//
//   engine_bench [--workloads DIR] [--target-s T] [--warmup-s W] [--only a,b] [--json FILE]
//   engine_bench --once NAME     # parse + run one execution + check, nothing else (cold start)
//
// Per workload, in a child process of this binary (`engine_bench --only NAME --child`, spawned
// with posix_spawn) so that its peak RSS is its own: parse the definition once, one checked
// execution (result as the workloads README states it; StateEntered events of the history counted
// and compared with the README's number; LambdaFunctionScheduled events counted), warm-up (>= W
// seconds and >= 3 executions), then N sequential executions with N sized from the warm-up so the
// timed loop takes ~T seconds. Every execution is a fresh asl::Execution of the same parsed
// StateMachine, driven to completion by engine::InMemoryExecutor with the local functions of
// engine/bench_functions.h (flaky and the hyperpod_like ones). Time is a SimulatedClock, as
// `hpdeploy run --time-scale 0` runs: a timer (a Retry interval, a Wait) fires as soon as nothing
// else is left to do and the clock jumps to its deadline; the peer gets the same with its 0 ms
// retry-interval override. The child prints one JSON line; the parent prints a table and writes
// --json.
//
// The workloads, their checks and the measuring tools are bench/workloads.h's, shared with
// durable_bench.
//
// Timing uses std::chrono::steady_clock directly: this is a benchmark, not engine logic.
// Peak RSS is getrusage(RUSAGE_SELF).ru_maxrss of the child; VmHWM of /proc/self/status (which an
// exec never inherits) is reported beside it as a cross-check.
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl/history.h"
#include "asl/interpreter.h"
#include "bench/workloads.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/random.h"
#include "common/status.h"
#include "engine/bench_functions.h"
#include "engine/in_memory_executor.h"
#include "engine/local_functions.h"

#ifndef HPD_BENCH_SHARED_DIR
#define HPD_BENCH_SHARED_DIR "../shared"
#endif

namespace {

namespace json = boost::json;
using hpd::bench::ChildResult;
using hpd::bench::Fixed;
using hpd::bench::MaxRssMiB;
using hpd::bench::Ms;
using hpd::bench::ProcStatusMiB;
using hpd::bench::SteadyClock;
using hpd::bench::Workload;

struct Options : hpd::bench::WorkloadOptions {
  bool child = false;
  std::string once;
  int64_t repeat = 0;  // --repeat N: run exactly N executions and report RSS as they go
};

// One workload, in this process. Prints one JSON line on stdout; returns the exit code.
class WorkloadRun {
 public:
  WorkloadRun(const Workload& w, const Options& opt)
      : w_(w),
        opt_(opt),
        clock_(kStart),
        functions_({}, clock_),
        ids_(0x1d5eed),
        executor_(clock_, functions_, ids_, ExecutorOptions()) {}

  static hpd::engine::InMemoryExecutorOptions ExecutorOptions() {
    hpd::engine::InMemoryExecutorOptions options;
    options.runner_name = "engine_bench";
    return options;
  }

  // Parses the definition and the input and registers the functions. "" or what is wrong.
  std::string Load() {
    if (std::string e = hpd::bench::LoadWorkload(w_, opt_.workloads_dir, &loaded_); !e.empty()) {
      return e;
    }
    hpd::Status s = hpd::engine::RegisterBenchFunctions(functions_);
    if (!s.ok()) return s.ToString();
    return "";
  }

  // One execution. Returns "" or what went wrong; keeps the execution in *out when given.
  std::string RunOnce(std::unique_ptr<hpd::asl::Execution>* out = nullptr) {
    hpd::asl::ExecutionInfo info;
    info.execution_name = "bench-" + std::to_string(count_);
    info.execution_arn =
        "arn:aws:states:us-east-1:123456789012:execution:bench:" + info.execution_name;
    info.state_machine_name = "bench";
    info.state_machine_arn = "arn:aws:states:us-east-1:123456789012:stateMachine:bench";
    info.role_arn = "arn:aws:iam::123456789012:role/bench";
    info.start_time = clock_.WallNow();
    info.random_seed = count_;
    // As EXPRESS: choice_loop's 40,008 events exceed a STANDARD history's 25,000-event limit
    // (the peer enforces no limit either).
    info.express = true;
    ++count_;
    const hpd::WallTime start = info.start_time;
    auto execution = std::make_unique<hpd::asl::Execution>(loaded_.machine, std::move(info));
    hpd::Status run =
        executor_.RunToCompletion(*execution, loaded_.input, loaded_.input_text, start);
    if (!run.ok()) return run.ToString();
    if (std::string wrong = hpd::bench::CheckStatus(w_, ExecutionStatusName(execution->status()),
                                                    execution->error(), execution->cause());
        !wrong.empty()) {
      return wrong;
    }
    if (out != nullptr) *out = std::move(execution);
    return "";
  }

  // --repeat: N checked executions in a row; prints resident memory at fixed points so that
  // growth (a leak) shows. Build with -DHPD_SANITIZE=ON to have LeakSanitizer check at exit.
  int Repeat(int64_t n) {
    if (std::string e = Verify(); !e.empty()) return Fail(e);
    std::printf("%s: %lld executions; VmRSS MiB after each tenth:", w_.name.c_str(),
                static_cast<long long>(n));
    for (int64_t i = 1; i <= n; ++i) {
      if (std::string e = RunOnce(); !e.empty()) return Fail(e);
      if (i % std::max<int64_t>(1, n / 10) == 0) std::printf(" %.1f", ProcStatusMiB("VmRSS:"));
    }
    std::printf("\n%s: peak (VmHWM) %.1f MiB\n", w_.name.c_str(), ProcStatusMiB("VmHWM:"));
    return 0;
  }

  // The checked run: result, StateEntered events, Lambda invocations (flaky's attempts).
  std::string Verify() {
    std::unique_ptr<hpd::asl::Execution> execution;
    std::string error = RunOnce(&execution);
    if (!error.empty()) return error;
    counts_ = hpd::bench::CountHistory(execution->history());
    if (std::string wrong = hpd::bench::CheckCounts(w_, counts_); !wrong.empty()) return wrong;
    return hpd::bench::CheckOutput(loaded_, execution->output());
  }

  int Measure() {
    if (std::string e = Verify(); !e.empty()) return Fail(e);

    int64_t warm_n = 0;
    const auto w0 = SteadyClock::now();
    while (warm_n < 3 || Ms(SteadyClock::now() - w0) < opt_.warmup_s * 1000.0) {
      if (std::string e = RunOnce(); !e.empty()) return Fail("warm-up: " + e);
      ++warm_n;
    }
    const double est_ms = Ms(SteadyClock::now() - w0) / static_cast<double>(warm_n);
    const auto n = static_cast<size_t>(
        std::clamp(std::ceil(opt_.target_s * 1000.0 / std::max(est_ms, 1e-6)), 5.0, 20'000'000.0));

    const double rss_before = ProcStatusMiB("VmRSS:");
    std::vector<double> lat(n);
    const auto t0 = SteadyClock::now();
    for (size_t i = 0; i < n; ++i) {
      const auto s = SteadyClock::now();
      if (std::string e = RunOnce(); !e.empty())
        return Fail("execution " + std::to_string(i) + ": " + e);
      lat[i] = Ms(SteadyClock::now() - s);
    }
    const double total_ms = Ms(SteadyClock::now() - t0);

    std::vector<double> sorted = lat;
    std::sort(sorted.begin(), sorted.end());
    auto q = [&](double p) { return hpd::bench::Quantile(sorted, p); };
    double sum = 0;
    for (double x : sorted) sum += x;
    const double secs = total_ms / 1000.0;
    json::object r;
    r["name"] = w_.name;
    r["engine"] = "hpdeploy asl::Execution (in memory, time-scale 0)";
    r["n"] = n;
    r["totalS"] = secs;
    r["statesPerExec"] = counts_.states_entered;
    r["stateEnteredEventsLogged"] = counts_.states_entered;
    r["historyEventsPerExec"] = counts_.events;
    r["lambdaInvocationsPerExec"] = counts_.lambda_calls;
    r["execPerSec"] = static_cast<double>(n) / secs;
    r["statesPerSec"] = static_cast<double>(n) * static_cast<double>(counts_.states_entered) / secs;
    r["meanMs"] = sum / static_cast<double>(n);
    r["p50Ms"] = q(0.5);
    r["p99Ms"] = q(0.99);
    r["maxMs"] = sorted.back();
    r["minMs"] = sorted.front();
    r["peakRssKernelMiB"] = MaxRssMiB();
    r["vmHwmMiB"] = ProcStatusMiB("VmHWM:");
    r["rssBeforeLoopMiB"] = rss_before;
    r["parseMs"] = loaded_.parse_ms;
    r["warmupN"] = warm_n;
    r["verified"] = "yes";
    std::cout << hpd::SerializeJson(r) << std::endl;
    return 0;
  }

  int Fail(const std::string& why) {
    std::cerr << "[" << w_.name << "] " << why << "\n";
    return 1;
  }

 private:
  static constexpr hpd::WallTime kStart = hpd::WallTime(std::chrono::seconds(1'767'225'600));

  const Workload& w_;
  const Options& opt_;
  hpd::SimulatedClock clock_;  // time-scale 0: the executor jumps it to the next timer
  hpd::engine::LocalFunctions functions_;
  hpd::SeededRandom ids_;
  hpd::engine::InMemoryExecutor executor_;
  hpd::bench::LoadedWorkload loaded_;
  uint64_t count_ = 0;
  hpd::bench::HistoryCounts counts_;
};

// Parent: one child per workload.

double Num(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v == nullptr ? 0.0 : v->to_number<double>();
}

int RunDriver(const Options& opt, const std::vector<std::string>& names) {
  json::array results;
  bool all_ok = true;
  for (const std::string& name : names) {
    std::cerr << "[" << name << "] running (~" << opt.target_s + opt.warmup_s << " s)...\n";
    ChildResult c = hpd::bench::SpawnSelf({"engine_bench", "--child", "--only", name, "--workloads",
                                           opt.workloads_dir, "--target-s", Fixed(opt.target_s, 3),
                                           "--warmup-s", Fixed(opt.warmup_s, 3)});
    std::string line;
    std::istringstream lines(c.out);
    for (std::string l; std::getline(lines, l);) {
      if (l.starts_with("{")) line = l;
    }
    if (c.exit_code != 0 || line.empty()) {
      std::cerr << "[" << name << "] FAILED (exit " << c.exit_code << ")\n";
      results.push_back(
          json::object{{"name", name}, {"error", "exit " + std::to_string(c.exit_code)}});
      all_ok = false;
      continue;
    }
    auto parsed = hpd::ParseJson(line);
    if (!parsed.ok() || !parsed->is_object()) {
      std::cerr << "[" << name << "] unreadable child output\n";
      results.push_back(json::object{{"name", name}, {"error", "unreadable child output"}});
      all_ok = false;
      continue;
    }
    std::cerr << "[" << name << "] done: " << Fixed(Num(parsed->as_object(), "execPerSec"), 2)
              << " exec/s\n";
    results.push_back(std::move(parsed).value());
  }

  std::cout << "engine_bench: asl::Execution in memory, time-scale 0, " << opt.target_s
            << " s target per workload, " << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs\n";
  std::cout << "| workload | N | states/exec | exec/s | states/s | mean ms | p50 ms | p99 ms | "
               "max ms | peak RSS MiB (ru_maxrss / VmHWM) | RSS before loop MiB | parse ms | "
               "verified |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const json::value& v : results) {
    const json::object& r = v.as_object();
    if (r.contains("error")) {
      std::cout << "| " << r.at("name").as_string().c_str()
                << " | FAILED: " << r.at("error").as_string().c_str() << " |\n";
      continue;
    }
    const double eps = Num(r, "execPerSec");
    std::cout << "| " << r.at("name").as_string().c_str() << " | "
              << static_cast<int64_t>(Num(r, "n")) << " | "
              << static_cast<int64_t>(Num(r, "statesPerExec")) << " | "
              << Fixed(eps, eps < 100 ? 2 : 0) << " | " << Fixed(Num(r, "statesPerSec"), 0) << " | "
              << Fixed(Num(r, "meanMs"), 4) << " | " << Fixed(Num(r, "p50Ms"), 4) << " | "
              << Fixed(Num(r, "p99Ms"), 4) << " | " << Fixed(Num(r, "maxMs"), 4) << " | "
              << Fixed(Num(r, "peakRssKernelMiB"), 1) << " / " << Fixed(Num(r, "vmHwmMiB"), 1)
              << " | " << Fixed(Num(r, "rssBeforeLoopMiB"), 1) << " | "
              << Fixed(Num(r, "parseMs"), 2) << " | " << r.at("verified").as_string().c_str()
              << " |\n";
  }
  if (int written = hpd::bench::WriteResults(opt, "hpdeploy", {{"timeScale", 0}}, results);
      written != 0) {
    return written;
  }
  return all_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "engine_bench: throughput, latency and peak memory of the ASL interpreter on the shared "
      "bench workloads, one child process per workload.",
      "engine_bench"};
  Options opt;
  hpd::bench::AddWorkloadOptions(app, &opt);
  app.add_option("--once", opt.once,
                 "parse + one checked execution of workload NAME, nothing else (cold start)")
      ->type_name("NAME");
  app.add_option("--repeat", opt.repeat,
                 "N checked executions of the one --only workload, printing resident memory as "
                 "they go (a leak shows)")
      ->type_name("N");
  app.add_flag("--child", opt.child, "measure the one --only workload in this process")
      ->group("");  // how the driver runs each workload: not for a user
  if (auto exit_code = hpd::bench::ParseCommandLine(app, argc, argv)) return *exit_code;
  opt.workloads_dir = hpd::bench::WorkloadsDir(opt.workloads_dir, HPD_BENCH_SHARED_DIR);

  if (opt.repeat > 0) {
    if (opt.only.size() != 1) {
      return hpd::bench::UsageError(app, "--repeat needs one --only workload");
    }
    WorkloadRun run(*hpd::bench::FindWorkload(opt.only[0]), opt);
    if (std::string e = run.Load(); !e.empty()) return run.Fail(e);
    return run.Repeat(opt.repeat);
  }
  if (!opt.once.empty() || opt.child) {
    const std::string name =
        !opt.once.empty() ? opt.once : (opt.only.size() == 1 ? opt.only[0] : "");
    const Workload* w = hpd::bench::FindWorkload(name);
    if (w == nullptr) {
      return hpd::bench::UsageError(app, opt.once.empty() ? "--child needs one --only workload"
                                                          : "--once: unknown workload " + name);
    }
    WorkloadRun run(*w, opt);
    if (std::string e = run.Load(); !e.empty()) return run.Fail(e);
    if (!opt.once.empty()) {
      std::string e = run.Verify();
      return e.empty() ? 0 : run.Fail(e);
    }
    return run.Measure();
  }

  return RunDriver(opt, opt.only.empty() ? hpd::bench::DefaultWorkloadSet() : opt.only);
}
