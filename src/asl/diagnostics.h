// Validation diagnostics in the shape of Step Functions ValidateStateMachineDefinition:
//   {"result": "OK"|"FAIL", "diagnostics": [{"severity", "code", "message", "location"}]}
// `location` is a JSON Pointer (RFC 6901) to the offending field, e.g.
// "/States/Prepare/Retry/0/BackoffRate".
#ifndef HPD_ASL_DIAGNOSTICS_H_
#define HPD_ASL_DIAGNOSTICS_H_

#include <string>
#include <string_view>
#include <vector>

namespace hpd::asl {

enum class Severity { kError, kWarning };

// Diagnostic codes as AWS documents them (API_ValidateStateMachineDefinitionDiagnostic).
namespace codes {
// Errors.
inline constexpr std::string_view kInvalidJsonDescription = "INVALID_JSON_DESCRIPTION";
inline constexpr std::string_view kMissingDescription = "MISSING_DESCRIPTION";
inline constexpr std::string_view kSchemaValidationFailed = "SCHEMA_VALIDATION_FAILED";
inline constexpr std::string_view kInvalidResource = "INVALID_RESOURCE";
inline constexpr std::string_view kMissingEndState = "MISSING_END_STATE";
inline constexpr std::string_view kDuplicateStateName = "DUPLICATE_STATE_NAME";
inline constexpr std::string_view kInvalidStateName = "INVALID_STATE_NAME";
inline constexpr std::string_view kDuplicateLabelName = "DUPLICATE_LABEL_NAME";
inline constexpr std::string_view kInvalidLabelName = "INVALID_LABEL_NAME";
inline constexpr std::string_view kMissingTransitionTarget = "MISSING_TRANSITION_TARGET";
inline constexpr std::string_view kTooDeeplyNested = "TOO_DEEPLY_NESTED";
// Warnings.
inline constexpr std::string_view kNoDollar = "NO_DOLLAR";
inline constexpr std::string_view kNoPath = "NO_PATH";
inline constexpr std::string_view kPassResultIsStatic = "PASS_RESULT_IS_STATIC";
}  // namespace codes

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;
  std::string message;
  std::string location;  // JSON Pointer; "" for the whole document
};

bool HasErrors(const std::vector<Diagnostic>& diagnostics);

// {"result": "OK"|"FAIL", "diagnostics": [...]} as compact JSON; result is FAIL iff any error.
std::string DiagnosticsToJson(const std::vector<Diagnostic>& diagnostics);

// One line per diagnostic: "ERROR SCHEMA_VALIDATION_FAILED at /States/A/Next: message".
std::string DiagnosticsToText(const std::vector<Diagnostic>& diagnostics);

std::string_view SeverityName(Severity severity);  // "ERROR" | "WARNING"

}  // namespace hpd::asl

#endif  // HPD_ASL_DIAGNOSTICS_H_
