// The simulated world: pid policies, executions and tokens, zombies, files and static code,
// sandbox EPERM, the scheduler hook, delegation, launch semantics, F7 / F8, determinism, replay.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cerrno>

#include "harness/builders.h"
#include "harness/pid_allocator.h"
#include "harness/world.h"

namespace flowid {
namespace {

using build::osstatus;
using build::posix;

const std::string kSafariPath = "/Applications/Safari.app/Contents/MacOS/Safari";
const std::string kCurlPath = "/usr/bin/curl";
const std::string kTrustdPath = "/usr/libexec/trustd";
const std::string kSimTrustdPath =
    "/Library/Developer/CoreSimulator/Volumes/iOS_21A328/Library/Developer/CoreSimulator/Profiles/"
    "Runtimes/iOS 17.0.simruntime/Contents/Resources/RuntimeRoot/usr/libexec/trustd";
const std::string kNsurlsessiondPath = "/usr/libexec/nsurlsessiond";
const std::string kToolPath = "/usr/local/bin/mycommandlinetool";

CodeIdentity safari() { return build::platform_binary(kSafariPath, "com.apple.Safari"); }
CodeIdentity curl() { return build::platform_binary(kCurlPath, "com.apple.curl"); }
CodeIdentity trustd() { return build::platform_binary(kTrustdPath, "com.apple.trustd"); }
CodeIdentity sim_trustd() { return build::platform_binary(kSimTrustdPath, "com.apple.trustd"); }
CodeIdentity nsurlsessiond() {
  return build::platform_binary(kNsurlsessiondPath, "com.apple.nsurlsessiond");
}
CodeIdentity tool(uint32_t version = 1) {
  return build::developer_id_app(kToolPath, "com.example.tool", "TEAMGOOD01", version);
}
CodeIdentity evil_tool() {
  return build::developer_id_app(kToolPath, "com.example.tool", "EVILTEAM99", 7);
}

constexpr std::string_view kToolRequirement =
    "anchor apple generic and identifier \"com.example.tool\" and "
    "certificate leaf[subject.OU] = \"TEAMGOOD01\"";

WorldConfig small_world(PidPolicy policy = PidPolicy::kSequential, int32_t pid_max = 110) {
  WorldConfig c;
  c.pid_policy = policy;
  c.pid_min = 100;
  c.pid_max = pid_max;
  return c;
}

// A world with the usual programs installed.
World make_world(WorldConfig config = small_world()) {
  World w(std::move(config));
  for (const CodeIdentity& id :
       {safari(), curl(), trustd(), sim_trustd(), nsurlsessiond(), tool()}) {
    EXPECT_EQ(w.install_file(id), WorldError::kNone) << id.path;
  }
  return w;
}

AuditToken start(World& w, const std::string& path, SpawnOptions options = {}) {
  auto r = w.start_process(path, options);
  EXPECT_TRUE(r.ok()) << name_of(r.error) << " " << path;
  return r.value;
}

// ---------------------------------------------------------------------------------------------
// Pid allocator.

TEST(PidAllocator, SequentialWrapsAtPidMaxAndSkipsUsedPids) {
  PidAllocator a(PidPolicy::kSequential, 10, 13);
  EXPECT_EQ(a.allocate(), 10);
  EXPECT_EQ(a.allocate(), 11);
  EXPECT_EQ(a.allocate(), 12);
  EXPECT_TRUE(a.release(10));
  EXPECT_EQ(a.allocate(), 13);
  EXPECT_EQ(a.allocate(), 10) << "wraps to pid_min, reusing the freed pid";
  EXPECT_EQ(a.allocate(), std::nullopt) << "every pid in use: EAGAIN";
  EXPECT_TRUE(a.release(12));
  EXPECT_EQ(a.allocate(), 12);
  EXPECT_FALSE(a.release(99));
}

TEST(PidAllocator, LowestFreeReusesTheLowestPid) {
  PidAllocator a(PidPolicy::kLowestFree, 10, 20);
  for (int32_t p = 10; p <= 14; ++p) EXPECT_EQ(a.allocate(), p);
  a.release(13);
  a.release(11);
  EXPECT_EQ(a.allocate(), 11);
  EXPECT_EQ(a.allocate(), 13);
  EXPECT_EQ(a.allocate(), 15);
}

TEST(PidAllocator, ReuseLastFreedHandsBackTheJustFreedPid) {
  PidAllocator a(PidPolicy::kReuseLastFreed, 10, 20);
  for (int32_t p = 10; p <= 14; ++p) EXPECT_EQ(a.allocate(), p);
  a.release(11);
  a.release(13);
  EXPECT_EQ(a.allocate(), 13);
  EXPECT_EQ(a.allocate(), 11);
  EXPECT_EQ(a.allocate(), 15) << "falls back to sequential";
  EXPECT_EQ(parse_pid_policy(name_of(PidPolicy::kReuseLastFreed)), PidPolicy::kReuseLastFreed);
}

TEST(World, SequentialPolicyReusesAPidAfterWrapping) {
  World w = make_world(small_world(PidPolicy::kSequential, 102));
  AuditToken a = start(w, kCurlPath);
  AuditToken b = start(w, kCurlPath);
  AuditToken c = start(w, kCurlPath);
  EXPECT_EQ(a.pid(), 100);
  EXPECT_EQ(c.pid(), 102);
  EXPECT_EQ(w.start_process(kCurlPath).error, WorldError::kPidTableFull);
  ASSERT_EQ(w.exit_process(b), WorldError::kNone);
  AuditToken d = start(w, kSafariPath);
  EXPECT_EQ(d.pid(), b.pid());
  EXPECT_NE(d.pidversion(), b.pidversion());
  EXPECT_GT(d.pidversion(), c.pidversion()) << "pidversions come from one global counter";
}

TEST(World, ReuseLastFreedGivesAnExitedPidToTheNextSpawn) {
  World w = make_world(small_world(PidPolicy::kReuseLastFreed));
  AuditToken victim = start(w, kCurlPath);
  start(w, kSafariPath);
  ASSERT_EQ(w.exit_process(victim), WorldError::kNone);
  AuditToken next = start(w, kSafariPath);
  EXPECT_EQ(next.pid(), victim.pid());
  // The stale token names nothing; the pid names Safari now.
  EXPECT_EQ(w.guest_by_audit_token(victim).outcome, osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(w.proc_pidpath(victim.pid()).value, kSafariPath);
}

// ---------------------------------------------------------------------------------------------
// Executions and tokens.

TEST(World, ExecBumpsPidversionAndStalesTheOldToken) {
  World w = make_world();
  AuditToken before = start(w, kCurlPath);
  auto after = w.exec_process(before, kSafariPath);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after.value.pid(), before.pid());
  EXPECT_GT(after.value.pidversion(), before.pidversion());
  EXPECT_EQ(w.guest_by_audit_token(before).outcome, osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(w.proc_pidpath_audittoken(before).outcome, posix(ESRCH));
  auto by_pid = w.proc_pidpath(before.pid());
  ASSERT_TRUE(by_pid.ok());
  EXPECT_EQ(by_pid.value, kSafariPath) << "the pid answers with the new image";
  EXPECT_EQ(w.proc_pidpath_audittoken(after.value).value, kSafariPath);
  EXPECT_EQ(w.token_for_pid(before.pid()).value, after.value);
  EXPECT_EQ(w.execution(before)->state, ExecutionState::kReplacedByExec);
  EXPECT_EQ(w.exec_process(before, kCurlPath).error, WorldError::kNoSuchExecution);
}

TEST(World, ZombieHoldsItsPidButRunsNoCode) {
  World w = make_world(small_world(PidPolicy::kReuseLastFreed));
  AuditToken t = start(w, kCurlPath);
  auto guest = w.guest_by_audit_token(t);
  ASSERT_TRUE(guest.ok());
  ASSERT_EQ(w.exit_process(t, 0, ExitStage::kExited), WorldError::kNone);
  EXPECT_EQ(w.execution(t)->state, ExecutionState::kZombie);
  EXPECT_EQ(w.kill_zero(t.pid()), build::ok()) << "kill(pid, 0) says a zombie is alive";
  EXPECT_EQ(w.guest_by_audit_token(t).outcome, osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(w.guest_by_pid(t.pid()).outcome, osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(w.proc_pidpath(t.pid()).outcome, posix(ESRCH));
  EXPECT_EQ(w.token_for_pid(t.pid()).outcome, build::kern(codes::kKernFailure));
  EXPECT_EQ(w.check_validity(guest.value, ""), osstatus(codes::kSecCsGuestInvalid));
  EXPECT_EQ(w.code_path(guest.value).value, kCurlPath) << "the SecCode caches its path";
  // The pid is still held: a new spawn does not get it.
  AuditToken other = start(w, kSafariPath);
  EXPECT_NE(other.pid(), t.pid());
  ASSERT_EQ(w.reap_process(t), WorldError::kNone);
  EXPECT_EQ(w.kill_zero(t.pid()), posix(ESRCH));
  EXPECT_EQ(start(w, kSafariPath).pid(), t.pid()) << "reaped: the pid is free again";
  EXPECT_EQ(w.reap_process(t), WorldError::kNotRunning);
}

TEST(World, HandlesAreValidatedAndBoundToTheirExecution) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  auto guest = w.guest_by_audit_token(t);
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(w.code_path(12345).outcome, osstatus(codes::kSecCsInvalidObjectRef));
  EXPECT_EQ(w.static_code(0).outcome, osstatus(codes::kSecCsInvalidObjectRef));
  EXPECT_EQ(w.check_validity(World::kGuestHandleTag | 999, ""),
            osstatus(codes::kSecCsInvalidObjectRef));
  auto stat = w.static_code(guest.value);
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(w.static_code(stat.value).outcome, osstatus(codes::kSecCsInvalidObjectRef))
      << "static code of a static code is not a thing";
  EXPECT_EQ(w.code_path(stat.value).value, kCurlPath);
  EXPECT_EQ(w.signing_information(guest.value).value, curl());
  EXPECT_EQ(w.check_validity(guest.value, "anchor apple"), build::ok());
  EXPECT_EQ(w.check_validity(guest.value, "certificate leaf[subject.OU] = X"),
            osstatus(codes::kSecCsReqFailed));
  EXPECT_EQ(w.check_validity(guest.value, "anchor banana"), osstatus(codes::kSecCsReqInvalid));
  ASSERT_EQ(w.install_file(build::unsigned_binary("/tmp/raw")), WorldError::kNone);
  auto raw = w.guest_by_audit_token(start(w, "/tmp/raw"));
  EXPECT_EQ(w.check_validity(raw.value, ""), osstatus(codes::kSecCsUnsigned));
  // The same execution always gets the same handle: deterministic.
  EXPECT_EQ(w.guest_by_audit_token(t).value, guest.value);
  EXPECT_EQ(w.guest_by_pid(t.pid()).value, guest.value);
}

// ---------------------------------------------------------------------------------------------
// Files.

TEST(World, ReplacedFileKeepsTheRunningImageButStaticCodeChanged) {
  World w = make_world();
  AuditToken old_run = start(w, kToolPath);
  ASSERT_EQ(w.replace_file(tool(2)), WorldError::kNone);
  auto guest = w.guest_by_audit_token(old_run);
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(w.signing_information(guest.value).value, tool(1)) << "what runs is what was loaded";
  EXPECT_EQ(w.static_code(guest.value).outcome, osstatus(codes::kSecCsStaticCodeChanged));
  EXPECT_EQ(*w.image_of(old_run.execution()), tool(1));
  AuditToken new_run = start(w, kToolPath);
  auto fresh = w.static_code(w.guest_by_audit_token(new_run).value);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(w.signing_information(fresh.value).value, tool(2));
  // Writing the original bytes back makes the old process's disk match again.
  ASSERT_EQ(w.replace_file(tool(1)), WorldError::kNone);
  EXPECT_TRUE(w.static_code(guest.value).ok());
}

TEST(World, RemovedAndRenamedFiles) {
  World w = make_world();
  AuditToken t = start(w, kToolPath);
  CodeRef guest = w.guest_by_audit_token(t).value;
  ASSERT_EQ(w.rename_file(kToolPath, "/usr/local/bin/renamed"), WorldError::kNone);
  EXPECT_EQ(w.static_code(guest).outcome, osstatus(codes::kSecCsStaticCodeChanged));
  auto moved = w.file_at("/usr/local/bin/renamed");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(w.image(*moved).identity.cdhash, tool().cdhash) << "a rename keeps the content";
  EXPECT_EQ(w.image(*moved).identity.path, "/usr/local/bin/renamed");
  EXPECT_EQ(w.start_process(kToolPath).error, WorldError::kNoSuchFile);
  EXPECT_EQ(w.remove_file("/usr/local/bin/renamed"), WorldError::kNone);
  EXPECT_EQ(w.remove_file("/usr/local/bin/renamed"), WorldError::kNoSuchFile);
  EXPECT_EQ(w.install_file(curl()), WorldError::kFileExists);
  EXPECT_EQ(w.check_consistency(), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Sandbox (seed 000, F3, F10).

TEST(World, SandboxedCallerGetsEpermForUsrLibexecButNotForTheSimulatorCopy) {
  World w = make_world();
  ASSERT_TRUE(w.config().caller.sandboxed);
  AuditToken real = start(w, kTrustdPath);
  AuditToken sim = start(w, kSimTrustdPath);
  EXPECT_EQ(w.guest_by_audit_token(real).outcome, osstatus(codes::kOsStatusEperm));
  EXPECT_EQ(w.guest_by_pid(real.pid()).outcome, osstatus(codes::kOsStatusEperm));
  auto path = w.proc_pidpath(w.audit_token_to_pid(real));
  ASSERT_TRUE(path.ok()) << "the insecure fallback still answers";
  EXPECT_EQ(path.value, kTrustdPath);
  EXPECT_TRUE(w.proc_pidpath_audittoken(real).ok());
  auto sim_guest = w.guest_by_audit_token(sim);
  ASSERT_TRUE(sim_guest.ok());
  auto sim_static = w.static_code(sim_guest.value);
  ASSERT_TRUE(sim_static.ok());
  EXPECT_EQ(w.code_path(sim_static.value).value, kSimTrustdPath);
  // A gone /usr/libexec process answers ESRCH, not EPERM (seed 000: "occasionally ... 100003").
  ASSERT_EQ(w.exit_process(real), WorldError::kNone);
  EXPECT_EQ(w.guest_by_audit_token(real).outcome, osstatus(codes::kOsStatusEsrch));
}

TEST(World, SandboxRulesAreConfigurable) {
  World w = make_world();
  AuditToken real = start(w, kTrustdPath);
  AuditToken app = start(w, kSafariPath);
  w.set_caller(CallerContext{false, true, 0, "command line tool"});
  EXPECT_TRUE(w.guest_by_audit_token(real).ok()) << "not sandboxed: resolves";
  w.set_caller(CallerContext{true, true, 0, "NE system extension"});
  w.set_sandbox_rules({"/Applications/"});
  EXPECT_TRUE(w.guest_by_audit_token(real).ok());
  EXPECT_EQ(w.guest_by_audit_token(app).outcome, osstatus(codes::kOsStatusEperm));
}

TEST(World, UnprivilegedCallerCannotReadOtherUsersTokens) {
  World w = make_world();
  SpawnOptions root;
  root.uid = 0;
  AuditToken daemon = start(w, kCurlPath, root);
  w.set_caller(CallerContext{false, false, 501, "user tool"});
  EXPECT_EQ(w.token_for_pid(daemon.pid()).outcome, build::kern(codes::kKernFailure));
  EXPECT_EQ(w.kill_zero(daemon.pid()), posix(EPERM));
  AuditToken mine = start(w, kCurlPath);
  EXPECT_TRUE(w.token_for_pid(mine.pid()).ok());
}

// ---------------------------------------------------------------------------------------------
// The scheduler hook.

TEST(World, HookRunsWorldEventsBetweenTwoSeamCalls) {
  World w = make_world(small_world(PidPolicy::kReuseLastFreed));
  AuditToken curl_run = start(w, kCurlPath);
  // Exit curl and give its pid to Safari right before the second call (F1 + F2).
  int calls = 0;
  w.set_scheduler_hook([&](LookupCall call, World& world) {
    ++calls;
    if (call == LookupCall::kProcPidpath) {
      ASSERT_EQ(world.exit_process(curl_run), WorldError::kNone);
      ASSERT_TRUE(world.start_process(kSafariPath).ok());
    }
  });
  int32_t pid = w.audit_token_to_pid(curl_run);
  auto path = w.proc_pidpath(pid);
  EXPECT_EQ(calls, 2);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(path.value, kSafariPath) << "check-then-use: the pid now names another program";
  w.clear_scheduler_hook();
  EXPECT_EQ(w.proc_pidpath_audittoken(curl_run).outcome, posix(ESRCH));
}

TEST(World, HookKillingTheGuestBetweenCopyAndCheck) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  w.set_scheduler_hook([&](LookupCall call, World& world) {
    if (call == LookupCall::kCheckValidity) world.exit_process(t, 0, ExitStage::kExited);
  });
  auto guest = w.guest_by_audit_token(t);
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(w.check_validity(guest.value, "anchor apple"), osstatus(codes::kSecCsGuestInvalid));
}

TEST(World, SeamCallsFromInsideTheHookDoNotReenterIt) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  int depth = 0;
  int max_depth = 0;
  w.set_scheduler_hook([&](LookupCall, World& world) {
    ++depth;
    max_depth = std::max(max_depth, depth);
    (void)world.kill_zero(t.pid());
    --depth;
  });
  (void)w.kill_zero(t.pid());
  EXPECT_EQ(max_depth, 1);
  EXPECT_EQ(w.seam_call_count(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Flows, delegation (F6), tokens (F7), lookup faults (F8).

TEST(World, FlowCarriesEveryFieldAndItsTruth) {
  World w = make_world();
  AuditToken t = start(w, kSafariPath);
  w.advance(1000);
  auto flow = w.open_flow(t);
  ASSERT_TRUE(flow.ok());
  const Flow& f = flow.value;
  EXPECT_EQ(f.flow_id, 1u);
  EXPECT_TRUE(f.source_app_audit_token.well_formed());
  EXPECT_EQ(f.source_process_audit_token.token, t);
  EXPECT_EQ(f.source_app_identifier, ".com.apple.Safari");
  EXPECT_EQ(f.source_app_unique_identifier.size(), 20u);
  EXPECT_EQ(f.proc_pid, t.pid());
  EXPECT_EQ(f.protocol, 6u);
  EXPECT_EQ(f.remote_endpoint.port, 443);
  EXPECT_GE(f.local_endpoint.port, 49152);
  const FlowTruth* truth = w.flow_truth(f.flow_id);
  ASSERT_NE(truth, nullptr);
  EXPECT_EQ(truth->execution, t.execution());
  EXPECT_EQ(truth->opened_ns, 1000u);
  ASSERT_EQ(w.exit_process(t, 0, ExitStage::kExited), WorldError::kNone);
  EXPECT_EQ(w.open_flow(t).error, WorldError::kNotRunning);
  EXPECT_EQ(w.flow_truth(99), nullptr);
}

TEST(World, DelegatedFlowHasDistinctAppAndProcessTokens) {
  World w = make_world();
  AuditToken app = start(w, kSafariPath);
  SpawnOptions helper_options;
  helper_options.responsible = app;
  AuditToken helper = start(w, kNsurlsessiondPath, helper_options);
  FlowOptions options;
  options.app = app;
  auto flow = w.open_flow(helper, options);
  ASSERT_TRUE(flow.ok());
  EXPECT_EQ(flow.value.source_app_audit_token.token, app);
  EXPECT_EQ(flow.value.source_process_audit_token.token, helper);
  EXPECT_EQ(flow.value.eproc_pid, app.pid());
  EXPECT_EQ(flow.value.proc_pid, helper.pid());
  EXPECT_NE(flow.value.proc_uuid, flow.value.eproc_uuid);
  const FlowTruth* truth = w.flow_truth(flow.value.flow_id);
  EXPECT_EQ(truth->execution, helper.execution());
  EXPECT_EQ(truth->app_execution, app.execution());
  EXPECT_EQ(w.responsible_pid(helper.pid()).value, app.pid());
  EXPECT_EQ(w.responsible_pid(app.pid()).value, app.pid());
  // The helper is a /usr/libexec platform binary: a sandboxed filter cannot resolve it.
  EXPECT_EQ(w.guest_by_audit_token(helper).outcome, osstatus(codes::kOsStatusEperm));
}

TEST(World, MalformedAndAbsentFlowTokens) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  FlowOptions options;
  options.app_token_shape = TokenShape::kAbsent;
  options.process_token_shape = TokenShape::kMalformed;
  options.malformed_size_bytes = 20;
  auto f = w.open_flow(t, options);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f.value.source_app_audit_token.present);
  EXPECT_TRUE(f.value.source_process_audit_token.present);
  EXPECT_FALSE(f.value.source_process_audit_token.well_formed());
  EXPECT_EQ(f.value.source_process_audit_token.token.pid(), 0) << "the pid word was cut off";
  EXPECT_EQ(w.flow_truth(f.value.flow_id)->execution, t.execution());
}

TEST(World, InjectedFailuresAndDurations) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  w.fail_next(LookupCall::kGuestByAuditToken, 2, posix(EAGAIN));
  w.set_lookup_duration(LookupCall::kGuestByAuditToken, 5'000'000);
  uint64_t before = w.now_ns();
  EXPECT_EQ(w.guest_by_audit_token(t).outcome, posix(EAGAIN));
  EXPECT_EQ(w.guest_by_audit_token(t).outcome, posix(EAGAIN));
  EXPECT_TRUE(w.guest_by_audit_token(t).ok());
  EXPECT_EQ(w.now_ns() - before, 15'000'000u);
  EXPECT_EQ(w.last_call_duration_ns(), 5'000'000u);
  EXPECT_TRUE(w.proc_pidpath(t.pid()).ok()) << "other calls are not affected";
}

// ---------------------------------------------------------------------------------------------
// Launch semantics (seed 003, F11).

TEST(World, CheckThenSpawnRunsASwappedFile) {
  World w = make_world();
  w.set_scheduler_hook([](LookupCall call, World& world) {
    if (call == LookupCall::kSpawn) {
      ASSERT_EQ(world.replace_file(evil_tool()), WorldError::kNone);
    }
  });
  EXPECT_EQ(w.check_file(kToolPath, kToolRequirement), build::ok());
  auto run = w.spawn(kToolPath);
  ASSERT_TRUE(run.ok());
  const Execution* e = w.execution(run.value);
  EXPECT_TRUE(e->ran_code);
  EXPECT_TRUE(e->launched_by_caller);
  EXPECT_EQ(w.image(e->image).identity, evil_tool()) << "time of check is not time of use";
}

TEST(World, KernelCheckedLaunchRefusesASwapBeforeTheOpen) {
  World w = make_world();
  w.set_scheduler_hook([](LookupCall call, World& world) {
    if (call == LookupCall::kSpawnWithRequirement) world.replace_file(evil_tool());
  });
  std::size_t before = w.execution_count();
  auto run = w.spawn_with_requirement(kToolPath, kToolRequirement);
  EXPECT_EQ(run.outcome, osstatus(codes::kSecCsReqFailed));
  EXPECT_EQ(w.execution_count(), before) << "nothing was started";
  w.clear_scheduler_hook();
  ASSERT_EQ(w.replace_file(tool(3)), WorldError::kNone);
  auto good = w.spawn_with_requirement(kToolPath, kToolRequirement);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(w.image_of(good.value.execution())->cdhash, tool(3).cdhash);
}

TEST(World, PrivateCopyCannotBeSwapped) {
  World w = make_world();
  auto copy = w.copy_to_private(kToolPath);
  ASSERT_TRUE(copy.ok());
  EXPECT_NE(copy.value, kToolPath);
  EXPECT_TRUE(copy.value.starts_with(w.config().private_dir));
  CodeIdentity attack = evil_tool();
  attack.path = copy.value;
  EXPECT_EQ(w.replace_file(attack), WorldError::kReadOnlyFile);
  EXPECT_EQ(w.remove_file(copy.value), WorldError::kReadOnlyFile);
  ASSERT_EQ(w.replace_file(evil_tool()), WorldError::kNone) << "the original is still writable";
  EXPECT_EQ(w.check_file(copy.value, kToolRequirement), build::ok());
  auto run = w.spawn(copy.value);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(w.image_of(run.value.execution())->cdhash, tool().cdhash);
  EXPECT_EQ(w.check_file("/nope", kToolRequirement), osstatus(codes::kSecCsStaticCodeNotFound));
}

TEST(World, SuspendedThenKilledNeverRan) {
  World w = make_world();
  ASSERT_EQ(w.replace_file(evil_tool()), WorldError::kNone);
  auto run = w.spawn_suspended(kToolPath);
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(w.execution(run.value)->state, ExecutionState::kSuspended);
  auto guest = w.guest_by_audit_token(run.value);
  ASSERT_TRUE(guest.ok()) << "the image is mapped: it can be checked";
  EXPECT_EQ(w.check_validity(guest.value, kToolRequirement), osstatus(codes::kSecCsReqFailed));
  EXPECT_EQ(w.kill(run.value), build::ok());
  EXPECT_FALSE(w.execution(run.value)->ran_code);
  EXPECT_EQ(w.kill(run.value), posix(ESRCH));
  EXPECT_EQ(w.resume(run.value), posix(ESRCH));

  auto good = w.spawn_suspended(kSafariPath);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(w.resume(good.value), build::ok());
  EXPECT_TRUE(w.execution(good.value)->ran_code);
  EXPECT_EQ(w.execution(good.value)->state, ExecutionState::kRunning);
}

// ---------------------------------------------------------------------------------------------
// Determinism, the event log and model replay.

// A scripted run driven only by the world's own generator.
std::vector<Event> scripted_run(uint64_t seed) {
  WorldConfig config = small_world(PidPolicy::kReuseLastFreed, 120);
  config.seed = seed;
  World w = make_world(config);
  std::vector<AuditToken> live;
  for (int step = 0; step < 200; ++step) {
    w.advance(1 + w.random().below(1000));
    uint64_t op = w.random().below(5);
    if (op == 0 || live.empty()) {
      auto r = w.start_process(w.random().chance(1, 2) ? kCurlPath : kSafariPath);
      if (r.ok()) live.push_back(r.value);
    } else {
      std::size_t i = w.random().below(live.size());
      if (op == 1) {
        w.exit_process(live[i]);
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
      } else if (op == 2) {
        auto r = w.exec_process(live[i], kToolPath);
        if (r.ok()) live[i] = r.value;
      } else {
        EXPECT_TRUE(w.open_flow(live[i]).ok());
      }
    }
  }
  return w.take_log();
}

TEST(World, SameSeedSameEventLog) {
  std::vector<Event> a = scripted_run(42);
  std::vector<Event> b = scripted_run(42);
  EXPECT_GT(a.size(), 100u);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, scripted_run(43));
}

TEST(World, LogCanBeTurnedOffAndCleared) {
  World w = make_world();
  EXPECT_FALSE(w.log().empty());
  w.clear_log();
  w.set_logging(false);
  start(w, kCurlPath);
  EXPECT_TRUE(w.log().empty());
  std::vector<EventKind> seen;
  w.set_event_listener([&](const Event& e) { seen.push_back(e.kind()); });
  AuditToken t = start(w, kCurlPath);
  w.exit_process(t, 0, ExitStage::kExited);
  w.reap_process(t);
  EXPECT_EQ(seen, (std::vector<EventKind>{EventKind::kProcessSpawn, EventKind::kProcessExit,
                                          EventKind::kProcessExit}));
  EXPECT_TRUE(w.log().empty());
}

TEST(World, EventsAreTimestampedWithTheVirtualClock) {
  World w = make_world();
  w.clear_log();
  w.advance(500);
  AuditToken t = start(w, kCurlPath);
  w.advance(250);
  w.exit_process(t);
  ASSERT_EQ(w.log().size(), 2u);
  EXPECT_EQ(w.log()[0].time_ns, 500u);
  EXPECT_EQ(w.log()[1].time_ns, 750u);
  const auto& exit = std::get<ProcessExit>(w.log()[1].body);
  EXPECT_EQ(exit.token, t);
  EXPECT_EQ(exit.stage, ExitStage::kReaped);
}

TEST(World, ApplyRebuildsAWorldFromItsLog) {
  std::vector<Event> log = scripted_run(7);
  WorldConfig config = small_world(PidPolicy::kReuseLastFreed, 120);
  config.start_launchd = false;
  World replayed(config);
  for (const Event& e : log) {
    ASSERT_EQ(replayed.apply(e), WorldError::kNone) << "event kind " << name_of(e.kind());
  }
  EXPECT_EQ(replayed.log(), log) << "the rebuilt world logs the same events";
  EXPECT_EQ(replayed.check_consistency(), std::nullopt);
  // Truth survives the round trip: every flow's creator is known with its image.
  for (const Event& e : log) {
    if (const Flow* f = std::get_if<Flow>(&e.body)) {
      const FlowTruth* truth = replayed.flow_truth(f->flow_id);
      ASSERT_NE(truth, nullptr);
      EXPECT_EQ(truth->execution, f->source_process_audit_token.token.execution());
      EXPECT_NE(replayed.image_of(truth->execution), nullptr);
    }
  }
  EXPECT_EQ(replayed.apply(build::marker(0, "hi")), WorldError::kUnsupportedEvent);
}

TEST(World, ApplyRefusesImpossibleEvents) {
  World w = make_world();
  AuditToken t = start(w, kCurlPath);
  EXPECT_EQ(w.apply(build::spawn(10, build::token(t.pid(), 999), *w.launchd(), curl())),
            WorldError::kPidInUse);
  EXPECT_EQ(w.apply(build::spawn(10, build::token(777, t.pidversion()), *w.launchd(), curl())),
            WorldError::kPidversionUsed);
  EXPECT_EQ(w.apply(build::exit(10, build::token(555, 4242))), WorldError::kNoSuchExecution);
  // A replayed pid far beyond pid_max (an imported macOS trace) is tracked too.
  AuditToken big = build::token(99000, 500000);
  ASSERT_EQ(w.apply(build::spawn(20, big, *w.launchd(), curl())), WorldError::kNone);
  EXPECT_TRUE(w.guest_by_audit_token(big).ok());
  EXPECT_EQ(w.check_consistency(), std::nullopt);
  // The sim keeps handing out fresh pidversions after a forced one.
  AuditToken next = start(w, kCurlPath);
  EXPECT_GT(next.pidversion(), 500000u);
  EXPECT_TRUE(w.proc_pidpath_audittoken(next).ok());
}

// ---------------------------------------------------------------------------------------------
// Property: random operation sequences keep the process table consistent.

RC_GTEST_PROP(WorldProperty, RandomOperationsKeepTheTableConsistent, ()) {
  const auto policy =
      *rc::gen::element(PidPolicy::kSequential, PidPolicy::kLowestFree, PidPolicy::kReuseLastFreed);
  const auto pid_max = *rc::gen::inRange(100, 108);
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  const auto steps = *rc::gen::inRange(1, 150);
  RC_TAG(name_of(policy));
  World w = make_world(small_world(policy, pid_max));
  SplitMix64 rng(seed);
  const std::vector<std::string> paths = {kCurlPath, kSafariPath, kToolPath, kTrustdPath};
  for (int step = 0; step < steps; ++step) {
    const auto& execs = w.executions();
    const Execution& pick = execs[rng.below(execs.size())];
    switch (rng.below(8)) {
      case 0:
      case 1:
        w.start_process(paths[rng.below(paths.size())]);
        break;
      case 2:
        w.exec_process(pick.token, paths[rng.below(paths.size())]);
        break;
      case 3:
        w.exit_process(pick.token, 0, rng.chance(1, 2) ? ExitStage::kExited : ExitStage::kReaped);
        break;
      case 4:
        w.reap_process(pick.token);
        break;
      case 5:
        w.replace_file(tool(static_cast<uint32_t>(2 + rng.below(5))));
        break;
      case 6:
        w.open_flow(pick.token);
        break;
      case 7:
        (void)w.spawn_suspended(paths[rng.below(paths.size())]);
        break;
    }
    auto problem = w.check_consistency();
    RC_ASSERT_FALSE(problem.has_value());
  }
  // At most one execution holding each pid, and tokens answer exactly for live executions.
  std::map<int32_t, int> holders;
  for (const Execution& e : w.executions()) {
    if (e.holds_pid()) ++holders[e.token.pid()];
    bool resolves = w.proc_pidpath_audittoken(e.token).ok();
    RC_ASSERT(resolves == e.live());
  }
  for (const auto& [pid, count] : holders) RC_ASSERT(count == 1);
}

}  // namespace
}  // namespace flowid
