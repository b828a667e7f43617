// The program catalogue fuzz cases are built from, and the rules drawn over it. Shared by the
// seeded schedule generator (generator.cc) and the rapidcheck stateful model (proptest/), so that
// both engines speak about the same programs, hosts, calls and rule policies.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/filter.h"
#include "harness/fuzz/generator.h"
#include "harness/model.h"
#include "harness/scenario.h"

namespace flowid::fuzz {

// The programs a case is built from. Paths are what a macOS machine has; identities are what
// the rules key on.
struct Program {
  std::string_view path;
  SignatureKind kind;
  std::string_view signing_id;
  std::string_view team_id;
  bool trusted;  // a program users typically allow (the target of a pid reuse).
};
enum ProgramIndex : int {
  kGood = 0,
  kEvil,
  kTool,
  kCurl,
  kSafari,
  kAdHoc,
  kMiner,
  kTrustd,
  kNsurlsessiond,
  kSimTrustd,
  kImpostorApple,
  kImpostorTeam,
  kImpostorBorrowed,
  kProgramCount
};
inline constexpr std::array<Program, kProgramCount> kPrograms = {{
    {"/Applications/Good.app/Contents/MacOS/Good", SignatureKind::kDeveloperId, "com.example.good",
     "GOODTEAM01", true},
    {"/tmp/evil", SignatureKind::kUnsigned, "", "", false},
    {"/usr/local/bin/tool", SignatureKind::kDeveloperId, "com.example.tool", "TOOLTEAM01", true},
    {"/usr/bin/curl", SignatureKind::kPlatform, "com.apple.curl", "", true},
    {"/Applications/Safari.app/Contents/MacOS/Safari", SignatureKind::kPlatform, "com.apple.Safari",
     "", true},
    {"/tmp/adhoc-build", SignatureKind::kAdHoc, "", "", false},
    {"/Applications/Miner.app/Contents/MacOS/Miner", SignatureKind::kDeveloperId,
     "com.example.miner", "MINERTEAM1", false},
    {"/usr/libexec/trustd", SignatureKind::kPlatform, "com.apple.trustd", "", true},
    {"/usr/libexec/nsurlsessiond", SignatureKind::kPlatform, "com.apple.nsurlsessiond", "", true},
    {"/Library/Developer/CoreSimulator/Volumes/iOS_21A328/Library/Developer/CoreSimulator/Profiles/"
     "Runtimes/iOS 17.0.simruntime/Contents/Resources/RuntimeRoot/usr/libexec/trustd",
     SignatureKind::kPlatform, "com.apple.trustd", "", false},
    // Same name, other code (F10's family): ad-hoc code that borrows an Apple identifier, and
    // another team's build signed with a trusted program's identifier. Only the signing facts a
    // resolver reports (team, platform, kind) tell them from the genuine program.
    {"/Users/u/Downloads/curl", SignatureKind::kAdHoc, "com.apple.curl", "", false},
    {"/Users/u/Downloads/Good", SignatureKind::kDeveloperId, "com.example.good", "EVILTEAM01",
     false},
    // Another team's build signed with an identifier the code under test names (its signing id
    // comes from GeneratorOptions::borrowed_signing_ids, chosen per case).
    {"/Users/u/Downloads/Updater", SignatureKind::kDeveloperId, "", "EVILTEAM01", false},
}};
// Programs clean episodes and fault patterns pick from (not the /usr/libexec daemons, which
// belong to F3, F6 and F10).
inline constexpr std::array<int, 7> kOrdinaryPrograms = {kGood,   kEvil,  kTool, kCurl,
                                                         kSafari, kAdHoc, kMiner};
inline constexpr std::array<int, 3> kUntrustedPrograms = {kEvil, kAdHoc, kMiner};
inline constexpr std::array<int, 4> kTrustedPrograms = {kGood, kTool, kCurl, kSafari};

inline constexpr std::array<std::string_view, 5> kHosts = {
    "example.com", "api.example.com", "exfil.example.net", "ocsp.apple.com", "tracker.example.net"};

inline constexpr std::array<LookupCall, 11> kResolverCalls = {
    LookupCall::kGuestByAuditToken,  LookupCall::kStaticCode,    LookupCall::kCodePath,
    LookupCall::kSigningInformation, LookupCall::kProcPidpath,   LookupCall::kProcPidpathAudittoken,
    LookupCall::kTokenForPid,        LookupCall::kKillZero,      LookupCall::kGuestByPid,
    LookupCall::kCheckValidity,      LookupCall::kResponsiblePid};
inline constexpr std::array<LookupCall, 7> kLauncherCalls = {
    LookupCall::kCheckFile,     LookupCall::kSpawn,          LookupCall::kSpawnWithRequirement,
    LookupCall::kCopyToPrivate, LookupCall::kSpawnSuspended, LookupCall::kResume,
    LookupCall::kCheckValidity};
// Every outcome a lookup can answer in the model, as a transient failure may produce it: no such
// code, EPERM, ESRCH, static code changed, requirement failed, unsigned, guest invalid, invalid
// handle; EAGAIN, ESRCH, EPERM, EACCES as errnos; KERN_INVALID_ARGUMENT and KERN_FAILURE.
inline constexpr LookupOutcome osstatus(int32_t code) { return {OutcomeDomain::kOsStatus, code}; }
inline constexpr LookupOutcome errno_outcome(int32_t code) { return {OutcomeDomain::kErrno, code}; }
inline constexpr LookupOutcome kern(int32_t code) { return {OutcomeDomain::kKernReturn, code}; }
inline constexpr std::array<LookupOutcome, 14> kTransientOutcomes = {
    osstatus(-67065),  osstatus(100001), osstatus(100003), osstatus(-67034),
    osstatus(-67050),  osstatus(-67062), osstatus(-67063), osstatus(-67071),
    errno_outcome(35), errno_outcome(3), errno_outcome(1), errno_outcome(13),
    kern(4),           kern(5)};

// The file step installing a program's genuine build, its identity as the catalogue gives it.
inline scenario::step::FileSpec file_spec(const Program& p) {
  scenario::step::FileSpec file;
  file.path = std::string(p.path);
  file.signature = p.kind;
  file.signing_id = std::string(p.signing_id);
  file.team_id = std::string(p.team_id);
  return file;
}

// What the rule generator does for one program.
enum class RulePlan : uint8_t {
  kRandom,
  kNone,
  kAllowIdentity,
  kAllowPath,
  kDenyIdentity,
  kDenyPath
};

struct RuleDraft {
  std::array<bool, kProgramCount> used{};  // programs the case runs: each may get a rule.
  std::array<RulePlan, kProgramCount> plans{};
  bool no_rule_allow = false;  // unmatched programs pass (deny rules matter).
};

// One rule per used program (random plan unless fixed), and a policy. Never writes a fail-open
// policy a correct strategy could not be safe under (see programs.cc).
RuleSet draw_rules(const RuleDraft& draft, Choices& choices);

}  // namespace flowid::fuzz
