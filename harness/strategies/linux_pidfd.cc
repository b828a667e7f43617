// linux-pidfd: what flowid's live Linux recorder (`flowid record`) decides for a flow, written
// against the seam like every other strategy. Replaying a Linux recording faithfully with this
// strategy must give the recorder's own verdicts back (replay/linux_seam.h maps the seam's calls
// onto the recorded pidfd / notif-id-valid / /proc lookups); it is the regression baseline for
// such recordings, and the Linux counterpart of `token`.
//
// The recorder's rule (docs/recording.md): the caller is "gone" when the notification stopped
// being valid before or after the /proc reads, or pidfd_open, /proc/PID/stat or /proc/PID/exe said
// ESRCH; "unknown" when the executable could not be read or hashed; "unverified" when pidfd_open
// failed for another reason (the reads then rest on the bare pid); otherwise "verified" with
// {path, cdhash = SHA-256(executable)[0:20], unsigned}. Through the seam:
// 1. guest_by_audit_token(token) -> static_code -> code_path -> signing_information. Success is
//    "verified": the answer is bound to the token's execution (pidfd, pidversion and a
//    notification still valid after the reads). ESRCH / errSecCSGuestInvalid -> "gone".
// 2. Any other failure of that chain falls back to the pid, as the recorder does when pidfd_open
//    is refused: guest_by_pid -> static_code -> code_path -> signing_information, "unverified".
//    Its failure -> gone or unknown by the usual rule.
// 3. A flow without a token (the recorder could not read /proc/PID/stat: typically the caller was
//    already reaped) asks kill_zero(procPID): ESRCH -> "gone", anything else -> "unknown".
//
// One deliberate difference: when the recorder calls a flow gone it still attaches whatever
// identity its /proc reads found, which after a pid-reuse race inside the recording is the
// newcomer's program. This strategy reports gone without an identity (invariant I3: a lookup for
// an exited execution never returns another execution's identity), so faithful replay shows such
// a recorded verdict as an identity difference instead of reproducing it.
#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

constexpr std::string_view kMethod = "pidfd+proc";
constexpr std::string_view kPidMethod = "proc-by-pid";

class LinuxPidfd final : public Resolver {
 public:
  std::string_view name() const override { return "linux-pidfd"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    const SourceToken source = source_token(flow);
    if (source.token == nullptr) {
      if (source.malformed || flow.proc_pid <= 0) return no_token(source);
      if (is_gone(seam.kill_zero(flow.proc_pid))) {
        return failed(AttributionStatus::kGone, kMethod);
      }
      return no_token(source);
    }
    const AuditToken& token = *source.token;
    const ExecutionId execution = token.execution();

    CodeIdentity identity;
    const LookupOutcome bound = identity_by_token(seam, token, identity);
    if (bound.ok()) return verified(std::move(identity), execution, kMethod);
    if (is_gone(bound)) return failed(AttributionStatus::kGone, execution, kMethod);

    const LookupOutcome by_pid = identity_by_pid(seam, seam.audit_token_to_pid(token), identity);
    if (!by_pid.ok()) return failed(failure_status(by_pid), execution, kPidMethod);
    Attribution attribution = verified(std::move(identity), execution, kPidMethod);
    attribution.status = AttributionStatus::kUnverified;
    return attribution;
  }

 private:
  // guest_by_pid -> static_code -> code_path -> signing_information: whatever held the pid.
  static LookupOutcome identity_by_pid(Seam& seam, int32_t pid, CodeIdentity& identity) {
    const SeamResult<CodeRef> code = seam.guest_by_pid(pid);
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
};

}  // namespace

std::unique_ptr<Resolver> make_linux_pidfd() { return std::make_unique<LinuxPidfd>(); }

}  // namespace flowid::strategies
