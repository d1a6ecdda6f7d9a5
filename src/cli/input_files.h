// Reading what subcommands are given: files or standard input, and substitution files.
#ifndef HPD_CLI_INPUT_FILES_H_
#define HPD_CLI_INPUT_FILES_H_

#include <string>

#include "asl/substitutions.h"
#include "common/status.h"

namespace hpd::cli {

// The whole content of `path`, or of standard input when `path` is "-". kNotFound ("cannot open
// PATH: reason") or kDataLoss ("cannot read PATH") on failure.
StatusOr<std::string> ReadFileOrStdin(const std::string& path);

// A --substitutions file: a JSON object of placeholder values. The error message names the file.
StatusOr<asl::Substitutions> ReadSubstitutions(const std::string& path);

}  // namespace hpd::cli

#endif  // HPD_CLI_INPUT_FILES_H_
