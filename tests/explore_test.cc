// flowid explore as a specification: a strategy that turns a token into a bare pid is caught with
// one interference; the reference strategy survives every schedule of up to one; the first
// violation has the fewest interferences; the same base gives the same counts every time.
#include <gtest/gtest.h>

#include "harness/explore/explore.h"
#include "harness/fuzz/property.h"

namespace flowid::explore {
namespace {

fuzz::StrategyUnderTest reference(const char* name) {
  auto s = fuzz::reference_strategy(name);
  EXPECT_TRUE(s.has_value()) << name;
  return *s;
}

TEST(Explore, BundledWorldsRunCleanWithoutInterference) {
  const auto worlds = small_worlds(false);
  ASSERT_GE(worlds.size(), 20u);
  ExploreOptions options;
  options.depth = 0;
  for (const auto& w : worlds) {
    const BaseReport r = explore_base(w, reference("token+recheck"), options);
    EXPECT_TRUE(r.error.empty()) << w.name << ": " << r.error;
    EXPECT_EQ(r.schedules, 1u) << w.name;
    EXPECT_FALSE(r.violation.has_value()) << w.name;
  }
}

TEST(Explore, PidPathIsCaughtWithOneInterference) {
  ExploreOptions options;
  options.depth = 2;
  const auto worlds = small_worlds(false);
  const BaseReport r = explore_base(worlds.front(), reference("pid-path"), options);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_EQ(r.violation->schedule.size(), 1u);  // breadth first: the fewest interferences.
  EXPECT_EQ(r.by_depth[2], 0u);                 // nothing deeper ran once it was found.
  // The counterexample is an ordinary scenario that fails again when run on its own.
  const fuzz::CaseVerdict again =
      fuzz::check_scenario(r.violation->tagged.scenario, reference("pid-path"));
  EXPECT_TRUE(again.failed());
}

TEST(Explore, TokenRecheckSurvivesEveryScheduleOfOneInterference) {
  ExploreOptions options;
  options.depth = 1;
  uint64_t schedules = 0;
  for (const auto& w : small_worlds(false)) {
    const BaseReport r = explore_base(w, reference("token+recheck"), options);
    EXPECT_FALSE(r.violation.has_value()) << w.name;
    EXPECT_TRUE(r.complete);
    EXPECT_GT(r.by_depth[1], 0u) << w.name;
    schedules += r.schedules;
  }
  EXPECT_GT(schedules, 1000u);
}

TEST(Explore, SameBaseSameCounts) {
  ExploreOptions options;
  options.depth = 2;
  const auto w = small_worlds(false)[4];
  const BaseReport a = explore_base(w, reference("token+recheck"), options);
  const BaseReport b = explore_base(w, reference("token+recheck"), options);
  EXPECT_EQ(a.schedules, b.schedules);
  EXPECT_EQ(a.states, b.states);
  EXPECT_EQ(a.by_depth, b.by_depth);
}

TEST(Explore, LauncherCheckThenSpawnIsCaught) {
  ExploreOptions options;
  options.depth = 1;
  const auto worlds = small_worlds(true);
  ASSERT_FALSE(worlds.empty());
  const BaseReport r = explore_base(worlds.front(), reference("check-path-then-spawn"), options);
  ASSERT_TRUE(r.violation.has_value());
  EXPECT_EQ(r.violation->schedule.size(), 1u);
}

TEST(Explore, ScheduleBudgetMarksTheBaseIncomplete) {
  ExploreOptions options;
  options.depth = 2;
  options.schedules_max = 10;
  const BaseReport r =
      explore_base(small_worlds(false).front(), reference("token+recheck"), options);
  EXPECT_FALSE(r.complete);
  EXPECT_LE(r.schedules, 10u);
}

}  // namespace
}  // namespace flowid::explore
