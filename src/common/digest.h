// Message digests over OpenSSL (libcrypto): SHA-256 for SigV4 and content addressing, MD5 for
// S3-style ETags, HMAC-SHA256 for signatures. Pure functions; thread-safe.
#ifndef HPD_COMMON_DIGEST_H_
#define HPD_COMMON_DIGEST_H_

#include <string>
#include <string_view>

namespace hpd {

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Lower-case hex MD5 of `data` (S3's ETag of a single-part object, not for security).
std::string Md5Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256.
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace hpd

#endif  // HPD_COMMON_DIGEST_H_
