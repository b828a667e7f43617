#include <gtest/gtest.h>

#include "harness/builders.h"
#include "harness/strategies/catalog.h"
#include "replay/recorded_seam.h"
#include "replay/replay.h"

namespace flowid::replay {
namespace {

Lookup recorded(LookupCall call, LookupOutcome outcome = {}) {
  return build::lookup(1, call, outcome);
}

TEST(RecordedSeam, AnswersInRecordedOrderByCallAndArguments) {
  auto token = build::token(744, 3);
  std::vector<Lookup> script;
  Lookup l = recorded(LookupCall::kGuestByAuditToken);
  l.args.token = token;
  l.data.code_handle = 11;
  script.push_back(l);
  l = recorded(LookupCall::kStaticCode);
  l.args.code_handle = 11;
  l.data.code_handle = 12;
  script.push_back(l);
  l = recorded(LookupCall::kSigningInformation);
  l.args.code_handle = 12;
  l.data.identity = build::platform_binary("/usr/libexec/trustd", "com.apple.trustd");
  script.push_back(l);

  RecordedSeam seam;
  seam.reset(1, script);
  auto guest = seam.guest_by_audit_token(token);
  ASSERT_TRUE(guest.ok());
  EXPECT_EQ(guest.value, 11u);
  auto code = seam.static_code(guest.value);
  EXPECT_EQ(code.value, 12u);
  auto info = seam.signing_information(code.value);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info.value.path, "/usr/libexec/trustd");
  EXPECT_TRUE(seam.off_script().empty());
  EXPECT_EQ(seam.answered(), 3u);
}

TEST(RecordedSeam, RecordedFailuresAreReplayedAsRecorded) {
  auto token = build::token(14727, 9);
  Lookup l = recorded(LookupCall::kGuestByAuditToken, build::osstatus(codes::kOsStatusEperm));
  l.args.token = token;
  std::vector<Lookup> script{l};
  RecordedSeam seam;
  seam.reset(1, script);
  auto r = seam.guest_by_audit_token(token);
  EXPECT_EQ(r.outcome, build::osstatus(codes::kOsStatusEperm));
}

TEST(RecordedSeam, UnrecordedCallIsOffScriptNotAGuess) {
  auto token = build::token(744, 3);
  Lookup l = recorded(LookupCall::kGuestByAuditToken);
  l.args.token = token;
  std::vector<Lookup> script{l};
  RecordedSeam seam;
  seam.reset(7, script);
  // Other arguments than recorded: off-script.
  auto r = seam.guest_by_audit_token(build::token(744, 4));
  EXPECT_EQ(r.outcome, kNotRecorded);
  // A call never recorded: off-script.
  auto p = seam.proc_pidpath(744);
  EXPECT_EQ(p.outcome, kNotRecorded);
  ASSERT_EQ(seam.off_script().size(), 2u);
  EXPECT_EQ(seam.off_script()[0].flow_id, 7u);
  EXPECT_EQ(describe(seam.off_script()[1]), "proc-pidpath(pid 744)");
}

TEST(RecordedSeam, EachRecordedLookupAnswersOnce) {
  Lookup l = recorded(LookupCall::kKillZero);
  l.args.pid = 5;
  std::vector<Lookup> script{l};
  RecordedSeam seam;
  seam.reset(1, script);
  EXPECT_TRUE(seam.kill_zero(5).ok());
  EXPECT_EQ(seam.kill_zero(5), kNotRecorded);
}

TEST(RecordedSeam, AuditTokenToPidNeverOffScript) {
  RecordedSeam seam;
  seam.reset(1, {});
  EXPECT_EQ(seam.audit_token_to_pid(build::token(99, 1)), 99);
  EXPECT_TRUE(seam.off_script().empty());
}

TEST(Golden, RoundTripsEveryField) {
  std::vector<Verdict> verdicts;
  auto v = build::verdict(3, Decision::kAllow, AttributionStatus::kVerified,
                          build::developer_id_app("/Applications/My App.app/Contents/MacOS/My App",
                                                  "com.example.app", "TEAM123"));
  v.rule = "my app";
  verdicts.push_back(v);
  verdicts.push_back(build::verdict(4, Decision::kDrop, AttributionStatus::kGone));
  CodeIdentity path_only;
  path_only.path = "/usr/libexec/trustd";
  auto u = build::verdict(5, Decision::kAsk, AttributionStatus::kUnverified, path_only);
  u.rule = "policy:unverified";
  verdicts.push_back(u);
  std::string text = format_golden(verdicts, "golden for test\nsecond line");
  std::string error;
  auto parsed = parse_golden(text, "x.golden", &error);
  ASSERT_TRUE(parsed) << error << "\n" << text;
  EXPECT_EQ(*parsed, verdicts) << text;
}

TEST(Golden, ErrorsNameFileAndLine) {
  std::string error;
  EXPECT_FALSE(
      parse_golden("# ok\nflow 1: allow verified [verified] identity=none\nflow x: allow\n",
                   "a.golden", &error));
  EXPECT_EQ(error, "a.golden:3: bad flow id 'x'");
  EXPECT_FALSE(
      parse_golden("flow 1: permit verified [verified] identity=none\n", "b.golden", &error));
  EXPECT_EQ(error, "b.golden:1: unknown decision 'permit'");
  EXPECT_FALSE(
      parse_golden("flow 1: allow verified [verified] cdhash=abc path=/x\n", "c.golden", &error));
  EXPECT_NE(error.find("c.golden:1: cdhash must be 40 hex digits"), std::string::npos) << error;
}

TEST(CompareVerdicts, NamesWhatChanged) {
  auto a = build::verdict(1, Decision::kAllow, AttributionStatus::kVerified,
                          build::platform_binary("/usr/libexec/trustd", "com.apple.trustd"));
  auto b = build::verdict(1, Decision::kDrop, AttributionStatus::kGone);
  auto what = compare_verdicts(a, b);
  EXPECT_NE(what.find("decision allow -> drop"), std::string::npos) << what;
  EXPECT_NE(what.find("status verified -> gone"), std::string::npos) << what;
  auto c = a;
  c.rule = "another name";
  EXPECT_EQ(compare_verdicts(a, c), "") << "rule names are not compared";
}

}  // namespace
}  // namespace flowid::replay
