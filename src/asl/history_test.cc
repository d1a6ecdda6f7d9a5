#include "asl/history.h"

#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "common/json.h"
#include "support/corpus.h"

namespace hpd::asl {
namespace {

using ::hpd::testing::ConformanceCaseFiles;
using ::hpd::testing::ConformanceCasesDir;
using ::hpd::testing::LoadJsonFile;

TEST(HistoryEventTypeTest, NamesRoundTrip) {
  std::set<std::string_view> names;
  for (size_t i = 0; i < kHistoryEventTypeCount; ++i) {
    auto type = static_cast<HistoryEventType>(i);
    std::string_view name = HistoryEventTypeName(type);
    EXPECT_TRUE(names.insert(name).second) << name;
    ASSERT_EQ(HistoryEventTypeFromName(name), type) << name;
  }
  EXPECT_EQ(names.size(), 62u);
  EXPECT_FALSE(HistoryEventTypeFromName("NoSuchEvent").has_value());
}

TEST(HistoryEventTypeTest, DetailsKeys) {
  EXPECT_EQ(HistoryEventDetailsKey(HistoryEventType::kTaskStateEntered),
            "stateEnteredEventDetails");
  EXPECT_EQ(HistoryEventDetailsKey(HistoryEventType::kLambdaFunctionStarted), "");
  EXPECT_EQ(HistoryEventDetailsKey(HistoryEventType::kMapStateStarted),
            "mapStateStartedEventDetails");
}

TEST(EventDetailsTest, RendersMembersInOrderWithStringsEscaped) {
  EventDetails details;
  EXPECT_TRUE(details.empty());
  EXPECT_EQ(details.ToJson(), "{}");
  details.Add("input", R"({"a":"x\ny"})").NotTruncated("inputDetails").Add("name", "S \"1\"");
  EventDetails more;
  more.Add("timeoutInSeconds", int64_t{-12}).Raw("assignedVariables", R"({"v":"1"})");
  details.Merge(more);
  EXPECT_EQ(details.ToJson(),
            R"({"input":"{\"a\":\"x\\ny\"}","inputDetails":{"truncated":false},)"
            R"("name":"S \"1\"","timeoutInSeconds":-12,"assignedVariables":{"v":"1"}})");
  EXPECT_EQ(details.Find("input"), R"({"a":"x\ny"})");
  EXPECT_EQ(details.Find("timeoutInSeconds"), "-12");
  EXPECT_EQ(details.Find("inputDetails"), R"({"truncated":false})");
  EXPECT_EQ(details.Find("missing"), std::nullopt);
  // Values of any length, including ones with NUL bytes, survive the tape.
  const std::string big(70000, 'z');
  EventDetails large;
  large.Add("output", big).Add("nul", std::string_view("a\0b", 3));
  EXPECT_EQ(large.ToJson(), "{\"output\":\"" + big + R"(","nul":"a\u0000b"})");
}

TEST(HistoryEventTest, ToJsonHasTheApiShape) {
  HistoryEvent e;
  e.id = 3;
  e.previous_event_id = 2;
  e.type = HistoryEventType::kPassStateExited;
  e.timestamp = WallTime(std::chrono::milliseconds(1700000000123));
  e.details.Add("name", "A").Add("output", "{}");
  auto json = HistoryEventToJson(e);
  EXPECT_EQ(json.at("type").as_string(), "PassStateExited");
  EXPECT_EQ(json.at("id").as_int64(), 3);
  EXPECT_EQ(json.at("previousEventId").as_int64(), 2);
  EXPECT_DOUBLE_EQ(json.at("timestamp").as_double(), 1700000000.123);
  EXPECT_EQ(json.at("stateExitedEventDetails").as_object().at("name").as_string(), "A");

  HistoryEvent started;
  started.type = HistoryEventType::kLambdaFunctionStarted;
  auto s = HistoryEventToJson(started);
  EXPECT_EQ(s.size(), 4u);  // no details member
}

// Every (type, detailsKey) pair AWS recorded in the conformance corpus matches the table.
TEST(HistoryEventTypeTest, AgreesWithTheRecordedCorpus) {
  HPD_SKIP_WITHOUT_CORPUS(ConformanceCasesDir());
  size_t checked = 0;
  for (const auto& file : ConformanceCaseFiles()) {
    auto doc = LoadJsonFile(file);
    ASSERT_TRUE(doc.ok()) << file;
    const auto& events = doc->as_object().at("expected").as_object().at("events");
    if (!events.is_array()) continue;
    for (const auto& e : events.as_array()) {
      const auto& obj = e.as_object();
      std::string_view type_name = obj.at("type").as_string();
      auto type = HistoryEventTypeFromName(type_name);
      ASSERT_TRUE(type.has_value()) << type_name << " in " << file;
      const auto* key = obj.if_contains("detailsKey");
      std::string_view expected = key && key->is_string() ? std::string_view(key->as_string())
                                                          : std::string_view();
      EXPECT_EQ(HistoryEventDetailsKey(*type), expected) << type_name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 2500u);
}

}  // namespace
}  // namespace hpd::asl
