// SHA-256 through OpenSSL's libcrypto (EVP), for the recorder. The recorder uses the first 20
// bytes of an executable's SHA-256 as its Linux "cdhash" (see docs/recording.md): rules keyed on
// a cdhash then work for Linux traces too. A packaged, audited implementation rather than our
// own: tests/record_test.cc still checks the FIPS 180-4 vectors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace flowid::recorder {

using Sha256Digest = std::array<uint8_t, 32>;

// Incremental hasher: update() any number of times, then finish() once.
class Sha256 final {
 public:
  Sha256();
  void update(const void* data, std::size_t size_bytes);
  Sha256Digest finish();

 private:
  struct FreeContext {
    void operator()(evp_md_ctx_st* context) const;
  };
  std::unique_ptr<evp_md_ctx_st, FreeContext> context_;
};

Sha256Digest sha256(std::string_view bytes);

}  // namespace flowid::recorder
