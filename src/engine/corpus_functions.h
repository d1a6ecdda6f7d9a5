// The Lambda functions the AWS-recorded conformance corpus calls (../shared/conformance, README
// "Cases needing a Lambda-like function"), as local functions with the behaviour AWS saw:
//
//   handler file (LocalStack tests)                       behaviour
//   services/lambdafunctions/id_function.py               returns its event
//   errorhandling/lambdafunctions/raise_exception.py      raises Exception("Some exception was
//                                                         raised."), Python traceback as recorded
//   errorhandling/lambdafunctions/raise_custom_exception.py  raises CustomException, message ""
//   errorhandling/lambdafunctions/large_output_string.py  returns 257 KiB of "a" (a JSON string)
//   timeouts/lambdafunctions/wait_60_seconds.py           returns its event after 60 s of
//                                                         simulated time (never sleeps)
//   services/lambdafunctions/return_bytes_str.py          returns the JSON string "HelloWorld!"
//   lambda_functions/base/echo_function.py                returns {"Return": "HelloWorld"}
//
// A case lists the functions it needs in "lambda_functions": [{"placeholder", "handler_file",
// ...}]; its definition and input name them by placeholder, so that is the name they are
// registered under.
#ifndef HPD_ENGINE_CORPUS_FUNCTIONS_H_
#define HPD_ENGINE_CORPUS_FUNCTIONS_H_

#include <array>
#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/local_functions.h"

namespace hpd::engine {

enum class CorpusBehaviour {
  kIdentity,
  kRaiseException,
  kRaiseCustomException,
  kLargeOutput,
  kWait60Seconds,
  kReturnBytesString,
  kEcho,
};

// Every behaviour, in declaration order.
inline constexpr std::array kAllCorpusBehaviours = {
    CorpusBehaviour::kIdentity,
    CorpusBehaviour::kRaiseException,
    CorpusBehaviour::kRaiseCustomException,
    CorpusBehaviour::kLargeOutput,
    CorpusBehaviour::kWait60Seconds,
    CorpusBehaviour::kReturnBytesString,
    CorpusBehaviour::kEcho,
};

// 257 KiB: one KiB over Step Functions' 256 KiB payload limit.
inline constexpr size_t kLargeOutputLength = 257 * 1024;
inline constexpr Duration kSlowFunctionRunTime = std::chrono::seconds(60);

// "identity", "raise_exception", ... (for messages).
std::string_view CorpusBehaviourName(CorpusBehaviour behaviour);

// The behaviour of a LocalStack handler file, matched by its base name ("id_function.py");
// nullopt for a file this module does not know.
std::optional<CorpusBehaviour> CorpusBehaviourForHandlerFile(std::string_view handler_file);

// Registers `name` with `behaviour`'s handler and options (stack trace, run time). Fails as
// LocalFunctions::Register does.
[[nodiscard]] Status RegisterCorpusFunction(LocalFunctions& functions, std::string name,
                                            CorpusBehaviour behaviour);

// One entry of a case's "lambda_functions": the function the case calls, by placeholder.
struct CaseFunction {
  std::string placeholder;
  CorpusBehaviour behaviour = CorpusBehaviour::kIdentity;
};

// Reads a case's "lambda_functions" array (null: none). kInvalidArgument for a malformed entry
// or a handler file with no local behaviour.
[[nodiscard]] StatusOr<std::vector<CaseFunction>> ParseCaseFunctions(
    const boost::json::value& lambda_functions);

// The name a server hosting the whole corpus gives `function`: "<placeholder>-<behaviour>",
// since the corpus binds one placeholder to different handlers in different cases. A client
// writes it where the case's definition and input have the placeholder.
std::string CorpusServedName(const CaseFunction& function);

// Registers the functions of every case (*.json) under `cases_dir`, each under
// CorpusServedName; returns how many. kNotFound for a missing folder; errors of
// ParseCaseFunctions and Register name the case file.
[[nodiscard]] StatusOr<size_t> RegisterCorpusFunctions(LocalFunctions& functions,
                                                       const std::filesystem::path& cases_dir);

// Registers every entry of a case's "lambda_functions" array under its "placeholder". A
// placeholder listed twice with the same handler is registered once. kInvalidArgument for a
// malformed entry, an unknown handler file, or one placeholder bound to two behaviours;
// kAlreadyExists if a placeholder is already registered with `functions`.
[[nodiscard]] Status RegisterCaseFunctions(LocalFunctions& functions,
                                           const boost::json::value& lambda_functions);

}  // namespace hpd::engine

#endif  // HPD_ENGINE_CORPUS_FUNCTIONS_H_
