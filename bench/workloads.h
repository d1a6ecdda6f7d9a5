// The engine-neutral workloads of ../shared/bench/workloads (README there) as the benchmarks
// run and check them, and the measuring tools the benchmarks share: engine_bench (in memory) and
// durable_bench (through engine::Runtime and a journal) load and check a workload the same way,
// so their figures count the same things.
//
// They share their command line too: --workloads, --target-s, --warmup-s, --only and --json
// (CLI11, as hpdeploy parses its own), and the {"meta", "results"} file --json writes.
//
// Checks: the execution's end (status; error for the failing workload; the output as the
// workloads README states it), the `*StateEntered` events of its history against the README's
// states per execution, and its LambdaFunctionScheduled events (flaky's 300 attempts in
// retry_catch).
#ifndef HPD_BENCH_WORKLOADS_H_
#define HPD_BENCH_WORKLOADS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

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

// ---- The command line ----

// What a workload benchmark's command line says about its run; each program adds its own.
struct WorkloadOptions {
  std::string workloads_dir;      // --workloads DIR; see WorkloadsDir
  double target_s = 8.0;          // --target-s T: seconds of timed executions per workload
  double warmup_s = 1.0;          // --warmup-s W
  std::vector<std::string> only;  // --only a,b: known workload names; empty: the default set
  std::string json_path;          // --json FILE
};

// Adds --workloads, --target-s, --warmup-s, --only and --json to `app`, storing into `*opt`
// (which must outlive the parse), and lists the workloads in its help.
void AddWorkloadOptions(CLI::App& app, WorkloadOptions* opt);
// --warmup-s W (>= 0) and --json FILE alone, for a benchmark that runs no workload.
CLI::Option* AddWarmupOption(CLI::App& app, double* warmup_s);
CLI::Option* AddJsonOption(CLI::App& app, std::string* json_path);
// Checks of a number with plain messages (CLI::PositiveNumber prints its range in full).
CLI::Validator AboveZero();
CLI::Validator NotNegative();

// Parses the command line as hpdeploy parses its own, except that a value-taking option given
// twice keeps its last value. std::nullopt: go on; else the exit code to end with, after --help
// (0, the help on stdout) or a bad command line (2, CLI11's message on stderr).
std::optional<int> ParseCommandLine(CLI::App& app, int argc, char** argv);
// A command line CLI11 accepts but the program cannot run: `message` on stderr as CLI11 prints
// its own errors; returns 2.
int UsageError(const CLI::App& app, const std::string& message);

// Writes `value` (pretty-printed, one newline after it) to `path`; whether it was written.
bool WriteJsonFile(const std::string& path, const boost::json::value& value);
// --json: {"meta": {"engine", "targetSeconds", "warmupSeconds", <extra_meta...>, "cpus",
// "workloads"}, "results": [...]}, the shape of the peer's bench.mjs files. 0, also when there is
// no --json; 2 (after a message) when the file cannot be written.
int WriteResults(const WorkloadOptions& opt, std::string_view engine,
                 const boost::json::object& extra_meta, const boost::json::array& results);

// ---- Measuring ----

using SteadyClock = std::chrono::steady_clock;
double Ms(SteadyClock::duration d);

// getrusage(RUSAGE_SELF).ru_maxrss in MiB.
double MaxRssMiB();
// CPU seconds (user + system) this process has used, every thread included.
double ProcessCpuSeconds();
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
