// hpdeploy sandbox infraforge deploy|destroy: the simulated awslabs/InfraForge CLI that the
// embedded default runs in place of the real container, against the sandbox AWS account.
// Flags and environment are resolved here; the behaviour lives in sandbox/infraforge.h.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/json.h"
#include "sandbox/account.h"
#include "sandbox/faults.h"
#include "sandbox/infraforge.h"

namespace hpd::cli {
namespace {

struct InfraForgeFlags {
  std::string sandbox_dir;
  std::optional<double> time_scale;
};

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

// A killed deployment stops at once, leaving the stack as it is (the account lives in SQLite,
// whose journal makes an interrupted write harmless).
extern "C" void ExitOnSigterm(int) { _exit(143); }

int RunInfraForgeCommand(sandbox::InfraForgeCommand command, const InfraForgeFlags& flags) {
  std::signal(SIGTERM, ExitOnSigterm);
  sandbox::InfraForgeOptions options;
  options.command = command;
  options.sandbox_dir = flags.sandbox_dir.empty() ? Env("HPD_SANDBOX_DIR") : flags.sandbox_dir;
  std::error_code ec;
  options.working_dir = std::filesystem::current_path(ec);
  options.region = Env("AWS_REGION");
  if (options.region.empty()) options.region = Env("AWS_DEFAULT_REGION");
  options.job_id = Env("JOB_ID");
  options.time_scale = flags.time_scale;
  SystemClock clock;
  sandbox::SystemSleeper sleeper;
  return sandbox::RunInfraForge(options, clock, sleeper, std::cout, std::cerr);
}

struct ResourcesFlags {
  std::string sandbox_dir;
  std::string job_id;
  bool json = false;
};

// What the sandbox holds for a job (or for every job): its stacks and their live resources, as
// the Resource Groups Tagging API would list them.
int ListResources(const ResourcesFlags& flags) {
  const std::string dir = flags.sandbox_dir.empty() ? Env("HPD_SANDBOX_DIR") : flags.sandbox_dir;
  if (dir.empty() || !std::filesystem::exists(std::filesystem::path(dir) / "account.db")) {
    std::cerr << "hpdeploy sandbox resources: no sandbox account in '" << dir
              << "' (pass --sandbox-dir DATA_DIR/sandbox)\n";
    return kExitUsage;
  }
  SystemClock clock;
  StatusOr<std::unique_ptr<sandbox::Account>> account =
      sandbox::Account::Open(dir, clock, std::nullopt);
  if (!account.ok()) {
    std::cerr << "hpdeploy sandbox resources: " << account.status().message() << "\n";
    return kExitUsage;
  }
  StatusOr<std::vector<sandbox::TaggedResource>> resources =
      (*account)->GetResourcesForJob(sandbox::CallContext{"", ""}, flags.job_id);
  if (!resources.ok()) {
    std::cerr << "hpdeploy sandbox resources: " << resources.status().message() << "\n";
    return kExitFailure;
  }
  if (flags.json) {
    boost::json::array list;
    for (const sandbox::TaggedResource& r : *resources) {
      list.push_back(boost::json::object{{"id", r.arn_or_physical_id},
                                         {"type", r.type},
                                         {"logicalId", r.logical_id},
                                         {"stack", r.stack_name},
                                         {"region", r.region},
                                         {"status", r.status}});
    }
    std::cout << SerializeJsonPretty(boost::json::object{{"resources", std::move(list)}}) << "\n";
  } else {
    for (const sandbox::TaggedResource& r : *resources) {
      std::cout << r.region << "  " << r.stack_name << "  " << r.type << "  " << r.status << "  "
                << r.arn_or_physical_id << "\n";
    }
  }
  return kExitOk;
}

struct FaultsFlags {
  std::string sandbox_dir;
  std::string job_id;
  std::vector<std::string> faults;
};

// The existing sandbox account in `sandbox_dir` (or $HPD_SANDBOX_DIR), or null after saying why
// on stderr as `command`.
std::unique_ptr<sandbox::Account> OpenExistingAccount(const std::string& sandbox_dir,
                                                      const Clock& clock,
                                                      std::string_view command) {
  const std::string dir = sandbox_dir.empty() ? Env("HPD_SANDBOX_DIR") : sandbox_dir;
  if (dir.empty() || !std::filesystem::exists(std::filesystem::path(dir) / "account.db")) {
    std::cerr << "hpdeploy sandbox " << command << ": no sandbox account in '" << dir
              << "' (pass --sandbox-dir DATA_DIR/sandbox)\n";
    return nullptr;
  }
  StatusOr<std::unique_ptr<sandbox::Account>> account =
      sandbox::Account::Open(dir, clock, std::nullopt);
  if (!account.ok()) {
    std::cerr << "hpdeploy sandbox " << command << ": " << account.status().message() << "\n";
    return nullptr;
  }
  return std::move(*account);
}

// Replaces a job's faults (none: clears them), e.g. to let a failed teardown succeed when it is
// redriven.
int SetJobFaults(const FaultsFlags& flags) {
  StatusOr<sandbox::Faults> faults = sandbox::ParseFaults(flags.faults);
  if (!faults.ok()) {
    std::cerr << "hpdeploy sandbox faults: " << faults.status().message() << "\n";
    return kExitUsage;
  }
  SystemClock clock;
  std::unique_ptr<sandbox::Account> account =
      OpenExistingAccount(flags.sandbox_dir, clock, "faults");
  if (account == nullptr) return kExitUsage;
  if (Status status = account->SetFaults(flags.job_id, *faults); !status.ok()) {
    std::cerr << "hpdeploy sandbox faults: " << status.message() << "\n";
    return kExitFailure;
  }
  std::cout << "job " << flags.job_id << ": faults ";
  const std::vector<std::string> specs = sandbox::FaultSpecs(*faults);
  if (specs.empty()) std::cout << "none";
  for (const std::string& spec : specs) std::cout << spec << " ";
  std::cout << "\n";
  return kExitOk;
}

struct QuotasFlags {
  std::string sandbox_dir;
  std::string region;
  std::vector<std::string> assignments;  // NAME=VALUE
};

// Lists a region's SageMaker quotas, after setting those given (as an approved quota increase
// would).
int Quotas(const QuotasFlags& flags) {
  std::vector<std::pair<std::string, double>> updates;
  for (const std::string& assignment : flags.assignments) {
    const size_t equals = assignment.rfind('=');
    char* end = nullptr;
    const double value =
        equals == std::string::npos ? -1 : std::strtod(assignment.c_str() + equals + 1, &end);
    if (equals == std::string::npos || equals == 0 || end == assignment.c_str() + equals + 1 ||
        *end != '\0' || !(value >= 0)) {
      std::cerr << "hpdeploy sandbox quotas: --set must be QUOTA_NAME=VALUE with VALUE >= 0, got '"
                << assignment << "'\n";
      return kExitUsage;
    }
    updates.emplace_back(assignment.substr(0, equals), value);
  }
  SystemClock clock;
  std::unique_ptr<sandbox::Account> account =
      OpenExistingAccount(flags.sandbox_dir, clock, "quotas");
  if (account == nullptr) return kExitUsage;
  for (const auto& [name, value] : updates) {
    if (Status status = account->SetServiceQuota(flags.region, "sagemaker", name, value);
        !status.ok()) {
      std::cerr << "hpdeploy sandbox quotas: " << status.message() << "\n";
      return kExitFailure;
    }
  }
  StatusOr<std::vector<sandbox::ServiceQuota>> quotas =
      account->ListServiceQuotas(sandbox::CallContext{flags.region, ""}, "sagemaker");
  if (!quotas.ok()) {
    std::cerr << "hpdeploy sandbox quotas: " << quotas.status().message() << "\n";
    return kExitFailure;
  }
  for (const sandbox::ServiceQuota& quota : *quotas) {
    std::cout << quota.quota_code << "  " << quota.value << "  " << quota.quota_name << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterSandboxCommand(CLI::App& app, int* exit_code) {
  CLI::App* sandbox = app.add_subcommand(
      "sandbox", "Tools that work against the sandbox (a simulated AWS account in SQLite).");
  sandbox->require_subcommand(1);
  CLI::App* infraforge = sandbox->add_subcommand(
      "infraforge",
      "A simulated awslabs/InfraForge: reads ./config.json and deploys or destroys its stack in "
      "the sandbox account, printing CDK-like progress.");
  infraforge->require_subcommand(1);
  infraforge->footer(
      "Environment: HPD_SANDBOX_DIR (unless --sandbox-dir), AWS_REGION or AWS_DEFAULT_REGION "
      "(required), JOB_ID (optional: tags the stack perf-eval:jobId and selects the job's "
      "faults).\nFaults (set per job in the sandbox account):\n" +
      sandbox::FaultHelp() +
      "Exit codes: 0 deployed/destroyed, 1 config error or the stack failed, 2 no sandbox "
      "directory or an infraforge-crash panic, 143 SIGTERM.");
  auto resources = std::make_shared<ResourcesFlags>();
  CLI::App* resources_cmd = sandbox->add_subcommand(
      "resources",
      "List the live stacks and resources tagged for a job (perf-eval:jobId), as the Resource "
      "Groups Tagging API would: what a deployment created and what cleanup left");
  resources_cmd->add_option(
      "--sandbox-dir", resources->sandbox_dir,
      "The sandbox account's directory, DATA_DIR/sandbox (default: $HPD_SANDBOX_DIR)");
  resources_cmd->add_option("--job", resources->job_id, "The job id")->required();
  resources_cmd->add_flag("--json", resources->json, "Print JSON");
  resources_cmd->callback([resources, exit_code] { *exit_code = ListResources(*resources); });

  auto faults = std::make_shared<FaultsFlags>();
  CLI::App* faults_cmd = sandbox->add_subcommand(
      "faults", "Replace a job's sandbox faults; without --fault, clear them");
  faults_cmd->add_option("--sandbox-dir", faults->sandbox_dir,
                         "The sandbox account's directory, DATA_DIR/sandbox (default: "
                         "$HPD_SANDBOX_DIR)");
  faults_cmd->add_option("--job", faults->job_id, "The job id")->required();
  faults_cmd->add_option("--fault", faults->faults,
                         "A fault (repeatable):\n" + sandbox::FaultHelp());
  faults_cmd->callback([faults, exit_code] { *exit_code = SetJobFaults(*faults); });

  auto quotas = std::make_shared<QuotasFlags>();
  CLI::App* quotas_cmd = sandbox->add_subcommand(
      "quotas",
      "List a region's SageMaker service quotas in the sandbox account; with --set, first change "
      "them (what an approved quota increase does), e.g. for load tests that run many clusters");
  quotas_cmd->add_option("--sandbox-dir", quotas->sandbox_dir,
                         "The sandbox account's directory, DATA_DIR/sandbox (default: "
                         "$HPD_SANDBOX_DIR)");
  quotas_cmd->add_option("--region", quotas->region, "The region")->required();
  quotas_cmd->add_option("--set", quotas->assignments,
                         "QUOTA_NAME=VALUE (repeatable), the name as listed, e.g. "
                         "'ml.g5.8xlarge for cluster usage=200'");
  quotas_cmd->callback([quotas, exit_code] { *exit_code = Quotas(*quotas); });

  auto flags = std::make_shared<InfraForgeFlags>();
  for (auto [name, command, help] :
       {std::tuple{"deploy", sandbox::InfraForgeCommand::kDeploy,
                   "Like deploy.sh: cdk deploy --require-approval=never; waits for the stack."},
        std::tuple{
            "destroy", sandbox::InfraForgeCommand::kDestroy,
            "Like destroy.sh with --force: deletes the stack and waits until it is gone."}}) {
    CLI::App* cmd = infraforge->add_subcommand(name, help);
    cmd->add_option("--sandbox-dir", flags->sandbox_dir,
                    "The sandbox account's directory (default: $HPD_SANDBOX_DIR)");
    cmd->add_option("--time-scale", flags->time_scale,
                    "Store this time scale in the account (real seconds per simulated second); "
                    "by default the one stored by whoever created the account (1.0 if none)")
        ->check(CLI::NonNegativeNumber);
    cmd->callback([flags, exit_code, command = command] {
      *exit_code = RunInfraForgeCommand(command, *flags);
    });
  }
}

}  // namespace hpd::cli
