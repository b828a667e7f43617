// Exhaustive small-scope exploration (flowid explore): every schedule of up to K interferences
// over a base world, not a sample.
//
// A BASE is an ordinary scenario (a world, its flows and their lookups, or launches). A POINT is a
// moment where the world may change under the code being tested: before a flow is opened, before
// a lookup starts, and before each seam call the strategy makes during the lookup or launch. An
// INTERFERENCE is one world change from the fault catalogue, applied at a point to one target:
//   F2 the process exits; F9 it exits as a zombie, or a zombie is reaped;
//   F1 it exits (or is reaped) and a program of each class takes its pid: a trusted app, an
//      untrusted download, a platform daemon, the same program — the newcomer takes the process's
//      name in the rest of the script, as it holds its pid;
//   F4 it execs a trusted app, an untrusted download or the same program;
//   F5 its executable is replaced (unsigned, or another team's build), removed, renamed, or put
//      back as it was; for a launch, the launched file;
//   F8 the seam call about to be made fails once with each outcome its domain can answer
//      (Security framework status codes, errnos, Mach kernel codes), or is slow.
// Targets are the processes the flows name (owner and app) and their files; SIP-protected paths
// never change (realism R1).
//
// The exploration is a stateless model checker (Godefroid's VeriSoft; CHESS, loom): a schedule is
// executed from the start every time, because the strategy's calls — and so the points — change
// once an interference lands. Schedules are visited breadth-first by number of interferences, so
// the first violation found in a base has the fewest interferences. Children of a schedule are
// placed at its last interference's point or later (earlier points belong to other parents), so
// every ordered placement is generated once.
//
// Pruning: at each point the explorer hashes the world's whole state (World::state_digest), the
// script's process and flow names, and everything the strategy has observed so far (its flows,
// the events it was told of, every seam call's arguments and results). Two schedules that reach
// the same hash at the same point of the same base behave the same from there on — for a strategy
// that is a deterministic function of what it observes — so the second one is not expanded
// (commuting interferences, a change undone, a failure nobody reads). Choices that would give the
// same steps (the same program as two classes) are generated once.
//
// The guarantee is exactly: no violation in any schedule with at most K interferences from this
// vocabulary, over these bases. See docs/exploring.md for what that does not cover.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/fuzz/faults.h"
#include "harness/fuzz/generator.h"
#include "harness/fuzz/property.h"
#include "harness/scenario.h"

namespace flowid::explore {

// Interferences one schedule may carry at most (the depth bound K).
inline constexpr uint32_t kDepthMax = 4;

// A point of a base: before base step `step` (call 0), or before seam call `call` (1-based) of
// that step's lookup or launch.
struct Point {
  std::size_t step = 0;
  uint32_t call = 0;
  auto operator<=>(const Point&) const = default;
};

// One world change, as the scenario steps that make it.
struct Interference {
  fuzz::Fault fault = fuzz::Fault::kExitRace;
  std::string label;  // "p1 exits, an untrusted download takes its pid"
  std::vector<scenario::Step> steps;
};

struct Placement {
  Point at;
  Interference what;
};
using Schedule = std::vector<Placement>;  // in point order

struct ExploreOptions {
  uint32_t depth = 2;
  OracleOptions oracle;
  // Stop a base after this many schedules (0: no limit); the base is then reported incomplete.
  uint64_t schedules_max = 0;
};

struct Violation {
  Schedule schedule;
  fuzz::GeneratedCase tagged;  // the base with the schedule placed, each step tagged with its fault
  fuzz::CaseVerdict verdict;
};

struct BaseReport {
  std::string name;
  uint64_t schedules = 0;  // schedules run (each a full execution of the base)
  uint64_t states = 0;     // distinct (point, state) pairs expanded
  uint64_t pruned = 0;     // expansions skipped: the state was already expanded
  uint64_t infeasible =
      0;  // schedules the script cannot run (a later step names an exited process)
  uint64_t duplicates =
      0;  // choices skipped because another choice at the point gives the same steps
  std::array<uint64_t, kDepthMax + 1> by_depth{};  // schedules run per number of interferences
  bool complete = true;  // false: stopped by schedules_max or by the stop flag
  std::string error;     // the base itself does not run ("FILE:LINE: ...")
  std::optional<Violation> violation;
};

// Explores one base with the strategy. `stop` (may be null) ends it early, as incomplete; `ticks`
// (may be null) is incremented once per schedule run, for progress lines.
BaseReport explore_base(const scenario::Scenario& base, const fuzz::StrategyUnderTest& strategy,
                        const ExploreOptions& options, const std::atomic<bool>* stop = nullptr,
                        std::atomic<uint64_t>* ticks = nullptr);

// The base as the explorer runs it: pids reused (last freed first) so that F1 can happen, and the
// files of the newcomer programs installed first when the base has none at their paths.
scenario::Scenario prepare_base(const scenario::Scenario& base);

// The prepared base with a schedule placed (steps before base steps, races inside lookups), its
// steps tagged with their faults for the shrinker.
fuzz::GeneratedCase place_schedule(const scenario::Scenario& prepared, const Schedule& schedule);

// One line per placement: "before f1 is opened: p1 exits", "before call 3 of resolve f1: ...".
std::vector<std::string> describe_schedule(const scenario::Scenario& prepared,
                                           const Schedule& schedule);

// The bundled family of small base worlds: each flow situation (an ordinary program of each class,
// a sandboxed filter asking about a daemon, a helper working for an app, absent and malformed
// tokens, copies and impostors of trusted programs) under an allowlist and a denylist, with one
// lookup or two lookups of the same process; launchers get launches of a signed tool. Impostors
// also borrow each of `borrowed_signing_ids` (identifiers the code under test names).
std::vector<scenario::Scenario> small_worlds(
    bool launchers, const std::vector<std::string>& borrowed_signing_ids = {});

}  // namespace flowid::explore
