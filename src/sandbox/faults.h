// Injectable failures of the sandbox AWS account, chosen per job ("--fault insufficient-capacity").
//
// A job's faults are stored in the account database (Account::SetFaults) so that every process
// driving the account -- the engine's task handlers and a simulated InfraForge child -- sees the
// same ones. What each fault does is stated on its field.
#ifndef HPD_SANDBOX_FAULTS_H_
#define HPD_SANDBOX_FAULTS_H_

#include <string>
#include <vector>

#include "common/status.h"

namespace hpd::sandbox {

struct Faults {
  // "quota-exhausted": ListServiceQuotas called for this job reports the HyperPod total-instances
  // quota equal to the current usage (no headroom) and every per-type cluster quota as 0.
  bool quota_exhausted = false;
  // "insufficient-capacity": the stack's AWS::SageMaker::Cluster fails (CREATE_FAILED), the stack
  // rolls back (completed resources deleted in reverse order) and ends ROLLBACK_COMPLETE.
  bool insufficient_capacity = false;
  // "infraforge-crash": once about half of the stack's resources are complete, creation stops:
  // in-progress resources and the stack go CREATE_FAILED ("Resource creation cancelled"), completed
  // ones stay, the rest never start. The simulated InfraForge process exits 2.
  bool infraforge_crash = false;
  // "deploy-hang": the AWS::EKS::Cluster resource never completes until the stack is deleted.
  bool deploy_hang = false;
  // "cluster-unhealthy": the stack completes, but the HyperPod cluster's first instance group is
  // Degraded with CurrentCount < TargetCount and its nodes in Failure.
  bool cluster_unhealthy = false;
  // "throttle" / "throttle=N" (N in 1..10, default 2): the first N account calls made for this job
  // fail with ThrottlingException (kUnavailable), and so do its first N ECS RunTask calls
  // (Account::ThrottleOperation). Counted in the database, so it survives restarts.
  int throttle_calls = 0;
  // "ssm-write-failure": not applied by the account; handlers read it and fail their
  // parameter-store writes.
  bool parameter_store_write_failure = false;
  // "cleanup-failure": deleting the job's stack fails on its FSx file system (or, without one, the
  // last-created resource): DELETE_FAILED, the stack ends DELETE_FAILED and that resource stays.
  bool cleanup_failure = false;

  friend bool operator==(const Faults&, const Faults&) = default;
};

// Parses fault specs such as {"insufficient-capacity", "throttle=3"}. kInvalidArgument naming the
// bad spec and listing the known ones. An empty list gives no faults; repeats are harmless.
[[nodiscard]] StatusOr<Faults> ParseFaults(const std::vector<std::string>& specs);

// The specs that ParseFaults turns back into `faults` ("throttle=N" always with its N).
std::vector<std::string> FaultSpecs(const Faults& faults);

// One line per fault, "  name  what it does", for --help texts.
std::string FaultHelp();

}  // namespace hpd::sandbox

#endif  // HPD_SANDBOX_FAULTS_H_
