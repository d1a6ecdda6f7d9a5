#include "server/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/digest.h"

namespace hpd::server {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kTerminator = "aws4_request";
constexpr std::string_view kUpperHexDigits = "0123456789ABCDEF";

constexpr std::string_view kIncompleteSignature = "IncompleteSignatureException";
constexpr std::string_view kInvalidSignature = "InvalidSignatureException";

Status AwsAuthError(std::string_view error_name, std::string message) {
  Status status = UnauthenticatedError(std::move(message));
  status.SetErrorName(std::string(error_name));
  return status;
}

bool IsWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsWhitespace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsWhitespace(text.back())) text.remove_suffix(1);
  return text;
}

// Trims and collapses every run of whitespace into one space, as botocore's ' '.join(v.split()).
std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsWhitespace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; a '%' not followed by two hex digits stays as it is, and '+' stays a '+'.
std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// RFC 3986 section 5.2.4 plus the removal of empty segments AWS requires (botocore's
// remove_dot_segments): "/a/./b/../c//" -> "/a/c/".
std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out;
  if (path.front() == '/') out.push_back('/');
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

std::string Join(const std::vector<std::string>& parts, char separator) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.push_back(separator);
    out.append(parts[i]);
  }
  return out;
}

const std::string* FindHeader(const SignedRequest& request, std::string_view lower_name) {
  for (const auto& [name, value] : request.headers) {
    if (EqualsIgnoreCase(name, lower_name)) return &value;
  }
  return nullptr;
}

// "x-amz-target" -> "X-Amz-Target", the spelling AWS uses in its messages.
std::string DisplayHeaderName(std::string_view lower_name) {
  std::string out(lower_name);
  bool word_start = true;
  for (char& c : out) {
    if (word_start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    word_start = c == '-';
  }
  return out;
}

bool QueryHasParameter(std::string_view raw_query, std::string_view name) {
  if (raw_query.empty()) return false;
  for (std::string_view pair : Split(raw_query, '&')) {
    const std::string_view raw_name = pair.substr(0, pair.find('='));
    if (PercentDecode(raw_name) == name) return true;
  }
  return false;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool IsLowerHexSha256(std::string_view text) {
  if (text.size() != 64) return false;
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

void AppendDigits(std::string* out, int value, int width) {
  std::array<char, 8> digits{};
  for (int i = width - 1; i >= 0; --i) {
    digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(digits.data(), static_cast<std::size_t>(width));
}

std::optional<int> ParseDigits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::optional<WallTime> MakeTime(int year, int month, int day, int hour, int minute, int second) {
  const std::chrono::year_month_day ymd{std::chrono::year(year),
                                        std::chrono::month(static_cast<unsigned>(month)),
                                        std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  const auto seconds = std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(hour) +
                       std::chrono::minutes(minute) + std::chrono::seconds(second);
  return WallTime(std::chrono::duration_cast<Duration>(seconds));
}

// IMF-fixdate (RFC 9110), the HTTP Date header: "Sun, 30 Aug 2015 12:36:00 GMT".
std::optional<WallTime> ParseHttpDate(std::string_view text) {
  static constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu",
                                                            "Fri", "Sat", "Sun"};
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(kDays.begin(), kDays.end(), text.substr(0, 3)) == kDays.end()) return std::nullopt;
  const auto month_it = std::find(kMonths.begin(), kMonths.end(), text.substr(8, 3));
  if (month_it == kMonths.end()) return std::nullopt;
  const auto day = ParseDigits(text.substr(5, 2));
  const auto year = ParseDigits(text.substr(12, 4));
  const auto hour = ParseDigits(text.substr(17, 2));
  const auto minute = ParseDigits(text.substr(20, 2));
  const auto second = ParseDigits(text.substr(23, 2));
  if (!day || !year || !hour || !minute || !second) return std::nullopt;
  return MakeTime(*year, static_cast<int>(month_it - kMonths.begin()) + 1, *day, *hour, *minute,
                  *second);
}

// The parts of "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...".
struct AuthorizationParts {
  std::string algorithm;
  std::optional<std::string> credential;
  std::optional<std::string> signed_headers;
  std::optional<std::string> signature;
};

// AWS splits what follows the algorithm on commas and whitespace; every token must be key=value
// ("Credential= AKID/..." yields the token "AKID/...", which is reported).
StatusOr<AuthorizationParts> ParseAuthorization(std::string_view header) {
  AuthorizationParts parts;
  std::size_t pos = 0;
  while (pos < header.size() && !IsWhitespace(header[pos])) ++pos;
  parts.algorithm = std::string(header.substr(0, pos));
  while (pos < header.size()) {
    while (pos < header.size() && (IsWhitespace(header[pos]) || header[pos] == ',')) ++pos;
    const std::size_t start = pos;
    while (pos < header.size() && !IsWhitespace(header[pos]) && header[pos] != ',') ++pos;
    const std::string_view token = header.substr(start, pos - start);
    if (token.empty()) continue;
    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos) {
      return AwsAuthError(kIncompleteSignature,
                          "'" + std::string(token) +
                              "' not a valid key=value pair (missing equal-sign) in Authorization "
                              "header: '" +
                              std::string(header) + "'.");
    }
    const std::string_view key = token.substr(0, eq);
    std::string value(token.substr(eq + 1));
    if (key == "Credential") {
      parts.credential = std::move(value);
    } else if (key == "SignedHeaders") {
      parts.signed_headers = std::move(value);
    } else if (key == "Signature") {
      parts.signature = std::move(value);
    }
  }
  return parts;
}

}  // namespace

std::string UriEncode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                            c == '~' || (keep_slash && c == '/');
    if (unreserved) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kUpperHexDigits[b >> 4]);
      out.push_back(kUpperHexDigits[b & 0x0F]);
    }
  }
  return out;
}

std::string CanonicalUri(std::string_view raw_path) {
  return UriEncode(NormalizePath(raw_path), /*keep_slash=*/true);
}

std::string CanonicalQueryString(std::string_view raw_query) {
  if (raw_query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::string_view pair : Split(raw_query, '&')) {
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    pairs.emplace_back(UriEncode(PercentDecode(name), false),
                       UriEncode(PercentDecode(value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(name).append("=").append(value);
  }
  return out;
}

std::string CanonicalRequest(const SignedRequest& request,
                             const std::vector<std::string>& signed_headers,
                             std::string_view payload_hash) {
  std::string out;
  out.append(request.method).append("\n");
  out.append(CanonicalUri(request.path)).append("\n");
  out.append(CanonicalQueryString(request.query)).append("\n");
  for (const std::string& signed_name : signed_headers) {
    out.append(signed_name).append(":");
    bool first = true;
    for (const auto& [name, value] : request.headers) {
      if (!EqualsIgnoreCase(name, signed_name)) continue;
      if (!first) out.push_back(',');
      out.append(TrimAll(value));
      first = false;
    }
    out.append("\n");
  }
  out.append("\n");
  out.append(Join(signed_headers, ';')).append("\n");
  out.append(payload_hash);
  return out;
}

std::string CredentialScope(std::string_view yyyymmdd, std::string_view region,
                            std::string_view service) {
  std::string out(yyyymmdd);
  out.append("/").append(region).append("/").append(service).append("/").append(kTerminator);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n").append(credential_scope).append("\n");
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string SigningKey(std::string_view secret_access_key, std::string_view yyyymmdd,
                       std::string_view region, std::string_view service) {
  std::string secret = "AWS4";
  secret.append(secret_access_key);
  const std::string date_key = HmacSha256(secret, yyyymmdd);
  const std::string region_key = HmacSha256(date_key, region);
  const std::string service_key = HmacSha256(region_key, service);
  return HmacSha256(service_key, kTerminator);
}

std::string Signature(std::string_view secret_access_key, std::string_view yyyymmdd,
                      std::string_view region, std::string_view service,
                      std::string_view string_to_sign) {
  return HexEncode(
      HmacSha256(SigningKey(secret_access_key, yyyymmdd, region, service), string_to_sign));
}

std::string AuthorizationHeader(const SignedRequest& request,
                                const std::vector<std::string>& signed_headers,
                                const SigV4Credentials& credentials, std::string_view amz_date,
                                std::string_view region, std::string_view service) {
  const std::string* content_sha = FindHeader(request, "x-amz-content-sha256");
  const std::string payload_hash = content_sha ? *content_sha : Sha256Hex(request.body);
  const std::string_view yyyymmdd = amz_date.substr(0, 8);
  const std::string scope = CredentialScope(yyyymmdd, region, service);
  const std::string string_to_sign =
      StringToSign(amz_date, scope, CanonicalRequest(request, signed_headers, payload_hash));
  std::string out(kAlgorithm);
  out.append(" Credential=").append(credentials.access_key_id).append("/").append(scope);
  out.append(", SignedHeaders=").append(Join(signed_headers, ';'));
  out.append(", Signature=")
      .append(Signature(credentials.secret_access_key, yyyymmdd, region, service, string_to_sign));
  return out;
}

std::string FormatAmzDate(WallTime t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const auto days = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day ymd(days);
  const std::chrono::hh_mm_ss hms(seconds - days);
  std::string out;
  out.reserve(16);
  AppendDigits(&out, static_cast<int>(ymd.year()), 4);
  AppendDigits(&out, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  AppendDigits(&out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  out.push_back('T');
  AppendDigits(&out, static_cast<int>(hms.hours().count()), 2);
  AppendDigits(&out, static_cast<int>(hms.minutes().count()), 2);
  AppendDigits(&out, static_cast<int>(hms.seconds().count()), 2);
  out.push_back('Z');
  return out;
}

StatusOr<WallTime> ParseAmzDate(std::string_view text) {
  if (text.size() == 16 && text[8] == 'T' && text[15] == 'Z') {
    const auto year = ParseDigits(text.substr(0, 4));
    const auto month = ParseDigits(text.substr(4, 2));
    const auto day = ParseDigits(text.substr(6, 2));
    const auto hour = ParseDigits(text.substr(9, 2));
    const auto minute = ParseDigits(text.substr(11, 2));
    const auto second = ParseDigits(text.substr(13, 2));
    if (year && month && day && hour && minute && second) {
      if (auto t = MakeTime(*year, *month, *day, *hour, *minute, *second)) return *t;
    }
  }
  return InvalidArgumentError("not an ISO 8601 basic-format UTC time (YYYYMMDD'T'HHMMSS'Z'): '" +
                              std::string(text) + "'");
}

StatusOr<SigV4Verifier> SigV4Verifier::Create(std::vector<SigV4Credentials> keys,
                                              SigV4Options options, const Clock& clock) {
  if (options.service.empty()) return InvalidArgumentError("SigV4: the service name is empty");
  std::map<std::string, SigV4Credentials, std::less<>> by_id;
  for (SigV4Credentials& key : keys) {
    if (key.access_key_id.empty() || key.secret_access_key.empty()) {
      return InvalidArgumentError("SigV4: an access key id or secret access key is empty");
    }
    if (std::any_of(key.access_key_id.begin(), key.access_key_id.end(),
                    [](char c) { return c == '/' || IsWhitespace(c) || c == ','; })) {
      return InvalidArgumentError("SigV4: access key id '" + key.access_key_id +
                                  "' contains '/', ',' or whitespace");
    }
    std::string id = key.access_key_id;
    if (!by_id.emplace(id, std::move(key)).second) {
      return InvalidArgumentError("SigV4: access key id '" + id + "' is configured twice");
    }
  }
  for (std::string& name : options.required_signed_headers) name = ToLower(name);
  return SigV4Verifier(std::move(by_id), std::move(options), clock);
}

SigV4Verifier::SigV4Verifier(std::map<std::string, SigV4Credentials, std::less<>> keys,
                             SigV4Options options, const Clock& clock)
    : keys_(std::move(keys)), options_(std::move(options)), clock_(&clock) {}

StatusOr<SigV4Signer> SigV4Verifier::Verify(const SignedRequest& request) const {
  const std::string* authorization = FindHeader(request, "authorization");
  const bool query_auth = QueryHasParameter(request.query, "X-Amz-Algorithm");
  if (authorization != nullptr && query_auth) {
    return AwsAuthError(kInvalidSignature,
                        "Found both 'X-Amz-Algorithm' as a query-string param and "
                        "'Authorization' as HTTP header.");
  }
  if (authorization == nullptr && query_auth) {
    return AwsAuthError(kIncompleteSignature,
                        "Query-string (presigned URL) authentication is not supported by this "
                        "server; sign the request with an Authorization header.");
  }
  if (authorization == nullptr || Trim(*authorization).substr(0, 5) != "AWS4-") {
    return AwsAuthError("MissingAuthenticationTokenException",
                        "Request is missing Authentication Token");
  }
  const std::string& auth = *authorization;
  HPD_ASSIGN_OR_RETURN(const AuthorizationParts parts, ParseAuthorization(auth));

  const std::string* amz_date_header = FindHeader(request, "x-amz-date");
  const std::string* date_header = amz_date_header ? amz_date_header : FindHeader(request, "date");
  std::string missing;
  if (!parts.credential || parts.credential->empty()) {
    missing += "Authorization header requires 'Credential' parameter. ";
  }
  if (!parts.signature || parts.signature->empty()) {
    missing += "Authorization header requires 'Signature' parameter. ";
  }
  if (!parts.signed_headers) missing += "Authorization header requires 'SignedHeaders' parameter. ";
  if (date_header == nullptr) {
    missing +=
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ";
  }
  if (!missing.empty())
    return AwsAuthError(kIncompleteSignature, missing + "Authorization=" + auth);

  // The date: X-Amz-Date in basic format, else Date (basic format or IMF-fixdate).
  std::optional<WallTime> request_time;
  if (StatusOr<WallTime> parsed = ParseAmzDate(*date_header); parsed.ok()) {
    request_time = *parsed;
  } else if (amz_date_header == nullptr) {
    request_time = ParseHttpDate(*date_header);
  }
  if (!request_time) {
    return AwsAuthError(kIncompleteSignature, "Date must be in ISO-8601 'basic format'. Got '" +
                                                  *date_header +
                                                  "'. See http://en.wikipedia.org/wiki/ISO_8601");
  }
  const std::string amz_date = FormatAmzDate(*request_time);
  const WallTime now = clock_->WallNow();
  const std::string skew_minutes = std::to_string(options_.max_skew.count());
  if (*request_time < now - options_.max_skew) {
    return AwsAuthError(kInvalidSignature,
                        "Signature expired: " + amz_date + " is now earlier than " +
                            FormatAmzDate(now - options_.max_skew) + " (" + FormatAmzDate(now) +
                            " - " + skew_minutes + " min.)");
  }
  if (*request_time > now + options_.max_skew) {
    return AwsAuthError(kInvalidSignature,
                        "Signature not yet current: " + amz_date + " is still later than " +
                            FormatAmzDate(now + options_.max_skew) + " (" + FormatAmzDate(now) +
                            " + " + skew_minutes + " min.)");
  }

  std::vector<std::string> signed_headers;
  for (std::string_view name : Split(*parts.signed_headers, ';')) {
    signed_headers.push_back(ToLower(name));
  }
  const std::set<std::string, std::less<>> signed_set(signed_headers.begin(), signed_headers.end());
  if (!signed_set.contains("host")) {
    return AwsAuthError(kInvalidSignature,
                        "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }
  for (const std::string& required : options_.required_signed_headers) {
    if (!signed_set.contains(required) && FindHeader(request, required) != nullptr) {
      return AwsAuthError(kInvalidSignature, "'" + DisplayHeaderName(required) +
                                                 "' must be a 'SignedHeader' in the AWS "
                                                 "Authorization.");
    }
  }

  if (parts.algorithm != kAlgorithm) {
    return AwsAuthError(kIncompleteSignature, "Unsupported AWS 'algorithm': '" + parts.algorithm +
                                                  "' (only AWS4-HMAC-SHA256 for now). ");
  }

  std::string_view credential = *parts.credential;
  while (!credential.empty() && credential.back() == '/') credential.remove_suffix(1);
  const std::vector<std::string_view> scope = Split(credential, '/');
  if (scope.size() != 5) {
    return AwsAuthError(kIncompleteSignature,
                        "Credential must have exactly 5 slash-delimited elements, e.g. "
                        "keyid/date/region/service/term, got '" +
                            *parts.credential + "'");
  }
  const std::string_view key_id = scope[0];
  const std::string_view scope_date = scope[1];
  const std::string_view region = scope[2];
  const std::string_view service = scope[3];
  std::string scope_errors;
  if (region.empty() || (!options_.region.empty() && region != options_.region)) {
    scope_errors +=
        "Credential should be scoped to a valid region, not '" + std::string(region) + "'. ";
  }
  if (service != options_.service) {
    scope_errors += "Credential should be scoped to correct service: '" + options_.service + "'. ";
  }
  if (scope[4] != kTerminator) {
    scope_errors += "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                    std::string(scope[4]) + "'. ";
  }
  if (scope_date != std::string_view(amz_date).substr(0, 8)) {
    scope_errors +=
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
        "HTTP: '" +
        std::string(scope_date) + "' != '" + amz_date.substr(0, 8) + "', from '" + *date_header +
        "'. ";
  }
  if (!scope_errors.empty()) return AwsAuthError(kInvalidSignature, scope_errors);

  const auto key = keys_.find(key_id);
  if (key == keys_.end()) {
    return AwsAuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid.");
  }

  const std::string* content_sha = FindHeader(request, "x-amz-content-sha256");
  const std::string body_hash = Sha256Hex(request.body);
  const std::string payload_hash = content_sha ? *content_sha : body_hash;
  const std::string canonical_request = CanonicalRequest(request, signed_headers, payload_hash);
  const std::string string_to_sign =
      StringToSign(amz_date, CredentialScope(scope_date, region, service), canonical_request);
  const std::string expected =
      Signature(key->second.secret_access_key, scope_date, region, service, string_to_sign);
  if (!ConstantTimeEquals(expected, *parts.signature)) {
    return AwsAuthError(
        kInvalidSignature,
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.\n\nThe Canonical String for this request should have been\n'" +
            canonical_request + "'\n\nThe String-to-Sign should have been\n'" + string_to_sign +
            "'\n");
  }
  // The signature covers the declared hash; the body must also match it.
  if (content_sha != nullptr && (!IsLowerHexSha256(ToLower(Trim(*content_sha))) ||
                                 ToLower(Trim(*content_sha)) != body_hash)) {
    return AwsAuthError(kInvalidSignature,
                        "The provided 'x-amz-content-sha256' header does not match what was "
                        "computed.");
  }

  const std::string* token = FindHeader(request, "x-amz-security-token");
  const std::string& expected_token = key->second.session_token;
  const bool token_ok = token == nullptr
                            ? expected_token.empty()
                            : !expected_token.empty() && ConstantTimeEquals(*token, expected_token);
  if (!token_ok) {
    return AwsAuthError("UnrecognizedClientException",
                        "The security token included in the request is invalid");
  }
  return SigV4Signer{key->second.access_key_id, std::string(region)};
}

}  // namespace hpd::server
