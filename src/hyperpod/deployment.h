// Resolution: a request plus its preset, with the request's overrides applied and its names
// derived, is what the manifest is built from.
//
// Override keys understood (values are checked against the preset's limits by the guardrails;
// the lower bounds are fixed by AWS or by what a perf-eval deployment needs):
//   kubernetesVersion                  string, one of limits.kubernetesVersions
//   ebsVolumeGb                        integer 1..limits.maxEbsVolumeGb, every group
//   instanceGroups.<group>.count       integer 1..limits.maxInstanceCountPerGroup (a deployment
//                                      without nodes measures nothing)
//   instanceGroups.<group>.instanceType   string (the preset's allowlist: instance-types.allowed)
//   instanceGroups.<group>.threadsPerCore integer 1..2
//   instanceGroups.<group>.ebsVolumeGb    integer 1..limits.maxEbsVolumeGb
//   fsx.deploymentType                 SCRATCH_2 | PERSISTENT_1 | PERSISTENT_2
//   fsx.storageGiB                     integer 1200..limits.maxFsxStorageGiB (steps: fsx.size)
//   fsx.perUnitStorageThroughput       integer 0..1000 (allowed values: fsx.size)
//   eks.minSize, eks.maxSize           integer 1..limits.maxEksNodes, minSize <= maxSize
//   eks.nodeInstanceTypes              string, comma-separated EC2 instance types
// `<group>` must name a group of the preset. Keys are applied in lexicographic order, so
// "ebsVolumeGb" comes before, and is refined by, "instanceGroups.<group>.ebsVolumeGb".
#ifndef HPD_HYPERPOD_DEPLOYMENT_H_
#define HPD_HYPERPOD_DEPLOYMENT_H_

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "hyperpod/names.h"
#include "hyperpod/presets.h"
#include "hyperpod/request.h"

namespace hpd::hyperpod {

// One override that could not be honoured as given.
struct OverrideProblem {
  std::string key;
  std::string message;  // a sentence naming the key, the value and the bound
};

struct AppliedOverrides {
  Preset preset;  // the preset with every well-typed, known override applied (even out of bounds,
                  // so that other checks judge what was asked for)
  std::vector<OverrideProblem> problems;  // unknown keys, wrong types, values out of bounds
};

// Applies `overrides` to a copy of `preset`. Never fails; problems are collected.
AppliedOverrides ApplyOverrides(const Preset& preset,
                                const std::map<std::string, OverrideValue>& overrides);

struct ResolvedDeployment {
  DeploymentRequest request;
  Preset preset;  // effective: overrides applied; preset.name is the preset chosen
  DeploymentNames names;
};

// The preset named by the request (or the catalog's default), with overrides applied and names
// derived. kInvalidArgument (error name "UnknownPreset") naming the preset and listing the known
// ones; kInvalidArgument (error name "InvalidOverride") listing every override problem. Does not
// evaluate guardrails: run Evaluate (guardrails.h) first and deploy only when it passes.
StatusOr<ResolvedDeployment> Resolve(const DeploymentRequest& request,
                                     const PresetCatalog& catalog);

}  // namespace hpd::hyperpod

#endif  // HPD_HYPERPOD_DEPLOYMENT_H_
