#include "replay/recorded_seam.h"

#include <fmt/format.h>

#include "harness/event_format.h"

namespace flowid::replay {
namespace {

// Each matcher is `recorded == token_args(token)` (pid_args, code_args; harness/seam.h) written
// out, so that a recorded lookup matches exactly when its arguments equal the ones the call would
// record, without building them; the builders make the off-script note.
struct TokenMatch {
  const AuditToken& token;
  bool operator()(const LookupArgs& a) const {
    return a.token.has_value() && *a.token == token && a.pid == 0 && a.code_handle == 0 &&
           a.requirement.empty() && a.path.empty();
  }
  LookupArgs args() const { return token_args(token); }
};
struct PidMatch {
  int32_t pid;
  bool operator()(const LookupArgs& a) const {
    return !a.token.has_value() && a.pid == pid && a.code_handle == 0 && a.requirement.empty() &&
           a.path.empty();
  }
  LookupArgs args() const { return pid_args(pid); }
};
struct CodeMatch {
  CodeRef code;
  std::string_view requirement;
  bool operator()(const LookupArgs& a) const {
    return !a.token.has_value() && a.pid == 0 && a.code_handle == code &&
           a.requirement == requirement && a.path.empty();
  }
  LookupArgs args() const { return code_args(code, requirement); }
};

template <typename T>
SeamResult<T> not_recorded() {
  return SeamResult<T>{kNotRecorded, T{}};
}

}  // namespace

std::string describe(const OffScriptCall& c) {
  std::string args;
  auto add = [&args](const std::string& part) {
    if (!args.empty()) args += ", ";
    args += part;
  };
  if (c.args.token) add(short_execution(*c.args.token));
  if (c.args.pid != 0) add(fmt::format("pid {}", c.args.pid));
  if (c.args.code_handle != 0) add(fmt::format("code #{}", c.args.code_handle));
  if (!c.args.requirement.empty()) add(fmt::format("req '{}'", c.args.requirement));
  if (!c.args.path.empty()) add(c.args.path);
  return fmt::format("{}({})", name_of(c.call), args);
}

void RecordedSeam::reset(uint64_t flow_id, std::span<const Lookup> recorded) {
  flow_id_ = flow_id;
  recorded_ = recorded;
  used_.assign(recorded.size(), false);
  cursor_ = 0;
  answered_ = 0;
  off_script_.clear();
}

template <typename Match>
const Lookup* RecordedSeam::take(LookupCall call, const Match& match) {
  const std::size_t n = recorded_.size();
  // Forward from the cursor first (recorded order), then wrap around to earlier unused entries.
  auto try_at = [&](std::size_t i) {
    if (used_[i]) return false;
    const Lookup& l = recorded_[i];
    return l.call == call && match(l.args);
  };
  const std::size_t start = cursor_ < n ? cursor_ : n;
  for (std::size_t i = start; i < n; ++i) {
    if (try_at(i)) return use(i);
  }
  for (std::size_t i = 0; i < start; ++i) {
    if (try_at(i)) return use(i);
  }
  off_script_.push_back(OffScriptCall{flow_id_, call, match.args()});
  return nullptr;
}

const Lookup* RecordedSeam::use(std::size_t index) {
  used_[index] = true;
  cursor_ = index + 1;
  ++answered_;
  return &recorded_[index];
}

SeamResult<CodeRef> RecordedSeam::guest_by_audit_token(const AuditToken& token) {
  const Lookup* l = take(LookupCall::kGuestByAuditToken, TokenMatch{token});
  if (!l) return not_recorded<CodeRef>();
  return {l->outcome, l->data.code_handle};
}
SeamResult<CodeRef> RecordedSeam::guest_by_pid(int32_t pid) {
  const Lookup* l = take(LookupCall::kGuestByPid, PidMatch{pid});
  if (!l) return not_recorded<CodeRef>();
  return {l->outcome, l->data.code_handle};
}
SeamResult<CodeRef> RecordedSeam::static_code(CodeRef code) {
  const Lookup* l = take(LookupCall::kStaticCode, CodeMatch{code, {}});
  if (!l) return not_recorded<CodeRef>();
  return {l->outcome, l->data.code_handle};
}
SeamResult<std::string> RecordedSeam::code_path(CodeRef code) {
  const Lookup* l = take(LookupCall::kCodePath, CodeMatch{code, {}});
  if (!l) return not_recorded<std::string>();
  return {l->outcome, l->data.path};
}
LookupOutcome RecordedSeam::check_validity(CodeRef code, std::string_view requirement) {
  const Lookup* l = take(LookupCall::kCheckValidity, CodeMatch{code, requirement});
  return l ? l->outcome : kNotRecorded;
}
SeamResult<CodeIdentity> RecordedSeam::signing_information(CodeRef code) {
  const Lookup* l = take(LookupCall::kSigningInformation, CodeMatch{code, {}});
  if (!l) return not_recorded<CodeIdentity>();
  return {l->outcome, l->data.identity.value_or(CodeIdentity{})};
}
int32_t RecordedSeam::audit_token_to_pid(const AuditToken& token) {
  // audit_token_to_pid reads a field of the token: it cannot race and needs no recording. A
  // recorded entry is consumed when present so that evidence lines up, but its absence is not
  // off-script.
  const std::size_t n = recorded_.size();
  for (std::size_t i = 0; i < n; ++i) {
    if (!used_[i] && recorded_[i].call == LookupCall::kAuditTokenToPid &&
        recorded_[i].args.token == token) {
      used_[i] = true;
      ++answered_;
      break;
    }
  }
  return token.pid();
}
SeamResult<std::string> RecordedSeam::proc_pidpath(int32_t pid) {
  const Lookup* l = take(LookupCall::kProcPidpath, PidMatch{pid});
  if (!l) return not_recorded<std::string>();
  return {l->outcome, l->data.path};
}
SeamResult<std::string> RecordedSeam::proc_pidpath_audittoken(const AuditToken& token) {
  const Lookup* l = take(LookupCall::kProcPidpathAudittoken, TokenMatch{token});
  if (!l) return not_recorded<std::string>();
  return {l->outcome, l->data.path};
}
SeamResult<AuditToken> RecordedSeam::token_for_pid(int32_t pid) {
  const Lookup* l = take(LookupCall::kTokenForPid, PidMatch{pid});
  if (!l) return not_recorded<AuditToken>();
  return {l->outcome, l->data.token.value_or(AuditToken{})};
}
LookupOutcome RecordedSeam::kill_zero(int32_t pid) {
  const Lookup* l = take(LookupCall::kKillZero, PidMatch{pid});
  return l ? l->outcome : kNotRecorded;
}
SeamResult<int32_t> RecordedSeam::responsible_pid(int32_t pid) {
  const Lookup* l = take(LookupCall::kResponsiblePid, PidMatch{pid});
  if (!l) return not_recorded<int32_t>();
  return {l->outcome, l->data.pid};
}
// A macOS trace's lookups are the Seam's calls; Linux recordings are answered by
// LinuxRecordedSeam (replay/linux_seam.h).
LinuxSeam* RecordedSeam::linux_lookups() { return nullptr; }

}  // namespace flowid::replay
