#include "common/rfc3339.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace hpd {
namespace {

using std::chrono::days;
using std::chrono::nanoseconds;

// Cursor over the text; every Expect* reports the first mismatch with its offset.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ == text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  // Reads exactly `count` ASCII digits.
  Status ExpectDigits(int count, std::string_view what, int* out) {
    int value = 0;
    for (int i = 0; i < count; ++i) {
      const char c = Peek();
      if (c < '0' || c > '9') return Error("expected a " + std::string(what));
      value = value * 10 + (c - '0');
      ++pos_;
    }
    *out = value;
    return Status::Ok();
  }

  Status ExpectChar(char expected, std::string_view what) {
    if (Peek() != expected) return Error("expected " + std::string(what));
    ++pos_;
    return Status::Ok();
  }

  // The problem, reported at the current position.
  Status Error(std::string_view problem) const { return ErrorAt(problem, pos_); }

  Status ErrorAt(std::string_view problem, std::size_t offset) const {
    // User input: quote at most 64 bytes of it.
    std::string message = "invalid RFC 3339 timestamp \"";
    message.append(text_.substr(0, 64));
    message += text_.size() > 64 ? "...\": " : "\": ";
    message.append(problem);
    message += " at offset ";
    message += std::to_string(offset);
    return InvalidArgumentError(std::move(message));
  }

  void Skip() { ++pos_; }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

// Writes "YYYY-MM-DDThh:mm:ss" for the whole seconds of `t` and returns the sub-second nanoseconds.
std::int64_t AppendDateTime(WallTime t, std::string* out) {
  // Plain integer arithmetic: converting whole days or seconds back to nanoseconds would overflow
  // near the ends of WallTime's range.
  const std::int64_t count = t.time_since_epoch().count();
  std::int64_t epoch_seconds = count / kNanosPerSecond;
  std::int64_t nanos = count % kNanosPerSecond;
  if (nanos < 0) {
    nanos += kNanosPerSecond;
    epoch_seconds -= 1;
  }
  std::int64_t epoch_days = epoch_seconds / 86400;
  std::int64_t s = epoch_seconds % 86400;
  if (s < 0) {
    s += 86400;
    epoch_days -= 1;
  }
  const std::chrono::year_month_day ymd{std::chrono::sys_days(days(epoch_days))};

  char buf[20];
  const auto put2 = [&buf](int at, unsigned v) {
    buf[at] = static_cast<char>('0' + v / 10);
    buf[at + 1] = static_cast<char>('0' + v % 10);
  };
  const int year = static_cast<int>(ymd.year());  // 1677..2262: always four digits.
  buf[0] = static_cast<char>('0' + year / 1000);
  buf[1] = static_cast<char>('0' + year / 100 % 10);
  buf[2] = static_cast<char>('0' + year / 10 % 10);
  buf[3] = static_cast<char>('0' + year % 10);
  buf[4] = '-';
  put2(5, static_cast<unsigned>(ymd.month()));
  buf[7] = '-';
  put2(8, static_cast<unsigned>(ymd.day()));
  buf[10] = 'T';
  put2(11, static_cast<unsigned>(s / 3600));
  buf[13] = ':';
  put2(14, static_cast<unsigned>(s / 60 % 60));
  buf[16] = ':';
  put2(17, static_cast<unsigned>(s % 60));
  out->append(buf, 19);
  return nanos;
}

// Appends '.' and the first `digits` digits of the 9-digit nanosecond fraction.
void AppendFraction(std::int64_t nanos, int digits, std::string* out) {
  char buf[10];
  buf[0] = '.';
  for (int i = 9; i >= 1; --i) {
    buf[i] = static_cast<char>('0' + nanos % 10);
    nanos /= 10;
  }
  out->append(buf, static_cast<std::size_t>(digits) + 1);
}

}  // namespace

StatusOr<WallTime> ParseRfc3339(std::string_view text) {
  Scanner in(text);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  HPD_RETURN_IF_ERROR(in.ExpectDigits(4, "four-digit year", &year));
  HPD_RETURN_IF_ERROR(in.ExpectChar('-', "'-' after year"));
  const std::size_t month_at = in.pos();
  HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit month", &month));
  HPD_RETURN_IF_ERROR(in.ExpectChar('-', "'-' after month"));
  const std::size_t day_at = in.pos();
  HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit day", &day));
  if (in.Peek() == 't' || in.Peek() == ' ') {
    return in.Error("date and time must be separated by an uppercase 'T'");
  }
  HPD_RETURN_IF_ERROR(in.ExpectChar('T', "'T' between date and time"));
  const std::size_t hour_at = in.pos();
  HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit hour", &hour));
  HPD_RETURN_IF_ERROR(in.ExpectChar(':', "':' after hour"));
  const std::size_t minute_at = in.pos();
  HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit minute", &minute));
  HPD_RETURN_IF_ERROR(in.ExpectChar(':', "':' and seconds after minute"));
  const std::size_t second_at = in.pos();
  HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit second", &second));

  std::int64_t nanos = 0;
  if (in.Peek() == '.') {
    in.Skip();
    int digits = 0;
    while (in.Peek() >= '0' && in.Peek() <= '9') {
      if (digits == 9) return in.Error("more than nine fraction digits");
      nanos = nanos * 10 + (in.Peek() - '0');
      ++digits;
      in.Skip();
    }
    if (digits == 0) return in.Error("expected a digit after '.'");
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }

  int offset_minutes = 0;
  const std::size_t zone_at = in.pos();
  const char zone = in.Peek();
  if (zone == 'Z') {
    in.Skip();
  } else if (zone == '+' || zone == '-') {
    in.Skip();
    int offset_hour = 0, offset_minute = 0;
    HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit offset hour", &offset_hour));
    HPD_RETURN_IF_ERROR(in.ExpectChar(':', "':' in offset (+hh:mm)"));
    HPD_RETURN_IF_ERROR(in.ExpectDigits(2, "two-digit offset minute", &offset_minute));
    if (offset_minute > 59) return in.ErrorAt("offset minute out of range", zone_at);
    offset_minutes = offset_hour * 60 + offset_minute;
    if (offset_minutes > 18 * 60) return in.ErrorAt("offset beyond +/-18:00", zone_at);
    if (zone == '-') offset_minutes = -offset_minutes;
  } else if (zone == 'z') {
    return in.Error("the UTC designator must be an uppercase 'Z'");
  } else if (in.AtEnd()) {
    return in.Error("missing time zone ('Z' or +hh:mm/-hh:mm)");
  } else {
    return in.Error("expected 'Z' or a +hh:mm/-hh:mm offset");
  }
  if (!in.AtEnd()) return in.Error("unexpected trailing characters");

  if (month < 1 || month > 12) return in.ErrorAt("month out of range", month_at);
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return in.ErrorAt("day out of range for the month", day_at);
  if (hour > 23) return in.ErrorAt("hour out of range", hour_at);
  if (minute > 59) return in.ErrorAt("minute out of range", minute_at);
  if (second > 59) return in.ErrorAt("second out of range", second_at);

  // Whole seconds since the epoch fit easily in int64 for four-digit years; the nanosecond count
  // may not, so check before converting.
  std::int64_t epoch_seconds =
      static_cast<std::int64_t>(std::chrono::sys_days(ymd).time_since_epoch().count()) * 86400 +
      hour * 3600 + minute * 60 + second - std::int64_t{offset_minutes} * 60;
  if (epoch_seconds < 0 && nanos > 0) {
    // Borrow a second so that the product stays in range near the lower end (1677-09-21).
    epoch_seconds += 1;
    nanos -= kNanosPerSecond;
  }
  std::int64_t total;
  if (__builtin_mul_overflow(epoch_seconds, kNanosPerSecond, &total) ||
      __builtin_add_overflow(total, nanos, &total)) {
    return in.ErrorAt("outside the supported range 1677-09-21..2262-04-11", 0);
  }
  return WallTime(nanoseconds(total));
}

std::string FormatRfc3339(WallTime t) {
  std::string out;
  out.reserve(30);
  const std::int64_t nanos = AppendDateTime(t, &out);
  if (nanos != 0) {
    const int digits = nanos % 1'000'000 == 0 ? 3 : nanos % 1'000 == 0 ? 6 : 9;
    AppendFraction(nanos, digits, &out);
  }
  out.push_back('Z');
  return out;
}

std::string FormatRfc3339Millis(WallTime t) {
  std::string out;
  out.reserve(24);
  const std::int64_t nanos = AppendDateTime(t, &out);
  AppendFraction(nanos, 3, &out);
  out.push_back('Z');
  return out;
}

std::string FormatHttpDate(WallTime t) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = floor<days>(t);
  const year_month_day ymd{sys_days(day)};
  const weekday wd{sys_days(day)};
  const auto secs = duration_cast<seconds>(t - day).count();
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02u %s %04d %02lld:%02lld:%02lld GMT",
                kDays[wd.c_encoding()], static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

}  // namespace hpd
