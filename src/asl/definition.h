// The parsed, validated model of an Amazon States Language definition.
//
// Produced only by ParseDefinition (parser.h), which guarantees the invariants documented here
// when it returns a machine: every transition target exists in its scope, exactly one of
// Next/End is set where required, paths and intrinsic calls are compiled, numbers are in range.
// Immutable after construction and safe to share between threads.
#ifndef HPD_ASL_DEFINITION_H_
#define HPD_ASL_DEFINITION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/json/value.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include "asl/intrinsic.h"
#include "asl/path.h"

namespace hpd::asl {

enum class QueryLanguage { kJsonPath, kJsonata };
enum class StateType { kTask, kPass, kChoice, kWait, kSucceed, kFail, kParallel, kMap };

std::string_view StateTypeName(StateType type);  // "Task", "Pass", ...
std::string_view QueryLanguageName(QueryLanguage language);  // "JSONPath" | "JSONata"

// A JSON value in which some parts are computed at run time: Parameters, ResultSelector,
// ItemSelector, Credentials, Assign (JSONPath: keys ending in ".$"), and Arguments, Output,
// Assign (JSONata: "{% expr %}" strings). Subtrees without dynamic parts are kept as literals.
struct ValueTemplate {
  enum class Kind { kLiteral, kObject, kArray, kPath, kIntrinsic, kJsonata };
  struct Field;

  Kind kind = Kind::kLiteral;
  boost::json::value literal;                     // kLiteral
  std::vector<Field> fields;                      // kObject, in document order
  std::vector<ValueTemplate> items;               // kArray
  std::shared_ptr<const JsonPath> path;           // kPath
  std::shared_ptr<const IntrinsicCall> intrinsic; // kIntrinsic
  std::string jsonata;                            // kJsonata: the expression inside {% %}
  std::string source;  // kPath/kIntrinsic: the text as written, which AWS quotes in errors

  bool IsDynamic() const { return kind != Kind::kLiteral; }
};

struct ValueTemplate::Field {
  std::string name;  // output key, without any ".$" suffix
  ValueTemplate value;
};

// A number field that may be given literally, through a path (JSONPath "…Path" fields) or as a
// JSONata expression.
struct DynamicNumber {
  std::optional<double> literal;
  std::shared_ptr<const JsonPath> path;
  std::string jsonata;
  bool IsSet() const { return literal.has_value() || path != nullptr || !jsonata.empty(); }
};

// A string field with the same three forms (Fail Error/Cause, Wait Timestamp).
struct DynamicString {
  std::optional<std::string> literal;
  std::shared_ptr<const JsonPath> path;
  std::shared_ptr<const IntrinsicCall> intrinsic;  // ErrorPath/CausePath may be intrinsic calls
  std::string jsonata;
  bool IsSet() const {
    return literal.has_value() || path != nullptr || intrinsic != nullptr || !jsonata.empty();
  }
};

enum class JitterStrategy { kNone, kFull };

struct Retrier {
  std::vector<std::string> error_equals;
  int64_t interval_seconds = 1;
  int64_t max_attempts = 3;
  double backoff_rate = 2.0;
  std::optional<int64_t> max_delay_seconds;
  JitterStrategy jitter = JitterStrategy::kNone;
};

// ResultPath: absent means "$" (replace input), null means "discard the result".
struct ResultPathSpec {
  bool discard = false;                   // ResultPath: null
  std::shared_ptr<const JsonPath> path;   // nullptr and !discard: default "$"
};

struct Catcher {
  std::vector<std::string> error_equals;
  std::string next;
  ResultPathSpec result_path;                // JSONPath
  std::optional<ValueTemplate> output;       // JSONata
  std::optional<ValueTemplate> assign;
};

enum class ComparisonOperator {
  kStringEquals, kStringLessThan, kStringGreaterThan, kStringLessThanEquals,
  kStringGreaterThanEquals, kStringMatches,
  kNumericEquals, kNumericLessThan, kNumericGreaterThan, kNumericLessThanEquals,
  kNumericGreaterThanEquals,
  kBooleanEquals,
  kTimestampEquals, kTimestampLessThan, kTimestampGreaterThan, kTimestampLessThanEquals,
  kTimestampGreaterThanEquals,
  kIsNull, kIsPresent, kIsNumeric, kIsString, kIsBoolean, kIsTimestamp,
};

struct ChoiceRule {
  enum class Kind { kComparison, kAnd, kOr, kNot, kCondition };
  Kind kind = Kind::kComparison;
  // kComparison
  std::shared_ptr<const JsonPath> variable;
  ComparisonOperator op = ComparisonOperator::kStringEquals;
  boost::json::value operand;                   // literal operand
  std::shared_ptr<const JsonPath> operand_path; // set for the "…Path" forms
  // kAnd / kOr / kNot
  std::vector<ChoiceRule> children;
  // kCondition (JSONata): a boolean literal or an expression
  std::optional<bool> condition_literal;
  std::string condition;
  // Top-level rules only.
  std::string next;
  std::optional<ValueTemplate> output;  // JSONata
  std::optional<ValueTemplate> assign;
};

struct StateMachine;

// Lets string-keyed maps be searched with a std::string_view without building a std::string.
struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

enum class MapMode { kInline, kDistributed };
enum class MapExecutionType { kStandard, kExpress };

struct State {
  std::string name;
  StateType type = StateType::kPass;
  QueryLanguage query_language = QueryLanguage::kJsonPath;
  std::string comment;

  // Transition: exactly one of next / end for non-terminal types other than Choice.
  std::string next;
  bool end = false;

  // JSONPath data flow.
  std::shared_ptr<const JsonPath> input_path;  // nullptr: "$"; see input_path_null
  bool input_path_null = false;                // InputPath: null -> {}
  std::shared_ptr<const JsonPath> output_path;
  bool output_path_null = false;
  std::optional<ValueTemplate> parameters;       // Parameters (Task/Pass/Parallel, Map legacy)
  std::optional<ValueTemplate> result_selector;  // Task/Parallel/Map
  ResultPathSpec result_path;
  // JSONata data flow.
  std::optional<ValueTemplate> arguments;
  std::optional<ValueTemplate> output;
  // Both.
  std::optional<ValueTemplate> assign;

  // Pass
  std::optional<boost::json::value> result;

  // Task
  std::string resource;
  DynamicNumber timeout_seconds;
  DynamicNumber heartbeat_seconds;
  std::optional<ValueTemplate> credentials;
  std::vector<Retrier> retry;   // Task, Parallel, Map
  std::vector<Catcher> catch_;  // Task, Parallel, Map

  // Choice
  std::vector<ChoiceRule> choices;
  std::string default_next;

  // Wait: one of the four forms.
  DynamicNumber seconds;
  DynamicString timestamp;

  // Fail
  DynamicString error;
  DynamicString cause;

  // Parallel
  std::vector<std::shared_ptr<const StateMachine>> branches;

  // Map
  std::shared_ptr<const StateMachine> item_processor;  // ItemProcessor or legacy Iterator
  MapMode map_mode = MapMode::kInline;
  MapExecutionType map_execution_type = MapExecutionType::kStandard;
  std::shared_ptr<const JsonPath> items_path;
  std::optional<ValueTemplate> items;          // JSONata Items
  std::optional<ValueTemplate> item_selector;  // ItemSelector, or legacy Parameters
  DynamicNumber max_concurrency;
  DynamicNumber tolerated_failure_count;
  DynamicNumber tolerated_failure_percentage;
  std::optional<boost::json::value> item_reader;    // kept as written; run by later issues
  std::optional<boost::json::value> item_batcher;
  std::optional<boost::json::value> result_writer;
  std::string label;

  // Whether any field reads the context object "$$" (set by the parser; an interpreter builds
  // $$ only for such states).
  bool reads_context = false;
  // Whether the effective task input (InputPath, then Parameters) is the same on every attempt
  // of the state: nothing reads "$$" (its State.RetryCount changes) and Parameters draw no
  // random value (States.UUID, States.MathRandom). Set by the parser; an interpreter may then
  // reuse the first attempt's input for the retries.
  bool parameters_repeatable = false;
};

// Computes State::reads_context from the state's compiled fields.
bool StateReadsContext(const State& state);
// Computes State::parameters_repeatable (after reads_context).
bool StateParametersRepeatable(const State& state);

// A scope of states: the top level, a Parallel branch, or a Map item processor.
struct StateMachine {
  std::string comment;
  std::string start_at;
  QueryLanguage query_language = QueryLanguage::kJsonPath;
  std::optional<int64_t> timeout_seconds;  // top level only
  std::string version;                     // top level only
  std::vector<State> states;               // document order
  std::unordered_map<std::string, size_t, TransparentStringHash, std::equal_to<>>
      index;  // name -> position in states

  // Every transition name in this scope (StartAt, each state's Next and Default, each Choice
  // rule's and Catcher's Next), by the address of the string holding it, to its state: the
  // interpreter follows a transition without hashing the name. Filled by the parser once the
  // scope is complete (IndexTransitions); states never move afterwards.
  boost::unordered_flat_map<const std::string*, const State*> transitions;

  // The state `name` (a transition string of this scope, or any name) names, or null.
  const State* Transition(const std::string& name) const {
    auto it = transitions.find(&name);
    return it != transitions.end() ? it->second : Find(name);
  }
  void IndexTransitions();

  const State* Find(std::string_view name) const {
    auto it = index.find(name);
    return it == index.end() ? nullptr : &states[it->second];
  }
};

}  // namespace hpd::asl

#endif  // HPD_ASL_DEFINITION_H_
