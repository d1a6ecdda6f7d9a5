// The engine-neutral workloads of ../shared/bench/workloads (README there) as the benchmarks
// run and check them, and the measuring tools the benchmarks share: engine_bench (in memory) and
// durable_bench (through engine::Runtime and a journal) load and check a workload the same way,
// so their figures count the same things.
//
// Checks: the execution's end (status; error for the failing workload; the output as the
// workloads README states it), the `*StateEntered` events of its history against the README's
// states per execution, and its LambdaFunctionScheduled events (flaky's 300 attempts in
// retry_catch).
#ifndef HPD_BENCH_WORKLOADS_H_
#define HPD_BENCH_WORKLOADS_H_

#include <sys/types.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "asl/definition.h"
#include "asl/history.h"

namespace hpd::bench {

struct Workload {
  std::string name;
  std::string asl;    // file name in the workloads directory
  std::string input;  // file name in the workloads directory
  int64_t expect_states = 0;
  std::string expect_error;         // non-empty: the execution must fail with this error
  int64_t expect_lambda_calls = 0;  // LambdaFunctionScheduled events; 0: not checked
  // Checks a successful execution's output; returns "" or what is wrong.
  std::function<std::string(const boost::json::value& output, const boost::json::value& input)>
      check;
};

// Every workload, retry_catch_spec included.
const std::vector<Workload>& AllWorkloads();
// The set run by default: the peer's DEFAULT_SET (retry_catch_spec only on request).
const std::vector<std::string>& DefaultWorkloadSet();
// nullptr when there is no such workload.
const Workload* FindWorkload(std::string_view name);
// "pass_chain_1000 choice_loop ..." for usage texts.
std::string WorkloadNames();

// `--workloads` when given; else ../shared/bench/workloads relative to the current directory
// when it exists; else `configured_shared_dir`/bench/workloads.
std::string WorkloadsDir(const std::string& given, const std::string& configured_shared_dir);

// A workload's files, read and parsed once.
struct LoadedWorkload {
  const Workload* workload = nullptr;
  std::string definition;  // the ASL text
  std::shared_ptr<const asl::StateMachine> machine;
  std::string input_text;
  boost::json::value input;
  double parse_ms = 0;  // ParseDefinition of the definition
};

// Reads and parses `w`'s files from `dir`. "" or what is wrong.
std::string LoadWorkload(const Workload& w, const std::filesystem::path& dir, LoadedWorkload* out);

// Checks an execution's end: `status` as Step Functions names it ("SUCCEEDED", "FAILED", ...),
// and the error for the workload that must fail. "" or what is wrong.
std::string CheckStatus(const Workload& w, std::string_view status, std::string_view error,
                        std::string_view cause);
// Checks a successful execution's output as the workloads README states it (parses it: the
// benchmarks check one execution's output, every execution's status). "" or what is wrong.
std::string CheckOutput(const LoadedWorkload& w, const std::optional<std::string>& output);

// What a history holds that the checks count.
struct HistoryCounts {
  int64_t events = 0;
  int64_t states_entered = 0;  // *StateEntered events
  int64_t lambda_calls = 0;    // LambdaFunctionScheduled events
};
HistoryCounts CountHistory(const std::vector<asl::HistoryEvent>& history);
// Checks the counts against the README's. "" or what is wrong.
std::string CheckCounts(const Workload& w, const HistoryCounts& counts);

// ---- Measuring ----

using SteadyClock = std::chrono::steady_clock;
double Ms(SteadyClock::duration d);

// getrusage(RUSAGE_SELF).ru_maxrss in MiB.
double MaxRssMiB();
// A "VmHWM:" / "VmRSS:" line of /proc/<pid>/status in MiB (0 if unreadable); pid 0: self.
double ProcStatusMiB(std::string_view key, pid_t pid = 0);

// Quantile p (0..1) of sorted values: the nearest-rank value (max when there are few).
double Quantile(const std::vector<double>& sorted, double p);

// Runs this binary (/proc/self/exe) with `argv` (argv[0] included) and collects its stdout.
struct ChildResult {
  int exit_code = -1;
  std::string out;
};
ChildResult SpawnSelf(const std::vector<std::string>& argv);

std::optional<std::string> ReadFile(const std::filesystem::path& path);
std::string Fixed(double x, int digits);
// Comma-separated list, empty parts dropped.
std::vector<std::string> SplitList(const std::string& s);

}  // namespace hpd::bench

#endif  // HPD_BENCH_WORKLOADS_H_
