// hpdeploy deploy | status | logs | teardown | params: the HyperPod pipeline on the embedded
// default, from the terminal.
//
// deploy and teardown run the engine in this process on the data dir (the sandbox cloud, the
// local stores and the container runner included) and follow the execution live; status, logs
// and params read the data dir beside whichever process runs it.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/platform.h"
#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/utf8.h"
#include "common/uuid.h"
#include "engine/container_runner.h"
#include "hyperpod/handlers.h"
#include "hyperpod/names.h"
#include "hyperpod/request.h"
#include "sandbox/faults.h"

extern char** environ;

namespace hpd::cli {
namespace {

namespace json = boost::json;

struct CommonOptions {
  std::string data_dir = "hpdeploy-data";
};

struct DeployOptions {
  CommonOptions common;
  std::string preset;
  std::string region = "us-west-2";
  std::string name;
  std::vector<std::string> sets;
  std::vector<std::string> faults;
  bool no_follow = false;
  double time_scale = 0.01;
  int64_t timeout_seconds = 3600;
  std::string config_bucket = hyperpod::kDefaultConfigBucket;
  std::string parameter_prefix = hyperpod::kDefaultParameterPrefix;
  std::string presets_file;
  bool no_quota_checks = false;
  std::string job_id;
  size_t workers = 4;
};

// ---- Signals: the follow loop waits on them instead of sleeping ----

sigset_t BlockInterrupts() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits up to `ms` for SIGINT/SIGTERM; true when one came.
bool Interrupted(const sigset_t& signals, int ms) {
  timespec timeout{ms / 1000, (ms % 1000) * 1000000L};
  return sigtimedwait(&signals, nullptr, &timeout) > 0;
}

std::string Elapsed(WallTime from, WallTime to) {
  const double seconds = std::chrono::duration<double>(to - from).count();
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "[%7.1fs]", seconds);
  return buffer;
}

std::string Trimmed(std::string text, size_t limit) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > limit) text = std::string(Utf8Prefix(text, limit)) + "…";
  return text;
}

std::string StringField(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return "";
  if (value->is_string()) return std::string(value->get_string());
  return SerializeJson(*value);
}

void PrintGuardrails(const json::value& report, std::ostream& out) {
  const json::object* r = report.if_object();
  if (r == nullptr) return;
  const json::value* checks = r->if_contains("checks");
  if (checks == nullptr || !checks->is_array()) return;
  std::map<std::string, int> counts;
  for (const json::value& check : checks->get_array()) {
    if (const json::object* c = check.if_object()) ++counts[StringField(*c, "status")];
  }
  out << "           guardrails: " << counts["PASS"] << " PASS, " << counts["WARN"] << " WARN, "
      << counts["FAIL"] << " FAIL\n";
  for (const json::value& check : checks->get_array()) {
    const json::object* c = check.if_object();
    if (c == nullptr) continue;
    const std::string status = StringField(*c, "status");
    char line[64];
    std::snprintf(line, sizeof line, "             %-4s %-26s ", status.c_str(),
                  StringField(*c, "id").c_str());
    out << line << Trimmed(StringField(*c, "message"), 160) << "\n";
  }
}

// Follows one execution: its history events as progress lines, its containers' log lines, and
// the guardrail report; returns its end status (or "INTERRUPTED").
class Follower {
 public:
  Follower(PlatformView& view, std::string arn, std::string job_id, std::ostream& out)
      : view_(view), arn_(std::move(arn)), job_id_(std::move(job_id)), out_(out) {}

  std::string Run(const sigset_t& signals) {
    while (true) {
      std::optional<store::ExecutionRow> row = view_.Execution(arn_);
      if (row && !since_) since_ = row->start;
      CollectNewEvents();
      CollectNewLogLines();
      Flush();
      if (row && row->status != "RUNNING") return row->status;
      if (Interrupted(signals, 200)) return "INTERRUPTED";
    }
  }

  bool printed_guardrails() const { return printed_guardrails_; }

 private:
  void CollectNewEvents() {
    auto history = view_.History(arn_);
    if (!history.ok()) return;
    const std::vector<asl::HistoryEvent>& events = **history;
    if (!events.empty() && !start_) start_ = events.front().timestamp;
    for (; printed_ < events.size(); ++printed_) {
      const asl::HistoryEvent& event = events[printed_];
      const std::string type(asl::HistoryEventTypeName(event.type));
      const json::object details = asl::HistoryEventDetails(event);
      const std::string at = Elapsed(*start_, event.timestamp);
      std::ostringstream block;
      auto ends_with = [&](std::string_view suffix) {
        return type.size() >= suffix.size() && type.substr(type.size() - suffix.size()) == suffix;
      };
      if (ends_with("StateEntered")) {
        block << at << " > " << StringField(details, "name") << "\n";
      } else if (ends_with("StateExited")) {
        const std::string name = StringField(details, "name");
        block << at << " ok " << name << "\n";
        if (name == "PrepareDeploymentConfig") {
          if (StatusOr<json::value> output = ParseJson(StringField(details, "output"));
              output.ok() && output->is_object()) {
            const json::object& o = output->as_object();
            if (const json::value* prepare = o.if_contains("prepare")) {
              if (const json::value* result = prepare->as_object().if_contains("result")) {
                if (const json::value* report = result->as_object().if_contains("guardrails")) {
                  PrintGuardrails(*report, block);
                  printed_guardrails_ = true;
                }
              }
            }
          }
        }
      } else if (ends_with("Failed") || ends_with("TimedOut") || ends_with("Aborted")) {
        std::string error = StringField(details, "error");
        std::string cause = StringField(details, "cause");
        block << at << " !! " << type << (error.empty() ? "" : ": " + error)
              << (cause.empty() ? "" : " — " + Trimmed(cause, 240)) << "\n";
      } else if (type == "ExecutionSucceeded") {
        block << at << " execution SUCCEEDED\n";
      }
      if (!block.str().empty()) pending_.emplace_back(event.timestamp, block.str());
    }
  }

  void CollectNewLogLines() {
    StatusOr<std::vector<engine::TaskRecord>> tasks =
        engine::ContainerRunner::FindTasks(view_.data_dir() / "tasks", "JOB_ID", job_id_);
    if (!tasks.ok()) return;
    // Oldest first, so lines come out in the order they were written.
    std::vector<engine::TaskRecord> ordered = *tasks;
    std::reverse(ordered.begin(), ordered.end());
    for (const engine::TaskRecord& task : ordered) {
      // The job's earlier tasks (its deployment, when this is its teardown) are not this run's.
      if (since_ && task.created_at < *since_) continue;
      int64_t& after = log_positions_[task.log_group + "\n" + task.log_stream];
      while (true) {
        auto page = view_.logs().Read(task.log_group, task.log_stream, after, 500);
        if (!page.ok() || page->events.empty()) break;
        for (const store::LogEvent& event : page->events) {
          pending_.emplace_back(WallTime(std::chrono::milliseconds(event.timestamp)),
                                "           | " + event.message + "\n");
          after = event.sequence;
        }
      }
    }
  }

  // Prints what was collected in time order (log lines and states interleave as they happened).
  void Flush() {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [at, text] : pending_) out_ << text;
    out_ << std::flush;
    pending_.clear();
  }

  PlatformView& view_;
  const std::string arn_;
  const std::string job_id_;
  std::ostream& out_;
  size_t printed_ = 0;
  std::optional<WallTime> start_;
  std::optional<WallTime> since_;  // the execution's start: older tasks are not its own
  std::map<std::string, int64_t> log_positions_;
  bool printed_guardrails_ = false;
  std::vector<std::pair<WallTime, std::string>> pending_;
};

std::optional<json::value> ReadDocument(store::ObjectStore& objects, const std::string& bucket,
                                        const std::string& key) {
  StatusOr<std::string> text = objects.Get(bucket, key);
  if (!text.ok()) return std::nullopt;
  StatusOr<json::value> parsed = ParseJson(*text);
  if (!parsed.ok()) return std::nullopt;
  return std::move(*parsed);
}

// The deployment's bucket and parameter prefix, from its execution's input.
struct JobArtifacts {
  std::string bucket = hyperpod::kDefaultConfigBucket;
  std::string prefix = hyperpod::kDefaultParameterPrefix;
  std::string region;
  int64_t timeout_seconds = 3600;
};

JobArtifacts ArtifactsOf(const store::ExecutionRow& row) {
  JobArtifacts artifacts;
  StatusOr<json::value> input = ParseJson(row.input);
  if (!input.ok() || !input->is_object()) return artifacts;
  const json::object& in = input->as_object();
  if (const json::value* a = in.if_contains("artifacts"); a != nullptr && a->is_object()) {
    if (std::string b = StringField(a->as_object(), "configBucket"); !b.empty()) {
      artifacts.bucket = b;
    }
    if (std::string p = StringField(a->as_object(), "parameterPrefix"); !p.empty()) {
      artifacts.prefix = p;
    }
  }
  if (const json::value* c = in.if_contains("config"); c != nullptr && c->is_object()) {
    artifacts.region = StringField(c->as_object(), "region");
  }
  if (const json::value* t = in.if_contains("timeoutSeconds"); t != nullptr && t->is_int64()) {
    artifacts.timeout_seconds = t->as_int64();
  }
  return artifacts;
}

void PrintObject(const json::object& object, std::ostream& out, const std::string& indent) {
  for (const auto& [key, value] : object) {
    if (value.is_object()) {
      out << indent << std::string(key) << ":\n";
      PrintObject(value.get_object(), out, indent + "  ");
    } else {
      out << indent << std::string(key) << " = "
          << (value.is_string() ? std::string(value.get_string()) : SerializeJson(value)) << "\n";
    }
  }
}

void PrintFailureRecord(PlatformView& view, const JobArtifacts& artifacts,
                        const std::string& job_id, bool guardrails_printed, std::ostream& out) {
  std::optional<json::value> record =
      ReadDocument(view.objects(), artifacts.bucket, job_id + "/" + hyperpod::kFailureDocument);
  if (!record || !record->is_object()) {
    out << "No failure record in s3://" << artifacts.bucket << "/" << job_id << "/"
        << hyperpod::kFailureDocument << "\n";
    return;
  }
  const json::object& r = record->as_object();
  out << "Failure record (s3://" << artifacts.bucket << "/" << job_id << "/"
      << hyperpod::kFailureDocument << "):\n"
      << "  failed state: " << StringField(r, "failedState") << "\n"
      << "  error:        " << StringField(r, "error") << "\n"
      << "  cause:        " << Trimmed(StringField(r, "cause"), 600) << "\n";
  if (!guardrails_printed) {
    if (const json::value* report = r.if_contains("guardrails")) PrintGuardrails(*report, out);
  }
  if (const json::value* cleanup = r.if_contains("cleanup"); cleanup && cleanup->is_object()) {
    const json::object& c = cleanup->as_object();
    const json::value* removed = c.if_contains("removed");
    const json::value* left = c.if_contains("notRemoved");
    out << "  cleanup:      " << (StringField(c, "complete") == "true" ? "complete" : "INCOMPLETE")
        << ", removed " << (removed && removed->is_array() ? removed->get_array().size() : 0)
        << " resources\n";
    if (left && left->is_array()) {
      for (const json::value& resource : left->get_array()) {
        if (const json::object* o = resource.if_object()) {
          out << "    not removed: " << StringField(*o, "resource") << " ("
              << StringField(*o, "type") << ", " << StringField(*o, "status") << ") "
              << Trimmed(StringField(*o, "reason"), 200) << "\n";
        }
      }
    }
  }
}

std::string CurrentUser() {
  if (const passwd* user = ::getpwuid(::getuid()); user != nullptr && user->pw_name != nullptr) {
    return user->pw_name;
  }
  return "uid-" + std::to_string(::getuid());
}

// Starts a detached `hpdeploy serve --exit-when-idle` on the data dir, so that a deployment
// started without following runs to its end in the background.
Status SpawnBackgroundEngine(const PlatformOptions& options) {
  const std::string data_dir = options.data_dir.string();
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  const std::string log = (std::filesystem::path(data_dir) / "background.log").string();
  std::vector<std::string> args = {exe,
                                   "serve",
                                   "--data-dir",
                                   data_dir,
                                   "--workers",
                                   std::to_string(options.workers),
                                   "--port",
                                   "0",
                                   "--time-scale",
                                   FormatDouble(options.time_scale),
                                   "--exit-when-idle"};
  if (!options.presets_file.empty()) {
    args.push_back("--presets");
    args.push_back(std::filesystem::absolute(options.presets_file).string());
  }
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, exe.c_str(), &files, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    return UnavailableError("cannot start the background engine: " + std::string(strerror(error)));
  }
  return Status::Ok();
}

// Opens the platform on the data dir, or explains why not.
std::unique_ptr<Platform> OpenPlatform(const std::string& command, const std::string& data_dir,
                                       double time_scale, size_t workers,
                                       const std::string& presets_file) {
  PlatformOptions options;
  options.data_dir = data_dir;
  options.time_scale = time_scale;
  options.workers = workers;
  options.presets_file = presets_file;
  StatusOr<std::unique_ptr<Platform>> platform = Platform::Open(std::move(options));
  if (!platform.ok()) {
    std::cerr << "hpdeploy " << command << ": " << platform.status().message() << "\n";
    if (platform.status().code() == StatusCode::kFailedPrecondition) {
      std::cerr << "hpdeploy " << command
                << ": another hpdeploy process runs this data dir; wait for it to finish, or "
                   "use another --data-dir\n";
    }
    return nullptr;
  }
  return std::move(*platform);
}

// Starts `machine` with `input` as execution `job_id` and, unless told not to, follows it.
// Returns the exit code.
int Follow(const std::string& command, std::unique_ptr<Platform> platform,
           const std::string& machine, const std::string& job_id, const std::string& arn,
           bool follow, const sigset_t& signals);

// Starts `machine` with `input` as execution `job_id` and, unless told not to, follows it.
// Returns the exit code.
int StartAndFollow(const std::string& command, std::unique_ptr<Platform> platform,
                   const std::string& machine, const std::string& name, const json::object& input,
                   bool follow, const sigset_t& signals, std::string job_id = "") {
  if (job_id.empty()) job_id = name;
  StatusOr<json::object> started = platform->Call(
      "StartExecution", json::object{{"stateMachineArn", platform->MachineArn(machine)},
                                     {"name", name},
                                     {"input", SerializeJson(input)}});
  if (!started.ok()) {
    std::cerr << "hpdeploy " << command << ": " << started.status().error_name() << ": "
              << started.status().message() << "\n";
    return kExitFailure;
  }
  return Follow(command, std::move(platform), machine, job_id,
                StringField(*started, "executionArn"), follow, signals);
}

// The name of a job's teardown execution, attempt n: <jobId>, then <jobId>.2, <jobId>.3, ...
std::string TeardownName(const std::string& job_id, int attempt) {
  return attempt == 1 ? job_id : job_id + "." + std::to_string(attempt);
}

// Follows execution `arn` (running in `platform`) to its end and reports it; or, without
// `follow`, hands it to a background engine.
int Follow(const std::string& command, std::unique_ptr<Platform> platform,
           const std::string& machine, const std::string& job_id, const std::string& arn,
           bool follow, const sigset_t& signals) {
  std::cout << "execution " << arn << "\n" << std::flush;
  const std::string data_dir = platform->options().data_dir.string();
  if (!follow) {
    const PlatformOptions options = platform->options();
    platform.reset();  // releases the data dir for the background engine
    if (Status status = SpawnBackgroundEngine(options); !status.ok()) {
      std::cerr << "hpdeploy " << command << ": " << status.message()
                << "; the execution is journaled and runs when hpdeploy next opens " << data_dir
                << "\n";
      return kExitFailure;
    }
    std::cout << "Running in the background (log: " << data_dir
              << "/background.log). Follow it with:\n  hpdeploy status " << job_id << " --data-dir "
              << data_dir << "\n  hpdeploy logs " << job_id << " --follow --data-dir " << data_dir
              << "\n";
    return kExitOk;
  }
  StatusOr<std::unique_ptr<PlatformView>> view = PlatformView::Open(data_dir);
  if (!view.ok()) {
    std::cerr << "hpdeploy " << command << ": " << view.status().message() << "\n";
    return kExitFailure;
  }
  Follower follower(**view, arn, job_id, std::cout);
  const std::string status = follower.Run(signals);
  if (status == "INTERRUPTED") {
    std::cout << "\nInterrupted. The execution is journaled in " << data_dir
              << " and resumes when hpdeploy next runs it (e.g. hpdeploy serve --data-dir "
              << data_dir << " --exit-when-idle).\n";
    return 130;
  }
  std::optional<store::ExecutionRow> row = (*view)->Execution(arn);
  const JobArtifacts artifacts = row ? ArtifactsOf(*row) : JobArtifacts{};
  std::cout << "\n" << machine << " " << job_id << ": " << status;
  if (row && row->stop) {
    std::cout
        << " after "
        << FormatDouble(
               std::round(std::chrono::duration<double>(*row->stop - row->start).count() * 10) / 10)
        << " s";
  }
  std::cout << "\n";
  if (status == "SUCCEEDED") {
    if (row && row->output) {
      if (StatusOr<json::value> output = ParseJson(*row->output);
          output.ok() && output->is_object()) {
        std::cout << "Outputs:\n";
        PrintObject(output->as_object(), std::cout, "  ");
      }
    }
    if (machine == kDeploymentMachine) {
      std::cout << "\nNext: hpdeploy status " << job_id << " --data-dir " << data_dir
                << "\n      hpdeploy params get-by-path " << artifacts.prefix << "/" << job_id
                << " --data-dir " << data_dir << "\n      hpdeploy teardown " << job_id
                << " --data-dir " << data_dir << "\n";
    }
    return kExitOk;
  }
  if (machine == kDeploymentMachine) {
    PrintFailureRecord(**view, artifacts, job_id, follower.printed_guardrails(), std::cout);
  } else if (row) {
    std::cout << "  error: " << row->error.value_or("")
              << "\n  cause: " << Trimmed(row->cause.value_or(""), 600) << "\n";
  }
  return kExitFailure;
}

int Deploy(const DeployOptions& o) {
  StatusOr<sandbox::Faults> faults = sandbox::ParseFaults(o.faults);
  if (!faults.ok()) {
    std::cerr << "hpdeploy deploy: " << faults.status().message() << "\n";
    return kExitUsage;
  }
  json::object overrides;
  for (const std::string& assignment : o.sets) {
    auto parsed = hyperpod::ParseSetAssignment(assignment);
    if (!parsed.ok()) {
      std::cerr << "hpdeploy deploy: --set " << assignment << ": " << parsed.status().message()
                << "\n";
      return kExitUsage;
    }
    overrides[parsed->first] = hyperpod::OverrideValueToJson(parsed->second);
  }
  if (o.timeout_seconds <= 0) {
    std::cerr << "hpdeploy deploy: --timeout must be a positive number of seconds\n";
    return kExitUsage;
  }
  const sigset_t signals = BlockInterrupts();
  std::unique_ptr<Platform> platform =
      OpenPlatform("deploy", o.common.data_dir, o.time_scale, o.workers, o.presets_file);
  if (!platform) return kExitUsage;
  SystemRandom random;
  const std::string job_id = o.job_id.empty() ? NewUuidV4(random) : o.job_id;
  if (Status valid = hyperpod::ValidateJobId(job_id); !valid.ok() || job_id.size() > 80) {
    std::cerr << "hpdeploy deploy: --job-id " << job_id << ": "
              << (valid.ok() ? "at most 80 characters (it names the execution)"
                             : std::string(valid.message()))
              << "\n";
    return kExitUsage;
  }
  // Before its faults are set: they belong to that job's deployment and teardown.
  if (platform
          ->Call("DescribeExecution",
                 json::object{{"executionArn", platform->ExecutionArn(kDeploymentMachine, job_id)}})
          .ok()) {
    std::cerr << "hpdeploy deploy: job " << job_id << " already exists in " << o.common.data_dir
              << " (hpdeploy status " << job_id << ")\n";
    return kExitFailure;
  }
  const std::string preset = o.preset.empty() ? platform->presets().default_preset() : o.preset;
  json::object config{{"preset", preset}, {"region", o.region}};
  if (!o.name.empty()) config["name"] = o.name;
  if (!overrides.empty()) config["overrides"] = overrides;
  const json::object input{
      {"jobId", job_id},
      {"requestedBy", CurrentUser()},
      {"requestedAt", FormatRfc3339(platform->clock().WallNow())},
      {"timeoutSeconds", o.timeout_seconds},
      {"config", config},
      {"guardrails", json::object{{"quotaChecks", !o.no_quota_checks}}},
      {"artifacts",
       json::object{{"configBucket", o.config_bucket}, {"parameterPrefix", o.parameter_prefix}}},
  };
  if (Status status = platform->sandbox().SetFaults(job_id, *faults); !status.ok()) {
    std::cerr << "hpdeploy deploy: " << status.message() << "\n";
    return kExitFailure;
  }
  std::cout << "Deploying HyperPod job " << job_id << ": preset " << preset << ", region "
            << o.region << ", sandbox cloud (time scale " << FormatDouble(o.time_scale) << ")";
  if (!o.faults.empty()) {
    std::cout << ", faults:";
    for (const std::string& fault : sandbox::FaultSpecs(*faults)) std::cout << " " << fault;
  }
  std::cout << "\n" << std::flush;
  return StartAndFollow("deploy", std::move(platform), kDeploymentMachine, job_id, input,
                        !o.no_follow, signals);
}

struct JobOptions {
  CommonOptions common;
  std::string job_id;
  bool json = false;
  bool follow = false;
  double time_scale = 0.01;
  bool no_follow = false;
  size_t workers = 4;
};

std::unique_ptr<PlatformView> OpenView(const std::string& command, const std::string& data_dir) {
  StatusOr<std::unique_ptr<PlatformView>> view = PlatformView::Open(data_dir);
  if (!view.ok()) {
    std::cerr << "hpdeploy " << command << ": " << view.status().message() << "\n";
    return nullptr;
  }
  return std::move(*view);
}

// The state the execution is in: the last one entered and not yet exited.
std::string CurrentState(const std::vector<asl::HistoryEvent>& history) {
  std::vector<std::string> open;
  for (const asl::HistoryEvent& event : history) {
    const std::string type(asl::HistoryEventTypeName(event.type));
    const json::object details = asl::HistoryEventDetails(event);
    if (type.ends_with("StateEntered")) open.push_back(StringField(details, "name"));
    if (type.ends_with("StateExited") && !open.empty()) open.pop_back();
  }
  return open.empty() ? "" : open.back();
}

int Status_(const JobOptions& o) {
  std::unique_ptr<PlatformView> view = OpenView("status", o.common.data_dir);
  if (!view) return kExitUsage;
  const std::string arn = view->ExecutionArn(kDeploymentMachine, o.job_id);
  std::optional<store::ExecutionRow> row = view->Execution(arn);
  if (!row) {
    std::cerr << "hpdeploy status: no deployment " << o.job_id << " in " << o.common.data_dir
              << "\n";
    return kExitFailure;
  }
  const JobArtifacts artifacts = ArtifactsOf(*row);
  json::object status{{"jobId", o.job_id},
                      {"status", row->status},
                      {"executionArn", arn},
                      {"startedAt", FormatRfc3339Millis(row->start)}};
  if (row->stop) status["stoppedAt"] = FormatRfc3339Millis(*row->stop);
  if (auto history = view->History(arn); history.ok()) {
    if (std::string state = CurrentState(**history); !state.empty()) status["currentState"] = state;
    json::array path;  // the states entered, in order
    for (const asl::HistoryEvent& event : **history) {
      if (asl::HistoryEventTypeName(event.type).ends_with("StateEntered")) {
        path.push_back(json::string(StringField(asl::HistoryEventDetails(event), "name")));
      }
    }
    status["path"] = std::move(path);
  }
  status["region"] = artifacts.region;
  status["parameterPath"] = artifacts.prefix + "/" + o.job_id;
  if (auto report = ReadDocument(view->objects(), artifacts.bucket,
                                 o.job_id + "/" + hyperpod::kGuardrailsDocument)) {
    status["guardrails"] = *report;
  }
  if (row->output) {
    if (StatusOr<json::value> output = ParseJson(*row->output); output.ok()) {
      status["outputs"] = std::move(*output);
    }
  }
  if (auto failure = ReadDocument(view->objects(), artifacts.bucket,
                                  o.job_id + "/" + hyperpod::kFailureDocument)) {
    status["failure"] = *failure;
  }
  for (int attempt = 1;; ++attempt) {
    const std::string teardown_arn =
        view->ExecutionArn(kTeardownMachine, TeardownName(o.job_id, attempt));
    std::optional<store::ExecutionRow> teardown = view->Execution(teardown_arn);
    if (!teardown) break;
    status["teardown"] = json::object{
        {"status", teardown->status}, {"executionArn", teardown_arn}, {"attempt", attempt}};
  }
  if (o.json) {
    std::cout << SerializeJsonPretty(status) << "\n";
    return kExitOk;
  }
  std::cout << "job:            " << o.job_id << "\n"
            << "status:         " << row->status << "\n";
  if (status.contains("currentState") && row->status == "RUNNING") {
    std::cout << "current state:  " << StringField(status, "currentState") << "\n";
  }
  std::cout << "started:        " << StringField(status, "startedAt") << "\n";
  if (row->stop) std::cout << "stopped:        " << StringField(status, "stoppedAt") << "\n";
  std::cout << "region:         " << artifacts.region << "\n"
            << "parameters:     " << StringField(status, "parameterPath") << "\n";
  if (const json::value* teardown = status.if_contains("teardown")) {
    std::cout << "teardown:       " << StringField(teardown->as_object(), "status") << "\n";
  }
  bool guardrails_printed = false;
  if (const json::value* report = status.if_contains("guardrails")) {
    PrintGuardrails(*report, std::cout);
    guardrails_printed = true;
  }
  if (const json::value* outputs = status.if_contains("outputs"); outputs && outputs->is_object()) {
    std::cout << "outputs:\n";
    PrintObject(outputs->as_object(), std::cout, "  ");
  }
  if (row->status == "FAILED" || status.contains("failure")) {
    PrintFailureRecord(*view, artifacts, o.job_id, guardrails_printed, std::cout);
  }
  return kExitOk;
}

int Logs(const JobOptions& o) {
  const sigset_t signals = BlockInterrupts();
  std::unique_ptr<PlatformView> view = OpenView("logs", o.common.data_dir);
  if (!view) return kExitUsage;
  const std::string arn = view->ExecutionArn(kDeploymentMachine, o.job_id);
  if (!view->Execution(arn) && !view->Execution(view->ExecutionArn(kTeardownMachine, o.job_id))) {
    std::cerr << "hpdeploy logs: no deployment " << o.job_id << " in " << o.common.data_dir << "\n";
    return kExitFailure;
  }
  std::map<std::string, int64_t> positions;
  std::set<std::string> headed;  // streams whose header is printed
  auto print_new = [&] {
    StatusOr<std::vector<engine::TaskRecord>> tasks =
        engine::ContainerRunner::FindTasks(view->data_dir() / "tasks", "JOB_ID", o.job_id);
    if (!tasks.ok()) return;
    std::vector<engine::TaskRecord> ordered = *tasks;
    std::reverse(ordered.begin(), ordered.end());
    for (const engine::TaskRecord& task : ordered) {
      const std::string key = task.log_group + "\n" + task.log_stream;
      int64_t& after = positions[key];
      if (headed.insert(key).second) {
        std::cout << "== " << task.log_group << " " << task.log_stream << "\n";
      }
      while (true) {
        auto page = view->logs().Read(task.log_group, task.log_stream, after, 500);
        if (!page.ok() || page->events.empty()) break;
        for (const store::LogEvent& event : page->events) {
          std::cout << event.message << "\n";
          after = event.sequence;
        }
      }
    }
    std::cout << std::flush;
  };
  print_new();
  while (o.follow) {
    auto running = [&](const std::string& execution) {
      std::optional<store::ExecutionRow> row = view->Execution(execution);
      return row && row->status == "RUNNING";
    };
    bool any_running = running(arn);
    for (int attempt = 1; !any_running; ++attempt) {
      const std::string teardown =
          view->ExecutionArn(kTeardownMachine, TeardownName(o.job_id, attempt));
      if (!view->Execution(teardown)) break;
      any_running = running(teardown);
    }
    if (Interrupted(signals, 250)) break;
    print_new();
    if (!any_running) break;
  }
  return kExitOk;
}

int Teardown(const JobOptions& o) {
  const sigset_t signals = BlockInterrupts();
  std::unique_ptr<Platform> platform =
      OpenPlatform("teardown", o.common.data_dir, o.time_scale, o.workers, "");
  if (!platform) return kExitUsage;
  StatusOr<json::object> described = platform->Call(
      "DescribeExecution",
      json::object{{"executionArn", platform->ExecutionArn(kDeploymentMachine, o.job_id)}});
  if (!described.ok()) {
    std::cerr << "hpdeploy teardown: no deployment " << o.job_id << " in " << o.common.data_dir
              << "\n";
    return kExitFailure;
  }
  if (StringField(*described, "status") != "SUCCEEDED") {
    std::cerr << "hpdeploy teardown: deployment " << o.job_id << " is "
              << StringField(*described, "status")
              << "; only a SUCCEEDED deployment is torn down (a failed one was cleaned up by "
                 "CleanupOnFailure)\n";
    return kExitFailure;
  }
  store::ExecutionRow row;
  row.input = StringField(*described, "input");
  const JobArtifacts artifacts = ArtifactsOf(row);
  StatusOr<json::value> deployment = ParseJson(row.input);
  json::object input = hyperpod::TeardownInput(
      deployment.ok() && deployment->is_object() ? deployment->as_object() : json::object(),
      CurrentUser(), FormatRfc3339(platform->clock().WallNow()));
  input["jobId"] = o.job_id;
  // An earlier teardown of the job: follow it while it runs; after a failure, a new attempt
  // (named <jobId>.<n>) starts from the beginning: the failed one ended in its Fail state, and
  // the teardown's tasks are safe to run again.
  int attempt = 1;
  std::string teardown_name = TeardownName(o.job_id, attempt);
  while (true) {
    StatusOr<json::object> earlier = platform->Call(
        "DescribeExecution",
        json::object{{"executionArn", platform->ExecutionArn(kTeardownMachine, teardown_name)}});
    if (!earlier.ok()) break;
    const std::string status = StringField(*earlier, "status");
    if (status == "SUCCEEDED") {
      std::cout << "HyperPod job " << o.job_id << " is already torn down.\n";
      return kExitOk;
    }
    if (status == "RUNNING") {
      std::cout << "Following the teardown of HyperPod job " << o.job_id
                << " that is already running\n";
      return Follow("teardown", std::move(platform), kTeardownMachine, o.job_id,
                    StringField(*earlier, "executionArn"), !o.no_follow, signals);
    }
    std::cout << "Teardown attempt " << attempt << " " << status << "; starting attempt "
              << attempt + 1 << "\n";
    teardown_name = TeardownName(o.job_id, ++attempt);
  }
  std::cout << "Tearing down HyperPod job " << o.job_id << " (region " << artifacts.region << ")\n";
  return StartAndFollow("teardown", std::move(platform), kTeardownMachine, teardown_name, input,
                        !o.no_follow, signals, o.job_id);
}

struct ParamsOptions {
  CommonOptions common;
  std::string path;
  bool recursive = true;
  bool json = false;
};

int GetByPath(const ParamsOptions& o) {
  SystemClock clock;
  const std::filesystem::path file = std::filesystem::path(o.common.data_dir) / "parameters.db";
  if (!std::filesystem::exists(file)) {
    std::cerr << "hpdeploy params: no parameter store in " << o.common.data_dir << "\n";
    return kExitUsage;
  }
  StatusOr<std::unique_ptr<store::ParameterStore>> parameters =
      store::ParameterStore::Open(file, clock);
  if (!parameters.ok()) {
    std::cerr << "hpdeploy params: " << parameters.status().message() << "\n";
    return kExitUsage;
  }
  json::array all;
  std::optional<std::string> token;
  do {
    StatusOr<store::ParameterPage> page = (*parameters)->GetByPath(o.path, o.recursive, 10, token);
    if (!page.ok()) {
      std::cerr << "hpdeploy params: " << page.status().error_name() << ": "
                << page.status().message() << "\n";
      return kExitUsage;
    }
    for (const store::Parameter& p : page->parameters) {
      all.push_back(json::object{{"Name", p.name},
                                 {"Type", p.type},
                                 {"Value", p.value},
                                 {"Version", p.version},
                                 {"LastModifiedDate", FormatRfc3339Millis(p.last_modified)}});
    }
    token = page->next_token;
  } while (token);
  if (o.json) {
    std::cout << SerializeJsonPretty(json::object{{"Parameters", all}}) << "\n";
  } else {
    for (const json::value& p : all) {
      std::cout << StringField(p.as_object(), "Name") << " = "
                << StringField(p.as_object(), "Value") << "\n";
    }
  }
  return all.empty() ? kExitFailure : kExitOk;
}

void AddDataDir(CLI::App* cmd, CommonOptions& common) {
  cmd->add_option("--data-dir", common.data_dir,
                  "The embedded platform's data dir (journal, stores, sandbox cloud)")
      ->envname("HPD_DATA_DIR")
      ->capture_default_str();
}

}  // namespace

void RegisterDeployCommands(CLI::App& app, int* exit_code) {
  auto deploy = std::make_shared<DeployOptions>();
  CLI::App* cmd = app.add_subcommand(
      "deploy",
      "Deploy a HyperPod cluster through the workflow (PrepareDeploymentConfig → "
      "RunInfraForgeTask → PostDeploymentValidation → PersistDeploymentOutputs; on failure "
      "CleanupOnFailure → RecordFailure) on the embedded engine against the sandbox cloud, and "
      "follow it: states, guardrail results, InfraForge's log lines, then the outputs or the "
      "failure record. Exit codes: 0 it SUCCEEDED (or, with --no-follow, it started), 1 it did "
      "not (or the job id exists), 2 bad arguments or an unusable data dir, 130 interrupted "
      "(the deployment is journaled and resumes when hpdeploy next runs the data dir).");
  AddDataDir(cmd, deploy->common);
  cmd->add_option("--preset", deploy->preset,
                  "small | medium | large, or one from --presets (default: the catalog's "
                  "default, small)");
  cmd->add_option("--region", deploy->region, "AWS region of the cluster")->capture_default_str();
  cmd->add_option("--name", deploy->name,
                  "Deployment name: the HyperPod cluster's; EKS and stack names derive from it "
                  "(default hp-<first 8 characters of the job id>)");
  cmd->add_option("--set", deploy->sets,
                  "Override a preset value, KEY=VALUE (repeatable), e.g. "
                  "instanceGroups.accelerated.count=4, ebsVolumeGb=1000, fsx.storageGiB=2400; "
                  "bounded by the preset's limits (guardrail overrides.bounded)");
  cmd->add_option("--fault", deploy->faults,
                  "Inject a sandbox fault (repeatable):\n" + sandbox::FaultHelp());
  cmd->add_flag("--no-follow", deploy->no_follow,
                "Start the deployment, then return: a background `hpdeploy serve "
                "--exit-when-idle` runs it to the end (hpdeploy status / logs follow it)");
  cmd->add_option("--time-scale", deploy->time_scale,
                  "Simulated time (the sandbox's resources, Waits, retries, timeouts) of d takes "
                  "d * X of real time: a ~25 min EKS + HyperPod stack takes ~15 s at 0.01")
      ->capture_default_str();
  cmd->add_option("--timeout", deploy->timeout_seconds,
                  "timeoutSeconds of the input: RunInfraForgeTask's TimeoutSecondsPath")
      ->capture_default_str();
  cmd->add_option("--config-bucket", deploy->config_bucket,
                  "artifacts.configBucket: where the InfraForge config and documents go")
      ->capture_default_str();
  cmd->add_option("--parameter-prefix", deploy->parameter_prefix,
                  "artifacts.parameterPrefix: outputs go under PREFIX/<jobId>/")
      ->capture_default_str();
  cmd->add_option("--presets", deploy->presets_file,
                  "A JSON file of presets extending or replacing the built-in ones");
  cmd->add_flag("--no-quota-checks", deploy->no_quota_checks,
                "guardrails.quotaChecks false: quota guardrails report WARN (skipped)");
  cmd->add_option("--job-id", deploy->job_id, "The job id (default: a new UUID)");
  cmd->add_option("--workers", deploy->workers, "Threads running task handlers")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->callback([deploy, exit_code] { *exit_code = Deploy(*deploy); });

  auto status = std::make_shared<JobOptions>();
  CLI::App* status_cmd = app.add_subcommand(
      "status",
      "Show a deployment: status, current state, guardrail report, outputs or failure "
      "record, teardown. Reads the data dir beside whatever process runs it.");
  AddDataDir(status_cmd, status->common);
  status_cmd->add_option("JOB", status->job_id, "The job id")->required();
  status_cmd->add_flag("--json", status->json, "Print JSON");
  status_cmd->callback([status, exit_code] { *exit_code = Status_(*status); });

  auto logs = std::make_shared<JobOptions>();
  CLI::App* logs_cmd = app.add_subcommand(
      "logs", "Print the log lines of a deployment's containers (InfraForge deploy and destroy)");
  AddDataDir(logs_cmd, logs->common);
  logs_cmd->add_option("JOB", logs->job_id, "The job id")->required();
  logs_cmd->add_flag("--follow,-f", logs->follow,
                     "Keep printing new lines until the deployment (or its teardown) ends");
  logs_cmd->callback([logs, exit_code] { *exit_code = Logs(*logs); });

  auto teardown = std::make_shared<JobOptions>();
  CLI::App* teardown_cmd = app.add_subcommand(
      "teardown",
      "Destroy a SUCCEEDED deployment through the teardown workflow (PrepareTeardown → "
      "RunInfraForgeDestroy → FinalizeTeardown) and follow it. After a failed teardown (see "
      "hpdeploy status), running it again starts a new attempt, <jobId>.<n>; one still running "
      "is followed. Exit 0 when it SUCCEEDED (or had), 1 when it did not.");
  AddDataDir(teardown_cmd, teardown->common);
  teardown_cmd->add_option("JOB", teardown->job_id, "The job id")->required();
  teardown_cmd->add_option("--time-scale", teardown->time_scale, "As for deploy")
      ->capture_default_str();
  teardown_cmd->add_flag("--no-follow", teardown->no_follow, "As for deploy");
  teardown_cmd->callback([teardown, exit_code] { *exit_code = Teardown(*teardown); });

  auto params = std::make_shared<ParamsOptions>();
  CLI::App* params_cmd = app.add_subcommand("params", "Read the local parameter store");
  params_cmd->require_subcommand(1);
  CLI::App* by_path = params_cmd->add_subcommand(
      "get-by-path", "GetParametersByPath: NAME = VALUE lines (exit 1 when there are none)");
  AddDataDir(by_path, params->common);
  by_path->add_option("PATH", params->path, "A hierarchy path, e.g. /perf-eval/hyperpod/<jobId>")
      ->required();
  by_path->add_flag("!--no-recursive", params->recursive,
                    "Only the parameters directly under PATH");
  by_path->add_flag("--json", params->json, "Print JSON as `aws ssm get-parameters-by-path` does");
  by_path->callback([params, exit_code] { *exit_code = GetByPath(*params); });
}

}  // namespace hpd::cli
