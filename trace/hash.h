// A fast, platform-stable, non-cryptographic 64-bit hash for chunk checksums and the event
// digest. It is our own construction in the usual multiply-rotate family: four independent lanes
// eat 32 bytes per step (so checksumming a chunk runs at memory speed rather than at one
// multiply latency per word), then the lanes are merged, the tail is folded in word by word and a
// final avalanche spreads every input bit over the result. Words are read little-endian on every
// host, so the value of a given byte string is the same everywhere; it is part of the trace
// format and must never change.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace flowid::trace::hash {

inline constexpr uint64_t kMulA = 0x9E3779B97F4A7C15ULL;  // 2^64 / golden ratio.
inline constexpr uint64_t kMulB = 0xD6E8FEB86659FD93ULL;
inline constexpr uint64_t kMulC = 0xFF51AFD7ED558CCDULL;
inline constexpr uint64_t kMulD = 0xC4CEB9FE1A85EC53ULL;

inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

inline uint64_t load_le32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

inline uint64_t lane_step(uint64_t lane, uint64_t word) {
  return std::rotl(lane + word * kMulB, 31) * kMulA;
}

inline uint64_t avalanche(uint64_t h) {
  h ^= h >> 32;
  h *= kMulC;
  h ^= h >> 29;
  h *= kMulD;
  h ^= h >> 32;
  return h;
}

// Folds one 64-bit value into a running state (used for fixed-width fields of the digest).
inline uint64_t fold(uint64_t state, uint64_t value) {
  return std::rotl(state ^ lane_step(0, value), 27) * kMulA + kMulD;
}

inline uint64_t bytes(uint64_t seed, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  const unsigned char* const end = p + size;
  uint64_t h;
  if (size >= 32) {
    uint64_t a = seed + kMulA + kMulB;
    uint64_t b = seed + kMulB;
    uint64_t c = seed;
    uint64_t d = seed - kMulA;
    const unsigned char* const block_end = end - 32;
    do {
      a = lane_step(a, load_le64(p));
      b = lane_step(b, load_le64(p + 8));
      c = lane_step(c, load_le64(p + 16));
      d = lane_step(d, load_le64(p + 24));
      p += 32;
    } while (p <= block_end);
    h = std::rotl(a, 1) + std::rotl(b, 7) + std::rotl(c, 12) + std::rotl(d, 18);
    h = fold(h, a);
    h = fold(h, b);
    h = fold(h, c);
    h = fold(h, d);
  } else {
    h = seed + kMulD;
  }
  h += static_cast<uint64_t>(size);
  for (; p + 8 <= end; p += 8) h = fold(h, load_le64(p));
  if (p + 4 <= end) {
    h = fold(h, load_le32(p) ^ 0x0400000000000000ULL);
    p += 4;
  }
  for (; p < end; ++p) h = fold(h, static_cast<uint64_t>(*p) ^ 0x0100000000000000ULL);
  return avalanche(h);
}

inline uint64_t bytes(uint64_t seed, std::string_view s) { return bytes(seed, s.data(), s.size()); }

}  // namespace flowid::trace::hash
