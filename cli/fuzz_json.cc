// The fuzz report's JSON shape (cli/fuzz_json.h).
#include "cli/fuzz_json.h"

#include <fmt/format.h>

#include <algorithm>

#include "cli/report.h"
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

namespace {

// The report's "shard" ("i/n", as --shard takes it), or nullopt when it has none or a bad one.
std::optional<Shard> shard_of(const ordered_json& report) {
  if (!report.contains("shard") || !report["shard"].is_string()) return std::nullopt;
  const std::string text = report["shard"].get<std::string>();
  std::string ignored;
  return text.empty() ? std::nullopt : parse_shard(text, &ignored);
}

bool earlier(const ordered_json& candidate, const ordered_json& kept) {
  return kept.is_null() || candidate["case"].get<uint64_t>() < kept["case"].get<uint64_t>();
}

}  // namespace

std::optional<ordered_json> merge_fuzz_reports(const std::vector<ordered_json>& reports,
                                               const std::vector<std::string>& names,
                                               std::string* error) {
  if (reports.empty()) {
    *error = "--merge: no reports";
    return std::nullopt;
  }
  const ordered_json& first = reports.front();
  std::vector<std::size_t> seen;
  std::size_t count = 0;
  for (std::size_t r = 0; r < reports.size(); ++r) {
    const ordered_json& report = reports[r];
    const std::string& name = names[r];
    if (!report.is_object() || report.value("report", "") != "fuzz" ||
        report.value("engine", "") != "default") {
      *error = fmt::format("{}: not a `flowid fuzz --json` report of the default engine", name);
      return std::nullopt;
    }
    const auto shard = shard_of(report);
    if (!shard) {
      *error =
          fmt::format("{}: not a shard's report (run flowid fuzz with --shard i/n --json)", name);
      return std::nullopt;
    }
    for (const char* key : {"strategy", "kind", "faults", "seed"}) {
      if (report[key] != first[key]) {
        *error = fmt::format("{}: {} {}, {}: {} {}: not shards of one run", name, key,
                             report[key].dump(), names.front(), key, first[key].dump());
        return std::nullopt;
      }
    }
    if (r == 0) count = shard->count;
    if (shard->count != count) {
      *error = fmt::format("{}: shard {}/{}, {}: shard of {}: not shards of one run", name,
                           shard->index, shard->count, names.front(), count);
      return std::nullopt;
    }
    if (std::find(seen.begin(), seen.end(), shard->index) != seen.end()) {
      *error = fmt::format("{}: shard {}/{} given twice", name, shard->index, count);
      return std::nullopt;
    }
    seen.push_back(shard->index);
  }
  std::sort(seen.begin(), seen.end());

  ordered_json merged = first;
  merged.erase("shard");
  merged["shards"] = ordered_json::array();
  for (std::size_t i : seen) merged["shards"].push_back(fmt::format("{}/{}", i, count));
  uint64_t cases = 0, failing = 0, invalid = 0, checked = 0;
  double seconds = 0, rate = 0;
  ordered_json mismatches = ordered_json::array();
  ordered_json baseline = nullptr;
  for (const auto& report : reports) {
    cases += report["cases"].get<uint64_t>();
    failing += report["failing_cases"].get<uint64_t>();
    invalid += report["invalid_cases"].get<uint64_t>();
    checked += report["determinism"]["checked"].get<uint64_t>();
    for (const auto& m : report["determinism"]["mismatches"]) mismatches.push_back(m);
    seconds = std::max(seconds, report["seconds"].get<double>());
    rate += report["cases_per_second"].get<double>();
    if (!report["baseline"].is_null() && earlier(report["baseline"], baseline)) {
      baseline = report["baseline"];
    }
  }
  merged["cases"] = cases;
  merged["seconds"] = seconds;
  merged["cases_per_second"] = rate;
  merged["failing_cases"] = failing;
  merged["invalid_cases"] = invalid;
  merged["determinism"] = {{"checked", checked}, {"mismatches", mismatches}};
  merged["baseline"] = baseline;

  // Corpus entries by file: passing only where every shard passed it.
  ordered_json corpus = ordered_json::array();
  for (const auto& report : reports) {
    for (const auto& entry : report["corpus"]) {
      auto same = std::find_if(corpus.begin(), corpus.end(),
                               [&](const ordered_json& e) { return e["file"] == entry["file"]; });
      if (same == corpus.end()) {
        corpus.push_back(entry);
      } else if (!entry["passed"].get<bool>() && (*same)["passed"].get<bool>()) {
        *same = entry;
      }
    }
  }
  merged["corpus"] = corpus;

  // Per fault: injections summed (unknown if any shard did not count them), found in any shard,
  // the finding with the lowest case number.
  ordered_json findings = ordered_json::array();
  for (auto& result : merged["results"]) {
    const auto fault = result["fault"];
    bool known = true;
    uint64_t injected = 0;
    bool found = false;
    ordered_json finding = nullptr;
    for (const auto& report : reports) {
      for (const auto& other : report["results"]) {
        if (other["fault"] != fault) continue;
        if (other["cases_injected"].is_null())
          known = false;
        else
          injected += other["cases_injected"].get<uint64_t>();
        found = found || other["found"].get<bool>();
      }
      for (const auto& f : report["findings"]) {
        if (f["fault"] == fault && earlier(f, finding)) finding = f;
      }
    }
    result["cases_injected"] = known ? ordered_json(injected) : ordered_json(nullptr);
    result["found"] = found;
    if (!finding.is_null()) findings.push_back(finding);
  }
  merged["findings"] = findings;
  return merged;
}

}  // namespace flowid::cli
