// Well-formed UTF-8 as RFC 3629 defines it: no overlong forms, no UTF-16 surrogates, nothing
// above U+10FFFF. Strings reach the engine from outside (Base64-decoded bytes, substituted
// definitions), so code that walks them by code point checks each sequence here.
#ifndef HPD_COMMON_UTF8_H_
#define HPD_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace hpd {

inline constexpr char32_t kReplacementCharacter = 0xFFFD;

// Length (1 to 4) of the well-formed sequence that starts at text[i], or 0 if none does: a stray
// continuation byte, a byte that never starts a sequence, or a sequence that is truncated,
// overlong, a surrogate or beyond U+10FFFF. Requires i < text.size().
std::size_t Utf8SequenceLength(std::string_view text, std::size_t i);

// True when all of `text` is well-formed UTF-8.
bool IsWellFormedUtf8(std::string_view text);

// The code point at text[*pos], advancing *pos past it; where no well-formed sequence starts,
// U+FFFD, advancing one byte. Requires *pos < text.size().
char32_t DecodeUtf8(std::string_view text, std::size_t* pos);

// `bytes` with each maximal ill-formed subpart (the lead byte and the continuation bytes that
// could still have completed a sequence) replaced by U+FFFD, as Unicode recommends and Java's
// new String(bytes, UTF_8) decodes.
std::string SanitizeUtf8(std::string_view bytes);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a UTF-8
// sequence (a limit counted in bytes, such as a parameter value's, cuts at a character boundary).
std::string_view Utf8Prefix(std::string_view text, std::size_t max_bytes);

}  // namespace hpd

#endif  // HPD_COMMON_UTF8_H_
