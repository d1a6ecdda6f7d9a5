#include "store/token_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/digest.h"
#include "common/status_matchers.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

TEST(SecureRandomBytesTest, GivesTheBytesAskedForAndNeverTheSameTwice) {
  StatusOr<std::string> none = SecureRandomBytes(0);
  ASSERT_THAT(none, IsOk());
  EXPECT_EQ(none->size(), 0u);
  StatusOr<std::string> a = SecureRandomBytes(32);
  StatusOr<std::string> b = SecureRandomBytes(32);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(b->size(), 32u);
  EXPECT_NE(*a, *b);  // a 2^-256 chance of a false alarm
  EXPECT_NE(*a, std::string(32, '\0'));
}

TEST(RoleTest, NamesRoundTripAndNothingElseParses) {
  for (Role role : {Role::kViewer, Role::kDeployer, Role::kAdmin}) {
    EXPECT_THAT(ParseRole(RoleName(role)), IsOkAndHolds(role));
  }
  EXPECT_EQ(RoleName(Role::kDeployer), "deployer");
  for (std::string_view bad : {"", "Admin", "root", "viewer ", "deploy"}) {
    StatusOr<Role> role = ParseRole(bad);
    EXPECT_THAT(role, StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown role"))) << bad;
    EXPECT_EQ(role.status().error_name(), "InvalidRole") << bad;
  }
}

TEST(RoleTest, EachRoleAllowsItselfAndTheRolesBelow) {
  EXPECT_TRUE(RoleAllows(Role::kViewer, Role::kViewer));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Role::kDeployer));
  EXPECT_FALSE(RoleAllows(Role::kViewer, Role::kAdmin));
  EXPECT_TRUE(RoleAllows(Role::kDeployer, Role::kViewer));
  EXPECT_TRUE(RoleAllows(Role::kDeployer, Role::kDeployer));
  EXPECT_FALSE(RoleAllows(Role::kDeployer, Role::kAdmin));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Role::kViewer));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Role::kDeployer));
  EXPECT_TRUE(RoleAllows(Role::kAdmin, Role::kAdmin));
}

TEST(TokenNameTest, FollowsTheRulesAtAndBeyondEachLimit) {
  struct Case {
    std::string name;
    bool valid;
  };
  const std::vector<Case> cases = {
      {"a", true},
      {"ci-bot", true},
      {"alice@example.com", true},
      {"build_1.2-x", true},
      {"7up", true},
      {std::string(64, 'a'), true},
      {std::string(65, 'a'), false},
      {"", false},
      {"-lead", false},
      {"_lead", false},
      {".lead", false},
      {"@lead", false},
      {"has space", false},
      {"slash/", false},
      {"colon:", false},
      {"plus+", false},
      {"tab\t", false},
      {"\xc3\xbc"
       "mlaut",
       false},
      {"m\xc3\xbc", false},
  };
  for (const Case& c : cases) {
    Status status = ValidateTokenName(c.name);
    if (c.valid) {
      EXPECT_THAT(status, IsOk()) << c.name;
    } else {
      EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument)) << c.name;
      EXPECT_EQ(status.error_name(), "InvalidTokenName") << c.name;
    }
  }
  EXPECT_THAT(ValidateTokenName(std::string(65, 'a')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 64")));
  EXPECT_THAT(ValidateTokenName("-x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("start with a letter or a digit")));
}

class TokenStoreTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    store_ = OpenStore();
  }

  std::unique_ptr<TokenStore> OpenStore() {
    StatusOr<std::unique_ptr<TokenStore>> store = TokenStore::Open(file(), clock_);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::filesystem::path file() const { return dir_ / TokenStore::kFileName; }

  CreatedToken MustCreate(std::string_view name, Role role, TokenStore* store = nullptr) {
    StatusOr<CreatedToken> created = (store ? store : store_.get())->Create(name, role);
    EXPECT_THAT(created, IsOk()) << name;
    return created.ok() ? *created : CreatedToken{};
  }

  std::vector<std::string> Names(bool include_revoked = false) {
    StatusOr<std::vector<TokenInfo>> tokens = store_->List(include_revoked);
    EXPECT_THAT(tokens, IsOk());
    std::vector<std::string> names;
    if (tokens.ok()) {
      for (const TokenInfo& t : *tokens) names.push_back(t.name);
    }
    return names;
  }

  // Every byte SQLite has written for the store: the database file, its WAL and shared memory.
  std::string StoredBytes() {
    std::string bytes;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (!entry.path().filename().string().starts_with(TokenStore::kFileName)) continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      bytes += text.str();
    }
    return bytes;
  }

  // Asserts that authenticating `token` fails as InvalidToken, without quoting it.
  void ExpectRejected(const std::string& token, std::string_view why) {
    StatusOr<TokenInfo> info = store_->Authenticate(token);
    EXPECT_THAT(info, StatusIs(StatusCode::kUnauthenticated, HasSubstr(why)))
        << "\"" << token << "\"";
    EXPECT_EQ(info.status().error_name(), "InvalidToken");
    if (token.size() > 8) {  // shorter ones may well be words of the message
      EXPECT_THAT(info.status().ToString(), Not(HasSubstr(token)));
    }
  }

  const WallTime start_ = WallTime(std::chrono::seconds(1'800'000'000));
  SimulatedClock clock_{start_};
  std::unique_ptr<TokenStore> store_;
};

TEST_F(TokenStoreTest, CreateGivesA256BitTokenAndItsPublicInfo) {
  CreatedToken created = MustCreate("ci-bot", Role::kDeployer);
  EXPECT_TRUE(std::regex_match(created.token, std::regex("hpd_[A-Za-z0-9_-]{43}")))
      << created.token;
  EXPECT_EQ(created.info.name, "ci-bot");
  EXPECT_EQ(created.info.role, Role::kDeployer);
  EXPECT_EQ(created.info.id, Sha256Hex(created.token).substr(0, 8));
  EXPECT_EQ(created.info.created_at, start_);
  EXPECT_FALSE(created.info.last_used_at.has_value());
  EXPECT_TRUE(created.info.active());

  CreatedToken other = MustCreate("other", Role::kDeployer);
  EXPECT_NE(created.token, other.token);
}

TEST_F(TokenStoreTest, CreateTakesTheRoleByName) {
  StatusOr<CreatedToken> created = store_->Create("ops", "admin");
  ASSERT_THAT(created, IsOk());
  EXPECT_EQ(created->info.role, Role::kAdmin);
  EXPECT_THAT(store_->Authenticate(created->token),
              IsOkAndHolds(::testing::Field(&TokenInfo::role, Role::kAdmin)));
}

TEST_F(TokenStoreTest, CreateRejectsBadNamesAndRolesAndStoresNothing) {
  StatusOr<CreatedToken> long_name = store_->Create(std::string(65, 'n'), "viewer");
  EXPECT_THAT(long_name, StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 64")));
  EXPECT_EQ(long_name.status().error_name(), "InvalidTokenName");

  StatusOr<CreatedToken> bad_char = store_->Create("a b", Role::kViewer);
  EXPECT_THAT(bad_char, StatusIs(StatusCode::kInvalidArgument, HasSubstr("only letters")));
  EXPECT_EQ(bad_char.status().error_name(), "InvalidTokenName");

  StatusOr<CreatedToken> bad_role = store_->Create("fine", "superuser");
  EXPECT_THAT(bad_role, StatusIs(StatusCode::kInvalidArgument, HasSubstr("superuser")));
  EXPECT_EQ(bad_role.status().error_name(), "InvalidRole");

  EXPECT_THAT(store_->Create(std::string(64, 'n'), "viewer"), IsOk());
  EXPECT_THAT(Names(true), ElementsAre(std::string(64, 'n')));
}

TEST_F(TokenStoreTest, AnActiveNameCannotBeTakenTwice) {
  CreatedToken first = MustCreate("alice", Role::kViewer);
  StatusOr<CreatedToken> second = store_->Create("alice", Role::kAdmin);
  EXPECT_THAT(second, StatusIs(StatusCode::kAlreadyExists, HasSubstr("alice")));
  EXPECT_EQ(second.status().error_name(), "TokenNameExists");
  EXPECT_THAT(Names(true), ElementsAre("alice"));
  EXPECT_THAT(store_->Authenticate(first.token),
              IsOkAndHolds(::testing::Field(&TokenInfo::role, Role::kViewer)));
}

TEST_F(TokenStoreTest, ARevokedNameMayBeReused) {
  CreatedToken old_token = MustCreate("alice", Role::kViewer);
  clock_.Advance(std::chrono::seconds(10));
  ASSERT_THAT(store_->Revoke("alice"), IsOk());
  clock_.Advance(std::chrono::seconds(10));
  CreatedToken new_token = MustCreate("alice", Role::kAdmin);

  EXPECT_THAT(Names(), ElementsAre("alice"));
  EXPECT_THAT(Names(true), ElementsAre("alice", "alice"));
  ExpectRejected(old_token.token, "revoked");
  EXPECT_THAT(store_->Authenticate(new_token.token),
              IsOkAndHolds(::testing::Field(&TokenInfo::role, Role::kAdmin)));
  // Once more: the second one must be revoked before a third.
  EXPECT_THAT(store_->Create("alice", Role::kViewer), StatusIs(StatusCode::kAlreadyExists));
}

TEST_F(TokenStoreTest, ListShowsActiveTokensOldestFirstAndRevokedOnesOnRequest) {
  CreatedToken b = MustCreate("b-first", Role::kViewer);
  clock_.Advance(std::chrono::seconds(1));
  MustCreate("a-second", Role::kDeployer);
  clock_.Advance(std::chrono::seconds(1));
  MustCreate("c-third", Role::kAdmin);
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_THAT(store_->Revoke("a-second"), IsOk());

  EXPECT_THAT(Names(), ElementsAre("b-first", "c-third"));
  EXPECT_THAT(Names(true), ElementsAre("b-first", "a-second", "c-third"));

  StatusOr<std::vector<TokenInfo>> all = store_->List(true);
  ASSERT_THAT(all, IsOk());
  ASSERT_THAT(*all, SizeIs(3));
  EXPECT_EQ((*all)[0].id, b.info.id);
  EXPECT_EQ((*all)[0].created_at, start_);
  EXPECT_EQ((*all)[1].role, Role::kDeployer);
  EXPECT_EQ((*all)[1].revoked_at, start_ + std::chrono::seconds(3));
  EXPECT_FALSE((*all)[1].active());
  EXPECT_EQ((*all)[2].created_at, start_ + std::chrono::seconds(2));
  EXPECT_FALSE((*all)[2].revoked_at.has_value());
}

TEST_F(TokenStoreTest, RevokeNeedsAnActiveToken) {
  Status unknown = store_->Revoke("nobody");
  EXPECT_THAT(unknown, StatusIs(StatusCode::kNotFound, HasSubstr("nobody")));
  EXPECT_EQ(unknown.error_name(), "TokenNotFound");

  MustCreate("once", Role::kViewer);
  EXPECT_THAT(store_->Revoke("once"), IsOk());
  Status twice = store_->Revoke("once");
  EXPECT_THAT(twice, StatusIs(StatusCode::kNotFound));
  EXPECT_EQ(twice.error_name(), "TokenNotFound");
}

TEST_F(TokenStoreTest, AuthenticateFindsTheTokenAndNotesItsUse) {
  CreatedToken created = MustCreate("deployer-bot", Role::kDeployer);
  clock_.Advance(std::chrono::seconds(5));
  StatusOr<TokenInfo> info = store_->Authenticate(created.token);
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->name, "deployer-bot");
  EXPECT_EQ(info->role, Role::kDeployer);
  EXPECT_EQ(info->id, created.info.id);
  EXPECT_EQ(info->created_at, start_);
  EXPECT_EQ(info->last_used_at, start_ + std::chrono::seconds(5));
}

TEST_F(TokenStoreTest, AuthenticateRejectsUnknownRevokedAndMalformedTokensWithoutQuotingThem) {
  CreatedToken created = MustCreate("alice", Role::kAdmin);
  std::string unknown = created.token;
  unknown.back() = unknown.back() == 'A' ? 'B' : 'A';
  ExpectRejected(unknown, "unknown API token");

  ExpectRejected("", "no API token");
  ExpectRejected("hpd_", "malformed");
  ExpectRejected(created.token.substr(4), "malformed");           // no prefix
  ExpectRejected("xyz_" + created.token.substr(4), "malformed");  // another prefix
  ExpectRejected(created.token + "A", "malformed");               // too long
  ExpectRejected(created.token.substr(0, 46), "malformed");       // too short
  ExpectRejected("Bearer " + created.token, "malformed");         // the header, not the token
  ExpectRejected(created.token + "\n", "malformed");
  std::string plus = created.token;
  plus[10] = '+';  // standard base64, not base64url
  ExpectRejected(plus, "malformed");

  ASSERT_THAT(store_->Revoke("alice"), IsOk());
  ExpectRejected(created.token, "revoked");
}

TEST_F(TokenStoreTest, LastUseIsRecordedAtMostOnceAMinute) {
  CreatedToken created = MustCreate("busy", Role::kViewer);
  auto last_used = [&]() -> std::optional<WallTime> {
    // Through a second connection: what is on disk, not what Authenticate answered.
    std::unique_ptr<TokenStore> reader = OpenStore();
    StatusOr<std::vector<TokenInfo>> tokens = reader->List();
    if (!tokens.ok() || tokens->size() != 1) return std::nullopt;
    return tokens->front().last_used_at;
  };
  EXPECT_EQ(last_used(), std::nullopt);

  ASSERT_THAT(store_->Authenticate(created.token), IsOk());
  EXPECT_EQ(last_used(), start_);

  clock_.Advance(std::chrono::seconds(59));
  StatusOr<TokenInfo> soon = store_->Authenticate(created.token);
  ASSERT_THAT(soon, IsOk());
  EXPECT_EQ(soon->last_used_at, start_);
  EXPECT_EQ(last_used(), start_);

  clock_.Advance(std::chrono::seconds(1));
  StatusOr<TokenInfo> later = store_->Authenticate(created.token);
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->last_used_at, start_ + std::chrono::seconds(60));
  EXPECT_EQ(last_used(), start_ + std::chrono::seconds(60));
}

TEST_F(TokenStoreTest, TheFileHoldsTheHashButNeverTheToken) {
  CreatedToken created = MustCreate("secret-keeper", Role::kAdmin);
  const std::string secret = created.token.substr(4);
  const std::string hash = Sha256Hex(created.token);
  // While open (the row is in the WAL) and after closing (checkpointed into auth.db).
  for (bool open : {true, false}) {
    if (!open) store_.reset();
    const std::string bytes = StoredBytes();
    EXPECT_THAT(bytes, HasSubstr(hash)) << "the test reads the wrong files (open: " << open << ")";
    EXPECT_THAT(bytes, HasSubstr("secret-keeper"));
    EXPECT_THAT(bytes, Not(HasSubstr(secret))) << "open: " << open;
  }
}

TEST_F(TokenStoreTest, TheFileIsTheOwnersAlone) {
  struct stat info {};
  ASSERT_EQ(::stat(file().c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
}

TEST_F(TokenStoreTest, TwoStoresOnOneFileSeeEachOthersChanges) {
  std::unique_ptr<TokenStore> other = OpenStore();
  ASSERT_NE(other, nullptr);
  CreatedToken created = MustCreate("shared", Role::kDeployer);
  EXPECT_THAT(other->Authenticate(created.token),
              IsOkAndHolds(::testing::Field(&TokenInfo::name, "shared")));
  EXPECT_THAT(other->Create("shared", Role::kViewer), StatusIs(StatusCode::kAlreadyExists));
  ASSERT_THAT(other->Revoke("shared"), IsOk());
  ExpectRejected(created.token, "revoked");
  EXPECT_THAT(store_->Revoke("shared"), StatusIs(StatusCode::kNotFound));
  CreatedToken again = MustCreate("shared", Role::kViewer, other.get());
  EXPECT_THAT(store_->Authenticate(again.token), IsOk());
}

TEST_F(TokenStoreTest, TokensSurviveReopening) {
  CreatedToken created = MustCreate("durable", Role::kAdmin);
  store_.reset();
  store_ = OpenStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_THAT(store_->Authenticate(created.token),
              IsOkAndHolds(::testing::Field(&TokenInfo::role, Role::kAdmin)));
}

TEST_F(TokenStoreTest, OneStoreServesManyThreads) {
  constexpr size_t kThreads = 4;
  constexpr int kPerThread = 10;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kPerThread; ++i) {
        StatusOr<CreatedToken> created =
            store_->Create("t" + std::to_string(t) + "-" + std::to_string(i), Role::kViewer);
        if (!created.ok() || !store_->Authenticate(created->token).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(failures, ::testing::Each(0));
  EXPECT_THAT(Names(), SizeIs(kThreads * kPerThread));
}

TEST(TokenStoreOpenTest, AMissingFolderIsUnavailable) {
  SimulatedClock clock{WallTime(std::chrono::seconds(1'800'000'000))};
  EXPECT_THAT(TokenStore::Open("/nonexistent/hpd/auth.db", clock),
              StatusIs(StatusCode::kUnavailable));
}

}  // namespace
}  // namespace hpd::store
