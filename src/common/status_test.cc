#include "common/status.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"

namespace hpd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pointee;

TEST(StatusTest, DefaultIsOkAndCarriesNothing) {
  const Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kOk);
  EXPECT_EQ(status.message(), "");
  EXPECT_EQ(status.error_name(), "");
  EXPECT_THAT(status.context(), IsEmpty());
  EXPECT_EQ(status.ToString(), "OK");
  EXPECT_EQ(status, Status::Ok());
}

TEST(StatusTest, NamedSetsTheErrorNameAndKeepsTheRest) {
  Status status = Named(NotFoundError("Parameter /a not found."), "ParameterNotFound");
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_EQ(status.message(), "Parameter /a not found.");
  EXPECT_EQ(status.error_name(), "ParameterNotFound");
}

TEST(StatusTest, OkCodeWithMessageIsPlainOk) {
  const Status status(StatusCode::kOk, "ignored");
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.message(), "");
  EXPECT_EQ(status, Status());
}

TEST(StatusTest, ConstructorsProduceTheirCodes) {
  struct Case {
    Status status;
    StatusCode code;
    std::string_view name;
  };
  const std::vector<Case> cases = {
      {CancelledError("m"), StatusCode::kCancelled, "CANCELLED"},
      {UnknownError("m"), StatusCode::kUnknown, "UNKNOWN"},
      {InvalidArgumentError("m"), StatusCode::kInvalidArgument, "INVALID_ARGUMENT"},
      {DeadlineExceededError("m"), StatusCode::kDeadlineExceeded, "DEADLINE_EXCEEDED"},
      {NotFoundError("m"), StatusCode::kNotFound, "NOT_FOUND"},
      {AlreadyExistsError("m"), StatusCode::kAlreadyExists, "ALREADY_EXISTS"},
      {PermissionDeniedError("m"), StatusCode::kPermissionDenied, "PERMISSION_DENIED"},
      {ResourceExhaustedError("m"), StatusCode::kResourceExhausted, "RESOURCE_EXHAUSTED"},
      {FailedPreconditionError("m"), StatusCode::kFailedPrecondition, "FAILED_PRECONDITION"},
      {AbortedError("m"), StatusCode::kAborted, "ABORTED"},
      {OutOfRangeError("m"), StatusCode::kOutOfRange, "OUT_OF_RANGE"},
      {UnimplementedError("m"), StatusCode::kUnimplemented, "UNIMPLEMENTED"},
      {InternalError("m"), StatusCode::kInternal, "INTERNAL"},
      {UnavailableError("m"), StatusCode::kUnavailable, "UNAVAILABLE"},
      {DataLossError("m"), StatusCode::kDataLoss, "DATA_LOSS"},
      {UnauthenticatedError("m"), StatusCode::kUnauthenticated, "UNAUTHENTICATED"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(StatusCodeName(c.code), c.name);
    EXPECT_EQ(c.status.ToString(), std::string(c.name) + ": m");
  }
  EXPECT_EQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_EQ(StatusCodeName(static_cast<StatusCode>(999)), "UNKNOWN");
}

TEST(StatusTest, ContextIsPrependedOutermostFirst) {
  Status status = NotFoundError("no such state");
  status.AddContext("state Prepare").AddContext("file a.json");
  EXPECT_THAT(status.context(), ElementsAre("file a.json", "state Prepare"));
  EXPECT_EQ(status.message(), "no such state");
  EXPECT_EQ(status.ToString(), "NOT_FOUND: file a.json: state Prepare: no such state");
}

TEST(StatusTest, WithContextCopiesFromLvalueAndMovesFromRvalue) {
  const Status inner = InvalidArgumentError("bad");
  const Status outer = inner.WithContext("request 42");
  EXPECT_THAT(inner.context(), IsEmpty());
  EXPECT_THAT(outer.context(), ElementsAre("request 42"));

  Status moved = InvalidArgumentError("bad");
  const Status result = std::move(moved).WithContext("execution e1").WithContext("api");
  EXPECT_THAT(result.context(), ElementsAre("api", "execution e1"));
}

TEST(StatusTest, ContextAndErrorNameIgnoredOnOk) {
  Status status;
  status.AddContext("x").SetErrorName("States.Runtime");
  EXPECT_TRUE(status.ok());
  EXPECT_THAT(status.context(), IsEmpty());
  EXPECT_EQ(status.error_name(), "");
  EXPECT_TRUE(Status().WithContext("x").ok());
}

TEST(StatusTest, ErrorNameTravelsAsAField) {
  Status status = UnavailableError("throttled");
  status.SetErrorName("ThrottlingException");
  EXPECT_EQ(status.error_name(), "ThrottlingException");
  // The name is a field, not part of the text.
  EXPECT_EQ(status.ToString(), "UNAVAILABLE: throttled");
  const Status with_context = status.WithContext("task Invoke");
  EXPECT_EQ(with_context.error_name(), "ThrottlingException");
}

TEST(StatusTest, CopiesAreIndependent) {
  Status original = InternalError("boom");
  original.SetErrorName("States.Runtime");
  Status copy = original;
  EXPECT_EQ(copy, original);

  copy.AddContext("outer").SetErrorName("States.TaskFailed");
  EXPECT_THAT(original.context(), IsEmpty());
  EXPECT_EQ(original.error_name(), "States.Runtime");
  EXPECT_THAT(copy.context(), ElementsAre("outer"));
  EXPECT_EQ(copy.error_name(), "States.TaskFailed");
  EXPECT_NE(copy, original);

  // Modifying the original after the copy diverged does not touch the copy either.
  original.AddContext("other");
  EXPECT_THAT(copy.context(), ElementsAre("outer"));
}

TEST(StatusTest, CopyOnWriteSharesUntilModified) {
  Status original = InternalError("a message long enough to live on the heap, not in SSO");
  const Status copy = original;
  // Copies share one representation...
  EXPECT_EQ(copy.message().data(), original.message().data());
  // ...until one of them is modified, which then gets its own.
  original.AddContext("ctx");
  EXPECT_NE(copy.message().data(), original.message().data());
  EXPECT_EQ(copy.message(), original.message());
  EXPECT_THAT(copy.context(), IsEmpty());

  // A sole owner is modified in place.
  const char* before = original.message().data();
  original.AddContext("more").SetErrorName("E");
  EXPECT_EQ(original.message().data(), before);
}

TEST(StatusTest, EqualityComparesAllFields) {
  EXPECT_EQ(NotFoundError("a"), NotFoundError("a"));
  EXPECT_NE(NotFoundError("a"), NotFoundError("b"));
  EXPECT_NE(NotFoundError("a"), InternalError("a"));
  EXPECT_NE(NotFoundError("a"), Status());
  EXPECT_NE(NotFoundError("a"), NotFoundError("a").WithContext("c"));
  Status named = NotFoundError("a");
  named.SetErrorName("X");
  EXPECT_NE(named, NotFoundError("a"));
}

TEST(StatusTest, StreamsToString) {
  std::ostringstream os;
  os << AbortedError("stop").WithContext("ctx");
  EXPECT_EQ(os.str(), "ABORTED: ctx: stop");
}

TEST(StatusOrTest, HoldsValue) {
  StatusOr<int> value = 42;
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  EXPECT_EQ(value.value(), 42);
  EXPECT_TRUE(value.status().ok());
  *value = 7;
  EXPECT_EQ(value.value(), 7);
}

TEST(StatusOrTest, HoldsError) {
  StatusOr<int> error = NotFoundError("missing");
  EXPECT_FALSE(error.ok());
  EXPECT_THAT(error, StatusIs(StatusCode::kNotFound, HasSubstr("missing")));
  const Status& as_lvalue = NotFoundError("again");
  StatusOr<int> from_lvalue = as_lvalue;
  EXPECT_THAT(from_lvalue, StatusIs(StatusCode::kNotFound, "again"));
}

TEST(StatusOrTest, ConvertsFromCompatibleTypes) {
  StatusOr<std::string> text = "literal";
  EXPECT_THAT(text, IsOkAndHolds("literal"));
  StatusOr<std::vector<int>> list = std::vector<int>{1, 2};
  EXPECT_THAT(list, IsOkAndHolds(ElementsAre(1, 2)));
}

TEST(StatusOrTest, SupportsMoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> holder = std::make_unique<int>(5);
  ASSERT_TRUE(holder.ok());
  EXPECT_THAT(*holder, Pointee(5));
  std::unique_ptr<int> taken = std::move(holder).value();
  EXPECT_THAT(taken, Pointee(5));
}

TEST(StatusOrTest, ArrowReachesMembers) {
  StatusOr<std::string> text = std::string("abc");
  EXPECT_EQ(text->size(), 3u);
  const StatusOr<std::string>& const_ref = text;
  EXPECT_EQ(const_ref->front(), 'a');
}

TEST(StatusOrTest, ConstructingFromOkStatusIsAnError) {
  // A programmer error: debug builds assert; release builds hold INTERNAL, so ok() and status()
  // never disagree.
  EXPECT_DEBUG_DEATH(
      {
        StatusOr<int> bad = Status();
        EXPECT_FALSE(bad.ok());
        EXPECT_THAT(bad, StatusIs(StatusCode::kInternal, HasSubstr("OK Status")));
        EXPECT_FALSE(bad.status().ok());
      },
      "");
}

Status FailIfNegative(int x) {
  if (x < 0) return InvalidArgumentError("negative");
  return Status::Ok();
}

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("odd");
  return x / 2;
}

Status CheckBoth(int a, int b, int* calls) {
  ++*calls;
  HPD_RETURN_IF_ERROR(FailIfNegative(a));
  ++*calls;
  HPD_RETURN_IF_ERROR(FailIfNegative(b).WithContext("second"));
  ++*calls;
  return Status::Ok();
}

StatusOr<int> Quarter(int x) {
  HPD_ASSIGN_OR_RETURN(const int half, Half(x));
  HPD_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

StatusOr<std::unique_ptr<int>> MakeBox(int x) {
  if (x == 0) return NotFoundError("zero");
  return std::make_unique<int>(x);
}

StatusOr<int> Unbox(int x) {
  std::unique_ptr<int> box;
  HPD_ASSIGN_OR_RETURN(box, MakeBox(x));  // Assigns to an existing variable; moves.
  return *box;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtFirstError) {
  int calls = 0;
  EXPECT_THAT(CheckBoth(1, 2, &calls), IsOk());
  EXPECT_EQ(calls, 3);

  calls = 0;
  EXPECT_THAT(CheckBoth(-1, 2, &calls), StatusIs(StatusCode::kInvalidArgument, "negative"));
  EXPECT_EQ(calls, 1);

  calls = 0;
  const Status second = CheckBoth(1, -2, &calls);
  EXPECT_EQ(calls, 2);
  EXPECT_THAT(second.context(), ElementsAre("second"));
}

TEST(StatusMacrosTest, AssignOrReturn) {
  EXPECT_THAT(Quarter(8), IsOkAndHolds(2));
  EXPECT_THAT(Quarter(7), StatusIs(StatusCode::kInvalidArgument, "odd"));
  EXPECT_THAT(Quarter(6), StatusIs(StatusCode::kInvalidArgument, "odd"));  // 6 -> 3 -> odd.
  EXPECT_THAT(Unbox(9), IsOkAndHolds(9));
  EXPECT_THAT(Unbox(0), StatusIs(StatusCode::kNotFound));
}

TEST(StatusMatchersTest, DescribeMismatches) {
  EXPECT_THAT(NotFoundError("x"), Not(IsOk()));
  EXPECT_THAT(NotFoundError("x"), Not(StatusIs(StatusCode::kInternal)));
  EXPECT_THAT(NotFoundError("x"), Not(StatusIs(StatusCode::kNotFound, "y")));
  EXPECT_THAT(StatusOr<int>(1), Not(IsOkAndHolds(2)));
}

}  // namespace
}  // namespace hpd
