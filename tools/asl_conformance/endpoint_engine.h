// Runs conformance cases through a Step Functions API server (asl-conformance --endpoint), e.g.
// `hpdeploy serve --corpus-functions CASES_DIR --time-scale 0.01`: CreateStateMachine,
// StartExecution (StartSyncExecution for EXPRESS cases), DescribeExecution until the execution
// ends, GetExecutionHistory page by page. RunCase then normalises and compares the history as it
// does for an in-memory run.
//
// The server's clock is real (scaled by its --time-scale), so what the in-memory engine decides
// from its simulated clock is decided here by watching the history: an execution whose history
// has not grown for `idle` is waiting on a timer. A case expecting ABORTED is stopped then
// (StopExecution); one expecting UNFINISHED is read then, and stopped afterwards.
//
// Lambda functions: the corpus binds one placeholder to different handlers in different cases
// (<lambda_function_name> is id_function.py in one case and raise_exception.py in another), so
// a server serving the whole corpus at once cannot register them under their placeholders. It
// registers each as engine::CorpusServedName; the engine writes that name into
// the definition and input where the placeholder stood (as the test wrote the real function
// name), and the normaliser maps it back (NormalizeOptions::lambdas).
#ifndef HPD_TOOLS_ASL_CONFORMANCE_ENDPOINT_ENGINE_H_
#define HPD_TOOLS_ASL_CONFORMANCE_ENDPOINT_ENGINE_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>

#include "asl_conformance/runner.h"
#include "aws/sfn_client.h"
#include "common/clock.h"
#include "engine/corpus_functions.h"

namespace hpd::conformance {

struct EndpointEngineOptions {
  // Prefix of the state machine names: one per case, unique on the server across runs.
  std::string name_prefix = "sm-hpdconf";
  // How long the history must stay unchanged for a running execution to count as waiting.
  // Shorter than the server's shortest scaled wait, or an ABORTED case ends before it is stopped.
  std::chrono::milliseconds idle{100};
  // Longest real time one case may take, start to end.
  std::chrono::seconds case_timeout{120};
};

// Thread-compatible: one engine (and its client connection) per thread.
class EndpointEngine final : public CaseEngine {
 public:
  // `clock` (real) must outlive the engine.
  EndpointEngine(std::unique_ptr<aws::SfnClient> client, EndpointEngineOptions options,
                 const Clock& clock);

  StatusOr<ExecutionRun> Run(const CaseExecution& execution, RunIdentity& identity) override;

 private:
  struct Started;
  StatusOr<Started> Start(const CaseExecution& execution, const std::string& definition,
                          const std::string& input, RunIdentity& identity);
  // Waits until the execution is no longer RUNNING, or (stop_when_idle, unfinished) until its
  // history stops growing; returns its status then.
  StatusOr<std::string> AwaitStatus(const std::string& arn, const CaseExecution& execution,
                                    MonotonicTime deadline);
  StatusOr<std::string> DescribeStatus(const std::string& arn);
  Status Stop(const std::string& arn);
  // GetExecutionHistory, every page.
  StatusOr<boost::json::array> History(const std::string& arn);

  // Constant after construction.
  const std::unique_ptr<aws::SfnClient> client_;
  const EndpointEngineOptions options_;
  const Clock& clock_;

  size_t runs_ = 0;  // state machines created, for their names
};

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_ENDPOINT_ENGINE_H_
