// A simulated awslabs/InfraForge CLI against the sandbox account: `deploy` plays deploy.sh
// (`cdk deploy --app ./infraforge --force --require-approval=never`) and `destroy` plays destroy.sh
// run with `--force`.
//
// As InfraForge does, it reads only ./config.json from its working directory (global{stackName,
// description, dualStack}, enabledForges[] of instance ids, forges{vpc, lustre, eks, hyperpod}
// each {defaults, instances[]}; an instance's non-zero, non-empty fields override the defaults),
// "synthesises" one stack of realistic resources from it (VPC always; FSx for Lustre; EKS with
// nodegroup, OIDC provider and the load balancer controller chart; an internal NLB with
// enableHyperPodComponents; the AWS::SageMaker::Cluster), and follows its CloudFormation events,
// printing CDK-like progress. Simulated waits go through a Sleeper so tests never sleep.
#ifndef HPD_SANDBOX_INFRAFORGE_H_
#define HPD_SANDBOX_INFRAFORGE_H_

#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "sandbox/account.h"

namespace hpd::sandbox {

// Waits for real (SystemSleeper) or by advancing a simulated clock (tests).
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  virtual void Sleep(Duration duration) = 0;
};

class SystemSleeper final : public Sleeper {
 public:
  void Sleep(Duration duration) override;
};

enum class InfraForgeCommand { kDeploy, kDestroy };

struct InfraForgeOptions {
  InfraForgeCommand command = InfraForgeCommand::kDeploy;
  std::filesystem::path sandbox_dir;  // required: the account (see Account::Open)
  std::filesystem::path working_dir;  // where config.json is read from
  std::string region;                 // AWS_REGION, else AWS_DEFAULT_REGION; "" = none
  std::string job_id;                 // JOB_ID: tags the stack perf-eval:jobId, selects faults
  // Stored as the account's time scale when given (manual runs); otherwise the stored one is used.
  std::optional<double> time_scale;
};

// Exit codes, as the real tools give them.
inline constexpr int kInfraForgeOk = 0;
inline constexpr int kInfraForgeFailed = 1;  // config errors, stack failed, destroy failed
inline constexpr int kInfraForgeUsage = 2;   // no sandbox directory
inline constexpr int kInfraForgePanic = 2;   // the simulated Go binary panicked (infraforge-crash)

// The stack InfraForge would synthesise from `config_json`, plus what it printed while doing so
// ("Loaded configuration from config.json", "Error creating forge X: forge instance X not found"
// -- InfraForge prints forge errors and carries on without that forge). kInvalidArgument with
// InfraForge's "error parsing config: ..." text when the JSON does not parse or has the wrong
// shape, or for a stack name CDK would reject.
struct Synthesis {
  StackTemplate stack;
  std::vector<std::string> messages;
};
[[nodiscard]] StatusOr<Synthesis> SynthesizeInfraForge(std::string_view config_json,
                                                       std::string_view job_id);

// Runs deploy or destroy to completion and returns the process exit code. Progress goes to `out`
// (flushed per line), warnings and panics to `err`. Deploy: 0 on CREATE_COMPLETE (including "no
// changes"), 1 on a failed stack, 2 for the infraforge-crash panic; it waits forever under
// deploy-hang. Destroy: 0 when the stack is gone (or never existed), 1 on DELETE_FAILED.
int RunInfraForge(const InfraForgeOptions& options, const Clock& clock, Sleeper& sleeper,
                  std::ostream& out, std::ostream& err);

}  // namespace hpd::sandbox

#endif  // HPD_SANDBOX_INFRAFORGE_H_
