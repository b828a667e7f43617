#include <gtest/gtest.h>
#include <simdjson.h>

#include "harness/builders.h"
#include "harness/event_format.h"

namespace flowid {
namespace {

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) {
  auto result = parser.parse(json);
  EXPECT_EQ(result.error(), simdjson::SUCCESS) << json;
  return result.value_unsafe();
}

TEST(EventJson, FlowHasEveryFieldAndParses) {
  Flow f = build::tcp_flow(7, build::token(744, 3), "www.imdb.com");
  f.source_process_audit_token = build::flow_token(build::token(600, 9));
  f.source_app_identifier = ".com.apple.Safari";
  f.eproc_pid = 600;
  std::string json = format_event_json(build::flow(42, f), 5);
  simdjson::dom::parser parser;
  auto doc = parse(parser, json);
  EXPECT_EQ(uint64_t(doc["index"]), 5u);
  EXPECT_EQ(uint64_t(doc["t"]), 42u);
  EXPECT_EQ(std::string_view(doc["kind"]), "flow");
  EXPECT_EQ(uint64_t(doc["flow_id"]), 7u);
  EXPECT_EQ(int64_t(doc["source_app_audit_token"]["pid"]), 744);
  EXPECT_EQ(uint64_t(doc["source_app_audit_token"]["pidversion"]), 3u);
  EXPECT_EQ(int64_t(doc["source_process_audit_token"]["pid"]), 600);
  EXPECT_EQ(int64_t(doc["eproc_pid"]), 600);
  EXPECT_EQ(std::string_view(doc["remote_endpoint"]["address"]), "93.184.216.34");
  EXPECT_EQ(uint64_t(doc["remote_endpoint"]["port"]), 443u);
  EXPECT_EQ(std::string_view(doc["direction"]), "outbound");
}

TEST(EventJson, AbsentAndMalformedTokens) {
  Flow f = build::tcp_flow(1, build::token(10, 1));
  f.source_app_audit_token = FlowToken{};
  f.source_process_audit_token = build::malformed_flow_token(build::token(10, 1), 20);
  simdjson::dom::parser parser;
  auto doc = parse(parser, format_event_json(build::flow(0, f), 0));
  EXPECT_TRUE(doc["source_app_audit_token"].is_null());
  EXPECT_EQ(uint64_t(doc["source_process_audit_token"]["malformed_size_bytes"]), 20u);
}

TEST(EventJson, NonUtf8PathIsHexNotMangled) {
  CodeIdentity id = build::unsigned_binary(std::string("/tmp/\xff\xfe-bad", 11));
  std::string json =
      format_event_json(build::spawn(1, build::token(5, 1), build::token(1, 1), id), 0);
  simdjson::dom::parser parser;
  auto doc = parse(parser, json);
  EXPECT_EQ(std::string_view(doc["image"]["path"]["hex"]), "2f746d702ffffe2d626164");
}

TEST(EventJson, ControlCharactersAreEscaped) {
  std::string json = format_event_json(build::marker(1, "line\n\"quoted\"\t\x01"), 0);
  simdjson::dom::parser parser;
  auto doc = parse(parser, json);
  EXPECT_EQ(std::string_view(doc["text"]), "line\n\"quoted\"\t\x01");
}

TEST(EventJson, EveryKindParses) {
  auto t = build::token(20, 2);
  Lookup l =
      build::lookup(3, LookupCall::kGuestByAuditToken, build::osstatus(codes::kOsStatusEperm));
  l.args.token = t;
  std::vector<Event> events = {
      build::spawn(1, t, build::token(1, 1),
                   build::platform_binary("/usr/libexec/trustd", "com.apple.trustd")),
      build::exec(2, t, build::token(20, 3), build::ad_hoc_binary("/tmp/a.out")),
      build::exit(3, t, ExitStage::kExited),
      build::file_replace(4, "/usr/local/bin/tool", build::unsigned_binary("/usr/local/bin/tool")),
      build::file_remove(5, "/usr/local/bin/tool"),
      build::flow(6, build::tcp_flow(3, t)),
      build::lookup_event(7, l),
      build::verdict_event(8, build::verdict(3, Decision::kAsk, AttributionStatus::kUnverified)),
      build::marker(9, "hello"),
      build::dropped(10, 12, "ring buffer overrun"),
  };
  simdjson::dom::parser parser;
  for (std::size_t i = 0; i < events.size(); ++i) {
    auto doc = parse(parser, format_event_json(events[i], i));
    EXPECT_EQ(std::string_view(doc["kind"]), name_of(events[i].kind()));
    EXPECT_FALSE(format_event_line(events[i]).empty());
  }
  auto doc = parse(parser, format_event_json(events[6], 6));
  EXPECT_EQ(std::string_view(doc["outcome"]["name"]), "EPERM(100001)");
  EXPECT_EQ(int64_t(doc["outcome"]["code"]), 100001);
}

TEST(EventLine, ShowsExecutionsAndOutcomes) {
  Lookup l =
      build::lookup(2, LookupCall::kGuestByAuditToken, build::osstatus(codes::kOsStatusEsrch));
  l.args.token = build::token(15001, 7);
  std::string line = format_event_line(build::lookup_event(1'500'000'000, l));
  EXPECT_NE(line.find("guest-by-audit-token(15001.7) -> ESRCH(100003)"), std::string::npos) << line;
  EXPECT_NE(line.find("1.500000000"), std::string::npos) << line;
}

}  // namespace
}  // namespace flowid
