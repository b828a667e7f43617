// The oracle: ground truth from the simulated world, checked against what a resolver claimed and
// what the filter and a launcher did (DESIGN §3, invariants I1-I5 and I7).
//
// Semantics (each is a decision; tests pin them):
// - An identity NAMES a program image when the paths are equal and every signing fact the claim
//   asserts is the image's: cdhash, signing id, team id, platform (when claimed true) and
//   signature kind (when claimed signed). A claim with the same path but another cdhash (the file
//   was replaced, F5) or another program's signing id names other code: a misattribution of the
//   code, not a match. Facts a claim leaves out (empty, or a path-only claim) are not asserted.
// - The ACCEPTABLE images of a flow are the image of the execution that created the socket and,
//   when OracleOptions::accept_app_attribution (default on) and the flow was delegated (F6), the
//   image of the app it worked for: naming the app behind a helper is a legitimate choice.
// - "Exited by resolution" means the creating execution is no longer running when the check is
//   made (zombie, reaped, or replaced by an exec), so its pid may name someone else.
// - I1 (violation): status verified => the claim carries an identity and it names an acceptable
//   image. Attribution::claimed_execution is informational: an identical binary running in
//   another execution (pid reused by the same program) still names the true program.
// - I2: a claim whose identity names no acceptable image and whose status is not verified (I1
//   covers verified). Labelled unverified (status unverified and the verdict's label is the
//   unverified warning) -> warning; shown as verified by the filter -> violation; status gone or
//   unknown with a live execution -> violation.
// - I3 (violation): the creator had exited by resolution and the claim carries an identity naming
//   no acceptable image with status verified, gone or unknown (unverified is I2's warning).
//   A verified wrong claim after an exit yields both I1 and I3.
// - I4 (violation), with the RuleSet the filter used, TRUE = the acceptable image the claim
//   names, else the creator's image:
//   (a) the verdict allows under a named allow rule that does not match TRUE (Y passed under a
//       rule for X);
//   (b) the rule matching TRUE drops, yet the verdict allows (X escaped its deny rule by
//       misattribution or a fail-open policy).
//   A verdict of ask is not a pass.
// - I5 (violation): an execution started during a launch RAN code whose image fails the
//   requirement. A suspended-then-killed execution never ran.
// - I7 (violation): the strategy threw, or made more seam calls for one flow / launch than the
//   budget allows (an unbounded loop). A strategy that loops without calling the seam cannot be
//   detected here (no clock, no thread).
//
// Cells for the strategy x fault matrix (classify): BYPASSED (any I4 / I5 violation) >
// MISATTRIBUTED (any I1 / I2 / I3 violation) > CRASHED (I7) > downgraded (no violation; status
// unverified, gone or unknown, or a launch refused safely although the code satisfied the
// requirement) > correct (verified and right, or the right launch decision).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/filter.h"
#include "harness/model.h"
#include "harness/resolver.h"
#include "harness/seam.h"
#include "harness/world.h"

namespace flowid {

enum class Invariant : uint8_t {
  kI1VerifiedIsCorrect = 1,
  kI2NoSilentMisattribution = 2,
  kI3GoneIsGone = 3,
  kI4VerdictSafety = 4,
  kI5LauncherSafety = 5,
  kI7Totality = 7,
};
std::string_view name_of(Invariant invariant);  // "I1" ... "I7"

enum class Severity : uint8_t { kWarning = 0, kViolation = 1 };
std::string_view name_of(Severity severity);

// One broken (or, for warnings, bent) invariant.
struct Finding {
  Invariant invariant = Invariant::kI1VerifiedIsCorrect;
  Severity severity = Severity::kViolation;
  uint64_t flow_id = 0;     // 0 for a launch.
  std::string launch_path;  // set for a launch.
  // The truth: the creating execution and its image (for a launch: the execution that ran).
  std::optional<ExecutionId> true_execution;
  std::optional<CodeIdentity> true_image;
  // The claim.
  std::optional<Attribution> claim;
  std::optional<Verdict> verdict;
  std::vector<Lookup> lookups;  // the evidence, as an ObservedSeam reported it.
  std::string message;          // one line for people.
  friend bool operator==(const Finding&, const Finding&) = default;
};

// "I2 warning flow 7: ..." — for logs and test failure messages.
std::string describe(const Finding& finding);

enum class Cell : uint8_t {
  kCorrect = 0,
  kDowngraded = 1,
  kMisattributed = 2,
  kBypassed = 3,
  kCrashed = 4
};
std::string_view name_of(
    Cell cell);  // "correct", "downgraded", "MISATTRIBUTED", "BYPASSED", "CRASHED"

struct OracleOptions {
  bool accept_app_attribution = true;
  // I7: more seam calls than this for one flow or one launch is an unbounded loop.
  uint32_t seam_call_budget = 256;
};

// True when `claim` names `image` (paths equal, claim's cdhash absent or equal).
bool names_program(const CodeIdentity& claim, const CodeIdentity& image);

class Oracle final {
 public:
  explicit Oracle(const World& world, OracleOptions options = {})
      : world_(world), options_(options) {}

  const OracleOptions& options() const { return options_; }

  // Checks I1-I4 for one resolved flow. `lookups` is copied into every finding. A flow the world
  // has no truth for yields no findings (nothing to compare with).
  std::vector<Finding> check_flow(const Flow& flow, const Attribution& claim,
                                  const Verdict& verdict, const RuleSet& rules,
                                  std::span<const Lookup> lookups) const;

  // Checks I5 for a launch: every execution made through the LaunchSeam with index in
  // [first_execution, end) of world.executions() that ran code must satisfy requirement. Throws
  // std::invalid_argument when requirement does not parse (the caller's bug).
  std::vector<Finding> check_launch(std::string_view path, std::string_view requirement,
                                    std::size_t first_execution,
                                    std::span<const Lookup> lookups) const;

 private:
  const World& world_;
  OracleOptions options_;
};

// The cell for one flow: findings decide first, then the claim's status.
Cell classify_flow(const Attribution& claim, std::span<const Finding> findings);
// The cell for one launch: findings first; then launched -> correct; refused -> correct when the
// file at launch start failed the requirement, downgraded when it satisfied it.
Cell classify_launch(bool launched, bool original_satisfied, std::span<const Finding> findings);

// ---- Driver: runs a strategy under observation, catches what goes wrong, checks, classifies.

struct FlowCheck {
  Attribution attribution;
  Verdict verdict;
  std::vector<Lookup> lookups;
  std::vector<Finding> findings;
  Cell cell = Cell::kCorrect;
};

struct LaunchCheck {
  LaunchResult result;
  std::vector<Lookup> lookups;
  std::vector<Finding> findings;
  std::vector<ExecutionId> started;  // executions the launch created.
  bool original_satisfied = false;   // the file at launch start satisfied the requirement.
  Cell cell = Cell::kCorrect;
};

// Each collected Lookup's duration_ns is the virtual time the world charged for that call (F8
// delays; 0 by default). Builds an ObservedSeam over the world, sets the flow id, calls
// resolver.resolve(flow, world.now_ns(), seam), filter.decide and resolver.decide (a resolver's own
// decision replaces the filter's, harness/filter.h apply_resolver_decision), then checks. An
// exception from the resolver or the filter, or a seam call budget overrun, is an I7 finding (the
// attribution is then unknown and the verdict the filter's answer for unknown, or drop if the
// filter or resolver.decide threw).
FlowCheck resolve_and_check(World& world, Resolver& resolver, const Filter& filter,
                            const Flow& flow, const OracleOptions& options = {});

// Runs launcher.launch(path, requirement, seam, seam) under observation and checks I5 and I7.
LaunchCheck launch_and_check(World& world, Launcher& launcher, std::string_view path,
                             std::string_view requirement, const OracleOptions& options = {});

}  // namespace flowid
