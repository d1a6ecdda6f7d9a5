// The local parameter store: AWS Systems Manager Parameter Store semantics on SQLite, for the
// embedded default (the HyperPod pipeline keeps its outputs under /perf-eval/hyperpod/<jobId>/).
//
// What it keeps of SSM (API reference: PutParameter, GetParameter, GetParametersByPath,
// DeleteParameter; "Requirements and constraints for parameter names"):
//  - Names: case-sensitive; letters, digits and _ . - / only; at most 1011 characters; not
//    beginning with "aws" or "ssm" (any case, after an optional leading "/"); a hierarchical name
//    starts with "/" and has at most 15 levels; no empty level ("//"), no trailing "/".
//  - Types String, StringList, SecureString (kept as given: this store does not encrypt);
//    values of 1 to 4096 characters (the standard tier).
//  - Versions: a Put of an existing name needs Overwrite and makes version N+1; at most 100
//    versions are kept, the oldest dropped first. GetParameter takes "name" or "name:version".
//  - GetParametersByPath: the parameters directly under a path ("/a/b" lists "/a/b/c", not
//    "/a/b/c/d"), or all below it when recursive; by name, at most 10 per page, with an opaque
//    NextToken.
// Errors are Statuses whose error_name() is SSM's code: ValidationException,
// HierarchyLevelLimitExceededException, ParameterAlreadyExists, ParameterNotFound,
// ParameterVersionNotFound, InvalidNextToken.
//
// Thread-safe (one connection behind a mutex: parameters are few and small).
#ifndef HPD_STORE_PARAMETER_STORE_H_
#define HPD_STORE_PARAMETER_STORE_H_

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace hpd::store {

class Database;

struct Parameter {
  std::string name;
  std::string type;  // String | StringList | SecureString
  std::string value;
  int64_t version = 0;
  WallTime last_modified{};
};

struct ParameterPage {
  std::vector<Parameter> parameters;
  std::optional<std::string> next_token;
};

// OK, or ValidationException / HierarchyLevelLimitExceededException saying what is wrong.
Status ValidateParameterName(std::string_view name);

class ParameterStore {
 public:
  // Opens or creates the store's database file. kUnavailable when it cannot.
  [[nodiscard]] static StatusOr<std::unique_ptr<ParameterStore>> Open(
      const std::filesystem::path& file, const Clock& clock);
  ~ParameterStore();
  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  // PutParameter: returns the new version.
  [[nodiscard]] StatusOr<int64_t> Put(std::string_view name, std::string_view value,
                                      std::string_view type = "String", bool overwrite = false);
  // GetParameter: "name" (the latest version) or "name:version".
  [[nodiscard]] StatusOr<Parameter> Get(std::string_view name) const;
  // GetParametersByPath; max_results 1..10 (0 means 10).
  [[nodiscard]] StatusOr<ParameterPage> GetByPath(
      std::string_view path, bool recursive, size_t max_results = 0,
      const std::optional<std::string>& next_token = std::nullopt) const;
  // DeleteParameter: every version.
  [[nodiscard]] Status Delete(std::string_view name);

 private:
  ParameterStore(std::unique_ptr<Database> db, const Clock& clock);

  mutable std::mutex mu_;
  std::unique_ptr<Database> db_;  // guarded by mu_
  const Clock& clock_;
};

}  // namespace hpd::store

#endif  // HPD_STORE_PARAMETER_STORE_H_
