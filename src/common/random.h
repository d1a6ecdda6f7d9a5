// Randomness as an injected dependency (retry jitter, States.UUID, States.MathRandom, ids).
//
// Logic takes a RandomSource&; production passes a SystemRandom, tests and replays a SeededRandom
// whose sequence is fixed by its seed.
#ifndef HPD_COMMON_RANDOM_H_
#define HPD_COMMON_RANDOM_H_

#include <array>
#include <cstdint>
#include <mutex>
#include <string>

namespace hpd {

class RandomSource {
 public:
  virtual ~RandomSource() = default;

  // 64 uniformly distributed bits.
  virtual std::uint64_t Next() = 0;

  // Uniform in [0, 1), with 53 bits of precision (one Next() call). Overridable so a test fake can
  // return chosen values.
  virtual double NextDouble();

  // Uniform in [0, n) without modulo bias. Requires n > 0 (asserted; returns 0 for n == 0 in
  // release builds). Consumes one Next() call, occasionally more.
  virtual std::uint64_t Uniform(std::uint64_t n);
};

// xoshiro256** (Blackman & Vigna) seeded from std::random_device. Not for cryptographic use.
// Thread-safe: calls are serialized by an internal mutex.
class SystemRandom final : public RandomSource {
 public:
  SystemRandom();
  std::uint64_t Next() override;

 private:
  std::mutex mu_;
  std::array<std::uint64_t, 4> state_;  // Guarded by mu_.
};

// Deterministic xoshiro256** whose 256-bit state is expanded from `seed` with splitmix64, as the
// algorithm's authors recommend. The sequence for a given seed is part of this class's contract
// (replays depend on it) and is pinned by tests. Thread-compatible; copying forks the sequence.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::uint64_t seed);
  std::uint64_t Next() override;

 private:
  std::array<std::uint64_t, 4> state_;
};

// `digits` random lowercase hex digits (16 per Next() call), for ids such as ECS task ids and
// X-Ray trace ids.
std::string RandomHex(RandomSource& random, std::size_t digits);

}  // namespace hpd

#endif  // HPD_COMMON_RANDOM_H_
