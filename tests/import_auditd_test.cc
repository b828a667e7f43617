// auditd record forms seen in real logs: the kernel's long-argument EXECVE form, auditd's own
// DAEMON_* records, `ausearch -i` output, an execve of a pid first seen there, and how records
// that are not modelled are counted. Fixtures are the project's own (tests/data/import).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "import/test_support.h"

namespace flowid::import {
namespace {

using testing::Imported;
using testing::read_file;
using testing::run_import;

const std::string kFixtureDir = std::string(FLOWID_SOURCE_DIR) + "/tests/data/import";

std::string fixture(const std::string& name) {
  auto text = read_file(kFixtureDir + "/" + name);
  EXPECT_TRUE(text) << "missing fixture " << name;
  return text.value_or("");
}

uint64_t count_of(const std::map<std::string, uint64_t, std::less<>>& counts,
                  std::string_view reason) {
  auto it = counts.find(reason);
  return it == counts.end() ? 0 : it->second;
}

// Sum of the counts whose reason mentions `word`.
uint64_t mentions(const std::map<std::string, uint64_t, std::less<>>& counts,
                  std::string_view word) {
  uint64_t n = 0;
  for (const auto& [reason, count] : counts) {
    if (reason.find(word) != std::string::npos) n += count;
  }
  return n;
}

constexpr std::string_view kExecveSyscall =
    "type=SYSCALL msg=audit(1700000001.100:7002): arch=c000003e syscall=59 success=yes exit=0 "
    "a0=55 a1=56 a2=57 a3=0 items=2 ppid=2999 pid=3000 auid=1000 uid=1000 gid=1000 euid=1000 "
    "egid=1000 ses=3 comm=\"sh\" exe=\"/usr/bin/dash\"\n";

TEST(AuditdForms, LongArgumentPiecesAreJoinedAndTheExecveIsAnExec) {
  Imported r = run_import(fixture("auditd_forms.log"), Format::kAuditd, false, "forms.log");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  ASSERT_TRUE(r.clean);
  // pid 3000 is first seen at its execve: a pre-existing execution with the (unknown) image it
  // ran before, then the execve as an exec to a new version.
  auto spawns = r.all<ProcessSpawn>();
  ASSERT_EQ(spawns.size(), 1u);
  EXPECT_EQ(spawns[0].token.pid(), 3000);
  EXPECT_EQ(spawns[0].image.path, "");
  auto execs = r.all<ProcessExec>();
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0].previous.execution(), spawns[0].token.execution());
  EXPECT_EQ(execs[0].token.pid(), 3000);
  EXPECT_NE(execs[0].token.pidversion(), spawns[0].token.pidversion());
  EXPECT_EQ(execs[0].image.path, "/usr/bin/dash");
  // Its parent (ppid 2999, never a subject) is numbered before it.
  EXPECT_EQ(spawns[0].parent.pid(), 2999);
  EXPECT_LT(spawns[0].parent.pidversion(), spawns[0].token.pidversion());
  auto exits = r.all<ProcessExit>();
  ASSERT_EQ(exits.size(), 1u);
  EXPECT_EQ(exits[0].token.execution(), execs[0].token.execution());

  bool argv = false;
  for (const auto& m : r.all<Marker>()) {
    argv = argv || m.text == fmt::format(
                                 "auditd execve 3000.{} /usr/bin/dash argv: sh -c hello "
                                 "world proctitle: sh -c hello world",
                                 execs[0].token.pidversion());
  }
  EXPECT_TRUE(argv);
  EXPECT_EQ(mentions(r.stats.unmapped_by_reason, "aN_len"), 0u);
}

// The kernel's aN_len (audit_log_execve_info) is the argument's printed length: its bytes when
// the pieces are quoted, its hex digits when they are hex-encoded (the encoding is forced for an
// argument that spans several reads of user memory). Both forms join without a count.
TEST(AuditdForms, LongArgumentLengthIsThePrintedLength) {
  const std::string syscall(kExecveSyscall);
  for (const std::string execve : {
           "argc=2 a0=\"sh\" a1_len=10 a1[0]=\"hello\" a1[1]=\"world\"",
           "argc=2 a0=\"sh\" a1_len=20 a1[0]=68656C6C6F a1[1]=776F726C64",
       }) {
    SCOPED_TRACE(execve);
    std::string text = syscall + "type=EXECVE msg=audit(1700000001.100:7002): " + execve + "\n";
    for (bool lenient : {false, true}) {
      Imported r = run_import(text, Format::kAuditd, lenient, "a.log");
      ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
      EXPECT_EQ(r.stats.skipped_records, 0u);
      ASSERT_EQ(r.all<ProcessExec>().size(), 1u);
      EXPECT_EQ(mentions(r.stats.unmapped_by_reason, "aN_len"), 0u);
      bool argv = false;
      for (const auto& m : r.all<Marker>()) {
        argv = argv || m.text.find("argv: sh helloworld") != std::string::npos;
      }
      EXPECT_TRUE(argv);
    }
  }
}

TEST(AuditdForms, DaemonRecordsWithOrWithoutColonAreIgnoredOnce) {
  Imported r = run_import(fixture("auditd_forms.log"), Format::kAuditd, false, "forms.log");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  const auto& ignored = r.stats.ignored_by_reason;
  EXPECT_EQ(count_of(ignored, "auditd DAEMON_START event (no SYSCALL)"), 1u);
  EXPECT_EQ(count_of(ignored, "auditd DAEMON_CONFIG event (no SYSCALL)"), 1u);
  EXPECT_EQ(count_of(ignored, "auditd USER_LOGIN event (no SYSCALL)"), 1u);
  EXPECT_EQ(count_of(ignored, "auditd AVC record of a syscall event (not read)"), 1u);
  // Each ignored record is counted under one reason only.
  EXPECT_EQ(mentions(ignored, "USER_LOGIN"), 1u);
  EXPECT_EQ(mentions(ignored, "DAEMON_CONFIG"), 1u);
  EXPECT_EQ(mentions(ignored, "AVC"), 1u);
  EXPECT_EQ(r.stats.records, 13u);  // every record line was read.
}

TEST(AuditdForms, LongArgumentErrorsNameTheLine) {
  const std::string syscall(kExecveSyscall);
  for (const auto& [execve, part] : std::vector<std::pair<std::string, std::string>>{
           {"argc=3 a0=\"sh\" a2_len=5 a2[1]=6869", "a2[1] out of order"},
           {"argc=3 a0=\"sh\" a2_len=x5", "a2_len=x5 is not a number"},
           {"argc=3 a0=\"sh\" a2[z]=6869", "is not aN, aN_len or aN[i]"},
           {"argc=3 a0=\"sh\" a2[0]=ZZ", "a2[0] is neither quoted nor hex"},
       }) {
    SCOPED_TRACE(execve);
    std::string text = syscall + "type=EXECVE msg=audit(1700000001.100:7002): " + execve + "\n";
    Imported strict = run_import(text, Format::kAuditd, false, "a.log");
    EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(strict.stats.error);
    EXPECT_EQ(strict.stats.error->rfind("a.log:2: ", 0), 0u) << *strict.stats.error;
    EXPECT_NE(strict.stats.error->find(part), std::string::npos) << *strict.stats.error;
  }
  // Pieces that do not add up to aN_len (a piece missing from the log) keep what is there and
  // count it.
  std::string short_arg = syscall +
                          "type=EXECVE msg=audit(1700000001.100:7002): argc=3 a0=\"sh\" "
                          "a1_len=20 a1[0]=6869\n";
  Imported r = run_import(short_arg, Format::kAuditd, false, "a.log");
  ASSERT_EQ(r.status, ImportStatus::kOk) << r.stats.error.value_or("");
  EXPECT_EQ(r.all<ProcessExec>().size(), 1u);
  EXPECT_EQ(mentions(r.stats.unmapped_by_reason, "aN_len"), 1u);
}

TEST(AuditdForms, AusearchInterpretedRecordsAreRefusedWithTheReason) {
  const std::string text =
      "----\n"
      "type=PROCTITLE msg=audit(11/14/2023 10:15:02.123:456) : proctitle=curl example.com\n"
      "type=SYSCALL msg=audit(11/14/2023 10:15:02.123:456) : arch=x86_64 syscall=connect "
      "success=yes exit=0 a0=0x5 ppid=100 pid=101 auid=alice uid=alice comm=curl\n";
  EXPECT_EQ(detect_format(text), Format::kAuditd);
  Imported strict = run_import(text, Format::kAuditd, false, "i.log");
  EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
  ASSERT_TRUE(strict.stats.error);
  EXPECT_EQ(strict.stats.error->rfind("i.log:2: ", 0), 0u) << *strict.stats.error;
  EXPECT_NE(strict.stats.error->find("ausearch --raw"), std::string::npos) << *strict.stats.error;
  Imported lenient = run_import(text, Format::kAuditd, true, "i.log");
  EXPECT_EQ(lenient.status, ImportStatus::kOk);
  EXPECT_EQ(count_of(lenient.stats.skipped_by_reason, "ausearch -i interpreted record"), 2u);
}

// ausearch formats the interpreted time with the locale of the host that ran it: the record is
// recognised whatever the date looks like.
TEST(AuditdForms, AusearchInterpretedRecordsAreRecognisedInAnyLocale) {
  for (const std::string date :
       {"14.11.2023 10:15:02.123", "2023-11-14 10:15:02.123", "14/11/23 10:15:02.123",
        "2023\xe5\xb9\xb4"
        "11\xe6\x9c\x88"
        "14\xe6\x97\xa5 10:15:02.123"}) {
    SCOPED_TRACE(date);
    const std::string text = "type=SYSCALL msg=audit(" + date +
                             ":456) : arch=x86_64 syscall=connect success=yes exit=0 a0=0x5 "
                             "ppid=100 pid=101 auid=alice uid=alice comm=curl\n";
    EXPECT_EQ(detect_format(text), Format::kAuditd);
    Imported strict = run_import(text, Format::kAuditd, false, "i.log");
    EXPECT_EQ(strict.status, ImportStatus::kBadRecord);
    ASSERT_TRUE(strict.stats.error);
    EXPECT_EQ(strict.stats.error->rfind("i.log:1: ", 0), 0u) << *strict.stats.error;
    EXPECT_NE(strict.stats.error->find("ausearch --raw"), std::string::npos) << *strict.stats.error;
  }
}

}  // namespace
}  // namespace flowid::import
