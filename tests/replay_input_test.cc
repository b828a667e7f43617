// What `flowid replay` says about a trace it cannot replay in full: lookups that no flow of the
// trace claims are reported (count and first flow ids) and make the input damaged (exit 4), as a
// truncated trace does, instead of passing silently.
#include <gtest/gtest.h>

#include <fstream>

#include "harness/builders.h"
#include "tests/cli_runner.h"
#include "trace/trace.h"

namespace flowid {
namespace {

std::vector<Event> one_flow() {
  auto app = build::token(501, 7);
  auto image = build::developer_id_app("/Applications/Mail.app/Contents/MacOS/Mail",
                                       "com.apple.mail", "TEAM123456");
  return {
      build::spawn(100, app, build::token(1, 1), image),
      build::flow(110, build::tcp_flow(1, app, "imap.example.com")),
      build::lookup_event(111, build::lookup(1, LookupCall::kGuestByAuditToken)),
      build::verdict_event(
          112, build::verdict(1, Decision::kAllow, AttributionStatus::kVerified, image)),
  };
}

void write(const std::string& path, const std::vector<Event>& events) {
  std::ofstream(path, std::ios::binary) << trace::write_to_bytes(trace::TraceHeader{}, events);
}

TEST(ReplayInput, LookupsForFlowsTheTraceNeverShowsAreReported) {
  testing::TempDir dir;
  const std::string clean = dir.file("clean.fltr");
  const std::string orphans = dir.file("orphans.fltr");
  write(clean, one_flow());
  auto events = one_flow();
  for (uint64_t id = 1001; id <= 3000; ++id) {
    events.push_back(
        build::lookup_event(200 + id, build::lookup(id, LookupCall::kGuestByAuditToken)));
  }
  // A lookup after its flow's verdict is not replayed either.
  events.push_back(build::lookup_event(9000, build::lookup(1, LookupCall::kGuestByAuditToken)));
  write(orphans, events);

  auto baseline = testing::run_flowid({"replay", clean});
  ASSERT_NE(baseline.exit_code, 4) << baseline.out << baseline.err;
  auto r = testing::run_flowid({"replay", orphans});
  EXPECT_EQ(r.exit_code, 4) << r.out << r.err;
  const std::string all = r.out + r.err;
  EXPECT_NE(all.find("2001 lookups for 2001 flows"), std::string::npos) << all;
  EXPECT_NE(all.find("flow ids 1, 1001, 1002, 1003, 1004, ..."), std::string::npos) << all;
}

}  // namespace
}  // namespace flowid
