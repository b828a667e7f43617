// The property every generated case is checked against: the oracle's invariants (DESIGN §3,
// I1-I5 and I7) hold for every flow and launch of the schedule. A case FAILS when the oracle
// reports any violation-severity finding (I2's warning-level finding — a wrong name correctly
// labelled unverified — is counted, not failed).
//
// A strategy under test is a named factory: a fresh resolver or launcher for every run, so no
// cache survives from one case to the next (cases are independent and can run on any thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "harness/fuzz/generator.h"
#include "harness/oracle.h"
#include "harness/resolver.h"
#include "harness/scenario.h"

namespace flowid::fuzz {

struct CaseVerdict;
struct CaseBatch;
struct CaseAnswer;

struct StrategyUnderTest {
  std::string name;
  bool launcher = false;
  std::function<std::unique_ptr<Resolver>()> make_resolver;
  std::function<std::unique_ptr<Launcher>()> make_launcher;
  // Optional: checks whole cases elsewhere (an isolated plugin's worker process runs them there,
  // several per round trip) and answers, in order, the verdicts check_scenario would give; a
  // nullopt is checked here.
  std::function<std::vector<std::optional<CaseVerdict>>(std::span<const scenario::Scenario>,
                                                        const OracleOptions&)>
      check_elsewhere;
  // Optional, preferred over check_elsewhere by fuzz campaigns: generates AND checks a batch of
  // cases elsewhere from the generator's parameters alone (the generator is deterministic, so the
  // other process builds the very same cases), so no scenario crosses the boundary — only the
  // parameters go, and each case's verdict and faults come back. A nullopt is done here.
  std::function<std::vector<std::optional<CaseAnswer>>(const CaseBatch&)> generate_elsewhere;
};

// A reference strategy from the catalog (resolver or launcher), or nullopt for an unknown name.
std::optional<StrategyUnderTest> reference_strategy(std::string_view name);

using InvariantSet = uint8_t;  // bit n = invariant In (bits 1-5 and 7).
inline constexpr InvariantSet invariant_bit(Invariant invariant) {
  return static_cast<InvariantSet>(1u << static_cast<unsigned>(invariant));
}
std::vector<std::string> invariant_names(InvariantSet set);  // {"I1", "I4"}, in order
std::string format_invariants(InvariantSet set);             // "I1,I4" or "none"

struct CaseVerdict {
  std::string error;           // the scenario did not run ("FILE:LINE: ..."): not a finding.
  Cell cell = Cell::kCorrect;  // the worst cell over flows and launches.
  InvariantSet violated = 0;   // invariants with a violation-severity finding.
  uint32_t violations = 0;
  uint32_t warnings = 0;
  std::string first_violation;  // describe() of the first violation, for reports.
  // A stable digest of everything the run produced (events, verdicts, findings): the same case
  // must give the same digest every time (I6).
  uint64_t digest = 0;
  uint32_t event_count = 0;

  bool ran() const { return error.empty(); }
  bool failed() const { return ran() && violated != 0; }
};

// Cases first .. first+count-1 of a campaign, as its parameters name them (case k is
// generate_case(generator, case_seed(seed, k)) named case_name(name, seed, k)).
struct CaseBatch {
  GeneratorOptions generator;  // launchers set for a launcher strategy
  uint64_t seed = 0;
  std::string name;  // the strategy's name, as the case names carry it
  OracleOptions oracle;
  uint64_t first = 0;
  uint64_t count = 0;
};

// One case generated and checked elsewhere: its verdict (an unrealistic schedule is a verdict
// that did not run, as here) and the faults it enabled and carried, for the campaign's tally.
struct CaseAnswer {
  FaultSet enabled = kNoFaults;
  FaultSet injected = kNoFaults;
  CaseVerdict verdict;
};

// Runs the scenario with a fresh strategy and checks it.
CaseVerdict check_scenario(const scenario::Scenario& scenario, const StrategyUnderTest& strategy,
                           const OracleOptions& oracle = {});
// The same, keeping the full run (flows, findings, events) for reports, and showing the run to
// `observer` (either may be null). Runs in this process whenever either is set.
CaseVerdict check_scenario(const scenario::Scenario& scenario, const StrategyUnderTest& strategy,
                           const OracleOptions& oracle, scenario::RunResult* run,
                           scenario::RunObserver* observer = nullptr);

// The invariant a failing case is shrunk against: the most severe one it violates
// (I4/I5 > I1 > I3 > I2 > I7).
Invariant primary_invariant(InvariantSet violated);

}  // namespace flowid::fuzz
