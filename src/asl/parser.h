// Parses and validates an Amazon States Language definition.
//
// ParseDefinition never throws and never stops at the first problem: it reports every problem it
// can find as a Diagnostic (see diagnostics.h), and returns a compiled StateMachine only when
// there is no error. Warnings do not prevent a machine from being returned.
#ifndef HPD_ASL_PARSER_H_
#define HPD_ASL_PARSER_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include <boost/json/fwd.hpp>

#include "asl/definition.h"
#include "asl/diagnostics.h"

namespace hpd::asl {

// AWS's maximum definition size (Step Functions quotas: 1 MB).
inline constexpr size_t kMaxDefinitionBytes = 1024 * 1024;
// AWS's maximum state name length.
inline constexpr size_t kMaxStateNameLength = 80;

struct ParseResult {
  std::shared_ptr<const StateMachine> machine;  // null iff diagnostics hold an error
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return machine != nullptr; }
};

// Parses `text` (a JSON document) and validates it.
ParseResult ParseDefinition(std::string_view text);

// Validates an already-parsed JSON document. Duplicate keys cannot be detected here (the JSON
// parser has already merged them); prefer the text overload.
ParseResult ParseDefinition(const boost::json::value& document);

}  // namespace hpd::asl

#endif  // HPD_ASL_PARSER_H_
