#include "engine/container_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "common/json.h"
#include "common/random.h"
#include "common/rfc3339.h"
#include "common/uuid.h"
#include "store/log_store.h"
#include "store/object_store.h"
#include "store/sqlite.h"

namespace hpd::engine {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr size_t kMaxOverrideChars = 8192;
// Docker's log drivers split lines at 16 KiB.
constexpr size_t kMaxLineBytes = 16 * 1024;
constexpr milliseconds kPollInterval(50);
// How long to wait for a process already sent SIGKILL to go.
constexpr milliseconds kKillWait(5000);
constexpr std::string_view kDefaultPath =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

int64_t Millis(WallTime time) {
  return std::chrono::duration_cast<milliseconds>(time.time_since_epoch()).count();
}

WallTime FromMillis(int64_t ms) { return WallTime(milliseconds(ms)); }

// An ECS API error as Step Functions reports it: error "ECS.<code>", cause the AWS SDK's
// exception message.
asl::TaskOutcome EcsError(std::string_view code, std::string_view message, RandomSource& random) {
  asl::TaskOutcome outcome;
  outcome.succeeded = false;
  outcome.error = "ECS." + std::string(code);
  outcome.cause = std::string(message) +
                  " (Service: AmazonECS; Status Code: 400; Error Code: " + std::string(code) +
                  "; Request ID: " + NewUuidV4(random) + "; Proxy: null)";
  return outcome;
}

struct ParameterError {
  std::string code;
  std::string message;
};

// Variables that change how the host's loader, C library or a shell runs a program. On ECS a
// container is its own machine; locally it is a process of this host, so an override may not set
// them (a StartExecution caller could otherwise make the server load its code).
bool IsHostControlVariable(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {"LD_", "DYLD_", "MALLOC_", "GLIBC_"};
  static constexpr std::string_view kNames[] = {
      "PATH",          "IFS",         "BASH_ENV",         "ENV",     "GCONV_PATH",   "LOCPATH",
      "NLSPATH",       "HOSTALIASES", "RESOLV_HOST_CONF", "TMPDIR",  "NODE_OPTIONS", "PYTHONPATH",
      "PYTHONSTARTUP", "PERL5LIB",    "PERL5OPT",         "RUBYOPT", "SHELLOPTS",    "PS4"};
  for (std::string_view prefix : kPrefixes) {
    if (name.substr(0, prefix.size()) == prefix) return true;
  }
  for (std::string_view fixed : kNames) {
    if (name == fixed) return true;
  }
  return false;
}

void SetVariable(std::vector<EnvironmentVariable>& env, std::string_view name,
                 std::string_view value) {
  for (auto& [n, v] : env) {
    if (n == name) {
      v = std::string(value);
      return;
    }
  }
  env.emplace_back(std::string(name), std::string(value));
}

const std::string* GetVariable(const std::vector<EnvironmentVariable>& env, std::string_view name) {
  for (const auto& [n, v] : env) {
    if (n == name) return &v;
  }
  return nullptr;
}

// A relative path that stays below its base: no absolute path, no "..".
bool IsContainedRelativePath(std::string_view path) {
  if (path.empty() || path.front() == '/') return false;
  for (const fs::path& part : fs::path(path)) {
    if (part == "..") return false;
  }
  return true;
}

// ---- /proc and signals --------------------------------------------------------------------

struct ProcStat {
  char state = '?';
  int64_t start_ticks = 0;  // field 22: start time in clock ticks after boot
};

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name (field 2) is in parentheses and may contain anything: parse after the
  // last ')'.
  const size_t close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size()) return std::nullopt;
  std::istringstream fields(text.substr(close + 2));
  ProcStat stat;
  std::string field;
  for (int index = 3; index <= 22 && fields >> field; ++index) {
    if (index == 3) stat.state = field.empty() ? '?' : field[0];
    if (index == 22) {
      auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), stat.start_ticks);
      if (ec != std::errc()) return std::nullopt;
      return stat;
    }
  }
  return std::nullopt;
}

// True while `pid` is the process that started at `start_ticks` and has not exited (a zombie
// has exited).
bool ProcessAlive(pid_t pid, int64_t start_ticks) {
  if (pid <= 0) return false;
  std::optional<ProcStat> stat = ReadProcStat(pid);
  if (!stat) return false;
  if (stat->state == 'Z' || stat->state == 'X' || stat->state == 'x') return false;
  return stat->start_ticks == start_ticks;
}

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Waits until the process is gone or `deadline` (monotonic, from `clock`) passes. Polls its
// pidfd when one can be had (it becomes readable when the process exits), else rechecks /proc
// every 10 ms.
bool WaitGone(pid_t pid, int64_t start_ticks, MonotonicTime deadline, const Clock& clock) {
  const int pidfd = PidfdOpen(pid);
  bool gone = false;
  while (!(gone = !ProcessAlive(pid, start_ticks))) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - clock.MonotonicNow()).count();
    if (left <= 0) break;
    const int wait = static_cast<int>(std::min<int64_t>(left, pidfd >= 0 ? 50 : 10));
    if (pidfd >= 0) {
      pollfd fd{pidfd, POLLIN, 0};
      ::poll(&fd, 1, wait);
    } else {
      ::poll(nullptr, 0, wait);
    }
  }
  if (pidfd >= 0) ::close(pidfd);
  return gone;
}

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev != nullptr ? "SIG" + std::string(abbrev) : "signal " + std::to_string(sig);
}

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// ---- Task definitions file ------------------------------------------------------------------

Status Malformed(std::string_view where, std::string_view what) {
  return InvalidArgumentError(std::string(where) + ": " + std::string(what));
}

StatusOr<std::string> Substitute(std::string_view text,
                                 const std::map<std::string, std::string>& variables) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t start = text.find("${", pos);
    if (start == std::string_view::npos) break;
    const size_t end = text.find('}', start + 2);
    if (end == std::string_view::npos) {
      return InvalidArgumentError("unterminated ${ in \"" + std::string(text) + "\"");
    }
    const std::string name(text.substr(start + 2, end - start - 2));
    auto it = variables.find(name);
    if (it == variables.end()) {
      return InvalidArgumentError("unknown variable ${" + name + "} in \"" + std::string(text) +
                                  "\"");
    }
    out.append(text.substr(pos, start - pos));
    out += it->second;
    pos = end + 1;
  }
  out.append(text.substr(pos));
  return out;
}

Status SubstituteAll(json::value& value, const std::map<std::string, std::string>& variables) {
  if (value.is_string()) {
    HPD_ASSIGN_OR_RETURN(std::string text, Substitute(value.get_string(), variables));
    value = json::string(text);
  } else if (value.is_array()) {
    for (json::value& element : value.get_array()) {
      HPD_RETURN_IF_ERROR(SubstituteAll(element, variables));
    }
  } else if (value.is_object()) {
    for (auto& member : value.get_object()) {
      HPD_RETURN_IF_ERROR(SubstituteAll(member.value(), variables));
    }
  }
  return Status::Ok();
}

StatusOr<std::string> StringMember(const json::object& object, std::string_view key,
                                   const std::string& where, bool required) {
  const json::value* value = object.if_contains(key);
  if (value == nullptr) {
    if (required) return Malformed(where + "." + std::string(key), "is required");
    return std::string();
  }
  if (!value->is_string()) return Malformed(where + "." + std::string(key), "must be a string");
  return std::string(value->get_string());
}

StatusOr<std::vector<std::string>> StringArray(const json::object& object, std::string_view key,
                                               const std::string& where) {
  std::vector<std::string> out;
  const json::value* value = object.if_contains(key);
  if (value == nullptr) return out;
  if (!value->is_array()) return Malformed(where + "." + std::string(key), "must be an array");
  for (const json::value& element : value->get_array()) {
    if (!element.is_string()) {
      return Malformed(where + "." + std::string(key), "must hold only strings");
    }
    out.emplace_back(element.get_string());
  }
  return out;
}

StatusOr<ContainerDefinition> ParseContainer(const json::value& value, const std::string& where) {
  if (!value.is_object()) return Malformed(where, "must be an object");
  const json::object& object = value.get_object();
  ContainerDefinition c;
  HPD_ASSIGN_OR_RETURN(c.name, StringMember(object, "name", where, true));
  if (c.name.empty()) return Malformed(where + ".name", "must not be empty");
  HPD_ASSIGN_OR_RETURN(c.image, StringMember(object, "image", where, false));
  if (const json::value* essential = object.if_contains("essential")) {
    if (!essential->is_bool()) return Malformed(where + ".essential", "must be a boolean");
    c.essential = essential->get_bool();
  }
  HPD_ASSIGN_OR_RETURN(c.entry_point, StringArray(object, "entryPoint", where));
  HPD_ASSIGN_OR_RETURN(c.command, StringArray(object, "command", where));
  if (c.entry_point.empty() && c.command.empty()) {
    return Malformed(where, "needs an entryPoint or a command (there is no image to default to)");
  }
  if (const json::value* env = object.if_contains("environment")) {
    if (!env->is_array()) return Malformed(where + ".environment", "must be an array");
    for (size_t i = 0; i < env->get_array().size(); ++i) {
      const std::string at = where + ".environment[" + std::to_string(i) + "]";
      const json::value& entry = env->get_array()[i];
      if (!entry.is_object()) return Malformed(at, "must be an object");
      HPD_ASSIGN_OR_RETURN(std::string name, StringMember(entry.get_object(), "name", at, true));
      HPD_ASSIGN_OR_RETURN(std::string val, StringMember(entry.get_object(), "value", at, true));
      if (name.empty() || name.find('=') != std::string::npos) {
        return Malformed(at + ".name", "must be non-empty and without '='");
      }
      SetVariable(c.environment, name, val);
    }
  }
  HPD_ASSIGN_OR_RETURN(std::string working_directory,
                       StringMember(object, "workingDirectory", where, false));
  while (!working_directory.empty() && working_directory.front() == '/') {
    working_directory.erase(0, 1);
  }
  if (!working_directory.empty() && !IsContainedRelativePath(working_directory)) {
    return Malformed(where + ".workingDirectory", "must not contain \"..\"");
  }
  c.working_directory = working_directory;
  if (const json::value* log = object.if_contains("logConfiguration")) {
    const std::string at = where + ".logConfiguration";
    if (!log->is_object()) return Malformed(at, "must be an object");
    HPD_ASSIGN_OR_RETURN(std::string driver,
                         StringMember(log->get_object(), "logDriver", at, true));
    if (driver != "awslogs") return Malformed(at + ".logDriver", "only awslogs is supported");
    const json::value* options = log->get_object().if_contains("options");
    if (options == nullptr || !options->is_object()) {
      return Malformed(at + ".options", "must be an object");
    }
    HPD_ASSIGN_OR_RETURN(
        c.log_group, StringMember(options->get_object(), "awslogs-group", at + ".options", true));
    HPD_ASSIGN_OR_RETURN(
        c.log_stream_prefix,
        StringMember(options->get_object(), "awslogs-stream-prefix", at + ".options", false));
    if (Status valid = store::ValidateLogGroupName(c.log_group); !valid.ok()) {
      return Malformed(at + ".options.awslogs-group", valid.message());
    }
  }
  if (const json::value* stage = object.if_contains("stageObjects")) {
    if (!stage->is_array()) return Malformed(where + ".stageObjects", "must be an array");
    for (size_t i = 0; i < stage->get_array().size(); ++i) {
      const std::string at = where + ".stageObjects[" + std::to_string(i) + "]";
      const json::value& entry = stage->get_array()[i];
      if (!entry.is_object()) return Malformed(at, "must be an object");
      StagedObject staged;
      HPD_ASSIGN_OR_RETURN(staged.from_environment,
                           StringMember(entry.get_object(), "fromEnvironment", at, true));
      HPD_ASSIGN_OR_RETURN(staged.to_file, StringMember(entry.get_object(), "toFile", at, true));
      if (!IsContainedRelativePath(staged.to_file)) {
        return Malformed(at + ".toFile", "must be a relative path without \"..\"");
      }
      c.stage_objects.push_back(std::move(staged));
    }
  }
  return c;
}

StatusOr<TaskDefinition> ParseDefinition(const json::value& value, const std::string& where) {
  if (!value.is_object()) return Malformed(where, "must be an object");
  const json::object& object = value.get_object();
  TaskDefinition d;
  HPD_ASSIGN_OR_RETURN(d.family, StringMember(object, "family", where, true));
  if (d.family.empty() || d.family.size() > 255 ||
      !std::all_of(d.family.begin(), d.family.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return Malformed(where + ".family", "must be 1 to 255 letters, digits, '-' or '_'");
  }
  const json::value* revision = object.if_contains("revision");
  if (revision == nullptr || !revision->is_int64() || revision->get_int64() < 1) {
    return Malformed(where + ".revision", "must be an integer of at least 1");
  }
  d.revision = revision->get_int64();
  for (const char* key : {"cpu", "memory"}) {
    if (const json::value* v = object.if_contains(key)) {
      std::string text;
      if (v->is_string()) {
        text = std::string(v->get_string());
      } else if (v->is_int64()) {
        text = std::to_string(v->get_int64());
      } else {
        return Malformed(where + "." + key, "must be a string or an integer");
      }
      (std::string_view(key) == "cpu" ? d.cpu : d.memory) = text;
    }
  }
  const json::value* containers = object.if_contains("containerDefinitions");
  if (containers == nullptr || !containers->is_array() || containers->get_array().empty()) {
    return Malformed(where + ".containerDefinitions", "must be a non-empty array");
  }
  bool any_essential = false;
  for (size_t i = 0; i < containers->get_array().size(); ++i) {
    HPD_ASSIGN_OR_RETURN(ContainerDefinition c, ParseContainer(containers->get_array()[i],
                                                               where + ".containerDefinitions[" +
                                                                   std::to_string(i) + "]"));
    for (const ContainerDefinition& other : d.containers) {
      if (other.name == c.name) {
        return Malformed(where + ".containerDefinitions", "duplicate container " + c.name);
      }
    }
    any_essential = any_essential || c.essential;
    d.containers.push_back(std::move(c));
  }
  if (!any_essential) {
    return Malformed(where + ".containerDefinitions", "needs at least one essential container");
  }
  return d;
}

}  // namespace

StatusOr<LocalTaskDefinitions> LocalTaskDefinitions::Load(
    const fs::path& file, const std::map<std::string, std::string>& variables) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError("task definitions " + file.string() + ": cannot be read");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  StatusOr<LocalTaskDefinitions> parsed = Parse(text, variables);
  if (!parsed.ok()) return parsed.status().WithContext("task definitions " + file.string());
  return parsed;
}

StatusOr<LocalTaskDefinitions> LocalTaskDefinitions::Parse(
    std::string_view json_text, const std::map<std::string, std::string>& variables) {
  HPD_ASSIGN_OR_RETURN(json::value root, ParseJson(json_text));
  HPD_RETURN_IF_ERROR(SubstituteAll(root, variables));
  const json::value* list =
      root.is_object() ? root.get_object().if_contains("taskDefinitions") : nullptr;
  if (list == nullptr || !list->is_array()) {
    return Malformed("taskDefinitions", "must be an array");
  }
  LocalTaskDefinitions out;
  for (size_t i = 0; i < list->get_array().size(); ++i) {
    HPD_ASSIGN_OR_RETURN(
        TaskDefinition d,
        ParseDefinition(list->get_array()[i], "taskDefinitions[" + std::to_string(i) + "]"));
    for (const TaskDefinition& other : out.definitions_) {
      if (other.family == d.family && other.revision == d.revision) {
        return Malformed("taskDefinitions[" + std::to_string(i) + "]",
                         "duplicate " + d.family + ":" + std::to_string(d.revision));
      }
    }
    out.definitions_.push_back(std::move(d));
  }
  return out;
}

const TaskDefinition* LocalTaskDefinitions::Find(std::string_view reference,
                                                 std::string_view region,
                                                 std::string_view account_id) const {
  std::string_view family_revision = reference;
  if (reference.starts_with("arn:")) {
    // arn:PARTITION:ecs:REGION:ACCOUNT:task-definition/FAMILY:REVISION
    std::vector<std::string_view> parts;
    size_t pos = 0;
    for (int i = 0; i < 5; ++i) {
      const size_t colon = reference.find(':', pos);
      if (colon == std::string_view::npos) return nullptr;
      parts.push_back(reference.substr(pos, colon - pos));
      pos = colon + 1;
    }
    constexpr std::string_view kResource = "task-definition/";
    const std::string_view rest = reference.substr(pos);
    if (parts[2] != "ecs" || parts[3] != region || parts[4] != account_id ||
        !rest.starts_with(kResource)) {
      return nullptr;
    }
    family_revision = rest.substr(kResource.size());
  }
  std::string_view family = family_revision;
  std::optional<int64_t> revision;
  if (const size_t colon = family_revision.find(':'); colon != std::string_view::npos) {
    family = family_revision.substr(0, colon);
    const std::string_view digits = family_revision.substr(colon + 1);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size()) return nullptr;
    revision = n;
  }
  const TaskDefinition* found = nullptr;
  for (const TaskDefinition& d : definitions_) {
    if (d.family != family) continue;
    if (revision ? d.revision == *revision : (found == nullptr || d.revision > found->revision)) {
      found = &d;
    }
  }
  return found;
}

std::vector<EnvironmentVariable> BaseEnvironmentFromProcess() {
  std::vector<EnvironmentVariable> env;
  for (const char* name : {"PATH", "HOME", "LANG"}) {
    if (const char* value = std::getenv(name)) env.emplace_back(name, value);
  }
  return env;
}

// ---- The task index (tasks.db) --------------------------------------------------------------

class ContainerRunner::TaskIndex {
 public:
  struct Process {
    pid_t pid = 0;
    int64_t start_ticks = 0;
  };
  struct NewTask {
    std::string task_id, idempotency_key, task_arn, task_definition_arn, log_group, log_stream;
    std::vector<std::string> containers;
    std::vector<std::pair<std::string, std::string>> log_streams;  // (group, stream)
    std::vector<EnvironmentVariable> override_environment;
    WallTime created_at{};
  };

  static StatusOr<std::unique_ptr<TaskIndex>> Open(const fs::path& file) {
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                         store::Database::Open(file, store::Database::Mode::kReadWrite));
    HPD_RETURN_IF_ERROR(db->Execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        "CREATE TABLE IF NOT EXISTS tasks ("
        "  task_id TEXT NOT NULL UNIQUE, idempotency_key TEXT NOT NULL, task_arn TEXT NOT NULL,"
        "  task_definition_arn TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER,"
        "  stopped_reason TEXT NOT NULL DEFAULT '', log_group TEXT NOT NULL,"
        "  log_stream TEXT NOT NULL, containers TEXT NOT NULL, created_ms INTEGER NOT NULL,"
        "  started_ms INTEGER, stopped_ms INTEGER);"
        "CREATE INDEX IF NOT EXISTS tasks_by_key ON tasks (idempotency_key, status);"
        "CREATE TABLE IF NOT EXISTS task_processes ("
        "  task_id TEXT NOT NULL, container TEXT NOT NULL, pid INTEGER NOT NULL,"
        "  start_ticks INTEGER NOT NULL, PRIMARY KEY (task_id, container)) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS task_environment ("
        "  task_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS task_environment_by_value ON task_environment (name, value);"
        // Every container's stream (tasks.log_stream is only the first essential one's), so
        // a reader can visit all of a task's output without knowing its definition.
        "CREATE TABLE IF NOT EXISTS task_log_streams ("
        "  task_id TEXT NOT NULL, position INTEGER NOT NULL, log_group TEXT NOT NULL,"
        "  log_stream TEXT NOT NULL, PRIMARY KEY (task_id, position)) WITHOUT ROWID;"));
    return std::unique_ptr<TaskIndex>(new TaskIndex(std::move(db)));
  }

  Status Insert(const NewTask& task) {
    std::string containers;
    for (const std::string& name : task.containers) {
      if (!containers.empty()) containers += ',';
      containers += name;
    }
    std::lock_guard lock(mu_);
    return db_->InTransaction([&]() -> Status {
      HPD_ASSIGN_OR_RETURN(
          store::Statement insert,
          db_->Prepare("INSERT INTO tasks (task_id, idempotency_key, task_arn, "
                       "task_definition_arn, status, log_group, log_stream, containers, "
                       "created_ms) VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, ?7, ?8)"));
      HPD_RETURN_IF_ERROR(insert.Bind(1, task.task_id)
                              .Bind(2, task.idempotency_key)
                              .Bind(3, task.task_arn)
                              .Bind(4, task.task_definition_arn)
                              .Bind(5, task.log_group)
                              .Bind(6, task.log_stream)
                              .Bind(7, containers)
                              .Bind(8, Millis(task.created_at))
                              .Run());
      HPD_ASSIGN_OR_RETURN(
          store::Statement env,
          db_->Prepare("INSERT INTO task_environment (task_id, name, value) VALUES (?1, ?2, ?3)"));
      for (const auto& [name, value] : task.override_environment) {
        HPD_RETURN_IF_ERROR(env.Bind(1, task.task_id).Bind(2, name).Bind(3, value).Run());
      }
      HPD_ASSIGN_OR_RETURN(store::Statement streams,
                           db_->Prepare("INSERT INTO task_log_streams (task_id, position, "
                                        "log_group, log_stream) VALUES (?1, ?2, ?3, ?4)"));
      for (size_t i = 0; i < task.log_streams.size(); ++i) {
        const auto& [group, stream] = task.log_streams[i];
        HPD_RETURN_IF_ERROR(streams.Bind(1, task.task_id)
                                .Bind(2, static_cast<int64_t>(i))
                                .Bind(3, group)
                                .Bind(4, stream)
                                .Run());
      }
      return Status::Ok();
    });
  }

  Status RecordProcess(std::string_view task_id, std::string_view container, Process process) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement insert,
                         db_->Prepare("INSERT OR REPLACE INTO task_processes (task_id, container, "
                                      "pid, start_ticks) VALUES (?1, ?2, ?3, ?4)"));
    return insert.Bind(1, task_id)
        .Bind(2, container)
        .Bind(3, int64_t{process.pid})
        .Bind(4, process.start_ticks)
        .Run();
  }

  Status MarkStarted(std::string_view task_id, WallTime started_at) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement update,
                         db_->Prepare("UPDATE tasks SET started_ms = ?2 WHERE task_id = ?1"));
    return update.Bind(1, task_id).Bind(2, Millis(started_at)).Run();
  }

  Status MarkStopped(std::string_view task_id, std::optional<int> exit_code,
                     std::string_view reason, WallTime stopped_at) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement update,
                         db_->Prepare("UPDATE tasks SET status = 'STOPPED', exit_code = ?2, "
                                      "stopped_reason = ?3, stopped_ms = ?4 WHERE task_id = ?1"));
    update.Bind(1, task_id);
    if (exit_code) {
      update.Bind(2, int64_t{*exit_code});
    } else {
      update.BindNull(2);
    }
    return update.Bind(3, reason).Bind(4, Millis(stopped_at)).Run();
  }

  // RUNNING tasks of the attempt `key`, with their recorded processes.
  StatusOr<std::vector<std::pair<std::string, std::vector<Process>>>> RunningWithKey(
      std::string_view key) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(
        store::Statement query,
        db_->Prepare("SELECT t.task_id, p.pid, p.start_ticks FROM tasks t LEFT JOIN "
                     "task_processes p ON p.task_id = t.task_id WHERE t.idempotency_key = ?1 "
                     "AND t.status = 'RUNNING' ORDER BY t.task_id"));
    query.Bind(1, key);
    std::vector<std::pair<std::string, std::vector<Process>>> out;
    while (true) {
      HPD_ASSIGN_OR_RETURN(bool row, query.Step());
      if (!row) break;
      std::string id(query.Text(0));
      if (out.empty() || out.back().first != id)
        out.emplace_back(std::move(id), std::vector<Process>{});
      if (!query.IsNull(1)) {
        out.back().second.push_back(Process{static_cast<pid_t>(query.Int(1)), query.Int(2)});
      }
    }
    query.Reset();
    return out;
  }

  StatusOr<std::vector<TaskRecord>> Find(std::string_view name, std::string_view value) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement query,
                         db_->Prepare(std::string(kRecordColumns) +
                                      " FROM tasks WHERE task_id IN (SELECT task_id FROM "
                                      "task_environment WHERE name = ?1 AND value = ?2) "
                                      "ORDER BY created_ms DESC, rowid DESC"));
    query.Bind(1, name).Bind(2, value);
    return Records(query);
  }

  StatusOr<std::vector<TaskRecord>> FindById(std::string_view task_id) {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(store::Statement query, db_->Prepare(std::string(kRecordColumns) +
                                                              " FROM tasks WHERE task_id = ?1"));
    query.Bind(1, task_id);
    return Records(query);
  }

  StatusOr<std::vector<TaskRecord>> All() {
    std::lock_guard lock(mu_);
    HPD_ASSIGN_OR_RETURN(
        store::Statement query,
        db_->Prepare(std::string(kRecordColumns) + " FROM tasks ORDER BY created_ms, rowid"));
    return Records(query);
  }

 private:
  static constexpr char kRecordColumns[] =
      "SELECT task_id, task_arn, task_definition_arn, status, exit_code, stopped_reason, "
      "log_group, log_stream, containers, created_ms, started_ms, stopped_ms, idempotency_key";

  explicit TaskIndex(std::unique_ptr<store::Database> db) : db_(std::move(db)) {}

  // The rows `query` (selecting kRecordColumns) gives. Requires mu_.
  StatusOr<std::vector<TaskRecord>> Records(store::Statement& query) {
    std::vector<TaskRecord> out;
    while (true) {
      HPD_ASSIGN_OR_RETURN(bool row, query.Step());
      if (!row) break;
      TaskRecord r;
      r.task_id = std::string(query.Text(0));
      r.task_arn = std::string(query.Text(1));
      r.task_definition_arn = std::string(query.Text(2));
      r.status = std::string(query.Text(3));
      if (!query.IsNull(4)) r.exit_code = static_cast<int>(query.Int(4));
      r.stopped_reason = std::string(query.Text(5));
      r.log_group = std::string(query.Text(6));
      r.log_stream = std::string(query.Text(7));
      std::string_view containers = query.Text(8);
      while (!containers.empty()) {
        const size_t comma = containers.find(',');
        r.containers.emplace_back(containers.substr(0, comma));
        containers = comma == std::string_view::npos ? "" : containers.substr(comma + 1);
      }
      r.created_at = FromMillis(query.Int(9));
      if (!query.IsNull(10)) r.started_at = FromMillis(query.Int(10));
      if (!query.IsNull(11)) r.stopped_at = FromMillis(query.Int(11));
      r.idempotency_key = std::string(query.Text(12));
      out.push_back(std::move(r));
    }
    query.Reset();
    HPD_ASSIGN_OR_RETURN(store::Statement streams,
                         db_->Prepare("SELECT log_group, log_stream FROM task_log_streams WHERE "
                                      "task_id = ?1 ORDER BY position"));
    for (TaskRecord& r : out) {
      streams.Bind(1, std::string_view(r.task_id));
      while (true) {
        HPD_ASSIGN_OR_RETURN(bool row, streams.Step());
        if (!row) break;
        r.log_streams.emplace_back(streams.Text(0), streams.Text(1));
      }
      streams.Reset();
      if (r.log_streams.empty() && !r.log_stream.empty()) {
        r.log_streams.emplace_back(r.log_group, r.log_stream);
      }
    }
    HPD_ASSIGN_OR_RETURN(
        store::Statement processes,
        db_->Prepare("SELECT pid, start_ticks FROM task_processes WHERE task_id = ?1"));
    for (TaskRecord& r : out) {
      if (r.status != "RUNNING") continue;
      processes.Bind(1, std::string_view(r.task_id));
      bool any = false, alive = false;
      while (true) {
        HPD_ASSIGN_OR_RETURN(bool row, processes.Step());
        if (!row) break;
        any = true;
        alive = alive || ProcessAlive(static_cast<pid_t>(processes.Int(0)), processes.Int(1));
      }
      processes.Reset();
      if (any && !alive) {
        r.status = "STOPPED";
        r.stopped_reason = "The task's processes ended while no runner was watching them";
      }
    }
    return out;
  }

  std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // guarded by mu_
};

// ---- One task -------------------------------------------------------------------------------

namespace {

struct ContainerProcess {
  const ContainerDefinition* definition = nullptr;
  std::optional<std::vector<std::string>> command_override;
  std::vector<EnvironmentVariable> override_environment;
  std::vector<EnvironmentVariable> environment;  // effective
  std::string arn;
  std::string runtime_id;
  std::string log_stream;  // "" when the output is discarded
  fs::path cwd;

  pid_t pid = -1;
  int pidfd = -1;
  int64_t start_ticks = 0;
  int fds[2] = {-1, -1};  // stdout, stderr read ends
  std::string partial[2];

  std::string last_status = "PENDING";
  bool exited = false;
  std::optional<int> exit_code;
  std::string reason;
  bool signalled = false;  // the runner sent it a signal
};

}  // namespace

struct ContainerRunner::Task {
  Task() = default;
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    for (ContainerProcess& c : containers) {
      CloseFd(c.fds[0]);
      CloseFd(c.fds[1]);
      CloseFd(c.pidfd);
    }
  }

  bool sync = true;
  std::string id;
  std::string idempotency_key;
  std::string arn;
  std::string cluster_name;
  std::string cluster_arn;
  const TaskDefinition* definition = nullptr;
  std::string definition_arn;
  std::string launch_type;
  std::string platform_version;
  std::string started_by;
  std::string group;
  json::array tags;
  json::object overrides;  // as reported
  std::vector<std::string> subnets;
  std::string attachment_id, eni_id, mac_address, private_ip;
  std::vector<ContainerProcess> containers;

  WallTime created_at{};
  std::optional<WallTime> pull_started_at, pull_stopped_at, started_at, stopping_at,
      execution_stopped_at, stopped_at;
  std::string last_status = "PROVISIONING";
  std::string desired_status = "RUNNING";
  std::string stop_code;
  std::string stopped_reason;
  bool runner_stopped = false;  // cancelled, superseded or shut down
};

namespace {

std::string ClusterName(std::string_view cluster) {
  if (cluster.starts_with("arn:")) {
    const size_t slash = cluster.rfind('/');
    if (slash != std::string_view::npos) return std::string(cluster.substr(slash + 1));
  }
  return std::string(cluster);
}

// Finds `program` as execvp would, on the container's PATH (relative PATH entries are taken
// from the container's working directory). A name with a '/' is used as is.
std::optional<std::string> ResolveProgram(const std::string& program,
                                          const std::vector<EnvironmentVariable>& env,
                                          const fs::path& cwd) {
  if (program.find('/') != std::string::npos) return program;
  if (program.empty()) return std::nullopt;
  const std::string* path_variable = GetVariable(env, "PATH");
  std::string_view dirs =
      path_variable != nullptr ? std::string_view(*path_variable) : kDefaultPath;
  while (true) {
    const size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    fs::path candidate = dir.empty() ? cwd : fs::path(dir);
    if (candidate.is_relative()) candidate = cwd / candidate;
    candidate /= program;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return std::nullopt;
}

// Starts the container's process in a new process group. Returns 0 or an errno.
int SpawnContainer(ContainerProcess& c, const std::string& program,
                   const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return errno;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    const int error = errno;
    ::close(out[0]);
    ::close(out[1]);
    return error;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&actions, c.cwd.c_str());
  // Nothing of the server's but the three standard streams: sockets it opened without
  // SOCK_CLOEXEC (the HTTP listener) would otherwise stay bound by an orphaned container.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  // Ignored dispositions survive exec: a server that ignores SIGPIPE must not hand that on.
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM,
                  SIGTSTP, SIGTTIN, SIGTTOU}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_text;
  for (const auto& [name, value] : c.environment) env_text.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    return rc;
  }
  c.pid = pid;
  c.fds[0] = out[0];
  c.fds[1] = err[0];
  return 0;
}

// Moves the complete lines of `buffer` (and 16 KiB pieces of an overlong one; at EOF, the rest)
// to `lines`.
void TakeLines(std::string& buffer, std::vector<std::string>& lines, bool eof) {
  size_t start = 0;
  while (true) {
    const size_t newline = buffer.find('\n', start);
    if (newline == std::string::npos || newline - start > kMaxLineBytes) {
      if (buffer.size() - start >= kMaxLineBytes) {
        lines.push_back(buffer.substr(start, kMaxLineBytes));
        start += kMaxLineBytes;
        continue;
      }
      break;
    }
    lines.push_back(buffer.substr(start, newline - start));
    start = newline + 1;
  }
  buffer.erase(0, start);
  if (eof && !buffer.empty()) {
    lines.push_back(std::move(buffer));
    buffer.clear();
  }
}

// Reaps the container's process if it has exited; true when it has (now or before).
bool TryReap(ContainerProcess& c) {
  if (c.exited) return true;
  int status = 0;
  const pid_t r = ::waitpid(c.pid, &status, WNOHANG);
  if (r == 0) return false;
  if (r < 0) {
    if (errno == EINTR) return false;
    // ECHILD: someone else reaped it (SIGCHLD ignored, or a handler waiting for any child).
    c.reason = "Exit status unknown: the process was reaped outside the runner";
  } else if (WIFEXITED(status)) {
    c.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    c.exit_code = 128 + sig;
    c.reason = "Container killed by " + SignalName(sig);
  } else {
    return false;  // stopped or continued: still there
  }
  c.exited = true;
  c.last_status = "STOPPED";
  // Whatever the container's main process left behind in its group goes with it, as a
  // container's processes go when its init exits.
  ::kill(-c.pid, SIGKILL);
  CloseFd(c.pidfd);
  return true;
}

void Signal(ContainerProcess& c, int sig) {
  if (c.pid <= 0 || c.exited) return;
  ::kill(-c.pid, sig);
  c.signalled = true;
}

}  // namespace

// ---- ContainerRunner ------------------------------------------------------------------------

StatusOr<std::unique_ptr<ContainerRunner>> ContainerRunner::Create(ContainerRunnerOptions options,
                                                                   const Clock& clock) {
  if (options.work_root.empty()) return InvalidArgumentError("ContainerRunner: work_root is empty");
  std::error_code ec;
  fs::create_directories(options.work_root, ec);
  if (ec) {
    return UnavailableError("cannot create " + options.work_root.string() + ": " + ec.message());
  }
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<TaskIndex> index,
                       TaskIndex::Open(options.work_root / "tasks.db"));
  return std::unique_ptr<ContainerRunner>(
      new ContainerRunner(std::move(options), clock, std::move(index)));
}

ContainerRunner::ContainerRunner(ContainerRunnerOptions options, const Clock& clock,
                                 std::unique_ptr<TaskIndex> index)
    : options_(std::move(options)), clock_(clock), index_(std::move(index)) {}

ContainerRunner::~ContainerRunner() {
  shutting_down_.store(true);
  JoinFinishedBackgroundTasks(/*all=*/true);
}

void ContainerRunner::JoinFinishedBackgroundTasks(bool all) {
  std::lock_guard lock(background_mu_);
  for (auto it = background_.begin(); it != background_.end();) {
    if (all || it->done->load()) {
      it->thread.join();
      it = background_.erase(it);
    } else {
      ++it;
    }
  }
}

bool ContainerRunner::Handles(const asl::TaskInvocation& task) const {
  return task.kind == asl::TaskKind::kService && task.service == "ecs" &&
         (task.action == "runTask.sync" || task.action == "runTask");
}

asl::TaskOutcome ContainerRunner::Run(const asl::TaskInvocation& task,
                                      const std::atomic<bool>* cancelled,
                                      std::string_view idempotency_key) {
  JoinFinishedBackgroundTasks(/*all=*/false);
  if (!Handles(task)) {
    asl::TaskOutcome outcome;
    outcome.succeeded = false;
    outcome.error = "States.Runtime";
    outcome.cause = "ContainerRunner cannot run '" + std::string(task.resource) + "'";
    return outcome;
  }
  if (options_.before_run_task) {
    Status injected = options_.before_run_task(task);
    if (!injected.ok()) {
      asl::TaskOutcome outcome;
      outcome.succeeded = false;
      outcome.error = "ECS." + std::string(injected.error_name().empty()
                                               ? std::string_view("AmazonECSException")
                                               : injected.error_name());
      outcome.cause = std::string(injected.message());
      return outcome;
    }
  }
  auto prepared = std::make_unique<Task>();
  asl::TaskOutcome outcome;
  if (!Prepare(task, prepared.get(), &outcome)) return outcome;
  Task& t = *prepared;
  t.idempotency_key = std::string(idempotency_key);
  if (!idempotency_key.empty()) StopEarlierIncarnation(idempotency_key);

  TaskIndex::NewTask record;
  record.task_id = t.id;
  record.idempotency_key = t.idempotency_key;
  record.task_arn = t.arn;
  record.task_definition_arn = t.definition_arn;
  for (const ContainerProcess& c : t.containers) {
    record.containers.push_back(c.definition->name);
    if (record.log_stream.empty() && c.definition->essential && !c.log_stream.empty()) {
      record.log_group = c.definition->log_group;
      record.log_stream = c.log_stream;
    }
    if (!c.log_stream.empty())
      record.log_streams.emplace_back(c.definition->log_group, c.log_stream);
    for (const auto& variable : c.override_environment) {
      record.override_environment.push_back(variable);
    }
  }
  record.created_at = t.created_at;
  if (Status recorded = index_->Insert(record); !recorded.ok()) {
    return EcsError("ServerException",
                    "The local task index cannot be written: " + recorded.ToString(), random_);
  }

  const bool started = Start(t);
  if (started && !t.sync) {
    asl::TaskOutcome response = RunTaskResponse(t);
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread supervisor([this, owned = std::move(prepared), done]() mutable {
      Supervise(*owned, &shutting_down_);
      Finish(*owned);
      done->store(true);
    });
    std::lock_guard lock(background_mu_);
    background_.push_back(BackgroundTask{std::move(supervisor), std::move(done)});
    return response;
  }
  if (started) Supervise(t, cancelled);
  Finish(t);
  return t.sync ? StoppedOutcome(t) : RunTaskResponse(t);
}

bool ContainerRunner::Prepare(const asl::TaskInvocation& invocation, Task* t,
                              asl::TaskOutcome* outcome) {
  auto fail = [&](std::string_view code, std::string message) {
    *outcome = EcsError(code, message, random_);
    return false;
  };
  auto invalid = [&](std::string message) {
    return fail("InvalidParameterException", std::move(message));
  };
  if (!invocation.parameters.is_object()) return invalid("The request must be a JSON object.");
  const json::object& params = invocation.parameters.get_object();
  auto optional_string = [&](std::string_view key, std::string* out) {
    const json::value* v = params.if_contains(key);
    if (v == nullptr) return true;
    if (!v->is_string()) return false;
    *out = std::string(v->get_string());
    return true;
  };

  std::string reference;
  if (!optional_string("TaskDefinition", &reference)) {
    return invalid("TaskDefinition must be a string.");
  }
  if (reference.empty()) return invalid("TaskDefinition can not be blank.");
  const TaskDefinition* definition =
      options_.task_definitions.Find(reference, options_.region, options_.account_id);
  if (definition == nullptr) return fail("ClientException", "TaskDefinition not found.");

  std::string cluster = "default";
  if (!optional_string("Cluster", &cluster)) return invalid("Cluster must be a string.");
  std::string launch_type = "FARGATE";
  if (!optional_string("LaunchType", &launch_type)) return invalid("LaunchType must be a string.");
  if (launch_type != "EC2" && launch_type != "FARGATE" && launch_type != "EXTERNAL" &&
      launch_type != "MANAGED_INSTANCES") {
    return invalid("1 validation error detected: Value '" + launch_type +
                   "' at 'launchType' failed to satisfy constraint: Member must satisfy enum "
                   "value set: [EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES]");
  }
  std::string platform_version = launch_type == "FARGATE" ? "1.4.0" : "";
  if (!optional_string("PlatformVersion", &platform_version)) {
    return invalid("PlatformVersion must be a string.");
  }
  if (platform_version == "LATEST") platform_version = "1.4.0";
  if (!optional_string("StartedBy", &t->started_by)) return invalid("StartedBy must be a string.");
  if (t->started_by.size() > 128) return invalid("startedBy must be at most 128 characters.");
  t->group = "family:" + definition->family;
  if (!optional_string("Group", &t->group)) return invalid("Group must be a string.");
  if (const json::value* tags = params.if_contains("Tags")) {
    if (!tags->is_array()) return invalid("Tags must be an array.");
    t->tags = tags->get_array();
  }
  if (const json::value* network = params.if_contains("NetworkConfiguration")) {
    const json::value* awsvpc =
        network->is_object() ? network->get_object().if_contains("AwsvpcConfiguration") : nullptr;
    if (awsvpc == nullptr || !awsvpc->is_object()) {
      return invalid("NetworkConfiguration must contain an AwsvpcConfiguration object.");
    }
    const json::object& vpc = awsvpc->get_object();
    const json::value* subnets = vpc.if_contains("Subnets");
    if (subnets == nullptr || !subnets->is_array() || subnets->get_array().empty()) {
      return invalid("subnets can not be empty.");
    }
    for (const json::value& s : subnets->get_array()) {
      if (!s.is_string() || s.get_string().empty()) return invalid("subnets must be strings.");
      t->subnets.emplace_back(s.get_string());
    }
    if (const json::value* groups = vpc.if_contains("SecurityGroups")) {
      if (!groups->is_array() ||
          !std::all_of(groups->get_array().begin(), groups->get_array().end(),
                       [](const json::value& g) { return g.is_string(); })) {
        return invalid("securityGroups must be an array of strings.");
      }
    }
    if (const json::value* assign = vpc.if_contains("AssignPublicIp")) {
      if (!assign->is_string() ||
          (assign->get_string() != "ENABLED" && assign->get_string() != "DISABLED")) {
        return invalid("assignPublicIp must be ENABLED or DISABLED.");
      }
    }
  }

  t->sync = invocation.action == "runTask.sync";
  t->id = RandomHex(random_, 32);
  t->created_at = clock_.WallNow();
  t->definition = definition;
  const std::string arn_prefix =
      "arn:" + options_.partition + ":ecs:" + options_.region + ":" + options_.account_id + ":";
  t->definition_arn = arn_prefix + "task-definition/" + definition->family + ":" +
                      std::to_string(definition->revision);
  t->cluster_name = ClusterName(cluster);
  t->cluster_arn = arn_prefix + "cluster/" + t->cluster_name;
  t->arn = arn_prefix + "task/" + t->cluster_name + "/" + t->id;
  t->launch_type = launch_type;
  t->platform_version = platform_version;
  if (!t->subnets.empty()) {
    t->attachment_id = NewUuidV4(random_);
    t->eni_id = "eni-" + RandomHex(random_, 17);
    const uint64_t bits = random_.Next();
    char mac[32];
    std::snprintf(
        mac, sizeof(mac), "0a:%02x:%02x:%02x:%02x:%02x", static_cast<unsigned>(bits & 0xff),
        static_cast<unsigned>((bits >> 8) & 0xff), static_cast<unsigned>((bits >> 16) & 0xff),
        static_cast<unsigned>((bits >> 24) & 0xff), static_cast<unsigned>((bits >> 32) & 0xff));
    t->mac_address = mac;
    t->private_ip = "10.0." + std::to_string((bits >> 40) & 0xff) + "." +
                    std::to_string(1 + ((bits >> 48) % 254));
  }

  t->containers.resize(definition->containers.size());
  for (size_t i = 0; i < definition->containers.size(); ++i) {
    const ContainerDefinition& d = definition->containers[i];
    ContainerProcess& c = t->containers[i];
    c.definition = &d;
    c.arn = arn_prefix + "container/" + t->cluster_name + "/" + t->id + "/" + NewUuidV4(random_);
    c.runtime_id = t->id + "-" + std::to_string(random_.Next() % 10000000000ULL);
    if (!d.log_group.empty()) {
      c.log_stream =
          (d.log_stream_prefix.empty() ? "" : d.log_stream_prefix + "/") + d.name + "/" + t->id;
    }
    c.cwd = options_.work_root / t->id;
    if (!d.working_directory.empty()) c.cwd /= d.working_directory;
  }

  // Overrides: checked whole, then per container.
  json::object overrides;
  if (const json::value* given = params.if_contains("Overrides")) {
    if (!given->is_object()) return invalid("Overrides must be an object.");
    if (SerializeJson(*given).size() > kMaxOverrideChars) {
      return invalid("Container Overrides length must be at most 8192");
    }
    const json::object& o = given->get_object();
    if (const json::value* list = o.if_contains("ContainerOverrides")) {
      if (!list->is_array()) return invalid("ContainerOverrides must be an array.");
      for (const json::value& entry : list->get_array()) {
        if (!entry.is_object()) return invalid("A container override must be an object.");
        const json::object& e = entry.get_object();
        const json::value* name = e.if_contains("Name");
        const std::string name_text =
            name != nullptr && name->is_string() ? std::string(name->get_string()) : "null";
        ContainerProcess* target = nullptr;
        for (ContainerProcess& c : t->containers) {
          if (c.definition->name == name_text) target = &c;
        }
        if (target == nullptr) {
          return invalid("Override for container named " + name_text +
                         " is not a container in the TaskDefinition.");
        }
        if (const json::value* command = e.if_contains("Command")) {
          if (!command->is_array()) return invalid("Command must be an array of strings.");
          std::vector<std::string> args;
          for (const json::value& a : command->get_array()) {
            if (!a.is_string()) return invalid("Command must be an array of strings.");
            args.emplace_back(a.get_string());
          }
          target->command_override = std::move(args);
        }
        if (const json::value* env = e.if_contains("Environment")) {
          if (!env->is_array()) return invalid("Environment must be an array.");
          for (const json::value& v : env->get_array()) {
            const json::object* pair = v.if_object();
            const json::value* n = pair != nullptr ? pair->if_contains("Name") : nullptr;
            const json::value* val = pair != nullptr ? pair->if_contains("Value") : nullptr;
            if (n == nullptr || !n->is_string() || n->get_string().empty() ||
                (val != nullptr && !val->is_string())) {
              return invalid("Environment entries must be {Name, Value} strings.");
            }
            const std::string_view variable = n->get_string();
            if (IsHostControlVariable(variable)) {
              return invalid("Container override environment variable " + std::string(variable) +
                             " is refused by the local runner: it would change how the host "
                             "loads or runs the container's program.");
            }
            SetVariable(target->override_environment, std::string_view(n->get_string()),
                        val != nullptr ? std::string_view(val->get_string()) : "");
          }
        }
      }
    }
    for (const char* key : {"Cpu", "ExecutionRoleArn", "Memory", "TaskRoleArn"}) {
      if (const json::value* v = o.if_contains(key)) overrides[key] = *v;
    }
  }
  json::array container_overrides;
  for (const ContainerProcess& c : t->containers) {
    json::array command;
    if (c.command_override) {
      for (const std::string& a : *c.command_override) command.emplace_back(a);
    }
    json::array env;
    for (const auto& [name, value] : c.override_environment) {
      env.emplace_back(json::object{{"Name", name}, {"Value", value}});
    }
    container_overrides.emplace_back(json::object{{"Command", std::move(command)},
                                                  {"Environment", std::move(env)},
                                                  {"EnvironmentFiles", json::array()},
                                                  {"Name", c.definition->name},
                                                  {"ResourceRequirements", json::array()}});
  }
  t->overrides["ContainerOverrides"] = std::move(container_overrides);
  for (auto& member : overrides) t->overrides[member.key()] = member.value();
  t->overrides["InferenceAcceleratorOverrides"] = json::array();

  for (ContainerProcess& c : t->containers) {
    std::vector<EnvironmentVariable> env = options_.base_environment;
    SetVariable(env, "AWS_REGION", options_.region);
    SetVariable(env, "AWS_DEFAULT_REGION", options_.region);
    SetVariable(env, "AWS_EXECUTION_ENV", launch_type == "EC2" ? "AWS_ECS_EC2" : "AWS_ECS_FARGATE");
    SetVariable(env, "ECS_CONTAINER_METADATA_URI", "http://169.254.170.2/v3/" + c.runtime_id);
    SetVariable(env, "ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/" + c.runtime_id);
    for (const auto& [name, value] : c.definition->environment) SetVariable(env, name, value);
    for (const auto& [name, value] : c.override_environment) SetVariable(env, name, value);
    c.environment = std::move(env);
  }
  return true;
}

void ContainerRunner::StopEarlierIncarnation(std::string_view idempotency_key) {
  auto running = index_->RunningWithKey(idempotency_key);
  if (!running.ok()) return;
  for (const auto& [task_id, processes] : *running) {
    std::vector<TaskIndex::Process> alive;
    for (const TaskIndex::Process& p : processes) {
      if (ProcessAlive(p.pid, p.start_ticks)) {
        ::kill(-p.pid, SIGTERM);
        alive.push_back(p);
      }
    }
    const MonotonicTime deadline = clock_.MonotonicNow() + options_.stop_grace_period;
    for (const TaskIndex::Process& p : alive) {
      if (!WaitGone(p.pid, p.start_ticks, deadline, clock_)) {
        ::kill(-p.pid, SIGKILL);
        WaitGone(p.pid, p.start_ticks, clock_.MonotonicNow() + kKillWait, clock_);
      }
      // What is left of the group (a child that ignored SIGTERM) goes too.
      ::kill(-p.pid, SIGKILL);
    }
    index_
        ->MarkStopped(task_id, std::nullopt,
                      "Task stopped: the same task attempt was dispatched again", clock_.WallNow())
        .IgnoreError();
  }
}

bool ContainerRunner::Start(Task& t) {
  t.pull_started_at = clock_.WallNow();
  // Streams first, so that a task that fails to start still says why in its stream.
  if (options_.logs != nullptr) {
    for (ContainerProcess& c : t.containers) {
      if (c.log_stream.empty()) continue;
      if (!options_.logs->CreateStream(c.definition->log_group, c.log_stream).ok()) {
        c.log_stream.clear();  // a log store that fails must not fail the task
      }
    }
  }
  auto fail_to_start = [&](ContainerProcess* c, std::string reason) {
    t.stop_code = "TaskFailedToStart";
    t.stopped_reason = reason;
    if (c != nullptr) c->reason = std::move(reason);
    t.stopping_at = clock_.WallNow();
    t.desired_status = "STOPPED";
    // Containers already started go at once: the task never ran.
    for (ContainerProcess& other : t.containers) {
      if (other.pid <= 0 || other.exited) continue;
      Signal(other, SIGKILL);
      int status = 0;
      while (::waitpid(other.pid, &status, 0) < 0 && errno == EINTR) {
      }
      CloseFd(other.pidfd);
      other.exited = true;
      other.last_status = "STOPPED";
      other.exit_code = 128 + SIGKILL;
      other.reason = "Task failed to start";
    }
    return false;
  };

  for (ContainerProcess& c : t.containers) {
    std::error_code ec;
    fs::create_directories(c.cwd, ec);
    if (ec) {
      return fail_to_start(&c, "ResourceInitializationError: cannot create the working directory " +
                                   c.cwd.string() + ": " + ec.message());
    }
    for (const StagedObject& staged : c.definition->stage_objects) {
      const std::string prefix = "ResourceInitializationError: cannot stage " + staged.to_file;
      const std::string* uri = GetVariable(c.environment, staged.from_environment);
      if (uri == nullptr) {
        return fail_to_start(
            &c, prefix + ": environment variable " + staged.from_environment + " is not set");
      }
      constexpr std::string_view kScheme = "s3://";
      const size_t slash = uri->find('/', kScheme.size());
      if (!uri->starts_with(kScheme) || slash == std::string::npos || slash + 1 >= uri->size()) {
        return fail_to_start(&c, prefix + ": " + staged.from_environment + "=" + *uri +
                                     " is not an s3://bucket/key URI");
      }
      const std::string bucket = uri->substr(kScheme.size(), slash - kScheme.size());
      const std::string key = uri->substr(slash + 1);
      if (options_.objects == nullptr) {
        return fail_to_start(&c, prefix + " from " + *uri + ": no object store is configured");
      }
      StatusOr<std::string> bytes = options_.objects->Get(bucket, key);
      if (!bytes.ok()) {
        const Status& s = bytes.status();
        return fail_to_start(&c, prefix + " from " + *uri + ": " +
                                     (s.error_name().empty() ? std::string(StatusCodeName(s.code()))
                                                             : std::string(s.error_name())) +
                                     ": " + std::string(s.message()));
      }
      const fs::path target = c.cwd / staged.to_file;
      fs::create_directories(target.parent_path(), ec);
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      out << *bytes;
      out.close();
      if (ec || !out) {
        return fail_to_start(&c, prefix + " from " + *uri + ": cannot write " + target.string());
      }
    }
  }
  t.pull_stopped_at = clock_.WallNow();

  for (ContainerProcess& c : t.containers) {
    std::vector<std::string> argv = c.definition->entry_point;
    const std::vector<std::string>& command =
        c.command_override ? *c.command_override : c.definition->command;
    argv.insert(argv.end(), command.begin(), command.end());
    if (argv.empty()) {
      return fail_to_start(&c, "CannotStartContainerError: the container has no command");
    }
    std::optional<std::string> program = ResolveProgram(argv[0], c.environment, c.cwd);
    if (!program) {
      return fail_to_start(&c, "CannotStartContainerError: exec: \"" + argv[0] +
                                   "\": executable file not found in $PATH");
    }
    if (const int rc = SpawnContainer(c, *program, argv); rc != 0) {
      return fail_to_start(
          &c, "CannotStartContainerError: exec: \"" + *program + "\": " + std::strerror(rc));
    }
    if (std::optional<ProcStat> stat = ReadProcStat(c.pid)) c.start_ticks = stat->start_ticks;
    c.pidfd = PidfdOpen(c.pid);
    c.last_status = "RUNNING";
    index_->RecordProcess(t.id, c.definition->name, {c.pid, c.start_ticks}).IgnoreError();
  }
  t.started_at = clock_.WallNow();
  t.last_status = "RUNNING";
  index_->MarkStarted(t.id, *t.started_at).IgnoreError();
  return true;
}

void ContainerRunner::Supervise(Task& t, const std::atomic<bool>* cancelled) {
  bool stop_sent = false;
  bool kill_sent = false;
  MonotonicTime kill_at{};
  std::optional<MonotonicTime> drain_until;
  std::vector<std::string> lines;
  char buffer[65536];

  while (true) {
    bool all_exited = true;
    bool essential_exited = false;
    for (ContainerProcess& c : t.containers) {
      const bool exited = TryReap(c);
      all_exited = all_exited && exited;
      essential_exited = essential_exited || (exited && c.definition->essential);
    }
    if (!stop_sent) {
      const bool cancel = (cancelled != nullptr && cancelled->load()) || shutting_down_.load();
      if (cancel) {
        t.stop_code = "UserInitiated";
        t.stopped_reason = "Task stopped by AWS Step Functions: the result is no longer wanted";
        t.runner_stopped = true;
      } else if (essential_exited) {
        t.stop_code = "EssentialContainerExited";
        t.stopped_reason = "Essential container in task exited";
      }
      if (cancel || essential_exited) {
        stop_sent = true;
        t.stopping_at = clock_.WallNow();
        t.desired_status = "STOPPED";
        t.last_status = "DEACTIVATING";
        for (ContainerProcess& c : t.containers) Signal(c, SIGTERM);
        kill_at = clock_.MonotonicNow() + options_.stop_grace_period;
      }
    }
    const MonotonicTime now = clock_.MonotonicNow();
    if (stop_sent && !kill_sent && !all_exited && now >= kill_at) {
      for (ContainerProcess& c : t.containers) Signal(c, SIGKILL);
      kill_sent = true;
    }
    bool open = false;
    for (const ContainerProcess& c : t.containers) open = open || c.fds[0] >= 0 || c.fds[1] >= 0;
    if (all_exited) {
      if (!t.execution_stopped_at) t.execution_stopped_at = clock_.WallNow();
      // A process that left its group (setsid) may hold the pipes open: wait a grace period at
      // most for the rest of the output.
      if (!open) break;
      if (!drain_until) drain_until = now + options_.stop_grace_period;
      if (now >= *drain_until) break;
    }

    std::vector<pollfd> fds;
    std::vector<std::pair<ContainerProcess*, int>> owners;  // (container, stream index or -1)
    for (ContainerProcess& c : t.containers) {
      for (int k = 0; k < 2; ++k) {
        if (c.fds[k] < 0) continue;
        fds.push_back(pollfd{c.fds[k], POLLIN, 0});
        owners.emplace_back(&c, k);
      }
      if (!c.exited && c.pidfd >= 0) {
        fds.push_back(pollfd{c.pidfd, POLLIN, 0});
        owners.emplace_back(&c, -1);
      }
    }
    int timeout = static_cast<int>(kPollInterval.count());
    if (stop_sent && !kill_sent) {
      const auto left = std::chrono::duration_cast<milliseconds>(kill_at - now).count();
      timeout = static_cast<int>(std::clamp<int64_t>(left, 0, timeout));
    }
    const int ready = ::poll(fds.data(), fds.size(), timeout);
    if (ready <= 0) continue;  // timeout, or EINTR
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto [c, k] = owners[i];
      if (k < 0) continue;  // the pidfd: reaped at the top of the loop
      const ssize_t n = ::read(c->fds[k], buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      const bool eof = n <= 0;
      if (n > 0) c->partial[k].append(buffer, static_cast<size_t>(n));
      if (eof) CloseFd(c->fds[k]);
      lines.clear();
      TakeLines(c->partial[k], lines, eof);
      if (!lines.empty() && options_.logs != nullptr && !c->log_stream.empty()) {
        options_.logs->Append(c->definition->log_group, c->log_stream, lines)
            .status()
            .IgnoreError();
      }
    }
  }
  // Pipes still open after the drain period: take what was read.
  for (ContainerProcess& c : t.containers) {
    for (int k = 0; k < 2; ++k) {
      lines.clear();
      TakeLines(c.partial[k], lines, /*eof=*/true);
      if (!lines.empty() && options_.logs != nullptr && !c.log_stream.empty()) {
        options_.logs->Append(c.definition->log_group, c.log_stream, lines).status().IgnoreError();
      }
      CloseFd(c.fds[k]);
    }
  }
}

void ContainerRunner::Finish(Task& t) {
  const WallTime now = clock_.WallNow();
  if (!t.stopping_at) t.stopping_at = now;
  if (!t.execution_stopped_at) t.execution_stopped_at = now;
  t.stopped_at = now;
  t.last_status = "STOPPED";
  t.desired_status = "STOPPED";
  std::optional<int> exit_code;
  bool decided = false;
  for (ContainerProcess& c : t.containers) {
    c.last_status = "STOPPED";
    if (!decided && c.pid > 0 && c.exit_code != 0) {
      exit_code = c.exit_code;
      decided = true;
    }
    if (options_.logs != nullptr && !c.log_stream.empty() &&
        (t.runner_stopped || c.signalled || t.stop_code == "TaskFailedToStart")) {
      std::string line = "[hpdeploy] container " + c.definition->name +
                         " stopped: " + (c.reason.empty() ? t.stopped_reason : c.reason);
      if (c.exit_code) line += " (exit code " + std::to_string(*c.exit_code) + ")";
      options_.logs->Append(c.definition->log_group, c.log_stream, {line}).status().IgnoreError();
    }
  }
  if (!decided) {
    for (const ContainerProcess& c : t.containers) {
      if (c.definition->essential) {
        exit_code = c.exit_code;
        break;
      }
    }
  }
  index_->MarkStopped(t.id, exit_code, t.stopped_reason, now).IgnoreError();
}

json::object ContainerRunner::Describe(const Task& t, bool response) const {
  const bool has_eni = !t.subnets.empty();
  json::object o;
  json::array attachments;
  if (has_eni) {
    json::array details{json::object{{"Name", "subnetId"}, {"Value", t.subnets.front()}}};
    if (!response) {
      std::string ip_name = t.private_ip;
      std::replace(ip_name.begin(), ip_name.end(), '.', '-');
      const std::string dns = "ip-" + ip_name + "." + options_.region + ".compute.internal";
      details.emplace_back(json::object{{"Name", "networkInterfaceId"}, {"Value", t.eni_id}});
      details.emplace_back(json::object{{"Name", "macAddress"}, {"Value", t.mac_address}});
      details.emplace_back(json::object{{"Name", "privateDnsName"}, {"Value", dns}});
      details.emplace_back(json::object{{"Name", "privateIPv4Address"}, {"Value", t.private_ip}});
    }
    const bool stopped = t.last_status == "STOPPED";
    attachments.emplace_back(
        json::object{{"Details", std::move(details)},
                     {"Id", t.attachment_id},
                     {"Status", response ? "PRECREATED" : (stopped ? "DELETED" : "ATTACHED")},
                     {"Type", response ? "ElasticNetworkInterface" : "eni"}});
  }
  o["Attachments"] = std::move(attachments);
  o["Attributes"] =
      json::array{json::object{{"Name", "ecs.cpu-architecture"}, {"Value", "x86_64"}}};
  o["AvailabilityZone"] = options_.region + "a";
  o["ClusterArn"] = t.cluster_arn;
  if (!response) {
    o["Connectivity"] = "CONNECTED";
    o["ConnectivityAt"] = Millis(t.created_at);
  }
  json::array containers;
  for (const ContainerProcess& c : t.containers) {
    json::object j;
    j["ContainerArn"] = c.arn;
    j["Cpu"] = "0";
    if (!response && c.exit_code) j["ExitCode"] = *c.exit_code;
    j["GpuIds"] = json::array();
    if (!c.definition->image.empty()) j["Image"] = c.definition->image;
    j["LastStatus"] = response ? "PENDING" : c.last_status;
    j["ManagedAgents"] = json::array();
    j["Name"] = c.definition->name;
    j["NetworkBindings"] = json::array();
    json::array interfaces;
    if (has_eni && !response) {
      interfaces.emplace_back(
          json::object{{"AttachmentId", t.attachment_id}, {"PrivateIpv4Address", t.private_ip}});
    }
    j["NetworkInterfaces"] = std::move(interfaces);
    if (!response && !c.reason.empty()) j["Reason"] = c.reason;
    if (!response && c.pid > 0) j["RuntimeId"] = c.runtime_id;
    j["TaskArn"] = t.arn;
    containers.emplace_back(std::move(j));
  }
  o["Containers"] = std::move(containers);
  o["Cpu"] = t.definition->cpu;
  o["CreatedAt"] = Millis(t.created_at);
  o["DesiredStatus"] = response ? "RUNNING" : t.desired_status;
  o["EnableExecuteCommand"] = false;
  o["EphemeralStorage"] = json::object{{"SizeInGiB", 20}};
  if (!response && t.execution_stopped_at) {
    o["ExecutionStoppedAt"] = Millis(*t.execution_stopped_at);
  }
  o["Group"] = t.group;
  o["InferenceAccelerators"] = json::array();
  o["LastStatus"] = response ? "PROVISIONING" : t.last_status;
  o["LaunchType"] = t.launch_type;
  o["Memory"] = t.definition->memory;
  o["Overrides"] = t.overrides;
  if (response) o["PlatformFamily"] = "Linux";
  if (!t.platform_version.empty()) o["PlatformVersion"] = t.platform_version;
  if (!response) {
    if (t.pull_started_at) o["PullStartedAt"] = Millis(*t.pull_started_at);
    if (t.pull_stopped_at) o["PullStoppedAt"] = Millis(*t.pull_stopped_at);
    if (t.started_at) o["StartedAt"] = Millis(*t.started_at);
  }
  if (!t.started_by.empty()) o["StartedBy"] = t.started_by;
  if (!response) {
    if (!t.stop_code.empty()) o["StopCode"] = t.stop_code;
    if (t.stopped_at) o["StoppedAt"] = Millis(*t.stopped_at);
    if (!t.stopped_reason.empty()) o["StoppedReason"] = t.stopped_reason;
    if (t.stopping_at) o["StoppingAt"] = Millis(*t.stopping_at);
  }
  o["Tags"] = t.tags;
  o["TaskArn"] = t.arn;
  o["TaskDefinitionArn"] = t.definition_arn;
  o["Version"] = response ? 1 : 5;
  return o;
}

asl::TaskOutcome ContainerRunner::StoppedOutcome(const Task& t) const {
  bool succeeded = t.stop_code == "EssentialContainerExited";
  for (const ContainerProcess& c : t.containers) succeeded = succeeded && c.exit_code == 0;
  asl::TaskOutcome outcome;
  json::object task = Describe(t, /*as_run_task_response=*/false);
  if (succeeded) {
    outcome.output = std::move(task);
  } else {
    outcome.succeeded = false;
    outcome.error = "States.TaskFailed";
    outcome.cause = SerializeJson(task);
  }
  return outcome;
}

asl::TaskOutcome ContainerRunner::RunTaskResponse(const Task& t) {
  json::object task = Describe(t, /*as_run_task_response=*/true);
  const std::string content_length = std::to_string(
      SerializeJson(json::object{{"failures", json::array()}, {"tasks", json::array{task}}})
          .size());
  const std::string request_id = NewUuidV4(random_);
  const std::string date = FormatHttpDate(clock_.WallNow());
  const std::string content_type = "application/x-amz-json-1.1";
  const auto one = [](std::string_view v) { return json::array{json::value(v)}; };
  json::object all_headers;
  all_headers["x-amzn-RequestId"] = one(request_id);
  all_headers["Content-Length"] = one(content_length);
  all_headers["Date"] = one(date);
  all_headers["Content-Type"] = one(content_type);
  json::object headers;
  headers["Content-Length"] = content_length;
  headers["Content-Type"] = content_type;
  headers["Date"] = date;
  headers["x-amzn-RequestId"] = request_id;
  json::object response;
  response["Failures"] = json::array();
  response["SdkHttpMetadata"] = json::object{{"AllHttpHeaders", std::move(all_headers)},
                                             {"HttpHeaders", std::move(headers)},
                                             {"HttpStatusCode", 200}};
  response["SdkResponseMetadata"] = json::object{{"RequestId", request_id}};
  response["Tasks"] = json::array{std::move(task)};
  asl::TaskOutcome outcome;
  outcome.output = std::move(response);
  return outcome;
}

StatusOr<std::vector<TaskRecord>> ContainerRunner::FindTasks(const fs::path& work_root,
                                                             std::string_view env_name,
                                                             std::string_view env_value) {
  const fs::path file = work_root / "tasks.db";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::vector<TaskRecord>{};
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<TaskIndex> index, TaskIndex::Open(file));
  return index->Find(env_name, env_value);
}

StatusOr<std::vector<TaskRecord>> ContainerRunner::ListTasks(const fs::path& work_root) {
  const fs::path file = work_root / "tasks.db";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::vector<TaskRecord>{};
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<TaskIndex> index, TaskIndex::Open(file));
  return index->All();
}

StatusOr<std::optional<TaskRecord>> ContainerRunner::FindTaskByLogStream(const fs::path& work_root,
                                                                         std::string_view group,
                                                                         std::string_view stream) {
  // Streams are "<prefix>/<container>/<task id>" (or "<container>/<task id>"); task ids are 32
  // random hex digits, so the last part alone names the task.
  const size_t slash = stream.rfind('/');
  if (group.empty() || slash == std::string_view::npos) return std::optional<TaskRecord>();
  const std::string_view task_id = stream.substr(slash + 1);
  if (task_id.size() != 32 || task_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return std::optional<TaskRecord>();
  }
  const fs::path file = work_root / "tasks.db";
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<TaskRecord>();
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<TaskIndex> index, TaskIndex::Open(file));
  HPD_ASSIGN_OR_RETURN(std::vector<TaskRecord> found, index->FindById(task_id));
  if (found.empty()) return std::optional<TaskRecord>();
  return std::optional<TaskRecord>(std::move(found.front()));
}

}  // namespace hpd::engine
