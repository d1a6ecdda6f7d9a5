// hpdeploy token create | list | revoke: the REST API's bearer tokens, kept in
// <data dir>/auth.db (store/token_store.h).
//
// create prints the token alone on stdout, so that `TOKEN=$(hpdeploy token create ...)` works, and
// its note on stderr. Exit codes: 0 done; 1 the name exists (create) or no active token has it
// (revoke); 2 usage (a bad name or role) or a store that cannot be opened.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "cli/commands.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/rfc3339.h"
#include "common/status.h"
#include "store/token_store.h"

namespace hpd::cli {
namespace {

namespace json = boost::json;

struct TokenOptions {
  std::string data_dir = "hpdeploy-data";
  std::string name;
  std::string role;
  bool json = false;
  bool all = false;
};

int ExitCode(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kAlreadyExists:
    case StatusCode::kNotFound:
      return kExitFailure;
    default:
      return kExitUsage;
  }
}

int Fail(std::string_view command, const Status& status) {
  std::cerr << "hpdeploy token " << command << ": " << status.message() << "\n";
  return ExitCode(status);
}

std::filesystem::path StoreFile(const TokenOptions& o) {
  return std::filesystem::path(o.data_dir) / store::TokenStore::kFileName;
}

// Timestamps to the second: the stored nanoseconds are noise to a reader.
std::string Time(WallTime t) { return FormatRfc3339(std::chrono::floor<std::chrono::seconds>(t)); }

std::string Time(const std::optional<WallTime>& t) { return t ? Time(*t) : "-"; }

json::value JsonTime(const std::optional<WallTime>& t) {
  return t ? json::value(Time(*t)) : json::value(nullptr);
}

int Create(const TokenOptions& o) {
  // Checked before anything touches the disk: a typo should not leave a data dir behind.
  if (Status valid = store::ValidateTokenName(o.name); !valid.ok()) return Fail("create", valid);
  if (StatusOr<store::Role> role = store::ParseRole(o.role); !role.ok()) {
    return Fail("create", role.status());
  }
  std::error_code error;
  std::filesystem::create_directories(o.data_dir, error);
  if (error) {
    return Fail("create", UnavailableError("cannot create the data dir " + o.data_dir + ": " +
                                           error.message()));
  }
  SystemClock clock;
  StatusOr<std::unique_ptr<store::TokenStore>> tokens =
      store::TokenStore::Open(StoreFile(o), clock);
  if (!tokens.ok()) return Fail("create", tokens.status());
  StatusOr<store::CreatedToken> created = (*tokens)->Create(o.name, o.role);
  if (!created.ok()) return Fail("create", created.status());
  std::cout << created->token << std::endl;
  std::cerr << "Created token " << created->info.name << " (role "
            << store::RoleName(created->info.role) << ", id " << created->info.id
            << "). Store it now: it cannot be shown again.\n";
  return kExitOk;
}

int List(const TokenOptions& o) {
  std::vector<store::TokenInfo> infos;
  // No store yet means no tokens; listing should not create one.
  if (std::filesystem::exists(StoreFile(o))) {
    SystemClock clock;
    StatusOr<std::unique_ptr<store::TokenStore>> tokens =
        store::TokenStore::Open(StoreFile(o), clock);
    if (!tokens.ok()) return Fail("list", tokens.status());
    StatusOr<std::vector<store::TokenInfo>> listed = (*tokens)->List(o.all);
    if (!listed.ok()) return Fail("list", listed.status());
    infos = std::move(*listed);
  }
  if (o.json) {
    json::array array;
    for (const store::TokenInfo& t : infos) {
      array.push_back(json::object{{"name", t.name},
                                   {"role", store::RoleName(t.role)},
                                   {"id", t.id},
                                   {"createdAt", Time(t.created_at)},
                                   {"lastUsedAt", JsonTime(t.last_used_at)},
                                   {"revokedAt", JsonTime(t.revoked_at)}});
    }
    std::cout << SerializeJsonPretty(json::object{{"tokens", std::move(array)}}) << "\n";
    return kExitOk;
  }
  if (infos.empty()) {
    std::cerr << "No " << (o.all ? "" : "active ") << "tokens in " << o.data_dir << "\n";
    return kExitOk;
  }
  size_t width = 4;  // "NAME"
  for (const store::TokenInfo& t : infos) width = std::max(width, t.name.size());
  auto row = [&](std::string_view name, std::string_view role, std::string_view id,
                 std::string_view created, std::string_view used, std::string_view revoked) {
    std::string line(name);
    line.resize(width + 2, ' ');
    char rest[160];
    std::snprintf(rest, sizeof rest, "%-9s %-8s %-20s %-20s %s", std::string(role).c_str(),
                  std::string(id).c_str(), std::string(created).c_str(), std::string(used).c_str(),
                  std::string(revoked).c_str());
    std::cout << line << rest << "\n";
  };
  row("NAME", "ROLE", "ID", "CREATED", "LAST USED", "REVOKED");
  for (const store::TokenInfo& t : infos) {
    row(t.name, store::RoleName(t.role), t.id, Time(t.created_at), Time(t.last_used_at),
        Time(t.revoked_at));
  }
  return kExitOk;
}

int Revoke(const TokenOptions& o) {
  if (!std::filesystem::exists(StoreFile(o))) {
    return Fail("revoke", NotFoundError("no active token named " + o.name + " (no token store in " +
                                        o.data_dir + ")"));
  }
  SystemClock clock;
  StatusOr<std::unique_ptr<store::TokenStore>> tokens =
      store::TokenStore::Open(StoreFile(o), clock);
  if (!tokens.ok()) return Fail("revoke", tokens.status());
  if (Status revoked = (*tokens)->Revoke(o.name); !revoked.ok()) return Fail("revoke", revoked);
  std::cout << "Revoked token " << o.name << "\n";
  return kExitOk;
}

void AddDataDir(CLI::App* cmd, TokenOptions& o) {
  cmd->add_option("--data-dir", o.data_dir, "The platform's data dir (tokens in auth.db)")
      ->envname("HPD_DATA_DIR")
      ->capture_default_str();
}

}  // namespace

void RegisterTokenCommands(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<TokenOptions>();
  CLI::App* token = app.add_subcommand("token", "Manage the REST API's bearer tokens");
  token->require_subcommand(1);

  CLI::App* create =
      token->add_subcommand("create", "Create a token and print it (once: only its hash is kept)");
  AddDataDir(create, *o);
  create->add_option("--name", o->name, "Who or what uses it (1-64 of A-Z a-z 0-9 _ . @ -)")
      ->required();
  create->add_option("--role", o->role, "viewer, deployer or admin")->required();
  create->callback([o, exit_code] { *exit_code = Create(*o); });

  CLI::App* list = token->add_subcommand("list", "List the tokens (never their secrets)");
  AddDataDir(list, *o);
  list->add_flag("--json", o->json, "Print JSON");
  list->add_flag("--all", o->all, "Include revoked tokens");
  list->callback([o, exit_code] { *exit_code = List(*o); });

  CLI::App* revoke = token->add_subcommand("revoke", "Revoke the active token named NAME");
  AddDataDir(revoke, *o);
  revoke->add_option("NAME", o->name, "The token's name")->required();
  revoke->callback([o, exit_code] { *exit_code = Revoke(*o); });
}

}  // namespace hpd::cli
