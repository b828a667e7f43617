// The fuzz report's JSON shape (cli/fuzz_json.h).
#include "cli/fuzz_json.h"

#include "harness/fuzz/property.h"
#include "harness/oracle.h"

namespace flowid::cli {

using nlohmann::ordered_json;

ordered_json fault_list(fuzz::FaultSet set) {
  ordered_json list = ordered_json::array();
  for (int i = 0; i < fuzz::kFaultCount; ++i) {
    const fuzz::Fault fault = fuzz::fault_at(i);
    if (fuzz::contains(set, fault)) list.push_back(std::string(fuzz::fault_id(fault)));
  }
  return list;
}

ordered_json fuzz_report_skeleton(std::string_view engine, const std::string& strategy,
                                  bool launcher, fuzz::FaultSet plan, uint64_t seed) {
  ordered_json report;
  report["report"] = "fuzz";
  report["engine"] = engine;
  report["strategy"] = strategy;
  report["kind"] = launcher ? "launcher" : "resolver";
  report["faults"] = fault_list(plan);
  report["seed"] = seed;
  report["cases"] = 0;
  report["seconds"] = 0.0;
  report["cases_per_second"] = 0.0;
  report["failing_cases"] = 0;
  report["invalid_cases"] = 0;
  report["determinism"] = {{"checked", 0}, {"mismatches", ordered_json::array()}};
  report["corpus"] = ordered_json::array();
  report["results"] = ordered_json::array();
  report["findings"] = ordered_json::array();
  report["baseline"] = nullptr;
  return report;
}

ordered_json corpus_json(const std::vector<fuzz::CorpusVerdict>& corpus) {
  ordered_json list = ordered_json::array();
  for (const auto& c : corpus) {
    if (!c.applicable) continue;
    ordered_json entry;
    entry["file"] = c.file;
    entry["passed"] = c.passed();
    entry["cell"] = std::string(name_of(c.verdict.cell));
    entry["problem"] = c.problem();
    list.push_back(std::move(entry));
  }
  return list;
}

ordered_json fault_result_json(fuzz::Fault fault, std::optional<uint64_t> cases_injected,
                               bool found) {
  ordered_json result;
  result["fault"] = std::string(fuzz::fault_id(fault));
  result["name"] = std::string(fuzz::fault_name(fault));
  result["cases_injected"] = cases_injected ? ordered_json(*cases_injected) : nullptr;
  result["found"] = found;
  return result;
}

ordered_json finding_json(const FindingFacts& facts, const fuzz::Counterexample& counterexample,
                          const std::optional<replay::CounterexampleFiles>& files) {
  const auto& shrink = counterexample.shrink;
  ordered_json f;
  f["fault"] = facts.fault ? ordered_json(std::string(fuzz::fault_id(*facts.fault))) : nullptr;
  f["credited_faults"] = fault_list(counterexample.credited);
  f["case"] = facts.case_index;
  f["cases_to_find"] = facts.case_index + 1;
  f["seconds_to_find"] = facts.seconds_to_find ? ordered_json(*facts.seconds_to_find) : nullptr;
  f["invariants"] = fuzz::invariant_names(shrink.verdict.violated);
  f["cell"] = std::string(name_of(shrink.verdict.cell));
  f["violation"] = shrink.verdict.first_violation;
  f["generated_steps"] = facts.generated_steps;
  f["shrunk_steps"] = shrink.shrunk_size;
  f["shrink_runs"] = facts.shrink_runs;
  f["reproduce"] = counterexample.reproduce;
  f["scenario"] = files ? ordered_json(files->scenario_path) : nullptr;
  f["trace"] = files ? ordered_json(files->trace_path) : nullptr;
  return f;
}

}  // namespace flowid::cli
