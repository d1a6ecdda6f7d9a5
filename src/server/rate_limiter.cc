#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace hpd::server {

RateLimiter::RateLimiter(const Clock& clock, double per_second, double burst)
    : clock_(clock),
      per_second_(per_second > 0 ? per_second : 1e-9),
      burst_(burst >= 1 ? burst : 1) {}

RateLimiter::Decision RateLimiter::Take(std::string_view key) {
  const MonotonicTime now = clock_.MonotonicNow();
  std::lock_guard lock(mu_);
  auto [it, inserted] = buckets_.try_emplace(std::string(key));
  Bucket& bucket = it->second;
  if (inserted) {
    bucket.tokens = burst_;
  } else {
    const double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
    if (elapsed > 0) bucket.tokens = std::min(burst_, bucket.tokens + elapsed * per_second_);
  }
  bucket.refilled = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return {};
  }
  const double wait = (1 - bucket.tokens) / per_second_;
  return {false, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)))};
}

}  // namespace hpd::server
