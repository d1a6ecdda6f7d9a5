// RFC 4122 version-4 (random) UUIDs, as States.UUID() and execution names use them.
#ifndef HPD_COMMON_UUID_H_
#define HPD_COMMON_UUID_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "common/random.h"

namespace hpd {

// A random UUID in canonical lowercase 8-4-4-4-12 form with version 4 and the RFC 4122 variant,
// e.g. "3b241101-e2bb-4255-8caf-4136c566a962". Draws exactly two values from `random`.
std::string NewUuidV4(RandomSource& random);

inline constexpr std::size_t kUuidLength = 36;

// NewUuidV4 without the allocation, for hot paths: writes the same 36 characters (no terminating
// NUL) into `out`, drawing the same two values from `random`.
void FormatUuidV4(RandomSource& random, char (&out)[kUuidLength]);

// True if `text` has the canonical UUID shape: 36 characters, hex digits (either case) with hyphens
// at positions 8, 13, 18 and 23. Any version and variant is accepted.
bool IsUuid(std::string_view text);

}  // namespace hpd

#endif  // HPD_COMMON_UUID_H_
