// token+pid-fallback: seed 000's code. The token-bound chain first (guest_by_audit_token ->
// static_code -> code_path, plus signing_information so that the filter's signing-id rules can
// match; the seed stops at the path, which changes nothing about which execution is named). When
// any step fails, for any reason, fall back to audit_token_to_pid + proc_pidpath and report that
// path as "unverified" (shown to the user in red with a warning, as the seed's author planned).
//
// Sound when the fallback only ever runs for a process that is still the flow's execution: true
// for the seed's EPERM case (trustd is alive and long-lived) most of the time. It breaks when the
// token lookup failed because the execution is gone (ESRCH) or exec'd (F4), and the pid now
// belongs to another program (F1): the fallback names that program. The label keeps it from
// being a silent misattribution (I2 counts it as a warning), but a filter that applies rules to
// unverified identities can still be fooled.
//
// Failures: malformed or absent token -> unknown (the seed's insecure function checks the size and
// returns nil); both lookups failed -> gone when either said ESRCH, otherwise unknown.
#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class TokenPidFallback final : public Resolver {
 public:
  std::string_view name() const override { return "token+pid-fallback"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) return no_token(source);
    const AuditToken& token = *source.token;
    CodeIdentity identity;
    const LookupOutcome secure = identity_by_token(seam, token, identity);
    if (secure.ok())
      return verified(std::move(identity), token.execution(),
                      source.from_app ? "app-token" : "token");

    const int32_t pid = seam.audit_token_to_pid(token);
    SeamResult<std::string> path = seam.proc_pidpath(pid);
    if (path.ok()) return unverified_path(std::move(path.value), token.execution(), "pid-fallback");
    const bool gone = is_gone(secure) || is_gone(path.outcome);
    return failed(gone ? AttributionStatus::kGone : AttributionStatus::kUnknown, token.execution(),
                  "pid-fallback");
  }
};

}  // namespace

std::unique_ptr<Resolver> make_token_pid_fallback() { return std::make_unique<TokenPidFallback>(); }

}  // namespace flowid::strategies
