#include "common/digest.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>

namespace hpd {
namespace {

std::string Digest(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest.data(), &size, md, nullptr);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), size));
}

}  // namespace

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) { return Digest(EVP_sha256(), data); }

std::string Md5Hex(std::string_view data) { return Digest(EVP_md5(), data); }

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &size);
  return std::string(reinterpret_cast<const char*>(mac.data()), size);
}

StatusOr<std::string> SecureRandomBytes(std::size_t count) {
  std::string bytes(count, '\0');
  // RAND_bytes takes an int count: ask in chunks so any size_t works.
  for (std::size_t done = 0; done < count;) {
    const std::size_t chunk = std::min<std::size_t>(count - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data() + done),
                   static_cast<int>(chunk)) != 1) {
      return UnavailableError("the secure random generator (OpenSSL RAND_bytes) failed");
    }
    done += chunk;
  }
  return bytes;
}

}  // namespace hpd
