// The seam for faithful replay: answers a resolver's calls from the lookups a trace recorded for
// the same flow, never from a guess (DESIGN §4).
//
// Matching: a call is answered by the first not-yet-used recorded lookup of the same call with
// equal arguments, searching forward from the last match first (recorded order), then from the
// start (a resolver may ask in another order than the recorder did). Each recorded lookup answers
// at most once. A call with no match is off-script: it is remembered (call + arguments) so the
// replay reports it with its flow, and the resolver gets an outcome that no real lookup returns
// (errno ENOSYS, "not recorded") so that nothing downstream mistakes it for a real answer.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "harness/seam.h"

namespace flowid::replay {

struct OffScriptCall {
  uint64_t flow_id = 0;
  LookupCall call = LookupCall::kGuestByAuditToken;
  LookupArgs args;
};

// The answer given to an off-script call.
inline constexpr LookupOutcome kNotRecorded{OutcomeDomain::kErrno, 38 /* ENOSYS */};

// Describes an off-script call for people: "guest-by-pid(pid 744)".
std::string describe(const OffScriptCall& call);

class RecordedSeam final : public Seam {
 public:
  // Starts answering for one flow from its recorded lookups (in recorded order). The span must
  // stay valid until the next reset().
  void reset(uint64_t flow_id, std::span<const Lookup> recorded);

  const std::vector<OffScriptCall>& off_script() const { return off_script_; }
  // How many recorded lookups were used to answer calls.
  std::size_t answered() const { return answered_; }

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

 private:
  // The recorded lookup answering (call, arguments), or null (and the call is noted as
  // off-script). match(recorded_args) says whether a recorded lookup's arguments equal the
  // call's; match.args() builds them for the off-script note (defined in recorded_seam.cc).
  template <typename Match>
  const Lookup* take(LookupCall call, const Match& match);
  // Marks recorded_[index] used and moves the cursor past it.
  const Lookup* use(std::size_t index);

  uint64_t flow_id_ = 0;
  std::span<const Lookup> recorded_;
  std::vector<bool> used_;
  std::size_t cursor_ = 0;
  std::size_t answered_ = 0;
  std::vector<OffScriptCall> off_script_;
};

}  // namespace flowid::replay
