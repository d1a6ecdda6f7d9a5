#include "asl_conformance/conformance_case.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>

#include <boost/json.hpp>

#include "common/json.h"

namespace hpd::conformance {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

const json::value& Member(const json::value& object, std::string_view key) {
  static const json::value kNull;
  if (const json::object* o = object.if_object()) {
    if (const json::value* v = o->if_contains(key)) return *v;
  }
  return kNull;
}

std::string StringMember(const json::value& object, std::string_view key) {
  const json::value& v = Member(object, key);
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

std::vector<std::string> Strings(const json::value& array) {
  std::vector<std::string> out;
  if (const json::array* a = array.if_array()) {
    for (const auto& v : *a) {
      if (v.is_string()) out.emplace_back(v.get_string());
    }
  }
  return out;
}

bool UsesJsonata(const json::value& v) {
  if (const json::string* s = v.if_string()) {
    return *s == "JSONata" || (s->starts_with("{%") && s->ends_with("%}"));
  }
  if (const json::object* o = v.if_object()) {
    for (const auto& m : *o) {
      if (UsesJsonata(m.value())) return true;
    }
  }
  if (const json::array* a = v.if_array()) {
    for (const auto& x : *a) {
      if (UsesJsonata(x)) return true;
    }
  }
  return false;
}

}  // namespace

const json::value& ConformanceCase::definition() const { return Member(document, "definition"); }
const json::value& ConformanceCase::input() const { return Member(document, "input"); }
const json::value& ConformanceCase::expected() const { return Member(document, "expected"); }
std::string ConformanceCase::expected_status() const { return StringMember(expected(), "status"); }
bool ConformanceCase::unfinished() const {
  return expected_status().starts_with("UNFINISHED");
}
const json::value& ConformanceCase::expected_events() const {
  return Member(expected(), "events");
}
std::string ConformanceCase::state_machine_type() const {
  std::string type = StringMember(document, "state_machine_type");
  return type.empty() ? "STANDARD" : type;
}
std::string ConformanceCase::notes() const { return StringMember(document, "notes"); }
std::vector<std::string> ConformanceCase::features() const {
  return Strings(Member(document, "features"));
}
const json::value& ConformanceCase::lambda_functions() const {
  return Member(document, "lambda_functions");
}
std::vector<RegexReplacement> ConformanceCase::regex_replacements() const {
  std::vector<RegexReplacement> out;
  if (const json::array* a = Member(document, "regex_replacements").if_array()) {
    for (const auto& pair : *a) {
      const json::array* p = pair.if_array();
      if (p != nullptr && p->size() == 2 && (*p)[0].is_string() && (*p)[1].is_string()) {
        out.push_back({std::string((*p)[0].get_string()), std::string((*p)[1].get_string())});
      }
    }
  }
  return out;
}
std::vector<std::string> ConformanceCase::skip_verify_paths() const {
  return Strings(Member(document, "skip_verify_paths"));
}

StatusOr<ConformanceCase> LoadCase(const fs::path& file, const fs::path& root) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + file.string());
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto doc = ParseJson(buffer.str());
  if (!doc.ok()) return doc.status().WithContext(file.string());
  if (!doc->is_object()) return InvalidArgumentError(file.string() + ": not a JSON object");
  ConformanceCase c;
  c.file = file;
  fs::path relative = file.lexically_relative(root);
  if (relative.empty() || relative.native().starts_with("..")) relative = file.filename();
  c.id = relative.replace_extension().generic_string();
  c.category = relative.begin() != relative.end() && std::next(relative.begin()) != relative.end()
                   ? relative.begin()->string()
                   : std::string();
  c.document = std::move(doc).value();
  if (!c.definition().is_object()) {
    return InvalidArgumentError(file.string() + ": no \"definition\" object");
  }
  if (!c.expected().is_object()) {
    return InvalidArgumentError(file.string() + ": no \"expected\" object");
  }
  return c;
}

StatusOr<std::vector<fs::path>> FindCaseFiles(const fs::path& root, std::string_view category) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return NotFoundError(root.string() + " is not a directory");
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->path().extension() != ".json") continue;
    if (!category.empty()) {
      const fs::path relative = it->path().lexically_relative(root);
      if (relative.begin() == relative.end() || relative.begin()->string() != category) continue;
    }
    files.push_back(it->path());
  }
  if (ec) return UnknownError("listing " + root.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<std::string> SkipReason(const ConformanceCase& c) {
  for (const std::string& feature : c.features()) {
    if (feature == "JSONata" || feature.starts_with("JSONata:") ||
        feature == "QueryLanguage:JSONata") {
      return "needs JSONata";
    }
  }
  if (UsesJsonata(c.definition())) return "needs JSONata";
  return std::nullopt;
}

Status AddCaseNormalizeOptions(const ConformanceCase& c, NormalizeOptions* options) {
  const std::vector<RegexReplacement> rules = c.regex_replacements();
  options->regex_replacements.insert(options->regex_replacements.end(), rules.begin(),
                                     rules.end());
  if (c.notes().find("Parallel-branch events") != std::string::npos) options->parallel = true;
  const json::array* list = Member(c.document, "snapshot_transformers").if_array();
  if (list == nullptr) return Status::Ok();
  for (const json::value& t : *list) {
    const std::string type = StringMember(t, "type");
    if (type == "GenericTransformer") {
      // The corpus's only GenericTransformer json-decodes 'output' strings (see its args).
      options->decode_output_strings = true;
      continue;
    }
    if (type != "JsonpathTransformer") {
      return InvalidArgumentError(c.id + ": unknown snapshot transformer \"" + type + "\"");
    }
    const json::value& args = Member(t, "args");
    const json::value& kwargs = Member(t, "kwargs");
    std::string path = StringMember(kwargs, "jsonpath");
    std::string replacement = StringMember(kwargs, "replacement");
    if (const json::array* a = args.if_array()) {
      if (a->size() >= 1 && (*a)[0].is_string()) path = std::string((*a)[0].get_string());
      if (a->size() >= 2 && (*a)[1].is_string()) replacement = std::string((*a)[1].get_string());
    }
    JsonPathTransformer transformer;
    HPD_ASSIGN_OR_RETURN(transformer.path, JsonPathPattern::Parse(path));
    transformer.replacement = replacement;
    const json::value& reference = Member(kwargs, "replace_reference");
    transformer.replace_reference = reference.is_bool() ? reference.get_bool() : true;
    options->transformers.push_back(std::move(transformer));
  }
  return Status::Ok();
}

}  // namespace hpd::conformance
