// Test doubles for the seam, written for the strategy tests.
//
// ScriptedSeam answers each call from a script, in order, and records every call with its
// arguments. A call that is not the next scripted step is "off script": it answers ENOSYS and is
// remembered, so a test that checks `off_script()` and `finished()` has checked the strategy's
// exact call sequence. Scripts are built with the small step builders below.
//
// LaunchWorld is a tiny stateful model for launcher tests: files whose content either satisfies
// the requirement or not, processes spawned from them, and a hook that swaps a file's content just
// before the k-th call, which is how a test reaches the window between a check and an exec.
#pragma once

#include <fmt/format.h>

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model.h"
#include "harness/seam.h"

namespace flowid::testing {

struct Step {
  LookupCall call = LookupCall::kGuestByAuditToken;
  LookupOutcome outcome;
  LookupData data;  // only the field the call returns is read.
};

inline Step step_ok_handle(LookupCall call, CodeRef handle) {
  Step s{call, {}, {}};
  s.data.code_handle = handle;
  return s;
}
inline Step step_ok_path(LookupCall call, std::string path) {
  Step s{call, {}, {}};
  s.data.path = std::move(path);
  return s;
}
inline Step step_ok_token(LookupCall call, const AuditToken& token) {
  Step s{call, {}, {}};
  s.data.token = token;
  return s;
}
inline Step step_ok(LookupCall call) { return Step{call, {}, {}}; }
inline Step step_fails(LookupCall call, LookupOutcome outcome) { return Step{call, outcome, {}}; }
// audit_token_to_pid: answers the token's own pid (it never fails).
inline Step step_to_pid() { return Step{LookupCall::kAuditTokenToPid, {}, {}}; }
inline Step step_signing(const CodeIdentity& identity) {
  Step s{LookupCall::kSigningInformation, {}, {}};
  s.data.identity = identity;
  return s;
}

// The four steps of a successful token-bound chain: guest (handle 11), static code (handle 12),
// path, signing information.
inline std::vector<Step> token_chain_ok(const CodeIdentity& identity) {
  return {step_ok_handle(LookupCall::kGuestByAuditToken, 11),
          step_ok_handle(LookupCall::kStaticCode, 12),
          step_ok_path(LookupCall::kCodePath, identity.path), step_signing(identity)};
}

inline std::vector<Step> concat(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class ScriptedSeam final : public Seam, public LaunchSeam {
 public:
  explicit ScriptedSeam(std::vector<Step> script) : script_(std::move(script)) {}

  // Every call made, in order, with its arguments and the outcome it was given.
  const std::vector<Lookup>& lookups() const { return lookups_; }
  std::vector<LookupCall> calls() const {
    std::vector<LookupCall> out;
    for (const Lookup& l : lookups_) out.push_back(l.call);
    return out;
  }
  bool finished() const { return next_ == script_.size(); }
  // Empty, or a description of the first call that did not follow the script.
  const std::string& off_script() const { return off_script_; }

  SeamResult<CodeRef> guest_by_audit_token(const AuditToken& token) override {
    return handle(LookupCall::kGuestByAuditToken, token_args(token));
  }
  SeamResult<CodeRef> guest_by_pid(int32_t pid) override {
    return handle(LookupCall::kGuestByPid, pid_args(pid));
  }
  SeamResult<CodeRef> static_code(CodeRef code) override {
    return handle(LookupCall::kStaticCode, code_args(code));
  }
  SeamResult<std::string> code_path(CodeRef code) override {
    return path(LookupCall::kCodePath, code_args(code));
  }
  LookupOutcome check_validity(CodeRef code, std::string_view requirement) override {
    LookupArgs args = code_args(code);
    args.requirement = std::string(requirement);
    return take(LookupCall::kCheckValidity, std::move(args)).outcome;
  }
  SeamResult<CodeIdentity> signing_information(CodeRef code) override {
    const Step s = take(LookupCall::kSigningInformation, code_args(code));
    return {s.outcome, s.data.identity.value_or(CodeIdentity{})};
  }
  int32_t audit_token_to_pid(const AuditToken& token) override {
    const Step s = take(LookupCall::kAuditTokenToPid, token_args(token));
    return s.data.pid != 0 ? s.data.pid : token.pid();
  }
  SeamResult<std::string> proc_pidpath(int32_t pid) override {
    return path(LookupCall::kProcPidpath, pid_args(pid));
  }
  SeamResult<std::string> proc_pidpath_audittoken(const AuditToken& token) override {
    return path(LookupCall::kProcPidpathAudittoken, token_args(token));
  }
  SeamResult<AuditToken> token_for_pid(int32_t pid) override {
    const Step s = take(LookupCall::kTokenForPid, pid_args(pid));
    return {s.outcome, s.data.token.value_or(AuditToken{})};
  }
  LookupOutcome kill_zero(int32_t pid) override {
    return take(LookupCall::kKillZero, pid_args(pid)).outcome;
  }
  SeamResult<int32_t> responsible_pid(int32_t pid) override {
    const Step s = take(LookupCall::kResponsiblePid, pid_args(pid));
    return {s.outcome, s.data.pid};
  }
  LinuxSeam* linux_lookups() override { return nullptr; }

  LookupOutcome check_file(std::string_view p, std::string_view requirement) override {
    return take(LookupCall::kCheckFile, path_args(p, requirement)).outcome;
  }
  SeamResult<AuditToken> spawn(std::string_view p) override {
    const Step s = take(LookupCall::kSpawn, path_args(p, {}));
    return {s.outcome, s.data.token.value_or(AuditToken{})};
  }
  SeamResult<AuditToken> spawn_with_requirement(std::string_view p,
                                                std::string_view requirement) override {
    const Step s = take(LookupCall::kSpawnWithRequirement, path_args(p, requirement));
    return {s.outcome, s.data.token.value_or(AuditToken{})};
  }
  SeamResult<std::string> copy_to_private(std::string_view p) override {
    return path(LookupCall::kCopyToPrivate, path_args(p, {}));
  }
  SeamResult<AuditToken> spawn_suspended(std::string_view p) override {
    const Step s = take(LookupCall::kSpawnSuspended, path_args(p, {}));
    return {s.outcome, s.data.token.value_or(AuditToken{})};
  }
  LookupOutcome resume(const AuditToken& token) override {
    return take(LookupCall::kResume, token_args(token)).outcome;
  }
  LookupOutcome kill(const AuditToken& token) override {
    return take(LookupCall::kKill, token_args(token)).outcome;
  }

 private:
  SeamResult<CodeRef> handle(LookupCall call, LookupArgs args) {
    const Step s = take(call, std::move(args));
    return {s.outcome, s.data.code_handle};
  }
  SeamResult<std::string> path(LookupCall call, LookupArgs args) {
    const Step s = take(call, std::move(args));
    return {s.outcome, s.data.path};
  }

  Step take(LookupCall call, LookupArgs args) {
    Step s;
    if (next_ < script_.size() && script_[next_].call == call) {
      s = script_[next_++];
    } else {
      s = Step{call, {OutcomeDomain::kErrno, ENOSYS}, {}};
      if (off_script_.empty()) {
        off_script_ = fmt::format(
            "call #{} was {}, script expected {}", lookups_.size(), name_of(call),
            next_ < script_.size() ? name_of(script_[next_].call) : std::string_view("nothing"));
      }
    }
    Lookup l;
    l.call = call;
    l.args = std::move(args);
    l.outcome = s.outcome;
    l.data = s.data;
    lookups_.push_back(std::move(l));
    return s;
  }

  std::vector<Step> script_;
  std::size_t next_ = 0;
  std::vector<Lookup> lookups_;
  std::string off_script_;
};

// A miniature machine for launcher tests. A file's content is a label plus whether it satisfies
// the launch requirement (the requirement text itself is not interpreted).
class LaunchWorld final : public Seam, public LaunchSeam {
 public:
  struct Content {
    std::string label;
    bool satisfies = false;
  };
  struct Process {
    AuditToken token;
    Content image;
    bool ran = false;  // some of its code executed.
    bool killed = false;
  };

  void put_file(std::string path, Content content) { files_[std::move(path)] = std::move(content); }
  // Just before the call with this index (0-based, counting every call), replace path's content.
  void swap_before_call(std::size_t call_index, std::string path, Content content) {
    swap_ = Swap{call_index, std::move(path), std::move(content)};
  }

  const std::vector<Process>& processes() const { return processes_; }
  const std::vector<LookupCall>& calls() const { return calls_; }
  // True when any code that fails the requirement ran (invariant I5 violated).
  bool bad_code_ran() const {
    for (const Process& p : processes_) {
      if (p.ran && !p.image.satisfies) return true;
    }
    return false;
  }
  bool any_code_ran() const {
    for (const Process& p : processes_) {
      if (p.ran) return true;
    }
    return false;
  }

  // Seam: only what the spawn-suspended launcher uses is modelled.
  SeamResult<CodeRef> guest_by_audit_token(const AuditToken& token) override {
    before(LookupCall::kGuestByAuditToken);
    for (std::size_t i = 0; i < processes_.size(); ++i) {
      if (processes_[i].token == token && !processes_[i].killed) return {{}, i + 1};
    }
    return {{OutcomeDomain::kOsStatus, codes::kOsStatusEsrch}, 0};
  }
  LookupOutcome check_validity(CodeRef code, std::string_view) override {
    before(LookupCall::kCheckValidity);
    if (code == 0 || code > processes_.size())
      return {OutcomeDomain::kOsStatus, codes::kSecCsInvalidObjectRef};
    return verdict(processes_[code - 1].image);
  }
  SeamResult<CodeRef> guest_by_pid(int32_t) override { return {unsupported(), 0}; }
  SeamResult<CodeRef> static_code(CodeRef) override { return {unsupported(), 0}; }
  SeamResult<std::string> code_path(CodeRef) override { return {unsupported(), {}}; }
  SeamResult<CodeIdentity> signing_information(CodeRef) override { return {unsupported(), {}}; }
  int32_t audit_token_to_pid(const AuditToken& token) override { return token.pid(); }
  SeamResult<std::string> proc_pidpath(int32_t) override { return {unsupported(), {}}; }
  SeamResult<std::string> proc_pidpath_audittoken(const AuditToken&) override {
    return {unsupported(), {}};
  }
  SeamResult<AuditToken> token_for_pid(int32_t) override { return {unsupported(), {}}; }
  LookupOutcome kill_zero(int32_t) override { return unsupported(); }
  SeamResult<int32_t> responsible_pid(int32_t) override { return {unsupported(), 0}; }
  LinuxSeam* linux_lookups() override { return nullptr; }

  LookupOutcome check_file(std::string_view path, std::string_view) override {
    before(LookupCall::kCheckFile);
    const Content* content = find(path);
    if (content == nullptr) return {OutcomeDomain::kErrno, ENOENT};
    return verdict(*content);
  }
  SeamResult<AuditToken> spawn(std::string_view path) override {
    before(LookupCall::kSpawn);
    const Content* content = find(path);
    if (content == nullptr) return {{OutcomeDomain::kErrno, ENOENT}, {}};
    return {{}, start(*content, /*ran=*/true)};
  }
  SeamResult<AuditToken> spawn_with_requirement(std::string_view path, std::string_view) override {
    before(LookupCall::kSpawnWithRequirement);
    const Content* content = find(path);
    if (content == nullptr) return {{OutcomeDomain::kErrno, ENOENT}, {}};
    const LookupOutcome check = verdict(*content);  // the kernel checks what it opened.
    if (!check.ok()) return {check, {}};
    return {{}, start(*content, /*ran=*/true)};
  }
  SeamResult<std::string> copy_to_private(std::string_view path) override {
    before(LookupCall::kCopyToPrivate);
    const Content* content = find(path);
    if (content == nullptr) return {{OutcomeDomain::kErrno, ENOENT}, {}};
    std::string copy = fmt::format("/private/var/flowid/copy-{}", ++copies_);
    files_[copy] = *content;
    return {{}, copy};
  }
  SeamResult<AuditToken> spawn_suspended(std::string_view path) override {
    before(LookupCall::kSpawnSuspended);
    const Content* content = find(path);
    if (content == nullptr) return {{OutcomeDomain::kErrno, ENOENT}, {}};
    return {{}, start(*content, /*ran=*/false)};
  }
  LookupOutcome resume(const AuditToken& token) override {
    before(LookupCall::kResume);
    Process* p = process(token);
    if (p == nullptr) return {OutcomeDomain::kErrno, ESRCH};
    p->ran = true;
    return {};
  }
  LookupOutcome kill(const AuditToken& token) override {
    before(LookupCall::kKill);
    Process* p = process(token);
    if (p == nullptr) return {OutcomeDomain::kErrno, ESRCH};
    p->killed = true;
    return {};
  }

 private:
  struct Swap {
    std::size_t call_index = 0;
    std::string path;
    Content content;
  };

  static LookupOutcome verdict(const Content& content) {
    if (content.satisfies) return {};
    return {OutcomeDomain::kOsStatus, codes::kSecCsReqFailed};
  }
  static LookupOutcome unsupported() { return {OutcomeDomain::kErrno, ENOSYS}; }

  void before(LookupCall call) {
    if (swap_ && swap_->call_index == calls_.size()) {
      files_[swap_->path] = swap_->content;
      swap_.reset();
    }
    calls_.push_back(call);
  }
  const Content* find(std::string_view path) const {
    auto it = files_.find(std::string(path));
    return it == files_.end() ? nullptr : &it->second;
  }
  Process* process(const AuditToken& token) {
    for (Process& p : processes_) {
      if (p.token == token) return &p;
    }
    return nullptr;
  }
  AuditToken start(const Content& content, bool ran) {
    AuditToken token;
    token.words = {501,    501,
                   20,     501,
                   20,     static_cast<uint32_t>(1000 + processes_.size()),
                   100000, static_cast<uint32_t>(processes_.size() + 1)};
    processes_.push_back(Process{token, content, ran, false});
    return token;
  }

  std::map<std::string, Content> files_;
  std::optional<Swap> swap_;
  std::vector<Process> processes_;
  std::vector<LookupCall> calls_;
  int copies_ = 0;
};

}  // namespace flowid::testing
