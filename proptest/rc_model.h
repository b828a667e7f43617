// A rapidcheck stateful model of the world a flow filter lives in (DESIGN §3; issue 5).
//
// The second fuzzing engine, beside the seeded episode generator (harness/fuzz/generator.h):
// rapidcheck's `rc::state` generates a whole schedule as a sequence of COMMANDS, each valid in the
// model state the previous ones left — processes spawning, exec'ing, exiting (as zombies too) and
// being reaped; flows opened (delegated, with absent or malformed tokens); the filter's
// resolution of an open flow arriving after any number of other commands, with races inside it
// (an exit, a newcomer taking the pid, an exec, the file replaced before seam call N); files
// replaced, removed or renamed; time passing; transient lookup failures. The fault plan is drawn
// first, in swarm mode: each case enables a random non-empty subset of the allowed faults
// F1-F10 with random weights, and only commands of enabled faults are generated (with those
// weights), so rare combinations and single faults in isolation both happen.
//
// The property: the schedule, run as an ordinary scenario by the one runner with the oracle,
// violates no invariant. On a failure rapidcheck shrinks the command sequence (dropping commands
// whose removal keeps every later command's preconditions, then simplifying each command's
// arguments); flowid's own shrinker then removes rules and simplifies the world, and the result is
// an ordinary GeneratedCase: saved as .scenario + .trace, replayed by `flowid replay --mode
// model`, reported with its seed and a reproduce command (`flowid fuzz --engine rapidcheck`).
//
// Everything is decided by rapidcheck's seed: the same options give the same cases, the same
// failure and the same counterexample.
#pragma once

#include <cstdint>
#include <string>

#include "harness/fuzz/campaign.h"
#include "harness/fuzz/faults.h"
#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"

namespace flowid::proptest {

struct RcOptions {
  fuzz::StrategyUnderTest strategy;  // a resolver strategy (launchers: not modelled here).
  fuzz::FaultSet faults = fuzz::kResolverFaults;
  bool swarm = true;  // off: every allowed fault, equal weights.
  uint64_t seed = 1;
  int cases = 1000;   // successful cases before the property passes.
  int max_size = 40;  // rapidcheck's size bound: the longest schedules.
  OracleOptions oracle;
};

struct RcResult {
  std::string error;     // the engine could not run (bad options, a model bug).
  int cases_passed = 0;  // cases that held before the failure (or all of them).
  bool failed = false;
  // The failure, as rapidcheck shrank it (the last failing case it ran), then flowid's shrinker
  // and fault crediting: counterexample.shrink.shrunk is the schedule (its description says how
  // it was found), .shrink.verdict its verdict, .shrink.original_size the size rapidcheck left,
  // .reproduce the command line.
  fuzz::Counterexample counterexample;
  std::size_t generated_size = 0;  // schedule_size() of the failing case before any shrinking.
  uint32_t shrinks_tried = 0;      // rapidcheck's shrink candidates, and those that still failed.
  uint32_t shrinks_accepted = 0;
  std::string rapidcheck_message;  // rapidcheck's own report (its reproduce string included).
};

// Runs the property. Pure apart from rapidcheck's own state: no files, no clock.
RcResult check_with_rapidcheck(const RcOptions& options);

// "flowid fuzz --engine rapidcheck --strategy S --faults F --seed N --budget Kcases".
std::string rc_reproduce_command(const RcOptions& options);

}  // namespace flowid::proptest
