// The live recorder, end to end: `flowid record` runs flowid_record_probe (recorder/tools/) under
// the seccomp supervisor against a loopback TCP server this test starts, and the test reads the
// trace back. Real kernel answers throughout: nothing here is simulated. Tests that need root, a
// pid namespace or a kernel feature skip with the reason.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness/event_format.h"
#include "recorder/linux_process.h"
#include "recorder/recorder.h"
#include "recorder/sha256.h"
#include "tests/cli_runner.h"
#include "tests/file_wait.h"
#include "tests/loopback_server.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using testing::CommandResult;
using testing::LoopbackServer;
using testing::run_flowid;
using testing::TempDir;

const std::string kProbe = FLOWID_RECORD_PROBE_PATH;

struct ReadTrace {
  std::vector<Event> events;
  bool clean = false;
  std::optional<trace::TraceFooter> footer;
};

ReadTrace read_trace(const std::string& path) {
  ReadTrace result;
  auto reader = trace::open_reader(path);
  if (!reader || !reader->ok()) return result;
  Event event;
  while (reader->next(event)) result.events.push_back(event);
  result.clean = reader->clean();
  result.footer = reader->footer();
  return result;
}

template <typename T>
std::vector<T> all_of(const ReadTrace& trace) {
  std::vector<T> out;
  for (const auto& event : trace.events) {
    if (auto* body = std::get_if<T>(&event.body)) out.push_back(*body);
  }
  return out;
}

std::vector<Lookup> lookups_of(const ReadTrace& trace, uint64_t flow_id) {
  std::vector<Lookup> out;
  for (const auto& lookup : all_of<Lookup>(trace)) {
    if (lookup.flow_id == flow_id) out.push_back(lookup);
  }
  return out;
}

std::string dump(const ReadTrace& trace) {
  std::string text;
  for (const auto& event : trace.events) text += format_event_line(event) + "\n";
  return text;
}

std::vector<std::string> record_args(const std::string& output, std::vector<std::string> extra,
                                     std::vector<std::string> command) {
  std::vector<std::string> args = {"record", "-o", output};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

bool seccomp_notify_available() {
  // The recorder reports a clear error when it is not; every live test needs it.
  static const bool available = [] {
    TempDir dir;
    CommandResult result = run_flowid(record_args(dir.file("probe.trace"), {"-q"}, {"/bin/true"}));
    return result.exit_code == 0;
  }();
  return available;
}

#define REQUIRE_SECCOMP_NOTIFY()                                                         \
  if (!seccomp_notify_available()) {                                                     \
    GTEST_SKIP() << "seccomp user notification is unavailable on this kernel / sandbox"; \
  }

// ------------------------------------------------------------------------------------------
// Pure pieces.

std::string hex(const recorder::Sha256Digest& digest) {
  static const char* kDigits = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : digest) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

TEST(RecordSha256, MatchesFipsVectors) {
  EXPECT_EQ(hex(recorder::sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(recorder::sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(recorder::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Incremental updates across block boundaries give the same digest as one update.
  std::string million(1'000'000, 'a');
  recorder::Sha256 hasher;
  for (std::size_t at = 0; at < million.size(); at += 777) {
    hasher.update(million.data() + at, std::min<std::size_t>(777, million.size() - at));
  }
  EXPECT_EQ(hex(hasher.finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(RecordProcStat, ParsesCommWithSpacesAndParentheses) {
  recorder::ProcStat stat;
  ASSERT_TRUE(recorder::parse_proc_stat(
      "4242 (we(ird) name) S 17 4242 4242 0 -1 4194304 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "1000 100 18446744073709551615",
      &stat));
  EXPECT_EQ(stat.pid, 4242);
  EXPECT_EQ(stat.comm, "we(ird) name");
  EXPECT_EQ(stat.ppid, 17);
  EXPECT_EQ(stat.state, 'S');
  EXPECT_EQ(stat.start_ticks, 987654u);
  EXPECT_FALSE(recorder::parse_proc_stat("4242 no parens", &stat));
}

TEST(RecordToken, PidversionIsStartTicksPlusExecGeneration) {
  EXPECT_EQ(recorder::linux_pidversion(123456, 0), 123456u);
  EXPECT_EQ(recorder::linux_pidversion(123456, 1), 123456u + (1u << 24));
  EXPECT_EQ(recorder::linux_pidversion((uint64_t{1} << 32) + 5, 0), 5u);  // truncated.
  recorder::ProcCredentials credentials;
  credentials.tgid = 77;
  credentials.ruid = 1;
  credentials.euid = 2;
  credentials.rgid = 3;
  credentials.egid = 4;
  credentials.loginuid = 1000;
  credentials.sessionid = 9;
  AuditToken token = recorder::linux_audit_token(credentials, 500, 2);
  EXPECT_EQ(token.words, (std::array<uint32_t, 8>{1000, 2, 4, 1, 3, 77, 9, 500 + (2u << 24)}));
}

TEST(RecordCommand, ResolvesLikeExecvp) {
  EXPECT_TRUE(recorder::resolve_command("true").has_value());
  EXPECT_FALSE(recorder::resolve_command("flowid-no-such-command-xyz").has_value());
  EXPECT_EQ(recorder::resolve_command("/bin/sh").value_or(""), "/bin/sh");
}

// ------------------------------------------------------------------------------------------
// The CLI's errors.

// record exits with its command's status, so its own failures use 125 and 127 (env(1)'s codes).
TEST(RecordCli, UnknownCommandExits127NamingIt) {
  TempDir dir;
  CommandResult result =
      run_flowid(record_args(dir.file("t.trace"), {}, {"flowid-no-such-command-xyz", "arg"}));
  EXPECT_EQ(result.exit_code, 127);
  EXPECT_NE(result.err.find("flowid-no-such-command-xyz: command not found"), std::string::npos)
      << result.err;
}

TEST(RecordCli, MissingCommandIsAUsageError) {
  TempDir dir;
  CommandResult result = run_flowid({"record", "-o", dir.file("t.trace")});
  EXPECT_EQ(result.exit_code, 125);
}

TEST(RecordCli, ExitStatusIsTheCommands) {
  REQUIRE_SECCOMP_NOTIFY();
  TempDir dir;
  CommandResult result =
      run_flowid(record_args(dir.file("t.trace"), {"-q"}, {"/bin/sh", "-c", "exit 7"}));
  EXPECT_EQ(result.exit_code, 7) << result.err;
  result = run_flowid(record_args(dir.file("t2.trace"), {"-q"}, {"/bin/sh", "-c", "kill -9 $$"}));
  EXPECT_EQ(result.exit_code, 128 + 9) << result.err;
}

// ------------------------------------------------------------------------------------------
// Flows, lookups, verdicts, lifecycle.

class RecordLifecycle : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordLifecycle, RecordsEveryConnectWithLookupsAndVerdict) {
  REQUIRE_SECCOMP_NOTIFY();
  if (GetParam() == "connector" && ::geteuid() != 0) {
    GTEST_SKIP() << "the process connector needs root in the initial namespaces";
  }
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("connect.trace");
  CommandResult result =
      run_flowid(record_args(path, {"--lifecycle", GetParam()},
                             {kProbe, "connect", "127.0.0.1", server.port(), "5", "3"}));
  if (result.exit_code == 3 && GetParam() == "connector") {
    GTEST_SKIP() << "process connector unavailable: " << result.err;
  }
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("connects=15 failed=0"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("15 flows (15 allowed"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("lifecycle: " + GetParam()), std::string::npos) << result.err;

  ReadTrace trace = read_trace(path);
  ASSERT_TRUE(trace.clean) << dump(trace);
  ASSERT_TRUE(trace.footer && trace.footer->complete);
  auto flows = all_of<Flow>(trace);
  auto verdicts = all_of<Verdict>(trace);
  ASSERT_EQ(flows.size(), 15u) << dump(trace);
  ASSERT_EQ(verdicts.size(), 15u);
  auto spawns = all_of<ProcessSpawn>(trace);
  auto execs = all_of<ProcessExec>(trace);
  auto exits = all_of<ProcessExit>(trace);
  // flowid's child (spawn) -> exec of the probe; 3 workers spawn; everyone exits.
  EXPECT_EQ(spawns.size(), 4u) << dump(trace);
  ASSERT_EQ(execs.size(), 1u) << dump(trace);
  EXPECT_EQ(execs[0].image.path, kProbe);
  EXPECT_EQ(execs[0].token.pidversion(), execs[0].previous.pidversion() + (1u << 24));
  EXPECT_EQ(exits.size(), 4u) << dump(trace);

  for (std::size_t i = 0; i < flows.size(); ++i) {
    const Flow& flow = flows[i];
    SCOPED_TRACE("flow " + std::to_string(flow.flow_id));
    EXPECT_EQ(flow.remote_endpoint.address, "127.0.0.1");
    EXPECT_EQ(std::to_string(flow.remote_endpoint.port), server.port());
    EXPECT_EQ(flow.family, uint32_t{AF_INET});
    EXPECT_EQ(flow.type, uint32_t{SOCK_STREAM});
    EXPECT_EQ(flow.protocol, uint32_t{IPPROTO_TCP});
    ASSERT_TRUE(flow.source_process_audit_token.well_formed());
    const AuditToken& token = flow.source_process_audit_token.token;
    EXPECT_EQ(token.pid(), flow.proc_pid);
    // The flow's execution is one the trace spawned.
    bool spawned = std::any_of(spawns.begin(), spawns.end(), [&](const ProcessSpawn& s) {
      return s.token.execution() == token.execution();
    });
    EXPECT_TRUE(spawned);

    auto lookups = lookups_of(trace, flow.flow_id);
    std::vector<LookupCall> calls;
    for (const auto& lookup : lookups) {
      calls.push_back(lookup.call);
      EXPECT_TRUE(lookup.outcome.ok())
          << name_of(lookup.call) << " " << describe_outcome(lookup.outcome);
      EXPECT_EQ(lookup.outcome.domain, OutcomeDomain::kErrno);
    }
    EXPECT_EQ(calls, (std::vector<LookupCall>{LookupCall::kPidfdOpen, LookupCall::kNotifIdValid,
                                              LookupCall::kProcStat, LookupCall::kProcExe,
                                              LookupCall::kExeHash, LookupCall::kNotifIdValid}));
    ASSERT_EQ(lookups.size(), 6u);
    EXPECT_EQ(lookups[2].data.token, token);
    EXPECT_EQ(lookups[3].data.path, kProbe);
    ASSERT_TRUE(lookups[4].data.identity.has_value());
    EXPECT_TRUE(lookups[4].data.identity->cdhash.has_value());

    const Verdict& verdict = verdicts[i];
    EXPECT_EQ(verdict.flow_id, flow.flow_id);
    EXPECT_EQ(verdict.decision, Decision::kAllow);
    EXPECT_EQ(verdict.status, AttributionStatus::kVerified);
    EXPECT_EQ(verdict.rule, "policy:record-only");
    ASSERT_TRUE(verdict.identity.has_value());
    EXPECT_EQ(verdict.identity->path, kProbe);
    EXPECT_EQ(verdict.identity->signature, SignatureKind::kUnsigned);
  }
  // The cdhash is the first 20 bytes of the SHA-256 of the probe's content.
  std::ifstream in(kProbe, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(verdicts[0].identity->cdhash, recorder::cdhash_of_content(content.str()));
}

TEST_P(RecordLifecycle, ExecGivesTheSamePidANewPidversion) {
  REQUIRE_SECCOMP_NOTIFY();
  if (GetParam() == "connector" && ::geteuid() != 0) {
    GTEST_SKIP() << "the process connector needs root in the initial namespaces";
  }
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("exec.trace");
  CommandResult result =
      run_flowid(record_args(path, {"-q", "--lifecycle", GetParam()},
                             {kProbe, "exec-connect", "127.0.0.1", server.port()}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ReadTrace trace = read_trace(path);
  auto flows = all_of<Flow>(trace);
  auto execs = all_of<ProcessExec>(trace);
  ASSERT_EQ(flows.size(), 2u) << dump(trace);
  ASSERT_EQ(execs.size(), 2u) << dump(trace);  // flowid -> probe, probe -> probe.
  const AuditToken& before = flows[0].source_process_audit_token.token;
  const AuditToken& after = flows[1].source_process_audit_token.token;
  EXPECT_EQ(before.pid(), after.pid());
  EXPECT_NE(before.pidversion(), after.pidversion());
  EXPECT_EQ(execs[1].previous, before);
  EXPECT_EQ(execs[1].token, after);
}

INSTANTIATE_TEST_SUITE_P(Sources, RecordLifecycle, ::testing::Values("connector", "supervisor"),
                         [](const auto& param_info) { return param_info.param; });

// ------------------------------------------------------------------------------------------
// Enforcement.

// A unix-socket connect (nscd, syslog, D-Bus) is not a network flow: it passes unheld and is
// only counted, and the TCP connect after it is the trace's one flow.
TEST(RecordLocalSockets, AreCountedAndPassedNotRecordedAsFlows) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("local.trace");
  CommandResult result =
      run_flowid(record_args(path, {"--lookup-delay-ms", "200"},
                             {kProbe, "local", "127.0.0.1", server.port(), dir.path().string()}));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("local=2"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("1 flows (1 allowed"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("2 local-socket calls passed"), std::string::npos) << result.err;
  ReadTrace trace = read_trace(path);
  auto flows = all_of<Flow>(trace);
  ASSERT_EQ(flows.size(), 1u) << dump(trace);
  EXPECT_EQ(flows[0].family, static_cast<uint32_t>(AF_INET));
  EXPECT_EQ(flows[0].remote_endpoint.address, "127.0.0.1");
}

TEST(RecordEnforce, DeniedFlowsFailWithEaccesInTheTracedProgram) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string rules = dir.file("deny.rules");
  std::ofstream(rules) << "[policy]\nno_rule = \"allow\"\n\n[[rule]]\nname = \"deny-probe\"\n"
                          "action = \"drop\"\npath = \""
                       << kProbe << "\"\n";
  std::string path = dir.file("enforce.trace");
  CommandResult result = run_flowid(record_args(
      path, {"--rules", rules, "--enforce"}, {kProbe, "connect", "127.0.0.1", server.port(), "3"}));
  EXPECT_EQ(result.exit_code, 1) << result.err;  // the probe's own status: its connects failed.
  EXPECT_NE(result.out.find("connects=3 failed=3 errno=13"), std::string::npos) << result.out;
  EXPECT_NE(result.err.find("3 denied"), std::string::npos) << result.err;
  ReadTrace trace = read_trace(path);
  auto verdicts = all_of<Verdict>(trace);
  ASSERT_EQ(verdicts.size(), 3u) << dump(trace);
  for (const auto& verdict : verdicts) {
    EXPECT_EQ(verdict.decision, Decision::kDrop);
    EXPECT_EQ(verdict.rule, "deny-probe");
    EXPECT_EQ(verdict.status, AttributionStatus::kVerified);
  }

  // Without --enforce the same rules only record the verdicts: the connects go through.
  std::string recorded = dir.file("record-only.trace");
  result = run_flowid(record_args(recorded, {"--rules", rules},
                                  {kProbe, "connect", "127.0.0.1", server.port(), "3"}));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(all_of<Verdict>(read_trace(recorded)).size(), 3u);
  EXPECT_EQ(all_of<Verdict>(read_trace(recorded))[0].decision, Decision::kDrop);
}

// ------------------------------------------------------------------------------------------
// Real races.

// A process SIGKILLed while held at connect: the lookups show what the kernel answered.
class RecordExitRace : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordExitRace, LookupsShowTheKernelsAnswers) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("exit-race.trace");
  // The supervisor holds each flow 400 ms before its lookups; the probe kills its child 100 ms
  // into the hold, and reaps it at once (reap) or only after 800 ms more (zombie).
  CommandResult result =
      run_flowid(record_args(path, {"-q", "--lookup-delay-ms", "400", "--lifecycle", "supervisor"},
                             {kProbe, "hold", "127.0.0.1", server.port(), GetParam(), "100"}));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ReadTrace trace = read_trace(path);
  auto flows = all_of<Flow>(trace);
  ASSERT_EQ(flows.size(), 1u) << dump(trace);
  // The address was read before the hold: the flow itself is complete.
  EXPECT_EQ(flows[0].remote_endpoint.address, "127.0.0.1");
  auto lookups = lookups_of(trace, flows[0].flow_id);
  ASSERT_GE(lookups.size(), 2u) << dump(trace);
  EXPECT_EQ(lookups[0].call, LookupCall::kPidfdOpen);
  EXPECT_EQ(lookups[1].call, LookupCall::kNotifIdValid);
  // The notification died with the task.
  EXPECT_EQ(lookups[1].outcome, (LookupOutcome{OutcomeDomain::kErrno, ENOENT})) << dump(trace);
  if (GetParam() == "reap") {
    // Reaped: the pid names nothing any more, so the flow carries no token.
    EXPECT_EQ(lookups[0].outcome, (LookupOutcome{OutcomeDomain::kErrno, ESRCH})) << dump(trace);
    EXPECT_FALSE(flows[0].source_process_audit_token.present) << dump(trace);
  } else {
    // A zombie still holds its pid: pidfd_open succeeds, but it has no executable any more.
    EXPECT_TRUE(lookups[0].outcome.ok()) << dump(trace);
    bool exe_refused = std::any_of(lookups.begin(), lookups.end(), [](const Lookup& l) {
      return l.call == LookupCall::kProcExe && !l.outcome.ok();
    });
    EXPECT_TRUE(exe_refused) << dump(trace);
  }
  auto verdicts = all_of<Verdict>(trace);
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].status, AttributionStatus::kGone);
}

INSTANTIATE_TEST_SUITE_P(Stages, RecordExitRace, ::testing::Values("reap", "zombie"),
                         [](const auto& param_info) { return param_info.param; });

// pid reuse inside a new pid namespace: ns_last_pid makes a fresh process get the pid of one
// that just exited. The trace must show two executions of that pid.
TEST(RecordPidReuse, ReusedPidIsANewExecution) {
  REQUIRE_SECCOMP_NOTIFY();
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs unshare(1) (util-linux)";
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("pid-reuse.trace");
  // Root: a new pid namespace (and a /proc for it). Not root: a user namespace first, which
  // grants the capability ns_last_pid needs inside it.
  std::vector<std::string> args = {"--pid", "--fork", "--mount-proc"};
  if (::geteuid() != 0) args.insert(args.begin(), {"--user", "--map-root-user"});
  args.push_back(FLOWID_CLI_PATH);
  for (const auto& a :
       record_args(path, {"-q"}, {kProbe, "pid-reuse", "127.0.0.1", server.port()})) {
    args.push_back(a);
  }
  CommandResult result = testing::run_program("/usr/bin/unshare", args);
  if (result.exit_code == 77) GTEST_SKIP() << "cannot write ns_last_pid: " << result.err;
  if (result.exit_code != 0 && result.err.find("unshare") != std::string::npos) {
    GTEST_SKIP() << "cannot create a pid namespace here: " << result.err;
  }
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  ReadTrace trace = read_trace(path);
  ASSERT_TRUE(trace.clean) << dump(trace);
  auto flows = all_of<Flow>(trace);
  ASSERT_EQ(flows.size(), 2u) << dump(trace);
  const AuditToken& first = flows[0].source_process_audit_token.token;
  const AuditToken& second = flows[1].source_process_audit_token.token;
  EXPECT_EQ(first.pid(), second.pid()) << result.out;
  EXPECT_NE(first.pidversion(), second.pidversion()) << dump(trace);

  // Lifecycle: the first execution exits before the second is spawned, and the second flow's
  // token names that second spawn.
  std::optional<std::size_t> exit_at, spawn_at;
  for (std::size_t i = 0; i < trace.events.size(); ++i) {
    if (auto* e = std::get_if<ProcessExit>(&trace.events[i].body);
        e && e->token.execution() == first.execution()) {
      exit_at = i;
    }
    if (auto* s = std::get_if<ProcessSpawn>(&trace.events[i].body);
        s && s->token.execution() == second.execution()) {
      spawn_at = i;
    }
  }
  ASSERT_TRUE(exit_at && spawn_at) << dump(trace);
  EXPECT_LT(*exit_at, *spawn_at);
  // What /proc answered for each flow: the same executable, by path, for two executions. A
  // resolver keyed on the bare pid cannot tell them apart; one keyed on (pid, pidversion) can.
  for (const auto& flow : flows) {
    auto lookups = lookups_of(trace, flow.flow_id);
    auto exe = std::find_if(lookups.begin(), lookups.end(),
                            [](const Lookup& l) { return l.call == LookupCall::kProcExe; });
    ASSERT_NE(exe, lookups.end());
    EXPECT_EQ(exe->data.path, kProbe);
    auto stat = std::find_if(lookups.begin(), lookups.end(),
                             [](const Lookup& l) { return l.call == LookupCall::kProcStat; });
    ASSERT_NE(stat, lookups.end());
    EXPECT_EQ(stat->data.token, flow.source_process_audit_token.token);
  }
}

// ------------------------------------------------------------------------------------------
// Stopping.

// Starts flowid with stdout/stderr to files; returns its pid.
pid_t spawn_flowid(const std::vector<std::string>& args, const std::string& out_path,
                   const std::string& err_path) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> argv = {const_cast<char*>(FLOWID_CLI_PATH)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(FLOWID_CLI_PATH, argv.data());
    ::_exit(127);
  }
  return pid;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Waits until the file holds text containing needle.
bool wait_for_text(const std::string& path, const std::string& needle) {
  return testing::wait_for_file(path,
                                [&] { return slurp(path).find(needle) != std::string::npos; });
}

// Waits until a chunk with flows is on disk. Stop tests signal flowid then, not after a fixed
// delay: a sanitizer build of flowid takes seconds to start (it hashes its own large executable
// for the spawn event).
bool wait_for_flows(const std::string& path) {
  return testing::wait_for_file(path, [&] { return !all_of<Flow>(read_trace(path)).empty(); });
}

TEST(RecordStop, SigtermFinishesTheTraceCleanly) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("term.trace");
  pid_t flowid = spawn_flowid(
      record_args(path, {}, {kProbe, "connect", "127.0.0.1", server.port(), "100000000"}),
      dir.file("out"), dir.file("err"));
  ASSERT_TRUE(wait_for_flows(path)) << slurp(dir.file("err"));
  ::kill(flowid, SIGTERM);
  int status = 0;
  ::waitpid(flowid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  // The probe got the SIGTERM passed on; flowid exits with its status.
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGTERM) << slurp(dir.file("err"));
  ReadTrace trace = read_trace(path);
  EXPECT_TRUE(trace.clean);
  ASSERT_TRUE(trace.footer && trace.footer->complete);
  EXPECT_GT(all_of<Flow>(trace).size(), 0u);
  EXPECT_EQ(all_of<Flow>(trace).size(), all_of<Verdict>(trace).size());
  EXPECT_NE(slurp(dir.file("err")).find("flows"), std::string::npos);
}

TEST(RecordStop, SigkillKeepsWholeChunksAndTheTreeFailsClosed) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("kill.trace");
  // 200000 connects take far longer than the time to the kill while supervised; once the
  // supervisor is gone the rest fail at once with ENOSYS.
  pid_t flowid =
      spawn_flowid(record_args(path, {"--lifecycle", "supervisor"},
                               {kProbe, "connect", "127.0.0.1", server.port(), "200000"}),
                   dir.file("out"), dir.file("err"));
  ASSERT_TRUE(wait_for_flows(path)) << slurp(dir.file("err"));
  ::kill(flowid, SIGKILL);
  ::waitpid(flowid, nullptr, 0);
  // The probe, orphaned, finishes on its own and reports its failures.
  ASSERT_TRUE(wait_for_text(dir.file("out"), "connects="));
  std::string out = slurp(dir.file("out"));
  EXPECT_NE(out.find("errno=38"), std::string::npos) << out;  // ENOSYS: nothing passed unfiltered.
  EXPECT_EQ(out.find("failed=0 "), std::string::npos) << out;

  ReadTrace trace = read_trace(path);
  EXPECT_FALSE(trace.clean);
  EXPECT_FALSE(trace.footer.has_value());
  auto flows = all_of<Flow>(trace);
  EXPECT_GT(flows.size(), 0u) << "no whole chunk was flushed before SIGKILL";
  // Each flow read back is whole up to the last chunk: every flow but possibly the last has
  // its verdict.
  EXPECT_GE(all_of<Verdict>(trace).size() + 1, flows.size());
}

}  // namespace
}  // namespace flowid

namespace flowid {
namespace {

TEST(RecordSystem, SeesALoopbackConnectionAndItsOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "--system needs root";
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("system.trace");
  // The connection is open before the recorder starts and stays open until it has finished: its
  // first socket poll finds it (every socket is new to it), with no timing to get right.
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(server.port())));
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  pid_t flowid = spawn_flowid({"record", "--system", "--duration", "1", "-o", path},
                              dir.file("out"), dir.file("err"));
  int status = 0;
  ::waitpid(flowid, &status, 0);
  ::close(client);
  std::string err = slurp(dir.file("err"));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
    GTEST_SKIP() << "process connector unavailable: " << err;
  }
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << err;
  ReadTrace trace = read_trace(path);
  ASSERT_TRUE(trace.clean);
  EXPECT_GT(all_of<ProcessSpawn>(trace).size(), 1u);  // the initial process table at least.
  bool found = false;
  for (const auto& flow : all_of<Flow>(trace)) {
    if (std::to_string(flow.remote_endpoint.port) != server.port() || flow.proc_pid != ::getpid()) {
      continue;
    }
    found = true;
    auto verdicts = all_of<Verdict>(trace);
    auto verdict = std::find_if(verdicts.begin(), verdicts.end(),
                                [&](const Verdict& v) { return v.flow_id == flow.flow_id; });
    ASSERT_NE(verdict, verdicts.end());
    // Found by the socket's inode among /proc/*/fd: a bare-pid method, never verified.
    EXPECT_EQ(verdict->status, AttributionStatus::kUnverified);
  }
  EXPECT_TRUE(found) << dump(trace);
}

}  // namespace
}  // namespace flowid
