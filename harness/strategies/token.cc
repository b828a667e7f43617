// token: token-bound lookups only; fails closed.
//
// Calls guest_by_audit_token(token) -> static_code -> code_path -> signing_information, all
// through handles bound to the execution the token names, so a success is "verified": the
// identity is the image that execution runs. The token is the flow's process token (the socket's
// creator); the app token stands in only when no process token exists at all (see
// lookup_steps.h: a malformed process token is never replaced by the app token, because under
// delegation, F6, the app is a different process).
//
// Failures, all fail closed (no fallback to anything pid-based):
// - EPERM 100001 (sandboxed caller, /usr/libexec platform binaries, seed 000) -> unknown;
// - ESRCH 100003 / errSecCSGuestInvalid (exited, or exec'd since the flow: a stale token, F4)
//   -> gone;
// - errSecCSStaticCodeChanged (the file was replaced after launch, F5) and every other code
//   -> unknown;
// - malformed or absent token (F7) -> unknown, with no lookup made.
// It never misattributes; its cost is that seed 000's trustd flows end up unknown.
#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class Token final : public Resolver {
 public:
  std::string_view name() const override { return "token"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) return no_token(source);
    const std::string_view method = source.from_app ? "app-token" : "token";
    const ExecutionId execution = source.token->execution();
    CodeIdentity identity;
    const LookupOutcome outcome = identity_by_token(seam, *source.token, identity);
    if (!outcome.ok()) return failed(failure_status(outcome), execution, method);
    return verified(std::move(identity), execution, method);
  }
};

}  // namespace

std::unique_ptr<Resolver> make_token() { return std::make_unique<Token>(); }

}  // namespace flowid::strategies
