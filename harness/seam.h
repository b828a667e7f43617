// The seam: every question a resolver or a launcher asks the world goes through these
// interfaces, one method per call of the list in harness/seam_calls.h. Seam holds the macOS calls
// a resolver makes, LinuxSeam the Linux calls of the live recorder's strategy, LaunchSeam a
// launcher's. Implementations are the simulated world (harness/world.h), faithful replay from a
// trace's recorded lookups (replay/), and, on Linux, the live recorder (recorder/live_seam.h),
// which implements LinuxSeam. Resolvers never touch the OS directly.
//
// Results are values: every call returns the outcome (domain + code, 0 = success) and, on
// success, what the call produced. Handles (CodeRef) are opaque numbers that name a SecCode /
// SecStaticCode object the seam handed out earlier; 0 names nothing.
//
// Every call is reported to a LookupObserver when one is attached (ObservedSeam), so a run can
// record it as a lookup event and the oracle can show the lookups behind a finding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "harness/model.h"

namespace flowid {

using CodeRef = uint64_t;

class LinuxSeam;

template <typename T>
struct SeamResult {
  LookupOutcome outcome;
  T value{};
  bool ok() const { return outcome.ok(); }
};

// Lookups a resolver makes. Methods are named after the macOS calls they model.
class Seam {
 public:
  virtual ~Seam() = default;

  // SecCodeCopyGuestWithAttributes(kSecGuestAttributeAudit: token): running code for exactly
  // that execution. EPERM 100001 (sandboxed caller, /usr/libexec platform binaries), ESRCH
  // 100003 (gone, or pidversion no longer matches), errSecCSNoSuchCode.
  virtual SeamResult<CodeRef> guest_by_audit_token(const AuditToken& token) = 0;
  // SecCodeCopyGuestWithAttributes(kSecGuestAttributePid: pid): whatever has the pid now.
  virtual SeamResult<CodeRef> guest_by_pid(int32_t pid) = 0;
  // SecCodeCopyStaticCode: the code on disk behind running code (errSecCSStaticCodeChanged when
  // the disk no longer matches what runs).
  virtual SeamResult<CodeRef> static_code(CodeRef code) = 0;
  // SecCodeCopyPath.
  virtual SeamResult<std::string> code_path(CodeRef code) = 0;
  // SecCodeCheckValidity(code, requirement): errSecCSReqFailed, errSecCSUnsigned,
  // errSecCSGuestInvalid when the guest has died.
  virtual LookupOutcome check_validity(CodeRef code, std::string_view requirement) = 0;
  // SecCodeCopySigningInformation: cdhash, signing id, team id, platform, kind, runtime. The
  // returned identity's path is the code's path.
  virtual SeamResult<CodeIdentity> signing_information(CodeRef code) = 0;
  // audit_token_to_pid: never fails, but is still reported so evidence shows the pid step.
  virtual int32_t audit_token_to_pid(const AuditToken& token) = 0;
  // proc_pidpath(pid): path of whatever has the pid now (ESRCH when nothing does).
  virtual SeamResult<std::string> proc_pidpath(int32_t pid) = 0;
  // proc_pidpath_audittoken(token): path, kernel-checked against pidversion (ESRCH on mismatch).
  virtual SeamResult<std::string> proc_pidpath_audittoken(const AuditToken& token) = 0;
  // task_name_for_pid + TASK_AUDIT_TOKEN: the current token of whatever has the pid.
  virtual SeamResult<AuditToken> token_for_pid(int32_t pid) = 0;
  // kill(pid, 0): alive? Says nothing about which program. Zombies answer "alive".
  virtual LookupOutcome kill_zero(int32_t pid) = 0;
  // The pid of the app responsible for pid.
  virtual SeamResult<int32_t> responsible_pid(int32_t pid) = 0;

  // The Linux lookups behind this seam, when it has them (faithful replay of a Linux recording),
  // else null. Not a lookup: it asks nothing of the world. The pointer lives as long as the seam.
  virtual LinuxSeam* linux_lookups() = 0;
};

// What /proc/PID/stat and /proc/PID/status said: the execution (the Linux audit token, whose
// pidversion is start time + exec generation) and the thread group.
struct LinuxProcStat {
  AuditToken token;
  int32_t tgid = 0;
};

// What /proc/PID/exe named: the executable's path (bytes) and its file identity (device and
// inode, folded into one number).
struct LinuxExe {
  std::string path;
  uint64_t file_handle = 0;
};

// The Linux lookups the live recorder makes for a flow, in the order its strategy (linux-pidfd,
// harness/strategies/linux_pidfd.cc) asks them. A LinuxSeam answers for one seccomp notification
// at a time: the live recorder's for the notification it is handling, a replayed one for the
// recorded flow. Failures are errno values (OutcomeDomain::kErrno).
class LinuxSeam {
 public:
  virtual ~LinuxSeam() = default;

  // pidfd_open(pid) (PIDFD_THREAD for a non-leader thread), then open("/proc/PID") as a directory:
  // pins the task that holds pid now. Answers pid. The /proc reads below go through that
  // directory, so they describe the pinned task or fail with ESRCH once it is gone; they never
  // describe a newcomer that took the pid.
  virtual SeamResult<int32_t> pidfd_open(int32_t pid) = 0;
  // SECCOMP_IOCTL_NOTIF_ID_VALID for the notification pid sent: ok while the notifying task is
  // alive and the notification pending (ENOENT once it died; never valid again after that).
  virtual LookupOutcome notif_id_valid(int32_t pid) = 0;
  // /proc/PID/stat (start time, ppid) and /proc/PID/status (credentials, thread group).
  virtual SeamResult<LinuxProcStat> proc_stat(int32_t pid) = 0;
  // readlink + fstat of /proc/PID/exe (the executable stays open for exe_hash).
  virtual SeamResult<LinuxExe> proc_exe(int32_t pid) = 0;
  // SHA-256 of the executable proc_exe opened (path is what proc_exe answered): the identity
  // {path, cdhash = the first 20 bytes of the hash, unsigned}.
  virtual SeamResult<CodeIdentity> exe_hash(int32_t pid, std::string_view path) = 0;
};

// Operations a launcher performs (seed 003). Checking a running process's code goes through
// Seam (guest_by_audit_token + check_validity).
class LaunchSeam {
 public:
  virtual ~LaunchSeam() = default;

  // SecStaticCodeCheckValidity on the file at path now.
  virtual LookupOutcome check_file(std::string_view path, std::string_view requirement) = 0;
  // posix_spawn(path): the token of the new execution.
  virtual SeamResult<AuditToken> spawn(std::string_view path) = 0;
  // posix_spawn with a launch requirement: the kernel opens the file, checks the requirement
  // against what it opened, and execs that same file; errSecCSReqFailed when it fails.
  virtual SeamResult<AuditToken> spawn_with_requirement(std::string_view path,
                                                        std::string_view requirement) = 0;
  // Copy path's current content to a location only the caller can write; returns the new path.
  virtual SeamResult<std::string> copy_to_private(std::string_view path) = 0;
  // posix_spawn with POSIX_SPAWN_START_SUSPENDED: the image is mapped but no code has run.
  virtual SeamResult<AuditToken> spawn_suspended(std::string_view path) = 0;
  virtual LookupOutcome resume(const AuditToken& token) = 0;
  virtual LookupOutcome kill(const AuditToken& token) = 0;
};

// Receives every call made through an ObservedSeam, after it returns.
class LookupObserver {
 public:
  virtual ~LookupObserver() = default;
  virtual void on_lookup(const Lookup& lookup) = 0;
};

// The arguments of a call as a Lookup records them: only the fields the call takes are set. One
// set of builders for every seam that records or matches calls.
LookupArgs token_args(const AuditToken& token);
LookupArgs pid_args(int32_t pid);
LookupArgs code_args(CodeRef code, std::string_view requirement = {});
LookupArgs path_args(std::string_view path, std::string_view requirement = {});

// Decorates a LinuxSeam: forwards each call and reports it to the observer as a Lookup tagged
// with the current flow id, exactly as the live recorder writes it to a trace.
class ObservedLinuxSeam final : public LinuxSeam {
 public:
  // Neither reference is owned; both must outlive this object.
  ObservedLinuxSeam(LinuxSeam& inner, LookupObserver& observer)
      : inner_(inner), observer_(observer) {}

  void set_flow(uint64_t flow_id) { flow_id_ = flow_id; }

  SeamResult<int32_t> pidfd_open(int32_t pid) override;
  LookupOutcome notif_id_valid(int32_t pid) override;
  SeamResult<LinuxProcStat> proc_stat(int32_t pid) override;
  SeamResult<LinuxExe> proc_exe(int32_t pid) override;
  SeamResult<CodeIdentity> exe_hash(int32_t pid, std::string_view path) override;

 private:
  LinuxSeam& inner_;
  LookupObserver& observer_;
  uint64_t flow_id_ = 0;
};

// Decorates a Seam (and optionally a LaunchSeam): forwards each call and reports it, with its
// arguments, outcome and data, to the observer as a Lookup tagged with the current flow id. The
// inner seam's Linux lookups, when it has any, are observed the same way.
class ObservedSeam final : public Seam, public LaunchSeam {
 public:
  // Neither pointer is owned; both must outlive this object. launch may be null when only
  // resolver calls are made.
  ObservedSeam(Seam& inner, LaunchSeam* launch, LookupObserver& observer)
      : inner_(inner), launch_(launch), observer_(observer) {}

  void set_flow(uint64_t flow_id) {
    flow_id_ = flow_id;
    if (linux_) linux_->set_flow(flow_id);
  }

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

  LookupOutcome check_file(std::string_view path, std::string_view requirement) override;
  SeamResult<AuditToken> spawn(std::string_view path) override;
  SeamResult<AuditToken> spawn_with_requirement(std::string_view path,
                                                std::string_view requirement) override;
  SeamResult<std::string> copy_to_private(std::string_view path) override;
  SeamResult<AuditToken> spawn_suspended(std::string_view path) override;
  LookupOutcome resume(const AuditToken& token) override;
  LookupOutcome kill(const AuditToken& token) override;

 private:
  LaunchSeam& launch();
  // Reports the call and hands its result back.
  template <typename Result>
  Result observe(LookupCall call, LookupArgs args, Result result);

  Seam& inner_;
  LaunchSeam* launch_;
  LookupObserver& observer_;
  uint64_t flow_id_ = 0;
  std::optional<ObservedLinuxSeam> linux_;  // built on the first linux_lookups() that has any.
};

}  // namespace flowid
