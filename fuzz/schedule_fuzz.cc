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
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace flowid;
  using namespace flowid::fuzz;
  if (size == 0) return 0;
  // The first byte picks resolver or launcher cases and swarm mode; the rest drive the generator.
  const bool launchers = (data[0] & 1) != 0;
  GeneratorOptions options;
  options.launchers = launchers;
  options.swarm = (data[0] & 2) == 0;
  Choices choices(data + 1, size - 1);
  GeneratedCase c = generate_case(options, choices, "libfuzzer");
  const auto names = launchers ? launcher_names() : resolver_names();
  for (auto name : names) {
    auto strategy = reference_strategy(name);
    if (!strategy) std::abort();
    CaseVerdict v = check_scenario(c.scenario, *strategy);
    if (!v.ran()) fail(c, name, "generated schedule does not run: " + v.error);
    if (v.cell == Cell::kCrashed || (v.violated & invariant_bit(Invariant::kI7Totality)) != 0) {
      fail(c, name, "not total: " + v.first_violation);
    }
    const bool must_be_safe = name == "token+recheck" || name == "token" ||
                              name == "kernel-launch-requirement" || name == "copy-check-run" ||
                              name == "spawn-suspended-check-resume";
    if (must_be_safe && v.failed()) fail(c, name, "violation: " + v.first_violation);
  }
  return 0;
}
