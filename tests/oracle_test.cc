// The oracle: each invariant produced by a scripted resolver or launcher that breaks it, none by
// an honest one; the cells of the strategy x fault matrix; the I7 driver.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <stdexcept>

#include "harness/builders.h"
#include "harness/oracle.h"
#include "harness/world.h"

namespace flowid {
namespace {

const std::string kSafariPath = "/Applications/Safari.app/Contents/MacOS/Safari";
const std::string kCurlPath = "/usr/bin/curl";
const std::string kNsurlsessiondPath = "/usr/libexec/nsurlsessiond";
const std::string kToolPath = "/usr/local/bin/mycommandlinetool";

CodeIdentity safari() { return build::platform_binary(kSafariPath, "com.apple.Safari"); }
CodeIdentity curl(uint32_t version = 1) {
  return build::platform_binary(kCurlPath, "com.apple.curl", version);
}
CodeIdentity nsurlsessiond() {
  return build::platform_binary(kNsurlsessiondPath, "com.apple.nsurlsessiond");
}
CodeIdentity tool() { return build::developer_id_app(kToolPath, "com.example.tool", "TEAMGOOD01"); }
CodeIdentity evil_tool() {
  return build::developer_id_app(kToolPath, "com.example.tool", "EVILTEAM99", 7);
}
constexpr std::string_view kToolRequirement =
    "anchor apple generic and certificate leaf[subject.OU] = \"TEAMGOOD01\"";

World make_world() {
  WorldConfig c;
  c.pid_policy = PidPolicy::kReuseLastFreed;
  c.pid_min = 100;
  c.pid_max = 200;
  World w(c);
  for (const CodeIdentity& id : {safari(), curl(), nsurlsessiond(), tool()}) {
    EXPECT_EQ(w.install_file(id), WorldError::kNone);
  }
  return w;
}

AuditToken start(World& w, const std::string& path) {
  auto r = w.start_process(path);
  EXPECT_TRUE(r.ok()) << name_of(r.error);
  return r.value;
}

Flow flow_of(World& w, const AuditToken& t, const FlowOptions& options = {}) {
  auto r = w.open_flow(t, options);
  EXPECT_TRUE(r.ok()) << name_of(r.error);
  return r.value;
}

Rule allow_signing_id(std::string name, std::string signing_id) {
  Rule r;
  r.name = std::move(name);
  r.action = Decision::kAllow;
  r.tier = RuleTier::kSigningId;
  r.signing_id = std::move(signing_id);
  r.platform = true;
  return r;
}

Rule drop_cdhash(std::string name, const CodeIdentity& identity) {
  Rule r;
  r.name = std::move(name);
  r.action = Decision::kDrop;
  r.tier = RuleTier::kCdhash;
  r.cdhash = identity.cdhash;
  return r;
}

Filter filter_with(std::vector<Rule> rules, FilterPolicy policy = {}) {
  RuleSet set;
  set.rules = std::move(rules);
  set.policy = policy;
  return Filter(std::move(set));
}

bool has(const std::vector<Finding>& findings, Invariant invariant, Severity severity) {
  for (const Finding& f : findings) {
    if (f.invariant == invariant && f.severity == severity) return true;
  }
  return false;
}

std::string all(const std::vector<Finding>& findings) {
  std::string out;
  for (const Finding& f : findings) out += describe(f) + "\n";
  return out.empty() ? "(no findings)" : out;
}

// ---------------------------------------------------------------------------------------------
// Scripted resolvers.

// Honest: a token lookup of the flow's process (or app) token, fails closed.
class TokenResolver final : public Resolver {
 public:
  explicit TokenResolver(bool use_app_token = false) : use_app_token_(use_app_token) {}
  std::string_view name() const override { return "scripted-token"; }
  Attribution resolve(const Flow& flow, uint64_t, Seam& seam) override {
    const FlowToken& ft =
        use_app_token_ ? flow.source_app_audit_token : flow.source_process_audit_token;
    Attribution a;
    a.method = "token";
    if (!ft.well_formed()) return a;
    auto guest = seam.guest_by_audit_token(ft.token);
    if (!guest.ok()) {
      a.status = guest.outcome.code == codes::kOsStatusEsrch ? AttributionStatus::kGone
                                                             : AttributionStatus::kUnknown;
      return a;
    }
    if (!seam.check_validity(guest.value, "").ok()) {
      a.status = AttributionStatus::kGone;
      return a;
    }
    auto info = seam.signing_information(guest.value);
    if (!info.ok()) return a;
    a.status = AttributionStatus::kVerified;
    a.identity = info.value;
    a.claimed_execution = ft.token.execution();
    return a;
  }

 private:
  bool use_app_token_;
};

// Seed 000's insecure fallback: audit_token_to_pid + proc_pidpath, with a chosen label.
class PidPathResolver final : public Resolver {
 public:
  explicit PidPathResolver(AttributionStatus claim) : claim_(claim) {}
  std::string_view name() const override { return "scripted-pid-path"; }
  Attribution resolve(const Flow& flow, uint64_t, Seam& seam) override {
    Attribution a;
    a.method = "pid-path";
    int32_t pid = seam.audit_token_to_pid(flow.source_process_audit_token.token);
    auto path = seam.proc_pidpath(pid);
    if (!path.ok()) return a;
    a.status = claim_;
    a.identity = CodeIdentity{};
    a.identity->path = path.value;
    return a;
  }

 private:
  AttributionStatus claim_;
};

// Says whatever it is told to (after one harmless lookup).
class FixedResolver final : public Resolver {
 public:
  explicit FixedResolver(Attribution a) : a_(std::move(a)) {}
  std::string_view name() const override { return "scripted-fixed"; }
  Attribution resolve(const Flow& flow, uint64_t, Seam& seam) override {
    (void)seam.kill_zero(flow.proc_pid);
    return a_;
  }

 private:
  Attribution a_;
};

class ThrowingResolver final : public Resolver {
 public:
  std::string_view name() const override { return "scripted-throw"; }
  Attribution resolve(const Flow&, uint64_t, Seam& seam) override {
    (void)seam.guest_by_pid(1);
    throw std::runtime_error("unexpected OSStatus");
  }
};

// Retries forever while the seam says EAGAIN; swallows everything it catches.
class LoopingResolver final : public Resolver {
 public:
  std::string_view name() const override { return "scripted-loop"; }
  Attribution resolve(const Flow& flow, uint64_t, Seam& seam) override {
    for (int i = 0; i < 100000; ++i) {
      try {
        if (seam.guest_by_audit_token(flow.source_process_audit_token.token).ok()) break;
      } catch (...) {
      }
    }
    return Attribution{};
  }
};

Attribution claim(AttributionStatus status, std::optional<CodeIdentity> identity) {
  Attribution a;
  a.status = status;
  a.identity = std::move(identity);
  a.method = "scripted";
  return a;
}

// ---------------------------------------------------------------------------------------------
// Identity matching.

TEST(Oracle, NamesProgramNeedsPathAndAnyGivenCdhash) {
  CodeIdentity by_path;
  by_path.path = kCurlPath;
  EXPECT_TRUE(names_program(by_path, curl()));
  EXPECT_TRUE(names_program(curl(), curl()));
  EXPECT_FALSE(names_program(curl(2), curl(1))) << "same path, replaced content (F5)";
  EXPECT_FALSE(names_program(safari(), curl()));
  EXPECT_FALSE(names_program(curl(), build::unsigned_binary(kCurlPath)));
}

// ---------------------------------------------------------------------------------------------
// Flows: a correct resolver produces nothing.

TEST(Oracle, HonestTokenResolverIsCorrect) {
  World w = make_world();
  Filter filter = filter_with({allow_signing_id("safari", "com.apple.Safari")});
  TokenResolver resolver;
  Flow f = flow_of(w, start(w, kSafariPath));
  FlowCheck check = resolve_and_check(w, resolver, filter, f);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_EQ(check.cell, Cell::kCorrect);
  EXPECT_EQ(check.verdict.decision, Decision::kAllow);
  ASSERT_EQ(check.lookups.size(), 3u);
  EXPECT_EQ(check.lookups[0].call, LookupCall::kGuestByAuditToken);
  EXPECT_EQ(check.lookups[0].flow_id, f.flow_id);
}

TEST(Oracle, HonestResolverLosingARaceIsDowngradedNotWrong) {
  World w = make_world();
  Filter filter = filter_with({});
  TokenResolver resolver;
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  // The process exits between the guest lookup and the validity check (F2).
  w.set_scheduler_hook([&](LookupCall call, World& world) {
    if (call == LookupCall::kCheckValidity) world.exit_process(t);
  });
  FlowCheck check = resolve_and_check(w, resolver, filter, f);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_EQ(check.attribution.status, AttributionStatus::kGone);
  EXPECT_EQ(check.cell, Cell::kDowngraded);
}

// ---------------------------------------------------------------------------------------------
// I1 and I3: pid reuse behind a "verified" pid-path claim (F1, seed 000, LuLu #69).

TEST(Oracle, PidReuseUnderAVerifiedPidPathClaimBreaksI1AndI3) {
  World w = make_world();
  Filter filter = filter_with({});
  PidPathResolver resolver(AttributionStatus::kVerified);
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  w.set_scheduler_hook([&](LookupCall call, World& world) {
    if (call == LookupCall::kProcPidpath) {
      world.exit_process(t);
      ASSERT_EQ(world.start_process(kSafariPath).value.pid(), t.pid());
    }
  });
  FlowCheck check = resolve_and_check(w, resolver, filter, f);
  EXPECT_TRUE(has(check.findings, Invariant::kI1VerifiedIsCorrect, Severity::kViolation))
      << all(check.findings);
  EXPECT_TRUE(has(check.findings, Invariant::kI3GoneIsGone, Severity::kViolation));
  EXPECT_EQ(check.cell, Cell::kMisattributed);
  const Finding& finding = check.findings.front();
  EXPECT_EQ(finding.flow_id, f.flow_id);
  EXPECT_EQ(finding.true_execution, t.execution());
  EXPECT_EQ(finding.true_image, curl());
  EXPECT_EQ(finding.claim->identity->path, kSafariPath);
  EXPECT_EQ(finding.lookups.size(), 2u) << "the evidence: audit_token_to_pid, proc_pidpath";
  EXPECT_NE(finding.message.find(kSafariPath), std::string::npos) << finding.message;
}

TEST(Oracle, VerifiedWrongIdentityWhileAliveIsI1Only) {
  World w = make_world();
  Filter filter = filter_with({});
  FixedResolver resolver(claim(AttributionStatus::kVerified, safari()));
  FlowCheck check = resolve_and_check(w, resolver, filter, flow_of(w, start(w, kCurlPath)));
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI1VerifiedIsCorrect);
  EXPECT_EQ(check.cell, Cell::kMisattributed);
}

TEST(Oracle, NamesProgramChecksEverySigningFactTheClaimAsserts) {
  CodeIdentity other_signer = curl();
  other_signer.signing_id = "com.example.not-curl";
  EXPECT_FALSE(names_program(other_signer, curl())) << "right path, another program's signing id";
  CodeIdentity other_team = curl();
  other_team.team_id = "EVILTEAM01";
  EXPECT_FALSE(names_program(other_team, curl()));
  CodeIdentity other_kind = curl();
  other_kind.signature = SignatureKind::kDeveloperId;
  EXPECT_FALSE(names_program(other_kind, curl()));
  CodeIdentity claimed_platform = build::unsigned_binary(kCurlPath);
  claimed_platform.platform = true;
  EXPECT_FALSE(names_program(claimed_platform, build::unsigned_binary(kCurlPath)));
  // Leaving facts out is weaker, not wrong.
  CodeIdentity partial;
  partial.path = kCurlPath;
  partial.signing_id = curl().signing_id;
  EXPECT_TRUE(names_program(partial, curl()));
}

TEST(Oracle, VerifiedRightPathWithAnotherProgramsSigningIdIsI1) {
  World w = make_world();
  CodeIdentity lie = curl();
  lie.cdhash.reset();
  lie.signing_id = "com.apple.Safari";
  FixedResolver resolver(claim(AttributionStatus::kVerified, lie));
  FlowCheck check =
      resolve_and_check(w, resolver, filter_with({}), flow_of(w, start(w, kCurlPath)));
  EXPECT_TRUE(has(check.findings, Invariant::kI1VerifiedIsCorrect, Severity::kViolation))
      << all(check.findings);
}

TEST(Oracle, VerifiedWithoutIdentityIsI1) {
  World w = make_world();
  FixedResolver resolver(claim(AttributionStatus::kVerified, std::nullopt));
  FlowCheck check =
      resolve_and_check(w, resolver, filter_with({}), flow_of(w, start(w, kCurlPath)));
  EXPECT_TRUE(has(check.findings, Invariant::kI1VerifiedIsCorrect, Severity::kViolation));
}

TEST(Oracle, ReplacedFileWithNewCdhashIsAMisattributionOfTheCode) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  ASSERT_EQ(w.replace_file(curl(2)), WorldError::kNone);
  Flow f = flow_of(w, t);
  // A resolver that reads the disk (static code by path) claims the new content.
  FixedResolver wrong(claim(AttributionStatus::kVerified, curl(2)));
  FlowCheck check = resolve_and_check(w, wrong, filter_with({}), f);
  EXPECT_TRUE(has(check.findings, Invariant::kI1VerifiedIsCorrect, Severity::kViolation))
      << all(check.findings);
  // The same path without a cdhash claims nothing about the content: no finding.
  CodeIdentity by_path;
  by_path.path = kCurlPath;
  FixedResolver vague(claim(AttributionStatus::kVerified, by_path));
  EXPECT_TRUE(resolve_and_check(w, vague, filter_with({}), flow_of(w, t)).findings.empty());
}

// ---------------------------------------------------------------------------------------------
// I2.

TEST(Oracle, UnverifiedWrongIdentityIsAWarning) {
  World w = make_world();
  Filter filter = filter_with({});  // unverified -> ask, labelled with the warning.
  PidPathResolver resolver(AttributionStatus::kUnverified);
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  w.set_scheduler_hook([&](LookupCall call, World& world) {
    if (call == LookupCall::kProcPidpath) {
      world.exit_process(t);
      world.start_process(kSafariPath);
    }
  });
  FlowCheck check = resolve_and_check(w, resolver, filter, f);
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI2NoSilentMisattribution);
  EXPECT_EQ(check.findings[0].severity, Severity::kWarning);
  EXPECT_EQ(check.verdict.label, VerdictLabel::kUnverifiedWarning);
  EXPECT_EQ(check.cell, Cell::kDowngraded);
}

TEST(Oracle, UnverifiedIdentityShownAsVerifiedIsAViolation) {
  World w = make_world();
  Flow f = flow_of(w, start(w, kCurlPath));
  Attribution a = claim(AttributionStatus::kUnverified, safari());
  Verdict v = build::verdict(f.flow_id, Decision::kAsk, AttributionStatus::kUnverified, safari());
  v.label = VerdictLabel::kVerified;  // a filter that drops the red warning.
  Oracle oracle(w);
  auto findings = oracle.check_flow(f, a, v, RuleSet{}, {});
  EXPECT_TRUE(has(findings, Invariant::kI2NoSilentMisattribution, Severity::kViolation))
      << all(findings);
}

TEST(Oracle, UnknownCarryingAnotherIdentityWhileAliveIsI2) {
  World w = make_world();
  FixedResolver resolver(claim(AttributionStatus::kUnknown, safari()));
  FlowCheck check =
      resolve_and_check(w, resolver, filter_with({}), flow_of(w, start(w, kCurlPath)));
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI2NoSilentMisattribution);
  EXPECT_EQ(check.findings[0].severity, Severity::kViolation);
  EXPECT_EQ(check.cell, Cell::kMisattributed);
}

// ---------------------------------------------------------------------------------------------
// I3.

TEST(Oracle, GoneClaimWithAStaleCachedIdentityOfAnotherProgramIsI3) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  w.exit_process(t, 0, ExitStage::kExited);  // a zombie (F9).
  FixedResolver resolver(claim(AttributionStatus::kGone, safari()));
  FlowCheck check = resolve_and_check(w, resolver, filter_with({}), f);
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI3GoneIsGone);
  EXPECT_EQ(check.cell, Cell::kMisattributed);
  // Gone with the right (cached) identity, or none, is fine.
  FixedResolver right(claim(AttributionStatus::kGone, curl()));
  FlowCheck ok = resolve_and_check(w, right, filter_with({}), f);
  EXPECT_TRUE(ok.findings.empty()) << all(ok.findings);
  EXPECT_EQ(ok.cell, Cell::kDowngraded);
}

TEST(Oracle, ExecAfterTheFlowCountsAsEnded) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  ASSERT_TRUE(w.exec_process(t, kSafariPath).ok());  // F4: same pid, new program.
  PidPathResolver resolver(AttributionStatus::kVerified);
  FlowCheck check = resolve_and_check(w, resolver, filter_with({}), f);
  EXPECT_TRUE(has(check.findings, Invariant::kI3GoneIsGone, Severity::kViolation))
      << all(check.findings);
  TokenResolver honest;
  FlowCheck fine = resolve_and_check(w, honest, filter_with({}), f);
  EXPECT_TRUE(fine.findings.empty()) << all(fine.findings);
  EXPECT_EQ(fine.attribution.status, AttributionStatus::kGone);
}

// ---------------------------------------------------------------------------------------------
// I4.

TEST(Oracle, FlowOfYPassingUnderAnAllowRuleForXIsBypassed) {
  World w = make_world();
  Filter filter = filter_with({allow_signing_id("allow-safari", "com.apple.Safari")});
  FixedResolver resolver(claim(AttributionStatus::kVerified, safari()));
  FlowCheck check = resolve_and_check(w, resolver, filter, flow_of(w, start(w, kCurlPath)));
  EXPECT_EQ(check.verdict.decision, Decision::kAllow);
  EXPECT_TRUE(has(check.findings, Invariant::kI4VerdictSafety, Severity::kViolation))
      << all(check.findings);
  EXPECT_EQ(check.cell, Cell::kBypassed);
}

TEST(Oracle, FailOpenPolicyLetsADeniedProgramEscape) {
  World w = make_world();
  FilterPolicy fail_open;
  fail_open.unknown = {FilterPolicy::Mode::kDecide, Decision::kAllow};  // LuLu #484.
  Filter filter = filter_with({drop_cdhash("deny-curl", curl())}, fail_open);
  FixedResolver resolver(claim(AttributionStatus::kUnknown, std::nullopt));
  FlowCheck check = resolve_and_check(w, resolver, filter, flow_of(w, start(w, kCurlPath)));
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI4VerdictSafety);
  EXPECT_NE(check.findings[0].message.find("deny-curl"), std::string::npos);
  EXPECT_EQ(check.cell, Cell::kBypassed);
  // Failing closed is safe.
  Filter closed = filter_with({drop_cdhash("deny-curl", curl())});
  FlowCheck safe = resolve_and_check(w, resolver, closed, flow_of(w, start(w, kCurlPath)));
  EXPECT_TRUE(safe.findings.empty()) << all(safe.findings);
  EXPECT_EQ(safe.cell, Cell::kDowngraded);
}

TEST(Oracle, AskIsNotAPass) {
  World w = make_world();
  Filter filter = filter_with({drop_cdhash("deny-curl", curl())});
  FixedResolver resolver(claim(AttributionStatus::kUnverified, curl()));
  FlowCheck check = resolve_and_check(w, resolver, filter, flow_of(w, start(w, kCurlPath)));
  EXPECT_EQ(check.verdict.decision, Decision::kAsk);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
}

// ---------------------------------------------------------------------------------------------
// Delegation (F6).

TEST(Oracle, NamingTheAppBehindAHelperIsAcceptedByDefault) {
  World w = make_world();
  w.set_caller(CallerContext{false, true, 0, "unsandboxed"});
  AuditToken app = start(w, kSafariPath);
  AuditToken helper = start(w, kNsurlsessiondPath);
  FlowOptions options;
  options.app = app;
  Flow f = flow_of(w, helper, options);
  TokenResolver by_app(/*use_app_token=*/true);
  Filter filter = filter_with({allow_signing_id("safari", "com.apple.Safari")});
  FlowCheck check = resolve_and_check(w, by_app, filter, f);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_EQ(check.cell, Cell::kCorrect);
  OracleOptions strict;
  strict.accept_app_attribution = false;
  FlowCheck strict_check = resolve_and_check(w, by_app, filter, f, strict);
  EXPECT_TRUE(has(strict_check.findings, Invariant::kI1VerifiedIsCorrect, Severity::kViolation))
      << all(strict_check.findings);
  TokenResolver by_process;
  EXPECT_TRUE(resolve_and_check(w, by_process, filter, f, strict).findings.empty());
}

// ---------------------------------------------------------------------------------------------
// I7.

TEST(Oracle, ThrowingResolverIsCrashed) {
  World w = make_world();
  ThrowingResolver resolver;
  FlowCheck check =
      resolve_and_check(w, resolver, filter_with({}), flow_of(w, start(w, kCurlPath)));
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI7Totality);
  EXPECT_NE(check.findings[0].message.find("unexpected OSStatus"), std::string::npos);
  EXPECT_EQ(check.attribution.status, AttributionStatus::kUnknown);
  EXPECT_EQ(check.cell, Cell::kCrashed);
}

TEST(Oracle, UnboundedRetryLoopIsCaughtByTheBudget) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  Flow f = flow_of(w, t);
  w.fail_next(LookupCall::kGuestByAuditToken, 1'000'000, build::posix(EAGAIN));  // F8.
  LoopingResolver resolver;
  OracleOptions options;
  options.seam_call_budget = 50;
  FlowCheck check = resolve_and_check(w, resolver, filter_with({}), f, options);
  EXPECT_TRUE(has(check.findings, Invariant::kI7Totality, Severity::kViolation))
      << all(check.findings);
  EXPECT_NE(all(check.findings).find("more than 50 seam calls"), std::string::npos);
  EXPECT_EQ(check.cell, Cell::kCrashed);
}

// ---------------------------------------------------------------------------------------------
// Launches: I5 (seed 003, F11).

class CheckThenSpawn final : public Launcher {
 public:
  std::string_view name() const override { return "scripted-check-then-spawn"; }
  LaunchResult launch(std::string_view path, std::string_view requirement, Seam&,
                      LaunchSeam& launch) override {
    LaunchResult r;
    r.refusal = launch.check_file(path, requirement);
    if (!r.refusal.ok()) return r;
    auto run = launch.spawn(path);
    r.launched = run.ok();
    if (run.ok()) r.execution = run.value;
    return r;
  }
};

class KernelRequirement final : public Launcher {
 public:
  std::string_view name() const override { return "scripted-kernel"; }
  LaunchResult launch(std::string_view path, std::string_view requirement, Seam&,
                      LaunchSeam& launch) override {
    LaunchResult r;
    auto run = launch.spawn_with_requirement(path, requirement);
    r.launched = run.ok();
    r.refusal = run.outcome;
    if (run.ok()) r.execution = run.value;
    return r;
  }
};

class SuspendCheckResume final : public Launcher {
 public:
  std::string_view name() const override { return "scripted-suspended"; }
  LaunchResult launch(std::string_view path, std::string_view requirement, Seam& seam,
                      LaunchSeam& launch) override {
    LaunchResult r;
    auto run = launch.spawn_suspended(path);
    if (!run.ok()) return r;
    auto guest = seam.guest_by_audit_token(run.value);
    r.refusal = guest.ok() ? seam.check_validity(guest.value, requirement) : guest.outcome;
    if (!r.refusal.ok()) {
      (void)launch.kill(run.value);
      return r;
    }
    r.launched = launch.resume(run.value).ok();
    r.execution = run.value;
    return r;
  }
};

SchedulerHook swap_before(LookupCall when) {
  return [when](LookupCall call, World& world) {
    if (call == when) world.replace_file(evil_tool());
  };
}

TEST(Oracle, CheckThenSpawnWithASwapIsBypassed) {
  World w = make_world();
  w.set_scheduler_hook(swap_before(LookupCall::kSpawn));
  CheckThenSpawn launcher;
  LaunchCheck check = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  ASSERT_EQ(check.findings.size(), 1u) << all(check.findings);
  EXPECT_EQ(check.findings[0].invariant, Invariant::kI5LauncherSafety);
  EXPECT_EQ(check.findings[0].true_image, evil_tool());
  EXPECT_EQ(check.findings[0].lookups.size(), 2u);
  EXPECT_EQ(check.cell, Cell::kBypassed);
  EXPECT_EQ(check.started.size(), 1u);
}

TEST(Oracle, KernelCheckedLaunchRefusesTheSwapSafely) {
  World w = make_world();
  w.set_scheduler_hook(swap_before(LookupCall::kSpawnWithRequirement));
  KernelRequirement launcher;
  LaunchCheck check = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_TRUE(check.original_satisfied);
  EXPECT_EQ(check.cell, Cell::kDowngraded) << "refused although the file was good at the start";
  w.clear_scheduler_hook();
  LaunchCheck evil = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  EXPECT_FALSE(evil.original_satisfied);
  EXPECT_EQ(evil.cell, Cell::kCorrect) << "refusing bad code is the right decision";
}

TEST(Oracle, GoodLaunchIsCorrect) {
  World w = make_world();
  CheckThenSpawn launcher;
  LaunchCheck check = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_EQ(check.cell, Cell::kCorrect);
}

TEST(Oracle, SuspendedCheckKillsBadCodeBeforeItRuns) {
  World w = make_world();
  ASSERT_EQ(w.replace_file(evil_tool()), WorldError::kNone);
  SuspendCheckResume launcher;
  LaunchCheck check = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  ASSERT_EQ(check.started.size(), 1u) << "a process was created, but never ran";
  EXPECT_FALSE(w.execution(check.started[0])->ran_code);
  EXPECT_EQ(check.cell, Cell::kCorrect);
}

TEST(Oracle, ProcessesTheScenarioStartsDuringALaunchAreNotTheLaunchers) {
  World w = make_world();
  ASSERT_EQ(w.install_file(build::unsigned_binary("/tmp/other")), WorldError::kNone);
  w.set_scheduler_hook([](LookupCall, World& world) { world.start_process("/tmp/other"); });
  KernelRequirement launcher;
  LaunchCheck check = launch_and_check(w, launcher, kToolPath, kToolRequirement);
  EXPECT_TRUE(check.findings.empty()) << all(check.findings);
  EXPECT_EQ(check.cell, Cell::kCorrect);
}

TEST(Oracle, BadRequirementTextIsTheCallersBug) {
  World w = make_world();
  KernelRequirement launcher;
  EXPECT_THROW(launch_and_check(w, launcher, kToolPath, "anchor banana"), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// Cells.

TEST(Oracle, ClassificationPrecedence) {
  Finding i4;
  i4.invariant = Invariant::kI4VerdictSafety;
  Finding i1;
  i1.invariant = Invariant::kI1VerifiedIsCorrect;
  Finding warning;
  warning.invariant = Invariant::kI2NoSilentMisattribution;
  warning.severity = Severity::kWarning;
  Finding i7;
  i7.invariant = Invariant::kI7Totality;
  Attribution verified = claim(AttributionStatus::kVerified, curl());
  Attribution unverified = claim(AttributionStatus::kUnverified, curl());
  EXPECT_EQ(classify_flow(verified, std::vector<Finding>{i1, i4}), Cell::kBypassed);
  EXPECT_EQ(classify_flow(verified, std::vector<Finding>{i7, i1}), Cell::kMisattributed);
  EXPECT_EQ(classify_flow(verified, std::vector<Finding>{i7}), Cell::kCrashed);
  EXPECT_EQ(classify_flow(unverified, std::vector<Finding>{warning}), Cell::kDowngraded);
  EXPECT_EQ(classify_flow(verified, {}), Cell::kCorrect);
  EXPECT_EQ(classify_launch(false, true, {}), Cell::kDowngraded);
  EXPECT_EQ(classify_launch(false, false, {}), Cell::kCorrect);
  EXPECT_EQ(classify_launch(true, true, std::vector<Finding>{i4}), Cell::kBypassed);
  EXPECT_EQ(name_of(Cell::kMisattributed), "MISATTRIBUTED");
  EXPECT_EQ(name_of(Invariant::kI3GoneIsGone), "I3");
  i1.flow_id = 9;
  i1.message = "m";
  EXPECT_EQ(describe(i1), "I1 violation flow 9: m");
}

// Property: an honest token resolver is never misattributed or bypassed, whatever happens
// between its seam calls (random exits, pid reuse, execs, file replacement).
RC_GTEST_PROP(OracleProperty, HonestTokenResolverNeverMisattributes, ()) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  World w = make_world();
  w.set_logging(false);
  SplitMix64 rng(seed);
  Filter filter = filter_with(
      {allow_signing_id("safari", "com.apple.Safari"), drop_cdhash("deny-curl", curl())});
  const std::vector<std::string> paths = {kCurlPath, kSafariPath, kToolPath};
  w.set_scheduler_hook([&](LookupCall, World& world) {
    const auto& execs = world.executions();
    const Execution& pick = execs[rng.below(execs.size())];
    switch (rng.below(6)) {
      case 0:
        world.exit_process(pick.token);
        break;
      case 1:
        world.start_process(paths[rng.below(paths.size())]);
        break;
      case 2:
        world.exec_process(pick.token, paths[rng.below(paths.size())]);
        break;
      case 3:
        world.replace_file(curl(static_cast<uint32_t>(2 + rng.below(3))));
        break;
      default:
        break;
    }
  });
  TokenResolver resolver;
  for (int i = 0; i < 30; ++i) {
    auto t = w.start_process(paths[rng.below(paths.size())]);
    if (!t.ok()) continue;
    auto f = w.open_flow(t.value);
    RC_ASSERT(f.ok());
    FlowCheck check = resolve_and_check(w, resolver, filter, f.value);
    RC_ASSERT(check.cell == Cell::kCorrect || check.cell == Cell::kDowngraded);
  }
}

}  // namespace
}  // namespace flowid
