// The HyperPod workflow's own events, beside the engine's (engine/event_publisher.h): what a
// deployment's states produced, published when they finish so that clients following a job see
// the guardrail report, the cleanup result, the failure record and the outputs without reading
// the object store.
//
// Source "hpdeploy.hyperpod"; every detail has executionArn, jobId and owner (the execution
// input's "jobId", and its "owner" or else "requestedBy"; null when absent). On the StateExited
// event of a state named:
//   PrepareDeploymentConfig   "HyperPod Guardrail Report"   {report}:
//   output.prepare.result.guardrails CleanupOnFailure          "HyperPod Cleanup Result" {cleanup}:
//   output.cleanup RecordFailure             "HyperPod Failure Record"     {failure}:
//   output.failureRecord PersistDeploymentOutputs  "HyperPod Deployment Outputs" {outputs}:
//   output.outputs FinalizeTeardown          "HyperPod Teardown Result"    {result}:
//   output.teardown, else the
//                                                            whole output
// where a value the definitions wrap as {"result": <the function's answer>} (their
// ResultSelector) is unwrapped; a state whose output lacks the member (a Catch exited it, or
// another machine keeps it elsewhere) gives no event. And when PrepareDeploymentConfig's task
// fails with GuardrailViolation, a "HyperPod Guardrail Report" rebuilt from the error (its
// message lists the failed checks as "[id] message"): {"passed": false, "partial": true,
// "checks": [{"id", "status": "FAIL", "message"}]}, since only the failed checks survive there.
//
// States are recognised by name, whatever the machine: the cancel-cleanup machine reuses
// CleanupOnFailure and RecordFailure.
#ifndef HPD_HYPERPOD_PROGRESS_EVENTS_H_
#define HPD_HYPERPOD_PROGRESS_EVENTS_H_

#include <vector>

#include <boost/json/object.hpp>

#include "asl/history.h"
#include "engine/event_publisher.h"

namespace hpd::hyperpod {

inline constexpr char kHyperPodEventSource[] = "hpdeploy.hyperpod";

// EventPublisherOptions::domain_events for the HyperPod workflows.
void HyperPodDomainEvents(const engine::ExecutionContext& execution, const asl::HistoryEvent& event,
                          std::vector<boost::json::object>& out);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_PROGRESS_EVENTS_H_
