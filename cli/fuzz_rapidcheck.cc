// `flowid fuzz --engine rapidcheck` (cli/fuzz_rapidcheck.h).
#include "cli/fuzz_rapidcheck.h"

#include <fmt/format.h>

#include <chrono>
#include <limits>

#include "cli/commands.h"
#include "cli/explain.h"
#include "cli/output.h"
#include "harness/event_format.h"
#include "harness/fuzz/campaign.h"
#include "proptest/rc_model.h"
#include "replay/perturb.h"

namespace flowid::cli {
namespace {

std::string json_text(std::string_view text) {
  std::string out;
  append_json_bytes(out, text);
  return out;
}

}  // namespace

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
    std::string json = fmt::format(
        "{{\"engine\":\"rapidcheck\",\"strategy\":{},\"faults\":{},\"seed\":{},\"cases_planned\":{}"
        ","
        "\"cases_passed\":{},\"seconds\":{:.3f},\"failed\":{},\"corpus_entries\":{},\"corpus_"
        "regressions\":[",
        json_text(run.strategy.name), json_text(fuzz::format_fault_set(run.plan)), run.seed,
        run.cases, result.cases_passed, seconds, result.failed ? "true" : "false", applicable);
    for (std::size_t i = 0; i < regressions.size(); ++i)
      json += std::string(i ? "," : "") + json_text(regressions[i]);
    json += "]";
    if (result.failed) {
      json += fmt::format(
          ",\"violation\":{},\"invariants\":{},\"cell\":{},\"credited_faults\":{},\"generated_"
          "steps\":{},"
          "\"rapidcheck_steps\":{},\"shrunk_steps\":{},\"shrinks_tried\":{},\"shrinks_kept\":{},"
          "\"reproduce\":{},"
          "\"scenario\":{},\"trace\":{}",
          json_text(shrink.verdict.first_violation),
          json_text(fuzz::format_invariants(shrink.verdict.violated)),
          json_text(name_of(shrink.verdict.cell)),
          json_text(fuzz::format_fault_set(result.counterexample.credited)), result.generated_size,
          shrink.original_size, shrink.shrunk_size, result.shrinks_tried, result.shrinks_accepted,
          json_text(result.counterexample.reproduce),
          files ? json_text(files->scenario_path) : std::string("null"),
          files ? json_text(files->trace_path) : std::string("null"));
    }
    json += "}\n";
    std::fwrite(json.data(), 1, json.size(), stdout);
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
