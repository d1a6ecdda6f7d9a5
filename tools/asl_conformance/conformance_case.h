// One case of the AWS-recorded conformance corpus (../shared/conformance/README.md, "Case file
// fields"): a definition, an input and what AWS recorded.
#ifndef HPD_TOOLS_ASL_CONFORMANCE_CONFORMANCE_CASE_H_
#define HPD_TOOLS_ASL_CONFORMANCE_CONFORMANCE_CASE_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "asl_conformance/normalize.h"
#include "common/status.h"

namespace hpd::conformance {

struct ConformanceCase {
  std::filesystem::path file;
  std::string id;        // path below the cases folder, without ".json": "lambda/test_x"
  std::string category;  // first folder: "lambda"
  boost::json::value document;

  const boost::json::value& definition() const;
  const boost::json::value& input() const;
  const boost::json::value& expected() const;
  // expected.status: "SUCCEEDED", "FAILED", "ABORTED", or "UNFINISHED(last=...)".
  std::string expected_status() const;
  bool unfinished() const;
  // expected.events, or null when only the output was recorded.
  const boost::json::value& expected_events() const;
  std::string state_machine_type() const;  // "STANDARD" | "EXPRESS"
  std::string notes() const;
  std::vector<std::string> features() const;
  // "lambda_functions" (null when absent).
  const boost::json::value& lambda_functions() const;
  // [[value seen at record time, placeholder], ...]
  std::vector<RegexReplacement> regex_replacements() const;
  std::vector<std::string> skip_verify_paths() const;
};

// Loads one case file; `root` is the cases folder (for id and category).
StatusOr<ConformanceCase> LoadCase(const std::filesystem::path& file,
                                   const std::filesystem::path& root);

// Every *.json below `root`, recursively, sorted; only those of `category` (first folder) if
// given. kNotFound if `root` is not a directory.
StatusOr<std::vector<std::filesystem::path>> FindCaseFiles(const std::filesystem::path& root,
                                                           std::string_view category = {});

// Why the runner cannot run `c` at all ("needs JSONata"), or nullopt.
std::optional<std::string> SkipReason(const ConformanceCase& c);

// What the case itself contributes to NormalizeOptions: its regex_replacements, its
// snapshot_transformers, and the Parallel quirk when its notes mention "Parallel-branch events".
// kInvalidArgument for a transformer this port does not know or a JSONPath outside its subset.
Status AddCaseNormalizeOptions(const ConformanceCase& c, NormalizeOptions* options);

}  // namespace hpd::conformance

#endif  // HPD_TOOLS_ASL_CONFORMANCE_CONFORMANCE_CASE_H_
