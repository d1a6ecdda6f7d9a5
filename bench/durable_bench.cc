// Throughput of the durable runtime on the engine-neutral workloads of ../shared/bench/workloads:
// every execution goes through engine::Runtime, which journals each interpreter call in a SQLite
// journal (WAL, synchronous=FULL: an fsync per group commit) before it acts on it.
//
//   durable_bench [--workloads DIR] [--target-s T] [--warmup-s W] [--only a,b] [--concurrency C]
//                 [--workers N] [--dir DIR] [--no-fsync] [--sqlite-pragma P]... [--json FILE]
//
// Per workload, in a child process of this binary (so its peak RSS is its own): a fresh journal in
// a temporary directory under DIR (default /tmp; removed at the end), a SystemClock, the runtime
// with time_scale 0 (Retry intervals elapse at once, as engine_bench's simulated clock and the
// peer's 0 ms override make them) and N task workers; the workload's definition stored as a
// STANDARD state machine, or, when its history exceeds a STANDARD execution's 25,000 events
// (choice_loop: 40,008), as an EXPRESS one started asynchronously (journaled too: at least once,
// as on AWS). Then one checked execution (its history
// replayed from the journal: result, StateEntered and LambdaFunctionScheduled counts, the checks
// engine_bench makes), a warm-up of
// >= W seconds, and N executions sized from the warm-up to take ~T seconds, with C in flight at
// all times (an execution that ends starts the next from its end callback) so that the journal's
// group commit shares each fsync among many executions. An execution counts when its end is
// durable (Runtime::Start's on_end); each one's status is checked.
//
// Figures: states/s (StateEntered events per second, as engine_bench counts them), exec/s,
// latency from Start to the durable end, journal commits and work items per commit in the timed
// loop, CPU seconds per execution and where they went (the runtime's engine thread, the journal
// writer, the task workers), peak RSS (ru_maxrss / VmHWM), and the journal's size.
//
// Experiments: --no-fsync opens the journal with synchronous=OFF; --sqlite-pragma
// "cache_size=-65536" (repeatable) runs `PRAGMA <P>` on every SQLite connection the process opens,
// before the journal's own pragmas (through sqlite3_auto_extension), to try a setting without a
// rebuild.
//
// The flaky function (retry_catch) is bound here with its attempts counted per execution and
// value of the event's n: attempts 1 and 2 raise FlakyError, the third returns
// {"ok": true, "n": <n>, "attempt": 3}, as the workloads README states per Task state.
// engine/bench_functions.h's flaky counts per value of n across the whole process, which is right
// only while one execution runs at a time: with C in flight, executions would share counters.
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "bench/workloads.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/status.h"
#include "engine/bench_functions.h"
#include "engine/local_functions.h"
#include "engine/runtime.h"
#include "store/journal.h"

#ifndef HPD_BENCH_SHARED_DIR
#define HPD_BENCH_SHARED_DIR "../shared"
#endif

namespace {

namespace json = boost::json;
using hpd::bench::Fixed;
using hpd::bench::Ms;
using hpd::bench::SteadyClock;
using hpd::bench::Workload;

constexpr std::string_view kArnPrefix = "arn:aws:states:us-east-1:123456789012:";

struct Options : hpd::bench::WorkloadOptions {
  size_t concurrency = 64;
  size_t workers = 2;
  std::string dir = "/tmp";
  bool fsync = true;
  std::vector<std::string> sqlite_pragmas;
  bool child = false;
};

// --sqlite-pragma: what every new connection runs (set before any connection opens).
std::vector<std::string>& ConnectionPragmas() {
  static std::vector<std::string> pragmas;
  return pragmas;
}

int ApplyConnectionPragmas(sqlite3* db, char** error, const sqlite3_api_routines*) {
  for (const std::string& pragma : ConnectionPragmas()) {
    const std::string sql = "PRAGMA " + pragma;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, error) != SQLITE_OK) return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

pid_t ThreadId() { return static_cast<pid_t>(syscall(SYS_gettid)); }

// CPU seconds (user + system) of each thread of this process, by thread id.
std::vector<std::pair<pid_t, double>> ThreadCpu() {
  std::vector<std::pair<pid_t, double>> out;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", error)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // Fields after the parenthesised name: state(3) ... utime(14) stime(15).
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::strtod(field.c_str(), nullptr);
      if (i == 15) stime = std::strtod(field.c_str(), nullptr);
    }
    out.emplace_back(static_cast<pid_t>(std::stol(entry.path().filename().string())),
                     (utime + stime) / tick);
  }
  return out;
}

// Context switches of the whole process (every thread), voluntary and not.
int64_t ContextSwitches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

// flaky as the workloads README states it, per Task of an execution (see the file comment):
// attempts are counted per execution (the idempotency key up to its first '/': the execution ARN,
// whose names cannot hold a '/') and value of the event's n.
class FlakyPerExecution {
 public:
  hpd::StatusOr<json::value> operator()(const json::value& event,
                                        const hpd::engine::LambdaContext& context) {
    const json::object* object = event.if_object();
    const json::value* n = object == nullptr ? nullptr : object->if_contains("n");
    const std::string_view key = context.idempotency_key;
    std::string counter(key.substr(0, key.find('/')));
    counter += '#';
    if (n != nullptr) counter += hpd::SerializeJson(*n);
    int attempt = 0;
    {
      std::lock_guard lock(mu_);
      auto it = attempts_.try_emplace(std::move(counter), 0).first;
      attempt = ++it->second;
      if (attempt >= 3) attempts_.erase(it);
    }
    if (attempt < 3) {
      hpd::Status status = hpd::UnknownError("attempt " + std::to_string(attempt) + " failed");
      status.SetErrorName("FlakyError");
      return status;
    }
    json::object out(3);
    out.emplace("ok", true);
    if (n != nullptr) out.emplace("n", *n);
    out.emplace("attempt", attempt);
    return json::value(std::move(out));
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, int> attempts_;  // guarded by mu_
};

// Executions kept C in flight until `count` have started, or until `deadline` passes.
struct Batch {
  int64_t count = 0;
  std::optional<SteadyClock::time_point> deadline;
  bool record_latency = false;

  std::mutex mu;
  std::condition_variable drained;
  int64_t started = 0;                               // guarded by mu
  int64_t ended = 0;                                 // guarded by mu
  std::string error;                                 // guarded by mu: the first wrong end
  std::vector<SteadyClock::time_point> start_times;  // by index; written before Start
  std::vector<double> latencies_ms;                  // by index; written by the end callback
};

class DurableRun {
 public:
  DurableRun(const Workload& w, const Options& opt)
      : w_(w), opt_(opt), functions_(hpd::engine::LambdaEnvironment{}, clock_) {}

  ~DurableRun() {
    runtime_.reset();
    journal_.reset();
    if (!dir_.empty()) {
      std::error_code error;
      std::filesystem::remove_all(dir_, error);
    }
  }

  // As RegisterBenchFunctions registers them: in-memory functions, run inside the step.
  static hpd::engine::FunctionOptions LocalOnly() {
    hpd::engine::FunctionOptions options;
    options.local_only = true;
    return options;
  }

  std::string Open() {
    if (std::string e = hpd::bench::LoadWorkload(w_, opt_.workloads_dir, &loaded_); !e.empty()) {
      return e;
    }
    const bool uses_flaky = w_.name.starts_with("retry_catch");
    hpd::Status registered =
        uses_flaky ? functions_.Register(
                         "flaky",
                         [flaky = std::make_shared<FlakyPerExecution>()](
                             const json::value& event, const hpd::engine::LambdaContext& context) {
                           return (*flaky)(event, context);
                         },
                         LocalOnly())
                   : hpd::engine::RegisterBenchFunctions(functions_);
    if (!registered.ok()) return registered.ToString();

    std::string pattern = (std::filesystem::path(opt_.dir) / "hpd-durable-bench.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return "cannot create a directory under " + opt_.dir;
    dir_ = pattern;
    hpd::store::JournalOptions journal_options;
    journal_options.fsync = opt_.fsync;
    auto journal = hpd::store::Journal::Open(dir_ / "journal.db", journal_options);
    if (!journal.ok()) return journal.status().ToString();
    journal_ = std::move(*journal);
    hpd::engine::RuntimeOptions runtime_options;
    runtime_options.time_scale = 0;
    runtime_options.workers = opt_.workers;
    runtime_options.runner_name = "durable_bench";
    auto runtime = hpd::engine::Runtime::Open(*journal_, functions_, clock_, runtime_options);
    if (!runtime.ok()) return runtime.status().ToString();
    runtime_ = std::move(*runtime);
    return AddMachine();
  }

  int Measure() {
    if (std::string e = Verify(); !e.empty()) return Fail(e);
    if (!not_durable_.empty()) {
      std::cout << hpd::SerializeJson(json::object{{"name", w_.name},
                                                   {"notDurable", not_durable_},
                                                   {"statesPerExec", w_.expect_states},
                                                   {"verified", "n/a"}})
                << std::endl;
      return 0;
    }

    // Warm-up: C in flight until the deadline.
    Batch warm;
    warm.count = INT64_MAX;
    const auto w0 = SteadyClock::now();
    warm.deadline = w0 + std::chrono::duration_cast<SteadyClock::duration>(
                             std::chrono::duration<double>(opt_.warmup_s));
    if (std::string e = Run(warm); !e.empty()) return Fail("warm-up: " + e);
    const double warm_ms = Ms(SteadyClock::now() - w0);
    const double warm_rate = static_cast<double>(warm.ended) / std::max(warm_ms, 1e-3) * 1000.0;
    const auto n = static_cast<int64_t>(
        std::clamp(std::ceil(opt_.target_s * warm_rate),
                   static_cast<double>(std::max<size_t>(5, opt_.concurrency)), 20'000'000.0));

    const double rss_before = hpd::bench::ProcStatusMiB("VmRSS:");
    Batch timed;
    timed.count = n;
    timed.record_latency = true;
    timed.start_times.resize(static_cast<size_t>(n));
    timed.latencies_ms.resize(static_cast<size_t>(n));
    const uint64_t commits0 = journal_->commits();
    const uint64_t work0 = journal_->committed_work();
    const double cpu0 = hpd::bench::ProcessCpuSeconds();
    const int64_t switches0 = ContextSwitches();
    const auto threads0 = ThreadCpu();
    const auto t0 = SteadyClock::now();
    if (std::string e = Run(timed); !e.empty()) return Fail(e);
    const double total_ms = Ms(SteadyClock::now() - t0);
    const double cpu = hpd::bench::ProcessCpuSeconds() - cpu0;
    const int64_t switches = ContextSwitches() - switches0;
    const auto threads1 = ThreadCpu();
    const uint64_t commits = journal_->commits() - commits0;
    const uint64_t work = journal_->committed_work() - work0;

    // Thread CPU over the timed loop, by role.
    double engine_cpu = 0, writer_cpu = 0, main_cpu = 0, other_cpu = 0;
    for (const auto& [tid, after] : threads1) {
      double before = 0;
      for (const auto& [tid0, b] : threads0) {
        if (tid0 == tid) before = b;
      }
      const double used = after - before;
      if (tid == engine_tid_.load()) {
        engine_cpu += used;
      } else if (tid == writer_tid_) {
        writer_cpu += used;
      } else if (tid == getpid()) {
        main_cpu += used;
      } else {
        other_cpu += used;
      }
    }

    std::vector<double> sorted = timed.latencies_ms;
    std::sort(sorted.begin(), sorted.end());
    double sum = 0;
    for (double x : sorted) sum += x;
    const double secs = total_ms / 1000.0;
    const auto dn = static_cast<double>(n);
    std::error_code error;
    const auto db_bytes = std::filesystem::file_size(dir_ / "journal.db", error);
    const auto wal_bytes = std::filesystem::file_size(dir_ / "journal.db-wal", error);

    json::object r;
    r["name"] = w_.name;
    r["engine"] = std::string("hpdeploy engine::Runtime + store::Journal (") +
                  (opt_.fsync ? "fsync" : "no fsync") + ", time-scale 0)";
    r["n"] = n;
    r["concurrency"] = opt_.concurrency;
    r["workers"] = opt_.workers;
    r["fsync"] = opt_.fsync;
    r["sqlitePragmas"] = json::value_from(opt_.sqlite_pragmas);
    r["totalS"] = secs;
    r["statesPerExec"] = counts_.states_entered;
    r["historyEventsPerExec"] = counts_.events;
    r["lambdaInvocationsPerExec"] = counts_.lambda_calls;
    r["execPerSec"] = dn / secs;
    r["statesPerSec"] = dn * static_cast<double>(counts_.states_entered) / secs;
    r["meanMs"] = sum / dn;
    r["p50Ms"] = hpd::bench::Quantile(sorted, 0.5);
    r["p99Ms"] = hpd::bench::Quantile(sorted, 0.99);
    r["maxMs"] = sorted.back();
    r["commits"] = commits;
    r["commitsPerSec"] = static_cast<double>(commits) / secs;
    r["workPerCommit"] =
        commits == 0 ? 0.0 : static_cast<double>(work) / static_cast<double>(commits);
    r["workPerExec"] = static_cast<double>(work) / dn;
    r["cpuSecondsPerSecond"] = cpu / secs;
    r["cpuUsPerExec"] = cpu / dn * 1e6;
    r["contextSwitchesPerExec"] = static_cast<double>(switches) / dn;
    r["engineThreadCpuShare"] = engine_cpu / secs;
    r["writerThreadCpuShare"] = writer_cpu / secs;
    r["mainThreadCpuShare"] = main_cpu / secs;
    r["otherThreadsCpuShare"] = other_cpu / secs;
    r["peakRssKernelMiB"] = hpd::bench::MaxRssMiB();
    r["vmHwmMiB"] = hpd::bench::ProcStatusMiB("VmHWM:");
    r["rssBeforeLoopMiB"] = rss_before;
    r["journalMiB"] = static_cast<double>(db_bytes + wal_bytes) / (1024.0 * 1024.0);
    r["parseMs"] = loaded_.parse_ms;
    r["warmupN"] = warm.ended;
    r["verified"] = "yes";
    std::cout << hpd::SerializeJson(r) << std::endl;
    return 0;
  }

  int Fail(const std::string& why) {
    std::cerr << "[" << w_.name << "] " << why << "\n";
    return 1;
  }

 private:
  std::string AddMachine() {
    hpd::store::StateMachineRow row;
    row.name = type_ == "EXPRESS" ? "bench-express" : "bench";
    row.arn = std::string(kArnPrefix) + "stateMachine:" + row.name;
    // STANDARD, unless the workload's history exceeds a STANDARD execution's 25,000 events
    // (choice_loop): then EXPRESS, started asynchronously, which the runtime journals too.
    row.type = type_;
    row.created = clock_.WallNow();
    row.definition = loaded_.definition;
    row.role_arn = "arn:aws:iam::123456789012:role/bench";
    row.revision_id = "00000000-0000-4000-8000-000000000000";
    row.revision_created = row.created;
    std::promise<hpd::Status> done;
    journal_->Submit(
        [&row](hpd::store::JournalWriter& writer) -> hpd::Status {
          auto id = writer.InsertStateMachine(row);
          if (!id.ok()) return id.status();
          row.id = *id;
          auto revision = writer.AddRevision(hpd::store::RevisionRow{
              0, row.id, row.revision_id, row.definition, row.role_arn, row.created});
          if (!revision.ok()) return revision.status();
          row.revision = *revision;
          return hpd::Status::Ok();
        },
        [this, &done](hpd::Status status) {
          writer_tid_ = ThreadId();  // `done` runs on the journal's writer thread
          done.set_value(std::move(status));
        });
    if (hpd::Status status = done.get_future().get(); !status.ok()) return status.ToString();
    auto compiled = runtime_->Compile(row);
    if (!compiled.ok()) return compiled.status().ToString();
    machine_ = std::move(*compiled);
    return "";
  }

  hpd::engine::StartRequest Request() {
    hpd::engine::StartRequest request;
    request.machine = machine_;  // as the API does per StartExecution
    request.name = "e" + std::to_string(next_name_.fetch_add(1));
    request.execution_arn =
        type_ == "EXPRESS"
            ? std::string(kArnPrefix) + "express:bench-express:" + request.name + ":0"
            : std::string(kArnPrefix) + "execution:bench:" + request.name;
    request.input = loaded_.input_text;
    return request;
  }

  // One execution; its history replayed from the journal and checked.
  std::string Verify() {
    hpd::engine::StartRequest request = Request();
    const std::string arn = request.execution_arn;
    std::promise<hpd::engine::ExecutionEnd> end;
    std::promise<hpd::Status> started;
    runtime_->Start(
        std::move(request),
        [&started](hpd::StatusOr<hpd::engine::StartResult> r) { started.set_value(r.status()); },
        [&end](const hpd::engine::ExecutionEnd& e) { end.set_value(e); });
    if (hpd::Status s = started.get_future().get(); !s.ok()) return "start: " + s.ToString();
    const hpd::engine::ExecutionEnd e = end.get_future().get();
    if (e.status == "FAILED" && type_ == "STANDARD" &&
        e.cause.value_or("").find("maximum number of history events") != std::string::npos) {
      // Too long for a STANDARD history: run it as an asynchronous EXPRESS execution.
      type_ = "EXPRESS";
      if (std::string failed = AddMachine(); !failed.empty()) return failed;
      return Verify();
    }
    if (std::string wrong =
            hpd::bench::CheckStatus(w_, e.status, e.error.value_or(""), e.cause.value_or(""));
        !wrong.empty()) {
      return wrong;
    }
    if (std::string wrong = hpd::bench::CheckOutput(loaded_, e.output); !wrong.empty()) {
      return wrong;
    }
    auto history = runtime_->ReplayHistory(arn);
    if (!history.ok()) return "replaying the history: " + history.status().ToString();
    counts_ = hpd::bench::CountHistory(**history);
    return hpd::bench::CheckCounts(w_, counts_);
  }

  // Runs `batch` to its end: C executions in flight until it stops starting, then drained.
  std::string Run(Batch& batch) {
    const auto first = static_cast<int64_t>(opt_.concurrency);
    for (int64_t i = 0; i < first; ++i) StartNext(batch);
    std::unique_lock lock(batch.mu);
    batch.drained.wait(lock, [&] { return batch.started == batch.ended; });
    return batch.error;
  }

  // Starts the batch's next execution unless it is complete. Any thread.
  void StartNext(Batch& batch) {
    int64_t index = 0;
    {
      std::lock_guard lock(batch.mu);
      if (batch.started >= batch.count || !batch.error.empty()) return;
      if (batch.deadline && SteadyClock::now() >= *batch.deadline) return;
      index = batch.started++;
    }
    if (batch.record_latency) batch.start_times[static_cast<size_t>(index)] = SteadyClock::now();
    runtime_->Start(
        Request(),
        [this, &batch](hpd::StatusOr<hpd::engine::StartResult> result) {
          if (!result.ok()) Ended(batch, "start: " + result.status().ToString());
        },
        [this, &batch, index](const hpd::engine::ExecutionEnd& end) {
          if (engine_tid_.load(std::memory_order_relaxed) == 0) engine_tid_.store(ThreadId());
          if (batch.record_latency) {
            batch.latencies_ms[static_cast<size_t>(index)] =
                Ms(SteadyClock::now() - batch.start_times[static_cast<size_t>(index)]);
          }
          std::string wrong = hpd::bench::CheckStatus(w_, end.status, end.error.value_or(""),
                                                      end.cause.value_or(""));
          if (wrong.empty()) StartNext(batch);
          Ended(batch, std::move(wrong));
        });
  }

  static void Ended(Batch& batch, std::string error) {
    std::lock_guard lock(batch.mu);
    if (!error.empty() && batch.error.empty()) batch.error = std::move(error);
    if (++batch.ended == batch.started) batch.drained.notify_one();
  }

  const Workload& w_;
  const Options& opt_;
  hpd::bench::LoadedWorkload loaded_;
  std::filesystem::path dir_;
  hpd::SystemClock clock_;
  hpd::engine::LocalFunctions functions_;
  std::unique_ptr<hpd::store::Journal> journal_;
  std::unique_ptr<hpd::engine::Runtime> runtime_;
  hpd::engine::CompiledMachine machine_;
  std::string type_ = "STANDARD";  // of the state machine the executions run
  std::atomic<uint64_t> next_name_{0};
  hpd::bench::HistoryCounts counts_;
  std::string not_durable_;  // why the workload cannot run as a journaled execution
  std::atomic<pid_t> engine_tid_{0};
  pid_t writer_tid_ = 0;
};

double Num(const json::object& o, std::string_view k) {
  const json::value* v = o.if_contains(k);
  return v == nullptr ? 0.0 : v->to_number<double>();
}

int RunDriver(const Options& opt, const std::vector<std::string>& names) {
  json::array results;
  bool all_ok = true;
  for (const std::string& name : names) {
    std::cerr << "[" << name << "] running (~" << opt.target_s + opt.warmup_s << " s)...\n";
    std::vector<std::string> argv = {"durable_bench", "--child",
                                     "--only",        name,
                                     "--workloads",   opt.workloads_dir,
                                     "--target-s",    Fixed(opt.target_s, 3),
                                     "--warmup-s",    Fixed(opt.warmup_s, 3),
                                     "--concurrency", std::to_string(opt.concurrency),
                                     "--workers",     std::to_string(opt.workers),
                                     "--dir",         opt.dir};
    if (!opt.fsync) argv.emplace_back("--no-fsync");
    for (const std::string& pragma : opt.sqlite_pragmas) {
      argv.emplace_back("--sqlite-pragma");
      argv.push_back(pragma);
    }
    hpd::bench::ChildResult c = hpd::bench::SpawnSelf(argv);
    std::string line;
    std::istringstream lines(c.out);
    for (std::string l; std::getline(lines, l);) {
      if (l.starts_with("{")) line = l;
    }
    auto parsed = hpd::ParseJson(line.empty() ? std::string_view("null") : line);
    if (c.exit_code != 0 || !parsed.ok() || !parsed->is_object()) {
      std::cerr << "[" << name << "] FAILED (exit " << c.exit_code << ")\n";
      results.push_back(
          json::object{{"name", name}, {"error", "exit " + std::to_string(c.exit_code)}});
      all_ok = false;
      continue;
    }
    std::cerr << "[" << name << "] done: " << Fixed(Num(parsed->as_object(), "execPerSec"), 1)
              << " exec/s\n";
    results.push_back(std::move(parsed).value());
  }

  std::cout << "durable_bench: engine::Runtime + journal (" << (opt.fsync ? "fsync" : "NO fsync")
            << "), time-scale 0, " << opt.concurrency << " in flight, " << opt.workers
            << " workers, " << opt.target_s << " s target per workload, "
            << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs, journal under " << opt.dir;
  for (const std::string& pragma : opt.sqlite_pragmas) std::cout << ", PRAGMA " << pragma;
  std::cout << "\n";
  std::cout << "| workload | N | states/exec | exec/s | states/s | p50 ms | p99 ms | commits/s | "
               "work/commit | work/exec | CPU us/exec | switches/exec | "
               "CPU: engine / writer / workers+other | "
               "peak RSS MiB | journal MiB | verified |\n";
  std::cout << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const json::value& v : results) {
    const json::object& r = v.as_object();
    if (r.contains("error")) {
      std::cout << "| " << r.at("name").as_string().c_str()
                << " | FAILED: " << r.at("error").as_string().c_str() << " |\n";
      continue;
    }
    if (r.contains("notDurable")) {
      std::cout << "| " << r.at("name").as_string().c_str()
                << " | n/a: " << r.at("notDurable").as_string().c_str() << " |\n";
      continue;
    }
    const double eps = Num(r, "execPerSec");
    std::cout << "| " << r.at("name").as_string().c_str() << " | "
              << static_cast<int64_t>(Num(r, "n")) << " | "
              << static_cast<int64_t>(Num(r, "statesPerExec")) << " | "
              << Fixed(eps, eps < 100 ? 2 : 0) << " | " << Fixed(Num(r, "statesPerSec"), 0) << " | "
              << Fixed(Num(r, "p50Ms"), 2) << " | " << Fixed(Num(r, "p99Ms"), 2) << " | "
              << Fixed(Num(r, "commitsPerSec"), 0) << " | " << Fixed(Num(r, "workPerCommit"), 1)
              << " | " << Fixed(Num(r, "workPerExec"), 1) << " | "
              << Fixed(Num(r, "cpuUsPerExec"), 0) << " | "
              << Fixed(Num(r, "contextSwitchesPerExec"), 1) << " | "
              << Fixed(Num(r, "engineThreadCpuShare"), 2) << " / "
              << Fixed(Num(r, "writerThreadCpuShare"), 2) << " / "
              << Fixed(Num(r, "otherThreadsCpuShare") + Num(r, "mainThreadCpuShare"), 2) << " | "
              << Fixed(Num(r, "peakRssKernelMiB"), 1) << " | " << Fixed(Num(r, "journalMiB"), 1)
              << " | " << r.at("verified").as_string().c_str() << " |\n";
  }
  const json::object meta{{"timeScale", 0},
                          {"concurrency", opt.concurrency},
                          {"workers", opt.workers},
                          {"fsync", opt.fsync},
                          {"sqlitePragmas", json::value_from(opt.sqlite_pragmas)},
                          {"dir", opt.dir}};
  if (int written = hpd::bench::WriteResults(opt, "hpdeploy-durable", meta, results);
      written != 0) {
    return written;
  }
  return all_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "durable_bench: throughput of the durable runtime (engine::Runtime + a SQLite journal with "
      "fsync) on the shared bench workloads, many executions in flight.",
      "durable_bench"};
  Options opt;
  hpd::bench::AddWorkloadOptions(app, &opt);
  app.add_option("--concurrency", opt.concurrency, "executions in flight")
      ->type_name("C")
      ->check(hpd::bench::AboveZero())
      ->capture_default_str();
  app.add_option("--workers", opt.workers, "task worker threads")
      ->type_name("N")
      ->check(hpd::bench::AboveZero())
      ->capture_default_str();
  app.add_option("--dir", opt.dir, "where the temporary journal directory goes")
      ->type_name("DIR")
      ->capture_default_str();
  app.add_flag_callback(
      "--no-fsync", [&opt] { opt.fsync = false; }, "open the journal with synchronous=OFF");
  app.add_option("--sqlite-pragma", opt.sqlite_pragmas,
                 "run PRAGMA P on every SQLite connection, before the journal's own (repeatable)")
      ->type_name("P")
      ->allow_extra_args(false);
  app.add_flag("--child", opt.child, "measure the one --only workload in this process")
      ->group("");  // how the driver runs each workload: not for a user
  if (auto exit_code = hpd::bench::ParseCommandLine(app, argc, argv)) return *exit_code;
  opt.workloads_dir = hpd::bench::WorkloadsDir(opt.workloads_dir, HPD_BENCH_SHARED_DIR);

  if (opt.child) {
    if (!opt.sqlite_pragmas.empty()) {
      ConnectionPragmas() = opt.sqlite_pragmas;
      // sqlite3_auto_extension takes a generic entry point; SQLite calls it with these arguments.
      sqlite3_auto_extension(reinterpret_cast<void (*)()>(ApplyConnectionPragmas));
    }
    if (opt.only.size() != 1) {
      return hpd::bench::UsageError(app, "--child needs one --only workload");
    }
    DurableRun run(*hpd::bench::FindWorkload(opt.only[0]), opt);
    if (std::string e = run.Open(); !e.empty()) return run.Fail(e);
    return run.Measure();
  }
  return RunDriver(opt, opt.only.empty() ? hpd::bench::DefaultWorkloadSet() : opt.only);
}
