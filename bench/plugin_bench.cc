// Plugin isolation throughput: the same plugin fuzzed in flowid's process and in isolation worker
// processes, in one run, so the figures share the machine's load. Modes, interleaved round by
// round (each round gives every mode the same time):
// - in_process: the plugin loaded into this process (FLOWID_PLUGIN_ISOLATION=0 in the CLI);
// - whole_case: each case's scenario sent to a worker and run whole there, one round trip per case;
// - batch16: 16 scenarios per round trip (WorkerPool::check_cases);
// - generated64: 64 cases per round trip, generated in the worker from the campaign's parameters
//   (WorkerPool::generate_cases, through fuzz::run_cases: the CLI's default);
// - call_by_call: a round trip per call into the plugin and per seam call it makes
//   (FLOWID_PLUGIN_WHOLE_CASES=0).
// Every mode's digests are checked against in_process case by case: a figure for wrong answers
// would mean nothing. Usage: plugin_bench [PLUGIN.so] [SECONDS_PER_MODE_PER_ROUND] [ROUNDS]
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_figures.h"
#include "harness/fuzz/campaign.h"
#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"
#include "plugin/loader.h"
#include "plugin/pool.h"

namespace flowid {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The digests of in-process runs, by case index, filled on demand.
class Reference {
 public:
  explicit Reference(const fuzz::CampaignOptions& options) : options_(options) {}
  uint64_t digest(uint64_t k) {
    auto it = digests_.find(k);
    if (it == digests_.end())
      it = digests_.emplace(k, fuzz::run_case(options_, k).verdict.digest).first;
    return it->second;
  }

 private:
  fuzz::CampaignOptions options_;
  std::map<uint64_t, uint64_t> digests_;
};

void check(uint64_t got, Reference& reference, uint64_t k, const char* mode) {
  if (got == reference.digest(k)) return;
  std::fprintf(stderr, "plugin_bench: %s case %llu: digest differs from in process\n", mode,
               static_cast<unsigned long long>(k));
  std::exit(1);
}

// Runs cases k = next, next+1, ... until `seconds` have passed; returns how many ran.
uint64_t run_for(const fuzz::CampaignOptions& options, double seconds, uint64_t& next,
                 std::vector<uint64_t>& digests) {
  const auto start = Clock::now();
  uint64_t ran = 0;
  while (since(start) < seconds) {
    digests.push_back(fuzz::run_case(options, next++).verdict.digest);
    ++ran;
  }
  return ran;
}

// The same, generating 16 cases at a time (as run_case does) and checking them in one round trip.
uint64_t run_batches_for(const fuzz::CampaignOptions& options, plugin::WorkerPool& pool,
                         const std::shared_ptr<const plugin::PluginModule>& module, double seconds,
                         uint64_t& next, std::vector<uint64_t>& digests) {
  constexpr uint64_t kBatch = 16;
  const auto start = Clock::now();
  uint64_t ran = 0;
  while (since(start) < seconds) {
    std::vector<scenario::Scenario> scenarios;
    for (uint64_t i = 0; i < kBatch; ++i) {
      const uint64_t k = next + i;
      fuzz::Choices choices(fuzz::case_seed(options.seed, k));
      auto generated = fuzz::generate_case(options.generator, choices,
                                           fuzz::case_name(options.strategy.name, options.seed, k));
      generated.scenario.record_with = "token+recheck";
      scenarios.push_back(std::move(generated.scenario));
    }
    const auto verdicts = pool.check_cases(module, scenarios, false, options.oracle);
    for (uint64_t i = 0; i < kBatch; ++i) {
      digests.push_back(
          verdicts[i]
              ? verdicts[i]->digest
              : fuzz::check_scenario(scenarios[i], options.strategy, options.oracle).digest);
    }
    next += kBatch;
    ran += kBatch;
  }
  return ran;
}

// The CLI's path: fuzz::run_cases in batches of 64, which the strategy's generate_elsewhere
// sends to a worker as parameters.
uint64_t run_generated_for(const fuzz::CampaignOptions& options, double seconds, uint64_t& next,
                           std::vector<uint64_t>& digests) {
  constexpr uint64_t kBatch = 64;
  const auto start = Clock::now();
  uint64_t ran = 0;
  while (since(start) < seconds) {
    for (const auto& record : fuzz::run_cases(options, next, kBatch))
      digests.push_back(record.verdict.digest);
    next += kBatch;
    ran += kBatch;
  }
  return ran;
}

int run(int argc, char** argv) {
  const std::string file = argc > 1 ? argv[1] : FLOWID_BENCH_DEFAULT_PLUGIN;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  std::string error;
  auto module = plugin::load_plugin(file, &error);
  if (!module) {
    std::fprintf(stderr, "plugin_bench: %s\n", error.c_str());
    return 2;
  }
  // Pools first: their fork servers start while this process has one thread.
  plugin::WorkerPool whole;
  plugin::IsolationOptions by_call_options;
  by_call_options.whole_cases = false;
  plugin::WorkerPool by_call(by_call_options);

  struct Mode {
    const char* name = "";
    plugin::WorkerPool* pool = nullptr;
    bool batched = false;
    bool generated = false;
    uint64_t cases = 0;
    double seconds = 0;
    uint64_t next = 0;
    std::vector<uint64_t> digests;
  };
  std::vector<Mode> modes(5);
  modes[0].name = "in_process";
  modes[1].name = "whole_case";
  modes[1].pool = &whole;
  modes[2].name = "batch16";
  modes[2].pool = &whole;
  modes[2].batched = true;
  modes[3].name = "call_by_call";
  modes[3].pool = &by_call;
  modes[4].name = "generated64";
  modes[4].pool = &whole;
  modes[4].generated = true;
  std::map<std::string, fuzz::CampaignOptions> options;
  for (auto& mode : modes) {
    fuzz::CampaignOptions o;
    o.strategy = *strategy_for(file, mode.pool, &error);
    // Only the generated mode goes through the parameters-only path; whole_case and batch16
    // send scenarios.
    if (!mode.generated) o.strategy.generate_elsewhere = nullptr;
    o.seed = 1;
    options[mode.name] = o;
  }
  for (int round = 0; round < rounds; ++round) {
    for (auto& mode : modes) {
      const auto start = Clock::now();
      if (mode.generated) {
        mode.cases += run_generated_for(options[mode.name], seconds, mode.next, mode.digests);
      } else if (mode.batched) {
        mode.cases += run_batches_for(options[mode.name], *mode.pool, module, seconds, mode.next,
                                      mode.digests);
      } else {
        mode.cases += run_for(options[mode.name], seconds, mode.next, mode.digests);
      }
      mode.seconds += since(start);
    }
  }
  Reference reference(options["in_process"]);
  for (auto& mode : modes) {
    for (uint64_t k = 0; k < mode.digests.size(); ++k)
      check(mode.digests[k], reference, k, mode.name);
  }

  std::vector<bench::Figure> figures;
  const double in_process = static_cast<double>(modes[0].cases) / modes[0].seconds;
  for (const auto& mode : modes) {
    const double rate = static_cast<double>(mode.cases) / mode.seconds;
    figures.push_back({fmt::format("plugin.cases_per_s.{}", mode.name), rate, "cases/s",
                       fmt::format("{} cases/s ({} cases)", mode.name, mode.cases)});
    if (mode.pool != nullptr) {
      figures.push_back({fmt::format("plugin.ratio_to_in_process.{}", mode.name), rate / in_process,
                         "x", fmt::format("{} / in_process", mode.name)});
    }
  }
  std::printf("# %s, %d rounds of %.1f s per mode, digests checked against in process\n",
              file.c_str(), rounds, seconds);
  bench::print_figures(figures, 36);
  return 0;
}

}  // namespace
}  // namespace flowid

int main(int argc, char** argv) { return flowid::run(argc, argv); }
