// linux-pidfd: what flowid's live Linux recorder (`flowid record`) decides for a flow, and the only
// place that decision is written. The recorder calls resolve_linux_pidfd() through its live
// LinuxSeam (recorder/live_seam.h), observed so that each lookup is recorded; faithful replay of
// a recording asks the same calls of the recorded lookups (replay/linux_seam.h) and so gives the
// recorder's verdicts back. It is the regression baseline for such recordings, and the Linux
// counterpart of `token`.
//
// The calls, in order, all about the flow's pid P (the notifying task's; a replayed flow names it
// or its thread group):
// 1. pidfd_open(P): pins the task that holds P (and opens /proc/P, through which the reads below
//    go: they describe that task or fail with ESRCH).
// 2. notif_id_valid(P): the notification is still pending, so the pinned task is the notifier.
// 3. proc_stat(P): the execution (token) the reads describe; the claimed execution.
// 4. proc_exe(P), and when it succeeded exe_hash(P, path): the identity
//    {path, cdhash = SHA-256(executable)[0:20], unsigned}.
// 5. notif_id_valid(P) again: the notifier outlived every read.
// The verdict: "gone" (with no identity, invariant I3: what /proc showed may belong to whoever
// holds P now) when either notif_id_valid failed or pidfd_open, proc_stat or proc_exe said ESRCH;
// else "unknown" when the executable could not be read or hashed; else "unverified" when
// pidfd_open failed for another reason (the reads then rest on the bare pid); else "verified".
//
// Through a Seam without Linux lookups (the simulated macOS world, a macOS trace) the strategy
// asks nothing and answers unknown: the Linux calls have no macOS counterpart it could trust.
#include "harness/strategies/linux_pidfd.h"

#include <cerrno>

#include "harness/strategies/lookup_steps.h"
#include "harness/strategies/strategies.h"

namespace flowid::strategies {
namespace {

constexpr std::string_view kMethod = "pidfd+proc";
constexpr std::string_view kPidMethod = "proc-by-pid";
constexpr std::string_view kNoLinuxMethod = "no-linux-seam";

bool is_esrch(const LookupOutcome& outcome) {
  return outcome.domain == OutcomeDomain::kErrno && outcome.code == ESRCH;
}

class LinuxPidfd final : public Resolver {
 public:
  std::string_view name() const override { return "linux-pidfd"; }

  Attribution resolve(const Flow& flow, uint64_t now_ns, Seam& seam) override {
    (void)now_ns;
    LinuxSeam* linux_seam = seam.linux_lookups();
    if (linux_seam == nullptr) return failed(AttributionStatus::kUnknown, kNoLinuxMethod);
    return resolve_linux_pidfd(flow, *linux_seam);
  }
};

}  // namespace

Attribution resolve_linux_pidfd(const Flow& flow, LinuxSeam& seam) {
  const int32_t pid = flow.proc_pid;
  const SeamResult<int32_t> pidfd = seam.pidfd_open(pid);
  const LookupOutcome valid_before = seam.notif_id_valid(pid);
  const SeamResult<LinuxProcStat> stat = seam.proc_stat(pid);
  const SeamResult<LinuxExe> exe = seam.proc_exe(pid);
  std::optional<CodeIdentity> identity;
  if (exe.ok()) {
    SeamResult<CodeIdentity> hash = seam.exe_hash(pid, exe.value.path);
    if (hash.ok()) identity = std::move(hash.value);
  }
  const LookupOutcome valid_after = seam.notif_id_valid(pid);

  Attribution attribution;
  attribution.method = kMethod;
  if (stat.ok()) attribution.claimed_execution = stat.value.token.execution();
  const bool gone = !valid_before.ok() || !valid_after.ok() || is_esrch(pidfd.outcome) ||
                    is_esrch(stat.outcome) || is_esrch(exe.outcome);
  if (gone) {
    attribution.status = AttributionStatus::kGone;
  } else if (!identity) {
    attribution.status = AttributionStatus::kUnknown;
  } else if (!pidfd.ok()) {
    attribution.status = AttributionStatus::kUnverified;
    attribution.identity = std::move(identity);
    attribution.method = kPidMethod;
  } else {
    attribution.status = AttributionStatus::kVerified;
    attribution.identity = std::move(identity);
  }
  return attribution;
}

Attribution resolve_linux_by_pid(const Flow& flow, LinuxSeam& seam) {
  const int32_t pid = flow.proc_pid;
  Attribution attribution;
  attribution.method = kPidMethod;
  const SeamResult<LinuxProcStat> stat = seam.proc_stat(pid);
  if (!stat.ok()) return attribution;
  attribution.claimed_execution = stat.value.token.execution();
  SeamResult<LinuxExe> exe = seam.proc_exe(pid);
  if (!exe.ok() || exe.value.path.empty()) return attribution;
  SeamResult<CodeIdentity> hash = seam.exe_hash(pid, exe.value.path);
  attribution.status = AttributionStatus::kUnverified;
  if (hash.ok()) {
    attribution.identity = std::move(hash.value);
  } else {
    attribution.identity = CodeIdentity{};
    attribution.identity->path = std::move(exe.value.path);
  }
  return attribution;
}

std::unique_ptr<Resolver> make_linux_pidfd() { return std::make_unique<LinuxPidfd>(); }

}  // namespace flowid::strategies
