// The JSONPath-language data-flow fields of a state, as pure functions over JSON values:
// InputPath, Parameters/ResultSelector/ItemSelector/Credentials (payload templates), ResultPath,
// OutputPath and JSONPath Assign. A state runs them in the order AWS documents:
//
//   effective input  = Parameters(InputPath(raw input))
//   result           = the state's work (Pass: Result, else the effective input)
//   effective result = ResultSelector(result)
//   bindings         = Assign(effective result), evaluated but not yet applied
//   output           = OutputPath(ResultPath(raw input, effective result))
// and only then are the bindings applied, so OutputPath (like every field of the state) still sees
// the variables as they were when the state was entered.
//
// Preconditions: scope.input is set (the document the function's comment names).
//
// Errors. A failure that Step Functions reports as a state failure comes back as a Status with
// code kInvalidArgument whose error_name() is the ASL error (kStatesRuntime,
// kStatesResultPathMatchFailure) and whose message() is the cause text Step Functions records
// after its per-state prefix; the engine builds the full cause with StateErrorCause(), e.g.
//   "An error occurred while executing the state 'pass' (entered at the event id #2). "
//   "Invalid path '$.NoSuchInputPath' : No results for path: $['NoSuchInputPath']"
// Errors of intrinsic functions come from EvaluateIntrinsic (intrinsic_eval.h) unchanged.
// kUnimplemented (no error name) for a JSONata template handed to these JSONPath functions.
//
// Thread-safety: the functions are pure; they read the state and the scope's documents, which the
// caller keeps alive and unchanged during the call.
#ifndef HPD_ASL_DATA_FLOW_H_
#define HPD_ASL_DATA_FLOW_H_

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "asl/definition.h"
#include "asl/evaluation_scope.h"
#include "asl/path.h"
#include "common/status.h"

namespace hpd::asl {

inline constexpr std::string_view kStatesRuntime = "States.Runtime";
inline constexpr std::string_view kStatesResultPathMatchFailure = "States.ResultPathMatchFailure";

// The cause Step Functions records for a failure inside a state:
// "An error occurred while executing the state '<state_name>' (entered at the event id
// #<entered_event_id>). <detail>".
std::string StateErrorCause(std::string_view state_name, int64_t entered_event_id,
                            std::string_view detail);

// What a path selects, without copying the document: a definite path selects its node or nothing;
// an indefinite path (wildcards, slices, filters, "..") always selects the array of its matches,
// possibly empty, as Jayway JsonPath returns a list for such paths.
class PathSelection {
 public:
  bool found() const { return node_ != nullptr || indefinite_; }
  // Precondition: found().
  const boost::json::value& value() const { return indefinite_ ? matches_ : *node_; }

 private:
  friend PathSelection SelectPath(const JsonPath& path, const EvaluationScope& scope);
  const boost::json::value* node_ = nullptr;
  bool indefinite_ = false;
  boost::json::value matches_;
};

PathSelection SelectPath(const JsonPath& path, const EvaluationScope& scope);

// Why a definite path selected nothing from `root`, in Jayway JsonPath's words (which Step
// Functions passes on): "No results for path: $['a']['b']", "Missing property in path $['a']",
// "Expected to find an object with property ['b'] in path $['a'] but found '...'. ...",
// "Filter: [0] can only be applied to arrays. Current context is: ...". Paths are rendered in
// Jayway's bracket notation, relative to their document:
// "$$.Execution.Id" -> "$['Execution']['Id']".
std::string DescribePathMiss(const JsonPath& path, const boost::json::value* root);

// The value of a path-valued field (a ".$" field of a template, ErrorPath, CausePath, ...):
// SelectPath's value, or States.Runtime "The JSONPath '<path>' specified for the field
// '<field_name>' could not be found in the input '<scope.input as compact JSON>'" when a definite
// path selects nothing; scope.input is quoted for "$$" and "$name" paths too. `field_name` as
// written in the definition, e.g. "value.$" or "ErrorPath".
StatusOr<boost::json::value> EvaluatePathField(const JsonPath& path, std::string_view field_name,
                                               const EvaluationScope& scope);
// The same for a field whose name AWS quotes as `field_name` + `suffix` (a payload template's
// "key" + ".$"), joined only when the error message needs it.
StatusOr<boost::json::value> EvaluatePathField(const JsonPath& path, std::string_view field_name,
                                               std::string_view suffix,
                                               const EvaluationScope& scope);

// InputPath applied to the raw state input (scope.input): absent -> the input unchanged;
// null -> {}; a path -> what it selects ("$$" and "$name" paths read the context object and the
// variables). A definite path that selects nothing fails with States.Runtime
// "Invalid path '<path>' : <DescribePathMiss>".
StatusOr<boost::json::value> ApplyInputPath(const State& state, const EvaluationScope& scope);

// A JSONPath payload template (Parameters, ResultSelector, ItemSelector, Credentials, the legacy
// Map Parameters) evaluated against scope.input: literals are copied; "key.$" fields take what
// their path selects (EvaluatePathField, field named "key.$") or what their intrinsic call
// returns (EvaluateIntrinsic); objects nested in arrays are templates too. Member order follows
// the definition.
StatusOr<boost::json::value> EvaluateTemplate(const ValueTemplate& value_template,
                                              const EvaluationScope& scope);

// ResultPath: writes `result` into a copy of `raw_input` (the state's raw input, before
// InputPath). spec.discard ("ResultPath": null) -> raw_input unchanged; no path or "$" -> result;
// "$.a.b" -> raw_input with a.b set, creating missing intermediate objects; an index ("$.a[1]")
// replaces an existing element. Fails with States.ResultPathMatchFailure "Unable to apply
// ReferencePath <path> to input <raw_input as compact JSON>" when the path runs into a value that
// is not an object (for a name) or not an array long enough (for an index), including a raw input
// that is not an object.
StatusOr<boost::json::value> ApplyResultPath(const boost::json::value& raw_input,
                                             boost::json::value result, const ResultPathSpec& spec);
// The same, consuming `raw_input` (no copy of the document). On failure `raw_input` is left
// unchanged, so that a Catcher can still use it.
StatusOr<boost::json::value> ApplyResultPath(boost::json::value&& raw_input,
                                             boost::json::value result, const ResultPathSpec& spec);

// OutputPath applied to the state output after ResultPath (scope.input): absent -> unchanged;
// null -> {}; a path -> what it selects. Errors as ApplyInputPath.
StatusOr<boost::json::value> ApplyOutputPath(const State& state, const EvaluationScope& scope);
// The same, consuming `input` (the document scope.input points to): without an OutputPath the
// output is `input` itself, moved rather than copied. `input` is left unchanged on failure.
StatusOr<boost::json::value> ApplyOutputPath(const State& state, boost::json::value&& input,
                                             const EvaluationScope& scope);

// JSONPath Assign (`assign` is the compiled Assign object): evaluates every value against the same
// scope, as a payload template, and returns the new bindings (variable name -> value, names without
// ".$", in definition order). Nothing is assigned here: the caller applies all bindings after the
// state's other fields, so every value sees the variables as they were before the state. For
// Task/Parallel/Map scope.input is the effective result (after ResultSelector), for Pass the
// result, for Choice and Wait the effective input. Errors as EvaluateTemplate.
StatusOr<boost::json::object> EvaluateAssign(const ValueTemplate& assign,
                                             const EvaluationScope& scope);

}  // namespace hpd::asl

#endif  // HPD_ASL_DATA_FLOW_H_
