// Runs conformance cases and compares them with what AWS recorded: RunCase prepares a case
// (definition, real input, names), hands its execution to a CaseEngine, then normalises the
// history (normalize.h) and compares it, the same way whichever engine ran it. The in-memory
// engine drives asl::Execution with engine::InMemoryExecutor under a SimulatedClock, Lambda tasks
// through engine::LocalFunctions with the corpus's functions; endpoint_engine.h runs cases
// through a Step Functions API server.
#ifndef HPD_TOOLS_ASL_CONFORMANCE_RUNNER_H_
#define HPD_TOOLS_ASL_CONFORMANCE_RUNNER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "asl/definition.h"
#include "asl_conformance/conformance_case.h"
#include "common/clock.h"
#include "common/status.h"

namespace hpd::conformance {

// Who and where the execution runs. The names are chosen so that the normaliser's plain text
// replacements cannot hit anything else in a history (normalize.py replaces every occurrence),
// and the account is the corpus's own, so ARNs written into definitions stay as they are.
struct RunIdentity {
  std::string partition = "aws";
  std::string region = "us-east-1";
  std::string account = "111111111111";
  std::string state_machine_name = "sm-hpdconf";
  std::string execution_name = "ex-hpdconf";
  std::string role_arn = "arn:aws:iam::111111111111:role/hpd-conformance-role";
  // The instant the corpus's generated Wait inputs were made for ("now" in test_wait.*).
  WallTime start{};
  uint64_t random_seed = 1;
  // Guards: deliveries to the interpreter, and how far simulated time may jump ahead (a Wait of
  // 24855 days is an execution AWS had not finished either).
  size_t max_steps = 200'000;
  Duration horizon = std::chrono::hours(24 * 366);

  static RunIdentity Default();
  std::string StateMachineArn() const;
  std::string ExecutionArn(bool express) const;
};

struct ExecutionRun {
  boost::json::value history;  // {"events": [HistoryEventToJson...]}
  std::string status;          // asl::ExecutionStatusName
  bool finished = false;
  std::string stop_reason;                // when !finished: why the executor stopped
  std::vector<std::string> map_run_arns;  // from MapRunStarted events, in order
  // Lambda functions the engine ran under another name than the case's placeholder:
  // {name in the history, placeholder}, for NormalizeOptions::lambdas.
  std::vector<std::pair<std::string, std::string>> lambda_names;
};

// Runs `machine` on `input` to the end (or until it stalls, passes the horizon or the step
// limit). With `stop_when_idle`, the executor calls Stop the first time nothing is left to do
// without advancing time (how a test's StopExecution lands). `lambda_functions` is a case's
// "lambda_functions" (or null).
StatusOr<ExecutionRun> RunExecution(std::shared_ptr<const asl::StateMachine> machine,
                                    const boost::json::value& input, bool express,
                                    const boost::json::value& lambda_functions,
                                    const RunIdentity& identity, bool stop_when_idle);

// One case's execution, as RunCase prepared it for an engine.
struct CaseExecution {
  const ConformanceCase* c = nullptr;
  std::shared_ptr<const asl::StateMachine> machine;  // the case's definition, compiled
  std::string definition;                            // ... and as JSON text
  boost::json::value input;                          // the input the test really sent
  bool express = false;                              // EXPRESS: StartSyncExecution
  // The test stopped the execution (expected ABORTED): stop it the first time it has nothing to
  // do but wait.
  bool stop_when_idle = false;
  // AWS had not finished it (expected UNFINISHED): run it until it has nothing to do but wait.
  bool unfinished = false;
};

// Where a case's execution runs. Run may be called from one thread at a time per engine.
class CaseEngine {
 public:
  virtual ~CaseEngine() = default;
  // Runs `execution` under `identity`'s names; an engine that cannot choose them (a server
  // names its state machines' ARNs) updates `identity` to what it used, for the normaliser.
  // A non-OK status fails the case.
  virtual StatusOr<ExecutionRun> Run(const CaseExecution& execution, RunIdentity& identity) = 0;
};

// RunExecution on a fresh SimulatedClock for every case.
class InMemoryEngine final : public CaseEngine {
 public:
  StatusOr<ExecutionRun> Run(const CaseExecution& execution, RunIdentity& identity) override;
};

enum class Verdict { kPassed, kFailed, kSkipped };

struct CaseResult {
  Verdict verdict = Verdict::kFailed;
  std::string reason;             // kSkipped: why; kFailed: the first difference or the error
  std::vector<std::string> hard;  // "location: message", where AWS differs
  std::vector<std::string> soft;  // differences under the case's skip_verify_paths
  std::optional<boost::json::value> history;  // the raw history, when the case ran
};

// Parses, runs (on `engine`), normalises and compares one case.
CaseResult RunCase(const ConformanceCase& c, const RunIdentity& identity, CaseEngine& engine);
// The same on an InMemoryEngine.
CaseResult RunCase(const ConformanceCase& c, const RunIdentity& identity);

// The normalisation options for `c` run under `identity` (its regex_replacements, transformers,
// Parallel quirk, map-run ARNs).
StatusOr<NormalizeOptions> NormalizeOptionsFor(const ConformanceCase& c,
                                               const RunIdentity& identity,
                                               const std::vector<std::string>& map_run_arns);

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_RUNNER_H_
