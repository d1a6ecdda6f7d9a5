// `hpdeploy validate` through the real binary: exit codes, both output formats, stdin,
// several files and substitutions.
#include <filesystem>
#include <fstream>
#include <string>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.h"
#include "support/scratch_dir.h"
#include "support/subprocess.h"

namespace hpd {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::RunProcess;

constexpr const char* kBinary = HPD_BINARY;

constexpr const char* kValid = R"({
  "Comment": "ok",
  "StartAt": "A",
  "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}
})";

constexpr const char* kInvalid = R"({
  "StartAt": "A",
  "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}
})";

using CliValidateTest = testing::ScratchDirTest;

TEST_F(CliValidateTest, ValidFileExitsZeroAndSaysOk) {
  auto r = RunProcess({kBinary, "validate", Write("ok.json", kValid)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("ok.json: OK"));
}

TEST_F(CliValidateTest, InvalidFileExitsOneWithCodeAndLocation) {
  auto r = RunProcess({kBinary, "validate", Write("bad.json", kInvalid)});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, HasSubstr("bad.json: FAIL"));
  EXPECT_THAT(r.out, HasSubstr("MISSING_TRANSITION_TARGET at /States/A/Next"));
}

TEST_F(CliValidateTest, JsonFormatIsTheValidateStateMachineDefinitionShape) {
  auto r = RunProcess({kBinary, "validate", "--format", "json", Write("bad.json", kInvalid)});
  EXPECT_EQ(r.exit_code, 1);
  auto doc = ParseJson(r.out);
  ASSERT_TRUE(doc.ok()) << r.out;
  const auto& obj = doc->as_object();
  EXPECT_EQ(obj.at("result").as_string(), "FAIL");
  const auto& first = obj.at("diagnostics").as_array().at(0).as_object();
  EXPECT_EQ(first.at("severity").as_string(), "ERROR");
  EXPECT_EQ(first.at("code").as_string(), "MISSING_TRANSITION_TARGET");
  EXPECT_EQ(first.at("location").as_string(), "/States/A/Next");
  EXPECT_THAT(std::string(first.at("message").as_string()), HasSubstr("Nowhere"));
}

TEST_F(CliValidateTest, ReadsStandardInput) {
  auto r = RunProcess({kBinary, "validate", "--format", "json", "-"}, kValid);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto doc = ParseJson(r.out);
  ASSERT_TRUE(doc.ok()) << r.out;
  EXPECT_EQ(doc->as_object().at("result").as_string(), "OK");
}

TEST_F(CliValidateTest, SeveralFilesOneInvalidExitsOneAndJsonLinesNameFiles) {
  auto ok = Write("ok.json", kValid);
  auto bad = Write("bad.json", kInvalid);
  auto r = RunProcess({kBinary, "validate", "--format", "json", ok, bad});
  EXPECT_EQ(r.exit_code, 1);
  auto nl = r.out.find('\n');
  ASSERT_NE(nl, std::string::npos);
  auto first = ParseJson(r.out.substr(0, nl));
  auto second = ParseJson(r.out.substr(nl + 1));
  ASSERT_TRUE(first.ok() && second.ok()) << r.out;
  EXPECT_EQ(first->as_object().at("file").as_string(), ok);
  EXPECT_EQ(first->as_object().at("result").as_string(), "OK");
  EXPECT_EQ(second->as_object().at("file").as_string(), bad);
  EXPECT_EQ(second->as_object().at("result").as_string(), "FAIL");
}

TEST_F(CliValidateTest, MissingFileIsAnIoErrorExitTwo) {
  auto r = RunProcess({kBinary, "validate", (dir_ / "absent.json").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("absent.json"));
}

TEST_F(CliValidateTest, UsageErrorsExitTwo) {
  EXPECT_EQ(RunProcess({kBinary, "validate"}).exit_code, 2);
  EXPECT_EQ(RunProcess({kBinary, "validate", "--format", "yaml", "x"}).exit_code, 2);
  EXPECT_EQ(RunProcess({kBinary, "no-such-command"}).exit_code, 2);
  EXPECT_EQ(RunProcess({kBinary}).exit_code, 2);
}

TEST_F(CliValidateTest, HelpDescribesTheOptions) {
  auto top = RunProcess({kBinary, "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_THAT(top.out, HasSubstr("validate"));
  auto r = RunProcess({kBinary, "validate", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("--format"));
  EXPECT_THAT(r.out, HasSubstr("--substitutions"));
  EXPECT_THAT(r.out, HasSubstr("standard input"));
}

TEST_F(CliValidateTest, SubstitutionsFillPlaceholdersBeforeValidation) {
  const std::string def = R"({"StartAt": "T", "States": {"T": {"Type": "Task",
      "Resource": "${FunctionArn}", "TimeoutSeconds": ${Timeout}, "End": true}}})";
  auto file = Write("def.json", def);
  auto subs = Write("subs.json",
                    R"({"FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
                        "Timeout": 30})");
  auto r = RunProcess({kBinary, "validate", "--substitutions", subs, file});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // Without them the text is not even JSON.
  auto raw = RunProcess({kBinary, "validate", file});
  EXPECT_EQ(raw.exit_code, 1);
  EXPECT_THAT(raw.out, HasSubstr("INVALID_JSON_DESCRIPTION"));
}

TEST_F(CliValidateTest, MissingSubstitutionIsNamed) {
  auto file = Write("def.json", R"({"StartAt": "${Start}", "States": {}})");
  auto subs = Write("subs.json", R"({"Other": "x"})");
  auto r = RunProcess({kBinary, "validate", "--substitutions", subs, file});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("${Start}"));
}

TEST_F(CliValidateTest, WarningsDoNotFailValidation) {
  const std::string def = R"({"StartAt": "P", "States": {"P": {"Type": "Pass",
      "Parameters": {"x": "$.value"}, "End": true}}})";
  auto r = RunProcess({kBinary, "validate", Write("warn.json", def)});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("OK (1 warning)"));
  EXPECT_THAT(r.out, HasSubstr("WARNING NO_DOLLAR at /States/P/Parameters/x"));
  EXPECT_THAT(r.out, Not(HasSubstr("ERROR")));
}

}  // namespace
}  // namespace hpd
