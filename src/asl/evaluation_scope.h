// What the JSONPath-language evaluators read from: the document "$" stands for, the context
// object "$$", the workflow variables "$name" and the random source of States.UUID and
// States.MathRandom.
//
// A scope borrows everything it points to; the caller keeps those alive for as long as the
// scope is used. A scope is a cheap value: copy it and change `input` to evaluate a field
// against another document (e.g. ResultSelector against the task result).
#ifndef HPD_ASL_EVALUATION_SCOPE_H_
#define HPD_ASL_EVALUATION_SCOPE_H_

#include <boost/json/fwd.hpp>
#include <functional>
#include <string_view>

#include "common/random.h"

namespace hpd::asl {

struct EvaluationScope {
  const boost::json::value* input = nullptr;    // "$"
  const boost::json::value* context = nullptr;  // "$$": the context object
  std::function<const boost::json::value*(std::string_view name)> variable;  // "$name"
  RandomSource* random = nullptr;
};

class JsonPath;

// The document a path is evaluated against: scope.input for "$", scope.context for "$$", the
// variable's value for "$name". nullptr when the scope has no such document (no context object,
// an undefined variable).
const boost::json::value* PathRoot(const JsonPath& path, const EvaluationScope& scope);

}  // namespace hpd::asl

#endif  // HPD_ASL_EVALUATION_SCOPE_H_
