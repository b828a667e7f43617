// Compositional fault schedules (issue 11): the realism rules every engine obeys, the
// combinations the generator must reach (a fault situation meeting an interference, several
// interferences in one lookup), the full-identity oracle, shrinking of dependent pairs, fault
// credit, and counterexample traces that reproduce their finding in model replay (the failing
// strategy's own calls, lookup faults recorded as markers).
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <utility>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/realism.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"
#include "replay/perturb.h"
#include "replay/replay.h"
#include "replay/scenario_files.h"
#include "replay/world_config.h"
#include "tests/cli_runner.h"

namespace flowid::fuzz {
namespace {

scenario::Scenario parse(std::string_view text) {
  std::string error;
  auto s = scenario::parse_scenario(text, "test.scenario", &error);
  EXPECT_TRUE(s) << error;
  return s ? *s : scenario::Scenario{};
}

StrategyUnderTest strategy(std::string_view name) {
  auto s = reference_strategy(name);
  EXPECT_TRUE(s) << name;
  return *s;
}

GeneratedCase generate(uint64_t seed, FaultSet faults, bool launchers = false) {
  GeneratorOptions options;
  options.faults = faults;
  options.launchers = launchers;
  // Half the cases with a dictionary (a plugin's identifiers), so its impostors are covered too.
  if (seed % 2 == 1) options.borrowed_signing_ids = {"org.example.updater", "com.example.helper"};
  Choices choices(seed);
  return generate_case(options, choices, "c" + std::to_string(seed));
}

// ---- Realism rules (one test per rule).

TEST(Realism, R1ProtectedFilesNeverChange) {
  EXPECT_TRUE(is_protected_path("/usr/libexec/trustd"));
  EXPECT_TRUE(is_protected_path("/System/Library/CoreServices/Finder.app/Contents/MacOS/Finder"));
  EXPECT_TRUE(is_protected_path("/usr/bin/curl"));
  EXPECT_FALSE(is_protected_path("/usr/local/bin/tool"));
  EXPECT_FALSE(is_protected_path("/Applications/Good.app/Contents/MacOS/Good"));
  EXPECT_FALSE(
      is_protected_path("/Library/Developer/CoreSimulator/Volumes/iOS_21A328/Library/Developer/"
                        "CoreSimulator/usr/libexec/trustd"));

  auto broken = check_realism(
      parse("scenario r1\nfile /usr/libexec/trustd platform signing_id=com.apple.trustd\n"
            "spawn t /usr/libexec/trustd\nflow f1 t\nresolve f1\n  before-call 2: replace "
            "/usr/libexec/trustd unsigned\n"));
  ASSERT_TRUE(broken);
  EXPECT_NE(broken->find("test.scenario:6: R1"), std::string::npos) << *broken;
  EXPECT_TRUE(
      check_realism(parse("scenario r1\nfile /tmp/x unsigned\nrename /tmp/x /usr/bin/x\n")));
  EXPECT_TRUE(check_realism(
      parse("scenario r1\nfile /usr/bin/curl platform signing_id=c\nremove /usr/bin/curl\n")));
  EXPECT_FALSE(check_realism(
      parse("scenario r1\nfile /usr/local/bin/t unsigned\nreplace /usr/local/bin/t unsigned\n")));
}

TEST(Realism, R2DelegationAgreesWithResponsibility) {
  const std::string world =
      "scenario r2\nfile /tmp/a unsigned\nfile /tmp/b unsigned\n"
      "file /usr/libexec/nsurlsessiond platform signing_id=com.apple.nsurlsessiond\n"
      "spawn a /tmp/a\nspawn b /tmp/b\n";
  EXPECT_FALSE(check_realism(
      parse(world + "spawn h /usr/libexec/nsurlsessiond responsible=a\nflow f1 h app=a\n")));
  auto other = check_realism(
      parse(world + "spawn h /usr/libexec/nsurlsessiond responsible=a\nflow f1 h app=b\n"));
  ASSERT_TRUE(other);
  EXPECT_NE(other->find("R2"), std::string::npos);
  EXPECT_NE(other->find("acts for a"), std::string::npos) << *other;
  auto none = check_realism(parse(world + "spawn h /usr/libexec/nsurlsessiond\nflow f1 h app=a\n"));
  ASSERT_TRUE(none);
  EXPECT_NE(none->find("acts for no app"), std::string::npos) << *none;
}

TEST(Realism, R3PidversionsNeverRepeatInGeneratedRuns) {
  const auto sut = strategy("token+recheck");
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    GeneratedCase c = generate(seed, kResolverFaults);
    auto resolver = sut.make_resolver();
    scenario::RunResult run = scenario::run_resolver(c.scenario, *resolver);
    ASSERT_TRUE(run.ok()) << run.error << "\n" << scenario::format_scenario(c.scenario);
    std::set<std::pair<int32_t, uint32_t>> seen;
    for (const Event& e : run.events) {
      std::optional<AuditToken> token;
      if (auto* spawn = std::get_if<ProcessSpawn>(&e.body)) token = spawn->token;
      if (auto* exec = std::get_if<ProcessExec>(&e.body)) token = exec->token;
      if (!token) continue;
      EXPECT_TRUE(seen.insert({token->pid(), token->pidversion()}).second)
          << "pid " << token->pid() << " pidversion " << token->pidversion() << " twice, seed "
          << seed;
    }
  }
}

TEST(Realism, EveryGeneratedScheduleIsRealisticAndRuns) {
  const auto resolver = strategy("token+recheck");
  const auto launcher = strategy("kernel-launch-requirement");
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    const bool launchers = seed % 5 == 0;
    GeneratedCase c = generate(seed, kAllFaults, launchers);
    auto broken = check_realism(c.scenario);
    ASSERT_FALSE(broken) << *broken << "\n" << scenario::format_scenario(c.scenario);
    CaseVerdict v = check_scenario(c.scenario, launchers ? launcher : resolver);
    ASSERT_TRUE(v.ran()) << v.error << "\n" << scenario::format_scenario(c.scenario);
  }
}

// ---- Composition: what the old episode templates could never produce.

struct Features {
  bool eperm_with_race = false;          // sandboxed daemon lookup with a pid change inside it.
  bool token_shape_owner_exits = false;  // absent/malformed token whose owner exits first.
  bool delegated_app_reused = false;     // a delegated flow whose app exits, its pid reused.
  bool failure_then_race = false;        // fail-next followed by a race in the same lookup.
  bool daemon_newcomer = false;          // a pid-reuse newcomer that is a /usr/libexec daemon.
  bool two_swaps_in_a_launch = false;    // swap, then another swap (or back).
  bool several_interferences = false;    // 3+ races in one lookup.
};

Features features_of(const scenario::Scenario& s) {
  Features f;
  std::map<std::string, std::string> path_of;     // process -> image path.
  std::map<std::string, std::string> flow_owner;  // flow -> process.
  std::map<std::string, std::string> flow_app;
  std::map<std::string, std::string> flow_options;
  std::set<std::string> exited;
  for (const auto& step : s.steps) {
    using scenario::StepKind;
    namespace st = scenario::step;
    if (const auto* spawn = step.as<st::Spawn>()) path_of[spawn->name] = spawn->path;
    if (const auto* exit = step.as<st::Exit>()) exited.insert(exit->name);
    if (const auto* open = step.as<st::OpenFlow>()) {
      flow_owner[open->flow] = open->process;
      if (open->app) flow_app[open->flow] = *open->app;
      if (open->app_token || open->process_token) flow_options[open->flow] = "token";
    }
    if (step.kind() == StepKind::kLaunch) {
      int swaps = 0;
      for (const auto& r : step.races) swaps += r.step.kind() != StepKind::kFailNext ? 1 : 0;
      f.two_swaps_in_a_launch = f.two_swaps_in_a_launch || swaps >= 2;
    }
    const auto* resolve = step.as<st::Resolve>();
    if (resolve == nullptr) continue;
    const std::string& flow = resolve->flow;
    const std::string owner = flow_owner[flow];
    if (flow_options.count(flow) && exited.count(owner)) f.token_shape_owner_exits = true;
    bool failed_before = false;
    for (const auto& r : step.races) {
      const StepKind kind = r.step.kind();
      const auto* spawn = r.step.as<st::Spawn>();
      if (kind == StepKind::kFailNext) failed_before = true;
      if (failed_before && kind != StepKind::kFailNext && kind != StepKind::kDelay) {
        f.failure_then_race = true;
      }
      if (spawn && spawn->path.starts_with("/usr/libexec/")) f.daemon_newcomer = true;
      if (spawn && s.world.caller.sandboxed && path_of[owner].starts_with("/usr/libexec/")) {
        f.eperm_with_race = true;
      }
      if (flow_app.count(flow) && spawn) {
        for (const auto& q : step.races) {
          const auto* exit = q.step.as<st::Exit>();
          if (exit && exit->name == flow_app[flow]) f.delegated_app_reused = true;
        }
      }
      if (spawn) path_of[spawn->name] = spawn->path;
      if (const auto* exit = r.step.as<st::Exit>()) exited.insert(exit->name);
    }
    f.several_interferences = f.several_interferences || step.races.size() >= 3;
  }
  return f;
}

TEST(Composition, EveryFaultMeetsEveryInterference) {
  Features seen;
  for (uint64_t seed = 1; seed <= 6000; ++seed) {
    const bool launchers = seed % 4 == 0;
    GeneratedCase c = generate(seed, kAllFaults, launchers);
    Features f = features_of(c.scenario);
    seen.eperm_with_race |= f.eperm_with_race;
    seen.token_shape_owner_exits |= f.token_shape_owner_exits;
    seen.delegated_app_reused |= f.delegated_app_reused;
    seen.failure_then_race |= f.failure_then_race;
    seen.daemon_newcomer |= f.daemon_newcomer;
    seen.two_swaps_in_a_launch |= f.two_swaps_in_a_launch;
    seen.several_interferences |= f.several_interferences;
  }
  EXPECT_TRUE(seen.eperm_with_race) << "an EPERM'd lookup whose pid changes hands mid-lookup";
  EXPECT_TRUE(seen.token_shape_owner_exits)
      << "a malformed token whose owner exits before the lookup";
  EXPECT_TRUE(seen.delegated_app_reused)
      << "a delegated flow whose app exits and whose pid is reused";
  EXPECT_TRUE(seen.failure_then_race) << "a transient failure followed by a race";
  EXPECT_TRUE(seen.daemon_newcomer) << "a pid-reuse newcomer that is a platform daemon";
  EXPECT_TRUE(seen.two_swaps_in_a_launch) << "a launch with two swaps";
  EXPECT_TRUE(seen.several_interferences);
}

TEST(Composition, SingleFaultCasesStayCommon) {
  uint32_t single = 0;
  uint32_t total = 0;
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    GeneratedCase c = generate(seed, kResolverFaults);
    if (c.injected == kNoFaults) continue;
    ++total;
    single += fault_count(c.injected) == 1 ? 1 : 0;
  }
  ASSERT_GT(total, 1000u);
  EXPECT_GT(single * 4, total) << single << " single-fault cases of " << total;
}

TEST(Composition, SoundStrategyHoldsOverManyCompositeCases) {
  CampaignOptions options;
  options.strategy = strategy("token+recheck");
  options.seed = 11;
  for (uint64_t k = 0; k < 20000; ++k) {
    CaseRecord r = run_case(options, k);
    ASSERT_TRUE(r.verdict.ran()) << r.verdict.error;
    ASSERT_FALSE(r.verdict.failed()) << r.verdict.first_violation << "\n"
                                     << scenario::format_scenario(r.generated.scenario);
  }
}

// ---- The code under test's own identifiers as a dictionary.

TEST(Dictionary, ReverseDnsIdentifiersAreFoundInBytes) {
  using namespace std::string_literals;
  const std::string bytes =
      "\x7f"
      "ELF\0libc.so.6\0org.sparkle-project.Sparkle.Autoupdate\0GLIBC_2.2.5\0"
      "com.google.Keystone.Agent\0x.y\0com.apple\0%s.%d\0com.google.Keystone.Agent\0"s;
  EXPECT_EQ(identifiers_in(bytes),
            (std::vector<std::string>{"com.google.Keystone.Agent",
                                      "org.sparkle-project.Sparkle.Autoupdate"}));
  EXPECT_EQ(identifiers_in(bytes, 1).size(), 1u);
  EXPECT_TRUE(identifiers_in("").empty());
}

TEST(Dictionary, F10ImpostorsBorrowTheDictionarysIdentifiers) {
  GeneratorOptions options;
  options.faults = bit(Fault::kSameName);
  options.borrowed_signing_ids = {"org.example.updater"};
  bool borrowed = false;
  for (uint64_t seed = 1; seed <= 200 && !borrowed; ++seed) {
    Choices choices(seed);
    GeneratedCase c = generate_case(options, choices, "d");
    for (const auto& step : c.scenario.steps) {
      const auto* file = step.as<scenario::step::InstallFile>();
      borrowed = borrowed || (file && file->file.signing_id == "org.example.updater" &&
                              file->file.team_id == "EVILTEAM01");
    }
    ASSERT_FALSE(check_realism(c.scenario));
    ASSERT_TRUE(check_scenario(c.scenario, strategy("token+recheck")).ran());
  }
  EXPECT_TRUE(borrowed);
}

// ---- Shrinking and credit.

TEST(Shrink, RemovesADependentPairThatCannotGoAlone) {
  // pid-path misattributes the reused pid. The victim's file is renamed away and back, with a
  // step the failure needs in between (so no chunk of adjacent steps holds just the pair): the
  // rename back cannot go alone (the victim's spawn needs the file back) nor can the first (the
  // rename back needs it). Only removing the pair together shrinks them away.
  GeneratedCase c;
  c.scenario = parse(
      "scenario pair\nworld pid-policy=reuse-last\n"
      "rule good allow path=/Applications/Good.app/Contents/MacOS/Good\n"
      "file /usr/local/bin/x unsigned\nrename /usr/local/bin/x /usr/local/bin/y\n"
      "file /Applications/Good.app/Contents/MacOS/Good developer-id signing_id=g "
      "team_id=GOODTEAM01\n"
      "rename /usr/local/bin/y /usr/local/bin/x\n"
      "spawn e /usr/local/bin/x\nflow f1 e\nexit e\nspawn g "
      "/Applications/Good.app/Contents/MacOS/Good\nresolve f1\n");
  c.step_faults.assign(c.scenario.steps.size(), kNoFaults);
  c.race_faults.assign(c.scenario.steps.size(), {});
  const auto sut = strategy("pid-path");
  ASSERT_TRUE(check_scenario(c.scenario, sut).failed());
  ShrinkResult r = shrink_case(c, sut);
  EXPECT_TRUE(r.verdict.failed());
  for (const auto& step : r.shrunk.scenario.steps) {
    EXPECT_NE(step.kind(), scenario::StepKind::kRename)
        << scenario::format_scenario(r.shrunk.scenario);
  }
  EXPECT_LE(r.shrunk_size, 7u);
}

TEST(Credit, AFaultWhoseRemovalStopsTheScheduleIsNotCredited) {
  GeneratedCase c;
  c.scenario = parse(
      "scenario credit\nworld pid-policy=reuse-last\n"
      "rule good allow path=/Applications/Good.app/Contents/MacOS/Good\n"
      "file /tmp/evil unsigned\nfile /Applications/Good.app/Contents/MacOS/Good developer-id "
      "signing_id=g team_id=GOODTEAM01\n"
      "file /tmp/a unsigned\nrename /tmp/a /tmp/b\nspawn b /tmp/b\n"
      "spawn e /tmp/evil\nflow f1 e\nexit e\nspawn g "
      "/Applications/Good.app/Contents/MacOS/Good\nresolve f1\n");
  c.step_faults.assign(c.scenario.steps.size(), kNoFaults);
  c.race_faults.assign(c.scenario.steps.size(), {});
  ASSERT_EQ(c.scenario.steps[3].kind(), scenario::StepKind::kRename);
  ASSERT_EQ(c.scenario.steps[7].kind(), scenario::StepKind::kExit);
  c.step_faults[3] = bit(Fault::kReplacedOnDisk);
  c.step_faults[7] = bit(Fault::kPidReuse);
  c.world_faults = bit(Fault::kPidReuse);
  ShrinkOptions shrink;
  shrink.runs_max = 0;  // credit the case as it is.
  Counterexample cx = shrink_and_credit(c, strategy("pid-path"), shrink);
  EXPECT_TRUE(cx.shrink.verdict.failed());
  EXPECT_TRUE(contains(cx.credited, Fault::kPidReuse)) << format_fault_set(cx.credited);
  EXPECT_FALSE(contains(cx.credited, Fault::kReplacedOnDisk)) << format_fault_set(cx.credited);
}

// ---- Counterexample traces reproduce in model replay.

replay::TraceReplayResult model_replay(const std::string& path, Resolver& resolver) {
  auto reader = trace::open_reader(path);
  EXPECT_TRUE(reader->ok());
  std::string error;
  WorldConfig world;
  EXPECT_TRUE(replay::world_config_from_header(reader->header(), path, &world, &error)) << error;
  auto rules = replay::rules_from_header(reader->header(), path, &error);
  EXPECT_TRUE(rules) << error;
  replay::ModelOptions model;
  model.world = world;
  return replay::replay_model(path, *reader, resolver, Filter(*rules), model);
}

TEST(Counterexample, LookupFaultsAreInTheTraceAndReplayInModelMode) {
  std::string error;
  auto s = replay::load_scenario(
      std::string(FLOWID_SOURCE_DIR) + "/fixtures/counterexamples/lulu-model--F8.scenario", &error);
  ASSERT_TRUE(s) << error;
  const auto sut = strategy("lulu-model");
  const CaseVerdict expected = check_scenario(*s, sut);
  ASSERT_TRUE(expected.failed());
  auto compiled = replay::compile_scenario(*s, &error, &sut);
  ASSERT_TRUE(compiled) << error;
  bool marker = false;
  for (const auto& e : compiled->events) {
    if (auto* m = std::get_if<Marker>(&e.body))
      marker = marker || scenario::is_lookup_fault_marker(m->text);
  }
  EXPECT_TRUE(marker);
  const std::string path = ::testing::TempDir() + "/flowid-f8.trace";
  ASSERT_TRUE(replay::write_compiled(*compiled, path, trace::WriterOptions{}, &error)) << error;
  auto resolver = make_resolver("lulu-model");
  replay::TraceReplayResult result = model_replay(path, *resolver);
  EXPECT_TRUE(result.model_errors.empty()) << result.model_errors.front();
  EXPECT_GT(result.violations(), 0u) << "the transient failure must be replayed";
}

TEST(Counterexample, TraceRecordsTheFailingStrategysOwnCalls) {
  std::string error;
  auto s = replay::load_scenario(
      std::string(FLOWID_SOURCE_DIR) + "/fixtures/scenarios/f02_exit_race.scenario", &error);
  ASSERT_TRUE(s) << error;
  const auto sut = strategy("lulu-model");
  auto compiled = replay::compile_scenario(*s, &error, &sut);
  ASSERT_TRUE(compiled) << error;
  bool named = false;
  for (const auto& [key, value] : compiled->header.resolver_config)
    named = named || (key == "record-with" && value == "lulu-model");
  EXPECT_TRUE(named);
  // The lookups before the first verdict are lulu-model's own, in its order.
  auto resolver = sut.make_resolver();
  scenario::RunResult run = scenario::run_resolver(*s, *resolver);
  ASSERT_TRUE(run.ok());
  std::vector<LookupCall> own;
  for (const auto& l : run.flows.front().check.lookups) own.push_back(l.call);
  std::vector<LookupCall> recorded;
  for (const auto& e : compiled->events) {
    if (auto* l = std::get_if<Lookup>(&e.body)) recorded.push_back(l->call);
    if (std::holds_alternative<Verdict>(e.body)) break;
  }
  ASSERT_GE(recorded.size(), own.size());
  EXPECT_TRUE(std::equal(own.begin(), own.end(), recorded.begin()));
}

// ---- Every printed reproduce and replay line reproduces its finding (the real CLI).

// The words of a printed command line ("flowid replay --mode model ..."), without "flowid".
std::vector<std::string> command_words(const std::string& output, const std::string& label) {
  const auto at = output.find("  " + label + ":");
  if (at == std::string::npos) return {};
  const auto end = output.find('\n', at);
  std::istringstream line(output.substr(at, end - at));
  std::vector<std::string> words;
  std::string word;
  line >> word;  // the label.
  line >> word;  // "flowid".
  while (line >> word) words.push_back(word);
  return words;
}

struct FindingKind {
  std::string name;
  std::vector<std::string> fuzz_args;
};

TEST(PrintedCommands, EveryReproduceAndReplayLineReproducesItsFinding) {
  const std::vector<FindingKind> kinds = {
      {"resolver pid reuse", {"--strategy", "pid-path", "--faults", "F1"}},
      {"resolver transient failure (F8)",
       {"--strategy", "lulu-model", "--faults", "F8", "--no-swarm"}},
      {"resolver exec race", {"--strategy", "opensnitch-model", "--faults", "F4"}},
      {"launcher swap", {"--launcher", "check-path-then-spawn", "--faults", "F11"}},
  };
  for (const auto& kind : kinds) {
    SCOPED_TRACE(kind.name);
    testing::TempDir dir;
    std::vector<std::string> args = {
        "fuzz",   "--seed", "3",     "--budget",          "20000",
        "--jobs", "1",      "--out", dir.path().string(), "--no-default-corpus"};
    args.insert(args.end(), kind.fuzz_args.begin(), kind.fuzz_args.end());
    auto fuzz = testing::run_flowid(args);
    ASSERT_EQ(fuzz.exit_code, 1) << fuzz.out << fuzz.err;
    for (const std::string label : {"reproduce", "replay"}) {
      auto words = command_words(fuzz.out, label);
      ASSERT_FALSE(words.empty()) << label << " line missing:\n" << fuzz.out;
      auto again = testing::run_flowid(words);
      EXPECT_EQ(again.exit_code, 1)
          << label << ": flowid " << ::testing::PrintToString(words) << "\n"
          << again.out << again.err;
      const bool shows = again.out.find("violation") != std::string::npos ||
                         again.out.find("BYPASSED") != std::string::npos ||
                         again.out.find("MISATTRIBUTED") != std::string::npos;
      EXPECT_TRUE(shows) << label << ":\n" << again.out;
    }
  }
}

}  // namespace
}  // namespace flowid::fuzz
