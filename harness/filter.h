// The filter: attribution + rules -> verdict (DESIGN §1, "the systems under test" 2).
//
// Rules key on code identity. When several rules match, the most specific tier wins:
// cdhash > signing id (with team id, or platform) > team id > path. Within a tier the first rule
// in the file wins. Path-only rules are weak: a path names whatever file is there now.
//
// Policies decide attributions that are not verified: unverified (derived from a bare pid, shown
// to the user with a warning), gone (the execution exited before it could be resolved) and
// unknown (the resolver could not tell). A policy is either a fixed decision or "rules": apply the
// rules to the unverified identity but label the verdict with a warning.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness/model.h"
#include "harness/resolver.h"

namespace flowid {

enum class RuleTier : uint8_t { kCdhash = 0, kSigningId = 1, kTeamId = 2, kPath = 3 };
std::string_view name_of(RuleTier tier);

struct Rule {
  std::string name;
  Decision action = Decision::kAllow;
  RuleTier tier = RuleTier::kPath;  // derived from which keys are set (the most specific one).
  std::optional<Cdhash> cdhash;
  std::string signing_id;
  std::string team_id;    // with signing_id: both must match; alone: the team tier.
  bool platform = false;  // with signing_id: the code must be a platform binary.
  std::string path;
  int line = 0;  // line in the rule file, for messages (0 = built in code).

  // True when `identity` satisfies every key this rule sets.
  bool matches(const CodeIdentity& identity) const;
  friend bool operator==(const Rule&, const Rule&) = default;
};

// What to do with an attribution that is not verified, and with a flow no rule matches.
struct FilterPolicy {
  enum class Mode : uint8_t { kDecide, kApplyRules };
  struct Entry {
    Mode mode = Mode::kDecide;
    Decision decision = Decision::kDrop;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  Entry unverified{Mode::kDecide, Decision::kAsk};
  Entry gone{Mode::kDecide, Decision::kDrop};
  Entry unknown{Mode::kDecide, Decision::kDrop};
  Decision no_rule = Decision::kAsk;  // verified (or rules-applied) identity, no rule matches.
  friend bool operator==(const FilterPolicy&, const FilterPolicy&) = default;
};

struct RuleSet {
  std::vector<Rule> rules;
  FilterPolicy policy;
  // The winning rule for an identity by precedence, or null.
  const Rule* match(const CodeIdentity& identity) const;
};

// A parse error: the file, the line, what is wrong.
struct RuleError {
  std::string file;
  int line = 0;
  std::string message;
  std::string describe() const;  // "FILE:LINE: MESSAGE"
};

// Parses the rule file format (docs/rules.md). `file` names the source in errors.
// Returns nullopt and fills *error on the first bad line.
std::optional<RuleSet> parse_rules(std::string_view text, std::string_view file, RuleError* error);
std::optional<RuleSet> load_rules(const std::string& path, RuleError* error);
// Writes a rule set in the rule file format; parse_rules reads it back to an equal set (line
// numbers aside). Used to embed the rules a trace was made with in its header.
std::string format_rules(const RuleSet& rules);
// The rules of a recording made without rules: every flow is allowed whatever its attribution
// (every policy and no_rule: allow).
RuleSet record_only_rules();

class Filter final {
 public:
  explicit Filter(RuleSet rules) : rules_(std::move(rules)) {}
  Verdict decide(const Flow& flow, const Attribution& attribution) const;
  const RuleSet& rules() const { return rules_; }

 private:
  RuleSet rules_;
};

// A resolver's own decision (Resolver::decide) applied to the filter's verdict: the decision
// replaces the filter's and the rule becomes "decide:NAME"; status, identity and the label the
// user sees stay the filter's (they describe the attribution, not the decision).
void apply_resolver_decision(Verdict& verdict, Decision decision, std::string_view resolver_name);

// The verdict for a resolved flow: filter.decide, then the resolver's own decision when it makes
// one. Exceptions from either propagate.
Verdict decide_verdict(const Filter& filter, Resolver& resolver, const Flow& flow,
                       const Attribution& attribution);

}  // namespace flowid
