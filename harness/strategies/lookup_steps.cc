#include "harness/strategies/lookup_steps.h"

#include <cerrno>
#include <utility>

namespace flowid::strategies {
namespace {

SourceToken from(const FlowToken& flow_token, bool from_app) {
  SourceToken source;
  source.from_app = from_app;
  if (flow_token.well_formed()) {
    source.token = &flow_token.token;
  } else {
    source.malformed = flow_token.present;
  }
  return source;
}

}  // namespace

SourceToken source_token(const Flow& flow) {
  if (flow.source_process_audit_token.present) return from(flow.source_process_audit_token, false);
  return from(flow.source_app_audit_token, true);
}

SourceToken app_token(const Flow& flow) { return from(flow.source_app_audit_token, false); }

bool is_gone(const LookupOutcome& outcome) {
  switch (outcome.domain) {
    case OutcomeDomain::kOsStatus:
      return outcome.code == codes::kOsStatusEsrch || outcome.code == codes::kSecCsGuestInvalid;
    case OutcomeDomain::kErrno:
      return outcome.code == ESRCH;
    case OutcomeDomain::kKernReturn:
      // task_name_for_pid answers KERN_FAILURE both for a vanished pid and for a refusal, so a
      // kern_return never proves that the execution is gone.
      return false;
  }
  return false;
}

AttributionStatus failure_status(const LookupOutcome& outcome) {
  return is_gone(outcome) ? AttributionStatus::kGone : AttributionStatus::kUnknown;
}

LookupOutcome identity_by_token(Seam& seam, const AuditToken& token, CodeIdentity& identity) {
  const SeamResult<CodeRef> code = seam.guest_by_audit_token(token);
  if (!code.ok()) return code.outcome;
  const SeamResult<CodeRef> static_code = seam.static_code(code.value);
  if (!static_code.ok()) return static_code.outcome;
  SeamResult<std::string> path = seam.code_path(static_code.value);
  if (!path.ok()) return path.outcome;
  SeamResult<CodeIdentity> info = seam.signing_information(static_code.value);
  if (!info.ok()) return info.outcome;
  identity = std::move(info.value);
  identity.path = std::move(path.value);
  return {};
}

Attribution verified(CodeIdentity identity, ExecutionId claimed, std::string_view method) {
  Attribution a;
  a.status = AttributionStatus::kVerified;
  a.identity = std::move(identity);
  a.claimed_execution = claimed;
  a.method = method;
  return a;
}

Attribution unverified_path(std::string path, ExecutionId claimed, std::string_view method) {
  Attribution a;
  a.status = AttributionStatus::kUnverified;
  a.identity.emplace();
  a.identity->path = std::move(path);
  a.claimed_execution = claimed;
  a.method = method;
  return a;
}

Attribution failed(AttributionStatus status, std::string_view method) {
  Attribution a;
  a.status = status;
  a.method = method;
  return a;
}

Attribution failed(AttributionStatus status, ExecutionId claimed, std::string_view method) {
  Attribution a = failed(status, method);
  a.claimed_execution = claimed;
  return a;
}

Attribution no_token(const SourceToken& source) {
  return failed(AttributionStatus::kUnknown, source.malformed ? "malformed-token" : "no-token");
}

}  // namespace flowid::strategies
