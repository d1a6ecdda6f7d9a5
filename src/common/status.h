// Status and StatusOr<T>: the one error model used across module boundaries.
//
// A Status is either OK or carries a canonical code, a message and a chain of context strings
// added as the error travels up ("state Prepare", "file a.json"). Machine-readable facts that
// callers branch on (an AWS error name, an HTTP status) travel as fields, not inside the text.
//
// Status is a value type: cheap to copy when OK (no allocation), thread-compatible.
#ifndef HPD_COMMON_STATUS_H_
#define HPD_COMMON_STATUS_H_

#include <cassert>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace hpd {

// Canonical codes, numbered as in google.rpc.Code / absl::StatusCode.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// "INVALID_ARGUMENT", "NOT_FOUND", ...
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message without context.
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  // Outermost context first, e.g. {"file a.json", "state Prepare"}.
  const std::vector<std::string>& context() const;

  // An error name a caller may branch on (e.g. "States.Runtime", "ThrottlingException").
  std::string_view error_name() const { return rep_ ? std::string_view(rep_->error_name) : ""; }
  Status& SetErrorName(std::string name);

  // Prepends context; no effect on an OK status. Returns *this for chaining.
  Status& AddContext(std::string context);
  // Copy with context prepended, for `return status.WithContext("...")`.
  Status WithContext(std::string context) const&;
  Status WithContext(std::string context) &&;

  // "NOT_FOUND: file a.json: state Prepare: no such thing", or "OK".
  std::string ToString() const;

  // Marks a deliberately ignored status.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b);

 private:
  struct Rep {
    StatusCode code;
    std::string message;
    std::string error_name;
    std::vector<std::string> context;
  };
  Rep& MutableRep();
  std::shared_ptr<const Rep> rep_;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

// `status` with its error name set, for `return Named(NotFoundError("..."), "ParameterNotFound");`.
Status Named(Status status, std::string error_name);

Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

// Either a T or a non-OK Status. Accessing value() of an error is a programmer error (asserts).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // Constructing from an OK Status is a programmer error: it asserts, and in release builds the
  // StatusOr holds an INTERNAL error instead so that ok() and status() never disagree.
  StatusOr(const Status& status)  // NOLINT
      : data_(std::in_place_index<0>, ErrorOrInternal(status)) {}
  StatusOr(Status&& status)  // NOLINT
      : data_(std::in_place_index<0>, ErrorOrInternal(std::move(status))) {}
  StatusOr(const T& value) : data_(std::in_place_index<1>, value) {}        // NOLINT
  StatusOr(T&& value) : data_(std::in_place_index<1>, std::move(value)) {}  // NOLINT
  template <typename U>
    requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, T> &&
             !std::is_same_v<std::decay_t<U>, Status> && !std::is_same_v<std::decay_t<U>, StatusOr>)
  StatusOr(U&& value) : data_(std::in_place_index<1>, std::forward<U>(value)) {}  // NOLINT

  bool ok() const { return data_.index() == 1; }
  Status status() const { return ok() ? Status() : std::get<0>(data_); }

  const T& value() const& {
    assert(ok());
    return std::get<1>(data_);
  }
  T& value() & {
    assert(ok());
    return std::get<1>(data_);
  }
  T&& value() && {
    assert(ok());
    return std::get<1>(std::move(data_));
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  static Status ErrorOrInternal(Status status) {
    assert(!status.ok());
    if (status.ok()) return InternalError("StatusOr constructed from an OK Status");
    return status;
  }

  std::variant<Status, T> data_;
};

}  // namespace hpd

#define HPD_STATUS_CONCAT_INNER_(a, b) a##b
#define HPD_STATUS_CONCAT_(a, b) HPD_STATUS_CONCAT_INNER_(a, b)

// Returns from the current function if `expr` (a Status) is not OK.
#define HPD_RETURN_IF_ERROR(expr)                        \
  do {                                                   \
    ::hpd::Status hpd_status_ = (expr);                  \
    if (!hpd_status_.ok()) return hpd_status_;           \
  } while (false)

// HPD_ASSIGN_OR_RETURN(auto x, MakeX()); declares/assigns x or returns the error.
#define HPD_ASSIGN_OR_RETURN(lhs, expr) \
  HPD_ASSIGN_OR_RETURN_IMPL_(HPD_STATUS_CONCAT_(hpd_statusor_, __LINE__), lhs, expr)
#define HPD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()

#endif  // HPD_COMMON_STATUS_H_
