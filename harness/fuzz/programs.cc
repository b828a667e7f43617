#include "harness/fuzz/programs.h"

#include <fmt/format.h>

namespace flowid::fuzz {

RuleSet draw_rules(const RuleDraft& draft, Choices& c) {
  RuleSet rules;
  bool any_deny = false;
  bool any_identity_deny = false;
  for (int program = 0; program < kProgramCount; ++program) {
    if (!draft.used[static_cast<std::size_t>(program)]) continue;
    const Program& p = kPrograms[static_cast<std::size_t>(program)];
    RulePlan plan = draft.plans[static_cast<std::size_t>(program)];
    if (plan == RulePlan::kRandom) {
      static constexpr std::array<uint32_t, 5> kWeights = {30, 25, 15, 15, 15};
      plan = static_cast<RulePlan>(1 + c.weighted(kWeights.data(), kWeights.size()));
    }
    if (plan == RulePlan::kNone) continue;
    const bool allow = plan == RulePlan::kAllowIdentity || plan == RulePlan::kAllowPath;
    bool by_identity = plan == RulePlan::kAllowIdentity || plan == RulePlan::kDenyIdentity;
    // Unsigned and ad-hoc code has no identity a rule can safely name: a path rule instead.
    if (p.signing_id.empty() || p.kind == SignatureKind::kAdHoc ||
        p.kind == SignatureKind::kUnsigned)
      by_identity = false;
    Rule rule;
    rule.name = fmt::format("r{}-{}", rules.rules.size() + 1, allow ? "allow" : "deny");
    rule.action = allow ? Decision::kAllow : Decision::kDrop;
    if (by_identity) {
      rule.signing_id = std::string(p.signing_id);
      rule.team_id = std::string(p.team_id);
      rule.platform = p.team_id.empty();
      rule.tier = RuleTier::kSigningId;
    } else {
      rule.path = std::string(p.path);
      rule.tier = RuleTier::kPath;
    }
    any_deny = any_deny || !allow;
    any_identity_deny = any_identity_deny || (!allow && by_identity);
    rules.rules.push_back(std::move(rule));
  }
  FilterPolicy& policy = rules.policy;
  if (draft.no_rule_allow || (any_deny && c.chance(1, 2))) {
    policy.no_rule = Decision::kAllow;
  } else {
    static constexpr std::array<Decision, 3> kNoRule = {Decision::kAsk, Decision::kDrop,
                                                        Decision::kAllow};
    policy.no_rule = kNoRule[c.below(3)];
  }
  // Applying rules to an unverified (pid-derived, path-only) identity while letting unmatched
  // programs through is fail-open by configuration: an identity deny rule can never match such
  // a claim, whatever the resolver does. The generator does not write that policy (a correct
  // strategy could not be safe under it), nor gone / unknown = allow. Nor "rules" beside an
  // identity deny rule: applied to a path-only unverified claim, a path allow rule for the same
  // program wins over the identity deny rule it can no longer see (found by this fuzzer:
  // token+recheck, seed 2024, case 447528; a property of that policy, not of any resolver).
  switch (c.below(4)) {
    case 0:
      policy.unverified = {FilterPolicy::Mode::kDecide, Decision::kDrop};
      break;
    case 1:
      if (policy.no_rule != Decision::kAllow && !any_identity_deny)
        policy.unverified = {FilterPolicy::Mode::kApplyRules, Decision::kDrop};
      break;
    default:
      break;  // ask
  }
  if (c.chance(1, 4)) policy.gone = {FilterPolicy::Mode::kDecide, Decision::kAsk};
  if (c.chance(1, 4)) policy.unknown = {FilterPolicy::Mode::kDecide, Decision::kAsk};
  return rules;
}

}  // namespace flowid::fuzz
