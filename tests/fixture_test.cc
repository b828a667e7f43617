// Fixtures end to end: scenario text <-> Scenario, scenario -> compiled trace -> faithful and model
// replay, and the replay CLI (JSON, JUnit, shards, goldens, determinism, off-script calls).
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness/scenario.h"
#include "harness/strategies/catalog.h"
#include "replay/fixture.h"
#include "replay/replay.h"
#include "replay/scenario_files.h"
#include "replay/world_config.h"
#include "tests/cli_runner.h"

namespace flowid::replay {
namespace {

using flowid::testing::run_flowid;
using flowid::testing::TempDir;

std::string scenarios_dir() { return std::string(FLOWID_SOURCE_DIR) + "/fixtures/scenarios"; }

// The bundled fixture scenarios. A test that loops over them must not pass by finding none: an
// empty or moved folder fails here.
std::vector<std::string> fixture_scenarios() {
  std::vector<std::string> files = scenario_files(scenarios_dir());
  EXPECT_FALSE(files.empty()) << "no fixture scenarios in " << scenarios_dir();
  return files;
}

// F8 steps (fail-next, delay) change how lookups answer, not the world: a trace keeps their
// effect only in the recorded lookups, which model mode does not consult (the sim answers).
bool has_lookup_faults(const scenario::Scenario& s) {
  for (const auto& step : s.steps) {
    if (step.kind() == scenario::StepKind::kFailNext || step.kind() == scenario::StepKind::kDelay)
      return true;
  }
  return false;
}

void expect_same_steps(const std::vector<scenario::Step>& a, const std::vector<scenario::Step>& b,
                       const std::string& where) {
  ASSERT_EQ(a.size(), b.size()) << where;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].kind(), b[i].kind()) << where << " step " << i;
    EXPECT_TRUE(a[i].action == b[i].action)
        << where << " step " << i << ": " << scenario::format_step(a[i]) << " vs "
        << scenario::format_step(b[i]);
    ASSERT_EQ(a[i].races.size(), b[i].races.size()) << where << " step " << i;
    for (std::size_t r = 0; r < a[i].races.size(); ++r) {
      EXPECT_EQ(a[i].races[r].before_call, b[i].races[r].before_call);
      expect_same_steps({a[i].races[r].step}, {b[i].races[r].step}, where + " race");
    }
  }
}

TEST(ScenarioFormat, EveryFixtureRoundTrips) {
  for (const auto& file : fixture_scenarios()) {
    std::string error;
    auto s = load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    std::string text = scenario::format_scenario(*s);
    auto back = scenario::parse_scenario(text, "formatted", &error);
    ASSERT_TRUE(back) << error << "\n" << text;
    EXPECT_EQ(back->name, s->name);
    EXPECT_EQ(back->description, s->description) << text;
    EXPECT_EQ(back->faults, s->faults);
    EXPECT_EQ(back->record_with, s->record_with);
    EXPECT_EQ(back->world.pid_policy, s->world.pid_policy);
    EXPECT_EQ(back->world.caller, s->world.caller);
    EXPECT_EQ(back->world.eperm_path_prefixes, s->world.eperm_path_prefixes);
    EXPECT_EQ(back->rules.policy, s->rules.policy);
    ASSERT_EQ(back->rules.rules.size(), s->rules.rules.size());
    for (std::size_t i = 0; i < s->rules.rules.size(); ++i) {
      Rule a = s->rules.rules[i];
      Rule b = back->rules.rules[i];
      a.line = b.line = 0;
      EXPECT_EQ(a, b) << file;
    }
    expect_same_steps(s->steps, back->steps, file);
    ASSERT_EQ(back->expectations.size(), s->expectations.size());
    // And it runs the same: same events for the recording strategy.
    auto r1 = make_resolver("token+recheck");
    auto r2 = make_resolver("token+recheck");
    if (!s->tests_launchers()) {
      EXPECT_EQ(scenario::run_resolver(*s, *r1).events, scenario::run_resolver(*back, *r2).events)
          << file;
    }
  }
}

// A compiled fixture carries every reference resolver's lookups: each of them replays it
// faithfully without an off-script call and reproduces its own scenario-run verdicts.
TEST(CompiledFixtures, EveryResolverReplaysFaithfullyLikeItsScenarioRun) {
  std::size_t checked = 0;
  for (const auto& file : fixture_scenarios()) {
    std::string error;
    auto s = load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers()) continue;
    ++checked;
    auto compiled = compile_scenario(*s, &error);
    ASSERT_TRUE(compiled) << error;
    std::string bytes = trace::write_to_bytes(compiled->header, compiled->events);
    for (auto name : resolver_names()) {
      auto direct = make_resolver(name);
      auto run = scenario::run_resolver(*s, *direct);
      std::vector<Verdict> expected;
      for (const auto& flow : run.flows) expected.push_back(flow.check.verdict);

      auto reader = trace::memory_reader(bytes);
      auto resolver = make_resolver(name);
      Filter filter(s->rules);
      FaithfulOptions options;
      options.golden = &expected;
      auto result = replay_faithful(file, *reader, *resolver, filter, options);
      EXPECT_TRUE(result.off_script.empty())
          << file << " x " << name << ": "
          << (result.off_script.empty() ? "" : describe(result.off_script[0]));
      for (const auto& d : result.differences)
        ADD_FAILURE() << file << " x " << name << ": flow " << d.flow_id << ": " << d.what;
    }
  }
  // The filters above must leave some fixture to check.
  EXPECT_GT(checked, 0u);
}

// Model replay rebuilds the world from the compiled trace and reconstructs the races from the
// interleaving: with the recording strategy it must give exactly the scenario run's verdicts and
// findings (for scenarios without lookup-level faults, which model mode does not replay).
TEST(CompiledFixtures, ModelReplayOfTheRecordingStrategyMatchesTheScenarioRun) {
  std::size_t checked = 0;
  for (const auto& file : fixture_scenarios()) {
    std::string error;
    auto s = load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers() || has_lookup_faults(*s)) continue;
    ++checked;
    auto compiled = compile_scenario(*s, &error);
    ASSERT_TRUE(compiled) << error;
    auto direct = make_resolver(s->record_with);
    auto run = scenario::run_resolver(*s, *direct);
    std::vector<Verdict> expected;
    std::size_t violations = 0;
    for (const auto& flow : run.flows) {
      expected.push_back(flow.check.verdict);
      for (const auto& f : flow.check.findings) violations += f.severity == Severity::kViolation;
    }
    ModelOptions options;
    ASSERT_TRUE(world_config_from_header(compiled->header, file, &options.world, &error)) << error;
    options.golden = &expected;
    auto resolver = make_resolver(s->record_with);
    Filter filter(s->rules);
    auto result = replay_model_events(file, compiled->events, *resolver, filter, options);
    for (const auto& d : result.differences)
      ADD_FAILURE() << file << ": flow " << d.flow_id << ": " << d.what;
    for (const auto& e : result.model_errors) ADD_FAILURE() << file << ": " << e;
    EXPECT_EQ(result.violations(), violations) << file;
  }
  // The filters above must leave some fixture to check.
  EXPECT_GT(checked, 0u);
}

// The other strategies in model mode reach the same cells as their scenario runs whenever the
// scenario has no races (with races, a trace only knows where the recording strategy's calls
// fell).
TEST(CompiledFixtures, ModelReplayFindsTheSameViolationsForRaceFreeScenarios) {
  std::size_t checked = 0;
  for (const auto& file : fixture_scenarios()) {
    std::string error;
    auto s = load_scenario(file, &error);
    ASSERT_TRUE(s) << error;
    if (s->tests_launchers() || has_lookup_faults(*s)) continue;
    bool races = false;
    for (const auto& step : s->steps) races = races || !step.races.empty();
    if (races) continue;
    ++checked;
    auto compiled = compile_scenario(*s, &error);
    ASSERT_TRUE(compiled) << error;
    for (auto name : resolver_names()) {
      auto direct = make_resolver(name);
      auto run = scenario::run_resolver(*s, *direct);
      std::size_t violations = 0;
      for (const auto& flow : run.flows) {
        for (const auto& f : flow.check.findings) violations += f.severity == Severity::kViolation;
      }
      ModelOptions options;
      ASSERT_TRUE(world_config_from_header(compiled->header, file, &options.world, &error));
      auto resolver = make_resolver(name);
      Filter filter(s->rules);
      auto result = replay_model_events(file, compiled->events, *resolver, filter, options);
      EXPECT_EQ(result.violations(), violations) << file << " x " << name;
      EXPECT_TRUE(result.model_errors.empty()) << file;
    }
  }
  // The filters above must leave some fixture to check.
  EXPECT_GT(checked, 0u);
}

class ReplayCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = run_flowid({"fixture", "build", "-o", dir_.path().string(),
                         scenarios_dir() + "/f01_pid_reuse.scenario",
                         scenarios_dir() + "/f03_sandbox_eperm.scenario",
                         scenarios_dir() + "/f11_launch_toctou.scenario"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    f01_ = dir_.file("f01_pid_reuse.trace");
    f03_ = dir_.file("f03_sandbox_eperm.trace");
  }
  TempDir dir_;
  std::string f01_;
  std::string f03_;
};

TEST_F(ReplayCli, FaithfulReplayWithTheRecordingStrategyPasses) {
  auto r = run_flowid({"replay", "--resolver", "token+recheck", f01_, f03_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("2 cases: 2 passed, 0 failed"), std::string::npos) << r.out;
}

TEST_F(ReplayCli, AnotherStrategyDiffersFromTheRecordedVerdicts) {
  // The traces recorded token+recheck's verdicts; pid-path decides differently on F1.
  auto r = run_flowid({"replay", "--resolver", "pid-path", f01_});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("flow 1: decision drop -> allow"), std::string::npos) << r.out;
}

TEST_F(ReplayCli, ModelModeReportsTheOracleFindings) {
  auto ok = run_flowid({"replay", "--mode", "model", "--resolver", "token+recheck", f01_});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto bad = run_flowid({"replay", "--mode", "model", "--resolver", "pid-path", f01_});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("I4"), std::string::npos) << bad.out;
}

TEST_F(ReplayCli, PerturbedModeInjectsFaultsAndTheOracleJudges) {
  auto bad = run_flowid({"replay", "--mode", "perturbed", "--inject", "pid-reuse", "--seed", "3",
                         "--resolver", "pid-path", f03_});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("injected: flow 1: F1"), std::string::npos) << bad.out;
  auto good = run_flowid({"replay", "--mode", "perturbed", "--inject",
                          "pid-reuse,exit-race,exec-after-flow", "--seed", "3", "--resolver",
                          "token+recheck", f01_, f03_});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  // The same seed places the faults the same way.
  auto again = run_flowid({"replay", "--mode", "perturbed", "--inject", "pid-reuse", "--seed", "3",
                           "--resolver", "pid-path", f03_});
  EXPECT_EQ(again.out, bad.out);
  EXPECT_EQ(run_flowid({"replay", "--mode", "perturbed", "--inject", "gremlins", f01_}).exit_code,
            2);
  EXPECT_EQ(run_flowid({"replay", "--mode", "perturbed", f01_}).exit_code, 2);
  EXPECT_EQ(run_flowid({"replay", "--inject", "F1", f01_}).exit_code, 2);
}

TEST_F(ReplayCli, JsonAndJunit) {
  auto junit = dir_.file("report.xml");
  auto r = run_flowid({"replay", "--json", "--junit", junit, "--resolver", "pid-path", f01_, f03_});
  EXPECT_EQ(r.exit_code, 1);
  simdjson::dom::parser parser;
  auto doc = parser.parse(r.out);
  ASSERT_EQ(doc.error(), simdjson::SUCCESS) << r.out;
  EXPECT_EQ(uint64_t(doc["failed"]), 2u);
  EXPECT_EQ(simdjson::dom::array(doc["cases"]).size(), 2u);
  std::ifstream in(junit);
  std::stringstream xml;
  xml << in.rdbuf();
  EXPECT_NE(xml.str().find("<testsuites tests=\"2\" failures=\"2\""), std::string::npos)
      << xml.str();
  EXPECT_NE(xml.str().find("<failure"), std::string::npos);
}

TEST_F(ReplayCli, ShardsSplitTheTracesBetweenThem) {
  auto a = run_flowid({"replay", "--shard", "0/2", f01_, f03_});
  auto b = run_flowid({"replay", "--shard", "1/2", f01_, f03_});
  EXPECT_NE(a.out.find("1 case: 1 passed"), std::string::npos) << a.out;
  EXPECT_NE(b.out.find("1 case: 1 passed"), std::string::npos) << b.out;
  EXPECT_NE(a.out.find("f01_pid_reuse"), std::string::npos);
  EXPECT_NE(b.out.find("f03_sandbox_eperm"), std::string::npos);
  EXPECT_EQ(run_flowid({"replay", "--shard", "2/2", f01_}).exit_code, 2);
  EXPECT_EQ(run_flowid({"replay", "--shard", "x", f01_}).exit_code, 2);
}

TEST_F(ReplayCli, GoldenFilesUpdateAndCheck) {
  auto golden = dir_.file("f01.golden");
  auto update =
      run_flowid({"replay", "--resolver", "pid-path", "--golden", golden, "--update-golden", f01_});
  EXPECT_EQ(update.exit_code, 0) << update.err;
  EXPECT_NE(update.out.find("created"), std::string::npos) << update.out;
  auto check = run_flowid({"replay", "--resolver", "pid-path", "--golden", golden, f01_});
  EXPECT_EQ(check.exit_code, 0) << check.out;
  auto other = run_flowid({"replay", "--resolver", "token", "--golden", golden, f01_});
  EXPECT_EQ(other.exit_code, 1) << other.out;
  // A damaged golden file is an input error naming the file and line.
  std::ofstream(golden) << "flow 1: permit verified [verified] identity=none\n";
  auto broken = run_flowid({"replay", "--golden", golden, f01_});
  EXPECT_EQ(broken.exit_code, 3);
  EXPECT_NE(broken.out.find(golden + ":1: unknown decision 'permit'"), std::string::npos)
      << broken.out;
}

TEST_F(ReplayCli, DeterminismCheckPasses) {
  auto r = run_flowid({"replay", "--check-determinism", "--mode", "model", f01_, f03_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST_F(ReplayCli, UnknownResolverAndModeAreUsageErrors) {
  EXPECT_EQ(run_flowid({"replay", "--resolver", "magic", f01_}).exit_code, 2);
  EXPECT_EQ(run_flowid({"replay", "--mode", "dream", f01_}).exit_code, 2);
}

TEST_F(ReplayCli, MissingTraceIsAnInputError) {
  auto r = run_flowid({"replay", dir_.file("none.trace")});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.out.find("none.trace"), std::string::npos) << r.out;
}

TEST_F(ReplayCli, DiffShowsTheFirstDifference) {
  auto same = run_flowid({"diff", f01_, f01_});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("identical"), std::string::npos);
  auto other = run_flowid({"diff", f01_, f03_});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.out.find("first difference at event 0"), std::string::npos) << other.out;
  EXPECT_NE(other.out.find("resolver_config scenario"), std::string::npos) << other.out;
  auto json = run_flowid({"diff", "--json", f01_, f03_});
  simdjson::dom::parser parser;
  auto doc = parser.parse(json.out);
  ASSERT_EQ(doc.error(), simdjson::SUCCESS) << json.out;
  EXPECT_FALSE(bool(doc["identical"]));
  EXPECT_EQ(uint64_t(doc["index"]), 0u);

  std::string golden = std::string(FLOWID_SOURCE_DIR) + "/fixtures/golden/";
  auto verdicts = run_flowid(
      {"diff", golden + "f01_pid_reuse.pid-path.golden", golden + "f01_pid_reuse.token.golden"});
  EXPECT_EQ(verdicts.exit_code, 1);
  EXPECT_NE(verdicts.out.find("decision allow -> drop"), std::string::npos) << verdicts.out;
  EXPECT_EQ(run_flowid({"diff", f01_, golden + "f01_pid_reuse.token.golden"}).exit_code, 2);
}

// Field traces are imported and then replayed in model mode (issue: "Imported traces replay with
// flowid replay --mode model"). Skips when ../shared/fielddata is not there.
TEST(ImportedFieldTraces, ReplayInModelMode) {
  const std::string field = FLOWID_FIELDDATA_DIR;
  if (!std::filesystem::exists(field))
    GTEST_SKIP() << field << " is absent (field captures are not in the repo)";
  // What each capture must give in model mode: events (all of them), and flows where the capture
  // has any (eslogger records processes only, so its check is the events and the absence of
  // errors).
  struct Input {
    std::string file;
    bool has_flows;
  };
  std::vector<Input> inputs = {
      {field + "/eslogger/mullvad_eslogger_v9_v10_v11.jsonl", false},
      {field + "/nefilterflow/heyapple_log_stream_2022-12-24.txt", true},
      {field + "/tetragon/00_four_golden_signals/process_connect.json", true},
      {field + "/auditd/laurel/record-connect.txt", true},
  };
  TempDir dir;
  for (const auto& input : inputs) {
    // The folder is there, so every capture listed must be: a missing one is a failure, not a
    // silent pass.
    ASSERT_TRUE(std::filesystem::exists(input.file)) << input.file << " is missing from " << field;
    auto trace_path = dir.file("imported.trace");
    auto imported = run_flowid({"import", "--lenient", input.file, "-o", trace_path});
    ASSERT_EQ(imported.exit_code, 0) << input.file << "\n" << imported.err;
    for (auto resolver : {"token", "token+pid-fallback", "pid-path"}) {
      auto r =
          run_flowid({"replay", "--json", "--mode", "model", "--resolver", resolver, trace_path});
      simdjson::dom::parser parser;
      auto doc = parser.parse(r.out);
      ASSERT_EQ(doc.error(), simdjson::SUCCESS) << input.file << ": " << r.out << r.err;
      auto c = simdjson::dom::array(doc["cases"]).at(0);
      EXPECT_GT(uint64_t(c["events"]), 0u) << input.file << " x " << resolver;
      if (input.has_flows) {
        EXPECT_GT(uint64_t(c["flows"]), 0u) << input.file << " x " << resolver;
      }
      EXPECT_EQ(simdjson::dom::array(c["errors"]).size(), 0u) << input.file << ": " << r.out;
    }
  }
}

TEST(Suite, BundledSuitePassesAgainstTheGoldens) {
  auto r = run_flowid({"suite"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("| fixture |"), std::string::npos);
  EXPECT_NE(r.out.find("0 failed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace flowid::replay
