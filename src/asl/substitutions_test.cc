#include "asl/substitutions.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "common/status_matchers.h"

namespace hpd::asl {
namespace {

using ::testing::HasSubstr;

TEST(ApplySubstitutionsTest, ReplacesEveryPlaceholder) {
  const Substitutions subs = {{"Fn", "arn:aws:lambda:us-east-1:1:function:f"}, {"Stage", "prod"}};
  auto out = ApplySubstitutions(R"({"Resource":"${Fn}","Comment":"${Stage}-${Stage}"})", subs);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, R"({"Resource":"arn:aws:lambda:us-east-1:1:function:f","Comment":"prod-prod"})");
}

TEST(ApplySubstitutionsTest, TextWithoutPlaceholdersIsUnchanged) {
  auto out = ApplySubstitutions(R"({"a":"$.x","b":"{% $y %}","c":"$"})", {{"x", "unused"}});
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(*out, R"({"a":"$.x","b":"{% $y %}","c":"$"})");
  EXPECT_THAT(ApplySubstitutions("", {}), IsOkAndHolds(""));
}

TEST(ApplySubstitutionsTest, PlaceholderAtTheEdgesOfTheText) {
  EXPECT_THAT(ApplySubstitutions("${A}", {{"A", "x"}}), IsOkAndHolds("x"));
  EXPECT_THAT(ApplySubstitutions("${A}${B}", {{"A", "1"}, {"B", "2"}}), IsOkAndHolds("12"));
}

TEST(ApplySubstitutionsTest, ValuesAreInsertedVerbatimAndNotRescanned) {
  // A value that itself looks like a placeholder is not expanded again.
  EXPECT_THAT(ApplySubstitutions("${A}", {{"A", "${B}"}, {"B", "no"}}), IsOkAndHolds("${B}"));
  EXPECT_THAT(ApplySubstitutions("[${A}]", {{"A", ""}}), IsOkAndHolds("[]"));
}

TEST(ApplySubstitutionsTest, MissingPlaceholderIsAnErrorNamingIt) {
  auto out = ApplySubstitutions(R"({"Resource":"${Known}","Next":"${Unknown}"})", {{"Known", "k"}});
  EXPECT_THAT(out, StatusIs(StatusCode::kInvalidArgument, HasSubstr("${Unknown}")));
}

TEST(ApplySubstitutionsTest, NamesAreCaseSensitive) {
  EXPECT_THAT(ApplySubstitutions("${name}", {{"Name", "x"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("${name}")));
}

TEST(ApplySubstitutionsTest, EmptyPlaceholderIsAnError) {
  EXPECT_THAT(ApplySubstitutions("a ${} b", {}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("${}")));
}

TEST(ApplySubstitutionsTest, UnterminatedPlaceholderIsLeftAlone) {
  EXPECT_THAT(ApplySubstitutions(R"(["cost ${5"])", {}), IsOkAndHolds(R"(["cost ${5"])"));
  // Placeholders before the unterminated one are still replaced.
  EXPECT_THAT(ApplySubstitutions("${A} and ${B", {{"A", "x"}}), IsOkAndHolds("x and ${B"));
  EXPECT_THAT(ApplySubstitutions("ends with $", {}), IsOkAndHolds("ends with $"));
  EXPECT_THAT(ApplySubstitutions("ends with ${", {}), IsOkAndHolds("ends with ${"));
}

TEST(ApplySubstitutionsTest, NameRunsToTheNextClosingBrace) {
  EXPECT_THAT(ApplySubstitutions("${a b}", {{"a b", "ok"}}), IsOkAndHolds("ok"));
  EXPECT_THAT(ApplySubstitutions("${A}}", {{"A", "x"}}), IsOkAndHolds("x}"));
  EXPECT_THAT(ApplySubstitutions("${${A}", {{"${A", "y"}}), IsOkAndHolds("y"));
}

TEST(ApplySubstitutionsTest, DollarWithoutBraceIsNotAPlaceholder) {
  EXPECT_THAT(ApplySubstitutions("$A {A} $ {A}", {}), IsOkAndHolds("$A {A} $ {A}"));
}

TEST(SubstitutionsFromJsonTest, StringsNumbersAndBooleans) {
  auto subs = SubstitutionsFromJson(
      boost::json::parse(R"({"Name":"fn","Count":3,"Rate":1.5,"Flag":true,"Empty":""})"));
  ASSERT_THAT(subs, IsOk());
  EXPECT_EQ(subs->at("Name"), "fn");
  EXPECT_EQ(subs->at("Count"), "3");
  EXPECT_EQ(subs->at("Rate"), "1.5");
  EXPECT_EQ(subs->at("Flag"), "true");
  EXPECT_EQ(subs->at("Empty"), "");
  EXPECT_EQ(subs->size(), 5u);
}

TEST(SubstitutionsFromJsonTest, NumbersAreSubstitutedAsTheirText) {
  auto subs = SubstitutionsFromJson(boost::json::parse(R"({"Timeout":300})"));
  ASSERT_THAT(subs, IsOk());
  EXPECT_THAT(ApplySubstitutions(R"({"TimeoutSeconds":${Timeout}})", *subs),
              IsOkAndHolds(R"({"TimeoutSeconds":300})"));
}

TEST(SubstitutionsFromJsonTest, NonScalarValuesAreRejectedByName) {
  EXPECT_THAT(SubstitutionsFromJson(boost::json::parse(R"({"Good":"x","Bad":{"a":1}})")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'Bad'")));
  EXPECT_THAT(SubstitutionsFromJson(boost::json::parse(R"({"List":[1]})")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("array")));
  EXPECT_THAT(SubstitutionsFromJson(boost::json::parse(R"({"Nothing":null})")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("null")));
}

TEST(SubstitutionsFromJsonTest, DocumentMustBeAnObject) {
  EXPECT_THAT(SubstitutionsFromJson(boost::json::parse(R"(["Name","x"])")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(SubstitutionsFromJson(boost::json::parse(R"("x")")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("string")));
}

}  // namespace
}  // namespace hpd::asl
