// Record, then replay faithfully: real `flowid record` runs of flowid_record_probe replayed through
// LinuxRecordedSeam (replay/linux_seam.h), through the library and through `flowid replay`.
//
// - The linux-pidfd strategy (what the recorder decides) gives back the recorded verdicts.
// - A pid-reuse race inside the recording (the first process is held at connect while the
//   supervisor is slowed by --lookup-delay-ms, is killed and reaped, and a newcomer takes its pid
//   through ns_last_pid before the supervisor's /proc reads): pid-path names the newcomer's
//   program for the first execution's flow; token-style strategies say gone.
// - Exit races (SIGKILL while held at connect): token-style strategies say gone.
// The mapping itself is also checked on small hand-built flows, which need no kernel feature.
// Live tests skip with the reason when seccomp user notification, namespaces or bash are missing.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness/event_format.h"
#include "harness/filter.h"
#include "harness/strategies/catalog.h"
#include "replay/linux_seam.h"
#include "replay/replay.h"
#include "replay/world_config.h"
#include "tests/cli_runner.h"
#include "tests/loopback_server.h"
#include "trace/trace.h"

namespace flowid {
namespace {

using replay::LinuxRecordedSeam;
using testing::CommandResult;
using testing::LoopbackServer;
using testing::run_flowid;
using testing::TempDir;

const std::string kProbe = FLOWID_RECORD_PROBE_PATH;

// ------------------------------------------------------------------------------------------
// The mapping, on hand-built evidence.

constexpr int32_t kPid = 4242;

AuditToken linux_token(int32_t pid, uint32_t pidversion) {
  AuditToken token;
  token.words = {1000, 1000, 1000, 1000, 1000, static_cast<uint32_t>(pid), 7, pidversion};
  return token;
}

Lookup linux_lookup(LookupCall call, int error) {
  Lookup lookup;
  lookup.flow_id = 1;
  lookup.call = call;
  lookup.args.pid = kPid;
  lookup.outcome = LookupOutcome{OutcomeDomain::kErrno, error};
  return lookup;
}

CodeIdentity linux_identity(const std::string& path, uint8_t cdhash_byte) {
  CodeIdentity identity;
  identity.path = path;
  identity.cdhash = Cdhash{};
  identity.cdhash->fill(cdhash_byte);
  return identity;
}

// The six lookups the tree recorder makes for one flow. stat_token is what /proc/PID/stat
// described; exe_path and its identity what /proc/PID/exe named.
struct FlowEvidence {
  int pidfd_error = 0;
  int valid_before_error = 0;
  int stat_error = 0;
  AuditToken stat_token = linux_token(kPid, 500);
  int exe_error = 0;
  std::string exe_path = "/usr/bin/curl";
  int valid_after_error = 0;
};

std::vector<Lookup> build_lookups(const FlowEvidence& e) {
  std::vector<Lookup> lookups;
  lookups.push_back(linux_lookup(LookupCall::kPidfdOpen, e.pidfd_error));
  if (e.pidfd_error == 0) lookups.back().data.pid = kPid;
  lookups.push_back(linux_lookup(LookupCall::kNotifIdValid, e.valid_before_error));
  lookups.push_back(linux_lookup(LookupCall::kProcStat, e.stat_error));
  if (e.stat_error == 0) {
    lookups.back().data.token = e.stat_token;
    lookups.back().data.pid = e.stat_token.pid();
  }
  lookups.push_back(linux_lookup(LookupCall::kProcExe, e.exe_error));
  if (e.exe_error == 0) {
    lookups.back().data.path = e.exe_path;
    lookups.back().data.code_handle = 0x800001'00001234;
    lookups.push_back(linux_lookup(LookupCall::kExeHash, 0));
    lookups.back().args.path = e.exe_path;
    lookups.back().data.identity = linux_identity(e.exe_path, 0xab);
  }
  lookups.push_back(linux_lookup(LookupCall::kNotifIdValid, e.valid_after_error));
  return lookups;
}

LookupOutcome osstatus(int32_t code) { return {OutcomeDomain::kOsStatus, code}; }
LookupOutcome posix(int32_t code) { return {OutcomeDomain::kErrno, code}; }

TEST(LinuxSeamMapping, AValidNotificationBindsEveryTokenAnswer) {
  std::vector<Lookup> lookups = build_lookups({});
  LinuxRecordedSeam seam;
  seam.reset(1, lookups);
  const AuditToken token = linux_token(kPid, 500);
  auto guest = seam.guest_by_audit_token(token);
  ASSERT_TRUE(guest.ok());
  auto static_code = seam.static_code(guest.value);
  ASSERT_TRUE(static_code.ok());
  EXPECT_EQ(seam.code_path(static_code.value).value, "/usr/bin/curl");
  EXPECT_EQ(seam.signing_information(static_code.value).value,
            linux_identity("/usr/bin/curl", 0xab));
  EXPECT_EQ(seam.proc_pidpath_audittoken(token).value, "/usr/bin/curl");
  EXPECT_EQ(seam.proc_pidpath(kPid).value, "/usr/bin/curl");
  EXPECT_EQ(seam.token_for_pid(kPid).value, token);
  EXPECT_TRUE(seam.kill_zero(kPid).ok());
  EXPECT_EQ(seam.audit_token_to_pid(token), kPid);
  // The same question twice gets the same answer: the evidence is one snapshot.
  EXPECT_EQ(seam.guest_by_audit_token(token).value, guest.value);
  EXPECT_TRUE(seam.off_script().empty());
  EXPECT_EQ(seam.answered(), lookups.size());
}

TEST(LinuxSeamMapping, ANotificationThatDiedMeansTheTokensExecutionIsGone) {
  // The pid-reuse race: the notifier died; /proc/PID then described a newcomer (another start
  // time, another program).
  FlowEvidence race;
  race.valid_before_error = ENOENT;
  race.valid_after_error = ENOENT;
  race.stat_token = linux_token(kPid, 900);
  race.exe_path = "/usr/bin/bash";
  std::vector<Lookup> lookups = build_lookups(race);
  LinuxRecordedSeam seam;
  seam.reset(1, lookups);
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid, 500)).outcome,
            osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid, 900)).outcome,
            osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(seam.proc_pidpath_audittoken(linux_token(kPid, 500)).outcome, posix(ESRCH));
  // By bare pid: whatever held the pid when /proc/PID was read.
  EXPECT_EQ(seam.proc_pidpath(kPid).value, "/usr/bin/bash");
  EXPECT_TRUE(seam.kill_zero(kPid).ok());
  EXPECT_EQ(seam.token_for_pid(kPid).value.pidversion(), 900u);
  EXPECT_TRUE(seam.off_script().empty());
}

TEST(LinuxSeamMapping, APidversionMismatchIsEsrchEvenWhileTheNotifierLives) {
  std::vector<Lookup> lookups = build_lookups({});
  LinuxRecordedSeam seam;
  seam.reset(1, lookups);
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid, 499)).outcome,
            osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(seam.proc_pidpath_audittoken(linux_token(kPid, 499)).outcome, posix(ESRCH));
}

TEST(LinuxSeamMapping, KernelErrorsBecomePosixOsStatus) {
  FlowEvidence refused;
  refused.pidfd_error = EMFILE;
  std::vector<Lookup> lookups = build_lookups(refused);
  LinuxRecordedSeam seam;
  seam.reset(1, lookups);
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid, 500)).outcome, osstatus(100000 + EMFILE));
  // The bare-pid chain still answers from /proc.
  auto by_pid = seam.guest_by_pid(kPid);
  ASSERT_TRUE(by_pid.ok());
  EXPECT_EQ(seam.code_path(seam.static_code(by_pid.value).value).value, "/usr/bin/curl");

  FlowEvidence reaped;
  reaped.pidfd_error = ESRCH;
  reaped.valid_before_error = ENOENT;
  reaped.stat_error = ESRCH;
  reaped.exe_error = ESRCH;
  reaped.valid_after_error = ENOENT;
  lookups = build_lookups(reaped);
  seam.reset(1, lookups);
  EXPECT_EQ(seam.kill_zero(kPid), posix(ESRCH));
  EXPECT_EQ(seam.proc_pidpath(kPid).outcome, posix(ESRCH));
  EXPECT_EQ(seam.guest_by_pid(kPid).outcome, osstatus(codes::kOsStatusEsrch));
  EXPECT_EQ(seam.token_for_pid(kPid).outcome,
            (LookupOutcome{OutcomeDomain::kKernReturn, codes::kKernFailure}));
}

TEST(LinuxSeamMapping, QuestionsTheEvidenceCannotAnswerAreOffScript) {
  std::vector<Lookup> lookups = build_lookups({});
  LinuxRecordedSeam seam;
  seam.reset(1, lookups);
  EXPECT_EQ(seam.proc_pidpath(kPid + 1).outcome, replay::kNotRecorded);
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid + 1, 500)).outcome, replay::kNotRecorded);
  EXPECT_EQ(seam.check_validity(LinuxRecordedSeam::kGuestHandle, "anchor apple"),
            replay::kNotRecorded);
  EXPECT_EQ(seam.responsible_pid(kPid).outcome, replay::kNotRecorded);
  ASSERT_EQ(seam.off_script().size(), 4u);
  EXPECT_EQ(seam.off_script()[0].call, LookupCall::kProcPidpath);
  // A handle the seam never handed out names nothing.
  EXPECT_EQ(seam.code_path(77).outcome, osstatus(codes::kSecCsInvalidObjectRef));

  // The system recorder makes no pidfd or notification lookups: nothing is token-bound.
  std::vector<Lookup> system;
  for (const Lookup& l : lookups) {
    if (l.call != LookupCall::kPidfdOpen && l.call != LookupCall::kNotifIdValid)
      system.push_back(l);
  }
  seam.reset(2, system);
  EXPECT_EQ(seam.guest_by_audit_token(linux_token(kPid, 500)).outcome, replay::kNotRecorded);
  EXPECT_EQ(seam.proc_pidpath(kPid).value, "/usr/bin/curl");
  EXPECT_TRUE(seam.kill_zero(kPid).ok());
}

TEST(LinuxSeamMapping, RecordOnlyRecordingsAllowEverything) {
  // A recording made without rules embeds the record-only rule set; replay applies it by default.
  trace::TraceHeader header;
  header.recorder = "flowid-record 0.1.0";
  header.resolver_config = {{"rules", format_rules(record_only_rules())}};
  ASSERT_TRUE(replay::is_linux_recording(header));
  std::string error;
  auto rules = replay::rules_from_header(header, "t.trace", &error);
  ASSERT_TRUE(rules) << error;
  Filter filter(*rules);
  Flow flow;
  Attribution gone;
  gone.status = AttributionStatus::kGone;
  EXPECT_EQ(filter.decide(flow, gone).decision, Decision::kAllow);
  header.recorder = "flowid-sim";
  EXPECT_FALSE(replay::is_linux_recording(header));
}

// ------------------------------------------------------------------------------------------
// Live recordings.

std::vector<std::string> record_args(const std::string& output, std::vector<std::string> extra,
                                     std::vector<std::string> command) {
  std::vector<std::string> args = {"record", "-q", "-o", output, "--lifecycle", "supervisor"};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back("--");
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

bool seccomp_notify_available() {
  static const bool available = [] {
    TempDir dir;
    return run_flowid(record_args(dir.file("probe.trace"), {}, {"/bin/true"})).exit_code == 0;
  }();
  return available;
}

#define REQUIRE_SECCOMP_NOTIFY()                                                         \
  if (!seccomp_notify_available()) {                                                     \
    GTEST_SKIP() << "seccomp user notification is unavailable on this kernel / sandbox"; \
  }

std::vector<Event> read_events(const std::string& path) {
  std::vector<Event> events;
  auto reader = trace::open_reader(path);
  Event event;
  while (reader && reader->ok() && reader->next(event)) events.push_back(event);
  return events;
}

template <typename T>
std::vector<T> all_of(const std::vector<Event>& events) {
  std::vector<T> out;
  for (const auto& event : events) {
    if (auto* body = std::get_if<T>(&event.body)) out.push_back(*body);
  }
  return out;
}

std::string dump(const std::vector<Event>& events) {
  std::string text;
  for (const auto& event : events) text += format_event_line(event) + "\n";
  return text;
}

std::string describe(const replay::TraceReplayResult& result) {
  std::string text;
  for (const auto& d : result.differences) {
    text += "flow " + std::to_string(d.flow_id) + ": " + d.what + "\n";
  }
  for (const auto& call : result.off_script) text += "off-script " + replay::describe(call) + "\n";
  for (const auto& issue : result.read_issues) text += issue + "\n";
  return text;
}

// Replays a recording faithfully through the library, as `flowid replay` does.
replay::TraceReplayResult replay_recording(const std::string& path,
                                           std::string_view resolver_name) {
  auto reader = trace::open_reader(path);
  EXPECT_TRUE(reader && reader->ok()) << path;
  std::string error;
  auto rules = replay::rules_from_header(reader->header(), path, &error);
  EXPECT_TRUE(rules) << error;
  Filter filter(rules.value_or(RuleSet{}));
  auto resolver = make_resolver(resolver_name);
  EXPECT_NE(resolver, nullptr) << resolver_name;
  return replay::replay_faithful(path, *reader, *resolver, filter);
}

CommandResult replay_cli(const std::string& path, const std::string& resolver_name) {
  return run_flowid({"replay", "--mode", "faithful", "--resolver", resolver_name, path});
}

const Verdict* produced_for(const replay::TraceReplayResult& result, uint64_t flow_id) {
  for (const auto& verdict : result.produced) {
    if (verdict.flow_id == flow_id) return &verdict;
  }
  return nullptr;
}

// Recorded verdicts come back exactly, through the library and through the CLI.
void expect_recorded_verdicts(const std::string& path, std::string_view resolver_name,
                              std::size_t flows) {
  SCOPED_TRACE(std::string(resolver_name));
  auto result = replay_recording(path, resolver_name);
  EXPECT_EQ(result.flows, flows);
  EXPECT_TRUE(result.passed()) << describe(result) << dump(read_events(path));
  CommandResult cli = replay_cli(path, std::string(resolver_name));
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
}

TEST(RecordReplay, ConnectsReplayWithTheRecordedVerdicts) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("connect.trace");
  CommandResult recorded =
      run_flowid(record_args(path, {}, {kProbe, "connect", "127.0.0.1", server.port(), "4", "2"}));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  expect_recorded_verdicts(path, "linux-pidfd", 8);
  // Every flow was verified through the token, so the token-bound strategies agree.
  expect_recorded_verdicts(path, "token", 8);
  expect_recorded_verdicts(path, "token+recheck", 8);
}

TEST(RecordReplay, ExecReplaysWithTheRecordedVerdicts) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("exec.trace");
  CommandResult recorded =
      run_flowid(record_args(path, {}, {kProbe, "exec-connect", "127.0.0.1", server.port()}));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  expect_recorded_verdicts(path, "linux-pidfd", 2);
}

// SIGKILL while held at connect (the supervisor waits 400 ms before its lookups; the probe kills
// its child after 100 ms and reaps it at once, or leaves a zombie).
class RecordReplayExitRace : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordReplayExitRace, TokenStrategiesSayGone) {
  REQUIRE_SECCOMP_NOTIFY();
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("exit-race.trace");
  CommandResult recorded =
      run_flowid(record_args(path, {"--lookup-delay-ms", "400"},
                             {kProbe, "hold", "127.0.0.1", server.port(), GetParam(), "100"}));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err;
  auto verdicts = all_of<Verdict>(read_events(path));
  ASSERT_EQ(verdicts.size(), 1u) << dump(read_events(path));
  ASSERT_EQ(verdicts[0].status, AttributionStatus::kGone) << dump(read_events(path));

  expect_recorded_verdicts(path, "linux-pidfd", 1);
  auto token = replay_recording(path, "token");
  ASSERT_EQ(token.produced.size(), 1u);
  EXPECT_TRUE(token.off_script.empty()) << describe(token);
  if (GetParam() == "zombie") {
    // The zombie still held its pid: the flow has a token, and the token lookup says ESRCH.
    EXPECT_EQ(token.produced[0].status, AttributionStatus::kGone) << describe(token);
    expect_recorded_verdicts(path, "token", 1);
    expect_recorded_verdicts(path, "token+recheck", 1);
  } else {
    // Reaped before /proc/PID/stat could be read: the recording has no token to ask about.
    EXPECT_EQ(token.produced[0].status, AttributionStatus::kUnknown) << describe(token);
  }
  EXPECT_FALSE(token.produced[0].identity.has_value());
}

INSTANTIATE_TEST_SUITE_P(Stages, RecordReplayExitRace, ::testing::Values("reap", "zombie"),
                         [](const auto& param_info) { return param_info.param; });

// Runs `flowid record ... -- COMMAND` inside new user (unless root) and pid namespaces, so that
// ns_last_pid can be written. Exit code 75 from the command: it could not set up the race.
CommandResult record_in_pid_namespace(const std::vector<std::string>& record) {
  std::vector<std::string> args = {"--pid", "--fork", "--mount-proc"};
  if (::geteuid() != 0) args.insert(args.begin(), {"--user", "--map-root-user"});
  args.push_back(FLOWID_CLI_PATH);
  args.insert(args.end(), record.begin(), record.end());
  return testing::run_program("/usr/bin/unshare", args);
}

#define SKIP_UNLESS_NAMESPACE_RUN(result)                                                     \
  if ((result).exit_code == 77) GTEST_SKIP() << "cannot write ns_last_pid: " << (result).err; \
  if ((result).exit_code != 0 && (result).err.find("unshare") != std::string::npos) {         \
    GTEST_SKIP() << "cannot create a pid namespace here: " << (result).err;                   \
  }

TEST(RecordReplayPidReuse, SequentialReuseReplaysWithTheRecordedVerdicts) {
  REQUIRE_SECCOMP_NOTIFY();
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs unshare(1) (util-linux)";
  LoopbackServer server;
  TempDir dir;
  std::string path = dir.file("pid-reuse.trace");
  CommandResult result = record_in_pid_namespace(
      record_args(path, {}, {kProbe, "pid-reuse", "127.0.0.1", server.port()}));
  SKIP_UNLESS_NAMESPACE_RUN(result);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  auto flows = all_of<Flow>(read_events(path));
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flows[0].proc_pid, flows[1].proc_pid);
  expect_recorded_verdicts(path, "linux-pidfd", 2);
  expect_recorded_verdicts(path, "token", 2);
}

// The race script. The first process (a copy of the probe, so that its program has its own path)
// connects and is held: the supervisor sleeps --lookup-delay-ms before its lookups. The script
// waits, with shell builtins only (an exec now would queue behind the held flow), until
// /proc/A/syscall shows the connect, kills and reaps A, points ns_last_pid just below A's pid and
// starts the probe: the fork takes A's pid at once, and its execve is held behind A's flow, so
// while the supervisor reads /proc/A the pid belongs to a newcomer still running bash.
constexpr const char* kRaceScript = R"(set -u
first_program=$1 probe=$2 port=$3 connect_nr=$4 fifo=$5
exec 9<>"$fifo"
"$first_program" connect 127.0.0.1 "$port" 1 &
first=$!
waits=0
while :; do
  nr=
  read -r nr rest < "/proc/$first/syscall" 2>/dev/null || true
  [ "$nr" = "$connect_nr" ] && break
  waits=$((waits + 1))
  [ "$waits" -gt 1000 ] && { echo "the first process never reached connect" >&2; exit 75; }
  read -r -t 0.01 -u 9 line || true
done
kill -9 "$first"
wait "$first"
echo $((first - 1)) > /proc/sys/kernel/ns_last_pid || exit 77
"$probe" connect 127.0.0.1 "$port" 1 &
second=$!
wait "$second"
echo "first=$first second=$second"
[ "$first" = "$second" ] || exit 76
)";

TEST(RecordReplayPidReuse, RaceInsideTheRecordingMisleadsPidPathNotTheToken) {
  REQUIRE_SECCOMP_NOTIFY();
  if (::access("/usr/bin/unshare", X_OK) != 0) GTEST_SKIP() << "needs unshare(1) (util-linux)";
  if (::access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "the race script needs bash";
  LoopbackServer server;
  TempDir dir;
  const std::string first_program = dir.file("first-program");
  std::filesystem::copy_file(kProbe, first_program);
  std::filesystem::permissions(first_program, std::filesystem::perms::owner_all);
  const std::string fifo = dir.file("wait.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string path = dir.file("race.trace");

  CommandResult result;
  for (int attempt = 0; attempt < 3; ++attempt) {
    result = record_in_pid_namespace(
        record_args(path, {"--lookup-delay-ms", "1500"},
                    {"/bin/bash", "-c", kRaceScript, "race", first_program, kProbe, server.port(),
                     std::to_string(SYS_connect), fifo}));
    if (result.exit_code == 75 || result.exit_code == 76) continue;
    // The script sees A inside connect, not that the supervisor has received A's notification:
    // killed before that (a loaded machine), A leaves no flow and there was no race. Again.
    if (result.exit_code == 0 && all_of<Flow>(read_events(path)).size() == 1) continue;
    break;
  }
  SKIP_UNLESS_NAMESPACE_RUN(result);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::vector<Event> events = read_events(path);
  auto flows = all_of<Flow>(events);
  ASSERT_EQ(flows.size(), 2u) << dump(events);
  const int32_t pid = flows[0].proc_pid;
  EXPECT_EQ(flows[1].proc_pid, pid);

  // The trace: A exec'd the first program; its flow's notification died before the /proc reads,
  // which described another execution of the same pid (a later start time); A's exit comes before
  // the newcomer's spawn, whose image is bash (it had not exec'd yet).
  std::optional<AuditToken> first_execution;
  std::optional<ProcessSpawn> newcomer;
  for (const auto& exec : all_of<ProcessExec>(events)) {
    if (exec.token.pid() == pid && exec.image.path == first_program) first_execution = exec.token;
  }
  ASSERT_TRUE(first_execution) << dump(events);
  for (const auto& spawn : all_of<ProcessSpawn>(events)) {
    if (spawn.token.pid() == pid && spawn.token.pidversion() != first_execution->pidversion() &&
        (spawn.token.pidversion() & 0xffffff) != (first_execution->pidversion() & 0xffffff)) {
      newcomer = spawn;
    }
  }
  ASSERT_TRUE(newcomer) << dump(events);
  EXPECT_NE(newcomer->image.path, first_program);
  const Lookup* stat = nullptr;
  std::vector<LookupOutcome> validity;
  for (const auto& event : events) {
    if (auto* lookup = std::get_if<Lookup>(&event.body);
        lookup && lookup->flow_id == flows[0].flow_id) {
      if (lookup->call == LookupCall::kProcStat) stat = lookup;
      if (lookup->call == LookupCall::kNotifIdValid) validity.push_back(lookup->outcome);
    }
  }
  ASSERT_NE(stat, nullptr) << dump(events);
  ASSERT_TRUE(stat->data.token.has_value());
  EXPECT_EQ(stat->data.token->execution(), newcomer->token.execution()) << dump(events);
  EXPECT_NE(stat->data.token->execution(), first_execution->execution());
  ASSERT_EQ(validity.size(), 2u);
  EXPECT_EQ(validity[0], posix(ENOENT));
  EXPECT_EQ(validity[1], posix(ENOENT));

  // pid-keyed strategies name the newcomer's program for the first execution's flow, as
  // verified (LuLu fails open: the token lookup failed but kill(pid, 0) found the newcomer).
  for (std::string_view name : {"pid-path", "opensnitch-model", "lulu-model"}) {
    SCOPED_TRACE(std::string(name));
    auto pid_keyed = replay_recording(path, name);
    EXPECT_TRUE(pid_keyed.off_script.empty()) << describe(pid_keyed);
    const Verdict* misattributed = produced_for(pid_keyed, flows[0].flow_id);
    ASSERT_NE(misattributed, nullptr);
    EXPECT_EQ(misattributed->status, AttributionStatus::kVerified);
    ASSERT_TRUE(misattributed->identity.has_value());
    EXPECT_EQ(misattributed->identity->path, newcomer->image.path);
    EXPECT_NE(misattributed->identity->path, first_program);
  }

  // Token-style strategies: the flow's execution is gone; the newcomer's own flow is verified.
  for (std::string_view name : {"token", "token+recheck", "linux-pidfd"}) {
    SCOPED_TRACE(std::string(name));
    auto token = replay_recording(path, name);
    EXPECT_TRUE(token.off_script.empty()) << describe(token);
    const Verdict* gone = produced_for(token, flows[0].flow_id);
    ASSERT_NE(gone, nullptr);
    EXPECT_EQ(gone->status, AttributionStatus::kGone);
    EXPECT_FALSE(gone->identity.has_value());
    const Verdict* second = produced_for(token, flows[1].flow_id);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(second->status, AttributionStatus::kVerified);
    ASSERT_TRUE(second->identity.has_value());
    EXPECT_EQ(second->identity->path, kProbe);
  }
  // seed 000's fallback names the newcomer too, but labelled unverified.
  auto fallback = replay_recording(path, "token+pid-fallback");
  const Verdict* warned = produced_for(fallback, flows[0].flow_id);
  ASSERT_NE(warned, nullptr);
  EXPECT_EQ(warned->status, AttributionStatus::kUnverified);
  EXPECT_EQ(warned->label, VerdictLabel::kUnverifiedWarning);

  // Against the recorded verdicts: linux-pidfd reproduces every one, including the gone verdict
  // of the raced flow, which carries no identity (what /proc showed was the newcomer's).
  auto same = replay_recording(path, "linux-pidfd");
  EXPECT_TRUE(same.differences.empty()) << describe(same);
  const Verdict* gone = produced_for(same, flows[0].flow_id);
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(gone->status, AttributionStatus::kGone);
  EXPECT_FALSE(gone->identity.has_value());

  // The CLI shows the same: pid-path turns the recorded gone into verified; exit code 1.
  CommandResult cli = replay_cli(path, "pid-path");
  EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("status gone -> verified"), std::string::npos) << cli.out;
  cli = replay_cli(path, "token");
  EXPECT_EQ(cli.out.find("status gone"), std::string::npos) << cli.out;
  EXPECT_EQ(cli.out.find("off-script"), std::string::npos) << cli.out;
}

}  // namespace
}  // namespace flowid
