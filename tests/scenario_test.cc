// The hand-written fault scenarios (fixtures/scenarios) against every reference strategy: each
// scenario's `expect` lines are the evidence the issue asks for (e.g. pid-path is BYPASSED under
// F1 while token+recheck downgrades; check-path-then-spawn runs swapped code under F11 and the
// kernel launch requirement does not).
#include <gtest/gtest.h>

#include <set>

#include "harness/scenario.h"
#include "harness/strategies/catalog.h"
#include "replay/scenario_files.h"

namespace flowid::scenario {
namespace {

std::string fixtures() { return std::string(FLOWID_SOURCE_DIR) + "/fixtures/scenarios"; }

std::vector<Scenario> load_all() {
  std::vector<Scenario> all;
  for (const auto& file : replay::scenario_files(fixtures())) {
    std::string error;
    auto s = replay::load_scenario(file, &error);
    EXPECT_TRUE(s) << error;
    if (s) all.push_back(std::move(*s));
  }
  return all;
}

TEST(Scenarios, EveryFaultF1ToF11HasAScenario) {
  std::set<std::string> faults;
  for (const auto& s : load_all()) faults.insert(s.faults.begin(), s.faults.end());
  for (int f = 1; f <= 11; ++f)
    EXPECT_TRUE(faults.count("F" + std::to_string(f))) << "no scenario for F" << f;
}

TEST(Scenarios, EveryScenarioStatesAnExpectationForEveryStrategy) {
  for (const auto& s : load_all()) {
    std::set<std::string> expected;
    for (const auto& e : s.expectations) expected.insert(e.strategy);
    auto names = s.tests_launchers() ? launcher_names() : resolver_names();
    for (auto name : names)
      EXPECT_TRUE(expected.count(std::string(name))) << s.file << ": no expect line for " << name;
  }
}

TEST(Scenarios, ExpectationsHold) {
  for (const auto& s : load_all()) {
    for (const auto& e : s.expectations) {
      RunResult r;
      if (s.tests_launchers()) {
        auto launcher = make_launcher(e.strategy);
        ASSERT_TRUE(launcher) << s.file << ":" << e.line << ": unknown launcher " << e.strategy;
        r = run_launcher(s, *launcher);
      } else {
        auto resolver = make_resolver(e.strategy);
        ASSERT_TRUE(resolver) << s.file << ":" << e.line << ": unknown resolver " << e.strategy;
        r = run_resolver(s, *resolver);
      }
      ASSERT_TRUE(r.ok()) << r.error;
      std::string findings;
      for (const auto& flow : r.flows) {
        for (const auto& f : flow.check.findings) findings += "\n  " + describe(f);
      }
      for (const auto& launch : r.launches) {
        for (const auto& f : launch.check.findings) findings += "\n  " + describe(f);
      }
      EXPECT_EQ(name_of(r.cell), name_of(e.cell))
          << s.file << ":" << e.line << ": " << s.name << " x " << e.strategy << findings;
    }
  }
}

TEST(Scenarios, RunsAreDeterministic) {
  for (const auto& s : load_all()) {
    auto names = s.tests_launchers() ? launcher_names() : resolver_names();
    for (auto name : names) {
      auto run = [&] {
        if (s.tests_launchers()) {
          auto l = make_launcher(name);
          return run_launcher(s, *l);
        }
        auto r = make_resolver(name);
        return run_resolver(s, *r);
      };
      auto a = run();
      auto b = run();
      EXPECT_EQ(a.events, b.events) << s.name << " x " << name;
    }
  }
}

// The seed-003 claim, spelled out: under a swap between check and exec, the path check runs the
// swapped (unsigned) code and the kernel-checked requirement does not.
TEST(Scenarios, LaunchToctouRunsSwappedCodeOnlyForThePathCheck) {
  std::string error;
  auto s = replay::load_scenario(fixtures() + "/f11_launch_toctou.scenario", &error);
  ASSERT_TRUE(s) << error;
  auto naive = make_launcher("check-path-then-spawn");
  auto kernel = make_launcher("kernel-launch-requirement");
  auto a = run_launcher(*s, *naive);
  auto b = run_launcher(*s, *kernel);
  ASSERT_EQ(a.launches.size(), 1u);
  ASSERT_EQ(b.launches.size(), 1u);
  ASSERT_FALSE(a.launches[0].check.findings.empty());
  EXPECT_EQ(a.launches[0].check.findings[0].invariant, Invariant::kI5LauncherSafety);
  EXPECT_TRUE(b.launches[0].check.findings.empty());
}

// Parse errors name the file and line.
TEST(ScenarioParse, ErrorsNameFileAndLine) {
  struct Case {
    std::string text;
    std::string error;
  };
  std::vector<Case> cases = {
      {"scenario x\nbogus thing\n", "t.scenario:2: unknown statement 'bogus'"},
      {"scenario x\nspawn a\n", "t.scenario:2: 'spawn' takes 2 arguments"},
      {"scenario x\nflow f1 a colour=red\n", "t.scenario:2: 'flow' does not take 'colour'"},
      {"scenario x\nfault F12\n", "t.scenario:2: unknown fault 'F12' (F1 ... F11)"},
      {"scenario x\nexpect token great\n",
       "t.scenario:2: unknown cell 'great' (correct, downgraded, MISATTRIBUTED, BYPASSED, "
       "CRASHED)"},
      {"scenario x\nworld pid-policy=random\n",
       "t.scenario:2: unknown pid-policy 'random' (sequential, lowest-free, reuse-last)"},
      {"scenario x\nfile \"/a b\n", "t.scenario:2: unterminated \"quoted string\""},
      {"scenario x\n  before-call 1: exit a\n",
       "t.scenario:2: a race line must follow a 'resolve' or 'launch' line"},
      {"scenario x\nresolve f1\n  before-call 0: exit a\n",
       "t.scenario:3: bad call number '0:' (1, 2, ...)"},
      {"scenario x\nresolve f1\n  before-call 1: resolve f1\n",
       "t.scenario:3: 'resolve' cannot run inside a resolution"},
      {"spawn a /bin/a\n", "t.scenario:1: missing 'scenario NAME'"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(parse_scenario(c.text, "t.scenario", &error)) << c.text;
    EXPECT_EQ(error, c.error) << c.text;
  }
}

// Steps are typed: every value a step holds is checked when the text is parsed, so a bad one is
// an error naming the line before anything runs (not when the scenario reaches it).
TEST(ScenarioParse, BadStepValuesAreParseErrors) {
  struct Case {
    std::string line;
    std::string error;
  };
  std::vector<Case> cases = {
      {"flow f1 a port=70000", "bad port '70000'"},
      {"flow f1 a app-token=weird", "bad app-token 'weird' (absent, malformed, ok)"},
      {"flow f1 a udp=yes", "'udp' takes no value"},
      {"flow f1 a host", "'host' needs a value: host=..."},
      {"flow f1 a host=a host=b", "'host' is given twice"},
      {"spawn a /bin/a uid=-1", "bad uid '-1'"},
      {"exit a status=x", "bad status 'x'"},
      {"advance 5parsecs", "bad duration '5parsecs' (e.g. 5ms, 20us, 1s)"},
      {"delay no-such-call 5ms", "unknown call 'no-such-call'"},
      {"fail-next static-code many errno:35", "bad count 'many'"},
      {"fail-next static-code 1 errno35", "bad outcome 'errno35' (osstatus:N, errno:N or kern:N)"},
      {"file /a signed",
       "unknown signature kind 'signed' (unsigned, ad-hoc, developer-id, "
       "app-store, platform)"},
      {"file /a developer-id signing_id=x", "developer-id and app-store code needs team_id=..."},
      {"file /a platform", "signed code needs signing_id=..."},
      {"file /a unsigned content=v2", "bad content 'v2'"},
      {"launch /a", "launch needs requirement=\"...\""},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_FALSE(parse_scenario("scenario x\n" + c.line + "\n", "t.scenario", &error)) << c.line;
    EXPECT_EQ(error, "t.scenario:2: " + c.error) << c.line;
    // The same check inside a race.
    EXPECT_FALSE(parse_scenario("scenario x\nresolve f1\n  before-call 1: " + c.line + "\n",
                                "t.scenario", &error))
        << c.line;
  }
}

// A step's line and its typed value say the same thing: written and read back, every step of
// every fixture is the value it was, and its line is the line it was written as.
TEST(ScenarioParse, EveryStepRoundTripsThroughItsLine) {
  std::size_t steps = 0;
  for (const auto& s : load_all()) {
    for (const auto& step : s.steps) {
      std::vector<const Step*> all = {&step};
      for (const auto& race : step.races) all.push_back(&race.step);
      for (const Step* one : all) {
        const std::string line = format_step(*one);
        std::string error;
        auto back = parse_step(line, s.file, one->line, &error);
        ASSERT_TRUE(back) << error;
        EXPECT_TRUE(back->action == one->action) << line << " vs " << format_step(*back);
        EXPECT_EQ(format_step(*back), line);
        ++steps;
      }
    }
  }
  EXPECT_GT(steps, 100u);
}

TEST(ScenarioParse, StepsAreTypedValues) {
  std::string error;
  auto s = parse_scenario(
      "scenario x\nflow f1 a host=example.com port=443 udp process-token=malformed\n"
      "fail-next static-code 2 osstatus:-67034\nadvance 250us\n",
      "t.scenario", &error);
  ASSERT_TRUE(s) << error;
  const auto* flow = s->steps[0].as<step::OpenFlow>();
  ASSERT_NE(flow, nullptr);
  EXPECT_EQ(flow->host, "example.com");
  EXPECT_EQ(flow->port, 443);
  EXPECT_TRUE(flow->udp);
  EXPECT_EQ(flow->process_token, TokenShape::kMalformed);
  EXPECT_FALSE(flow->app_token);
  const auto* fail = s->steps[1].as<step::FailNext>();
  ASSERT_NE(fail, nullptr);
  EXPECT_EQ(fail->call, LookupCall::kStaticCode);
  EXPECT_EQ(fail->count, 2u);
  EXPECT_EQ(fail->outcome, (LookupOutcome{OutcomeDomain::kOsStatus, -67034}));
  EXPECT_EQ(s->steps[2].as<step::Advance>()->ns, 250'000u);
  EXPECT_EQ(s->steps[1].line, 3);
  // Lookup-fault markers carry the step's own line and apply it to a world.
  EXPECT_EQ(lookup_fault_marker(*fail), "flowid.fault fail-next static-code 2 osstatus:-67034");
  const WorldConfig config;
  World world(config);
  EXPECT_TRUE(apply_lookup_fault_marker(lookup_fault_marker(*fail), world, &error)) << error;
  EXPECT_FALSE(apply_lookup_fault_marker("flowid.fault advance 5ms", world, &error));
  EXPECT_FALSE(apply_lookup_fault_marker("flowid.fault delay static-code soon", world, &error));
}

TEST(ScenarioParse, InlineRuleErrorsPointAtTheRuleLine) {
  std::string error;
  EXPECT_FALSE(parse_scenario("scenario x\n\nrule r1 allow cdhash=xyz\n", "t.scenario", &error));
  EXPECT_EQ(error.rfind("t.scenario:3:", 0), 0u) << error;
}

TEST(ScenarioRun, WorldRefusalsNameTheLine) {
  std::string error;
  auto s = parse_scenario("scenario x\nspawn a /no/such/file\n", "t.scenario", &error);
  ASSERT_TRUE(s) << error;
  auto r = make_resolver("token");
  auto result = run_resolver(*s, *r);
  EXPECT_EQ(result.error.rfind("t.scenario:2: the world refused", 0), 0u) << result.error;
}

}  // namespace
}  // namespace flowid::scenario
