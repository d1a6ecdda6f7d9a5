#include "asl_conformance/json_path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace hpd::conformance {
namespace {

using ::testing::HasSubstr;

JsonPathPattern P(std::string_view text) {
  auto pattern = JsonPathPattern::Parse(text);
  EXPECT_TRUE(pattern.ok()) << pattern.status();
  return pattern.ok() ? *pattern : *JsonPathPattern::Parse("$");
}

Location L(std::initializer_list<PathToken> tokens) { return Location(tokens); }

TEST(JsonPathTest, RendersLocationsAsNormalizePyPrintsThem) {
  EXPECT_EQ(RenderLocation({}), "$");
  EXPECT_EQ(RenderLocation(L({size_t{3}, std::string("details"), std::string("input")})),
            "$[3].details.input");
}

TEST(JsonPathTest, DescendantNameMatchesAtAnyDepth) {
  const JsonPathPattern p = P("$..SdkHttpMetadata");
  EXPECT_TRUE(p.Matches(L({std::string("SdkHttpMetadata")})));
  EXPECT_TRUE(p.Matches(L({std::string("events"), size_t{4}, std::string("taskSucceededEventDetails"),
                           std::string("output"), std::string("SdkHttpMetadata")})));
  EXPECT_FALSE(p.Matches(L({std::string("events"), std::string("SdkHttpMetadata"),
                            std::string("Date")})));
  EXPECT_TRUE(p.MatchesPrefixOf(L({std::string("events"), std::string("SdkHttpMetadata"),
                                   std::string("Date")})));
  EXPECT_FALSE(p.MatchesPrefixOf(L({std::string("events"), std::string("Sdk")})));
}

TEST(JsonPathTest, IndexAndChildSegments) {
  const JsonPathPattern p = P("$..events[4].previousEventId");
  EXPECT_TRUE(p.Matches(L({std::string("events"), size_t{4}, std::string("previousEventId")})));
  EXPECT_FALSE(p.Matches(L({std::string("events"), size_t{5}, std::string("previousEventId")})));
  EXPECT_FALSE(p.Matches(L({std::string("events"), size_t{4}, std::string("id")})));

  const JsonPathPattern q = P("$..events..stateEnteredEventDetails.input");
  EXPECT_TRUE(q.Matches(L({std::string("events"), size_t{7}, std::string("stateEnteredEventDetails"),
                           std::string("input")})));
  EXPECT_TRUE(q.MatchesPrefixOf(L({std::string("events"), size_t{7},
                                   std::string("stateEnteredEventDetails"), std::string("input"),
                                   std::string("a")})));
  EXPECT_FALSE(q.Matches(L({std::string("events"), size_t{7},
                            std::string("stateExitedEventDetails"), std::string("input")})));

  const JsonPathPattern r = P("$.a[*].b");
  EXPECT_TRUE(r.Matches(L({std::string("a"), size_t{0}, std::string("b")})));
  EXPECT_FALSE(r.Matches(L({std::string("x"), std::string("a"), size_t{0}, std::string("b")})));
}

TEST(JsonPathTest, RejectsWhatItDoesNotSupport) {
  EXPECT_THAT(JsonPathPattern::Parse("events"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("must start with $")));
  EXPECT_THAT(JsonPathPattern::Parse("$.a[?(@.b)]"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("subscripts")));
  EXPECT_THAT(JsonPathPattern::Parse("$.a["), StatusIs(StatusCode::kInvalidArgument));
  EXPECT_THAT(JsonPathPattern::Parse("$.a.."),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty member name")));
}

}  // namespace
}  // namespace hpd::conformance
