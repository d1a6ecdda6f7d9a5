#include "engine/corpus_functions.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "common/json.h"

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
  options.local_only = true;  // they compute their result, nothing else
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

StatusOr<std::vector<CaseFunction>> ParseCaseFunctions(const json::value& lambda_functions) {
  std::vector<CaseFunction> out;
  if (lambda_functions.is_null()) return out;
  const json::array* entries = lambda_functions.if_array();
  if (entries == nullptr) return InvalidArgumentError("\"lambda_functions\" is not an array");
  for (const json::value& entry : *entries) {
    const json::object* fields = entry.if_object();
    const json::value* placeholder = fields ? fields->if_contains("placeholder") : nullptr;
    const json::value* handler = fields ? fields->if_contains("handler_file") : nullptr;
    if (placeholder == nullptr || !placeholder->is_string() || handler == nullptr ||
        !handler->is_string()) {
      return InvalidArgumentError(
          "a \"lambda_functions\" entry needs string \"placeholder\" and \"handler_file\"");
    }
    const auto behaviour = CorpusBehaviourForHandlerFile(handler->get_string());
    if (!behaviour) {
      return InvalidArgumentError("no local behaviour for Lambda handler file \"" +
                                  std::string(handler->get_string()) + "\"");
    }
    out.push_back(CaseFunction{std::string(placeholder->get_string()), *behaviour});
  }
  return out;
}

std::string CorpusServedName(const CaseFunction& function) {
  return function.placeholder + "-" + std::string(CorpusBehaviourName(function.behaviour));
}

StatusOr<size_t> RegisterCorpusFunctions(LocalFunctions& functions,
                                         const std::filesystem::path& cases_dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(cases_dir, error)) {
    return NotFoundError(cases_dir.string() + " is not a directory");
  }
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(cases_dir, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  if (error) return UnknownError("listing " + cases_dir.string() + ": " + error.message());
  std::sort(files.begin(), files.end());
  std::map<std::string, CorpusBehaviour> served;  // the name fixes the behaviour
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return NotFoundError("cannot read " + file.string());
    StatusOr<json::value> doc = ParseJson(text.str());
    if (!doc.ok()) return doc.status().WithContext(file.string());
    const json::object* fields = doc->if_object();
    const json::value* list = fields ? fields->if_contains("lambda_functions") : nullptr;
    if (list == nullptr) continue;
    StatusOr<std::vector<CaseFunction>> parsed = ParseCaseFunctions(*list);
    if (!parsed.ok()) return parsed.status().WithContext(file.string());
    for (const CaseFunction& function : *parsed) {
      served.emplace(CorpusServedName(function), function.behaviour);
    }
  }
  for (const auto& [name, behaviour] : served) {
    HPD_RETURN_IF_ERROR(RegisterCorpusFunction(functions, name, behaviour));
  }
  return served.size();
}

Status RegisterCaseFunctions(LocalFunctions& functions, const json::value& lambda_functions) {
  HPD_ASSIGN_OR_RETURN(std::vector<CaseFunction> parsed, ParseCaseFunctions(lambda_functions));
  std::map<std::string, CorpusBehaviour, std::less<>> wanted;
  for (const CaseFunction& function : parsed) {
    auto [it, inserted] = wanted.emplace(function.placeholder, function.behaviour);
    if (!inserted && it->second != function.behaviour) {
      return InvalidArgumentError("Lambda placeholder \"" + function.placeholder +
                                  "\" is bound to both " +
                                  std::string(CorpusBehaviourName(it->second)) + " and " +
                                  std::string(CorpusBehaviourName(function.behaviour)));
    }
  }
  for (const auto& [name, behaviour] : wanted) {
    HPD_RETURN_IF_ERROR(RegisterCorpusFunction(functions, name, behaviour));
  }
  return Status::Ok();
}

}  // namespace hpd::engine
