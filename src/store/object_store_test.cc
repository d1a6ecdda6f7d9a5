#include "store/object_store.h"

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

struct NameCase {
  std::string name;
  bool valid;
};

TEST(BucketNameTest, FollowsS3RulesAtAndBeyondEachLimit) {
  const std::vector<NameCase> cases = {
      {"abc", true},
      {"ab", false},
      {std::string(63, 'a'), true},
      {std::string(64, 'a'), false},
      {"perf-eval.configs-1", true},
      {"Upper", false},
      {"under_score", false},
      {"-leading", false},
      {"trailing-", false},
      {"double..dot", false},
      {"192.168.1.10", false},
      {"192.168.1", true},
      {"xn--bucket", false},
      {"sthree-bucket", false},
      {"amzn-s3-demo-bucket", false},
      {"bucket-s3alias", false},
      {"bucket--ol-s3", false},
      {"bucket.mrap", false},
      {"bucket--x-s3", false},
      {"bucket--table-s3", false},
  };
  for (const NameCase& c : cases) {
    Status status = ValidateBucketName(c.name);
    EXPECT_EQ(status.ok(), c.valid) << c.name << " -> " << status;
    if (!c.valid) {
      EXPECT_EQ(status.error_name(), "InvalidBucketName") << c.name;
    }
  }
}

TEST(ObjectKeyTest, OneTo1024BytesOfUtf8) {
  EXPECT_THAT(ValidateObjectKey("job-1/config.json"), IsOk());
  EXPECT_THAT(ValidateObjectKey(std::string(1024, 'k')), IsOk());
  EXPECT_EQ(ValidateObjectKey(std::string(1025, 'k')).error_name(), "KeyTooLongError");
  EXPECT_EQ(ValidateObjectKey("").error_name(), "InvalidArgument");
  EXPECT_EQ(ValidateObjectKey(std::string("bad\xff", 4)).error_name(), "InvalidArgument");
  EXPECT_THAT(ValidateObjectKey("../../etc/passwd"), IsOk());  // a key, never a path
}

class ObjectStoreTest : public hpd::testing::ScratchDirTest {
 protected:
  void SetUp() override {
    ScratchDirTest::SetUp();
    auto store = ObjectStore::Open(dir_ / "objects", clock_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  SimulatedClock clock_{WallTime(std::chrono::seconds(1'800'000'000)), MonotonicTime{}};
  std::unique_ptr<ObjectStore> store_;
};

TEST_F(ObjectStoreTest, PutGetHeadDelete) {
  auto etag = store_->Put("configs", "job-1/config.json", R"({"a":1})", "application/json");
  ASSERT_TRUE(etag.ok()) << etag.status();
  EXPECT_EQ(*etag, "\"bb6cb5c68df4652941caf652a366f2d8\"");  // MD5, quoted, as S3 answers
  EXPECT_THAT(store_->Get("configs", "job-1/config.json"), IsOkAndHolds(R"({"a":1})"));
  auto head = store_->Head("configs", "job-1/config.json");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 7);
  EXPECT_EQ(head->content_type, "application/json");
  EXPECT_EQ(head->etag, *etag);
  // A key is only a key: ".." cannot reach outside the store.
  ASSERT_THAT(store_->Put("configs", "../../escape", "x").status(), IsOk());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "escape"));
  EXPECT_THAT(store_->Get("configs", "../../escape"), IsOkAndHolds("x"));
  EXPECT_THAT(store_->Delete("configs", "job-1/config.json"), IsOk());
  EXPECT_EQ(store_->Get("configs", "job-1/config.json").status().error_name(), "NoSuchKey");
  EXPECT_THAT(store_->Delete("configs", "job-1/config.json"), IsOk());  // as S3: no error
}

TEST_F(ObjectStoreTest, AnEmptyObjectAndAReplacedOne) {
  ASSERT_THAT(store_->Put("bucket", "empty", "").status(), IsOk());
  EXPECT_THAT(store_->Get("bucket", "empty"), IsOkAndHolds(""));
  ASSERT_THAT(store_->Put("bucket", "k", "first").status(), IsOk());
  ASSERT_THAT(store_->Put("bucket", "k", "second, longer").status(), IsOk());
  EXPECT_THAT(store_->Get("bucket", "k"), IsOkAndHolds("second, longer"));
}

TEST_F(ObjectStoreTest, ListsByPrefixInPages) {
  for (const char* key : {"job-1/a", "job-1/b", "job-1/c/d", "job-10/a", "job-2/a", "zz"}) {
    ASSERT_THAT(store_->Put("bucket", key, key).status(), IsOk());
  }
  std::vector<std::string> keys;
  std::optional<std::string> token;
  do {
    auto page = store_->List("bucket", "job-1", 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->objects.size(), 2u);
    for (const ObjectInfo& o : page->objects) keys.push_back(o.key);
    token = page->next_token;
  } while (token);
  EXPECT_THAT(keys, ElementsAre("job-1/a", "job-1/b", "job-1/c/d", "job-10/a"));
  auto slash = store_->List("bucket", "job-1/");
  ASSERT_TRUE(slash.ok());
  EXPECT_EQ(slash->objects.size(), 3u);
  EXPECT_EQ(store_->List("never-written", "").status().error_name(), "NoSuchBucket");
  EXPECT_EQ(store_->List("bucket", "", 1001).status().error_name(), "InvalidArgument");
}

TEST_F(ObjectStoreTest, SurvivesReopening) {
  ASSERT_THAT(store_->Put("bucket", "kept", "bytes").status(), IsOk());
  store_.reset();
  auto reopened = ObjectStore::Open(dir_ / "objects", clock_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_THAT((*reopened)->Get("bucket", "kept"), IsOkAndHolds("bytes"));
}

}  // namespace
}  // namespace hpd::store
