#include "common/utf8.h"

namespace hpd {
namespace {

constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

// What a lead byte promises: the length of its sequence and the range its second byte must fall
// in (narrower than 0x80..0xBF where a wider range would allow an overlong form, a surrogate or a
// code point beyond U+10FFFF). length is 0 for bytes that cannot lead a multi-byte sequence.
struct LeadByte {
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xBF;
};

LeadByte DescribeLeadByte(unsigned char lead) {
  LeadByte out;
  if (lead >= 0xC2 && lead <= 0xDF) {
    out.length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    out.length = 3;
    if (lead == 0xE0) out.second_min = 0xA0;
    if (lead == 0xED) out.second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    out.length = 4;
    if (lead == 0xF0) out.second_min = 0x90;
    if (lead == 0xF4) out.second_max = 0x8F;
  }
  return out;
}

// How many bytes from text[i] (a lead byte described by `lead`) begin a well-formed sequence:
// lead.length for a whole one, fewer where it is cut short or broken.
std::size_t WellFormedPrefixLength(std::string_view text, std::size_t i, const LeadByte& lead) {
  std::size_t k = 1;
  for (; k < lead.length && i + k < text.size(); ++k) {
    const auto c = static_cast<unsigned char>(text[i + k]);
    const bool continues =
        k == 1 ? c >= lead.second_min && c <= lead.second_max : (c & 0xC0) == 0x80;
    if (!continues) break;
  }
  return k;
}

}  // namespace

std::size_t Utf8SequenceLength(std::string_view text, std::size_t i) {
  const auto c = static_cast<unsigned char>(text[i]);
  if (c < 0x80) return 1;
  const LeadByte lead = DescribeLeadByte(c);
  if (lead.length == 0) return 0;
  return WellFormedPrefixLength(text, i, lead) == lead.length ? lead.length : 0;
}

char32_t DecodeUtf8(std::string_view text, std::size_t* pos) {
  const std::size_t length = Utf8SequenceLength(text, *pos);
  if (length == 0) {
    ++*pos;
    return kReplacementCharacter;
  }
  const auto lead = static_cast<unsigned char>(text[*pos]);
  // The lead byte keeps 7 bits of an ASCII character, 5, 4 or 3 of a longer sequence.
  char32_t code_point = length == 1 ? lead : lead & (0x7Fu >> length);
  for (std::size_t k = 1; k < length; ++k) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[*pos + k]) & 0x3Fu);
  }
  *pos += length;
  return code_point;
}

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (std::size_t i = 0; i < bytes.size();) {
    const std::size_t length = Utf8SequenceLength(bytes, i);
    if (length > 0) {
      out.append(bytes.substr(i, length));
      i += length;
      continue;
    }
    out.append(kReplacementUtf8);
    i += WellFormedPrefixLength(bytes, i, DescribeLeadByte(static_cast<unsigned char>(bytes[i])));
  }
  return out;
}

bool IsWellFormedUtf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t length = Utf8SequenceLength(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string_view Utf8Prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Back over continuation bytes (10xxxxxx) to the start of the sequence that was cut.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace hpd
