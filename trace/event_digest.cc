// event_digest: a canonical, field-by-field encoding of an Event folded into a 64-bit state.
//
// The encoding is defined here, not by struct memory, so the digest is the same on every
// platform and compiler: every field is folded as a 64-bit value in declaration order (signed
// values sign-extended, enums as their numeric value), an optional as a presence flag followed by
// its value when present, a string as its length followed by the hash of its bytes. Each event
// starts with its kind and time and ends with an avalanche, so the order of events matters.
// Changing anything here changes every recorded digest: treat it as part of the trace format.
#include "trace/hash.h"
#include "trace/trace.h"

namespace flowid::trace {
namespace {

constexpr uint64_t kStringSeed = 0x737472696e670001ULL;

class Folder {
 public:
  explicit Folder(uint64_t state) : state_(state) {}
  uint64_t state() const { return state_; }

  void u64(uint64_t v) { state_ = hash::fold(state_, v); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  template <typename E>
  void enumeration(E v) {
    u64(static_cast<uint64_t>(v));
  }
  void boolean(bool v) { u64(v ? 1 : 0); }
  void string(const std::string& s) {
    u64(s.size());
    u64(hash::bytes(kStringSeed, s));
  }
  template <std::size_t N>
  void byte_array(const std::array<uint8_t, N>& a) {
    u64(N);
    u64(hash::bytes(kStringSeed, a.data(), N));
  }
  void token(const AuditToken& t) {
    for (uint32_t w : t.words) u64(w);
  }
  void token(const std::optional<AuditToken>& t) {
    boolean(t.has_value());
    if (t) token(*t);
  }
  void flow_token(const FlowToken& t) {
    boolean(t.present);
    u64(t.size_bytes);
    token(t.token);
  }
  void identity(const CodeIdentity& c) {
    string(c.path);
    boolean(c.cdhash.has_value());
    if (c.cdhash) byte_array(*c.cdhash);
    string(c.signing_id);
    string(c.team_id);
    boolean(c.platform);
    enumeration(c.signature);
    boolean(c.hardened_runtime);
  }
  void identity(const std::optional<CodeIdentity>& c) {
    boolean(c.has_value());
    if (c) identity(*c);
  }
  void endpoint(const Endpoint& e) {
    string(e.address);
    u64(e.port);
  }

  void body(const ProcessSpawn& e) {
    token(e.token);
    token(e.parent);
    token(e.responsible);
    identity(e.image);
  }
  void body(const ProcessExec& e) {
    token(e.previous);
    token(e.token);
    identity(e.image);
  }
  void body(const ProcessExit& e) {
    token(e.token);
    i64(e.status);
    enumeration(e.stage);
  }
  void body(const FileChange& e) {
    enumeration(e.op);
    string(e.path);
    string(e.new_path);
    identity(e.image);
  }
  void body(const Flow& e) {
    u64(e.flow_id);
    byte_array(e.identifier);
    flow_token(e.source_app_audit_token);
    flow_token(e.source_process_audit_token);
    string(e.source_app_identifier);
    string(e.source_app_version);
    string(e.source_app_unique_identifier);
    string(e.hostname);
    string(e.remote_hostname);
    endpoint(e.local_endpoint);
    endpoint(e.remote_endpoint);
    enumeration(e.direction);
    u64(e.protocol);
    u64(e.family);
    u64(e.type);
    i64(e.proc_pid);
    i64(e.eproc_pid);
    byte_array(e.proc_uuid);
    byte_array(e.eproc_uuid);
    u64(e.in_bytes);
    u64(e.out_bytes);
  }
  void body(const Lookup& e) {
    u64(e.flow_id);
    enumeration(e.call);
    token(e.args.token);
    i64(e.args.pid);
    u64(e.args.code_handle);
    string(e.args.requirement);
    string(e.args.path);
    enumeration(e.outcome.domain);
    i64(e.outcome.code);
    u64(e.data.code_handle);
    string(e.data.path);
    token(e.data.token);
    i64(e.data.pid);
    identity(e.data.identity);
    u64(e.duration_ns);
  }
  void body(const Verdict& e) {
    u64(e.flow_id);
    enumeration(e.decision);
    enumeration(e.status);
    identity(e.identity);
    enumeration(e.label);
    string(e.rule);
  }
  void body(const Marker& e) { string(e.text); }
  void body(const DroppedEvents& e) {
    u64(e.count);
    string(e.reason);
  }

 private:
  uint64_t state_;
};

}  // namespace

uint64_t event_digest(uint64_t state, const Event& event) {
  Folder folder(state);
  folder.u64(event.body.index());
  folder.u64(event.time_ns);
  std::visit([&folder](const auto& body) { folder.body(body); }, event.body);
  return hash::avalanche(folder.state());
}

}  // namespace flowid::trace
