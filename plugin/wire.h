// The isolation worker's wire format: frames over a stream socket, the codec of the plugin ABI's
// structs and of a fuzz case's verdict, and the socket carrying them.
//
// A frame is a 32-bit length (host byte order: both ends are the same binary on the same machine)
// and a payload whose first byte is the message type (Msg). Strings are a 32-bit length and the
// bytes. Decoding never reads past the payload: a short or malformed payload makes Reader::ok()
// false and every later read answer zeros, so a broken peer is detected, never trusted.
// tests/plugin_wire_test.cc round-trips every message body.
#pragma once

#include <flowid/plugin.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "harness/fuzz/property.h"
#include "harness/oracle.h"
#include "harness/seam_calls.h"

namespace flowid::plugin::wire {

enum class Msg : uint8_t {
  // flowid -> worker
  kCreate = 1,     // u64 instance id
  kDestroy = 2,    // u64 instance id
  kResolve = 3,    // u64 id, flow, u64 now_ns
  kDecide = 4,     // u64 id, flow, attribution
  kLaunch = 5,     // u64 id, str path, str requirement
  kSeamReply = 6,  // the answer to the worker's last kSeamCall
  // worker -> flowid
  kCreated = 16,    // u8 ok
  kDestroyed = 17,  //
  kResolved = 18,   // attribution
  kDecided = 19,    // i32 returned, u32 decision
  kLaunched = 20,   // launch result
  kSeamCall = 21,   // u8 call, arguments
  // A whole fuzz case run inside the worker (one round trip per case).
  kCase = 7,          // u8 launcher, oracle options, u32 count, count x str scenario text
  kCaseChecked = 22,  // count x (u8 completed, then when completed the case verdict)
  // Whole fuzz cases generated AND run inside the worker, from the campaign's parameters.
  kGenerate = 8,    // case batch (put_case_batch)
  kGenerated = 23,  // count x (u32 enabled, u32 injected, case verdict)
};

// A seam call of the worker: the plugin ABI's calls (harness/seam_calls.h's macOS and launch
// lists) numbered from 1 in list order. 0 is no call.
enum class Call : uint8_t {
  kNone = 0,
#define FLOWID_WIRE_CALL(enumerator, number, name, method, capnp) enumerator,
  FLOWID_MACOS_LOOKUP_CALLS(FLOWID_WIRE_CALL) FLOWID_LAUNCH_CALLS(FLOWID_WIRE_CALL)
#undef FLOWID_WIRE_CALL
      kEnd,  // one past the last call.
};
static_assert(static_cast<uint8_t>(Call::kGuestByAuditToken) == 1 &&
                  static_cast<uint8_t>(Call::kResponsiblePid) == 12 &&
                  static_cast<uint8_t>(Call::kCheckFile) == 13 &&
                  static_cast<uint8_t>(Call::kKill) == 19,
              "the worker's call numbers are those of the first plugin host");

constexpr uint32_t kFrameBytesMax = 64u << 20;

class Writer {
 public:
  explicit Writer(Msg type) {
    buffer_.resize(4);
    u8(static_cast<uint8_t>(type));
  }
  void u8(uint8_t v) { buffer_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { raw(&v, sizeof v); }
  void i32(int32_t v) { raw(&v, sizeof v); }
  void u64(uint64_t v) { raw(&v, sizeof v); }
  void bytes(const void* data, std::size_t size) { raw(data, size); }
  void str(const char* data, std::size_t size) {
    if (data == nullptr) size = 0;
    u32(static_cast<uint32_t>(size));
    raw(data, size);
  }
  void cstr(const char* s) { str(s, s == nullptr ? 0 : std::strlen(s)); }
  void token(const flowid_audit_token& t) { raw(t.words, sizeof t.words); }
  void outcome(flowid_outcome o) {
    i32(o.domain);
    i32(o.code);
  }
  // The frame with its length filled in.
  const std::string& frame() {
    const uint32_t size = static_cast<uint32_t>(buffer_.size() - 4);
    std::memcpy(buffer_.data(), &size, sizeof size);
    return buffer_;
  }

 private:
  void raw(const void* data, std::size_t size) {
    if (size > 0) buffer_.append(static_cast<const char*>(data), size);
  }
  std::string buffer_;
};

// Reads a payload; any read past the end makes ok() false and answers zeros.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && at_ == data_.size(); }
  uint8_t u8() { return scalar<uint8_t>(); }
  uint32_t u32() { return scalar<uint32_t>(); }
  int32_t i32() { return scalar<int32_t>(); }
  uint64_t u64() { return scalar<uint64_t>(); }
  std::string_view take(std::size_t size) {
    if (!ok_ || data_.size() - at_ < size) {
      ok_ = false;
      return {};
    }
    std::string_view out = data_.substr(at_, size);
    at_ += size;
    return out;
  }
  std::string_view str() { return take(u32()); }
  flowid_audit_token token() {
    flowid_audit_token t{};
    const std::string_view raw = take(sizeof t.words);
    if (ok_) std::memcpy(t.words, raw.data(), sizeof t.words);
    return t;
  }
  flowid_outcome outcome() {
    flowid_outcome o{};
    o.domain = i32();
    o.code = i32();
    return o;
  }

 private:
  template <typename T>
  T scalar() {
    T value{};
    const std::string_view raw = take(sizeof value);
    if (ok_) std::memcpy(&value, raw.data(), sizeof value);
    return value;
  }
  std::string_view data_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

// The plugin ABI's structs on the wire. A Decoded* object owns the strings its C view (`c`)
// points into: do not copy or move it after decoding.
void put_flow(Writer& w, const flowid_flow& f);
struct DecodedFlow {
  std::string app_identifier, hostname, remote_hostname, remote_address;
  flowid_flow c{};
};
void get_flow(Reader& r, DecodedFlow& out);

void put_identity(Writer& w, const flowid_code_identity& id);
struct DecodedIdentity {
  std::string path, signing_id, team_id;
  flowid_code_identity c{};  // strings NUL-terminated, as the ABI says.
};
void get_identity(Reader& r, DecodedIdentity& out);

void put_attribution(Writer& w, const flowid_attribution& a);
struct DecodedAttribution {
  DecodedIdentity identity;
  std::string method;
  flowid_attribution c{};
};
void get_attribution(Reader& r, DecodedAttribution& out);

void put_launch_result(Writer& w, const flowid_launch_result& l);
struct DecodedLaunchResult {
  std::string method;
  flowid_launch_result c{};
};
void get_launch_result(Reader& r, DecodedLaunchResult& out);

// What the oracle of a case run in the worker is told, and what the worker answers.
void put_oracle_options(Writer& w, const OracleOptions& options);
OracleOptions get_oracle_options(Reader& r);
void put_verdict(Writer& w, const fuzz::CaseVerdict& verdict);
fuzz::CaseVerdict get_verdict(Reader& r);
void put_case_batch(Writer& w, const fuzz::CaseBatch& batch);
fuzz::CaseBatch get_case_batch(Reader& r);

// A stream socket carrying frames. Owns nothing: the caller closes the descriptor.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}

  // False when the peer is gone.
  bool send(const std::string& frame);

  enum class Got : uint8_t { kFrame, kClosed, kTimeout, kBroken };
  // One frame's payload. With a deadline, kTimeout once it has passed.
  Got receive(std::string* payload, std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  int fd_;
  std::string buffer_;
  std::size_t start_ = 0;
};

// Passing a descriptor over a Unix socket (SCM_RIGHTS) with a small payload: the fork server
// hands flowid each new worker's socket this way. send_fd: false on failure. receive_fd: -1 on
// failure or end of stream, else the descriptor (close-on-exec), with the payload in *payload.
bool send_fd(int socket, int fd, const std::string& payload);
int receive_fd(int socket, std::string* payload);

}  // namespace flowid::plugin::wire
