// The seam: every question a resolver or a launcher asks the world goes through these
// interfaces, one method per call in DESIGN §1's table. Implementations are the simulated world
// (harness/world.h), faithful replay from a trace's recorded lookups (replay/), and, on Linux,
// the live recorder (recorder/). Resolvers never touch the OS directly.
//
// Results are values: every call returns the outcome (domain + code, 0 = success) and, on
// success, what the call produced. Handles (CodeRef) are opaque numbers that name a SecCode /
// SecStaticCode object the seam handed out earlier; 0 names nothing.
//
// Every call is reported to a LookupObserver when one is attached (ObservedSeam), so a run can
// record it as a lookup event and the oracle can show the lookups behind a finding.
#pragma once

#include <string>
#include <string_view>

#include "harness/model.h"

namespace flowid {

using CodeRef = uint64_t;

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

// Decorates a Seam (and optionally a LaunchSeam): forwards each call and reports it, with its
// arguments, outcome and data, to the observer as a Lookup tagged with the current flow id.
class ObservedSeam final : public Seam, public LaunchSeam {
 public:
  // Neither pointer is owned; both must outlive this object. launch may be null when only
  // resolver calls are made.
  ObservedSeam(Seam& inner, LaunchSeam* launch, LookupObserver& observer)
      : inner_(inner), launch_(launch), observer_(observer) {}

  void set_flow(uint64_t flow_id) { flow_id_ = flow_id; }

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
  void report(LookupCall call, LookupArgs args, LookupOutcome outcome, LookupData data);

  Seam& inner_;
  LaunchSeam* launch_;
  LookupObserver& observer_;
  uint64_t flow_id_ = 0;
};

}  // namespace flowid
