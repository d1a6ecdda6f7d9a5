#include "hyperpod/names.h"

#include <algorithm>
#include <string>

namespace hpd::hyperpod {
namespace {

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// [a-zA-Z0-9](-*[a-zA-Z0-9])* within 1..63: alphanumerics and '-', not starting or ending with
// '-'.
Status ValidateHyperPodStyleName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return InvalidArgumentError(std::string(what) + " " + Quoted(name) + " has " +
                                std::to_string(name.size()) + " characters; it must have 1 to 63");
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '-'; })) {
    return InvalidArgumentError(std::string(what) + " " + Quoted(name) +
                                " may contain only letters, digits and '-'");
  }
  if (name.front() == '-' || name.back() == '-') {
    return InvalidArgumentError(std::string(what) + " " + Quoted(name) +
                                " must start and end with a letter or digit");
  }
  return Status::Ok();
}

}  // namespace

std::string DeploymentNames::ParameterName(std::string_view leaf) const {
  return parameter_path + "/" + std::string(leaf);
}

std::string DeploymentNames::ConfigUri() const {
  return "s3://" + config_bucket + "/" + config_key;
}

DeploymentNames DeriveNames(const DeploymentRequest& request) {
  DeploymentNames names;
  for (char c : request.job_id) {
    if (names.job_tag.size() == kJobTagLength) break;
    if (IsAlnum(c)) names.job_tag += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  names.deployment_name = request.config.name.value_or("hp-" + names.job_tag);
  const std::string suffix = "-" + names.job_tag;
  std::string stem = names.deployment_name;
  if (!stem.ends_with(suffix)) stem += suffix;
  names.hyperpod_cluster = stem;
  names.eks_cluster = stem + "-eks";
  names.stack = "hpd-" + stem;
  std::string prefix = request.parameter_prefix;
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  names.parameter_path = prefix == "/" ? "/" + request.job_id : prefix + "/" + request.job_id;
  names.config_bucket = request.config_bucket;
  names.config_key = request.job_id + "/config.json";
  return names;
}

Status ValidateHyperPodClusterName(std::string_view name) {
  return ValidateHyperPodStyleName("HyperPod cluster name", name);
}

Status ValidateInstanceGroupName(std::string_view name) {
  return ValidateHyperPodStyleName("Instance group name", name);
}

Status ValidateEksClusterName(std::string_view name) {
  if (name.empty() || name.size() > 100) {
    return InvalidArgumentError("EKS cluster name " + Quoted(name) + " has " +
                                std::to_string(name.size()) + " characters; it must have 1 to 100");
  }
  if (!IsAlnum(name.front())) {
    return InvalidArgumentError("EKS cluster name " + Quoted(name) +
                                " must start with a letter or digit");
  }
  if (!std::all_of(name.begin(), name.end(),
                   [](char c) { return IsAlnum(c) || c == '-' || c == '_'; })) {
    return InvalidArgumentError("EKS cluster name " + Quoted(name) +
                                " may contain only letters, digits, '-' and '_'");
  }
  return Status::Ok();
}

Status ValidateStackName(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return InvalidArgumentError("CloudFormation stack name " + Quoted(name) + " has " +
                                std::to_string(name.size()) + " characters; it must have 1 to 128");
  }
  if (!IsLetter(name.front())) {
    return InvalidArgumentError("CloudFormation stack name " + Quoted(name) +
                                " must start with a letter");
  }
  if (!std::all_of(name.begin(), name.end(), [](char c) { return IsAlnum(c) || c == '-'; })) {
    return InvalidArgumentError("CloudFormation stack name " + Quoted(name) +
                                " may contain only letters, digits and '-'");
  }
  return Status::Ok();
}

Status ValidateJobId(std::string_view job_id) {
  if (job_id.empty() || !std::all_of(job_id.begin(), job_id.end(), [](char c) {
        return IsAlnum(c) || c == '_' || c == '.' || c == '-';
      })) {
    return InvalidArgumentError("jobId " + Quoted(job_id) +
                                " must be one or more letters, digits, '_', '.' and '-'");
  }
  return Status::Ok();
}

}  // namespace hpd::hyperpod
