#include "asl/parser.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "common/json.h"
#include "common/rfc3339.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Duplicate keys. Boost.JSON keeps one value per key, so duplicates are found with a SAX pass
// over the text before the tree is built.

class DuplicateKeyFinder {
 public:
  struct Duplicate {
    std::string location;  // JSON Pointer of the repeated member
    std::string key;
    bool in_states = false;  // the object is a "States" map
  };

  constexpr static std::size_t max_object_size = std::size_t(-1);
  constexpr static std::size_t max_array_size = std::size_t(-1);
  constexpr static std::size_t max_key_size = std::size_t(-1);
  constexpr static std::size_t max_string_size = std::size_t(-1);

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) {
    BeginValue();
    frames_.push_back(Frame{false, {}, {}, 0});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_object_begin(json::error_code&) {
    BeginValue();
    frames_.push_back(Frame{true, {}, {}, 0});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    frames_.pop_back();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return Scalar(); }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_buffer_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    key_buffer_.append(s.data(), s.size());
    Frame& f = frames_.back();
    if (!f.keys.insert(key_buffer_).second) {
      Duplicate d;
      d.key = key_buffer_;
      d.in_states = frames_.size() >= 2 && PointerTokenOfParent() == "States";
      f.current_key = key_buffer_;
      d.location = Pointer();
      duplicates.push_back(std::move(d));
    }
    f.current_key = std::move(key_buffer_);
    key_buffer_.clear();
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return Scalar(); }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return Scalar(); }
  bool on_double(double, json::string_view, json::error_code&) { return Scalar(); }
  bool on_bool(bool, json::error_code&) { return Scalar(); }
  bool on_null(json::error_code&) { return Scalar(); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  std::vector<Duplicate> duplicates;

 private:
  struct Frame {
    bool is_object;
    std::unordered_set<std::string> keys;
    std::string current_key;
    size_t next_index;
  };

  // A value starts inside an array: it takes the next index.
  void BeginValue() {
    if (!frames_.empty() && !frames_.back().is_object) {
      frames_.back().current_key = std::to_string(frames_.back().next_index++);
    }
  }
  bool Scalar() {
    BeginValue();
    return true;
  }
  const std::string& PointerTokenOfParent() const {
    return frames_[frames_.size() - 2].current_key;
  }
  std::string Pointer() const {
    JsonPointer p;
    for (const auto& f : frames_) p.AppendKey(f.current_key);
    return p.ToString();
  }

  std::vector<Frame> frames_;
  std::string key_buffer_;
};

std::vector<DuplicateKeyFinder::Duplicate> FindDuplicateKeys(std::string_view text) {
  json::basic_parser<DuplicateKeyFinder> parser{json::parse_options{}};
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return std::move(parser.handler().duplicates);
}

// ---------------------------------------------------------------------------------------------
// Field table: which fields each state type accepts, and in which query language.

enum TypeBit : unsigned {
  kTask = 1u << 0,
  kPass = 1u << 1,
  kChoice = 1u << 2,
  kWait = 1u << 3,
  kSucceed = 1u << 4,
  kFail = 1u << 5,
  kParallel = 1u << 6,
  kMap = 1u << 7,
  kAllTypes = 0xffu,
};
enum LanguageBit : unsigned { kJP = 1u, kJA = 2u, kBoth = 3u };

struct FieldRule {
  std::string_view name;
  unsigned types;
  unsigned languages;
  std::string_view jsonata_instead;  // what replaces a JSONPath-only field in JSONata
};

constexpr std::array kFieldRules = {
    FieldRule{"Type", kAllTypes, kBoth, ""},
    FieldRule{"Comment", kAllTypes, kBoth, ""},
    FieldRule{"QueryLanguage", kAllTypes, kBoth, ""},
    FieldRule{"Next", kAllTypes & ~(kChoice | kSucceed | kFail), kBoth, ""},
    FieldRule{"End", kAllTypes & ~(kChoice | kSucceed | kFail), kBoth, ""},
    FieldRule{"InputPath", kAllTypes & ~kFail, kJP, "Arguments or Output"},
    FieldRule{"OutputPath", kAllTypes & ~kFail, kJP, "Output"},
    FieldRule{"Parameters", kTask | kPass | kParallel | kMap, kJP, "Arguments"},
    FieldRule{"ResultSelector", kTask | kParallel | kMap, kJP, "Output"},
    FieldRule{"ResultPath", kTask | kPass | kParallel | kMap, kJP, "Output"},
    FieldRule{"Result", kPass, kJP, "Output"},
    FieldRule{"Assign", kAllTypes & ~(kSucceed | kFail), kBoth, ""},
    FieldRule{"Arguments", kTask | kParallel, kJA, ""},
    FieldRule{"Output", kAllTypes & ~kFail, kJA, ""},
    FieldRule{"Resource", kTask, kBoth, ""},
    FieldRule{"TimeoutSeconds", kTask, kBoth, ""},
    FieldRule{"TimeoutSecondsPath", kTask, kJP, "TimeoutSeconds with a JSONata expression"},
    FieldRule{"HeartbeatSeconds", kTask, kBoth, ""},
    FieldRule{"HeartbeatSecondsPath", kTask, kJP, "HeartbeatSeconds with a JSONata expression"},
    FieldRule{"Credentials", kTask, kBoth, ""},
    FieldRule{"Retry", kTask | kParallel | kMap, kBoth, ""},
    FieldRule{"Catch", kTask | kParallel | kMap, kBoth, ""},
    FieldRule{"Choices", kChoice, kBoth, ""},
    FieldRule{"Default", kChoice, kBoth, ""},
    FieldRule{"Seconds", kWait, kBoth, ""},
    FieldRule{"Timestamp", kWait, kBoth, ""},
    FieldRule{"SecondsPath", kWait, kJP, "Seconds with a JSONata expression"},
    FieldRule{"TimestampPath", kWait, kJP, "Timestamp with a JSONata expression"},
    FieldRule{"Error", kFail, kBoth, ""},
    FieldRule{"Cause", kFail, kBoth, ""},
    FieldRule{"ErrorPath", kFail, kJP, "Error with a JSONata expression"},
    FieldRule{"CausePath", kFail, kJP, "Cause with a JSONata expression"},
    FieldRule{"Branches", kParallel, kBoth, ""},
    FieldRule{"ItemProcessor", kMap, kBoth, ""},
    FieldRule{"Iterator", kMap, kJP, "ItemProcessor"},
    FieldRule{"ItemsPath", kMap, kJP, "Items"},
    FieldRule{"Items", kMap, kJA, ""},
    FieldRule{"ItemSelector", kMap, kBoth, ""},
    FieldRule{"ItemReader", kMap, kBoth, ""},
    FieldRule{"ItemBatcher", kMap, kBoth, ""},
    FieldRule{"ResultWriter", kMap, kBoth, ""},
    FieldRule{"MaxConcurrency", kMap, kBoth, ""},
    FieldRule{"MaxConcurrencyPath", kMap, kJP, "MaxConcurrency with a JSONata expression"},
    FieldRule{"ToleratedFailureCount", kMap, kBoth, ""},
    FieldRule{"ToleratedFailureCountPath", kMap, kJP,
              "ToleratedFailureCount with a JSONata expression"},
    FieldRule{"ToleratedFailurePercentage", kMap, kBoth, ""},
    FieldRule{"ToleratedFailurePercentagePath", kMap, kJP,
              "ToleratedFailurePercentage with a JSONata expression"},
    FieldRule{"Label", kMap, kBoth, ""},
};

const FieldRule* FindFieldRule(std::string_view name) {
  for (const auto& rule : kFieldRules) {
    if (rule.name == name) return &rule;
  }
  return nullptr;
}

struct TypeInfo {
  std::string_view name;
  StateType type;
  unsigned bit;
};
constexpr std::array kTypes = {
    TypeInfo{"Task", StateType::kTask, kTask},
    TypeInfo{"Pass", StateType::kPass, kPass},
    TypeInfo{"Choice", StateType::kChoice, kChoice},
    TypeInfo{"Wait", StateType::kWait, kWait},
    TypeInfo{"Succeed", StateType::kSucceed, kSucceed},
    TypeInfo{"Fail", StateType::kFail, kFail},
    TypeInfo{"Parallel", StateType::kParallel, kParallel},
    TypeInfo{"Map", StateType::kMap, kMap},
};

struct OperatorInfo {
  std::string_view name;
  ComparisonOperator op;
  enum Operand { kString, kNumber, kBoolean, kTimestamp, kRegex, kPredicate } operand;
};
constexpr std::array kOperators = {
    OperatorInfo{"StringEquals", ComparisonOperator::kStringEquals, OperatorInfo::kString},
    OperatorInfo{"StringLessThan", ComparisonOperator::kStringLessThan, OperatorInfo::kString},
    OperatorInfo{"StringGreaterThan", ComparisonOperator::kStringGreaterThan,
                 OperatorInfo::kString},
    OperatorInfo{"StringLessThanEquals", ComparisonOperator::kStringLessThanEquals,
                 OperatorInfo::kString},
    OperatorInfo{"StringGreaterThanEquals", ComparisonOperator::kStringGreaterThanEquals,
                 OperatorInfo::kString},
    OperatorInfo{"StringMatches", ComparisonOperator::kStringMatches, OperatorInfo::kRegex},
    OperatorInfo{"NumericEquals", ComparisonOperator::kNumericEquals, OperatorInfo::kNumber},
    OperatorInfo{"NumericLessThan", ComparisonOperator::kNumericLessThan, OperatorInfo::kNumber},
    OperatorInfo{"NumericGreaterThan", ComparisonOperator::kNumericGreaterThan,
                 OperatorInfo::kNumber},
    OperatorInfo{"NumericLessThanEquals", ComparisonOperator::kNumericLessThanEquals,
                 OperatorInfo::kNumber},
    OperatorInfo{"NumericGreaterThanEquals", ComparisonOperator::kNumericGreaterThanEquals,
                 OperatorInfo::kNumber},
    OperatorInfo{"BooleanEquals", ComparisonOperator::kBooleanEquals, OperatorInfo::kBoolean},
    OperatorInfo{"TimestampEquals", ComparisonOperator::kTimestampEquals,
                 OperatorInfo::kTimestamp},
    OperatorInfo{"TimestampLessThan", ComparisonOperator::kTimestampLessThan,
                 OperatorInfo::kTimestamp},
    OperatorInfo{"TimestampGreaterThan", ComparisonOperator::kTimestampGreaterThan,
                 OperatorInfo::kTimestamp},
    OperatorInfo{"TimestampLessThanEquals", ComparisonOperator::kTimestampLessThanEquals,
                 OperatorInfo::kTimestamp},
    OperatorInfo{"TimestampGreaterThanEquals", ComparisonOperator::kTimestampGreaterThanEquals,
                 OperatorInfo::kTimestamp},
    OperatorInfo{"IsNull", ComparisonOperator::kIsNull, OperatorInfo::kPredicate},
    OperatorInfo{"IsPresent", ComparisonOperator::kIsPresent, OperatorInfo::kPredicate},
    OperatorInfo{"IsNumeric", ComparisonOperator::kIsNumeric, OperatorInfo::kPredicate},
    OperatorInfo{"IsString", ComparisonOperator::kIsString, OperatorInfo::kPredicate},
    OperatorInfo{"IsBoolean", ComparisonOperator::kIsBoolean, OperatorInfo::kPredicate},
    OperatorInfo{"IsTimestamp", ComparisonOperator::kIsTimestamp, OperatorInfo::kPredicate},
};

// Finds "StringEquals" or "StringEqualsPath" (sets *is_path).
const OperatorInfo* FindOperator(std::string_view key, bool* is_path) {
  *is_path = false;
  std::string_view base = key;
  if (base.size() > 4 && base.substr(base.size() - 4) == "Path") {
    base.remove_suffix(4);
    *is_path = true;
  }
  for (const auto& info : kOperators) {
    if (info.name != base) continue;
    // Predicates and StringMatches have no Path form.
    if (*is_path && (info.operand == OperatorInfo::kPredicate ||
                     info.operand == OperatorInfo::kRegex)) {
      return nullptr;
    }
    return &info;
  }
  return nullptr;
}

// Error names Step Functions reserves; any other "States." name is a typo.
constexpr std::array<std::string_view, 17> kStatesErrors = {
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.QueryEvaluationError",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
    "States.BranchFailed",
};

// Retry/timeout bounds from the Step Functions developer guide.
constexpr int64_t kMaxRetryIntervalSeconds = 99999999;
constexpr int64_t kMaxRetryAttempts = 99999999;
constexpr int64_t kMaxDelaySeconds = 31622400;
constexpr int64_t kMaxTimeoutSeconds = 99999999;
constexpr int64_t kMaxWaitSeconds = 99999999;
constexpr size_t kMaxLabelLength = 40;
constexpr size_t kMaxNestingDepth = 100;

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

bool HasControlCharacter(std::string_view s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// U+0080..U+009F, which UTF-8 encodes as C2 80..C2 9F.
bool HasC1ControlCharacter(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xC2 && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return true;
    }
  }
  return false;
}

bool IsVariableName(std::string_view s) {
  if (s.empty()) return false;
  auto first = static_cast<unsigned char>(s[0]);
  if (!(std::isalpha(first) || first == '_' || first >= 0x80)) return false;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) || c == '_' || c >= 0x80)) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "{% expr %}": a JSONata expression; anything else is a literal string. "{%}" is not one: its
// "{%" and "%}" overlap.
bool IsJsonataExpression(std::string_view s) {
  return s.size() >= 4 && StartsWith(s, "{%") && EndsWith(s, "%}");
}

bool LooksLikePath(std::string_view s) {
  return s == "$" || StartsWith(s, "$.") || StartsWith(s, "$[") || StartsWith(s, "$$");
}

// An integral JSON number as int64, if it is one.
std::optional<int64_t> AsInteger(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 9.2e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

// The document is parsed into a short-lived arena; anything the model keeps is copied out into
// default-allocated memory (json::value's copy constructor would share the arena).
json::value OwnedCopy(const json::value& v) { return json::value(v, json::storage_ptr()); }

// A template that evaluates to `v` itself.
ValueTemplate LiteralTemplate(const json::value& v) {
  ValueTemplate t;
  t.kind = ValueTemplate::Kind::kLiteral;
  t.literal = OwnedCopy(v);
  return t;
}

// `t` holds the compiled members of the object or array `v`. It stays an object or array
// template only if some member is dynamic; otherwise all of `v` is one literal.
ValueTemplate CompositeOrLiteral(ValueTemplate t, ValueTemplate::Kind kind, bool dynamic,
                                 const json::value& v) {
  if (!dynamic) return LiteralTemplate(v);
  t.kind = kind;
  return t;
}

std::optional<double> AsNumber(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------

// A place in the document, rendered as a JSON Pointer only when a diagnostic needs it, so that
// validating a valid definition builds no location strings. A Loc refers to its parent and to
// the key's characters: it must not outlive either (keys come from the parsed document or from
// string literals).
class Loc {
 public:
  Loc() = default;  // the document root, ""
  Loc Child(std::string_view key) const { return Loc(this, key, 0, Kind::kKey); }
  Loc Child(size_t index) const { return Loc(this, {}, index, Kind::kIndex); }
  std::string ToString() const {
    std::string out;
    AppendTo(&out);
    return out;
  }

 private:
  enum class Kind { kRoot, kKey, kIndex };
  Loc(const Loc* parent, std::string_view key, size_t index, Kind kind)
      : parent_(parent), key_(key), index_(index), kind_(kind) {}
  void AppendTo(std::string* out) const {
    if (kind_ == Kind::kRoot) return;
    parent_->AppendTo(out);
    out->push_back('/');
    if (kind_ == Kind::kKey) {
      out->append(JsonPointerEscape(key_));
    } else {
      out->append(std::to_string(index_));
    }
  }

  const Loc* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = 0;
  Kind kind_ = Kind::kRoot;
};

class Validator {
 public:
  explicit Validator(std::vector<Diagnostic>* diagnostics) : diagnostics_(*diagnostics) {}

  std::shared_ptr<StateMachine> ParseTopLevel(const json::value& document) {
    if (!document.is_object()) {
      Error(Loc(), "The definition must be a JSON object, got " + JsonTypeName(document) + ".");
      return nullptr;
    }
    const Loc root;
    return ParseScope(document.get_object(), root, QueryLanguage::kJsonPath, ScopeKind::kTop, 0);
  }

 private:
  enum class ScopeKind { kTop, kBranch, kItemProcessor, kIterator };

  // -- reporting ---------------------------------------------------------------------------

  void Report(Severity severity, std::string_view code, const Loc& location,
              std::string message) {
    diagnostics_.push_back(
        Diagnostic{severity, std::string(code), std::move(message), location.ToString()});
  }
  void Error(const Loc& location, std::string message) {
    Report(Severity::kError, codes::kSchemaValidationFailed, location, std::move(message));
  }
  void Error(std::string_view code, const Loc& location, std::string message) {
    Report(Severity::kError, code, location, std::move(message));
  }
  void Warn(std::string_view code, const Loc& location, std::string message) {
    Report(Severity::kWarning, code, location, std::move(message));
  }
  // A field that does not belong where it is written. AWS locates it at the object that holds it
  // ("Field 'TimeoutSeconds' is not supported at /States/P"), not at the field itself.
  void UnsupportedField(const Loc& container, std::string_view key,
                        const std::string& detail) {
    Error(container, "Field " + Quote(key) + " is not supported" + detail);
  }

  static std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

  // -- typed field access ------------------------------------------------------------------

  const json::string* RequireString(const json::value& v, const Loc& loc,
                                    std::string_view field) {
    if (!v.is_string()) {
      Error(loc, "The field " + Quote(field) + " must be a string, got " + JsonTypeName(v) + ".");
      return nullptr;
    }
    return &v.get_string();
  }

  const json::object* RequireObject(const json::value& v, const Loc& loc,
                                    std::string_view field) {
    if (!v.is_object()) {
      Error(loc, "The field " + Quote(field) + " must be an object, got " + JsonTypeName(v) + ".");
      return nullptr;
    }
    return &v.get_object();
  }

  const json::array* RequireArray(const json::value& v, const Loc& loc,
                                  std::string_view field, bool non_empty) {
    if (!v.is_array()) {
      Error(loc, "The field " + Quote(field) + " must be an array, got " + JsonTypeName(v) + ".");
      return nullptr;
    }
    if (non_empty && v.get_array().empty()) {
      Error(loc, "The field " + Quote(field) + " must contain at least one element.");
      return nullptr;
    }
    return &v.get_array();
  }

  std::optional<int64_t> RequireInteger(const json::value& v, const Loc& loc,
                                        std::string_view field, int64_t min, int64_t max) {
    auto n = AsInteger(v);
    if (!n) {
      Error(loc, "The field " + Quote(field) + " must be an integer, got " +
                     (v.is_number() ? SerializeJson(v) : JsonTypeName(v)) + ".");
      return std::nullopt;
    }
    if (*n < min || *n > max) {
      Error(loc, "The field " + Quote(field) + " must be between " + std::to_string(min) +
                     " and " + std::to_string(max) + ", got " + std::to_string(*n) + ".");
      return std::nullopt;
    }
    return n;
  }

  std::shared_ptr<const JsonPath> CompilePath(const json::value& v, const Loc& loc,
                                              std::string_view field, bool reference) {
    const json::string* s = RequireString(v, loc, field);
    if (!s) return nullptr;
    auto parsed = reference ? ParseReferencePath(*s) : ParseJsonPath(*s);
    if (!parsed.ok()) {
      Error(loc, "The value for the field " + Quote(field) + " must be a valid " +
                     (reference ? "reference path" : "JSONPath") + ": " +
                     std::string(parsed.status().message()));
      return nullptr;
    }
    return std::make_shared<const JsonPath>(std::move(parsed).value());
  }

  bool CheckJsonataString(std::string_view s, const Loc& loc, std::string_view field) {
    if (StartsWith(s, "{%") && !IsJsonataExpression(s)) {
      Error(loc, "The value for the field " + Quote(field) +
                     " starts a JSONata expression with '{%' but does not end it with '%}'.");
      return false;
    }
    if (IsJsonataExpression(s)) {
      std::string_view body = s.substr(2, s.size() - 4);
      if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
        Error(loc, "The value for the field " + Quote(field) + " is an empty JSONata expression.");
        return false;
      }
    }
    return true;
  }

  static std::string JsonataBody(std::string_view s) {
    std::string_view body = s.substr(2, s.size() - 4);
    size_t b = body.find_first_not_of(" \t\r\n");
    size_t e = body.find_last_not_of(" \t\r\n");
    return std::string(body.substr(b, e - b + 1));
  }

  // A number that JSONata states may also give as "{% expr %}".
  DynamicNumber NumberOrJsonata(const json::value& v, const Loc& loc,
                                std::string_view field, QueryLanguage ql, int64_t min,
                                int64_t max) {
    DynamicNumber out;
    if (ql == QueryLanguage::kJsonata && v.is_string()) {
      const auto& s = v.get_string();
      if (!IsJsonataExpression(s)) {
        Error(loc, "The field " + Quote(field) +
                       " must be an integer or a JSONata expression '{% ... %}'.");
        return out;
      }
      if (CheckJsonataString(s, loc, field)) out.jsonata = JsonataBody(s);
      return out;
    }
    if (auto n = RequireInteger(v, loc, field, min, max)) out.literal = static_cast<double>(*n);
    return out;
  }

  // -- templates ---------------------------------------------------------------------------

  // Parameters, ResultSelector, ItemSelector, Credentials and JSONPath Assign.
  ValueTemplate CompileJsonPathTemplate(const json::value& v, const Loc& loc) {
    ValueTemplate t;
    if (v.is_object()) {
      bool dynamic = false;
      for (const auto& member : v.get_object()) {
        std::string_view key(member.key().data(), member.key().size());
        const Loc child_loc = loc.Child(key);
        ValueTemplate::Field field;
        if (EndsWith(key, ".$")) {
          field.name = std::string(key.substr(0, key.size() - 2));
          field.value = CompileDynamicString(member.value(), child_loc, key);
          dynamic = true;
        } else {
          field.name = std::string(key);
          if (member.value().is_string()) {
            std::string_view s = member.value().get_string();
            if (LooksLikePath(s) || (LooksLikeIntrinsic(s) && s.find('(') != s.npos)) {
              Warn(codes::kNoDollar, child_loc,
                   "The value of " + Quote(key) +
                       " looks like a JSONPath or intrinsic function, but the field name does "
                       "not end with '.$'; it will be used as a literal string.");
            }
          }
          field.value = CompileJsonPathTemplate(member.value(), child_loc);
          dynamic = dynamic || field.value.IsDynamic();
        }
        t.fields.push_back(std::move(field));
      }
      return CompositeOrLiteral(std::move(t), ValueTemplate::Kind::kObject, dynamic, v);
    }
    if (v.is_array()) {
      bool dynamic = false;
      const auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        t.items.push_back(CompileJsonPathTemplate(arr[i], loc.Child(i)));
        dynamic = dynamic || t.items.back().IsDynamic();
      }
      return CompositeOrLiteral(std::move(t), ValueTemplate::Kind::kArray, dynamic, v);
    }
    return LiteralTemplate(v);
  }

  // The value of a "key.$" field: a path or an intrinsic function call.
  ValueTemplate CompileDynamicString(const json::value& v, const Loc& loc,
                                     std::string_view key) {
    ValueTemplate t;
    t.kind = ValueTemplate::Kind::kLiteral;
    if (!v.is_string()) {
      Error(loc, "The value for the field " + Quote(key) +
                     " must be a string holding a JSONPath or an intrinsic function call, got " +
                     JsonTypeName(v) + ".");
      return t;
    }
    std::string_view s = v.get_string();
    if (LooksLikeIntrinsic(s)) {
      auto call = ParseIntrinsic(s);
      if (!call.ok()) {
        Error(loc, "The value for the field " + Quote(key) +
                       " must be a valid intrinsic function call: " +
                       std::string(call.status().message()));
        return t;
      }
      t.kind = ValueTemplate::Kind::kIntrinsic;
      t.intrinsic = std::make_shared<const IntrinsicCall>(std::move(call).value());
      t.source = std::string(s);
      return t;
    }
    auto path = ParseJsonPath(s);
    if (!path.ok()) {
      Error(loc, "The value for the field " + Quote(key) +
                     " must be a valid JSONPath or a valid intrinsic function call: " +
                     std::string(path.status().message()));
      return t;
    }
    t.kind = ValueTemplate::Kind::kPath;
    t.path = std::make_shared<const JsonPath>(std::move(path).value());
    t.source = std::string(s);
    return t;
  }

  // Arguments, Output and JSONata Assign: any JSON value in which "{% %}" strings are
  // expressions.
  ValueTemplate CompileJsonataTemplate(const json::value& v, const Loc& loc,
                                       std::string_view field) {
    ValueTemplate t;
    if (v.is_string()) {
      std::string_view s = v.get_string();
      if (CheckJsonataString(s, loc, field) && IsJsonataExpression(s)) {
        t.kind = ValueTemplate::Kind::kJsonata;
        t.jsonata = JsonataBody(s);
        return t;
      }
      return LiteralTemplate(v);
    }
    if (v.is_object()) {
      bool dynamic = false;
      for (const auto& member : v.get_object()) {
        std::string_view key(member.key().data(), member.key().size());
        ValueTemplate::Field f;
        f.name = std::string(key);
        f.value = CompileJsonataTemplate(member.value(), loc.Child(key), key);
        dynamic = dynamic || f.value.IsDynamic();
        t.fields.push_back(std::move(f));
      }
      return CompositeOrLiteral(std::move(t), ValueTemplate::Kind::kObject, dynamic, v);
    }
    if (v.is_array()) {
      bool dynamic = false;
      const auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i) {
        t.items.push_back(CompileJsonataTemplate(arr[i], loc.Child(i), field));
        dynamic = dynamic || t.items.back().IsDynamic();
      }
      return CompositeOrLiteral(std::move(t), ValueTemplate::Kind::kArray, dynamic, v);
    }
    return LiteralTemplate(v);
  }

  std::optional<ValueTemplate> CompileAssign(const json::value& v, const Loc& loc,
                                             QueryLanguage ql) {
    const json::object* obj = RequireObject(v, loc, "Assign");
    if (!obj) return std::nullopt;
    for (const auto& member : *obj) {
      std::string_view key(member.key().data(), member.key().size());
      std::string_view name = key;
      if (ql == QueryLanguage::kJsonPath && EndsWith(name, ".$")) name.remove_suffix(2);
      if (!IsVariableName(name)) {
        Error(loc.Child(key), "The variable name " + Quote(name) +
                                   " is invalid: it must start with a letter or '_' and contain "
                                   "only letters, digits and '_'.");
      } else if (name == "states") {
        Error(loc.Child(key), "The variable name 'states' is reserved by Step Functions.");
      }
    }
    return ql == QueryLanguage::kJsonPath ? CompileJsonPathTemplate(v, loc)
                                          : CompileJsonataTemplate(v, loc, "Assign");
  }

  // -- retry and catch ---------------------------------------------------------------------

  std::vector<std::string> ParseErrorEquals(const json::value& v, const Loc& loc,
                                            bool is_last, std::string_view what) {
    std::vector<std::string> out;
    const json::array* arr = RequireArray(v, loc, "ErrorEquals", /*non_empty=*/true);
    if (!arr) return out;
    for (size_t i = 0; i < arr->size(); ++i) {
      const json::string* s = RequireString((*arr)[i], loc.Child(i), "ErrorEquals");
      if (!s) continue;
      std::string_view name(s->data(), s->size());
      if (StartsWith(name, "States.") &&
          std::find(kStatesErrors.begin(), kStatesErrors.end(), name) == kStatesErrors.end()) {
        Error(loc.Child(i), "Unknown error name " + Quote(name) +
                                 ": names starting with 'States.' are reserved for the "
                                 "predefined error codes (e.g. States.ALL, States.Timeout, "
                                 "States.TaskFailed).");
      }
      if (name == "States.ALL") {
        if (arr->size() != 1) {
          Error(loc.Child(i), "'States.ALL' must appear alone in ErrorEquals.");
        } else if (!is_last) {
          Error(loc.Child(i), "'States.ALL' must appear in the last " + std::string(what) + ".");
        }
      }
      out.emplace_back(name);
    }
    return out;
  }

  std::vector<Retrier> ParseRetry(const json::value& v, const Loc& loc) {
    std::vector<Retrier> out;
    const json::array* arr = RequireArray(v, loc, "Retry", /*non_empty=*/false);
    if (!arr) return out;
    for (size_t i = 0; i < arr->size(); ++i) {
      const Loc rloc = loc.Child(i);
      const json::object* obj = RequireObject((*arr)[i], rloc, "Retry");
      if (!obj) continue;
      Retrier r;
      bool has_error_equals = false;
      for (const auto& m : *obj) {
        std::string_view key(m.key().data(), m.key().size());
        const Loc floc = rloc.Child(key);
        const json::value& fv = m.value();
        if (key == "ErrorEquals") {
          has_error_equals = true;
          r.error_equals = ParseErrorEquals(fv, floc, i + 1 == arr->size(), "Retrier");
        } else if (key == "IntervalSeconds") {
          if (auto n = RequireInteger(fv, floc, key, 0, kMaxRetryIntervalSeconds)) {
            r.interval_seconds = *n;
            if (*n == 0) {
              Warn(codes::kSchemaValidationFailed, floc,
                   "IntervalSeconds 0 retries immediately; the States Language specification "
                   "asks for a positive integer.");
            }
          }
        } else if (key == "MaxAttempts") {
          if (auto n = RequireInteger(fv, floc, key, 0, kMaxRetryAttempts)) r.max_attempts = *n;
        } else if (key == "BackoffRate") {
          auto d = AsNumber(fv);
          if (!d) {
            Error(floc, "The field 'BackoffRate' must be a number, got " + JsonTypeName(fv) + ".");
          } else if (*d < 1.0) {
            Error(floc, "The field 'BackoffRate' must be at least 1.0, got " + SerializeJson(fv) +
                            ".");
          } else {
            r.backoff_rate = *d;
          }
        } else if (key == "MaxDelaySeconds") {
          if (auto n = RequireInteger(fv, floc, key, 1, kMaxDelaySeconds)) r.max_delay_seconds = *n;
        } else if (key == "JitterStrategy") {
          if (const json::string* s = RequireString(fv, floc, key)) {
            if (*s == "FULL") {
              r.jitter = JitterStrategy::kFull;
            } else if (*s == "NONE") {
              r.jitter = JitterStrategy::kNone;
            } else {
              Error(floc, "The field 'JitterStrategy' must be 'FULL' or 'NONE', got " +
                              Quote(*s) + ".");
            }
          }
        } else if (key == "Comment") {
          RequireString(fv, floc, key);
        } else {
          UnsupportedField(rloc, key,
                           " in a Retrier; allowed: ErrorEquals, IntervalSeconds, MaxAttempts, "
                           "BackoffRate, MaxDelaySeconds, JitterStrategy, Comment.");
        }
      }
      if (!has_error_equals) Error(rloc, "A Retrier must have the field 'ErrorEquals'.");
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<Catcher> ParseCatch(const json::value& v, const Loc& loc,
                                  QueryLanguage ql) {
    std::vector<Catcher> out;
    const json::array* arr = RequireArray(v, loc, "Catch", /*non_empty=*/false);
    if (!arr) return out;
    for (size_t i = 0; i < arr->size(); ++i) {
      const Loc cloc = loc.Child(i);
      const json::object* obj = RequireObject((*arr)[i], cloc, "Catch");
      if (!obj) continue;
      Catcher c;
      bool has_error_equals = false;
      bool has_next = false;
      for (const auto& m : *obj) {
        std::string_view key(m.key().data(), m.key().size());
        const Loc floc = cloc.Child(key);
        const json::value& fv = m.value();
        if (key == "ErrorEquals") {
          has_error_equals = true;
          c.error_equals = ParseErrorEquals(fv, floc, i + 1 == arr->size(), "Catcher");
        } else if (key == "Next") {
          has_next = true;
          if (const json::string* s = RequireString(fv, floc, key)) {
            c.next = std::string(*s);
            AddTransition(*s, "Catch", i, "Next");
          }
        } else if (key == "ResultPath" && ql == QueryLanguage::kJsonPath) {
          c.result_path = ParseResultPath(fv, floc);
        } else if (key == "Output" && ql == QueryLanguage::kJsonata) {
          c.output = CompileJsonataTemplate(fv, floc, key);
        } else if (key == "Assign") {
          c.assign = CompileAssign(fv, floc, ql);
        } else if (key == "Comment") {
          RequireString(fv, floc, key);
        } else {
          UnsupportedField(cloc, key,
                           " in a Catcher with query language " +
                               std::string(QueryLanguageName(ql)) +
                               "; allowed: ErrorEquals, Next, " +
                               (ql == QueryLanguage::kJsonPath ? "ResultPath" : "Output") +
                               ", Assign, Comment.");
        }
      }
      if (!has_error_equals) Error(cloc, "A Catcher must have the field 'ErrorEquals'.");
      if (!has_next) Error(cloc, "A Catcher must have the field 'Next'.");
      out.push_back(std::move(c));
    }
    return out;
  }

  ResultPathSpec ParseResultPath(const json::value& v, const Loc& loc) {
    ResultPathSpec spec;
    if (v.is_null()) {
      spec.discard = true;
      return spec;
    }
    spec.path = CompilePath(v, loc, "ResultPath", /*reference=*/true);
    if (spec.path && spec.path->root() != JsonPath::Root::kInput) {
      Error(loc, "The field 'ResultPath' must start with '$' and refer to the state input; "
                 "context object and variables are read-only.");
    }
    return spec;
  }

  // -- choice rules ------------------------------------------------------------------------

  void ParseChoiceRule(const json::object& obj, const Loc& loc, bool top_level,
                       QueryLanguage ql, ChoiceRule* rule, size_t depth) {
    if (depth > kMaxNestingDepth) {
      Error(codes::kTooDeeplyNested, loc, "Choice rules are nested too deeply.");
      return;
    }
    if (ql == QueryLanguage::kJsonata) {
      rule->kind = ChoiceRule::Kind::kCondition;
      bool has_condition = false;
      for (const auto& m : obj) {
        std::string_view key(m.key().data(), m.key().size());
        const Loc floc = loc.Child(key);
        if (key == "Condition") {
          has_condition = true;
          if (m.value().is_bool()) {
            rule->condition_literal = m.value().get_bool();
          } else if (const json::string* s = RequireString(m.value(), floc, key)) {
            if (!IsJsonataExpression(*s)) {
              Error(floc, "The field 'Condition' must be a boolean or a JSONata expression "
                          "'{% ... %}'.");
            } else if (CheckJsonataString(*s, floc, key)) {
              rule->condition = JsonataBody(*s);
            }
          }
        } else if (key == "Next" && top_level) {
          if (const json::string* s = RequireString(m.value(), floc, key)) {
            rule->next = std::string(*s);
            AddTransition(*s, "Choices", current_choice_, "Next");
          }
        } else if (key == "Output" && top_level) {
          rule->output = CompileJsonataTemplate(m.value(), floc, key);
        } else if (key == "Assign" && top_level) {
          rule->assign = CompileAssign(m.value(), floc, ql);
        } else if (key == "Comment") {
          RequireString(m.value(), floc, key);
        } else {
          UnsupportedField(loc, key,
                           std::string(" in a JSONata ") + (top_level ? "" : "nested ") +
                               "Choice rule; allowed: Condition, " +
                               (top_level ? "Next, Output, Assign, " : "") + "Comment.");
        }
      }
      if (!has_condition) Error(loc, "A JSONata Choice rule must have the field 'Condition'.");
      if (top_level && rule->next.empty() && obj.find("Next") == obj.end()) {
        Error(loc, "A Choice rule must have the field 'Next'.");
      }
      return;
    }

    const OperatorInfo* op = nullptr;
    bool op_is_path = false;
    std::string op_key;
    int logical = 0;
    bool has_variable = false;
    for (const auto& m : obj) {
      std::string_view key(m.key().data(), m.key().size());
      const Loc floc = loc.Child(key);
      const json::value& fv = m.value();
      bool is_path = false;
      if (key == "Variable") {
        has_variable = true;
        rule->variable = CompilePath(fv, floc, key, /*reference=*/false);
      } else if (key == "Next") {
        if (!top_level) {
          UnsupportedField(loc, key,
                           " in a nested Choice rule: only top-level Choice rules have 'Next', "
                           "a rule nested in And, Or or Not does not.");
        } else if (const json::string* s = RequireString(fv, floc, key)) {
          rule->next = std::string(*s);
          AddTransition(*s, "Choices", current_choice_, "Next");
        }
      } else if (key == "Comment") {
        RequireString(fv, floc, key);
      } else if (key == "Assign" && top_level) {
        rule->assign = CompileAssign(fv, floc, ql);
      } else if (key == "And" || key == "Or") {
        ++logical;
        rule->kind = key == "And" ? ChoiceRule::Kind::kAnd : ChoiceRule::Kind::kOr;
        const json::array* arr = RequireArray(fv, floc, key, /*non_empty=*/true);
        if (!arr) continue;
        for (size_t i = 0; i < arr->size(); ++i) {
          const json::object* child = RequireObject((*arr)[i], floc.Child(i), key);
          if (!child) continue;
          rule->children.emplace_back();
          ParseChoiceRule(*child, floc.Child(i), false, ql, &rule->children.back(), depth + 1);
        }
      } else if (key == "Not") {
        ++logical;
        rule->kind = ChoiceRule::Kind::kNot;
        const json::object* child = RequireObject(fv, floc, key);
        if (!child) continue;
        rule->children.emplace_back();
        ParseChoiceRule(*child, floc, false, ql, &rule->children.back(), depth + 1);
      } else if (const OperatorInfo* info = FindOperator(key, &is_path)) {
        if (op) {
          Error(floc, "A Choice rule may have only one comparison operator; found " +
                          Quote(op_key) + " and " + Quote(key) + ".");
          continue;
        }
        op = info;
        op_is_path = is_path;
        op_key = std::string(key);
        rule->kind = ChoiceRule::Kind::kComparison;
        rule->op = info->op;
        ParseComparisonOperand(*info, is_path, fv, floc, key, rule);
      } else if (key == "Condition") {
        UnsupportedField(loc, key,
                         " with the JSONPath query language; 'Condition' requires JSONata, with "
                         "JSONPath use 'Variable' and a comparison operator.");
      } else {
        UnsupportedField(loc, key,
                         " in a Choice rule; expected 'Variable' with a comparison operator (e.g. "
                         "StringEquals, NumericLessThanPath, IsPresent), or 'And', 'Or', 'Not'.");
      }
    }
    (void)op_is_path;
    if (logical > 1 || (logical == 1 && op)) {
      Error(loc, "A Choice rule must be exactly one of: a comparison, 'And', 'Or' or 'Not'.");
    } else if (logical == 1) {
      if (has_variable) Error(loc.Child("Variable"), "A Boolean ('And', 'Or', 'Not') Choice rule "
                                                      "must not have 'Variable'.");
    } else if (!op) {
      Error(loc, "A Choice rule must have a comparison operator (e.g. StringEquals, "
                 "NumericGreaterThan, IsPresent) or be 'And', 'Or' or 'Not'.");
    } else if (!has_variable) {
      Error(loc, "A comparison Choice rule must have the field 'Variable'.");
    }
    if (top_level && obj.find("Next") == obj.end()) {
      Error(loc, "A Choice rule must have the field 'Next'.");
    }
  }

  void ParseComparisonOperand(const OperatorInfo& info, bool is_path, const json::value& v,
                              const Loc& loc, std::string_view key, ChoiceRule* rule) {
    if (is_path) {
      rule->operand_path = CompilePath(v, loc, key, /*reference=*/false);
      return;
    }
    switch (info.operand) {
      case OperatorInfo::kString:
      case OperatorInfo::kRegex:
        if (RequireString(v, loc, key)) rule->operand = OwnedCopy(v);
        break;
      case OperatorInfo::kNumber:
        if (!v.is_number()) {
          Error(loc, "The field " + Quote(key) + " must be a number, got " + JsonTypeName(v) + ".");
        } else {
          rule->operand = OwnedCopy(v);
        }
        break;
      case OperatorInfo::kBoolean:
      case OperatorInfo::kPredicate:
        if (!v.is_bool()) {
          Error(loc,
                "The field " + Quote(key) + " must be a boolean, got " + JsonTypeName(v) + ".");
        } else {
          rule->operand = OwnedCopy(v);
        }
        break;
      case OperatorInfo::kTimestamp:
        if (const json::string* s = RequireString(v, loc, key)) {
          auto t = ParseRfc3339(*s);
          if (!t.ok()) {
            Error(loc, "The field " + Quote(key) + " must be an RFC 3339 timestamp such as "
                       "'2016-03-14T01:59:00Z': " + std::string(t.status().message()));
          } else {
            rule->operand = OwnedCopy(v);
          }
        }
        break;
    }
  }

  // -- states ------------------------------------------------------------------------------

  // A transition to check when its scope is complete. Views point into the document.
  struct Transition {
    std::string_view target;
    std::string_view state;  // the state holding the field
    std::string_view list;   // "", "Catch" or "Choices"
    size_t index;            // position in `list`
    std::string_view field;  // "Next" or "Default"
  };

  void AddTransition(const json::string& target, std::string_view list, size_t index,
                     std::string_view field) {
    transitions_.push_back(Transition{std::string_view(target.data(), target.size()),
                                      current_state_, list, index, field});
  }

  void ParseState(const std::string& name, const json::value& v, const Loc& loc,
                  QueryLanguage scope_language, size_t depth, State* state) {
    state->name = name;
    const json::object* obj = RequireObject(v, loc, name);
    if (!obj) return;

    // Type first: it decides which fields are allowed.
    auto type_it = obj->find("Type");
    if (type_it == obj->end()) {
      Error(loc, "State " + Quote(name) + " must have the field 'Type'.");
      return;
    }
    const json::string* type_name = RequireString(type_it->value(), loc.Child("Type"), "Type");
    if (!type_name) return;
    const TypeInfo* type = nullptr;
    for (const auto& t : kTypes) {
      if (t.name == *type_name) type = &t;
    }
    if (!type) {
      Error(loc.Child("Type"), "Unknown state type " + Quote(*type_name) +
                                    "; allowed: Task, Pass, Choice, Wait, Succeed, Fail, "
                                    "Parallel, Map.");
      return;
    }
    state->type = type->type;

    state->query_language = scope_language;
    // A JSONata state machine cannot be turned back into JSONPath one state at a time. AWS reports
    // only that for such a state, not the fields its refused language would forbid on top of it.
    bool downgraded = false;
    if (auto it = obj->find("QueryLanguage"); it != obj->end()) {
      const Loc qloc = loc.Child("QueryLanguage");
      if (auto ql = ParseQueryLanguage(it->value(), qloc)) {
        if (scope_language == QueryLanguage::kJsonata && *ql == QueryLanguage::kJsonPath) {
          Error(loc, "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state "
                     "machine.");
          downgraded = true;
        }
        state->query_language = *ql;
      }
    }
    const QueryLanguage ql = state->query_language;

    // Every field must be known and allowed for this type; AWS locates these at the state. A field
    // of the other query language is reported at the state as well.
    for (const auto& m : *obj) {
      std::string_view key(m.key().data(), m.key().size());
      const FieldRule* rule = FindFieldRule(key);
      if (!rule) {
        UnsupportedField(loc, key, " by Step Functions.");
      } else if ((rule->types & type->bit) == 0) {
        UnsupportedField(loc, key, " by state type " + Quote(type->name) + ".");
      } else if (downgraded) {
        continue;
      } else if (ql == QueryLanguage::kJsonata && (rule->languages & kJA) == 0) {
        Error(loc, "The QueryLanguage is set to 'JSONata', but field " + Quote(key) +
                       " is only supported for the 'JSONPath' QueryLanguage; use " +
                       std::string(rule->jsonata_instead) + " instead.");
      } else if (ql == QueryLanguage::kJsonPath && (rule->languages & kJP) == 0) {
        Error(loc, "The QueryLanguage is set to 'JSONPath', but field " + Quote(key) +
                       " is only supported for the 'JSONata' QueryLanguage (set \"QueryLanguage\": "
                       "\"JSONata\" on the state or the state machine).");
      }
    }

    auto get = [&](std::string_view key) -> const json::value* {
      auto it = obj->find(key);
      if (it == obj->end()) return nullptr;
      const FieldRule* rule = FindFieldRule(key);
      if (!rule || (rule->types & type->bit) == 0) return nullptr;
      unsigned bit = ql == QueryLanguage::kJsonPath ? kJP : kJA;
      if ((rule->languages & bit) == 0) return nullptr;
      return &it->value();
    };
    auto floc = [&](std::string_view key) { return loc.Child(key); };

    if (const json::value* f = get("Comment")) {
      if (const json::string* s = RequireString(*f, floc("Comment"), "Comment")) {
        state->comment = std::string(*s);
      }
    }

    // Transitions.
    const bool terminal_type = state->type == StateType::kSucceed ||
                               state->type == StateType::kFail;
    if (state->type != StateType::kChoice && !terminal_type) {
      const json::value* next = get("Next");
      const json::value* end = get("End");
      if (next) {
        if (const json::string* s = RequireString(*next, floc("Next"), "Next")) {
          state->next = std::string(*s);
          AddTransition(*s, "", 0, "Next");
        }
      }
      if (end) {
        if (!end->is_bool()) {
          Error(floc("End"), "The field 'End' must be a boolean, got " + JsonTypeName(*end) + ".");
        } else {
          state->end = end->get_bool();
        }
      }
      if (next && state->end) {
        Error(floc("End"), "State " + Quote(name) + " has both 'Next' and 'End': true; a state "
                           "either transitions or ends.");
      } else if (!next && !state->end) {
        Error(loc, "State " + Quote(name) + " of type " + Quote(type->name) +
                       " must have either 'Next' or 'End': true.");
      }
    }

    // Data flow common to most types.
    if (const json::value* f = get("InputPath")) {
      if (f->is_null()) {
        state->input_path_null = true;
      } else {
        state->input_path = CompilePath(*f, floc("InputPath"), "InputPath", false);
      }
    }
    if (const json::value* f = get("OutputPath")) {
      if (f->is_null()) {
        state->output_path_null = true;
      } else {
        state->output_path = CompilePath(*f, floc("OutputPath"), "OutputPath", false);
      }
    }
    if (const json::value* f = get("Parameters")) {
      state->parameters = CompileJsonPathTemplate(*f, floc("Parameters"));
    }
    if (const json::value* f = get("ResultSelector")) {
      if (RequireObject(*f, floc("ResultSelector"), "ResultSelector")) {
        state->result_selector = CompileJsonPathTemplate(*f, floc("ResultSelector"));
      }
    }
    if (const json::value* f = get("ResultPath")) {
      state->result_path = ParseResultPath(*f, floc("ResultPath"));
    }
    if (const json::value* f = get("Arguments")) {
      state->arguments = CompileJsonataTemplate(*f, floc("Arguments"), "Arguments");
    }
    if (const json::value* f = get("Output")) {
      state->output = CompileJsonataTemplate(*f, floc("Output"), "Output");
    }
    if (const json::value* f = get("Assign")) {
      state->assign = CompileAssign(*f, floc("Assign"), ql);
    }
    if (const json::value* f = get("Retry")) state->retry = ParseRetry(*f, floc("Retry"));
    if (const json::value* f = get("Catch")) state->catch_ = ParseCatch(*f, floc("Catch"), ql);

    switch (state->type) {
      case StateType::kPass:
        if (const json::value* f = get("Result")) {
          state->result = OwnedCopy(*f);
          CheckPassResultIsStatic(*f, floc("Result"));
        }
        break;
      case StateType::kTask:
        ParseTask(*state, get, floc, loc);
        break;
      case StateType::kChoice:
        ParseChoice(*state, get, floc, loc);
        break;
      case StateType::kWait:
        ParseWait(*state, get, floc, loc);
        break;
      case StateType::kFail:
        ParseFail(*state, get, floc);
        break;
      case StateType::kSucceed:
        break;
      case StateType::kParallel:
        ParseParallel(*state, get, floc, loc, depth);
        break;
      case StateType::kMap:
        ParseMap(*state, get, floc, loc, depth);
        break;
    }
  }

  template <typename Get, typename FieldLoc>
  void ParseTask(State& state, Get& get, FieldLoc& floc, const Loc& loc) {
    const QueryLanguage ql = state.query_language;
    if (const json::value* f = get("Resource")) {
      if (const json::string* s = RequireString(*f, floc("Resource"), "Resource")) {
        state.resource = std::string(*s);
        CheckResource(state.resource, floc("Resource"));
      }
    } else {
      Error(loc, "Task state " + Quote(state.name) + " must have the field 'Resource'.");
    }
    const json::value* timeout = get("TimeoutSeconds");
    const json::value* timeout_path = get("TimeoutSecondsPath");
    const json::value* heartbeat = get("HeartbeatSeconds");
    const json::value* heartbeat_path = get("HeartbeatSecondsPath");
    if (timeout && timeout_path) {
      Error(floc("TimeoutSecondsPath"),
            "A Task may have 'TimeoutSeconds' or 'TimeoutSecondsPath', not both.");
    }
    if (heartbeat && heartbeat_path) {
      Error(floc("HeartbeatSecondsPath"),
            "A Task may have 'HeartbeatSeconds' or 'HeartbeatSecondsPath', not both.");
    }
    if (timeout) {
      state.timeout_seconds = NumberOrJsonata(*timeout, floc("TimeoutSeconds"), "TimeoutSeconds",
                                              ql, 1, kMaxTimeoutSeconds);
    } else if (timeout_path) {
      state.timeout_seconds.path =
          CompilePath(*timeout_path, floc("TimeoutSecondsPath"), "TimeoutSecondsPath", true);
    }
    if (heartbeat) {
      state.heartbeat_seconds = NumberOrJsonata(*heartbeat, floc("HeartbeatSeconds"),
                                                "HeartbeatSeconds", ql, 1, kMaxTimeoutSeconds);
    } else if (heartbeat_path) {
      state.heartbeat_seconds.path = CompilePath(*heartbeat_path, floc("HeartbeatSecondsPath"),
                                                 "HeartbeatSecondsPath", true);
    }
    if (state.timeout_seconds.literal && state.heartbeat_seconds.literal &&
        *state.heartbeat_seconds.literal >= *state.timeout_seconds.literal) {
      Error(floc("HeartbeatSeconds"), "'HeartbeatSeconds' must be smaller than 'TimeoutSeconds'.");
    }
    if (const json::value* f = get("Credentials")) {
      if (const json::object* obj = RequireObject(*f, floc("Credentials"), "Credentials")) {
        bool has_role = obj->contains("RoleArn") || obj->contains("RoleArn.$");
        if (!has_role) {
          Error(floc("Credentials"), "The field 'Credentials' must contain 'RoleArn'" +
                                         std::string(ql == QueryLanguage::kJsonPath
                                                         ? " or 'RoleArn.$'."
                                                         : "."));
        }
        state.credentials = ql == QueryLanguage::kJsonPath
                                ? CompileJsonPathTemplate(*f, floc("Credentials"))
                                : CompileJsonataTemplate(*f, floc("Credentials"), "Credentials");
      }
    }
  }

  // Resource must be an ARN: arn:partition:service:region:account:resource.
  void CheckResource(const std::string& resource, const Loc& loc) {
    size_t colons = static_cast<size_t>(std::count(resource.begin(), resource.end(), ':'));
    bool ok = StartsWith(resource, "arn:") && colons >= 5;
    if (ok) {
      // partition and service must not be empty.
      size_t p1 = 4;
      size_t p2 = resource.find(':', p1);
      size_t p3 = resource.find(':', p2 + 1);
      ok = p2 > p1 && p3 > p2 + 1;
    }
    if (!ok) {
      Error(codes::kInvalidResource, loc,
            "The value of 'Resource' must be an ARN "
            "('arn:<partition>:<service>:<region>:<account>:<resource>', e.g. "
            "'arn:aws:states:::lambda:invoke'), got " + Quote(resource) + ".");
    }
  }

  template <typename Get, typename FieldLoc>
  void ParseChoice(State& state, Get& get, FieldLoc& floc, const Loc& loc) {
    if (const json::value* f = get("Choices")) {
      const Loc choices_loc = floc("Choices");
      if (const json::array* arr = RequireArray(*f, choices_loc, "Choices", true)) {
        for (size_t i = 0; i < arr->size(); ++i) {
          const Loc rloc = choices_loc.Child(i);
          const json::object* rule = RequireObject((*arr)[i], rloc, "Choices");
          if (!rule) continue;
          state.choices.emplace_back();
          current_choice_ = i;
          ParseChoiceRule(*rule, rloc, true, state.query_language, &state.choices.back(), 0);
        }
      }
    } else {
      Error(loc, "Choice state " + Quote(state.name) + " must have the field 'Choices'.");
    }
    if (const json::value* f = get("Default")) {
      if (const json::string* s = RequireString(*f, floc("Default"), "Default")) {
        state.default_next = std::string(*s);
        AddTransition(*s, "", 0, "Default");
      }
    }
  }

  template <typename Get, typename FieldLoc>
  void ParseWait(State& state, Get& get, FieldLoc& floc, const Loc& loc) {
    const QueryLanguage ql = state.query_language;
    int forms = 0;
    const char* found[4] = {};
    for (const char* key : {"Seconds", "Timestamp", "SecondsPath", "TimestampPath"}) {
      if (get(key)) found[forms++] = key;
    }
    if (forms == 0) {
      Error(loc, "Wait state " + Quote(state.name) +
                     " must have exactly one of 'Seconds', 'Timestamp', 'SecondsPath' or "
                     "'TimestampPath'.");
      return;
    }
    if (forms > 1) {
      Error(floc(found[1]), "Wait state " + Quote(state.name) + " has both " + Quote(found[0]) +
                                " and " + Quote(found[1]) + "; it must have exactly one.");
      return;
    }
    if (const json::value* f = get("Seconds")) {
      state.seconds = NumberOrJsonata(*f, floc("Seconds"), "Seconds", ql, 0, kMaxWaitSeconds);
    } else if (const json::value* ts = get("Timestamp")) {
      if (const json::string* s = RequireString(*ts, floc("Timestamp"), "Timestamp")) {
        if (ql == QueryLanguage::kJsonata && IsJsonataExpression(*s)) {
          if (CheckJsonataString(*s, floc("Timestamp"), "Timestamp")) {
            state.timestamp.jsonata = JsonataBody(*s);
          }
        } else if (auto t = ParseRfc3339(*s); !t.ok()) {
          Error(floc("Timestamp"), "The field 'Timestamp' must be an RFC 3339 timestamp such as "
                                   "'2016-03-14T01:59:00Z': " +
                                       std::string(t.status().message()));
        } else {
          state.timestamp.literal = std::string(*s);
        }
      }
    } else if (const json::value* sp = get("SecondsPath")) {
      state.seconds.path = CompilePath(*sp, floc("SecondsPath"), "SecondsPath", true);
    } else if (const json::value* tp = get("TimestampPath")) {
      state.timestamp.path = CompilePath(*tp, floc("TimestampPath"), "TimestampPath", true);
    }
  }

  template <typename Get, typename FieldLoc>
  void ParseFail(State& state, Get& get, FieldLoc& floc) {
    const QueryLanguage ql = state.query_language;
    auto parse_pair = [&](const char* field, const char* path_field, DynamicString* out) {
      const json::value* literal = get(field);
      const json::value* path = get(path_field);
      if (literal && path) {
        Error(floc(path_field), "A Fail state may have " + Quote(field) + " or " +
                                    Quote(path_field) + ", not both.");
        return;
      }
      if (literal) {
        if (const json::string* s = RequireString(*literal, floc(field), field)) {
          if (ql == QueryLanguage::kJsonata && IsJsonataExpression(*s)) {
            if (CheckJsonataString(*s, floc(field), field)) out->jsonata = JsonataBody(*s);
          } else {
            if (ql == QueryLanguage::kJsonPath && LooksLikePath(*s)) {
              Warn(codes::kNoPath, floc(field),
                   "The value of " + Quote(field) + " looks like a path, but the field is not " +
                       Quote(path_field) + "; it will be used as a literal string.");
            }
            out->literal = std::string(*s);
          }
        }
      } else if (path) {
        if (const json::string* s = RequireString(*path, floc(path_field), path_field)) {
          if (LooksLikeIntrinsic(*s)) {
            auto call = ParseIntrinsic(*s);
            if (!call.ok()) {
              Error(floc(path_field), "The value for the field " + Quote(path_field) +
                                          " must be a valid intrinsic function call: " +
                                          std::string(call.status().message()));
            } else {
              out->intrinsic = std::make_shared<const IntrinsicCall>(std::move(call).value());
            }
          } else {
            out->path = CompilePath(*path, floc(path_field), path_field, true);
          }
        }
      }
    };
    parse_pair("Error", "ErrorPath", &state.error);
    parse_pair("Cause", "CausePath", &state.cause);
  }

  template <typename Get, typename FieldLoc>
  void ParseParallel(State& state, Get& get, FieldLoc& floc, const Loc& loc, size_t depth) {
    const json::value* f = get("Branches");
    if (!f) {
      Error(loc, "Parallel state " + Quote(state.name) + " must have the field 'Branches'.");
      return;
    }
    const Loc branches_loc = floc("Branches");
    const json::array* arr = RequireArray(*f, branches_loc, "Branches", true);
    if (!arr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      const Loc bloc = branches_loc.Child(i);
      const json::object* branch = RequireObject((*arr)[i], bloc, "Branches");
      if (!branch) continue;
      if (auto m = ParseScope(*branch, bloc, top_language_, ScopeKind::kBranch, depth + 1)) {
        state.branches.push_back(std::move(m));
      }
    }
  }

  template <typename Get, typename FieldLoc>
  void ParseMap(State& state, Get& get, FieldLoc& floc, const Loc& loc, size_t depth) {
    const QueryLanguage ql = state.query_language;
    const json::value* processor = get("ItemProcessor");
    const json::value* iterator = get("Iterator");
    if (processor && iterator) {
      Error(floc("Iterator"), "A Map state may have 'ItemProcessor' or the legacy 'Iterator', "
                              "not both.");
    } else if (!processor && !iterator) {
      Error(loc, "Map state " + Quote(state.name) + " must have the field 'ItemProcessor'.");
    }
    if (processor) {
      if (const json::object* obj = RequireObject(*processor, floc("ItemProcessor"),
                                                  "ItemProcessor")) {
        ParseProcessorConfig(*obj, floc("ItemProcessor"), &state);
        state.item_processor = ParseScope(*obj, floc("ItemProcessor"), top_language_,
                                          ScopeKind::kItemProcessor, depth + 1);
      }
    } else if (iterator) {
      if (const json::object* obj = RequireObject(*iterator, floc("Iterator"), "Iterator")) {
        // AWS accepts ProcessorConfig inside the legacy Iterator as well.
        ParseProcessorConfig(*obj, floc("Iterator"), &state);
        state.item_processor =
            ParseScope(*obj, floc("Iterator"), top_language_, ScopeKind::kIterator, depth + 1);
      }
    }

    const bool distributed = state.map_mode == MapMode::kDistributed;

    // Items to iterate over.
    if (const json::value* f = get("ItemsPath")) {
      state.items_path = CompilePath(*f, floc("ItemsPath"), "ItemsPath", true);
    }
    if (const json::value* f = get("Items")) {
      if (f->is_string() || f->is_array()) {
        state.items = CompileJsonataTemplate(*f, floc("Items"), "Items");
        if (f->is_string() && !state.items->IsDynamic()) {
          Error(floc("Items"), "The field 'Items' must be an array or a JSONata expression "
                               "'{% ... %}'.");
        }
      } else {
        Error(floc("Items"), "The field 'Items' must be an array or a JSONata expression "
                             "'{% ... %}', got " + JsonTypeName(*f) + ".");
      }
    }
    // ItemSelector, or the legacy Parameters (JSONPath only).
    const json::value* selector = get("ItemSelector");
    if (selector && state.parameters) {
      Error(floc("Parameters"), "A Map state may have 'ItemSelector' or the legacy "
                                "'Parameters', not both.");
    }
    if (selector) {
      if (RequireObject(*selector, floc("ItemSelector"), "ItemSelector")) {
        state.item_selector = ql == QueryLanguage::kJsonPath
                                  ? CompileJsonPathTemplate(*selector, floc("ItemSelector"))
                                  : CompileJsonataTemplate(*selector, floc("ItemSelector"),
                                                           "ItemSelector");
      }
    } else if (state.parameters) {
      state.item_selector = std::move(state.parameters);
      state.parameters.reset();
    }

    auto pair = [&](const char* field, const char* path_field, DynamicNumber* out, int64_t max) {
      const json::value* literal = get(field);
      const json::value* path = get(path_field);
      if (literal && path) {
        Error(floc(path_field), "A Map state may have " + Quote(field) + " or " +
                                    Quote(path_field) + ", not both.");
        return;
      }
      if (literal) {
        *out = NumberOrJsonata(*literal, floc(field), field, ql, 0, max);
      } else if (path) {
        out->path = CompilePath(*path, floc(path_field), path_field, true);
      }
    };
    pair("MaxConcurrency", "MaxConcurrencyPath", &state.max_concurrency, INT32_MAX);
    pair("ToleratedFailureCount", "ToleratedFailureCountPath", &state.tolerated_failure_count,
         INT32_MAX);
    if (const json::value* f = get("ToleratedFailurePercentage")) {
      if (ql == QueryLanguage::kJsonata && f->is_string()) {
        state.tolerated_failure_percentage =
            NumberOrJsonata(*f, floc("ToleratedFailurePercentage"), "ToleratedFailurePercentage",
                            ql, 0, 100);
      } else if (auto d = AsNumber(*f); !d || *d < 0 || *d > 100) {
        Error(floc("ToleratedFailurePercentage"),
              "The field 'ToleratedFailurePercentage' must be a number between 0 and 100.");
      } else {
        state.tolerated_failure_percentage.literal = *d;
      }
      if (get("ToleratedFailurePercentagePath")) {
        Error(floc("ToleratedFailurePercentagePath"),
              "A Map state may have 'ToleratedFailurePercentage' or "
              "'ToleratedFailurePercentagePath', not both.");
      }
    } else if (const json::value* p = get("ToleratedFailurePercentagePath")) {
      state.tolerated_failure_percentage.path =
          CompilePath(*p, floc("ToleratedFailurePercentagePath"),
                      "ToleratedFailurePercentagePath", true);
    }

    // Fields of the distributed mode.
    // AWS accepts ToleratedFailure* on inline maps too (recorded in the conformance corpus).
    for (const char* key : {"ItemReader", "ItemBatcher", "ResultWriter", "Label"}) {
      if (get(key) && !distributed) {
        Error(floc(key), "Field " + Quote(key) + " is only supported by a Map state whose "
                         "ItemProcessor.ProcessorConfig.Mode is 'DISTRIBUTED'.");
      }
    }
    if (const json::value* f = get("ItemReader")) {
      const Loc reader_loc = floc("ItemReader");
      if (const json::object* obj = RequireObject(*f, reader_loc, "ItemReader")) {
        if (!obj->contains("Resource")) {
          Error(floc("ItemReader"), "The field 'ItemReader' must contain 'Resource'.");
        } else if (const json::string* s = RequireString(obj->at("Resource"),
                                                         reader_loc.Child("Resource"),
                                                         "Resource")) {
          CheckResource(std::string(*s), reader_loc.Child("Resource"));
        }
        state.item_reader = OwnedCopy(*f);
      }
    }
    if (const json::value* f = get("ItemBatcher")) {
      if (RequireObject(*f, floc("ItemBatcher"), "ItemBatcher")) state.item_batcher = OwnedCopy(*f);
    }
    if (const json::value* f = get("ResultWriter")) {
      if (RequireObject(*f, floc("ResultWriter"), "ResultWriter")) state.result_writer = OwnedCopy(*f);
    }
    if (const json::value* f = get("Label")) {
      if (const json::string* s = RequireString(*f, floc("Label"), "Label")) {
        state.label = std::string(*s);
        CheckLabel(state.label, floc("Label"));
      }
    }
  }

  void CheckLabel(const std::string& label, const Loc& loc) {
    static constexpr std::string_view kForbidden = " \t\n\r<>{}[]?*\"#%\\^|~`$&,;:/";
    bool bad_char = label.find_first_of(kForbidden) != std::string::npos ||
                    HasControlCharacter(label) || HasC1ControlCharacter(label);
    if (label.empty() || CodePointCount(label) > kMaxLabelLength || bad_char) {
      Error(codes::kInvalidLabelName, loc,
            "The Map 'Label' must be 1 to 40 characters without whitespace, brackets, wildcards, "
            "punctuation such as \" # % \\ ^ | ~ ` $ & , ; : / or control characters.");
      return;
    }
    if (auto [it, inserted] = labels_.emplace(label, loc.ToString()); !inserted) {
      Error(codes::kDuplicateLabelName, loc,
            "The Map 'Label' " + Quote(label) + " is already used at " + it->second + ".");
    }
  }

  void ParseProcessorConfig(const json::object& processor, const Loc& loc, State* state) {
    auto it = processor.find("ProcessorConfig");
    if (it == processor.end()) return;
    const Loc cloc = loc.Child("ProcessorConfig");
    const json::object* config = RequireObject(it->value(), cloc, "ProcessorConfig");
    if (!config) return;
    bool has_execution_type = false;
    for (const auto& m : *config) {
      std::string_view key(m.key().data(), m.key().size());
      const Loc floc = cloc.Child(key);
      if (key == "Mode") {
        if (const json::string* s = RequireString(m.value(), floc, key)) {
          if (*s == "INLINE") {
            state->map_mode = MapMode::kInline;
          } else if (*s == "DISTRIBUTED") {
            state->map_mode = MapMode::kDistributed;
          } else {
            Error(floc, "The field 'Mode' must be 'INLINE' or 'DISTRIBUTED', got " + Quote(*s) +
                            ".");
          }
        }
      } else if (key == "ExecutionType") {
        has_execution_type = true;
        if (const json::string* s = RequireString(m.value(), floc, key)) {
          if (*s == "STANDARD") {
            state->map_execution_type = MapExecutionType::kStandard;
          } else if (*s == "EXPRESS") {
            state->map_execution_type = MapExecutionType::kExpress;
          } else {
            Error(floc, "The field 'ExecutionType' must be 'STANDARD' or 'EXPRESS', got " +
                            Quote(*s) + ".");
          }
        }
      } else {
        UnsupportedField(cloc, key, " in ProcessorConfig; allowed: Mode, ExecutionType.");
      }
    }
    if (has_execution_type && state->map_mode != MapMode::kDistributed) {
      Error(cloc.Child("ExecutionType"),
            "'ExecutionType' is only supported when 'Mode' is 'DISTRIBUTED'.");
    } else if (!has_execution_type && state->map_mode == MapMode::kDistributed) {
      Error(cloc, "'ExecutionType' ('STANDARD' or 'EXPRESS') is required when 'Mode' is "
                  "'DISTRIBUTED'.");
    }
  }

  void CheckPassResultIsStatic(const json::value& v, const Loc& loc) {
    if (v.is_object()) {
      for (const auto& m : v.get_object()) {
        std::string_view key(m.key().data(), m.key().size());
        if (EndsWith(key, ".$")) {
          Warn(codes::kPassResultIsStatic, loc.Child(key),
               "The Pass state's 'Result' is static: the field " + Quote(key) +
                   " is not evaluated as a path. Use 'Parameters' for dynamic values.");
        }
        CheckPassResultIsStatic(m.value(), loc.Child(key));
      }
    } else if (v.is_array()) {
      const auto& arr = v.get_array();
      for (size_t i = 0; i < arr.size(); ++i) CheckPassResultIsStatic(arr[i], loc.Child(i));
    }
  }

  std::optional<QueryLanguage> ParseQueryLanguage(const json::value& v, const Loc& loc) {
    const json::string* s = RequireString(v, loc, "QueryLanguage");
    if (!s) return std::nullopt;
    if (*s == "JSONPath") return QueryLanguage::kJsonPath;
    if (*s == "JSONata") return QueryLanguage::kJsonata;
    Error(loc, "The field 'QueryLanguage' must be 'JSONPath' or 'JSONata', got " + Quote(*s) + ".");
    return std::nullopt;
  }

  // -- scopes ------------------------------------------------------------------------------

  std::shared_ptr<StateMachine> ParseScope(const json::object& obj, const Loc& loc,
                                           QueryLanguage inherited, ScopeKind kind,
                                           size_t depth) {
    if (depth > kMaxNestingDepth) {
      Error(codes::kTooDeeplyNested, loc,
            "States are nested too deeply (more than " + std::to_string(kMaxNestingDepth) +
                " levels of Parallel and Map).");
      return nullptr;
    }
    auto machine = std::make_shared<StateMachine>();
    machine->query_language = inherited;
    const size_t errors_before = ErrorCount();

    for (const auto& m : obj) {
      std::string_view key(m.key().data(), m.key().size());
      const Loc floc = loc.Child(key);
      const json::value& fv = m.value();
      if (key == "StartAt" || key == "States") continue;  // below
      if (key == "Comment") {
        if (const json::string* s = RequireString(fv, floc, key)) {
          machine->comment = std::string(*s);
        }
      } else if (key == "QueryLanguage" && kind == ScopeKind::kTop) {
        if (auto ql = ParseQueryLanguage(fv, floc)) machine->query_language = *ql;
      } else if (key == "Version" && kind == ScopeKind::kTop) {
        if (const json::string* s = RequireString(fv, floc, key)) {
          if (*s != "1.0") {
            Error(floc, "The field 'Version' must be '1.0', got " + Quote(*s) + ".");
          }
          machine->version = std::string(*s);
        }
      } else if (key == "TimeoutSeconds" && kind == ScopeKind::kTop) {
        machine->timeout_seconds = RequireInteger(fv, floc, key, 1, kMaxTimeoutSeconds);
      } else if (key == "ProcessorConfig" &&
                 (kind == ScopeKind::kItemProcessor || kind == ScopeKind::kIterator)) {
        // Parsed by ParseProcessorConfig.
      } else {
        std::string allowed = kind == ScopeKind::kTop
                                  ? "StartAt, States, Comment, Version, TimeoutSeconds, "
                                    "QueryLanguage"
                              : kind != ScopeKind::kBranch
                                  ? "StartAt, States, Comment, ProcessorConfig"
                                  : "StartAt, States, Comment";
        UnsupportedField(loc, key, "; allowed here: " + allowed + ".");
      }
    }

    if (kind == ScopeKind::kTop) top_language_ = machine->query_language;

    auto start_it = obj.find("StartAt");
    auto states_it = obj.find("States");
    if (start_it == obj.end()) {
      Error(loc, "The field 'StartAt' is required.");
    } else if (const json::string* s = RequireString(start_it->value(), loc.Child("StartAt"),
                                                     "StartAt")) {
      machine->start_at = std::string(*s);
    }
    if (states_it == obj.end()) {
      Error(loc, "The field 'States' is required.");
      return nullptr;
    }
    const Loc states_loc = loc.Child("States");
    const json::object* states = RequireObject(states_it->value(), states_loc, "States");
    if (!states) return nullptr;
    if (states->empty()) {
      Error(states_loc, "The field 'States' must contain at least one state.");
      return nullptr;
    }

    // Transitions collected while parsing this scope's states (nested scopes use their own).
    std::vector<Transition> outer_transitions = std::move(transitions_);
    transitions_.clear();

    const std::string_view outer_state = current_state_;
    scope_paths_.push_back(states_loc.ToString());
    machine->states.reserve(states->size());
    machine->index.reserve(states->size());
    for (const auto& m : *states) {
      const std::string_view name(m.key().data(), m.key().size());
      const Loc sloc = states_loc.Child(name);
      CheckStateName(name, sloc);
      current_state_ = name;
      machine->states.emplace_back();
      ParseState(std::string(name), m.value(), sloc, machine->query_language, depth,
                 &machine->states.back());
      State& state = machine->states.back();
      state.reads_context = StateReadsContext(state);
      state.parameters_repeatable = StateParametersRepeatable(state);
      machine->index.emplace(name, machine->states.size() - 1);
    }
    current_state_ = outer_state;

    // Transition targets must exist in this scope.
    if (!machine->start_at.empty() && !machine->index.contains(machine->start_at)) {
      Error(codes::kMissingTransitionTarget, loc.Child("StartAt"),
            "'StartAt' names the state " + Quote(machine->start_at) +
                ", which does not exist in this scope.");
    }
    for (const auto& t : transitions_) {
      if (!machine->index.contains(t.target)) {
        const Loc state_loc = states_loc.Child(t.state);
        const Loc list_loc = state_loc.Child(t.list);
        const Loc item_loc = list_loc.Child(t.index);
        const Loc field_loc = t.list.empty() ? state_loc.Child(t.field) : item_loc.Child(t.field);
        Error(codes::kMissingTransitionTarget, field_loc,
              "Missing 'Next' target: " + Quote(t.target) +
                  " is not a state of this scope (a transition cannot leave its Parallel "
                  "branch or Map item processor).");
      }
    }
    transitions_ = std::move(outer_transitions);

    CheckReachability(*machine, loc, states_loc);
    if (ErrorCount() != errors_before) return nullptr;
    machine->IndexTransitions();
    return machine;
  }

  void CheckStateName(std::string_view name, const Loc& loc) {
    if (name.empty() || CodePointCount(name) > kMaxStateNameLength || HasControlCharacter(name)) {
      Error(codes::kInvalidStateName, loc,
            "State name " + Quote(name.substr(0, 100)) +
                " is invalid: a state name must be 1 to 80 characters without control "
                "characters.");
    }
    if (auto [it, inserted] = state_names_.emplace(name, scope_paths_.size() - 1); !inserted) {
      Error(codes::kDuplicateStateName, loc,
            "Duplicate state name " + Quote(name) + ": already defined at " +
                scope_paths_[it->second] + "/" + JsonPointerEscape(name) +
                ". State names must be unique within the whole state machine.");
    }
  }

  // Some state ends the scope, and every state is reachable from StartAt. AWS reports a missing
  // terminal state without a location (here: the scope, "" at the top level) and then skips the
  // reachability walk; an unreachable state is a MISSING_TRANSITION_TARGET at the state.
  void CheckReachability(const StateMachine& machine, const Loc& scope_loc,
                         const Loc& states_loc) {
    bool has_terminal = false;
    for (const auto& s : machine.states) {
      if (s.end || s.type == StateType::kSucceed || s.type == StateType::kFail) {
        has_terminal = true;
      }
    }
    if (!has_terminal) {
      Error(codes::kMissingEndState, scope_loc,
            "Workflow has no terminal state: at least one state must be a Succeed or Fail state "
            "or have 'End': true.");
      return;
    }
    // Without a StartAt there is nothing to walk from. A StartAt naming no state has already been
    // reported; as AWS does, every state of the scope is then unreachable too.
    if (machine.start_at.empty()) return;
    std::vector<bool> seen(machine.states.size(), false);
    std::vector<size_t> stack;
    if (machine.Find(machine.start_at) != nullptr) {
      stack.push_back(machine.index.at(machine.start_at));
      seen[stack.back()] = true;
    }
    auto visit = [&](const std::string& target) {
      auto it = machine.index.find(target);
      if (it != machine.index.end() && !seen[it->second]) {
        seen[it->second] = true;
        stack.push_back(it->second);
      }
    };
    while (!stack.empty()) {
      const State& s = machine.states[stack.back()];
      stack.pop_back();
      if (!s.next.empty()) visit(s.next);
      if (!s.default_next.empty()) visit(s.default_next);
      for (const auto& rule : s.choices) visit(rule.next);
      for (const auto& c : s.catch_) visit(c.next);
    }
    for (size_t i = 0; i < machine.states.size(); ++i) {
      if (!seen[i]) {
        Error(codes::kMissingTransitionTarget, states_loc.Child(machine.states[i].name),
              "State \"" + machine.states[i].name + "\" is not reachable from 'StartAt' " +
                  Quote(machine.start_at) + ".");
      }
    }
  }

  size_t ErrorCount() const {
    return static_cast<size_t>(std::count_if(
        diagnostics_.begin(), diagnostics_.end(),
        [](const Diagnostic& d) { return d.severity == Severity::kError; }));
  }

  std::vector<Diagnostic>& diagnostics_;
  std::vector<Transition> transitions_;
  // The state machine's QueryLanguage. States inside a Parallel branch or a Map's ItemProcessor
  // inherit it, not the enclosing Parallel's or Map's own: AWS documents that a state without
  // QueryLanguage takes the top-level value, and a Map or Parallel declaring JSONata leaves the
  // states inside it on a JSONPath machine's JSONPath.
  QueryLanguage top_language_ = QueryLanguage::kJsonPath;
  // State name (a view into the document) -> index in scope_paths_ of its first definition.
  std::unordered_map<std::string_view, size_t> state_names_;
  std::vector<std::string> scope_paths_;  // JSON Pointer of each scope's "States"
  std::string_view current_state_;        // the state being parsed, for AddTransition
  size_t current_choice_ = 0;             // the top-level Choice rule being parsed
  std::unordered_map<std::string, std::string> labels_;       // Map Label -> location
};

}  // namespace

ParseResult ParseDefinition(const json::value& document) {
  ParseResult result;
  Validator validator(&result.diagnostics);
  auto machine = validator.ParseTopLevel(document);
  if (machine && !HasErrors(result.diagnostics)) result.machine = std::move(machine);
  return result;
}

ParseResult ParseDefinition(std::string_view text) {
  ParseResult result;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    result.diagnostics.push_back(Diagnostic{Severity::kError,
                                            std::string(codes::kMissingDescription),
                                            "The definition is empty.", ""});
    return result;
  }
  if (text.size() > kMaxDefinitionBytes) {
    result.diagnostics.push_back(Diagnostic{
        Severity::kError, std::string(codes::kSchemaValidationFailed),
        "The definition is " + std::to_string(text.size()) + " bytes; Step Functions accepts at "
        "most " + std::to_string(kMaxDefinitionBytes) + " bytes.", ""});
    return result;
  }
  // The document lives only while it is validated: allocate it from an arena.
  json::monotonic_resource arena(text.size() * 2);
  auto document = ParseJson(text, &arena);
  if (!document.ok()) {
    result.diagnostics.push_back(Diagnostic{Severity::kError,
                                            std::string(codes::kInvalidJsonDescription),
                                            std::string(document.status().message()), ""});
    return result;
  }
  std::vector<Diagnostic> duplicate_diagnostics;
  for (auto& d : FindDuplicateKeys(text)) {
    if (d.in_states) {
      duplicate_diagnostics.push_back(Diagnostic{
          Severity::kError, std::string(codes::kDuplicateStateName),
          "Duplicate state name '" + d.key + "' in the same 'States' object.", d.location});
    } else {
      duplicate_diagnostics.push_back(Diagnostic{
          Severity::kError, std::string(codes::kSchemaValidationFailed),
          "Duplicate field '" + d.key + "': each field may appear only once.", d.location});
    }
  }
  result = ParseDefinition(*document);
  if (!duplicate_diagnostics.empty()) {
    result.machine.reset();
    result.diagnostics.insert(result.diagnostics.begin(), duplicate_diagnostics.begin(),
                              duplicate_diagnostics.end());
  }
  return result;
}

}  // namespace hpd::asl
