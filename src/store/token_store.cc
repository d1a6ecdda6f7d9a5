#include "store/token_store.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <system_error>
#include <utility>

#include "common/base64.h"
#include "common/digest.h"
#include "store/sqlite.h"

namespace hpd::store {
namespace {

constexpr std::string_view kTokenPrefix = "hpd_";
constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretChars = 43;  // base64url of 32 bytes, without padding
constexpr size_t kMaxNameLength = 64;
constexpr size_t kIdLength = 8;

constexpr std::array<Role, 3> kRoles = {Role::kViewer, Role::kDeployer, Role::kAdmin};

int64_t Nanos(WallTime time) { return time.time_since_epoch().count(); }

std::optional<WallTime> OptionalTime(const Statement& s, int column) {
  if (s.IsNull(column)) return std::nullopt;
  return WallTime(Duration(s.Int(column)));
}

Status InvalidName(std::string message) {
  return Named(InvalidArgumentError(std::move(message)), "InvalidTokenName");
}

Status InvalidToken(std::string message) {
  return Named(UnauthenticatedError(std::move(message)), "InvalidToken");
}

Status NameExists(std::string_view name) {
  return Named(AlreadyExistsError("an active token named " + std::string(name) +
                                  " already exists (revoke it first, or choose another name)"),
               "TokenNameExists");
}

// RFC 4648 section 5 (URL- and filename-safe alphabet), without '=' padding.
std::string Base64UrlEncode(std::string_view bytes) {
  std::string text = Base64Encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

bool IsBase64UrlChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

bool WellFormed(std::string_view token) {
  if (token.size() != kTokenPrefix.size() + kSecretChars || !token.starts_with(kTokenPrefix)) {
    return false;
  }
  return std::all_of(token.begin() + static_cast<std::ptrdiff_t>(kTokenPrefix.size()), token.end(),
                     IsBase64UrlChar);
}

constexpr char kColumns[] = "name, role, hash, created_ns, last_used_ns, revoked_ns";

// One row selected with kColumns.
StatusOr<TokenInfo> Row(const Statement& s) {
  TokenInfo info;
  info.name = std::string(s.Text(0));
  StatusOr<Role> role = ParseRole(s.Text(1));
  if (!role.ok()) {
    return DataLossError("token " + info.name + " has role " + std::string(s.Text(1)) +
                         ", which this version does not know");
  }
  info.role = *role;
  info.id = std::string(s.Text(2).substr(0, kIdLength));
  info.created_at = WallTime(Duration(s.Int(3)));
  info.last_used_at = OptionalTime(s, 4);
  info.revoked_at = OptionalTime(s, 5);
  return info;
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kDeployer:
      return "deployer";
    case Role::kAdmin:
      return "admin";
  }
  return "viewer";  // unreachable: every enumerator is handled above
}

StatusOr<Role> ParseRole(std::string_view name) {
  for (Role role : kRoles) {
    if (RoleName(role) == name) return role;
  }
  return Named(InvalidArgumentError("unknown role \"" + std::string(name) +
                                    "\": expected viewer, deployer or admin"),
               "InvalidRole");
}

bool RoleAllows(Role have, Role need) { return have >= need; }

Status ValidateTokenName(std::string_view name) {
  if (name.empty()) return InvalidName("a token name must not be empty");
  if (name.size() > kMaxNameLength) {
    return InvalidName("a token name must be at most " + std::to_string(kMaxNameLength) +
                       " characters; this one has " + std::to_string(name.size()));
  }
  if (!std::isalnum(static_cast<unsigned char>(name.front()))) {
    return InvalidName("token name \"" + std::string(name) +
                       "\" must start with a letter or a digit");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '@' &&
        c != '-') {
      return InvalidName("token name \"" + std::string(name) +
                         "\": only letters, digits and _ . @ - are allowed");
    }
  }
  return Status::Ok();
}

StatusOr<std::unique_ptr<TokenStore>> TokenStore::Open(const std::filesystem::path& file,
                                                       const Clock& clock) {
  std::error_code error;
  const bool existed = std::filesystem::exists(file, error);
  HPD_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                       Database::Open(file, Database::Mode::kReadWrite));
  // The partial index makes a name unique among active tokens only, in every process at once.
  HPD_RETURN_IF_ERROR(
      db->Execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
                  "CREATE TABLE IF NOT EXISTS tokens ("
                  "  hash TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,"
                  "  created_ns INTEGER NOT NULL, last_used_ns INTEGER, revoked_ns INTEGER);"
                  "CREATE UNIQUE INDEX IF NOT EXISTS tokens_active_name ON tokens (name)"
                  "  WHERE revoked_ns IS NULL;"
                  "PRAGMA user_version = 1;"));
  if (!existed) {
    // Hashes are no secret worth stealing, but who holds which role is nobody else's business.
    // SQLite gives the -wal and -shm files the database file's permissions.
    std::filesystem::permissions(
        file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, error);
  }
  return std::unique_ptr<TokenStore>(new TokenStore(std::move(db), clock));
}

TokenStore::TokenStore(std::unique_ptr<Database> db, const Clock& clock)
    : db_(std::move(db)), clock_(clock) {}

TokenStore::~TokenStore() = default;

StatusOr<CreatedToken> TokenStore::Create(std::string_view name, std::string_view role) {
  HPD_RETURN_IF_ERROR(ValidateTokenName(name));
  HPD_ASSIGN_OR_RETURN(Role parsed, ParseRole(role));
  return Create(name, parsed);
}

StatusOr<CreatedToken> TokenStore::Create(std::string_view name, Role role) {
  HPD_RETURN_IF_ERROR(ValidateTokenName(name));
  HPD_ASSIGN_OR_RETURN(std::string secret, SecureRandomBytes(kSecretBytes));
  CreatedToken created;
  created.token = std::string(kTokenPrefix) + Base64UrlEncode(secret);
  const std::string hash = Sha256Hex(created.token);
  created.info.name = std::string(name);
  created.info.role = role;
  created.info.id = hash.substr(0, kIdLength);
  created.info.created_at = clock_.WallNow();

  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement insert,
                       db_->Prepare("INSERT INTO tokens (hash, name, role, created_ns) "
                                    "VALUES (?1, ?2, ?3, ?4)"));
  Status inserted = insert.Bind(1, hash)
                        .Bind(2, name)
                        .Bind(3, RoleName(role))
                        .Bind(4, Nanos(created.info.created_at))
                        .Run();
  // The only constraint a fresh 256-bit hash can meet is the active-name index.
  if (inserted.code() == StatusCode::kAlreadyExists) return NameExists(name);
  HPD_RETURN_IF_ERROR(inserted);
  return created;
}

StatusOr<std::vector<TokenInfo>> TokenStore::List(bool include_revoked) const {
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement query,
                       db_->Prepare(std::string("SELECT ") + kColumns +
                                    " FROM tokens WHERE ?1 = 1 OR revoked_ns IS NULL "
                                    "ORDER BY created_ns, rowid"));
  query.Bind(1, int64_t{include_revoked ? 1 : 0});
  std::vector<TokenInfo> tokens;
  while (true) {
    StatusOr<bool> step = query.Step();
    if (!step.ok()) return step.status();
    if (!*step) break;
    HPD_ASSIGN_OR_RETURN(TokenInfo info, Row(query));
    tokens.push_back(std::move(info));
  }
  query.Reset();
  return tokens;
}

Status TokenStore::Revoke(std::string_view name) {
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(
      Statement revoke,
      db_->Prepare("UPDATE tokens SET revoked_ns = ?1 WHERE name = ?2 AND revoked_ns IS NULL"));
  HPD_RETURN_IF_ERROR(revoke.Bind(1, Nanos(clock_.WallNow())).Bind(2, name).Run());
  if (db_->Changes() == 0) {
    return Named(NotFoundError("no active token named " + std::string(name)), "TokenNotFound");
  }
  return Status::Ok();
}

StatusOr<TokenInfo> TokenStore::Authenticate(std::string_view token) {
  if (token.empty()) return InvalidToken("no API token given");
  if (!WellFormed(token)) {
    return InvalidToken("malformed API token: expected hpd_ and 43 base64url characters");
  }
  const std::string hash = Sha256Hex(token);
  std::lock_guard lock(mu_);
  HPD_ASSIGN_OR_RETURN(Statement query, db_->Prepare(std::string("SELECT ") + kColumns +
                                                     " FROM tokens WHERE hash = ?1"));
  query.Bind(1, hash);
  HPD_ASSIGN_OR_RETURN(bool found, query.Step());
  if (!found) return InvalidToken("unknown API token");
  HPD_ASSIGN_OR_RETURN(TokenInfo info, Row(query));
  query.Reset();
  if (!info.active()) return InvalidToken("API token " + info.id + " has been revoked");

  const WallTime now = clock_.WallNow();
  if (info.last_used_at && now - *info.last_used_at < kLastUsedResolution) return info;
  // Conditional, so that of several processes seeing a stale time only one writes.
  HPD_ASSIGN_OR_RETURN(Statement touch,
                       db_->Prepare("UPDATE tokens SET last_used_ns = ?1 WHERE hash = ?2 AND "
                                    "(last_used_ns IS NULL OR last_used_ns <= ?3)"));
  const Status touched =
      touch.Bind(1, Nanos(now)).Bind(2, hash).Bind(3, Nanos(now - kLastUsedResolution)).Run();
  // The token is valid whether or not its use could be noted: a write lock held elsewhere for
  // longer than the busy timeout must not turn a good request away. The next use records it.
  if (touched.ok() && db_->Changes() > 0) info.last_used_at = now;
  return info;
}

}  // namespace hpd::store
