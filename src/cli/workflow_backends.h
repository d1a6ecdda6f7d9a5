// The two WorkflowBackends of HyperPodService (hyperpod/service.h):
//   EmbeddedWorkflow       the Step Functions API of this process's Platform, called in-process;
//   StepFunctionsWorkflow  the Step Functions API of an endpoint over HTTP (AWS, or another
//                          `hpdeploy serve`), SigV4-signed by aws::SfnClient.
// Both speak the same actions with the same JSON, so the service cannot tell them apart.
#ifndef HPD_CLI_WORKFLOW_BACKENDS_H_
#define HPD_CLI_WORKFLOW_BACKENDS_H_

#include <memory>
#include <string>
#include <string_view>

#include "aws/sfn_client.h"
#include "cli/platform.h"
#include "hyperpod/service.h"

namespace hpd::cli {

class EmbeddedWorkflow final : public hyperpod::WorkflowBackend {
 public:
  explicit EmbeddedWorkflow(Platform& platform) : platform_(platform) {}
  StatusOr<boost::json::object> Call(std::string_view action,
                                     const boost::json::object& request) override {
    return platform_.Call(action, request);
  }
  std::string Describe() const override { return "embedded"; }

 private:
  Platform& platform_;
};

class StepFunctionsWorkflow final : public hyperpod::WorkflowBackend {
 public:
  StepFunctionsWorkflow(std::unique_ptr<aws::SfnClient> client, std::string endpoint)
      : client_(std::move(client)), endpoint_(std::move(endpoint)) {}
  StatusOr<boost::json::object> Call(std::string_view action,
                                     const boost::json::object& request) override {
    return client_->Call(action, request);
  }
  std::string Describe() const override { return "stepfunctions " + endpoint_; }

 private:
  std::unique_ptr<aws::SfnClient> client_;
  const std::string endpoint_;
};

}  // namespace hpd::cli

#endif  // HPD_CLI_WORKFLOW_BACKENDS_H_
