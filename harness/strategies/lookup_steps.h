// Steps that several reference resolver strategies share: which of a flow's tokens to ask about,
// how to read an error code, and the token-bound lookup chain. Only the strategies include this
// header; it is not part of the plugin contract.
//
// Method names handed to Attribution::method are kept to at most 15 characters so that they fit
// in std::string's small-string buffer: a strategy that resolves millions of flows under the
// fuzzer should not allocate for its own label.
#pragma once

#include <string_view>

#include "harness/model.h"
#include "harness/resolver.h"
#include "harness/seam.h"

namespace flowid::strategies {

// The token a resolver asks about, or none.
//
// A flow carries two tokens. sourceProcessAuditToken (macOS 13+) names the process that really
// created the socket; sourceAppAuditToken names the app it works for, which differs under
// delegation (fault F6: nsurlsessiond downloading for an app). The flow's own execution is the
// socket's creator, so the process token is used whenever it is present. The app token is used
// only when the process token is absent altogether (older systems never send one): then it is
// the only evidence there is, and the method says "app-token" so findings show the substitution.
// A process token that is present but malformed (fault F7) is NOT replaced by the app token:
// under delegation that would silently name a different process. It yields no token.
struct SourceToken {
  const AuditToken* token = nullptr;  // points into the flow; null when absent or malformed.
  bool from_app = false;              // true when the app token stands in for the process token.
  bool malformed = false;             // a token was present but of the wrong size.
};
SourceToken source_token(const Flow& flow);

// The app token alone (LuLu asks about sourceAppAuditToken), with the same malformed rule.
SourceToken app_token(const Flow& flow);

// True when an outcome says the execution no longer exists: ESRCH as an OSStatus (100003) or as
// an errno, or errSecCSGuestInvalid (the guest died under the handle).
bool is_gone(const LookupOutcome& outcome);

// gone for is_gone outcomes, unknown for every other failure (EPERM, errSecCSNoSuchCode,
// errSecCSStaticCodeChanged, kern_return failures, codes no one has named yet): a strategy that
// cannot tell fails closed.
AttributionStatus failure_status(const LookupOutcome& outcome);

// The token-bound chain: guest_by_audit_token(token) -> static_code -> code_path ->
// signing_information. Every answer is bound to exactly the execution the token names, which is
// what lets a strategy claim "verified". On success returns ok and fills identity (its path is
// code_path's answer); otherwise returns the first failing outcome and leaves identity unspecified.
LookupOutcome identity_by_token(Seam& seam, const AuditToken& token, CodeIdentity& identity);

// Attribution builders. claimed names the execution the resolver believes it describes.
Attribution verified(CodeIdentity identity, ExecutionId claimed, std::string_view method);
Attribution unverified_path(std::string path, ExecutionId claimed, std::string_view method);
Attribution failed(AttributionStatus status, std::string_view method);
Attribution failed(AttributionStatus status, ExecutionId claimed, std::string_view method);
// unknown, with "malformed-token" or "no-token" as the method.
Attribution no_token(const SourceToken& source);

}  // namespace flowid::strategies
