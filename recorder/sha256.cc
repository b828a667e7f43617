#include "recorder/sha256.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace flowid::recorder {

void Sha256::FreeContext::operator()(evp_md_ctx_st* context) const { EVP_MD_CTX_free(context); }

// Failures here are allocation failures or a libcrypto without SHA-256: not expected faults of
// the input, so they throw (the CLI reports an internal error).
Sha256::Sha256() : context_(EVP_MD_CTX_new()) {
  if (!context_ || EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("libcrypto: cannot start a SHA-256 digest");
  }
}

void Sha256::update(const void* data, std::size_t size_bytes) {
  if (size_bytes == 0) return;
  if (EVP_DigestUpdate(context_.get(), data, size_bytes) != 1) {
    throw std::runtime_error("libcrypto: SHA-256 update failed");
  }
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(context_.get(), digest.data(), &size) != 1 || size != digest.size()) {
    throw std::runtime_error("libcrypto: SHA-256 final failed");
  }
  return digest;
}

Sha256Digest sha256(std::string_view bytes) {
  Sha256 hasher;
  hasher.update(bytes.data(), bytes.size());
  return hasher.finish();
}

}  // namespace flowid::recorder
