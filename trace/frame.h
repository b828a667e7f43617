// The byte framing of a trace file (layout: trace/trace.h), shared by writer and reader
// (and by the trace tests, which build unusual frames). Nothing outside trace/ and tests/ uses it.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "harness/hash.h"

namespace flowid::trace {
// The hash lives in the core (the canonical event digest uses it too); the codec names it hash::.
namespace hash = ::flowid::hash;
}  // namespace flowid::trace

namespace flowid::trace::frame {

inline constexpr char kFileMagic[8] = {'F', 'L', 'O', 'W', 'I', 'D', 'T', 'R'};
inline constexpr std::size_t kPreambleBytes = 16;
inline constexpr uint32_t kChunkMagic = 0x4b434c46;  // "FLCK" read little-endian.
inline constexpr std::size_t kFrameHeaderBytes = 32;
inline constexpr std::size_t kHeaderCheckedBytes = 20;  // the fields covered by header_check.
inline constexpr uint64_t kHeaderCheckSeed = 0x666c636b68647201ULL;
inline constexpr uint64_t kPayloadCheckSeed = 0x666c636b70796c01ULL;

enum class ChunkKind : uint8_t { kHeader = 0, kEvents = 1, kFooter = 2 };
inline constexpr uint16_t kFlagPacked = 1;

inline constexpr uint64_t padded8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

struct FrameHeader {
  uint32_t magic = kChunkMagic;
  uint8_t kind = 0;
  uint8_t compression = 0;
  uint16_t flags = 0;
  uint32_t stored_bytes = 0;
  uint32_t raw_bytes = 0;
  uint32_t event_count = 0;
  uint32_t header_check = 0;
  uint64_t checksum = 0;
};

inline void store_le(unsigned char* p, uint64_t v, std::size_t width) {
  for (std::size_t i = 0; i < width; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline uint64_t load_le(const unsigned char* p, std::size_t width) {
  if constexpr (std::endian::native == std::endian::little) {
    // One unaligned load (the reader checks every 8-byte position of a damaged file this way).
    switch (width) {
      case 2: {
        uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
      }
      case 4: {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
      }
      case 8: {
        uint64_t v;
        std::memcpy(&v, p, 8);
        return v;
      }
      default:
        break;
    }
  }
  uint64_t v = 0;
  for (std::size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline uint32_t header_check_of(const unsigned char* header_bytes) {
  return static_cast<uint32_t>(hash::bytes(kHeaderCheckSeed, header_bytes, kHeaderCheckedBytes));
}

// Encodes h into out[0..32), computing header_check (the caller has set checksum).
inline void encode(FrameHeader h, unsigned char* out) {
  store_le(out + 0, h.magic, 4);
  out[4] = h.kind;
  out[5] = h.compression;
  store_le(out + 6, h.flags, 2);
  store_le(out + 8, h.stored_bytes, 4);
  store_le(out + 12, h.raw_bytes, 4);
  store_le(out + 16, h.event_count, 4);
  store_le(out + 20, header_check_of(out), 4);
  store_le(out + 24, h.checksum, 8);
}

inline FrameHeader decode(const unsigned char* in) {
  FrameHeader h;
  h.magic = static_cast<uint32_t>(load_le(in + 0, 4));
  h.kind = in[4];
  h.compression = in[5];
  h.flags = static_cast<uint16_t>(load_le(in + 6, 2));
  h.stored_bytes = static_cast<uint32_t>(load_le(in + 8, 4));
  h.raw_bytes = static_cast<uint32_t>(load_le(in + 12, 4));
  h.event_count = static_cast<uint32_t>(load_le(in + 16, 4));
  h.header_check = static_cast<uint32_t>(load_le(in + 20, 4));
  h.checksum = load_le(in + 24, 8);
  return h;
}

// Appends one whole frame (header, payload, zero padding) to out. raw_bytes is the size of the
// message before packing/compression (equal to payload.size() for a plain payload). Tests use
// this to build traces the writer never would (newer schemas, hostile chunks).
inline void append_frame(std::string& out, ChunkKind kind, std::string_view payload,
                         uint32_t event_count, uint32_t raw_bytes, uint8_t compression = 0,
                         uint16_t flags = 0) {
  FrameHeader h;
  h.kind = static_cast<uint8_t>(kind);
  h.compression = compression;
  h.flags = flags;
  h.stored_bytes = static_cast<uint32_t>(payload.size());
  h.raw_bytes = raw_bytes;
  h.event_count = event_count;
  const std::size_t start = out.size();
  out.append(kFrameHeaderBytes, '\0');
  out.append(payload);
  out.append(padded8(payload.size()) - payload.size(), '\0');
  const auto* base = reinterpret_cast<const unsigned char*>(out.data()) + start;
  h.checksum = hash::bytes(kPayloadCheckSeed, base + kFrameHeaderBytes, padded8(payload.size()));
  encode(h, reinterpret_cast<unsigned char*>(out.data()) + start);
}

// The 16-byte file preamble.
inline std::string preamble(uint32_t format_version) {
  std::string out(kFileMagic, sizeof kFileMagic);
  out.append(8, '\0');
  store_le(reinterpret_cast<unsigned char*>(out.data()) + 8, format_version, 4);
  return out;
}

inline bool header_valid(const unsigned char* in) {
  return load_le(in, 4) == kChunkMagic && load_le(in + 20, 4) == header_check_of(in);
}

}  // namespace flowid::trace::frame
