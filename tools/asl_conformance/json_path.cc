#include "asl_conformance/json_path.h"

#include <charconv>

namespace hpd::conformance {

std::string RenderLocation(const Location& location) {
  std::string out = "$";
  for (const PathToken& token : location) {
    if (const auto* key = std::get_if<std::string>(&token)) {
      out += "." + *key;
    } else {
      out += "[" + std::to_string(std::get<size_t>(token)) + "]";
    }
  }
  return out;
}

StatusOr<JsonPathPattern> JsonPathPattern::Parse(std::string_view text) {
  JsonPathPattern pattern;
  pattern.text_ = std::string(text);
  const auto bad = [&](std::string_view why) {
    return InvalidArgumentError("unsupported JSONPath \"" + std::string(text) + "\": " +
                                std::string(why));
  };
  if (text.empty() || text[0] != '$') return bad("must start with $");
  size_t i = 1;
  while (i < text.size()) {
    Segment segment;
    if (text.compare(i, 2, "..") == 0) {
      segment.descendant = true;
      i += 2;
    } else if (text[i] == '.') {
      i += 1;
    } else if (text[i] != '[') {
      return bad("expected '.' or '['");
    }
    if (i < text.size() && text[i] == '[') {
      const size_t close = text.find(']', i);
      if (close == std::string_view::npos) return bad("unclosed '['");
      const std::string_view inside = text.substr(i + 1, close - i - 1);
      if (inside == "*") {
        segment.kind = Segment::Kind::kWildcard;
      } else {
        segment.kind = Segment::Kind::kIndex;
        auto [end, ec] =
            std::from_chars(inside.data(), inside.data() + inside.size(), segment.index);
        if (ec != std::errc() || end != inside.data() + inside.size() || inside.empty()) {
          return bad("only [N] and [*] subscripts");
        }
      }
      i = close + 1;
    } else {
      size_t end = i;
      while (end < text.size() && text[end] != '.' && text[end] != '[') ++end;
      const std::string_view name = text.substr(i, end - i);
      if (name.empty()) return bad("empty member name");
      if (name == "*") {
        segment.kind = Segment::Kind::kWildcard;
      } else {
        segment.kind = Segment::Kind::kName;
        segment.name = std::string(name);
      }
      i = end;
    }
    pattern.segments_.push_back(std::move(segment));
  }
  return pattern;
}

bool JsonPathPattern::MatchFrom(size_t segment, const Location& location, size_t token,
                                bool whole) const {
  if (segment == segments_.size()) return !whole || token == location.size();
  const Segment& s = segments_[segment];
  const auto selects = [&](const PathToken& t) {
    switch (s.kind) {
      case Segment::Kind::kWildcard: return true;
      case Segment::Kind::kName: {
        const auto* key = std::get_if<std::string>(&t);
        return key != nullptr && *key == s.name;
      }
      case Segment::Kind::kIndex: {
        const auto* index = std::get_if<size_t>(&t);
        return index != nullptr && *index == s.index;
      }
    }
    return false;
  };
  if (!s.descendant) {
    return token < location.size() && selects(location[token]) &&
           MatchFrom(segment + 1, location, token + 1, whole);
  }
  for (size_t p = token; p < location.size(); ++p) {
    if (selects(location[p]) && MatchFrom(segment + 1, location, p + 1, whole)) return true;
  }
  return false;
}

bool JsonPathPattern::Matches(const Location& location) const {
  return MatchFrom(0, location, 0, /*whole=*/true);
}

bool JsonPathPattern::MatchesPrefixOf(const Location& location) const {
  return MatchFrom(0, location, 0, /*whole=*/false);
}

}  // namespace hpd::conformance
