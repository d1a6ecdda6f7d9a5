#include "hyperpod/handlers.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/json.h"
#include "common/rfc3339.h"
#include "common/utf8.h"
#include "hyperpod/deployment.h"
#include "hyperpod/guardrails.h"
#include "hyperpod/manifest.h"
#include "hyperpod/names.h"
#include "hyperpod/request.h"

namespace hpd::hyperpod {
namespace {

namespace json = boost::json;
using engine::LambdaContext;

Status Raise(std::string name, std::string message) {
  return Status(StatusCode::kFailedPrecondition, std::move(message)).SetErrorName(std::move(name));
}

// The handler's event is {"input": <the state's input>}.
const json::object& InputOf(const json::value& event) {
  static const json::object kEmpty;
  const json::object* outer = event.if_object();
  if (outer == nullptr) return kEmpty;
  const json::value* input = outer->if_contains("input");
  if (input == nullptr || !input->is_object()) return kEmpty;
  return input->get_object();
}

// The value at a path of object keys, or null.
const json::value* At(const json::object& root, std::initializer_list<std::string_view> path) {
  const json::object* current = &root;
  const json::value* found = nullptr;
  for (std::string_view key : path) {
    if (current == nullptr) return nullptr;
    found = current->if_contains(key);
    if (found == nullptr) return nullptr;
    current = found->if_object();
  }
  return found;
}

std::string StringAt(const json::object& root, std::initializer_list<std::string_view> path,
                     std::string fallback = "") {
  const json::value* found = At(root, path);
  if (found == nullptr || !found->is_string()) return fallback;
  return std::string(found->get_string());
}

// Waits `simulated_seconds` scaled by the environment's time scale on its clock; false when the
// invocation was cancelled first.
bool Pause(const HandlerEnvironment& env, const LambdaContext& context, double simulated_seconds) {
  const auto real = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(simulated_seconds * env.time_scale));
  if (real <= Duration::zero()) return !context.IsCancelled();
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool fired = false;
  };
  auto waiter = std::make_shared<Waiter>();
  // Const-cast: scheduling a timer does not change what the clock reports.
  Clock& clock = const_cast<Clock&>(*env.clock);
  const TimerId timer = clock.ScheduleAfter(real, [waiter] {
    std::lock_guard lock(waiter->mu);
    waiter->fired = true;
    waiter->cv.notify_all();
  });
  std::unique_lock lock(waiter->mu);
  while (!waiter->fired) {
    if (context.IsCancelled()) {
      lock.unlock();
      clock.Cancel(timer);
      return false;
    }
    waiter->cv.wait_for(lock, std::chrono::milliseconds(20));
  }
  return !context.IsCancelled();
}

bool IsThrottling(const Status& status) {
  return status.error_name() == "ThrottlingException" ||
         status.error_name() == "TooManyRequestsException" || status.error_name() == "Throttling";
}

// Calls the cloud as an AWS SDK does in its standard retry mode: a throttled call is retried
// with exponential backoff (0.5, 1, 2, 4 simulated seconds), at most five attempts in all.
template <typename Call>
auto WithRetries(const HandlerEnvironment& env, const LambdaContext& context, Call&& call)
    -> decltype(call()) {
  for (int attempt = 0;; ++attempt) {
    auto result = call();
    if (result.ok() || attempt >= 4 || !IsThrottling(result.status())) return result;
    if (!Pause(env, context, 0.5 * (1 << attempt))) return result;
  }
}

// Status-returning calls, made StatusOr so WithRetries handles both.
template <typename Call>
StatusOr<bool> AsStatusOr(Call&& call) {
  Status status = call();
  if (!status.ok()) return status;
  return true;
}

// The execution a handler runs for (the definitions pass $$.Execution.Id), or "".
std::string ExecutionOf(const json::value& event) {
  const json::object* outer = event.if_object();
  const json::value* arn = outer ? outer->if_contains("executionArn") : nullptr;
  return arn != nullptr && arn->is_string() ? std::string(arn->get_string()) : "";
}

sandbox::CallContext CloudContext(const json::object& input) {
  sandbox::CallContext context;
  context.region = StringAt(input, {"config", "region"});
  context.job_id = StringAt(input, {"jobId"});
  return context;
}

struct Artifacts {
  std::string bucket;
  std::string parameter_prefix;
  std::string job_id;

  std::string Key(std::string_view document) const { return job_id + "/" + std::string(document); }
  std::string Uri(std::string_view document) const {
    return "s3://" + bucket + "/" + Key(document);
  }
  std::string Parameter(std::string_view name) const {
    return parameter_prefix + "/" + job_id + "/" + std::string(name);
  }
};

Artifacts ArtifactsOf(const json::object& input) {
  Artifacts artifacts;
  artifacts.bucket = StringAt(input, {"artifacts", "configBucket"});
  artifacts.parameter_prefix = StringAt(input, {"artifacts", "parameterPrefix"});
  while (!artifacts.parameter_prefix.empty() && artifacts.parameter_prefix.back() == '/') {
    artifacts.parameter_prefix.pop_back();
  }
  artifacts.job_id = StringAt(input, {"jobId"});
  return artifacts;
}

// Which execution owns a job: the first PrepareDeploymentConfig writes
// s3://<bucket>/<jobId>/execution.json, and only that execution may clean up or record for the
// job. Another execution reusing the job id (a client retrying under a new name) must not
// destroy the first one's cluster.
enum class Ownership { kMine, kNobody, kOther };

struct Owner {
  Ownership ownership = Ownership::kNobody;
  std::string execution_arn;  // the owner, when there is one
};

Owner OwnerOf(const HandlerEnvironment& env, const Artifacts& artifacts,
              const std::string& execution_arn) {
  Owner owner;
  if (artifacts.bucket.empty() || artifacts.job_id.empty()) return owner;
  StatusOr<std::string> text =
      env.objects->Get(artifacts.bucket, artifacts.Key(kExecutionDocument));
  if (!text.ok()) return owner;
  StatusOr<json::value> parsed = ParseJson(*text);
  if (!parsed.ok() || !parsed->is_object()) return owner;
  owner.execution_arn = StringAt(parsed->get_object(), {"executionArn"});
  owner.ownership = owner.execution_arn == execution_arn ? Ownership::kMine : Ownership::kOther;
  return owner;
}

Status PutDocument(const HandlerEnvironment& env, const Artifacts& artifacts,
                   std::string_view document, const json::value& value) {
  StatusOr<std::string> etag = env.objects->Put(artifacts.bucket, artifacts.Key(document),
                                                SerializeJsonPretty(value), "application/json");
  if (!etag.ok()) return etag.status();
  return Status::Ok();
}

// Writes one parameter (overwriting), as PutParameter with Overwrite=true; honours the job's
// parameter-store fault.
Status PutParameter(const HandlerEnvironment& env, const sandbox::Faults& faults,
                    const std::string& name, std::string value) {
  if (faults.parameter_store_write_failure) {
    return Status(StatusCode::kUnavailable,
                  "An error occurred (InternalServerError) when calling the PutParameter "
                  "operation for " +
                      name + " (injected fault ssm-write-failure)")
        .SetErrorName("InternalServerError");
  }
  if (value.empty()) value = "-";  // SSM values are 1 to 4096 characters
  value = std::string(Utf8Prefix(value, 4096));
  StatusOr<int64_t> version = env.parameters->Put(name, value, "String", /*overwrite=*/true);
  if (!version.ok()) return version.status();
  return Status::Ok();
}

// ---- PrepareDeploymentConfig ----

StatusOr<QuotaSnapshot> FetchQuotas(const HandlerEnvironment& env, const LambdaContext& context,
                                    const sandbox::CallContext& cloud) {
  return WithRetries(env, context, [&] { return ReadQuotaSnapshot(*env.cloud, cloud); });
}

StatusOr<json::value> PrepareDeploymentConfig(const HandlerEnvironment& env,
                                              const json::value& event,
                                              const LambdaContext& context) {
  const json::object& input = InputOf(event);
  StatusOr<DeploymentRequest> request = ParseDeploymentRequest(json::value(input));
  if (!request.ok()) {
    return Raise("InvalidDeploymentRequest", std::string(request.status().message()));
  }
  const sandbox::CallContext cloud = CloudContext(input);
  QuotaSnapshot quotas;
  if (request->quota_checks) {
    StatusOr<QuotaSnapshot> fetched = FetchQuotas(env, context, cloud);
    if (!fetched.ok()) return fetched.status();
    quotas = std::move(*fetched);
  }
  const GuardrailReport report = Evaluate(*request, *env.presets, quotas);
  const Artifacts artifacts = ArtifactsOf(input);
  const json::value report_json = report.ToJson();
  auto failures = [&report] {
    std::string message = "Guardrails failed:";
    for (const GuardrailCheck& check : report.checks) {
      if (check.status == CheckStatus::kFail) message += " [" + check.id + "] " + check.message;
    }
    return message;
  };
  // Nowhere to write the report (the name.bucket or name.parameter guardrail says why).
  if (!store::ValidateBucketName(artifacts.bucket).ok() || !ValidateJobId(artifacts.job_id).ok()) {
    return Raise("GuardrailViolation", failures());
  }
  const std::string execution_arn = ExecutionOf(event);
  const Owner owner = OwnerOf(env, artifacts, execution_arn);
  if (owner.ownership == Ownership::kOther) {
    return Raise("JobAlreadyExists", "Job " + artifacts.job_id + " belongs to execution " +
                                         owner.execution_arn + "; a job id names one deployment");
  }
  if (owner.ownership == Ownership::kNobody) {
    Status status =
        PutDocument(env, artifacts, kExecutionDocument,
                    json::object{{"executionArn", execution_arn},
                                 {"jobId", artifacts.job_id},
                                 {"createdAt", FormatRfc3339Millis(env.clock->WallNow())}});
    if (!status.ok()) return status;
  }
  if (Status status = PutDocument(env, artifacts, kGuardrailsDocument, report_json); !status.ok()) {
    return status;
  }
  if (!report.passed) return Raise("GuardrailViolation", failures());
  StatusOr<ResolvedDeployment> resolved = Resolve(*request, *env.presets);
  if (!resolved.ok()) {
    return Raise("InvalidDeploymentRequest", std::string(resolved.status().message()));
  }
  const json::object manifest = BuildManifest(*resolved);
  if (Status status = PutDocument(env, artifacts, kConfigDocument, manifest); !status.ok()) {
    return status;
  }
  return json::value(json::object{
      {"configUri", artifacts.Uri(kConfigDocument)},
      {"guardrailsUri", artifacts.Uri(kGuardrailsDocument)},
      {"stackPrefix", resolved->names.stack},
      {"stackName", resolved->names.stack},
      {"clusterName", resolved->names.hyperpod_cluster},
      {"eksClusterName", resolved->names.eks_cluster},
      {"region", request->config.region},
      {"preset", resolved->preset.name},
      {"parameterPath", artifacts.parameter_prefix + "/" + artifacts.job_id},
      {"guardrails", report_json},
  });
}

// ---- PostDeploymentValidation ----

struct Validation {
  json::array checks;
  bool healthy = true;
  json::object outputs;

  void Check(std::string id, bool ok, std::string message) {
    checks.push_back(json::object{
        {"id", std::move(id)}, {"status", ok ? "PASS" : "FAIL"}, {"message", std::move(message)}});
    healthy = healthy && ok;
  }
};

bool EndsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// One look at everything the deployment must have; a call that fails is a failed check.
Validation ValidateOnce(const HandlerEnvironment& env, const LambdaContext& context,
                        const sandbox::CallContext& cloud, const json::object& prepared) {
  Validation v;
  const std::string stack_name = StringAt(prepared, {"stackName"});
  const std::string cluster_name = StringAt(prepared, {"clusterName"});
  const std::string eks_name = StringAt(prepared, {"eksClusterName"});

  auto stack =
      WithRetries(env, context, [&] { return env.cloud->DescribeStack(cloud, stack_name); });
  if (!stack.ok()) {
    v.Check("stack.complete", false, std::string(stack.status().message()));
  } else {
    const bool complete = stack->status == "CREATE_COMPLETE" || stack->status == "UPDATE_COMPLETE";
    v.Check("stack.complete", complete, "Stack " + stack_name + " is " + stack->status);
    v.outputs["stackId"] = stack->stack_id;
    v.outputs["stackName"] = stack->name;
    json::object stack_outputs;
    for (const auto& [key, value] : stack->outputs) stack_outputs[key] = value;
    v.outputs["stackOutputs"] = std::move(stack_outputs);
  }

  auto cluster =
      WithRetries(env, context, [&] { return env.cloud->DescribeCluster(cloud, cluster_name); });
  if (!cluster.ok()) {
    v.Check("hyperpod.in-service", false, std::string(cluster.status().message()));
  } else {
    v.outputs["clusterArn"] = cluster->arn;
    v.outputs["clusterName"] = cluster->name;
    v.Check("hyperpod.in-service", cluster->status == "InService",
            "HyperPod cluster " + cluster_name + " is " + cluster->status);
    std::string degraded;
    for (const sandbox::InstanceGroup& group : cluster->instance_groups) {
      if (group.status != "InService" || group.current_count < group.target_count) {
        degraded += (degraded.empty() ? "" : ", ") + group.name + " (" + group.status + ", " +
                    std::to_string(group.current_count) + "/" + std::to_string(group.target_count) +
                    ")";
      }
    }
    v.Check("hyperpod.instance-groups", degraded.empty(),
            degraded.empty() ? "Every instance group is InService at its target count"
                             : "Instance groups not healthy: " + degraded);
    auto nodes =
        WithRetries(env, context, [&] { return env.cloud->ListClusterNodes(cloud, cluster_name); });
    if (!nodes.ok()) {
      v.Check("hyperpod.nodes", false, std::string(nodes.status().message()));
    } else {
      size_t running = 0;
      std::string failing;
      for (const sandbox::ClusterNode& node : *nodes) {
        if (node.status == "Running") {
          ++running;
        } else if (failing.size() < 512) {
          failing += (failing.empty() ? "" : ", ") + node.instance_id + " " + node.status +
                     (node.message.empty() ? "" : " (" + node.message + ")");
        }
      }
      v.Check("hyperpod.nodes", failing.empty(),
              failing.empty() ? std::to_string(running) + " nodes Running"
                              : "Nodes not Running: " + failing);
    }
  }

  auto eks =
      WithRetries(env, context, [&] { return env.cloud->DescribeEksCluster(cloud, eks_name); });
  std::string issuer;
  if (!eks.ok()) {
    v.Check("eks.active", false, std::string(eks.status().message()));
  } else {
    v.outputs["eksClusterName"] = eks->name;
    v.outputs["eksClusterArn"] = eks->arn;
    v.outputs["eksEndpoint"] = eks->endpoint;
    v.outputs["oidcIssuer"] = eks->oidc_issuer;
    issuer = eks->oidc_issuer;
    v.Check("eks.active", eks->status == "ACTIVE",
            "EKS cluster " + eks_name + " is " + eks->status);
  }

  // The provider's ARN ends with the issuer's host and path (AWS: list-open-id-connect-providers
  // | grep <id>).
  std::string issuer_suffix = issuer;
  if (const size_t scheme = issuer_suffix.find("://"); scheme != std::string::npos) {
    issuer_suffix = issuer_suffix.substr(scheme + 3);
  }
  auto providers =
      WithRetries(env, context, [&] { return env.cloud->ListOpenIDConnectProviders(cloud); });
  if (!providers.ok()) {
    v.Check("iam.oidc-provider", false, std::string(providers.status().message()));
  } else {
    std::string match;
    for (const std::string& arn : *providers) {
      if (!issuer_suffix.empty() && EndsWith(arn, "oidc-provider/" + issuer_suffix)) match = arn;
    }
    if (!match.empty()) v.outputs["oidcProviderArn"] = match;
    v.Check("iam.oidc-provider", !match.empty(),
            match.empty() ? "No IAM OIDC provider matches the cluster's issuer " + issuer
                          : "IAM OIDC provider " + match + " matches the cluster's issuer");
  }

  auto controller = WithRetries(env, context, [&] {
    return env.cloud->GetDeployment(cloud, eks_name, "kube-system", "aws-load-balancer-controller");
  });
  if (!controller.ok()) {
    v.Check("eks.load-balancer-controller", false, std::string(controller.status().message()));
  } else {
    const bool ready =
        controller->replicas > 0 && controller->ready_replicas == controller->replicas;
    v.Check("eks.load-balancer-controller", ready,
            "kube-system/aws-load-balancer-controller " +
                std::to_string(controller->ready_replicas) + "/" +
                std::to_string(controller->replicas) + " ready");
  }

  // The NLB is optional: InfraForge creates no LoadBalancer Service of its own.
  auto balancers =
      WithRetries(env, context, [&] { return env.cloud->DescribeLoadBalancers(cloud); });
  if (balancers.ok()) {
    for (const sandbox::LoadBalancer& balancer : *balancers) {
      auto tag = balancer.tags.find("elbv2.k8s.aws/cluster");
      if (balancer.type == "network" && tag != balancer.tags.end() && tag->second == eks_name) {
        v.outputs["nlbDnsName"] = balancer.dns_name;
        v.outputs["nlbArn"] = balancer.arn;
        break;
      }
    }
  }
  return v;
}

StatusOr<json::value> PostDeploymentValidation(const HandlerEnvironment& env,
                                               const json::value& event,
                                               const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const json::value* prepared = At(input, {"prepare", "result"});
  if (prepared == nullptr || !prepared->is_object()) {
    return Raise("InvalidDeploymentRequest", "The input has no prepare.result");
  }
  const sandbox::CallContext cloud = CloudContext(input);
  // A cluster can still be settling when the stack completes: look again every 15 simulated
  // seconds for up to 10 minutes before calling it unhealthy.
  constexpr int kLooks = 41;
  Validation last;
  for (int look = 0; look < kLooks; ++look) {
    last = ValidateOnce(env, context, cloud, prepared->get_object());
    if (last.healthy) break;
    if (look + 1 < kLooks && !Pause(env, context, 15)) {
      return Status(StatusCode::kCancelled, "cancelled").SetErrorName("Cancelled");
    }
  }
  if (!last.healthy) {
    std::string message = "The deployment is not healthy after 10 minutes:";
    for (const json::value& check : last.checks) {
      if (check.at("status") == "FAIL") {
        message += " [" + std::string(check.at("id").as_string()) + "] " +
                   std::string(check.at("message").as_string());
      }
    }
    return Raise("ClusterUnhealthy", std::move(message));
  }
  json::object result = std::move(last.outputs);
  result["checks"] = std::move(last.checks);
  return json::value(std::move(result));
}

// ---- PersistDeploymentOutputs ----

StatusOr<json::value> PersistDeploymentOutputs(const HandlerEnvironment& env,
                                               const json::value& event,
                                               const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const Artifacts artifacts = ArtifactsOf(input);
  const json::value* validated = At(input, {"validation", "result"});
  const json::value* prepared = At(input, {"prepare", "result"});
  if (validated == nullptr || !validated->is_object() || prepared == nullptr ||
      !prepared->is_object()) {
    return Raise("InvalidDeploymentRequest",
                 "The input has no validation.result or prepare.result");
  }
  const json::object& v = validated->get_object();
  const json::object& p = prepared->get_object();
  auto faults = env.cloud->FaultsFor(artifacts.job_id);
  if (!faults.ok()) return faults.status();

  // What the platform reads back: one parameter per output, under <prefix>/<jobId>/.
  json::object outputs;
  outputs["jobId"] = artifacts.job_id;
  outputs["status"] = "SUCCEEDED";
  outputs["region"] = StringAt(p, {"region"});
  outputs["preset"] = StringAt(p, {"preset"});
  for (const char* key : {"stackId", "stackName", "clusterArn", "clusterName", "eksClusterName",
                          "eksClusterArn", "eksEndpoint", "oidcProviderArn", "nlbDnsName"}) {
    if (const json::value* value = v.if_contains(key); value != nullptr && value->is_string()) {
      outputs[key] = *value;
    }
  }
  // The guardrail report: a summary (check id → status) as a parameter; the whole report in
  // the object store, since a standard parameter holds 4 KB.
  json::object summary;
  if (const json::value* report = At(p, {"guardrails", "checks"}); report && report->is_array()) {
    for (const json::value& check : report->get_array()) {
      if (const json::object* c = check.if_object()) {
        summary[StringAt(*c, {"id"})] = StringAt(*c, {"status"});
      }
    }
  }
  std::map<std::string, std::string> parameters;
  for (const auto& [key, value] : outputs) {
    if (value.is_string()) parameters[std::string(key)] = std::string(value.get_string());
  }
  parameters["guardrailReport"] = SerializeJson(summary);
  parameters["guardrailReportUri"] = StringAt(p, {"guardrailsUri"});
  parameters["configUri"] = StringAt(p, {"configUri"});
  parameters["outputsUri"] = artifacts.Uri(kOutputsDocument);
  parameters["completedAt"] = FormatRfc3339Millis(env.clock->WallNow());

  json::object document = outputs;
  document["parameterPath"] = artifacts.parameter_prefix + "/" + artifacts.job_id;
  document["outputsUri"] = artifacts.Uri(kOutputsDocument);
  document["configUri"] = StringAt(p, {"configUri"});
  document["guardrailsUri"] = StringAt(p, {"guardrailsUri"});
  document["guardrails"] = summary;
  if (const json::value* stack_outputs = v.if_contains("stackOutputs")) {
    document["stackOutputs"] = *stack_outputs;
  }
  document["completedAt"] = parameters["completedAt"];
  // The parameters first: outputs.json is what says a deployment succeeded (PrepareTeardown
  // reads it), so it is written last.
  for (const auto& [name, value] : parameters) {
    Status status = PutParameter(env, *faults, artifacts.Parameter(name), value);
    if (!status.ok()) return status;
  }
  if (Status status = PutDocument(env, artifacts, kOutputsDocument, document); !status.ok()) {
    return status;
  }
  (void)context;
  return json::value(std::move(document));
}

// ---- CleanupOnFailure ----

json::object ResourceJson(const sandbox::TaggedResource& resource) {
  return json::object{{"resource", resource.arn_or_physical_id},
                      {"type", resource.type},
                      {"logicalId", resource.logical_id},
                      {"stack", resource.stack_name},
                      {"status", resource.status}};
}

// Deletes every stack tagged for the job and waits for each to go (or fail to). Shared by
// CleanupOnFailure; never raises for what it cannot remove: it reports it.
StatusOr<json::value> DestroyJobResources(const HandlerEnvironment& env,
                                          const LambdaContext& context,
                                          const sandbox::CallContext& cloud) {
  auto before =
      WithRetries(env, context, [&] { return env.cloud->GetResourcesForJob(cloud, cloud.job_id); });
  if (!before.ok()) return before.status();
  // Each stack in its own region (the tagging API answers for every region).
  std::set<std::pair<std::string, std::string>> stacks;  // (region, name)
  for (const sandbox::TaggedResource& resource : *before) {
    stacks.emplace(resource.region.empty() ? cloud.region : resource.region, resource.stack_name);
  }
  json::array stack_results;
  for (const auto& [region, stack] : stacks) {
    const sandbox::CallContext where{region, cloud.job_id};
    auto deleted = WithRetries(env, context, [&] {
      return AsStatusOr([&] { return env.cloud->DeleteStack(where, stack); });
    });
    std::string final_status = deleted.ok() ? "DELETE_IN_PROGRESS" : "DELETE_FAILED";
    std::string reason = deleted.ok() ? "" : std::string(deleted.status().message());
    // Deleting an EKS + HyperPod stack takes a while: look every 15 simulated seconds, for up
    // to an hour.
    for (int look = 0; deleted.ok() && look < 240; ++look) {
      auto described =
          WithRetries(env, context, [&] { return env.cloud->DescribeStack(where, stack); });
      if (!described.ok()) {
        const bool gone = described.status().error_name() == "ValidationError" &&
                          described.status().message().find("does not exist") != std::string::npos;
        // DescribeStacks no longer knows it by name: deleted. Anything else: we cannot tell.
        final_status = gone ? "DELETE_COMPLETE" : "UNKNOWN";
        if (!gone) reason = std::string(described.status().message());
        break;
      }
      final_status = described->status;
      reason = described->status_reason;
      if (final_status == "DELETE_COMPLETE" || final_status == "DELETE_FAILED") break;
      if (!Pause(env, context, 15)) {
        return Status(StatusCode::kCancelled, "cancelled").SetErrorName("Cancelled");
      }
    }
    json::object entry{{"stack", stack}, {"region", region}, {"status", final_status}};
    if (!reason.empty()) entry["reason"] = reason;
    stack_results.push_back(std::move(entry));
  }
  auto after =
      WithRetries(env, context, [&] { return env.cloud->GetResourcesForJob(cloud, cloud.job_id); });
  if (!after.ok()) return after.status();
  std::set<std::string> left_ids;
  json::array left;
  // Why each one is left: its status reason in its stack.
  std::map<std::string, std::string> reasons;
  std::set<std::string> described;
  for (const sandbox::TaggedResource& resource : *after) {
    if (!described.insert(resource.stack_name).second) continue;
    auto stack = env.cloud->DescribeStack(
        sandbox::CallContext{resource.region.empty() ? cloud.region : resource.region,
                             cloud.job_id},
        resource.stack_name);
    if (!stack.ok()) continue;
    reasons[stack->stack_id] = stack->status_reason;
    for (const sandbox::StackResource& r : stack->resources) {
      reasons[r.physical_id] = r.status_reason;
    }
  }
  for (const sandbox::TaggedResource& resource : *after) {
    left_ids.insert(resource.arn_or_physical_id);
    json::object entry = ResourceJson(resource);
    entry["reason"] = reasons[resource.arn_or_physical_id];
    left.push_back(std::move(entry));
  }
  json::array removed;
  for (const sandbox::TaggedResource& resource : *before) {
    if (!left_ids.contains(resource.arn_or_physical_id)) removed.push_back(ResourceJson(resource));
  }
  const bool complete = left.empty();
  return json::value(json::object{{"complete", complete},
                                  {"stacks", std::move(stack_results)},
                                  {"removed", std::move(removed)},
                                  {"notRemoved", std::move(left)}});
}

StatusOr<json::value> CleanupOnFailure(const HandlerEnvironment& env, const json::value& event,
                                       const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const sandbox::CallContext cloud = CloudContext(input);
  if (cloud.job_id.empty() || cloud.region.empty()) {
    // Nothing can have been created for a request without a job id or region.
    return json::value(json::object{{"complete", true},
                                    {"stacks", json::array()},
                                    {"removed", json::array()},
                                    {"notRemoved", json::array()},
                                    {"note", "The request names no job or region"}});
  }
  const Owner owner = OwnerOf(env, ArtifactsOf(input), ExecutionOf(event));
  if (owner.ownership != Ownership::kMine) {
    // Nothing of this execution's exists: it failed before it owned the job, or the job is
    // another execution's, whose resources are not ours to destroy.
    return json::value(
        json::object{{"complete", true},
                     {"stacks", json::array()},
                     {"removed", json::array()},
                     {"notRemoved", json::array()},
                     {"note", owner.ownership == Ownership::kOther
                                  ? "Job " + cloud.job_id + " belongs to " + owner.execution_arn +
                                        "; nothing of this execution's to clean up"
                                  : "This execution created nothing for the job"}});
  }
  return DestroyJobResources(env, context, cloud);
}

// ---- RecordFailure ----

// The state that failed, from what the execution's input has gathered by the time of the Catch.
std::string FailedState(const json::object& input) {
  if (At(input, {"prepare"}) == nullptr) return "PrepareDeploymentConfig";
  if (At(input, {"infraforge"}) == nullptr) return "RunInfraForgeTask";
  if (At(input, {"validation"}) == nullptr) return "PostDeploymentValidation";
  return "PersistDeploymentOutputs";
}

// A failed job keeps only its failure: the outputs a PersistDeploymentOutputs that failed
// part-way wrote would read as a success.
void RemoveSuccessRecords(const HandlerEnvironment& env, const Artifacts& artifacts) {
  env.objects->Delete(artifacts.bucket, artifacts.Key(kOutputsDocument)).IgnoreError();
  std::optional<std::string> token;
  std::vector<std::string> names;
  do {
    StatusOr<store::ParameterPage> page = env.parameters->GetByPath(
        artifacts.parameter_prefix + "/" + artifacts.job_id, /*recursive=*/true, 10, token);
    if (!page.ok()) return;
    for (const store::Parameter& parameter : page->parameters) names.push_back(parameter.name);
    token = page->next_token;
  } while (token);
  for (const std::string& name : names) {
    if (name != artifacts.Parameter("status") && name != artifacts.Parameter("failure")) {
      env.parameters->Delete(name).IgnoreError();
    }
  }
}

StatusOr<json::value> RecordFailure(const HandlerEnvironment& env, const json::value& event,
                                    const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const Artifacts artifacts = ArtifactsOf(input);
  const Owner owner = OwnerOf(env, artifacts, ExecutionOf(event));
  if (owner.ownership == Ownership::kOther) {
    // The job's records are another execution's: this failure is told by this execution's own
    // history only.
    return json::value(
        json::object{{"jobId", artifacts.job_id},
                     {"failedState", FailedState(input)},
                     {"error", StringAt(input, {"error", "Error"})},
                     {"recordedIn", json::array()},
                     {"note", "Job " + artifacts.job_id + " belongs to " + owner.execution_arn +
                                  "; its records were left alone"}});
  }
  if (owner.ownership == Ownership::kMine) RemoveSuccessRecords(env, artifacts);
  json::object record;
  record["jobId"] = artifacts.job_id;
  record["status"] = "FAILED";
  record["failedState"] = FailedState(input);
  record["error"] = StringAt(input, {"error", "Error"});
  record["cause"] = StringAt(input, {"error", "Cause"});
  record["requestedBy"] = StringAt(input, {"requestedBy"});
  record["requestedAt"] = StringAt(input, {"requestedAt"});
  record["recordedAt"] = FormatRfc3339Millis(env.clock->WallNow());
  // Guardrail outcomes: from PrepareDeploymentConfig's result, or from the report it stored
  // before raising GuardrailViolation.
  if (const json::value* report = At(input, {"prepare", "result", "guardrails"})) {
    record["guardrails"] = *report;
  } else if (!artifacts.bucket.empty() && !artifacts.job_id.empty()) {
    StatusOr<std::string> stored =
        env.objects->Get(artifacts.bucket, artifacts.Key(kGuardrailsDocument));
    if (stored.ok()) {
      if (StatusOr<json::value> parsed = ParseJson(*stored); parsed.ok()) {
        record["guardrails"] = std::move(*parsed);
      }
    }
  }
  if (const json::value* cleanup = At(input, {"cleanup", "result"})) {
    record["cleanup"] = *cleanup;
  } else if (const json::value* cleanup_error = At(input, {"cleanupError"})) {
    record["cleanup"] = json::object{{"complete", false}, {"error", *cleanup_error}};
  }
  json::array recorded_in;
  json::object result;
  if (!artifacts.bucket.empty() && !artifacts.job_id.empty()) {
    Status status = PutDocument(env, artifacts, kFailureDocument, record);
    if (status.ok()) {
      recorded_in.push_back(json::string(artifacts.Uri(kFailureDocument)));
    } else {
      result["objectStoreError"] = std::string(status.message());
    }
  }
  if (!artifacts.parameter_prefix.empty() && !artifacts.job_id.empty()) {
    auto faults = env.cloud->FaultsFor(artifacts.job_id);
    sandbox::Faults none;
    const sandbox::Faults& applied = faults.ok() ? *faults : none;
    // A summary that fits a standard parameter; the whole record is failure.json.
    json::object summary{{"failedState", record["failedState"]},
                         {"error", record["error"]},
                         {"cause", std::string(Utf8Prefix(StringAt(record, {"cause"}), 2048))},
                         {"failureUri", artifacts.Uri(kFailureDocument)}};
    if (const json::value* cleanup = record.if_contains("cleanup")) {
      if (const json::object* c = cleanup->if_object()) {
        if (const json::value* complete = c->if_contains("complete")) {
          summary["cleanupComplete"] = *complete;
        }
      }
    }
    Status status = PutParameter(env, applied, artifacts.Parameter("status"), "FAILED");
    if (status.ok()) {
      status = PutParameter(env, applied, artifacts.Parameter("failure"), SerializeJson(summary));
    }
    if (status.ok()) {
      recorded_in.push_back(json::string(artifacts.parameter_prefix + "/" + artifacts.job_id));
    } else {
      result["parameterStoreError"] = std::string(status.message());
    }
  }
  (void)context;
  result["jobId"] = artifacts.job_id;
  result["failedState"] = record["failedState"];
  result["error"] = record["error"];
  result["recordedIn"] = std::move(recorded_in);
  if (const json::value* cleanup = record.if_contains("cleanup")) result["cleanup"] = *cleanup;
  return json::value(std::move(result));
}

// ---- Teardown ----

StatusOr<json::value> PrepareTeardown(const HandlerEnvironment& env, const json::value& event,
                                      const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const Artifacts artifacts = ArtifactsOf(input);
  if (artifacts.job_id.empty() || artifacts.bucket.empty()) {
    return Raise("InvalidDeploymentRequest", "A teardown needs jobId and artifacts.configBucket");
  }
  StatusOr<std::string> outputs =
      env.objects->Get(artifacts.bucket, artifacts.Key(kOutputsDocument));
  if (!outputs.ok()) {
    return Raise("DeploymentNotFound", "No succeeded deployment " + artifacts.job_id + " (" +
                                           artifacts.Uri(kOutputsDocument) + ": " +
                                           std::string(outputs.status().message()) + ")");
  }
  StatusOr<json::value> parsed = ParseJson(*outputs);
  if (!parsed.ok() || !parsed->is_object()) {
    return Raise("DeploymentNotFound", artifacts.Uri(kOutputsDocument) + " is not a JSON object");
  }
  const json::object& document = parsed->get_object();
  StatusOr<store::ObjectInfo> config =
      env.objects->Head(artifacts.bucket, artifacts.Key(kConfigDocument));
  if (!config.ok()) {
    return Raise("DeploymentNotFound", "The deployment's InfraForge config " +
                                           artifacts.Uri(kConfigDocument) + " is gone");
  }
  (void)context;
  return json::value(json::object{{"configUri", artifacts.Uri(kConfigDocument)},
                                  {"stackPrefix", StringAt(document, {"stackName"})},
                                  {"stackName", StringAt(document, {"stackName"})},
                                  {"region", StringAt(document, {"region"})},
                                  {"clusterName", StringAt(document, {"clusterName"})}});
}

StatusOr<json::value> FinalizeTeardown(const HandlerEnvironment& env, const json::value& event,
                                       const LambdaContext& context) {
  const json::object& input = InputOf(event);
  const Artifacts artifacts = ArtifactsOf(input);
  sandbox::CallContext cloud;
  cloud.region = StringAt(input, {"prepare", "result", "region"});
  cloud.job_id = artifacts.job_id;
  auto left =
      WithRetries(env, context, [&] { return env.cloud->GetResourcesForJob(cloud, cloud.job_id); });
  if (!left.ok()) return left.status();
  if (!left->empty()) {
    std::string message = "Resources still exist for the job after InfraForge destroy:";
    for (const sandbox::TaggedResource& resource : *left) {
      message +=
          " " + resource.arn_or_physical_id + " (" + resource.type + ", " + resource.status + ")";
    }
    return Raise("TeardownIncomplete", std::move(message));
  }
  // The parameters and documents the deployment wrote.
  int64_t parameters_removed = 0;
  std::optional<std::string> token;
  std::vector<std::string> names;
  do {
    StatusOr<store::ParameterPage> page = env.parameters->GetByPath(
        artifacts.parameter_prefix + "/" + artifacts.job_id, /*recursive=*/true, 10, token);
    if (!page.ok()) {
      if (page.status().code() == StatusCode::kNotFound) break;
      return page.status();
    }
    for (const store::Parameter& parameter : page->parameters) names.push_back(parameter.name);
    token = page->next_token;
  } while (token);
  for (const std::string& name : names) {
    Status status = env.parameters->Delete(name);
    if (status.ok()) {
      ++parameters_removed;
    } else if (status.code() != StatusCode::kNotFound) {
      return status;
    }
  }
  json::array objects_removed;
  for (const char* document : {kOutputsDocument, kGuardrailsDocument, kConfigDocument,
                               kFailureDocument, kExecutionDocument}) {
    if (!env.objects->Head(artifacts.bucket, artifacts.Key(document)).ok()) continue;
    if (Status status = env.objects->Delete(artifacts.bucket, artifacts.Key(document));
        !status.ok()) {
      return status;
    }
    objects_removed.push_back(json::string(artifacts.Uri(document)));
  }
  return json::value(
      json::object{{"jobId", artifacts.job_id},
                   {"status", "TORN_DOWN"},
                   {"stackName", StringAt(input, {"prepare", "result", "stackName"})},
                   {"parametersRemoved", parameters_removed},
                   {"objectsRemoved", std::move(objects_removed)},
                   {"tornDownAt", FormatRfc3339Millis(env.clock->WallNow())}});
}

using Body = StatusOr<json::value> (*)(const HandlerEnvironment&, const json::value&,
                                       const LambdaContext&);

}  // namespace

Status RegisterHandlers(engine::LocalFunctions& functions, const HandlerEnvironment& environment) {
  const std::pair<const char*, Body> kHandlers[] = {
      {kPrepareDeploymentConfig, &PrepareDeploymentConfig},
      {kPostDeploymentValidation, &PostDeploymentValidation},
      {kPersistDeploymentOutputs, &PersistDeploymentOutputs},
      {kCleanupOnFailure, &CleanupOnFailure},
      {kRecordFailure, &RecordFailure},
      {kPrepareTeardown, &PrepareTeardown},
      {kFinalizeTeardown, &FinalizeTeardown},
  };
  for (const auto& [name, body] : kHandlers) {
    Status status = functions.Register(
        name, [environment, body = body](const json::value& event, const LambdaContext& context) {
          return body(environment, event, context);
        });
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

StatusOr<QuotaSnapshot> ReadQuotaSnapshot(sandbox::Account& cloud,
                                          const sandbox::CallContext& context) {
  QuotaSnapshot snapshot;
  auto quotas = cloud.ListServiceQuotas(context, "sagemaker");
  if (!quotas.ok()) return quotas.status();
  for (const sandbox::ServiceQuota& quota : *quotas) {
    snapshot.quotas_by_name[quota.quota_name] = quota.value;
  }
  auto usage = cloud.GetHyperPodUsage(context);
  if (!usage.ok()) return usage.status();
  for (const auto& [type, count] : usage->by_instance_type) {
    snapshot.usage_by_type[type] = static_cast<int>(count);
  }
  snapshot.total_usage = static_cast<int>(usage->total);
  snapshot.available = true;
  return snapshot;
}

}  // namespace hpd::hyperpod
