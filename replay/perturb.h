// Perturbed replay (DESIGN §4, "perturbed": model mode plus a fault plan applied to the trace)
// and the files a fuzz counterexample is saved as.
//
// apply_fault_plan() rewrites a trace's events the way the fuzzer's fault plans rewrite a
// generated schedule: for each flow, one fault drawn (by the seed) from the plan is inserted at
// a point drawn from the flow's lookups — before lookup k means "before the resolution" for
// k = 1 and "as a race before seam call k" otherwise, which is exactly how model replay reads the
// interleaving back. Per fault:
//   F1  the flow's execution exits and an intruder (another image from the trace, or a
//       synthetic signed app) is spawned with the same pid;
//   F2  the flow's execution exits (reaped);            F9  ... exits as a zombie (not reaped);
//   F4  the flow's execution execs the intruder image (same pid, new pidversion);
//   F5  the executable's file is replaced by unsigned content;
//   F6  the flow's app token is set to another live execution (delegation);
//   F7  the flow's process token is made malformed (20 bytes) or absent;
//   F3  the caller becomes sandboxed (a header change: PerturbedEvents::caller);
//   F8, F10, F11 have no event form (lookup failures, a second file, a launch): reported as
//       not applicable.
// Inserted events take the time of the event they precede. Later lifecycle events of an
// execution the plan already ended are dropped, and an intruder holding a pid is reaped before a
// later spawn of that pid, so the rewritten trace still applies to a world.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/faults.h"
#include "harness/model.h"
#include "harness/scenario.h"
#include "trace/trace.h"

namespace flowid::replay {

struct PerturbedEvents {
  std::vector<Event> events;
  trace::CallerContext caller;              // the header's caller, sandboxed when F3 applied.
  std::vector<std::string> applied;         // "flow 3: F2 exit 744.12 before call 2".
  std::vector<std::string> not_applicable;  // "flow 5: F8 has no event form".
};

// Rewrites `events` with one fault from `faults` per flow (chosen with `seed`). Pure and
// deterministic: the same events, faults and seed give the same result.
PerturbedEvents apply_fault_plan(const std::vector<Event>& events,
                                 const trace::CallerContext& caller, fuzz::FaultSet faults,
                                 uint64_t seed);

// ---- Counterexample files.

struct CounterexampleFiles {
  std::string scenario_path;  // DIR/NAME.scenario: reviewable, replayed first by later runs.
  std::string trace_path;     // DIR/NAME.trace: `flowid replay --mode model` reproduces it.
};

// Writes scenario text (format_scenario) and its compiled trace into `dir` (created if needed).
// With expectations_for_all, `expect` lines for every reference strategy are added (the in-repo
// corpus of the reference strategies' expected failures); otherwise for every reference strategy
// but the one under test. Errors name the file.
std::optional<CounterexampleFiles> write_counterexample(
    const fuzz::Counterexample& counterexample, const std::string& strategy, const std::string& dir,
    const std::string& name, bool expectations_for_all, std::string* error,
    const fuzz::StrategyUnderTest* recorder = nullptr);

// Loads every *.scenario of a corpus folder (sorted by name). Errors name the file.
std::optional<std::vector<scenario::Scenario>> load_corpus(const std::string& dir,
                                                           std::string* error);

}  // namespace flowid::replay
