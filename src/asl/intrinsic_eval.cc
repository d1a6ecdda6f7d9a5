#include "asl/intrinsic_eval.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/base64.h"
#include "common/json.h"
#include "common/utf8.h"
#include "common/uuid.h"

// Where the rules come from. The shared conformance corpus (AWS-recorded executions) pins:
// MathAdd rounding each operand half up (1.49 + 1.5 = 3, 1.5 + 1.51 = 4, -2.5 + 0 = -2), Format
// rendering null as "null", 1.1 as "1.1" and an object as {Id=..., Name=...}, StringSplit
// splitting on every character of the delimiter and dropping empty pieces, StringToJson of "" is
// null, JsonToString's compact output, ArrayRange's inclusive end. The LocalStack snapshots the
// corpus was cut from add ArrayContains finding an equal object and array. Characterisations run
// against AWS by other emulators' authors (floci's tests, a TypeScript emulator's conformance
// suite) add: the "The function '...' had the following error: The JsonPath argument for the field
// ..." cause, States.Runtime with "Invalid arguments in States.X" for bad arguments, truncation of
// fractional ArrayPartition/ArrayRange/ArrayGetItem/MathRandom arguments, the 1,000-item ArrayRange
// cap, the 10,000-character limits, a lenient Base64 decoder, Hash accepting non-string data,
// ArrayGetItem of an empty array giving null and ArrayContains comparing values by their Java
// string form (true matches "true", object key order matters).

namespace hpd::asl {

namespace json = boost::json;

namespace {

constexpr size_t kMaxStringLength = 10000;  // Base64Encode, Base64Decode, Hash: UTF-16 units
constexpr int64_t kMaxArrayRangeItems = 1000;

// ---------------------------------------------------------------------------------------------
// Failures

Status Failure(StatusCode code, std::string detail) {
  Status status(code, std::move(detail));
  status.SetErrorName(std::string(kIntrinsicErrorName));
  return status;
}

Status InvalidArguments(IntrinsicFunction function) {
  return Failure(StatusCode::kInvalidArgument,
                 "Invalid arguments in " + std::string(IntrinsicFunctionName(function)));
}

// ---------------------------------------------------------------------------------------------
// Values as Java sees them

std::string_view View(const json::string& s) { return std::string_view(s.data(), s.size()); }

bool IsNumber(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

// Java's (int) conversion of a number: toward zero, saturating at the int range.
int64_t TruncateToInt32(const json::value& v) {
  constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  if (v.is_int64()) return std::clamp<int64_t>(v.get_int64(), kMin, kMax);
  if (v.is_uint64()) return kMax;
  const double d = v.get_double();
  if (std::isnan(d)) return 0;
  if (d <= static_cast<double>(kMin)) return kMin;
  if (d >= static_cast<double>(kMax)) return kMax;
  return static_cast<int64_t>(d);  // truncates toward zero
}

// Java's (long) conversion of a number: toward zero, saturating at the long range (a JSON integer
// beyond it, a BigInteger to Jackson, keeps its low 64 bits as BigInteger.longValue() does).
int64_t TruncateToInt64(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  const double d = v.get_double();
  if (std::isnan(d)) return 0;
  if (d >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (d <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(d);
}

// Java's Math.round(double): floor(d + 0.5) computed exactly, saturating at the long range.
std::optional<int64_t> JavaRound(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(v.get_uint64());
  }
  const double d = v.get_double();
  if (std::isnan(d)) return 0;
  const double floor = std::floor(d);
  // d - floor is exact for doubles, so ties are detected without the rounding error of d + 0.5.
  const double rounded = (d - floor >= 0.5) ? floor + 1 : floor;
  if (rounded >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (rounded <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(rounded);
}

// The text Java's toString gives the value once Step Functions has turned the JSON into Java
// objects (String, Integer/Long, Double, Boolean, null, LinkedHashMap, ArrayList).
void AppendJavaString(const json::value& v, std::string* out) {
  switch (v.kind()) {
    case json::kind::null:
      out->append("null");
      return;
    case json::kind::bool_:
      out->append(v.get_bool() ? "true" : "false");
      return;
    case json::kind::int64:
      out->append(std::to_string(v.get_int64()));
      return;
    case json::kind::uint64:
      out->append(std::to_string(v.get_uint64()));
      return;
    case json::kind::double_:
      AppendDouble(v.get_double(), out);
      return;
    case json::kind::string:
      out->append(v.get_string().data(), v.get_string().size());
      return;
    case json::kind::array: {
      out->push_back('[');
      bool first = true;
      for (const json::value& element : v.get_array()) {
        if (!first) out->append(", ");
        first = false;
        AppendJavaString(element, out);
      }
      out->push_back(']');
      return;
    }
    case json::kind::object: {
      out->push_back('{');
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out->append(", ");
        first = false;
        out->append(member.key().data(), member.key().size());
        out->push_back('=');
        AppendJavaString(member.value(), out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string JavaString(const json::value& v) {
  std::string out;
  AppendJavaString(v, &out);
  return out;
}

// Structural equality as Java's equals() on those objects: objects regardless of key order,
// arrays element-wise, integers and doubles never equal to each other.
bool JavaEquals(const json::value& a, const json::value& b) {
  const bool a_integral = a.is_int64() || a.is_uint64();
  const bool b_integral = b.is_int64() || b.is_uint64();
  if (a_integral || b_integral) {
    if (!a_integral || !b_integral) return false;
    if (a.is_int64() && b.is_int64()) return a.get_int64() == b.get_int64();
    if (a.is_uint64() && b.is_uint64()) return a.get_uint64() == b.get_uint64();
    const json::value& s = a.is_int64() ? a : b;
    const json::value& u = a.is_int64() ? b : a;
    return s.get_int64() >= 0 && static_cast<uint64_t>(s.get_int64()) == u.get_uint64();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::null:
      return true;
    case json::kind::bool_:
      return a.get_bool() == b.get_bool();
    case json::kind::double_:
      return a.get_double() == b.get_double();
    case json::kind::string:
      return a.get_string() == b.get_string();
    case json::kind::array: {
      const json::array& x = a.get_array();
      const json::array& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!JavaEquals(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const json::object& x = a.get_object();
      const json::object& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& member : x) {
        const json::value* other = y.if_contains(member.key());
        if (other == nullptr || !JavaEquals(member.value(), *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// UTF-8 and UTF-16

// Java's String.length() of well-formed UTF-8 text.
size_t Utf16Length(std::string_view text) {
  size_t units = 0;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++units;  // a lead byte starts one code point
    if (c >= 0xF0) ++units;           // four-byte sequences are surrogate pairs
  }
  return units;
}

// The code points of well-formed UTF-8 text, each as its byte sequence.
std::vector<std::string_view> CodePoints(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) length = 1;
    out.push_back(text.substr(i, length));
    i += length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Base64 and hashes


int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// A lenient decoder in the manner of Apache Commons Codec: characters outside the standard and
// URL-safe alphabets are skipped, decoding stops at the first '=', and a final partial group
// yields the whole bytes it holds. AWS decodes "abc", "!!!invalid!!!" and " YWJjZA== " alike.
std::string Base64DecodeLenient(std::string_view text) {
  std::string out;
  uint32_t accumulator = 0;
  int digits = 0;
  for (const char c : text) {
    if (c == '=') break;
    const int digit = Base64Digit(c);
    if (digit < 0) continue;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(digit);
    if (++digits == 4) {
      out.push_back(static_cast<char>((accumulator >> 16) & 0xFF));
      out.push_back(static_cast<char>((accumulator >> 8) & 0xFF));
      out.push_back(static_cast<char>(accumulator & 0xFF));
      accumulator = 0;
      digits = 0;
    }
  }
  if (digits == 2) {
    out.push_back(static_cast<char>((accumulator >> 4) & 0xFF));
  } else if (digits == 3) {
    out.push_back(static_cast<char>((accumulator >> 10) & 0xFF));
    out.push_back(static_cast<char>((accumulator >> 2) & 0xFF));
  }
  return out;
}

const EVP_MD* HashAlgorithm(std::string_view name) {
  if (name == "MD5") return EVP_md5();
  if (name == "SHA-1") return EVP_sha1();
  if (name == "SHA-256") return EVP_sha256();
  if (name == "SHA-384") return EVP_sha384();
  if (name == "SHA-512") return EVP_sha512();
  return nullptr;
}

std::optional<std::string> HexDigest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, md, nullptr) != 1) {
    return std::nullopt;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// java.util.Random, for seeded States.MathRandom: the same seed gives the same number, as on AWS
// (whose generator is presumably this one; unverified, see the report).

class JavaRandom {
 public:
  explicit JavaRandom(int64_t seed) : seed_((static_cast<uint64_t>(seed) ^ kMultiplier) & kMask) {}

  // nextInt(bound) for bound > 0.
  int32_t NextInt(int32_t bound) {
    int32_t r = Next31();
    const int32_t m = bound - 1;
    if ((bound & m) == 0) {
      return static_cast<int32_t>((static_cast<int64_t>(bound) * r) >> 31);
    }
    for (int32_t u = r;; u = Next31()) {
      r = u % bound;
      // Java: u - r + m < 0 in int arithmetic, which wraps.
      const auto sum = static_cast<int32_t>(static_cast<uint32_t>(static_cast<int64_t>(u) - r + m));
      if (sum >= 0) return r;
    }
  }

 private:
  static constexpr uint64_t kMultiplier = 0x5DEECE66DULL;
  static constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;

  int32_t Next31() {
    seed_ = (seed_ * kMultiplier + 0xBULL) & kMask;
    return static_cast<int32_t>(seed_ >> (48 - 31));
  }

  uint64_t seed_;
};

// ---------------------------------------------------------------------------------------------
// Writing calls back as text

void AppendEscapedLiteral(std::string_view text, std::string* out) {
  for (const char c : text) {
    if (c == '\'' || c == '{' || c == '}' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
}

void AppendCall(const IntrinsicCall& call, std::string* out);

void AppendArg(const IntrinsicArg& arg, std::string* out) {
  if (arg.is_path()) {
    out->append(arg.path().text());
  } else if (arg.is_call()) {
    AppendCall(arg.call(), out);
  } else if (const json::string* s = arg.literal().if_string()) {
    out->push_back('\'');
    AppendEscapedLiteral(std::string_view(s->data(), s->size()), out);
    out->push_back('\'');
  } else {
    AppendJson(arg.literal(), out);
  }
}

void AppendCall(const IntrinsicCall& call, std::string* out) {
  out->append(call.name);
  out->push_back('(');
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (i > 0) out->append(", ");
    if (i == 0 && call.format_template.has_value()) {
      out->push_back('\'');
      const std::vector<std::string>& pieces = call.format_template->pieces;
      for (size_t p = 0; p < pieces.size(); ++p) {
        if (p > 0) out->append("{}");
        AppendEscapedLiteral(pieces[p], out);
      }
      out->push_back('\'');
    } else {
      AppendArg(call.args[i], out);
    }
  }
  out->push_back(')');
}

// ---------------------------------------------------------------------------------------------
// The evaluator

class Evaluator {
 public:
  explicit Evaluator(const EvaluationScope& scope) : scope_(scope) {}

  StatusOr<json::value> Evaluate(const IntrinsicCall& call) {
    std::vector<json::value> args;
    args.reserve(call.args.size());
    for (const IntrinsicArg& arg : call.args) {
      HPD_ASSIGN_OR_RETURN(json::value value, EvaluateArg(arg));
      args.push_back(std::move(value));
    }
    return Apply(call, args);
  }

 private:
  StatusOr<json::value> EvaluateArg(const IntrinsicArg& arg) {
    if (arg.is_literal()) return arg.literal();
    if (arg.is_call()) return Evaluate(arg.call());
    return ResolvePath(arg.path());
  }

  Status NotFound(const JsonPath& path) const {
    std::string named = path.text();
    if (path.root() == JsonPath::Root::kContext) named.erase(0, 1);  // "$$.a" is named "$.a"
    std::string detail =
        "The JsonPath argument for the field '" + named + "' could not be found in the input '";
    detail.append(scope_.input != nullptr ? SerializeJson(*scope_.input) : "null");
    detail.push_back('\'');
    return Failure(StatusCode::kNotFound, std::move(detail));
  }

  StatusOr<json::value> ResolvePath(const JsonPath& path) {
    const json::value* root = PathRoot(path, scope_);
    if (root == nullptr) {
      if (path.root() == JsonPath::Root::kInput) {
        return FailedPreconditionError("intrinsic evaluation needs an input document for " +
                                       path.text());
      }
      return NotFound(path);
    }
    if (!path.IsDefinite()) {
      json::array matches;
      for (const json::value* match : path.Select(*root)) matches.push_back(*match);
      return json::value(std::move(matches));
    }
    // Walked here rather than with Find() to tell Jayway's "not an array" failure apart.
    const json::value* current = root;
    for (const PathSegment& segment : path.segments()) {
      if (const auto* field = std::get_if<FieldSegment>(&segment)) {
        const json::object* object = current->if_object();
        current = object != nullptr ? object->if_contains(field->name) : nullptr;
      } else if (const auto* index = std::get_if<IndexSegment>(&segment)) {
        const json::array* array = current->if_array();
        if (array == nullptr) {
          if (current->is_null()) return NotFound(path);
          return Failure(
              StatusCode::kNotFound,
              "Filter: [" + std::to_string(index->index) +
                  "] can only be applied to arrays. Current context is: " + JavaString(*current));
        }
        const auto size = static_cast<int64_t>(array->size());
        const int64_t i = index->index < 0 ? index->index + size : index->index;
        current = (i >= 0 && i < size) ? &(*array)[static_cast<size_t>(i)] : nullptr;
      } else {
        current = nullptr;  // a Jayway function call: Step Functions fails such paths
      }
      if (current == nullptr) return NotFound(path);
    }
    return *current;
  }

  StatusOr<json::value> Apply(const IntrinsicCall& call, std::vector<json::value>& args) {
    const IntrinsicFunction f = call.function;
    switch (f) {
      case IntrinsicFunction::kFormat:
        return Format(call, args);
      case IntrinsicFunction::kStringToJson:
        return StringToJson(args[0]);
      case IntrinsicFunction::kJsonToString:
        return json::value(SerializeJson(args[0]));
      case IntrinsicFunction::kArray: {
        json::array array;
        array.reserve(args.size());
        for (json::value& arg : args) array.push_back(std::move(arg));
        return json::value(std::move(array));
      }
      case IntrinsicFunction::kArrayPartition:
        return ArrayPartition(args[0], args[1]);
      case IntrinsicFunction::kArrayContains:
        return ArrayContains(args[0], args[1]);
      case IntrinsicFunction::kArrayRange:
        return ArrayRange(args[0], args[1], args[2]);
      case IntrinsicFunction::kArrayGetItem:
        return ArrayGetItem(args[0], args[1]);
      case IntrinsicFunction::kArrayLength:
        if (!args[0].is_array()) return InvalidArguments(f);
        return json::value(static_cast<int64_t>(args[0].get_array().size()));
      case IntrinsicFunction::kArrayUnique:
        return ArrayUnique(args[0]);
      case IntrinsicFunction::kBase64Encode: {
        const json::string* s = args[0].if_string();
        if (s == nullptr || Utf16Length(View(*s)) > kMaxStringLength) return InvalidArguments(f);
        return json::value(Base64Encode(View(*s)));
      }
      case IntrinsicFunction::kBase64Decode: {
        const json::string* s = args[0].if_string();
        if (s == nullptr || Utf16Length(View(*s)) > kMaxStringLength) return InvalidArguments(f);
        return json::value(SanitizeUtf8(Base64DecodeLenient(View(*s))));
      }
      case IntrinsicFunction::kHash:
        return Hash(args[0], args[1]);
      case IntrinsicFunction::kJsonMerge:
        return JsonMerge(args[0], args[1], args[2]);
      case IntrinsicFunction::kMathRandom:
        return MathRandom(args);
      case IntrinsicFunction::kMathAdd:
        return MathAdd(args[0], args[1]);
      case IntrinsicFunction::kStringSplit:
        return StringSplit(args[0], args[1]);
      case IntrinsicFunction::kUuid:
        if (scope_.random == nullptr) {
          return FailedPreconditionError("States.UUID needs a random source in the scope");
        }
        return json::value(NewUuidV4(*scope_.random));
    }
    return InternalError("unknown intrinsic function");
  }

  static StatusOr<json::value> Format(const IntrinsicCall& call,
                                      const std::vector<json::value>& args) {
    FormatTemplate parsed;
    if (call.format_template.has_value()) {
      parsed = *call.format_template;
    } else {
      const json::string* text = args[0].if_string();
      if (text == nullptr) return InvalidArguments(call.function);
      parsed = ParseFormatTemplate(View(*text));
    }
    if (parsed.placeholder_count() != args.size() - 1) return InvalidArguments(call.function);
    std::string out = parsed.pieces[0];
    for (size_t i = 1; i < parsed.pieces.size(); ++i) {
      AppendJavaString(args[i], &out);
      out.append(parsed.pieces[i]);
    }
    return json::value(std::move(out));
  }

  static StatusOr<json::value> StringToJson(const json::value& arg) {
    const json::string* text = arg.if_string();
    if (text == nullptr) return InvalidArguments(IntrinsicFunction::kStringToJson);
    const std::string_view view = View(*text);
    if (view.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::value(nullptr);
    StatusOr<json::value> parsed = ParseJson(view);
    if (!parsed.ok()) return InvalidArguments(IntrinsicFunction::kStringToJson);
    return std::move(parsed).value();
  }

  static StatusOr<json::value> ArrayPartition(const json::value& array, const json::value& size) {
    if (!array.is_array() || !IsNumber(size)) {
      return InvalidArguments(IntrinsicFunction::kArrayPartition);
    }
    const int64_t chunk = TruncateToInt32(size);
    if (chunk < 1) return InvalidArguments(IntrinsicFunction::kArrayPartition);
    const json::array& items = array.get_array();
    const auto chunk_size = static_cast<size_t>(chunk);
    json::array out;
    for (size_t i = 0; i < items.size(); i += chunk_size) {
      json::array part;
      for (size_t j = i; j < items.size() && j < i + chunk_size; ++j) part.push_back(items[j]);
      out.push_back(std::move(part));
    }
    return json::value(std::move(out));
  }

  static StatusOr<json::value> ArrayContains(const json::value& array, const json::value& item) {
    if (!array.is_array()) return InvalidArguments(IntrinsicFunction::kArrayContains);
    const std::string wanted = JavaString(item);
    for (const json::value& element : array.get_array()) {
      if (element.is_null() || item.is_null()) {
        if (element.is_null() && item.is_null()) return json::value(true);
        continue;
      }
      if (JavaString(element) == wanted) return json::value(true);
    }
    return json::value(false);
  }

  static StatusOr<json::value> ArrayRange(const json::value& first, const json::value& last,
                                          const json::value& step) {
    constexpr IntrinsicFunction f = IntrinsicFunction::kArrayRange;
    if (!IsNumber(first) || !IsNumber(last) || !IsNumber(step)) return InvalidArguments(f);
    const int64_t start = TruncateToInt32(first);
    const int64_t end = TruncateToInt32(last);
    const int64_t increment = TruncateToInt32(step);
    if (increment == 0) return InvalidArguments(f);
    int64_t count = 0;
    if (increment > 0 && start <= end) count = (end - start) / increment + 1;
    if (increment < 0 && start >= end) count = (start - end) / -increment + 1;
    if (count > kMaxArrayRangeItems) return InvalidArguments(f);
    json::array out;
    out.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) out.emplace_back(start + i * increment);
    return json::value(std::move(out));
  }

  static StatusOr<json::value> ArrayGetItem(const json::value& array, const json::value& index) {
    if (!array.is_array() || !IsNumber(index)) {
      return InvalidArguments(IntrinsicFunction::kArrayGetItem);
    }
    const json::array& items = array.get_array();
    if (items.empty()) return json::value(nullptr);  // as AWS answers, whatever the index
    const int64_t i = TruncateToInt32(index);
    if (i < 0 || i >= static_cast<int64_t>(items.size())) {
      return InvalidArguments(IntrinsicFunction::kArrayGetItem);
    }
    return items[static_cast<size_t>(i)];
  }

  static StatusOr<json::value> ArrayUnique(const json::value& array) {
    if (!array.is_array()) return InvalidArguments(IntrinsicFunction::kArrayUnique);
    json::array out;
    for (const json::value& element : array.get_array()) {
      bool seen = false;
      for (const json::value& kept : out) {
        if (JavaEquals(kept, element)) {
          seen = true;
          break;
        }
      }
      if (!seen) out.push_back(element);
    }
    return json::value(std::move(out));
  }

  static StatusOr<json::value> Hash(const json::value& data, const json::value& algorithm) {
    constexpr IntrinsicFunction f = IntrinsicFunction::kHash;
    const json::string* name = algorithm.if_string();
    if (name == nullptr || data.is_null()) return InvalidArguments(f);
    const EVP_MD* md = HashAlgorithm(View(*name));
    if (md == nullptr) return InvalidArguments(f);
    const std::string text = JavaString(data);
    if (Utf16Length(text) > kMaxStringLength) return InvalidArguments(f);
    std::optional<std::string> digest = HexDigest(md, text);
    if (!digest) return InternalError("OpenSSL failed to compute a digest");
    return json::value(std::move(*digest));
  }

  static StatusOr<json::value> JsonMerge(const json::value& a, const json::value& b,
                                         const json::value& deep) {
    // Only the shallow form exists: AWS rejects `true` (and anything not a boolean).
    if (!a.is_object() || !b.is_object() || !deep.is_bool() || deep.get_bool()) {
      return InvalidArguments(IntrinsicFunction::kJsonMerge);
    }
    // As a LinkedHashMap.putAll: a replaced key keeps its place, new keys go last.
    json::object out = a.get_object();
    for (const auto& member : b.get_object()) out[member.key()] = member.value();
    return json::value(std::move(out));
  }

  StatusOr<json::value> MathRandom(const std::vector<json::value>& args) {
    constexpr IntrinsicFunction f = IntrinsicFunction::kMathRandom;
    if (!IsNumber(args[0]) || !IsNumber(args[1])) return InvalidArguments(f);
    const int64_t start = TruncateToInt32(args[0]);
    const int64_t end = TruncateToInt32(args[1]);
    // Java computes end - start in int arithmetic; a range wider than that fails there.
    if (start >= end || end - start > std::numeric_limits<int32_t>::max()) {
      return InvalidArguments(f);
    }
    const int64_t width = end - start;
    if (args.size() == 3) {
      if (!IsNumber(args[2])) return InvalidArguments(f);
      JavaRandom random(TruncateToInt64(args[2]));
      return json::value(start + random.NextInt(static_cast<int32_t>(width)));
    }
    if (scope_.random == nullptr) {
      return FailedPreconditionError("States.MathRandom needs a random source in the scope");
    }
    return json::value(start +
                       static_cast<int64_t>(scope_.random->Uniform(static_cast<uint64_t>(width))));
  }

  static StatusOr<json::value> MathAdd(const json::value& a, const json::value& b) {
    constexpr IntrinsicFunction f = IntrinsicFunction::kMathAdd;
    if (!IsNumber(a) || !IsNumber(b)) return InvalidArguments(f);
    const std::optional<int64_t> x = JavaRound(a);
    const std::optional<int64_t> y = JavaRound(b);
    int64_t sum = 0;
    if (!x || !y || __builtin_add_overflow(*x, *y, &sum)) return InvalidArguments(f);
    return json::value(sum);
  }

  // java.util.StringTokenizer: every character of the delimiter string separates tokens, and
  // tokens are never empty.
  static StatusOr<json::value> StringSplit(const json::value& text, const json::value& delimiters) {
    const json::string* s = text.if_string();
    const json::string* d = delimiters.if_string();
    if (s == nullptr || d == nullptr) return InvalidArguments(IntrinsicFunction::kStringSplit);
    const std::vector<std::string_view> separators = CodePoints(View(*d));
    json::array out;
    std::string token;
    for (const std::string_view code_point : CodePoints(View(*s))) {
      bool separates = false;
      for (const std::string_view separator : separators) {
        if (separator == code_point) {
          separates = true;
          break;
        }
      }
      if (!separates) {
        token.append(code_point);
      } else if (!token.empty()) {
        out.emplace_back(token);
        token.clear();
      }
    }
    if (!token.empty()) out.emplace_back(token);
    return json::value(std::move(out));
  }

  const EvaluationScope& scope_;
};

}  // namespace

std::string FormatIntrinsicCall(const IntrinsicCall& call) {
  std::string out;
  AppendCall(call, &out);
  return out;
}

StatusOr<json::value> EvaluateIntrinsic(const IntrinsicCall& call, const EvaluationScope& scope,
                                        std::string_view expression_text) {
  StatusOr<json::value> result = Evaluator(scope).Evaluate(call);
  if (result.ok() || result.status().error_name() != kIntrinsicErrorName) return result;
  std::string cause = "The function '";
  if (expression_text.empty()) {
    AppendCall(call, &cause);
  } else {
    cause.append(expression_text);
  }
  cause.append("' had the following error: ");
  cause.append(result.status().message());
  return Failure(result.status().code(), std::move(cause));
}

}  // namespace hpd::asl
