#include "harness/fuzz/campaign.h"
#include "harness/fuzz/realism.h"

#include <fmt/format.h>

#include "harness/strategies/catalog.h"

namespace flowid::fuzz {

std::string case_name(const std::string& strategy, uint64_t seed, uint64_t case_index) {
  std::string clean;
  for (char c : strategy)
    clean += (std::isalnum(static_cast<unsigned char>(c)) || c == '-') ? c : '-';
  return fmt::format("fuzz-{}-s{}-c{}", clean, seed, case_index);
}

namespace {
// Case k of the run, generated but not checked.
CaseRecord generate_record(const CampaignOptions& options, uint64_t case_index) {
  CaseRecord record;
  record.index = case_index;
  record.seed = case_seed(options.seed, case_index);
  Choices choices(record.seed);
  GeneratorOptions generator = options.generator;
  generator.launchers = options.strategy.launcher;
  record.generated =
      generate_case(generator, choices, case_name(options.strategy.name, options.seed, case_index));
  record.generated.seed = record.seed;
  record.generated.scenario.record_with =
      options.strategy.launcher ? "kernel-launch-requirement" : "token+recheck";
  // A schedule no real machine can produce is the generator's bug: counted as invalid, never run.
  if (auto broken = check_realism(record.generated.scenario)) {
    record.verdict.error = "unrealistic schedule: " + *broken;
  }
  return record;
}
}  // namespace

CaseRecord run_case(const CampaignOptions& options, uint64_t case_index) {
  CaseRecord record = generate_record(options, case_index);
  if (!record.verdict.ran()) return record;
  record.verdict = check_scenario(record.generated.scenario, options.strategy, options.oracle);
  return record;
}

namespace {
// run_cases through StrategyUnderTest::generate_elsewhere: only the batch's parameters leave this
// process. A passing case comes back as its verdict and faults (its scenario is not needed here);
// a failing one is generated again here, for the shrinker; one not answered (its worker crashed or
// hung) is run call by call.
std::vector<CaseRecord> run_cases_elsewhere(const CampaignOptions& options, uint64_t first,
                                            uint64_t count) {
  CaseBatch batch;
  batch.generator = options.generator;
  batch.generator.launchers = options.strategy.launcher;
  batch.seed = options.seed;
  batch.name = options.strategy.name;
  batch.oracle = options.oracle;
  batch.first = first;
  batch.count = count;
  std::vector<std::optional<CaseAnswer>> answers = options.strategy.generate_elsewhere(batch);
  // Not answered means its worker crashed or hung on it, alone: straight to call by call (not
  // through check_elsewhere, which would cost a third time limit for a hanging plugin).
  CampaignOptions here = options;
  here.strategy.generate_elsewhere = nullptr;
  here.strategy.check_elsewhere = nullptr;
  std::vector<CaseRecord> records;
  records.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t k = first + i;
    std::optional<CaseAnswer>* answer = i < answers.size() ? &answers[i] : nullptr;
    if (answer == nullptr || !answer->has_value()) {
      records.push_back(run_cases(here, k, 1).front());
      continue;
    }
    if ((*answer)->verdict.failed()) {
      CaseRecord record = generate_record(options, k);
      record.verdict = std::move((*answer)->verdict);
      records.push_back(std::move(record));
      continue;
    }
    CaseRecord record;
    record.index = k;
    record.seed = case_seed(options.seed, k);
    record.generated.seed = record.seed;
    record.generated.enabled = (*answer)->enabled;
    record.generated.injected = (*answer)->injected;
    record.verdict = std::move((*answer)->verdict);
    records.push_back(std::move(record));
  }
  return records;
}
}  // namespace

std::vector<CaseRecord> run_cases(const CampaignOptions& options, uint64_t first, uint64_t count) {
  if (options.strategy.generate_elsewhere) return run_cases_elsewhere(options, first, count);
  std::vector<CaseRecord> records;
  if (!options.strategy.check_elsewhere) {
    for (uint64_t k = first; k < first + count; ++k) records.push_back(run_case(options, k));
    return records;
  }
  std::vector<scenario::Scenario> scenarios;
  std::vector<std::size_t> sent;  // records[sent[i]] is scenarios[i]; unrealistic ones are not run.
  for (uint64_t k = first; k < first + count; ++k) {
    records.push_back(generate_record(options, k));
    if (!records.back().verdict.ran()) continue;
    sent.push_back(records.size() - 1);
    scenarios.push_back(records.back().generated.scenario);
  }
  const auto verdicts = options.strategy.check_elsewhere(scenarios, options.oracle);
  StrategyUnderTest here = options.strategy;  // for the cases it did not answer: checked here.
  here.check_elsewhere = nullptr;
  for (std::size_t i = 0; i < sent.size(); ++i) {
    const bool answered = i < verdicts.size() && verdicts[i];
    records[sent[i]].verdict =
        answered ? *verdicts[i] : check_scenario(scenarios[i], here, options.oracle);
  }
  return records;
}

namespace {
std::string fault_list_argument(FaultSet faults) {
  if (faults == kAllFaults) return "all";
  if (faults == kResolverFaults) return "resolver";
  if (faults == kLauncherFaults) return "launcher";
  return format_fault_set(faults);
}
}  // namespace

std::string reproduce_command(const CampaignOptions& options, uint64_t case_index) {
  return fmt::format("flowid fuzz --{} {} --faults {} --seed {} --case {}{}",
                     options.strategy.launcher ? "launcher" : "strategy", options.strategy.name,
                     fault_list_argument(options.generator.faults), options.seed, case_index,
                     options.generator.swarm ? "" : " --no-swarm");
}

Counterexample minimize(const CampaignOptions& options, const CaseRecord& failing,
                        const ShrinkOptions& shrink) {
  ShrinkOptions shrink_options = shrink;
  shrink_options.oracle = options.oracle;
  Counterexample out = shrink_and_credit(failing.generated, options.strategy, shrink_options);
  out.case_index = failing.index;
  out.case_seed = failing.seed;
  out.reproduce = reproduce_command(options, failing.index);
  auto& s = out.shrink.shrunk.scenario;
  s.description = fmt::format(
      "Found by flowid fuzz: strategy {} violates {} ({}). Faults: {}. Seed {}, case {}; shrunk "
      "from {} to {} steps. Reproduce: {}",
      options.strategy.name, format_invariants(out.shrink.verdict.violated),
      name_of(out.shrink.verdict.cell), format_fault_set(out.credited), options.seed, failing.index,
      out.shrink.original_size, out.shrink.shrunk_size, out.reproduce);
  return out;
}

Counterexample shrink_and_credit(const GeneratedCase& failing, const StrategyUnderTest& strategy,
                                 const ShrinkOptions& shrink) {
  Counterexample out;
  const OracleOptions& oracle = shrink.oracle;
  out.shrink = shrink_case(failing, strategy, shrink);
  out.credited = out.shrink.shrunk.injected;
  // Ablation: a fault is credited only when the failure needs it. Its content is taken out (its
  // steps and races removed, the options that carry it stripped, its world setting reset); if the
  // case still runs and still violates the same invariant, the fault was incidental (the failure
  // is the strategy's baseline weakness, e.g. a path-only claim no identity rule can match).
  if (out.shrink.verdict.failed()) {
    const InvariantSet target = invariant_bit(out.shrink.target);
    for (int i = 0; i < kFaultCount; ++i) {
      const Fault fault = fault_at(i);
      if (!contains(out.credited, fault)) continue;
      scenario::Scenario ablated = out.shrink.shrunk.scenario;
      const GeneratedCase& g = out.shrink.shrunk;
      ablated.steps.clear();
      for (std::size_t s = 0; s < g.scenario.steps.size(); ++s) {
        scenario::Step step = g.scenario.steps[s];
        const bool content = contains(g.step_faults[s], fault);
        if (content && step.kind() != scenario::StepKind::kSpawn &&
            step.kind() != scenario::StepKind::kFlow)
          continue;
        if (content) {
          // Keep the process or flow (later steps name it) without what made it the fault's.
          if (auto* spawn = step.as<scenario::step::Spawn>()) spawn->responsible.reset();
          if (auto* flow = step.as<scenario::step::OpenFlow>()) {
            flow->app.reset();
            flow->app_token.reset();
            flow->process_token.reset();
          }
        }
        std::vector<scenario::Race> races;
        for (std::size_t r = 0; r < step.races.size(); ++r) {
          // As at top level, a spawn stays (later steps name the process): without the exit
          // before it, it is just another program starting.
          const bool race_content = contains(g.race_faults[s][r], fault);
          if (!race_content || step.races[r].step.kind() == scenario::StepKind::kSpawn) {
            races.push_back(step.races[r]);
          }
        }
        step.races = std::move(races);
        if (step.kind() == scenario::StepKind::kExit && content) continue;
        ablated.steps.push_back(std::move(step));
      }
      if (fault == Fault::kPidReuse) ablated.world.pid_policy = PidPolicy::kSequential;
      if (fault == Fault::kSandboxEperm) ablated.world.caller.sandboxed = false;
      CaseVerdict v = check_scenario(ablated, strategy, oracle);
      // Credited only when taking the fault out gives a schedule that runs and no longer fails:
      // a schedule that no longer runs without it proves nothing about the failure.
      if (!v.ran() || (v.violated & target) != 0)
        out.credited &= static_cast<FaultSet>(~bit(fault));
    }
  }
  return out;
}

void add_reference_expectations(scenario::Scenario& scenario, const std::string& skip) {
  const bool launchers = scenario.tests_launchers();
  const auto names = launchers ? launcher_names() : resolver_names();
  scenario.expectations.clear();
  for (auto name : names) {
    if (name == skip) continue;
    auto strategy = reference_strategy(name);
    if (!strategy) continue;
    CaseVerdict verdict = check_scenario(scenario, *strategy);
    if (!verdict.ran()) continue;
    scenario.expectations.push_back({std::string(name), verdict.cell, 0});
  }
}

void CampaignTally::add(const CaseRecord& record) {
  ++cases;
  if (!record.verdict.ran()) ++invalid;
  if (record.verdict.failed()) ++failed;
  for (int i = 0; i < kFaultCount; ++i) {
    auto& tally = faults[static_cast<std::size_t>(i)];
    if (contains(record.generated.enabled, fault_at(i))) ++tally.cases_enabled;
    if (contains(record.generated.injected, fault_at(i))) {
      ++tally.cases_injected;
      if (record.verdict.failed()) ++tally.cases_failed;
    }
  }
}

void CampaignTally::merge(const CampaignTally& other) {
  cases += other.cases;
  failed += other.failed;
  invalid += other.invalid;
  for (std::size_t i = 0; i < faults.size(); ++i) {
    faults[i].cases_enabled += other.faults[i].cases_enabled;
    faults[i].cases_injected += other.faults[i].cases_injected;
    faults[i].cases_failed += other.faults[i].cases_failed;
  }
}

bool CorpusVerdict::passed() const {
  if (!applicable) return true;
  if (!verdict.ran()) return false;
  if (expected) return *expected == verdict.cell;
  return !verdict.failed();
}

std::string CorpusVerdict::problem() const {
  if (passed()) return {};
  if (!verdict.ran()) return fmt::format("{}: does not run: {}", file, verdict.error);
  if (expected) {
    return fmt::format("{}: expected {}, got {}{}{}", file, name_of(*expected),
                       name_of(verdict.cell), verdict.first_violation.empty() ? "" : ": ",
                       verdict.first_violation);
  }
  return fmt::format("{}: still fails ({}): {}", file, format_invariants(verdict.violated),
                     verdict.first_violation);
}

CorpusVerdict replay_corpus_entry(const scenario::Scenario& scenario,
                                  const StrategyUnderTest& strategy, const OracleOptions& oracle) {
  CorpusVerdict out;
  out.file = scenario.file;
  out.name = scenario.name;
  out.applicable = scenario.tests_launchers() == strategy.launcher;
  if (!out.applicable) return out;
  for (const auto& e : scenario.expectations) {
    if (e.strategy == strategy.name) out.expected = e.cell;
  }
  out.verdict = check_scenario(scenario, strategy, oracle);
  return out;
}

}  // namespace flowid::fuzz
