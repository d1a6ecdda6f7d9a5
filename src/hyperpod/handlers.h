// The HyperPod workflow's task handlers, as Lambda functions served in-process (LocalFunctions),
// under the names docs/hyperpod_step_function.asl.json and docs/hyperpod_teardown.asl.json give
// them through their ${...Function} placeholders:
//
//   PrepareDeploymentConfig   request → guardrail report + InfraForge manifest in the object store
//   PostDeploymentValidation  the stack's outputs → cluster, EKS, OIDC and LBC health; NLB DNS
//   PersistDeploymentOutputs  outputs → parameters under <prefix>/<jobId>/ + outputs.json
//   CleanupOnFailure          destroys what exists for the job; reports removed and left
//   RecordFailure             error, cause, guardrails and cleanup → failure.json + parameters
//   PrepareTeardown           a succeeded deployment's config → what InfraForge destroy needs
//   FinalizeTeardown          checks nothing is left, removes the job's parameters and documents
//
// Each receives the state's whole input as {"input": ...} (the definitions' Payload) and returns
// the JSON its state keeps under ResultPath. They raise (a non-OK Status whose error_name becomes
// the Lambda errorType) with names a Catch or an operator can act on: InvalidDeploymentRequest,
// GuardrailViolation, JobAlreadyExists, ClusterUnhealthy, DeploymentNotFound, TeardownIncomplete,
// and the cloud's own codes (ThrottlingException after the SDK-style retries are spent,
// InternalServerError from the parameter store).
//
// Every handler has outside effects (the object and parameter stores, the cloud), so none is
// local_only: the runtime runs them on its workers once the step that schedules them is
// durable, and they are written to be run again after a crash (writes overwrite, deletes
// tolerate what is gone).
#ifndef HPD_HYPERPOD_HANDLERS_H_
#define HPD_HYPERPOD_HANDLERS_H_

#include "common/clock.h"
#include "common/status.h"
#include "engine/local_functions.h"
#include "hyperpod/guardrails.h"
#include "hyperpod/presets.h"
#include "sandbox/account.h"
#include "store/object_store.h"
#include "store/parameter_store.h"

namespace hpd::hyperpod {

// What the handlers reach. Everything must outlive the LocalFunctions they are registered in.
struct HandlerEnvironment {
  const PresetCatalog* presets = nullptr;
  store::ParameterStore* parameters = nullptr;
  store::ObjectStore* objects = nullptr;
  sandbox::Account* cloud = nullptr;
  const Clock* clock = nullptr;
  // Simulated waits (polling the cloud) of d last d * time_scale of real time; 0 polls at once.
  double time_scale = 1.0;
};

// The function names, as registered.
inline constexpr char kPrepareDeploymentConfig[] = "PrepareDeploymentConfig";
inline constexpr char kPostDeploymentValidation[] = "PostDeploymentValidation";
inline constexpr char kPersistDeploymentOutputs[] = "PersistDeploymentOutputs";
inline constexpr char kCleanupOnFailure[] = "CleanupOnFailure";
inline constexpr char kRecordFailure[] = "RecordFailure";
inline constexpr char kPrepareTeardown[] = "PrepareTeardown";
inline constexpr char kFinalizeTeardown[] = "FinalizeTeardown";

// The sagemaker quotas and the account's HyperPod usage in `context`'s region, read once (no
// retries): what PrepareDeploymentConfig's quota guardrails compare, and what the platform's
// Validate shows before anything starts.
[[nodiscard]] StatusOr<QuotaSnapshot> ReadQuotaSnapshot(sandbox::Account& cloud,
                                                        const sandbox::CallContext& context);

// Registers the seven handlers. kAlreadyExists when a name is taken.
[[nodiscard]] Status RegisterHandlers(engine::LocalFunctions& functions,
                                      const HandlerEnvironment& environment);

// Where a job's documents live in the object store: s3://<configBucket>/<jobId>/<name>.
inline constexpr char kConfigDocument[] = "config.json";
inline constexpr char kGuardrailsDocument[] = "guardrails.json";
inline constexpr char kOutputsDocument[] = "outputs.json";
inline constexpr char kFailureDocument[] = "failure.json";
// {"executionArn", "jobId", "createdAt"}: the execution that owns the job. Only it may clean up
// or record for the job; another execution with the same jobId fails with JobAlreadyExists.
inline constexpr char kExecutionDocument[] = "execution.json";

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_HANDLERS_H_
