// Deployment presets: named, reviewed shapes of a HyperPod-on-EKS deployment (instance groups,
// FSx for Lustre, the EKS managed node group) with the bounds a requester's overrides must stay
// within, plus the regions HyperPod is offered in.
//
// The built-in catalog is src/hyperpod/presets.json, compiled into the binary so hpdeploy needs no
// file at run time. A user file of the same schema extends it: a preset in the user file replaces
// the built-in preset of the same name (whole, not field by field), new names are added, and
// "regions" / "defaultPreset", when present, replace the built-in values.
//
// Schema (every field required unless marked optional; unknown fields are errors, so a typo
// cannot silently fall back to a default):
//
//   {
//     "defaultPreset": "small",              // must name a preset of the merged catalog
//     "regions": ["us-east-1", ...],         // allowlist, non-empty (optional in a user file)
//     "presets": {
//       "<name>": {                          // name: [a-z0-9][a-z0-9-]*, at most 32 characters
//         "description": "...",
//         "kubernetesVersion": "1.33",       // EKS version, "<major>.<minor>"
//         "instanceGroups": [                // 1..100 HyperPod instance groups
//           {"name": "accelerated",          // HyperPod group name
//            "instanceType": "ml.g5.8xlarge",
//            "count": 2,                     // integer >= 0
//            "threadsPerCore": 1,            // 1 or 2
//            "ebsVolumeGb": 500,             // integer >= 1, per instance
//            "deepHealthChecks": []}         // subset of InstanceStress, InstanceConnectivity
//         ],
//         "allowedInstanceTypes": ["ml.g5.8xlarge", ...],   // non-empty
//         "fsx": {"deploymentType": "SCRATCH_2" | "PERSISTENT_1" | "PERSISTENT_2",
//                 "storageGiB": 1200,                       // integer >= 1
//                 "perUnitStorageThroughput": 0},           // MB/s/TiB; 0 for SCRATCH_2
//         "eks": {"nodeInstanceTypes": ["m5.2xlarge"],      // EC2 types, non-empty
//                 "minSize": 2, "maxSize": 3},              // 1 <= minSize <= maxSize
//         "limits": {                                       // bounds for overrides
//           "maxInstanceCountPerGroup": 4,                  // count <= this, per group
//           "maxEbsVolumeGb": 1000,                         // ebsVolumeGb <= this
//           "maxFsxStorageGiB": 4800,                       // fsx.storageGiB <= this
//           "maxEksNodes": 5,                               // eks.minSize/maxSize <= this
//           "kubernetesVersions": ["1.32", "1.33"]}         // allowed kubernetesVersion values
//       }
//     }
//   }
//
// The file checks structure and types only; whether values are acceptable to AWS (FSx size
// steps, EBS range, allowlists) is the guardrails' job, so a preset that drifts out of AWS's
// rules is reported per request with a clear reason instead of making hpdeploy unusable.
#ifndef HPD_HYPERPOD_PRESETS_H_
#define HPD_HYPERPOD_PRESETS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hpd::hyperpod {

struct InstanceGroupSpec {
  std::string name;
  std::string instance_type;
  int64_t count = 0;
  int64_t threads_per_core = 1;
  int64_t ebs_volume_gb = 0;
  std::vector<std::string> deep_health_checks;
};

struct FsxSpec {
  std::string deployment_type;  // SCRATCH_2 | PERSISTENT_1 | PERSISTENT_2
  int64_t storage_gib = 0;
  int64_t per_unit_storage_throughput = 0;  // MB/s/TiB; unused by SCRATCH_2
};

// The EKS managed node group that runs system and general-purpose pods.
struct EksNodeSpec {
  std::vector<std::string> node_instance_types;
  int64_t min_size = 0;
  int64_t max_size = 0;
};

struct PresetLimits {
  int64_t max_instance_count_per_group = 0;
  int64_t max_ebs_volume_gb = 0;
  int64_t max_fsx_storage_gib = 0;
  int64_t max_eks_nodes = 0;
  std::vector<std::string> kubernetes_versions;
};

struct Preset {
  std::string name;
  std::string description;
  std::string kubernetes_version;
  std::vector<InstanceGroupSpec> instance_groups;
  std::vector<std::string> allowed_instance_types;
  FsxSpec fsx;
  EksNodeSpec eks;
  PresetLimits limits;

  // The group called `name`, or nullptr.
  const InstanceGroupSpec* FindGroup(std::string_view group_name) const;
  InstanceGroupSpec* FindGroup(std::string_view group_name);
};

// An immutable set of presets and the region allowlist. A value type.
class PresetCatalog {
 public:
  PresetCatalog() = default;

  // The preset called `name`, or nullptr.
  const Preset* Find(std::string_view name) const;
  // Names in lexicographic order.
  std::vector<std::string> Names() const;
  bool IsAllowedRegion(std::string_view region) const;

  const std::map<std::string, Preset, std::less<>>& presets() const { return presets_; }
  const std::vector<std::string>& regions() const { return regions_; }
  const std::string& default_preset() const { return default_preset_; }

 private:
  friend StatusOr<PresetCatalog> ParsePresetCatalog(std::string_view, std::string_view,
                                                    const PresetCatalog*);
  std::map<std::string, Preset, std::less<>> presets_;
  std::vector<std::string> regions_;
  std::string default_preset_;
};

// The text of the built-in presets.json, as compiled in.
std::string_view BuiltinPresetsJson();

// Parses a catalog document. `source` names it in errors ("presets.json", a user's path). With
// `base` null the document must be complete (regions, defaultPreset and presets all present);
// otherwise it is merged over *base as described above. Errors are kInvalidArgument and name the
// source, the preset and the field, e.g. "my.json: preset \"gpu\": instanceGroups[0].count: must
// be an integer >= 0, got \"2\"".
StatusOr<PresetCatalog> ParsePresetCatalog(std::string_view json_text, std::string_view source,
                                           const PresetCatalog* base = nullptr);

// The built-in catalog, merged with `extra_file` when given. kNotFound / kPermissionDenied /
// kUnavailable when the file cannot be read; kInvalidArgument when it is malformed.
StatusOr<PresetCatalog> LoadPresets(const std::optional<std::filesystem::path>& extra_file = {});

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_PRESETS_H_
