// A 64-bit fold over the values that make up a state, for telling states apart cheaply (flowid
// explore prunes a schedule whose state it has already expanded). Stable on every platform: the
// same values in the same order give the same hash. Not a cryptographic hash.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "harness/model.h"
#include "harness/random.h"

namespace flowid {

class StateHash final {
 public:
  explicit StateHash(uint64_t seed = 0x666c6f7769642121ULL) : h_(seed) {}

  StateHash& add(uint64_t value) {
    h_ = mix64(h_ ^ (value + 0x9e3779b97f4a7c15ULL));
    return *this;
  }
  // Bytes, length first (so that "ab","c" and "a","bc" differ). FNV-1a over the bytes.
  StateHash& add(std::string_view bytes) {
    uint64_t f = 0xcbf29ce484222325ULL;
    for (unsigned char c : bytes) f = (f ^ c) * 0x100000001b3ULL;
    return add(bytes.size()).add(f);
  }
  StateHash& add(const AuditToken& token) {
    for (uint32_t word : token.words) add(word);
    return *this;
  }
  template <typename T>
  StateHash& add(const std::optional<T>& value) {
    add(static_cast<uint64_t>(value.has_value()));
    if (value) add(*value);
    return *this;
  }
  StateHash& add(const Cdhash& cdhash) {
    uint64_t word = 0;
    for (std::size_t i = 0; i < cdhash.size(); ++i) {
      word = (word << 8) | cdhash[i];
      if (i % 8 == 7 || i + 1 == cdhash.size()) add(word), word = 0;
    }
    return *this;
  }
  StateHash& add(const CodeIdentity& identity) {
    add(identity.path).add(identity.cdhash).add(identity.signing_id).add(identity.team_id);
    return add((static_cast<uint64_t>(identity.platform) << 16) |
               (static_cast<uint64_t>(identity.signature) << 8) |
               static_cast<uint64_t>(identity.hardened_runtime));
  }
  StateHash& add(const LookupOutcome& outcome) {
    return add((static_cast<uint64_t>(outcome.domain) << 32) | static_cast<uint32_t>(outcome.code));
  }

  uint64_t value() const { return h_; }

 private:
  uint64_t h_;
};

}  // namespace flowid
