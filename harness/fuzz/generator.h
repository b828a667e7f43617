// Schedule generation for property-based fault injection (DESIGN §3; issue 5).
//
// A generated case is an ordinary scenario::Scenario — files, processes spawning, exec'ing and
// exiting, flows, the filter's resolutions arriving after a random delay, races inside a
// resolution, rules — so the one runner (scenario::run_resolver / run_launcher, with the oracle)
// executes hand-written and generated cases alike, and a counterexample is saved as reviewable
// scenario text.
//
// Structure of a case (resolver strategies): a world (pid policy, caller), then 1..episodes_max
// EPISODES, each either clean (spawn a program, open a flow, resolve it now or after a delay of a
// few episodes; the process stays alive until its flows are resolved) or a FAULT EPISODE drawn
// from the case's fault plan: one generator per fault F1-F10 inserts the fault's pattern (e.g.
// F1: the flow's process exits and a trusted program takes its pid before the lookup, or as a
// race inside it; F4: the process execs another program). Then rules over the programs used:
// allow and deny rules by identity and by path, and a policy (sometimes no_rule = allow, so that a
// deny rule escaped through misattribution is reachable: BYPASSED). Launcher cases are launches
// of signed tools with swaps before or during the launch (F5, F8, F11).
//
// Swarm mode (Groce et al., "Swarm testing"): each case enables a random non-empty subset of the
// allowed faults with random weights, so that rare combinations and single faults in isolation
// both happen. Clean episodes never produce a fault by themselves: without F1 the pid allocator
// is sequential over a large range (no reuse), without F3 the caller is not sandboxed.
//
// Every choice comes from a Choices source: a splitmix64 stream (a case is a pure function of
// (run seed, case index)) or a byte string (libFuzzer drives the same generator; exhausted bytes
// read as zeros, which always pick the simplest option). Each step is tagged with the faults it
// belongs to, so that the shrinker can tell which faults a minimal counterexample still needs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "harness/fuzz/faults.h"
#include "harness/random.h"
#include "harness/scenario.h"

namespace flowid::fuzz {

// The source of every choice a generator makes.
class Choices final {
 public:
  explicit Choices(uint64_t seed) : random_(seed) {}
  // Choices read from bytes (libFuzzer input). `data` must outlive the Choices.
  Choices(const uint8_t* data, std::size_t size)
      : random_(0), data_(data), size_(size), from_bytes_(true) {}

  // A value in [0, bound); 0 when bound <= 1 (nothing is consumed then).
  uint64_t below(uint64_t bound);
  bool chance(uint64_t numerator, uint64_t denominator) { return below(denominator) < numerator; }
  // An index into weights (sum > 0 required; returns 0 when every weight is 0).
  std::size_t weighted(const uint32_t* weights, std::size_t count);
  bool exhausted() const { return from_bytes_ && position_ >= size_; }

 private:
  SplitMix64 random_;
  const uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t position_ = 0;
  bool from_bytes_ = false;
};

struct GeneratorOptions {
  // The faults cases may carry. Resolver cases use the resolver faults in it, launcher cases
  // the launcher faults.
  FaultSet faults = kAllFaults;
  // Swarm mode: each case enables a random non-empty subset of `faults` with random weights.
  // Off: every fault in `faults` is enabled with equal weight in every case.
  bool swarm = true;
  bool launchers = false;  // generate launch cases (for launcher strategies).
  uint32_t episodes_max = 5;
  // Probability (in percent) that an episode is a fault episode rather than a clean one.
  uint32_t fault_episode_percent = 60;
  // Signing identifiers the code under test names (a dictionary, as fuzzers take one from the
  // binary they test: identifiers_in()). F10 impostors borrow them: another team's build signed
  // with an identifier a plugin's built-in allowlist trusts.
  std::vector<std::string> borrowed_signing_ids;
};

// Named bounds (STYLE: every loop has one).
inline constexpr uint32_t kEpisodesLimit = 32;
inline constexpr uint32_t kSwarmWeightMax = 8;
// Interferences one lookup or launch may carry (before it, during it, after it).
inline constexpr uint32_t kInterferencesPerLookupMax = 4;

struct GeneratedCase {
  scenario::Scenario scenario;
  // Parallel to scenario.steps: the fault whose CONTENT each step is (the exit of F2, the exec of
  // F4, the malformed flow of F7, ...); 0 for scaffolding (the spawn, flow and resolve a fault
  // needs are not the fault). race_faults is the same for each step's races.
  std::vector<FaultSet> step_faults;
  std::vector<std::vector<FaultSet>> race_faults;
  // Faults expressed by the world itself: F1 (a pid policy that reuses pids), F3 (sandboxed).
  FaultSet world_faults = kNoFaults;
  // The faults this case enabled (swarm subset) and the ones it actually injected.
  FaultSet enabled = kNoFaults;
  FaultSet injected = kNoFaults;
  std::array<uint8_t, kFaultCount> weights{};
  uint64_t seed = 0;  // the case seed (0 for byte-driven cases).
};

// The seed of case `case_index` of a run seeded with `run_seed`: independent of how cases are
// spread over threads, so case K always replays the same schedule.
uint64_t case_seed(uint64_t run_seed, uint64_t case_index);

// Generates one case. The scenario is named `name`.
GeneratedCase generate_case(const GeneratorOptions& options, Choices& choices, std::string name);

// The faults a (possibly shrunk) case still carries: the tags of its remaining steps plus the
// world faults its world still expresses. Also rewrites scenario.faults to match.
FaultSet refresh_faults(GeneratedCase& generated);

// Reverse-DNS identifiers (com.example.tool, org.sparkle-project.Sparkle.Autoupdate) found as
// NUL- or byte-delimited printable runs in `bytes` (a plugin's file), sorted and without
// duplicates, at most `max`. A dictionary for the generator: identifiers compiled into the code
// under test are the ones its allowlists compare against.
std::vector<std::string> identifiers_in(std::string_view bytes, std::size_t max = 32);

// Number of schedule steps, counting each race as a step (the counterexample size).
std::size_t schedule_size(const scenario::Scenario& scenario);

}  // namespace flowid::fuzz
