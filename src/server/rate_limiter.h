// Per-key token buckets (the key: an API token's name): `burst` requests at once, refilled at
// `per_second`. Time comes from the injected Clock's monotonic reading.
//
// Thread-safe.
#ifndef HPD_SERVER_RATE_LIMITER_H_
#define HPD_SERVER_RATE_LIMITER_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace hpd::server {

class RateLimiter {
 public:
  // `per_second` > 0 and `burst` >= 1 (smaller values are raised to those).
  RateLimiter(const Clock& clock, double per_second, double burst);

  struct Decision {
    bool allowed = true;
    // When refused: whole seconds (>= 1) until a request would be allowed, for Retry-After.
    int64_t retry_after_seconds = 0;
  };
  // Takes one token from `key`'s bucket (created full on first use).
  Decision Take(std::string_view key);

 private:
  struct Bucket {
    double tokens = 0;
    MonotonicTime refilled{};
  };

  const Clock& clock_;
  const double per_second_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mu_
};

}  // namespace hpd::server

#endif  // HPD_SERVER_RATE_LIMITER_H_
