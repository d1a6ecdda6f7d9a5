#include "hyperpod/deployment.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace hpd::hyperpod {
namespace {

constexpr int64_t kMinFsxStorageGiB = 1200;
constexpr int64_t kMaxPerUnitStorageThroughput = 1000;

class OverrideApplier {
 public:
  explicit OverrideApplier(AppliedOverrides* out) : out_(out) {}

  void Apply(const std::string& key, const OverrideValue& value) {
    Preset& preset = out_->preset;
    const PresetLimits& limits = preset.limits;
    if (key == "kubernetesVersion") {
      if (const std::string* s = String(key, value)) {
        const auto& allowed = limits.kubernetes_versions;
        if (std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
          Problem(key, "Override kubernetesVersion \"" + *s + "\" is not one of the versions " +
                           "preset \"" + preset.name + "\" allows (" + Join(allowed) + ").");
        }
        preset.kubernetes_version = *s;
      }
    } else if (key == "ebsVolumeGb") {
      if (auto n = Integer(key, value, 1, limits.max_ebs_volume_gb, "maxEbsVolumeGb")) {
        for (InstanceGroupSpec& group : preset.instance_groups) group.ebs_volume_gb = *n;
      }
    } else if (key.starts_with("instanceGroups.")) {
      ApplyGroup(key, value);
    } else if (key == "fsx.deploymentType") {
      if (const std::string* s = String(key, value)) {
        if (*s != "SCRATCH_2" && *s != "PERSISTENT_1" && *s != "PERSISTENT_2") {
          Problem(key, "Override fsx.deploymentType \"" + *s +
                           "\" is not SCRATCH_2, PERSISTENT_1 or PERSISTENT_2.");
        }
        preset.fsx.deployment_type = *s;
      }
    } else if (key == "fsx.storageGiB") {
      if (auto n = Integer(key, value, kMinFsxStorageGiB, limits.max_fsx_storage_gib,
                           "maxFsxStorageGiB")) {
        preset.fsx.storage_gib = *n;
      }
    } else if (key == "fsx.perUnitStorageThroughput") {
      if (auto n = Integer(key, value, 0, kMaxPerUnitStorageThroughput, "")) {
        preset.fsx.per_unit_storage_throughput = *n;
      }
    } else if (key == "eks.minSize") {
      if (auto n = Integer(key, value, 1, limits.max_eks_nodes, "maxEksNodes")) {
        preset.eks.min_size = *n;
      }
    } else if (key == "eks.maxSize") {
      if (auto n = Integer(key, value, 1, limits.max_eks_nodes, "maxEksNodes")) {
        preset.eks.max_size = *n;
      }
    } else if (key == "eks.nodeInstanceTypes") {
      if (const std::string* s = String(key, value)) {
        std::vector<std::string> types = Split(*s);
        if (types.empty()) {
          Problem(key, "Override eks.nodeInstanceTypes must list at least one instance type.");
        } else {
          preset.eks.node_instance_types = std::move(types);
        }
      }
    } else {
      Problem(key, "Override key \"" + key + "\" is not a known override.");
    }
  }

  void CheckConsistency(const std::map<std::string, OverrideValue>& overrides) {
    const EksNodeSpec& eks = out_->preset.eks;
    if ((overrides.contains("eks.minSize") || overrides.contains("eks.maxSize")) &&
        eks.min_size > eks.max_size) {
      Problem(overrides.contains("eks.minSize") ? "eks.minSize" : "eks.maxSize",
              "Override leaves eks.minSize (" + std::to_string(eks.min_size) +
                  ") above eks.maxSize (" + std::to_string(eks.max_size) + ").");
    }
  }

 private:
  void ApplyGroup(const std::string& key, const OverrideValue& value) {
    Preset& preset = out_->preset;
    const std::string rest = key.substr(std::string_view("instanceGroups.").size());
    const std::size_t dot = rest.rfind('.');
    if (dot == std::string::npos || dot == 0) {
      Problem(key, "Override key \"" + key +
                       "\" is not a known override; group keys look like "
                       "instanceGroups.<group>.count.");
      return;
    }
    const std::string group_name = rest.substr(0, dot);
    const std::string field = rest.substr(dot + 1);
    InstanceGroupSpec* group = preset.FindGroup(group_name);
    if (group == nullptr) {
      std::vector<std::string> names;
      for (const auto& g : preset.instance_groups) names.push_back(g.name);
      Problem(key, "Override key \"" + key + "\" names group \"" + group_name +
                       "\", which preset \"" + preset.name +
                       "\" does not have (groups: " + Join(names) + ").");
      return;
    }
    const PresetLimits& limits = preset.limits;
    if (field == "count") {
      if (auto n = Integer(key, value, 1, limits.max_instance_count_per_group,
                           "maxInstanceCountPerGroup")) {
        group->count = *n;
      }
    } else if (field == "instanceType") {
      if (const std::string* s = String(key, value)) group->instance_type = *s;
    } else if (field == "threadsPerCore") {
      if (auto n = Integer(key, value, 1, 2, "")) group->threads_per_core = *n;
    } else if (field == "ebsVolumeGb") {
      if (auto n = Integer(key, value, 1, limits.max_ebs_volume_gb, "maxEbsVolumeGb")) {
        group->ebs_volume_gb = *n;
      }
    } else {
      Problem(key, "Override key \"" + key + "\" is not a known override; a group takes count, " +
                       "instanceType, threadsPerCore and ebsVolumeGb.");
    }
  }

  const std::string* String(const std::string& key, const OverrideValue& value) {
    if (const auto* s = std::get_if<std::string>(&value)) return s;
    Problem(key,
            "Override " + key + " must be a string, got " + DescribeOverrideValue(value) + ".");
    return nullptr;
  }

  // A value of the right type is returned even when out of [min, max]; the bound is reported.
  std::optional<int64_t> Integer(const std::string& key, const OverrideValue& value, int64_t min,
                                 int64_t max, std::string_view limit_name) {
    const auto* n = std::get_if<int64_t>(&value);
    if (n == nullptr) {
      Problem(key,
              "Override " + key + " must be an integer, got " + DescribeOverrideValue(value) + ".");
      return std::nullopt;
    }
    if (*n < min) {
      Problem(key, "Override " + key + " = " + std::to_string(*n) + " is below the minimum of " +
                       std::to_string(min) + ".");
    } else if (*n > max) {
      std::string bound = limit_name.empty()
                              ? "the maximum of " + std::to_string(max)
                              : "preset \"" + out_->preset.name + "\"'s limit " +
                                    std::string(limit_name) + " = " + std::to_string(max);
      Problem(key, "Override " + key + " = " + std::to_string(*n) + " exceeds " + bound + ".");
    }
    return *n;
  }

  void Problem(const std::string& key, std::string message) {
    out_->problems.push_back(OverrideProblem{key, std::move(message)});
  }

  static std::string Join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) {
      if (!out.empty()) out += ", ";
      out += item;
    }
    return out;
  }

  static std::vector<std::string> Split(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      std::string item = text.substr(start, end - start);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty()) out.push_back(std::move(item));
      start = end + 1;
    }
    return out;
  }

  AppliedOverrides* out_;
};

}  // namespace

AppliedOverrides ApplyOverrides(const Preset& preset,
                                const std::map<std::string, OverrideValue>& overrides) {
  AppliedOverrides out{preset, {}};
  OverrideApplier applier(&out);
  for (const auto& [key, value] : overrides) applier.Apply(key, value);
  applier.CheckConsistency(overrides);
  return out;
}

StatusOr<ResolvedDeployment> Resolve(const DeploymentRequest& request,
                                     const PresetCatalog& catalog) {
  const std::string& preset_name =
      request.config.preset.empty() ? catalog.default_preset() : request.config.preset;
  const Preset* preset = catalog.Find(preset_name);
  if (preset == nullptr) {
    std::string known;
    for (const std::string& name : catalog.Names()) known += (known.empty() ? "" : ", ") + name;
    return InvalidArgumentError("Preset \"" + preset_name +
                                "\" is not known; known presets: " + known + ".")
        .SetErrorName("UnknownPreset");
  }
  AppliedOverrides applied = ApplyOverrides(*preset, request.config.overrides);
  if (!applied.problems.empty()) {
    std::string message;
    for (const OverrideProblem& problem : applied.problems) {
      message += (message.empty() ? "" : " ") + problem.message;
    }
    return InvalidArgumentError(std::move(message)).SetErrorName("InvalidOverride");
  }
  return ResolvedDeployment{request, std::move(applied.preset), DeriveNames(request)};
}

}  // namespace hpd::hyperpod
