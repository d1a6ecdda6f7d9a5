// Locations inside a JSON document, and the small JSONPath subset the conformance corpus uses in
// "skip_verify_paths" and "snapshot_transformers": "$..SdkHttpMetadata", "$..events[4].
// previousEventId", "$..events..stateEnteredEventDetails.input", "$..output.Cause".
#ifndef HPD_TOOLS_ASL_CONFORMANCE_JSON_PATH_H_
#define HPD_TOOLS_ASL_CONFORMANCE_JSON_PATH_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace hpd::conformance {

// One step from a value to a member (key) or element (index).
using PathToken = std::variant<std::string, size_t>;
using Location = std::vector<PathToken>;

// "$", "$.events[3].details", as normalize.py prints locations.
std::string RenderLocation(const Location& location);

// Segments: ".name", "..name" (any depth), "[N]", "..[N]", ".*" and "[*]". No filters, slices,
// unions or quoted names (the corpus needs none).
class JsonPathPattern {
 public:
  // kInvalidArgument for anything outside the subset.
  static StatusOr<JsonPathPattern> Parse(std::string_view text);

  // The pattern selects exactly `location`.
  bool Matches(const Location& location) const;
  // The pattern selects `location` or one of its ancestors (a difference under a skipped path).
  bool MatchesPrefixOf(const Location& location) const;

  const std::string& text() const { return text_; }

 private:
  struct Segment {
    bool descendant = false;
    enum class Kind { kName, kIndex, kWildcard } kind = Kind::kName;
    std::string name;
    size_t index = 0;
  };
  bool MatchFrom(size_t segment, const Location& location, size_t token, bool whole) const;

  std::string text_;
  std::vector<Segment> segments_;
};

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_JSON_PATH_H_
