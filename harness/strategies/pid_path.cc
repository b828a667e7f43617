// pid-path: the naive strategy. audit_token_to_pid(token), then proc_pidpath(pid).
//
// It names whatever process holds the pid when proc_pidpath runs, and it believes that is the
// flow's own execution: it claims "verified" with an identity that has only a path. It is sound
// only in a world where pids are never reused, nothing execs, and nothing exits before the
// lookup. It breaks on F1 (pid reuse: names another program), F4 (exec after the flow: names the
// new image), F10 (same name, different path: the path is all it has) and F5 (a path says nothing
// about the bytes). The oracle is expected to flag its verified claims (I1); it ships as the
// baseline other strategies are compared against.
//
// Failures: a malformed or absent token -> unknown; proc_pidpath ESRCH -> gone; other -> unknown.
#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

class PidPath final : public Resolver {
 public:
  std::string_view name() const override { return "pid-path"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) return no_token(source);
    const AuditToken& token = *source.token;
    const int32_t pid = seam.audit_token_to_pid(token);
    SeamResult<std::string> path = seam.proc_pidpath(pid);
    if (!path.ok()) return failed(failure_status(path.outcome), token.execution(), "pid-path");
    CodeIdentity identity;
    identity.path = std::move(path.value);
    return verified(std::move(identity), token.execution(), "pid-path");
  }
};

}  // namespace

std::unique_ptr<Resolver> make_pid_path() { return std::make_unique<PidPath>(); }

}  // namespace flowid::strategies
