// Definition substitutions: "${Name}" placeholders filled before a definition is parsed, as
// CloudFormation's AWS::StepFunctions::StateMachine DefinitionSubstitutions does.
#ifndef HPD_ASL_SUBSTITUTIONS_H_
#define HPD_ASL_SUBSTITUTIONS_H_

#include <map>
#include <string>
#include <string_view>

#include <boost/json/fwd.hpp>

#include "common/status.h"

namespace hpd::asl {

using Substitutions = std::map<std::string, std::string, std::less<>>;

// Reads {"Name": "value", ...}; values may be strings, numbers or booleans (CloudFormation
// accepts those and substitutes their text). InvalidArgument for anything else.
StatusOr<Substitutions> SubstitutionsFromJson(const boost::json::value& document);

// Replaces every "${Name}" whose Name is in `substitutions`. A placeholder with no value is an
// InvalidArgument error naming it (CloudFormation refuses such a template too); "${" without a
// closing "}" is left alone. A name is everything between "${" and the next "}".
StatusOr<std::string> ApplySubstitutions(std::string_view text, const Substitutions& substitutions);

}  // namespace hpd::asl

#endif  // HPD_ASL_SUBSTITUTIONS_H_
