// hpdeploy run: runs one execution of a definition in memory, with the local Lambda functions,
// and prints its result.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl/diagnostics.h"
#include "asl/history.h"
#include "asl/interpreter.h"
#include "asl/parser.h"
#include "asl/substitutions.h"
#include "cli/commands.h"
#include "cli/input_files.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/random.h"
#include "common/status.h"
#include "common/uuid.h"
#include "engine/bench_functions.h"
#include "engine/corpus_functions.h"
#include "engine/in_memory_executor.h"
#include "engine/local_functions.h"

namespace hpd::cli {
namespace {

namespace json = boost::json;

constexpr std::string_view kPartition = "aws";
constexpr std::string_view kRegion = "us-east-1";
constexpr std::string_view kAccount = "123456789012";
constexpr std::string_view kRoleArn = "arn:aws:iam::123456789012:role/hpdeploy";
constexpr size_t kMaxNameLength = 80;

struct RunOptions {
  std::string definition_file;
  std::string input = "{}";
  std::string history_file;
  std::string state_machine_name;
  std::string execution_name;
  double time_scale = 1.0;
  std::string type = "STANDARD";
  std::string substitutions_file;
};

// Characters Step Functions refuses in state machine and execution names: whitespace, brackets,
// wildcards, punctuation with a meaning in ARNs and URLs, and control characters.
bool IsForbiddenNameChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u == 0x7f) return true;
  return std::string_view(" <>{}[]?*\"#%\\^|~`$&,;:/").find(c) != std::string_view::npos;
}

std::optional<std::string> NameProblem(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return "must be 1 to " + std::to_string(kMaxNameLength) + " characters long";
  }
  for (char c : name) {
    if (IsForbiddenNameChar(c)) {
      return "must not contain whitespace, control characters or any of <>{}[]?*\"#%\\^|~`$&,;:/";
    }
  }
  return std::nullopt;
}

// "workloads/hyperpod_like.asl.json" -> "hyperpod_like".
std::string NameFromFile(const std::string& path) {
  if (path == "-") return "stdin";
  std::string name = std::filesystem::path(path).filename().string();
  for (std::string_view suffix : {".json", ".asl"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix))
      name.resize(name.size() - suffix.size());
  }
  for (char& c : name) {
    if (IsForbiddenNameChar(c)) c = '-';
  }
  if (name.size() > kMaxNameLength) name.resize(kMaxNameLength);
  return name.empty() ? "hpdeploy-run" : name;
}

// The text of --input: a JSON literal, @FILE, or "-" for standard input.
StatusOr<std::string> InputText(const std::string& argument) {
  if (argument == "-") return ReadFileOrStdin("-");
  if (argument.starts_with("@")) return ReadFileOrStdin(argument.substr(1));
  return argument;
}

std::string LocalFunctionsHelp() {
  std::string text =
      "Lambda functions (Resource arn:aws:lambda:REGION:ACCOUNT:function:NAME, or "
      "arn:aws:states:::lambda:invoke with FunctionName NAME) run in-process; an unknown NAME "
      "fails with Lambda.ResourceNotFoundException, as on AWS. Any other resource fails with "
      "States.TaskFailed. Local functions:\n";
  for (const engine::LocalFunctionSummary& f : engine::BenchFunctions()) {
    text += "  " + std::string(f.name) + ": " + std::string(f.behaviour) + "\n";
  }
  text +=
      "  identity: returns its event\n"
      "  echo: returns {Return: \"HelloWorld\"}\n"
      "  raise_exception: raises Exception(\"Some exception was raised.\")\n"
      "  raise_custom_exception: raises CustomException\n"
      "  large_output: returns a 257 KiB string (States.DataLimitExceeded)\n"
      "  return_bytes_str: returns \"HelloWorld!\"\n"
      "  wait_60_seconds: returns its event after 60 s (scaled by --time-scale)\n";
  return text;
}

// The one global a signal handler needs: where it reports a signal.
int interrupt_pipe_write_fd = -1;

extern "C" void OnInterrupt(int signal_number) {
  const int saved_errno = errno;
  const auto byte = static_cast<unsigned char>(signal_number);
  [[maybe_unused]] const ssize_t written = write(interrupt_pipe_write_fd, &byte, 1);
  errno = saved_errno;
}

// Turns SIGINT and SIGTERM into a call of `on_interrupt` on a thread of its own (a handler may
// only do async-signal-safe things, so it writes the signal to a pipe that thread reads). The
// handlers reset themselves (SA_RESETHAND): a second signal terminates the process, the way out
// when the execution cannot stop. One instance at a time.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void(int signal_number)> on_interrupt)
      : on_interrupt_(std::move(on_interrupt)) {
    if (pipe2(fds_, O_CLOEXEC) != 0) {
      fds_[0] = fds_[1] = -1;
      return;  // runs without interrupt handling, as if none were sent
    }
    interrupt_pipe_write_fd = fds_[1];
    thread_ = std::thread([this] { Watch(); });
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = static_cast<int>(static_cast<unsigned>(SA_RESTART) | SA_RESETHAND);
    sigaction(SIGINT, &action, &previous_int_);
    sigaction(SIGTERM, &action, &previous_term_);
  }

  ~InterruptWatcher() {
    if (fds_[1] < 0) return;
    sigaction(SIGINT, &previous_int_, nullptr);
    sigaction(SIGTERM, &previous_term_, nullptr);
    const unsigned char quit = 0;
    [[maybe_unused]] const ssize_t written = write(fds_[1], &quit, 1);
    thread_.join();
    interrupt_pipe_write_fd = -1;
    close(fds_[0]);
    close(fds_[1]);
  }

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

 private:
  void Watch() {
    for (;;) {
      unsigned char byte = 0;
      const ssize_t n = read(fds_[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == 0) return;
      on_interrupt_(byte);
    }
  }

  const std::function<void(int)> on_interrupt_;
  int fds_[2] = {-1, -1};
  std::thread thread_;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
};

int UsageError(const std::string& message) {
  std::cerr << "hpdeploy run: " << message << "\n";
  return kExitUsage;
}

int RunRun(const RunOptions& options) {
  if (options.definition_file == "-" && options.input == "-") {
    return UsageError("the definition and --input cannot both come from standard input");
  }
  if (!std::isfinite(options.time_scale) || options.time_scale < 0) {
    return UsageError("--time-scale must be a number >= 0");
  }

  // The definition.
  const std::string label = options.definition_file == "-" ? "<stdin>" : options.definition_file;
  auto definition = ReadFileOrStdin(options.definition_file);
  if (!definition.ok()) return UsageError(std::string(definition.status().message()));
  if (!options.substitutions_file.empty()) {
    auto substitutions = ReadSubstitutions(options.substitutions_file);
    if (!substitutions.ok()) return UsageError(std::string(substitutions.status().message()));
    auto substituted = asl::ApplySubstitutions(*definition, *substitutions);
    if (!substituted.ok()) {
      return UsageError(label + ": " + std::string(substituted.status().message()) +
                        " (add it to " + options.substitutions_file + ")");
    }
    definition = std::move(substituted);
  }
  const asl::ParseResult parsed = asl::ParseDefinition(*definition);
  if (!parsed.ok()) {
    std::cerr << "hpdeploy run: " << label << ": invalid definition\n";
    const std::string details = asl::DiagnosticsToText(parsed.diagnostics);
    size_t start = 0;
    while (start < details.size()) {
      const size_t end = details.find('\n', start);
      std::cerr << "  " << details.substr(start, end - start) << "\n";
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return kExitUsage;
  }
  if (!parsed.diagnostics.empty()) {
    std::cerr << "hpdeploy run: " << label << ": " << parsed.diagnostics.size()
              << (parsed.diagnostics.size() == 1 ? " warning" : " warnings")
              << " (see hpdeploy validate)\n";
  }

  // The input.
  auto input_text = InputText(options.input);
  if (!input_text.ok()) return UsageError(std::string(input_text.status().message()));
  if (input_text->size() > asl::kMaxPayloadBytes) {
    // As StartExecution refuses it: the limit counts the UTF-8 bytes of the JSON text.
    return UsageError("--input is " + std::to_string(input_text->size()) +
                      " bytes; Step Functions accepts at most " +
                      std::to_string(asl::kMaxPayloadBytes) + " (256 KiB)");
  }
  auto input = ParseJson(*input_text);
  if (!input.ok()) {
    return UsageError("--input is not JSON: " + std::string(input.status().message()));
  }

  // Names.
  SystemRandom random;
  const std::string state_machine_name = options.state_machine_name.empty()
                                             ? NameFromFile(options.definition_file)
                                             : options.state_machine_name;
  const std::string execution_name =
      options.execution_name.empty() ? NewUuidV4(random) : options.execution_name;
  if (auto problem = NameProblem(state_machine_name)) {
    return UsageError("state machine name \"" + state_machine_name + "\" " + *problem);
  }
  if (auto problem = NameProblem(execution_name)) {
    return UsageError("execution name \"" + execution_name + "\" " + *problem);
  }

  // Opened now, so that a bad path is a usage error rather than a lost history.
  std::ofstream history_out;
  if (!options.history_file.empty()) {
    history_out.open(options.history_file, std::ios::binary | std::ios::trunc);
    if (!history_out) {
      return UsageError("cannot write " + options.history_file + ": " + std::strerror(errno));
    }
  }

  // Time: a simulated clock for --time-scale 0 (starting now), else real time.
  SystemClock system_clock;
  std::unique_ptr<SimulatedClock> simulated_clock;
  if (options.time_scale == 0) {
    simulated_clock = std::make_unique<SimulatedClock>(
        std::chrono::floor<std::chrono::milliseconds>(system_clock.WallNow()));
  }
  Clock& clock = simulated_clock ? static_cast<Clock&>(*simulated_clock) : system_clock;

  engine::LocalFunctions functions(
      engine::LambdaEnvironment{std::string(kPartition), std::string(kRegion),
                                std::string(kAccount)},
      clock);
  Status registered = engine::RegisterBenchFunctions(functions);
  for (engine::CorpusBehaviour behaviour : engine::kAllCorpusBehaviours) {
    if (!registered.ok()) break;
    registered = engine::RegisterCorpusFunction(
        functions, std::string(engine::CorpusBehaviourName(behaviour)), behaviour);
  }
  if (!registered.ok()) {
    std::cerr << "hpdeploy run: " << registered << "\n";
    return kExitFailure;
  }

  asl::ExecutionInfo info;
  const std::string arn_prefix = "arn:" + std::string(kPartition) +
                                 ":states:" + std::string(kRegion) + ":" + std::string(kAccount) +
                                 ":";
  info.state_machine_arn = arn_prefix + "stateMachine:" + state_machine_name;
  info.state_machine_name = state_machine_name;
  info.execution_arn = arn_prefix + "execution:" + state_machine_name + ":" + execution_name;
  info.execution_name = execution_name;
  info.role_arn = std::string(kRoleArn);
  // Step Functions records times to the millisecond.
  info.start_time = std::chrono::floor<std::chrono::milliseconds>(clock.WallNow());
  info.random_seed = random.Next();
  info.express = options.type == "EXPRESS";
  if (info.express) {
    info.execution_arn =
        arn_prefix + "express:" + state_machine_name + ":" + execution_name + ":" + execution_name;
  }
  asl::Execution execution(parsed.machine, info);

  engine::InMemoryExecutorOptions executor_options;
  executor_options.time_scale = options.time_scale == 0 ? 1.0 : options.time_scale;
  executor_options.runner_name = "hpdeploy run";
  std::unique_ptr<engine::InMemoryExecutor> executor =
      simulated_clock ? std::make_unique<engine::InMemoryExecutor>(*simulated_clock, functions,
                                                                   random, executor_options)
                      : std::make_unique<engine::InMemoryExecutor>(system_clock, functions, random,
                                                                   executor_options);
  Status finished;
  {
    InterruptWatcher watcher([&executor](int signal_number) {
      executor->RequestStop("", std::string("hpdeploy run was interrupted (") +
                                    (signal_number == SIGINT ? "SIGINT" : "SIGTERM") + ")");
    });
    finished = executor->RunToCompletion(execution, *input, std::move(input_text).value(),
                                         info.start_time);
  }

  if (history_out.is_open()) {
    json::array events;
    events.reserve(execution.history().size());
    for (const asl::HistoryEvent& event : execution.history()) {
      events.push_back(asl::HistoryEventToJson(event));
    }
    history_out << SerializeJson(json::object{{"events", std::move(events)}}) << "\n";
    history_out.close();
    if (!history_out) {
      std::cerr << "hpdeploy run: cannot write " << options.history_file << "\n";
      return kExitUsage;
    }
  }

  if (!finished.ok()) {
    std::cerr << "hpdeploy run: execution " << info.execution_arn
              << " did not finish: " << finished.message() << "\n";
    return kExitFailure;
  }
  const asl::ExecutionStatus status = execution.status();
  if (status == asl::ExecutionStatus::kSucceeded) {
    std::cout << execution.output().value_or("null") << "\n";
    return kExitOk;
  }
  std::cerr << "hpdeploy run: execution " << asl::ExecutionStatusName(status) << "\n";
  if (!execution.error().empty()) std::cerr << "error: " << execution.error() << "\n";
  if (!execution.cause().empty()) std::cerr << "cause: " << execution.cause() << "\n";
  return kExitFailure;
}

}  // namespace

void RegisterRunCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run",
      "Run one execution of a state machine in this process, with local Lambda functions, and "
      "print its output (JSON on standard output) or its error and cause (standard error).");
  cmd->add_option("definition", options->definition_file,
                  "ASL definition file ('-' reads standard input)")
      ->type_name("DEF.json")
      ->required();
  cmd->add_option("--input", options->input,
                  "Execution input: a JSON text, @FILE to read it from FILE, or '-' for standard "
                  "input; recorded verbatim in ExecutionStarted; at most 262144 bytes")
      ->type_name("JSON|@FILE|-")
      ->capture_default_str();
  cmd->add_option("--history", options->history_file,
                  "Write the execution history to FILE as GetExecutionHistory returns it: "
                  "{\"events\": [...]} (payloads are JSON strings, timestamps epoch seconds)")
      ->type_name("FILE");
  cmd->add_option("--state-machine-name", options->state_machine_name,
                  "State machine name (default: the definition's file name without .asl.json)")
      ->type_name("NAME");
  cmd->add_option("--execution-name", options->execution_name,
                  "Execution name (default: a random UUID)")
      ->type_name("NAME");
  cmd->add_option("--type", options->type,
                  "Execution type: STANDARD (a history of at most 25,000 events; reaching it fails "
                  "the execution, as on AWS) or EXPRESS (no history limit)")
      ->check(CLI::IsMember({"STANDARD", "EXPRESS"}))
      ->capture_default_str();
  cmd->add_option("--time-scale", options->time_scale,
                  "Real time per unit of workflow time: Wait states, retry intervals, timeouts and "
                  "function run times of d take d*X. 0 runs on a simulated clock: no waiting at "
                  "all, and history timestamps advance as if every delay had elapsed")
      ->type_name("X")
      ->capture_default_str();
  cmd->add_option("--substitutions", options->substitutions_file,
                  "JSON object of placeholder values; every ${Name} in the definition is replaced "
                  "first, as CloudFormation DefinitionSubstitutions does")
      ->type_name("FILE.json");
  cmd->footer(
      LocalFunctionsHelp() +
      "ARNs: arn:aws:states:us-east-1:123456789012:stateMachine:NAME and "
      "...:execution:NAME:EXECUTION, role arn:aws:iam::123456789012:role/hpdeploy.\n"
      "SIGINT or SIGTERM stops the execution (ABORTED); a second one kills the process.\n"
      "Exit codes: 0 SUCCEEDED, 1 FAILED, TIMED_OUT or ABORTED, 2 usage or I/O error (an invalid "
      "definition or input included).");
  cmd->callback([options, exit_code] { *exit_code = RunRun(*options); });
}

}  // namespace hpd::cli
