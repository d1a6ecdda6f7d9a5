#include "server/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/status_matchers.h"

namespace hpd::server {
namespace {

using ::testing::HasSubstr;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("audit_log_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static AuditEntry Entry(std::string action, int status) {
    AuditEntry entry;
    entry.actor = "alice";
    entry.role = "deployer";
    entry.action = std::move(action);
    entry.target = "job-1";
    entry.status = status;
    entry.error_code = status >= 400 ? "Forbidden" : "";
    entry.request_id = "0123456789abcdef";
    entry.remote_address = "127.0.0.1";
    return entry;
  }

  std::filesystem::path dir_;
  SimulatedClock clock_{WallTime(std::chrono::seconds(1'800'000'000))};
};

TEST_F(AuditLogTest, RecordsAndPagesNewestFirstAcrossReopen) {
  {
    auto log = AuditLog::Open(dir_ / "audit.db", clock_);
    ASSERT_THAT(log, IsOk());
    for (int i = 0; i < 5; ++i) {
      auto recorded = (*log)->Record(Entry("deployment.create", 202 + i));
      ASSERT_THAT(recorded, IsOk());
      EXPECT_EQ(recorded->id, i + 1);
      clock_.Advance(std::chrono::seconds(1));
    }
  }
  auto log = AuditLog::Open(dir_ / "audit.db", clock_);
  ASSERT_THAT(log, IsOk());
  auto first = (*log)->List(2, "");
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->entries.size(), 2u);
  EXPECT_EQ(first->entries[0].id, 5);
  EXPECT_EQ(first->entries[1].id, 4);
  EXPECT_EQ(first->entries[0].status, 206);
  EXPECT_EQ(first->entries[0].time, WallTime(std::chrono::seconds(1'800'000'004)));
  ASSERT_FALSE(first->next_token.empty());

  auto second = (*log)->List(2, first->next_token);
  ASSERT_THAT(second, IsOk());
  ASSERT_EQ(second->entries.size(), 2u);
  EXPECT_EQ(second->entries[0].id, 3);
  auto last = (*log)->List(2, second->next_token);
  ASSERT_THAT(last, IsOk());
  ASSERT_EQ(last->entries.size(), 1u);
  EXPECT_EQ(last->entries[0].id, 1);
  EXPECT_EQ(last->next_token, "");

  const boost::json::object json = AuditEntryJson(last->entries[0]);
  EXPECT_EQ(json.at("actor"), "alice");
  EXPECT_EQ(json.at("role"), "deployer");
  EXPECT_EQ(json.at("action"), "deployment.create");
  EXPECT_EQ(json.at("target"), "job-1");
  EXPECT_EQ(json.at("status"), 202);
  EXPECT_EQ(json.at("errorCode"), "");
  EXPECT_EQ(json.at("requestId"), "0123456789abcdef");
  EXPECT_EQ(json.at("remoteAddress"), "127.0.0.1");
  EXPECT_EQ(json.at("time"), "2027-01-15T08:00:00Z");
}

TEST_F(AuditLogTest, RejectsATokenItDidNotHandOut) {
  auto log = AuditLog::Open(dir_ / "audit.db", clock_);
  ASSERT_THAT(log, IsOk());
  for (const char* token : {"abc", "-1", "0", "12x"}) {
    auto page = (*log)->List(10, token);
    EXPECT_THAT(page, StatusIs(StatusCode::kInvalidArgument, HasSubstr("nextToken"))) << token;
    EXPECT_EQ(page.status().error_name(), "InvalidParameter");
  }
}

}  // namespace
}  // namespace hpd::server
