#include "harness/builders.h"

#include <fmt/format.h>

namespace flowid::build {
namespace {

// FNV-1a 64: a small, stable hash so that builders are deterministic across platforms.
uint64_t fnv1a(std::string_view text, uint64_t seed = 0xcbf29ce484222325ULL) {
  uint64_t h = seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

CodeIdentity signed_identity(std::string_view path, std::string_view signing_id,
                             std::string_view team_id, SignatureKind kind, bool platform,
                             uint32_t content_version) {
  CodeIdentity id;
  id.path = std::string(path);
  id.cdhash = cdhash_of(fmt::format("{}#{}", path, content_version));
  id.signing_id = std::string(signing_id);
  id.team_id = std::string(team_id);
  id.platform = platform;
  id.signature = kind;
  id.hardened_runtime = kind != SignatureKind::kAdHoc;
  return id;
}

}  // namespace

AuditToken token(int32_t pid, uint32_t pidversion, uint32_t euid) {
  AuditToken t;
  t.words = {euid, euid, 20, euid, 20, static_cast<uint32_t>(pid), 100000, pidversion};
  return t;
}

FlowToken flow_token(const AuditToken& token) {
  return FlowToken{true, AuditToken::kByteSize, token};
}

FlowToken malformed_flow_token(const AuditToken& token, uint32_t size_bytes) {
  FlowToken ft{true, size_bytes, {}};
  for (std::size_t i = 0; i < AuditToken::kWordCount && (i + 1) * 4 <= size_bytes; ++i) {
    ft.token.words[i] = token.words[i];
  }
  return ft;
}

Cdhash cdhash_of(std::string_view label) {
  Cdhash h{};
  uint64_t state = fnv1a(label);
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (i % 8 == 0) state = fnv1a(label, state + i);
    h[i] = static_cast<uint8_t>(state >> ((i % 8) * 8));
  }
  return h;
}

Uuid uuid_of(uint64_t n) {
  Uuid u{};
  uint64_t a = fnv1a(fmt::format("uuid-a-{}", n));
  uint64_t b = fnv1a(fmt::format("uuid-b-{}", n));
  for (int i = 0; i < 8; ++i) {
    u[i] = static_cast<uint8_t>(a >> (i * 8));
    u[i + 8] = static_cast<uint8_t>(b >> (i * 8));
  }
  return u;
}

CodeIdentity platform_binary(std::string_view path, std::string_view signing_id,
                             uint32_t content_version) {
  return signed_identity(path, signing_id, "", SignatureKind::kPlatform, true, content_version);
}
CodeIdentity developer_id_app(std::string_view path, std::string_view signing_id,
                              std::string_view team_id, uint32_t content_version) {
  return signed_identity(path, signing_id, team_id, SignatureKind::kDeveloperId, false,
                         content_version);
}
CodeIdentity app_store_app(std::string_view path, std::string_view signing_id,
                           std::string_view team_id, uint32_t content_version) {
  return signed_identity(path, signing_id, team_id, SignatureKind::kAppStore, false,
                         content_version);
}
CodeIdentity ad_hoc_binary(std::string_view path, uint32_t content_version) {
  // Ad-hoc code has a cdhash but no stable signing identity: the linker's default identifier is
  // derived from the file name and carries no team.
  CodeIdentity id = signed_identity(path, "", "", SignatureKind::kAdHoc, false, content_version);
  auto slash = path.rfind('/');
  id.signing_id = std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
  return id;
}
CodeIdentity unsigned_binary(std::string_view path) {
  CodeIdentity id;
  id.path = std::string(path);
  return id;
}

Event spawn(uint64_t time_ns, const AuditToken& token, const AuditToken& parent,
            const CodeIdentity& image) {
  return Event{time_ns, ProcessSpawn{token, parent, std::nullopt, image}};
}
Event exec(uint64_t time_ns, const AuditToken& previous, const AuditToken& token,
           const CodeIdentity& image) {
  return Event{time_ns, ProcessExec{previous, token, image}};
}
Event exit(uint64_t time_ns, const AuditToken& token, ExitStage stage) {
  return Event{time_ns, ProcessExit{token, 0, stage}};
}
Event file_replace(uint64_t time_ns, std::string_view path, const CodeIdentity& new_image) {
  return Event{time_ns, FileChange{FileOp::kReplace, std::string(path), "", new_image}};
}
Event file_remove(uint64_t time_ns, std::string_view path) {
  return Event{time_ns, FileChange{FileOp::kRemove, std::string(path), "", std::nullopt}};
}

Flow tcp_flow(uint64_t flow_id, const AuditToken& token, std::string_view hostname) {
  Flow f;
  f.flow_id = flow_id;
  f.identifier = uuid_of(flow_id);
  f.source_app_audit_token = flow_token(token);
  f.source_process_audit_token = flow_token(token);
  f.hostname = std::string(hostname);
  f.remote_hostname = std::string(hostname);
  f.local_endpoint = Endpoint{"192.168.1.6", static_cast<uint16_t>(50000 + flow_id % 10000)};
  f.remote_endpoint = Endpoint{"93.184.216.34", 443};
  f.direction = FlowDirection::kOutbound;
  f.protocol = 6;  // IPPROTO_TCP
  f.family = 2;    // AF_INET
  f.type = 1;      // SOCK_STREAM
  f.proc_pid = token.pid();
  f.eproc_pid = token.pid();
  return f;
}
Event flow(uint64_t time_ns, const Flow& flow) { return Event{time_ns, flow}; }

Lookup lookup(uint64_t flow_id, LookupCall call, LookupOutcome outcome) {
  Lookup l;
  l.flow_id = flow_id;
  l.call = call;
  l.outcome = outcome;
  return l;
}
Event lookup_event(uint64_t time_ns, const Lookup& lookup) { return Event{time_ns, lookup}; }

Verdict verdict(uint64_t flow_id, Decision decision, AttributionStatus status,
                std::optional<CodeIdentity> identity) {
  Verdict v;
  v.flow_id = flow_id;
  v.decision = decision;
  v.status = status;
  v.identity = std::move(identity);
  v.label = status == AttributionStatus::kVerified     ? VerdictLabel::kVerified
            : status == AttributionStatus::kUnverified ? VerdictLabel::kUnverifiedWarning
                                                       : VerdictLabel::kUnknown;
  return v;
}
Event verdict_event(uint64_t time_ns, const Verdict& verdict) { return Event{time_ns, verdict}; }

Event marker(uint64_t time_ns, std::string_view text) {
  return Event{time_ns, Marker{std::string(text)}};
}
Event dropped(uint64_t time_ns, uint64_t count, std::string_view reason) {
  return Event{time_ns, DroppedEvents{count, std::string(reason)}};
}

}  // namespace flowid::build
