#include "asl/definition.h"

namespace hpd::asl {
namespace {

bool PathUsesContext(const JsonPath* path) {
  return path != nullptr && path->root() == JsonPath::Root::kContext;
}

bool CallUsesContext(const IntrinsicCall& call) {
  for (const auto& arg : call.args) {
    if (arg.is_path() && PathUsesContext(&arg.path())) return true;
    if (arg.is_call() && CallUsesContext(arg.call())) return true;
  }
  return false;
}

bool TemplateUsesContext(const ValueTemplate* t) {
  if (t == nullptr) return false;
  switch (t->kind) {
    case ValueTemplate::Kind::kLiteral:
    case ValueTemplate::Kind::kJsonata:
      return false;
    case ValueTemplate::Kind::kPath:
      return PathUsesContext(t->path.get());
    case ValueTemplate::Kind::kIntrinsic:
      return CallUsesContext(*t->intrinsic);
    case ValueTemplate::Kind::kObject:
      for (const auto& f : t->fields) {
        if (TemplateUsesContext(&f.value)) return true;
      }
      return false;
    case ValueTemplate::Kind::kArray:
      for (const auto& i : t->items) {
        if (TemplateUsesContext(&i)) return true;
      }
      return false;
  }
  return true;
}

bool RuleUsesContext(const ChoiceRule& rule) {
  if (PathUsesContext(rule.variable.get()) || PathUsesContext(rule.operand_path.get())) {
    return true;
  }
  if (rule.assign && TemplateUsesContext(&*rule.assign)) return true;
  for (const auto& child : rule.children) {
    if (RuleUsesContext(child)) return true;
  }
  return false;
}

bool CallDrawsRandom(const IntrinsicCall& call) {
  if (call.function == IntrinsicFunction::kUuid || call.function == IntrinsicFunction::kMathRandom) {
    return true;
  }
  for (const auto& arg : call.args) {
    if (arg.is_call() && CallDrawsRandom(arg.call())) return true;
  }
  return false;
}

bool TemplateDrawsRandom(const ValueTemplate& t) {
  switch (t.kind) {
    case ValueTemplate::Kind::kLiteral:
    case ValueTemplate::Kind::kPath:
      return false;
    case ValueTemplate::Kind::kJsonata:
      return true;  // not evaluated by this engine; never treated as repeatable
    case ValueTemplate::Kind::kIntrinsic:
      return CallDrawsRandom(*t.intrinsic);
    case ValueTemplate::Kind::kObject:
      for (const auto& f : t.fields) {
        if (TemplateDrawsRandom(f.value)) return true;
      }
      return false;
    case ValueTemplate::Kind::kArray:
      for (const auto& i : t.items) {
        if (TemplateDrawsRandom(i)) return true;
      }
      return false;
  }
  return true;
}

template <typename T>
const T* Ptr(const std::optional<T>& o) {
  return o ? &*o : nullptr;
}

}  // namespace

bool StateReadsContext(const State& state) {
  for (const JsonPath* p :
       {state.input_path.get(), state.output_path.get(), state.result_path.path.get(),
        state.items_path.get(), state.seconds.path.get(), state.timestamp.path.get(),
        state.error.path.get(), state.cause.path.get(), state.timeout_seconds.path.get(),
        state.heartbeat_seconds.path.get(), state.max_concurrency.path.get(),
        state.tolerated_failure_count.path.get(), state.tolerated_failure_percentage.path.get()}) {
    if (PathUsesContext(p)) return true;
  }
  for (const ValueTemplate* t :
       {Ptr(state.parameters), Ptr(state.result_selector), Ptr(state.assign),
        Ptr(state.credentials), Ptr(state.item_selector)}) {
    if (TemplateUsesContext(t)) return true;
  }
  if (state.error.intrinsic && CallUsesContext(*state.error.intrinsic)) return true;
  if (state.cause.intrinsic && CallUsesContext(*state.cause.intrinsic)) return true;
  for (const auto& rule : state.choices) {
    if (RuleUsesContext(rule)) return true;
  }
  for (const auto& c : state.catch_) {
    if (c.assign && TemplateUsesContext(&*c.assign)) return true;
  }
  // A Map's ItemSelector reads $$.Map.Item: it always gets the context object.
  return state.type == StateType::kMap;
}


void StateMachine::IndexTransitions() {
  transitions.clear();
  const auto add = [this](const std::string& name) {
    if (const State* target = Find(name)) transitions.emplace(&name, target);
  };
  add(start_at);
  for (const State& state : states) {
    add(state.next);
    add(state.default_next);
    for (const ChoiceRule& rule : state.choices) add(rule.next);
    for (const Catcher& catcher : state.catch_) add(catcher.next);
  }
}

bool StateParametersRepeatable(const State& state) {
  if (state.query_language != QueryLanguage::kJsonPath || state.reads_context) return false;
  return !state.parameters || !TemplateDrawsRandom(*state.parameters);
}

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
