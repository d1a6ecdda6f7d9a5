#include "cli/platform.h"

#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include "asl/substitutions.h"
#include "common/json.h"
#include "hyperpod/handlers.h"
#include "hyperpod/progress_events.h"

namespace hpd::cli {
namespace {

namespace json = boost::json;

// The role the state machines name: nothing assumes it locally; on AWS it is the stack's.
constexpr char kRoleArnSuffix[] = ":role/hpdeploy-state-machine";

std::string ExecutablePath() {
  std::error_code error;
  std::filesystem::path path = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? std::string("hpdeploy") : path.string();
}

StatusOr<std::string> Substituted(std::string_view definition) {
  StatusOr<json::value> document = ParseJson(DefinitionSubstitutionsText());
  if (!document.ok()) return document.status().WithContext("the built-in substitutions");
  StatusOr<asl::Substitutions> substitutions = asl::SubstitutionsFromJson(*document);
  if (!substitutions.ok()) return substitutions.status();
  return asl::ApplySubstitutions(definition, *substitutions);
}

// Field `field` (3: region, 4: account) of the ARN a built-in substitution holds
// (arn:PARTITION:SERVICE:REGION:ACCOUNT:...).
StatusOr<std::string> SubstitutionArnField(std::string_view name, int field) {
  StatusOr<json::value> document = ParseJson(DefinitionSubstitutionsText());
  if (!document.ok()) return document.status().WithContext("the built-in substitutions");
  const json::object* object = document->if_object();
  const json::value* arn = object == nullptr ? nullptr : object->if_contains(name);
  if (arn == nullptr || !arn->is_string()) {
    return InternalError("the built-in substitutions have no " + std::string(name));
  }
  std::string_view text = arn->get_string();
  for (int skipped = 0; skipped < field; ++skipped) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) return InternalError("not an ARN: " + std::string(name));
    text.remove_prefix(colon + 1);
  }
  return std::string(text.substr(0, text.find(':')));
}

Status Unavailable(const std::filesystem::path& dir, const std::error_code& error) {
  return UnavailableError("cannot use the data dir " + dir.string() + ": " + error.message());
}

}  // namespace

Platform::Platform(PlatformOptions options) : options_(std::move(options)) {}

Platform::~Platform() {
  runtime_.reset();  // cancels running tasks; journals what is pending (and publishes it)
  publisher_ptr_.store(nullptr);
  if (publisher_) publisher_->Stop();
  publisher_.reset();
  api_.reset();
  if (journal_) journal_->Close();
}

StatusOr<std::unique_ptr<Platform>> Platform::Open(PlatformOptions options) {
  if (!(options.time_scale >= 0)) return InvalidArgumentError("the time scale must be >= 0");
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) return Unavailable(options.data_dir, error);
  if (::access(options.data_dir.c_str(), W_OK) != 0) {
    return UnavailableError("the data dir " + options.data_dir.string() + " is not writable");
  }
  std::unique_ptr<Platform> p(new Platform(std::move(options)));
  const PlatformOptions& o = p->options_;
  const std::filesystem::path& dir = o.data_dir;

  // The journal first: its lock says whether another process runs this data dir.
  StatusOr<std::unique_ptr<store::Journal>> journal = store::Journal::Open(dir / "journal.db");
  if (!journal.ok()) return journal.status();
  p->journal_ = std::move(*journal);

  StatusOr<hyperpod::PresetCatalog> presets = hyperpod::LoadPresets(
      o.presets_file.empty() ? std::nullopt : std::optional<std::filesystem::path>(o.presets_file));
  if (!presets.ok()) return presets.status();
  p->presets_ = std::make_unique<hyperpod::PresetCatalog>(std::move(*presets));
  HPD_ASSIGN_OR_RETURN(p->parameters_,
                       store::ParameterStore::Open(dir / "parameters.db", p->clock_));
  HPD_ASSIGN_OR_RETURN(p->objects_, store::ObjectStore::Open(dir / "objects", p->clock_));
  HPD_ASSIGN_OR_RETURN(p->logs_, store::LogStore::Open(dir / "logs.db", p->clock_));
  HPD_ASSIGN_OR_RETURN(p->events_, store::EventLog::Open(dir / store::EventLog::kFileName));
  Platform* raw = p.get();
  p->logs_->SetAppendObserver(
      [raw](const std::string& group, const std::string& stream, int64_t last_sequence) {
        if (engine::EventPublisher* publisher = raw->publisher_ptr_.load()) {
          publisher->NotifyLog(group, stream, last_sequence);
        }
      });
  HPD_ASSIGN_OR_RETURN(p->sandbox_,
                       sandbox::Account::Open(dir / "sandbox", p->clock_, o.time_scale));

  // The local ECS: the InfraForge task definition runs `hpdeploy sandbox infraforge`.
  StatusOr<engine::LocalTaskDefinitions> definitions = engine::LocalTaskDefinitions::Parse(
      LocalTaskDefinitionsText(),
      {{"hpdeploy", ExecutablePath()}, {"DataDir", std::filesystem::absolute(dir).string()}});
  if (!definitions.ok()) return definitions.status().WithContext("the local task definitions");
  engine::ContainerRunnerOptions runner;
  // ECS lives where the definitions' task definition ARN says (the built-in substitutions).
  StatusOr<std::string> ecs_region = SubstitutionArnField("InfraForgeTaskDefinitionArn", 3);
  if (!ecs_region.ok()) return ecs_region.status();
  StatusOr<std::string> ecs_account = SubstitutionArnField("InfraForgeTaskDefinitionArn", 4);
  if (!ecs_account.ok()) return ecs_account.status();
  runner.region = *ecs_region;
  runner.account_id = *ecs_account;
  runner.base_environment = engine::BaseEnvironmentFromProcess();
  runner.work_root = dir / "tasks";
  runner.task_definitions = std::move(*definitions);
  runner.objects = p->objects_.get();
  runner.logs = p->logs_.get();
  sandbox::Account* cloud = p->sandbox_.get();
  // RunTask answers ThrottlingException while the job's throttle fault lasts.
  runner.before_run_task = [cloud](const asl::TaskInvocation& task) -> Status {
    // The job and region a RunInfraForgeTask passes its container; any other shape is the
    // runner's to refuse.
    std::string job_id;
    std::string region;
    const json::object* parameters = task.parameters.if_object();
    const json::value* overrides = parameters ? parameters->if_contains("Overrides") : nullptr;
    const json::object* overrides_object = overrides ? overrides->if_object() : nullptr;
    const json::value* containers =
        overrides_object ? overrides_object->if_contains("ContainerOverrides") : nullptr;
    if (containers != nullptr && containers->is_array()) {
      for (const json::value& container : containers->get_array()) {
        const json::object* c = container.if_object();
        const json::value* environment = c ? c->if_contains("Environment") : nullptr;
        if (environment == nullptr || !environment->is_array()) continue;
        for (const json::value& entry : environment->get_array()) {
          const json::object* e = entry.if_object();
          const json::value* name = e ? e->if_contains("Name") : nullptr;
          const json::value* value = e ? e->if_contains("Value") : nullptr;
          if (name == nullptr || value == nullptr || !value->is_string()) continue;
          if (*name == "JOB_ID") job_id = std::string(value->get_string());
          if (*name == "AWS_REGION") region = std::string(value->get_string());
        }
      }
    }
    if (job_id.empty()) return Status::Ok();
    return cloud->ThrottleOperation(sandbox::CallContext{region, job_id}, "ecs:RunTask");
  };
  StatusOr<std::unique_ptr<engine::ContainerRunner>> created =
      engine::ContainerRunner::Create(std::move(runner), p->clock_);
  if (!created.ok()) return created.status();
  p->runner_ = std::move(*created);

  p->functions_ = std::make_unique<engine::LocalFunctions>(
      engine::LambdaEnvironment{"aws", o.region, o.account_id}, p->clock_);
  hyperpod::HandlerEnvironment handlers;
  handlers.presets = p->presets_.get();
  handlers.parameters = p->parameters_.get();
  handlers.objects = p->objects_.get();
  handlers.cloud = p->sandbox_.get();
  handlers.clock = &p->clock_;
  handlers.time_scale = o.time_scale;
  HPD_RETURN_IF_ERROR(hyperpod::RegisterHandlers(*p->functions_, handlers));
  if (o.extra_functions) HPD_RETURN_IF_ERROR(o.extra_functions(*p->functions_));

  engine::RuntimeOptions runtime;
  runtime.time_scale = o.time_scale;
  runtime.workers = o.workers;
  runtime.task_runners = {p->runner_.get()};
  runtime.on_commit = [raw](const std::vector<std::string>& execution_arns) {
    if (engine::EventPublisher* publisher = raw->publisher_ptr_.load()) {
      for (const std::string& arn : execution_arns) publisher->Notify(arn);
    }
  };
  StatusOr<std::unique_ptr<engine::Runtime>> opened =
      engine::Runtime::Open(*p->journal_, *p->functions_, p->clock_, runtime);
  if (!opened.ok()) return opened.status();
  p->runtime_ = std::move(*opened);
  engine::EventPublisherOptions publishing;
  publishing.region = o.region;
  publishing.account_id = o.account_id;
  publishing.tasks_root = dir / "tasks";
  publishing.domain_events = hyperpod::HyperPodDomainEvents;
  p->publisher_ = std::make_unique<engine::EventPublisher>(*p->events_, *p->journal_, *p->runtime_,
                                                           p->logs_.get(), p->clock_, publishing);
  p->publisher_ptr_.store(p->publisher_.get());
  HPD_RETURN_IF_ERROR(p->publisher_->Start());
  p->api_ = std::make_unique<server::StepFunctionsApi>(
      *p->journal_, *p->runtime_, p->clock_,
      server::StepFunctionsApiOptions{"aws", o.region, o.account_id});

  StatusOr<std::string> deployment = Substituted(DeploymentDefinitionText());
  if (!deployment.ok()) return deployment.status();
  StatusOr<std::string> teardown = Substituted(TeardownDefinitionText());
  if (!teardown.ok()) return teardown.status();
  HPD_RETURN_IF_ERROR(p->EnsureStateMachine(kDeploymentMachine, *deployment));
  HPD_RETURN_IF_ERROR(p->EnsureStateMachine(kTeardownMachine, *teardown));
  StatusOr<std::string> cancel = Substituted(CancelDefinitionText());
  if (!cancel.ok()) return cancel.status();
  HPD_RETURN_IF_ERROR(p->EnsureStateMachine(kCancelMachine, *cancel));
  return p;
}

Status Platform::EnsureStateMachine(std::string_view name, const std::string& definition) {
  json::object create{{"name", name},
                      {"definition", definition},
                      {"roleArn", "arn:aws:iam::" + options_.account_id + kRoleArnSuffix},
                      {"type", "STANDARD"}};
  StatusOr<json::object> created = Call("CreateStateMachine", create);
  if (created.ok()) return Status::Ok();
  if (created.status().error_name() != "StateMachineAlreadyExists") return created.status();
  // Another build's definition: this build's becomes the latest revision.
  StatusOr<json::object> updated =
      Call("UpdateStateMachine",
           json::object{{"stateMachineArn", MachineArn(name)}, {"definition", definition}});
  return updated.status();
}

StatusOr<json::object> Platform::Call(std::string_view action, const json::object& request) {
  std::promise<StatusOr<std::string>> answered;
  api_->Call(action, json::serialize(request),
             [&answered](StatusOr<std::string> reply) { answered.set_value(std::move(reply)); });
  StatusOr<std::string> reply = answered.get_future().get();
  if (!reply.ok()) return reply.status();
  StatusOr<json::value> parsed = ParseJson(*reply);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return InternalError("the Step Functions API answered a non-object");
  return std::move(parsed->as_object());
}

std::string StateMachineArn(std::string_view region, std::string_view account_id,
                            std::string_view name) {
  return "arn:aws:states:" + std::string(region) + ":" + std::string(account_id) +
         ":stateMachine:" + std::string(name);
}

std::string Platform::MachineArn(std::string_view name) const {
  return StateMachineArn(options_.region, options_.account_id, name);
}

std::string Platform::ExecutionArn(std::string_view machine, std::string_view name) const {
  return "arn:aws:states:" + options_.region + ":" + options_.account_id +
         ":execution:" + std::string(machine) + ":" + std::string(name);
}

// ---- PlatformView ----

PlatformView::~PlatformView() {
  runtime_.reset();
  journal_.reset();
}

StatusOr<std::unique_ptr<PlatformView>> PlatformView::Open(const std::filesystem::path& data_dir,
                                                           std::string region,
                                                           std::string account_id) {
  std::unique_ptr<PlatformView> v(new PlatformView());
  v->data_dir_ = data_dir;
  v->region_ = std::move(region);
  v->account_id_ = std::move(account_id);
  StatusOr<std::unique_ptr<store::Journal>> journal =
      store::Journal::OpenForReading(data_dir / "journal.db");
  if (!journal.ok()) {
    if (journal.status().code() == StatusCode::kNotFound) {
      return NotFoundError("no hpdeploy data in " + data_dir.string() +
                           " (no journal.db): pass the --data-dir of the deployment");
    }
    return journal.status();
  }
  v->journal_ = std::move(*journal);
  HPD_ASSIGN_OR_RETURN(v->parameters_,
                       store::ParameterStore::Open(data_dir / "parameters.db", v->clock_));
  HPD_ASSIGN_OR_RETURN(v->objects_, store::ObjectStore::Open(data_dir / "objects", v->clock_));
  HPD_ASSIGN_OR_RETURN(v->logs_, store::LogStore::Open(data_dir / "logs.db", v->clock_));
  v->functions_ = std::make_unique<engine::LocalFunctions>(
      engine::LambdaEnvironment{"aws", v->region_, v->account_id_}, v->clock_);
  engine::RuntimeOptions inspect;
  inspect.inspect_only = true;
  HPD_ASSIGN_OR_RETURN(v->runtime_,
                       engine::Runtime::Open(*v->journal_, *v->functions_, v->clock_, inspect));
  return v;
}

std::optional<store::ExecutionRow> PlatformView::Execution(const std::string& arn) const {
  StatusOr<std::optional<store::ExecutionRow>> row =
      journal_->ReadValue([&](store::JournalReader& r) { return r.GetExecution(arn); });
  if (!row.ok()) return std::nullopt;
  return std::move(*row);
}

StatusOr<std::shared_ptr<const std::vector<asl::HistoryEvent>>> PlatformView::History(
    const std::string& arn) const {
  return runtime_->ReplayHistory(arn);
}

std::string PlatformView::ExecutionArn(std::string_view machine, std::string_view name) const {
  return "arn:aws:states:" + region_ + ":" + account_id_ + ":execution:" + std::string(machine) +
         ":" + std::string(name);
}

}  // namespace hpd::cli
