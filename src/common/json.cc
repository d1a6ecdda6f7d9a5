#include "common/json.h"

#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value_stack.hpp>
#include <cfloat>
#include <charconv>
#include <cstring>
#include <cmath>
#include <cstdint>
#include <optional>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/utf8.h"

namespace hpd {
namespace {

namespace bj = boost::json;

// Handler for bj::basic_parser that builds a value like Boost's own parser does, except that
// non-integer numbers are converted from their text with std::from_chars (correctly rounded).
// With build_ == false it only validates syntax (used to locate errors).
class ValueBuilder {
 public:
  static constexpr std::size_t max_object_size = bj::object::max_size();
  static constexpr std::size_t max_array_size = bj::array::max_size();
  static constexpr std::size_t max_key_size = bj::string::max_size();
  static constexpr std::size_t max_string_size = bj::string::max_size();

  ValueBuilder(bool build, std::string_view text, bj::storage_ptr storage = {})
      : build_(build), text_(text), storage_(std::move(storage)) {}

  bj::value Release() { return stack_.release(); }
  // A number the handler rejected (the parser then reports error::exception): what is wrong with
  // it and where it starts.
  struct NumberProblem {
    std::string description;
    std::size_t offset;
  };
  const std::optional<NumberProblem>& number_problem() const { return number_problem_; }

  bool on_document_begin(bj::error_code&) {
    if (build_) stack_.reset(storage_);
    return true;
  }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_object_begin(bj::error_code&) { return true; }
  bool on_object_end(std::size_t n, bj::error_code&) {
    if (build_) stack_.push_object(n);
    return true;
  }
  bool on_array_begin(bj::error_code&) { return true; }
  bool on_array_end(std::size_t n, bj::error_code&) {
    if (build_) stack_.push_array(n);
    return true;
  }
  bool on_key_part(bj::string_view s, std::size_t, bj::error_code&) {
    if (build_) stack_.push_chars(s);
    return true;
  }
  bool on_key(bj::string_view s, std::size_t, bj::error_code&) {
    if (build_) stack_.push_key(s);
    return true;
  }
  bool on_string_part(bj::string_view s, std::size_t, bj::error_code&) {
    if (build_) stack_.push_chars(s);
    return true;
  }
  bool on_string(bj::string_view s, std::size_t, bj::error_code&) {
    if (build_) stack_.push_string(s);
    return true;
  }
  bool on_number_part(bj::string_view s, bj::error_code&) {
    if (build_) number_prefix_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, bj::string_view, bj::error_code&) {
    number_prefix_.clear();
    if (build_) stack_.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, bj::string_view, bj::error_code&) {
    number_prefix_.clear();
    if (build_) stack_.push_uint64(u);
    return true;
  }
  bool on_double(double approximate, bj::string_view s, bj::error_code& ec) {
    if (!build_) return true;
    std::string_view number(s.data(), s.size());
    if (!number_prefix_.empty()) {
      number_prefix_.append(s.data(), s.size());
      number = number_prefix_;
    }
    double d = 0;
    const auto [end, errc] = std::from_chars(number.data(), number.data() + number.size(), d);
    if (errc == std::errc::result_out_of_range) {
      // from_chars reports both overflow and underflow; Boost's own (approximate) conversion
      // tells which. Underflow reads as zero, as in Java.
      if (std::fabs(approximate) > 1.0) return RejectNumber("number out of range", number, s, ec);
      d = number.front() == '-' ? -0.0 : 0.0;
    } else if (errc != std::errc() || end != number.data() + number.size()) {
      return RejectNumber("unreadable number", number, s, ec);
    }
    number_prefix_.clear();
    stack_.push_double(d);
    return true;
  }
  bool on_bool(bool b, bj::error_code&) {
    if (build_) stack_.push_bool(b);
    return true;
  }
  bool on_null(bj::error_code&) {
    if (build_) stack_.push_null();
    return true;
  }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

 private:
  bool RejectNumber(std::string_view problem, std::string_view number, bj::string_view last_part,
                    bj::error_code& ec) {
    std::size_t offset = text_.size();
    const std::size_t prefix = number.size() - last_part.size();
    if (last_part.data() >= text_.data() + prefix &&
        last_part.data() <= text_.data() + text_.size()) {
      offset = static_cast<std::size_t>(last_part.data() - text_.data()) - prefix;
    }
    std::string description(problem);
    description += ": ";
    description.append(number.substr(0, 40));
    if (number.size() > 40) description += "...";
    number_problem_ = NumberProblem{std::move(description), offset};
    ec = bj::error::exception;
    return false;
  }

  const bool build_;
  const std::string_view text_;
  bj::storage_ptr storage_;
  bj::value_stack stack_;
  std::string number_prefix_;
  std::optional<NumberProblem> number_problem_;
};

using Parser = bj::basic_parser<ValueBuilder>;

bj::parse_options ParseOptions() {
  bj::parse_options options;
  options.max_depth = kMaxJsonDepth;
  return options;
}

std::string Location(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  std::string out = "line " + std::to_string(line) + ", column " +
                    std::to_string(offset - line_start + 1) + " (offset " + std::to_string(offset) +
                    ")";
  return out;
}

// Up to 16 bytes of the text starting at `offset`; bytes other than printable ASCII are shown as
// '?' so that the message is always valid UTF-8, whatever the input was.
std::string Excerpt(std::string_view text, std::size_t offset) {
  if (offset >= text.size()) return "";
  std::string excerpt(text.substr(offset, 16));
  for (char& c : excerpt) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) c = '?';
  }
  return " near \"" + excerpt + "\"";
}

// The offset of the first byte at which a streaming parse fails: the smallest prefix length whose
// partial parse already reports an error, minus one. text.size() if every prefix is fine (the
// document is merely incomplete). Only runs on the error path: O(n log n).
std::size_t FindSyntaxErrorOffset(std::string_view text) {
  const auto prefix_fails = [&text](std::size_t length) {
    Parser parser(ParseOptions(), false, text);
    bj::error_code ec;
    parser.write_some(true, text.data(), length, ec);
    return static_cast<bool>(ec);
  };
  if (!prefix_fails(text.size())) return text.size();
  std::size_t lo = 0;            // prefix_fails(lo) is false (an empty prefix never fails).
  std::size_t hi = text.size();  // prefix_fails(hi) is true.
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (prefix_fails(mid)) {
      hi = mid;
    } else {
      lo = mid;
    }
  }
  return hi - 1;
}

bool IsAllWhitespace(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

// Escapes needed for bytes below 0x80, Jackson's table: 0 = none, 'u' = \u00XX, else the letter.
constexpr std::array<char, 128> MakeEscapeTable() {
  std::array<char, 128> table{};
  for (int c = 0; c < 0x20; ++c) table[static_cast<std::size_t>(c)] = 'u';
  table['\b'] = 'b';
  table['\t'] = 't';
  table['\n'] = 'n';
  table['\f'] = 'f';
  table['\r'] = 'r';
  table['"'] = '"';
  table['\\'] = '\\';
  return table;
}
constexpr std::array<char, 128> kEscapes = MakeEscapeTable();

// Room QuoteInto may need for a text of `n` bytes: every byte a \u00XX escape (or a 3-byte
// U+FFFD for one bad byte), and the quotes.
constexpr std::size_t MaxQuotedLength(std::size_t n) { return n * 6 + 2; }

// Writes `text` as a JSON string literal, escaped as Jackson does, at `p`, which must have room
// for MaxQuotedLength(text.size()) bytes; returns the end of what it wrote.
char* QuoteInto(std::string_view text, char* p) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  *p++ = '"';
  const char* const in = text.data();
  const std::size_t n = text.size();
  // The escape of an ASCII byte that needs one (kEscapes[c] != 0).
  const auto escape = [&p](unsigned char c) {
    const char e = kEscapes[c];
    *p++ = '\\';
    if (e == 'u') {
      *p++ = 'u';
      *p++ = '0';
      *p++ = '0';
      *p++ = kHex[c >> 4];
      *p++ = kHex[c & 0xF];
    } else {
      *p++ = e;
    }
  };
  std::size_t i = 0;
  while (i < n) {
#if defined(__SSE2__)
    // 16 bytes at a time. Copies write 16 bytes where fewer may be wanted: the room the caller
    // provides covers the overshoot (at least 6 bytes remain per unread input byte), and input is
    // only read 16 bytes at a time where 16 remain. A byte needs attention if it is below 0x20
    // or at/above 0x80 (one signed compare catches both), a quote or a backslash.
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i backslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    // Copies `length` input bytes from in + from to p (16 at once when the input allows).
    const auto copy = [&](std::size_t from, std::size_t length) {
      if (from + 16 <= n) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + from)));
      } else {
        std::memcpy(p, in + from, length);
      }
      p += length;
    };
    bool non_ascii = false;
    while (!non_ascii && i + 16 <= n) {
      const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
      const __m128i special =
          _mm_or_si128(_mm_cmplt_epi8(chunk, space),
                       _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)));
      auto mask = static_cast<unsigned>(_mm_movemask_epi8(special));
      if (mask == 0) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), chunk);
        i += 16;
        p += 16;
        continue;
      }
      // Each special byte of the chunk in turn, without scanning it again; a byte >= 0x80 hands
      // over to the general path below (its UTF-8 sequence may cross the chunk's end).
      std::size_t done = 0;  // bytes of the chunk written
      while (mask != 0) {
        const auto j = static_cast<std::size_t>(__builtin_ctz(mask));
        const auto c = static_cast<unsigned char>(in[i + j]);
        copy(i + done, j - done);
        done = j;
        if (c >= 0x80) {
          non_ascii = true;
          break;
        }
        escape(c);
        done = j + 1;
        mask &= mask - 1;
      }
      if (!non_ascii) copy(i + done, 16 - done);
      i += non_ascii ? done : 16;
    }
#endif
    // One byte at a time: the tail, a byte >= 0x80, or everything without SSE2.
    while (i < n) {
      const auto c = static_cast<unsigned char>(in[i]);
      if (c >= 0x80) {
        const std::size_t length = Utf8SequenceLength(text, i);
        if (length != 0) {
          std::memcpy(p, in + i, length);
          p += length;
          i += length;
        } else {
          std::memcpy(p, "\xEF\xBF\xBD", 3);  // U+FFFD REPLACEMENT CHARACTER
          p += 3;
          ++i;
        }
#if defined(__SSE2__)
        break;  // back to 16 at a time
#else
        continue;
#endif
      }
      if (kEscapes[c] != 0) {
        escape(c);
      } else {
        *p++ = static_cast<char>(c);
      }
      ++i;
    }
  }
  *p++ = '"';
  return p;
}

void AppendInteger(std::int64_t i, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), i);
  out->append(buf, result.ptr);
}

void AppendInteger(std::uint64_t u, std::string* out) {
  char buf[24];
  const auto result = std::to_chars(buf, buf + sizeof(buf), u);
  out->append(buf, result.ptr);
}

void AppendScalar(const bj::value& value, std::string* out) {
  switch (value.kind()) {
    case bj::kind::null:
      out->append("null");
      return;
    case bj::kind::bool_:
      out->append(value.get_bool() ? "true" : "false");
      return;
    case bj::kind::int64:
      AppendInteger(value.get_int64(), out);
      return;
    case bj::kind::uint64:
      AppendInteger(value.get_uint64(), out);
      return;
    case bj::kind::double_:
      AppendDouble(value.get_double(), out);
      return;
    case bj::kind::string: {
      const bj::string& s = value.get_string();
      AppendJsonString(std::string_view(s.data(), s.size()), out);
      return;
    }
    case bj::kind::array:
    case bj::kind::object:
      break;
  }
}

void AppendKey(const bj::string_view key, std::string* out) {
  AppendJsonString(std::string_view(key.data(), key.size()), out);
}

// Writes compact JSON through a cursor into a string kept ahead of it. Room is made in doubling
// steps, so a string, a key or a punctuation mark costs a bounds check, not a resize of the
// string per piece (std::string::resize zero-fills what it adds).
class CompactWriter {
 public:
  explicit CompactWriter(std::string* out) : out_(out), pos_(out->size()) {}
  ~CompactWriter() { out_->resize(pos_); }
  CompactWriter(const CompactWriter&) = delete;
  CompactWriter& operator=(const CompactWriter&) = delete;

  void Value(const bj::value& value) {
    switch (value.kind()) {
      case bj::kind::array: {
        Put('[');
        bool first = true;
        for (const bj::value& element : value.get_array()) {
          if (!first) Put(',');
          first = false;
          Value(element);
        }
        Put(']');
        return;
      }
      case bj::kind::object: {
        Put('{');
        bool first = true;
        for (const bj::key_value_pair& member : value.get_object()) {
          if (!first) Put(',');
          first = false;
          const bj::string_view key = member.key();
          String(std::string_view(key.data(), key.size()));
          Put(':');
          Value(member.value());
        }
        Put('}');
        return;
      }
      case bj::kind::string: {
        const bj::string& string = value.get_string();
        String(std::string_view(string.data(), string.size()));
        return;
      }
      case bj::kind::int64: {
        char* p = Room(24);
        pos_ = static_cast<std::size_t>(std::to_chars(p, p + 24, value.get_int64()).ptr -
                                        out_->data());
        return;
      }
      case bj::kind::uint64: {
        char* p = Room(24);
        pos_ = static_cast<std::size_t>(std::to_chars(p, p + 24, value.get_uint64()).ptr -
                                        out_->data());
        return;
      }
      case bj::kind::null:
        Put("null");
        return;
      case bj::kind::bool_:
        Put(value.get_bool() ? std::string_view("true") : std::string_view("false"));
        return;
      case bj::kind::double_: {
        std::string text;  // doubles are rare in payloads: the Java-style formatter as it is
        AppendDouble(value.get_double(), &text);
        Put(text);
        return;
      }
    }
  }

 private:
  // At least `n` writable bytes at the cursor.
  char* Room(std::size_t n) {
    if (pos_ + n > out_->size()) [[unlikely]] Grow(n);
    return out_->data() + pos_;
  }
  [[gnu::noinline]] void Grow(std::size_t n) {
    out_->resize(std::max(out_->size() * 2, pos_ + n + 64));
  }
  void Put(char c) {
    *Room(1) = c;
    ++pos_;
  }
  void Put(std::string_view text) {
    std::memcpy(Room(text.size()), text.data(), text.size());
    pos_ += text.size();
  }
  void String(std::string_view text) {
    if (text.size() >= LongStrings::kMinSize && text.size() <= LongStrings::kMaxSize) {
      const std::string_view quoted = LongStrings::Quoted(text);
      std::memcpy(Room(quoted.size()), quoted.data(), quoted.size());
      pos_ += quoted.size();
      return;
    }
    char* end = QuoteInto(text, Room(MaxQuotedLength(text.size())));
    pos_ = static_cast<std::size_t>(end - out_->data());
  }

  // The quoted form of the last few long strings written on this thread. A workflow carries its
  // document from state to state, and each state's output is serialised again: a long string
  // in it (an error's cause, a payload held as text) is then escaped over and over. A copy and
  // a comparison cost far less than escaping text dense in quotes. Entries keep their buffers.
  struct LongStrings {
    static constexpr std::size_t kMinSize = 64;
    static constexpr std::size_t kMaxSize = 16 * 1024;  // larger ones are escaped each time
    static constexpr std::size_t kEntries = 4;

    // Valid until the next call on this thread.
    static std::string_view Quoted(std::string_view text) {
      thread_local LongStrings cache;
      for (const Entry& entry : cache.entries) {
        if (entry.raw.size() == text.size() &&
            std::memcmp(entry.raw.data(), text.data(), text.size()) == 0) {
          return entry.quoted;
        }
      }
      Entry& entry = cache.entries[cache.next];  // the oldest
      cache.next = (cache.next + 1) % kEntries;
      entry.raw.assign(text.data(), text.size());
      entry.quoted.resize(MaxQuotedLength(text.size()));
      entry.quoted.resize(static_cast<std::size_t>(QuoteInto(text, entry.quoted.data()) -
                                                    entry.quoted.data()));
      return entry.quoted;
    }

    struct Entry {
      std::string raw;
      std::string quoted;
    };
    std::array<Entry, kEntries> entries;
    std::size_t next = 0;
  };

  std::string* const out_;
  std::size_t pos_;  // the cursor; out_->size() is how far room has been made
};

void AppendPretty(const bj::value& value, std::size_t indent, std::string* out) {
  const auto newline = [out](std::size_t spaces) {
    out->push_back('\n');
    out->append(spaces, ' ');
  };
  if (value.is_array()) {
    const bj::array& array = value.get_array();
    if (array.empty()) {
      out->append("[]");
      return;
    }
    out->push_back('[');
    bool first = true;
    for (const bj::value& element : array) {
      if (!first) out->push_back(',');
      first = false;
      newline(indent + 2);
      AppendPretty(element, indent + 2, out);
    }
    newline(indent);
    out->push_back(']');
  } else if (value.is_object()) {
    const bj::object& object = value.get_object();
    if (object.empty()) {
      out->append("{}");
      return;
    }
    out->push_back('{');
    bool first = true;
    for (const bj::key_value_pair& member : object) {
      if (!first) out->push_back(',');
      first = false;
      newline(indent + 2);
      AppendKey(member.key(), out);
      out->append(": ");
      AppendPretty(member.value(), indent + 2, out);
    }
    newline(indent);
    out->push_back('}');
  } else {
    AppendScalar(value, out);
  }
}

}  // namespace

StatusOr<boost::json::value> ParseJson(std::string_view text, boost::json::storage_ptr storage) {
  if (IsAllWhitespace(text)) return InvalidArgumentError("invalid JSON: empty input");
  Parser parser(ParseOptions(), true, text, std::move(storage));
  bj::error_code ec;
  const std::size_t consumed = parser.write_some(false, text.data(), text.size(), ec);
  if (const auto& problem = parser.handler().number_problem(); problem.has_value()) {
    return InvalidArgumentError("invalid JSON at " + Location(text, problem->offset) + ": " +
                                problem->description);
  }
  if (ec) {
    const std::size_t offset = FindSyntaxErrorOffset(text);
    return InvalidArgumentError("invalid JSON at " + Location(text, offset) + ": " + ec.message() +
                                Excerpt(text, offset));
  }
  if (consumed < text.size()) {
    return InvalidArgumentError("invalid JSON at " + Location(text, consumed) +
                                ": unexpected data after the JSON value" + Excerpt(text, consumed));
  }
  return parser.handler().Release();
}

void AppendJson(const boost::json::value& value, std::string* out) {
  CompactWriter(out).Value(value);
}

std::string SerializeJson(const boost::json::value& value) {
  // Written into a per-thread buffer that keeps its capacity, then copied out at its exact
  // size: one allocation instead of one per doubling (AppendJsonString reserves generously).
  thread_local std::string buffer;
  buffer.clear();
  AppendJson(value, &buffer);
  std::string out(buffer);
  // A one-off huge document should not pin its buffer for the thread's lifetime.
  if (buffer.capacity() > (std::size_t{1} << 20)) std::string().swap(buffer);
  return out;
}

std::string SerializeJsonPretty(const boost::json::value& value) {
  std::string out;
  AppendPretty(value, 0, &out);
  return out;
}

void AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  if (d == 0) {
    out->append(std::signbit(d) ? "-0.0" : "0.0");
    return;
  }
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e-05", "1e+07".
  char buf[40];
  std::to_chars_result result =
      std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(result.ptr - buf));

  // Java picks, when the shortest decimal has one digit, the closest decimal of one or two digits.
  // They differ only where the rounding interval is wide: subnormals (4.9E-324 rather than 5e-324).
  char buf2[40];
  if (std::fabs(d) < DBL_MIN) {
    result = std::to_chars(buf2, buf2 + sizeof(buf2), d, std::chars_format::scientific, 1);
    double back = 0;
    const auto parsed = std::from_chars(buf2, result.ptr, back);
    if (parsed.ec == std::errc() && back == d) {
      sci = std::string_view(buf2, static_cast<std::size_t>(result.ptr - buf2));
    }
  }

  const bool negative = sci.front() == '-';
  if (negative) sci.remove_prefix(1);
  const std::size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  int exponent = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(),
                  exponent);
  char digits[20];
  std::size_t count = 0;
  for (char c : mantissa) {
    if (c != '.') digits[count++] = c;
  }
  while (count > 1 && digits[count - 1] == '0') --count;

  if (negative) out->push_back('-');
  if (exponent >= -3 && exponent < 7) {
    if (exponent >= 0) {
      const std::size_t int_digits = static_cast<std::size_t>(exponent) + 1;
      if (count <= int_digits) {
        out->append(digits, count);
        out->append(int_digits - count, '0');
        out->append(".0");
      } else {
        out->append(digits, int_digits);
        out->push_back('.');
        out->append(digits + int_digits, count - int_digits);
      }
    } else {
      out->append("0.");
      out->append(static_cast<std::size_t>(-exponent - 1), '0');
      out->append(digits, count);
    }
    return;
  }
  out->push_back(digits[0]);
  out->push_back('.');
  if (count > 1) {
    out->append(digits + 1, count - 1);
  } else {
    out->push_back('0');
  }
  out->push_back('E');
  AppendInteger(std::int64_t{exponent}, out);
}

std::string FormatDouble(double d) {
  std::string out;
  AppendDouble(d, &out);
  return out;
}

void AppendJsonString(std::string_view text, std::string* out) {
  // Written through a raw pointer into room for the worst case, then trimmed: payload strings
  // are mostly JSON text whose many quotes each need an escape, and per-character appends
  // dominated the interpreter.
  const std::size_t start = out->size();
  out->resize(start + MaxQuotedLength(text.size()));
  char* end = QuoteInto(text, out->data() + start);
  out->resize(static_cast<std::size_t>(end - out->data()));
}

std::string JsonTypeName(const boost::json::value& value) {
  switch (value.kind()) {
    case bj::kind::object:
      return "object";
    case bj::kind::array:
      return "array";
    case bj::kind::string:
      return "string";
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      return "number";
    case bj::kind::bool_:
      return "boolean";
    case bj::kind::null:
      return "null";
  }
  return "null";
}

std::string JsonPointerEscape(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out.append("~0");
    } else if (c == '/') {
      out.append("~1");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

JsonPointer& JsonPointer::AppendKey(std::string_view key) {
  text_.push_back('/');
  text_.append(JsonPointerEscape(key));
  return *this;
}

JsonPointer& JsonPointer::AppendIndex(std::size_t index) {
  text_.push_back('/');
  text_.append(std::to_string(index));
  return *this;
}

JsonPointer JsonPointer::Key(std::string_view key) const {
  JsonPointer child = *this;
  child.AppendKey(key);
  return child;
}

JsonPointer JsonPointer::Index(std::size_t index) const {
  JsonPointer child = *this;
  child.AppendIndex(index);
  return child;
}

void JsonPointer::PopBack() {
  // Escaped tokens contain no raw '/', so the last one starts at the last '/'.
  const std::size_t slash = text_.rfind('/');
  if (slash != std::string::npos) text_.resize(slash);
}

std::ostream& operator<<(std::ostream& os, const JsonPointer& pointer) {
  return os << '"' << pointer.ToString() << '"';
}

}  // namespace hpd
