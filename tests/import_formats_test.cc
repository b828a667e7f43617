// NEFilterFlow, Tetragon and auditd importers, and format detection: the project's own
// fixtures, bad input, and the real captures in fielddata (skipped when absent).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include <filesystem>

#include "import/test_support.h"
#include "import/text.h"

namespace flowid::import {
namespace {

using testing::Imported;
using testing::read_file;
using testing::run_import;

const std::string kFixtureDir = std::string(FLOWID_SOURCE_DIR) + "/tests/data/import";
// $FLOWID_FIELDDATA, else ../shared/fielddata beside the source tree (tests skip without it).
const std::string kFieldDir =
    std::getenv("FLOWID_FIELDDATA") ? std::getenv("FLOWID_FIELDDATA") : FLOWID_FIELDDATA_DIR;

std::string fixture(const std::string& name) {
  auto text = read_file(kFixtureDir + "/" + name);
  EXPECT_TRUE(text) << "missing fixture " << name;
  return text.value_or("");
}

std::string hex_of(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

// ---------------------------------------------------------------------------------------------
// NEFilterFlow

TEST(NeFilterFlowImport, FixtureMapsEveryField) {
  Imported r =
      run_import(fixture("nefilterflow_basic.txt"), Format::kNeFilterFlow, false, "log.txt");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  EXPECT_EQ(r.header.recorder, "flowid import:nefilterflow");
  EXPECT_EQ(r.header.start_wall_time_ns, *parse_iso8601_ns("2024-03-01T11:00:00Z"));

  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 2u);
  const Flow& f = flows[0];
  EXPECT_EQ(f.flow_id, 1u);
  EXPECT_EQ(f.identifier, *parse_uuid("11111111-2222-3333-4444-555555555555"));
  EXPECT_EQ(f.hostname, "www.example.com");
  EXPECT_EQ(f.remote_hostname, "www.example.com");
  EXPECT_EQ(f.source_app_identifier, ".com.example.Browser");
  EXPECT_EQ(f.source_app_version, "2.1");
  EXPECT_EQ(hex_of(f.source_app_unique_identifier), "00112233445566778899aabbccddeeff00112233");
  // A complete token in the block is kept, word by word.
  ASSERT_TRUE(f.source_app_audit_token.well_formed());
  EXPECT_EQ(f.source_app_audit_token.token.auid(), 501u);
  EXPECT_EQ(f.source_app_audit_token.token.egid(), 20u);
  EXPECT_EQ(f.source_app_audit_token.token.pid(), 1234);
  EXPECT_EQ(f.source_app_audit_token.token.asid(), 100000u);
  EXPECT_EQ(f.source_app_audit_token.token.pidversion(), 12345u);
  EXPECT_FALSE(f.source_process_audit_token.present);
  EXPECT_EQ(f.proc_pid, 1234);
  EXPECT_EQ(f.eproc_pid, 1234);
  EXPECT_EQ(f.direction, FlowDirection::kOutbound);
  EXPECT_EQ(f.in_bytes, 10u);
  EXPECT_EQ(f.out_bytes, 20u);
  EXPECT_EQ(f.local_endpoint, (Endpoint{"192.168.1.10", 50000}));
  EXPECT_EQ(f.remote_endpoint, (Endpoint{"93.184.216.34", 443}));
  EXPECT_EQ(f.protocol, 6u);
  EXPECT_EQ(f.family, 2u);
  EXPECT_EQ(f.type, 1u);
  EXPECT_EQ(f.proc_uuid, *parse_uuid("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"));
  EXPECT_EQ(f.eproc_uuid, *parse_uuid("AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEF"));

  // The second flow: an abbreviated token is left absent (never invented), a short one is kept
  // as malformed (fault F7), IPv6 endpoints in both notations.
  const Flow& g = flows[1];
  EXPECT_EQ(g.flow_id, 2u);
  EXPECT_FALSE(g.source_app_audit_token.present);
  EXPECT_TRUE(g.source_process_audit_token.present);
  EXPECT_FALSE(g.source_process_audit_token.well_formed());
  EXPECT_EQ(g.source_process_audit_token.size_bytes, 16u);
  EXPECT_EQ(g.proc_pid, 600);
  EXPECT_EQ(g.eproc_pid, 744);
  EXPECT_EQ(g.direction, FlowDirection::kInbound);
  EXPECT_EQ(g.local_endpoint, (Endpoint{"2001:db8::1", 443}));
  EXPECT_EQ(g.remote_endpoint, (Endpoint{"2001:db8::2", 51000}));
  EXPECT_EQ(r.events[r.events.size() - 1].time_ns, 1'000'000'000u);

  // Log lines are markers; a continuation line joins its message; the heading precedes its flow.
  auto markers = r.all<Marker>();
  ASSERT_EQ(markers.size(), 4u);
  EXPECT_EQ(markers[0].text.rfind("Filtering the log data", 0), 0u);
  EXPECT_NE(markers[0].text.find("\nTimestamp"), std::string::npos);
  EXPECT_NE(markers[1].text.find("Handling new flow:"), std::string::npos);
  EXPECT_NE(markers[2].text.find("allowing flow for pid 1234\n  second line"), std::string::npos);
  EXPECT_EQ(r.events[1].kind(), EventKind::kMarker);
  EXPECT_EQ(r.events[2].kind(), EventKind::kFlow);
  EXPECT_EQ(
      r.stats.unmapped_by_reason.at("audit token abbreviated in the description (left absent)"),
      1u);
}

TEST(NeFilterFlowImport, BarePidsNeverBecomeTokens) {
  std::string text =
      "2024-03-01 12:00:00.000000+0000 0x1 Default 0x0 1 0 x: new flow:\n"
      "        identifier = 11111111-2222-3333-4444-555555555555\n"
      "        procPID = 847\n"
      "        eprocPID = 847\n";
  Imported r = run_import(text, Format::kNeFilterFlow);
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_FALSE(flows[0].source_app_audit_token.present);
  EXPECT_FALSE(flows[0].source_process_audit_token.present);
  EXPECT_EQ(flows[0].proc_pid, 847);
  EXPECT_NE(r.config("import.identity.nefilterflow").find("bare pids"), std::string::npos);
}

TEST(NeFilterFlowImport, BadValuesAreBadRecordsAtTheirLine) {
  const std::string head =
      "2024-03-01 12:00:00.000000+0000 0x1 Default 0x0 1 0 x: new flow:\n"
      "        identifier = 11111111-2222-3333-4444-555555555555\n";
  const std::string tail =
      "2024-03-01 12:00:01.000000+0000 0x1 Default 0x0 1 0 x: new flow:\n"
      "        identifier = 21111111-2222-3333-4444-555555555555\n";
  struct Case {
    std::string line;
    const char* part;
  };
  for (const Case& c : std::vector<Case>{
           {"        procPID = abc", "procPID = 'abc' is not a pid"},
           {"        procUUID = not-a-uuid", "is not a UUID"},
           {"        remoteEndpoint = 1.2.3.4:99999", "is not an endpoint"},
           {"        direction = sideways", "direction = 'sideways'"},
           {"        sourceAppAuditToken = 32:{length = 32, bytes = 0xZZ}", "is not NSData"},
           {"        protocol = six", "protocol = 'six'"}}) {
    SCOPED_TRACE(c.line);
    Imported strict = run_import(head + c.line + "\n" + tail, Format::kNeFilterFlow, false, "l");
    EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(strict.stats.error);
    EXPECT_EQ(strict.stats.error->rfind("l:3: ", 0), 0u) << *strict.stats.error;
    EXPECT_NE(strict.stats.error->find(c.part), std::string::npos) << *strict.stats.error;
    EXPECT_TRUE(strict.clean);

    Imported lenient = run_import(head + c.line + "\n" + tail, Format::kNeFilterFlow, true, "l");
    EXPECT_EQ(lenient.status, ImportStatus::kOk);
    EXPECT_EQ(lenient.all<Flow>().size(), 1u);  // the bad block is skipped, the next one kept.
    ASSERT_TRUE(lenient.footer);
    EXPECT_EQ(lenient.footer->skipped_records, 1u);
  }
}

TEST(NeFilterFlowImport, BlocksAreFlowsByTheirKeysNotTheirHeading) {
  Imported r = run_import(fixture("nefilterflow_lulu_heading.txt"), Format::kNeFilterFlow, false,
                          "lulu.txt");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 2u);  // LuLu's "flow:" heading, and a block under no heading word.
  EXPECT_EQ(flows[0].identifier, *parse_uuid("0A0B0C0D-1111-2222-3333-444455556666"));
  EXPECT_EQ(flows[0].source_app_identifier, ".com.example.fetcher");
  EXPECT_EQ(flows[0].proc_pid, 5150);
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"198.51.100.7", 443}));
  EXPECT_EQ(flows[0].remote_hostname, "api.example.net");
  EXPECT_EQ(flows[1].proc_pid, 5151);
  EXPECT_EQ(flows[1].remote_endpoint, (Endpoint{"2001:db8::7", 8443}));
  // Keys outside the model are named and counted; a key = value run without flow keys stays
  // in its log line's marker and is counted.
  const auto& ignored = r.stats.ignored_by_reason;
  EXPECT_EQ(ignored.at("nefilterflow flow key socketID (not modelled)"), 1u);
  EXPECT_EQ(ignored.at("nefilterflow flow key signature (not modelled)"), 1u);
  EXPECT_EQ(ignored.at("nefilterflow key = value lines without flow keys (kept in the log line's "
                       "Marker)"),
            1u);
  bool rule_kept = false;
  for (const auto& m : r.all<Marker>()) {
    rule_kept = rule_kept || (m.text.find("rule:") != std::string::npos &&
                              m.text.find("action = allow") != std::string::npos);
  }
  EXPECT_TRUE(rule_kept);
  // log(1)'s two heading lines are not parsed: kept as a Marker and counted.
  EXPECT_EQ(ignored.at("nefilterflow lines before the first log timestamp (kept as a Marker, not "
                       "parsed)"),
            2u);
}

TEST(NeFilterFlowImport, EveryLineLeftUnparsedIsCountedAndNamed) {
  const std::string text =
      "2024-06-03 09:41:12.100000+0100 0x5a1f  Default  0x0  412  0  ext: flow:\n"
      "        identifier = 0A0B0C0D-1111-2222-3333-444455556666\n"
      "        procPID = 5150\n"
      "        remoteEndpoint = 198.51.100.7:443\n"
      "    {a nested value the description printer wrote on its own line}\n"
      "a second line of the same message\n"
      "\n"
      "2024-06-03 09:41:12.200000+0100 0x5a1f  Default  0x0  412  0  ext: done\n";
  Imported r = run_import(text, Format::kNeFilterFlow, false, "lulu.txt");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_EQ(r.all<Flow>().size(), 1u);
  EXPECT_EQ(r.stats.ignored_by_reason.at(
                "nefilterflow lines continuing a log message (kept in its Marker, not parsed)"),
            2u);
  bool kept = false;
  for (const auto& m : r.all<Marker>()) {
    kept = kept || m.text.find("a second line of the same message") != std::string::npos;
  }
  EXPECT_TRUE(kept);
}

TEST(NeFilterFlowFielddata, HeyAppleLogStream) {
  auto text = read_file(kFieldDir + "/nefilterflow/heyapple_log_stream_2022-12-24.txt");
  if (!text) GTEST_SKIP() << "fielddata absent: " << kFieldDir;
  EXPECT_EQ(detect_format(*text), Format::kNeFilterFlow);
  Imported r = run_import(*text, Format::kNeFilterFlow, false, "heyapple.txt");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 1u);
  const Flow& f = flows[0];
  EXPECT_EQ(f.identifier, *parse_uuid("F101E8A8-387E-42A1-B28B-AB392163664A"));
  EXPECT_EQ(f.hostname, "cmake.org");
  EXPECT_EQ(f.source_app_identifier, ".com.apple.Safari");
  EXPECT_EQ(f.source_app_version, "16.0");
  EXPECT_EQ(hex_of(f.source_app_unique_identifier), "d43e30f896b843326e57247e752f9c5d2cc744e9");
  EXPECT_EQ(f.proc_pid, 847);
  EXPECT_EQ(f.eproc_pid, 847);
  EXPECT_FALSE(f.source_app_audit_token.present);  // bare pids: no invented token.
  EXPECT_EQ(f.local_endpoint, (Endpoint{"192.168.50.138", 53497}));
  EXPECT_EQ(f.remote_endpoint, (Endpoint{"66.194.253.25", 443}));
  EXPECT_EQ(f.remote_hostname, "cmake.org");
  EXPECT_EQ(f.protocol, 6u);
  EXPECT_EQ(f.family, 2u);
  EXPECT_EQ(f.type, 1u);
  EXPECT_EQ(f.proc_uuid, *parse_uuid("70C94704-6C40-35E5-A1A0-FF89862A2D41"));
  // The extension's own line naming SearchHelper is kept as a marker after the flow.
  auto markers = r.all<Marker>();
  ASSERT_FALSE(markers.empty());
  EXPECT_NE(markers.back().text.find("com.apple.Safari.SearchHelper"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Tetragon

TEST(TetragonImport, FixtureMapsExecIdsToPidversions) {
  Imported r = run_import(fixture("tetragon_basic.jsonl"), Format::kTetragon, false, "t.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  EXPECT_EQ(r.header.host, "node-a");
  EXPECT_EQ(r.header.os, "Linux");
  // exec_ids in first-seen order: sh's parent init = 1, sh = 2, curl = 3, python = 4.
  auto spawns = r.all<ProcessSpawn>();
  ASSERT_EQ(spawns.size(), 3u);  // init (pre-existing), sh, curl
  EXPECT_EQ(spawns[0].token.execution(), (ExecutionId{1, 1}));
  EXPECT_EQ(spawns[1].token.execution(), (ExecutionId{100, 2}));
  EXPECT_EQ(spawns[1].parent.execution(), (ExecutionId{1, 1}));
  EXPECT_EQ(spawns[1].image.path, "/bin/sh");
  EXPECT_EQ(spawns[1].token.auid(), 1000u);
  EXPECT_EQ(spawns[1].token.ruid(), 1000u);
  EXPECT_EQ(spawns[1].token.euid(), 1000u);
  EXPECT_EQ(spawns[2].token.execution(), (ExecutionId{101, 3}));
  EXPECT_EQ(spawns[2].parent.execution(), (ExecutionId{100, 2}));

  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_TRUE(flows[0].source_app_audit_token.well_formed());
  EXPECT_EQ(flows[0].source_app_audit_token.token.execution(), (ExecutionId{101, 3}));
  EXPECT_EQ(flows[0].local_endpoint, (Endpoint{"10.0.0.5", 40000}));
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"93.184.216.34", 443}));
  EXPECT_EQ(flows[0].protocol, 6u);
  EXPECT_EQ(flows[0].family, 2u);
  EXPECT_EQ(flows[0].type, 1u);
  EXPECT_EQ(flows[0].proc_pid, 101);
  EXPECT_EQ(flows[1].family, 10u);
  EXPECT_EQ(flows[1].protocol, 17u);
  EXPECT_EQ(flows[1].source_app_audit_token.token.execution(), (ExecutionId{101, 4}));

  // python replaced curl in place (same pid, flags "execve").
  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].previous.execution(), (ExecutionId{101, 3}));
  EXPECT_EQ(execs[0].token.execution(), (ExecutionId{101, 4}));
  EXPECT_EQ(execs[0].image.path, "/usr/bin/python3");

  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].token.execution(), (ExecutionId{101, 4}));
  EXPECT_EQ(exits[0].status, 3);

  bool mapping_marker = false;
  bool close_marker = false;
  for (const auto& m : r.all<Marker>()) {
    mapping_marker = mapping_marker || m.text == "tetragon exec_id Y3VybA== = 101.3 /usr/bin/curl";
    close_marker = close_marker || (m.text.find("process_close of flow #1") != std::string::npos &&
                                    m.text.find("bytes_received 15221") != std::string::npos);
  }
  EXPECT_TRUE(mapping_marker);
  EXPECT_TRUE(close_marker);
  EXPECT_EQ(r.stats.ignored_by_reason.at("tetragon process_kprobe"), 1u);
}

TEST(TetragonImport, LineageComesFromExecIdsAndParents) {
  // curl (4100) connects; its parent is env with the same pid (an exec without fork whose
  // process_exec is not in the capture), whose parent bash (4000) is named only by exec_id.
  Imported r = run_import(fixture("tetragon_lineage.jsonl"), Format::kTetragon, false, "l.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  const ExecutionId bash{4000, 1};
  const ExecutionId env{4100, 2};
  const ExecutionId curl{4100, 3};
  auto spawns = r.all<ProcessSpawn>();
  ASSERT_EQ(spawns.size(), 1u);
  EXPECT_EQ(spawns[0].token.execution(), env);
  EXPECT_EQ(spawns[0].parent.execution(), bash);  // the pid decoded from parent_exec_id.
  EXPECT_EQ(spawns[0].image.path, "/usr/bin/env");
  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].previous.execution(), env);
  EXPECT_EQ(execs[0].token.execution(), curl);
  EXPECT_EQ(execs[0].image.path, "/usr/bin/curl");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].source_app_audit_token.token.execution(), curl);
  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].token.execution(), curl);
  bool inferred = false;
  for (const auto& m : r.all<Marker>()) {
    inferred = inferred || m.text.rfind("exec of 4100.2 into 4100.3 inferred: l.jsonl:1", 0) == 0;
  }
  EXPECT_TRUE(inferred);
  EXPECT_EQ(r.stats.unmapped_by_reason.at("tetragon exec inferred from a parent with the same pid"),
            1u);
}

// One Tetragon record: a process_connect or process_exec of `process`, with `parent` (a JSON
// object) when it is not empty.
std::string tetra_record(std::string_view kind, std::string_view process, std::string_view parent,
                         int second) {
  std::string body = fmt::format("\"process\": {}", process);
  if (!parent.empty()) body += fmt::format(", \"parent\": {}", parent);
  if (kind == "process_connect") {
    body +=
        ", \"source_ip\": \"10.0.0.9\", \"source_port\": 40000, \"destination_ip\": "
        "\"203.0.113.5\", \"destination_port\": 443, \"protocol\": \"TCP\"";
  }
  return fmt::format("{{\"{}\": {{{}}}, \"time\": \"2024-05-01T10:00:{:02}.000000000Z\"}}\n", kind,
                     body, second);
}

std::string tetra_process(int pid, std::string_view exec_id, std::string_view parent_exec_id,
                          std::string_view binary) {
  std::string p =
      fmt::format("{{\"exec_id\": \"{}\", \"pid\": {}, \"uid\": 1000, \"binary\": \"{}\"", exec_id,
                  pid, binary);
  if (!parent_exec_id.empty()) p += fmt::format(", \"parent_exec_id\": \"{}\"", parent_exec_id);
  return p + "}";
}

// Whatever the record gives, no execution is spawned by its own pid.
void expect_no_spawn_by_own_pid(const Imported& r) {
  for (const auto& s : r.all<ProcessSpawn>()) {
    EXPECT_NE(s.parent.pid(), s.token.pid())
        << "spawn of " << s.token.pid() << "." << s.token.pidversion();
  }
}

// base64 of "lab:KTIME:PID", as Tetragon builds exec_ids.
constexpr std::string_view kCurl4200 = "bGFiOjcwMDAwMDAwMDA6NDIwMA==";  // lab:7000000000:4200
constexpr std::string_view kEnv4200 = "bGFiOjYwMDAwMDAwMDA6NDIwMA==";   // lab:6000000000:4200
constexpr std::string_view kBash4000 = "bGFiOjUwMDAwMDAwMDA6NDAwMA==";  // lab:5000000000:4000
constexpr std::string_view kCurl4400 = "bGFiOjcyMDAwMDAwMDA6NDQwMA==";  // lab:7200000000:4400
constexpr std::string_view kCurl4300 = "bGFiOjcxMDAwMDAwMDA6NDMwMA==";  // lab:7100000000:4300

TEST(TetragonLineage, SamePidParentKnownOnlyByParentExecIdIsAnExecNotASpawn) {
  for (std::string_view kind : {"process_connect", "process_exec"}) {
    SCOPED_TRACE(kind);
    const std::string text =
        tetra_record(kind, tetra_process(4200, kCurl4200, kEnv4200, "/usr/bin/curl"), "", 1);
    Imported r = run_import(text, Format::kTetragon, false, "t.jsonl");
    ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
    expect_no_spawn_by_own_pid(r);
    auto execs = r.all<ProcessExec>();
    ASSERT_EQ(execs.size(), 1u);
    EXPECT_EQ(execs[0].previous.pid(), 4200);
    EXPECT_EQ(execs[0].token.pid(), 4200);
    // The older execution (its predecessor) is numbered first.
    EXPECT_LT(execs[0].previous.pidversion(), execs[0].token.pidversion());
    EXPECT_EQ(execs[0].image.path, "/usr/bin/curl");
  }
}

TEST(TetragonLineage, ParentPidComesFromParentExecIdWithoutAParentObject) {
  const std::string text = tetra_record(
      "process_connect", tetra_process(4400, kCurl4400, kBash4000, "/usr/bin/curl"), "", 1);
  Imported r = run_import(text, Format::kTetragon, false, "t.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto spawns = r.all<ProcessSpawn>();
  ASSERT_EQ(spawns.size(), 1u);
  EXPECT_EQ(spawns[0].parent.pid(), 4000);  // not 0.0
  EXPECT_NE(spawns[0].parent.pidversion(), 0u);
  EXPECT_LT(spawns[0].parent.pidversion(), spawns[0].token.pidversion());
}

TEST(TetragonLineage, CorruptOrMissingParentExecIdFallsBackOnTheParentObject) {
  const std::string bash = tetra_process(4000, kBash4000, "", "/bin/bash");
  for (std::string_view parent_exec_id : {"%%%not-base64%%%", ""}) {
    SCOPED_TRACE(parent_exec_id);
    const std::string text =
        tetra_record("process_connect",
                     tetra_process(4400, kCurl4400, parent_exec_id, "/usr/bin/curl"), bash, 1);
    Imported r = run_import(text, Format::kTetragon, false, "t.jsonl");
    ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
    auto spawns = r.all<ProcessSpawn>();
    ASSERT_EQ(spawns.size(), 1u);
    EXPECT_EQ(spawns[0].token.pid(), 4400);
    EXPECT_EQ(spawns[0].parent.pid(), 4000);
    EXPECT_NE(spawns[0].parent.pidversion(), 0u);
    uint64_t fallback = 0;
    for (const auto& [reason, n] : r.stats.unmapped_by_reason) {
      if (reason.find("the record's parent object used") != std::string::npos) fallback += n;
    }
    EXPECT_EQ(fallback, 1u);
  }
}

TEST(TetragonLineage, AnExecIdReusedByAnotherPidIsASeparateExecution) {
  const std::string text =
      tetra_record("process_connect", tetra_process(4300, kCurl4300, kBash4000, "/usr/bin/curl"),
                   "", 1) +
      tetra_record("process_connect", tetra_process(4301, kCurl4300, kBash4000, "/usr/bin/curl"),
                   "", 2) +
      tetra_record("process_connect", tetra_process(4300, kCurl4300, kBash4000, "/usr/bin/curl"),
                   "", 3);
  Imported r = run_import(text, Format::kTetragon, false, "t.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 3u);
  const auto& a = flows[0].source_process_audit_token.token;
  const auto& b = flows[1].source_process_audit_token.token;
  EXPECT_EQ(a.pid(), 4300);
  EXPECT_EQ(b.pid(), 4301);
  EXPECT_NE(a.pidversion(), b.pidversion());
  EXPECT_EQ(flows[2].source_process_audit_token.token.execution(), a.execution());
  EXPECT_EQ(r.stats.unmapped_by_reason.at(
                "tetragon exec_id reused by another pid (a separate execution)"),
            1u);
  bool marker = false;
  for (const auto& m : r.all<Marker>()) {
    marker = marker || m.text.find("reused by another pid at t.jsonl:2") != std::string::npos;
  }
  EXPECT_TRUE(marker);
}

TEST(TetragonImport, BadRecords) {
  const std::string good =
      R"({"process_exit":{"process":{"exec_id":"eA==","pid":5,"binary":"/x"}},"time":"2024-01-01T00:00:00Z"})";
  for (
      const auto& [bad, part] : std::vector<std::pair<std::string, std::string>>{
          {R"({"process_exit":{"process":{"pid":5}},"time":"2024-01-01T00:00:00Z"})", "no exec_id"},
          {R"({"process_exit":{"process":{"exec_id":"eA==","pid":"five"}},"time":"2024-01-01T00:00:00Z"})",
           "is not a number"},
          {R"({"process_connect":{"process":{"exec_id":"eA==","pid":5},"source_port":70000},"time":"2024-01-01T00:00:00Z"})",
           "out of range"},
          {R"({"node_name":"n"})", "no process_* event"},
          {R"({"process_exit":{"process":{"exec_id":"eA==","pid":5}},"time":"noon"})", "ISO 8601"},
      }) {
    SCOPED_TRACE(bad);
    Imported strict =
        run_import(good + "\n" + bad + "\n" + good + "\n", Format::kTetragon, false, "t");
    EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(strict.stats.error);
    EXPECT_EQ(strict.stats.error->rfind("t:2: ", 0), 0u) << *strict.stats.error;
    EXPECT_NE(strict.stats.error->find(part), std::string::npos) << *strict.stats.error;
    Imported lenient =
        run_import(good + "\n" + bad + "\n" + good + "\n", Format::kTetragon, true, "t");
    EXPECT_EQ(lenient.status, ImportStatus::kOk);
    ASSERT_TRUE(lenient.footer);
    EXPECT_EQ(lenient.footer->skipped_records, 1u);
  }
}

std::string concatenated(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::string all;
  for (const auto& f : files) all += read_file(f.string()).value_or("") + "\n";
  return all;
}

TEST(TetragonFielddata, ProcessLifecycle) {
  std::filesystem::path dir = kFieldDir + "/tetragon/00_process_lifecycle";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fielddata absent: " << dir;
  // Put the events in time order: sh exec, cat exec, nc exec, nc connect, ... exits.
  std::string text;
  for (const char* name :
       {"lifecycle_sh_process_exec.json", "cat_process_exec.json", "nc_process_exec.json",
        "nc_process_connect.json", "cat_process_kprobe.json", "cat_process_exit.json",
        "nc_process_close.json", "nc_process_exit.json", "lifecycle_sh_process_exit.json"}) {
    text += read_file((dir / name).string()).value_or("") + "\n";
  }
  EXPECT_EQ(detect_format(text), Format::kTetragon);
  Imported r = run_import(text, Format::kTetragon, false, "lifecycle");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"64.225.45.153", 443}));
  EXPECT_EQ(flows[0].proc_pid, 38314);
  EXPECT_TRUE(flows[0].source_app_audit_token.well_formed());
  const ExecutionId nc = flows[0].source_app_audit_token.token.execution();
  bool nc_spawned_by_sh = false;
  for (const auto& s : r.all<ProcessSpawn>()) {
    if (s.token.execution() == nc) nc_spawned_by_sh = s.parent.pid() == 38312;
  }
  EXPECT_TRUE(nc_spawned_by_sh);
  EXPECT_EQ(r.all<ProcessExit>().size(), 3u);
}

TEST(TetragonFielddata, EveryCaptureImportsStrictly) {
  std::filesystem::path dir = kFieldDir + "/tetragon";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fielddata absent: " << dir;
  Imported r = run_import(concatenated(dir), Format::kTetragon, false, "all");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  EXPECT_GE(r.stats.records, 30u);
  EXPECT_GE(r.all<Flow>().size(), 5u);
  auto lines = read_file((dir / "testdata_events.json").string());
  ASSERT_TRUE(lines);
  Imported t = run_import(*lines, Format::kTetragon, false, "events.json");
  ASSERT_EQ(t.status, ImportStatus::kOk) << t.stats.error.value_or("");
  EXPECT_EQ(t.stats.records, 3u);
  EXPECT_EQ(
      t.stats.unmapped_by_reason.count("tetragon record without time (previous event's time used)"),
      1u);
  EXPECT_EQ(t.header.host, "my-node");
}

// ---------------------------------------------------------------------------------------------
// auditd

TEST(AuditdImport, FixtureInfersVersionsFromRecordOrder) {
  Imported r = run_import(fixture("auditd_basic.log"), Format::kAuditd, false, "audit.log");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  EXPECT_NE(r.config("import.identity.auditd").find("pid-only"), std::string::npos);
  auto spawns = r.all<ProcessSpawn>();
  ASSERT_EQ(spawns.size(), 2u);
  // bash 2000 is pre-existing; its parent pid 1 is known only by reference and is numbered
  // first (version 1, which its own first appearance would use), bash gets version 2.
  EXPECT_EQ(spawns[0].token.execution(), (ExecutionId{2000, 2}));
  EXPECT_EQ(spawns[0].parent.execution(), (ExecutionId{1, 1}));
  EXPECT_EQ(spawns[0].image.path, "/usr/bin/bash");
  const AuditToken& bash = spawns[0].token;
  EXPECT_EQ(bash.auid(), 1000u);
  EXPECT_EQ(bash.ruid(), 1001u);
  EXPECT_EQ(bash.rgid(), 1002u);
  EXPECT_EQ(bash.euid(), 1003u);
  EXPECT_EQ(bash.egid(), 1004u);
  EXPECT_EQ(bash.asid(), 5u);
  EXPECT_EQ(spawns[1].token.execution(), (ExecutionId{2001, 3}));
  EXPECT_EQ(spawns[1].parent.execution(), (ExecutionId{2000, 2}));

  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].previous.execution(), (ExecutionId{2001, 3}));
  EXPECT_EQ(execs[0].token.execution(), (ExecutionId{2001, 4}));
  EXPECT_EQ(execs[0].image.path, "/usr/bin/curl");

  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"93.184.216.34", 443}));
  EXPECT_EQ(flows[0].family, 2u);
  EXPECT_EQ(flows[0].source_app_audit_token.token.execution(), (ExecutionId{2001, 4}));
  EXPECT_EQ(flows[0].proc_pid, 2001);
  EXPECT_EQ(flows[1].remote_endpoint, (Endpoint{"2001:db8::1", 443}));
  EXPECT_EQ(flows[1].family, 10u);

  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].token.execution(), (ExecutionId{2001, 4}));
  EXPECT_EQ(exits[0].status, 7);

  bool argv_marker = false;
  for (const auto& m : r.all<Marker>()) {
    argv_marker = argv_marker || m.text ==
                                     "auditd execve 2001.4 /usr/bin/curl argv: curl "
                                     "https://example.com proctitle: curl "
                                     "https://example.com";
  }
  EXPECT_TRUE(argv_marker);
  EXPECT_EQ(r.stats.ignored_by_reason.at("auditd clone of a thread"), 1u);
  EXPECT_EQ(r.stats.ignored_by_reason.at("auditd USER_LOGIN event (no SYSCALL)"), 1u);
}

TEST(AuditdImport, BadRecords) {
  const std::string good =
      "type=SYSCALL msg=audit(1700000000.100:10): arch=c000003e syscall=42 success=yes exit=0 "
      "a0=3 ppid=1 pid=50 auid=0 uid=0 gid=0 euid=0 egid=0 ses=1 comm=\"x\" exe=\"/x\"\n"
      "type=SOCKADDR msg=audit(1700000000.100:10): saddr=020001BB5DB8D8220000000000000000\n"
      "type=EOE msg=audit(1700000000.100:10): \n";
  for (const auto& [bad, part] : std::vector<std::pair<std::string, std::string>>{
           {"type=SOCKADDR msg=audit(1700000000.200:11): saddr=02XYZ", "is not hex"},
           {"type=SYSCALL msg=audit(1700000000.200:11): arch=c000003e syscall=abc pid=3",
            "syscall=abc"},
           {"type=SYSCALL msg=audit(17000x:11): arch=c000003e", "malformed audit("},
           {"complete garbage", "not an audit record"},
           {"type=EXECVE msg=audit(1700000000.200:11): argc=1 a0=4G", "neither quoted nor hex"},
       }) {
    SCOPED_TRACE(bad);
    std::string text = good + bad + "\n" + good;
    Imported strict = run_import(text, Format::kAuditd, false, "a.log");
    EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(strict.stats.error);
    EXPECT_EQ(strict.stats.error->rfind("a.log:4: ", 0), 0u) << *strict.stats.error;
    EXPECT_NE(strict.stats.error->find(part), std::string::npos) << *strict.stats.error;
    Imported lenient = run_import(text, Format::kAuditd, true, "a.log");
    EXPECT_EQ(lenient.status, ImportStatus::kOk);
    ASSERT_TRUE(lenient.footer);
    EXPECT_EQ(lenient.footer->skipped_records, 1u);
  }
}

TEST(AuditdImport, SockaddrFamilyFollowsTheArchByteOrder) {
  // ppc64 (big-endian): sa_family 0x0002 is written 00 02.
  std::string text =
      "type=SYSCALL msg=audit(1708028025.033:10): arch=80000015 syscall=328 success=yes exit=0 "
      "a0=3 ppid=1 pid=2650 auid=0 uid=0 gid=0 euid=0 egid=0 ses=1 comm=\"nc\" exe=\"/bin/nc\"\n"
      "type=SOCKADDR msg=audit(1708028025.033:10): saddr=0002D9037F0000010000000000000000\n";
  Imported r = run_import(text, Format::kAuditd);
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto flows = r.all<Flow>();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"127.0.0.1", 55555}));
}

TEST(AuditdFielddata, LaurelTraces) {
  std::filesystem::path dir = kFieldDir + "/auditd/laurel";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fielddata absent: " << dir;
  auto connect = read_file((dir / "record-connect.txt").string());
  ASSERT_TRUE(connect);
  EXPECT_EQ(detect_format(*connect), Format::kAuditd);
  Imported c = run_import(*connect, Format::kAuditd, false, "record-connect.txt");
  ASSERT_EQ(c.status, ImportStatus::kOk) << c.stats.error.value_or("");
  auto flows = c.all<Flow>();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].remote_endpoint, (Endpoint{"127.0.0.1", 11211}));
  EXPECT_EQ(flows[1].remote_endpoint, (Endpoint{"::1", 11211}));
  EXPECT_EQ(flows[0].source_app_audit_token.token.ruid(), 48u);

  // The same tree in order and reordered gives the same lifecycle events.
  auto in_order = run_import(read_file((dir / "shell-proc-trace.txt").string()).value_or(""),
                             Format::kAuditd, false, "a");
  auto reordered =
      run_import(read_file((dir / "shell-proc-trace-reordered.txt").string()).value_or(""),
                 Format::kAuditd, false, "a");
  ASSERT_EQ(in_order.status, ImportStatus::kOk) << in_order.stats.error.value_or("");
  ASSERT_EQ(reordered.status, ImportStatus::kOk) << reordered.stats.error.value_or("");
  EXPECT_EQ(in_order.all<ProcessSpawn>(), reordered.all<ProcessSpawn>());
  EXPECT_EQ(in_order.all<ProcessExec>(), reordered.all<ProcessExec>());
  EXPECT_EQ(in_order.all<ProcessExec>().size(), 4u);

  for (const char* name :
       {"fork-sleep-exec.txt", "proc-trace-dpkg-l.txt", "record-bind-ipv4-bigendian.txt",
        "record-perl-reverse-shell.txt", "shell-proc-trace-confusion.txt"}) {
    SCOPED_TRACE(name);
    auto text = read_file((dir / name).string());
    ASSERT_TRUE(text);
    Imported r = run_import(*text, Format::kAuditd, false, name);
    EXPECT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
    EXPECT_TRUE(r.clean);
  }
}

TEST(AuditdFielddata, PidReuseInLaurelConfusionTraceKeepsLineage) {
  // laurel's pid cache made `id` (2656) a child of an old `rm` that had pid 2655; the clone
  // that made the new 2655 is in the capture, so the trace names the right parent.
  auto text = read_file(kFieldDir + "/auditd/laurel/shell-proc-trace-confusion.txt");
  if (!text) GTEST_SKIP() << "fielddata absent: " << kFieldDir;
  Imported r = run_import(*text, Format::kAuditd, false, "confusion.txt");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  std::optional<ExecutionId> rm;
  for (const auto& e : r.all<ProcessExec>()) {
    if (e.image.path == "/usr/bin/rm") rm = e.token.execution();
  }
  ASSERT_TRUE(rm);
  std::optional<ProcessSpawn> tcsh;
  std::optional<ProcessSpawn> id_parent_spawn;
  for (const auto& s : r.all<ProcessSpawn>()) {
    if (s.token.pid() == 2655 && s.parent.pid() == 2542) tcsh = s;
    if (s.token.pid() == 2656) id_parent_spawn = s;
  }
  ASSERT_TRUE(tcsh);
  ASSERT_TRUE(id_parent_spawn);
  EXPECT_EQ(id_parent_spawn->parent.execution(), tcsh->token.execution());
  EXPECT_NE(id_parent_spawn->parent.execution(), *rm);
  // rm's execution is closed (implied exit) before the new 2655 is spawned.
  bool rm_exit = false;
  for (const auto& x : r.all<ProcessExit>()) rm_exit = rm_exit || x.token.execution() == *rm;
  EXPECT_TRUE(rm_exit);
  EXPECT_EQ(r.stats.unmapped_by_reason.at(
                "exit implied (pid taken by a new execution without a recorded exit)"),
            1u);
}

TEST(AuditdFielddata, GoLibauditYamlRecords) {
  std::filesystem::path dir = kFieldDir + "/auditd/go-libaudit";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fielddata absent: " << dir;
  // The YAML wraps raw records; keep the record lines (the test's job, not the importer's).
  std::string records;
  for (const char* name : {"ubuntu-16.10-linux-4.8.0.yaml", "ubuntu-17.04-linux-4.10.0.yaml"}) {
    std::string text = read_file((dir / name).string()).value_or("");
    std::size_t pos = 0;
    while (pos < text.size()) {
      std::size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string_view line = trim(std::string_view(text).substr(pos, end - pos));
      if (line.substr(0, 5) == "type=") records += std::string(line) + "\n";
      pos = end + 1;
    }
  }
  Imported r = run_import(records, Format::kAuditd, false, "go-libaudit");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  bool metadata_flow = false;
  for (const auto& f : r.all<Flow>()) {
    metadata_flow = metadata_flow || f.remote_endpoint == Endpoint{"169.254.169.254", 80};
  }
  EXPECT_TRUE(metadata_flow);
}

// ---------------------------------------------------------------------------------------------
// Detection

TEST(DetectFormat, Rules) {
  EXPECT_EQ(detect_format(fixture("tetragon_basic.jsonl")), Format::kTetragon);
  EXPECT_EQ(detect_format(fixture("auditd_basic.log")), Format::kAuditd);
  EXPECT_EQ(detect_format(fixture("nefilterflow_basic.txt")), Format::kNeFilterFlow);
  EXPECT_EQ(detect_format("node=h type=SYSCALL msg=audit(1.2:3): x"), Format::kAuditd);
  EXPECT_EQ(detect_format("# comment\n\n{\"event_type\": 9, \"schema_version\": 1}"),
            Format::kEslogger);
  EXPECT_EQ(detect_format("hello\nworld\n"), std::nullopt);
  EXPECT_EQ(detect_format("{\"a\": 1}"), std::nullopt);
  EXPECT_EQ(detect_format(""), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Read blocks

// Lines (and JSON records spread over lines) are the same whatever the read block size: the trace
// is byte-identical with 1-byte, 7-byte and the default blocks (import_bytes() lowers the block
// to the input's size; the CLI reads 1 MiB blocks).
TEST(ImportReadBlocks, TraceDoesNotDependOnTheBlockSize) {
  const std::pair<const char*, Format> inputs[] = {
      {"eslogger_basic.jsonl", Format::kEslogger},
      {"tetragon_basic.jsonl", Format::kTetragon},
      {"auditd_basic.log", Format::kAuditd},
      {"nefilterflow_basic.txt", Format::kNeFilterFlow},
  };
  for (const auto& [name, format] : inputs) {
    const std::string text = fixture(name);
    std::string reference;
    for (uint64_t block_bytes : {uint64_t{1} << 20, uint64_t{7}, uint64_t{1}}) {
      ImportOptions options;
      options.lenient = true;
      options.limits.read_block_bytes = block_bytes;
      std::string bytes;
      ImportStats stats;
      ASSERT_EQ(import_bytes(text, format, options, &bytes, stats, name), ImportStatus::kOk)
          << name << " with " << block_bytes << "-byte blocks";
      EXPECT_GT(stats.events, 0u) << name;
      if (reference.empty()) {
        reference = bytes;
      } else {
        EXPECT_EQ(bytes, reference) << name << ": " << block_bytes << "-byte blocks";
      }
    }
  }
}

}  // namespace
}  // namespace flowid::import
