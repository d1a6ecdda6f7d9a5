// A port of the conformance corpus's reference normaliser and comparer
// (../shared/conformance/tools/normalize.py), step for step, so that an engine's history can be
// checked against the AWS-recorded cases without Python.
//
// NormalizeHistory turns a GetExecutionHistory-shaped document ({"events": [...]}, payloads as
// JSON strings, timestamps as numbers) into the shape and placeholder vocabulary of a case's
// "expected.events": one level of JSON-string parsing, SDK metadata, causes with embedded input,
// the Parallel-branch sorting quirk, timestamps, then text replacements on the json.dumps text
// (role ARN, request ids, test literals, state machine and execution names, map-run ARNs,
// account, region, partition, UUIDs bound to <uuid:N>, ISO dates). On top of normalize.py it
// applies what the README asks for and the reference CLI leaves out: the case's own
// regex_replacements and its snapshot_transformers.
//
// Comparer is normalize.py's compare(): JSON text and values compare decoded, <uuid:N>-style
// placeholders bind consistently, locations are reported as normalize.py prints them.
#ifndef HPD_TOOLS_ASL_CONFORMANCE_NORMALIZE_H_
#define HPD_TOOLS_ASL_CONFORMANCE_NORMALIZE_H_

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "asl_conformance/json_path.h"
#include "common/status.h"

namespace hpd::conformance {

// A LocalStack RegexTransformer: a Python regular expression and its replacement, applied to
// the serialised snapshot. Patterns without metacharacters are plain text replacements.
struct RegexReplacement {
  std::string pattern;
  std::string replacement;
};

// A LocalStack JsonpathTransformer: every value `path` selects becomes `replacement`; with
// replace_reference, every occurrence of a selected (string) value anywhere becomes
// "<replacement:N>" instead.
struct JsonPathTransformer {
  JsonPathPattern path;
  std::string replacement;
  bool replace_reference = true;
};

struct NormalizeOptions {
  std::string sm_name;     // --sm-name
  std::string exec_name;   // --exec-name
  std::string role_arn;    // --role-arn
  std::string account;     // --account
  std::string region;      // --region
  std::string partition = "aws";
  // --lambda REAL=PLACEHOLDER, literal replacements in this order.
  std::vector<std::pair<std::string, std::string>> lambdas;
  // The case's regex_replacements, applied right after `lambdas`.
  std::vector<RegexReplacement> regex_replacements;
  std::vector<std::string> map_run_arns;  // --map-run-arn, in order
  bool parallel = false;                  // the case's notes mention "Parallel-branch events"
  // The case's snapshot_transformers, applied last (on the normalised history shape).
  std::vector<JsonPathTransformer> transformers;
  bool decode_output_strings = false;     // the corpus's GenericTransformer on 'output' fields
};

// normalize.py's normalize(). kInvalidArgument when `history` has no "events" array or the text
// replacements leave invalid JSON (where normalize.py would raise).
StatusOr<boost::json::array> NormalizeHistory(const boost::json::value& history,
                                              const NormalizeOptions& options);

struct Difference {
  Location location;
  std::string message;  // "expected X, got Y", "missing", "unexpected", "length 3 != 4", ...
};

// normalize.py's compare(). One Comparer keeps one set of placeholder bindings across calls.
class Comparer {
 public:
  // Appends the differences between `expected` and `actual`, located below `at`.
  void Compare(const boost::json::value& expected, const boost::json::value& actual,
               const Location& at = {});

  const std::vector<Difference>& differences() const { return differences_; }

 private:
  std::map<std::string, std::string, std::less<>> binds_;
  std::vector<Difference> differences_;
};

// normalize.py's WILDCARD: "<uuid:3>", "<json-input:1>", "<LogResult:1>", "<request_id>", ...
bool IsBindablePlaceholder(std::string_view text);

// Length of the ISO-8601 date-time (normalize.py's ISO8601 pattern) starting at text[pos], or 0.
size_t MatchIso8601(std::string_view text, size_t pos);

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_NORMALIZE_H_
