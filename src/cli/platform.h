// The embedded default, assembled: one data dir holding the journal, the local stores, the
// sandbox cloud and the container runner's tasks; the durable runtime with the HyperPod handlers
// and the local ECS; and the two HyperPod state machines registered through the Step Functions
// API. `hpdeploy serve` and `hpdeploy deploy` open it; `hpdeploy status` and `logs` open a
// PlatformView beside whichever process runs it.
//
// Data dir layout:
//   journal.db (+ .lock)   the runtime's journal (one running process at a time)
//   parameters.db          the parameter store (SSM semantics)
//   objects/               the object store (S3 semantics)
//   logs.db                log groups and streams (the containers' output)
//   sandbox/               the simulated AWS account
//   tasks/                 the container runner's task directories and index
//   events.db              the event log: status changes, progress and log lines as EventBridge
//                          events (store/event_log.h), published from the journal and log store
#ifndef HPD_CLI_PLATFORM_H_
#define HPD_CLI_PLATFORM_H_

#include <atomic>
#include <boost/json/object.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "engine/container_runner.h"
#include "engine/event_publisher.h"
#include "engine/local_functions.h"
#include "engine/runtime.h"
#include "hyperpod/presets.h"
#include "sandbox/account.h"
#include "server/step_functions_api.h"
#include "store/event_log.h"
#include "store/journal.h"
#include "store/log_store.h"
#include "store/object_store.h"
#include "store/parameter_store.h"

namespace hpd::cli {

// The state machines' names (in the Step Functions account of the platform).
inline constexpr char kDeploymentMachine[] = "hyperpod-deployment";
inline constexpr char kTeardownMachine[] = "hyperpod-teardown";
// Cleans up after a cancelled (stopped) deployment: docs/hyperpod_cancel.asl.json.
inline constexpr char kCancelMachine[] = "hyperpod-cancel";

// arn:aws:states:<region>:<account>:stateMachine:<name>
std::string StateMachineArn(std::string_view region, std::string_view account_id,
                            std::string_view name);

struct PlatformOptions {
  std::filesystem::path data_dir = "hpdeploy-data";
  // Simulated durations (the sandbox's resources, Waits, retries, timeouts) of d take d * X of
  // real time.
  double time_scale = 1.0;
  size_t workers = 4;
  // Of the Step Functions and Lambda ARNs.
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  // A JSON file of presets that extend or replace the built-in ones; empty for none.
  std::string presets_file;
  // More functions to serve (bench, corpus, witness), registered before the runtime opens.
  std::function<Status(engine::LocalFunctions&)> extra_functions;
};

class Platform {
 public:
  // Opens (creating) the data dir and everything in it; recovers open executions; registers
  // or updates the HyperPod state machines. kFailedPrecondition when another process holds the
  // data dir; kUnavailable when it cannot be created or written.
  [[nodiscard]] static StatusOr<std::unique_ptr<Platform>> Open(PlatformOptions options);
  // Stops the runtime (running tasks are cancelled and will run again on the next open), then
  // closes the journal.
  ~Platform();
  Platform(const Platform&) = delete;
  Platform& operator=(const Platform&) = delete;

  // A Step Functions API action, answered synchronously: the JSON reply, or the AWS error.
  [[nodiscard]] StatusOr<boost::json::object> Call(std::string_view action,
                                                   const boost::json::object& request);

  const PlatformOptions& options() const { return options_; }
  Clock& clock() { return clock_; }
  store::Journal& journal() { return *journal_; }
  engine::Runtime& runtime() { return *runtime_; }
  server::StepFunctionsApi& api() { return *api_; }
  store::ParameterStore& parameters() { return *parameters_; }
  store::ObjectStore& objects() { return *objects_; }
  store::LogStore& logs() { return *logs_; }
  sandbox::Account& sandbox() { return *sandbox_; }
  store::EventLog& events() { return *events_; }
  // Blocks until every commit so far is in the event log.
  void FlushEvents() { publisher_->Flush(); }
  const hyperpod::PresetCatalog& presets() const { return *presets_; }
  std::string MachineArn(std::string_view name) const;
  std::string ExecutionArn(std::string_view machine, std::string_view name) const;

 private:
  explicit Platform(PlatformOptions options);
  Status EnsureStateMachine(std::string_view name, const std::string& definition);

  const PlatformOptions options_;
  SystemClock clock_;
  std::unique_ptr<hyperpod::PresetCatalog> presets_;
  std::unique_ptr<store::ParameterStore> parameters_;
  std::unique_ptr<store::ObjectStore> objects_;
  std::unique_ptr<store::LogStore> logs_;
  std::unique_ptr<sandbox::Account> sandbox_;
  std::unique_ptr<engine::ContainerRunner> runner_;
  std::unique_ptr<engine::LocalFunctions> functions_;
  std::unique_ptr<store::Journal> journal_;
  std::unique_ptr<engine::Runtime> runtime_;
  std::unique_ptr<server::StepFunctionsApi> api_;
  std::unique_ptr<store::EventLog> events_;
  // Set once the runtime is open; the runtime's and log store's notifications before then are
  // caught up by its Start.
  std::atomic<engine::EventPublisher*> publisher_ptr_{nullptr};
  std::unique_ptr<engine::EventPublisher> publisher_;
};

// Read-only access to a data dir another process may be running: the journal (histories
// replayed without running anything) and the stores.
class PlatformView {
 public:
  // kNotFound when the data dir has no journal.
  [[nodiscard]] static StatusOr<std::unique_ptr<PlatformView>> Open(
      const std::filesystem::path& data_dir, std::string region = "us-east-1",
      std::string account_id = "123456789012");
  ~PlatformView();

  std::optional<store::ExecutionRow> Execution(const std::string& arn) const;
  StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> History(
      const std::string& arn) const;
  store::ParameterStore& parameters() { return *parameters_; }
  store::ObjectStore& objects() { return *objects_; }
  store::LogStore& logs() { return *logs_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::string ExecutionArn(std::string_view machine, std::string_view name) const;

 private:
  PlatformView() = default;
  std::filesystem::path data_dir_;
  std::string region_;
  std::string account_id_;
  SystemClock clock_;
  std::unique_ptr<store::ParameterStore> parameters_;
  std::unique_ptr<store::ObjectStore> objects_;
  std::unique_ptr<store::LogStore> logs_;
  std::unique_ptr<engine::LocalFunctions> functions_;
  std::unique_ptr<store::Journal> journal_;
  std::unique_ptr<engine::Runtime> runtime_;
};

// The definitions and files built into hpdeploy (from docs/ and deploy/local/).
std::string_view DeploymentDefinitionText();
std::string_view TeardownDefinitionText();
std::string_view CancelDefinitionText();
// docs/openapi.yaml, served at /api/v1/openapi.yaml.
std::string_view OpenApiText();
std::string_view DefinitionSubstitutionsText();
std::string_view LocalTaskDefinitionsText();

}  // namespace hpd::cli

#endif  // HPD_CLI_PLATFORM_H_
