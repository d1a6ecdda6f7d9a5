// The local ECS: runs arn:aws:states:::ecs:runTask.sync (and plain ecs:runTask) tasks as child
// processes, one per container of a task definition, and answers as Step Functions does.
//
// Task definitions come from a JSON file modelled on ECS's RegisterTaskDefinition input
// (deploy/local/task-definitions.json):
//   {"taskDefinitions": [{"family": "infraforge", "revision": 1, "cpu": "256", "memory": "512",
//     "containerDefinitions": [{"name": "infraforge", "essential": true, "image": "...",
//       "entryPoint": ["${hpdeploy}", "sandbox", "infraforge"], "command": ["deploy"],
//       "environment": [{"name": "HPD_SANDBOX_DIR", "value": "${DataDir}/sandbox"}],
//       "workingDirectory": "work",
//       "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/x",
//                            "awslogs-stream-prefix": "x"}},
//       "stageObjects": [{"fromEnvironment": "CONFIG_S3_URI", "toFile": "config.json"}]}]}]}
// "${Name}" in any string is replaced by the variable given to Load (an unknown name is an
// error; "$" not followed by "{" stays as is). `stageObjects` stands in for an image whose
// entrypoint copies an S3 object into its working directory: before the container starts, the
// s3://bucket/key URI in the named environment variable (after overrides) is fetched from the
// ObjectStore and written to `toFile`.
//
// How a task runs (ContainerRunner::Run):
//  - Parameters are RunTask's, PascalCase as Step Functions passes them: TaskDefinition
//    ("family", "family:revision" or the task definition ARN), Cluster, LaunchType,
//    PlatformVersion, NetworkConfiguration.AwsvpcConfiguration{Subnets, SecurityGroups,
//    AssignPublicIp}, Overrides.ContainerOverrides[{Name, Command, Environment}], StartedBy,
//    Group, Tags. API errors fail the task with "ECS.<ExceptionName>" and the AWS SDK's message
//    as cause: ECS.ClientException for an unknown task definition ("TaskDefinition not found."),
//    ECS.InvalidParameterException for malformed parameters, an override naming no container of
//    the definition, or overrides over 8192 characters of JSON.
//  - Each container is a child process in its own process group: argv = entryPoint + command
//    (the override's Command replacing the definition's), passed to execve as a vector (never
//    through a shell); the environment is only the runner's base environment (PATH, HOME, LANG),
//    what ECS on Fargate sets (AWS_REGION, AWS_DEFAULT_REGION, AWS_EXECUTION_ENV,
//    ECS_CONTAINER_METADATA_URI[_V4]), the definition's environment and the override's, later
//    ones winning; the working directory a fresh <work_root>/<task id>/ (plus the definition's
//    workingDirectory below it); stdin /dev/null; stdout and stderr line by line into the
//    awslogs group's stream "<awslogs-stream-prefix>/<container name>/<task id>" as they
//    arrive (a line over 16 KiB is split, as Docker splits them; a partial last line is
//    written at exit).
//  - The task stops when an essential container exits: the others get SIGTERM, then SIGKILL
//    after the grace period. When a container's main process exits, whatever is left of its
//    process group is killed, as Docker kills a container's processes with its init.
//  - runTask.sync returns the stopped task as Step Functions presents DescribeTasks' task
//    (PascalCase keys, times in epoch milliseconds): success when every container exited 0;
//    otherwise error States.TaskFailed with the task JSON (compact) as cause. A container killed
//    by signal N reports ExitCode 128+N (Docker's convention) and a Reason. A container that
//    cannot start (program not found, object to stage missing) stops the task with StopCode
//    TaskFailedToStart (States.TaskFailed, no container runs).
//  - Plain runTask returns RunTask's response ({Failures: [], Tasks: [...], SdkHttpMetadata,
//    SdkResponseMetadata}) once the containers are started; the runner supervises them in the
//    background until they exit or the runner is destroyed.
//  - Cancellation (`cancelled` set, polled every 50 ms): SIGTERM to every process group, SIGKILL
//    after the grace period, the processes reaped, and a last log line saying why. The runner
//    never installs signal handlers and reaps only its own children (waitpid on their pids);
//    a SIGCHLD handler elsewhere that reaps them makes their exit status unknown (the task then
//    fails), never hangs the runner.
//  - Crash recovery: <work_root>/tasks.db records every task (idempotency key, ARN, containers'
//    pids with their start times from /proc/<pid>/stat, status, the override environment). A
//    dispatch whose idempotency key names a task still RUNNING there first stops that task's
//    processes (SIGTERM, then SIGKILL), if they are still the same processes (start time
//    checked, so a recycled pid is never signalled), then starts afresh.
#ifndef HPD_ENGINE_CONTAINER_RUNNER_H_
#define HPD_ENGINE_CONTAINER_RUNNER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "asl/interpreter.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "engine/task_runner.h"

namespace hpd::store {
class LogStore;
class ObjectStore;
}  // namespace hpd::store

namespace hpd::engine {

using EnvironmentVariable = std::pair<std::string, std::string>;  // name, value

// Copies an S3 object into the task's working directory before the container starts.
struct StagedObject {
  std::string from_environment;  // variable holding "s3://bucket/key"
  std::string to_file;           // relative path below the working directory
};

struct ContainerDefinition {
  std::string name;
  std::string image;  // informational: reported as the container's Image
  bool essential = true;
  std::vector<std::string> entry_point;
  std::vector<std::string> command;
  std::vector<EnvironmentVariable> environment;
  std::string working_directory;  // relative to the task directory; "" for the directory itself
  std::string log_group;          // awslogs-group; "" discards the output
  std::string log_stream_prefix;  // awslogs-stream-prefix
  std::vector<StagedObject> stage_objects;
};

struct TaskDefinition {
  std::string family;
  int64_t revision = 0;
  std::string cpu = "256";
  std::string memory = "512";
  std::vector<ContainerDefinition> containers;
};

// The task definitions a ContainerRunner knows. A value type; immutable after Load.
class LocalTaskDefinitions {
 public:
  LocalTaskDefinitions() = default;

  // Reads the file (see the file comment), substituting ${Name} from `variables`.
  // kNotFound when the file is missing; kInvalidArgument (naming the file and the member) when
  // it is malformed: not JSON, a missing family/revision/name/entryPoint, a duplicate
  // family:revision, an unknown variable, an invalid awslogs group, a toFile leaving the
  // working directory.
  [[nodiscard]] static StatusOr<LocalTaskDefinitions> Load(
      const std::filesystem::path& file, const std::map<std::string, std::string>& variables);
  [[nodiscard]] static StatusOr<LocalTaskDefinitions> Parse(
      std::string_view json_text, const std::map<std::string, std::string>& variables);

  // The definition `reference` names: "family" (its latest revision), "family:revision", or
  // "arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/family:revision" whose region and account
  // must be the given ones. Null when none matches.
  const TaskDefinition* Find(std::string_view reference, std::string_view region,
                             std::string_view account_id) const;
  const std::vector<TaskDefinition>& definitions() const { return definitions_; }

 private:
  std::vector<TaskDefinition> definitions_;
};

struct ContainerRunnerOptions {
  std::string partition = "aws";
  std::string region = "us-east-1";
  std::string account_id = "123456789012";
  // Per-task directories and tasks.db live here (created if missing).
  std::filesystem::path work_root;
  LocalTaskDefinitions task_definitions;
  // Where stageObjects come from; may be null when no definition stages objects (a task that
  // does then fails to start).
  store::ObjectStore* objects = nullptr;
  // Where container output goes; may be null (output discarded).
  store::LogStore* logs = nullptr;
  // The only variables of the server's own environment a container sees: see
  // BaseEnvironmentFromProcess.
  std::vector<EnvironmentVariable> base_environment;
  // Between SIGTERM and SIGKILL when a task is stopped (ECS's default is 30 s).
  Duration stop_grace_period = std::chrono::seconds(2);
  // Fault injection: called first for every task; an error fails the task at once with error
  // "ECS.<error_name()>" (e.g. ECS.ThrottlingException) and the message as cause. May be empty.
  std::function<Status(const asl::TaskInvocation&)> before_run_task;
};

// PATH, HOME and LANG of this process, those that are set.
std::vector<EnvironmentVariable> BaseEnvironmentFromProcess();

// A task as tasks.db records it, for `hpdeploy logs` and status queries from other processes.
struct TaskRecord {
  std::string task_id;  // 32 hex digits
  std::string task_arn;
  std::string task_definition_arn;
  std::string status;            // "RUNNING" or "STOPPED"
  std::optional<int> exit_code;  // the deciding container's, once known
  std::string stopped_reason;    // "" while running
  std::string log_group;         // the first essential container's; "" without awslogs
  std::string log_stream;
  // Every container's awslogs stream as (group, stream), in definition order (tasks recorded
  // before the index kept them: just (log_group, log_stream), when set).
  std::vector<std::pair<std::string, std::string>> log_streams;
  std::vector<std::string> containers;  // names, in definition order
  WallTime created_at{};
  std::optional<WallTime> started_at;
  std::optional<WallTime> stopped_at;
  // The dispatch's LambdaContext-style key: for the runtime's tasks "<execution ARN>/<state>/
  // <attempt>/<n>" (see ExecutionArnOfIdempotencyKey); "" when the task was run without one.
  std::string idempotency_key;
};

// Thread-safe: Run may be called from several threads at once. Several ContainerRunners (in one
// or several processes) may share a work_root. The clock, object store and log store must outlive
// the runner.
class ContainerRunner final : public TaskRunner {
 public:
  // Creates work_root and opens its tasks.db. kUnavailable when either cannot be.
  [[nodiscard]] static StatusOr<std::unique_ptr<ContainerRunner>> Create(
      ContainerRunnerOptions options, const Clock& clock);
  // Stops (SIGTERM, then SIGKILL) the tasks still running from plain runTask and waits for them.
  ~ContainerRunner() override;
  ContainerRunner(const ContainerRunner&) = delete;
  ContainerRunner& operator=(const ContainerRunner&) = delete;

  // Service "ecs", action "runTask.sync" or "runTask".
  bool Handles(const asl::TaskInvocation& task) const override;
  asl::TaskOutcome Run(const asl::TaskInvocation& task, const std::atomic<bool>* cancelled,
                       std::string_view idempotency_key) override;

  // The tasks whose container overrides set `env_name` to `env_value`, newest first, read from
  // <work_root>/tasks.db (by any process; an empty list when there is none). A task recorded
  // RUNNING whose processes are all gone (its runner died) is reported STOPPED.
  [[nodiscard]] static StatusOr<std::vector<TaskRecord>> FindTasks(
      const std::filesystem::path& work_root, std::string_view env_name,
      std::string_view env_value);

  // Every task of <work_root>/tasks.db, oldest first (an empty list when there is none), for a
  // reader that must visit them all (the event publisher's catch-up of log streams).
  [[nodiscard]] static StatusOr<std::vector<TaskRecord>> ListTasks(
      const std::filesystem::path& work_root);

  // The task whose container wrote log stream `stream` of `group` ("<prefix>/<container>/<task
  // id>": the task id is the stream's last part), read from <work_root>/tasks.db; nullopt when
  // the stream names no task there (not a runner's stream, or no tasks.db yet). Opens the index
  // for each call: callers looking up many streams should remember the answers.
  [[nodiscard]] static StatusOr<std::optional<TaskRecord>> FindTaskByLogStream(
      const std::filesystem::path& work_root, std::string_view group, std::string_view stream);

 private:
  class TaskIndex;
  struct Task;

  ContainerRunner(ContainerRunnerOptions options, const Clock& clock,
                  std::unique_ptr<TaskIndex> index);

  // Validates the parameters and prepares the task; on failure fills `outcome`.
  bool Prepare(const asl::TaskInvocation& task, Task* prepared, asl::TaskOutcome* outcome);
  // Stages objects and starts the containers; false (task stopped, TaskFailedToStart) if any
  // cannot start.
  bool Start(Task& task);
  // Watches the started containers until all have exited, stopping them on cancellation.
  void Supervise(Task& task, const std::atomic<bool>* cancelled);
  void Finish(Task& task);
  asl::TaskOutcome StoppedOutcome(const Task& task) const;
  // The task as DescribeTasks (or, with `as_run_task_response`, RunTask) reports it, keys and
  // values as Step Functions presents them.
  boost::json::object Describe(const Task& task, bool as_run_task_response) const;
  asl::TaskOutcome RunTaskResponse(const Task& task);
  // Stops a previous incarnation of the attempt `idempotency_key` names (see the file comment).
  void StopEarlierIncarnation(std::string_view idempotency_key);
  void JoinFinishedBackgroundTasks(bool all);

  // Constant after construction.
  const ContainerRunnerOptions options_;
  const Clock& clock_;
  SystemRandom random_;                     // internally synchronised
  const std::unique_ptr<TaskIndex> index_;  // internally synchronised

  // Plain runTask tasks supervised in the background.
  struct BackgroundTask {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::atomic<bool> shutting_down_{false};
  std::mutex background_mu_;
  std::vector<BackgroundTask> background_;  // guarded by background_mu_
};

}  // namespace hpd::engine

#endif  // HPD_ENGINE_CONTAINER_RUNNER_H_
