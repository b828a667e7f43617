#include <gtest/gtest.h>

#include "harness/builders.h"
#include "harness/model.h"

namespace flowid {
namespace {

TEST(AuditToken, AccessorsFollowAuditTokenOrder) {
  AuditToken t;
  t.words = {1, 2, 3, 4, 5, 600, 7, 8};
  EXPECT_EQ(t.auid(), 1u);
  EXPECT_EQ(t.euid(), 2u);
  EXPECT_EQ(t.egid(), 3u);
  EXPECT_EQ(t.ruid(), 4u);
  EXPECT_EQ(t.rgid(), 5u);
  EXPECT_EQ(t.pid(), 600);
  EXPECT_EQ(t.asid(), 7u);
  EXPECT_EQ(t.pidversion(), 8u);
  EXPECT_EQ(t.execution(), (ExecutionId{600, 8}));
}

TEST(AuditToken, ExecMakesADifferentExecution) {
  EXPECT_NE(build::token(744, 1).execution(), build::token(744, 2).execution());
}

TEST(FlowToken, MalformedTokenIsNotWellFormed) {
  auto t = build::token(10, 3);
  EXPECT_TRUE(build::flow_token(t).well_formed());
  auto bad = build::malformed_flow_token(t, 20);  // five words: no pid.
  EXPECT_FALSE(bad.well_formed());
  EXPECT_EQ(bad.token.words[5], 0u) << "words beyond the given size stay zero";
  EXPECT_EQ(bad.token.words[0], t.words[0]);
}

TEST(Names, RoundTripThroughParse) {
  for (int i = 0; i < kLookupCallCount; ++i) {
    auto call = static_cast<LookupCall>(i);
    EXPECT_EQ(parse_lookup_call(name_of(call)), call) << name_of(call);
  }
  for (int i = 0; i < kEventKindCount; ++i) {
    auto kind = static_cast<EventKind>(i);
    EXPECT_EQ(parse_event_kind(name_of(kind)), kind);
  }
  for (int i = 0; i < kSignatureKindCount; ++i) {
    auto kind = static_cast<SignatureKind>(i);
    EXPECT_EQ(parse_signature_kind(name_of(kind)), kind);
  }
  EXPECT_EQ(parse_decision("nonsense"), std::nullopt);
}

TEST(Outcome, DescribesWellKnownCodes) {
  EXPECT_EQ(describe_outcome(build::osstatus(codes::kOsStatusEperm)), "EPERM(100001)");
  EXPECT_EQ(describe_outcome(build::osstatus(codes::kOsStatusEsrch)), "ESRCH(100003)");
  EXPECT_EQ(describe_outcome(build::ok()), "ok");
  EXPECT_EQ(describe_outcome(build::osstatus(-1)), "OSStatus(-1)");
}

TEST(Builders, ReplacedFileHasNewCdhash) {
  auto a = build::developer_id_app("/Applications/X.app/Contents/MacOS/X", "com.x", "TEAM1", 1);
  auto b = build::developer_id_app("/Applications/X.app/Contents/MacOS/X", "com.x", "TEAM1", 2);
  ASSERT_TRUE(a.cdhash && b.cdhash);
  EXPECT_NE(*a.cdhash, *b.cdhash);
  EXPECT_EQ(build::cdhash_of("same"), build::cdhash_of("same"));
}

}  // namespace
}  // namespace flowid
