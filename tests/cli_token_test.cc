// `hpdeploy token create | list | revoke` through the real binary: the token printed alone and
// once, listings without secrets, revocation, --data-dir and HPD_DATA_DIR, errors and exit codes.
// The printed token is checked against the store the server will use (store/token_store.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/json.h"
#include "common/status_matchers.h"
#include "store/token_store.h"
#include "support/scratch_dir.h"
#include "support/subprocess.h"

namespace hpd {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::ProcessResult;
using testing::RunProcess;

constexpr const char* kBinary = HPD_BINARY;

class CliTokenTest : public testing::ScratchDirTest {
 protected:
  ProcessResult Token(std::vector<std::string> args) {
    std::vector<std::string> argv = {kBinary, "token"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data-dir");
    argv.push_back(dir_.string());
    return RunProcess(argv);
  }

  // Creates a token through the CLI; returns its text (without the newline).
  std::string Create(const std::string& name, const std::string& role) {
    ProcessResult r = Token({"create", "--name", name, "--role", role});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.out.empty() || r.out.back() != '\n') {
      ADD_FAILURE() << "no token line: " << r.out;
      return "";
    }
    return r.out.substr(0, r.out.size() - 1);
  }

  // What the server would make of `token`.
  StatusOr<store::TokenInfo> Authenticate(const std::string& token) {
    HPD_ASSIGN_OR_RETURN(std::unique_ptr<store::TokenStore> tokens,
                         store::TokenStore::Open(dir_ / store::TokenStore::kFileName, clock_));
    return tokens->Authenticate(token);
  }

  SimulatedClock clock_{WallTime(std::chrono::seconds(1'800'000'000))};
};

// A JSON value as text: a string's characters, anything else serialized.
std::string Text(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : SerializeJson(value);
}

// An error as the house style wants it: one line, on stderr only.
void ExpectOneLineError(const ProcessResult& r, int exit_code, const std::string& says) {
  EXPECT_EQ(r.exit_code, exit_code) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_THAT(r.err, HasSubstr(says));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliTokenTest, CreatePrintsTheTokenAloneAndTheNoteOnStderr) {
  ProcessResult r = Token({"create", "--name", "ci-bot", "--role", "deployer"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_match(r.out, std::regex("hpd_[A-Za-z0-9_-]{43}\n"))) << r.out;
  const std::string token = r.out.substr(0, r.out.size() - 1);
  EXPECT_THAT(r.err, HasSubstr("cannot be shown again"));
  EXPECT_THAT(r.err, HasSubstr("ci-bot"));
  EXPECT_THAT(r.err, HasSubstr(Sha256Hex(token).substr(0, 8)));
  EXPECT_THAT(r.err, Not(HasSubstr(token)));

  StatusOr<store::TokenInfo> info = Authenticate(token);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->name, "ci-bot");
  EXPECT_EQ(info->role, store::Role::kDeployer);
}

TEST_F(CliTokenTest, ListShowsEachTokenWithoutItsSecret) {
  const std::string viewer = Create("alice@example.com", "viewer");
  const std::string admin = Create("ops", "admin");
  ASSERT_THAT(Authenticate(admin), IsOk());  // gives it a last use

  ProcessResult r = Token({"list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("NAME"));
  EXPECT_THAT(r.out, HasSubstr("LAST USED"));
  EXPECT_THAT(r.out, HasSubstr("alice@example.com"));
  EXPECT_THAT(r.out, HasSubstr("viewer"));
  EXPECT_THAT(r.out, HasSubstr(Sha256Hex(viewer).substr(0, 8)));
  EXPECT_THAT(r.out, HasSubstr("admin"));
  EXPECT_THAT(r.out, HasSubstr("2027-01-15T08:00:00Z"));  // the simulated clock's last use
  for (const std::string& token : {viewer, admin}) {
    EXPECT_THAT(r.out, Not(HasSubstr(token.substr(4))));
    EXPECT_THAT(r.out, Not(HasSubstr(Sha256Hex(token))));
  }
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;

  ProcessResult as_json = Token({"list", "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.err;
  StatusOr<json::value> doc = ParseJson(as_json.out);
  ASSERT_THAT(doc, IsOk()) << as_json.out;
  const json::array& tokens = doc->at("tokens").as_array();
  ASSERT_EQ(tokens.size(), 2u);
  const json::object& first = tokens[0].as_object();
  EXPECT_EQ(Text(first.at("name")), "alice@example.com");
  EXPECT_EQ(Text(first.at("role")), "viewer");
  EXPECT_EQ(Text(first.at("id")), Sha256Hex(viewer).substr(0, 8));
  EXPECT_TRUE(first.at("createdAt").is_string());
  EXPECT_TRUE(first.at("lastUsedAt").is_null());
  EXPECT_TRUE(first.at("revokedAt").is_null());
  EXPECT_EQ(Text(tokens[1].at("lastUsedAt")), "2027-01-15T08:00:00Z");
  EXPECT_EQ(first.size(), 6u) << "nothing beyond the documented fields";
}

TEST_F(CliTokenTest, RevokeEndsTheTokenAndHidesItUnlessAllIsAsked) {
  const std::string token = Create("leaving", "deployer");
  Create("staying", "viewer");

  ProcessResult r = Token({"revoke", "leaving"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Revoked token leaving"));
  EXPECT_THAT(Authenticate(token), StatusIs(StatusCode::kUnauthenticated, HasSubstr("revoked")));

  ProcessResult active = Token({"list"});
  EXPECT_THAT(active.out, Not(HasSubstr("leaving")));
  EXPECT_THAT(active.out, HasSubstr("staying"));
  ProcessResult all = Token({"list", "--all", "--json"});
  StatusOr<json::value> doc = ParseJson(all.out);
  ASSERT_THAT(doc, IsOk()) << all.out;
  ASSERT_EQ(doc->at("tokens").as_array().size(), 2u);
  EXPECT_EQ(Text(doc->at("tokens").at(0).at("name")), "leaving");
  EXPECT_TRUE(doc->at("tokens").at(0).at("revokedAt").is_string());

  ExpectOneLineError(Token({"revoke", "leaving"}), 1, "no active token named leaving");
  // The name is free again.
  EXPECT_THAT(Authenticate(Create("leaving", "viewer")), IsOk());
}

TEST_F(CliTokenTest, ErrorsAreOneLineWithTheirExitCodes) {
  Create("taken", "viewer");
  ExpectOneLineError(Token({"create", "--name", "taken", "--role", "admin"}), 1,
                     "an active token named taken already exists");
  ExpectOneLineError(Token({"create", "--name", "x", "--role", "root"}), 2, "unknown role");
  ExpectOneLineError(Token({"create", "--name", std::string(65, 'n'), "--role", "viewer"}), 2,
                     "at most 64");
  ExpectOneLineError(Token({"create", "--name", "-dash", "--role", "viewer"}), 2,
                     "start with a letter or a digit");
  ExpectOneLineError(Token({"create", "--name", "a/b", "--role", "viewer"}), 2, "only letters");
  ExpectOneLineError(Token({"revoke", "nobody"}), 1, "no active token named nobody");

  EXPECT_EQ(Token({"create", "--name", "no-role"}).exit_code, 2);
  EXPECT_EQ(Token({"create", "--role", "viewer"}).exit_code, 2);
  EXPECT_EQ(Token({"revoke"}).exit_code, 2);
  EXPECT_EQ(RunProcess({kBinary, "token"}).exit_code, 2);
  // None of these left a token behind.
  ProcessResult all = Token({"list", "--all", "--json"});
  StatusOr<json::value> doc = ParseJson(all.out);
  ASSERT_THAT(doc, IsOk()) << all.out;
  EXPECT_EQ(doc->at("tokens").as_array().size(), 1u);
}

TEST_F(CliTokenTest, WithoutAStoreListIsEmptyAndRevokeFindsNothing) {
  const std::filesystem::path empty = dir_ / "empty";
  ProcessResult list = RunProcess({kBinary, "token", "list", "--data-dir", empty.string()});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, "");
  EXPECT_THAT(list.err, HasSubstr("No active tokens"));
  ProcessResult as_json =
      RunProcess({kBinary, "token", "list", "--json", "--data-dir", empty.string()});
  EXPECT_EQ(as_json.exit_code, 0) << as_json.err;
  EXPECT_THAT(ParseJson(as_json.out),
              IsOkAndHolds(json::value(json::object{{"tokens", json::array{}}})));
  ExpectOneLineError(RunProcess({kBinary, "token", "revoke", "x", "--data-dir", empty.string()}), 1,
                     "no active token named x");
  EXPECT_FALSE(std::filesystem::exists(empty)) << "reading must not create the store";
}

TEST_F(CliTokenTest, TheDataDirComesFromHpdDataDirToo) {
  const std::filesystem::path from_env = dir_ / "from-env";
  ProcessResult r = RunProcess({"/usr/bin/env", "HPD_DATA_DIR=" + from_env.string(), kBinary,
                                "token", "create", "--name", "env", "--role", "viewer"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::exists(from_env / "auth.db"));
  ProcessResult list =
      RunProcess({"/usr/bin/env", "HPD_DATA_DIR=" + from_env.string(), kBinary, "token", "list"});
  EXPECT_THAT(list.out, HasSubstr("env"));
}

TEST_F(CliTokenTest, ADataDirThatCannotBeMadeIsAUsageError) {
  const std::string file = Write("a-file", "not a folder");
  ExpectOneLineError(RunProcess({kBinary, "token", "create", "--name", "x", "--role", "viewer",
                                 "--data-dir", file + "/sub"}),
                     2, "cannot create the data dir");
}

}  // namespace
}  // namespace hpd
