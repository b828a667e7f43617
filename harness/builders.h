// Small builder functions for tests and fixtures, in the spirit of Santa's TestUtils
// (MakeAuditToken(pid, pidver)): a test states only what matters to it; everything else gets a
// plausible default. Builders return plain values; chain the with_* helpers to adjust them.
#pragma once

#include <string_view>

#include "harness/model.h"

namespace flowid::build {

// A token for (pid, pidversion) with uid 501 / gid 20 (a typical logged-in macOS user).
AuditToken token(int32_t pid, uint32_t pidversion, uint32_t euid = 501);

// A well-formed flow token wrapping `token`.
FlowToken flow_token(const AuditToken& token);
// A flow token of the wrong size (fault F7): keeps the first size_bytes/4 words.
FlowToken malformed_flow_token(const AuditToken& token, uint32_t size_bytes);

// A deterministic cdhash derived from a label (e.g. the path and a content version).
Cdhash cdhash_of(std::string_view label);
// A deterministic UUID derived from a number.
Uuid uuid_of(uint64_t n);

// Code identities of each signature kind. cdhash is derived from path and content_version, so a
// replaced file (new content_version) has a new cdhash.
CodeIdentity platform_binary(std::string_view path, std::string_view signing_id,
                             uint32_t content_version = 1);
CodeIdentity developer_id_app(std::string_view path, std::string_view signing_id,
                              std::string_view team_id, uint32_t content_version = 1);
CodeIdentity app_store_app(std::string_view path, std::string_view signing_id,
                           std::string_view team_id, uint32_t content_version = 1);
CodeIdentity ad_hoc_binary(std::string_view path, uint32_t content_version = 1);
CodeIdentity unsigned_binary(std::string_view path);

// Events.
Event spawn(uint64_t time_ns, const AuditToken& token, const AuditToken& parent,
            const CodeIdentity& image);
Event exec(uint64_t time_ns, const AuditToken& previous, const AuditToken& token,
           const CodeIdentity& image);
Event exit(uint64_t time_ns, const AuditToken& token, ExitStage stage = ExitStage::kReaped);
Event file_replace(uint64_t time_ns, std::string_view path, const CodeIdentity& new_image);
Event file_remove(uint64_t time_ns, std::string_view path);

// An outbound TCP/IPv4 flow to host:443 whose app and process tokens are both `token`.
Flow tcp_flow(uint64_t flow_id, const AuditToken& token, std::string_view hostname = "example.com");
Event flow(uint64_t time_ns, const Flow& flow);

Lookup lookup(uint64_t flow_id, LookupCall call, LookupOutcome outcome = {});
Event lookup_event(uint64_t time_ns, const Lookup& lookup);

Verdict verdict(uint64_t flow_id, Decision decision, AttributionStatus status,
                std::optional<CodeIdentity> identity = std::nullopt);
Event verdict_event(uint64_t time_ns, const Verdict& verdict);

Event marker(uint64_t time_ns, std::string_view text);
Event dropped(uint64_t time_ns, uint64_t count, std::string_view reason);

// Outcomes.
inline LookupOutcome ok() { return {}; }
inline LookupOutcome osstatus(int32_t code) { return {OutcomeDomain::kOsStatus, code}; }
inline LookupOutcome posix(int32_t code) { return {OutcomeDomain::kErrno, code}; }
inline LookupOutcome kern(int32_t code) { return {OutcomeDomain::kKernReturn, code}; }

}  // namespace flowid::build
