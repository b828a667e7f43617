// `flowid fuzz --engine rapidcheck` (cli/fuzz_rapidcheck.h).
#include "cli/fuzz_rapidcheck.h"

#include <fmt/format.h>

#include <chrono>
#include <limits>

#include "cli/commands.h"
#include "cli/explain.h"
#include "cli/fuzz_json.h"
#include "cli/output.h"
#include "cli/report.h"
#include "harness/event_format.h"
#include "harness/fuzz/campaign.h"
#include "proptest/rc_model.h"
#include "replay/perturb.h"

namespace flowid::cli {
int run_fuzz_rapidcheck(const RapidcheckRun& run) {
  if (run.cases > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
    print_error("fuzz", "--budget: at most {} cases with --engine rapidcheck",
                std::numeric_limits<int>::max());
    return kExitUsage;
  }
  std::vector<fuzz::CorpusVerdict> corpus;
  for (const auto& s : run.corpus) corpus.push_back(fuzz::replay_corpus_entry(s, run.strategy));
  std::size_t applicable = 0;
  std::vector<std::string> regressions;
  for (const auto& c : corpus) {
    applicable += c.applicable ? 1 : 0;
    if (!c.passed()) regressions.push_back(c.problem());
  }

  proptest::RcOptions options;
  options.strategy = run.strategy;
  options.faults = run.plan;
  options.swarm = run.swarm;
  options.seed = run.seed;
  options.cases = static_cast<int>(run.cases);
  if (!run.json) {
    fmt::print("flowid fuzz --engine rapidcheck: {} against faults {}, seed {}, up to {} cases\n",
               run.strategy.name, fuzz::format_fault_set(run.plan), run.seed, run.cases);
    fmt::print("corpus: {} entries replayed first, {} regressed\n", applicable, regressions.size());
    for (const auto& r : regressions) fmt::print("  ! {}\n", r);
    std::fflush(stdout);
  }
  const auto start = std::chrono::steady_clock::now();
  proptest::RcResult result = proptest::check_with_rapidcheck(options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!result.error.empty()) {
    print_error("fuzz", "{}", result.error);
    return result.error.starts_with("model bug") ? kExitInternal : kExitUsage;
  }

  std::optional<replay::CounterexampleFiles> files;
  std::string write_error;
  if (result.failed) {
    const std::string name =
        "rc-" +
        fuzz::case_name(run.strategy.name, run.seed, result.counterexample.case_index).substr(5);
    files = replay::write_counterexample(result.counterexample, run.strategy.name, run.out_dir,
                                         name, run.expect_all, &write_error, &run.strategy);
  }
  const auto& shrink = result.counterexample.shrink;
  if (run.json) {
    // The same keys as the default engine's report (docs/schemas/fuzz.schema.json): one property
    // over every fault, so its finding is credited, not found under one fault's campaign.
    const uint64_t cases = static_cast<uint64_t>(result.cases_passed) + (result.failed ? 1 : 0);
    auto json = fuzz_report_skeleton("rapidcheck", run.strategy.name, run.strategy.launcher,
                                     run.plan, run.seed);
    json["cases"] = cases;
    json["seconds"] = seconds;
    json["cases_per_second"] = seconds > 0 ? static_cast<double>(cases) / seconds : 0.0;
    json["failing_cases"] = result.failed ? 1 : 0;
    json["corpus"] = corpus_json(corpus);
    for (int i = 0; i < fuzz::kFaultCount; ++i) {
      const fuzz::Fault fault = fuzz::fault_at(i);
      if (!fuzz::contains(run.plan, fault)) continue;
      // rapidcheck's generator does not count the cases that carried a fault.
      json["results"].push_back(fault_result_json(
          fault, std::nullopt,
          result.failed && fuzz::contains(result.counterexample.credited, fault)));
    }
    if (result.failed) {
      auto finding = finding_json(FindingFacts{std::nullopt, result.counterexample.case_index,
                                               seconds, result.generated_size, shrink.runs},
                                  result.counterexample, files);
      // A failure that needs no fault is the baseline, as in the default engine.
      if (result.counterexample.credited == fuzz::kNoFaults) {
        json["baseline"] = std::move(finding);
      } else {
        json["findings"].push_back(std::move(finding));
      }
    }
    print_json(json);
  } else if (result.failed) {
    fmt::print("\nviolation after {} passing cases ({:.1f} s): {}\n", result.cases_passed, seconds,
               shrink.verdict.first_violation);
    fmt::print("  {} {}; faults {}\n", fuzz::format_invariants(shrink.verdict.violated),
               name_of(shrink.verdict.cell),
               fuzz::format_fault_set(result.counterexample.credited));
    fmt::print(
        "  shrunk: {} steps generated -> {} by rapidcheck ({} of {} shrinks kept) -> {} by "
        "flowid\n\n",
        result.generated_size, shrink.original_size, result.shrinks_accepted, result.shrinks_tried,
        shrink.shrunk_size);
    fmt::print("{}\n", scenario::format_scenario(shrink.shrunk.scenario));
    fmt::print("seed {}\nreproduce: {}\n", run.seed, result.counterexample.reproduce);
    if (files) {
      fmt::print("scenario: {}\ntrace: {}\n", files->scenario_path, files->trace_path);
      for (const auto& line : short_explanation(files->trace_path, run.strategy))
        fmt::print("{}\n", line);
    }
  } else {
    fmt::print("no violation in {} cases ({:.1f} s, {:.0f} cases/s)\n", result.cases_passed,
               seconds, seconds > 0 ? result.cases_passed / seconds : 0.0);
  }
  if (!write_error.empty()) print_error("fuzz", "{}", write_error);
  return result.failed || !regressions.empty() ? kExitFindings : kExitOk;
}

}  // namespace flowid::cli
