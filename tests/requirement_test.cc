// The requirement language: parsing, precedence, evaluation per signature kind, errors as values.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <fmt/format.h>

#include "harness/builders.h"
#include "harness/requirement.h"

namespace flowid {
namespace {

Requirement parse_ok(std::string_view text) {
  auto r = Requirement::parse(text);
  if (!r.requirement) {
    ADD_FAILURE() << r.error->describe(text);
    return Requirement::parse("never").requirement.value();
  }
  EXPECT_FALSE(r.error.has_value());
  return *r.requirement;
}

RequirementError parse_error(std::string_view text) {
  auto r = Requirement::parse(text);
  EXPECT_FALSE(r.requirement.has_value()) << text;
  return r.error.value_or(RequirementError{});
}

std::string hex_of(const Cdhash& h) {
  std::string out;
  for (uint8_t b : h) out += fmt::format("{:02x}", b);
  return out;
}

const CodeIdentity kTrustd = build::platform_binary("/usr/libexec/trustd", "com.apple.trustd");
const CodeIdentity kLulu = build::developer_id_app("/Applications/LuLu.app/Contents/MacOS/LuLu",
                                                   "com.objective-see.lulu", "VBG97UB4TA");
const CodeIdentity kStore = build::app_store_app("/Applications/Things.app/Contents/MacOS/Things",
                                                 "com.culturedcode.things", "JLMPQHK86H");
const CodeIdentity kAdHoc = build::ad_hoc_binary("/tmp/tool");
const CodeIdentity kUnsigned = build::unsigned_binary("/tmp/raw");

TEST(Requirement, AnchorAppleIsPlatformOnly) {
  Requirement r = parse_ok("anchor apple");
  EXPECT_TRUE(r.satisfied_by(kTrustd));
  EXPECT_FALSE(r.satisfied_by(kLulu));
  EXPECT_FALSE(r.satisfied_by(kStore));
  EXPECT_FALSE(r.satisfied_by(kAdHoc));
}

TEST(Requirement, AnchorAppleGenericCoversAppleIssuedChainsNotAdHoc) {
  Requirement r = parse_ok("anchor apple generic");
  EXPECT_TRUE(r.satisfied_by(kTrustd));
  EXPECT_TRUE(r.satisfied_by(kLulu));
  EXPECT_TRUE(r.satisfied_by(kStore));
  EXPECT_FALSE(r.satisfied_by(kAdHoc));
  EXPECT_FALSE(r.satisfied_by(kUnsigned));
}

TEST(Requirement, IdentifierAndTeam) {
  Requirement r = parse_ok(
      "anchor apple generic and identifier \"com.objective-see.lulu\" and "
      "certificate leaf[subject.OU] = \"VBG97UB4TA\"");
  EXPECT_TRUE(r.satisfied_by(kLulu));
  CodeIdentity other_team = kLulu;
  other_team.team_id = "EVILTEAM01";
  EXPECT_FALSE(r.satisfied_by(other_team));
  CodeIdentity other_id = kLulu;
  other_id.signing_id = "com.evil";
  EXPECT_FALSE(r.satisfied_by(other_id));
  // Bare words work for values too, and "identifier =" is accepted.
  EXPECT_TRUE(parse_ok("identifier = com.apple.trustd").satisfied_by(kTrustd));
}

TEST(Requirement, TeamIdNeedsALeafCertificate) {
  CodeIdentity ad_hoc_with_team = kAdHoc;
  ad_hoc_with_team.team_id = "VBG97UB4TA";  // claimed, but ad-hoc code has no certificate.
  EXPECT_FALSE(
      parse_ok("certificate leaf[subject.OU] = VBG97UB4TA").satisfied_by(ad_hoc_with_team));
}

TEST(Requirement, CdhashPinsExactContent) {
  Requirement r = parse_ok(fmt::format("cdhash H\"{}\"", hex_of(*kLulu.cdhash)));
  EXPECT_TRUE(r.satisfied_by(kLulu));
  CodeIdentity replaced = build::developer_id_app(kLulu.path, kLulu.signing_id, kLulu.team_id, 2);
  EXPECT_FALSE(r.satisfied_by(replaced));
}

TEST(Requirement, AndBindsTighterThanOr) {
  // never or (always and never) -> false; (never or always) and never -> false; never or always
  // and always -> true.
  EXPECT_FALSE(parse_ok("never or always and never").satisfied_by(kLulu));
  EXPECT_TRUE(parse_ok("always or always and never").satisfied_by(kLulu));
  EXPECT_FALSE(parse_ok("(always or always) and never").satisfied_by(kLulu));
  EXPECT_TRUE(parse_ok("anchor apple or identifier com.objective-see.lulu").satisfied_by(kLulu));
  EXPECT_TRUE(parse_ok("!anchor apple && (anchor apple generic || never)").satisfied_by(kLulu));
  EXPECT_EQ(parse_ok("never or always and never").describe(), "(never or (always and never))");
}

TEST(Requirement, CheckAnswersUnsignedBeforeTheExpression) {
  Requirement r = parse_ok("always");
  EXPECT_EQ(r.check(kUnsigned), build::osstatus(codes::kSecCsUnsigned));
  EXPECT_EQ(r.check(kAdHoc), build::ok());
  EXPECT_EQ(parse_ok("anchor apple").check(kLulu), build::osstatus(codes::kSecCsReqFailed));
  EXPECT_EQ(check_requirement_text("", kLulu), build::ok());
  EXPECT_EQ(check_requirement_text("  ", kUnsigned), build::osstatus(codes::kSecCsUnsigned));
  EXPECT_EQ(check_requirement_text("anchor banana", kLulu),
            build::osstatus(codes::kSecCsReqInvalid));
}

TEST(Requirement, ParseErrorsNameTheOffset) {
  EXPECT_EQ(parse_error("anchor banana").offset, 7u);
  EXPECT_EQ(parse_error("identifier").offset, 10u);
  EXPECT_EQ(parse_error("(anchor apple").offset, 13u);
  EXPECT_EQ(parse_error("anchor apple and").offset, 16u);
  EXPECT_EQ(parse_error("anchor apple )").offset, 13u);
  EXPECT_EQ(parse_error("identifier \"unterminated").offset, 11u);
  EXPECT_EQ(parse_error("cdhash H\"abcd\"").offset, 7u);
  EXPECT_EQ(parse_error("certificate root[subject.CN] = x").offset, 12u);
  EXPECT_EQ(parse_error("anchor apple $").offset, 13u);
  auto e = parse_error("frobnicate");
  EXPECT_NE(e.describe("frobnicate").find("unknown requirement clause 'frobnicate'"),
            std::string::npos)
      << e.describe("frobnicate");
  EXPECT_FALSE(Requirement::parse("").requirement.has_value());
}

TEST(Requirement, NestingIsBounded) {
  std::string deep(200, '(');
  deep += "always";
  deep += std::string(200, ')');
  auto e = parse_error(deep);
  EXPECT_NE(e.message.find("nested deeper"), std::string::npos) << e.message;
  std::string bangs(200, '!');
  bangs += "always";
  parse_error(bangs);
}

// Parsing arbitrary bytes never crashes and always yields exactly one of the two results.
RC_GTEST_PROP(RequirementProperty, ParseIsTotal, (const std::string& text)) {
  auto r = Requirement::parse(text);
  RC_ASSERT(r.requirement.has_value() != r.error.has_value());
  if (r.error) RC_ASSERT(r.error->offset <= text.size());
}

// The canonical rendering parses back to a requirement with the same answers.
RC_GTEST_PROP(RequirementProperty, DescribeRoundTrips, ()) {
  const std::vector<std::string> clauses = {"anchor apple",
                                            "anchor apple generic",
                                            "identifier \"com.objective-see.lulu\"",
                                            "certificate leaf[subject.OU] = \"VBG97UB4TA\"",
                                            "always",
                                            "never",
                                            fmt::format("cdhash H\"{}\"", hex_of(*kLulu.cdhash))};
  auto count = *rc::gen::inRange(1, 6);
  std::string text;
  for (int i = 0; i < count; ++i) {
    if (i > 0) text += *rc::gen::element<std::string>(" and ", " or ");
    if (*rc::gen::arbitrary<bool>()) text += "!";
    text += *rc::gen::elementOf(clauses);
  }
  auto first = Requirement::parse(text);
  RC_ASSERT(first.requirement.has_value());
  auto second = Requirement::parse(first.requirement->describe());
  RC_ASSERT(second.requirement.has_value());
  for (const CodeIdentity* id : {&kTrustd, &kLulu, &kStore, &kAdHoc, &kUnsigned}) {
    RC_ASSERT(first.requirement->satisfied_by(*id) == second.requirement->satisfied_by(*id));
  }
}

}  // namespace
}  // namespace flowid
