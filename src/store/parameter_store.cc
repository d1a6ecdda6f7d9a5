#include "store/parameter_store.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "store/sqlite.h"

namespace hpd::store {
namespace {

constexpr size_t kMaxNameLength = 1011;
constexpr size_t kMaxLevels = 15;
constexpr size_t kMaxValueLength = 4096;
constexpr int64_t kMaxVersions = 100;
constexpr size_t kMaxPageSize = 10;

Status Validation(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "ValidationException");
}

Status NotFound(std::string_view name) {
  return Named(NotFoundError("Parameter " + std::string(name) + " not found."),
               "ParameterNotFound");
}

int64_t Nanos(WallTime time) { return time.time_since_epoch().count(); }

// The query's rows, as Parameters.
StatusOr<std::vector<Parameter>> Rows(Statement& s) {
  std::vector<Parameter> rows;
  while (true) {
    StatusOr<bool> step = s.Step();
    if (!step.ok()) return step.status();
    if (!*step) break;
    rows.push_back(Parameter{std::string(s.Text(0)), std::string(s.Text(2)), std::string(s.Text(3)),
                             s.Int(1), WallTime(Duration(s.Int(4)))});
  }
  s.Reset();
  return rows;
}

}  // namespace

Status ValidateParameterName(std::string_view name) {
  if (name.empty()) return Validation("Parameter name must not be empty.");
  if (name.size() > kMaxNameLength) {
    return Validation("Parameter name must be at most " + std::to_string(kMaxNameLength) +
                      " characters; it has " + std::to_string(name.size()) + ".");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-' &&
        c != '/') {
      return Validation("Parameter name " + std::string(name) +
                        ": only letters, digits and _ . - / are allowed.");
    }
  }
  std::string_view bare = name.front() == '/' ? name.substr(1) : name;
  std::string start(bare.substr(0, 3));
  std::transform(start.begin(), start.end(), start.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (start == "aws" || start == "ssm") {
    return Validation(
        "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive).");
  }
  if (name.find('/') != std::string_view::npos) {
    if (name.front() != '/') {
      return Validation("Parameter name " + std::string(name) +
                        ": a name with a hierarchy must be fully qualified (start with /).");
    }
    if (name.size() == 1 || name.back() == '/' || name.find("//") != std::string_view::npos) {
      return Validation("Parameter name " + std::string(name) +
                        ": a hierarchy level must not be empty.");
    }
    if (static_cast<size_t>(std::count(name.begin(), name.end(), '/')) > kMaxLevels) {
      return Named(InvalidArgumentError("A hierarchy can have a maximum of 15 levels. For more "
                                        "information, see Requirements and constraints for "
                                        "parameter names."),
                   "HierarchyLevelLimitExceededException");
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<ParameterStore>> ParameterStore::Open(const std::filesystem::path& file,
                                                               const Clock& clock) {
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                       Database::Open(file, Database::Mode::kReadWrite));
  HPD_RETURN_IF_ERROR(db->Execute(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
      "CREATE TABLE IF NOT EXISTS parameters ("
      "  name TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, value TEXT NOT NULL,"
      "  modified_ns INTEGER NOT NULL, PRIMARY KEY (name, version)) WITHOUT ROWID;"
      "PRAGMA user_version = 1;"));
  return std::unique_ptr<ParameterStore>(new ParameterStore(std::move(db), clock));
}

ParameterStore::ParameterStore(std::unique_ptr<Database> db, const Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

ParameterStore::~ParameterStore() = default;

StatusOr<int64_t> ParameterStore::Put(std::string_view name, std::string_view value,
                                      std::string_view type, bool overwrite) {
  HPD_RETURN_IF_ERROR(ValidateParameterName(name));
  if (type != "String" && type != "StringList" && type != "SecureString") {
    return Validation("1 validation error detected: Value '" + std::string(type) +
                      "' at 'type' failed to satisfy constraint: Member must satisfy enum value "
                      "set: [SecureString, StringList, String]");
  }
  if (value.empty() || value.size() > kMaxValueLength) {
    return Validation("Parameter value must be 1 to " + std::to_string(kMaxValueLength) +
                      " characters; it has " + std::to_string(value.size()) + ".");
  }
  std::lock_guard lock(mu_);
  HPD_RETURN_IF_ERROR(db_->Execute("BEGIN IMMEDIATE"));
  auto fail = [this](Status status) {
    db_->Execute("ROLLBACK").IgnoreError();
    return status;
  };
  StatusOr<Statement> latest =
      db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM parameters WHERE name = ?1");
  if (!latest.ok()) return fail(latest.status());
  latest->Bind(1, name);
  StatusOr<bool> row = latest->Step();
  if (!row.ok()) return fail(row.status());
  const int64_t current = latest->Int(0);
  latest->Reset();
  if (current > 0 && !overwrite) {
    return fail(Named(AlreadyExistsError("The parameter already exists. To overwrite this "
                                         "value, set the overwrite option in the request to "
                                         "true."),
                      "ParameterAlreadyExists"));
  }
  const int64_t version = current + 1;
  StatusOr<Statement> insert = db_->Prepare(
      "INSERT INTO parameters (name, version, type, value, modified_ns) VALUES (?1, ?2, ?3, ?4, "
      "?5)");
  if (!insert.ok()) return fail(insert.status());
  Status inserted = insert->Bind(1, name)
                        .Bind(2, version)
                        .Bind(3, type)
                        .Bind(4, value)
                        .Bind(5, Nanos(clock_.WallNow()))
                        .Run();
  if (!inserted.ok()) return fail(inserted);
  // At most 100 versions: the oldest go first.
  StatusOr<Statement> trim =
      db_->Prepare("DELETE FROM parameters WHERE name = ?1 AND version <= ?2");
  if (!trim.ok()) return fail(trim.status());
  if (Status trimmed = trim->Bind(1, name).Bind(2, version - kMaxVersions).Run(); !trimmed.ok()) {
    return fail(trimmed);
  }
  HPD_RETURN_IF_ERROR(db_->Execute("COMMIT"));
  return version;
}

StatusOr<Parameter> ParameterStore::Get(std::string_view selector) const {
  std::string_view name = selector;
  std::optional<int64_t> version;
  if (const size_t colon = selector.rfind(':'); colon != std::string_view::npos) {
    name = selector.substr(0, colon);
    const std::string_view digits = selector.substr(colon + 1);
    int64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size() || n < 1) {
      return Validation("Parameter selector " + std::string(selector) +
                        ": a version must be a positive integer.");
    }
    version = n;
  }
  HPD_RETURN_IF_ERROR(ValidateParameterName(name));
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT name, version, type, value, modified_ns FROM parameters WHERE name = "
                   "?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1"));
  query.Bind(1, name);
  if (version) {
    query.Bind(2, *version);
  } else {
    query.BindNull(2);
  }
  HPD_ASSIGN_OR_RETURN(std::vector<Parameter> rows, Rows(query));
  if (!rows.empty()) return std::move(rows.front());
  if (!version) return NotFound(name);
  HPD_ASSIGN_OR_RETURN(Statement any,
                       db_->Prepare("SELECT 1 FROM parameters WHERE name = ?1 LIMIT 1"));
  any.Bind(1, name);
  HPD_ASSIGN_OR_RETURN(bool exists, any.Step());
  any.Reset();
  if (!exists) return NotFound(name);
  return Named(NotFoundError("Systems Manager could not find version " + std::to_string(*version) +
                             " of " + std::string(name) + "."),
               "ParameterVersionNotFound");
}

StatusOr<ParameterPage> ParameterStore::GetByPath(
    std::string_view path, bool recursive, size_t max_results,
    const std::optional<std::string>& next_token) const {
  if (path.empty() || path.front() != '/') {
    return Validation("The parameter path " + std::string(path) + " must start with /.");
  }
  // A path may end with "/" ("/perf-eval/hyperpod/"); what comes before must be a valid name.
  if (path != "/") {
    HPD_RETURN_IF_ERROR(
        ValidateParameterName(path.back() == '/' ? path.substr(0, path.size() - 1) : path));
  }
  if (max_results > kMaxPageSize) {
    return Validation("1 validation error detected: Value '" + std::to_string(max_results) +
                      "' at 'maxResults' failed to satisfy constraint: Member must have value "
                      "less than or equal to 10");
  }
  const size_t limit = max_results == 0 ? kMaxPageSize : max_results;
  std::string prefix(path);
  if (prefix.back() != '/') prefix += '/';
  std::string upper = prefix;
  upper.back() = static_cast<char>('/' + 1);  // every name under the prefix sorts below this
  std::optional<std::string> after;
  if (next_token) {
    if (next_token->rfind("p.", 0) != 0 || next_token->size() <= 2) {
      return Named(InvalidArgumentError("The token is not valid: " + *next_token),
                   "InvalidNextToken");
    }
    after = next_token->substr(2);
  }
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(
      Statement query,
      db_->Prepare("SELECT name, version, type, value, modified_ns FROM parameters p WHERE "
                   "name >= ?1 AND name < ?2 AND (?3 IS NULL OR name > ?3) AND "
                   "(?4 = 1 OR instr(substr(name, ?5), '/') = 0) AND "
                   "version = (SELECT MAX(version) FROM parameters q WHERE q.name = p.name) "
                   "ORDER BY name LIMIT ?6"));
  query.Bind(1, prefix).Bind(2, upper);
  if (after) {
    query.Bind(3, std::string_view(*after));
  } else {
    query.BindNull(3);
  }
  query.Bind(4, int64_t{recursive ? 1 : 0})
      .Bind(5, static_cast<int64_t>(prefix.size() + 1))
      .Bind(6, static_cast<int64_t>(limit + 1));
  HPD_ASSIGN_OR_RETURN(std::vector<Parameter> rows, Rows(query));
  ParameterPage page;
  if (rows.size() > limit) {
    rows.resize(limit);
    page.next_token = "p." + rows.back().name;
  }
  page.parameters = std::move(rows);
  return page;
}

Status ParameterStore::Delete(std::string_view name) {
  HPD_RETURN_IF_ERROR(ValidateParameterName(name));
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement remove, db_->Prepare("DELETE FROM parameters WHERE name = ?1"));
  HPD_RETURN_IF_ERROR(remove.Bind(1, name).Run());
  if (db_->Changes() == 0) return NotFound(name);
  return Status::Ok();
}

}  // namespace hpd::store
