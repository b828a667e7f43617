// One fuzzing campaign, as pure functions the CLI, the benchmark, the tests and the libFuzzer
// target share: case k of a run is generate_case(case_seed(seed, k)) checked against the
// strategy, whatever thread runs it (so results merge deterministically and every case can be
// reproduced alone with `flowid fuzz ... --seed S --case K`). Time is the caller's: nothing here
// reads a clock.
//
// Crediting faults. A failing case may carry several faults (swarm mode). A fault is credited
// with a violation only when the SHRUNK counterexample still carries it: the minimal schedule
// keeps a step of that fault (or, for F1 and F3, a world that still reuses pids or is still
// sandboxed). So a pid-reuse bug found in a case that also happened to exec something is
// credited to F1 alone.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/fuzz/faults.h"
#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"
#include "harness/fuzz/shrink.h"

namespace flowid::fuzz {

struct CampaignOptions {
  StrategyUnderTest strategy;
  GeneratorOptions generator;
  uint64_t seed = 1;
  OracleOptions oracle;
};

struct CaseRecord {
  uint64_t index = 0;
  uint64_t seed = 0;
  GeneratedCase generated;
  CaseVerdict verdict;
};

// "fuzz-STRATEGY-sSEED-cINDEX" (a valid scenario name).
std::string case_name(const std::string& strategy, uint64_t seed, uint64_t case_index);

// Generates and checks case `case_index`.
CaseRecord run_case(const CampaignOptions& options, uint64_t case_index);
// Cases first .. first+count-1, the same records run_case gives; a strategy that checks cases
// elsewhere (StrategyUnderTest::check_elsewhere) gets them all at once.
std::vector<CaseRecord> run_cases(const CampaignOptions& options, uint64_t first, uint64_t count);

// A shrunk failing case and the faults it is credited to.
struct Counterexample {
  uint64_t case_index = 0;
  uint64_t case_seed = 0;
  ShrinkResult shrink;
  FaultSet credited = kNoFaults;
  std::string reproduce;  // the one-line command that regenerates it.
};

// The reproduce command for case k: "flowid fuzz --strategy S --faults F --seed N --case K".
std::string reproduce_command(const CampaignOptions& options, uint64_t case_index);

// Shrinks a failing case and credits its faults. Sets the scenario's description (what it
// violates, the seed, the reproduce command) so that the saved .scenario explains itself.
Counterexample minimize(const CampaignOptions& options, const CaseRecord& failing,
                        const ShrinkOptions& shrink = {});

// The engine-independent part of minimize(): shrinks a failing case (shrink.oracle is the
// oracle) and credits the faults the shrunk failure still needs. Leaves the case index, seed,
// reproduce command and description to the caller.
Counterexample shrink_and_credit(const GeneratedCase& failing, const StrategyUnderTest& strategy,
                                 const ShrinkOptions& shrink);

// Adds `expect NAME CELL` lines for every reference strategy of the case's kind (resolvers or
// launchers), except `skip` (the strategy under test, whose corpus entries must stop failing
// once fixed).
void add_reference_expectations(scenario::Scenario& scenario, const std::string& skip);

// Per-fault figures of a campaign.
struct FaultTally {
  uint64_t cases_enabled = 0;   // cases whose plan enabled the fault.
  uint64_t cases_injected = 0;  // cases that actually carry a step of the fault.
  uint64_t cases_failed = 0;    // failing cases that carried the fault (before shrinking).
};

struct CampaignTally {
  uint64_t cases = 0;
  uint64_t failed = 0;
  uint64_t invalid = 0;  // cases the runner refused (a generator bug: reported, never hidden).
  std::array<FaultTally, kFaultCount> faults{};
  void add(const CaseRecord& record);
  void merge(const CampaignTally& other);
};

// The outcome of replaying one corpus entry with the strategy under test.
struct CorpusVerdict {
  std::string file;
  std::string name;
  bool applicable = true;        // a resolver scenario for a resolver strategy, and so on.
  std::optional<Cell> expected;  // the entry's expect line for this strategy, if any.
  CaseVerdict verdict;
  // Passed: it ran, and either matched its expectation or (without one) violated nothing.
  bool passed() const;
  std::string problem() const;  // why it did not pass, one line.
};

CorpusVerdict replay_corpus_entry(const scenario::Scenario& scenario,
                                  const StrategyUnderTest& strategy,
                                  const OracleOptions& oracle = {});

}  // namespace flowid::fuzz
