// The Lambda functions the shared bench workloads call (../shared/bench/workloads/README.md,
// reference implementation ../shared/bench/aws-local-stepfunctions/handlers.cjs), as local
// functions registered under the last segment of the workloads' Resource ARNs:
//
//   name            behaviour
//   flaky           raises FlakyError ("attempt N failed") on the first two invocations with an
//                   event and returns {"ok": true, "n": <event.n>, "attempt": 3} on the third;
//                   the count starts again after a success
//   prepare         {"plan": "plan-<cluster>-<region>", "nodes": <nodes>, "ready": true}
//   run_task        raises TaskLaunchError ("could not start task") if failAt == "run_task", else
//                   {"taskId": "task-<cluster>-0001", "status": "RUNNING", "plan": <plan>,
//                    "ignored": [1, 2, 3]}
//   validate        raises ValidationError ("health check failed on <taskId>") if
//                   failAt == "validate", else {"healthy": true, "checkedNodes": <nodes>,
//                   "taskId": <taskId>}
//   persist         {"persisted": true, "key": "<cluster>/<taskId>", "healthy": <healthy>}
//   cleanup         {"cleaned": true, "cluster": <cluster>}
//   record_failure  {"recorded": true, "cluster": <cluster>, "error": <error>}
//
// <x> is the event's member x, left out of an object when the event lacks it; inside a string it
// is the text of a string member, the JSON of any other value, and "undefined" when missing, as
// the JavaScript template literals of the reference implementation produce it.
//
// The reference counts flaky attempts per Task state (one handler per state name); these
// functions are bound by function name, so flaky counts per distinct event instead: per value
// of the event's integer "n" when it has one (the workload's Tasks each send their own), else
// per whole event. A Task's retries send the same event (its effective input), so the two
// agree, and this one stays right when Tasks run concurrently.
#ifndef HPD_ENGINE_BENCH_FUNCTIONS_H_
#define HPD_ENGINE_BENCH_FUNCTIONS_H_

#include <span>
#include <string_view>

#include "common/status.h"
#include "engine/local_functions.h"

namespace hpd::engine {

struct LocalFunctionSummary {
  std::string_view name;
  std::string_view behaviour;  // one line, for --help
};

// Every bench function, in the order of the table above.
std::span<const LocalFunctionSummary> BenchFunctions();

// Registers every bench function under its name. Fails as LocalFunctions::Register does
// (kAlreadyExists if a name is taken); the functions registered before the failure stay.
// The functions are thread-safe.
[[nodiscard]] Status RegisterBenchFunctions(LocalFunctions& functions);

}  // namespace hpd::engine

#endif  // HPD_ENGINE_BENCH_FUNCTIONS_H_
