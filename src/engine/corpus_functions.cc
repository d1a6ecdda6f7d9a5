#include "engine/corpus_functions.h"

#include <array>
#include <map>
#include <utility>

#include <boost/json.hpp>

namespace hpd::engine {
namespace {

namespace json = boost::json;

struct BehaviourInfo {
  CorpusBehaviour behaviour;
  std::string_view name;
  std::string_view handler_file;  // base name
};

constexpr std::array kBehaviours = {
    BehaviourInfo{CorpusBehaviour::kIdentity, "identity", "id_function.py"},
    BehaviourInfo{CorpusBehaviour::kRaiseException, "raise_exception", "raise_exception.py"},
    BehaviourInfo{CorpusBehaviour::kRaiseCustomException, "raise_custom_exception",
                  "raise_custom_exception.py"},
    BehaviourInfo{CorpusBehaviour::kLargeOutput, "large_output", "large_output_string.py"},
    BehaviourInfo{CorpusBehaviour::kWait60Seconds, "wait_60_seconds", "wait_60_seconds.py"},
    BehaviourInfo{CorpusBehaviour::kReturnBytesString, "return_bytes_str", "return_bytes_str.py"},
    BehaviourInfo{CorpusBehaviour::kEcho, "echo", "echo_function.py"},
};

// The Python tracebacks AWS recorded for the raising handlers (handler.py in /var/task).
constexpr std::string_view kRaiseExceptionTrace =
    "  File \"/var/task/handler.py\", line 2, in handler\n"
    "    raise Exception(\"Some exception was raised.\")\n";
constexpr std::string_view kRaiseCustomExceptionTrace =
    "  File \"/var/task/handler.py\", line 9, in handler\n"
    "    raise CustomException()\n";

Status Raise(std::string_view type, std::string message) {
  Status status = UnknownError(std::move(message));
  status.SetErrorName(std::string(type));
  return status;
}

LambdaHandler HandlerFor(CorpusBehaviour behaviour) {
  switch (behaviour) {
    case CorpusBehaviour::kIdentity:
    case CorpusBehaviour::kWait60Seconds:
      return [](const json::value& event, const LambdaContext&) -> StatusOr<json::value> {
        return event;
      };
    case CorpusBehaviour::kRaiseException:
      return [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
        return Raise("Exception", "Some exception was raised.");
      };
    case CorpusBehaviour::kRaiseCustomException:
      return [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
        return Raise("CustomException", "");
      };
    case CorpusBehaviour::kLargeOutput:
      return [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
        return json::value(json::string(kLargeOutputLength, 'a'));
      };
    case CorpusBehaviour::kReturnBytesString:
      return [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
        return json::value("HelloWorld!");
      };
    case CorpusBehaviour::kEcho:
      return [](const json::value&, const LambdaContext&) -> StatusOr<json::value> {
        return json::value(json::object{{"Return", "HelloWorld"}});
      };
  }
  return nullptr;
}

FunctionOptions OptionsFor(CorpusBehaviour behaviour) {
  FunctionOptions options;
  if (behaviour == CorpusBehaviour::kRaiseException) {
    options.stack_trace.emplace_back(kRaiseExceptionTrace);
  } else if (behaviour == CorpusBehaviour::kRaiseCustomException) {
    options.stack_trace.emplace_back(kRaiseCustomExceptionTrace);
  } else if (behaviour == CorpusBehaviour::kWait60Seconds) {
    options.run_time = kSlowFunctionRunTime;
  }
  return options;
}

}  // namespace

std::string_view CorpusBehaviourName(CorpusBehaviour behaviour) {
  for (const auto& info : kBehaviours) {
    if (info.behaviour == behaviour) return info.name;
  }
  return "unknown";
}

std::optional<CorpusBehaviour> CorpusBehaviourForHandlerFile(std::string_view handler_file) {
  const size_t slash = handler_file.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? handler_file : handler_file.substr(slash + 1);
  for (const auto& info : kBehaviours) {
    if (info.handler_file == base) return info.behaviour;
  }
  return std::nullopt;
}

Status RegisterCorpusFunction(LocalFunctions& functions, std::string name,
                              CorpusBehaviour behaviour) {
  return functions.Register(std::move(name), HandlerFor(behaviour), OptionsFor(behaviour));
}

Status RegisterCaseFunctions(LocalFunctions& functions, const json::value& lambda_functions) {
  if (lambda_functions.is_null()) return Status::Ok();
  const json::array* entries = lambda_functions.if_array();
  if (entries == nullptr) return InvalidArgumentError("\"lambda_functions\" is not an array");
  std::map<std::string, CorpusBehaviour, std::less<>> wanted;
  for (const json::value& entry : *entries) {
    const json::object* fields = entry.if_object();
    const json::value* placeholder = fields ? fields->if_contains("placeholder") : nullptr;
    const json::value* handler = fields ? fields->if_contains("handler_file") : nullptr;
    if (placeholder == nullptr || !placeholder->is_string() || handler == nullptr ||
        !handler->is_string()) {
      return InvalidArgumentError(
          "a \"lambda_functions\" entry needs string \"placeholder\" and \"handler_file\"");
    }
    const std::string name(placeholder->get_string());
    const auto behaviour = CorpusBehaviourForHandlerFile(handler->get_string());
    if (!behaviour) {
      return InvalidArgumentError("no local behaviour for Lambda handler file \"" +
                                  std::string(handler->get_string()) + "\"");
    }
    auto [it, inserted] = wanted.emplace(name, *behaviour);
    if (!inserted && it->second != *behaviour) {
      return InvalidArgumentError("Lambda placeholder \"" + name + "\" is bound to both " +
                                  std::string(CorpusBehaviourName(it->second)) + " and " +
                                  std::string(CorpusBehaviourName(*behaviour)));
    }
  }
  for (const auto& [name, behaviour] : wanted) {
    HPD_RETURN_IF_ERROR(RegisterCorpusFunction(functions, name, behaviour));
  }
  return Status::Ok();
}

}  // namespace hpd::engine
