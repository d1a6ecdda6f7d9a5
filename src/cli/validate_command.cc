// hpdeploy validate: checks Amazon States Language definitions as ValidateStateMachineDefinition
// does.
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "asl/diagnostics.h"
#include "asl/parser.h"
#include "asl/substitutions.h"
#include "cli/commands.h"
#include "cli/input_files.h"
#include "common/json.h"
#include "common/status.h"

namespace hpd::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> files;
  std::string format = "text";
  std::string substitutions_file;
};

int RunValidate(const ValidateOptions& options) {
  asl::Substitutions substitutions;
  const bool substitute = !options.substitutions_file.empty();
  if (substitute) {
    auto parsed = ReadSubstitutions(options.substitutions_file);
    if (!parsed.ok()) {
      std::cerr << "hpdeploy validate: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    substitutions = std::move(parsed).value();
  }

  const bool json = options.format == "json";
  const bool many = options.files.size() > 1;
  bool any_invalid = false;
  bool io_error = false;
  for (const auto& file : options.files) {
    const std::string label = file == "-" ? "<stdin>" : file;
    auto text = ReadFileOrStdin(file);
    if (!text.ok()) {
      std::cerr << "hpdeploy validate: " << text.status().message() << "\n";
      io_error = true;
      continue;
    }
    if (substitute) {
      auto substituted = asl::ApplySubstitutions(*text, substitutions);
      if (!substituted.ok()) {
        std::cerr << "hpdeploy validate: " << label << ": " << substituted.status().message()
                  << " (add it to " << options.substitutions_file << ")\n";
        io_error = true;
        continue;
      }
      text = std::move(substituted);
    }
    asl::ParseResult result = asl::ParseDefinition(*text);
    const bool ok = result.ok();
    any_invalid = any_invalid || !ok;
    if (json) {
      std::string out = asl::DiagnosticsToJson(result.diagnostics);
      if (many) {
        // One object per line, each naming its file.
        auto value = ParseJson(out);
        value->as_object().emplace("file", label);
        out = SerializeJson(*value);
      }
      std::cout << out << "\n";
    } else {
      size_t warnings = result.diagnostics.size();
      size_t errors = 0;
      for (const auto& d : result.diagnostics) errors += d.severity == asl::Severity::kError;
      warnings -= errors;
      std::cout << label << ": " << (ok ? "OK" : "FAIL");
      if (errors) std::cout << " (" << errors << (errors == 1 ? " error" : " errors");
      if (warnings) {
        std::cout << (errors ? ", " : " (") << warnings
                  << (warnings == 1 ? " warning" : " warnings");
      }
      if (errors || warnings) std::cout << ")";
      std::cout << "\n";
      std::string details = asl::DiagnosticsToText(result.diagnostics);
      size_t start = 0;
      while (start < details.size()) {
        size_t end = details.find('\n', start);
        std::cout << "  " << details.substr(start, end - start) << "\n";
        start = end + 1;
      }
    }
  }
  if (io_error) return kExitUsage;
  return any_invalid ? kExitFailure : kExitOk;
}

}  // namespace

void RegisterValidateCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate",
      "Validate Amazon States Language definitions as Step Functions' "
      "ValidateStateMachineDefinition does: structure, every field and value, transitions, "
      "reachability, JSONPath and intrinsic function syntax.");
  cmd->add_option("files", options->files, "Definition files ('-' reads standard input)")
      ->required();
  cmd->add_option("--format", options->format,
                  "Output: 'text' (one line per problem) or 'json' (the "
                  "ValidateStateMachineDefinition result object; one per line with a \"file\" "
                  "member when several files are given)")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--substitutions", options->substitutions_file,
                  "JSON object of placeholder values; every ${Name} in a definition is replaced "
                  "first, as CloudFormation DefinitionSubstitutions does. A placeholder without a "
                  "value is an error.");
  cmd->footer(
      "Exit codes: 0 every definition is valid (warnings allowed), 1 at least one is invalid, "
      "2 usage or I/O error.");
  cmd->callback([options, exit_code] { *exit_code = RunValidate(*options); });
}

}  // namespace hpd::cli
