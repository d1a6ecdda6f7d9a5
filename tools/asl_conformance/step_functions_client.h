// A blocking client of the Step Functions API (AWS JSON 1.0 over HTTP/1.1), just enough for
// asl-conformance --endpoint: POST / with X-Amz-Target AWSStepFunctions.<Action>, signed with
// SigV4, on one kept-alive connection (libcurl).
#ifndef HPD_TOOLS_ASL_CONFORMANCE_STEP_FUNCTIONS_CLIENT_H_
#define HPD_TOOLS_ASL_CONFORMANCE_STEP_FUNCTIONS_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::conformance {

struct StepFunctionsEndpoint {
  std::string url;  // "http://127.0.0.1:8080" (a path, if any, is ignored: AWS JSON posts to /)
  // SigV4 credentials and scope. `hpdeploy serve` on loopback accepts any signed request; on
  // another address it verifies them against its --access-key list.
  std::string access_key_id = "hpdconf";
  std::string secret_access_key = "hpdconf";
  std::string region = "us-east-1";
};

// One connection's worth of client. Not thread-safe: give each thread its own. The clock (for
// the signature's date) must outlive the client.
class StepFunctionsClient {
 public:
  // kInvalidArgument for a URL that is not http://HOST[:PORT][/...]; kInternal if libcurl cannot
  // be initialised.
  static StatusOr<std::unique_ptr<StepFunctionsClient>> Create(StepFunctionsEndpoint endpoint,
                                                               const Clock& clock);
  ~StepFunctionsClient();
  StepFunctionsClient(const StepFunctionsClient&) = delete;
  StepFunctionsClient& operator=(const StepFunctionsClient&) = delete;

  // Calls `action` ("StartExecution") with `request` and returns the response body. An AWS error
  // answer comes back as a Status whose error_name() is the AWS error code (the part of __type
  // after '#') and whose message is AWS's; kUnavailable when the server cannot be reached or
  // answers something that is not an AWS JSON response. Either way the context names the action.
  StatusOr<boost::json::object> Call(std::string_view action, const boost::json::object& request);

 private:
  class Impl;
  explicit StepFunctionsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_STEP_FUNCTIONS_CLIENT_H_
