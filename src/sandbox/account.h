// A simulated AWS account, persisted in SQLite, for running the HyperPod deployment pipeline end to
// end without a cloud: CloudFormation stacks whose resources progress over simulated time, and the
// views derived from them (SageMaker HyperPod, EKS, IAM OIDC providers, the load balancer
// controller's Kubernetes deployment, ELBv2 load balancers, Service Quotas, tagging).
//
// Time. Every simulated duration (a ResourceSpec's create_seconds, say 570 s for an EKS cluster)
// elapses as duration x time_scale of clock time. Progress is computed lazily: each call first
// materialises every transition whose computed time has passed, stamping each event with its
// computed time, not with "now". The state is therefore a pure function of what was created, the
// faults in force when it was created or deleted, and the current time -- it survives restarts of
// any process and does not depend on how often anyone looks.
//
// Processes. All state lives in <dir>/account.db (WAL, busy_timeout 10 s); every call runs in one
// BEGIN IMMEDIATE transaction, so several Account objects -- in this process or in others, e.g. a
// simulated InfraForge child -- may drive the same directory concurrently.
//
// Errors carry the AWS error code as Status::error_name(): ValidationError, AlreadyExistsException,
// ResourceNotFound (SageMaker), ResourceNotFoundException (EKS), NotFound (Kubernetes),
// ThrottlingException (kUnavailable, under the throttle fault), NoSuchResourceException. Database
// failures come back as kUnavailable/kInternal without an error name.
//
// Thread-safe: calls on one Account are serialised by an internal mutex.
#ifndef HPD_SANDBOX_ACCOUNT_H_
#define HPD_SANDBOX_ACCOUNT_H_

#include <boost/json/object.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/service_quotas.h"
#include "common/status.h"
#include "sandbox/faults.h"

namespace hpd::store {
class Database;
}

namespace hpd::sandbox {

struct AccountOptions {
  double time_scale = 1.0;
  std::string account_id = "123456789012";
};

// Who is calling: region scopes resources (and appears in ARNs); job_id selects the job's faults
// ("" = none).
struct CallContext {
  std::string region;
  std::string job_id;
};

// --- CloudFormation -----------------------------------------------------------------------------

struct ResourceSpec {
  std::string logical_id;
  std::string type;  // "AWS::EC2::VPC", "AWS::EKS::Cluster", "AWS::SageMaker::Cluster", ...
  boost::json::object properties;
  std::vector<std::string> depends_on;  // logical ids in the same template
  double create_seconds = 0;            // simulated
  double delete_seconds = 0;            // simulated
};

// A stack output: the resource's attribute (generated per type at creation: Arn, Name, Endpoint,
// OpenIdConnectIssuerUrl, DNSName, ClusterArn, ClusterName, ...), or its physical id when
// attribute is "" or "Ref".
struct OutputSpec {
  std::string key;
  std::string logical_id;
  std::string attribute;
};

struct StackTemplate {
  std::string name;
  std::map<std::string, std::string> tags;
  std::vector<ResourceSpec> resources;
  std::vector<OutputSpec> outputs;
};

struct StackResource {
  std::string logical_id;
  std::string physical_id;  // "" until the resource starts creating
  std::string type;
  std::string status;  // "" (not started), CREATE_IN_PROGRESS, ..., DELETE_COMPLETE
  std::string status_reason;
};

struct Stack {
  std::string stack_id;  // arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
  std::string name;
  std::string status;
  std::string status_reason;
  std::map<std::string, std::string> tags;
  WallTime created;
  WallTime last_updated;
  std::map<std::string, std::string> outputs;  // only once CREATE_COMPLETE
  std::vector<StackResource> resources;        // template order
};

struct StackSummary {
  std::string stack_id;
  std::string name;
  std::string status;
  std::string status_reason;
  WallTime created;
};

struct StackEvent {
  int64_t sequence = 0;  // increasing across the account; use as DescribeStackEvents' cursor
  WallTime time;
  std::string stack_id;
  std::string stack_name;
  std::string logical_id;  // the stack name for the stack's own events
  std::string physical_id;
  std::string type;  // AWS::CloudFormation::Stack for the stack's own events
  std::string status;
  std::string reason;
};

// --- Derived service views ----------------------------------------------------------------------

struct InstanceGroup {
  std::string name;
  std::string instance_type;
  int64_t current_count = 0;
  int64_t target_count = 0;
  std::string status;  // Creating, InService, Degraded, Deleting, Failed
};

struct HyperPodCluster {
  std::string arn;
  std::string name;
  std::string status;  // Creating, InService, Deleting, Failed
  std::string failure_message;
  WallTime created;
  std::string eks_cluster_arn;  // "" without an EKS orchestrator
  std::vector<InstanceGroup> instance_groups;
};

struct ClusterNode {
  std::string instance_id;  // i-<17 hex>
  std::string instance_group_name;
  std::string instance_type;
  std::string status;  // Running, Pending, Failure
  std::string message;
  WallTime launch_time;
};

struct ClusterSummary {
  std::string arn;
  std::string name;
  std::string status;
  WallTime created;
};

struct EksCluster {
  std::string name;
  std::string arn;
  std::string status;  // CREATING, ACTIVE, DELETING, FAILED
  std::string version;
  std::string endpoint;
  std::string oidc_issuer;
  WallTime created;
};

struct Deployment {
  std::string namespace_name;
  std::string name;
  int64_t replicas = 0;
  int64_t ready_replicas = 0;
  std::string service_account_role_arn;
};

struct LoadBalancer {
  std::string arn;
  std::string name;
  std::string dns_name;
  std::string type;    // network
  std::string scheme;  // internal, internet-facing
  std::string state;   // provisioning, active
  std::map<std::string, std::string> tags;
};

struct ServiceQuota {
  std::string service_code;
  std::string quota_code;
  std::string quota_name;
  double value = 0;
  std::string unit;
  bool adjustable = true;
};

struct HyperPodUsage {
  std::map<std::string, int64_t> by_instance_type;  // "ml.g5.8xlarge" -> summed CurrentCount
  int64_t total = 0;
};

struct TaggedResource {
  std::string arn_or_physical_id;
  std::string type;
  std::string logical_id;
  std::string stack_name;
  std::string region;
  std::string status;
};

// Quota names, as Service Quotas spells them: common/service_quotas.h.

// The tag that ties a stack to a pipeline job.
inline constexpr std::string_view kJobTag = "perf-eval:jobId";

class Account {
 public:
  // Opens (creating) <dir>/account.db. With `options`/`time_scale`, the time scale (and account
  // id) are stored for every later opener; without (e.g. a child process), the stored ones are
  // used (defaults 1.0 and 123456789012). `clock` must outlive the Account. kInvalidArgument for a
  // negative or non-finite time scale; kUnavailable when the database cannot be opened.
  [[nodiscard]] static StatusOr<std::unique_ptr<Account>> Open(const std::filesystem::path& dir,
                                                               const Clock& clock,
                                                               std::optional<double> time_scale);
  [[nodiscard]] static StatusOr<std::unique_ptr<Account>> Open(const std::filesystem::path& dir,
                                                               const Clock& clock,
                                                               const AccountOptions& options);
  ~Account();
  Account(const Account&) = delete;
  Account& operator=(const Account&) = delete;

  double time_scale() const { return time_scale_; }
  const std::string& account_id() const { return account_id_; }

  // Faults. Not throttled. SetFaults replaces the job's faults and resets its throttle count.
  [[nodiscard]] Status SetFaults(std::string_view job_id, const Faults& faults);
  [[nodiscard]] StatusOr<Faults> FaultsFor(std::string_view job_id) const;
  // For services outside this account's API (ECS RunTask, run by the local container runner):
  // under the job's throttle fault, the first throttle_calls calls of `operation` answer
  // ThrottlingException, counted per job and operation (reset by SetFaults).
  [[nodiscard]] Status ThrottleOperation(const CallContext& ctx, std::string_view operation);

  // CloudFormation. CreateStack: ValidationError for a bad name or template (unknown dependency,
  // cycle, duplicate logical id); AlreadyExistsException when a stack of that name in the region
  // is not DELETE_COMPLETE. The stack is tagged with the template's tags; the job's faults at this
  // moment decide how creation goes.
  [[nodiscard]] StatusOr<Stack> CreateStack(const CallContext& ctx, const StackTemplate& tmpl);
  // By name (live stacks only) or stack id (also DELETE_COMPLETE ones). ValidationError "Stack
  // with id X does not exist".
  [[nodiscard]] StatusOr<Stack> DescribeStack(const CallContext& ctx, std::string_view name_or_id);
  // Events with sequence > after_sequence, oldest first, of the newest stack with that name (also
  // a deleted one) or with that id. ValidationError when there is none.
  [[nodiscard]] StatusOr<std::vector<StackEvent>> DescribeStackEvents(const CallContext& ctx,
                                                                      std::string_view name_or_id,
                                                                      int64_t after_sequence);
  // Idempotent: an absent or already deleting stack is OK. From CREATE_IN_PROGRESS the creation
  // is cancelled; from DELETE_FAILED the delete is retried. Resources are deleted in reverse
  // dependency order; the job's cleanup_failure fault at this moment applies.
  [[nodiscard]] Status DeleteStack(const CallContext& ctx, std::string_view name_or_id);
  // Live (not DELETE_COMPLETE) stacks in the region, oldest first.
  [[nodiscard]] StatusOr<std::vector<StackSummary>> ListStacks(const CallContext& ctx);

  // SageMaker HyperPod, from AWS::SageMaker::Cluster resources. ResourceNotFound when absent.
  [[nodiscard]] StatusOr<HyperPodCluster> DescribeCluster(const CallContext& ctx,
                                                          std::string_view name_or_arn);
  [[nodiscard]] StatusOr<std::vector<ClusterNode>> ListClusterNodes(const CallContext& ctx,
                                                                    std::string_view name_or_arn);
  [[nodiscard]] StatusOr<std::vector<ClusterSummary>> ListClusters(const CallContext& ctx);

  // EKS, from AWS::EKS::Cluster resources. ResourceNotFoundException when absent.
  [[nodiscard]] StatusOr<EksCluster> DescribeEksCluster(const CallContext& ctx,
                                                        std::string_view name);
  // IAM (global): ARNs of the OIDC providers made by Custom::AWSCDKOpenIdConnectProvider
  // resources, arn:aws:iam::<acct>:oidc-provider/oidc.eks.<r>.amazonaws.com/id/<ID>.
  [[nodiscard]] StatusOr<std::vector<std::string>> ListOpenIDConnectProviders(
      const CallContext& ctx);
  // Kubernetes through the EKS cluster's endpoint: a Deployment installed by a
  // Custom::AWSCDK-EKS-HelmChart (release name = deployment name): 0/2 ready while the chart
  // installs, 2/2 once complete. ResourceNotFoundException for an unknown or not ACTIVE cluster,
  // NotFound (kNotFound) for an unknown deployment.
  [[nodiscard]] StatusOr<Deployment> GetDeployment(const CallContext& ctx,
                                                   std::string_view eks_cluster_name,
                                                   std::string_view namespace_name,
                                                   std::string_view name);
  // ELBv2, from AWS::ElasticLoadBalancingV2::LoadBalancer resources (tags from their Tags).
  [[nodiscard]] StatusOr<std::vector<LoadBalancer>> DescribeLoadBalancers(const CallContext& ctx);

  // Service Quotas. Only "sagemaker" has quotas; another service code gives
  // NoSuchResourceException. Defaults are seeded per region on first use.
  [[nodiscard]] StatusOr<std::vector<ServiceQuota>> ListServiceQuotas(
      const CallContext& ctx, std::string_view service_code);
  // Sets (or adds) a quota's value by name. kInvalidArgument for a negative value.
  [[nodiscard]] Status SetServiceQuota(std::string_view region, std::string_view service_code,
                                       std::string_view quota_name, double value);
  // Summed CurrentCount of the region's HyperPod clusters, per instance type and in total.
  [[nodiscard]] StatusOr<HyperPodUsage> GetHyperPodUsage(const CallContext& ctx);

  // Resource Groups Tagging: every live stack tagged perf-eval:jobId=<job_id>, in any region, and
  // its resources that exist (CREATE_IN_PROGRESS, CREATE_COMPLETE, DELETE_IN_PROGRESS,
  // DELETE_FAILED). The stack itself comes first, type AWS::CloudFormation::Stack.
  [[nodiscard]] StatusOr<std::vector<TaggedResource>> GetResourcesForJob(const CallContext& ctx,
                                                                         std::string_view job_id);

 private:
  class Txn;
  Account(std::unique_ptr<store::Database> db, const Clock& clock, double time_scale,
          std::string account_id);

  // Runs `body` in one BEGIN IMMEDIATE transaction after the throttle check and Advance(now).
  template <typename T, typename F>
  StatusOr<T> Call(const CallContext* ctx, F&& body);

  const Clock& clock_;
  const double time_scale_;
  const std::string account_id_;
  mutable std::mutex mu_;
  std::unique_ptr<store::Database> db_;  // guarded by mu_
};

}  // namespace hpd::sandbox

#endif  // HPD_SANDBOX_ACCOUNT_H_
