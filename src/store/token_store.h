// API tokens for the platform's REST API: bearer secrets with a role, kept in
// <data dir>/auth.db (SQLite, WAL).
//
// A token's text is "hpd_" followed by 32 bytes (256 bits) from OpenSSL's secure generator,
// base64url-encoded without padding (43 characters): 47 characters in all. It exists only in the
// answer to Create; the store keeps the lower-case hex SHA-256 of the full text, looks tokens up
// by it, and shows the first 8 hex digits of it as the token's public id. Tokens are random and
// 256 bits long, so an unsalted fast hash is enough: there is nothing to guess.
//
// Names identify tokens to people (and become `requestedBy` in the server's records): 1 to 64
// characters of [A-Za-z0-9_.@-], starting with a letter or digit; unique among active tokens, so
// a revoked token's name may be given to a new one. Revocation is permanent; a revoked token stays
// listed (List(true)) for audit.
//
// Errors are Statuses with an error_name(): InvalidTokenName, InvalidRole (kInvalidArgument),
// TokenNameExists (kAlreadyExists), TokenNotFound (kNotFound), InvalidToken (kUnauthenticated).
// SQLite failures come back as kUnavailable (busy, I/O), kDataLoss (corrupt file, or a row this
// version cannot read) or kInternal.
//
// Thread-safe: one connection behind a mutex. Several processes (and several TokenStores) may
// open one file; each call is atomic.
#ifndef HPD_STORE_TOKEN_STORE_H_
#define HPD_STORE_TOKEN_STORE_H_

#include <chrono>
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

// Ordered: each role may do everything the roles below it may.
enum class Role {
  kViewer,    // read: executions, histories, status
  kDeployer,  // and start/stop deployments
  kAdmin,     // and manage the platform
};

// "viewer" | "deployer" | "admin".
std::string_view RoleName(Role role);
// The role named `name` (exactly as RoleName spells it); InvalidRole (kInvalidArgument) otherwise.
[[nodiscard]] StatusOr<Role> ParseRole(std::string_view name);
// Whether a token with role `have` may do what needs role `need` (viewer < deployer < admin).
bool RoleAllows(Role have, Role need);

// OK, or InvalidTokenName (kInvalidArgument) saying which rule `name` breaks.
[[nodiscard]] Status ValidateTokenName(std::string_view name);

// What may be shown of a token: never its text or full hash.
struct TokenInfo {
  std::string name;
  Role role = Role::kViewer;
  std::string id;  // the first 8 hex digits of the token's SHA-256
  WallTime created_at{};
  std::optional<WallTime> last_used_at;  // recorded by Authenticate, to the minute
  std::optional<WallTime> revoked_at;

  bool active() const { return !revoked_at.has_value(); }
};

// A new token: `token` is its text, which nothing keeps; give it to its user now.
struct CreatedToken {
  std::string token;
  TokenInfo info;
};

class TokenStore {
 public:
  // The store's file name inside a data dir.
  static constexpr char kFileName[] = "auth.db";
  // Authenticate records a token's use only when the last record is at least this old, so that
  // a busy client does not cost a write per request.
  static constexpr Duration kLastUsedResolution = std::chrono::minutes(1);

  // Opens or creates the database file (readable and writable by its owner only, when created
  // here); the folder must exist. kUnavailable when it cannot be opened. `clock` must outlive
  // the store; it stamps created_at, last_used_at and revoked_at.
  [[nodiscard]] static StatusOr<std::unique_ptr<TokenStore>> Open(const std::filesystem::path& file,
                                                                  const Clock& clock);
  ~TokenStore();
  TokenStore(const TokenStore&) = delete;
  TokenStore& operator=(const TokenStore&) = delete;

  // A new token named `name` with role `role` (a RoleName). InvalidTokenName, InvalidRole;
  // TokenNameExists when an active token has that name; kUnavailable when the secure generator
  // fails.
  [[nodiscard]] StatusOr<CreatedToken> Create(std::string_view name, std::string_view role);
  [[nodiscard]] StatusOr<CreatedToken> Create(std::string_view name, Role role);

  // The active tokens (and the revoked ones too when `include_revoked`), oldest first.
  [[nodiscard]] StatusOr<std::vector<TokenInfo>> List(bool include_revoked = false) const;

  // Revokes the active token named `name`, for good. TokenNotFound when there is none.
  [[nodiscard]] Status Revoke(std::string_view name);

  // The active token whose text is `token` (as sent after "Bearer "), with its last use
  // recorded (see kLastUsedResolution). InvalidToken (kUnauthenticated) when `token` is empty,
  // malformed, unknown or revoked; the message says which, never quoting the token.
  [[nodiscard]] StatusOr<TokenInfo> Authenticate(std::string_view token);

 private:
  TokenStore(std::unique_ptr<Database> db, const Clock& clock);

  mutable std::mutex mu_;
  std::unique_ptr<Database> db_;  // guarded by mu_
  const Clock& clock_;
};

}  // namespace hpd::store

#endif  // HPD_STORE_TOKEN_STORE_H_
