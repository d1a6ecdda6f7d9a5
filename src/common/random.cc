#include "common/random.h"

#include <cassert>
#include <random>

namespace hpd {
namespace {

std::uint64_t SplitMix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t Rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::uint64_t Xoshiro256StarStar(std::array<std::uint64_t, 4>& s) {
  const std::uint64_t result = Rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = Rotl(s[3], 45);
  return result;
}

std::array<std::uint64_t, 4> ExpandSeed(std::uint64_t seed) {
  std::array<std::uint64_t, 4> state;
  for (auto& word : state) word = SplitMix64(seed);
  return state;
}

}  // namespace

double RandomSource::NextDouble() {
  // The top 53 bits scaled by 2^-53: every value is exact and strictly below 1.
  return static_cast<double>(Next() >> 11) * 0x1.0p-53;
}

std::uint64_t RandomSource::Uniform(std::uint64_t n) {
  assert(n > 0);
  if (n == 0) return 0;
  // Reject the 2^64 mod n smallest values so that what remains is a whole number of copies of
  // [0, n); fewer than one draw in two is rejected in the worst case.
  const std::uint64_t threshold = (0 - n) % n;
  while (true) {
    const std::uint64_t r = Next();
    if (r >= threshold) return r % n;
  }
}

SystemRandom::SystemRandom() {
  std::random_device device;
  std::uint64_t seed_material = 0;
  for (auto& word : state_) {
    // random_device yields 32-bit values; mix two of them through splitmix64 so no word is zero.
    seed_material ^= (static_cast<std::uint64_t>(device()) << 32) | device();
    word = SplitMix64(seed_material);
  }
}

std::uint64_t SystemRandom::Next() {
  std::lock_guard<std::mutex> lock(mu_);
  return Xoshiro256StarStar(state_);
}

SeededRandom::SeededRandom(std::uint64_t seed) : state_(ExpandSeed(seed)) {}

std::uint64_t SeededRandom::Next() { return Xoshiro256StarStar(state_); }

std::string RandomHex(RandomSource& random, std::size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    uint64_t bits = random.Next();
    for (int i = 0; i < 16 && out.size() < digits; ++i, bits >>= 4) out.push_back(kHex[bits & 15]);
  }
  return out;
}

}  // namespace hpd
