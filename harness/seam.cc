#include "harness/seam.h"

#include <stdexcept>
#include <type_traits>

namespace flowid {

// Each interface declares each of its calls in harness/seam_calls.h (a call added to the list and
// not to its interface does not compile).
#define FLOWID_DECLARED_BY_SEAM(enumerator, number, name, method, capnp) \
  static_assert(std::is_member_function_pointer_v<decltype(&Seam::method)>, "Seam::" #method);
#define FLOWID_DECLARED_BY_LINUX_SEAM(enumerator, number, name, method, capnp)   \
  static_assert(std::is_member_function_pointer_v<decltype(&LinuxSeam::method)>, \
                "LinuxSeam::" #method);
#define FLOWID_DECLARED_BY_LAUNCH_SEAM(enumerator, number, name, method, capnp)   \
  static_assert(std::is_member_function_pointer_v<decltype(&LaunchSeam::method)>, \
                "LaunchSeam::" #method);
FLOWID_MACOS_LOOKUP_CALLS(FLOWID_DECLARED_BY_SEAM)
FLOWID_LINUX_LOOKUP_CALLS(FLOWID_DECLARED_BY_LINUX_SEAM)
FLOWID_LAUNCH_CALLS(FLOWID_DECLARED_BY_LAUNCH_SEAM)
#undef FLOWID_DECLARED_BY_SEAM
#undef FLOWID_DECLARED_BY_LINUX_SEAM
#undef FLOWID_DECLARED_BY_LAUNCH_SEAM

LookupArgs token_args(const AuditToken& token) {
  LookupArgs a;
  a.token = token;
  return a;
}
LookupArgs pid_args(int32_t pid) {
  LookupArgs a;
  a.pid = pid;
  return a;
}
LookupArgs code_args(CodeRef code, std::string_view requirement) {
  LookupArgs a;
  a.code_handle = code;
  a.requirement = std::string(requirement);
  return a;
}
LookupArgs path_args(std::string_view path, std::string_view requirement) {
  LookupArgs a;
  a.path = std::string(path);
  a.requirement = std::string(requirement);
  return a;
}

namespace {

// A call's outcome and, on success, what it produced, as a Lookup records them: one overload per
// kind of answer a seam call gives.
LookupOutcome outcome_of(const LookupOutcome& outcome) { return outcome; }
template <typename T>
LookupOutcome outcome_of(const SeamResult<T>& result) {
  return result.outcome;
}
LookupOutcome outcome_of(int32_t) { return {}; }  // audit_token_to_pid never fails.

LookupData data_of(const LookupOutcome&) { return {}; }
LookupData data_of(int32_t pid) {
  LookupData d;
  d.pid = pid;
  return d;
}
LookupData data_of(const SeamResult<CodeRef>& r) {
  LookupData d;
  if (r.ok()) d.code_handle = r.value;
  return d;
}
LookupData data_of(const SeamResult<std::string>& r) {
  LookupData d;
  if (r.ok()) d.path = r.value;
  return d;
}
LookupData data_of(const SeamResult<AuditToken>& r) {
  LookupData d;
  if (r.ok()) d.token = r.value;
  return d;
}
LookupData data_of(const SeamResult<CodeIdentity>& r) {
  LookupData d;
  if (r.ok()) d.identity = r.value;
  return d;
}
LookupData data_of(const SeamResult<int32_t>& r) {
  LookupData d;
  if (r.ok()) d.pid = r.value;
  return d;
}
LookupData data_of(const SeamResult<LinuxProcStat>& r) {
  LookupData d;
  if (r.ok()) {
    d.token = r.value.token;
    d.pid = r.value.tgid;
  }
  return d;
}
LookupData data_of(const SeamResult<LinuxExe>& r) {
  LookupData d;
  if (r.ok()) {
    d.path = r.value.path;
    d.code_handle = r.value.file_handle;
  }
  return d;
}

template <typename Result>
Result report(LookupObserver& observer, uint64_t flow_id, LookupCall call, LookupArgs args,
              Result result) {
  Lookup l;
  l.flow_id = flow_id;
  l.call = call;
  l.args = std::move(args);
  l.outcome = outcome_of(result);
  l.data = data_of(result);
  observer.on_lookup(l);
  return result;
}

}  // namespace

SeamResult<int32_t> ObservedLinuxSeam::pidfd_open(int32_t pid) {
  return report(observer_, flow_id_, LookupCall::kPidfdOpen, pid_args(pid), inner_.pidfd_open(pid));
}
LookupOutcome ObservedLinuxSeam::notif_id_valid(int32_t pid) {
  return report(observer_, flow_id_, LookupCall::kNotifIdValid, pid_args(pid),
                inner_.notif_id_valid(pid));
}
SeamResult<LinuxProcStat> ObservedLinuxSeam::proc_stat(int32_t pid) {
  return report(observer_, flow_id_, LookupCall::kProcStat, pid_args(pid), inner_.proc_stat(pid));
}
SeamResult<LinuxExe> ObservedLinuxSeam::proc_exe(int32_t pid) {
  return report(observer_, flow_id_, LookupCall::kProcExe, pid_args(pid), inner_.proc_exe(pid));
}
SeamResult<CodeIdentity> ObservedLinuxSeam::exe_hash(int32_t pid, std::string_view path) {
  LookupArgs args = pid_args(pid);
  args.path = std::string(path);
  return report(observer_, flow_id_, LookupCall::kExeHash, std::move(args),
                inner_.exe_hash(pid, path));
}

template <typename Result>
Result ObservedSeam::observe(LookupCall call, LookupArgs args, Result result) {
  return report(observer_, flow_id_, call, std::move(args), std::move(result));
}

LaunchSeam& ObservedSeam::launch() {
  if (launch_ == nullptr)
    throw std::logic_error("ObservedSeam: launcher call without a LaunchSeam");
  return *launch_;
}

SeamResult<CodeRef> ObservedSeam::guest_by_audit_token(const AuditToken& token) {
  return observe(LookupCall::kGuestByAuditToken, token_args(token),
                 inner_.guest_by_audit_token(token));
}
SeamResult<CodeRef> ObservedSeam::guest_by_pid(int32_t pid) {
  return observe(LookupCall::kGuestByPid, pid_args(pid), inner_.guest_by_pid(pid));
}
SeamResult<CodeRef> ObservedSeam::static_code(CodeRef code) {
  return observe(LookupCall::kStaticCode, code_args(code), inner_.static_code(code));
}
SeamResult<std::string> ObservedSeam::code_path(CodeRef code) {
  return observe(LookupCall::kCodePath, code_args(code), inner_.code_path(code));
}
LookupOutcome ObservedSeam::check_validity(CodeRef code, std::string_view requirement) {
  return observe(LookupCall::kCheckValidity, code_args(code, requirement),
                 inner_.check_validity(code, requirement));
}
SeamResult<CodeIdentity> ObservedSeam::signing_information(CodeRef code) {
  return observe(LookupCall::kSigningInformation, code_args(code),
                 inner_.signing_information(code));
}
int32_t ObservedSeam::audit_token_to_pid(const AuditToken& token) {
  return observe(LookupCall::kAuditTokenToPid, token_args(token), inner_.audit_token_to_pid(token));
}
SeamResult<std::string> ObservedSeam::proc_pidpath(int32_t pid) {
  return observe(LookupCall::kProcPidpath, pid_args(pid), inner_.proc_pidpath(pid));
}
SeamResult<std::string> ObservedSeam::proc_pidpath_audittoken(const AuditToken& token) {
  return observe(LookupCall::kProcPidpathAudittoken, token_args(token),
                 inner_.proc_pidpath_audittoken(token));
}
SeamResult<AuditToken> ObservedSeam::token_for_pid(int32_t pid) {
  return observe(LookupCall::kTokenForPid, pid_args(pid), inner_.token_for_pid(pid));
}
LookupOutcome ObservedSeam::kill_zero(int32_t pid) {
  return observe(LookupCall::kKillZero, pid_args(pid), inner_.kill_zero(pid));
}
SeamResult<int32_t> ObservedSeam::responsible_pid(int32_t pid) {
  return observe(LookupCall::kResponsiblePid, pid_args(pid), inner_.responsible_pid(pid));
}
LinuxSeam* ObservedSeam::linux_lookups() {
  LinuxSeam* inner = inner_.linux_lookups();
  if (inner == nullptr) return nullptr;
  linux_.emplace(*inner, observer_);
  linux_->set_flow(flow_id_);
  return &*linux_;
}

LookupOutcome ObservedSeam::check_file(std::string_view path, std::string_view requirement) {
  return observe(LookupCall::kCheckFile, path_args(path, requirement),
                 launch().check_file(path, requirement));
}
SeamResult<AuditToken> ObservedSeam::spawn(std::string_view path) {
  return observe(LookupCall::kSpawn, path_args(path), launch().spawn(path));
}
SeamResult<AuditToken> ObservedSeam::spawn_with_requirement(std::string_view path,
                                                            std::string_view requirement) {
  return observe(LookupCall::kSpawnWithRequirement, path_args(path, requirement),
                 launch().spawn_with_requirement(path, requirement));
}
SeamResult<std::string> ObservedSeam::copy_to_private(std::string_view path) {
  return observe(LookupCall::kCopyToPrivate, path_args(path), launch().copy_to_private(path));
}
SeamResult<AuditToken> ObservedSeam::spawn_suspended(std::string_view path) {
  return observe(LookupCall::kSpawnSuspended, path_args(path), launch().spawn_suspended(path));
}
LookupOutcome ObservedSeam::resume(const AuditToken& token) {
  return observe(LookupCall::kResume, token_args(token), launch().resume(token));
}
LookupOutcome ObservedSeam::kill(const AuditToken& token) {
  return observe(LookupCall::kKill, token_args(token), launch().kill(token));
}

}  // namespace flowid
