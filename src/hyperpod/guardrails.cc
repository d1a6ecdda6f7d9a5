#include "hyperpod/guardrails.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <boost/json/array.hpp>

#include "common/json.h"
#include "hyperpod/deployment.h"
#include "hyperpod/names.h"
#include "store/object_store.h"
#include "store/parameter_store.h"

namespace hpd::hyperpod {
namespace {

constexpr int64_t kMaxInstanceGroups = 100;
constexpr int64_t kMaxInstanceCount = 6758;
constexpr int64_t kMinEbsGb = 1;
constexpr int64_t kMaxEbsGb = 16384;

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// 4.0 -> "4", 2.5 -> "2.5".
std::string FormatNumber(double d) {
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<int64_t>(d));
  }
  return FormatDouble(d);
}

boost::json::array ToJsonArray(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const std::string& item : items) out.emplace_back(item);
  return out;
}

// Accumulates one check: the worst status wins, messages are joined.
class CheckBuilder {
 public:
  explicit CheckBuilder(std::string id) { check_.id = std::move(id); }

  CheckBuilder& Fail(std::string message) { return Add(CheckStatus::kFail, std::move(message)); }
  CheckBuilder& Warn(std::string message) { return Add(CheckStatus::kWarn, std::move(message)); }
  // Used only when nothing else was said.
  CheckBuilder& PassMessage(std::string message) {
    pass_message_ = std::move(message);
    return *this;
  }
  boost::json::object& details() { return check_.details; }

  GuardrailCheck Build() && {
    if (check_.message.empty()) check_.message = std::move(pass_message_);
    return std::move(check_);
  }

 private:
  CheckBuilder& Add(CheckStatus status, std::string message) {
    if (status > check_.status) check_.status = status;
    check_.message += (check_.message.empty() ? "" : " ") + message;
    return *this;
  }

  GuardrailCheck check_;
  std::string pass_message_;
};

GuardrailCheck FromStatus(std::string id, const Status& status, std::string pass_message,
                          std::string_view field, std::string_view value) {
  CheckBuilder check(std::move(id));
  check.details()[field] = value;
  if (!status.ok()) {
    std::string message(status.message());
    if (!message.empty() && message.back() != '.') message += '.';
    check.Fail(std::move(message));
    if (!status.error_name().empty()) check.details()["errorCode"] = status.error_name();
  }
  return std::move(check.PassMessage(std::move(pass_message))).Build();
}

GuardrailCheck NotEvaluated(std::string id, const std::string& preset) {
  CheckBuilder check(std::move(id));
  check.Warn("Not evaluated because preset " + Quoted(preset) + " is not known.");
  return std::move(check).Build();
}

GuardrailCheck CheckBucket(const DeploymentNames& names) {
  CheckBuilder check("name.bucket");
  check.details()["bucket"] = names.config_bucket;
  check.details()["key"] = names.config_key;
  for (const Status& status : {store::ValidateBucketName(names.config_bucket),
                               store::ValidateObjectKey(names.config_key)}) {
    if (status.ok()) continue;
    check.Fail(std::string(status.message()) + " (config object " + names.ConfigUri() + ").");
    check.details()["errorCode"] = status.error_name();
  }
  check.PassMessage("Config object " + names.ConfigUri() + " has a valid bucket name and key.");
  return std::move(check).Build();
}

GuardrailCheck CheckParameter(const DeploymentRequest& request, const DeploymentNames& names) {
  CheckBuilder check("name.parameter");
  const std::string probe = names.ParameterName(std::string(kMaxParameterLeafLength, 'k'));
  check.details()["path"] = names.parameter_path;
  check.details()["maxLeafLength"] = kMaxParameterLeafLength;
  check.details()["longestName"] = static_cast<int64_t>(probe.size());
  if (Status status = ValidateJobId(request.job_id); !status.ok()) {
    check.Fail(std::string(status.message()) + ".");
  }
  if (Status status = store::ValidateParameterName(names.parameter_path); !status.ok()) {
    check.Fail("Parameter path " + Quoted(names.parameter_path) + ": " +
               std::string(status.message()));
    check.details()["errorCode"] = status.error_name();
  } else if (Status probe_status = store::ValidateParameterName(probe); !probe_status.ok()) {
    check.Fail("A key of " + std::to_string(kMaxParameterLeafLength) + " characters under " +
               Quoted(names.parameter_path) + " would be an invalid parameter name (" +
               std::to_string(probe.size()) +
               " characters): " + std::string(probe_status.message()));
    check.details()["errorCode"] = probe_status.error_name();
  }
  check.PassMessage("Outputs under " + names.parameter_path + "/ have valid parameter names.");
  return std::move(check).Build();
}

GuardrailCheck CheckGroupNames(const Preset& preset) {
  CheckBuilder check("name.instance-group");
  std::vector<std::string> names;
  for (const InstanceGroupSpec& group : preset.instance_groups) {
    names.push_back(group.name);
    if (Status status = ValidateInstanceGroupName(group.name); !status.ok()) {
      check.Fail(std::string(status.message()) + ".");
    }
  }
  check.details()["groups"] = ToJsonArray(names);
  check.PassMessage("Instance group names (" + Join(names) + ") are valid.");
  return std::move(check).Build();
}

GuardrailCheck CheckRegion(const DeploymentRequest& request, const PresetCatalog& catalog) {
  CheckBuilder check("region.allowed");
  check.details()["region"] = request.config.region;
  if (!catalog.IsAllowedRegion(request.config.region)) {
    check.Fail("Region " + Quoted(request.config.region) +
               " is not one of the regions SageMaker HyperPod is offered in (" +
               Join(catalog.regions()) + ").");
    check.details()["allowed"] = ToJsonArray(catalog.regions());
  }
  check.PassMessage("Region " + request.config.region + " supports SageMaker HyperPod.");
  return std::move(check).Build();
}

GuardrailCheck CheckPresetKnown(const std::string& name, const PresetCatalog& catalog,
                                bool defaulted) {
  CheckBuilder check("preset.known");
  check.details()["preset"] = name;
  check.details()["defaulted"] = defaulted;
  if (catalog.Find(name) == nullptr) {
    check.Fail("Preset " + Quoted(name) + " is not known; known presets: " + Join(catalog.Names()) +
               ".");
    check.details()["known"] = ToJsonArray(catalog.Names());
  }
  check.PassMessage("Preset " + name + (defaulted ? " (the default)" : "") + " is known.");
  return std::move(check).Build();
}

GuardrailCheck CheckOverrides(const DeploymentRequest& request, const AppliedOverrides& applied) {
  CheckBuilder check("overrides.bounded");
  boost::json::array problems;
  for (const OverrideProblem& problem : applied.problems) {
    check.Fail(problem.message);
    problems.push_back(boost::json::object{{"key", problem.key}, {"message", problem.message}});
  }
  boost::json::object given;
  for (const auto& [key, value] : request.config.overrides) given[key] = OverrideValueToJson(value);
  check.details()["overrides"] = std::move(given);
  if (!problems.empty()) check.details()["problems"] = std::move(problems);
  check.PassMessage(request.config.overrides.empty()
                        ? "No overrides were requested."
                        : std::to_string(request.config.overrides.size()) +
                              " override(s) are known and within preset " +
                              Quoted(applied.preset.name) + "'s limits.");
  return std::move(check).Build();
}

GuardrailCheck CheckInstanceTypes(const Preset& preset) {
  CheckBuilder check("instance-types.allowed");
  const auto& allowed = preset.allowed_instance_types;
  for (const InstanceGroupSpec& group : preset.instance_groups) {
    if (std::find(allowed.begin(), allowed.end(), group.instance_type) == allowed.end()) {
      check.Fail("Instance group " + Quoted(group.name) + " uses " + group.instance_type +
                 ", which preset " + Quoted(preset.name) +
                 " does not allow (allowed: " + Join(allowed) + ").");
    }
  }
  check.details()["allowed"] = ToJsonArray(allowed);
  check.PassMessage("Every instance type is allowed by preset " + Quoted(preset.name) + ".");
  return std::move(check).Build();
}

GuardrailCheck CheckInstanceCount(const Preset& preset) {
  CheckBuilder check("instance-count");
  const auto groups = static_cast<int64_t>(preset.instance_groups.size());
  check.details()["groups"] = groups;
  if (groups < 1 || groups > kMaxInstanceGroups) {
    check.Fail("The deployment has " + std::to_string(groups) +
               " instance groups; a HyperPod cluster takes 1 to " +
               std::to_string(kMaxInstanceGroups) + ".");
  }
  int64_t total = 0;
  for (const InstanceGroupSpec& group : preset.instance_groups) {
    total += group.count;
    if (group.count < 0 || group.count > kMaxInstanceCount) {
      check.Fail("Instance group " + Quoted(group.name) + " asks for " +
                 std::to_string(group.count) + " instances; a group takes 0 to " +
                 std::to_string(kMaxInstanceCount) + ".");
    }
  }
  check.details()["totalInstances"] = total;
  check.PassMessage(std::to_string(total) + " instance(s) in " + std::to_string(groups) +
                    " group(s) are within HyperPod's limits.");
  return std::move(check).Build();
}

GuardrailCheck CheckEbs(const Preset& preset) {
  CheckBuilder check("ebs.size");
  for (const InstanceGroupSpec& group : preset.instance_groups) {
    if (group.ebs_volume_gb < kMinEbsGb || group.ebs_volume_gb > kMaxEbsGb) {
      check.Fail("Instance group " + Quoted(group.name) + " asks for an EBS volume of " +
                 std::to_string(group.ebs_volume_gb) + " GB; HyperPod takes 1 to " +
                 std::to_string(kMaxEbsGb) + " GB.");
    }
  }
  check.details()["maxGb"] = kMaxEbsGb;
  check.PassMessage("EBS volume sizes are within 1 to 16384 GB.");
  return std::move(check).Build();
}

GuardrailCheck CheckFsx(const Preset& preset) {
  CheckBuilder check("fsx.size");
  const FsxSpec& fsx = preset.fsx;
  check.details()["deploymentType"] = fsx.deployment_type;
  check.details()["storageGiB"] = fsx.storage_gib;
  check.details()["perUnitStorageThroughput"] = fsx.per_unit_storage_throughput;
  const bool known_type = fsx.deployment_type == "SCRATCH_2" ||
                          fsx.deployment_type == "PERSISTENT_1" ||
                          fsx.deployment_type == "PERSISTENT_2";
  if (!known_type) {
    check.Fail("FSx for Lustre deployment type " + Quoted(fsx.deployment_type) +
               " is not SCRATCH_2, PERSISTENT_1 or PERSISTENT_2.");
  }
  const int64_t size = fsx.storage_gib;
  if (!(size == 1200 || (size >= 2400 && size % 2400 == 0))) {
    check.Fail("FSx for Lustre storage of " + std::to_string(size) + " GiB is not valid for " +
               fsx.deployment_type + " SSD: it must be 1200, 2400 or a multiple of 2400 GiB.");
  }
  auto check_throughput = [&](const std::vector<int64_t>& allowed) {
    if (std::find(allowed.begin(), allowed.end(), fsx.per_unit_storage_throughput) ==
        allowed.end()) {
      std::vector<std::string> text;
      for (int64_t v : allowed) text.push_back(std::to_string(v));
      check.Fail(fsx.deployment_type + " throughput of " +
                 std::to_string(fsx.per_unit_storage_throughput) + " MB/s/TiB is not one of " +
                 Join(text) + ".");
    }
  };
  if (fsx.deployment_type == "PERSISTENT_1") check_throughput({50, 100, 200});
  if (fsx.deployment_type == "PERSISTENT_2") check_throughput({125, 250, 500, 1000});
  check.PassMessage("FSx for Lustre " + fsx.deployment_type + " of " + std::to_string(size) +
                    " GiB is a valid configuration.");
  return std::move(check).Build();
}

GuardrailCheck CheckExpressible(const Preset& preset) {
  CheckBuilder check("manifest.expressible");
  if (preset.instance_groups.size() > 1) {
    std::vector<std::string> names;
    for (const auto& group : preset.instance_groups) names.push_back(group.name);
    check.Fail("Preset " + Quoted(preset.name) + " has " +
               std::to_string(preset.instance_groups.size()) + " instance groups (" + Join(names) +
               "), but InfraForge's HyperPod forge creates exactly one group per cluster and a "
               "HyperPod cluster on EKS is one per EKS cluster; general-purpose capacity belongs "
               "in the preset's eks node group.");
  }
  for (const InstanceGroupSpec& group : preset.instance_groups) {
    if (!group.deep_health_checks.empty()) {
      check.Warn("Instance group " + Quoted(group.name) + " asks for deep health checks (" +
                 Join(group.deep_health_checks) +
                 "), which InfraForge's HyperPod forge cannot configure; they will not run "
                 "when nodes start.");
    }
  }
  check.PassMessage("InfraForge can express this deployment.");
  return std::move(check).Build();
}

GuardrailCheck CheckTimeout(const DeploymentRequest& request) {
  CheckBuilder check("timeout.bounded");
  const int64_t t = request.timeout_seconds;
  check.details()["timeoutSeconds"] = t;
  check.details()["min"] = kMinTimeoutSeconds;
  check.details()["max"] = kMaxTimeoutSeconds;
  if (t < kMinTimeoutSeconds) {
    check.Fail("timeoutSeconds " + std::to_string(t) + " is below the minimum of " +
               std::to_string(kMinTimeoutSeconds) +
               ": EKS, FSx for Lustre and HyperPod cannot all be created in that time.");
  } else if (t > kMaxTimeoutSeconds) {
    check.Fail("timeoutSeconds " + std::to_string(t) + " exceeds the maximum of " +
               std::to_string(kMaxTimeoutSeconds) + " (one day).");
  } else if (t < kShortTimeoutSeconds) {
    check.Warn("timeoutSeconds " + std::to_string(t) + " is under " +
               std::to_string(kShortTimeoutSeconds) +
               "; a deployment with a large FSx file system may not finish in time.");
  }
  check.PassMessage("timeoutSeconds " + std::to_string(t) + " is within " +
                    std::to_string(kMinTimeoutSeconds) + " to " +
                    std::to_string(kMaxTimeoutSeconds) + ".");
  return std::move(check).Build();
}

// Shared by the quota checks: WARN when quotas cannot or should not be checked. Returns true
// when the check may proceed.
bool QuotasUsable(const DeploymentRequest& request, const QuotaSnapshot& quotas,
                  CheckBuilder& check) {
  if (!request.quota_checks) {
    check.Warn(
        "Quota check skipped at the requester's request (guardrails.quotaChecks is "
        "false).");
    check.details()["skipped"] = true;
    return false;
  }
  if (!quotas.available) {
    check.Warn(
        "Service Quotas could not be read, so this quota was not checked; AWS will "
        "reject the deployment if it does not fit.");
    check.details()["unavailable"] = true;
    return false;
  }
  return true;
}

// Compares `requested` with quota - usage. `what` names the quantity in messages.
void CompareWithQuota(CheckBuilder& check, const QuotaSnapshot& quotas,
                      const std::string& quota_name, int64_t requested, int64_t usage,
                      bool warn_on_headroom, const std::string& what,
                      boost::json::object& details) {
  details["quotaName"] = quota_name;
  details["requested"] = requested;
  details["usage"] = usage;
  auto it = quotas.quotas_by_name.find(quota_name);
  if (it == quotas.quotas_by_name.end()) {
    check.Warn("Quota " + Quoted(quota_name) + " was not found for " + what +
               "; AWS applies its default, which could not be checked.");
    details["found"] = false;
    return;
  }
  const double quota = it->second;
  const double remaining = quota - static_cast<double>(usage);
  details["quota"] = quota;
  details["remaining"] = remaining;
  if (requested == 0) return;
  const auto wanted = static_cast<double>(requested);
  if (wanted > remaining) {
    check.Fail(what + ": " + std::to_string(requested) + " requested, but quota " +
               Quoted(quota_name) + " is " + FormatNumber(quota) + " with " +
               std::to_string(usage) + " in use, leaving " + FormatNumber(remaining) + ".");
  } else if (warn_on_headroom && remaining - wanted < kQuotaHeadroomWarnFraction * quota) {
    check.Warn(what + ": " + std::to_string(requested) + " requested leaves " +
               FormatNumber(remaining - wanted) + " of quota " + Quoted(quota_name) + " (" +
               FormatNumber(quota) + "), under 20% headroom.");
  }
}

int64_t TotalInstances(const Preset& preset) {
  int64_t total = 0;
  for (const auto& group : preset.instance_groups) total += group.count;
  return total;
}

GuardrailCheck CheckInstanceTypeQuota(const DeploymentRequest& request, const Preset& preset,
                                      const QuotaSnapshot& quotas) {
  CheckBuilder check("quota.instance-type");
  if (QuotasUsable(request, quotas, check)) {
    std::map<std::string, int64_t> by_type;
    for (const auto& group : preset.instance_groups) by_type[group.instance_type] += group.count;
    boost::json::object types;
    for (const auto& [type, requested] : by_type) {
      auto usage_it = quotas.usage_by_type.find(type);
      const int64_t usage = usage_it == quotas.usage_by_type.end() ? 0 : usage_it->second;
      boost::json::object details;
      CompareWithQuota(check, quotas, InstanceTypeQuotaName(type), requested, usage, true, type,
                       details);
      types[type] = std::move(details);
    }
    check.details()["types"] = std::move(types);
  }
  check.PassMessage("Every instance type fits its cluster-usage quota.");
  return std::move(check).Build();
}

GuardrailCheck CheckTotalQuota(const DeploymentRequest& request, const Preset& preset,
                               const QuotaSnapshot& quotas) {
  CheckBuilder check("quota.total-instances");
  if (QuotasUsable(request, quotas, check)) {
    CompareWithQuota(check, quotas, std::string(kTotalInstancesQuotaName), TotalInstances(preset),
                     quotas.total_usage, true, "Instances across HyperPod clusters",
                     check.details());
  }
  check.PassMessage("The instances fit the account's HyperPod total.");
  return std::move(check).Build();
}

GuardrailCheck CheckPerClusterQuota(const DeploymentRequest& request, const Preset& preset,
                                    const QuotaSnapshot& quotas) {
  CheckBuilder check("quota.per-cluster");
  if (QuotasUsable(request, quotas, check)) {
    CompareWithQuota(check, quotas, std::string(kPerClusterQuotaName), TotalInstances(preset), 0,
                     false, "Instances in this cluster", check.details());
  }
  check.PassMessage("The instances fit the per-cluster quota.");
  return std::move(check).Build();
}

GuardrailCheck CheckEbsQuota(const DeploymentRequest& request, const Preset& preset,
                             const QuotaSnapshot& quotas) {
  CheckBuilder check("quota.ebs");
  if (QuotasUsable(request, quotas, check)) {
    const std::string name(kEbsQuotaName);
    check.details()["quotaName"] = name;
    auto it = quotas.quotas_by_name.find(name);
    if (it == quotas.quotas_by_name.end()) {
      check.Warn("Quota " + Quoted(name) +
                 " was not found; AWS applies its default, which could not be checked.");
      check.details()["found"] = false;
    } else {
      check.details()["quota"] = it->second;
      for (const auto& group : preset.instance_groups) {
        if (static_cast<double>(group.ebs_volume_gb) > it->second) {
          check.Fail("Instance group " + Quoted(group.name) + " asks for " +
                     std::to_string(group.ebs_volume_gb) + " GB of EBS per instance, but quota " +
                     Quoted(name) + " is " + FormatNumber(it->second) + " GB.");
        }
      }
    }
  }
  check.PassMessage("EBS volume sizes fit the HyperPod EBS quota.");
  return std::move(check).Build();
}

}  // namespace

std::string_view CheckStatusName(CheckStatus status) {
  switch (status) {
    case CheckStatus::kPass:
      return "PASS";
    case CheckStatus::kWarn:
      return "WARN";
    case CheckStatus::kFail:
      return "FAIL";
  }
  return "FAIL";
}

const GuardrailCheck* GuardrailReport::Find(std::string_view id) const {
  for (const GuardrailCheck& check : checks) {
    if (check.id == id) return &check;
  }
  return nullptr;
}

boost::json::object GuardrailReport::ToJson() const {
  boost::json::array items;
  for (const GuardrailCheck& check : checks) {
    items.push_back(boost::json::object{{"id", check.id},
                                        {"status", CheckStatusName(check.status)},
                                        {"message", check.message},
                                        {"details", check.details}});
  }
  return boost::json::object{
      {"passed", passed},
      {"counts",
       boost::json::object{{"pass", pass_count}, {"warn", warn_count}, {"fail", fail_count}}},
      {"checks", std::move(items)}};
}

GuardrailReport Evaluate(const DeploymentRequest& request, const PresetCatalog& catalog,
                         const QuotaSnapshot& quotas) {
  const DeploymentNames names = DeriveNames(request);
  const bool defaulted = request.config.preset.empty();
  const std::string preset_name = defaulted ? catalog.default_preset() : request.config.preset;
  const Preset* preset = catalog.Find(preset_name);

  GuardrailReport report;
  auto& checks = report.checks;
  checks.push_back(FromStatus("name.cluster", ValidateHyperPodClusterName(names.hyperpod_cluster),
                              "HyperPod cluster name " + names.hyperpod_cluster + " is valid.",
                              "name", names.hyperpod_cluster));
  checks.push_back(FromStatus("name.eks", ValidateEksClusterName(names.eks_cluster),
                              "EKS cluster name " + names.eks_cluster + " is valid.", "name",
                              names.eks_cluster));
  checks.push_back(FromStatus("name.stack", ValidateStackName(names.stack),
                              "Stack name " + names.stack + " is valid.", "name", names.stack));
  checks.push_back(CheckBucket(names));
  checks.push_back(CheckParameter(request, names));

  if (preset == nullptr) {
    checks.push_back(NotEvaluated("name.instance-group", preset_name));
    checks.push_back(CheckRegion(request, catalog));
    checks.push_back(CheckPresetKnown(preset_name, catalog, defaulted));
    for (const char* id : {"overrides.bounded", "instance-types.allowed", "instance-count",
                           "ebs.size", "fsx.size", "manifest.expressible"}) {
      checks.push_back(NotEvaluated(id, preset_name));
    }
    checks.push_back(CheckTimeout(request));
    for (const char* id :
         {"quota.instance-type", "quota.total-instances", "quota.per-cluster", "quota.ebs"}) {
      checks.push_back(NotEvaluated(id, preset_name));
    }
  } else {
    const AppliedOverrides applied = ApplyOverrides(*preset, request.config.overrides);
    const Preset& effective = applied.preset;
    checks.push_back(CheckGroupNames(effective));
    checks.push_back(CheckRegion(request, catalog));
    checks.push_back(CheckPresetKnown(preset_name, catalog, defaulted));
    checks.push_back(CheckOverrides(request, applied));
    checks.push_back(CheckInstanceTypes(effective));
    checks.push_back(CheckInstanceCount(effective));
    checks.push_back(CheckEbs(effective));
    checks.push_back(CheckFsx(effective));
    checks.push_back(CheckExpressible(effective));
    checks.push_back(CheckTimeout(request));
    checks.push_back(CheckInstanceTypeQuota(request, effective, quotas));
    checks.push_back(CheckTotalQuota(request, effective, quotas));
    checks.push_back(CheckPerClusterQuota(request, effective, quotas));
    checks.push_back(CheckEbsQuota(request, effective, quotas));
  }

  for (const GuardrailCheck& check : checks) {
    switch (check.status) {
      case CheckStatus::kPass:
        ++report.pass_count;
        break;
      case CheckStatus::kWarn:
        ++report.warn_count;
        break;
      case CheckStatus::kFail:
        ++report.fail_count;
        break;
    }
  }
  report.passed = report.fail_count == 0;
  return report;
}

}  // namespace hpd::hyperpod
