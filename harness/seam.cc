#include "harness/seam.h"

#include <stdexcept>

namespace flowid {
namespace {

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
LookupArgs code_args(CodeRef code, std::string_view requirement = {}) {
  LookupArgs a;
  a.code_handle = code;
  a.requirement = std::string(requirement);
  return a;
}
LookupArgs path_args(std::string_view path, std::string_view requirement = {}) {
  LookupArgs a;
  a.path = std::string(path);
  a.requirement = std::string(requirement);
  return a;
}
LookupData handle_data(const SeamResult<CodeRef>& r) {
  LookupData d;
  if (r.ok()) d.code_handle = r.value;
  return d;
}
LookupData path_data(const SeamResult<std::string>& r) {
  LookupData d;
  if (r.ok()) d.path = r.value;
  return d;
}
LookupData token_data(const SeamResult<AuditToken>& r) {
  LookupData d;
  if (r.ok()) d.token = r.value;
  return d;
}

}  // namespace

void ObservedSeam::report(LookupCall call, LookupArgs args, LookupOutcome outcome,
                          LookupData data) {
  Lookup l;
  l.flow_id = flow_id_;
  l.call = call;
  l.args = std::move(args);
  l.outcome = outcome;
  l.data = std::move(data);
  observer_.on_lookup(l);
}

LaunchSeam& ObservedSeam::launch() {
  if (launch_ == nullptr) throw std::logic_error("ObservedSeam: launcher call without a LaunchSeam");
  return *launch_;
}

SeamResult<CodeRef> ObservedSeam::guest_by_audit_token(const AuditToken& token) {
  auto r = inner_.guest_by_audit_token(token);
  report(LookupCall::kGuestByAuditToken, token_args(token), r.outcome, handle_data(r));
  return r;
}
SeamResult<CodeRef> ObservedSeam::guest_by_pid(int32_t pid) {
  auto r = inner_.guest_by_pid(pid);
  report(LookupCall::kGuestByPid, pid_args(pid), r.outcome, handle_data(r));
  return r;
}
SeamResult<CodeRef> ObservedSeam::static_code(CodeRef code) {
  auto r = inner_.static_code(code);
  report(LookupCall::kStaticCode, code_args(code), r.outcome, handle_data(r));
  return r;
}
SeamResult<std::string> ObservedSeam::code_path(CodeRef code) {
  auto r = inner_.code_path(code);
  report(LookupCall::kCodePath, code_args(code), r.outcome, path_data(r));
  return r;
}
LookupOutcome ObservedSeam::check_validity(CodeRef code, std::string_view requirement) {
  auto r = inner_.check_validity(code, requirement);
  report(LookupCall::kCheckValidity, code_args(code, requirement), r, {});
  return r;
}
SeamResult<CodeIdentity> ObservedSeam::signing_information(CodeRef code) {
  auto r = inner_.signing_information(code);
  LookupData d;
  if (r.ok()) d.identity = r.value;
  report(LookupCall::kSigningInformation, code_args(code), r.outcome, std::move(d));
  return r;
}
int32_t ObservedSeam::audit_token_to_pid(const AuditToken& token) {
  int32_t pid = inner_.audit_token_to_pid(token);
  LookupData d;
  d.pid = pid;
  report(LookupCall::kAuditTokenToPid, token_args(token), {}, std::move(d));
  return pid;
}
SeamResult<std::string> ObservedSeam::proc_pidpath(int32_t pid) {
  auto r = inner_.proc_pidpath(pid);
  report(LookupCall::kProcPidpath, pid_args(pid), r.outcome, path_data(r));
  return r;
}
SeamResult<std::string> ObservedSeam::proc_pidpath_audittoken(const AuditToken& token) {
  auto r = inner_.proc_pidpath_audittoken(token);
  report(LookupCall::kProcPidpathAudittoken, token_args(token), r.outcome, path_data(r));
  return r;
}
SeamResult<AuditToken> ObservedSeam::token_for_pid(int32_t pid) {
  auto r = inner_.token_for_pid(pid);
  report(LookupCall::kTokenForPid, pid_args(pid), r.outcome, token_data(r));
  return r;
}
LookupOutcome ObservedSeam::kill_zero(int32_t pid) {
  auto r = inner_.kill_zero(pid);
  report(LookupCall::kKillZero, pid_args(pid), r, {});
  return r;
}
SeamResult<int32_t> ObservedSeam::responsible_pid(int32_t pid) {
  auto r = inner_.responsible_pid(pid);
  LookupData d;
  if (r.ok()) d.pid = r.value;
  report(LookupCall::kResponsiblePid, pid_args(pid), r.outcome, std::move(d));
  return r;
}

LookupOutcome ObservedSeam::check_file(std::string_view path, std::string_view requirement) {
  auto r = launch().check_file(path, requirement);
  report(LookupCall::kCheckFile, path_args(path, requirement), r, {});
  return r;
}
SeamResult<AuditToken> ObservedSeam::spawn(std::string_view path) {
  auto r = launch().spawn(path);
  report(LookupCall::kSpawn, path_args(path), r.outcome, token_data(r));
  return r;
}
SeamResult<AuditToken> ObservedSeam::spawn_with_requirement(std::string_view path,
                                                            std::string_view requirement) {
  auto r = launch().spawn_with_requirement(path, requirement);
  report(LookupCall::kSpawnWithRequirement, path_args(path, requirement), r.outcome,
         token_data(r));
  return r;
}
SeamResult<std::string> ObservedSeam::copy_to_private(std::string_view path) {
  auto r = launch().copy_to_private(path);
  report(LookupCall::kCopyToPrivate, path_args(path), r.outcome, path_data(r));
  return r;
}
SeamResult<AuditToken> ObservedSeam::spawn_suspended(std::string_view path) {
  auto r = launch().spawn_suspended(path);
  report(LookupCall::kSpawnSuspended, path_args(path), r.outcome, token_data(r));
  return r;
}
LookupOutcome ObservedSeam::resume(const AuditToken& token) {
  auto r = launch().resume(token);
  report(LookupCall::kResume, token_args(token), r, {});
  return r;
}
LookupOutcome ObservedSeam::kill(const AuditToken& token) {
  auto r = launch().kill(token);
  report(LookupCall::kKill, token_args(token), r, {});
  return r;
}

}  // namespace flowid
