#include "asl/path.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"
#include "support/corpus.h"

namespace hpd::asl {
namespace {

namespace json = boost::json;
using ::hpd::testing::DefinitionFiles;
using ::hpd::testing::LoadDefinition;
using ::hpd::testing::SharedDir;
using ::hpd::StatusIs;
using ::testing::HasSubstr;


// A compact rendering of the compiled segments, e.g. "field(a) index(0) slice(1:5:1)".
std::string Describe(const JsonPath& path) {
  std::string out;
  const auto add = [&out](const std::string& s) {
    if (!out.empty()) out.push_back(' ');
    out.append(s);
  };
  const auto join = [](const auto& items) {
    std::ostringstream os;
    for (size_t i = 0; i < items.size(); ++i) os << (i ? "," : "") << items[i];
    return os.str();
  };
  for (const PathSegment& segment : path.segments()) {
    if (const auto* f = std::get_if<FieldSegment>(&segment)) {
      add("field(" + f->name + ")");
    } else if (const auto* i = std::get_if<IndexSegment>(&segment)) {
      add("index(" + std::to_string(i->index) + ")");
    } else if (std::holds_alternative<WildcardSegment>(segment)) {
      add("wildcard");
    } else if (const auto* s = std::get_if<SliceSegment>(&segment)) {
      add("slice(" + (s->start ? std::to_string(*s->start) : "") + ":" +
          (s->end ? std::to_string(*s->end) : "") + ":" + std::to_string(s->step) + ")");
    } else if (const auto* u = std::get_if<FieldUnionSegment>(&segment)) {
      add("fields(" + join(u->names) + ")");
    } else if (const auto* x = std::get_if<IndexUnionSegment>(&segment)) {
      add("indices(" + join(x->indices) + ")");
    } else if (const auto* q = std::get_if<FilterSegment>(&segment)) {
      add("filter(" + q->text + ")");
    } else if (std::holds_alternative<RecursiveDescentSegment>(segment)) {
      add("descent");
    } else if (const auto* fn = std::get_if<FunctionSegment>(&segment)) {
      add("function(" + fn->name + "|" + fn->arguments + ")");
    }
  }
  return out;
}

struct AcceptedCase {
  std::string text;
  JsonPath::Root root;
  std::string variable;
  std::string segments;
  bool definite;
  bool reference;
};

void PrintTo(const AcceptedCase& c, std::ostream* os) { *os << c.text; }

class AcceptedPathTest : public ::testing::TestWithParam<AcceptedCase> {};

TEST_P(AcceptedPathTest, ParsesToExpectedSegments) {
  const AcceptedCase& c = GetParam();
  StatusOr<JsonPath> path = ParseJsonPath(c.text);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->text(), c.text);
  EXPECT_EQ(path->root(), c.root);
  EXPECT_EQ(path->variable_name(), c.variable);
  EXPECT_EQ(Describe(*path), c.segments);
  EXPECT_EQ(path->IsDefinite(), c.definite);
  EXPECT_EQ(path->IsReferencePath(), c.reference);
  EXPECT_EQ(ParseReferencePath(c.text).ok(), c.reference);
}

constexpr auto kIn = JsonPath::Root::kInput;
constexpr auto kCtx = JsonPath::Root::kContext;
constexpr auto kVar = JsonPath::Root::kVariable;

INSTANTIATE_TEST_SUITE_P(
    Forms, AcceptedPathTest,
    ::testing::Values(
        AcceptedCase{"$", kIn, "", "", true, true},
        AcceptedCase{"$.a.b", kIn, "", "field(a) field(b)", true, true},
        AcceptedCase{"$['a b']", kIn, "", "field(a b)", true, true},
        AcceptedCase{"$[\"x\"]", kIn, "", "field(x)", true, true},
        AcceptedCase{"$['']", kIn, "", "field()", true, true},
        AcceptedCase{"$[ 'a' ]", kIn, "", "field(a)", true, true},
        AcceptedCase{"$.abc.['def ghi']", kIn, "", "field(abc) field(def ghi)", true, true},
        AcceptedCase{"$['a.b[c]']", kIn, "", "field(a.b[c])", true, true},
        AcceptedCase{"$.a[0]", kIn, "", "field(a) index(0)", true, true},
        AcceptedCase{"$[0]", kIn, "", "index(0)", true, true},
        AcceptedCase{"$.a[0][12]", kIn, "", "field(a) index(0) index(12)", true, true},
        AcceptedCase{"$.a[-1]", kIn, "", "field(a) index(-1)", true, false},
        AcceptedCase{"$.a[*]", kIn, "", "field(a) wildcard", false, false},
        AcceptedCase{"$.a[ * ]", kIn, "", "field(a) wildcard", false, false},
        AcceptedCase{"$.*", kIn, "", "wildcard", false, false},
        AcceptedCase{"$[*].x", kIn, "", "wildcard field(x)", false, false},
        AcceptedCase{"$.a[1:5]", kIn, "", "field(a) slice(1:5:1)", false, false},
        AcceptedCase{"$.a[1:]", kIn, "", "field(a) slice(1::1)", false, false},
        AcceptedCase{"$.a[:2]", kIn, "", "field(a) slice(:2:1)", false, false},
        AcceptedCase{"$.a[::2]", kIn, "", "field(a) slice(::2)", false, false},
        AcceptedCase{"$.a[-2:]", kIn, "", "field(a) slice(-2::1)", false, false},
        AcceptedCase{"$.a[::-1]", kIn, "", "field(a) slice(::-1)", false, false},
        AcceptedCase{"$.a[ 1 : 5 : 2 ]", kIn, "", "field(a) slice(1:5:2)", false, false},
        AcceptedCase{"$.a[0,2]", kIn, "", "field(a) indices(0,2)", false, false},
        AcceptedCase{"$.a[ 0 , -2 ]", kIn, "", "field(a) indices(0,-2)", false, false},
        AcceptedCase{"$.a['x','y']", kIn, "", "field(a) fields(x,y)", false, false},
        AcceptedCase{"$.a['x', \"y\"]", kIn, "", "field(a) fields(x,y)", false, false},
        AcceptedCase{"$..name", kIn, "", "descent field(name)", false, false},
        AcceptedCase{"$..*", kIn, "", "descent wildcard", false, false},
        AcceptedCase{"$..[0]", kIn, "", "descent index(0)", false, false},
        AcceptedCase{"$..['a','b']", kIn, "", "descent fields(a,b)", false, false},
        AcceptedCase{"$.a..b.c", kIn, "", "field(a) descent field(b) field(c)", false, false},
        AcceptedCase{"$.a[?(@.price < 10)]", kIn, "", "field(a) filter(?(@.price < 10))", false,
                     false},
        AcceptedCase{"$.a[?(@.x == 'v' && @.y)]", kIn, "", "field(a) filter(?(@.x == 'v' && @.y))",
                     false, false},
        AcceptedCase{"$.a[?(@.x != null || !(@.y > 1))]", kIn, "",
                     "field(a) filter(?(@.x != null || !(@.y > 1)))", false, false},
        AcceptedCase{"$.a[?(@.len >= 2)]", kIn, "", "field(a) filter(?(@.len >= 2))", false, false},
        AcceptedCase{"$.a[?(@.price<10)]", kIn, "", "field(a) filter(?(@.price<10))", false, false},
        AcceptedCase{"$[ ?( @['x y'] == \"q\" ) ]", kIn, "", "filter(?( @['x y'] == \"q\" ))",
                     false, false},
        AcceptedCase{"$.a[?(@.b[0].c <= -1.5e2 && @.d == true && @.e != false)]", kIn, "",
                     "field(a) filter(?(@.b[0].c <= -1.5e2 && @.d == true && @.e != false))", false,
                     false},
        AcceptedCase{"$.a[?(@ > 1)]", kIn, "", "field(a) filter(?(@ > 1))", false, false},
        AcceptedCase{"$.a[?(!@.x)]", kIn, "", "field(a) filter(?(!@.x))", false, false},
        AcceptedCase{"$.a[?(@.b[?(@.c)])]", kIn, "", "field(a) filter(?(@.b[?(@.c)]))", false,
                     false},
        AcceptedCase{"$.a[?('v' == @.x)]", kIn, "", "field(a) filter(?('v' == @.x))", false, false},
        AcceptedCase{"$.users[?(@.status == 0)]", kIn, "", "field(users) filter(?(@.status == 0))",
                     false, false},
        AcceptedCase{"$$", kCtx, "", "", true, true},
        AcceptedCase{"$$.Execution.Id", kCtx, "", "field(Execution) field(Id)", true, true},
        AcceptedCase{"$$.Map.Item.Value", kCtx, "", "field(Map) field(Item) field(Value)", true,
                     true},
        AcceptedCase{"$$['Execution']", kCtx, "", "field(Execution)", true, true},
        AcceptedCase{"$myVar", kVar, "myVar", "", true, true},
        AcceptedCase{"$myVar.field[0]", kVar, "myVar", "field(field) index(0)", true, true},
        AcceptedCase{"$_x1['y']", kVar, "_x1", "field(y)", true, true},
        AcceptedCase{"$caf\xc3\xa9", kVar, "caf\xc3\xa9", "", true, true},
        AcceptedCase{"$.input-value", kIn, "", "field(input-value)", true, true},
        AcceptedCase{"$.a:b", kIn, "", "field(a:b)", true, true},
        AcceptedCase{"$.na\xc3\xafve.\xe6\x97\xa5\xe6\x9c\xac", kIn, "",
                     "field(na\xc3\xafve) field(\xe6\x97\xa5\xe6\x9c\xac)", true, true},
        AcceptedCase{"$.a*b", kIn, "", "field(a*b)", true, true},
        AcceptedCase{"$['Test\\\"\"Name\"']", kIn, "", "field(Test\\\"\"Name\")", true, true},
        AcceptedCase{"$['it\\'s']", kIn, "", "field(it\\'s)", true, true},
        AcceptedCase{"$.a.length()", kIn, "", "field(a) function(length|)", true, false},
        AcceptedCase{"$.a.sum($.b, 'x)')", kIn, "", "field(a) function(sum|$.b, 'x)')", true,
                     false}));

struct RejectedCase {
  std::string text;
  std::string message;
};

void PrintTo(const RejectedCase& c, std::ostream* os) { *os << c.text; }

class RejectedPathTest : public ::testing::TestWithParam<RejectedCase> {};

TEST_P(RejectedPathTest, FailsWithMessage) {
  const RejectedCase& c = GetParam();
  StatusOr<JsonPath> path = ParseJsonPath(c.text);
  EXPECT_THAT(path.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)));
  // Every message names the path.
  EXPECT_THAT(std::string(path.status().message()), HasSubstr("invalid JSONPath '" + c.text));
  EXPECT_THAT(ParseReferencePath(c.text).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)));
}

INSTANTIATE_TEST_SUITE_P(
    Forms, RejectedPathTest,
    ::testing::Values(
        RejectedCase{"", "the path is empty"},
        RejectedCase{"a.b",
                     "a path must start with '$' (or '$$' for the context object, "
                     "'$name' for a variable) at character 1"},
        RejectedCase{".a", "must start with '$'"}, RejectedCase{"@.a", "must start with '$'"},
        RejectedCase{" $.a", "unexpected whitespace; a path starts with '$' at character 1"},
        RejectedCase{"$.a ", "whitespace is not allowed in a path"},
        RejectedCase{"$.a b", "whitespace is not allowed in a path; use bracket notation"},
        RejectedCase{"$. a", "whitespace after '.'"},
        RejectedCase{"$.", "a path must not end with '.' at character 2"},
        RejectedCase{"$.a.", "a path must not end with '.' at character 4"},
        RejectedCase{"$..", "a path must not end with '..' at character 2"},
        RejectedCase{"$.a..", "a path must not end with '..'"},
        RejectedCase{"$...a", "unexpected '.' after '..' at character 4"},
        RejectedCase{"$.a...b", "unexpected '.' after '..'"},
        RejectedCase{"$.a[", "unterminated '[' at character 4"},
        RejectedCase{"$.a[0", "unterminated '['"}, RejectedCase{"$.a[0:", "unterminated '['"},
        RejectedCase{"$.a['x", "unterminated quoted name (missing closing ') at character 5"},
        RejectedCase{"$.a[\"x']", "unterminated quoted name (missing closing \")"},
        RejectedCase{"$.a['x'", "unterminated '['"},
        RejectedCase{"$.a['x\\']", "unterminated quoted name"},
        RejectedCase{"$.a[abc]", "unexpected 'a' after '['; expected a quoted name"},
        RejectedCase{"$.a[]", "empty brackets '[]'"},
        RejectedCase{"$.a[0]x",
                     "unexpected 'x'; expected '.', '[' or the end of the path at "
                     "character 7"},
        RejectedCase{"$.*x", "unexpected 'x'; expected '.', '['"},
        RejectedCase{"$['a''b']", "after a quoted name; expected ',' or ']'"},
        RejectedCase{"$['a',]", "expected a quoted name after ','"},
        RejectedCase{"$.a[1 2]", "unexpected '2'; expected ']', ',' or ':' after the index"},
        RejectedCase{"$.a[0,]", "expected a digit but found ']'"},
        RejectedCase{"$.a[-]", "expected a digit but found ']'"},
        RejectedCase{"$.a[1:2:0]", "slice step must not be 0"},
        RejectedCase{"$.a[1:2:3:4]", "']' to end the slice"},
        RejectedCase{"$.a[*x]", "expected ']' after '[*'"},
        RejectedCase{"$.a[99999999999999999999]", "index 99999999999999999999 is out of range"},
        RejectedCase{"$1", "after '$'; expected '.', '[', '$' (context object) or a variable name"},
        RejectedCase{"$$x", "after '$$'; expected '.' or '['"}, RejectedCase{"$$$", "after '$$'"},
        RejectedCase{"$my-var", "after variable name '$my'"},
        RejectedCase{"$.a.length(", "unterminated '(' of function call 'length()'"},
        RejectedCase{"$.a[?@.x]", "expected '(' after '?'"},
        RejectedCase{"$.a[?(@.x)", "unterminated '['"},
        RejectedCase{"$.a[?(@.x", "unterminated filter '[?('"},
        RejectedCase{"$.a[?(@.x)x]", "expected ']' after the filter's ')'"},
        RejectedCase{"$.a[?(@.x = 1)]", "use '==' to compare, not '='"},
        RejectedCase{"$.a[?(@.x =~ /a/)]", "regular expression filters (=~) are not supported"},
        RejectedCase{"$.a[?(@.x === 1)]", "operator '===' is not supported"},
        RejectedCase{"$.a[?(@.x in ['a'])]", "operator 'in' is not supported by Step Functions"},
        RejectedCase{"$.a[?(@.x subsetof ['a'])]", "operator 'subsetof' is not supported"},
        RejectedCase{"$.a[?(@.x == $.y)]", "Step Functions does not support referring to '$'"},
        RejectedCase{"$.a[?(1)]", "a literal alone is not a condition"},
        RejectedCase{"$.a[?(@.x == )]", "unexpected ')' in filter; expected '@', a number"},
        RejectedCase{"$.a[?(@.x && )]", "unexpected ')' in filter; expected '@'"},
        RejectedCase{"$.a[?()]", "unexpected ')' in filter"},
        RejectedCase{"$.a[?((@.x)]", "unexpected ']' in filter; expected '&&', '||'"},
        RejectedCase{"$.a[?(@.x == 'v)]", "unterminated string in filter"},
        RejectedCase{"$.a[?(@.x == 1 foo)]",
                     "unexpected 'f' in filter; expected '&&', '||', a "
                     "comparison operator"},
        RejectedCase{"$.a[?(@.x == -)]", "expected a digit after '-'"},
        RejectedCase{"$.a[?(@.x == 1.)]", "expected a digit after '.'"},
        RejectedCase{"$.a[?(@.x == yes)]", "unexpected 'y' in filter"},
        RejectedCase{"$.a[?(@.x == /re/)]", "regular expressions are not supported"},
        RejectedCase{"$.a[?(@.== 1)]", "expected a field name, '*' or '[' after '.' but found '='"},
        RejectedCase{"$.a[?(@. == 1)]", "whitespace after '.'"}),
    [](const ::testing::TestParamInfo<RejectedCase>& param_info) {
      return "Case" + std::to_string(param_info.index);
    });

// Jayway (and so Step Functions) reads everything up to '.', '[', '(' or a space as a field name.
TEST(JsonPathTest, FieldNamesAfterDotTakeAnyOtherCharacter) {
  for (const std::string text : {"$.a]", "$.a'b", "$.a\"", "$.a,b", "$.a)", "$.a?", "$.a@b"}) {
    StatusOr<JsonPath> path = ParseJsonPath(text);
    ASSERT_TRUE(path.ok()) << text << ": " << path.status();
    ASSERT_EQ(path->segments().size(), 1u);
    EXPECT_EQ(std::get<FieldSegment>(path->segments()[0]).name, text.substr(2));
  }
}

TEST(JsonPathTest, ErrorQuotesLongPathsShortened) {
  const std::string text = "$." + std::string(300, 'a') + " ";
  const Status status = ParseJsonPath(text).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument, HasSubstr("...': whitespace")));
  EXPECT_LT(status.message().size(), 300u);
}

TEST(JsonPathTest, DeeplyNestedFiltersAreRejectedNotOverflowed) {
  std::string text = "$";
  for (int i = 0; i < 100; ++i) text += "[?(@";
  for (int i = 0; i < 100; ++i) text += ")]";
  EXPECT_THAT(ParseJsonPath(text).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nested too deeply")));
  std::string parens = "$[?(" + std::string(100, '(') + "@.x" + std::string(100, ')') + ")]";
  EXPECT_THAT(ParseJsonPath(parens).status(),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("nested too deeply")));
}

TEST(JsonPathTest, DefaultIsRoot) {
  const JsonPath path;
  EXPECT_EQ(path.text(), "$");
  EXPECT_EQ(path.root(), JsonPath::Root::kInput);
  EXPECT_TRUE(path.segments().empty());
  EXPECT_TRUE(path.IsDefinite());
  EXPECT_TRUE(path.IsReferencePath());
}

struct ReferenceRejection {
  std::string text;
  std::string message;
};

void PrintTo(const ReferenceRejection& c, std::ostream* os) { *os << c.text; }

class ReferencePathTest : public ::testing::TestWithParam<ReferenceRejection> {};

TEST_P(ReferencePathTest, SaysWhichSegmentIsNotAllowed) {
  const ReferenceRejection& c = GetParam();
  ASSERT_TRUE(ParseJsonPath(c.text).ok());
  const Status status = ParseReferencePath(c.text).status();
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.message)));
  EXPECT_THAT(status, StatusIs(StatusCode::kInvalidArgument,
                               HasSubstr("a reference path may only contain field names")));
}

INSTANTIATE_TEST_SUITE_P(
    Segments, ReferencePathTest,
    ::testing::Values(ReferenceRejection{"$.a[*]",
                                         "'$.a[*]' is not a reference path: wildcard '[*]' at "
                                         "character 4 is not allowed"},
                      ReferenceRejection{"$.*", "wildcard '*' at character 3"},
                      ReferenceRejection{"$.a[-1]", "negative index at character 4"},
                      ReferenceRejection{"$..a", "recursive descent '..' at character 2"},
                      ReferenceRejection{"$.a[0:1]", "slice at character 4"},
                      ReferenceRejection{"$.a[0,1]", "union of indices at character 4"},
                      ReferenceRejection{"$['a','b']", "union of names at character 2"},
                      ReferenceRejection{"$.a[?(@.x)]", "filter expression at character 4"},
                      ReferenceRejection{"$.a.length()", "function call at character 5"},
                      ReferenceRejection{"$.a[0][*].b[-1]", "wildcard '[*]' at character 7"}));

// --- Select -------------------------------------------------------------------------------------

constexpr const char* kDocument = R"({
  "store": {
    "book": [
      {"category": "reference", "author": "Nigel Rees", "title": "Sayings", "price": 8.95},
      {"category": "fiction", "author": "Evelyn Waugh", "title": "Sword", "price": 12.99},
      {"category": "fiction", "author": "Herman Melville", "title": "Moby Dick",
       "isbn": "0-553", "price": 8.99},
      {"category": "fiction", "author": "J. R. R. Tolkien", "title": "LOTR",
       "isbn": "0-395", "price": 22.99}
    ],
    "bicycle": {"color": "red", "price": 19.95}
  },
  "nums": [0, 1, 2, 3, 4, 5],
  "a b": 1,
  "input-value": "iv",
  "Test\\\"\"Name\"": "escaped",
  "mixed": [1, "1", true, null, {"x": 1}, {"x": "1"}, {"y": 2}, [1], {"x": 1.0}],
  "nested": {"a": {"a": {"b": 1}}, "b": 2},
  "big": [9223372036854775807, 18446744073709551615, -1]
})";

struct SelectCase {
  std::string path;
  std::string expected;  // JSON array of the matches, in order
};

void PrintTo(const SelectCase& c, std::ostream* os) { *os << c.path; }

class SelectTest : public ::testing::TestWithParam<SelectCase> {};

TEST_P(SelectTest, ReturnsMatchesInOrder) {
  const SelectCase& c = GetParam();
  const json::value document = json::parse(kDocument);
  StatusOr<JsonPath> path = ParseJsonPath(c.path);
  ASSERT_TRUE(path.ok()) << path.status();
  const std::vector<const json::value*> matches = path->Select(document);
  json::array actual;
  for (const json::value* match : matches) actual.push_back(*match);
  EXPECT_EQ(json::serialize(actual), json::serialize(json::parse(c.expected))) << c.path;
  const json::value* first = path->Find(document);
  if (matches.empty()) {
    EXPECT_EQ(first, nullptr);
  } else {
    EXPECT_EQ(first, matches.front());
  }
}

INSTANTIATE_TEST_SUITE_P(
    Document, SelectTest,
    ::testing::Values(
        SelectCase{"$.store.bicycle.color", R"(["red"])"},
        SelectCase{"$['store']['bicycle']['price']", R"([19.95])"}, SelectCase{"$.missing", "[]"},
        SelectCase{"$.store.missing.deeper", "[]"}, SelectCase{"$['a b']", "[1]"},
        SelectCase{"$.input-value", R"(["iv"])"},
        SelectCase{"$['Test\\\"\"Name\"']", R"(["escaped"])"}, SelectCase{"$.nums[0]", "[0]"},
        SelectCase{"$.nums[5]", "[5]"}, SelectCase{"$.nums[6]", "[]"},
        SelectCase{"$.nums[-1]", "[5]"}, SelectCase{"$.nums[-6]", "[0]"},
        SelectCase{"$.nums[-7]", "[]"}, SelectCase{"$.nums.x", "[]"},
        SelectCase{"$.store[0]", "[]"}, SelectCase{"$.nums[0].x", "[]"},
        SelectCase{"$.nums[1:3]", "[1,2]"}, SelectCase{"$.nums[4:]", "[4,5]"},
        SelectCase{"$.nums[:2]", "[0,1]"}, SelectCase{"$.nums[:]", "[0,1,2,3,4,5]"},
        SelectCase{"$.nums[::2]", "[0,2,4]"}, SelectCase{"$.nums[1::2]", "[1,3,5]"},
        SelectCase{"$.nums[1:100:3]", "[1,4]"}, SelectCase{"$.nums[-2:]", "[4,5]"},
        SelectCase{"$.nums[:-4]", "[0,1]"}, SelectCase{"$.nums[-100:2]", "[0,1]"},
        SelectCase{"$.nums[10:]", "[]"}, SelectCase{"$.nums[3:1]", "[]"},
        SelectCase{"$.nums[::-1]", "[5,4,3,2,1,0]"}, SelectCase{"$.nums[4:1:-2]", "[4,2]"},
        SelectCase{"$.nums[-1:-3:-1]", "[5,4]"}, SelectCase{"$.nums[100:-100:-3]", "[5,2]"},
        SelectCase{"$.nums[::-9223372036854775808]", "[5]"},
        SelectCase{"$.nums[0::9223372036854775807]", "[0]"}, SelectCase{"$.store[1:2]", "[]"},
        SelectCase{"$.nums[0,2,-1,9,0]", "[0,2,5,0]"},
        SelectCase{"$.store.bicycle['price','color','nope']", R"([19.95,"red"])"},
        SelectCase{"$.store.bicycle.*", R"(["red",19.95])"},
        SelectCase{"$.store.bicycle[*]", R"(["red",19.95])"},
        SelectCase{"$.nums[*]", "[0,1,2,3,4,5]"}, SelectCase{"$.nums[0].*", "[]"},
        SelectCase{"$.store.book[*].author",
                   R"(["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"])"},
        SelectCase{"$..author",
                   R"(["Nigel Rees","Evelyn Waugh","Herman Melville","J. R. R. Tolkien"])"},
        SelectCase{"$..price", "[8.95,12.99,8.99,22.99,19.95]"},
        SelectCase{"$.store..isbn", R"(["0-553","0-395"])"}, SelectCase{"$.nested..b", "[2,1]"},
        SelectCase{"$.nested..*", R"([{"a":{"b":1}},2,{"b":1},1])"},
        SelectCase{"$.nested..a.b", "[1]"}, SelectCase{"$.mixed..[0]", "[1,1]"},
        SelectCase{"$.nums..*", "[0,1,2,3,4,5]"},
        SelectCase{"$.store.book[?(@.price < 10)].title", R"(["Sayings","Moby Dick"])"},
        SelectCase{"$.store.book[?(@.isbn)].title", R"(["Moby Dick","LOTR"])"},
        SelectCase{"$.store.book[?(!(@.isbn))].title", R"(["Sayings","Sword"])"},
        SelectCase{"$.store.book[?(!@.isbn)].title", R"(["Sayings","Sword"])"},
        SelectCase{"$.store.book[?(@.category == 'fiction' && @.price > 20)].title", R"(["LOTR"])"},
        SelectCase{"$.store.book[?(@.category != 'fiction' || @.price >= 22.99)].title",
                   R"(["Sayings","LOTR"])"},
        SelectCase{"$.store.book[?((@.price < 9 || @.price > 20) && @.isbn)].title",
                   R"(["Moby Dick","LOTR"])"},
        SelectCase{"$.store.book[?(@.author == \"Evelyn Waugh\")].price", "[12.99]"},
        SelectCase{"$.store.book[?(@.title <= 'Moby Dick')].title", R"(["Moby Dick","LOTR"])"},
        SelectCase{"$.store.book[?(10 > @.price)].title", R"(["Sayings","Moby Dick"])"},
        SelectCase{"$.mixed[?(@.x == 1)]", R"([{"x":1},{"x":1.0}])"},
        SelectCase{"$.mixed[?(@.x != 1)]", R"([{"x":"1"},{"y":2}])"},
        SelectCase{"$.mixed[?(@.x < '2')]", R"([{"x":"1"}])"},
        SelectCase{"$.mixed[?(@.x > true)]", "[]"}, SelectCase{"$.mixed[?(@ == 1)]", "[]"},
        SelectCase{"$.mixed[?(@)]", R"([{"x":1},{"x":"1"},{"y":2},{"x":1.0}])"},
        SelectCase{"$.mixed[?(@.x == null)]", "[]"},
        SelectCase{"$.mixed[?(@.y == @.y)]", R"([{"y":2}])"},
        SelectCase{"$.store.bicycle[?(@.color == 'red')]", R"([{"color":"red","price":19.95}])"},
        SelectCase{"$.store.bicycle[?(@.color == 'blue')]", "[]"},
        SelectCase{"$.nums[?(@ > 1)]", "[]"},
        SelectCase{"$..[?(@.price > 20)].title", R"(["LOTR"])"},
        SelectCase{"$.store..[?(@.price > 19)]",
                   R"([{"category":"fiction","author":"J. R. R. Tolkien","title":"LOTR",
                       "isbn":"0-395","price":22.99},{"color":"red","price":19.95}])"},
        SelectCase{"$[?(@.store.book[?(@.isbn)])]['a b']", "[1]"},
        SelectCase{"$[?(@.store.book[*].isbn == '0-553')]['a b']", "[]"},
        SelectCase{"$[?(@.store.book[*].isbn != '0-553')]['a b']", "[1]"},
        SelectCase{"$.big[?(@ > 1)]", "[]"}, SelectCase{"$.store.book.length()", "[]"},
        SelectCase{"$.nums.length()", "[]"}));

TEST(SelectBehaviorTest, RootReturnsTheDocumentItself) {
  const json::value document = json::parse(kDocument);
  StatusOr<JsonPath> path = ParseJsonPath("$");
  ASSERT_TRUE(path.ok());
  const std::vector<const json::value*> matches = path->Select(document);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0], &document);
}

TEST(SelectBehaviorTest, DefinitePathFindsTheNodeInPlace) {
  const json::value document = json::parse(kDocument);
  StatusOr<JsonPath> path = ParseJsonPath("$.store.book[2]['isbn']");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->Find(document), &document.at("store").at("book").at(2).at("isbn"));
}

TEST(SelectBehaviorTest, FiltersCompareLargeIntegersExactly) {
  const json::value document = json::parse(R"({"v": [
    {"n": 9223372036854775807}, {"n": 18446744073709551615}, {"n": -1}, {"n": 0.5}]})");
  const auto select = [&document](std::string_view text) {
    StatusOr<JsonPath> path = ParseJsonPath(text);
    EXPECT_TRUE(path.ok()) << path.status();
    json::array out;
    for (const json::value* match : path->Select(document)) out.push_back(match->at("n"));
    return json::serialize(out);
  };
  EXPECT_EQ(select("$.v[?(@.n > 9223372036854775806)]"),
            "[9223372036854775807,18446744073709551615]");
  EXPECT_EQ(select("$.v[?(@.n < 0)]"), "[-1]");
  EXPECT_EQ(select("$.v[?(@.n == 0.5)]"), "[5E-1]");
  EXPECT_EQ(select("$.v[?(@.n >= -1)]"), "[9223372036854775807,18446744073709551615,-1,5E-1]");
}

TEST(SelectBehaviorTest, ContextAndVariableRootsEvaluateAgainstTheGivenValue) {
  const json::value context = json::parse(R"({"Execution": {"Id": "arn:x"}, "Map": {"Item":
      {"Index": 3, "Value": {"k": "v"}}}})");
  const json::value variable = json::parse(R"({"field": [7, 8]})");
  StatusOr<JsonPath> id = ParseJsonPath("$$.Execution.Id");
  StatusOr<JsonPath> value = ParseJsonPath("$$.Map.Item.Value.k");
  StatusOr<JsonPath> var = ParseJsonPath("$myVar.field[1]");
  ASSERT_TRUE(id.ok() && value.ok() && var.ok());
  ASSERT_NE(id->Find(context), nullptr);
  EXPECT_EQ(id->Find(context)->as_string(), "arn:x");
  EXPECT_EQ(value->Find(context)->as_string(), "v");
  EXPECT_EQ(var->Find(variable)->as_int64(), 8);
}

TEST(SelectBehaviorTest, CopiedPathsShareNothingMutable) {
  StatusOr<JsonPath> path = ParseJsonPath("$.store.book[?(@.price < 10)].title");
  ASSERT_TRUE(path.ok());
  const JsonPath copy = *path;
  path = ParseJsonPath("$");
  const json::value document = json::parse(kDocument);
  EXPECT_EQ(copy.Select(document).size(), 2u);
}

TEST(SelectBehaviorTest, DeepDocumentsDoNotOverflowTheStack) {
  json::value document = json::object();
  json::value* current = &document;
  for (int i = 0; i < 100000; ++i) {
    current = &current->as_object()["a"];
    *current = json::object();
  }
  (*current).as_object()["leaf"] = 1;
  StatusOr<JsonPath> path = ParseJsonPath("$..leaf");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path->Select(document).size(), 1u);
  // Tear down iteratively: boost::json destroys nested values recursively.
  while (document.is_object() && document.as_object().contains("a")) {
    json::value child = std::move(document.as_object()["a"]);
    document = std::move(child);
  }
}

// --- Corpus: every path in the shared conformance cases and bench workloads must parse. ---------

bool IsPathField(std::string_view key) { return key.ends_with("Path") || key == "Variable"; }

// Collects (key, value) for every ".$" member and Path field, skipping Pass states' "Result"
// (literal data, whose ".$" keys are not paths).
void CollectPathValues(const json::value& value,
                       std::vector<std::pair<std::string, std::string>>* out) {
  if (const json::array* array = value.if_array()) {
    for (const json::value& element : *array) CollectPathValues(element, out);
    return;
  }
  const json::object* object = value.if_object();
  if (object == nullptr) return;
  const bool is_state = object->contains("Type");
  for (const auto& member : *object) {
    const std::string_view key = member.key();
    if (is_state && key == "Result") continue;
    if (const json::string* s = member.value().if_string()) {
      if (key.ends_with(".$") || IsPathField(key))
        out->emplace_back(key, std::string(s->data(), s->size()));
    } else {
      CollectPathValues(member.value(), out);
    }
  }
}

TEST(CorpusTest, EveryPathInTheSharedDefinitionsParses) {
  HPD_SKIP_WITHOUT_CORPUS(SharedDir());
  size_t parsed = 0;
  size_t indefinite = 0;
  for (const auto& file : DefinitionFiles()) {
    const StatusOr<json::value> definition = LoadDefinition(file);
    ASSERT_TRUE(definition.ok()) << file << ": " << definition.status();
    std::vector<std::pair<std::string, std::string>> values;
    CollectPathValues(*definition, &values);
    for (const auto& [key, text] : values) {
      if (text.starts_with("States.") || text.starts_with("{%")) continue;
      StatusOr<JsonPath> path = ParseJsonPath(text);
      EXPECT_TRUE(path.ok()) << file << ": " << key << ": " << path.status();
      if (path.ok()) {
        ++parsed;
        if (!path->IsDefinite()) ++indefinite;
      }
    }
  }
  // The corpus holds several hundred path values; a walk that finds few is broken.
  EXPECT_GT(parsed, 300u);
  EXPECT_GT(indefinite, 3u);
}

}  // namespace
}  // namespace hpd::asl
