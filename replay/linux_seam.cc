#include "replay/linux_seam.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace flowid::replay {
namespace {

constexpr std::string_view kLinuxRecorderPrefix = "flowid-record";
constexpr int32_t kPosixErrorBase = 100000;  // kPOSIXErrorBase: OSStatus = 100000 + errno.

LookupOutcome osstatus(int32_t code) { return {OutcomeDomain::kOsStatus, code}; }
LookupOutcome posix(int32_t error) { return {OutcomeDomain::kErrno, error}; }

// A failed Linux lookup's errno as the OSStatus a Security framework call reports.
LookupOutcome osstatus_of(const LookupOutcome& linux_outcome) {
  if (linux_outcome.ok()) return {};
  return osstatus(kPosixErrorBase + linux_outcome.code);
}

}  // namespace

bool is_linux_recording(const trace::TraceHeader& header) {
  return header.recorder.starts_with(kLinuxRecorderPrefix);
}

void LinuxRecordedSeam::reset(uint64_t flow_id, std::span<const Lookup> recorded) {
  flow_id_ = flow_id;
  recorded_ = recorded;
  used_.assign(recorded.size(), false);
  off_script_.clear();
  evidence_ = Evidence{};
  validity_checks_asked_ = 0;
  for (std::size_t i = 0; i < recorded.size(); ++i) {
    const Lookup& l = recorded[i];
    auto first = [&](std::size_t& slot) {
      if (slot == kNone) slot = i;
    };
    switch (l.call) {
      case LookupCall::kPidfdOpen:
        first(evidence_.pidfd_open);
        break;
      case LookupCall::kNotifIdValid:
        if (evidence_.valid_before == kNone) {
          evidence_.valid_before = i;
        } else {
          evidence_.valid_after = i;
        }
        break;
      case LookupCall::kProcStat:
        first(evidence_.stat);
        break;
      case LookupCall::kProcExe:
        first(evidence_.exe);
        break;
      case LookupCall::kExeHash:
        first(evidence_.hash);
        break;
      default:
        continue;
    }
    if (evidence_.notified_pid == 0) evidence_.notified_pid = l.args.pid;
  }
  if (evidence_.stat != kNone && recorded[evidence_.stat].outcome.ok()) {
    evidence_.tgid = recorded[evidence_.stat].data.pid;
    if (evidence_.tgid == 0 && recorded[evidence_.stat].data.token) {
      evidence_.tgid = recorded[evidence_.stat].data.token->pid();
    }
  }
}

std::size_t LinuxRecordedSeam::answered() const {
  return static_cast<std::size_t>(std::count(used_.begin(), used_.end(), true));
}

const Lookup* LinuxRecordedSeam::use(std::size_t index) {
  if (index == kNone) return nullptr;
  used_[index] = true;
  return &recorded_[index];
}

// The lookups describe the notification's pid (a thread id for a non-leader thread) and, through
// /proc, its thread group: a question about either is a question about them.
bool LinuxRecordedSeam::about(int32_t pid) const {
  if (pid <= 0) return false;
  return pid == evidence_.notified_pid || (evidence_.tgid != 0 && pid == evidence_.tgid);
}

// notif-id-valid is the only evidence that the notifying task outlived the reads. Once a
// notification is invalid it never becomes valid again, so either failure means it died.
LinuxRecordedSeam::Liveness LinuxRecordedSeam::notifier_liveness() {
  if (evidence_.valid_before == kNone || evidence_.valid_after == kNone) {
    return Liveness::kNoEvidence;
  }
  const Lookup* before = use(evidence_.valid_before);
  const Lookup* after = use(evidence_.valid_after);
  return before->outcome.ok() && after->outcome.ok() ? Liveness::kLived : Liveness::kDied;
}

template <typename T>
SeamResult<T> LinuxRecordedSeam::off_script(LookupCall call, LookupArgs args) {
  off_script_.push_back(OffScriptCall{flow_id_, call, std::move(args)});
  return SeamResult<T>{kNotRecorded, T{}};
}

SeamResult<CodeRef> LinuxRecordedSeam::guest_by_audit_token(const AuditToken& token) {
  constexpr LookupCall kCall = LookupCall::kGuestByAuditToken;
  if (!about(token.pid()) || evidence_.pidfd_open == kNone || evidence_.stat == kNone) {
    return off_script<CodeRef>(kCall, token_args(token));
  }
  const Liveness liveness = notifier_liveness();
  if (liveness == Liveness::kNoEvidence) return off_script<CodeRef>(kCall, token_args(token));
  if (liveness == Liveness::kDied) return {osstatus(codes::kOsStatusEsrch), 0};
  const Lookup* pidfd = use(evidence_.pidfd_open);
  if (!pidfd->outcome.ok()) return {osstatus_of(pidfd->outcome), 0};
  const Lookup* stat = use(evidence_.stat);
  if (!stat->outcome.ok()) return {osstatus_of(stat->outcome), 0};
  if (!stat->data.token || stat->data.token->execution() != token.execution()) {
    return {osstatus(codes::kOsStatusEsrch), 0};  // the pid held another execution.
  }
  return {{}, kGuestHandle};
}

SeamResult<CodeRef> LinuxRecordedSeam::guest_by_pid(int32_t pid) {
  if (!about(pid) || evidence_.stat == kNone) {
    return off_script<CodeRef>(LookupCall::kGuestByPid, pid_args(pid));
  }
  if (const Lookup* pidfd = use(evidence_.pidfd_open); pidfd && pidfd->outcome.code == ESRCH) {
    return {osstatus(codes::kOsStatusEsrch), 0};
  }
  const Lookup* stat = use(evidence_.stat);
  if (!stat->outcome.ok()) return {osstatus_of(stat->outcome), 0};
  return {{}, kPidGuestHandle};
}

SeamResult<CodeRef> LinuxRecordedSeam::static_code(CodeRef code) {
  if (code != kGuestHandle && code != kPidGuestHandle) {
    return {osstatus(codes::kSecCsInvalidObjectRef), 0};
  }
  const Lookup* exe = use(evidence_.exe);
  if (exe == nullptr) return off_script<CodeRef>(LookupCall::kStaticCode, code_args(code));
  if (!exe->outcome.ok()) return {osstatus_of(exe->outcome), 0};
  return {{}, kStaticHandle};
}

SeamResult<std::string> LinuxRecordedSeam::code_path(CodeRef code) {
  if (!known_handle(code)) return {osstatus(codes::kSecCsInvalidObjectRef), {}};
  const Lookup* exe = use(evidence_.exe);
  if (exe == nullptr) return off_script<std::string>(LookupCall::kCodePath, code_args(code));
  if (!exe->outcome.ok()) return {osstatus_of(exe->outcome), {}};
  return {{}, exe->data.path};
}

LookupOutcome LinuxRecordedSeam::check_validity(CodeRef code, std::string_view requirement) {
  return off_script<int>(LookupCall::kCheckValidity, code_args(code, requirement)).outcome;
}

SeamResult<CodeIdentity> LinuxRecordedSeam::signing_information(CodeRef code) {
  if (!known_handle(code)) return {osstatus(codes::kSecCsInvalidObjectRef), {}};
  if (const Lookup* hash = use(evidence_.hash)) {
    if (!hash->outcome.ok() || !hash->data.identity) return {osstatus_of(hash->outcome), {}};
    return {{}, *hash->data.identity};
  }
  // Not hashed: the recorder hashes only an executable it could open.
  if (const Lookup* exe = use(evidence_.exe); exe && !exe->outcome.ok()) {
    return {osstatus_of(exe->outcome), {}};
  }
  return off_script<CodeIdentity>(LookupCall::kSigningInformation, code_args(code));
}

int32_t LinuxRecordedSeam::audit_token_to_pid(const AuditToken& token) { return token.pid(); }

SeamResult<std::string> LinuxRecordedSeam::proc_pidpath(int32_t pid) {
  constexpr LookupCall kCall = LookupCall::kProcPidpath;
  if (!about(pid)) return off_script<std::string>(kCall, pid_args(pid));
  if (const Lookup* exe = use(evidence_.exe)) {
    if (!exe->outcome.ok()) return {posix(exe->outcome.code), {}};
    return {{}, exe->data.path};
  }
  // The system recorder reads the executable only after proc-stat succeeded.
  if (const Lookup* stat = use(evidence_.stat); stat && !stat->outcome.ok()) {
    return {posix(stat->outcome.code), {}};
  }
  return off_script<std::string>(kCall, pid_args(pid));
}

SeamResult<std::string> LinuxRecordedSeam::proc_pidpath_audittoken(const AuditToken& token) {
  constexpr LookupCall kCall = LookupCall::kProcPidpathAudittoken;
  if (!about(token.pid()) || evidence_.stat == kNone || evidence_.exe == kNone) {
    return off_script<std::string>(kCall, token_args(token));
  }
  if (notifier_liveness() == Liveness::kDied) return {posix(ESRCH), {}};
  if (const Lookup* pidfd = use(evidence_.pidfd_open); pidfd && pidfd->outcome.code == ESRCH) {
    return {posix(ESRCH), {}};
  }
  const Lookup* stat = use(evidence_.stat);
  if (!stat->outcome.ok()) return {posix(stat->outcome.code), {}};
  if (!stat->data.token || stat->data.token->execution() != token.execution()) {
    return {posix(ESRCH), {}};
  }
  const Lookup* exe = use(evidence_.exe);
  if (!exe->outcome.ok()) return {posix(exe->outcome.code), {}};
  return {{}, exe->data.path};
}

SeamResult<AuditToken> LinuxRecordedSeam::token_for_pid(int32_t pid) {
  if (!about(pid) || evidence_.stat == kNone) {
    return off_script<AuditToken>(LookupCall::kTokenForPid, pid_args(pid));
  }
  const Lookup* stat = use(evidence_.stat);
  if (!stat->outcome.ok() || !stat->data.token) {
    return {LookupOutcome{OutcomeDomain::kKernReturn, codes::kKernFailure}, {}};
  }
  return {{}, *stat->data.token};
}

LookupOutcome LinuxRecordedSeam::kill_zero(int32_t pid) {
  if (about(pid)) {
    // pidfd_open succeeds for any task that still holds the pid, zombies included, like kill 0.
    if (const Lookup* pidfd = use(evidence_.pidfd_open);
        pidfd && (pidfd->outcome.ok() || pidfd->outcome.code == ESRCH)) {
      return pidfd->outcome.ok() ? LookupOutcome{} : posix(ESRCH);
    }
    if (const Lookup* stat = use(evidence_.stat);
        stat && (stat->outcome.ok() || stat->outcome.code == ESRCH)) {
      return stat->outcome.ok() ? LookupOutcome{} : posix(ESRCH);
    }
  }
  return off_script<int>(LookupCall::kKillZero, pid_args(pid)).outcome;
}

SeamResult<int32_t> LinuxRecordedSeam::responsible_pid(int32_t pid) {
  return off_script<int32_t>(LookupCall::kResponsiblePid, pid_args(pid));
}

LinuxSeam* LinuxRecordedSeam::linux_lookups() { return this; }

// ---- The Linux calls: each answered by the flow's recorded lookup of the same call.

SeamResult<int32_t> LinuxRecordedSeam::pidfd_open(int32_t pid) {
  const Lookup* pidfd = about(pid) ? use(evidence_.pidfd_open) : nullptr;
  if (pidfd == nullptr) return off_script<int32_t>(LookupCall::kPidfdOpen, pid_args(pid));
  return {pidfd->outcome, pidfd->data.pid};
}

LookupOutcome LinuxRecordedSeam::notif_id_valid(int32_t pid) {
  // The recorder checks twice, before and after its reads: the first question gets the first
  // answer, every later one the last.
  const std::size_t slot =
      validity_checks_asked_++ == 0 ? evidence_.valid_before : evidence_.valid_after;
  const Lookup* check = about(pid) ? use(slot) : nullptr;
  if (check == nullptr) return off_script<int>(LookupCall::kNotifIdValid, pid_args(pid)).outcome;
  return check->outcome;
}

SeamResult<LinuxProcStat> LinuxRecordedSeam::proc_stat(int32_t pid) {
  const Lookup* stat = about(pid) ? use(evidence_.stat) : nullptr;
  if (stat == nullptr) return off_script<LinuxProcStat>(LookupCall::kProcStat, pid_args(pid));
  LinuxProcStat answer;
  if (stat->data.token) answer.token = *stat->data.token;
  answer.tgid = stat->data.pid;
  return {stat->outcome, answer};
}

SeamResult<LinuxExe> LinuxRecordedSeam::proc_exe(int32_t pid) {
  const Lookup* exe = about(pid) ? use(evidence_.exe) : nullptr;
  if (exe == nullptr) return off_script<LinuxExe>(LookupCall::kProcExe, pid_args(pid));
  return {exe->outcome, LinuxExe{exe->data.path, exe->data.code_handle}};
}

SeamResult<CodeIdentity> LinuxRecordedSeam::exe_hash(int32_t pid, std::string_view path) {
  const Lookup* hash = about(pid) ? use(evidence_.hash) : nullptr;
  if (hash == nullptr) {
    LookupArgs args = pid_args(pid);
    args.path = std::string(path);
    return off_script<CodeIdentity>(LookupCall::kExeHash, std::move(args));
  }
  return {hash->outcome, hash->data.identity.value_or(CodeIdentity{})};
}

}  // namespace flowid::replay
