#include "asl/evaluation_scope.h"

#include "asl/path.h"

namespace hpd::asl {

const boost::json::value* PathRoot(const JsonPath& path, const EvaluationScope& scope) {
  switch (path.root()) {
    case JsonPath::Root::kInput:
      return scope.input;
    case JsonPath::Root::kContext:
      return scope.context;
    case JsonPath::Root::kVariable:
      return scope.variable ? scope.variable(path.variable_name()) : nullptr;
  }
  return nullptr;
}

}  // namespace hpd::asl
