// Base64 encoding (RFC 4648 section 4: the standard alphabet, '=' padding), as States.Base64Encode
// and Lambda's LogResult use it.
#ifndef HPD_COMMON_BASE64_H_
#define HPD_COMMON_BASE64_H_

#include <string>
#include <string_view>

namespace hpd {

std::string Base64Encode(std::string_view bytes);

}  // namespace hpd

#endif  // HPD_COMMON_BASE64_H_
