#include "harness/oracle.h"

#include <array>
#include <exception>
#include <stdexcept>

#include <fmt/format.h>

#include "harness/requirement.h"

namespace flowid {
namespace {

constexpr std::array<std::string_view, 5> kCellNames = {"correct", "downgraded", "MISATTRIBUTED",
                                                        "BYPASSED", "CRASHED"};

// A short human rendering of an identity: path plus the first bytes of its cdhash.
std::string short_identity(const CodeIdentity& identity) {
  if (!identity.cdhash) return fmt::format("{} (no cdhash)", identity.path);
  const Cdhash& h = *identity.cdhash;
  return fmt::format("{} (cdhash {:02x}{:02x}{:02x}{:02x}..)", identity.path, h[0], h[1], h[2],
                     h[3]);
}

bool is_policy(std::string_view rule_name) { return rule_name.starts_with("policy:"); }

// The rule that decided a verdict: by name, or (for filters that do not name rules) the rule the
// claimed identity matches with the verdict's action.
const Rule* deciding_rule(const RuleSet& rules, const Verdict& verdict, const Attribution& claim) {
  if (is_policy(verdict.rule)) return nullptr;
  if (!verdict.rule.empty()) {
    for (const Rule& rule : rules.rules) {
      if (rule.name == verdict.rule) return &rule;
    }
  }
  if (!claim.identity) return nullptr;
  const Rule* r = rules.match(*claim.identity);
  return r != nullptr && r->action == verdict.decision ? r : nullptr;
}

// Thrown by the collecting observer when a strategy exceeds the seam call budget. Private to the
// driver: a strategy that catches everything and carries on is still caught by the count.
struct SeamCallBudgetExceeded final {};

class CollectingObserver final : public LookupObserver {
 public:
  CollectingObserver(const World& world, std::vector<Lookup>& out, uint32_t budget)
      : world_(world), out_(out), budget_(budget) {}

  void on_lookup(const Lookup& lookup) override {
    out_.push_back(lookup);
    out_.back().duration_ns = world_.last_call_duration_ns();
    if (++count_ > budget_) {
      exceeded_ = true;
      throw SeamCallBudgetExceeded{};
    }
  }
  bool exceeded() const { return exceeded_; }

 private:
  const World& world_;
  std::vector<Lookup>& out_;
  uint32_t budget_;
  uint32_t count_ = 0;
  bool exceeded_ = false;
};

}  // namespace

std::string_view name_of(Invariant invariant) {
  switch (invariant) {
    case Invariant::kI1VerifiedIsCorrect:
      return "I1";
    case Invariant::kI2NoSilentMisattribution:
      return "I2";
    case Invariant::kI3GoneIsGone:
      return "I3";
    case Invariant::kI4VerdictSafety:
      return "I4";
    case Invariant::kI5LauncherSafety:
      return "I5";
    case Invariant::kI7Totality:
      return "I7";
  }
  return "I?";
}

std::string_view name_of(Severity severity) {
  return severity == Severity::kWarning ? "warning" : "violation";
}

std::string_view name_of(Cell cell) {
  auto i = static_cast<std::size_t>(cell);
  return i < kCellNames.size() ? kCellNames[i] : std::string_view("invalid");
}

std::string describe(const Finding& finding) {
  std::string subject = finding.flow_id != 0 ? fmt::format("flow {}", finding.flow_id)
                                             : fmt::format("launch {}", finding.launch_path);
  return fmt::format("{} {} {}: {}", name_of(finding.invariant), name_of(finding.severity), subject,
                     finding.message);
}

bool names_program(const CodeIdentity& claim, const CodeIdentity& image) {
  if (claim.path != image.path) return false;
  if (claim.cdhash && claim.cdhash != image.cdhash) return false;
  // Every signing fact the claim asserts must be the image's: a right path with another
  // program's signing id, team, platform flag or signature kind names other code (rules key on
  // exactly these facts). What the claim leaves out (an empty field, a path-only claim) is not
  // asserted: omitting a fact makes a claim weaker, not wrong.
  if (!claim.signing_id.empty() && claim.signing_id != image.signing_id) return false;
  if (!claim.team_id.empty() && claim.team_id != image.team_id) return false;
  if (claim.platform && !image.platform) return false;
  if (claim.signature != SignatureKind::kUnsigned && claim.signature != image.signature)
    return false;
  return true;
}

std::vector<Finding> Oracle::check_flow(const Flow& flow, const Attribution& claim,
                                        const Verdict& verdict, const RuleSet& rules,
                                        std::span<const Lookup> lookups) const {
  std::vector<Finding> findings;
  const FlowTruth* truth = world_.flow_truth(flow.flow_id);
  if (truth == nullptr) return findings;
  const Execution* creator = world_.execution(truth->execution);
  const Execution* app = world_.execution(truth->app_execution);
  if (creator == nullptr) return findings;
  const CodeIdentity& creator_image = world_.image(creator->image).identity;
  const CodeIdentity* app_image =
      options_.accept_app_attribution && app != nullptr && app != creator
          ? &world_.image(app->image).identity
          : nullptr;

  const CodeIdentity* named = nullptr;
  if (claim.identity) {
    if (names_program(*claim.identity, creator_image)) {
      named = &creator_image;
    } else if (app_image != nullptr && names_program(*claim.identity, *app_image)) {
      named = app_image;
    }
  }
  const bool wrong = claim.identity.has_value() && named == nullptr;
  const bool exited = creator->state != ExecutionState::kRunning;

  auto add = [&](Invariant invariant, Severity severity, std::string message) {
    Finding f;
    f.invariant = invariant;
    f.severity = severity;
    f.flow_id = flow.flow_id;
    f.true_execution = truth->execution;
    f.true_image = creator_image;
    f.claim = claim;
    f.verdict = verdict;
    f.lookups.assign(lookups.begin(), lookups.end());
    f.message = std::move(message);
    findings.push_back(std::move(f));
  };
  auto claim_text = [&]() {
    return claim.identity ? short_identity(*claim.identity) : std::string("nothing");
  };
  // Built only when a finding needs it: most flows produce none.
  auto truth_text = [&]() {
    return fmt::format(
        "{} pid {} pidversion {}{}", short_identity(creator_image), truth->execution.pid,
        truth->execution.pidversion,
        exited ? fmt::format(" ({} at {} ns)", name_of(creator->state), creator->ended_ns)
               : std::string());
  };

  // I1 / I2 / I3.
  if (claim.status == AttributionStatus::kVerified) {
    if (!claim.identity) {
      add(Invariant::kI1VerifiedIsCorrect, Severity::kViolation,
          fmt::format("claimed verified without an identity (method {}); truth {}", claim.method,
                      truth_text()));
    } else if (wrong) {
      add(Invariant::kI1VerifiedIsCorrect, Severity::kViolation,
          fmt::format("verified identity {} (method {}) is not the flow's program {}", claim_text(),
                      claim.method, truth_text()));
      if (exited) {
        add(Invariant::kI3GoneIsGone, Severity::kViolation,
            fmt::format("the flow's execution had ended, yet {} was claimed verified (method {})",
                        claim_text(), claim.method));
      }
    }
  } else if (wrong) {
    if (claim.status == AttributionStatus::kUnverified) {
      if (verdict.label == VerdictLabel::kVerified) {
        add(Invariant::kI2NoSilentMisattribution, Severity::kViolation,
            fmt::format("unverified identity {} of another program shown as verified; truth {}",
                        claim_text(), truth_text()));
      } else {
        add(Invariant::kI2NoSilentMisattribution, Severity::kWarning,
            fmt::format("unverified identity {} (method {}) names another program; truth {}",
                        claim_text(), claim.method, truth_text()));
      }
    } else if (exited) {
      add(Invariant::kI3GoneIsGone, Severity::kViolation,
          fmt::format("execution ended; claim '{}' carries another program's identity {}; "
                      "truth {}",
                      name_of(claim.status), claim_text(), truth_text()));
    } else {
      add(Invariant::kI2NoSilentMisattribution, Severity::kViolation,
          fmt::format("claim '{}' carries another program's identity {} without the unverified "
                      "label; truth {}",
                      name_of(claim.status), claim_text(), truth_text()));
    }
  }

  // I4.
  if (verdict.decision == Decision::kAllow) {
    const CodeIdentity& true_identity = named != nullptr ? *named : creator_image;
    const Rule* decided = deciding_rule(rules, verdict, claim);
    const Rule* true_rule = rules.match(true_identity);
    if (decided != nullptr && decided->action == Decision::kAllow &&
        !decided->matches(true_identity)) {
      add(Invariant::kI4VerdictSafety, Severity::kViolation,
          fmt::format("flow of {} passed under allow rule '{}' written for other code (claimed {})",
                      short_identity(true_identity), decided->name, claim_text()));
    } else if (true_rule != nullptr && true_rule->action == Decision::kDrop) {
      add(Invariant::kI4VerdictSafety, Severity::kViolation,
          fmt::format("flow of {} escaped deny rule '{}': allowed by '{}' (claim {} {})",
                      short_identity(true_identity), true_rule->name, verdict.rule,
                      name_of(claim.status), claim_text()));
    }
  }
  return findings;
}

std::vector<Finding> Oracle::check_launch(std::string_view path, std::string_view requirement,
                                          std::size_t first_execution,
                                          std::span<const Lookup> lookups) const {
  bool is_blank = requirement.find_first_not_of(" \t\r\n") == std::string_view::npos;
  std::optional<Requirement> parsed;
  if (!is_blank) {
    auto result = Requirement::parse(requirement);
    if (!result.requirement) {
      throw std::invalid_argument(result.error->describe(requirement));
    }
    parsed = std::move(result.requirement);
  }
  std::vector<Finding> findings;
  const std::vector<Execution>& executions = world_.executions();
  for (std::size_t i = first_execution; i < executions.size(); ++i) {
    const Execution& e = executions[i];
    // Processes the scenario started meanwhile (e.g. from the scheduler hook) are not the
    // launcher's doing.
    if (!e.launched_by_caller || !e.ran_code) continue;
    const CodeIdentity& image = world_.image(e.image).identity;
    bool satisfied =
        parsed ? parsed->satisfied_by(image) : image.signature != SignatureKind::kUnsigned;
    if (satisfied) continue;
    Finding f;
    f.invariant = Invariant::kI5LauncherSafety;
    f.severity = Severity::kViolation;
    f.launch_path = std::string(path);
    f.true_execution = e.token.execution();
    f.true_image = image;
    f.lookups.assign(lookups.begin(), lookups.end());
    f.message =
        fmt::format("code {} ran as pid {} pidversion {} but fails requirement '{}'",
                    short_identity(image), e.token.pid(), e.token.pidversion(), requirement);
    findings.push_back(std::move(f));
  }
  return findings;
}

namespace {

struct Severities {
  bool bypassed = false;
  bool misattributed = false;
  bool crashed = false;
};

Severities summarize(std::span<const Finding> findings) {
  Severities s;
  for (const Finding& f : findings) {
    if (f.severity != Severity::kViolation) continue;
    switch (f.invariant) {
      case Invariant::kI4VerdictSafety:
      case Invariant::kI5LauncherSafety:
        s.bypassed = true;
        break;
      case Invariant::kI1VerifiedIsCorrect:
      case Invariant::kI2NoSilentMisattribution:
      case Invariant::kI3GoneIsGone:
        s.misattributed = true;
        break;
      case Invariant::kI7Totality:
        s.crashed = true;
        break;
    }
  }
  return s;
}

}  // namespace

Cell classify_flow(const Attribution& claim, std::span<const Finding> findings) {
  Severities s = summarize(findings);
  if (s.bypassed) return Cell::kBypassed;
  if (s.misattributed) return Cell::kMisattributed;
  if (s.crashed) return Cell::kCrashed;
  return claim.status == AttributionStatus::kVerified ? Cell::kCorrect : Cell::kDowngraded;
}

Cell classify_launch(bool launched, bool original_satisfied, std::span<const Finding> findings) {
  Severities s = summarize(findings);
  if (s.bypassed) return Cell::kBypassed;
  if (s.misattributed) return Cell::kMisattributed;
  if (s.crashed) return Cell::kCrashed;
  if (launched) return Cell::kCorrect;
  return original_satisfied ? Cell::kDowngraded : Cell::kCorrect;
}

namespace {

std::string exception_text(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return fmt::format("threw {}", e.what());
  } catch (...) {
    return "threw a non-standard exception";
  }
}

Finding totality_finding(std::string message) {
  Finding f;
  f.invariant = Invariant::kI7Totality;
  f.severity = Severity::kViolation;
  f.message = std::move(message);
  return f;
}

}  // namespace

FlowCheck resolve_and_check(World& world, Resolver& resolver, const Filter& filter,
                            const Flow& flow, const OracleOptions& options) {
  FlowCheck out;
  CollectingObserver observer(world, out.lookups, options.seam_call_budget);
  ObservedSeam seam(world, &world, observer);
  seam.set_flow(flow.flow_id);
  std::vector<std::string> failures;
  bool resolved = false;
  try {
    out.attribution = resolver.resolve(flow, world.now_ns(), seam);
    resolved = true;
  } catch (const SeamCallBudgetExceeded&) {
    out.attribution =
        Attribution{AttributionStatus::kUnknown, std::nullopt, std::nullopt, "aborted"};
  } catch (...) {
    failures.push_back(
        fmt::format("resolver '{}' {}", resolver.name(), exception_text(std::current_exception())));
    out.attribution =
        Attribution{AttributionStatus::kUnknown, std::nullopt, std::nullopt, "aborted"};
  }
  if (observer.exceeded()) {
    failures.push_back(
        fmt::format("resolver '{}' made more than {} seam calls for one flow "
                    "(unbounded loop)",
                    resolver.name(), options.seam_call_budget));
  }
  try {
    out.verdict = filter.decide(flow, out.attribution);
  } catch (...) {
    failures.push_back(fmt::format("filter {}", exception_text(std::current_exception())));
    out.verdict = Verdict{};
    out.verdict.flow_id = flow.flow_id;
    out.verdict.decision = Decision::kDrop;
    out.verdict.rule = "aborted";
  }
  // The resolver's own decision (a plugin's decide), only for an attribution it really made.
  if (resolved && !observer.exceeded()) {
    try {
      if (std::optional<Decision> own = resolver.decide(flow, out.attribution)) {
        apply_resolver_decision(out.verdict, *own, resolver.name());
      }
    } catch (...) {
      failures.push_back(fmt::format("resolver '{}' decide {}", resolver.name(),
                                     exception_text(std::current_exception())));
      out.verdict.decision = Decision::kDrop;
      out.verdict.rule = "aborted";
    }
  }
  Oracle oracle(world, options);
  out.findings = oracle.check_flow(flow, out.attribution, out.verdict, filter.rules(), out.lookups);
  const FlowTruth* truth = world.flow_truth(flow.flow_id);
  for (std::string& message : failures) {
    Finding f = totality_finding(std::move(message));
    f.flow_id = flow.flow_id;
    if (truth != nullptr) {
      f.true_execution = truth->execution;
      if (const CodeIdentity* image = world.image_of(truth->execution)) f.true_image = *image;
    }
    f.claim = out.attribution;
    f.verdict = out.verdict;
    f.lookups = out.lookups;
    out.findings.push_back(std::move(f));
  }
  out.cell = classify_flow(out.attribution, out.findings);
  return out;
}

LaunchCheck launch_and_check(World& world, Launcher& launcher, std::string_view path,
                             std::string_view requirement, const OracleOptions& options) {
  LaunchCheck out;
  const std::size_t first = world.execution_count();
  if (std::optional<ImageId> image = world.file_at(path)) {
    out.original_satisfied = check_requirement_text(requirement, world.image(*image).identity).ok();
  }
  CollectingObserver observer(world, out.lookups, options.seam_call_budget);
  ObservedSeam seam(world, &world, observer);
  std::vector<std::string> failures;
  try {
    out.result = launcher.launch(path, requirement, seam, seam);
  } catch (const SeamCallBudgetExceeded&) {
    out.result = LaunchResult{};
    out.result.method = "aborted";
  } catch (...) {
    failures.push_back(
        fmt::format("launcher '{}' {}", launcher.name(), exception_text(std::current_exception())));
    out.result = LaunchResult{};
    out.result.method = "aborted";
  }
  if (observer.exceeded()) {
    failures.push_back(fmt::format("launcher '{}' made more than {} seam calls (unbounded loop)",
                                   launcher.name(), options.seam_call_budget));
  }
  Oracle oracle(world, options);
  out.findings = oracle.check_launch(path, requirement, first, out.lookups);
  bool ran = false;
  for (std::size_t i = first; i < world.execution_count(); ++i) {
    const Execution& e = world.executions()[i];
    if (!e.launched_by_caller) continue;
    out.started.push_back(e.token.execution());
    ran = ran || e.ran_code;
  }
  for (std::string& message : failures) {
    Finding f = totality_finding(std::move(message));
    f.launch_path = std::string(path);
    f.lookups = out.lookups;
    out.findings.push_back(std::move(f));
  }
  out.cell = classify_launch(ran, out.original_satisfied, out.findings);
  return out;
}

}  // namespace flowid
