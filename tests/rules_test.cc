// The rule file parser: the example file, every error with its line, and a round trip property.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "harness/builders.h"
#include "harness/filter.h"

namespace flowid {
namespace {

const std::string kExamplePath = std::string(FLOWID_SOURCE_DIR) + "/fixtures/rules/example.rules";

std::optional<RuleSet> parse(std::string_view text, RuleError* error = nullptr) {
  RuleError ignored;
  return parse_rules(text, "test.rules", error != nullptr ? error : &ignored);
}

Cdhash cdhash_from_hex(std::string_view hex) {
  Cdhash out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  }
  return out;
}

TEST(RulesExample, LoadsWithItsPolicyAndRulesInFileOrder) {
  RuleError error;
  const std::optional<RuleSet> rules = load_rules(kExamplePath, &error);
  ASSERT_TRUE(rules.has_value()) << error.describe();
  const FilterPolicy expected_policy;  // the example spells out the defaults.
  EXPECT_EQ(rules->policy, expected_policy);
  ASSERT_EQ(rules->rules.size(), 6u);

  const Rule& safari = rules->rules[0];
  EXPECT_EQ(safari.name, "safari");
  EXPECT_EQ(safari.action, Decision::kAllow);
  EXPECT_EQ(safari.tier, RuleTier::kSigningId);
  EXPECT_EQ(safari.signing_id, "com.apple.Safari");
  EXPECT_TRUE(safari.platform);
  EXPECT_EQ(safari.line, 11);

  EXPECT_EQ(rules->rules[2].tier, RuleTier::kTeamId);
  EXPECT_EQ(rules->rules[3].tier, RuleTier::kSigningId);
  EXPECT_EQ(rules->rules[3].action, Decision::kDrop);

  const Rule& bad_build = rules->rules[4];
  EXPECT_EQ(bad_build.tier, RuleTier::kCdhash);
  EXPECT_EQ(bad_build.cdhash, cdhash_from_hex("94d650dbd26d77127b24d6c80c1faf8109368246"));

  const Rule& curl = rules->rules[5];
  EXPECT_EQ(curl.tier, RuleTier::kPath);
  EXPECT_EQ(curl.path, "/usr/bin/curl");
  EXPECT_EQ(curl.action, Decision::kAsk);
}

TEST(RulesSyntax, EmptyFileGivesDefaults) {
  auto rules = parse("");
  ASSERT_TRUE(rules);
  EXPECT_TRUE(rules->rules.empty());
  EXPECT_EQ(rules->policy, FilterPolicy{});
  EXPECT_TRUE(parse("# only a comment\n\n   \n"));
}

TEST(RulesSyntax, PolicyRulesModeAndDecisions) {
  auto rules = parse(
      "[policy]\nunverified = \"rules\"\ngone = \"allow\"\nunknown = \"ask\"\nno_rule = "
      "\"drop\"\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->policy.unverified.mode, FilterPolicy::Mode::kApplyRules);
  EXPECT_EQ(rules->policy.gone,
            (FilterPolicy::Entry{FilterPolicy::Mode::kDecide, Decision::kAllow}));
  EXPECT_EQ(rules->policy.unknown,
            (FilterPolicy::Entry{FilterPolicy::Mode::kDecide, Decision::kAsk}));
  EXPECT_EQ(rules->policy.no_rule, Decision::kDrop);
}

TEST(RulesSyntax, StringsEscapesCommentsLineEndingsAndBom) {
  auto rules = parse(
      "\xEF\xBB\xBF# rules\r\n"
      "[[rule]]   # the first rule\r\n"
      "  name = \"quote \\\" tab\\t \\u00e9\"   # trailing comment\r\n"
      "action='drop'\r\n"
      "path = 'C:\\no\\escapes'\r\n");
  // A literal path must still be absolute; this one is not, so it is an error on line 5.
  EXPECT_FALSE(rules);

  rules = parse(
      "[[rule]]\r\n"
      "name = \"quote \\\" tab\\t \\u00e9 # not a comment\"\r\n"
      "action='drop' # comment\r\n"
      "path = '/weird\\dir/x'\r\n"
      "cdhash = \"94D650DBD26D77127B24D6C80C1FAF8109368246\"\r\n");
  ASSERT_TRUE(rules);
  ASSERT_EQ(rules->rules.size(), 1u);
  EXPECT_EQ(rules->rules[0].name, "quote \" tab\t \xC3\xA9 # not a comment");
  EXPECT_EQ(rules->rules[0].path, "/weird\\dir/x");
  EXPECT_EQ(rules->rules[0].cdhash, cdhash_from_hex("94d650dbd26d77127b24d6c80c1faf8109368246"));
  EXPECT_EQ(rules->rules[0].tier, RuleTier::kCdhash);
}

TEST(RulesSyntax, SeveralKeysAllCount) {
  auto rules = parse(
      "[[rule]]\nname = \"a\"\naction = \"allow\"\nsigning_id = \"com.x\"\nteam_id = \"TEAM1\"\n"
      "path = \"/Applications/X.app/Contents/MacOS/X\"\n");
  ASSERT_TRUE(rules);
  EXPECT_EQ(rules->rules[0].tier, RuleTier::kSigningId);
  EXPECT_EQ(rules->rules[0].team_id, "TEAM1");
  EXPECT_FALSE(rules->rules[0].path.empty());
}

TEST(RulesErrors, DescribeNamesFileAndLine) {
  EXPECT_EQ((RuleError{"a.rules", 3, "boom"}).describe(), "a.rules:3: boom");
  EXPECT_EQ((RuleError{"a.rules", 0, "boom"}).describe(), "a.rules: boom");
}

TEST(RulesErrors, MissingFileIsAnErrorWithoutALine) {
  RuleError error;
  EXPECT_FALSE(load_rules(kExamplePath + ".missing", &error));
  EXPECT_EQ(error.line, 0);
  EXPECT_NE(error.describe().find("cannot open rule file"), std::string::npos) << error.describe();
}

struct BadCase {
  std::string_view what;
  std::string_view text;
  int line;
  std::string_view message_part;
};

// A valid rule head to build bad cases on: lines 1-3.
#define RULE_HEAD "[[rule]]\nname = \"r\"\naction = \"allow\"\n"

const BadCase kBadCases[] = {
    {"unknown rule key", RULE_HEAD "signer = \"x\"\n", 4,
     "unknown key 'signer' in [[rule]]; known keys"},
    {"unknown policy key", "[policy]\nunverifed = \"ask\"\n", 2,
     "unknown key 'unverifed' in [policy]"},
    {"unknown section", "\n[rules]\n", 2, "unknown section [rules]: expected [policy] or [[rule]]"},
    {"single-bracket rule", "[rule]\n", 1, "each rule starts with [[rule]]"},
    {"array policy", "[[policy]]\n", 1, "there is one policy table, written [policy]"},
    {"unknown array section", "[[rules]]\n", 1, "unknown section [[rules]]"},
    {"duplicate policy", "[policy]\ngone = \"drop\"\n\n[policy]\n", 4,
     "duplicate [policy] section (the first is on line 1)"},
    {"unterminated header", "[[rule]\n", 1, "unterminated section header"},
    {"text after header", "[policy] x\n", 1, "unexpected text after the section header"},
    {"bool expected", RULE_HEAD "signing_id = \"com.apple.x\"\nplatform = \"yes\"\n", 5,
     "bad value type for 'platform': expected a boolean, got a string"},
    {"string expected, number", "[[rule]]\nname = 3\n", 2,
     "bad value type for 'name': expected a string, got a number"},
    {"string expected, bool", "[[rule]]\nname = \"r\"\naction = true\n", 3,
     "bad value type for 'action': expected a string, got a boolean"},
    {"policy expects string", "[policy]\ngone = false\n", 2, "bad value type for 'gone'"},
    {"bad action", "[[rule]]\nname = \"r\"\naction = \"permit\"\n", 3,
     "bad action 'permit': expected \"allow\", \"drop\" or \"ask\""},
    {"bad policy value", "[policy]\ngone = \"maybe\"\n", 2, "bad value 'maybe' for gone"},
    {"rules is not a no_rule value", "[policy]\nno_rule = \"rules\"\n", 2,
     "bad value 'rules' for no_rule"},
    {"cdhash too short", RULE_HEAD "cdhash = \"94d650\"\n", 4,
     "cdhash must be 40 hex digits (20 bytes), got 6 characters"},
    {"cdhash not hex", RULE_HEAD "cdhash = \"94d650dbd26d77127b24d6c80c1faf810936824g\"\n", 4,
     "'g' is not a hex digit"},
    {"signing id alone", RULE_HEAD "\nsigning_id = \"us.zoom.xos\"\n", 5,
     "signing_id 'us.zoom.xos' alone is ambiguous"},
    {"signing id, platform false", RULE_HEAD "signing_id = \"com.x\"\nplatform = false\n", 4,
     "alone is ambiguous"},
    {"platform without signing id", RULE_HEAD "path = \"/bin/x\"\nplatform = true\n", 5,
     "platform = true only narrows a signing_id"},
    {"platform and team id", RULE_HEAD "signing_id = \"com.x\"\nteam_id = \"T\"\nplatform = true\n",
     6, "platform binaries have no team id"},
    {"rule with no key", "[[rule]]\nname = \"r\"\naction = \"allow\"\n", 1,
     "rule 'r' names no code"},
    {"rule with no key before next", "[[rule]]\nname = \"r\"\naction = \"allow\"\n[[rule]]\n", 1,
     "rule 'r' names no code"},
    {"rule with no name", "[policy]\n[[rule]]\naction = \"allow\"\npath = \"/bin/x\"\n", 2,
     "rule has no name"},
    {"rule with no action", "[[rule]]\nname = \"r\"\npath = \"/bin/x\"\n", 1,
     "rule 'r' has no action"},
    {"duplicate rule name", RULE_HEAD "path = \"/bin/a\"\n[[rule]]\nname = \"r\"\n", 6,
     "duplicate rule name 'r' (first used on line 2)"},
    {"duplicate key", RULE_HEAD "path = \"/bin/a\"\npath = \"/bin/b\"\n", 5,
     "duplicate key 'path' (first set on line 4)"},
    {"duplicate policy key", "[policy]\ngone = \"drop\"\ngone = \"allow\"\n", 3,
     "duplicate key 'gone' (first set on line 2)"},
    {"unterminated string", RULE_HEAD "path = \"/bin/a\n", 4, "unterminated string"},
    {"unterminated escape at end", RULE_HEAD "path = \"/bin/a\\\n", 4, "unterminated string"},
    {"unterminated literal", RULE_HEAD "path = '/bin/a\n", 4, "unterminated string"},
    {"key outside section", "name = \"r\"\n", 1, "key 'name' outside a section"},
    {"bare word value", "[[rule]]\nname = \"r\"\naction = allow\n", 3,
     "strings are quoted, e.g. action = \"allow\""},
    {"array value", RULE_HEAD "path = [\"/a\", \"/b\"]\n", 4, "arrays are not supported"},
    {"inline table", RULE_HEAD "path = { x = 1 }\n", 4, "inline tables are not supported"},
    {"dotted key", "[[rule]]\nname.x = \"r\"\n", 2, "dotted keys are not supported"},
    {"quoted key", "[[rule]]\n\"name\" = \"r\"\n", 2, "quoted keys are not supported"},
    {"missing equals", "[[rule]]\nname \"r\"\n", 2, "expected '=' after key 'name'"},
    {"missing value", "[[rule]]\nname =   # nothing\n", 2, "missing value for 'name'"},
    {"text after value", "[[rule]]\nname = \"r\" \"s\"\n", 2,
     "unexpected text after the value of 'name'"},
    {"unknown escape", "[[rule]]\nname = \"a\\qb\"\n", 2, "unknown escape '\\q'"},
    {"bad unicode escape", "[[rule]]\nname = \"a\\u12\"\n", 2, "bad \\u escape"},
    {"surrogate escape", "[[rule]]\nname = \"a\\ud800\"\n", 2, "surrogate"},
    {"multi-line string", "[[rule]]\nname = \"\"\"r\"\"\"\n", 2,
     "multi-line strings are not supported"},
    {"empty string", RULE_HEAD "team_id = \"\"\n", 4, "'team_id' must not be empty"},
    {"relative path", RULE_HEAD "path = \"bin/x\"\n", 4, "path 'bin/x' is not absolute"},
    {"team id with space", RULE_HEAD "team_id = \"TEAM 1\"\n", 4, "contains whitespace"},
    {"garbage line", "[[rule]]\n= \"r\"\n", 2, "expected a key, a section header or a comment"},
};

TEST(RulesErrors, EachErrorNamesItsLine) {
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.what);
    RuleError error;
    EXPECT_FALSE(parse_rules(c.text, "bad.rules", &error).has_value());
    EXPECT_EQ(error.file, "bad.rules");
    EXPECT_EQ(error.line, c.line) << error.describe();
    EXPECT_NE(error.message.find(c.message_part), std::string::npos)
        << "message: " << error.message << "\nexpected to contain: " << c.message_part;
  }
}

TEST(RulesErrors, ErrorsStopAtTheFirstBadLine) {
  RuleError error;
  EXPECT_FALSE(parse("[policy]\ngone = \"x\"\nunknown = \"y\"\n", &error));
  EXPECT_EQ(error.line, 2);
}

// Round trip: any valid rule set, written out in the format (format_rules), parses back to
// itself.
std::string render(const RuleSet& set) { return format_rules(set); }

rc::Gen<FilterPolicy::Entry> policy_entry() {
  return rc::gen::element(FilterPolicy::Entry{FilterPolicy::Mode::kDecide, Decision::kAllow},
                          FilterPolicy::Entry{FilterPolicy::Mode::kDecide, Decision::kDrop},
                          FilterPolicy::Entry{FilterPolicy::Mode::kDecide, Decision::kAsk},
                          FilterPolicy::Entry{FilterPolicy::Mode::kApplyRules, Decision::kDrop});
}

RC_GTEST_PROP(RulesProperties, RenderedRuleSetsParseBackToThemselves, ()) {
  RuleSet set;
  set.policy.unverified = *policy_entry();
  set.policy.gone = *policy_entry();
  set.policy.unknown = *policy_entry();
  set.policy.no_rule = *rc::gen::element(Decision::kAllow, Decision::kDrop, Decision::kAsk);
  const int count = *rc::gen::inRange(0, 8);
  for (int i = 0; i < count; ++i) {
    Rule r;
    r.name = fmt::format("rule-{}", i);
    r.action = *rc::gen::element(Decision::kAllow, Decision::kDrop, Decision::kAsk);
    if (*rc::gen::arbitrary<bool>()) r.cdhash = build::cdhash_of(fmt::format("c{}", i));
    const int signer = *rc::gen::inRange(0, 3);  // 0 none, 1 team, 2 platform
    if (signer != 0 && *rc::gen::arbitrary<bool>()) r.signing_id = "com.example.tool";
    if (signer == 1) r.team_id = "EXAMPLE123";
    if (signer == 2 && !r.signing_id.empty()) r.platform = true;
    if (*rc::gen::arbitrary<bool>()) r.path = "/usr/bin/tool";
    if (!r.cdhash && r.signing_id.empty() && r.team_id.empty() && r.path.empty()) r.path = "/bin/x";
    r.tier = r.cdhash                ? RuleTier::kCdhash
             : !r.signing_id.empty() ? RuleTier::kSigningId
             : !r.team_id.empty()    ? RuleTier::kTeamId
                                     : RuleTier::kPath;
    set.rules.push_back(r);
  }
  const std::string text = render(set);
  // Rule lines: the [[rule]] header of each rule, found in the rendered text.
  int line = 1;
  std::size_t rule_index = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 8, "[[rule]]") == 0 && (i == 0 || text[i - 1] == '\n')) {
      set.rules[rule_index++].line = line;
    }
    if (text[i] == '\n') ++line;
  }
  RuleError error;
  const std::optional<RuleSet> parsed = parse_rules(text, "gen.rules", &error);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed->policy == set.policy);
  RC_ASSERT(parsed->rules == set.rules);
}

}  // namespace
}  // namespace flowid
