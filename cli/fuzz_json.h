// The `flowid fuzz --json` report, one shape for both engines (docs/schemas/fuzz.schema.json).
//
// The default engine and --engine rapidcheck find violations differently — the first runs one
// campaign per fault and credits each finding to the fault that was under test, the second runs
// one property over every fault and credits the faults its shrunk schedule still needs — but a CI
// job reading the report should not care which ran. So both fill the same object: the run's
// figures, the corpus replayed first, per-fault coverage ("results"), and the FINDINGS, each with
// the same keys (the fault it was found under, or null; the credited faults; the invariants; the
// shrunk size; the reproduce command; the saved files). Lists are arrays, every key is always
// present (null or empty), and keys keep the schema's order.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/faults.h"
#include "replay/perturb.h"

namespace flowid::cli {

// The report with every key present and empty: "report", "engine", "strategy", "kind", "faults",
// "seed", then the figures, "corpus", "results", "findings", "baseline". Engines assign the keys
// (assignment keeps the position, so the order is the same whatever an engine fills).
nlohmann::ordered_json fuzz_report_skeleton(std::string_view engine, const std::string& strategy,
                                            bool launcher, fuzz::FaultSet plan, uint64_t seed);

// ["F1", "F4"] in catalogue order.
nlohmann::ordered_json fault_list(fuzz::FaultSet set);

// The corpus entries that apply to the strategy: file, passed, cell, problem.
nlohmann::ordered_json corpus_json(const std::vector<fuzz::CorpusVerdict>& corpus);

// One entry of "results": a planned fault, the cases that carried it (nullopt when the engine does
// not count them) and whether a finding was credited to it.
nlohmann::ordered_json fault_result_json(fuzz::Fault fault, std::optional<uint64_t> cases_injected,
                                         bool found);

// One finding. `fault` is the fault whose campaign found it (nullopt: the baseline, or an engine
// that tests all faults at once); `seconds_to_find` nullopt when the engine does not know it;
// `generated_steps` the failing case's size before any shrinking.
struct FindingFacts {
  std::optional<fuzz::Fault> fault;
  uint64_t case_index = 0;  // 0-based
  std::optional<double> seconds_to_find;
  std::size_t generated_steps = 0;
  uint32_t shrink_runs = 0;
};
nlohmann::ordered_json finding_json(const FindingFacts& facts,
                                    const fuzz::Counterexample& counterexample,
                                    const std::optional<replay::CounterexampleFiles>& files);

// The --json reports of the shards of one run (`flowid fuzz --shard i/n --json`, the same
// strategy, kind, faults and seed) as one report: counts summed, the earliest finding per fault
// and the earliest baseline kept (the unsharded run's, since shards deal the same case numbers),
// a corpus entry passing only where it passed in every shard, "seconds" the longest shard,
// "cases_per_second" the sum. "shards" lists the shards joined. `names` names the reports in
// errors ("b.json: seed 2, a.json: seed 1: not shards of one run"); nullopt with *error set.
std::optional<nlohmann::ordered_json> merge_fuzz_reports(
    const std::vector<nlohmann::ordered_json>& reports, const std::vector<std::string>& names,
    std::string* error);

}  // namespace flowid::cli
