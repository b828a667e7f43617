// Faithful replay of a Linux recording (`flowid record`), from the Linux lookups the recorder
// made for the same flow, never from a guess.
//
// The recorder's own strategy (linux-pidfd) asks the LinuxSeam's calls, which the recorder made
// and recorded: each is answered by the flow's recorded lookup of that call (the second
// notif_id_valid by the second check), exactly as RecordedSeam answers a macOS trace.
//
// Every other strategy asks the macOS-named Seam calls, which have no Linux recording of their
// own. To show what such a strategy would have decided on the recorded flows (a pid-keyed
// resolver misled by a pid-reuse race inside the recording, tests/record_replay_test.cc), this
// seam also treats a flow's Linux lookups as one snapshot of kernel evidence and derives each
// macOS answer from it by a fixed rule justified by Linux semantics (option A of issue 6: the
// recorder need not perform every call a strategy might ask, with every multiplicity). Every rule
// uses only recorded outcomes; a question the evidence cannot answer (a pid the flow's lookups were
// not about, a lookup the recording never made, a call with no Linux counterpart) is off-script,
// answered with kNotRecorded and reported, exactly as RecordedSeam does. The same question asked
// twice gets the same answer: the evidence is a snapshot of one moment, and a replayed resolver's
// calls all happen "at" that moment.
//
// The evidence of one flow of the tree recorder, in recorded order (docs/recording.md):
//   pidfd-open(P)       the notification's pid P; success pins the task that held P.
//   notif-id-valid      SECCOMP_IOCTL_NOTIF_ID_VALID after the pidfd and the /proc/P directory fd
//                       were opened: ok means the notifying task was still alive, so both name it.
//   proc-stat(P)        read through that directory fd: the Linux audit token (data.token), whose
//                       pidversion is start time + exec generation, and the thread-group id.
//   proc-exe(P)         readlink + fstat of /proc/P/exe through the same fd: path, file handle.
//   exe-hash(P)         SHA-256 of that executable: identity {path, cdhash, unsigned}.
//   notif-id-valid      again, after the reads: ok means the notifying task lived through all of
//                       them, so every read above described it (a /proc directory fd fails with
//                       ESRCH once its task is gone; it never describes a newcomer with that pid).
// The system recorder (`--system`) records only proc-stat, proc-exe and exe-hash, by bare pid.
//
// The mapping (errno e from a failed Linux lookup becomes OSStatus 100000 + e, the kPOSIXError
// convention: ESRCH -> 100003, EPERM -> 100001; proc_pidpath* and kill_zero keep the errno
// domain and token_for_pid answers KERN_FAILURE, as the simulated world does):
//   audit_token_to_pid(T)        T.pid (reads the token; no evidence needed).
//   guest_by_audit_token(T)      needs pidfd-open, proc-stat and both notif-id-valid lookups.
//                                ESRCH when a notif-id-valid failed (the notifier died), else the
//                                pidfd-open failure, else the proc-stat failure, else ESRCH when
//                                proc-stat's (pid, pidversion) is not T's; otherwise a guest
//                                handle bound to T's execution.
//   guest_by_pid(P)              whatever held P when /proc/P was opened: ESRCH when pidfd-open
//                                said ESRCH, else the proc-stat failure, else a pid-guest handle.
//   static_code(guest)           proc-exe: its failure, or the static handle.
//   code_path(handle)            proc-exe's path.
//   signing_information(handle)  exe-hash's identity (proc-exe's failure when it was not hashed).
//   proc_pidpath(P)              proc-exe: the path of whatever held P at recording time (for a
//                                pid-reuse race inside the recording, the newcomer's program).
//   proc_pidpath_audittoken(T)   ESRCH when a notif-id-valid failed or pidfd-open said ESRCH, the
//                                proc-stat failure, ESRCH on a (pid, pidversion) mismatch, else
//                                proc-exe's answer.
//   token_for_pid(P)             proc-stat's token; KERN_FAILURE when it failed.
//   kill_zero(P)                 pidfd-open: success means something (perhaps a zombie) held P;
//                                ESRCH means nothing did. Without a pidfd answer, proc-stat's.
//   check_validity, responsible_pid   off-script: Linux recordings evaluate no code signature
//                                and have no responsible process.
// Handles are per flow (1 guest, 2 pid-guest, 3 static); any other handle is
// errSecCSInvalidObjectRef, which is what a handle that names nothing gets from the real API.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/filter.h"
#include "harness/seam.h"
#include "replay/recorded_seam.h"
#include "trace/trace.h"

namespace flowid::replay {

// True when a trace comes from flowid's live Linux recorder (header.recorder starts with
// "flowid-record"): its lookups are Linux calls that LinuxRecordedSeam translates.
bool is_linux_recording(const trace::TraceHeader& header);

class LinuxRecordedSeam final : public Seam, public LinuxSeam {
 public:
  // Starts answering for one flow from its recorded lookups. The span must stay valid until the
  // next reset().
  void reset(uint64_t flow_id, std::span<const Lookup> recorded);

  const std::vector<OffScriptCall>& off_script() const { return off_script_; }
  // How many of the flow's recorded lookups some answer was derived from.
  std::size_t answered() const;

  SeamResult<CodeRef> guest_by_audit_token(const AuditToken& token) override;
  SeamResult<CodeRef> guest_by_pid(int32_t pid) override;
  SeamResult<CodeRef> static_code(CodeRef code) override;
  SeamResult<std::string> code_path(CodeRef code) override;
  LookupOutcome check_validity(CodeRef code, std::string_view requirement) override;
  SeamResult<CodeIdentity> signing_information(CodeRef code) override;
  int32_t audit_token_to_pid(const AuditToken& token) override;
  SeamResult<std::string> proc_pidpath(int32_t pid) override;
  SeamResult<std::string> proc_pidpath_audittoken(const AuditToken& token) override;
  SeamResult<AuditToken> token_for_pid(int32_t pid) override;
  LookupOutcome kill_zero(int32_t pid) override;
  SeamResult<int32_t> responsible_pid(int32_t pid) override;
  LinuxSeam* linux_lookups() override;

  // The Linux calls, answered by the recorded lookups themselves (see the header comment).
  SeamResult<int32_t> pidfd_open(int32_t pid) override;
  LookupOutcome notif_id_valid(int32_t pid) override;
  SeamResult<LinuxProcStat> proc_stat(int32_t pid) override;
  SeamResult<LinuxExe> proc_exe(int32_t pid) override;
  SeamResult<CodeIdentity> exe_hash(int32_t pid, std::string_view path) override;

  // Per-flow handles (see the header comment).
  static constexpr CodeRef kGuestHandle = 1;
  static constexpr CodeRef kPidGuestHandle = 2;
  static constexpr CodeRef kStaticHandle = 3;

 private:
  // Indexes into recorded_ of the flow's Linux lookups; npos when not recorded.
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  struct Evidence {
    std::size_t pidfd_open = kNone;
    std::size_t valid_before = kNone;  // the first notif-id-valid.
    std::size_t valid_after = kNone;   // the last one, when there are two or more.
    std::size_t stat = kNone;
    std::size_t exe = kNone;
    std::size_t hash = kNone;
    int32_t notified_pid = 0;  // the pid the lookups were made for (the notification's).
    int32_t tgid = 0;          // proc-stat's thread-group id, when it succeeded.
  };
  enum class Liveness : uint8_t { kNoEvidence, kLived, kDied };

  // The recorded lookup at index (marked as used), or null for kNone.
  const Lookup* use(std::size_t index);
  bool about(int32_t pid) const;
  Liveness notifier_liveness();
  template <typename T>
  SeamResult<T> off_script(LookupCall call, LookupArgs args);
  bool known_handle(CodeRef code) const {
    return code == kGuestHandle || code == kPidGuestHandle || code == kStaticHandle;
  }

  uint64_t flow_id_ = 0;
  std::span<const Lookup> recorded_;
  std::vector<bool> used_;
  Evidence evidence_;
  std::size_t validity_checks_asked_ = 0;  // notif_id_valid calls so far for this flow.
  std::vector<OffScriptCall> off_script_;
};

}  // namespace flowid::replay
