#include "asl/data_flow.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "asl/intrinsic_eval.h"
#include "common/json.h"

namespace hpd::asl {

namespace json = boost::json;

namespace {

Status RuntimeError(std::string cause) {
  Status status = InvalidArgumentError(std::move(cause));
  status.SetErrorName(std::string(kStatesRuntime));
  return status;
}

// Jayway JsonPath's rendering of one path token (PathToken.getPathFragment()).
void AppendFragment(const PathSegment& segment, std::string* out) {
  if (const auto* field = std::get_if<FieldSegment>(&segment)) {
    out->append("['").append(field->name).append("']");
  } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
    out->append("[").append(std::to_string(index->index)).append("]");
  } else if (std::holds_alternative<WildcardSegment>(segment)) {
    out->append("[*]");
  } else if (const auto* slice = std::get_if<SliceSegment>(&segment)) {
    out->push_back('[');
    if (slice->start) out->append(std::to_string(*slice->start));
    out->push_back(':');
    if (slice->end) out->append(std::to_string(*slice->end));
    if (slice->step != 1) out->append(":").append(std::to_string(slice->step));
    out->push_back(']');
  } else if (const auto* names = std::get_if<FieldUnionSegment>(&segment)) {
    out->push_back('[');
    for (size_t i = 0; i < names->names.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append("'").append(names->names[i]).append("'");
    }
    out->push_back(']');
  } else if (const auto* indices = std::get_if<IndexUnionSegment>(&segment)) {
    out->push_back('[');
    for (size_t i = 0; i < indices->indices.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append(std::to_string(indices->indices[i]));
    }
    out->push_back(']');
  } else if (std::holds_alternative<FilterSegment>(segment)) {
    out->append("[?]");
  } else if (std::holds_alternative<RecursiveDescentSegment>(segment)) {
    out->append("..");
  } else if (const auto* function = std::get_if<FunctionSegment>(&segment)) {
    out->append(".").append(function->name).append("(").append(function->arguments).append(")");
  }
}

// The segments [begin, end) rendered after `prefix` ("$" for a whole path, "" for a tail).
std::string RenderSegments(const JsonPath& path, size_t begin, size_t end, std::string prefix) {
  for (size_t i = begin; i < end; ++i) AppendFragment(path.segments()[i], &prefix);
  return prefix;
}

// The class Jackson's JsonNode model would hold for `value`: what Jayway names in "found '...'".
std::string_view JacksonNodeClass(const json::value& value) {
  switch (value.kind()) {
    case json::kind::object:
      return "com.fasterxml.jackson.databind.node.ObjectNode";
    case json::kind::array:
      return "com.fasterxml.jackson.databind.node.ArrayNode";
    case json::kind::string:
      return "com.fasterxml.jackson.databind.node.TextNode";
    case json::kind::bool_:
      return "com.fasterxml.jackson.databind.node.BooleanNode";
    case json::kind::null:
      return "com.fasterxml.jackson.databind.node.NullNode";
    case json::kind::double_:
      return "com.fasterxml.jackson.databind.node.DoubleNode";
    case json::kind::int64: {
      const int64_t v = value.get_int64();
      return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()
                 ? "com.fasterxml.jackson.databind.node.IntNode"
                 : "com.fasterxml.jackson.databind.node.LongNode";
    }
    case json::kind::uint64:
      return "com.fasterxml.jackson.databind.node.BigIntegerNode";
  }
  return "null";
}

std::optional<size_t> ResolveIndex(int64_t index, size_t size) {
  if (index < 0) {
    const uint64_t back = static_cast<uint64_t>(-(index + 1)) + 1;  // |index|, no overflow
    if (back > size) return std::nullopt;
    return size - static_cast<size_t>(back);
  }
  if (static_cast<uint64_t>(index) >= size) return std::nullopt;
  return static_cast<size_t>(index);
}

// InputPath and OutputPath: the value `path` selects from scope.input and the other roots.
StatusOr<json::value> ApplyStatePath(const JsonPath* path, bool is_null,
                                     const EvaluationScope& scope) {
  if (is_null) return json::value(json::object());
  if (path == nullptr) return *scope.input;
  const PathSelection selection = SelectPath(*path, scope);
  if (selection.found()) return selection.value();
  return RuntimeError("Invalid path '" + path->text() +
                      "' : " + DescribePathMiss(*path, PathRoot(*path, scope)));
}

Status ResultPathError(const JsonPath& path, const json::value& raw_input) {
  Status status = InvalidArgumentError("Unable to apply ReferencePath " + path.text() +
                                       " to input " + SerializeJson(raw_input));
  status.SetErrorName(std::string(kStatesResultPathMatchFailure));
  return status;
}

}  // namespace

std::string StateErrorCause(std::string_view state_name, int64_t entered_event_id,
                            std::string_view detail) {
  std::string out = "An error occurred while executing the state '";
  out.append(state_name);
  out.append("' (entered at the event id #");
  out.append(std::to_string(entered_event_id));
  out.append("). ");
  out.append(detail);
  return out;
}

PathSelection SelectPath(const JsonPath& path, const EvaluationScope& scope) {
  PathSelection selection;
  const json::value* root = PathRoot(path, scope);
  if (path.IsDefinite()) {
    if (root != nullptr) selection.node_ = path.Find(*root);
    return selection;
  }
  selection.indefinite_ = true;
  json::array matches;
  if (root != nullptr) {
    for (const json::value* match : path.Select(*root)) matches.push_back(*match);
  }
  selection.matches_ = std::move(matches);
  return selection;
}

std::string DescribePathMiss(const JsonPath& path, const json::value* root) {
  const size_t n = path.segments().size();
  const std::string whole = RenderSegments(path, 0, n, "$");
  const std::string no_results = "No results for path: " + whole;
  if (root == nullptr || !path.IsDefinite()) return no_results;
  const json::value* current = root;
  for (size_t i = 0; i < n; ++i) {
    const PathSegment& segment = path.segments()[i];
    if (const auto* field = std::get_if<FieldSegment>(&segment)) {
      const json::object* object = current->if_object();
      if (object == nullptr) {
        return "Expected to find an object with property ['" + field->name + "'] in path " +
               RenderSegments(path, 0, i, "$") + " but found '" +
               std::string(JacksonNodeClass(*current)) +
               "'. This is not a json object according to the JsonProvider: "
               "'com.jayway.jsonpath.spi.json.JacksonJsonNodeJsonProvider'.";
      }
      current = object->if_contains(field->name);
      if (current == nullptr) {
        if (i + 1 == n) return no_results;
        return "Missing property in path " + RenderSegments(path, 0, i + 1, "$");
      }
    } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
      const json::array* array = current->if_array();
      if (array == nullptr) {
        return "Filter: " + RenderSegments(path, i, n, "") +
               " can only be applied to arrays. Current context is: " + SerializeJson(*current);
      }
      const auto resolved = ResolveIndex(index->index, array->size());
      if (!resolved) return no_results;
      current = &(*array)[*resolved];
    } else {
      return no_results;  // a function call: Step Functions evaluates none
    }
  }
  return no_results;
}

StatusOr<json::value> EvaluatePathField(const JsonPath& path, std::string_view field_name,
                                        const EvaluationScope& scope) {
  return EvaluatePathField(path, field_name, "", scope);
}

StatusOr<json::value> EvaluatePathField(const JsonPath& path, std::string_view field_name,
                                        std::string_view suffix, const EvaluationScope& scope) {
  const PathSelection selection = SelectPath(path, scope);
  if (selection.found()) return selection.value();
  // The input quoted is the document the field is evaluated against (the effective input for
  // Parameters), also for "$$" and "$name" paths, as intrinsic_eval.h does for its arguments.
  return RuntimeError("The JSONPath '" + path.text() + "' specified for the field '" +
                      std::string(field_name) + std::string(suffix) +
                      "' could not be found in the input '" +
                      (scope.input != nullptr ? SerializeJson(*scope.input) : std::string("null")) +
                      "'");
}

StatusOr<json::value> ApplyInputPath(const State& state, const EvaluationScope& scope) {
  return ApplyStatePath(state.input_path.get(), state.input_path_null, scope);
}

StatusOr<json::value> ApplyOutputPath(const State& state, const EvaluationScope& scope) {
  return ApplyStatePath(state.output_path.get(), state.output_path_null, scope);
}

StatusOr<json::value> ApplyOutputPath(const State& state, json::value&& input,
                                      const EvaluationScope& scope) {
  if (state.output_path == nullptr && !state.output_path_null) return std::move(input);
  return ApplyStatePath(state.output_path.get(), state.output_path_null, scope);
}

StatusOr<json::value> EvaluateTemplate(const ValueTemplate& value_template,
                                       const EvaluationScope& scope) {
  switch (value_template.kind) {
    case ValueTemplate::Kind::kLiteral:
      return value_template.literal;
    case ValueTemplate::Kind::kObject: {
      json::object out(value_template.fields.size());
      for (const ValueTemplate::Field& field : value_template.fields) {
        StatusOr<json::value> value =
            field.value.kind == ValueTemplate::Kind::kPath
                ? EvaluatePathField(*field.value.path, field.name, ".$", scope)
                : EvaluateTemplate(field.value, scope);
        if (!value.ok()) return value.status();
        // Built in place; "k" and "k.$" in one template name the same member: the later wins
        // (emplace leaves the value alone when the name is taken).
        auto [member, inserted] = out.emplace(field.name, std::move(*value));
        if (!inserted) member->value() = std::move(*value);
      }
      return json::value(std::move(out));
    }
    case ValueTemplate::Kind::kArray: {
      json::array out;
      out.reserve(value_template.items.size());
      for (const ValueTemplate& item : value_template.items) {
        HPD_ASSIGN_OR_RETURN(json::value value, EvaluateTemplate(item, scope));
        out.push_back(std::move(value));
      }
      return json::value(std::move(out));
    }
    case ValueTemplate::Kind::kPath:
      return EvaluatePathField(*value_template.path, value_template.path->text(), scope);
    case ValueTemplate::Kind::kIntrinsic:
      return EvaluateIntrinsic(*value_template.intrinsic, scope, value_template.source);
    case ValueTemplate::Kind::kJsonata:
      return UnimplementedError("the JSONata expression '" + value_template.jsonata +
                                "' cannot be evaluated as a JSONPath payload template");
  }
  return InternalError("unknown payload template kind");
}

namespace {

// Writes `result` at the reference path `path` into `out`, creating missing intermediate objects.
// False when the path runs into a value that cannot hold it (`out` may then be partly changed).
bool WriteAtPath(json::value& out, const JsonPath& path, json::value& result) {
  json::value* current = &out;
  const size_t n = path.segments().size();
  for (size_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    const PathSegment& segment = path.segments()[i];
    if (const auto* field = std::get_if<FieldSegment>(&segment)) {
      json::object* object = current->if_object();
      if (object == nullptr) return false;
      if (last) {
        (*object)[field->name] = std::move(result);
        return true;
      }
      auto it = object->find(field->name);
      if (it == object->end()) it = object->emplace(field->name, json::object()).first;
      current = &it->value();
    } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
      json::array* array = current->if_array();
      if (array == nullptr || index->index < 0 ||
          static_cast<uint64_t>(index->index) >= array->size()) {
        return false;
      }
      json::value& element = (*array)[static_cast<size_t>(index->index)];
      if (last) {
        element = std::move(result);
        return true;
      }
      current = &element;
    } else {
      return false;
    }
  }
  return true;
}

// Whether WriteAtPath would succeed on `doc`, without changing it.
bool CanWriteAtPath(const json::value& doc, const JsonPath& path) {
  const json::value* current = &doc;
  bool created = false;  // the path has left the document: WriteAtPath creates objects from here
  const size_t n = path.segments().size();
  for (size_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    const PathSegment& segment = path.segments()[i];
    if (const auto* field = std::get_if<FieldSegment>(&segment)) {
      if (created) continue;
      if (!current->is_object()) return false;
      if (last) return true;
      const json::value* next = current->get_object().if_contains(field->name);
      if (next == nullptr) {
        created = true;
      } else {
        current = next;
      }
    } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
      const json::array* array = created ? nullptr : current->if_array();
      if (array == nullptr || index->index < 0 ||
          static_cast<uint64_t>(index->index) >= array->size()) {
        return false;
      }
      if (last) return true;
      current = &(*array)[static_cast<size_t>(index->index)];
    } else {
      return false;
    }
  }
  return true;
}

StatusOr<const JsonPath*> ResultPathTarget(const ResultPathSpec& spec) {
  if (spec.discard || spec.path == nullptr || spec.path->segments().empty()) return nullptr;
  const JsonPath& path = *spec.path;
  if (path.root() != JsonPath::Root::kInput || !path.IsReferencePath()) {
    return RuntimeError("Invalid ResultPath '" + path.text() +
                        "': a ResultPath must be a reference path into the state input ('$')");
  }
  return &path;
}

}  // namespace

StatusOr<json::value> ApplyResultPath(const json::value& raw_input, json::value result,
                                      const ResultPathSpec& spec) {
  if (spec.discard) return raw_input;
  HPD_ASSIGN_OR_RETURN(const JsonPath* path, ResultPathTarget(spec));
  if (path == nullptr) return result;
  json::value out = raw_input;
  if (!WriteAtPath(out, *path, result)) return ResultPathError(*path, raw_input);
  return out;
}

StatusOr<json::value> ApplyResultPath(json::value&& raw_input, json::value result,
                                      const ResultPathSpec& spec) {
  if (spec.discard) return std::move(raw_input);
  HPD_ASSIGN_OR_RETURN(const JsonPath* path, ResultPathTarget(spec));
  if (path == nullptr) return result;
  if (!CanWriteAtPath(raw_input, *path)) return ResultPathError(*path, raw_input);
  json::value out = std::move(raw_input);
  WriteAtPath(out, *path, result);
  return out;
}

StatusOr<json::object> EvaluateAssign(const ValueTemplate& assign, const EvaluationScope& scope) {
  if (assign.kind == ValueTemplate::Kind::kLiteral) {
    if (const json::object* object = assign.literal.if_object()) return *object;
  } else if (assign.kind == ValueTemplate::Kind::kObject) {
    HPD_ASSIGN_OR_RETURN(json::value value, EvaluateTemplate(assign, scope));
    return std::move(value.as_object());
  }
  return InvalidArgumentError("Assign must be a JSON object");
}

}  // namespace hpd::asl
