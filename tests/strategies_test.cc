// The reference strategies against a scripted seam: each test states the world's answers in the
// order the strategy must ask, so a passing test pins both the call sequence and the attribution.
// Scenarios follow DESIGN §3's faults and the field bugs the models reproduce.
#include "harness/strategies/strategies.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cerrno>

#include "harness/builders.h"
#include "harness/oracle.h"
#include "harness/strategies/catalog.h"
#include "harness/world.h"
#include "tests/fake_seam.h"

namespace flowid {
namespace {

using testing::concat;
using testing::LaunchWorld;
using testing::ScriptedSeam;
using testing::Step;
using testing::step_fails;
using testing::step_ok;
using testing::step_ok_handle;
using testing::step_ok_path;
using testing::step_ok_token;
using testing::step_signing;
using testing::step_to_pid;
using testing::token_chain_ok;
using C = LookupCall;
using S = AttributionStatus;

const LookupOutcome kEperm = build::osstatus(codes::kOsStatusEperm);
const LookupOutcome kEsrch = build::osstatus(codes::kOsStatusEsrch);
const LookupOutcome kErrnoEsrch = build::posix(ESRCH);
const LookupOutcome kErrnoUnsupported = build::posix(ENOSYS);

const AuditToken kCurlToken = build::token(744, 7);
const CodeIdentity kCurl = build::platform_binary("/usr/bin/curl", "com.apple.curl");
const CodeIdentity kTrustd = build::platform_binary("/usr/libexec/trustd", "com.apple.trustd");
const CodeIdentity kSpotlight = build::platform_binary(
    "/System/Library/Frameworks/CoreServices.framework/mds", "com.apple.mds");

// Runs one resolver on one flow against a script and checks that the script was followed exactly.
struct Run {
  Attribution attribution;
  std::vector<Lookup> lookups;
};
Run run(Resolver& resolver, const Flow& flow, std::vector<Step> script, uint64_t now_ns = 0) {
  ScriptedSeam seam(std::move(script));
  Run r{resolver.resolve(flow, now_ns, seam), seam.lookups()};
  EXPECT_EQ(seam.off_script(), "") << resolver.name();
  EXPECT_TRUE(seam.finished()) << resolver.name()
                               << ": the strategy stopped before the script ended";
  return r;
}
Run run(std::string_view resolver_name, const Flow& flow, std::vector<Step> script) {
  auto resolver = make_resolver(resolver_name);
  EXPECT_NE(resolver, nullptr) << resolver_name;
  return run(*resolver, flow, std::move(script));
}

Flow curl_flow() { return build::tcp_flow(1, kCurlToken); }

CodeIdentity path_only(std::string_view path) {
  CodeIdentity id;
  id.path = std::string(path);
  return id;
}

void expect_attribution(const Run& r, S status, std::optional<CodeIdentity> identity,
                        std::string_view method) {
  EXPECT_EQ(r.attribution.status, status) << name_of(r.attribution.status);
  EXPECT_EQ(r.attribution.identity, identity);
  EXPECT_EQ(r.attribution.method, method);
}

// --------------------------------------------------------------------------------------------
// All good: the process is alive, signed and not sandbox-refused.

TEST(AllGood, PidPathClaimsVerifiedWithPathOnly) {
  auto r = run("pid-path", curl_flow(), {step_to_pid(), step_ok_path(C::kProcPidpath, kCurl.path)});
  expect_attribution(r, S::kVerified, path_only(kCurl.path), "pid-path");
  EXPECT_EQ(r.attribution.claimed_execution, kCurlToken.execution());
  EXPECT_EQ(r.lookups[1].args.pid, 744);
}

TEST(AllGood, TokenStrategiesVerifyThroughTheTokenChain) {
  for (std::string_view name : {"token", "token+pid-fallback", "token+recheck"}) {
    SCOPED_TRACE(name);
    auto r = run(name, curl_flow(), token_chain_ok(kCurl));
    expect_attribution(r, S::kVerified, kCurl, "token");
    EXPECT_EQ(r.attribution.claimed_execution, kCurlToken.execution());
    ASSERT_EQ(r.lookups.size(), 4u);
    EXPECT_EQ(r.lookups[0].args.token, kCurlToken) << "asks about exactly the flow's execution";
    EXPECT_EQ(r.lookups[1].args.code_handle, 11u) << "static code of the guest handle";
    EXPECT_EQ(r.lookups[2].args.code_handle, 12u) << "path of the static code";
    EXPECT_EQ(r.lookups[3].args.code_handle, 12u) << "signing information of the static code";
  }
}

TEST(AllGood, LuluReadsPathByPidAndSigningByTokenThenCaches) {
  auto lulu = strategies::make_lulu_model();
  auto first = run(*lulu, curl_flow(),
                   {step_to_pid(), step_ok_path(C::kProcPidpath, kCurl.path),
                    step_ok_handle(C::kGuestByAuditToken, 11), step_ok_handle(C::kStaticCode, 12),
                    step_signing(kCurl)});
  expect_attribution(first, S::kVerified, kCurl, "signing-info");
  auto second = run(*lulu, build::tcp_flow(2, kCurlToken), {step_to_pid(), step_ok(C::kKillZero)});
  expect_attribution(second, S::kVerified, kCurl, "cache");
}

TEST(AllGood, OpensnitchReadsProcThenCaches) {
  auto opensnitch = strategies::make_opensnitch_model();
  auto first =
      run(*opensnitch, curl_flow(),
          {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)});
  expect_attribution(first, S::kVerified, path_only(kCurl.path), "proc");
  auto second = run(*opensnitch, build::tcp_flow(2, kCurlToken), {step_to_pid()});
  expect_attribution(second, S::kVerified, path_only(kCurl.path), "cache");
}

// --------------------------------------------------------------------------------------------
// Seed 000: the sandboxed filter gets EPERM 100001 for /usr/libexec/trustd.

const AuditToken kTrustdToken = build::token(267, 4, 0);
Flow trustd_flow() { return build::tcp_flow(3, kTrustdToken); }

TEST(SandboxEperm, TokenFailsClosedToUnknown) {
  auto r = run("token", trustd_flow(), {step_fails(C::kGuestByAuditToken, kEperm)});
  expect_attribution(r, S::kUnknown, std::nullopt, "token");
}

TEST(SandboxEperm, PidFallbackLabelsThePathUnverified) {
  auto r = run("token+pid-fallback", trustd_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm), step_to_pid(),
                step_ok_path(C::kProcPidpath, kTrustd.path)});
  expect_attribution(r, S::kUnverified, path_only(kTrustd.path), "pid-fallback");
  EXPECT_EQ(r.attribution.claimed_execution, kTrustdToken.execution());
}

TEST(SandboxEperm, RecheckUsesTheKernelCheckedPath) {
  auto r = run("token+recheck", trustd_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm),
                step_ok_path(C::kProcPidpathAudittoken, kTrustd.path)});
  expect_attribution(r, S::kUnverified, path_only(kTrustd.path), "audittoken-path");
  EXPECT_EQ(r.lookups[1].args.token, kTrustdToken);
}

TEST(SandboxEperm, RecheckFallsBackToTokenReadsAroundTheProcPath) {
  auto r = run(
      "token+recheck", trustd_flow(),
      {step_fails(C::kGuestByAuditToken, kEperm),
       step_fails(C::kProcPidpathAudittoken, kErrnoUnsupported), step_to_pid(),
       step_ok_token(C::kTokenForPid, kTrustdToken), step_ok_path(C::kProcPidpath, kTrustd.path),
       step_ok_token(C::kTokenForPid, kTrustdToken)});
  expect_attribution(r, S::kUnverified, path_only(kTrustd.path), "pid-recheck");
}

TEST(SandboxEperm, RecheckWithRefusedTokenReadIsUnknown) {
  auto r = run("token+recheck", trustd_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm),
                step_fails(C::kProcPidpathAudittoken, kErrnoUnsupported), step_to_pid(),
                step_fails(C::kTokenForPid, build::kern(codes::kKernFailure))});
  expect_attribution(r, S::kUnknown, std::nullopt, "pid-recheck");
}

TEST(SandboxEperm, LuluFailsOpenWithThePathAsUnsignedProgram) {
  // LuLu #484: alive but unresolvable. The model claims "verified" with the best it has.
  auto r = run("lulu-model", trustd_flow(),
               {step_to_pid(), step_ok_path(C::kProcPidpath, kTrustd.path),
                step_fails(C::kGuestByAuditToken, kEperm), step_ok(C::kKillZero)});
  expect_attribution(r, S::kVerified, path_only(kTrustd.path), "fail-open");
  EXPECT_EQ(r.attribution.identity->signature, SignatureKind::kUnsigned);
}

// --------------------------------------------------------------------------------------------
// ESRCH 100003: the process exited before the lookup.

TEST(Exited, TokenAndRecheckSayGoneWithoutFallback) {
  for (std::string_view name : {"token", "token+recheck"}) {
    SCOPED_TRACE(name);
    auto r = run(name, curl_flow(), {step_fails(C::kGuestByAuditToken, kEsrch)});
    expect_attribution(r, S::kGone, std::nullopt, "token");
  }
}

TEST(Exited, GuestInvalidMidChainIsGone) {
  auto r = run("token", curl_flow(),
               {step_ok_handle(C::kGuestByAuditToken, 11),
                step_fails(C::kStaticCode, build::osstatus(codes::kSecCsGuestInvalid))});
  expect_attribution(r, S::kGone, std::nullopt, "token");
}

TEST(Exited, PidFallbackIsGoneWhenBothLookupsFail) {
  auto r = run("token+pid-fallback", curl_flow(),
               {step_fails(C::kGuestByAuditToken, kEsrch), step_to_pid(),
                step_fails(C::kProcPidpath, kErrnoEsrch)});
  expect_attribution(r, S::kGone, std::nullopt, "pid-fallback");
}

TEST(Exited, PidPathIsGoneWhenProcPidpathSaysEsrch) {
  auto r = run("pid-path", curl_flow(), {step_to_pid(), step_fails(C::kProcPidpath, kErrnoEsrch)});
  expect_attribution(r, S::kGone, std::nullopt, "pid-path");
}

TEST(Exited, LuluShowsAQuicklyExitingProcessAsUnsigned) {
  // LuLu #760 / #711: the path was read, then the process exited before its signature was.
  auto r = run("lulu-model", curl_flow(),
               {step_to_pid(), step_ok_path(C::kProcPidpath, "/usr/bin/ssh"),
                step_fails(C::kGuestByAuditToken, kEsrch), step_fails(C::kKillZero, kErrnoEsrch)});
  expect_attribution(r, S::kVerified, path_only("/usr/bin/ssh"), "exited-unsigned");
}

TEST(Exited, LuluIsGoneWhenNothingCouldBeRead) {
  auto r = run("lulu-model", curl_flow(),
               {step_to_pid(), step_fails(C::kProcPidpath, kErrnoEsrch),
                step_fails(C::kKillZero, kErrnoEsrch)});
  expect_attribution(r, S::kGone, std::nullopt, "exited");
}

TEST(Exited, OpensnitchSenderGoneBeforeLookupIsUnknown) {
  // OpenSnitch #617.
  auto r =
      run("opensnitch-model", curl_flow(), {step_to_pid(), step_fails(C::kKillZero, kErrnoEsrch)});
  expect_attribution(r, S::kUnknown, std::nullopt, "proc-gone");
}

// --------------------------------------------------------------------------------------------
// F1 pid reuse: curl (744, 7) exited and Spotlight now holds pid 744 as (744, 9).

const AuditToken kSpotlightToken = build::token(744, 9, 0);

TEST(PidReuse, PidPathNamesTheNewProgramAsVerified) {
  // The flaw pid-path exists to show: the oracle flags this claim (I1).
  auto r =
      run("pid-path", curl_flow(), {step_to_pid(), step_ok_path(C::kProcPidpath, kSpotlight.path)});
  expect_attribution(r, S::kVerified, path_only(kSpotlight.path), "pid-path");
  EXPECT_EQ(r.attribution.claimed_execution, kCurlToken.execution());
}

TEST(PidReuse, PidFallbackNamesTheNewProgramButLabelsItUnverified) {
  auto r = run("token+pid-fallback", curl_flow(),
               {step_fails(C::kGuestByAuditToken, kEsrch), step_to_pid(),
                step_ok_path(C::kProcPidpath, kSpotlight.path)});
  expect_attribution(r, S::kUnverified, path_only(kSpotlight.path), "pid-fallback");
}

TEST(PidReuse, RecheckDetectsANewerPidversionBeforeReadingThePath) {
  auto r = run("token+recheck", curl_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm),
                step_fails(C::kProcPidpathAudittoken, kErrnoUnsupported), step_to_pid(),
                step_ok_token(C::kTokenForPid, kSpotlightToken)});
  expect_attribution(r, S::kGone, std::nullopt, "pid-recheck");
}

TEST(PidReuse, RecheckDetectsReuseBetweenTheTwoTokenReads) {
  auto r = run(
      "token+recheck", curl_flow(),
      {step_fails(C::kGuestByAuditToken, kEperm),
       step_fails(C::kProcPidpathAudittoken, kErrnoUnsupported), step_to_pid(),
       step_ok_token(C::kTokenForPid, kCurlToken), step_ok_path(C::kProcPidpath, kSpotlight.path),
       step_ok_token(C::kTokenForPid, kSpotlightToken)});
  expect_attribution(r, S::kGone, std::nullopt, "pid-recheck");
}

TEST(PidReuse, RecheckKernelCheckedPathSaysEsrch) {
  auto r = run("token+recheck", curl_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm),
                step_fails(C::kProcPidpathAudittoken, kErrnoEsrch)});
  expect_attribution(r, S::kGone, std::nullopt, "audittoken-path");
}

TEST(PidReuse, LuluNamesWhateverHoldsThePidNow) {
  // LuLu #69: the alert named the process whose pid now belonged to Spotlight.
  auto r = run("lulu-model", curl_flow(),
               {step_to_pid(), step_ok_path(C::kProcPidpath, kSpotlight.path),
                step_fails(C::kGuestByAuditToken, kEsrch), step_ok(C::kKillZero)});
  expect_attribution(r, S::kVerified, path_only(kSpotlight.path), "fail-open");
}

TEST(PidReuse, LuluCacheAnswersForTheNewProcessWithTheOldIdentity) {
  auto lulu = strategies::make_lulu_model();
  run(*lulu, curl_flow(),
      {step_to_pid(), step_ok_path(C::kProcPidpath, kCurl.path),
       step_ok_handle(C::kGuestByAuditToken, 11), step_ok_handle(C::kStaticCode, 12),
       step_signing(kCurl)});
  // Spotlight's own flow from pid 744: the cache is keyed by the bare pid, and kill(744, 0) says
  // "alive", so the model answers with curl's identity.
  auto r = run(*lulu, build::tcp_flow(2, kSpotlightToken), {step_to_pid(), step_ok(C::kKillZero)});
  expect_attribution(r, S::kVerified, kCurl, "cache");
  EXPECT_EQ(r.attribution.claimed_execution, kSpotlightToken.execution());
}

TEST(PidReuse, LuluCacheEntryOfADeadPidIsDropped) {
  auto lulu = strategies::make_lulu_model();
  run(*lulu, curl_flow(),
      {step_to_pid(), step_ok_path(C::kProcPidpath, kCurl.path),
       step_ok_handle(C::kGuestByAuditToken, 11), step_ok_handle(C::kStaticCode, 12),
       step_signing(kCurl)});
  auto r = run(*lulu, build::tcp_flow(2, kCurlToken),
               {step_to_pid(), step_fails(C::kKillZero, kErrnoEsrch),
                step_fails(C::kProcPidpath, kErrnoEsrch), step_fails(C::kKillZero, kErrnoEsrch)});
  expect_attribution(r, S::kGone, std::nullopt, "exited");
}

// --------------------------------------------------------------------------------------------
// F4 exec after the flow: pid 744 exec'd into another image, (744, 8); the flow's token is stale.

TEST(ExecAfterFlow, TokenStrategiesSayGone) {
  for (std::string_view name : {"token", "token+recheck"}) {
    SCOPED_TRACE(name);
    auto r = run(name, curl_flow(), {step_fails(C::kGuestByAuditToken, kEsrch)});
    EXPECT_EQ(r.attribution.status, S::kGone);
  }
}

TEST(ExecAfterFlow, PidStrategiesNameTheNewImage) {
  const std::string new_image = "/usr/local/bin/payload";
  auto naive =
      run("pid-path", curl_flow(), {step_to_pid(), step_ok_path(C::kProcPidpath, new_image)});
  expect_attribution(naive, S::kVerified, path_only(new_image), "pid-path");
  auto fallback = run("token+pid-fallback", curl_flow(),
                      {step_fails(C::kGuestByAuditToken, kEsrch), step_to_pid(),
                       step_ok_path(C::kProcPidpath, new_image)});
  expect_attribution(fallback, S::kUnverified, path_only(new_image), "pid-fallback");
}

TEST(ExecAfterFlow, RecheckSeesTheExecAsANewPidversion) {
  auto r = run("token+recheck", curl_flow(),
               {step_fails(C::kGuestByAuditToken, kEperm),
                step_fails(C::kProcPidpathAudittoken, kErrnoUnsupported), step_to_pid(),
                step_ok_token(C::kTokenForPid, build::token(744, 8))});
  EXPECT_EQ(r.attribution.status, S::kGone);
}

TEST(ExecAfterFlow, OpensnitchDropsItsEntryOnExec) {
  auto opensnitch = strategies::make_opensnitch_model();
  run(*opensnitch, curl_flow(),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)});
  opensnitch->observe(build::exec(5, kCurlToken, build::token(744, 8), kSpotlight));
  auto r =
      run(*opensnitch, build::tcp_flow(2, build::token(744, 8)),
          {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kSpotlight.path)});
  expect_attribution(r, S::kVerified, path_only(kSpotlight.path), "proc");
}

// --------------------------------------------------------------------------------------------
// F7 malformed or absent token: no lookup is made; the attribution is unknown.

TEST(MalformedToken, EveryResolverAnswersUnknownWithoutALookup) {
  Flow flow = curl_flow();
  flow.source_process_audit_token = build::malformed_flow_token(kCurlToken, 20);
  flow.source_app_audit_token = build::malformed_flow_token(kCurlToken, 20);
  for (std::string_view name : resolver_names()) {
    SCOPED_TRACE(name);
    auto r = run(name, flow, {});
    expect_attribution(r, S::kUnknown, std::nullopt, "malformed-token");
  }
}

TEST(MalformedToken, AbsentTokensAreUnknown) {
  Flow flow = curl_flow();
  flow.source_process_audit_token = {};
  flow.source_app_audit_token = {};
  for (std::string_view name : resolver_names()) {
    SCOPED_TRACE(name);
    auto r = run(name, flow, {});
    expect_attribution(r, S::kUnknown, std::nullopt, "no-token");
  }
}

TEST(MalformedToken, AMalformedProcessTokenIsNotReplacedByTheAppToken) {
  Flow flow = curl_flow();
  flow.source_process_audit_token = build::malformed_flow_token(build::token(300, 3), 28);
  auto r = run("token", flow, {});
  expect_attribution(r, S::kUnknown, std::nullopt, "malformed-token");
}

TEST(MalformedToken, WithoutAProcessTokenTheAppTokenStandsIn) {
  Flow flow = curl_flow();
  flow.source_process_audit_token = {};
  auto r = run("token", flow, token_chain_ok(kCurl));
  expect_attribution(r, S::kVerified, kCurl, "app-token");
}

// --------------------------------------------------------------------------------------------
// F6 delegation: nsurlsessiond (300, 3) created the socket for Safari (744, 7).

const AuditToken kHelperToken = build::token(300, 3, 0);
const CodeIdentity kHelper =
    build::platform_binary("/usr/libexec/nsurlsessiond", "com.apple.nsurlsessiond");

Flow delegated_flow() {
  Flow flow = build::tcp_flow(9, build::token(744, 7));
  flow.source_process_audit_token = build::flow_token(kHelperToken);
  return flow;
}

TEST(Delegation, TokenStrategiesNameTheSocketsCreator) {
  for (std::string_view name : {"token", "token+pid-fallback", "token+recheck"}) {
    SCOPED_TRACE(name);
    auto r = run(name, delegated_flow(), token_chain_ok(kHelper));
    EXPECT_EQ(r.lookups[0].args.token, kHelperToken);
    EXPECT_EQ(r.attribution.claimed_execution, kHelperToken.execution());
  }
}

TEST(Delegation, LuluAsksAboutTheAppToken) {
  auto r = run("lulu-model", delegated_flow(),
               {step_to_pid(), step_ok_path(C::kProcPidpath, "/Applications/Safari.app/Safari"),
                step_ok_handle(C::kGuestByAuditToken, 11), step_ok_handle(C::kStaticCode, 12),
                step_signing(kCurl)});
  EXPECT_EQ(r.lookups[0].args.token, build::token(744, 7));
  EXPECT_EQ(r.attribution.claimed_execution, (ExecutionId{744, 7}));
}

// --------------------------------------------------------------------------------------------
// F5: the file was replaced after launch; the static code no longer matches.

TEST(FileReplaced, TokenIsUnknownAndLuluFailsOpen) {
  const LookupOutcome changed = build::osstatus(codes::kSecCsStaticCodeChanged);
  auto token =
      run("token", curl_flow(),
          {step_ok_handle(C::kGuestByAuditToken, 11), step_fails(C::kStaticCode, changed)});
  expect_attribution(token, S::kUnknown, std::nullopt, "token");
  auto lulu = run("lulu-model", curl_flow(),
                  {step_to_pid(), step_ok_path(C::kProcPidpath, kCurl.path),
                   step_ok_handle(C::kGuestByAuditToken, 11), step_fails(C::kStaticCode, changed),
                   step_ok(C::kKillZero)});
  expect_attribution(lulu, S::kVerified, path_only(kCurl.path), "fail-open");
}

TEST(FailOpen, LuluAliveButPathUnreadableClaimsAnEmptyIdentity) {
  // A zombie: proc_pidpath refuses, kill(pid, 0) says alive.
  auto r = run("lulu-model", curl_flow(),
               {step_to_pid(), step_fails(C::kProcPidpath, kErrnoEsrch), step_ok(C::kKillZero)});
  expect_attribution(r, S::kVerified, CodeIdentity{}, "fail-open");
}

// --------------------------------------------------------------------------------------------
// OpenSnitch #1447: a pid reused within the exit grace period gets the old cached identity.

TEST(OpensnitchGrace, ReusedPidWithinGraceGetsTheExitedProcessIdentity) {
  strategies::OpensnitchModelOptions options;
  options.exit_grace_period_ns = 100;
  auto opensnitch = strategies::make_opensnitch_model(options);
  run(*opensnitch, curl_flow(),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)}, 0);
  opensnitch->observe(build::exit(10, kCurlToken));

  // t = 60: 50 ns after the exit, inside the grace period. Spotlight's flow is called curl.
  auto within = run(*opensnitch, build::tcp_flow(2, kSpotlightToken), {step_to_pid()}, 60);
  expect_attribution(within, S::kVerified, path_only(kCurl.path), "cache");

  // t = 110: the grace period (100 ns after the exit at t = 10) is over.
  auto after = run(
      *opensnitch, build::tcp_flow(3, kSpotlightToken),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kSpotlight.path)}, 110);
  expect_attribution(after, S::kVerified, path_only(kSpotlight.path), "proc");
}

TEST(OpensnitchGrace, OnlyTheFirstExitReportStartsTheGracePeriod) {
  strategies::OpensnitchModelOptions options;
  options.exit_grace_period_ns = 100;
  auto opensnitch = strategies::make_opensnitch_model(options);
  run(*opensnitch, curl_flow(),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)}, 0);
  opensnitch->observe(build::exit(10, kCurlToken, ExitStage::kExited));
  opensnitch->observe(build::exit(90, kCurlToken, ExitStage::kReaped));
  auto r =
      run(*opensnitch, curl_flow(), {step_to_pid(), step_fails(C::kKillZero, kErrnoEsrch)}, 150);
  EXPECT_EQ(r.attribution.status, S::kUnknown);
}

TEST(OpensnitchGrace, CacheIsBounded) {
  strategies::OpensnitchModelOptions options;
  options.cache_entries_max = 2;
  auto opensnitch = strategies::make_opensnitch_model(options);
  for (int32_t pid : {10, 11, 12}) {
    run(*opensnitch, build::tcp_flow(1, build::token(pid, 1)),
        {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, "/bin/x")});
  }
  // pid 10 was the oldest entry and was evicted; 12 is still cached.
  run(*opensnitch, build::tcp_flow(1, build::token(12, 1)), {step_to_pid()});
  run(*opensnitch, build::tcp_flow(1, build::token(10, 1)),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, "/bin/x")});
}

// --------------------------------------------------------------------------------------------
// Properties over arbitrary seam answers: totality (I7) and the claims each strategy may make.

// Answers every call with an arbitrary outcome drawn by rapidcheck. Tokens returned by
// token_for_pid are the flow's own or one with another pidversion.
class ArbitrarySeam final : public Seam {
 public:
  explicit ArbitrarySeam(const AuditToken& flow_token) : flow_token_(flow_token) {}
  std::vector<Lookup> lookups;

  SeamResult<CodeRef> guest_by_audit_token(const AuditToken&) override {
    return handle(C::kGuestByAuditToken);
  }
  SeamResult<CodeRef> guest_by_pid(int32_t) override { return handle(C::kGuestByPid); }
  SeamResult<CodeRef> static_code(CodeRef) override { return handle(C::kStaticCode); }
  SeamResult<std::string> code_path(CodeRef) override { return path(C::kCodePath); }
  LookupOutcome check_validity(CodeRef, std::string_view) override {
    return record(C::kCheckValidity, outcome());
  }
  SeamResult<CodeIdentity> signing_information(CodeRef) override {
    const LookupOutcome o = record(C::kSigningInformation, outcome());
    return {o, kCurl};
  }
  int32_t audit_token_to_pid(const AuditToken& token) override {
    record(C::kAuditTokenToPid, {});
    return token.pid();
  }
  SeamResult<std::string> proc_pidpath(int32_t) override { return path(C::kProcPidpath); }
  SeamResult<std::string> proc_pidpath_audittoken(const AuditToken&) override {
    return path(C::kProcPidpathAudittoken);
  }
  SeamResult<AuditToken> token_for_pid(int32_t) override {
    const LookupOutcome o = outcome();
    AuditToken t = flow_token_;
    if (*rc::gen::arbitrary<bool>()) t.words[AuditToken::kPidversion] += 1;
    Lookup& l = push(C::kTokenForPid, o);
    if (o.ok()) l.data.token = t;
    return {o, t};
  }
  LookupOutcome kill_zero(int32_t) override { return record(C::kKillZero, outcome()); }
  SeamResult<int32_t> responsible_pid(int32_t) override {
    return {record(C::kResponsiblePid, outcome()), 1};
  }
  LinuxSeam* linux_lookups() override { return nullptr; }

 private:
  static LookupOutcome outcome() {
    return *rc::gen::element(build::ok(), build::ok(), kEperm, kEsrch, kErrnoEsrch,
                             kErrnoUnsupported, build::osstatus(codes::kSecCsNoSuchCode),
                             build::osstatus(codes::kSecCsGuestInvalid),
                             build::osstatus(codes::kSecCsStaticCodeChanged),
                             build::kern(codes::kKernFailure), build::osstatus(-1));
  }
  Lookup& push(LookupCall call, LookupOutcome o) {
    Lookup l;
    l.call = call;
    l.outcome = o;
    lookups.push_back(l);
    return lookups.back();
  }
  LookupOutcome record(LookupCall call, LookupOutcome o) {
    push(call, o);
    return o;
  }
  SeamResult<CodeRef> handle(LookupCall call) { return {record(call, outcome()), 7}; }
  SeamResult<std::string> path(LookupCall call) {
    return {record(call, outcome()),
            *rc::gen::element<std::string>("/usr/bin/curl", "/usr/bin/mds")};
  }
  AuditToken flow_token_;
};

bool succeeded(const std::vector<Lookup>& lookups, LookupCall call) {
  for (const Lookup& l : lookups) {
    if (l.call == call && l.outcome.ok()) return true;
  }
  return false;
}

RC_GTEST_PROP(StrategyProperties, EveryResolverIsTotalAndConsistent, ()) {
  const std::string name(*rc::gen::elementOf(resolver_names()));
  auto resolver = make_resolver(name);
  const int flows = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flows; ++i) {
    ArbitrarySeam seam(kCurlToken);
    const Attribution a = resolver->resolve(curl_flow(), static_cast<uint64_t>(i) * 10, seam);
    RC_ASSERT(a.method.size() <= 15u);  // fits the small-string buffer: no allocation.
    if (a.status == S::kVerified || a.status == S::kUnverified) RC_ASSERT(a.identity.has_value());
    if (name == "token" || name == "token+recheck" || name == "token+pid-fallback") {
      if (a.status == S::kVerified) {
        RC_ASSERT(succeeded(seam.lookups, C::kGuestByAuditToken));
        RC_ASSERT(succeeded(seam.lookups, C::kSigningInformation));
      }
      if (a.status == S::kGone || a.status == S::kUnknown) RC_ASSERT(!a.identity.has_value());
    }
    if (name == "token") RC_ASSERT(a.status != S::kUnverified);
    if (name == "token+recheck" && a.status == S::kUnverified) {
      // Bound to the flow's execution: by the kernel, or by two matching token reads.
      int matching_reads = 0;
      for (const Lookup& l : seam.lookups) {
        if (l.call == C::kTokenForPid && l.data.token == kCurlToken) ++matching_reads;
      }
      RC_ASSERT(succeeded(seam.lookups, C::kProcPidpathAudittoken) || matching_reads == 2);
      RC_ASSERT(a.claimed_execution == kCurlToken.execution());
    }
  }
}

// The same claim against the simulated world and its oracle: whatever happens to the flow's
// process between any two seam calls (exit, pid reuse, exec, zombie), the token-bound strategies
// never name another execution, not even with a warning.
RC_GTEST_PROP(StrategyProperties, TokenBoundStrategiesNeverNameAnotherExecutionInTheSim, ()) {
  const std::string name(*rc::gen::element<std::string>("token", "token+recheck"));
  const bool sandboxed_target = *rc::gen::arbitrary<bool>();
  const std::size_t race_before_call = *rc::gen::inRange<std::size_t>(0, 8);
  const int race = *rc::gen::inRange(0, 4);  // 0 exit, 1 exit + pid reuse, 2 exec, 3 zombie

  WorldConfig config;
  config.pid_policy = PidPolicy::kReuseLastFreed;
  World world(config);
  const CodeIdentity app = build::developer_id_app("/Applications/A.app/A", "com.a", "TEAM1");
  const CodeIdentity evil = build::unsigned_binary("/tmp/evil");
  RC_ASSERT(world.install_file(app) == WorldError::kNone);
  RC_ASSERT(world.install_file(evil) == WorldError::kNone);
  RC_ASSERT(world.install_file(kTrustd) == WorldError::kNone);
  const AuditToken target = world.start_process(sandboxed_target ? kTrustd.path : app.path).value;
  const Flow flow = world.open_flow(target).value;

  std::size_t calls = 0;
  world.set_scheduler_hook([&](LookupCall, World& w) {
    if (calls++ != race_before_call) return;
    switch (race) {
      case 0:
        w.exit_process(target);
        break;
      case 1:
        w.exit_process(target);
        w.start_process(evil.path);
        break;
      case 2:
        w.exec_process(target, evil.path);
        break;
      default:
        w.exit_process(target, 0, ExitStage::kExited);
        break;
    }
  });
  auto resolver = make_resolver(name);
  const FlowCheck check = resolve_and_check(world, *resolver, Filter(RuleSet{}), flow);
  for (const Finding& finding : check.findings) RC_FAIL(describe(finding));
}

// --------------------------------------------------------------------------------------------
// Launchers (seed 003), against a world whose file can be swapped between any two calls.

const LaunchWorld::Content kGood{"good", true};
const LaunchWorld::Content kEvil{"evil", false};
constexpr std::string_view kTool = "/usr/local/bin/mycommandlinetool";
constexpr std::string_view kRequirement =
    "anchor apple generic and certificate leaf[subject.OU] = T";

LaunchResult launch(std::string_view launcher_name, LaunchWorld& world) {
  auto launcher = make_launcher(launcher_name);
  EXPECT_NE(launcher, nullptr) << launcher_name;
  return launcher->launch(kTool, kRequirement, world, world);
}

TEST(Launchers, EachRunsAGoodFile) {
  for (std::string_view name : launcher_names()) {
    SCOPED_TRACE(name);
    LaunchWorld world;
    world.put_file(std::string(kTool), kGood);
    const LaunchResult r = launch(name, world);
    EXPECT_TRUE(r.launched);
    ASSERT_TRUE(r.execution.has_value());
    EXPECT_TRUE(world.any_code_ran());
    EXPECT_FALSE(world.bad_code_ran());
    EXPECT_EQ(r.method, name);
  }
}

TEST(Launchers, EachRefusesABadFile) {
  for (std::string_view name : launcher_names()) {
    SCOPED_TRACE(name);
    LaunchWorld world;
    world.put_file(std::string(kTool), kEvil);
    const LaunchResult r = launch(name, world);
    EXPECT_FALSE(r.launched);
    EXPECT_EQ(r.refusal, build::osstatus(codes::kSecCsReqFailed));
    EXPECT_FALSE(world.any_code_ran());
  }
}

TEST(Launchers, CallSequences) {
  const std::vector<std::pair<std::string_view, std::vector<LookupCall>>> expected = {
      {"check-path-then-spawn", {C::kCheckFile, C::kSpawn}},
      {"kernel-launch-requirement", {C::kSpawnWithRequirement}},
      {"copy-check-run", {C::kCopyToPrivate, C::kCheckFile, C::kSpawn}},
      {"spawn-suspended-check-resume",
       {C::kSpawnSuspended, C::kGuestByAuditToken, C::kCheckValidity, C::kResume}},
  };
  for (const auto& [name, calls] : expected) {
    SCOPED_TRACE(name);
    LaunchWorld world;
    world.put_file(std::string(kTool), kGood);
    launch(name, world);
    EXPECT_EQ(world.calls(), calls);
  }
}

TEST(Launchers, SpawnSuspendedKillsWhatFailsTheCheck) {
  LaunchWorld world;
  world.put_file(std::string(kTool), kEvil);
  launch("spawn-suspended-check-resume", world);
  EXPECT_EQ(world.calls(), (std::vector<LookupCall>{C::kSpawnSuspended, C::kGuestByAuditToken,
                                                    C::kCheckValidity, C::kKill}));
  ASSERT_EQ(world.processes().size(), 1u);
  EXPECT_TRUE(world.processes()[0].killed);
  EXPECT_FALSE(world.processes()[0].ran);
}

// F11: an attacker swaps the good file for an evil one just before call k, for every k.
bool evil_runs_for_some_swap_point(std::string_view name) {
  bool evil_ran = false;
  for (std::size_t k = 0; k < 6; ++k) {
    LaunchWorld world;
    world.put_file(std::string(kTool), kGood);
    world.swap_before_call(k, std::string(kTool), kEvil);
    launch(name, world);
    evil_ran = evil_ran || world.bad_code_ran();
  }
  return evil_ran;
}

TEST(Launchers, CheckPathThenSpawnHasTheToctouHole) {
  EXPECT_TRUE(evil_runs_for_some_swap_point("check-path-then-spawn"));
  LaunchWorld world;
  world.put_file(std::string(kTool), kGood);
  world.swap_before_call(1, std::string(kTool), kEvil);  // between check_file and spawn.
  const LaunchResult r = launch("check-path-then-spawn", world);
  EXPECT_TRUE(r.launched);
  EXPECT_TRUE(world.bad_code_ran());
}

TEST(Launchers, TheSoundLaunchersNeverRunTheSwappedFile) {
  for (std::string_view name :
       {"kernel-launch-requirement", "copy-check-run", "spawn-suspended-check-resume"}) {
    SCOPED_TRACE(name);
    EXPECT_FALSE(evil_runs_for_some_swap_point(name));
  }
}

// --------------------------------------------------------------------------------------------
// The catalog.

TEST(Catalog, EveryNameMakesAStrategyOfThatName) {
  EXPECT_EQ(resolver_names().size(), 6u);
  for (std::string_view name : resolver_names()) {
    auto resolver = make_resolver(name);
    ASSERT_NE(resolver, nullptr) << name;
    EXPECT_EQ(resolver->name(), name);
    EXPECT_FALSE(resolver_description(name).empty());
  }
  EXPECT_EQ(launcher_names().size(), 4u);
  for (std::string_view name : launcher_names()) {
    auto launcher = make_launcher(name);
    ASSERT_NE(launcher, nullptr) << name;
    EXPECT_EQ(launcher->name(), name);
    EXPECT_FALSE(launcher_description(name).empty());
  }
}

TEST(Catalog, UnknownNamesGiveNull) {
  EXPECT_EQ(make_resolver("pid-pat"), nullptr);
  EXPECT_EQ(make_launcher("token"), nullptr);
  EXPECT_EQ(resolver_description("nope"), "");
}

TEST(Catalog, EachCallMakesAFreshStrategy) {
  // Caches must not leak between runs: two resolvers from the catalog share nothing.
  auto a = make_resolver("opensnitch-model");
  auto b = make_resolver("opensnitch-model");
  run(*a, curl_flow(),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)});
  run(*b, curl_flow(),
      {step_to_pid(), step_ok(C::kKillZero), step_ok_path(C::kProcPidpath, kCurl.path)});
}

}  // namespace
}  // namespace flowid
