#include "asl/definition.h"

namespace hpd::asl {

std::string_view StateTypeName(StateType type) {
  switch (type) {
    case StateType::kTask: return "Task";
    case StateType::kPass: return "Pass";
    case StateType::kChoice: return "Choice";
    case StateType::kWait: return "Wait";
    case StateType::kSucceed: return "Succeed";
    case StateType::kFail: return "Fail";
    case StateType::kParallel: return "Parallel";
    case StateType::kMap: return "Map";
  }
  return "Unknown";
}

std::string_view QueryLanguageName(QueryLanguage language) {
  return language == QueryLanguage::kJsonPath ? "JSONPath" : "JSONata";
}

}  // namespace hpd::asl
