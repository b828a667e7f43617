// Property-based fault injection (issue 5): the generator, the properties, the shrinker, the
// counterexample files and their model replay, perturbed replay, the corpus and determinism.
// A property failure prints the scenario text and the reproduce command.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <filesystem>
#include <map>
#include <stdexcept>

#include "harness/fuzz/campaign.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"
#include "replay/perturb.h"
#include "replay/replay.h"
#include "replay/scenario_files.h"
#include "replay/world_config.h"

namespace flowid::fuzz {
namespace {

StrategyUnderTest strategy(std::string_view name) {
  auto s = reference_strategy(name);
  EXPECT_TRUE(s) << name;
  return *s;
}

GeneratedCase generate(uint64_t seed, FaultSet faults = kAllFaults, bool launchers = false,
                       bool swarm = true) {
  GeneratorOptions options;
  options.faults = faults;
  options.launchers = launchers;
  options.swarm = swarm;
  Choices choices(seed);
  return generate_case(options, choices, "prop-" + std::to_string(seed));
}

std::string explain(const GeneratedCase& c, const CaseVerdict& v) {
  return "\n" + v.first_violation + "\n" + scenario::format_scenario(c.scenario);
}

// ---- Faults and choices.

TEST(FaultList, ParsesIdsNamesAndGroups) {
  std::string error;
  EXPECT_EQ(parse_fault_list("F1,F3", &error), bit(Fault::kPidReuse) | bit(Fault::kSandboxEperm));
  EXPECT_EQ(parse_fault_list("pid-reuse, zombie", &error),
            bit(Fault::kPidReuse) | bit(Fault::kZombie));
  EXPECT_EQ(parse_fault_list("all", &error), kAllFaults);
  EXPECT_EQ(parse_fault_list("launcher", &error), kLauncherFaults);
  EXPECT_FALSE(parse_fault_list("F12", &error));
  EXPECT_NE(error.find("F12"), std::string::npos);
  EXPECT_FALSE(parse_fault_list("", &error));
  EXPECT_EQ(format_fault_set(bit(Fault::kPidReuse) | bit(Fault::kLaunchToctou)), "F1,F11");
}

TEST(Choices, BytesDriveTheSameGeneratorAndZerosAreSimplest) {
  const std::vector<uint8_t> zeros(64, 0);
  Choices a(zeros.data(), zeros.size());
  GeneratedCase c = generate_case({}, a, "zeros");
  EXPECT_GE(c.scenario.steps.size(), 1u);
  CaseVerdict v = check_scenario(c.scenario, strategy("token+recheck"));
  EXPECT_TRUE(v.ran()) << v.error;
  Choices empty(nullptr, 0);
  EXPECT_TRUE(
      check_scenario(generate_case({}, empty, "empty").scenario, strategy("pid-path")).ran());
}

TEST(Campaign, CaseSeedsDependOnlyOnRunSeedAndIndex) {
  EXPECT_EQ(case_seed(7, 3), case_seed(7, 3));
  EXPECT_NE(case_seed(7, 3), case_seed(7, 4));
  EXPECT_NE(case_seed(7, 3), case_seed(8, 3));
  CampaignOptions options;
  options.strategy = strategy("pid-path");
  options.seed = 99;
  EXPECT_EQ(run_case(options, 5).verdict.digest, run_case(options, 5).verdict.digest);
  EXPECT_EQ(reproduce_command(options, 5),
            "flowid fuzz --strategy pid-path --faults all --seed 99 --case 5");
}

// ---- Properties over generated schedules.

RC_GTEST_PROP(FuzzProperty, TokenBoundStrategiesNeverViolateUnderAnyFaults, (uint64_t seed)) {
  const GeneratedCase c = generate(seed);
  for (std::string_view name : {"token+recheck", "token"}) {
    CaseVerdict v = check_scenario(c.scenario, strategy(name));
    RC_ASSERT(v.ran());
    if (v.failed()) RC_LOG() << name << explain(c, v);
    RC_ASSERT((v.violated & (invariant_bit(Invariant::kI1VerifiedIsCorrect) |
                             invariant_bit(Invariant::kI3GoneIsGone) |
                             invariant_bit(Invariant::kI4VerdictSafety))) == 0);
    RC_ASSERT(!v.failed());
  }
}

RC_GTEST_PROP(FuzzProperty, EveryStrategyIsTotalOnGeneratedSchedules,
              (uint64_t seed, bool launchers)) {
  const GeneratedCase c = generate(seed, kAllFaults, launchers);
  for (auto name : launchers ? launcher_names() : resolver_names()) {
    CaseVerdict v = check_scenario(c.scenario, strategy(name));
    RC_ASSERT(v.ran());
    if (v.cell == Cell::kCrashed) RC_LOG() << name << explain(c, v);
    RC_ASSERT(v.cell != Cell::kCrashed);
    RC_ASSERT((v.violated & invariant_bit(Invariant::kI7Totality)) == 0);
  }
}

RC_GTEST_PROP(FuzzProperty, SafeLaunchersNeverRunCodeThatFailsTheRequirement, (uint64_t seed)) {
  const GeneratedCase c = generate(seed, kLauncherFaults, true);
  for (std::string_view name :
       {"kernel-launch-requirement", "copy-check-run", "spawn-suspended-check-resume"}) {
    CaseVerdict v = check_scenario(c.scenario, strategy(name));
    if (v.failed()) RC_LOG() << name << explain(c, v);
    RC_ASSERT(v.ran() && !v.failed());
  }
}

RC_GTEST_PROP(FuzzProperty, SameSeedSameDigest, (uint64_t seed)) {
  const GeneratedCase a = generate(seed);
  const GeneratedCase b = generate(seed);
  RC_ASSERT(scenario::format_scenario(a.scenario) == scenario::format_scenario(b.scenario));
  for (auto name : resolver_names()) {
    RC_ASSERT(check_scenario(a.scenario, strategy(name)).digest ==
              check_scenario(b.scenario, strategy(name)).digest);
  }
}

RC_GTEST_PROP(FuzzProperty, GeneratedScenariosRoundTripThroughText,
              (uint64_t seed, bool launchers)) {
  const GeneratedCase c = generate(seed, kAllFaults, launchers);
  const std::string text = scenario::format_scenario(c.scenario);
  std::string error;
  auto parsed = scenario::parse_scenario(text, "generated", &error);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(scenario::format_scenario(*parsed) == text);
  // And the parsed copy behaves the same.
  auto s = strategy(launchers ? "check-path-then-spawn" : "pid-path");
  RC_ASSERT(check_scenario(*parsed, s).digest == check_scenario(c.scenario, s).digest);
}

RC_GTEST_PROP(FuzzProperty, SingleFaultCasesCarryOnlyThatFault, (uint64_t seed)) {
  const int index = *rc::gen::inRange(0, 10);
  const FaultSet only = bit(fault_at(index));
  const GeneratedCase c = generate(seed, only, false, false);
  RC_ASSERT((c.injected & ~only) == 0);
}

// ---- A stateful model (rc::state): processes spawn, open flows, exit, and their pids are
// reused; after every command the token-bound resolver's claims hold against the world.

struct ModelState {
  std::vector<std::string> live;
  int next = 0;
  bool has_flow = false;
};

struct WorldSut {
  scenario::Scenario s;
  std::map<std::string, bool> alive;
  int flows = 0;
};

using Command = rc::state::Command<ModelState, WorldSut>;

void check_now(WorldSut& sut) {
  for (std::string_view name : {"token+recheck", "token"}) {
    CaseVerdict v = check_scenario(sut.s, strategy(name));
    RC_ASSERT(v.ran());
    if (v.failed())
      RC_LOG() << name << "\n" << v.first_violation << "\n" << scenario::format_scenario(sut.s);
    RC_ASSERT(!v.failed());
  }
}

// A step written as its scenario line ("spawn p1 /tmp/evil").
scenario::Step step(const std::string& line) {
  std::string error;
  auto s = scenario::parse_step(line, "test", 0, &error);
  if (!s) throw std::invalid_argument(error);
  return *s;
}

struct SpawnCmd : Command {
  bool trusted = *rc::gen::arbitrary<bool>();
  void apply(ModelState& m) const override { m.live.push_back("p" + std::to_string(m.next++)); }
  void run(const ModelState& m, WorldSut& sut) const override {
    const std::string name = "p" + std::to_string(m.next);
    sut.s.steps.push_back(
        step("spawn " + name + (trusted ? " /usr/local/bin/tool" : " /tmp/evil")));
    check_now(sut);
  }
  void show(std::ostream& os) const override { os << "spawn " << (trusted ? "tool" : "evil"); }
};

struct FlowCmd : Command {
  std::size_t pick = *rc::gen::inRange<std::size_t>(0, 1000);
  bool race_exit = *rc::gen::arbitrary<bool>();
  void checkPreconditions(const ModelState& m) const override { RC_PRE(!m.live.empty()); }
  void apply(ModelState& m) const override {
    m.has_flow = true;
    if (race_exit) m.live.erase(m.live.begin() + static_cast<std::ptrdiff_t>(pick % m.live.size()));
  }
  void run(const ModelState& m, WorldSut& sut) const override {
    const std::string proc = m.live[pick % m.live.size()];
    const std::string flow = "f" + std::to_string(++sut.flows);
    sut.s.steps.push_back(step("flow " + flow + " " + proc));
    auto resolve = step("resolve " + flow);
    if (race_exit) resolve.races.emplace_back(2, step("exit " + proc));
    sut.s.steps.push_back(std::move(resolve));
    check_now(sut);
  }
  void show(std::ostream& os) const override {
    os << "flow+resolve" << (race_exit ? " (exit race)" : "");
  }
};

struct ExitCmd : Command {
  std::size_t pick = *rc::gen::inRange<std::size_t>(0, 1000);
  void checkPreconditions(const ModelState& m) const override { RC_PRE(!m.live.empty()); }
  void apply(ModelState& m) const override {
    m.live.erase(m.live.begin() + static_cast<std::ptrdiff_t>(pick % m.live.size()));
  }
  void run(const ModelState& m, WorldSut& sut) const override {
    sut.s.steps.push_back(step("exit " + m.live[pick % m.live.size()]));
    check_now(sut);
  }
  void show(std::ostream& os) const override { os << "exit"; }
};

RC_GTEST_PROP(FuzzStateful, TokenStrategiesStayCorrectAsProcessesComeAndGo, ()) {
  WorldSut sut;
  sut.s.name = "stateful";
  sut.s.world.pid_policy = PidPolicy::kReuseLastFreed;
  sut.s.world.caller.sandboxed = false;
  sut.s.steps.push_back(step("file /tmp/evil unsigned"));
  sut.s.steps.push_back(
      step("file /usr/local/bin/tool developer-id signing_id=com.example.tool team_id=TOOLTEAM01"));
  Rule allow;
  allow.name = "tool";
  allow.signing_id = "com.example.tool";
  allow.team_id = "TOOLTEAM01";
  allow.tier = RuleTier::kSigningId;
  sut.s.rules.rules.push_back(allow);
  ModelState initial;
  rc::state::check(initial, sut, rc::state::gen::execOneOfWithArgs<SpawnCmd, FlowCmd, ExitCmd>());
}

// ---- Shrinking and counterexample files.

// The first failing case of pid-path under F1 alone (seed 1).
CaseRecord first_failure(const CampaignOptions& options) {
  for (uint64_t k = 0; k < 2000; ++k) {
    CaseRecord r = run_case(options, k);
    if (r.verdict.failed()) return r;
  }
  ADD_FAILURE() << "no failing case in 2000";
  return {};
}

CampaignOptions pid_path_f1() {
  CampaignOptions options;
  options.strategy = strategy("pid-path");
  options.generator.faults = bit(Fault::kPidReuse);
  options.seed = 1;
  return options;
}

TEST(Shrink, ReducesAKnownFailureToAtMostTenStepsThatStillFail) {
  const CampaignOptions options = pid_path_f1();
  const CaseRecord failing = first_failure(options);
  const Counterexample cx = minimize(options, failing);
  EXPECT_LE(cx.shrink.shrunk_size, 10u) << scenario::format_scenario(cx.shrink.shrunk.scenario);
  EXPECT_LE(cx.shrink.shrunk_size, cx.shrink.original_size);
  EXPECT_TRUE(cx.shrink.verdict.failed());
  EXPECT_NE(cx.shrink.verdict.violated & invariant_bit(cx.shrink.target), 0);
  EXPECT_TRUE(contains(cx.credited, Fault::kPidReuse));
  // Shrinking is deterministic too.
  EXPECT_EQ(scenario::format_scenario(minimize(options, failing).shrink.shrunk.scenario),
            scenario::format_scenario(cx.shrink.shrunk.scenario));
  EXPECT_NE(cx.shrink.shrunk.scenario.description.find("--seed 1 --case"), std::string::npos);
}

TEST(Shrink, EveryMishandledFaultShrinksSmall) {
  for (std::string_view name : {"pid-path", "lulu-model", "opensnitch-model"}) {
    for (Fault fault : {Fault::kPidReuse, Fault::kExecAfterFlow}) {
      CampaignOptions options;
      options.strategy = strategy(name);
      options.generator.faults = bit(fault);
      options.generator.swarm = false;
      options.seed = 3;
      const Counterexample cx = minimize(options, first_failure(options));
      EXPECT_LE(cx.shrink.shrunk_size, 10u) << name << " " << fault_id(fault);
    }
  }
}

TEST(Counterexample, TraceReplaysInModelModeWithTheSameFinding) {
  const CampaignOptions options = pid_path_f1();
  const Counterexample cx = minimize(options, first_failure(options));
  const std::string dir = ::testing::TempDir() + "/flowid-fuzz-test-cx";
  std::string error;
  auto files = replay::write_counterexample(cx, "pid-path", dir, "cx", false, &error);
  ASSERT_TRUE(files) << error;

  // The .scenario parses back and fails the same way.
  auto loaded = replay::load_scenario(files->scenario_path, &error);
  ASSERT_TRUE(loaded) << error;
  EXPECT_NE(check_scenario(*loaded, options.strategy).violated & invariant_bit(cx.shrink.target),
            0);
  for (const auto& e : loaded->expectations) EXPECT_NE(e.strategy, "pid-path");

  // The .trace replays in model mode with the same invariant broken.
  auto reader = trace::open_reader(files->trace_path);
  ASSERT_TRUE(reader->ok());
  WorldConfig world;
  ASSERT_TRUE(replay::world_config_from_header(reader->header(), files->trace_path, &world, &error))
      << error;
  auto rules = replay::rules_from_header(reader->header(), files->trace_path, &error);
  ASSERT_TRUE(rules) << error;
  replay::ModelOptions model;
  model.world = world;
  auto resolver = make_resolver("pid-path");
  replay::TraceReplayResult result =
      replay::replay_model(files->trace_path, *reader, *resolver, Filter(*rules), model);
  EXPECT_TRUE(result.model_errors.empty()) << result.model_errors.front();
  bool same = false;
  for (const auto& f : result.findings)
    same = same || (f.severity == Severity::kViolation && f.invariant == cx.shrink.target);
  EXPECT_TRUE(same) << scenario::format_scenario(*loaded);

  // And token+recheck, replayed on the same trace, violates nothing.
  auto reader2 = trace::open_reader(files->trace_path);
  auto careful = make_resolver("token+recheck");
  EXPECT_EQ(replay::replay_model(files->trace_path, *reader2, *careful, Filter(*rules), model)
                .violations(),
            0u);
}

// ---- The bundled corpus.

TEST(Corpus, BundledCounterexamplesReplayAsExpectedForEveryReferenceStrategy) {
  const std::string dir = std::string(FLOWID_SOURCE_DIR) + "/fixtures/counterexamples";
  std::string error;
  auto corpus = replay::load_corpus(dir, &error);
  ASSERT_TRUE(corpus) << error;
  EXPECT_FALSE(corpus->empty());
  for (const auto& s : *corpus) {
    for (auto names : {resolver_names(), launcher_names()}) {
      for (auto name : names) {
        CorpusVerdict v = replay_corpus_entry(s, strategy(name));
        EXPECT_TRUE(v.passed()) << v.problem();
      }
    }
  }
}

// ---- Perturbed replay.

replay::CompiledScenario compiled(const std::string& text) {
  std::string error;
  auto s = scenario::parse_scenario(text, "perturb", &error);
  EXPECT_TRUE(s) << error;
  auto c = replay::compile_scenario(*s, &error);
  EXPECT_TRUE(c) << error;
  return *c;
}

constexpr std::string_view kPlainFlow =
    "scenario plain\n"
    "world caller=unsandboxed,root\n"
    "rule tool allow signing_id=com.example.tool team_id=TOOLTEAM01\n"
    "file /usr/local/bin/tool developer-id signing_id=com.example.tool team_id=TOOLTEAM01\n"
    "file /tmp/evil unsigned\n"
    "spawn other /tmp/evil\n"
    "spawn tool /usr/local/bin/tool\n"
    "flow f1 tool\n"
    "resolve f1\n";

TEST(Perturb, ExitRaceInsertsAnExitOfTheFlowsExecutionBeforeALookup) {
  const auto c = compiled(std::string(kPlainFlow));
  auto p = replay::apply_fault_plan(c.events, c.header.caller, bit(Fault::kExitRace), 5);
  ASSERT_EQ(p.applied.size(), 1u);
  EXPECT_EQ(p.events.size(), c.events.size() + 1);
  // The exit lands after the flow and before its verdict.
  std::optional<std::size_t> flow_at, exit_at, verdict_at;
  for (std::size_t i = 0; i < p.events.size(); ++i) {
    if (std::holds_alternative<Flow>(p.events[i].body)) flow_at = i;
    if (std::holds_alternative<ProcessExit>(p.events[i].body)) exit_at = i;
    if (std::holds_alternative<Verdict>(p.events[i].body)) verdict_at = i;
  }
  ASSERT_TRUE(flow_at && exit_at && verdict_at);
  EXPECT_LT(*flow_at, *exit_at);
  EXPECT_LT(*exit_at, *verdict_at);
  // Same inputs, same output.
  auto again = replay::apply_fault_plan(c.events, c.header.caller, bit(Fault::kExitRace), 5);
  EXPECT_EQ(again.events, p.events);
}

TEST(Perturb, PerturbedEventsStillApplyToAWorldAndTheModelReplayJudgesThem) {
  const auto c = compiled(std::string(kPlainFlow));
  std::string error;
  auto rules = replay::rules_from_header(c.header, "perturb", &error);
  ASSERT_TRUE(rules) << error;
  bool pid_path_failed = false;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    auto p = replay::apply_fault_plan(c.events, c.header.caller, kResolverFaults, seed);
    replay::ModelOptions model;
    ASSERT_TRUE(replay::world_config_from_header(c.header, "perturb", &model.world, &error))
        << error;
    model.world.caller = p.caller;
    auto careful = make_resolver("token+recheck");
    auto careful_result =
        replay::replay_model_events("perturb", p.events, *careful, Filter(*rules), model);
    EXPECT_TRUE(careful_result.model_errors.empty()) << careful_result.model_errors.front();
    EXPECT_EQ(careful_result.violations(), 0u) << "seed " << seed;
    auto naive = make_resolver("pid-path");
    pid_path_failed = pid_path_failed || replay::replay_model_events("perturb", p.events, *naive,
                                                                     Filter(*rules), model)
                                                 .violations() > 0;
  }
  EXPECT_TRUE(pid_path_failed)
      << "pid reuse or exec on the flow's pid should fool pid-path for some seed";
}

}  // namespace
}  // namespace flowid::fuzz
