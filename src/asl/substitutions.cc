#include "asl/substitutions.h"

#include <boost/json.hpp>

#include "common/json.h"

namespace hpd::asl {

StatusOr<Substitutions> SubstitutionsFromJson(const boost::json::value& document) {
  if (!document.is_object()) {
    return InvalidArgumentError("substitutions must be a JSON object of name to value, got " +
                                JsonTypeName(document));
  }
  Substitutions out;
  for (const auto& member : document.get_object()) {
    std::string name(member.key());
    const auto& v = member.value();
    if (v.is_string()) {
      out.emplace(name, std::string(v.get_string()));
    } else if (v.is_number() || v.is_bool()) {
      out.emplace(name, SerializeJson(v));
    } else {
      return InvalidArgumentError("substitution '" + name +
                                  "' must be a string, number or boolean, got " +
                                  JsonTypeName(v));
    }
  }
  return out;
}

StatusOr<std::string> ApplySubstitutions(std::string_view text,
                                         const Substitutions& substitutions) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t open = text.find("${", pos);
    if (open == std::string_view::npos) break;
    size_t close = text.find('}', open + 2);
    if (close == std::string_view::npos) break;
    std::string_view name = text.substr(open + 2, close - open - 2);
    auto it = substitutions.find(name);
    if (it == substitutions.end()) {
      return InvalidArgumentError("no substitution for the placeholder ${" + std::string(name) +
                                  "}");
    }
    out.append(text.substr(pos, open - pos));
    out.append(it->second);
    pos = close + 1;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace hpd::asl
