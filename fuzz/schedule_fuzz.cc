// libFuzzer target: the resolver (or launcher) under a schedule decoded from the input bytes
// (issue 5). The bytes drive the same generator `flowid fuzz` uses (harness/fuzz/generator.h:
// every choice reads the next bytes; an exhausted input reads zeros, the simplest choice), so
// coverage guidance explores schedules, fault plans and races. Crash conditions:
//   - a strategy that is meant to be safe violates an invariant (token+recheck and token for
//     resolvers; the kernel launch requirement, the private copy and the suspended spawn for
//     launchers): the oracle is the crash condition;
//   - any reference strategy is not total (I7, CRASHED), or a generated schedule does not run
//     (a generator bug).
// The scenario text is printed before aborting, so a crash is reviewable and can be saved as a
// corpus entry.
//
// One strategy per execution, picked by the first byte: running every reference strategy on each
// schedule made an execution six runs long and gave libFuzzer six strategies' coverage to account
// for on every input (its per-feature bookkeeping was 40% of the time), at ~200 exec/s under the
// sanitizers. The byte is an input like the others, so coverage guidance explores the strategies
// too, and a crash input names the one strategy it broke.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "harness/fuzz/fuzz_input.h"
#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"
#include "harness/strategies/catalog.h"

namespace {

[[noreturn]] void fail(const flowid::fuzz::GeneratedCase& c, std::string_view strategy,
                       const std::string& what) {
  const std::string text = flowid::scenario::format_scenario(c.scenario);
  std::fprintf(stderr, "schedule_fuzz: %.*s: %s\n%s\n", static_cast<int>(strategy.size()),
               strategy.data(), what.c_str(), text.c_str());
  std::abort();
}

std::vector<flowid::fuzz::StrategyUnderTest> strategies(
    const std::vector<std::string_view>& names) {
  std::vector<flowid::fuzz::StrategyUnderTest> out;
  for (auto name : names) {
    auto strategy = flowid::fuzz::reference_strategy(name);
    if (!strategy) std::abort();
    out.push_back(std::move(*strategy));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flowid;
  using namespace flowid::fuzz;
  if (size == 0) return 0;
  // The input's layout (byte 0: kind, swarm, strategy; the rest: the generator) is
  // harness/fuzz/fuzz_input.h's, so `flowid fuzz --decode-input CRASH` makes the same case.
  const DecodedInput input = decode_fuzz_input(std::span(data, size), std::nullopt);
  static const std::vector<std::string_view> kResolverNames = resolver_names();
  static const std::vector<std::string_view> kLauncherNames = launcher_names();
  static const std::vector<StrategyUnderTest> kResolvers = strategies(kResolverNames);
  static const std::vector<StrategyUnderTest> kLaunchers = strategies(kLauncherNames);
  const auto& names = input.launchers ? kLauncherNames : kResolverNames;
  const std::size_t pick = input.strategy_pick % names.size();
  const std::string_view name = names[pick];
  const StrategyUnderTest& strategy = (input.launchers ? kLaunchers : kResolvers)[pick];
  const GeneratedCase& c = input.generated;
  CaseVerdict v = check_scenario(c.scenario, strategy);
  if (!v.ran()) fail(c, name, "generated schedule does not run: " + v.error);
  if (v.cell == Cell::kCrashed || (v.violated & invariant_bit(Invariant::kI7Totality)) != 0) {
    fail(c, name, "not total: " + v.first_violation);
  }
  const bool must_be_safe = name == "token+recheck" || name == "token" ||
                            name == "kernel-launch-requirement" || name == "copy-check-run" ||
                            name == "spawn-suspended-check-resume";
  if (must_be_safe && v.failed()) fail(c, name, "violation: " + v.first_violation);
  return 0;
}
