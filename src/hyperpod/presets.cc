#include "hyperpod/presets.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/json.h"
#include "hyperpod/json_reader.h"

namespace hpd::hyperpod {
namespace {

using internal::ObjectReader;

constexpr std::string_view kErrorName = "InvalidPresetFile";
constexpr std::size_t kMaxPresetNameLength = 32;
constexpr int64_t kMaxInstanceGroups = 100;

bool IsValidPresetName(std::string_view name) {
  if (name.empty() || name.size() > kMaxPresetNameLength) return false;
  auto lower_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_alnum(name.front())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return lower_alnum(c) || c == '-'; });
}

StatusOr<InstanceGroupSpec> ParseGroup(ObjectReader reader) {
  InstanceGroupSpec group;
  HPD_ASSIGN_OR_RETURN(group.name, reader.String("name"));
  HPD_ASSIGN_OR_RETURN(group.instance_type, reader.String("instanceType"));
  HPD_ASSIGN_OR_RETURN(group.count, reader.Integer("count", 0));
  HPD_ASSIGN_OR_RETURN(group.threads_per_core, reader.Integer("threadsPerCore", 1));
  if (group.threads_per_core > 2) return reader.Error("threadsPerCore", "must be 1 or 2");
  HPD_ASSIGN_OR_RETURN(group.ebs_volume_gb, reader.Integer("ebsVolumeGb", 1));
  HPD_ASSIGN_OR_RETURN(group.deep_health_checks, reader.StringArray("deepHealthChecks"));
  for (const std::string& check : group.deep_health_checks) {
    if (check != "InstanceStress" && check != "InstanceConnectivity") {
      return reader.Error("deepHealthChecks",
                          "\"" + check + "\" is not InstanceStress or InstanceConnectivity");
    }
  }
  HPD_RETURN_IF_ERROR(reader.RejectUnknown());
  return group;
}

StatusOr<Preset> ParsePreset(std::string name, ObjectReader reader) {
  Preset preset;
  preset.name = std::move(name);
  HPD_ASSIGN_OR_RETURN(preset.description, reader.String("description"));
  HPD_ASSIGN_OR_RETURN(preset.kubernetes_version, reader.String("kubernetesVersion"));

  HPD_ASSIGN_OR_RETURN(const boost::json::array* groups, reader.Array("instanceGroups"));
  if (groups->empty() || groups->size() > static_cast<std::size_t>(kMaxInstanceGroups)) {
    return reader.Error("instanceGroups",
                        "must hold 1 to 100 groups, has " + std::to_string(groups->size()));
  }
  for (std::size_t i = 0; i < groups->size(); ++i) {
    const boost::json::value& element = (*groups)[i];
    if (!element.is_object()) {
      return reader.Error("instanceGroups[" + std::to_string(i) + "]",
                          "must be an object, got " + internal::DescribeJson(element));
    }
    HPD_ASSIGN_OR_RETURN(InstanceGroupSpec group,
                         ParseGroup(reader.Element(element.get_object(), "instanceGroups", i)));
    if (preset.FindGroup(group.name) != nullptr) {
      return reader.Error("instanceGroups[" + std::to_string(i) + "].name",
                          "duplicate group name \"" + group.name + "\"");
    }
    preset.instance_groups.push_back(std::move(group));
  }

  HPD_ASSIGN_OR_RETURN(preset.allowed_instance_types, reader.StringArray("allowedInstanceTypes"));
  if (preset.allowed_instance_types.empty()) {
    return reader.Error("allowedInstanceTypes", "must not be empty");
  }

  HPD_ASSIGN_OR_RETURN(const boost::json::object* fsx, reader.Object("fsx"));
  ObjectReader fsx_reader = reader.Child(*fsx, "fsx");
  HPD_ASSIGN_OR_RETURN(preset.fsx.deployment_type, fsx_reader.String("deploymentType"));
  if (preset.fsx.deployment_type != "SCRATCH_2" && preset.fsx.deployment_type != "PERSISTENT_1" &&
      preset.fsx.deployment_type != "PERSISTENT_2") {
    return fsx_reader.Error("deploymentType",
                            "must be SCRATCH_2, PERSISTENT_1 or PERSISTENT_2, got \"" +
                                preset.fsx.deployment_type + "\"");
  }
  HPD_ASSIGN_OR_RETURN(preset.fsx.storage_gib, fsx_reader.Integer("storageGiB", 1));
  HPD_ASSIGN_OR_RETURN(preset.fsx.per_unit_storage_throughput,
                       fsx_reader.Integer("perUnitStorageThroughput", 0));
  HPD_RETURN_IF_ERROR(fsx_reader.RejectUnknown());

  HPD_ASSIGN_OR_RETURN(const boost::json::object* eks, reader.Object("eks"));
  ObjectReader eks_reader = reader.Child(*eks, "eks");
  HPD_ASSIGN_OR_RETURN(preset.eks.node_instance_types, eks_reader.StringArray("nodeInstanceTypes"));
  if (preset.eks.node_instance_types.empty()) {
    return eks_reader.Error("nodeInstanceTypes", "must not be empty");
  }
  HPD_ASSIGN_OR_RETURN(preset.eks.min_size, eks_reader.Integer("minSize", 1));
  HPD_ASSIGN_OR_RETURN(preset.eks.max_size, eks_reader.Integer("maxSize", 1));
  if (preset.eks.max_size < preset.eks.min_size) {
    return eks_reader.Error("maxSize", "must be >= minSize (" +
                                           std::to_string(preset.eks.min_size) + "), got " +
                                           std::to_string(preset.eks.max_size));
  }
  HPD_RETURN_IF_ERROR(eks_reader.RejectUnknown());

  HPD_ASSIGN_OR_RETURN(const boost::json::object* limits, reader.Object("limits"));
  ObjectReader limits_reader = reader.Child(*limits, "limits");
  HPD_ASSIGN_OR_RETURN(preset.limits.max_instance_count_per_group,
                       limits_reader.Integer("maxInstanceCountPerGroup", 1));
  HPD_ASSIGN_OR_RETURN(preset.limits.max_ebs_volume_gb, limits_reader.Integer("maxEbsVolumeGb", 1));
  HPD_ASSIGN_OR_RETURN(preset.limits.max_fsx_storage_gib,
                       limits_reader.Integer("maxFsxStorageGiB", 1));
  HPD_ASSIGN_OR_RETURN(preset.limits.max_eks_nodes, limits_reader.Integer("maxEksNodes", 1));
  HPD_ASSIGN_OR_RETURN(preset.limits.kubernetes_versions,
                       limits_reader.StringArray("kubernetesVersions"));
  if (preset.limits.kubernetes_versions.empty()) {
    return limits_reader.Error("kubernetesVersions", "must not be empty");
  }
  HPD_RETURN_IF_ERROR(limits_reader.RejectUnknown());

  HPD_RETURN_IF_ERROR(reader.RejectUnknown());
  return preset;
}

}  // namespace

const InstanceGroupSpec* Preset::FindGroup(std::string_view group_name) const {
  for (const InstanceGroupSpec& group : instance_groups) {
    if (group.name == group_name) return &group;
  }
  return nullptr;
}

InstanceGroupSpec* Preset::FindGroup(std::string_view group_name) {
  return const_cast<InstanceGroupSpec*>(std::as_const(*this).FindGroup(group_name));
}

const Preset* PresetCatalog::Find(std::string_view name) const {
  auto it = presets_.find(name);
  return it == presets_.end() ? nullptr : &it->second;
}

std::vector<std::string> PresetCatalog::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, preset] : presets_) names.push_back(name);
  return names;
}

bool PresetCatalog::IsAllowedRegion(std::string_view region) const {
  return std::find(regions_.begin(), regions_.end(), region) != regions_.end();
}

StatusOr<PresetCatalog> ParsePresetCatalog(std::string_view json_text, std::string_view source,
                                           const PresetCatalog* base) {
  const std::string prefix = std::string(source) + ": ";
  auto parsed = ParseJson(json_text);
  if (!parsed.ok()) {
    return InvalidArgumentError(prefix + std::string(parsed.status().message()))
        .SetErrorName(std::string(kErrorName));
  }
  if (!parsed->is_object()) {
    return InvalidArgumentError(prefix + "the document must be a JSON object")
        .SetErrorName(std::string(kErrorName));
  }
  ObjectReader root(parsed->get_object(), "", prefix, std::string(kErrorName));

  PresetCatalog catalog = base != nullptr ? *base : PresetCatalog();
  if (base == nullptr || root.Has("regions")) {
    HPD_ASSIGN_OR_RETURN(catalog.regions_, root.StringArray("regions"));
    if (catalog.regions_.empty()) return root.Error("regions", "must not be empty");
  }

  HPD_ASSIGN_OR_RETURN(const boost::json::object* presets, root.Object("presets"));
  if (base == nullptr && presets->empty()) return root.Error("presets", "must not be empty");
  for (const auto& member : *presets) {
    std::string name(member.key());
    if (!IsValidPresetName(name)) {
      return root.Error("presets", "preset name \"" + name +
                                       "\" must be 1-32 lowercase letters, digits and '-', "
                                       "starting with a letter or digit");
    }
    if (!member.value().is_object()) {
      return root.Error("presets." + name,
                        "must be an object, got " + internal::DescribeJson(member.value()));
    }
    ObjectReader reader(member.value().get_object(), "",
                        prefix + "preset \"" + name + "\": ", std::string(kErrorName));
    HPD_ASSIGN_OR_RETURN(Preset preset, ParsePreset(name, std::move(reader)));
    catalog.presets_.insert_or_assign(name, std::move(preset));
  }

  if (base == nullptr || root.Has("defaultPreset")) {
    HPD_ASSIGN_OR_RETURN(catalog.default_preset_, root.String("defaultPreset"));
  }
  if (catalog.Find(catalog.default_preset_) == nullptr) {
    return root.Error("defaultPreset",
                      "\"" + catalog.default_preset_ + "\" is not a preset of the catalog");
  }
  HPD_RETURN_IF_ERROR(root.RejectUnknown());
  return catalog;
}

StatusOr<PresetCatalog> LoadPresets(const std::optional<std::filesystem::path>& extra_file) {
  HPD_ASSIGN_OR_RETURN(PresetCatalog builtin,
                       ParsePresetCatalog(BuiltinPresetsJson(), "built-in presets.json"));
  if (!extra_file) return builtin;

  const std::string name = extra_file->string();
  std::error_code error;
  if (!std::filesystem::is_regular_file(*extra_file, error)) {
    return NotFoundError("preset file " + name + ": no such regular file");
  }
  std::ifstream in(*extra_file, std::ios::binary);
  if (!in) return PermissionDeniedError("preset file " + name + ": cannot be opened for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return UnavailableError("preset file " + name + ": read failed");
  return ParsePresetCatalog(text.str(), name, &builtin);
}

}  // namespace hpd::hyperpod
