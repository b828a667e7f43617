// The isolation worker's wire codec (plugin/wire.h): every message body decodes to what was
// encoded, a truncated payload is detected rather than read past, and frames survive a socket.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "plugin/bridge.h"
#include "plugin/wire.h"

namespace flowid::plugin::wire {
namespace {

// The payload of a frame (past the length and the type byte).
std::string payload_of(Writer& w) { return w.frame().substr(5); }

flowid_audit_token token(uint32_t seed) {
  flowid_audit_token t{};
  for (uint32_t i = 0; i < 8; ++i) t.words[i] = seed * 31 + i;
  return t;
}

TEST(PluginWire, FlowRoundTrips) {
  flowid_flow f{};
  f.flow_id = 0x1122334455667788ULL;
  for (int i = 0; i < 16; ++i) f.identifier[i] = static_cast<uint8_t>(i * 7);
  f.source_app_audit_token = {1, 32, token(1)};
  f.source_process_audit_token = {0, 0, token(2)};
  f.source_app_identifier = "com.example.app";
  f.hostname = "";
  f.remote_hostname = nullptr;
  f.remote_address = "2001:db8::1";
  f.remote_port = 443;
  f.local_port = 50123;
  f.direction = 1;
  f.protocol = 6;
  f.family = 30;
  f.type = 1;
  f.proc_pid = -5;
  f.eproc_pid = 77;
  Writer w(Msg::kResolve);
  put_flow(w, f);
  const std::string payload = payload_of(w);
  Reader r(payload);
  DecodedFlow got;
  get_flow(r, got);
  ASSERT_TRUE(r.done());
  EXPECT_EQ(got.c.flow_id, f.flow_id);
  EXPECT_EQ(std::memcmp(got.c.identifier, f.identifier, sizeof f.identifier), 0);
  EXPECT_EQ(got.c.source_app_audit_token.present, 1u);
  EXPECT_EQ(got.c.source_app_audit_token.size_bytes, 32u);
  EXPECT_EQ(std::memcmp(&got.c.source_app_audit_token.token, &f.source_app_audit_token.token,
                        sizeof(flowid_audit_token)),
            0);
  EXPECT_EQ(std::memcmp(&got.c.source_process_audit_token.token,
                        &f.source_process_audit_token.token, sizeof(flowid_audit_token)),
            0);
  EXPECT_STREQ(got.c.source_app_identifier, "com.example.app");
  EXPECT_STREQ(got.c.hostname, "");
  EXPECT_STREQ(got.c.remote_hostname, "");  // a null string arrives empty.
  EXPECT_STREQ(got.c.remote_address, "2001:db8::1");
  EXPECT_EQ(got.c.remote_port, 443);
  EXPECT_EQ(got.c.local_port, 50123);
  EXPECT_EQ(got.c.direction, 1u);
  EXPECT_EQ(got.c.protocol, 6u);
  EXPECT_EQ(got.c.family, 30u);
  EXPECT_EQ(got.c.type, 1u);
  EXPECT_EQ(got.c.proc_pid, -5);
  EXPECT_EQ(got.c.eproc_pid, 77);
}

TEST(PluginWire, AttributionRoundTripsThroughTheModel) {
  Attribution a;
  a.status = AttributionStatus::kVerified;
  CodeIdentity identity;
  identity.path = "/Applications/Safari.app/Contents/MacOS/Safari";
  identity.signing_id = "com.apple.Safari";
  identity.team_id = "";
  identity.platform = true;
  a.identity = identity;
  a.method = "token";
  Writer w(Msg::kResolved);
  put_attribution(w, attribution_to_c(a));
  const std::string payload = payload_of(w);
  Reader r(payload);
  DecodedAttribution got;
  get_attribution(r, got);
  ASSERT_TRUE(r.done());
  const Attribution back = from_c(got.c);
  EXPECT_EQ(back.status, a.status);
  ASSERT_TRUE(back.identity);
  EXPECT_EQ(back.identity->path, identity.path);
  EXPECT_EQ(back.identity->signing_id, identity.signing_id);
  EXPECT_EQ(back.identity->platform, identity.platform);
  EXPECT_EQ(back.method, "token");

  // No method (a null pointer) stays null, not "".
  flowid_attribution bare{};
  bare.status = FLOWID_STATUS_UNKNOWN;
  Writer w2(Msg::kResolved);
  put_attribution(w2, bare);
  const std::string payload2 = payload_of(w2);
  Reader r2(payload2);
  DecodedAttribution got2;
  get_attribution(r2, got2);
  ASSERT_TRUE(r2.done());
  EXPECT_EQ(got2.c.method, nullptr);
  EXPECT_EQ(got2.c.has_identity, 0u);
}

TEST(PluginWire, LaunchResultOracleOptionsAndVerdictRoundTrip) {
  flowid_launch_result l{};
  l.launched = 1;
  l.has_execution = 1;
  l.execution = token(9);
  l.refusal = {FLOWID_DOMAIN_KERN_RETURN, FLOWID_KERN_ABORTED};
  l.method = "spawn-suspended";
  OracleOptions oracle;
  oracle.accept_app_attribution = false;
  oracle.seam_call_budget = 77;
  fuzz::CaseVerdict v;
  v.error = "";
  v.cell = Cell::kMisattributed;
  v.violated = fuzz::invariant_bit(Invariant::kI1VerifiedIsCorrect) |
               fuzz::invariant_bit(Invariant::kI7Totality);
  v.violations = 3;
  v.warnings = 2;
  v.first_violation = "I1 flow 4: ...";
  v.digest = 0xfeedfacecafebeefULL;
  v.event_count = 123;

  Writer w(Msg::kCaseChecked);
  put_launch_result(w, l);
  put_oracle_options(w, oracle);
  put_verdict(w, v);
  const std::string payload = payload_of(w);
  Reader r(payload);
  DecodedLaunchResult gl;
  get_launch_result(r, gl);
  const OracleOptions go = get_oracle_options(r);
  const fuzz::CaseVerdict gv = get_verdict(r);
  ASSERT_TRUE(r.done());
  EXPECT_EQ(gl.c.launched, 1u);
  EXPECT_EQ(gl.c.has_execution, 1u);
  EXPECT_EQ(std::memcmp(&gl.c.execution, &l.execution, sizeof l.execution), 0);
  EXPECT_EQ(gl.c.refusal.domain, l.refusal.domain);
  EXPECT_EQ(gl.c.refusal.code, l.refusal.code);
  EXPECT_STREQ(gl.c.method, "spawn-suspended");
  EXPECT_EQ(go.accept_app_attribution, false);
  EXPECT_EQ(go.seam_call_budget, 77u);
  EXPECT_EQ(gv.error, v.error);
  EXPECT_EQ(gv.cell, v.cell);
  EXPECT_EQ(gv.violated, v.violated);
  EXPECT_EQ(gv.violations, v.violations);
  EXPECT_EQ(gv.warnings, v.warnings);
  EXPECT_EQ(gv.first_violation, v.first_violation);
  EXPECT_EQ(gv.digest, v.digest);
  EXPECT_EQ(gv.event_count, v.event_count);
}

// Every prefix of a payload is detected as short: the reader answers zeros and ok() turns false,
// never reading past the end.
TEST(PluginWire, TruncatedPayloadsAreDetected) {
  fuzz::CaseVerdict v;
  v.first_violation = "something";
  v.digest = 42;
  Writer w(Msg::kCaseChecked);
  put_verdict(w, v);
  const std::string payload = payload_of(w);
  for (std::size_t size = 0; size < payload.size(); ++size) {
    const std::string cut = payload.substr(0, size);
    Reader r(cut);
    (void)get_verdict(r);
    EXPECT_FALSE(r.ok()) << size;
  }
  Reader whole(payload);
  (void)get_verdict(whole);
  EXPECT_TRUE(whole.done());
}

// Frames cross a socket whole, one after another, and a closed peer is reported.
TEST(PluginWire, ChannelCarriesFramesAndSeesTheEnd) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  Channel a(fds[0]);
  Channel b(fds[1]);
  Writer first(Msg::kSeamCall);
  first.cstr("hello");
  Writer second(Msg::kSeamReply);
  second.u64(7);
  ASSERT_TRUE(a.send(first.frame()));
  ASSERT_TRUE(a.send(second.frame()));
  std::string payload;
  ASSERT_EQ(b.receive(&payload, std::nullopt), Channel::Got::kFrame);
  Reader r1(payload);
  EXPECT_EQ(r1.u8(), static_cast<uint8_t>(Msg::kSeamCall));
  EXPECT_EQ(r1.str(), "hello");
  EXPECT_TRUE(r1.done());
  ASSERT_EQ(b.receive(&payload, std::nullopt), Channel::Got::kFrame);
  Reader r2(payload);
  EXPECT_EQ(r2.u8(), static_cast<uint8_t>(Msg::kSeamReply));
  EXPECT_EQ(r2.u64(), 7u);
  EXPECT_EQ(b.receive(&payload, std::chrono::steady_clock::now()), Channel::Got::kTimeout);
  ::close(fds[0]);
  EXPECT_EQ(b.receive(&payload, std::nullopt), Channel::Got::kClosed);
  ::close(fds[1]);
}

}  // namespace
}  // namespace flowid::plugin::wire
