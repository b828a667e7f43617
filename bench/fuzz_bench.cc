// Benchmark for property-based fault injection (issue 5). Figures, each printed in a human table
// and as one JSON line {"bench": NAME, "value": V, "unit": U}:
//   - time to find: for pid-path, lulu-model and opensnitch-model and each resolver fault F1-F10
//     alone, over --seeds seeds (default 20): in how many seeds a violation credited to the fault
//     was found within --cases-max cases, the median time and cases to find it (shrinking of
//     earlier, uncredited failures included), and the median and largest shrunk size (steps);
//   - token+recheck: violations over --cases cases (default 1,000,000) with every fault in swarm
//     mode, and the cases/s of that run;
//   - throughput: generated cases checked per second on one core, per resolver strategy.
// The trace-reader libFuzzer target's exec/s comes from scripts/fuzz-smoke.sh (it needs the clang
// fuzzing build); docs/fuzzing.md records the numbers and the commands.
//
//   build/bench/fuzz_bench                      everything (the 1,000,000 cases take a minute)
//   build/bench/fuzz_bench --cases 100000 --seeds 5
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness/fuzz/campaign.h"
#include "harness/strategies/catalog.h"

namespace {

using namespace flowid;
using namespace flowid::fuzz;
using Clock = std::chrono::steady_clock;

constexpr uint32_t kUncreditedShrinksMax = 16;  // as in `flowid fuzz`.

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void json(const std::string& name, double value, const char* unit) {
  fmt::print("{{\"bench\": \"{}\", \"value\": {:.6g}, \"unit\": \"{}\"}}\n", name, value, unit);
}

struct Find {
  bool found = false;
  double seconds = 0;
  uint64_t cases = 0;
  std::size_t shrunk_size = 0;
};

// One single-fault campaign on one thread, as `flowid fuzz --faults FN --no-swarm` runs it.
Find time_to_find(const StrategyUnderTest& strategy, Fault fault, uint64_t seed,
                  uint64_t cases_max) {
  CampaignOptions options;
  options.strategy = strategy;
  options.generator.faults = bit(fault);
  options.generator.swarm = false;
  options.seed = seed;
  Find out;
  uint32_t uncredited = 0;
  const auto start = Clock::now();
  for (uint64_t k = 0; k < cases_max && uncredited < kUncreditedShrinksMax; ++k) {
    CaseRecord record = run_case(options, k);
    if (!record.verdict.failed() || !contains(record.generated.injected, fault)) continue;
    Counterexample cx = minimize(options, record);
    if (!contains(cx.credited, fault)) {
      ++uncredited;
      continue;
    }
    out.found = true;
    out.seconds = since(start);
    out.cases = k + 1;
    out.shrunk_size = cx.shrink.shrunk_size;
    return out;
  }
  return out;
}

template <typename T>
T median(std::vector<T> values) {
  if (values.empty()) return T{};
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t recheck_cases = 1'000'000;
  uint64_t seeds = 20;
  uint64_t cases_max = 3000;
  uint64_t throughput_cases = 20'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const uint64_t value = std::strtoull(argv[i + 1], nullptr, 10);
    if (flag == "--cases")
      recheck_cases = value;
    else if (flag == "--seeds")
      seeds = value;
    else if (flag == "--cases-max")
      cases_max = value;
    else if (flag == "--throughput-cases")
      throughput_cases = value;
    else {
      fmt::print(
          stderr,
          "usage: fuzz_bench [--cases N] [--seeds N] [--cases-max N] [--throughput-cases N]\n");
      return 2;
    }
  }

  // ---- Throughput per core.
  fmt::print("# throughput: generated cases checked per second, one core, all faults, swarm\n");
  fmt::print("| strategy | cases/s |\n| --- | --- |\n");
  for (auto name : resolver_names()) {
    CampaignOptions options;
    options.strategy = *reference_strategy(name);
    options.seed = 42;
    const auto start = Clock::now();
    for (uint64_t k = 0; k < throughput_cases; ++k) (void)run_case(options, k);
    const double rate = static_cast<double>(throughput_cases) / since(start);
    fmt::print("| {} | {:.0f} |\n", name, rate);
    json(fmt::format("fuzz.cases_per_s.{}", name), rate, "cases/s");
  }

  // ---- Time to find, per fault.
  fmt::print("\n# time to find: one fault per campaign, {} seeds, at most {} cases each\n", seeds,
             cases_max);
  fmt::print(
      "| strategy | fault | found in seeds | median time | median cases | median shrunk | max "
      "shrunk |\n");
  fmt::print("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (std::string_view name : {"pid-path", "lulu-model", "opensnitch-model"}) {
    const StrategyUnderTest strategy = *reference_strategy(name);
    for (int f = 0; f < kFaultCount; ++f) {
      const Fault fault = fault_at(f);
      if (!contains(kResolverFaults, fault)) continue;
      std::vector<double> times;
      std::vector<uint64_t> cases;
      std::vector<std::size_t> sizes;
      for (uint64_t seed = 1; seed <= seeds; ++seed) {
        Find r = time_to_find(strategy, fault, seed, cases_max);
        if (!r.found) continue;
        times.push_back(r.seconds);
        cases.push_back(r.cases);
        sizes.push_back(r.shrunk_size);
      }
      if (times.empty()) {
        fmt::print("| {} | {} | 0/{} | - | - | - | - |\n", name, fault_id(fault), seeds);
        continue;
      }
      const double t = median(times);
      const std::size_t largest = *std::max_element(sizes.begin(), sizes.end());
      fmt::print("| {} | {} | {}/{} | {:.4f}s | {} | {} | {} |\n", name, fault_id(fault),
                 times.size(), seeds, t, median(cases), median(sizes), largest);
      const std::string key = fmt::format("fuzz.time_to_find.{}.{}", name, fault_id(fault));
      json(key + ".median_s", t, "s");
      json(key + ".found_seeds", static_cast<double>(times.size()), "seeds");
      json(key + ".shrunk_steps_max", static_cast<double>(largest), "steps");
    }
  }

  // ---- token+recheck over many cases.
  {
    CampaignOptions options;
    options.strategy = *reference_strategy("token+recheck");
    options.seed = 2024;
    uint64_t violations = 0;
    uint64_t invalid = 0;
    const auto start = Clock::now();
    for (uint64_t k = 0; k < recheck_cases; ++k) {
      CaseRecord r = run_case(options, k);
      violations += r.verdict.failed() ? 1 : 0;
      invalid += r.verdict.ran() ? 0 : 1;
      if (r.verdict.failed() && violations == 1) {
        fmt::print(stderr, "token+recheck violation at case {}: {}\n  reproduce: {}\n", k,
                   r.verdict.first_violation, reproduce_command(options, k));
      }
    }
    const double seconds = since(start);
    fmt::print(
        "\n# token+recheck: {} cases (all faults, swarm), {} violations, {} invalid, {:.1f}s, "
        "{:.0f} cases/s\n",
        recheck_cases, violations, invalid, seconds, static_cast<double>(recheck_cases) / seconds);
    json("fuzz.token_recheck.cases", static_cast<double>(recheck_cases), "cases");
    json("fuzz.token_recheck.violations", static_cast<double>(violations), "violations");
    json("fuzz.token_recheck.cases_per_s", static_cast<double>(recheck_cases) / seconds, "cases/s");
  }
  return 0;
}
