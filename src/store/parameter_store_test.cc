#include "store/parameter_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status_matchers.h"
#include "support/scratch_dir.h"

namespace hpd::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// "/l1/l2/.../lN"
std::string Levels(size_t n) {
  std::string name;
  for (size_t i = 1; i <= n; ++i) name += "/l" + std::to_string(i);
  return name;
}

struct NameCase {
  std::string name;
  std::string error;  // "" when valid, else the SSM error code
};

TEST(ParameterNameTest, FollowsSsmRulesAtAndBeyondEachLimit) {
  const std::vector<NameCase> cases = {
      {"plain", ""},
      {"/perf-eval/hyperpod/job-1/stackId", ""},
      {"with_under.score-dash", ""},
      {"/" + std::string(1010, 'a'), ""},  // 1011 characters
      {"/" + std::string(1011, 'a'), "ValidationException"},
      {Levels(15), ""},
      {Levels(16), "HierarchyLevelLimitExceededException"},
      {"", "ValidationException"},
      {"has space", "ValidationException"},
      {"/a/b:1", "ValidationException"},
      {"no/leading/slash", "ValidationException"},
      {"/trailing/", "ValidationException"},
      {"/double//slash", "ValidationException"},
      {"/", "ValidationException"},
      {"aws-thing", "ValidationException"},
      {"/SSM/thing", "ValidationException"},
      {"/AwS", "ValidationException"},
      {"as", ""},
      {"/ss", ""},
      {"awz", ""},
  };
  for (const NameCase& c : cases) {
    Status status = ValidateParameterName(c.name);
    EXPECT_EQ(status.error_name(), c.error)
        << "name of " << c.name.size() << " characters: " << c.name.substr(0, 40) << " -> "
        << status;
  }
}

class ParameterStoreTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    auto store = ParameterStore::Open(dir_ / "parameters.db", clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::vector<std::string> Names(const ParameterPage& page) {
    std::vector<std::string> names;
    for (const Parameter& p : page.parameters) names.push_back(p.name);
    return names;
  }

  SimulatedClock clock_{WallTime(std::chrono::seconds(1'800'000'000)), MonotonicTime{}};
  std::unique_ptr<ParameterStore> store_;
};

TEST_F(ParameterStoreTest, PutNeedsOverwriteForANewVersion) {
  EXPECT_THAT(store_->Put("/a/x", "1"), IsOkAndHolds(1));
  EXPECT_THAT(store_->Put("/a/x", "2").status(),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("overwrite")));
  EXPECT_EQ(store_->Put("/a/x", "2").status().error_name(), "ParameterAlreadyExists");
  EXPECT_THAT(store_->Put("/a/x", "2", "String", /*overwrite=*/true), IsOkAndHolds(2));
  auto latest = store_->Get("/a/x");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->value, "2");
  EXPECT_EQ(latest->version, 2);
  auto first = store_->Get("/a/x:1");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->value, "1");
  EXPECT_EQ(store_->Get("/a/x:3").status().error_name(), "ParameterVersionNotFound");
  EXPECT_EQ(store_->Get("/a/y").status().error_name(), "ParameterNotFound");
  EXPECT_EQ(store_->Get("/a/x:zero").status().error_name(), "ValidationException");
}

TEST_F(ParameterStoreTest, ChecksTypesAndValues) {
  EXPECT_THAT(store_->Put("p", "v", "StringList"), IsOkAndHolds(1));
  EXPECT_EQ(store_->Put("q", "v", "Number").status().error_name(), "ValidationException");
  EXPECT_EQ(store_->Put("q", "").status().error_name(), "ValidationException");
  EXPECT_THAT(store_->Put("q", std::string(4096, 'v')), IsOkAndHolds(1));
  EXPECT_EQ(store_->Put("r", std::string(4097, 'v')).status().error_name(), "ValidationException");
  EXPECT_EQ(store_->Put("aws-x", "v").status().error_name(), "ValidationException");
}

TEST_F(ParameterStoreTest, KeepsTheLatestHundredVersions) {
  for (int i = 1; i <= 102; ++i) {
    ASSERT_THAT(store_->Put("n", std::to_string(i), "String", true), IsOkAndHolds(i));
  }
  EXPECT_EQ(store_->Get("n:2").status().error_name(), "ParameterVersionNotFound");
  auto oldest = store_->Get("n:3");
  ASSERT_TRUE(oldest.ok());
  EXPECT_EQ(oldest->value, "3");
  EXPECT_EQ(store_->Get("n")->version, 102);
}

TEST_F(ParameterStoreTest, GetsByPathDirectlyOrRecursivelyInPages) {
  for (const char* name : {"/job/1/stackId", "/job/1/clusterArn", "/job/1/eks/name",
                           "/job/1/eks/oidc", "/job/10/stackId", "/jobs/other", "/job/2/x"}) {
    ASSERT_THAT(store_->Put(name, "v"), IsOk());
  }
  ASSERT_THAT(store_->Put("/job/1/stackId", "v2", "String", true), IsOk());
  auto direct = store_->GetByPath("/job/1", /*recursive=*/false);
  ASSERT_TRUE(direct.ok());
  EXPECT_THAT(Names(*direct), ElementsAre("/job/1/clusterArn", "/job/1/stackId"));
  EXPECT_EQ(direct->parameters[1].value, "v2");  // the latest version
  auto all = store_->GetByPath("/job/1/", /*recursive=*/true);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Names(*all), ElementsAre("/job/1/clusterArn", "/job/1/eks/name", "/job/1/eks/oidc",
                                       "/job/1/stackId"));
  // Pages of 3 through everything under /job.
  std::vector<std::string> names;
  std::optional<std::string> token;
  do {
    auto page = store_->GetByPath("/job", true, 3, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->parameters.size(), 3u);
    for (const std::string& n : Names(*page)) names.push_back(n);
    token = page->next_token;
  } while (token);
  EXPECT_THAT(names, ElementsAre("/job/1/clusterArn", "/job/1/eks/name", "/job/1/eks/oidc",
                                 "/job/1/stackId", "/job/10/stackId", "/job/2/x"));
  EXPECT_EQ(store_->GetByPath("job", true).status().error_name(), "ValidationException");
  EXPECT_EQ(store_->GetByPath("/job", true, 11).status().error_name(), "ValidationException");
  EXPECT_EQ(store_->GetByPath("/job", true, 3, std::string("bogus")).status().error_name(),
            "InvalidNextToken");
}

TEST_F(ParameterStoreTest, DeletesEveryVersion) {
  ASSERT_THAT(store_->Put("/d", "1"), IsOk());
  ASSERT_THAT(store_->Put("/d", "2", "String", true), IsOk());
  EXPECT_THAT(store_->Delete("/d"), IsOk());
  EXPECT_EQ(store_->Get("/d:1").status().error_name(), "ParameterNotFound");
  EXPECT_EQ(store_->Delete("/d").error_name(), "ParameterNotFound");
}

TEST_F(ParameterStoreTest, SurvivesReopening) {
  ASSERT_THAT(store_->Put("/keep/me", "v"), IsOk());
  store_.reset();
  auto reopened = ParameterStore::Open(dir_ / "parameters.db", clock_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->Get("/keep/me")->value, "v");
}

}  // namespace
}  // namespace hpd::store
