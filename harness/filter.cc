// The filter: rule matching by precedence tier, and the mapping from an attribution's status to a
// decision and a label (filter.h states the contract).
//
// Labels: "verified" only for a verified attribution that names an identity; "unknown" whenever
// there is no identity to show; "unverified-warning" for every other identity the user is shown
// (an unverified one, or a gone / unknown one whose cached identity a resolver still reported).
#include "harness/filter.h"

#include <array>

namespace flowid {
namespace {

// The most specific key a rule sets. The parser stores it in Rule::tier; rules built in code may
// leave that field at its default, so matching derives it again from the keys.
RuleTier effective_tier(const Rule& rule) {
  if (rule.cdhash) return RuleTier::kCdhash;
  if (!rule.signing_id.empty()) return RuleTier::kSigningId;
  if (!rule.team_id.empty()) return RuleTier::kTeamId;
  return RuleTier::kPath;
}

bool has_any_key(const Rule& rule) {
  return rule.cdhash || !rule.signing_id.empty() || !rule.team_id.empty() || !rule.path.empty();
}

VerdictLabel label_for(const Attribution& attribution) {
  if (!attribution.identity) return VerdictLabel::kUnknown;
  if (attribution.status == AttributionStatus::kVerified) return VerdictLabel::kVerified;
  return VerdictLabel::kUnverifiedWarning;
}

constexpr std::string_view kPolicyUnverified = "policy:unverified";
constexpr std::string_view kPolicyGone = "policy:gone";
constexpr std::string_view kPolicyUnknown = "policy:unknown";
constexpr std::string_view kPolicyNoRule = "policy:no-rule";

}  // namespace

std::string_view name_of(RuleTier tier) {
  constexpr std::array<std::string_view, 4> kNames = {"cdhash", "signing-id", "team-id", "path"};
  const auto index = static_cast<std::size_t>(tier);
  return index < kNames.size() ? kNames[index] : std::string_view("invalid");
}

bool Rule::matches(const CodeIdentity& identity) const {
  // A rule with no key would match everything; the parser rejects it, and code that builds one
  // gets a rule that matches nothing rather than a silent catch-all.
  if (!has_any_key(*this)) return false;
  if (cdhash && identity.cdhash != cdhash) return false;
  if (!signing_id.empty() && identity.signing_id != signing_id) return false;
  if (!team_id.empty() && identity.team_id != team_id) return false;
  if (platform && !identity.platform) return false;
  if (!path.empty() && identity.path != path) return false;
  return true;
}

const Rule* RuleSet::match(const CodeIdentity& identity) const {
  // One pass: a later rule replaces the best so far only when it is in a strictly more specific
  // tier, so within a tier the first rule in file order wins.
  const Rule* best = nullptr;
  RuleTier best_tier = RuleTier::kPath;
  for (const Rule& rule : rules) {
    const RuleTier tier = effective_tier(rule);
    if (best != nullptr && tier >= best_tier) continue;
    if (!rule.matches(identity)) continue;
    best = &rule;
    best_tier = tier;
    if (tier == RuleTier::kCdhash) break;
  }
  return best;
}

Verdict Filter::decide(const Flow& flow, const Attribution& attribution) const {
  Verdict verdict;
  verdict.flow_id = flow.flow_id;
  verdict.status = attribution.status;
  verdict.identity = attribution.identity;
  verdict.label = label_for(attribution);

  const FilterPolicy& policy = rules_.policy;
  const FilterPolicy::Entry* entry = nullptr;
  std::string_view policy_name;
  switch (attribution.status) {
    case AttributionStatus::kVerified:
      break;
    case AttributionStatus::kUnverified:
      entry = &policy.unverified;
      policy_name = kPolicyUnverified;
      break;
    case AttributionStatus::kGone:
      entry = &policy.gone;
      policy_name = kPolicyGone;
      break;
    case AttributionStatus::kUnknown:
      entry = &policy.unknown;
      policy_name = kPolicyUnknown;
      break;
  }
  if (entry != nullptr && entry->mode == FilterPolicy::Mode::kDecide) {
    verdict.decision = entry->decision;
    verdict.rule = policy_name;
    return verdict;
  }

  // Verified, or a policy that says to apply the rules to whatever identity there is.
  const Rule* rule = attribution.identity ? rules_.match(*attribution.identity) : nullptr;
  if (rule != nullptr) {
    verdict.decision = rule->action;
    verdict.rule = rule->name;
  } else {
    verdict.decision = policy.no_rule;
    verdict.rule = kPolicyNoRule;
  }
  return verdict;
}

void apply_resolver_decision(Verdict& verdict, Decision decision, std::string_view resolver_name) {
  verdict.decision = decision;
  verdict.rule = "decide:";
  verdict.rule += resolver_name;
}

Verdict decide_verdict(const Filter& filter, Resolver& resolver, const Flow& flow,
                       const Attribution& attribution) {
  Verdict verdict = filter.decide(flow, attribution);
  if (std::optional<Decision> own = resolver.decide(flow, attribution)) {
    apply_resolver_decision(verdict, *own, resolver.name());
  }
  return verdict;
}

}  // namespace flowid
