// Message digests over OpenSSL (libcrypto): SHA-256 for SigV4 and content addressing, MD5 for
// S3-style ETags, HMAC-SHA256 for signatures; and OpenSSL's CSPRNG for secrets. Thread-safe.
#ifndef HPD_COMMON_DIGEST_H_
#define HPD_COMMON_DIGEST_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hpd {

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Lower-case hex MD5 of `data` (S3's ETag of a single-part object, not for security).
std::string Md5Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);

// `count` bytes from OpenSSL's cryptographically secure generator (RAND_bytes), for secrets such
// as API tokens; unlike RandomSource (common/random.h) never seeded or replayable. kUnavailable
// when the generator cannot produce them (not seeded: no entropy source).
[[nodiscard]] StatusOr<std::string> SecureRandomBytes(std::size_t count);

}  // namespace hpd

#endif  // HPD_COMMON_DIGEST_H_
