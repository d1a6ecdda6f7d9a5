#include "asl_conformance/normalize.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <utility>

#include <boost/json.hpp>

#include "common/json.h"
#include "engine/python_json.h"

namespace hpd::conformance {
namespace {

namespace json = boost::json;
using engine::PythonJsonDumps;

constexpr size_t kMaxShownValue = 200;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// Python's json.loads for the values normalize.py decodes.
std::optional<json::value> PyLoads(std::string_view text) {
  auto parsed = ParseJson(text);
  if (!parsed.ok()) return std::nullopt;
  return std::move(parsed).value();
}

// str.replace(from, to); an empty `from` is left alone (normalize.py never passes one).
std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  size_t start = 0;
  while (true) {
    const size_t pos = text.find(from, start);
    if (pos == std::string_view::npos) break;
    out.append(text, start, pos - start);
    out.append(to);
    start = pos + from.size();
  }
  out.append(text, start);
  return out;
}

// re.sub(prefix + "[CLASS]+", prefix + replacement, text) for the two "Request ID" rules.
template <typename InClass>
std::string ReplaceLabelledId(std::string_view text, std::string_view prefix,
                              std::string_view replacement, InClass in_class) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, prefix.size(), prefix) == 0) {
      size_t end = i + prefix.size();
      while (end < text.size() && in_class(text[end])) ++end;
      if (end > i + prefix.size()) {
        out.append(prefix);
        out.append(replacement);
        i = end;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

// The replacement string of Python's re.sub, in std::regex match terms.
std::string ExpandPythonReplacement(std::string_view repl, const std::smatch& match) {
  std::string out;
  for (size_t i = 0; i < repl.size(); ++i) {
    if (repl[i] != '\\' || i + 1 == repl.size()) {
      out.push_back(repl[i]);
      continue;
    }
    const char next = repl[i + 1];
    if (IsDigit(next)) {
      size_t group = static_cast<size_t>(next - '0');
      ++i;
      if (i + 1 < repl.size() && IsDigit(repl[i + 1])) {
        group = group * 10 + static_cast<size_t>(repl[i + 1] - '0');
        ++i;
      }
      if (group < match.size()) out.append(match[group].str());
      continue;
    }
    if (next == 'g' && i + 2 < repl.size() && repl[i + 2] == '<') {
      const size_t close = repl.find('>', i + 3);
      if (close != std::string_view::npos) {
        const std::string_view name = repl.substr(i + 3, close - i - 3);
        if (!name.empty() && std::all_of(name.begin(), name.end(), IsDigit)) {
          const size_t group = static_cast<size_t>(std::stoul(std::string(name)));
          if (group < match.size()) out.append(match[group].str());
        }
        i = close;
        continue;
      }
    }
    switch (next) {
      case '\\': out.push_back('\\'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'f': out.push_back('\f'); break;
      case 'v': out.push_back('\v'); break;
      case 'a': out.push_back('\a'); break;
      default:  // unknown escapes of non-letters stay as written
        out.push_back('\\');
        out.push_back(next);
    }
    ++i;
  }
  return out;
}

Status ApplyRegexReplacement(const RegexReplacement& rule, std::string* text) {
  static constexpr std::string_view kMeta = "\\^$.|?*+()[]{}";
  if (rule.pattern.find_first_of(kMeta) == std::string::npos) {
    *text = ReplaceAll(*text, rule.pattern, rule.replacement);
    return Status::Ok();
  }
  std::regex re;
  try {
    re = std::regex(rule.pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return InvalidArgumentError("regex_replacement \"" + rule.pattern + "\": " + e.what());
  }
  std::string out;
  auto last = text->cbegin();
  for (std::sregex_iterator it(text->cbegin(), text->cend(), re), end; it != end; ++it) {
    const std::smatch& m = *it;
    out.append(last, m[0].first);
    out.append(ExpandPythonReplacement(rule.replacement, m));
    last = m[0].second;
  }
  out.append(last, text->cend());
  *text = std::move(out);
  return Status::Ok();
}

// UUID.match(v): a canonical UUID at the start of v.
bool StartsWithUuid(std::string_view v) {
  if (v.size() < 36) return false;
  for (size_t i = 0; i < 36; ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? v[i] != '-' : !IsHex(v[i])) return false;
  }
  return true;
}

bool EndsWithIdIgnoreCase(std::string_view key) {
  if (key.size() < 2) return false;
  const char a = static_cast<char>(std::tolower(static_cast<unsigned char>(key[key.size() - 2])));
  const char b = static_cast<char>(std::tolower(static_cast<unsigned char>(key[key.size() - 1])));
  return a == 'i' && b == 'd';
}

// TIMESTAMP_KEY = re.compile(r"^.*timestamp.*$", re.IGNORECASE), matched with .match().
bool IsTimestampKey(std::string_view key) {
  std::string_view line = key;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.find('\n') != std::string_view::npos) return false;
  std::string lower(line);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("timestamp") != std::string::npos;
}

json::value SortKeys(const json::value& v) {
  if (const json::object* o = v.if_object()) {
    std::vector<std::string_view> keys;
    keys.reserve(o->size());
    for (const auto& member : *o) keys.push_back(member.key());
    std::sort(keys.begin(), keys.end());
    json::object sorted;
    sorted.reserve(keys.size());
    for (std::string_view k : keys) sorted[k] = SortKeys(o->at(k));
    return sorted;
  }
  if (const json::array* a = v.if_array()) {
    json::array out;
    out.reserve(a->size());
    for (const auto& item : *a) out.push_back(SortKeys(item));
    return out;
  }
  return v;
}

void ParseBraceStrings(json::object& d) {
  for (auto& member : d) {
    json::value& v = member.value();
    if (json::array* list = v.if_array()) {
      for (json::value& item : *list) {
        if (json::object* o = item.if_object()) ParseBraceStrings(*o);
      }
    }
    if (json::object* o = v.if_object()) ParseBraceStrings(*o);
    if (const json::string* s = v.if_string(); s != nullptr && s->starts_with('{')) {
      if (auto parsed = PyLoads(*s)) v = std::move(*parsed);
    }
  }
}

enum class SdkParent { kNone, kHttp, kResponse };

void SdkMetadata(json::value& o, SdkParent parent) {
  if (json::object* d = o.if_object()) {
    for (auto& member : *d) {
      const std::string_view k = member.key();
      if (k == "X-Amzn-Trace-Id" || k == "x-amz-crc32" || k == "x-amzn-RequestId" ||
          k == "x-amzn-requestid") {
        member.value() = k;
      } else if (k == "Date" && parent == SdkParent::kHttp) {
        member.value() = "date";
      } else if (k == "RequestId" && parent == SdkParent::kResponse) {
        member.value() = "RequestId";
      } else {
        SdkParent child = SdkParent::kNone;
        if (k == "SdkHttpMetadata" || parent == SdkParent::kHttp) {
          child = SdkParent::kHttp;
        } else if (k == "SdkResponseMetadata" || parent == SdkParent::kResponse) {
          child = SdkParent::kResponse;
        }
        SdkMetadata(member.value(), child);
      }
    }
  } else if (json::array* a = o.if_array()) {
    for (json::value& x : *a) SdkMetadata(x, parent);
  }
}

// CAUSE_JSON = re.compile(r".*'({.*})'", re.S), matched with .match(): the captured text runs
// from the last "'{" that has a "}'" at least two characters later to the last "}'".
std::optional<std::string_view> CauseJsonCapture(std::string_view cause) {
  const size_t close = cause.rfind("}'");
  if (close == std::string_view::npos || close < 2) return std::nullopt;
  const size_t open = cause.rfind("'{", close - 2);
  if (open == std::string_view::npos) return std::nullopt;
  return cause.substr(open + 1, close - open);
}

void CauseJsonInputs(const json::value& o, std::vector<std::string>& found) {
  const json::object* d = o.if_object();
  if (d == nullptr) return;
  for (const auto& member : *d) {
    const json::value& v = member.value();
    if (member.key() == "cause" && v.is_string()) {
      if (auto captured = CauseJsonCapture(v.get_string())) {
        if (PyLoads(*captured) &&
            std::find(found.begin(), found.end(), *captured) == found.end()) {
          found.emplace_back(*captured);
        }
      }
    } else if (v.is_object()) {
      CauseJsonInputs(v, found);
    } else if (const json::array* list = v.if_array()) {
      for (const auto& x : *list) {
        if (x.is_object()) CauseJsonInputs(x, found);
      }
    }
  }
}

bool IsParallelEnd(std::string_view type) {
  return type == "ParallelStateSucceeded" || type == "ParallelStateAborted" ||
         type == "ParallelStateExited" || type == "ParallelStateFailed";
}

std::string_view TypeOf(const json::value& event) {
  if (const json::object* o = event.if_object()) {
    if (const json::value* t = o->if_contains("type"); t != nullptr && t->is_string()) {
      return t->get_string();
    }
  }
  return {};
}

// normalize.py's parallel_quirk, slice semantics included: a ParallelStateSucceeded followed by
// ParallelStateExited is dropped, and the element after the shrunken slice is skipped.
void ParallelQuirk(json::array& events) {
  size_t start = 0;
  std::vector<json::value> sub;
  bool inside = false;
  size_t i = 0;
  while (i < events.size()) {
    const std::string_view type = TypeOf(events[i]);
    if (IsParallelEnd(type)) {
      std::vector<std::pair<std::string, json::value>> keyed;
      keyed.reserve(sub.size());
      for (const auto& e : sub) keyed.emplace_back(PythonJsonDumps(e), e);
      std::stable_sort(keyed.begin(), keyed.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      // events[start:i] = sorted(sub)
      const size_t from = std::min(start, events.size());
      const size_t to = std::max(from, std::min(i, events.size()));
      json::array rebuilt;
      rebuilt.reserve(events.size() - (to - from) + keyed.size());
      for (size_t k = 0; k < from; ++k) rebuilt.push_back(std::move(events[k]));
      for (auto& [text, e] : keyed) rebuilt.push_back(std::move(e));
      for (size_t k = to; k < events.size(); ++k) rebuilt.push_back(std::move(events[k]));
      events = std::move(rebuilt);
      inside = false;
    } else if (type == "ParallelStateStarted") {
      inside = true;
      sub.clear();
      start = i + 1;
    } else if (inside) {
      if (json::object* e = events[i].if_object()) {
        (*e)["id"] = json::array{0};
        (*e)["previousEventId"] = 0;
      }
      sub.push_back(events[i]);
    }
    ++i;
  }
}

void TimestampKeys(json::value& o) {
  json::object* d = o.if_object();
  if (d == nullptr) return;
  for (auto& member : *d) {
    const std::string_view k = member.key();
    json::value& v = member.value();
    const bool iso = v.is_string() && MatchIso8601(v.get_string(), 0) > 0;
    if ((IsTimestampKey(k) || k == "creationTime" || k == "ingestionTime") && !iso) {
      v = "timestamp";
    } else if (v.is_object()) {
      TimestampKeys(v);
    } else if (json::array* list = v.if_array()) {
      for (json::value& x : *list) {
        if (x.is_object()) TimestampKeys(x);
      }
    }
  }
}

void UuidRefs(const json::value& o, std::vector<std::string>& found) {
  const json::object* d = o.if_object();
  if (d == nullptr) return;
  for (const auto& member : *d) {
    const json::value& v = member.value();
    if (v.is_string() && EndsWithIdIgnoreCase(member.key()) && StartsWithUuid(v.get_string())) {
      const std::string_view s = v.get_string();
      if (std::find(found.begin(), found.end(), s) == found.end()) found.emplace_back(s);
    } else if (v.is_object()) {
      UuidRefs(v, found);
    } else if (const json::array* list = v.if_array()) {
      for (const auto& x : *list) {
        if (x.is_object()) UuidRefs(x, found);
      }
    }
  }
}

std::string IsoToDate(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (IsDigit(text[i])) {
      if (const size_t len = MatchIso8601(text, i); len > 0) {
        out.append("date");
        i += len;
        continue;
      }
    }
    out.push_back(text[i++]);
  }
  return out;
}

// Visits every value `path` selects (not below a selected value).
template <typename Visit>
void ForEachSelected(json::value& v, const JsonPathPattern& path, Location& at, Visit& visit) {
  if (json::object* o = v.if_object()) {
    for (auto& member : *o) {
      at.emplace_back(std::string(member.key()));
      if (path.Matches(at)) {
        visit(member.value());
      } else {
        ForEachSelected(member.value(), path, at, visit);
      }
      at.pop_back();
    }
  } else if (json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      at.emplace_back(i);
      if (path.Matches(at)) {
        visit((*a)[i]);
      } else {
        ForEachSelected((*a)[i], path, at, visit);
      }
      at.pop_back();
    }
  }
}

StatusOr<json::value> ApplyTransformer(json::value h, const JsonPathTransformer& t) {
  Location at;
  if (!t.replace_reference) {
    auto replace = [&](json::value& v) { v = t.replacement; };
    ForEachSelected(h, t.path, at, replace);
    return h;
  }
  std::vector<std::string> values;
  auto collect = [&](json::value& v) {
    if (v.is_string() && std::find(values.begin(), values.end(), v.get_string()) == values.end()) {
      values.emplace_back(v.get_string());
    }
  };
  ForEachSelected(h, t.path, at, collect);
  if (values.empty()) return h;
  std::string text = PythonJsonDumps(h);
  for (size_t n = 0; n < values.size(); ++n) {
    text = ReplaceAll(text, ReplaceAll(values[n], "\"", "\\\""),
                      "<" + t.replacement + ":" + std::to_string(n + 1) + ">");
  }
  auto parsed = ParseJson(text);
  if (!parsed.ok()) return parsed.status().WithContext("transformer " + t.path.text());
  return std::move(parsed).value();
}

void DecodeOutputStrings(json::value& o) {
  if (json::object* d = o.if_object()) {
    for (auto& member : *d) {
      json::value& v = member.value();
      if (member.key() == "output" && v.is_string()) {
        if (auto parsed = PyLoads(v.get_string())) v = std::move(*parsed);
      } else {
        DecodeOutputStrings(v);
      }
    }
  } else if (json::array* a = o.if_array()) {
    for (json::value& x : *a) DecodeOutputStrings(x);
  }
}

// -- compare ---------------------------------------------------------------------------------

json::value Decode(const json::value& v) {
  if (const json::string* s = v.if_string()) {
    if (auto parsed = PyLoads(*s)) return std::move(*parsed);
  }
  return v;
}

bool IsNumberOrBool(const json::value& v) { return v.is_number() || v.is_bool(); }

// Python's == between two decoded JSON values that are not both objects or both arrays.
bool PyEqual(const json::value& a, const json::value& b) {
  if (IsNumberOrBool(a) && IsNumberOrBool(b)) {
    const auto as_double = [](const json::value& v) {
      if (v.is_bool()) return v.get_bool() ? 1.0 : 0.0;
      if (v.is_int64()) return static_cast<double>(v.get_int64());
      if (v.is_uint64()) return static_cast<double>(v.get_uint64());
      return v.get_double();
    };
    const auto as_int = [](const json::value& v, long double* out) {
      if (v.is_bool()) *out = v.get_bool() ? 1 : 0;
      else if (v.is_int64()) *out = static_cast<long double>(v.get_int64());
      else if (v.is_uint64()) *out = static_cast<long double>(v.get_uint64());
      else return false;
      return true;
    };
    long double ia = 0;
    long double ib = 0;
    if (as_int(a, &ia) && as_int(b, &ib)) return ia == ib;
    return as_double(a) == as_double(b);
  }
  return a == b;
}

std::string Show(const json::value& v) {
  std::string text = SerializeJson(v);
  if (text.size() > kMaxShownValue) {
    text.resize(kMaxShownValue);
    text += "...";
  }
  return text;
}

}  // namespace

size_t MatchIso8601(std::string_view s, size_t pos) {
  const auto digit = [&](size_t k) { return k < s.size() && IsDigit(s[k]); };
  const auto at = [&](size_t k) { return k < s.size() ? s[k] : '\0'; };
  const auto num2 = [&](size_t k) { return (s[k] - '0') * 10 + (s[k + 1] - '0'); };
  size_t p = pos;
  // YYYY-MM-DD
  if (!(digit(p) && s[p] != '0' && digit(p + 1) && digit(p + 2) && digit(p + 3))) return 0;
  const int year = num2(p) * 100 + num2(p + 2);
  if (at(p + 4) != '-' || !digit(p + 5) || !digit(p + 6) || at(p + 7) != '-' || !digit(p + 8) ||
      !digit(p + 9)) {
    return 0;
  }
  const int month = num2(p + 5);
  const int day = num2(p + 8);
  const bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  bool date_ok = false;
  if (month >= 1 && month <= 12 && day >= 1 && day <= 28) date_ok = true;
  if (month >= 1 && month <= 12 && month != 2 && (day == 29 || day == 30)) date_ok = true;
  if ((month == 1 || month == 3 || month == 5 || month == 7 || month == 8 || month == 10 ||
       month == 12) &&
      day == 31) {
    date_ok = true;
  }
  if (month == 2 && day == 29 && leap) date_ok = true;
  if (!date_ok) return 0;
  p += 10;
  // Thh:mm:ss
  if (at(p) != 'T' || !digit(p + 1) || !digit(p + 2) || at(p + 3) != ':' || !digit(p + 4) ||
      !digit(p + 5) || at(p + 6) != ':' || !digit(p + 7) || !digit(p + 8)) {
    return 0;
  }
  if (num2(p + 1) > 23 || s[p + 4] > '5' || s[p + 7] > '5') return 0;
  p += 9;
  // (\.\d{1,9})? — nine digits at most, and a zone must follow them.
  if (at(p) == '.' && digit(p + 1)) {
    size_t q = p + 1;
    while (digit(q)) ++q;
    if (q - (p + 1) > 9) return 0;
    p = q;
  }
  // Z | [+-][01]\d:?([0-5]\d)?
  if (at(p) == 'Z') return p + 1 - pos;
  if ((at(p) == '+' || at(p) == '-') && (at(p + 1) == '0' || at(p + 1) == '1') && digit(p + 2)) {
    p += 3;
    if (at(p) == ':') ++p;
    if (at(p) >= '0' && at(p) <= '5' && digit(p + 1)) p += 2;
    return p - pos;
  }
  return 0;
}

bool IsBindablePlaceholder(std::string_view text) {
  if (text.size() < 2 || text.front() != '<' || text.back() != '>') return false;
  std::string_view inner = text.substr(1, text.size() - 2);
  const size_t colon = inner.find(':');
  std::string_view name = inner.substr(0, colon);
  if (colon != std::string_view::npos) {
    const std::string_view number = inner.substr(colon + 1);
    if (number.empty() || !std::all_of(number.begin(), number.end(), IsDigit)) return false;
  }
  return name == "uuid" || name == "json-input" || name == "LogResult" || name == "request_id" ||
         name == "extended_request_id";
}

StatusOr<json::array> NormalizeHistory(const json::value& history,
                                       const NormalizeOptions& options) {
  json::value h = SortKeys(history);
  json::object* root = h.if_object();
  if (root == nullptr || !root->contains("events") || !root->at("events").is_array()) {
    return InvalidArgumentError("a history needs an \"events\" array");
  }
  ParseBraceStrings(*root);
  SdkMetadata(h, SdkParent::kNone);
  std::vector<std::string> causes;
  CauseJsonInputs(h, causes);
  if (options.parallel) ParallelQuirk(root->at("events").as_array());
  TimestampKeys(h);
  std::vector<std::string> found;
  UuidRefs(h, found);

  std::string text = PythonJsonDumps(h);
  for (size_t n = 0; n < causes.size(); ++n) {
    text = ReplaceAll(text, ReplaceAll(causes[n], "\"", "\\\""),
                      "<json-input:" + std::to_string(n + 1) + ">");
  }
  if (!options.role_arn.empty()) text = ReplaceAll(text, options.role_arn, "snf_role_arn");
  text = ReplaceLabelledId(text, "Extended Request ID: ", "<extended_request_id>", [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '/' || c == '=' ||
           c == '+';
  });
  text = ReplaceLabelledId(text, "Request ID: ", "<request_id>", [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
  });
  for (const auto& [real, placeholder] : options.lambdas) {
    text = ReplaceAll(text, real, placeholder);
  }
  for (const RegexReplacement& rule : options.regex_replacements) {
    HPD_RETURN_IF_ERROR(ApplyRegexReplacement(rule, &text));
  }
  if (!options.sm_name.empty()) text = ReplaceAll(text, options.sm_name, "<ArnPart_0idx>");
  if (!options.exec_name.empty()) text = ReplaceAll(text, options.exec_name, "<ExecArnPart_0idx>");
  for (size_t i = 0; i < options.map_run_arns.size(); ++i) {
    const std::string& arn = options.map_run_arns[i];
    const std::string_view last = std::string_view(arn).substr(arn.rfind('/') + 1);
    const size_t colon = last.find(':');
    if (colon == std::string_view::npos) {
      return InvalidArgumentError("map-run ARN \"" + arn + "\" has no \"label:uuid\" part");
    }
    const std::string_view part0 = last.substr(0, colon);
    std::string_view part1 = last.substr(colon + 1);
    part1 = part1.substr(0, part1.find(':'));
    text = ReplaceAll(text, part1, "<MapRunArnPart1_" + std::to_string(i) + "idx>");
    if (StartsWithUuid(part0)) {
      text = ReplaceAll(text, part0, "<MapRunArnPart0_" + std::to_string(i) + "idx>");
    }
  }
  if (!options.account.empty()) text = ReplaceAll(text, options.account, "111111111111");
  if (!options.region.empty()) text = ReplaceAll(text, options.region, "<region>");
  text = ReplaceAll(text, "arn:" + options.partition + ":", "arn:<partition>:");
  for (size_t n = 0; n < found.size(); ++n) {
    text = ReplaceAll(text, found[n], "<uuid:" + std::to_string(n + 1) + ">");
  }
  text = IsoToDate(text);

  auto reparsed = ParseJson(text);
  if (!reparsed.ok()) {
    return reparsed.status().WithContext("history after the text replacements");
  }
  h = std::move(reparsed).value();
  for (const JsonPathTransformer& t : options.transformers) {
    HPD_ASSIGN_OR_RETURN(h, ApplyTransformer(std::move(h), t));
  }
  if (options.decode_output_strings) DecodeOutputStrings(h);

  json::array out;
  for (const json::value& e : h.at("events").as_array()) {
    const json::object* event = e.if_object();
    if (event == nullptr) return InvalidArgumentError("a history event is not an object");
    json::object details;
    for (const auto& member : *event) {
      const std::string_view k = member.key();
      if (k != "id" && k != "previousEventId" && k != "timestamp" && k != "type") {
        details[k] = member.value();
      }
    }
    json::object ev;
    const auto get = [&](std::string_view k) {
      const json::value* v = event->if_contains(k);
      return v ? *v : json::value(nullptr);
    };
    ev["id"] = get("id");
    ev["previousEventId"] = get("previousEventId");
    ev["type"] = get("type");
    if (details.size() == 1) {
      ev["detailsKey"] = details.begin()->key();
      ev["details"] = details.begin()->value();
    } else if (!details.empty()) {
      ev["details"] = std::move(details);
    }
    out.push_back(std::move(ev));
  }
  return out;
}

void Comparer::Compare(const json::value& expected_in, const json::value& actual_in,
                       const Location& at) {
  json::value exp = expected_in;
  json::value act = actual_in;
  if (exp.is_string() && !act.is_string()) exp = Decode(exp);
  if (act.is_string() && !exp.is_string()) act = Decode(act);
  if (exp.is_string() && act.is_string() && exp != act) {
    json::value de = Decode(exp);
    json::value da = Decode(act);
    if (!(de.is_string() && da.is_string())) {
      Compare(de, da, at);
      return;
    }
    const std::string_view e = exp.get_string();
    const std::string_view a = act.get_string();
    if (IsBindablePlaceholder(e)) {
      auto [it, inserted] = binds_.emplace(std::string(e), std::string(a));
      if (!inserted && it->second != a) {
        differences_.push_back({at, "placeholder " + std::string(e) + " bound to " +
                                        Show(json::value(it->second)) + ", got " + Show(act)});
      }
      return;
    }
    differences_.push_back({at, "expected " + Show(exp) + ", got " + Show(act)});
    return;
  }
  if (exp.is_object() && act.is_object()) {
    const json::object& eo = exp.get_object();
    const json::object& ao = act.get_object();
    std::vector<std::string_view> keys;
    for (const auto& m : eo) keys.push_back(m.key());
    for (const auto& m : ao) {
      if (!eo.contains(m.key())) keys.push_back(m.key());
    }
    std::sort(keys.begin(), keys.end());
    for (std::string_view k : keys) {
      Location child = at;
      child.emplace_back(std::string(k));
      if (!ao.contains(k)) {
        differences_.push_back({child, "missing"});
      } else if (!eo.contains(k)) {
        differences_.push_back({child, "unexpected"});
      } else {
        Compare(eo.at(k), ao.at(k), child);
      }
    }
    return;
  }
  if (exp.is_array() && act.is_array()) {
    const json::array& ea = exp.get_array();
    const json::array& aa = act.get_array();
    if (ea.size() != aa.size()) {
      differences_.push_back(
          {at, "length " + std::to_string(ea.size()) + " != " + std::to_string(aa.size())});
    }
    for (size_t i = 0; i < std::min(ea.size(), aa.size()); ++i) {
      Location child = at;
      child.emplace_back(i);
      Compare(ea[i], aa[i], child);
    }
    return;
  }
  if (!PyEqual(exp, act) || (exp.is_bool() && !act.is_bool())) {
    differences_.push_back({at, "expected " + Show(exp) + ", got " + Show(act)});
  }
}

}  // namespace hpd::conformance
