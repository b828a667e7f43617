// A small deterministic pseudo-random generator for the pure core.
//
// harness/ never reads std::random_device, the wall clock or a global RNG: every random choice in
// a simulated run comes from one 64-bit seed through this generator, so that the same seed
// replays the same run on every platform. The algorithm is splitmix64 (public domain, by
// Sebastiano Vigna): one 64-bit word of state, a full period of 2^64, and good enough statistical
// quality for choosing fault points and field values. It is not for cryptography.
#pragma once

#include <cstdint>

namespace flowid {

class SplitMix64 final {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // A value in [0, bound). bound == 0 answers 0. Uses the multiply-shift reduction: the tiny bias
  // (at most bound / 2^64) does not matter for simulation choices and keeps the call branch-free.
  uint64_t below(uint64_t bound) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

  // True with probability numerator / denominator (denominator > 0).
  bool chance(uint64_t numerator, uint64_t denominator) { return below(denominator) < numerator; }

  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
};

// One splitmix64 step as a pure function: a cheap, stable 64-bit mix of a value (used to derive
// identifiers such as flow UUIDs from a seed and a counter without touching a generator).
inline uint64_t mix64(uint64_t value) {
  uint64_t z = value + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace flowid
