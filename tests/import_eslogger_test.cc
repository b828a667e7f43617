// eslogger importer: the project's own fixture (every field the importer reads, both audit token
// encodings), bad input in strict and lenient mode, and the real captures in fielddata.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "harness/builders.h"
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
    std::string(std::getenv("FLOWID_FIELDDATA") ? std::getenv("FLOWID_FIELDDATA")
                                                : FLOWID_FIELDDATA_DIR) +
    "/eslogger";

AuditToken tok(int32_t pid, uint32_t pidversion, uint32_t uid = 501, uint32_t gid = 20,
               uint32_t auid = 501, uint32_t asid = 100010) {
  AuditToken t;
  t.words = {auid, uid, gid, uid, gid, static_cast<uint32_t>(pid), asid, pidversion};
  return t;
}

Cdhash cdhash(std::string_view hex) {
  Cdhash c{};
  EXPECT_TRUE(decode_hex_exact(hex, c)) << hex;
  return c;
}

std::string fixture() {
  auto text = read_file(kFixtureDir + "/eslogger_basic.jsonl");
  EXPECT_TRUE(text) << "missing fixture " << kFixtureDir;
  return text.value_or("");
}

TEST(EsloggerImport, FixtureMapsEveryField) {
  Imported r = run_import(fixture(), Format::kEslogger, false, "basic.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  EXPECT_EQ(r.header.recorder, "flowid import:eslogger");
  EXPECT_EQ(r.header.os, "macOS");
  EXPECT_EQ(*parse_iso8601_ns("2024-03-01T10:00:01.000000001Z"), r.header.start_wall_time_ns);
  EXPECT_NE(r.config("import.identity.eslogger").find("audit tokens"), std::string::npos);

  const AuditToken launchd = tok(1, 1, 0, 0, 4294967295u, 100000);
  const AuditToken zsh = tok(500, 5000);
  const AuditToken child = tok(600, 6000);
  const AuditToken app = tok(600, 6001);
  const AuditToken helper = tok(800, 8000, 0, 0, 0);
  const AuditToken kid = tok(801, 8001, 0, 0, 0);

  CodeIdentity zsh_image;
  zsh_image.path = "/bin/zsh";
  zsh_image.cdhash = cdhash("a1b2c3d4e5f60718293a4b5c6d7e8f9011223344");
  zsh_image.signing_id = "com.apple.zsh";
  zsh_image.platform = true;
  zsh_image.signature = SignatureKind::kPlatform;

  CodeIdentity app_image;
  app_image.path = "/Applications/Example.app/Contents/MacOS/Example";
  app_image.cdhash = cdhash("00112233445566778899AABBCCDDEEFF00112233");
  app_image.signing_id = "com.example.app";
  app_image.team_id = "ABCDE12345";
  app_image.signature = SignatureKind::kDeveloperId;
  app_image.hardened_runtime = true;

  CodeIdentity helper_image;
  helper_image.path = "/usr/local/bin/helper";
  helper_image.cdhash = cdhash("ffeeddccbbaa99887766554433221100ffeeddcc");
  helper_image.signing_id = "helper-5555";
  helper_image.signature = SignatureKind::kAdHoc;

  CodeIdentity kid_image;  // zero cdhash, no flags: unsigned.
  kid_image.path = "/tmp/very/long/path/that/was/truncated";

  std::vector<Event> expected = {
      Event{0, Marker{"pre-existing execution 500.5000 /bin/zsh first seen at basic.jsonl:1"}},
      Event{0, ProcessSpawn{zsh, launchd, std::nullopt, zsh_image}},
      Event{0, ProcessSpawn{child, zsh, zsh, zsh_image}},
      Event{499'999'999, ProcessExec{child, app, app_image}},
      Event{999'999'999, DroppedEvents{2,
                                       "eslogger global_seq_num jumped from 12 to 15 "
                                       "(basic.jsonl:4)"}},
      Event{999'999'999, ProcessExit{app, 256, ExitStage::kReaped}},
      Event{1'999'999'999,
            Marker{"pre-existing execution 800.8000 /usr/local/bin/helper first seen at "
                   "basic.jsonl:5"}},
      Event{1'999'999'999, ProcessSpawn{helper, launchd, std::nullopt, helper_image}},
      Event{1'999'999'999, ProcessSpawn{kid, helper, helper, kid_image}},
  };
  ASSERT_EQ(r.events.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(r.events[i], expected[i]) << i;

  EXPECT_EQ(r.stats.records, 5u);
  EXPECT_EQ(r.stats.ignored_by_reason.at("eslogger event_type 10"), 1u);
  EXPECT_EQ(r.stats.unmapped_by_reason.at("path truncated by the source"), 1u);
  EXPECT_EQ(
      r.stats.unmapped_by_reason.at("pre-existing execution (spawn written at first appearance)"),
      2u);
  ASSERT_TRUE(r.footer);
  EXPECT_EQ(r.footer->skipped_records, 0u);
  EXPECT_EQ(r.footer->event_count, expected.size());
}

TEST(EsloggerImport, BothTokenEncodingsGiveTheSameToken) {
  const std::string object_line =
      R"({"event_type":15,"time":"2024-01-01T00:00:00Z","process":{"audit_token":)"
      R"({"pidversion":8,"rgid":5,"asid":7,"ruid":4,"pid":6,"egid":3,"euid":2,"auid":1}},)"
      R"("event":{"exit":{"stat":0}}})";
  const std::string array_line =
      R"({"event_type":15,"time":"2024-01-01T00:00:00Z","process":{"audit_token":)"
      R"([1,2,3,4,5,6,7,8]},"event":{"exit":{"stat":0}}})";
  Imported a = run_import(object_line, Format::kEslogger);
  Imported b = run_import(array_line, Format::kEslogger);
  ASSERT_EQ(a.status, ImportStatus::kOk) << a.stats.error.value_or("");
  ASSERT_EQ(b.status, ImportStatus::kOk) << b.stats.error.value_or("");
  auto ea = a.all<ProcessExit>();
  auto eb = b.all<ProcessExit>();
  ASSERT_EQ(ea.size(), 1u);
  ASSERT_EQ(eb.size(), 1u);
  EXPECT_EQ(ea[0].token, eb[0].token);
  EXPECT_EQ(ea[0].token.auid(), 1u);
  EXPECT_EQ(ea[0].token.pid(), 6);
  EXPECT_EQ(ea[0].token.pidversion(), 8u);
}

TEST(EsloggerImport, PrettyPrintedObjectsAreRead) {
  const std::string text =
      "{\n  \"event_type\": 15,\n  \"time\": \"2024-01-01T00:00:00Z\",\n"
      "  \"process\": {\"audit_token\": [0,0,0,0,0,42,0,7]},\n"
      "  \"event\": {\"exit\": {\"stat\": 9}}\n}\n";
  Imported r = run_import(text, Format::kEslogger);
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].status, 9);
}

struct BadCase {
  const char* name;
  std::string line;
  const char* message_part;
};

// A good record, then a bad one, then a good one.
std::string sandwich(const std::string& bad) {
  return std::string(R"({"event_type":15,"time":"2024-01-01T00:00:00Z","process":{"audit_token":)"
                     R"([0,0,0,0,0,10,0,1]},"event":{"exit":{"stat":0}}})") +
         "\n" + bad + "\n" +
         R"({"event_type":15,"time":"2024-01-01T00:00:01Z","process":{"audit_token":)"
         R"([0,0,0,0,0,11,0,1]},"event":{"exit":{"stat":0}}})" +
         "\n";
}

std::vector<BadCase> bad_cases() {
  const std::string head = R"({"event_type":15,"time":"2024-01-01T00:00:00Z","process":)";
  return {
      {"malformed", R"({"event_type":15, "time": )", "not terminated"},
      {"not_json", "hello world", "not a JSON object"},
      {"short_array", head + R"({"audit_token":[1,2,3]},"event":{"exit":{"stat":0}}})",
       "audit token array has 3 entries (expected 8)"},
      {"long_array", head + R"({"audit_token":[1,2,3,4,5,6,7,8,9]},"event":{"exit":{}}})",
       "has 9 entries"},
      {"token_lacks_pidversion",
       head + R"({"audit_token":{"auid":1,"euid":1,"egid":1,"ruid":1,"rgid":1,"pid":1,"asid":1}},)"
              R"("event":{"exit":{}}})",
       "audit token lacks pidversion"},
      {"token_word_too_big",
       head + R"({"audit_token":[1,2,3,4,5,6,7,4294967296]},"event":{"exit":{}}})",
       "does not fit 32 bits"},
      {"bad_cdhash",
       head + R"({"audit_token":[1,2,3,4,5,6,7,8],"cdhash":"XYZ"},"event":{"exit":{}}})",
       "cdhash 'XYZ' is not 40 hex digits"},
      {"no_process", R"({"event_type":15,"time":"2024-01-01T00:00:00Z","event":{"exit":{}}})",
       "record has no process"},
      {"no_event_type",
       R"({"time":"2024-01-01T00:00:00Z","process":{"audit_token":[1,2,3,4,5,6,7,8]}})",
       "no event_type"},
      {"bad_time",
       R"({"event_type":15,"time":"yesterday","process":{"audit_token":[1,2,3,4,5,6,7,8]}})",
       "not an ISO 8601 timestamp"},
      {"kind_mismatch", head + R"({"audit_token":[1,2,3,4,5,6,7,8]},"event":{"fork":{}}})",
       "has no \"exit\" object"},
      {"exec_other_pid",
       R"({"event_type":9,"time":"2024-01-01T00:00:00Z","process":{"audit_token":[1,2,3,4,5,6,7,8]},)"
       R"("event":{"exec":{"target":{"audit_token":[1,2,3,4,5,99,7,9]}}}})",
       "exec target pid 99 differs from process pid 6"},
  };
}

TEST(EsloggerImport, BadRecordsStopStrictImportWithFileAndLine) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    Imported r = run_import(sandwich(c.line), Format::kEslogger, false, "capture.jsonl");
    EXPECT_EQ(r.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(r.stats.error);
    EXPECT_EQ(r.stats.error->rfind("capture.jsonl:2: ", 0), 0u) << *r.stats.error;
    EXPECT_NE(r.stats.error->find(c.message_part), std::string::npos) << *r.stats.error;
    // The trace is finished and valid, holds what came before, and says where it stopped.
    EXPECT_TRUE(r.clean);
    auto exits = r.all<ProcessExit>();
    ASSERT_EQ(exits.size(), 1u);
    EXPECT_EQ(exits[0].token.pid(), 10);
    auto markers = r.all<Marker>();
    ASSERT_FALSE(markers.empty());
    EXPECT_EQ(markers.back().text.rfind("import stopped: capture.jsonl:2: ", 0), 0u);
  }
}

TEST(EsloggerImport, LenientImportSkipsCountsAndKeepsTheRest) {
  for (const auto& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    Imported r = run_import(sandwich(c.line), Format::kEslogger, true, "capture.jsonl");
    EXPECT_EQ(r.status, ImportStatus::kOk);
    EXPECT_TRUE(r.clean);
    EXPECT_EQ(r.stats.skipped_records, 1u);
    ASSERT_TRUE(r.footer);
    EXPECT_EQ(r.footer->skipped_records, 1u);
    auto exits = r.all<ProcessExit>();
    ASSERT_EQ(exits.size(), 2u);
    EXPECT_EQ(exits[1].token.pid(), 11);
    auto dropped = r.all<DroppedEvents>();
    ASSERT_EQ(dropped.size(), 1u);
    EXPECT_EQ(dropped[0].count, 1u);
    EXPECT_EQ(dropped[0].reason.rfind("capture.jsonl:2: ", 0), 0u) << dropped[0].reason;
    ASSERT_EQ(r.stats.first_skipped.size(), 1u);
  }
}

TEST(EsloggerImport, ConsecutiveBadRecordsShareOneDroppedEvent) {
  // "garbage" is one bad record; the cut-short object and the line it swallowed are another
  // (the next object in column 0 ends it).
  Imported r = run_import(sandwich("garbage\n{\"x\":\ntrash"), Format::kEslogger, true);
  EXPECT_EQ(r.status, ImportStatus::kOk);
  EXPECT_EQ(r.stats.skipped_records, 2u);
  auto dropped = r.all<DroppedEvents>();
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0].count, 2u);
  EXPECT_EQ(r.all<ProcessExit>().size(), 2u);
}

TEST(EsloggerImport, ExecOfAPidHeldByAnotherExecutionImpliesAnExit) {
  // Fork of 20.1, then an exit event for 20.5: the pid changed hands without a recorded exit.
  std::string text =
      R"({"event_type":11,"time":"2024-01-01T00:00:00Z","process":{"audit_token":[0,0,0,0,0,1,0,1]},)"
      R"("event":{"fork":{"child":{"audit_token":[0,0,0,0,0,20,0,1]}}}})"
      "\n"
      R"({"event_type":15,"time":"2024-01-01T00:00:01Z","process":{"audit_token":[0,0,0,0,0,20,0,5]},)"
      R"("event":{"exit":{"stat":0}}})"
      "\n";
  Imported r = run_import(text, Format::kEslogger);
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 2u);
  EXPECT_EQ(exits[0].token.pidversion(), 1u);  // implied
  EXPECT_EQ(exits[1].token.pidversion(), 5u);
  EXPECT_EQ(r.stats.unmapped_by_reason.count(
                "exit implied (pid taken by a new execution without a recorded exit)"),
            1u);
}

TEST(EsloggerImport, DetectsTheFormat) { EXPECT_EQ(detect_format(fixture()), Format::kEslogger); }

// ---------------------------------------------------------------------------------------------
// Real captures (fielddata). Skipped when the folder is absent.

TEST(EsloggerFielddata, MullvadV9V10V11) {
  auto text = read_file(kFieldDir + "/mullvad_eslogger_v9_v10_v11.jsonl");
  if (!text) GTEST_SKIP() << "fielddata absent: " << kFieldDir;
  EXPECT_EQ(detect_format(*text), Format::kEslogger);
  Imported r = run_import(*text, Format::kEslogger, false, "mullvad.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  EXPECT_TRUE(r.clean);
  EXPECT_EQ(r.stats.records, 4u);
  // v9 exit of ipconfig, v9 exec 97391: 149091 -> 149092, v10 fork (array tokens), v11 exec.
  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].token.pid(), 11221);
  EXPECT_EQ(exits[0].token.pidversion(), 170692u);
  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(execs[0].previous.execution(), (ExecutionId{97391, 149091}));
  EXPECT_EQ(execs[0].token.execution(), (ExecutionId{97391, 149092}));
  EXPECT_EQ(execs[0].image.path, "/bin/connection-checker");
  EXPECT_EQ(execs[1].image.signature, SignatureKind::kPlatform);
  auto spawns = r.all<ProcessSpawn>();
  bool found_fork = false;
  for (const auto& s : spawns) {
    if (s.token.execution() == ExecutionId{21497, 38282}) {
      found_fork = true;
      EXPECT_EQ(s.parent.execution(), (ExecutionId{19745, 35165}));
      EXPECT_EQ(s.image.team_id, "CKG9MXH72F");
      EXPECT_EQ(s.image.signature, SignatureKind::kDeveloperId);
      EXPECT_TRUE(s.image.hardened_runtime);
      EXPECT_EQ(s.token.auid(), 501u);
      EXPECT_EQ(s.token.asid(), 100013u);
    }
  }
  EXPECT_TRUE(found_fork);
  // Three records of three eslogger versions, the later ones earlier by the clock: three
  // segments 1 s apart, nothing set to time 0, times never going back.
  EXPECT_EQ(r.stats.unmapped_by_reason.at(
                "time steps back within an input (a new segment: a new session or a clock change)"),
            2u);
  EXPECT_EQ(r.stats.unmapped_by_reason.count(
                "timestamp before the trace's first timestamp (time set to 0)"),
            0u);
  std::vector<uint64_t> record_times;
  for (std::size_t i = 1; i < r.events.size(); ++i) {
    EXPECT_GE(r.events[i].time_ns, r.events[i - 1].time_ns);
  }
  for (const auto& e : r.events) {
    if (e.kind() == EventKind::kProcessExit || e.kind() == EventKind::kProcessExec) {
      record_times.push_back(e.time_ns);
    }
  }
  // v9's exit; v9's exec (6693.930 s earlier by the clock) 1 s later; v10's fork (earlier
  // still) 1 s after that, and v11's exec at its own distance from v10's fork by the clock.
  EXPECT_EQ(record_times, (std::vector<uint64_t>{0, 1'000'000'000, 32'646'566'741'874'420}));
}

TEST(EsloggerFielddata, JamfExecWithUuidInTokens) {
  auto text = read_file(kFieldDir + "/jamf_protect_telemetry_exec_excerpt.jsonl");
  if (!text) GTEST_SKIP() << "fielddata absent: " << kFieldDir;
  Imported r = run_import(*text, Format::kEslogger, false, "jamf.jsonl");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].previous.execution(), (ExecutionId{91306, 546967}));
  EXPECT_EQ(execs[0].token.execution(), (ExecutionId{91306, 546968}));
  EXPECT_EQ(execs[0].image.path, "/bin/zsh");
  EXPECT_EQ(execs[0].image.signing_id, "com.apple.zsh");
}

TEST(EsloggerFielddata, KeySchemaIsNotATraceAndFailsCleanly) {
  auto text = read_file(kFieldDir + "/macmonitor_eslogger_keys_subset.json");
  if (!text) GTEST_SKIP() << "fielddata absent: " << kFieldDir;
  // A JSON document, but not an eslogger event: a clear error, never a crash.
  Imported r = run_import(*text, Format::kEslogger, false, "keys.json");
  EXPECT_EQ(r.status, ImportStatus::kBadRecord);
  ASSERT_TRUE(r.stats.error);
  EXPECT_NE(r.stats.error->find("keys.json:1: "), std::string::npos) << *r.stats.error;
}

}  // namespace
}  // namespace flowid::import
