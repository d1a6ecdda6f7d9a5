#include "asl/intrinsic.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "support/corpus.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;
using ::hpd::testing::DefinitionFiles;
using ::hpd::testing::LoadDefinition;
using ::hpd::testing::SharedDir;
using ::testing::ElementsAre;
using ::hpd::StatusIs;
using ::testing::HasSubstr;


// Renders the tree: calls by name, paths by text, strings as JSON, integers plainly, doubles
// as "d:<value>".
std::string Render(const IntrinsicCall& call);

std::string Render(const IntrinsicArg& arg) {
  if (arg.is_path()) return arg.path().text();
  if (arg.is_call()) return Render(arg.call());
  const json::value& literal = arg.literal();
  if (literal.is_double()) {
    std::ostringstream os;
    os << "d:" << literal.get_double();
    return os.str();
  }
  if (literal.is_uint64()) return "u:" + std::to_string(literal.get_uint64());
  return json::serialize(literal);
}

std::string Render(const IntrinsicCall& call) {
  std::string out(call.name);
  out.push_back('(');
  for (size_t i = 0; i < call.args.size(); ++i) {
    if (i > 0) out.append(", ");
    out.append(Render(call.args[i]));
  }
  out.push_back(')');
  return out;
}

struct AcceptedCase {
  std::string text;
  std::string rendered;
};

void PrintTo(const AcceptedCase& c, std::ostream* os) { *os << c.text; }

class AcceptedIntrinsicTest : public ::testing::TestWithParam<AcceptedCase> {};

TEST_P(AcceptedIntrinsicTest, ParsesToExpectedTree) {
  const AcceptedCase& c = GetParam();
  EXPECT_TRUE(LooksLikeIntrinsic(c.text));
  StatusOr<IntrinsicCall> call = ParseIntrinsic(c.text);
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(Render(*call), c.rendered);
  EXPECT_EQ(call->name, IntrinsicFunctionName(call->function));
}

INSTANTIATE_TEST_SUITE_P(
    Forms, AcceptedIntrinsicTest,
    ::testing::Values(
        AcceptedCase{"States.Format('Hello, {}', $.name)", R"(States.Format("Hello, {}", $.name))"},
        AcceptedCase{"States.UUID()", "States.UUID()"},
        AcceptedCase{"States.Array()", "States.Array()"},
        AcceptedCase{"States.Array( )", "States.Array()"},
        AcceptedCase{"  States.Array( 1 ,2 )\n", "States.Array(1, 2)"},
        AcceptedCase{"States.Array\t(1)", "States.Array(1)"},
        AcceptedCase{"States.Array(1, -2, 0, -0, 3.5, -0.25, 1e3, 2E-2, 1.5e+1)",
                     "States.Array(1, -2, 0, 0, d:3.5, d:-0.25, d:1000, d:0.02, d:15)"},
        AcceptedCase{"States.Array(true, false, null, 'x', '')",
                     R"(States.Array(true, false, null, "x", ""))"},
        AcceptedCase{"States.Array(9223372036854775807, -9223372036854775808, "
                     "18446744073709551615, 18446744073709551616)",
                     "States.Array(9223372036854775807, -9223372036854775808, "
                     "u:18446744073709551615, d:1.84467e+19)"},
        AcceptedCase{"States.MathAdd($.i, -1)", "States.MathAdd($.i, -1)"},
        AcceptedCase{"States.MathRandom(1, 10)", "States.MathRandom(1, 10)"},
        AcceptedCase{"States.MathRandom(1, 10, $.seed)", "States.MathRandom(1, 10, $.seed)"},
        AcceptedCase{"States.StringSplit('a,b', ',')", R"(States.StringSplit("a,b", ","))"},
        AcceptedCase{"States.Format('{} and \\{\\} \\' \\\\ \\n', $.a)",
                     R"(States.Format("{} and {} ' \\ \\n", $.a))"},
        AcceptedCase{"States.StringToJson('{\"a\": [1, 2]}')",
                     R"(States.StringToJson("{\"a\": [1, 2]}"))"},
        AcceptedCase{"States.StringToJson('{\"text\":\"An \\\"q\\\" here\"}')",
                     R"(States.StringToJson("{\"text\":\"An \\\"q\\\" here\"}"))"},
        AcceptedCase{"States.StringSplit('Hello\nWorld', '\n')",
                     R"(States.StringSplit("Hello\nWorld", "\n"))"},
        AcceptedCase{"States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2)",
                     R"(States.ArrayGetItem(States.StringSplit($.Arn, "/"), 2))"},
        AcceptedCase{"States.JsonMerge($.a, $.b, false)", "States.JsonMerge($.a, $.b, false)"},
        AcceptedCase{"States.Hash($.d, 'SHA-256')", R"(States.Hash($.d, "SHA-256"))"},
        AcceptedCase{"States.Array($$.Execution.Input, $$, $var, $var.a[0], $)",
                     "States.Array($$.Execution.Input, $$, $var, $var.a[0], $)"},
        AcceptedCase{"States.Array($.a['b c'],$.x[0,1],$.y[?(@.v > 1 && @.w != 'a,b')])",
                     "States.Array($.a['b c'], $.x[0,1], $.y[?(@.v > 1 && @.w != 'a,b')])"},
        AcceptedCase{"States.Array($.a[?(@.x == 'a,b)')])", "States.Array($.a[?(@.x == 'a,b)')])"},
        AcceptedCase{"States.Array($.input-value,$..name)", "States.Array($.input-value, $..name)"},
        AcceptedCase{"States.ArrayLength($.items.length())",
                     "States.ArrayLength($.items.length())"},
        AcceptedCase{"States.ArrayRange(0, 10, 2)", "States.ArrayRange(0, 10, 2)"},
        AcceptedCase{"States.ArrayPartition($.a, 2)", "States.ArrayPartition($.a, 2)"},
        AcceptedCase{"States.ArrayContains($.a, 'x')", R"(States.ArrayContains($.a, "x"))"},
        AcceptedCase{"States.ArrayUnique($.a)", "States.ArrayUnique($.a)"},
        AcceptedCase{"States.Base64Encode('x')", R"(States.Base64Encode("x"))"},
        AcceptedCase{"States.Base64Decode($b)", "States.Base64Decode($b)"},
        AcceptedCase{"States.JsonToString($)", "States.JsonToString($)"},
        AcceptedCase{"States.Format($.template, $.name)", "States.Format($.template, $.name)"}));

TEST(IntrinsicTest, DocumentationExampleWithNineNestedCallsParses) {
  const std::string text =
      "States.Format('{}.{}.{}', States.ArrayGetItem(States.StringSplit(States.ArrayGetItem("
      "States.StringSplit($.ImageRecipe.Arn, '/'), 2), '.'), 0), States.ArrayGetItem("
      "States.StringSplit(States.ArrayGetItem(States.StringSplit($.ImageRecipe.Arn, '/'), 2), "
      "'.'), 1))";
  StatusOr<IntrinsicCall> call = ParseIntrinsic(text);
  ASSERT_TRUE(call.ok()) << call.status();
  ASSERT_EQ(call->args.size(), 3u);
  ASSERT_TRUE(call->format_template.has_value());
  EXPECT_EQ(call->format_template->placeholder_count(), 3u);
  const IntrinsicCall& get_item = call->args[1].call();
  EXPECT_EQ(get_item.function, IntrinsicFunction::kArrayGetItem);
  EXPECT_EQ(get_item.args[0].call().function, IntrinsicFunction::kStringSplit);
  EXPECT_EQ(get_item.args[1].literal().as_int64(), 0);
}

std::string Nest(int depth) {
  std::string text;
  for (int i = 1; i < depth; ++i) text += "States.Array(";
  text += "States.UUID()";
  text.append(static_cast<size_t>(depth - 1), ')');
  return text;
}

TEST(IntrinsicTest, NestsUpToTenDeep) {
  StatusOr<IntrinsicCall> call = ParseIntrinsic(Nest(10));
  ASSERT_TRUE(call.ok()) << call.status();
  const IntrinsicCall* current = &*call;
  int depth = 1;
  while (!current->args.empty()) {
    current = &current->args[0].call();
    ++depth;
  }
  EXPECT_EQ(depth, 10);
  EXPECT_EQ(current->function, IntrinsicFunction::kUuid);
}

TEST(IntrinsicTest, RejectsElevenDeepWithTheLimit) {
  EXPECT_THAT(ParseIntrinsic(Nest(11)).status(),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("intrinsic functions may be nested at most 10 deep, but "
                                 "States.UUID is at depth 11 at character 131")));
  // Deep nesting fails at the limit, not with a stack overflow.
  EXPECT_THAT(ParseIntrinsic(Nest(100000)).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("at most 10 deep")));
}

TEST(IntrinsicTest, FormatTemplateKeepsEscapedBracesApartFromPlaceholders) {
  StatusOr<IntrinsicCall> call = ParseIntrinsic("States.Format('\\{\\}={} {}', $.a, 'x')");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_EQ(call->args[0].literal().as_string(), "{}={} {}");
  ASSERT_TRUE(call->format_template.has_value());
  EXPECT_THAT(call->format_template->pieces, ElementsAre("{}=", " ", ""));
  EXPECT_EQ(call->format_template->placeholder_count(), 2u);
}

TEST(IntrinsicTest, FormatWithPathTemplateHasNoPrecompiledTemplate) {
  StatusOr<IntrinsicCall> call = ParseIntrinsic("States.Format($.t, 1)");
  ASSERT_TRUE(call.ok()) << call.status();
  EXPECT_FALSE(call->format_template.has_value());
  EXPECT_TRUE(call->args[0].is_path());
  EXPECT_FALSE(ParseIntrinsic("States.Array('{}')")->format_template.has_value());
}

TEST(IntrinsicTest, ArgumentsKeepTheirKinds) {
  StatusOr<IntrinsicCall> call =
      ParseIntrinsic("States.Array('s', 1, 1.5, true, null, $.p, $$.c, $v, States.UUID())");
  ASSERT_TRUE(call.ok()) << call.status();
  const std::vector<IntrinsicArg>& args = call->args;
  ASSERT_EQ(args.size(), 9u);
  EXPECT_TRUE(args[0].literal().is_string());
  EXPECT_TRUE(args[1].literal().is_int64());
  EXPECT_TRUE(args[2].literal().is_double());
  EXPECT_TRUE(args[3].literal().is_bool());
  EXPECT_TRUE(args[4].literal().is_null());
  EXPECT_EQ(args[5].path().root(), JsonPath::Root::kInput);
  EXPECT_EQ(args[6].path().root(), JsonPath::Root::kContext);
  EXPECT_EQ(args[7].path().root(), JsonPath::Root::kVariable);
  EXPECT_EQ(args[7].path().variable_name(), "v");
  EXPECT_TRUE(args[8].is_call());
}

TEST(IntrinsicTest, CallsAreCopyableAndShareImmutableParts) {
  StatusOr<IntrinsicCall> call = ParseIntrinsic("States.Array(States.UUID(), 'a', $.b)");
  ASSERT_TRUE(call.ok());
  const IntrinsicCall copy = *call;
  EXPECT_EQ(Render(copy), Render(*call));
  EXPECT_EQ(&copy.args[0].call(), &call->args[0].call());
  const IntrinsicCall moved = std::move(*call);
  EXPECT_EQ(Render(moved), R"(States.Array(States.UUID(), "a", $.b))");
}

struct RejectedCase {
  std::string text;
  std::string message;
};

void PrintTo(const RejectedCase& c, std::ostream* os) { *os << c.text; }

class RejectedIntrinsicTest : public ::testing::TestWithParam<RejectedCase> {};

TEST_P(RejectedIntrinsicTest, FailsWithMessage) {
  const RejectedCase& c = GetParam();
  const Status status = ParseIntrinsic(c.text).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)));
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument,
                               HasSubstr("invalid intrinsic function call '" + c.text + "'")));
}

INSTANTIATE_TEST_SUITE_P(
    Forms, RejectedIntrinsicTest,
    ::testing::Values(
        RejectedCase{"", "the text is empty"},
        RejectedCase{"Format('x')", "must start with 'States.' (case-sensitive) at character 1"},
        RejectedCase{"states.Format('x')", "must start with 'States.'"},
        RejectedCase{"$.a", "must start with 'States.'"},
        RejectedCase{"States.", "expected a function name after 'States.' at the end"},
        RejectedCase{"States.(1)", "expected a function name after 'States.'"},
        RejectedCase{"States.Foo(1)",
                     "unknown intrinsic function 'States.Foo'; the intrinsic "
                     "functions are States.Format, States.StringToJson"},
        RejectedCase{"States.format('x')", "unknown intrinsic function 'States.format'"},
        RejectedCase{"States.Array(States.Nope())",
                     "unknown intrinsic function 'States.Nope'; the intrinsic functions are "
                     "States.Format, States.StringToJson, States.JsonToString, States.Array, "
                     "States.ArrayPartition, States.ArrayContains, States.ArrayRange, "
                     "States.ArrayGetItem, States.ArrayLength, States.ArrayUnique, "
                     "States.Base64Encode, States.Base64Decode, States.Hash, States.JsonMerge, "
                     "States.MathRandom, States.MathAdd, States.StringSplit, States.UUID at "
                     "character 14"},
        RejectedCase{"States.Format", "expected '(' after States.Format at the end"},
        RejectedCase{"States.Format 'x'", "unexpected \"'\"; expected '(' after States.Format"},
        RejectedCase{"States.Format('x'",
                     "unterminated argument list of States.Format (missing "
                     "')') at character 14"},
        RejectedCase{"States.Format('x', ", "expected an argument at the end"},
        RejectedCase{"States.Format('x)",
                     "unterminated string literal (missing closing \"'\"; "
                     "write \\' for a quote inside the string) at character "
                     "15"},
        RejectedCase{"States.Format('x\\')", "unterminated string literal"},
        RejectedCase{"States.Array(1,)", "missing argument; an argument is a string literal"},
        RejectedCase{"States.Array(,1)", "missing argument"},
        RejectedCase{"States.Array(1 2)",
                     "unexpected '2' after an argument of States.Array; "
                     "expected ',' or ')' at character 16"},
        RejectedCase{"States.Array(1) x", "unexpected 'x' after the call's closing ')'"},
        RejectedCase{"States.Array(1))", "unexpected ')' after the call's closing ')'"},
        RejectedCase{"States.Array(foo)", "unexpected 'foo'; an argument is a string literal"},
        RejectedCase{"States.Array(True)", "unexpected 'True'"},
        RejectedCase{"States.Array(\"x\")",
                     "string literals in intrinsic functions are written "
                     "in single quotes"},
        RejectedCase{"States.Array(01)", "numbers must not have leading zeros"},
        RejectedCase{"States.Array(-01)", "numbers must not have leading zeros"},
        RejectedCase{"States.Array(1.)", "expected a digit after '.'"},
        RejectedCase{"States.Array(1e)", "expected a digit in the number's exponent"},
        RejectedCase{"States.Array(-)", "expected a digit after '-'"},
        RejectedCase{"States.Array(1x)", "unexpected 'x' after an argument of States.Array"},
        RejectedCase{"States.Array(1e999)", "number 1e999 is out of range"},
        RejectedCase{"States.Array($.a b)", "unexpected 'b' after an argument of States.Array"},
        RejectedCase{"States.Array($.)",
                     "expected a field name, '*' or '[' after '.' but found "
                     "')' at character 16"},
        RejectedCase{"States.Array($.a[)", "unexpected ')' after '['"},
        RejectedCase{"States.Array($.a[0)", "unexpected ')'; expected ']', ',' or ':'"},
        RejectedCase{"States.Array($.a..)", "expected a field name, '*' or '[' after '..'"},
        RejectedCase{"States.Array(@.a)", "unexpected '@'"},
        RejectedCase{"States.Array($1)", "unexpected '1' after an argument of States.Array"},
        RejectedCase{"States.ArrayRange(1, 2)",
                     "States.ArrayRange takes 3 arguments, got 2 at "
                     "character 1"},
        RejectedCase{"States.UUID(1)", "States.UUID takes no arguments, got 1"},
        RejectedCase{"States.Format()", "States.Format takes at least 1 argument, got 0"},
        RejectedCase{"States.MathRandom(1)", "States.MathRandom takes 2 or 3 arguments, got 1"},
        RejectedCase{"States.MathRandom(1, 2, 3, 4)",
                     "States.MathRandom takes 2 or 3 arguments, got 4"},
        RejectedCase{"States.StringToJson()", "States.StringToJson takes 1 argument, got 0"},
        RejectedCase{"States.JsonMerge($.a, $.b)", "States.JsonMerge takes 3 arguments, got 2"},
        RejectedCase{"States.Array(States.MathAdd(1))",
                     "States.MathAdd takes 2 arguments, got 1 at character 14"},
        RejectedCase{"States.Format(1, $.a)",
                     "the first argument of States.Format must be a "
                     "string literal or a path, got a number"},
        RejectedCase{"States.Format(null)", "must be a string literal or a path, got null"},
        RejectedCase{"States.Format(true)", "must be a string literal or a path, got true"},
        RejectedCase{"States.Format(States.UUID())",
                     "must be a string literal or a path, got a call of States.UUID"}),
    [](const ::testing::TestParamInfo<RejectedCase>& param_info) {
      return "Case" + std::to_string(param_info.index);
    });

struct ArityCase {
  std::string name;
  int min_args;
  int max_args;  // -1: unlimited
  std::string description;
};

void PrintTo(const ArityCase& c, std::ostream* os) { *os << c.name; }

class ArityTest : public ::testing::TestWithParam<ArityCase> {};

std::string CallWith(const std::string& name, int count) {
  std::string text = name + "(";
  for (int i = 0; i < count; ++i) text += (i ? ", '" : "'") + std::to_string(i) + "'";
  return text + ")";
}

TEST_P(ArityTest, AcceptsItsArityAndRejectsOthers) {
  const ArityCase& c = GetParam();
  for (int count = 0; count <= 5; ++count) {
    const std::string text = CallWith(c.name, count);
    StatusOr<IntrinsicCall> call = ParseIntrinsic(text);
    const bool allowed = count >= c.min_args && (c.max_args < 0 || count <= c.max_args);
    if (allowed) {
      ASSERT_TRUE(call.ok()) << text << ": " << call.status();
      EXPECT_EQ(call->name, c.name);
      EXPECT_EQ(call->args.size(), static_cast<size_t>(count));
    } else {
      EXPECT_THAT(call.status(), StatusIs(StatusCode::kInvalidArgument,
                                          HasSubstr(c.name + " " + c.description + ", got " +
                                                    std::to_string(count))))
          << text;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllFunctions, ArityTest,
    ::testing::Values(ArityCase{"States.Format", 1, -1, "takes at least 1 argument"},
                      ArityCase{"States.StringToJson", 1, 1, "takes 1 argument"},
                      ArityCase{"States.JsonToString", 1, 1, "takes 1 argument"},
                      ArityCase{"States.Array", 0, -1, ""},
                      ArityCase{"States.ArrayPartition", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.ArrayContains", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.ArrayRange", 3, 3, "takes 3 arguments"},
                      ArityCase{"States.ArrayGetItem", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.ArrayLength", 1, 1, "takes 1 argument"},
                      ArityCase{"States.ArrayUnique", 1, 1, "takes 1 argument"},
                      ArityCase{"States.Base64Encode", 1, 1, "takes 1 argument"},
                      ArityCase{"States.Base64Decode", 1, 1, "takes 1 argument"},
                      ArityCase{"States.Hash", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.JsonMerge", 3, 3, "takes 3 arguments"},
                      ArityCase{"States.MathRandom", 2, 3, "takes 2 or 3 arguments"},
                      ArityCase{"States.MathAdd", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.StringSplit", 2, 2, "takes 2 arguments"},
                      ArityCase{"States.UUID", 0, 0, "takes no arguments"}),
    [](const ::testing::TestParamInfo<ArityCase>& param_info) {
      return param_info.param.name.substr(std::string("States.").size());
    });

TEST(IntrinsicTest, FunctionNamesRoundTrip) {
  const IntrinsicFunction all[] = {
      IntrinsicFunction::kFormat,         IntrinsicFunction::kStringToJson,
      IntrinsicFunction::kJsonToString,   IntrinsicFunction::kArray,
      IntrinsicFunction::kArrayPartition, IntrinsicFunction::kArrayContains,
      IntrinsicFunction::kArrayRange,     IntrinsicFunction::kArrayGetItem,
      IntrinsicFunction::kArrayLength,    IntrinsicFunction::kArrayUnique,
      IntrinsicFunction::kBase64Encode,   IntrinsicFunction::kBase64Decode,
      IntrinsicFunction::kHash,           IntrinsicFunction::kJsonMerge,
      IntrinsicFunction::kMathRandom,     IntrinsicFunction::kMathAdd,
      IntrinsicFunction::kStringSplit,    IntrinsicFunction::kUuid};
  for (const IntrinsicFunction function : all) {
    const std::string name(IntrinsicFunctionName(function));
    ASSERT_TRUE(name.starts_with("States.")) << name;
    // Every function accepts two arguments except these; give each an arity it accepts.
    const int count =
        function == IntrinsicFunction::kUuid ? 0
        : function == IntrinsicFunction::kArrayRange || function == IntrinsicFunction::kJsonMerge
            ? 3
        : name == "States.StringToJson" || name == "States.JsonToString" ||
                name.starts_with("States.Base64") || name == "States.ArrayLength" ||
                name == "States.ArrayUnique"
            ? 1
            : 2;
    StatusOr<IntrinsicCall> call = ParseIntrinsic(CallWith(name, count));
    ASSERT_TRUE(call.ok()) << name << ": " << call.status();
    EXPECT_EQ(call->function, function) << name;
  }
  EXPECT_EQ(IntrinsicFunctionName(IntrinsicFunction::kUuid), "States.UUID");
  EXPECT_EQ(IntrinsicFunctionName(IntrinsicFunction::kArrayGetItem), "States.ArrayGetItem");
}

TEST(IntrinsicTest, LooksLikeIntrinsic) {
  EXPECT_TRUE(LooksLikeIntrinsic("States.Format('x')"));
  EXPECT_TRUE(LooksLikeIntrinsic(" \n\tStates.UUID()"));
  EXPECT_TRUE(LooksLikeIntrinsic("States.Nope"));  // then rejected by ParseIntrinsic
  EXPECT_FALSE(LooksLikeIntrinsic("$.a"));
  EXPECT_FALSE(LooksLikeIntrinsic("states.Format('x')"));
  EXPECT_FALSE(LooksLikeIntrinsic("State.Format('x')"));
  EXPECT_FALSE(LooksLikeIntrinsic("States"));
  EXPECT_FALSE(LooksLikeIntrinsic(""));
  EXPECT_FALSE(LooksLikeIntrinsic("{% States.Format('x') %}"));
}

struct TemplateCase {
  std::string escaped;
  std::vector<std::string> pieces;
};

void PrintTo(const TemplateCase& c, std::ostream* os) { *os << c.escaped; }

class FormatTemplateTest : public ::testing::TestWithParam<TemplateCase> {};

TEST_P(FormatTemplateTest, SplitsAtPlaceholders) {
  const TemplateCase& c = GetParam();
  const FormatTemplate split = ParseFormatTemplate(c.escaped);
  EXPECT_EQ(split.pieces, c.pieces);
  EXPECT_EQ(split.placeholder_count(), c.pieces.size() - 1);
}

INSTANTIATE_TEST_SUITE_P(
    Templates, FormatTemplateTest,
    ::testing::Values(TemplateCase{"", {""}}, TemplateCase{"{}", {"", ""}},
                      TemplateCase{"a{}b{}", {"a", "b", ""}},
                      TemplateCase{"Hello, {}!", {"Hello, ", "!"}}, TemplateCase{"\\{}", {"{}"}},
                      TemplateCase{"\\{\\}", {"{}"}}, TemplateCase{"{\\}", {"{}"}},
                      TemplateCase{"{ }", {"{ }"}}, TemplateCase{"{{}}", {"{", "}"}},
                      TemplateCase{"\\\\{}", {"\\", ""}}, TemplateCase{"it\\'s {}", {"it's ", ""}},
                      TemplateCase{"a\\nb", {"a\\nb"}}, TemplateCase{"end\\", {"end\\"}},
                      TemplateCase{"{", {"{"}}, TemplateCase{"}{}{", {"}", "{"}}));

// --- Corpus: every intrinsic call in the shared definitions must parse. -------------------------

// ".$" values, skipping Pass states' "Result" (literal data whose ".$" keys mean nothing).
void CollectDollarValues(const json::value& value, std::vector<std::string>* out) {
  if (const json::array* array = value.if_array()) {
    for (const json::value& element : *array) CollectDollarValues(element, out);
    return;
  }
  const json::object* object = value.if_object();
  if (object == nullptr) return;
  const bool is_state = object->contains("Type");
  for (const auto& member : *object) {
    const std::string_view key = member.key();
    if (is_state && key == "Result") continue;
    if (const json::string* s = member.value().if_string()) {
      if (key.ends_with(".$")) out->emplace_back(s->data(), s->size());
    } else {
      CollectDollarValues(member.value(), out);
    }
  }
}

TEST(IntrinsicCorpusTest, EveryIntrinsicInTheSharedDefinitionsParses) {
  HPD_SKIP_WITHOUT_CORPUS(SharedDir());
  size_t parsed = 0;
  for (const auto& file : DefinitionFiles()) {
    const StatusOr<json::value> definition = LoadDefinition(file);
    ASSERT_TRUE(definition.ok()) << file << ": " << definition.status();
    std::vector<std::string> values;
    CollectDollarValues(*definition, &values);
    for (const std::string& text : values) {
      if (!LooksLikeIntrinsic(text)) continue;
      StatusOr<IntrinsicCall> call = ParseIntrinsic(text);
      EXPECT_TRUE(call.ok()) << file << ": " << call.status();
      if (call.ok()) ++parsed;
    }
  }
  // The corpus holds well over a hundred intrinsic calls; a walk that finds few is broken.
  EXPECT_GT(parsed, 100u);
}

}  // namespace
}  // namespace hpd::asl
