// The rapidcheck stateful model (proptest/rc_model.h): schedules built command by command,
// shrunk by rapidcheck, checked by the oracle.
#include "proptest/rc_model.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <nlohmann/json.hpp>

#include <filesystem>

#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"
#include "tests/cli_runner.h"

namespace flowid::proptest {
namespace {

RcOptions options_for(std::string_view strategy, fuzz::FaultSet faults, uint64_t seed, int cases) {
  RcOptions options;
  auto found = fuzz::reference_strategy(strategy);
  EXPECT_TRUE(found.has_value()) << strategy;
  if (found) options.strategy = *found;
  options.faults = faults;
  options.seed = seed;
  options.cases = cases;
  return options;
}

std::string describe(const RcResult& result) {
  return result.error + "\n" + result.rapidcheck_message + "\n" +
         scenario::format_scenario(result.counterexample.shrink.shrunk.scenario);
}

// The model only writes schedules the runner accepts, for every fault alone: a refused schedule
// would be reported as an error, not as a pass.
TEST(RcModel, EveryFaultAloneGivesValidSchedules) {
  for (int i = 0; i < 10; ++i) {
    const fuzz::Fault fault = fuzz::fault_at(i);
    SCOPED_TRACE(std::string(fuzz::fault_id(fault)));
    RcResult result =
        check_with_rapidcheck(options_for("token+recheck", fuzz::bit(fault), 11 + i, 150));
    EXPECT_TRUE(result.error.empty()) << describe(result);
    EXPECT_FALSE(result.failed) << describe(result);
    EXPECT_EQ(result.cases_passed, 150);
  }
}

TEST(RcModel, TokenRecheckHoldsOverEveryResolverFault) {
  RcResult result =
      check_with_rapidcheck(options_for("token+recheck", fuzz::kResolverFaults, 2026, 1500));
  EXPECT_TRUE(result.error.empty()) << describe(result);
  EXPECT_FALSE(result.failed) << describe(result);
  EXPECT_EQ(result.cases_passed, 1500);
}

// pid-path keys its claims on a bare pid and a path: with only pid reuse enabled, the model
// still finds it wrong, and the shrunk schedule is small and reproduces from its saved text.
TEST(RcModel, PidPathFailsWithASmallCounterexampleThatReproduces) {
  RcResult result =
      check_with_rapidcheck(options_for("pid-path", fuzz::bit(fuzz::Fault::kPidReuse), 1, 2000));
  ASSERT_TRUE(result.error.empty()) << describe(result);
  ASSERT_TRUE(result.failed) << describe(result);
  const auto& shrunk = result.counterexample.shrink;
  EXPECT_TRUE(shrunk.verdict.failed());
  EXPECT_LE(shrunk.shrunk_size, 10u) << describe(result);
  EXPECT_LE(shrunk.shrunk_size, shrunk.original_size);
  EXPECT_LE(shrunk.original_size, result.generated_size);
  EXPECT_GT(result.shrinks_accepted, 0u);
  EXPECT_NE(shrunk.shrunk.scenario.description.find(result.counterexample.reproduce),
            std::string::npos);
  EXPECT_NE(result.counterexample.reproduce.find("--engine rapidcheck"), std::string::npos);
  EXPECT_NE(result.rapidcheck_message.find("Falsifiable"), std::string::npos)
      << result.rapidcheck_message;

  std::string error;
  auto reparsed = scenario::parse_scenario(
      scenario::format_scenario(result.counterexample.shrink.shrunk.scenario),
      "counterexample.scenario", &error);
  ASSERT_TRUE(reparsed) << error;
  auto strategy = fuzz::reference_strategy("pid-path");
  fuzz::CaseVerdict again = fuzz::check_scenario(*reparsed, *strategy);
  EXPECT_EQ(again.violated, shrunk.verdict.violated);
  EXPECT_EQ(again.digest, shrunk.verdict.digest);
}

// LuLu's model fails open under pid reuse (kill(pid, 0) finds the newcomer): the counterexample
// needs the reuse, and rapidcheck plus flowid's shrinker bring it down to a handful of steps.
TEST(RcModel, LuluModelIsCaughtByPidReuse) {
  RcResult result =
      check_with_rapidcheck(options_for("lulu-model", fuzz::bit(fuzz::Fault::kPidReuse), 3, 3000));
  ASSERT_TRUE(result.error.empty()) << describe(result);
  ASSERT_TRUE(result.failed) << describe(result);
  // Credited: taking the reuse out of the shrunk schedule makes the failure go away.
  EXPECT_TRUE(fuzz::contains(result.counterexample.credited, fuzz::Fault::kPidReuse))
      << describe(result);
  EXPECT_LE(result.counterexample.shrink.shrunk_size, 10u) << describe(result);
}

TEST(RcModel, LuluAndOpenSnitchModelsFailToo) {
  for (std::string_view name : {"lulu-model", "opensnitch-model"}) {
    SCOPED_TRACE(std::string(name));
    RcResult result = check_with_rapidcheck(options_for(name, fuzz::kResolverFaults, 5, 3000));
    ASSERT_TRUE(result.error.empty()) << describe(result);
    EXPECT_TRUE(result.failed) << describe(result);
    EXPECT_LE(result.counterexample.shrink.shrunk_size, 10u) << describe(result);
  }
}

TEST(RcModel, TheSeedDecidesEverything) {
  auto options = options_for("pid-path", fuzz::kResolverFaults, 99, 2000);
  RcResult first = check_with_rapidcheck(options);
  RcResult second = check_with_rapidcheck(options);
  ASSERT_TRUE(first.failed) << describe(first);
  EXPECT_EQ(first.cases_passed, second.cases_passed);
  EXPECT_EQ(scenario::format_scenario(first.counterexample.shrink.shrunk.scenario),
            scenario::format_scenario(second.counterexample.shrink.shrunk.scenario));
  EXPECT_EQ(first.counterexample.shrink.verdict.digest,
            second.counterexample.shrink.verdict.digest);
}

TEST(RcModel, LaunchersAndEmptyFaultListsAreClearErrors) {
  RcResult launcher =
      check_with_rapidcheck(options_for("kernel-launch-requirement", fuzz::kAllFaults, 1, 10));
  EXPECT_NE(launcher.error.find("launcher"), std::string::npos) << launcher.error;
  RcResult none =
      check_with_rapidcheck(options_for("pid-path", fuzz::bit(fuzz::Fault::kLaunchToctou), 1, 10));
  EXPECT_NE(none.error.find("no resolver fault"), std::string::npos) << none.error;
}

// The JSON report without its wall times (seconds, cases_per_second, seconds_to_find: the only
// fields that may differ run to run), re-serialised.
std::string without_timing(const std::string& json) {
  auto value = nlohmann::json::parse(json, nullptr, false);
  if (value.is_discarded()) return json;
  value.erase("seconds");
  value.erase("cases_per_second");
  for (auto& f : value["findings"]) f.erase("seconds_to_find");
  if (value["baseline"].is_object()) value["baseline"].erase("seconds_to_find");
  return value.dump();
}

// The engine as a user runs it: the counterexample is saved, and its trace reproduces the
// violation in model replay.
TEST(RcModelCli, FindsSavesAndTheTraceReplaysTheViolation) {
  testing::TempDir dir;
  auto result = testing::run_flowid({"fuzz", "--engine", "rapidcheck", "--strategy", "lulu-model",
                                     "--faults", "F1", "--seed", "3", "--budget", "3000cases",
                                     "--out", dir.path().string(), "--json"});
  ASSERT_EQ(result.exit_code, 1) << result.out << result.err;
  simdjson::dom::parser parser;
  auto doc = parser.parse(result.out);
  ASSERT_EQ(doc.error(), simdjson::SUCCESS) << result.out;
  EXPECT_EQ(std::string_view(doc["engine"].get_string().value()), "rapidcheck");
  EXPECT_EQ(doc["failing_cases"].get_uint64().value(), 1u);
  // One finding, credited to the fault (F1), with the default engine's keys.
  simdjson::dom::element finding = doc["findings"].at(0);
  ASSERT_TRUE(doc["findings"].get_array().size() == 1) << result.out;
  EXPECT_TRUE(finding["fault"].is_null());
  EXPECT_EQ(std::string_view(finding["credited_faults"].at(0).get_string().value()), "F1");
  EXPECT_LE(finding["shrunk_steps"].get_uint64().value(), 10u);
  EXPECT_EQ(std::string_view(finding["invariants"].at(0).get_string().value()), "I1");
  const std::string trace(finding["trace"].get_string().value());
  const std::string saved(finding["scenario"].get_string().value());
  ASSERT_TRUE(std::filesystem::exists(trace)) << trace;
  ASSERT_TRUE(std::filesystem::exists(saved)) << saved;
  auto replayed =
      testing::run_flowid({"replay", "--mode", "model", "--resolver", "lulu-model", trace});
  EXPECT_EQ(replayed.exit_code, 1) << replayed.out << replayed.err;
  EXPECT_NE(replayed.out.find("I1 violation"), std::string::npos) << replayed.out;
  // The reproduce command it printed gives the same counterexample.
  auto again = testing::run_flowid({"fuzz", "--engine", "rapidcheck", "--strategy", "lulu-model",
                                    "--faults", "F1", "--seed", "3", "--budget", "3000cases",
                                    "--out", dir.path().string(), "--json"});
  EXPECT_EQ(without_timing(again.out), without_timing(result.out));
}

TEST(RcModelCli, TimeBudgetsAndParallelRunsAreUsageErrors) {
  auto timed = testing::run_flowid({"fuzz", "--engine", "rapidcheck", "--budget", "10s"});
  EXPECT_EQ(timed.exit_code, 2);
  EXPECT_NE(timed.err.find("case budget"), std::string::npos) << timed.err;
  auto parallel =
      testing::run_flowid({"fuzz", "--engine", "rapidcheck", "--jobs", "2", "--budget", "10cases"});
  EXPECT_EQ(parallel.exit_code, 2);
  auto unknown = testing::run_flowid({"fuzz", "--engine", "quickcheck"});
  EXPECT_EQ(unknown.exit_code, 2);
}

}  // namespace
}  // namespace flowid::proptest
