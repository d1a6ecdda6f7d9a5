#include "common/status.h"

#include <algorithm>

namespace hpd {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kUnknown: return "UNKNOWN";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kOutOfRange: return "OUT_OF_RANGE";
    case StatusCode::kUnimplemented: return "UNIMPLEMENTED";
    case StatusCode::kInternal: return "INTERNAL";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDataLoss: return "DATA_LOSS";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
  }
  return "UNKNOWN";
}

Status::Status(StatusCode code, std::string message) {
  if (code == StatusCode::kOk) return;  // An OK status carries nothing.
  // Allocated as a mutable Rep (held through a pointer to const) so that MutableRep() may write to
  // it after the copy-on-write check; writing through const_cast to an object created const is UB.
  rep_ = std::make_shared<Rep>(Rep{code, std::move(message), {}, {}});
}

const std::vector<std::string>& Status::context() const {
  static const std::vector<std::string> kEmpty;
  return rep_ ? rep_->context : kEmpty;
}

Status::Rep& Status::MutableRep() {
  // Copy on write: statuses are shared by value.
  if (rep_.use_count() != 1) rep_ = std::make_shared<Rep>(*rep_);
  return const_cast<Rep&>(*rep_);
}

Status& Status::SetErrorName(std::string name) {
  if (rep_) MutableRep().error_name = std::move(name);
  return *this;
}

Status& Status::AddContext(std::string context) {
  if (rep_) {
    auto& ctx = MutableRep().context;
    // Rotating a push_back into place instead of insert(begin()): same effect, and it avoids a
    // GCC 12 -Wnull-dereference false positive inside vector::insert.
    ctx.push_back(std::move(context));
    std::rotate(ctx.begin(), ctx.end() - 1, ctx.end());
  }
  return *this;
}

Status Status::WithContext(std::string context) const& {
  Status copy = *this;
  copy.AddContext(std::move(context));
  return copy;
}

Status Status::WithContext(std::string context) && {
  AddContext(std::move(context));
  return std::move(*this);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  out += ": ";
  for (const auto& c : rep_->context) {
    out += c;
    out += ": ";
  }
  out += rep_->message;
  return out;
}

bool operator==(const Status& a, const Status& b) {
  if (a.rep_ == b.rep_) return true;
  if (!a.rep_ || !b.rep_) return false;
  return a.rep_->code == b.rep_->code && a.rep_->message == b.rep_->message &&
         a.rep_->error_name == b.rep_->error_name && a.rep_->context == b.rep_->context;
}

std::ostream& operator<<(std::ostream& os, const Status& status) {
  return os << status.ToString();
}

#define HPD_DEFINE_ERROR_(Name, Code) \
  Status Name(std::string message) { return Status(StatusCode::Code, std::move(message)); }
HPD_DEFINE_ERROR_(CancelledError, kCancelled)
HPD_DEFINE_ERROR_(UnknownError, kUnknown)
HPD_DEFINE_ERROR_(InvalidArgumentError, kInvalidArgument)
HPD_DEFINE_ERROR_(DeadlineExceededError, kDeadlineExceeded)
HPD_DEFINE_ERROR_(NotFoundError, kNotFound)
HPD_DEFINE_ERROR_(AlreadyExistsError, kAlreadyExists)
HPD_DEFINE_ERROR_(PermissionDeniedError, kPermissionDenied)
HPD_DEFINE_ERROR_(ResourceExhaustedError, kResourceExhausted)
HPD_DEFINE_ERROR_(FailedPreconditionError, kFailedPrecondition)
HPD_DEFINE_ERROR_(AbortedError, kAborted)
HPD_DEFINE_ERROR_(OutOfRangeError, kOutOfRange)
HPD_DEFINE_ERROR_(UnimplementedError, kUnimplemented)
HPD_DEFINE_ERROR_(InternalError, kInternal)
HPD_DEFINE_ERROR_(UnavailableError, kUnavailable)
HPD_DEFINE_ERROR_(DataLossError, kDataLoss)
HPD_DEFINE_ERROR_(UnauthenticatedError, kUnauthenticated)
#undef HPD_DEFINE_ERROR_

Status Named(Status status, std::string error_name) {
  status.SetErrorName(std::move(error_name));
  return status;
}

}  // namespace hpd
