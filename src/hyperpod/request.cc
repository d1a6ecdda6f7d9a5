#include "hyperpod/request.h"

#include <charconv>
#include <cmath>
#include <utility>

#include <boost/json/object.hpp>

#include "common/json.h"
#include "common/rfc3339.h"
#include "hyperpod/json_reader.h"

namespace hpd::hyperpod {
namespace {

using internal::ObjectReader;

constexpr std::string_view kErrorName = "InvalidDeploymentRequest";

Status RequestError(std::string message) {
  return InvalidArgumentError(std::move(message)).SetErrorName(std::string(kErrorName));
}

StatusOr<OverrideValue> ToOverrideValue(const boost::json::value& value, const std::string& path) {
  switch (value.kind()) {
    case boost::json::kind::int64:
      return OverrideValue(value.get_int64());
    case boost::json::kind::uint64:
      return OverrideValue(static_cast<double>(value.get_uint64()));
    case boost::json::kind::double_:
      return OverrideValue(value.get_double());
    case boost::json::kind::bool_:
      return OverrideValue(value.get_bool());
    case boost::json::kind::string:
      return OverrideValue(std::string(value.get_string()));
    default:
      return RequestError(path + ": must be a number, boolean or string, got " +
                          internal::DescribeJson(value));
  }
}

StatusOr<DeploymentConfig> ParseConfig(ObjectReader reader) {
  DeploymentConfig config;
  HPD_ASSIGN_OR_RETURN(std::optional<std::string> preset, reader.OptionalString("preset"));
  config.preset = preset.value_or("");
  HPD_ASSIGN_OR_RETURN(config.region, reader.String("region"));
  HPD_ASSIGN_OR_RETURN(config.name, reader.OptionalString("name"));
  if (const boost::json::value* overrides = reader.Find("overrides");
      overrides != nullptr && !overrides->is_null()) {
    if (!overrides->is_object()) {
      return reader.Error("overrides", "must be an object of dotted keys to values, got " +
                                           internal::DescribeJson(*overrides));
    }
    for (const auto& member : overrides->get_object()) {
      std::string key(member.key());
      const std::string path = reader.PathOf("overrides") + "." + key;
      if (key.empty()) return RequestError(reader.PathOf("overrides") + ": a key is empty");
      HPD_ASSIGN_OR_RETURN(OverrideValue value, ToOverrideValue(member.value(), path));
      config.overrides.insert_or_assign(std::move(key), std::move(value));
    }
  }
  HPD_RETURN_IF_ERROR(reader.RejectUnknown());
  return config;
}

}  // namespace

boost::json::value OverrideValueToJson(const OverrideValue& value) {
  return std::visit(
      [](const auto& v) -> boost::json::value {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return boost::json::value(boost::json::string_view(v));
        } else {
          return boost::json::value(v);
        }
      },
      value);
}

std::string DescribeOverrideValue(const OverrideValue& value) {
  return SerializeJson(OverrideValueToJson(value));
}

StatusOr<DeploymentRequest> ParseDeploymentRequest(const boost::json::value& payload) {
  if (!payload.is_object()) {
    return RequestError("the deployment request must be a JSON object, got " +
                        internal::DescribeJson(payload));
  }
  ObjectReader root(payload.get_object(), "", "", std::string(kErrorName));
  DeploymentRequest request;
  HPD_ASSIGN_OR_RETURN(request.job_id, root.String("jobId"));
  if (request.job_id.empty()) return root.Error("jobId", "must not be empty");
  HPD_ASSIGN_OR_RETURN(request.requested_by, root.String("requestedBy"));
  if (request.requested_by.empty()) return root.Error("requestedBy", "must not be empty");
  HPD_ASSIGN_OR_RETURN(request.requested_at, root.String("requestedAt"));
  auto requested_at = ParseRfc3339(request.requested_at);
  if (!requested_at.ok()) {
    return root.Error("requestedAt",
                      "must be an RFC 3339 timestamp such as "
                      "2025-01-01T00:00:00Z, got \"" +
                          request.requested_at + "\"");
  }
  request.requested_at_time = *requested_at;
  HPD_ASSIGN_OR_RETURN(request.timeout_seconds, root.Integer("timeoutSeconds", 1));

  HPD_ASSIGN_OR_RETURN(const boost::json::object* config, root.Object("config"));
  HPD_ASSIGN_OR_RETURN(request.config, ParseConfig(root.Child(*config, "config")));

  if (const boost::json::value* guardrails = root.Find("guardrails");
      guardrails != nullptr && !guardrails->is_null()) {
    if (!guardrails->is_object()) {
      return root.Error("guardrails",
                        "must be an object, got " + internal::DescribeJson(*guardrails));
    }
    ObjectReader reader = root.Child(guardrails->get_object(), "guardrails");
    HPD_ASSIGN_OR_RETURN(std::optional<bool> quota_checks, reader.OptionalBool("quotaChecks"));
    request.quota_checks = quota_checks.value_or(true);
    HPD_RETURN_IF_ERROR(reader.RejectUnknown());
  }

  HPD_ASSIGN_OR_RETURN(const boost::json::object* artifacts, root.Object("artifacts"));
  ObjectReader artifacts_reader = root.Child(*artifacts, "artifacts");
  HPD_ASSIGN_OR_RETURN(request.config_bucket, artifacts_reader.String("configBucket"));
  HPD_ASSIGN_OR_RETURN(request.parameter_prefix, artifacts_reader.String("parameterPrefix"));
  HPD_RETURN_IF_ERROR(artifacts_reader.RejectUnknown());
  return request;
}

StatusOr<DeploymentRequest> ParseDeploymentRequestJson(std::string_view json_text) {
  auto payload = ParseJson(json_text);
  if (!payload.ok()) {
    return RequestError("deployment request: " + std::string(payload.status().message()));
  }
  return ParseDeploymentRequest(*payload);
}

boost::json::object DeploymentRequestToJson(const DeploymentRequest& request) {
  boost::json::object config;
  if (!request.config.preset.empty()) config["preset"] = request.config.preset;
  config["region"] = request.config.region;
  if (request.config.name) config["name"] = *request.config.name;
  boost::json::object overrides;
  for (const auto& [key, value] : request.config.overrides) {
    overrides[key] = OverrideValueToJson(value);
  }
  config["overrides"] = std::move(overrides);

  boost::json::object out;
  out["jobId"] = request.job_id;
  out["requestedBy"] = request.requested_by;
  out["requestedAt"] = request.requested_at;
  out["timeoutSeconds"] = request.timeout_seconds;
  out["config"] = std::move(config);
  out["guardrails"] = boost::json::object{{"quotaChecks", request.quota_checks}};
  out["artifacts"] = boost::json::object{{"configBucket", request.config_bucket},
                                         {"parameterPrefix", request.parameter_prefix}};
  return out;
}

StatusOr<std::pair<std::string, OverrideValue>> ParseSetAssignment(std::string_view assignment) {
  const std::size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return RequestError("--set " + std::string(assignment) + ": expected key=value");
  }
  std::string key(assignment.substr(0, eq));
  std::string_view text = assignment.substr(eq + 1);
  if (key.empty()) return RequestError("--set " + std::string(assignment) + ": the key is empty");
  for (char c : key) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return RequestError("--set " + std::string(assignment) + ": the key contains whitespace");
    }
  }
  if (text == "true") return std::pair(std::move(key), OverrideValue(true));
  if (text == "false") return std::pair(std::move(key), OverrideValue(false));
  std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  const bool integer_like = !digits.empty() && (digits.size() == 1 || digits.front() != '0') &&
                            digits.find_first_not_of("0123456789") == std::string_view::npos;
  if (integer_like) {
    int64_t n = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (error == std::errc() && end == text.data() + text.size()) {
      return std::pair(std::move(key), OverrideValue(n));
    }
  }
  return std::pair(std::move(key), OverrideValue(std::string(text)));
}

boost::json::object TeardownInput(const boost::json::object& deployment,
                                  std::string_view requested_by, std::string_view requested_at,
                                  std::string_view owner) {
  namespace json = boost::json;
  auto text_at = [](const json::object& object, std::string_view key) {
    const json::value* value = object.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string()) : "";
  };
  std::string bucket = kDefaultConfigBucket;
  std::string prefix = kDefaultParameterPrefix;
  if (const json::value* a = deployment.if_contains("artifacts"); a != nullptr && a->is_object()) {
    if (std::string b = text_at(a->get_object(), "configBucket"); !b.empty()) bucket = b;
    if (std::string p = text_at(a->get_object(), "parameterPrefix"); !p.empty()) prefix = p;
  }
  std::string region;
  if (const json::value* c = deployment.if_contains("config"); c != nullptr && c->is_object()) {
    region = text_at(c->get_object(), "region");
  }
  int64_t timeout_seconds = 3600;
  if (const json::value* t = deployment.if_contains("timeoutSeconds");
      t != nullptr && t->is_int64()) {
    timeout_seconds = t->get_int64();
  }
  json::object input{{"jobId", text_at(deployment, "jobId")}, {"requestedBy", requested_by}};
  if (!owner.empty()) input["owner"] = owner;
  input["requestedAt"] = requested_at;
  input["timeoutSeconds"] = timeout_seconds;
  input["config"] = json::object{{"region", region}};
  input["artifacts"] = json::object{{"configBucket", bucket}, {"parameterPrefix", prefix}};
  return input;
}

}  // namespace hpd::hyperpod
