#include "common/uuid.h"

#include <cstdint>

namespace hpd {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

void FormatUuidV4(RandomSource& random, char (&out)[kUuidLength]) {
  std::uint64_t high = random.Next();
  std::uint64_t low = random.Next();
  high = (high & ~0xF000ULL) | 0x4000ULL;            // Version 4 in bits 12..15 of time_hi.
  low = (low & ~(0xC0ULL << 56)) | (0x80ULL << 56);  // Variant 10xx in clock_seq_hi.

  char* next = out;
  auto append_hex = [&next](std::uint64_t word, int first_nibble, int count) {
    for (int i = first_nibble; i < first_nibble + count; ++i) {
      *next++ = kHexDigits[(word >> (60 - 4 * i)) & 0xF];
    }
  };
  append_hex(high, 0, 8);
  *next++ = '-';
  append_hex(high, 8, 4);
  *next++ = '-';
  append_hex(high, 12, 4);
  *next++ = '-';
  append_hex(low, 0, 4);
  *next++ = '-';
  append_hex(low, 4, 12);
}

std::string NewUuidV4(RandomSource& random) {
  char text[kUuidLength];
  FormatUuidV4(random, text);
  return std::string(text, kUuidLength);
}

bool IsUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return false;
    } else if (!IsHexDigit(text[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace hpd
