#include "engine/container_runner.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "common/status_matchers.h"
#include "store/log_store.h"
#include "store/object_store.h"
#include "support/scratch_dir.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr std::string_view kKey =
    "arn:aws:states:us-east-1:123456789012:execution:sm:e1/Deploy/0/0";

// Waits (re-checking every few milliseconds) until `condition` holds or `limit` passes.
bool WaitFor(const std::function<bool()>& condition, milliseconds limit = milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The process is gone or a zombie (an orphan whose reaper has not reaped it yet).
bool ProcessGone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string text;
  try {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::ios_base::failure&) {
    return true;  // it exited between the open and the read (ESRCH)
  }
  const size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

json::object Container(const std::string& name, json::array entry_point) {
  return json::object{
      {"name", name},
      {"essential", true},
      {"entryPoint", std::move(entry_point)},
      {"environment", json::array{json::object{{"name", "DEF_VAR"}, {"value", "from-definition"}}}},
      {"logConfiguration",
       json::object{{"logDriver", "awslogs"},
                    {"options", json::object{{"awslogs-group", "/ecs/test"},
                                             {"awslogs-stream-prefix", "test"}}}}}};
}

// Task definition "job:1" whose container "main" runs `/bin/sh -c SCRIPT sh [command...]`.
std::string ShDefinitions(const std::string& script, json::object extra = {}) {
  json::object c = Container("main", json::array{"/bin/sh", "-c", script, "sh"});
  for (auto& member : extra) c[member.key()] = member.value();
  json::object definition{
      {"family", "job"}, {"revision", 1}, {"containerDefinitions", json::array{std::move(c)}}};
  return SerializeJson(json::object{{"taskDefinitions", json::array{std::move(definition)}}});
}

json::object Parameters(json::array container_overrides = {}) {
  json::object params{
      {"Cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/hpd"},
      {"TaskDefinition", "job"},
      {"LaunchType", "FARGATE"},
      {"NetworkConfiguration",
       json::object{{"AwsvpcConfiguration", json::object{{"Subnets", json::array{"subnet-0abc"}},
                                                         {"SecurityGroups", json::array{"sg-1"}},
                                                         {"AssignPublicIp", "DISABLED"}}}}},
      {"StartedBy", "AWS Step Functions"}};
  if (!container_overrides.empty()) {
    params["Overrides"] = json::object{{"ContainerOverrides", std::move(container_overrides)}};
  }
  return params;
}

json::object Override(json::object env, std::optional<json::array> command = std::nullopt) {
  json::array environment;
  for (auto& member : env) {
    environment.emplace_back(json::object{{"Name", member.key()}, {"Value", member.value()}});
  }
  json::object o{{"Name", "main"}, {"Environment", std::move(environment)}};
  if (command) o["Command"] = std::move(*command);
  return o;
}

asl::TaskInvocation Invocation(json::object params, std::string_view action = "runTask.sync") {
  asl::TaskInvocation task;
  task.kind = asl::TaskKind::kService;
  task.resource =
      action == "runTask" ? "arn:aws:states:::ecs:runTask" : "arn:aws:states:::ecs:runTask.sync";
  task.service = "ecs";
  task.action = action;
  task.parameters = std::move(params);
  task.state_name = "Deploy";
  return task;
}

// The task JSON of an outcome: the output on success, the parsed cause on States.TaskFailed.
json::object TaskJson(const asl::TaskOutcome& outcome) {
  if (outcome.succeeded) return outcome.output.as_object();
  StatusOr<json::value> cause = ParseJson(outcome.cause);
  EXPECT_TRUE(cause.ok()) << outcome.error << ": " << outcome.cause;
  return cause.ok() && cause->is_object() ? cause->as_object() : json::object();
}

std::string TaskId(const json::object& task) {
  const std::string arn(task.at("TaskArn").as_string());
  return arn.substr(arn.rfind('/') + 1);
}

class ContainerRunnerTest : public testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    auto logs = store::LogStore::Open(dir_ / "logs.db", clock_);
    ASSERT_TRUE(logs.ok()) << logs.status();
    logs_ = std::move(logs).value();
    auto objects = store::ObjectStore::Open(dir_ / "objects", clock_);
    ASSERT_TRUE(objects.ok()) << objects.status();
    objects_ = std::move(objects).value();
  }

  fs::path WorkRoot() const { return dir_ / "tasks"; }

  std::unique_ptr<ContainerRunner> MakeRunner(
      const std::string& definitions,
      const std::function<void(ContainerRunnerOptions&)>& adjust = {}) {
    StatusOr<LocalTaskDefinitions> parsed = LocalTaskDefinitions::Parse(definitions, {});
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    ContainerRunnerOptions options;
    options.work_root = WorkRoot();
    options.task_definitions = parsed.ok() ? *parsed : LocalTaskDefinitions();
    options.objects = objects_.get();
    options.logs = logs_.get();
    options.base_environment = {{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}};
    options.stop_grace_period = milliseconds(2000);
    if (adjust) adjust(options);
    StatusOr<std::unique_ptr<ContainerRunner>> runner =
        ContainerRunner::Create(std::move(options), clock_);
    EXPECT_TRUE(runner.ok()) << runner.status();
    return runner.ok() ? std::move(runner).value() : nullptr;
  }

  std::vector<std::string> LogLines(const std::string& task_id) {
    StatusOr<store::LogEventPage> page = logs_->Read("/ecs/test", "test/main/" + task_id, 0);
    std::vector<std::string> lines;
    if (!page.ok()) return lines;
    for (const store::LogEvent& e : page->events) lines.push_back(e.message);
    return lines;
  }

  SystemClock clock_;
  std::unique_ptr<store::LogStore> logs_;
  std::unique_ptr<store::ObjectStore> objects_;
};

TEST_F(ContainerRunnerTest, HandlesEcsRunTaskOnly) {
  auto runner = MakeRunner(ShDefinitions("true"));
  EXPECT_TRUE(runner->Handles(Invocation({})));
  EXPECT_TRUE(runner->Handles(Invocation({}, "runTask")));
  asl::TaskInvocation lambda = Invocation({});
  lambda.service = "lambda";
  lambda.action = "invoke";
  EXPECT_FALSE(runner->Handles(lambda));
  asl::TaskInvocation token = Invocation({}, "runTask.waitForTaskToken");
  EXPECT_FALSE(runner->Handles(token));
}

TEST_F(ContainerRunnerTest, SuccessReturnsTheStoppedTaskAsStepFunctionsShowsIt) {
  auto runner = MakeRunner(ShDefinitions("echo hello; echo to-stderr >&2; printf partial"));
  const asl::TaskOutcome outcome = runner->Run(Invocation(Parameters()), nullptr, kKey);
  ASSERT_TRUE(outcome.succeeded) << outcome.error << ": " << outcome.cause;
  const json::object& task = outcome.output.as_object();

  EXPECT_EQ(task.at("LastStatus"), "STOPPED");
  EXPECT_EQ(task.at("DesiredStatus"), "STOPPED");
  EXPECT_EQ(task.at("StopCode"), "EssentialContainerExited");
  EXPECT_EQ(task.at("StoppedReason"), "Essential container in task exited");
  EXPECT_EQ(task.at("ClusterArn"), "arn:aws:ecs:us-east-1:123456789012:cluster/hpd");
  EXPECT_EQ(task.at("TaskDefinitionArn"),
            "arn:aws:ecs:us-east-1:123456789012:task-definition/job:1");
  EXPECT_EQ(task.at("LaunchType"), "FARGATE");
  EXPECT_EQ(task.at("PlatformVersion"), "1.4.0");
  EXPECT_EQ(task.at("Group"), "family:job");
  EXPECT_EQ(task.at("StartedBy"), "AWS Step Functions");
  EXPECT_EQ(task.at("Version"), 5);
  const std::string arn(task.at("TaskArn").as_string());
  EXPECT_TRUE(
      std::regex_match(arn, std::regex("arn:aws:ecs:us-east-1:123456789012:task/hpd/[0-9a-f]{32}")))
      << arn;
  // Times are epoch milliseconds, in order.
  const int64_t created = task.at("CreatedAt").as_int64();
  EXPECT_GT(created, int64_t{1600000000000});
  EXPECT_LE(created, task.at("StartedAt").as_int64());
  EXPECT_LE(task.at("StartedAt").as_int64(), task.at("StoppingAt").as_int64());
  EXPECT_LE(task.at("StoppingAt").as_int64(), task.at("StoppedAt").as_int64());

  const json::array& containers = task.at("Containers").as_array();
  ASSERT_EQ(containers.size(), 1u);
  const json::object& c = containers[0].as_object();
  EXPECT_EQ(c.at("Name"), "main");
  EXPECT_EQ(c.at("ExitCode"), 0);
  EXPECT_EQ(c.at("LastStatus"), "STOPPED");
  EXPECT_EQ(c.at("TaskArn").as_string(), arn);
  EXPECT_THAT(std::string(c.at("ContainerArn").as_string()),
              StartsWith("arn:aws:ecs:us-east-1:123456789012:container/hpd/"));
  const json::object& eni = task.at("Attachments").as_array()[0].as_object();
  EXPECT_EQ(eni.at("Type"), "eni");
  EXPECT_EQ(eni.at("Status"), "DELETED");
  EXPECT_EQ(eni.at("Details").as_array()[0].as_object().at("Value"), "subnet-0abc");
  EXPECT_EQ(c.at("NetworkInterfaces").as_array()[0].as_object().at("AttachmentId"), eni.at("Id"));
  const json::object& overrides =
      task.at("Overrides").as_object().at("ContainerOverrides").as_array()[0].as_object();
  EXPECT_EQ(overrides.at("Name"), "main");
  EXPECT_EQ(overrides.at("Command"), json::array());
  // Keys come sorted, as in Step Functions' output.
  std::vector<std::string> keys;
  for (const auto& member : task) keys.emplace_back(member.key());
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));

  EXPECT_THAT(LogLines(TaskId(task)), UnorderedElementsAre("hello", "to-stderr", "partial"));
}

TEST_F(ContainerRunnerTest, NonZeroExitIsTaskFailedWithTheTaskJsonAsCause) {
  auto runner = MakeRunner(ShDefinitions("echo failing; exit 3"));
  const asl::TaskOutcome outcome = runner->Run(Invocation(Parameters()), nullptr, kKey);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "States.TaskFailed");
  StatusOr<json::value> cause = ParseJson(outcome.cause);
  ASSERT_THAT(cause, IsOk()) << outcome.cause;
  EXPECT_EQ(SerializeJson(*cause), outcome.cause);  // compact
  const json::object& task = cause->as_object();
  EXPECT_EQ(task.at("StopCode"), "EssentialContainerExited");
  EXPECT_EQ(task.at("Containers").as_array()[0].as_object().at("ExitCode"), 3);
  EXPECT_THAT(LogLines(TaskId(task)), ElementsAre("failing"));
}

TEST_F(ContainerRunnerTest, OverridesMayNotSetVariablesThatControlTheHost) {
  auto runner = MakeRunner(ShDefinitions("echo ran"));
  for (const char* name : {"LD_PRELOAD", "LD_LIBRARY_PATH", "PATH", "GLIBC_TUNABLES", "BASH_ENV"}) {
    const asl::TaskOutcome outcome =
        runner->Run(Invocation(Parameters({Override({{name, "/tmp/evil"}})})), nullptr, kKey);
    EXPECT_FALSE(outcome.succeeded) << name;
    EXPECT_EQ(outcome.error, "ECS.InvalidParameterException") << name;
    EXPECT_THAT(outcome.cause, HasSubstr(name));
  }
  EXPECT_THAT(ContainerRunner::FindTasks(WorkRoot(), "LD_PRELOAD", "/tmp/evil"),
              IsOkAndHolds(IsEmpty()));  // nothing started
}

TEST_F(ContainerRunnerTest, ContainersInheritNoDescriptorButTheStandardStreams) {
  // As the HTTP listener is: opened without close-on-exec.
  const int leaked = ::open("/dev/null", O_RDONLY);
  ASSERT_GE(leaked, 3);
  auto runner = MakeRunner(ShDefinitions("if [ -e /proc/self/fd/" + std::to_string(leaked) +
                                         " ]; then echo inherited; else echo clean; fi"));
  const asl::TaskOutcome outcome = runner->Run(Invocation(Parameters({})), nullptr, kKey);
  ::close(leaked);
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  EXPECT_THAT(LogLines(TaskId(TaskJson(outcome))), ElementsAre("clean"));
}

TEST_F(ContainerRunnerTest, ContainerSeesOnlyDefinitionOverrideAndEcsVariables) {
  ASSERT_EQ(::setenv("HPD_TEST_FAKE_SECRET", "hunter2", 1), 0);
  auto runner = MakeRunner(ShDefinitions("env"));
  const asl::TaskOutcome outcome = runner->Run(
      Invocation(Parameters({Override({{"OVERRIDE_VAR", "from-override"}, {"DEF_VAR", "x y"}})})),
      nullptr, kKey);
  ::unsetenv("HPD_TEST_FAKE_SECRET");
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  std::map<std::string, std::string> env;
  for (const std::string& line : LogLines(TaskId(TaskJson(outcome)))) {
    const size_t eq = line.find('=');
    ASSERT_NE(eq, std::string::npos) << line;
    env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  EXPECT_EQ(env.count("HPD_TEST_FAKE_SECRET"), 0u);
  EXPECT_EQ(env["DEF_VAR"], "x y");  // the override wins
  EXPECT_EQ(env["OVERRIDE_VAR"], "from-override");
  EXPECT_EQ(env["AWS_REGION"], "us-east-1");
  EXPECT_EQ(env["AWS_DEFAULT_REGION"], "us-east-1");
  EXPECT_EQ(env["AWS_EXECUTION_ENV"], "AWS_ECS_FARGATE");
  EXPECT_THAT(env["ECS_CONTAINER_METADATA_URI_V4"], StartsWith("http://169.254.170.2/v4/"));
  EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
  const std::vector<std::string> allowed = {
      "DEF_VAR", "OVERRIDE_VAR", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV",
      "ECS_CONTAINER_METADATA_URI", "ECS_CONTAINER_METADATA_URI_V4", "PATH", "LANG",
      // set by the shell itself
      "PWD", "OLDPWD", "SHLVL", "_"};
  for (const auto& [name, value] : env) {
    EXPECT_THAT(allowed, Contains(name)) << name << "=" << value;
  }
}

TEST_F(ContainerRunnerTest, ArgvReachesTheProgramLiterally) {
  auto runner = MakeRunner(ShDefinitions("for a in \"$@\"; do printf '[%s]\\n' \"$a\"; done"));
  const json::array args{"two words", "it's \"quoted\"", "$(touch pwned)", "*", "`id`", ";", ""};
  const asl::TaskOutcome outcome =
      runner->Run(Invocation(Parameters({Override({}, args)})), nullptr, kKey);
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  const std::string id = TaskId(TaskJson(outcome));
  EXPECT_THAT(LogLines(id), ElementsAre("[two words]", "[it's \"quoted\"]", "[$(touch pwned)]",
                                        "[*]", "[`id`]", "[;]", "[]"));
  EXPECT_FALSE(fs::exists(WorkRoot() / id / "pwned"));
  // The override's command appears in the task's Overrides.
  EXPECT_EQ(TaskJson(outcome).at("Overrides").at("ContainerOverrides").as_array()[0].at("Command"),
            args);
}

TEST_F(ContainerRunnerTest, LogsAreReadableWhileTheContainerRuns) {
  auto runner = MakeRunner(
      ShDefinitions("echo first; while [ ! -e \"$GO_FILE\" ]; do sleep 0.01; done; echo second"));
  const std::string go = (dir_ / "go").string();
  auto done = std::async(std::launch::async, [&] {
    return runner->Run(Invocation(Parameters({Override({{"GO_FILE", go}, {"JOB", "live"}})})),
                       nullptr, kKey);
  });
  std::vector<TaskRecord> records;
  ASSERT_TRUE(WaitFor([&] {
    auto found = ContainerRunner::FindTasks(WorkRoot(), "JOB", "live");
    if (!found.ok() || found->empty()) return false;
    records = *found;
    return !LogLines(records[0].task_id).empty();
  }));
  EXPECT_EQ(records[0].status, "RUNNING");
  EXPECT_EQ(records[0].log_group, "/ecs/test");
  EXPECT_EQ(records[0].log_stream, "test/main/" + records[0].task_id);
  EXPECT_THAT(LogLines(records[0].task_id), ElementsAre("first"));
  std::ofstream(go) << "";
  ASSERT_EQ(done.wait_for(seconds(10)), std::future_status::ready);
  const asl::TaskOutcome outcome = done.get();
  EXPECT_TRUE(outcome.succeeded) << outcome.cause;
  EXPECT_THAT(LogLines(records[0].task_id), ElementsAre("first", "second"));
}

TEST_F(ContainerRunnerTest, CancellationStopsTheWholeProcessGroup) {
  auto runner =
      MakeRunner(ShDefinitions("sleep 1000 & echo $! > \"$PID_FILE.tmp\"; mv \"$PID_FILE.tmp\" "
                               "\"$PID_FILE\"; echo started; wait"));
  const fs::path pid_file = dir_ / "grandchild.pid";
  std::atomic<bool> cancelled{false};
  auto done = std::async(std::launch::async, [&] {
    return runner->Run(Invocation(Parameters({Override({{"PID_FILE", pid_file.string()}})})),
                       &cancelled, kKey);
  });
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  const pid_t grandchild = static_cast<pid_t>(std::stol(ReadFile(pid_file)));
  ASSERT_FALSE(ProcessGone(grandchild));
  cancelled = true;
  ASSERT_EQ(done.wait_for(seconds(10)), std::future_status::ready);
  const asl::TaskOutcome outcome = done.get();
  EXPECT_TRUE(WaitFor([&] { return ProcessGone(grandchild); }, milliseconds(2000)))
      << "grandchild " << grandchild << " survived";
  const json::object task = TaskJson(outcome);
  EXPECT_EQ(task.at("StopCode"), "UserInitiated");
  EXPECT_EQ(task.at("Containers").as_array()[0].at("ExitCode"), 128 + SIGTERM);
  const std::vector<std::string> lines = LogLines(TaskId(task));
  ASSERT_FALSE(lines.empty());
  EXPECT_THAT(lines.back(), HasSubstr("[hpdeploy] container main stopped"));
  auto records = ContainerRunner::FindTasks(WorkRoot(), "PID_FILE", pid_file.string());
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].status, "STOPPED");
  EXPECT_EQ((*records)[0].exit_code, 128 + SIGTERM);
}

TEST_F(ContainerRunnerTest, AContainerIgnoringSigtermIsKilledAfterTheGracePeriod) {
  auto runner =
      MakeRunner(ShDefinitions("trap '' TERM; echo started; while :; do sleep 0.02; done"),
                 [](ContainerRunnerOptions& o) { o.stop_grace_period = milliseconds(300); });
  std::atomic<bool> cancelled{false};
  auto done = std::async(std::launch::async, [&] {
    return runner->Run(Invocation(Parameters({Override({{"JOB", "stubborn"}})})), &cancelled, kKey);
  });
  std::string id;
  ASSERT_TRUE(WaitFor([&] {
    auto found = ContainerRunner::FindTasks(WorkRoot(), "JOB", "stubborn");
    if (!found.ok() || found->empty()) return false;
    id = (*found)[0].task_id;
    return !LogLines(id).empty();
  }));
  const auto cancel_time = std::chrono::steady_clock::now();
  cancelled = true;
  ASSERT_EQ(done.wait_for(seconds(10)), std::future_status::ready);
  const auto elapsed = std::chrono::steady_clock::now() - cancel_time;
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_LT(elapsed, milliseconds(3000));
  const json::object task = TaskJson(done.get());
  const json::object& c = task.at("Containers").as_array()[0].as_object();
  EXPECT_EQ(c.at("ExitCode"), 128 + SIGKILL);
  EXPECT_THAT(std::string(c.at("Reason").as_string()), HasSubstr("SIGKILL"));
}

TEST_F(ContainerRunnerTest, StagesTheConfigObjectIntoTheWorkingDirectory) {
  const json::object stage{
      {"stageObjects",
       json::array{json::object{{"fromEnvironment", "CONFIG_S3_URI"}, {"toFile", "config.json"}}}}};
  auto runner = MakeRunner(ShDefinitions("touch ran; cat config.json", stage));
  ASSERT_THAT(objects_->Put("cfg-bucket", "job-1/config.json", "{\"preset\":\"small\"}"), IsOk());

  const asl::TaskOutcome staged = runner->Run(
      Invocation(Parameters({Override({{"CONFIG_S3_URI", "s3://cfg-bucket/job-1/config.json"}})})),
      nullptr, kKey);
  ASSERT_TRUE(staged.succeeded) << staged.cause;
  EXPECT_THAT(LogLines(TaskId(TaskJson(staged))), ElementsAre("{\"preset\":\"small\"}"));

  const asl::TaskOutcome missing = runner->Run(
      Invocation(Parameters({Override({{"CONFIG_S3_URI", "s3://cfg-bucket/job-2/config.json"}})})),
      nullptr, "another attempt");
  ASSERT_FALSE(missing.succeeded);
  EXPECT_EQ(missing.error, "States.TaskFailed");
  const json::object task = TaskJson(missing);
  EXPECT_EQ(task.at("StopCode"), "TaskFailedToStart");
  EXPECT_THAT(std::string(task.at("StoppedReason").as_string()),
              HasSubstr("s3://cfg-bucket/job-2/config.json"));
  const json::object& c = task.at("Containers").as_array()[0].as_object();
  EXPECT_FALSE(c.contains("ExitCode"));
  EXPECT_FALSE(task.contains("StartedAt"));
  EXPECT_FALSE(fs::exists(WorkRoot() / TaskId(task) / "ran"));
  // `hpdeploy logs` shows why.
  EXPECT_THAT(LogLines(TaskId(task)),
              ElementsAre(HasSubstr("cannot stage config.json from s3://cfg-bucket/job-2")));
}

TEST_F(ContainerRunnerTest, AProgramThatCannotBeFoundFailsToStart) {
  json::object definition{
      {"family", "job"},
      {"revision", 1},
      {"containerDefinitions", json::array{Container("main", json::array{"/nonexistent/program"}),
                                           Container("side", json::array{"no-such-program-hpd"})}}};
  definition["containerDefinitions"].as_array()[1].as_object()["essential"] = false;
  auto runner =
      MakeRunner(SerializeJson(json::object{{"taskDefinitions", json::array{definition}}}));
  const asl::TaskOutcome outcome = runner->Run(Invocation(Parameters()), nullptr, kKey);
  ASSERT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "States.TaskFailed");
  const json::object task = TaskJson(outcome);
  EXPECT_EQ(task.at("StopCode"), "TaskFailedToStart");
  EXPECT_THAT(std::string(task.at("StoppedReason").as_string()),
              HasSubstr("No such file or directory"));

  // On PATH, by name: not found either.
  json::object by_name{
      {"family", "job"},
      {"revision", 1},
      {"containerDefinitions", json::array{Container("main", json::array{"no-such-program-hpd"})}}};
  auto runner2 = MakeRunner(SerializeJson(json::object{{"taskDefinitions", json::array{by_name}}}));
  const json::object task2 = TaskJson(runner2->Run(Invocation(Parameters()), nullptr, kKey));
  EXPECT_THAT(std::string(task2.at("StoppedReason").as_string()),
              HasSubstr("executable file not found in $PATH"));
}

TEST_F(ContainerRunnerTest, UnknownTaskDefinitionIsAClientException) {
  auto runner = MakeRunner(ShDefinitions("true"));
  for (const char* reference :
       {"nope", "job:2", "arn:aws:ecs:us-east-1:999999999999:task-definition/job:1",
        "arn:aws:ecs:eu-west-1:123456789012:task-definition/job:1"}) {
    json::object params = Parameters();
    params["TaskDefinition"] = reference;
    const asl::TaskOutcome outcome = runner->Run(Invocation(params), nullptr, kKey);
    EXPECT_FALSE(outcome.succeeded);
    EXPECT_EQ(outcome.error, "ECS.ClientException") << reference;
    EXPECT_THAT(outcome.cause, StartsWith("TaskDefinition not found. (Service: AmazonECS;"));
  }
  json::object params = Parameters();
  params["TaskDefinition"] = "arn:aws:ecs:us-east-1:123456789012:task-definition/job:1";
  EXPECT_TRUE(runner->Run(Invocation(params), nullptr, kKey).succeeded);
}

TEST_F(ContainerRunnerTest, OverridesAreValidated) {
  auto runner = MakeRunner(ShDefinitions("true"));
  json::object ghost = Override({});
  ghost["Name"] = "ghost";
  asl::TaskOutcome outcome = runner->Run(Invocation(Parameters({ghost})), nullptr, kKey);
  EXPECT_EQ(outcome.error, "ECS.InvalidParameterException");
  EXPECT_THAT(outcome.cause,
              HasSubstr("Override for container named ghost is not a container in the "
                        "TaskDefinition."));

  // 8192 characters of overrides JSON at most.
  json::object big = Override({{"BIG", std::string(8192, 'x')}});
  outcome = runner->Run(Invocation(Parameters({big})), nullptr, kKey);
  EXPECT_EQ(outcome.error, "ECS.InvalidParameterException");
  EXPECT_THAT(outcome.cause, HasSubstr("Container Overrides length must be at most 8192"));
  json::object fits = Override({{"BIG", std::string(8000, 'x')}});
  EXPECT_TRUE(runner->Run(Invocation(Parameters({fits})), nullptr, kKey).succeeded);

  json::object no_subnets = Parameters();
  no_subnets["NetworkConfiguration"].as_object()["AwsvpcConfiguration"].as_object()["Subnets"] =
      json::array();
  outcome = runner->Run(Invocation(no_subnets), nullptr, kKey);
  EXPECT_EQ(outcome.error, "ECS.InvalidParameterException");
  EXPECT_THAT(outcome.cause, HasSubstr("subnets can not be empty."));
}

TEST_F(ContainerRunnerTest, TheFaultHookFailsTheTaskBeforeAnythingRuns) {
  std::vector<std::string> seen;
  auto runner = MakeRunner(ShDefinitions("touch \"$MARKER\""), [&](ContainerRunnerOptions& o) {
    o.before_run_task = [&](const asl::TaskInvocation& task) {
      seen.emplace_back(task.state_name);
      Status throttled = UnavailableError("Rate exceeded");
      throttled.SetErrorName("ThrottlingException");
      return throttled;
    };
  });
  const fs::path marker = dir_ / "marker";
  const asl::TaskOutcome outcome =
      runner->Run(Invocation(Parameters({Override({{"MARKER", marker.string()}})})), nullptr, kKey);
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.error, "ECS.ThrottlingException");
  EXPECT_EQ(outcome.cause, "Rate exceeded");
  EXPECT_THAT(seen, ElementsAre("Deploy"));
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_THAT(ContainerRunner::FindTasks(WorkRoot(), "MARKER", marker.string()),
              IsOkAndHolds(IsEmpty()));
}

// After a crash the same attempt is dispatched again while the first incarnation's process
// (in its own process group, orphaned) still runs: the new dispatch stops it first.
TEST_F(ContainerRunnerTest, RedispatchWithTheSameKeyStopsTheEarlierIncarnation) {
  const std::string definitions = ShDefinitions(
      "if [ -e \"$MARKER\" ]; then echo second; exit 0; fi; touch \"$MARKER\"; "
      "echo $$ > \"$PID_FILE.tmp\"; mv \"$PID_FILE.tmp\" \"$PID_FILE\"; exec sleep 1000");
  const fs::path marker = dir_ / "marker";
  const fs::path pid_file = dir_ / "first.pid";
  const json::object params =
      Parameters({Override({{"MARKER", marker.string()}, {"PID_FILE", pid_file.string()}})});

  auto first = MakeRunner(definitions);
  const std::atomic<bool> never{false};
  auto first_done =
      std::async(std::launch::async, [&] { return first->Run(Invocation(params), &never, kKey); });
  ASSERT_TRUE(WaitFor([&] { return fs::exists(pid_file); }));
  const pid_t orphan = static_cast<pid_t>(std::stol(ReadFile(pid_file)));
  ASSERT_FALSE(ProcessGone(orphan));

  // The "restarted server": a new runner on the same work root.
  auto second = MakeRunner(definitions);
  // A dispatch of another attempt leaves it alone.
  EXPECT_TRUE(second->Run(Invocation(params), nullptr, "another key").succeeded);
  EXPECT_FALSE(ProcessGone(orphan));

  const asl::TaskOutcome outcome = second->Run(Invocation(params), nullptr, kKey);
  EXPECT_TRUE(outcome.succeeded) << outcome.cause;
  EXPECT_TRUE(ProcessGone(orphan));
  ASSERT_EQ(first_done.wait_for(seconds(10)), std::future_status::ready);
  const json::object killed = TaskJson(first_done.get());
  EXPECT_EQ(killed.at("Containers").as_array()[0].at("ExitCode"), 128 + SIGTERM);
}

TEST_F(ContainerRunnerTest, FindTasksReadsTheIndexNewestFirstFromAnotherInstance) {
  {
    auto runner = MakeRunner(ShDefinitions("exit \"$CODE\""));
    for (auto [job, code] : {std::pair{"a", "0"}, {"b", "0"}, {"a", "4"}}) {
      runner->Run(Invocation(Parameters({Override({{"JOB_ID", job}, {"CODE", code}})})), nullptr,
                  kKey);
    }
  }
  StatusOr<std::vector<TaskRecord>> records = ContainerRunner::FindTasks(WorkRoot(), "JOB_ID", "a");
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].exit_code, 4);
  EXPECT_EQ((*records)[1].exit_code, 0);
  for (const TaskRecord& r : *records) {
    EXPECT_EQ(r.status, "STOPPED");
    EXPECT_EQ(r.task_arn, "arn:aws:ecs:us-east-1:123456789012:task/hpd/" + r.task_id);
    EXPECT_EQ(r.task_definition_arn, "arn:aws:ecs:us-east-1:123456789012:task-definition/job:1");
    EXPECT_EQ(r.log_stream, "test/main/" + r.task_id);
    EXPECT_THAT(r.containers, ElementsAre("main"));
    EXPECT_EQ(r.stopped_reason, "Essential container in task exited");
    ASSERT_TRUE(r.started_at && r.stopped_at);
    EXPECT_LE(r.created_at, *r.started_at);
    EXPECT_LE(*r.started_at, *r.stopped_at);
  }
  EXPECT_GE((*records)[0].created_at, (*records)[1].created_at);
  // Only override variables are indexed.
  EXPECT_THAT(ContainerRunner::FindTasks(WorkRoot(), "DEF_VAR", "from-definition"),
              IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(ContainerRunner::FindTasks(dir_ / "nowhere", "JOB_ID", "a"), IsOkAndHolds(IsEmpty()));
}

// Every container's stream is recorded (tasks' log_stream only names the first essential one's),
// so a reader can visit all of a task's output; ListTasks gives every task, oldest first.
TEST_F(ContainerRunnerTest, ListTasksGivesEveryTaskWithAllItsLogStreams) {
  EXPECT_THAT(ContainerRunner::ListTasks(WorkRoot()), IsOkAndHolds(IsEmpty()));
  json::object side = Container("side", json::array{"/bin/sh", "-c", "echo side"});
  side["essential"] = false;
  side["logConfiguration"].as_object()["options"] =
      json::object{{"awslogs-group", "/ecs/side"}, {"awslogs-stream-prefix", "s"}};
  json::object definition{
      {"family", "job"},
      {"revision", 1},
      {"containerDefinitions",
       json::array{Container("main", json::array{"/bin/sh", "-c", "echo main"}), side}}};
  {
    auto runner =
        MakeRunner(SerializeJson(json::object{{"taskDefinitions", json::array{definition}}}));
    for (int i = 0; i < 2; ++i) {
      // Whether "side" finishes before "main" stops the task does not matter here.
      runner->Run(Invocation(Parameters()), nullptr, kKey);
    }
  }
  StatusOr<std::vector<TaskRecord>> records = ContainerRunner::ListTasks(WorkRoot());
  ASSERT_THAT(records, IsOk());
  ASSERT_EQ(records->size(), 2u);
  EXPECT_LE((*records)[0].created_at, (*records)[1].created_at);
  EXPECT_NE((*records)[0].task_id, (*records)[1].task_id);
  for (const TaskRecord& r : *records) {
    using Stream = std::pair<std::string, std::string>;
    EXPECT_EQ(r.log_stream, "test/main/" + r.task_id);
    EXPECT_THAT(r.log_streams, ElementsAre(Stream("/ecs/test", "test/main/" + r.task_id),
                                           Stream("/ecs/side", "s/side/" + r.task_id)));
  }
}

TEST_F(ContainerRunnerTest, PlainRunTaskReturnsOnceStartedAndKeepsSupervising) {
  auto runner = MakeRunner(
      ShDefinitions("while [ ! -e \"$GO_FILE\" ]; do sleep 0.01; done; echo went; exit \"$CODE\""));
  const fs::path go = dir_ / "go";
  const asl::TaskOutcome outcome = runner->Run(
      Invocation(Parameters({Override({{"GO_FILE", go.string()}, {"CODE", "0"}, {"JOB", "x"}})}),
                 "runTask"),
      nullptr, kKey);
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  const json::object& response = outcome.output.as_object();
  EXPECT_EQ(response.at("Failures"), json::array());
  EXPECT_EQ(response.at("SdkHttpMetadata").at("HttpStatusCode"), 200);
  const json::object& task = response.at("Tasks").as_array()[0].as_object();
  EXPECT_EQ(task.at("LastStatus"), "PROVISIONING");
  EXPECT_EQ(task.at("DesiredStatus"), "RUNNING");
  auto running = ContainerRunner::FindTasks(WorkRoot(), "JOB", "x");
  ASSERT_THAT(running, IsOk());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].status, "RUNNING");
  EXPECT_EQ((*running)[0].task_arn, task.at("TaskArn").as_string());

  std::ofstream(go) << "";
  // Until the runner records the stop (after the last log line), FindTasks may already call the
  // task STOPPED because its process is gone; the exit code says the runner has recorded it.
  EXPECT_TRUE(WaitFor([&] {
    auto found = ContainerRunner::FindTasks(WorkRoot(), "JOB", "x");
    return found.ok() && (*found)[0].exit_code.has_value();
  }));
  EXPECT_EQ((*ContainerRunner::FindTasks(WorkRoot(), "JOB", "x"))[0].status, "STOPPED");
  EXPECT_EQ((*ContainerRunner::FindTasks(WorkRoot(), "JOB", "x"))[0].exit_code, 0);
  EXPECT_THAT(LogLines(TaskId(task)), ElementsAre("went"));

  // Destroying the runner stops what it still supervises.
  const fs::path never = dir_ / "never";
  const asl::TaskOutcome forever = runner->Run(
      Invocation(Parameters({Override({{"GO_FILE", never.string()}, {"JOB", "y"}})}), "runTask"),
      nullptr, "other");
  ASSERT_TRUE(forever.succeeded);
  runner.reset();
  auto stopped = ContainerRunner::FindTasks(WorkRoot(), "JOB", "y");
  ASSERT_THAT(stopped, IsOk());
  EXPECT_EQ((*stopped)[0].status, "STOPPED");
  EXPECT_EQ((*stopped)[0].exit_code, 128 + SIGTERM);
}

TEST_F(ContainerRunnerTest, SeveralTasksRunAtOnce) {
  auto runner = MakeRunner(ShDefinitions("echo \"job $JOB_ID\"; exit \"$JOB_ID\""));
  std::vector<std::future<asl::TaskOutcome>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&runner, i] {
      return runner->Run(Invocation(Parameters({Override({{"JOB_ID", std::to_string(i)}})})),
                         nullptr, "key " + std::to_string(i));
    }));
  }
  for (int i = 0; i < 4; ++i) {
    const asl::TaskOutcome outcome = runs[static_cast<size_t>(i)].get();
    EXPECT_EQ(outcome.succeeded, i == 0);
    const json::object task = TaskJson(outcome);
    EXPECT_EQ(task.at("Containers").as_array()[0].at("ExitCode"), i);
    EXPECT_THAT(LogLines(TaskId(task)), ElementsAre("job " + std::to_string(i)));
  }
}

// A SIGCHLD handler installed elsewhere (without SA_RESTART) interrupts the runner's waits;
// the runner carries on.
TEST_F(ContainerRunnerTest, ASigchldHandlerElsewhereDoesNotBreakTheRunner) {
  struct sigaction handler {};
  struct sigaction previous {};
  handler.sa_handler = [](int) {};
  sigemptyset(&handler.sa_mask);
  ASSERT_EQ(::sigaction(SIGCHLD, &handler, &previous), 0);
  auto runner = MakeRunner(ShDefinitions("sleep 0.05 & sleep 0.1; echo done"));
  const asl::TaskOutcome outcome = runner->Run(Invocation(Parameters()), nullptr, kKey);
  ::sigaction(SIGCHLD, &previous, nullptr);
  ASSERT_TRUE(outcome.succeeded) << outcome.cause;
  EXPECT_THAT(LogLines(TaskId(TaskJson(outcome))), ElementsAre("done"));
}

TEST(LocalTaskDefinitionsTest, LoadsTheInfraForgeDefinitionWithVariables) {
  const fs::path file =
      fs::path(__FILE__).parent_path() / "../../deploy/local/task-definitions.json";
  StatusOr<LocalTaskDefinitions> loaded = LocalTaskDefinitions::Load(
      file, {{"hpdeploy", "/opt/hpd/bin/hpdeploy"}, {"DataDir", "/var/lib/hpd"}});
  ASSERT_THAT(loaded, IsOk());
  const TaskDefinition* d = loaded->Find("infraforge", "us-east-1", "123456789012");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->revision, 1);
  ASSERT_EQ(d->containers.size(), 1u);
  const ContainerDefinition& c = d->containers[0];
  EXPECT_EQ(c.name, "infraforge");
  EXPECT_TRUE(c.essential);
  EXPECT_THAT(c.entry_point, ElementsAre("/opt/hpd/bin/hpdeploy", "sandbox", "infraforge"));
  EXPECT_THAT(c.command, ElementsAre("deploy"));
  EXPECT_THAT(c.environment,
              ElementsAre(EnvironmentVariable{"HPD_SANDBOX_DIR", "/var/lib/hpd/sandbox"}));
  EXPECT_EQ(c.log_group, "/ecs/infraforge");
  EXPECT_EQ(c.log_stream_prefix, "infraforge");
  ASSERT_EQ(c.stage_objects.size(), 1u);
  EXPECT_EQ(c.stage_objects[0].from_environment, "CONFIG_S3_URI");
  EXPECT_EQ(c.stage_objects[0].to_file, "config.json");

  EXPECT_EQ(loaded->Find("infraforge:1", "us-east-1", "123456789012"), d);
  EXPECT_EQ(loaded->Find("arn:aws:ecs:eu-west-2:111122223333:task-definition/infraforge:1",
                         "eu-west-2", "111122223333"),
            d);
  EXPECT_EQ(loaded->Find("infraforge:2", "us-east-1", "123456789012"), nullptr);
  EXPECT_EQ(loaded->Find("arn:aws:ecs:eu-west-2:111122223333:task-definition/infraforge:1",
                         "us-east-1", "111122223333"),
            nullptr);

  EXPECT_THAT(LocalTaskDefinitions::Load(file, {{"hpdeploy", "/x"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("${DataDir}")));
  EXPECT_THAT(LocalTaskDefinitions::Load(file.parent_path() / "missing.json", {}),
              StatusIs(StatusCode::kNotFound));
}

TEST(LocalTaskDefinitionsTest, FamilyAloneMeansTheLatestRevision) {
  const std::string text = R"({"taskDefinitions": [
    {"family": "f", "revision": 2, "containerDefinitions": [{"name": "c", "command": ["/bin/true"]}]},
    {"family": "f", "revision": 7, "containerDefinitions": [{"name": "c", "command": ["/bin/true"]}]},
    {"family": "f", "revision": 3, "containerDefinitions": [{"name": "c", "command": ["/bin/true"]}]}
  ]})";
  StatusOr<LocalTaskDefinitions> parsed = LocalTaskDefinitions::Parse(text, {});
  ASSERT_THAT(parsed, IsOk());
  const TaskDefinition* latest = parsed->Find("f", "r", "a");
  ASSERT_NE(latest, nullptr);
  EXPECT_EQ(latest->revision, 7);
  EXPECT_EQ(parsed->Find("f:3", "r", "a")->revision, 3);
}

TEST(LocalTaskDefinitionsTest, RefusesMalformedDefinitions) {
  const auto parse = [](const std::string& container) {
    return LocalTaskDefinitions::Parse(
        R"({"taskDefinitions": [{"family": "f", "revision": 1, "containerDefinitions": [)" +
            container + "]}]}",
        {});
  };
  EXPECT_THAT(parse(R"({"name": "c", "command": ["x"], "stageObjects": [
                  {"fromEnvironment": "U", "toFile": "../escape"}]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("toFile")));
  EXPECT_THAT(parse(R"({"name": "c"})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("entryPoint or a command")));
  EXPECT_THAT(parse(R"({"name": "c", "command": ["x"], "essential": false})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("essential")));
  EXPECT_THAT(parse(R"({"name": "c", "command": ["x"], "logConfiguration":
                  {"logDriver": "awslogs", "options": {"awslogs-group": "bad group"}}})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("awslogs-group")));
  EXPECT_THAT(parse(R"({"name": "c", "command": ["x"]}, {"name": "c", "command": ["y"]})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate container")));
}

}  // namespace
}  // namespace hpd::engine
