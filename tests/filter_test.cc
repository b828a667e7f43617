// The filter: precedence across tiers, the policies for each attribution status, labels, and
// the example rule file applied to the identities it was written for.
#include "harness/filter.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "harness/builders.h"

namespace flowid {
namespace {

using Mode = FilterPolicy::Mode;
using S = AttributionStatus;

const CodeIdentity kZoom = build::developer_id_app(
    "/Applications/zoom.us.app/Contents/MacOS/zoom.us", "us.zoom.xos", "BJ4HAAB9B3");
const CodeIdentity kSafari =
    build::platform_binary("/Applications/Safari.app/Contents/MacOS/Safari", "com.apple.Safari");

Rule rule(std::string name, Decision action) {
  Rule r;
  r.name = std::move(name);
  r.action = action;
  return r;
}
Rule cdhash_rule(std::string name, Decision action, const CodeIdentity& id) {
  Rule r = rule(std::move(name), action);
  r.cdhash = id.cdhash;
  r.tier = RuleTier::kCdhash;
  return r;
}
Rule signing_rule(std::string name, Decision action, const CodeIdentity& id) {
  Rule r = rule(std::move(name), action);
  r.signing_id = id.signing_id;
  r.team_id = id.team_id;
  r.platform = id.platform;
  r.tier = RuleTier::kSigningId;
  return r;
}
Rule team_rule(std::string name, Decision action, std::string team_id) {
  Rule r = rule(std::move(name), action);
  r.team_id = std::move(team_id);
  r.tier = RuleTier::kTeamId;
  return r;
}
Rule path_rule(std::string name, Decision action, std::string path) {
  Rule r = rule(std::move(name), action);
  r.path = std::move(path);
  r.tier = RuleTier::kPath;
  return r;
}

Attribution attribution(S status, std::optional<CodeIdentity> identity) {
  Attribution a;
  a.status = status;
  a.identity = std::move(identity);
  return a;
}

Verdict decide(const RuleSet& rules, S status, std::optional<CodeIdentity> identity) {
  return Filter(rules).decide(build::tcp_flow(42, build::token(744, 7)),
                              attribution(status, std::move(identity)));
}

CodeIdentity path_only(std::string_view path) {
  CodeIdentity id;
  id.path = std::string(path);
  return id;
}

// --------------------------------------------------------------------------------------------
// Precedence.

TEST(Precedence, MostSpecificTierWinsWhateverTheFileOrder) {
  RuleSet set;
  set.rules = {path_rule("by-path", Decision::kAsk, kZoom.path),
               team_rule("by-team", Decision::kAllow, kZoom.team_id),
               signing_rule("by-signing-id", Decision::kAllow, kZoom),
               cdhash_rule("by-cdhash", Decision::kDrop, kZoom)};
  EXPECT_EQ(set.match(kZoom)->name, "by-cdhash");
  set.rules.pop_back();
  EXPECT_EQ(set.match(kZoom)->name, "by-signing-id");
  set.rules.pop_back();
  EXPECT_EQ(set.match(kZoom)->name, "by-team");
  set.rules.pop_back();
  EXPECT_EQ(set.match(kZoom)->name, "by-path");
  set.rules.pop_back();
  EXPECT_EQ(set.match(kZoom), nullptr);
}

TEST(Precedence, FirstRuleInFileOrderWinsWithinATier) {
  RuleSet set;
  set.rules = {team_rule("first", Decision::kDrop, kZoom.team_id),
               team_rule("second", Decision::kAllow, kZoom.team_id)};
  EXPECT_EQ(set.match(kZoom)->name, "first");
}

TEST(Precedence, TierIsDerivedFromTheKeysNotTheField) {
  Rule r = rule("cdhash-with-default-tier", Decision::kDrop);
  r.cdhash = kZoom.cdhash;  // tier left at its default (path).
  RuleSet set;
  set.rules = {signing_rule("signing", Decision::kAllow, kZoom), r};
  EXPECT_EQ(set.match(kZoom)->name, "cdhash-with-default-tier");
}

TEST(Matching, SigningIdNeedsTheSameTeam) {
  // Anyone can sign with the identifier us.zoom.xos; only the real team matches the rule.
  const CodeIdentity impostor = build::developer_id_app(kZoom.path, "us.zoom.xos", "EVILTEAM99");
  EXPECT_TRUE(signing_rule("zoom", Decision::kAllow, kZoom).matches(kZoom));
  EXPECT_FALSE(signing_rule("zoom", Decision::kAllow, kZoom).matches(impostor));
}

TEST(Matching, PlatformRuleRejectsANonPlatformBinaryWithTheSameSigningId) {
  // Seed 000's "pretend to be the Finder": a Developer ID program using Apple's identifier.
  const CodeIdentity fake_safari =
      build::developer_id_app("/tmp/Safari", "com.apple.Safari", "EVILTEAM99");
  const CodeIdentity ad_hoc_safari = build::ad_hoc_binary("/tmp/com.apple.Safari");
  const Rule safari = signing_rule("safari", Decision::kAllow, kSafari);
  EXPECT_TRUE(safari.matches(kSafari));
  EXPECT_FALSE(safari.matches(fake_safari));
  EXPECT_FALSE(safari.matches(ad_hoc_safari));
}

TEST(Matching, KeysAnIdentityLacksNeverMatch) {
  const CodeIdentity unsigned_tool = build::unsigned_binary("/usr/local/bin/tool");
  EXPECT_FALSE(cdhash_rule("c", Decision::kDrop, kZoom).matches(unsigned_tool));
  EXPECT_FALSE(team_rule("t", Decision::kDrop, "BJ4HAAB9B3").matches(unsigned_tool));
  EXPECT_TRUE(path_rule("p", Decision::kDrop, "/usr/local/bin/tool").matches(unsigned_tool));
}

TEST(Matching, EveryKeyOfARuleMustMatch) {
  Rule r = path_rule("zoom-at-its-path", Decision::kAllow, kZoom.path);
  r.team_id = kZoom.team_id;
  EXPECT_TRUE(r.matches(kZoom));
  CodeIdentity moved = kZoom;
  moved.path = "/tmp/zoom.us";
  EXPECT_FALSE(r.matches(moved));
}

TEST(Matching, ARuleWithNoKeyMatchesNothing) {
  EXPECT_FALSE(rule("empty", Decision::kAllow).matches(kZoom));
  EXPECT_FALSE(rule("empty", Decision::kAllow).matches(CodeIdentity{}));
}

TEST(Names, TierNames) {
  EXPECT_EQ(name_of(RuleTier::kCdhash), "cdhash");
  EXPECT_EQ(name_of(RuleTier::kSigningId), "signing-id");
  EXPECT_EQ(name_of(RuleTier::kTeamId), "team-id");
  EXPECT_EQ(name_of(RuleTier::kPath), "path");
}

// --------------------------------------------------------------------------------------------
// Policies and labels.

RuleSet zoom_rules() {
  RuleSet set;
  set.rules = {signing_rule("zoom", Decision::kAllow, kZoom),
               path_rule("zoom-path", Decision::kDrop, kZoom.path)};
  return set;
}

TEST(Verdicts, VerifiedMatchUsesTheRule) {
  const Verdict v = decide(zoom_rules(), S::kVerified, kZoom);
  EXPECT_EQ(v.flow_id, 42u);
  EXPECT_EQ(v.decision, Decision::kAllow);
  EXPECT_EQ(v.status, S::kVerified);
  EXPECT_EQ(v.identity, kZoom);
  EXPECT_EQ(v.label, VerdictLabel::kVerified);
  EXPECT_EQ(v.rule, "zoom");
}

TEST(Verdicts, VerifiedWithoutAMatchUsesNoRulePolicy) {
  RuleSet set = zoom_rules();
  set.policy.no_rule = Decision::kDrop;
  const Verdict v = decide(set, S::kVerified, kSafari);
  EXPECT_EQ(v.decision, Decision::kDrop);
  EXPECT_EQ(v.rule, "policy:no-rule");
  EXPECT_EQ(v.label, VerdictLabel::kVerified);
}

TEST(Verdicts, VerifiedWithoutIdentityIsLabelledUnknown) {
  const Verdict v = decide(zoom_rules(), S::kVerified, std::nullopt);
  EXPECT_EQ(v.rule, "policy:no-rule");
  EXPECT_EQ(v.decision, Decision::kAsk);
  EXPECT_EQ(v.label, VerdictLabel::kUnknown);
}

TEST(Verdicts, UnverifiedFixedPolicyIgnoresRules) {
  const Verdict v = decide(zoom_rules(), S::kUnverified, path_only(kZoom.path));
  EXPECT_EQ(v.decision, Decision::kAsk);
  EXPECT_EQ(v.rule, "policy:unverified");
  EXPECT_EQ(v.label, VerdictLabel::kUnverifiedWarning);
}

TEST(Verdicts, UnverifiedRulesPolicyAppliesRulesButKeepsTheWarning) {
  RuleSet set = zoom_rules();
  set.policy.unverified = {Mode::kApplyRules, Decision::kDrop};
  const Verdict v = decide(set, S::kUnverified, path_only(kZoom.path));
  EXPECT_EQ(v.decision, Decision::kDrop);
  EXPECT_EQ(v.rule, "zoom-path");
  EXPECT_EQ(v.label, VerdictLabel::kUnverifiedWarning);

  const Verdict none = decide(set, S::kUnverified, path_only("/bin/other"));
  EXPECT_EQ(none.rule, "policy:no-rule");
  EXPECT_EQ(none.decision, Decision::kAsk);
}

TEST(Verdicts, GoneAndUnknownUseTheirPolicies) {
  RuleSet set = zoom_rules();
  set.policy.gone = {Mode::kDecide, Decision::kAllow};
  const Verdict gone = decide(set, S::kGone, std::nullopt);
  EXPECT_EQ(gone.decision, Decision::kAllow);
  EXPECT_EQ(gone.rule, "policy:gone");
  EXPECT_EQ(gone.label, VerdictLabel::kUnknown);

  const Verdict unknown = decide(set, S::kUnknown, std::nullopt);
  EXPECT_EQ(unknown.decision, Decision::kDrop);
  EXPECT_EQ(unknown.rule, "policy:unknown");
  EXPECT_EQ(unknown.label, VerdictLabel::kUnknown);
}

TEST(Verdicts, GoneWithACachedIdentityUnderRulesPolicy) {
  RuleSet set = zoom_rules();
  set.policy.gone = {Mode::kApplyRules, Decision::kDrop};
  set.policy.unknown = {Mode::kApplyRules, Decision::kDrop};
  const Verdict v = decide(set, S::kGone, kZoom);
  EXPECT_EQ(v.rule, "zoom");
  EXPECT_EQ(v.label, VerdictLabel::kUnverifiedWarning);
  const Verdict nothing = decide(set, S::kUnknown, std::nullopt);
  EXPECT_EQ(nothing.rule, "policy:no-rule");
  EXPECT_EQ(nothing.decision, Decision::kAsk);
}

// --------------------------------------------------------------------------------------------
// The example rule file, applied.

class ExampleRules : public ::testing::Test {
 protected:
  void SetUp() override {
    RuleError error;
    auto rules =
        load_rules(std::string(FLOWID_SOURCE_DIR) + "/fixtures/rules/example.rules", &error);
    ASSERT_TRUE(rules.has_value()) << error.describe();
    filter_.emplace(std::move(*rules));
  }
  Verdict decide(const CodeIdentity& identity, S status = S::kVerified) {
    return filter_->decide(build::tcp_flow(1, build::token(744, 7)), attribution(status, identity));
  }
  std::optional<Filter> filter_;
};

TEST_F(ExampleRules, DecideTheIdentitiesTheyWereWrittenFor) {
  EXPECT_EQ(decide(kSafari).rule, "safari");
  EXPECT_EQ(decide(kSafari).decision, Decision::kAllow);

  const CodeIdentity fake_safari =
      build::developer_id_app("/tmp/Safari", "com.apple.Safari", "EVILTEAM99");
  EXPECT_EQ(decide(fake_safari).rule, "policy:no-rule");
  EXPECT_EQ(decide(fake_safari).decision, Decision::kAsk);

  const CodeIdentity tool = build::developer_id_app("/Applications/Tool.app/Contents/MacOS/Tool",
                                                    "com.example.tool", "EXAMPLE123");
  EXPECT_EQ(decide(tool).rule, "example-team");
  EXPECT_EQ(decide(tool).decision, Decision::kAllow);

  const CodeIdentity updater =
      build::developer_id_app("/Library/Example/updater", "com.example.updater", "EXAMPLE123");
  EXPECT_EQ(decide(updater).rule, "example-updater");
  EXPECT_EQ(decide(updater).decision, Decision::kDrop);

  const CodeIdentity curl = build::platform_binary("/usr/bin/curl", "com.apple.curl");
  EXPECT_EQ(decide(curl).rule, "curl-by-path");
  EXPECT_EQ(decide(curl).decision, Decision::kAsk);
}

TEST_F(ExampleRules, ABadBuildIsDroppedByCdhashWhateverElseAllowsIt) {
  CodeIdentity bad_build = build::developer_id_app("/Applications/Tool.app/Contents/MacOS/Tool",
                                                   "com.example.tool", "EXAMPLE123");
  bad_build.cdhash = Cdhash{0x94, 0xd6, 0x50, 0xdb, 0xd2, 0x6d, 0x77, 0x12, 0x7b, 0x24,
                            0xd6, 0xc8, 0x0c, 0x1f, 0xaf, 0x81, 0x09, 0x36, 0x82, 0x46};
  const Verdict v = decide(bad_build);
  EXPECT_EQ(v.rule, "block-bad-build");
  EXPECT_EQ(v.decision, Decision::kDrop);
}

TEST_F(ExampleRules, SeedZeroTrustdFallbackIsAskedWithAWarning) {
  const Verdict v = decide(path_only("/usr/libexec/trustd"), S::kUnverified);
  EXPECT_EQ(v.decision, Decision::kAsk);
  EXPECT_EQ(v.rule, "policy:unverified");
  EXPECT_EQ(v.label, VerdictLabel::kUnverifiedWarning);
}

// --------------------------------------------------------------------------------------------
// Property: RuleSet::match agrees with the definition (tier by tier, first in file order).

const Rule* reference_match(const RuleSet& set, const CodeIdentity& identity) {
  for (RuleTier tier :
       {RuleTier::kCdhash, RuleTier::kSigningId, RuleTier::kTeamId, RuleTier::kPath}) {
    for (const Rule& r : set.rules) {
      if (r.tier == tier && r.matches(identity)) return &r;
    }
  }
  return nullptr;
}

RC_GTEST_PROP(FilterProperties, MatchFollowsPrecedence, ()) {
  const std::vector<CodeIdentity> pool = {
      kZoom,
      kSafari,
      build::developer_id_app(kZoom.path, "us.zoom.xos", "BJ4HAAB9B3", 2),
      build::developer_id_app("/tmp/z", "us.zoom.xos", "EVILTEAM99"),
      build::ad_hoc_binary(kZoom.path),
      build::unsigned_binary(kSafari.path)};
  RuleSet set;
  const int count = *rc::gen::inRange(0, 12);
  for (int i = 0; i < count; ++i) {
    const CodeIdentity& source = *rc::gen::elementOf(pool);
    const Decision action = *rc::gen::element(Decision::kAllow, Decision::kDrop, Decision::kAsk);
    const std::string name = fmt::format("r{}", i);
    switch (*rc::gen::inRange(0, 4)) {
      case 0:
        if (source.cdhash) set.rules.push_back(cdhash_rule(name, action, source));
        break;
      case 1:
        if (!source.team_id.empty() || source.platform) {
          set.rules.push_back(signing_rule(name, action, source));
        }
        break;
      case 2:
        if (!source.team_id.empty()) set.rules.push_back(team_rule(name, action, source.team_id));
        break;
      default:
        set.rules.push_back(path_rule(name, action, source.path));
    }
  }
  const CodeIdentity& identity = *rc::gen::elementOf(pool);
  RC_ASSERT(set.match(identity) == reference_match(set, identity));
}

}  // namespace
}  // namespace flowid
