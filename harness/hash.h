// A fast, platform-stable, non-cryptographic 64-bit hash for chunk checksums and the event
// digest, our own construction from standard parts. The bulk loop keeps four independent
// accumulators and feeds each 16 bytes through one 64x64->128-bit multiply folded to 64 bits
// (each half keyed by a different constant), so a chunk is checksummed at about 16 bytes per
// multiply, fast enough that verifying every chunk costs little next to decoding it. The lanes
// are then merged, the tail is folded in word by word and a final avalanche spreads every input
// bit over the result. It detects accidental damage (flipped bytes, cut or shifted data); it is
// not meant to resist someone forging a trace. Words are read little-endian on every
// host, so the value of a given byte string is the same everywhere; it is part of the trace
// format and must never change.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace flowid::hash {

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

inline void store_le64(unsigned char* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
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

// The 128-bit product of x and y, high half xor low half.
inline uint64_t folded_multiply(uint64_t x, uint64_t y) {
  const unsigned __int128 product = static_cast<unsigned __int128>(x) * y;
  return static_cast<uint64_t>(product) ^ static_cast<uint64_t>(product >> 64);
}

inline constexpr std::size_t kBlockBytes = 64;

// bytes() of an input of 64 bytes or more, taken apart so that a long input (a chunk payload) can
// be hashed a few blocks at a time: a Blocks state fed every whole 64-byte block of the input in
// order, then finish()ed with the remaining size % 64 bytes, gives exactly bytes()'s value.
struct Blocks {
  explicit Blocks(uint64_t seed)
      : a_(seed + kMulA), b_(seed + kMulB), c_(seed + kMulC), d_(seed + kMulD) {}

  // Folds in `count` whole blocks starting at p.
  void feed(const unsigned char* p, std::size_t count) {
    uint64_t a = a_, b = b_, c = c_, d = d_;  // in registers (p may alias *this).
    for (const unsigned char* const end = p + count * kBlockBytes; p != end; p += kBlockBytes) {
      // Each lane also rotates, so that swapping two 64-byte blocks changes the result.
      a = std::rotl(a, 23) + folded_multiply(load_le64(p) ^ kMulA, load_le64(p + 8) ^ kMulB);
      b = std::rotl(b, 23) + folded_multiply(load_le64(p + 16) ^ kMulC, load_le64(p + 24) ^ kMulD);
      c = std::rotl(c, 23) + folded_multiply(load_le64(p + 32) ^ kMulB, load_le64(p + 40) ^ kMulC);
      d = std::rotl(d, 23) + folded_multiply(load_le64(p + 48) ^ kMulD, load_le64(p + 56) ^ kMulA);
    }
    a_ = a;
    b_ = b;
    c_ = c;
    d_ = d;
  }

  // The hash of the whole input: `size` bytes in all, of which the last size % 64 (at tail)
  // were not fed as blocks.
  uint64_t finish(const unsigned char* tail, std::size_t size) const;

 private:
  uint64_t a_, b_, c_, d_;  // the four lanes.
};

// The common end of bytes(): the size, the bytes after the last whole block, the avalanche.
inline uint64_t finish_tail(uint64_t h, const unsigned char* p, std::size_t tail_bytes,
                            std::size_t size) {
  const unsigned char* const end = p + tail_bytes;
  h += static_cast<uint64_t>(size);
  for (; p + 8 <= end; p += 8) h = fold(h, load_le64(p));
  if (p + 4 <= end) {
    h = fold(h, load_le32(p) ^ 0x0400000000000000ULL);
    p += 4;
  }
  for (; p < end; ++p) h = fold(h, static_cast<uint64_t>(*p) ^ 0x0100000000000000ULL);
  return avalanche(h);
}

inline uint64_t Blocks::finish(const unsigned char* tail, std::size_t size) const {
  uint64_t h = std::rotl(a_, 1) + std::rotl(b_, 7) + std::rotl(c_, 12) + std::rotl(d_, 18);
  h = fold(h, a_);
  h = fold(h, b_);
  h = fold(h, c_);
  h = fold(h, d_);
  return finish_tail(h, tail, size % kBlockBytes, size);
}

inline uint64_t bytes(uint64_t seed, const void* data, std::size_t size) {
  const auto* p = static_cast<const unsigned char*>(data);
  if (size < kBlockBytes) return finish_tail(seed + kMulD, p, size, size);
  Blocks blocks(seed);
  const std::size_t count = size / kBlockBytes;
  blocks.feed(p, count);
  return blocks.finish(p + count * kBlockBytes, size);
}

inline uint64_t bytes(uint64_t seed, std::string_view s) { return bytes(seed, s.data(), s.size()); }

}  // namespace flowid::hash
