// SHA-256 (FIPS 180-4), written for the recorder so that hashing an executable needs no new
// dependency. The recorder uses the first 20 bytes of an executable's SHA-256 as its Linux
// "cdhash" (see docs/recording.md): rules keyed on a cdhash then work for Linux traces too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace flowid::recorder {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hasher: update() any number of times, then finish() once.
class Sha256 final {
 public:
  Sha256();
  void update(const void* data, std::size_t size_bytes);
  Sha256Digest finish();

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_{};
  std::array<uint8_t, 64> buffer_{};
  std::size_t buffered_bytes_ = 0;
  uint64_t total_bytes_ = 0;
};

Sha256Digest sha256(std::string_view bytes);

}  // namespace flowid::recorder
