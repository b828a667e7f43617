// token+recheck: the token-bound chain first; a fallback that is re-validated against pidversion,
// so it never claims another execution's identity.
//
// 1. guest_by_audit_token -> static_code -> code_path -> signing_information: success is
//    "verified". ESRCH / errSecCSGuestInvalid means the execution is gone (exited, or exec'd since
//    the flow, F4): "gone", with no fallback, because anything found by pid now is another
//    execution.
// 2. Any other failure (EPERM 100001 for sandboxed callers, seed 000) falls back:
//    a. proc_pidpath_audittoken(token): the kernel checks pidversion. Success -> "unverified"
//       (a path, no signature was verified) bound to the right execution; ESRCH -> gone.
//    b. If that call is unavailable or refused: token_for_pid(pid) before and after
//       proc_pidpath(pid). Both must name the flow's (pid, pidversion); pidversion changes on every
//       spawn and exec and is never reused, so a process that exited, was replaced by another one
//       under the same pid, or exec'd at any point between the two reads is caught. Mismatch ->
//       gone.
// A path-only answer stays "unverified": it is the right execution's path but says nothing about
// the bytes (F5) and cannot tell F10's same-name copies apart by signature.
//
// Failures: malformed or absent token -> unknown; a refused token_for_pid or proc_pidpath ->
// unknown; ESRCH anywhere -> gone.
#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class TokenRecheck final : public Resolver {
 public:
  std::string_view name() const override { return "token+recheck"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) return no_token(source);
    const AuditToken& token = *source.token;
    const ExecutionId execution = token.execution();
    const std::string_view token_method = source.from_app ? "app-token" : "token";

    CodeIdentity identity;
    const LookupOutcome secure = identity_by_token(seam, token, identity);
    if (secure.ok()) return verified(std::move(identity), execution, token_method);
    if (is_gone(secure)) return failed(AttributionStatus::kGone, execution, token_method);

    SeamResult<std::string> checked = seam.proc_pidpath_audittoken(token);
    if (checked.ok())
      return unverified_path(std::move(checked.value), execution, "audittoken-path");
    if (is_gone(checked.outcome))
      return failed(AttributionStatus::kGone, execution, "audittoken-path");

    return recheck_by_pid(seam, token);
  }

 private:
  // Reads the path by pid between two reads of the pid's current token.
  static Attribution recheck_by_pid(Seam& seam, const AuditToken& token) {
    constexpr std::string_view kMethod = "pid-recheck";
    const ExecutionId execution = token.execution();
    const int32_t pid = seam.audit_token_to_pid(token);

    const SeamResult<AuditToken> before = seam.token_for_pid(pid);
    if (!before.ok()) return failed(failure_status(before.outcome), execution, kMethod);
    if (before.value.execution() != execution)
      return failed(AttributionStatus::kGone, execution, kMethod);

    SeamResult<std::string> path = seam.proc_pidpath(pid);
    if (!path.ok()) return failed(failure_status(path.outcome), execution, kMethod);

    const SeamResult<AuditToken> after = seam.token_for_pid(pid);
    if (!after.ok()) return failed(failure_status(after.outcome), execution, kMethod);
    if (after.value.execution() != execution)
      return failed(AttributionStatus::kGone, execution, kMethod);

    return unverified_path(std::move(path.value), execution, kMethod);
  }
};

}  // namespace

std::unique_ptr<Resolver> make_token_recheck() { return std::make_unique<TokenRecheck>(); }

}  // namespace flowid::strategies
